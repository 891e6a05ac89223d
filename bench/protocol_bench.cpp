// The socket process's codec on its I/O thread, per order: decoding the
// submit line, writing the `accepted` reply and the two execution reports
// (NEW, FILLED) a market order produces. Mean ns per call; lines as the
// load generator (tools/load) sends them.

#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "ordergate/core/decimal.hpp"
#include "ordergate/core/execution.hpp"
#include "protocol.hpp"

namespace ordergate::bench {
namespace {

constexpr std::string_view kSubmit =
    R"({"op":"submit","id":"000000012345","account":"paper","symbol":"EURUSD","side":"buy","type":"market",)"
    R"("qty":"1000","tif":"ioc","cl_ord_id":"L1a2b3c4d-000000012345"})";

void BM_Protocol_DecodeSubmit(benchmark::State& state) {
  protocol::Decoder decoder(4096);
  protocol::Request request;
  protocol::DecodeError error;
  for (auto _ : state) {
    const bool ok = decoder.decode(kSubmit, request, error);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(request);
  }
  if (!decoder.decode(kSubmit, request, error)) state.SkipWithError("the submit line did not decode");
}
BENCHMARK(BM_Protocol_DecodeSubmit);

ExecutionReport filled_report() {
  ExecutionReport report;
  report.status = ExecStatus::filled;
  report.side = Side::buy;
  report.last_quantity = decimal_literal("1000");
  report.last_price = decimal_literal("1.08463");
  report.cumulative_quantity = decimal_literal("1000");
  report.average_price = decimal_literal("1.08463");
  report.transact_time_ns = 1'796'000'000'123'456'789;
  (void)report.client_order_id.assign("L1a2b3c4d-000000012345");
  (void)report.broker_order_id.assign("P-000000012345");
  return report;
}

// Lines are appended to one buffer and it is cleared every 64 lines, as a
// connection's output is between two writes at window 64.
void BM_Protocol_WriteExecution(benchmark::State& state) {
  const ExecutionReport report = filled_report();
  std::string out;
  int lines = 0;
  for (auto _ : state) {
    protocol::write_execution(out, report, "paper", "EUR/USD");
    if (++lines == 64) {
      benchmark::DoNotOptimize(out.data());
      out.clear();
      lines = 0;
    }
  }
  state.counters["bytes_per_line"] = static_cast<double>(out.size()) / (lines == 0 ? 1 : lines);
}
BENCHMARK(BM_Protocol_WriteExecution);

// What handle_submit writes for an accepted order.
void BM_Protocol_WriteAccepted(benchmark::State& state) {
  std::string out;
  int lines = 0;
  for (auto _ : state) {
    protocol::JsonWriter json(out);
    json.begin()
        .string("type", "accepted")
        .string("op", "submit")
        .raw("id", R"("000000012345")")
        .string("cl_ord_id", "L1a2b3c4d-000000012345")
        .integer("order_id", 12345)
        .end();
    if (++lines == 64) {
      benchmark::DoNotOptimize(out.data());
      out.clear();
      lines = 0;
    }
  }
}
BENCHMARK(BM_Protocol_WriteAccepted);

}  // namespace
}  // namespace ordergate::bench
