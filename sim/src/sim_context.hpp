#pragma once

/// \file
/// State shared by the server, the venues and the admin endpoints: counters,
/// the order-endpoint fault injector and the stderr logger. Single-threaded
/// (the simulator runs one io_context thread), so nothing here locks.

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>

#include "http_types.hpp"

namespace ordergate::sim {

struct Stats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t tls_handshakes_ok = 0;
  std::uint64_t tls_handshakes_failed = 0;
  std::uint64_t requests = 0;
  std::uint64_t order_requests = 0;  ///< reached an order endpoint's fault point
  std::uint64_t faults_injected = 0;
  std::uint64_t connections_dropped = 0;
  std::uint64_t idle_closes = 0;
  std::uint64_t open_streams = 0;
};

/// What happens to one order request (place or cancel).
enum class Fault { none, fail_before, fail_after };

/// Decides, per order request, whether to answer 5xx instead. Sources, in
/// order: a one-shot count armed by the admin endpoint, the first N order
/// requests (`--error-first`), then probability `--error-rate` drawn from a
/// seeded generator (so a run is reproducible).
class FaultInjector {
 public:
  FaultInjector(std::uint64_t seed, double error_rate, std::uint64_t error_first, bool after_place)
      : random_(seed ^ 0x9E3779B97F4A7C15ULL), error_rate_(error_rate), error_first_(error_first),
        after_place_(after_place) {}

  [[nodiscard]] Fault decide(Stats& stats) {
    ++stats.order_requests;
    Fault fault = Fault::none;
    if (armed_count_ > 0) {
      --armed_count_;
      fault = armed_after_place_ ? Fault::fail_after : Fault::fail_before;
    } else if (seen_ < error_first_ ||
               (error_rate_ > 0.0 && std::uniform_real_distribution<double>(0.0, 1.0)(random_) < error_rate_)) {
      // `||` skips the random draw during the first `error_first_` requests, so the seeded sequence starts after them.
      fault = after_place_ ? Fault::fail_after : Fault::fail_before;
    }
    ++seen_;
    if (fault != Fault::none) ++stats.faults_injected;
    return fault;
  }

  /// Fails the next `count` order requests (admin endpoint).
  void arm(std::uint64_t count, bool after_place) {
    armed_count_ = count;
    armed_after_place_ = after_place;
  }

  /// Fails the next `count` reads of what an account holds (OANDA
  /// pendingOrders and openPositions, Binance openOrders and account).
  void arm_holdings(std::uint64_t count) { armed_holdings_ = count; }
  /// Amends of either venue: the next `cancels` fail their cancel (Binance
  /// -2011, OANDA ORDER_DOESNT_EXIST: as if the order were no longer open)
  /// and the next `news` fail their new order (Binance -2010; OANDA rejects
  /// the replacement after the cancel); Binance with both armed: both fail
  /// (admin endpoint).
  void arm_replace(std::uint64_t cancels, std::uint64_t news) {
    armed_replace_cancel_ = cancels;
    armed_replace_new_ = news;
  }
  /// True when this amend's cancel (or new order) must fail; counts it.
  [[nodiscard]] bool fail_replace_cancel(Stats& stats) { return take(armed_replace_cancel_, stats); }
  [[nodiscard]] bool fail_replace_new(Stats& stats) { return take(armed_replace_new_, stats); }
  /// True when this holdings read must answer 503 (admin-armed only).
  [[nodiscard]] bool fail_holdings_read(Stats& stats) {
    if (armed_holdings_ == 0) return false;
    --armed_holdings_;
    ++stats.faults_injected;
    return true;
  }

 private:
  std::mt19937_64 random_;
  double error_rate_;
  std::uint64_t error_first_;
  bool after_place_;
  std::uint64_t seen_ = 0;
  std::uint64_t armed_count_ = 0;
  bool armed_after_place_ = false;
  std::uint64_t armed_holdings_ = 0;
  std::uint64_t armed_replace_cancel_ = 0;
  std::uint64_t armed_replace_new_ = 0;

  static bool take(std::uint64_t& armed, Stats& stats) {
    if (armed == 0) return false;
    --armed;
    ++stats.faults_injected;
    return true;
  }
};

/// Lines to stderr, prefixed with the program name and a UTC time. Callers
/// never pass credentials, headers or bodies: only methods, paths (without
/// query strings), statuses and reason codes.
class Logger {
 public:
  explicit Logger(bool quiet) : quiet_(quiet) {}
  void info(std::string_view line) const { write(line); }
  /// Per-request lines; suppressed by --quiet.
  void request(std::string_view line) const {
    if (!quiet_) write(line);
  }

 private:
  static void write(std::string_view line) {
    const std::string stamp = rfc3339(wall_ns());
    std::fprintf(stderr, "%.23sZ ordergate-sim: %.*s\n", stamp.c_str(), static_cast<int>(line.size()), line.data());
    std::fflush(stderr);
  }
  bool quiet_;
};

}  // namespace ordergate::sim
