#pragma once

// Fixture for the broker integration tests: a real ordergate-sim process on
// loopback TLS (started on port 0, ready line awaited, no sleeps), an
// in-process Gateway whose `brokers` factories build the OANDA and Binance
// adapters pointed at it, canary credentials, and a capture of every log
// line so tests can prove no credential ever reaches one.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ordergate/adapters/binance/binance_broker.hpp"
#include "ordergate/adapters/oanda/oanda_broker.hpp"
#include "ordergate/adapters/rest/venue_client_id.hpp"
#include "ordergate/gateway/gateway.hpp"
#include "sim/sim_process.hpp"
#include "sim/tls_client.hpp"

namespace ordergate::brokers::testing {

using sim::testing::SimProcess;
using sim::testing::TempDir;
using sim::testing::TlsClient;

// Canary credentials: unique strings no log line, error or report may contain.
inline constexpr const char* kOandaToken = "canary-oanda-token-7d41c2";
inline constexpr const char* kBinanceKey = "canary-binance-key-a93e10";
inline constexpr const char* kBinanceSecret = "canary-binance-secret-52bb7f";
inline constexpr const char* kOandaAccount = "101-001-0000000-001";

inline sim::testing::Environment canary_environment() {
  return {{"SIM_OANDA_TOKEN", kOandaToken}, {"SIM_BINANCE_KEY", kBinanceKey}, {"SIM_BINANCE_SECRET", kBinanceSecret}};
}

/// Thread-safe capture of the adapters' log lines (written on broker threads).
class LogCapture {
 public:
  adapters::tls::LogFunction function() {
    return [this](adapters::tls::LogLevel level, std::string_view line) {
      std::lock_guard lock(mutex_);
      lines_.push_back(std::string(adapters::tls::to_string(level)) + ": " + std::string(line));
    };
  }
  [[nodiscard]] std::vector<std::string> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  [[nodiscard]] bool contains(std::string_view text) const {
    for (const auto& line : lines()) {
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  }
  [[nodiscard]] std::string dump() const {
    std::string text;
    for (const auto& line : lines()) text += "  " + line + "\n";
    return text;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

inline InstrumentSpec instrument(const char* name, const char* tick, const char* lot, const char* max_order,
                                 const char* max_notional) {
  InstrumentSpec spec;
  spec.name = name;
  spec.tick_size = decimal_literal(tick);
  spec.lot_step = decimal_literal(lot);
  spec.min_quantity = decimal_literal(lot);
  spec.max_quantity = decimal_literal("100000000");
  spec.max_order_quantity = decimal_literal(max_order);
  spec.max_notional = decimal_literal(max_notional);
  spec.max_position = decimal_literal("100000000");
  spec.price_band_bps = 100;
  spec.max_open_orders = 100;
  spec.max_quote_age_ns = 5 * kNanosPerSecond;
  return spec;
}

/// Polls `done` until true or `timeout` of real time passes.
inline bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

class BrokerSimTest : public ::testing::Test {
 protected:
  /// Starts ordergate-sim with `args` and the canary credentials; `quiet`
  /// leaves out its per-request log lines.
  void start_sim(std::vector<std::string> args, bool quiet = true) {
    if (quiet) args.push_back("--quiet");
    sim_ = std::make_unique<SimProcess>(std::move(args), canary_environment());
  }

  /// HTTP requests the simulator logged (started without `quiet`).
  [[nodiscard]] int sim_requests_logged() const {
    const std::string text = sim_->stderr_text();
    int count = 0;
    for (const char* method : {" GET /", " POST /", " PUT /", " DELETE /"}) {
      for (std::size_t at = text.find(method); at != std::string::npos; at = text.find(method, at + 1)) ++count;
    }
    return count;
  }

  [[nodiscard]] std::string base_url() const { return "https://localhost:" + std::to_string(sim_->port()); }

  adapters::oanda::OandaSettings oanda_settings() {
    adapters::oanda::OandaSettings settings;
    settings.connection.base_url = base_url();
    settings.connection.ca_file = sim_->ca_file();
    settings.connection.connect_timeout_ns = 3 * kNanosPerSecond;
    settings.connection.request_timeout_ns = 3 * kNanosPerSecond;
    settings.connection.reconnect_min_ns = 50 * kNanosPerMilli;
    settings.connection.reconnect_max_ns = 500 * kNanosPerMilli;
    settings.account_id = kOandaAccount;
    settings.token = security::Secret(kOandaToken);
    settings.instruments = {"EUR/USD"};
    settings.pricing_interval_ns = 100 * kNanosPerMilli;
    settings.transaction_poll_interval_ns = 50 * kNanosPerMilli;
    settings.unknown_fate_window_ns = 1 * kNanosPerSecond;
    settings.log = logs_.function();
    return settings;
  }

  adapters::binance::BinanceSettings binance_settings() {
    adapters::binance::BinanceSettings settings;
    settings.connection.base_url = base_url();
    settings.connection.ca_file = sim_->ca_file();
    settings.connection.connect_timeout_ns = 3 * kNanosPerSecond;
    settings.connection.request_timeout_ns = 3 * kNanosPerSecond;
    settings.connection.reconnect_min_ns = 50 * kNanosPerMilli;
    settings.connection.reconnect_max_ns = 500 * kNanosPerMilli;
    settings.api_key = security::Secret(kBinanceKey);
    settings.secret_key = security::Secret(kBinanceSecret);
    settings.instruments = {"BTC/USDT"};
    settings.order_limit_10s = 50;  // the simulator's default
    settings.pricing_interval_ns = 100 * kNanosPerMilli;
    settings.order_poll_interval_ns = 50 * kNanosPerMilli;
    settings.unknown_fate_window_ns = 1 * kNanosPerSecond;
    settings.log = logs_.function();
    return settings;
  }

  /// EUR/USD (with a finer tick than OANDA's, so a broker-side precision
  /// reject can be provoked) on account `fx` (OANDA) and BTC/USDT on
  /// account `crypto` (Binance); principal `bot` may trade both.
  GatewayConfig gateway_config(std::function<std::unique_ptr<BrokerPort>(const InstrumentTable&)> oanda,
                               std::function<std::unique_ptr<BrokerPort>(const InstrumentTable&)> binance) {
    GatewayConfig config;
    config.instruments = {instrument("EUR/USD", "0.000001", "1", "20000000", "30000000"),
                          instrument("BTC/USDT", "0.01", "0.00001", "50", "5000000")};
    if (oanda) {
      config.accounts.push_back({"fx", "oanda"});
      config.brokers.emplace_back("oanda", std::move(oanda));
    }
    if (binance) {
      config.accounts.push_back({"crypto", "binance"});
      config.brokers.emplace_back("binance", std::move(binance));
    }
    PrincipalConfig bot;
    bot.policy.name = "bot";
    bot.policy.permissions = {"trade", "cancel"};
    bot.policy.accounts = {"*"};
    bot.policy.symbols = {"*"};
    bot.rate_limits = {"1000/1s"};
    bot.cancel_rate_limits = {"1000/1s"};
    config.principals = {bot};
    config.order_capacity = 4096;
    config.max_sessions = 8;
    config.broker_queue_capacity = 1024;
    return config;
  }

  /// `expect_ready`: wait until the accounts are reconciled (a request or
  /// two to the simulator); tests of a broker that cannot be reached or
  /// refuses the credentials pass false (the accounts then stay
  /// ACCOUNT_NOT_READY).
  void start_gateway(GatewayConfig config, bool expect_ready = true) {
    gateway_ = std::make_unique<Gateway>(std::move(config));
    gateway_->start();
    if (expect_ready) {
      ASSERT_TRUE(gateway_->wait_ready(std::chrono::seconds(10))) << logs_.dump();
    }
    session_ = gateway_->open_session("bot");
  }

  void stop_gateway() {
    if (!gateway_) return;
    session_.close();
    gateway_->stop();
  }

  static OrderRequest market(std::string_view account, std::string_view symbol, Side side, const char* quantity,
                             std::string_view client_order_id) {
    OrderRequest request;
    request.account = account;
    request.symbol = symbol;
    request.side = side;
    request.type = OrderType::market;
    request.time_in_force = TimeInForce::ioc;
    request.quantity = decimal_literal(quantity);
    request.client_order_id = client_order_id;
    return request;
  }
  static OrderRequest limit(std::string_view account, std::string_view symbol, Side side, const char* quantity,
                            const char* price, std::string_view client_order_id) {
    OrderRequest request = market(account, symbol, side, quantity, client_order_id);
    request.type = OrderType::limit;
    request.time_in_force = TimeInForce::gtc;
    request.price = decimal_literal(price);
    return request;
  }

  /// Submits until accepted by the guards (the first reference price may
  /// still be on its way), failing the test on any other refusal.
  Verdict submit(const OrderRequest& request) {
    Verdict verdict = session_.submit(request);
    for (int i = 0; verdict.reason == Reason::NO_REFERENCE_PRICE && i < 2000; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      verdict = session_.submit(request);
    }
    EXPECT_TRUE(verdict.accepted()) << reason_name(verdict.reason);
    return verdict;
  }

  /// Reports for `client_order_id` until a terminal one (or 10 s).
  std::vector<ExecutionReport> until_terminal(std::string_view client_order_id,
                                              std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::vector<ExecutionReport> mine;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      ExecutionReport report;
      if (!session_.poll(report)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      record(report);
      if (report.client_order_id != client_order_id) continue;
      mine.push_back(report);
      if (is_terminal(report.status)) return mine;
    }
    return mine;
  }

  /// True once a report for `client_order_id` has `status` (or false after
  /// 10 s). A report polled earlier, while waiting for another order, counts:
  /// two orders' reports may arrive in either order. Each report answers one
  /// wait at most.
  bool wait_status(std::string_view client_order_id, ExecStatus status) {
    waited_.resize(reports_.size(), false);  // tests may append to reports_ themselves
    for (std::size_t i = 0; i < reports_.size(); ++i) {
      if (!waited_[i] && reports_[i].client_order_id == client_order_id && reports_[i].status == status) {
        waited_[i] = true;
        return true;
      }
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      ExecutionReport report;
      if (!session_.poll(report)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      record(report);
      if (report.client_order_id == client_order_id && report.status == status) {
        waited_.back() = true;
        return true;
      }
    }
    return false;
  }

  /// The client id the venue knows the strategy's `client_order_id` by, as an
  /// operator finds it: the prefix the adapter logged at start and the
  /// gateway order id of the order's reports. Empty when either is missing.
  std::string venue_client_id(std::string_view client_order_id) const {
    constexpr std::string_view kLogged = "venue client ids: ";
    std::string prefix;
    for (const std::string& line : logs_.lines()) {
      const std::size_t at = line.find(kLogged);
      if (at != std::string::npos) {
        prefix = line.substr(at + kLogged.size(), adapters::rest::VenueClientIds::kPrefixLength);
      }
    }
    for (const ExecutionReport& report : reports_) {
      if (report.client_order_id == client_order_id && !prefix.empty()) {
        return std::string(adapters::rest::format_venue_client_id(prefix, report.order_id).view());
      }
    }
    return {};
  }

  /// Admin: orders the simulator holds for the strategy's `client_order_id`
  /// (-1 when the order had no report yet to find its venue client id by).
  int sim_orders(const std::string& client_order_id) {
    const std::string venue_id = venue_client_id(client_order_id);
    if (venue_id.empty()) {
      ADD_FAILURE() << "no venue client id known for " << client_order_id;
      return -1;
    }
    TlsClient admin(sim_->port(), sim_->ca_file());
    const auto reply = admin.request("GET", "/sim/orders?client_order_id=" + venue_id);
    const auto at = reply.body.find("\"count\":");
    return at == std::string::npos ? -1 : std::stoi(reply.body.substr(at + 8));
  }

  /// Admin: one counter of the simulator's `/sim/stats` (-1 when absent).
  long long sim_stat(const std::string& name) {
    TlsClient admin(sim_->port(), sim_->ca_file());
    const auto reply = admin.request("GET", "/sim/stats");
    const std::string key = "\"" + name + "\":";
    const auto at = reply.body.find(key);
    return at == std::string::npos ? -1 : std::stoll(reply.body.substr(at + key.size()));
  }

  /// Admin: moves a simulator quote.
  void set_price(const std::string& venue, const std::string& instrument, const std::string& bid,
                 const std::string& ask) {
    TlsClient admin(sim_->port(), sim_->ca_file());
    const auto reply = admin.request("POST", "/sim/price",
                                     R"({"venue":")" + venue + R"(","instrument":")" + instrument + R"(","bid":")" +
                                         bid + R"(","ask":")" + ask + R"("})");
    ASSERT_EQ(reply.status, 200) << reply.body;
  }

  /// No credential in any adapter log line, simulator log line or report.
  void expect_no_secret_anywhere() {
    std::vector<std::string> lines = logs_.lines();
    if (sim_) {
      const std::string text = sim_->stderr_text();
      std::size_t start = 0;
      while (start < text.size()) {
        const std::size_t end = std::min(text.find('\n', start), text.size());
        lines.push_back("sim: " + text.substr(start, end - start));
        start = end + 1;
      }
    }
    for (const std::string& line : lines) {
      for (const char* secret : {kOandaToken, kBinanceKey, kBinanceSecret}) {
        EXPECT_EQ(line.find(secret), std::string::npos) << "credential in a log line: " << line;
      }
    }
    for (const ExecutionReport& report : reports_) {
      for (const char* secret : {kOandaToken, kBinanceKey, kBinanceSecret}) {
        EXPECT_EQ(report.broker_reason.view().find(secret), std::string_view::npos);
      }
    }
  }

  void TearDown() override {
    stop_gateway();
    expect_no_secret_anywhere();
  }

  std::unique_ptr<SimProcess> sim_;
  LogCapture logs_;
  std::unique_ptr<Gateway> gateway_;
  Session session_;
  std::vector<ExecutionReport> reports_;  // every report polled, in order
  std::vector<bool> waited_;              // by index into reports_: answered a wait_status

  void record(const ExecutionReport& report) {
    reports_.push_back(report);
    waited_.push_back(false);
  }
};

}  // namespace ordergate::brokers::testing

namespace ordergate::brokers::testing {

/// How the stories every REST broker shares (rest_sim_test.cpp) trade on
/// OANDA: its account, instrument, quantities and the simulator's prices.
struct OandaSimVenue {
  using Settings = adapters::oanda::OandaSettings;
  static constexpr bool kIsOanda = true;
  static constexpr const char* kName = "oanda";  ///< --venues, /sim/price venue
  static constexpr const char* kVenueName = "OANDA";
  static constexpr const char* kPrefix = "o-";  ///< of client order ids
  static constexpr const char* kAccount = "fx";
  static constexpr const char* kSymbol = "EUR/USD";
  static constexpr const char* kVenueSymbol = "EUR_USD";
  static constexpr const char* kQuantity = "10000";
  static constexpr const char* kFillPrice = "1.0846";  ///< the simulator's ask
  static constexpr const char* kSmallQuantity = "1000";
  static constexpr const char* kRestQuantity = "5000";
  static constexpr const char* kRestPrice = "1.0843";
  static constexpr const char* kBidThrough = "1.08420";  ///< a quote that fills kRestPrice
  static constexpr const char* kAskThrough = "1.08428";
  static constexpr Side kRestingSide = Side::buy;       ///< with kFarPrice: an order that rests
  static constexpr const char* kFarPrice = "1.0840";
  static constexpr const char* kCancelReason = "CLIENT_REQUEST";
  static constexpr const char* kUnknownSearch = "fate is unknown";
  static std::vector<std::string> rate_limit_args() { return {"--oanda-rate-limit", "3"}; }
  static void allow_many_orders(Settings&) {}
  /// The simulator sends no Retry-After: the adapter pauses a full second.
  static constexpr std::chrono::milliseconds kMinPause{900};
  static void break_credentials(Settings& s) { s.token = security::Secret("canary-wrong-token-0000"); }
  static constexpr const char* kWrongCredential = "canary-wrong-token";
  static constexpr const char* kAlert = "ALERT: OANDA refused the credentials";
  static auto factory(Settings s) { return adapters::oanda::make_oanda_factory(std::move(s)); }
};

/// The same for Binance.
struct BinanceSimVenue {
  using Settings = adapters::binance::BinanceSettings;
  static constexpr bool kIsOanda = false;
  static constexpr const char* kName = "binance";
  static constexpr const char* kVenueName = "Binance";
  static constexpr const char* kPrefix = "b-";
  static constexpr const char* kAccount = "crypto";
  static constexpr const char* kSymbol = "BTC/USDT";
  static constexpr const char* kVenueSymbol = "BTCUSDT";
  static constexpr const char* kQuantity = "0.01";
  static constexpr const char* kFillPrice = "64000.01";
  static constexpr const char* kSmallQuantity = "0.001";
  static constexpr const char* kRestQuantity = "0.01";
  static constexpr const char* kRestPrice = "63900.00";
  static constexpr const char* kBidThrough = "63880.00";
  static constexpr const char* kAskThrough = "63890.00";
  static constexpr Side kRestingSide = Side::sell;
  static constexpr const char* kFarPrice = "64100.00";
  static constexpr const char* kCancelReason = "CANCELED";
  static constexpr const char* kUnknownSearch = "looking it up by client order id";
  /// The simulator allows 3 orders per 2 s; the adapter is (mis)configured
  /// for Binance's 100 per 10 s, so the broker's 429 decides.
  static std::vector<std::string> rate_limit_args() {
    return {"--binance-order-limit", "3", "--binance-order-window-ms", "2000"};
  }
  static void allow_many_orders(Settings& s) { s.order_limit_10s = 100; }
  static constexpr std::chrono::milliseconds kMinPause{500};  ///< Retry-After
  static void break_credentials(Settings& s) { s.secret_key = security::Secret("canary-wrong-secret-11"); }
  static constexpr const char* kWrongCredential = "canary-wrong-secret";
  static constexpr const char* kAlert = "ALERT: Binance refused";
  static auto factory(Settings s) { return adapters::binance::make_binance_factory(std::move(s)); }
};

/// The simulator and the gateway with one REST venue (`Venue` above).
template <class Venue>
class RestSimTest : public BrokerSimTest {
 protected:
  using Settings = typename Venue::Settings;

