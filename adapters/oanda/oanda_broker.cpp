#include "ordergate/adapters/oanda/oanda_broker.hpp"

#include <algorithm>
#include <charconv>
#include <deque>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "../tls/broker_support.hpp"
#include "ordergate/adapters/oanda/oanda_protocol.hpp"

namespace ordergate::adapters::oanda {

using detail::FillState;
using detail::RequestKind;
using detail::make_tag;
using tls::LogLevel;

namespace {

constexpr std::int64_t kAccountRetryNs = 1 * kNanosPerSecond;
constexpr std::int64_t kMaxRateLimitPauseNs = 60 * kNanosPerSecond;
constexpr std::uint8_t kMaxCancelAttempts = 5;
constexpr double kBackgroundHeadroom = 0.5;  // polls leave half the burst to orders

bool valid_account_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-' || c == '_';
  });
}

bool valid_instrument_name(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || c == '_';
  });
}

std::string id_text(std::uint64_t id) {
  char text[24];
  const auto end = std::to_chars(text, text + sizeof(text), id).ptr;
  return std::string(text, static_cast<std::size_t>(end - text));
}

// Retry-After in seconds (delta form only; the HTTP-date form is treated as absent).
std::int64_t retry_after_ns(std::string_view header) noexcept {
  std::int64_t seconds = 0;
  const auto [end, ec] = std::from_chars(header.data(), header.data() + header.size(), seconds);
  if (header.empty() || ec != std::errc{} || end != header.data() + header.size() || seconds < 0) return -1;
  return std::min(seconds, std::int64_t{3600}) * kNanosPerSecond;
}

}  // namespace

OandaSettings OandaSettings::clone() const {
  OandaSettings copy;
  copy.connection = connection;
  copy.account_id = account_id;
  copy.token = token.clone();
  copy.instruments = instruments;
  copy.symbol_map = symbol_map;
  copy.max_requests_per_second = max_requests_per_second;
  copy.pricing_interval_ns = pricing_interval_ns;
  copy.transaction_poll_interval_ns = transaction_poll_interval_ns;
  copy.keepalive_interval_ns = keepalive_interval_ns;
  copy.unknown_fate_window_ns = unknown_fate_window_ns;
  copy.rate_limit_pause_ns = rate_limit_pause_ns;
  copy.max_queue_wait_ns = max_queue_wait_ns;
  copy.cancel_on_stop = cancel_on_stop;
  copy.log = log;
  return copy;
}

struct OandaBroker::Impl final : tls::HttpHandler {
  enum class Phase : std::uint8_t { queued, sending, working, unknown };

  struct Tracked {
    Order order;
    Phase phase = Phase::queued;
    std::uint64_t broker_id = 0;
    std::uint64_t cursor_at_send = 0;  // a transaction id known before the order was sent
    std::uint64_t last_applied = 0;    // transactions up to this id are applied
    FillState fills;
    bool new_reported = false;
    bool cancel_wanted = false;
    bool cancel_queued = false;
    bool cancel_in_flight = false;
    std::uint8_t cancel_attempts = 0;
    std::int64_t queued_ns = 0;
    std::int64_t unknown_since_ns = 0;
  };

  struct Command {
    RequestKind kind;
    OrderId order_id;
  };

  Impl(const InstrumentTable& table, OandaSettings settings_in)
      : settings_(std::move(settings_in)),
        client_(settings_.connection, settings_.log),
        pacer_(settings_.max_requests_per_second) {
    if (!valid_account_id(settings_.account_id)) {
      throw std::invalid_argument("oanda.account_id: must be 1-64 of [A-Za-z0-9_-], e.g. 101-001-1234567-001");
    }
    if (settings_.token.empty()) {
      throw std::invalid_argument("oanda: the API token is empty; set the variable named by oanda.token_env");
    }
    if (settings_.transaction_poll_interval_ns <= 0 || settings_.pricing_interval_ns < 0 ||
        settings_.keepalive_interval_ns <= 0 || settings_.unknown_fate_window_ns <= 0 ||
        settings_.max_queue_wait_ns <= 0 || settings_.rate_limit_pause_ns <= 0) {
      throw std::invalid_argument("oanda: intervals and timeouts must be > 0 (pricing_interval may be 0)");
    }
    instrument_names_.resize(table.size());
    std::vector<bool> traded(table.size(), settings_.instruments.empty());
    for (const std::string& name : settings_.instruments) {
      const Instrument* instrument = table.find_name(name);
      if (instrument == nullptr) {
        throw std::invalid_argument("oanda.instruments: '" + name + "' is not a configured instrument");
      }
      traded[instrument->id] = true;
    }
    for (const Instrument& instrument : table.all()) {
      if (traded[instrument.id]) instrument_names_[instrument.id] = default_instrument_name(instrument.name.view());
    }
    for (const auto& [canonical, broker_name] : settings_.symbol_map) {
      const Instrument* instrument = table.find_name(canonical);
      if (instrument == nullptr) {
        throw std::invalid_argument("oanda.symbol_map: '" + canonical + "' is not a configured instrument");
      }
      if (!valid_instrument_name(broker_name)) {
        throw std::invalid_argument("oanda.symbol_map: '" + broker_name + "' is not an OANDA instrument name");
      }
      instrument_names_[instrument->id] = broker_name;
    }
    for (std::size_t id = 0; id < instrument_names_.size(); ++id) {
      if (instrument_names_[id].empty()) continue;
      by_instrument_name_[instrument_names_[id]] = static_cast<InstrumentId>(id);
      if (!pricing_list_.empty()) pricing_list_ += "%2C";
      pricing_list_ += instrument_names_[id];
    }
    account_path_ = "/v3/accounts/" + settings_.account_id;
    orders_path_ = account_path_ + "/orders";
    std::string header = "Authorization: Bearer ";
    header.append(settings_.token.reveal());
    header.append("\r\nAccept-Datetime-Format: RFC3339\r\n");
    auth_headers_ = security::Secret(header);
    security::wipe(header.data(), header.size());
  }

