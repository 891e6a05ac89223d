#include "ordergate/adapters/oanda/oanda_protocol.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "ordergate/core/clock.hpp"

namespace ordergate::adapters::oanda {
namespace {

Order order(OrderType type, Side side, const char* quantity, TimeInForce tif) {
  Order o;
  o.order_id = 7;
  o.type = type;
  o.side = side;
  o.time_in_force = tif;
  o.quantity = decimal_literal(quantity);
  o.client_order_id.assign("strategy-c1");  // never sent: the venue gets the adapter's id
  return o;
}

constexpr const char* kVenueId = "ogAbCdEfGh12-7";

TEST(OandaProtocol, InstrumentNamesUseAnUnderscore) {
  EXPECT_EQ(default_instrument_name("EUR/USD"), "EUR_USD");
  EXPECT_EQ(default_instrument_name("XAU/USD"), "XAU_USD");
}

TEST(OandaProtocol, MarketSellHasNegativeUnitsAndClientExtensions) {
  std::string body;
  EXPECT_EQ(
      write_order_body(order(OrderType::market, Side::sell, "10000", TimeInForce::fok), "EUR_USD", kVenueId, body),
      "");
  EXPECT_EQ(body,
            R"({"order":{"type":"MARKET","instrument":"EUR_USD","units":"-10000","timeInForce":"FOK",)"
            R"("positionFill":"DEFAULT","clientExtensions":{"id":"ogAbCdEfGh12-7"}}})");
  EXPECT_EQ(body.find("strategy-c1"), std::string::npos);
}

TEST(OandaProtocol, LimitBuyCarriesPriceProtectionAndComment) {
  Order o = order(OrderType::limit, Side::buy, "2500", TimeInForce::gtc);
  o.price = decimal_literal("1.08455");
  o.stop_loss = decimal_literal("1.07");
  o.take_profit = decimal_literal("1.1");
  o.text.assign("say \"hi\"");
  std::string body;
  EXPECT_EQ(write_order_body(o, "EUR_USD", kVenueId, body), "");
  EXPECT_EQ(body,
            R"({"order":{"type":"LIMIT","instrument":"EUR_USD","units":"2500","timeInForce":"GTC","price":"1.08455",)"
            R"("positionFill":"DEFAULT","clientExtensions":{"id":"ogAbCdEfGh12-7","comment":"say \"hi\""},)"
            R"("stopLossOnFill":{"price":"1.07"},"takeProfitOnFill":{"price":"1.1"}}})");
}

TEST(OandaProtocol, GtdStopCarriesItsExpiryInRfc3339) {
  Order o = order(OrderType::stop, Side::buy, "1", TimeInForce::gtd);
  o.stop_price = decimal_literal("151.5");
  o.expire_time_ns = 1'709'294'400'123'000'000;  // 2024-03-01T12:00:00.123Z
  std::string body;
  EXPECT_EQ(write_order_body(o, "USD_JPY", kVenueId, body), "");
  EXPECT_NE(body.find(R"("type":"STOP")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("price":"151.5")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("timeInForce":"GTD","price":"151.5","gtdTime":"2024-03-01T12:00:00.123000000Z")"),
            std::string::npos)
      << body;
}

TEST(OandaProtocol, RefusesCombinationsOandaDoesNotHave) {
  std::string body;
  EXPECT_EQ(write_order_body(order(OrderType::market, Side::buy, "1", TimeInForce::gtc), "EUR_USD", kVenueId, body),
            "TIME_IN_FORCE_INVALID");
  EXPECT_EQ(write_order_body(order(OrderType::stop, Side::buy, "1", TimeInForce::ioc), "EUR_USD", kVenueId, body),
            "TIME_IN_FORCE_INVALID");
  EXPECT_EQ(write_order_body(order(OrderType::unset, Side::buy, "1", TimeInForce::gtc), "EUR_USD", kVenueId, body),
            "ORDER_TYPE_INVALID");
  EXPECT_TRUE(body.empty());
}

TEST(OandaProtocol, TimesRoundTripAndUnixTimesParse) {
  const std::int64_t t = 1'709'294'400'123'456'789;
  EXPECT_EQ(format_time(t), "2024-03-01T12:00:00.123456789Z");
  std::int64_t parsed = 0;
  ASSERT_TRUE(parse_time(format_time(t), parsed));
  EXPECT_EQ(parsed, t);
  ASSERT_TRUE(parse_time("2016-06-22T18:41:29.285982286Z", parsed));
  EXPECT_EQ(parsed, 1'466'620'889'285'982'286);
  ASSERT_TRUE(parse_time("2016-06-22T18:41:29Z", parsed));
  EXPECT_EQ(parsed, 1'466'620'889'000'000'000);
  ASSERT_TRUE(parse_time("1466620889.2859", parsed));
  EXPECT_EQ(parsed, 1'466'620'889'285'900'000);
  for (const char* bad : {"", "2016-06-22", "2016-13-22T18:41:29Z", "2016-06-22T18:41:29+01:00", "12x.5",
                          "2016-06-22T18:41:29.1234567890Z"}) {
    EXPECT_FALSE(parse_time(bad, parsed)) << bad;
  }
}

