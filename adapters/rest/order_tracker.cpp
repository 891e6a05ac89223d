#include "order_tracker.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <stdexcept>
#include <utility>

namespace ordergate::adapters::rest {

using tls::LogLevel;

std::string id_text(std::uint64_t id) {
  char text[24];
  const auto end = std::to_chars(text, text + sizeof(text), id).ptr;
  return std::string(text, static_cast<std::size_t>(end - text));
}

void OrderTracker::report_replace(const ReplaceOrder& request, ExecStatus status, Reason reason,
                                  std::string_view broker_reason, std::uint64_t broker_id, Decimal filled,
                                  Decimal leaves) noexcept {
  ExecutionReport event =
      detail::make_report(request.order, detail::FillState{filled}, status, Decimal{}, Decimal{}, reason,
                          broker_reason, broker_id != 0 ? id_text(broker_id) : std::string(), wall_ns());
  event.leaves_quantity = leaves;
  event.other_client_order_id = request.original_client_order_id;
  report_execution(event);
}

std::vector<std::string> venue_instrument_names(const InstrumentTable& table,
                                                const std::vector<std::string>& instruments,
                                                const std::vector<std::pair<std::string, std::string>>& symbol_map,
                                                std::string_view setting_prefix,
                                                std::string (*default_name)(std::string_view),
                                                bool (*valid)(std::string_view), std::string_view what_a_name_is) {
  const std::string prefix(setting_prefix);
  std::vector<std::string> names(table.size());
  std::vector<bool> traded(table.size(), instruments.empty());
  for (const std::string& name : instruments) {
    const Instrument* instrument = table.find_name(name);
    if (instrument == nullptr) {
      throw std::invalid_argument(
          std::string(prefix).append(".instruments: '").append(name).append("' is not a configured instrument"));
    }
    traded[instrument->id] = true;
  }
  for (const Instrument& instrument : table.all()) {
    if (traded[instrument.id]) names[instrument.id] = default_name(instrument.name.view());
  }
  for (const auto& [canonical, venue_name] : symbol_map) {
    const Instrument* instrument = table.find_name(canonical);
    if (instrument == nullptr) {
      throw std::invalid_argument(
          std::string(prefix).append(".symbol_map: '").append(canonical).append("' is not a configured instrument"));
    }
    if (!valid(venue_name)) {
      throw std::invalid_argument(
          std::string(prefix).append(".symbol_map: '").append(venue_name).append("' is not ").append(what_a_name_is));
    }
    names[instrument->id] = venue_name;
  }
  return names;
}

OrderTracker::OrderTracker(const tls::TlsSettings& connection, tls::LogFunction log, TrackerSettings settings,
                           RestVenue& venue, RestStats& stats)
    : settings_(std::move(settings)),
      log_(log),
      log_name_(connection.log_name),
      request_timeout_ns_(connection.request_timeout_ns),
      client_(connection, std::move(log)),
      venue_(venue),
      stats_(stats) {}

void OrderTracker::log(LogLevel level, const std::string& line) const noexcept {
  detail::log_line(log_, level, log_name_ + ": " + line);
}

// --- BrokerPort -------------------------------------------------------------

void OrderTracker::start(ExecutionSink& sink, QuoteBoard& quotes, const Clock& clock) {
  venue_.prepare(quotes);
  sink_ = &sink;
  clock_ = &clock;
  log(LogLevel::info,
      "venue client ids: " + std::string(venue_client_ids_.prefix()) + "-<gateway order id in base 36>");
  client_.start(*this, clock);
  venue_.warm_up();
}

void OrderTracker::submit(const Order& order) noexcept {
  if (sink_ == nullptr) return;
  // Take in what the sockets already know (a close by the server, say)
  // before choosing a connection: one non-blocking poll, and the order is
  // not written into a connection that is already gone.
  client_.poll();
  TrackedOrder tracked;
  tracked.order = order;
  tracked.venue_client_id = venue_client_ids_.make(order.order_id);
  tracked.queued_ns = now();
  if (!orders_.emplace(order.order_id, tracked).second) return;  // the gateway never reuses ids
  if (!venue_.maps(order.instrument_id)) {
    finish(order.order_id, ExecStatus::rejected, Reason::BROKER_REJECTED, "INSTRUMENT_NOT_MAPPED");
    return;
  }
  if (const std::string_view why = unavailable_reason(); !why.empty()) {
    finish(order.order_id, ExecStatus::rejected, Reason::BROKER_UNAVAILABLE, why);
    return;
  }
  if (paused(now())) {
    finish(order.order_id, ExecStatus::rejected, Reason::BROKER_RATE_LIMITED, settings_.pause_reason);
    return;
  }
  queue_.push_back({RequestKind::order, order.order_id});
  pump();
}

void OrderTracker::cancel(const CancelOrder& request) noexcept {
  if (sink_ == nullptr) return;
  TrackedOrder* tracked = find(request.order_id);
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
    case Phase::working:
      queue_cancel(*tracked);
      pump();
      return;
  }
}