  // --- helpers ------------------------------------------------------------

  [[nodiscard]] std::int64_t now() const noexcept { return clock_->monotonic_ns(); }

  void log(LogLevel level, const std::string& line) const noexcept {
    detail::log_line(settings_.log, level, settings_.connection.log_name + ": " + line);
  }

  bool send(RequestKind kind, OrderId order_id, std::string_view method, std::string_view path,
            std::string_view payload = {}) {
    tls::HttpRequest request;
    request.method = method;
    request.target = path;
    request.headers = auth_headers_.reveal();
    if (!payload.empty()) request.content_type = "application/json";
    request.body = payload;
    if (!client_.send(request, make_tag(kind, order_id))) return false;
    pacer_.consume(now());
    return true;
  }

  void report(Tracked& tracked, ExecStatus status, Decimal last_quantity, Decimal last_price, Reason reason,
              std::string_view broker_reason, std::int64_t time_ns) noexcept {
    const std::string broker_id = tracked.broker_id != 0 ? id_text(tracked.broker_id) : std::string{};
    const ExecutionReport report =
        detail::make_report(tracked.order, tracked.fills, status, last_quantity, last_price, reason, broker_reason,
                            broker_id, time_ns != 0 ? time_ns : clock_->wall_ns());
    if (status == ExecStatus::new_order) tracked.new_reported = true;
    sink_->on_execution(report);
  }

  // Reports a terminal status and forgets the order.
  void finish(OrderId id, ExecStatus status, Reason reason, std::string_view broker_reason,
              std::int64_t time_ns = 0) noexcept {
    const auto it = orders_.find(id);
    if (it == orders_.end()) return;
    report(it->second, status, Decimal{}, Decimal{}, reason, broker_reason, time_ns);
    forget(it);
  }

  void forget(std::unordered_map<OrderId, Tracked>::iterator it) noexcept {
    if (it->second.broker_id != 0) by_broker_id_.erase(it->second.broker_id);
    by_client_id_.erase(std::string(it->second.order.client_order_id.view()));
    orders_.erase(it);
  }

  Tracked* find(OrderId id) noexcept {
    const auto it = orders_.find(id);
    return it == orders_.end() ? nullptr : &it->second;
  }

  // Orders whose fills must come from the transaction history.
  void watch_from(std::uint64_t transaction_id) noexcept {
    cursor_ = watching_ ? std::min(cursor_, transaction_id) : transaction_id;
    watching_ = true;
  }

  // --- BrokerPort ---------------------------------------------------------

  void start(ExecutionSink& sink_in, QuoteBoard& quotes_in, const Clock& clock_in) {
    if (quotes_in.size() < instrument_names_.size()) {
      throw std::invalid_argument("oanda: the quote board is smaller than the instrument table");
    }
    sink_ = &sink_in;
    quotes_ = &quotes_in;
    clock_ = &clock_in;
    client_.start(*this, clock_in);
    // Read the account's last transaction id (and so check the token) before
    // the first order, waiting at most one request timeout.
    request_account();
    const std::int64_t deadline = now() + settings_.connection.request_timeout_ns;
    while (!account_ready_ && account_in_flight_ && now() < deadline) client_.poll();
    if (pricing_list_.empty() || settings_.pricing_interval_ns == 0) return;
    request_pricing();
    const std::int64_t pricing_deadline = now() + settings_.connection.request_timeout_ns;
    while (pricing_in_flight_ && now() < pricing_deadline) client_.poll();
  }

