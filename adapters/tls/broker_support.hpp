#pragma once

// Internal pieces shared by the OANDA and Binance adapters: request tags,
// an outbound request pacer, the per-order book-keeping that turns fills into
// execution reports (cumulative quantity, leaves, average price), and log
// helpers. Broker-thread only; not installed.

#include <algorithm>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "ordergate/adapters/tls/https_client.hpp"
#include "ordergate/core/decimal.hpp"
#include "ordergate/core/execution.hpp"
#include "ordergate/core/order.hpp"
#include "ordergate/core/ports.hpp"
#include "ordergate/security/secret.hpp"

namespace ordergate::adapters::detail {

/// What a request was for; travels in the high half of the transport tag,
/// the order id in the low half.
enum class RequestKind : std::uint8_t {
  order = 1,
  cancel,
  query,         ///< look up one order (fate unknown, or a resting order)
  pricing,
  transactions,
  account,       ///< account summary / signed account check: readiness
  server_time,
  keepalive,     ///< a cheap request on an idle connection
  holdings,      ///< reconciliation: open orders, positions (the tag's low half: generation and part)
  replace,       ///< an amend (cancel/replace) of a working order, tagged with the new order id
};

constexpr std::uint64_t make_tag(RequestKind kind, OrderId order_id) noexcept {
  return (static_cast<std::uint64_t>(kind) << 32) | order_id;
}
constexpr RequestKind tag_kind(std::uint64_t tag) noexcept { return static_cast<RequestKind>(tag >> 32); }
constexpr OrderId tag_order(std::uint64_t tag) noexcept { return static_cast<OrderId>(tag & 0xFFFF'FFFFu); }

/// GCRA pacing of outbound requests: at most `per_second` on average, with a
/// burst of the same size. `allow(now, headroom)` keeps part of the burst
/// back (headroom in [0, 1)), so background polls never take the budget that
/// orders need.
class RequestPacer {
 public:
  explicit RequestPacer(std::uint32_t per_second = 0) noexcept { set_rate(per_second); }
  void set_rate(std::uint32_t per_second) noexcept {
    interval_ns_ = per_second == 0 ? 0 : 1'000'000'000 / static_cast<std::int64_t>(per_second);
    tolerance_ns_ = per_second == 0 ? 0 : interval_ns_ * (static_cast<std::int64_t>(per_second) - 1);
  }
  [[nodiscard]] bool allow(std::int64_t now_ns, double headroom = 0.0) const noexcept {
    if (interval_ns_ == 0) return true;
    const auto tolerance = static_cast<std::int64_t>(static_cast<double>(tolerance_ns_) * (1.0 - headroom));
    return theoretical_arrival_ns_ - now_ns <= tolerance;
  }
  void consume(std::int64_t now_ns) noexcept {
    if (interval_ns_ == 0) return;
    theoretical_arrival_ns_ = std::max(theoretical_arrival_ns_, now_ns) + interval_ns_;
  }

 private:
  std::int64_t interval_ns_ = 0;
  std::int64_t tolerance_ns_ = 0;
  std::int64_t theoretical_arrival_ns_ = 0;
};

/// Cumulative fill state of one order and the report that goes with it.
struct FillState {
  Decimal filled;
  int128 notional_raw = 0;  // sum of price.raw * quantity.raw (1e-18 units)

  /// Books a fill of `quantity` at `price`, never beyond `order_quantity`;
  /// returns the quantity actually booked.
  Decimal add(Decimal quantity, Decimal price, Decimal order_quantity) noexcept {
    Decimal leaves;
    if (!Decimal::sub(order_quantity, filled, leaves) || !leaves.is_positive()) return Decimal{};
    if (quantity > leaves) quantity = leaves;
    if (!quantity.is_positive()) return Decimal{};
    (void)Decimal::add(filled, quantity, filled);
    notional_raw += Decimal::product_raw(price, quantity);
    return quantity;
  }
  [[nodiscard]] Decimal average() const noexcept {
    if (!filled.is_positive()) return Decimal{};
    return Decimal::from_raw(static_cast<std::int64_t>(notional_raw / filled.raw()));
  }
  [[nodiscard]] bool complete(Decimal order_quantity) const noexcept { return filled >= order_quantity; }
};

/// Builds an execution report for `order` with the fill state so far.
inline ExecutionReport make_report(const Order& order, const FillState& fills, ExecStatus status,
                                   Decimal last_quantity, Decimal last_price, Reason reason,
                                   std::string_view broker_reason, std::string_view broker_order_id,
                                   std::int64_t transact_time_ns) noexcept {
  ExecutionReport report;
  report.order_id = order.order_id;
  report.session_id = order.session_id;
  report.account_id = order.account_id;
  report.instrument_id = order.instrument_id;
  report.side = order.side;
  report.status = status;
  report.reason = reason;
  report.last_quantity = last_quantity;
  report.last_price = last_price;
  report.cumulative_quantity = fills.filled;
  if (!is_terminal(status)) (void)Decimal::sub(order.quantity, fills.filled, report.leaves_quantity);
  report.average_price = fills.average();
  report.transact_time_ns = transact_time_ns;
  report.client_order_id = order.client_order_id;
  report.broker_order_id.assign(broker_order_id.substr(0, BrokerOrderId::kCapacity));
  report.broker_reason.assign(broker_reason.substr(0, decltype(report.broker_reason)::kCapacity));
  return report;
}

/// Writes "<name>: <line>" to the configured log, never throwing.
inline void log_line(const tls::LogFunction& log, tls::LogLevel level, std::string_view line) noexcept {
  try {
    if (log) {
      log(level, line);
    } else {
      tls::log_to_stderr(level, line);
    }
  } catch (...) {
    // Logging must not take the broker thread down.
  }
}

/// Header lines holding a credential, joined from `parts` into a Secret. The
/// scratch string is sized once up front (so no buffer that held a part of
/// the credential is ever freed unwiped by a reallocation) and wiped after.
inline security::Secret secret_header_lines(std::initializer_list<std::string_view> parts) {
  std::size_t size = 0;
  for (const std::string_view part : parts) size += part.size();
  std::string lines;
  lines.reserve(size);
  for (const std::string_view part : parts) lines.append(part);
  security::Secret secret(lines);
  security::wipe(lines.data(), lines.capacity());
  return secret;
}

/// "HTTP 401" etc., for log lines.
inline std::string status_text(int status) { return "HTTP " + std::to_string(status); }

}  // namespace ordergate::adapters::detail
