#pragma once

/// \file
/// OANDA v20 REST adapter over persistent, verified HTTPS connections.
///
/// - Orders: `POST /v3/accounts/{id}/orders` (MARKET FOK/IOC; LIMIT GTC, GFD,
///   GTD, FOK, IOC; STOP GTC, GFD, GTD), signed `units`, `clientExtensions.id`
///   = client order id, `stopLossOnFill` / `takeProfitOnFill` when set.
///   A fill in the reply gives FILLED (PARTIALLY_FILLED + CANCELED for a
///   partial IOC), a cancel gives CANCELED with OANDA's reason in
///   `broker_reason` (EXPIRED for TIME_IN_FORCE_EXPIRED), a create alone gives
///   NEW. 400/404 give REJECTED / BROKER_REJECTED with the reject reason;
///   401/403 give BROKER_UNAVAILABLE and an error log line; 429 gives
///   BROKER_RATE_LIMITED and pauses requests (Retry-After when sent).
/// - Cancels: `PUT /v3/accounts/{id}/orders/{orderID}/cancel` (by the venue
///   client id, `@og...`, while OANDA's id is unknown).
/// - Amends: `PUT /v3/accounts/{id}/orders/{orderID}` with the replacement
///   order: REPLACED with OANDA's new order id (then its fill or cancel, if
///   the reply carries one), REPLACE_REJECTED with OANDA's reason, or
///   CANCELED then REPLACE_REJECTED when only the cancel happened; a lost
///   reply is settled from the account's transactions, never resent.
/// - Fills of resting orders, and orders whose fate is unknown (timeout,
///   dropped connection, 5xx): polling `transactions/sinceid` from a
///   transaction id known before the order was sent, so a lost reply is
///   recovered from the account's own record and never resent.
/// - Reference prices: `GET /v3/accounts/{id}/pricing` every
///   `pricing_interval_ns` into the broker's `QuoteBoard`.
///
/// Threading: like every `BrokerPort`, called on its broker's I/O thread
/// only; `poll()` drives the network without blocking.

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

namespace ordergate::adapters::oanda {

struct OandaSettings {
  /// Connection settings. `base_url` is the REST endpoint: the practice
  /// server is https://api-fxpractice.oanda.com, live is
  /// https://api-fxtrade.oanda.com.
  tls::TlsSettings connection = default_connection();
  std::string account_id;   ///< e.g. 101-001-1234567-001
  security::Secret token;   ///< personal access token (Bearer)
  /// Canonical instruments this adapter trades and prices; empty = every
  /// instrument of the gateway.
  std::vector<std::string> instruments;
  /// Overrides of OANDA's instrument names (canonical -> OANDA); by default
  /// "EUR/USD" -> "EUR_USD".
  std::vector<std::pair<std::string, std::string>> symbol_map;
  /// Outbound request budget across the pool (OANDA allows 100/s per connection).
  std::uint32_t max_requests_per_second = 100;
  std::int64_t pricing_interval_ns = 250 * kNanosPerMilli;      ///< 0 = no price polling
  std::int64_t transaction_poll_interval_ns = 250 * kNanosPerMilli;
  std::int64_t keepalive_interval_ns = 15 * kNanosPerSecond;    ///< cheap request on an idle connection
  /// How long after a lost reply the account's transactions are searched
  /// for the order before it is reported REJECTED / BROKER_UNAVAILABLE.
  std::int64_t unknown_fate_window_ns = 3 * kNanosPerSecond;
  /// Pause after a 429 that carries no Retry-After.
  std::int64_t rate_limit_pause_ns = 1 * kNanosPerSecond;
  /// Longest an order waits for a free connection before BROKER_UNAVAILABLE.
  std::int64_t max_queue_wait_ns = 1 * kNanosPerSecond;
  /// On stop, cancel the orders still working at OANDA (waits up to
  /// connection.request_timeout_ns) so none is left that the gateway no
  /// longer tracks.
  bool cancel_on_stop = true;
  tls::LogFunction log;  ///< empty = stderr

  [[nodiscard]] static tls::TlsSettings default_connection() {
    return rest::venue_connection("https://api-fxpractice.oanda.com", "oanda");
  }
  /// A deep copy (the token is cloned explicitly).
  [[nodiscard]] OandaSettings clone() const;
};

/// Counters for tests and health checks (broker thread only); `recovered`
/// counts lost replies found in the transactions.
struct OandaStats : rest::RestStats {
  std::uint64_t transaction_polls = 0;
  /// Fills of no gateway order (protective orders, fills placed elsewhere)
  /// reported to the gateway as position fills.
  std::uint64_t position_fills = 0;
};

/// The OANDA v20 broker. `start()` opens the pool and reads the account's
/// last transaction id, which also checks the token (see `rest::RestBroker`).
class OandaBroker final : public rest::RestBroker {
 public:
  /// Validates the settings (URL, account id, token present, instruments
  /// known); throws std::invalid_argument naming the problem.
  OandaBroker(const InstrumentTable& instruments, OandaSettings settings);

  [[nodiscard]] std::string_view name() const noexcept override { return "oanda"; }
  [[nodiscard]] const OandaStats& stats() const noexcept;
};

/// A factory for `GatewayConfig::brokers`: each call builds an `OandaBroker`
/// from a copy of `settings`.
[[nodiscard]] std::function<std::unique_ptr<BrokerPort>(const InstrumentTable&)> make_oanda_factory(
    OandaSettings settings);

}  // namespace ordergate::adapters::oanda
