#pragma once

/// \file
/// The configuration object a gateway is built from. Every field has a safe
/// default or is required; `Gateway`'s constructor validates the whole object
/// and throws `ConfigError` naming what is wrong, so a gateway never runs on
/// a weaker configuration than the one written down.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ordergate/adapters/paper/paper_broker.hpp"
#include "ordergate/core/instrument.hpp"
#include "ordergate/core/ports.hpp"
#include "ordergate/guards/permissions.hpp"

namespace ordergate {

/// Thrown by `Gateway` construction on an invalid or unsafe configuration.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct PrincipalConfig {
  guards::PrincipalSpec policy;
  /// Order budget of this principal, e.g. {"20/1s", "600/1m"}. Required:
  /// a principal without a rate limit is a configuration error.
  std::vector<std::string> rate_limits;
  /// Cancel budget, separate from the order budget so cancels are never
  /// blocked by orders.
  std::vector<std::string> cancel_rate_limits = {"100/1s"};
  /// Amend (replace) budget, separate from both: a strategy that moves its
  /// quotes often spends this, not its order budget.
  std::vector<std::string> modify_rate_limits = {"50/1s"};
  /// Sessions of this principal expire after this long (default 1 hour).
  std::int64_t session_ttl_ns = 3'600'000'000'000;
  /// Orders accepted (and cancels asked for by its sessions) per trading
  /// day (`GatewayConfig::day_start`); past it DAILY_ORDER_LIMIT /
  /// DAILY_CANCEL_LIMIT until the day rolls. 0: no daily limit.
  std::uint32_t max_orders_per_day = 0;
  std::uint32_t max_cancels_per_day = 0;
};

/// How a broker I/O thread waits when it has nothing to do.
enum class IdleStrategy : std::uint8_t {
  busy_spin,  ///< never sleeps: lowest latency, burns a core
  backoff,    ///< spins briefly, then yields, then sleeps up to 1 ms
};

/// Builds a broker adapter for the accounts whose `broker` equals its name,
/// once, when the gateway is constructed. A std::invalid_argument it throws
/// (bad settings) reaches the caller as ConfigError naming the broker.
using BrokerFactory = std::function<std::unique_ptr<BrokerPort>(const InstrumentTable&)>;

struct GatewayConfig {
  /// Where trading states and disabled principals are kept across restarts
  /// (see control_state.hpp); empty: they are not (every scope starts
  /// ACTIVE, every principal enabled). The gateway restores it at
  /// construction and rewrites it before an admin change returns.
  std::filesystem::path state_path;
  std::vector<InstrumentSpec> instruments;
  std::vector<AccountSpec> accounts;
  std::vector<PrincipalConfig> principals;
  /// Windows applied to each account and to each symbol (across principals).
  std::vector<std::string> account_rate_limits;
  std::vector<std::string> symbol_rate_limits;
  /// Settings of the paper broker registered as "paper" by default (see
  /// `broker_factories`); not read when `brokers` has its own "paper" entry.
  adapters::PaperConfig paper;
  /// Broker adapters by name, e.g. {"oanda", make_oanda_factory(...)}.
  /// Accounts name one of these; the first entry of a name wins. A "paper"
  /// entry here replaces the default one, e.g. to keep a quote feed:
  /// {"paper", adapters::make_paper_factory(config.paper, feed)}.
  std::vector<std::pair<std::string, BrokerFactory>> brokers;

