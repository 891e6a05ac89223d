#include "ordergate/adapters/binance/binance_broker.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <deque>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "../rest/order_tracker.hpp"
#include "ordergate/adapters/binance/binance_protocol.hpp"

namespace ordergate::adapters::binance {

using detail::RequestKind;
using detail::make_tag;
using tls::LogLevel;

namespace {

constexpr std::int64_t kAccountRetryNs = 5 * kNanosPerSecond;
constexpr std::int64_t kWeightWindowNs = 60 * kNanosPerSecond;
constexpr std::int64_t kOrderWindowNs = 10 * kNanosPerSecond;
constexpr std::int64_t kMaxPauseNs = std::int64_t{3} * 24 * 3600 * kNanosPerSecond;
// Request weights (Binance spot, 2024).
constexpr std::int64_t kWeightOrder = 1;
constexpr std::int64_t kWeightCancel = 1;
constexpr std::int64_t kWeightQuery = 4;
constexpr std::int64_t kWeightPing = 1;
constexpr std::int64_t kWeightAccount = 20;
constexpr std::int64_t kWeightTickerOne = 2;
constexpr std::int64_t kWeightTickerMany = 4;
constexpr std::int64_t kWeightOpenOrdersAll = 80;  // without a symbol: every symbol, one snapshot

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

}  // namespace

BinanceSettings BinanceSettings::clone() const {
  BinanceSettings copy;
  rest::copy_common_settings(*this, copy);
  copy.api_key = api_key.clone();
  copy.secret_key = secret_key.clone();
  copy.recv_window_ms = recv_window_ms;
  copy.weight_limit_1m = weight_limit_1m;
  copy.order_limit_10s = order_limit_10s;
  copy.background_weight_share = background_weight_share;
  copy.order_poll_interval_ns = order_poll_interval_ns;
  return copy;
}

namespace {

class BinanceVenue final : public rest::RestVenue {
 public:
  BinanceVenue(const InstrumentTable& table, BinanceSettings settings_in)
      : settings_(std::move(settings_in)),
        tracker_(settings_.connection, settings_.log,
                 rest::tracker_settings(settings_, "Binance", "RETRY_AFTER", "looking it up by client order id"),
                 *this, stats_) {
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
    rest::check_common_intervals(settings_, settings_.order_poll_interval_ns, "binance");
    symbols_ = rest::venue_instrument_names(table, settings_.instruments, settings_.symbol_map, "binance",
                                            default_symbol, valid_symbol, "a Binance symbol");
    std::vector<std::string> priced;
    for (std::size_t id = 0; id < symbols_.size(); ++id) {
      if (symbols_[id].empty()) continue;
      by_symbol_[symbols_[id]] = static_cast<InstrumentId>(id);
      priced.push_back(symbols_[id]);
      // A base asset's balance is the position of the first instrument on it.
      const Instrument& instrument = table.all()[id];
      by_base_asset_.emplace(std::string(instrument.base.view()), static_cast<InstrumentId>(id));
      quote_assets_.emplace(std::string(instrument.quote.view()));
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
    key_header_ = detail::secret_header_lines({"X-MBX-APIKEY: ", settings_.api_key.reveal(), "\r\n"});
  }

  [[nodiscard]] rest::OrderTracker& tracker() noexcept override { return tracker_; }
  [[nodiscard]] const BinanceStats& stats() const noexcept { return stats_; }

 private:
  // --- helpers ------------------------------------------------------------

  [[nodiscard]] std::int64_t now() const noexcept { return tracker_.now(); }
  [[nodiscard]] std::int64_t wall_ms() const noexcept { return tracker_.wall_ns() / kNanosPerMilli; }
  // Binance times are milliseconds since the epoch; 0 = none (the tracker uses now).
  static std::int64_t ns_of_ms(std::int64_t time_ms) noexcept { return time_ms > 0 ? time_ms * kNanosPerMilli : 0; }

  void log(LogLevel level, const std::string& line) const noexcept { tracker_.log(level, line); }

  // Sends a request; signed ones get recvWindow, timestamp and signature
  // appended to `params` here, immediately before the write.
  bool send(RequestKind kind, OrderId order_id, std::string_view method, std::string_view path, std::string& fields,
            bool signed_request, bool in_body, std::int64_t weight) {
    return send_tagged(make_tag(kind, order_id), method, path, fields, signed_request, in_body, weight);
  }

  bool send_tagged(std::uint64_t tag, std::string_view method, std::string_view path, std::string& fields,
                   bool signed_request, bool in_body, std::int64_t weight) {
    if (tracker_.client().idle_connections() == 0) return false;
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
    if (!tracker_.client().send(request, tag)) return false;
    weight_since_header_ += weight;
    publish_limits();
    return true;
  }

  // For metrics: the windows as this adapter counts them.
  void publish_limits() noexcept {
    tracker_.transport().set_limit(0, "weight_1m", weight_in_window(), settings_.weight_limit_1m);
    tracker_.transport().set_limit(1, "orders_10s", orders_in_window(), settings_.order_limit_10s);
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

  void prepare(QuoteBoard& quotes) override {
    if (quotes.size() < symbols_.size()) {
      throw std::invalid_argument("binance: the quote board is smaller than the instrument table");
    }
    quotes_ = &quotes;
  }

  void warm_up() override {
    const std::int64_t timeout = settings_.connection.request_timeout_ns;
    if (request_time()) {
      const std::int64_t deadline = now() + timeout;
      while (time_in_flight_ && now() < deadline) tracker_.client().poll();
    }
    request_account();
    const std::int64_t deadline = now() + timeout;
    while (account_in_flight_ && now() < deadline) tracker_.client().poll();
    if (ticker_target_.empty() || settings_.pricing_interval_ns == 0 || !tracker_.account_ready()) return;
    request_pricing();
    const std::int64_t pricing_deadline = now() + timeout;
    while (pricing_in_flight_ && now() < pricing_deadline) tracker_.client().poll();
  }

  // --- RestVenue: sending ---------------------------------------------------

  [[nodiscard]] bool maps(InstrumentId instrument) const noexcept override {
    return instrument < symbols_.size() && !symbols_[instrument].empty();
  }

  [[nodiscard]] std::string_view order_budget_refusal(std::int64_t) noexcept override {
    const bool over_count = orders_in_window() + 1 > settings_.order_limit_10s;
    if (!over_count && weight_in_window() + kWeightOrder <= settings_.weight_limit_1m) return {};
    ++stats_.refused_locally;
    return over_count ? "ORDER_COUNT_LIMIT" : "WEIGHT_LIMIT";
  }

  [[nodiscard]] bool cancel_budget_allows(std::int64_t) const noexcept override {
    return weight_in_window() + kWeightCancel <= settings_.weight_limit_1m;
  }

  [[nodiscard]] std::string_view build_order(const rest::TrackedOrder& tracked) noexcept override {
    params_.clear();
    return write_order_params(tracked.order, symbols_[tracked.order.instrument_id], tracked.venue_client_id.view(),
                              params_);
  }

  [[nodiscard]] bool send_order(rest::TrackedOrder& tracked) noexcept override {
    if (!send(RequestKind::order, tracked.order.order_id, "POST", "/api/v3/order", params_, true, true,
              kWeightOrder)) {
      return false;
    }
    ++orders_since_header_;
    publish_limits();
    return true;
  }

  // Lookups and cancels name the order by Binance's id once it is known,
  // else by our venue client id (never by the strategy's id).
  void order_params(const rest::TrackedOrder& tracked) {
    params_.clear();
    append_param(params_, "symbol", symbols_[tracked.order.instrument_id]);
    if (tracked.broker_id != 0) {
      char text[24];
      const auto end = std::to_chars(text, text + sizeof(text), tracked.broker_id).ptr;
      append_param(params_, "orderId", std::string_view(text, static_cast<std::size_t>(end - text)));
    } else {
      append_param(params_, "origClientOrderId", tracked.venue_client_id.view());
    }
  }

  [[nodiscard]] bool send_cancel(rest::TrackedOrder& tracked) noexcept override {
    order_params(tracked);
    return send(RequestKind::cancel, tracked.order.order_id, "DELETE", "/api/v3/order", params_, true, false,
                kWeightCancel);
  }

  bool send_query(rest::TrackedOrder& tracked) noexcept {
    order_params(tracked);
    if (!send(RequestKind::query, tracked.order.order_id, "GET", "/api/v3/order", params_, true, false,
              kWeightQuery)) {
      return false;
    }
    tracked.venue.query_in_flight = true;
    tracked.venue.next_query_ns = now() + settings_.order_poll_interval_ns;
    ++stats_.queries_sent;
    return true;
  }

  void on_fate_unknown(rest::TrackedOrder& tracked) noexcept override { tracked.venue.next_query_ns = now(); }

  void look_up_soon(rest::TrackedOrder& tracked) noexcept override {
    // Now, instead of waiting for its turn.
    tracked.venue.next_query_ns = 0;
    if (!tracked.venue.query_in_flight) (void)send_query(tracked);
  }

  void on_forget(const rest::TrackedOrder&) noexcept override {}

  // --- amends: POST /api/v3/order/cancelReplace -----------------------------
  //
  // STOP_ON_FAILURE: Binance cancels the original and, only if that worked,
  // places the new order (a new Binance order id and our venue client id of
  // the new gateway order). The new order's quantity is what the amended
  // total leaves after the original's fills; Binance does not carry them
  // over. One answer per replace, on the new order id (see docs/brokers.md).

  [[nodiscard]] bool supports_replace() const noexcept override { return true; }

  struct PendingReplace {
    ReplaceOrder request;
    rest::VenueClientId venue_client_id;  // of the new order
    std::int64_t queued_ns = 0;
    // A lost reply: the new order, then the original, are looked up.
    enum class Stage : std::uint8_t { queued, sent, find_new, find_original } stage = Stage::queued;
    bool lookup_in_flight = false;
    std::int64_t next_lookup_ns = 0;
    std::int64_t lost_since_ns = 0;
    bool new_found = false;
    OrderState placed;  // the new order as the lookup found it
  };

  void replace(const ReplaceOrder& request) noexcept override {
    const OrderId id = request.order.order_id;
    if (replaces_.count(id) != 0) return;  // answered already
    rest::TrackedOrder* original = tracker_.find(request.original_order_id);
    if (original == nullptr || original->phase != rest::Phase::working || original->venue.replace_in_flight) {
      refuse_replace(request, Reason::BROKER_REJECTED, "ORDER_NOT_WORKING");
      return;
    }
    if (original->cancel_wanted || original->cancel_queued || original->cancel_in_flight) {
      refuse_replace(request, Reason::BROKER_REJECTED, "CANCEL_PENDING");
      return;
    }
    const Order& order = request.order;
    if (order.instrument_id != original->order.instrument_id || order.side != original->order.side ||
        order.type != original->order.type || !maps(order.instrument_id)) {
      refuse_replace(request, Reason::BROKER_REJECTED, "INVALID_ORDER");
      return;
    }
    if (const std::string_view why = tracker_.unavailable_reason(); !why.empty()) {
      refuse_replace(request, Reason::BROKER_UNAVAILABLE, why);
      return;
    }
    if (tracker_.paused(now())) {
      refuse_replace(request, Reason::BROKER_RATE_LIMITED, "RETRY_AFTER");
      return;
    }
    PendingReplace pending;
    pending.request = request;
    pending.venue_client_id = tracker_.venue_client_ids().make(id);
    pending.queued_ns = now();
    original->venue.replace_in_flight = true;
    replaces_.emplace(id, pending);
    replace_queue_.push_back(id);
    (void)send_replaces(now());
  }

  // What the original has filled, as reported to the gateway.
  static Decimal filled_of(const rest::TrackedOrder& tracked) noexcept {
    Decimal filled;
    if (!Decimal::add(tracked.fills.filled, tracked.adopted_filled, filled)) filled = tracked.fills.filled;
    return filled;
  }

  // Sends queued amends in turn (and due lookups of lost ones); true when
  // a request went out.
  bool send_replaces(std::int64_t t) noexcept {
    bool sent = false;
    while (!replace_queue_.empty()) {
      const OrderId id = replace_queue_.front();
      const auto it = replaces_.find(id);
      if (it == replaces_.end() || it->second.stage != PendingReplace::Stage::queued) {
        replace_queue_.pop_front();
        continue;
      }
      PendingReplace& pending = it->second;
      rest::TrackedOrder* original = tracker_.find(pending.request.original_order_id);
      if (original == nullptr) {
        replace_queue_.pop_front();
        finish_replace_refused(id, Reason::BROKER_REJECTED, "ORDER_NOT_WORKING");
        continue;
      }
      if (tracker_.client().idle_connections() == 0) {
        if (t - pending.queued_ns <= settings_.max_queue_wait_ns) break;
        replace_queue_.pop_front();
        finish_replace_refused(id, Reason::BROKER_UNAVAILABLE, "QUEUE_TIMEOUT");
        continue;
      }
      if (const std::string_view refusal = order_budget_refusal(t); !refusal.empty()) {
        replace_queue_.pop_front();
        finish_replace_refused(id, Reason::BROKER_RATE_LIMITED, refusal);
        continue;
      }
      Order venue_order = pending.request.order;
      if (!Decimal::sub(pending.request.order.quantity, filled_of(*original), venue_order.quantity) ||
          !venue_order.quantity.is_positive()) {
        replace_queue_.pop_front();
        finish_replace_refused(id, Reason::BROKER_REJECTED, "QUANTITY_FILLED");
        continue;
      }
      params_.clear();
      append_param(params_, "cancelReplaceMode", "STOP_ON_FAILURE");
      if (original->broker_id != 0) {
        append_param(params_, "cancelOrderId", rest::id_text(original->broker_id));
      } else {
        append_param(params_, "cancelOrigClientOrderId", original->venue_client_id.view());
      }
      const std::string_view problem =
          write_order_params(venue_order, symbols_[venue_order.instrument_id], pending.venue_client_id.view(), params_);
      if (!problem.empty()) {
        replace_queue_.pop_front();
        finish_replace_refused(id, Reason::BROKER_REJECTED, problem);
        continue;
      }
      if (!send(RequestKind::replace, id, "POST", "/api/v3/order/cancelReplace", params_, true, true,
                kWeightOrder)) {
        break;
      }
      ++orders_since_header_;
      publish_limits();
      replace_queue_.pop_front();
      pending.stage = PendingReplace::Stage::sent;
      sent = true;
    }
    for (auto& [id, pending] : replaces_) {
      if ((pending.stage == PendingReplace::Stage::find_new || pending.stage == PendingReplace::Stage::find_original) &&
          !pending.lookup_in_flight && t >= pending.next_lookup_ns &&
          weight_in_window() + kWeightQuery <= settings_.weight_limit_1m) {
        // One at a time: a lookup may settle the amend, which ends this walk.
        return send_replace_lookup(id, pending) || sent;
      }
    }
    return sent;
  }

  // The report of an amend refused before it reached Binance.
  void refuse_replace(const ReplaceOrder& request, Reason reason, std::string_view broker_reason) noexcept {
    answer_replace(request, ExecStatus::replace_rejected, reason, broker_reason, 0, Decimal{}, Decimal{});
  }

  void answer_replace(const ReplaceOrder& request, ExecStatus status, Reason reason, std::string_view broker_reason,
                      std::uint64_t broker_id, Decimal filled, Decimal leaves) noexcept {
    tracker_.report_replace(request, status, reason, broker_reason, broker_id, filled, leaves);
  }

  // REPLACE_REJECTED for the pending amend `id`, which is forgotten; the
  // original (if still tracked) is polled again like any working order.
  void finish_replace_refused(OrderId id, Reason reason, std::string_view broker_reason) noexcept {
    const auto it = replaces_.find(id);
    if (it == replaces_.end()) return;
    const ReplaceOrder request = it->second.request;
    replaces_.erase(it);
    if (rest::TrackedOrder* original = tracker_.find(request.original_order_id); original != nullptr) {
      original->venue.replace_in_flight = false;
    }
    log(LogLevel::info, "amend of order " + std::to_string(request.original_order_id) + " into " +
                            std::to_string(id) + " refused: " + std::string(broker_reason));
    refuse_replace(request, reason, broker_reason);
  }

  // Binance took the amend: the original retires without a report of its
  // own (after any fill `canceled` shows that was not reported yet), and the
  // new order is tracked from `placed` on under the new gateway order id.
  void complete_replace(OrderId id, const OrderState& canceled, const OrderState& placed) noexcept {
    const auto it = replaces_.find(id);
    if (it == replaces_.end()) return;
    const PendingReplace pending = it->second;
    replaces_.erase(it);
    const ReplaceOrder& request = pending.request;
    Decimal filled;
    if (rest::TrackedOrder* original = tracker_.find(request.original_order_id); original != nullptr) {
      original->venue.replace_in_flight = false;
      const Decimal before = filled_of(*original);
      if (canceled.order_id != 0 && names(*original, canceled, "the amend's cancel")) {
        (void)book_new_fills(*original, canceled);
      }
      original = tracker_.find(request.original_order_id);
      if (original != nullptr && filled_of(*original) != before) {
        log(LogLevel::warning, "order " + std::to_string(request.original_order_id) +
                                   " filled more before its amend's cancel than was known; the new Binance order is "
                                   "larger than the gateway's leaves by that (no more than the leaves is booked)");
      }
      if (original != nullptr) {
        filled = filled_of(*original);
        tracker_.forget(request.original_order_id);
      }
    } else {
      filled = canceled.executed_quantity;
    }
    rest::TrackedOrder tracked;
    tracked.order = request.order;
    if (!Decimal::sub(request.order.quantity, filled, tracked.order.quantity) ||
        !tracked.order.quantity.is_positive()) {
      tracked.order.quantity = Decimal{};
    }
    tracked.adopted_filled = filled;
    tracked.venue_client_id = pending.venue_client_id;
    tracked.phase = rest::Phase::working;
    tracked.broker_id = placed.order_id;
    tracked.new_reported = true;  // REPLACED says it works
    tracked.queued_ns = now();
    tracked.venue.next_query_ns = now() + settings_.order_poll_interval_ns;
    const Decimal leaves = tracked.order.quantity;
    // Tracked before REPLACED goes out: the gateway may cancel the order from
    // inside that report (a cancel-all that reached it while it was pending).
    // Replaced down to what had filled, nothing is left to track: the
    // gateway ends the order.
    if (leaves.is_positive()) {
      const auto [entry, inserted] = tracker_.orders().emplace(id, tracked);
      if (inserted) {
        log(LogLevel::info, "order " + std::to_string(request.original_order_id) + " amended into " +
                                rest::OrderTracker::describe(entry->second) + ", Binance orderId " +
                                rest::id_text(placed.order_id));
      }
    }
    answer_replace(request, ExecStatus::replaced, Reason::OK, {}, placed.order_id, filled, leaves);
    if (rest::TrackedOrder* replacement = tracker_.find(id); replacement != nullptr) {
      apply(*replacement, placed);  // fills on arrival
    }
  }

  // The original was cancelled but no new order replaced it: CANCELED for
  // the original (after its unreported fills), then REPLACE_REJECTED.
  void cancel_without_replacement(OrderId id, const OrderState& canceled, std::string_view broker_reason) noexcept {
    const auto it = replaces_.find(id);
    if (it == replaces_.end()) return;
    const OrderId original_id = it->second.request.original_order_id;
    if (rest::TrackedOrder* original = tracker_.find(original_id); original != nullptr) {
      original->venue.replace_in_flight = false;
      if (canceled.order_id != 0 && names(*original, canceled, "the amend's cancel")) {
        (void)book_new_fills(*original, canceled);
      }
      tracker_.finish(original_id, ExecStatus::canceled, Reason::OK, "CANCELED", ns_of_ms(canceled.time_ms));
    }
    finish_replace_refused(id, Reason::BROKER_REJECTED, broker_reason);
  }

  void on_replace_reply(OrderId id, const tls::HttpResult& result) noexcept {
    const auto it = replaces_.find(id);
    if (it == replaces_.end()) return;
    PendingReplace& pending = it->second;
    if (pending.stage == PendingReplace::Stage::find_new || pending.stage == PendingReplace::Stage::find_original) {
      on_replace_lookup(id, pending, result);
      return;
    }
    if (result.error == tls::TransportError::not_sent) {
      finish_replace_refused(id, Reason::BROKER_UNAVAILABLE, "NO_CONNECTION");
      return;
    }
    if (result.response == nullptr) {
      replace_lost(pending, std::string(tls::to_string(result.error)));
      return;
    }
    const int status = result.response->status();
    const CancelReplaceReply reply = codec_.parse_cancel_replace_reply(status, result.response->body());
    switch (reply.outcome) {
      case ReplaceOutcome::replaced:
        tracker_.credentials_accepted();
        if (reply.placed.client_order_id.view() != pending.venue_client_id.view()) {
          ++stats_.mismatched_replies;
          replace_lost(pending, "the reply names another order");
          return;
        }
        complete_replace(id, reply.canceled, reply.placed);
        return;
      case ReplaceOutcome::cancel_failed:
      {
        // The original may have filled or been cancelled: it is looked up now.
        const OrderId original_id = pending.request.original_order_id;
        finish_replace_refused(id, Reason::BROKER_REJECTED, code_text(reply.cancel_code).view());
        if (rest::TrackedOrder* original = tracker_.find(original_id); original != nullptr) look_up_soon(*original);
        return;
      }
      case ReplaceOutcome::both_failed:
        finish_replace_refused(id, Reason::BROKER_REJECTED, code_text(reply.new_code).view());
        return;
      case ReplaceOutcome::new_failed:
        cancel_without_replacement(id, reply.canceled, code_text(reply.new_code).view());
        return;
      case ReplaceOutcome::refused: {
        Reason reason = Reason::BROKER_REJECTED;
        if (reply.kind == ReplyKind::unauthorized) {
          on_unauthorized(status, reply.code);
          reason = Reason::BROKER_UNAVAILABLE;
        } else if (reply.kind == ReplyKind::clock_skew) {
          on_clock_skew();
        } else if (reply.kind == ReplyKind::rate_limited || reply.kind == ReplyKind::banned) {
          reason = Reason::BROKER_RATE_LIMITED;
        }
        finish_replace_refused(id, reason, code_text(reply.code).view());
        return;
      }
      case ReplaceOutcome::unknown:
        replace_lost(pending, detail::status_text(status) +
                                  (reply.code != 0 ? " code " + std::to_string(reply.code) : std::string{}));
        return;
    }
  }

  // The outcome of a cancelReplace is unknown: it is never resent. Once
  // recvWindow has passed since it was written (Binance refuses it after
  // that), the new order is looked up by its client id, then the original
  // by its order id.
  void replace_lost(PendingReplace& pending, const std::string& why) noexcept {
    pending.stage = PendingReplace::Stage::find_new;
    pending.lost_since_ns = now();
    pending.next_lookup_ns = now() + (settings_.recv_window_ms + 1000) * kNanosPerMilli;
    log(LogLevel::warning, "amend of order " + std::to_string(pending.request.original_order_id) + " into " +
                               std::to_string(pending.request.order.order_id) + ": " + why +
                               "; its outcome is unknown, looking both orders up (it is not resent)");
  }

  bool send_replace_lookup(OrderId id, PendingReplace& pending) noexcept {
    params_.clear();
    append_param(params_, "symbol", symbols_[pending.request.order.instrument_id]);
    if (pending.stage == PendingReplace::Stage::find_new) {
      append_param(params_, "origClientOrderId", pending.venue_client_id.view());
    } else {
      const rest::TrackedOrder* original = tracker_.find(pending.request.original_order_id);
      if (original == nullptr) {
        // Nothing left to learn about the original.
        settle_lost_replace(id, pending, OrderState{});
        return false;
      }
      if (original->broker_id != 0) {
        append_param(params_, "orderId", rest::id_text(original->broker_id));
      } else {
        append_param(params_, "origClientOrderId", original->venue_client_id.view());
      }
    }
    if (!send(RequestKind::replace, id, "GET", "/api/v3/order", params_, true, false, kWeightQuery)) return false;
    pending.lookup_in_flight = true;
    pending.next_lookup_ns = now() + settings_.order_poll_interval_ns;
    ++stats_.queries_sent;
    return true;
  }

  void on_replace_lookup(OrderId id, PendingReplace& pending, const tls::HttpResult& result) noexcept {
    pending.lookup_in_flight = false;
    // The window runs from the first lookup, after recvWindow.
    const bool give_up = now() - pending.lost_since_ns >
                         settings_.unknown_fate_window_ns + (settings_.recv_window_ms + 1000) * kNanosPerMilli;
    OrderReply reply;
    if (result.response != nullptr) reply = codec_.parse_order_reply(result.response->status(), result.response->body());
    if (pending.stage == PendingReplace::Stage::find_new) {
      if (reply.kind == ReplyKind::ok && reply.order.client_order_id.view() == pending.venue_client_id.view()) {
        pending.new_found = true;
        pending.placed = reply.order;
      } else if (reply.kind != ReplyKind::not_found) {
        if (give_up) finish_replace_refused(id, Reason::BROKER_REJECTED, "REPLACE_UNKNOWN");
        return;  // asked again at the next turn
      }
      pending.stage = PendingReplace::Stage::find_original;
      pending.next_lookup_ns = 0;
      return;
    }
    if (reply.kind == ReplyKind::ok) {
      settle_lost_replace(id, pending, reply.order);
    } else if (reply.kind == ReplyKind::not_found || give_up) {
      settle_lost_replace(id, pending, OrderState{});
    }
  }

  // Both orders were looked up after a lost reply: the new order exists
  // (REPLACED), or it does not and the original either works on
  // (REPLACE_REJECTED, REPLACE_UNKNOWN) or was cancelled (CANCELED, then
  // REPLACE_REJECTED).
  void settle_lost_replace(OrderId id, PendingReplace& pending, const OrderState& original_state) noexcept {
    if (pending.new_found) {
      const OrderState placed = pending.placed;
      complete_replace(id, original_state, placed);
      return;
    }
    rest::TrackedOrder* original = tracker_.find(pending.request.original_order_id);
    if (original != nullptr && original_state.order_id != 0 &&
        (original_state.status == OrderStatus::canceled || original_state.status == OrderStatus::expired)) {
      cancel_without_replacement(id, original_state, "REPLACE_UNKNOWN");
      return;
    }
    const OrderId original_id = pending.request.original_order_id;
    finish_replace_refused(id, Reason::BROKER_REJECTED, "REPLACE_UNKNOWN");
    original = tracker_.find(original_id);
    if (original != nullptr && original_state.order_id != 0 && names(*original, original_state, "a lookup")) {
      apply(*original, original_state);
    }
  }

  // --- RestVenue: reconciliation ------------------------------------------

  // openOrders without a symbol (weight 80: every symbol in one snapshot, so
  // orders on symbols the gateway does not trade are counted as skipped),
  // then the account (weight 20) for the balances.
  static constexpr std::uint8_t kOpenOrdersPart = 1;
  static constexpr std::uint8_t kAccountPart = 2;

  void begin_holdings() noexcept override { fetch_ = HoldingsFetch{}; }

  [[nodiscard]] bool holdings_step(std::int64_t) noexcept override {
    if (!fetch_.orders_sent) {
      if (weight_in_window() + kWeightOpenOrdersAll > settings_.weight_limit_1m) return false;
      params_.clear();
      if (!send_tagged(tracker_.holdings_tag(kOpenOrdersPart), "GET", "/api/v3/openOrders", params_, true, false,
                       kWeightOpenOrdersAll)) {
        return false;
      }
      fetch_.orders_sent = true;
      return true;
    }
    if (!fetch_.account_sent) {
      if (weight_in_window() + kWeightAccount > settings_.weight_limit_1m) return false;
      params_.clear();
      if (!send_tagged(tracker_.holdings_tag(kAccountPart), "GET", "/api/v3/account", params_, true, false,
                       kWeightAccount)) {
        return false;
      }
      fetch_.account_sent = true;
      return true;
    }
    return false;
  }

  void on_holdings_reply(std::uint8_t part, const tls::HttpResult& result) noexcept override {
    const bool orders = part == kOpenOrdersPart;
    const std::string what = orders ? "openOrders" : "account";
    if (result.response == nullptr) {
      tracker_.fail_holdings(what + ": " + std::string(tls::to_string(result.error)));
      return;
    }
    const int status = result.response->status();
    if (status != 200) {
      const OrderReply reply = codec_.parse_order_reply(status, result.response->body());
      if (reply.kind == ReplyKind::unauthorized) on_unauthorized(status, reply.code);
      if (reply.kind == ReplyKind::clock_skew) on_clock_skew();
      tracker_.fail_holdings(what + ": " + detail::status_text(status) +
                             (reply.code != 0 ? " code " + std::to_string(reply.code) : std::string{}));
      return;
    }
    const bool parsed = orders ? codec_.parse_open_orders(result.response->body(), open_orders_)
                               : codec_.parse_balances(result.response->body(), balances_);
    if (!parsed) {
      tracker_.fail_holdings(what + ": unreadable reply");
      return;
    }
    (orders ? fetch_.orders_done : fetch_.account_done) = true;
    if (fetch_.orders_done && fetch_.account_done) answer_holdings();
  }

  void answer_holdings() noexcept {
    Holdings holdings;
    holdings.complete = true;
    held_state_.clear();
    for (const OpenOrder& open : open_orders_) {
      const auto instrument = by_symbol_.find(open.symbol);
      if (instrument == by_symbol_.end() || open.type == OrderType::unset) {
        ++holdings.skipped;
        continue;
      }
      HeldOrder held;
      held.account_id = kNoAccountId;
      held.instrument_id = instrument->second;
      held.side = open.side;
      held.type = open.type;
      held.time_in_force = open.time_in_force;
      held.quantity = open.orig_quantity;
      (void)Decimal::sub(open.orig_quantity, open.executed_quantity, held.leaves);
      held.price = open.price;
      held.stop_price = open.stop_price;
      held.broker_order_id.assign(rest::id_text(open.order_id));
      held.venue_client_id.assign(open.client_order_id.view());
      if (!held.leaves.is_positive()) continue;  // filled as it was read
      holdings.orders.push_back(held);
      held_state_[open.order_id] = HeldState{open.executed_quantity, open.cumulative_quote};
    }
    // Spot has no short: a base asset's whole balance (free + locked by
    // resting sells) is the long position of its instrument.
    for (const AssetBalance& balance : balances_) {
      Decimal total;
      if (!Decimal::add(balance.free, balance.locked, total) || total.is_zero()) continue;
      const auto instrument = by_base_asset_.find(balance.asset);
      if (instrument != by_base_asset_.end()) {
        holdings.positions.push_back(HeldPosition{kNoAccountId, instrument->second, total});
      } else if (quote_assets_.count(balance.asset) == 0) {
        ++holdings.skipped;  // an asset no traded instrument buys or sells
      }
    }
    tracker_.answer_holdings(holdings);
  }

  // An adopted order reports only what Binance executes after the holdings
  // it was read from; it is looked up at once.
  void on_adopt(rest::TrackedOrder& tracked, const HeldOrder& held) noexcept override {
    const auto state = held_state_.find(tracked.broker_id);
    if (state != held_state_.end()) {
      tracked.venue.executed_base = state->second.executed;
      tracked.venue.quote = state->second.quote;
    } else {
      // Not from the latest holdings: what was executed is what the gateway
      // was told is missing from the quantity, at the order's price.
      (void)Decimal::sub(held.quantity, held.leaves, tracked.venue.executed_base);
      if (tracked.venue.executed_base.is_negative()) tracked.venue.executed_base = Decimal{};
      tracked.venue.quote = Decimal::from_raw(
          static_cast<std::int64_t>(Decimal::product_raw(held.price, tracked.venue.executed_base) / Decimal::kScale));
    }
    tracked.venue.next_query_ns = 0;
  }

  [[nodiscard]] bool background_allowed(std::int64_t weight) const noexcept {
    return static_cast<double>(weight_in_window() + weight) <=
           settings_.background_weight_share * static_cast<double>(settings_.weight_limit_1m);
  }

  // Account check, lookups of unknown and resting orders, prices, keep-alive.
  bool background(std::int64_t t) noexcept override {
    if ((!tracker_.account_ready() || tracker_.unauthorized()) && !account_in_flight_ && t >= next_account_ns_) {
      return background_allowed(kWeightAccount) && request_account();
    }
    if (!tracker_.account_ready()) return false;
    if (send_replaces(t)) return true;
    // Orders whose fate is unknown are looked up first, and even when the
    // background budget is used up: reporting them right matters more.
    for (auto& [id, tracked] : tracker_.orders()) {
      if (tracked.phase == rest::Phase::unknown && !tracked.venue.query_in_flight &&
          t >= tracked.venue.next_query_ns && weight_in_window() + kWeightQuery <= settings_.weight_limit_1m) {
        return send_query(tracked);
      }
    }
    if (!background_allowed(kWeightQuery)) return false;
    if (t >= next_order_poll_ns_) {
      // One working order per interval, in turn.
      rest::TrackedOrder* chosen = nullptr;
      for (auto& [id, tracked] : tracker_.orders()) {
        if (tracked.phase != rest::Phase::working || tracked.venue.query_in_flight || tracked.cancel_in_flight ||
            tracked.venue.replace_in_flight) {
          continue;
        }
        if (chosen == nullptr || tracked.venue.next_query_ns < chosen->venue.next_query_ns) chosen = &tracked;
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
    const std::int64_t idle_since = tracker_.client().oldest_idle_since_ns();
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
    if (!tracker_.client().send(request, make_tag(RequestKind::pricing, 0))) return false;
    weight_since_header_ += ticker_weight_;
    pricing_in_flight_ = true;
    return true;
  }

  // --- RestVenue: replies ---------------------------------------------------

  void on_other_reply(RequestKind kind, OrderId id, const tls::HttpResult& result) noexcept override {
    switch (kind) {
      case RequestKind::query: on_query_reply(id, result); return;
      case RequestKind::pricing: on_pricing_reply(result); return;
      case RequestKind::server_time: on_time_reply(result); return;
      case RequestKind::account: on_account_reply(result); return;
      case RequestKind::replace: on_replace_reply(id, result); return;
      default: return;
    }
  }

  void on_response(const tls::HttpResponse& response) noexcept override {
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
    publish_limits();
    const int status = response.status();
    if (status == 429 || status == 418) {
      ++stats_.rate_limited;
      std::int64_t pause = header_integer(response.header("Retry-After"), -1);
      pause = pause >= 0 ? std::min(pause * kNanosPerSecond, kMaxPauseNs) : settings_.rate_limit_pause_ns;
      tracker_.pause_until(t + pause);
      log(status == 418 ? LogLevel::error : LogLevel::warning,
          std::string(status == 418 ? "IP banned by Binance (HTTP 418)" : "rate limited by Binance (HTTP 429)") +
              "; no request for " + std::to_string(pause / kNanosPerMilli) +
              " ms (Retry-After), orders meanwhile are rejected BROKER_RATE_LIMITED");
    }
  }

  void on_unauthorized(int status, int code) noexcept {
    tracker_.credentials_refused("ALERT: Binance refused the API key or signature (" + detail::status_text(status) +
                                 (code != 0 ? " code " + std::to_string(code) : std::string{}) +
                                 "); check the key, the secret and the key's permissions; orders are rejected "
                                 "BROKER_UNAVAILABLE");
  }

  void on_clock_skew() noexcept {
    log(LogLevel::warning, "order refused for its timestamp (-1021): the local clock is off the server's by more "
                           "than recvWindow (" + std::to_string(settings_.recv_window_ms) +
                               " ms; offset measured at start " + std::to_string(stats_.clock_offset_ms) +
                               " ms); check NTP");
    if (!time_in_flight_) (void)request_time();
  }

  void on_order_reply(rest::TrackedOrder& tracked, const tls::HttpResponse& response) noexcept override {
    const OrderId id = tracked.order.order_id;
    const int status = response.status();
    const OrderReply reply = codec_.parse_order_reply(status, response.body());
    switch (reply.kind) {
      case ReplyKind::ok:
        tracker_.credentials_accepted();
        if (!names(tracked, reply.order, "the reply")) {
          // Not a reply about this order: what happened to it is looked up.
          tracker_.mark_unknown(tracked, "the reply names another order");
          return;
        }
        apply(tracked, reply.order);
        return;
      case ReplyKind::rejected:
      case ReplyKind::not_found:
        log(LogLevel::info, "order " + rest::OrderTracker::describe(tracked) +
                                " rejected by Binance: " + std::string(code_text(reply.code).view()));
        tracker_.finish(id, ExecStatus::rejected, Reason::BROKER_REJECTED, code_text(reply.code).view());
        return;
      case ReplyKind::clock_skew:
        on_clock_skew();
        tracker_.finish(id, ExecStatus::rejected, Reason::BROKER_REJECTED, code_text(reply.code).view());
        return;
      case ReplyKind::unauthorized:
        on_unauthorized(status, reply.code);
        tracker_.finish(id, ExecStatus::rejected, Reason::BROKER_UNAVAILABLE, code_text(reply.code).view());
        return;
      case ReplyKind::rate_limited:
      case ReplyKind::banned:
        tracker_.finish(id, ExecStatus::rejected, Reason::BROKER_RATE_LIMITED, code_text(reply.code).view());
        return;
      case ReplyKind::unknown:
        tracker_.mark_unknown(tracked, detail::status_text(status) +
                                           (reply.code != 0 ? " code " + std::to_string(reply.code) : std::string{}));
        return;
    }
  }

  // True when `state` is about `tracked`: Binance's orderId once we know it,
  // and our venue client id whenever the reply carries a client id (always
  // before the orderId is known: a lookup by client id must find ours, not
  // an order of another run or program that used the same id). Otherwise
  // the reply is logged and never booked.
  [[nodiscard]] bool names(const rest::TrackedOrder& tracked, const OrderState& state,
                           std::string_view what) noexcept {
    const bool order_matches = tracked.broker_id == 0 || state.order_id == tracked.broker_id;
    const bool client_matches = state.client_order_id.empty()
                                    ? tracked.broker_id != 0
                                    : state.client_order_id == tracked.venue_client_id.view();
    if (order_matches && client_matches) return true;
    ++stats_.mismatched_replies;
    log(LogLevel::warning, std::string(what) + " for order " + rest::OrderTracker::describe(tracked) +
                               " names another order (orderId " + rest::id_text(state.order_id) +
                               ", clientOrderId '" + std::string(state.client_order_id.view()) +
                               "'); ignored");
    return false;
  }

  // Reports what changed since the last report: a fill (with the exact
  // price of the new quantity), then the new status.
  void apply(rest::TrackedOrder& tracked, const OrderState& state) noexcept {
    const OrderId id = tracked.order.order_id;
    const std::int64_t time_ns = ns_of_ms(state.time_ms);
    if (tracked.broker_id == 0) tracked.broker_id = state.order_id;
    tracker_.mark_working(tracked);
    if (book_new_fills(tracked, state)) return;
    switch (state.status) {
      case OrderStatus::filled:
        // Filled without a quantity we could book (already reported): done.
        tracker_.forget(id);
        return;
      case OrderStatus::canceled: tracker_.finish(id, ExecStatus::canceled, Reason::OK, "CANCELED", time_ns); return;
      case OrderStatus::expired:
        // IOC/FOK/market remainders that could not fill: canceled by the
        // broker, as the paper broker reports them.
        tracker_.finish(id, ExecStatus::canceled, Reason::OK, "EXPIRED", time_ns);
        return;
      case OrderStatus::rejected:
        tracker_.finish(id, ExecStatus::rejected, Reason::BROKER_REJECTED, "REJECTED", time_ns);
        return;
      case OrderStatus::new_order:
      case OrderStatus::partially_filled:
      case OrderStatus::pending_cancel:
      case OrderStatus::unknown: break;
    }
    rest::TrackedOrder* still = tracker_.find(id);
    if (still == nullptr) return;
    if (still->venue.next_query_ns == 0) still->venue.next_query_ns = now() + settings_.order_poll_interval_ns;
    tracker_.after_working(*still, time_ns);
  }

  // Reports the fill `state` shows beyond what was reported (with the exact
  // price of the new quantity); true when that finished (and forgot) the order.
  bool book_new_fills(rest::TrackedOrder& tracked, const OrderState& state) noexcept {
    Decimal delta;
    Decimal quote_delta;
    Decimal executed;  // since the gateway has known the order (adoption: since its holdings)
    if (Decimal::sub(state.executed_quantity, tracked.venue.executed_base, executed) &&
        Decimal::sub(executed, tracked.fills.filled, delta) && delta.is_positive() &&
        Decimal::sub(state.cumulative_quote, tracked.venue.quote, quote_delta)) {
      tracked.venue.quote = state.cumulative_quote;
      return tracker_.book_fill(tracked, delta, divide(quote_delta, delta), ns_of_ms(state.time_ms),
                                state.status == OrderStatus::filled);
    }
    return false;
  }

  void on_query_reply(OrderId id, const tls::HttpResult& result) noexcept {
    rest::TrackedOrder* tracked = tracker_.find(id);
    if (tracked == nullptr) return;
    tracked->venue.query_in_flight = false;
    if (result.response == nullptr) return;  // asked again at the next turn
    // An order being amended is settled by the amend's outcome.
    if (tracked->venue.replace_in_flight) return;
    const OrderReply reply = codec_.parse_order_reply(result.response->status(), result.response->body());
    switch (reply.kind) {
      case ReplyKind::ok:
        // Another order under our id is no trace of ours: asked again at the
        // next turn, and NOT_PLACED once the window has passed.
        if (names(*tracked, reply.order, "a lookup")) apply(*tracked, reply.order);
        return;
      case ReplyKind::not_found:
        if (tracker_.unknown_beyond_window(*tracked, now())) tracker_.not_placed(id, "does not exist at Binance");
        return;
      case ReplyKind::unauthorized: on_unauthorized(result.response->status(), reply.code); return;
      case ReplyKind::clock_skew: on_clock_skew(); return;
      case ReplyKind::rejected:
      case ReplyKind::rate_limited:
      case ReplyKind::banned:
      case ReplyKind::unknown: return;
    }
  }

  void on_cancel_reply(rest::TrackedOrder& tracked, const tls::HttpResponse& response) noexcept override {
    const OrderReply reply = codec_.parse_order_reply(response.status(), response.body());
    switch (reply.kind) {
      case ReplyKind::ok:
        if (names(tracked, reply.order, "the cancel reply")) {
          apply(tracked, reply.order);
        } else {
          look_up_soon(tracked);  // the lookup says whether it is cancelled
        }
        return;
      case ReplyKind::not_found:
      case ReplyKind::rejected: tracker_.cancel_refused(tracked, code_text(reply.code).view()); return;
      case ReplyKind::unauthorized: on_unauthorized(response.status(), reply.code); return;
      case ReplyKind::clock_skew:
        on_clock_skew();
        [[fallthrough]];
      case ReplyKind::rate_limited:
      case ReplyKind::banned:
      case ReplyKind::unknown: tracker_.retry_cancel(tracked); return;
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
      if (!tracker_.account_ready()) log(LogLevel::info, "API key accepted; ready");
      tracker_.set_account_ready();
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
  BinanceStats stats_;
  rest::OrderTracker tracker_;
  BinanceCodec codec_;
  security::Secret key_header_;
  std::vector<std::string> symbols_;  // by InstrumentId; empty = not traded here
  std::unordered_map<std::string, InstrumentId> by_symbol_;
  std::unordered_map<std::string, InstrumentId> by_base_asset_;
  std::set<std::string> quote_assets_;
  std::string ticker_target_;
  std::int64_t ticker_weight_ = 0;

  QuoteBoard* quotes_ = nullptr;

  bool account_in_flight_ = false;
  bool pricing_in_flight_ = false;
  bool time_in_flight_ = false;
  std::int64_t time_sent_ms_ = 0;
  std::int64_t next_account_ns_ = 0;
  std::int64_t next_pricing_ns_ = 0;
  std::int64_t next_order_poll_ns_ = 0;

  std::int64_t used_weight_ = 0;          // last header
  std::int64_t weight_at_ns_ = 0;
  std::int64_t weight_since_header_ = 0;  // sent since the last header
  std::int64_t order_count_ = 0;
  std::int64_t order_count_at_ns_ = 0;
  std::int64_t orders_since_header_ = 0;

  // Reconciliation: the fetch under way, and what the latest holdings read
  // of each open order (the baseline of an adoption).
  struct HoldingsFetch {
    bool orders_sent = false;
    bool account_sent = false;
    bool orders_done = false;
    bool account_done = false;
  };
  struct HeldState {
    Decimal executed;
    Decimal quote;
  };
  HoldingsFetch fetch_;
  std::vector<OpenOrder> open_orders_;
  std::vector<AssetBalance> balances_;
  std::unordered_map<std::uint64_t, HeldState> held_state_;

  std::unordered_map<OrderId, PendingReplace> replaces_;  // by the new gateway order id
  std::deque<OrderId> replace_queue_;                     // amends waiting for a connection
  std::string params_;  // scratch
  std::string target_;  // scratch
  std::vector<BookTicker> tickers_;
};

}  // namespace

BinanceBroker::BinanceBroker(const InstrumentTable& instruments, BinanceSettings settings)
    : RestBroker(std::make_unique<BinanceVenue>(instruments, std::move(settings))) {}

const BinanceStats& BinanceBroker::stats() const noexcept { return static_cast<const BinanceVenue&>(venue()).stats(); }

std::function<std::unique_ptr<BrokerPort>(const InstrumentTable&)> make_binance_factory(BinanceSettings settings) {
  return rest::make_factory<BinanceBroker>(std::move(settings));
}

}  // namespace ordergate::adapters::binance
