#pragma once

/// \file
/// The Binance spot REST wire format, without I/O: form parameters for
/// orders, HMAC-SHA256 request signatures, and the parsing of order replies
/// (ACK / RESULT / FULL, queries, cancels), `{code,msg}` errors and book
/// tickers into plain structs. Money is read from decimal text only. Used by
/// `BinanceBroker`; public so it can be tested on its own.
///
/// Not thread-safe: one `BinanceCodec` per broker thread.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ordergate/core/decimal.hpp"
#include "ordergate/core/fixed_string.hpp"
#include "ordergate/core/order.hpp"

namespace ordergate::adapters::binance {

/// Binance's symbol of a canonical instrument: "BTC/USDT" -> "BTCUSDT".
[[nodiscard]] std::string default_symbol(std::string_view canonical);

/// Lower-case hex HMAC-SHA256 of `payload` under `secret` (OpenSSL), as
/// Binance's `signature` parameter.
[[nodiscard]] std::string sign(std::string_view secret, std::string_view payload);

/// Appends the form parameters of `POST /api/v3/order` for `order`, with
/// `client_order_id` as `newClientOrderId` (the adapter's venue client id,
/// never the strategy's `order.client_order_id`), without `recvWindow`,
/// `timestamp` and `signature` (added right before sending).
/// Returns an empty view on success, or a reason code (then `out` is left
/// unchanged): TIME_IN_FORCE_NOT_SUPPORTED (Binance spot has no DAY/GTD),
/// PROTECTION_NOT_SUPPORTED (stop-loss / take-profit on fill need OCO
/// orders, which this adapter does not send; the order is refused rather
/// than sent without its protection) or ORDER_TYPE_INVALID.
[[nodiscard]] std::string_view write_order_params(const Order& order, std::string_view symbol,
                                                  std::string_view client_order_id, std::string& out);

/// Appends `recvWindow` and `timestamp`, then signs everything in `params`
/// and appends `&signature=<hex>`.
void append_signature(std::string& params, std::int64_t recv_window_ms, std::int64_t timestamp_ms,
                      std::string_view secret);

/// Appends `name=value` (with '&' when `out` is not empty), percent-encoding
/// the value.
void append_param(std::string& out, std::string_view name, std::string_view value);

enum class OrderStatus : std::uint8_t {
  unknown = 0,  ///< absent (an ACK reply) or not recognised
  new_order,
  partially_filled,
  filled,
  canceled,
  pending_cancel,
  rejected,
  expired,  ///< EXPIRED and EXPIRED_IN_MATCH (self-trade prevention)
};

[[nodiscard]] OrderStatus parse_order_status(std::string_view text) noexcept;

/// What a reply means for the request that got it.
enum class ReplyKind : std::uint8_t {
  ok,            ///< 2xx with an order
  rejected,      ///< 4xx with a code: the broker refused it (e.g. -2010, -1013)
  not_found,     ///< -2013 / -2011 unknown order (a query or cancel)
  unauthorized,  ///< 401, -2014, -2015, -1022: key, secret or permissions
  clock_skew,    ///< -1021: timestamp outside recvWindow
  rate_limited,  ///< 429
  banned,        ///< 418
  unknown,       ///< 5xx, -1007, -1006 or unreadable: the order's fate is unknown
};

/// An order as Binance reports it.
struct OrderState {
  std::uint64_t order_id = 0;
  FixedString<36> client_order_id;  ///< the order's (a cancel reply's origClientOrderId); empty if none
  OrderStatus status = OrderStatus::unknown;
  Decimal executed_quantity;  ///< cumulative
  Decimal cumulative_quote;   ///< cumulative price * quantity
  std::int64_t time_ms = 0;   ///< transactTime or updateTime
};

struct OrderReply {
  ReplyKind kind = ReplyKind::unknown;
  int code = 0;  ///< Binance's error code (negative), 0 when none
  OrderState order;
};

/// What `POST /api/v3/order/cancelReplace` (STOP_ON_FAILURE) did.
enum class ReplaceOutcome : std::uint8_t {
  replaced,       ///< 200: cancelResult SUCCESS, newOrderResult SUCCESS
  cancel_failed,  ///< -2022: cancel FAILURE, new NOT_ATTEMPTED (the original is untouched)
  new_failed,     ///< -2021: cancel SUCCESS, new FAILURE (the original is cancelled, nothing replaces it)
  both_failed,    ///< -2022: cancel FAILURE, new FAILURE
  refused,        ///< a plain `{code,msg}` error: nothing was done (`kind` says which)
  unknown,        ///< 5xx, -1006/-1007, unreadable or inconsistent: what happened is not known
};

struct CancelReplaceReply {
  ReplaceOutcome outcome = ReplaceOutcome::unknown;
  ReplyKind kind = ReplyKind::unknown;  ///< of a `refused` reply (rejected, not_found, unauthorized, ...)
  int code = 0;                         ///< the top-level code (-2021, -2022, or a refusal's), 0 when none
  int cancel_code = 0;                  ///< `cancelResponse.code` when the cancel failed
  int new_code = 0;                     ///< `newOrderResponse.code` when the new order failed
  OrderState canceled;                  ///< `cancelResponse` when the cancel succeeded (the original)
  OrderState placed;                    ///< `newOrderResponse` when the new order was placed
};

struct BookTicker {
  std::string symbol;
  Decimal bid;
  Decimal ask;
};

/// One order of `GET /api/v3/openOrders`, as reconciliation maps it.
struct OpenOrder {
  std::string symbol;
  std::uint64_t order_id = 0;
  FixedString<36> client_order_id;
  /// LIMIT (and LIMIT_MAKER, as a GTC limit) or STOP_LOSS (a stop); unset
  /// for a type the gateway has no equivalent of (STOP_LOSS_LIMIT,
  /// TAKE_PROFIT, TAKE_PROFIT_LIMIT, ...), which reconciliation skips.
  OrderType type = OrderType::unset;
  Side side = Side::unset;
  TimeInForce time_in_force = TimeInForce::unset;
  Decimal price;       ///< LIMIT
  Decimal stop_price;  ///< STOP_LOSS
  Decimal orig_quantity;
  Decimal executed_quantity;  ///< cumulative, <= orig_quantity
  Decimal cumulative_quote;
};

/// One asset of `GET /api/v3/account`'s `balances`.
struct AssetBalance {
  std::string asset;
  Decimal free;
  Decimal locked;
};

class BinanceCodec {
 public:
  BinanceCodec();
  ~BinanceCodec();
  BinanceCodec(const BinanceCodec&) = delete;
  BinanceCodec& operator=(const BinanceCodec&) = delete;

