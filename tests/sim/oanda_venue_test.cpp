// The simulator's OANDA v20 endpoints over real TLS: orders that fill, rest,
// cancel and get rejected; pricing; the transaction stream and polling;
// authentication; injected 5xx after the order was placed.

#include <gtest/gtest.h>

#include <deque>
#include <optional>

#include <simdjson.h>

#include "sim_process.hpp"
#include "tls_client.hpp"

namespace ordergate::sim::testing {
namespace {

const std::string kAccountPath = std::string("/v3/accounts/") + kOandaAccount;

class OandaSim : public ::testing::Test {
 protected:
  explicit OandaSim(std::vector<std::string> args = {}) : sim_(with_venue(std::move(args))), client_(sim_.port(), sim_.ca_file()) {}

  // A clean exit also proves the sanitizer builds found nothing in the sim.
  void TearDown() override {
    client_.close();
    EXPECT_EQ(sim_.stop(), 0) << sim_.stderr_text();
  }

  static std::vector<std::string> with_venue(std::vector<std::string> args) {
    args.insert(args.begin(), {"--venues", "oanda"});
    return args;
  }

  HttpResult call(const std::string& method, const std::string& path, const std::string& body = {}) {
    return client_.request(method, kAccountPath + path, body,
                           {{"Authorization", std::string("Bearer ") + kOandaToken}, {"Content-Type", "application/json"}});
  }

  HttpResult set_price(const std::string& instrument, const std::string& bid, const std::string& ask) {
    return client_.request("POST", "/sim/price",
                           R"({"instrument":")" + instrument + R"(","bid":")" + bid + R"(","ask":")" + ask + R"("})");
  }

  simdjson::dom::element parse(const std::string& text) {
    documents_.emplace_back(text);
    simdjson::dom::element element;
    if (parsers_.emplace_back().parse(documents_.back()).get(element) != simdjson::SUCCESS) {
      ADD_FAILURE() << "not JSON: " << text;
    }
    return element;
  }

  static std::string text(simdjson::dom::element element, std::string_view pointer) {
    std::string_view value;
    if (element.at_pointer(pointer).get_string().get(value) != simdjson::SUCCESS) return "<missing " + std::string(pointer) + ">";
    return std::string(value);
  }
  static bool has(simdjson::dom::element element, std::string_view pointer) {
    return element.at_pointer(pointer).error() == simdjson::SUCCESS;
  }

