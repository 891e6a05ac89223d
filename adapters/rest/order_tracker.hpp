#pragma once

// The order book-keeping that the REST adapters (OANDA, Binance) share, so a
// fix to cancels, expiry, shutdown or lost replies is made once:
//
// - the table of tracked orders and their phase (queued -> sending ->
//   working, or unknown when a reply was lost);
// - the queue of orders and cancels waiting for an idle connection and the
//   venue's budget, the pump that sends them, and the expiry of orders that
//   waited too long or whose venue became unreachable;
// - outstanding cancels (a cancel before sending never leaves the gateway;
//   one during sending waits for the order's fate; retries are bounded);
// - recovery of an order whose outcome is unknown (it is never resent: the
//   venue looks it up, and after a window reports it NOT_PLACED);
// - the pause after a 429, readiness (account checked, credentials accepted)
//   and shutdown (queued orders refused, working ones cancelled).
//
// Each venue keeps only its wire mapping behind `RestVenue`: it builds an
// order or a cancel request, checks its own budgets, parses replies and looks
// orders up. Broker-thread only, like every BrokerPort; not installed.

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../tls/broker_support.hpp"
#include "ordergate/adapters/rest/rest_broker.hpp"
#include "ordergate/adapters/rest/venue_client_id.hpp"
#include "ordergate/adapters/tls/https_client.hpp"
#include "ordergate/core/instrument.hpp"
#include "ordergate/core/ports.hpp"

namespace ordergate::adapters::rest {

using detail::RequestKind;

/// Where an order stands between the gateway and the venue.
enum class Phase : std::uint8_t {
  queued,   ///< waiting in the adapter for a connection and the venue's budget
  sending,  ///< written; its reply has not come back
  working,  ///< the venue holds it (resting or partly filled)
  unknown,  ///< its reply was lost: looked up at the venue, never resent
};

/// One order the adapter tracks until a terminal report.
struct TrackedOrder {
  Order order;  ///< as the gateway sent it: `client_order_id` is the strategy's
  VenueClientId venue_client_id;  ///< the client id the venue knows it by (never the strategy's)
  Phase phase = Phase::queued;
  std::uint64_t broker_id = 0;  ///< the venue's order id, 0 until known
  detail::FillState fills;
  bool new_reported = false;
  bool cancel_wanted = false;     ///< cancel asked while sending / unknown: sent once working
  bool cancel_queued = false;
  bool cancel_in_flight = false;
  std::uint8_t cancel_attempts = 0;
  std::int64_t queued_ns = 0;
  std::int64_t unknown_since_ns = 0;
  /// Adopted orders: what the venue had filled before adoption (the
  /// gateway's quantity less the leaves adopted). `order.quantity` is then
  /// the leaves adopted, so fills are booked against them; reports add this
  /// to their cumulative quantity.
  Decimal adopted_filled;

