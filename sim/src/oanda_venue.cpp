#include "oanda_venue.hpp"

#include <algorithm>

namespace ordergate::sim {

namespace {

constexpr std::size_t kMaxClientIdLength = 128;
constexpr std::size_t kSinceIdPage = 1000;
const Decimal kMaxUnits = Decimal::from_integer(100'000'000);

enum class Field { missing, ok, wrong_type };

Field string_field(const simdjson::dom::object& object, std::string_view name, std::string_view& out) {
  simdjson::dom::element element;
  if (object[name].get(element) != simdjson::SUCCESS) return Field::missing;
  if (element.is_null()) return Field::missing;
  if (element.get_string().get(out) != simdjson::SUCCESS) return Field::wrong_type;
  return Field::ok;
}

Field object_field(const simdjson::dom::object& object, std::string_view name, simdjson::dom::object& out) {
  simdjson::dom::element element;
  if (object[name].get(element) != simdjson::SUCCESS) return Field::missing;
  if (element.is_null()) return Field::missing;
  if (element.get_object().get(out) != simdjson::SUCCESS) return Field::wrong_type;
  return Field::ok;
}

std::string order_type_name(const std::string& type) { return type + "_ORDER"; }

std::string decode_segment(std::string_view segment) {
  auto decoded = percent_decode(segment, false);
  return decoded ? *decoded : std::string(segment);
}

/// Quote-currency notional of `units` at `price`, in 1e-18 units, converted
/// to USD when the instrument has a USD leg.
int128 usd_notional_raw(const std::string& instrument, Decimal price, Decimal units) {
  const Decimal size = units.abs();
  const std::size_t underscore = instrument.find('_');
  const std::string base = instrument.substr(0, underscore);
  if (base == "USD") return Decimal::product_raw(size, Decimal::from_integer(1));
  return Decimal::product_raw(size, price);
}

}  // namespace

OandaVenue::OandaVenue(OandaConfig config, security::Secret token, PriceBoard& board, FaultInjector& faults,
                       Stats& stats, const Logger& log)
    : config_(std::move(config)), token_(std::move(token)), board_(board), faults_(faults), stats_(stats), log_(log) {
  const std::string now = rfc3339(wall_ns());
  for (const auto& id : config_.accounts) {
    Account account;
    account.id = id;
    const auto parts = split(id, '-');
    account.user_id = std::max<std::int64_t>(1, parts.size() == 4 ? parse_int(parts[2]).value_or(1) : 1);
    account.created_time = now;
    account.balance = config_.balance;
    // Transaction 1 opens the account, as on a real v20 account.
    JsonWriter create;
    create.begin_object()
        .member("id", "1")
        .member("time", now)
        .member_int("userID", account.user_id)
        .member("accountID", id)
        .member("batchID", "1")
        .member("requestID", "1")
        .member("type", "CREATE")
        .member("divisionID", "1")
        .member("siteID", "101")
        .member("accountUserID", std::to_string(account.user_id))
        .member_int("accountNumber", 1)
        .member("homeCurrency", "USD")
        .end_object();
    account.transactions.push_back(create.take());
    accounts_.emplace(id, std::move(account));
  }
  board_.on_change([this](const Instrument& instrument) {
    if (instrument.venue == Venue::oanda) on_price(instrument);
  });
}

// ---------------------------------------------------------------------------
// Request plumbing

HttpResponse OandaVenue::reply(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  response.add_header("RequestID", std::to_string(next_request_id_++));
  return response;
}

HttpResponse OandaVenue::error(int status, const std::string& message, const std::string& code) {
  JsonWriter out;
  out.begin_object();
  if (!code.empty()) out.member("errorCode", code);
  out.member("errorMessage", message).end_object();
  return reply(status, out.take());
}

OandaVenue::Batch OandaVenue::new_batch() {
  Batch batch;
  batch.request_id = std::to_string(next_request_id_);
  return batch;
}

std::string OandaVenue::last_id(const Account& account) const { return std::to_string(account.transactions.size()); }

HttpResponse OandaVenue::handle(const HttpRequest& request) {
  const std::string_view authorization = request.header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() || authorization.substr(0, kBearer.size()) != kBearer ||
      !token_.equals(authorization.substr(kBearer.size()))) {
    return error(401, "Insufficient authorization to perform request.");
  }

  if (config_.requests_per_second > 0) {
    const std::int64_t second = wall_ms() / 1000;
    if (connection_rate_.size() > 1024) {
      std::erase_if(connection_rate_, [&](const auto& entry) { return entry.second.first != second; });
    }
    auto& [window, count] = connection_rate_[request.connection_id];
    if (window != second) {
      window = second;
      count = 0;
    }
    if (++count > config_.requests_per_second) {
      return error(429, "Too many requests on this connection (limit " +
                            std::to_string(config_.requests_per_second) + " per second)");
    }
  }

  // /v3/accounts/{accountID}/...
  const auto segments = split(request.path, '/');
  if (segments.size() == 3 && segments[0].empty() && segments[1] == "v3" && segments[2] == "accounts") {
    if (request.method != "GET") return error(405, "The requested method is not allowed for this resource");
    JsonWriter out;
    out.begin_object().key("accounts").begin_array();
    for (const auto& [id, account] : accounts_) {
      out.begin_object().member("id", id).key("tags").begin_array().end_array().end_object();
    }
    out.end_array().end_object();
    return reply(200, out.take());
  }
  if (segments.size() < 4 || !segments[0].empty() || segments[1] != "v3" || segments[2] != "accounts") {
    return error(404, "The requested resource does not exist in ordergate-sim");
  }
  const std::string account_id = decode_segment(segments[3]);
  const auto account = accounts_.find(account_id);
  if (account == accounts_.end()) return error(403, "The provided request was forbidden.");
  std::vector<std::string> rest;
  for (std::size_t i = 4; i < segments.size(); ++i) rest.push_back(decode_segment(segments[i]));
  return route(request, account->second, rest);
}

HttpResponse OandaVenue::route(const HttpRequest& request, Account& account, const std::vector<std::string>& rest) {
  const std::string& method = request.method;
  const auto is = [&](std::initializer_list<const char*> path) {
    if (path.size() != rest.size()) return false;
    std::size_t i = 0;
    for (const char* part : path) {
      if (part[0] != '*' && rest[i] != part) return false;
      ++i;
    }
    return true;
  };
  const auto method_not_allowed = [&] { return error(405, "The requested method is not allowed for this resource"); };

  if (is({"orders"})) {
    if (method == "POST") return create_order(request, account);
    if (method == "GET") return list_pending(account);
    return method_not_allowed();
  }
  if ((is({"pendingOrders"}) || is({"openPositions"})) && method == "GET" && faults_.fail_holdings_read(stats_)) {
    return error(503, "Service unavailable (ordergate-sim injected fault)");
  }
  if (is({"pendingOrders"})) return method == "GET" ? list_pending(account) : method_not_allowed();
  if (is({"openPositions"})) return method == "GET" ? open_positions(account) : method_not_allowed();
  if (is({"orders", "*"})) {
    if (method == "GET") return get_order(account, rest[1]);
    if (method == "PUT") return replace_order(request, account, rest[1]);
    return method_not_allowed();
  }
  if (is({"orders", "*", "cancel"})) return method == "PUT" ? cancel_order(account, rest[1]) : method_not_allowed();
  if (is({"pricing"})) return method == "GET" ? pricing(request) : method_not_allowed();
  if (is({"transactions", "stream"})) return method == "GET" ? open_stream(account) : method_not_allowed();
  if (is({"transactions", "sinceid"})) {
    return method == "GET" ? transactions_since(request, account) : method_not_allowed();
  }
  if (is({"transactions", "*"})) return method == "GET" ? transaction_by_id(account, rest[1]) : method_not_allowed();
  if (is({"summary"}) || rest.empty()) return method == "GET" ? summary(account) : method_not_allowed();
  return error(404, "The requested resource does not exist in ordergate-sim");
}

