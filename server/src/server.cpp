#include "ordergate/server/server.hpp"

#include <boost/asio.hpp>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker_kinds.hpp"
#include "connection.hpp"
#include "console.hpp"
#include "handlers.hpp"
#include "http_listener.hpp"
#include "log.hpp"
#include "metrics_page.hpp"
#include "ordergate/audit/journal.hpp"
#include "ordergate/core/error_text.hpp"
#include "ordergate/gateway/gateway.hpp"
#include "ordergate/guards/rate_limit.hpp"
#include "ordergate/security/credentials.hpp"
#include "ordergate/security/crypto.hpp"
#include "ordergate/server/doctor.hpp"
#include "protocol.hpp"
#include "service_notify.hpp"

namespace ordergate {

std::string default_socket_path() {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read once at start-up, before any thread changes the environment
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime != nullptr && runtime[0] == '/') {
    struct stat info {};
    if (::stat(runtime, &info) == 0 && S_ISDIR(info.st_mode)) return std::string(runtime) + "/ordergate.sock";
  }
  return "./ordergate.sock";
}

namespace server_detail {

namespace asio = boost::asio;

// The process: start-up wiring (credentials, brokers, journal, gateway,
// socket), accepting, the delivery of execution reports, the sweeps, signals,
// reload and shutdown. Connections do the I/O (connection.hpp), handlers
// answer the requests (handlers.hpp).
class Process final : public ConnectionOwner {
 public:
  Process(ProcessConfig config, std::ostream& log, const Clock& clock, AuditSink* audit)
      : config_(std::move(config)),
        clock_(clock),
        log_(log, clock, config_.server.log_format),
        audit_(audit != nullptr ? audit : open_journal()),
        decoder_(config_.server.max_line_bytes),
        acceptor_(io_),
        signals_(io_),
        sweep_timer_(io_),
        drain_timer_(io_),
        hold_timer_(io_),
        ready_timer_(io_),
        watchdog_timer_(io_) {
    config_.gateway.on_execution_ready = [this] { wake(); };
    config_.gateway.on_event = [this](std::string_view level, std::string_view event, std::string_view fields) {
      log_.line(level, event, fields);
      if (event == "trading_state_changed") forward_state_change(fields);
      if (event == "account_ready") asio::post(io_, [this] { notify_when_ready(); });
    };
    config_.gateway.drop_copy_capacity = kDropCopyCapacity;
    add_brokers();
    gateway_ = std::make_unique<Gateway>(config_.gateway, clock_, audit_);
    socket_path_ = config_.server.socket_path.empty() ? default_socket_path() : config_.server.socket_path;
    guards::RateWindow window;
    std::string error;
    if (!guards::parse_rate_window(config_.server.hello_rate_limit, window, error)) {
      throw ConfigError("gateway.hello_rate_limit: " + error);
    }
    hello_throttle_.params = guards::GcraParams::from(window);
    hello_throttle_.window_ns = window.period_ns;
    if (!guards::parse_rate_window(config_.server.read_rate_limit, window, error)) {
      throw ConfigError("gateway.read_rate_limit: " + error);
    }
    read_budget_ = guards::GcraParams::from(window);
    limits_.max_line_bytes = config_.server.max_line_bytes;
    limits_.max_output_bytes = config_.server.max_output_bytes;
    limits_.max_errors = config_.server.max_errors;
    // A subscriber is dropped well before its connection would be.
    drop_copy_ = std::make_unique<DropCopy>(*gateway_, limits_.max_output_bytes / 2);
    if (config_.cluster.enabled) make_cluster_member();
    handlers_ = std::make_unique<HandlerContext>(HandlerContext{
        *gateway_, clock_, log_, audit_, journal_.get(), hold_replies_, config_.auth, hello_throttle_, read_budget_,
        config_.server.max_sessions_per_principal, [this](PrincipalId id) { return sessions_of(id); }, decoder_,
        [this](std::string& problem) { return reload(problem); }, drop_copy_.get(), cluster_.get()});
  }

  ~Process() {
    if (http_) http_->stop();  // it reads the gateway and the journal, and calls the cluster member
    if (cluster_) cluster_->stop();  // it drives the gateway's admin calls
    if (bound_) ::unlink(socket_path_.c_str());
    // Brokers first (their reports are audited), then the journal, while
    // the gateway it takes names from is still alive.
    if (gateway_) gateway_->stop();
    if (journal_) journal_->stop();
  }

  // Credential sources of the running environment, read once on first use;
  // a missing or unsafe secrets file stops the start with its message.
  const security::CredentialSources& credentials() {
    if (credentials_ == nullptr) {
      try {
        credentials_ = std::make_unique<security::CredentialSources>(config_.credentials);
      } catch (const std::runtime_error& error) {
        throw ConfigError(std::string("[secrets]: ") + error.what());
      }
    }
    return *credentials_;  // cppcheck-suppress nullPointerRedundantCheck ; set just above or thrown
  }

