// The in-process gateway end to end: the guard pipeline as `Session::submit`
// runs it (accepted and rejected orders), and the round trip of a market
// order through the broker queue, the paper broker thread and back.
//
// Every run builds its own gateway outside the timed loop. Order ids are
// never reused, so the runs that accept orders have a fixed iteration count
// that fits the default order capacity: the client order id index and the
// order table then have the size a default deployment has (a much larger
// capacity makes the duplicate lookup a DRAM miss and moves the figures).

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "bench_instrument.hpp"
#include "latency.hpp"
#include "temporary_directory.hpp"
#include "ordergate/core/clock.hpp"
#include "ordergate/core/decimal.hpp"
#include "ordergate/gateway/config.hpp"
#include "ordergate/gateway/gateway.hpp"

namespace ordergate::bench {
namespace {

constexpr std::string_view kAccount = "bench";
constexpr std::string_view kPrincipal = "bench-strategy";
constexpr std::string_view kSymbol = "EUR/USD";
constexpr benchmark::IterationCount kAcceptedOrders = 200'000;
// Each one waits for a sync of the paper broker's state file.
constexpr benchmark::IterationCount kDurableOrders = 2'000;

// The default order capacity, or enough for the accepting runs if that is less.
std::uint32_t order_capacity() {
  const std::uint32_t default_capacity = GatewayConfig{}.order_capacity;
  return std::max<std::uint32_t>(default_capacity, static_cast<std::uint32_t>(kAcceptedOrders) + 1'024);
}

// Limits wide enough that nothing but the guard under test can refuse an
// order: windows admit a billion a second, positions stay near flat.
GatewayConfig bench_config(std::uint32_t order_capacity, IdleStrategy idle) {
  GatewayConfig config;
  InstrumentSpec instrument = bench_instrument(std::string(kSymbol));
  instrument.max_open_orders = 4'000'000'000u;
  config.instruments.push_back(instrument);
  config.accounts.push_back(AccountSpec{std::string(kAccount), "paper"});

  PrincipalConfig principal;
  principal.policy.name = std::string(kPrincipal);
  principal.policy.permissions = {"trade", "cancel"};
  principal.policy.accounts = {std::string(kAccount)};
  principal.policy.symbols = {std::string(kSymbol)};
  principal.rate_limits = {"1000000000/1s", "1000000000/1m"};
  config.principals.push_back(principal);
  config.account_rate_limits = {"1000000000/1s"};
  config.symbol_rate_limits = {"1000000000/1s"};

  // Accounts on "paper" use the paper broker the gateway registers by default.
  config.paper.quotes.push_back(
      adapters::PaperQuoteSpec{std::string(kSymbol), decimal_literal("1.08460"), decimal_literal("1.08465")});
  config.order_capacity = order_capacity;
  // Room for every order of an accepting run: on a loaded machine the broker
  // thread may fall behind, and a full queue (BROKER_UNAVAILABLE) is not what
  // these runs measure.
  config.broker_queue_capacity = std::max<std::uint32_t>(GatewayConfig{}.broker_queue_capacity, order_capacity);
  config.session_queue_budget = config.broker_queue_capacity;  // likewise SESSION_QUEUE_FULL
  config.max_sessions = 4;
  config.idle_strategy = idle;
  return config;
}

// Unique client order ids without allocation: a fixed prefix and a counter.
class ClientOrderIds {
 public:
  /// `letters`: the number spelled in letters ("acc-bq"), as ids without a
  /// trailing counter (UUIDs, hashes) are, instead of in digits ("acc-42").
  explicit ClientOrderIds(std::string_view prefix, bool letters = false) noexcept
      : prefix_length_(std::min(prefix.size(), sizeof(buffer_) - 20)), letters_(letters) {
    std::copy_n(prefix.begin(), prefix_length_, buffer_);
  }
  std::string_view next() noexcept {
    char* const digits = buffer_ + prefix_length_;
    if (letters_) {
      char* end = digits;
      std::uint64_t n = counter_++;
      do {
        *end++ = static_cast<char>('a' + n % 26);
        n /= 26;
      } while (n != 0);
      return {buffer_, static_cast<std::size_t>(end - buffer_)};
    }
    const std::to_chars_result result = std::to_chars(digits, buffer_ + sizeof(buffer_), counter_++);
    return {buffer_, static_cast<std::size_t>(result.ptr - buffer_)};
  }

 private:
  char buffer_[32] = {};
  std::size_t prefix_length_;
  bool letters_;
  std::uint64_t counter_ = 0;
};

OrderRequest market_order(Side side) {
  OrderRequest request;
  request.account = kAccount;
  request.symbol = kSymbol;
  request.side = side;
  request.type = OrderType::market;
  request.time_in_force = TimeInForce::ioc;
  request.quantity = decimal_literal("100");
  return request;
}

std::uint64_t drain(Session& session) noexcept {
  std::uint64_t events = 0;
  ExecutionReport report;
  while (session.poll(report)) ++events;
  return events;
}

// Accepted market orders, alternating buy and sell. Execution reports are
// drained every 64 orders inside the loop: that cost is in the throughput,
// not in the per-order samples, which time `submit` alone.
//
// Argument `metrics`: 0 records nothing; 1 counts every decision and times
// one submit in 16 per session for the latency histogram (the default);
// 2 times every submit. They run in the same process, so their differences
// are the cost of the metrics.
// `shared`: 1, a cluster member's shared account budgets, the lease granted
// ahead with enough tokens for the whole run (as the member keeps it); 2,
// its shared exposure limits too, each lease the whole limit.
// `reuse`: first submit (untimed) as many orders as there are records, so
// that every timed order takes a record an earlier order used and the
// broker thread last wrote: the steady state of a long-running gateway.
// A submit refused because no record is free yet (the broker thread has not
// reclaimed them) is retried untimed and counted in `no_record`.
// What a strategy does between two orders, for run_accept: `gap_ns` of
// computation that touches no memory (0: none), and whether it names its
// next client order id to the session first (Session::prefetch).
// `lettered_ids`: client order ids without a trailing number (see
// ClientOrderIds), which the duplicate index cannot group by four.
// `drain_every`: the orders between two reads of the session's reports, a
// power of two (a mask, as cheap as the 64 it replaced).
struct Between {
  std::int64_t gap_ns = 0;
  bool prefetch = false;
  bool lettered_ids = false;
  std::uint64_t drain_every = 64;
};

void run_accept(benchmark::State& state, const GatewayConfig& config, int shared = 0, bool reuse = false,
                Between between = {}) {
  Gateway gateway(config);
  if (shared >= 1) gateway.share_account_budgets();
  if (shared >= 2) gateway.share_account_exposure();
  gateway.start();
  if (shared >= 1) {
    for (const Gateway::BudgetLease& lease : gateway.budget_leases()) {
      gateway.grant_budget(lease.account, lease.window, state.max_iterations + 1);
    }
  }
  for (const Gateway::ExposureLease& lease : gateway.exposure_leases()) {
    gateway.grant_exposure(lease.account, lease.limit, lease.instrument, lease.total);
  }
  Session session = gateway.open_session(kPrincipal);
  ScopedPin pin(0);  // after start(): the broker thread keeps every CPU
  LatencyRecorder recorder(static_cast<std::size_t>(state.max_iterations));
  ClientOrderIds ids("acc-", between.lettered_ids);
  // The id of the next order, known before its submit (ids.next() reuses
  // one buffer, so the request gets a copy).
  ClientOrderIds next_ids("acc-", between.lettered_ids);
  char id_buffer[32] = {};
  const auto gap_ticks = static_cast<std::uint64_t>(static_cast<double>(between.gap_ns) / nanos_per_tick());
  OrderRequest request = market_order(Side::buy);
  std::uint64_t submitted = 0;
  std::uint64_t events = 0;
  std::uint64_t no_record = 0;
  const auto submit_until_recorded = [&]() noexcept {
    for (;;) {
      const Verdict verdict = session.submit(request);
      if (verdict.reason != Reason::ORDER_CAPACITY_EXHAUSTED) return verdict;
      ++no_record;
      events += drain(session);
    }
  };
  if (reuse) {
    for (std::uint32_t i = 0; i < config.order_capacity; ++i) {
      request.side = (submitted++ & 1) == 0 ? Side::buy : Side::sell;
      request.client_order_id = ids.next();
      if (!submit_until_recorded()) {
        state.SkipWithError("an order was rejected while the records were first used");
        return;
      }
      if ((submitted & 63) == 0) events += drain(session);
    }
  }

  const bool named_ahead = between.gap_ns > 0 || between.prefetch;
  if (named_ahead) {
    for (std::uint64_t i = 0; i < submitted; ++i) (void)next_ids.next();  // past the ids used above
  }
  for (auto _ : state) {
    request.side = (submitted & 1) == 0 ? Side::buy : Side::sell;
    if (named_ahead) {
      const std::string_view id = next_ids.next();
      std::copy(id.begin(), id.end(), id_buffer);
      request.client_order_id = std::string_view(id_buffer, id.size());
      if (between.prefetch) session.prefetch(request.client_order_id);
      const std::uint64_t until = ticks_begin() + gap_ticks;
      while (ticks_begin() < until) {
      }
    } else {
      request.client_order_id = ids.next();
    }
    const std::uint64_t begin = ticks_begin();
    Verdict verdict = session.submit(request);
    const std::uint64_t end = ticks_end();
    if (reuse && verdict.reason == Reason::ORDER_CAPACITY_EXHAUSTED) {
      verdict = submit_until_recorded();  // not a sample: the order waited for a record
    } else {
      recorder.add(begin, end);
    }
    if (!verdict) {
      const std::string message = "an order was rejected on the accept path: " + std::string(reason_name(verdict.reason));
      state.SkipWithError(message.c_str());
      break;
    }
    if ((++submitted & (between.drain_every - 1)) == 0) events += drain(session);
  }
  benchmark::DoNotOptimize(events);
  session.close();
  gateway.stop();
  publish(state, recorder);
  publish_thread_round_trip(state);
  if (reuse) state.counters["no_record"] = static_cast<double>(no_record);
}

void BM_GuardPipeline_Accept(benchmark::State& state) {
  GatewayConfig config = bench_config(order_capacity(), IdleStrategy::backoff);
  config.metrics = state.range(0) != 0;
  config.metrics_latency_sample = state.range(0) == 2 ? 1 : 16;
  run_accept(state, config);
}
BENCHMARK(BM_GuardPipeline_Accept)->ArgName("metrics")->Arg(0)->Arg(1)->Arg(2)->Iterations(kAcceptedOrders);

// As BM_GuardPipeline_Accept/metrics:1, with client order ids that end in
// letters, not a number: each order's index entry is on a line of its own.
void BM_GuardPipeline_Accept_LetteredIds(benchmark::State& state) {
  run_accept(state, bench_config(order_capacity(), IdleStrategy::backoff), 0, false, Between{.lettered_ids = true});
}
BENCHMARK(BM_GuardPipeline_Accept_LetteredIds)->Iterations(kAcceptedOrders);

// As BM_GuardPipeline_Accept/metrics:1, with the session's reports read
// after every order, as a strategy's event loop reads them before its next
// decision, instead of every 64 orders: each read is two reports the broker
// thread has just written, not a burst of 128.
void BM_GuardPipeline_Accept_EventLoop(benchmark::State& state) {
  run_accept(state, bench_config(order_capacity(), IdleStrategy::backoff), 0, false, Between{.drain_every = 1});
}
BENCHMARK(BM_GuardPipeline_Accept_EventLoop)->Iterations(kAcceptedOrders);

// The accept path of a gateway that has run for a while: 16,384 records,
// all used once before the timed orders, so each timed order reuses a
// record (and its duplicate-index neighbourhood) the broker thread wrote
// when the order it held finished.
void BM_GuardPipeline_Accept_Reused(benchmark::State& state) {
  run_accept(state, bench_config(16'384, IdleStrategy::backoff), 0, true);
}
BENCHMARK(BM_GuardPipeline_Accept_Reused)->Iterations(kAcceptedOrders);

// A strategy that computes for 1 us between orders (touching no memory),
// with `prefetch` 0: nothing more, 1: it names its next client order id to
// the session before it computes (Session::prefetch), so that the index
// entry and the record arrive meanwhile. Otherwise as
// BM_GuardPipeline_Accept/metrics:1.
void BM_GuardPipeline_Accept_Gap(benchmark::State& state) {
  run_accept(state, bench_config(order_capacity(), IdleStrategy::backoff), 0, false,
             Between{.gap_ns = 1'000, .prefetch = state.range(0) != 0});
}
BENCHMARK(BM_GuardPipeline_Accept_Gap)->ArgName("prefetch")->Arg(0)->Arg(1)->Iterations(kAcceptedOrders);

// The same on reused records (as BM_GuardPipeline_Accept_Reused).
void BM_GuardPipeline_Accept_Reused_Gap(benchmark::State& state) {
  run_accept(state, bench_config(16'384, IdleStrategy::backoff), 0, true,
             Between{.gap_ns = 1'000, .prefetch = state.range(0) != 0});
}
BENCHMARK(BM_GuardPipeline_Accept_Reused_Gap)->ArgName("prefetch")->Arg(0)->Arg(1)->Iterations(kAcceptedOrders);

// The accept path with the limits that are off by default: `account` is
// the number of instruments (all quoted in USD) of an account with gross,
// net and daily loss limits, 0 for none; `daily` sets the principal's
// max_orders_per_day. Metrics as by default. Compare with
// BM_GuardPipeline_Accept/metrics:1 of the same run.
void BM_GuardPipeline_Accept_Limits(benchmark::State& state) {
  GatewayConfig config = bench_config(order_capacity(), IdleStrategy::backoff);
  const auto instruments = static_cast<int>(state.range(0));
  if (instruments > 0) {
    AccountSpec& account = config.accounts.front();
    account.currency = "USD";
    account.max_gross_notional = decimal_literal("1000000000");
    account.max_net_notional = decimal_literal("1000000000");
    account.max_daily_loss = decimal_literal("1000000000");
    // More instruments the account could hold, each valued on every check.
    for (int i = 1; i < instruments; ++i) {
      InstrumentSpec other = config.instruments.front();
      char name[16];
      std::snprintf(name, sizeof name, "X%d/USD", 10 + i);
      other.name = name;
      config.instruments.push_back(other);
      config.paper.quotes.push_back(
          adapters::PaperQuoteSpec{other.name, decimal_literal("1.00000"), decimal_literal("1.00002")});
    }
  }
  if (state.range(1) != 0) config.principals.front().max_orders_per_day = 4'000'000'000u;
  run_accept(state, config);
}
BENCHMARK(BM_GuardPipeline_Accept_Limits)
    ->ArgNames({"account", "daily"})
    ->Args({0, 1})
    ->Args({1, 0})
    ->Args({8, 0})
    ->Args({8, 1})
    ->Iterations(kAcceptedOrders);

// The accept path of a cluster member (docs/cluster.md), with
// bench_config's account rate window and limits (never reached here):
// `shared` 0 enforces them in this process alone (the same configuration as
// BM_GuardPipeline_Accept/metrics:1); 1 also takes a token of the cluster's
// shared budget from the member's lease; 2 also checks the position and
// open-order limits against the member's exposure leases (with the account
// version's compare-and-swap).
void BM_GuardPipeline_Accept_Cluster(benchmark::State& state) {
  run_accept(state, bench_config(order_capacity(), IdleStrategy::backoff), static_cast<int>(state.range(0)));
}
BENCHMARK(BM_GuardPipeline_Accept_Cluster)->ArgName("shared")->Arg(0)->Arg(1)->Arg(2)->Iterations(kAcceptedOrders);

// An accepted amend (Session::replace) of a resting limit order on the
// caller's thread: the order looked up, its state and the amend flag
// claimed, the new price validated, the exposure of the difference, the
// amend budget, the new id claimed and the replacement record published.
// Each amend waits for its REPLACED report outside the timed part (an order
// with an amend pending refuses the next one), so the paper broker confirms
// between samples.
void BM_GuardPipeline_Replace(benchmark::State& state) {
  GatewayConfig config = bench_config(order_capacity(), IdleStrategy::busy_spin);
  config.principals.front().modify_rate_limits = {"1000000000/1s"};
  Gateway gateway(config);
  gateway.start();
  Session session = gateway.open_session(kPrincipal);
  ScopedPin pin(0);
  LatencyRecorder recorder(static_cast<std::size_t>(state.max_iterations));
  ClientOrderIds ids("amend-");
  OrderRequest order = market_order(Side::buy);
  order.type = OrderType::limit;
  order.time_in_force = TimeInForce::gtc;
  order.price = decimal_literal("1.08000");
  order.client_order_id = ids.next();
  if (!session.submit(order)) {
    state.SkipWithError("the resting order was rejected");
    return;
  }
  // ClientOrderIds reuses its buffer: each id is copied (short: no heap).
  std::string current(order.client_order_id);
  std::string fresh;
  ReplaceRequest amend;
  amend.client_order_id = current;
  std::uint64_t amended = 0;
  ExecutionReport report;
  const auto wait_for = [&](ExecStatus status) {
    while (true) {
      if (session.poll(report) && report.status == status) return;
    }
  };
  wait_for(ExecStatus::new_order);

  for (auto _ : state) {
    fresh.assign(ids.next());
    amend.new_client_order_id = fresh;
    amend.price = decimal_literal((++amended & 1) != 0 ? "1.08010" : "1.08000");
    const std::uint64_t begin = ticks_begin();
    const Verdict verdict = session.replace(amend);
    const std::uint64_t end = ticks_end();
    recorder.add(begin, end);
    if (!verdict) {
      const std::string message = "an amend was rejected: " + std::string(reason_name(verdict.reason));
      state.SkipWithError(message.c_str());
      break;
    }
    state.PauseTiming();
    wait_for(ExecStatus::replaced);
    current.swap(fresh);
    amend.client_order_id = current;
    state.ResumeTiming();
  }
  publish(state, recorder);
  session.close();
  gateway.stop();
}
BENCHMARK(BM_GuardPipeline_Replace)->Iterations(20'000);

// A limit order ~10% away from the quote with a 1% band: validation,
// permissions, the kill switch, the quote read and every per-order risk check
// run, and the last of them (PRICE_OUT_OF_BAND) refuses it. Rejections change
// no state and produce no execution report, so the same request is reused.
// Argument `metrics` as for BM_GuardPipeline_Accept.
void BM_GuardPipeline_Reject(benchmark::State& state) {
  GatewayConfig config = bench_config(order_capacity(), IdleStrategy::backoff);
  config.metrics = state.range(0) != 0;
  config.metrics_latency_sample = state.range(0) == 2 ? 1 : 16;
  Gateway gateway(config);
  gateway.start();
  Session session = gateway.open_session(kPrincipal);
  ScopedPin pin(0);
  LatencyRecorder recorder(static_cast<std::size_t>(state.max_iterations));
  OrderRequest request;
  request.account = kAccount;
  request.symbol = kSymbol;
  request.side = Side::buy;
  request.type = OrderType::limit;
  request.time_in_force = TimeInForce::gtc;
  request.quantity = decimal_literal("100");
  request.price = decimal_literal("1.20000");
  request.client_order_id = "reject-1";

  for (auto _ : state) {
    const std::uint64_t begin = ticks_begin();
    const Verdict verdict = session.submit(request);
    const std::uint64_t end = ticks_end();
    recorder.add(begin, end);
    if (verdict.reason != Reason::PRICE_OUT_OF_BAND) {
      state.SkipWithError("expected PRICE_OUT_OF_BAND");
      break;
    }
  }
  publish(state, recorder);
  session.close();
  gateway.stop();
}
BENCHMARK(BM_GuardPipeline_Reject)->ArgName("metrics")->Arg(0)->Arg(1)->Arg(2);

// submit() of a market order until its FILLED report is polled on the
// session: guards, the broker queue, the paper broker on its own busy-spinning
// thread, the execution sink and the session's event queue. With a
// `state_file`, the paper broker syncs each order's changes to it before it
// reports them. With `caller_driven`, no broker thread: this thread drives
// the paper broker with Gateway::poll (GatewayConfig::broker_threads).
void submit_to_paper_fill(benchmark::State& state, const std::string& state_file, bool caller_driven = false) {
  GatewayConfig config = bench_config(order_capacity(), IdleStrategy::busy_spin);
  config.paper.state_file = state_file;
  config.broker_threads = !caller_driven;
  Gateway gateway(config);
  gateway.start();
  Session session = gateway.open_session(kPrincipal);
  ScopedPin pin(0);
  LatencyRecorder recorder(static_cast<std::size_t>(state.max_iterations));
  ClientOrderIds ids("rt-");
  OrderRequest request = market_order(Side::buy);
  std::uint64_t submitted = 0;
  ExecutionReport report;

  for (auto _ : state) {
    request.side = (submitted++ & 1) == 0 ? Side::buy : Side::sell;
    request.client_order_id = ids.next();
    const std::uint64_t begin = ticks_begin();
    const Verdict verdict = session.submit(request);
    if (!verdict) {
      state.SkipWithError("the order was rejected");
      break;
    }
    bool filled = false;
    while (!filled) {
      if (caller_driven) (void)gateway.poll();
      if (session.poll(report)) {
        filled = report.order_id == verdict.order_id && is_terminal(report.status);
      }
    }
    const std::uint64_t end = ticks_end();
    recorder.add(begin, end);
    if (report.status != ExecStatus::filled) {
      state.SkipWithError("the market order did not fill");
      break;
    }
  }
  session.close();
  gateway.stop();
  publish(state, recorder);
  publish_thread_round_trip(state);
}

void BM_Submit_To_PaperFill(benchmark::State& state) { submit_to_paper_fill(state, {}); }
BENCHMARK(BM_Submit_To_PaperFill)->Iterations(kAcceptedOrders);

// The same round trip on one thread: no hand-off to a broker thread and
// back, so no line crosses between cores (thread_rtt_p50_ns is then only
// the machine's figure, not part of the path).
void BM_Submit_To_PaperFill_CallerDriven(benchmark::State& state) { submit_to_paper_fill(state, {}, true); }
BENCHMARK(BM_Submit_To_PaperFill_CallerDriven)->Iterations(kAcceptedOrders);

// The same with `[paper] state_file` in a fresh directory under TMPDIR (the
// disk the file is on is what this measures: on tmpfs a sync costs nothing).
void BM_Submit_To_PaperFill_StateFile(benchmark::State& state) {
  const TemporaryDirectory directory;
  submit_to_paper_fill(state, (directory.path() / "paper.state").string());
}
BENCHMARK(BM_Submit_To_PaperFill_StateFile)->Iterations(kDurableOrders);

}  // namespace
}  // namespace ordergate::bench