  SimProcess sim_;
  TlsClient client_;
  std::deque<simdjson::padded_string> documents_;
  std::deque<simdjson::dom::parser> parsers_;
};

TEST_F(OandaSim, MarketOrderIsCreatedAndFilledAtTheAskWith201) {
  const auto response =
      call("POST", "/orders",
           R"({"order":{"type":"MARKET","instrument":"EUR_USD","units":"1000","timeInForce":"FOK","clientExtensions":{"id":"m-1"}}})");
  ASSERT_EQ(response.status, 201) << response.body;
  const auto body = parse(response.body);
  EXPECT_EQ(text(body, "/orderCreateTransaction/type"), "MARKET_ORDER");
  EXPECT_EQ(text(body, "/orderCreateTransaction/clientExtensions/id"), "m-1");
  EXPECT_EQ(text(body, "/orderFillTransaction/type"), "ORDER_FILL");
  EXPECT_EQ(text(body, "/orderFillTransaction/units"), "1000");
  EXPECT_EQ(text(body, "/orderFillTransaction/price"), "1.08460");
  EXPECT_EQ(text(body, "/orderFillTransaction/clientOrderID"), "m-1");
  EXPECT_FALSE(has(body, "/orderCancelTransaction"));
  const std::string create_id = text(body, "/orderCreateTransaction/id");
  const std::string fill_id = text(body, "/orderFillTransaction/id");
  EXPECT_EQ(std::stoi(fill_id), std::stoi(create_id) + 1) << "transaction ids are consecutive";
  EXPECT_EQ(text(body, "/lastTransactionID"), fill_id);
  EXPECT_EQ(text(body, "/relatedTransactionIDs/0"), create_id);
  EXPECT_EQ(text(body, "/relatedTransactionIDs/1"), fill_id);

  const auto sell = parse(call("POST", "/orders", R"({"order":{"type":"MARKET","instrument":"EUR_USD","units":"-400"}})").body);
  EXPECT_EQ(text(sell, "/orderFillTransaction/price"), "1.08450") << "a sell fills at the bid";
}

TEST_F(OandaSim, RestingLimitFillsWhenTheSimPriceCrossesItAndTheFillIsStreamed) {
  TlsClient stream(sim_.port(), sim_.ca_file());
  ASSERT_EQ(stream.open_stream(kAccountPath + "/transactions/stream",
                               {{"Authorization", std::string("Bearer ") + kOandaToken}}),
            200);
  const auto first = stream.read_stream_line(std::chrono::seconds(5));
  ASSERT_TRUE(first);
  EXPECT_EQ(text(parse(*first), "/type"), "HEARTBEAT");

  const auto created = call(
      "POST", "/orders",
      R"({"order":{"type":"LIMIT","instrument":"EUR_USD","units":"2000","price":"1.08000","timeInForce":"GTC","clientExtensions":{"id":"lim-1"}}})");
  ASSERT_EQ(created.status, 201) << created.body;
  const auto body = parse(created.body);
  EXPECT_EQ(text(body, "/orderCreateTransaction/type"), "LIMIT_ORDER");
  EXPECT_FALSE(has(body, "/orderFillTransaction"));
  EXPECT_FALSE(has(body, "/orderCancelTransaction"));
  const std::string order_id = text(body, "/orderCreateTransaction/id");
  EXPECT_EQ(text(parse(call("GET", "/orders/@lim-1").body), "/order/state"), "PENDING");

  ASSERT_EQ(set_price("EUR_USD", "1.07980", "1.07990").status, 200);

  std::string fill_line;
  for (int i = 0; i < 10 && fill_line.empty(); ++i) {
    const auto line = stream.read_stream_line(std::chrono::seconds(5));
    ASSERT_TRUE(line) << "no ORDER_FILL on the stream";
    if (text(parse(*line), "/type") == "ORDER_FILL") fill_line = *line;
  }
  const auto fill = parse(fill_line);
  EXPECT_EQ(text(fill, "/orderID"), order_id);
  EXPECT_EQ(text(fill, "/clientOrderID"), "lim-1");
  EXPECT_EQ(text(fill, "/price"), "1.07990") << "fills at the ask, which is better than the limit";
  EXPECT_EQ(text(fill, "/reason"), "LIMIT_ORDER");
  EXPECT_EQ(text(parse(call("GET", "/orders/" + order_id).body), "/order/state"), "FILLED");
  EXPECT_EQ(call("GET", "/orders/@lim-1").status, 404) << "like OANDA, @clientID finds pending orders only";
}

TEST_F(OandaSim, CancelByClientOrderIdThenCancelAgainIs404OrderDoesntExist) {
  ASSERT_EQ(call("POST", "/orders",
                 R"({"order":{"type":"LIMIT","instrument":"USD_JPY","units":"-100","price":"155.000","clientExtensions":{"id":"c-1"}}})")
                .status,
            201);
  const auto cancelled = call("PUT", "/orders/@c-1/cancel");
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  const auto body = parse(cancelled.body);
  EXPECT_EQ(text(body, "/orderCancelTransaction/type"), "ORDER_CANCEL");
  EXPECT_EQ(text(body, "/orderCancelTransaction/reason"), "CLIENT_REQUEST");
  EXPECT_EQ(text(body, "/orderCancelTransaction/clientOrderID"), "c-1");

  const auto again = call("PUT", "/orders/%40c-1/cancel");
  ASSERT_EQ(again.status, 404);
  const auto rejected = parse(again.body);
  EXPECT_EQ(text(rejected, "/errorCode"), "ORDER_DOESNT_EXIST");
  EXPECT_EQ(text(rejected, "/orderCancelRejectTransaction/rejectReason"), "ORDER_DOESNT_EXIST");
}

TEST_F(OandaSim, WrongOrMissingTokenIs401WithOandasMessage) {
  for (const std::string& authorization : {std::string("Bearer wrong-token"), std::string(kOandaToken), std::string()}) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!authorization.empty()) headers.emplace_back("Authorization", authorization);
    const auto response = client_.request("GET", kAccountPath + "/summary", {}, headers);
    EXPECT_EQ(response.status, 401) << authorization;
    EXPECT_EQ(text(parse(response.body), "/errorMessage"), "Insufficient authorization to perform request.");
  }
}

