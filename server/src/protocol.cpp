#include "protocol.hpp"

#include <array>
#include <charconv>
#include <cstring>

#include "ordergate/guards/validate.hpp"

namespace ordergate::protocol {
namespace {

using simdjson::ondemand::json_type;

struct OpSpec {
  std::string_view name;
  Op op;
  std::uint32_t required;
  std::uint32_t allowed;
};

constexpr std::uint32_t kCommon = kOp | kId;
constexpr std::uint32_t kSubmitFields = kAccount | kSymbol | kSide | kType | kQty | kPrice | kStopPrice | kTif |
                                        kClOrdId | kTag | kStopLoss | kTakeProfit | kExpireTime;

constexpr std::array<OpSpec, 17> kOps = {{
    {"hello", Op::hello, kToken, kCommon | kToken},
    {"submit", Op::submit, kAccount | kSymbol | kSide | kType | kQty | kTif | kClOrdId, kCommon | kSubmitFields},
    {"cancel", Op::cancel, kClOrdId, kCommon | kClOrdId},
    {"cancel_all", Op::cancel_all, 0, kCommon | kAccount | kSymbol},
    {"orders", Op::orders, 0, kCommon},
    {"positions", Op::positions, 0, kCommon},
    {"ping", Op::ping, 0, kCommon},
    {"bye", Op::bye, 0, kCommon},
    {"halt", Op::halt, kScope, kCommon | kScope | kCancelOrders},
    {"reduce", Op::reduce, kScope, kCommon | kScope | kCancelOrders},
    {"resume", Op::resume, kScope, kCommon | kScope},
    {"disable_principal", Op::disable_principal, kPrincipal, kCommon | kPrincipal},
    {"enable_principal", Op::enable_principal, kPrincipal, kCommon | kPrincipal},
    {"revoke_sessions", Op::revoke_sessions, kPrincipal, kCommon | kPrincipal},
    {"reload", Op::reload, 0, kCommon},
    {"subscribe", Op::subscribe, kStreams, kCommon | kStreams},
    {"replace", Op::replace, kClOrdId | kNewClOrdId, kCommon | kClOrdId | kNewClOrdId | kQty | kPrice | kStopPrice},
}};

struct FieldSpec {
  std::string_view name;
  Field field;
};

constexpr std::array<FieldSpec, 21> kFields = {{
    {"op", kOp}, {"id", kId}, {"token", kToken}, {"account", kAccount}, {"symbol", kSymbol},
    {"side", kSide}, {"type", kType}, {"qty", kQty}, {"price", kPrice}, {"stop_price", kStopPrice},
    {"tif", kTif}, {"cl_ord_id", kClOrdId}, {"tag", kTag}, {"stop_loss", kStopLoss},
    {"take_profit", kTakeProfit}, {"expire_time_ns", kExpireTime}, {"scope", kScope},
    {"principal", kPrincipal}, {"cancel_orders", kCancelOrders}, {"streams", kStreams},
    {"new_cl_ord_id", kNewClOrdId},
}};

constexpr std::array<Stream, 3> kStreamList = {kStreamExecutions, kStreamRejections, kStreamTradingState};

// A field by name: the length first, so most entries cost one compare.
const FieldSpec* find_field(std::string_view name) noexcept {
  for (const FieldSpec& spec : kFields) {
    if (spec.name.size() == name.size() && spec.name == name) return &spec;
  }
  return nullptr;
}

const OpSpec* find_op(std::string_view name) noexcept {
  for (const OpSpec& spec : kOps) {
    if (spec.name.size() == name.size() && spec.name == name) return &spec;
  }
  return nullptr;
}

std::string_view field_name(std::uint32_t field) noexcept {
  for (const FieldSpec& spec : kFields) {
    if (spec.field == field) return spec.name;
  }
  return "?";
}

bool fail(DecodeError& error, ErrorCode code, std::string message) {
  error.code = code;
  error.message = std::move(message);
  return false;
}

// RFC 8259: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool is_json_number(std::string_view text) noexcept {
  std::size_t pos = 0;
  auto digits = [&] {
    const std::size_t begin = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    return pos > begin;
  };
  if (pos < text.size() && text[pos] == '-') ++pos;
  if (pos < text.size() && text[pos] == '0') {
    ++pos;
  } else if (!digits()) {
    return false;
  }
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    if (!digits()) return false;
  }
  if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
    ++pos;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) ++pos;
    if (!digits()) return false;
  }
  return pos == text.size();
}

