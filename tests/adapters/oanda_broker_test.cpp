#include "ordergate/adapters/oanda/oanda_broker.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "adapters/tls_test_support.hpp"

namespace ordergate::adapters::oanda {
namespace {

using ordergate::testing::TestHttpsServer;
using ordergate::testing::TestPki;
using ordergate::testing::TestReply;
using ordergate::testing::TestRequest;

constexpr const char* kToken = "canary-oanda-token-5f1e";
constexpr const char* kAccount = "101-001-1234567-001";

/// A scripted OANDA: what happens to an order depends on its client id
/// prefix (fill-, rest-, slow-, reject-, auth-, limit-, lost-), and every order it
/// places is kept as transactions for `transactions/sinceid`.
class FakeOanda {
 public:
  TestReply handle(const TestRequest& request) {
    std::lock_guard lock(mutex_);
    ++requests_;
    TestReply reply;
    if (request[boost::beast::http::field::authorization] != std::string("Bearer ") + kToken) {
      reply.status = 401;
      reply.body = R"({"errorMessage":"Insufficient authorization to perform request."})";
      return reply;
    }
    const std::string target(request.target());
    const std::string account = std::string("/v3/accounts/") + kAccount;
    if (target == account + "/summary") {
      reply.body = R"({"account":{"id":")" + std::string(kAccount) + R"("},"lastTransactionID":")" + last() + "\"}";
    } else if (target.rfind(account + "/pricing?instruments=", 0) == 0) {
      pricing_target_ = target;
      reply.body = R"({"prices":[{"instrument":"EUR_USD","tradeable":true,"bids":[{"price":"1.08460"}],)"
                   R"("asks":[{"price":"1.08463"}]}]})";
    } else if (target == account + "/orders" && request.method() == boost::beast::http::verb::post) {
      reply = place(request.body());
    } else if (target.rfind(account + "/transactions/sinceid?id=", 0) == 0) {
      const std::uint64_t since = std::stoull(target.substr(target.find("id=") + 3));
      std::string list;
      // One transaction per page (OANDA pages long histories): the adapter
      // must follow the pages, not jump to lastTransactionID.
      for (std::size_t i = since; i < transactions_.size() && i < since + 1; ++i) {
        if (!list.empty()) list += ",";
        list += transactions_[i];
      }
      reply.body = R"({"transactions":[)" + list + R"(],"lastTransactionID":")" + last() + "\"}";
    } else if (target.find("/cancel") != std::string::npos) {
      const std::string client = target.substr(target.find("/@") + 2, target.find("/cancel") - target.find("/@") - 2);
      const auto it = resting_.find(client);
      if (it == resting_.end()) {
        reply.status = 404;
        reply.body = R"({"errorCode":"ORDER_DOESNT_EXIST","lastTransactionID":")" + last() + "\"}";
      } else {
        const std::string id = add(R"("type":"ORDER_CANCEL","orderID":")" + it->second +
                                   R"(","clientOrderID":")" + client + R"(","reason":"CLIENT_REQUEST")");
        resting_.erase(it);
        reply.body = R"({"orderCancelTransaction":{"id":")" + id + R"(","type":"ORDER_CANCEL","reason":"CLIENT_REQUEST"},)"
                     R"("lastTransactionID":")" + last() + "\"}";
      }
    } else {
      reply.status = 404;
      reply.body = R"({"errorMessage":"no route"})";
    }
    return reply;
  }

  /// Fills a resting order (as if the market moved), like the real account would.
  void fill_resting(const std::string& client) {
    std::lock_guard lock(mutex_);
    const auto it = resting_.find(client);
    ASSERT_NE(it, resting_.end());
    add(R"("type":"ORDER_FILL","orderID":")" + it->second + R"(","clientOrderID":")" + client +
        R"(","units":"1000","fullVWAP":"1.08455")");
    resting_.erase(it);
  }

  int orders_with(const std::string& client) {
    std::lock_guard lock(mutex_);
    int count = 0;
    for (const auto& body : placed_) count += body.find("\"" + client + "\"") != std::string::npos ? 1 : 0;
    return count;
  }
  std::string pricing_target() {
    std::lock_guard lock(mutex_);
    return pricing_target_;
  }
  int requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  TestReply place(const std::string& body) {
    TestReply reply;
    const auto start = body.find(R"("clientExtensions":{"id":")") + 26;
    const std::string client = body.substr(start, body.find('"', start) - start);
    const std::string prefix = client.substr(0, client.find('-'));
    if (prefix == "auth") {
      reply.status = 403;
      reply.body = R"({"errorMessage":"forbidden"})";
      return reply;
    }
    if (prefix == "limit") {
      reply.status = 429;
      reply.body = R"({"errorMessage":"rate"})";
      return reply;
    }
    if (prefix == "reject") {
      const std::string id = add(R"("type":"MARKET_ORDER_REJECT","clientExtensions":{"id":")" + client +
                                 R"("},"rejectReason":"INSUFFICIENT_MARGIN")");
      reply.status = 400;
      reply.body = R"({"orderRejectTransaction":{"id":")" + id +
                   R"(","rejectReason":"INSUFFICIENT_MARGIN"},"errorCode":"INSUFFICIENT_MARGIN","errorMessage":")" +
                   std::string("Bearer ") + kToken + R"(","lastTransactionID":")" + last() + "\"}";
      return reply;
    }
    placed_.push_back(body);
    const std::string create = add(R"("type":"MARKET_ORDER","clientExtensions":{"id":")" + client + "\"}");
    std::string reply_body = R"({"orderCreateTransaction":{"id":")" + create + "\"}";
    if (prefix == "fill" || prefix == "lost") {
      const std::string fill = add(R"("type":"ORDER_FILL","orderID":")" + create + R"(","clientOrderID":")" + client +
                                   R"(","units":"-1000","fullVWAP":"1.08460")");
      reply_body += R"(,"orderFillTransaction":{"id":")" + fill +
                    R"(","orderID":")" + create + R"(","units":"-1000","fullVWAP":"1.08460"})";
    } else {
      resting_[client] = create;
    }
    reply_body += R"(,"lastTransactionID":")" + last() + "\"}";
    if (prefix == "lost") {
      reply.status = 500;  // placed, but the reply says otherwise
      reply.body = R"({"errorMessage":"internal"})";
      return reply;
    }
    reply.status = 201;
    reply.body = reply_body;
    if (prefix == "slow") reply.delay = std::chrono::milliseconds(300);  // holds its connection
    return reply;
  }

  std::string add(const std::string& fields) {
    const std::string id = std::to_string(transactions_.size() + 1);
    transactions_.push_back(R"({"id":")" + id + "\"," + fields + "}");
    return id;
  }
  [[nodiscard]] std::string last() const { return std::to_string(transactions_.size()); }

  std::mutex mutex_;
  std::vector<std::string> transactions_ = {R"({"id":"1","type":"CREATE"})"};
  std::vector<std::string> placed_;
  std::map<std::string, std::string> resting_;  // client id -> order id
  std::string pricing_target_;
  int requests_ = 0;
};

