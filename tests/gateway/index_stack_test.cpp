// The free-record stack (gateway/src/index_stack.hpp): last in, first out,
// and under threads that pop and push the same few indices at once, every
// index is held by one thread at a time and none is ever lost.

#include "index_stack.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace ordergate::detail {
namespace {

TEST(IndexStack, StartsEmptyAndGivesBackTheLastIndexPushedFirst) {
  IndexStack stack(8);
  std::uint32_t index = 99;
  EXPECT_FALSE(stack.pop(index));
  EXPECT_EQ(index, 99u) << "an empty pop leaves its argument alone";
  EXPECT_EQ(stack.peek(), IndexStack::kNone);
  stack.push(3);
  stack.push(7);
  stack.push(0);
  EXPECT_EQ(stack.peek(), 0u) << "peek names the top and leaves it";
  ASSERT_TRUE(stack.pop(index));
  EXPECT_EQ(index, 0u);
  stack.push(5);
  for (const std::uint32_t expected : {5u, 7u, 3u}) {
    ASSERT_TRUE(stack.pop(index));
    EXPECT_EQ(index, expected);
  }
  EXPECT_FALSE(stack.pop(index));
  stack.push(7);
  ASSERT_TRUE(stack.pop(index));
  EXPECT_EQ(index, 7u) << "an index popped may be pushed again";
}

// More threads than cores, so that threads are preempted between reading
// the top and swapping it: the case a bounded ring of the same size fails,
// refusing a push (and so losing an index) while a preempted consumer holds
// a cell it has claimed.
TEST(IndexStack, ThreadsCyclingFewIndicesNeverShareOneAndNeverLoseOne) {
  constexpr std::uint32_t kIndices = 64;
  constexpr int kThreads = 8;
  constexpr int kRounds = 200'000;
  IndexStack stack(kIndices);
  for (std::uint32_t i = 0; i < kIndices; ++i) stack.push(i);
  std::array<std::atomic<int>, kIndices> holders{};
  std::atomic<int> shared{0};
  std::atomic<std::uint64_t> taken{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::uint32_t held[2];
      for (int round = 0; round < kRounds; ++round) {
        // Hold one or two at a time, as a submitting thread holds a record
        // while another's is on its way back.
        const int want = 1 + (round + t) % 2;
        int got = 0;
        while (got < want && stack.pop(held[got])) {
          if (holders[held[got]].fetch_add(1, std::memory_order_relaxed) != 0) shared.fetch_add(1);
          ++got;
        }
        taken.fetch_add(static_cast<std::uint64_t>(got), std::memory_order_relaxed);
        while (got > 0) {
          --got;
          holders[held[got]].fetch_sub(1, std::memory_order_relaxed);
          stack.push(held[got]);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(shared.load(), 0) << "an index was held by two threads at once";
  EXPECT_GT(taken.load(), std::uint64_t{kRounds}) << "the threads cycled indices";
  std::vector<std::uint32_t> left;
  std::uint32_t index = 0;
  while (stack.pop(index)) left.push_back(index);
  std::sort(left.begin(), left.end());
  ASSERT_EQ(left.size(), kIndices) << "every index is back, once";
  for (std::uint32_t i = 0; i < kIndices; ++i) EXPECT_EQ(left[i], i);
}

}  // namespace
}  // namespace ordergate::detail