bool OrderTracker::poll() noexcept {
  if (sink_ == nullptr) return false;
  bool did = client_.poll();
  transport_.mirror(client_.stats());
  if (expire_queue()) did = true;
  if (pump()) did = true;
  if (holdings_pending_) {
    const std::int64_t t = now();
    if (!holdings_refusal_.empty()) {
      fail_holdings(std::exchange(holdings_refusal_, {}));
      did = true;
    } else if (t >= holdings_deadline_ns_) {
      fail_holdings("TIMEOUT");
      did = true;
    } else if (client_.idle_connections() > 0 && !paused(t) && venue_.holdings_step(t)) {
      did = true;
    }
  }
  if (background_due(now()) && venue_.background(now())) did = true;
  return did;
}

void OrderTracker::stop() noexcept {
  if (sink_ == nullptr) return;
  // Orders still waiting for a connection are not sent during shutdown.
  std::vector<OrderId> queued;
  for (const auto& [id, tracked] : orders_) {
    if (tracked.phase == Phase::queued) queued.push_back(id);
  }
  for (const OrderId id : queued) finish(id, ExecStatus::rejected, Reason::BROKER_UNAVAILABLE, "SHUTDOWN");
  queue_.clear();
  if (settings_.cancel_on_stop && client_.open_connections() > 0 && !paused(now())) {
    for (auto& [id, tracked] : orders_) {
      if (tracked.phase == Phase::working) queue_cancel(tracked);
    }
    const std::int64_t deadline = now() + request_timeout_ns_;
    while (now() < deadline && cancels_outstanding() > 0) {
      client_.poll();
      pump();
    }
  }
  holdings_refusal_.clear();
  if (holdings_pending_) fail_holdings("SHUTDOWN");
  client_.stop();
  sink_ = nullptr;
}

std::string_view OrderTracker::unavailable_reason() const noexcept {
  if (!client_.available()) return "NO_CONNECTION";
  if (unauthorized_) return "UNAUTHORIZED";
  if (!account_ready_) return "NOT_READY";
  return {};
}

// --- state for the venue ----------------------------------------------------

void OrderTracker::set_account_ready() noexcept {
  account_ready_ = true;
  unauthorized_ = false;
}

void OrderTracker::credentials_refused(const std::string& alert) noexcept {
  if (!unauthorized_) log(LogLevel::error, alert);
  unauthorized_ = true;
}

bool OrderTracker::background_due(std::int64_t now_ns) const noexcept {
  return client_.idle_connections() > 0 && queue_.empty() && !paused(now_ns);
}

TrackedOrder* OrderTracker::find(OrderId id) noexcept {
  const auto it = orders_.find(id);
  return it == orders_.end() ? nullptr : &it->second;
}

