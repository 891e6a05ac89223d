#include "ordergate/adapters/oanda/oanda_protocol.hpp"

#include <simdjson.h>

#include <charconv>
#include <cstdio>

#include "../tls/json_fields.hpp"
#include "ordergate/core/clock.hpp"

namespace ordergate::adapters::oanda {

using detail::append_decimal;
using detail::append_json_escaped;
using detail::code_of;
using detail::decimal_field;
using detail::id_field;
using detail::string_field;

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
constexpr std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) noexcept {
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;
}

struct CivilDate {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

constexpr CivilDate civil_from_days(std::int64_t days) noexcept {
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto day_of_era = static_cast<unsigned>(days - era * 146097);
  const unsigned year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const unsigned mp = (5 * day_of_year + 2) / 153;
  const unsigned day = day_of_year - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(year_of_era) + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

bool read_digits(std::string_view text, std::size_t at, std::size_t count, unsigned& out) noexcept {
  if (at + count > text.size()) return false;
  unsigned value = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const char c = text[at + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  out = value;
  return true;
}

// Nanoseconds from a fraction's digits ("285982286" -> 285982286, "5" -> 500000000).
bool read_fraction(std::string_view digits, std::int64_t& nanos) noexcept {
  if (digits.empty() || digits.size() > 9) return false;
  std::int64_t value = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  for (std::size_t i = digits.size(); i < 9; ++i) value *= 10;
  nanos = value;
  return true;
}

ReasonCode status_code(int status) noexcept {
  char text[16] = "HTTP_";
  const auto end = std::to_chars(text + 5, text + sizeof(text), status).ptr;
  ReasonCode code;
  code.assign(std::string_view(text, static_cast<std::size_t>(end - text)));
  return code;
}

ReplyKind kind_of_error(int status) noexcept {
  if (status == 401 || status == 403) return ReplyKind::unauthorized;
  if (status == 429) return ReplyKind::rate_limited;
  if (status >= 400 && status < 500) return ReplyKind::rejected;
  return ReplyKind::unknown;
}

Transaction::Type transaction_type(std::string_view type) noexcept {
  if (type == "ORDER_FILL") return Transaction::Type::order_fill;
  if (type == "ORDER_CANCEL") return Transaction::Type::order_cancel;
  if (type == "MARKET_ORDER" || type == "LIMIT_ORDER" || type == "STOP_ORDER" ||
      type == "MARKET_IF_TOUCHED_ORDER") {
    return Transaction::Type::order_create;
  }
  if (type == "STOP_LOSS_ORDER" || type == "TAKE_PROFIT_ORDER" || type == "TRAILING_STOP_LOSS_ORDER" ||
      type == "GUARANTEED_STOP_LOSS_ORDER") {
    return Transaction::Type::dependent_order_create;
  }
  if (type == "MARKET_ORDER_REJECT" || type == "LIMIT_ORDER_REJECT" || type == "STOP_ORDER_REJECT" ||
      type == "MARKET_IF_TOUCHED_ORDER_REJECT") {
    return Transaction::Type::order_reject;
  }
  return Transaction::Type::other;
}

// Fill price: fullVWAP is the official one; `price` is deprecated but older
// replies carry only it.
bool fill_price(simdjson::dom::object fill, Decimal& price) noexcept {
  return decimal_field(fill, "fullVWAP", price) || decimal_field(fill, "price", price);
}

ClientOrderId client_id_of(simdjson::dom::object transaction) noexcept {
  ClientOrderId id;
  simdjson::dom::object extensions;
  if (transaction["clientExtensions"].get(extensions) == simdjson::SUCCESS) {
    id.assign(string_field(extensions, "id"));
  }
  if (id.empty()) id.assign(string_field(transaction, "clientOrderID"));
  return id;
}

// The trades an ORDER_FILL opened, reduced or closed.
void read_trades(simdjson::dom::object fill, Transaction& transaction) noexcept {
  simdjson::dom::object trade;
  if (fill["tradeOpened"].get(trade) == simdjson::SUCCESS) {
    transaction.moves_position = true;
    (void)id_field(trade, "tradeID", transaction.trade_id);
  }
  if (fill["tradeReduced"].get(trade) == simdjson::SUCCESS) {
    transaction.moves_position = true;
    (void)id_field(trade, "tradeID", transaction.closed_trade_id);
  }
  simdjson::dom::array closed;
  if (fill["tradesClosed"].get(closed) == simdjson::SUCCESS) {
    for (simdjson::dom::element element : closed) {
      if (element.get(trade) != simdjson::SUCCESS) continue;
      transaction.moves_position = true;
      if (transaction.closed_trade_id == 0 && id_field(trade, "tradeID", transaction.closed_trade_id)) {
        transaction.closes_trade = true;
      }
    }
  }
}

Transaction read_transaction(simdjson::dom::object object) noexcept {
  Transaction transaction;
  const std::string_view type = string_field(object, "type");
  transaction.type = transaction_type(type);
  (void)id_field(object, "id", transaction.id);
  (void)parse_time(string_field(object, "time"), transaction.time_ns);
  transaction.client_order_id = client_id_of(object);
  switch (transaction.type) {
    case Transaction::Type::order_create:
      transaction.order_id = transaction.id;
      (void)id_field(object, "replacesOrderID", transaction.replace_link);
      break;
    case Transaction::Type::order_reject:
      transaction.reason = code_of<ReasonCode::kCapacity>(string_field(object, "rejectReason"));
      break;
    case Transaction::Type::order_fill:
      (void)id_field(object, "orderID", transaction.order_id);
      if (decimal_field(object, "units", transaction.units)) {
        transaction.side = transaction.units.is_negative() ? Side::sell
                           : transaction.units.is_positive() ? Side::buy
                                                             : Side::unset;
        transaction.units = transaction.units.abs();
      }
      (void)fill_price(object, transaction.price);
      transaction.reason = code_of<ReasonCode::kCapacity>(string_field(object, "reason"));
      transaction.instrument = code_of<32>(string_field(object, "instrument"));
      read_trades(object, transaction);
      break;
    case Transaction::Type::dependent_order_create:
      transaction.order_id = transaction.id;
      (void)id_field(object, "tradeID", transaction.trade_id);
      transaction.dependent_type = code_of<ReasonCode::kCapacity>(type);
      break;
    case Transaction::Type::order_cancel:
      (void)id_field(object, "orderID", transaction.order_id);
      (void)id_field(object, "replacedByOrderID", transaction.replace_link);
      transaction.reason = code_of<ReasonCode::kCapacity>(string_field(object, "reason"));
      break;
    case Transaction::Type::other: break;
  }
  return transaction;
}

TimeInForce time_in_force_of(std::string_view text) noexcept {
  if (text == "GTC") return TimeInForce::gtc;
  if (text == "GFD") return TimeInForce::day;
  if (text == "GTD") return TimeInForce::gtd;
  if (text == "FOK") return TimeInForce::fok;
  if (text == "IOC") return TimeInForce::ioc;
  return TimeInForce::unset;
}

bool attached_type(std::string_view type) noexcept {
  return type == "TAKE_PROFIT" || type == "STOP_LOSS" || type == "GUARANTEED_STOP_LOSS" ||
         type == "TRAILING_STOP_LOSS";
}

// One element of pendingOrders; false when an order the gateway could map
// is not readable (then the whole reply is refused).
bool read_pending_order(simdjson::dom::object object, PendingOrder& order) noexcept {
  if (!id_field(object, "id", order.id) || order.id == 0) return false;
  const std::string_view type = string_field(object, "type");
  if (attached_type(type)) {
    order.attached = true;
    return true;
  }
  order.instrument = std::string(code_of<32>(string_field(object, "instrument")).view());
  if (type == "LIMIT") {
    order.type = OrderType::limit;
  } else if (type == "STOP") {
    order.type = OrderType::stop;
  } else {
    return true;  // a type reconciliation skips
  }
  simdjson::dom::object extensions;
  if (object["clientExtensions"].get(extensions) == simdjson::SUCCESS) {
    // Another program's id may be free text: kept only up to its first
    // character outside [A-Za-z0-9_.:-] (the gateway's own ids are whole).
    order.client_id = code_of<48>(string_field(extensions, "id"));
  }
  Decimal units;
  Decimal price;
  if (order.instrument.empty() || !decimal_field(object, "units", units) || units.is_zero() ||
      !decimal_field(object, "price", price) || !price.is_positive()) {
    return false;
  }
  order.side = units.is_negative() ? Side::sell : Side::buy;
  order.units = units.abs();
  (order.type == OrderType::limit ? order.price : order.stop_price) = price;
  order.time_in_force = time_in_force_of(string_field(object, "timeInForce"));
  if (order.time_in_force == TimeInForce::unset) return false;
  if (order.time_in_force == TimeInForce::gtd && !parse_time(string_field(object, "gtdTime"), order.gtd_ns)) {
    return false;
  }
  return true;
}

std::string_view time_in_force_text(TimeInForce tif) noexcept {
  switch (tif) {
    case TimeInForce::gtc: return "GTC";
    case TimeInForce::ioc: return "IOC";
    case TimeInForce::fok: return "FOK";
    case TimeInForce::day: return "GFD";
    case TimeInForce::gtd: return "GTD";
    case TimeInForce::unset: break;
  }
  return {};
}

}  // namespace

std::string default_instrument_name(std::string_view canonical) {
  std::string name(canonical);
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  return name;
}

std::string format_time(std::int64_t wall_ns) {
  std::int64_t seconds = wall_ns / kNanosPerSecond;
  std::int64_t nanos = wall_ns % kNanosPerSecond;
  if (nanos < 0) {
    nanos += kNanosPerSecond;
    --seconds;
  }
  std::int64_t days = seconds / 86400;
  std::int64_t second_of_day = seconds % 86400;
  if (second_of_day < 0) {
    second_of_day += 86400;
    --days;
  }
  const CivilDate date = civil_from_days(days);
  char text[40];
  const int length = std::snprintf(text, sizeof(text), "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%09lldZ",
                                   static_cast<long long>(date.year), date.month, date.day,
                                   static_cast<long long>(second_of_day / 3600),
                                   static_cast<long long>(second_of_day / 60 % 60),
                                   static_cast<long long>(second_of_day % 60), static_cast<long long>(nanos));
  return std::string(text, static_cast<std::size_t>(length));
}

bool parse_time(std::string_view text, std::int64_t& wall_ns) noexcept {
  if (text.empty()) return false;
  if (text.find('T') == std::string_view::npos) {
    // UNIX seconds with an optional fraction.
    const std::size_t dot = text.find('.');
    std::int64_t seconds = 0;
    const std::string_view whole = text.substr(0, dot);
    const auto [end, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), seconds);
    if (ec != std::errc{} || end != whole.data() + whole.size() || seconds < 0) return false;
    std::int64_t nanos = 0;
    if (dot != std::string_view::npos && !read_fraction(text.substr(dot + 1), nanos)) return false;
    // A time past 2262 does not fit in nanoseconds: refused, not wrapped.
    return !__builtin_mul_overflow(seconds, kNanosPerSecond, &wall_ns) &&
           !__builtin_add_overflow(wall_ns, nanos, &wall_ns);
  }
  // YYYY-MM-DDTHH:MM:SS[.fraction]Z
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_digits(text, 0, 4, year) || text.size() < 20 || text[4] != '-' || !read_digits(text, 5, 2, month) ||
      text[7] != '-' || !read_digits(text, 8, 2, day) || text[10] != 'T' || !read_digits(text, 11, 2, hour) ||
      text[13] != ':' || !read_digits(text, 14, 2, minute) || text[16] != ':' || !read_digits(text, 17, 2, second)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return false;
  std::string_view rest = text.substr(19);
  std::int64_t nanos = 0;
  if (!rest.empty() && rest.front() == '.') {
    const std::size_t zone = rest.find('Z');
    if (zone == std::string_view::npos || !read_fraction(rest.substr(1, zone - 1), nanos)) return false;
    rest = rest.substr(zone);
  }
  if (rest != "Z") return false;
  const std::int64_t days = days_from_civil(year, month, day);
  const std::int64_t seconds = days * 86400 + std::int64_t{hour} * 3600 + std::int64_t{minute} * 60 + second;
  // A time past 2262 does not fit in nanoseconds: refused, not wrapped.
  return !__builtin_mul_overflow(seconds, kNanosPerSecond, &wall_ns) &&
         !__builtin_add_overflow(wall_ns, nanos, &wall_ns);
}

std::string_view write_order_body(const Order& order, std::string_view instrument, std::string_view client_order_id,
                                  std::string& out) {
  std::string_view type;
  std::string_view tif = time_in_force_text(order.time_in_force);
  switch (order.type) {
    case OrderType::market:
      type = "MARKET";
      if (order.time_in_force != TimeInForce::fok && order.time_in_force != TimeInForce::ioc) {
        return "TIME_IN_FORCE_INVALID";
      }
      break;
    case OrderType::limit:
      type = "LIMIT";
      if (tif.empty()) return "TIME_IN_FORCE_INVALID";
      break;
    case OrderType::stop:
      type = "STOP";
      if (order.time_in_force != TimeInForce::gtc && order.time_in_force != TimeInForce::day &&
          order.time_in_force != TimeInForce::gtd) {
        return "TIME_IN_FORCE_INVALID";
      }
      break;
    case OrderType::unset: return "ORDER_TYPE_INVALID";
  }
  if (order.side != Side::buy && order.side != Side::sell) return "UNITS_INVALID";

  out.append(R"({"order":{"type":")").append(type);
  out.append(R"(","instrument":")");
  append_json_escaped(out, instrument);
  out.append(R"(","units":")");
  if (order.side == Side::sell) out.push_back('-');
  append_decimal(out, order.quantity.abs());
  out.append(R"(","timeInForce":")").append(tif).push_back('"');
  if (order.type == OrderType::limit) {
    out.append(R"(,"price":")");
    append_decimal(out, order.price);
    out.push_back('"');
  } else if (order.type == OrderType::stop) {
    out.append(R"(,"price":")");
    append_decimal(out, order.stop_price);
    out.push_back('"');
  }
  if (order.time_in_force == TimeInForce::gtd) {
    out.append(R"(,"gtdTime":")").append(format_time(order.expire_time_ns)).push_back('"');
  }
  out.append(order.reduce_only ? R"(,"positionFill":"REDUCE_ONLY")" : R"(,"positionFill":"DEFAULT")");
  out.append(R"(,"clientExtensions":{"id":")");
  append_json_escaped(out, client_order_id);
  out.push_back('"');
  if (!order.text.empty()) {
    out.append(R"(,"comment":")");
    append_json_escaped(out, order.text.view());
    out.push_back('"');
  }
  out.push_back('}');
  if (order.stop_loss.is_positive()) {
    out.append(R"(,"stopLossOnFill":{"price":")");
    append_decimal(out, order.stop_loss);
    out.append(R"("})");
  }
  if (order.take_profit.is_positive()) {
    out.append(R"(,"takeProfitOnFill":{"price":")");
    append_decimal(out, order.take_profit);
    out.append(R"("})");
  }
  out.append("}}");
  return {};
}

