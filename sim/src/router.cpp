#include "router.hpp"

#include <charconv>

namespace ordergate::sim {

namespace {

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

HttpResponse json_reply(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

HttpResponse admin_error(int status, const std::string& message) {
  JsonWriter out;
  out.begin_object().member("error", message).end_object();
  return json_reply(status, out.take());
}

}  // namespace

HttpResponse Router::handle(const HttpRequest& request) {
  if (starts_with(request.path, "/v3/") && oanda_ != nullptr) return oanda_->handle(request);
  if (starts_with(request.path, "/api/") && binance_ != nullptr) return binance_->handle(request);
  if (starts_with(request.path, "/sim/") && admin_ != nullptr) return admin_->handle(request);
  return admin_error(404, "no such endpoint in ordergate-sim");
}

HttpResponse Admin::handle(const HttpRequest& request) {
  if (!request.remote_is_loopback) return admin_error(403, "admin endpoints answer loopback clients only");
  if (request.path == "/sim/price" && request.method == "POST") return set_price(request);
  if (request.path == "/sim/orders" && request.method == "GET") return orders(request);
  if (request.path == "/sim/stats" && request.method == "GET") return stats();
  if (request.path == "/sim/faults" && request.method == "POST") return faults(request);
  if (request.path == "/sim/echo" && request.method == "POST") return echo(request);
  return admin_error(404, "no such admin endpoint (see docs/simulator.md)");
}

HttpResponse Admin::set_price(const HttpRequest& request) {
  simdjson::padded_string body(request.body);
  simdjson::dom::object spec;
  if (parser_.parse(body).get_object().get(spec) != simdjson::SUCCESS) {
    return admin_error(400, "body must be a JSON object");
  }
  std::string_view name;
  if (spec["instrument"].get_string().get(name) != simdjson::SUCCESS) return admin_error(400, "missing 'instrument'");
  const std::string instrument_name(name);

  std::string_view venue_text;
  const Instrument* instrument = nullptr;
  if (spec["venue"].get_string().get(venue_text) == simdjson::SUCCESS) {
    if (venue_text != "oanda" && venue_text != "binance") return admin_error(400, "'venue' is oanda or binance");
    instrument = board_.find(venue_text == "oanda" ? Venue::oanda : Venue::binance, instrument_name);
  } else {
    instrument = board_.find(Venue::oanda, instrument_name);
    if (instrument == nullptr) instrument = board_.find(Venue::binance, instrument_name);
  }
  if (instrument == nullptr) return admin_error(404, "unknown instrument '" + instrument_name + "'");
  const Venue venue = instrument->venue;

  bool halted = false;
  if (spec["halted"].get_bool().get(halted) == simdjson::SUCCESS && halted != instrument->halted) {
    board_.set_halted(venue, instrument_name, halted);
  }
  std::string_view bid_text;
  std::string_view ask_text;
  const bool has_bid = spec["bid"].get_string().get(bid_text) == simdjson::SUCCESS;
  const bool has_ask = spec["ask"].get_string().get(ask_text) == simdjson::SUCCESS;
  if (has_bid || has_ask) {
    const auto bid = has_bid ? parse_decimal(bid_text) : std::optional<Decimal>(instrument->bid);
    const auto ask = has_ask ? parse_decimal(ask_text) : std::optional<Decimal>(instrument->ask);
    if (!bid || !ask || !bid->is_positive() || *bid >= *ask) {
      return admin_error(400, "bid and ask must be decimal strings with 0 < bid < ask");
    }
    board_.set_quote(venue, instrument_name, *bid, *ask);
  }
  log_.request(std::string("admin: ") + to_string(venue) + " " + instrument_name + " bid " +
               format_decimal(instrument->bid, instrument->price_digits) + " ask " +
               format_decimal(instrument->ask, instrument->price_digits) +
               (instrument->halted ? " (halted)" : ""));
  JsonWriter out;
  out.begin_object()
      .member("venue", to_string(venue))
      .member("instrument", instrument->name)
      .member("bid", format_decimal(instrument->bid, instrument->price_digits))
      .member("ask", format_decimal(instrument->ask, instrument->price_digits))
      .member_bool("halted", instrument->halted)
      .end_object();
  return json_reply(200, out.take());
}

HttpResponse Admin::orders(const HttpRequest& request) {
  const auto params = parse_params(request.query);
  const std::string venue = find_param(params, "venue").value_or("");
  const std::string client_id = find_param(params, "client_order_id").value_or("");
  if (!venue.empty() && venue != "oanda" && venue != "binance") return admin_error(400, "'venue' is oanda or binance");
  std::size_t count = 0;
  JsonWriter out;
  out.begin_object().key("orders").begin_array();
  if (oanda_ != nullptr && venue != "binance") {
    oanda_->write_orders(out, client_id);
    count += oanda_->order_count(client_id);
  }
  if (binance_ != nullptr && venue != "oanda") {
    binance_->write_orders(out, client_id);
    count += binance_->order_count(client_id);
  }
  out.end_array().member_int("count", static_cast<std::int64_t>(count)).end_object();
  return json_reply(200, out.take());
}

// The floor of a broker round trip: a request answered at once, with a
// reply of the size asked for (`bytes`, the size of a venue's order reply),
// so a benchmark can compare an order with the bare HTTPS exchange of the
// same size over the same connection.
HttpResponse Admin::echo(const HttpRequest& request) {
  constexpr std::size_t kMaxEchoBytes = 1 << 20;
  const auto params = parse_params(request.query);
  const std::string text = find_param(params, "bytes").value_or("");
  std::size_t bytes = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), bytes);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size() || bytes < 2 ||
      bytes > kMaxEchoBytes) {
    return admin_error(400, "'bytes' is the size of the reply, 2..1048576");
  }
  // A JSON string of that many bytes, quotes included.
  std::string body(bytes, 'x');
  body.front() = '"';
  body.back() = '"';
  return json_reply(200, std::move(body));
}