  void submit(const Order& order) noexcept {
    if (sink_ == nullptr) return;
    // Take in what the sockets already know (a close by the server, say)
    // before choosing a connection: one non-blocking poll, and the order is
    // not written into a connection that is already gone.
    client_.poll();
    Tracked tracked;
    tracked.order = order;
    tracked.queued_ns = now();
    const auto [it, inserted] = orders_.emplace(order.order_id, tracked);
    if (!inserted) return;  // the gateway never reuses ids; ignore a duplicate
    by_client_id_.emplace(std::string(order.client_order_id.view()), order.order_id);
    if (order.instrument_id >= instrument_names_.size() || instrument_names_[order.instrument_id].empty()) {
      finish(order.order_id, ExecStatus::rejected, Reason::BROKER_REJECTED, "INSTRUMENT_NOT_MAPPED");
      return;
    }
    if (const std::string_view why = unavailable_reason(); !why.empty()) {
      finish(order.order_id, ExecStatus::rejected, Reason::BROKER_UNAVAILABLE, why);
      return;
    }
    if (now() < paused_until_ns_) {
      finish(order.order_id, ExecStatus::rejected, Reason::BROKER_RATE_LIMITED, "RATE_LIMITED");
      return;
    }
    queue_.push_back({RequestKind::order, order.order_id});
    pump();
  }

  void cancel(const CancelOrder& request) noexcept {
    if (sink_ == nullptr) return;
    Tracked* tracked = find(request.order_id);
    if (tracked == nullptr) return;  // unknown or finished
    switch (tracked->phase) {
      case Phase::queued:
        // Never left the gateway: cancel it here.
        queue_.erase(std::remove_if(queue_.begin(), queue_.end(),
                                   [&](const Command& c) { return c.order_id == request.order_id; }),
                    queue_.end());
        finish(request.order_id, ExecStatus::canceled, Reason::OK, "NOT_SENT");
        return;
      case Phase::sending:
      case Phase::unknown: tracked->cancel_wanted = true; return;  // sent once its fate is known
      case Phase::working: queue_cancel(*tracked); pump(); return;
    }
  }

  bool poll() noexcept {
    if (sink_ == nullptr) return false;
    bool did = client_.poll();
    if (expire_queue()) did = true;
    if (pump()) did = true;
    if (background()) did = true;
    return did;
  }

  void stop() noexcept {
    if (sink_ == nullptr) return;
    // Orders still waiting for a connection are not sent during shutdown.
    std::vector<OrderId> queued;
    for (const auto& [id, tracked] : orders_) {
      if (tracked.phase == Phase::queued) queued.push_back(id);
    }
    for (const OrderId id : queued) finish(id, ExecStatus::rejected, Reason::BROKER_UNAVAILABLE, "SHUTDOWN");
    queue_.clear();
    if (settings_.cancel_on_stop && client_.open_connections() > 0 && now() >= paused_until_ns_) {
      for (auto& [id, tracked] : orders_) {
        if (tracked.phase == Phase::working) queue_cancel(tracked);
      }
      const std::int64_t deadline = now() + settings_.connection.request_timeout_ns;
      while (now() < deadline && cancels_outstanding() > 0) {
        client_.poll();
        pump();
      }
    }
    client_.stop();
    sink_ = nullptr;
  }

  // --- sending ------------------------------------------------------------

  [[nodiscard]] std::string_view unavailable_reason() const noexcept {
    if (!client_.available()) return "NO_CONNECTION";
    if (unauthorized_) return "UNAUTHORIZED";
    if (!account_ready_) return "NOT_READY";
    return {};
  }

  void queue_cancel(Tracked& tracked) {
    if (tracked.cancel_queued || tracked.cancel_in_flight) return;
    tracked.cancel_queued = true;
    queue_.push_back({RequestKind::cancel, tracked.order.order_id});
  }

  [[nodiscard]] std::size_t cancels_outstanding() const noexcept {
    std::size_t count = 0;
    for (const auto& [id, tracked] : orders_) {
      if (tracked.cancel_queued || tracked.cancel_in_flight) ++count;
    }
    return count;
  }

