#pragma once

// Internal: a lock-free stack of indices below a fixed bound (the free order
// records). Any number of threads push and pop at once; neither ever waits
// for another, and a push always succeeds, whatever the threads that pop do
// meanwhile. (A bounded ring does not give that: a consumer preempted
// between claiming a cell and freeing it makes the producer that laps it
// find the ring full.) No allocation after construction.
//
// The head is one 64-bit word: the top index and a tag that every change
// increments, so a pop that read the top's successor before other threads
// popped that top and pushed it again fails its compare-and-swap instead of
// installing a stale successor (the ABA problem). The tag would have to
// come round all 2^32 values between one thread's read and its
// compare-and-swap to fool it.
//
// Last in, first out: the index pushed last, whose record is likeliest to
// be in a cache still, is taken first.

#include <atomic>
#include <cstdint>
#include <memory>

#include "ordergate/core/cache_line.hpp"

namespace ordergate::detail {

class IndexStack {
 public:
  static constexpr std::uint32_t kNone = 0xFFFFFFFFu;

  // For indices 0 .. `bound` - 1, empty. Every link is written here, so
  // its pages are resident before the first push.
  explicit IndexStack(std::uint32_t bound) : next_(std::make_unique<std::atomic<std::uint32_t>[]>(bound)) {
    for (std::uint32_t i = 0; i < bound; ++i) next_[i].store(kNone, std::memory_order_relaxed);
  }

  // Puts `index` on top. It must be below the bound and not on the stack.
  // Release: what the caller wrote before is visible to the thread that
  // pops `index`.
  void push(std::uint32_t index) noexcept {
    std::uint64_t head = head_.load(std::memory_order_relaxed);
    std::uint64_t desired = 0;
    do {
      next_[index].store(top_of(head), std::memory_order_relaxed);
      desired = ((tag_of(head) + 1) << 32) | index;
    } while (!head_.compare_exchange_weak(head, desired, std::memory_order_release, std::memory_order_relaxed));
  }

  // The top index (kNone when empty) as it is now: another thread may take
  // it next. For a prefetch.
  [[nodiscard]] std::uint32_t peek() const noexcept { return top_of(head_.load(std::memory_order_relaxed)); }

  // Takes the top index; false when the stack is empty.
  bool pop(std::uint32_t& index) noexcept {
    std::uint64_t head = head_.load(std::memory_order_acquire);
    for (;;) {
      const std::uint32_t top = top_of(head);
      if (top == kNone) return false;
      // Possibly stale (another thread took `top` meanwhile); the tag then
      // makes the exchange fail and this is read again.
      const std::uint32_t next = next_[top].load(std::memory_order_relaxed);
      if (head_.compare_exchange_weak(head, ((tag_of(head) + 1) << 32) | next, std::memory_order_acquire,
                                      std::memory_order_acquire)) {
        index = top;
        return true;
      }
    }
  }

 private:
  static std::uint32_t top_of(std::uint64_t head) noexcept { return static_cast<std::uint32_t>(head); }
  static std::uint64_t tag_of(std::uint64_t head) noexcept { return head >> 32; }

  alignas(kCacheLine) std::atomic<std::uint64_t> head_{kNone};
  std::unique_ptr<std::atomic<std::uint32_t>[]> next_;
};

}  // namespace ordergate::detail
