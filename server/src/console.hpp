#pragma once

// Internal: the operators' console on the HTTP listener (docs/operations.md,
// "The console"). A page with its script and style sheet (embedded in the
// binary), a login by a principal's token that opens a gateway session and
// sets a session cookie, a JSON snapshot (/api/state), a stream of them as
// server-sent events (/api/events), and the admin actions (trading state,
// cancel all, revoke / disable / enable a principal) through the same
// gateway calls as the socket's admin ops.
//
// Threading: `handle` and `sample` run on the listener's thread only (the
// console's sessions live there). `set_auth` and `record_execution` may be
// called from any thread (the I/O thread: reload, drop copy).

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http_listener.hpp"
#include "log.hpp"
#include "metrics_page.hpp"
#include "ordergate/cluster/member.hpp"
#include "ordergate/core/ports.hpp"
#include "ordergate/gateway/gateway.hpp"
#include "ordergate/guards/rate_limit.hpp"
#include "ordergate/server/config_file.hpp"

namespace ordergate::server_detail {

/// What the console needs of the process.
struct ConsoleContext {
  Gateway& gateway;
  const Clock& clock;
  Log& log;
  AuditSink* audit = nullptr;  ///< null: auditing off
  /// Failed logins per client address, as `hello_rate_limit` for hellos.
  guards::GcraParams login_budget;
  std::int64_t login_window_ns = 0;
  /// Journal state and audit counts, read on the listener's thread.
  std::function<ProcessMetrics()> process;
  /// A trading-state change made here, for the drop copy (posted to the I/O thread).
  std::function<void(std::string scope, guards::TradingState state, std::string by)> trading_state_changed;
  bool https = false;  ///< cookies get `Secure`
  std::size_t max_sessions = 64;
  /// [cluster]: trading states and principal disables go through the
  /// member, so they are shared (docs/cluster.md); null: the gateway's own.
  cluster::Member* cluster = nullptr;
};

class Console {
 public:
  Console(ConsoleContext context, std::vector<PrincipalAuth> auth);
  ~Console();
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  /// True for the paths the console answers.
  [[nodiscard]] static bool serves(std::string_view path) noexcept;
  /// Answers a request for one of `serves`'s paths.
  [[nodiscard]] HttpResponse handle(const HttpRequest& request);
  /// Adds a point to the latency history and closes the sessions that
  /// ended (every 2 s on the listener's thread).
  void sample();

  /// The tokens, after a reload. Thread-safe.
  void set_auth(std::vector<PrincipalAuth> auth);
  /// An execution report for the "recent executions" list. Thread-safe.
  void record_execution(const ExecutionReport& report, std::string_view principal);

  /// Snapshot JSON as /api/state serves it to `principal` (tests).
  [[nodiscard]] std::string state_json(std::string_view principal, std::string_view csrf, std::int64_t expires_in_s);

  struct ConsoleSession;
  struct LatencyPoint {
    std::int64_t time_ms = 0;  ///< wall clock
    double guard_p50_ns = -1;  ///< -1: no submit in the interval
    double guard_p99_ns = -1;
    double broker_p50_ns = -1;  ///< order requests to every broker; -1: none answered in the interval
    double broker_p99_ns = -1;
  };

 private:
  HttpResponse login(const HttpRequest& request);
  HttpResponse logout(const HttpRequest& request);
  HttpResponse state(const HttpRequest& request);
  HttpResponse events(const HttpRequest& request);
  HttpResponse action(const HttpRequest& request);
  HttpResponse set_trading_state(ConsoleSession& session, std::string_view body);
  HttpResponse cancel_all(ConsoleSession& session, std::string_view body);
  HttpResponse principal_action(ConsoleSession& session, std::string_view name, std::string_view verb);

  // The session named by the request's cookie if it is still valid; the
  // refusal to send otherwise (401).
  ConsoleSession* find_session(const HttpRequest& request, HttpResponse& refusal);
  void end_session(const std::string& key);
  void prune_sessions();

  ConsoleContext context_;
  mutable std::mutex auth_mutex_;
  std::vector<PrincipalAuth> auth_;
  std::unordered_map<std::string, std::unique_ptr<ConsoleSession>> sessions_;  // by SHA-256 (hex) of the id
  struct ThrottleCell {
    guards::GcraCell cell;
    std::uint64_t throttled_unreported = 0;
    std::int64_t last_summary_ns = 0;
    bool summarized = false;
  };
  std::unordered_map<std::string, ThrottleCell> throttle_;  // by client address
  std::mutex executions_mutex_;
  struct RecentExecution {
    ExecutionReport report;
    std::string principal;
  };
  std::deque<RecentExecution> executions_;
  std::deque<LatencyPoint> latency_;
  std::array<std::uint64_t, kGuardLatencyBoundsNs.size() + 1> last_buckets_{};
  bool have_last_buckets_ = false;
  std::array<std::uint64_t, kBrokerLatencyBoundsNs.size() + 1> last_broker_buckets_{};
};

/// The percentile `quantile` (0..1) of a histogram of `kGuardLatencyBoundsNs`
/// buckets, linearly interpolated inside its bucket; -1 when it is empty.
[[nodiscard]] double histogram_quantile(const std::array<std::uint64_t, kGuardLatencyBoundsNs.size() + 1>& buckets,
                                        double quantile) noexcept;

}  // namespace ordergate::server_detail
