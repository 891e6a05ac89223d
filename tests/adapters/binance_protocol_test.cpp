#include "ordergate/adapters/binance/binance_protocol.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ordergate::adapters::binance {
namespace {

// Binance's published example (public documentation values, not a credential).
constexpr const char* kDocSecret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
constexpr const char* kDocPayload =
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
constexpr const char* kDocSignature = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71";

Order limit_order() {
  Order order;
  order.side = Side::buy;
  order.type = OrderType::limit;
  order.time_in_force = TimeInForce::gtc;
  order.quantity = decimal_literal("1");
  order.price = decimal_literal("0.1");
  order.client_order_id.assign("c1");
  return order;
}

TEST(BinanceProtocol, SignatureMatchesBinancesPublishedExample) {
  EXPECT_EQ(sign(kDocSecret, kDocPayload), kDocSignature);
}

TEST(BinanceProtocol, OrderParamsSignedExactlyAsTheDocumentationExample) {
  Order order = limit_order();
  std::string params;
  ASSERT_EQ(write_order_params(order, "LTCBTC", "c1", params), "");
  EXPECT_EQ(params,
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&newClientOrderId=c1"
            "&newOrderRespType=FULL");
  // The documented payload, built the same way, signs to the documented signature.
  std::string documented = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1";
  append_signature(documented, 5000, 1499827319559, kDocSecret);
  EXPECT_EQ(documented, std::string(kDocPayload) + "&signature=" + kDocSignature);
}

TEST(BinanceProtocol, MarketOrdersCarryNoTimeInForceAndSellSides) {
  Order order = limit_order();
  order.type = OrderType::market;
  order.side = Side::sell;
  order.time_in_force = TimeInForce::ioc;
  order.quantity = decimal_literal("0.015");
  std::string params;
  ASSERT_EQ(write_order_params(order, "BTCUSDT", "c1", params), "");
  EXPECT_EQ(params, "symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.015&newClientOrderId=c1&newOrderRespType=FULL");
}

TEST(BinanceProtocol, ClientIdsArePercentEncoded) {
  Order order = limit_order();
  std::string params;
  ASSERT_EQ(write_order_params(order, "BTCUSDT", "strat:1", params), "");
  EXPECT_NE(params.find("newClientOrderId=strat%3A1"), std::string::npos) << params;
}

TEST(BinanceProtocol, TheVenueGetsTheAdaptersClientIdNeverTheStrategys) {
  Order order = limit_order();
  order.client_order_id.assign("strategy-c1");
  std::string params;
  ASSERT_EQ(write_order_params(order, "BTCUSDT", "ogAbCdEfGh12-7", params), "");
  EXPECT_NE(params.find("newClientOrderId=ogAbCdEfGh12-7&"), std::string::npos) << params;
  EXPECT_EQ(params.find("strategy-c1"), std::string::npos) << params;
}

TEST(BinanceProtocol, RefusesWhatSpotCannotExpressRatherThanDroppingIt) {
  std::string params;
  Order order = limit_order();
  order.stop_loss = decimal_literal("0.09");
  EXPECT_EQ(write_order_params(order, "LTCBTC", "c1", params), "PROTECTION_NOT_SUPPORTED");
  order = limit_order();
  order.time_in_force = TimeInForce::gtd;
  EXPECT_EQ(write_order_params(order, "LTCBTC", "c1", params), "TIME_IN_FORCE_NOT_SUPPORTED");
  order.time_in_force = TimeInForce::day;
  EXPECT_EQ(write_order_params(order, "LTCBTC", "c1", params), "TIME_IN_FORCE_NOT_SUPPORTED");
  EXPECT_TRUE(params.empty());
}

TEST(BinanceProtocol, StopOrdersAreStopLossWithAStopPrice) {
  Order order = limit_order();
  order.type = OrderType::stop;
  order.stop_price = decimal_literal("0.2");
  std::string params;
  ASSERT_EQ(write_order_params(order, "LTCBTC", "c1", params), "");
  EXPECT_NE(params.find("type=STOP_LOSS&quantity=1&stopPrice=0.2"), std::string::npos) << params;
}

TEST(BinanceProtocol, FullRepliesGiveCumulativeQuantityAndQuote) {
  BinanceCodec codec;
  const OrderReply reply = codec.parse_order_reply(200, R"({
    "symbol":"BTCUSDT","orderId":28,"orderListId":-1,"clientOrderId":"c1","transactTime":1507725176595,
    "price":"0.00000000","origQty":"10.00000000","executedQty":"10.00000000","cummulativeQuoteQty":"10.00000000",
    "status":"FILLED","timeInForce":"GTC","type":"MARKET","side":"SELL","workingTime":1507725176595,
    "fills":[{"price":"4000.00000000","qty":"1.00000000","commission":"4.00000000","commissionAsset":"USDT","tradeId":56}]})");
  EXPECT_EQ(reply.kind, ReplyKind::ok);
  EXPECT_EQ(reply.order.order_id, 28u);
  EXPECT_EQ(reply.order.client_order_id, std::string_view("c1"));
  EXPECT_EQ(reply.order.status, OrderStatus::filled);
  EXPECT_EQ(reply.order.executed_quantity, decimal_literal("10"));
  EXPECT_EQ(reply.order.cumulative_quote, decimal_literal("10"));
  EXPECT_EQ(reply.order.time_ms, 1507725176595);
}

