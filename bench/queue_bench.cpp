// What handing one command to a consumer thread costs the producer: the
// engine's shared command queue (moodycamel's ConcurrentQueue with an
// explicit producer and the engine's block traits, which carried every
// order until 2026-12-06) against the session ring that carries them now
// (gateway/src/command_ring.hpp: single producer, single consumer, each
// index on a line of its own, a line or more per cell). Each timed enqueue comes after the consumer has taken the
// previous command, as on the accept path, where the broker thread takes
// each order within a microsecond: so each enqueue finds whatever lines the
// consumer wrote while taking the last one.
//
// The consumer spins on the second CPU; the producer runs on the first.
// thread_rtt_p50_ns is the cache-line round trip between the two, measured
// in the same run.

#include <benchmark/benchmark.h>
#include <concurrentqueue/concurrentqueue.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "engine.hpp"
#include "latency.hpp"
#include "ordergate/core/cache_line.hpp"

namespace ordergate::bench {
namespace {

constexpr std::size_t kCommands = 200'000;

// The engine's own command, queue and ring types, so they cannot drift apart.
using Command = detail::BrokerCommand;
using EngineQueue = detail::CommandQueue;

struct alignas(kCacheLine) Taken {
  std::atomic<std::uint64_t> count{0};
};

// Runs `take` (which returns how many commands it took) on a thread pinned
// to CPU 1 until the run's commands are all taken, and times each `give` on this
// thread, pinned to CPU 0, after the previous command was taken.
template <typename Give, typename Take>
void run_handoff(benchmark::State& state, Give give, Take take) {
  const auto total = static_cast<std::uint64_t>(state.max_iterations);
  Taken taken;
  std::thread consumer;
  {
    ScopedPin consumer_cpu(1);  // the thread inherits it
    consumer = std::thread([&] {
      std::uint64_t done = 0;
      while (done < total) {
        if (const std::size_t count = take(); count > 0) {
          done += count;
          taken.count.store(done, std::memory_order_release);
        }
      }
    });
  }
  ScopedPin pin(0);
  LatencyRecorder recorder(total);
  Command command;
  std::uint64_t given = 0;
  for (auto _ : state) {
    command.order_id = static_cast<OrderId>(given);
    const std::uint64_t begin = ticks_begin();
    const bool ok = give(command);
    const std::uint64_t end = ticks_end();
    if (!ok) {
      state.SkipWithError("the queue refused a command");
      break;
    }
    recorder.add(begin, end);
    ++given;
    while (taken.count.load(std::memory_order_acquire) < given) {
    }
  }
  // A skipped run leaves the consumer short: let it finish (it keeps
  // taking, so a full queue makes room).
  while (given < total) {
    if (give(command)) ++given;
  }
  consumer.join();
  publish(state, recorder);
  publish_thread_round_trip(state);
}

void BM_CommandQueue_Moodycamel(benchmark::State& state) {
  EngineQueue queue(detail::QueueTraits::BLOCK_SIZE * 64);
  moodycamel::ProducerToken token(queue);
  std::array<Command, 32> batch;
  run_handoff(
      state, [&](const Command& command) { return queue.try_enqueue(token, command); },
      [&] { return queue.try_dequeue_bulk(batch.data(), batch.size()); });
}
BENCHMARK(BM_CommandQueue_Moodycamel)->Iterations(kCommands);

// The session ring the engine uses since 2026-12-06 (fourth run), taken in
// batches as the broker thread does.
void BM_CommandQueue_SessionRing(benchmark::State& state) {
  detail::SessionRing ring(4096);
  std::array<Command, 32> batch;
  run_handoff(
      state,
      [&](const Command& command) {
        if (!ring.fewer_waiting_than(ring.capacity())) return false;
        ring.push(command);
        return true;
      },
      [&] { return ring.take(batch.data(), batch.size()); });
}
BENCHMARK(BM_CommandQueue_SessionRing)->Iterations(kCommands);

}  // namespace
}  // namespace ordergate::bench
