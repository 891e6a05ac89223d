// The trading day (day_start, with its time zone's daylight saving time)
// and the per-principal daily limits: max_orders_per_day and
// max_cancels_per_day, which roll with the day.

#include <gtest/gtest.h>

#include <string>

#include "gateway/test_support.hpp"
#include "ordergate/gateway/gateway.hpp"
#include "trading_day.hpp"

namespace ordergate {
namespace {

using testing::limit_order;
using testing::market_order;
using testing::test_config;
using testing::wait_for_reports;
using testing::wait_until;

constexpr std::int64_t kJan15_2159_59_Utc = 1'768'514'399 * kNanosPerSecond;  // 16:59:59 in New York (EST)
constexpr std::int64_t kJul15_2059_59_Utc = 1'784'149'199 * kNanosPerSecond;  // 16:59:59 in New York (EDT)

TEST(TradingDay, StartsAtFivePmNewYorkTimeWinterAndSummer) {
  const detail::TradingDay day("17:00 America/New_York");
  // Winter: 17:00 EST is 22:00 UTC.
  EXPECT_EQ(day.day_of(kJan15_2159_59_Utc), 20467);  // the day that started on the 14th
  EXPECT_EQ(day.day_of(kJan15_2159_59_Utc + kNanosPerSecond), 20468);
  // Summer: 17:00 EDT is 21:00 UTC; the same rule follows the clocks.
  EXPECT_EQ(day.day_of(kJul15_2059_59_Utc), 20648);
  EXPECT_EQ(day.day_of(kJul15_2059_59_Utc + kNanosPerSecond), 20649);
  // UTC midnight: whole days since 1970.
  const detail::TradingDay utc("00:00 UTC");
  EXPECT_EQ(utc.day_of(0), 0);
  EXPECT_EQ(utc.day_of(-1), -1);
  EXPECT_EQ(utc.day_of(86'400 * kNanosPerSecond), 1);
}

TEST(TradingDay, AMalformedStartOrAnUnknownZoneIsRefusedSayingWhy) {
  auto error_of = [](const char* spec) -> std::string {
    try {
      detail::TradingDay day(spec);
    } catch (const ConfigError& error) {
      return error.what();
    }
    return "(accepted)";
  };
  EXPECT_NE(error_of("17:00 Mars/Olympus_Mons").find("unknown time zone 'Mars/Olympus_Mons'"), std::string::npos);
  EXPECT_NE(error_of("25:00 UTC").find("00:00 to 23:59"), std::string::npos);
  EXPECT_NE(error_of("17:60 UTC").find("00:00 to 23:59"), std::string::npos);
  for (const char* malformed : {"1700 UTC", "17:00", "", "17:00  UTC", "5:00 UTC"}) {
    EXPECT_NE(error_of(malformed).find("day_start '"), std::string::npos) << malformed;
  }
  EXPECT_EQ(error_of("09:30 Europe/London"), "(accepted)");
}

class DailyLimits : public ::testing::Test {
 protected:
  DailyLimits() : clock_(1'000 * kNanosPerSecond, kJan15_2159_59_Utc - kNanosPerSecond / 2) {
    GatewayConfig config = test_config();
    config.principals[0].max_orders_per_day = 2;
    config.principals[0].max_cancels_per_day = 1;
    config.principals[0].rate_limits = {"100/1s"};
    config.principals[0].cancel_rate_limits = {"100/1s"};
    gateway_ = std::make_unique<Gateway>(config, clock_);
    gateway_->start();
  }

  ManualClock clock_;
  std::unique_ptr<Gateway> gateway_;
};

TEST_F(DailyLimits, OrdersPastTheDailyCountAreRefusedUntilTheDayRollsAtFivePmNewYork) {
  Session alice = gateway_->open_session("alice");
  ASSERT_TRUE(alice.submit(market_order("d-1")).accepted());
  // A refused order uses none of the count.
  EXPECT_EQ(alice.submit(market_order("d-x", Side::buy, "0")).reason, Reason::INVALID_QUANTITY);
  ASSERT_TRUE(alice.submit(market_order("d-2")).accepted());
  EXPECT_EQ(alice.submit(market_order("d-3")).reason, Reason::DAILY_ORDER_LIMIT);
  // Another principal has its own count (bob has none).
  Session bob = gateway_->open_session("bob");
  EXPECT_TRUE(bob.submit(limit_order("b-1", Side::buy, "1.08000", "10000", "acc-b")).accepted());

  // Still 16:59:59.5 in New York: the same day.
  clock_.advance(kNanosPerSecond);
  EXPECT_EQ(alice.submit(market_order("d-4")).reason, Reason::DAILY_ORDER_LIMIT);
  // 17:00:01.5: a new trading day, within a second.
  clock_.advance(2 * kNanosPerSecond);
  int attempt = 0;
  ASSERT_TRUE(wait_until([&] {
    const Reason reason = alice.submit(market_order("n-" + std::to_string(++attempt))).reason;
    EXPECT_TRUE(reason == Reason::OK || reason == Reason::DAILY_ORDER_LIMIT) << reason_name(reason);
    return reason == Reason::OK;
  }));
  ASSERT_TRUE(alice.submit(market_order("n-last")).accepted());
  EXPECT_EQ(alice.submit(market_order("n-over")).reason, Reason::DAILY_ORDER_LIMIT);
}

TEST_F(DailyLimits, CancelsPastTheDailyCountAreRefusedButAnOperatorsCancelAllStillReachesTheOrders) {
  Session alice = gateway_->open_session("alice");
  ASSERT_TRUE(alice.submit(limit_order("r-1", Side::buy, "1.08000")).accepted());
  ASSERT_TRUE(alice.submit(limit_order("r-2", Side::buy, "1.08001")).accepted());
  ASSERT_EQ(wait_for_reports(alice, 2).size(), 2u);
  // A refused cancel uses none of the count.
  EXPECT_EQ(alice.cancel("no-such-order").reason, Reason::UNKNOWN_ORDER);
  ASSERT_TRUE(alice.cancel("r-1").accepted());
  const auto first = wait_for_reports(alice, 1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].client_order_id.view(), "r-1");
  EXPECT_EQ(first[0].status, ExecStatus::canceled);
  EXPECT_EQ(alice.cancel("r-2").reason, Reason::DAILY_CANCEL_LIMIT);
  // Risk is never stuck: a cancel-all (an operator's, a halt's) is not counted.
  EXPECT_EQ(gateway_->cancel_orders(CancelFilter{}), 1u);
  const auto second = wait_for_reports(alice, 1);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].client_order_id.view(), "r-2");
  EXPECT_EQ(second[0].status, ExecStatus::canceled);
}

TEST(DailyLimitsConfig, AnUnknownZoneStopsTheGatewayFromBeingBuilt) {
  ManualClock clock;
  GatewayConfig config = test_config();
  config.day_start = "17:00 Atlantis/Capital";
  try {
    Gateway gateway(config, clock);
    FAIL() << "built with an unknown zone";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("unknown time zone 'Atlantis/Capital'"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace ordergate