// Found by the binance_reply fuzzer: a negative cumulative quantity was
// taken as it came and would have been booked as a negative fill.
TEST(BinanceProtocol, NegativeCumulativeAmountsAreNotBookedButLookedUp) {
  BinanceCodec codec;
  for (const char* body :
       {R"({"orderId":28,"clientOrderId":"c1","executedQty":"-1","cummulativeQuoteQty":"0","status":"FILLED"})",
        R"({"orderId":28,"clientOrderId":"c1","executedQty":"1","cummulativeQuoteQty":"-4000","status":"FILLED"})"}) {
    const OrderReply reply = codec.parse_order_reply(200, body);
    EXPECT_EQ(reply.kind, ReplyKind::unknown) << body;
    EXPECT_TRUE(reply.order.executed_quantity.is_zero()) << body;
  }
}

TEST(BinanceProtocol, AckRepliesHaveNoStatusAndCancelRepliesNameTheOriginalId) {
  BinanceCodec codec;
  OrderReply reply = codec.parse_order_reply(
      200, R"({"symbol":"BTCUSDT","orderId":28,"orderListId":-1,"clientOrderId":"c1","transactTime":1})");
  EXPECT_EQ(reply.kind, ReplyKind::ok);
  EXPECT_EQ(reply.order.status, OrderStatus::unknown);
  reply = codec.parse_order_reply(200, R"({"symbol":"BTCUSDT","origClientOrderId":"c1","orderId":4,
    "clientOrderId":"","price":"2.0","origQty":"1.0","executedQty":"0.0","cummulativeQuoteQty":"0.0",
    "status":"CANCELED","timeInForce":"GTC","type":"LIMIT","side":"BUY"})");
  EXPECT_EQ(reply.order.status, OrderStatus::canceled);
  EXPECT_EQ(reply.order.client_order_id, std::string_view("c1"));
  // Binance names the cancel request itself as clientOrderId: the order is
  // still the original one.
  reply = codec.parse_order_reply(200, R"({"symbol":"BTCUSDT","origClientOrderId":"c1","orderId":4,
    "clientOrderId":"cancelMyOrder1","executedQty":"0.0","cummulativeQuoteQty":"0.0","status":"CANCELED"})");
  EXPECT_EQ(reply.order.order_id, 4u);
  EXPECT_EQ(reply.order.client_order_id, std::string_view("c1"));
}

