#pragma once

/// \file
/// The common base of the REST brokers (`oanda::OandaBroker`,
/// `binance::BinanceBroker`): the order flow of `BrokerPort` is one shared
/// order tracker (adapters/rest/order_tracker.hpp, not installed), and each
/// venue adds only its wire mapping, its `start()` and its counters.
///
/// What the tracker guarantees for every REST venue:
/// - An order waits in the adapter only for a free connection and the
///   venue's request budget, never longer than the venue's
///   `max_queue_wait_ns` (then REJECTED / BROKER_UNAVAILABLE, QUEUE_TIMEOUT),
///   and is refused at once when the venue is unreachable (NO_CONNECTION),
///   refused the credentials (UNAUTHORIZED), is not ready (NOT_READY) or is
///   in a 429 pause (BROKER_RATE_LIMITED).
/// - A cancel of an order still queued never reaches the venue (CANCELED,
///   NOT_SENT); one of an order in flight or of unknown fate is sent once the
///   order is known to be working; failed cancels are retried a bounded
///   number of times, and never during a pause.
/// - An order whose reply is lost (timeout, dropped connection, 5xx) is never
///   resent: the venue looks it up, and reports it NOT_PLACED when it is not
///   found within `unknown_fate_window_ns`.
/// - The venue knows an order by the adapter's own client id
///   (venue_client_id.hpp), never by the strategy's `cl_ord_id`, which stays
///   in every report; every reply applied to an order must name the venue's
///   order id once it is known.
/// - `stop()` refuses queued orders (SHUTDOWN) and, with `cancel_on_stop`,
///   cancels the orders still working, waiting up to one request timeout.
///
/// Threading: like every `BrokerPort`, called on its broker's I/O thread
/// only; `poll()` drives the network without blocking. Cost: a hash-map
/// lookup and at most one request write per call on the order path.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "ordergate/adapters/rest/venue_client_id.hpp"
#include "ordergate/adapters/tls/https_client.hpp"
#include "ordergate/core/ports.hpp"

namespace ordergate::adapters::rest {

class OrderTracker;
class RestVenue;

/// Counters every REST broker keeps, for tests and health checks (broker
/// thread only); each venue's stats add their own.
struct RestStats {
  std::uint64_t orders_sent = 0;
  std::uint64_t cancels_sent = 0;
  std::uint64_t unknown_fate = 0;        ///< orders whose reply was lost
  std::uint64_t recovered = 0;           ///< of those, found at the venue
  std::uint64_t mismatched_replies = 0;  ///< replies naming another order id or client id: ignored
  std::uint64_t rate_limited = 0;        ///< 429 (and Binance's 418) replies
  std::uint64_t price_updates = 0;       ///< quotes published
};

/// Connection settings for a venue's public endpoint: `base_url`, with log
/// lines prefixed `log_name`.
[[nodiscard]] inline tls::TlsSettings venue_connection(std::string base_url, std::string log_name) {
  tls::TlsSettings connection;
  connection.base_url = std::move(base_url);
  connection.log_name = std::move(log_name);
  return connection;
}

class RestBroker : public BrokerPort {
 public:
  RestBroker(const RestBroker&) = delete;
  RestBroker& operator=(const RestBroker&) = delete;

  /// Opens the connection pool (warm) and lets the venue check its account
  /// and read first prices. Network or credential failures are logged, not
  /// thrown: orders are then rejected BROKER_UNAVAILABLE until the venue is
  /// reachable and accepts the credentials. Throws std::invalid_argument when
  /// `quotes` is smaller than the instrument table.
  void start(ExecutionSink& sink, QuoteBoard& quotes, const Clock& clock) final;
  void submit(const Order& order) noexcept final;
  void cancel(const CancelOrder& cancel) noexcept final;
  bool poll() noexcept final;
  void stop() noexcept final;
  /// Amends go to the venue's mapping (Binance: cancelReplace; OANDA: none).
  [[nodiscard]] bool supports_replace() const noexcept final;
  void replace(const ReplaceOrder& request) noexcept final;
  /// Reconciliation (see docs/brokers.md for each venue's requests): the
  /// fetch goes out like any request, and `on_holdings` always comes from a
  /// later `poll()`, never inside this call (from the next one, complete =
  /// false, when the venue is unreachable, refused the credentials or is not
  /// ready: NO_CONNECTION, UNAUTHORIZED, NOT_READY). Calls while a
  /// fetch is under way join it. Any failure (transport, HTTP error,
  /// unreadable reply, TIMEOUT after three request timeouts, SHUTDOWN)
  /// answers complete = false with a short error naming the request.
  /// False before `start()` and after `stop()`.
  bool request_holdings() noexcept final;
  /// Tracks a held order under `order` (same instrument and side, leaves
  /// > 0, `held.broker_order_id` the venue's decimal order id; otherwise
  /// logged and ignored). Nothing is reported for the adoption itself; from
  /// then on the order is matched by its venue order id (whatever
  /// instance's client id it carries), its fills since `held` was read are
  /// reported as PARTIALLY_FILLED / FILLED of `order.order_id` with
  /// `order.client_order_id`, cancels and expiry likewise, and `cancel()`
  /// cancels it at the venue by its venue order id. Reports count leaves
  /// from `held.leaves`; their cumulative quantity includes what was filled
  /// before (`order.quantity - held.leaves`), their average price only the
  /// fills since adoption. Adopt from the latest `on_holdings` answer.
  void adopt(const Order& order, const HeldOrder& held) noexcept final;
  /// This instance's `VenueClientIds::prefix()`.
  [[nodiscard]] std::string_view client_id_prefix() const noexcept final;

  /// True once connected and the venue accepted the credentials; orders are
  /// sent only then.
  [[nodiscard]] bool ready() const noexcept;
  /// `ready()`: the gateway re-reconciles after a long outage.
  [[nodiscard]] bool connected() const noexcept final { return ready(); }
  [[nodiscard]] const tls::HttpsClientStats& connection_stats() const noexcept;
  /// Any thread: counters the broker thread publishes after each poll, and
  /// the latency of every request by kind.
  [[nodiscard]] bool transport_stats(BrokerTransportStats& out) const final;

  /// The client id this adapter instance sends its venue for gateway order
  /// `id` (whether or not it was sent); logged once at start as its prefix.
  [[nodiscard]] VenueClientId venue_client_id(OrderId id) const noexcept;

 protected:
  /// Takes the venue's wire mapping, which owns the tracker.
  explicit RestBroker(std::unique_ptr<RestVenue> venue) noexcept;
  ~RestBroker() override;
  [[nodiscard]] const RestVenue& venue() const noexcept { return *venue_; }

 private:
  std::unique_ptr<RestVenue> venue_;
  OrderTracker* tracker_;
};

}  // namespace ordergate::adapters::rest