// ---------------------------------------------------------------------------

struct OandaCodec::Impl {
  simdjson::dom::parser parser;

  bool parse(std::string_view body, simdjson::dom::object& object) {
    simdjson::dom::element root;
    if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) return false;
    return root.get(object) == simdjson::SUCCESS;
  }
};

OandaCodec::OandaCodec() : impl_(std::make_unique<Impl>()) {}
OandaCodec::~OandaCodec() = default;

OrderReply OandaCodec::parse_order_reply(int status, std::string_view body) {
  OrderReply reply;
  simdjson::dom::object root;
  const bool parsed = impl_->parse(body, root);
  if (parsed) (void)id_field(root, "lastTransactionID", reply.last_transaction_id);
  if (status == 200 || status == 201) {
    simdjson::dom::object create;
    if (!parsed || root["orderCreateTransaction"].get(create) != simdjson::SUCCESS ||
        !id_field(create, "id", reply.order_id)) {
      simdjson::dom::object reject;
      if (parsed && root["orderRejectTransaction"].get(reject) == simdjson::SUCCESS) {
        reply.kind = ReplyKind::rejected;
        reply.reject_reason = code_of<ReasonCode::kCapacity>(string_field(reject, "rejectReason"));
        return reply;
      }
      reply.kind = ReplyKind::unknown;  // accepted, but we cannot tell what happened
      return reply;
    }
    reply.kind = ReplyKind::accepted;
    simdjson::dom::object fill;
    if (root["orderFillTransaction"].get(fill) == simdjson::SUCCESS) {
      reply.filled = decimal_field(fill, "units", reply.fill_units) && fill_price(fill, reply.fill_price);
      reply.fill_units = reply.fill_units.abs();
      (void)id_field(fill, "id", reply.fill_transaction_id);
      (void)parse_time(string_field(fill, "time"), reply.fill_time_ns);
      simdjson::dom::object opened;
      if (fill["tradeOpened"].get(opened) == simdjson::SUCCESS) {
        (void)id_field(opened, "tradeID", reply.fill_trade_opened);
      }
      if (!reply.filled) reply.kind = ReplyKind::unknown;
    }
    simdjson::dom::object cancel;
    if (root["orderCancelTransaction"].get(cancel) == simdjson::SUCCESS) {
      reply.canceled = true;
      reply.cancel_reason = code_of<ReasonCode::kCapacity>(string_field(cancel, "reason"));
      (void)id_field(cancel, "id", reply.cancel_transaction_id);
      (void)parse_time(string_field(cancel, "time"), reply.cancel_time_ns);
    }
    return reply;
  }
  reply.kind = kind_of_error(status);
  if (parsed) {
    simdjson::dom::object reject;
    if (root["orderRejectTransaction"].get(reject) == simdjson::SUCCESS) {
      reply.reject_reason = code_of<ReasonCode::kCapacity>(string_field(reject, "rejectReason"));
    }
    if (reply.reject_reason.empty()) reply.reject_reason = code_of<ReasonCode::kCapacity>(string_field(root, "errorCode"));
  }
  if (reply.reject_reason.empty()) reply.reject_reason = status_code(status);
  return reply;
}