  /// State only the venue's mapping reads; the tracker never touches it.
  struct VenueState {
    std::uint64_t cursor_at_send = 0;  ///< OANDA: a transaction id known before the order was sent
    std::uint64_t last_applied = 0;    ///< OANDA: transactions up to this id are applied
    Decimal quote;                     ///< Binance: cumulative quote quantity reported so far
    Decimal executed_base;             ///< Binance: executedQty before adoption (not ours to report)
    bool query_in_flight = false;      ///< Binance: a lookup of this order is in flight
    bool replace_in_flight = false;    ///< Binance: an amend of this order awaits its outcome
    std::int64_t next_query_ns = 0;    ///< Binance: when it is looked up next
  } venue;
};

class OrderTracker;

/// A venue's wire mapping, called by `OrderTracker` on the broker thread.
/// Every member is noexcept in spirit: it must not throw.
class RestVenue {
 public:
  virtual ~RestVenue() = default;
  /// The tracker this venue drives (it owns it).
  [[nodiscard]] virtual OrderTracker& tracker() noexcept = 0;
  /// Before the pool opens: keeps `quotes` (throws std::invalid_argument
  /// when it is smaller than the venue's instrument table).
  virtual void prepare(QuoteBoard& quotes) = 0;
  /// After the pool opened: checks the account and reads the first prices,
  /// waiting at most a request timeout for each; failures are logged.
  virtual void warm_up() = 0;
  /// True when `instrument` is traded on this venue (else INSTRUMENT_NOT_MAPPED).
  [[nodiscard]] virtual bool maps(InstrumentId instrument) const noexcept = 0;
  /// Empty when the venue's own budget admits one more order now; otherwise
  /// the broker_reason of a BROKER_RATE_LIMITED refusal (the order is not sent).
  [[nodiscard]] virtual std::string_view order_budget_refusal(std::int64_t now_ns) noexcept = 0;
  /// True when the budget admits a cancel now; otherwise cancels wait.
  [[nodiscard]] virtual bool cancel_budget_allows(std::int64_t now_ns) const noexcept = 0;
  /// Builds the order request into the venue's scratch; a non-empty result
  /// is a problem that rejects the order (BROKER_REJECTED) before sending.
  [[nodiscard]] virtual std::string_view build_order(const TrackedOrder& order) noexcept = 0;
  /// Sends the request `build_order` built; false when no connection took it
  /// (the order goes back to the head of the queue).
  [[nodiscard]] virtual bool send_order(TrackedOrder& tracked) noexcept = 0;
  /// Builds and sends a cancel; false when no connection took it.
  [[nodiscard]] virtual bool send_cancel(TrackedOrder& tracked) noexcept = 0;
  /// Every response, before it is dispatched (rate-limit headers, 429).
  virtual void on_response(const tls::HttpResponse& response) noexcept = 0;
  /// The reply to an order request (never called for a lost reply).
  virtual void on_order_reply(TrackedOrder& order, const tls::HttpResponse& response) noexcept = 0;
  /// The reply to a cancel (never called for a lost reply, which is retried).
  virtual void on_cancel_reply(TrackedOrder& order, const tls::HttpResponse& response) noexcept = 0;
  /// Replies to the venue's own requests (account, prices, lookups...).
  virtual void on_other_reply(RequestKind kind, OrderId order_id, const tls::HttpResult& result) noexcept = 0;
  /// The order's reply was lost: start looking it up.
  virtual void on_fate_unknown(TrackedOrder& order) noexcept = 0;
  /// A cancel was refused (filled or cancelled first): look the order up soon.
  virtual void look_up_soon(TrackedOrder& order) noexcept = 0;
  /// The order is about to be forgotten: drop any index the venue keeps.
  virtual void on_forget(const TrackedOrder& order) noexcept = 0;
  /// Reconciliation: a new holdings fetch starts (drop what a previous one
  /// gathered).
  virtual void begin_holdings() noexcept = 0;
  /// Sends the next request of the fetch, if any is left to send and the
  /// venue's budget allows; called while a connection is idle and no pause
  /// is on. True if a request was sent. Tag the requests with
  /// `OrderTracker::holdings_tag(part)`.
  [[nodiscard]] virtual bool holdings_step(std::int64_t now_ns) noexcept = 0;
  /// A reply (or a lost one) to the current fetch's request `part`. The
  /// venue answers through `OrderTracker::answer_holdings` or
  /// `fail_holdings` once it has all replies or the first failure.
  virtual void on_holdings_reply(std::uint8_t part, const tls::HttpResult& result) noexcept = 0;
  /// The tracker adopted `tracked` (phase working, `broker_id` set): set
  /// the venue's state so that only what happens after `held` was read is
  /// reported, and index it.
  virtual void on_adopt(TrackedOrder& tracked, const HeldOrder& held) noexcept = 0;
  /// Background requests (account, lookups, prices, keep-alive), called when
  /// a connection is idle, nothing is queued and no pause is on; true if any
  /// request was sent.
  virtual bool background(std::int64_t now_ns) noexcept = 0;
  /// Amends (BrokerPort::supports_replace / replace): a venue that amends
  /// overrides both and answers every replace itself (one report on the
  /// new order id). Replies to its requests come to `on_other_reply` as
  /// RequestKind::replace. The default: no amends.
  [[nodiscard]] virtual bool supports_replace() const noexcept { return false; }
  virtual void replace(const ReplaceOrder& request) noexcept { (void)request; }
};

/// What the tracker needs to know of a venue's settings.
struct TrackerSettings {
  std::string venue_name;                ///< "OANDA", for log lines
  std::string_view pause_reason;         ///< broker_reason of orders refused during a 429 pause
  std::string_view unknown_search;       ///< log text: how a lost order is looked up
  std::int64_t max_queue_wait_ns = 0;    ///< longest an order waits for a connection
  std::int64_t unknown_fate_window_ns = 0;
  bool cancel_on_stop = true;
};

/// Connection and request counters the broker thread publishes for a
/// scrape on another thread (BrokerPort::transport_stats): relaxed atomics,
/// each with one writer.
class TransportMetrics {
 public:
  /// A request's outcome, by the kind its tag names.
  void observe(RequestKind kind, const tls::HttpResult& result) noexcept;
  /// Copies the client's counters (broker thread, after its poll).
  void mirror(const tls::HttpsClientStats& stats) noexcept;
  void read(BrokerTransportStats& out) const;
  /// A venue rate limit as the adapter counts it; `slot` < kLimitSlots,
  /// `name` a string literal. Broker thread.
  void set_limit(std::size_t slot, std::string_view name, std::int64_t used, std::int64_t limit) noexcept;
  static constexpr std::size_t kLimitSlots = 4;

