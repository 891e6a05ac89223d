#pragma once

/// \file
/// Orders as strategies send them (`OrderRequest`) and as the gateway hands
/// them to a broker after every guard passed (`Order`).

#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

#include "ordergate/core/decimal.hpp"
#include "ordergate/core/fixed_string.hpp"

namespace ordergate {

using AccountId = std::uint16_t;
using InstrumentId = std::uint16_t;
using PrincipalId = std::uint16_t;
using SessionId = std::uint32_t;
/// Index of an order in the gateway's order table; unique for its lifetime.
using OrderId = std::uint32_t;

inline constexpr std::size_t kMaxAccounts = 256;
inline constexpr std::size_t kMaxInstruments = 1024;
inline constexpr std::size_t kMaxPrincipals = 256;
inline constexpr std::size_t kMaxClientOrderIdLength = 32;
inline constexpr std::size_t kMaxTextLength = 64;

using ClientOrderId = FixedString<kMaxClientOrderIdLength>;
using OrderText = FixedString<kMaxTextLength>;
using BrokerOrderId = FixedString<48>;

/// Zero is deliberately "unset": a default-constructed request is invalid.
enum class Side : std::uint8_t { unset = 0, buy = 1, sell = 2 };
enum class OrderType : std::uint8_t { unset = 0, market = 1, limit = 2, stop = 3 };
enum class TimeInForce : std::uint8_t { unset = 0, gtc = 1, ioc = 2, fok = 3, day = 4, gtd = 5 };

[[nodiscard]] std::string_view to_string(Side side) noexcept;
[[nodiscard]] std::string_view to_string(OrderType type) noexcept;
[[nodiscard]] std::string_view to_string(TimeInForce tif) noexcept;
/// Parse the lower-case protocol spellings ("buy", "limit", "gtc"); case-insensitive.
[[nodiscard]] Side parse_side(std::string_view text) noexcept;
[[nodiscard]] OrderType parse_order_type(std::string_view text) noexcept;
[[nodiscard]] TimeInForce parse_time_in_force(std::string_view text) noexcept;

/// +1 for buy, -1 for sell, 0 for an invalid side.
[[nodiscard]] constexpr int side_sign(Side side) noexcept {
  return side == Side::buy ? 1 : side == Side::sell ? -1 : 0;
}

/// An order as a strategy sends it. The string views only need to live for
/// the duration of the `submit()` call; the gateway copies what it keeps.
struct OrderRequest {
  std::string_view account;
  std::string_view symbol;  ///< any common spelling: EURUSD, EUR/USD, EUR_USD, eurusd, EURUSD=X
  Side side = Side::unset;
  OrderType type = OrderType::unset;
  TimeInForce time_in_force = TimeInForce::unset;
  Decimal quantity;                   ///< in base units (e.g. 10000 EUR)
  std::optional<Decimal> price;       ///< limit price; required for limit, absent otherwise
  std::optional<Decimal> stop_price;  ///< trigger price; required for stop, absent otherwise
  std::optional<Decimal> stop_loss;   ///< optional protective stop attached on fill
  std::optional<Decimal> take_profit; ///< optional take-profit attached on fill
  std::int64_t expire_time_ns = 0;    ///< UTC ns since the epoch; GTD only
  std::string_view client_order_id;
  std::string_view text;  ///< optional free-text tag
};

/// An order that passed every guard, in the form brokers consume.
/// Trivially copyable so it crosses lock-free queues by value.
struct Order {
  OrderId order_id = 0;
  SessionId session_id = 0;
  PrincipalId principal_id = 0;
  AccountId account_id = 0;
  InstrumentId instrument_id = 0;
  Side side = Side::unset;
  OrderType type = OrderType::unset;
  TimeInForce time_in_force = TimeInForce::unset;
  /// Accepted while its account or principal was REDUCING: the adapter asks
  /// the venue for its reduce-only form where it has one (OANDA
  /// `positionFill: REDUCE_ONLY`). Set by the guard pipeline; sits in what
  /// was padding, so `Order` keeps its size.
  bool reduce_only = false;
  Decimal quantity;
  Decimal price;        ///< zero when absent
  Decimal stop_price;   ///< zero when absent
  Decimal stop_loss;    ///< zero when absent
  Decimal take_profit;  ///< zero when absent
  std::int64_t expire_time_ns = 0;
  std::int64_t accepted_ns = 0;  ///< monotonic time the verdict was given
  ClientOrderId client_order_id;
  OrderText text;
};
static_assert(std::is_trivially_copyable_v<Order>);
static_assert(sizeof(Order) == 184, "Order crosses the broker queues by value: keep it small");

/// An amend of a working order as a strategy sends it (cancel/replace):
/// the order `client_order_id` names is replaced by one with the new id and
/// the given fields; at least one of them is set. Side, symbol, account,
/// type and time in force stay. `quantity` is the new total quantity,
/// filled part included (FIX OrderQty).
struct ReplaceRequest {
  std::string_view client_order_id;      ///< the working order
  std::string_view new_client_order_id;  ///< the id it is known by once replaced
  std::optional<Decimal> quantity;
  std::optional<Decimal> price;
  std::optional<Decimal> stop_price;
};

/// An amend that passed every guard, addressed to the broker: `order` is the
/// order as it will be once replaced (its own gateway order id and the new
/// client order id); `original_*` name the working order it replaces.
struct ReplaceOrder {
  Order order;
  OrderId original_order_id = 0;
  ClientOrderId original_client_order_id;
  Decimal original_quantity;  ///< the working order's total quantity
};
static_assert(std::is_trivially_copyable_v<ReplaceOrder>);

/// A request to cancel a working order, addressed to the broker.
struct CancelOrder {
  OrderId order_id = 0;
  SessionId session_id = 0;
  AccountId account_id = 0;
  InstrumentId instrument_id = 0;
  ClientOrderId client_order_id;
};
static_assert(std::is_trivially_copyable_v<CancelOrder>);

}  // namespace ordergate
