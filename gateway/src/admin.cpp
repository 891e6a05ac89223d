// Operator and query functions: kill switch, cancel-all, sessions and
// principals, exposure and open orders. Off the hot path.

#include "engine.hpp"

#include <algorithm>
#include <map>
#include <atomic>
#include <mutex>
#include <new>
#include <optional>
#include <vector>
#include <stdexcept>
#include <string>
#include "ordergate/guards/validate.hpp"

namespace ordergate {
namespace detail {

PrincipalId Engine::principal_id(std::string_view name) const {
  if (const auto id = find_principal(name)) return *id;
  throw std::invalid_argument("unknown principal");
}

AccountId Engine::account_id(std::string_view name) const {
  const Account* account = accounts_.find(name);
  if (account == nullptr) throw std::invalid_argument("unknown account");
  return account->id;
}

void Engine::save_control(const ControlState& next, bool applied) const {
  if (config_.state_path.empty()) return;
  try {
    write_control_state(config_.state_path, next);
  } catch (const ControlStateError& e) {
    throw ControlStateError(std::string(applied ? "the change is in effect but was not saved, so a restart "
                                                  "would undo it: "
                                                : "the change was not applied because it could not be saved: ") +
                                e.what(),
                            applied);
  }
}

PrincipalId Engine::actor_of(std::string_view by) const noexcept {
  if (by.empty()) return kNoActor;
  return find_principal(by).value_or(kNoActor);
}

void Engine::set_trading_state(TradingScope scope, guards::TradingState state, bool cancel_working,
                               std::string_view by) {
  std::unique_lock lock(control_mutex_);
  AccountId account = 0;
  PrincipalId principal = 0;
  ControlState next = control_;
  guards::TradingState previous = guards::TradingState::active;
  const auto record_in = [&](std::map<std::string, guards::TradingState>& states, std::string_view name) {
    if (state == guards::TradingState::active) {
      states.erase(std::string(name));
    } else {
      states[std::string(name)] = state;
    }
  };
  switch (scope.kind) {
    case TradingScope::Kind::global:
      previous = control_.global;  // the operator's, without the floor
      next.global = state;
      break;
    case TradingScope::Kind::account:
      account = account_id(scope.name);
      previous = kill_switch_.account(account);
      record_in(next.accounts, scope.name);
      break;
    case TradingScope::Kind::principal:
      principal = principal_id(scope.name);
      previous = kill_switch_.principal(principal);
      record_in(next.principals, scope.name);
      break;
  }
  // Loosening is durable before it takes effect; tightening takes effect
  // first (it is never refused) and is then saved.
  const bool loosening = static_cast<int>(state) < static_cast<int>(previous);
  if (loosening) save_control(next, false);
  switch (scope.kind) {
    case TradingScope::Kind::global: kill_switch_.set_global(std::max(state, floor_)); break;
    case TradingScope::Kind::account: kill_switch_.set_account(account, state); break;
    case TradingScope::Kind::principal: kill_switch_.set_principal(principal, state); break;
  }
  control_ = next;
  AuditEvent event;
  event.type = AuditEventType::trading_state_changed;
  event.account_id = account;
  event.principal_id = principal;
  event.actor = actor_of(by);
  std::string detail = scope.kind == TradingScope::Kind::global ? "global"
                       : scope.kind == TradingScope::Kind::account ? "account:" + std::string(scope.name)
                                                                   : "principal:" + std::string(scope.name);
  detail += ":";
  detail += guards::to_string(state);
  if (cancel_working) detail += ":CANCEL";
  event.detail.assign(detail);
  event.time_ns = clock_.wall_ns();
  audit_.record(event);

  if (cancel_working) {
    // Pairs with the fence in submit: a submit that read the old state is
    // either seen open by the scan below or sees the new state and refuses.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    CancelFilter filter;
    if (scope.kind == TradingScope::Kind::account) filter.account = account;
    if (scope.kind == TradingScope::Kind::principal) filter.principal = principal;
    cancel_orders(filter);
  }
  if (!loosening) save_control(next, true);
}

void Engine::hold_accounts(bool held) noexcept {
  for (const Account& account : accounts_.all()) {
    if (held) {
      account_closed_[account.id].fetch_or(kHeld, std::memory_order_acq_rel);
      continue;
    }
    if (account_closed_[account.id].fetch_and(static_cast<std::uint8_t>(~kHeld), std::memory_order_acq_rel) != kHeld) {
      continue;
    }
    try {
      std::string text = "account=";
      text.append(account.name.view()).append(" released=hold");
      emit("info", "account_ready", text);
    } catch (...) {
      // The account is ready; only its log line is lost.
    }
  }
}

void Engine::set_trading_floor(guards::TradingState floor, std::string_view why) {
  std::lock_guard lock(control_mutex_);
  if (floor == floor_) return;
  floor_ = floor;
  kill_switch_.set_global(std::max(control_.global, floor_));
  AuditEvent event;
  event.type = AuditEventType::trading_state_changed;
  std::string detail = "floor:";
  detail += guards::to_string(floor);
  detail += ":";
  detail += why;
  event.detail.assign(detail);
  event.time_ns = clock_.wall_ns();
  audit_.record(event);
  std::string fields = "floor=";
  fields += guards::to_string(floor);
  fields += " why=";
  fields += why;
  fields += " global=";
  fields += guards::to_string(kill_switch_.global());
  emit(floor == guards::TradingState::active ? "info" : "warn", "trading_floor", fields);
}

ControlState Engine::control_state() const {
  std::lock_guard lock(control_mutex_);
  return control_;
}

void Engine::link_published(PrincipalId principal) const {
  std::uint32_t& head = open_lists_->head[principal];
  // The acquire pairs with submit's release: the records, `open` included,
  // are visible from here.
  std::uint32_t index = published_[principal].head.exchange(kNoOrder, std::memory_order_acquire);
  while (index != kNoOrder) {
    OrderRecord& record = records_[index];
    const std::uint32_t next = record.next_published;
    record.prev_listed = kNoOrder;
    record.next_listed = head;
    if (head != kNoOrder) records_[head].prev_listed = index;
    head = index;
    record.listed = true;
    index = next;
  }
}

void Engine::collect_open_orders(PrincipalId principal, std::vector<std::uint32_t>& ids) const {
  link_published(principal);
  // Finished orders stay linked until reclaim unlinks them.
  std::uint64_t visited = 0;
  for (std::uint32_t index = open_lists_->head[principal]; index != kNoOrder; index = records_[index].next_listed) {
    ++visited;
    if (records_[index].open.load(std::memory_order_acquire)) ids.push_back(index);
  }
  open_lists_->visited.fetch_add(visited, std::memory_order_relaxed);
}

std::vector<std::uint32_t> Engine::open_order_ids(std::optional<PrincipalId> principal) const {
  std::vector<std::uint32_t> ids;
  if (principal) {
    if (*principal < kMaxPrincipals) collect_open_orders(*principal, ids);
  } else {
    // Principal ids only grow (removed principals keep theirs).
    const std::size_t principals = std::min(current().principals.size(), kMaxPrincipals);
    for (std::size_t id = 0; id < principals; ++id) collect_open_orders(static_cast<PrincipalId>(id), ids);
    collect_open_orders(kForeignPrincipal, ids);
  }
  // In acceptance order, as callers expect.
  std::sort(ids.begin(), ids.end(), [&](std::uint32_t a, std::uint32_t b) {
    return records_[a].order.accepted_ns != records_[b].order.accepted_ns
               ? records_[a].order.accepted_ns < records_[b].order.accepted_ns
               : records_[a].order.order_id < records_[b].order.order_id;
  });
  return ids;
}

void Engine::reclaim() noexcept {
  retired_count_.store(0, std::memory_order_relaxed);
  std::uint32_t index = retired_head_.exchange(kNoOrder, std::memory_order_acquire);
  if (index == kNoOrder) return;
  // Unlink every retired record and mark it empty: from here no reader can
  // take it for its order. Its order was published before it retired, so
  // linking what its principal published puts it in the list if it was not.
  std::uint32_t first = index;
  while (index != kNoOrder) {
    OrderRecord& record = records_[index];
    const PrincipalId principal = record.order.principal_id;
    if (principal < kMaxPrincipals) link_published(principal);
    if (record.listed) {
      if (record.prev_listed != kNoOrder) {
        records_[record.prev_listed].next_listed = record.next_listed;
      } else {
        open_lists_->head[principal] = record.next_listed;
      }
      if (record.next_listed != kNoOrder) records_[record.next_listed].prev_listed = record.prev_listed;
      record.listed = false;
    }
    const std::uint64_t ident = record.ident.load(std::memory_order_relaxed);
    if (ident != kNoIdent) order_index_.finish(record.index_slot, static_cast<OrderId>(ident));
    record.ident.store(kNoIdent, std::memory_order_seq_cst);
    index = record.next_retired;
  }
  // Records a reader announced before it saw them empty wait for the next
  // reclaim; the rest are free.
  hazards_.clear();
  for (std::uint32_t slot = 0; slot < config_.max_sessions; ++slot) {
    const std::uint32_t hazard = sessions_[slot].hazard.load(std::memory_order_seq_cst);
    if (hazard != kNoOrder) hazards_.push_back(hazard);
  }
  for (const auto& broker : brokers_) {
    const std::uint32_t hazard = broker->hazard.load(std::memory_order_seq_cst);
    if (hazard != kNoOrder) hazards_.push_back(hazard);
  }
  for (index = first; index != kNoOrder;) {
    const std::uint32_t next = records_[index].next_retired;
    if (std::find(hazards_.begin(), hazards_.end(), index) != hazards_.end()) {
      retire(index);
    } else {
      free_records_.push(index);
      reclaimed_.fetch_add(1, std::memory_order_relaxed);
    }
    index = next;
  }
}

std::size_t Engine::cancel_orders(const CancelFilter& filter) {
  std::size_t sent = 0;
  std::size_t not_sent = 0;
  // Held while the records are read: reclaim cannot reuse them meanwhile.
  std::lock_guard lock(open_lists_->mutex);
  for (const std::uint32_t index : open_order_ids(filter.principal)) {
    OrderRecord& record = records_[index];
    const Order& order = record.order;
    if ((filter.session && order.session_id != *filter.session) ||
        (filter.account && order.account_id != *filter.account) ||
        (filter.instrument && order.instrument_id != *filter.instrument)) {
      continue;
    }
    if (record.bulk_cancel_sent.exchange(true, std::memory_order_relaxed)) continue;
    // Recorded in the trail before the broker can act on it (see cancel()).
    const AuditReservation reservation = auditing_ ? audit_.reserve() : AuditReservation{};
    BrokerCommand command;
    command.kind = CommandKind::cancel;
    command.order_id = order.order_id;
    Broker& broker = *brokers_[broker_of_account_[order.account_id]];
    if (!broker.queue->enqueue(command)) {
      // The queue could not grow (out of memory): the order is still working.
      // Unmarked, so that the next cancel-all tries it again, and recorded as
      // refused, so the trail never shows a cancel that was not sent.
      record.bulk_cancel_sent.store(false, std::memory_order_relaxed);
      audit(AuditEventType::cancel_rejected, order, Reason::BROKER_UNAVAILABLE,
            reservation ? &reservation : nullptr);
      ++not_sent;
      continue;
    }
    audit(AuditEventType::cancel_accepted, order, Reason::OK, reservation ? &reservation : nullptr);
    bulk_cancels_[order.account_id].fetch_add(1, std::memory_order_relaxed);
    ++sent;
  }
  if (not_sent > 0) {
    try {
      emit("error", "bulk_cancel_not_sent",
           "orders=" + std::to_string(not_sent) + " sent=" + std::to_string(sent) +
               " reason=the broker queue could not grow; the orders are still working, retry the cancel");
    } catch (const std::bad_alloc&) {
      // Out of memory for the line too: the trail holds each refusal.
    }
  }
  return sent;
}

bool Engine::has_permission(PrincipalId principal, guards::Permission permission) const noexcept {
  const Snapshot& snapshot = current();
  return principal < snapshot.principals.size() && !snapshot.principals[principal]->removed &&
         snapshot.principals[principal]->policy.has(permission);
}

bool Engine::allows_account(PrincipalId principal, AccountId account) const noexcept {
  const Snapshot& snapshot = current();
  return principal < snapshot.principals.size() && !snapshot.principals[principal]->removed &&
         snapshot.principals[principal]->policy.allows_account(account);
}

std::optional<PrincipalId> Engine::find_principal(std::string_view name) const noexcept {
  const Snapshot& snapshot = current();
  for (std::size_t i = 0; i < snapshot.principals.size(); ++i) {
    if (!snapshot.principals[i]->removed && snapshot.principals[i]->policy.name() == name) {
      return static_cast<PrincipalId>(i);
    }
  }
  return std::nullopt;
}

bool Engine::principal_enabled(PrincipalId principal) const noexcept {
  return principal < current().principals.size() && !current().principals[principal]->removed &&
         controls_[principal].enabled.load(std::memory_order_acquire);
}

guards::TradingState Engine::trading_state(TradingScope scope) const {
  switch (scope.kind) {
    case TradingScope::Kind::global:
      return kill_switch_.global();
    case TradingScope::Kind::account:
      return kill_switch_.account(account_id(scope.name));
    case TradingScope::Kind::principal:
      return kill_switch_.principal(principal_id(scope.name));
  }
  return guards::TradingState::halted;
}

void Engine::revoke_sessions(std::string_view principal, std::string_view by) {
  const PrincipalId pid = principal_id(principal);
  controls_[pid].epoch.fetch_add(1, std::memory_order_acq_rel);
  AuditEvent event;
  event.type = AuditEventType::sessions_revoked;
  event.principal_id = pid;
  event.actor = actor_of(by);
  event.time_ns = clock_.wall_ns();
  audit_.record(event);
}

void Engine::set_principal_enabled(std::string_view principal, bool enabled, std::string_view by) {
  std::lock_guard lock(control_mutex_);
  const PrincipalId pid = principal_id(principal);
  ControlState next = control_;
  if (enabled) {
    next.disabled_principals.erase(std::string(principal));
    save_control(next, false);  // enabling loosens: durable first
  } else {
    next.disabled_principals.insert(std::string(principal));
  }
  controls_[pid].enabled.store(enabled, std::memory_order_release);
  control_ = std::move(next);
  AuditEvent event;
  event.principal_id = pid;
  event.actor = actor_of(by);
  event.type = enabled ? AuditEventType::principal_enabled : AuditEventType::principal_disabled;
  event.time_ns = clock_.wall_ns();
  audit_.record(event);
  if (!enabled) save_control(control_, true);
}

guards::ExposureBook::Snapshot Engine::exposure(std::string_view account, std::string_view symbol) const {
  SymbolKey key;
  if (guards::canonical_symbol_key(symbol, key) != Reason::OK) throw std::invalid_argument("invalid symbol");
  const Instrument* instrument = current().instruments.find(key);
  if (instrument == nullptr) throw std::invalid_argument("unknown instrument");
  return exposure_.snapshot(account_id(account), instrument->id);
}

std::vector<OpenOrder> Engine::open_orders(std::string_view principal) const {
  const PrincipalId pid = principal_id(principal);
  std::vector<OpenOrder> orders;
  std::lock_guard lock(open_lists_->mutex);
  for (const std::uint32_t index : open_order_ids(pid)) {
    const OrderRecord& record = records_[index];
    // A replacement the broker has not confirmed is not the order yet.
    if (record.replaces.load(std::memory_order_acquire) != kNoOrder) continue;
    OpenOrder open;
    open.order = record.order;
    open.leaves_quantity = Decimal::from_raw(record.leaves_raw.load(std::memory_order_relaxed));
    open.replace_pending = record.replacing.load(std::memory_order_relaxed);
    orders.push_back(open);
  }
  return orders;
}

std::string_view Engine::principal_name(PrincipalId id) const noexcept {
  const Snapshot& snapshot = current();
  return id < snapshot.principals.size() ? snapshot.principals[id]->policy.name() : std::string_view{};
}

std::vector<Gateway::BrokerTransport> Engine::broker_transports() const {
  std::vector<Gateway::BrokerTransport> transports;
  for (const auto& broker : brokers_) {
    Gateway::BrokerTransport transport;
    transport.name = broker->name;
    if (broker->port->transport_stats(transport.stats)) transports.push_back(std::move(transport));
  }
  return transports;
}

std::vector<Gateway::BrokerStatus> Engine::broker_status() const {
  std::vector<Gateway::BrokerStatus> status;
  status.reserve(brokers_.size());
  for (const auto& broker : brokers_) {
    bool ready = true;
    for (std::size_t id = 0; id < accounts_.size(); ++id) {
      if (broker_of_account_[id] == broker->index && account_closed_[id].load(std::memory_order_acquire) != 0) ready = false;
    }
    status.push_back({broker->name, broker->connected.load(std::memory_order_relaxed), ready});
  }
  return status;
}

Gateway::Counters Engine::counters() const noexcept {
  Gateway::Counters counters;
  for (std::uint32_t i = 0; i < config_.max_sessions; ++i) {
    counters.accepted += sessions_[i].accepted.load(std::memory_order_relaxed);
    counters.rejected += sessions_[i].rejected.load(std::memory_order_relaxed);
  }
  counters.executions = executions_.load(std::memory_order_relaxed);
  counters.order_records_visited = open_lists_->visited.load(std::memory_order_relaxed);
  counters.order_records_reclaimed = reclaimed_.load(std::memory_order_relaxed);
  return counters;
}

}  // namespace detail

}  // namespace ordergate
