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
  /// An amend is on its way to the broker: `client_order_id` is the id the
  /// order will have, `other_client_order_id` the one it has.
  pending_replace,
  /// The broker replaced the order: from now on it is known by
  /// `client_order_id` (and its order id); `other_client_order_id` is the
  /// id it had. Leaves and cumulative quantities are those of the amended order.
  replaced,
  /// The broker (or the gateway at dispatch) refused an amend: the order
  /// works on unchanged under `client_order_id`; `other_client_order_id` is
  /// the id the amend asked for.
  replace_rejected,
};

[[nodiscard]] std::string_view to_string(ExecStatus status) noexcept;  ///< "NEW", "FILLED", ...
[[nodiscard]] constexpr bool is_terminal(ExecStatus status) noexcept {
  return status == ExecStatus::filled || status == ExecStatus::canceled ||
         status == ExecStatus::rejected || status == ExecStatus::expired;
}

/// What an `ExecutionReport` describes.
enum class ReportKind : std::uint8_t {
  order = 0,          ///< an event of the gateway order `order_id`
  position_fill = 1,  ///< a fill on the account that belongs to no gateway order (see `FillSource`)
};

/// Where a position fill came from.
enum class FillSource : std::uint8_t {
  none = 0,       ///< not a position fill
  stop_loss,      ///< a stop loss attached to the gateway order `order_id` triggered
  take_profit,    ///< its take profit triggered
  trailing_stop,  ///< its trailing stop loss triggered
  account,        ///< any other fill on the account (placed outside the gateway, a closeout...)
};

[[nodiscard]] std::string_view to_string(FillSource source) noexcept;  ///< "STOP_LOSS", ..., "ACCOUNT"

/// `ExecutionReport::order_id` of a position fill that no gateway order caused.
inline constexpr OrderId kNoOrderId = 0xFFFFFFFFu;
/// `ExecutionReport::account_id` of a position fill whose adapter does not
/// know the gateway account: the engine attributes it by broker.
inline constexpr AccountId kNoAccountId = 0xFFFFu;

/// An order's execution event, or (kind == position_fill) a fill on the
/// account that belongs to no gateway order: a protective order attached to
/// the order `order_id` triggering, or any fill the gateway did not place
/// (`order_id` = kNoOrderId). A position fill carries the venue's signed
/// change as `side` + `last_quantity` at `last_price`, the triggering venue
/// order in `broker_order_id` and the parent's identity in `session_id` /
/// `client_order_id`; its status is FILLED and it changes no order.
struct ExecutionReport {
  OrderId order_id = 0;
  SessionId session_id = 0;
  AccountId account_id = 0;
  InstrumentId instrument_id = 0;
  Side side = Side::unset;
  ExecStatus status = ExecStatus::new_order;
  Reason reason = Reason::OK;  ///< why, for rejected / canceled by the broker or gateway
  ReportKind kind = ReportKind::order;
  Decimal last_quantity;       ///< filled by this event
  Decimal last_price;
  Decimal cumulative_quantity;
  Decimal leaves_quantity;  ///< still working; zero once terminal
  Decimal average_price;
  std::int64_t transact_time_ns = 0;  ///< UTC ns
  ClientOrderId client_order_id;
  BrokerOrderId broker_order_id;
  FixedString<32> broker_reason;  ///< the broker's own code, e.g. INSUFFICIENT_MARGIN
  FillSource source = FillSource::none;  ///< position fills only
  /// Amends only (see ExecStatus::pending_replace, replaced, replace_rejected).
  ClientOrderId other_client_order_id;
};
static_assert(std::is_trivially_copyable_v<ExecutionReport>);
static_assert(sizeof(ExecutionReport) == 216, "the amend's second client order id added 32 bytes");

}  // namespace ordergate