TrackedOrder* OrderTracker::find_venue_client_id(std::string_view venue_id) noexcept {
  // The id names its order: no index to keep, and none that another order
  // with the same strategy id could overwrite or erase.
  const std::optional<OrderId> id = venue_client_ids_.order_id_of(venue_id);
  if (!id) return nullptr;
  TrackedOrder* tracked = find(*id);
  return tracked != nullptr && tracked->venue_client_id == venue_id ? tracked : nullptr;
}

std::string OrderTracker::describe(const TrackedOrder& tracked) {
  return std::string(tracked.order.client_order_id.view()) + " (venue id " +
         std::string(tracked.venue_client_id.view()) + ")";
}

// --- reports ----------------------------------------------------------------

void OrderTracker::report(TrackedOrder& tracked, ExecStatus status, Decimal last_quantity, Decimal last_price,
                          Reason reason, std::string_view broker_reason, std::int64_t time_ns) noexcept {
  const std::string broker_id = tracked.broker_id != 0 ? id_text(tracked.broker_id) : std::string{};
  ExecutionReport report =
      detail::make_report(tracked.order, tracked.fills, status, last_quantity, last_price, reason, broker_reason,
                          broker_id, time_ns != 0 ? time_ns : clock_->wall_ns());
  if (tracked.adopted_filled.is_positive()) {
    (void)Decimal::add(report.cumulative_quantity, tracked.adopted_filled, report.cumulative_quantity);
  }
  if (status == ExecStatus::new_order) tracked.new_reported = true;
  sink_->on_execution(report);
}

void OrderTracker::finish(OrderId id, ExecStatus status, Reason reason, std::string_view broker_reason,
                          std::int64_t time_ns) noexcept {
  TrackedOrder* tracked = find(id);
  if (tracked == nullptr) return;
  report(*tracked, status, Decimal{}, Decimal{}, reason, broker_reason, time_ns);
  forget(id);
}

void OrderTracker::forget(OrderId id) noexcept {
  const auto it = orders_.find(id);
  if (it == orders_.end()) return;
  venue_.on_forget(it->second);
  orders_.erase(it);
}

void OrderTracker::mark_working(TrackedOrder& tracked) noexcept {
  if (tracked.phase == Phase::unknown) ++stats_.recovered;
  tracked.phase = Phase::working;
}

bool OrderTracker::book_fill(TrackedOrder& tracked, Decimal quantity, Decimal price, std::int64_t time_ns,
                             bool venue_says_filled) noexcept {
  const Decimal booked = tracked.fills.add(quantity, price, tracked.order.quantity);
  if (!booked.is_positive()) return false;
  const bool complete = venue_says_filled || tracked.fills.complete(tracked.order.quantity);
  report(tracked, complete ? ExecStatus::filled : ExecStatus::partially_filled, booked, price, Reason::OK, {},
         time_ns);
  if (complete) forget(tracked.order.order_id);
  return complete;
}

void OrderTracker::after_working(TrackedOrder& tracked, std::int64_t time_ns) noexcept {
  if (!tracked.new_reported && !tracked.fills.filled.is_positive()) {
    report(tracked, ExecStatus::new_order, Decimal{}, Decimal{}, Reason::OK, {}, time_ns);
  }
  if (tracked.cancel_wanted) {
    tracked.cancel_wanted = false;
    queue_cancel(tracked);
  }
}

void OrderTracker::mark_unknown(TrackedOrder& tracked, const std::string& why) noexcept {
  tracked.phase = Phase::unknown;
  tracked.unknown_since_ns = now();
  ++stats_.unknown_fate;
  venue_.on_fate_unknown(tracked);
  log(LogLevel::warning, "order " + describe(tracked) + ": " + why +
                             "; its fate is unknown, " + std::string(settings_.unknown_search) +
                             " (it is not resent)");
}

bool OrderTracker::unknown_beyond_window(const TrackedOrder& tracked, std::int64_t searched_at_ns) const noexcept {
  return tracked.phase == Phase::unknown &&
         searched_at_ns - tracked.unknown_since_ns >= settings_.unknown_fate_window_ns;
}

