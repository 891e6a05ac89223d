// GatewayConfig::broker_threads = false: no broker thread; the application's
// thread drives the brokers with Gateway::poll().

#include "ordergate/gateway/gateway.hpp"

#include <dirent.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <thread>
#include <memory>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace ordergate {
namespace {

using testing::market_order;
using testing::test_config;

// The names of this process's threads that are broker threads ("og-b:...").
std::vector<std::string> broker_threads() {
  std::vector<std::string> names;
  DIR* tasks = ::opendir("/proc/self/task");
  if (tasks == nullptr) return names;
  while (const dirent* entry = ::readdir(tasks)) {  // NOLINT(concurrency-mt-unsafe): one reader
    if (entry->d_name[0] == '.') continue;
    std::ifstream comm(std::string("/proc/self/task/") + entry->d_name + "/comm");
    std::string name;
    if (std::getline(comm, name) && name.rfind("og-b:", 0) == 0) names.push_back(name);
  }
  ::closedir(tasks);
  return names;
}

GatewayConfig caller_driven() {
  GatewayConfig config = test_config();
  config.broker_threads = false;
  return config;
}

// Every report waiting for `session`, in order.
std::vector<ExecutionReport> reports(Session& session) {
  std::vector<ExecutionReport> out;
  ExecutionReport report;
  while (session.poll(report)) out.push_back(report);
  return out;
}

TEST(CallerDrivenGateway, StartsNoBrokerThread) {
  ASSERT_TRUE(broker_threads().empty());
  {
    Gateway threaded(test_config());
    threaded.start();
    EXPECT_EQ(broker_threads(), std::vector<std::string>{"og-b:paper"}) << "the check sees a broker thread";
    threaded.stop();
  }
  Gateway gateway(caller_driven());
  gateway.start();
  EXPECT_TRUE(broker_threads().empty());
  EXPECT_TRUE(gateway.ready()) << "the paper broker answers at once, on the thread that starts it";
  gateway.stop();
}

TEST(CallerDrivenGateway, AnOrderReachesTheBrokerAndReportsOnlyWhileTheCallerPolls) {
  GatewayConfig config = caller_driven();
  config.order_capacity = 4;
  config.principals[0].rate_limits = {"1000/1s"};
  Gateway gateway(config);
  gateway.start();
  Session session = gateway.open_session("alice");
  const Verdict verdict = session.submit(market_order("cd-1"));
  ASSERT_TRUE(verdict) << reason_name(verdict.reason);
  // No thread runs the broker: nothing moves until the caller polls.
  EXPECT_TRUE(reports(session).empty());
  EXPECT_EQ(gateway.open_orders("alice").size(), 1u);

  EXPECT_TRUE(gateway.poll()) << "the round sent the order";
  const std::vector<ExecutionReport> got = reports(session);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].order_id, verdict.order_id);
  EXPECT_EQ(got[0].status, ExecStatus::new_order);
  EXPECT_EQ(got[1].status, ExecStatus::filled);
  EXPECT_EQ(got[1].cumulative_quantity, decimal_literal("10000"));
  EXPECT_TRUE(gateway.open_orders("alice").empty());

  // The records of filled orders are reclaimed by the caller's rounds
  // too: a gateway of 4 records keeps taking orders.
  for (int i = 0; i < 40; ++i) {
    const std::string id = "cd-more-" + std::to_string(i);
    const Verdict more = session.submit(market_order(id, i % 2 == 0 ? Side::sell : Side::buy));
    ASSERT_TRUE(more) << id << ": " << reason_name(more.reason);
    while (gateway.poll()) {
    }
    EXPECT_EQ(reports(session).size(), 2u) << id;
  }
  gateway.stop();
}

TEST(CallerDrivenGateway, StopSendsWhatIsQueuedAndThenPollDoesNothing) {
  Gateway gateway(caller_driven());
  gateway.start();
  Session session = gateway.open_session("alice");
  std::vector<OrderId> orders;
  for (const char* id : {"cd-q1", "cd-q2", "cd-q3"}) {
    const Verdict verdict = session.submit(market_order(id));
    ASSERT_TRUE(verdict) << id << ": " << reason_name(verdict.reason);
    orders.push_back(verdict.order_id);
  }
  gateway.stop();
  std::vector<OrderId> filled;
  for (const ExecutionReport& report : reports(session)) {
    if (report.status == ExecStatus::filled) filled.push_back(report.order_id);
  }
  EXPECT_EQ(filled, orders) << "stop() sent every queued order, as a broker thread does before it ends";
  EXPECT_FALSE(gateway.poll());
  EXPECT_EQ(session.submit(market_order("cd-after")).reason, Reason::BROKER_UNAVAILABLE);
}

