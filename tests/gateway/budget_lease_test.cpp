// Shared account budgets (Gateway::share_account_budgets): what a cluster
// member's lease lets through, and that a refused order gives its tokens
// back. The leases' life in Redis is tested end to end in
// tests/python/test_cluster.py (SharedBudgets).

#include "ordergate/gateway/gateway.hpp"

#include <gtest/gtest.h>

#include <string>

#include "test_support.hpp"

namespace ordergate::testing {
namespace {

GatewayConfig budget_config() {
  GatewayConfig config = test_config();
  config.principals[0].rate_limits = {"1000/1s"};
  config.account_rate_limits = {"100/1s", "1000/1m"};
  return config;
}

std::int64_t tokens_of(const Gateway& gateway, std::string_view account, std::size_t window) {
  for (const Gateway::BudgetLease& lease : gateway.budget_leases()) {
    if (lease.account_name == account && lease.window == window) return lease.tokens;
  }
  ADD_FAILURE() << "no lease for " << account << " window " << window;
  return -1;
}

TEST(GatewayBudgetLease, WithoutSharingThereAreNoLeasesAndOrdersNeedNone) {
  ManualClock clock;
  Gateway gateway(budget_config(), clock);
  gateway.start();
  EXPECT_TRUE(gateway.budget_leases().empty());
  Session alice = gateway.open_session("alice");
  EXPECT_TRUE(alice.submit(market_order("m-1")).accepted());
}

TEST(GatewayBudgetLease, EachAccountWindowHasALeaseAndAnEmptyOneRefusesWithTheWindowsPace) {
  ManualClock clock;
  Gateway gateway(budget_config(), clock);
  gateway.share_account_budgets();
  gateway.start();
  const std::vector<Gateway::BudgetLease> leases = gateway.budget_leases();
  ASSERT_EQ(leases.size(), 4u);  // two accounts, two windows each
  EXPECT_EQ(leases[0].rate.count, 100u);
  EXPECT_EQ(leases[1].rate.period_ns, 60 * kNanosPerSecond);

  Session alice = gateway.open_session("alice");
  const Verdict refused = alice.submit(market_order("m-1"));
  EXPECT_EQ(refused.reason, Reason::RATE_LIMITED);
  EXPECT_EQ(refused.retry_after_ns, kNanosPerSecond / 100);  // one emission interval of 100/1s

  // One window granted is not enough: every window of the account needs a token.
  gateway.grant_budget(0, 0, 2);
  EXPECT_EQ(alice.submit(market_order("m-2")).reason, Reason::RATE_LIMITED);
  EXPECT_EQ(tokens_of(gateway, "acc-a", 0), 2);  // given back: all or none
  gateway.grant_budget(0, 1, 1);
  EXPECT_TRUE(alice.submit(market_order("m-3")).accepted());
  EXPECT_EQ(tokens_of(gateway, "acc-a", 0), 1);
  EXPECT_EQ(tokens_of(gateway, "acc-a", 1), 0);
  // The other account's lease is its own.
  EXPECT_EQ(alice.submit(market_order("m-4", Side::buy, "10000", "acc-b")).reason, Reason::RATE_LIMITED);
}

TEST(GatewayBudgetLease, AnOrderRefusedAfterTheRateStepGivesItsTokensBack) {
  ManualClock clock;
  GatewayConfig config = budget_config();
  config.principals[0].max_orders_per_day = 1;  // checked right after the leases are taken
  Gateway gateway(config, clock);
  gateway.share_account_budgets();
  gateway.start();
  gateway.grant_budget(0, 0, 5);
  gateway.grant_budget(0, 1, 5);
  Session alice = gateway.open_session("alice");
  ASSERT_TRUE(alice.submit(market_order("d-1")).accepted());
  EXPECT_EQ(tokens_of(gateway, "acc-a", 0), 4);
  EXPECT_EQ(tokens_of(gateway, "acc-a", 1), 4);
  EXPECT_EQ(alice.submit(market_order("d-2")).reason, Reason::DAILY_ORDER_LIMIT);
  EXPECT_EQ(tokens_of(gateway, "acc-a", 0), 4);
  EXPECT_EQ(tokens_of(gateway, "acc-a", 1), 4);
}

TEST(GatewayBudgetLease, TakeBackEmptiesALeaseAndUnknownCellsAreIgnored) {
  ManualClock clock;
  Gateway gateway(budget_config(), clock);
  gateway.share_account_budgets();
  gateway.start();
  gateway.grant_budget(1, 0, 7);
  gateway.grant_budget(1, 0, -3);  // ignored: a grant adds
  gateway.grant_budget(9, 0, 5);   // no such account
  gateway.grant_budget(1, 4, 5);   // no such window
  EXPECT_EQ(gateway.take_back_budget(1, 0), 7);
  EXPECT_EQ(gateway.take_back_budget(1, 0), 0);
  EXPECT_EQ(gateway.take_back_budget(9, 0), 0);
  Session alice = gateway.open_session("alice");
  EXPECT_EQ(alice.submit(market_order("t-1", Side::buy, "10000", "acc-b")).reason, Reason::RATE_LIMITED);
}

TEST(GatewayBudgetLease, SharingIsChosenBeforeStart) {
  ManualClock clock;
  Gateway gateway(budget_config(), clock);
  gateway.start();
  EXPECT_THROW(gateway.share_account_budgets(), std::logic_error);
}

}  // namespace
}  // namespace ordergate::testing
