#include "ordergate/gateway/gateway.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gateway/test_support.hpp"

namespace ordergate {
namespace {

using testing::limit_order;
using testing::market_order;
using testing::test_config;
using testing::wait_for_reports;
using testing::wait_until;

// test_config() with a production-sized order table, budgets that never
// refuse, and a second trading principal, carol, shaped like alice.
GatewayConfig busy_config() {
  GatewayConfig config = test_config();
  config.order_capacity = 1u << 17;
  config.broker_queue_capacity = 1u << 14;
  config.session_queue_budget = 1u << 14;  // bursts of thousands from one session, faster than the broker takes them
  config.instruments[0].max_open_orders = 100'000;
  config.principals[0].rate_limits = {"100000/1s"};
  config.principals[0].cancel_rate_limits = {"100000/1s"};
  PrincipalConfig carol = config.principals[0];
  carol.policy.name = "carol";
  config.principals.push_back(carol);
  return config;
}

// Market orders of one lot, alternating sides, all filled at once by the
// paper broker: they end finished.
void submit_filled_orders(Session& session, const std::string& prefix, int count) {
  for (int i = 0; i < count; ++i) {
    const std::string id = prefix + std::to_string(i);
    ASSERT_TRUE(session.submit(market_order(id, i % 2 == 0 ? Side::buy : Side::sell, "1")).accepted()) << id;
  }
}

std::uint64_t visited(const Gateway& gateway) { return gateway.counters().order_records_visited; }

TEST(GatewayOpenOrders, ListingThreeOpenOrdersAmongThousandsOfFinishedOnesTouchesOnlyThose) {
  ManualClock clock;
  Gateway gateway(busy_config(), clock);
  gateway.start();
  Session alice = gateway.open_session("alice");
  Session carol = gateway.open_session("carol");

  submit_filled_orders(carol, "c-", 3000);
  submit_filled_orders(alice, "a-", 1000);
  ASSERT_TRUE(wait_until([&] { return gateway.exposure("acc-a", "EURUSD").open_orders == 0; }));
  // The broker thread reclaims finished records, which unlinks them.
  ASSERT_TRUE(wait_until([&] { return gateway.counters().order_records_reclaimed == 4000; }));

  std::uint64_t before = visited(gateway);
  EXPECT_TRUE(gateway.open_orders("alice").empty());
  EXPECT_EQ(visited(gateway) - before, 0u) << "reclaim unlinked alice's finished orders; carol's were never hers";

  ASSERT_TRUE(alice.submit(limit_order("r-1", Side::buy, "1.08000", "1000")).accepted());
  ASSERT_TRUE(alice.submit(limit_order("r-2", Side::buy, "1.08001", "2000")).accepted());
  ASSERT_TRUE(carol.submit(limit_order("c-r", Side::buy, "1.08002", "1000")).accepted());
  ASSERT_TRUE(alice.submit(limit_order("r-3", Side::sell, "1.09000", "3000", "acc-b")).accepted());

  for (int pass = 0; pass < 2; ++pass) {
    before = visited(gateway);
    const std::vector<OpenOrder> open = gateway.open_orders("alice");
    EXPECT_EQ(visited(gateway) - before, 3u) << "pass " << pass << ": only alice's three open orders";
    ASSERT_EQ(open.size(), 3u);
    // What the order-table scan returned: in acceptance order, with the order
    // as accepted and what is left of it.
    EXPECT_EQ(open[0].order.client_order_id.view(), "r-1");
    EXPECT_EQ(open[1].order.client_order_id.view(), "r-2");
    EXPECT_EQ(open[2].order.client_order_id.view(), "r-3");
    EXPECT_LT(open[0].order.order_id, open[1].order.order_id);
    EXPECT_LT(open[1].order.order_id, open[2].order.order_id);
    EXPECT_EQ(open[1].order.price, decimal_literal("1.08001"));
    EXPECT_EQ(open[1].leaves_quantity, decimal_literal("2000"));
    EXPECT_EQ(open[2].order.side, Side::sell);
    EXPECT_EQ(open[2].order.account_id, gateway.accounts().find("acc-b")->id);
    EXPECT_EQ(open[2].order.session_id, alice.id());
    for (const OpenOrder& order : open) EXPECT_EQ(order.order.principal_id, alice.principal());
  }

  CancelFilter only_acc_b;
  only_acc_b.principal = alice.principal();
  only_acc_b.account = gateway.accounts().find("acc-b")->id;
  before = visited(gateway);
  EXPECT_EQ(gateway.cancel_orders(only_acc_b), 1u);
  EXPECT_EQ(visited(gateway) - before, 3u) << "cancel-all of a principal walks its open orders only";
  ASSERT_TRUE(wait_until([&] { return gateway.open_orders("alice").size() == 2; }));

  CancelFilter everyone;
  EXPECT_EQ(gateway.cancel_orders(everyone), 3u) << "r-1, r-2 and carol's c-r";
  ASSERT_TRUE(wait_until([&] {
    return gateway.open_orders("alice").empty() && gateway.open_orders("carol").empty();
  }));
}

TEST(GatewayOpenOrders, ListsAreWhatTheExecutionReportsSayAcrossFillsCancelsAndRefusals) {
  ManualClock clock;
  Gateway gateway(busy_config(), clock);
  gateway.start();
  Session alice = gateway.open_session("alice");
  Session alice_two = gateway.open_session("alice");
  Session carol = gateway.open_session("carol");

  // Resting orders on two sessions, some of them cancelled or refused.
  std::set<std::string> expected;
  for (int i = 0; i < 40; ++i) {
    Session& session = i % 3 == 0 ? alice_two : alice;
    const std::string id = "o-" + std::to_string(i);
    ASSERT_TRUE(session.submit(limit_order(id, Side::buy, "1.08000", "100")).accepted());
    expected.insert(id);
  }
  EXPECT_EQ(alice.submit(limit_order("o-1", Side::buy, "1.08000", "100")).reason,
            Reason::DUPLICATE_CLIENT_ORDER_ID);
  ASSERT_TRUE(carol.submit(limit_order("c-1", Side::buy, "1.08000", "100")).accepted());
  submit_filled_orders(alice, "f-", 50);
  for (int i = 0; i < 40; i += 4) {
    const std::string id = "o-" + std::to_string(i);
    ASSERT_TRUE((i % 3 == 0 ? alice_two : alice).cancel(id).accepted()) << id;
    expected.erase(id);
  }
  ASSERT_TRUE(wait_until([&] { return gateway.exposure("acc-a", "EURUSD").open_orders == expected.size() + 1; }));

  std::set<std::string> listed;
  for (const OpenOrder& open : gateway.open_orders("alice")) listed.insert(std::string(open.order.client_order_id.view()));
  EXPECT_EQ(listed, expected);

  CancelFilter second_session;
  second_session.principal = alice.principal();
  second_session.session = alice_two.id();
  std::size_t on_second = 0;
  for (const std::string& id : expected) on_second += std::stoi(id.substr(2)) % 3 == 0 ? 1 : 0;
  EXPECT_EQ(gateway.cancel_orders(second_session), on_second);
  ASSERT_TRUE(wait_until([&] { return gateway.open_orders("alice").size() == expected.size() - on_second; }));
  EXPECT_EQ(gateway.open_orders("carol").size(), 1u);
}

}  // namespace
}  // namespace ordergate