// ---------------------------------------------------------------------------
// Transactions

JsonWriter OandaVenue::begin_transaction(Account& account, Batch& batch, const char* type, std::uint64_t& id) {
  id = account.transactions.size() + 1;
  if (batch.batch_id == 0) batch.batch_id = id;
  JsonWriter out;
  out.begin_object()
      .member("id", std::to_string(id))
      .member("time", rfc3339(wall_ns()))
      .member_int("userID", account.user_id)
      .member("accountID", account.id)
      .member("batchID", std::to_string(batch.batch_id))
      .member("requestID", batch.request_id)
      .member("type", type);
  return out;
}

void OandaVenue::commit_transaction(Account& account, Batch& batch, std::uint64_t id, JsonWriter& writer,
                                   std::string* role) {
  writer.end_object();
  std::string text = writer.take();
  account.transactions.push_back(text);
  batch.ids.push_back(id);
  for (auto it = account.streams.begin(); it != account.streams.end();) {
    auto sink = it->sink.lock();
    if (!sink || !sink->is_open()) {
      it = account.streams.erase(it);
      continue;
    }
    sink->send_line(text);
    ++it;
  }
  if (role != nullptr) *role = std::move(text);
}

std::string OandaVenue::format_price(const Instrument* instrument, Decimal price) const {
  return format_decimal(price, instrument != nullptr ? instrument->price_digits : 0);
}

void OandaVenue::write_order_fields(JsonWriter& out, const Order& order, const Instrument* instrument) const {
  out.member("instrument", order.instrument).member("units", order.units.to_string());
  if (order.price) out.member("price", format_price(instrument, *order.price));
  if (order.price_bound) out.member("priceBound", format_price(instrument, *order.price_bound));
  out.member("timeInForce", order.time_in_force);
  if (!order.gtd_time.empty()) out.member("gtdTime", order.gtd_time);
  out.member("positionFill", order.position_fill);
  if (order.type != "MARKET") out.member("triggerCondition", order.trigger_condition);
  if (!order.client_id.empty() || !order.client_tag.empty() || !order.client_comment.empty()) {
    out.key("clientExtensions").begin_object();
    if (!order.client_id.empty()) out.member("id", order.client_id);
    if (!order.client_tag.empty()) out.member("tag", order.client_tag);
    if (!order.client_comment.empty()) out.member("comment", order.client_comment);
    out.end_object();
  }
  if (order.take_profit) {
    out.key("takeProfitOnFill").begin_object().member("price", format_price(instrument, *order.take_profit))
        .member("timeInForce", "GTC").end_object();
  }
  if (order.stop_loss) {
    out.key("stopLossOnFill").begin_object().member("price", format_price(instrument, *order.stop_loss))
        .member("timeInForce", "GTC").end_object();
  }
}

void OandaVenue::write_order(JsonWriter& out, const Order& order) const {
  const Instrument* instrument = board_.find(Venue::oanda, order.instrument);
  out.begin_object()
      .member("id", std::to_string(order.id))
      .member("createTime", order.create_time)
      .member("type", order.type);
  write_order_fields(out, order, instrument);
  if (order.replaces != 0) out.member("replacesOrderID", std::to_string(order.replaces));
  switch (order.state) {
    case OrderState::pending: out.member("state", "PENDING"); break;
    case OrderState::filled:
      out.member("state", "FILLED")
          .member("fillingTransactionID", std::to_string(order.filling_transaction))
          .member("filledTime", order.filled_time)
          .member("tradeOpenedID", std::to_string(order.filling_transaction));
      break;
    case OrderState::cancelled:
      out.member("state", "CANCELLED")
          .member("cancellingTransactionID", std::to_string(order.cancelling_transaction))
          .member("cancelledTime", order.cancelled_time);
      if (order.replaced_by != 0) out.member("replacedByOrderID", std::to_string(order.replaced_by));
      break;
  }
  out.end_object();
}

// ---------------------------------------------------------------------------
// Orders

