// Decimal::parse on the texts a broker sends: prices, whole quantities,
// negatives. Per-parse latency and throughput.

#include <algorithm>
#include <array>
#include <string_view>

#include "latency.hpp"
#include "ordergate/core/decimal.hpp"

namespace ordergate::bench {
namespace {

constexpr std::array<std::string_view, 8> kTexts = {
    "1.08463", "10000", "150.123", "-0.5", "0.000012345", "98765.4321", "1", "123456789.123456789"};

void BM_Decimal_Parse(benchmark::State& state) {
  ScopedPin pin(0);
  LatencyRecorder recorder(static_cast<std::size_t>(state.max_iterations));
  std::size_t index = 0;
  std::uint64_t checksum = 0;  // wraps on purpose
  for (auto _ : state) {
    const std::string_view text = kTexts[index];
    index = (index + 1) % kTexts.size();
    Decimal value;
    const std::uint64_t begin = ticks_begin();
    const DecimalError error = Decimal::parse(text, value);
    const std::uint64_t end = ticks_end();
    recorder.add(begin, end);
    if (error != DecimalError::ok) {
      state.SkipWithError("a benchmark text failed to parse");
      break;
    }
    checksum += static_cast<std::uint64_t>(value.raw());
  }
  // The same parses timed as one batch: the cost without per-op timing.
  const std::size_t batch = std::min<std::size_t>(static_cast<std::size_t>(state.iterations()), 1'000'000);
  const std::uint64_t begin = ticks_begin();
  for (std::size_t i = 0; i < batch; ++i) {
    Decimal value;
    (void)Decimal::parse(kTexts[i % kTexts.size()], value);
    checksum += static_cast<std::uint64_t>(value.raw());
  }
  const std::uint64_t end = ticks_end();
  benchmark::DoNotOptimize(checksum);
  publish(state, recorder);
  state.counters["batch_mean_ns"] = batch_mean_ns(begin, end, batch);
}
BENCHMARK(BM_Decimal_Parse);

}  // namespace
}  // namespace ordergate::bench