TEST_F(OandaSim, InvalidOrdersAre400WithARejectTransactionAndReason) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"order":{"type":"MARKET","instrument":"EUR_USD","units":"0"}})", "UNITS_INVALID"},
      {R"({"order":{"type":"MARKET","instrument":"EUR_USD","units":"10.5"}})", "UNITS_PRECISION_EXCEEDED"},
      {R"({"order":{"type":"MARKET","instrument":"EUR_USD","units":"10","timeInForce":"GTC"}})", "TIME_IN_FORCE_INVALID"},
      {R"({"order":{"type":"LIMIT","instrument":"EUR_USD","units":"10"}})", "PRICE_MISSING"},
      {R"({"order":{"type":"LIMIT","instrument":"EUR_USD","units":"10","price":"1.084601"}})", "PRICE_PRECISION_EXCEEDED"},
      {R"({"order":{"type":"LIMIT","instrument":"EUR_USD","units":"10","price":"1.08","timeInForce":"GTD"}})",
       "TIME_IN_FORCE_GTD_TIMESTAMP_MISSING"},
  };
  for (const auto& [order, reason] : cases) {
    const auto response = call("POST", "/orders", order);
    EXPECT_EQ(response.status, 400) << order;
    const auto body = parse(response.body);
    EXPECT_EQ(text(body, "/orderRejectTransaction/rejectReason"), reason) << order;
    EXPECT_EQ(text(body, "/errorCode"), reason) << order;
  }
  const auto unknown = call("POST", "/orders", R"({"order":{"type":"MARKET","instrument":"XXX_YYY","units":"1"}})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_FALSE(has(parse(unknown.body), "/orderRejectTransaction")) << "an unknown instrument fails before any transaction";
  EXPECT_EQ(parse(client_.request("GET", "/sim/orders").body).at_key("count").get_int64().value(), 0);
}

TEST_F(OandaSim, HaltedInstrumentCancelsAMarketOrderWithMarketHalted) {
  ASSERT_EQ(client_.request("POST", "/sim/price", R"({"instrument":"GBP_USD","halted":true})").status, 200);
  const auto response = call("POST", "/orders", R"({"order":{"type":"MARKET","instrument":"GBP_USD","units":"100"}})");
  ASSERT_EQ(response.status, 201);
  const auto body = parse(response.body);
  EXPECT_EQ(text(body, "/orderCancelTransaction/reason"), "MARKET_HALTED");
  EXPECT_FALSE(has(body, "/orderFillTransaction"));
  const auto pricing = parse(call("GET", "/pricing?instruments=GBP_USD").body);
  EXPECT_FALSE(pricing.at_pointer("/prices/0/tradeable").get_bool().value());
}

TEST_F(OandaSim, FokBeyondLiquidityIsCancelledAndInsufficientMarginToo) {
  const auto fok = parse(call("POST", "/orders", R"({"order":{"type":"MARKET","instrument":"EUR_USD","units":"20000000"}})").body);
  EXPECT_EQ(text(fok, "/orderCancelTransaction/reason"), "INSUFFICIENT_LIQUIDITY");
  const auto margin = parse(call("POST", "/orders", R"({"order":{"type":"MARKET","instrument":"EUR_USD","units":"6000000"}})").body);
  EXPECT_EQ(text(margin, "/orderCancelTransaction/reason"), "INSUFFICIENT_MARGIN") << "100000 USD at 2% margin";
}