std::optional<HttpResponse> OandaVenue::read_order(const HttpRequest& request, const Account& account, Order& order,
                                                   const Instrument*& instrument, std::optional<RejectInfo>& reject,
                                                   std::uint64_t replacing) {
  simdjson::padded_string body(request.body);
  simdjson::dom::element document;
  if (parser_.parse(body).get(document) != simdjson::SUCCESS) {
    return error(400, "Invalid JSON in request body", "oanda::rest::core::InvalidParameterException");
  }
  simdjson::dom::object spec;
  if (document["order"].get_object().get(spec) != simdjson::SUCCESS) {
    return error(400, "Invalid value specified for 'order'", "oanda::rest::core::InvalidParameterException");
  }
  std::string_view type;
  if (string_field(spec, "type", type) != Field::ok) {
    return error(400, "Invalid value specified for 'order.type'", "oanda::rest::core::InvalidParameterException");
  }
  if (type != "MARKET" && type != "LIMIT" && type != "STOP") {
    return error(400, "Order type '" + std::string(type) + "' is not supported by ordergate-sim",
                 "oanda::rest::core::InvalidParameterException");
  }

  order.type = std::string(type);
  order.position_fill = "DEFAULT";
  order.trigger_condition = "DEFAULT";
  order.time_in_force = order.type == "MARKET" ? "FOK" : "GTC";

  // Collect the first problem; an unknown instrument has no reject
  // transaction (it fails parameter parsing first, as on the real API).
  const auto refuse = [&](const char* reason, const std::string& message) {
    if (!reject) reject = RejectInfo{reason, message};
  };

  std::string_view text;
  instrument = nullptr;
  switch (string_field(spec, "instrument", text)) {
    case Field::missing: refuse("INSTRUMENT_MISSING", "Order instrument has not been specified"); break;
    case Field::wrong_type:
      return error(400, "Invalid value specified for 'order.instrument'", "oanda::rest::core::InvalidParameterException");
    case Field::ok:
      order.instrument = std::string(text);
      instrument = board_.find(Venue::oanda, order.instrument);
      if (instrument == nullptr) {
        return error(400, "Invalid value specified for 'order.instrument'",
                     "oanda::rest::core::InvalidParameterException");
      }
      break;
  }

  switch (string_field(spec, "units", text)) {
    case Field::missing: refuse("UNITS_MISSING", "Order units have not been specified"); break;
    case Field::wrong_type: refuse("UNITS_INVALID", "Order units must be a decimal string"); break;
    case Field::ok: {
      const auto units = parse_decimal(text);
      if (!units || units->is_zero()) {
        refuse("UNITS_INVALID", "Order units specified are invalid");
      } else if (units->fraction_digits() > 0) {
        refuse("UNITS_PRECISION_EXCEEDED", "The units specified contain more precision than is allowed");
      } else if (units->abs() > kMaxUnits) {
        refuse("UNITS_LIMIT_EXCEEDED", "The units specified exceeds the maximum number of units allowed");
      } else {
        order.units = *units;
      }
      break;
    }
  }

  if (string_field(spec, "timeInForce", text) == Field::ok) order.time_in_force = std::string(text);
  const std::string& tif = order.time_in_force;
  const bool tif_known = tif == "GTC" || tif == "GTD" || tif == "GFD" || tif == "FOK" || tif == "IOC";
  if (!tif_known || (order.type == "MARKET" && tif != "FOK" && tif != "IOC") ||
      (order.type == "STOP" && (tif == "FOK" || tif == "IOC"))) {
    refuse("TIME_IN_FORCE_INVALID", "The TimeInForce specified is invalid");
  }

  const auto read_price = [&](std::string_view name, const char* missing, const char* invalid, const char* precision,
                              std::optional<Decimal>& out, bool required) {
    switch (string_field(spec, name, text)) {
      case Field::missing:
        if (required) refuse(missing, "The price has not been specified");
        return;
      case Field::wrong_type: refuse(invalid, "The price specified is invalid"); return;
      case Field::ok: {
        const auto price = parse_decimal(text);
        if (!price || !price->is_positive()) {
          refuse(invalid, "The price specified is invalid");
        } else if (instrument != nullptr && price->fraction_digits() > instrument->price_digits) {
          refuse(precision, "The price specified contains more precision than is allowed for the instrument");
        } else {
          out = *price;
        }
        return;
      }
    }
  };
  if (order.type != "MARKET") {
    read_price("price", "PRICE_MISSING", "PRICE_INVALID", "PRICE_PRECISION_EXCEEDED", order.price, true);
  }
  if (order.type != "LIMIT") {
    read_price("priceBound", "", "PRICE_BOUND_INVALID", "PRICE_BOUND_PRECISION_EXCEEDED", order.price_bound, false);
  }

  if (string_field(spec, "positionFill", text) == Field::ok) {
    order.position_fill = std::string(text);
    if (text != "DEFAULT" && text != "OPEN_ONLY" && text != "REDUCE_FIRST" && text != "REDUCE_ONLY") {
      refuse("ORDER_FILL_POSITION_ACTION_INVALID", "The OrderFillPositionAction specified is invalid");
    }
  }
  if (string_field(spec, "triggerCondition", text) == Field::ok) order.trigger_condition = std::string(text);

  if (tif == "GTD") {
    if (string_field(spec, "gtdTime", text) != Field::ok) {
      refuse("TIME_IN_FORCE_GTD_TIMESTAMP_MISSING", "The TimeInForce is GTD but no GTD timestamp is provided");
    } else {
      const auto when = parse_time_ns(text);
      if (!when) {
        return error(400, "Invalid value specified for 'order.gtdTime'", "oanda::rest::core::InvalidParameterException");
      }
      order.gtd_time = std::string(text);
      order.gtd_ns = *when;
      if (*when <= wall_ns()) {
        refuse("TIME_IN_FORCE_GTD_TIMESTAMP_IN_PAST", "The TimeInForce is GTD but the GTD timestamp is in the past");
      }
    }
  }

  simdjson::dom::object nested;
  if (object_field(spec, "clientExtensions", nested) == Field::ok) {
    if (string_field(nested, "id", text) == Field::ok && !text.empty()) {
      if (text.size() > kMaxClientIdLength || text.front() == '@') {
        refuse("CLIENT_ORDER_ID_INVALID", "The client Order ID specified is invalid");
      } else {
        order.client_id = std::string(text);
      }
    }
    if (string_field(nested, "tag", text) == Field::ok) order.client_tag = std::string(text);
    if (string_field(nested, "comment", text) == Field::ok) order.client_comment = std::string(text);
  }
  const auto read_on_fill = [&](std::string_view name, const char* prefix, std::optional<Decimal>& out) {
    if (object_field(spec, name, nested) != Field::ok) return;
    const std::string p(prefix);
    simdjson::dom::element distance;
    const bool has_distance = nested["distance"].get(distance) == simdjson::SUCCESS;
    std::string_view price_text;
    switch (string_field(nested, "price", price_text)) {
      case Field::missing:
        if (!has_distance) refuse((p + "_PRICE_MISSING").c_str(), "The on-fill order does not provide a price");
        return;
      case Field::wrong_type: refuse((p + "_PRICE_INVALID").c_str(), "The on-fill price is invalid"); return;
      case Field::ok: {
        const auto price = parse_decimal(price_text);
        if (!price || !price->is_positive()) {
          refuse((p + "_PRICE_INVALID").c_str(), "The on-fill price is invalid");
        } else if (instrument != nullptr && price->fraction_digits() > instrument->price_digits) {
          refuse((p + "_PRICE_PRECISION_EXCEEDED").c_str(), "The on-fill price has too much precision");
        } else {
          out = *price;
        }
      }
    }
  };
  read_on_fill("stopLossOnFill", "STOP_LOSS_ON_FILL", order.stop_loss);
  read_on_fill("takeProfitOnFill", "TAKE_PROFIT_ON_FILL", order.take_profit);

  if (!reject && !order.client_id.empty()) {
    for (const auto id : account.pending) {
      // The order a replacement replaces gives its id up.
      if (id != replacing && account.orders.at(id).client_id == order.client_id) {
        refuse("CLIENT_ORDER_ID_ALREADY_EXISTS", "The client Order ID specified is already assigned to another pending Order");
        break;
      }
    }
  }
  return std::nullopt;
}

HttpResponse OandaVenue::reject_order(Account& account, Batch& batch, const Order& order, const Instrument* instrument,
                                      const RejectInfo& reject, std::uint64_t replaces,
                                      const std::string& cancel_text) {
  std::uint64_t id = 0;
  JsonWriter tx = begin_transaction(account, batch, (order_type_name(order.type) + "_REJECT").c_str(), id);
  write_order_fields(tx, order, instrument);
  if (replaces != 0) tx.member("replacesOrderID", std::to_string(replaces));
  tx.member("reason", replaces != 0 ? "REPLACEMENT" : "CLIENT_ORDER").member("rejectReason", reject.reason);
  std::string reject_text;
  commit_transaction(account, batch, id, tx, &reject_text);
  JsonWriter out;
  out.begin_object();
  if (!cancel_text.empty()) out.member_raw("orderCancelTransaction", cancel_text);
  out.member_raw("orderRejectTransaction", reject_text).key("relatedTransactionIDs").begin_array();
  for (const auto related : batch.ids) out.string(std::to_string(related));
  out.end_array()
      .member("lastTransactionID", last_id(account))
      .member("errorCode", reject.reason)
      .member("errorMessage", reject.message)
      .end_object();
  return reply(400, out.take());
}

