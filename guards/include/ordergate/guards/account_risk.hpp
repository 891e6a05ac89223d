#pragma once

/// \file
/// Account-wide limits: gross and net notional across every instrument of
/// an account, counted in the account's currency (`AccountSpec::currency`).
///
/// Each instrument's worst case is its position with every working order
/// on one side filled: long = position + working buys, short = position -
/// working sells. Both are valued at the instrument's mid and converted
/// from its quote currency into the account's currency through the mid of
/// a configured instrument (QUOTE/CCY multiplies, CCY/QUOTE divides),
/// resolved once at start. Values are kept in 1e-18 units and every price
/// conversion is rounded up, so a rounding never lets an order through.
///   gross = sum over instruments of max(|long|, |short|)
///   net   = max(|sum of longs|, |sum of shorts|)

#include <cstdint>
#include <vector>

#include "ordergate/core/decimal.hpp"
#include "ordergate/core/instrument.hpp"
#include "ordergate/core/quote.hpp"
#include "ordergate/core/reason.hpp"
#include "ordergate/guards/risk.hpp"

namespace ordergate::guards {

/// How an amount in an instrument's quote currency becomes one in an
/// account's currency.
struct Conversion {
  enum class Kind : std::uint8_t {
    none,      ///< no configured path (the account has no currency, or no limits)
    identity,  ///< the quote currency is the account's
    multiply,  ///< by the mid of `via`, named QUOTE/CCY
    divide,    ///< by the mid of `via`, named CCY/QUOTE
  };
  Kind kind = Kind::none;
  InstrumentId via = 0;
};

class AccountValuation {
 public:
  AccountValuation() = default;
  /// Resolves every (account with a currency, instrument) pair. Throws
  /// std::invalid_argument naming the account, the instrument and the
  /// missing pair when an account with limits cannot value an instrument.
  AccountValuation(const AccountTable& accounts, const InstrumentTable& instruments);

  [[nodiscard]] const Conversion& conversion(AccountId account, InstrumentId instrument) const noexcept {
    return conversions_[static_cast<std::size_t>(account) * instruments_ + instrument];
  }

  /// The price of one base unit of `instrument` in the account's currency,
  /// in nano-units, rounded up: its mid times the conversion. False when a
  /// quote it needs is not usable (see `usable_quote`) or there is no path.
  [[nodiscard]] bool unit_value(AccountId account, const Instrument& instrument, const InstrumentTable& instruments,
                                const QuoteBoard& quotes, std::int64_t now_ns, int128& value) const noexcept;

  /// One unit of `instrument`'s quote currency in the account's currency,
  /// in nano-units (1e9 for the same currency). False as for `unit_value`.
  [[nodiscard]] bool quote_currency_value(AccountId account, InstrumentId instrument,
                                          const InstrumentTable& instruments, const QuoteBoard& quotes,
                                          std::int64_t now_ns, int128& value) const noexcept;

 private:
  std::vector<Conversion> conversions_;
  std::size_t instruments_ = 0;
};

/// Worst-case notional of an account, in 1e-18 units of its currency.
struct AccountNotional {
  int128 gross = 0;
  int128 net = 0;
};

/// An order to count on top of what the book holds (quantity zero: none).
struct ExtraOrder {
  InstrumentId instrument = 0;
  Side side = Side::buy;
  Decimal quantity;
};

/// The account's worst-case gross and net notional with `extra` counted.
/// NO_REFERENCE_PRICE when an instrument with exposure (or its conversion)
/// has no usable quote: fail closed. Reads each instrument once; no
/// allocation, no lock.
[[nodiscard]] Reason account_notional(const ExposureBook& book, const AccountValuation& valuation, AccountId account,
                                      const InstrumentTable& instruments, const QuoteBoard& quotes,
                                      std::int64_t now_ns, const ExtraOrder& extra, AccountNotional& out) noexcept;

/// The notional limits `check_account_notional` checks: the account's own,
/// or a cluster member's lease of them. A limit that is off checks nothing;
/// one that is on with a zero amount refuses every order that adds risk.
struct NotionalLimits {
  bool gross = false;
  Decimal max_gross;
  bool net = false;
  Decimal max_net;
  [[nodiscard]] static constexpr NotionalLimits of(const Account& account) noexcept {
    return {account.max_gross_notional.is_positive(), account.max_gross_notional,
            account.max_net_notional.is_positive(), account.max_net_notional};
  }
};

/// Checks an order against the account's max_gross_notional and
/// max_net_notional, in that order (OK when it has neither):
///  - OK without valuing anything when the order can only shrink its
///    instrument's position (a buy with position + working buys + qty <= 0,
///    a sell with position - working sells - qty >= 0): the limits never
///    stop an order that closes risk
///  - NO_REFERENCE_PRICE as for `account_notional`
///  - MAX_GROSS_NOTIONAL_EXCEEDED, MAX_NET_NOTIONAL_EXCEEDED
/// Exact under concurrency only when bracketed by the account version
/// (ExposureBook::account_version).
[[nodiscard]] Reason check_account_notional(const Account& account, const ExposureBook& book,
                                            const AccountValuation& valuation, const InstrumentTable& instruments,
                                            const QuoteBoard& quotes, std::int64_t now_ns,
                                            const ExtraOrder& order) noexcept;
/// `check_account_notional` against `limits` instead of the account's own.
[[nodiscard]] Reason check_account_notional(AccountId account, const NotionalLimits& limits, const ExposureBook& book,
                                            const AccountValuation& valuation, const InstrumentTable& instruments,
                                            const QuoteBoard& quotes, std::int64_t now_ns,
                                            const ExtraOrder& order) noexcept;

}  // namespace ordergate::guards
