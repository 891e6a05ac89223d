#pragma once

// Shared fixtures for the in-process gateway tests.

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ordergate/adapters/paper/paper_broker.hpp"
#include "ordergate/core/clock.hpp"
#include "ordergate/gateway/gateway.hpp"

namespace ordergate::testing {

inline InstrumentSpec test_instrument(const char* name, const char* tick, const char* max_notional) {
  InstrumentSpec spec;
  spec.name = name;
  spec.tick_size = decimal_literal(tick);
  spec.lot_step = decimal_literal("1");
  spec.min_quantity = decimal_literal("1");
  spec.max_quantity = decimal_literal("10000000");
  spec.max_order_quantity = decimal_literal("1000000");
  spec.max_notional = decimal_literal(max_notional);
  spec.max_position = decimal_literal("3000000");
  spec.price_band_bps = 100;
  spec.max_open_orders = 10;
  spec.max_quote_age_ns = 5 * kNanosPerSecond;
  return spec;
}

/// Two paper accounts, EUR/USD and USD/JPY, and three principals:
///  - alice: trade + cancel on acc-*, every symbol, budget 5/1s
///  - bob:   trade only, acc-b only, EUR/USD only, limit orders only
///  - ops:   read + admin, no trading
inline GatewayConfig test_config() {
  GatewayConfig config;
  config.instruments = {test_instrument("EUR/USD", "0.00001", "2000000"),
                        test_instrument("USD/JPY", "0.001", "100000000")};
  config.accounts = {{"acc-a", "paper"}, {"acc-b", "paper"}};

  PrincipalConfig alice;
  alice.policy.name = "alice";
  alice.policy.permissions = {"trade", "cancel"};
  alice.policy.accounts = {"acc-*"};
  alice.policy.symbols = {"*"};
  alice.rate_limits = {"5/1s"};
  alice.cancel_rate_limits = {"3/1s"};
  alice.session_ttl_ns = 60 * kNanosPerSecond;

  PrincipalConfig bob;
  bob.policy.name = "bob";
  bob.policy.permissions = {"trade"};
  bob.policy.accounts = {"acc-b"};
  bob.policy.symbols = {"EUR/USD"};
  bob.policy.order_types = {"limit"};
  bob.policy.max_quantity = decimal_literal("50000");
  bob.rate_limits = {"100/1s"};

  PrincipalConfig ops;
  ops.policy.name = "ops";
  ops.policy.permissions = {"read", "admin"};
  ops.policy.accounts = {"*"};
  ops.policy.symbols = {"*"};
  ops.rate_limits = {"10/1s"};

  config.principals = {alice, bob, ops};
  config.paper.quotes = {{"EUR/USD", decimal_literal("1.08460"), decimal_literal("1.08463")},
                         {"USD/JPY", decimal_literal("151.230"), decimal_literal("151.236")}};
  config.paper.random_walk = false;
  config.paper.tick_interval_ns = kNanosPerSecond;
  config.order_capacity = 4096;
  config.max_sessions = 16;
  config.broker_queue_capacity = 1024;
  return config;
}

/// A fresh directory for a state file (and the files beside it), removed
/// with everything in it at the end of the test.
class StateDirectory {
 public:
  StateDirectory() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("ordergate-state-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~StateDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  StateDirectory(const StateDirectory&) = delete;
  StateDirectory& operator=(const StateDirectory&) = delete;
  [[nodiscard]] std::filesystem::path file() const { return path_ / "ordergate.state"; }

 private:
  std::filesystem::path path_;
};

/// `config` with its paper broker registered explicitly, taking the quotes
/// the test sets on `feed`.
inline GatewayConfig with_quote_feed(GatewayConfig config, const std::shared_ptr<adapters::PaperQuoteFeed>& feed) {
  config.brokers.emplace_back("paper", adapters::make_paper_factory(config.paper, feed));
  return config;
}

inline OrderRequest market_order(std::string_view client_order_id, Side side = Side::buy,
                                 const char* quantity = "10000", std::string_view account = "acc-a",
                                 std::string_view symbol = "EURUSD") {
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

inline OrderRequest limit_order(std::string_view client_order_id, Side side, const char* price,
                                const char* quantity = "10000", std::string_view account = "acc-a",
                                std::string_view symbol = "EURUSD") {
  OrderRequest request = market_order(client_order_id, side, quantity, account, symbol);
  request.type = OrderType::limit;
  request.time_in_force = TimeInForce::gtc;
  request.price = decimal_literal(price);
  return request;
}

/// Polls `session` until `count` reports arrived (or 10 s of real time pass,
/// which only happens when the gateway is broken: the test then fails on the
/// count). The broker thread is real, so reports arrive asynchronously.
inline std::vector<ExecutionReport> wait_for_reports(Session& session, std::size_t count) {
  std::vector<ExecutionReport> reports;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  ExecutionReport report;
  while (reports.size() < count && std::chrono::steady_clock::now() < deadline) {
    if (session.poll(report)) {
      reports.push_back(report);
    } else {
      std::this_thread::yield();
    }
  }
  return reports;
}

/// Waits until the gateway's view of an account's exposure satisfies `done`.
template <typename Predicate>
bool wait_until(Predicate done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace ordergate::testing