// Found by the oanda_reply fuzzer: a year past 2262 overflowed the signed
// nanosecond count (undefined behaviour, a wrapped time in practice).
TEST(OandaProtocol, TimesBeyondTheNanosecondRangeAreRefusedNotWrapped) {
  std::int64_t parsed = 0;
  ASSERT_TRUE(parse_time("2262-04-11T23:47:16Z", parsed));
  EXPECT_GT(parsed, 0);
  for (const char* beyond : {"2263-01-01T00:00:00Z", "9999-12-31T23:59:60.999999999Z", "9223372037.0",
                             "99999999999999999"}) {
    EXPECT_FALSE(parse_time(beyond, parsed)) << beyond;
  }
}

TEST(OandaProtocol, A201WithAFillIsFilledAtTheVwap) {
  OandaCodec codec;
  const OrderReply reply = codec.parse_order_reply(201, R"({
    "orderCreateTransaction":{"id":"6356","type":"MARKET_ORDER","instrument":"EUR_USD","units":"-100"},
    "orderFillTransaction":{"id":"6357","type":"ORDER_FILL","orderID":"6356","units":"-100",
      "price":"1.10000","fullVWAP":"1.10002","time":"2016-06-22T18:41:29.285982286Z"},
    "relatedTransactionIDs":["6356","6357"],"lastTransactionID":"6357"})");
  EXPECT_EQ(reply.kind, ReplyKind::accepted);
  EXPECT_EQ(reply.order_id, 6356u);
  EXPECT_TRUE(reply.filled);
  EXPECT_EQ(reply.fill_transaction_id, 6357u);
  EXPECT_EQ(reply.fill_units, decimal_literal("100"));
  EXPECT_EQ(reply.fill_price, decimal_literal("1.10002"));
  EXPECT_EQ(reply.fill_time_ns, 1'466'620'889'285'982'286);
  EXPECT_FALSE(reply.canceled);
  EXPECT_EQ(reply.last_transaction_id, 6357u);
}

TEST(OandaProtocol, A201WithACancelCarriesTheReason) {
  OandaCodec codec;
  const OrderReply reply = codec.parse_order_reply(201, R"({
    "orderCreateTransaction":{"id":"10","type":"MARKET_ORDER"},
    "orderCancelTransaction":{"id":"11","type":"ORDER_CANCEL","orderID":"10","reason":"INSUFFICIENT_MARGIN"},
    "lastTransactionID":"11"})");
  EXPECT_EQ(reply.kind, ReplyKind::accepted);
  EXPECT_FALSE(reply.filled);
  EXPECT_TRUE(reply.canceled);
  EXPECT_EQ(reply.cancel_reason, std::string_view("INSUFFICIENT_MARGIN"));
  EXPECT_EQ(reply.cancel_transaction_id, 11u);
}

TEST(OandaProtocol, A201WithOnlyACreateIsResting) {
  OandaCodec codec;
  const OrderReply reply =
      codec.parse_order_reply(201, R"({"orderCreateTransaction":{"id":"12","type":"LIMIT_ORDER"},"lastTransactionID":"12"})");
  EXPECT_EQ(reply.kind, ReplyKind::accepted);
  EXPECT_EQ(reply.order_id, 12u);
  EXPECT_FALSE(reply.filled);
  EXPECT_FALSE(reply.canceled);
}

TEST(OandaProtocol, ErrorRepliesMapToKindsWithCodesNotMessages) {
  OandaCodec codec;
  OrderReply reply = codec.parse_order_reply(400, R"({
    "orderRejectTransaction":{"id":"13","type":"MARKET_ORDER_REJECT","rejectReason":"UNITS_PRECISION_EXCEEDED"},
    "errorCode":"UNITS_PRECISION_EXCEEDED","errorMessage":"Precision of units exceeded","lastTransactionID":"13"})");
  EXPECT_EQ(reply.kind, ReplyKind::rejected);
  EXPECT_EQ(reply.reject_reason, std::string_view("UNITS_PRECISION_EXCEEDED"));

  reply = codec.parse_order_reply(404, R"({"errorMessage":"The Account specified does not exist"})");
  EXPECT_EQ(reply.kind, ReplyKind::rejected);
  EXPECT_EQ(reply.reject_reason, std::string_view("HTTP_404")) << "a sentence is not a code";

  reply = codec.parse_order_reply(401, R"({"errorMessage":"Insufficient authorization to perform request."})");
  EXPECT_EQ(reply.kind, ReplyKind::unauthorized);
  EXPECT_EQ(reply.reject_reason, std::string_view("HTTP_401"));

  EXPECT_EQ(codec.parse_order_reply(403, "{}").kind, ReplyKind::unauthorized);
  EXPECT_EQ(codec.parse_order_reply(429, "").kind, ReplyKind::rate_limited);
  EXPECT_EQ(codec.parse_order_reply(500, "oops").kind, ReplyKind::unknown);
  EXPECT_EQ(codec.parse_order_reply(503, "").kind, ReplyKind::unknown);
  EXPECT_EQ(codec.parse_order_reply(201, "not json").kind, ReplyKind::unknown);
}