TEST(BinanceProtocol, ErrorsMapByStatusAndCode) {
  BinanceCodec codec;
  struct Case {
    int status;
    const char* body;
    ReplyKind kind;
    int code;
  };
  const std::vector<Case> cases = {
      {400, R"({"code":-2010,"msg":"Account has insufficient balance for requested action."})", ReplyKind::rejected, -2010},
      {400, R"({"code":-1013,"msg":"Filter failure: LOT_SIZE"})", ReplyKind::rejected, -1013},
      {400, R"({"code":-2013,"msg":"Order does not exist."})", ReplyKind::not_found, -2013},
      {400, R"({"code":-2011,"msg":"Unknown order sent."})", ReplyKind::not_found, -2011},
      {400, R"({"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."})", ReplyKind::clock_skew,
       -1021},
      {400, R"({"code":-1022,"msg":"Signature for this request is not valid."})", ReplyKind::unauthorized, -1022},
      {401, R"({"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."})", ReplyKind::unauthorized, -2015},
      {429, R"({"code":-1003,"msg":"Too much request weight used"})", ReplyKind::rate_limited, -1003},
      {418, R"({"code":-1003,"msg":"IP banned"})", ReplyKind::banned, -1003},
      {408, R"({"code":-1007,"msg":"Timeout waiting for response from backend server."})", ReplyKind::unknown, -1007},
      {503, "Service Unavailable", ReplyKind::unknown, 0},
      {200, "not json", ReplyKind::unknown, 0},
  };
  for (const Case& c : cases) {
    const OrderReply reply = codec.parse_order_reply(c.status, c.body);
    EXPECT_EQ(reply.kind, c.kind) << c.status << " " << c.body;
    EXPECT_EQ(reply.code, c.code) << c.body;
  }
  EXPECT_EQ(code_text(-2010), std::string_view("-2010"));
}

TEST(BinanceProtocol, BookTickersFromOneObjectOrAnArray) {
  BinanceCodec codec;
  std::vector<BookTicker> tickers;
  ASSERT_TRUE(codec.parse_book_tickers(
      R"({"symbol":"LTCBTC","bidPrice":"4.00000000","bidQty":"431.0","askPrice":"4.00000200","askQty":"9.0"})", tickers));
  ASSERT_EQ(tickers.size(), 1u);
  EXPECT_EQ(tickers[0].bid, decimal_literal("4"));
  EXPECT_EQ(tickers[0].ask, decimal_literal("4.000002"));
  ASSERT_TRUE(codec.parse_book_tickers(R"([{"symbol":"A","bidPrice":"1","askPrice":"2"},
                                          {"symbol":"B","bidPrice":"3","askPrice":"4"}])",
                                       tickers));
  EXPECT_EQ(tickers.size(), 2u);
  EXPECT_FALSE(codec.parse_book_tickers(R"({"symbol":"A","bidPrice":1.5,"askPrice":"2"})", tickers))
      << "a JSON float price is never read";
}

TEST(BinanceProtocol, ServerTime) {
  BinanceCodec codec;
  std::int64_t time = 0;
  ASSERT_TRUE(codec.parse_server_time(R"({"serverTime":1499827319559})", time));
  EXPECT_EQ(time, 1499827319559);
}

// --- reconciliation ----------------------------------------------------------

