#include "ordergate/guards/duplicate.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace ordergate::guards {
namespace {

using Insert = ClientOrderIdIndex::Insert;

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::int64_t kWindow = 60 * kSecond;
constexpr std::int64_t kNow = 1000 * kSecond;

std::string numbered_id(int n) {
  std::string id = "ord-";
  id += std::to_string(n);
  return id;
}

TEST(ClientOrderIdKey, IsStableAndNeverEmpty) {
  EXPECT_EQ(ClientOrderIdIndex::key(3, "abc"), ClientOrderIdIndex::key(3, "abc"));
  EXPECT_NE(ClientOrderIdIndex::key(0, ""), 0u);
  for (int n = 0; n < 10'000; ++n) EXPECT_NE(ClientOrderIdIndex::key(1, numbered_id(n)), 0u);
}

TEST(ClientOrderIdKey, SeparatesPrincipalsAndIds) {
  EXPECT_NE(ClientOrderIdIndex::key(1, "abc"), ClientOrderIdIndex::key(2, "abc"));
  EXPECT_NE(ClientOrderIdIndex::key(1, "abc"), ClientOrderIdIndex::key(1, "abd"));
  EXPECT_NE(ClientOrderIdIndex::key(1, "abc"), ClientOrderIdIndex::key(1, "ab"));
  EXPECT_NE(ClientOrderIdIndex::key(0x0100, "a"), ClientOrderIdIndex::key(0x0001, "a"));
  EXPECT_NE(ClientOrderIdIndex::key(1, std::string_view("a\0", 2)), ClientOrderIdIndex::key(1, "a"));
}

// The key reads an id as overlapping words: ids whose words agree (the
// same letter repeated, one byte longer) or that differ only where the
// length or the principal could be folded in must still differ.
TEST(ClientOrderIdKey, SeparatesIdsWithTheSameWordsAndEveryPrincipal) {
  std::set<std::uint64_t> keys;
  std::size_t made = 0;
  for (PrincipalId principal :
       {PrincipalId{0}, PrincipalId{1}, PrincipalId{2}, PrincipalId{0x0100}, PrincipalId{0xFFFF}}) {
    for (std::size_t length = 1; length <= 32; ++length) {
      for (char c : {'a', 'b', '0'}) {
        keys.insert(ClientOrderIdIndex::key(principal, std::string(length, c)));
        ++made;
      }
    }
    // Nine and ten bytes whose second words differ by what 9 ^ 10 flips.
    keys.insert(ClientOrderIdIndex::key(principal, "zbaaaaaaa"));
    keys.insert(ClientOrderIdIndex::key(principal, "zbaaaaaaaa"));
    made += 2;
  }
  EXPECT_EQ(keys.size(), made);
}

// Numbered ids: the counter's last two bits are the key's, so four
// consecutive ids share one line of four entries (one cache miss for four
// orders), and the rest of the counter goes into the hash, so the groups of
// four still spread across the lines.
TEST(ClientOrderIdKey, PutsFourConsecutiveNumberedIdsOnOneLineAndSpreadsTheLines) {
  std::set<std::uint64_t> lines;
  for (int n = 0; n < 4096; ++n) {
    const std::uint64_t key = ClientOrderIdIndex::key(7, numbered_id(n));
    EXPECT_EQ(key & 3, static_cast<std::uint64_t>(n & 3)) << n;
    // (A group ends where the number gains a digit: "ord-9" and "ord-10".)
    if (numbered_id(n).size() == numbered_id(n & ~3).size()) {
      EXPECT_EQ(key >> 2, ClientOrderIdIndex::key(7, numbered_id(n & ~3)) >> 2) << n;
    }
    lines.insert((key >> 2) & 1023);
  }
  EXPECT_GT(lines.size(), 600u);  // 1024 groups: a uniform hash fills about 647 of 1024 lines
  // The same counter under another stem, principal or spelling of the
  // number is another group.
  const std::uint64_t group = ClientOrderIdIndex::key(7, "ord-12") >> 2;
  EXPECT_NE(ClientOrderIdIndex::key(7, "orb-12") >> 2, group);
  EXPECT_NE(ClientOrderIdIndex::key(8, "ord-12") >> 2, group);
  EXPECT_NE(ClientOrderIdIndex::key(7, "ord-012") >> 2, group);
  EXPECT_NE(ClientOrderIdIndex::key(7, "ord-012"), ClientOrderIdIndex::key(7, "ord-12"));
  EXPECT_NE(ClientOrderIdIndex::key(7, "ord-1"), ClientOrderIdIndex::key(7, "ord1"));
}

// The third id of a group names the next group's first, so that its line
// can be asked for two orders ahead; no other id names one, nor one whose
// number would need another digit.
TEST(ClientOrderIdKey, TheThirdIdOfAGroupNamesTheNextGroupsFirst) {
  std::uint64_t ahead = 0;
  EXPECT_EQ(ClientOrderIdIndex::key(5, "ord-14", ahead), ClientOrderIdIndex::key(5, "ord-14"));
  EXPECT_EQ(ahead, ClientOrderIdIndex::key(5, "ord-16"));
  EXPECT_EQ(ClientOrderIdIndex::key(5, "ord-0098", ahead), ClientOrderIdIndex::key(5, "ord-0098"));
  EXPECT_EQ(ahead, ClientOrderIdIndex::key(5, "ord-0100"));
  for (const char* none : {"ord-13", "ord-15", "ord-16", "ord-98", "ord-x", "9999999999999999999998"}) {
    (void)ClientOrderIdIndex::key(5, none, ahead);
    EXPECT_EQ(ahead, 0u) << none;
  }
  for (int n = 2; n < 4000; n += 4) {
    if (numbered_id(n).size() != numbered_id(n + 2).size()) continue;
    (void)ClientOrderIdIndex::key(9, numbered_id(n), ahead);
    EXPECT_EQ(ahead, ClientOrderIdIndex::key(9, numbered_id(n + 2))) << n;
  }
}

// Ids without a trailing number (UUID-like, or letters only) get their low
// bits from the hash: they must not pile up on the first entry of a line.
TEST(ClientOrderIdKey, SpreadsUnnumberedIdsAcrossTheLowBits) {
  std::set<std::uint64_t> buckets;
  std::set<std::uint64_t> lanes;
  for (int n = 0; n < 1024; ++n) {
    std::string id = "x";
    for (int v = n; v > 0; v /= 26) id += static_cast<char>('a' + v % 26);
    id += "z";
    const std::uint64_t key = ClientOrderIdIndex::key(7, id);
    buckets.insert(key & 1023);
    lanes.insert(key & 3);
  }
  EXPECT_GT(buckets.size(), 600u);  // a uniform hash fills about 647 of 1024
  EXPECT_EQ(lanes.size(), 4u);
}

// Counters as long as the key reads them (18 digits) and longer: every
// digit still tells ids apart.
TEST(ClientOrderIdKey, SeparatesIdsThatDifferInAnyDigitOfALongNumber) {
  std::set<std::uint64_t> keys;
  const std::string base = "q-1234567890123456789012";  // 22 digits
  std::size_t made = 0;
  for (std::size_t at = 2; at < base.size(); ++at) {
    for (char digit = '0'; digit <= '9'; ++digit) {
      std::string id = base;
      if (id[at] == digit) continue;
      id[at] = digit;
      keys.insert(ClientOrderIdIndex::key(1, id));
      ++made;
    }
  }
  keys.insert(ClientOrderIdIndex::key(1, base));
  EXPECT_EQ(keys.size(), made + 1);
}

TEST(ClientOrderIdIndex, RoundsCapacityUpToAPowerOfTwo) {
  EXPECT_EQ(ClientOrderIdIndex(0, kWindow).capacity(), 16u);
  EXPECT_EQ(ClientOrderIdIndex(16, kWindow).capacity(), 16u);
  EXPECT_EQ(ClientOrderIdIndex(17, kWindow).capacity(), 32u);
  EXPECT_EQ(ClientOrderIdIndex(1000, kWindow).capacity(), 1024u);
}

TEST(ClientOrderIdIndex, DetectsADuplicateOfAnInsertedKey) {
  ClientOrderIdIndex index(64, kWindow);
  const std::uint64_t key = ClientOrderIdIndex::key(1, "c-1");
  std::size_t slot = 0;
  ASSERT_EQ(index.insert(key, kNow, slot), Insert::inserted);
  EXPECT_TRUE(index.contains(key, kNow));
  std::size_t other = 0;
  EXPECT_EQ(index.insert(key, kNow, other), Insert::duplicate);
  EXPECT_FALSE(index.contains(ClientOrderIdIndex::key(2, "c-1"), kNow));
  EXPECT_EQ(index.insert(ClientOrderIdIndex::key(2, "c-1"), kNow, other), Insert::inserted);
}

TEST(ClientOrderIdIndex, FindsOnlyPublishedOrders) {
  ClientOrderIdIndex index(64, kWindow);
  const std::uint64_t key = ClientOrderIdIndex::key(1, "c-1");
  std::size_t slot = 0;
  ASSERT_EQ(index.insert(key, kNow, slot), Insert::inserted);
  OrderId order = 99;
  EXPECT_FALSE(index.find(key, order));
  EXPECT_EQ(order, 99u);
  index.publish(slot, 42);
  ASSERT_TRUE(index.find(key, order));
  EXPECT_EQ(order, 42u);
  EXPECT_FALSE(index.find(ClientOrderIdIndex::key(1, "c-2"), order));
}

TEST(ClientOrderIdIndex, EraseUndoesAnInsertSoTheIdCanBeUsedAgain) {
  ClientOrderIdIndex index(64, kWindow);
  const std::uint64_t key = ClientOrderIdIndex::key(1, "retry-me");
  std::size_t slot = 0;
  ASSERT_EQ(index.insert(key, kNow, slot), Insert::inserted);
  index.erase(slot);
  EXPECT_FALSE(index.contains(key, kNow));
  std::size_t again = 0;
  ASSERT_EQ(index.insert(key, kNow, again), Insert::inserted);
  EXPECT_EQ(again, slot);  // an undone entry is reusable at once
  index.publish(again, 7);
  OrderId order = 0;
  ASSERT_TRUE(index.find(key, order));
  EXPECT_EQ(order, 7u);
  std::size_t third = 0;
  EXPECT_EQ(index.insert(key, kNow, third), Insert::duplicate);
}

TEST(ClientOrderIdIndex, ProbesPastCollisionsAndReusesAnUndoneEntry) {
  ClientOrderIdIndex index(16, kWindow);
  // Keys that all hash to slot 5.
  const std::uint64_t a = (1ull << 40) | 5;
  const std::uint64_t b = (2ull << 40) | 5;
  const std::uint64_t c = (3ull << 40) | 5;
  std::size_t slot_a = 0;
  std::size_t slot_b = 0;
  std::size_t slot_c = 0;
  ASSERT_EQ(index.insert(a, kNow, slot_a), Insert::inserted);
  ASSERT_EQ(index.insert(b, kNow, slot_b), Insert::inserted);
  EXPECT_EQ(slot_a, 5u);
  EXPECT_EQ(slot_b, 6u);
  index.erase(slot_a);
  ASSERT_EQ(index.insert(c, kNow, slot_c), Insert::inserted);
  EXPECT_EQ(slot_c, 5u);
  EXPECT_TRUE(index.contains(b, kNow));
  EXPECT_TRUE(index.contains(c, kNow));
  EXPECT_FALSE(index.contains(a, kNow));
  EXPECT_EQ(index.insert(b, kNow, slot_a), Insert::duplicate);
}

TEST(ClientOrderIdIndex, ReportsFullWhenEverySlotIsTaken) {
  ClientOrderIdIndex index(16, kWindow);
  std::size_t slot = 0;
  for (int n = 0; n < 16; ++n) {
    ASSERT_EQ(index.insert(ClientOrderIdIndex::key(1, numbered_id(n)), kNow, slot), Insert::inserted) << n;
  }
  EXPECT_EQ(index.insert(ClientOrderIdIndex::key(1, "one-more"), kNow, slot), Insert::full);
  EXPECT_EQ(index.insert(ClientOrderIdIndex::key(1, numbered_id(3)), kNow, slot), Insert::duplicate);
  EXPECT_FALSE(index.contains(ClientOrderIdIndex::key(1, "one-more"), kNow));
}

TEST(ClientOrderIdIndex, StopsProbingAtTheProbeLimit) {
  ClientOrderIdIndex index(1024, kWindow);
  std::size_t slot = 0;
  // Fill a run of kMaxProbe slots starting at 0 with keys that all start there.
  for (std::uint64_t n = 1; n <= ClientOrderIdIndex::kMaxProbe; ++n) {
    ASSERT_EQ(index.insert(n << 20, kNow, slot), Insert::inserted);
  }
  const std::uint64_t late = (ClientOrderIdIndex::kMaxProbe + 1) << 20;
  EXPECT_EQ(index.insert(late, kNow, slot), Insert::full);
  EXPECT_FALSE(index.contains(late, kNow));
  EXPECT_EQ(index.insert(late | 1, kNow, slot), Insert::inserted);  // another start slot still has room
}

TEST(ClientOrderIdIndex, IgnoresTheReservedKeyValues) {
  ClientOrderIdIndex index(16, kWindow);
  std::size_t slot = 0;
  EXPECT_NE(index.insert(0, kNow, slot), Insert::inserted);
  EXPECT_FALSE(index.contains(0, kNow));
}

TEST(ClientOrderIdIndexConcurrency, NoKeyIsEverInsertedTwiceByConcurrentInserts) {
  constexpr int kThreads = 4;
  constexpr int kKeys = 2000;
  ClientOrderIdIndex index(8192, kWindow);
  std::atomic<int> inserted[kKeys] = {};
  std::atomic<int> duplicates{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      for (int n = 0; n < kKeys; ++n) {
        std::size_t slot = 0;
        switch (index.insert(ClientOrderIdIndex::key(1, numbered_id(n)), kNow, slot)) {
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
  int winners = 0;
  for (int n = 0; n < kKeys; ++n) {
    // Racing inserts of one key may all withdraw (fails closed), never both win.
    ASSERT_LE(inserted[n].load(), 1) << n;
    winners += inserted[n].load();
    OrderId order = 0;
    if (inserted[n].load() == 1) {
      ASSERT_TRUE(index.find(ClientOrderIdIndex::key(1, numbered_id(n)), order));
      EXPECT_EQ(order, static_cast<OrderId>(n));
    } else {
      EXPECT_FALSE(index.find(ClientOrderIdIndex::key(1, numbered_id(n)), order));
    }
  }
  EXPECT_EQ(winners + duplicates.load(), kThreads * kKeys);
}

TEST(ClientOrderIdIndexConcurrency, ConcurrentInsertsOfOneKeyNeverBothWinWhileEntriesAreReused) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 300;
  ClientOrderIdIndex index(64, kWindow);
  for (int round = 0; round < kRounds; ++round) {
    // Every round races the same key; the winner's insert is undone again,
    // so the next round's inserts compete for reusable entries.
    const std::uint64_t key = ClientOrderIdIndex::key(9, "contested");
    std::atomic<int> winners{0};
    std::atomic<std::size_t> winning_slot{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        std::size_t slot = 0;
        if (index.insert(key, kNow, slot) == Insert::inserted) {
          winners.fetch_add(1);
          winning_slot.store(slot);
        }
      });
    }
    go.store(true, std::memory_order_release);
    for (std::thread& thread : threads) thread.join();
    ASSERT_LE(winners.load(), 1) << "round " << round;
    if (winners.load() == 1) index.erase(winning_slot.load());
    EXPECT_FALSE(index.contains(key, kNow)) << "round " << round;
  }
}

TEST(ClientOrderIdWindow, AFinishedOrdersIdStaysRefusedForTheWindowThenMayBeUsedAgain) {
  ClientOrderIdIndex index(64, kWindow);
  const std::uint64_t key = ClientOrderIdIndex::key(1, "c-1");
  std::size_t slot = 0;
  ASSERT_EQ(index.insert(key, kNow, slot), Insert::inserted);
  index.publish(slot, 5);
  index.finish(slot, 5);
  OrderId order = 0;
  EXPECT_FALSE(index.find(key, order));  // finished: nothing to cancel
  std::size_t again = 0;
  // Kept in whole seconds, so refused for the window and at most one
  // second more, never less.
  EXPECT_TRUE(index.contains(key, kNow + kWindow + kSecond - 1));
  EXPECT_EQ(index.insert(key, kNow + kWindow + kSecond - 1, again), Insert::duplicate);
  EXPECT_FALSE(index.contains(key, kNow + kWindow + kSecond));
  ASSERT_EQ(index.insert(key, kNow + kWindow + kSecond, again), Insert::inserted);
  EXPECT_EQ(again, slot);  // the expired entry is reused, not a new one
}

TEST(ClientOrderIdWindow, ALiveOrdersIdIsNeverReusedWhateverItsAge) {
  ClientOrderIdIndex index(64, kWindow);
  const std::uint64_t key = ClientOrderIdIndex::key(1, "gtc-1");
  std::size_t slot = 0;
  ASSERT_EQ(index.insert(key, kNow, slot), Insert::inserted);
  index.publish(slot, 9);
  const std::int64_t much_later = kNow + 100 * kWindow;
  EXPECT_TRUE(index.contains(key, much_later));
  std::size_t other = 0;
  EXPECT_EQ(index.insert(key, much_later, other), Insert::duplicate);
  OrderId order = 0;
  ASSERT_TRUE(index.find(key, order));
  EXPECT_EQ(order, 9u);
  index.finish(slot, 8);  // not the order in the entry: ignored
  EXPECT_TRUE(index.find(key, order));
  index.finish(slot, 9);
  EXPECT_FALSE(index.contains(key, much_later));
}

TEST(ClientOrderIdWindow, ATableFarSmallerThanTheIdsUsedNeverFillsWhileIdsExpire) {
  // 128 entries, a one-second window (ids kept up to two seconds), 100,000
  // distinct ids at 40 per second: bounded memory, as long as the ids of one
  // window fit.
  ClientOrderIdIndex index(128, kSecond);
  for (int n = 0; n < 100'000; ++n) {
    const std::int64_t now = kNow + static_cast<std::int64_t>(n) * (kSecond / 40);
    std::size_t slot = 0;
    ASSERT_EQ(index.insert(ClientOrderIdIndex::key(1, numbered_id(n)), now, slot), Insert::inserted) << n;
    index.publish(slot, static_cast<OrderId>(n));
    index.finish(slot, static_cast<OrderId>(n));
    if (n > 0) {
      // The previous id is still inside its window.
      EXPECT_TRUE(index.contains(ClientOrderIdIndex::key(1, numbered_id(n - 1)), now)) << n;
    }
  }
}

// Reused entries keep their keys, so after many windows almost no entry is
// empty and only the reach of a key's home line ends its look-up. Forty
// windows of ids at half the table's size: look-ups stay a few lines long
// (without the reach they examine every entry up to the probe limit by
// then: 128 entries when the reach came in, 512 now), and every id of the
// window is still found.
TEST(ClientOrderIdWindow, LookUpsStayAFewLinesLongAfterFortyWindowsOfReusedEntries) {
  constexpr int kEntries = 4096;
  constexpr int kPerWindow = kEntries / 2;
  ClientOrderIdIndex index(kEntries, kSecond);
  const auto id = [](int round, int n) { return "w" + std::to_string(round) + "-" + std::to_string(n); };
  std::int64_t now = kNow;
  for (int round = 0; round < 40; ++round) {
    now = kNow + static_cast<std::int64_t>(round) * 2 * kSecond;  // the last round's ids have expired
    for (int n = 0; n < kPerWindow; ++n) {
      std::size_t slot = 0;
      ASSERT_EQ(index.insert(ClientOrderIdIndex::key(1, id(round, n)), now, slot), Insert::inserted)
          << round << " " << n;
      index.publish(slot, static_cast<OrderId>(n));
      index.finish(slot, static_cast<OrderId>(n));
    }
  }
  std::size_t examined = 0;
  std::size_t longest = 0;
  for (int n = 0; n < kEntries; ++n) {
    const std::size_t length = index.probe_length(ClientOrderIdIndex::key(1, "absent-" + std::to_string(n)));
    examined += length;
    longest = std::max(longest, length);
  }
  const double mean = static_cast<double>(examined) / kEntries;
  std::printf("after 40 windows: a look-up examines %.1f entries on average, %zu at most\n", mean, longest);
  EXPECT_LT(mean, 32.0);
  for (int n = 0; n < kPerWindow; ++n) {
    EXPECT_TRUE(index.contains(ClientOrderIdIndex::key(1, id(39, n)), now)) << n;
    EXPECT_FALSE(index.contains(ClientOrderIdIndex::key(1, id(38, n)), now)) << n;
  }
}

TEST(ClientOrderIdWindow, AFullWindowRefusesNewIdsRatherThanForgetOne) {
  ClientOrderIdIndex index(16, kWindow);
  std::size_t slot = 0;
  for (int n = 0; n < 16; ++n) {
    ASSERT_EQ(index.insert(ClientOrderIdIndex::key(1, numbered_id(n)), kNow, slot), Insert::inserted) << n;
    index.publish(slot, static_cast<OrderId>(n));
    index.finish(slot, static_cast<OrderId>(n));
  }
  EXPECT_EQ(index.insert(ClientOrderIdIndex::key(1, "one-more"), kNow + kSecond, slot), Insert::full);
  for (int n = 0; n < 16; ++n) EXPECT_TRUE(index.contains(ClientOrderIdIndex::key(1, numbered_id(n)), kNow + kSecond));
  EXPECT_EQ(index.insert(ClientOrderIdIndex::key(1, "one-more"), kNow + kWindow + kSecond, slot), Insert::inserted);
}

TEST(ClientOrderIdWindow, ARestoredIdIsRefusedForWhatRemainsOfItsWindow) {
  ClientOrderIdIndex index(64, kWindow);
  const std::uint64_t key = ClientOrderIdIndex::key(2, "before-restart");
  ASSERT_TRUE(index.restore(key, kNow, 20 * kSecond));
  EXPECT_TRUE(index.contains(key, kNow + 40 * kSecond));
  EXPECT_FALSE(index.contains(key, kNow + 41 * kSecond));
  OrderId order = 0;
  EXPECT_FALSE(index.find(key, order));
  EXPECT_FALSE(index.restore(ClientOrderIdIndex::key(2, "too-old"), kNow, kWindow));
  EXPECT_FALSE(index.contains(ClientOrderIdIndex::key(2, "too-old"), kNow));
}

TEST(ClientOrderIdIndex, RefusesAnAbsurdCapacity) {
  EXPECT_THROW(ClientOrderIdIndex((std::size_t{1} << 32) + 1, kWindow), std::invalid_argument);
  EXPECT_THROW(ClientOrderIdIndex(64, 0), std::invalid_argument);
  EXPECT_THROW(ClientOrderIdIndex(64, 31LL * 24 * 3600 * kSecond), std::invalid_argument);
}

}  // namespace
}  // namespace ordergate::guards