  // Sends queued commands while a connection is idle; true if any was sent.
  bool pump() noexcept {
    bool did = false;
    while (!queue_.empty() && client_.idle_connections() > 0) {
      const Command command = queue_.front();
      Tracked* tracked = find(command.order_id);
      if (tracked == nullptr) {
        queue_.pop_front();
        continue;
      }
      const std::int64_t t = now();
      if (t < paused_until_ns_) {
        if (command.kind == RequestKind::order) {
          queue_.pop_front();
          finish(command.order_id, ExecStatus::rejected, Reason::BROKER_RATE_LIMITED, "RATE_LIMITED");
          continue;
        }
        break;  // cancels wait for the pause to end
      }
      if (!pacer_.allow(t)) {
        if (command.kind == RequestKind::order) {
          queue_.pop_front();
          finish(command.order_id, ExecStatus::rejected, Reason::BROKER_RATE_LIMITED, "OUTBOUND_LIMIT");
          continue;
        }
        break;
      }
      queue_.pop_front();
      if (command.kind == RequestKind::order) {
        send_order(*tracked);
      } else {
        send_cancel(*tracked);
      }
      did = true;
    }
    return did;
  }

  void send_order(Tracked& tracked) noexcept {
    body_.clear();
    const std::string_view problem = write_order_body(tracked.order, instrument_names_[tracked.order.instrument_id], body_);
    if (!problem.empty()) {
      finish(tracked.order.order_id, ExecStatus::rejected, Reason::BROKER_REJECTED, problem);
      return;
    }
    tracked.phase = Phase::sending;
    tracked.cursor_at_send = last_transaction_id_;
    if (!send(RequestKind::order, tracked.order.order_id, "POST", orders_path_, body_)) {
      tracked.phase = Phase::queued;
      queue_.push_front({RequestKind::order, tracked.order.order_id});
      return;
    }
    ++stats_.orders_sent;
  }

  void send_cancel(Tracked& tracked) noexcept {
    tracked.cancel_queued = false;
    target_.assign(account_path_).append("/orders/@").append(tracked.order.client_order_id.view()).append("/cancel");
    if (!send(RequestKind::cancel, tracked.order.order_id, "PUT", target_)) {
      queue_cancel(tracked);
      return;
    }
    tracked.cancel_in_flight = true;
    ++tracked.cancel_attempts;
    ++stats_.cancels_sent;
  }

  // Orders that waited too long for a connection, or whose broker became
  // unreachable while they waited, are refused rather than sent late.
  bool expire_queue() noexcept {
    if (queue_.empty()) return false;
    const bool reachable = client_.available();
    const std::int64_t t = now();
    bool did = false;
    for (auto it = queue_.begin(); it != queue_.end();) {
      Tracked* tracked = find(it->order_id);
      if (tracked == nullptr) {
        it = queue_.erase(it);
        continue;
      }
      if (it->kind == RequestKind::order &&
          (!reachable || t - tracked->queued_ns > settings_.max_queue_wait_ns)) {
        const OrderId id = it->order_id;
        it = queue_.erase(it);
        finish(id, ExecStatus::rejected, Reason::BROKER_UNAVAILABLE, reachable ? "QUEUE_TIMEOUT" : "NO_CONNECTION");
        did = true;
        continue;
      }
      ++it;
    }
    return did;
  }

  // Account check, prices, transaction polling and keep-alive, in that order,
  // each only when due and when the request budget leaves room for orders.
  bool background() noexcept {
    if (client_.idle_connections() == 0 || !queue_.empty()) return false;
    const std::int64_t t = now();
    if (t < paused_until_ns_ || !pacer_.allow(t, kBackgroundHeadroom)) return false;
    // Not yet checked, or refused since: ask again (every kAccountRetryNs) so a
    // token that works again is noticed.
    if ((!account_ready_ || unauthorized_) && !account_in_flight_ && t >= next_account_ns_) return request_account();
    if (!account_ready_) return false;
    if (needs_transactions() && !transactions_in_flight_ && t >= next_transactions_ns_) return request_transactions();
    if (!pricing_list_.empty() && settings_.pricing_interval_ns > 0 && !pricing_in_flight_ && t >= next_pricing_ns_) {
      return request_pricing();
    }
    const std::int64_t idle_since = client_.oldest_idle_since_ns();
    if (idle_since != 0 && t - idle_since >= settings_.keepalive_interval_ns && !account_in_flight_) {
      return request_account();
    }
    return false;
  }

  [[nodiscard]] bool needs_transactions() const noexcept {
    if (!watching_) return false;
    for (const auto& [id, tracked] : orders_) {
      if (tracked.phase == Phase::working || tracked.phase == Phase::unknown) return true;
    }
    return false;
  }

  bool request_account() noexcept {
    next_account_ns_ = now() + kAccountRetryNs;
    if (!send(RequestKind::account, 0, "GET", account_path_ + "/summary")) return false;
    account_in_flight_ = true;
    return true;
  }

  bool request_pricing() noexcept {
    next_pricing_ns_ = now() + settings_.pricing_interval_ns;
    target_.assign(account_path_).append("/pricing?instruments=").append(pricing_list_);
    if (!send(RequestKind::pricing, 0, "GET", target_)) return false;
    pricing_in_flight_ = true;
    return true;
  }

