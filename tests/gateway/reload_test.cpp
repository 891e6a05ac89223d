#include "ordergate/gateway/gateway.hpp"

#include <gtest/gtest.h>

#include "gateway/test_support.hpp"

namespace ordergate {
namespace {

using testing::limit_order;
using testing::market_order;
using testing::test_config;

class ReloadTest : public ::testing::Test {
 protected:
  ReloadTest() : gateway_(test_config(), clock_) { gateway_.start(); }
  ManualClock clock_;
  Gateway gateway_;
};

TEST_F(ReloadTest, NewPermissionsApplyToOpenSessionsWithoutReconnecting) {
  Session bob = gateway_.open_session("bob");
  EXPECT_EQ(bob.submit(market_order("rl-1", Side::buy, "1000", "acc-b")).reason, Reason::ORDER_TYPE_NOT_PERMITTED);
  GatewayConfig config = test_config();
  config.principals[1].policy.order_types = {"limit", "market"};
  gateway_.reload(config);
  EXPECT_TRUE(bob.is_open());
  EXPECT_TRUE(bob.submit(market_order("rl-2", Side::buy, "1000", "acc-b")).accepted());
}

TEST_F(ReloadTest, UnchangedRateWindowsKeepTheirBudgetAndChangedOnesStartFresh) {
  Session alice = gateway_.open_session("alice");
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(alice.submit(market_order("b-" + std::to_string(i), i % 2 ? Side::sell : Side::buy, "1000")).accepted());
  }
  gateway_.reload(test_config());  // same 5/1s: still exhausted
  EXPECT_EQ(alice.submit(market_order("b-5", Side::buy, "1000")).reason, Reason::RATE_LIMITED);
  GatewayConfig config = test_config();
  config.principals[0].rate_limits = {"10/1s"};
  gateway_.reload(config);
  EXPECT_TRUE(alice.submit(market_order("b-5", Side::buy, "1000")).accepted());
}

TEST_F(ReloadTest, BadConfigurationIsRefusedAndTheOldOneStays) {
  Session bob = gateway_.open_session("bob");
  GatewayConfig broken = test_config();
  broken.principals[1].rate_limits = {"lots/1s"};
  EXPECT_THROW(gateway_.reload(broken), ConfigError);
  GatewayConfig more_instruments = test_config();
  more_instruments.instruments.push_back(testing::test_instrument("GBP/USD", "0.00001", "1000000"));
  EXPECT_THROW(gateway_.reload(more_instruments), ConfigError);
  GatewayConfig other_capacity = test_config();
  other_capacity.order_capacity = 8;
  EXPECT_THROW(gateway_.reload(other_capacity), ConfigError);
  // still the old rules: limit orders only
  EXPECT_EQ(bob.submit(market_order("bad-1", Side::buy, "1000", "acc-b")).reason, Reason::ORDER_TYPE_NOT_PERMITTED);
  EXPECT_TRUE(bob.submit(limit_order("bad-2", Side::buy, "1.08000", "1000", "acc-b")).accepted());
}

TEST_F(ReloadTest, RemovedPrincipalLosesItsSessionsAndAddedOneCanConnect) {
  Session bob = gateway_.open_session("bob");
  GatewayConfig config = test_config();
  PrincipalConfig dave = config.principals[1];
  dave.policy.name = "dave";
  config.principals.erase(config.principals.begin() + 1);  // bob removed
  config.principals.push_back(dave);
  gateway_.reload(config);
  EXPECT_EQ(bob.submit(limit_order("gone-1", Side::buy, "1.08000", "1000", "acc-b")).reason, Reason::UNAUTHENTICATED);
  EXPECT_THROW((void)gateway_.open_session("bob"), std::invalid_argument);
  Session dave_session = gateway_.open_session("dave");
  EXPECT_TRUE(dave_session.submit(limit_order("new-1", Side::buy, "1.08000", "1000", "acc-b")).accepted());
  // alice kept her id and her session
  Session alice = gateway_.open_session("alice");
  EXPECT_TRUE(alice.submit(market_order("a-1", Side::buy, "1000")).accepted());
}

TEST_F(ReloadTest, InstrumentRiskLimitsCanBeTightened) {
  Session alice = gateway_.open_session("alice");
  GatewayConfig config = test_config();
  config.instruments[0].max_order_quantity = decimal_literal("500");
  gateway_.reload(config);
  EXPECT_EQ(alice.submit(market_order("lim-1", Side::buy, "1000")).reason, Reason::MAX_QUANTITY_EXCEEDED);
  EXPECT_TRUE(alice.submit(market_order("lim-2", Side::buy, "500")).accepted());
}

}  // namespace
}  // namespace ordergate
