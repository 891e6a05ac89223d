// The order round trip through a network broker adapter: Session::submit of a
// market order until its FILLED report is polled, with the gateway's guards,
// the broker thread, the adapter, TLS, the simulator (a separate
// `ordergate-sim` process on loopback) and back. In the same run, the same
// orders over the persistent, pre-handshaken connection pool and then with a
// new TCP + TLS connection for every order (TlsSettings::keep_alive = false),
// and the ratio of the two. Two floors, over the same TLS client without the
// gateway: the bare exchange of an order's sizes with the simulator's echo
// (tls_floor_*), and the venue's own orders sent the same way
// (venue_floor_*), which adds the venue's work; each *_wire_mean_ns is the
// mean of what the TLS client timed from write to response. The persistent
// run once more without a broker thread (caller_*): the measuring thread
// drives the broker itself with Gateway::poll, as a single-threaded
// strategy would (GatewayConfig::broker_threads = false).
//
// The simulator is found next to this binary in the build tree
// (../sim/ordergate-sim) or through ORDERGATE_SIM; without it the
// benchmark is skipped with a message. CPUs (two are enough): the broker
// thread spins on the second, this thread and the simulator share the first;
// the floors' client, and this thread when it drives the broker, spin on the
// second, as the broker thread does, and the simulator has the first to
// itself (ORDERGATE_BENCH_PIN=0 leaves placement to the scheduler).

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "latency.hpp"
#include "ordergate/adapters/binance/binance_broker.hpp"
#include "ordergate/adapters/oanda/oanda_broker.hpp"
#include "ordergate/gateway/gateway.hpp"
#include "ordergate/security/crypto.hpp"

extern char** environ;

