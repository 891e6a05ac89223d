#include "ordergate/core/instrument.hpp"

#include <stdexcept>
#include <utility>

namespace ordergate {
namespace {

bool is_upper_alnum(std::string_view text) noexcept {
  if (text.empty()) return false;
  for (char c : text) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

[[noreturn]] void bad_instrument(const std::string& name, const std::string& problem) {
  throw std::invalid_argument("instrument '" + name + "': " + problem);
}

void require_positive(const InstrumentSpec& spec, Decimal value, const char* field) {
  if (!value.is_positive()) bad_instrument(spec.name, std::string(field) + " must be > 0");
}

}  // namespace

InstrumentTable::InstrumentTable(const std::vector<InstrumentSpec>& specs) {
  if (specs.size() >= kMaxInstruments) throw std::invalid_argument("too many instruments");
  instruments_.reserve(specs.size());
  for (const InstrumentSpec& spec : specs) {
    const auto slash = spec.name.find('/');
    if (slash == std::string::npos || spec.name.size() > 15) {
      bad_instrument(spec.name, "name must be BASE/QUOTE in upper case, e.g. EUR/USD");
    }
    const std::string_view base = std::string_view(spec.name).substr(0, slash);
    const std::string_view quote = std::string_view(spec.name).substr(slash + 1);
    // The first character must be a letter, as symbol canonicalisation requires.
    if (!is_upper_alnum(base) || !is_upper_alnum(quote) || base.size() > 8 || quote.size() > 8 ||
        base.size() + quote.size() < 3 || base[0] < 'A' || base[0] > 'Z') {
      bad_instrument(spec.name, "name must be BASE/QUOTE in upper case, e.g. EUR/USD");
    }
    require_positive(spec, spec.tick_size, "tick_size");
    require_positive(spec, spec.lot_step, "lot_step");
    require_positive(spec, spec.min_quantity, "min_quantity");
    require_positive(spec, spec.max_quantity, "max_quantity");
    require_positive(spec, spec.max_order_quantity, "max_order_quantity");
    require_positive(spec, spec.max_notional, "max_notional");
    require_positive(spec, spec.max_position, "max_position");
    if (spec.min_quantity > spec.max_quantity) bad_instrument(spec.name, "min_quantity > max_quantity");
    if (spec.max_order_quantity > spec.max_quantity) {
      bad_instrument(spec.name, "max_order_quantity must be <= max_quantity");
    }
    if (!spec.min_quantity.is_multiple_of(spec.lot_step)) {
      bad_instrument(spec.name, "min_quantity must be a multiple of lot_step");
    }
    if (spec.price_band_bps == 0 || spec.price_band_bps > 10'000) {
      bad_instrument(spec.name, "price_band_bps must be within 1..10000");
    }
    if (spec.max_open_orders == 0) bad_instrument(spec.name, "max_open_orders must be > 0");
    if (spec.max_quote_age_ns <= 0) bad_instrument(spec.name, "max_quote_age must be > 0");

    Instrument instrument;
    instrument.id = static_cast<InstrumentId>(instruments_.size());
    instrument.name.assign(spec.name);
    instrument.base.assign(base);
    instrument.quote.assign(quote);
    std::string key(base);
    key += quote;
    instrument.key.assign(key);
    instrument.tick_size = spec.tick_size;
    instrument.lot_step = spec.lot_step;
    instrument.min_quantity = spec.min_quantity;
    instrument.max_quantity = spec.max_quantity;
    instrument.max_order_quantity = spec.max_order_quantity;
    instrument.max_notional = spec.max_notional;
    instrument.max_position = spec.max_position;
    instrument.price_band_bps = spec.price_band_bps;
    instrument.max_open_orders = spec.max_open_orders;
    instrument.max_quote_age_ns = spec.max_quote_age_ns;
    instrument.price_digits = spec.tick_size.fraction_digits();
    instrument.quantity_digits = spec.lot_step.fraction_digits();
    instrument.price_precision = StepTest(Decimal::unit(instrument.price_digits));
    instrument.tick_grid = StepTest(spec.tick_size);
    instrument.quantity_precision = StepTest(Decimal::unit(instrument.quantity_digits));
    instrument.lot_grid = StepTest(spec.lot_step);
    // The key first: a name equal to another instrument's key is the same
    // instrument. Every spelling canonicalises to the key (one separator
    // between two non-empty upper-case parts), so the exact lookup and
    // canonicalisation always agree.
    if (!spellings_.add(key, instrument.id)) bad_instrument(spec.name, "defined twice");
    for (const char separator : {'/', '_', '-'}) {
      std::string spelling(spec.name);
      spelling[slash] = separator;
      spellings_.add(spelling, instrument.id);
    }
    instruments_.push_back(instrument);
  }
}

const Instrument* InstrumentTable::find(const SymbolKey& key) const noexcept {
  const std::uint16_t id = spellings_.find(key.view());
  if (id == ShortTextIndex::kNone || instruments_[id].key != key) return nullptr;
  return &instruments_[id];
}

const Instrument* InstrumentTable::find_spelling(std::string_view symbol) const noexcept {
  const std::uint16_t id = spellings_.find(symbol);
  return id == ShortTextIndex::kNone ? nullptr : &instruments_[id];
}

const Instrument* InstrumentTable::find_name(std::string_view canonical_name) const noexcept {
  for (const Instrument& instrument : instruments_) {
    if (instrument.name == canonical_name) return &instrument;
  }
  return nullptr;
}

bool is_valid_account_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > AccountName::kCapacity) return false;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

namespace {

bool is_currency_code(std::string_view code) noexcept {
  if (code.size() < 2 || code.size() > 8) return false;
  for (const char c : code) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

void read_account_limits(const AccountSpec& spec, Account& account) {
  const auto fail = [&](const std::string& what) {
    throw std::invalid_argument("account '" + spec.name + "': " + what);
  };
  const std::pair<const char*, Decimal> limits[] = {{"max_gross_notional", spec.max_gross_notional},
                                                    {"max_net_notional", spec.max_net_notional},
                                                    {"max_daily_loss", spec.max_daily_loss},
                                                    {"halt_daily_loss", spec.halt_daily_loss}};
  bool any = false;
  for (const auto& [name, value] : limits) {
    if (value.is_negative()) fail(std::string(name) + " must be positive");
    any = any || value.is_positive();
  }
  if (!spec.currency.empty() && !is_currency_code(spec.currency)) {
    fail("currency must be 2-8 characters of [A-Z0-9], e.g. \"USD\"");
  }
  if (any && spec.currency.empty()) {
    fail("account limits are counted in the account's currency: set currency (e.g. \"USD\")");
  }
  if (spec.max_daily_loss.is_positive() && spec.halt_daily_loss.is_positive() &&
      spec.halt_daily_loss < spec.max_daily_loss) {
    fail("halt_daily_loss must be at least max_daily_loss (the account reduces before it halts)");
  }
  account.currency.assign(spec.currency);
  account.max_gross_notional = spec.max_gross_notional;
  account.max_net_notional = spec.max_net_notional;
  account.max_daily_loss = spec.max_daily_loss;
  account.halt_daily_loss = spec.halt_daily_loss;
}

}  // namespace

AccountTable::AccountTable(const std::vector<AccountSpec>& specs) {
  if (specs.size() >= kMaxAccounts) throw std::invalid_argument("too many accounts");
  for (const AccountSpec& spec : specs) {
    if (!is_valid_account_name(spec.name)) {
      throw std::invalid_argument("account '" + spec.name +
                                  "': name must be 1-32 characters of [A-Za-z0-9._-]");
    }
    if (!names_.add(spec.name, static_cast<std::uint16_t>(accounts_.size()))) {
      throw std::invalid_argument("account '" + spec.name + "': defined twice");
    }
    Account account;
    account.id = static_cast<AccountId>(accounts_.size());
    account.name.assign(spec.name);
    if (spec.broker.empty() || !account.broker.assign(spec.broker)) {
      throw std::invalid_argument("account '" + spec.name + "': broker must be 1-16 characters");
    }
    read_account_limits(spec, account);
    accounts_.push_back(account);
  }
}

const Account* AccountTable::find(std::string_view name) const noexcept {
  const std::uint16_t id = names_.find(name);
  return id == ShortTextIndex::kNone ? nullptr : &accounts_[id];
}

}  // namespace ordergate
