#include "daily_loss.hpp"

#include <limits>

namespace ordergate::detail {
namespace {

constexpr int128 kScale = Decimal::kScale;

int128 signed_quantity(Side side, Decimal quantity) noexcept {
  return side == Side::buy ? static_cast<int128>(quantity.raw()) : -static_cast<int128>(quantity.raw());
}

bool multiply(int128 a, int128 b, int128& out) noexcept { return !__builtin_mul_overflow(a, b, &out); }
bool add(int128 a, int128 b, int128& out) noexcept { return !__builtin_add_overflow(a, b, &out); }

}  // namespace

DailyLoss::DailyLoss(const AccountTable& accounts, std::size_t instruments)
    : accounts_(std::make_unique<Figures[]>(accounts.size())), account_count_(accounts.size()) {
  for (std::size_t id = 0; id < account_count_; ++id) accounts_[id].lines.resize(instruments);
}

void DailyLoss::on_fill(AccountId account, InstrumentId instrument, Side side, Decimal quantity,
                        Decimal price) noexcept {
  if (account >= account_count_ || instrument >= accounts_[account].lines.size()) return;
  if (!price.is_positive()) {
    on_unpriced_change(account, instrument, side, quantity);
    return;
  }
  ++accounts_[account].changes;
  Line& line = accounts_[account].lines[instrument];
  int128 paid2 = 0;
  if (!multiply(signed_quantity(side, quantity), 2 * static_cast<int128>(price.raw()), paid2) ||
      !add(line.cash2, -paid2, line.cash2)) {
    // Beyond any real account; book it at the mid rather than wrap.
    on_unpriced_change(account, instrument, side, quantity);
  }
}

void DailyLoss::on_unpriced_change(AccountId account, InstrumentId instrument, Side side, Decimal quantity) noexcept {
  if (account >= account_count_ || instrument >= accounts_[account].lines.size()) return;
  ++accounts_[account].changes;
  Line& line = accounts_[account].lines[instrument];
  line.unvalued += signed_quantity(side, quantity);
}

void DailyLoss::start_day(AccountId account, const guards::ExposureBook& book) noexcept {
  if (account >= account_count_) return;
  Figures& figures = accounts_[account];
  for (std::size_t instrument = 0; instrument < figures.lines.size(); ++instrument) {
    Line& line = figures.lines[instrument];
    line.cash2 = 0;
    line.unvalued = book.snapshot(account, static_cast<InstrumentId>(instrument)).position.raw();
  }
  figures.forgiven = 0;
  ++figures.changes;
}

bool DailyLoss::evaluate(AccountId account, const guards::ExposureBook& book,
                         const guards::AccountValuation& valuation, const InstrumentTable& instruments,
                         const QuoteBoard& quotes, std::int64_t now_ns, int128& pnl) noexcept {
  if (account >= account_count_) return false;
  Figures& figures = accounts_[account];
  bool known = true;
  int128 total = 0;
  for (const Instrument& instrument : instruments.all()) {
    Line& line = figures.lines[instrument.id];
    const int128 position = book.snapshot(account, instrument.id).position.raw();
    if (line.cash2 == 0 && line.unvalued == 0 && position == 0) continue;
    const Quote quote = quotes.read(instrument.id);
    const bool priced = guards::usable_quote(quote, instrument, now_ns);
    const int128 mid2 = static_cast<int128>(quote.bid.raw()) + quote.ask.raw();
    if (line.unvalued != 0) {
      int128 cost2 = 0;
      if (!priced || !multiply(line.unvalued, mid2, cost2) || !add(line.cash2, -cost2, line.cash2)) {
        known = false;
        continue;
      }
      line.unvalued = 0;
      ++figures.changes;
    }
    int128 value2 = line.cash2;
    if (position != 0) {
      int128 held2 = 0;
      if (!priced || !multiply(position, mid2, held2) || !add(value2, held2, value2)) {
        known = false;
        continue;
      }
    }
    if (value2 == 0) continue;
    int128 rate = 0;
    int128 converted = 0;
    if (!valuation.quote_currency_value(account, instrument.id, instruments, quotes, now_ns, rate) ||
        !multiply(value2, rate, converted) || !add(total, converted / (2 * kScale), total)) {
      known = false;
      continue;
    }
  }
  pnl = total;
  return known;
}

void DailyLoss::export_account(const Account& account, const InstrumentTable& instruments,
                               const guards::ExposureBook& book, DailyCounts& out) const {
  if (account.id >= account_count_) return;
  const Figures& figures = accounts_[account.id];
  const std::string name(account.name.view());
  DailyCounts::Loss& loss = out.accounts[name];
  loss.switched = static_cast<guards::TradingState>(figures.tripped.load(std::memory_order_relaxed));
  loss.reached = figures.reported;
  loss.forgiven = figures.forgiven;
  for (const Instrument& instrument : instruments.all()) {
    const Line& line = figures.lines[instrument.id];
    const int128 counted = book.snapshot(account.id, instrument.id).position.raw() - line.unvalued;
    if (line.cash2 == 0 && counted == 0) continue;
    if (counted < std::numeric_limits<std::int64_t>::min() || counted > std::numeric_limits<std::int64_t>::max()) {
      continue;
    }
    out.lines[{name, std::string(instrument.name.view())}] =
        DailyCounts::Line{line.cash2, static_cast<std::int64_t>(counted)};
  }
}

void DailyLoss::import_account(const Account& account, const InstrumentTable& instruments,
                               const DailyCounts& in) noexcept {
  if (account.id >= account_count_) return;
  Figures& figures = accounts_[account.id];
  const std::string name(account.name.view());
  if (const auto loss = in.accounts.find(name); loss != in.accounts.end()) {
    figures.tripped.store(static_cast<std::uint8_t>(loss->second.switched), std::memory_order_relaxed);
    figures.reported = loss->second.reached;
    figures.forgiven = loss->second.forgiven;
  }
  for (const Instrument& instrument : instruments.all()) {
    const auto line = in.lines.find({name, std::string(instrument.name.view())});
    if (line == in.lines.end()) continue;
    figures.lines[instrument.id].cash2 = line->second.cash2;
    figures.lines[instrument.id].unvalued = -static_cast<int128>(line->second.position);
  }
}

void DailyLoss::publish(AccountId account, bool known, int128 pnl) noexcept {
  if (account >= account_count_) return;
  Figures& figures = accounts_[account];
  const int128 nano = pnl / kScale;
  const bool fits =
      nano >= std::numeric_limits<std::int64_t>::min() && nano <= std::numeric_limits<std::int64_t>::max();
  figures.pnl.store(fits ? static_cast<std::int64_t>(nano) : 0, std::memory_order_relaxed);
  figures.known.store(known && fits, std::memory_order_release);
}

DailyLoss::Published DailyLoss::published(AccountId account) const noexcept {
  Published out;
  if (account >= account_count_) return out;
  const Figures& figures = accounts_[account];
  out.known = figures.known.load(std::memory_order_acquire);
  out.pnl = Decimal::from_raw(figures.pnl.load(std::memory_order_relaxed));
  return out;
}

}  // namespace ordergate::detail
