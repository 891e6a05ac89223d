#include "ordergate/gateway/gateway.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gateway/test_support.hpp"

namespace ordergate {
namespace {

using testing::limit_order;
using testing::market_order;
using testing::test_config;
using testing::wait_for_reports;

GatewayConfig roomy_config() {
  GatewayConfig config = test_config();
  for (auto& instrument : config.instruments) {
    instrument.max_open_orders = 100'000;
    instrument.max_position = decimal_literal("1000000000");
  }
  PrincipalConfig carol = config.principals[0];
  carol.policy.name = "carol";
  config.principals.push_back(carol);
  for (auto& principal : config.principals) principal.rate_limits = {"100000000/1s"};
  config.order_capacity = 1u << 16;
  config.broker_queue_capacity = 1u << 14;
  config.session_queue_budget = 1u << 14;  // threads flood faster than the broker takes orders
  return config;
}

// Built with append: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string.
std::string make_id(const char* prefix, int thread, int index) {
  std::string id(prefix);
  id.append(std::to_string(thread)).append("-").append(std::to_string(index));
  return id;
}

// Submits `request`; while every order record is taken by an order the
// broker has not finished, drains the session with `drain` and tries again
// (up to wait_until's limit). The last verdict.
template <typename Drain>
Verdict submit_when_a_record_is_free(Session& session, const OrderRequest& request, Drain& drain) {
  Verdict verdict;
  (void)testing::wait_until([&] {
    verdict = session.submit(request);
    if (verdict.reason != Reason::ORDER_CAPACITY_EXHAUSTED) return true;
    drain();
    return false;
  });
  return verdict;
}

struct ThreadResult {
  std::uint64_t accepted = 0;
  std::uint64_t rejected_precision = 0;
  std::uint64_t rejected_duplicate = 0;
  std::uint64_t other = 0;
  std::vector<ExecutionReport> reports;
};

// Four strategy threads, two principals, two accounts. Every thread sends the
// same mix: buy (t+1)*1000, sell 1000, an over-precise quantity, a reused id.
TEST(GatewayConcurrency, FourThreadsTotalsAddUpExactly) {
  constexpr int kThreads = 4;
  constexpr int kOrdersPerThread = 2000;
  ManualClock clock;
  Gateway gateway(roomy_config(), clock);
  gateway.start();

  std::array<ThreadResult, kThreads> results;
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const char* principal = t < 2 ? "alice" : "carol";
      const char* account = t % 2 == 0 ? "acc-a" : "acc-b";
      Session session = gateway.open_session(principal);
      ThreadResult& result = results[static_cast<std::size_t>(t)];
      const std::string buy_quantity = std::to_string((t + 1) * 1000);
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      std::string last_id;
      for (int i = 0; i < kOrdersPerThread; ++i) {
        const std::string id = make_id("t", t, i);
        OrderRequest request;
        switch (i % 4) {
          case 0: request = market_order(id, Side::buy, buy_quantity.c_str(), account); break;
          case 1: request = market_order(id, Side::sell, "1000", account); break;
          case 2: request = market_order(id, Side::buy, "1.5", account); break;
          default: request = market_order(last_id, Side::buy, "1000", account); break;
        }
        const Verdict verdict = session.submit(request);
        if (verdict.accepted()) {
          ++result.accepted;
          last_id = id;
        } else if (verdict.reason == Reason::QUANTITY_PRECISION_EXCEEDED) {
          ++result.rejected_precision;
        } else if (verdict.reason == Reason::DUPLICATE_CLIENT_ORDER_ID) {
          ++result.rejected_duplicate;
        } else {
          ++result.other;
        }
        ExecutionReport report;
        while (session.poll(report)) result.reports.push_back(report);
      }
      const std::size_t expected = 2 * result.accepted;  // NEW + FILLED each
      auto rest = wait_for_reports(session, expected - result.reports.size());
      result.reports.insert(result.reports.end(), rest.begin(), rest.end());
    });
  }
  for (auto& thread : threads) thread.join();

  std::uint64_t accepted = 0;
  std::uint64_t rejected = 0;
  for (int t = 0; t < kThreads; ++t) {
    const ThreadResult& result = results[static_cast<std::size_t>(t)];
    EXPECT_EQ(result.accepted, kOrdersPerThread / 2u) << t;
    EXPECT_EQ(result.rejected_precision, kOrdersPerThread / 4u) << t;
    EXPECT_EQ(result.rejected_duplicate, kOrdersPerThread / 4u) << t;
    EXPECT_EQ(result.other, 0u) << t;
    std::uint64_t filled = 0;
    for (const ExecutionReport& report : result.reports) {
      if (report.status == ExecStatus::filled) ++filled;
      EXPECT_EQ(report.client_order_id.view().substr(0, 2), make_id("t", t, 0).substr(0, 2));
    }
    EXPECT_EQ(filled, result.accepted) << t;
    EXPECT_EQ(result.reports.size(), 2 * result.accepted) << t;
    accepted += result.accepted;
    rejected += result.rejected_precision + result.rejected_duplicate;
  }
  const Gateway::Counters counters = gateway.counters();
  EXPECT_EQ(counters.accepted, accepted);
  EXPECT_EQ(counters.rejected, rejected);
  EXPECT_EQ(counters.executions, 2 * accepted);

  // acc-a is traded by threads 0 and 2 (buy 1000 / 3000), acc-b by 1 and 3 (2000 / 4000);
  // each thread sends 500 buys and 500 sells of 1000.
  const auto a = gateway.exposure("acc-a", "EURUSD");
  const auto b = gateway.exposure("acc-b", "EURUSD");
  EXPECT_EQ(a.position, decimal_literal(std::to_string(500 * (1000 + 3000) - 2 * 500 * 1000)));
  EXPECT_EQ(b.position, decimal_literal(std::to_string(500 * (2000 + 4000) - 2 * 500 * 1000)));
  EXPECT_EQ(a.open_orders + b.open_orders, 0u);
  EXPECT_EQ(a.working_buy, Decimal{});
  EXPECT_EQ(b.working_sell, Decimal{});
}

