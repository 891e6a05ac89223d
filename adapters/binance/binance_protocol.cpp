#include "ordergate/adapters/binance/binance_protocol.hpp"

#include <simdjson.h>

#include <charconv>

#include "../tls/json_fields.hpp"
#include "ordergate/security/crypto.hpp"

namespace ordergate::adapters::binance {

using detail::decimal_field;
using detail::id_field;
using detail::integer_field;
using detail::string_field;

namespace {

constexpr int kUnknownOrder = -2013;      // NO_SUCH_ORDER
constexpr int kCancelRejected = -2011;    // CANCEL_REJECTED (unknown order)
constexpr int kInvalidTimestamp = -1021;
constexpr int kInvalidSignature = -1022;
constexpr int kRejectedApiKey = -2015;
constexpr int kBadApiKeyFormat = -2014;
constexpr int kBackendTimeout = -1007;
constexpr int kUnexpectedResponse = -1006;

std::string_view side_text(Side side) noexcept { return side == Side::buy ? "BUY" : "SELL"; }

void append_decimal_param(std::string& out, std::string_view name, Decimal value) {
  char text[Decimal::kMaxPrintedLength];
  append_param(out, name, std::string_view(text, value.to_chars(text)));
}

ReplyKind kind_of_error(int status, int code) noexcept {
  if (status == 429) return ReplyKind::rate_limited;
  if (status == 418) return ReplyKind::banned;
  if (status >= 500) return ReplyKind::unknown;
  switch (code) {
    case kUnknownOrder:
    case kCancelRejected: return ReplyKind::not_found;
    case kInvalidTimestamp: return ReplyKind::clock_skew;
    case kInvalidSignature:
    case kRejectedApiKey:
    case kBadApiKeyFormat: return ReplyKind::unauthorized;
    case kBackendTimeout:
    case kUnexpectedResponse: return ReplyKind::unknown;
    default: break;
  }
  if (status == 401 || status == 403) return ReplyKind::unauthorized;
  if (status >= 400) return ReplyKind::rejected;
  return ReplyKind::unknown;
}

TimeInForce time_in_force_of(std::string_view text) noexcept {
  if (text == "GTC") return TimeInForce::gtc;
  if (text == "IOC") return TimeInForce::ioc;
  if (text == "FOK") return TimeInForce::fok;
  return TimeInForce::unset;
}

// One element of openOrders; false when it is not readable as an order.
bool read_open_order(simdjson::dom::object object, OpenOrder& order) noexcept {
  order.symbol = std::string(detail::code_of<20>(string_field(object, "symbol")).view());
  if (order.symbol.empty() || !id_field(object, "orderId", order.order_id)) return false;
  order.client_order_id.assign(string_field(object, "clientOrderId").substr(0, 36));
  const std::string_view type = string_field(object, "type");
  const std::string_view side = string_field(object, "side");
  if (side == "BUY") {
    order.side = Side::buy;
  } else if (side == "SELL") {
    order.side = Side::sell;
  } else {
    return false;
  }
  if (!decimal_field(object, "origQty", order.orig_quantity) ||
      !decimal_field(object, "executedQty", order.executed_quantity) || !order.orig_quantity.is_positive() ||
      order.executed_quantity.is_negative() || order.executed_quantity > order.orig_quantity) {
    return false;
  }
  if (!decimal_field(object, "cummulativeQuoteQty", order.cumulative_quote) || order.cumulative_quote.is_negative()) {
    return false;
  }
  if (type == "LIMIT" || type == "LIMIT_MAKER") {
    order.type = OrderType::limit;
    order.time_in_force =
        type == "LIMIT_MAKER" ? TimeInForce::gtc : time_in_force_of(string_field(object, "timeInForce"));
    return order.time_in_force != TimeInForce::unset && decimal_field(object, "price", order.price) &&
           order.price.is_positive();
  }
  if (type == "STOP_LOSS") {
    order.type = OrderType::stop;
    order.time_in_force = TimeInForce::gtc;
    return decimal_field(object, "stopPrice", order.stop_price) && order.stop_price.is_positive();
  }
  return true;  // a type reconciliation skips
}

// An order object of a 2xx reply (or of a cancelReplace's responses);
// false when it has no orderId or negative cumulative amounts.
bool read_order_state(simdjson::dom::object object, OrderState& order) noexcept {
  // Binance numbers orders from 1: an id of 0 (or -0) names no order.
  if (!id_field(object, "orderId", order.order_id) || order.order_id == 0) return false;
  // A cancel reply names the cancelled order's id as origClientOrderId;
  // its clientOrderId is the cancel request's own.
  order.client_order_id.assign(string_field(object, "origClientOrderId").substr(0, 36));
  if (order.client_order_id.empty()) order.client_order_id.assign(string_field(object, "clientOrderId").substr(0, 36));
  order.status = parse_order_status(string_field(object, "status"));
  (void)decimal_field(object, "executedQty", order.executed_quantity);
  (void)decimal_field(object, "cummulativeQuoteQty", order.cumulative_quote);
  if (order.executed_quantity.is_negative() || order.cumulative_quote.is_negative()) return false;
  if (!integer_field(object, "transactTime", order.time_ms)) (void)integer_field(object, "updateTime", order.time_ms);
  return true;
}

// The `code` of an error object `name` inside `parent`; 0 when absent.
int error_code_of(simdjson::dom::object parent, std::string_view name) noexcept {
  simdjson::dom::object error;
  if (parent[name].get(error) != simdjson::SUCCESS) return 0;
  std::int64_t code = 0;
  if (!integer_field(error, "code", code) || code >= 0 || code < -100000) return 0;
  return static_cast<int>(code);
}

bool order_of(simdjson::dom::object parent, std::string_view name, OrderState& order) noexcept {
  simdjson::dom::object object;
  return parent[name].get(object) == simdjson::SUCCESS && read_order_state(object, order);
}

}  // namespace

std::string default_symbol(std::string_view canonical) {
  std::string symbol;
  for (const char c : canonical) {
    if (c != '/') symbol.push_back(c);
  }
  return symbol;
}

std::string sign(std::string_view secret, std::string_view payload) {
  return security::to_hex(security::hmac_sha256(secret, payload));
}

void append_param(std::string& out, std::string_view name, std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  if (!out.empty()) out.push_back('&');
  out.append(name).push_back('=');
  for (const char c : value) {
    const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                       c == '_' || c == '.' || c == '~';
    if (plain) {
      out.push_back(c);
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0x0F]);
    }
  }
}

