#pragma once

/// \file
/// Nanoseconds of a reference clock (CLOCK_MONOTONIC), computed from a
/// cheaper counter (the CPU's time-stamp counter): TscClock's engine,
/// a template so that tests drive it with counters of their own.
///
/// A reading is `ns + (counter - ticks) x mult`, from the current anchor
/// (ticks, ns, mult). The reader that finds the anchor a period old
/// re-anchors: it reads the reference once, measures the counter's rate
/// over the last period, and sets the next slope so that the timeline
/// closes its distance to the reference over the next period, by at most
/// kMaxSlewPpm. The new anchor starts where the old line is at that
/// moment, so the timeline never jumps back; more than kMaxStepNs behind
/// the reference (a paused machine), it steps forward to it.
///
/// Readers take no lock and write nothing: the anchor is one of two,
/// each with its own sequence number, and the one re-anchoring writes
/// the one readers are not sent to. A re-anchor happens once per period
/// (50 ms by default), in whichever reader gets there first.

#include <atomic>
#include <cstdint>
#include <utility>

namespace ordergate {

namespace detail {
// 128-bit products of 64-bit tick counts and fixed-point rates.
__extension__ typedef __int128 WideInteger;
}  // namespace detail

template <class Counter, class Reference>
class CounterTimeline {
 public:
  /// Largest change of slope a re-anchor makes to close the distance to
  /// the reference (the kernel's own frequency correction is at most 500).
  static constexpr std::int64_t kMaxSlewPpm = 1000;
  /// A timeline further behind the reference than this steps forward.
  static constexpr std::int64_t kMaxStepNs = 1'000'000;
  /// A measured rate further than this from the calibrated one is a jump
  /// of the reference or a spoiled sample, not a rate, and is not taken.
  static constexpr std::int64_t kMaxRateChangePpm = 2000;

  /// Measures the counter's rate against the reference until `calibration_ns`
  /// of reference time have passed (spinning), then starts at the reference.
  CounterTimeline(Counter counter, Reference reference, std::int64_t period_ns = 50'000'000,
                  std::int64_t calibration_ns = 1'000'000)
      : counter_(std::move(counter)), reference_(std::move(reference)), period_ns_(period_ns) {
    const Sample first = sample();
    Sample last = first;
    do {
      last = sample();
    } while (last.ns - first.ns < calibration_ns || last.ticks == first.ticks);
    rate_ = rate(first, last);
    if (rate_ == 0) rate_ = 1;
    calibrated_ = rate_;
    last_sample_ = last;
    publish(Anchor{last.ticks, last.ns, rate_, period_ticks(rate_)});
  }

  CounterTimeline(const CounterTimeline&) = delete;
  CounterTimeline& operator=(const CounterTimeline&) = delete;

  /// The time now, in the reference's nanoseconds. Never earlier than an
  /// earlier reading through the same anchor. Across a re-anchor two
  /// readings may differ from the new line by the slope's change over the
  /// time the reader held the old anchor, plus a nanosecond of rounding:
  /// well under a nanosecond once the rate is measured, unless the reader
  /// was preempted in between (TscClock clamps each thread's readings so
  /// that its own time never goes back).
  [[nodiscard]] std::int64_t now() noexcept {
    const Anchor anchor = current();
    const std::int64_t ticks = counter_();
    const std::int64_t elapsed = ticks - anchor.ticks;
    const std::int64_t ns = anchor.ns + scale(elapsed, anchor.mult);
    if (elapsed >= anchor.period_ticks) [[unlikely]] reanchor();
    return ns;
  }

  /// The slope now, in reference nanoseconds per counter tick, times 2^32.
  [[nodiscard]] std::uint64_t mult() const noexcept { return current().mult; }

 private:
  using Wide = detail::WideInteger;
  static constexpr Wide kOne = Wide{1} << 32;  // mult's fixed point

  struct Sample {
    std::int64_t ticks;
    std::int64_t ns;
  };
  struct Anchor {
    std::int64_t ticks;
    std::int64_t ns;
    std::uint64_t mult;
    std::int64_t period_ticks;
  };
  struct alignas(64) Slot {
    std::atomic<std::uint64_t> sequence{0};  // odd while written
    std::atomic<std::int64_t> ticks{0};
    std::atomic<std::int64_t> ns{0};
    std::atomic<std::uint64_t> mult{0};
    std::atomic<std::int64_t> period_ticks{0};
  };

  static std::int64_t scale(std::int64_t ticks, std::uint64_t mult) noexcept {
    return static_cast<std::int64_t>((static_cast<Wide>(ticks) * static_cast<Wide>(mult)) >> 32);
  }

