#pragma once

/// \file
/// The OANDA v20 wire format, without I/O: request bodies for orders and
/// the parsing of replies (orders, cancels, pricing, transactions) into plain
/// structs. Money is read from the decimal text OANDA sends, never through a
/// double. Used by `OandaBroker`; public so it can be tested on its own.
///
/// Not thread-safe: one `OandaCodec` per broker thread (it reuses a JSON
/// parser and its buffers).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ordergate/core/decimal.hpp"
#include "ordergate/core/fixed_string.hpp"
#include "ordergate/core/order.hpp"

namespace ordergate::adapters::oanda {

/// OANDA's name of a canonical instrument: "EUR/USD" -> "EUR_USD".
[[nodiscard]] std::string default_instrument_name(std::string_view canonical);

/// RFC 3339 UTC with nanoseconds, as OANDA writes times:
/// "2024-03-01T12:00:00.000000000Z".
[[nodiscard]] std::string format_time(std::int64_t wall_ns);
/// Parses an RFC 3339 UTC time ("...Z", up to 9 fractional digits) or a
/// UNIX time with a fraction ("1709294400.123456789"). False when malformed.
[[nodiscard]] bool parse_time(std::string_view text, std::int64_t& wall_ns) noexcept;

/// Short code for a broker or reply reason, e.g. "INSUFFICIENT_MARGIN".
using ReasonCode = FixedString<32>;

/// Appends the JSON body of `POST /v3/accounts/{id}/orders` for `order` to
/// `out`, with `client_order_id` as `clientExtensions.id` (the adapter's
/// venue client id, never the strategy's `order.client_order_id`). Returns
/// an empty view on success, or the OANDA-style reason code why the order
/// cannot be expressed (then `out` is left unchanged): TIME_IN_FORCE_INVALID
/// (market orders are FOK or IOC; stops are GTC, GFD or GTD) or
/// ORDER_TYPE_INVALID. `positionFill` is REDUCE_ONLY for an order with
/// `reduce_only` (accepted while REDUCING), else DEFAULT.
[[nodiscard]] std::string_view write_order_body(const Order& order, std::string_view instrument,
                                                std::string_view client_order_id, std::string& out);

/// What a reply to an order or cancel request means for the order.
enum class ReplyKind : std::uint8_t {
  accepted,      ///< 2xx with transactions
  rejected,      ///< 400/404 with a reject reason or error code
  unauthorized,  ///< 401/403: the token is wrong or lacks rights
  rate_limited,  ///< 429
  unknown,       ///< 5xx or an unreadable 2xx: the order's fate is unknown
};

/// A reply to `POST .../orders` (201 or an error).
struct OrderReply {
  ReplyKind kind = ReplyKind::unknown;
  std::uint64_t order_id = 0;  ///< the orderCreateTransaction's id = the broker's order id
  bool filled = false;
  std::uint64_t fill_transaction_id = 0;
  Decimal fill_units;  ///< absolute
  Decimal fill_price;  ///< fullVWAP (or price)
  std::int64_t fill_time_ns = 0;
  std::uint64_t fill_trade_opened = 0;  ///< tradeOpened.tradeID of the fill; 0 if none
  bool canceled = false;
  std::uint64_t cancel_transaction_id = 0;
  std::int64_t cancel_time_ns = 0;
  ReasonCode cancel_reason;  ///< orderCancelTransaction.reason
  ReasonCode reject_reason;  ///< rejectReason, else errorCode, else the status
  std::uint64_t last_transaction_id = 0;
};

/// A reply to `PUT .../orders/{orderSpecifier}/cancel`.
struct CancelReply {
  ReplyKind kind = ReplyKind::unknown;
  std::uint64_t order_id = 0;  ///< accepted: the orderCancelTransaction's orderID (0 when absent)
  ReasonCode reason;  ///< the cancel's reason, or why it was refused (e.g. ORDER_DOESNT_EXIST)
  std::int64_t time_ns = 0;
  std::uint64_t last_transaction_id = 0;
};

/// What a reply to `PUT .../orders/{orderSpecifier}` (an amend) says
/// happened. Anything else, or a reply whose transactions do not agree with
/// each other, is `unknown`: the fate of both orders is looked up.
enum class ReplaceOutcome : std::uint8_t {
  unknown,
  /// 200/201: the original cancelled (CLIENT_REQUEST_REPLACED) and the
  /// replacement created with `replacesOrderID` naming it.
  replaced,
  /// orderCancelRejectTransaction: the original could not be cancelled
  /// (filled, cancelled, does not exist); nothing changed.
  cancel_rejected,
  /// orderCancelTransaction and a create reject: the original is cancelled,
  /// the replacement was never created.
  create_rejected,
  /// A refusal naming no transaction (404 without one, 400 with only an
  /// errorCode or a create reject and no cancel, 401/403, 429): nothing changed.
  refused,
};

/// A reply to `PUT .../orders/{orderSpecifier}` with a replacement order.
struct ReplaceReply {
  ReplaceOutcome outcome = ReplaceOutcome::unknown;
  ReplyKind kind = ReplyKind::unknown;  ///< of the HTTP status (accepted for 200/201)
  std::uint64_t canceled_order_id = 0;  ///< orderCancelTransaction.orderID (the original)
  std::uint64_t cancel_transaction_id = 0;
  std::int64_t cancel_time_ns = 0;
  std::uint64_t order_id = 0;  ///< replaced: the orderCreateTransaction's id = the new order's id
  bool filled = false;  ///< replaced: the replacement filled at once (orderFillTransaction)
  std::uint64_t fill_transaction_id = 0;
  Decimal fill_units;  ///< absolute
  Decimal fill_price;  ///< fullVWAP (or price)
  std::int64_t fill_time_ns = 0;
  std::uint64_t fill_trade_opened = 0;
  /// replaced: OANDA cancelled the replacement at once
  /// (`replacingOrderCancelTransaction` naming the new order: e.g.
  /// INSUFFICIENT_MARGIN, or an IOC/FOK remainder); after its fill, if any.
  bool replacement_canceled = false;
  std::uint64_t replacement_cancel_transaction_id = 0;
  std::int64_t replacement_cancel_time_ns = 0;
  ReasonCode replacement_cancel_reason;
  /// cancel_rejected / create_rejected / refused: rejectReason, else
  /// errorCode, else the status (HTTP_404).
  ReasonCode reject_reason;
  std::uint64_t last_transaction_id = 0;
};

/// One instrument's top of book from the pricing endpoint.
struct PriceUpdate {
  std::string instrument;  ///< OANDA name, e.g. EUR_USD
  Decimal bid;
  Decimal ask;
  bool tradeable = true;
};

/// The transactions the adapter acts on, from `transactions/sinceid`.
struct Transaction {
  enum class Type : std::uint8_t {
    order_create,
    order_reject,
    order_fill,
    order_cancel,
    other,
    /// STOP_LOSS_ORDER, TAKE_PROFIT_ORDER, TRAILING_STOP_LOSS_ORDER or
    /// GUARANTEED_STOP_LOSS_ORDER: an order attached to the trade `trade_id`.
    dependent_order_create,
  };
  Type type = Type::other;
  std::uint64_t id = 0;
  std::uint64_t order_id = 0;  ///< fill/cancel: the order; create: the transaction id itself
  /// Create: replacesOrderID (the order it replaces, 0 if none). Cancel:
  /// replacedByOrderID (the order that replaced it, 0 if none).
  std::uint64_t replace_link = 0;
  ClientOrderId client_order_id;  ///< clientExtensions.id or clientOrderID; empty if none
  Decimal units;  ///< fill: absolute units filled
  Side side = Side::unset;  ///< fill: the sign of its units (buy > 0)
  Decimal price;  ///< fill: fullVWAP (or price)
  ReasonCode reason;  ///< cancel reason, rejectReason, or the fill's reason (e.g. STOP_LOSS_ORDER)
  FixedString<32> instrument;  ///< fill: the instrument (OANDA name)
  /// Fill: tradeOpened.tradeID (0 if none). Dependent order create: tradeID.
  std::uint64_t trade_id = 0;
  /// Fill: the first of tradesClosed / tradeReduced (0 if none).
  std::uint64_t closed_trade_id = 0;
  /// Fill: it opened, reduced or closed a trade (so it moved the position).
  bool moves_position = false;
  /// Fill: `closed_trade_id` was closed (tradesClosed), not only reduced.
  bool closes_trade = false;
  std::int64_t time_ns = 0;
  /// Dependent order create: what kind (STOP_LOSS_ORDER, ...), as `reason`
  /// names the fill of one.
  ReasonCode dependent_type;
};

/// One order of `GET /v3/accounts/{id}/pendingOrders`, as reconciliation
/// maps it.
struct PendingOrder {
  std::uint64_t id = 0;
  std::string instrument;  ///< OANDA name; empty for an attached order
  /// LIMIT or STOP; unset for a type the gateway has no equivalent of
  /// (MARKET_IF_TOUCHED, ...), which reconciliation skips.
  OrderType type = OrderType::unset;
  /// A TAKE_PROFIT, STOP_LOSS, GUARANTEED_STOP_LOSS or TRAILING_STOP_LOSS
  /// order attached to a trade: a trade's protection, not a working order of
  /// the gateway.
  bool attached = false;
  Side side = Side::unset;  ///< the sign of `units`
  Decimal units;            ///< absolute, > 0 for a mapped type
  Decimal price;            ///< LIMIT: the limit price
  Decimal stop_price;       ///< STOP: its trigger (OANDA's `price`)
  TimeInForce time_in_force = TimeInForce::unset;
  std::int64_t gtd_ns = 0;       ///< GTD: gtdTime
  FixedString<48> client_id;     ///< clientExtensions.id (code characters only, see code_of), empty if none
};

/// One instrument's net position from `GET .../openPositions`: long.units +
/// short.units (short units are negative).
struct OpenPosition {
  std::string instrument;
  Decimal net;
};

class OandaCodec {
 public:
  OandaCodec();
  ~OandaCodec();
  OandaCodec(const OandaCodec&) = delete;
  OandaCodec& operator=(const OandaCodec&) = delete;