TEST_F(OandaSim, PricingReturnsStringPricesForEachInstrument) {
  const auto response = call("GET", "/pricing?instruments=EUR_USD%2CUSD_JPY");
  ASSERT_EQ(response.status, 200) << response.body;
  const auto body = parse(response.body);
  EXPECT_EQ(text(body, "/prices/0/instrument"), "EUR_USD");
  EXPECT_EQ(text(body, "/prices/0/bids/0/price"), "1.08450");
  EXPECT_EQ(text(body, "/prices/0/asks/0/price"), "1.08460");
  EXPECT_EQ(text(body, "/prices/1/asks/0/price"), "151.245");
  EXPECT_TRUE(has(body, "/time"));
  EXPECT_EQ(call("GET", "/pricing?instruments=NOPE_USD").status, 400);
}

TEST_F(OandaSim, SinceIdReturnsEveryLaterTransactionInOrder) {
  const auto before = text(parse(call("GET", "/summary").body), "/lastTransactionID");
  call("POST", "/orders", R"({"order":{"type":"MARKET","instrument":"EUR_USD","units":"5"}})");
  call("POST", "/orders", R"({"order":{"type":"MARKET","instrument":"EUR_USD","units":"0"}})");
  const auto page = parse(call("GET", "/transactions/sinceid?id=" + before).body);
  std::vector<std::string> types;
  for (auto transaction : page["transactions"].get_array()) types.emplace_back(text(transaction, "/type"));
  EXPECT_EQ(types, (std::vector<std::string>{"MARKET_ORDER", "ORDER_FILL", "MARKET_ORDER_REJECT"}));
  EXPECT_EQ(std::stoi(text(page, "/lastTransactionID")), std::stoi(before) + 3);
  EXPECT_EQ(call("GET", "/transactions/sinceid?id=abc").status, 400);
}

class OandaSimFailingAfterPlace : public OandaSim {
 protected:
  OandaSimFailingAfterPlace() : OandaSim({"--error-first", "1", "--error-after-place"}) {}
};

TEST_F(OandaSim, PendingOrdersAndOpenPositionsAreWhatReconciliationReads) {
  ASSERT_EQ(call("POST", "/orders",
                 R"({"order":{"type":"MARKET","instrument":"EUR_USD","units":"-3000","timeInForce":"FOK"}})")
                .status,
            201);
  ASSERT_EQ(call("POST", "/orders",
                 R"({"order":{"type":"LIMIT","instrument":"EUR_USD","units":"2000","price":"1.08000",)"
                 R"("timeInForce":"GTC","clientExtensions":{"id":"p-1"}}})")
                .status,
            201);
  const auto pending = parse(call("GET", "/pendingOrders").body);
  EXPECT_EQ(text(pending, "/orders/0/type"), "LIMIT");
  EXPECT_EQ(text(pending, "/orders/0/units"), "2000");
  EXPECT_EQ(text(pending, "/orders/0/price"), "1.08000");
  EXPECT_EQ(text(pending, "/orders/0/state"), "PENDING");
  EXPECT_EQ(text(pending, "/orders/0/clientExtensions/id"), "p-1");
  EXPECT_FALSE(has(pending, "/orders/1"));
  const auto response = call("GET", "/openPositions");
  ASSERT_EQ(response.status, 200) << response.body;
  const auto positions = parse(response.body);
  EXPECT_EQ(text(positions, "/positions/0/instrument"), "EUR_USD");
  EXPECT_EQ(text(positions, "/positions/0/long/units"), "0");
  EXPECT_EQ(text(positions, "/positions/0/short/units"), "-3000") << "short units are negative, as OANDA writes them";
  EXPECT_EQ(text(positions, "/positions/0/short/averagePrice"), "1.08450") << "sold at the bid";
  EXPECT_EQ(text(positions, "/positions/0/short/tradeIDs/0"), "3") << "the fill that opened it";
  EXPECT_FALSE(has(positions, "/positions/1"));
  EXPECT_EQ(text(positions, "/lastTransactionID"), text(pending, "/lastTransactionID"));
}

TEST_F(OandaSim, ArmedHoldingsFaultsFailTheNextReadsWith503) {
  const auto armed = client_.request("POST", "/sim/faults", R"({"fail_next_holdings":2})");
  ASSERT_EQ(armed.status, 200) << armed.body;
  EXPECT_EQ(call("GET", "/pendingOrders").status, 503);
  EXPECT_EQ(call("GET", "/openPositions").status, 503);
  EXPECT_EQ(call("GET", "/pendingOrders").status, 200);
  EXPECT_EQ(client_.request("POST", "/sim/faults", R"({"after_place":true})").status, 400);
}