 private:
  struct Limit {
    std::atomic<const char*> name{nullptr};
    std::size_t name_size = 0;  // written before `name` is published
    std::atomic<std::int64_t> used{0};
    std::atomic<std::int64_t> limit{0};
  };
  std::array<Limit, kLimitSlots> limits_{};
  static constexpr std::size_t kKinds = 11;  // RequestKind values 1..10
  struct Kind {
    std::array<std::atomic<std::uint64_t>, kBrokerLatencyBoundsNs.size() + 1> buckets{};
    std::atomic<std::uint64_t> sum_ns{0};
    std::atomic<std::uint64_t> failures{0};
    std::atomic<std::uint64_t> count{0};
  };
  std::array<Kind, kKinds> kinds_{};
  std::atomic<std::uint64_t> connect_attempts_{0};
  std::atomic<std::uint64_t> connections_established_{0};
  std::atomic<std::uint64_t> verification_failures_{0};
  std::atomic<std::uint64_t> connect_failures_{0};
  std::atomic<std::uint64_t> connections_lost_{0};
};

/// The shared REST order tracker; owns the connection pool and receives its
/// results. Not thread-safe: broker thread only. Costs: one hash-map lookup
/// per event; `stop()` and `cancels_outstanding()` walk the table.
class OrderTracker final : public tls::HttpHandler {
 public:
  static constexpr std::uint8_t kMaxCancelAttempts = 5;

  /// Validates `connection` (throws std::invalid_argument, as HttpsClient).
  OrderTracker(const tls::TlsSettings& connection, tls::LogFunction log, TrackerSettings settings,
               RestVenue& venue, RestStats& stats);

  // --- BrokerPort ---------------------------------------------------------

  /// Opens the pool (warm); the venue then checks its account.
  void start(ExecutionSink& sink, QuoteBoard& quotes, const Clock& clock);
  void submit(const Order& order) noexcept;
  void cancel(const CancelOrder& request) noexcept;
  bool poll() noexcept;
  /// Refuses queued orders (SHUTDOWN), cancels working ones when configured
  /// (waiting up to one request timeout), closes the pool.
  void stop() noexcept;
  /// Empty when orders may be sent; else NO_CONNECTION, UNAUTHORIZED or NOT_READY.
  [[nodiscard]] std::string_view unavailable_reason() const noexcept;

