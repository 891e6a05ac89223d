#include "binance_venue.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>

#include "ordergate/security/crypto.hpp"

namespace ordergate::sim {

namespace {

constexpr int kBookLevels = 10;
constexpr int kPrintedDigits = 8;
constexpr std::int64_t kMaxRecvWindowMs = 60'000;
constexpr std::int64_t kDefaultRecvWindowMs = 5'000;
constexpr std::int64_t kMaxBanMs = 3LL * 24 * 60 * 60 * 1000;
constexpr std::size_t kMaxClientOrderIdLength = 36;

std::string fixed(Decimal value) { return format_decimal(value, kPrintedDigits); }

bool valid_client_order_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxClientOrderIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

/// The query string or body without its `signature=` pair, as signed.
std::string without_signature(std::string_view text) {
  std::string out;
  for (std::string_view pair : split(text, '&')) {
    if (pair.substr(0, 10) == "signature=") continue;
    if (!out.empty()) out += '&';
    out += pair;
  }
  return out;
}

bool body_is_form(const HttpRequest& request) {
  const std::string_view type = request.header("content-type");
  return type.empty() || type.substr(0, 33) == "application/x-www-form-urlencoded";
}

std::int64_t ceil_seconds(std::int64_t ms) { return std::max<std::int64_t>(1, (ms + 999) / 1000); }

/// "1 MINUTE", "10 SECOND": Binance's way of naming a window.
std::string window_name(std::int64_t window_ms) {
  if (window_ms % 60'000 == 0) return std::to_string(window_ms / 60'000) + " MINUTE";
  return std::to_string(std::max<std::int64_t>(1, window_ms / 1000)) + " SECOND";
}

void write_rate_limit(JsonWriter& out, const char* type, std::int64_t window_ms, std::int64_t limit) {
  const bool minutes = window_ms % 60'000 == 0;
  out.begin_object()
      .member("rateLimitType", type)
      .member("interval", minutes ? "MINUTE" : "SECOND")
      .member_int("intervalNum", minutes ? window_ms / 60'000 : std::max<std::int64_t>(1, window_ms / 1000))
      .member_int("limit", limit)
      .end_object();
}

}  // namespace

BinanceVenue::BinanceVenue(BinanceConfig config, security::Secret api_key, security::Secret secret_key,
                           PriceBoard& board, FaultInjector& faults, Stats& stats, const Logger& log)
    : config_(std::move(config)), api_key_(std::move(api_key)), secret_key_(std::move(secret_key)), board_(board),
      faults_(faults), stats_(stats), log_(log), started_ms_(wall_ms()) {
  for (const auto& [asset, amount] : config_.balances) balances_[asset] = Balance{amount, Decimal{}};
  board_.on_change([this](const Instrument& instrument) {
    if (instrument.venue == Venue::binance) on_price(instrument);
  });
}

std::optional<std::string> BinanceVenue::Params::get(std::string_view name) const {
  // A parameter sent in both places: the query string wins (Binance's rule).
  if (auto value = find_param(query, name)) return value;
  return find_param(body, name);
}

std::int64_t BinanceVenue::now_ms() const { return wall_ms() + config_.clock_offset_ms; }

HttpResponse BinanceVenue::json(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  response.headers = pending_headers_;
  return response;
}

HttpResponse BinanceVenue::error(int status, int code, const std::string& message) {
  JsonWriter out;
  out.begin_object().member_int("code", code).member("msg", message).end_object();
  return json(status, out.take());
}

HttpResponse BinanceVenue::missing(std::string_view name) {
  return error(400, -1102,
               "Mandatory parameter '" + std::string(name) + "' was not sent, was empty/null, or malformed.");
}

std::string BinanceVenue::new_client_order_id() {
  // Binance makes up a 22-character id; a counter keeps runs reproducible.
  const std::string number = std::to_string(++generated_ids_);
  std::string id = "sim";
  if (number.size() < 19) id.append(19 - number.size(), '0');
  return id + number;
}

// ---------------------------------------------------------------------------
// Routing, limits, authentication

std::optional<BinanceVenue::Endpoint> BinanceVenue::endpoint_for(const HttpRequest& request,
                                                                 const Params& params) const {
  const std::string& path = request.path;
  const std::string& method = request.method;
  const bool has_symbol = params.get("symbol").has_value();
  if (method == "GET" && (path == "/api/v3/ping" || path == "/api/v3/time")) return Endpoint{1, false, false};
  if (method == "GET" && path == "/api/v3/exchangeInfo") return Endpoint{20, false, false};
  if (method == "GET" && path == "/api/v3/ticker/bookTicker") return Endpoint{has_symbol ? 2 : 4, false, false};
  if (method == "POST" && path == "/api/v3/order/cancelReplace") return Endpoint{1, true, true};
  if (path == "/api/v3/order") {
    if (method == "POST") return Endpoint{1, true, true};
    if (method == "DELETE") return Endpoint{1, true, false};
    if (method == "GET") return Endpoint{4, true, false};
  }
  if (method == "GET" && path == "/api/v3/openOrders") return Endpoint{has_symbol ? 6 : 80, true, false};
  if (method == "GET" && path == "/api/v3/account") return Endpoint{20, true, false};
  return std::nullopt;
}

bool BinanceVenue::signature_valid(const HttpRequest& request) const {
  const auto query = parse_params(request.query);
  auto presented = find_param(query, "signature");
  std::string total = without_signature(request.query);
  if (body_is_form(request)) {
    if (!presented) presented = find_param(parse_params(request.body), "signature");
    total += without_signature(request.body);
  }
  if (!presented) return false;
  const std::string expected = security::to_hex(security::hmac_sha256(secret_key_.reveal(), total));
  std::string candidate = *presented;
  std::transform(candidate.begin(), candidate.end(), candidate.begin(),
                 [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
  return candidate.size() == expected.size() &&
         CRYPTO_memcmp(candidate.data(), expected.data(), expected.size()) == 0;
}

HttpResponse BinanceVenue::handle(const HttpRequest& request) {
  pending_headers_.clear();
  Params params;
  params.query = parse_params(request.query);
  if (body_is_form(request)) params.body = parse_params(request.body);

  // Unknown endpoints still cost weight and carry the limit headers.
  const auto endpoint = endpoint_for(request, params);
  const std::int64_t weight = endpoint ? endpoint->weight : 1;

  // Request weight per IP, fixed windows counted from the simulator's start.
  const std::int64_t wall = wall_ms();
  IpState& ip = ips_[request.remote_ip];
  const std::int64_t window = (wall - started_ms_) / config_.weight_window_ms;
  if (ip.window != window) {
    ip.window = window;
    ip.used_weight = 0;
  }
  const std::int64_t order_window = (wall - started_ms_) / config_.order_window_ms;
  if (order_window_ != order_window) {
    order_window_ = order_window;
    order_count_ = 0;
  }
  const auto set_limit_headers = [&] {
    pending_headers_.clear();
    pending_headers_.emplace_back("X-MBX-USED-WEIGHT-1M", std::to_string(ip.used_weight));
    pending_headers_.emplace_back("X-MBX-ORDER-COUNT-10S", std::to_string(order_count_));
  };
  const auto banned = [&](std::int64_t until) {
    set_limit_headers();
    HttpResponse response = error(418, -1003,
                                  "Way too much request weight used; IP banned until " + std::to_string(until) +
                                      ". Please use WebSocket Streams for live updates to avoid bans.");
    response.add_header("Retry-After", std::to_string(ceil_seconds(until - wall)));
    return response;
  };
  if (wall < ip.ban_until_ms) return banned(ip.ban_until_ms);
  if (wall < ip.retry_until_ms) {
    // A request during a 429's Retry-After: Binance bans the IP, longer for
    // each repeat.
    ++ip.offences;
    std::int64_t ban = config_.ban_ms;
    for (std::int64_t i = 1; i < ip.offences && ban < kMaxBanMs; ++i) ban *= 2;
    ban = std::min(std::max(ban, 2 * (ip.retry_until_ms - wall)), kMaxBanMs);
    ip.ban_until_ms = wall + ban;
    ip.retry_until_ms = 0;
    log_.request("binance: 418 ban for " + std::to_string(ban) + " ms (requests during Retry-After)");
    return banned(ip.ban_until_ms);
  }
  ip.used_weight += weight;
  set_limit_headers();
  if (ip.used_weight > config_.weight_limit) {
    const std::int64_t window_end = started_ms_ + (window + 1) * config_.weight_window_ms;
    ip.retry_until_ms = window_end;
    HttpResponse response =
        error(429, -1003,
              "Too much request weight used; current limit is " + std::to_string(config_.weight_limit) +
                  " request weight per " + window_name(config_.weight_window_ms) +
                  ". Please use WebSocket Streams for live updates to avoid polling the API.");
    response.add_header("Retry-After", std::to_string(ceil_seconds(window_end - wall)));
    return response;
  }

  if (!endpoint) return error(404, -1000, "Unknown endpoint in ordergate-sim.");

  if (endpoint->signed_request) {
    const std::string_view key = request.header("x-mbx-apikey");
    if (key.empty()) return error(401, -2014, "API-key format invalid.");
    if (!api_key_.equals(key)) return error(401, -2015, "Invalid API-key, IP, or permissions for action.");
    if (!params.get("signature")) return missing("signature");
    const auto timestamp_text = params.get("timestamp");
    const auto timestamp = timestamp_text ? parse_int(*timestamp_text) : std::nullopt;
    if (!timestamp) return missing("timestamp");
    std::int64_t recv_window = kDefaultRecvWindowMs;
    if (const auto text = params.get("recvWindow")) {
      const auto value = parse_int(*text);
      if (!value || *value <= 0 || *value > kMaxRecvWindowMs) {
        return error(400, -1131, "recvWindow must be less than 60000");
      }
      recv_window = *value;
    }
    if (!signature_valid(request)) return error(400, -1022, "Signature for this request is not valid.");
    const std::int64_t server_time = now_ms();
    if (*timestamp >= server_time + 1000) {
      return error(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.");
    }
    if (server_time - *timestamp > recv_window) {
      return error(400, -1021, "Timestamp for this request is outside of the recvWindow.");
    }
  }

  if (endpoint->new_order) {
    if (order_count_ + 1 > config_.order_limit) {
      const std::int64_t window_end = started_ms_ + (order_window + 1) * config_.order_window_ms;
      HttpResponse response = error(429, -1015,
                                    "Too many new orders; current limit is " + std::to_string(config_.order_limit) +
                                        " orders per " + window_name(config_.order_window_ms) + ".");
      if (config_.order_limit_retry_after) {
        ip.retry_until_ms = std::max(ip.retry_until_ms, window_end);
        response.add_header("Retry-After", std::to_string(ceil_seconds(window_end - wall)));
      }
      return response;
    }
    ++order_count_;
    set_limit_headers();
  }
  return dispatch(request, params);
}

HttpResponse BinanceVenue::dispatch(const HttpRequest& request, const Params& params) {
  const std::string& path = request.path;
  const std::string& method = request.method;
  if (path == "/api/v3/ping") return json(200, "{}");
  if (path == "/api/v3/time") return json(200, "{\"serverTime\":" + std::to_string(now_ms()) + "}");
  if (path == "/api/v3/exchangeInfo") return exchange_info(params);
  if (path == "/api/v3/ticker/bookTicker") return book_ticker(params);
  if ((path == "/api/v3/openOrders" || path == "/api/v3/account") && faults_.fail_holdings_read(stats_)) {
    return error(503, -1008, "Server is currently overloaded with other requests. Please try again in a few minutes.");
  }
  if (path == "/api/v3/openOrders") return open_orders(params);
  if (path == "/api/v3/account") return account();
  if (path == "/api/v3/order/cancelReplace") return cancel_replace(params);
  if (method == "POST") return new_order(params);
  if (method == "DELETE") return cancel_order(params);
  return query_order(params);
}

// ---------------------------------------------------------------------------
// Book

BinanceVenue::SymbolInfo BinanceVenue::symbol_info(const Instrument& instrument) const {
  static constexpr std::array<std::string_view, 9> kQuotes = {"USDT", "FDUSD", "USDC", "BUSD", "TUSD",
                                                              "BTC",  "ETH",   "BNB",  "EUR"};
  SymbolInfo info;
  for (std::string_view quote : kQuotes) {
    const std::string_view name = instrument.name;
    if (name.size() > quote.size() && name.substr(name.size() - quote.size()) == quote) {
      info.base = std::string(name.substr(0, name.size() - quote.size()));
      info.quote = std::string(quote);
      break;
    }
  }
  if (info.quote.empty()) {
    info.base = instrument.name;
    info.quote = "USDT";
  }
  info.step = instrument.name == "ETHUSDT" ? decimal_step(4) : decimal_step(5);
  const bool dollar = info.quote == "USDT" || info.quote == "FDUSD" || info.quote == "USDC" || info.quote == "BUSD" ||
                      info.quote == "TUSD";
  info.min_notional = dollar ? Decimal::from_integer(5) : Decimal{};
  return info;
}

std::vector<BinanceVenue::Fill> BinanceVenue::match(const Instrument& instrument, bool buy, Decimal qty,
                                                    std::optional<Decimal> limit) {
  std::vector<Fill> fills;
  Decimal remaining = qty;
  for (int level = 0; level < kBookLevels && remaining.is_positive(); ++level) {
    const std::int64_t offset = instrument.tick.raw() * level;
    const Decimal price = Decimal::from_raw(buy ? instrument.ask.raw() + offset : instrument.bid.raw() - offset);
    if (!price.is_positive()) break;
    if (limit && (buy ? price > *limit : price < *limit)) break;
    const Decimal take = std::min(remaining, instrument.depth);
    fills.push_back(Fill{price, take, 0});
    remaining = Decimal::from_raw(remaining.raw() - take.raw());
  }
  return fills;
}

void BinanceVenue::on_price(const Instrument& instrument) {
  if (instrument.halted) return;
  const SymbolInfo info = symbol_info(instrument);
  // Fills shrink the open set: walk a copy, in arrival order.
  const std::vector<std::size_t> open(open_.begin(), open_.end());
  for (const std::size_t index : open) {
    Order& order = orders_[index];
    if (order.symbol != instrument.name) continue;
    const bool buy = order.side == "BUY";
    if (buy ? instrument.ask > order.price : instrument.bid < order.price) continue;
    // A resting order fills in full at its own price (it was the maker).
    const Decimal remaining = Decimal::from_raw(order.orig_qty.raw() - order.executed_qty.raw());
    Decimal quote_amount;
    if (!multiply(order.price, remaining, quote_amount)) continue;
    Balance& base = balances_[info.base];
    Balance& quote = balances_[info.quote];
    if (buy) {
      quote.locked = Decimal::from_raw(quote.locked.raw() - quote_amount.raw());
      base.free = Decimal::from_raw(base.free.raw() + remaining.raw());
    } else {
      base.locked = Decimal::from_raw(base.locked.raw() - remaining.raw());
      quote.free = Decimal::from_raw(quote.free.raw() + quote_amount.raw());
    }
    ++next_trade_id_[order.symbol];
    order.executed_qty = order.orig_qty;
    order.cumulative_quote = Decimal::from_raw(order.cumulative_quote.raw() + quote_amount.raw());
    order.status = "FILLED";
    order.update_time = now_ms();
    open_.erase(index);
    log_.request("binance: resting order " + std::to_string(order.order_id) + " on " + order.symbol + " filled");
  }
}

BinanceVenue::Order* BinanceVenue::find(const std::string& symbol, const std::optional<std::string>& order_id,
                                        const std::optional<std::string>& client_order_id) {
  if (order_id) {
    const auto id = parse_int(*order_id);
    if (!id) return nullptr;
    const auto it = by_order_id_.find({symbol, *id});
    return it == by_order_id_.end() ? nullptr : &orders_[it->second];
  }
  const auto it = latest_by_client_id_.find({symbol, *client_order_id});
  return it == latest_by_client_id_.end() ? nullptr : &orders_[it->second];
}

// ---------------------------------------------------------------------------
// Endpoints

HttpResponse BinanceVenue::new_order(const Params& params) {
  const auto symbol = params.get("symbol");
  if (!symbol || symbol->empty()) return missing("symbol");
  const Instrument* instrument = board_.find(Venue::binance, *symbol);
  if (instrument == nullptr) return error(400, -1121, "Invalid symbol.");
  const SymbolInfo info = symbol_info(*instrument);

  const auto side = params.get("side");
  if (!side || side->empty()) return missing("side");
  if (*side != "BUY" && *side != "SELL") return error(400, -1117, "Invalid side.");
  const bool buy = *side == "BUY";

  const auto type = params.get("type");
  if (!type || type->empty()) return missing("type");
  if (*type == "STOP_LOSS" || *type == "STOP_LOSS_LIMIT" || *type == "TAKE_PROFIT" || *type == "TAKE_PROFIT_LIMIT") {
    return error(400, -1014, "Unsupported order combination.");
  }
  if (*type != "MARKET" && *type != "LIMIT" && *type != "LIMIT_MAKER") return error(400, -1116, "Invalid orderType.");

  const auto time_in_force = params.get("timeInForce");
  if (*type == "LIMIT") {
    if (!time_in_force || time_in_force->empty()) return missing("timeInForce");
    if (*time_in_force != "GTC" && *time_in_force != "IOC" && *time_in_force != "FOK") {
      return error(400, -1115, "Invalid timeInForce.");
    }
  } else if (time_in_force) {
    return error(400, -1106, "Parameter 'timeInForce' sent when not required.");
  }

  if (params.get("quoteOrderQty")) return error(400, -1014, "Unsupported order combination.");
  const auto quantity_text = params.get("quantity");
  if (!quantity_text || quantity_text->empty()) return missing("quantity");
  const auto quantity = parse_decimal(*quantity_text);
  if (!quantity || quantity->is_negative()) {
    return error(400, -1100,
                 "Illegal characters found in parameter 'quantity'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.");
  }
  if (quantity->fraction_digits() > kPrintedDigits) {
    return error(400, -1111, "Parameter 'quantity' has too much precision.");
  }
  if (*quantity < info.step || !quantity->is_multiple_of(info.step)) return error(400, -1013, "Filter failure: LOT_SIZE");

  Decimal price;
  const auto price_text = params.get("price");
  if (*type == "MARKET") {
    if (price_text) return error(400, -1106, "Parameter 'price' sent when not required.");
  } else {
    if (!price_text || price_text->empty()) return missing("price");
    const auto parsed = parse_decimal(*price_text);
    if (!parsed || parsed->is_negative()) {
      return error(400, -1100,
                   "Illegal characters found in parameter 'price'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.");
    }
    if (parsed->fraction_digits() > kPrintedDigits) {
      return error(400, -1111, "Parameter 'price' has too much precision.");
    }
    if (!parsed->is_positive() || !parsed->is_multiple_of(instrument->tick)) {
      return error(400, -1013, "Filter failure: PRICE_FILTER");
    }
    price = *parsed;
  }

  std::string client_order_id;
  if (const auto id = params.get("newClientOrderId")) {
    if (!valid_client_order_id(*id)) {
      return error(400, -1100,
                   "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[a-zA-Z0-9-_]{1,36}$'.");
    }
    client_order_id = *id;
  }
  const bool defaults_full = *type == "MARKET" || *type == "LIMIT";
  std::string response_type = defaults_full ? "FULL" : "ACK";
  if (const auto requested = params.get("newOrderRespType")) {
    if (*requested != "ACK" && *requested != "RESULT" && *requested != "FULL") {
      return error(400, -1100,
                   "Illegal characters found in parameter 'newOrderRespType'; legal range is 'ACK, RESULT, FULL'.");
    }
    response_type = *requested;
  }

  Decimal notional;
  const Decimal reference = *type == "MARKET" ? (buy ? instrument->ask : instrument->bid) : price;
  if (!multiply(reference, *quantity, notional)) return error(400, -1013, "Filter failure: NOTIONAL");
  if (notional < info.min_notional) return error(400, -1013, "Filter failure: NOTIONAL");
  if (instrument->halted) return error(400, -2010, "Market is closed.");
  // Only the newest order with a client id can be open: a second one is
  // refused while the first is.
  if (!client_order_id.empty()) {
    const Order* previous = find(*symbol, std::nullopt, client_order_id);
    if (previous != nullptr && previous->is_open()) return error(400, -2010, "Duplicate order sent.");
  }

  // Match first (without booking), then check the balance it needs.
  std::vector<Fill> fills;
  if (*type == "MARKET") {
    fills = match(*instrument, buy, *quantity, std::nullopt);
  } else if (*type == "LIMIT") {
    fills = match(*instrument, buy, *quantity, price);
  } else if (!match(*instrument, buy, *quantity, price).empty()) {
    return error(400, -2010, "Order would immediately match and take.");
  }
  Decimal executed;
  Decimal traded_quote;
  for (const auto& fill : fills) {
    Decimal amount;
    if (!multiply(fill.price, fill.qty, amount)) return error(400, -1013, "Filter failure: NOTIONAL");
    executed = Decimal::from_raw(executed.raw() + fill.qty.raw());
    traded_quote = Decimal::from_raw(traded_quote.raw() + amount.raw());
  }
  const bool fok_short = time_in_force && *time_in_force == "FOK" && executed < *quantity;
  if (fok_short) {
    fills.clear();
    executed = Decimal{};
    traded_quote = Decimal{};
  }
  const Decimal remaining = Decimal::from_raw(quantity->raw() - executed.raw());
  const bool rests = *type == "LIMIT_MAKER" || (*type == "LIMIT" && *time_in_force == "GTC" && remaining.is_positive());

  Balance& base = balances_[info.base];
  Balance& quote = balances_[info.quote];
  Decimal lock;
  if (rests && !multiply(price, remaining, lock)) return error(400, -1013, "Filter failure: NOTIONAL");
  const bool enough = buy ? Decimal::from_raw(traded_quote.raw() + lock.raw()) <= quote.free : *quantity <= base.free;
  if (!enough) return error(400, -2010, "Account has insufficient balance for requested action.");

  const Fault fault = in_replace_ ? Fault::none : faults_.decide(stats_);
  const auto unknown = [&] {
    return error(503, -1007, "Timeout waiting for response from backend server. Send status unknown; execution status unknown.");
  };
  if (fault == Fault::fail_before) return unknown();

  Order order;
  order.order_id = ++next_order_id_[*symbol];
  order.symbol = *symbol;
  order.client_order_id = client_order_id.empty() ? new_client_order_id() : client_order_id;
  order.side = *side;
  order.type = *type;
  order.time_in_force = time_in_force ? *time_in_force : "GTC";
  order.price = price;
  order.orig_qty = *quantity;
  order.executed_qty = executed;
  order.cumulative_quote = traded_quote;
  order.time = order.update_time = now_ms();
  if (rests) {
    order.status = executed.is_positive() ? "PARTIALLY_FILLED" : "NEW";
  } else {
    order.status = executed == *quantity ? "FILLED" : "EXPIRED";
  }
  for (auto& fill : fills) fill.trade_id = ++next_trade_id_[*symbol];
  if (buy) {
    quote.free = Decimal::from_raw(quote.free.raw() - traded_quote.raw() - lock.raw());
    quote.locked = Decimal::from_raw(quote.locked.raw() + lock.raw());
    base.free = Decimal::from_raw(base.free.raw() + executed.raw());
  } else {
    base.free = Decimal::from_raw(base.free.raw() - executed.raw() - (rests ? remaining.raw() : 0));
    base.locked = Decimal::from_raw(base.locked.raw() + (rests ? remaining.raw() : 0));
    quote.free = Decimal::from_raw(quote.free.raw() + traded_quote.raw());
  }
  orders_.push_back(order);
  const std::size_t index = orders_.size() - 1;
  by_order_id_[{order.symbol, order.order_id}] = index;
  latest_by_client_id_[{order.symbol, order.client_order_id}] = index;
  if (order.is_open()) open_.insert(index);
  log_.request("binance: order " + std::to_string(order.order_id) + " " + order.symbol + " " + order.side + " " +
               order.type + " -> " + order.status);

  if (fault == Fault::fail_after) return unknown();

  JsonWriter out;
  out.begin_object()
      .member("symbol", order.symbol)
      .member_int("orderId", order.order_id)
      .member_int("orderListId", -1)
      .member("clientOrderId", order.client_order_id)
      .member_int("transactTime", order.time);
  if (response_type != "ACK") {
    out.member("price", fixed(order.price))
        .member("origQty", fixed(order.orig_qty))
        .member("executedQty", fixed(order.executed_qty))
        .member("origQuoteOrderQty", fixed(Decimal{}))
        .member("cummulativeQuoteQty", fixed(order.cumulative_quote))
        .member("status", order.status)
        .member("timeInForce", order.time_in_force)
        .member("type", order.type)
        .member("side", order.side)
        .member_int("workingTime", order.time)
        .member("selfTradePreventionMode", "EXPIRE_MAKER");
  }
  if (response_type == "FULL") {
    out.key("fills").begin_array();
    for (const auto& fill : fills) {
      out.begin_object()
          .member("price", fixed(fill.price))
          .member("qty", fixed(fill.qty))
          .member("commission", fixed(Decimal{}))
          .member("commissionAsset", buy ? info.base : info.quote)
          .member_int("tradeId", fill.trade_id)
          .end_object();
    }
    out.end_array();
  }
  out.end_object();
  return json(200, out.take());
}

HttpResponse BinanceVenue::cancel_order(const Params& params) {
  const auto symbol = params.get("symbol");
  if (!symbol || symbol->empty()) return missing("symbol");
  const Instrument* instrument = board_.find(Venue::binance, *symbol);
  if (instrument == nullptr) return error(400, -1121, "Invalid symbol.");
  const auto order_id = params.get("orderId");
  const auto client_order_id = params.get("origClientOrderId");
  if (!order_id && !client_order_id) {
    return error(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!");
  }
  Order* order = find(*symbol, order_id, client_order_id);
  if (order == nullptr || !order->is_open()) return error(400, -2011, "Unknown order sent.");

  const Fault fault = in_replace_ ? Fault::none : faults_.decide(stats_);
  const auto unknown = [&] {
    return error(503, -1007, "Timeout waiting for response from backend server. Send status unknown; execution status unknown.");
  };
  if (fault == Fault::fail_before) return unknown();

  const SymbolInfo info = symbol_info(*instrument);
  const Decimal remaining = Decimal::from_raw(order->orig_qty.raw() - order->executed_qty.raw());
  if (order->side == "BUY") {
    Decimal lock;
    if (multiply(order->price, remaining, lock)) {
      Balance& quote = balances_[info.quote];
      quote.locked = Decimal::from_raw(quote.locked.raw() - lock.raw());
      quote.free = Decimal::from_raw(quote.free.raw() + lock.raw());
    }
  } else {
    Balance& base = balances_[info.base];
    base.locked = Decimal::from_raw(base.locked.raw() - remaining.raw());
    base.free = Decimal::from_raw(base.free.raw() + remaining.raw());
  }
  order->status = "CANCELED";
  open_.erase(static_cast<std::size_t>(order - orders_.data()));
  order->update_time = now_ms();
  log_.request("binance: order " + std::to_string(order->order_id) + " " + order->symbol + " canceled");
  if (fault == Fault::fail_after) return unknown();

  const auto new_id = params.get("newClientOrderId");
  JsonWriter out;
  out.begin_object()
      .member("symbol", order->symbol)
      .member("origClientOrderId", order->client_order_id)
      .member_int("orderId", order->order_id)
      .member_int("orderListId", -1)
      .member("clientOrderId", new_id ? *new_id : new_client_order_id())
      .member_int("transactTime", order->update_time)
      .member("price", fixed(order->price))
      .member("origQty", fixed(order->orig_qty))
      .member("executedQty", fixed(order->executed_qty))
      .member("origQuoteOrderQty", fixed(Decimal{}))
      .member("cummulativeQuoteQty", fixed(order->cumulative_quote))
      .member("status", order->status)
      .member("timeInForce", order->time_in_force)
      .member("type", order->type)
      .member("side", order->side)
      .member("selfTradePreventionMode", "EXPIRE_MAKER")
      .end_object();
  return json(200, out.take());
}

// STOP_ON_FAILURE: the original is cancelled first; only if that worked is
// the new order placed, exactly as POST /api/v3/order would place it. The
// answers are Binance's: 200 with both responses, 400 -2022 when the cancel
// failed (the new order NOT_ATTEMPTED, or FAILURE when it could not have been
// placed either), 409 -2021 when the cancel worked and the new order failed.
// A 5xx of either step (armed faults) is passed on as it is.
HttpResponse BinanceVenue::cancel_replace(const Params& params) {
  const auto symbol = params.get("symbol");
  if (!symbol || symbol->empty()) return missing("symbol");
  if (board_.find(Venue::binance, *symbol) == nullptr) return error(400, -1121, "Invalid symbol.");
  const auto mode = params.get("cancelReplaceMode");
  if (!mode || mode->empty()) return missing("cancelReplaceMode");
  if (*mode != "STOP_ON_FAILURE") {
    if (*mode == "ALLOW_FAILURE") return error(400, -1014, "Unsupported order combination.");
    return error(400, -1100,
                 "Illegal characters found in parameter 'cancelReplaceMode'; legal range is 'STOP_ON_FAILURE, "
                 "ALLOW_FAILURE'.");
  }
  const auto cancel_id = params.get("cancelOrderId");
  const auto cancel_client_id = params.get("cancelOrigClientOrderId");
  if (!cancel_id && !cancel_client_id) {
    return error(400, -1102,
                 "Param 'cancelOrigClientOrderId' or 'cancelOrderId' must be sent, but both were empty/null!");
  }
  const bool force_cancel = faults_.fail_replace_cancel(stats_);
  const bool force_new = faults_.fail_replace_new(stats_);
  std::string refused_new;
  if (force_new) {
    JsonWriter body;
    body.begin_object()
        .member_int("code", -2010)
        .member("msg", "Account has insufficient balance for requested action.")
        .end_object();
    refused_new = body.take();
  }
  const Order* original = find(*symbol, cancel_id, cancel_client_id);
  if (force_cancel || original == nullptr || !original->is_open()) {
    JsonWriter refused;
    refused.begin_object().member_int("code", -2011).member("msg", "Unknown order sent.").end_object();
    log_.request("binance: cancelReplace " + *symbol + " -> cancel failed");
    return replace_outcome(400, -2022, "Order cancel-replace failed.", "FAILURE",
                           force_new ? "FAILURE" : "NOT_ATTEMPTED", refused.take(), refused_new);
  }
  // An armed order fault applies to the amend as a whole: 503 before
  // anything happened, or after both steps were applied.
  const Fault fault = faults_.decide(stats_);
  if (fault == Fault::fail_before) return unknown_outcome();
  in_replace_ = true;
  HttpResponse response = replace_order(*symbol, *original, params, force_new, refused_new);
  in_replace_ = false;
  if (fault == Fault::fail_after) return unknown_outcome();
  return response;
}

HttpResponse BinanceVenue::replace_outcome(int status, int code, const char* message, const char* cancel_result,
                                           const char* new_result, std::string_view cancel_response,
                                           std::string_view new_response) {
  JsonWriter out;
  out.begin_object().member_int("code", code).member("msg", message).key("data").begin_object();
  out.member("cancelResult", cancel_result).member("newOrderResult", new_result);
  out.member_raw("cancelResponse", cancel_response);
  out.member_raw("newOrderResponse", new_response.empty() ? std::string_view("null") : new_response);
  out.end_object().end_object();
  return json(status, out.take());
}

HttpResponse BinanceVenue::unknown_outcome() {
  return error(503, -1007,
               "Timeout waiting for response from backend server. Send status unknown; execution status unknown.");
}

HttpResponse BinanceVenue::replace_order(const std::string& symbol, const Order& original, const Params& params,
                                         bool force_new, const std::string& refused_new) {
  Params cancel_params;
  cancel_params.query.push_back(Param{"symbol", symbol});
  cancel_params.query.push_back(Param{"orderId", std::to_string(original.order_id)});
  HttpResponse canceled = cancel_order(cancel_params);
  if (canceled.status != 200) return canceled;
  if (force_new) {
    log_.request("binance: cancelReplace " + symbol + " -> new order failed");
    return replace_outcome(409, -2021, "Order cancel-replace partially failed.", "SUCCESS", "FAILURE",
                           canceled.body, refused_new);
  }
  HttpResponse placed = new_order(params);
  if (placed.status >= 500) return placed;
  if (placed.status != 200) {
    log_.request("binance: cancelReplace " + symbol + " -> new order failed");
    return replace_outcome(409, -2021, "Order cancel-replace partially failed.", "SUCCESS", "FAILURE",
                           canceled.body, placed.body);
  }
  JsonWriter out;
  out.begin_object()
      .member("cancelResult", "SUCCESS")
      .member("newOrderResult", "SUCCESS")
      .member_raw("cancelResponse", canceled.body)
      .member_raw("newOrderResponse", placed.body)
      .end_object();
  return json(200, out.take());
}

void BinanceVenue::write_order(JsonWriter& out, const Order& order) const {
  out.begin_object()
      .member("symbol", order.symbol)
      .member_int("orderId", order.order_id)
      .member_int("orderListId", -1)
      .member("clientOrderId", order.client_order_id)
      .member("price", fixed(order.price))
      .member("origQty", fixed(order.orig_qty))
      .member("executedQty", fixed(order.executed_qty))
      .member("cummulativeQuoteQty", fixed(order.cumulative_quote))
      .member("status", order.status)
      .member("timeInForce", order.time_in_force)
      .member("type", order.type)
      .member("side", order.side)
      .member("stopPrice", fixed(Decimal{}))
      .member("icebergQty", fixed(Decimal{}))
      .member_int("time", order.time)
      .member_int("updateTime", order.update_time)
      .member_bool("isWorking", true)
      .member_int("workingTime", order.time)
      .member("origQuoteOrderQty", fixed(Decimal{}))
      .member("selfTradePreventionMode", "EXPIRE_MAKER")
      .end_object();
}

HttpResponse BinanceVenue::query_order(const Params& params) {
  const auto symbol = params.get("symbol");
  if (!symbol || symbol->empty()) return missing("symbol");
  if (board_.find(Venue::binance, *symbol) == nullptr) return error(400, -1121, "Invalid symbol.");
  const auto order_id = params.get("orderId");
  const auto client_order_id = params.get("origClientOrderId");
  if (!order_id && !client_order_id) {
    return error(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!");
  }
  const Order* order = find(*symbol, order_id, client_order_id);
  if (order == nullptr) return error(400, -2013, "Order does not exist.");
  JsonWriter out;
  write_order(out, *order);
  return json(200, out.take());
}

HttpResponse BinanceVenue::open_orders(const Params& params) {
  const auto symbol = params.get("symbol");
  if (symbol && board_.find(Venue::binance, *symbol) == nullptr) return error(400, -1121, "Invalid symbol.");
  JsonWriter out;
  out.begin_array();
  for (const std::size_t index : open_) {
    if (!symbol || orders_[index].symbol == *symbol) write_order(out, orders_[index]);
  }
  out.end_array();
  return json(200, out.take());
}

HttpResponse BinanceVenue::account() {
  JsonWriter out;
  out.begin_object()
      .member_int("makerCommission", 0)
      .member_int("takerCommission", 0)
      .member_int("buyerCommission", 0)
      .member_int("sellerCommission", 0)
      .key("commissionRates")
      .begin_object()
      .member("maker", fixed(Decimal{}))
      .member("taker", fixed(Decimal{}))
      .member("buyer", fixed(Decimal{}))
      .member("seller", fixed(Decimal{}))
      .end_object()
      .member_bool("canTrade", true)
      .member_bool("canWithdraw", false)
      .member_bool("canDeposit", false)
      .member_bool("brokered", false)
      .member_bool("requireSelfTradePrevention", false)
      .member_bool("preventSor", false)
      .member_int("updateTime", now_ms())
      .member("accountType", "SPOT")
      .key("balances")
      .begin_array();
  for (const auto& [asset, balance] : balances_) {
    out.begin_object()
        .member("asset", asset)
        .member("free", fixed(balance.free))
        .member("locked", fixed(balance.locked))
        .end_object();
  }
  out.end_array().key("permissions").begin_array().string("SPOT").end_array().member_int("uid", 1).end_object();
  return json(200, out.take());
}

HttpResponse BinanceVenue::book_ticker(const Params& params) {
  const auto write = [](JsonWriter& out, const Instrument& instrument) {
    out.begin_object()
        .member("symbol", instrument.name)
        .member("bidPrice", fixed(instrument.bid))
        .member("bidQty", fixed(instrument.depth))
        .member("askPrice", fixed(instrument.ask))
        .member("askQty", fixed(instrument.depth))
        .end_object();
  };
  JsonWriter out;
  if (const auto symbol = params.get("symbol")) {
    const Instrument* instrument = board_.find(Venue::binance, *symbol);
    if (instrument == nullptr) return error(400, -1121, "Invalid symbol.");
    write(out, *instrument);
    return json(200, out.take());
  }
  std::vector<const Instrument*> wanted;
  if (const auto symbols = params.get("symbols")) {
    // ["BTCUSDT","ETHUSDT"]
    std::string list = *symbols;
    list.erase(std::remove_if(list.begin(), list.end(), [](char c) { return c == '[' || c == ']' || c == '"'; }),
               list.end());
    for (std::string_view name : split(list, ',')) {
      const Instrument* instrument = board_.find(Venue::binance, std::string(name));
      if (instrument == nullptr) return error(400, -1121, "Invalid symbol.");
      wanted.push_back(instrument);
    }
  } else {
    wanted = board_.all(Venue::binance);
  }
  out.begin_array();
  for (const Instrument* instrument : wanted) write(out, *instrument);
  out.end_array();
  return json(200, out.take());
}

HttpResponse BinanceVenue::exchange_info(const Params& params) {
  const auto only = params.get("symbol");
  JsonWriter out;
  out.begin_object()
      .member("timezone", "UTC")
      .member_int("serverTime", now_ms())
      .key("rateLimits")
      .begin_array();
  write_rate_limit(out, "REQUEST_WEIGHT", config_.weight_window_ms, config_.weight_limit);
  write_rate_limit(out, "ORDERS", config_.order_window_ms, config_.order_limit);
  out.end_array()
      .key("symbols")
      .begin_array();
  for (const Instrument* instrument : board_.all(Venue::binance)) {
    if (only && instrument->name != *only) continue;
    const SymbolInfo info = symbol_info(*instrument);
    out.begin_object()
        .member("symbol", instrument->name)
        .member("status", instrument->halted ? "HALT" : "TRADING")
        .member("baseAsset", info.base)
        .member_int("baseAssetPrecision", kPrintedDigits)
        .member("quoteAsset", info.quote)
        .member_int("quoteAssetPrecision", kPrintedDigits)
        .key("orderTypes")
        .begin_array()
        .string("LIMIT")
        .string("LIMIT_MAKER")
        .string("MARKET")
        .end_array()
        .key("filters")
        .begin_array()
        .begin_object()
        .member("filterType", "PRICE_FILTER")
        .member("minPrice", fixed(instrument->tick))
        .member("maxPrice", fixed(Decimal::from_integer(1'000'000)))
        .member("tickSize", fixed(instrument->tick))
        .end_object()
        .begin_object()
        .member("filterType", "LOT_SIZE")
        .member("minQty", fixed(info.step))
        .member("maxQty", fixed(Decimal::from_integer(9000)))
        .member("stepSize", fixed(info.step))
        .end_object()
        .begin_object()
        .member("filterType", "NOTIONAL")
        .member("minNotional", fixed(info.min_notional))
        .member_bool("applyMinToMarket", true)
        .end_object()
        .end_array()
        .key("permissions")
        .begin_array()
        .string("SPOT")
        .end_array()
        .end_object();
  }
  out.end_array().end_object();
  return json(200, out.take());
}

// ---------------------------------------------------------------------------
// Admin view

void BinanceVenue::write_orders(JsonWriter& out, const std::string& client_id) const {
  for (const auto& order : orders_) {
    if (!client_id.empty() && order.client_order_id != client_id) continue;
    out.begin_object()
        .member("venue", "binance")
        .member("id", std::to_string(order.order_id))
        .member("client_order_id", order.client_order_id)
        .member("instrument", order.symbol)
        .member("type", order.type)
        .member("side", order.side)
        .member("quantity", order.orig_qty.to_string())
        .member("executed", order.executed_qty.to_string())
        .member("state", order.status)
        .end_object();
  }
}

std::size_t BinanceVenue::order_count(const std::string& client_id) const {
  return static_cast<std::size_t>(std::count_if(orders_.begin(), orders_.end(), [&](const Order& order) {
    return client_id.empty() || order.client_order_id == client_id;
  }));
}

}  // namespace ordergate::sim
