#include "ordergate/core/counter_timeline.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <thread>
#include <vector>

#include "ordergate/core/clock.hpp"

namespace ordergate {
namespace {

constexpr std::int64_t kPeriodNs = 50'000'000;

// A machine whose true time moves `step_ns` at every counter read. Its
// counter runs at `ticks_per_ns`; its reference clock reads the true time,
// scaled from `reference_from_ns` on by `reference_rate` and shifted by
// `reference_jump_ns` (a frequency correction, a paused machine).
struct World {
  std::atomic<std::int64_t> true_ns{1'000'000'000};
  std::int64_t step_ns = 1'000;
  std::int64_t ticks_per_ns = 3;
  std::atomic<std::int64_t> reference_from_ns{0};
  std::atomic<double> reference_rate{1.0};
  std::atomic<std::int64_t> reference_jump_ns{0};

  std::int64_t reference_at(std::int64_t ns) const {
    const std::int64_t from = reference_from_ns.load();
    const double rate = reference_rate.load();
    const std::int64_t scaled = ns <= from ? ns : from + static_cast<std::int64_t>(static_cast<double>(ns - from) * rate);
    return scaled + reference_jump_ns.load();
  }
  std::int64_t reference_now() const { return reference_at(true_ns.load()); }
  // From now on the reference runs `ppm` faster (or slower) than before.
  void change_reference_rate(double ppm) {
    reference_jump_ns.store(reference_now() - true_ns.load());
    reference_from_ns.store(true_ns.load());
    reference_rate.store(1.0 + ppm / 1e6);
  }
};

struct FakeCounter {
  World* world;
  std::int64_t operator()() const noexcept {
    return (world->true_ns.fetch_add(world->step_ns) + world->step_ns) * world->ticks_per_ns;
  }
};

// Reading the reference takes a step too, so that a sample's middle
// counter value is the counter at the reference's reading.
struct FakeReference {
  World* world;
  std::int64_t operator()() const noexcept {
    return world->reference_at(world->true_ns.fetch_add(world->step_ns) + world->step_ns);
  }
};

using Timeline = CounterTimeline<FakeCounter, FakeReference>;

// How far a reading of the timeline is from the reference at the moment
// its counter was read (one step on); one thread only.
std::int64_t off(Timeline& timeline, World& world) {
  const std::int64_t before = world.true_ns.load();
  const std::int64_t reading = timeline.now();
  return reading - world.reference_at(before + world.step_ns);
}

// Reads the timeline for `ns` of true time, in reads `step_ns` apart;
// fails on a reading earlier than the one before. Returns the last one.
std::int64_t read_for(Timeline& timeline, World& world, std::int64_t ns, std::int64_t& previous) {
  const std::int64_t until = world.true_ns.load() + ns;
  std::int64_t reading = previous;
  while (world.true_ns.load() < until) {
    reading = timeline.now();
    EXPECT_GE(reading, previous) << "the timeline went back";
    previous = reading;
  }
  return reading;
}

TEST(CounterTimeline, StartsOnTheReferenceAndStaysOnItAtAConstantRate) {
  World world;
  Timeline timeline(FakeCounter{&world}, FakeReference{&world}, kPeriodNs);
  std::int64_t previous = 0;
  for (int period = 0; period < 20; ++period) {
    read_for(timeline, world, kPeriodNs / 3, previous);
    EXPECT_LE(std::llabs(off(timeline, world)), 2) << "period " << period;  // the multiply's rounding
  }
}

TEST(CounterTimeline, FollowsAReferenceCorrectedFasterWithoutJumping) {
  World world;
  Timeline timeline(FakeCounter{&world}, FakeReference{&world}, kPeriodNs);
  std::int64_t previous = 0;
  read_for(timeline, world, 2 * kPeriodNs, previous);
  const std::uint64_t calibrated = timeline.mult();
  world.change_reference_rate(+300);  // the kernel speeds CLOCK_MONOTONIC up by 300 ppm
  // 300 ppm of a 50 ms period is 15 us: the distance never grows past a
  // few periods' worth, and is closed within a few periods.
  for (int period = 0; period < 6; ++period) {
    read_for(timeline, world, kPeriodNs, previous);
    EXPECT_LT(std::llabs(off(timeline, world)), 3 * 15'000) << "period " << period;
  }
  read_for(timeline, world, 10 * kPeriodNs, previous);
  EXPECT_LT(std::llabs(off(timeline, world)), 100);
  const double ppm = (static_cast<double>(timeline.mult()) / static_cast<double>(calibrated) - 1.0) * 1e6;
  EXPECT_NEAR(ppm, 300.0, 5.0);
}

TEST(CounterTimeline, SlowsDownToAReferenceBehindItAndNeverGoesBack) {
  World world;
  Timeline timeline(FakeCounter{&world}, FakeReference{&world}, kPeriodNs);
  std::int64_t previous = 0;
  read_for(timeline, world, 2 * kPeriodNs, previous);
  world.change_reference_rate(-400);
  read_for(timeline, world, 20 * kPeriodNs, previous);  // fails on any step back
  EXPECT_LT(std::llabs(off(timeline, world)), 100);
}

TEST(CounterTimeline, AReferenceFarAheadIsJoinedAtOnceAndOneBehindOnlyByTheSlewLimit) {
  World world;
  Timeline timeline(FakeCounter{&world}, FakeReference{&world}, kPeriodNs);
  std::int64_t previous = 0;
  read_for(timeline, world, 2 * kPeriodNs, previous);
  world.reference_jump_ns.store(world.reference_jump_ns.load() + 5'000'000'000);  // a paused machine
  read_for(timeline, world, 2 * kPeriodNs, previous);
  EXPECT_LT(std::llabs(off(timeline, world)), 100);
  const std::uint64_t rate = timeline.mult();

  // Behind by 10 ms, it slews: 1000 ppm of a period at most, never back.
  world.reference_jump_ns.store(world.reference_jump_ns.load() - 10'000'000);
  const std::int64_t before = off(timeline, world);
  read_for(timeline, world, 4 * kPeriodNs, previous);
  const std::int64_t closed = before - off(timeline, world);
  EXPECT_GT(before, 9'000'000);
  EXPECT_GE(closed, 3 * kPeriodNs / 1000 - 1'000);  // about 50 us a period, three or four re-anchors
  EXPECT_LE(closed, 4 * kPeriodNs / 1000 + 1'000);
  // Neither jump was taken for a change of the counter's rate.
  const double ppm = (static_cast<double>(timeline.mult()) / static_cast<double>(rate) - 1.0) * 1e6;
  EXPECT_NEAR(ppm, -1000.0, 5.0);
}

TEST(CounterTimeline, ThreadsReadingWhileItReanchorsNeverReadATornAnchor) {
  World world;
  world.step_ns = 50;
  // Many re-anchors: 200 us of fake time a period, 40 ms in all.
  Timeline timeline(FakeCounter{&world}, FakeReference{&world}, /*period_ns=*/200'000);
  std::vector<std::thread> readers;
  std::atomic<std::int64_t> worst_back{0};
  std::atomic<std::int64_t> worst_off{0};
  for (int thread = 0; thread < 4; ++thread) {
    readers.emplace_back([&] {
      std::int64_t previous = 0;
      for (int read = 0; read < 200'000; ++read) {
        const std::int64_t before = world.reference_now();
        const std::int64_t reading = timeline.now();
        const std::int64_t after = world.reference_now();
        // A torn anchor (one period's ticks with another's time) would put
        // the reading a period (200 us) outside the reference around it,
        // or a period back. What remains is the slope's noise over the
        // time a preempted reader holds an old anchor, where every read of
        // the other threads moves time on.
        if (previous - reading > worst_back.load()) worst_back.store(previous - reading);
        const std::int64_t outside = reading < before ? before - reading : (reading > after ? reading - after : 0);
        if (outside > worst_off.load()) worst_off.store(outside);
        if (reading > previous) previous = reading;
      }
    });
  }
  for (auto& reader : readers) reader.join();
  EXPECT_LT(worst_back.load(), 10'000);
  EXPECT_LT(worst_off.load(), 10'000);
  std::int64_t previous = 0;
  read_for(timeline, world, 20 * 200'000, previous);
  EXPECT_LT(std::llabs(off(timeline, world)), 100);
}

TEST(TscClock, WhereUsableItAgreesWithClockMonotonicAndEachThreadsTimeGoesForward) {
  if (!TscClock::usable()) GTEST_SKIP() << "this machine's monotonic clock is not the time-stamp counter";
  const TscClock& clock = TscClock::instance();
  EXPECT_STREQ(default_clock_name(), "tsc");
  EXPECT_EQ(&default_clock(), &clock);
  const SystemClock& system = SystemClock::instance();
  std::atomic<int> back{0};
  std::atomic<std::int64_t> worst{0};
  auto read = [&] {
    std::int64_t previous = 0;
    // Three periods of the timeline, so that it re-anchors on the way.
    const std::int64_t until = system.monotonic_ns() + 160'000'000;
    for (std::int64_t reads = 0;; ++reads) {
      const std::int64_t before = system.monotonic_ns();
      const std::int64_t reading = clock.monotonic_ns();
      const std::int64_t after = system.monotonic_ns();
      if (reading < previous) back.fetch_add(1);
      previous = reading;
      // Within 20 us of the kernel's clock (the timeline keeps within
      // about a microsecond; the rest is room for a preempted read).
      const std::int64_t off = reading < before ? before - reading : (reading > after ? reading - after : 0);
      if (off > worst.load()) worst.store(off);
      if (after > until) break;
    }
  };
  std::thread other(read);
  read();
  other.join();
  EXPECT_EQ(back.load(), 0);
  EXPECT_LT(worst.load(), 20'000) << "ns from CLOCK_MONOTONIC";
}

}  // namespace
}  // namespace ordergate