TEST(OandaProtocol, ReasonCodesKeepOnlyCodeCharacters) {
  OandaCodec codec;
  const OrderReply reply = codec.parse_order_reply(
      400, R"({"errorCode":"BAD token=abc123 \"quoted\" and a very long tail that goes on and on"})");
  EXPECT_EQ(reply.reject_reason, std::string_view("BAD"));
}

TEST(OandaProtocol, CancelRepliesGiveTheReasonOrWhyNot) {
  OandaCodec codec;
  CancelReply reply = codec.parse_cancel_reply(200, R"({
    "orderCancelTransaction":{"id":"20","type":"ORDER_CANCEL","orderID":"12","reason":"CLIENT_REQUEST",
      "time":"2024-03-01T12:00:00.000000000Z"},"lastTransactionID":"20"})");
  EXPECT_EQ(reply.kind, ReplyKind::accepted);
  EXPECT_EQ(reply.order_id, 12u);
  EXPECT_EQ(reply.reason, std::string_view("CLIENT_REQUEST"));
  EXPECT_EQ(reply.last_transaction_id, 20u);
  reply = codec.parse_cancel_reply(404, R"({
    "orderCancelRejectTransaction":{"id":"21","type":"ORDER_CANCEL_REJECT","rejectReason":"ORDER_DOESNT_EXIST"},
    "errorCode":"ORDER_DOESNT_EXIST","lastTransactionID":"21"})");
  EXPECT_EQ(reply.kind, ReplyKind::rejected);
  EXPECT_EQ(reply.reason, std::string_view("ORDER_DOESNT_EXIST"));
}

// An amend's reply, as OANDA sends it for PUT .../orders/{orderSpecifier}.
constexpr const char* kReplaced = R"({
  "orderCancelTransaction":{"id":"41","type":"ORDER_CANCEL","orderID":"40","reason":"CLIENT_REQUEST_REPLACED",
    "replacedByOrderID":"42","time":"2024-03-01T12:00:00.000000000Z"},
  "orderCreateTransaction":{"id":"42","type":"LIMIT_ORDER","instrument":"EUR_USD","units":"300","price":"1.1",
    "replacesOrderID":"40","clientExtensions":{"id":"ogAbCdEfGh12-8"}},
  "relatedTransactionIDs":["41","42"],"lastTransactionID":"42"})";

TEST(OandaProtocol, AReplaceReplyNamesTheCancelledOriginalAndTheNewOrder) {
  OandaCodec codec;
  const ReplaceReply reply = codec.parse_replace_reply(201, kReplaced);
  EXPECT_EQ(reply.outcome, ReplaceOutcome::replaced);
  EXPECT_EQ(reply.kind, ReplyKind::accepted);
  EXPECT_EQ(reply.canceled_order_id, 40u);
  EXPECT_EQ(reply.cancel_transaction_id, 41u);
  EXPECT_EQ(reply.cancel_time_ns, 1'709'294'400'000'000'000);
  EXPECT_EQ(reply.order_id, 42u);
  EXPECT_FALSE(reply.filled);
  EXPECT_EQ(reply.last_transaction_id, 42u);
}

TEST(OandaProtocol, AReplacementThatFilledAtOnceCarriesItsFill) {
  OandaCodec codec;
  const ReplaceReply reply = codec.parse_replace_reply(201, R"({
    "orderCancelTransaction":{"id":"41","type":"ORDER_CANCEL","orderID":"40","reason":"CLIENT_REQUEST_REPLACED"},
    "orderCreateTransaction":{"id":"42","type":"LIMIT_ORDER","units":"-300","replacesOrderID":"40"},
    "orderFillTransaction":{"id":"43","type":"ORDER_FILL","orderID":"42","units":"-300","fullVWAP":"1.2",
      "tradeOpened":{"tradeID":"43","units":"-300"}},
    "lastTransactionID":"43"})");
  EXPECT_EQ(reply.outcome, ReplaceOutcome::replaced);
  EXPECT_TRUE(reply.filled);
  EXPECT_EQ(reply.fill_units, decimal_literal("300"));
  EXPECT_EQ(reply.fill_price, decimal_literal("1.2"));
  EXPECT_EQ(reply.fill_transaction_id, 43u);
  EXPECT_EQ(reply.fill_trade_opened, 43u);
}

