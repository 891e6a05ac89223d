#include "ordergate/adapters/binance/binance_broker.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "adapters/fake_binance.hpp"
#include "adapters/rest_broker_test_support.hpp"

// Binance's own stories (signing, weights and order counts, clock skew);
// those every REST broker shares are in rest_broker_test.cpp.

namespace ordergate::adapters::binance {
namespace {

using testing::BinanceVenue;
using testing::kSecret;
using testing::param;

using BinanceBrokerTest = adapters::testing::RestBrokerTest<BinanceVenue>;

TEST_F(BinanceBrokerTest, StartMeasuresTheClockOffsetToTheServer) {
  start(settings());
  EXPECT_TRUE(broker_->ready());
  EXPECT_LT(std::llabs(broker_->stats().clock_offset_ms), 1000);
}

TEST_F(BinanceBrokerTest, AnOrderIsSignedWithRecvWindowAndTimestampAndNeverCarriesTheSecret) {
  start(settings());
  const Order order = market("fill-1");
  broker_->submit(order);
  ASSERT_TRUE(reported(1));
  EXPECT_EQ(reports_.all[0].broker_order_id, std::string_view("100"));
  const std::string body = fake_.last_order_body();
  EXPECT_NE(body.find("newClientOrderId=" + venue_id(order) + "&"), std::string::npos) << body;
  EXPECT_EQ(body.find("fill-1"), std::string::npos) << "the strategy's id is not the venue's: " << body;
  EXPECT_NE(body.find("&recvWindow=5000&timestamp="), std::string::npos) << body;
  EXPECT_EQ(body.find(kSecret), std::string::npos) << "the secret signs, it is never sent";
}

TEST_F(BinanceBrokerTest, Minus1021IsRejectedAndTheClockSkewLogged) {
  start(settings());
  broker_->submit(market("skew-1"));
  ASSERT_TRUE(reported(1));
  EXPECT_EQ(reports_.all[0].broker_reason, std::string_view("-1021"));
  EXPECT_TRUE(logged("recvWindow"));
}

TEST_F(BinanceBrokerTest, OrdersBeyondTheOrderCountLimitAreRefusedLocally) {
  BinanceSettings s = settings();
  s.order_limit_10s = 3;
  start(std::move(s));
  for (int i = 0; i < 4; ++i) {
    const std::string id = "fill-c" + std::to_string(i);
    broker_->submit(market(id.c_str()));
    ASSERT_TRUE(reported(static_cast<std::size_t>(i + 1)));
  }
  EXPECT_EQ(reports_.all[2].status, ExecStatus::filled);
  EXPECT_EQ(reports_.all[3].reason, Reason::BROKER_RATE_LIMITED);
  EXPECT_EQ(reports_.all[3].broker_reason, std::string_view("ORDER_COUNT_LIMIT"));
  EXPECT_EQ(placed("fill-c3"), 0);
  EXPECT_EQ(broker_->stats().order_count, 3);
}

TEST_F(BinanceBrokerTest, AnOrderThatWaitedForAConnectionIsSignedWhenItIsSentNotBefore) {
  start(settings());
  broker_->submit(resting("slow-a"));
  broker_->submit(resting("slow-b"));
  const std::int64_t queued_ms = SystemClock::instance().wall_ns() / kNanosPerMilli;
  broker_->submit(market("fill-w"));  // waits ~300 ms for a connection
  ASSERT_TRUE(poll_until([&] { return reports_.all.size() >= 3; }));
  const std::string body = fake_.order_body("fill-w");
  ASSERT_FALSE(body.empty());
  const std::int64_t timestamp = std::stoll(param(body, "timestamp"));
  EXPECT_GE(timestamp - queued_ms, 250) << "signed before the wait: " << body;
}

TEST(BinanceSettingsCheck, RefusesMissingKeysAndBadLimits) {
  const InstrumentTable table({testing::binance_spec("BTC/USDT", "0.01", "0.001")});
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