constexpr std::size_t kMaxStringField = 256;
constexpr std::size_t kMaxIdLength = 64;

}  // namespace

std::string_view error_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::none: return "NONE";
    case ErrorCode::invalid_json: return "INVALID_JSON";
    case ErrorCode::invalid_utf8: return "INVALID_UTF8";
    case ErrorCode::line_too_long: return "LINE_TOO_LONG";
    case ErrorCode::unknown_op: return "UNKNOWN_OP";
    case ErrorCode::missing_field: return "MISSING_FIELD";
    case ErrorCode::invalid_field: return "INVALID_FIELD";
    case ErrorCode::unknown_field: return "UNKNOWN_FIELD";
    case ErrorCode::too_many_errors: return "TOO_MANY_ERRORS";
    case ErrorCode::peer_not_allowed: return "PEER_NOT_ALLOWED";
    case ErrorCode::too_many_connections: return "TOO_MANY_CONNECTIONS";
    case ErrorCode::not_permitted_now: return "NOT_PERMITTED_NOW";
    case ErrorCode::too_many_sessions: return "TOO_MANY_SESSIONS";
  }
  return "UNKNOWN";
}

Decoder::Decoder(std::size_t max_line_bytes)
    : max_line_bytes_(max_line_bytes),
      scratch_(std::make_unique<char[]>(max_line_bytes + simdjson::SIMDJSON_PADDING)),
      parser_(max_line_bytes + simdjson::SIMDJSON_PADDING) {}

bool Decoder::decode(std::string_view line, Request& request, DecodeError& error) {
  request = Request{};
  error = DecodeError{};
  if (line.size() > max_line_bytes_) {
    return fail(error, ErrorCode::line_too_long, "line longer than " + std::to_string(max_line_bytes_) + " bytes");
  }
  if (!simdjson::validate_utf8(line.data(), line.size())) {
    return fail(error, ErrorCode::invalid_utf8, "line is not valid UTF-8");
  }
  std::memcpy(scratch_.get(), line.data(), line.size());
  std::memset(scratch_.get() + line.size(), 0, simdjson::SIMDJSON_PADDING);

  simdjson::ondemand::document doc;
  if (parser_.iterate(scratch_.get(), line.size(), line.size() + simdjson::SIMDJSON_PADDING).get(doc)) {
    return fail(error, ErrorCode::invalid_json, "not a JSON document");
  }
  simdjson::ondemand::object object;
  if (doc.get_object().get(object)) return fail(error, ErrorCode::invalid_json, "expected one JSON object per line");

  // Members have no order: a bad value does not stop the reading, so the
  // id and cl_ord_id after it still reach the reply. The first bad member
  // is the one reported; a document that is not JSON stops at once.
  std::string_view op_name;
  for (auto field_result : object) {
    DecodeError field_error;
    malformed_ = false;
    if (!decode_member(std::move(field_result), request, op_name, field_error)) {
      if (malformed_) {
        error = std::move(field_error);
        return false;
      }
      if (error.code == ErrorCode::none) error = std::move(field_error);
    }
  }
  // Anything left after the object's closing brace is a second document.
  const char* rest = nullptr;
  if (doc.current_location().get(rest) == simdjson::SUCCESS) {
    return fail(error, ErrorCode::invalid_json, "trailing content after the object");
  }
  if (error.code != ErrorCode::none) return false;
  if (!(request.fields & kOp)) return fail(error, ErrorCode::missing_field, "field 'op' is required");

  const OpSpec* op = find_op(op_name);
  if (op == nullptr) return fail(error, ErrorCode::unknown_op, "unknown op");
  request.op = op->op;
  const std::uint32_t missing = op->required & ~request.fields;
  if (missing != 0) {
    return fail(error, ErrorCode::missing_field,
                "field '" + std::string(field_name(missing & (~missing + 1))) + "' is required for op '" +
                    std::string(op->name) + "'");
  }
  const std::uint32_t extra = request.fields & ~op->allowed;
  if (extra != 0) {
    return fail(error, ErrorCode::unknown_field,
                "field '" + std::string(field_name(extra & (~extra + 1))) + "' is not valid for op '" +
                    std::string(op->name) + "'");
  }
  return true;
}

