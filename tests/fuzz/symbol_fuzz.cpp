// Symbol canonicalisation on any text: never crashes, an accepted symbol's
// key is 3-16 letters and digits, and canonicalising the key again is a no-op.
// The exact lookup of usual spellings (InstrumentTable::find_spelling) finds
// only texts that canonicalise to the instrument it returns.
#include <vector>

#include "fuzz_support.hpp"
#include "ordergate/core/instrument.hpp"
#include "ordergate/guards/validate.hpp"

namespace {

const ordergate::InstrumentTable& instruments() {
  static const ordergate::InstrumentTable table = [] {
    std::vector<ordergate::InstrumentSpec> specs;
    for (const char* name : {"EUR/USD", "BTC/USDT", "X/YZ", "US30/USD", "A1B2C3/E5F6G7H8"}) {
      ordergate::InstrumentSpec spec;
      spec.name = name;
      spec.tick_size = spec.lot_step = spec.min_quantity = ordergate::decimal_literal("1");
      spec.max_quantity = spec.max_order_quantity = spec.max_notional = spec.max_position =
          ordergate::decimal_literal("10");
      spec.price_band_bps = 1;
      spec.max_open_orders = 1;
      spec.max_quote_age_ns = 1;
      specs.push_back(spec);
    }
    return ordergate::InstrumentTable(specs);
  }();
  return table;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using ordergate::Reason;
  const std::string_view raw = ordergate::fuzz::as_text(data, size);
  ordergate::SymbolKey key;
  const bool canonical = ordergate::guards::canonical_symbol_key(raw, key) == Reason::OK;
  if (const ordergate::Instrument* exact = instruments().find_spelling(raw); exact != nullptr) {
    ORDERGATE_FUZZ_CHECK(canonical);
    ORDERGATE_FUZZ_CHECK(instruments().find(key) == exact);
  }
  if (!canonical) return 0;
  const std::string_view text = key.view();
  ORDERGATE_FUZZ_CHECK(text.size() >= 3 && text.size() <= 16);
  for (const char c : text) ORDERGATE_FUZZ_CHECK((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
  ordergate::SymbolKey again;
  ORDERGATE_FUZZ_CHECK(ordergate::guards::canonical_symbol_key(text, again) == Reason::OK);
  ORDERGATE_FUZZ_CHECK(again.view() == text);
  return 0;
}