  // Builds a factory for each [brokers.<name>] through its kind, with its
  // credentials resolved now (through the environment's prefix) so a missing
  // key stops the start with the variable's name.
  void add_brokers() {
    for (const BrokerEntry& entry : config_.brokers) {
      const BrokerKind* kind = find_broker_kind(entry.kind);
      if (kind == nullptr) throw ConfigError("brokers." + entry.name + ".kind: unknown broker kind");
      auto resolve = [&](std::string_view key) {
        try {
          return credentials().resolve(entry.credential(key));
        } catch (const std::runtime_error& error) {
          throw ConfigError("brokers." + entry.name + "." + std::string(key) + ": " + error.what());
        }
      };
      auto log = [this, name = entry.name](adapters::tls::LogLevel level, std::string_view line) {
        log_.line(level == adapters::tls::LogLevel::error ? "error" : level == adapters::tls::LogLevel::warning ? "warn" : "info",
                  "broker", "broker=" + name + " " + std::string(line));
      };
      config_.gateway.brokers.emplace_back(entry.name, kind->build(entry, resolve, log));
      if (entry.reconcile_interval_ns > 0 || entry.reconcile_after_disconnect_ns > 0) {
        config_.gateway.reconcile.push_back({entry.name, entry.reconcile_interval_ns, entry.reduce_on_mismatch,
                                             entry.reconcile_after_disconnect_ns});
      }
    }
  }

  // Opens the journal named by [audit], or returns nullptr when auditing is
  // off. Names come from the live gateway, so principals added by a reload
  // are written by name too.
  AuditSink* open_journal() {
    const AuditConfig& settings = config_.audit;
    if (!settings.enabled) {
      log_.line("warn", "audit_disabled", "why=\"no [audit] path configured\"");
      return nullptr;
    }
    AuditJournalOptions options;
    options.path = settings.path;
    options.fsync = parse_audit_fsync(settings.fsync).value_or(AuditFsync::interval);
    options.fsync_interval = std::chrono::milliseconds(std::max<std::int64_t>(settings.fsync_interval_ns / kNanosPerMilli, 1));
    options.max_bytes = settings.max_bytes;
    options.queue_capacity = settings.queue_capacity;
    if (!settings.hmac_key_env.empty()) {
      try {
        options.hmac_key = credentials().resolve(settings.hmac_key_env);
      } catch (const std::runtime_error& error) {
        throw ConfigError(std::string("audit.hmac_key_env: ") + error.what());
      }
    }
    options.on_durable = [this](std::uint64_t) { wake_durable(); };
    AuditNames names;
    names.principal = [this](PrincipalId id) { return gateway_ ? gateway_->principal_name(id) : std::string_view{}; };
    names.account = [this](AccountId id) {
      return gateway_ && id < gateway_->accounts().size() ? gateway_->accounts()[id].name.view() : std::string_view{};
    };
    names.symbol = [this](InstrumentId id) {
      return gateway_ && id < gateway_->instruments().size() ? gateway_->instruments()[id].name.view()
                                                              : std::string_view{};
    };
    journal_ = std::make_unique<AuditJournal>(std::move(options), std::move(names));
    hold_replies_ = journal_->fsync_policy() == AuditFsync::always;
    log_.line("info", "audit_open", "path=" + settings.path + " fsync=" + settings.fsync);
    return journal_.get();
  }

  // [cluster]: this process as a member (docs/cluster.md). Its accounts stay
  // closed until it has read the shared state.
  void make_cluster_member() {
    const ClusterConfig& settings = config_.cluster;
    cluster::MemberOptions options;
    options.redis = settings.redis;
    options.name = settings.name;
    options.fail_after = std::chrono::milliseconds(settings.fail_after_ns / kNanosPerMilli);
    options.on_redis_loss = settings.on_redis_loss;
    options.share_budgets = settings.share_budgets;
    options.budget_slice = settings.budget_slice_percent / 100.0;
    options.share_principal_budgets = settings.share_principal_budgets;
    options.share_exposure = settings.share_exposure;
    options.exposure_headroom = settings.exposure_headroom_percent / 100.0;
    if (!config_.gateway.state_path.empty()) {
      options.known_state_path = config_.gateway.state_path;
      options.known_state_path += ".cluster";
    }
    if (!settings.password_env.empty()) {
      try {
        options.password = credentials().resolve(settings.password_env);
      } catch (const std::runtime_error& error) {
        throw ConfigError(std::string("cluster.password_env: ") + error.what());
      }
    }
    cluster_ = std::make_unique<cluster::Member>(
        *gateway_, std::move(options), [this](std::string_view level, std::string_view event, std::string_view fields) {
          log_.line(level, event, fields);
          if (event == "trading_state_changed") forward_state_change(fields);
        });
  }

