// One monotonic clock read through the `Clock` interface, as the gateway
// makes one per submit: the kernel's clock through the vDSO (SystemClock)
// against the time-stamp counter kept on it (TscClock, where usable).
// Mean cost per read over the whole run (a read is too short to time
// alone against a timing floor of 20 ns).

#include <benchmark/benchmark.h>

#include "ordergate/core/clock.hpp"

namespace ordergate::bench {
namespace {

void BM_Clock_Monotonic(benchmark::State& state) {
  const bool tsc = state.range(0) == 1;
  if (tsc && !TscClock::usable()) {
    state.SkipWithError("the time-stamp counter is not usable here");
    return;
  }
  const Clock& clock = tsc ? static_cast<const Clock&>(TscClock::instance()) : SystemClock::instance();
  for (auto _ : state) benchmark::DoNotOptimize(clock.monotonic_ns());
  state.SetLabel(tsc ? "tsc" : "vdso");
}
BENCHMARK(BM_Clock_Monotonic)->ArgName("tsc")->Arg(0)->Arg(1);

}  // namespace
}  // namespace ordergate::bench
