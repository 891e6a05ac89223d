// The broker side: one I/O thread per broker draining its command queue,
// and the execution reports coming back from the adapters.

#include "engine.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <cstdio>
#include <iterator>
#include <string>
#include <thread>

#include "ordergate/adapters/rest/venue_client_id.hpp"
#include "ordergate/core/thread_name.hpp"
#include "ordergate/guards/validate.hpp"

namespace ordergate {
namespace detail {
namespace {

// Answers a reconciliation after an outage asks for at most: the last one
// books whatever difference it finds.
constexpr std::uint32_t kResyncRounds = 5;


void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spin, then yield, then sleep with a growing interval (capped at 1 ms).
void idle_wait(IdleStrategy strategy, std::uint32_t idle_rounds) noexcept {
  if (strategy == IdleStrategy::busy_spin || idle_rounds < 2'000) {
    cpu_relax();
  } else if (idle_rounds < 2'100) {
    std::this_thread::yield();
  } else {
    const std::uint32_t step = std::min<std::uint32_t>(idle_rounds - 2'100, 20);
    std::this_thread::sleep_for(std::chrono::microseconds(50u * (step + 1)));
  }
}

}  // namespace

void Engine::start() {
  if (started_) return;
  started_ = true;
  for (auto& broker : brokers_) {
    broker->running.store(true, std::memory_order_release);
    Broker* raw = broker.get();
    if (!config_.broker_threads) {
      try {
        start_broker(*raw);
      } catch (...) {
        broker->running.store(false, std::memory_order_release);
        stop();
        throw;
      }
      take_polling();
      raw->started = true;
      polling_.store(false, std::memory_order_release);
      continue;
    }
    std::promise<void> started;
    std::future<void> ready = started.get_future();
    broker->thread = std::thread([this, raw, &started] { run_broker(*raw, started); });
    try {
      ready.get();
    } catch (...) {
      broker->running.store(false, std::memory_order_release);
      broker->thread.join();
      stop();
      throw;
    }
  }
  // Before the first order: a crash from here on finds an unclean checkpoint.
  if (!daily_path_.empty()) checkpoint_daily_counts(false, true);
  accepting_.store(true, std::memory_order_release);
  if (!daily_path_.empty()) {
    checkpoint_stop_ = false;
    checkpoint_thread_ = std::thread([this] { run_checkpoints(); });
  }
}

void Engine::stop() noexcept {
  accepting_.store(false, std::memory_order_release);
  for (auto& broker : brokers_) {
    broker->running.store(false, std::memory_order_release);
    if (broker->thread.joinable()) broker->thread.join();
    if (broker->started) {
      // Driven by the caller: the commands already queued still go, as a
      // broker thread sends them before it ends.
      take_polling();
      BrokerCommand batch[kDequeueBatch];
      while (broker_round(*broker, batch) != Round::drained) {
      }
      broker->port->stop();
      broker->started = false;
      polling_.store(false, std::memory_order_release);
    }
  }
  if (checkpoint_thread_.joinable()) {
    {
      std::lock_guard lock(checkpoint_mutex_);
      checkpoint_stop_ = true;
    }
    checkpoint_wake_.notify_all();
    checkpoint_thread_.join();
    // The broker threads have stopped: their last figures are read here.
    for (auto& broker : brokers_) export_daily_loss(*broker);
    checkpoint_daily_counts(true);
  }
}

bool Engine::poll_brokers() noexcept {
  // A second thread polling at the same time does nothing: an adapter has
  // one thread at a time, as with a broker thread of its own.
  if (polling_.exchange(true, std::memory_order_acquire)) return false;
  bool worked = false;
  BrokerCommand batch[kDequeueBatch];
  for (auto& broker : brokers_) {
    if (broker->started && broker_round(*broker, batch) == Round::worked) worked = true;
  }
  polling_.store(false, std::memory_order_release);
  return worked;
}

void Engine::take_polling() noexcept {
  while (polling_.exchange(true, std::memory_order_acquire)) std::this_thread::yield();
}

void Engine::start_broker(Broker& broker) {
  broker.port->start(*broker.sink, *broker.quotes, clock_);
  // Before start() returns: an adapter that answers at once leaves its
  // accounts ready by then.
  begin_reconcile(broker);
}

Engine::Round Engine::broker_round(Broker& broker, BrokerCommand* batch) noexcept {
  const bool running = broker.running.load(std::memory_order_acquire);
  watch_connection(broker);
  if (broker.index == 0) roll_trading_day();
  check_daily_loss(broker);
  if (broker.retry_at_ns != 0 && clock_.monotonic_ns() >= broker.retry_at_ns) {
    broker.retry_at_ns = 0;
    begin_reconcile(broker);
  }
  if (broker.check_interval_ns > 0 && !broker.reconciling && !broker.checking) {
    const std::int64_t now_ns = clock_.monotonic_ns();
    if (broker.next_check_ns == 0) broker.next_check_ns = now_ns + broker.check_interval_ns;
    if (now_ns >= broker.next_check_ns) {
      broker.next_check_ns = now_ns + broker.check_interval_ns;
      broker.checking = true;
      if (!broker.port->request_holdings()) broker.checking = false;
    }
  }
  const std::size_t count = take_commands(broker, batch);
  record_owners(broker, batch, count);
  for (std::size_t i = 0; i < count; ++i) dispatch(broker, batch[i]);
  const bool worked = broker.port->poll() || count > 0;
  try_reclaim(!worked);
  // Stopped, and the queue drained after the stop request.
  if (!running && count == 0) return Round::drained;
  return worked ? Round::worked : Round::idle;
}

void Engine::run_broker(Broker& broker, std::promise<void>& started) noexcept {
  name_this_thread("og-b:", broker.name);
  try {
    start_broker(broker);
  } catch (...) {
    started.set_exception(std::current_exception());
    return;
  }
  started.set_value();

  BrokerCommand batch[kDequeueBatch];
  std::uint32_t idle_rounds = 0;
  for (;;) {
    const Round round = broker_round(broker, batch);
    if (round == Round::drained) break;
    idle_rounds = round == Round::worked ? 0 : idle_rounds + 1;
    if (round == Round::idle) idle_wait(config_.idle_strategy, idle_rounds);
  }
  broker.port->stop();
}

void Engine::emit(std::string_view level, std::string_view event, std::string_view fields) const noexcept {
  try {
    if (config_.on_event) {
      config_.on_event(level, event, fields);
    } else {
      std::string line = "ordergate: ";
      line.append(level).append(": event=").append(event);
      if (!fields.empty()) line.append(" ").append(fields);
      line += '\n';
      std::fwrite(line.data(), 1, line.size(), stderr);
    }
  } catch (...) {
    // A log that fails must not take the broker thread down.
  }
}

void Engine::begin_reconcile(Broker& broker) noexcept {
  broker.reconciling = true;
  if (!broker.port->request_holdings()) {
    broker.reconciling = false;
    broker.resync = false;
    set_accounts_ready(broker.index, "reconciled=no (the adapter cannot say what the broker holds)");
  }
  // Otherwise the answer comes through on_holdings, perhaps already has.
}

void Engine::set_accounts_ready(std::uint16_t broker, std::string_view fields) noexcept {
  for (const Account& account : accounts_.all()) {
    if (broker_of_account_[account.id] != broker) continue;
    // Logged once, when the last reason to keep it closed goes.
    if (account_closed_[account.id].fetch_and(static_cast<std::uint8_t>(~kNotReconciled), std::memory_order_acq_rel) !=
        kNotReconciled) {
      continue;
    }
    try {
      std::string text = "account=";
      text.append(account.name.view());
      if (!fields.empty()) text.append(" ").append(fields);
      emit("info", "account_ready", text);
    } catch (...) {
      // The account is ready; only its log line is lost.
    }
  }
}

void Engine::roll_trading_day() noexcept {
  const std::int64_t now_ns = clock_.monotonic_ns();
  if (now_ns < next_day_check_ns_) return;
  next_day_check_ns_ = now_ns + 1'000'000'000;
  const auto day = static_cast<std::uint64_t>(trading_day_->day_of(clock_.wall_ns()));
  if (day <= today_.load(std::memory_order_relaxed)) return;  // never backwards (a clock step, a repeated hour)
  today_.store(day, std::memory_order_relaxed);
  try {
    emit("info", "trading_day", "day=" + std::to_string(day) + " start=\"" + config_.day_start + "\"");
  } catch (...) {
  }
}

void Engine::watch_connection(Broker& broker) noexcept {
  const bool up = broker.port->connected();
  if (up != broker.connected.load(std::memory_order_relaxed)) broker.connected.store(up, std::memory_order_relaxed);
  if (up && broker.down_since_ns == 0) return;
  // A reconciliation under way keeps the accounts closed until it has an
  // answer, and retries on its own while the venue cannot give one.
  if (broker.reconciling) {
    broker.down_since_ns = 0;
    return;
  }
  const std::int64_t now_ns = clock_.monotonic_ns();
  if (!up) {
    if (broker.down_since_ns == 0) broker.down_since_ns = now_ns;
    if (broker.closed_by_outage || now_ns - broker.down_since_ns < broker.after_disconnect_ns) return;
    // Fills, cancels and other people's trades may be happening unseen:
    // the limits can no longer count what the broker holds.
    broker.closed_by_outage = true;
    for (const Account& account : accounts_.all()) {
      if (broker_of_account_[account.id] != broker.index) continue;
      account_closed_[account.id].fetch_or(kNotReconciled, std::memory_order_acq_rel);
      try {
        std::string fields = "account=";
        fields.append(account.name.view()).append(" broker=").append(broker.name);
        fields.append(" reason=broker_disconnected down_ms=")
            .append(std::to_string((now_ns - broker.down_since_ns) / 1'000'000));
        emit("warning", "account_not_ready", fields);
      } catch (...) {
      }
    }
    return;
  }
  const bool closed = broker.closed_by_outage;
  const std::int64_t down_ms = (now_ns - broker.down_since_ns) / 1'000'000;
  broker.down_since_ns = 0;
  broker.closed_by_outage = false;
  if (!closed) return;  // a short outage: the adapter catches up on its own
  try {
    emit("info", "broker_reconnected", "broker=" + broker.name + " down_ms=" + std::to_string(down_ms));
  } catch (...) {
  }
  broker.resync = true;
  broker.resync_round = 0;
  broker.resync_difference.clear();
  begin_reconcile(broker);
}

void Engine::tracked_at_broker(Broker& broker, std::unordered_set<std::string>& venue_client_ids,
                               std::unordered_set<std::string>& broker_order_ids) {
  // Orders of this broker finish only on this thread, and the lock keeps
  // every other record from being reused while it is read.
  std::lock_guard lock(open_lists_->mutex);
  for (const std::uint32_t index : open_order_ids(std::nullopt)) {
    const Order& order = records_[index].order;
    if (broker_of_account_[order.account_id] != broker.index) continue;
    const auto adopted = broker.adopted_venue_ids.find(order.order_id);
    if (adopted != broker.adopted_venue_ids.end()) {
      venue_client_ids.insert(adopted->second);
    } else if (!broker.client_id_prefix.empty()) {
      venue_client_ids.emplace(adapters::rest::format_venue_client_id(broker.client_id_prefix, order.order_id).view());
    }
  }
  for (auto it = broker.adopted_broker_ids.begin(); it != broker.adopted_broker_ids.end();) {
    if (records_[record_of(it->first)].ident.load(std::memory_order_acquire) != it->first) {
      it = broker.adopted_broker_ids.erase(it);
      continue;
    }
    broker_order_ids.insert(it->second);
    ++it;
  }
}

void Engine::record_owners(Broker& broker, const BrokerCommand* batch, std::size_t count) noexcept {
  if (!broker.order_map->enabled() || broker.client_id_prefix.empty()) return;
  const std::int64_t wall_s = clock_.wall_ns() / 1'000'000'000;
  try {
    broker.map_lines.clear();
    for (std::size_t i = 0; i < count; ++i) {
      const BrokerCommand& command = batch[i];
      if (command.kind != CommandKind::submit && command.kind != CommandKind::replace) continue;
      // Live until this thread finishes it; the check is for a record no
      // command should name.
      const OrderRecord& record = records_[record_of(command.order_id)];
      if (record.ident.load(std::memory_order_acquire) != command.order_id) continue;
      const adapters::rest::VenueClientId venue_id =
          adapters::rest::format_venue_client_id(broker.client_id_prefix, command.order_id);
      (void)OrderMap::format_line(venue_id.view(), principal_name(record.order.principal_id),
                                  record.order.client_order_id.view(), wall_s, broker.map_lines);
    }
    if (!broker.order_map->append(broker.map_lines, wall_s) && !broker.map_failed) {
      broker.map_failed = true;
      emit("error", "order_owners_not_saved",
           "broker=" + broker.name + " (orders keep trading; after a restart they come back without their principal)");
    }
  } catch (...) {
    // Allocation failure: the owners of this batch are not kept (see above).
  }
  // Once an hour: the working orders into the snapshot, hour files past
  // the window deleted.
  if (wall_s / 3600 != broker.compacted_hour) compact_owners(broker, broker.index);
}

void Engine::compact_owners(Broker& broker, std::uint16_t broker_index) noexcept {
  if (!broker.order_map->enabled()) return;
  std::unique_lock lock(open_lists_->mutex, std::try_to_lock);
  if (!lock) return;  // the next batch tries again
  const std::int64_t wall_s = clock_.wall_ns() / 1'000'000'000;
  try {
    std::string lines;
    const std::size_t principals = std::min(current().principals.size(), kMaxPrincipals);
    std::vector<std::uint32_t> ids;
    for (std::size_t id = 0; id < principals; ++id) collect_open_orders(static_cast<PrincipalId>(id), ids);
    for (const std::uint32_t index : ids) {
      const OrderRecord& record = records_[index];
      if (broker_of_account_[record.order.account_id] != broker_index) continue;
      const auto adopted = broker.adopted_venue_ids.find(record.order.order_id);
      const std::string venue_id =
          adopted != broker.adopted_venue_ids.end()
              ? adopted->second
              : std::string(adapters::rest::format_venue_client_id(broker.client_id_prefix, record.order.order_id).view());
      (void)OrderMap::format_line(venue_id, principal_name(record.order.principal_id),
                                  record.order.client_order_id.view(), wall_s, lines);
    }
    // Adopted orders that finished keep no line.
    for (auto it = broker.adopted_venue_ids.begin(); it != broker.adopted_venue_ids.end();) {
      const OrderRecord& record = records_[record_of(it->first)];
      it = record.ident.load(std::memory_order_acquire) == it->first ? std::next(it) : broker.adopted_venue_ids.erase(it);
    }
    for (auto it = broker.adopted_broker_ids.begin(); it != broker.adopted_broker_ids.end();) {
      const OrderRecord& record = records_[record_of(it->first)];
      it = record.ident.load(std::memory_order_acquire) == it->first ? std::next(it) : broker.adopted_broker_ids.erase(it);
    }
    const std::int64_t keep_s = (config_.duplicate_window_ns + 999'999'999) / 1'000'000'000;
    if (broker.order_map->compact(lines, wall_s, keep_s)) {
      broker.compacted_hour = wall_s / 3600;
    } else {
      emit("error", "order_owners_not_compacted", "broker=" + broker.name);
    }
  } catch (...) {
  }
}

std::size_t Engine::take_commands(Broker& broker, BrokerCommand* batch) noexcept {
  // Half a batch at most from the shared queue first, so that a flood there
  // (a cancel-all of many orders) leaves the sessions' rings their turn.
  std::size_t count = broker.queue->try_dequeue_bulk(batch, kDequeueBatch / 2);
  const std::uint32_t slots = broker.ring_slots.load(std::memory_order_acquire);
  // One slot further each round, so no session always goes first.
  std::uint32_t slot = broker.first_ring < slots ? broker.first_ring : 0;
  broker.first_ring = slot + 1;
  for (std::uint32_t visited = 0; visited < slots && count < kDequeueBatch; ++visited) {
    if (SessionRing* ring = broker.rings[slot].load(std::memory_order_acquire); ring != nullptr) {
      count += ring->take(batch + count, kDequeueBatch - count);
    }
    if (++slot == slots) slot = 0;
  }
  if (count < kDequeueBatch) count += broker.queue->try_dequeue_bulk(batch + count, kDequeueBatch - count);
  return count;
}

void Engine::dispatch(Broker& broker, const BrokerCommand& command) noexcept {
  switch (command.kind) {
    case CommandKind::submit: {
      // The order's record: live (only this thread finishes it, and only
      // once it is here); the check is for a record no command should name.
      OrderRecord& record = records_[record_of(command.order_id)];
      if (record.ident.load(std::memory_order_acquire) != command.order_id) break;
      record.dispatched = true;
      if (record.cancel_pending) {
        // Cancelled before it was sent: it never reaches the broker.
        ExecutionReport report;
        report.order_id = command.order_id;
        report.status = ExecStatus::canceled;
        report.transact_time_ns = clock_.wall_ns();
        report.broker_reason.assign("CANCELED_BEFORE_SENT");
        on_execution(report);
        break;
      }
      // A copy: an adapter that answers within submit() may finish the
      // order, and its record may then serve another before the audit.
      const Order order = record.order;
      broker.port->submit(order);
      audit(AuditEventType::sent_to_broker, order, Reason::OK);
      break;
    }
    case CommandKind::cancel: {
      OrderRecord& record = records_[record_of(command.order_id)];
      // A cancel of an order that finished (its record may already serve
      // another order) changes nothing; otherwise the record is the order's
      // until this thread finishes it.
      if (record.ident.load(std::memory_order_acquire) != command.order_id) break;
      if (!record.dispatched) {
        record.cancel_pending = true;
        break;
      }
      CancelOrder cancel;
      cancel.order_id = command.order_id;
      cancel.session_id = record.order.session_id;
      cancel.account_id = record.order.account_id;
      cancel.instrument_id = record.order.instrument_id;
      cancel.client_order_id = record.order.client_order_id;
      broker.port->cancel(cancel);
      // On its way, ahead of any amend dispatched after it: the venue sees
      // the cancel first.
      record.cancel_requested.store(false, std::memory_order_release);
      break;
    }
    case CommandKind::replace:
      dispatch_replace(broker, command);
      break;
  }
}

void Engine::on_execution(const ExecutionReport& incoming) noexcept {
  const std::uint32_t record_index = record_of(incoming.order_id);
  if (record_index >= config_.order_capacity) return;  // not an order of ours
  OrderRecord& record = records_[record_index];
  // Only a working order's own id matches: a report for a finished order,
  // or one naming an id its record no longer holds, is dropped. While it
  // matches the order is this thread's, so nothing below races a reuse.
  if (record.ident.load(std::memory_order_acquire) != incoming.order_id) return;
  const Order& order = record.order;
  // Amends: the gateway itself reports PENDING_REPLACE; the broker answers
  // a replacement it has not confirmed with REPLACED or a refusal.
  if (incoming.status == ExecStatus::pending_replace) return;
  if (record.replaces.load(std::memory_order_relaxed) != kNoOrder) {
    if (incoming.status == ExecStatus::replaced) {
      confirm_replace(record_index, incoming);
    } else if (incoming.status == ExecStatus::replace_rejected || incoming.status == ExecStatus::rejected) {
      refuse_replace(record_index, incoming, {});
    }
    return;
  }
  if (incoming.status == ExecStatus::replaced || incoming.status == ExecStatus::replace_rejected) return;

  ExecutionReport report = incoming;
  // Identity comes from our own record, never from the adapter.
  report.session_id = order.session_id;
  report.account_id = order.account_id;
  report.instrument_id = order.instrument_id;
  report.side = order.side;
  report.client_order_id = order.client_order_id;

  Decimal filled = report.last_quantity;
  if (filled.is_positive()) {
    if (filled > record.leaves) filled = record.leaves;  // never book more than was ordered
    exposure_.apply_fill(order.account_id, order.instrument_id, order.side, filled);
    daily_loss_->on_fill(order.account_id, order.instrument_id, order.side, filled, report.last_price);
    (void)Decimal::sub(record.leaves, filled, record.leaves);
    record.leaves_raw.store(record.leaves.raw(), std::memory_order_relaxed);
  }
  if (is_terminal(report.status)) {
    exposure_.release(order.account_id, order.instrument_id, order.side, record.leaves);
    record.leaves = Decimal{};
    record.leaves_raw.store(0, std::memory_order_relaxed);
    record.open.store(false, std::memory_order_release);
    record.ident.store(incoming.order_id | kFinishedBit, std::memory_order_release);
  }
  deliver(order, record.session_slot, report);
  // Its last report is queued and audited: the record may serve another
  // order once reclaim has unlinked it.
  if (is_terminal(report.status)) retire(record_index);
}

void Engine::deliver(const Order& order, std::uint16_t session_slot, const ExecutionReport& report) noexcept {
  executions_.fetch_add(1, std::memory_order_relaxed);
  metric_cells_.count_execution(order.account_id, report.status);

  AuditEvent event;
  event.type = AuditEventType::execution;
  event.reason = report.reason;
  event.exec_status = report.status;
  event.principal_id = order.principal_id;
  event.session_id = order.session_id;
  event.account_id = order.account_id;
  event.instrument_id = order.instrument_id;
  event.side = order.side;
  event.order_id = order.order_id;
  event.quantity = report.last_quantity;
  event.price = report.last_price;
  event.client_order_id = order.client_order_id;
  event.broker_order_id = report.broker_order_id;
  if (!report.other_client_order_id.empty()) {
    // A validated client order id: [A-Za-z0-9._:-], never a secret.
    event.detail.assign(report.status == ExecStatus::replace_rejected ? "refused=" : "replaces=");
    event.detail.append(report.other_client_order_id.view());
  }
  event.time_ns = clock_.wall_ns();
  audit_.record(event);

  if (session_slot < config_.max_sessions) sessions_[session_slot].events.enqueue(report);
  if (drop_copy_) drop_copy(report, order.principal_id, true);
  if (config_.on_execution_ready) config_.on_execution_ready();
}

void Engine::try_reclaim(bool idle) noexcept {
  const std::uint32_t waiting = retired_count_.load(std::memory_order_relaxed);
  if (waiting == 0 || (!idle && waiting < reclaim_batch_)) return;
  std::unique_lock lock(open_lists_->mutex, std::try_to_lock);
  if (lock) reclaim();
}

void BrokerSink::on_holdings(const Holdings& holdings) noexcept { engine_.adopt_holdings(broker_, holdings); }

void Engine::adopt_holdings(std::uint16_t broker_index, const Holdings& holdings) noexcept {
  Broker& broker = *brokers_[broker_index];
  if (!broker.reconciling) {
    if (broker.checking) compare_positions(broker, holdings);
    return;  // otherwise an answer nobody asked for
  }
  broker.checking = false;  // a periodic check's request, if one was out, had this answer
  if (!holdings.complete) {
    broker.retry_at_ns = clock_.monotonic_ns() + config_.reconcile_retry_ns;
    try {
      std::string error = holdings.error.substr(0, 160);
      for (char& c : error) {
        if (c == '\n' || c == '\r' || c == '"') c = ' ';
      }
      std::string fields = "broker=";
      fields.append(broker.name).append(" retry_in_ms=").append(std::to_string(config_.reconcile_retry_ns / 1'000'000));
      fields.append(" error=\"").append(error).append("\"");
      emit("warning", "reconcile_failed", fields);
    } catch (...) {
    }
    return;
  }
  const std::int64_t now_ns = clock_.monotonic_ns();
  std::size_t adopted = 0;
  std::size_t foreign = 0;
  std::size_t untracked = 0;
  std::size_t followed = 0;
  // Orders the gateway already follows there (after an outage: those it
  // placed or adopted before) are neither counted nor adopted again.
  std::unordered_set<std::string> tracked_venue_ids;
  std::unordered_set<std::string> tracked_broker_ids;
  try {
    tracked_at_broker(broker, tracked_venue_ids, tracked_broker_ids);
  } catch (...) {
    broker.retry_at_ns = now_ns + config_.reconcile_retry_ns;  // allocation failure: ask again
    return;
  }
  // REST adapters do not know the gateway's account ids: a broker with
  // one account gets everything it reports.
  auto account_of = [&](AccountId given) {
    if (given < broker_of_account_.size() && broker_of_account_[given] == broker_index) return given;
    AccountId only = kNoAccountId;
    for (std::size_t id = 0; id < broker_of_account_.size(); ++id) {
      if (broker_of_account_[id] != broker_index) continue;
      if (only != kNoAccountId) return kNoAccountId;
      only = static_cast<AccountId>(id);
    }
    return only;
  };
  for (const HeldOrder& reported : holdings.orders) {
    HeldOrder held = reported;
    held.account_id = account_of(reported.account_id);
    if (held.account_id == kNoAccountId || held.instrument_id >= instruments().size() ||
        (held.side != Side::buy && held.side != Side::sell) || !held.leaves.is_positive()) {
      ++untracked;
      continue;
    }
    if ((!held.venue_client_id.empty() && tracked_venue_ids.contains(std::string(held.venue_client_id.view()))) ||
        tracked_broker_ids.contains(std::string(held.broker_order_id.view()))) {
      ++followed;
      continue;
    }
    // Its owner, if this gateway placed it and kept the owner.
    PrincipalId principal = kForeignPrincipal;
    ClientOrderId client_order_id;
    try {
      if (const auto owner = broker.owners.find(std::string(held.venue_client_id.view()));
          owner != broker.owners.end()) {
        if (const std::optional<PrincipalId> known = find_principal(owner->second.principal);
            known && guards::validate_client_order_id(owner->second.client_order_id) == Reason::OK) {
          principal = *known;
          client_order_id.assign(owner->second.client_order_id);
        }
      }
    } catch (...) {
      // Allocation failure: the order is kept as a foreign one.
    }
    if (principal == kForeignPrincipal) {
      client_order_id.assign(held.broker_order_id.view().substr(0, ClientOrderId::kCapacity));
      ++foreign;
    }
    // Counted towards the limits in any case.
    exposure_.add_held_order(held.account_id, held.instrument_id, held.side, held.leaves);
    std::uint32_t record_index = 0;
    if (!take_record(record_index)) {
      ++untracked;  // counted, but no record to follow it by: see the warning below
      continue;
    }
    const OrderId order_id = next_order_id(record_index);
    Order order;
    order.order_id = order_id;
    order.principal_id = principal;
    order.account_id = held.account_id;
    order.instrument_id = held.instrument_id;
    order.side = held.side;
    order.type = held.type;
    order.time_in_force = held.time_in_force;
    order.quantity = held.quantity.is_positive() ? held.quantity : held.leaves;
    order.price = held.price;
    order.stop_price = held.stop_price;
    order.expire_time_ns = held.expire_time_ns;
    order.accepted_ns = now_ns;
    order.client_order_id = client_order_id;
    // No session: its reports are audited, and `orders` lists it.
    RecordStart start{.leaves = held.leaves, .leaves_raw = held.leaves.raw(), .dispatched = true};
    if (principal != kForeignPrincipal) {
      std::size_t index_slot = 0;
      const std::uint64_t key = guards::ClientOrderIdIndex::key(principal, client_order_id.view());
      // Its id was restored as used (finished) at start: it names this
      // working order again.
      if (order_index_.revive(key, order_id, index_slot)) {
        start.index_slot = static_cast<std::uint32_t>(index_slot);
      } else if (order_index_.insert(key, now_ns, index_slot) == guards::ClientOrderIdIndex::Insert::inserted) {
        order_index_.publish(index_slot, order_id);
        start.index_slot = static_cast<std::uint32_t>(index_slot);
      }
    }
    publish_record(record_index, order, start);
    try {
      if (!held.venue_client_id.empty()) broker.adopted_venue_ids[order_id] = std::string(held.venue_client_id.view());
      broker.adopted_broker_ids[order_id] = std::string(held.broker_order_id.view());
    } catch (...) {
    }
    broker.port->adopt(order, reported);
    audit(AuditEventType::order_adopted, order, Reason::OK);
    ++adopted;
  }
  if (!book_held_positions(broker, holdings)) return;  // settling: asked again
  broker.reconciling = false;
  broker.resync = false;
  std::string fields;
  try {
    if (untracked > 0) {
      emit("warning", "reconcile_untracked",
           "broker=" + broker.name + " orders=" + std::to_string(untracked) +
               " (not followed: no account of this broker to give it to, an unknown instrument, or no free order "
               "record)");
    }
    fields = "held_orders=" + std::to_string(adopted) + " foreign_orders=" + std::to_string(foreign) +
             " positions=" + std::to_string(holdings.positions.size());
    if (followed > 0) fields += " followed_orders=" + std::to_string(followed);
  } catch (...) {
  }
  broker.owners.clear();  // what was adopted is in adopted_venue_ids now
  compact_owners(broker, broker_index);
  set_accounts_ready(broker_index, fields);
}

std::unordered_map<std::uint32_t, std::int64_t> Engine::positions_at_broker(const Broker& broker,
                                                                             const Holdings& holdings) const {
  // REST adapters do not know the gateway's account ids: a broker with one
  // account gets everything it reports.
  const std::size_t instrument_count = instruments().size();
  AccountId only = kNoAccountId;
  std::size_t accounts_of_broker = 0;
  for (std::size_t id = 0; id < broker_of_account_.size(); ++id) {
    if (broker_of_account_[id] != broker.index) continue;
    ++accounts_of_broker;
    only = static_cast<AccountId>(id);
  }
  std::unordered_map<std::uint32_t, std::int64_t> at_broker;
  for (const HeldPosition& position : holdings.positions) {
    AccountId account = position.account_id;
    if (account >= broker_of_account_.size() || broker_of_account_[account] != broker.index) {
      if (accounts_of_broker != 1) continue;
      account = only;
    }
    if (position.instrument_id >= instrument_count) continue;
    at_broker[static_cast<std::uint32_t>(account * instrument_count + position.instrument_id)] += position.net.raw();
  }
  return at_broker;
}

bool Engine::book_held_positions(Broker& broker, const Holdings& holdings) noexcept {
  const std::size_t instrument_count = instruments().size();
  std::unordered_map<std::uint32_t, std::int64_t> pending;
  try {
    const std::unordered_map<std::uint32_t, std::int64_t> at_broker = positions_at_broker(broker, holdings);
    for (std::size_t id = 0; id < broker_of_account_.size(); ++id) {
      if (broker_of_account_[id] != broker.index) continue;
      const auto account = static_cast<AccountId>(id);
      for (std::size_t instrument = 0; instrument < instrument_count; ++instrument) {
        const auto key = static_cast<std::uint32_t>(id * instrument_count + instrument);
        const auto found = at_broker.find(key);
        const Decimal held = Decimal::from_raw(found != at_broker.end() ? found->second : 0);
        const Decimal booked = exposure_.snapshot(account, static_cast<InstrumentId>(instrument)).position;
        Decimal difference;
        if (!Decimal::sub(held, booked, difference) || difference.is_zero()) continue;
        if (broker.resync) {
          // After an outage: only a difference two answers agree on.
          const auto last = broker.resync_difference.find(key);
          const bool settled = last != broker.resync_difference.end() && last->second == difference.raw();
          if (!settled && broker.resync_round + 1 < kResyncRounds) {
            pending[key] = difference.raw();
            continue;
          }
        }
        // Books the difference, so a later reconciliation corrects rather than adds.
        const Side side = difference.is_positive() ? Side::buy : Side::sell;
        const Decimal quantity = difference.is_positive() ? difference : -difference;
        exposure_.apply_position_change(account, static_cast<InstrumentId>(instrument), side, quantity);
        daily_loss_->on_unpriced_change(account, static_cast<InstrumentId>(instrument), side, quantity);
      }
    }
  } catch (...) {
    // Allocation failure: nothing half-booked matters, the next answer
    // books the differences again.
    broker.retry_at_ns = clock_.monotonic_ns() + config_.reconcile_retry_ns;
    return false;
  }
  if (!broker.resync) return true;
  ++broker.resync_round;
  if (pending.empty()) return true;
  broker.resync_difference = std::move(pending);
  broker.retry_at_ns = clock_.monotonic_ns() + config_.reconcile_retry_ns;
  try {
    emit("info", "reconcile_settling",
         "broker=" + broker.name + " positions=" + std::to_string(broker.resync_difference.size()) +
             " round=" + std::to_string(broker.resync_round) + " (a difference is booked once two answers agree)");
  } catch (...) {
  }
  return false;
}

void Engine::compare_positions(Broker& broker, const Holdings& holdings) noexcept {
  broker.checking = false;
  if (!holdings.complete) {
    emit("warning", "position_check_failed", "broker=" + broker.name);
    return;
  }
  try {
    const std::size_t instrument_count = instruments().size();
    const std::unordered_map<std::uint32_t, std::int64_t> at_broker = positions_at_broker(broker, holdings);
    std::unordered_map<std::uint32_t, std::int64_t> differences;
    for (std::size_t id = 0; id < broker_of_account_.size(); ++id) {
      if (broker_of_account_[id] != broker.index) continue;
      const auto account = static_cast<AccountId>(id);
      for (std::size_t instrument = 0; instrument < instrument_count; ++instrument) {
        const auto key = static_cast<std::uint32_t>(id * instrument_count + instrument);
        const auto found = at_broker.find(key);
        const std::int64_t broker_raw = found != at_broker.end() ? found->second : 0;
        const std::int64_t gateway_raw =
            exposure_.snapshot(account, static_cast<InstrumentId>(instrument)).position.raw();
        if (broker_raw == gateway_raw) {
          broker.reported_difference.erase(key);
          continue;
        }
        const std::int64_t difference = broker_raw - gateway_raw;
        differences[key] = difference;
        // A fill on its way shows as a difference once; one that stays
        // for two checks in a row is real.
        const auto last = broker.last_difference.find(key);
        if (last == broker.last_difference.end() || last->second != difference) continue;
        const auto reported = broker.reported_difference.find(key);
        if (reported != broker.reported_difference.end() && reported->second == difference) continue;
        broker.reported_difference[key] = difference;
        const std::string account_name(accounts_[account].name.view());
        const std::string symbol(instruments()[static_cast<InstrumentId>(instrument)].name.view());
        const std::string gateway_text = Decimal::from_raw(gateway_raw).to_string();
        const std::string broker_text = Decimal::from_raw(broker_raw).to_string();
        AuditEvent event;
        event.type = AuditEventType::position_mismatch;
        event.account_id = account;
        event.instrument_id = static_cast<InstrumentId>(instrument);
        event.quantity = Decimal::from_raw(broker_raw);
        event.price = Decimal::from_raw(gateway_raw);
        event.time_ns = clock_.wall_ns();
        std::string detail = "gateway:";
        detail.append(gateway_text).append(" broker:").append(broker_text);
        event.detail.assign(std::string_view(detail).substr(0, 64));
        audit_.record(event);
        std::string fields = "account=";
        fields.append(account_name).append(" symbol=").append(symbol).append(" gateway=").append(gateway_text);
        fields.append(" broker=").append(broker_text).append(broker.reduce_on_mismatch ? " action=reducing" : " action=alert");
        emit("warning", "position_mismatch", fields);
        if (broker.reduce_on_mismatch &&
            kill_switch_.account(account) == guards::TradingState::active) {
          try {
            set_trading_state(TradingScope::account(account_name), guards::TradingState::reducing, false);
          } catch (const std::exception&) {
            // In effect even when the state file could not be written (see
            // set_trading_state); the event above says why.
          }
          emit("warning", "trading_state_changed", "scope=account:" + account_name + " state=REDUCING by=position_check");
        }
      }
    }
    broker.last_difference = std::move(differences);
  } catch (...) {
    // Allocation failure: this check is skipped, the next one runs.
  }
}

void BrokerSink::on_execution(const ExecutionReport& report) noexcept { engine_.on_execution(report); }
void BrokerSink::on_position_fill(const ExecutionReport& fill) noexcept { engine_.book_position_fill(broker_, fill); }

void Engine::book_position_fill(std::uint16_t broker, const ExecutionReport& fill) noexcept {
  if (!fill.last_quantity.is_positive() || (fill.side != Side::buy && fill.side != Side::sell)) return;
  const OrderRecord* parent = nullptr;
  // The parent may have finished long ago (a stop loss triggers after its
  // order filled): read its record under this broker's hazard, and only
  // while the record still holds that order.
  std::atomic<std::uint32_t>& hazard = brokers_[broker]->hazard;
  struct HazardGuard {
    std::atomic<std::uint32_t>& hazard;
    ~HazardGuard() { hazard.store(kNoOrder, std::memory_order_release); }
  } guard{hazard};
  if (const std::uint32_t index = record_of(fill.order_id);
      fill.order_id != kNoOrderId && index < config_.order_capacity) {
    hazard.store(index, std::memory_order_seq_cst);
    const std::uint64_t ident = records_[index].ident.load(std::memory_order_seq_cst);
    if (ident != kNoIdent && static_cast<OrderId>(ident) == fill.order_id) parent = &records_[index];
    // A parent on another broker cannot be this fill's: the adapter is wrong.
    if (parent != nullptr && broker_of_account_[parent->order.account_id] != broker) parent = nullptr;
  }
  // The account: the parent's; else the adapter's, if it is one of this
  // broker's; else this broker's only account. Several accounts on one
  // broker and no parent: the fill cannot be attributed, so it is audited
  // but booked nowhere.
  AccountId account = kNoAccountId;
  if (parent != nullptr) {
    account = parent->order.account_id;
  } else if (fill.account_id < broker_of_account_.size() && broker_of_account_[fill.account_id] == broker) {
    account = fill.account_id;
  } else {
    for (std::size_t id = 0; id < broker_of_account_.size(); ++id) {
      if (broker_of_account_[id] != broker) continue;
      if (account != kNoAccountId) {
        account = kNoAccountId;
        break;
      }
      account = static_cast<AccountId>(id);
    }
  }
  InstrumentId instrument = fill.instrument_id;
  if (instrument >= instruments().size() && parent != nullptr) instrument = parent->order.instrument_id;
  const bool attributed = account != kNoAccountId && instrument < instruments().size();
  if (attributed) {
    exposure_.apply_position_change(account, instrument, fill.side, fill.last_quantity);
    daily_loss_->on_fill(account, instrument, fill.side, fill.last_quantity, fill.last_price);
  }

  // The parent's session: from its record while the record holds it, else
  // as the adapter remembers it (the record may serve another order now).
  const bool parent_known = parent != nullptr || (fill.order_id != kNoOrderId && fill.session_id != 0);
  const SessionId session_id = parent != nullptr ? parent->order.session_id : parent_known ? fill.session_id : 0;
  std::uint16_t session_slot = kNoSessionSlot;
  PrincipalId principal = 0;
  if (parent != nullptr) {
    session_slot = parent->session_slot;
    principal = parent->order.principal_id;
  } else if (parent_known) {
    for (std::uint32_t slot = 0; slot < config_.max_sessions; ++slot) {
      const std::uint64_t live = sessions_[slot].live.load(std::memory_order_acquire);
      if (live != 0 && static_cast<SessionId>(live) == session_id) {
        session_slot = static_cast<std::uint16_t>(slot);
        principal = static_cast<PrincipalId>(live >> 32);
        break;
      }
    }
  }

  ExecutionReport report = fill;
  report.kind = ReportKind::position_fill;
  report.status = ExecStatus::filled;
  report.order_id = parent_known ? fill.order_id : kNoOrderId;
  report.account_id = account;
  report.instrument_id = instrument;
  report.cumulative_quantity = fill.last_quantity;
  report.leaves_quantity = Decimal{};
  report.average_price = fill.last_price;
  report.session_id = session_id;
  report.client_order_id = parent != nullptr ? parent->order.client_order_id
                           : parent_known    ? fill.client_order_id
                                             : ClientOrderId{};
  if (report.source == FillSource::none) report.source = FillSource::account;
  executions_.fetch_add(1, std::memory_order_relaxed);
  metric_cells_.count_execution(report.account_id, report.status);

  AuditEvent event;
  event.type = AuditEventType::position_fill;
  event.exec_status = ExecStatus::filled;
  event.side = attributed ? fill.side : Side::unset;
  event.account_id = attributed ? account : 0;
  event.instrument_id = attributed ? instrument : 0;
  event.quantity = fill.last_quantity;
  event.price = fill.last_price;
  event.broker_order_id = fill.broker_order_id;
  event.time_ns = clock_.wall_ns();
  if (parent_known) {
    event.session_id = session_id;
    event.order_id = report.order_id;
    event.client_order_id = report.client_order_id;
    event.principal_id = principal;
  }
  char detail[64] = "source:";
  std::size_t length = 7;
  for (const char c : to_string(report.source)) detail[length++] = c;
  if (!attributed) {
    for (const char c : std::string_view(" unattributed")) detail[length++] = c;
  }
  event.detail.assign(std::string_view(detail, length));
  audit_.record(event);

  const bool has_principal = parent != nullptr || session_slot < config_.max_sessions;
  if (drop_copy_) drop_copy(report, principal, has_principal);
  // Only the parent's session, and only while it is the one in the slot
  // (poll drops a report naming an earlier session of the slot).
  if (session_slot < config_.max_sessions) {
    sessions_[session_slot].events.enqueue(report);
    if (config_.on_execution_ready) config_.on_execution_ready();
  } else if (drop_copy_ && config_.on_execution_ready) {
    config_.on_execution_ready();
  }
}

void Engine::drop_copy(const ExecutionReport& report, PrincipalId principal, bool has_principal) noexcept {
  // Bounded: a reader that falls behind loses reports (counted), the
  // broker thread never waits for it.
  if (drop_copy_->size_approx() >= config_.drop_copy_capacity ||
      !drop_copy_->enqueue(DropCopyEntry{report, principal, has_principal})) {
    drop_copy_lost_.fetch_add(1, std::memory_order_relaxed);
  }
}

bool Engine::poll_drop_copy(Gateway::DropCopyReport& out) noexcept {
  if (!drop_copy_) return false;
  DropCopyEntry entry;
  if (!drop_copy_->try_dequeue(entry)) return false;
  out.report = entry.report;
  out.principal = !entry.has_principal                  ? std::string_view{}
                  : entry.principal == kForeignPrincipal ? std::string_view("*foreign*")
                                                         : principal_name(entry.principal);
  return true;
}

}  // namespace detail

}  // namespace ordergate
