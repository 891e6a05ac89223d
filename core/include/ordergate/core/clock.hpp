#pragma once

/// \file
/// Time source port. Guards never read the system clock themselves; the
/// gateway injects a `Clock` so time-based behaviour is testable exactly.

#include <atomic>
#include <cstdint>

#include "ordergate/core/counter_timeline.hpp"

namespace ordergate {

class Clock {
 public:
  virtual ~Clock() = default;
  /// Monotonic nanoseconds (rate limits, quote freshness, session expiry).
  [[nodiscard]] virtual std::int64_t monotonic_ns() const noexcept = 0;
  /// UTC nanoseconds since the epoch (GTD expiry, timestamps in reports).
  [[nodiscard]] virtual std::int64_t wall_ns() const noexcept = 0;
};

/// CLOCK_MONOTONIC / CLOCK_REALTIME through the vDSO (no system call).
class SystemClock final : public Clock {
 public:
  [[nodiscard]] std::int64_t monotonic_ns() const noexcept override;
  [[nodiscard]] std::int64_t wall_ns() const noexcept override;
  /// Shared instance for callers that do not inject a clock.
  static SystemClock& instance() noexcept;
};

namespace detail {
/// The CPU's time-stamp counter (`rdtsc`; 0 where there is none).
struct TimeStampCounter {
  std::int64_t operator()() const noexcept;
};
/// CLOCK_MONOTONIC through the vDSO.
struct MonotonicReference {
  std::int64_t operator()() const noexcept;
};
}  // namespace detail

/// CLOCK_MONOTONIC computed from the CPU's time-stamp counter, and
/// CLOCK_REALTIME through the vDSO. A monotonic read is an `rdtsc` and a
/// multiply (about 10 ns on the benchmark VM, against 25 for the vDSO,
/// whose `rdtscp` also waits for every earlier load, an outstanding
/// prefetch among them). A CounterTimeline keeps it on CLOCK_MONOTONIC:
/// re-anchored every 50 ms, it follows the kernel's frequency corrections
/// within 1000 ppm. Each thread's readings never go back. `rdtsc` is not
/// ordered with the loads around it: a time read just after loading a
/// stamp another thread wrote may be some nanoseconds earlier than it.
///
/// Only where `usable()`; default_clock() chooses.
class TscClock final : public Clock {
 public:
  /// True on x86-64 where the kernel itself keeps time with the counter
  /// (clocksource `tsc`, which it keeps only while the counter is in step
  /// across CPUs) and the counter runs at one rate in every power state
  /// (`constant_tsc`, `nonstop_tsc`), unless ORDERGATE_CLOCK=system is set
  /// in the environment. Decided once per process.
  [[nodiscard]] static bool usable() noexcept;
  /// The process's one instance (its first use calibrates the counter
  /// against CLOCK_MONOTONIC for 1 ms). Throws std::logic_error unless
  /// usable().
  static TscClock& instance();

  [[nodiscard]] std::int64_t monotonic_ns() const noexcept override;
  [[nodiscard]] std::int64_t wall_ns() const noexcept override;

 private:
  TscClock() = default;
  mutable CounterTimeline<detail::TimeStampCounter, detail::MonotonicReference> timeline_{
      detail::TimeStampCounter{}, detail::MonotonicReference{}};
};

/// The clock the gateway and the server use unless given one: TscClock
/// where it is usable, SystemClock elsewhere.
[[nodiscard]] const Clock& default_clock();
/// "tsc" or "vdso": what default_clock() reads CLOCK_MONOTONIC with.
[[nodiscard]] const char* default_clock_name();

/// A clock that only moves when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t monotonic_ns = 1'000'000'000,
                       std::int64_t wall_ns = 1'700'000'000'000'000'000) noexcept
      : monotonic_(monotonic_ns), wall_(wall_ns) {}
  [[nodiscard]] std::int64_t monotonic_ns() const noexcept override {
    return monotonic_.load(std::memory_order_acquire);
  }
  [[nodiscard]] std::int64_t wall_ns() const noexcept override {
    return wall_.load(std::memory_order_acquire);
  }
  /// Moves both clocks forward by `delta_ns`: the wall clock first, so a
  /// thread that reads the new monotonic time and then the wall time sees
  /// the new wall time too (a check paced by the monotonic clock, such as
  /// the trading day's roll, never takes the new time with the old date).
  void advance(std::int64_t delta_ns) noexcept {
    wall_.fetch_add(delta_ns, std::memory_order_acq_rel);
    monotonic_.fetch_add(delta_ns, std::memory_order_acq_rel);
  }

 private:
  std::atomic<std::int64_t> monotonic_;
  std::atomic<std::int64_t> wall_;
};

inline constexpr std::int64_t kNanosPerMicro = 1'000;
inline constexpr std::int64_t kNanosPerMilli = 1'000'000;
inline constexpr std::int64_t kNanosPerSecond = 1'000'000'000;

}  // namespace ordergate
