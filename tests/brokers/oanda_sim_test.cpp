// The gateway trading through the OANDA adapter against a real ordergate-sim:
// OANDA's own stories; those every REST broker shares are in rest_sim_test.cpp.

#include "brokers/broker_test_support.hpp"

namespace ordergate::brokers::testing {
namespace {

using OandaSim = RestSimTest<OandaSimVenue>;

TEST_F(OandaSim, ABrokerRejectIsBrokerRejectedWithOandasReason) {
  start();
  // The gateway's tick is finer than OANDA's: the broker refuses the precision.
  submit(limit("fx", "EUR/USD", Side::buy, "5000", "1.084005", "o-reject-1"));
  const auto reports = until_terminal("o-reject-1");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::rejected);
  EXPECT_EQ(reports.back().reason, Reason::BROKER_REJECTED);
  EXPECT_EQ(reports.back().broker_reason, std::string_view("PRICE_PRECISION_EXCEEDED"));
}

TEST_F(OandaSim, AnInsufficientMarginCancelCarriesTheReason) {
  start();
  submit(market("fx", "EUR/USD", Side::buy, "10000000", "o-margin-1"));
  const auto reports = until_terminal("o-margin-1");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::canceled);
  EXPECT_EQ(reports.back().broker_reason, std::string_view("INSUFFICIENT_MARGIN"));
}

// OANDA only for now: on Binance the adapter's background polls make an
// order often go out on a connection the server is just closing; it is then
// reported NOT_PLACED (never resent), which this story does not expect.
TEST_F(OandaSim, IdleClosesByTheServerAreReopenedWithoutLosingOrders) {
  start({"--idle-close-ms", "150"});
  for (int i = 0; i < 5; ++i) {
    // Each order goes out after the server closed an idle connection.
    const long long before = sim_stat("idle_closes");
    ASSERT_GE(before, 0);
    ASSERT_TRUE(eventually([&] { return sim_stat("idle_closes") > before; })) << logs_.dump();
    const std::string id = "o-idle-" + std::to_string(i);
    submit(market("fx", "EUR/USD", Side::buy, "1000", id));
    const auto reports = until_terminal(id);
    ASSERT_FALSE(reports.empty());
    EXPECT_EQ(reports.back().status, ExecStatus::filled) << logs_.dump();
    EXPECT_LE(sim_orders(id), 1);
  }
}

}  // namespace
}  // namespace ordergate::brokers::testing