CancelReply OandaCodec::parse_cancel_reply(int status, std::string_view body) {
  CancelReply reply;
  simdjson::dom::object root;
  const bool parsed = impl_->parse(body, root);
  if (parsed) (void)id_field(root, "lastTransactionID", reply.last_transaction_id);
  if (status == 200 || status == 201) {
    simdjson::dom::object cancel;
    if (parsed && root["orderCancelTransaction"].get(cancel) == simdjson::SUCCESS) {
      reply.kind = ReplyKind::accepted;
      (void)id_field(cancel, "orderID", reply.order_id);
      reply.reason = code_of<ReasonCode::kCapacity>(string_field(cancel, "reason"));
      (void)parse_time(string_field(cancel, "time"), reply.time_ns);
    } else {
      reply.kind = ReplyKind::unknown;
    }
    return reply;
  }
  reply.kind = kind_of_error(status);
  if (parsed) {
    simdjson::dom::object reject;
    if (root["orderCancelRejectTransaction"].get(reject) == simdjson::SUCCESS) {
      reply.reason = code_of<ReasonCode::kCapacity>(string_field(reject, "rejectReason"));
    }
    if (reply.reason.empty()) reply.reason = code_of<ReasonCode::kCapacity>(string_field(root, "errorCode"));
  }
  if (reply.reason.empty()) reply.reason = status_code(status);
  return reply;
}