  bool request_transactions() noexcept {
    const std::int64_t t = now();
    next_transactions_ns_ = t + settings_.transaction_poll_interval_ns;
    target_.assign(account_path_).append("/transactions/sinceid?id=").append(id_text(cursor_));
    if (!send(RequestKind::transactions, 0, "GET", target_)) return false;
    transactions_in_flight_ = true;
    transactions_sent_ns_ = t;
    cursor_at_request_ = cursor_;
    ++stats_.transaction_polls;
    return true;
  }

  // --- replies ------------------------------------------------------------

  void on_http_result(std::uint64_t tag, const tls::HttpResult& result) noexcept override {
    const RequestKind kind = detail::tag_kind(tag);
    const OrderId order_id = detail::tag_order(tag);
    const tls::HttpResponse* response = result.response;
    if (response != nullptr && response->status() == 429) on_rate_limited(*response);
    if (response != nullptr && response->status() < 400) consecutive_rate_limits_ = 0;
    switch (kind) {
      case RequestKind::order: on_order_reply(order_id, result); break;
      case RequestKind::cancel: on_cancel_reply(order_id, result); break;
      case RequestKind::pricing: on_pricing_reply(result); break;
      case RequestKind::transactions: on_transactions_reply(result); break;
      case RequestKind::account: on_account_reply(result); break;
      case RequestKind::query:
      case RequestKind::server_time:
      case RequestKind::keepalive: break;
    }
  }

  void on_rate_limited(const tls::HttpResponse& response) noexcept {
    ++stats_.rate_limited;
    std::int64_t pause = retry_after_ns(response.header("Retry-After"));
    if (pause < 0) {
      pause = consecutive_rate_limits_ == 0 ? settings_.rate_limit_pause_ns
                                           : std::min(last_pause_ns_ * 2, kMaxRateLimitPauseNs);
    }
    ++consecutive_rate_limits_;
    last_pause_ns_ = pause;
    paused_until_ns_ = std::max(paused_until_ns_, now() + pause);
    log(LogLevel::warning, "rate limited by OANDA (HTTP 429); no request for " +
                               std::to_string(pause / kNanosPerMilli) + " ms, orders meanwhile are rejected "
                               "BROKER_RATE_LIMITED");
  }

  void on_unauthorized(int status, const ReasonCode& code) noexcept {
    if (!unauthorized_) {
      log(LogLevel::error, "ALERT: OANDA refused the credentials for account " + settings_.account_id + " (" +
                               detail::status_text(status) + (code.empty() ? "" : " " + std::string(code.view())) +
                               "); check the token and the account id; orders are rejected BROKER_UNAVAILABLE");
    }
    unauthorized_ = true;
  }

  void on_order_reply(OrderId order_id, const tls::HttpResult& result) noexcept {
    Tracked* tracked = find(order_id);
    if (tracked == nullptr) return;
    if (result.error == tls::TransportError::not_sent) {
      finish(order_id, ExecStatus::rejected, Reason::BROKER_UNAVAILABLE, "NO_CONNECTION");
      return;
    }
    if (result.response == nullptr) {
      mark_unknown(*tracked, std::string("no reply (") + std::string(tls::to_string(result.error)) + ")");
      return;
    }
    const int status = result.response->status();
    const OrderReply reply = codec_.parse_order_reply(status, result.response->body());
    note_transaction_id(reply.last_transaction_id);
    switch (reply.kind) {
      case ReplyKind::accepted: {
        unauthorized_ = false;
        apply_reply(*tracked, reply);
        return;
      }
      case ReplyKind::rejected:
        log(LogLevel::info, "order " + std::string(tracked->order.client_order_id.view()) + " rejected by OANDA: " +
                                std::string(reply.reject_reason.view()));
        finish(order_id, ExecStatus::rejected, Reason::BROKER_REJECTED, reply.reject_reason.view());
        return;
      case ReplyKind::unauthorized:
        on_unauthorized(status, reply.reject_reason);
        finish(order_id, ExecStatus::rejected, Reason::BROKER_UNAVAILABLE, reply.reject_reason.view());
        return;
      case ReplyKind::rate_limited:
        finish(order_id, ExecStatus::rejected, Reason::BROKER_RATE_LIMITED, "HTTP_429");
        return;
      case ReplyKind::unknown:
        mark_unknown(*tracked, detail::status_text(status));
        return;
    }
  }

