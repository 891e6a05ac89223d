// The gateway trading through the Binance adapter against a real ordergate-sim.

#include "brokers/broker_test_support.hpp"

namespace ordergate::brokers::testing {
namespace {

using adapters::binance::make_binance_factory;

class BinanceSim : public BrokerSimTest {
 protected:
  void start(std::vector<std::string> sim_args = {},
             const std::function<void(adapters::binance::BinanceSettings&)>& adjust = {}) {
    sim_args.insert(sim_args.begin(), {"--venues", "binance"});
    start_sim(std::move(sim_args));
    auto settings = binance_settings();
    if (adjust) adjust(settings);
    start_gateway(gateway_config(nullptr, make_binance_factory(std::move(settings))));
  }
};

TEST_F(BinanceSim, AMarketOrderIsFilledWithTheExactPrice) {
  start();
  submit(market("crypto", "BTC/USDT", Side::buy, "0.01", "b-fill-1"));
  const auto reports = until_terminal("b-fill-1");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::filled) << logs_.dump();
  EXPECT_EQ(reports.back().last_quantity, decimal_literal("0.01"));
  EXPECT_EQ(reports.back().last_price, decimal_literal("64000.01"));
  EXPECT_EQ(reports.back().average_price, decimal_literal("64000.01"));
  EXPECT_EQ(gateway_->exposure("crypto", "BTC/USDT").position, decimal_literal("0.01"));
  EXPECT_EQ(sim_orders("b-fill-1"), 1);
}

TEST_F(BinanceSim, ARestingLimitOrderIsNewThenFilledWhenThePriceComesToIt) {
  start();
  submit(limit("crypto", "BTC/USDT", Side::buy, "0.01", "63900.00", "b-rest-1"));
  ASSERT_TRUE(wait_status("b-rest-1", ExecStatus::new_order)) << logs_.dump();
  set_price("binance", "BTCUSDT", "63880.00", "63890.00");
  const auto reports = until_terminal("b-rest-1");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::filled) << logs_.dump();
  EXPECT_EQ(reports.back().cumulative_quantity, decimal_literal("0.01"));
}

TEST_F(BinanceSim, ACancelledOrderIsCanceled) {
  start();
  submit(limit("crypto", "BTC/USDT", Side::sell, "0.01", "64100.00", "b-cancel-1"));
  ASSERT_TRUE(wait_status("b-cancel-1", ExecStatus::new_order)) << logs_.dump();
  ASSERT_TRUE(session_.cancel("b-cancel-1").accepted());
  const auto reports = until_terminal("b-cancel-1");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::canceled) << logs_.dump();
}

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

TEST_F(BinanceSim, A5xxAfterPlacingIsLookedUpAndLeavesExactlyOneOrder) {
  start({"--error-first", "1", "--error-after-place"});
  submit(market("crypto", "BTC/USDT", Side::sell, "0.01", "b-5xx-1"));
  const auto reports = until_terminal("b-5xx-1");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::filled) << logs_.dump();
  EXPECT_EQ(sim_orders("b-5xx-1"), 1);
  EXPECT_TRUE(logs_.contains("looking it up by client order id"));
}

TEST_F(BinanceSim, A5xxBeforePlacingIsReportedNotPlacedAndNothingIsAtTheBroker) {
  start({"--error-first", "1"});
  submit(market("crypto", "BTC/USDT", Side::sell, "0.01", "b-5xx-2"));
  const auto reports = until_terminal("b-5xx-2");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().reason, Reason::BROKER_UNAVAILABLE);
  EXPECT_EQ(reports.back().broker_reason, std::string_view("NOT_PLACED"));
  EXPECT_EQ(sim_orders("b-5xx-2"), 0);
}

TEST_F(BinanceSim, A429RetryAfterIsHonouredWithoutABan) {
  // The simulator allows 3 orders per 2 s; the adapter is (mis)configured for
  // Binance's 100 per 10 s, so the broker's 429 decides.
  start({"--binance-order-limit", "3", "--binance-order-window-ms", "2000"},
        [](adapters::binance::BinanceSettings& s) { s.order_limit_10s = 100; });
  bool limited = false;
  bool filled_after = false;
  std::chrono::steady_clock::time_point limited_at;
  for (int i = 0; i < 200 && !(limited && filled_after); ++i) {
    const std::string id = "b-429-" + std::to_string(i);
    submit(market("crypto", "BTC/USDT", Side::buy, "0.001", id));
    const auto reports = until_terminal(id);
    ASSERT_FALSE(reports.empty());
    if (reports.back().reason == Reason::BROKER_RATE_LIMITED) {
      if (!limited) limited_at = std::chrono::steady_clock::now();
      limited = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (limited && reports.back().status == ExecStatus::filled) filled_after = true;
  }
  EXPECT_TRUE(limited) << logs_.dump();
  EXPECT_TRUE(filled_after) << logs_.dump();
  EXPECT_FALSE(logs_.contains("HTTP 418")) << "a request went out during Retry-After:\n" << logs_.dump();
  EXPECT_GE(std::chrono::steady_clock::now() - limited_at, std::chrono::milliseconds(500));
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

TEST_F(BinanceSim, AWrongSecretIsAnAlertAndNothingTrades) {
  start({}, [](adapters::binance::BinanceSettings& s) { s.secret_key = security::Secret("canary-wrong-secret-11"); });
  EXPECT_TRUE(logs_.contains("ALERT: Binance refused")) << logs_.dump();
  // The adapter never became ready, so it publishes no prices: the guards
  // refuse (fail closed) before the adapter would answer BROKER_UNAVAILABLE.
  const Verdict verdict = session_.submit(market("crypto", "BTC/USDT", Side::buy, "0.001", "b-auth-1"));
  EXPECT_EQ(verdict.reason, Reason::NO_REFERENCE_PRICE);
  for (const auto& line : logs_.lines()) EXPECT_EQ(line.find("canary-wrong-secret"), std::string::npos) << line;
}

TEST_F(BinanceSim, ClockSkewIsLoggedAtStart) {
  start({"--binance-clock-offset-ms", "-20000"});
  EXPECT_TRUE(logs_.contains("ms off Binance's server time")) << logs_.dump();
}

TEST_F(BinanceSim, KilledAndRestartedOnTheSamePortTheAdapterReconnectsAndCarriesOn) {
  TempDir keys;
  start({"--write-ca", keys.file("ca.pem"), "--write-ca-key", keys.file("ca.key")});
  const std::uint16_t port = sim_->port();
  submit(market("crypto", "BTC/USDT", Side::buy, "0.001", "b-before"));
  ASSERT_EQ(until_terminal("b-before").back().status, ExecStatus::filled);
  ::kill(sim_->pid(), SIGKILL);
  sim_->stop();
  start_sim({"--venues", "binance", "--port", std::to_string(port), "--ca-cert", keys.file("ca.pem"), "--ca-key",
             keys.file("ca.key"), "--write-ca", keys.file("ca2.pem")});
  bool filled = false;
  for (int i = 0; i < 200 && !filled; ++i) {
    const std::string id = "b-after-" + std::to_string(i);
    const Verdict verdict = session_.submit(market("crypto", "BTC/USDT", Side::buy, "0.001", id));
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
}

}  // namespace
}  // namespace ordergate::brokers::testing
