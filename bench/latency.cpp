#include "latency.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <unistd.h>

#include "ordergate/core/cache_line.hpp"

namespace ordergate::bench {
namespace {

double calibrate() noexcept {
#if defined(__x86_64__)
  using std::chrono::steady_clock;
  const steady_clock::time_point start = steady_clock::now();
  const std::uint64_t first = ticks_begin();
  steady_clock::time_point now = start;
  while (now - start < std::chrono::milliseconds(20)) now = steady_clock::now();
  const std::uint64_t last = ticks_end();
  const double elapsed_ns = std::chrono::duration<double, std::nano>(now - start).count();
  return elapsed_ns / static_cast<double>(last - first);
#else
  return 1.0;
#endif
}

// Nearest-rank index of quantile `q` among `n` sorted samples.
std::size_t rank_index(double q, std::size_t n) noexcept {
  const auto rank = static_cast<std::size_t>(q * static_cast<double>(n) + 0.999999);
  return std::clamp<std::size_t>(rank, 1, n) - 1;
}

}  // namespace

double nanos_per_tick() noexcept {
  static const double value = calibrate();
  return value;
}

LatencyRecorder::LatencyRecorder(std::size_t capacity) : samples_(std::max<std::size_t>(capacity, 1)) {}

void LatencyRecorder::merge(const LatencyRecorder& other) {
  const std::size_t room = samples_.size() - size_;
  const std::size_t count = std::min(room, other.size_);
  std::copy_n(other.samples_.begin(), count, samples_.begin() + static_cast<std::ptrdiff_t>(size_));
  size_ += count;
}

LatencySummary LatencyRecorder::summarize() {
  LatencySummary summary;
  if (size_ == 0) return summary;
  const double scale = nanos_per_tick();
  const auto begin = samples_.begin();
  const auto end = begin + static_cast<std::ptrdiff_t>(size_);

  std::uint64_t total = 0;
  for (auto it = begin; it != end; ++it) total += *it;
  summary.mean_ns = static_cast<double>(total) / static_cast<double>(size_) * scale;

  // Successive selections: everything right of a selected element is >= it,
  // so each higher quantile is searched only in what is left of the range.
  auto select = [&](std::size_t index, std::size_t from) {
    const auto nth = begin + static_cast<std::ptrdiff_t>(index);
    std::nth_element(begin + static_cast<std::ptrdiff_t>(from), nth, end);
    return static_cast<double>(*nth) * scale;
  };
  const std::size_t i50 = rank_index(0.50, size_);
  const std::size_t i99 = rank_index(0.99, size_);
  const std::size_t i999 = rank_index(0.999, size_);
  summary.p50_ns = select(i50, 0);
  summary.p99_ns = i99 > i50 ? select(i99, i50 + 1) : summary.p50_ns;
  summary.p999_ns = i999 > i99 ? select(i999, i99 + 1) : summary.p99_ns;
  summary.max_ns = static_cast<double>(*std::max_element(begin + static_cast<std::ptrdiff_t>(i999), end)) * scale;
  return summary;
}

LatencySummary measure_floor(std::size_t count) {
  LatencyRecorder recorder(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t begin = ticks_begin();
    const std::uint64_t end = ticks_end();
    recorder.add(begin, end);
  }
  return recorder.summarize();
}

LatencySummary measure_thread_round_trip(std::size_t count) {
  struct alignas(kCacheLine) Line {
    std::atomic<std::uint64_t> value{0};
  };
  Line ping;
  Line pong;
  // A thread inherits its creator's affinity: put the helper on the CPUs the
  // caller is not pinned to, or the two would take turns on one CPU.
  cpu_set_t mine;
  cpu_set_t others;
  CPU_ZERO(&others);
  if (sched_getaffinity(0, sizeof(mine), &mine) == 0) {
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    for (int id = 0; id < online && id < CPU_SETSIZE; ++id) {
      if (!CPU_ISSET(id, &mine)) CPU_SET(id, &others);
    }
  }
  std::thread echo([&] {
    if (CPU_COUNT(&others) > 0) sched_setaffinity(0, sizeof(others), &others);
    for (std::uint64_t seen = 0; seen < count;) {
      const std::uint64_t value = ping.value.load(std::memory_order_acquire);
      if (value == seen + 1) {
        seen = value;
        pong.value.store(value, std::memory_order_release);
      }
    }
  });
  LatencyRecorder recorder(count);
  for (std::uint64_t i = 1; i <= count; ++i) {
    const std::uint64_t begin = ticks_begin();
    ping.value.store(i, std::memory_order_release);
    while (pong.value.load(std::memory_order_acquire) != i) {
    }
    const std::uint64_t end = ticks_end();
    recorder.add(begin, end);
  }
  echo.join();
  return recorder.summarize();
}

void publish(benchmark::State& state, LatencyRecorder& recorder) {
  const LatencySummary ops = recorder.summarize();
  const LatencySummary floor = measure_floor();
  state.counters["p50_ns"] = ops.p50_ns;
  state.counters["p99_ns"] = ops.p99_ns;
  state.counters["p99.9_ns"] = ops.p999_ns;
  state.counters["max_ns"] = ops.max_ns;
  state.counters["mean_ns"] = ops.mean_ns;
  state.counters["floor_p50_ns"] = floor.p50_ns;
  state.counters["floor_p99_ns"] = floor.p99_ns;
  state.counters["samples"] = static_cast<double>(recorder.size());
  state.SetItemsProcessed(state.iterations());
}

ScopedPin::ScopedPin(int cpu) noexcept {
  if (const char* setting = std::getenv("ORDERGATE_BENCH_PIN"); setting != nullptr && std::strcmp(setting, "0") == 0) {
    return;
  }
  if (cpu < 0 || sched_getaffinity(0, sizeof(saved_), &saved_) != 0) return;
  const int allowed = CPU_COUNT(&saved_);
  if (allowed < 2) return;  // nothing to choose from
  // The cpu-th allowed CPU, wrapping around.
  int wanted = cpu % allowed;
  for (int id = 0; id < CPU_SETSIZE; ++id) {
    if (!CPU_ISSET(id, &saved_)) continue;
    if (wanted-- == 0) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(id, &one);
      pinned_ = sched_setaffinity(0, sizeof(one), &one) == 0;
      return;
    }
  }
}

ScopedPin::~ScopedPin() {
  if (pinned_) sched_setaffinity(0, sizeof(saved_), &saved_);
}

void publish_thread_round_trip(benchmark::State& state) {
  const LatencySummary round_trip = measure_thread_round_trip();
  state.counters["thread_rtt_p50_ns"] = round_trip.p50_ns;
  state.counters["thread_rtt_p99_ns"] = round_trip.p99_ns;
  if (round_trip.p50_ns > 0 && state.counters.contains("p50_ns")) {
    state.counters["p50_over_rtt"] = state.counters["p50_ns"].value / round_trip.p50_ns;
  }
}

}  // namespace ordergate::bench
