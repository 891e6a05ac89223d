// The gateway trading through the Binance adapter against a real
// ordergate-sim: Binance's own stories; those every REST broker shares are in
// rest_sim_test.cpp.

#include "brokers/broker_test_support.hpp"

namespace ordergate::brokers::testing {
namespace {

using BinanceSim = RestSimTest<BinanceSimVenue>;

TEST_F(BinanceSim, InsufficientBalanceIsBrokerRejectedMinus2010) {
  start();
  submit(limit("crypto", "BTC/USDT", Side::buy, "20", "64000.00", "b-reject-1"));
  const auto reports = until_terminal("b-reject-1");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::rejected);
  EXPECT_EQ(reports.back().reason, Reason::BROKER_REJECTED);
  EXPECT_EQ(reports.back().broker_reason, std::string_view("-2010")) << logs_.dump();
  EXPECT_EQ(sim_orders("b-reject-1"), 0);
}

TEST_F(BinanceSim, TheOrderCountIsTrackedAndOrdersBeyondItAreRefusedBeforeTheBrokerSaysNo) {
  start({"--binance-order-limit", "5", "--binance-order-window-ms", "10000"},
        [](adapters::binance::BinanceSettings& s) { s.order_limit_10s = 5; });
  for (int i = 0; i < 6; ++i) {
    const std::string id = "b-count-" + std::to_string(i);
    submit(market("crypto", "BTC/USDT", Side::buy, "0.001", id));
    const auto reports = until_terminal(id);
    ASSERT_FALSE(reports.empty());
    if (i < 5) {
      EXPECT_EQ(reports.back().status, ExecStatus::filled) << i << logs_.dump();
    } else {
      EXPECT_EQ(reports.back().reason, Reason::BROKER_RATE_LIMITED);
      EXPECT_EQ(reports.back().broker_reason, std::string_view("ORDER_COUNT_LIMIT"));
      EXPECT_EQ(sim_orders(id), 0);
    }
  }
  EXPECT_FALSE(logs_.contains("HTTP 429")) << logs_.dump();
}

TEST_F(BinanceSim, ClockSkewIsLoggedAtStart) {
  // Signed requests are refused at this skew: the account is never reconciled.
  start({"--binance-clock-offset-ms", "-20000"}, {}, /*expect_ready=*/false);
  EXPECT_TRUE(logs_.contains("ms off Binance's server time")) << logs_.dump();
}

}  // namespace
}  // namespace ordergate::brokers::testing
