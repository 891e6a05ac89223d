#pragma once

// Internal: a bounded multi-producer multi-consumer ring of 32-bit values
// (the free order records). Each cell carries a sequence number that says
// whose turn it is, so producers and consumers claim cells with one
// compare-and-swap on their own position and never wait for one another
// except on the cell they claimed. No allocation after construction.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "ordergate/core/cache_line.hpp"

namespace ordergate::detail {

class SlotRing {
 public:
  // Holds at least `capacity` values (rounded up to a power of two).
  explicit SlotRing(std::size_t capacity) {
    std::size_t rounded = 2;
    while (rounded < capacity) rounded *= 2;
    cells_ = std::make_unique<Cell[]>(rounded);
    for (std::size_t i = 0; i < rounded; ++i) cells_[i].sequence.store(i, std::memory_order_relaxed);
    mask_ = rounded - 1;
  }

  // False when full.
  bool push(std::uint32_t value) noexcept {
    std::size_t position = tail_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& cell = cells_[position & mask_];
      const std::size_t sequence = cell.sequence.load(std::memory_order_acquire);
      const auto lag = static_cast<std::ptrdiff_t>(sequence) - static_cast<std::ptrdiff_t>(position);
      if (lag == 0) {
        if (tail_.compare_exchange_weak(position, position + 1, std::memory_order_relaxed)) {
          cell.value = value;
          cell.sequence.store(position + 1, std::memory_order_release);
          return true;
        }
      } else if (lag < 0) {
        return false;  // the cell still holds a value from a lap ago: full
      } else {
        position = tail_.load(std::memory_order_relaxed);
      }
    }
  }

  // False when empty.
  bool pop(std::uint32_t& value) noexcept {
    std::size_t position = head_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& cell = cells_[position & mask_];
      const std::size_t sequence = cell.sequence.load(std::memory_order_acquire);
      const auto lag = static_cast<std::ptrdiff_t>(sequence) - static_cast<std::ptrdiff_t>(position + 1);
      if (lag == 0) {
        if (head_.compare_exchange_weak(position, position + 1, std::memory_order_relaxed)) {
          value = cell.value;
          cell.sequence.store(position + mask_ + 1, std::memory_order_release);
          return true;
        }
      } else if (lag < 0) {
        return false;  // nothing pushed here yet: empty
      } else {
        position = head_.load(std::memory_order_relaxed);
      }
    }
  }

 private:
  struct Cell {
    std::atomic<std::size_t> sequence{0};
    std::uint32_t value = 0;
  };
  std::unique_ptr<Cell[]> cells_;
  std::size_t mask_ = 0;
  alignas(kCacheLine) std::atomic<std::size_t> tail_{0};
  alignas(kCacheLine) std::atomic<std::size_t> head_{0};
};

}  // namespace ordergate::detail
