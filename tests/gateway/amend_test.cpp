// Amends (Session::replace): every guard decision, the exposure of the
// difference, the reports, and what a broker's answer does, against the paper
// broker and against a broker the test answers for by hand.

#include "ordergate/gateway/gateway.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace ordergate::testing {
namespace {

ReplaceRequest amend(std::string_view id, std::string_view new_id, std::optional<const char*> quantity,
                     std::optional<const char*> price = std::nullopt) {
  ReplaceRequest request;
  request.client_order_id = id;
  request.new_client_order_id = new_id;
  if (quantity) request.quantity = decimal_literal(*quantity);
  if (price) request.price = decimal_literal(*price);
  return request;
}

std::vector<std::string> open_ids(const Gateway& gateway, std::string_view principal = "alice") {
  std::vector<std::string> ids;
  for (const OpenOrder& order : gateway.open_orders(principal)) ids.emplace_back(order.order.client_order_id.view());
  return ids;
}

GatewayConfig amend_config() {
  GatewayConfig config = test_config();
  config.principals[0].rate_limits = {"1000/1s"};
  config.principals[0].cancel_rate_limits = {"1000/1s"};
  return config;
}

// A resting buy of 10,000 EUR/USD at 1.08000 on acc-a, acknowledged.
void rest(Session& session, std::string_view id, const char* quantity = "10000") {
  const Verdict verdict = session.submit(limit_order(id, Side::buy, "1.08000", quantity));
  ASSERT_TRUE(verdict.accepted()) << reason_name(verdict.reason);
  const std::vector<ExecutionReport> reports = wait_for_reports(session, 1);
  ASSERT_EQ(reports.size(), 1u);
  ASSERT_EQ(reports[0].status, ExecStatus::new_order);
}

TEST(GatewayAmend, APaperOrderIsMovedAndIsKnownByItsNewIdFromThen) {
  ManualClock clock;
  Gateway gateway(amend_config(), clock);
  gateway.start();
  Session alice = gateway.open_session("alice");
  rest(alice, "a-1");

  const Verdict verdict = alice.replace(amend("a-1", "a-2", std::nullopt, "1.08100"));
  ASSERT_TRUE(verdict.accepted()) << reason_name(verdict.reason);
  const std::vector<ExecutionReport> reports = wait_for_reports(alice, 2);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].status, ExecStatus::pending_replace);
  EXPECT_EQ(reports[0].client_order_id.view(), "a-2");
  EXPECT_EQ(reports[0].other_client_order_id.view(), "a-1");
  EXPECT_EQ(reports[1].status, ExecStatus::replaced);
  EXPECT_EQ(reports[1].order_id, verdict.order_id);
  EXPECT_EQ(reports[1].client_order_id.view(), "a-2");
  EXPECT_EQ(reports[1].other_client_order_id.view(), "a-1");
  EXPECT_EQ(reports[1].leaves_quantity, decimal_literal("10000"));

  const std::vector<OpenOrder> open = gateway.open_orders("alice");
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].order.client_order_id.view(), "a-2");
  EXPECT_EQ(open[0].order.price, decimal_literal("1.08100"));
  EXPECT_EQ(open[0].leaves_quantity, decimal_literal("10000"));
  EXPECT_FALSE(open[0].replace_pending);
  // The old id no longer names it; the new one does.
  EXPECT_EQ(alice.cancel("a-1").reason, Reason::UNKNOWN_ORDER);
  EXPECT_EQ(alice.replace(amend("a-1", "a-3", "5000")).reason, Reason::UNKNOWN_ORDER);
  ASSERT_TRUE(alice.cancel("a-2").accepted());
  const std::vector<ExecutionReport> canceled = wait_for_reports(alice, 1);
  ASSERT_EQ(canceled.size(), 1u);
  EXPECT_EQ(canceled[0].status, ExecStatus::canceled);
  EXPECT_EQ(canceled[0].client_order_id.view(), "a-2");
  EXPECT_TRUE(wait_until([&] {
    const auto book = gateway.exposure("acc-a", "EURUSD");
    return book.working_buy.is_zero() && book.open_orders == 0;
  }));
}