  void start() {
    (void)credentials();  // unsafe or unreadable secrets files stop the start here
    if (cluster_) {
      try {
        cluster_->start();
      } catch (const cluster::ClusterStartError& error) {
        throw std::runtime_error(error.what());
      }
    }
    gateway_->start();
    bind_socket();
    start_http();
    signals_.add(SIGTERM);
    signals_.add(SIGINT);
    signals_.add(SIGHUP);
    wait_for_signal();
    accept_next();
    schedule_sweep();
    schedule_watchdog();
    notify_when_ready();
  }

  int run() {
    io_.run();
    return 0;
  }

  void request_stop() {
    asio::post(io_, [this] { begin_shutdown("request"); });
  }

  const std::string& socket_path() const noexcept { return socket_path_; }
  std::string http_url() const { return http_ ? http_->url() : std::string(); }

 private:
  // ---- the HTTP listener (metrics, health, console) --------------------------------

  void start_http() {
    const HttpConfig& settings = config_.http;
    if (!settings.enabled) return;
    if (!settings.loopback && !settings.tls()) {
      log_.line("warn", "http_not_loopback",
                "address=" + settings.address + " why=\"plain HTTP: anyone who can reach it reads the metrics and the console\"");
    }
    start_time_seconds_ = static_cast<double>(clock_.wall_ns()) / 1e9;
    ConsoleContext console{*gateway_, clock_, log_, audit_, hello_throttle_.params, hello_throttle_.window_ns,
                           [this] { return process_metrics(); },
                           [this](std::string scope, guards::TradingState state, std::string by) {
                             asio::post(io_, [this, scope = std::move(scope), state, by = std::move(by)] {
                               if (drop_copy_) drop_copy_->trading_state(scope, state, by);
                             });
                           },
                           settings.tls(), kMaxConsoleSessions};
    console.cluster = cluster_.get();
    console_ = std::make_unique<Console>(std::move(console), config_.auth);
    drop_copy_->observe([this](const Gateway::DropCopyReport& entry) {
      console_->record_execution(entry.report, entry.principal);
    });
    HttpLimits limits;
    limits.max_body_bytes = kMaxHttpBodyBytes;
    limits.host_names = settings.host_names;
    limits.tls_certificate_file = settings.tls_cert;
    limits.tls_private_key_file = settings.tls_key;
    http_ = std::make_unique<HttpListener>(
        settings.address, settings.port, settings.fall_back_to_free_port, limits,
        [this](const HttpRequest& request) { return http_page(request); },
        [this](std::string_view level, std::string_view event, std::string_view fields) {
          log_.line(level, event, fields);
        });
    http_->every(std::chrono::seconds(2), [this] { console_->sample(); });
    http_->start();
  }

  // What the metrics page and the console read of the process: atomics of
  // the journal and this process. Any thread.
  ProcessMetrics process_metrics() const {
    ProcessMetrics process;
    process.version = ORDERGATE_VERSION;
    process.start_time_seconds = start_time_seconds_;
    process.connections_open = connections_open_.load(std::memory_order_relaxed);
    process.connections_accepted = connections_accepted_.load(std::memory_order_relaxed);
    process.journal = journal_ == nullptr                            ? JournalState::disabled
                      : journal_->failed() || !journal_->healthy() ? JournalState::unhealthy
                                                                   : JournalState::healthy;
    if (journal_) {
      process.audit_records_written = journal_->written_sequence();
      process.audit_records_dropped = journal_->dropped_records();
      process.audit_queue_depth = journal_->queue_depth();
      process.audit_syncs = journal_->sync_stats();
    }
    return process;
  }

  // Runs on the listener's thread.
  HttpResponse http_page(const HttpRequest& request) {
    const std::string_view path = request.path;
    if (Console::serves(path)) return console_->handle(request);
    if (request.method != HttpRequest::Method::get) {
      HttpResponse refusal{405, "text/plain; charset=utf-8", "method not allowed\n", {}, {}, {}};
      refusal.headers.emplace_back("Allow", "GET");
      return refusal;
    }
    if (path == "/healthz") return HttpResponse{200, "application/json", health_json(), {}, {}, {}};
    if (path == "/readyz") {
      Readiness readiness = check_readiness(*gateway_, gateway_->metrics(), process_metrics().journal);
      return HttpResponse{readiness.ready ? 200U : 503U, "application/json", std::move(readiness.json), {}, {}, {}};
    }
    if (path == "/metrics") {
      return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                          render_metrics(*gateway_, gateway_->metrics(), process_metrics()), {}, {}, {}};
    }
    return HttpResponse{404, "text/plain; charset=utf-8", "not found\n", {}, {}, {}};
  }

