// Order records are reused once their order finished: order_capacity bounds
// the orders working at once, not the orders of a run, and the duplicate-id
// index forgets ids only after duplicate_window.

#include "ordergate/gateway/gateway.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace ordergate::testing {
namespace {

GatewayConfig small_table(std::uint32_t records) {
  GatewayConfig config = test_config();
  config.order_capacity = records;
  config.principals[0].rate_limits = {"1000000/1s"};
  config.principals[0].cancel_rate_limits = {"1000000/1s"};
  return config;
}

std::uint64_t reclaimed(const Gateway& gateway) { return gateway.counters().order_records_reclaimed; }

// Submits a market order, waits for its fill and for its record to be
// reclaimed, and returns its order id.
OrderId trade_and_reclaim(Gateway& gateway, Session& session, const std::string& id, Side side) {
  const std::uint64_t before = reclaimed(gateway);
  const Verdict verdict = session.submit(market_order(id, side, "1000"));
  EXPECT_TRUE(verdict.accepted()) << id << ": " << reason_name(verdict.reason);
  const std::vector<ExecutionReport> reports = wait_for_reports(session, 2);  // NEW, FILLED
  EXPECT_EQ(reports.size(), 2u) << id;
  if (reports.size() == 2) {
    EXPECT_EQ(reports[1].status, ExecStatus::filled) << id;
    EXPECT_EQ(reports[1].order_id, verdict.order_id) << id;
    EXPECT_EQ(reports[1].client_order_id.view(), id);
  }
  EXPECT_TRUE(wait_until([&] { return reclaimed(gateway) == before + 1; })) << id;
  return verdict.order_id;
}

TEST(GatewayOrderRecords, EightRecordsServeTenThousandOrdersEachUnderItsOwnId) {
  ManualClock clock;
  Gateway gateway(small_table(8), clock);
  gateway.start();
  Session session = gateway.open_session("alice");
  std::set<OrderId> ids;
  std::set<OrderId> records;
  for (int i = 0; i < 10'000; ++i) {
    const OrderId id = trade_and_reclaim(gateway, session, "r-" + std::to_string(i), i % 2 ? Side::sell : Side::buy);
    ids.insert(id);
    records.insert(id & 7);  // 8 records: the low three bits name the record
    if (HasFailure()) return;
  }
  EXPECT_EQ(ids.size(), 10'000u) << "an order id names one use of a record";
  EXPECT_EQ(records.size(), 8u);
  EXPECT_EQ(gateway.counters().accepted, 10'000u);
  EXPECT_EQ(gateway.exposure("acc-a", "EURUSD").position, Decimal{});
}

TEST(GatewayOrderRecords, WorkingOrdersHoldTheirRecordsAndAFreedOneIsTakenAgain) {
  ManualClock clock;
  Gateway gateway(small_table(2), clock);
  gateway.start();
  Session session = gateway.open_session("alice");
  ASSERT_TRUE(session.submit(limit_order("rest-1", Side::buy, "1.08000")).accepted());
  ASSERT_TRUE(session.submit(limit_order("rest-2", Side::buy, "1.08001")).accepted());
  EXPECT_EQ(session.submit(limit_order("rest-3", Side::buy, "1.08002")).reason, Reason::ORDER_CAPACITY_EXHAUSTED);
  // A refused id is not used up.
  ASSERT_TRUE(session.cancel("rest-1").accepted());
  ASSERT_TRUE(wait_until([&] { return reclaimed(gateway) == 1; }));
  const Verdict third = session.submit(limit_order("rest-3", Side::buy, "1.08002"));
  ASSERT_TRUE(third.accepted()) << reason_name(third.reason);
  std::vector<std::string> open;
  for (const OpenOrder& order : gateway.open_orders("alice")) open.emplace_back(order.order.client_order_id.view());
  EXPECT_EQ(open, (std::vector<std::string>{"rest-2", "rest-3"}));
}

// A resent client order id is refused before it costs a record: the table
// keeps its capacity however often a strategy resends, and the order the id
// names is untouched.
TEST(GatewayOrderRecords, AResentClientOrderIdCostsNoRecordAndLeavesItsOrderAlone) {
  ManualClock clock;
  Gateway gateway(small_table(3), clock);
  gateway.start();
  Session session = gateway.open_session("alice");
  const Verdict first = session.submit(limit_order("rest-1", Side::buy, "1.08000"));
  ASSERT_TRUE(first.accepted());
  for (int i = 0; i < 100; ++i) {
    const Verdict again = session.submit(limit_order("rest-1", Side::buy, "1.08001"));
    ASSERT_EQ(again.reason, Reason::DUPLICATE_CLIENT_ORDER_ID) << "resend " << i;
    EXPECT_EQ(again.order_id, 0u);
  }
  ASSERT_TRUE(session.submit(limit_order("rest-2", Side::buy, "1.08002")).accepted());
  ASSERT_TRUE(session.submit(limit_order("rest-3", Side::buy, "1.08003")).accepted());
  EXPECT_EQ(session.submit(limit_order("rest-4", Side::buy, "1.08004")).reason, Reason::ORDER_CAPACITY_EXHAUSTED);
  // Only the accepted orders are listed, each once, at its own price.
  std::vector<std::string> open;
  for (const OpenOrder& order : gateway.open_orders("alice")) {
    open.emplace_back(order.order.client_order_id.view());
    open.back().append("@").append(order.order.price.to_string());
  }
  std::sort(open.begin(), open.end());  // the manual clock stands still: all were accepted at one instant
  EXPECT_EQ(open, (std::vector<std::string>{"rest-1@1.08", "rest-2@1.08002", "rest-3@1.08003"}));
  EXPECT_EQ(reclaimed(gateway), 0u) << "no record was used and given back";
  // The first order is still the one its id names.
  ASSERT_TRUE(session.cancel("rest-1").accepted());
  const std::vector<ExecutionReport> reports = wait_for_reports(session, 4);  // NEW x3, CANCELED
  ASSERT_EQ(reports.size(), 4u);
  EXPECT_EQ(reports[3].status, ExecStatus::canceled);
  EXPECT_EQ(reports[3].order_id, first.order_id);
}

// Session::prefetch is a hint: it asks for memory and changes nothing a
// submit decides or counts, whatever id it is given, on any session.
TEST(GatewayOrderRecords, APrefetchChangesNothingASubmitDecidesOrCounts) {
  ManualClock clock;
  Gateway gateway(small_table(2), clock);
  gateway.start();
  Session session = gateway.open_session("alice");
  const std::string too_long(4096, 'x');
  for (const std::string_view id : {std::string_view("p-1"), std::string_view(""), std::string_view("not valid!"),
                                    std::string_view(too_long)}) {
    session.prefetch(id);
  }
  Gateway::Counters counters = gateway.counters();
  EXPECT_EQ(counters.accepted + counters.rejected, 0u) << "a prefetch is no order";
  EXPECT_TRUE(gateway.open_orders("alice").empty());
  // The id a prefetch named is still free, and is used once.
  ASSERT_TRUE(session.submit(limit_order("p-1", Side::buy, "1.08000")).accepted());
  session.prefetch("p-1");
  EXPECT_EQ(session.submit(limit_order("p-1", Side::buy, "1.08000")).reason, Reason::DUPLICATE_CLIENT_ORDER_ID);
  // The record a prefetch named is still free: the second order takes it,
  // and with both records working, the table is full.
  session.prefetch("p-2");
  ASSERT_TRUE(session.submit(limit_order("p-2", Side::buy, "1.08001")).accepted());
  session.prefetch("p-3");  // no record left to name: nothing to ask for
  EXPECT_EQ(session.submit(limit_order("p-3", Side::buy, "1.08002")).reason, Reason::ORDER_CAPACITY_EXHAUSTED);
  counters = gateway.counters();
  EXPECT_EQ(counters.accepted, 2u);
  EXPECT_EQ(counters.rejected, 2u);
  // On a closed session it does nothing either.
  session.close();
  session.prefetch("p-4");
  EXPECT_EQ(session.submit(limit_order("p-4", Side::buy, "1.08003")).reason, Reason::UNAUTHENTICATED);
}

TEST(GatewayOrderRecords, ACancelOfAFinishedOrderNeverReachesTheOrderNowInItsRecord) {
  ManualClock clock;
  Gateway gateway(small_table(1), clock);
  gateway.start();
  Session session = gateway.open_session("alice");
  const Verdict first = session.submit(limit_order("old", Side::buy, "1.08000"));
  ASSERT_TRUE(first.accepted());
  ASSERT_TRUE(session.cancel("old").accepted());
  ASSERT_TRUE(wait_until([&] { return reclaimed(gateway) == 1; }));
  const Verdict second = session.submit(limit_order("new", Side::buy, "1.08001"));
  ASSERT_TRUE(second.accepted());
  EXPECT_NE(second.order_id, first.order_id) << "one record, two uses, two ids";

  EXPECT_EQ(session.cancel("old").reason, Reason::UNKNOWN_ORDER);
  const std::vector<OpenOrder> open = gateway.open_orders("alice");
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].order.client_order_id.view(), "new");
  EXPECT_EQ(gateway.exposure("acc-a", "EURUSD").open_orders, 1u);
}

TEST(GatewayOrderRecords, AClientOrderIdStaysRefusedAfterItsRecordServedOthersUntilTheWindowPasses) {
  ManualClock clock;
  GatewayConfig config = small_table(1);
  config.duplicate_window_ns = 2 * kNanosPerSecond;
  Gateway gateway(config, clock);
  gateway.start();
  Session session = gateway.open_session("alice");
  trade_and_reclaim(gateway, session, "once", Side::buy);
  for (int i = 0; i < 20; ++i) trade_and_reclaim(gateway, session, "other-" + std::to_string(i), i % 2 ? Side::buy : Side::sell);
  EXPECT_EQ(session.submit(market_order("once", Side::sell, "1000")).reason, Reason::DUPLICATE_CLIENT_ORDER_ID);
  clock.advance(2 * kNanosPerSecond);  // the window, whole seconds: still refused
  EXPECT_EQ(session.submit(market_order("once", Side::sell, "1000")).reason, Reason::DUPLICATE_CLIENT_ORDER_ID);
  clock.advance(kNanosPerSecond);
  EXPECT_TRUE(session.submit(market_order("once", Side::sell, "1000")).accepted());
}

TEST(GatewayOrderRecords, AWorkingOrdersIdIsRefusedPastTheWindow) {
  ManualClock clock;
  GatewayConfig config = small_table(4);
  config.duplicate_window_ns = kNanosPerSecond;
  Gateway gateway(config, clock);
  gateway.start();
  Session session = gateway.open_session("alice");
  ASSERT_TRUE(session.submit(limit_order("gtc", Side::buy, "1.08000")).accepted());
  clock.advance(3 * kNanosPerSecond);
  EXPECT_EQ(session.submit(limit_order("gtc", Side::buy, "1.08000")).reason, Reason::DUPLICATE_CLIENT_ORDER_ID);
  EXPECT_TRUE(session.cancel("gtc").accepted()) << "still found to cancel";
}

TEST(GatewayOrderRecords, AnIndexTooSmallForTheWindowRefusesRatherThanForget) {
  ManualClock clock;
  GatewayConfig config = small_table(4);
  config.duplicate_capacity = 16;
  Gateway gateway(config, clock);
  gateway.start();
  Session session = gateway.open_session("alice");
  int accepted = 0;
  Reason last = Reason::OK;
  for (int i = 0; i < 64 && last == Reason::OK; ++i) {
    const Verdict verdict = session.submit(market_order("w-" + std::to_string(i), i % 2 ? Side::sell : Side::buy, "1000"));
    last = verdict.reason;
    if (verdict.accepted()) {
      ++accepted;
      wait_for_reports(session, 2);
    }
  }
  EXPECT_EQ(last, Reason::ORDER_CAPACITY_EXHAUSTED);
  EXPECT_LE(accepted, 16);
  EXPECT_EQ(session.submit(market_order("w-0", Side::buy, "1000")).reason, Reason::DUPLICATE_CLIENT_ORDER_ID)
      << "ids in the window are never dropped to make room";
}

TEST(GatewayOrderRecords, AClientOrderIdUsedBeforeARestartStaysRefusedForTheRestOfItsWindow) {
  StateDirectory state;
  ManualClock clock;
  GatewayConfig config = small_table(4);
  config.state_path = state.file();
  config.duplicate_window_ns = 2 * 3600 * kNanosPerSecond;
  {
    Gateway gateway(config, clock);
    gateway.start();
    Session session = gateway.open_session("alice");
    trade_and_reclaim(gateway, session, "before", Side::buy);
    ASSERT_TRUE(session.submit(limit_order("resting", Side::buy, "1.08000")).accepted());
    wait_for_reports(session, 1);
    session.close();
    gateway.stop();
  }
  clock.advance(3600 * kNanosPerSecond);  // an hour later: inside the window
  {
    Gateway gateway(config, clock);
    gateway.start();
    Session session = gateway.open_session("alice");
    EXPECT_EQ(session.submit(market_order("before", Side::sell, "1000")).reason, Reason::DUPLICATE_CLIENT_ORDER_ID);
    EXPECT_EQ(session.submit(limit_order("resting", Side::buy, "1.08000")).reason, Reason::DUPLICATE_CLIENT_ORDER_ID);
    EXPECT_TRUE(session.submit(market_order("after", Side::sell, "1000")).accepted());
    session.close();
    gateway.stop();
  }
  clock.advance(110 * 60 * kNanosPerSecond);  // 2 h 50 min after the first: past its window
  {
    Gateway gateway(config, clock);
    gateway.start();
    Session session = gateway.open_session("alice");
    EXPECT_TRUE(session.submit(market_order("before", Side::sell, "1000")).accepted());
    EXPECT_EQ(session.submit(market_order("after", Side::buy, "1000")).reason, Reason::DUPLICATE_CLIENT_ORDER_ID)
        << "used 1 h 50 min ago, in its window still";
    session.close();
    gateway.stop();
  }
}

TEST(GatewayOrderRecords, ADuplicateWindowOutsideOneSecondToThirtyDaysIsRefused) {
  GatewayConfig config = small_table(4);
  config.duplicate_window_ns = kNanosPerSecond / 2;
  EXPECT_THROW(Gateway{config}, ConfigError);
  config.duplicate_window_ns = 31LL * 24 * 3600 * kNanosPerSecond;
  EXPECT_THROW(Gateway{config}, ConfigError);
}

}  // namespace
}  // namespace ordergate::testing
