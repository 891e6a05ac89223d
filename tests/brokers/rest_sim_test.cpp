// The stories every REST broker tells the same way, with the gateway trading
// through the OANDA and the Binance adapter against a real ordergate-sim.

#include <algorithm>
#include <numeric>

#include "brokers/broker_test_support.hpp"

namespace ordergate::brokers::testing {
namespace {

using Venues = ::testing::Types<OandaSimVenue, BinanceSimVenue>;

struct VenueNames {
  template <class Venue>
  static std::string GetName(int) {
    return Venue::kName;
  }
};

template <class Venue>
class RestSim : public RestSimTest<Venue> {};
TYPED_TEST_SUITE(RestSim, Venues, VenueNames);

TYPED_TEST(RestSim, AMarketOrderIsFilledAtTheExactPrice) {
  this->start();
  // Reconciliation booked what the account holds already (Binance: the
  // base asset's balance).
  const Decimal before = this->gateway_->exposure(TypeParam::kAccount, TypeParam::kSymbol).position;
  const std::string id = this->id("fill-1");
  this->submit(this->market_order(id, TypeParam::kQuantity));
  const auto reports = this->until_terminal(id);
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::filled) << this->logs_.dump();
  EXPECT_EQ(reports.back().last_quantity, decimal_literal(TypeParam::kQuantity));
  EXPECT_EQ(reports.back().last_price, decimal_literal(TypeParam::kFillPrice));
  EXPECT_EQ(reports.back().average_price, decimal_literal(TypeParam::kFillPrice));
  EXPECT_FALSE(reports.back().broker_order_id.empty());
  Decimal expected;
  ASSERT_TRUE(Decimal::add(before, decimal_literal(TypeParam::kQuantity), expected));
  EXPECT_EQ(this->gateway_->exposure(TypeParam::kAccount, TypeParam::kSymbol).position, expected);
  EXPECT_EQ(this->sim_orders(id), 1);
  // The metrics see the request through the gateway: the broker's order
  // latency, timed from the write to the simulator's answer.
  const std::vector<Gateway::BrokerTransport> transports = this->gateway_->broker_transports();
  ASSERT_EQ(transports.size(), 1u);
  EXPECT_GE(transports[0].stats.connections_established, 1u);
  const auto orders = std::find_if(transports[0].stats.requests.begin(), transports[0].stats.requests.end(),
                                   [](const auto& requests) { return requests.kind == "order"; });
  ASSERT_NE(orders, transports[0].stats.requests.end());
  EXPECT_EQ(std::accumulate(orders->buckets.begin(), orders->buckets.end(), std::uint64_t{0}), 1u);
}

TYPED_TEST(RestSim, ARestingLimitOrderIsNewThenFilledWhenThePriceComesToIt) {
  this->start();
  const std::string id = this->id("rest-1");
  this->submit(this->limit_order(id, Side::buy, TypeParam::kRestPrice));
  ASSERT_TRUE(this->wait_status(id, ExecStatus::new_order)) << this->logs_.dump();
  this->set_price(TypeParam::kName, TypeParam::kVenueSymbol, TypeParam::kBidThrough, TypeParam::kAskThrough);
  const auto reports = this->until_terminal(id);
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::filled) << this->logs_.dump();
  EXPECT_EQ(reports.back().last_quantity, decimal_literal(TypeParam::kRestQuantity));
  EXPECT_EQ(reports.back().cumulative_quantity, decimal_literal(TypeParam::kRestQuantity));
}

TYPED_TEST(RestSim, ACancelledOrderIsCanceled) {
  this->start();
  const std::string id = this->id("cancel-1");
  this->submit(this->limit_order(id, TypeParam::kRestingSide, TypeParam::kFarPrice));
  ASSERT_TRUE(this->wait_status(id, ExecStatus::new_order)) << this->logs_.dump();
  ASSERT_TRUE(this->session_.cancel(id).accepted());
  const auto reports = this->until_terminal(id);
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::canceled) << this->logs_.dump();
  EXPECT_EQ(reports.back().broker_reason, std::string_view(TypeParam::kCancelReason));
}

TYPED_TEST(RestSim, A5xxAfterPlacingIsLookedUpAndLeavesExactlyOneOrder) {
  this->start({"--error-first", "1", "--error-after-place"});
  const std::string id = this->id("5xx-1");
  this->submit(this->market_order(id, TypeParam::kQuantity, Side::sell));
  const auto reports = this->until_terminal(id);
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::filled) << this->logs_.dump();
  EXPECT_EQ(this->sim_orders(id), 1);
  EXPECT_TRUE(this->logs_.contains("fate is unknown"));
  EXPECT_TRUE(this->logs_.contains(TypeParam::kUnknownSearch));
}

