// The session command ring (gateway/src/command_ring.hpp): its capacity,
// the free cell at its tail that a producer fills before it knows whether
// the command goes, and the hand-over of every command, in order and whole,
// to a consumer on another thread.

#include "command_ring.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <thread>
#include <vector>

namespace ordergate::detail {
namespace {

// Larger than a line, as the engine's command is.
struct Command {
  std::uint64_t sequence = 0;
  std::uint64_t payload[12] = {};
  std::uint64_t check = 0;
};

std::uint64_t check_of(const Command& command) {
  std::uint64_t check = command.sequence * 0x9E3779B97F4A7C15ull;
  for (const std::uint64_t word : command.payload) check ^= word + 0x7F4A7C15ull + (check << 6) + (check >> 2);
  return check;
}

void fill(Command& command, std::uint64_t sequence) {
  command.sequence = sequence;
  for (std::size_t i = 0; i < 12; ++i) command.payload[i] = sequence * 31 + i;
  command.check = check_of(command);
}

TEST(CommandRing, HoldsAtLeastItsCapacityAPowerOfTwoLessOne) {
  EXPECT_EQ(CommandRing<Command>(1).capacity(), 1u);
  EXPECT_EQ(CommandRing<Command>(4).capacity(), 7u);
  EXPECT_EQ(CommandRing<Command>(7).capacity(), 7u);
  EXPECT_EQ(CommandRing<Command>(8).capacity(), 15u);
  EXPECT_EQ(CommandRing<Command>(256 + 64).capacity(), 511u);
  EXPECT_THROW(CommandRing<Command>(CommandRing<Command>::kMaxCapacity + 1), std::length_error);
}

TEST(CommandRing, RefusesPastItsLimitAndHasRoomAgainOnceTheConsumerTakes) {
  CommandRing<Command> ring(7);
  for (std::uint64_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(ring.fewer_waiting_than(4)) << i;
    fill(ring.start(), i);
    ring.publish();
  }
  EXPECT_FALSE(ring.fewer_waiting_than(4)) << "four wait: a budget of four is spent";
  EXPECT_TRUE(ring.fewer_waiting_than(ring.capacity())) << "cancels may still go past the budget";

  Command taken[8];
  ASSERT_EQ(ring.take(taken, 3), 3u);
  EXPECT_TRUE(ring.fewer_waiting_than(4)) << "one waits now";
  ASSERT_EQ(ring.take(taken + 3, 8), 1u);
  EXPECT_EQ(ring.take(taken, 8), 0u) << "nothing left";
  for (std::uint64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(taken[i].sequence, i);
    EXPECT_EQ(taken[i].check, check_of(taken[i]));
  }
}

// A cancel fills the cell at the tail before it knows whether the ring has
// room; with the ring full that cell must still be none of the waiting ones.
TEST(CommandRing, TheCellAtTheTailIsFreeEvenWhenTheRingIsFull) {
  CommandRing<Command> ring(7);
  for (std::uint64_t round = 0; round < 5; ++round) {  // at each offset of the cells
    std::uint64_t next = round * 100;
    while (ring.fewer_waiting_than(ring.capacity())) {
      fill(ring.start(), next++);
      ring.publish();
    }
    fill(ring.start(), 999'999);  // a refused order, never published
    Command taken[8];
    ASSERT_EQ(ring.take(taken, 8), 7u);
    for (std::uint64_t i = 0; i < 7; ++i) {
      EXPECT_EQ(taken[i].sequence, round * 100 + i) << "round " << round;
      EXPECT_EQ(taken[i].check, check_of(taken[i]));
    }
    // The scratch cell is started afresh: nothing of the refused order.
    Command& fresh = ring.start();
    EXPECT_EQ(fresh.sequence, 0u);
    EXPECT_EQ(fresh.check, 0u);
  }
}

// A producer within a budget and a consumer on another thread, round the
// ring many times: every command arrives once, in order, whole.
TEST(CommandRing, EveryCommandReachesTheConsumerOnceInOrderAndWhole) {
  constexpr std::uint64_t kCommands = 200'000;
  constexpr std::uint32_t kBudget = 48;
  CommandRing<Command> ring(kBudget);
  std::vector<std::uint64_t> problems;
  std::thread consumer([&] {
    Command batch[16];
    std::uint64_t expected = 0;
    while (expected < kCommands) {
      const std::size_t count = ring.take(batch, 16);
      for (std::size_t i = 0; i < count; ++i, ++expected) {
        if (batch[i].sequence != expected || batch[i].check != check_of(batch[i])) problems.push_back(expected);
      }
      if (count == 0) std::this_thread::yield();
    }
  });
  for (std::uint64_t i = 0; i < kCommands;) {
    if (!ring.fewer_waiting_than(kBudget)) {
      std::this_thread::yield();
      continue;
    }
    fill(ring.start(), i++);
    ring.publish();
  }
  consumer.join();
  EXPECT_TRUE(problems.empty()) << problems.size() << " commands out of order or torn, the first at "
                                << (problems.empty() ? 0 : problems.front());
}

}  // namespace
}  // namespace ordergate::detail