  // ---- socket setup --------------------------------------------------------

  void bind_socket() {
    if (socket_path_.size() >= sizeof(sockaddr_un::sun_path)) {
      throw std::runtime_error("socket path is too long (max " + std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                               " bytes): " + socket_path_);
    }
    struct stat info {};
    if (::lstat(socket_path_.c_str(), &info) == 0) {
      if (!S_ISSOCK(info.st_mode)) {
        throw std::runtime_error(socket_path_ + " exists and is not a socket; remove it or choose another socket_path");
      }
      // A socket file: live if something accepts on it; stale otherwise.
      asio::local::stream_protocol::socket probe(io_);
      boost::system::error_code error;
      probe.connect(asio::local::stream_protocol::endpoint(socket_path_), error);
      if (!error) {
        throw std::runtime_error("another process is serving " + socket_path_ + "; refusing to take it over");
      }
      if (error != asio::error::connection_refused) {
        throw std::runtime_error("cannot check the existing socket " + socket_path_ + ": " + error.message());
      }
      if (::unlink(socket_path_.c_str()) != 0) {
        throw std::runtime_error("cannot remove the stale socket " + socket_path_ + ": " + error_text(errno));
      }
      log_.line("warn", "stale_socket_replaced", "path=" + socket_path_);
    }
    // Create the socket file with no group/other bits from the first instant.
    // A process-wide umask for a moment: a file another thread creates meanwhile only gets stricter modes.
    const mode_t previous = ::umask(0177);
    boost::system::error_code error;
    acceptor_.open(asio::local::stream_protocol(), error);
    if (!error) acceptor_.bind(asio::local::stream_protocol::endpoint(socket_path_), error);
    ::umask(previous);
    if (error) throw std::runtime_error("cannot bind " + socket_path_ + ": " + error.message());
    bound_ = true;
    if (config_.server.socket_mode == 0660) {
      // NOLINTNEXTLINE(concurrency-mt-unsafe): start-up only; no other thread looks up groups
      const group* entry = ::getgrnam(config_.server.socket_group.c_str());
      if (entry == nullptr) throw std::runtime_error("socket_group '" + config_.server.socket_group + "' does not exist");
      if (::chown(socket_path_.c_str(), static_cast<uid_t>(-1), entry->gr_gid) != 0 ||
          ::chmod(socket_path_.c_str(), 0660) != 0) {
        throw std::runtime_error("cannot set group/mode of " + socket_path_ + ": " + error_text(errno));
      }
    }
    acceptor_.listen(asio::socket_base::max_listen_connections, error);
    if (error) throw std::runtime_error("cannot listen on " + socket_path_ + ": " + error.message());
  }

  // ---- accepting -----------------------------------------------------------

  void accept_next() {
    auto connection = std::make_shared<Connection>(io_, *this, clock_, limits_);
    acceptor_.async_accept(connection->socket(), [this, connection](const boost::system::error_code& error) {
      if (error) {
        if (error != asio::error::operation_aborted && !shutting_down_) {
          log_.line("error", "accept_failed", "error=\"" + error.message() + "\"");
          accept_next();
        }
        return;
      }
      on_accept(connection);
      if (!shutting_down_) accept_next();
    });
  }

  void on_accept(const std::shared_ptr<Connection>& connection) {
    connection->accepted(++connection_counter_);
    connections_.emplace(connection->number(), connection);
    connections_accepted_.fetch_add(1, std::memory_order_relaxed);
    connections_open_.store(connections_.size(), std::memory_order_relaxed);
    const auto& server = config_.server;
    const bool uid_ok = server.allowed_uids.empty() ||
                        std::find(server.allowed_uids.begin(), server.allowed_uids.end(), connection->peer_uid) !=
                            server.allowed_uids.end();
    const bool gid_ok = server.allowed_gids.empty() ||
                        std::find(server.allowed_gids.begin(), server.allowed_gids.end(), connection->peer_gid) !=
                            server.allowed_gids.end();
    if (!uid_ok || !gid_ok) {
      log_.line("warn", "peer_refused", "uid=" + std::to_string(connection->peer_uid) +
                                            " gid=" + std::to_string(connection->peer_gid));
      audit_connection_event(audit_, clock_, AuditEventType::hello_refused, *connection, Reason::PERMISSION_DENIED,
                             "peer not allowed");
      protocol::write_error(connection->output(), {}, protocol::ErrorCode::peer_not_allowed,
                            "this uid/gid may not connect");
      connection->close_after_flush();
      connection->flush();
      return;
    }
    if (connections_.size() > server.max_connections) {
      protocol::write_error(connection->output(), {}, protocol::ErrorCode::too_many_connections,
                            "connection limit reached");
      connection->close_after_flush();
      connection->flush();
      return;
    }
    log_.line("info", "connected", "conn=" + std::to_string(connection->number()) +
                                       " uid=" + std::to_string(connection->peer_uid) +
                                       " pid=" + std::to_string(connection->peer_pid));
    connection->start_reading();
  }