TEST(GatewayAmend, TheWorkingQuantityMovesByTheDifferenceAndTheOrderKeepsOneSlot) {
  ManualClock clock;
  Gateway gateway(amend_config(), clock);
  gateway.start();
  Session alice = gateway.open_session("alice");
  rest(alice, "q-1");
  ASSERT_TRUE(alice.replace(amend("q-1", "q-2", "30000")).accepted());
  ASSERT_EQ(wait_for_reports(alice, 2).size(), 2u);
  auto book = gateway.exposure("acc-a", "EURUSD");
  EXPECT_EQ(book.working_buy, decimal_literal("30000"));
  EXPECT_EQ(book.open_orders, 1u);
  ASSERT_TRUE(alice.replace(amend("q-2", "q-3", "5000")).accepted());
  const std::vector<ExecutionReport> reports = wait_for_reports(alice, 2);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[1].leaves_quantity, decimal_literal("5000"));
  book = gateway.exposure("acc-a", "EURUSD");
  EXPECT_EQ(book.working_buy, decimal_literal("5000"));
  EXPECT_EQ(book.open_orders, 1u);
}

TEST(GatewayAmend, AnAmendToAMarketablePriceFillsAtOnce) {
  ManualClock clock;
  Gateway gateway(amend_config(), clock);
  gateway.start();
  Session alice = gateway.open_session("alice");
  rest(alice, "m-1");
  // The ask is 1.08463: a buy at 1.08470 crosses it.
  ASSERT_TRUE(alice.replace(amend("m-1", "m-2", std::nullopt, "1.08470")).accepted());
  const std::vector<ExecutionReport> reports = wait_for_reports(alice, 3);
  ASSERT_EQ(reports.size(), 3u);
  EXPECT_EQ(reports[1].status, ExecStatus::replaced);
  EXPECT_EQ(reports[2].status, ExecStatus::filled);
  EXPECT_EQ(reports[2].client_order_id.view(), "m-2");
  EXPECT_TRUE(wait_until([&] {
    const auto book = gateway.exposure("acc-a", "EURUSD");
    return book.position == decimal_literal("10000") && book.working_buy.is_zero() && book.open_orders == 0;
  }));
}