  void apply_reply(Tracked& tracked, const OrderReply& reply) noexcept {
    const OrderId id = tracked.order.order_id;
    Transaction create;
    create.type = Transaction::Type::order_create;
    create.id = reply.order_id;
    create.order_id = reply.order_id;
    apply(tracked, create);
    if (reply.filled) {
      Transaction fill;
      fill.type = Transaction::Type::order_fill;
      fill.id = reply.fill_transaction_id;
      fill.order_id = reply.order_id;
      fill.units = reply.fill_units;
      fill.price = reply.fill_price;
      fill.time_ns = reply.fill_time_ns;
      if (!apply(tracked, fill)) return;
    }
    if (reply.canceled) {
      Transaction cancel;
      cancel.type = Transaction::Type::order_cancel;
      cancel.id = reply.cancel_transaction_id;
      cancel.order_id = reply.order_id;
      cancel.reason = reply.cancel_reason;
      cancel.time_ns = reply.cancel_time_ns;
      if (!apply(tracked, cancel)) return;
    }
    Tracked* still = find(id);
    if (still != nullptr) after_created(*still);
  }

  // The order rests at OANDA: report NEW once, watch its transactions and
  // send a cancel that arrived while it was in flight.
  void after_created(Tracked& tracked) noexcept {
    if (tracked.phase != Phase::working) return;
    if (!tracked.new_reported && !tracked.fills.filled.is_positive()) {
      report(tracked, ExecStatus::new_order, Decimal{}, Decimal{}, Reason::OK, {}, 0);
    }
    watch_from(tracked.broker_id);
    if (tracked.cancel_wanted) {
      tracked.cancel_wanted = false;
      queue_cancel(tracked);
    }
  }

  // Applies one transaction to an order at most once. Returns false when the
  // order is finished (and forgotten) by it.
  bool apply(Tracked& tracked, const Transaction& transaction) noexcept {
    if (transaction.id != 0) {
      if (transaction.id <= tracked.last_applied) return true;
      tracked.last_applied = transaction.id;
    }
    const OrderId id = tracked.order.order_id;
    switch (transaction.type) {
      case Transaction::Type::order_create:
        if (tracked.broker_id == 0 && transaction.id != 0) {
          tracked.broker_id = transaction.id;
          by_broker_id_[transaction.id] = id;
        }
        if (tracked.phase == Phase::unknown) ++stats_.recovered;
        tracked.phase = Phase::working;
        return true;
      case Transaction::Type::order_reject:
        if (tracked.phase == Phase::unknown) ++stats_.recovered;
        finish(id, ExecStatus::rejected, Reason::BROKER_REJECTED, transaction.reason.view(), transaction.time_ns);
        return false;
      case Transaction::Type::order_fill: {
        const Decimal booked = tracked.fills.add(transaction.units, transaction.price, tracked.order.quantity);
        if (!booked.is_positive()) return true;
        const bool complete = tracked.fills.complete(tracked.order.quantity);
        report(tracked, complete ? ExecStatus::filled : ExecStatus::partially_filled, booked, transaction.price,
               Reason::OK, {}, transaction.time_ns);
        if (complete) {
          forget(orders_.find(id));
          return false;
        }
        return true;
      }
      case Transaction::Type::order_cancel: {
        const bool expired = transaction.reason == std::string_view("TIME_IN_FORCE_EXPIRED");
        finish(id, expired ? ExecStatus::expired : ExecStatus::canceled, Reason::OK, transaction.reason.view(),
               transaction.time_ns);
        return false;
      }
      case Transaction::Type::other: return true;
    }
    return true;
  }

  void mark_unknown(Tracked& tracked, const std::string& why) noexcept {
    tracked.phase = Phase::unknown;
    tracked.unknown_since_ns = now();
    ++stats_.unknown_fate;
    watch_from(tracked.cursor_at_send);
    // Look sooner than the regular interval: the answer is usually there already.
    next_transactions_ns_ = std::min(next_transactions_ns_, now());
    log(LogLevel::warning, "order " + std::string(tracked.order.client_order_id.view()) + ": " + why +
                               "; its fate is unknown, searching the account's transactions (it is not resent)");
  }