  void start(std::vector<std::string> sim_args = {}, const std::function<void(Settings&)>& adjust = {},
             bool expect_ready = true) {
    sim_args.insert(sim_args.begin(), {"--venues", Venue::kName});
    start_sim(std::move(sim_args));
    Settings settings = venue_settings();
    if (adjust) adjust(settings);
    if constexpr (Venue::kIsOanda) {
      start_gateway(gateway_config(Venue::factory(std::move(settings)), nullptr), expect_ready);
    } else {
      start_gateway(gateway_config(nullptr, Venue::factory(std::move(settings))), expect_ready);
    }
  }
  Settings venue_settings() {
    if constexpr (Venue::kIsOanda) {
      return oanda_settings();
    } else {
      return binance_settings();
    }
  }

  static std::string id(std::string_view name) { return Venue::kPrefix + std::string(name); }
  static OrderRequest market_order(std::string_view client_order_id, const char* quantity = Venue::kSmallQuantity,
                                   Side side = Side::buy) {
    return market(Venue::kAccount, Venue::kSymbol, side, quantity, client_order_id);
  }
  static OrderRequest limit_order(std::string_view client_order_id, Side side, const char* price) {
    return limit(Venue::kAccount, Venue::kSymbol, side, Venue::kRestQuantity, price, client_order_id);
  }
};

}  // namespace ordergate::brokers::testing
