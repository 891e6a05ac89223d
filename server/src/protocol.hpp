#pragma once

// Internal: the socket protocol's request decoding and reply encoding
// (docs/protocol.md). Not installed.

#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ordergate/core/decimal.hpp"
#include "ordergate/core/execution.hpp"
#include "ordergate/core/order.hpp"
#include "ordergate/core/reason.hpp"
#include "ordergate/gateway/gateway.hpp"
#include "ordergate/guards/trading_state.hpp"

namespace ordergate::protocol {

enum class Op : std::uint8_t {
  hello, submit, cancel, cancel_all, orders, positions, ping, bye,
  halt, reduce, resume, disable_principal, enable_principal, revoke_sessions, reload, subscribe, replace,
};

/// Drop-copy streams (`subscribe`), as bits of `Request::streams`.
enum Stream : std::uint8_t {
  kStreamExecutions = 1u << 0, kStreamRejections = 1u << 1, kStreamTradingState = 1u << 2,
};
/// "executions", "rejections", "trading_state".
[[nodiscard]] std::string_view stream_name(Stream stream) noexcept;

/// Field names a request may carry; each op allows a subset.
enum Field : std::uint32_t {
  kOp = 1u << 0, kId = 1u << 1, kToken = 1u << 2, kAccount = 1u << 3, kSymbol = 1u << 4,
  kSide = 1u << 5, kType = 1u << 6, kQty = 1u << 7, kPrice = 1u << 8, kStopPrice = 1u << 9,
  kTif = 1u << 10, kClOrdId = 1u << 11, kTag = 1u << 12, kStopLoss = 1u << 13,
  kTakeProfit = 1u << 14, kExpireTime = 1u << 15, kScope = 1u << 16, kPrincipal = 1u << 17,
  kCancelOrders = 1u << 18, kStreams = 1u << 19, kNewClOrdId = 1u << 20,
};

/// A decoded request. String views point into the decoder's buffers and are
/// valid until the next `decode`.
struct Request {
  Op op = Op::ping;
  std::uint32_t fields = 0;      // which fields were present
  std::string_view id_json;      // raw JSON of "id" (string or integer), echoed back
  std::string_view token;
  std::string_view account;
  std::string_view symbol;
  std::string_view side;
  std::string_view type;
  std::string_view tif;
  std::string_view cl_ord_id;
  std::string_view new_cl_ord_id;
  std::string_view tag;
  std::string_view scope;
  std::string_view principal;
  Decimal qty;
  std::optional<Decimal> price, stop_price, stop_loss, take_profit;
  std::int64_t expire_time_ns = 0;
  bool cancel_orders = false;
  std::uint8_t streams = 0;  // Stream bits
};

/// Stable error codes of `{"type":"error"}` replies.
enum class ErrorCode : std::uint8_t {
  none, invalid_json, invalid_utf8, line_too_long, unknown_op, missing_field, invalid_field,
  unknown_field, too_many_errors, peer_not_allowed, too_many_connections, not_permitted_now,
  too_many_sessions,
};
[[nodiscard]] std::string_view error_name(ErrorCode code) noexcept;

struct DecodeError {
  ErrorCode code = ErrorCode::none;
  /// Set when the request is well formed but a decimal has more than 9
  /// decimal places (zeros too): answered as a rejection with this reason.
  Reason reject_reason = Reason::OK;
  std::string message;  // built from fixed text and field names only; never echoes values
};

/// Decodes one line (without the newline). Reuses its buffers; one decoder
/// per thread.
class Decoder {
 public:
  explicit Decoder(std::size_t max_line_bytes);
  /// Returns true and fills `request`, or false and fills `error`. A bad
  /// member does not stop the reading: the id and cl_ord_id are set even on
  /// error, wherever they stand in the object, so the reply can echo them
  /// (not when the document's structure is broken: then reading stops). The
  /// first bad member is reported.
  bool decode(std::string_view line, Request& request, DecodeError& error);

 private:
  bool decode_member(simdjson::simdjson_result<simdjson::ondemand::field> field, Request& request,
                     std::string_view& op_name, DecodeError& error);
  // The document itself is broken: the members after it cannot be read.
  bool malformed(DecodeError& error, std::string message);
  bool malformed_ = false;