struct Reports final : ExecutionSink {
  void on_execution(const ExecutionReport& report) noexcept override { all.push_back(report); }
  std::vector<ExecutionReport> all;
};

InstrumentSpec spec(const char* name, const char* tick) {
  InstrumentSpec s;
  s.name = name;
  s.tick_size = decimal_literal(tick);
  s.lot_step = decimal_literal("1");
  s.min_quantity = decimal_literal("1");
  s.max_quantity = decimal_literal("10000000");
  s.max_order_quantity = decimal_literal("1000000");
  s.max_notional = decimal_literal("5000000");
  s.max_position = decimal_literal("5000000");
  s.price_band_bps = 500;
  s.max_open_orders = 100;
  s.max_quote_age_ns = kNanosPerSecond;
  return s;
}

class OandaBrokerTest : public ::testing::Test {
 protected:
  OandaBrokerTest()
      : pki_("oanda"),
        server_(pki_.localhost, [this](const TestRequest& request) { return fake_.handle(request); }),
        table_({spec("EUR/USD", "0.00001"), spec("BTC/USDT", "0.01")}),
        quotes_(table_.size()) {}

  OandaSettings settings() {
    OandaSettings s;
    s.connection.base_url = "https://localhost:" + std::to_string(server_.port());
    s.connection.ca_file = pki_.ca_file;
    s.connection.reconnect_min_ns = 20 * kNanosPerMilli;
    s.connection.reconnect_max_ns = 200 * kNanosPerMilli;
    s.account_id = kAccount;
    s.token = security::Secret(kToken);
    s.instruments = {"EUR/USD"};
    s.transaction_poll_interval_ns = 20 * kNanosPerMilli;
    s.unknown_fate_window_ns = 200 * kNanosPerMilli;
    s.rate_limit_pause_ns = 300 * kNanosPerMilli;
    s.log = [this](tls::LogLevel, std::string_view line) { lines_.emplace_back(line); };
    return s;
  }