namespace ordergate {
namespace {

// Acknowledges every order and counts the cancels it is sent, but never
// confirms one: the orders stay open, as at a slow venue.
class CancelCountingBroker final : public BrokerPort {
 public:
  explicit CancelCountingBroker(std::shared_ptr<std::atomic<int>> cancels) : cancels_(std::move(cancels)) {}
  [[nodiscard]] std::string_view name() const noexcept override { return "cancel-counting"; }
  void start(ExecutionSink& sink, QuoteBoard& quotes, const Clock& clock) override {
    sink_ = &sink;
    quotes.publish(0, decimal_literal("1.08460"), decimal_literal("1.08463"), clock.monotonic_ns());
  }
  void submit(const Order& order) noexcept override {
    ExecutionReport report;
    report.order_id = order.order_id;
    report.status = ExecStatus::new_order;
    report.leaves_quantity = order.quantity;
    sink_->on_execution(report);
  }
  void cancel(const CancelOrder&) noexcept override { cancels_->fetch_add(1); }
  bool poll() noexcept override { return false; }
  void stop() noexcept override {}

 private:
  std::shared_ptr<std::atomic<int>> cancels_;
  ExecutionSink* sink_ = nullptr;
};

TEST(GatewayOpenOrders, RepeatedCancelAllSendsEachOrderOneCancelNotOnePerRequest) {
  GatewayConfig config = test_config();
  auto cancels = std::make_shared<std::atomic<int>>(0);
  config.brokers.emplace_back("paper", [cancels](const InstrumentTable&) -> std::unique_ptr<BrokerPort> {
    return std::make_unique<CancelCountingBroker>(cancels);
  });
  ManualClock clock;
  Gateway gateway(config, clock);
  gateway.start();
  Session alice = gateway.open_session("alice");
  for (const char* id : {"s-1", "s-2", "s-3"}) {
    const Verdict verdict = alice.submit(limit_order(id, Side::buy, "1.08000", "1000"));
    ASSERT_TRUE(verdict.accepted()) << id << ": " << reason_name(verdict.reason);
  }
  ASSERT_EQ(wait_for_reports(alice, 3).size(), 3u);

  CancelFilter everything;
  EXPECT_EQ(gateway.cancel_orders(everything), 3u);
  for (int repeat = 0; repeat < 100; ++repeat) {
    ASSERT_EQ(gateway.cancel_orders(everything), 0u) << "repeat " << repeat << ": the orders already have their cancel";
  }
  // An order submitted after the repeats is acknowledged only once the
  // broker thread has taken everything queued before it.
  ASSERT_TRUE(alice.submit(limit_order("s-4", Side::buy, "1.08000", "1000")).accepted());
  ASSERT_EQ(wait_for_reports(alice, 1).size(), 1u);
  EXPECT_EQ(cancels->load(), 3);
  EXPECT_EQ(gateway.open_orders("alice").size(), 4u) << "unconfirmed cancels leave the orders open";

  EXPECT_EQ(gateway.cancel_orders(everything), 1u) << "the new order gets its cancel";
  ASSERT_TRUE(alice.cancel("s-1").accepted()) << "a strategy may still cancel one order itself";
}

}  // namespace
}  // namespace ordergate
