#include "ordergate/adapters/binance/binance_broker.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "adapters/tls_test_support.hpp"
#include "ordergate/adapters/binance/binance_protocol.hpp"

namespace ordergate::adapters::binance {
namespace {

using ordergate::testing::TestHttpsServer;
using ordergate::testing::TestPki;
using ordergate::testing::TestReply;
using ordergate::testing::TestRequest;

constexpr const char* kKey = "canary-binance-key-31a";
constexpr const char* kSecret = "canary-binance-secret-8d2";

std::string param(const std::string& text, const std::string& name) {
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = std::min(text.find('&', at), text.size());
    const std::string pair = text.substr(at, end - at);
    if (pair.rfind(name + "=", 0) == 0) return pair.substr(name.size() + 1);
    at = end + 1;
  }
  return {};
}

/// A scripted Binance: the fate of an order depends on its client id prefix
/// (fill-, rest-, slow-, reject-, skew-, limit-, lost-); signatures are checked.
class FakeBinance {
 public:
  TestReply handle(const TestRequest& request) {
    std::lock_guard lock(mutex_);
    ++requests_;
    const std::string target(request.target());
    const std::string path = target.substr(0, target.find('?'));
    const std::string query = target.find('?') == std::string::npos ? "" : target.substr(target.find('?') + 1);
    const std::string total = query + request.body();
    TestReply reply = route(request, path, total);
    reply.headers.push_back({"X-MBX-USED-WEIGHT-1M", std::to_string(weight_)});
    if (path == "/api/v3/order" && request.method() == boost::beast::http::verb::post) {
      reply.headers.push_back({"X-MBX-ORDER-COUNT-10S", std::to_string(order_count_)});
    }
    return reply;
  }

  int requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  int placed(const std::string& client) {
    std::lock_guard lock(mutex_);
    return static_cast<int>(orders_.count(client));
  }
  void fill(const std::string& client) {
    std::lock_guard lock(mutex_);
    Stored& order = orders_.at(client);
    order.status = "FILLED";
    order.executed = "0.5";
    order.quote = "15000.25";
  }
  std::string last_order_body() {
    std::lock_guard lock(mutex_);
    return last_order_body_;
  }
  std::string order_body(const std::string& client) {
    std::lock_guard lock(mutex_);
    return bodies_[client];
  }

 private:
  struct Stored {
    std::uint64_t id = 0;
    std::string status;
    std::string executed = "0";
    std::string quote = "0";
  };

  static TestReply error(unsigned status, int code) {
    TestReply reply;
    reply.status = status;
    reply.body = R"({"code":)" + std::to_string(code) + R"(,"msg":"echo )" + kSecret + R"("})";
    return reply;
  }

  std::string order_json(const std::string& client, const Stored& order) const {
    return R"({"symbol":"BTCUSDT","orderId":)" + std::to_string(order.id) + R"(,"clientOrderId":")" + client +
           R"(","transactTime":1700000000000,"executedQty":")" + order.executed + R"(","cummulativeQuoteQty":")" +
           order.quote + R"(","status":")" + order.status + R"(","fills":[]})";
  }

  TestReply route(const TestRequest& request, const std::string& path, const std::string& total) {
    using boost::beast::http::verb;
    TestReply reply;
    if (path == "/api/v3/time") {
      reply.body = R"({"serverTime":)" +
                   std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count()) +
                   "}";
      return reply;
    }
    if (path == "/api/v3/ticker/bookTicker") {
      reply.body = R"({"symbol":"BTCUSDT","bidPrice":"30000.10","bidQty":"1","askPrice":"30000.20","askQty":"1"})";
      return reply;
    }
    if (path == "/api/v3/ping") return reply;
    // Everything else is signed.
    if (request["X-MBX-APIKEY"] != kKey) return error(401, -2015);
    const std::size_t at = total.rfind("&signature=");
    if (at == std::string::npos || sign(kSecret, total.substr(0, at)) != total.substr(at + 11)) {
      return error(400, -1022);
    }
    if (path == "/api/v3/account") {
      reply.body = R"({"balances":[]})";
      return reply;
    }
    if (path != "/api/v3/order") return error(404, -1000);
    if (request.method() == verb::post) return place(total);
    const std::string client = param(total, "origClientOrderId");
    const auto it = orders_.find(client);
    if (request.method() == verb::get) {
      if (it == orders_.end()) return error(400, -2013);
      reply.body = order_json(client, it->second);
      return reply;
    }
    if (it == orders_.end() || it->second.status != "NEW") return error(400, -2011);
    it->second.status = "CANCELED";
    reply.body = order_json(client, it->second);
    return reply;
  }

  TestReply place(const std::string& body) {
    last_order_body_ = body;
    bodies_[param(body, "newClientOrderId")] = body;
    const std::string client = param(body, "newClientOrderId");
    const std::string prefix = client.substr(0, client.find('-'));
    if (prefix == "reject") return error(400, -2010);
    if (prefix == "skew") return error(400, -1021);
    if (prefix == "limit") {
      TestReply reply = error(429, -1003);
      reply.headers.push_back({"Retry-After", "1"});
      return reply;
    }
    ++order_count_;
    Stored order;
    order.id = next_id_++;
    if (prefix == "fill" || prefix == "lost") {
      order.status = "FILLED";
      order.executed = "0.003";
      order.quote = "90.0006";  // 0.001 @ 30000.10 + 0.002 @ 30000.25
    } else {
      order.status = "NEW";
    }
    orders_[client] = order;
    TestReply reply;
    if (prefix == "lost") return error(503, 0);
    reply.body = order_json(client, order);
    if (prefix == "slow") reply.delay = std::chrono::milliseconds(300);  // holds its connection
    return reply;
  }

  std::mutex mutex_;
  std::map<std::string, Stored> orders_;
  std::uint64_t next_id_ = 100;
  int requests_ = 0;
  int weight_ = 10;
  int order_count_ = 0;
  std::string last_order_body_;
  std::map<std::string, std::string> bodies_;
};