  void start(OandaSettings s) {
    broker_ = std::make_unique<OandaBroker>(table_, std::move(s));
    broker_->start(reports_, quotes_, SystemClock::instance());
  }

  Order market(const char* client, Side side = Side::sell) {
    Order o;
    o.order_id = next_id_++;
    o.instrument_id = 0;
    o.side = side;
    o.type = OrderType::market;
    o.time_in_force = TimeInForce::fok;
    o.quantity = decimal_literal("1000");
    o.client_order_id.assign(client);
    return o;
  }
  Order limit(const char* client) {
    Order o = market(client, Side::buy);
    o.type = OrderType::limit;
    o.time_in_force = TimeInForce::gtc;
    o.price = decimal_literal("1.08455");
    return o;
  }

  bool poll_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      broker_->poll();
    }
    return true;
  }
  bool reported(std::size_t count) {
    return poll_until([&] { return reports_.all.size() >= count; });
  }

  void TearDown() override {
    if (broker_) broker_->stop();
    for (const std::string& line : lines_) {
      EXPECT_EQ(line.find(kToken), std::string::npos) << "the token leaked into a log line: " << line;
    }
    for (const ExecutionReport& report : reports_.all) {
      EXPECT_EQ(report.broker_reason.view().find("canary"), std::string_view::npos);
    }
  }

  TestPki pki_;
  FakeOanda fake_;
  TestHttpsServer server_;
  InstrumentTable table_;
  QuoteBoard quotes_;
  Reports reports_;
  std::vector<std::string> lines_;
  std::unique_ptr<OandaBroker> broker_;
  OrderId next_id_ = 1;
};

TEST_F(OandaBrokerTest, StartsWarmWithTheAccountCheckedAndAFirstQuote) {
  start(settings());
  EXPECT_TRUE(broker_->ready());
  EXPECT_EQ(broker_->connection_stats().connections_established, 2u);
  const Quote quote = quotes_.read(0);
  EXPECT_EQ(quote.bid, decimal_literal("1.0846"));
  EXPECT_EQ(quote.ask, decimal_literal("1.08463"));
  EXPECT_TRUE(quotes_.read(1).empty()) << "BTC/USDT is not traded on this adapter";
  EXPECT_EQ(fake_.pricing_target(), std::string("/v3/accounts/") + kAccount + "/pricing?instruments=EUR_USD");
}

TEST_F(OandaBrokerTest, AMarketOrderThatFillsIsFilled) {
  start(settings());
  broker_->submit(market("fill-1"));
  ASSERT_TRUE(reported(1));
  const ExecutionReport& report = reports_.all[0];
  EXPECT_EQ(report.status, ExecStatus::filled);
  EXPECT_EQ(report.last_quantity, decimal_literal("1000"));
  EXPECT_EQ(report.last_price, decimal_literal("1.0846"));
  EXPECT_EQ(report.cumulative_quantity, decimal_literal("1000"));
  EXPECT_EQ(report.average_price, decimal_literal("1.0846"));
  EXPECT_TRUE(report.leaves_quantity.is_zero());
  EXPECT_EQ(report.client_order_id, std::string_view("fill-1"));
  EXPECT_FALSE(report.broker_order_id.empty());
}

