#include "ordergate/adapters/oanda/oanda_broker.hpp"

#include <algorithm>
#include <charconv>
#include <deque>
#include <optional>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "../rest/order_tracker.hpp"
#include "ordergate/adapters/oanda/oanda_protocol.hpp"

namespace ordergate::adapters::oanda {

using detail::RequestKind;
using detail::make_tag;
using tls::LogLevel;

namespace {

constexpr std::int64_t kAccountRetryNs = 1 * kNanosPerSecond;
constexpr std::int64_t kMaxRateLimitPauseNs = 60 * kNanosPerSecond;
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

// Retry-After in seconds (delta form only; the HTTP-date form is treated as absent).
std::int64_t retry_after_ns(std::string_view header) noexcept {
  std::int64_t seconds = 0;
  const auto [end, ec] = std::from_chars(header.data(), header.data() + header.size(), seconds);
  if (header.empty() || ec != std::errc{} || end != header.data() + header.size() || seconds < 0) return -1;
  return std::min(seconds, std::int64_t{3600}) * kNanosPerSecond;
}

// What kind of protective order an OANDA order type or fill reason names.
FillSource source_of(std::string_view type) noexcept {
  if (type == "STOP_LOSS_ORDER" || type == "GUARANTEED_STOP_LOSS_ORDER") return FillSource::stop_loss;
  if (type == "TAKE_PROFIT_ORDER") return FillSource::take_profit;
  if (type == "TRAILING_STOP_LOSS_ORDER") return FillSource::trailing_stop;
  return FillSource::account;
}

}  // namespace

OandaSettings OandaSettings::clone() const {
  OandaSettings copy;
  rest::copy_common_settings(*this, copy);
  copy.account_id = account_id;
  copy.token = token.clone();
  copy.max_requests_per_second = max_requests_per_second;
  copy.transaction_poll_interval_ns = transaction_poll_interval_ns;
  return copy;
}

namespace {

class OandaVenue final : public rest::RestVenue {
 public:
  OandaVenue(const InstrumentTable& table, OandaSettings settings_in)
      : settings_(std::move(settings_in)),
        tracker_(settings_.connection, settings_.log,
                 rest::tracker_settings(settings_, "OANDA", "RATE_LIMITED", "searching the account's transactions"),
                 *this, stats_),
        pacer_(settings_.max_requests_per_second) {
    if (!valid_account_id(settings_.account_id)) {
      throw std::invalid_argument("oanda.account_id: must be 1-64 of [A-Za-z0-9_-], e.g. 101-001-1234567-001");
    }
    if (settings_.token.empty()) {
      throw std::invalid_argument("oanda: the API token is empty; set the variable named by oanda.token_env");
    }
    rest::check_common_intervals(settings_, settings_.transaction_poll_interval_ns, "oanda");
    instrument_names_ =
        rest::venue_instrument_names(table, settings_.instruments, settings_.symbol_map, "oanda",
                                     default_instrument_name, valid_instrument_name, "an OANDA instrument name");
    open_units_.resize(instrument_names_.size());
    for (std::size_t id = 0; id < instrument_names_.size(); ++id) {
      if (instrument_names_[id].empty()) continue;
      by_instrument_name_[instrument_names_[id]] = static_cast<InstrumentId>(id);
      if (!pricing_list_.empty()) pricing_list_ += "%2C";
      pricing_list_ += instrument_names_[id];
    }
    account_path_ = "/v3/accounts/" + settings_.account_id;
    orders_path_ = account_path_ + "/orders";
    auth_headers_ = detail::secret_header_lines(
        {"Authorization: Bearer ", settings_.token.reveal(), "\r\nAccept-Datetime-Format: RFC3339\r\n"});
  }

  [[nodiscard]] rest::OrderTracker& tracker() noexcept override { return tracker_; }
  [[nodiscard]] const OandaStats& stats() const noexcept { return stats_; }

 private:
  // --- helpers ------------------------------------------------------------

  [[nodiscard]] std::int64_t now() const noexcept { return tracker_.now(); }

  void log(LogLevel level, const std::string& line) const noexcept { tracker_.log(level, line); }

  bool send(RequestKind kind, OrderId order_id, std::string_view method, std::string_view path,
            std::string_view payload = {}) {
    return send_tagged(make_tag(kind, order_id), method, path, payload);
  }

  bool send_tagged(std::uint64_t tag, std::string_view method, std::string_view path, std::string_view payload = {}) {
    tls::HttpRequest request;
    request.method = method;
    request.target = path;
    request.headers = auth_headers_.reveal();
    if (!payload.empty()) request.content_type = "application/json";
    request.body = payload;
    if (!tracker_.client().send(request, tag)) return false;
    pacer_.consume(now());
    return true;
  }

  // Orders whose fills must come from the transaction history.
  void watch_from(std::uint64_t transaction_id) noexcept {
    cursor_ = watching_ ? std::min(cursor_, transaction_id) : transaction_id;
    watching_ = true;
  }

  // --- BrokerPort ---------------------------------------------------------

  void prepare(QuoteBoard& quotes) override {
    if (quotes.size() < instrument_names_.size()) {
      throw std::invalid_argument("oanda: the quote board is smaller than the instrument table");
    }
    quotes_ = &quotes;
  }

  void warm_up() override {
    // Read the account's last transaction id (and so check the token) before
    // the first order, waiting at most one request timeout.
    request_account();
    const std::int64_t deadline = now() + settings_.connection.request_timeout_ns;
    while (!tracker_.account_ready() && account_in_flight_ && now() < deadline) tracker_.client().poll();
    if (pricing_list_.empty() || settings_.pricing_interval_ns == 0) return;
    request_pricing();
    const std::int64_t pricing_deadline = now() + settings_.connection.request_timeout_ns;
    while (pricing_in_flight_ && now() < pricing_deadline) tracker_.client().poll();
  }

  // --- RestVenue: sending ---------------------------------------------------

  [[nodiscard]] bool maps(InstrumentId instrument) const noexcept override {
    return instrument < instrument_names_.size() && !instrument_names_[instrument].empty();
  }

