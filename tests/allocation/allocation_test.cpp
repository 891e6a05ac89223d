// After warm-up, submit() must never allocate: one million calls, accepted
// and rejected, half of them after a Session::prefetch of their id, with the
// broker thread filling orders concurrently. Only
// allocations made by the submitting thread are counted (the broker thread
// may allocate when it hands reports to the session).
//
// The same replaced operator new also refuses allocations on demand: a
// cancel-all whose broker queue cannot grow must lose no cancel.

#include "ordergate/gateway/gateway.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "gateway/test_support.hpp"

namespace {

thread_local bool g_counting = false;
thread_local std::size_t g_allocations = 0;
// True: this thread's nothrow allocations (the form the broker queues use)
// fail, as they would with the machine out of memory.
thread_local bool g_refuse_nothrow = false;

void* counted_allocate(std::size_t size) {
  if (g_counting) ++g_allocations;
  if (size == 0) size = 1;
  if (void* p = std::malloc(size)) return p;
  throw std::bad_alloc();
}

void* counted_allocate_aligned(std::size_t size, std::align_val_t alignment) {
  if (g_counting) ++g_allocations;
  const auto align = static_cast<std::size_t>(alignment);
  const std::size_t rounded = (size + align - 1) / align * align;
  if (void* p = std::aligned_alloc(align, rounded == 0 ? align : rounded)) return p;
  throw std::bad_alloc();
}

}  // namespace