  // ---- what connections ask of the process -----------------------------------

  void on_line(Connection& connection, std::string_view line) override {
    handle_line(*handlers_, connection, line);
    if (connection.held()) watch_held_replies();
  }

  void on_close(Connection& connection, std::string_view why) override {
    if (why == "slow_reader") log_.line("warn", "slow_reader_dropped", "conn=" + std::to_string(connection.number()));
    const std::size_t count = cancel_on_disconnect(*gateway_, connection);
    if (count > 0) {
      log_.line("info", "cancel_on_disconnect",
                "conn=" + std::to_string(connection.number()) + " orders=" + std::to_string(count));
    }
    connection.session.close();
    for (auto& retired : connection.retired) retired.session.close();
    connection.retired.clear();
    log_.line("info", "disconnected", "conn=" + std::to_string(connection.number()) + " why=" + std::string(why));
    const std::uint64_t number = connection.number();
    // Erase later: we may be inside a handler holding a reference.
    asio::post(io_, [this, number] {
      connections_.erase(number);
      connections_open_.store(connections_.size(), std::memory_order_relaxed);
      if (shutting_down_ && connections_.empty()) finish_shutdown();
    });
  }

  std::uint64_t durable_sequence() const noexcept override {
    return journal_ ? journal_->durable_sequence() : 0;
  }

  std::size_t sessions_of(PrincipalId principal) const {
    std::size_t count = 0;
    for (const auto& [number, connection] : connections_) {
      if (connection->session.is_open() && connection->session.principal() == principal) ++count;
      for (const auto& retired : connection->retired) {
        if (retired.session.is_open() && retired.session.principal() == principal) ++count;
      }
    }
    return count;
  }

  bool journal_failed() const noexcept override { return journal_ && journal_->failed(); }

  // While replies are held for the journal, checks every few milliseconds
  // whether it failed: then no durable mark comes, and the replies must
  // not wait for one.
  void watch_held_replies() {
    if (hold_watch_armed_ || shutting_down_) return;
    hold_watch_armed_ = true;
    hold_timer_.expires_after(std::chrono::milliseconds(10));
    hold_timer_.async_wait([this](const boost::system::error_code& error) {
      hold_watch_armed_ = false;
      if (error) return;
      std::vector<std::shared_ptr<Connection>> held;
      for (auto& [number, connection] : connections_) {
        if (connection->held()) held.push_back(connection);
      }
      if (held.empty()) return;
      if (!journal_failed()) {
        watch_held_replies();
        return;
      }
      note_journal_failure();
      for (auto& connection : held) connection->flush();
    });
  }

  // Logs the journal's failure once.
  void note_journal_failure() {
    if (journal_failure_logged_ || !journal_failed()) return;
    journal_failure_logged_ = true;
    log_.line("error", "audit_failed", "why=\"" + journal_->error() + "\" effect=\"new orders refused\"");
  }

  // Called on the journal's writer thread when records became durable.
  void wake_durable() {
    if (!durable_pending_.exchange(true, std::memory_order_acq_rel)) {
      asio::post(io_, [this] {
        durable_pending_.store(false, std::memory_order_release);
        std::vector<std::shared_ptr<Connection>> held;
        for (auto& [number, connection] : connections_) {
          if (connection->held()) held.push_back(connection);
        }
        for (auto& connection : held) connection->flush();
      });
    }
  }

  // ---- execution reports -----------------------------------------------------

  // Called on a broker thread: wake the I/O thread once per batch, unless
  // it is waiting for reports right now (after_read) and takes them itself.
  // Both flags are seq_cst: after_read clears `io_spinning_` and then reads
  // `wake_pending_`, this sets `wake_pending_` and then reads `io_spinning_`,
  // so at least one of the two sees the other's store and no batch waits.
  void wake() {
    if (!wake_pending_.exchange(true, std::memory_order_seq_cst)) {
      if (io_spinning_.load(std::memory_order_seq_cst)) return;
      asio::post(io_, [this] { deliver_reports(); });
    }
  }

