#include "ordergate/adapters/binance/binance_broker.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <deque>
#include <stdexcept>
#include <unordered_map>

#include "../tls/broker_support.hpp"
#include "ordergate/adapters/binance/binance_protocol.hpp"

namespace ordergate::adapters::binance {

using detail::FillState;
using detail::RequestKind;
using detail::make_tag;
using tls::LogLevel;

namespace {

constexpr std::int64_t kAccountRetryNs = 5 * kNanosPerSecond;
constexpr std::int64_t kWeightWindowNs = 60 * kNanosPerSecond;
constexpr std::int64_t kOrderWindowNs = 10 * kNanosPerSecond;
constexpr std::int64_t kMaxPauseNs = 3 * 24 * 3600 * kNanosPerSecond;
constexpr std::uint8_t kMaxCancelAttempts = 5;
// Request weights (Binance spot, 2024).
constexpr std::int64_t kWeightOrder = 1;
constexpr std::int64_t kWeightCancel = 1;
constexpr std::int64_t kWeightQuery = 4;
constexpr std::int64_t kWeightPing = 1;
constexpr std::int64_t kWeightAccount = 20;
constexpr std::int64_t kWeightTickerOne = 2;
constexpr std::int64_t kWeightTickerMany = 4;

bool valid_symbol(std::string_view symbol) {
  if (symbol.empty() || symbol.size() > 20) return false;
  return std::all_of(symbol.begin(), symbol.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'); });
}

std::int64_t header_integer(std::string_view text, std::int64_t fallback) noexcept {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value < 0) return fallback;
  return value;
}

// quote / quantity, truncated to nine digits (exact for prices on the grid).
Decimal divide(Decimal quote, Decimal quantity) noexcept {
  if (!quantity.is_positive()) return Decimal{};
  const int128 scaled = static_cast<int128>(quote.raw()) * Decimal::kScale;
  return Decimal::from_raw(static_cast<std::int64_t>(scaled / quantity.raw()));
}

std::string id_text(std::uint64_t id) {
  char text[24];
  const auto end = std::to_chars(text, text + sizeof(text), id).ptr;
  return std::string(text, static_cast<std::size_t>(end - text));
}

}  // namespace

BinanceSettings BinanceSettings::clone() const {
  BinanceSettings copy;
  copy.connection = connection;
  copy.api_key = api_key.clone();
  copy.secret_key = secret_key.clone();
  copy.instruments = instruments;
  copy.symbol_map = symbol_map;
  copy.recv_window_ms = recv_window_ms;
  copy.weight_limit_1m = weight_limit_1m;
  copy.order_limit_10s = order_limit_10s;
  copy.background_weight_share = background_weight_share;
  copy.pricing_interval_ns = pricing_interval_ns;
  copy.order_poll_interval_ns = order_poll_interval_ns;
  copy.keepalive_interval_ns = keepalive_interval_ns;
  copy.unknown_fate_window_ns = unknown_fate_window_ns;
  copy.rate_limit_pause_ns = rate_limit_pause_ns;
  copy.max_queue_wait_ns = max_queue_wait_ns;
  copy.cancel_on_stop = cancel_on_stop;
  copy.log = log;
  return copy;
}

struct BinanceBroker::Impl final : tls::HttpHandler {
  enum class Phase : std::uint8_t { queued, sending, working, unknown };

  struct Tracked {
    Order order;
    Phase phase = Phase::queued;
    std::uint64_t broker_id = 0;
    FillState fills;
    Decimal quote;  // cumulative quote quantity reported so far
    bool new_reported = false;
    bool cancel_wanted = false;
    bool cancel_queued = false;
    bool cancel_in_flight = false;
    bool query_in_flight = false;
    std::uint8_t cancel_attempts = 0;
    std::int64_t queued_ns = 0;
    std::int64_t unknown_since_ns = 0;
    std::int64_t next_query_ns = 0;
  };

  struct Command {
    RequestKind kind;
    OrderId order_id;
  };