  // --- for the venue ------------------------------------------------------

  [[nodiscard]] tls::HttpsClient& client() noexcept { return client_; }
  [[nodiscard]] const tls::HttpsClient& client() const noexcept { return client_; }
  [[nodiscard]] const TransportMetrics& transport() const noexcept { return transport_; }
  [[nodiscard]] TransportMetrics& transport() noexcept { return transport_; }
  [[nodiscard]] std::int64_t now() const noexcept { return clock_->monotonic_ns(); }
  [[nodiscard]] std::int64_t wall_ns() const noexcept { return clock_->wall_ns(); }
  void log(tls::LogLevel level, const std::string& line) const noexcept;

  /// No request at all until `until_ns` (monotonic); orders meanwhile are
  /// refused BROKER_RATE_LIMITED with the venue's pause reason.
  void pause_until(std::int64_t until_ns) noexcept { paused_until_ns_ = std::max(paused_until_ns_, until_ns); }
  [[nodiscard]] bool paused(std::int64_t now_ns) const noexcept { return now_ns < paused_until_ns_; }

  /// Readiness: the account answered; credentials refused (logs `alert` once).
  void set_account_ready() noexcept;
  [[nodiscard]] bool account_ready() const noexcept { return account_ready_; }
  void credentials_accepted() noexcept { unauthorized_ = false; }
  void credentials_refused(const std::string& alert) noexcept;
  [[nodiscard]] bool unauthorized() const noexcept { return unauthorized_; }

  /// True when background work may go out: a connection idle, nothing
  /// queued, no pause.
  [[nodiscard]] bool background_due(std::int64_t now_ns) const noexcept;

  [[nodiscard]] TrackedOrder* find(OrderId id) noexcept;
  /// The tracked order whose venue client id is `venue_id`; null when no
  /// order of this adapter instance has it (another run's, another
  /// program's, or one already finished).
  [[nodiscard]] TrackedOrder* find_venue_client_id(std::string_view venue_id) noexcept;
  /// This instance's venue client ids.
  [[nodiscard]] const VenueClientIds& venue_client_ids() const noexcept { return venue_client_ids_; }
  /// "c1 (venue id og...-1)": how log lines name an order.
  [[nodiscard]] static std::string describe(const TrackedOrder& tracked);
  [[nodiscard]] std::unordered_map<OrderId, TrackedOrder>& orders() noexcept { return orders_; }

  /// Sends an execution report for `order` with its fill state so far;
  /// `time_ns` 0 = now (wall clock).
  void report(TrackedOrder& tracked, ExecStatus status, Decimal last_quantity, Decimal last_price, Reason reason,
              std::string_view broker_reason, std::int64_t time_ns) noexcept;
  /// Sends a report the venue built itself to the gateway.
  void report_execution(const ExecutionReport& report) noexcept {
    if (sink_ != nullptr) sink_->on_execution(report);
  }
  /// Reports an amend's answer (REPLACED or REPLACE_REJECTED) under the new
  /// order of `request`, naming the original's client id. `leaves` is given,
  /// not derived: a refused amend leaves nothing under the new id, and a
  /// replacement may have filled beyond its size. `broker_id` 0: none.
  void report_replace(const ReplaceOrder& request, ExecStatus status, Reason reason, std::string_view broker_reason,
                      std::uint64_t broker_id, Decimal filled, Decimal leaves) noexcept;
  /// Reports a fill that belongs to no tracked order (a protective order
  /// triggering, a fill placed outside the gateway) to the gateway.
  void report_position_fill(const ExecutionReport& fill) noexcept {
    if (sink_ != nullptr) sink_->on_position_fill(fill);
  }
  /// Reports a terminal status and forgets the order.
  void finish(OrderId id, ExecStatus status, Reason reason, std::string_view broker_reason,
              std::int64_t time_ns = 0) noexcept;
  /// Forgets an order without a report (its last report was terminal).
  void forget(OrderId id) noexcept;