bool Decoder::malformed(DecodeError& error, std::string message) {
  malformed_ = true;
  return fail(error, ErrorCode::invalid_json, std::move(message));
}

bool Decoder::decode_member(simdjson::simdjson_result<simdjson::ondemand::field> field_result, Request& request,
                            std::string_view& op_name, DecodeError& error) {
  simdjson::ondemand::field field;
  if (std::move(field_result).get(field)) return malformed(error, "malformed object");
  std::string_view key;
  if (field.unescaped_key().get(key)) return malformed(error, "malformed key");
  const FieldSpec* spec = find_field(key);
  if (spec == nullptr) return fail(error, ErrorCode::unknown_field, "unknown field");
  if (request.fields & spec->field) {
    return fail(error, ErrorCode::invalid_field, "field '" + std::string(spec->name) + "' given twice");
  }
  request.fields |= spec->field;
  simdjson::ondemand::value value = field.value();
  json_type type;
  if (value.type().get(type)) return malformed(error, "malformed value");
  // Built only for an error message: most members have none.
  const auto where = [spec] { return "field '" + std::string(spec->name) + "'"; };

  // The raw text of a number; simdjson's on-demand API does not check it
  // until it is converted, and decimals are never converted through it.
  auto number_text = [&](std::string_view& out) {
    out = value.raw_json_token();
    while (!out.empty() && (out.back() == ' ' || out.back() == '\t' || out.back() == '\r')) out.remove_suffix(1);
    if (!is_json_number(out)) return fail(error, ErrorCode::invalid_json, where() + " is not a JSON number");
    return true;
  };
  auto read_string = [&](std::string_view& out) {
    if (type != json_type::string) return fail(error, ErrorCode::invalid_field, where() + " must be a string");
    if (value.get_string().get(out)) return malformed(error, where() + " is malformed");
    if (out.size() > kMaxStringField) {
      out = {};
      return fail(error, ErrorCode::invalid_field, where() + " is too long");
    }
    return true;
  };
  auto read_decimal = [&](Decimal& out) {
    std::string_view text;
    if (type == json_type::string) {
      if (value.get_string().get(text)) return malformed(error, where() + " is malformed");
    } else if (type == json_type::number) {
      // Read from the number's own text, never through a double.
      if (!number_text(text)) return false;
    } else {
      return fail(error, ErrorCode::invalid_field, where() + " must be a decimal string such as \"1.08463\"");
    }
    const DecimalError parsed = Decimal::parse_strict(text, out);
    if (parsed == DecimalError::too_precise) {
      error.reject_reason = spec->field == kQty ? Reason::QUANTITY_PRECISION_EXCEEDED : Reason::PRICE_PRECISION_EXCEEDED;
      return fail(error, ErrorCode::invalid_field, where() + ": more than 9 decimal places");
    }
    if (parsed != DecimalError::ok) {
      return fail(error, ErrorCode::invalid_field, where() + " is not a plain decimal number");
    }
    return true;
  };
  auto read_optional_decimal = [&](std::optional<Decimal>& out) {
    Decimal parsed;
    if (!read_decimal(parsed)) return false;
    out = parsed;
    return true;
  };

  switch (spec->field) {
    case kOp: return read_string(op_name);
    case kId: {
      std::string_view raw;
      if (type == json_type::number) {
        if (!number_text(raw)) return false;
        std::int64_t integer = 0;
        if (value.get_int64().get(integer)) return fail(error, ErrorCode::invalid_field, "field 'id' must be an integer");
      } else if (type == json_type::string) {
        raw = value.raw_json_token();
        while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\r')) raw.remove_suffix(1);
        std::string_view text;
        if (value.get_string().get(text)) return malformed(error, "field 'id' is malformed");
      } else {
        return fail(error, ErrorCode::invalid_field, "field 'id' must be a string or an integer");
      }
      if (raw.size() > kMaxIdLength) return fail(error, ErrorCode::invalid_field, "field 'id' is too long");
      request.id_json = raw;
      return true;
    }
    case kToken: return read_string(request.token);
    case kAccount: return read_string(request.account);
    case kSymbol: return read_string(request.symbol);
    case kSide: return read_string(request.side);
    case kType: return read_string(request.type);
    case kTif: return read_string(request.tif);
    case kClOrdId: return read_string(request.cl_ord_id);
    case kNewClOrdId: return read_string(request.new_cl_ord_id);
    case kTag: return read_string(request.tag);
    case kScope: return read_string(request.scope);
    case kPrincipal: return read_string(request.principal);
    case kQty: return read_decimal(request.qty);
    case kPrice: return read_optional_decimal(request.price);
    case kStopPrice: return read_optional_decimal(request.stop_price);
    case kStopLoss: return read_optional_decimal(request.stop_loss);
    case kTakeProfit: return read_optional_decimal(request.take_profit);
    case kExpireTime: {
      std::string_view raw;
      if (type != json_type::number) {
        return fail(error, ErrorCode::invalid_field, "field 'expire_time_ns' must be an integer (UTC ns)");
      }
      if (!number_text(raw)) return false;
      if (value.get_int64().get(request.expire_time_ns)) {
        return fail(error, ErrorCode::invalid_field, "field 'expire_time_ns' must be an integer (UTC ns)");
      }
      return true;
    }
    case kCancelOrders:
      if (type != json_type::boolean || value.get_bool().get(request.cancel_orders)) {
        return fail(error, ErrorCode::invalid_field, "field 'cancel_orders' must be true or false");
      }
      return true;
    case kStreams: {
      constexpr std::string_view kExpected =
          "field 'streams' must be a non-empty array of \"executions\", \"rejections\", \"trading_state\"";
      simdjson::ondemand::array array;
      if (type != json_type::array || value.get_array().get(array)) {
        return fail(error, ErrorCode::invalid_field, std::string(kExpected));
      }
      for (auto element : array) {
        std::string_view name;
        if (element.get_string().get(name)) return fail(error, ErrorCode::invalid_field, std::string(kExpected));
        std::uint8_t bit = 0;
        for (const Stream stream : kStreamList) {
          if (stream_name(stream) == name) bit = stream;
        }
        if (bit == 0 || (request.streams & bit) != 0) return fail(error, ErrorCode::invalid_field, std::string(kExpected));
        request.streams |= bit;
      }
      if (request.streams == 0) return fail(error, ErrorCode::invalid_field, std::string(kExpected));
      return true;
    }
  }
  return true;
}

