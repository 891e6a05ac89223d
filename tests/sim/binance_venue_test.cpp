// The simulator's Binance spot endpoints over real TLS: signed orders,
// signature / key / timestamp errors, limit headers, 429 then 418, resting
// orders, cancels, balances and the "query before resend" fault.

#include <gtest/gtest.h>

#include <deque>

#include <simdjson.h>

#include "ordergate/core/decimal.hpp"
#include "sim_process.hpp"
#include "tls_client.hpp"

namespace ordergate::sim::testing {
namespace {

class BinanceSim : public ::testing::Test {
 protected:
  explicit BinanceSim(std::vector<std::string> args = {})
      : sim_(with_venue(std::move(args))), client_(sim_.port(), sim_.ca_file()) {}

  // A clean exit also proves the sanitizer builds found nothing in the sim.
  void TearDown() override {
    client_.close();
    EXPECT_EQ(sim_.stop(), 0) << sim_.stderr_text();
  }

  static std::vector<std::string> with_venue(std::vector<std::string> args) {
    args.insert(args.begin(), {"--venues", "binance"});
    return args;
  }

  /// A signed request with the parameters in the body (POST, DELETE) or the
  /// query string (GET).
  HttpResult send(const std::string& method, const std::string& path, const std::string& params,
                  const std::string& key = kBinanceKey, const std::string& secret = kBinanceSecret,
                  std::int64_t timestamp = now_ms()) {
    const std::string signed_params = signed_query(params, secret, timestamp);
    const std::vector<std::pair<std::string, std::string>> headers = {
        {"X-MBX-APIKEY", key}, {"Content-Type", "application/x-www-form-urlencoded"}};
    if (method == "GET") return client_.request(method, path + "?" + signed_params, {}, headers);
    return client_.request(method, path, signed_params, headers);
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
  static std::int64_t number(simdjson::dom::element element, std::string_view pointer) {
    std::int64_t value = 0;
    if (element.at_pointer(pointer).get_int64().get(value) != simdjson::SUCCESS) return INT64_MIN;
    return value;
  }

  SimProcess sim_;
  TlsClient client_;
  std::deque<simdjson::padded_string> documents_;
  std::deque<simdjson::dom::parser> parsers_;
};

TEST_F(BinanceSim, SignedMarketOrderFillsWithFullResponseAndLimitHeaders) {
  const auto response =
      send("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=3&newClientOrderId=mkt-1");
  ASSERT_EQ(response.status, 200) << response.body;
  const auto body = parse(response.body);
  EXPECT_EQ(text(body, "/status"), "FILLED");
  EXPECT_EQ(text(body, "/clientOrderId"), "mkt-1");
  EXPECT_EQ(text(body, "/executedQty"), "3.00000000");
  EXPECT_EQ(number(body, "/orderId"), 1);
  // Two BTC at the ask, one more a tick higher: the synthetic book has 2 per level.
  EXPECT_EQ(text(body, "/fills/0/price"), "64000.01000000");
  EXPECT_EQ(text(body, "/fills/0/qty"), "2.00000000");
  EXPECT_EQ(text(body, "/fills/1/price"), "64000.02000000");
  EXPECT_EQ(text(body, "/cummulativeQuoteQty"), "192000.04000000");
  EXPECT_GT(number(body, "/transactTime"), 0);
  EXPECT_EQ(response.header("x-mbx-used-weight-1m"), "1");
  EXPECT_EQ(response.header("x-mbx-order-count-10s"), "1");

  const auto ping = client_.request("GET", "/api/v3/ping");
  EXPECT_EQ(ping.body, "{}");
  EXPECT_EQ(ping.header("x-mbx-used-weight-1m"), "2") << "limit headers are on every response";
  EXPECT_FALSE(ping.header("x-mbx-order-count-10s").empty());
}

TEST_F(BinanceSim, SignatureOverQueryAndBodyTogetherIsAccepted) {
  // Binance's example 3: totalParams is the query string followed by the body.
  const std::string query = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC";
  const std::string body = "quantity=0.001&price=60000.00&recvWindow=5000&timestamp=" + std::to_string(now_ms());
  const std::string signature = security::to_hex(security::hmac_sha256(kBinanceSecret, query + body));
  const auto response = client_.request("POST", "/api/v3/order?" + query, body + "&signature=" + signature,
                                        {{"X-MBX-APIKEY", kBinanceKey}, {"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(text(parse(response.body), "/status"), "NEW");
}

TEST_F(BinanceSim, BadSignatureIsMinus1022) {
  const auto response = send("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01", kBinanceKey,
                             "not-the-secret");
  EXPECT_EQ(response.status, 400);
  const auto body = parse(response.body);
  EXPECT_EQ(number(body, "/code"), -1022);
  EXPECT_EQ(text(body, "/msg"), "Signature for this request is not valid.");
  EXPECT_EQ(parse(client_.request("GET", "/sim/orders").body)["count"].get_int64().value(), 0);
}

TEST_F(BinanceSim, WrongApiKeyIsMinus2015AndMissingKeyIsMinus2014) {
  const auto wrong = send("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01", "wrong-key");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(number(parse(wrong.body), "/code"), -2015);
  const auto missing = client_.request("GET", "/api/v3/account?" + signed_query("", kBinanceSecret, now_ms()));
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(number(parse(missing.body), "/code"), -2014);
}

TEST_F(BinanceSim, TimestampOutsideRecvWindowIsMinus1021) {
  const auto stale = send("GET", "/api/v3/account", "recvWindow=5000", kBinanceKey, kBinanceSecret, now_ms() - 10'000);
  EXPECT_EQ(stale.status, 400);
  EXPECT_EQ(number(parse(stale.body), "/code"), -1021);
  const auto ahead = send("GET", "/api/v3/account", "", kBinanceKey, kBinanceSecret, now_ms() + 5'000);
  EXPECT_EQ(number(parse(ahead.body), "/code"), -1021);
  const auto wide = send("GET", "/api/v3/account", "recvWindow=60000", kBinanceKey, kBinanceSecret, now_ms() - 10'000);
  EXPECT_EQ(wide.status, 200) << wide.body;
}

TEST_F(BinanceSim, RestingLimitFillsAfterTheSimPriceCrossesIt) {
  const auto placed = send("POST", "/api/v3/order",
                           "symbol=ETHUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=1.5&price=3300.00&newClientOrderId=rest-1");
  ASSERT_EQ(placed.status, 200) << placed.body;
  EXPECT_EQ(text(parse(placed.body), "/status"), "NEW");
  EXPECT_EQ(send("GET", "/api/v3/openOrders", "symbol=ETHUSDT").body.find("rest-1") != std::string::npos, true);

  ASSERT_EQ(client_.request("POST", "/sim/price", R"({"instrument":"ETHUSDT","bid":"3300.50","ask":"3300.60"})").status,
            200);
  const auto queried = send("GET", "/api/v3/order", "symbol=ETHUSDT&origClientOrderId=rest-1");
  ASSERT_EQ(queried.status, 200) << queried.body;
  const auto body = parse(queried.body);
  EXPECT_EQ(text(body, "/status"), "FILLED");
  EXPECT_EQ(text(body, "/executedQty"), "1.50000000");
  EXPECT_EQ(text(body, "/cummulativeQuoteQty"), "4950.00000000") << "a resting order fills at its own price";
}

TEST_F(BinanceSim, OpenOrdersOfEverySymbolCost80AndTheAccountListsBalancesWithWhatOrdersLock) {
  ASSERT_EQ(send("POST", "/api/v3/order",
                 "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.5&price=70000.00&newClientOrderId=h-1")
                .status,
            200);
  ASSERT_EQ(send("POST", "/api/v3/order",
                 "symbol=ETHUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=2000.00&newClientOrderId=h-2")
                .status,
            200);
  const auto before = send("GET", "/api/v3/ping", "");
  const auto all = send("GET", "/api/v3/openOrders", "");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(std::stoll(all.header("x-mbx-used-weight-1m")) - std::stoll(before.header("x-mbx-used-weight-1m")), 80);
  const auto orders = parse(all.body);
  EXPECT_EQ(text(orders, "/0/clientOrderId"), "h-1");
  EXPECT_EQ(text(orders, "/0/origQty"), "0.50000000");
  EXPECT_EQ(text(orders, "/0/executedQty"), "0.00000000");
  EXPECT_EQ(text(orders, "/1/symbol"), "ETHUSDT");
  const auto account = parse(send("GET", "/api/v3/account", "").body);
  for (std::size_t i = 0; i < 3; ++i) {
    const std::string at = "/balances/" + std::to_string(i);
    if (text(account, at + "/asset") != "BTC") continue;
    EXPECT_EQ(text(account, at + "/free"), "9.50000000");
    EXPECT_EQ(text(account, at + "/locked"), "0.50000000");
  }
  ASSERT_EQ(client_.request("POST", "/sim/faults", R"({"fail_next_holdings":1})").status, 200);
  const auto failed = send("GET", "/api/v3/openOrders", "");
  EXPECT_EQ(failed.status, 503);
  EXPECT_EQ(number(parse(failed.body), "/code"), -1008);
  EXPECT_EQ(send("GET", "/api/v3/openOrders", "").status, 200);
}

TEST_F(BinanceSim, CancelByOrigClientOrderIdThenUnknownOrderErrors) {
  ASSERT_EQ(send("POST", "/api/v3/order",
                 "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.5&price=50000.00&newClientOrderId=cx-1")
                .status,
            200);
  const auto cancelled = send("DELETE", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=cx-1");
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  const auto body = parse(cancelled.body);
  EXPECT_EQ(text(body, "/status"), "CANCELED");
  EXPECT_EQ(text(body, "/origClientOrderId"), "cx-1");
  EXPECT_EQ(number(parse(send("DELETE", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=cx-1").body), "/code"), -2011);
  EXPECT_EQ(number(parse(send("GET", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=nope").body), "/code"), -2013);
}

TEST_F(BinanceSim, InsufficientBalanceAndDuplicateOpenClientIdAreMinus2010) {
  const auto poor = parse(send("POST", "/api/v3/order", "symbol=BTCUSDT&side=SELL&type=MARKET&quantity=11").body);
  EXPECT_EQ(number(poor, "/code"), -2010);
  EXPECT_EQ(text(poor, "/msg"), "Account has insufficient balance for requested action.");
  const std::string resting = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.1&price=50000.00&newClientOrderId=dup-1";
  ASSERT_EQ(send("POST", "/api/v3/order", resting).status, 200);
  const auto duplicate = parse(send("POST", "/api/v3/order", resting).body);
  EXPECT_EQ(number(duplicate, "/code"), -2010);
  EXPECT_EQ(text(duplicate, "/msg"), "Duplicate order sent.");
}

TEST_F(BinanceSim, FiltersAndMissingParametersAreReported) {
  EXPECT_EQ(number(parse(send("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.1&price=50000.001").body), "/code"), -1013);
  EXPECT_EQ(number(parse(send("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.000001").body), "/code"), -1013);
  EXPECT_EQ(number(parse(send("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.1&price=50000.00").body), "/code"), -1102);
  EXPECT_EQ(number(parse(send("POST", "/api/v3/order", "symbol=NOPE&side=BUY&type=MARKET&quantity=1").body), "/code"), -1121);
}

TEST_F(BinanceSim, BookTickerTimeAndExchangeInfoNeedNoKey) {
  const auto ticker = parse(client_.request("GET", "/api/v3/ticker/bookTicker?symbol=BTCUSDT").body);
  EXPECT_EQ(text(ticker, "/bidPrice"), "64000.00000000");
  EXPECT_EQ(text(ticker, "/askPrice"), "64000.01000000");
  EXPECT_GT(number(parse(client_.request("GET", "/api/v3/time").body), "/serverTime"), 0);
  const auto info = parse(client_.request("GET", "/api/v3/exchangeInfo?symbol=BTCUSDT").body);
  EXPECT_EQ(text(info, "/symbols/0/filters/0/tickSize"), "0.01000000");
}

class BinanceSimWithTinyLimits : public BinanceSim {
 protected:
  BinanceSimWithTinyLimits()
      : BinanceSim({"--binance-weight-limit", "3", "--binance-order-limit", "2", "--binance-ban-ms", "2000"}) {}
};

TEST_F(BinanceSimWithTinyLimits, OverTheWeightLimitIs429AndIgnoringRetryAfterIs418WithALongerWait) {
  for (int i = 1; i <= 3; ++i) {
    const auto ok = client_.request("GET", "/api/v3/ping");
    ASSERT_EQ(ok.status, 200);
    EXPECT_EQ(ok.header("x-mbx-used-weight-1m"), std::to_string(i));
  }
  const auto limited = client_.request("GET", "/api/v3/ping");
  ASSERT_EQ(limited.status, 429);
  EXPECT_EQ(number(parse(limited.body), "/code"), -1003);
  const int retry_after = std::stoi(limited.header("retry-after"));
  EXPECT_GE(retry_after, 1);
  EXPECT_FALSE(limited.header("x-mbx-used-weight-1m").empty());

  const auto banned = client_.request("GET", "/api/v3/ping");
  ASSERT_EQ(banned.status, 418);
  EXPECT_EQ(number(parse(banned.body), "/code"), -1003);
  EXPECT_GT(std::stoi(banned.header("retry-after")), retry_after);
  EXPECT_EQ(client_.request("GET", "/api/v3/time").status, 418) << "still banned";
}

TEST_F(BinanceSimWithTinyLimits, OverTheOrderCountIs429WithMinus1015) {
  const std::string order = "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001";
  ASSERT_EQ(send("POST", "/api/v3/order", order).status, 200);
  ASSERT_EQ(send("POST", "/api/v3/order", order).status, 200);
  const auto limited = send("POST", "/api/v3/order", order);
  ASSERT_EQ(limited.status, 429);
  EXPECT_EQ(number(parse(limited.body), "/code"), -1015);
  EXPECT_FALSE(limited.header("retry-after").empty());
}

class BinanceSimDocumentedOrderLimit : public BinanceSim {
 protected:
  BinanceSimDocumentedOrderLimit()
      : BinanceSim({"--binance-order-limit", "1", "--binance-order-429-without-retry-after"}) {}
};

TEST_F(BinanceSimDocumentedOrderLimit, OrderCount429HasNoRetryAfterAndLeadsToNoBan) {
  const std::string order = "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001";
  ASSERT_EQ(send("POST", "/api/v3/order", order).status, 200);
  const auto limited = send("POST", "/api/v3/order", order);
  ASSERT_EQ(limited.status, 429);
  EXPECT_EQ(number(parse(limited.body), "/code"), -1015);
  EXPECT_TRUE(limited.header("retry-after").empty());
  EXPECT_EQ(client_.request("GET", "/api/v3/ping").status, 200) << "no 418 for the next request";
}

class BinanceSimFailingAfterPlace : public BinanceSim {
 protected:
  BinanceSimFailingAfterPlace() : BinanceSim({"--error-first", "1", "--error-after-place"}) {}
};

TEST_F(BinanceSimFailingAfterPlace, A503IsAnUnknownFateAndTheQueryFindsThePlacedOrder) {
  const auto response =
      send("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&newClientOrderId=u-1");
  ASSERT_EQ(response.status, 503);
  EXPECT_EQ(number(parse(response.body), "/code"), -1007);
  const auto queried = send("GET", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=u-1");
  ASSERT_EQ(queried.status, 200) << queried.body;
  EXPECT_EQ(text(parse(queried.body), "/status"), "FILLED");
  EXPECT_EQ(parse(client_.request("GET", "/sim/orders?venue=binance&client_order_id=u-1").body)["count"].get_int64().value(), 1);
  EXPECT_EQ(parse(client_.request("GET", "/sim/stats").body)["faults_injected"].get_int64().value(), 1);
}

class BinanceSimFailingBeforePlace : public BinanceSim {
 protected:
  BinanceSimFailingBeforePlace() : BinanceSim({"--error-first", "1"}) {}
};

TEST_F(BinanceSimFailingBeforePlace, A503BeforePlacingLeavesNoOrder) {
  ASSERT_EQ(send("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&newClientOrderId=n-1").status, 503);
  EXPECT_EQ(number(parse(send("GET", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=n-1").body), "/code"), -2013);
  EXPECT_EQ(send("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&newClientOrderId=n-1").status, 200);
}

class BinanceSimWalking : public BinanceSim {
 protected:
  BinanceSimWalking() : BinanceSim({"--walk-ms", "10"}) {}
};

TEST_F(BinanceSimWalking, RandomWalkMovesTheQuoteByWholeTicks) {
  const std::string first = client_.request("GET", "/api/v3/ticker/bookTicker?symbol=BTCUSDT").body;
  std::string now = first;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (now == first && std::chrono::steady_clock::now() < deadline) {
    now = client_.request("GET", "/api/v3/ticker/bookTicker?symbol=BTCUSDT").body;
  }
  ASSERT_NE(now, first) << "the quote never moved";
  const auto quote = parse(now);
  const auto bid = decimal_literal(text(quote, "/bidPrice"));
  const auto ask = decimal_literal(text(quote, "/askPrice"));
  EXPECT_EQ(ask.raw() - bid.raw(), decimal_literal("0.01").raw()) << "bid and ask move together";
  EXPECT_TRUE(bid.is_multiple_of(decimal_literal("0.01")));
}

}  // namespace
}  // namespace ordergate::sim::testing