  [[nodiscard]] OrderReply parse_order_reply(int status, std::string_view body);
  [[nodiscard]] CancelReply parse_cancel_reply(int status, std::string_view body);
  /// The reply to an amend (`PUT .../orders/{orderSpecifier}` with a body).
  [[nodiscard]] ReplaceReply parse_replace_reply(int status, std::string_view body);
  /// Parses `{"prices":[...]}` into `out` (cleared first). False if malformed.
  [[nodiscard]] bool parse_prices(std::string_view body, std::vector<PriceUpdate>& out);
  /// Parses `{"transactions":[...],"lastTransactionID":"N"}`. False if malformed.
  [[nodiscard]] bool parse_transactions(std::string_view body, std::vector<Transaction>& out,
                                        std::uint64_t& last_transaction_id);
  /// Parses `{"orders":[...],"lastTransactionID":"N"}` of pendingOrders into
  /// `out` (cleared first). False when the reply or any order of a mapped
  /// type is malformed (missing or unreadable units, price, time in force).
  [[nodiscard]] bool parse_pending_orders(std::string_view body, std::vector<PendingOrder>& out,
                                          std::uint64_t& last_transaction_id);
  /// Parses `{"positions":[...],"lastTransactionID":"N"}` of openPositions
  /// into `out` (cleared first; positions whose net is zero are left out).
  /// False if malformed.
  [[nodiscard]] bool parse_open_positions(std::string_view body, std::vector<OpenPosition>& out,
                                          std::uint64_t& last_transaction_id);
  /// Reads `lastTransactionID` from any reply (e.g. the account summary).
  [[nodiscard]] bool parse_last_transaction_id(std::string_view body, std::uint64_t& last_transaction_id);
  /// `errorCode` (or `errorMessage` when it is a short code) of an error reply; empty if none.
  [[nodiscard]] ReasonCode error_code(std::string_view body);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ordergate::adapters::oanda