namespace ordergate::bench {
namespace {

// Benchmark-only credentials, handed to the simulator through its environment.
constexpr const char* kOandaToken = "bench-oanda-token";
constexpr const char* kBinanceKey = "bench-binance-key";
constexpr const char* kBinanceSecret = "bench-binance-secret";
constexpr const char* kOandaAccount = "101-001-0000000-001";
constexpr std::size_t kPersistentOrders = 2000;
constexpr std::size_t kNewConnectionOrders = 400;

std::string simulator_path() {
  if (const char* path = std::getenv("ORDERGATE_SIM")) return path;
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  return (self.parent_path().parent_path() / "sim" / "ordergate-sim").string();
}

// The simulator as a child process: started on port 0 with its own CA, ready
// once it prints its ready line, stopped with SIGTERM.
class Simulator {
 public:
  explicit Simulator(const std::vector<std::string>& extra) {
    char pattern[] = "/tmp/ordergate-bench-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    ca_file_ = dir_ + "/ca.pem";
    std::vector<std::string> args = {simulator_path(), "--quiet", "--write-ca", ca_file_};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_storage;
    for (char** entry = environ; *entry != nullptr; ++entry) env_storage.emplace_back(*entry);
    env_storage.push_back(std::string("SIM_OANDA_TOKEN=") + kOandaToken);
    env_storage.push_back(std::string("SIM_BINANCE_KEY=") + kBinanceKey);
    env_storage.push_back(std::string("SIM_BINANCE_SECRET=") + kBinanceSecret);
    std::vector<char*> envp;
    for (auto& entry : env_storage) envp.push_back(entry.data());
    envp.push_back(nullptr);

    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    const int result = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (result != 0) {
      ::close(fds[0]);
      throw std::runtime_error("cannot start " + args[0] + " (build the ordergate-sim target, or set ORDERGATE_SIM)");
    }
    std::string line;
    for (;;) {
      pollfd descriptor{fds[0], POLLIN, 0};
      if (::poll(&descriptor, 1, 15000) <= 0) break;
      char c = 0;
      if (::read(fds[0], &c, 1) != 1 || c == '\n') break;
      line += c;
    }
    ::close(fds[0]);
    const auto at = line.find("port=");
    if (at == std::string::npos) {
      stop();
      throw std::runtime_error("ordergate-sim did not start (no ready line)");
    }
    port_ = static_cast<std::uint16_t>(std::stoi(line.substr(at + 5)));
  }
  ~Simulator() {
    stop();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  [[nodiscard]] std::string base_url() const { return "https://localhost:" + std::to_string(port_); }
  [[nodiscard]] const std::string& ca_file() const { return ca_file_; }

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::string dir_;
  std::string ca_file_;
};

enum class Venue { oanda, binance };

adapters::tls::TlsSettings connection(const Simulator& sim, bool keep_alive) {
  adapters::tls::TlsSettings tls;
  tls.base_url = sim.base_url();
  tls.ca_file = sim.ca_file();
  tls.pool_size = 2;
  tls.keep_alive = keep_alive;
  return tls;
}

InstrumentSpec instrument(const char* name, const char* tick, const char* lot) {
  InstrumentSpec spec;
  spec.name = name;
  spec.tick_size = decimal_literal(tick);
  spec.lot_step = decimal_literal(lot);
  spec.min_quantity = decimal_literal(lot);
  spec.max_quantity = decimal_literal("100000000");
  spec.max_order_quantity = decimal_literal("10000000");
  spec.max_notional = decimal_literal("100000000");
  spec.max_position = decimal_literal("1000000000");
  spec.price_band_bps = 100;
  spec.max_open_orders = 1000;
  // Prices are read once at start (no polling during the run).
  spec.max_quote_age_ns = 3'600 * kNanosPerSecond;
  return spec;
}

// One gateway with one network broker, busy-spinning broker thread.
GatewayConfig config_for(Venue venue, const Simulator& sim, bool keep_alive) {
  GatewayConfig config;
  config.instruments = {instrument("EUR/USD", "0.00001", "1"), instrument("BTC/USDT", "0.01", "0.00001")};
  const std::int64_t hour = 3'600 * kNanosPerSecond;
  if (venue == Venue::oanda) {
    adapters::oanda::OandaSettings settings;
    settings.connection = connection(sim, keep_alive);
    settings.account_id = kOandaAccount;
    settings.token = security::Secret(kOandaToken);
    settings.instruments = {"EUR/USD"};
    settings.pricing_interval_ns = hour;
    settings.max_requests_per_second = 100'000;
    settings.log = [](adapters::tls::LogLevel level, std::string_view line) {
      if (level != adapters::tls::LogLevel::info) adapters::tls::log_to_stderr(level, line);
    };
    config.accounts.push_back({"bench", "oanda"});
    config.brokers.emplace_back("oanda", adapters::oanda::make_oanda_factory(std::move(settings)));
  } else {
    adapters::binance::BinanceSettings settings;
    settings.connection = connection(sim, keep_alive);
    settings.api_key = security::Secret(kBinanceKey);
    settings.secret_key = security::Secret(kBinanceSecret);
    settings.instruments = {"BTC/USDT"};
    settings.pricing_interval_ns = hour;
    settings.order_limit_10s = 1'000'000;
    settings.weight_limit_1m = 100'000'000;
    settings.log = [](adapters::tls::LogLevel level, std::string_view line) {
      if (level != adapters::tls::LogLevel::info) adapters::tls::log_to_stderr(level, line);
    };
    config.accounts.push_back({"bench", "binance"});
    config.brokers.emplace_back("binance", adapters::binance::make_binance_factory(std::move(settings)));
  }
  PrincipalConfig principal;
  principal.policy.name = "bench";
  principal.policy.permissions = {"trade"};
  principal.policy.accounts = {"bench"};
  principal.policy.symbols = {"*"};
  principal.rate_limits = {"1000000000/1s"};
  config.principals.push_back(principal);
  config.order_capacity = 1u << 14;
  config.max_sessions = 2;
  config.idle_strategy = IdleStrategy::busy_spin;
  return config;
}

struct RunResult {
  LatencySummary summary;
  std::size_t filled = 0;
  /// Mean of the order requests' own round trips as the TLS client timed
  /// them (write to complete response), warm-up orders included.
  double wire_mean_ns = 0;
  std::string error;
};

double order_wire_mean_ns(const Gateway& gateway) {
  for (const Gateway::BrokerTransport& broker : gateway.broker_transports()) {
    for (const BrokerTransportStats::Requests& kind : broker.stats.requests) {
      if (kind.kind != "order") continue;
      std::uint64_t count = 0;
      for (const std::uint64_t bucket : kind.buckets) count += bucket;
      if (count > 0) return static_cast<double>(kind.sum_ns) / static_cast<double>(count);
    }
  }
  return 0;
}

// Who runs the broker's side: a broker thread of its own, or this thread
// (GatewayConfig::broker_threads = false, Gateway::poll).
enum class Drive { broker_thread, caller };

// `count` market orders, one at a time, alternating buy and sell; each timed
// from submit until its FILLED report is polled.
RunResult run_orders(Venue venue, const Simulator& sim, bool keep_alive, std::size_t count,
                     Drive drive = Drive::broker_thread) {
  RunResult result;
  GatewayConfig config = config_for(venue, sim, keep_alive);
  config.broker_threads = drive == Drive::broker_thread;
  Gateway gateway(std::move(config));
  {
    // The busy-spinning broker thread gets a CPU of its own (it inherits this
    // pin); this thread and the simulator share the other one, where this
    // thread yields while it waits. Otherwise the scheduler may put the
    // simulator next to the spinning thread, and every reply then waits for a
    // scheduler tick (4 ms here). Driven by this thread, the broker's side
    // spins where the broker thread would, as the floors' client does, and
    // the simulator has the other CPU to itself.
    ScopedPin broker_cpu(1);
    gateway.start();
  }
  // The account opens once reconciled with what the venue holds.
  if (!gateway.wait_ready(std::chrono::seconds(10))) {
    result.error = "the account was not reconciled within 10 s";
    gateway.stop();
    return result;
  }
  Session session = gateway.open_session("bench");
  ScopedPin pin(drive == Drive::caller ? 1 : 0);
  ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);  // short naps really are short
  LatencyRecorder recorder(count);
  OrderRequest request;
  request.account = "bench";
  request.symbol = venue == Venue::oanda ? "EUR/USD" : "BTC/USDT";
  request.type = OrderType::market;
  request.time_in_force = TimeInForce::ioc;
  request.quantity = decimal_literal(venue == Venue::oanda ? "1000" : "0.001");
  std::string id;
  for (std::size_t i = 0; i < count + 10; ++i) {
    const bool warmup = i < 10;
    id = (keep_alive ? "p-" : "n-") + std::to_string(i);
    request.client_order_id = id;
    request.side = (i & 1) == 0 ? Side::buy : Side::sell;
    const std::uint64_t begin = ticks_begin();
    const Verdict verdict = session.submit(request);
    if (!verdict) {
      result.error = std::string("order refused by the guards: ") + std::string(reason_name(verdict.reason));
      break;
    }
    ExecutionReport report;
    bool done = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done) {
      if (drive == Drive::caller) (void)gateway.poll();
      if (!session.poll(report)) {
        if (std::chrono::steady_clock::now() > deadline) break;
        if (drive == Drive::caller) continue;
        // Leave the CPU to the simulator for a few microseconds (timer slack
        // is 1 ns, see below); a yield alone lets it wait for a scheduler tick.
        std::this_thread::sleep_for(std::chrono::microseconds(2));
        continue;
      }
      if (report.order_id != verdict.order_id || !is_terminal(report.status)) continue;
      done = true;
    }
    const std::uint64_t end = ticks_end();
    if (!done || report.status != ExecStatus::filled) {
      result.error = std::string("order ") + id + " not filled: " + std::string(to_string(report.status)) + " " +
                     std::string(report.broker_reason.view());
      break;
    }
    if (!warmup) {
      recorder.add(begin, end);
      ++result.filled;
    }
  }
  result.wire_mean_ns = order_wire_mean_ns(gateway);
  session.close();
  gateway.stop();
  result.summary = recorder.summarize();
  return result;
}

// The floor of the persistent round trip: the bare HTTPS exchange of an
// order's size with the same simulator, over the same TLS client and a
// warm connection, without the gateway, the adapter or the venue's logic.
// One real order first tells the sizes: its request body, and the reply
// the venue gives; then `count` POSTs of a body of that size to
// `/sim/echo`, which answers at once with a reply of that size.
class FloorHandler final : public adapters::tls::HttpHandler {
 public:
  void on_http_result(std::uint64_t, const adapters::tls::HttpResult& result) noexcept override {
    done = true;
    elapsed_ns = result.elapsed_ns;
    ok = result.error == adapters::tls::TransportError::none && result.response->status() / 100 == 2;
    reply_bytes = ok ? result.response->body().size() : 0;
  }
  bool done = false;
  bool ok = false;
  std::size_t reply_bytes = 0;
  std::int64_t elapsed_ns = 0;
};

struct FloorResult {
  LatencySummary summary;
  std::size_t request_bytes = 0;
  std::size_t reply_bytes = 0;
  double wire_mean_ns = 0;  ///< as RunResult::wire_mean_ns, of the echoes
  LatencySummary venue;     ///< the venue floor: real orders, same client
  double venue_wire_mean_ns = 0;
  std::string error;
};

FloorResult run_floor(Venue venue, const Simulator& sim, std::size_t count) {
  FloorResult result;
  FloorHandler handler;
  adapters::tls::HttpsClient client(connection(sim, true), [](adapters::tls::LogLevel level, std::string_view line) {
    if (level != adapters::tls::LogLevel::info) adapters::tls::log_to_stderr(level, line);
  });
  client.start(handler, SystemClock::instance());
  // Like the broker thread: the client spins on the CPU the broker thread
  // has in run_orders, and the simulator has the other to itself.
  ScopedPin pin(1);
  const auto exchange = [&](const adapters::tls::HttpRequest& request) {
    handler.done = false;
    if (!client.send(request, 1)) return false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!handler.done && std::chrono::steady_clock::now() < deadline) client.poll();
    return handler.done && handler.ok;
  };
  std::string headers;
  std::string target;
  if (venue == Venue::oanda) {
    headers = std::string("Authorization: Bearer ") + kOandaToken + "\r\n";
    target = std::string("/v3/accounts/") + kOandaAccount + "/orders";
  } else {
    headers = std::string("X-MBX-APIKEY: ") + kBinanceKey + "\r\n";
    target = "/api/v3/order";
  }
  // The i-th real order: sides alternate, so the position stays flat, and
  // every one has its own client id (Binance's with a fresh signature).
  const auto order_body = [venue](std::size_t i) {
    char id[32];
    std::snprintf(id, sizeof id, "og-floor-%010zu", i + 1);
    const bool buy = (i & 1) == 0;
    if (venue == Venue::oanda) {
      return std::string(R"({"order":{"type":"MARKET","instrument":"EUR_USD","units":")") + (buy ? "1000" : "-1000") +
             R"(","timeInForce":"FOK","positionFill":"DEFAULT","clientExtensions":{"id":")" + id + R"("}}})";
    }
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    std::string body = std::string("symbol=BTCUSDT&side=") + (buy ? "BUY" : "SELL") +
                       "&type=MARKET&quantity=0.001&newClientOrderId=" + id +
                       "&newOrderRespType=FULL&timestamp=" + std::to_string(now_ms);
    body += "&signature=" + security::to_hex(security::hmac_sha256(kBinanceSecret, body));
    return body;
  };
  std::string body = order_body(0);
  adapters::tls::HttpRequest order;
  order.method = "POST";
  order.target = target;
  order.headers = headers;
  order.content_type = venue == Venue::oanda ? "application/json" : "application/x-www-form-urlencoded";
  order.body = body;
  if (!exchange(order)) {
    result.error = "the floor's sizing order was not answered with success";
    client.stop();
    return result;
  }
  result.request_bytes = body.size();
  result.reply_bytes = std::max<std::size_t>(handler.reply_bytes, 2);
  const std::string echo_target = "/sim/echo?bytes=" + std::to_string(result.reply_bytes);
  const std::string echo_body(result.request_bytes, 'x');
  adapters::tls::HttpRequest echo;
  echo.method = "POST";
  echo.target = echo_target;
  echo.headers = headers;
  echo.content_type = order.content_type;
  echo.body = echo_body;
  // Times `count` exchanges after ten that warm up; `prepare(i)` gives the
  // i-th request. False, with the error set, when one goes unanswered.
  const auto time_exchanges = [&](LatencyRecorder& recorder, double& wire_mean_ns, const char* failure,
                                  const auto& prepare) {
    double wire_sum_ns = 0;
    for (std::size_t i = 0; i < count + 10; ++i) {
      const adapters::tls::HttpRequest& request = prepare(i);
      const std::uint64_t begin = ticks_begin();
      const bool answered = exchange(request);
      const std::uint64_t end = ticks_end();
      if (!answered) {
        result.error = failure;
        return false;
      }
      if (i >= 10) recorder.add(begin, end);
      wire_sum_ns += static_cast<double>(handler.elapsed_ns);
    }
    wire_mean_ns = wire_sum_ns / static_cast<double>(count + 10);
    return true;
  };
  LatencyRecorder recorder(count);
  LatencyRecorder venue_recorder(count);
  // The echo floor, then the venue floor: the same client sends real
  // orders, so the venue's own work is in it too; what the gateway adds is
  // the rest.
  if (time_exchanges(recorder, result.wire_mean_ns, "an echo request of the floor was not answered",
                     [&](std::size_t) -> const adapters::tls::HttpRequest& { return echo; })) {
    time_exchanges(venue_recorder, result.venue_wire_mean_ns,
                   "an order of the venue floor was not answered with success",
                   [&](std::size_t i) -> const adapters::tls::HttpRequest& {
                     body = order_body(i + 1);  // 0 was the sizing order
                     order.body = body;
                     return order;
                   });
  }
  result.summary = recorder.summarize();
  client.stop();
  result.venue = venue_recorder.summarize();
  return result;
}

