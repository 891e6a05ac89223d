#pragma once

/// \file
/// Reference data: instruments (tick size, lot step, limits) and accounts.
/// Built once at startup (may throw on bad data); read-only and lock-free
/// afterwards.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ordergate/core/decimal.hpp"
#include "ordergate/core/fixed_string.hpp"
#include "ordergate/core/order.hpp"
#include "ordergate/core/short_text_index.hpp"

namespace ordergate {

/// Compact lookup key of a symbol: upper-case letters and digits, no
/// separator ("EURUSD" for "EUR/USD").
using SymbolKey = FixedString<16>;

/// What an instrument looks like in configuration.
struct InstrumentSpec {
  std::string name;  ///< canonical "BASE/QUOTE", e.g. "EUR/USD" or "BTC/USDT"
  Decimal tick_size;
  Decimal lot_step;
  Decimal min_quantity;
  Decimal max_quantity;
  // Risk limits, applied per account. All are required: a missing limit is a
  // configuration error, never "unlimited".
  Decimal max_order_quantity;      ///< per order, <= max_quantity
  Decimal max_notional;            ///< in the quote currency
  Decimal max_position;            ///< absolute net position in base units
  std::uint32_t price_band_bps = 0;  ///< allowed distance of a limit/stop price from the reference
  std::uint32_t max_open_orders = 0; ///< per account
  std::int64_t max_quote_age_ns = 0; ///< reference prices older than this are not used
};

struct Instrument {
  InstrumentId id = 0;
  FixedString<16> name;  ///< canonical "EUR/USD"
  SymbolKey key;         ///< "EURUSD"
  FixedString<8> base;
  FixedString<8> quote;
  Decimal tick_size;
  Decimal lot_step;
  Decimal min_quantity;
  Decimal max_quantity;
  Decimal max_order_quantity;
  Decimal max_notional;
  Decimal max_position;
  std::uint32_t price_band_bps = 0;
  std::uint32_t max_open_orders = 0;
  std::int64_t max_quote_age_ns = 0;
  int price_digits = 0;     ///< fractional digits of tick_size
  int quantity_digits = 0;  ///< fractional digits of lot_step
  // Validation's tests, precomputed: a price with at most price_digits
  // fractional digits, on the tick grid; the same for quantities.
  StepTest price_precision;
  StepTest tick_grid;
  StepTest quantity_precision;
  StepTest lot_grid;
};

/// Immutable table of instruments with an allocation-free lookup by key.
class InstrumentTable {
 public:
  InstrumentTable() = default;
  /// Validates every spec; throws std::invalid_argument naming the
  /// instrument and field on bad data or a duplicate.
  explicit InstrumentTable(const std::vector<InstrumentSpec>& specs);

  [[nodiscard]] const Instrument* find(const SymbolKey& key) const noexcept;
  /// The instrument a symbol spelled exactly as its name ("EUR/USD"), its
  /// key ("EURUSD") or with `_` or `-` for the slash names, without
  /// canonicalising it; nullptr for any other text (which may still name
  /// an instrument once canonicalised).
  [[nodiscard]] const Instrument* find_spelling(std::string_view symbol) const noexcept;
  [[nodiscard]] const Instrument* find_name(std::string_view canonical_name) const noexcept;
  [[nodiscard]] const Instrument& operator[](InstrumentId id) const noexcept { return instruments_[id]; }
  [[nodiscard]] std::size_t size() const noexcept { return instruments_.size(); }
  [[nodiscard]] const std::vector<Instrument>& all() const noexcept { return instruments_; }

 private:
  std::vector<Instrument> instruments_;
  ShortTextIndex spellings_;  // each instrument's key and usual spellings
};

using AccountName = FixedString<32>;

/// An account and its account-wide limits. Every limit is optional (zero:
/// not checked); any of them needs `currency`, the currency the limits are
/// counted in. Notional limits count positions plus working orders, worst
/// case, across every instrument, valued at mid and converted into
/// `currency` (docs/guards.md, account limits).
struct AccountSpec {
  std::string name;    ///< [A-Za-z0-9._-]{1,32}
  std::string broker;  ///< adapter name, e.g. "paper"
  std::string currency{};      ///< e.g. "USD": 2-8 of [A-Z0-9]; empty: no account limits
  Decimal max_gross_notional{};  ///< sum over instruments of the larger worst-case side
  Decimal max_net_notional{};    ///< |longs - shorts| in the worst case of the working orders
  Decimal max_daily_loss{};      ///< loss of the trading day that switches the account to REDUCING
  Decimal halt_daily_loss{};     ///< loss of the trading day that halts it and cancels its orders
};

struct Account {
  AccountId id = 0;
  AccountName name;
  FixedString<16> broker;
  FixedString<8> currency;
  Decimal max_gross_notional;
  Decimal max_net_notional;
  Decimal max_daily_loss;
  Decimal halt_daily_loss;

  [[nodiscard]] bool has_notional_limits() const noexcept {
    return max_gross_notional.is_positive() || max_net_notional.is_positive();
  }
  [[nodiscard]] bool has_loss_limits() const noexcept {
    return max_daily_loss.is_positive() || halt_daily_loss.is_positive();
  }
};

class AccountTable {
 public:
  AccountTable() = default;
  /// Throws std::invalid_argument on a malformed or duplicate name.
  explicit AccountTable(const std::vector<AccountSpec>& specs);

  [[nodiscard]] const Account* find(std::string_view name) const noexcept;
  [[nodiscard]] const Account& operator[](AccountId id) const noexcept { return accounts_[id]; }
  [[nodiscard]] std::size_t size() const noexcept { return accounts_.size(); }
  [[nodiscard]] const std::vector<Account>& all() const noexcept { return accounts_; }

 private:
  std::vector<Account> accounts_;
  ShortTextIndex names_;
};

/// True when `name` is a well-formed account name: 1-32 of [A-Za-z0-9._-].
[[nodiscard]] bool is_valid_account_name(std::string_view name) noexcept;

}  // namespace ordergate