// Each refusal: the reason, and nothing changed (the order still works
// under its id with its exposure, and the amend budget is untouched).
TEST(GatewayAmend, EveryGuardRefusesWithItsReasonAndChangesNothing) {
  ManualClock clock;
  GatewayConfig config = amend_config();
  config.instruments[0].max_position = decimal_literal("50000");
  config.principals[0].modify_rate_limits = {"1/1s"};
  Gateway gateway(config, clock);
  gateway.start();
  Session alice = gateway.open_session("alice");
  Session bob = gateway.open_session("bob");
  rest(alice, "g-1", "40000");
  rest(alice, "g-other", "1000");

  struct Case {
    ReplaceRequest request;
    Reason expected;
  };
  const std::string too_long(kMaxClientOrderIdLength + 1, 'g');  // never hashed: refused first
  const std::vector<Case> cases = {
      {amend("nope", "g-2", "1000"), Reason::UNKNOWN_ORDER},
      {amend(too_long, "g-2", "1000"), Reason::INVALID_CLIENT_ORDER_ID},
      {amend("g-1", too_long, "1000"), Reason::INVALID_CLIENT_ORDER_ID},
      {amend("g-1", "g-2", std::nullopt), Reason::INVALID_REPLACE},
      {amend("g-1", "bad id!", "1000"), Reason::INVALID_CLIENT_ORDER_ID},
      {amend("g-1", "g-other", "1000"), Reason::DUPLICATE_CLIENT_ORDER_ID},
      {amend("g-1", "g-2", "1000.5"), Reason::QUANTITY_PRECISION_EXCEEDED},
      {amend("g-1", "g-2", "0"), Reason::INVALID_QUANTITY},
      {amend("g-1", "g-2", std::nullopt, "1.080005"), Reason::PRICE_PRECISION_EXCEEDED},
      {amend("g-1", "g-2", std::nullopt, "1.20000"), Reason::PRICE_OUT_OF_BAND},
      {amend("g-1", "g-2", "60000"), Reason::MAX_POSITION_EXCEEDED},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(alice.replace(c.request).reason, c.expected)
        << c.request.client_order_id << " -> " << c.request.new_client_order_id;
  }
  // Another principal cannot see alice's order.
  EXPECT_EQ(bob.replace(amend("g-1", "g-2", "1000")).reason, Reason::UNKNOWN_ORDER);
  // The kill switch.
  gateway.set_trading_state(TradingScope::account("acc-a"), guards::TradingState::halted, false);
  EXPECT_EQ(alice.replace(amend("g-1", "g-2", "1000")).reason, Reason::TRADING_HALTED);
  gateway.set_trading_state(TradingScope::account("acc-a"), guards::TradingState::reducing, false);
  // Flat account: a working buy can only take the position past zero.
  EXPECT_EQ(alice.replace(amend("g-1", "g-2", "45000")).reason, Reason::REDUCE_ONLY);
  EXPECT_EQ(alice.replace(amend("g-1", "g-2", "20000")).reason, Reason::REDUCE_ONLY);
  gateway.set_trading_state(TradingScope::account("acc-a"), guards::TradingState::active, false);

  EXPECT_EQ(open_ids(gateway), (std::vector<std::string>{"g-1", "g-other"}));
  auto book = gateway.exposure("acc-a", "EURUSD");
  EXPECT_EQ(book.working_buy, decimal_literal("41000"));
  EXPECT_EQ(book.open_orders, 2u);
  ExecutionReport stray;
  EXPECT_FALSE(alice.poll(stray)) << "a refused amend sends no report";

  // The budget was never spent: one amend passes, the next is over it.
  ASSERT_TRUE(alice.replace(amend("g-1", "g-2", "45000")).accepted());
  ASSERT_EQ(wait_for_reports(alice, 2).size(), 2u);
  const Verdict limited = alice.replace(amend("g-2", "g-3", "46000"));
  EXPECT_EQ(limited.reason, Reason::RATE_LIMITED);
  EXPECT_GT(limited.retry_after_ns, 0);
  clock.advance(kNanosPerSecond);
  EXPECT_TRUE(alice.replace(amend("g-2", "g-3", "46000")).accepted());
}

TEST(GatewayAmend, AReducingAccountAdmitsASmallerAmendThatStillOnlyShrinksThePosition) {
  ManualClock clock;
  Gateway gateway(amend_config(), clock);
  gateway.start();
  Session alice = gateway.open_session("alice");
  ASSERT_TRUE(alice.submit(market_order("long", Side::buy, "50000")).accepted());
  ASSERT_EQ(wait_for_reports(alice, 2).size(), 2u);
  ASSERT_TRUE(alice.submit(limit_order("s-1", Side::sell, "1.09000", "40000")).accepted());
  ASSERT_EQ(wait_for_reports(alice, 1).size(), 1u);
  gateway.set_trading_state(TradingScope::account("acc-a"), guards::TradingState::reducing, false);
  EXPECT_EQ(alice.replace(amend("s-1", "s-2", "60000")).reason, Reason::REDUCE_ONLY) << "larger";
  const Verdict smaller = alice.replace(amend("s-1", "s-2", "30000", "1.08900"));
  EXPECT_TRUE(smaller.accepted()) << reason_name(smaller.reason);
}