  void on_cancel_reply(OrderId order_id, const tls::HttpResult& result) noexcept {
    Tracked* tracked = find(order_id);
    if (tracked == nullptr) return;
    tracked->cancel_in_flight = false;
    if (result.response == nullptr) {
      if (tracked->cancel_attempts < kMaxCancelAttempts) queue_cancel(*tracked);
      return;
    }
    const int status = result.response->status();
    const CancelReply reply = codec_.parse_cancel_reply(status, result.response->body());
    note_transaction_id(reply.last_transaction_id);
    switch (reply.kind) {
      case ReplyKind::accepted: {
        const bool expired = reply.reason == std::string_view("TIME_IN_FORCE_EXPIRED");
        finish(order_id, expired ? ExecStatus::expired : ExecStatus::canceled, Reason::OK, reply.reason.view(),
               reply.time_ns);
        return;
      }
      case ReplyKind::rejected:
        // Usually ORDER_DOESNT_EXIST: it filled or was cancelled first; the
        // transaction poll reports what happened.
        log(LogLevel::info, "cancel of " + std::string(tracked->order.client_order_id.view()) + " refused: " +
                                std::string(reply.reason.view()));
        next_transactions_ns_ = std::min(next_transactions_ns_, now());
        return;
      case ReplyKind::unauthorized: on_unauthorized(status, reply.reason); return;
      case ReplyKind::rate_limited:
      case ReplyKind::unknown:
        if (tracked->cancel_attempts < kMaxCancelAttempts) queue_cancel(*tracked);
        return;
    }
  }

  void on_pricing_reply(const tls::HttpResult& result) noexcept {
    pricing_in_flight_ = false;
    if (result.response == nullptr) return;
    const int status = result.response->status();
    if (status == 401 || status == 403) {
      on_unauthorized(status, codec_.error_code(result.response->body()));
      return;
    }
    if (status != 200 || !codec_.parse_prices(result.response->body(), prices_)) {
      if (status != 429) log(LogLevel::warning, "pricing request failed (" + detail::status_text(status) + ")");
      return;
    }
    const std::int64_t t = now();
    for (const PriceUpdate& price : prices_) {
      const auto it = by_instrument_name_.find(price.instrument);
      if (it == by_instrument_name_.end() || !price.tradeable) continue;
      if (!price.bid.is_positive() || price.bid > price.ask) continue;
      quotes_->publish(it->second, price.bid, price.ask, t);
      ++stats_.price_updates;
    }
  }

  void on_transactions_reply(const tls::HttpResult& result) noexcept {
    transactions_in_flight_ = false;
    if (result.response == nullptr) return;
    const int status = result.response->status();
    if (status == 400 || status == 404) {
      // The position is not one the account knows (it was reset, say): go
      // back to the latest id the account reported and ask for a fresh one.
      cursor_ = std::min(cursor_, last_transaction_id_);
      if (!account_in_flight_) (void)request_account();
      return;
    }
    if (status != 200) return;
    std::uint64_t last = 0;
    if (!codec_.parse_transactions(result.response->body(), transactions_, last)) {
      log(LogLevel::warning, "unreadable transactions reply; retrying");
      return;
    }
    note_transaction_id(last);
    created_.clear();
    for (const Transaction& transaction : transactions_) {
      Tracked* tracked = match(transaction);
      if (tracked == nullptr) continue;
      const OrderId id = tracked->order.order_id;
      if (apply(*tracked, transaction) && transaction.type == Transaction::Type::order_create) created_.push_back(id);
    }
    for (const OrderId id : created_) {
      if (Tracked* tracked = find(id)) after_created(*tracked);
    }
    // A reply may be one page: continue from its last transaction, at once.
    std::uint64_t seen = 0;
    for (const Transaction& transaction : transactions_) seen = std::max(seen, transaction.id);
    const bool complete = transactions_.empty() || seen >= last;
    // Otherwise follow the account's own last id (not a maximum: a restarted
    // simulator numbers from 1 again), unless an order with a lost reply moved
    // the cursor back while this poll was in flight.
    if (cursor_ >= cursor_at_request_) cursor_ = complete ? last : seen;
    if (!complete) {
      next_transactions_ns_ = now();
      return;
    }
    // An order whose reply was lost and that is not in the account's
    // transactions a full window later was never placed.
    std::vector<OrderId> not_placed;
    for (const auto& [id, tracked] : orders_) {
      if (tracked.phase == Phase::unknown &&
          transactions_sent_ns_ - tracked.unknown_since_ns >= settings_.unknown_fate_window_ns) {
        not_placed.push_back(id);
      }
    }
    for (const OrderId id : not_placed) {
      log(LogLevel::warning, "order " + std::string(find(id)->order.client_order_id.view()) +
                                 " is not in the account's transactions: reported as not placed");
      finish(id, ExecStatus::rejected, Reason::BROKER_UNAVAILABLE, "NOT_PLACED");
    }
    if (!needs_transactions()) watching_ = false;
  }

  Tracked* match(const Transaction& transaction) noexcept {
    if (transaction.type == Transaction::Type::other) return nullptr;
    if (transaction.type == Transaction::Type::order_fill || transaction.type == Transaction::Type::order_cancel) {
      const auto it = by_broker_id_.find(transaction.order_id);
      if (it != by_broker_id_.end()) return find(it->second);
    }
    if (transaction.client_order_id.empty()) return nullptr;
    const auto it = by_client_id_.find(std::string(transaction.client_order_id.view()));
    if (it == by_client_id_.end()) return nullptr;
    Tracked* tracked = find(it->second);
    // A create or reject for an order we did not send yet cannot be ours.
    if (tracked == nullptr || tracked->phase == Phase::queued) return nullptr;
    return tracked;
  }

