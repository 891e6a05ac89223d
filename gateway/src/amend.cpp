// Amends (cancel/replace). The caller's half runs the guards on the
// caller's thread (no allocation, lock, exception or system call there);
// the broker's half follows the replace to its answer.
//
// An amend is a new order record, the replacement: the working order's
// record is never written by another thread, so every reader of a record
// keeps the guarantees of guard_pipeline.cpp. Until the broker confirms it,
// the replacement is published (a cancel-all or a halt reaches it) but not
// listed, and its `replaces` names the working order. Exposure: an amend
// that raises the quantity reserves the difference at once (worst case),
// one that lowers it gives the difference back at REPLACED. At REPLACED the
// working order's record retires without a report of its own; at
// REPLACE_REJECTED the replacement does, and the working order goes on.

#include "engine.hpp"

#include <atomic>

#include "ordergate/guards/validate.hpp"

namespace ordergate {
namespace detail {

Verdict Engine::replace(SessionHandle& handle, const ReplaceRequest& request) noexcept {
  // Both ids' entries first, as in submit: the working order's is read at
  // once, the new id's only after the amend's guards.
  ask_for_index_entry(handle, request.client_order_id);
  ask_for_index_entry(handle, request.new_client_order_id);
  const std::int64_t now_ns = clock_.monotonic_ns();
  std::uint32_t account = metric_cells_.no_account();
  const Verdict verdict = run_replace(handle, request, now_ns, account);
  if (metric_cells_.enabled() && handle.slot != nullptr) {
    metric_cells_.count_replace(handle.slot_index, account, verdict.reason);
  }
  return verdict;
}

Verdict Engine::run_replace(SessionHandle& handle, const ReplaceRequest& request, std::int64_t now_ns,
                            std::uint32_t& account) noexcept {
  // Only what passed validation is recorded: the amended order once it is
  // built, else the working order's id when it is well formed.
  auto refuse = [&](Reason reason, const Order* amended = nullptr, std::int64_t retry_after_ns = 0,
                    const AuditReservation* reservation = nullptr) {
    if (handle.slot != nullptr) {
      auto& rejected = handle.slot->rejected;
      rejected.store(rejected.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    if (!auditing_) return Verdict{reason, retry_after_ns, 0, 0};
    AuditEvent event;
    event.type = AuditEventType::replace_rejected;
    event.reason = reason;
    event.session_id = handle.id;
    event.time_ns = clock_.wall_ns();
    if (handle.slot != nullptr) event.principal_id = handle.slot->principal;
    if (amended != nullptr) {
      event.account_id = amended->account_id;
      event.instrument_id = amended->instrument_id;
      event.side = amended->side;
      event.quantity = amended->quantity;
      event.price = amended->price;
      event.client_order_id = amended->client_order_id;
    } else if (guards::validate_client_order_id(request.client_order_id) == Reason::OK) {
      event.client_order_id.assign(request.client_order_id);
    }
    const std::uint64_t sequence =
        reservation != nullptr ? audit_.commit(*reservation, event) : audit_.record(event);
    return Verdict{reason, retry_after_ns, 0, sequence};
  };

  if (Reason reason = authorize(handle, now_ns); reason != Reason::OK) return refuse(reason);
  if (!audit_.healthy()) return refuse(Reason::AUDIT_UNAVAILABLE);
  SessionSlot& slot = *handle.slot;
  Snapshot& snapshot = current();
  PrincipalState& principal = *snapshot.principals[slot.principal];
  const InstrumentTable& instruments = snapshot.instruments;
  if (Reason reason = guards::validate_client_order_id(request.client_order_id); reason != Reason::OK) {
    return refuse(reason);
  }
  if (Reason reason = guards::validate_client_order_id(request.new_client_order_id); reason != Reason::OK) {
    return refuse(reason);
  }
  if (!request.quantity && !request.price && !request.stop_price) return refuse(Reason::INVALID_REPLACE);

  // The working order: found like a cancel's, under the session's hazard,
  // which keeps its record from reuse while this amend reads and claims it.
  const std::uint64_t key = guards::ClientOrderIdIndex::key(slot.principal, request.client_order_id);
  OrderId order_id = 0;
  if (!order_index_.find(key, order_id)) return refuse(Reason::UNKNOWN_ORDER);
  const std::uint32_t record_index = record_of(order_id);
  if (record_index >= config_.order_capacity) return refuse(Reason::UNKNOWN_ORDER);
  struct HazardGuard {
    std::atomic<std::uint32_t>& hazard;
    ~HazardGuard() { hazard.store(kNoOrder, std::memory_order_release); }
  } guard{slot.hazard};
  guard.hazard.store(record_index, std::memory_order_seq_cst);
  OrderRecord& record = records_[record_index];
  if (record.ident.load(std::memory_order_seq_cst) != order_id || !record.open.load(std::memory_order_acquire) ||
      record.order.principal_id != slot.principal ||
      record.order.client_order_id.view() != request.client_order_id) {
    return refuse(Reason::UNKNOWN_ORDER);
  }
  const Order original = record.order;
  account = original.account_id;
  // A replacement the broker has not confirmed, or an order with a cancel
  // or an amend on its way, waits for that answer first.
  if (record.replaces.load(std::memory_order_acquire) != kNoOrder ||
      record.replacing.load(std::memory_order_acquire) || record.cancel_requested.load(std::memory_order_acquire) ||
      record.bulk_cancel_sent.load(std::memory_order_acquire)) {
    return refuse(Reason::ORDER_PENDING);
  }

  // 2. permissions, as for a new order of the same account, symbol and type
  if (Reason reason = guards::check_submit_permissions(principal.policy, original); reason != Reason::OK) {
    return refuse(reason);
  }
  if (!accepting_.load(std::memory_order_acquire)) return refuse(Reason::BROKER_UNAVAILABLE);
  if (account_closed_[original.account_id].load(std::memory_order_acquire) != 0) {
    return refuse(Reason::ACCOUNT_NOT_READY);
  }
  const std::uint16_t broker_index = broker_of_account_[original.account_id];
  Broker& broker = *brokers_[broker_index];
  if (!broker.replace_supported) return refuse(Reason::REPLACE_NOT_SUPPORTED);
  if (original.type == OrderType::market) return refuse(Reason::INVALID_REPLACE);

  // 1. the amended order, validated like a new one (grid, precision, type)
  OrderRequest amended_request;
  amended_request.account = accounts_[original.account_id].name.view();
  amended_request.symbol = instruments[original.instrument_id].name.view();
  amended_request.side = original.side;
  amended_request.type = original.type;
  amended_request.time_in_force = original.time_in_force;
  amended_request.quantity = request.quantity.value_or(original.quantity);
  if (request.price) {
    amended_request.price = *request.price;
  } else if (!original.price.is_zero()) {
    amended_request.price = original.price;
  }
  if (request.stop_price) {
    amended_request.stop_price = *request.stop_price;
  } else if (!original.stop_price.is_zero()) {
    amended_request.stop_price = original.stop_price;
  }
  if (!original.stop_loss.is_zero()) amended_request.stop_loss = original.stop_loss;
  if (!original.take_profit.is_zero()) amended_request.take_profit = original.take_profit;
  amended_request.expire_time_ns = original.expire_time_ns;
  amended_request.client_order_id = request.new_client_order_id;
  amended_request.text = original.text.view();
  Order amended;
  amended.principal_id = slot.principal;
  amended.session_id = handle.id;
  const std::int64_t wall_ns = original.time_in_force == TimeInForce::gtd ? clock_.wall_ns() : 0;
  if (Reason reason = guards::validate_order(amended_request, accounts_, instruments, wall_ns, amended);
      reason != Reason::OK) {
    return refuse(reason);
  }
  // The quantity is the new total: it must stay above what already filled.
  const Decimal leaves = Decimal::from_raw(record.leaves_raw.load(std::memory_order_relaxed));
  Decimal filled;
  Decimal increase;
  Decimal decrease;
  if (!Decimal::sub(original.quantity, leaves, filled) || amended.quantity <= filled) {
    return refuse(Reason::INVALID_REPLACE, &amended);
  }
  if (amended.quantity > original.quantity) {
    (void)Decimal::sub(amended.quantity, original.quantity, increase);
  } else {
    (void)Decimal::sub(original.quantity, amended.quantity, decrease);
  }

  // 3. trading state: HALTED refuses every amend; REDUCING one that raises
  //    the quantity or leaves the order able to take the position past zero.
  const guards::TradingState state = kill_switch_.effective(original.account_id, original.principal_id);
  if (state == guards::TradingState::halted) {
    return refuse(state_refusal(original.account_id, state, Reason::TRADING_HALTED), &amended);
  }
  if (state == guards::TradingState::reducing &&
      (increase.is_positive() ||
       exposure_.check_reduces(original.account_id, original.instrument_id, original.side, decrease) !=
           Reason::OK)) {
    return refuse(state_refusal(original.account_id, state, Reason::REDUCE_ONLY), &amended);
  }

  // 4. risk: the per-order limits on the amended order, the new id, and
  //    the exposure of the difference only (open orders unchanged)
  const Instrument& instrument = instruments[original.instrument_id];
  const Quote quote = broker.quotes->read(original.instrument_id);
  if (Reason reason = guards::check_order_risk(amended, instrument, quote, now_ns); reason != Reason::OK) {
    return refuse(reason, &amended);
  }
  const std::uint64_t new_key = guards::ClientOrderIdIndex::key(slot.principal, amended.client_order_id.view());
  if (order_index_.contains(new_key, now_ns)) return refuse(Reason::DUPLICATE_CLIENT_ORDER_ID, &amended);
  // As for a new order: the session's room before anything is taken.
  if (!handle.rings[broker_index]->fewer_waiting_than(session_queue_budget_)) {
    return refuse(Reason::SESSION_QUEUE_FULL, &amended);
  }
  amended.reduce_only = original.reduce_only || state == guards::TradingState::reducing;
  if (increase.is_positive()) {
    Order more = amended;
    more.quantity = increase;
    if (Reason reason = reserve_exposure(more, instrument, *broker.quotes, now_ns, true); reason != Reason::OK) {
      return refuse(reason == Reason::REDUCE_ONLY ? state_refusal(original.account_id, state, reason) : reason,
                    &amended);
    }
  }
  auto unreserve = [&] {
    exposure_.release_quantity(original.account_id, original.instrument_id, original.side, increase);
  };

  // 5. the amend budget, consumed only by amends that passed the above
  guards::RateCheck rates;
  if (!principal.modify_limits.collect(0, rates)) {
    unreserve();
    return refuse(Reason::RATE_LIMITED, &amended);
  }
  std::int64_t retry_after_ns = 0;
  if (Reason reason = rates.consume(now_ns, retry_after_ns); reason != Reason::OK) {
    unreserve();
    return refuse(reason, &amended, retry_after_ns);
  }
  // Claim the working order. A cancel accepted at the same time sets its
  // flag, fences and reads ours: at least one of the two sees the other and
  // refuses, so an accepted cancel is never overtaken by an amend.
  bool unclaimed = false;
  if (!record.replacing.compare_exchange_strong(unclaimed, true, std::memory_order_seq_cst)) {
    rates.refund();
    unreserve();
    return refuse(Reason::ORDER_PENDING, &amended);
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
  auto undo = [&] {
    rates.refund();
    unreserve();
    record.replacing.store(false, std::memory_order_release);
  };
  if (record.cancel_requested.load(std::memory_order_seq_cst) ||
      record.bulk_cancel_sent.load(std::memory_order_seq_cst)) {
    undo();
    return refuse(Reason::ORDER_PENDING, &amended);
  }
  if (record.ident.load(std::memory_order_seq_cst) != order_id || !record.open.load(std::memory_order_seq_cst)) {
    undo();
    return refuse(Reason::UNKNOWN_ORDER, &amended);
  }
  std::size_t index_slot = 0;
  switch (order_index_.insert(new_key, now_ns, index_slot)) {
    case guards::ClientOrderIdIndex::Insert::inserted:
      break;
    case guards::ClientOrderIdIndex::Insert::duplicate:
      undo();
      return refuse(Reason::DUPLICATE_CLIENT_ORDER_ID, &amended);
    case guards::ClientOrderIdIndex::Insert::full:
      undo();
      return refuse(Reason::ORDER_CAPACITY_EXHAUSTED, &amended);
  }
  std::uint32_t fresh_index = 0;
  if (!take_record(fresh_index)) {
    order_index_.erase(index_slot);
    undo();
    return refuse(Reason::ORDER_CAPACITY_EXHAUSTED, &amended);
  }
  const OrderId fresh_id = next_order_id(fresh_index);
  amended.order_id = fresh_id;
  amended.accepted_ns = now_ns;
  // `leaves` holds what the amend reserved; the broker thread's once queued.
  publish_record(fresh_index, amended,
                 {.session_slot = handle.slot_index,
                  .index_slot = static_cast<std::uint32_t>(index_slot),
                  .leaves = increase,
                  .replaces = order_id});
  OrderRecord& fresh = records_[fresh_index];
  auto withdraw = [&] {
    fresh.open.store(false, std::memory_order_release);
    fresh.ident.store(fresh_id | kFinishedBit, std::memory_order_release);
    order_index_.erase(index_slot);
    undo();
    retire(fresh_index);
  };

  // A kill switch set since step 3 wins, as for a new order (see run_submit):
  // either this load sees it, or a halt's cancel walk finds the replacement.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (const guards::TradingState latest = kill_switch_.effective(original.account_id, original.principal_id);
      latest > state) {
    withdraw();
    return refuse(state_refusal(original.account_id, latest,
                                latest == guards::TradingState::halted ? Reason::TRADING_HALTED
                                                                       : Reason::REDUCE_ONLY),
                  &amended);
  }
  SessionRing& ring = *handle.rings[broker_index];
  const AuditReservation reservation = auditing_ ? audit_.reserve() : AuditReservation{true, 0};
  if (!reservation) {
    withdraw();
    return refuse(Reason::AUDIT_UNAVAILABLE, &amended);
  }
  order_index_.publish(index_slot, fresh_id);
  BrokerCommand& command = ring.start();
  command.kind = CommandKind::replace;
  command.order_id = fresh_id;
  command.original_client_order_id = original.client_order_id;
  ring.publish();
  slot.accepted.store(slot.accepted.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  std::uint64_t sequence = 0;
  if (auditing_) {
    AuditEvent event;
    event.type = AuditEventType::replace_accepted;
    event.principal_id = amended.principal_id;
    event.session_id = amended.session_id;
    event.account_id = amended.account_id;
    event.instrument_id = amended.instrument_id;
    event.side = amended.side;
    event.order_id = fresh_id;
    event.quantity = amended.quantity;
    event.price = amended.price.is_zero() ? amended.stop_price : amended.price;
    event.client_order_id = amended.client_order_id;
    // A validated client order id: [A-Za-z0-9._:-], never a secret.
    event.detail.assign("replaces=");
    event.detail.append(original.client_order_id.view());
    event.time_ns = clock_.wall_ns();
    sequence = audit_.commit(reservation, event);
  }
  return Verdict{Reason::OK, 0, fresh_id, sequence};
}

// ---- broker thread ----

void Engine::dispatch_replace(Broker& broker, const BrokerCommand& command) noexcept {
  const std::uint32_t fresh_index = record_of(command.order_id);
  OrderRecord& fresh = records_[fresh_index];
  if (fresh.ident.load(std::memory_order_acquire) != command.order_id) return;
  // A copy: an adapter that answers within replace() may finish the
  // replacement, and its record may then serve another before the audit.
  const Order amended = fresh.order;
  const OrderId original_id = fresh.replaces.load(std::memory_order_relaxed);
  const OrderRecord& original = records_[record_of(original_id)];
  ExecutionReport answer;
  answer.order_id = command.order_id;
  answer.other_client_order_id = command.original_client_order_id;
  // Commands of different sessions may arrive in either order: an order
  // not sent yet, or with a cancel ahead of this amend, is not amended.
  if (original.ident.load(std::memory_order_acquire) != original_id) {
    refuse_replace(fresh_index, answer, "ORDER_NOT_WORKING");
    return;
  }
  if (!original.dispatched || original.cancel_pending) {
    refuse_replace(fresh_index, answer, "ORDER_NOT_SENT");
    return;
  }
  ExecutionReport pending;
  pending.order_id = command.order_id;
  pending.status = ExecStatus::pending_replace;
  pending.session_id = amended.session_id;
  pending.account_id = amended.account_id;
  pending.instrument_id = amended.instrument_id;
  pending.side = amended.side;
  pending.client_order_id = amended.client_order_id;
  pending.other_client_order_id = command.original_client_order_id;
  pending.leaves_quantity = original.leaves;
  Decimal filled;
  (void)Decimal::sub(original.order.quantity, original.leaves, filled);
  pending.cumulative_quantity = filled;
  pending.transact_time_ns = clock_.wall_ns();
  deliver(amended, fresh.session_slot, pending);
  ReplaceOrder replace;
  replace.order = amended;
  replace.original_order_id = original_id;
  replace.original_client_order_id = command.original_client_order_id;
  replace.original_quantity = original.order.quantity;
  broker.port->replace(replace);
  audit(AuditEventType::sent_to_broker, amended, Reason::OK);
}

void Engine::confirm_replace(std::uint32_t index, const ExecutionReport& incoming) noexcept {
  OrderRecord& fresh = records_[index];
  const Order& order = fresh.order;
  const OrderId original_id = fresh.replaces.load(std::memory_order_relaxed);
  const std::uint32_t original_index = record_of(original_id);
  OrderRecord& original = records_[original_index];
  const bool original_working = original.ident.load(std::memory_order_acquire) == original_id;
  // What the original filled stays filled: the replacement works the rest
  // of its new total.
  Decimal filled;
  ClientOrderId previous_id = incoming.other_client_order_id;
  bool cancel_follows = fresh.cancel_pending;
  if (original_working) {
    (void)Decimal::sub(original.order.quantity, original.leaves, filled);
    previous_id = original.order.client_order_id;
    cancel_follows = cancel_follows || original.bulk_cancel_sent.load(std::memory_order_relaxed);
  } else {
    // The original already reported its end (the venue's answers crossed):
    // the venue's figure of what filled stands.
    filled = incoming.cumulative_quantity;
  }
  Decimal leaves;
  if (!Decimal::sub(order.quantity, filled, leaves) || leaves.is_negative()) leaves = Decimal{};
  if (original_working) {
    // Held now: the original's leaves and what the amend reserved. What
    // the new leaves do not need goes back (the amount the quantity
    // shrank by); the original's open-order slot passes to the replacement.
    Decimal held;
    Decimal excess;
    if (Decimal::add(original.leaves, fresh.leaves, held) && Decimal::sub(held, leaves, excess) &&
        excess.is_positive()) {
      exposure_.release_quantity(order.account_id, order.instrument_id, order.side, excess);
    }
    // The original retires without a report of its own: REPLACED tells its
    // session.
    original.leaves = Decimal{};
    original.leaves_raw.store(0, std::memory_order_relaxed);
    original.open.store(false, std::memory_order_release);
    original.ident.store(original_id | kFinishedBit, std::memory_order_release);
    retire(original_index);
  } else {
    // The original's end gave back its slot and leaves: the replacement is
    // booked like an order the broker already holds.
    exposure_.release_quantity(order.account_id, order.instrument_id, order.side, fresh.leaves);
    if (leaves.is_positive()) exposure_.add_held_order(order.account_id, order.instrument_id, order.side, leaves);
  }
  fresh.leaves = leaves;
  fresh.leaves_raw.store(leaves.raw(), std::memory_order_relaxed);
  fresh.dispatched = true;
  fresh.replaces.store(kNoOrder, std::memory_order_release);

  ExecutionReport report = incoming;
  report.status = ExecStatus::replaced;
  report.session_id = order.session_id;
  report.account_id = order.account_id;
  report.instrument_id = order.instrument_id;
  report.side = order.side;
  report.client_order_id = order.client_order_id;
  report.other_client_order_id = previous_id;
  report.last_quantity = Decimal{};
  report.last_price = Decimal{};
  report.cumulative_quantity = filled;
  report.leaves_quantity = leaves;
  deliver(order, fresh.session_slot, report);

  // A cancel that reached the replacement before the broker confirmed it
  // (a cancel-all, a halt with cancel_orders) applies now.
  if (cancel_follows) {
    fresh.cancel_pending = false;
    CancelOrder cancel;
    Broker& broker = *brokers_[broker_of_account_[order.account_id]];
    cancel.order_id = order.order_id;
    cancel.session_id = order.session_id;
    cancel.account_id = order.account_id;
    cancel.instrument_id = order.instrument_id;
    cancel.client_order_id = order.client_order_id;
    broker.port->cancel(cancel);
  }
  if (!leaves.is_positive()) {
    // Replaced down to what had filled: nothing is left to work.
    ExecutionReport done = report;
    done.status = ExecStatus::filled;
    on_execution(done);
  }
}

void Engine::refuse_replace(std::uint32_t index, const ExecutionReport& incoming, std::string_view why) noexcept {
  OrderRecord& fresh = records_[index];
  const Order& order = fresh.order;
  const OrderId fresh_id = order.order_id;
  const OrderId original_id = fresh.replaces.load(std::memory_order_relaxed);
  OrderRecord& original = records_[record_of(original_id)];
  exposure_.release_quantity(order.account_id, order.instrument_id, order.side, fresh.leaves);
  fresh.leaves = Decimal{};
  const bool original_working = original.ident.load(std::memory_order_acquire) == original_id;
  ExecutionReport report = incoming;
  report.status = ExecStatus::replace_rejected;
  report.order_id = original_id;
  report.session_id = order.session_id;
  report.account_id = order.account_id;
  report.instrument_id = order.instrument_id;
  report.side = order.side;
  report.client_order_id = original_working ? original.order.client_order_id : incoming.other_client_order_id;
  report.other_client_order_id = order.client_order_id;
  report.last_quantity = Decimal{};
  report.last_price = Decimal{};
  if (report.reason == Reason::OK) report.reason = Reason::BROKER_REJECTED;
  if (!why.empty()) report.broker_reason.assign(why);
  if (original_working) {
    report.leaves_quantity = original.leaves;
    Decimal filled;
    (void)Decimal::sub(original.order.quantity, original.leaves, filled);
    report.cumulative_quantity = filled;
    original.replacing.store(false, std::memory_order_release);
  }
  fresh.open.store(false, std::memory_order_release);
  fresh.ident.store(fresh_id | kFinishedBit, std::memory_order_release);
  Order reported = order;
  reported.order_id = original_id;
  reported.client_order_id = report.client_order_id;
  deliver(reported, fresh.session_slot, report);
  retire(index);
}

}  // namespace detail
}  // namespace ordergate