TEST(GatewayAmend, AmendsAreCountedInTheMetricsByResultAndReason) {
  ManualClock clock;
  GatewayConfig config = amend_config();
  config.metrics = true;
  Gateway gateway(config, clock);
  gateway.start();
  Session alice = gateway.open_session("alice");
  rest(alice, "c-1");
  ASSERT_TRUE(alice.replace(amend("c-1", "c-2", "20000")).accepted());
  EXPECT_EQ(alice.replace(amend("zz", "c-3", "20000")).reason, Reason::UNKNOWN_ORDER);
  ASSERT_EQ(wait_for_reports(alice, 2).size(), 2u);
  const GatewayMetrics metrics = gateway.metrics();
  std::uint64_t accepted = 0;
  std::uint64_t unknown = 0;
  for (const GatewayMetrics::Decision& decision : metrics.replaces) {
    if (decision.reason == Reason::OK) accepted += decision.count;
    if (decision.reason == Reason::UNKNOWN_ORDER) unknown += decision.count;
  }
  EXPECT_EQ(accepted, 1u);
  EXPECT_EQ(unknown, 1u);
  std::uint64_t replaced = 0;
  for (const GatewayMetrics::Executions& executions : metrics.executions) {
    if (executions.status == ExecStatus::replaced) replaced += executions.count;
  }
  EXPECT_EQ(replaced, 1u);
}

// A broker whose answers to amends the test gives by hand: submits are
// acknowledged at once, cancels end the order at once, replaces wait.
class HandBroker final : public BrokerPort {
 public:
  struct Control {
    std::mutex mutex;
    std::vector<ReplaceOrder> replaces;  // received, unanswered
    std::deque<ExecutionReport> to_send;  // sent by the broker thread's next poll
    std::vector<OrderId> cancels;
    bool supports = true;
    bool report_cancels = true;  // false: a cancel is received and not answered
  };
  explicit HandBroker(std::shared_ptr<Control> control) : control_(std::move(control)) {}
  [[nodiscard]] std::string_view name() const noexcept override { return "hand"; }
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
  void cancel(const CancelOrder& cancel) noexcept override {
    {
      const std::lock_guard lock(control_->mutex);
      control_->cancels.push_back(cancel.order_id);
      if (!control_->report_cancels) return;
    }
    ExecutionReport report;
    report.order_id = cancel.order_id;
    report.status = ExecStatus::canceled;
    sink_->on_execution(report);
  }
  [[nodiscard]] bool supports_replace() const noexcept override { return control_->supports; }
  void replace(const ReplaceOrder& replace) noexcept override {
    const std::lock_guard lock(control_->mutex);
    control_->replaces.push_back(replace);
  }
  bool poll() noexcept override {
    std::deque<ExecutionReport> sending;
    {
      const std::lock_guard lock(control_->mutex);
      sending.swap(control_->to_send);
    }
    for (const ExecutionReport& report : sending) sink_->on_execution(report);
    return !sending.empty();
  }
  void stop() noexcept override {}

 private:
  std::shared_ptr<Control> control_;
  ExecutionSink* sink_ = nullptr;
};

struct HandGateway {
  explicit HandGateway(bool supports = true) : control(std::make_shared<HandBroker::Control>()) {
    control->supports = supports;
    GatewayConfig config = amend_config();
    config.accounts = {{"acc-a", "hand"}, {"acc-b", "hand"}};
    auto shared = control;
    config.brokers.emplace_back("hand", [shared](const InstrumentTable&) -> std::unique_ptr<BrokerPort> {
      return std::make_unique<HandBroker>(shared);
    });
    gateway = std::make_unique<Gateway>(config, clock);
    gateway->start();
  }
  // Waits for the broker to receive an amend and returns it.
  ReplaceOrder received() {
    ReplaceOrder got;
    EXPECT_TRUE(wait_until([&] {
      const std::lock_guard lock(control->mutex);
      if (control->replaces.empty()) return false;
      got = control->replaces.front();
      control->replaces.erase(control->replaces.begin());
      return true;
    }));
    return got;
  }
  void send(const ExecutionReport& report) {
    const std::lock_guard lock(control->mutex);
    control->to_send.push_back(report);
  }
  std::size_t cancels() {
    const std::lock_guard lock(control->mutex);
    return control->cancels.size();
  }
  ManualClock clock;
  std::shared_ptr<HandBroker::Control> control;
  std::unique_ptr<Gateway> gateway;
};