std::string_view write_order_params(const Order& order, std::string_view symbol, std::string_view client_order_id,
                                    std::string& out) {
  if (order.side != Side::buy && order.side != Side::sell) return "SIDE_INVALID";
  if (order.stop_loss.is_positive() || order.take_profit.is_positive()) return "PROTECTION_NOT_SUPPORTED";
  std::string_view tif;
  switch (order.time_in_force) {
    case TimeInForce::gtc: tif = "GTC"; break;
    case TimeInForce::ioc: tif = "IOC"; break;
    case TimeInForce::fok: tif = "FOK"; break;
    case TimeInForce::day:
    case TimeInForce::gtd:
    case TimeInForce::unset: break;
  }
  std::string params;
  append_param(params, "symbol", symbol);
  append_param(params, "side", side_text(order.side));
  switch (order.type) {
    case OrderType::market:
      // Binance market orders take no timeInForce: they fill what they can.
      append_param(params, "type", "MARKET");
      append_decimal_param(params, "quantity", order.quantity);
      break;
    case OrderType::limit:
      if (tif.empty()) return "TIME_IN_FORCE_NOT_SUPPORTED";
      append_param(params, "type", "LIMIT");
      append_param(params, "timeInForce", tif);
      append_decimal_param(params, "quantity", order.quantity);
      append_decimal_param(params, "price", order.price);
      break;
    case OrderType::stop:
      if (order.time_in_force != TimeInForce::gtc) return "TIME_IN_FORCE_NOT_SUPPORTED";
      append_param(params, "type", "STOP_LOSS");
      append_decimal_param(params, "quantity", order.quantity);
      append_decimal_param(params, "stopPrice", order.stop_price);
      break;
    case OrderType::unset: return "ORDER_TYPE_INVALID";
  }
  append_param(params, "newClientOrderId", client_order_id);
  append_param(params, "newOrderRespType", "FULL");
  if (!out.empty()) out.push_back('&');
  out.append(params);
  return {};
}

