// The gateway trading through the OANDA adapter against a real ordergate-sim.

#include "brokers/broker_test_support.hpp"

namespace ordergate::brokers::testing {
namespace {

using adapters::oanda::make_oanda_factory;

class OandaSim : public BrokerSimTest {
 protected:
  void start(std::vector<std::string> sim_args = {}) {
    sim_args.insert(sim_args.begin(), {"--venues", "oanda"});
    start_sim(std::move(sim_args));
    start_gateway(gateway_config(make_oanda_factory(oanda_settings()), nullptr));
  }
};

TEST_F(OandaSim, AMarketOrderIsFilledAtTheAsk) {
  start();
  submit(market("fx", "EUR/USD", Side::buy, "10000", "o-fill-1"));
  const auto reports = until_terminal("o-fill-1");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::filled) << logs_.dump();
  EXPECT_EQ(reports.back().last_quantity, decimal_literal("10000"));
  EXPECT_EQ(reports.back().last_price, decimal_literal("1.0846"));
  EXPECT_FALSE(reports.back().broker_order_id.empty());
  EXPECT_EQ(gateway_->exposure("fx", "EUR/USD").position, decimal_literal("10000"));
  EXPECT_EQ(sim_orders("o-fill-1"), 1);
}

TEST_F(OandaSim, ARestingLimitOrderIsNewThenFilledWhenThePriceComesToIt) {
  start();
  submit(limit("fx", "EUR/USD", Side::buy, "5000", "1.0843", "o-rest-1"));
  ASSERT_TRUE(wait_status("o-rest-1", ExecStatus::new_order)) << logs_.dump();
  set_price("oanda", "EUR_USD", "1.08420", "1.08428");
  const auto reports = until_terminal("o-rest-1");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::filled) << logs_.dump();
  EXPECT_EQ(reports.back().last_quantity, decimal_literal("5000"));
}

TEST_F(OandaSim, ACancelledOrderIsCanceled) {
  start();
  submit(limit("fx", "EUR/USD", Side::buy, "5000", "1.0840", "o-cancel-1"));
  ASSERT_TRUE(wait_status("o-cancel-1", ExecStatus::new_order)) << logs_.dump();
  ASSERT_TRUE(session_.cancel("o-cancel-1").accepted());
  const auto reports = until_terminal("o-cancel-1");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::canceled) << logs_.dump();
  EXPECT_EQ(reports.back().broker_reason, std::string_view("CLIENT_REQUEST"));
}

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

TEST_F(OandaSim, A5xxAfterPlacingLeavesExactlyOneOrderAtTheBroker) {
  start({"--error-first", "1", "--error-after-place"});
  submit(market("fx", "EUR/USD", Side::sell, "2000", "o-5xx-1"));
  const auto reports = until_terminal("o-5xx-1");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::filled) << logs_.dump();
  EXPECT_EQ(sim_orders("o-5xx-1"), 1);
  EXPECT_TRUE(logs_.contains("fate is unknown"));
}

TEST_F(OandaSim, A5xxBeforePlacingIsReportedNotPlacedAndNothingIsAtTheBroker) {
  start({"--error-first", "1"});
  submit(market("fx", "EUR/USD", Side::sell, "2000", "o-5xx-2"));
  const auto reports = until_terminal("o-5xx-2");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::rejected);
  EXPECT_EQ(reports.back().reason, Reason::BROKER_UNAVAILABLE);
  EXPECT_EQ(reports.back().broker_reason, std::string_view("NOT_PLACED"));
  EXPECT_EQ(sim_orders("o-5xx-2"), 0);
}