  // The lines of one read were handled; their replies are not written yet.
  // With `reply_spin`, when the read had a command accepted, polls for
  // reports until one reaches this connection or the time is up: the
  // replies and the reports then leave in one write.
  void after_read(Connection& connection) override {
    if (!connection.awaiting_reports) return;
    connection.awaiting_reports = false;
    const std::int64_t spin_ns = config_.server.reply_spin_ns;
    if (spin_ns <= 0 || connection.closed()) return;
    io_spinning_.store(true, std::memory_order_seq_cst);
    const std::int64_t deadline = clock_.monotonic_ns() + spin_ns;
    for (;;) {
      if (wake_pending_.load(std::memory_order_acquire) && deliver_reports(&connection)) break;
      if (clock_.monotonic_ns() >= deadline) break;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    io_spinning_.store(false, std::memory_order_seq_cst);
    if (wake_pending_.load(std::memory_order_seq_cst)) deliver_reports();
  }

  // The gateway's own trading-state changes (a broker thread): to the
  // drop copy, on the I/O thread. `fields`: scope=.. state=.. by=..
  void forward_state_change(std::string_view fields) {
    auto value = [&](std::string_view key) {
      const std::size_t at = fields.find(key);
      if (at == std::string_view::npos) return std::string();
      const std::string_view rest = fields.substr(at + key.size());
      return std::string(rest.substr(0, rest.find(' ')));
    };
    std::string scope = value("scope=");
    std::string by = value("by=");
    const std::string state = value("state=");
    const guards::TradingState parsed = state == "HALTED"     ? guards::TradingState::halted
                                        : state == "REDUCING" ? guards::TradingState::reducing
                                                              : guards::TradingState::active;
    asio::post(io_, [this, scope = std::move(scope), by = std::move(by), parsed] {
      if (drop_copy_) drop_copy_->trading_state(scope, parsed, by);
    });
  }

  // Writes every session's waiting reports to its connection. True when one
  // of them was for `waiting`.
  bool deliver_reports(const Connection* waiting = nullptr) {
    wake_pending_.store(false, std::memory_order_seq_cst);
    if (drop_copy_) drop_copy_->deliver_executions();
    ExecutionReport report;
    bool reached = false;
    for (auto& [number, connection] : connections_) {
      if (connection->closed()) continue;
      bool any = false;
      while (connection->session.poll(report)) {
        write_report(*connection, report);
        any = true;
      }
      for (auto& retired : connection->retired) {
        while (retired.session.poll(report)) {
          write_report(*connection, report);
          any = true;
        }
      }
      if (any) {
        reached = reached || connection.get() == waiting;
        connection->flush();
      }
    }
    return reached;
  }

  void write_report(Connection& connection, const ExecutionReport& report) {
    protocol::write_execution(connection.output(), report, gateway_->accounts()[report.account_id].name.view(),
                              gateway_->instruments()[report.instrument_id].name.view());
  }

  void schedule_sweep() {
    sweep_timer_.expires_after(std::chrono::seconds(1));
    sweep_timer_.async_wait([this](const boost::system::error_code& error) {
      if (error || shutting_down_) return;
      const std::int64_t now = clock_.monotonic_ns();
      std::vector<std::shared_ptr<Connection>> idle;
      for (auto& [number, connection] : connections_) {
        if (!connection->closed() && now - connection->last_activity_ns() > config_.server.idle_timeout_ns) {
          idle.push_back(connection);
        }
      }
      for (auto& connection : idle) connection->close("idle_timeout");
      summarize_throttled_hellos(*handlers_, false);
      note_journal_failure();
      // One order-table scan per principal with retired sessions, not one
      // per retired session.
      std::unordered_map<std::string, std::vector<SessionId>> open_sessions;
      auto has_open_orders = [&](const std::string& principal, SessionId session) {
        auto found = open_sessions.find(principal);
        if (found == open_sessions.end()) {
          found = open_sessions.emplace(principal, sessions_with_open_orders(*gateway_, principal)).first;
        }
        return std::find(found->second.begin(), found->second.end(), session) != found->second.end();
      };
      for (auto& [number, connection] : connections_) {
        auto& retired = connection->retired;
        // Closed only after two quiet sweeps in a row, so the report that
        // ended the last order (queued just after it stopped being open)
        // has been delivered.
        bool wrote = false;
        for (auto it = retired.begin(); it != retired.end();) {
          ExecutionReport report;
          while (it->session.poll(report)) {
            write_report(*connection, report);
            wrote = true;
          }
          const bool quiet = !has_open_orders(it->principal, it->session.id());
          if (quiet && it->quiet) {
            it->session.close();
            it = retired.erase(it);
          } else {
            it->quiet = quiet;
            ++it;
          }
        }
        if (wrote) connection->flush();
      }
      schedule_sweep();
    });
  }

  // ---- the service manager (systemd Type=notify) -------------------------------

  // READY=1 only once every account is reconciled: the socket is open and
  // the journal resumed before start() returns, reconciliation runs on the
  // broker threads. Polled from the loop until then.
  void notify_when_ready() {
    if (shutting_down_ || service_ready_) return;
    if (gateway_->ready()) {
      service_ready_ = true;
      ready_timer_.cancel();
      log_.line("info", "service_ready", "socket=" + socket_path_);
      notifier_.ready("serving " + socket_path_);
      return;
    }
    if (!reconciling_announced_) {
      reconciling_announced_ = true;
      notifier_.status("reconciling accounts with their brokers");
    }
    // account_ready events call this too; the poll is a safety net.
    ready_timer_.expires_after(std::chrono::milliseconds(100));
    ready_timer_.async_wait([this](const boost::system::error_code& error) {
      if (!error) notify_when_ready();
    });
  }

  // WATCHDOG=1 from the I/O loop itself, at half of WatchdogSec=: a loop
  // that is stuck stops the pings and systemd restarts the process.
  void schedule_watchdog() {
    const auto period = notifier_.watchdog_period();
    if (period.count() == 0) return;
    notifier_.watchdog();
    watchdog_timer_.expires_after(period / 2);
    watchdog_timer_.async_wait([this](const boost::system::error_code& error) {
      if (!error) schedule_watchdog();
    });
  }

  // ---- signals, reload and shutdown ------------------------------------------

  void wait_for_signal() {
    signals_.async_wait([this](const boost::system::error_code& error, int number) {
      if (error) return;
      if (number == SIGHUP) {
        std::string problem;
        notifier_.reloading();
        reload(problem);
        // Not ready before reconciliation, reload or not.
        if (service_ready_) {
          notifier_.ready(problem.empty() ? "serving " + socket_path_ : "reload refused, previous configuration kept");
        } else {
          notifier_.status("reconciling accounts with their brokers");
        }
        wait_for_signal();
        return;
      }
      begin_shutdown(number == SIGTERM ? "SIGTERM" : "SIGINT");
    });
  }

  bool reload(std::string& problem) {
    if (config_.source.empty() || config_.source[0] == '(') {
      problem = "the embedded default configuration cannot be reloaded";
      log_.line("warn", "reload_refused", "why=\"embedded default\"");
      return false;
    }
    std::string_view refused_as = "invalid configuration";
    try {
      ProcessConfig next = load_config_file(config_.source);
      if (next.environment != config_.environment) {
        throw ConfigError(config_.source + ": key 'environment': cannot change from '" + config_.environment +
                          "' to '" + next.environment + "' by a reload (credentials are read at start); restart");
      }
      // Production rules hold for a reloaded file as for a started one.
      if (const auto violations = production_violations(next); !violations.empty()) {
        refused_as = "production rule";
        std::string text = config_.source + ": breaks a production rule:";
        for (const std::string& violation : violations) text += " " + violation + ";";
        text.pop_back();
        throw ConfigError(text);
      }
      gateway_->reload(next.gateway);
      // A principal the reload added may be named in the shared state.
      if (cluster_) cluster_->read_again();
      end_sessions_of_replaced_tokens(next.auth);
      config_.auth = next.auth;
      if (console_) console_->set_auth(config_.auth);
      log_.line("info", "reloaded", "source=" + config_.source);
      return true;
    } catch (const ConfigError& error) {
      problem = error.what();
      log_.line("error", "reload_refused", "why=\"" + problem + "\"");
      AuditEvent event;
      event.type = AuditEventType::config_reload_refused;
      event.detail.assign(refused_as);
      event.time_ns = clock_.wall_ns();
      if (audit_ != nullptr) audit_->record(event);
      return false;
    }
  }

  // A session lives on the token it was opened with: when a reload removes
  // or rotates a principal's token, its sessions end (as with
  // revoke_sessions) and it must hello again with the new one.
  void end_sessions_of_replaced_tokens(const std::vector<PrincipalAuth>& next) {
    for (const PrincipalAuth& old : config_.auth) {
      if (!old.has_token) continue;
      const auto same_name = [&](const PrincipalAuth& auth) { return auth.name == old.name; };
      const auto found = std::find_if(next.begin(), next.end(), same_name);
      const bool kept = found != next.end() && found->has_token &&
                        security::digest_equal(found->token_sha256, old.token_sha256);
      if (kept || !gateway_->find_principal(old.name)) continue;
      gateway_->revoke_sessions(old.name);
      log_.line("warn", "sessions_revoked", "principal=" + old.name + " why=token_replaced");
    }
  }

  void begin_shutdown(std::string_view why) {
    if (shutting_down_) return;
    shutting_down_ = true;
    notifier_.stopping();
    log_.line("info", "shutdown", "why=" + std::string(why));
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    signals_.cancel(ignored);
    sweep_timer_.cancel();
    hold_timer_.cancel();
    ready_timer_.cancel();
    summarize_throttled_hellos(*handlers_, true);
    // Cancel-on-disconnect orders go out before the brokers stop, then the
    // brokers finish everything queued; reports still reach the clients.
    for (auto& [number, connection] : connections_) {
      connection->close_after_flush();
      cancel_on_disconnect(*gateway_, *connection);
    }
    gateway_->stop();
    deliver_reports();
    std::vector<std::shared_ptr<Connection>> open;
    for (auto& [number, connection] : connections_) open.push_back(connection);
    for (auto& connection : open) connection->flush();
    if (connections_.empty()) {
      finish_shutdown();
      return;
    }
    // Clients that do not read their last replies do not hold the exit.
    drain_timer_.expires_after(std::chrono::seconds(2));
    drain_timer_.async_wait([this](const boost::system::error_code& error) {
      if (error) return;
      std::vector<std::shared_ptr<Connection>> rest;
      for (auto& [number, connection] : connections_) rest.push_back(connection);
      for (auto& connection : rest) connection->close("shutdown");
    });
  }

  void finish_shutdown() {
    drain_timer_.cancel();
    if (http_) http_->stop();
    if (journal_) {
      journal_->stop();
      log_.line("info", "audit_closed", "last_sequence=" + std::to_string(journal_->last_sequence()));
    }
    if (bound_) {
      ::unlink(socket_path_.c_str());
      bound_ = false;
    }
    log_.line("info", "stopped");
    io_.stop();
  }

  ProcessConfig config_;
  const Clock& clock_;
  Log log_;
  std::unique_ptr<security::CredentialSources> credentials_;
  std::unique_ptr<cluster::Member> cluster_;  // [cluster]; declared after the gateway, stopped first
  std::unique_ptr<AuditJournal> journal_;  // declared before the gateway: outlives it
  bool hold_replies_ = false;
  std::atomic<bool> durable_pending_{false};
  AuditSink* audit_;
  std::unique_ptr<Gateway> gateway_;
  protocol::Decoder decoder_;
  asio::io_context io_{1};
  asio::local::stream_protocol::acceptor acceptor_;
  asio::signal_set signals_;
  asio::steady_timer sweep_timer_;
  asio::steady_timer drain_timer_;
  asio::steady_timer hold_timer_;
  asio::steady_timer ready_timer_;
  asio::steady_timer watchdog_timer_;
  ServiceNotifier notifier_;
  bool reconciling_announced_ = false;
  bool service_ready_ = false;
  bool hold_watch_armed_ = false;
  bool journal_failure_logged_ = false;
  std::string socket_path_;
  bool bound_ = false;
  bool shutting_down_ = false;
  std::atomic<bool> wake_pending_{false};
  std::atomic<bool> io_spinning_{false};  // after_read is polling for reports (I/O thread writes)
  std::uint64_t connection_counter_ = 0;
  std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections_;
  HelloThrottle hello_throttle_;
  guards::GcraParams read_budget_;
  ConnectionLimits limits_;
  std::unique_ptr<HandlerContext> handlers_;
  std::unique_ptr<DropCopy> drop_copy_;
  // Reports the drop copy holds while the I/O thread is busy: a reader
  // that falls further behind than this loses its subscription.
  static constexpr std::uint32_t kDropCopyCapacity = 16384;
  // Written by the I/O thread, read by the HTTP listener's.
  std::atomic<std::uint64_t> connections_open_{0};
  std::atomic<std::uint64_t> connections_accepted_{0};
  double start_time_seconds_ = 0;
  static constexpr std::size_t kMaxConsoleSessions = 64;
  static constexpr std::size_t kMaxHttpBodyBytes = 4096;  // a login form or an admin action
  std::unique_ptr<Console> console_;    // used by the listener's thread; destroyed after it stopped
  std::unique_ptr<HttpListener> http_;  // last: stopped before anything it reads goes
};

}  // namespace server_detail

Server::Server(ProcessConfig config, std::ostream& log, const Clock& clock, AuditSink* audit)
    : impl_(std::make_unique<server_detail::Process>(std::move(config), log, clock, audit)) {}
Server::~Server() = default;
void Server::start() { impl_->start(); }
int Server::run() { return impl_->run(); }
void Server::request_stop() { impl_->request_stop(); }
const std::string& Server::socket_path() const noexcept { return impl_->socket_path(); }
std::string Server::http_url() const { return impl_->http_url(); }

}  // namespace ordergate