struct Reports final : ExecutionSink {
  void on_execution(const ExecutionReport& report) noexcept override { all.push_back(report); }
  std::vector<ExecutionReport> all;
};

InstrumentSpec spec(const char* name, const char* tick, const char* lot) {
  InstrumentSpec s;
  s.name = name;
  s.tick_size = decimal_literal(tick);
  s.lot_step = decimal_literal(lot);
  s.min_quantity = decimal_literal(lot);
  s.max_quantity = decimal_literal("100");
  s.max_order_quantity = decimal_literal("10");
  s.max_notional = decimal_literal("1000000");
  s.max_position = decimal_literal("100");
  s.price_band_bps = 500;
  s.max_open_orders = 100;
  s.max_quote_age_ns = kNanosPerSecond;
  return s;
}

class BinanceBrokerTest : public ::testing::Test {
 protected:
  BinanceBrokerTest()
      : pki_("binance"),
        server_(pki_.localhost, [this](const TestRequest& request) { return fake_.handle(request); }),
        table_({spec("BTC/USDT", "0.01", "0.001")}),
        quotes_(table_.size()) {}

  BinanceSettings settings() {
    BinanceSettings s;
    s.connection.base_url = "https://localhost:" + std::to_string(server_.port());
    s.connection.ca_file = pki_.ca_file;
    s.api_key = security::Secret(kKey);
    s.secret_key = security::Secret(kSecret);
    s.order_poll_interval_ns = 20 * kNanosPerMilli;
    s.unknown_fate_window_ns = 200 * kNanosPerMilli;
    s.log = [this](tls::LogLevel, std::string_view line) { lines_.emplace_back(line); };
    return s;
  }

  void start(BinanceSettings s) {
    broker_ = std::make_unique<BinanceBroker>(table_, std::move(s));
    broker_->start(reports_, quotes_, SystemClock::instance());
  }

  Order order(const char* client, OrderType type = OrderType::market) {
    Order o;
    o.order_id = next_id_++;
    o.side = Side::buy;
    o.type = type;
    o.time_in_force = type == OrderType::market ? TimeInForce::ioc : TimeInForce::gtc;
    o.quantity = decimal_literal(type == OrderType::market ? "0.003" : "0.5");
    if (type == OrderType::limit) o.price = decimal_literal("30000");
    o.client_order_id.assign(client);
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
      EXPECT_EQ(line.find(kKey), std::string::npos) << line;
      EXPECT_EQ(line.find(kSecret), std::string::npos) << line;
    }
    for (const ExecutionReport& report : reports_.all) {
      EXPECT_EQ(report.broker_reason.view().find("canary"), std::string_view::npos);
    }
  }

  TestPki pki_;
  FakeBinance fake_;
  TestHttpsServer server_;
  InstrumentTable table_;
  QuoteBoard quotes_;
  Reports reports_;
  std::vector<std::string> lines_;
  std::unique_ptr<BinanceBroker> broker_;
  OrderId next_id_ = 1;
};