  Impl(const InstrumentTable& table, BinanceSettings settings_in)
      : settings_(std::move(settings_in)), client_(settings_.connection, settings_.log) {
    if (settings_.api_key.empty() || settings_.secret_key.empty()) {
      throw std::invalid_argument(
          "binance: the API key or secret is empty; set the variables named by binance.api_key_env and "
          "binance.secret_key_env");
    }
    if (settings_.recv_window_ms <= 0 || settings_.recv_window_ms > 60000) {
      throw std::invalid_argument("binance.recv_window_ms: must be 1..60000");
    }
    if (settings_.weight_limit_1m <= 0 || settings_.order_limit_10s <= 0 || settings_.background_weight_share <= 0.0 ||
        settings_.background_weight_share > 1.0) {
      throw std::invalid_argument("binance: limits must be > 0 and background_weight_share in (0, 1]");
    }
    if (settings_.order_poll_interval_ns <= 0 || settings_.pricing_interval_ns < 0 ||
        settings_.keepalive_interval_ns <= 0 || settings_.unknown_fate_window_ns <= 0 ||
        settings_.max_queue_wait_ns <= 0 || settings_.rate_limit_pause_ns <= 0) {
      throw std::invalid_argument("binance: intervals and timeouts must be > 0 (pricing_interval may be 0)");
    }
    symbols_.resize(table.size());
    std::vector<bool> traded(table.size(), settings_.instruments.empty());
    for (const std::string& name : settings_.instruments) {
      const Instrument* instrument = table.find_name(name);
      if (instrument == nullptr) {
        throw std::invalid_argument("binance.instruments: '" + name + "' is not a configured instrument");
      }
      traded[instrument->id] = true;
    }
    for (const Instrument& instrument : table.all()) {
      if (traded[instrument.id]) symbols_[instrument.id] = default_symbol(instrument.name.view());
    }
    for (const auto& [canonical, symbol] : settings_.symbol_map) {
      const Instrument* instrument = table.find_name(canonical);
      if (instrument == nullptr) {
        throw std::invalid_argument("binance.symbol_map: '" + canonical + "' is not a configured instrument");
      }
      if (!valid_symbol(symbol)) {
        throw std::invalid_argument("binance.symbol_map: '" + symbol + "' is not a Binance symbol");
      }
      symbols_[instrument->id] = symbol;
    }
    std::vector<std::string> priced;
    for (std::size_t id = 0; id < symbols_.size(); ++id) {
      if (symbols_[id].empty()) continue;
      by_symbol_[symbols_[id]] = static_cast<InstrumentId>(id);
      priced.push_back(symbols_[id]);
    }
    if (priced.size() == 1) {
      ticker_target_ = "/api/v3/ticker/bookTicker?symbol=" + priced[0];
      ticker_weight_ = kWeightTickerOne;
    } else if (!priced.empty()) {
      std::string list = "[";
      for (const std::string& symbol : priced) list += (list.size() > 1 ? ",\"" : "\"") + symbol + "\"";
      list += "]";
      std::string query;
      append_param(query, "symbols", list);
      ticker_target_ = "/api/v3/ticker/bookTicker?" + query;
      ticker_weight_ = kWeightTickerMany;
    }
    std::string header = "X-MBX-APIKEY: ";
    header.append(settings_.api_key.reveal()).append("\r\n");
    key_header_ = security::Secret(header);
    security::wipe(header.data(), header.size());
  }

  // --- helpers ------------------------------------------------------------

  [[nodiscard]] std::int64_t now() const noexcept { return clock_->monotonic_ns(); }
  [[nodiscard]] std::int64_t wall_ms() const noexcept { return clock_->wall_ns() / kNanosPerMilli; }

  void log(LogLevel level, const std::string& line) const noexcept {
    detail::log_line(settings_.log, level, settings_.connection.log_name + ": " + line);
  }

  // Sends a request; signed ones get recvWindow, timestamp and signature
  // appended to `params` here, immediately before the write.
  bool send(RequestKind kind, OrderId order_id, std::string_view method, std::string_view path, std::string& fields,
            bool signed_request, bool in_body, std::int64_t weight) {
    if (client_.idle_connections() == 0) return false;
    if (signed_request) append_signature(fields, settings_.recv_window_ms, wall_ms(), settings_.secret_key.reveal());
    tls::HttpRequest request;
    request.method = method;
    request.headers = key_header_.reveal();
    if (in_body) {
      request.target = path;
      request.content_type = "application/x-www-form-urlencoded";
      request.body = fields;
    } else {
      target_.assign(path);
      if (!fields.empty()) target_.append("?").append(fields);
      request.target = target_;
    }
    if (!client_.send(request, make_tag(kind, order_id))) return false;
    weight_since_header_ += weight;
    return true;
  }

