// GCRA rate limiter: one consume on one cell, with a fake clock that moves by
// one emission interval per request so nearly every request is admitted (the
// admitting path is the expensive one: it ends in a compare-and-swap).
// Contended: two threads on the same cell (each thread's clock moves twice as
// fast, so together they stay within the rate).

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>

#include "latency.hpp"
#include "ordergate/guards/rate_limit.hpp"

namespace ordergate::bench {
namespace {

// A million per second: T = 1 us and a tolerance of ~1 s, so the contended
// threads' clocks can drift ~a million requests apart (one descheduled for
// milliseconds) before anything is refused.
constexpr guards::RateWindow kWindow{1'000'000, 1'000'000'000};
constexpr std::int64_t kStartNs = 1'000'000'000;

void BM_Gcra_Uncontended(benchmark::State& state) {
  ScopedPin pin(0);
  const guards::GcraParams params = guards::GcraParams::from(kWindow);
  guards::GcraCell cell;
  LatencyRecorder recorder(static_cast<std::size_t>(state.max_iterations));
  std::int64_t now_ns = kStartNs;
  std::int64_t refused = 0;
  for (auto _ : state) {
    now_ns += params.emission_ns;
    const std::uint64_t begin = ticks_begin();
    const std::int64_t wait_ns = guards::gcra_consume(cell, params, now_ns);
    const std::uint64_t end = ticks_end();
    recorder.add(begin, end);
    refused += wait_ns > 0 ? 1 : 0;
  }
  // The same consumes timed as one batch, on a fresh cell.
  const std::size_t batch = std::min<std::size_t>(static_cast<std::size_t>(state.iterations()), 1'000'000);
  guards::GcraCell batch_cell;
  now_ns = kStartNs;
  const std::uint64_t begin = ticks_begin();
  for (std::size_t i = 0; i < batch; ++i) {
    now_ns += params.emission_ns;
    refused += guards::gcra_consume(batch_cell, params, now_ns) > 0 ? 1 : 0;
  }
  const std::uint64_t end = ticks_end();
  publish(state, recorder);
  state.counters["refused"] = static_cast<double>(refused);
  state.counters["batch_mean_ns"] = batch_mean_ns(begin, end, batch);
}
BENCHMARK(BM_Gcra_Uncontended);

// Shared by the threads of one run; thread 0 resets it before the timed loop
// (the framework's start barrier orders that before every thread's loop).
struct ContendedRun {
  guards::GcraCell cell;
  std::array<std::unique_ptr<LatencyRecorder>, 2> recorders;
  std::atomic<int> finished{0};
  std::atomic<std::int64_t> refused{0};
};
ContendedRun contended_run;

void BM_Gcra_Contended(benchmark::State& state) {
  const int thread = state.thread_index();
  const int threads = state.threads();
  if (threads > static_cast<int>(contended_run.recorders.size())) {
    state.SkipWithError("at most 2 threads");
    return;
  }
  ScopedPin pin(thread);
  const guards::GcraParams params = guards::GcraParams::from(kWindow);
  contended_run.recorders[static_cast<std::size_t>(thread)] =
      std::make_unique<LatencyRecorder>(static_cast<std::size_t>(state.max_iterations));
  if (thread == 0) {
    contended_run.cell.tat.store(0, std::memory_order_relaxed);
    contended_run.finished.store(0, std::memory_order_relaxed);
    contended_run.refused.store(0, std::memory_order_relaxed);
  }
  LatencyRecorder& recorder = *contended_run.recorders[static_cast<std::size_t>(thread)];
  std::int64_t now_ns = kStartNs;
  std::int64_t refused = 0;
  for (auto _ : state) {
    now_ns += params.emission_ns * threads;
    const std::uint64_t begin = ticks_begin();
    const std::int64_t wait_ns = guards::gcra_consume(contended_run.cell, params, now_ns);
    const std::uint64_t end = ticks_end();
    recorder.add(begin, end);
    refused += wait_ns > 0 ? 1 : 0;
  }
  contended_run.refused.fetch_add(refused, std::memory_order_relaxed);
  contended_run.finished.fetch_add(1, std::memory_order_acq_rel);
  if (thread != 0) {
    state.SetItemsProcessed(state.iterations());
    return;
  }
  // Thread 0 merges every thread's samples and publishes the tails of all of
  // them (counters of the other threads are left unset; the framework sums).
  while (contended_run.finished.load(std::memory_order_acquire) < threads) {
  }
  LatencyRecorder all(static_cast<std::size_t>(state.max_iterations) * static_cast<std::size_t>(threads));
  for (int i = 0; i < threads; ++i) all.merge(*contended_run.recorders[static_cast<std::size_t>(i)]);
  publish(state, all);
  state.counters["refused"] = static_cast<double>(contended_run.refused.load(std::memory_order_relaxed));
}
BENCHMARK(BM_Gcra_Contended)->Threads(2);

}  // namespace
}  // namespace ordergate::bench