  /// The venue holds the order (counts a recovery when its fate was unknown).
  void mark_working(TrackedOrder& tracked) noexcept;
  /// Books a fill and reports it (PARTIALLY_FILLED, or FILLED when complete
  /// or `venue_says_filled`); true when that finished (and forgot) the order.
  bool book_fill(TrackedOrder& tracked, Decimal quantity, Decimal price, std::int64_t time_ns,
                 bool venue_says_filled = false) noexcept;
  /// A working order: NEW once (unless already filled), then the cancel
  /// that was asked while it was in flight.
  void after_working(TrackedOrder& tracked, std::int64_t time_ns) noexcept;
  /// The order's reply was lost: it is looked up, never resent.
  void mark_unknown(TrackedOrder& tracked, const std::string& why) noexcept;
  /// True when the order's fate has been unknown for the whole window as of
  /// `searched_at_ns` (the venue looked and did not find it).
  [[nodiscard]] bool unknown_beyond_window(const TrackedOrder& tracked, std::int64_t searched_at_ns) const noexcept;
  /// Reports an order that the venue does not have as REJECTED / NOT_PLACED.
  void not_placed(OrderId id, std::string_view where) noexcept;

  /// Queues a cancel for a working order (once).
  void queue_cancel(TrackedOrder& tracked);
  /// A cancel failed in a way worth trying again (bounded).
  void retry_cancel(TrackedOrder& tracked);
  /// The venue refused a cancel (`code`): logged, and the order looked up.
  void cancel_refused(TrackedOrder& tracked, std::string_view code) noexcept;

  // --- reconciliation -----------------------------------------------------