TEST(GatewayConcurrency, SameClientOrderIdRacedFromFourThreadsIsNeverAcceptedTwice) {
  constexpr int kThreads = 4;
  constexpr int kIds = 500;
  ManualClock clock;
  Gateway gateway(roomy_config(), clock);
  gateway.start();
  std::atomic<int> accepted[kIds] = {};
  std::atomic<int> duplicates{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Session session = gateway.open_session("alice");
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      for (int i = 0; i < kIds; ++i) {
        const std::string id = make_id("same", 0, i);
        const Verdict verdict = session.submit(market_order(id, t % 2 ? Side::sell : Side::buy, "1000"));
        if (verdict.accepted()) accepted[i].fetch_add(1);
        if (verdict.reason == Reason::DUPLICATE_CLIENT_ORDER_ID) duplicates.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  // Racing submits of one id: at most one is accepted; when they see each
  // other's claim at the same moment both are refused (fails closed).
  int total = 0;
  for (int i = 0; i < kIds; ++i) {
    ASSERT_LE(accepted[i].load(), 1) << i;
    total += accepted[i].load();
  }
  EXPECT_EQ(total + duplicates.load(), kThreads * kIds) << "every other submit is refused as a duplicate";
}

TEST(GatewayConcurrency, RateBudgetIsExactUnderContention) {
  GatewayConfig config = roomy_config();
  config.principals[0].rate_limits = {"1000/1h"};
  ManualClock clock;  // frozen: the budget never refills during the test
  Gateway gateway(config, clock);
  gateway.start();
  std::atomic<int> accepted{0};
  std::atomic<int> limited{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Session session = gateway.open_session("alice");
      for (int i = 0; i < 600; ++i) {
        const std::string id = make_id("rl", t, i);
        const Verdict verdict = session.submit(market_order(id, i % 2 ? Side::sell : Side::buy, "1000"));
        if (verdict.accepted()) accepted.fetch_add(1);
        if (verdict.reason == Reason::RATE_LIMITED) limited.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(accepted.load(), 1000);
  EXPECT_EQ(limited.load(), 1400);
}

TEST(GatewayConcurrency, OpenOrderLimitIsExactUnderContention) {
  GatewayConfig config = roomy_config();
  config.instruments[0].max_open_orders = 10;
  ManualClock clock;
  Gateway gateway(config, clock);
  gateway.start();
  std::atomic<int> accepted{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Session session = gateway.open_session("alice");
      for (int i = 0; i < 20; ++i) {
        const std::string id = make_id("oo", t, i);
        const Verdict verdict = session.submit(limit_order(id, Side::buy, "1.08000", "1000"));
        if (verdict.accepted()) accepted.fetch_add(1);
        if (verdict.reason == Reason::MAX_OPEN_ORDERS) refused.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(accepted.load(), 10);
  EXPECT_EQ(refused.load(), 70);
  EXPECT_EQ(gateway.exposure("acc-a", "EURUSD").open_orders, 10u);
}

// A halt with cancel_working races orders in the middle of `submit`: each
// round halts while another thread submits resting limits as fast as it
// can. Once set_trading_state returns, no order accepted before it may stay
// working: every one is cancelled (or, if the submit saw the halt first,
// refused). An order the halt missed would rest forever; the wait below then
// runs into its deadline. The race is probabilistic, so the test repeats it.
TEST(GatewayConcurrency, HaltWithCancelWorkingLeavesNoOrderThatWasMidSubmitWorking) {
  GatewayConfig config = roomy_config();
  config.order_capacity = 1u << 20;
  ManualClock clock;
  Gateway gateway(config, clock);
  gateway.start();
  constexpr int kRounds = 200;
  for (int round = 0; round < kRounds; ++round) {
    gateway.set_trading_state(TradingScope::global(), guards::TradingState::active);
    std::atomic<int> accepted{0};
    std::thread submitter([&] {
      Session session = gateway.open_session("alice");
      for (int i = 0;; ++i) {
        if (i >= 256) {  // the halt is late (this machine is busy): wait for it
          while (gateway.trading_state(TradingScope::global()) != guards::TradingState::halted) {
            std::this_thread::yield();
          }
        }
        const Verdict verdict = session.submit(limit_order(make_id("h", round, i), Side::buy, "1.08000", "1"));
        if (verdict.reason == Reason::TRADING_HALTED) break;
        ASSERT_TRUE(verdict.accepted()) << reason_name(verdict.reason);
        accepted.fetch_add(1, std::memory_order_release);
      }
      // The session closes here; its orders stay working until cancelled.
    });
    while (accepted.load(std::memory_order_acquire) < 1 + round % 8) std::this_thread::yield();
    gateway.set_trading_state(TradingScope::global(), guards::TradingState::halted, /*cancel_working=*/true);
    submitter.join();
    ASSERT_TRUE(testing::wait_until([&] { return gateway.open_orders("alice").empty(); }))
        << "round " << round << ": " << gateway.open_orders("alice").size() << " order(s) still working";
  }
}

// More submitting threads than cores racing for 64 records, so that threads
// are preempted while they take one: when they are done, every record is
// free again, and 64 orders rest at once. (A free list that refused a record
// given back while a preempted thread was taking another lost it for good:
// the gateway then refused orders ORDER_CAPACITY_EXHAUSTED with nothing
// working.)
TEST(GatewayConcurrency, ThreadsRacingForSixtyFourRecordsLeaveAllSixtyFourFree) {
  constexpr int kThreads = 6;
  constexpr int kOrdersPerThread = 2000;
  constexpr std::uint32_t kRecords = 64;
  GatewayConfig config = roomy_config();
  config.order_capacity = kRecords;
  ManualClock clock;
  Gateway gateway(config, clock);
  gateway.start();
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Session session = gateway.open_session(t % 2 ? "carol" : "alice");
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      std::size_t filled = 0;
      auto drain = [&] {
        ExecutionReport report;
        while (session.poll(report)) filled += report.status == ExecStatus::filled ? 1 : 0;
      };
      for (int i = 0; i < kOrdersPerThread; ++i) {
        const std::string id = make_id("r", t, i);  // the request views it
        const OrderRequest request = market_order(id, i % 2 ? Side::sell : Side::buy, "1000");
        const Verdict verdict = submit_when_a_record_is_free(session, request, drain);
        ASSERT_TRUE(verdict.accepted()) << "thread " << t << " order " << i << ": " << reason_name(verdict.reason);
        drain();
      }
      EXPECT_TRUE(testing::wait_until([&] {
        drain();
        return filled == static_cast<std::size_t>(kOrdersPerThread);
      })) << "thread " << t << ": " << filled << " fills";
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_TRUE(testing::wait_until([&] {
    return gateway.counters().order_records_reclaimed == static_cast<std::uint64_t>(kThreads * kOrdersPerThread);
  })) << gateway.counters().order_records_reclaimed << " records reclaimed";

  Session session = gateway.open_session("alice");
  for (std::uint32_t i = 0; i < kRecords; ++i) {
    const std::string id = make_id("rest", 0, static_cast<int>(i));
    const Verdict verdict = session.submit(limit_order(id, Side::buy, "1.08000", "1"));
    ASSERT_TRUE(verdict.accepted()) << "resting order " << i << " of " << kRecords << ": "
                                    << reason_name(verdict.reason);
  }
  EXPECT_EQ(session.submit(limit_order("rest-one-more", Side::buy, "1.08000", "1")).reason,
            Reason::ORDER_CAPACITY_EXHAUSTED);
}

// Four threads through 64 order records: resting orders, cancels (some of
// orders already finished, whose records serve other orders by then),
// market orders, and a cancel-all from the admin side, racing reclaim.
// Every accepted order ends exactly once, under its own client order id.
TEST(GatewayConcurrency, FourThreadsThroughSixtyFourRecordsNeverMixUpTwoUsesOfARecord) {
  constexpr int kThreads = 4;
  constexpr int kOrdersPerThread = 3000;
  GatewayConfig config = roomy_config();
  config.order_capacity = 64;
  config.duplicate_capacity = 1u << 16;
  for (auto& principal : config.principals) principal.cancel_rate_limits = {"100000000/1s"};
  ManualClock clock;
  Gateway gateway(config, clock);
  gateway.start();
  std::atomic<int> ready{0};
  std::atomic<int> finished_submitting{0};
  std::array<std::vector<std::string>, kThreads> accepted_ids;
  std::array<std::vector<ExecutionReport>, kThreads> terminal;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Session session = gateway.open_session(t % 2 ? "carol" : "alice");
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      auto drain = [&] {
        ExecutionReport report;
        while (session.poll(report)) {
          if (is_terminal(report.status)) terminal[static_cast<std::size_t>(t)].push_back(report);
        }
      };
      for (int i = 0; i < kOrdersPerThread; ++i) {
        const std::string id = make_id("u", t, i);
        const OrderRequest request = i % 3 == 0 ? market_order(id, i % 2 ? Side::sell : Side::buy, "1000")
                                                : limit_order(id, Side::buy, "1.08000", "1000", t % 2 ? "acc-b" : "acc-a");
        // All 64 records may be taken by orders the broker has not finished.
        const Verdict verdict = submit_when_a_record_is_free(session, request, drain);
        ASSERT_TRUE(verdict.accepted()) << id << ": " << reason_name(verdict.reason);
        accepted_ids[static_cast<std::size_t>(t)].push_back(id);
        // Cancel a recent order: working, finished, or with its record
        // already serving another order.
        if (i >= 2) (void)session.cancel(make_id("u", t, i - 2));
        drain();
      }
      finished_submitting.fetch_add(1);
      // Every accepted order ends (the main thread cancels what rests).
      EXPECT_TRUE(testing::wait_until([&] {
        drain();
        return terminal[static_cast<std::size_t>(t)].size() >= accepted_ids[static_cast<std::size_t>(t)].size();
      })) << "thread " << t;
      drain();
    });
  }
  while (ready.load() < kThreads) std::this_thread::yield();
  for (int round = 0; round < 50; ++round) {
    (void)gateway.cancel_orders(CancelFilter{});
    std::this_thread::yield();
  }
  // Every accepted order ends: cancel what still rests, then wait.
  auto total_accepted = [&] {
    std::size_t total = 0;
    for (const auto& ids : accepted_ids) total += ids.size();
    return total;
  };
  EXPECT_TRUE(testing::wait_until([&] {
    (void)gateway.cancel_orders(CancelFilter{});
    return finished_submitting.load() == kThreads && gateway.exposure("acc-a", "EURUSD").open_orders == 0 &&
           gateway.exposure("acc-b", "EURUSD").open_orders == 0;
  }));
  for (auto& thread : threads) thread.join();

  for (int t = 0; t < kThreads; ++t) {
    std::vector<std::string> ended;
    for (const ExecutionReport& report : terminal[static_cast<std::size_t>(t)]) {
      ended.emplace_back(report.client_order_id.view());
    }
    std::vector<std::string> expected = accepted_ids[static_cast<std::size_t>(t)];
    std::sort(ended.begin(), ended.end());
    std::sort(expected.begin(), expected.end());
    std::vector<std::string> missing;
    std::vector<std::string> extra;
    std::set_difference(expected.begin(), expected.end(), ended.begin(), ended.end(), std::back_inserter(missing));
    std::set_difference(ended.begin(), ended.end(), expected.begin(), expected.end(), std::back_inserter(extra));
    EXPECT_TRUE(missing.empty() && extra.empty())
        << "thread " << t << ": one terminal report per accepted order, under its own id; missing "
        << (missing.empty() ? "none" : missing.front()) << " (" << missing.size() << "), extra "
        << (extra.empty() ? "none" : extra.front()) << " (" << extra.size() << ")";
  }
  EXPECT_EQ(total_accepted(), static_cast<std::size_t>(kThreads * kOrdersPerThread));
  EXPECT_GT(gateway.counters().order_records_reclaimed, static_cast<std::uint64_t>(kThreads * kOrdersPerThread - 64));
}

}  // namespace
}  // namespace ordergate