TEST(OandaProtocol, AReplacementOandaCancelledAtOnceCarriesItsCancel) {
  OandaCodec codec;
  const ReplaceReply reply = codec.parse_replace_reply(201, R"({
    "orderCancelTransaction":{"id":"41","type":"ORDER_CANCEL","orderID":"40","reason":"CLIENT_REQUEST_REPLACED",
      "replacedByOrderID":"42"},
    "orderCreateTransaction":{"id":"42","type":"LIMIT_ORDER","units":"6000000","replacesOrderID":"40"},
    "replacingOrderCancelTransaction":{"id":"43","type":"ORDER_CANCEL","orderID":"42","reason":"INSUFFICIENT_MARGIN",
      "time":"2024-03-01T12:00:00.000000000Z"},
    "relatedTransactionIDs":["41","42","43"],"lastTransactionID":"43"})");
  EXPECT_EQ(reply.outcome, ReplaceOutcome::replaced);
  EXPECT_EQ(reply.order_id, 42u);
  EXPECT_FALSE(reply.filled);
  EXPECT_TRUE(reply.replacement_canceled);
  EXPECT_EQ(reply.replacement_cancel_transaction_id, 43u);
  EXPECT_EQ(reply.replacement_cancel_reason, std::string_view("INSUFFICIENT_MARGIN"));
  EXPECT_EQ(reply.replacement_cancel_time_ns, 1'709'294'400'000'000'000);
  EXPECT_FALSE(codec.parse_replace_reply(201, kReplaced).replacement_canceled);
  // A cancel of some other order, or of no order, leaves the outcome unknown.
  for (const char* replacing : {R"({"id":"43","orderID":"41"})", R"({"id":"43"})", R"({"orderID":"42"})"}) {
    const std::string body = R"({"orderCancelTransaction":{"id":"41","orderID":"40"},
      "orderCreateTransaction":{"id":"42","replacesOrderID":"40"},"replacingOrderCancelTransaction":)" +
                             std::string(replacing) + "}";
    const ReplaceReply odd = codec.parse_replace_reply(201, body);
    EXPECT_EQ(odd.outcome, ReplaceOutcome::unknown) << replacing;
    EXPECT_EQ(odd.order_id, 0u) << replacing;
    EXPECT_FALSE(odd.replacement_canceled) << replacing;
  }
}

TEST(OandaProtocol, AReplaceWhoseOriginalCannotBeCancelledIsACancelReject) {
  OandaCodec codec;
  ReplaceReply reply = codec.parse_replace_reply(400, R"({
    "orderCancelRejectTransaction":{"id":"44","type":"ORDER_CANCEL_REJECT","orderID":"40",
      "rejectReason":"ORDER_DOESNT_EXIST"},
    "errorCode":"ORDER_DOESNT_EXIST","lastTransactionID":"44"})");
  EXPECT_EQ(reply.outcome, ReplaceOutcome::cancel_rejected);
  EXPECT_EQ(reply.kind, ReplyKind::rejected);
  EXPECT_EQ(reply.reject_reason, std::string_view("ORDER_DOESNT_EXIST"));
  EXPECT_EQ(reply.last_transaction_id, 44u);
  reply = codec.parse_replace_reply(404, R"({"errorMessage":"The Order specified does not exist"})");
  EXPECT_EQ(reply.outcome, ReplaceOutcome::refused);
  EXPECT_EQ(reply.reject_reason, std::string_view("HTTP_404")) << "a sentence is not a code";
}

TEST(OandaProtocol, AReplaceWhoseNewOrderWasRejectedAfterTheCancelIsACreateReject) {
  OandaCodec codec;
  for (const int status : {201, 400}) {
    const ReplaceReply reply = codec.parse_replace_reply(status, R"({
      "orderCancelTransaction":{"id":"45","type":"ORDER_CANCEL","orderID":"40","reason":"CLIENT_REQUEST_REPLACED"},
      "orderCreateRejectTransaction":{"id":"46","type":"LIMIT_ORDER_REJECT","replacesOrderID":"40",
        "rejectReason":"INSUFFICIENT_MARGIN"},
      "lastTransactionID":"46"})");
    EXPECT_EQ(reply.outcome, ReplaceOutcome::create_rejected) << status;
    EXPECT_EQ(reply.canceled_order_id, 40u) << status;
    EXPECT_EQ(reply.cancel_transaction_id, 45u) << status;
    EXPECT_EQ(reply.reject_reason, std::string_view("INSUFFICIENT_MARGIN")) << status;
  }
  // A create reject with no cancel left the original alone.
  const ReplaceReply reply = codec.parse_replace_reply(400, R"({
    "orderRejectTransaction":{"id":"47","type":"LIMIT_ORDER_REJECT","rejectReason":"PRICE_PRECISION_EXCEEDED"},
    "errorCode":"PRICE_PRECISION_EXCEEDED","lastTransactionID":"47"})");
  EXPECT_EQ(reply.outcome, ReplaceOutcome::refused);
  EXPECT_EQ(reply.reject_reason, std::string_view("PRICE_PRECISION_EXCEEDED"));
}

