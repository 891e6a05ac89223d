#pragma once

// Internal: one session's commands for one broker thread. A bounded
// single-producer, single-consumer ring: the producer is whichever thread
// holds the session (a session is used by one thread at a time, and the
// slot's hand-over from one session to the next orders them), the consumer
// is the broker's thread. No allocation after construction.
//
// The producer fills the cell at its tail in place and publishes it with one
// release store. The cell at the tail is always free, since at most `mask_`
// commands wait, so a producer may fill it before it knows whether the
// command will go (a cancel that finds the ring full sends the same command
// by another queue). Each side
// keeps its index on a line of its own and reads the other's only when its
// own copy says full (producer) or empty (consumer).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <type_traits>

#include "ordergate/core/cache_line.hpp"

namespace ordergate::detail {

template <typename Command>
class CommandRing {
  static_assert(std::is_trivially_destructible_v<Command>);

 public:
  static constexpr std::uint32_t kMaxCapacity = std::uint32_t{1} << 30;

  // Room for at least `capacity` waiting commands. Every cell is written
  // here, so its page is resident before the first command: a first lap
  // that faulted pages in would cost the hot path a trap every 16 cells.
  explicit CommandRing(std::uint32_t capacity) {
    if (capacity > kMaxCapacity) throw std::length_error("command ring capacity above 2^30");
    std::size_t cells = 2;
    while (cells < std::size_t{capacity} + 1) cells *= 2;
    storage_.reset(static_cast<std::byte*>(::operator new[](cells * kStride, std::align_val_t{kCacheLine})));
    std::memset(storage_.get(), 0, cells * kStride);
    mask_ = static_cast<std::uint32_t>(cells - 1);
  }

  // Commands that may wait at once.
  [[nodiscard]] std::uint32_t capacity() const noexcept { return mask_; }

  // ---- producer ----

  // The cell the next command goes in, started afresh. Free whatever the
  // consumer does (see above); it goes to the consumer only by publish().
  Command& start() noexcept { return *::new (cell(producer_.tail)) Command{}; }

  // True when fewer than `limit` published commands wait for the consumer.
  // Reads the consumer's index only when its last copy says `limit` or more.
  [[nodiscard]] bool fewer_waiting_than(std::uint32_t limit) noexcept {
    if (producer_.tail - producer_.head_seen < limit) return true;
    producer_.head_seen = consumer_.head.load(std::memory_order_acquire);
    return producer_.tail - producer_.head_seen < limit;
  }

  // Copies `command` into the free cell and publishes it (the caller made
  // sure there is room, as for publish()).
  void push(const Command& command) noexcept {
    ::new (cell(producer_.tail)) Command(command);
    publish();
  }

  // Hands the cell start() gave to the consumer. The caller made sure there
  // is room (fewer_waiting_than(capacity()) at most).
  // Then asks for the next cell with write intent, so that the next start()
  // does not wait for it (the consumer read it a lap ago, or no one has
  // since the ring was made).
  void publish() noexcept {
    published_.tail.store(++producer_.tail, std::memory_order_release);
    prefetch_for_write(cell(producer_.tail));
  }

  // ---- consumer ----

  // Copies up to `max` waiting commands to `out` and frees their cells.
  std::size_t take(Command* out, std::size_t max) noexcept {
    std::uint32_t head = consumer_.head.load(std::memory_order_relaxed);
    if (head == consumer_.tail_seen) {
      consumer_.tail_seen = published_.tail.load(std::memory_order_acquire);
      if (head == consumer_.tail_seen) return 0;
    }
    std::size_t count = 0;
    for (; count < max && head != consumer_.tail_seen; ++count, ++head) {
      out[count] = *std::launder(reinterpret_cast<const Command*>(cell(head)));
    }
    consumer_.head.store(head, std::memory_order_release);
    return count;
  }

 private:
  // A line per cell at least, so the producer writing the next cell never
  // shares a line with the one the consumer is reading.
  static constexpr std::size_t kStride = (sizeof(Command) + kCacheLine - 1) / kCacheLine * kCacheLine;
  [[nodiscard]] std::byte* cell(std::uint32_t index) const noexcept {
    return &storage_[std::size_t{index & mask_} * kStride];
  }
  struct Delete {
    void operator()(std::byte* storage) const noexcept { ::operator delete[](storage, std::align_val_t{kCacheLine}); }
  };
  std::unique_ptr<std::byte[], Delete> storage_;
  std::uint32_t mask_ = 0;
  struct alignas(kCacheLine) Producer {
    std::uint32_t tail = 0;       // the producer's own count of published commands
    std::uint32_t head_seen = 0;  // the consumer's index as last read
  } producer_;
  struct alignas(kCacheLine) Published {
    std::atomic<std::uint32_t> tail{0};
  } published_;
  struct alignas(kCacheLine) Consumer {
    std::atomic<std::uint32_t> head{0};
    std::uint32_t tail_seen = 0;  // the producer's published index as last read
  } consumer_;
};

}  // namespace ordergate::detail
