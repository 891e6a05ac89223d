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
#include <deque>
#include <memory>
#include <mutex>
#include <ostream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "ordergate/audit/journal.hpp"
#include "ordergate/gateway/gateway.hpp"
#include "ordergate/guards/rate_limit.hpp"
#include "ordergate/guards/validate.hpp"
#include "ordergate/security/credentials.hpp"
#include "ordergate/security/token.hpp"
#include "protocol.hpp"

namespace ordergate {

std::string default_socket_path() {
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime != nullptr && runtime[0] == '/') {
    struct stat info {};
    if (::stat(runtime, &info) == 0 && S_ISDIR(info.st_mode)) return std::string(runtime) + "/ordergate.sock";
  }
  return "./ordergate.sock";
}

namespace detail {

namespace asio = boost::asio;
using local_socket = asio::local::stream_protocol::socket;
using protocol::JsonWriter;
using protocol::Op;

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::uint32_t kNoUid = 0xFFFFFFFFu;

struct Connection {
  explicit Connection(asio::io_context& io) : socket(io) {}
  local_socket socket;
  std::uint64_t number = 0;
  std::uint32_t peer_uid = kNoUid;
  std::uint32_t peer_gid = kNoUid;
  std::int32_t peer_pid = 0;
  std::unique_ptr<char[]> read_buffer = std::make_unique<char[]>(kReadChunk);
  std::string input;        // bytes read but not yet split into lines
  std::string output;       // replies waiting for the socket
  std::string in_flight;    // the write the socket is doing now
  bool writing = false;
  bool closing = false;     // no more requests; close once output is written
  bool closed = false;
  std::uint32_t errors = 0;
  std::int64_t last_activity_ns = 0;
  Session session;
  // Sessions this connection replaced with a new hello that still have
  // working orders: their reports must still reach this connection.
  struct Retired {
    Session session;
    std::string principal;  // the session's own principal: a new hello may be another's
    bool cancel_on_disconnect = false;
    bool quiet = false;     // no open orders at the last sweep
  };
  std::vector<Retired> retired;
  std::string principal;
  PrincipalId principal_id = 0;
  bool cancel_on_disconnect = false;
  // With fsync "always", output is held until this audit record is durable.
  std::uint64_t hold_sequence = 0;
};

// key=value log lines. Values are fixed words, names and numbers chosen by
// the code; client input and secrets never reach them.
class Log {
 public:
  Log(std::ostream& out, const Clock& clock) : out_(out), clock_(clock) {}
  // Broker threads log too; a line is written whole.
  void line(std::string_view level, std::string_view event, std::string_view fields = {}) {
    const std::lock_guard<std::mutex> lock(mutex_);
    out_ << "ts=" << clock_.wall_ns() << " level=" << level << " event=" << event;
    if (!fields.empty()) out_ << ' ' << fields;
    out_ << '\n';
    out_.flush();
  }

 private:
  std::ostream& out_;
  const Clock& clock_;
  std::mutex mutex_;
};

class ServerImpl {
 public:
  ServerImpl(ProcessConfig config, std::ostream& log, const Clock& clock, AuditSink* audit)
      : config_(std::move(config)),
        clock_(clock),
        log_(log, clock),
        audit_(audit != nullptr ? audit : open_journal()),
        decoder_(config_.server.max_line_bytes),
        acceptor_(io_),
        signals_(io_),
        sweep_timer_(io_),
        drain_timer_(io_) {
    config_.gateway.on_execution_ready = [this] { wake(); };
    add_brokers();
    gateway_ = std::make_unique<Gateway>(config_.gateway, clock_, audit_);
    socket_path_ = config_.server.socket_path.empty() ? default_socket_path() : config_.server.socket_path;
    guards::RateWindow window;
    std::string error;
    if (!guards::parse_rate_window(config_.server.hello_rate_limit, window, error)) {
      throw ConfigError("gateway.hello_rate_limit: " + error);
    }
    hello_params_ = guards::GcraParams::from(window);
  }

  ~ServerImpl() {
    if (bound_) ::unlink(socket_path_.c_str());
    // Brokers first (their reports are audited), then the journal, while
    // the gateway it takes names from is still alive.
    if (gateway_) gateway_->stop();
    if (journal_) journal_->stop();
  }