TEST(OandaProtocol, ReplaceRefusalsWithoutTransactionsKeepTheirKind) {
  OandaCodec codec;
  ReplaceReply reply = codec.parse_replace_reply(401, R"({"errorMessage":"Insufficient authorization"})");
  EXPECT_EQ(reply.outcome, ReplaceOutcome::refused);
  EXPECT_EQ(reply.kind, ReplyKind::unauthorized);
  EXPECT_EQ(reply.reject_reason, std::string_view("HTTP_401"));
  reply = codec.parse_replace_reply(429, "{}");
  EXPECT_EQ(reply.outcome, ReplaceOutcome::refused);
  EXPECT_EQ(reply.kind, ReplyKind::rate_limited);
}

TEST(OandaProtocol, MalformedOrInconsistentReplaceRepliesAreUnknown) {
  OandaCodec codec;
  const std::vector<std::pair<int, std::string>> cases = {
      {201, "not json"},
      {201, "[]"},
      {500, kReplaced},
      {503, ""},
      {502, R"({"orderCancelRejectTransaction":{"id":"1","rejectReason":"ORDER_DOESNT_EXIST"}})"},
      {201, R"({"lastTransactionID":"42"})"},
      // only one half of the replacement
      {201, R"({"orderCancelTransaction":{"id":"41","orderID":"40"}})"},
      {201, R"({"orderCreateTransaction":{"id":"42","replacesOrderID":"40"}})"},
      // the new order replaces some other order
      {201, R"({"orderCancelTransaction":{"id":"41","orderID":"40"},
                "orderCreateTransaction":{"id":"42","replacesOrderID":"39"}})"},
      // the new order does not say what it replaces
      {201, R"({"orderCancelTransaction":{"id":"41","orderID":"40"},"orderCreateTransaction":{"id":"42"}})"},
      // ids that are not ids
      {201, R"({"orderCancelTransaction":{"id":"41","orderID":"forty"},
                "orderCreateTransaction":{"id":"42","replacesOrderID":"forty"}})"},
      {201, R"({"orderCancelTransaction":{"id":"41","orderID":"40"},
                "orderCreateTransaction":{"id":-42,"replacesOrderID":"40"}})"},
      {201, R"({"orderCancelTransaction":{"orderID":"40"},
                "orderCreateTransaction":{"id":"42","replacesOrderID":"40"}})"},
      // a fill whose amount cannot be read
      {201, R"({"orderCancelTransaction":{"id":"41","orderID":"40"},
                "orderCreateTransaction":{"id":"42","replacesOrderID":"40"},
                "orderFillTransaction":{"id":"43","units":"lots","fullVWAP":"1.2"}})"},
      {201, R"({"orderCancelTransaction":{"id":"41","orderID":"40"},
                "orderCreateTransaction":{"id":"42","replacesOrderID":"40"},
                "orderFillTransaction":{"id":"43","units":"5"}})"},
      // an id of 0 names no order (found by the reply fuzzer: a create reject
      // after the cancel of "order 00")
      {400, R"({"orderCancelTransaction":{"id":"45","orderID":"00"},
                "orderCreateRejectTransaction":{"id":"46","replacesOrderID":"40","rejectReason":"X"}})"},
      {201, R"({"orderCancelTransaction":{"id":"41","orderID":"0"},
                "orderCreateTransaction":{"id":"42","replacesOrderID":"0"}})"},
      {201, R"({"orderCancelTransaction":{"id":"41","orderID":"40"},
                "orderCreateTransaction":{"id":"0","replacesOrderID":"40"}})"},
      // cancelled and not cancelled at once
      {400, R"({"orderCancelTransaction":{"id":"41","orderID":"40"},
                "orderCancelRejectTransaction":{"id":"44","rejectReason":"ORDER_DOESNT_EXIST"}})"},
      // a 4xx that cancelled the original without saying why the new one is missing
      {400, R"({"orderCancelTransaction":{"id":"41","orderID":"40"},"errorCode":"X"})"},
  };
  for (const auto& [status, body] : cases) {
    const ReplaceReply reply = codec.parse_replace_reply(status, body);
    EXPECT_EQ(reply.outcome, ReplaceOutcome::unknown) << status << " " << body;
    EXPECT_EQ(reply.order_id, 0u) << body;
  }
}