TEST_F(OandaSimFailingAfterPlace, A503OnAnOrderStillLeavesExactlyOneOrderAtTheBroker) {
  const auto response =
      call("POST", "/orders", R"({"order":{"type":"MARKET","instrument":"EUR_USD","units":"100","clientExtensions":{"id":"u-1"}}})");
  EXPECT_EQ(response.status, 503);
  const auto orders = parse(client_.request("GET", "/sim/orders?venue=oanda&client_order_id=u-1").body);
  EXPECT_EQ(orders["count"].get_int64().value(), 1);
  EXPECT_EQ(text(orders, "/orders/0/state"), "FILLED");
  // The transaction log is where a client finds out what happened.
  const auto page = parse(call("GET", "/transactions/sinceid?id=1").body);
  EXPECT_EQ(text(page, "/transactions/1/clientOrderID"), "u-1");
}

// --- PUT /orders/{orderSpecifier}: replace ----------------------------------

TEST_F(OandaSim, AReplaceCancelsTheOriginalAndCreatesTheReplacementEachNamingTheOther) {
  const auto created = call("POST", "/orders",
                            R"({"order":{"type":"LIMIT","instrument":"EUR_USD","units":"2000","price":"1.08000",)"
                            R"("timeInForce":"GTC","clientExtensions":{"id":"r-1"}}})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string original = text(parse(created.body), "/orderCreateTransaction/id");
  const auto replaced = call("PUT", "/orders/@r-1",
                             R"({"order":{"type":"LIMIT","instrument":"EUR_USD","units":"3000","price":"1.08100",)"
                             R"("timeInForce":"GTC","clientExtensions":{"id":"r-2"}}})");
  ASSERT_EQ(replaced.status, 201) << replaced.body;
  const auto body = parse(replaced.body);
  const std::string cancel_id = text(body, "/orderCancelTransaction/id");
  const std::string create_id = text(body, "/orderCreateTransaction/id");
  EXPECT_EQ(text(body, "/orderCancelTransaction/type"), "ORDER_CANCEL");
  EXPECT_EQ(text(body, "/orderCancelTransaction/orderID"), original);
  EXPECT_EQ(text(body, "/orderCancelTransaction/clientOrderID"), "r-1");
  EXPECT_EQ(text(body, "/orderCancelTransaction/reason"), "CLIENT_REQUEST_REPLACED");
  EXPECT_EQ(text(body, "/orderCancelTransaction/replacedByOrderID"), create_id);
  EXPECT_EQ(std::stoi(create_id), std::stoi(cancel_id) + 1);
  EXPECT_EQ(text(body, "/orderCreateTransaction/type"), "LIMIT_ORDER");
  EXPECT_EQ(text(body, "/orderCreateTransaction/replacesOrderID"), original);
  EXPECT_EQ(text(body, "/orderCreateTransaction/reason"), "REPLACEMENT");
  EXPECT_EQ(text(body, "/orderCreateTransaction/units"), "3000");
  EXPECT_EQ(text(body, "/orderCreateTransaction/price"), "1.08100");
  EXPECT_EQ(text(body, "/orderCreateTransaction/clientExtensions/id"), "r-2");
  EXPECT_FALSE(has(body, "/orderFillTransaction"));
  EXPECT_FALSE(has(body, "/replacingOrderCancelTransaction"));
  EXPECT_EQ(text(body, "/relatedTransactionIDs/0"), cancel_id);
  EXPECT_EQ(text(body, "/relatedTransactionIDs/1"), create_id);
  EXPECT_EQ(text(body, "/lastTransactionID"), create_id);

  const auto old_order = parse(call("GET", "/orders/" + original).body);
  EXPECT_EQ(text(old_order, "/order/state"), "CANCELLED");
  EXPECT_EQ(text(old_order, "/order/replacedByOrderID"), create_id);
  const auto new_order = parse(call("GET", "/orders/@r-2").body);
  EXPECT_EQ(text(new_order, "/order/state"), "PENDING");
  EXPECT_EQ(text(new_order, "/order/replacesOrderID"), original);
  // The account's history has both, as a client following it sees them.
  const auto page = parse(call("GET", "/transactions/sinceid?id=" + original).body);
  EXPECT_EQ(text(page, "/transactions/0/id"), cancel_id);
  EXPECT_EQ(text(page, "/transactions/0/replacedByOrderID"), create_id);
  EXPECT_EQ(text(page, "/transactions/1/replacesOrderID"), original);
  EXPECT_FALSE(has(page, "/transactions/2"));
  // The replacement is an order like any: replaced again by its OANDA id.
  const auto again = call("PUT", "/orders/" + create_id,
                          R"({"order":{"type":"LIMIT","instrument":"EUR_USD","units":"1000","price":"1.08100"}})");
  EXPECT_EQ(again.status, 201) << again.body;
}

TEST_F(OandaSim, AMarketableReplacementFillsAtOnceAndOneThatCannotBeKeptIsCancelled) {
  ASSERT_EQ(call("POST", "/orders",
                 R"({"order":{"type":"LIMIT","instrument":"EUR_USD","units":"2000","price":"1.08000",)"
                 R"("clientExtensions":{"id":"f-1"}}})")
                .status,
            201);
  const auto filled = call("PUT", "/orders/@f-1",
                           R"({"order":{"type":"LIMIT","instrument":"EUR_USD","units":"2000","price":"1.08500",)"
                           R"("clientExtensions":{"id":"f-2"}}})");
  ASSERT_EQ(filled.status, 201) << filled.body;
  const auto body = parse(filled.body);
  EXPECT_EQ(text(body, "/orderFillTransaction/orderID"), text(body, "/orderCreateTransaction/id"));
  EXPECT_EQ(text(body, "/orderFillTransaction/units"), "2000");
  EXPECT_EQ(text(body, "/orderFillTransaction/price"), "1.08460") << "at the ask";
  EXPECT_EQ(text(body, "/relatedTransactionIDs/2"), text(body, "/orderFillTransaction/id"));

  ASSERT_EQ(call("POST", "/orders",
                 R"({"order":{"type":"LIMIT","instrument":"EUR_USD","units":"2000","price":"1.08000",)"
                 R"("clientExtensions":{"id":"m-1"}}})")
                .status,
            201);
  // 6,000,000 EUR at 2% is more margin than the account has.
  const auto margin = call("PUT", "/orders/@m-1",
                           R"({"order":{"type":"LIMIT","instrument":"EUR_USD","units":"6000000","price":"1.08500",)"
                           R"("clientExtensions":{"id":"m-2"}}})");
  ASSERT_EQ(margin.status, 201) << margin.body;
  const auto cancelled = parse(margin.body);
  EXPECT_EQ(text(cancelled, "/orderCancelTransaction/reason"), "CLIENT_REQUEST_REPLACED");
  EXPECT_EQ(text(cancelled, "/replacingOrderCancelTransaction/orderID"),
            text(cancelled, "/orderCreateTransaction/id"));
  EXPECT_EQ(text(cancelled, "/replacingOrderCancelTransaction/reason"), "INSUFFICIENT_MARGIN");
  EXPECT_FALSE(has(cancelled, "/orderFillTransaction"));
}

TEST_F(OandaSim, ReplacingAnOrderThatIsNotPendingIs404WithACancelReject) {
  ASSERT_EQ(call("POST", "/orders", R"({"order":{"type":"MARKET","instrument":"EUR_USD","units":"5","clientExtensions":{"id":"g-1"}}})")
                .status,
            201);
  const std::string spec = R"({"order":{"type":"LIMIT","instrument":"EUR_USD","units":"5","price":"1.08000"}})";
  for (const std::string specifier : {"@g-1", "@nobody", "999"}) {
    const auto response = call("PUT", "/orders/" + specifier, spec);
    EXPECT_EQ(response.status, 404) << specifier;
    const auto body = parse(response.body);
    EXPECT_EQ(text(body, "/orderCancelRejectTransaction/rejectReason"), "ORDER_DOESNT_EXIST") << specifier;
    EXPECT_EQ(text(body, "/errorCode"), "ORDER_DOESNT_EXIST") << specifier;
    EXPECT_FALSE(has(body, "/orderCreateTransaction")) << specifier;
  }
}

TEST_F(OandaSim, AnInvalidReplacementIs400AndLeavesTheOriginalPending) {
  const auto created = call("POST", "/orders",
                            R"({"order":{"type":"LIMIT","instrument":"EUR_USD","units":"-700","price":"1.09000",)"
                            R"("clientExtensions":{"id":"i-1"}}})");
  ASSERT_EQ(created.status, 201);
  const std::string original = text(parse(created.body), "/orderCreateTransaction/id");
  const auto response = call("PUT", "/orders/" + original,
                             R"({"order":{"type":"LIMIT","instrument":"EUR_USD","units":"-700","price":"1.090001",)"
                             R"("clientExtensions":{"id":"i-2"}}})");
  ASSERT_EQ(response.status, 400) << response.body;
  const auto body = parse(response.body);
  EXPECT_EQ(text(body, "/orderRejectTransaction/type"), "LIMIT_ORDER_REJECT");
  EXPECT_EQ(text(body, "/orderRejectTransaction/rejectReason"), "PRICE_PRECISION_EXCEEDED");
  EXPECT_EQ(text(body, "/orderRejectTransaction/replacesOrderID"), original);
  EXPECT_EQ(text(body, "/errorCode"), "PRICE_PRECISION_EXCEEDED");
  EXPECT_FALSE(has(body, "/orderCancelTransaction"));
  EXPECT_EQ(text(parse(call("GET", "/orders/" + original).body), "/order/state"), "PENDING");
  EXPECT_EQ(call("PUT", "/orders/" + original, "not json").status, 400);
  EXPECT_EQ(text(parse(call("GET", "/orders/" + original).body), "/order/state"), "PENDING");
}

TEST_F(OandaSim, ArmedReplaceFaultsRefuseTheCancelOrRejectTheReplacementAfterIt) {
  ASSERT_EQ(call("POST", "/orders",
                 R"({"order":{"type":"LIMIT","instrument":"EUR_USD","units":"100","price":"1.08000","clientExtensions":{"id":"a-1"}}})")
                .status,
            201);
  const std::string spec =
      R"({"order":{"type":"LIMIT","instrument":"EUR_USD","units":"200","price":"1.08000","clientExtensions":{"id":"a-2"}}})";
  ASSERT_EQ(client_.request("POST", "/sim/faults", R"({"fail_next_replace_cancel":1})").status, 200);
  const auto refused = call("PUT", "/orders/@a-1", spec);
  EXPECT_EQ(refused.status, 404);
  EXPECT_EQ(text(parse(refused.body), "/orderCancelRejectTransaction/rejectReason"), "ORDER_DOESNT_EXIST");
  EXPECT_EQ(text(parse(call("GET", "/orders/@a-1").body), "/order/state"), "PENDING");

  ASSERT_EQ(client_.request("POST", "/sim/faults", R"({"fail_next_replace_new":1})").status, 200);
  const auto rejected = call("PUT", "/orders/@a-1", spec);
  ASSERT_EQ(rejected.status, 400) << rejected.body;
  const auto body = parse(rejected.body);
  EXPECT_EQ(text(body, "/orderCancelTransaction/reason"), "CLIENT_REQUEST_REPLACED");
  EXPECT_FALSE(has(body, "/orderCancelTransaction/replacedByOrderID")) << "nothing replaced it";
  EXPECT_EQ(text(body, "/orderRejectTransaction/rejectReason"), "INSUFFICIENT_MARGIN");
  EXPECT_EQ(text(body, "/orderRejectTransaction/clientExtensions/id"), "a-2");
  EXPECT_EQ(text(body, "/orderRejectTransaction/replacesOrderID"), text(body, "/orderCancelTransaction/orderID"));
  const auto orders = parse(client_.request("GET", "/sim/orders?venue=oanda&client_order_id=a-1").body);
  EXPECT_EQ(text(orders, "/orders/0/state"), "CANCELLED");
  EXPECT_EQ(parse(client_.request("GET", "/sim/orders?venue=oanda&client_order_id=a-2").body)["count"].get_int64().value(),
            0);
}

TEST_F(OandaSimFailingAfterPlace, A503OnAReplaceStillReplacedTheOrder) {
  // --error-first: the first order request is placed, then answered 503.
  ASSERT_EQ(call("POST", "/orders",
                 R"({"order":{"type":"LIMIT","instrument":"EUR_USD","units":"100","price":"1.08000","clientExtensions":{"id":"l-1"}}})")
                .status,
            503);
  const auto response = call("PUT", "/orders/@l-1",
                             R"({"order":{"type":"LIMIT","instrument":"EUR_USD","units":"300","price":"1.08000","clientExtensions":{"id":"l-2"}}})");
  EXPECT_EQ(response.status, 201) << response.body;
  ASSERT_EQ(client_.request("POST", "/sim/faults", R"({"fail_next_orders":1,"after_place":true})").status, 200);
  const auto lost = call("PUT", "/orders/@l-2",
                         R"({"order":{"type":"LIMIT","instrument":"EUR_USD","units":"400","price":"1.08000","clientExtensions":{"id":"l-3"}}})");
  EXPECT_EQ(lost.status, 503);
  EXPECT_EQ(text(parse(client_.request("GET", "/sim/orders?venue=oanda&client_order_id=l-2").body), "/orders/0/state"),
            "CANCELLED");
  EXPECT_EQ(text(parse(client_.request("GET", "/sim/orders?venue=oanda&client_order_id=l-3").body), "/orders/0/state"),
            "PENDING");
}

class OandaSimFastClock : public OandaSim {
 protected:
  OandaSimFastClock() : OandaSim({"--heartbeat-ms", "100"}) {}

  /// Next stream line whose type is `type`, within a few seconds.
  std::optional<simdjson::dom::element> next_of_type(TlsClient& stream, const std::string& type) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      const auto line = stream.read_stream_line(std::chrono::seconds(1));
      if (!line) continue;
      const auto element = parse(*line);
      if (text(element, "/type") == type) return element;
    }
    return std::nullopt;
  }
};