TEST_F(BinanceBrokerTest, StartsWarmWithKeysCheckedAndAFirstQuote) {
  start(settings());
  EXPECT_TRUE(broker_->ready());
  EXPECT_EQ(broker_->connection_stats().connections_established, 2u);
  EXPECT_EQ(quotes_.read(0).bid, decimal_literal("30000.1"));
  EXPECT_EQ(quotes_.read(0).ask, decimal_literal("30000.2"));
  EXPECT_LT(std::llabs(broker_->stats().clock_offset_ms), 1000);
}

TEST_F(BinanceBrokerTest, AFilledOrderReportsTheExactAveragePrice) {
  start(settings());
  broker_->submit(order("fill-1"));
  ASSERT_TRUE(reported(1));
  const ExecutionReport& report = reports_.all[0];
  EXPECT_EQ(report.status, ExecStatus::filled);
  EXPECT_EQ(report.last_quantity, decimal_literal("0.003"));
  EXPECT_EQ(report.last_price, decimal_literal("30000.2"));
  EXPECT_EQ(report.average_price, decimal_literal("30000.2"));
  EXPECT_EQ(report.broker_order_id, std::string_view("100"));
  const std::string body = fake_.last_order_body();
  EXPECT_NE(body.find("newClientOrderId=fill-1"), std::string::npos) << body;
  EXPECT_NE(body.find("&recvWindow=5000&timestamp="), std::string::npos) << body;
  EXPECT_EQ(body.find(kSecret), std::string::npos) << "the secret signs, it is never sent";
}

TEST_F(BinanceBrokerTest, ARestingOrderIsNewThenFilledWhenPolled) {
  start(settings());
  broker_->submit(order("rest-1", OrderType::limit));
  ASSERT_TRUE(reported(1));
  EXPECT_EQ(reports_.all[0].status, ExecStatus::new_order);
  fake_.fill("rest-1");
  ASSERT_TRUE(reported(2));
  EXPECT_EQ(reports_.all[1].status, ExecStatus::filled);
  EXPECT_EQ(reports_.all[1].last_quantity, decimal_literal("0.5"));
  EXPECT_EQ(reports_.all[1].last_price, decimal_literal("30000.5"));
}

TEST_F(BinanceBrokerTest, ACancelledOrderIsCanceled) {
  start(settings());
  const Order o = order("rest-2", OrderType::limit);
  broker_->submit(o);
  ASSERT_TRUE(reported(1));
  CancelOrder cancel;
  cancel.order_id = o.order_id;
  cancel.client_order_id = o.client_order_id;
  broker_->cancel(cancel);
  ASSERT_TRUE(reported(2));
  EXPECT_EQ(reports_.all[1].status, ExecStatus::canceled);
}

TEST_F(BinanceBrokerTest, Minus2010IsBrokerRejectedWithTheCode) {
  start(settings());
  broker_->submit(order("reject-1"));
  ASSERT_TRUE(reported(1));
  EXPECT_EQ(reports_.all[0].status, ExecStatus::rejected);
  EXPECT_EQ(reports_.all[0].reason, Reason::BROKER_REJECTED);
  EXPECT_EQ(reports_.all[0].broker_reason, std::string_view("-2010"));
}

TEST_F(BinanceBrokerTest, Minus1021IsRejectedAndTheClockSkewLogged) {
  start(settings());
  broker_->submit(order("skew-1"));
  ASSERT_TRUE(reported(1));
  EXPECT_EQ(reports_.all[0].broker_reason, std::string_view("-1021"));
  bool logged = false;
  for (const auto& line : lines_) logged |= line.find("recvWindow") != std::string::npos;
  EXPECT_TRUE(logged);
}

TEST_F(BinanceBrokerTest, AWrongSecretIsDetectedAtStart) {
  BinanceSettings s = settings();
  s.secret_key = security::Secret("canary-wrong-secret");
  start(std::move(s));
  EXPECT_FALSE(broker_->ready());
  broker_->submit(order("fill-2"));
  ASSERT_TRUE(reported(1));
  EXPECT_EQ(reports_.all[0].reason, Reason::BROKER_UNAVAILABLE);
  EXPECT_EQ(fake_.placed("fill-2"), 0);
  bool alerted = false;
  for (const auto& line : lines_) {
    alerted |= line.find("ALERT") != std::string::npos;
    EXPECT_EQ(line.find("canary-wrong-secret"), std::string::npos);
  }
  EXPECT_TRUE(alerted);
}

