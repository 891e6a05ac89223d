#include "ordergate/guards/risk.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <limits>
#include <thread>
#include <vector>

#include "ordergate/core/clock.hpp"

namespace ordergate::guards {
namespace {

constexpr std::int64_t kNow = 50 * kNanosPerSecond;

Instrument eurusd() {
  Instrument instrument;
  instrument.id = 0;
  instrument.name.assign("EUR/USD");
  instrument.key.assign("EURUSD");
  instrument.tick_size = decimal_literal("0.00001");
  instrument.lot_step = decimal_literal("1");
  instrument.min_quantity = decimal_literal("1");
  instrument.max_quantity = decimal_literal("10000000");
  instrument.max_order_quantity = decimal_literal("1000000");
  instrument.max_notional = decimal_literal("1000000");
  instrument.max_position = decimal_literal("3000000");
  instrument.price_band_bps = 500;
  instrument.max_open_orders = 3;
  instrument.max_quote_age_ns = kNanosPerSecond;
  instrument.price_digits = 5;
  return instrument;
}

Quote quote(const char* bid, const char* ask, std::int64_t time_ns = kNow - kNanosPerSecond / 2) {
  return Quote{decimal_literal(bid), decimal_literal(ask), time_ns};
}

Order order(Side side, OrderType type, const char* quantity, const char* price = nullptr) {
  Order o;
  o.side = side;
  o.type = type;
  o.quantity = decimal_literal(quantity);
  if (type == OrderType::limit) o.price = decimal_literal(price);
  if (type == OrderType::stop) o.stop_price = decimal_literal(price);
  return o;
}

// --- check_order_risk --------------------------------------------------------

class OrderRisk : public ::testing::Test {
 protected:
  Reason check(const Order& o, const Quote& q) const {
    return check_order_risk(o, instrument_, q, kNow);
  }
  Reason check(const Order& o) const { return check(o, quote_); }