  [[nodiscard]] std::string_view order_budget_refusal(std::int64_t now_ns) noexcept override {
    return pacer_.allow(now_ns) ? std::string_view{} : std::string_view("OUTBOUND_LIMIT");
  }

  [[nodiscard]] bool cancel_budget_allows(std::int64_t now_ns) const noexcept override {
    return pacer_.allow(now_ns);
  }

  [[nodiscard]] std::string_view build_order(const rest::TrackedOrder& tracked) noexcept override {
    body_.clear();
    return write_order_body(tracked.order, instrument_names_[tracked.order.instrument_id],
                            tracked.venue_client_id.view(), body_);
  }

  [[nodiscard]] bool send_order(rest::TrackedOrder& tracked) noexcept override {
    tracked.venue.cursor_at_send = last_transaction_id_;
    return send(RequestKind::order, tracked.order.order_id, "POST", orders_path_, body_);
  }

  // By OANDA's order id once known (always, for a working order), else by
  // our venue client id; never by the strategy's id.
  [[nodiscard]] bool send_cancel(rest::TrackedOrder& tracked) noexcept override {
    target_.assign(account_path_).append("/orders/");
    if (tracked.broker_id != 0) {
      target_.append(rest::id_text(tracked.broker_id));
    } else {
      target_.append("@").append(tracked.venue_client_id.view());
    }
    target_.append("/cancel");
    return send(RequestKind::cancel, tracked.order.order_id, "PUT", target_);
  }

  void on_fate_unknown(rest::TrackedOrder& tracked) noexcept override {
    watch_from(tracked.venue.cursor_at_send);
    // Look sooner than the regular interval: the answer is usually there already.
    next_transactions_ns_ = std::min(next_transactions_ns_, now());
  }

  void look_up_soon(rest::TrackedOrder&) noexcept override {
    // The transaction poll reports what happened.
    next_transactions_ns_ = std::min(next_transactions_ns_, now());
  }

  void on_forget(const rest::TrackedOrder& tracked) noexcept override {
    // Only this order's own entry.
    const auto it = by_broker_id_.find(tracked.broker_id);
    if (it != by_broker_id_.end() && it->second == tracked.order.order_id) by_broker_id_.erase(it);
  }

  // --- amends: PUT /v3/accounts/{id}/orders/{orderSpecifier} ---------------
  //
  // OANDA cancels the original (ORDER_CANCEL, reason CLIENT_REQUEST_REPLACED,
  // replacedByOrderID) and creates the replacement (replacesOrderID, our
  // venue client id of the new gateway order) in one request. OANDA does not
  // carry fills over: the replacement is for what the amended total leaves
  // after the original's fills. One answer per replace, on the new order id
  // (see docs/brokers.md). While an amend is on its way, the account's
  // transactions that belong to it (the original's cancel for it, the
  // replacement's create, reject, fills, cancel) are kept with the amend:
  // they never end the original or count as fills of no order.

  [[nodiscard]] bool supports_replace() const noexcept override { return true; }

  struct PendingReplace {
    ReplaceOrder request;
    rest::VenueClientId venue_client_id;  // of the new order
    std::uint64_t original_broker_id = 0;
    std::int64_t queued_ns = 0;
    // sent: its reply is awaited; lost: the reply was lost, the account's
    // transactions say what happened.
    enum class Stage : std::uint8_t { queued, sent, lost } stage = Stage::queued;
    std::uint64_t cursor_at_send = 0;
    std::int64_t lost_since_ns = 0;
    // What the account's transactions showed.
    bool cancel_seen = false;  // the original, cancelled for the amend
    std::int64_t cancel_time_ns = 0;
    std::uint64_t new_order_id = 0;  // the replacement's create
    bool create_rejected = false;
    ReasonCode reject_reason;
    std::vector<Transaction> later;  // the replacement's fills and cancel, before it is tracked
  };

  void replace(const ReplaceOrder& request) noexcept override {
    const OrderId id = request.order.order_id;
    if (replaces_.count(id) != 0) return;  // answered already
    rest::TrackedOrder* original = tracker_.find(request.original_order_id);
    // A working order's OANDA id is known: the amend and every transaction of
    // it name the original by that id.
    if (original == nullptr || original->phase != rest::Phase::working || original->broker_id == 0 ||
        original->venue.replace_in_flight) {
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
      refuse_replace(request, Reason::BROKER_RATE_LIMITED, "RATE_LIMITED");
      return;
    }
    PendingReplace pending;
    pending.request = request;
    pending.venue_client_id = tracker_.venue_client_ids().make(id);
    pending.queued_ns = now();
    original->venue.replace_in_flight = true;
    replaces_.emplace(id, std::move(pending));
    replace_queue_.push_back(id);
    (void)send_replaces(now());
  }

  // What the original has filled, as reported to the gateway.
  static Decimal filled_of(const rest::TrackedOrder& tracked) noexcept {
    Decimal filled;
    if (!Decimal::add(tracked.fills.filled, tracked.adopted_filled, filled)) filled = tracked.fills.filled;
    return filled;
  }

  // Sends queued amends in turn, within the outbound budget; true when one
  // went out.
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
      if (original == nullptr || original->phase != rest::Phase::working || original->broker_id == 0) {
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
      body_.clear();
      const std::string_view problem = write_order_body(venue_order, instrument_names_[venue_order.instrument_id],
                                                        pending.venue_client_id.view(), body_);
      if (!problem.empty()) {
        replace_queue_.pop_front();
        finish_replace_refused(id, Reason::BROKER_REJECTED, problem);
        continue;
      }
      target_.assign(orders_path_).append("/").append(rest::id_text(original->broker_id));
      pending.cursor_at_send = last_transaction_id_;
      pending.original_broker_id = original->broker_id;
      if (!send(RequestKind::replace, id, "PUT", target_, body_)) break;
      replace_queue_.pop_front();
      pending.stage = PendingReplace::Stage::sent;
      sent = true;
    }
    return sent;
  }

  // The report of an amend refused before it reached OANDA.
  void refuse_replace(const ReplaceOrder& request, Reason reason, std::string_view broker_reason) noexcept {
    answer_replace(request, ExecStatus::replace_rejected, reason, broker_reason, 0, Decimal{}, Decimal{});
  }