void append_signature(std::string& params, std::int64_t recv_window_ms, std::int64_t timestamp_ms,
                      std::string_view secret) {
  char number[24];
  auto end = std::to_chars(number, number + sizeof(number), recv_window_ms).ptr;
  append_param(params, "recvWindow", std::string_view(number, static_cast<std::size_t>(end - number)));
  end = std::to_chars(number, number + sizeof(number), timestamp_ms).ptr;
  append_param(params, "timestamp", std::string_view(number, static_cast<std::size_t>(end - number)));
  const security::Sha256Digest digest = security::hmac_sha256(secret, params);
  params.append("&signature=");
  static constexpr char kDigits[] = "0123456789abcdef";
  for (const std::uint8_t byte : digest) {
    params.push_back(kDigits[byte >> 4]);
    params.push_back(kDigits[byte & 0x0F]);
  }
}

OrderStatus parse_order_status(std::string_view text) noexcept {
  if (text == "NEW") return OrderStatus::new_order;
  if (text == "PARTIALLY_FILLED") return OrderStatus::partially_filled;
  if (text == "FILLED") return OrderStatus::filled;
  if (text == "CANCELED") return OrderStatus::canceled;
  if (text == "PENDING_CANCEL") return OrderStatus::pending_cancel;
  if (text == "REJECTED") return OrderStatus::rejected;
  if (text == "EXPIRED" || text == "EXPIRED_IN_MATCH") return OrderStatus::expired;
  return OrderStatus::unknown;
}

FixedString<32> code_text(int code) {
  char text[16];
  const auto end = std::to_chars(text, text + sizeof(text), code).ptr;
  FixedString<32> out;
  out.assign(std::string_view(text, static_cast<std::size_t>(end - text)));
  return out;
}

struct BinanceCodec::Impl {
  simdjson::dom::parser parser;
  bool parse(std::string_view body, simdjson::dom::element& root) {
    return parser.parse(body.data(), body.size()).get(root) == simdjson::SUCCESS;
  }
};

BinanceCodec::BinanceCodec() : impl_(std::make_unique<Impl>()) {}
BinanceCodec::~BinanceCodec() = default;

OrderReply BinanceCodec::parse_order_reply(int status, std::string_view body) {
  OrderReply reply;
  simdjson::dom::element root;
  simdjson::dom::object object;
  const bool parsed = impl_->parse(body, root) && root.get(object) == simdjson::SUCCESS;
  if (status >= 200 && status < 300) {
    if (!parsed || !read_order_state(object, reply.order)) {
      // Cumulative amounts cannot shrink below zero: such a reply is not
      // one we can book, so the order's fate is looked up instead.
      reply = OrderReply{};
      reply.kind = ReplyKind::unknown;
      return reply;
    }
    reply.kind = ReplyKind::ok;
    return reply;
  }
  std::int64_t code = 0;
  if (parsed) (void)integer_field(object, "code", code);
  reply.code = static_cast<int>(code);
  reply.kind = kind_of_error(status, reply.code);
  return reply;
}

