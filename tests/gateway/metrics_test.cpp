#include "ordergate/gateway/metrics.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <numeric>
#include <optional>
#include <string>

#include "gateway/test_support.hpp"
#include "ordergate/gateway/gateway.hpp"

namespace ordergate {
namespace {

using testing::limit_order;
using testing::market_order;
using testing::test_config;
using testing::wait_for_reports;

constexpr AccountId kAccountA = 0;
constexpr AccountId kAccountB = 1;

// The count of one label set; 0 when the snapshot has none.
std::uint64_t count_of(const std::vector<GatewayMetrics::Decision>& decisions, const Gateway& gateway,
                       std::string_view principal, std::optional<AccountId> account, Reason reason) {
  std::uint64_t total = 0;
  for (const GatewayMetrics::Decision& decision : decisions) {
    if (gateway.principal_name(decision.principal) != principal || decision.reason != reason) continue;
    if (decision.has_account != account.has_value()) continue;
    if (account && decision.account != *account) continue;
    total += decision.count;
  }
  return total;
}

std::uint64_t latency_count(const GatewayMetrics& metrics) {
  return std::accumulate(metrics.guard_latency_buckets.begin(), metrics.guard_latency_buckets.end(), std::uint64_t{0});
}

class GatewayMetricsTest : public ::testing::Test {
 protected:
  explicit GatewayMetricsTest(bool recording = true) : gateway_(make_config(recording), clock_) { gateway_.start(); }

  GatewayConfig make_config(bool recording) {
    GatewayConfig config = testing::with_quote_feed(test_config(), quotes_);
    config.metrics = recording;
    config.metrics_latency_sample = 1;  // every submit timed: the counts below are exact
    return config;
  }