void publish_run(benchmark::State& state, const char* prefix, const LatencySummary& summary) {
  const std::string name(prefix);
  state.counters[name + "p50_ns"] = summary.p50_ns;
  state.counters[name + "p99_ns"] = summary.p99_ns;
  state.counters[name + "p99.9_ns"] = summary.p999_ns;
  state.counters[name + "max_ns"] = summary.max_ns;
  state.counters[name + "mean_ns"] = summary.mean_ns;
}

// One iteration = the whole comparison (persistent run, the same driven by
// the measuring thread, the floors, then the new-connection run, on one
// simulator). Counters: persistent_*, caller_* and new_connection_*
// latencies and persistent_to_new_p50 / _mean ratios (goal <= 0.3); the
// floors (tls_floor_*, venue_floor_*, run_floor) and each persistent run's
// p50 over them (*_to_floor_p50, *_to_venue_floor_p50; goal <= 1.5).
void BM_Broker_OrderRoundTrip(benchmark::State& state) {
  const Venue venue = state.range(0) == 0 ? Venue::oanda : Venue::binance;
  std::optional<Simulator> sim;
  try {
    ScopedPin simulator_cpu(0);  // the child process inherits it: the CPU this thread waits on
    sim.emplace(std::vector<std::string>{"--binance-order-limit", "100000000", "--binance-weight-limit", "100000000",
                                         "--oanda-rate-limit", "0"});
  } catch (const std::exception& error) {
    state.SkipWithError(error.what());
    for (auto _ : state) {
    }
    return;
  }
  RunResult persistent;
  RunResult caller;
  RunResult fresh;
  FloorResult floor;
  for (auto _ : state) {
    persistent = run_orders(venue, *sim, true, kPersistentOrders);
    if (!persistent.error.empty()) {
      state.SkipWithError(persistent.error.c_str());
      break;
    }
    caller = run_orders(venue, *sim, true, kPersistentOrders, Drive::caller);
    if (!caller.error.empty()) {
      state.SkipWithError(caller.error.c_str());
      break;
    }
    floor = run_floor(venue, *sim, kPersistentOrders);
    if (!floor.error.empty()) {
      state.SkipWithError(floor.error.c_str());
      break;
    }
    fresh = run_orders(venue, *sim, false, kNewConnectionOrders);
    if (!fresh.error.empty()) {
      state.SkipWithError(fresh.error.c_str());
      break;
    }
  }
  if (!persistent.error.empty() || !caller.error.empty() || !fresh.error.empty() || !floor.error.empty()) return;
  publish_run(state, "persistent_", persistent.summary);
  publish_run(state, "tls_floor_", floor.summary);
  state.counters["tls_floor_request_bytes"] = static_cast<double>(floor.request_bytes);
  state.counters["tls_floor_reply_bytes"] = static_cast<double>(floor.reply_bytes);
  state.counters["persistent_to_floor_p50"] = persistent.summary.p50_ns / floor.summary.p50_ns;
  publish_run(state, "venue_floor_", floor.venue);
  state.counters["persistent_to_venue_floor_p50"] = persistent.summary.p50_ns / floor.venue.p50_ns;
  state.counters["persistent_wire_mean_ns"] = persistent.wire_mean_ns;
  state.counters["tls_floor_wire_mean_ns"] = floor.wire_mean_ns;
  state.counters["venue_floor_wire_mean_ns"] = floor.venue_wire_mean_ns;
  publish_run(state, "caller_", caller.summary);
  state.counters["caller_wire_mean_ns"] = caller.wire_mean_ns;
  state.counters["caller_to_floor_p50"] = caller.summary.p50_ns / floor.summary.p50_ns;
  state.counters["caller_to_venue_floor_p50"] = caller.summary.p50_ns / floor.venue.p50_ns;
  publish_run(state, "new_connection_", fresh.summary);
  state.counters["persistent_to_new_p50"] = persistent.summary.p50_ns / fresh.summary.p50_ns;
  state.counters["persistent_to_new_mean"] = persistent.summary.mean_ns / fresh.summary.mean_ns;
  state.counters["orders"] = static_cast<double>(persistent.filled + fresh.filled);
  state.SetLabel(venue == Venue::oanda ? "oanda" : "binance");
}
BENCHMARK(BM_Broker_OrderRoundTrip)->Arg(0)->Arg(1)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ordergate::bench
