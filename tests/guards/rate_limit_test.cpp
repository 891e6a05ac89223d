#include "ordergate/guards/rate_limit.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ordergate/core/clock.hpp"

namespace ordergate::guards {
namespace {

constexpr std::int64_t kMs = kNanosPerMilli;
constexpr std::int64_t kSec = kNanosPerSecond;
constexpr std::int64_t kStart = 1'000 * kSec;  // an arbitrary monotonic time

RateWindow window(const char* text) {
  RateWindow out;
  std::string error;
  EXPECT_TRUE(parse_rate_window(text, out, error)) << text << ": " << error;
  return out;
}

GcraParams params(const char* text) { return GcraParams::from(window(text)); }

// --- parsing -------------------------------------------------------------------

TEST(ParseRateWindow, ReadsCountAndPeriodInEveryUnit) {
  EXPECT_EQ(window("20/1s"), (RateWindow{20, kSec}));
  EXPECT_EQ(window("600/1m"), (RateWindow{600, 60 * kSec}));
  EXPECT_EQ(window("5/100ms"), (RateWindow{5, 100 * kMs}));
  EXPECT_EQ(window("1/1h"), (RateWindow{1, 3600 * kSec}));
  EXPECT_EQ(window("1000/1h"), (RateWindow{1000, 3600 * kSec}));
  EXPECT_EQ(window("50/250us"), (RateWindow{50, 250 * kNanosPerMicro}));
  EXPECT_EQ(window("4294967295/2400h"), (RateWindow{4294967295u, 2400LL * 3600 * kSec}));
}

TEST(ParseRateWindow, RejectsMalformedTextWithAMessage) {
  for (const char* text : {"", "0/1s", "5/0s", "5/1x", "abc", "5/", "/1s", "-1/1s", "4294967296/1s",
                           "99999999999999999999999/1s", "5/1", "5/s", "5 /1s", "5/ 1s", "5/1s ", " 5/1s",
                           "+5/1s", "5/-1s", "5/1.5s", "5/1S", "5/1s/2", "5//1s", "5/2401h",
                           "5/99999999999999999999999h", "1001/1us"}) {
    RateWindow out{7, 7};
    std::string error;
    EXPECT_FALSE(parse_rate_window(text, out, error)) << text;
    EXPECT_NE(error.find(std::string("'") + text + "'"), std::string::npos) << text << ": " << error;
    EXPECT_EQ(out, (RateWindow{7, 7})) << text;
  }
}

TEST(ParseRateWindow, SaysWhichPartIsWrong) {
  RateWindow out;
  std::string error;
  ASSERT_FALSE(parse_rate_window("0/1s", out, error));
  EXPECT_NE(error.find("count"), std::string::npos) << error;
  ASSERT_FALSE(parse_rate_window("5/1fortnight", out, error));
  EXPECT_NE(error.find("period"), std::string::npos) << error;
}

// --- GCRA parameters -------------------------------------------------------------

TEST(GcraParams, SplitsTheWindowIntoEmissionIntervalAndTolerance) {
  const GcraParams p = params("20/1s");
  EXPECT_EQ(p.emission_ns, 50 * kMs);
  EXPECT_EQ(p.tolerance_ns, 950 * kMs);
}

TEST(GcraRemaining, CountsWhatTheWindowAdmitsNowAndRefillsWithTime) {
  const GcraParams five_per_second = params("5/1s");  // T = 200 ms, tau = 800 ms
  GcraCell cell;
  EXPECT_EQ(gcra_remaining(cell, five_per_second, 0), 5) << "a fresh cell admits a full burst";
  for (int i = 0; i < 3; ++i) ASSERT_EQ(gcra_consume(cell, five_per_second, 0), 0);
  EXPECT_EQ(gcra_remaining(cell, five_per_second, 0), 2);
  ASSERT_EQ(gcra_consume(cell, five_per_second, 0), 0);
  ASSERT_EQ(gcra_consume(cell, five_per_second, 0), 0);
  EXPECT_EQ(gcra_remaining(cell, five_per_second, 0), 0);
  EXPECT_GT(gcra_consume(cell, five_per_second, 0), 0) << "the count agrees with consume";
  EXPECT_EQ(gcra_remaining(cell, five_per_second, 199'999'999), 0);
  EXPECT_EQ(gcra_remaining(cell, five_per_second, 200'000'000), 1) << "one emission interval later";
  EXPECT_EQ(gcra_remaining(cell, five_per_second, 10'000'000'000), 5) << "never more than the burst";
  EXPECT_EQ(gcra_remaining(cell, GcraParams{}, 0), 0) << "an invalid window admits nothing";
}

TEST(GcraParams, RoundsTheEmissionIntervalUpSoTheLimitIsNeverLooser) {
  const GcraParams p = params("3/1s");
  EXPECT_EQ(p.emission_ns, 333'333'334);
  // count - 1 intervals of tolerance: period - T would be 2 ns short of
  // admitting the third request of the burst.
  EXPECT_EQ(p.tolerance_ns, 2 * 333'333'334);
}

TEST(GcraParams, InvalidWindowsGiveParametersThatAdmitNothing) {
  const GcraParams p = GcraParams::from(RateWindow{0, kSec});
  GcraCell cell;
  EXPECT_GT(gcra_wait(cell, p, kStart), 0);
  EXPECT_GT(gcra_consume(cell, p, kStart), 0);
  EXPECT_GT(gcra_wait(cell, GcraParams::from(RateWindow{5, 0}), kStart), 0);
}

// --- one cell ----------------------------------------------------------------------

TEST(RateLimit, RejectsBurstBeyondToleranceAndReportsRetryAfter) {
  const GcraParams p = params("5/1s");
  GcraCell cell;
  for (int i = 0; i < 5; ++i) ASSERT_EQ(gcra_consume(cell, p, kStart), 0) << i;
  EXPECT_EQ(gcra_wait(cell, p, kStart), 200 * kMs);
  EXPECT_EQ(gcra_consume(cell, p, kStart), 200 * kMs);
  EXPECT_EQ(gcra_consume(cell, p, kStart + 200 * kMs - 1), 1);
  EXPECT_EQ(gcra_consume(cell, p, kStart + 200 * kMs), 0);
}

TEST(RateLimit, RefusalChangesNothing) {
  const GcraParams p = params("2/1s");
  GcraCell cell;
  ASSERT_EQ(gcra_consume(cell, p, kStart), 0);
  ASSERT_EQ(gcra_consume(cell, p, kStart), 0);
  const std::int64_t tat = cell.tat.load();
  for (int i = 0; i < 10; ++i) EXPECT_GT(gcra_consume(cell, p, kStart + i), 0);
  EXPECT_EQ(cell.tat.load(), tat);
}

TEST(RateLimit, AdmitsOneRequestPerEmissionIntervalAtSteadyRate) {
  const GcraParams p = params("10/1s");
  GcraCell cell;
  for (int i = 0; i < 10; ++i) ASSERT_EQ(gcra_consume(cell, p, kStart), 0);
  for (int k = 1; k <= 50; ++k) {
    const std::int64_t now = kStart + k * 100 * kMs;
    EXPECT_EQ(gcra_consume(cell, p, now), 0) << k;
    EXPECT_EQ(gcra_consume(cell, p, now), 100 * kMs) << k;
  }
}

TEST(RateLimit, IdleTimeRefillsTheBurstButNeverBeyondIt) {
  const GcraParams p = params("4/1s");
  GcraCell cell;
  for (int i = 0; i < 4; ++i) ASSERT_EQ(gcra_consume(cell, p, kStart), 0);
  const std::int64_t later = kStart + 3600 * kSec;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(gcra_consume(cell, p, later), 0) << i;
  EXPECT_EQ(gcra_consume(cell, p, later), 250 * kMs);
}

TEST(RateLimit, AdmitsExactlyTheBurstWhenTheCountDoesNotDivideThePeriod) {
  const GcraParams p = params("3/1s");
  GcraCell cell;
  for (int i = 0; i < 3; ++i) ASSERT_EQ(gcra_consume(cell, p, kStart), 0) << i;
  EXPECT_EQ(gcra_consume(cell, p, kStart), p.emission_ns);
  // Sustained, one request per rounded-up interval: never faster than 3/1s.
  EXPECT_EQ(gcra_consume(cell, p, kStart + 333'333'333), 1);
  EXPECT_EQ(gcra_consume(cell, p, kStart + 333'333'334), 0);
}

TEST(RateLimit, AFreshCellAdmitsAFullBurstEvenWhenTheClockStartsAtZero) {
  for (std::int64_t start : {std::int64_t{0}, std::int64_t{1}, 999 * kMs}) {
    const GcraParams p = params("3/1s");
    GcraCell cell;
    for (int i = 0; i < 3; ++i) EXPECT_EQ(gcra_consume(cell, p, start), 0) << start << " #" << i;
    EXPECT_GT(gcra_consume(cell, p, start), 0) << start;
  }
}

TEST(RateLimit, RefundRestoresExactlyOneRequest) {
  const GcraParams p = params("3/1s");
  GcraCell cell;
  for (int i = 0; i < 3; ++i) ASSERT_EQ(gcra_consume(cell, p, kStart), 0);
  ASSERT_GT(gcra_consume(cell, p, kStart), 0);
  gcra_refund(cell, p);
  EXPECT_EQ(gcra_consume(cell, p, kStart), 0);
  EXPECT_GT(gcra_consume(cell, p, kStart), 0);
}

TEST(RateLimit, ARefundAfterIdleTimeGivesNoExtraBurst) {
  const GcraParams p = params("2/1s");
  GcraCell cell;
  ASSERT_EQ(gcra_consume(cell, p, kStart), 0);
  gcra_refund(cell, p);
  gcra_refund(cell, p);  // more refunds than consumes push TAT into the past
  for (int i = 0; i < 2; ++i) EXPECT_EQ(gcra_consume(cell, p, kStart + 10 * kSec), 0);
  EXPECT_GT(gcra_consume(cell, p, kStart + 10 * kSec), 0);
}

// --- several windows -----------------------------------------------------------

TEST(RateCheck, AdmitsOnlyWhenEveryWindowAdmits) {
  const GcraParams fast = params("2/1s");    // T 500 ms, tolerance 500 ms
  const GcraParams slow = params("4/10s");   // T 2.5 s, tolerance 7.5 s
  GcraCell fast_cell;
  GcraCell slow_cell;
  RateCheck check;
  ASSERT_TRUE(check.add(fast_cell, fast));
  ASSERT_TRUE(check.add(slow_cell, slow));
  std::int64_t retry_after = -1;

  ASSERT_EQ(check.consume(kStart, retry_after), Reason::OK);
  EXPECT_EQ(retry_after, 0);
  ASSERT_EQ(check.consume(kStart, retry_after), Reason::OK);
  // The fast window binds first.
  EXPECT_EQ(check.consume(kStart, retry_after), Reason::RATE_LIMITED);
  EXPECT_EQ(retry_after, 500 * kMs);
  ASSERT_EQ(check.consume(kStart + 500 * kMs, retry_after), Reason::OK);
  ASSERT_EQ(check.consume(kStart + 1000 * kMs, retry_after), Reason::OK);
  // Four requests used the slow window's burst: now it binds, though the
  // fast one would admit.
  const std::int64_t fast_tat = fast_cell.tat.load();
  EXPECT_EQ(gcra_wait(fast_cell, fast, kStart + 1500 * kMs), 0);
  EXPECT_EQ(check.consume(kStart + 1500 * kMs, retry_after), Reason::RATE_LIMITED);
  EXPECT_EQ(retry_after, 1000 * kMs);
  EXPECT_EQ(fast_cell.tat.load(), fast_tat);  // nothing charged on refusal
  EXPECT_EQ(check.consume(kStart + 2500 * kMs, retry_after), Reason::OK);
}

TEST(RateCheck, ReportsTheLongestWaitWhenSeveralWindowsRefuse) {
  const GcraParams short_window = params("1/1s");
  const GcraParams long_window = params("1/1m");
  GcraCell a;
  GcraCell b;
  RateCheck check;
  ASSERT_TRUE(check.add(a, short_window));
  ASSERT_TRUE(check.add(b, long_window));
  std::int64_t retry_after = 0;
  ASSERT_EQ(check.consume(kStart, retry_after), Reason::OK);
  EXPECT_EQ(check.consume(kStart + 10 * kSec, retry_after), Reason::RATE_LIMITED);
  EXPECT_EQ(retry_after, 50 * kSec);
}

TEST(RateCheck, UndoesPartialChargesWhenALaterWindowTurnsOutFull) {
  // The same cell twice: the look-ahead sees room for one request, the
  // second charge fails, and the first must be given back.
  const GcraParams p = params("1/1s");
  GcraCell cell;
  RateCheck check;
  ASSERT_TRUE(check.add(cell, p));
  ASSERT_TRUE(check.add(cell, p));
  std::int64_t retry_after = 0;
  EXPECT_EQ(check.consume(kStart, retry_after), Reason::RATE_LIMITED);
  EXPECT_EQ(retry_after, kSec);
  EXPECT_EQ(gcra_consume(cell, p, kStart), 0);  // the cell is whole again
}

TEST(RateCheck, RefundGivesBackEveryWindow) {
  const GcraParams a = params("1/1s");
  const GcraParams b = params("1/1h");
  GcraCell a_cell;
  GcraCell b_cell;
  RateCheck check;
  ASSERT_TRUE(check.add(a_cell, a));
  ASSERT_TRUE(check.add(b_cell, b));
  std::int64_t retry_after = 0;
  ASSERT_EQ(check.consume(kStart, retry_after), Reason::OK);
  ASSERT_EQ(check.consume(kStart, retry_after), Reason::RATE_LIMITED);
  check.refund();
  EXPECT_EQ(check.consume(kStart, retry_after), Reason::OK);
}

TEST(RateCheck, AnEmptyCheckAlwaysAdmits) {
  RateCheck check;
  std::int64_t retry_after = 99;
  EXPECT_EQ(check.consume(kStart, retry_after), Reason::OK);
  EXPECT_EQ(retry_after, 0);
}

TEST(RateCheck, RefusesToGrowBeyondItsCapacity) {
  GcraCell cells[RateCheck::kMaxEntries + 1];
  const GcraParams p = params("1/1s");
  RateCheck check;
  for (std::size_t i = 0; i < RateCheck::kMaxEntries; ++i) ASSERT_TRUE(check.add(cells[i], p));
  EXPECT_FALSE(check.add(cells[RateCheck::kMaxEntries], p));
  EXPECT_EQ(check.size(), RateCheck::kMaxEntries);
  check.clear();
  EXPECT_EQ(check.size(), 0u);
}

// --- limiter --------------------------------------------------------------------

TEST(GcraLimiter, KeepsSeparateStatePerKey) {
  GcraLimiter limiter({window("1/1s"), window("10/1m")}, 3);
  std::int64_t retry_after = 0;
  for (std::size_t key = 0; key < 3; ++key) {
    RateCheck check;
    ASSERT_TRUE(limiter.collect(key, check));
    EXPECT_EQ(check.size(), 2u);
    EXPECT_EQ(check.consume(kStart, retry_after), Reason::OK) << key;
  }
  RateCheck again;
  ASSERT_TRUE(limiter.collect(1, again));
  EXPECT_EQ(again.consume(kStart, retry_after), Reason::RATE_LIMITED);
  EXPECT_EQ(retry_after, kSec);
}

TEST(GcraLimiter, UnknownKeysAddNothing) {
  GcraLimiter limiter({window("1/1s")}, 2);
  RateCheck check;
  EXPECT_TRUE(limiter.collect(2, check));
  EXPECT_EQ(check.size(), 0u);
  GcraLimiter unlimited;
  EXPECT_TRUE(unlimited.collect(0, check));
  EXPECT_EQ(check.size(), 0u);
}

TEST(GcraLimiter, CollectReportsAFullCheckSoTheCallerCanFailClosed) {
  std::vector<RateWindow> windows(10, RateWindow{1, kSec});
  GcraLimiter limiter(windows, 1);
  RateCheck check;
  EXPECT_TRUE(limiter.collect(0, check));
  EXPECT_FALSE(limiter.collect(0, check));
}

TEST(GcraLimiter, RefusesInvalidOrTooManyWindows) {
  EXPECT_THROW(GcraLimiter({RateWindow{0, kSec}}, 1), std::invalid_argument);
  EXPECT_THROW(GcraLimiter({RateWindow{1, 0}}, 1), std::invalid_argument);
  EXPECT_THROW(GcraLimiter(std::vector<RateWindow>(RateCheck::kMaxEntries + 1, RateWindow{1, kSec}), 1),
               std::invalid_argument);
  const GcraLimiter limiter({window("20/1s"), window("600/1m")}, 4);
  EXPECT_EQ(limiter.windows().size(), 2u);
}

// --- concurrency ----------------------------------------------------------------

constexpr int kThreads = 4;

template <typename Body>
void run_threads(Body body) {
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      body();
    });
  }
  go.store(true, std::memory_order_release);
  for (std::thread& thread : threads) thread.join();
}

TEST(RateLimitConcurrency, AdmitsExactlyTheBurstWhenTimeIsFrozen) {
  const GcraParams p = params("100/1s");
  GcraCell cell;
  std::atomic<int> admitted{0};
  run_threads([&] {
    for (int i = 0; i < 1000; ++i) {
      if (gcra_consume(cell, p, kStart) == 0) admitted.fetch_add(1);
    }
  });
  EXPECT_EQ(admitted.load(), 100);
  EXPECT_EQ(cell.tat.load(), kStart + 100 * p.emission_ns);
}

TEST(RateLimitConcurrency, MultiWindowChecksChargeExactlyTheAdmittedRequests) {
  const GcraParams per_second = params("50/1s");
  const GcraParams per_minute = params("30/1m");
  GcraCell second_cell;
  GcraCell minute_cell;
  std::atomic<int> admitted{0};
  run_threads([&] {
    for (int i = 0; i < 500; ++i) {
      RateCheck check;
      check.add(second_cell, per_second);
      check.add(minute_cell, per_minute);
      std::int64_t retry_after = 0;
      if (check.consume(kStart, retry_after) == Reason::OK) admitted.fetch_add(1);
    }
  });
  EXPECT_EQ(admitted.load(), 30);
  // Refunds after lost races left no trace: each cell holds exactly 30 charges.
  EXPECT_EQ(second_cell.tat.load(), kStart + 30 * per_second.emission_ns);
  EXPECT_EQ(minute_cell.tat.load(), kStart + 30 * per_minute.emission_ns);
}

}  // namespace
}  // namespace ordergate::guards

namespace ordergate::guards {
namespace {

TEST(GcraLimiterInherit, KeepsBudgetsWhenWindowsAreUnchangedAndStartsFreshOtherwise) {
  GcraLimiter old_limiter({RateWindow{2, 1'000'000'000}}, 1);
  RateCheck check;
  std::int64_t retry = 0;
  for (int i = 0; i < 2; ++i) {
    check.clear();
    ASSERT_TRUE(old_limiter.collect(0, check));
    ASSERT_EQ(check.consume(1'000, retry), Reason::OK);
  }
  GcraLimiter same({RateWindow{2, 1'000'000'000}}, 1);
  same.inherit(old_limiter);
  check.clear();
  ASSERT_TRUE(same.collect(0, check));
  EXPECT_EQ(check.consume(1'000, retry), Reason::RATE_LIMITED);  // budget carried over

  GcraLimiter changed({RateWindow{3, 1'000'000'000}}, 1);
  changed.inherit(old_limiter);
  check.clear();
  ASSERT_TRUE(changed.collect(0, check));
  EXPECT_EQ(check.consume(1'000, retry), Reason::OK);  // new windows, fresh budget
}

}  // namespace
}  // namespace ordergate::guards