TEST(OandaProtocol, ReplaceTransactionsLinkTheOriginalAndItsReplacement) {
  OandaCodec codec;
  std::vector<Transaction> transactions;
  std::uint64_t last = 0;
  ASSERT_TRUE(codec.parse_transactions(R"({"transactions":[
    {"id":"41","type":"ORDER_CANCEL","orderID":"40","reason":"CLIENT_REQUEST_REPLACED","replacedByOrderID":"42"},
    {"id":"42","type":"STOP_ORDER","replacesOrderID":"40","clientExtensions":{"id":"c-9"}},
    {"id":"43","type":"ORDER_CANCEL","orderID":"42","reason":"CLIENT_REQUEST"}],"lastTransactionID":"43"})",
                                       transactions, last));
  ASSERT_EQ(transactions.size(), 3u);
  EXPECT_EQ(transactions[0].type, Transaction::Type::order_cancel);
  EXPECT_EQ(transactions[0].reason, std::string_view("CLIENT_REQUEST_REPLACED"));
  EXPECT_EQ(transactions[0].replace_link, 42u);
  EXPECT_EQ(transactions[1].type, Transaction::Type::order_create);
  EXPECT_EQ(transactions[1].order_id, 42u);
  EXPECT_EQ(transactions[1].replace_link, 40u);
  EXPECT_EQ(transactions[2].replace_link, 0u);
}

TEST(OandaProtocol, PricesTakeTheTopOfBookExactly) {
  OandaCodec codec;
  std::vector<PriceUpdate> prices;
  ASSERT_TRUE(codec.parse_prices(R"({"time":"x","prices":[
    {"type":"PRICE","instrument":"EUR_USD","tradeable":true,
     "bids":[{"price":"1.08460","liquidity":1000000},{"price":"1.08459","liquidity":5000000}],
     "asks":[{"price":"1.08463","liquidity":1000000}],"closeoutBid":"1.08458","closeoutAsk":"1.08465"},
    {"type":"PRICE","instrument":"USD_JPY","tradeable":false,"bids":[],"asks":[],
     "closeoutBid":"151.230","closeoutAsk":"151.236"}]})",
                                 prices));
  ASSERT_EQ(prices.size(), 2u);
  EXPECT_EQ(prices[0].instrument, "EUR_USD");
  EXPECT_EQ(prices[0].bid, decimal_literal("1.0846"));
  EXPECT_EQ(prices[0].ask, decimal_literal("1.08463"));
  EXPECT_TRUE(prices[0].tradeable);
  EXPECT_EQ(prices[1].bid, decimal_literal("151.23"));
  EXPECT_FALSE(prices[1].tradeable);
  EXPECT_FALSE(codec.parse_prices(R"({"prices":[{"instrument":"X","bids":[{"price":1.5}]}]})", prices) &&
               !prices.empty())
      << "a price as a JSON float is never read";
  EXPECT_FALSE(codec.parse_prices("[]", prices));
}

TEST(OandaProtocol, TransactionsAreClassifiedWithTheirOrderAndClientIds) {
  OandaCodec codec;
  std::vector<Transaction> transactions;
  std::uint64_t last = 0;
  ASSERT_TRUE(codec.parse_transactions(R"({"transactions":[
    {"id":"30","type":"LIMIT_ORDER","clientExtensions":{"id":"c-1"},"time":"2024-03-01T12:00:00Z"},
    {"id":"31","type":"ORDER_FILL","orderID":"30","clientOrderID":"c-1","units":"-500","fullVWAP":"1.2"},
    {"id":"32","type":"LIMIT_ORDER_REJECT","clientExtensions":{"id":"c-2"},"rejectReason":"PRICE_PRECISION_EXCEEDED"},
    {"id":"33","type":"ORDER_CANCEL","orderID":"29","reason":"TIME_IN_FORCE_EXPIRED"},
    {"id":"34","type":"DAILY_FINANCING"}],"lastTransactionID":"34"})",
                                       transactions, last));
  EXPECT_EQ(last, 34u);
  ASSERT_EQ(transactions.size(), 5u);
  EXPECT_EQ(transactions[0].type, Transaction::Type::order_create);
  EXPECT_EQ(transactions[0].order_id, 30u);
  EXPECT_EQ(transactions[0].client_order_id, std::string_view("c-1"));
  EXPECT_EQ(transactions[1].type, Transaction::Type::order_fill);
  EXPECT_EQ(transactions[1].order_id, 30u);
  EXPECT_EQ(transactions[1].units, decimal_literal("500"));
  EXPECT_EQ(transactions[1].price, decimal_literal("1.2"));
  EXPECT_EQ(transactions[2].type, Transaction::Type::order_reject);
  EXPECT_EQ(transactions[2].reason, std::string_view("PRICE_PRECISION_EXCEEDED"));
  EXPECT_EQ(transactions[3].type, Transaction::Type::order_cancel);
  EXPECT_EQ(transactions[3].reason, std::string_view("TIME_IN_FORCE_EXPIRED"));
  EXPECT_EQ(transactions[4].type, Transaction::Type::other);
  EXPECT_FALSE(codec.parse_transactions(R"({"transactions":[]})", transactions, last)) << "no lastTransactionID";
}