TEST(BinanceProtocol, OpenOrdersMapLimitsLimitMakersAndStopLossesAndMarkOtherTypes) {
  BinanceCodec codec;
  std::vector<OpenOrder> orders;
  ASSERT_TRUE(codec.parse_open_orders(
      R"([{"symbol":"BTCUSDT","orderId":12,"orderListId":-1,"clientOrderId":"ogAbCdEfGh12-3","price":"63900.00000000",
           "origQty":"0.01000000","executedQty":"0.00400000","cummulativeQuoteQty":"255.60000000",
           "status":"PARTIALLY_FILLED","timeInForce":"GTC","type":"LIMIT","side":"BUY","stopPrice":"0.00000000",
           "icebergQty":"0.00000000","time":1709294400000,"updateTime":1709294400500,"isWorking":true},
          {"symbol":"BTCUSDT","orderId":13,"clientOrderId":"web_a1","price":"65000","origQty":"0.5",
           "executedQty":"0","cummulativeQuoteQty":"0","status":"NEW","timeInForce":"GTC","type":"LIMIT_MAKER",
           "side":"SELL"},
          {"symbol":"ETHUSDT","orderId":4,"clientOrderId":"x","price":"0","origQty":"1","executedQty":"0",
           "cummulativeQuoteQty":"0","status":"NEW","timeInForce":"GTC","type":"STOP_LOSS","side":"SELL",
           "stopPrice":"3000.5"},
          {"symbol":"ETHUSDT","orderId":5,"clientOrderId":"y","price":"4100","origQty":"1","executedQty":"0",
           "cummulativeQuoteQty":"0","status":"NEW","timeInForce":"GTC","type":"TAKE_PROFIT_LIMIT","side":"SELL",
           "stopPrice":"4000"}])",
      orders));
  ASSERT_EQ(orders.size(), 4u);
  const OpenOrder& limit = orders[0];
  EXPECT_EQ(limit.symbol, "BTCUSDT");
  EXPECT_EQ(limit.order_id, 12u);
  EXPECT_EQ(limit.client_order_id.view(), "ogAbCdEfGh12-3");
  EXPECT_EQ(limit.type, OrderType::limit);
  EXPECT_EQ(limit.side, Side::buy);
  EXPECT_EQ(limit.time_in_force, TimeInForce::gtc);
  EXPECT_EQ(limit.price, decimal_literal("63900"));
  EXPECT_EQ(limit.orig_quantity, decimal_literal("0.01"));
  EXPECT_EQ(limit.executed_quantity, decimal_literal("0.004"));
  EXPECT_EQ(limit.cumulative_quote, decimal_literal("255.6"));
  EXPECT_EQ(orders[1].type, OrderType::limit);
  EXPECT_EQ(orders[1].time_in_force, TimeInForce::gtc) << "LIMIT_MAKER rests like a GTC limit";
  EXPECT_EQ(orders[1].side, Side::sell);
  EXPECT_EQ(orders[2].type, OrderType::stop);
  EXPECT_EQ(orders[2].stop_price, decimal_literal("3000.5"));
  EXPECT_EQ(orders[3].type, OrderType::unset) << "no gateway equivalent: skipped by the adapter";
  ASSERT_TRUE(codec.parse_open_orders("[]", orders));
  EXPECT_TRUE(orders.empty());
}

TEST(BinanceProtocol, MalformedOpenOrdersAreRefusedWhole) {
  BinanceCodec codec;
  std::vector<OpenOrder> orders;
  const char* bodies[] = {
      "",
      R"({"code":-1121,"msg":"Invalid symbol."})",
      "[1]",
      R"([{"orderId":1,"side":"BUY","type":"LIMIT","origQty":"1","executedQty":"0","cummulativeQuoteQty":"0",
          "price":"1","timeInForce":"GTC"}])",  // no symbol
      R"([{"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","origQty":"1","executedQty":"0","cummulativeQuoteQty":"0",
          "price":"1","timeInForce":"GTC"}])",  // no orderId
      R"([{"symbol":"BTCUSDT","orderId":1,"side":"HOLD","type":"LIMIT","origQty":"1","executedQty":"0",
          "cummulativeQuoteQty":"0","price":"1","timeInForce":"GTC"}])",
      R"([{"symbol":"BTCUSDT","orderId":1,"side":"BUY","type":"LIMIT","origQty":"1","executedQty":"2",
          "cummulativeQuoteQty":"0","price":"1","timeInForce":"GTC"}])",  // executed beyond the quantity
      R"([{"symbol":"BTCUSDT","orderId":1,"side":"BUY","type":"LIMIT","origQty":"1","executedQty":"-0.1",
          "cummulativeQuoteQty":"0","price":"1","timeInForce":"GTC"}])",
      R"([{"symbol":"BTCUSDT","orderId":1,"side":"BUY","type":"LIMIT","origQty":"1","executedQty":"0",
          "cummulativeQuoteQty":"-1","price":"1","timeInForce":"GTC"}])",
      R"([{"symbol":"BTCUSDT","orderId":1,"side":"BUY","type":"LIMIT","origQty":"0","executedQty":"0",
          "cummulativeQuoteQty":"0","price":"1","timeInForce":"GTC"}])",
      R"([{"symbol":"BTCUSDT","orderId":1,"side":"BUY","type":"LIMIT","origQty":"1","executedQty":"0",
          "cummulativeQuoteQty":"0","price":"1","timeInForce":"GTD"}])",
      R"([{"symbol":"BTCUSDT","orderId":1,"side":"BUY","type":"LIMIT","origQty":"1","executedQty":"0",
          "cummulativeQuoteQty":"0","price":1.5,"timeInForce":"GTC"}])",  // a JSON float is never read
      R"([{"symbol":"BTCUSDT","orderId":1,"side":"SELL","type":"STOP_LOSS","origQty":"1","executedQty":"0",
          "cummulativeQuoteQty":"0","stopPrice":"0","timeInForce":"GTC"}])",
  };
  for (const char* body : bodies) {
    orders.push_back(OpenOrder{});
    EXPECT_FALSE(codec.parse_open_orders(body, orders)) << body;
    EXPECT_TRUE(orders.empty()) << body;
  }
}