void OrderTracker::not_placed(OrderId id, std::string_view where) noexcept {
  const TrackedOrder* tracked = find(id);
  if (tracked == nullptr) return;
  log(LogLevel::warning, "order " + describe(*tracked) + " " + std::string(where) +
                             ": reported as not placed");
  finish(id, ExecStatus::rejected, Reason::BROKER_UNAVAILABLE, "NOT_PLACED");
}

// --- cancels ----------------------------------------------------------------

void OrderTracker::queue_cancel(TrackedOrder& tracked) {
  if (tracked.cancel_queued || tracked.cancel_in_flight) return;
  tracked.cancel_queued = true;
  queue_.push_back({RequestKind::cancel, tracked.order.order_id});
}

void OrderTracker::retry_cancel(TrackedOrder& tracked) {
  if (tracked.cancel_attempts < kMaxCancelAttempts) queue_cancel(tracked);
}

void OrderTracker::cancel_refused(TrackedOrder& tracked, std::string_view code) noexcept {
  // Usually the order filled or was cancelled first: the lookup says which.
  log(LogLevel::info,
      "cancel of " + describe(tracked) + " refused: " + std::string(code));
  venue_.look_up_soon(tracked);
}

std::size_t OrderTracker::cancels_outstanding() const noexcept {
  std::size_t count = 0;
  for (const auto& [id, tracked] : orders_) {
    if (tracked.cancel_queued || tracked.cancel_in_flight) ++count;
  }
  return count;
}

// --- sending ----------------------------------------------------------------

// Sends queued commands while a connection is idle; true if any was sent.
bool OrderTracker::pump() noexcept {
  bool did = false;
  while (!queue_.empty() && client_.idle_connections() > 0) {
    const Command command = queue_.front();
    TrackedOrder* tracked = find(command.order_id);
    if (tracked == nullptr) {
      queue_.pop_front();
      continue;
    }
    const std::int64_t t = now();
    if (paused(t)) {
      if (command.kind == RequestKind::order) {
        queue_.pop_front();
        finish(command.order_id, ExecStatus::rejected, Reason::BROKER_RATE_LIMITED, settings_.pause_reason);
        continue;
      }
      break;  // cancels wait for the pause to end: any request during it risks a ban
    }
    if (command.kind == RequestKind::order) {
      if (const std::string_view refusal = venue_.order_budget_refusal(t); !refusal.empty()) {
        queue_.pop_front();
        finish(command.order_id, ExecStatus::rejected, Reason::BROKER_RATE_LIMITED, refusal);
        continue;
      }
      queue_.pop_front();
      send_order(*tracked);
    } else {
      if (!venue_.cancel_budget_allows(t)) break;
      queue_.pop_front();
      send_cancel(*tracked);
    }
    did = true;
  }
  return did;
}

void OrderTracker::send_order(TrackedOrder& tracked) noexcept {
  if (const std::string_view problem = venue_.build_order(tracked); !problem.empty()) {
    finish(tracked.order.order_id, ExecStatus::rejected, Reason::BROKER_REJECTED, problem);
    return;
  }
  tracked.phase = Phase::sending;
  if (!venue_.send_order(tracked)) {
    tracked.phase = Phase::queued;
    queue_.push_front({RequestKind::order, tracked.order.order_id});
    return;
  }
  ++stats_.orders_sent;
}

void OrderTracker::send_cancel(TrackedOrder& tracked) noexcept {
  tracked.cancel_queued = false;
  if (!venue_.send_cancel(tracked)) {
    queue_cancel(tracked);
    return;
  }
  tracked.cancel_in_flight = true;
  ++tracked.cancel_attempts;
  ++stats_.cancels_sent;
}