ExecutionReport answer(const ReplaceOrder& replace, ExecStatus status, const char* broker_reason = "") {
  ExecutionReport report;
  report.order_id = replace.order.order_id;
  report.status = status;
  report.other_client_order_id = replace.original_client_order_id;
  report.broker_reason.assign(broker_reason);
  return report;
}

TEST(GatewayAmend, ABrokerWithoutAmendsIsRefusedAtOnce) {
  HandGateway hand(false);
  Session alice = hand.gateway->open_session("alice");
  rest(alice, "n-1");
  EXPECT_EQ(alice.replace(amend("n-1", "n-2", "5000")).reason, Reason::REPLACE_NOT_SUPPORTED);
  EXPECT_EQ(open_ids(*hand.gateway), (std::vector<std::string>{"n-1"}));
}

TEST(GatewayAmend, WhileTheBrokerHasNotAnsweredTheOrderTakesNoOtherAmendOrCancel) {
  HandGateway hand;
  Session alice = hand.gateway->open_session("alice");
  rest(alice, "p-1");
  ASSERT_TRUE(alice.replace(amend("p-1", "p-2", "20000")).accepted());
  const ReplaceOrder sent = hand.received();
  EXPECT_EQ(sent.original_client_order_id.view(), "p-1");
  EXPECT_EQ(sent.order.client_order_id.view(), "p-2");
  EXPECT_EQ(sent.order.quantity, decimal_literal("20000"));
  EXPECT_EQ(sent.original_quantity, decimal_literal("10000"));
  // Reserved at once: the worst case counts the larger quantity.
  EXPECT_EQ(hand.gateway->exposure("acc-a", "EURUSD").working_buy, decimal_literal("20000"));

  EXPECT_EQ(alice.replace(amend("p-1", "p-3", "5000")).reason, Reason::ORDER_PENDING);
  EXPECT_EQ(alice.cancel("p-1").reason, Reason::ORDER_PENDING);
  // Listed once, under the id it has, marked pending.
  const std::vector<OpenOrder> open = hand.gateway->open_orders("alice");
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].order.client_order_id.view(), "p-1");
  EXPECT_TRUE(open[0].replace_pending);

  hand.send(answer(sent, ExecStatus::replaced));
  const std::vector<ExecutionReport> reports = wait_for_reports(alice, 2);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[1].status, ExecStatus::replaced);
  EXPECT_EQ(open_ids(*hand.gateway), (std::vector<std::string>{"p-2"}));
  EXPECT_TRUE(alice.cancel("p-2").accepted());
}

TEST(GatewayAmend, ARefusalAtTheBrokerLeavesTheOrderWorkingAsItWas) {
  HandGateway hand;
  Session alice = hand.gateway->open_session("alice");
  rest(alice, "r-1");
  ASSERT_TRUE(alice.replace(amend("r-1", "r-2", "30000")).accepted());
  const ReplaceOrder sent = hand.received();
  hand.send(answer(sent, ExecStatus::replace_rejected, "PRICE_FILTER"));
  const std::vector<ExecutionReport> reports = wait_for_reports(alice, 2);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[1].status, ExecStatus::replace_rejected);
  EXPECT_EQ(reports[1].client_order_id.view(), "r-1");
  EXPECT_EQ(reports[1].other_client_order_id.view(), "r-2");
  EXPECT_EQ(reports[1].reason, Reason::BROKER_REJECTED);
  EXPECT_EQ(reports[1].broker_reason.view(), "PRICE_FILTER");
  EXPECT_EQ(reports[1].leaves_quantity, decimal_literal("10000"));
  EXPECT_TRUE(wait_until([&] {
    return hand.gateway->exposure("acc-a", "EURUSD").working_buy == decimal_literal("10000");
  })) << "the amend's reservation is given back";
  EXPECT_EQ(open_ids(*hand.gateway), (std::vector<std::string>{"r-1"}));
  // The order takes amends and cancels again; the refused id stays used.
  EXPECT_EQ(alice.replace(amend("r-1", "r-2", "5000")).reason, Reason::DUPLICATE_CLIENT_ORDER_ID);
  EXPECT_TRUE(alice.replace(amend("r-1", "r-3", "5000")).accepted());
}