  ManualClock clock_;
  std::shared_ptr<adapters::PaperQuoteFeed> quotes_ = std::make_shared<adapters::PaperQuoteFeed>();
  Gateway gateway_;
};

TEST_F(GatewayMetricsTest, CountsEveryOrderDecisionByPrincipalAccountAndReason) {
  Session alice = gateway_.open_session("alice");
  Session bob = gateway_.open_session("bob");
  ASSERT_TRUE(alice.submit(market_order("m-1")).accepted());
  ASSERT_TRUE(alice.submit(market_order("m-2", Side::buy, "10000", "acc-b")).accepted());
  EXPECT_EQ(alice.submit(market_order("m-1")).reason, Reason::DUPLICATE_CLIENT_ORDER_ID);
  EXPECT_EQ(alice.submit(market_order("m-3", Side::buy, "10000", "acc-a", "XAUUSD")).reason,
            Reason::UNKNOWN_INSTRUMENT);
  EXPECT_EQ(bob.submit(market_order("b-1", Side::buy, "10000", "acc-b")).reason, Reason::ORDER_TYPE_NOT_PERMITTED);

  const GatewayMetrics metrics = gateway_.metrics();
  EXPECT_TRUE(metrics.recording);
  EXPECT_EQ(count_of(metrics.orders, gateway_, "alice", kAccountA, Reason::OK), 1u);
  EXPECT_EQ(count_of(metrics.orders, gateway_, "alice", kAccountB, Reason::OK), 1u);
  EXPECT_EQ(count_of(metrics.orders, gateway_, "alice", kAccountA, Reason::DUPLICATE_CLIENT_ORDER_ID), 1u);
  // Refused by validation: the account is not trusted yet.
  EXPECT_EQ(count_of(metrics.orders, gateway_, "alice", std::nullopt, Reason::UNKNOWN_INSTRUMENT), 1u);
  EXPECT_EQ(count_of(metrics.orders, gateway_, "bob", kAccountB, Reason::ORDER_TYPE_NOT_PERMITTED), 1u);
  std::uint64_t total = 0;
  for (const auto& decision : metrics.orders) total += decision.count;
  EXPECT_EQ(total, 5u);
  EXPECT_EQ(latency_count(metrics), 5u);
  EXPECT_EQ(metrics.sessions_by_principal.at(*gateway_.find_principal("alice")), 1u);
  EXPECT_EQ(metrics.sessions_by_principal.at(*gateway_.find_principal("ops")), 0u);
}

TEST_F(GatewayMetricsTest, AClosedSessionsCountsStayWithItsPrincipalAndTheNextSessionInTheSlotStartsAtZero) {
  {
    Session alice = gateway_.open_session("alice");
    ASSERT_TRUE(alice.submit(market_order("a-1")).accepted());
    ASSERT_TRUE(alice.submit(market_order("a-2")).accepted());
  }
  Session bob = gateway_.open_session("bob");  // takes the slot alice left
  ASSERT_TRUE(bob.submit(limit_order("b-1", Side::buy, "1.08000", "10000", "acc-b")).accepted());

  const GatewayMetrics metrics = gateway_.metrics();
  EXPECT_EQ(count_of(metrics.orders, gateway_, "alice", kAccountA, Reason::OK), 2u);
  EXPECT_EQ(count_of(metrics.orders, gateway_, "bob", kAccountB, Reason::OK), 1u);
  EXPECT_EQ(count_of(metrics.orders, gateway_, "bob", kAccountA, Reason::OK), 0u);
  EXPECT_EQ(latency_count(metrics), 3u);
  EXPECT_EQ(metrics.sessions_by_principal.at(*gateway_.find_principal("alice")), 0u);
  EXPECT_EQ(metrics.sessions_by_principal.at(*gateway_.find_principal("bob")), 1u);
}

TEST_F(GatewayMetricsTest, CountsCancelsWithTheAccountOfTheOrderTheyName) {
  Session alice = gateway_.open_session("alice");
  ASSERT_TRUE(alice.submit(limit_order("l-1", Side::buy, "1.08000")).accepted());
  ASSERT_EQ(wait_for_reports(alice, 1).size(), 1u);  // NEW: the order rests
  EXPECT_TRUE(alice.cancel("l-1").accepted());
  EXPECT_EQ(alice.cancel("no-such").reason, Reason::UNKNOWN_ORDER);

  const GatewayMetrics metrics = gateway_.metrics();
  EXPECT_EQ(count_of(metrics.cancels, gateway_, "alice", kAccountA, Reason::OK), 1u);
  EXPECT_EQ(count_of(metrics.cancels, gateway_, "alice", std::nullopt, Reason::UNKNOWN_ORDER), 1u);
  // Cancels are not in the guard latency histogram (it times submit).
  EXPECT_EQ(latency_count(metrics), 1u);
}

TEST_F(GatewayMetricsTest, CountsExecutionReportsByAccountAndStatus) {
  Session alice = gateway_.open_session("alice");
  ASSERT_TRUE(alice.submit(market_order("m-1")).accepted());
  ASSERT_EQ(wait_for_reports(alice, 2).size(), 2u);

  auto executions = [&](ExecStatus status) {
    for (const auto& entry : gateway_.metrics().executions) {
      if (entry.account == kAccountA && entry.status == status) return entry.count;
    }
    return std::uint64_t{0};
  };
  EXPECT_EQ(executions(ExecStatus::new_order), 1u);
  EXPECT_EQ(executions(ExecStatus::filled), 1u);
}

TEST_F(GatewayMetricsTest, GuardLatencyUsesTheInjectedClock) {
  // The manual clock does not move while submit runs: every submit takes
  // 0 ns by it, which is the first bucket (at most 50 ns).
  Session alice = gateway_.open_session("alice");
  ASSERT_TRUE(alice.submit(market_order("m-1")).accepted());
  EXPECT_EQ(alice.submit(market_order("m-1")).reason, Reason::DUPLICATE_CLIENT_ORDER_ID);
  const GatewayMetrics metrics = gateway_.metrics();
  EXPECT_EQ(metrics.guard_latency_buckets.front(), 2u);
  EXPECT_EQ(latency_count(metrics), 2u);
  EXPECT_EQ(metrics.guard_latency_sum_ns, 0u);
}

TEST_F(GatewayMetricsTest, ShowsWhatEachPrincipalsRateWindowsWouldAdmitNow) {
  const auto remaining = [&](const char* principal, bool cancels) {
    const GatewayMetrics metrics = gateway_.metrics();
    for (const GatewayMetrics::RateRemaining& rate : metrics.rate_remaining) {
      if (gateway_.principal_name(rate.principal) == principal && rate.cancels == cancels) return rate.remaining;
    }
    return std::int64_t{-1};
  };
  EXPECT_EQ(remaining("alice", false), 5);  // "5/1s"
  EXPECT_EQ(remaining("alice", true), 3);   // "3/1s"
  Session alice = gateway_.open_session("alice");
  ASSERT_TRUE(alice.submit(market_order("w-1")).accepted());
  ASSERT_TRUE(alice.submit(market_order("w-2")).accepted());
  EXPECT_EQ(alice.submit(market_order("w-1")).reason, Reason::DUPLICATE_CLIENT_ORDER_ID);  // charges nothing
  EXPECT_EQ(remaining("alice", false), 3);
  clock_.advance(kNanosPerSecond);
  EXPECT_EQ(remaining("alice", false), 5) << "refilled";
  const GatewayMetrics metrics = gateway_.metrics();
  const auto found = std::find_if(metrics.rate_remaining.begin(), metrics.rate_remaining.end(),
                                  [&](const auto& rate) { return gateway_.principal_name(rate.principal) == "alice"; });
  ASSERT_NE(found, metrics.rate_remaining.end());
  EXPECT_EQ(found->window.count, 5u);
  EXPECT_EQ(found->window.period_ns, kNanosPerSecond);
}

TEST_F(GatewayMetricsTest, CountsTheCancelsAHaltAndACancelAllSentByAccount) {
  Session alice = gateway_.open_session("alice");
  ASSERT_TRUE(alice.submit(limit_order("k-1", Side::buy, "1.08000")).accepted());
  ASSERT_TRUE(alice.submit(limit_order("k-2", Side::buy, "1.08000")).accepted());
  ASSERT_TRUE(alice.submit(limit_order("k-3", Side::buy, "1.08000", "10000", "acc-b")).accepted());
  ASSERT_EQ(wait_for_reports(alice, 3).size(), 3u);  // all resting
  gateway_.set_trading_state(TradingScope::account("acc-a"), guards::TradingState::halted, true);
  CancelFilter everything;
  EXPECT_EQ(gateway_.cancel_orders(everything), 1u) << "acc-b's; acc-a's were sent already";
  const GatewayMetrics metrics = gateway_.metrics();
  ASSERT_EQ(metrics.bulk_cancels.size(), 2u);
  EXPECT_EQ(metrics.bulk_cancels[0], 2u);
  EXPECT_EQ(metrics.bulk_cancels[1], 1u);
  EXPECT_TRUE(metrics.cancels.empty()) << "no session asked for a cancel";
}

TEST_F(GatewayMetricsTest, ShowsTradingStatesAndReadiness) {
  gateway_.set_trading_state(TradingScope::account("acc-b"), guards::TradingState::halted);
  gateway_.set_trading_state(TradingScope::principal("bob"), guards::TradingState::reducing);
  const GatewayMetrics metrics = gateway_.metrics();
  EXPECT_EQ(metrics.global_state, guards::TradingState::active);
  ASSERT_EQ(metrics.account_states.size(), 2u);
  EXPECT_EQ(metrics.account_states[kAccountA], guards::TradingState::active);
  EXPECT_EQ(metrics.account_states[kAccountB], guards::TradingState::halted);
  EXPECT_EQ(metrics.principal_states.at(*gateway_.find_principal("bob")), guards::TradingState::reducing);
  ASSERT_EQ(metrics.account_ready.size(), 2u);
  EXPECT_TRUE(metrics.account_ready[kAccountA]);
  ASSERT_EQ(metrics.broker_names.size(), 1u);
  EXPECT_EQ(metrics.broker_names[0], "paper");
  EXPECT_EQ(metrics.account_broker.at(kAccountB), 0u);
}

// The paper broker behind a connection the test cuts and restores: what a
// network adapter reports through BrokerPort::connected.
class SwitchedBroker final : public BrokerPort {
 public:
  SwitchedBroker(std::unique_ptr<BrokerPort> inner, std::shared_ptr<std::atomic<bool>> up)
      : inner_(std::move(inner)), up_(std::move(up)) {}
  [[nodiscard]] std::string_view name() const noexcept override { return inner_->name(); }
  void start(ExecutionSink& sink, QuoteBoard& quotes, const Clock& clock) override { inner_->start(sink, quotes, clock); }
  void submit(const Order& order) noexcept override { inner_->submit(order); }
  void cancel(const CancelOrder& cancel) noexcept override { inner_->cancel(cancel); }
  bool poll() noexcept override { return inner_->poll(); }
  void stop() noexcept override { inner_->stop(); }
  bool request_holdings() noexcept override { return inner_->request_holdings(); }
  [[nodiscard]] bool connected() const noexcept override { return up_->load(); }

