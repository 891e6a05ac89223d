// The paper broker alone, driven on this thread as its I/O thread would drive
// it, without and with a state file (`/state_file:0` and `:1`):
//
//  - BM_Paper_MarketFill: one `submit` of a market order; its NEW and FILLED
//    reports reach the sink inside the call. With a state file: one batch
//    (next id + position) written and synced before the first report.
//  - BM_Paper_RestThenCancel: a limit order that rests (NEW), then its
//    `cancel` (CANCELED): two batches, two syncs.
//
// After each order, outside the samples but inside the throughput, one
// `poll`: it compacts the state file when the appended records call for it.
// The file goes into a fresh directory under TMPDIR: the disk it is on is
// what the `:1` runs measure (on tmpfs a sync costs nothing).

#include <cstdint>
#include <string>

#include "bench_instrument.hpp"
#include "latency.hpp"
#include "ordergate/adapters/paper/paper_broker.hpp"
#include "ordergate/core/clock.hpp"
#include "ordergate/core/decimal.hpp"
#include "ordergate/core/instrument.hpp"
#include "temporary_directory.hpp"

namespace ordergate::bench {
namespace {

constexpr benchmark::IterationCount kMemoryOrders = 200'000;
constexpr benchmark::IterationCount kFileOrders = 2'000;

class CountingSink final : public ExecutionSink {
 public:
  void on_execution(const ExecutionReport& report) noexcept override {
    if (report.status == ExecStatus::filled) ++filled;
    if (report.status == ExecStatus::canceled) ++canceled;
  }
  std::uint64_t filled = 0;
  std::uint64_t canceled = 0;
};

InstrumentTable instruments() { return InstrumentTable({bench_instrument()}); }

// A started paper broker, with its state file in a fresh directory or none.
struct Fixture {
  explicit Fixture(bool durable) : table(instruments()), quotes(table.size()), broker(table, settings(durable)) {
    broker.start(sink, quotes, clock);
  }
  ~Fixture() { broker.stop(); }

  adapters::PaperConfig settings(bool durable) const {
    adapters::PaperConfig config;
    config.quotes = {{"EUR/USD", decimal_literal("1.08460"), decimal_literal("1.08465")}};
    config.tick_interval_ns = 3'600 * kNanosPerSecond;  // no tick inside a run
    if (durable) config.state_file = (directory.path() / "paper.state").string();
    return config;
  }

  TemporaryDirectory directory;
  InstrumentTable table;
  ManualClock clock;
  QuoteBoard quotes;
  CountingSink sink;
  adapters::PaperBroker broker;
};

Order base_order() {
  Order order;
  order.session_id = 1;
  order.account_id = 0;
  order.instrument_id = 0;
  order.quantity = decimal_literal("100");
  order.client_order_id.assign("bench");
  return order;
}

void BM_Paper_MarketFill(benchmark::State& state) {
  Fixture fixture(state.range(0) != 0);
  ScopedPin pin(0);
  LatencyRecorder recorder(static_cast<std::size_t>(state.max_iterations));
  Order order = base_order();
  order.type = OrderType::market;
  order.time_in_force = TimeInForce::ioc;

  for (auto _ : state) {
    ++order.order_id;
    order.side = (order.order_id & 1) != 0 ? Side::buy : Side::sell;  // the position stays flat
    const std::uint64_t filled = fixture.sink.filled;
    const std::uint64_t begin = ticks_begin();
    fixture.broker.submit(order);
    const std::uint64_t end = ticks_end();
    recorder.add(begin, end);
    if (fixture.sink.filled != filled + 1) {
      state.SkipWithError("the market order did not fill");
      break;
    }
    fixture.broker.poll();
  }
  publish(state, recorder);
}
BENCHMARK(BM_Paper_MarketFill)->ArgName("state_file")->Arg(0)->Iterations(kMemoryOrders);
BENCHMARK(BM_Paper_MarketFill)->ArgName("state_file")->Arg(1)->Iterations(kFileOrders);

void BM_Paper_RestThenCancel(benchmark::State& state) {
  Fixture fixture(state.range(0) != 0);
  ScopedPin pin(0);
  LatencyRecorder recorder(static_cast<std::size_t>(state.max_iterations));
  Order order = base_order();
  order.type = OrderType::limit;
  order.time_in_force = TimeInForce::gtc;
  order.side = Side::buy;
  order.price = decimal_literal("1.08000");  // far below the ask: rests
  CancelOrder cancel;

  for (auto _ : state) {
    ++order.order_id;
    cancel.order_id = order.order_id;
    const std::uint64_t canceled = fixture.sink.canceled;
    const std::uint64_t begin = ticks_begin();
    fixture.broker.submit(order);
    fixture.broker.cancel(cancel);
    const std::uint64_t end = ticks_end();
    recorder.add(begin, end);
    if (fixture.sink.canceled != canceled + 1) {
      state.SkipWithError("the resting order was not canceled");
      break;
    }
    fixture.broker.poll();
  }
  publish(state, recorder);
}
BENCHMARK(BM_Paper_RestThenCancel)->ArgName("state_file")->Arg(0)->Iterations(kMemoryOrders);
BENCHMARK(BM_Paper_RestThenCancel)->ArgName("state_file")->Arg(1)->Iterations(kFileOrders);

}  // namespace
}  // namespace ordergate::bench