HttpResponse OandaVenue::create_order(const HttpRequest& request, Account& account) {
  Order order;
  const Instrument* instrument = nullptr;
  std::optional<RejectInfo> reject;
  if (auto failed = read_order(request, account, order, instrument, reject, 0)) return std::move(*failed);

  Batch batch = new_batch();
  if (reject) return reject_order(account, batch, order, instrument, *reject, 0, {});

  const Fault fault = faults_.decide(stats_);
  if (fault == Fault::fail_before) return error(503, "Service unavailable (ordergate-sim injected fault)");

  std::uint64_t id = 0;
  JsonWriter tx = begin_transaction(account, batch, order_type_name(order.type).c_str(), id);
  order.id = id;
  order.create_time = rfc3339(wall_ns());
  write_order_fields(tx, order, instrument);
  tx.member("reason", "CLIENT_ORDER");
  commit_transaction(account, batch, id, tx, &batch.create);
  auto [slot, inserted] = account.orders.emplace(id, std::move(order));
  account.pending.insert(id);
  if (!slot->second.client_id.empty()) account.by_client_id[slot->second.client_id].push_back(id);
  execute_new_order(account, slot->second, *instrument, batch);

  if (fault == Fault::fail_after) return error(503, "Service unavailable (ordergate-sim injected fault)");

  JsonWriter out;
  out.begin_object().member_raw("orderCreateTransaction", batch.create);
  if (!batch.fill.empty()) out.member_raw("orderFillTransaction", batch.fill);
  if (!batch.cancel.empty()) out.member_raw("orderCancelTransaction", batch.cancel);
  out.key("relatedTransactionIDs").begin_array();
  for (const auto related : batch.ids) out.string(std::to_string(related));
  out.end_array().member("lastTransactionID", last_id(account)).end_object();
  HttpResponse response = reply(201, out.take());
  response.add_header("Location", "/v3/accounts/" + account.id + "/orders/" + std::to_string(id));
  return response;
}

void OandaVenue::execute_new_order(Account& account, Order& order, const Instrument& instrument, Batch& batch) {
  const bool buy = order.units.is_positive();
  const Decimal touch = buy ? instrument.ask : instrument.bid;
  const bool immediate = order.time_in_force == "FOK" || order.time_in_force == "IOC";

  bool executable = false;
  if (order.type == "MARKET") {
    executable = true;
  } else if (order.type == "LIMIT") {
    executable = buy ? instrument.ask <= *order.price : instrument.bid >= *order.price;
  } else {  // STOP
    executable = buy ? instrument.ask >= *order.price : instrument.bid <= *order.price;
  }

  if (instrument.halted) {
    if (order.type == "MARKET" || immediate) cancel(account, order, "MARKET_HALTED", batch);
    return;  // pending orders wait for trading to resume
  }
  if (!executable) {
    if (immediate) cancel(account, order, "BOUNDS_VIOLATION", batch);
    return;
  }
  if (order.price_bound && (buy ? touch > *order.price_bound : touch < *order.price_bound)) {
    cancel(account, order, "BOUNDS_VIOLATION", batch);
    return;
  }
  const std::string reason = order.type + "_ORDER";
  const Decimal wanted = order.units.abs();
  if (immediate && wanted > instrument.depth) {
    if (order.time_in_force == "FOK") {
      cancel(account, order, "INSUFFICIENT_LIQUIDITY", batch);
      return;
    }
    const Decimal part = buy ? instrument.depth : -instrument.depth;
    fill_order(account, order, instrument, touch, part, reason, batch, false);
    if (order.state == OrderState::pending) cancel(account, order, "INSUFFICIENT_LIQUIDITY", batch);
    return;
  }
  fill_order(account, order, instrument, touch, order.units, reason, batch, true);
}

std::optional<std::string> OandaVenue::margin_problem(const Account& account, const Order& order,
                                                      const Instrument& instrument, Decimal price,
                                                      Decimal units) const {
  const auto held = account.positions.find(order.instrument);
  const Decimal before = held == account.positions.end() ? Decimal{} : held->second;
  Decimal after;
  if (!Decimal::add(before, units, after)) return "INSUFFICIENT_MARGIN";
  if (after.abs() <= before.abs()) return std::nullopt;  // reducing never needs margin
  int128 used = 0;
  for (const auto& [name, position] : account.positions) {
    if (name == order.instrument || position.is_zero()) continue;
    const Instrument* other = board_.find(Venue::oanda, name);
    const Decimal mid = other != nullptr ? other->ask : Decimal::from_integer(1);
    used += usd_notional_raw(name, mid, position);
  }
  used += usd_notional_raw(instrument.name, price, after);
  // used (1e-18) * rate (1e-9) vs balance (1e-9): scale balance by 1e18.
  const int128 required = used / Decimal::kScale * config_.margin_rate.raw() / Decimal::kScale;
  const int128 available = account.balance.raw();
  if (required > available) return "INSUFFICIENT_MARGIN";
  return std::nullopt;
}

// What OANDA does with a REDUCE_ONLY order that would open or grow a
// position is not in the reference we have; the simulator fills the part
// that reduces the position and cancels the rest (all of it when nothing
// reduces) with this reason, like an IOC remainder.
constexpr const char* kReduceOnlyCancel = "REDUCE_ONLY_NO_POSITION";

void OandaVenue::fill_order(Account& account, Order& order, const Instrument& instrument, Decimal price,
                            Decimal units, const std::string& fill_reason, Batch& batch, bool complete) {
  bool reduce_only_remainder = false;
  if (order.position_fill == "REDUCE_ONLY") {
    const auto held_at = account.positions.find(order.instrument);
    const Decimal held = held_at == account.positions.end() ? Decimal{} : held_at->second;
    const bool reduces = held.is_positive() ? units.is_negative() : held.is_negative() && units.is_positive();
    if (!reduces) {
      cancel(account, order, kReduceOnlyCancel, batch);
      return;
    }
    if (units.abs() > held.abs()) {
      units = -held;
      complete = false;
      reduce_only_remainder = true;
    }
  }
  if (auto problem = margin_problem(account, order, instrument, price, units)) {
    cancel(account, order, *problem, batch);
    return;
  }
  const bool buy = units.is_positive();
  // A protective price on the wrong side of the fill would close the new
  // trade at once: OANDA cancels the order instead.
  if (order.stop_loss && (buy ? *order.stop_loss >= price : *order.stop_loss <= price)) {
    cancel(account, order, "STOP_LOSS_ON_FILL_LOSS", batch);
    return;
  }
  if (order.take_profit && (buy ? *order.take_profit <= price : *order.take_profit >= price)) {
    cancel(account, order, "TAKE_PROFIT_ON_FILL_LOSS", batch);
    return;
  }

  std::uint64_t opened = 0;
  const std::uint64_t id = book_fill(account, order, instrument, price, units, fill_reason, batch, opened);
  if (id == 0) {
    cancel(account, order, "INTERNAL_SERVER_ERROR", batch);
    return;
  }
  if (complete) {
    account.pending.erase(order.id);
    order.state = OrderState::filled;
    order.filling_transaction = id;
    order.filled_time = rfc3339(wall_ns());
  }
  // Dependent orders of the trade the fill opened: pending orders that
  // trigger_dependents fills when the market reaches their level.
  const auto dependent = [&](const char* type, const char* kind, Decimal level) -> std::uint64_t {
    std::uint64_t dependent_id = 0;
    JsonWriter out = begin_transaction(account, batch, type, dependent_id);
    out.member("tradeID", std::to_string(opened))
        .member("price", format_price(&instrument, level))
        .member("timeInForce", "GTC")
        .member("triggerCondition", "DEFAULT")
        .member("reason", "ON_FILL");
    commit_transaction(account, batch, dependent_id, out, nullptr);
    Order protective;
    protective.id = dependent_id;
    protective.type = kind;
    protective.instrument = order.instrument;
    protective.price = level;
    protective.time_in_force = "GTC";
    protective.position_fill = "REDUCE_ONLY";
    protective.trigger_condition = "DEFAULT";
    protective.create_time = rfc3339(wall_ns());
    protective.trade_id = opened;
    account.orders.emplace(dependent_id, std::move(protective));
    account.pending.insert(dependent_id);
    return dependent_id;
  };
  if (opened != 0) {
    Trade& trade = account.trades.at(opened);
    if (order.take_profit) trade.take_profit_order = dependent("TAKE_PROFIT_ORDER", "TAKE_PROFIT", *order.take_profit);
    if (order.stop_loss) trade.stop_loss_order = dependent("STOP_LOSS_ORDER", "STOP_LOSS", *order.stop_loss);
  }
  if (reduce_only_remainder && order.state == OrderState::pending) cancel(account, order, kReduceOnlyCancel, batch);
}