  void report(Tracked& tracked, ExecStatus status, Decimal last_quantity, Decimal last_price, Reason reason,
              std::string_view broker_reason, std::int64_t time_ms) noexcept {
    const std::string broker_id = tracked.broker_id != 0 ? id_text(tracked.broker_id) : std::string{};
    const std::int64_t time_ns = time_ms > 0 ? time_ms * kNanosPerMilli : clock_->wall_ns();
    const ExecutionReport report = detail::make_report(tracked.order, tracked.fills, status, last_quantity,
                                                       last_price, reason, broker_reason, broker_id, time_ns);
    if (status == ExecStatus::new_order) tracked.new_reported = true;
    sink_->on_execution(report);
  }

  void finish(OrderId id, ExecStatus status, Reason reason, std::string_view broker_reason,
              std::int64_t time_ms = 0) noexcept {
    const auto it = orders_.find(id);
    if (it == orders_.end()) return;
    report(it->second, status, Decimal{}, Decimal{}, reason, broker_reason, time_ms);
    orders_.erase(it);
  }

  Tracked* find(OrderId id) noexcept {
    const auto it = orders_.find(id);
    return it == orders_.end() ? nullptr : &it->second;
  }

  // Order count and weight as Binance last reported them, plus what was sent
  // since; forgotten once their window has certainly passed.
  [[nodiscard]] std::int64_t orders_in_window() const noexcept {
    if (now() - order_count_at_ns_ >= kOrderWindowNs) return orders_since_header_;
    return order_count_ + orders_since_header_;
  }
  [[nodiscard]] std::int64_t weight_in_window() const noexcept {
    if (now() - weight_at_ns_ >= kWeightWindowNs) return weight_since_header_;
    return used_weight_ + weight_since_header_;
  }

  // --- BrokerPort ---------------------------------------------------------

  void start(ExecutionSink& sink_in, QuoteBoard& quotes_in, const Clock& clock_in) {
    if (quotes_in.size() < symbols_.size()) {
      throw std::invalid_argument("binance: the quote board is smaller than the instrument table");
    }
    sink_ = &sink_in;
    quotes_ = &quotes_in;
    clock_ = &clock_in;
    client_.start(*this, clock_in);
    const std::int64_t timeout = settings_.connection.request_timeout_ns;
    if (request_time()) {
      const std::int64_t deadline = now() + timeout;
      while (time_in_flight_ && now() < deadline) client_.poll();
    }
    request_account();
    const std::int64_t deadline = now() + timeout;
    while (account_in_flight_ && now() < deadline) client_.poll();
    if (ticker_target_.empty() || settings_.pricing_interval_ns == 0 || !account_ready_) return;
    request_pricing();
    const std::int64_t pricing_deadline = now() + timeout;
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
    if (!orders_.emplace(order.order_id, tracked).second) return;
    if (order.instrument_id >= symbols_.size() || symbols_[order.instrument_id].empty()) {
      finish(order.order_id, ExecStatus::rejected, Reason::BROKER_REJECTED, "INSTRUMENT_NOT_MAPPED");
      return;
    }
    if (const std::string_view why = unavailable_reason(); !why.empty()) {
      finish(order.order_id, ExecStatus::rejected, Reason::BROKER_UNAVAILABLE, why);
      return;
    }
    if (now() < paused_until_ns_) {
      finish(order.order_id, ExecStatus::rejected, Reason::BROKER_RATE_LIMITED, "RETRY_AFTER");
      return;
    }
    queue_.push_back({RequestKind::order, order.order_id});
    pump();
  }