  void on_account_reply(const tls::HttpResult& result) noexcept {
    account_in_flight_ = false;
    if (result.response == nullptr) return;
    const int status = result.response->status();
    if (status == 200) {
      std::uint64_t last = 0;
      if (codec_.parse_last_transaction_id(result.response->body(), last)) {
        note_transaction_id(last);
        if (!account_ready_) log(LogLevel::info, "account " + settings_.account_id + " ready");
        account_ready_ = true;
        unauthorized_ = false;
      }
      return;
    }
    if (status == 401 || status == 403) {
      on_unauthorized(status, codec_.error_code(result.response->body()));
      return;
    }
    if (status == 404 && !account_ready_) {
      log(LogLevel::error, "account " + settings_.account_id + " not found (HTTP 404); check oanda.account_id");
    }
  }

  // The latest id the account reported. Replies on two connections may come
  // back out of order; a slightly older id only makes a later search start
  // earlier, which is safe.
  void note_transaction_id(std::uint64_t id) noexcept {
    if (id != 0) last_transaction_id_ = id;
  }

  OandaSettings settings_;
  tls::HttpsClient client_;
  detail::RequestPacer pacer_;
  OandaCodec codec_;
  security::Secret auth_headers_;
  std::vector<std::string> instrument_names_;  // by InstrumentId; empty = not traded here
  std::unordered_map<std::string, InstrumentId> by_instrument_name_;
  std::string pricing_list_;
  std::string account_path_;
  std::string orders_path_;

  ExecutionSink* sink_ = nullptr;
  QuoteBoard* quotes_ = nullptr;
  const Clock* clock_ = nullptr;

  std::unordered_map<OrderId, Tracked> orders_;
  std::unordered_map<std::uint64_t, OrderId> by_broker_id_;
  std::unordered_map<std::string, OrderId> by_client_id_;
  std::deque<Command> queue_;

  bool account_ready_ = false;
  bool account_in_flight_ = false;
  bool unauthorized_ = false;
  bool pricing_in_flight_ = false;
  bool transactions_in_flight_ = false;
  std::int64_t next_account_ns_ = 0;
  std::int64_t next_pricing_ns_ = 0;
  std::int64_t next_transactions_ns_ = 0;
  std::int64_t transactions_sent_ns_ = 0;
  std::int64_t paused_until_ns_ = 0;
  std::int64_t last_pause_ns_ = 0;
  std::uint32_t consecutive_rate_limits_ = 0;
  std::uint64_t last_transaction_id_ = 0;  // latest seen in any reply
  std::uint64_t cursor_ = 0;               // transactions/sinceid position
  std::uint64_t cursor_at_request_ = 0;    // the position the poll in flight asked from
  bool watching_ = false;                  // some order needs the transaction history

  std::string body_;     // scratch
  std::string target_;   // scratch
  std::vector<PriceUpdate> prices_;
  std::vector<Transaction> transactions_;
  std::vector<OrderId> created_;
  OandaStats stats_;
};

OandaBroker::OandaBroker(const InstrumentTable& instruments, OandaSettings settings)
    : impl_(std::make_unique<Impl>(instruments, std::move(settings))) {}

OandaBroker::~OandaBroker() = default;

void OandaBroker::start(ExecutionSink& sink, QuoteBoard& quotes, const Clock& clock) {
  impl_->start(sink, quotes, clock);
}
void OandaBroker::submit(const Order& order) noexcept { impl_->submit(order); }
void OandaBroker::cancel(const CancelOrder& cancel) noexcept { impl_->cancel(cancel); }
bool OandaBroker::poll() noexcept { return impl_->poll(); }
void OandaBroker::stop() noexcept { impl_->stop(); }
bool OandaBroker::ready() const noexcept { return impl_->unavailable_reason().empty(); }
const OandaStats& OandaBroker::stats() const noexcept { return impl_->stats_; }
const tls::HttpsClientStats& OandaBroker::connection_stats() const noexcept { return impl_->client_.stats(); }

std::function<std::unique_ptr<BrokerPort>(const InstrumentTable&)> make_oanda_factory(OandaSettings settings) {
  auto shared = std::make_shared<const OandaSettings>(std::move(settings));
  return [shared](const InstrumentTable& instruments) -> std::unique_ptr<BrokerPort> {
    return std::make_unique<OandaBroker>(instruments, shared->clone());
  };
}

}  // namespace ordergate::adapters::oanda
