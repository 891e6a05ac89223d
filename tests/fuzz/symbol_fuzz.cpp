// Symbol canonicalisation on any text: never crashes, an accepted symbol's
// key is 3-16 letters and digits, and canonicalising the key again is a no-op.
#include "ordergate/guards/validate.hpp"

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using ordergate::Reason;
  ordergate::SymbolKey key;
  if (ordergate::guards::canonical_symbol_key(ordergate::fuzz::as_text(data, size), key) != Reason::OK) return 0;
  const std::string_view text = key.view();
  ORDERGATE_FUZZ_CHECK(text.size() >= 3 && text.size() <= 16);
  for (const char c : text) ORDERGATE_FUZZ_CHECK((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
  ordergate::SymbolKey again;
  ORDERGATE_FUZZ_CHECK(ordergate::guards::canonical_symbol_key(text, again) == Reason::OK);
  ORDERGATE_FUZZ_CHECK(again.view() == text);
  return 0;
}
