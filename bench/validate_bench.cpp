// guards::validate_order alone, on one thread: the first guard of every
// submit. Instruments and accounts as a small FX desk has them.

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "bench_instrument.hpp"
#include "latency.hpp"
#include "ordergate/core/instrument.hpp"
#include "ordergate/guards/validate.hpp"

namespace ordergate::bench {
namespace {

// `spelling` 0: the instrument's own name ("EUR/USD"), what a bot that read
// it from the gateway sends; 1: the compact key ("EURUSD"); 2: a spelling
// that needs canonicalising ("eur_usd=X"). `limit` 0: market IOC; 1: limit
// GTC with a price.
void BM_ValidateOrder(benchmark::State& state) {
  ScopedPin pin(0);
  std::vector<InstrumentSpec> specs;
  for (const char* name : {"EUR/USD", "GBP/USD", "AUD/USD", "USD/CHF", "USD/CAD", "NZD/USD", "EUR/GBP"}) {
    specs.push_back(bench_instrument(name));
  }
  specs.push_back(bench_instrument("USD/JPY", "0.001"));
  const InstrumentTable instruments(specs);
  const AccountTable accounts({AccountSpec{"fx-live", "oanda"}, AccountSpec{"fx-hedge", "oanda"}});
  constexpr std::array<std::string_view, 3> kSpellings = {"EUR/USD", "EURUSD", "eur_usd=X"};
  const auto spelling = static_cast<std::size_t>(state.range(0));
  std::array<std::string, 16> ids;
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = "strat-a-" + std::to_string(1'000'000 + i);

  OrderRequest request;
  request.account = "fx-live";
  request.symbol = kSpellings[spelling];
  request.side = Side::buy;
  request.quantity = decimal_literal("10000");
  if (state.range(1) == 0) {
    request.type = OrderType::market;
    request.time_in_force = TimeInForce::ioc;
  } else {
    request.type = OrderType::limit;
    request.time_in_force = TimeInForce::gtc;
    request.price = decimal_literal("1.08463");
  }

  LatencyRecorder recorder(static_cast<std::size_t>(state.max_iterations));
  std::size_t index = 0;
  std::uint64_t checksum = 0;  // wraps on purpose
  // One order written over and over: validate_order sets every field it
  // checks, and the gateway's zeroing of a fresh one is not its cost.
  Order order;
  for (auto _ : state) {
    request.client_order_id = ids[index];
    index = (index + 1) % ids.size();
    const std::uint64_t begin = ticks_begin();
    const Reason reason = guards::validate_order(request, accounts, instruments, 0, order);
    const std::uint64_t end = ticks_end();
    recorder.add(begin, end);
    if (reason != Reason::OK) {
      state.SkipWithError("a benchmark order was refused");
      break;
    }
    checksum += order.instrument_id + order.client_order_id.size();
  }
  // The same calls as one batch: the cost without per-call timing.
  const std::size_t batch = std::min<std::size_t>(static_cast<std::size_t>(state.iterations()), 1'000'000);
  const std::uint64_t begin = ticks_begin();
  for (std::size_t i = 0; i < batch; ++i) {
    request.client_order_id = ids[i % ids.size()];
    (void)guards::validate_order(request, accounts, instruments, 0, order);
    checksum += order.instrument_id + order.client_order_id.size();
  }
  const std::uint64_t end = ticks_end();
  benchmark::DoNotOptimize(checksum);
  publish(state, recorder);
  state.counters["batch_mean_ns"] = batch_mean_ns(begin, end, batch);
}
BENCHMARK(BM_ValidateOrder)->ArgsProduct({{0, 1, 2}, {0, 1}})->ArgNames({"spelling", "limit"});

}  // namespace
}  // namespace ordergate::bench