TEST(OandaProtocol, LastTransactionIdFromTheAccountSummary) {
  OandaCodec codec;
  std::uint64_t last = 0;
  ASSERT_TRUE(codec.parse_last_transaction_id(R"({"account":{"id":"1","lastTransactionID":"99"},"lastTransactionID":"99"})", last));
  EXPECT_EQ(last, 99u);
  ASSERT_TRUE(codec.parse_last_transaction_id(R"({"account":{"lastTransactionID":"5"}})", last));
  EXPECT_EQ(last, 5u);
}

// --- reconciliation ----------------------------------------------------------

TEST(OandaProtocol, PendingOrdersMapLimitsAndStopsAndMarkAttachedAndOtherTypes) {
  OandaCodec codec;
  std::vector<PendingOrder> orders;
  std::uint64_t last = 0;
  ASSERT_TRUE(codec.parse_pending_orders(
      R"({"orders":[
        {"id":"21","createTime":"2024-03-01T12:00:00.000000000Z","type":"LIMIT","instrument":"EUR_USD",
         "units":"-5000","price":"1.08500","timeInForce":"GTD","gtdTime":"2024-03-02T12:00:00.000000000Z",
         "positionFill":"DEFAULT","triggerCondition":"DEFAULT","state":"PENDING",
         "clientExtensions":{"id":"ogAbCdEfGh12-k","tag":"t"}},
        {"id":"19","type":"STOP","instrument":"USD_JPY","units":"100","price":"151.200","timeInForce":"GTC",
         "state":"PENDING"},
        {"id":"17","type":"TAKE_PROFIT","tradeID":"16","price":"1.09000","timeInForce":"GTC","state":"PENDING"},
        {"id":"18","type":"TRAILING_STOP_LOSS","tradeID":"16","distance":"0.00500","timeInForce":"GTC"},
        {"id":"15","type":"MARKET_IF_TOUCHED","instrument":"EUR_USD","units":"10","price":"1.07",
         "timeInForce":"GTC"}],
       "lastTransactionID":"22"})",
      orders, last));
  EXPECT_EQ(last, 22u);
  ASSERT_EQ(orders.size(), 5u);
  const PendingOrder& limit = orders[0];
  EXPECT_EQ(limit.id, 21u);
  EXPECT_EQ(limit.instrument, "EUR_USD");
  EXPECT_EQ(limit.type, OrderType::limit);
  EXPECT_FALSE(limit.attached);
  EXPECT_EQ(limit.side, Side::sell);
  EXPECT_EQ(limit.units, decimal_literal("5000"));
  EXPECT_EQ(limit.price, decimal_literal("1.085"));
  EXPECT_TRUE(limit.stop_price.is_zero());
  EXPECT_EQ(limit.time_in_force, TimeInForce::gtd);
  std::int64_t gtd = 0;
  ASSERT_TRUE(parse_time("2024-03-02T12:00:00Z", gtd));
  EXPECT_EQ(limit.gtd_ns, gtd);
  EXPECT_EQ(limit.client_id.view(), "ogAbCdEfGh12-k");
  const PendingOrder& stop = orders[1];
  EXPECT_EQ(stop.type, OrderType::stop);
  EXPECT_EQ(stop.side, Side::buy);
  EXPECT_EQ(stop.stop_price, decimal_literal("151.2"));
  EXPECT_TRUE(stop.price.is_zero());
  EXPECT_EQ(stop.time_in_force, TimeInForce::gtc);
  EXPECT_TRUE(stop.client_id.empty());
  EXPECT_TRUE(orders[2].attached);
  EXPECT_TRUE(orders[3].attached);
  EXPECT_FALSE(orders[4].attached);
  EXPECT_EQ(orders[4].type, OrderType::unset) << "no gateway equivalent: skipped by the adapter";
}

TEST(OandaProtocol, APendingOrderWithAFreeTextClientIdKeepsOnlyItsCodeCharacters) {
  OandaCodec codec;
  std::vector<PendingOrder> orders;
  std::uint64_t last = 0;
  ASSERT_TRUE(codec.parse_pending_orders(
      R"({"orders":[{"id":"3","type":"LIMIT","instrument":"EUR_USD","units":"1","price":"1.1","timeInForce":"GTC",
          "clientExtensions":{"id":"manual\nline two"}}],"lastTransactionID":"3"})",
      orders, last));
  ASSERT_EQ(orders.size(), 1u);
  EXPECT_EQ(orders[0].client_id.view(), "manual");
}