TEST(BinanceProtocol, AccountBalancesAreReadExactly) {
  BinanceCodec codec;
  std::vector<AssetBalance> balances;
  ASSERT_TRUE(codec.parse_balances(
      R"({"makerCommission":0,"canTrade":true,"accountType":"SPOT",
          "balances":[{"asset":"BTC","free":"9.99000000","locked":"0.01000000"},
                      {"asset":"USDT","free":"1000000.00000000","locked":"0.00000000"}],
          "permissions":["SPOT"],"uid":1})",
      balances));
  ASSERT_EQ(balances.size(), 2u);
  EXPECT_EQ(balances[0].asset, "BTC");
  EXPECT_EQ(balances[0].free, decimal_literal("9.99"));
  EXPECT_EQ(balances[0].locked, decimal_literal("0.01"));
  EXPECT_EQ(balances[1].asset, "USDT");
  const char* bodies[] = {
      "[]",
      R"({"canTrade":true})",
      R"({"balances":[{"asset":"BTC","free":"1"}]})",
      R"({"balances":[{"asset":"BTC","free":"-1","locked":"0"}]})",
      R"({"balances":[{"free":"1","locked":"0"}]})",
      R"({"balances":[{"asset":"BTC","free":1.5,"locked":"0"}]})",
  };
  for (const char* body : bodies) {
    balances.push_back(AssetBalance{});
    EXPECT_FALSE(codec.parse_balances(body, balances)) << body;
    EXPECT_TRUE(balances.empty()) << body;
  }
}


// --- cancelReplace -------------------------------------------------------------

constexpr const char* kCanceled =
    R"({"symbol":"BTCUSDT","origClientOrderId":"og1-7","orderId":41,"orderListId":-1,"clientOrderId":"x1",)"
    R"("transactTime":1700000000001,"price":"64100.00000000","origQty":"0.01000000","executedQty":"0.00400000",)"
    R"("cummulativeQuoteQty":"256.40000000","status":"CANCELED","timeInForce":"GTC","type":"LIMIT","side":"SELL"})";
constexpr const char* kPlaced =
    R"({"symbol":"BTCUSDT","orderId":42,"orderListId":-1,"clientOrderId":"og1-8","transactTime":1700000000002,)"
    R"("price":"64200.00000000","origQty":"0.01600000","executedQty":"0.00000000",)"
    R"("cummulativeQuoteQty":"0.00000000","status":"NEW","timeInForce":"GTC","type":"LIMIT","side":"SELL","fills":[]})";

std::string replaced_body() {
  return std::string(R"({"cancelResult":"SUCCESS","newOrderResult":"SUCCESS","cancelResponse":)") + kCanceled +
         R"(,"newOrderResponse":)" + kPlaced + "}";
}

