// Construction and configuration: validating a GatewayConfig, building the
// brokers, and the snapshots a reload publishes.

#include "engine.hpp"

#include "ordergate/guards/validate.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

namespace ordergate {
namespace detail {
namespace {

std::vector<guards::RateWindow> parse_windows(const std::vector<std::string>& texts,
                                              const std::string& where) {
  std::vector<guards::RateWindow> windows;
  for (const std::string& text : texts) {
    guards::RateWindow window;
    std::string error;
    if (!guards::parse_rate_window(text, window, error)) {
      throw ConfigError(std::string(where).append(": rate limit '").append(text).append("': ").append(error));
    }
    windows.push_back(window);
  }
  if (windows.size() > 4) throw ConfigError(where + ": at most 4 rate windows per scope");
  return windows;
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
      order_index_([&] {
        if (config_.order_capacity == 0 || config_.order_capacity > (1u << 26)) {
          throw ConfigError("order_capacity must be within 1..67108864");
        }
        const std::size_t entries = config_.duplicate_capacity != 0
                                        ? config_.duplicate_capacity
                                        : std::max<std::size_t>(std::size_t{1} << 20,
                                                                static_cast<std::size_t>(config_.order_capacity) * 4);
        if (config_.duplicate_window_ns < 1'000'000'000) {
          throw ConfigError("duplicate_window must be within 1 s and 30 days");
        }
        try {
          return guards::ClientOrderIdIndex(entries, config_.duplicate_window_ns);
        } catch (const std::invalid_argument&) {
          throw ConfigError("duplicate_window must be within 1 s and 30 days");
        }
      }()),
      free_records_(config_.order_capacity) {
  if (accounts_.size() == 0) throw ConfigError("no accounts configured");
  if (config_.max_sessions == 0 || config_.max_sessions > kMaxSessionSlots) {
    throw ConfigError("max_sessions must be within 1..4096");
  }
  if (config_.broker_queue_capacity < 64) throw ConfigError("broker_queue_capacity must be >= 64");
  if (config_.loss_check_interval_ns < 0) throw ConfigError("loss_check_interval must not be negative");
  session_queue_budget_ = config_.session_queue_budget != 0
                              ? config_.session_queue_budget
                              : std::max<std::uint32_t>(1, config_.broker_queue_capacity / config_.max_sessions);
  if (session_queue_budget_ > config_.broker_queue_capacity) {
    throw ConfigError("session_queue_budget must be at most broker_queue_capacity");
  }
  if (session_queue_budget_ > kMaxSessionQueueBudget) {
    throw ConfigError("session_queue_budget must be at most " + std::to_string(kMaxSessionQueueBudget));
  }

  snapshots_.push_back(build_snapshot(config_, nullptr));
  snapshot_.store(snapshots_.back().get(), std::memory_order_release);
  const InstrumentTable& instruments = current().instruments;
  try {
    valuation_ = guards::AccountValuation(accounts_, instruments);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(e.what());
  }
  daily_loss_ = std::make_unique<DailyLoss>(accounts_, instruments.size());

  // One broker per distinct adapter name, in order of first use.
  const std::vector<std::pair<std::string, BrokerFactory>> factories = broker_factories(config_);
  broker_of_account_.resize(accounts_.size());
  for (const Account& account : accounts_.all()) {
    const std::string name(account.broker.view());
    auto found = std::find_if(brokers_.begin(), brokers_.end(),
                              [&](const auto& broker) { return broker->name == name; });
    if (found == brokers_.end()) {
      auto broker = std::make_unique<Broker>();
      broker->index = static_cast<std::uint16_t>(brokers_.size());
      broker->sink = std::make_unique<BrokerSink>(*this, broker->index);
      broker->name = name;
      const auto factory = std::find_if(factories.begin(), factories.end(),
                                        [&](const auto& entry) { return entry.first == name; });
      if (factory == factories.end()) {
        throw ConfigError("account '" + std::string(account.name.view()) + "': unknown broker '" + name + "'");
      }
      try {
        broker->port = factory->second(instruments);
      } catch (const std::invalid_argument& e) {
        throw ConfigError("broker '" + name + "': " + e.what());
      }
      if (!broker->port) throw ConfigError("broker '" + name + "': factory returned nothing");
      broker->replace_supported = broker->port->supports_replace();
      broker->quotes = std::make_unique<QuoteBoard>(instruments.size());
      const std::size_t pool = config_.broker_queue_capacity +
                               static_cast<std::size_t>(config_.max_sessions + 1) * 2 * QueueTraits::BLOCK_SIZE;
      broker->queue = std::make_unique<CommandQueue>(pool);
      broker->rings = std::make_unique<std::atomic<SessionRing*>[]>(config_.max_sessions);
      brokers_.push_back(std::move(broker));
      found = brokers_.end() - 1;
    }
    broker_of_account_[account.id] = static_cast<std::uint16_t>(found - brokers_.begin());
  }
  if (brokers_.size() > kMaxBrokers) {
    throw ConfigError("at most " + std::to_string(kMaxBrokers) + " distinct brokers per gateway");
  }

  records_ = LargeArray<OrderRecord>(config_.order_capacity);
  while ((std::uint64_t{1} << record_bits_) < config_.order_capacity) ++record_bits_;
  record_mask_ = static_cast<std::uint32_t>((std::uint64_t{1} << record_bits_) - 1);
  hazards_.reserve(config_.max_sessions + brokers_.size());
  reclaim_batch_ = std::clamp<std::uint32_t>(config_.order_capacity / 8, 1, 64);
  published_ = std::make_unique<PublishedOrders[]>(kMaxPrincipals);
  if (config_.drop_copy_capacity > 0) {
    drop_copy_ = std::make_unique<moodycamel::ConcurrentQueue<DropCopyEntry>>(config_.drop_copy_capacity);
  }
  open_lists_ = std::make_unique<OpenOrderLists>();
  std::fill(std::begin(open_lists_->head), std::end(open_lists_->head), kNoOrder);
  sessions_ = std::make_unique<SessionSlot[]>(config_.max_sessions);
  metric_cells_.init(config_.metrics, config_.metrics_latency_sample, config_.max_sessions, accounts_.size());
  // Closed until reconciled with its broker (see begin_reconcile).
  account_closed_ = std::make_unique<std::atomic<std::uint8_t>[]>(accounts_.size());
  for (std::size_t id = 0; id < accounts_.size(); ++id) account_closed_[id].store(kNotReconciled, std::memory_order_relaxed);
  bulk_cancels_ = std::make_unique<std::atomic<std::uint64_t>[]>(accounts_.size());
  trading_day_ = std::make_unique<TradingDay>(config_.day_start);
  today_.store(static_cast<std::uint64_t>(trading_day_->day_of(clock_.wall_ns())), std::memory_order_relaxed);
  for (const auto& broker : brokers_) {
    broker->client_id_prefix = std::string(broker->port->client_id_prefix());
    const std::filesystem::path map_path =
        config_.state_path.empty() ? std::filesystem::path{}
                                   : std::filesystem::path(config_.state_path.string() + ".orders-" + broker->name);
    broker->order_map = std::make_unique<OrderMap>(map_path);
    OrderMap::Loaded loaded;
    try {
      loaded = broker->order_map->load();
    } catch (const std::runtime_error& e) {
      throw ConfigError(std::string("state: ") + e.what());
    }
    if (loaded.skipped > 0) {
      emit("warning", "order_owners_skipped",
           "broker=" + broker->name + " lines=" + std::to_string(loaded.skipped) + " (a torn line after a crash)");
    }
    broker->owners = std::move(loaded.owners);
    if (config_.reconcile_after_disconnect_ns <= 0) {
      throw ConfigError("reconcile_after_disconnect must be positive");
    }
    broker->after_disconnect_ns = config_.reconcile_after_disconnect_ns;
    for (const GatewayConfig::ReconcilePolicy& policy : config_.reconcile) {
      if (policy.broker != broker->name) continue;
      if (policy.interval_ns < 0) throw ConfigError("broker '" + broker->name + "': reconcile_interval must be positive");
      if (policy.after_disconnect_ns < 0) {
        throw ConfigError("broker '" + broker->name + "': reconcile_after_disconnect must be positive");
      }
      broker->check_interval_ns = policy.interval_ns;
      broker->reduce_on_mismatch = policy.reduce_on_mismatch;
      if (policy.after_disconnect_ns > 0) broker->after_disconnect_ns = policy.after_disconnect_ns;
    }
    // Client order ids used before the restart stay refused for the rest
    // of their window.
    const std::int64_t now_ns = clock_.monotonic_ns();
    const std::int64_t wall_ns = clock_.wall_ns();
    std::size_t restored = 0;
    for (const UsedClientOrderId& used : loaded.used) {
      const std::optional<PrincipalId> principal = find_principal(used.principal);
      if (!principal || guards::validate_client_order_id(used.client_order_id) != Reason::OK) continue;
      const std::int64_t age_ns = wall_ns - used.wall_s * 1'000'000'000;
      if (order_index_.restore(guards::ClientOrderIdIndex::key(*principal, used.client_order_id), now_ns, age_ns)) {
        ++restored;
      }
    }
    if (restored > 0) {
      emit("info", "client_order_ids_restored", "broker=" + broker->name + " ids=" + std::to_string(restored));
    }
  }

  // The operator's decisions before anything can trade: a restart never
  // loosens a guard.
  if (!config_.state_path.empty()) {
    if (std::optional<ControlState> saved = read_control_state(config_.state_path)) control_ = std::move(*saved);
    kill_switch_.set_global(control_.global);
    for (const auto& [name, state] : control_.accounts) {
      if (const Account* account = accounts_.find(name)) kill_switch_.set_account(account->id, state);
    }
    apply_control_to_principals();
    restore_daily_counts();
  }
}

void Engine::apply_control_to_principals() {
  const Snapshot& snapshot = current();
  for (std::size_t id = 0; id < snapshot.principals.size(); ++id) {
    const std::string name(snapshot.principals[id]->policy.name());
    const auto state = control_.principals.find(name);
    if (state != control_.principals.end()) kill_switch_.set_principal(static_cast<PrincipalId>(id), state->second);
    if (control_.disabled_principals.count(name) != 0) controls_[id].enabled.store(false, std::memory_order_release);
  }
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
  // The last id is kForeignPrincipal's.
  if (by_id.size() >= kMaxPrincipals - 1) {
    throw ConfigError("too many principals (at most " + std::to_string(kMaxPrincipals - 2) + ")");
  }

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
      state->modify_limits = guards::GcraLimiter({guards::RateWindow{1, kNanosPerSecond}}, 1);
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
    if (principal->modify_rate_limits.empty()) throw ConfigError(where + ": modify_rate_limits must not be empty");
    state->order_limits = guards::GcraLimiter(parse_windows(principal->rate_limits, where), 1);
    state->cancel_limits = guards::GcraLimiter(parse_windows(principal->cancel_rate_limits, where), 1);
    state->modify_limits = guards::GcraLimiter(parse_windows(principal->modify_rate_limits, where), 1);
    if (principal->session_ttl_ns <= 0) throw ConfigError(where + ": session_ttl must be > 0");
    state->session_ttl_ns = principal->session_ttl_ns;
    state->max_orders_per_day = principal->max_orders_per_day;
    state->max_cancels_per_day = principal->max_cancels_per_day;
    if (previous != nullptr && id < previous->principals.size()) {
      state->order_limits.inherit(previous->principals[id]->order_limits);
      state->cancel_limits.inherit(previous->principals[id]->cancel_limits);
      state->modify_limits.inherit(previous->principals[id]->modify_limits);
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
    const AccountSpec& spec = config.accounts[i];
    if (account.name.view() != spec.name || account.broker.view() != spec.broker) {
      throw ConfigError("account '" + spec.name + "': accounts cannot change by a reload; restart the gateway");
    }
    if (account.currency.view() != spec.currency || account.max_gross_notional != spec.max_gross_notional ||
        account.max_net_notional != spec.max_net_notional || account.max_daily_loss != spec.max_daily_loss ||
        account.halt_daily_loss != spec.halt_daily_loss) {
      throw ConfigError("account '" + spec.name +
                        "': currency and account limits cannot change by a reload; restart the gateway");
    }
  }
  if (config.order_capacity != config_.order_capacity || config.max_sessions != config_.max_sessions ||
      config.broker_queue_capacity != config_.broker_queue_capacity) {
    throw ConfigError("order_capacity, max_sessions and broker_queue_capacity cannot change by a reload; restart");
  }
  if (config.state_path != config_.state_path) {
    throw ConfigError("the state file cannot change by a reload; restart the gateway");
  }
  std::unique_ptr<Snapshot> next = build_snapshot(config, &previous);
  for (std::size_t id = 0; id < next->principals.size(); ++id) {
    if (next->principals[id]->removed) controls_[id].epoch.fetch_add(1, std::memory_order_acq_rel);
  }
  {
    // A principal this reload adds comes in as the operator left it.
    std::lock_guard lock(control_mutex_);
    snapshots_.push_back(std::move(next));
    snapshot_.store(snapshots_.back().get(), std::memory_order_release);
    apply_control_to_principals();
  }

  AuditEvent event;
  event.type = AuditEventType::config_reloaded;
  event.time_ns = clock_.wall_ns();
  audit_.record(event);
}

Engine::~Engine() { stop(); }

}  // namespace detail

}  // namespace ordergate