std::uint64_t OandaVenue::book_fill(Account& account, const Order& order, const Instrument& instrument, Decimal price,
                                    Decimal units, const std::string& fill_reason, Batch& batch,
                                    std::uint64_t& opened) {
  opened = 0;
  Decimal& position = account.positions[order.instrument];
  Decimal after;
  if (!Decimal::add(position, units, after)) return 0;
  position = after;

  const std::uint64_t id = account.transactions.size() + 1;  // the fill's id, as begin_transaction gives it
  // Close or reduce the opposite trades, oldest first.
  struct Closed {
    std::uint64_t trade;
    Decimal units;  // signed, as the closing fill moved it
    bool whole;
  };
  std::vector<Closed> closed;
  Decimal remaining = units;
  for (auto& [trade_id, trade] : account.trades) {
    if (remaining.is_zero()) break;
    if (trade.instrument != order.instrument || trade.units.is_positive() == remaining.is_positive()) continue;
    const Decimal take = trade.units.abs() <= remaining.abs() ? -trade.units : remaining;
    (void)Decimal::add(trade.units, take, trade.units);
    (void)Decimal::sub(remaining, take, remaining);
    closed.push_back({trade_id, take, trade.units.is_zero()});
  }
  if (!remaining.is_zero()) {
    Trade trade;
    trade.id = id;
    trade.instrument = order.instrument;
    trade.units = remaining;
    trade.price = price;
    account.trades.emplace(id, std::move(trade));
    opened = id;
  }

  const std::string price_text = format_price(&instrument, price);
  std::uint64_t check = 0;
  JsonWriter tx = begin_transaction(account, batch, "ORDER_FILL", check);
  tx.member("orderID", std::to_string(order.id));
  if (!order.client_id.empty()) tx.member("clientOrderID", order.client_id);
  tx.member("instrument", order.instrument)
      .member("units", units.to_string())
      .member("price", price_text)
      .member("fullVWAP", price_text);
  tx.key("fullPrice")
      .begin_object()
      .member("type", "PRICE")
      .key("bids").begin_array().begin_object()
      .member("price", format_price(&instrument, instrument.bid))
      .member("liquidity", instrument.depth.to_string())
      .end_object().end_array()
      .key("asks").begin_array().begin_object()
      .member("price", format_price(&instrument, instrument.ask))
      .member("liquidity", instrument.depth.to_string())
      .end_object().end_array()
      .member("closeoutBid", format_price(&instrument, instrument.bid))
      .member("closeoutAsk", format_price(&instrument, instrument.ask))
      .end_object();
  tx.member("reason", fill_reason)
      .member("pl", "0.0000")
      .member("financing", "0.0000")
      .member("commission", "0.0000")
      .member("guaranteedExecutionFee", "0.0000")
      .member("accountBalance", format_decimal(account.balance, 4));
  if (opened != 0) {
    tx.key("tradeOpened")
        .begin_object()
        .member("tradeID", std::to_string(opened))
        .member("units", remaining.to_string())
        .member("price", price_text)
        .member("guaranteedExecutionFee", "0.0000")
        .member("halfSpreadCost", "0.0000")
        .end_object();
  }
  bool any_whole = false;
  for (const Closed& c : closed) any_whole = any_whole || c.whole;
  if (any_whole) {
    tx.key("tradesClosed").begin_array();
    for (const Closed& c : closed) {
      if (!c.whole) continue;
      tx.begin_object()
          .member("tradeID", std::to_string(c.trade))
          .member("units", c.units.to_string())
          .member("price", price_text)
          .member("realizedPL", "0.0000")
          .end_object();
    }
    tx.end_array();
  }
  for (const Closed& c : closed) {
    if (c.whole) continue;
    tx.key("tradeReduced")
        .begin_object()
        .member("tradeID", std::to_string(c.trade))
        .member("units", c.units.to_string())
        .member("price", price_text)
        .member("realizedPL", "0.0000")
        .end_object();
  }
  tx.member("halfSpreadCost", "0.0000");
  commit_transaction(account, batch, check, tx, &batch.fill);
  for (const Closed& c : closed) {
    if (c.whole) close_trade(account, c.trade, batch);
  }
  return check;
}

void OandaVenue::close_trade(Account& account, std::uint64_t trade_id, Batch& batch) {
  const auto found = account.trades.find(trade_id);
  if (found == account.trades.end()) return;
  const Trade trade = found->second;
  account.trades.erase(found);
  for (const std::uint64_t dependent : {trade.stop_loss_order, trade.take_profit_order}) {
    const auto order = account.orders.find(dependent);
    if (dependent == 0 || order == account.orders.end() || order->second.state != OrderState::pending) continue;
    std::string saved = batch.cancel;
    cancel(account, order->second, "LINKED_TRADE_CLOSED", batch);
    batch.cancel = std::move(saved);  // the reply's cancel is the request's own order's
  }
}

void OandaVenue::trigger_dependents(Account& account, const Instrument& instrument) {
  const std::vector<std::uint64_t> ids(account.pending.begin(), account.pending.end());
  for (const auto id : ids) {
    const auto found = account.orders.find(id);
    if (found == account.orders.end()) continue;
    Order& order = found->second;
    if (order.state != OrderState::pending || order.instrument != instrument.name || order.trade_id == 0) continue;
    const auto trade = account.trades.find(order.trade_id);
    if (trade == account.trades.end()) continue;
    // A long trade closes by selling at the bid, a short one by buying at the ask.
    const bool long_trade = trade->second.units.is_positive();
    const Decimal touch = long_trade ? instrument.bid : instrument.ask;
    const bool stop = order.type == "STOP_LOSS";
    const bool triggered = stop ? (long_trade ? touch <= *order.price : touch >= *order.price)
                                : (long_trade ? touch >= *order.price : touch <= *order.price);
    if (!triggered) continue;
    Batch batch = new_batch();
    ++next_request_id_;
    std::uint64_t opened = 0;
    const Decimal units = -trade->second.units;
    const std::uint64_t fill = book_fill(account, order, instrument, touch, units, order.type + "_ORDER", batch, opened);
    if (fill == 0) continue;
    account.pending.erase(id);
    order.state = OrderState::filled;
    order.filling_transaction = fill;
    order.filled_time = rfc3339(wall_ns());
    log_.request("oanda: " + order.type + " order " + std::to_string(id) + " on " + instrument.name + " filled");
  }
}