  /// Starts a holdings fetch, or joins the one under way; each call gets
  /// one `ExecutionSink::on_holdings`, always from `poll()` (complete =
  /// false at the next one when the venue is unavailable: NO_CONNECTION,
  /// UNAUTHORIZED, NOT_READY).
  /// False before `start` and after `stop` (nothing is answered).
  bool request_holdings() noexcept;
  /// The tag of the current fetch's request `part` (the venue's numbering).
  [[nodiscard]] std::uint64_t holdings_tag(std::uint8_t part) const noexcept {
    const auto generation = static_cast<OrderId>(holdings_generation_ & 0xFF'FFFFu);
    return detail::make_tag(RequestKind::holdings, (generation << 8) | part);
  }
  /// Answers every caller waiting for the current fetch.
  void answer_holdings(const Holdings& holdings) noexcept;
  /// Answers complete = false with `error` (a short code, never venue text).
  void fail_holdings(std::string error) noexcept;
  /// Tracks `held` under gateway order `order` (see BrokerPort::adopt).
  void adopt(const Order& order, const HeldOrder& held) noexcept;

  void on_http_result(std::uint64_t tag, const tls::HttpResult& result) noexcept override;

 private:
  struct Command {
    RequestKind kind;
    OrderId order_id;
  };

  [[nodiscard]] std::size_t cancels_outstanding() const noexcept;
  bool pump() noexcept;
  void send_order(TrackedOrder& tracked) noexcept;
  void send_cancel(TrackedOrder& tracked) noexcept;
  bool expire_queue() noexcept;
  void on_order_reply(OrderId id, const tls::HttpResult& result) noexcept;
  void on_cancel_reply(OrderId id, const tls::HttpResult& result) noexcept;

  TrackerSettings settings_;
  tls::LogFunction log_;
  std::string log_name_;
  std::int64_t request_timeout_ns_;
  VenueClientIds venue_client_ids_;
  tls::HttpsClient client_;
  TransportMetrics transport_;
  RestVenue& venue_;
  RestStats& stats_;

  ExecutionSink* sink_ = nullptr;
  const Clock* clock_ = nullptr;

  std::unordered_map<OrderId, TrackedOrder> orders_;
  std::deque<Command> queue_;
  std::int64_t paused_until_ns_ = 0;
  bool account_ready_ = false;
  bool unauthorized_ = false;

  bool holdings_pending_ = false;
  std::uint32_t holdings_waiters_ = 0;
  std::uint32_t holdings_generation_ = 0;  // 24 bits in a tag; replies of an abandoned fetch are dropped
  std::int64_t holdings_deadline_ns_ = 0;
  std::string holdings_refusal_;  // answered at the next poll: the venue was unavailable
};

/// The venue's name of every instrument (by InstrumentId; empty = not traded
/// here): `instruments` (empty = all of `table`) under `default_name`, then
/// the `symbol_map` overrides, each checked by `valid`. Throws
/// std::invalid_argument naming `setting_prefix` ("oanda") and, for a bad
/// override, `what_a_name_is` ("an OANDA instrument name").
[[nodiscard]] std::vector<std::string> venue_instrument_names(
    const InstrumentTable& table, const std::vector<std::string>& instruments,
    const std::vector<std::pair<std::string, std::string>>& symbol_map, std::string_view setting_prefix,
    std::string (*default_name)(std::string_view), bool (*valid)(std::string_view),
    std::string_view what_a_name_is);

/// A factory for `GatewayConfig::brokers`: each call builds a `Broker` from
/// a copy (`clone()`) of `settings`.
template <class Broker, class Settings>
[[nodiscard]] std::function<std::unique_ptr<BrokerPort>(const InstrumentTable&)> make_factory(Settings settings) {
  auto shared = std::make_shared<const Settings>(std::move(settings));
  return [shared](const InstrumentTable& instruments) -> std::unique_ptr<BrokerPort> {
    return std::make_unique<Broker>(instruments, shared->clone());
  };
}

/// The tracker's part of a venue's settings (the fields every REST venue
/// has under the same names).
template <class Settings>
[[nodiscard]] TrackerSettings tracker_settings(const Settings& settings, std::string venue_name,
                                               std::string_view pause_reason, std::string_view unknown_search) {
  TrackerSettings tracker;
  tracker.venue_name = std::move(venue_name);
  tracker.pause_reason = pause_reason;
  tracker.unknown_search = unknown_search;
  tracker.max_queue_wait_ns = settings.max_queue_wait_ns;
  tracker.unknown_fate_window_ns = settings.unknown_fate_window_ns;
  tracker.cancel_on_stop = settings.cancel_on_stop;
  return tracker;
}

/// Copies the settings every REST venue has under the same names; a venue's
/// `clone()` adds its own fields and clones its secrets.
template <class Settings>
void copy_common_settings(const Settings& from, Settings& to) {
  to.connection = from.connection;
  to.instruments = from.instruments;
  to.symbol_map = from.symbol_map;
  to.pricing_interval_ns = from.pricing_interval_ns;
  to.keepalive_interval_ns = from.keepalive_interval_ns;
  to.unknown_fate_window_ns = from.unknown_fate_window_ns;
  to.rate_limit_pause_ns = from.rate_limit_pause_ns;
  to.max_queue_wait_ns = from.max_queue_wait_ns;
  to.cancel_on_stop = from.cancel_on_stop;
  to.log = from.log;
}

/// Throws std::invalid_argument unless the intervals and timeouts every REST
/// venue has, and its `poll_interval_ns`, are positive (pricing may be 0).
template <class Settings>
void check_common_intervals(const Settings& s, std::int64_t poll_interval_ns, std::string_view setting_prefix) {
  if (poll_interval_ns <= 0 || s.pricing_interval_ns < 0 || s.keepalive_interval_ns <= 0 ||
      s.unknown_fate_window_ns <= 0 || s.max_queue_wait_ns <= 0 || s.rate_limit_pause_ns <= 0) {
    throw std::invalid_argument(std::string(setting_prefix) +
                                ": intervals and timeouts must be > 0 (pricing_interval may be 0)");
  }
}

/// Decimal text of an id.
[[nodiscard]] std::string id_text(std::uint64_t id);

}  // namespace ordergate::adapters::rest