std::string_view stream_name(Stream stream) noexcept {
  switch (stream) {
    case kStreamExecutions: return "executions";
    case kStreamRejections: return "rejections";
    case kStreamTradingState: return "trading_state";
  }
  return "?";
}

ReplaceRequest to_replace_request(const Request& request) noexcept {
  ReplaceRequest replace;
  replace.client_order_id = request.cl_ord_id;
  replace.new_client_order_id = request.new_cl_ord_id;
  if ((request.fields & kQty) != 0) replace.quantity = request.qty;
  replace.price = request.price;
  replace.stop_price = request.stop_price;
  return replace;
}

OrderRequest to_order_request(const Request& request) noexcept {
  OrderRequest order;
  order.account = request.account;
  order.symbol = request.symbol;
  order.side = parse_side(request.side);
  order.type = parse_order_type(request.type);
  order.time_in_force = parse_time_in_force(request.tif);
  order.quantity = request.qty;
  order.price = request.price;
  order.stop_price = request.stop_price;
  order.stop_loss = request.stop_loss;
  order.take_profit = request.take_profit;
  order.expire_time_ns = request.expire_time_ns;
  order.client_order_id = request.cl_ord_id;
  order.text = request.tag;
  return order;
}

std::optional<TradingScope> to_trading_scope(std::string_view scope) noexcept {
  constexpr std::string_view kAccount = "account:";
  constexpr std::string_view kPrincipal = "principal:";
  if (scope == "global") return TradingScope::global();
  if (scope.substr(0, kAccount.size()) == kAccount) return TradingScope::account(scope.substr(kAccount.size()));
  if (scope.substr(0, kPrincipal.size()) == kPrincipal) return TradingScope::principal(scope.substr(kPrincipal.size()));
  return std::nullopt;
}

guards::TradingState to_trading_state(Op op) noexcept {
  switch (op) {
    case Op::halt: return guards::TradingState::halted;
    case Op::reduce: return guards::TradingState::reducing;
    default: return guards::TradingState::active;
  }
}