TEST_F(OandaBrokerTest, ARestingOrderIsNewThenFilledFromTheTransactions) {
  start(settings());
  broker_->submit(limit("rest-1"));
  ASSERT_TRUE(reported(1));
  EXPECT_EQ(reports_.all[0].status, ExecStatus::new_order);
  EXPECT_EQ(reports_.all[0].leaves_quantity, decimal_literal("1000"));
  fake_.fill_resting("rest-1");
  ASSERT_TRUE(reported(2));
  EXPECT_EQ(reports_.all[1].status, ExecStatus::filled);
  EXPECT_EQ(reports_.all[1].last_price, decimal_literal("1.08455"));
  EXPECT_EQ(reports_.all[1].broker_order_id, reports_.all[0].broker_order_id);
}

TEST_F(OandaBrokerTest, ACancelledRestingOrderIsCanceled) {
  start(settings());
  const Order order = limit("rest-2");
  broker_->submit(order);
  ASSERT_TRUE(reported(1));
  CancelOrder cancel;
  cancel.order_id = order.order_id;
  cancel.client_order_id = order.client_order_id;
  broker_->cancel(cancel);
  ASSERT_TRUE(reported(2));
  EXPECT_EQ(reports_.all[1].status, ExecStatus::canceled);
  EXPECT_EQ(reports_.all[1].broker_reason, std::string_view("CLIENT_REQUEST"));
}

TEST_F(OandaBrokerTest, ABrokerRejectCarriesTheReasonCodeAndNeverTheBody) {
  start(settings());
  broker_->submit(market("reject-1"));
  ASSERT_TRUE(reported(1));
  EXPECT_EQ(reports_.all[0].status, ExecStatus::rejected);
  EXPECT_EQ(reports_.all[0].reason, Reason::BROKER_REJECTED);
  EXPECT_EQ(reports_.all[0].broker_reason, std::string_view("INSUFFICIENT_MARGIN"));
}

TEST_F(OandaBrokerTest, ForbiddenIsUnavailableWithAnAlert) {
  start(settings());
  broker_->submit(market("auth-1"));
  ASSERT_TRUE(reported(1));
  EXPECT_EQ(reports_.all[0].reason, Reason::BROKER_UNAVAILABLE);
  bool alerted = false;
  for (const auto& line : lines_) alerted |= line.find("ALERT") != std::string::npos;
  EXPECT_TRUE(alerted);
}

TEST_F(OandaBrokerTest, AWrongTokenIsDetectedAtStartAndOrdersAreUnavailable) {
  OandaSettings s = settings();
  s.token = security::Secret("canary-wrong-token");
  start(std::move(s));
  EXPECT_FALSE(broker_->ready());
  broker_->submit(market("fill-2"));
  ASSERT_TRUE(reported(1));
  EXPECT_EQ(reports_.all[0].reason, Reason::BROKER_UNAVAILABLE);
  EXPECT_EQ(reports_.all[0].broker_reason, std::string_view("UNAUTHORIZED"));
  EXPECT_EQ(fake_.orders_with("fill-2"), 0);
  for (const auto& line : lines_) EXPECT_EQ(line.find("canary-wrong-token"), std::string::npos) << line;
}