HttpResponse Admin::stats() {
  const auto number = [](std::uint64_t value) { return static_cast<std::int64_t>(value); };
  JsonWriter out;
  out.begin_object()
      .member_int("connections_accepted", number(stats_.connections_accepted))
      .member_int("tls_handshakes_ok", number(stats_.tls_handshakes_ok))
      .member_int("tls_handshakes_failed", number(stats_.tls_handshakes_failed))
      .member_int("requests", number(stats_.requests))
      .member_int("order_requests", number(stats_.order_requests))
      .member_int("faults_injected", number(stats_.faults_injected))
      .member_int("connections_dropped", number(stats_.connections_dropped))
      .member_int("idle_closes", number(stats_.idle_closes))
      .member_int("open_streams", number(stats_.open_streams))
      .end_object();
  return json_reply(200, out.take());
}

HttpResponse Admin::faults(const HttpRequest& request) {
  simdjson::padded_string body(request.body);
  simdjson::dom::object spec;
  if (parser_.parse(body).get_object().get(spec) != simdjson::SUCCESS) {
    return admin_error(400, "body must be a JSON object");
  }
  const bool has_orders = spec["fail_next_orders"].error() != simdjson::NO_SUCH_FIELD;
  const bool has_holdings = spec["fail_next_holdings"].error() != simdjson::NO_SUCH_FIELD;
  const bool has_replace_cancel = spec["fail_next_replace_cancel"].error() != simdjson::NO_SUCH_FIELD;
  const bool has_replace_new = spec["fail_next_replace_new"].error() != simdjson::NO_SUCH_FIELD;
  if (!has_orders && !has_holdings && !has_replace_cancel && !has_replace_new) {
    return admin_error(400,
                       "give 'fail_next_orders', 'fail_next_holdings', 'fail_next_replace_cancel' or "
                       "'fail_next_replace_new'");
  }
  std::int64_t replace_cancel = 0;
  if (has_replace_cancel &&
      (spec["fail_next_replace_cancel"].get_int64().get(replace_cancel) != simdjson::SUCCESS || replace_cancel < 0)) {
    return admin_error(400, "'fail_next_replace_cancel' must be a non-negative integer");
  }
  std::int64_t replace_new = 0;
  if (has_replace_new &&
      (spec["fail_next_replace_new"].get_int64().get(replace_new) != simdjson::SUCCESS || replace_new < 0)) {
    return admin_error(400, "'fail_next_replace_new' must be a non-negative integer");
  }
  std::int64_t count = 0;
  if (has_orders && (spec["fail_next_orders"].get_int64().get(count) != simdjson::SUCCESS || count < 0)) {
    return admin_error(400, "'fail_next_orders' must be a non-negative integer");
  }
  std::int64_t holdings = 0;
  if (has_holdings && (spec["fail_next_holdings"].get_int64().get(holdings) != simdjson::SUCCESS || holdings < 0)) {
    return admin_error(400, "'fail_next_holdings' must be a non-negative integer");
  }
  bool after_place = false;
  if (spec["after_place"].get_bool().get(after_place) != simdjson::SUCCESS) after_place = false;
  JsonWriter out;
  out.begin_object();
  if (has_orders) {
    faults_.arm(static_cast<std::uint64_t>(count), after_place);
    log_.request("admin: next " + std::to_string(count) + " order requests fail" +
                 (after_place ? " after being applied" : " before being applied"));
    out.member_int("fail_next_orders", count).member_bool("after_place", after_place);
  }
  if (has_holdings) {
    faults_.arm_holdings(static_cast<std::uint64_t>(holdings));
    log_.request("admin: next " + std::to_string(holdings) + " holdings reads fail");
    out.member_int("fail_next_holdings", holdings);
  }
  if (has_replace_cancel || has_replace_new) {
    faults_.arm_replace(static_cast<std::uint64_t>(replace_cancel), static_cast<std::uint64_t>(replace_new));
    log_.request("admin: next " + std::to_string(replace_cancel) + " amend cancels and " +
                 std::to_string(replace_new) + " amend new orders fail");
    out.member_int("fail_next_replace_cancel", replace_cancel).member_int("fail_next_replace_new", replace_new);
  }
  out.end_object();
  return json_reply(200, out.take());
}

}  // namespace ordergate::sim
