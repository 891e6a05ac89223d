#pragma once

/// \file
/// Binance spot REST adapter over persistent, verified HTTPS connections.
///
/// - Orders: `POST /api/v3/order`, form-encoded, `newClientOrderId` = client
///   order id, `newOrderRespType=FULL`; MARKET, LIMIT (GTC/IOC/FOK) and STOP
///   (as STOP_LOSS, GTC). Signed with HMAC-SHA256 of the exact body, with
///   `timestamp` and `recvWindow`, right before the write (after any wait in
///   the adapter), never earlier.
/// - Replies: NEW, PARTIALLY_FILLED and FILLED from `executedQty` and
///   `cummulativeQuoteQty` (the last price of each fill is exact), CANCELED /
///   EXPIRED / REJECTED likewise. `{code,msg}` errors: -2010 and other 4xx
///   give REJECTED / BROKER_REJECTED with the code in `broker_reason`
///   ("-2010"); -1021 logs the clock skew; -2014/-2015/-1022 give
///   BROKER_UNAVAILABLE and an error log line.
/// - 429 and 418: no request until `Retry-After` has passed (Binance bans an
///   IP that keeps sending); orders meanwhile are REJECTED /
///   BROKER_RATE_LIMITED.
/// - A 5xx, -1007 or lost reply means the order's fate is unknown: it is
///   looked up by client order id (`GET /api/v3/order`) before anything is
///   reported, and never resent.
/// - `X-MBX-USED-WEIGHT-1M` and `X-MBX-ORDER-COUNT-10S` are tracked: orders
///   that would exceed the order limit are refused locally
///   (BROKER_RATE_LIMITED) and background requests stop well before the
///   weight limit.
/// - Fills of resting orders: each working order is queried in turn every
///   `order_poll_interval_ns` (REST only; no user-data WebSocket stream).
/// - Reference prices: `GET /api/v3/ticker/bookTicker` every
///   `pricing_interval_ns` into the broker's `QuoteBoard`.
///
/// Threading: called on its broker's I/O thread only; `poll()` drives the
/// network without blocking.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ordergate/adapters/rest/rest_broker.hpp"
#include "ordergate/adapters/tls/https_client.hpp"
#include "ordergate/core/instrument.hpp"
#include "ordergate/core/ports.hpp"
#include "ordergate/security/secret.hpp"

namespace ordergate::adapters::binance {

struct BinanceSettings {
  /// Connection settings. `base_url`: https://api.binance.com for live,
  /// https://testnet.binance.vision for the spot test network.
  tls::TlsSettings connection = default_connection();
  security::Secret api_key;     ///< sent as X-MBX-APIKEY
  security::Secret secret_key;  ///< signs requests; never sent
  /// Canonical instruments this adapter trades and prices; empty = every
  /// instrument of the gateway.
  std::vector<std::string> instruments;
  /// Overrides of Binance's symbols (canonical -> Binance); by default
  /// "BTC/USDT" -> "BTCUSDT".
  std::vector<std::pair<std::string, std::string>> symbol_map;
  std::int64_t recv_window_ms = 5000;
  std::int64_t weight_limit_1m = 6000;  ///< REQUEST_WEIGHT per minute
  std::int64_t order_limit_10s = 100;   ///< ORDERS per 10 seconds
  /// Background requests (prices, order polls, keep-alive) stop once this
  /// share of the weight limit is used; orders stop only at the limit.
  double background_weight_share = 0.7;
  std::int64_t pricing_interval_ns = 250 * kNanosPerMilli;  ///< 0 = no price polling
  std::int64_t order_poll_interval_ns = 250 * kNanosPerMilli;
  std::int64_t keepalive_interval_ns = 15 * kNanosPerSecond;
  /// How long an order whose reply was lost is looked up while Binance says
  /// it does not exist, before it is reported REJECTED / BROKER_UNAVAILABLE.
  std::int64_t unknown_fate_window_ns = 3 * kNanosPerSecond;
  /// Pause after a 429/418 that carries no Retry-After.
  std::int64_t rate_limit_pause_ns = 10 * kNanosPerSecond;
  /// Longest an order waits for a free connection before BROKER_UNAVAILABLE.
  std::int64_t max_queue_wait_ns = 1 * kNanosPerSecond;
  /// On stop, cancel the orders still working (waits up to
  /// connection.request_timeout_ns).
  bool cancel_on_stop = true;
  tls::LogFunction log;  ///< empty = stderr

  [[nodiscard]] static tls::TlsSettings default_connection() {
    return rest::venue_connection("https://api.binance.com", "binance");
  }
  /// A deep copy (the keys are cloned explicitly).
  [[nodiscard]] BinanceSettings clone() const;
};

/// Counters for tests and health checks (broker thread only).
struct BinanceStats : rest::RestStats {
  std::uint64_t queries_sent = 0;
  std::uint64_t refused_locally = 0;  ///< orders refused to stay under the order limit
  std::int64_t used_weight = 0;       ///< last X-MBX-USED-WEIGHT-1M
  std::int64_t order_count = 0;       ///< last X-MBX-ORDER-COUNT-10S
  std::int64_t clock_offset_ms = 0;   ///< server time - local time at start
};

/// The Binance spot broker. `start()` opens the pool, reads the server time
/// (clock skew is logged) and checks the keys with a signed account request
/// (see `rest::RestBroker`).
class BinanceBroker final : public rest::RestBroker {
 public:
  /// Validates the settings; throws std::invalid_argument naming the problem.
  BinanceBroker(const InstrumentTable& instruments, BinanceSettings settings);

  [[nodiscard]] std::string_view name() const noexcept override { return "binance"; }
  [[nodiscard]] const BinanceStats& stats() const noexcept;
};

/// A factory for `GatewayConfig::brokers`: each call builds a
/// `BinanceBroker` from a copy of `settings`.
[[nodiscard]] std::function<std::unique_ptr<BrokerPort>(const InstrumentTable&)> make_binance_factory(
    BinanceSettings settings);

}  // namespace ordergate::adapters::binance