void* operator new(std::size_t size) { return counted_allocate(size); }
void* operator new[](std::size_t size) { return counted_allocate(size); }
void* operator new(std::size_t size, std::align_val_t alignment) { return counted_allocate_aligned(size, alignment); }
void* operator new[](std::size_t size, std::align_val_t alignment) {
  return counted_allocate_aligned(size, alignment);
}
// The nothrow forms go through the same path (a sanitizer's runtime would
// otherwise answer them itself).
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  if (g_refuse_nothrow) return nullptr;
  try {
    return counted_allocate(size);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  if (g_refuse_nothrow) return nullptr;
  try {
    return counted_allocate(size);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace ordergate {
namespace {

TEST(Allocation, CounterSeesAnAllocationOnThisThread) {
  g_counting = true;
  auto* probe = new int(7);
  g_counting = false;
  delete probe;
  EXPECT_EQ(g_allocations, 1u);
  g_allocations = 0;
}

TEST(Allocation, OneMillionSubmitsAfterWarmUpAllocateNothing) {
  GatewayConfig config = testing::test_config();
  for (auto& instrument : config.instruments) {
    instrument.max_open_orders = 1'000'000;
    instrument.max_position = decimal_literal("1000000000");
  }
  for (auto& principal : config.principals) principal.rate_limits = {"1000000000/1s"};
  config.order_capacity = 1u << 18;
  config.broker_queue_capacity = 1u << 16;
  config.idle_strategy = IdleStrategy::busy_spin;
  ManualClock clock;
  Gateway gateway(config, clock);
  gateway.start();
  Session session = gateway.open_session("alice");

  char id[24];
  char previous[24] = "none";
  OrderRequest good = testing::market_order("", Side::buy, "1000");
  OrderRequest bad_quantity = testing::market_order("", Side::buy, "1.5");
  OrderRequest fat_finger = testing::limit_order("", Side::buy, "1.20000", "1000");
  std::size_t accepted = 0;
  std::size_t rejected = 0;
  std::size_t by_reason[kReasonCount] = {};
  std::size_t reports = 0;
  ExecutionReport report;

  auto run = [&](int begin, int end) {
    for (int i = begin; i < end; ++i) {
      const auto [last, error] = std::to_chars(id, id + sizeof id - 1, i);
      *last = '\0';
      OrderRequest* request = nullptr;
      switch (i % 4) {
        case 0:
          good.side = (i / 4) % 2 ? Side::sell : Side::buy;
          good.client_order_id = id;
          request = &good;
          break;
        case 1:
          bad_quantity.client_order_id = id;
          request = &bad_quantity;
          break;
        case 2:
          fat_finger.client_order_id = id;
          request = &fat_finger;
          break;
        default:
          good.client_order_id = previous;  // duplicate of the last accepted id
          request = &good;
          break;
      }
      if (i % 8 < 4) session.prefetch(request->client_order_id);  // the hint allocates nothing either
      const Verdict verdict = session.submit(*request);
      if (verdict.accepted()) {
        ++accepted;
        std::copy(id, id + sizeof id, previous);
      } else {
        ++rejected;
      }
      ++by_reason[static_cast<std::size_t>(verdict.reason)];
      if ((i & 255) == 0) {
        while (session.poll(report)) ++reports;
      }
    }
  };

  run(0, 20'000);  // warm-up: producer blocks, session queue, first touches
  accepted = 0;
  rejected = 0;
  std::fill(std::begin(by_reason), std::end(by_reason), 0u);
  g_allocations = 0;
  g_counting = true;
  run(20'000, 1'020'000);
  g_counting = false;

  EXPECT_EQ(g_allocations, 0u);
  EXPECT_EQ(accepted + rejected, 1'000'000u);
  EXPECT_EQ(by_reason[static_cast<std::size_t>(Reason::QUANTITY_PRECISION_EXCEEDED)], 250'000u);
  EXPECT_EQ(by_reason[static_cast<std::size_t>(Reason::PRICE_OUT_OF_BAND)], 250'000u);
  EXPECT_EQ(by_reason[static_cast<std::size_t>(Reason::DUPLICATE_CLIENT_ORDER_ID)], 250'000u);
  // The good quarter is accepted, or refused when the broker thread falls
  // behind the flood (SESSION_QUEUE_FULL once this session's budget is
  // waiting, BROKER_UNAVAILABLE if the queue itself fills); every path is
  // counted, and refusing must not allocate either.
  EXPECT_EQ(accepted + by_reason[static_cast<std::size_t>(Reason::BROKER_UNAVAILABLE)] +
                by_reason[static_cast<std::size_t>(Reason::SESSION_QUEUE_FULL)],
            250'000u);
  EXPECT_GT(accepted, 0u);
  EXPECT_GT(reports, 0u);
}

// Amends (accepted, and refused while one is pending), cancels and submits
// spending a cluster member's budget leases (the account's and the
// principal's) and checked against its exposure leases: none allocates
// after warm-up.
// Only the calls themselves are counted; polling for the reports is not.
TEST(Allocation, AmendsCancelsAndLeasedSubmitsAfterWarmUpAllocateNothing) {
  GatewayConfig config = testing::test_config();
  for (auto& principal : config.principals) {
    principal.rate_limits = {"1000000000/1s"};
    principal.cancel_rate_limits = {"1000000000/1s"};
    principal.modify_rate_limits = {"1000000000/1s"};
  }
  config.account_rate_limits = {"1000000000/1s"};
  config.idle_strategy = IdleStrategy::busy_spin;
  ManualClock clock;
  Gateway gateway(config, clock);
  gateway.share_account_budgets();
  gateway.share_principal_budgets();
  gateway.share_account_exposure();
  gateway.start();
  gateway.grant_budget(0, 0, 1'000'000);
  gateway.grant_principal_budget(0, 0, 1'000'000);  // alice's one window
  for (const Gateway::ExposureLease& lease : gateway.exposure_leases()) {
    gateway.grant_exposure(lease.account, lease.limit, lease.instrument, lease.total);
  }
  Session session = gateway.open_session("alice");
  ExecutionReport report;
  const auto wait_for = [&](ExecStatus status) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!(session.poll(report) && report.status == status)) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no " << to_string(status) << " report";
    }
  };
  char ids[2][24] = {"amend-0", ""};
  std::size_t current = 0;
  ASSERT_TRUE(session.submit(testing::limit_order(ids[0], Side::buy, "1.08000", "1000")).accepted());
  wait_for(ExecStatus::new_order);

  std::size_t allocations = 0;
  std::size_t amends = 0;
  std::size_t refusals = 0;
  std::size_t cancels = 0;
  const auto counted = [&](auto&& call) {
    g_allocations = 0;
    g_counting = true;
    const Verdict verdict = call();
    g_counting = false;
    allocations += g_allocations;
    return verdict;
  };
  const auto run = [&](int begin, int end) {
    for (int i = begin; i < end; ++i) {
      char* fresh = ids[1 - current];
      const auto [last, error] = std::to_chars(fresh, fresh + 20, i);
      *last = '\0';
      ReplaceRequest amend;
      amend.client_order_id = ids[current];
      amend.new_client_order_id = fresh;
      amend.price = decimal_literal((i & 1) != 0 ? "1.08010" : "1.08000");
      ASSERT_TRUE(counted([&] { return session.replace(amend); }).accepted());
      ++amends;
      // The original again: refused, pending (ORDER_PENDING) or already
      // replaced (UNKNOWN_ORDER), without allocating either way.
      amend.new_client_order_id = "again";
      const Reason again = counted([&] { return session.replace(amend); }).reason;
      ASSERT_TRUE(again == Reason::ORDER_PENDING || again == Reason::UNKNOWN_ORDER) << reason_name(again);
      ++refusals;
      wait_for(ExecStatus::replaced);
      current = 1 - current;
      // A leased market order (sides alternate: the position stays flat), a
      // cancel of it once filled (refused) and a duplicate of its id.
      const Side side = (i & 1) != 0 ? Side::sell : Side::buy;
      char market_id[24] = "m-";
      const auto [end_of_id, ignored] = std::to_chars(market_id + 2, market_id + 22, i);
      *end_of_id = '\0';
      ASSERT_TRUE(counted([&] { return session.submit(testing::market_order(market_id, side, "1000")); }).accepted());
      wait_for(ExecStatus::filled);
      (void)counted([&] { return session.cancel(market_id); });
      ++cancels;
      ASSERT_EQ(counted([&] { return session.submit(testing::market_order(market_id, side, "1000")); }).reason,
                Reason::DUPLICATE_CLIENT_ORDER_ID);
    }
  };
  run(1, 500);  // warm-up
  allocations = 0;
  amends = 0;
  refusals = 0;
  cancels = 0;
  run(500, 5'500);
  EXPECT_EQ(allocations, 0u);
  EXPECT_EQ(amends, 5'000u);
  EXPECT_EQ(refusals, 5'000u);
  EXPECT_EQ(cancels, 5'000u);
}

// Acknowledges every order, and counts the cancels it is sent; the order
// with the client order id "hold" keeps the broker thread in the venue call
// until the test releases it, so nothing is taken from the queues meanwhile.
class HoldingBroker final : public BrokerPort {
 public:
  struct Control {
    std::mutex mutex;
    std::condition_variable changed;
    bool holding = false;
    bool released = false;
    std::atomic<int> cancels{0};
  };
  explicit HoldingBroker(std::shared_ptr<Control> control) : control_(std::move(control)) {}
  [[nodiscard]] std::string_view name() const noexcept override { return "holding"; }
  void start(ExecutionSink& sink, QuoteBoard& quotes, const Clock& clock) override {
    sink_ = &sink;
    quotes.publish(0, decimal_literal("1.08460"), decimal_literal("1.08463"), clock.monotonic_ns());
    quotes.publish(1, decimal_literal("151.230"), decimal_literal("151.236"), clock.monotonic_ns());
  }
  void submit(const Order& order) noexcept override {
    if (order.client_order_id.view() == "hold") {
      std::unique_lock lock(control_->mutex);
      control_->holding = true;
      control_->changed.notify_all();
      control_->changed.wait(lock, [&] { return control_->released; });
    }
    ExecutionReport report;
    report.order_id = order.order_id;
    report.status = ExecStatus::new_order;
    report.leaves_quantity = order.quantity;
    sink_->on_execution(report);
  }
  void cancel(const CancelOrder&) noexcept override { control_->cancels.fetch_add(1); }
  bool poll() noexcept override { return false; }
  void stop() noexcept override {}

 private:
  std::shared_ptr<Control> control_;
  ExecutionSink* sink_ = nullptr;
};

// Counts the cancels the audit trail records, by outcome. Records numbered
// from 1, as a journal's are.
class CancelTrail final : public AuditSink {
 public:
  std::uint64_t record(const AuditEvent& event) noexcept override {
    if (event.type == AuditEventType::cancel_accepted) accepted.fetch_add(1);
    if (event.type == AuditEventType::cancel_rejected) {
      (event.reason == Reason::BROKER_UNAVAILABLE ? unsent : other_refusals).fetch_add(1);
    }
    return sequence.fetch_add(1) + 1;
  }
  std::atomic<std::size_t> accepted{0};
  std::atomic<std::size_t> unsent{0};
  std::atomic<std::size_t> other_refusals{0};
  std::atomic<std::uint64_t> sequence{0};
};

// A cancel-all meets a broker queue that cannot grow: the cancels that do
// not fit are not lost. The count leaves them out, the trail records each
// as refused (BROKER_UNAVAILABLE) and an error event names them, and the
// next cancel-all sends exactly those.
TEST(Allocation, ACancelAllTheQueueCannotTakeIsNotLostAndTheNextOneSendsIt) {
  constexpr int kOrders = 600;
  GatewayConfig config = testing::test_config();
  for (auto& instrument : config.instruments) instrument.max_open_orders = 1000;
  for (auto& principal : config.principals) principal.rate_limits = {"1000000/1s"};
  // The broker queue starts with (256 + (1 + 1) x 128) cells, in blocks of
  // 64: fewer than the orders.
  config.broker_queue_capacity = 256;
  config.max_sessions = 1;
  config.session_queue_budget = 256;
  auto control = std::make_shared<HoldingBroker::Control>();
  config.brokers.emplace_back("paper", [control](const InstrumentTable&) -> std::unique_ptr<BrokerPort> {
    return std::make_unique<HoldingBroker>(control);
  });
  auto events = std::make_shared<std::vector<std::string>>();
  auto events_mutex = std::make_shared<std::mutex>();
  config.on_event = [events, events_mutex](std::string_view level, std::string_view event, std::string_view fields) {
    if (event != "bulk_cancel_not_sent") return;
    std::lock_guard lock(*events_mutex);
    events->push_back(std::string(level) + " " + std::string(event) + " " + std::string(fields));
  };
  ManualClock clock;
  CancelTrail trail;
  Gateway gateway(config, clock, &trail);
  gateway.start();
  const auto release = [&] {
    {
      std::lock_guard lock(control->mutex);
      control->released = true;
    }
    control->changed.notify_all();
  };
  // Lets the broker thread go however the test ends, before the gateway stops.
  struct Releaser {
    std::function<void()> on_exit;
    ~Releaser() { on_exit(); }
  } releaser{release};
  Session session = gateway.open_session("alice");

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  // One cancel-all before the refusals, of an order of its own: this thread
  // then has its place in the broker queue, as an operator's has after the
  // first.
  const Verdict first_order =
      session.submit(testing::limit_order("first", Side::buy, "151.000", "1000", "acc-a", "USDJPY"));
  ASSERT_TRUE(first_order.accepted()) << reason_name(first_order.reason);
  ExecutionReport report;
  // Acknowledged first, so that its cancel goes to the broker.
  while (!(session.poll(report) && report.client_order_id.view() == "first")) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the first order was never acknowledged";
  }
  CancelFilter usd_jpy;
  usd_jpy.instrument = gateway.instruments().find_name("USD/JPY")->id;
  ASSERT_EQ(gateway.cancel_orders(usd_jpy), 1u);
  ASSERT_EQ(trail.accepted.load(), 1u);
  // In batches the session's queue budget holds, each acknowledged before
  // the next is sent.
  for (int i = 0; i < kOrders;) {
    const int batch_end = std::min(i + 200, kOrders);
    for (const int begin = i; i < batch_end; ++i) {
      const std::string id = "o-" + std::to_string(i);
      const Verdict verdict = session.submit(testing::limit_order(id, Side::buy, "1.08000", "1000"));
      ASSERT_TRUE(verdict.accepted()) << id << " (batch from " << begin << "): " << reason_name(verdict.reason);
    }
    const std::string last_of_batch = "o-" + std::to_string(batch_end - 1);
    while (!(session.poll(report) && report.client_order_id.view() == last_of_batch)) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << last_of_batch << " was never acknowledged";
    }
  }
  ASSERT_TRUE(session.submit(testing::limit_order("hold", Side::buy, "1.08000", "1000")).accepted());
  {
    std::unique_lock lock(control->mutex);
    ASSERT_TRUE(control->changed.wait_for(lock, std::chrono::seconds(30), [&] { return control->holding; }))
        << "the broker thread never took the held order";
  }
  ASSERT_EQ(gateway.open_orders("alice").size(), static_cast<std::size_t>(kOrders + 2));
  const std::size_t open = kOrders + 1;  // without "first", which has its cancel

  CancelFilter everything;
  std::size_t first = 0;
  {
    struct Refusal {
      Refusal() { g_refuse_nothrow = true; }
      ~Refusal() { g_refuse_nothrow = false; }
    } refusal;
    first = gateway.cancel_orders(everything);
  }
  EXPECT_GE(first, 64u) << "the queue's first blocks were there to take cancels";
  EXPECT_LT(first, open) << "the queue could not take them all";
  EXPECT_EQ(trail.accepted.load(), 1 + first) << "the trail records a cancel as sent only when it was";
  EXPECT_EQ(trail.unsent.load(), open - first) << "and every other as refused";
  EXPECT_EQ(trail.other_refusals.load(), 0u);
  {
    std::lock_guard lock(*events_mutex);
    ASSERT_EQ(events->size(), 1u);
    EXPECT_EQ(events->front().rfind("error bulk_cancel_not_sent orders=" + std::to_string(open - first) +
                                        " sent=" + std::to_string(first) + " ",
                                    0),
              0u)
        << events->front();
  }

  const std::size_t second = gateway.cancel_orders(everything);
  EXPECT_EQ(second, open - first) << "the next cancel-all sends exactly the cancels the first could not";
  EXPECT_EQ(trail.accepted.load(), 1 + open);
  EXPECT_EQ(trail.unsent.load(), open - first) << "no refusal this time";
  EXPECT_EQ(gateway.cancel_orders(everything), 0u) << "and every order has its one cancel";

  release();
  while (control->cancels.load() < static_cast<int>(open + 1)) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << control->cancels.load() << " cancels reached the broker";
  }
  // An order sent after the cancels is acknowledged only once the broker
  // thread has taken everything queued before it: no cancel came twice.
  ASSERT_TRUE(session.submit(testing::limit_order("last", Side::buy, "1.08000", "1000")).accepted());
  bool last_acknowledged = false;
  while (!last_acknowledged) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the last order was never acknowledged";
    last_acknowledged = session.poll(report) && report.client_order_id.view() == "last";
  }
  EXPECT_EQ(control->cancels.load(), static_cast<int>(open + 1));
}

}  // namespace
}  // namespace ordergate

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
