#include "ordergate/core/quote.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace ordergate {
namespace {

TEST(QuoteBoard, StartsEmptyForEveryInstrument) {
  const QuoteBoard board(3);
  EXPECT_EQ(board.size(), 3u);
  for (InstrumentId id = 0; id < 3; ++id) EXPECT_TRUE(board.read(id).empty());
}

TEST(QuoteBoard, ReturnsTheLatestPublishedQuote) {
  QuoteBoard board(2);
  board.publish(1, decimal_literal("1.08460"), decimal_literal("1.08463"), 5'000);
  board.publish(1, decimal_literal("1.08461"), decimal_literal("1.08464"), 6'000);
  const Quote quote = board.read(1);
  EXPECT_FALSE(quote.empty());
  EXPECT_EQ(quote.bid, decimal_literal("1.08461"));
  EXPECT_EQ(quote.ask, decimal_literal("1.08464"));
  EXPECT_EQ(quote.time_ns, 6'000);
  EXPECT_TRUE(board.read(0).empty());
}

TEST(QuoteBoard, IgnoresUnknownInstrumentsOnBothSides) {
  QuoteBoard board(1);
  board.publish(5, decimal_literal("1"), decimal_literal("2"), 1);
  EXPECT_TRUE(board.read(5).empty());
  EXPECT_TRUE(board.read(0).empty());
}

// One writer publishes quotes whose fields are all derived from one counter;
// readers must never see fields from two different publishes.
TEST(QuoteBoard, ReadersNeverSeeATornQuote) {
  QuoteBoard board(1);
  constexpr std::int64_t kUpdates = 20'000;
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      while (!done.load(std::memory_order_acquire)) {
        const Quote quote = board.read(0);
        if (quote.empty()) continue;
        const std::int64_t n = quote.time_ns;
        if (quote.bid.raw() != n * 10 || quote.ask.raw() != n * 10 + 5) torn.fetch_add(1);
      }
    });
  }
  for (std::int64_t n = 1; n <= kUpdates; ++n) {
    board.publish(0, Decimal::from_raw(n * 10), Decimal::from_raw(n * 10 + 5), n);
  }
  done.store(true, std::memory_order_release);
  for (std::thread& reader : readers) reader.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(board.read(0).time_ns, kUpdates);
}

}  // namespace
}  // namespace ordergate