ReplaceReply OandaCodec::parse_replace_reply(int status, std::string_view body) {
  ReplaceReply reply;
  simdjson::dom::object root;
  const bool parsed = impl_->parse(body, root);
  if (parsed) (void)id_field(root, "lastTransactionID", reply.last_transaction_id);
  reply.kind = status == 200 || status == 201 ? ReplyKind::accepted : kind_of_error(status);
  if (!parsed) return reply;  // unknown: a 2xx or 5xx we cannot read says nothing sure
  simdjson::dom::object cancel;
  const bool has_cancel = root["orderCancelTransaction"].get(cancel) == simdjson::SUCCESS;
  // An id of 0 names no order (OANDA's ids are positive).
  if (has_cancel && (!id_field(cancel, "orderID", reply.canceled_order_id) || reply.canceled_order_id == 0 ||
                     !id_field(cancel, "id", reply.cancel_transaction_id))) {
    reply.canceled_order_id = 0;
    return reply;  // a cancel of no order we can name
  }
  if (has_cancel) (void)parse_time(string_field(cancel, "time"), reply.cancel_time_ns);
  simdjson::dom::object reject;
  const bool has_reject = root["orderCreateRejectTransaction"].get(reject) == simdjson::SUCCESS ||
                          root["orderRejectTransaction"].get(reject) == simdjson::SUCCESS;
  if (has_reject) reply.reject_reason = code_of<ReasonCode::kCapacity>(string_field(reject, "rejectReason"));
  if (status == 200 || status == 201) {
    simdjson::dom::object create;
    std::uint64_t replaces = 0;
    if (has_cancel && root["orderCreateTransaction"].get(create) == simdjson::SUCCESS && !has_reject) {
      // Taken only when the new order names the cancelled one.
      if (!id_field(create, "id", reply.order_id) || reply.order_id == 0 ||
          !id_field(create, "replacesOrderID", replaces) || replaces != reply.canceled_order_id) {
        reply.order_id = 0;
        return reply;
      }
      simdjson::dom::object fill;
      if (root["orderFillTransaction"].get(fill) == simdjson::SUCCESS) {
        reply.filled = decimal_field(fill, "units", reply.fill_units) && fill_price(fill, reply.fill_price);
        if (!reply.filled) {  // filled by an amount we cannot read: unknown, naming no new order
          reply.order_id = 0;
          reply.fill_units = Decimal{};
          reply.fill_price = Decimal{};
          return reply;
        }
        reply.fill_units = reply.fill_units.abs();
        (void)id_field(fill, "id", reply.fill_transaction_id);
        (void)parse_time(string_field(fill, "time"), reply.fill_time_ns);
        simdjson::dom::object opened;
        if (fill["tradeOpened"].get(opened) == simdjson::SUCCESS) {
          (void)id_field(opened, "tradeID", reply.fill_trade_opened);
        }
      }
      simdjson::dom::object replacing;
      if (root["replacingOrderCancelTransaction"].get(replacing) == simdjson::SUCCESS) {
        // Taken only when it cancels the replacement itself.
        std::uint64_t cancelled = 0;
        if (!id_field(replacing, "orderID", cancelled) || cancelled != reply.order_id ||
            !id_field(replacing, "id", reply.replacement_cancel_transaction_id)) {
          ReplaceReply unknown;  // naming no new order
          unknown.kind = reply.kind;
          unknown.last_transaction_id = reply.last_transaction_id;
          return unknown;
        }
        reply.replacement_canceled = true;
        reply.replacement_cancel_reason = code_of<ReasonCode::kCapacity>(string_field(replacing, "reason"));
        (void)parse_time(string_field(replacing, "time"), reply.replacement_cancel_time_ns);
      }
      reply.outcome = ReplaceOutcome::replaced;
      return reply;
    }
    if (has_cancel && has_reject) {
      if (reply.reject_reason.empty()) reply.reject_reason = status_code(status);
      reply.outcome = ReplaceOutcome::create_rejected;
    }
    return reply;  // else unknown
  }
  if (reply.kind == ReplyKind::unknown) return reply;  // 5xx: anything may have happened
  simdjson::dom::object cancel_reject;
  const bool has_cancel_reject = root["orderCancelRejectTransaction"].get(cancel_reject) == simdjson::SUCCESS;
  if (has_cancel_reject && has_cancel) return reply;  // both cancelled and not: unknown
  if (has_cancel_reject) {
    reply.reject_reason = code_of<ReasonCode::kCapacity>(string_field(cancel_reject, "rejectReason"));
  }
  if (reply.reject_reason.empty()) reply.reject_reason = code_of<ReasonCode::kCapacity>(string_field(root, "errorCode"));
  if (reply.reject_reason.empty()) reply.reject_reason = status_code(status);
  if (has_cancel) {
    // The original went; the replacement did not (a 4xx with a cancel is only
    // a create reject).
    if (has_reject) reply.outcome = ReplaceOutcome::create_rejected;
    return reply;
  }
  reply.outcome = has_cancel_reject ? ReplaceOutcome::cancel_rejected : ReplaceOutcome::refused;
  return reply;
}