  /// Order records: orders working at once, plus finished ones whose record
  /// is not yet reused (a record is reused once the order's last report was
  /// queued for its session and audited, in batches of at most 64). Past it
  /// new orders are refused ORDER_CAPACITY_EXHAUSTED. At most 2^26.
  std::uint32_t order_capacity = 1u << 18;
  /// When the trading day of the daily limits starts: "HH:MM Zone" (an IANA
  /// zone; daylight saving time is followed). The day rolls within a second
  /// of it.
  std::string day_start = "17:00 America/New_York";
  /// How often each broker thread values its accounts' P&L for the loss
  /// limits (`AccountSpec::max_daily_loss`); 0: on every pass of its loop.
  std::int64_t loss_check_interval_ns = 100'000'000;
  /// Execution reports kept for `Gateway::poll_drop_copy` (0: no drop copy).
  std::uint32_t drop_copy_capacity = 0;
  /// How long a client order id stays refused after it was used (per
  /// principal), whether or not its order is finished; a working order's id
  /// stays refused as long as the order works. 1 s .. 30 days.
  std::int64_t duplicate_window_ns = 24LL * 3600 * 1'000'000'000;
  /// Entries of the duplicate-id index, which holds the ids of one window
  /// plus the working orders' in memory fixed at start (16 bytes each). When
  /// a window's ids do not fit, new orders are refused
  /// ORDER_CAPACITY_EXHAUSTED until old ids expire. 0: 4 x order_capacity,
  /// at least 1,048,576 (16 MiB).
  std::uint32_t duplicate_capacity = 0;
  /// Commands each broker's shared queue holds: cancel-alls, a halt's
  /// cancels, and a session's cancels once its own ring is full. Orders and
  /// amends never use it (see session_queue_budget).
  std::uint32_t broker_queue_capacity = 1u << 16;
  /// Sessions open at the same time.
  std::uint32_t max_sessions = 256;
  /// Commands (orders, amends, cancels) one session may have waiting in its
  /// own ring for one broker; past it its new orders and amends are refused
  /// SESSION_QUEUE_FULL (cancels still go: 64 more fit in the ring, then
  /// they use the shared queue). Each slot has its own ring per broker, so
  /// one session, or a stalled broker, never takes another's room. At most
  /// broker_queue_capacity and 1,048,576. 0: broker_queue_capacity /
  /// max_sessions (at least 1). Memory: a 64-byte line a cell, the smallest
  /// power of two above budget + 64, written at the slot's first opening
  /// (32 KiB per slot and broker at the default).
  std::uint32_t session_queue_budget = 0;
  IdleStrategy idle_strategy = IdleStrategy::backoff;
  /// True: each broker runs on an I/O thread of its own (`idle_strategy`
  /// says how it waits). False: the gateway starts no broker thread, and
  /// the application's thread drives the brokers with `Gateway::poll()`:
  /// an order reaches the broker, and its reports come back, only while
  /// `poll()` runs, with no hand-off between threads on the way. So does
  /// everything else a broker thread does: reconciliation, the daily loss
  /// checks, the trading day's roll, reconnection. Call `poll()` in the
  /// strategy's loop; `wait_ready` and `stop()` poll themselves.
  bool broker_threads = true;
  /// Count every decision by principal, account and reason, and time each
  /// `submit` (one more monotonic clock read), for `Gateway::metrics()`.
  /// Memory: max_sessions x (accounts + 1) x about 1.1 KB (orders, cancels
  /// and amends by reason).
  bool metrics = true;
  /// With `metrics`: each session times one `submit` in this many (the
  /// first, then every Nth) for the guard latency histogram; a power of two,
  /// 1 times every submit. The time costs a second clock read (about 20 ns
  /// on a VM); every decision is counted whatever this is.
  std::uint32_t metrics_latency_sample = 16;
  /// Called on a broker I/O thread each time it queued an execution report
  /// for a session, so an event loop can wake up and poll its sessions.
  /// Must be cheap and must not call back into the gateway.
  std::function<void()> on_execution_ready;
  /// Receives the gateway's own events, one call each, on the thread where
  /// they happen (reconciliation: a broker thread): a level ("info",
  /// "warning", "error"), an event name (e.g. "account_ready") and
  /// key=value fields (e.g. "account=paper held_orders=2"). Fields hold
  /// names and numbers, never client input or secrets. Empty: one line
  /// "ordergate: LEVEL: event=EVENT FIELDS" on stderr.
  std::function<void(std::string_view level, std::string_view event, std::string_view fields)> on_event;
  /// After a failed reconciliation (the broker could not say what it
  /// holds), how long the account waits before asking again.
  std::int64_t reconcile_retry_ns = 1'000'000'000;
  /// A broker whose adapter reports no connection (`BrokerPort::connected`)
  /// for longer than this has its accounts closed (ACCOUNT_NOT_READY) and
  /// reconciled again when it comes back. Per broker:
  /// `ReconcilePolicy::after_disconnect_ns`.
  std::int64_t reconcile_after_disconnect_ns = 10'000'000'000;
  /// Periodic position checks, per broker name: every `interval_ns` the
  /// gateway asks the broker what it holds and compares each position of
  /// its accounts with its own. A difference seen by two checks in a row is
  /// audited (`position_mismatch`) and logged, and with
  /// `reduce_on_mismatch` switches the account to REDUCING.
  struct ReconcilePolicy {
    std::string broker;
    std::int64_t interval_ns = 0;  ///< 0: no periodic check
    bool reduce_on_mismatch = false;
    std::int64_t after_disconnect_ns = 0;  ///< 0: `reconcile_after_disconnect_ns`
  };
  std::vector<ReconcilePolicy> reconcile;
};

/// The brokers a gateway built from `config` can use, in lookup order:
/// `config.brokers`, then the default registration
/// {"paper", adapters::make_paper_factory(config.paper)}.
[[nodiscard]] std::vector<std::pair<std::string, BrokerFactory>> broker_factories(const GatewayConfig& config);

}  // namespace ordergate