void OandaVenue::cancel(Account& account, Order& order, const std::string& reason, Batch& batch,
                        std::uint64_t replaced_by) {
  std::uint64_t id = 0;
  JsonWriter tx = begin_transaction(account, batch, "ORDER_CANCEL", id);
  tx.member("orderID", std::to_string(order.id));
  if (!order.client_id.empty()) tx.member("clientOrderID", order.client_id);
  if (replaced_by != 0) tx.member("replacedByOrderID", std::to_string(replaced_by));
  tx.member("reason", reason);
  commit_transaction(account, batch, id, tx, &batch.cancel);
  account.pending.erase(order.id);
  order.state = OrderState::cancelled;
  order.cancelling_transaction = id;
  order.cancelled_time = rfc3339(wall_ns());
  order.replaced_by = replaced_by;
}

OandaVenue::Order* OandaVenue::find_order(Account& account, const std::string& specifier,
                                          bool pending_only_by_client) {
  if (!specifier.empty() && specifier.front() == '@') {
    const auto ids = account.by_client_id.find(specifier.substr(1));
    if (ids == account.by_client_id.end()) return nullptr;
    Order* found = nullptr;
    for (const auto id : ids->second) {
      Order& order = account.orders.at(id);
      if (pending_only_by_client && order.state != OrderState::pending) continue;
      if (found == nullptr || order.state == OrderState::pending || found->state != OrderState::pending) {
        found = &order;
      }
    }
    return found;
  }
  const auto id = parse_int(specifier);
  if (!id || *id <= 0) return nullptr;
  const auto it = account.orders.find(static_cast<std::uint64_t>(*id));
  return it == account.orders.end() ? nullptr : &it->second;
}

HttpResponse OandaVenue::cancel_reject(Account& account, const std::string& specifier) {
  const bool by_client = !specifier.empty() && specifier.front() == '@';
  Batch batch = new_batch();
  std::uint64_t id = 0;
  JsonWriter tx = begin_transaction(account, batch, "ORDER_CANCEL_REJECT", id);
  if (by_client) {
    tx.member("clientOrderID", specifier.substr(1));
  } else {
    tx.member("orderID", specifier);
  }
  tx.member("rejectReason", "ORDER_DOESNT_EXIST");
  std::string text;
  commit_transaction(account, batch, id, tx, &text);
  JsonWriter out;
  out.begin_object()
      .member_raw("orderCancelRejectTransaction", text)
      .key("relatedTransactionIDs").begin_array().string(std::to_string(id)).end_array()
      .member("lastTransactionID", last_id(account))
      .member("errorCode", "ORDER_DOESNT_EXIST")
      .member("errorMessage", "The Order specified does not exist")
      .end_object();
  return reply(404, out.take());
}

HttpResponse OandaVenue::cancel_order(Account& account, const std::string& specifier) {
  Order* order = find_order(account, specifier, true);
  if (order == nullptr || order->state != OrderState::pending) return cancel_reject(account, specifier);
  const Fault fault = faults_.decide(stats_);
  if (fault == Fault::fail_before) return error(503, "Service unavailable (ordergate-sim injected fault)");
  Batch batch = new_batch();
  cancel(account, *order, "CLIENT_REQUEST", batch);
  if (fault == Fault::fail_after) return error(503, "Service unavailable (ordergate-sim injected fault)");
  JsonWriter out;
  out.begin_object()
      .member_raw("orderCancelTransaction", batch.cancel)
      .key("relatedTransactionIDs").begin_array().string(std::to_string(batch.ids.front())).end_array()
      .member("lastTransactionID", last_id(account))
      .end_object();
  return reply(200, out.take());
}

// OANDA's replace: one request that cancels the pending original (ORDER_CANCEL,
// CLIENT_REQUEST_REPLACED, replacedByOrderID) and creates the replacement
// (reason REPLACEMENT, replacesOrderID) from a full order specification, which
// then executes like a new order (a marketable one fills at once; one that
// cannot be kept is cancelled: replacingOrderCancelTransaction). An original
// that is not pending: 404 ORDER_DOESNT_EXIST with an
// orderCancelRejectTransaction; an invalid replacement: 400 with an
// orderRejectTransaction, the original untouched. Armed faults: the cancel
// refused (404), or the replacement rejected after the cancel (400 with both
// transactions); an order fault applies to the whole request (503 before
// anything, or after both steps).
HttpResponse OandaVenue::replace_order(const HttpRequest& request, Account& account, const std::string& specifier) {
  Order* original = find_order(account, specifier, true);
  Order order;
  const Instrument* instrument = nullptr;
  std::optional<RejectInfo> reject;
  if (auto failed = read_order(request, account, order, instrument, reject, original != nullptr ? original->id : 0)) {
    return std::move(*failed);
  }
  const bool force_cancel = faults_.fail_replace_cancel(stats_);
  const bool force_create = faults_.fail_replace_new(stats_);
  if (force_cancel || original == nullptr || original->state != OrderState::pending) {
    log_.request("oanda: replace " + specifier + " -> cancel rejected");
    return cancel_reject(account, specifier);
  }
  if (original->trade_id != 0) {
    return error(400, "Replacing a trade's dependent order is not supported by ordergate-sim",
                 "oanda::rest::core::InvalidParameterException");
  }
  const std::uint64_t original_id = original->id;
  Batch batch = new_batch();
  if (reject) {
    log_.request("oanda: replace " + specifier + " -> replacement rejected " + reject->reason);
    return reject_order(account, batch, order, instrument, *reject, original_id, {});
  }

  const Fault fault = faults_.decide(stats_);
  if (fault == Fault::fail_before) return error(503, "Service unavailable (ordergate-sim injected fault)");

  // The replacement's create follows the cancel: its id is the next one.
  const std::uint64_t replacement_id = account.transactions.size() + 2;
  cancel(account, *original, "CLIENT_REQUEST_REPLACED", batch, force_create ? 0 : replacement_id);
  const std::string cancel_text = std::move(batch.cancel);
  batch.cancel.clear();
  if (force_create) {
    log_.request("oanda: replace " + specifier + " -> cancelled, replacement rejected");
    HttpResponse rejected = reject_order(account, batch, order, instrument,
                                         RejectInfo{"INSUFFICIENT_MARGIN", "Insufficient margin (ordergate-sim injected fault)"},
                                         original_id, cancel_text);
    if (fault == Fault::fail_after) return error(503, "Service unavailable (ordergate-sim injected fault)");
    return rejected;
  }

  std::uint64_t id = 0;
  JsonWriter tx = begin_transaction(account, batch, order_type_name(order.type).c_str(), id);
  order.id = id;
  order.create_time = rfc3339(wall_ns());
  order.replaces = original_id;
  write_order_fields(tx, order, instrument);
  tx.member("replacesOrderID", std::to_string(original_id)).member("reason", "REPLACEMENT");
  commit_transaction(account, batch, id, tx, &batch.create);
  auto [slot, inserted] = account.orders.emplace(id, std::move(order));
  account.pending.insert(id);
  if (!slot->second.client_id.empty()) account.by_client_id[slot->second.client_id].push_back(id);
  execute_new_order(account, slot->second, *instrument, batch);
  log_.request("oanda: replace " + specifier + " -> order " + std::to_string(id));

  if (fault == Fault::fail_after) return error(503, "Service unavailable (ordergate-sim injected fault)");

  JsonWriter out;
  out.begin_object().member_raw("orderCancelTransaction", cancel_text).member_raw("orderCreateTransaction", batch.create);
  if (!batch.fill.empty()) out.member_raw("orderFillTransaction", batch.fill);
  if (!batch.cancel.empty()) out.member_raw("replacingOrderCancelTransaction", batch.cancel);
  out.key("relatedTransactionIDs").begin_array();
  for (const auto related : batch.ids) out.string(std::to_string(related));
  out.end_array().member("lastTransactionID", last_id(account)).end_object();
  return reply(201, out.take());
}