bool OandaCodec::parse_prices(std::string_view body, std::vector<PriceUpdate>& out) {
  out.clear();
  simdjson::dom::object root;
  if (!impl_->parse(body, root)) return false;
  simdjson::dom::array prices;
  if (root["prices"].get(prices) != simdjson::SUCCESS) return false;
  for (simdjson::dom::element element : prices) {
    simdjson::dom::object price;
    if (element.get(price) != simdjson::SUCCESS) return false;
    PriceUpdate update;
    update.instrument = std::string(string_field(price, "instrument"));
    // Top of book: the first bucket of each side (closeoutBid/Ask as a fallback).
    simdjson::dom::array bids;
    simdjson::dom::array asks;
    simdjson::dom::object best;
    bool have_bid = false;
    bool have_ask = false;
    if (price["bids"].get(bids) == simdjson::SUCCESS && bids.at(0).get(best) == simdjson::SUCCESS) {
      have_bid = decimal_field(best, "price", update.bid);
    }
    if (price["asks"].get(asks) == simdjson::SUCCESS && asks.at(0).get(best) == simdjson::SUCCESS) {
      have_ask = decimal_field(best, "price", update.ask);
    }
    if (!have_bid) have_bid = decimal_field(price, "closeoutBid", update.bid);
    if (!have_ask) have_ask = decimal_field(price, "closeoutAsk", update.ask);
    bool tradeable = true;
    if (price["tradeable"].get(tradeable) == simdjson::SUCCESS) update.tradeable = tradeable;
    if (update.instrument.empty() || !have_bid || !have_ask) continue;
    out.push_back(std::move(update));
  }
  return true;
}

