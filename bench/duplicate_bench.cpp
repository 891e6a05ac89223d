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
//
// BM_DuplicateIndex_Claim_Churned claims in a table as weeks of trading
// leave it: forty windows of ids at half the table's size were inserted,
// finished and expired, so almost no entry is empty any more and a look-up
// ends at its home line's reach. A quarter of the table holds ids of the
// current window when the timed claims begin, half when they end.
// Argument `numbered`: 1, ids like "claim-17" (four consecutive ids share a
// line); 0, ids of letters only, each on a line of its own.

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

// Times one claim per iteration, of keys[0], keys[1], ... at `now_ns`, and
// counts the claims refused. With `ahead`, the entry of the key kAhead
// claims later is asked for before each claim; `keys` then holds kAhead keys
// more than the iterations.
void time_claims(benchmark::State& state, guards::ClientOrderIdIndex& index,
                 const std::vector<std::uint64_t>& keys, std::int64_t now_ns, bool ahead) {
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
    const auto claimed = index.insert(keys[next], now_ns, slot);
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

void BM_DuplicateIndex_Claim(benchmark::State& state) {
  const bool ahead = state.range(0) != 0;
  guards::ClientOrderIdIndex index(kEntries, kWindowNs);
  // The keys of ids like a strategy's ("claim-0", "claim-1", ...), made
  // outside the timed part.
  std::vector<std::uint64_t> keys(static_cast<std::size_t>(state.max_iterations) + kAhead);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    keys[i] = guards::ClientOrderIdIndex::key(1, "claim-" + std::to_string(i));
  }
  time_claims(state, index, keys, kNowNs, ahead);
}
BENCHMARK(BM_DuplicateIndex_Claim)->ArgName("ahead")->Arg(0)->Arg(1)->Iterations(kClaims);

// "claim-17", or for `numbered` false the same number spelled in letters.
std::string claim_id(std::uint64_t n, bool numbered) {
  if (numbered) return "claim-" + std::to_string(n);
  std::string id = "claim-";
  do {
    id += static_cast<char>('a' + n % 26);
    n /= 26;
  } while (n != 0);
  return id;
}

constexpr int kChurnWindows = 40;
constexpr std::int64_t kSecondNs = 1'000'000'000;

void BM_DuplicateIndex_Claim_Churned(benchmark::State& state) {
  const bool numbered = state.range(0) != 0;
  guards::ClientOrderIdIndex index(kEntries, kSecondNs);
  std::uint64_t n = 0;
  std::int64_t now_ns = kNowNs;
  // Rounds two seconds apart: with a one-second window, each round's ids
  // have expired when the next begins.
  for (int round = 0; round <= kChurnWindows; ++round) {
    now_ns = kNowNs + round * 2 * kSecondNs;
    const std::size_t ids = round < kChurnWindows ? kEntries / 2 : kEntries / 4;
    for (std::size_t i = 0; i < ids; ++i, ++n) {
      std::size_t slot = 0;
      if (index.insert(guards::ClientOrderIdIndex::key(1, claim_id(n, numbered)), now_ns, slot) !=
          guards::ClientOrderIdIndex::Insert::inserted) {
        state.SkipWithError("the churn was refused a claim");
        return;
      }
      index.publish(slot, static_cast<OrderId>(n));
      index.finish(slot, static_cast<OrderId>(n));
    }
  }
  std::vector<std::uint64_t> keys(static_cast<std::size_t>(state.max_iterations));
  for (std::size_t i = 0; i < keys.size(); ++i) {
    keys[i] = guards::ClientOrderIdIndex::key(1, claim_id(n + i, numbered));
  }
  std::size_t examined = 0;
  for (std::size_t i = 0; i < keys.size(); ++i) examined += index.probe_length(keys[i]);
  time_claims(state, index, keys, now_ns, false);
  // Entries a look-up of one of the claimed ids examined before the claims.
  state.counters["probe_mean"] = static_cast<double>(examined) / static_cast<double>(keys.size());
}
BENCHMARK(BM_DuplicateIndex_Claim_Churned)
    ->ArgName("numbered")
    ->Arg(0)
    ->Arg(1)
    ->Iterations(static_cast<benchmark::IterationCount>(kEntries / 4));

}  // namespace
}  // namespace ordergate::bench