TYPED_TEST(RestSim, A5xxBeforePlacingIsReportedNotPlacedAndNothingIsAtTheBroker) {
  this->start({"--error-first", "1"});
  const std::string id = this->id("5xx-2");
  this->submit(this->market_order(id, TypeParam::kQuantity, Side::sell));
  const auto reports = this->until_terminal(id);
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::rejected);
  EXPECT_EQ(reports.back().reason, Reason::BROKER_UNAVAILABLE);
  EXPECT_EQ(reports.back().broker_reason, std::string_view("NOT_PLACED"));
  EXPECT_EQ(this->sim_orders(id), 0);
}

TYPED_TEST(RestSim, A429PausesWithoutABanAndOrdersGoThroughAfterwards) {
  this->start(TypeParam::rate_limit_args(), TypeParam::allow_many_orders);
  bool limited = false;
  std::chrono::steady_clock::time_point limited_at;
  for (int i = 0; i < 200 && !limited; ++i) {
    const std::string id = this->id("429-" + std::to_string(i));
    this->submit(this->market_order(id));
    const auto reports = this->until_terminal(id);
    ASSERT_FALSE(reports.empty());
    limited = reports.back().reason == Reason::BROKER_RATE_LIMITED;
    if (limited) limited_at = std::chrono::steady_clock::now();
  }
  ASSERT_TRUE(limited) << this->logs_.dump();
  // Orders are refused locally while the pause lasts; once it is over, one fills.
  int attempt = 0;
  const bool filled_after = eventually([&] {
    const std::string id = this->id("429-after-" + std::to_string(attempt++));
    if (!this->session_.submit(this->market_order(id)).accepted()) return false;
    const auto reports = this->until_terminal(id);
    return !reports.empty() && reports.back().status == ExecStatus::filled;
  });
  EXPECT_TRUE(filled_after) << this->logs_.dump();
  EXPECT_GE(std::chrono::steady_clock::now() - limited_at, TypeParam::kMinPause);
  EXPECT_TRUE(this->logs_.contains(std::string("rate limited by ") + TypeParam::kVenueName));
  EXPECT_FALSE(this->logs_.contains("HTTP 418")) << "a request went out during the pause:\n" << this->logs_.dump();
}

TYPED_TEST(RestSim, WrongCredentialsAreAnAlertAndNothingTrades) {
  this->start({}, TypeParam::break_credentials, /*expect_ready=*/false);
  EXPECT_TRUE(this->logs_.contains(TypeParam::kAlert)) << this->logs_.dump();
  // The adapter never became ready, so the account is never reconciled:
  // the guards refuse (fail closed) before the adapter would answer
  // BROKER_UNAVAILABLE.
  const Verdict verdict = this->session_.submit(this->market_order(this->id("auth-1")));
  EXPECT_EQ(verdict.reason, Reason::ACCOUNT_NOT_READY);
  for (const auto& line : this->logs_.lines()) {
    EXPECT_EQ(line.find(TypeParam::kWrongCredential), std::string::npos) << line;
  }
}

TYPED_TEST(RestSim, KilledAndRestartedOnTheSamePortTheAdapterReconnectsAndCarriesOn) {
  TempDir keys;
  this->start({"--write-ca", keys.file("ca.pem"), "--write-ca-key", keys.file("ca.key")});
  const std::uint16_t port = this->sim_->port();
  this->submit(this->market_order(this->id("before")));
  ASSERT_EQ(this->until_terminal(this->id("before")).back().status, ExecStatus::filled);

  ::kill(this->sim_->pid(), SIGKILL);
  this->sim_->stop();
  // While it is down, orders are refused at once (no connection), never queued.
  int down = 0;
  const bool refused = eventually([&] {
    const std::string id = this->id("down-" + std::to_string(down++));
    // Not accepted: e.g. NO_REFERENCE_PRICE once quotes age out.
    if (!this->session_.submit(this->market_order(id)).accepted()) return false;
    // An order written just as the connection died has an unknown fate
    // until the simulator is back; it is not counted either way.
    const auto reports = this->until_terminal(id, std::chrono::seconds(2));
    return !reports.empty() && reports.back().reason == Reason::BROKER_UNAVAILABLE;
  });
  EXPECT_TRUE(refused) << this->logs_.dump();

  this->start_sim({"--venues", TypeParam::kName, "--port", std::to_string(port), "--ca-cert", keys.file("ca.pem"),
                   "--ca-key", keys.file("ca.key"), "--write-ca", keys.file("ca2.pem")});
  int after = 0;
  const bool filled = eventually([&] {
    const std::string id = this->id("after-" + std::to_string(after++));
    if (!this->session_.submit(this->market_order(id)).accepted()) return false;
    const auto reports = this->until_terminal(id);
    return !reports.empty() && reports.back().status == ExecStatus::filled;
  }, std::chrono::seconds(20));
  EXPECT_TRUE(filled) << this->logs_.dump();
  EXPECT_TRUE(this->logs_.contains("connected to localhost:" + std::to_string(port)));
}

}  // namespace
}  // namespace ordergate::brokers::testing