CancelReplaceReply BinanceCodec::parse_cancel_replace_reply(int status, std::string_view body) {
  CancelReplaceReply reply;
  simdjson::dom::element root;
  simdjson::dom::object object;
  const bool parsed = impl_->parse(body, root) && root.get(object) == simdjson::SUCCESS;
  if (!parsed) return reply;  // unknown
  if (status >= 200 && status < 300) {
    if (string_field(object, "cancelResult") == "SUCCESS" && string_field(object, "newOrderResult") == "SUCCESS" &&
        order_of(object, "cancelResponse", reply.canceled) && order_of(object, "newOrderResponse", reply.placed)) {
      reply.outcome = ReplaceOutcome::replaced;
    }
    return reply;
  }
  std::int64_t code = 0;
  (void)integer_field(object, "code", code);
  reply.code = code < 0 && code > -100000 ? static_cast<int>(code) : 0;
  // -2021 (the cancel worked, the new order failed) and -2022 (the cancel
  // failed) are only acted on with their `data`.
  constexpr int kReplacePartlyFailed = -2021;
  constexpr int kReplaceFailed = -2022;
  simdjson::dom::object data;
  const bool has_data = object["data"].get(data) == simdjson::SUCCESS;
  if (!has_data && (reply.code == kReplacePartlyFailed || reply.code == kReplaceFailed)) return reply;
  if (status >= 400 && status < 500 && status != 429 && status != 418 && has_data) {
    const std::string_view cancel = string_field(data, "cancelResult");
    const std::string_view placed = string_field(data, "newOrderResult");
    reply.cancel_code = error_code_of(data, "cancelResponse");
    reply.new_code = error_code_of(data, "newOrderResponse");
    if (cancel == "FAILURE" && placed == "NOT_ATTEMPTED" && reply.cancel_code != 0) {
      reply.outcome = ReplaceOutcome::cancel_failed;
    } else if (cancel == "FAILURE" && placed == "FAILURE" && reply.cancel_code != 0 && reply.new_code != 0) {
      reply.outcome = ReplaceOutcome::both_failed;
    } else if (cancel == "SUCCESS" && placed == "FAILURE" && reply.new_code != 0 &&
               order_of(data, "cancelResponse", reply.canceled)) {
      reply.outcome = ReplaceOutcome::new_failed;
    }
    return reply;  // unknown unless one of the shapes above
  }
  reply.kind = kind_of_error(status, reply.code);
  if (reply.kind != ReplyKind::unknown && (reply.code != 0 || status == 429 || status == 418)) {
    reply.outcome = ReplaceOutcome::refused;
  }
  return reply;
}

bool BinanceCodec::parse_book_tickers(std::string_view body, std::vector<BookTicker>& out) {
  out.clear();
  simdjson::dom::element root;
  if (!impl_->parse(body, root)) return false;
  auto read = [&out](simdjson::dom::object object) {
    BookTicker ticker;
    ticker.symbol = std::string(string_field(object, "symbol"));
    if (ticker.symbol.empty() || !decimal_field(object, "bidPrice", ticker.bid) ||
        !decimal_field(object, "askPrice", ticker.ask)) {
      return false;
    }
    out.push_back(std::move(ticker));
    return true;
  };
  simdjson::dom::object object;
  if (root.get(object) == simdjson::SUCCESS) return read(object);
  simdjson::dom::array array;
  if (root.get(array) != simdjson::SUCCESS) return false;
  for (simdjson::dom::element element : array) {
    if (element.get(object) != simdjson::SUCCESS || !read(object)) return false;
  }
  return true;
}

bool BinanceCodec::parse_open_orders(std::string_view body, std::vector<OpenOrder>& out) {
  out.clear();
  simdjson::dom::element root;
  simdjson::dom::array array;
  if (!impl_->parse(body, root) || root.get(array) != simdjson::SUCCESS) return false;
  for (simdjson::dom::element element : array) {
    simdjson::dom::object object;
    OpenOrder order;
    if (element.get(object) != simdjson::SUCCESS || !read_open_order(object, order)) {
      out.clear();
      return false;
    }
    out.push_back(std::move(order));
  }
  return true;
}

bool BinanceCodec::parse_balances(std::string_view body, std::vector<AssetBalance>& out) {
  out.clear();
  simdjson::dom::element root;
  simdjson::dom::object object;
  simdjson::dom::array balances;
  if (!impl_->parse(body, root) || root.get(object) != simdjson::SUCCESS ||
      object["balances"].get(balances) != simdjson::SUCCESS) {
    return false;
  }
  for (simdjson::dom::element element : balances) {
    simdjson::dom::object entry;
    AssetBalance balance;
    if (element.get(entry) != simdjson::SUCCESS || !decimal_field(entry, "free", balance.free) ||
        !decimal_field(entry, "locked", balance.locked) || balance.free.is_negative() ||
        balance.locked.is_negative()) {
      out.clear();
      return false;
    }
    balance.asset = std::string(detail::code_of<16>(string_field(entry, "asset")).view());
    if (balance.asset.empty()) {
      out.clear();
      return false;
    }
    out.push_back(std::move(balance));
  }
  return true;
}

bool BinanceCodec::parse_server_time(std::string_view body, std::int64_t& server_time_ms) {
  simdjson::dom::element root;
  simdjson::dom::object object;
  if (!impl_->parse(body, root) || root.get(object) != simdjson::SUCCESS) return false;
  return integer_field(object, "serverTime", server_time_ms);
}

}  // namespace ordergate::adapters::binance
