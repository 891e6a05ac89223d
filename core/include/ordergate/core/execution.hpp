#pragma once

/// \file
/// Execution events, shaped like FIX execution reports.

#include <cstdint>
#include <string_view>
#include <type_traits>

#include "ordergate/core/order.hpp"
#include "ordergate/core/reason.hpp"

namespace ordergate {

enum class ExecStatus : std::uint8_t {
  new_order = 0,  ///< NEW: acknowledged and working at the broker
  partially_filled,
  filled,
  canceled,
  rejected,
  expired,
};

[[nodiscard]] std::string_view to_string(ExecStatus status) noexcept;  ///< "NEW", "FILLED", ...
[[nodiscard]] constexpr bool is_terminal(ExecStatus status) noexcept {
  return status == ExecStatus::filled || status == ExecStatus::canceled ||
         status == ExecStatus::rejected || status == ExecStatus::expired;
}

struct ExecutionReport {
  OrderId order_id = 0;
  SessionId session_id = 0;
  AccountId account_id = 0;
  InstrumentId instrument_id = 0;
  Side side = Side::unset;
  ExecStatus status = ExecStatus::new_order;
  Reason reason = Reason::OK;  ///< why, for rejected / canceled by the broker or gateway
  Decimal last_quantity;       ///< filled by this event
  Decimal last_price;
  Decimal cumulative_quantity;
  Decimal leaves_quantity;  ///< still working; zero once terminal
  Decimal average_price;
  std::int64_t transact_time_ns = 0;  ///< UTC ns
  ClientOrderId client_order_id;
  BrokerOrderId broker_order_id;
  FixedString<32> broker_reason;  ///< the broker's own code, e.g. INSUFFICIENT_MARGIN
};
static_assert(std::is_trivially_copyable_v<ExecutionReport>);

}  // namespace ordergate