// Orders that waited too long for a connection, or whose broker became
// unreachable while they waited, are refused rather than sent late.
bool OrderTracker::expire_queue() noexcept {
  if (queue_.empty()) return false;
  const bool reachable = client_.available();
  const std::int64_t t = now();
  bool did = false;
  for (auto it = queue_.begin(); it != queue_.end();) {
    const TrackedOrder* tracked = find(it->order_id);
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

// --- reconciliation ---------------------------------------------------------

bool OrderTracker::request_holdings() noexcept {
  if (sink_ == nullptr) return false;
  ++holdings_waiters_;
  if (holdings_pending_) return true;
  holdings_pending_ = true;
  ++holdings_generation_;  // a late reply of an earlier fetch is not taken for this one's
  // Answered from the next poll(), never inside this call, so a sink that
  // asks again from on_holdings cannot recurse.
  if (const std::string_view why = unavailable_reason(); !why.empty()) {
    holdings_refusal_ = why;
    return true;
  }
  // Room for each request to time out once, plus waiting for a connection.
  holdings_deadline_ns_ = now() + 3 * request_timeout_ns_;
  venue_.begin_holdings();
  const std::int64_t t = now();
  if (client_.idle_connections() > 0 && !paused(t)) (void)venue_.holdings_step(t);
  return true;
}

void OrderTracker::answer_holdings(const Holdings& holdings) noexcept {
  if (!holdings_pending_ && holdings_waiters_ == 0) return;
  holdings_pending_ = false;
  const std::uint32_t waiters = holdings_waiters_;
  holdings_waiters_ = 0;
  if (holdings.complete) {
    log(LogLevel::info, "holdings: " + std::to_string(holdings.orders.size()) + " working orders, " +
                            std::to_string(holdings.positions.size()) + " positions, " +
                            std::to_string(holdings.skipped) + " skipped");
  } else {
    log(LogLevel::warning, "holdings could not be read: " + holdings.error);
  }
  // A sink may ask again from inside on_holdings: that call waits for a new fetch.
  for (std::uint32_t i = 0; i < waiters && sink_ != nullptr; ++i) sink_->on_holdings(holdings);
}

void OrderTracker::fail_holdings(std::string error) noexcept {
  Holdings holdings;
  holdings.complete = false;
  holdings.error = std::move(error);
  answer_holdings(holdings);
}

void OrderTracker::adopt(const Order& order, const HeldOrder& held) noexcept {
  if (sink_ == nullptr) return;
  const std::string what = "venue order " + std::string(held.broker_order_id.view()) + " as gateway order " +
                           std::to_string(order.order_id) + " (" + std::string(order.client_order_id.view()) + ")";
  std::uint64_t broker_id = 0;
  const std::string_view text = held.broker_order_id.view();
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), broker_id);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || broker_id == 0) {
    log(LogLevel::warning, "cannot adopt " + what + ": not a venue order id of this adapter");
    return;
  }
  if (!held.leaves.is_positive() || order.instrument_id != held.instrument_id || !venue_.maps(order.instrument_id) ||
      order.side != held.side) {
    log(LogLevel::warning, "cannot adopt " + what + ": no leaves, or its instrument or side differs");
    return;
  }
  TrackedOrder tracked;
  tracked.order = order;
  tracked.order.quantity = held.leaves;
  if (!Decimal::sub(order.quantity, held.leaves, tracked.adopted_filled) || tracked.adopted_filled.is_negative()) {
    tracked.adopted_filled = Decimal{};
  }
  tracked.venue_client_id.assign(held.venue_client_id.view().substr(0, VenueClientId::kCapacity));
  tracked.phase = Phase::working;
  tracked.broker_id = broker_id;
  tracked.new_reported = true;  // working already: the gateway restored it
  tracked.queued_ns = now();
  const auto [it, inserted] = orders_.emplace(order.order_id, tracked);
  if (!inserted) {
    log(LogLevel::warning, "cannot adopt " + what + ": the gateway order id is in use");
    return;
  }
  venue_.on_adopt(it->second, held);
  log(LogLevel::info, "adopted " + what);
}

// --- transport metrics ------------------------------------------------------