TEST(GatewayAmend, AFillRacingAnAmendWinsAndTheAmendIsRefused) {
  HandGateway hand;
  Session alice = hand.gateway->open_session("alice");
  rest(alice, "f-1");
  ASSERT_TRUE(alice.replace(amend("f-1", "f-2", "20000")).accepted());
  const ReplaceOrder sent = hand.received();
  // The venue filled the original before it saw the amend, then refused it.
  ExecutionReport fill;
  fill.order_id = sent.original_order_id;
  fill.status = ExecStatus::filled;
  fill.last_quantity = decimal_literal("10000");
  fill.last_price = decimal_literal("1.08000");
  fill.cumulative_quantity = decimal_literal("10000");
  hand.send(fill);
  hand.send(answer(sent, ExecStatus::replace_rejected, "ORDER_NOT_WORKING"));
  const std::vector<ExecutionReport> reports = wait_for_reports(alice, 3);
  ASSERT_EQ(reports.size(), 3u);
  EXPECT_EQ(reports[1].status, ExecStatus::filled);
  EXPECT_EQ(reports[1].client_order_id.view(), "f-1");
  EXPECT_EQ(reports[2].status, ExecStatus::replace_rejected);
  EXPECT_EQ(reports[2].client_order_id.view(), "f-1");
  EXPECT_TRUE(wait_until([&] {
    const auto book = hand.gateway->exposure("acc-a", "EURUSD");
    return book.position == decimal_literal("10000") && book.working_buy.is_zero() && book.open_orders == 0;
  })) << "filled once, nothing left working or reserved";
  EXPECT_TRUE(open_ids(*hand.gateway).empty());
}

TEST(GatewayAmend, APartFillBeforeTheAmendLeavesTheNewTotalLessWhatFilled) {
  HandGateway hand;
  Session alice = hand.gateway->open_session("alice");
  rest(alice, "pf-1");
  ASSERT_TRUE(alice.replace(amend("pf-1", "pf-2", "15000")).accepted());
  const ReplaceOrder sent = hand.received();
  ExecutionReport part;
  part.order_id = sent.original_order_id;
  part.status = ExecStatus::partially_filled;
  part.last_quantity = decimal_literal("4000");
  part.last_price = decimal_literal("1.08000");
  hand.send(part);
  hand.send(answer(sent, ExecStatus::replaced));
  const std::vector<ExecutionReport> reports = wait_for_reports(alice, 3);
  ASSERT_EQ(reports.size(), 3u);
  EXPECT_EQ(reports[2].status, ExecStatus::replaced);
  EXPECT_EQ(reports[2].cumulative_quantity, decimal_literal("4000"));
  EXPECT_EQ(reports[2].leaves_quantity, decimal_literal("11000"));
  EXPECT_TRUE(wait_until([&] {
    const auto book = hand.gateway->exposure("acc-a", "EURUSD");
    return book.position == decimal_literal("4000") && book.working_buy == decimal_literal("11000") &&
           book.open_orders == 1;
  }));
  // The new total must stay above what filled.
  EXPECT_EQ(alice.replace(amend("pf-2", "pf-3", "4000")).reason, Reason::INVALID_REPLACE);
}