HttpResponse OandaVenue::get_order(Account& account, const std::string& specifier) {
  const Order* order = find_order(account, specifier, !config_.lookup_finished_by_client_id);
  if (order == nullptr) {
    JsonWriter out;
    out.begin_object()
        .member("lastTransactionID", last_id(account))
        .member("errorCode", "NO_SUCH_ORDER")
        .member("errorMessage", "The order specified does not exist")
        .end_object();
    return reply(404, out.take());
  }
  JsonWriter out;
  out.begin_object().key("order");
  write_order(out, *order);
  out.member("lastTransactionID", last_id(account)).end_object();
  return reply(200, out.take());
}

HttpResponse OandaVenue::list_pending(Account& account) {
  JsonWriter out;
  out.begin_object().key("orders").begin_array();
  for (auto it = account.pending.rbegin(); it != account.pending.rend(); ++it) write_order(out, account.orders.at(*it));
  out.end_array().member("lastTransactionID", last_id(account)).end_object();
  return reply(200, out.take());
}

// Netting account: a position is long or short, never both; its side's
// averagePrice is the units-weighted price of the open trades.
HttpResponse OandaVenue::open_positions(Account& account) {
  const auto side = [&](JsonWriter& out, const std::string& name, const Instrument* instrument, Decimal units) {
    out.begin_object().member("units", units.to_string());
    int128 notional = 0;
    std::vector<std::string> trade_ids;
    for (const auto& [id, trade] : account.trades) {
      if (trade.instrument != name || trade.units.is_zero() || trade.units.is_positive() != units.is_positive() ||
          units.is_zero()) {
        continue;
      }
      notional += Decimal::product_raw(trade.price, trade.units.abs());
      trade_ids.push_back(std::to_string(id));
    }
    if (!units.is_zero()) {
      const auto average = Decimal::from_raw(static_cast<std::int64_t>(notional / units.abs().raw()));
      out.member("averagePrice", format_price(instrument, average));
    }
    out.key("tradeIDs").begin_array();
    for (const std::string& id : trade_ids) out.string(id);
    out.end_array()
        .member("pl", "0.0000")
        .member("unrealizedPL", "0.0000")
        .member("resettablePL", "0.0000")
        .member("financing", "0.0000")
        .member("guaranteedExecutionFees", "0.0000")
        .end_object();
  };
  JsonWriter out;
  out.begin_object().key("positions").begin_array();
  for (const auto& [name, position] : account.positions) {
    if (position.is_zero()) continue;
    const Instrument* instrument = board_.find(Venue::oanda, name);
    out.begin_object().member("instrument", name);
    out.key("long");
    side(out, name, instrument, position.is_positive() ? position : Decimal{});
    out.key("short");
    side(out, name, instrument, position.is_negative() ? position : Decimal{});
    out.member("pl", "0.0000")
        .member("unrealizedPL", "0.0000")
        .member("marginUsed", "0.0000")
        .member("resettablePL", "0.0000")
        .member("financing", "0.0000")
        .member("commission", "0.0000")
        .member("guaranteedExecutionFees", "0.0000")
        .end_object();
  }
  out.end_array().member("lastTransactionID", last_id(account)).end_object();
  return reply(200, out.take());
}

// ---------------------------------------------------------------------------
// Prices, transactions, account

HttpResponse OandaVenue::pricing(const HttpRequest& request) {
  const auto params = parse_params(request.query);
  const auto names = find_param(params, "instruments");
  if (!names || names->empty()) {
    return error(400, "Invalid value specified for 'instruments'", "oanda::rest::core::InvalidParameterException");
  }
  std::vector<const Instrument*> wanted;
  for (std::string_view name : split(*names, ',')) {
    const Instrument* instrument = board_.find(Venue::oanda, std::string(name));
    if (instrument == nullptr) {
      return error(400, "Invalid value specified for 'instruments'", "oanda::rest::core::InvalidParameterException");
    }
    wanted.push_back(instrument);
  }
  const std::string now = rfc3339(wall_ns());
  JsonWriter out;
  out.begin_object().member("time", now).key("prices").begin_array();
  for (const Instrument* instrument : wanted) {
    const std::string bid = format_price(instrument, instrument->bid);
    const std::string ask = format_price(instrument, instrument->ask);
    const auto liquidity = instrument->depth.raw() / Decimal::kScale;
    out.begin_object().member("type", "PRICE").member("time", now);
    out.key("bids").begin_array();
    if (!instrument->halted) out.begin_object().member("price", bid).member_int("liquidity", liquidity).end_object();
    out.end_array().key("asks").begin_array();
    if (!instrument->halted) out.begin_object().member("price", ask).member_int("liquidity", liquidity).end_object();
    out.end_array()
        .member("closeoutBid", bid)
        .member("closeoutAsk", ask)
        .member("status", instrument->halted ? "non-tradeable" : "tradeable")
        .member_bool("tradeable", !instrument->halted)
        .member("instrument", instrument->name)
        .end_object();
  }
  out.end_array().end_object();
  return reply(200, out.take());
}

HttpResponse OandaVenue::transactions_since(const HttpRequest& request, Account& account) {
  const auto params = parse_params(request.query);
  const auto id_text = find_param(params, "id");
  const auto since = id_text ? parse_int(*id_text) : std::nullopt;
  if (!since || *since < 0) {
    return error(400, "Invalid value specified for 'id'", "oanda::rest::core::InvalidParameterException");
  }
  JsonWriter out;
  out.begin_object().key("transactions").begin_array();
  std::size_t sent = 0;
  for (auto index = static_cast<std::size_t>(*since); index < account.transactions.size() && sent < kSinceIdPage;
       ++index, ++sent) {
    out.raw(account.transactions[index]);
  }
  out.end_array().member("lastTransactionID", last_id(account)).end_object();
  return reply(200, out.take());
}

