// Account-wide limits: the notional check on the caller's thread, and the
// loss limits each broker thread watches for its accounts.

#include <string>

#include "engine.hpp"

namespace ordergate {
namespace detail {

Reason Engine::reserve_exposure(const Order& order, const Instrument& instrument, const QuoteBoard& quotes,
                                std::int64_t now_ns, bool more) noexcept {
  const Account& account = accounts_[order.account_id];
  auto book = [&](bool reduce_only) {
    const guards::PositionLimits limits = position_limits(order.account_id, instrument);
    return more ? exposure_.reserve_more(order.account_id, instrument.id, limits, order.side, order.quantity,
                                         reduce_only)
                : exposure_.reserve(order.account_id, instrument.id, limits, order.side, order.quantity, reduce_only);
  };
  // A reduce-only order shrinks its position or is refused by the
  // reservation: it cannot raise the account's notional. Leased limits
  // always take the versioned path below: a lease may shrink meanwhile.
  const bool leased = notional_leases_ != nullptr;
  if (!leased && (!account.has_notional_limits() || order.reduce_only)) return book(order.reduce_only);
  const InstrumentTable& instruments = current().instruments;
  const guards::ExtraOrder extra{order.instrument_id, order.side, order.quantity};
  for (;;) {
    // Read before the leases, so a shrink that follows is seen by the advance.
    const std::uint64_t seen = exposure_.account_version(order.account_id);
    if (!order.reduce_only) {
      if (Reason reason = guards::check_account_notional(order.account_id, notional_limits(account), exposure_,
                                                         valuation_, instruments, quotes, now_ns, extra);
          reason != Reason::OK) {
        return reason;
      }
    }
    if (Reason reason = book(order.reduce_only); reason != Reason::OK) return reason;
    if (exposure_.advance_account_version(order.account_id, seen)) return Reason::OK;
    // Another order of the account was booked, or a lease shrank, after our
    // check read the book: take ours back and check again, counting it.
    if (more) {
      exposure_.release_quantity(order.account_id, order.instrument_id, order.side, order.quantity);
    } else {
      exposure_.release(order.account_id, order.instrument_id, order.side, order.quantity);
    }
  }
}

Reason Engine::state_refusal(AccountId account, guards::TradingState state, Reason reason) const noexcept {
  const guards::TradingState tripped = daily_loss_->tripped(account);
  if (tripped != guards::TradingState::active && state == tripped && kill_switch_.account(account) == tripped) {
    return Reason::DAILY_LOSS_LIMIT;
  }
  return reason;
}

void Engine::check_daily_loss(Broker& broker) noexcept {
  const std::int64_t now_ns = clock_.monotonic_ns();
  if (now_ns < broker.next_loss_check_ns) return;
  broker.next_loss_check_ns = now_ns + config_.loss_check_interval_ns;
  const std::uint64_t day = today_.load(std::memory_order_relaxed);
  const bool new_day = broker.loss_day != 0 && day != broker.loss_day;
  broker.loss_day = day;
  const InstrumentTable& instruments = current().instruments;
  for (const Account& account : accounts_.all()) {
    if (broker_of_account_[account.id] != broker.index || account.currency.empty()) continue;
    const guards::TradingState state = kill_switch_.account(account.id);
    if (new_day) {
      // A switch the loss limits made (and nobody changed since) ends with
      // the day; one an operator made stays.
      const guards::TradingState tripped = daily_loss_->tripped(account.id);
      daily_loss_->set_tripped(account.id, guards::TradingState::active);
      daily_loss_->set_reported(account.id, guards::TradingState::active);
      if (tripped != guards::TradingState::active && state == tripped) {
        try {
          set_trading_state(TradingScope::account(account.name.view()), guards::TradingState::active, false);
        } catch (const std::exception&) {
          // Not saved: a restart would bring the loss switch back, which
          // fails closed; the error is in the line below's absence of effect.
        }
        emit("info", "trading_state_changed",
             "scope=account:" + std::string(account.name.view()) + " state=ACTIVE by=day_roll");
      }
      daily_loss_->start_day(account.id, exposure_);
    }
    // Until reconciled, the position is not what the broker holds.
    if ((account_closed_[account.id].load(std::memory_order_acquire) & kNotReconciled) != 0) continue;
    int128 pnl = 0;
    const bool known =
        daily_loss_->evaluate(account.id, exposure_, valuation_, instruments, *broker.quotes, now_ns, pnl);
    daily_loss_->publish(account.id, known, pnl);
    if (!account.has_loss_limits() || !known) continue;

    const int128 loss = pnl < 0 ? -pnl : 0;
    const guards::TradingState reported = daily_loss_->reported(account.id);
    if (reported != guards::TradingState::active && state < reported) {
      // An operator loosened the account after a limit was reached: the
      // loss so far is forgiven, and the limits count what follows.
      daily_loss_->set_forgiven(account.id, loss);
      daily_loss_->set_tripped(account.id, guards::TradingState::active);
      daily_loss_->set_reported(account.id, guards::TradingState::active);
      emit("info", "daily_loss_forgiven",
           "account=" + std::string(account.name.view()) + " loss=" + atto_to_decimal(loss).to_string() +
               " currency=" + std::string(account.currency.view()));
    }
    const int128 counted = loss - daily_loss_->forgiven(account.id);
    const auto reached = [&](Decimal limit) {
      return limit.is_positive() && counted >= static_cast<int128>(limit.raw()) * Decimal::kScale;
    };
    const guards::TradingState now_reported = daily_loss_->reported(account.id);
    if (reached(account.halt_daily_loss) && now_reported < guards::TradingState::halted) {
      daily_loss_->set_reported(account.id, guards::TradingState::halted);
      switch_for_loss(account, guards::TradingState::halted, loss, daily_loss_->forgiven(account.id));
    } else if (reached(account.max_daily_loss) && now_reported < guards::TradingState::reducing) {
      daily_loss_->set_reported(account.id, guards::TradingState::reducing);
      switch_for_loss(account, guards::TradingState::reducing, loss, daily_loss_->forgiven(account.id));
    }
  }
  export_daily_loss(broker);
}

void Engine::export_daily_loss(Broker& broker) noexcept {
  if (daily_path_.empty()) return;
  std::uint64_t changes = 0;
  for (const Account& account : accounts_.all()) {
    if (broker_of_account_[account.id] == broker.index) changes += daily_loss_->changes(account.id);
  }
  if (changes == broker.loss_changes_exported) return;
  try {
    DailyCounts part;
    const InstrumentTable& instruments = current().instruments;
    for (const Account& account : accounts_.all()) {
      if (broker_of_account_[account.id] != broker.index || account.currency.empty()) continue;
      daily_loss_->export_account(account, instruments, exposure_, part);
    }
    // The checkpoint thread holds this lock only to copy the parts.
    std::lock_guard lock(loss_export_mutex_);
    loss_exports_[broker.index] = std::move(part);
    broker.loss_changes_exported = changes;
  } catch (...) {
    // Allocation failure: the next check exports again.
  }
}

void Engine::switch_for_loss(const Account& account, guards::TradingState target, int128 loss,
                             int128 forgiven) noexcept {
  const std::string name(account.name.view());
  const bool halt = target == guards::TradingState::halted;
  const Decimal limit = halt ? account.halt_daily_loss : account.max_daily_loss;
  const bool tighter = kill_switch_.account(account.id) < target;
  try {
    std::string fields = "account=" + name + " loss=" + atto_to_decimal(loss).to_string();
    if (forgiven != 0) fields += " forgiven=" + atto_to_decimal(forgiven).to_string();
    fields += " limit=" + limit.to_string() + " currency=" + std::string(account.currency.view()) +
              " action=" + std::string(tighter ? guards::to_string(target) : "none");
    emit("warning", "daily_loss_limit", fields);
  } catch (...) {
  }
  // A state the operator set at least as strict stays the operator's.
  if (!tighter) return;
  daily_loss_->set_tripped(account.id, target);
  try {
    set_trading_state(TradingScope::account(name), target, halt);
  } catch (const std::exception&) {
    // In effect even when the state file could not be written (see
    // set_trading_state).
  }
  try {
    emit("warning", "trading_state_changed",
         "scope=account:" + name + " state=" + std::string(guards::to_string(target)) + " by=daily_loss");
  } catch (...) {
  }
}

Gateway::AccountRisk Engine::account_risk(std::string_view name) const {
  const Account& account = accounts_[account_id(name)];
  Gateway::AccountRisk risk;
  risk.currency = std::string(account.currency.view());
  risk.max_gross_notional = account.max_gross_notional;
  risk.max_net_notional = account.max_net_notional;
  risk.max_daily_loss = account.max_daily_loss;
  risk.halt_daily_loss = account.halt_daily_loss;
  risk.loss_switch = daily_loss_->tripped(account.id);
  if (account.currency.empty()) return risk;
  guards::AccountNotional notional;
  const QuoteBoard& quotes = *brokers_[broker_of_account_[account.id]]->quotes;
  if (guards::account_notional(exposure_, valuation_, account.id, current().instruments, quotes,
                               clock_.monotonic_ns(), guards::ExtraOrder{}, notional) == Reason::OK) {
    risk.valued = true;
    risk.gross_notional = atto_to_decimal(notional.gross);
    risk.net_notional = atto_to_decimal(notional.net);
  }
  const DailyLoss::Published pnl = daily_loss_->published(account.id);
  risk.pnl_known = pnl.known;
  risk.daily_pnl = pnl.pnl;
  return risk;
}

}  // namespace detail
}  // namespace ordergate
