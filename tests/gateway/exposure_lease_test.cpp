// Shared exposure (Gateway::share_account_exposure): a cluster member's
// lease of each exposure limit bounds its orders, a shrink is exact under
// concurrent submits, and notional leases are checked like the account's
// own limits. The leases' life in Redis is tested end to end in
// tests/python/test_cluster.py (SharedExposure).

#include "ordergate/gateway/gateway.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <string>
#include <thread>

#include "test_support.hpp"

namespace ordergate::testing {
namespace {

using Limit = Gateway::ExposureLimit;

constexpr InstrumentId kEurUsd = 0;

GatewayConfig exposure_config() {
  GatewayConfig config = test_config();
  config.principals[0].rate_limits = {"1000000/1s"};
  return config;
}

std::optional<Gateway::ExposureLease> find_lease(const Gateway& gateway, std::string_view account, Limit limit,
                                                 InstrumentId instrument = 0) {
  for (const Gateway::ExposureLease& lease : gateway.exposure_leases()) {
    if (lease.account_name == account && lease.limit == limit && lease.instrument == instrument) return lease;
  }
  return std::nullopt;
}

TEST(GatewayExposureLease, WithoutSharingThereAreNoLeasesAndTheLimitsAreTheInstruments) {
  ManualClock clock;
  Gateway gateway(exposure_config(), clock);
  gateway.start();
  EXPECT_TRUE(gateway.exposure_leases().empty());
  Session alice = gateway.open_session("alice");
  EXPECT_TRUE(alice.submit(limit_order("w-1", Side::buy, "1.08000")).accepted());
}

TEST(GatewayExposureLease, EveryLimitHasALeaseThatStartsEmptyAndRefusesWhatItDoesNotCover) {
  ManualClock clock;
  Gateway gateway(exposure_config(), clock);
  gateway.share_account_exposure();
  gateway.start();
  // Two accounts x two instruments x (position, open orders); no notional limits.
  EXPECT_EQ(gateway.exposure_leases().size(), 8u);
  const auto position = find_lease(gateway, "acc-a", Limit::position, kEurUsd);
  ASSERT_TRUE(position);
  EXPECT_EQ(position->symbol, "EUR/USD");
  EXPECT_EQ(position->total, decimal_literal("3000000"));
  EXPECT_EQ(position->lease, Decimal{});
  EXPECT_EQ(position->per_order, decimal_literal("1000000"));
  const auto orders = find_lease(gateway, "acc-a", Limit::open_orders, kEurUsd);
  ASSERT_TRUE(orders);
  EXPECT_EQ(orders->total, decimal_literal("10"));
  EXPECT_EQ(orders->per_order, decimal_literal("1"));

  Session alice = gateway.open_session("alice");
  EXPECT_EQ(alice.submit(limit_order("e-1", Side::buy, "1.08000")).reason, Reason::MAX_OPEN_ORDERS);
  gateway.grant_exposure(0, Limit::open_orders, kEurUsd, decimal_literal("2"));
  EXPECT_EQ(alice.submit(limit_order("e-2", Side::buy, "1.08000")).reason, Reason::MAX_POSITION_EXCEEDED);
  gateway.grant_exposure(0, Limit::position, kEurUsd, decimal_literal("15000"));
  EXPECT_TRUE(alice.submit(limit_order("e-3", Side::buy, "1.08000")).accepted());
  // 10,000 working + 10,000 > 15,000 leased (the instrument allows 3,000,000).
  EXPECT_EQ(alice.submit(limit_order("e-4", Side::buy, "1.08000")).reason, Reason::MAX_POSITION_EXCEEDED);
  EXPECT_TRUE(alice.submit(limit_order("e-5", Side::buy, "1.08000", "5000")).accepted());
  EXPECT_EQ(alice.submit(limit_order("e-6", Side::buy, "1.08000", "1")).reason, Reason::MAX_OPEN_ORDERS);

  const auto used = find_lease(gateway, "acc-a", Limit::position, kEurUsd);
  EXPECT_EQ(used->lease, decimal_literal("15000"));
  EXPECT_EQ(used->used, decimal_literal("15000"));
  EXPECT_EQ(find_lease(gateway, "acc-a", Limit::open_orders, kEurUsd)->used, decimal_literal("2"));
  // Another account and another instrument have leases of their own.
  EXPECT_EQ(alice.submit(limit_order("e-7", Side::buy, "1.08000", "1", "acc-b")).reason, Reason::MAX_OPEN_ORDERS);
}

TEST(GatewayExposureLease, ALeaseLargerThanTheLimitLetsThroughOnlyTheLimit) {
  ManualClock clock;
  GatewayConfig config = exposure_config();
  config.instruments[0].max_position = decimal_literal("20000");
  config.instruments[0].max_open_orders = 1;
  Gateway gateway(config, clock);
  gateway.share_account_exposure();
  gateway.start();
  gateway.grant_exposure(0, Limit::open_orders, kEurUsd, decimal_literal("5"));
  gateway.grant_exposure(0, Limit::position, kEurUsd, decimal_literal("50000"));
  Session alice = gateway.open_session("alice");
  EXPECT_EQ(alice.submit(limit_order("l-1", Side::buy, "1.08000", "25000")).reason, Reason::MAX_POSITION_EXCEEDED);
  EXPECT_TRUE(alice.submit(limit_order("l-2", Side::buy, "1.08000", "20000")).accepted());
  EXPECT_EQ(alice.submit(limit_order("l-3", Side::sell, "1.09000", "1")).reason, Reason::MAX_OPEN_ORDERS);
}

TEST(GatewayExposureLease, AShrinkBelowWhatIsUsedIsRefusedAndOneAboveItIsExact) {
  ManualClock clock;
  Gateway gateway(exposure_config(), clock);
  gateway.share_account_exposure();
  gateway.start();
  gateway.grant_exposure(0, Limit::open_orders, kEurUsd, decimal_literal("10"));
  gateway.grant_exposure(0, Limit::position, kEurUsd, decimal_literal("30000"));
  Session alice = gateway.open_session("alice");
  ASSERT_TRUE(alice.submit(limit_order("s-1", Side::buy, "1.08000")).accepted());

  EXPECT_FALSE(gateway.shrink_exposure(0, Limit::position, kEurUsd, decimal_literal("5000")));
  EXPECT_EQ(find_lease(gateway, "acc-a", Limit::position, kEurUsd)->lease, decimal_literal("30000"));
  EXPECT_FALSE(gateway.shrink_exposure(0, Limit::open_orders, kEurUsd, Decimal{}));
  EXPECT_FALSE(gateway.shrink_exposure(0, Limit::position, kEurUsd, decimal_literal("-1")));
  EXPECT_FALSE(gateway.shrink_exposure(7, Limit::position, kEurUsd, Decimal{}));  // no such account

  EXPECT_TRUE(gateway.shrink_exposure(0, Limit::position, kEurUsd, decimal_literal("12000")));
  EXPECT_EQ(find_lease(gateway, "acc-a", Limit::position, kEurUsd)->lease, decimal_literal("12000"));
  EXPECT_EQ(alice.submit(limit_order("s-2", Side::buy, "1.08000", "2001")).reason, Reason::MAX_POSITION_EXCEEDED);
  EXPECT_TRUE(alice.submit(limit_order("s-3", Side::buy, "1.08000", "2000")).accepted());
  // A sell counts against the same lease in its own direction.
  EXPECT_TRUE(alice.submit(limit_order("s-4", Side::sell, "1.09000", "12000")).accepted());
  EXPECT_EQ(alice.submit(limit_order("s-5", Side::sell, "1.09000", "1")).reason, Reason::MAX_POSITION_EXCEEDED);
}

TEST(GatewayExposureLease, NotionalLeasesAreCheckedAsTheAccountsOwnLimits) {
  ManualClock clock;
  GatewayConfig config = exposure_config();
  config.accounts[1].currency = "USD";
  config.accounts[1].max_gross_notional = decimal_literal("50000");
  config.accounts[1].max_net_notional = decimal_literal("30000");
  Gateway gateway(config, clock);
  gateway.share_account_exposure();
  gateway.start();
  EXPECT_EQ(gateway.exposure_leases().size(), 10u);  // and acc-b's gross and net
  gateway.grant_exposure(1, Limit::open_orders, kEurUsd, decimal_literal("10"));
  gateway.grant_exposure(1, Limit::position, kEurUsd, decimal_literal("100000"));
  Session alice = gateway.open_session("alice");
  EXPECT_EQ(alice.submit(limit_order("n-1", Side::buy, "1.08000", "10000", "acc-b")).reason,
            Reason::MAX_GROSS_NOTIONAL_EXCEEDED);
  gateway.grant_exposure(1, Limit::gross_notional, 0, decimal_literal("50000"));
  EXPECT_EQ(alice.submit(limit_order("n-2", Side::buy, "1.08000", "10000", "acc-b")).reason,
            Reason::MAX_NET_NOTIONAL_EXCEEDED);
  gateway.grant_exposure(1, Limit::net_notional, 0, decimal_literal("20000"));
  // 10,000 EUR at mid 1.084615 is 10,846.15 USD.
  EXPECT_TRUE(alice.submit(limit_order("n-3", Side::buy, "1.08000", "10000", "acc-b")).accepted());
  EXPECT_EQ(alice.submit(limit_order("n-4", Side::buy, "1.08000", "9000", "acc-b")).reason,
            Reason::MAX_NET_NOTIONAL_EXCEEDED);
  const auto gross = find_lease(gateway, "acc-b", Limit::gross_notional);
  ASSERT_TRUE(gross);
  EXPECT_TRUE(gross->valued);
  EXPECT_EQ(gross->used, decimal_literal("10846.15"));
  EXPECT_FALSE(gateway.shrink_exposure(1, Limit::net_notional, 0, decimal_literal("10000")));
  EXPECT_TRUE(gateway.shrink_exposure(1, Limit::net_notional, 0, decimal_literal("10846.15")));
  EXPECT_EQ(alice.submit(limit_order("n-5", Side::buy, "1.08000", "1", "acc-b")).reason,
            Reason::MAX_NET_NOTIONAL_EXCEEDED);
  // An order that closes risk needs no notional lease.
  EXPECT_TRUE(alice.submit(limit_order("n-6", Side::sell, "1.09000", "10000", "acc-b")).accepted());
}

// The member's thread shrinks and grows the lease while two strategy
// threads submit resting orders as fast as they can. An order checked
// against the old lease is checked again, not let through: once the
// strategies stop after a shrink, what is used is within it. Right after a
// shrink, what is used may exceed it by the orders in flight (one per
// strategy thread): each is booked before its check fails and is taken back.
TEST(GatewayExposureLease, WhatIsUsedNeverExceedsALeaseThatShrankUnderConcurrentSubmits) {
  constexpr int kStrategies = 2;
  ManualClock clock;
  GatewayConfig config = exposure_config();
  config.instruments[0].max_open_orders = 100'000;
  config.order_capacity = 1 << 17;
  Gateway gateway(config, clock);
  gateway.share_account_exposure();
  gateway.start();
  gateway.grant_exposure(0, Limit::open_orders, kEurUsd, decimal_literal("100000"));

  std::atomic<bool> stop{false};
  std::atomic<int> accepted{0};
  auto strategy = [&](const char* prefix) {
    Session session = gateway.open_session("alice");
    for (int i = 0; !stop.load() && i < 1'000'000; ++i) {
      const std::string id = std::string(prefix) + std::to_string(i);
      if (session.submit(limit_order(id, Side::buy, "1.08000", "1")).accepted()) accepted.fetch_add(1);
    }
  };
  std::thread first(strategy, "a-");
  std::thread second(strategy, "b-");
  int shrinks = 0;
  bool ended_on_a_shrink = false;
  for (int round = 0; round < 200'000 && !ended_on_a_shrink; ++round) {
    gateway.grant_exposure(0, Limit::position, kEurUsd, decimal_literal("10"));
    std::this_thread::yield();
    // A little above what was used: an order or two may land before the
    // shrink, which then still succeeds, with submits in flight.
    const auto before = find_lease(gateway, "acc-a", Limit::position, kEurUsd);
    const Decimal target = Decimal::from_raw(before->used.raw() + decimal_literal("2").raw());
    if (gateway.shrink_exposure(0, Limit::position, kEurUsd, target)) {
      ++shrinks;
      const auto after = find_lease(gateway, "acc-a", Limit::position, kEurUsd);
      ASSERT_EQ(after->lease, target);
      ASSERT_LE(after->used, Decimal::from_raw(target.raw() + Decimal::from_integer(kStrategies).raw()))
          << "round " << round;
      ended_on_a_shrink = shrinks >= 200 || accepted.load() >= 50'000;
    }
  }
  stop.store(true);
  first.join();
  second.join();
  ASSERT_TRUE(ended_on_a_shrink) << shrinks << " shrinks";
  const auto last = find_lease(gateway, "acc-a", Limit::position, kEurUsd);
  EXPECT_LE(last->used, last->lease) << "orders accepted after the last shrink fit it";
  EXPECT_EQ(last->used, Decimal::from_integer(accepted.load()));
  EXPECT_GT(accepted.load(), 0);
}

TEST(GatewayExposureLease, SharingIsChosenBeforeStart) {
  ManualClock clock;
  Gateway gateway(exposure_config(), clock);
  gateway.start();
  EXPECT_THROW(gateway.share_account_exposure(), std::logic_error);
}

}  // namespace
}  // namespace ordergate::testing
