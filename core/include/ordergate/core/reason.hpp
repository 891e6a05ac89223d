#pragma once

/// \file
/// Stable reason codes for every rejection. Names are part of the public
/// protocol (UPPER_SNAKE_CASE); messages are short, fixed and never contain a
/// secret, a path or exception text.

#include <cstdint>
#include <optional>
#include <string_view>

namespace ordergate {

#define ORDERGATE_REASONS(X)                                                                 \
  X(OK, "accepted")                                                                          \
  X(UNAUTHENTICATED, "session is not authenticated")                                         \
  X(SESSION_EXPIRED, "session has expired; authenticate again")                              \
  X(PERMISSION_DENIED, "principal lacks the required permission")                            \
  X(ACCOUNT_NOT_PERMITTED, "account is not permitted for this principal")                    \
  X(SYMBOL_NOT_PERMITTED, "symbol is not permitted for this principal")                      \
  X(ORDER_TYPE_NOT_PERMITTED, "order type is not permitted for this principal")              \
  X(UNKNOWN_ACCOUNT, "account is not configured")                                            \
  X(INVALID_ACCOUNT, "account name is malformed")                                            \
  X(INVALID_SYMBOL, "symbol is malformed")                                                   \
  X(UNKNOWN_INSTRUMENT, "symbol is not a configured instrument")                             \
  X(INVALID_SIDE, "side must be buy or sell")                                                \
  X(INVALID_ORDER_TYPE, "order type must be market, limit or stop")                          \
  X(INVALID_QUANTITY, "quantity must be positive, a multiple of the lot step and within "    \
                      "the instrument's minimum and maximum")                                \
  X(INVALID_PRICE, "price is missing, not positive, not on the tick grid or not allowed "    \
                   "for this order type")                                                    \
  X(PRICE_PRECISION_EXCEEDED, "price has more decimal places than the instrument allows")    \
  X(QUANTITY_PRECISION_EXCEEDED, "quantity has more decimal places than the lot step "       \
                                 "allows")                                                   \
  X(INVALID_TIME_IN_FORCE, "time in force is not valid for this order type")                 \
  X(INVALID_CLIENT_ORDER_ID, "client order id must be 1-32 characters of [A-Za-z0-9._:-]")   \
  X(INVALID_TEXT, "text must be at most 64 bytes of printable ASCII")                        \
  X(DUPLICATE_CLIENT_ORDER_ID, "client order id is already in use")                          \
  X(MAX_QUANTITY_EXCEEDED, "quantity exceeds the configured maximum")                        \
  X(MAX_NOTIONAL_EXCEEDED, "notional exceeds the configured maximum")                        \
  X(PRICE_OUT_OF_BAND, "price is too far from the reference price")                          \
  X(NO_REFERENCE_PRICE, "no fresh reference price for this instrument")                      \
  X(MAX_OPEN_ORDERS, "too many open orders")                                                 \
  X(MAX_POSITION_EXCEEDED, "order would exceed the maximum position")                        \
  X(TRADING_HALTED, "trading is halted")                                                     \
  X(REDUCE_ONLY, "only orders that reduce the position are accepted")                        \
  X(RATE_LIMITED, "rate limit exceeded; retry later")                                        \
  X(UNKNOWN_ORDER, "no open order with this client order id")                                \
  X(ORDER_CAPACITY_EXHAUSTED, "the gateway's order capacity is exhausted")                   \
  X(BROKER_REJECTED, "the broker rejected the order")                                        \
  X(BROKER_UNAVAILABLE, "the broker is unavailable")                                         \
  X(BROKER_RATE_LIMITED, "the broker's rate limit was reached; retry later")                 \
  X(AUDIT_UNAVAILABLE, "the audit journal cannot be written; new orders are refused")          \
  X(SESSION_QUEUE_FULL, "this session has too many orders waiting for the broker; retry later") \
  X(ACCOUNT_NOT_READY, "the account is not reconciled with its broker yet; retry shortly")   \
  X(DAILY_ORDER_LIMIT, "this principal's orders for the trading day are used up")              \
  X(DAILY_CANCEL_LIMIT, "this principal's cancels for the trading day are used up")          \
  X(MAX_GROSS_NOTIONAL_EXCEEDED, "the account's gross notional would exceed its limit")     \
  X(MAX_NET_NOTIONAL_EXCEEDED, "the account's net notional would exceed its limit")         \
  X(DAILY_LOSS_LIMIT, "the account's loss for the trading day reached its limit; only orders that reduce the position are accepted")                 \
  X(ORDER_PENDING, "the order has a cancel or an amend on its way; wait for its report")       \
  X(REPLACE_NOT_SUPPORTED, "this account's broker cannot amend orders; cancel and submit instead") \
  X(INVALID_REPLACE, "an amend changes the quantity, price or stop price of a limit or stop order " \
                     "and keeps the quantity above its fills")

enum class Reason : std::uint8_t {
#define ORDERGATE_REASON_ENUM(name, message) name,
  ORDERGATE_REASONS(ORDERGATE_REASON_ENUM)
#undef ORDERGATE_REASON_ENUM
};

/// Number of reason codes, including OK.
inline constexpr std::size_t kReasonCount = 0
// NOLINTNEXTLINE(bugprone-macro-parentheses): X-macro expanding to `+1` terms of a sum; `0 (+1)` would be a call.
#define ORDERGATE_REASON_COUNT(name, message) +1
    ORDERGATE_REASONS(ORDERGATE_REASON_COUNT)
#undef ORDERGATE_REASON_COUNT
    ;

/// Stable code name, e.g. "RATE_LIMITED".
[[nodiscard]] std::string_view reason_name(Reason reason) noexcept;
/// Short message safe to show to any client.
[[nodiscard]] std::string_view reason_message(Reason reason) noexcept;
/// Inverse of `reason_name`.
[[nodiscard]] std::optional<Reason> reason_from_name(std::string_view name) noexcept;

}  // namespace ordergate