// Two threads polling at once: one runs the round, the other's call does
// nothing, so each order is sent once and filled once; and stop() waits for
// the round under way. (Two rounds at once would take commands from the
// session's ring with two consumers; ThreadSanitizer checks the rest.)
TEST(CallerDrivenGateway, TwoThreadsPollingAtOnceSendEachOrderOnceAndStopWaitsForThem) {
  GatewayConfig config = caller_driven();
  config.principals[0].rate_limits = {"1000000/1s"};
  for (auto& instrument : config.instruments) instrument.max_open_orders = 1000;
  config.session_queue_budget = config.broker_queue_capacity;  // every order may wait in the ring
  Gateway gateway(config);
  gateway.start();
  Session session = gateway.open_session("alice");
  std::atomic<bool> done{false};
  std::atomic<int> rounds{0};
  const auto poller = [&] {
    while (!done.load()) {
      if (gateway.poll()) rounds.fetch_add(1);
    }
  };
  std::thread first(poller);
  std::thread second(poller);
  // The pollers end however the test does.
  struct Joiner {
    std::atomic<bool>& done;
    std::thread& first;
    std::thread& second;
    ~Joiner() {
      done.store(true);
      first.join();
      second.join();
    }
  } joiner{done, first, second};

  constexpr int kOrders = 400;
  std::map<OrderId, int> fills;
  int reports = 0;
  ExecutionReport report;
  for (int i = 0; i < kOrders; ++i) {
    const std::string id = "cd-two-" + std::to_string(i);
    const Verdict verdict = session.submit(market_order(id, i % 2 == 0 ? Side::buy : Side::sell));
    ASSERT_TRUE(verdict) << id << ": " << reason_name(verdict.reason);
    fills[verdict.order_id] = 0;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (reports < 2 * kOrders && std::chrono::steady_clock::now() < deadline) {
    if (!session.poll(report)) continue;
    ++reports;
    if (report.status == ExecStatus::filled) ++fills[report.order_id];
  }
  EXPECT_EQ(reports, 2 * kOrders) << "a NEW and a FILLED report for each order";
  for (const auto& [order, count] : fills) EXPECT_EQ(count, 1) << "order " << order;
  EXPECT_EQ(fills.size(), static_cast<std::size_t>(kOrders)) << "no report of an order never submitted";
  EXPECT_GT(rounds.load(), 0);

  gateway.stop();  // while both threads still call poll()
  EXPECT_FALSE(gateway.poll());
  EXPECT_FALSE(session.poll(report)) << "nothing more came";
}

TEST(CallerDrivenGateway, PollDoesNothingWhereBrokerThreadsRun) {
  Gateway gateway(test_config());
  EXPECT_FALSE(gateway.poll()) << "not started";
  gateway.start();
  EXPECT_FALSE(gateway.poll());
  gateway.stop();
}

// The paper broker, but it gives its holdings only from poll(), as a REST
// venue answers after its requests.
class AnswersInPoll final : public BrokerPort {
 public:
  explicit AnswersInPoll(std::unique_ptr<BrokerPort> inner) : inner_(std::move(inner)) {}
  [[nodiscard]] std::string_view name() const noexcept override { return inner_->name(); }
  void start(ExecutionSink& sink, QuoteBoard& quotes, const Clock& clock) override { inner_->start(sink, quotes, clock); }
  void submit(const Order& order) noexcept override { inner_->submit(order); }
  void cancel(const CancelOrder& cancel) noexcept override { inner_->cancel(cancel); }
  bool poll() noexcept override {
    if (asked_) {
      asked_ = false;
      (void)inner_->request_holdings();
      return true;
    }
    return inner_->poll();
  }
  void stop() noexcept override { inner_->stop(); }
  bool request_holdings() noexcept override {
    asked_ = true;
    return true;
  }

 private:
  std::unique_ptr<BrokerPort> inner_;
  bool asked_ = false;
};

TEST(CallerDrivenGateway, WaitReadyPollsForTheBrokersAnswer) {
  GatewayConfig config = caller_driven();
  config.brokers.emplace_back("paper", [paper = adapters::make_paper_factory(config.paper)](
                                           const InstrumentTable& instruments) -> std::unique_ptr<BrokerPort> {
    return std::make_unique<AnswersInPoll>(paper(instruments));
  });
  Gateway gateway(config);
  gateway.start();
  ASSERT_FALSE(gateway.ready()) << "the answer comes from a round of the broker";
  Session session = gateway.open_session("alice");
  EXPECT_EQ(session.submit(market_order("cd-early")).reason, Reason::ACCOUNT_NOT_READY);
  EXPECT_TRUE(gateway.wait_ready(std::chrono::seconds(10)));
  EXPECT_TRUE(session.submit(market_order("cd-ready")));
  gateway.stop();
}

}  // namespace
}  // namespace ordergate