namespace {

std::string_view kind_name(std::size_t kind) noexcept {
  switch (static_cast<RequestKind>(kind)) {
    case RequestKind::order: return "order";
    case RequestKind::cancel: return "cancel";
    case RequestKind::query: return "query";
    case RequestKind::pricing: return "pricing";
    case RequestKind::transactions: return "transactions";
    case RequestKind::account: return "account";
    case RequestKind::server_time: return "server_time";
    case RequestKind::keepalive: return "keepalive";
    case RequestKind::holdings: return "holdings";
    case RequestKind::replace: return "replace";
  }
  return {};
}

void add(std::atomic<std::uint64_t>& counter, std::uint64_t value) noexcept {
  // One writer (the broker thread): a load and a store, no read-modify-write.
  counter.store(counter.load(std::memory_order_relaxed) + value, std::memory_order_relaxed);
}

}  // namespace

void TransportMetrics::observe(RequestKind kind, const tls::HttpResult& result) noexcept {
  const auto index = static_cast<std::size_t>(kind);
  if (index >= kKinds || result.error == tls::TransportError::not_sent) return;
  Kind& counters = kinds_[index];
  add(counters.count, 1);
  if (result.error != tls::TransportError::none) {
    add(counters.failures, 1);
    return;
  }
  const std::int64_t elapsed = std::max<std::int64_t>(result.elapsed_ns, 0);
  std::size_t bucket = 0;
  while (bucket < kBrokerLatencyBoundsNs.size() && elapsed > kBrokerLatencyBoundsNs[bucket]) ++bucket;
  add(counters.buckets[bucket], 1);
  add(counters.sum_ns, static_cast<std::uint64_t>(elapsed));
}

void TransportMetrics::mirror(const tls::HttpsClientStats& stats) noexcept {
  connect_attempts_.store(stats.connect_attempts, std::memory_order_relaxed);
  connections_established_.store(stats.connections_established, std::memory_order_relaxed);
  verification_failures_.store(stats.verification_failures, std::memory_order_relaxed);
  connect_failures_.store(stats.connect_failures, std::memory_order_relaxed);
  connections_lost_.store(stats.connections_lost, std::memory_order_relaxed);
}

void TransportMetrics::set_limit(std::size_t slot, std::string_view name, std::int64_t used,
                                 std::int64_t limit) noexcept {
  if (slot >= kLimitSlots) return;
  Limit& entry = limits_[slot];
  entry.used.store(used, std::memory_order_relaxed);
  entry.limit.store(limit, std::memory_order_relaxed);
  if (entry.name.load(std::memory_order_relaxed) == nullptr) {
    entry.name_size = name.size();
    entry.name.store(name.data(), std::memory_order_release);
  }
}

void TransportMetrics::read(BrokerTransportStats& out) const {
  out.connect_attempts = connect_attempts_.load(std::memory_order_relaxed);
  out.connections_established = connections_established_.load(std::memory_order_relaxed);
  out.verification_failures = verification_failures_.load(std::memory_order_relaxed);
  out.connect_failures = connect_failures_.load(std::memory_order_relaxed);
  out.connections_lost = connections_lost_.load(std::memory_order_relaxed);
  out.requests.clear();
  for (std::size_t index = 1; index < kKinds; ++index) {
    const Kind& counters = kinds_[index];
    if (counters.count.load(std::memory_order_relaxed) == 0) continue;
    BrokerTransportStats::Requests requests;
    requests.kind = kind_name(index);
    for (std::size_t bucket = 0; bucket < requests.buckets.size(); ++bucket) {
      requests.buckets[bucket] = counters.buckets[bucket].load(std::memory_order_relaxed);
    }
    requests.sum_ns = counters.sum_ns.load(std::memory_order_relaxed);
    requests.failures = counters.failures.load(std::memory_order_relaxed);
    out.requests.push_back(requests);
  }
  out.venue_limits.clear();
  for (const Limit& entry : limits_) {
    const char* name = entry.name.load(std::memory_order_acquire);
    if (name == nullptr) continue;
    out.venue_limits.push_back({std::string_view(name, entry.name_size), entry.used.load(std::memory_order_relaxed),
                                entry.limit.load(std::memory_order_relaxed)});
  }
}