bool OandaCodec::parse_transactions(std::string_view body, std::vector<Transaction>& out,
                                    std::uint64_t& last_transaction_id) {
  out.clear();
  simdjson::dom::object root;
  if (!impl_->parse(body, root)) return false;
  simdjson::dom::array transactions;
  if (root["transactions"].get(transactions) != simdjson::SUCCESS) return false;
  if (!id_field(root, "lastTransactionID", last_transaction_id)) return false;
  for (simdjson::dom::element element : transactions) {
    simdjson::dom::object transaction;
    if (element.get(transaction) != simdjson::SUCCESS) return false;
    out.push_back(read_transaction(transaction));
  }
  return true;
}

bool OandaCodec::parse_pending_orders(std::string_view body, std::vector<PendingOrder>& out,
                                      std::uint64_t& last_transaction_id) {
  out.clear();
  simdjson::dom::object root;
  if (!impl_->parse(body, root)) return false;
  simdjson::dom::array orders;
  if (root["orders"].get(orders) != simdjson::SUCCESS) return false;
  if (!id_field(root, "lastTransactionID", last_transaction_id)) return false;
  for (simdjson::dom::element element : orders) {
    simdjson::dom::object object;
    PendingOrder order;
    if (element.get(object) != simdjson::SUCCESS || !read_pending_order(object, order)) {
      out.clear();
      return false;
    }
    out.push_back(std::move(order));
  }
  return true;
}