  // A reference reading and the counter at its middle: the tightest of
  // three, so that a read the scheduler interrupted is not taken.
  Sample sample() {
    Sample best{};
    std::int64_t best_width = 0;
    for (int attempt = 0; attempt < 3; ++attempt) {
      const std::int64_t before = counter_();
      const std::int64_t ns = reference_();
      const std::int64_t after = counter_();
      if (attempt == 0 || after - before < best_width) {
        best = {before + (after - before) / 2, ns};
        best_width = after - before;
      }
    }
    return best;
  }

  static std::uint64_t rate(const Sample& from, const Sample& to) noexcept {
    const std::int64_t ticks = to.ticks - from.ticks;
    if (ticks <= 0) return 0;
    return static_cast<std::uint64_t>(static_cast<Wide>(to.ns - from.ns) * kOne / ticks);
  }

  [[nodiscard]] std::int64_t period_ticks(std::uint64_t mult) const noexcept {
    return static_cast<std::int64_t>(static_cast<Wide>(period_ns_) * kOne / static_cast<Wide>(mult));
  }

  Anchor current() const noexcept {
    for (;;) {
      const Slot& slot = slots_[current_.load(std::memory_order_acquire)];
      const std::uint64_t sequence = slot.sequence.load(std::memory_order_acquire);
      const Anchor anchor{slot.ticks.load(std::memory_order_relaxed), slot.ns.load(std::memory_order_relaxed),
                          slot.mult.load(std::memory_order_relaxed),
                          slot.period_ticks.load(std::memory_order_relaxed)};
      std::atomic_thread_fence(std::memory_order_acquire);
      if ((sequence & 1) == 0 && slot.sequence.load(std::memory_order_relaxed) == sequence) return anchor;
    }
  }

  // Writes the slot readers are not sent to, then sends them there. One
  // writer at a time (the constructor, or reanchor's holder).
  void publish(const Anchor& anchor) noexcept {
    const unsigned next = 1 - current_.load(std::memory_order_relaxed);
    Slot& slot = slots_[next];
    const std::uint64_t sequence = slot.sequence.load(std::memory_order_relaxed);
    slot.sequence.store(sequence + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    slot.ticks.store(anchor.ticks, std::memory_order_relaxed);
    slot.ns.store(anchor.ns, std::memory_order_relaxed);
    slot.mult.store(anchor.mult, std::memory_order_relaxed);
    slot.period_ticks.store(anchor.period_ticks, std::memory_order_relaxed);
    slot.sequence.store(sequence + 2, std::memory_order_release);
    current_.store(next, std::memory_order_release);
  }

  void reanchor() noexcept {
    if (reanchoring_.exchange(true, std::memory_order_acquire)) return;  // another reader is at it
    const Anchor old = current();
    const Sample now = sample();
    if (now.ticks - old.ticks >= old.period_ticks) {  // not done by another reader meanwhile
      const std::int64_t at = old.ns + scale(now.ticks - old.ticks, old.mult);
      const std::int64_t distance = now.ns - at;
      const bool step = distance > kMaxStepNs;
      // The counter's rate against the reference over the last period.
      // One further from the calibrated rate than the kernel's frequency
      // corrections go is a jump of the reference (a paused machine) or a
      // sample the scheduler spoiled, not a rate: ignored. Measured against
      // the calibration, not the last rate, so that noise cannot walk it.
      const std::uint64_t measured = rate(last_sample_, now);
      const Wide change = static_cast<Wide>(measured) - static_cast<Wide>(calibrated_);
      if (!step && (change < 0 ? -change : change) * 1'000'000 <= static_cast<Wide>(calibrated_) * kMaxRateChangePpm) {
        rate_ = measured;
      }
      // Close the distance over the next period, within the slew limit.
      const Wide base = static_cast<Wide>(rate_);
      const Wide limit = base * kMaxSlewPpm / 1'000'000;
      Wide mult = step ? base : base + static_cast<Wide>(distance) * kOne / period_ns_ * base / kOne;
      if (mult > base + limit) mult = base + limit;
      if (mult < base - limit) mult = base - limit;
      if (mult < 1) mult = 1;
      const auto next_mult = static_cast<std::uint64_t>(mult);
      publish(Anchor{now.ticks, step ? now.ns : at, next_mult, period_ticks(next_mult)});
      last_sample_ = now;
    }
    reanchoring_.store(false, std::memory_order_release);
  }

  Counter counter_;
  Reference reference_;
  const std::int64_t period_ns_;
  Slot slots_[2];
  std::atomic<unsigned> current_{0};
  std::atomic<bool> reanchoring_{false};
  // Only the constructor and the reader holding `reanchoring_` touch these.
  Sample last_sample_{};  // the reference at the last anchor
  std::uint64_t rate_ = 0;  // the counter's last measured rate (mult without correction)
  std::uint64_t calibrated_ = 0;  // the rate measured at construction
};

}  // namespace ordergate