  std::size_t max_line_bytes_;
  std::unique_ptr<char[]> scratch_;
  simdjson::ondemand::parser parser_;
};

/// Appends JSON to a string. Only what the protocol needs.
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}
  JsonWriter& begin() { out_ += '{'; first_ = true; return *this; }
  JsonWriter& end() { out_ += "}\n"; return *this; }
  JsonWriter& key(std::string_view name);
  JsonWriter& string(std::string_view name, std::string_view value);
  JsonWriter& raw(std::string_view name, std::string_view json);
  JsonWriter& integer(std::string_view name, std::int64_t value);
  JsonWriter& decimal(std::string_view name, Decimal value);
  JsonWriter& boolean(std::string_view name, bool value);
  /// Starts `"name":[` ; elements are written with `element_begin`/`element_end`.
  JsonWriter& array_begin(std::string_view name);
  JsonWriter& array_end() { out_ += ']'; first_ = false; return *this; }
  JsonWriter& element_begin() { if (!first_) out_ += ','; out_ += '{'; first_ = true; return *this; }
  JsonWriter& element_end() { out_ += '}'; first_ = false; return *this; }

 private:
  void separator() { if (!first_) out_ += ','; first_ = false; }
  void escaped(std::string_view text);
  // Writes `,"name":` (no comma for the first member) at `at`; returns the end.
  char* key_into(char* at, std::string_view name) noexcept;
  std::string& out_;
  bool first_ = true;
};

// ---- request to domain --------------------------------------------------------

/// The order a `submit` request asks for. Views point into `request`.
[[nodiscard]] OrderRequest to_order_request(const Request& request) noexcept;

/// The amend a `replace` request asks for. Views point into `request`.
[[nodiscard]] ReplaceRequest to_replace_request(const Request& request) noexcept;

/// `global`, `account:<name>` or `principal:<name>`; nullopt otherwise. The
/// name views point into `scope`.
[[nodiscard]] std::optional<TradingScope> to_trading_scope(std::string_view scope) noexcept;

/// The trading state `halt`, `reduce` and `resume` set (active for any other op).
[[nodiscard]] guards::TradingState to_trading_state(Op op) noexcept;

/// The op's name on the wire ("submit", "cancel_all", ...).
[[nodiscard]] std::string_view op_name(Op op) noexcept;

// ---- replies shared by every op -------------------------------------------------

/// `{"type":"rejected","id":...,"cl_ord_id":...,"reason":...,"message":...}`;
/// `retry_after_ms` when `retry_after_ns` > 0. The cl_ord_id is echoed only
/// when it is a valid client order id (a bad one is never written back).
void write_rejected(std::string& out, const Request& request, Reason reason, std::int64_t retry_after_ns);

/// `{"type":"error","id":...,"code":...,"message":...}`. `message` must be
/// built from fixed text and field names only.
void write_error(std::string& out, std::string_view id_json, std::string_view code, std::string_view message);
inline void write_error(std::string& out, std::string_view id_json, ErrorCode code, std::string_view message) {
  write_error(out, id_json, error_name(code), message);
}

/// `{"type":<type>,"id":...}` (pong, bye).
void write_simple(std::string& out, const Request& request, std::string_view type);

/// `{"type":"exec",...}`: one execution report, or `{"type":"position_fill",...}`
/// for a report of kind position_fill; `account` and `symbol` are the names
/// of the report's ids.
void write_execution(std::string& out, const ExecutionReport& report, std::string_view account, std::string_view symbol);

/// What a drop-copy event line starts with: `{"type":"event","stream":...,"seq":N`.
struct EventHeader {
  Stream stream = kStreamExecutions;
  std::uint64_t seq = 0;
};
/// The same report as a drop-copy event of the executions stream:
/// `{"type":"event","stream":"executions","seq":N,"event":"exec"|"position_fill","principal":...,<the fields>}`.
/// `account` is empty for a fill no account could be given.
void write_execution_event(std::string& out, const EventHeader& header, const ExecutionReport& report,
                           std::string_view principal, std::string_view account, std::string_view symbol);
/// `{"type":"event","stream":<header.stream>,"seq":N,` then the caller's
/// fields, closed with `JsonWriter::end()`.
JsonWriter begin_event(std::string& out, const EventHeader& header);
/// `{"type":"notice","code":<code>,"message":<message>}`: sent to a
/// subscriber whose subscription ended.
void write_notice(std::string& out, std::string_view code, std::string_view message);

}  // namespace ordergate::protocol
