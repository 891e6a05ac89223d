#pragma once

/// \file
/// Time source port. Guards never read the system clock themselves; the
/// gateway injects a `Clock` so time-based behaviour is testable exactly.

#include <atomic>
#include <cstdint>

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