TEST(BinanceCancelReplace, SuccessGivesBothOrdersWithExactAmounts) {
  BinanceCodec codec;
  const CancelReplaceReply reply = codec.parse_cancel_replace_reply(200, replaced_body());
  ASSERT_EQ(reply.outcome, ReplaceOutcome::replaced);
  EXPECT_EQ(reply.canceled.order_id, 41U);
  EXPECT_EQ(reply.canceled.client_order_id.view(), "og1-7");  // origClientOrderId: the original
  EXPECT_EQ(reply.canceled.status, OrderStatus::canceled);
  EXPECT_EQ(reply.canceled.executed_quantity, decimal_literal("0.004"));
  EXPECT_EQ(reply.canceled.cumulative_quote, decimal_literal("256.4"));
  EXPECT_EQ(reply.placed.order_id, 42U);
  EXPECT_EQ(reply.placed.client_order_id.view(), "og1-8");
  EXPECT_EQ(reply.placed.status, OrderStatus::new_order);
  EXPECT_EQ(reply.placed.time_ms, 1700000000002);
}

TEST(BinanceCancelReplace, AnOrderIdOfZeroNamesNoOrderAndTheOutcomeIsUnknown) {
  // Found by the fuzzer: "orderId":-0 read as order 0 made a replacement of
  // an order that does not exist.
  BinanceCodec codec;
  for (const char* zero : {R"("orderId":0,)", R"("orderId":-0,)", R"("orderId":"0",)"}) {
    std::string body = replaced_body();
    body.replace(body.find(R"("orderId":41,)"), std::string_view(R"("orderId":41,)").size(), zero);
    EXPECT_EQ(codec.parse_cancel_replace_reply(200, body).outcome, ReplaceOutcome::unknown) << zero;
  }
}

TEST(BinanceCancelReplace, CancelFailedNewNotAttempted) {
  BinanceCodec codec;
  const CancelReplaceReply reply = codec.parse_cancel_replace_reply(
      400, R"({"code":-2022,"msg":"Order cancel-replace failed.","data":{"cancelResult":"FAILURE",)"
           R"("newOrderResult":"NOT_ATTEMPTED","cancelResponse":{"code":-2011,"msg":"Unknown order sent."},)"
           R"("newOrderResponse":null}})");
  EXPECT_EQ(reply.outcome, ReplaceOutcome::cancel_failed);
  EXPECT_EQ(reply.code, -2022);
  EXPECT_EQ(reply.cancel_code, -2011);
  EXPECT_EQ(reply.new_code, 0);
}

TEST(BinanceCancelReplace, NewFailedAfterTheCancelCarriesTheCancelledOriginal) {
  BinanceCodec codec;
  const CancelReplaceReply reply = codec.parse_cancel_replace_reply(
      409, std::string(R"({"code":-2021,"msg":"Order cancel-replace partially failed.","data":{)"
                       R"("cancelResult":"SUCCESS","newOrderResult":"FAILURE","cancelResponse":)") +
               kCanceled + R"(,"newOrderResponse":{"code":-2010,"msg":"Account has insufficient balance."}}})");
  ASSERT_EQ(reply.outcome, ReplaceOutcome::new_failed);
  EXPECT_EQ(reply.new_code, -2010);
  EXPECT_EQ(reply.canceled.order_id, 41U);
  EXPECT_EQ(reply.canceled.executed_quantity, decimal_literal("0.004"));
}

TEST(BinanceCancelReplace, BothFailed) {
  BinanceCodec codec;
  const CancelReplaceReply reply = codec.parse_cancel_replace_reply(
      400, R"({"code":-2022,"msg":"Order cancel-replace failed.","data":{"cancelResult":"FAILURE",)"
           R"("newOrderResult":"FAILURE","cancelResponse":{"code":-2011,"msg":"Unknown order sent."},)"
           R"("newOrderResponse":{"code":-2010,"msg":"Order would immediately match and take."}}})");
  EXPECT_EQ(reply.outcome, ReplaceOutcome::both_failed);
  EXPECT_EQ(reply.cancel_code, -2011);
  EXPECT_EQ(reply.new_code, -2010);
}