  void answer_replace(const ReplaceOrder& request, ExecStatus status, Reason reason, std::string_view broker_reason,
                      std::uint64_t broker_id, Decimal filled, Decimal leaves) noexcept {
    tracker_.report_replace(request, status, reason, broker_reason, broker_id, filled, leaves);
  }

  // REPLACE_REJECTED for the pending amend `id`, which is forgotten; the
  // original (if still tracked) works on.
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

  // OANDA took the amend: the original retires without a report of its own
  // (its fills were reported from the transactions as they came), and the
  // replacement `new_order_id` is tracked under the new gateway order id.
  // Its transactions seen so far (and its fill or cancel in `reply`) are
  // applied after REPLACED, in the account's order.
  void complete_replace(OrderId id, std::uint64_t new_order_id, const ReplaceReply* reply) noexcept {
    const auto it = replaces_.find(id);
    if (it == replaces_.end()) return;
    PendingReplace pending = std::move(it->second);
    replaces_.erase(it);
    const ReplaceOrder& request = pending.request;
    Decimal filled;
    if (rest::TrackedOrder* original = tracker_.find(request.original_order_id); original != nullptr) {
      original->venue.replace_in_flight = false;
      filled = filled_of(*original);
      tracker_.forget(request.original_order_id);
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
    tracked.broker_id = new_order_id;
    tracked.new_reported = true;  // REPLACED says it works
    tracked.queued_ns = now();
    tracked.venue.cursor_at_send = pending.cursor_at_send;
    tracked.venue.last_applied = new_order_id;  // its create
    const Decimal leaves = tracked.order.quantity;
    // Tracked before REPLACED goes out: the gateway may cancel the order from
    // inside that report (a cancel-all that reached it while it was pending).
    if (leaves.is_positive()) {
      const auto [entry, inserted] = tracker_.orders().emplace(id, tracked);
      if (inserted) {
        by_broker_id_[new_order_id] = id;
        log(LogLevel::info, "order " + std::to_string(request.original_order_id) + " amended into " +
                                rest::OrderTracker::describe(entry->second) + ", OANDA order " +
                                rest::id_text(new_order_id));
      }
    }
    answer_replace(request, ExecStatus::replaced, Reason::OK, {}, new_order_id, filled, leaves);
    std::vector<Transaction> events = std::move(pending.later);
    if (reply != nullptr && reply->filled) {
      Transaction fill;
      fill.type = Transaction::Type::order_fill;
      fill.id = reply->fill_transaction_id;
      fill.order_id = new_order_id;
      fill.units = reply->fill_units;
      fill.side = request.order.side;
      fill.price = reply->fill_price;
      fill.time_ns = reply->fill_time_ns;
      fill.trade_id = reply->fill_trade_opened;
      fill.moves_position = true;
      // Read again from the history later: booked once.
      if (fill.id != 0) reply_fills_.insert(fill.id);
      events.push_back(fill);
    }
    if (reply != nullptr && reply->replacement_canceled) {
      Transaction cancel;
      cancel.type = Transaction::Type::order_cancel;
      cancel.id = reply->replacement_cancel_transaction_id;
      cancel.order_id = new_order_id;
      cancel.reason = reply->replacement_cancel_reason;
      cancel.time_ns = reply->replacement_cancel_time_ns;
      events.push_back(cancel);
    }
    std::stable_sort(events.begin(), events.end(),
                     [](const Transaction& a, const Transaction& b) { return a.id < b.id; });
    for (const Transaction& event : events) {
      rest::TrackedOrder* replacement = tracker_.find(id);
      if (replacement == nullptr) break;
      if (event.type == Transaction::Type::order_fill) watch_from(pending.cursor_at_send);  // its protective orders
      if (!apply(*replacement, event)) break;
    }
    if (rest::TrackedOrder* replacement = tracker_.find(id); replacement != nullptr) after_created(*replacement);
  }

  // The original was cancelled but no replacement was created: CANCELED for
  // the original, then REPLACE_REJECTED.
  void cancel_without_replacement(OrderId id, std::string_view broker_reason, std::int64_t cancel_time_ns) noexcept {
    const auto it = replaces_.find(id);
    if (it == replaces_.end()) return;
    const OrderId original_id = it->second.request.original_order_id;
    if (rest::TrackedOrder* original = tracker_.find(original_id); original != nullptr) {
      original->venue.replace_in_flight = false;
      tracker_.finish(original_id, ExecStatus::canceled, Reason::OK, "CLIENT_REQUEST_REPLACED", cancel_time_ns);
    }
    finish_replace_refused(id, Reason::BROKER_REJECTED, broker_reason);
  }

  void on_replace_reply(OrderId id, const tls::HttpResult& result) noexcept {
    const auto it = replaces_.find(id);
    if (it == replaces_.end() || it->second.stage != PendingReplace::Stage::sent) return;
    PendingReplace& pending = it->second;
    if (result.error == tls::TransportError::not_sent) {
      finish_replace_refused(id, Reason::BROKER_UNAVAILABLE, "NO_CONNECTION");
      return;
    }
    if (result.response == nullptr) {
      replace_lost(id, "no reply (" + std::string(tls::to_string(result.error)) + ")");
      return;
    }
    const int status = result.response->status();
    const ReplaceReply reply = codec_.parse_replace_reply(status, result.response->body());
    note_transaction_id(reply.last_transaction_id);
    switch (reply.outcome) {
      case ReplaceOutcome::replaced:
        tracker_.credentials_accepted();
        if (reply.canceled_order_id != pending.original_broker_id ||
            (pending.new_order_id != 0 && pending.new_order_id != reply.order_id)) {
          ++stats_.mismatched_replies;
          replace_lost(id, "the reply names another order (" + rest::id_text(reply.canceled_order_id) + " into " +
                               rest::id_text(reply.order_id) + ")");
          return;
        }
        complete_replace(id, reply.order_id, &reply);
        return;
      case ReplaceOutcome::cancel_rejected: {
        // The original may have filled or been cancelled: the transaction
        // poll says.
        const OrderId original_id = pending.request.original_order_id;
        finish_replace_refused(id, Reason::BROKER_REJECTED, reply.reject_reason.view());
        if (rest::TrackedOrder* original = tracker_.find(original_id); original != nullptr) look_up_soon(*original);
        return;
      }
      case ReplaceOutcome::create_rejected:
        if (reply.canceled_order_id != pending.original_broker_id) {
          ++stats_.mismatched_replies;
          replace_lost(id, "the reply cancels another order (" + rest::id_text(reply.canceled_order_id) + ")");
          return;
        }
        cancel_without_replacement(id, reply.reject_reason.view(), reply.cancel_time_ns);
        return;
      case ReplaceOutcome::refused: {
        Reason reason = Reason::BROKER_REJECTED;
        if (reply.kind == ReplyKind::unauthorized) {
          on_unauthorized(status, reply.reject_reason);
          reason = Reason::BROKER_UNAVAILABLE;
        } else if (reply.kind == ReplyKind::rate_limited) {
          reason = Reason::BROKER_RATE_LIMITED;
        }
        finish_replace_refused(id, reason, reply.reject_reason.view());
        return;
      }
      case ReplaceOutcome::unknown: replace_lost(id, detail::status_text(status)); return;
    }
  }

  // The outcome of an amend is unknown: it is never resent. The account's
  // transactions from before it was sent say what happened (the
  // replacement's create or reject, the original's cancel for it); if they
  // show nothing for a whole `unknown_fate_window_ns`, the amend is refused
  // (REPLACE_UNKNOWN) and the original works on.
  void replace_lost(OrderId id, const std::string& why) noexcept {
    const auto it = replaces_.find(id);
    if (it == replaces_.end()) return;
    PendingReplace& pending = it->second;
    pending.stage = PendingReplace::Stage::lost;
    pending.lost_since_ns = now();
    log(LogLevel::warning, "amend of order " + std::to_string(pending.request.original_order_id) + " into " +
                               std::to_string(id) + ": " + why +
                               "; its outcome is unknown, searching the account's transactions (it is not resent)");
    const std::uint64_t from = pending.cursor_at_send;
    if (settle_replace(id, false)) return;  // the transactions read so far already tell
    watch_from(from);
    next_transactions_ns_ = std::min(next_transactions_ns_, now());
  }

  // Settles a lost amend from what the transactions showed; with `give_up`,
  // also when they showed nothing conclusive. True when it was settled.
  bool settle_replace(OrderId id, bool give_up) noexcept {
    const auto it = replaces_.find(id);
    if (it == replaces_.end()) return true;
    PendingReplace& pending = it->second;
    if (pending.new_order_id != 0) {
      complete_replace(id, pending.new_order_id, nullptr);
      return true;
    }
    if (pending.create_rejected) {
      const ReasonCode reason = pending.reject_reason;
      if (pending.cancel_seen) {
        cancel_without_replacement(id, reason.view(), pending.cancel_time_ns);
      } else {
        finish_replace_refused(id, Reason::BROKER_REJECTED, reason.view());
      }
      return true;
    }
    if (!give_up) return false;
    if (pending.cancel_seen) {
      cancel_without_replacement(id, "REPLACE_UNKNOWN", pending.cancel_time_ns);
      return true;
    }
    const OrderId original_id = pending.request.original_order_id;
    finish_replace_refused(id, Reason::BROKER_REJECTED, "REPLACE_UNKNOWN");
    if (rest::TrackedOrder* original = tracker_.find(original_id); original != nullptr) look_up_soon(*original);
    return true;
  }

  // A transaction that belongs to an amend on its way (the original's cancel
  // for it; the replacement's create, reject, fills or cancel): kept with
  // the amend, and settles a lost one. True when it was one.
  bool on_replace_transaction(const Transaction& transaction) noexcept {
    switch (transaction.type) {
      case Transaction::Type::order_create:
      case Transaction::Type::order_reject: {
        const std::optional<OrderId> id =
            tracker_.venue_client_ids().order_id_of(transaction.client_order_id.view());
        if (!id) return false;
        const auto it = replaces_.find(*id);
        if (it == replaces_.end() || it->second.stage == PendingReplace::Stage::queued ||
            it->second.venue_client_id != transaction.client_order_id.view()) {
          return false;
        }
        PendingReplace& pending = it->second;
        if (transaction.type == Transaction::Type::order_reject) {
          pending.create_rejected = true;
          pending.reject_reason = transaction.reason;
        } else if (transaction.replace_link == pending.original_broker_id && transaction.id != 0) {
          pending.new_order_id = transaction.id;
        } else {
          ++stats_.mismatched_replies;
          log(LogLevel::warning, "transaction " + rest::id_text(transaction.id) + " creates the replacement " +
                                     std::string(pending.venue_client_id.view()) + " of another order (" +
                                     rest::id_text(transaction.replace_link) + "); ignored");
          return true;
        }
        if (pending.stage == PendingReplace::Stage::lost) (void)settle_replace(*id, false);
        return true;
      }
      case Transaction::Type::order_cancel:
      case Transaction::Type::order_fill:
        if (transaction.order_id == 0) return false;
        for (auto& [id, pending] : replaces_) {
          if (pending.stage == PendingReplace::Stage::queued) continue;
          if (transaction.type == Transaction::Type::order_cancel && transaction.order_id == pending.original_broker_id &&
              (transaction.replace_link != 0 || transaction.reason == std::string_view("CLIENT_REQUEST_REPLACED"))) {
            pending.cancel_seen = true;
            pending.cancel_time_ns = transaction.time_ns;
            return true;
          }
          if (transaction.order_id == pending.new_order_id) {
            const bool known = std::any_of(pending.later.begin(), pending.later.end(),
                                           [&](const Transaction& kept) { return kept.id == transaction.id; });
            if (!known) pending.later.push_back(transaction);
            return true;
          }
        }
        return false;
      case Transaction::Type::other:
      case Transaction::Type::dependent_order_create: return false;
    }
    return false;
  }

  // Lost amends whose transactions showed nothing for the whole window,
  // as of a poll sent at `searched_at_ns`.
  void give_up_lost_replaces(std::int64_t searched_at_ns) noexcept {
    std::vector<OrderId> due;
    for (const auto& [id, pending] : replaces_) {
      if (pending.stage == PendingReplace::Stage::lost &&
          searched_at_ns - pending.lost_since_ns >= settings_.unknown_fate_window_ns) {
        due.push_back(id);
      }
    }
    for (const OrderId id : due) (void)settle_replace(id, true);
  }

  // Account check, prices, transaction polling and keep-alive, in that order,
  // each only when due and when the request budget leaves room for orders.
  bool background(std::int64_t t) noexcept override {
    // Amends are orders: they wait for a connection, not for headroom.
    if (!replace_queue_.empty() && tracker_.account_ready() && send_replaces(t)) return true;
    if (!pacer_.allow(t, kBackgroundHeadroom)) return false;
    // Not yet checked, or refused since: ask again (every kAccountRetryNs) so a
    // token that works again is noticed.
    if ((!tracker_.account_ready() || tracker_.unauthorized()) && !account_in_flight_ && t >= next_account_ns_) {
      return request_account();
    }
    if (!tracker_.account_ready()) return false;
    if (needs_transactions() && !transactions_in_flight_ && t >= next_transactions_ns_) return request_transactions();
    if (!pricing_list_.empty() && settings_.pricing_interval_ns > 0 && !pricing_in_flight_ && t >= next_pricing_ns_) {
      return request_pricing();
    }
    const std::int64_t idle_since = tracker_.client().oldest_idle_since_ns();
    if (idle_since != 0 && t - idle_since >= settings_.keepalive_interval_ns && !account_in_flight_) {
      return request_account();
    }
    return false;
  }

  // The transaction history is read while an order works or is looked up,
  // and while the account holds a position or protective orders the adapter
  // knows of: a stop loss or take profit fills only there.
  [[nodiscard]] bool needs_transactions() noexcept {
    if (!watching_) return false;
    if (position_open() || !dependents_.empty() || !replaces_.empty()) return true;
    for (const auto& [id, tracked] : tracker_.orders()) {
      if (tracked.phase == rest::Phase::working || tracked.phase == rest::Phase::unknown) return true;
    }
    return false;
  }

  [[nodiscard]] bool position_open() const noexcept {
    return std::any_of(open_units_.begin(), open_units_.end(), [](Decimal units) { return !units.is_zero(); });
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
    target_.assign(account_path_).append("/transactions/sinceid?id=").append(rest::id_text(cursor_));
    if (!send(RequestKind::transactions, 0, "GET", target_)) return false;
    transactions_in_flight_ = true;
    transactions_sent_ns_ = t;
    cursor_at_request_ = cursor_;
    ++stats_.transaction_polls;
    return true;
  }

  // --- RestVenue: reconciliation ------------------------------------------

  // pendingOrders and openPositions are two reads: the fetch is repeated
  // until both name the same last transaction, so orders and positions are
  // one state of the account.
  static constexpr std::uint8_t kPendingOrdersPart = 1;
  static constexpr std::uint8_t kOpenPositionsPart = 2;

  void begin_holdings() noexcept override { fetch_ = HoldingsFetch{}; }

  [[nodiscard]] bool holdings_step(std::int64_t t) noexcept override {
    if (!pacer_.allow(t)) return false;
    if (!fetch_.orders_sent) {
      if (!send_tagged(tracker_.holdings_tag(kPendingOrdersPart), "GET", account_path_ + "/pendingOrders")) {
        return false;
      }
      fetch_.orders_sent = true;
      return true;
    }
    if (!fetch_.positions_sent) {
      if (!send_tagged(tracker_.holdings_tag(kOpenPositionsPart), "GET", account_path_ + "/openPositions")) {
        return false;
      }
      fetch_.positions_sent = true;
      return true;
    }
    return false;
  }

  void on_holdings_reply(std::uint8_t part, const tls::HttpResult& result) noexcept override {
    const bool orders = part == kPendingOrdersPart;
    const std::string what = orders ? "pendingOrders" : "openPositions";
    if (result.response == nullptr) {
      tracker_.fail_holdings(what + ": " + std::string(tls::to_string(result.error)));
      return;
    }
    const int status = result.response->status();
    if (status != 200) {
      if (status == 401 || status == 403) on_unauthorized(status, codec_.error_code(result.response->body()));
      tracker_.fail_holdings(what + ": " + detail::status_text(status));
      return;
    }
    std::uint64_t last = 0;
    const bool parsed = orders ? codec_.parse_pending_orders(result.response->body(), pending_orders_, last)
                               : codec_.parse_open_positions(result.response->body(), open_positions_, last);
    if (!parsed) {
      tracker_.fail_holdings(what + ": unreadable reply");
      return;
    }
    note_transaction_id(last);
    (orders ? fetch_.orders_last : fetch_.positions_last) = last;
    (orders ? fetch_.orders_done : fetch_.positions_done) = true;
    if (!fetch_.orders_done || !fetch_.positions_done) return;
    if (fetch_.orders_last != fetch_.positions_last) {
      // The account changed between the two reads: read both again.
      fetch_ = HoldingsFetch{};
      return;
    }
    answer_holdings(fetch_.orders_last);
  }

  void answer_holdings(std::uint64_t as_of) noexcept {
    Holdings holdings;
    holdings.complete = true;
    for (const PendingOrder& pending : pending_orders_) {
      if (pending.attached) continue;  // a trade's protection, not a working order
      const auto instrument = by_instrument_name_.find(pending.instrument);
      if (instrument == by_instrument_name_.end() || pending.type == OrderType::unset) {
        ++holdings.skipped;
        continue;
      }
      HeldOrder held;
      held.account_id = kNoAccountId;
      held.instrument_id = instrument->second;
      held.side = pending.side;
      held.type = pending.type;
      held.time_in_force = pending.time_in_force;
      held.quantity = pending.units;
      held.leaves = pending.units;  // OANDA fills a pending order whole
      held.price = pending.price;
      held.stop_price = pending.stop_price;
      held.expire_time_ns = pending.gtd_ns;
      held.broker_order_id.assign(rest::id_text(pending.id));
      held.venue_client_id = pending.client_id;
      holdings.orders.push_back(held);
    }
    for (const OpenPosition& open : open_positions_) {
      const auto instrument = by_instrument_name_.find(open.instrument);
      if (instrument == by_instrument_name_.end()) {
        ++holdings.skipped;
        continue;
      }
      holdings.positions.push_back(HeldPosition{kNoAccountId, instrument->second, open.net});
    }
    holdings_as_of_ = as_of;
    tracker_.answer_holdings(holdings);
  }

  // An adopted order applies the account's transactions after the
  // holdings it was read from: its earlier fills are in its leaves.
  void on_adopt(rest::TrackedOrder& tracked, const HeldOrder&) noexcept override {
    by_broker_id_[tracked.broker_id] = tracked.order.order_id;
    const std::uint64_t as_of = holdings_as_of_ != 0 ? holdings_as_of_ : last_transaction_id_;
    tracked.venue.last_applied = as_of;
    tracked.venue.cursor_at_send = as_of;
    watch_from(as_of);
    next_transactions_ns_ = std::min(next_transactions_ns_, now());
  }

  // --- RestVenue: replies ---------------------------------------------------

  void on_response(const tls::HttpResponse& response) noexcept override {
    if (response.status() == 429) on_rate_limited(response);
    if (response.status() < 400) consecutive_rate_limits_ = 0;
  }

  void on_other_reply(RequestKind kind, OrderId order_id, const tls::HttpResult& result) noexcept override {
    switch (kind) {
      case RequestKind::pricing: on_pricing_reply(result); return;
      case RequestKind::transactions: on_transactions_reply(result); return;
      case RequestKind::account: on_account_reply(result); return;
      case RequestKind::replace: on_replace_reply(order_id, result); return;
      default: return;
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
    tracker_.pause_until(now() + pause);
    log(LogLevel::warning, "rate limited by OANDA (HTTP 429); no request for " +
                               std::to_string(pause / kNanosPerMilli) + " ms, orders meanwhile are rejected "
                               "BROKER_RATE_LIMITED");
  }

  void on_unauthorized(int status, const ReasonCode& code) noexcept {
    std::string what = detail::status_text(status);
    if (!code.empty()) what.append(" ").append(code.view());
    tracker_.credentials_refused("ALERT: OANDA refused the credentials for account " + settings_.account_id + " (" +
                                 what + "); check the token and the account id; orders are rejected BROKER_UNAVAILABLE");
  }

  void on_order_reply(rest::TrackedOrder& tracked, const tls::HttpResponse& response) noexcept override {
    const OrderId order_id = tracked.order.order_id;
    const int status = response.status();
    const OrderReply reply = codec_.parse_order_reply(status, response.body());
    note_transaction_id(reply.last_transaction_id);
    switch (reply.kind) {
      case ReplyKind::accepted: {
        tracker_.credentials_accepted();
        apply_reply(tracked, reply);
        return;
      }
      case ReplyKind::rejected:
        log(LogLevel::info, "order " + rest::OrderTracker::describe(tracked) + " rejected by OANDA: " +
                                std::string(reply.reject_reason.view()));
        tracker_.finish(order_id, ExecStatus::rejected, Reason::BROKER_REJECTED, reply.reject_reason.view());
        return;
      case ReplyKind::unauthorized:
        on_unauthorized(status, reply.reject_reason);
        tracker_.finish(order_id, ExecStatus::rejected, Reason::BROKER_UNAVAILABLE, reply.reject_reason.view());
        return;
      case ReplyKind::rate_limited:
        tracker_.finish(order_id, ExecStatus::rejected, Reason::BROKER_RATE_LIMITED, "HTTP_429");
        return;
      case ReplyKind::unknown:
        tracker_.mark_unknown(tracked, detail::status_text(status));
        return;
    }
  }

  void apply_reply(rest::TrackedOrder& tracked, const OrderReply& reply) noexcept {
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
      fill.side = tracked.order.side;
      fill.price = reply.fill_price;
      fill.time_ns = reply.fill_time_ns;
      fill.trade_id = reply.fill_trade_opened;
      fill.moves_position = true;
      // The protective orders OANDA attached to the new trade are in the
      // transaction history only: read it from before this order.
      if (fill.id != 0) reply_fills_.insert(fill.id);
      watch_from(tracked.venue.cursor_at_send);
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
    rest::TrackedOrder* still = tracker_.find(id);
    if (still != nullptr) after_created(*still);
  }

  // The order rests at OANDA: report NEW once, watch its transactions and
  // send a cancel that arrived while it was in flight.
  void after_created(rest::TrackedOrder& tracked) noexcept {
    if (tracked.phase != rest::Phase::working) return;
    watch_from(tracked.broker_id);
    tracker_.after_working(tracked, 0);
  }

  // Applies one transaction to an order at most once. Returns false when the
  // order is finished (and forgotten) by it.
  bool apply(rest::TrackedOrder& tracked, const Transaction& transaction) noexcept {
    if (transaction.id != 0) {
      if (transaction.id <= tracked.venue.last_applied) return true;
      tracked.venue.last_applied = transaction.id;
    }
    const OrderId id = tracked.order.order_id;
    switch (transaction.type) {
      case Transaction::Type::order_create:
        if (tracked.broker_id == 0 && transaction.id != 0) {
          tracked.broker_id = transaction.id;
          by_broker_id_[transaction.id] = id;
        }
        tracker_.mark_working(tracked);
        return true;
      case Transaction::Type::order_reject:
        tracker_.mark_working(tracked);  // counts a recovered order
        tracker_.finish(id, ExecStatus::rejected, Reason::BROKER_REJECTED, transaction.reason.view(),
                        transaction.time_ns);
        return false;
      case Transaction::Type::order_fill:
        note_own_fill(tracked.order, transaction);
        return !tracker_.book_fill(tracked, transaction.units, transaction.price, transaction.time_ns);
      case Transaction::Type::order_cancel: {
        const bool expired = transaction.reason == std::string_view("TIME_IN_FORCE_EXPIRED");
        tracker_.finish(id, expired ? ExecStatus::expired : ExecStatus::canceled, Reason::OK,
                        transaction.reason.view(), transaction.time_ns);
        return false;
      }
      case Transaction::Type::other:
      case Transaction::Type::dependent_order_create: return true;
    }
    return true;
  }

  // A fill of a gateway order: the position it moved, and the trade it
  // opened (whose protective orders then belong to the order).
  void note_own_fill(const Order& order, const Transaction& fill) noexcept {
    if (order.instrument_id < open_units_.size() && fill.units.is_positive()) {
      Decimal& units = open_units_[order.instrument_id];
      (void)Decimal::add(units, order.side == Side::buy ? fill.units : -fill.units, units);
    }
    if (fill.trade_id != 0) {
      trade_owner_[fill.trade_id] = TradeOwner{order.order_id, order.account_id, order.session_id, order.client_order_id};
    }
  }

  // A transaction of no tracked order, seen for the first time: a protective
  // order being attached or cancelled, or a fill the gateway must book.
  void on_untracked(const Transaction& transaction) noexcept {
    switch (transaction.type) {
      case Transaction::Type::dependent_order_create: {
        const auto owner = trade_owner_.find(transaction.trade_id);
        if (owner == trade_owner_.end()) return;  // a trade the gateway did not open
        dependents_[transaction.id] =
            Dependent{owner->second, transaction.trade_id, source_of(transaction.dependent_type.view())};
        return;
      }
      case Transaction::Type::order_cancel: dependents_.erase(transaction.order_id); return;
      case Transaction::Type::order_fill: on_account_fill(transaction); return;
      default: return;
    }
  }

  void on_account_fill(const Transaction& fill) noexcept {
    // Our own order's fill, applied from its reply and read again here.
    if (reply_fills_.erase(fill.id) > 0) return;
    if (!fill.moves_position || !fill.units.is_positive() || fill.side == Side::unset) return;
    const auto instrument = by_instrument_name_.find(std::string(fill.instrument.view()));
    if (instrument == by_instrument_name_.end()) {
      log(LogLevel::warning, "account fill " + rest::id_text(fill.id) + " on " + std::string(fill.instrument.view()) +
                                 ", an instrument the gateway does not trade here; not booked");
      return;
    }
    ExecutionReport report;
    report.kind = ReportKind::position_fill;
    report.status = ExecStatus::filled;
    report.order_id = kNoOrderId;
    report.account_id = kNoAccountId;
    report.instrument_id = instrument->second;
    report.side = fill.side;
    report.last_quantity = fill.units;
    report.last_price = fill.price;
    report.transact_time_ns = fill.time_ns != 0 ? fill.time_ns : tracker_.wall_ns();
    report.broker_order_id.assign(rest::id_text(fill.order_id));
    report.broker_reason.assign(fill.reason.view());
    report.source = source_of(fill.reason.view());
    const TradeOwner* owner = nullptr;
    if (const auto dependent = dependents_.find(fill.order_id); dependent != dependents_.end()) {
      owner = &dependent->second.owner;
      if (report.source == FillSource::account) report.source = dependent->second.source;
    } else if (const auto trade = trade_owner_.find(fill.closed_trade_id); trade != trade_owner_.end()) {
      owner = &trade->second;  // a trade of ours closed some other way
    }
    if (owner != nullptr) {
      report.order_id = owner->order;
      report.account_id = owner->account;
      // The gateway may have reused the parent's record by now: it routes
      // the fill to the parent's session by these.
      report.session_id = owner->session;
      report.client_order_id = owner->client_order_id;
    }
    Decimal& units = open_units_[instrument->second];
    (void)Decimal::add(units, fill.side == Side::buy ? fill.units : -fill.units, units);
    ++stats_.position_fills;
    log(LogLevel::info, "account fill " + rest::id_text(fill.id) + " (" + std::string(fill.reason.view()) +
                            ") of order " + rest::id_text(fill.order_id) + " reported to the gateway");
    // The protective orders of a closed trade are cancelled with it.
    if (fill.closes_trade) forget_trade(fill.closed_trade_id);
    dependents_.erase(fill.order_id);
    tracker_.report_position_fill(report);
  }

  void forget_trade(std::uint64_t trade) noexcept {
    trade_owner_.erase(trade);
    for (auto it = dependents_.begin(); it != dependents_.end();) {
      it = it->second.trade == trade ? dependents_.erase(it) : std::next(it);
    }
  }

  void on_cancel_reply(rest::TrackedOrder& tracked, const tls::HttpResponse& response) noexcept override {
    const int status = response.status();
    const CancelReply reply = codec_.parse_cancel_reply(status, response.body());
    note_transaction_id(reply.last_transaction_id);
    switch (reply.kind) {
      case ReplyKind::accepted: {
        if (reply.order_id != 0 && tracked.broker_id != 0 && reply.order_id != tracked.broker_id) {
          ++stats_.mismatched_replies;
          log(LogLevel::warning, "the cancel reply for order " + rest::OrderTracker::describe(tracked) +
                                     " names another order (" + rest::id_text(reply.order_id) + "); ignored");
          look_up_soon(tracked);
          return;
        }
        const bool expired = reply.reason == std::string_view("TIME_IN_FORCE_EXPIRED");
        tracker_.finish(tracked.order.order_id, expired ? ExecStatus::expired : ExecStatus::canceled, Reason::OK,
                        reply.reason.view(), reply.time_ns);
        return;
      }
      case ReplyKind::rejected: tracker_.cancel_refused(tracked, reply.reason.view()); return;
      case ReplyKind::unauthorized: on_unauthorized(status, reply.reason); return;
      case ReplyKind::rate_limited:
      case ReplyKind::unknown: tracker_.retry_cancel(tracked); return;
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
    // A restarted account (the simulator) numbers from 1 again.
    if (last < stream_through_) stream_through_ = 0;
    created_.clear();
    for (const Transaction& transaction : transactions_) {
      if (!replaces_.empty() && on_replace_transaction(transaction)) {
        stream_through_ = std::max(stream_through_, transaction.id);
        continue;
      }
      rest::TrackedOrder* tracked = match(transaction);
      if (tracked == nullptr) {
        // Each transaction once: a cursor moved back reads some again.
        if (transaction.id > stream_through_) on_untracked(transaction);
      } else {
        const OrderId id = tracked->order.order_id;
        if (apply(*tracked, transaction) && transaction.type == Transaction::Type::order_create) {
          created_.push_back(id);
        }
      }
      stream_through_ = std::max(stream_through_, transaction.id);
    }
    // Once the history is read past a reply's fill, `stream_through_` alone
    // keeps it from being booked twice.
    while (!reply_fills_.empty() && *reply_fills_.begin() <= stream_through_) reply_fills_.erase(reply_fills_.begin());
    for (const OrderId id : created_) {
      if (rest::TrackedOrder* tracked = tracker_.find(id)) after_created(*tracked);
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
    for (const auto& [id, tracked] : tracker_.orders()) {
      if (tracker_.unknown_beyond_window(tracked, transactions_sent_ns_)) not_placed.push_back(id);
    }
    for (const OrderId id : not_placed) tracker_.not_placed(id, "is not in the account's transactions");
    if (!replaces_.empty()) give_up_lost_replaces(transactions_sent_ns_);
    if (!needs_transactions()) watching_ = false;
  }

  // The tracked order a transaction is about: by OANDA's order id when the
  // transaction names one we know, else by our venue client id; an order
  // whose OANDA id is known takes only transactions that name that id.
  // Another run's or program's order with the same strategy id never
  // matches: its venue client id differs.
  rest::TrackedOrder* match(const Transaction& transaction) noexcept {
    if (transaction.type == Transaction::Type::other) return nullptr;
    if (transaction.order_id != 0) {
      const auto it = by_broker_id_.find(transaction.order_id);
      if (it != by_broker_id_.end()) return tracker_.find(it->second);
    }
    rest::TrackedOrder* tracked = tracker_.find_venue_client_id(transaction.client_order_id.view());
    // A create or reject for an order we did not send yet cannot be ours.
    if (tracked == nullptr || tracked->phase == rest::Phase::queued) return nullptr;
    if (tracked->broker_id != 0 && transaction.order_id != tracked->broker_id) {
      ++stats_.mismatched_replies;
      log(LogLevel::warning, "transaction " + rest::id_text(transaction.id) + " names order " +
                                 rest::OrderTracker::describe(*tracked) + " but not its OANDA id " +
                                 rest::id_text(tracked->broker_id) + "; ignored");
      return nullptr;
    }
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
        if (!tracker_.account_ready()) log(LogLevel::info, "account " + settings_.account_id + " ready");
        tracker_.set_account_ready();
      }
      return;
    }
    if (status == 401 || status == 403) {
      on_unauthorized(status, codec_.error_code(result.response->body()));
      return;
    }
    if (status == 404 && !tracker_.account_ready()) {
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
  OandaStats stats_;
  rest::OrderTracker tracker_;
  detail::RequestPacer pacer_;
  OandaCodec codec_;
  security::Secret auth_headers_;
  std::vector<std::string> instrument_names_;  // by InstrumentId; empty = not traded here
  std::unordered_map<std::string, InstrumentId> by_instrument_name_;
  std::string pricing_list_;
  std::string account_path_;
  std::string orders_path_;

  QuoteBoard* quotes_ = nullptr;

  std::unordered_map<std::uint64_t, OrderId> by_broker_id_;

  // Protective orders: the gateway order whose fill opened a trade, by
  // trade id, and the dependent orders (stop loss, take profit, trailing
  // stop) OANDA attached to such a trade, by their order id.
  struct TradeOwner {
    OrderId order = kNoOrderId;
    AccountId account = kNoAccountId;
    SessionId session = 0;
    ClientOrderId client_order_id;
  };
  struct Dependent {
    TradeOwner owner;
    std::uint64_t trade = 0;
    FillSource source = FillSource::account;
  };
  std::unordered_map<std::uint64_t, TradeOwner> trade_owner_;
  std::unordered_map<std::uint64_t, Dependent> dependents_;
  std::vector<Decimal> open_units_;         // net units by InstrumentId, from the fills seen
  std::set<std::uint64_t> reply_fills_;     // fill transactions applied from order replies
  std::uint64_t stream_through_ = 0;        // transactions up to this id were read from the history

  bool account_in_flight_ = false;
  bool pricing_in_flight_ = false;
  bool transactions_in_flight_ = false;
  std::int64_t next_account_ns_ = 0;
  std::int64_t next_pricing_ns_ = 0;
  std::int64_t next_transactions_ns_ = 0;
  std::int64_t transactions_sent_ns_ = 0;
  std::int64_t last_pause_ns_ = 0;
  std::uint32_t consecutive_rate_limits_ = 0;
  std::uint64_t last_transaction_id_ = 0;  // latest seen in any reply
  std::uint64_t cursor_ = 0;               // transactions/sinceid position
  std::uint64_t cursor_at_request_ = 0;    // the position the poll in flight asked from
  bool watching_ = false;                  // some order needs the transaction history

  // Reconciliation: the fetch under way and the last transaction id of the
  // holdings last answered.
  struct HoldingsFetch {
    bool orders_sent = false;
    bool positions_sent = false;
    bool orders_done = false;
    bool positions_done = false;
    std::uint64_t orders_last = 0;
    std::uint64_t positions_last = 0;
  };
  HoldingsFetch fetch_;
  std::vector<PendingOrder> pending_orders_;
  std::vector<OpenPosition> open_positions_;
  std::uint64_t holdings_as_of_ = 0;

  std::unordered_map<OrderId, PendingReplace> replaces_;  // by the new gateway order id
  std::deque<OrderId> replace_queue_;                     // amends waiting for a connection
  std::string body_;     // scratch
  std::string target_;   // scratch
  std::vector<PriceUpdate> prices_;
  std::vector<Transaction> transactions_;
  std::vector<OrderId> created_;
};

}  // namespace

OandaBroker::OandaBroker(const InstrumentTable& instruments, OandaSettings settings)
    : RestBroker(std::make_unique<OandaVenue>(instruments, std::move(settings))) {}

const OandaStats& OandaBroker::stats() const noexcept { return static_cast<const OandaVenue&>(venue()).stats(); }

std::function<std::unique_ptr<BrokerPort>(const InstrumentTable&)> make_oanda_factory(OandaSettings settings) {
  return rest::make_factory<OandaBroker>(std::move(settings));
}

}  // namespace ordergate::adapters::oanda