TEST_F(OandaSimFastClock, StreamSendsHeartbeatsWithTheLastTransactionId) {
  TlsClient stream(sim_.port(), sim_.ca_file());
  ASSERT_EQ(stream.open_stream(kAccountPath + "/transactions/stream",
                               {{"Authorization", std::string("Bearer ") + kOandaToken}}),
            200);
  for (int i = 0; i < 3; ++i) {
    const auto beat = next_of_type(stream, "HEARTBEAT");
    ASSERT_TRUE(beat) << "heartbeat " << i;
    EXPECT_EQ(text(*beat, "/lastTransactionID"), "1");
    EXPECT_TRUE(has(*beat, "/time"));
  }
}

TEST_F(OandaSimFastClock, GtdOrderExpiresAndTheCancelIsStreamed) {
  TlsClient stream(sim_.port(), sim_.ca_file());
  ASSERT_EQ(stream.open_stream(kAccountPath + "/transactions/stream",
                               {{"Authorization", std::string("Bearer ") + kOandaToken}}),
            200);
  const auto expiry_ms = now_ms() + 300;
  const std::string gtd = std::to_string(expiry_ms / 1000) + "." + std::to_string(1000 + expiry_ms % 1000).substr(1);
  const auto created = call("POST", "/orders",
                            R"({"order":{"type":"LIMIT","instrument":"EUR_USD","units":"10","price":"1.00000","timeInForce":"GTD","gtdTime":")" +
                                gtd + R"(","clientExtensions":{"id":"gtd-1"}}})");
  ASSERT_EQ(created.status, 201) << created.body;
  const auto cancel = next_of_type(stream, "ORDER_CANCEL");
  ASSERT_TRUE(cancel);
  EXPECT_EQ(text(*cancel, "/reason"), "TIME_IN_FORCE_EXPIRED");
  EXPECT_EQ(text(*cancel, "/clientOrderID"), "gtd-1");
  EXPECT_GE(now_ms(), expiry_ms);
}

}  // namespace
}  // namespace ordergate::sim::testing
