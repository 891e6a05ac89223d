// The duplicate-id index alone: claiming a fresh client order id (`insert`,
// then `publish` of its order id), as `submit` does for every accepted order,
// in a table of the default size (2^20 entries of 16 bytes).
//
// Argument `ahead`: 0, the entry is not asked for before the claim, so each
// claim waits for a line of the 16 MB table to come from memory; 1, the entry
// of the id claimed 16 claims later is asked for with `prefetch_for_write`
// (as `submit` asks for its own entry before its guards run), so the claim
// finds its line in cache and the figure is the claim's own instructions.
// Ids are never reused: a fixed iteration count keeps the table at most
// 40% full.

#include <cstdint>
#include <string>
#include <vector>

#include "latency.hpp"
#include "ordergate/guards/duplicate.hpp"

namespace ordergate::bench {
namespace {

constexpr std::size_t kEntries = std::size_t{1} << 20;
constexpr std::int64_t kWindowNs = 24LL * 3600 * 1'000'000'000;
constexpr benchmark::IterationCount kClaims = 400'000;
constexpr std::size_t kAhead = 16;
constexpr std::int64_t kNowNs = 1'000'000'000;

void BM_DuplicateIndex_Claim(benchmark::State& state) {
  const bool ahead = state.range(0) != 0;
  guards::ClientOrderIdIndex index(kEntries, kWindowNs);
  // The keys of ids like a strategy's ("claim-0", "claim-1", ...), made
  // outside the timed part.
  std::vector<std::uint64_t> keys(static_cast<std::size_t>(state.max_iterations) + kAhead);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    keys[i] = guards::ClientOrderIdIndex::key(1, "claim-" + std::to_string(i));
  }
  ScopedPin pin(0);
  LatencyRecorder recorder(static_cast<std::size_t>(state.max_iterations));
  std::size_t next = 0;
  std::uint64_t refused = 0;
  if (ahead) {
    for (std::size_t i = 0; i < kAhead; ++i) index.prefetch(keys[i]);
  }
  for (auto _ : state) {
    if (ahead) index.prefetch(keys[next + kAhead]);
    std::size_t slot = 0;
    const std::uint64_t begin = ticks_begin();
    const auto claimed = index.insert(keys[next], kNowNs, slot);
    if (claimed == guards::ClientOrderIdIndex::Insert::inserted) {
      index.publish(slot, static_cast<OrderId>(next));
    }
    const std::uint64_t end = ticks_end();
    recorder.add(begin, end);
    refused += claimed == guards::ClientOrderIdIndex::Insert::inserted ? 0 : 1;
    ++next;
  }
  publish(state, recorder);
  state.counters["refused"] = static_cast<double>(refused);
}
BENCHMARK(BM_DuplicateIndex_Claim)->ArgName("ahead")->Arg(0)->Arg(1)->Iterations(kClaims);

}  // namespace
}  // namespace ordergate::bench
