#pragma once

// Internal: the trading day's profit and loss of each account with a
// currency, and the loss limits that switch it (max_daily_loss: REDUCING,
// halt_daily_loss: HALTED with its orders cancelled).
//
// Per instrument the day's P&L is cash + position x mid: cash is what the
// day's fills paid and received, and the position carried into the day is
// booked as bought at the first usable mid of the day. A position change
// that has no price (reconciliation, a difference booked after an outage)
// is booked at the mid too, so it moves no P&L. Amounts are kept in the
// instrument's quote currency and converted into the account's at the
// current mid of the conversion instrument (guards::AccountValuation).
//
// Threads: each account's figures are written only by its broker's I/O
// thread; `published` is read from any thread.

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "ordergate/core/decimal.hpp"
#include "ordergate/core/instrument.hpp"
#include "ordergate/core/quote.hpp"
#include "ordergate/gateway/control_state.hpp"
#include "ordergate/guards/account_risk.hpp"
#include "ordergate/guards/risk.hpp"
#include "ordergate/guards/trading_state.hpp"

namespace ordergate::detail {

class DailyLoss {
 public:
  DailyLoss(const AccountTable& accounts, std::size_t instruments);

  /// A fill of `quantity` at `price` (zero: unknown, booked at the mid).
  void on_fill(AccountId account, InstrumentId instrument, Side side, Decimal quantity, Decimal price) noexcept;
  /// A position change without a price.
  void on_unpriced_change(AccountId account, InstrumentId instrument, Side side, Decimal quantity) noexcept;
  /// A new trading day: `positions` (by instrument) are carried into it.
  void start_day(AccountId account, const guards::ExposureBook& book) noexcept;

  /// The account's P&L for the day in 1e-18 units of its currency. Books
  /// carried and unpriced quantities at the mid first where a quote allows.
  /// False when a quote it needs is not usable: the P&L is unknown.
  [[nodiscard]] bool evaluate(AccountId account, const guards::ExposureBook& book,
                              const guards::AccountValuation& valuation, const InstrumentTable& instruments,
                              const QuoteBoard& quotes, std::int64_t now_ns, int128& pnl) noexcept;

  /// Last P&L `evaluate` found, in nano-units, and whether it was known.
  struct Published {
    bool known = false;
    Decimal pnl;
  };
  void publish(AccountId account, bool known, int128 pnl) noexcept;
  [[nodiscard]] Published published(AccountId account) const noexcept;

  /// The switch the loss limits made and still own, per account; the
  /// guard pipeline reads it to name DAILY_LOSS_LIMIT.
  [[nodiscard]] guards::TradingState tripped(AccountId account) const noexcept {
    return static_cast<guards::TradingState>(accounts_[account].tripped.load(std::memory_order_relaxed));
  }
  void set_tripped(AccountId account, guards::TradingState state) noexcept {
    accounts_[account].tripped.store(static_cast<std::uint8_t>(state), std::memory_order_relaxed);
    ++accounts_[account].changes;
  }
  /// Loss already forgiven today by an admin's resume (1e-18 units): the
  /// limits count loss beyond it. Broker thread only.
  [[nodiscard]] int128 forgiven(AccountId account) const noexcept { return accounts_[account].forgiven; }
  void set_forgiven(AccountId account, int128 loss) noexcept {
    accounts_[account].forgiven = loss;
    ++accounts_[account].changes;
  }
  /// The strictest limit reached today and not forgiven, whether or not it
  /// switched the account (an operator's stricter state stays). Broker
  /// thread only.
  [[nodiscard]] guards::TradingState reported(AccountId account) const noexcept { return accounts_[account].reported; }
  void set_reported(AccountId account, guards::TradingState state) noexcept {
    accounts_[account].reported = state;
    ++accounts_[account].changes;
  }

  /// Counts every change a checkpoint keeps (fills, day starts, switches);
  /// broker thread only.
  [[nodiscard]] std::uint64_t changes(AccountId account) const noexcept { return accounts_[account].changes; }
  /// The account's part of a checkpoint (DailyCounts::accounts and lines):
  /// its switches and, per instrument, the cash with the position it was
  /// counted with. Broker thread only (or with the broker thread stopped).
  void export_account(const Account& account, const InstrumentTable& instruments, const guards::ExposureBook& book,
                      DailyCounts& out) const;
  /// Restores a checkpoint of today before the account is reconciled: the
  /// position the cash was counted with is credited back, so the position
  /// reconciliation books costs only the difference, at the mid.
  void import_account(const Account& account, const InstrumentTable& instruments, const DailyCounts& in) noexcept;

 private:
  struct Line {
    int128 cash2 = 0;     // twice the cash, in 1e-18 units of the quote currency
    int128 unvalued = 0;  // signed quantity (nano-units) still to be booked at a mid
  };
  struct Figures {
    std::vector<Line> lines;  // by instrument
    int128 forgiven = 0;
    guards::TradingState reported = guards::TradingState::active;
    std::uint64_t changes = 0;
    std::atomic<std::int64_t> pnl{0};
    std::atomic<bool> known{false};
    std::atomic<std::uint8_t> tripped{0};
  };

  std::unique_ptr<Figures[]> accounts_;
  std::size_t account_count_ = 0;
};

}  // namespace ordergate::detail