TEST(BinanceCancelReplace, PlainErrorsAreRefusalsByKind) {
  BinanceCodec codec;
  CancelReplaceReply reply =
      codec.parse_cancel_replace_reply(400, R"({"code":-1102,"msg":"Mandatory parameter 'cancelReplaceMode'"})");
  EXPECT_EQ(reply.outcome, ReplaceOutcome::refused);
  EXPECT_EQ(reply.kind, ReplyKind::rejected);
  EXPECT_EQ(reply.code, -1102);
  reply = codec.parse_cancel_replace_reply(401, R"({"code":-2015,"msg":"Invalid API-key"})");
  EXPECT_EQ(reply.outcome, ReplaceOutcome::refused);
  EXPECT_EQ(reply.kind, ReplyKind::unauthorized);
  reply = codec.parse_cancel_replace_reply(400, R"({"code":-1021,"msg":"Timestamp"})");
  EXPECT_EQ(reply.kind, ReplyKind::clock_skew);
  reply = codec.parse_cancel_replace_reply(429, R"({"code":-1003,"msg":"Too much request weight used"})");
  EXPECT_EQ(reply.outcome, ReplaceOutcome::refused);
  EXPECT_EQ(reply.kind, ReplyKind::rate_limited);
}

TEST(BinanceCancelReplace, WhatCannotBeReadIsUnknownNeverAnOutcome) {
  BinanceCodec codec;
  const std::string success = replaced_body();
  const std::vector<std::pair<int, std::string>> cases = {
      {503, R"({"code":-1007,"msg":"Timeout waiting for response from backend server."})"},
      {400, R"({"code":-1006,"msg":"Unexpected response"})"},
      {200, ""},
      {200, "[]"},
      {200, "{"},
      {200, success.substr(0, success.size() - 1)},
      // a success without the new order, or with an order without its id
      {200, std::string(R"({"cancelResult":"SUCCESS","newOrderResult":"SUCCESS","cancelResponse":)") + kCanceled +
                "}"},
      {200, std::string(R"({"cancelResult":"SUCCESS","newOrderResult":"SUCCESS","cancelResponse":)") + kCanceled +
                R"(,"newOrderResponse":{"clientOrderId":"og1-8","status":"NEW"}})"},
      {200, std::string(R"({"cancelResult":"FAILURE","newOrderResult":"SUCCESS","cancelResponse":)") + kCanceled +
                R"(,"newOrderResponse":)" + kPlaced + "}"},
      // negative cumulative amounts
      {200, std::string(R"({"cancelResult":"SUCCESS","newOrderResult":"SUCCESS","cancelResponse":)") +
                R"({"orderId":41,"executedQty":"-1","cummulativeQuoteQty":"0"},"newOrderResponse":)" + kPlaced + "}"},
      // failures without the codes they need, unknown results, a data that is not an object
      {400, R"({"code":-2022,"data":{"cancelResult":"FAILURE","newOrderResult":"NOT_ATTEMPTED"}})"},
      {400, R"({"code":-2022,"data":{"cancelResult":"FAILURE","newOrderResult":"FAILURE",)"
            R"("cancelResponse":{"code":-2011},"newOrderResponse":null}})"},
      {409, R"({"code":-2021,"data":{"cancelResult":"SUCCESS","newOrderResult":"FAILURE",)"
            R"("cancelResponse":{"code":-2011},"newOrderResponse":{"code":-2010}}})"},
      {409, R"({"code":-2021,"data":{"cancelResult":"MAYBE","newOrderResult":"FAILURE"}})"},
      {400, R"({"code":-2022,"data":[]})"},
      {400, R"({"code":"-2022","data":7})"},
      {400, R"({"msg":"no code"})"},
      {409, R"({"code":-2021,"msg":"Order cancel-replace partially failed."})"},
  };
  for (const auto& [status, body] : cases) {
    EXPECT_EQ(codec.parse_cancel_replace_reply(status, body).outcome, ReplaceOutcome::unknown)
        << status << " " << body;
  }
}

}  // namespace
}  // namespace ordergate::adapters::binance