  // Credential sources of the running environment, read once on first use;
  // a missing or unsafe secrets file stops the start with its message.
  const security::CredentialSources& credentials() {
    if (!credentials_) {
      try {
        credentials_ = std::make_unique<security::CredentialSources>(config_.credentials);
      } catch (const std::runtime_error& error) {
        throw ConfigError(std::string("[secrets]: ") + error.what());
      }
    }
    return *credentials_;
  }

  // Builds a factory for each [brokers.<name>], with its credentials
  // resolved now (through the environment's prefix) so a missing key stops
  // the start with the variable's name.
  void add_brokers() {
    for (const BrokerEntry& entry : config_.brokers) {
      auto resolve = [&](const std::string& name, const char* key) {
        try {
          return credentials().resolve(name);
        } catch (const std::runtime_error& error) {
          throw ConfigError("brokers." + entry.name + "." + key + ": " + error.what());
        }
      };
      auto log = [this, name = entry.name](adapters::tls::LogLevel level, std::string_view line) {
        log_.line(level == adapters::tls::LogLevel::error ? "error" : level == adapters::tls::LogLevel::warning ? "warn" : "info",
                  "broker", "broker=" + name + " " + std::string(line));
      };
      if (entry.kind == "oanda") {
        adapters::oanda::OandaSettings settings = entry.oanda.clone();
        settings.token = resolve(entry.token_env, "token_env");
        settings.log = log;
        config_.gateway.brokers.emplace_back(entry.name, adapters::oanda::make_oanda_factory(std::move(settings)));
      } else {
        adapters::binance::BinanceSettings settings = entry.binance.clone();
        settings.api_key = resolve(entry.api_key_env, "api_key_env");
        settings.secret_key = resolve(entry.secret_key_env, "secret_key_env");
        settings.log = log;
        config_.gateway.brokers.emplace_back(entry.name, adapters::binance::make_binance_factory(std::move(settings)));
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

  void start() {
    (void)credentials();  // unsafe or unreadable secrets files stop the start here
    gateway_->start();
    bind_socket();
    signals_.add(SIGTERM);
    signals_.add(SIGINT);
    signals_.add(SIGHUP);
    wait_for_signal();
    accept_next();
    schedule_sweep();
  }

  int run() {
    io_.run();
    return 0;
  }

  void request_stop() {
    asio::post(io_, [this] { begin_shutdown("request"); });
  }

  const std::string& socket_path() const noexcept { return socket_path_; }

 private:
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
      local_socket probe(io_);
      boost::system::error_code error;
      probe.connect(asio::local::stream_protocol::endpoint(socket_path_), error);
      if (!error) {
        throw std::runtime_error("another process is serving " + socket_path_ + "; refusing to take it over");
      }
      if (error != asio::error::connection_refused) {
        throw std::runtime_error("cannot check the existing socket " + socket_path_ + ": " + error.message());
      }
      if (::unlink(socket_path_.c_str()) != 0) {
        throw std::runtime_error("cannot remove the stale socket " + socket_path_ + ": " + std::strerror(errno));
      }
      log_.line("warn", "stale_socket_replaced", "path=" + socket_path_);
    }
    // Create the socket file with no group/other bits from the first instant.
    const mode_t previous = ::umask(0177);
    boost::system::error_code error;
    acceptor_.open(asio::local::stream_protocol(), error);
    if (!error) acceptor_.bind(asio::local::stream_protocol::endpoint(socket_path_), error);
    ::umask(previous);
    if (error) throw std::runtime_error("cannot bind " + socket_path_ + ": " + error.message());
    bound_ = true;
    if (config_.server.socket_mode == 0660) {
      const group* entry = ::getgrnam(config_.server.socket_group.c_str());
      if (entry == nullptr) throw std::runtime_error("socket_group '" + config_.server.socket_group + "' does not exist");
      if (::chown(socket_path_.c_str(), static_cast<uid_t>(-1), entry->gr_gid) != 0 ||
          ::chmod(socket_path_.c_str(), 0660) != 0) {
        throw std::runtime_error("cannot set group/mode of " + socket_path_ + ": " + std::strerror(errno));
      }
    }
    acceptor_.listen(asio::socket_base::max_listen_connections, error);
    if (error) throw std::runtime_error("cannot listen on " + socket_path_ + ": " + error.message());
  }

  // ---- accepting -----------------------------------------------------------

  void accept_next() {
    auto connection = std::make_shared<Connection>(io_);
    acceptor_.async_accept(connection->socket, [this, connection](const boost::system::error_code& error) {
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
    connection->number = ++connection_counter_;
    connection->last_activity_ns = clock_.monotonic_ns();
    ucred credentials{};
    socklen_t length = sizeof credentials;
    if (::getsockopt(connection->socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0) {
      connection->peer_uid = credentials.uid;
      connection->peer_gid = credentials.gid;
      connection->peer_pid = credentials.pid;
    }
    connections_.emplace(connection->number, connection);
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
      audit_event(AuditEventType::hello_refused, *connection, Reason::PERMISSION_DENIED, "peer not allowed");
      send_error(*connection, {}, protocol::ErrorCode::peer_not_allowed, "this uid/gid may not connect");
      close_after_flush(*connection);
      flush(connection);
      return;
    }
    if (connections_.size() > server.max_connections) {
      send_error(*connection, {}, protocol::ErrorCode::too_many_connections, "connection limit reached");
      close_after_flush(*connection);
      flush(connection);
      return;
    }
    log_.line("info", "connected", "conn=" + std::to_string(connection->number) +
                                       " uid=" + std::to_string(connection->peer_uid) +
                                       " pid=" + std::to_string(connection->peer_pid));
    read_next(connection);
  }

  // ---- reading ---------------------------------------------------------------

  void read_next(const std::shared_ptr<Connection>& connection) {
    if (connection->closing || connection->closed) return;
    connection->socket.async_read_some(
        asio::buffer(connection->read_buffer.get(), kReadChunk),
        [this, connection](const boost::system::error_code& error, std::size_t size) {
          if (connection->closed) return;
          if (error) {
            close(*connection, error == asio::error::eof ? "eof" : "read_error");
            return;
          }
          connection->last_activity_ns = clock_.monotonic_ns();
          connection->input.append(connection->read_buffer.get(), size);
          process_input(*connection);
          flush(connection);
          read_next(connection);
        });
  }

  void process_input(Connection& connection) {
    std::size_t begin = 0;
    const std::size_t limit = config_.server.max_line_bytes;
    while (!connection.closing) {
      const std::size_t newline = connection.input.find('\n', begin);
      if (newline == std::string::npos) break;
      std::string_view line(connection.input.data() + begin, newline - begin);
      begin = newline + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.size() > limit) {
        oversized(connection);
        return;
      }
      if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
      handle_line(connection, line);
    }
    connection.input.erase(0, begin);
    if (connection.input.size() > limit) oversized(connection);
  }

  void oversized(Connection& connection) {
    send_error(connection, {}, protocol::ErrorCode::line_too_long,
               "line longer than " + std::to_string(config_.server.max_line_bytes) + " bytes; closing");
    connection.input.clear();
    close_after_flush(connection);
  }

  // ---- requests --------------------------------------------------------------

  void handle_line(Connection& connection, std::string_view line) {
    protocol::Request request;
    protocol::DecodeError error;
    if (!decoder_.decode(line, request, error)) {
      if (error.reject_reason != Reason::OK) {
        send_rejected(connection, request, error.reject_reason, 0);
      } else {
        send_error(connection, request.id_json, error.code, error.message);
      }
      count_error(connection);
      return;
    }
    if (request.op != Op::hello && request.op != Op::bye) {
      // Revocation, expiry and disabling apply to every op at once, not only
      // to orders: a revoked admin session must not resume trading.
      const Reason status = connection.session.status();
      if (status != Reason::OK) {
        send_rejected(connection, request, status, 0);
        return;
      }
    }
    switch (request.op) {
      case Op::hello: return hello(connection, request);
      case Op::submit: return submit(connection, request);
      case Op::cancel: return cancel(connection, request);
      case Op::cancel_all: return cancel_all(connection, request);
      case Op::orders: return orders(connection, request);
      case Op::positions: return positions(connection, request);
      case Op::ping: return simple_reply(connection, request, "pong");
      case Op::bye:
        simple_reply(connection, request, "bye");
        close_after_flush(connection);
        return;
      case Op::halt:
      case Op::reduce:
      case Op::resume:
      case Op::disable_principal:
      case Op::enable_principal:
      case Op::revoke_sessions:
      case Op::reload:
        return admin(connection, request);
    }
  }

  void count_error(Connection& connection) {
    if (++connection.errors >= config_.server.max_errors) {
      send_error(connection, {}, protocol::ErrorCode::too_many_errors, "too many malformed requests; closing");
      close_after_flush(connection);
    }
  }

  void hello(Connection& connection, const protocol::Request& request) {
    GcraCellFor& throttle = hello_throttle_[connection.peer_uid];
    const std::int64_t now = clock_.monotonic_ns();
    if (const std::int64_t wait = guards::gcra_wait(throttle.cell, hello_params_, now); wait > 0) {
      audit_event(AuditEventType::hello_refused, connection, Reason::RATE_LIMITED, "throttled");
      send_rejected(connection, request, Reason::RATE_LIMITED, wait);
      return;
    }
    // Compare against every principal so timing does not tell which matched.
    const std::optional<security::Sha256Digest> presented = security::try_sha256(request.token);
    const PrincipalAuth* match = nullptr;
    for (const PrincipalAuth& auth : config_.auth) {
      if (presented && auth.has_token && security::digest_equal(*presented, auth.token_sha256)) match = &auth;
    }
    const std::optional<PrincipalId> id = match != nullptr ? gateway_->find_principal(match->name) : std::nullopt;
    if (!id || !gateway_->principal_enabled(*id)) {
      (void)guards::gcra_consume(throttle.cell, hello_params_, now);
      log_.line("warn", "hello_refused", "conn=" + std::to_string(connection.number) +
                                             " uid=" + std::to_string(connection.peer_uid));
      audit_event(AuditEventType::hello_refused, connection, Reason::UNAUTHENTICATED, "bad token");
      send_rejected(connection, request, Reason::UNAUTHENTICATED, 0);
      return;
    }
    try {
      Session session = gateway_->open_session(match->name);
      if (connection.session.is_open()) retire(connection, std::move(connection.session));
      connection.session = std::move(session);
    } catch (const std::invalid_argument&) {
      send_rejected(connection, request, Reason::UNAUTHENTICATED, 0);
      return;
    }
    connection.principal = match->name;
    connection.principal_id = *id;
    connection.cancel_on_disconnect = match->cancel_on_disconnect;
    audit_event(AuditEventType::hello_accepted, connection, Reason::OK, "");
    log_.line("info", "hello", "conn=" + std::to_string(connection.number) + " principal=" + connection.principal);
    std::string& out = connection.output;
    JsonWriter json(out);
    json.begin().string("type", "welcome");
    if (!request.id_json.empty()) json.raw("id", request.id_json);
    const std::int64_t remaining = connection.session.expires_at_ns() - clock_.monotonic_ns();
    json.string("principal", connection.principal).integer("expires_in", remaining / kNanosPerSecond).end();
  }

  void submit(Connection& connection, const protocol::Request& request) {
    if (journal_ && !journal_->healthy()) {
      // Fail closed: no order goes out that the audit trail cannot record.
      send_rejected(connection, request, Reason::AUDIT_UNAVAILABLE, 0);
      return;
    }
    OrderRequest order;
    order.account = request.account;
    order.symbol = request.symbol;
    order.side = parse_side(request.side);
    order.type = parse_order_type(request.type);
    order.time_in_force = parse_time_in_force(request.tif);
    order.quantity = request.qty;
    order.price = request.price;
    order.stop_price = request.stop_price;
    order.stop_loss = request.stop_loss;
    order.take_profit = request.take_profit;
    order.expire_time_ns = request.expire_time_ns;
    order.client_order_id = request.cl_ord_id;
    order.text = request.tag;
    const Verdict verdict = connection.session.submit(order);
    hold(connection, verdict.audit_sequence);
    if (!verdict.accepted()) {
      send_rejected(connection, request, verdict.reason, verdict.retry_after_ns);
      return;
    }
    JsonWriter json(connection.output);
    json.begin().string("type", "accepted").string("op", "submit");
    if (!request.id_json.empty()) json.raw("id", request.id_json);
    json.string("cl_ord_id", request.cl_ord_id).integer("order_id", verdict.order_id).end();
  }

  // Keeps a replaced session for its reports while it has working orders.
  void retire(Connection& connection, Session old) {
    if (has_open_orders(connection.principal, old.id())) {
      connection.retired.push_back({std::move(old), connection.principal, connection.cancel_on_disconnect, false});
    } else {
      old.close();
    }
  }

  bool has_open_orders(const std::string& principal, SessionId session) const {
    if (principal.empty() || !gateway_->find_principal(principal)) return false;
    for (const OpenOrder& open : gateway_->open_orders(principal)) {
      if (open.order.session_id == session) return true;
    }
    return false;
  }

  void cancel(Connection& connection, const protocol::Request& request) {
    const Verdict verdict = connection.session.cancel(request.cl_ord_id);
    hold(connection, verdict.audit_sequence);
    if (!verdict.accepted()) {
      send_rejected(connection, request, verdict.reason, verdict.retry_after_ns);
      return;
    }
    JsonWriter json(connection.output);
    json.begin().string("type", "accepted").string("op", "cancel");
    if (!request.id_json.empty()) json.raw("id", request.id_json);
    json.string("cl_ord_id", request.cl_ord_id).end();
  }

  bool require(Connection& connection, const protocol::Request& request, guards::Permission permission) {
    if (gateway_->has_permission(connection.principal_id, permission)) return true;
    send_rejected(connection, request, Reason::PERMISSION_DENIED, 0);
    return false;
  }

  void cancel_all(Connection& connection, const protocol::Request& request) {
    if (!require(connection, request, guards::Permission::cancel)) return;
    CancelFilter filter;
    filter.principal = connection.principal_id;
    if (request.fields & protocol::kAccount) {
      const Account* account = gateway_->accounts().find(request.account);
      if (account == nullptr) return send_rejected(connection, request, Reason::UNKNOWN_ACCOUNT, 0);
      filter.account = account->id;
    }
    if (request.fields & protocol::kSymbol) {
      const Instrument* instrument = find_instrument(request.symbol);
      if (instrument == nullptr) return send_rejected(connection, request, Reason::UNKNOWN_INSTRUMENT, 0);
      filter.instrument = instrument->id;
    }
    const std::size_t count = gateway_->cancel_orders(filter);
    JsonWriter json(connection.output);
    json.begin().string("type", "accepted").string("op", "cancel_all");
    if (!request.id_json.empty()) json.raw("id", request.id_json);
    json.integer("count", static_cast<std::int64_t>(count)).end();
  }

  const Instrument* find_instrument(std::string_view symbol) const {
    SymbolKey key;
    if (guards::canonical_symbol_key(symbol, key) != Reason::OK) return nullptr;
    return gateway_->instruments().find(key);
  }

  void orders(Connection& connection, const protocol::Request& request) {
    if (!require(connection, request, guards::Permission::read)) return;
    JsonWriter json(connection.output);
    json.begin().string("type", "orders");
    if (!request.id_json.empty()) json.raw("id", request.id_json);
    json.array_begin("orders");
    for (const OpenOrder& open : gateway_->open_orders(connection.principal)) {
      const Order& order = open.order;
      json.element_begin()
          .string("cl_ord_id", order.client_order_id.view())
          .string("account", gateway_->accounts()[order.account_id].name.view())
          .string("symbol", gateway_->instruments()[order.instrument_id].name.view())
          .string("side", to_string(order.side))
          .string("type", to_string(order.type))
          .string("tif", to_string(order.time_in_force))
          .decimal("qty", order.quantity)
          .decimal("leaves_qty", open.leaves_quantity);
      if (!order.price.is_zero()) json.decimal("price", order.price);
      if (!order.stop_price.is_zero()) json.decimal("stop_price", order.stop_price);
      json.element_end();
    }
    json.array_end().end();
  }

  void positions(Connection& connection, const protocol::Request& request) {
    if (!require(connection, request, guards::Permission::read)) return;
    JsonWriter json(connection.output);
    json.begin().string("type", "positions");
    if (!request.id_json.empty()) json.raw("id", request.id_json);
    json.array_begin("positions");
    for (const Account& account : gateway_->accounts().all()) {
      if (!gateway_->allows_account(connection.principal_id, account.id)) continue;
      for (const Instrument& instrument : gateway_->instruments().all()) {
        const auto exposure = gateway_->exposure(account.name.view(), instrument.name.view());
        if (exposure.position.is_zero() && exposure.open_orders == 0) continue;
        json.element_begin()
            .string("account", account.name.view())
            .string("symbol", instrument.name.view())
            .decimal("position", exposure.position)
            .decimal("working_buy", exposure.working_buy)
            .decimal("working_sell", exposure.working_sell)
            .integer("open_orders", exposure.open_orders)
            .element_end();
      }
    }
    json.array_end().end();
  }

  void admin(Connection& connection, const protocol::Request& request) {
    if (!require(connection, request, guards::Permission::admin)) return;
    std::string_view op_name;
    try {
      switch (request.op) {
        case Op::halt:
        case Op::reduce:
        case Op::resume: {
          const guards::TradingState state = request.op == Op::halt     ? guards::TradingState::halted
                                             : request.op == Op::reduce ? guards::TradingState::reducing
                                                                        : guards::TradingState::active;
          op_name = request.op == Op::halt ? "halt" : request.op == Op::reduce ? "reduce" : "resume";
          TradingScope scope;
          if (request.scope == "global") {
            scope = TradingScope::global();
          } else if (request.scope.substr(0, 8) == "account:") {
            scope = TradingScope::account(request.scope.substr(8));
          } else if (request.scope.substr(0, 10) == "principal:") {
            scope = TradingScope::principal(request.scope.substr(10));
          } else {
            send_error(connection, request.id_json, protocol::ErrorCode::invalid_field,
                       "field 'scope' must be global, account:<name> or principal:<name>");
            return;
          }
          gateway_->set_trading_state(scope, state, request.cancel_orders);
          log_.line("warn", "trading_state", "op=" + std::string(op_name) + " by=" + connection.principal);
          break;
        }
        case Op::disable_principal:
          op_name = "disable_principal";
          gateway_->set_principal_enabled(request.principal, false);
          gateway_->revoke_sessions(request.principal);
          break;
        case Op::enable_principal:
          op_name = "enable_principal";
          gateway_->set_principal_enabled(request.principal, true);
          break;
        case Op::revoke_sessions:
          op_name = "revoke_sessions";
          gateway_->revoke_sessions(request.principal);
          break;
        case Op::reload: {
          op_name = "reload";
          std::string problem;
          if (!reload(problem)) {
            JsonWriter json(connection.output);
            json.begin().string("type", "error");
            if (!request.id_json.empty()) json.raw("id", request.id_json);
            json.string("code", "RELOAD_REFUSED").string("message", problem).end();
            return;
          }
          break;
        }
        default:
          return;
      }
    } catch (const std::invalid_argument&) {
      send_error(connection, request.id_json, protocol::ErrorCode::invalid_field, "unknown account or principal");
      return;
    }
    JsonWriter json(connection.output);
    json.begin().string("type", "ok").string("op", op_name);
    if (!request.id_json.empty()) json.raw("id", request.id_json);
    json.end();
  }

  void simple_reply(Connection& connection, const protocol::Request& request, std::string_view type) {
    JsonWriter json(connection.output);
    json.begin().string("type", type);
    if (!request.id_json.empty()) json.raw("id", request.id_json);
    json.end();
  }

  void send_rejected(Connection& connection, const protocol::Request& request, Reason reason,
                     std::int64_t retry_after_ns) {
    JsonWriter json(connection.output);
    json.begin().string("type", "rejected");
    if (!request.id_json.empty()) json.raw("id", request.id_json);
    if (!request.cl_ord_id.empty() && guards::validate_client_order_id(request.cl_ord_id) == Reason::OK) {
      json.string("cl_ord_id", request.cl_ord_id);
    }
    json.string("reason", reason_name(reason)).string("message", reason_message(reason));
    if (retry_after_ns > 0) json.integer("retry_after_ms", (retry_after_ns + kNanosPerMilli - 1) / kNanosPerMilli);
    json.end();
  }

  void send_error(Connection& connection, std::string_view id_json, protocol::ErrorCode code,
                  std::string_view message) {
    JsonWriter json(connection.output);
    json.begin().string("type", "error");
    if (!id_json.empty()) json.raw("id", id_json);
    json.string("code", protocol::error_name(code)).string("message", message).end();
  }

  void hold(Connection& connection, std::uint64_t sequence) {
    if (hold_replies_ && sequence > connection.hold_sequence) connection.hold_sequence = sequence;
  }

  // Called on the journal's writer thread when records became durable.
  void wake_durable() {
    if (!durable_pending_.exchange(true, std::memory_order_acq_rel)) {
      asio::post(io_, [this] {
        durable_pending_.store(false, std::memory_order_release);
        std::vector<std::shared_ptr<Connection>> held;
        for (auto& [number, connection] : connections_) {
          if (connection->hold_sequence != 0) held.push_back(connection);
        }
        for (auto& connection : held) flush(connection);
      });
    }
  }

  // ---- execution reports -----------------------------------------------------

  // Called on a broker thread: wake the I/O thread once per batch.
  void wake() {
    if (!wake_pending_.exchange(true, std::memory_order_acq_rel)) {
      asio::post(io_, [this] { deliver_reports(); });
    }
  }

  void deliver_reports() {
    wake_pending_.store(false, std::memory_order_release);
    ExecutionReport report;
    for (auto& [number, connection] : connections_) {
      if (connection->closed) continue;
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
      if (any) flush(connection);
    }
  }

  void write_report(Connection& connection, const ExecutionReport& report) {
    JsonWriter json(connection.output);
    json.begin()
        .string("type", "exec")
        .string("cl_ord_id", report.client_order_id.view())
        .string("status", to_string(report.status))
        .string("account", gateway_->accounts()[report.account_id].name.view())
        .string("symbol", gateway_->instruments()[report.instrument_id].name.view())
        .string("side", to_string(report.side))
        .decimal("last_qty", report.last_quantity)
        .decimal("last_px", report.last_price)
        .decimal("cum_qty", report.cumulative_quantity)
        .decimal("leaves_qty", report.leaves_quantity)
        .decimal("avg_px", report.average_price)
        .string("broker_order_id", report.broker_order_id.view());
    if (report.reason != Reason::OK) json.string("reason", reason_name(report.reason));
    if (!report.broker_reason.empty()) json.string("broker_reason", report.broker_reason.view());
    json.integer("time_ns", report.transact_time_ns).end();
  }

  // ---- writing and closing ---------------------------------------------------

  void flush(const std::shared_ptr<Connection>& connection) {
    if (connection->closed) return;
    // Checked before anything else: a reader that stopped reading keeps a
    // write in flight forever, and its output must not grow without end.
    if (connection->output.size() > config_.server.max_output_bytes) {
      log_.line("warn", "slow_reader_dropped", "conn=" + std::to_string(connection->number));
      close(*connection, "slow_reader");
      return;
    }
    if (connection->writing) return;
    if (connection->hold_sequence != 0) {
      // fsync "always": the acknowledgement leaves only once it is on disk.
      if (journal_->durable_sequence() < connection->hold_sequence) return;
      connection->hold_sequence = 0;
    }
    if (connection->output.empty()) {
      if (connection->closing) close(*connection, "closed_by_server");
      return;
    }
    connection->in_flight.swap(connection->output);
    connection->output.clear();
    connection->writing = true;
    asio::async_write(connection->socket, asio::buffer(connection->in_flight),
                      [this, connection](const boost::system::error_code& error, std::size_t) {
                        connection->writing = false;
                        connection->in_flight.clear();
                        if (connection->closed) return;
                        connection->last_activity_ns = clock_.monotonic_ns();  // a listener is not idle
                        if (error) {
                          close(*connection, "write_error");
                          return;
                        }
                        flush(connection);
                      });
  }

  void close_after_flush(Connection& connection) { connection.closing = true; }

  void close(Connection& connection, std::string_view why) {
    if (connection.closed) return;
    connection.closed = true;
    const std::size_t count = cancel_on_disconnect(connection);
    if (count > 0) {
      log_.line("info", "cancel_on_disconnect",
                "conn=" + std::to_string(connection.number) + " orders=" + std::to_string(count));
    }
    connection.session.close();
    for (auto& retired : connection.retired) retired.session.close();
    connection.retired.clear();
    boost::system::error_code ignored;
    connection.socket.shutdown(asio::socket_base::shutdown_both, ignored);
    connection.socket.close(ignored);
    log_.line("info", "disconnected", "conn=" + std::to_string(connection.number) + " why=" + std::string(why));
    const std::uint64_t number = connection.number;
    // Erase later: we may be inside a handler holding a reference.
    asio::post(io_, [this, number] {
      connections_.erase(number);
      if (shutting_down_ && connections_.empty()) finish_shutdown();
    });
  }

  // Cancels the open orders of every session of the connection whose
  // principal has cancel_on_disconnect; each at most once.
  std::size_t cancel_on_disconnect(Connection& connection) {
    std::size_t count = 0;
    auto cancel = [&](const Session& session) {
      CancelFilter filter;
      filter.session = session.id();
      count += gateway_->cancel_orders(filter);
    };
    if (connection.cancel_on_disconnect && connection.session.is_open()) cancel(connection.session);
    connection.cancel_on_disconnect = false;
    for (auto& retired : connection.retired) {
      if (retired.cancel_on_disconnect) cancel(retired.session);
      retired.cancel_on_disconnect = false;
    }
    return count;
  }

  void schedule_sweep() {
    sweep_timer_.expires_after(std::chrono::seconds(1));
    sweep_timer_.async_wait([this](const boost::system::error_code& error) {
      if (error || shutting_down_) return;
      const std::int64_t now = clock_.monotonic_ns();
      std::vector<std::shared_ptr<Connection>> idle;
      for (auto& [number, connection] : connections_) {
        if (!connection->closed && now - connection->last_activity_ns > config_.server.idle_timeout_ns) {
          idle.push_back(connection);
        }
      }
      for (auto& connection : idle) close(*connection, "idle_timeout");
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
        if (wrote) flush(connection);
      }
      schedule_sweep();
    });
  }

  // ---- signals, reload and shutdown ------------------------------------------

  void wait_for_signal() {
    signals_.async_wait([this](const boost::system::error_code& error, int number) {
      if (error) return;
      if (number == SIGHUP) {
        std::string problem;
        reload(problem);
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
    try {
      ProcessConfig next = load_config_file(config_.source);
      gateway_->reload(next.gateway);
      config_.auth = next.auth;
      log_.line("info", "reloaded", "source=" + config_.source);
      return true;
    } catch (const ConfigError& error) {
      problem = error.what();
      log_.line("error", "reload_refused", "why=\"" + problem + "\"");
      AuditEvent event;
      event.type = AuditEventType::config_reload_refused;
      event.time_ns = clock_.wall_ns();
      if (audit_ != nullptr) audit_->record(event);
      return false;
    }
  }

  void begin_shutdown(std::string_view why) {
    if (shutting_down_) return;
    shutting_down_ = true;
    log_.line("info", "shutdown", "why=" + std::string(why));
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    signals_.cancel(ignored);
    sweep_timer_.cancel();
    // Cancel-on-disconnect orders go out before the brokers stop, then the
    // brokers finish everything queued; reports still reach the clients.
    for (auto& [number, connection] : connections_) {
      connection->closing = true;
      cancel_on_disconnect(*connection);
    }
    gateway_->stop();
    deliver_reports();
    std::vector<std::shared_ptr<Connection>> open;
    for (auto& [number, connection] : connections_) open.push_back(connection);
    for (auto& connection : open) flush(connection);
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
      for (auto& connection : rest) close(*connection, "shutdown");
    });
  }

  void finish_shutdown() {
    drain_timer_.cancel();
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

  void audit_event(AuditEventType type, const Connection& connection, Reason reason, std::string_view detail) {
    if (audit_ == nullptr) return;
    AuditEvent event;
    event.type = type;
    event.reason = reason;
    event.peer_uid = connection.peer_uid;
    event.principal_id = connection.principal_id;
    event.session_id = connection.session.id();
    event.detail.assign(detail);
    event.time_ns = clock_.wall_ns();
    audit_->record(event);
  }

  struct GcraCellFor {
    guards::GcraCell cell;
  };

  ProcessConfig config_;
  const Clock& clock_;
  Log log_;
  std::unique_ptr<security::CredentialSources> credentials_;
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
  std::string socket_path_;
  bool bound_ = false;
  bool shutting_down_ = false;
  std::atomic<bool> wake_pending_{false};
  std::uint64_t connection_counter_ = 0;
  std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections_;
  std::unordered_map<std::uint32_t, GcraCellFor> hello_throttle_;
  guards::GcraParams hello_params_;
};

}  // namespace detail

Server::Server(ProcessConfig config, std::ostream& log, const Clock& clock, AuditSink* audit)
    : impl_(std::make_unique<detail::ServerImpl>(std::move(config), log, clock, audit)) {}
Server::~Server() = default;
void Server::start() { impl_->start(); }
int Server::run() { return impl_->run(); }
void Server::request_stop() { impl_->request_stop(); }
const std::string& Server::socket_path() const noexcept { return impl_->socket_path(); }

}  // namespace ordergate