TEST_F(BinanceBrokerTest, RetryAfterIsHonouredWithNoRequestUntilItPasses) {
  start(settings());
  broker_->submit(order("limit-1"));
  ASSERT_TRUE(reported(1));
  EXPECT_EQ(reports_.all[0].reason, Reason::BROKER_RATE_LIMITED);
  const auto limited_at = std::chrono::steady_clock::now();
  const int requests = fake_.requests();
  broker_->submit(order("fill-3"));
  ASSERT_TRUE(reported(2));
  EXPECT_EQ(reports_.all[1].reason, Reason::BROKER_RATE_LIMITED);
  // Half a second of polling: still nothing sent.
  poll_until([&] { return std::chrono::steady_clock::now() - limited_at > std::chrono::milliseconds(500); });
  EXPECT_EQ(fake_.requests(), requests);
  ASSERT_TRUE(poll_until([&] { return fake_.requests() > requests; }));
  EXPECT_GE(std::chrono::steady_clock::now() - limited_at, std::chrono::seconds(1));
}

TEST_F(BinanceBrokerTest, OrdersBeyondTheOrderCountLimitAreRefusedLocally) {
  BinanceSettings s = settings();
  s.order_limit_10s = 3;
  start(std::move(s));
  for (int i = 0; i < 4; ++i) {
    const std::string id = "fill-c" + std::to_string(i);
    broker_->submit(order(id.c_str()));
    ASSERT_TRUE(reported(static_cast<std::size_t>(i + 1)));
  }
  EXPECT_EQ(reports_.all[2].status, ExecStatus::filled);
  EXPECT_EQ(reports_.all[3].reason, Reason::BROKER_RATE_LIMITED);
  EXPECT_EQ(reports_.all[3].broker_reason, std::string_view("ORDER_COUNT_LIMIT"));
  EXPECT_EQ(fake_.placed("fill-c3"), 0);
  EXPECT_EQ(broker_->stats().order_count, 3);
}

TEST_F(BinanceBrokerTest, A5xxIsLookedUpAndNeverResent) {
  start(settings());
  broker_->submit(order("lost-1"));
  ASSERT_TRUE(reported(1));
  EXPECT_EQ(reports_.all[0].status, ExecStatus::filled);
  EXPECT_EQ(fake_.placed("lost-1"), 1);
  EXPECT_EQ(broker_->stats().unknown_fate, 1u);
  EXPECT_EQ(broker_->stats().recovered, 1u);
  EXPECT_EQ(broker_->stats().orders_sent, 1u);
}

TEST_F(BinanceBrokerTest, AnOrderThatWaitedForAConnectionIsSignedWhenItIsSentNotBefore) {
  start(settings());
  broker_->submit(order("slow-a", OrderType::limit));
  broker_->submit(order("slow-b", OrderType::limit));
  const std::int64_t queued_ms = SystemClock::instance().wall_ns() / kNanosPerMilli;
  broker_->submit(order("fill-w"));  // waits ~300 ms for a connection
  ASSERT_TRUE(poll_until([&] { return reports_.all.size() >= 3; }));
  const std::string body = fake_.order_body("fill-w");
  ASSERT_FALSE(body.empty());
  const std::int64_t timestamp = std::stoll(param(body, "timestamp"));
  EXPECT_GE(timestamp - queued_ms, 250) << "signed before the wait: " << body;
}

TEST(BinanceSettingsCheck, RefusesMissingKeysAndBadLimits) {
  const InstrumentTable table({spec("BTC/USDT", "0.01", "0.001")});
  BinanceSettings s;
  EXPECT_THROW(BinanceBroker(table, s.clone()), std::invalid_argument);
  s.api_key = security::Secret("k");
  s.secret_key = security::Secret("s");
  s.recv_window_ms = 70000;
  EXPECT_THROW(BinanceBroker(table, s.clone()), std::invalid_argument);
  s.recv_window_ms = 5000;
  s.symbol_map = {{"BTC/USDT", "btc-usdt"}};
  EXPECT_THROW(BinanceBroker(table, s.clone()), std::invalid_argument);
}

}  // namespace
}  // namespace ordergate::adapters::binance