TEST(GatewayAmend, ACancelAllDuringAnAmendReachesTheOrderUnderWhicheverIdItEndsWith) {
  HandGateway hand;
  Session alice = hand.gateway->open_session("alice");
  rest(alice, "h-1");
  ASSERT_TRUE(alice.replace(amend("h-1", "h-2", "20000")).accepted());
  const ReplaceOrder sent = hand.received();
  {
    const std::lock_guard lock(hand.control->mutex);
    hand.control->report_cancels = false;
  }
  // The halt's cancels reach the original at once; the one for the
  // replacement waits for the broker's answer.
  hand.gateway->set_trading_state(TradingScope::account("acc-a"), guards::TradingState::halted, true);
  EXPECT_TRUE(wait_until([&] { return hand.cancels() == 1; }));
  // The venue had replaced the order before the cancel came (so that
  // cancel found nothing): REPLACED, then the replacement is cancelled.
  hand.send(answer(sent, ExecStatus::replaced));
  EXPECT_TRUE(wait_until([&] { return hand.cancels() == 2; }));
  ExecutionReport canceled;
  canceled.order_id = sent.order.order_id;
  canceled.status = ExecStatus::canceled;
  hand.send(canceled);
  EXPECT_TRUE(wait_until([&] {
    const auto book = hand.gateway->exposure("acc-a", "EURUSD");
    return book.working_buy.is_zero() && book.open_orders == 0;
  }));
  EXPECT_TRUE(open_ids(*hand.gateway).empty());
}

// A cancel and an amend of one order from two threads: never both accepted
// (each sets its flag, fences, reads the other's), and whatever passed, the
// order ends with nothing left working.
TEST(GatewayAmend, ACancelAndAnAmendRacedFromTwoThreadsNeverBothPass) {
  ManualClock clock;
  GatewayConfig config = amend_config();
  config.principals[0].modify_rate_limits = {"1000000/1s"};
  Gateway gateway(config, clock);
  gateway.start();
  Session amender = gateway.open_session("alice");
  Session canceller = gateway.open_session("alice");
  int amended = 0;
  int cancelled = 0;
  for (int round = 0; round < 200; ++round) {
    const std::string id = "race-" + std::to_string(round);
    const std::string new_id = id + "-b";
    ASSERT_TRUE(amender.submit(limit_order(id, Side::buy, "1.08000")).accepted());
    ASSERT_TRUE(wait_until([&] { return open_ids(gateway).size() == 1; }));
    std::atomic<int> ready{0};
    Verdict amend_verdict;
    Verdict cancel_verdict;
    std::thread other([&] {
      ready.fetch_add(1);
      while (ready.load() < 2) {
      }
      cancel_verdict = canceller.cancel(id);
    });
    ready.fetch_add(1);
    while (ready.load() < 2) {
    }
    amend_verdict = amender.replace(amend(id, new_id, "20000"));
    other.join();
    ASSERT_FALSE(amend_verdict.accepted() && cancel_verdict.accepted()) << round;
    amended += amend_verdict.accepted() ? 1 : 0;
    cancelled += cancel_verdict.accepted() ? 1 : 0;
    if (amend_verdict.accepted()) {
      // REPLACED, then the replacement is cancelled by its new id.
      ASSERT_TRUE(wait_until([&] { return open_ids(gateway) == std::vector<std::string>{new_id}; })) << round;
      ASSERT_TRUE(amender.cancel(new_id).accepted());
    } else if (!cancel_verdict.accepted()) {
      ASSERT_TRUE(canceller.cancel(id).accepted()) << round << ": both refused, the order is still there";
    }
    ASSERT_TRUE(wait_until([&] {
      const auto book = gateway.exposure("acc-a", "EURUSD");
      return open_ids(gateway).empty() && book.working_buy.is_zero() && book.open_orders == 0;
    })) << round;
    ExecutionReport drained;
    while (amender.poll(drained) || canceller.poll(drained)) {
    }
  }
  EXPECT_GT(amended + cancelled, 0);
  RecordProperty("amended", amended);
  RecordProperty("cancelled", cancelled);
}

}  // namespace
}  // namespace ordergate::testing
