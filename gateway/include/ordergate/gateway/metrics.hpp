#pragma once

/// \file
/// What the gateway counts for operators: every decision of `submit` and
/// `cancel` by principal, account and reason, execution reports by account
/// and status, the guard latency of `submit`, open sessions, trading states
/// and readiness. `Gateway::metrics()` takes a snapshot; the process renders
/// it as Prometheus text (docs/operations.md).
///
/// Recording cost on the order path (with `GatewayConfig::metrics`): two
/// relaxed stores to counters in the session's own cache lines (single
/// writer: the session's thread), and for the submits whose latency is
/// sampled one more monotonic clock read and two stores. No lock, no
/// allocation, no system call.

#include <array>
#include <cstdint>
#include <vector>

#include "ordergate/core/execution.hpp"
#include "ordergate/core/order.hpp"
#include "ordergate/core/reason.hpp"
#include "ordergate/guards/rate_limit.hpp"
#include "ordergate/guards/trading_state.hpp"

namespace ordergate {

/// Upper bounds of the guard latency histogram's buckets, in nanoseconds
/// (50 ns to 1 ms); a last bucket (+Inf) holds the rest.
inline constexpr std::array<std::int64_t, 14> kGuardLatencyBoundsNs = {
    50, 100, 250, 500, 1'000, 2'500, 5'000, 10'000, 25'000, 50'000, 100'000, 250'000, 500'000, 1'000'000};

/// A snapshot of the gateway's counters. Counters only grow while the
/// gateway lives (a closed session's counts stay with its principal).
struct GatewayMetrics {
  /// Decisions of `submit` (orders) or `cancel` (cancels) with one label set.
  struct Decision {
    PrincipalId principal = 0;
    /// False when the request was refused before its account was known
    /// (authentication, validation, an unknown order for a cancel).
    bool has_account = false;
    AccountId account = 0;
    Reason reason = Reason::OK;  ///< OK: accepted
    std::uint64_t count = 0;
  };
  /// Label sets with a count above zero, by principal, account, reason.
  std::vector<Decision> orders;
  std::vector<Decision> cancels;
  std::vector<Decision> replaces;  ///< decisions of `replace` (amends)

  /// Execution reports the brokers sent (position fills outside any order
  /// included), by account and status; those with a count above zero.
  struct Executions {
    AccountId account = 0;
    ExecStatus status = ExecStatus::new_order;
    std::uint64_t count = 0;
  };
  std::vector<Executions> executions;

  /// `submit` time on the caller's thread, from the engine's first clock
  /// read to its verdict. Per bucket, not cumulative: index i counts the
  /// submits that took at most kGuardLatencyBoundsNs[i] and more than the
  /// bound before; the last index counts those above 1 ms.
  /// Sampled: each session times its first submit and then one in
  /// `latency_sample` (GatewayConfig::metrics_latency_sample).
  std::array<std::uint64_t, kGuardLatencyBoundsNs.size() + 1> guard_latency_buckets{};
  std::uint64_t guard_latency_sum_ns = 0;
  std::uint32_t latency_sample = 1;

  /// Open sessions, by principal id (index).
  std::vector<std::uint32_t> sessions_by_principal;

  /// Trading states (kill switch) as set: global, by account id, by
  /// principal id.
  guards::TradingState global_state = guards::TradingState::active;
  std::vector<guards::TradingState> account_states;
  std::vector<guards::TradingState> principal_states;
  /// What each principal's rate windows would admit right now, one request
  /// after another (orders: `rate_limits`, cancels: `cancel_rate_limits`).
  struct RateRemaining {
    PrincipalId principal = 0;
    bool cancels = false;
    bool replaces = false;  ///< `modify_rate_limits` (then `cancels` is false)
    guards::RateWindow window;
    std::int64_t remaining = 0;
  };
  std::vector<RateRemaining> rate_remaining;
  /// Principal ids a reload removed (their counts stay; states are not shown).
  std::vector<bool> principal_removed;

  /// Per account id: cancels the gateway sent on its own for many orders at
  /// once (cancel-all, a halt with cancel_orders, cancel on disconnect);
  /// not in `cancels`, which counts the sessions' cancel requests.
  std::vector<std::uint64_t> bulk_cancels;
  /// Per account id: reconciled with its broker, so it may trade.
  std::vector<bool> account_ready;
  /// Per account id: the index of its broker in `broker_names`.
  std::vector<std::uint16_t> account_broker;
  std::vector<std::string_view> broker_names;
  /// Per broker (as `broker_names`): its adapter reports a live connection
  /// (`BrokerPort::connected`, as its I/O thread last saw it).
  std::vector<bool> broker_connected;

  /// False when recording is off (`GatewayConfig::metrics`): the decision
  /// counts and the histogram stay empty.
  bool recording = true;
};

}  // namespace ordergate