// --- replies ----------------------------------------------------------------

void OrderTracker::on_http_result(std::uint64_t tag, const tls::HttpResult& result) noexcept {
  const RequestKind kind = detail::tag_kind(tag);
  const OrderId order_id = detail::tag_order(tag);
  transport_.observe(kind, result);
  if (result.response != nullptr) venue_.on_response(*result.response);
  switch (kind) {
    case RequestKind::order: on_order_reply(order_id, result); return;
    case RequestKind::cancel: on_cancel_reply(order_id, result); return;
    case RequestKind::query:
    case RequestKind::pricing:
    case RequestKind::transactions:
    case RequestKind::account:
    case RequestKind::server_time:
    case RequestKind::keepalive:
    case RequestKind::replace: venue_.on_other_reply(kind, order_id, result); return;
    case RequestKind::holdings:
      // A reply of a fetch that was answered already (timed out) is dropped.
      if (holdings_pending_ && (order_id >> 8) == (holdings_generation_ & 0xFF'FFFFu)) {
        venue_.on_holdings_reply(static_cast<std::uint8_t>(order_id & 0xFFu), result);
      }
      return;
  }
}

void OrderTracker::on_order_reply(OrderId id, const tls::HttpResult& result) noexcept {
  TrackedOrder* tracked = find(id);
  if (tracked == nullptr) return;
  if (result.error == tls::TransportError::not_sent) {
    finish(id, ExecStatus::rejected, Reason::BROKER_UNAVAILABLE, "NO_CONNECTION");
    return;
  }
  if (result.response == nullptr) {
    mark_unknown(*tracked, "no reply (" + std::string(tls::to_string(result.error)) + ")");
    return;
  }
  venue_.on_order_reply(*tracked, *result.response);
}

void OrderTracker::on_cancel_reply(OrderId id, const tls::HttpResult& result) noexcept {
  TrackedOrder* tracked = find(id);
  if (tracked == nullptr) return;
  tracked->cancel_in_flight = false;
  if (result.response == nullptr) {
    retry_cancel(*tracked);
    return;
  }
  venue_.on_cancel_reply(*tracked, *result.response);
}

RestBroker::RestBroker(std::unique_ptr<RestVenue> venue) noexcept
    : venue_(std::move(venue)), tracker_(&venue_->tracker()) {}

RestBroker::~RestBroker() = default;

void RestBroker::start(ExecutionSink& sink, QuoteBoard& quotes, const Clock& clock) {
  tracker_->start(sink, quotes, clock);
}
void RestBroker::submit(const Order& order) noexcept { tracker_->submit(order); }
void RestBroker::cancel(const CancelOrder& cancel) noexcept { tracker_->cancel(cancel); }
bool RestBroker::poll() noexcept { return tracker_->poll(); }
void RestBroker::stop() noexcept { tracker_->stop(); }
bool RestBroker::supports_replace() const noexcept { return venue_->supports_replace(); }
void RestBroker::replace(const ReplaceOrder& request) noexcept { venue_->replace(request); }
bool RestBroker::request_holdings() noexcept { return tracker_->request_holdings(); }
void RestBroker::adopt(const Order& order, const HeldOrder& held) noexcept { tracker_->adopt(order, held); }
std::string_view RestBroker::client_id_prefix() const noexcept { return tracker_->venue_client_ids().prefix(); }
bool RestBroker::ready() const noexcept { return tracker_->unavailable_reason().empty(); }
bool RestBroker::transport_stats(BrokerTransportStats& out) const {
  tracker_->transport().read(out);
  return true;
}
const tls::HttpsClientStats& RestBroker::connection_stats() const noexcept { return tracker_->client().stats(); }
VenueClientId RestBroker::venue_client_id(OrderId id) const noexcept {
  return tracker_->venue_client_ids().make(id);
}

}  // namespace ordergate::adapters::rest
