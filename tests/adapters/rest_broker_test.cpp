// The stories every REST broker tells the same way, run against each venue's
// scripted fake: the shared order tracker (adapters/rest) with OANDA's and
// Binance's wire mappings.

#include "ordergate/adapters/rest/rest_broker.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "adapters/fake_binance.hpp"
#include "adapters/fake_oanda.hpp"
#include "adapters/rest_broker_test_support.hpp"

namespace ordergate::adapters::testing {
namespace {

using Venues = ::testing::Types<oanda::testing::OandaVenue, binance::testing::BinanceVenue>;

struct VenueNames {
  template <class Venue>
  static std::string GetName(int) {
    return Venue::kName;
  }
};

template <class Venue>
class RestBroker : public RestBrokerTest<Venue> {};
TYPED_TEST_SUITE(RestBroker, Venues, VenueNames);

TYPED_TEST(RestBroker, StartsWarmWithTheAccountCheckedAndAFirstQuote) {
  this->start(this->settings());
  EXPECT_TRUE(this->broker_->ready());
  EXPECT_EQ(this->broker_->connection_stats().connections_established, 2u);
  const Quote quote = this->quotes_.read(0);
  EXPECT_EQ(quote.bid, decimal_literal(TypeParam::kBid));
  EXPECT_EQ(quote.ask, decimal_literal(TypeParam::kAsk));
}

TYPED_TEST(RestBroker, AMarketOrderThatFillsIsFilledAtTheExactPrice) {
  this->start(this->settings());
  this->broker_->submit(this->market("fill-1"));
  ASSERT_TRUE(this->reported(1));
  const ExecutionReport& report = this->reports_.all[0];
  EXPECT_EQ(report.status, ExecStatus::filled);
  EXPECT_EQ(report.last_quantity, decimal_literal(TypeParam::kFillQuantity));
  EXPECT_EQ(report.last_price, decimal_literal(TypeParam::kFillPrice));
  EXPECT_EQ(report.cumulative_quantity, decimal_literal(TypeParam::kFillQuantity));
  EXPECT_EQ(report.average_price, decimal_literal(TypeParam::kFillPrice));
  EXPECT_TRUE(report.leaves_quantity.is_zero());
  EXPECT_EQ(report.client_order_id, std::string_view("fill-1"));
  EXPECT_FALSE(report.broker_order_id.empty());
}

TYPED_TEST(RestBroker, PublishesItsConnectionsAndEachRequestsLatencyForMetrics) {
  this->start(this->settings());
  this->broker_->submit(this->market("stats-1"));
  ASSERT_TRUE(this->reported(1));
  BrokerTransportStats stats;
  ASSERT_TRUE(static_cast<const BrokerPort&>(*this->broker_).transport_stats(stats));
  EXPECT_EQ(stats.connections_established, 2u) << "the warm pool";
  EXPECT_EQ(stats.verification_failures, 0u);
  const auto kind = [&](std::string_view name) -> const BrokerTransportStats::Requests* {
    for (const auto& requests : stats.requests) {
      if (requests.kind == name) return &requests;
    }
    return nullptr;
  };
  const BrokerTransportStats::Requests* orders = kind("order");
  ASSERT_NE(orders, nullptr);
  std::uint64_t timed = 0;
  for (const std::uint64_t count : orders->buckets) timed += count;
  EXPECT_EQ(timed, 1u) << "one order, answered";
  EXPECT_EQ(orders->failures, 0u);
  EXPECT_GT(orders->sum_ns, 0u);
  EXPECT_NE(kind("account"), nullptr) << "the account check at start";
  EXPECT_EQ(kind("cancel"), nullptr) << "no cancel was sent";
  if (std::string_view(TypeParam::kName) == "binance") {
    ASSERT_EQ(stats.venue_limits.size(), 2u);
    EXPECT_EQ(stats.venue_limits[0].name, "weight_1m");
    EXPECT_GT(stats.venue_limits[0].used, 0) << "the account check and the order weigh something";
    EXPECT_GT(stats.venue_limits[0].limit, stats.venue_limits[0].used);
    EXPECT_EQ(stats.venue_limits[1].name, "orders_10s");
    EXPECT_GE(stats.venue_limits[1].used, 1);
  } else {
    EXPECT_TRUE(stats.venue_limits.empty()) << "OANDA publishes no counted limit";
  }
}

TYPED_TEST(RestBroker, ARestingOrderIsNewThenFilledWhenTheVenueFillsIt) {
  this->start(this->settings());
  const Order order = this->resting("rest-1");
  this->broker_->submit(order);
  ASSERT_TRUE(this->reported(1));
  EXPECT_EQ(this->reports_.all[0].status, ExecStatus::new_order);
  EXPECT_EQ(this->reports_.all[0].leaves_quantity, order.quantity);
  // Only now does the venue fill it: the fill is found by polling, whenever
  // the next poll comes.
  TypeParam::fill_resting(this->fake_, this->venue_id(order));
  ASSERT_TRUE(this->reported(2));
  EXPECT_EQ(this->reports_.all[1].status, ExecStatus::filled);
  EXPECT_EQ(this->reports_.all[1].last_quantity, order.quantity);
  EXPECT_EQ(this->reports_.all[1].last_price, decimal_literal(TypeParam::kRestFillPrice));
  EXPECT_EQ(this->reports_.all[1].broker_order_id, this->reports_.all[0].broker_order_id);
}

TYPED_TEST(RestBroker, ACancelledRestingOrderIsCanceled) {
  this->start(this->settings());
  const Order order = this->resting("rest-2");
  this->broker_->submit(order);
  ASSERT_TRUE(this->reported(1));
  this->broker_->cancel(this->cancel_of(order));
  ASSERT_TRUE(this->reported(2));
  EXPECT_EQ(this->reports_.all[1].status, ExecStatus::canceled);
  EXPECT_EQ(this->reports_.all[1].broker_reason, std::string_view(TypeParam::kCancelReason));
}

TYPED_TEST(RestBroker, ABrokerRejectCarriesTheReasonCodeAndNeverTheBody) {
  this->start(this->settings());
  this->broker_->submit(this->market("reject-1"));
  ASSERT_TRUE(this->reported(1));
  EXPECT_EQ(this->reports_.all[0].status, ExecStatus::rejected);
  EXPECT_EQ(this->reports_.all[0].reason, Reason::BROKER_REJECTED);
  EXPECT_EQ(this->reports_.all[0].broker_reason, std::string_view(TypeParam::kRejectReason));
}

TYPED_TEST(RestBroker, WrongCredentialsAreDetectedAtStartWithAnAlertAndOrdersAreUnavailable) {
  auto settings = this->settings();
  TypeParam::break_credentials(settings);
  this->start(std::move(settings));
  EXPECT_FALSE(this->broker_->ready());
  this->broker_->submit(this->market("fill-2"));
  ASSERT_TRUE(this->reported(1));
  EXPECT_EQ(this->reports_.all[0].reason, Reason::BROKER_UNAVAILABLE);
  EXPECT_EQ(this->reports_.all[0].broker_reason, std::string_view("UNAUTHORIZED"));
  EXPECT_EQ(this->placed("fill-2"), 0);
  EXPECT_TRUE(this->logged("ALERT"));
  EXPECT_FALSE(this->logged(TypeParam::kWrongCredential));
}

TYPED_TEST(RestBroker, A429RefusesOrdersAndSendsNothingUntilThePauseHasPassed) {
  this->start(this->settings());
  this->broker_->submit(this->market("limit-1"));
  ASSERT_TRUE(this->reported(1));
  EXPECT_EQ(this->reports_.all[0].reason, Reason::BROKER_RATE_LIMITED);
  const auto limited_at = std::chrono::steady_clock::now();
  const int requests = this->fake_.requests();
  this->broker_->submit(this->market("fill-3"));
  ASSERT_TRUE(this->reported(2));
  EXPECT_EQ(this->reports_.all[1].reason, Reason::BROKER_RATE_LIMITED) << "sent during the pause";
  EXPECT_EQ(this->placed("fill-3"), 0);
  // No request at all (not even a background one) before the pause is over.
  ASSERT_TRUE(this->poll_until([&] { return this->fake_.requests() > requests; }));
  EXPECT_GE(std::chrono::steady_clock::now() - limited_at, TypeParam::kMinPause);
  // Afterwards, orders go through again.
  this->broker_->submit(this->market("fill-4"));
  ASSERT_TRUE(this->reported(3));
  EXPECT_EQ(this->reports_.all[2].status, ExecStatus::filled);
}

TYPED_TEST(RestBroker, ALostReplyIsRecoveredFromTheVenueAndNeverResent) {
  this->start(this->settings());
  this->broker_->submit(this->market("lost-1"));
  ASSERT_TRUE(this->poll_until(
      [&] { return !this->reports_.all.empty() && is_terminal(this->reports_.all.back().status); }));
  EXPECT_EQ(this->reports_.all.back().status, ExecStatus::filled);
  EXPECT_EQ(this->reports_.all.back().last_quantity, decimal_literal(TypeParam::kFillQuantity));
  EXPECT_LE(this->reports_.all.size(), TypeParam::kMaxReportsForALostFill);
  EXPECT_EQ(this->placed("lost-1"), 1);
  EXPECT_EQ(this->broker_->stats().unknown_fate, 1u);
  EXPECT_EQ(this->broker_->stats().recovered, 1u);
  EXPECT_EQ(this->broker_->stats().orders_sent, 1u);
}

TYPED_TEST(RestBroker, ACancelBeforeSendingNeverReachesTheBroker) {
  this->start(this->settings());
  // Both connections busy with slow replies: the third order waits in the
  // adapter's queue.
  this->broker_->submit(this->resting("slow-a"));
  this->broker_->submit(this->resting("slow-b"));
  const Order third = this->resting("rest-c");
  this->broker_->submit(third);
  this->broker_->cancel(this->cancel_of(third));
  ASSERT_TRUE(this->reported(3));
  ASSERT_TRUE(this->poll_until([&] { return this->reports_.all.size() == 3; }));
  bool canceled_locally = false;
  for (const auto& report : this->reports_.all) {
    if (report.client_order_id == std::string_view("rest-c")) {
      canceled_locally = report.status == ExecStatus::canceled && report.broker_reason == std::string_view("NOT_SENT");
    }
  }
  EXPECT_TRUE(canceled_locally);
  EXPECT_EQ(this->placed("rest-c"), 0);
}

TYPED_TEST(RestBroker, TheVenueGetsTheAdaptersOwnClientIdWhosePrefixIsLoggedAtStart) {
  this->start(this->settings());
  const Order order = this->market("fill-v");
  this->broker_->submit(order);
  ASSERT_TRUE(this->reported(1));
  const std::string at_venue = TypeParam::last_placed(this->fake_, "fill-v");
  EXPECT_EQ(at_venue, this->venue_id(order));
  EXPECT_EQ(at_venue.find("fill-v"), std::string::npos);
  EXPECT_TRUE(this->logged("venue client ids: " + at_venue.substr(0, at_venue.find('-')) + "-"));
  EXPECT_EQ(this->reports_.all[0].client_order_id, std::string_view("fill-v")) << "reports keep the strategy's id";
}

// A restarted strategy uses `c1` again. The previous run's `c1` is still at
// the venue (that process went away without cancelling it) and fills; this
// run's `c1` is refused and its reply lost. Looking it up must not take the
// previous run's order for it: a fill that never happened is never booked.
TYPED_TEST(RestBroker, AfterARestartAReusedClientIdWhoseReplyIsLostNeverBooksThePreviousRunsFill) {
  auto first_run = this->settings();
  first_run.cancel_on_stop = false;  // the previous process died: its order stays at the venue
  this->start(std::move(first_run));
  const Order previous = this->resting("c1");
  this->broker_->submit(previous);
  ASSERT_TRUE(this->reported(1));
  ASSERT_EQ(this->reports_.all[0].status, ExecStatus::new_order);
  const std::string previous_at_venue = TypeParam::last_placed(this->fake_, "c1");
  this->broker_->stop();
  this->broker_.reset();
  this->reports_.all.clear();

  // A new process: a new adapter, and the gateway numbers orders from 1 again.
  this->next_id_ = 1;
  this->start(this->settings());
  TypeParam::lose_next_reply_unplaced(this->fake_);
  const Order reused = this->market("c1");
  ASSERT_EQ(reused.order_id, previous.order_id);
  this->broker_->submit(reused);
  TypeParam::fill_resting(this->fake_, previous_at_venue);
  ASSERT_TRUE(this->poll_until([&] { return this->finished(reused); }));
  const auto reports = this->reports_of(reused);
  ASSERT_EQ(reports.size(), 1u) << "first: " << to_string(reports[0].status);
  EXPECT_EQ(reports[0].status, ExecStatus::rejected) << to_string(reports[0].status);
  EXPECT_EQ(reports[0].broker_reason, std::string_view("NOT_PLACED"));
  EXPECT_TRUE(reports[0].cumulative_quantity.is_zero());
}

// Two principals use `c1` on one account. B's order is refused with its
// reply lost, and B gives up on it (cancels). None of that may touch A's
// live `c1`: not cancelled, not rejected, its exposure not released.
TYPED_TEST(RestBroker, TwoPrincipalsWithTheSameClientIdNeverCancelOrRejectEachOthersOrder) {
  this->start(this->settings());
  Order a = this->resting("c1");
  a.principal_id = 1;
  a.session_id = 1;
  this->broker_->submit(a);
  ASSERT_TRUE(this->poll_until([&] { return !this->reports_of(a).empty(); }));
  ASSERT_EQ(this->reports_of(a)[0].status, ExecStatus::new_order);
  const std::string a_at_venue = TypeParam::last_placed(this->fake_, "c1");

  TypeParam::refuse_next_and_lose_reply(this->fake_);
  Order b = this->resting("c1");
  b.principal_id = 2;
  b.session_id = 2;
  this->broker_->submit(b);
  ASSERT_TRUE(this->poll_until([&] { return !this->reports_of(b).empty(); }));
  this->broker_->cancel(this->cancel_of(b));
  // Whatever B's cancel sent has been answered: the venue served several
  // requests (A's regular lookups) since.
  const int requests = this->fake_.requests();
  ASSERT_TRUE(this->poll_until([&] { return this->fake_.requests() >= requests + 4; }));
  EXPECT_TRUE(this->finished(b));
  EXPECT_TRUE(TypeParam::resting_at_venue(this->fake_, a_at_venue)) << "A's order is no longer live at the venue";
  EXPECT_FALSE(this->finished(a)) << "A's order was reported finished: its exposure released while it works";
  // A is still tracked as itself: its own fill is booked.
  TypeParam::fill_resting(this->fake_, a_at_venue);
  ASSERT_TRUE(this->poll_until([&] { return this->finished(a); }));
  EXPECT_EQ(this->reports_of(a).back().status, ExecStatus::filled);
  EXPECT_EQ(this->reports_of(a).back().cumulative_quantity, a.quantity);
}

// The venue answers about our order with another order's id (Binance: a
// lookup; OANDA: a fill transaction naming our client id but not our
// order): logged and ignored, never booked.
TYPED_TEST(RestBroker, AReplyWhoseOrderIdDiffersFromTheTrackedOneIsIgnored) {
  this->start(this->settings());
  const Order order = this->resting("rest-m");
  this->broker_->submit(order);
  ASSERT_TRUE(this->reported(1));
  ASSERT_EQ(this->reports_.all[0].status, ExecStatus::new_order);
  const std::string at_venue = TypeParam::last_placed(this->fake_, "rest-m");
  TypeParam::misreport(this->fake_, at_venue);
  ASSERT_TRUE(this->poll_until(
      [&] { return this->broker_->stats().mismatched_replies > 0 || this->finished(order); }));
  EXPECT_FALSE(this->finished(order)) << "a reply about another order was booked";
  EXPECT_EQ(this->reports_of(order).size(), 1u);
  EXPECT_TRUE(this->logged("names another order") || this->logged("but not its OANDA id"));
  // Its own fill still is booked.
  TypeParam::fill_resting(this->fake_, at_venue);
  ASSERT_TRUE(this->poll_until([&] { return this->finished(order); }));
  EXPECT_EQ(this->reports_of(order).back().status, ExecStatus::filled);
  EXPECT_EQ(this->reports_of(order).back().last_price, decimal_literal(TypeParam::kRestFillPrice));
}

TYPED_TEST(RestBroker, StopCancelsOrdersStillWorking) {
  this->start(this->settings());
  this->broker_->submit(this->resting("rest-s"));
  ASSERT_TRUE(this->reported(1));
  this->broker_->stop();
  ASSERT_EQ(this->reports_.all.size(), 2u);
  EXPECT_EQ(this->reports_.all[1].status, ExecStatus::canceled);
  this->broker_.reset();
}

}  // namespace
}  // namespace ordergate::adapters::testing