std::string_view op_name(Op op) noexcept {
  for (const OpSpec& spec : kOps) {
    if (spec.op == op) return spec.name;
  }
  return "?";
}

void write_rejected(std::string& out, const Request& request, Reason reason, std::int64_t retry_after_ns) {
  JsonWriter json(out);
  json.begin().string("type", "rejected");
  if (!request.id_json.empty()) json.raw("id", request.id_json);
  if (!request.cl_ord_id.empty() && guards::validate_client_order_id(request.cl_ord_id) == Reason::OK) {
    json.string("cl_ord_id", request.cl_ord_id);
  }
  json.string("reason", reason_name(reason)).string("message", reason_message(reason));
  if (retry_after_ns > 0) json.integer("retry_after_ms", (retry_after_ns + kNanosPerMilli - 1) / kNanosPerMilli);
  json.end();
}

void write_error(std::string& out, std::string_view id_json, std::string_view code, std::string_view message) {
  JsonWriter json(out);
  json.begin().string("type", "error");
  if (!id_json.empty()) json.raw("id", id_json);
  json.string("code", code).string("message", message).end();
}

void write_simple(std::string& out, const Request& request, std::string_view type) {
  JsonWriter json(out);
  json.begin().string("type", type);
  if (!request.id_json.empty()) json.raw("id", request.id_json);
  json.end();
}

namespace {

// The fields of a report after its type (shared by the session's line and
// the drop copy's event).
void execution_fields(JsonWriter& json, const ExecutionReport& report, std::string_view account,
                      std::string_view symbol) {
  if (report.kind == ReportKind::position_fill) {
    json.string("account", account)
        .string("symbol", symbol)
        .string("side", to_string(report.side))
        .decimal("qty", report.last_quantity)
        .decimal("price", report.last_price)
        .string("source", to_string(report.source))
        .string("orig_cl_ord_id", report.client_order_id.view())
        .string("broker_order_id", report.broker_order_id.view());
    if (!report.broker_reason.empty()) json.string("broker_reason", report.broker_reason.view());
    json.integer("time_ns", report.transact_time_ns).end();
    return;
  }
  json.string("cl_ord_id", report.client_order_id.view());
  // Amends: the id the order had (PENDING_REPLACE, REPLACED) or the one a
  // refused amend asked for (REPLACE_REJECTED).
  if (!report.other_client_order_id.empty()) {
    json.string(report.status == ExecStatus::replace_rejected ? "new_cl_ord_id" : "orig_cl_ord_id",
                report.other_client_order_id.view());
  }
  json.string("status", to_string(report.status))
      .string("account", account)
      .string("symbol", symbol)
      .string("side", to_string(report.side))
      .decimal("last_qty", report.last_quantity)
      .decimal("last_px", report.last_price)
      .decimal("cum_qty", report.cumulative_quantity)
      .decimal("leaves_qty", report.leaves_quantity)
      .decimal("avg_px", report.average_price)
      .string("broker_order_id", report.broker_order_id.view());
  if (report.reason != Reason::OK) json.string("reason", reason_name(report.reason));
  if (!report.broker_reason.empty()) json.string("broker_reason", report.broker_reason.view());
  json.integer("time_ns", report.transact_time_ns).end();
}

}  // namespace

void write_execution(std::string& out, const ExecutionReport& report, std::string_view account, std::string_view symbol) {
  JsonWriter json(out);
  json.begin().string("type", report.kind == ReportKind::position_fill ? "position_fill" : "exec");
  execution_fields(json, report, account, symbol);
}

JsonWriter begin_event(std::string& out, const EventHeader& header) {
  JsonWriter json(out);
  json.begin().string("type", "event").string("stream", stream_name(header.stream));
  json.integer("seq", static_cast<std::int64_t>(header.seq));
  return json;
}

void write_execution_event(std::string& out, const EventHeader& header, const ExecutionReport& report,
                           std::string_view principal, std::string_view account, std::string_view symbol) {
  JsonWriter json = begin_event(out, header);
  json.string("event", report.kind == ReportKind::position_fill ? "position_fill" : "exec");
  json.string("principal", principal);
  execution_fields(json, report, account, symbol);
}

void write_notice(std::string& out, std::string_view code, std::string_view message) {
  JsonWriter json(out);
  json.begin().string("type", "notice").string("code", code).string("message", message).end();
}