  void cancel(const CancelOrder& request) noexcept {
    if (sink_ == nullptr) return;
    Tracked* tracked = find(request.order_id);
    if (tracked == nullptr) return;
    switch (tracked->phase) {
      case Phase::queued:
        queue_.erase(std::remove_if(queue_.begin(), queue_.end(),
                                   [&](const Command& c) { return c.order_id == request.order_id; }),
                    queue_.end());
        finish(request.order_id, ExecStatus::canceled, Reason::OK, "NOT_SENT");
        return;
      case Phase::sending:
      case Phase::unknown: tracked->cancel_wanted = true; return;
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

  bool pump() noexcept {
    bool did = false;
    while (!queue_.empty() && client_.idle_connections() > 0) {
      const Command command = queue_.front();
      Tracked* tracked = find(command.order_id);
      if (tracked == nullptr) {
        queue_.pop_front();
        continue;
      }
      if (now() < paused_until_ns_) {
        if (command.kind == RequestKind::order) {
          queue_.pop_front();
          finish(command.order_id, ExecStatus::rejected, Reason::BROKER_RATE_LIMITED, "RETRY_AFTER");
          continue;
        }
        break;  // cancels wait: any request during Retry-After risks a ban
      }
      if (command.kind == RequestKind::order) {
        if (orders_in_window() + 1 > settings_.order_limit_10s ||
            weight_in_window() + kWeightOrder > settings_.weight_limit_1m) {
          queue_.pop_front();
          ++stats_.refused_locally;
          finish(command.order_id, ExecStatus::rejected, Reason::BROKER_RATE_LIMITED,
                 orders_in_window() + 1 > settings_.order_limit_10s ? "ORDER_COUNT_LIMIT" : "WEIGHT_LIMIT");
          continue;
        }
        queue_.pop_front();
        send_order(*tracked);
      } else {
        if (weight_in_window() + kWeightCancel > settings_.weight_limit_1m) break;
        queue_.pop_front();
        send_cancel(*tracked);
      }
      did = true;
    }
    return did;
  }

  void send_order(Tracked& tracked) noexcept {
    params_.clear();
    const std::string_view problem = write_order_params(tracked.order, symbols_[tracked.order.instrument_id], params_);
    if (!problem.empty()) {
      finish(tracked.order.order_id, ExecStatus::rejected, Reason::BROKER_REJECTED, problem);
      return;
    }
    tracked.phase = Phase::sending;
    if (!send(RequestKind::order, tracked.order.order_id, "POST", "/api/v3/order", params_, true, true,
              kWeightOrder)) {
      tracked.phase = Phase::queued;
      queue_.push_front({RequestKind::order, tracked.order.order_id});
      return;
    }
    ++orders_since_header_;
    ++stats_.orders_sent;
  }

  void order_params(const Tracked& tracked) {
    params_.clear();
    append_param(params_, "symbol", symbols_[tracked.order.instrument_id]);
    append_param(params_, "origClientOrderId", tracked.order.client_order_id.view());
  }

  void send_cancel(Tracked& tracked) noexcept {
    tracked.cancel_queued = false;
    order_params(tracked);
    if (!send(RequestKind::cancel, tracked.order.order_id, "DELETE", "/api/v3/order", params_, true, false,
              kWeightCancel)) {
      queue_cancel(tracked);
      return;
    }
    tracked.cancel_in_flight = true;
    ++tracked.cancel_attempts;
    ++stats_.cancels_sent;
  }

  bool send_query(Tracked& tracked) noexcept {
    order_params(tracked);
    if (!send(RequestKind::query, tracked.order.order_id, "GET", "/api/v3/order", params_, true, false,
              kWeightQuery)) {
      return false;
    }
    tracked.query_in_flight = true;
    tracked.next_query_ns = now() + settings_.order_poll_interval_ns;
    ++stats_.queries_sent;
    return true;
  }

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
      if (it->kind == RequestKind::order && (!reachable || t - tracked->queued_ns > settings_.max_queue_wait_ns)) {
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

  [[nodiscard]] bool background_allowed(std::int64_t weight) const noexcept {
    return static_cast<double>(weight_in_window() + weight) <=
           settings_.background_weight_share * static_cast<double>(settings_.weight_limit_1m);
  }

  // Account check, lookups of unknown and resting orders, prices, keep-alive.
  bool background() noexcept {
    if (client_.idle_connections() == 0 || !queue_.empty()) return false;
    const std::int64_t t = now();
    if (t < paused_until_ns_) return false;
    if ((!account_ready_ || unauthorized_) && !account_in_flight_ && t >= next_account_ns_) {
      return background_allowed(kWeightAccount) && request_account();
    }
    if (!account_ready_) return false;
    // Orders whose fate is unknown are looked up first, and even when the
    // background budget is used up: reporting them right matters more.
    for (auto& [id, tracked] : orders_) {
      if (tracked.phase == Phase::unknown && !tracked.query_in_flight && t >= tracked.next_query_ns &&
          weight_in_window() + kWeightQuery <= settings_.weight_limit_1m) {
        return send_query(tracked);
      }
    }
    if (!background_allowed(kWeightQuery)) return false;
    if (t >= next_order_poll_ns_) {
      // One working order per interval, in turn.
      Tracked* chosen = nullptr;
      for (auto& [id, tracked] : orders_) {
        if (tracked.phase != Phase::working || tracked.query_in_flight || tracked.cancel_in_flight) continue;
        if (chosen == nullptr || tracked.next_query_ns < chosen->next_query_ns) chosen = &tracked;
      }
      if (chosen != nullptr) {
        next_order_poll_ns_ = t + settings_.order_poll_interval_ns;
        if (send_query(*chosen)) return true;
      }
    }
    if (!ticker_target_.empty() && settings_.pricing_interval_ns > 0 && !pricing_in_flight_ && t >= next_pricing_ns_ &&
        background_allowed(ticker_weight_)) {
      return request_pricing();
    }
    const std::int64_t idle_since = client_.oldest_idle_since_ns();
    if (idle_since != 0 && t - idle_since >= settings_.keepalive_interval_ns && background_allowed(kWeightPing)) {
      params_.clear();
      return send(RequestKind::keepalive, 0, "GET", "/api/v3/ping", params_, false, false, kWeightPing);
    }
    return false;
  }

  bool request_time() noexcept {
    params_.clear();
    time_sent_ms_ = wall_ms();
    if (!send(RequestKind::server_time, 0, "GET", "/api/v3/time", params_, false, false, kWeightPing)) return false;
    time_in_flight_ = true;
    return true;
  }

  bool request_account() noexcept {
    next_account_ns_ = now() + kAccountRetryNs;
    params_.clear();
    if (!send(RequestKind::account, 0, "GET", "/api/v3/account", params_, true, false, kWeightAccount)) return false;
    account_in_flight_ = true;
    return true;
  }

  bool request_pricing() noexcept {
    next_pricing_ns_ = now() + settings_.pricing_interval_ns;
    params_.clear();
    tls::HttpRequest request;
    request.method = "GET";
    request.target = ticker_target_;
    if (!client_.send(request, make_tag(RequestKind::pricing, 0))) return false;
    weight_since_header_ += ticker_weight_;
    pricing_in_flight_ = true;
    return true;
  }

  // --- replies ------------------------------------------------------------

  void on_http_result(std::uint64_t tag, const tls::HttpResult& result) noexcept override {
    const RequestKind kind = detail::tag_kind(tag);
    const OrderId id = detail::tag_order(tag);
    if (result.response != nullptr) track_limits(*result.response);
    switch (kind) {
      case RequestKind::order: on_order_reply(id, result); break;
      case RequestKind::cancel: on_cancel_reply(id, result); break;
      case RequestKind::query: on_query_reply(id, result); break;
      case RequestKind::pricing: on_pricing_reply(result); break;
      case RequestKind::server_time: on_time_reply(result); break;
      case RequestKind::account: on_account_reply(result); break;
      case RequestKind::transactions:
      case RequestKind::keepalive: break;
    }
  }

  void track_limits(const tls::HttpResponse& response) noexcept {
    const std::int64_t t = now();
    const std::int64_t weight = header_integer(response.header("X-MBX-USED-WEIGHT-1M"), -1);
    if (weight >= 0) {
      used_weight_ = weight;
      weight_at_ns_ = t;
      weight_since_header_ = 0;
      stats_.used_weight = weight;
    }
    const std::int64_t count = header_integer(response.header("X-MBX-ORDER-COUNT-10S"), -1);
    if (count >= 0) {
      order_count_ = count;
      order_count_at_ns_ = t;
      orders_since_header_ = 0;
      stats_.order_count = count;
    }
    const int status = response.status();
    if (status == 429 || status == 418) {
      ++stats_.rate_limited;
      std::int64_t pause = header_integer(response.header("Retry-After"), -1);
      pause = pause >= 0 ? std::min(pause * kNanosPerSecond, kMaxPauseNs) : settings_.rate_limit_pause_ns;
      paused_until_ns_ = std::max(paused_until_ns_, t + pause);
      log(status == 418 ? LogLevel::error : LogLevel::warning,
          std::string(status == 418 ? "IP banned by Binance (HTTP 418)" : "rate limited by Binance (HTTP 429)") +
              "; no request for " + std::to_string(pause / kNanosPerMilli) +
              " ms (Retry-After), orders meanwhile are rejected BROKER_RATE_LIMITED");
    }
  }

  void on_unauthorized(int status, int code) noexcept {
    if (!unauthorized_) {
      log(LogLevel::error, "ALERT: Binance refused the API key or signature (" + detail::status_text(status) +
                               (code != 0 ? " code " + std::to_string(code) : std::string{}) +
                               "); check the key, the secret and the key's permissions; orders are rejected "
                               "BROKER_UNAVAILABLE");
    }
    unauthorized_ = true;
  }

  void on_clock_skew() noexcept {
    log(LogLevel::warning, "order refused for its timestamp (-1021): the local clock is off the server's by more "
                           "than recvWindow (" + std::to_string(settings_.recv_window_ms) +
                               " ms; offset measured at start " + std::to_string(stats_.clock_offset_ms) +
                               " ms); check NTP");
    if (!time_in_flight_) (void)request_time();
  }

  void on_order_reply(OrderId id, const tls::HttpResult& result) noexcept {
    Tracked* tracked = find(id);
    if (tracked == nullptr) return;
    if (result.error == tls::TransportError::not_sent) {
      finish(id, ExecStatus::rejected, Reason::BROKER_UNAVAILABLE, "NO_CONNECTION");
      return;
    }
    if (result.response == nullptr) {
      mark_unknown(*tracked, "no reply (" + std::string(tls::to_string(result.error)) + ")");
      return;
    }
    const int status = result.response->status();
    const OrderReply reply = codec_.parse_order_reply(status, result.response->body());
    switch (reply.kind) {
      case ReplyKind::ok:
        unauthorized_ = false;
        apply(*tracked, reply.order);
        return;
      case ReplyKind::rejected:
      case ReplyKind::not_found:
        log(LogLevel::info, "order " + std::string(tracked->order.client_order_id.view()) +
                                " rejected by Binance: " + std::string(code_text(reply.code).view()));
        finish(id, ExecStatus::rejected, Reason::BROKER_REJECTED, code_text(reply.code).view());
        return;
      case ReplyKind::clock_skew:
        on_clock_skew();
        finish(id, ExecStatus::rejected, Reason::BROKER_REJECTED, code_text(reply.code).view());
        return;
      case ReplyKind::unauthorized:
        on_unauthorized(status, reply.code);
        finish(id, ExecStatus::rejected, Reason::BROKER_UNAVAILABLE, code_text(reply.code).view());
        return;
      case ReplyKind::rate_limited:
      case ReplyKind::banned:
        finish(id, ExecStatus::rejected, Reason::BROKER_RATE_LIMITED, code_text(reply.code).view());
        return;
      case ReplyKind::unknown:
        mark_unknown(*tracked, detail::status_text(status) +
                                   (reply.code != 0 ? " code " + std::to_string(reply.code) : std::string{}));
        return;
    }
  }

  void mark_unknown(Tracked& tracked, const std::string& why) noexcept {
    tracked.phase = Phase::unknown;
    tracked.unknown_since_ns = now();
    tracked.next_query_ns = now();
    ++stats_.unknown_fate;
    log(LogLevel::warning, "order " + std::string(tracked.order.client_order_id.view()) + ": " + why +
                               "; its fate is unknown, looking it up by client order id (it is not resent)");
  }

  // Reports what changed since the last report: a fill (with the exact
  // price of the new quantity), then the new status.
  void apply(Tracked& tracked, const OrderState& state) noexcept {
    const OrderId id = tracked.order.order_id;
    if (tracked.phase == Phase::unknown) ++stats_.recovered;
    if (tracked.broker_id == 0) tracked.broker_id = state.order_id;
    tracked.phase = Phase::working;
    Decimal delta;
    Decimal quote_delta;
    if (Decimal::sub(state.executed_quantity, tracked.fills.filled, delta) && delta.is_positive() &&
        Decimal::sub(state.cumulative_quote, tracked.quote, quote_delta)) {
      const Decimal price = divide(quote_delta, delta);
      const Decimal booked = tracked.fills.add(delta, price, tracked.order.quantity);
      tracked.quote = state.cumulative_quote;
      if (booked.is_positive()) {
        const bool complete = state.status == OrderStatus::filled || tracked.fills.complete(tracked.order.quantity);
        report(tracked, complete ? ExecStatus::filled : ExecStatus::partially_filled, booked, price, Reason::OK, {},
               state.time_ms);
        if (complete) {
          orders_.erase(id);
          return;
        }
      }
    }
    switch (state.status) {
      case OrderStatus::filled:
        // Filled without a quantity we could book (already reported): done.
        orders_.erase(id);
        return;
      case OrderStatus::canceled:
        finish(id, ExecStatus::canceled, Reason::OK, "CANCELED", state.time_ms);
        return;
      case OrderStatus::expired:
        // IOC/FOK/market remainders that could not fill: canceled by the
        // broker, as the paper broker reports them.
        finish(id, ExecStatus::canceled, Reason::OK, "EXPIRED", state.time_ms);
        return;
      case OrderStatus::rejected:
        finish(id, ExecStatus::rejected, Reason::BROKER_REJECTED, "REJECTED", state.time_ms);
        return;
      case OrderStatus::new_order:
      case OrderStatus::partially_filled:
      case OrderStatus::pending_cancel:
      case OrderStatus::unknown:
        break;
    }
    Tracked* still = find(id);
    if (still == nullptr) return;
    if (!still->new_reported && !still->fills.filled.is_positive()) {
      report(*still, ExecStatus::new_order, Decimal{}, Decimal{}, Reason::OK, {}, state.time_ms);
    }
    if (still->next_query_ns == 0) still->next_query_ns = now() + settings_.order_poll_interval_ns;
    if (still->cancel_wanted) {
      still->cancel_wanted = false;
      queue_cancel(*still);
    }
  }

  void on_query_reply(OrderId id, const tls::HttpResult& result) noexcept {
    Tracked* tracked = find(id);
    if (tracked == nullptr) return;
    tracked->query_in_flight = false;
    if (result.response == nullptr) return;  // asked again at the next turn
    const OrderReply reply = codec_.parse_order_reply(result.response->status(), result.response->body());
    switch (reply.kind) {
      case ReplyKind::ok: apply(*tracked, reply.order); return;
      case ReplyKind::not_found:
        if (tracked->phase == Phase::unknown &&
            now() - tracked->unknown_since_ns >= settings_.unknown_fate_window_ns) {
          log(LogLevel::warning, "order " + std::string(tracked->order.client_order_id.view()) +
                                     " does not exist at Binance: reported as not placed");
          finish(id, ExecStatus::rejected, Reason::BROKER_UNAVAILABLE, "NOT_PLACED");
        }
        return;
      case ReplyKind::unauthorized: on_unauthorized(result.response->status(), reply.code); return;
      case ReplyKind::clock_skew: on_clock_skew(); return;
      case ReplyKind::rejected:
      case ReplyKind::rate_limited:
      case ReplyKind::banned:
      case ReplyKind::unknown: return;
    }
  }

  void on_cancel_reply(OrderId id, const tls::HttpResult& result) noexcept {
    Tracked* tracked = find(id);
    if (tracked == nullptr) return;
    tracked->cancel_in_flight = false;
    if (result.response == nullptr) {
      if (tracked->cancel_attempts < kMaxCancelAttempts) queue_cancel(*tracked);
      return;
    }
    const OrderReply reply = codec_.parse_order_reply(result.response->status(), result.response->body());
    switch (reply.kind) {
      case ReplyKind::ok: apply(*tracked, reply.order); return;
      case ReplyKind::not_found:
      case ReplyKind::rejected:
        // Filled or cancelled first: look it up now instead of waiting for its turn.
        log(LogLevel::info, "cancel of " + std::string(tracked->order.client_order_id.view()) + " refused: " +
                                std::string(code_text(reply.code).view()));
        tracked->next_query_ns = 0;
        if (!tracked->query_in_flight) (void)send_query(*tracked);
        return;
      case ReplyKind::unauthorized: on_unauthorized(result.response->status(), reply.code); return;
      case ReplyKind::clock_skew:
        on_clock_skew();
        [[fallthrough]];
      case ReplyKind::rate_limited:
      case ReplyKind::banned:
      case ReplyKind::unknown:
        if (tracked->cancel_attempts < kMaxCancelAttempts) queue_cancel(*tracked);
        return;
    }
  }

  void on_time_reply(const tls::HttpResult& result) noexcept {
    time_in_flight_ = false;
    std::int64_t server_ms = 0;
    if (result.response == nullptr || result.response->status() != 200 ||
        !codec_.parse_server_time(result.response->body(), server_ms)) {
      return;
    }
    const std::int64_t local_ms = (time_sent_ms_ + wall_ms()) / 2;
    stats_.clock_offset_ms = server_ms - local_ms;
    const std::int64_t skew = std::llabs(stats_.clock_offset_ms);
    if (skew * 2 > settings_.recv_window_ms) {
      log(LogLevel::warning, "the local clock is " + std::to_string(stats_.clock_offset_ms) +
                                 " ms off Binance's server time; signed requests may be refused (-1021); check NTP");
    }
  }

  void on_account_reply(const tls::HttpResult& result) noexcept {
    account_in_flight_ = false;
    if (result.response == nullptr) return;
    const int status = result.response->status();
    if (status == 200) {
      if (!account_ready_) log(LogLevel::info, "API key accepted; ready");
      account_ready_ = true;
      unauthorized_ = false;
      return;
    }
    const OrderReply reply = codec_.parse_order_reply(status, result.response->body());
    if (reply.kind == ReplyKind::unauthorized) {
      on_unauthorized(status, reply.code);
    } else if (reply.kind == ReplyKind::clock_skew) {
      on_clock_skew();
    } else if (status != 429 && status != 418) {
      log(LogLevel::warning, "account check failed (" + detail::status_text(status) + "); retrying");
    }
  }

  void on_pricing_reply(const tls::HttpResult& result) noexcept {
    pricing_in_flight_ = false;
    if (result.response == nullptr || result.response->status() != 200) return;
    if (!codec_.parse_book_tickers(result.response->body(), tickers_)) {
      log(LogLevel::warning, "unreadable book ticker reply");
      return;
    }
    const std::int64_t t = now();
    for (const BookTicker& ticker : tickers_) {
      const auto it = by_symbol_.find(ticker.symbol);
      if (it == by_symbol_.end() || !ticker.bid.is_positive() || ticker.bid > ticker.ask) continue;
      quotes_->publish(it->second, ticker.bid, ticker.ask, t);
      ++stats_.price_updates;
    }
  }

  BinanceSettings settings_;
  tls::HttpsClient client_;
  BinanceCodec codec_;
  security::Secret key_header_;
  std::vector<std::string> symbols_;  // by InstrumentId; empty = not traded here
  std::unordered_map<std::string, InstrumentId> by_symbol_;
  std::string ticker_target_;
  std::int64_t ticker_weight_ = 0;

  ExecutionSink* sink_ = nullptr;
  QuoteBoard* quotes_ = nullptr;
  const Clock* clock_ = nullptr;

  std::unordered_map<OrderId, Tracked> orders_;
  std::deque<Command> queue_;

  bool account_ready_ = false;
  bool account_in_flight_ = false;
  bool unauthorized_ = false;
  bool pricing_in_flight_ = false;
  bool time_in_flight_ = false;
  std::int64_t time_sent_ms_ = 0;
  std::int64_t next_account_ns_ = 0;
  std::int64_t next_pricing_ns_ = 0;
  std::int64_t next_order_poll_ns_ = 0;
  std::int64_t paused_until_ns_ = 0;

  std::int64_t used_weight_ = 0;          // last header
  std::int64_t weight_at_ns_ = 0;
  std::int64_t weight_since_header_ = 0;  // sent since the last header
  std::int64_t order_count_ = 0;
  std::int64_t order_count_at_ns_ = 0;
  std::int64_t orders_since_header_ = 0;

  std::string params_;  // scratch
  std::string target_;  // scratch
  std::vector<BookTicker> tickers_;
  BinanceStats stats_;
};

BinanceBroker::BinanceBroker(const InstrumentTable& instruments, BinanceSettings settings)
    : impl_(std::make_unique<Impl>(instruments, std::move(settings))) {}

BinanceBroker::~BinanceBroker() = default;

void BinanceBroker::start(ExecutionSink& sink, QuoteBoard& quotes, const Clock& clock) {
  impl_->start(sink, quotes, clock);
}
void BinanceBroker::submit(const Order& order) noexcept { impl_->submit(order); }
void BinanceBroker::cancel(const CancelOrder& cancel) noexcept { impl_->cancel(cancel); }
bool BinanceBroker::poll() noexcept { return impl_->poll(); }
void BinanceBroker::stop() noexcept { impl_->stop(); }
bool BinanceBroker::ready() const noexcept { return impl_->unavailable_reason().empty(); }
const BinanceStats& BinanceBroker::stats() const noexcept { return impl_->stats_; }
const tls::HttpsClientStats& BinanceBroker::connection_stats() const noexcept { return impl_->client_.stats(); }

std::function<std::unique_ptr<BrokerPort>(const InstrumentTable&)> make_binance_factory(BinanceSettings settings) {
  auto shared = std::make_shared<const BinanceSettings>(std::move(settings));
  return [shared](const InstrumentTable& instruments) -> std::unique_ptr<BrokerPort> {
    return std::make_unique<BinanceBroker>(instruments, shared->clone());
  };
}

}  // namespace ordergate::adapters::binance