HttpResponse OandaVenue::transaction_by_id(Account& account, const std::string& id_text) {
  const auto id = parse_int(id_text);
  if (!id || *id <= 0 || static_cast<std::size_t>(*id) > account.transactions.size()) {
    return error(404, "The Transaction specified does not exist", "NO_SUCH_TRANSACTION");
  }
  JsonWriter out;
  out.begin_object()
      .member_raw("transaction", account.transactions[static_cast<std::size_t>(*id) - 1])
      .member("lastTransactionID", last_id(account))
      .end_object();
  return reply(200, out.take());
}

HttpResponse OandaVenue::summary(Account& account) {
  int128 used = 0;
  std::int64_t open_positions = 0;
  for (const auto& [name, position] : account.positions) {
    if (position.is_zero()) continue;
    ++open_positions;
    const Instrument* instrument = board_.find(Venue::oanda, name);
    used += usd_notional_raw(name, instrument != nullptr ? instrument->ask : Decimal::from_integer(1), position);
  }
  const auto margin_used = Decimal::from_raw(static_cast<std::int64_t>(used / Decimal::kScale * config_.margin_rate.raw() / Decimal::kScale));
  Decimal available;
  if (!Decimal::sub(account.balance, margin_used, available)) available = Decimal{};
  const auto pending = static_cast<std::int64_t>(account.pending.size());
  JsonWriter out;
  out.begin_object()
      .key("account")
      .begin_object()
      .member("id", account.id)
      .member("alias", "ordergate-sim")
      .member("currency", "USD")
      .member("createdTime", account.created_time)
      .member("balance", format_decimal(account.balance, 4))
      .member("NAV", format_decimal(account.balance, 4))
      .member("unrealizedPL", "0.0000")
      .member("pl", "0.0000")
      .member("marginRate", config_.margin_rate.to_string())
      .member("marginUsed", format_decimal(margin_used, 4))
      .member("marginAvailable", format_decimal(available, 4))
      .member_int("openTradeCount", open_positions)
      .member_int("openPositionCount", open_positions)
      .member_int("pendingOrderCount", pending)
      .member_bool("hedgingEnabled", false)
      .member("lastTransactionID", last_id(account))
      .end_object()
      .member("lastTransactionID", last_id(account))
      .end_object();
  return reply(200, out.take());
}

HttpResponse OandaVenue::open_stream(Account& account) {
  HttpResponse response = reply(200, {});
  response.content_type = "application/octet-stream";
  const std::string account_id = account.id;
  response.on_stream_open = [this, account_id](const std::shared_ptr<StreamSink>& sink) {
    const auto it = accounts_.find(account_id);
    if (it == accounts_.end()) return;
    ++stats_.open_streams;
    const std::int64_t now = wall_ns();
    it->second.streams.push_back(StreamClient{sink, now + config_.heartbeat_ms * 1'000'000});
    // A first heartbeat at once tells the client the stream is live and
    // which transaction it starts after.
    JsonWriter beat;
    beat.begin_object()
        .member("type", "HEARTBEAT")
        .member("lastTransactionID", last_id(it->second))
        .member("time", rfc3339(now))
        .end_object();
    sink->send_line(beat.take());
  };
  return response;
}

// ---------------------------------------------------------------------------
// Market events

void OandaVenue::on_price(const Instrument& instrument) {
  if (instrument.halted) return;
  for (auto& [account_id, account] : accounts_) {
    expire_orders(account, wall_ns());
    // Fills change the pending set: walk a copy, in arrival order.
    const std::vector<std::uint64_t> ids(account.pending.begin(), account.pending.end());
    for (const auto id : ids) {
      Order& order = account.orders.at(id);
      if (order.state != OrderState::pending || order.instrument != instrument.name) continue;
      const bool buy = order.units.is_positive();
      const Decimal touch = buy ? instrument.ask : instrument.bid;
      bool triggered = false;
      if (order.type == "LIMIT") triggered = buy ? instrument.ask <= *order.price : instrument.bid >= *order.price;
      if (order.type == "STOP") triggered = buy ? instrument.ask >= *order.price : instrument.bid <= *order.price;
      if (!triggered) continue;
      Batch batch = new_batch();
      ++next_request_id_;
      if (order.price_bound && (buy ? touch > *order.price_bound : touch < *order.price_bound)) {
        cancel(account, order, "BOUNDS_VIOLATION", batch);
        continue;
      }
      fill_order(account, order, instrument, touch, order.units, order.type + "_ORDER", batch, true);
      log_.request("oanda: resting order " + std::to_string(id) + " on " + instrument.name +
                   (order.state == OrderState::filled ? " filled" : " cancelled"));
    }
    trigger_dependents(account, instrument);
  }
}

void OandaVenue::expire_orders(Account& account, std::int64_t now_ns) {
  const std::vector<std::uint64_t> ids(account.pending.begin(), account.pending.end());
  for (const auto id : ids) {
    Order& order = account.orders.at(id);
    if (order.state == OrderState::pending && order.gtd_ns != 0 && order.gtd_ns <= now_ns) {
      Batch batch = new_batch();
      ++next_request_id_;
      cancel(account, order, "TIME_IN_FORCE_EXPIRED", batch);
    }
  }
}

void OandaVenue::on_timer(std::int64_t now_ns) {
  for (auto& [account_id, account] : accounts_) {
    expire_orders(account, now_ns);
    for (auto it = account.streams.begin(); it != account.streams.end();) {
      auto sink = it->sink.lock();
      if (!sink || !sink->is_open()) {
        it = account.streams.erase(it);
        if (stats_.open_streams > 0) --stats_.open_streams;
        continue;
      }
      if (now_ns >= it->next_heartbeat_ns) {
        it->next_heartbeat_ns = now_ns + config_.heartbeat_ms * 1'000'000;
        JsonWriter beat;
        beat.begin_object()
            .member("type", "HEARTBEAT")
            .member("lastTransactionID", last_id(account))
            .member("time", rfc3339(now_ns))
            .end_object();
        sink->send_line(beat.take());
      }
      ++it;
    }
  }
}

// ---------------------------------------------------------------------------
// Admin view

void OandaVenue::write_orders(JsonWriter& out, const std::string& client_id) const {
  for (const auto& [account_id, account] : accounts_) {
    for (const auto& [id, order] : account.orders) {
      if (!client_id.empty() && order.client_id != client_id) continue;
      const char* state = order.state == OrderState::pending  ? "PENDING"
                          : order.state == OrderState::filled ? "FILLED"
                                                              : "CANCELLED";
      out.begin_object()
          .member("venue", "oanda")
          .member("account", account_id)
          .member("id", std::to_string(id))
          .member("client_order_id", order.client_id)
          .member("instrument", order.instrument)
          .member("type", order.type)
          .member("units", order.units.to_string())
          .member("position_fill", order.position_fill)
          .member("state", state)
          .end_object();
    }
  }
}

std::size_t OandaVenue::order_count(const std::string& client_id) const {
  std::size_t count = 0;
  for (const auto& [account_id, account] : accounts_) {
    for (const auto& [id, order] : account.orders) {
      if (client_id.empty() || order.client_id == client_id) ++count;
    }
  }
  return count;
}

}  // namespace ordergate::sim
