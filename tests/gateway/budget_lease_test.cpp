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

// The tokens of an account's lease, or with `principal` a principal's.
std::int64_t tokens_of(const Gateway& gateway, std::string_view owner, std::size_t window, bool principal = false) {
  for (const Gateway::BudgetLease& lease : gateway.budget_leases()) {
    if (lease.principal == principal && (principal ? lease.principal_name : lease.account_name) == owner &&
        lease.window == window) {
      return lease.tokens;
    }
  }
  ADD_FAILURE() << "no lease for " << owner << " window " << window;
  return -1;
}

std::int64_t principal_tokens(const Gateway& gateway, std::string_view principal, std::size_t window) {
  return tokens_of(gateway, principal, window, true);
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

TEST(GatewayBudgetLease, APrincipalsSharedWindowsNeedItsLeaseAndOnlyThePrincipalsAreListedWhenOnlyTheyAreShared) {
  ManualClock clock;
  GatewayConfig config = budget_config();
  config.principals[0].rate_limits = {"200/1s", "1000/1m"};
  Gateway gateway(config, clock);
  gateway.share_principal_budgets();
  gateway.start();
  const std::vector<Gateway::BudgetLease> leases = gateway.budget_leases();
  // alice's two windows, bob's and ops's one each; no account's.
  ASSERT_EQ(leases.size(), 4u);
  EXPECT_TRUE(leases[0].principal);
  EXPECT_EQ(leases[0].principal_name, "alice");
  EXPECT_EQ(leases[0].rate.count, 200u);
  EXPECT_EQ(leases[3].principal_name, "ops");

  Session alice = gateway.open_session("alice");
  const Verdict refused = alice.submit(market_order("p-1"));
  EXPECT_EQ(refused.reason, Reason::RATE_LIMITED);
  EXPECT_EQ(refused.retry_after_ns, kNanosPerSecond / 200);
  gateway.grant_principal_budget(alice.principal(), 0, 3);
  EXPECT_EQ(alice.submit(market_order("p-2")).reason, Reason::RATE_LIMITED);  // every window needs a token
  EXPECT_EQ(principal_tokens(gateway, "alice", 0), 3);
  gateway.grant_principal_budget(alice.principal(), 1, 1);
  EXPECT_TRUE(alice.submit(market_order("p-3")).accepted());
  EXPECT_EQ(principal_tokens(gateway, "alice", 0), 2);
  EXPECT_EQ(principal_tokens(gateway, "alice", 1), 0);
  // Another principal's lease is its own (bob trades limit orders on acc-b).
  Session bob = gateway.open_session("bob");
  EXPECT_EQ(bob.submit(limit_order("p-4", Side::buy, "1.08000", "10000", "acc-b")).reason, Reason::RATE_LIMITED);
  EXPECT_EQ(gateway.take_back_principal_budget(alice.principal(), 0), 2);
  EXPECT_EQ(gateway.take_back_principal_budget(alice.principal(), 7), 0);  // no such window
}

TEST(GatewayBudgetLease, WithBothSharedAnEmptyPrincipalLeaseGivesTheAccountsTokensBack) {
  ManualClock clock;
  GatewayConfig config = budget_config();
  config.principals[0].max_orders_per_day = 1;  // checked right after the leases are taken
  Gateway gateway(config, clock);
  gateway.share_account_budgets();
  gateway.share_principal_budgets();
  gateway.start();
  EXPECT_EQ(gateway.budget_leases().size(), 4u + 3u);  // two accounts x two windows, three principals x one
  gateway.grant_budget(0, 0, 5);
  gateway.grant_budget(0, 1, 5);
  Session alice = gateway.open_session("alice");
  EXPECT_EQ(alice.submit(market_order("b-1")).reason, Reason::RATE_LIMITED);
  EXPECT_EQ(tokens_of(gateway, "acc-a", 0), 5);
  EXPECT_EQ(tokens_of(gateway, "acc-a", 1), 5);
  gateway.grant_principal_budget(alice.principal(), 0, 1);
  EXPECT_TRUE(alice.submit(market_order("b-2")).accepted());
  EXPECT_EQ(tokens_of(gateway, "acc-a", 0), 4);
  EXPECT_EQ(principal_tokens(gateway, "alice", 0), 0);
  // Refused by a later guard: both leases get their token back.
  gateway.grant_principal_budget(alice.principal(), 0, 1);
  EXPECT_EQ(alice.submit(market_order("b-3")).reason, Reason::DAILY_ORDER_LIMIT);
  EXPECT_EQ(tokens_of(gateway, "acc-a", 0), 4);
  EXPECT_EQ(tokens_of(gateway, "acc-a", 1), 4);
  EXPECT_EQ(principal_tokens(gateway, "alice", 0), 1);
}

TEST(GatewayBudgetLease, SharingIsChosenBeforeStart) {
  ManualClock clock;
  Gateway gateway(budget_config(), clock);
  gateway.start();
  EXPECT_THROW(gateway.share_account_budgets(), std::logic_error);
  EXPECT_THROW(gateway.share_principal_budgets(), std::logic_error);
}

}  // namespace
}  // namespace ordergate::testing
