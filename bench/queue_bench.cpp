// What handing one command to a consumer thread costs the producer: the
// engine's command queue (moodycamel's ConcurrentQueue with an explicit
// producer per session and the engine's block traits) against a
// single-producer, single-consumer ring whose two indices sit on lines of
// their own. Each timed enqueue comes after the consumer has taken the
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

// The engine's own command and queue type, so the two cannot drift apart.
using Command = detail::BrokerCommand;
using EngineQueue = detail::CommandQueue;

// One producer, one consumer; capacity a power of two. Each side keeps its
// own index on its own line and a copy of the other's, read again only
// when the copy says full (producer) or empty (consumer).
class SpscRing {
 public:
  explicit SpscRing(std::size_t capacity) : slots_(std::make_unique<Command[]>(capacity)), mask_(capacity - 1) {}

  bool try_push(const Command& command) noexcept {
    const std::size_t tail = producer_.index.load(std::memory_order_relaxed);
    if (tail - producer_.other >= mask_ + 1) {
      producer_.other = consumer_.index.load(std::memory_order_acquire);
      if (tail - producer_.other >= mask_ + 1) return false;
    }
    slots_[tail & mask_] = command;
    producer_.index.store(tail + 1, std::memory_order_release);
    return true;
  }

  bool try_pop(Command& command) noexcept {
    const std::size_t head = consumer_.index.load(std::memory_order_relaxed);
    if (head == consumer_.other) {
      consumer_.other = producer_.index.load(std::memory_order_acquire);
      if (head == consumer_.other) return false;
    }
    command = slots_[head & mask_];
    consumer_.index.store(head + 1, std::memory_order_release);
    return true;
  }

 private:
  struct alignas(kCacheLine) Side {
    std::atomic<std::size_t> index{0};
    std::size_t other = 0;  // the last value read of the other side's index
  };
  std::unique_ptr<Command[]> slots_;
  std::size_t mask_;
  Side producer_;
  Side consumer_;
};

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
    command.order.order_id = static_cast<OrderId>(given);
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

void BM_CommandQueue_SpscRing(benchmark::State& state) {
  SpscRing ring(4096);
  Command taken;
  run_handoff(
      state, [&](const Command& command) { return ring.try_push(command); },
      [&]() -> std::size_t { return ring.try_pop(taken) ? 1 : 0; });
}
BENCHMARK(BM_CommandQueue_SpscRing)->Iterations(kCommands);

}  // namespace
}  // namespace ordergate::bench