 private:
  std::unique_ptr<BrokerPort> inner_;
  std::shared_ptr<std::atomic<bool>> up_;
};

TEST(GatewayMetricsBrokers, ShowTheBrokerConnectionAsItsThreadLastSawIt) {
  auto up = std::make_shared<std::atomic<bool>>(true);
  GatewayConfig config = test_config();
  config.brokers.emplace_back("paper", [paper = adapters::make_paper_factory(config.paper), up](
                                           const InstrumentTable& instruments) -> std::unique_ptr<BrokerPort> {
    return std::make_unique<SwitchedBroker>(paper(instruments), up);
  });
  Gateway gateway(config);
  gateway.start();
  auto connected = [&]() -> bool { return gateway.metrics().broker_connected.at(0); };
  EXPECT_TRUE(connected());
  up->store(false);
  EXPECT_TRUE(testing::wait_until([&] { return !connected(); }));
  up->store(true);
  EXPECT_TRUE(testing::wait_until(connected));
  gateway.stop();
}

TEST(GatewayMetricsSampling, TimesEachSessionsFirstSubmitAndThenOneInTheSample) {
  GatewayConfig config = test_config();
  config.metrics_latency_sample = 16;
  config.principals[0].rate_limits = {"1000/1s"};
  Gateway gateway(config);
  gateway.start();
  {
    Session alice = gateway.open_session("alice");
    for (int i = 0; i < 20; ++i) {
      (void)alice.submit(limit_order("s-" + std::to_string(i), Side::buy, "1.08000", "1"));  // some refused: counted too
    }
  }
  Session again = gateway.open_session("alice");
  (void)again.submit(limit_order("t-1", Side::buy, "1.08000", "1"));
  const GatewayMetrics metrics = gateway.metrics();
  EXPECT_EQ(metrics.latency_sample, 16u);
  // Submits 1 and 17 of the first session, and the first of the next one.
  EXPECT_EQ(latency_count(metrics), 3u);
  std::uint64_t decided = 0;
  for (const auto& decision : metrics.orders) decided += decision.count;
  EXPECT_EQ(decided, 21u);  // every decision is counted
  gateway.stop();
}

TEST(GatewayMetricsSampling, RefusesASampleThatIsNotAPowerOfTwo) {
  GatewayConfig config = test_config();
  config.metrics_latency_sample = 10;
  EXPECT_THROW(Gateway{config}, ConfigError);
  config.metrics_latency_sample = 0;
  EXPECT_THROW(Gateway{config}, ConfigError);
}

class GatewayMetricsOffTest : public GatewayMetricsTest {
 protected:
  GatewayMetricsOffTest() : GatewayMetricsTest(false) {}
};

TEST_F(GatewayMetricsOffTest, RecordsNothingOnTheOrderPathWhenTurnedOff) {
  Session alice = gateway_.open_session("alice");
  ASSERT_TRUE(alice.submit(market_order("m-1")).accepted());
  EXPECT_EQ(alice.cancel("no-such").reason, Reason::UNKNOWN_ORDER);
  ASSERT_EQ(wait_for_reports(alice, 2).size(), 2u);
  const GatewayMetrics metrics = gateway_.metrics();
  EXPECT_FALSE(metrics.recording);
  EXPECT_TRUE(metrics.orders.empty());
  EXPECT_TRUE(metrics.cancels.empty());
  EXPECT_TRUE(metrics.executions.empty());
  EXPECT_EQ(latency_count(metrics), 0u);
  // What does not cost the order path is still there.
  EXPECT_EQ(gateway_.counters().accepted, 1u);
  EXPECT_EQ(metrics.sessions_by_principal.at(*gateway_.find_principal("alice")), 1u);
}

}  // namespace
}  // namespace ordergate