  /// Any reply that carries an order (new order, query, cancel) or an error.
  [[nodiscard]] OrderReply parse_order_reply(int status, std::string_view body);
  /// The reply to `POST /api/v3/order/cancelReplace`. An outcome is only
  /// taken when the reply is consistent: a succeeded cancel or new order
  /// must carry an order with its `orderId`, a failed one an error `code`;
  /// anything else is `unknown` (the caller looks the orders up).
  [[nodiscard]] CancelReplaceReply parse_cancel_replace_reply(int status, std::string_view body);
  /// One ticker object or an array of them. False if malformed.
  [[nodiscard]] bool parse_book_tickers(std::string_view body, std::vector<BookTicker>& out);
  /// The array of `GET /api/v3/openOrders` into `out` (cleared first).
  /// False when the reply, or an order of a mapped type, is malformed
  /// (missing ids or quantities, executed beyond the original quantity,
  /// negative amounts).
  [[nodiscard]] bool parse_open_orders(std::string_view body, std::vector<OpenOrder>& out);
  /// `balances` of `GET /api/v3/account` into `out` (cleared first). False
  /// if malformed or negative.
  [[nodiscard]] bool parse_balances(std::string_view body, std::vector<AssetBalance>& out);
  /// `serverTime` of `GET /api/v3/time`.
  [[nodiscard]] bool parse_server_time(std::string_view body, std::int64_t& server_time_ms);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// "-2010" etc.: Binance's code as text, for `broker_reason`.
[[nodiscard]] FixedString<32> code_text(int code);

}  // namespace ordergate::adapters::binance