TEST_F(OandaBrokerTest, A429RejectsAndPausesEveryOrderUntilItPasses) {
  start(settings());
  broker_->submit(market("limit-1"));
  ASSERT_TRUE(reported(1));
  EXPECT_EQ(reports_.all[0].reason, Reason::BROKER_RATE_LIMITED);
  const int requests_before = fake_.requests();
  broker_->submit(market("fill-3"));
  ASSERT_TRUE(reported(2));
  EXPECT_EQ(reports_.all[1].reason, Reason::BROKER_RATE_LIMITED) << "sent during the pause";
  EXPECT_EQ(fake_.orders_with("fill-3"), 0);
  EXPECT_EQ(fake_.requests(), requests_before);
  // After the pause, orders go through again.
  const auto paused_at = std::chrono::steady_clock::now();
  std::size_t expected = 2;
  for (int i = 0; reports_.all.back().reason == Reason::BROKER_RATE_LIMITED; ++i) {
    ASSERT_LT(i, 100);
    const std::string id = "fill-r" + std::to_string(i);
    broker_->submit(market(id.c_str()));
    ASSERT_TRUE(reported(++expected));
    if (reports_.all.back().reason == Reason::BROKER_RATE_LIMITED) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
      poll_until([&] { return std::chrono::steady_clock::now() > until; });
    }
  }
  EXPECT_EQ(reports_.all.back().status, ExecStatus::filled);
  EXPECT_GE(std::chrono::steady_clock::now() - paused_at, std::chrono::milliseconds(250));
}

TEST_F(OandaBrokerTest, ALostReplyIsRecoveredFromTheTransactionsAndNeverResent) {
  start(settings());
  broker_->submit(market("lost-1"));
  // Found page by page: the create (NEW), then the fill.
  ASSERT_TRUE(poll_until([&] { return !reports_.all.empty() && is_terminal(reports_.all.back().status); }));
  EXPECT_EQ(reports_.all.back().status, ExecStatus::filled);
  EXPECT_EQ(reports_.all.back().last_quantity, decimal_literal("1000"));
  EXPECT_LE(reports_.all.size(), 2u);
  EXPECT_EQ(fake_.orders_with("lost-1"), 1);
  EXPECT_EQ(broker_->stats().unknown_fate, 1u);
  EXPECT_EQ(broker_->stats().recovered, 1u);
}

TEST_F(OandaBrokerTest, ACancelBeforeSendingNeverReachesTheBroker) {
  start(settings());
  // Both connections busy with slow replies: the third order waits in the
  // adapter's queue.
  broker_->submit(limit("slow-a"));
  broker_->submit(limit("slow-b"));
  const Order third = limit("rest-c");
  broker_->submit(third);
  CancelOrder cancel;
  cancel.order_id = third.order_id;
  cancel.client_order_id = third.client_order_id;
  broker_->cancel(cancel);
  ASSERT_TRUE(reported(3));
  ASSERT_TRUE(poll_until([&] { return reports_.all.size() == 3; }));
  bool canceled_locally = false;
  for (const auto& report : reports_.all) {
    if (report.client_order_id == std::string_view("rest-c")) {
      canceled_locally = report.status == ExecStatus::canceled && report.broker_reason == std::string_view("NOT_SENT");
    }
  }
  EXPECT_TRUE(canceled_locally);
  EXPECT_EQ(fake_.orders_with("rest-c"), 0);
}

TEST_F(OandaBrokerTest, StopCancelsOrdersStillWorking) {
  start(settings());
  broker_->submit(limit("rest-s"));
  ASSERT_TRUE(reported(1));
  broker_->stop();
  ASSERT_EQ(reports_.all.size(), 2u);
  EXPECT_EQ(reports_.all[1].status, ExecStatus::canceled);
  broker_.reset();
}

TEST(OandaSettingsCheck, RefusesMissingTokenBadAccountAndUnknownInstruments) {
  const InstrumentTable table({spec("EUR/USD", "0.00001")});
  OandaSettings s;
  s.account_id = kAccount;
  EXPECT_THROW(OandaBroker(table, s.clone()), std::invalid_argument);  // no token
  s.token = security::Secret("t");
  s.account_id = "bad id/";
  EXPECT_THROW(OandaBroker(table, s.clone()), std::invalid_argument);
  s.account_id = kAccount;
  s.instruments = {"GBP/USD"};
  EXPECT_THROW(OandaBroker(table, s.clone()), std::invalid_argument);
  s.instruments.clear();
  s.connection.base_url = "http://api-fxpractice.oanda.com";
  EXPECT_THROW(OandaBroker(table, s.clone()), std::invalid_argument);
}

}  // namespace
}  // namespace ordergate::adapters::oanda
