// The hot path: submit and cancel run every guard on the caller's thread.
// No allocation, lock, exception or system call in this file.

#include "engine.hpp"

#include <atomic>

#include "ordergate/guards/validate.hpp"

namespace ordergate {
namespace detail {

Reason Engine::authorize(const SessionHandle& handle, std::int64_t now_ns) const noexcept {
  if (handle.slot == nullptr) return Reason::UNAUTHENTICATED;
  const SessionSlot& slot = *handle.slot;
  const PrincipalControl& control = controls_[slot.principal];
  if (control.epoch.load(std::memory_order_acquire) != slot.epoch) return Reason::UNAUTHENTICATED;
  if (now_ns >= slot.expires_at_ns) return Reason::SESSION_EXPIRED;
  if (!control.enabled.load(std::memory_order_acquire)) return Reason::PERMISSION_DENIED;
  return Reason::OK;
}

Verdict Engine::reject(SessionHandle& handle, const Order* order, Reason reason, std::int64_t retry_after_ns,
                       const AuditReservation* reservation) noexcept {
  if (handle.slot != nullptr) {
    auto& rejected = handle.slot->rejected;
    rejected.store(rejected.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  if (!auditing_) return Verdict{reason, retry_after_ns, 0, 0};
  AuditEvent event;
  event.type = AuditEventType::order_rejected;
  event.reason = reason;
  event.session_id = handle.id;
  event.time_ns = clock_.wall_ns();
  if (handle.slot != nullptr) event.principal_id = handle.slot->principal;
  // Only fields that passed validation are recorded: raw client input is
  // never copied into the audit trail.
  if (order != nullptr) {
    event.account_id = order->account_id;
    event.instrument_id = order->instrument_id;
    event.side = order->side;
    event.quantity = order->quantity;
    event.price = order->price;
    event.client_order_id = order->client_order_id;
  }
  const std::uint64_t sequence = reservation != nullptr ? audit_.commit(*reservation, event) : audit_.record(event);
  return Verdict{reason, retry_after_ns, 0, sequence};
}

std::uint64_t Engine::audit(AuditEventType type, const Order& order, Reason reason,
                            const AuditReservation* reservation) noexcept {
  if (!auditing_) return 0;
  AuditEvent event;
  event.type = type;
  event.reason = reason;
  event.principal_id = order.principal_id;
  event.session_id = order.session_id;
  event.account_id = order.account_id;
  event.instrument_id = order.instrument_id;
  event.side = order.side;
  event.order_id = order.order_id;
  event.quantity = order.quantity;
  event.price = order.price;
  event.client_order_id = order.client_order_id;
  event.time_ns = clock_.wall_ns();
  return reservation != nullptr ? audit_.commit(*reservation, event) : audit_.record(event);
}

void Engine::prefetch(const SessionHandle& handle, std::string_view client_order_id) const noexcept {
  if (client_order_id.empty()) return;
  (void)ask_for_index_entry(handle, client_order_id);
  // The record take_record gives next, unless another submit takes it
  // first: a never-used one, else the top of the free stack.
  const std::uint32_t fresh = fresh_records_.load(std::memory_order_relaxed);
  const std::uint32_t next = fresh < config_.order_capacity ? fresh : free_records_.peek();
  if (next >= config_.order_capacity) return;
  const auto* lines = reinterpret_cast<const std::byte*>(&records_[next]);
  for (std::size_t offset = 0; offset < sizeof(OrderRecord); offset += kCacheLine) prefetch_for_write(lines + offset);
}

Verdict Engine::submit(SessionHandle& handle, const OrderRequest& request) noexcept {
  // First, so that the entry's miss overlaps everything up to the claim. A
  // valid id is copied unchanged into the order, so the key is the order's.
  const std::uint64_t key = ask_for_index_entry(handle, request.client_order_id);
  const std::int64_t now_ns = clock_.monotonic_ns();
  std::uint32_t account = metric_cells_.no_account();
  const Verdict verdict = run_submit(handle, request, now_ns, key, account);
  // The guard latency reuses the clock read the guards needed and reads it
  // once more at the end, for a sample of the submits only: that read
  // costs more than all the counting.
  if (metric_cells_.enabled() && handle.slot != nullptr) {
    metric_cells_.count_order(handle.slot_index, account, verdict.reason);
    if (metric_cells_.sample_latency(handle.slot_index)) {
      metric_cells_.observe_latency(handle.slot_index, clock_.monotonic_ns() - now_ns);
    }
  }
  return verdict;
}

Verdict Engine::run_submit(SessionHandle& handle, const OrderRequest& request, std::int64_t now_ns,
                           std::uint64_t key, std::uint32_t& account) noexcept {
  if (Reason reason = authorize(handle, now_ns); reason != Reason::OK) {
    return reject(handle, nullptr, reason);
  }
  // Fail closed: no order goes out that the audit trail cannot record.
  // Cancels only reduce risk, so they do not ask.
  if (!audit_.healthy()) return reject(handle, nullptr, Reason::AUDIT_UNAVAILABLE);
  SessionSlot& slot = *handle.slot;
  Snapshot& snapshot = current();
  PrincipalState& principal = *snapshot.principals[slot.principal];
  const InstrumentTable& instruments = snapshot.instruments;

  Order order;
  order.principal_id = slot.principal;
  order.session_id = handle.id;

  // 1. validate and sanitize
  // The wall clock is only needed to check a GTD expiry.
  const std::int64_t wall_ns = request.time_in_force == TimeInForce::gtd ? clock_.wall_ns() : 0;
  if (Reason reason = guards::validate_order(request, accounts_, instruments, wall_ns, order);
      reason != Reason::OK) {
    return reject(handle, nullptr, reason);
  }
  account = order.account_id;
  const std::uint16_t broker_index = broker_of_account_[order.account_id];
  // 2. permissions
  if (Reason reason = guards::check_submit_permissions(principal.policy, order); reason != Reason::OK) {
    return reject(handle, &order, reason);
  }
  if (!accepting_.load(std::memory_order_acquire)) {
    return reject(handle, &order, Reason::BROKER_UNAVAILABLE);
  }
  // Until reconciled, the limits cannot count what the broker holds.
  if (account_closed_[order.account_id].load(std::memory_order_acquire) != 0) {
    return reject(handle, &order, Reason::ACCOUNT_NOT_READY);
  }
  // 3. trading state
  const guards::TradingState state = kill_switch_.effective(order.account_id, order.principal_id);
  if (Reason reason = guards::check_trading_state(state); reason != Reason::OK) {
    return reject(handle, &order, state_refusal(order.account_id, state, reason));
  }
  // 4. risk: per-order limits against the reference quote, duplicates,
  //    then the exposure reservation (exact under concurrency)
  const Instrument& instrument = instruments[order.instrument_id];
  Broker& broker = *brokers_[broker_index];
  const Quote quote = broker.quotes->read(order.instrument_id);
  if (Reason reason = guards::check_order_risk(order, instrument, quote, now_ns); reason != Reason::OK) {
    return reject(handle, &order, reason);
  }
  // The duplicate check itself waits for the insert below, so that the
  // index entry's cache miss (asked for at the start of submit) overlaps
  // the guards in between. A refusal by one of them still answers
  // DUPLICATE_CLIENT_ORDER_ID for a reused id, as if the duplicate check
  // came first: a strategy that resends an accepted order learns that it
  // was accepted, not that the resend found the limits full.
  const auto refuse = [&](Reason reason, std::int64_t retry_after_ns = 0) {
    if (order_index_.contains(key, now_ns)) return reject(handle, &order, Reason::DUPLICATE_CLIENT_ORDER_ID);
    return reject(handle, &order, reason, retry_after_ns);
  };
  // The session's room in its own ring, before anything is taken for the
  // order (exposure, rate tokens, an index entry, a record): a strategy that
  // retries a full queue costs only this check, and cannot use up the order
  // records all sessions share while a stalled broker thread reclaims none.
  // Only this session's thread adds to its ring, so the room is still there
  // when the order is published below.
  if (!handle.rings[broker_index]->fewer_waiting_than(session_queue_budget_)) {
    return refuse(Reason::SESSION_QUEUE_FULL);
  }
  // Reduce-only here and, where the venue has the form, at the venue too:
  // a protective fill may close the position while the order travels.
  order.reduce_only = state == guards::TradingState::reducing;
  if (Reason reason = reserve_exposure(order, instrument, *broker.quotes, now_ns); reason != Reason::OK) {
    return refuse(reason == Reason::REDUCE_ONLY ? state_refusal(order.account_id, state, reason) : reason);
  }
  // 5. rate limits, consumed only by orders that passed everything above
  guards::RateCheck rates;
  // Config allows at most 4 windows per scope, so this never overflows; if it
  // did, refusing is the only safe answer.
  if (!principal.order_limits.collect(0, rates) || !snapshot.account_limits.collect(order.account_id, rates) ||
      !snapshot.symbol_limits.collect(order.instrument_id, rates)) {
    exposure_.release(order.account_id, order.instrument_id, order.side, order.quantity);
    return refuse(Reason::RATE_LIMITED);
  }
  std::int64_t retry_after_ns = 0;
  if (Reason reason = rates.consume(now_ns, retry_after_ns); reason != Reason::OK) {
    exposure_.release(order.account_id, order.instrument_id, order.side, order.quantity);
    return refuse(reason, retry_after_ns);
  }
  // A cluster member's share of the account's and the principal's windows
  // (leased from Redis), all or none.
  BudgetLeaseCell* const account_cells = leases_ ? account_lease_cells(order.account_id) : nullptr;
  const std::size_t leased = account_cells != nullptr ? snapshot.account_limits.windows().size() : 0;
  BudgetLeaseCell* const principal_cells = principal_leases_ ? principal_lease_cells(slot.principal) : nullptr;
  const std::size_t principal_leased = principal_cells != nullptr ? principal.order_limits.windows().size() : 0;
  const auto give_back_all_leases = [&] {
    if (leased != 0) give_back_leases(account_cells, leased);
    if (principal_leased != 0) give_back_leases(principal_cells, principal_leased);
  };
  const bool account_taken =
      leased == 0 || take_leases(account_cells, snapshot.account_limits.windows(), retry_after_ns);
  if (!account_taken ||
      (principal_leased != 0 && !take_leases(principal_cells, principal.order_limits.windows(), retry_after_ns))) {
    if (account_taken && leased != 0) give_back_leases(account_cells, leased);
    rates.refund();
    exposure_.release(order.account_id, order.instrument_id, order.side, order.quantity);
    return refuse(Reason::RATE_LIMITED, retry_after_ns);
  }
  std::atomic<std::uint64_t>& orders_today = controls_[slot.principal].orders_today;
  const bool daily = principal.max_orders_per_day != 0;
  if (daily && !take_daily(orders_today, principal.max_orders_per_day)) {
    rates.refund();
    give_back_all_leases();
    exposure_.release(order.account_id, order.instrument_id, order.side, order.quantity);
    return refuse(Reason::DAILY_ORDER_LIMIT);
  }

  // Claim the client order id; a concurrent submit of the same id loses here.
  auto undo = [&] {
    rates.refund();
    give_back_all_leases();
    if (daily) give_back_daily(orders_today);
    exposure_.release(order.account_id, order.instrument_id, order.side, order.quantity);
  };
  std::size_t index_slot = 0;
  switch (order_index_.insert(key, now_ns, index_slot)) {
    case guards::ClientOrderIdIndex::Insert::inserted:
      break;
    case guards::ClientOrderIdIndex::Insert::duplicate:
      undo();
      return reject(handle, &order, Reason::DUPLICATE_CLIENT_ORDER_ID);
    case guards::ClientOrderIdIndex::Insert::full:
      undo();
      return reject(handle, &order, Reason::ORDER_CAPACITY_EXHAUSTED);
  }
  std::uint32_t record_index = 0;
  if (!take_record(record_index)) {
    order_index_.erase(index_slot);
    undo();
    return reject(handle, &order, Reason::ORDER_CAPACITY_EXHAUSTED);
  }
  // The record is this thread's alone until publish_record makes it open.
  const OrderId order_id = next_order_id(record_index);
  order.order_id = order_id;
  order.accepted_ns = now_ns;
  // `leaves` is handed to the broker thread by the queue.
  publish_record(record_index, order,
                 {.session_slot = handle.slot_index,
                  .index_slot = static_cast<std::uint32_t>(index_slot),
                  .leaves = order.quantity,
                  .leaves_raw = order.quantity.raw()});
  OrderRecord& record = records_[record_index];
  // Refused after publishing: the record goes back through reclaim, which
  // unlinks it from the open-order list first.
  auto withdraw = [&] {
    record.open.store(false, std::memory_order_release);
    record.ident.store(order_id | kFinishedBit, std::memory_order_release);
    order_index_.erase(index_slot);
    undo();
    retire(record_index);
  };

  // A kill switch set since step 3 wins. With the fence in set_trading_state
  // (store, fence, load on both sides), either this load sees the new state
  // or the operator's cancel_working walk finds this order published and
  // open: an order accepted before set_trading_state returns is never left
  // working.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (const guards::TradingState latest = kill_switch_.effective(order.account_id, order.principal_id);
      latest > state) {
    withdraw();
    // REDUCING admits only orders that shrink the position, which this one
    // was not checked for.
    return reject(handle, &order,
                  state_refusal(order.account_id, latest,
                                latest == guards::TradingState::halted ? guards::check_trading_state(latest)
                                                                       : Reason::REDUCE_ONLY));
  }

  // The order's record has its place in the trail before the order can
  // reach a broker: no room (a full journal ring) refuses the order. The
  // place then holds either its order_accepted or its refusal.
  const AuditReservation reservation = auditing_ ? audit_.reserve() : AuditReservation{true, 0};
  if (!reservation) {
    withdraw();
    return reject(handle, &order, Reason::AUDIT_UNAVAILABLE);
  }
  // Published before the broker can finish the order, so that reclaim's
  // `finish` finds the entry naming it.
  order_index_.publish(index_slot, order_id);
  // The order is in its record: the broker thread is sent its id.
  SessionRing& ring = *handle.rings[broker_index];
  BrokerCommand& command = ring.start();
  command.kind = CommandKind::submit;
  command.order_id = order_id;
  ring.publish();

  slot.accepted.store(slot.accepted.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  const std::uint64_t sequence = audit(AuditEventType::order_accepted, order, Reason::OK, &reservation);
  return Verdict{Reason::OK, 0, order_id, sequence};
}

namespace {
constexpr std::uint64_t kDailyCountMask = (std::uint64_t{1} << 48) - 1;
}  // namespace

bool Engine::take_daily(std::atomic<std::uint64_t>& count, std::uint32_t limit) noexcept {
  const std::uint64_t day = today_.load(std::memory_order_relaxed) & 0xFFFF;
  std::uint64_t word = count.load(std::memory_order_relaxed);
  for (;;) {
    const std::uint64_t used = (word >> 48) == day ? (word & kDailyCountMask) : 0;
    if (used >= limit) return false;
    if (count.compare_exchange_weak(word, (day << 48) | (used + 1), std::memory_order_relaxed)) return true;
  }
}

void Engine::give_back_daily(std::atomic<std::uint64_t>& count) noexcept {
  std::uint64_t word = count.load(std::memory_order_relaxed);
  // Only today's count, and never below zero: a day that rolled meanwhile
  // starts from zero anyway.
  while ((word >> 48) == (today_.load(std::memory_order_relaxed) & 0xFFFF) && (word & kDailyCountMask) > 0) {
    if (count.compare_exchange_weak(word, word - 1, std::memory_order_relaxed)) return;
  }
}

OrderId Engine::next_order_id(std::uint32_t index) noexcept {
  OrderRecord& record = records_[index];
  OrderId order_id = (record.generation << record_bits_) | index;
  if (order_id >= guards::ClientOrderIdIndex::kFirstReservedOrderId) {
    record.generation = 0;  // those ids name states, never orders: wrap early
    order_id = index;
  }
  record.generation = ((order_id >> record_bits_) + 1) & (0xFFFFFFFFu >> record_bits_);
  return order_id;
}

bool Engine::take_record(std::uint32_t& index) noexcept {
  if (fresh_records_.load(std::memory_order_relaxed) < config_.order_capacity) {
    const std::uint32_t fresh = fresh_records_.fetch_add(1, std::memory_order_relaxed);
    if (fresh < config_.order_capacity) {
      index = fresh;
      return true;
    }
    fresh_records_.store(config_.order_capacity, std::memory_order_relaxed);  // keep it from creeping up
  }
  // The stack's acquire pairs with reclaim's release: the record's last use
  // is complete and visible.
  return free_records_.pop(index);
}

void Engine::retire(std::uint32_t index) noexcept {
  OrderRecord& record = records_[index];
  std::uint32_t head = retired_head_.load(std::memory_order_relaxed);
  do {
    record.next_retired = head;
  } while (!retired_head_.compare_exchange_weak(head, index, std::memory_order_release, std::memory_order_relaxed));
  retired_count_.fetch_add(1, std::memory_order_relaxed);
}

Verdict Engine::cancel(SessionHandle& handle, std::string_view client_order_id) noexcept {
  std::uint32_t account = metric_cells_.no_account();
  const Verdict verdict = run_cancel(handle, client_order_id, account);
  if (metric_cells_.enabled() && handle.slot != nullptr) {
    metric_cells_.count_cancel(handle.slot_index, account, verdict.reason);
  }
  return verdict;
}

Verdict Engine::run_cancel(SessionHandle& handle, std::string_view client_order_id, std::uint32_t& account) noexcept {
  const std::int64_t now_ns = clock_.monotonic_ns();
  auto cancel_rejected = [&](Reason reason, std::int64_t retry_after_ns = 0,
                             const AuditReservation* reservation = nullptr) {
    AuditEvent event;
    event.type = AuditEventType::cancel_rejected;
    event.reason = reason;
    event.session_id = handle.id;
    if (handle.slot != nullptr) event.principal_id = handle.slot->principal;
    if (guards::validate_client_order_id(client_order_id) == Reason::OK) {
      event.client_order_id.assign(client_order_id);
    }
    event.time_ns = clock_.wall_ns();
    const std::uint64_t sequence =
        reservation != nullptr && reservation->reserved ? audit_.commit(*reservation, event) : audit_.record(event);
    return Verdict{reason, retry_after_ns, 0, sequence};
  };
  if (Reason reason = authorize(handle, now_ns); reason != Reason::OK) return cancel_rejected(reason);
  PrincipalState& principal = *current().principals[handle.slot->principal];
  if (Reason reason = guards::check_cancel_permissions(principal.policy); reason != Reason::OK) {
    return cancel_rejected(reason);
  }
  if (Reason reason = guards::validate_client_order_id(client_order_id); reason != Reason::OK) {
    return cancel_rejected(reason);
  }
  const std::uint64_t key = guards::ClientOrderIdIndex::key(handle.slot->principal, client_order_id);
  OrderId order_id = 0;
  if (!order_index_.find(key, order_id)) return cancel_rejected(Reason::UNKNOWN_ORDER);
  const std::uint32_t record_index = record_of(order_id);
  if (record_index >= config_.order_capacity) return cancel_rejected(Reason::UNKNOWN_ORDER);
  // Announce the record before checking whose it is: reclaim then either
  // sees the hazard and keeps the record, or has already changed `ident`.
  struct HazardGuard {
    std::atomic<std::uint32_t>& hazard;
    ~HazardGuard() { hazard.store(kNoOrder, std::memory_order_release); }
  } guard{handle.slot->hazard};
  guard.hazard.store(record_index, std::memory_order_seq_cst);
  OrderRecord& record = records_[record_index];
  if (record.ident.load(std::memory_order_seq_cst) != order_id || !record.open.load(std::memory_order_acquire) ||
      record.order.principal_id != handle.slot->principal ||
      record.order.client_order_id.view() != client_order_id) {
    return cancel_rejected(Reason::UNKNOWN_ORDER);
  }
  account = record.order.account_id;
  if (!accepting_.load(std::memory_order_acquire)) return cancel_rejected(Reason::BROKER_UNAVAILABLE);

  guards::RateCheck rates;
  if (!principal.cancel_limits.collect(0, rates)) return cancel_rejected(Reason::RATE_LIMITED);
  std::int64_t retry_after_ns = 0;
  if (Reason reason = rates.consume(now_ns, retry_after_ns); reason != Reason::OK) {
    return cancel_rejected(reason, retry_after_ns);
  }
  std::atomic<std::uint64_t>& cancels_today = controls_[handle.slot->principal].cancels_today;
  const bool daily = principal.max_cancels_per_day != 0;
  if (daily && !take_daily(cancels_today, principal.max_cancels_per_day)) {
    rates.refund();
    return cancel_rejected(Reason::DAILY_CANCEL_LIMIT);
  }
  // An amend on its way holds the order until the broker answers it (see
  // run_replace): its flag and ours are set, fenced and read crosswise, so
  // an amend and a cancel never both pass. The broker thread clears ours
  // once the cancel is sent.
  record.cancel_requested.store(true, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (record.replacing.load(std::memory_order_seq_cst)) {
    record.cancel_requested.store(false, std::memory_order_release);
    rates.refund();
    if (daily) give_back_daily(cancels_today);
    return cancel_rejected(Reason::ORDER_PENDING);
  }
  // The cancel's record takes its place in the trail before the broker can
  // see the cancel, so the trail never shows the order CANCELED before the
  // cancel was accepted. A cancel only lowers risk: when the ring has no
  // room it goes anyway, and its record is offered (and, if refused,
  // counted as dropped) after.
  const AuditReservation reservation = auditing_ ? audit_.reserve() : AuditReservation{};
  const std::uint16_t broker_index = broker_of_account_[record.order.account_id];
  // A cancel goes behind the session's earlier commands in its ring, past
  // its queue budget if need be (it only lowers risk, and its rate is
  // bounded); a ring full even so sends it by the broker's shared queue,
  // where the broker thread may take it before the order it cancels (see
  // dispatch: the cancel then waits for it).
  SessionRing& ring = *handle.rings[broker_index];
  BrokerCommand& command = ring.start();
  command.kind = CommandKind::cancel;
  command.order_id = order_id;
  if (ring.fewer_waiting_than(ring.capacity())) {
    ring.publish();
  } else if (!brokers_[broker_index]->queue->try_enqueue(handle.tokens[broker_index], command)) {
    record.cancel_requested.store(false, std::memory_order_release);
    rates.refund();
    if (daily) give_back_daily(cancels_today);
    return cancel_rejected(Reason::BROKER_UNAVAILABLE, 0, &reservation);
  }
  const std::uint64_t sequence = audit(AuditEventType::cancel_accepted, record.order, Reason::OK,
                                       reservation ? &reservation : nullptr);
  return Verdict{Reason::OK, 0, order_id, sequence};
}

}  // namespace detail

}  // namespace ordergate