TEST(OandaProtocol, MalformedPendingOrdersAreRefusedWhole) {
  OandaCodec codec;
  std::vector<PendingOrder> orders;
  std::uint64_t last = 0;
  const char* bodies[] = {
      "",
      "[]",
      R"({"orders":[]})",                           // no lastTransactionID
      R"({"orders":{},"lastTransactionID":"1"})",  // not an array
      R"({"orders":[7],"lastTransactionID":"1"})",
      R"({"orders":[{"type":"LIMIT","instrument":"EUR_USD","units":"1","price":"1.1","timeInForce":"GTC"}],
          "lastTransactionID":"1"})",  // no id
      R"({"orders":[{"id":"2","type":"LIMIT","instrument":"EUR_USD","units":"0","price":"1.1","timeInForce":"GTC"}],
          "lastTransactionID":"2"})",
      R"({"orders":[{"id":"2","type":"LIMIT","instrument":"EUR_USD","units":1.5,"price":"1.1","timeInForce":"GTC"}],
          "lastTransactionID":"2"})",  // a JSON float is never read
      R"({"orders":[{"id":"2","type":"LIMIT","instrument":"EUR_USD","units":"1","timeInForce":"GTC"}],
          "lastTransactionID":"2"})",  // no price
      R"({"orders":[{"id":"2","type":"STOP","instrument":"EUR_USD","units":"1","price":"1.1","timeInForce":"XYZ"}],
          "lastTransactionID":"2"})",
      R"({"orders":[{"id":"2","type":"LIMIT","instrument":"EUR_USD","units":"1","price":"1.1","timeInForce":"GTD",
          "gtdTime":"tomorrow"}],"lastTransactionID":"2"})",
      R"({"orders":[{"id":"2","type":"LIMIT","units":"1","price":"1.1","timeInForce":"GTC"}],
          "lastTransactionID":"2"})",  // no instrument
  };
  for (const char* body : bodies) {
    orders.push_back(PendingOrder{});
    EXPECT_FALSE(codec.parse_pending_orders(body, orders, last)) << body;
    EXPECT_TRUE(orders.empty()) << body;
  }
}

TEST(OandaProtocol, OpenPositionsAreLongPlusShortUnitsAndZeroNetsAreLeftOut) {
  OandaCodec codec;
  std::vector<OpenPosition> positions;
  std::uint64_t last = 0;
  ASSERT_TRUE(codec.parse_open_positions(
      R"({"positions":[
        {"instrument":"EUR_USD","long":{"units":"10000","averagePrice":"1.08460","tradeIDs":["6"],"pl":"0.0000"},
         "short":{"units":"0","pl":"0.0000"},"pl":"0.0000","unrealizedPL":"0.0000"},
        {"instrument":"USD_JPY","long":{"units":"0"},"short":{"units":"-250","averagePrice":"151.100"}},
        {"instrument":"GBP_USD","long":{"units":"300"},"short":{"units":"-100"}},
        {"instrument":"AUD_USD","long":{"units":"100"},"short":{"units":"-100"}}],
       "lastTransactionID":"9"})",
      positions, last));
  EXPECT_EQ(last, 9u);
  ASSERT_EQ(positions.size(), 3u);
  EXPECT_EQ(positions[0].instrument, "EUR_USD");
  EXPECT_EQ(positions[0].net, decimal_literal("10000"));
  EXPECT_EQ(positions[1].instrument, "USD_JPY");
  EXPECT_EQ(positions[1].net, decimal_literal("-250"));
  EXPECT_EQ(positions[2].net, decimal_literal("200")) << "a hedged account: the net";
}

TEST(OandaProtocol, MalformedOpenPositionsAreRefusedWhole) {
  OandaCodec codec;
  std::vector<OpenPosition> positions;
  std::uint64_t last = 0;
  const char* bodies[] = {
      "{",
      R"({"positions":[]})",
      R"({"positions":[{"instrument":"EUR_USD","long":{"units":"1"}}],"lastTransactionID":"1"})",  // no short
      R"({"positions":[{"instrument":"EUR_USD","long":{"units":"x"},"short":{"units":"0"}}],"lastTransactionID":"1"})",
      R"({"positions":[{"instrument":"EUR_USD","long":{"units":"-1"},"short":{"units":"0"}}],"lastTransactionID":"1"})",
      R"({"positions":[{"instrument":"EUR_USD","long":{"units":"0"},"short":{"units":"5"}}],"lastTransactionID":"1"})",
      R"({"positions":[{"long":{"units":"1"},"short":{"units":"0"}}],"lastTransactionID":"1"})",
      R"({"positions":[{"instrument":"EUR_USD","long":{"units":"92233720368"},"short":{"units":"-0.000000001"}}],
          "lastTransactionID":"1"})",
  };
  for (const char* body : bodies) {
    positions.push_back(OpenPosition{"X", decimal_literal("1")});
    EXPECT_FALSE(codec.parse_open_positions(body, positions, last)) << body;
    EXPECT_TRUE(positions.empty()) << body;
  }
}

}  // namespace
}  // namespace ordergate::adapters::oanda