TEST_F(OandaSim, A429PausesAndOrdersGoThroughAfterwards) {
  start({"--oanda-rate-limit", "3"});
  bool limited = false;
  bool filled_after = false;
  std::chrono::steady_clock::time_point limited_at;
  for (int i = 0; i < 200 && !(limited && filled_after); ++i) {
    const std::string id = "o-429-" + std::to_string(i);
    submit(market("fx", "EUR/USD", Side::buy, "1000", id));
    const auto reports = until_terminal(id);
    ASSERT_FALSE(reports.empty());
    if (reports.back().reason == Reason::BROKER_RATE_LIMITED) {
      if (!limited) limited_at = std::chrono::steady_clock::now();
      limited = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the pause lasts about a second
    }
    if (limited && reports.back().status == ExecStatus::filled) filled_after = true;
  }
  EXPECT_TRUE(limited) << logs_.dump();
  EXPECT_TRUE(filled_after) << logs_.dump();
  // The simulator sends no Retry-After: the adapter pauses a full second.
  EXPECT_GE(std::chrono::steady_clock::now() - limited_at, std::chrono::milliseconds(900));
  EXPECT_TRUE(logs_.contains("rate limited by OANDA"));
}

TEST_F(OandaSim, AWrongTokenMakesOrdersUnavailableWithAnAlert) {
  start_sim({"--venues", "oanda"});
  auto settings = oanda_settings();
  settings.token = security::Secret("canary-wrong-token-0000");
  start_gateway(gateway_config(make_oanda_factory(std::move(settings)), nullptr));
  const Verdict verdict = session_.submit(market("fx", "EUR/USD", Side::buy, "1000", "o-auth-1"));
  // Without prices (the pricing request is refused too) the guards refuse first.
  EXPECT_EQ(verdict.reason, Reason::NO_REFERENCE_PRICE);
  EXPECT_TRUE(logs_.contains("ALERT: OANDA refused the credentials")) << logs_.dump();
  for (const auto& line : logs_.lines()) EXPECT_EQ(line.find("canary-wrong-token"), std::string::npos) << line;
}

TEST_F(OandaSim, KilledAndRestartedOnTheSamePortTheAdapterReconnectsAndCarriesOn) {
  TempDir keys;
  start_sim({"--venues", "oanda", "--write-ca", keys.file("ca.pem"), "--write-ca-key", keys.file("ca.key")});
  const std::uint16_t port = sim_->port();
  start_gateway(gateway_config(make_oanda_factory(oanda_settings()), nullptr));
  submit(market("fx", "EUR/USD", Side::buy, "1000", "o-before"));
  ASSERT_EQ(until_terminal("o-before").back().status, ExecStatus::filled);

  ::kill(sim_->pid(), SIGKILL);
  sim_->stop();
  // While it is down, orders are refused at once (no connection), never queued.
  bool refused = false;
  for (int i = 0; i < 100 && !refused; ++i) {
    const std::string id = "o-down-" + std::to_string(i);
    const Verdict verdict = session_.submit(market("fx", "EUR/USD", Side::buy, "1000", id));
    if (!verdict.accepted()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;  // e.g. NO_REFERENCE_PRICE once quotes age out
    }
    // An order written just as the connection died has an unknown fate
    // until the simulator is back; it is not counted either way.
    const auto reports = until_terminal(id, std::chrono::seconds(2));
    refused = !reports.empty() && reports.back().reason == Reason::BROKER_UNAVAILABLE;
  }
  EXPECT_TRUE(refused) << logs_.dump();

  start_sim({"--venues", "oanda", "--port", std::to_string(port), "--ca-cert", keys.file("ca.pem"), "--ca-key",
             keys.file("ca.key"), "--write-ca", keys.file("ca2.pem")});
  bool filled = false;
  for (int i = 0; i < 200 && !filled; ++i) {
    const std::string id = "o-after-" + std::to_string(i);
    const Verdict verdict = session_.submit(market("fx", "EUR/USD", Side::buy, "1000", id));
    if (!verdict.accepted()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    const auto reports = until_terminal(id);
    ASSERT_FALSE(reports.empty());
    filled = reports.back().status == ExecStatus::filled;
    if (!filled) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(filled) << logs_.dump();
  EXPECT_TRUE(logs_.contains("connected to localhost:" + std::to_string(port)));
}

TEST_F(OandaSim, IdleClosesByTheServerAreReopenedWithoutLosingOrders) {
  start({"--idle-close-ms", "150"});
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
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
