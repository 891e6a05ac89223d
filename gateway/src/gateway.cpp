#include "ordergate/gateway/gateway.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "engine.hpp"
#include "ordergate/guards/validate.hpp"

namespace ordergate {
namespace detail {
namespace {

constexpr std::uint32_t kSessionSlotBits = 12;
constexpr std::uint32_t kMaxSessionSlots = 1u << kSessionSlotBits;
constexpr std::size_t kDequeueBatch = 64;

std::vector<guards::RateWindow> parse_windows(const std::vector<std::string>& texts,
                                              const std::string& where) {
  std::vector<guards::RateWindow> windows;
  for (const std::string& text : texts) {
    guards::RateWindow window;
    std::string error;
    if (!guards::parse_rate_window(text, window, error)) {
      throw ConfigError(where + ": rate limit '" + text + "': " + error);
    }
    windows.push_back(window);
  }
  if (windows.size() > 4) throw ConfigError(where + ": at most 4 rate windows per scope");
  return windows;
}

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

Engine::Engine(GatewayConfig config, const Clock& clock, AuditSink* audit)
    : config_(std::move(config)),
      clock_(clock),
      audit_(audit != nullptr ? *audit : null_audit_),
      auditing_(audit != nullptr),
      accounts_([&] {
        try {
          return AccountTable(config_.accounts);
        } catch (const std::invalid_argument& e) {
          throw ConfigError(e.what());
        }
      }()),
      controls_(std::make_unique<PrincipalControl[]>(kMaxPrincipals)),
      kill_switch_(std::max<std::size_t>(accounts_.size(), 1), kMaxPrincipals),
      exposure_(std::max<std::size_t>(accounts_.size(), 1),
                std::max<std::size_t>(config_.instruments.size(), 1)),
      order_index_(static_cast<std::size_t>(config_.order_capacity) * 2) {
  if (accounts_.size() == 0) throw ConfigError("no accounts configured");
  if (config_.order_capacity == 0 || config_.order_capacity > (1u << 26)) {
    throw ConfigError("order_capacity must be within 1..67108864");
  }
  if (config_.max_sessions == 0 || config_.max_sessions > kMaxSessionSlots) {
    throw ConfigError("max_sessions must be within 1..4096");
  }
  if (config_.broker_queue_capacity < 64) throw ConfigError("broker_queue_capacity must be >= 64");

  snapshots_.push_back(build_snapshot(config_, nullptr));
  snapshot_.store(snapshots_.back().get(), std::memory_order_release);
  const InstrumentTable& instruments = current().instruments;

  // One broker per distinct adapter name, in order of first use.
  broker_of_account_.resize(accounts_.size());
  for (const Account& account : accounts_.all()) {
    const std::string name(account.broker.view());
    auto found = std::find_if(brokers_.begin(), brokers_.end(),
                              [&](const auto& broker) { return broker->name == name; });
    if (found == brokers_.end()) {
      auto broker = std::make_unique<Broker>();
      broker->name = name;
      if (name == "paper") {
        try {
          auto paper = std::make_unique<adapters::PaperBroker>(instruments, config_.paper);
          broker->paper = paper.get();
          broker->port = std::move(paper);
        } catch (const std::invalid_argument& e) {
          throw ConfigError(std::string("paper broker: ") + e.what());
        }
      } else {
        auto factory = std::find_if(config_.brokers.begin(), config_.brokers.end(),
                                    [&](const auto& entry) { return entry.first == name; });
        if (factory == config_.brokers.end()) {
          throw ConfigError("account '" + std::string(account.name.view()) + "': unknown broker '" +
                            name + "'");
        }
        broker->port = factory->second(instruments);
        if (!broker->port) throw ConfigError("broker '" + name + "': factory returned nothing");
      }
      broker->quotes = std::make_unique<QuoteBoard>(instruments.size());
      const std::size_t pool = config_.broker_queue_capacity +
                               static_cast<std::size_t>(config_.max_sessions + 1) * 2 * QueueTraits::BLOCK_SIZE;
      broker->queue = std::make_unique<CommandQueue>(pool);
      brokers_.push_back(std::move(broker));
      found = brokers_.end() - 1;
    }
    broker_of_account_[account.id] = static_cast<std::uint16_t>(found - brokers_.begin());
  }

  records_ = std::make_unique<OrderRecord[]>(config_.order_capacity);
  sessions_ = std::make_unique<SessionSlot[]>(config_.max_sessions);
}

std::unique_ptr<Snapshot> Engine::build_snapshot(const GatewayConfig& config, const Snapshot* previous) const {
  auto snapshot = std::make_unique<Snapshot>();
  try {
    snapshot->instruments = InstrumentTable(config.instruments);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(e.what());
  }
  if (snapshot->instruments.size() == 0) throw ConfigError("no instruments configured");
  if (config.principals.empty()) throw ConfigError("no principals configured");

  // Principal ids are stable by name across reloads: existing names keep
  // their id, new names are appended, removed names stay as "removed".
  std::vector<const PrincipalConfig*> by_id;
  if (previous != nullptr) {
    for (const auto& state : previous->principals) {
      const auto same = std::find_if(config.principals.begin(), config.principals.end(),
                                     [&](const PrincipalConfig& p) { return p.policy.name == state->policy.name(); });
      by_id.push_back(same != config.principals.end() ? &*same : nullptr);
    }
  }
  for (const PrincipalConfig& principal : config.principals) {
    if (std::find(by_id.begin(), by_id.end(), &principal) == by_id.end()) by_id.push_back(&principal);
  }
  if (by_id.size() >= kMaxPrincipals) throw ConfigError("too many principals");

  for (std::size_t id = 0; id < by_id.size(); ++id) {
    const PrincipalConfig* principal = by_id[id];
    auto state = std::make_unique<PrincipalState>();
    if (principal == nullptr) {  // removed by this reload: keep the slot, allow nothing
      guards::PrincipalSpec spec;
      spec.name = std::string(previous->principals[id]->policy.name());
      spec.accounts = {"*"};
      spec.symbols = {"*"};
      state->policy = guards::PrincipalPolicy(spec, accounts_, snapshot->instruments);
      state->order_limits = guards::GcraLimiter({guards::RateWindow{1, kNanosPerSecond}}, 1);
      state->cancel_limits = guards::GcraLimiter({guards::RateWindow{1, kNanosPerSecond}}, 1);
      state->session_ttl_ns = 1;
      state->removed = true;
      snapshot->principals.push_back(std::move(state));
      continue;
    }
    const std::string where = "principal '" + principal->policy.name + "'";
    const auto count = std::count_if(config.principals.begin(), config.principals.end(),
                                     [&](const PrincipalConfig& p) { return p.policy.name == principal->policy.name; });
    if (count > 1) throw ConfigError(where + ": defined twice");
    try {
      state->policy = guards::PrincipalPolicy(principal->policy, accounts_, snapshot->instruments);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(e.what());
    }
    if (principal->rate_limits.empty()) {
      throw ConfigError(where + ": rate_limits is required (e.g. [\"20/1s\", \"600/1m\"])");
    }
    if (principal->cancel_rate_limits.empty()) throw ConfigError(where + ": cancel_rate_limits must not be empty");
    state->order_limits = guards::GcraLimiter(parse_windows(principal->rate_limits, where), 1);
    state->cancel_limits = guards::GcraLimiter(parse_windows(principal->cancel_rate_limits, where), 1);
    if (principal->session_ttl_ns <= 0) throw ConfigError(where + ": session_ttl must be > 0");
    state->session_ttl_ns = principal->session_ttl_ns;
    if (previous != nullptr && id < previous->principals.size()) {
      state->order_limits.inherit(previous->principals[id]->order_limits);
      state->cancel_limits.inherit(previous->principals[id]->cancel_limits);
    }
    snapshot->principals.push_back(std::move(state));
  }
  snapshot->account_limits =
      guards::GcraLimiter(parse_windows(config.account_rate_limits, "account_rate_limits"), accounts_.size());
  snapshot->symbol_limits = guards::GcraLimiter(parse_windows(config.symbol_rate_limits, "symbol_rate_limits"),
                                                snapshot->instruments.size());
  if (previous != nullptr) {
    snapshot->account_limits.inherit(previous->account_limits);
    snapshot->symbol_limits.inherit(previous->symbol_limits);
  }
  return snapshot;
}

void Engine::reload(const GatewayConfig& config) {
  const Snapshot& previous = current();
  // Reference data and capacities size the engine's tables and threads; they
  // cannot change under running sessions.
  if (config.instruments.size() != previous.instruments.size()) {
    throw ConfigError("instruments cannot be added or removed by a reload; restart the gateway");
  }
  for (std::size_t i = 0; i < config.instruments.size(); ++i) {
    if (previous.instruments[static_cast<InstrumentId>(i)].name.view() != config.instruments[i].name) {
      throw ConfigError("instrument '" + config.instruments[i].name +
                        "': instruments cannot be renamed or reordered by a reload; restart the gateway");
    }
  }
  if (config.accounts.size() != accounts_.size()) {
    throw ConfigError("accounts cannot be added or removed by a reload; restart the gateway");
  }
  for (std::size_t i = 0; i < config.accounts.size(); ++i) {
    const Account& account = accounts_[static_cast<AccountId>(i)];
    if (account.name.view() != config.accounts[i].name || account.broker.view() != config.accounts[i].broker) {
      throw ConfigError("account '" + config.accounts[i].name +
                        "': accounts cannot change by a reload; restart the gateway");
    }
  }
  if (config.order_capacity != config_.order_capacity || config.max_sessions != config_.max_sessions ||
      config.broker_queue_capacity != config_.broker_queue_capacity) {
    throw ConfigError("order_capacity, max_sessions and broker_queue_capacity cannot change by a reload; restart");
  }
  std::unique_ptr<Snapshot> next = build_snapshot(config, &previous);
  for (std::size_t id = 0; id < next->principals.size(); ++id) {
    if (next->principals[id]->removed) controls_[id].epoch.fetch_add(1, std::memory_order_acq_rel);
  }
  snapshots_.push_back(std::move(next));
  snapshot_.store(snapshots_.back().get(), std::memory_order_release);

  AuditEvent event;
  event.type = AuditEventType::config_reloaded;
  event.time_ns = clock_.wall_ns();
  audit_.record(event);
}

Engine::~Engine() { stop(); }

void Engine::start() {
  if (started_) return;
  started_ = true;
  for (auto& broker : brokers_) {
    std::promise<void> started;
    std::future<void> ready = started.get_future();
    broker->running.store(true, std::memory_order_release);
    Broker* raw = broker.get();
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
  accepting_.store(true, std::memory_order_release);
}

void Engine::stop() noexcept {
  accepting_.store(false, std::memory_order_release);
  for (auto& broker : brokers_) {
    broker->running.store(false, std::memory_order_release);
    if (broker->thread.joinable()) broker->thread.join();
  }
}

void Engine::run_broker(Broker& broker, std::promise<void>& started) noexcept {
  try {
    broker.port->start(*this, *broker.quotes, clock_);
  } catch (...) {
    started.set_exception(std::current_exception());
    return;
  }
  started.set_value();

  BrokerCommand batch[kDequeueBatch];
  std::uint32_t idle_rounds = 0;
  for (;;) {
    const bool running = broker.running.load(std::memory_order_acquire);
    const std::size_t count = broker.queue->try_dequeue_bulk(batch, kDequeueBatch);
    for (std::size_t i = 0; i < count; ++i) dispatch(broker, batch[i]);
    const bool worked = broker.port->poll() || count > 0;
    // Leave only once the queue is drained after the stop request.
    if (!running && count == 0) break;
    idle_rounds = worked ? 0 : idle_rounds + 1;
    if (!worked) idle_wait(config_.idle_strategy, idle_rounds);
  }
  broker.port->stop();
}

void Engine::dispatch(Broker& broker, const BrokerCommand& command) noexcept {
  switch (command.kind) {
    case CommandKind::submit: {
      OrderRecord& record = records_[command.order.order_id];
      record.dispatched = true;
      if (record.cancel_pending) {
        // Cancelled before it was sent: it never reaches the broker.
        ExecutionReport report;
        report.order_id = command.order.order_id;
        report.status = ExecStatus::canceled;
        report.transact_time_ns = clock_.wall_ns();
        report.broker_reason.assign("CANCELED_BEFORE_SENT");
        on_execution(report);
        break;
      }
      broker.port->submit(command.order);
      audit(AuditEventType::sent_to_broker, command.order, Reason::OK);
      break;
    }
    case CommandKind::cancel: {
      OrderRecord& record = records_[command.order.order_id];
      if (!record.dispatched) {
        record.cancel_pending = true;
        break;
      }
      CancelOrder cancel;
      cancel.order_id = command.order.order_id;
      cancel.session_id = command.order.session_id;
      cancel.account_id = command.order.account_id;
      cancel.instrument_id = command.order.instrument_id;
      cancel.client_order_id = command.order.client_order_id;
      broker.port->cancel(cancel);
      break;
    }
    case CommandKind::set_quote:
      if (broker.paper != nullptr) {
        broker.paper->set_quote(command.order.instrument_id, command.bid, command.ask);
      }
      break;
  }
}

Session Engine::open_session(std::string_view principal) {
  const PrincipalId pid = principal_id(principal);
  const PrincipalState& state = *current().principals[pid];
  if (state.removed || !controls_[pid].enabled.load(std::memory_order_acquire)) {
    throw std::invalid_argument("principal is disabled");
  }
  for (std::uint32_t index = 0; index < config_.max_sessions; ++index) {
    SessionSlot& slot = sessions_[index];
    bool expected = false;
    if (!slot.in_use.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) continue;
    ExecutionReport stale;
    while (slot.events.try_dequeue(stale)) {
    }
    slot.generation = (slot.generation + 1) & ((1u << (32 - kSessionSlotBits)) - 1);
    slot.id = (slot.generation << kSessionSlotBits) | index;
    slot.principal = pid;
    slot.epoch = controls_[pid].epoch.load(std::memory_order_acquire);
    slot.expires_at_ns = clock_.monotonic_ns() + state.session_ttl_ns;

    auto handle = std::make_unique<SessionHandle>();
    handle->engine = this;
    handle->slot = &slot;
    handle->id = slot.id;
    handle->tokens.reserve(brokers_.size());
    for (auto& broker : brokers_) handle->tokens.emplace_back(*broker->queue);

    AuditEvent event;
    event.type = AuditEventType::session_opened;
    event.principal_id = pid;
    event.session_id = slot.id;
    event.time_ns = clock_.wall_ns();
    audit_.record(event);
    return Session(std::move(handle));
  }
  throw std::invalid_argument("no free session slot (max_sessions reached)");
}

void Engine::close_session(SessionHandle& handle) noexcept {
  if (handle.slot == nullptr) return;
  AuditEvent event;
  event.type = AuditEventType::session_closed;
  event.principal_id = handle.slot->principal;
  event.session_id = handle.id;
  event.time_ns = clock_.wall_ns();
  audit_.record(event);
  handle.slot->in_use.store(false, std::memory_order_release);
  handle.slot = nullptr;
}

Reason Engine::authorize(const SessionHandle& handle, std::int64_t now_ns) const noexcept {
  if (handle.slot == nullptr) return Reason::UNAUTHENTICATED;
  const SessionSlot& slot = *handle.slot;
  const PrincipalControl& control = controls_[slot.principal];
  if (control.epoch.load(std::memory_order_acquire) != slot.epoch) return Reason::UNAUTHENTICATED;
  if (now_ns >= slot.expires_at_ns) return Reason::SESSION_EXPIRED;
  if (!control.enabled.load(std::memory_order_acquire)) return Reason::PERMISSION_DENIED;
  return Reason::OK;
}

Verdict Engine::reject(SessionHandle& handle, const Order* order, Reason reason,
                       std::int64_t retry_after_ns) noexcept {
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
  const std::uint64_t sequence = audit_.record(event);
  return Verdict{reason, retry_after_ns, 0, sequence};
}

std::uint64_t Engine::audit(AuditEventType type, const Order& order, Reason reason) noexcept {
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
  return audit_.record(event);
}

Verdict Engine::submit(SessionHandle& handle, const OrderRequest& request) noexcept {
  const std::int64_t now_ns = clock_.monotonic_ns();
  if (Reason reason = authorize(handle, now_ns); reason != Reason::OK) {
    return reject(handle, nullptr, reason);
  }
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
  // 2. permissions
  if (Reason reason = guards::check_submit_permissions(principal.policy, order); reason != Reason::OK) {
    return reject(handle, &order, reason);
  }
  if (!accepting_.load(std::memory_order_acquire)) {
    return reject(handle, &order, Reason::BROKER_UNAVAILABLE);
  }
  // 3. trading state
  const guards::TradingState state = kill_switch_.effective(order.account_id, order.principal_id);
  if (Reason reason = guards::check_trading_state(state); reason != Reason::OK) {
    return reject(handle, &order, reason);
  }
  // 4. risk: per-order limits against the reference quote, duplicates,
  //    then the exposure reservation (exact under concurrency)
  const Instrument& instrument = instruments[order.instrument_id];
  const std::uint16_t broker_index = broker_of_account_[order.account_id];
  Broker& broker = *brokers_[broker_index];
  const Quote quote = broker.quotes->read(order.instrument_id);
  if (Reason reason = guards::check_order_risk(order, instrument, quote, now_ns); reason != Reason::OK) {
    return reject(handle, &order, reason);
  }
  const std::uint64_t key =
      guards::ClientOrderIdIndex::key(order.principal_id, order.client_order_id.view());
  if (order_index_.contains(key)) return reject(handle, &order, Reason::DUPLICATE_CLIENT_ORDER_ID);
  if (Reason reason = exposure_.reserve(order.account_id, instrument, order.side, order.quantity,
                                        state == guards::TradingState::reducing);
      reason != Reason::OK) {
    return reject(handle, &order, reason);
  }
  // 5. rate limits, consumed only by orders that passed everything above
  guards::RateCheck rates;
  // Config allows at most 4 windows per scope, so this never overflows; if it
  // did, refusing is the only safe answer.
  if (!principal.order_limits.collect(0, rates) || !snapshot.account_limits.collect(order.account_id, rates) ||
      !snapshot.symbol_limits.collect(order.instrument_id, rates)) {
    exposure_.release(order.account_id, order.instrument_id, order.side, order.quantity);
    return reject(handle, &order, Reason::RATE_LIMITED);
  }
  std::int64_t retry_after_ns = 0;
  if (Reason reason = rates.consume(now_ns, retry_after_ns); reason != Reason::OK) {
    exposure_.release(order.account_id, order.instrument_id, order.side, order.quantity);
    return reject(handle, &order, reason, retry_after_ns);
  }

  // Claim the client order id; a concurrent submit of the same id loses here.
  auto undo = [&] {
    rates.refund();
    exposure_.release(order.account_id, order.instrument_id, order.side, order.quantity);
  };
  std::size_t index_slot = 0;
  switch (order_index_.insert(key, index_slot)) {
    case guards::ClientOrderIdIndex::Insert::inserted:
      break;
    case guards::ClientOrderIdIndex::Insert::duplicate:
      undo();
      return reject(handle, &order, Reason::DUPLICATE_CLIENT_ORDER_ID);
    case guards::ClientOrderIdIndex::Insert::full:
      undo();
      return reject(handle, &order, Reason::ORDER_CAPACITY_EXHAUSTED);
  }
  const std::uint32_t order_id = next_order_id_.fetch_add(1, std::memory_order_relaxed);
  if (order_id >= config_.order_capacity) {
    order_index_.erase(index_slot);
    undo();
    return reject(handle, &order, Reason::ORDER_CAPACITY_EXHAUSTED);
  }
  order.order_id = order_id;
  order.accepted_ns = now_ns;
  OrderRecord& record = records_[order_id];
  record.order = order;
  record.leaves = order.quantity;  // handed to the broker thread by the queue
  record.leaves_raw.store(order.quantity.raw(), std::memory_order_relaxed);
  record.finished = false;
  record.dispatched = false;
  record.cancel_pending = false;
  record.open.store(true, std::memory_order_release);

  BrokerCommand command;
  command.kind = CommandKind::submit;
  command.order = order;
  if (!broker.queue->try_enqueue(handle.tokens[broker_index], command)) {
    record.open.store(false, std::memory_order_release);
    order_index_.erase(index_slot);
    undo();
    return reject(handle, &order, Reason::BROKER_UNAVAILABLE);
  }
  order_index_.publish(index_slot, order_id);

  slot.accepted.store(slot.accepted.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  const std::uint64_t sequence = audit(AuditEventType::order_accepted, order, Reason::OK);
  return Verdict{Reason::OK, 0, order_id, sequence};
}

Verdict Engine::cancel(SessionHandle& handle, std::string_view client_order_id) noexcept {
  const std::int64_t now_ns = clock_.monotonic_ns();
  auto cancel_rejected = [&](Reason reason, std::int64_t retry_after_ns = 0) {
    AuditEvent event;
    event.type = AuditEventType::cancel_rejected;
    event.reason = reason;
    event.session_id = handle.id;
    if (handle.slot != nullptr) event.principal_id = handle.slot->principal;
    if (guards::validate_client_order_id(client_order_id) == Reason::OK) {
      event.client_order_id.assign(client_order_id);
    }
    event.time_ns = clock_.wall_ns();
    const std::uint64_t sequence = audit_.record(event);
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
  const OrderRecord& record = records_[order_id];
  if (!record.open.load(std::memory_order_acquire) ||
      record.order.principal_id != handle.slot->principal ||
      record.order.client_order_id.view() != client_order_id) {
    return cancel_rejected(Reason::UNKNOWN_ORDER);
  }
  if (!accepting_.load(std::memory_order_acquire)) return cancel_rejected(Reason::BROKER_UNAVAILABLE);

  guards::RateCheck rates;
  if (!principal.cancel_limits.collect(0, rates)) return cancel_rejected(Reason::RATE_LIMITED);
  std::int64_t retry_after_ns = 0;
  if (Reason reason = rates.consume(now_ns, retry_after_ns); reason != Reason::OK) {
    return cancel_rejected(reason, retry_after_ns);
  }
  const std::uint16_t broker_index = broker_of_account_[record.order.account_id];
  BrokerCommand command;
  command.kind = CommandKind::cancel;
  command.order = record.order;
  if (!brokers_[broker_index]->queue->try_enqueue(handle.tokens[broker_index], command)) {
    rates.refund();
    return cancel_rejected(Reason::BROKER_UNAVAILABLE);
  }
  const std::uint64_t sequence = audit(AuditEventType::cancel_accepted, record.order, Reason::OK);
  return Verdict{Reason::OK, 0, order_id, sequence};
}

bool Engine::poll(SessionHandle& handle, ExecutionReport& report) noexcept {
  if (handle.slot == nullptr) return false;
  // Reports of an earlier session in the same slot are dropped here.
  while (handle.slot->events.try_dequeue(report)) {
    if (report.session_id == handle.id) return true;
  }
  return false;
}

void Engine::on_execution(const ExecutionReport& incoming) noexcept {
  if (incoming.order_id >= std::min(next_order_id_.load(std::memory_order_acquire),
                                    config_.order_capacity)) {
    return;  // not an order of ours
  }
  OrderRecord& record = records_[incoming.order_id];
  if (record.finished) return;
  const Order& order = record.order;

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
    (void)Decimal::sub(record.leaves, filled, record.leaves);
    record.leaves_raw.store(record.leaves.raw(), std::memory_order_relaxed);
  }
  if (is_terminal(report.status)) {
    exposure_.release(order.account_id, order.instrument_id, order.side, record.leaves);
    record.leaves = Decimal{};
    record.leaves_raw.store(0, std::memory_order_relaxed);
    record.finished = true;
    record.open.store(false, std::memory_order_release);
  }
  executions_.fetch_add(1, std::memory_order_relaxed);

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
  event.time_ns = clock_.wall_ns();
  audit_.record(event);

  const std::uint32_t slot_index = order.session_id & (kMaxSessionSlots - 1);
  if (slot_index < config_.max_sessions) sessions_[slot_index].events.enqueue(report);
  if (config_.on_execution_ready) config_.on_execution_ready();
}

PrincipalId Engine::principal_id(std::string_view name) const {
  if (const auto id = find_principal(name)) return *id;
  throw std::invalid_argument("unknown principal");
}

AccountId Engine::account_id(std::string_view name) const {
  const Account* account = accounts_.find(name);
  if (account == nullptr) throw std::invalid_argument("unknown account");
  return account->id;
}

void Engine::set_trading_state(TradingScope scope, guards::TradingState state, bool cancel_working) {
  AccountId account = 0;
  PrincipalId principal = 0;
  switch (scope.kind) {
    case TradingScope::Kind::global:
      kill_switch_.set_global(state);
      break;
    case TradingScope::Kind::account:
      account = account_id(scope.name);
      kill_switch_.set_account(account, state);
      break;
    case TradingScope::Kind::principal:
      principal = principal_id(scope.name);
      kill_switch_.set_principal(principal, state);
      break;
  }
  AuditEvent event;
  event.type = AuditEventType::trading_state_changed;
  event.account_id = account;
  event.principal_id = principal;
  std::string detail = scope.kind == TradingScope::Kind::global ? "global"
                       : scope.kind == TradingScope::Kind::account ? "account:" + std::string(scope.name)
                                                                   : "principal:" + std::string(scope.name);
  detail += ":";
  detail += guards::to_string(state);
  if (cancel_working) detail += ":CANCEL";
  event.detail.assign(detail);
  event.time_ns = clock_.wall_ns();
  audit_.record(event);

  if (!cancel_working) return;
  CancelFilter filter;
  if (scope.kind == TradingScope::Kind::account) filter.account = account;
  if (scope.kind == TradingScope::Kind::principal) filter.principal = principal;
  cancel_orders(filter);
}

std::size_t Engine::cancel_orders(const CancelFilter& filter) {
  std::size_t sent = 0;
  const std::uint32_t count = std::min(next_order_id_.load(std::memory_order_acquire), config_.order_capacity);
  for (std::uint32_t id = 0; id < count; ++id) {
    const OrderRecord& record = records_[id];
    if (!record.open.load(std::memory_order_acquire)) continue;
    const Order& order = record.order;
    if ((filter.principal && order.principal_id != *filter.principal) ||
        (filter.session && order.session_id != *filter.session) ||
        (filter.account && order.account_id != *filter.account) ||
        (filter.instrument && order.instrument_id != *filter.instrument)) {
      continue;
    }
    BrokerCommand command;
    command.kind = CommandKind::cancel;
    command.order = order;
    brokers_[broker_of_account_[order.account_id]]->queue->enqueue(command);
    audit(AuditEventType::cancel_accepted, order, Reason::OK);
    ++sent;
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

void Engine::revoke_sessions(std::string_view principal) {
  const PrincipalId pid = principal_id(principal);
  controls_[pid].epoch.fetch_add(1, std::memory_order_acq_rel);
  AuditEvent event;
  event.type = AuditEventType::sessions_revoked;
  event.principal_id = pid;
  event.time_ns = clock_.wall_ns();
  audit_.record(event);
}

void Engine::set_principal_enabled(std::string_view principal, bool enabled) {
  const PrincipalId pid = principal_id(principal);
  controls_[pid].enabled.store(enabled, std::memory_order_release);
  AuditEvent event;
  event.principal_id = pid;
  event.type = enabled ? AuditEventType::principal_enabled : AuditEventType::principal_disabled;
  event.time_ns = clock_.wall_ns();
  audit_.record(event);
}

guards::ExposureBook::Snapshot Engine::exposure(std::string_view account, std::string_view symbol) const {
  SymbolKey key;
  if (guards::canonical_symbol_key(symbol, key) != Reason::OK) throw std::invalid_argument("invalid symbol");
  const Instrument* instrument = current().instruments.find(key);
  if (instrument == nullptr) throw std::invalid_argument("unknown instrument");
  return exposure_.snapshot(account_id(account), instrument->id);
}

void Engine::set_paper_quote(std::string_view account, std::string_view symbol, Decimal bid, Decimal ask) {
  SymbolKey key;
  if (guards::canonical_symbol_key(symbol, key) != Reason::OK) throw std::invalid_argument("invalid symbol");
  const Instrument* instrument = current().instruments.find(key);
  if (instrument == nullptr) throw std::invalid_argument("unknown instrument");
  Broker& broker = *brokers_[broker_of_account_[account_id(account)]];
  if (broker.paper == nullptr) throw std::invalid_argument("account is not served by the paper broker");
  if (!bid.is_positive() || bid >= ask || !bid.is_multiple_of(instrument->tick_size) ||
      !ask.is_multiple_of(instrument->tick_size)) {
    throw std::invalid_argument("quote must have 0 < bid < ask, both on the tick grid");
  }
  BrokerCommand command;
  command.kind = CommandKind::set_quote;
  command.order.instrument_id = instrument->id;
  command.bid = bid;
  command.ask = ask;
  broker.queue->enqueue(command);
}

std::vector<OpenOrder> Engine::open_orders(std::string_view principal) const {
  const PrincipalId pid = principal_id(principal);
  std::vector<OpenOrder> orders;
  const std::uint32_t count = std::min(next_order_id_.load(std::memory_order_acquire), config_.order_capacity);
  for (std::uint32_t id = 0; id < count; ++id) {
    const OrderRecord& record = records_[id];
    if (!record.open.load(std::memory_order_acquire) || record.order.principal_id != pid) continue;
    OpenOrder open;
    open.order = record.order;
    open.leaves_quantity = Decimal::from_raw(record.leaves_raw.load(std::memory_order_relaxed));
    orders.push_back(open);
  }
  return orders;
}

std::string_view Engine::principal_name(PrincipalId id) const noexcept {
  const Snapshot& snapshot = current();
  return id < snapshot.principals.size() ? snapshot.principals[id]->policy.name() : std::string_view{};
}

Gateway::Counters Engine::counters() const noexcept {
  Gateway::Counters counters;
  for (std::uint32_t i = 0; i < config_.max_sessions; ++i) {
    counters.accepted += sessions_[i].accepted.load(std::memory_order_relaxed);
    counters.rejected += sessions_[i].rejected.load(std::memory_order_relaxed);
  }
  counters.executions = executions_.load(std::memory_order_relaxed);
  return counters;
}

}  // namespace detail

// ---- Session -------------------------------------------------------------

Session::Session() noexcept = default;
Session::Session(std::unique_ptr<detail::SessionHandle> handle) noexcept : handle_(std::move(handle)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&& other) noexcept {
  if (this != &other) {
    close();
    handle_ = std::move(other.handle_);
  }
  return *this;
}
Session::~Session() { close(); }

Verdict Session::submit(const OrderRequest& request) noexcept {
  if (!handle_ || handle_->slot == nullptr) return Verdict{Reason::UNAUTHENTICATED, 0, 0, 0};
  return handle_->engine->submit(*handle_, request);
}

Verdict Session::cancel(std::string_view client_order_id) noexcept {
  if (!handle_ || handle_->slot == nullptr) return Verdict{Reason::UNAUTHENTICATED, 0, 0, 0};
  return handle_->engine->cancel(*handle_, client_order_id);
}

bool Session::poll(ExecutionReport& report) noexcept {
  return handle_ && handle_->engine->poll(*handle_, report);
}

void Session::close() noexcept {
  if (handle_) handle_->engine->close_session(*handle_);
}

bool Session::is_open() const noexcept { return handle_ && handle_->slot != nullptr; }
Reason Session::status() const noexcept {
  return handle_ ? handle_->engine->status(*handle_) : Reason::UNAUTHENTICATED;
}
SessionId Session::id() const noexcept { return handle_ ? handle_->id : 0; }
PrincipalId Session::principal() const noexcept {
  return handle_ && handle_->slot != nullptr ? handle_->slot->principal : 0;
}
std::int64_t Session::expires_at_ns() const noexcept {
  return handle_ && handle_->slot != nullptr ? handle_->slot->expires_at_ns : 0;
}

// ---- Gateway -------------------------------------------------------------

Gateway::Gateway(GatewayConfig config, const Clock& clock, AuditSink* audit)
    : engine_(std::make_unique<detail::Engine>(std::move(config), clock, audit)) {}
Gateway::~Gateway() = default;

void Gateway::start() { engine_->start(); }
void Gateway::reload(const GatewayConfig& config) { engine_->reload(config); }
void Gateway::stop() noexcept { engine_->stop(); }
Session Gateway::open_session(std::string_view principal) { return engine_->open_session(principal); }
void Gateway::set_trading_state(TradingScope scope, guards::TradingState state, bool cancel_working) {
  engine_->set_trading_state(scope, state, cancel_working);
}
guards::TradingState Gateway::trading_state(TradingScope scope) const { return engine_->trading_state(scope); }
void Gateway::revoke_sessions(std::string_view principal) { engine_->revoke_sessions(principal); }
void Gateway::set_principal_enabled(std::string_view principal, bool enabled) {
  engine_->set_principal_enabled(principal, enabled);
}
guards::ExposureBook::Snapshot Gateway::exposure(std::string_view account, std::string_view symbol) const {
  return engine_->exposure(account, symbol);
}
void Gateway::set_paper_quote(std::string_view account, std::string_view symbol, Decimal bid, Decimal ask) {
  engine_->set_paper_quote(account, symbol, bid, ask);
}
const InstrumentTable& Gateway::instruments() const noexcept { return engine_->instruments(); }
const AccountTable& Gateway::accounts() const noexcept { return engine_->accounts(); }
Gateway::Counters Gateway::counters() const noexcept { return engine_->counters(); }
std::vector<OpenOrder> Gateway::open_orders(std::string_view principal) const {
  return engine_->open_orders(principal);
}
std::string_view Gateway::principal_name(PrincipalId id) const noexcept { return engine_->principal_name(id); }
std::size_t Gateway::cancel_orders(const CancelFilter& filter) { return engine_->cancel_orders(filter); }
bool Gateway::has_permission(PrincipalId principal, guards::Permission permission) const noexcept {
  return engine_->has_permission(principal, permission);
}
std::optional<PrincipalId> Gateway::find_principal(std::string_view name) const noexcept {
  return engine_->find_principal(name);
}
bool Gateway::principal_enabled(PrincipalId principal) const noexcept { return engine_->principal_enabled(principal); }
bool Gateway::allows_account(PrincipalId principal, AccountId account) const noexcept {
  return engine_->allows_account(principal, account);
}

}  // namespace ordergate
