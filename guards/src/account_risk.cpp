#include "ordergate/guards/account_risk.hpp"

#include <stdexcept>
#include <string>

namespace ordergate::guards {
namespace {

constexpr int128 kScale = Decimal::kScale;

// n / d rounded up, for n >= 0 and d > 0.
constexpr int128 divide_up(int128 n, int128 d) noexcept { return (n + d - 1) / d; }

// Twice the mid, in nano-units: bid + ask, exact.
int128 double_mid(const Quote& quote) noexcept { return static_cast<int128>(quote.bid.raw()) + quote.ask.raw(); }

constexpr int128 magnitude(int128 value) noexcept { return value < 0 ? -value : value; }

// Far past any limit (limits are below 2^63 x 1e9), and far from
// overflowing when negated or added to once more.
constexpr int128 kSaturated = static_cast<int128>(1) << 125;

constexpr int128 clamp(int128 value) noexcept {
  return value > kSaturated ? kSaturated : value < -kSaturated ? -kSaturated : value;
}

// Absurd inputs (prices near 2^63 nano-units) saturate instead of
// wrapping: a saturated value exceeds every limit, so it refuses.
int128 multiply(int128 a, int128 b) noexcept {
  int128 product = 0;
  if (__builtin_mul_overflow(a, b, &product)) return (a < 0) != (b < 0) ? -kSaturated : kSaturated;
  return clamp(product);
}

int128 add(int128 a, int128 b) noexcept { return clamp(a + b); }  // both within 2^125: no overflow

}  // namespace

AccountValuation::AccountValuation(const AccountTable& accounts, const InstrumentTable& instruments)
    : conversions_(accounts.size() * instruments.size()), instruments_(instruments.size()) {
  for (const Account& account : accounts.all()) {
    if (account.currency.empty()) continue;
    const bool needed = account.has_notional_limits() || account.has_loss_limits();
    for (const Instrument& instrument : instruments.all()) {
      Conversion& conversion = conversions_[static_cast<std::size_t>(account.id) * instruments_ + instrument.id];
      if (instrument.quote == account.currency.view()) {
        conversion.kind = Conversion::Kind::identity;
        continue;
      }
      const std::string direct = std::string(instrument.quote.view()) + "/" + std::string(account.currency.view());
      const std::string inverse = std::string(account.currency.view()) + "/" + std::string(instrument.quote.view());
      if (const Instrument* via = instruments.find_name(direct)) {
        conversion = {Conversion::Kind::multiply, via->id};
      } else if (const Instrument* via_inverse = instruments.find_name(inverse)) {
        conversion = {Conversion::Kind::divide, via_inverse->id};
      } else if (needed) {
        std::string message = "account '";
        message.append(account.name.view()).append("': its limits are in ").append(account.currency.view());
        message.append(", but instrument ").append(instrument.name.view()).append(" is quoted in ");
        message.append(instrument.quote.view()).append(" and no instrument ").append(direct).append(" or ");
        message.append(inverse).append(" is configured to convert it");
        throw std::invalid_argument(message);
      }
    }
  }
}

bool AccountValuation::quote_currency_value(AccountId account, InstrumentId instrument,
                                            const InstrumentTable& instruments, const QuoteBoard& quotes,
                                            std::int64_t now_ns, int128& value) const noexcept {
  const Conversion& conversion = this->conversion(account, instrument);
  switch (conversion.kind) {
    case Conversion::Kind::none:
      return false;
    case Conversion::Kind::identity:
      value = kScale;
      return true;
    case Conversion::Kind::multiply:
    case Conversion::Kind::divide: {
      const Quote quote = quotes.read(conversion.via);
      if (!usable_quote(quote, instruments[conversion.via], now_ns)) return false;
      const int128 mid2 = double_mid(quote);
      value = conversion.kind == Conversion::Kind::multiply ? divide_up(mid2, 2)
                                                            : divide_up(2 * kScale * kScale, mid2);
      return true;
    }
  }
  return false;
}

bool AccountValuation::unit_value(AccountId account, const Instrument& instrument, const InstrumentTable& instruments,
                                  const QuoteBoard& quotes, std::int64_t now_ns, int128& value) const noexcept {
  const Quote quote = quotes.read(instrument.id);
  if (!usable_quote(quote, instrument, now_ns)) return false;
  const int128 mid2 = double_mid(quote);
  const Conversion& conversion = this->conversion(account, instrument.id);
  if (conversion.kind == Conversion::Kind::identity) {
    value = divide_up(mid2, 2);
    return true;
  }
  if (conversion.kind == Conversion::Kind::none) return false;
  const Quote via = quotes.read(conversion.via);
  if (!usable_quote(via, instruments[conversion.via], now_ns)) return false;
  const int128 via_mid2 = double_mid(via);
  // mid x via_mid, or mid / via_mid, in nano-units; both mids are at most
  // 2^63 nano-units, so the products fit in 128 bits.
  value = conversion.kind == Conversion::Kind::multiply ? divide_up(multiply(mid2, via_mid2), 4 * kScale)
                                                        : divide_up(mid2 * kScale, via_mid2);
  return true;
}

Reason account_notional(const ExposureBook& book, const AccountValuation& valuation, AccountId account,
                        const InstrumentTable& instruments, const QuoteBoard& quotes, std::int64_t now_ns,
                        const ExtraOrder& extra, AccountNotional& out) noexcept {
  int128 gross = 0;
  int128 longs = 0;
  int128 shorts = 0;
  for (const Instrument& instrument : instruments.all()) {
    const ExposureBook::Snapshot held = book.snapshot(account, instrument.id);
    int128 long_side = static_cast<int128>(held.position.raw()) + held.working_buy.raw();
    int128 short_side = static_cast<int128>(held.position.raw()) - held.working_sell.raw();
    if (extra.quantity.is_positive() && extra.instrument == instrument.id) {
      if (extra.side == Side::buy) {
        long_side += extra.quantity.raw();
      } else {
        short_side -= extra.quantity.raw();
      }
    }
    if (long_side == 0 && short_side == 0) continue;
    int128 unit = 0;
    if (!valuation.unit_value(account, instrument, instruments, quotes, now_ns, unit)) {
      return Reason::NO_REFERENCE_PRICE;
    }
    const int128 long_value = multiply(long_side, unit);
    const int128 short_value = multiply(short_side, unit);
    gross = add(gross, magnitude(long_value) > magnitude(short_value) ? magnitude(long_value) : magnitude(short_value));
    longs = add(longs, long_value);
    shorts = add(shorts, short_value);
  }
  out.gross = gross;
  out.net = magnitude(longs) > magnitude(shorts) ? magnitude(longs) : magnitude(shorts);
  return Reason::OK;
}

Reason check_account_notional(const Account& account, const ExposureBook& book, const AccountValuation& valuation,
                              const InstrumentTable& instruments, const QuoteBoard& quotes, std::int64_t now_ns,
                              const ExtraOrder& order) noexcept {
  return check_account_notional(account.id, NotionalLimits::of(account), book, valuation, instruments, quotes, now_ns,
                                order);
}

Reason check_account_notional(AccountId account, const NotionalLimits& limits, const ExposureBook& book,
                              const AccountValuation& valuation, const InstrumentTable& instruments,
                              const QuoteBoard& quotes, std::int64_t now_ns, const ExtraOrder& order) noexcept {
  if (!limits.gross && !limits.net) return Reason::OK;
  const ExposureBook::Snapshot held = book.snapshot(account, order.instrument);
  const int128 position = held.position.raw();
  if (order.side == Side::buy && position + held.working_buy.raw() + order.quantity.raw() <= 0) return Reason::OK;
  if (order.side == Side::sell && position - held.working_sell.raw() - order.quantity.raw() >= 0) return Reason::OK;
  AccountNotional notional;
  if (Reason reason = account_notional(book, valuation, account, instruments, quotes, now_ns, order, notional);
      reason != Reason::OK) {
    return reason;
  }
  if (limits.gross && notional.gross > static_cast<int128>(limits.max_gross.raw()) * kScale) {
    return Reason::MAX_GROSS_NOTIONAL_EXCEEDED;
  }
  if (limits.net && notional.net > static_cast<int128>(limits.max_net.raw()) * kScale) {
    return Reason::MAX_NET_NOTIONAL_EXCEEDED;
  }
  return Reason::OK;
}

}  // namespace ordergate::guards
