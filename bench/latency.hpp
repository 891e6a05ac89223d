#pragma once

// Per-operation latency recording for the benchmarks: a cheap tick source,
// a preallocated sample buffer, and the counters every suite publishes
// (p50/p99/p99.9/max next to the floor, the cost of timing an empty op).

#include <benchmark/benchmark.h>
#include <sched.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#if defined(__x86_64__)
#include <x86intrin.h>
#else
#include <chrono>
#endif

namespace ordergate::bench {

// Ticks of the invariant TSC on x86-64 (fenced so the timed work cannot move
// across the reads), steady_clock nanoseconds elsewhere.
inline std::uint64_t ticks_begin() noexcept {
#if defined(__x86_64__)
  _mm_lfence();
  const std::uint64_t ticks = __rdtsc();
  _mm_lfence();
  return ticks;
#else
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

inline std::uint64_t ticks_end() noexcept {
#if defined(__x86_64__)
  unsigned int aux = 0;
  const std::uint64_t ticks = __rdtscp(&aux);
  _mm_lfence();
  return ticks;
#else
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

// Nanoseconds per tick, calibrated once against steady_clock (about 20 ms).
double nanos_per_tick() noexcept;

struct LatencySummary {
  double p50_ns = 0;
  double p99_ns = 0;
  double p999_ns = 0;
  double max_ns = 0;
  double mean_ns = 0;
};

// Holds one sample per timed operation. The buffer is allocated and touched
// up front so that recording never allocates or page-faults in the timed loop.
class LatencyRecorder {
 public:
  explicit LatencyRecorder(std::size_t capacity);

  // Records `end - begin` ticks; samples beyond the capacity are dropped.
  void add(std::uint64_t begin, std::uint64_t end) noexcept {
    if (size_ < samples_.size()) {
      const std::uint64_t delta = end - begin;
      samples_[size_++] = delta > UINT32_MAX ? UINT32_MAX : static_cast<std::uint32_t>(delta);
    }
  }

  // Appends another recorder's samples (multi-threaded benchmarks).
  void merge(const LatencyRecorder& other);

  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  // Sorts part of the buffer in place; call once recording is over.
  [[nodiscard]] LatencySummary summarize();

 private:
  std::vector<std::uint32_t> samples_;
  std::size_t size_ = 0;
};

// Times `count` empty operations with the same tick reads: what the timing
// itself costs on this machine, right now.
[[nodiscard]] LatencySummary measure_floor(std::size_t count = 200'000);

// Round trips of a cache line between this thread and a helper thread it
// starts (spinning on two atomics): the physical floor of any cross-thread
// hand-off, such as an order going to the broker thread and a report coming
// back. Call with the calling thread pinned and nothing else spinning.
[[nodiscard]] LatencySummary measure_thread_round_trip(std::size_t count = 100'000);

// Mean nanoseconds per operation of `count` operations timed as one batch.
[[nodiscard]] inline double batch_mean_ns(std::uint64_t begin, std::uint64_t end, std::size_t count) noexcept {
  return count == 0 ? 0.0 : static_cast<double>(end - begin) * nanos_per_tick() / static_cast<double>(count);
}

// Publishes p50_ns, p99_ns, p99.9_ns, max_ns and mean_ns of `recorder`, the
// floor (floor_p50_ns, floor_p99_ns) and items_per_second.
void publish(benchmark::State& state, LatencyRecorder& recorder);

// Measures the thread round trip now (measure_thread_round_trip) and
// publishes thread_rtt_p50_ns and thread_rtt_p99_ns: the floor of the
// broker round trip, and what an operation pays for every line another
// thread writes back. Call after publish(): also publishes p50_over_rtt,
// the figure that compares runs whose round trips differ.
void publish_thread_round_trip(benchmark::State& state);

// Pins the calling thread to one CPU for its lifetime and restores the
// previous affinity afterwards (threads started meanwhile inherit the pin, so
// start helper threads before pinning). Set ORDERGATE_BENCH_PIN=0 to disable.
class ScopedPin {
 public:
  explicit ScopedPin(int cpu) noexcept;
  ~ScopedPin();
  ScopedPin(const ScopedPin&) = delete;
  ScopedPin& operator=(const ScopedPin&) = delete;

 private:
  bool pinned_ = false;
  cpu_set_t saved_{};
};

}  // namespace ordergate::bench