  Instrument instrument_ = eurusd();
  Quote quote_ = quote("1.24990", "1.25000");
};

TEST_F(OrderRisk, AcceptsAnOrderWithinEveryLimit) {
  EXPECT_EQ(check(order(Side::buy, OrderType::market, "10000")), Reason::OK);
  EXPECT_EQ(check(order(Side::sell, OrderType::limit, "10000", "1.25")), Reason::OK);
  EXPECT_EQ(check(order(Side::buy, OrderType::stop, "10000", "1.26")), Reason::OK);
}

TEST_F(OrderRisk, NeedsAQuote) {
  EXPECT_EQ(check(order(Side::buy, OrderType::market, "1"), Quote{}), Reason::NO_REFERENCE_PRICE);
}

TEST_F(OrderRisk, RefusesAQuoteOlderThanTheMaximumAgeButNotOneExactlyThatOld) {
  const Order o = order(Side::buy, OrderType::market, "1");
  EXPECT_EQ(check(o, quote("1.2499", "1.25", kNow - kNanosPerSecond)), Reason::OK);
  EXPECT_EQ(check(o, quote("1.2499", "1.25", kNow - kNanosPerSecond - 1)), Reason::NO_REFERENCE_PRICE);
  // Published a moment "after" the reader sampled the clock: still fresh.
  EXPECT_EQ(check(o, quote("1.2499", "1.25", kNow + 10)), Reason::OK);
  // An age that overflows is not a fresh quote.
  const Quote ancient = quote("1.2499", "1.25", std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(check_order_risk(o, instrument_, ancient, std::numeric_limits<std::int64_t>::max()),
            Reason::NO_REFERENCE_PRICE);
}

TEST_F(OrderRisk, RefusesNonPositiveCrossedOrLockedQuotes) {
  const Order o = order(Side::sell, OrderType::market, "1");
  EXPECT_EQ(check(o, quote("0", "1.25")), Reason::NO_REFERENCE_PRICE);
  EXPECT_EQ(check(o, quote("-1.2", "1.25")), Reason::NO_REFERENCE_PRICE);
  EXPECT_EQ(check(o, quote("1.2499", "0")), Reason::NO_REFERENCE_PRICE);
  EXPECT_EQ(check(o, quote("1.2501", "1.25")), Reason::NO_REFERENCE_PRICE);  // crossed
  EXPECT_EQ(check(o, quote("1.25", "1.25")), Reason::NO_REFERENCE_PRICE);    // locked
}

TEST_F(OrderRisk, RefusesQuantityAboveTheOrderLimitInclusively) {
  instrument_.max_notional = decimal_literal("100000000");
  EXPECT_EQ(check(order(Side::buy, OrderType::market, "1000000")), Reason::OK);
  EXPECT_EQ(check(order(Side::buy, OrderType::market, "1000001")), Reason::MAX_QUANTITY_EXCEEDED);
}

TEST_F(OrderRisk, ValuesMarketOrdersAtTheSideOfTheBookTheyWouldTake) {
  // 800000 x 1.25 (ask) is exactly the 1000000 limit; one more unit is over.
  EXPECT_EQ(check(order(Side::buy, OrderType::market, "800000")), Reason::OK);
  EXPECT_EQ(check(order(Side::buy, OrderType::market, "800001")), Reason::MAX_NOTIONAL_EXCEEDED);
  // The same quantity sold is valued at the bid, 1.2499: 999921.2499.
  EXPECT_EQ(check(order(Side::sell, OrderType::market, "800001")), Reason::OK);
}

TEST_F(OrderRisk, ValuesLimitAndStopOrdersAtTheirOwnPrice) {
  EXPECT_EQ(check(order(Side::buy, OrderType::limit, "800000", "1.25")), Reason::OK);
  EXPECT_EQ(check(order(Side::buy, OrderType::limit, "800000", "1.25001")), Reason::MAX_NOTIONAL_EXCEEDED);
  EXPECT_EQ(check(order(Side::sell, OrderType::stop, "833333", "1.2")), Reason::OK);
  EXPECT_EQ(check(order(Side::sell, OrderType::stop, "833334", "1.2")), Reason::MAX_NOTIONAL_EXCEEDED);
}

TEST_F(OrderRisk, AcceptsPricesExactlyOnTheBandEdge) {
  // Buy reference is the ask 1.25; 500 bps is 0.0625 either side.
  EXPECT_EQ(check(order(Side::buy, OrderType::limit, "1000", "1.3125")), Reason::OK);
  EXPECT_EQ(check(order(Side::buy, OrderType::limit, "1000", "1.1875")), Reason::OK);
  EXPECT_EQ(check(order(Side::buy, OrderType::stop, "1000", "1.3125")), Reason::OK);
}

TEST_F(OrderRisk, RefusesPricesOneTickOutsideTheBand) {
  EXPECT_EQ(check(order(Side::buy, OrderType::limit, "1000", "1.31251")), Reason::PRICE_OUT_OF_BAND);
  EXPECT_EQ(check(order(Side::buy, OrderType::limit, "1000", "1.18749")), Reason::PRICE_OUT_OF_BAND);
  EXPECT_EQ(check(order(Side::buy, OrderType::stop, "1000", "1.31251")), Reason::PRICE_OUT_OF_BAND);
}

TEST_F(OrderRisk, ComparesTheBandExactlyAgainstTheSellSideReference) {
  // Sell reference is the bid 1.2499; the band edge is 1.2499 +/- 0.062495,
  // which falls between ticks.
  EXPECT_EQ(check(order(Side::sell, OrderType::limit, "1000", "1.31239")), Reason::OK);
  EXPECT_EQ(check(order(Side::sell, OrderType::limit, "1000", "1.31240")), Reason::PRICE_OUT_OF_BAND);
  EXPECT_EQ(check(order(Side::sell, OrderType::limit, "1000", "1.18741")), Reason::OK);
  EXPECT_EQ(check(order(Side::sell, OrderType::limit, "1000", "1.18740")), Reason::PRICE_OUT_OF_BAND);
}

TEST_F(OrderRisk, NeverBandChecksMarketOrders) {
  instrument_.price_band_bps = 1;
  EXPECT_EQ(check(order(Side::buy, OrderType::market, "1000")), Reason::OK);
  EXPECT_EQ(check(order(Side::buy, OrderType::limit, "1000", "1.26")), Reason::PRICE_OUT_OF_BAND);
}

TEST_F(OrderRisk, ChecksInDocumentedOrder) {
  const Order everything_wrong = order(Side::buy, OrderType::limit, "2000000", "9");
  EXPECT_EQ(check(everything_wrong, Quote{}), Reason::NO_REFERENCE_PRICE);
  EXPECT_EQ(check(everything_wrong), Reason::MAX_QUANTITY_EXCEEDED);
  EXPECT_EQ(check(order(Side::buy, OrderType::limit, "1000000", "9")), Reason::MAX_NOTIONAL_EXCEEDED);
  EXPECT_EQ(check(order(Side::buy, OrderType::limit, "1000", "9")), Reason::PRICE_OUT_OF_BAND);
}

TEST_F(OrderRisk, HandlesExtremeValuesWithoutOverflow) {
  instrument_.max_order_quantity = Decimal::from_raw(std::numeric_limits<std::int64_t>::max());
  instrument_.max_notional = Decimal::from_raw(std::numeric_limits<std::int64_t>::max());
  Order o = order(Side::buy, OrderType::limit, "1", "1.25");
  o.quantity = Decimal::from_raw(std::numeric_limits<std::int64_t>::max());
  o.price = Decimal::from_raw(std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(check(o), Reason::MAX_NOTIONAL_EXCEEDED);
  o.quantity = decimal_literal("0.000000001");
  EXPECT_EQ(check(o), Reason::PRICE_OUT_OF_BAND);
}

// --- ExposureBook --------------------------------------------------------------

class Exposure : public ::testing::Test {
 protected:
  Reason reserve(Side side, const char* quantity, bool reduce_only = false) {
    return book_.reserve(0, instrument_, side, decimal_literal(quantity), reduce_only);
  }
  ExposureBook::Snapshot snapshot() const { return book_.snapshot(0, instrument_.id); }
  // Opens and fully fills an order, leaving a position and no working quantity.
  void fill(Side side, const char* quantity) {
    ASSERT_EQ(reserve(side, quantity), Reason::OK);
    book_.apply_fill(0, instrument_.id, side, decimal_literal(quantity));
    book_.release(0, instrument_.id, side, Decimal{});
  }

  Instrument instrument_ = eurusd();
  ExposureBook book_{2, 2};
};

bool same(const ExposureBook::Snapshot& a, const ExposureBook::Snapshot& b) {
  return a.position == b.position && a.working_buy == b.working_buy && a.working_sell == b.working_sell &&
         a.open_orders == b.open_orders;
}

TEST_F(Exposure, BooksWorkingQuantityAndOpenOrdersPerSide) {
  ASSERT_EQ(reserve(Side::buy, "100000"), Reason::OK);
  ASSERT_EQ(reserve(Side::sell, "40000"), Reason::OK);
  const ExposureBook::Snapshot s = snapshot();
  EXPECT_TRUE(s.position.is_zero());
  EXPECT_EQ(s.working_buy, decimal_literal("100000"));
  EXPECT_EQ(s.working_sell, decimal_literal("40000"));
  EXPECT_EQ(s.open_orders, 2u);
  EXPECT_EQ(book_.snapshot(1, 0).open_orders, 0u);  // other account untouched
  EXPECT_EQ(book_.snapshot(0, 1).open_orders, 0u);  // other instrument untouched
}

TEST_F(Exposure, RefusesTheOrderBeyondMaxOpenOrdersAndAdmitsItAfterARelease) {
  for (int i = 0; i < 3; ++i) ASSERT_EQ(reserve(Side::buy, "1"), Reason::OK);
  const ExposureBook::Snapshot full = snapshot();
  EXPECT_EQ(reserve(Side::sell, "1"), Reason::MAX_OPEN_ORDERS);
  EXPECT_TRUE(same(snapshot(), full));
  book_.release(0, instrument_.id, Side::buy, decimal_literal("1"));
  EXPECT_EQ(reserve(Side::sell, "1"), Reason::OK);
}

TEST_F(Exposure, RefusesAWorstCasePositionBeyondTheLimitInclusively) {
  ASSERT_EQ(reserve(Side::buy, "2000000"), Reason::OK);
  EXPECT_EQ(reserve(Side::buy, "1000001"), Reason::MAX_POSITION_EXCEEDED);
  EXPECT_EQ(snapshot().open_orders, 1u);  // the failed reservation gave its slot back
  EXPECT_EQ(reserve(Side::buy, "1000000"), Reason::OK);
  // Sells are measured on their own side: working buys neither use up nor
  // extend their room, since either side may fill alone.
  EXPECT_EQ(reserve(Side::sell, "3000001"), Reason::MAX_POSITION_EXCEEDED);
  EXPECT_EQ(reserve(Side::sell, "3000000"), Reason::OK);
}

TEST_F(Exposure, AnAmendBooksMoreQuantityWithoutAnOpenOrderSlotUnderTheSameLimits) {
  for (int i = 0; i < 3; ++i) ASSERT_EQ(reserve(Side::buy, "1000000"), Reason::OK);
  // Every slot is taken: an amend needs none.
  EXPECT_EQ(book_.reserve_more(0, instrument_, Side::buy, decimal_literal("0"), false), Reason::INVALID_QUANTITY);
  const ExposureBook::Snapshot before = snapshot();
  EXPECT_EQ(book_.reserve_more(0, instrument_, Side::buy, decimal_literal("1"), false),
            Reason::MAX_POSITION_EXCEEDED);
  EXPECT_TRUE(same(snapshot(), before)) << "a refused amend books nothing";
  book_.release_quantity(0, instrument_.id, Side::buy, decimal_literal("500000"));
  EXPECT_EQ(snapshot().open_orders, 3u) << "an amend that shrinks an order keeps its slot";
  EXPECT_EQ(book_.reserve_more(0, instrument_, Side::buy, decimal_literal("500000"), false), Reason::OK);
  EXPECT_EQ(snapshot().working_buy, decimal_literal("3000000"));
  EXPECT_EQ(snapshot().open_orders, 3u);
  EXPECT_EQ(book_.reserve_more(7, instrument_, Side::buy, decimal_literal("1"), false), Reason::UNKNOWN_ACCOUNT);
  EXPECT_EQ(book_.reserve_more(0, instrument_, Side::unset, decimal_literal("1"), false), Reason::INVALID_SIDE);
}

TEST_F(Exposure, InAReducingScopeAnAmendMustLeaveTheSideShrinkingThePosition) {
  fill(Side::buy, "50000");  // long 50,000
  ASSERT_EQ(reserve(Side::sell, "40000", true), Reason::OK);
  EXPECT_EQ(book_.reserve_more(0, instrument_, Side::sell, decimal_literal("10001"), true), Reason::REDUCE_ONLY);
  EXPECT_EQ(book_.reserve_more(0, instrument_, Side::sell, decimal_literal("10000"), true), Reason::OK);
  book_.release_quantity(0, instrument_.id, Side::sell, decimal_literal("10000"));
  EXPECT_EQ(book_.check_reduces(0, instrument_.id, Side::sell, decimal_literal("0")), Reason::OK);
  // A buy only grows a long position.
  EXPECT_EQ(book_.check_reduces(0, instrument_.id, Side::buy, decimal_literal("0")), Reason::REDUCE_ONLY);
  // The long shrinks to 30,000 by fills elsewhere: 40,000 of working sells
  // could now flip it, unless the amend takes off 10,000.
  book_.apply_position_change(0, instrument_.id, Side::sell, decimal_literal("20000"));
  EXPECT_EQ(book_.check_reduces(0, instrument_.id, Side::sell, decimal_literal("9999")), Reason::REDUCE_ONLY);
  EXPECT_EQ(book_.check_reduces(0, instrument_.id, Side::sell, decimal_literal("10000")), Reason::OK);
}

TEST_F(Exposure, CountsTheFilledPositionInTheWorstCase) {
  fill(Side::buy, "2500000");
  EXPECT_EQ(snapshot().position, decimal_literal("2500000"));
  EXPECT_EQ(snapshot().open_orders, 0u);
  EXPECT_EQ(reserve(Side::buy, "500001"), Reason::MAX_POSITION_EXCEEDED);
  EXPECT_EQ(reserve(Side::buy, "500000"), Reason::OK);
  // Long 2.5M: selling 5.5M would end 3M short, the limit.
  EXPECT_EQ(reserve(Side::sell, "5500001"), Reason::MAX_POSITION_EXCEEDED);
  EXPECT_EQ(reserve(Side::sell, "5500000"), Reason::OK);
}

TEST_F(Exposure, AppliesPartialFillsThenReleasesTheLeaves) {
  ASSERT_EQ(reserve(Side::sell, "100000"), Reason::OK);
  book_.apply_fill(0, instrument_.id, Side::sell, decimal_literal("30000"));
  ExposureBook::Snapshot s = snapshot();
  EXPECT_EQ(s.position, decimal_literal("-30000"));
  EXPECT_EQ(s.working_sell, decimal_literal("70000"));
  EXPECT_EQ(s.open_orders, 1u);
  book_.release(0, instrument_.id, Side::sell, decimal_literal("70000"));
  s = snapshot();
  EXPECT_EQ(s.position, decimal_literal("-30000"));
  EXPECT_TRUE(s.working_sell.is_zero());
  EXPECT_EQ(s.open_orders, 0u);
}

TEST_F(Exposure, ReduceOnlyAdmitsOrdersThatShrinkThePositionUpToFlat) {
  fill(Side::buy, "1000000");
  EXPECT_EQ(reserve(Side::sell, "600000", true), Reason::OK);
  EXPECT_EQ(reserve(Side::sell, "400000", true), Reason::OK);
  const ExposureBook::Snapshot flat_if_filled = snapshot();
  EXPECT_EQ(reserve(Side::sell, "1", true), Reason::REDUCE_ONLY);  // would flip to short
  EXPECT_TRUE(same(snapshot(), flat_if_filled));
}

TEST_F(Exposure, ReduceOnlyRefusesOrdersThatGrowThePosition) {
  fill(Side::sell, "500000");
  EXPECT_EQ(reserve(Side::sell, "1", true), Reason::REDUCE_ONLY);
  EXPECT_EQ(reserve(Side::buy, "500001", true), Reason::REDUCE_ONLY);
  EXPECT_EQ(reserve(Side::buy, "500000", true), Reason::OK);
}

TEST_F(Exposure, ReduceOnlyRefusesEverythingWhenFlat) {
  EXPECT_EQ(reserve(Side::buy, "1", true), Reason::REDUCE_ONLY);
  EXPECT_EQ(reserve(Side::sell, "1", true), Reason::REDUCE_ONLY);
  EXPECT_EQ(snapshot().open_orders, 0u);
}

TEST_F(Exposure, ReportsReasonsInDocumentedOrder) {
  instrument_.max_position = decimal_literal("10");
  fill(Side::buy, "5");
  // A buy while long in reduce-only mode that is also far too big.
  EXPECT_EQ(reserve(Side::buy, "100", true), Reason::REDUCE_ONLY);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(reserve(Side::sell, "1"), Reason::OK);
  EXPECT_EQ(reserve(Side::buy, "100", true), Reason::MAX_OPEN_ORDERS);
}

TEST_F(Exposure, FailsClosedWhenTheWorstCaseWouldOverflow) {
  instrument_.max_position = Decimal::from_raw(std::numeric_limits<std::int64_t>::max());
  instrument_.max_open_orders = 10;
  const Decimal all = Decimal::from_raw(std::numeric_limits<std::int64_t>::max());
  ASSERT_EQ(book_.reserve(0, instrument_, Side::buy, all, false), Reason::OK);
  EXPECT_EQ(book_.reserve(0, instrument_, Side::buy, Decimal::from_raw(1), false),
            Reason::MAX_POSITION_EXCEEDED);
  EXPECT_EQ(snapshot().working_buy, all);
  EXPECT_EQ(snapshot().open_orders, 1u);
}

TEST_F(Exposure, RefusesWhatItCannotBook) {
  const Decimal one = decimal_literal("1");
  EXPECT_EQ(book_.reserve(2, instrument_, Side::buy, one, false), Reason::UNKNOWN_ACCOUNT);
  Instrument unknown = instrument_;
  unknown.id = 2;
  EXPECT_EQ(book_.reserve(0, unknown, Side::buy, one, false), Reason::UNKNOWN_INSTRUMENT);
  EXPECT_EQ(book_.reserve(0, instrument_, Side::unset, one, false), Reason::INVALID_SIDE);
  EXPECT_EQ(book_.reserve(0, instrument_, Side::buy, Decimal{}, false), Reason::INVALID_QUANTITY);
  EXPECT_EQ(book_.reserve(0, instrument_, Side::sell, -one, false), Reason::INVALID_QUANTITY);
  EXPECT_EQ(snapshot().open_orders, 0u);
  EXPECT_EQ(book_.snapshot(9, 9).open_orders, 0u);
}

TEST_F(Exposure, ExtraReleasesNeverWrapTheOpenOrderCount) {
  ASSERT_EQ(reserve(Side::buy, "1"), Reason::OK);
  book_.release(0, instrument_.id, Side::buy, decimal_literal("1"));
  book_.release(0, instrument_.id, Side::buy, Decimal{});
  EXPECT_EQ(snapshot().open_orders, 0u);
  EXPECT_EQ(reserve(Side::buy, "1"), Reason::OK);
}

// --- concurrency ---------------------------------------------------------------

constexpr int kThreads = 4;

template <typename Body>
void run_threads(Body body, int thread_count = kThreads) {
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      body(t);
    });
  }
  go.store(true, std::memory_order_release);
  for (std::thread& thread : threads) thread.join();
}

TEST(ExposureConcurrency, AdmitsExactlyMaxOpenOrdersAcrossThreads) {
  Instrument instrument = eurusd();
  instrument.max_open_orders = 100;
  ExposureBook book(1, 1);
  std::atomic<int> admitted{0};
  run_threads([&](int) {
    for (int i = 0; i < 500; ++i) {
      if (book.reserve(0, instrument, Side::buy, decimal_literal("1"), false) == Reason::OK) {
        admitted.fetch_add(1);
      }
    }
  });
  EXPECT_EQ(admitted.load(), 100);
  EXPECT_EQ(book.snapshot(0, 0).open_orders, 100u);
  EXPECT_EQ(book.snapshot(0, 0).working_buy, decimal_literal("100"));
}

TEST(ExposureConcurrency, AdmitsExactlyTheMaxPositionAcrossThreads) {
  Instrument instrument = eurusd();
  instrument.max_open_orders = 1'000'000;
  instrument.max_position = decimal_literal("10000");
  ExposureBook book(1, 1);
  std::atomic<int> admitted{0};
  run_threads([&](int) {
    for (int i = 0; i < 1000; ++i) {
      if (book.reserve(0, instrument, Side::sell, decimal_literal("7"), false) == Reason::OK) {
        admitted.fetch_add(1);
      }
    }
  });
  EXPECT_EQ(admitted.load(), 10000 / 7);
  EXPECT_EQ(book.snapshot(0, 0).working_sell, Decimal::from_integer(7 * (10000 / 7)));
  EXPECT_EQ(book.snapshot(0, 0).open_orders, static_cast<std::uint32_t>(10000 / 7));
}

TEST(ExposureConcurrency, NeverExceedsLimitsWhileOrdersOpenFillAndClose) {
  Instrument instrument = eurusd();
  instrument.max_open_orders = 8;
  instrument.max_position = decimal_literal("50");
  ExposureBook book(1, 1);
  std::atomic<bool> done{false};
  std::atomic<int> violations{0};
  std::thread monitor([&] {
    while (!done.load(std::memory_order_acquire)) {
      const ExposureBook::Snapshot s = book.snapshot(0, 0);
      if (s.open_orders > instrument.max_open_orders) violations.fetch_add(1);
    }
  });
  run_threads([&](int t) {
    const Side side = t % 2 == 0 ? Side::buy : Side::sell;
    for (int i = 0; i < 2000; ++i) {
      const Decimal quantity = Decimal::from_integer(1 + i % 5);
      if (book.reserve(0, instrument, side, quantity, false) != Reason::OK) continue;
      if (i % 3 == 0) {
        // Buy and sell threads fill alike, so the position wanders around
        // zero and neither side stays blocked by the position limit.
        book.apply_fill(0, 0, side, quantity);
        book.release(0, 0, side, Decimal{});
      } else {
        book.release(0, 0, side, quantity);
      }
    }
  });
  done.store(true, std::memory_order_release);
  monitor.join();
  EXPECT_EQ(violations.load(), 0);
  const ExposureBook::Snapshot s = book.snapshot(0, 0);
  EXPECT_EQ(s.open_orders, 0u);
  EXPECT_TRUE(s.working_buy.is_zero());
  EXPECT_TRUE(s.working_sell.is_zero());
  EXPECT_LE(s.position.abs(), instrument.max_position);
}

// A reduce-only sell that read the position before another sell reserved and
// filled (working back where it was) must not book against the stale
// position: the compare-and-swap on working alone cannot see that the
// position moved (an ABA). Each thread sells the whole position reduce-only,
// fills it, then buys it back; with the race, two sells of the whole position
// both fill and the position goes short.
TEST(ExposureConcurrency, ReduceOnlyNeverFlipsThePositionWhileOtherOrdersFill) {
  Instrument instrument = eurusd();
  instrument.max_open_orders = 1'000'000;
  instrument.max_position = decimal_literal("10");
  ExposureBook book(1, 1);
  const Decimal whole = decimal_literal("10");
  ASSERT_EQ(book.reserve(0, instrument, Side::buy, whole, false), Reason::OK);
  book.apply_fill(0, 0, Side::buy, whole);
  book.release(0, 0, Side::buy, Decimal{});
  std::atomic<int> shorts{0};
  std::atomic<int> longs{0};
  std::atomic<int> reduced{0};
  run_threads([&](int) {
    for (int i = 0; i < 2'000'000; ++i) {
      if (book.reserve(0, instrument, Side::sell, whole, true) != Reason::OK) continue;
      reduced.fetch_add(1, std::memory_order_relaxed);
      book.apply_fill(0, 0, Side::sell, whole);
      book.release(0, 0, Side::sell, Decimal{});
      if (book.snapshot(0, 0).position.is_negative()) shorts.fetch_add(1, std::memory_order_relaxed);
      // Buy the position back unless another thread already did; the limit
      // of 10 admits one buy of 10 only while flat with nothing working.
      bool bought = false;
      while (!bought && book.snapshot(0, 0).position < whole) {
        bought = book.reserve(0, instrument, Side::buy, whole, false) == Reason::OK;
        if (!bought) std::this_thread::yield();
      }
      if (!bought) continue;
      book.apply_fill(0, 0, Side::buy, whole);
      book.release(0, 0, Side::buy, Decimal{});
      if (book.snapshot(0, 0).position > whole) longs.fetch_add(1, std::memory_order_relaxed);
    }
  }, 8);
  EXPECT_GT(reduced.load(), 0);
  EXPECT_EQ(shorts.load(), 0) << "a reduce-only sell booked against a stale position";
  EXPECT_EQ(longs.load(), 0) << "a buy went past max_position";
  const ExposureBook::Snapshot s = book.snapshot(0, 0);
  EXPECT_TRUE(s.working_buy.is_zero());
  EXPECT_TRUE(s.working_sell.is_zero());
  EXPECT_EQ(s.open_orders, 0u);
}

// The same race with the position closed by a fill that belongs to no
// working order (a stop loss triggering), after which the venue cancels the
// reduce-only order that was waiting to close it: working returns to where a
// slower reduce-only sell read it, and only the position moved. Each thread
// holds the whole position reserved before it closes it, either by its own
// fill or by such a position change; a sell booked against the stale
// position would then fill and go short.
TEST(ExposureConcurrency, ReduceOnlyNeverFlipsThePositionWhileProtectiveFillsCloseIt) {
  Instrument instrument = eurusd();
  instrument.max_open_orders = 1'000'000;
  instrument.max_position = decimal_literal("10");
  ExposureBook book(1, 1);
  const Decimal whole = decimal_literal("10");
  book.apply_position_change(0, 0, Side::buy, whole);
  ASSERT_EQ(book.snapshot(0, 0).position, whole);
  std::atomic<int> shorts{0};
  std::atomic<int> closed_by_stop{0};
  run_threads([&](int t) {
    for (int i = 0; i < 1'000'000; ++i) {
      if (book.reserve(0, instrument, Side::sell, whole, true) != Reason::OK) continue;
      if ((i + t) % 2 == 0) {
        book.apply_position_change(0, 0, Side::sell, whole);  // the stop loss closed it
        book.release(0, 0, Side::sell, whole);                  // the venue cancelled the sell
        closed_by_stop.fetch_add(1, std::memory_order_relaxed);
      } else {
        book.apply_fill(0, 0, Side::sell, whole);
        book.release(0, 0, Side::sell, Decimal{});
      }
      if (book.snapshot(0, 0).position.is_negative()) shorts.fetch_add(1, std::memory_order_relaxed);
      bool bought = false;
      while (!bought && book.snapshot(0, 0).position < whole) {
        bought = book.reserve(0, instrument, Side::buy, whole, false) == Reason::OK;
        if (!bought) std::this_thread::yield();
      }
      if (!bought) continue;
      book.apply_fill(0, 0, Side::buy, whole);
      book.release(0, 0, Side::buy, Decimal{});
    }
  }, 8);
  EXPECT_GT(closed_by_stop.load(), 0);
  EXPECT_EQ(shorts.load(), 0) << "a reduce-only sell booked against a position a protective fill had closed";
  const ExposureBook::Snapshot s = book.snapshot(0, 0);
  EXPECT_FALSE(s.position.is_negative());
  EXPECT_TRUE(s.working_sell.is_zero());
  EXPECT_EQ(s.open_orders, 0u);
}

TEST_F(Exposure, APositionChangeMovesThePositionButNoWorkingQuantity) {
  ASSERT_EQ(reserve(Side::sell, "3"), Reason::OK);
  book_.apply_position_change(0, instrument_.id, Side::buy, decimal_literal("5"));
  book_.apply_position_change(0, instrument_.id, Side::sell, decimal_literal("2"));
  book_.apply_position_change(0, instrument_.id, Side::sell, decimal_literal("-1"));  // ignored
  EXPECT_EQ(snapshot().position, decimal_literal("3"));
  EXPECT_EQ(snapshot().working_sell, decimal_literal("3"));
  EXPECT_EQ(snapshot().open_orders, 1u);
}

// A reservation first checks against the booked line's copy of what settled
// (fills and releases, written by the broker thread). The copy lags: an order
// it would refuse must be checked against the settled line itself.
TEST_F(Exposure, AnOrderTheOldCopyRefusesIsCheckedAgainstWhatSettled) {
  instrument_.max_position = decimal_literal("10");
  instrument_.max_open_orders = 100;
  ASSERT_EQ(reserve(Side::buy, "10"), Reason::OK);
  EXPECT_EQ(reserve(Side::buy, "1"), Reason::MAX_POSITION_EXCEEDED) << "the copy and the settled line agree";
  book_.release(0, instrument_.id, Side::buy, decimal_literal("10"));  // canceled: nothing left working
  EXPECT_EQ(reserve(Side::buy, "10"), Reason::OK) << "the copy lagged; the settled line admits it";
  // A sell fills: the position goes short, which leaves room to buy.
  fill(Side::sell, "5");
  EXPECT_EQ(reserve(Side::buy, "5"), Reason::OK);
  EXPECT_EQ(reserve(Side::buy, "1"), Reason::MAX_POSITION_EXCEEDED);
  const ExposureBook::Snapshot s = snapshot();
  EXPECT_EQ(s.position, decimal_literal("-5"));
  EXPECT_EQ(s.working_buy, decimal_literal("15"));
  EXPECT_EQ(s.open_orders, 2u);
}

// What raises the exposure is booked where reservations read it at once:
// orders found at the broker and fills of no order are never left to a copy.
TEST_F(Exposure, HeldOrdersAndPositionChangesCountAtOnceAgainstTheLimit) {
  instrument_.max_position = decimal_literal("10");
  instrument_.max_open_orders = 100;
  ASSERT_EQ(reserve(Side::buy, "6"), Reason::OK);
  book_.add_held_order(0, instrument_.id, Side::buy, decimal_literal("3"));
  EXPECT_EQ(reserve(Side::buy, "2"), Reason::MAX_POSITION_EXCEEDED);
  ASSERT_EQ(reserve(Side::buy, "1"), Reason::OK);
  book_.release(0, instrument_.id, Side::buy, decimal_literal("10"));
  book_.apply_position_change(0, instrument_.id, Side::buy, decimal_literal("9"));
  EXPECT_EQ(reserve(Side::buy, "2"), Reason::MAX_POSITION_EXCEEDED);
  EXPECT_EQ(reserve(Side::buy, "1"), Reason::OK);
  EXPECT_EQ(reserve(Side::sell, "10", true), Reason::REDUCE_ONLY) << "long 9: selling 10 would flip it";
  EXPECT_EQ(reserve(Side::sell, "9", true), Reason::OK);
  EXPECT_EQ(reserve(Side::sell, "1", true), Reason::REDUCE_ONLY);
}

// The booked and released totals only grow and wrap around 2^64: the
// working quantities and the limits stay exact across the wrap.
TEST_F(Exposure, TotalsThatWrapAroundKeepEveryFigureExact) {
  instrument_.max_position = Decimal::from_raw(std::int64_t{1} << 60);
  instrument_.max_open_orders = 1;
  const Decimal big = Decimal::from_raw(std::int64_t{1} << 60);
  for (int round = 0; round < 40; ++round) {  // 40 x 2^60 raw: more than twice round 2^64
    const Side side = round % 3 == 0 ? Side::sell : Side::buy;
    ASSERT_EQ(book_.reserve(0, instrument_, side, big, false), Reason::OK) << "round " << round;
    ASSERT_EQ(book_.reserve(0, instrument_, side, Decimal::from_raw(1), false), Reason::MAX_OPEN_ORDERS);
    const ExposureBook::Snapshot working = snapshot();
    ASSERT_EQ(side == Side::buy ? working.working_buy : working.working_sell, big) << "round " << round;
    ASSERT_EQ(working.open_orders, 1u);
    if (round % 2 == 0) {
      book_.apply_fill(0, instrument_.id, side, big);
      book_.release(0, instrument_.id, side, Decimal{});
      // Flat again: the opposite fill of the same size.
      const Side back = side == Side::buy ? Side::sell : Side::buy;
      ASSERT_EQ(book_.reserve(0, instrument_, back, big, false), Reason::OK) << "round " << round;
      book_.apply_fill(0, instrument_.id, back, big);
      book_.release(0, instrument_.id, back, Decimal{});
    } else {
      book_.release(0, instrument_.id, side, big);
    }
    const ExposureBook::Snapshot flat = snapshot();
    ASSERT_TRUE(flat.position.is_zero()) << "round " << round;
    ASSERT_TRUE(flat.working_buy.is_zero() && flat.working_sell.is_zero()) << "round " << round;
    ASSERT_EQ(flat.open_orders, 0u);
  }
  ASSERT_EQ(book_.reserve(0, instrument_, Side::buy, big, false), Reason::OK);
  EXPECT_EQ(book_.reserve(0, instrument_, Side::buy, Decimal::from_raw(1), false), Reason::MAX_OPEN_ORDERS);
  instrument_.max_open_orders = 2;
  EXPECT_EQ(book_.reserve(0, instrument_, Side::buy, Decimal::from_raw(1), false), Reason::MAX_POSITION_EXCEEDED);
}

}  // namespace
}  // namespace ordergate::guards