// Each member is composed on the stack and appended once: a line of
// fifteen members then costs fifteen appends, not sixty.
namespace {

constexpr std::size_t kShortText = 64;  // names and values composed on the stack
constexpr char kHex[] = "0123456789abcdef";

// Writes `text` JSON-escaped at `at` (up to 6 bytes per byte); returns the end.
char* escape_into(char* at, std::string_view text) noexcept {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && c != '"' && c != '\\') {
      *at++ = c;
    } else if (byte >= 0x20) {
      *at++ = '\\';
      *at++ = c;
    } else {
      *at++ = '\\';
      *at++ = 'u';
      *at++ = '0';
      *at++ = '0';
      *at++ = kHex[byte >> 4];
      *at++ = kHex[byte & 0x0F];
    }
  }
  return at;
}

}  // namespace

char* JsonWriter::key_into(char* at, std::string_view name) noexcept {
  if (!first_) *at++ = ',';
  first_ = false;
  *at++ = '"';
  std::memcpy(at, name.data(), name.size());
  at += name.size();
  *at++ = '"';
  *at++ = ':';
  return at;
}

JsonWriter& JsonWriter::key(std::string_view name) {
  if (name.size() <= kShortText) {
    char buffer[kShortText + 4];
    out_.append(buffer, static_cast<std::size_t>(key_into(buffer, name) - buffer));
    return *this;
  }
  separator();
  out_ += '"';
  out_ += name;
  out_ += "\":";
  return *this;
}

JsonWriter& JsonWriter::string(std::string_view name, std::string_view value) {
  if (name.size() <= kShortText && value.size() <= kShortText) {
    char buffer[kShortText + 4 + 6 * kShortText + 2];
    char* at = key_into(buffer, name);
    *at++ = '"';
    at = escape_into(at, value);
    *at++ = '"';
    out_.append(buffer, static_cast<std::size_t>(at - buffer));
    return *this;
  }
  key(name);
  out_ += '"';
  escaped(value);
  out_ += '"';
  return *this;
}

JsonWriter& JsonWriter::raw(std::string_view name, std::string_view json) {
  if (name.size() <= kShortText && json.size() <= kShortText) {
    char buffer[2 * kShortText + 4];
    char* at = key_into(buffer, name);
    std::memcpy(at, json.data(), json.size());
    out_.append(buffer, static_cast<std::size_t>(at + json.size() - buffer));
    return *this;
  }
  key(name);
  out_ += json;
  return *this;
}

// Numbers are written after the key in one buffer (a copy through `raw`
// measured 15% slower per report); a name too long for it goes through `raw`.
JsonWriter& JsonWriter::integer(std::string_view name, std::int64_t value) {
  char buffer[kShortText + 4 + 24];
  char* const at = name.size() <= kShortText ? key_into(buffer, name) : buffer;
  const auto [end, error] = std::to_chars(at, buffer + sizeof buffer, value);
  if (at == buffer) return raw(name, std::string_view(buffer, static_cast<std::size_t>(end - buffer)));
  out_.append(buffer, static_cast<std::size_t>(end - buffer));
  return *this;
}

JsonWriter& JsonWriter::decimal(std::string_view name, Decimal value) {
  char buffer[kShortText + 4 + Decimal::kMaxPrintedLength + 2];
  char* const start = name.size() <= kShortText ? key_into(buffer, name) : buffer;
  char* at = start;
  *at++ = '"';
  at += value.to_chars(at);
  *at++ = '"';
  if (start == buffer) return raw(name, std::string_view(buffer, static_cast<std::size_t>(at - buffer)));
  out_.append(buffer, static_cast<std::size_t>(at - buffer));
  return *this;
}

JsonWriter& JsonWriter::boolean(std::string_view name, bool value) { return raw(name, value ? "true" : "false"); }

JsonWriter& JsonWriter::array_begin(std::string_view name) {
  key(name);
  out_ += '[';
  first_ = true;
  return *this;
}

void JsonWriter::escaped(std::string_view text) {
  // Long text: escaped a piece at a time.
  char buffer[6 * kShortText];
  while (!text.empty()) {
    const std::string_view piece = text.substr(0, kShortText);
    out_.append(buffer, static_cast<std::size_t>(escape_into(buffer, piece) - buffer));
    text.remove_prefix(piece.size());
  }
}

}  // namespace ordergate::protocol