bool OandaCodec::parse_open_positions(std::string_view body, std::vector<OpenPosition>& out,
                                      std::uint64_t& last_transaction_id) {
  out.clear();
  simdjson::dom::object root;
  if (!impl_->parse(body, root)) return false;
  simdjson::dom::array positions;
  if (root["positions"].get(positions) != simdjson::SUCCESS) return false;
  if (!id_field(root, "lastTransactionID", last_transaction_id)) return false;
  for (simdjson::dom::element element : positions) {
    simdjson::dom::object position;
    simdjson::dom::object long_side;
    simdjson::dom::object short_side;
    Decimal long_units;
    Decimal short_units;
    OpenPosition open;
    if (element.get(position) != simdjson::SUCCESS || position["long"].get(long_side) != simdjson::SUCCESS ||
        position["short"].get(short_side) != simdjson::SUCCESS || !decimal_field(long_side, "units", long_units) ||
        !decimal_field(short_side, "units", short_units) || long_units.is_negative() ||
        short_units.is_positive() || !Decimal::add(long_units, short_units, open.net)) {
      out.clear();
      return false;
    }
    open.instrument = std::string(code_of<32>(string_field(position, "instrument")).view());
    if (open.instrument.empty()) {
      out.clear();
      return false;
    }
    if (!open.net.is_zero()) out.push_back(std::move(open));
  }
  return true;
}

bool OandaCodec::parse_last_transaction_id(std::string_view body, std::uint64_t& last_transaction_id) {
  simdjson::dom::object root;
  if (!impl_->parse(body, root)) return false;
  if (id_field(root, "lastTransactionID", last_transaction_id)) return true;
  simdjson::dom::object account;
  return root["account"].get(account) == simdjson::SUCCESS &&
         id_field(account, "lastTransactionID", last_transaction_id);
}

ReasonCode OandaCodec::error_code(std::string_view body) {
  simdjson::dom::object root;
  if (!impl_->parse(body, root)) return {};
  return code_of<ReasonCode::kCapacity>(string_field(root, "errorCode"));
}

}  // namespace ordergate::adapters::oanda
