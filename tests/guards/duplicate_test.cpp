#include "ordergate/guards/duplicate.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace ordergate::guards {
namespace {

using Insert = ClientOrderIdIndex::Insert;

std::string numbered_id(int n) {
  std::string id = "ord-";
  id += std::to_string(n);
  return id;
}

TEST(ClientOrderIdKey, IsStableAndNeverEmptyOrTombstone) {
  EXPECT_EQ(ClientOrderIdIndex::key(3, "abc"), ClientOrderIdIndex::key(3, "abc"));
  EXPECT_GT(ClientOrderIdIndex::key(0, ""), 1u);
  for (int n = 0; n < 10'000; ++n) EXPECT_GT(ClientOrderIdIndex::key(1, numbered_id(n)), 1u);
}

TEST(ClientOrderIdKey, SeparatesPrincipalsAndIds) {
  EXPECT_NE(ClientOrderIdIndex::key(1, "abc"), ClientOrderIdIndex::key(2, "abc"));
  EXPECT_NE(ClientOrderIdIndex::key(1, "abc"), ClientOrderIdIndex::key(1, "abd"));
  EXPECT_NE(ClientOrderIdIndex::key(1, "abc"), ClientOrderIdIndex::key(1, "ab"));
  EXPECT_NE(ClientOrderIdIndex::key(0x0100, "a"), ClientOrderIdIndex::key(0x0001, "a"));
  EXPECT_NE(ClientOrderIdIndex::key(1, std::string_view("a\0", 2)), ClientOrderIdIndex::key(1, "a"));
}

TEST(ClientOrderIdKey, SpreadsSequentialIdsAcrossTheLowBits) {
  // The table indexes by the low bits; sequential ids must not pile up.
  std::set<std::uint64_t> buckets;
  for (int n = 0; n < 1024; ++n) buckets.insert(ClientOrderIdIndex::key(7, numbered_id(n)) & 1023);
  EXPECT_GT(buckets.size(), 600u);  // a uniform hash fills about 647 of 1024
}

TEST(ClientOrderIdIndex, RoundsCapacityUpToAPowerOfTwo) {
  EXPECT_EQ(ClientOrderIdIndex(0).capacity(), 16u);
  EXPECT_EQ(ClientOrderIdIndex(16).capacity(), 16u);
  EXPECT_EQ(ClientOrderIdIndex(17).capacity(), 32u);
  EXPECT_EQ(ClientOrderIdIndex(1000).capacity(), 1024u);
}

TEST(ClientOrderIdIndex, DetectsADuplicateOfAnInsertedKey) {
  ClientOrderIdIndex index(64);
  const std::uint64_t key = ClientOrderIdIndex::key(1, "c-1");
  std::size_t slot = 0;
  ASSERT_EQ(index.insert(key, slot), Insert::inserted);
  EXPECT_TRUE(index.contains(key));
  std::size_t other = 0;
  EXPECT_EQ(index.insert(key, other), Insert::duplicate);
  EXPECT_FALSE(index.contains(ClientOrderIdIndex::key(2, "c-1")));
  EXPECT_EQ(index.insert(ClientOrderIdIndex::key(2, "c-1"), other), Insert::inserted);
}

TEST(ClientOrderIdIndex, FindsOnlyPublishedOrders) {
  ClientOrderIdIndex index(64);
  const std::uint64_t key = ClientOrderIdIndex::key(1, "c-1");
  std::size_t slot = 0;
  ASSERT_EQ(index.insert(key, slot), Insert::inserted);
  OrderId order = 99;
  EXPECT_FALSE(index.find(key, order));
  EXPECT_EQ(order, 99u);
  index.publish(slot, 42);
  ASSERT_TRUE(index.find(key, order));
  EXPECT_EQ(order, 42u);
  EXPECT_FALSE(index.find(ClientOrderIdIndex::key(1, "c-2"), order));
}

TEST(ClientOrderIdIndex, EraseUndoesAnInsertSoTheIdCanBeUsedAgain) {
  ClientOrderIdIndex index(64);
  const std::uint64_t key = ClientOrderIdIndex::key(1, "retry-me");
  std::size_t slot = 0;
  ASSERT_EQ(index.insert(key, slot), Insert::inserted);
  index.erase(slot);
  EXPECT_FALSE(index.contains(key));
  std::size_t again = 0;
  ASSERT_EQ(index.insert(key, again), Insert::inserted);
  EXPECT_NE(again, slot);  // tombstones are never reused
  index.publish(again, 7);
  OrderId order = 0;
  ASSERT_TRUE(index.find(key, order));
  EXPECT_EQ(order, 7u);
  std::size_t third = 0;
  EXPECT_EQ(index.insert(key, third), Insert::duplicate);
}

TEST(ClientOrderIdIndex, ProbesPastCollisionsAndTombstones) {
  ClientOrderIdIndex index(16);
  // Keys that all hash to slot 5.
  const std::uint64_t a = (1ull << 40) | 5;
  const std::uint64_t b = (2ull << 40) | 5;
  const std::uint64_t c = (3ull << 40) | 5;
  std::size_t slot_a = 0;
  std::size_t slot_b = 0;
  std::size_t slot_c = 0;
  ASSERT_EQ(index.insert(a, slot_a), Insert::inserted);
  ASSERT_EQ(index.insert(b, slot_b), Insert::inserted);
  EXPECT_EQ(slot_a, 5u);
  EXPECT_EQ(slot_b, 6u);
  index.erase(slot_a);
  ASSERT_EQ(index.insert(c, slot_c), Insert::inserted);
  EXPECT_EQ(slot_c, 7u);
  EXPECT_TRUE(index.contains(b));
  EXPECT_TRUE(index.contains(c));
  EXPECT_FALSE(index.contains(a));
  EXPECT_EQ(index.insert(b, slot_a), Insert::duplicate);
}

TEST(ClientOrderIdIndex, ReportsFullWhenEverySlotIsTaken) {
  ClientOrderIdIndex index(16);
  std::size_t slot = 0;
  for (int n = 0; n < 16; ++n) {
    ASSERT_EQ(index.insert(ClientOrderIdIndex::key(1, numbered_id(n)), slot), Insert::inserted) << n;
  }
  EXPECT_EQ(index.insert(ClientOrderIdIndex::key(1, "one-more"), slot), Insert::full);
  EXPECT_EQ(index.insert(ClientOrderIdIndex::key(1, numbered_id(3)), slot), Insert::duplicate);
  EXPECT_FALSE(index.contains(ClientOrderIdIndex::key(1, "one-more")));
}

TEST(ClientOrderIdIndex, StopsProbingAtTheProbeLimit) {
  ClientOrderIdIndex index(1024);
  std::size_t slot = 0;
  // Fill a run of kMaxProbe slots starting at 0 with keys that all start there.
  for (std::uint64_t n = 1; n <= ClientOrderIdIndex::kMaxProbe; ++n) {
    ASSERT_EQ(index.insert(n << 20, slot), Insert::inserted);
  }
  const std::uint64_t late = (ClientOrderIdIndex::kMaxProbe + 1) << 20;
  EXPECT_EQ(index.insert(late, slot), Insert::full);
  EXPECT_FALSE(index.contains(late));
  EXPECT_EQ(index.insert(late | 1, slot), Insert::inserted);  // another start slot still has room
}

TEST(ClientOrderIdIndex, IgnoresTheReservedKeyValues) {
  ClientOrderIdIndex index(16);
  std::size_t slot = 0;
  EXPECT_NE(index.insert(0, slot), Insert::inserted);
  EXPECT_NE(index.insert(1, slot), Insert::inserted);
  EXPECT_FALSE(index.contains(0));
  EXPECT_FALSE(index.contains(1));
}

TEST(ClientOrderIdIndexConcurrency, ExactlyOneOfManyConcurrentInsertsOfAKeyWins) {
  constexpr int kThreads = 4;
  constexpr int kKeys = 2000;
  ClientOrderIdIndex index(8192);
  std::atomic<int> inserted[kKeys] = {};
  std::atomic<int> duplicates{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      for (int n = 0; n < kKeys; ++n) {
        std::size_t slot = 0;
        switch (index.insert(ClientOrderIdIndex::key(1, numbered_id(n)), slot)) {
          case Insert::inserted:
            inserted[n].fetch_add(1);
            index.publish(slot, static_cast<OrderId>(n));
            break;
          case Insert::duplicate:
            duplicates.fetch_add(1);
            break;
          case Insert::full:
            break;
        }
      }
    });
  }
  go.store(true, std::memory_order_release);
  for (std::thread& thread : threads) thread.join();
  for (int n = 0; n < kKeys; ++n) {
    ASSERT_EQ(inserted[n].load(), 1) << n;
    OrderId order = 0;
    ASSERT_TRUE(index.find(ClientOrderIdIndex::key(1, numbered_id(n)), order));
    EXPECT_EQ(order, static_cast<OrderId>(n));
  }
  EXPECT_EQ(duplicates.load(), (kThreads - 1) * kKeys);
}

TEST(ClientOrderIdIndexConcurrency, ConcurrentInsertsOfOneKeyNeverBothWinEvenWithTombstones) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 60;  // below kMaxProbe: every round leaves one more tombstone
  ClientOrderIdIndex index(4096);
  for (int round = 0; round < kRounds; ++round) {
    // Every round races the same key; the winner erases it again, leaving a
    // tombstone that the next round's inserts must probe past together.
    const std::uint64_t key = ClientOrderIdIndex::key(9, "contested");
    std::atomic<int> winners{0};
    std::atomic<std::size_t> winning_slot{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        std::size_t slot = 0;
        if (index.insert(key, slot) == Insert::inserted) {
          winners.fetch_add(1);
          winning_slot.store(slot);
        }
      });
    }
    go.store(true, std::memory_order_release);
    for (std::thread& thread : threads) thread.join();
    ASSERT_EQ(winners.load(), 1) << "round " << round;
    index.erase(winning_slot.load());
  }
}

TEST(ClientOrderIdIndex, RefusesAnAbsurdCapacity) {
  EXPECT_THROW(ClientOrderIdIndex((std::size_t{1} << 32) + 1), std::invalid_argument);
}

}  // namespace
}  // namespace ordergate::guards
