#pragma once

/// \file
/// The in-process gateway: guards, queues and broker dispatch.
///
/// \code
///   ordergate::Gateway gateway(config);
///   gateway.start();
///   ordergate::Session session = gateway.open_session("strategy-1");
///   ordergate::Verdict verdict = session.submit(request);   // guards run here
///   ordergate::ExecutionReport report;
///   while (session.poll(report)) { ... }                    // fills, cancels
/// \endcode
///
/// Threading: `Gateway` is thread-safe. A `Session` belongs to one strategy
/// thread at a time (like a socket); open one session per thread. `submit`
/// and `cancel` run every guard on the calling thread and return at once;
/// they never allocate, lock, throw or make a system call. Accepted orders
/// cross a lock-free queue to the broker's I/O thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ordergate/core/clock.hpp"
#include "ordergate/core/execution.hpp"
#include "ordergate/core/instrument.hpp"
#include "ordergate/core/order.hpp"
#include "ordergate/core/ports.hpp"
#include "ordergate/core/reason.hpp"
#include "ordergate/gateway/config.hpp"
#include "ordergate/gateway/control_state.hpp"
#include "ordergate/gateway/metrics.hpp"
#include "ordergate/guards/permissions.hpp"
#include "ordergate/guards/rate_limit.hpp"
#include "ordergate/guards/risk.hpp"
#include "ordergate/guards/trading_state.hpp"

namespace ordergate {

namespace detail {
class Engine;
struct SessionHandle;
}  // namespace detail

/// The answer to `submit` or `cancel`: OK, or a stable reason code.
struct Verdict {
  Reason reason = Reason::OK;
  /// For RATE_LIMITED: how long to wait before the same request can pass.
  std::int64_t retry_after_ns = 0;
  /// The gateway's id of the accepted order (valid when accepted).
  OrderId order_id = 0;
  /// Sequence number the audit sink gave this decision's record (0 if none).
  std::uint64_t audit_sequence = 0;

  [[nodiscard]] bool accepted() const noexcept { return reason == Reason::OK; }
  explicit operator bool() const noexcept { return accepted(); }
};

/// A principal's connection to the gateway. Move-only; not thread-safe.
class Session {
 public:
  Session() noexcept;
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session();

  /// Runs the guard pipeline on the calling thread (validate, permissions,
  /// trading state, risk, rate limits; first failure rejects) and hands an
  /// accepted order to its broker. While the gateway's audit sink is not
  /// `healthy()`, every order is refused with AUDIT_UNAVAILABLE. A rejected order changes no limiter,
  /// position or open-order state. Cost: a few hundred ns; no allocation.
  [[nodiscard]] Verdict submit(const OrderRequest& request) noexcept;

  /// Asks the broker to cancel an open order of this principal. Cancels pass
  /// the kill switch and an unhealthy audit sink, and have their own rate
  /// budget. OK means the request was
  /// sent; the CANCELED execution report confirms it.
  [[nodiscard]] Verdict cancel(std::string_view client_order_id) noexcept;

  /// Amends an open order of this principal (cancel/replace): a new total
  /// quantity, price or stop price under a new client order id. Guards, in
  /// order: the order exists, is this principal's and has no cancel or
  /// amend on its way (ORDER_PENDING); permissions as for a new order; the
  /// kill switch (HALTED refuses every amend, REDUCING one that raises the
  /// quantity or could take the position past zero); validation of the
  /// amended order; its per-order risk and the exposure of the difference;
  /// the principal's `modify_rate_limits`; the new id not a duplicate. OK
  /// means the amend is on its way: the session gets PENDING_REPLACE, then
  /// REPLACED (the order is known by the new id from then on; `Verdict::
  /// order_id` is its new order id) or REPLACE_REJECTED (it works on
  /// unchanged). A refused amend changes nothing. No allocation.
  [[nodiscard]] Verdict replace(const ReplaceRequest& request) noexcept;

  /// A hint that an order with this client order id follows soon: asks for
  /// the memory its submit() will touch first, with write intent (its entry
  /// of the duplicate-id index, the order record it will take), so that the
  /// submit does not wait for it. Call it as early as the id is known, for
  /// instance right after the previous submit, while the strategy computes.
  /// Changes nothing submit() decides or counts, whatever the id (one
  /// submit() would refuse only costs the fetch). No lock, no system call,
  /// no allocation, no clock read.
  void prefetch(std::string_view client_order_id) const noexcept;

  /// Pops the next execution report for this session's orders; false when
  /// there is none. Never blocks.
  [[nodiscard]] bool poll(ExecutionReport& report) noexcept;

  /// Ends the session (further calls give UNAUTHENTICATED).
  void close() noexcept;

  [[nodiscard]] bool is_open() const noexcept;
  /// OK while the session may act; otherwise why not (UNAUTHENTICATED when
  /// closed or revoked, SESSION_EXPIRED, PERMISSION_DENIED when disabled).
  [[nodiscard]] Reason status() const noexcept;
  /// Never given to another session of this gateway (ids count up from 1;
  /// after 2^32 - 1 sessions `open_session` refuses to open more).
  [[nodiscard]] SessionId id() const noexcept;
  [[nodiscard]] PrincipalId principal() const noexcept;
  /// Monotonic time at which the session expires.
  [[nodiscard]] std::int64_t expires_at_ns() const noexcept;

 private:
  friend class detail::Engine;
  explicit Session(std::unique_ptr<detail::SessionHandle> handle) noexcept;
  std::unique_ptr<detail::SessionHandle> handle_;
};

/// An order still working at the broker, as the gateway tracks it.
struct OpenOrder {
  Order order;
  Decimal leaves_quantity;  ///< not yet filled
  bool replace_pending = false;  ///< an amend of it is on its way to the broker
};

/// Which open orders `Gateway::cancel_orders` cancels; unset fields match all.
struct CancelFilter {
  std::optional<PrincipalId> principal;
  std::optional<SessionId> session;
  std::optional<AccountId> account;
  std::optional<InstrumentId> instrument;
};

/// Scope of a trading-state change.
struct TradingScope {
  enum class Kind : std::uint8_t { global, account, principal };
  Kind kind = Kind::global;
  std::string_view name;  ///< account or principal name; empty for global

  static TradingScope global() noexcept { return {Kind::global, {}}; }
  static TradingScope account(std::string_view n) noexcept { return {Kind::account, n}; }
  static TradingScope principal(std::string_view n) noexcept { return {Kind::principal, n}; }
};

class Gateway {
 public:
  /// Validates `config` (throws ConfigError naming the problem) and builds
  /// the guards and broker adapters. `clock` and `audit` must outlive the
  /// gateway; without `audit` records are discarded. While `audit` reports
  /// itself unhealthy, new orders are refused with AUDIT_UNAVAILABLE.
  explicit Gateway(GatewayConfig config, const Clock& clock = default_clock(),
                   AuditSink* audit = nullptr);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  /// Starts one I/O thread per broker and starts the adapters (they publish
  /// their first quotes), then reconciles each account with its broker:
  /// until the broker said what it holds (orders, positions), the
  /// account's orders are refused ACCOUNT_NOT_READY (cancels pass). An
  /// adapter that answers at once (the paper broker) or cannot reconcile
  /// leaves its accounts ready when `start` returns; a REST venue answers
  /// after its requests, see `wait_ready`. Throws if an adapter cannot
  /// start.
  void start();
  /// True when every account is reconciled and may trade.
  [[nodiscard]] bool ready() const noexcept;
  /// Waits (sleeping in 1 ms steps; polling the brokers instead when
  /// `broker_threads` is false) until `ready()` or `timeout` passed;
  /// returns `ready()`. For callers that want to trade right after
  /// `start`. Not for a hot path.
  bool wait_ready(std::chrono::nanoseconds timeout) const;
  /// With `GatewayConfig::broker_threads` false: one round of each broker's
  /// work on the calling thread (the commands sessions queued, the
  /// adapter's I/O, execution reports to the sessions, the gateway's
  /// timers), what a broker thread does in a loop. True when a broker did
  /// work. Meant for one thread (it may be the thread that submits); a
  /// call while another thread's runs returns false at once, and `stop`
  /// waits for the running one. Does nothing and returns false with broker
  /// threads, or when not started.
  bool poll() noexcept;
  /// Stops accepting orders, lets each broker finish the commands already
  /// queued (on the calling thread when `broker_threads` is false), stops
  /// the adapters and joins the threads. Idempotent.
  void stop() noexcept;

  /// Applies a new configuration while running, without dropping sessions:
  /// principals (permissions, allow-lists, limits, session lifetime), rate
  /// windows and instrument risk limits. Instruments, accounts and
  /// capacities cannot change (ConfigError: restart instead). A bad
  /// configuration throws ConfigError and leaves the current one in place.
  /// Rate windows that did not change keep their budgets; removed principals
  /// lose their sessions. Safe while other threads submit.
  void reload(const GatewayConfig& config);

  /// Opens a session for a configured principal. Throws std::invalid_argument
  /// for an unknown or disabled principal, when all session slots are used,
  /// or when session ids are exhausted (2^32 - 1 sessions: restart).
  [[nodiscard]] Session open_session(std::string_view principal);

  /// Kill switch. With `cancel_working`, also cancels every open order in
  /// scope: when it returns, a cancel is on its way for every order accepted
  /// before, including one whose `submit` was running at the same time (such
  /// a submit may instead be refused with TRADING_HALTED or REDUCE_ONLY).
  /// Throws std::invalid_argument for an unknown account or principal.
  /// `by`: the principal whose admin op this is, recorded in the audit
  /// trail (`"by"`); empty (or not a principal) records none.
  void set_trading_state(TradingScope scope, guards::TradingState state, bool cancel_working = false,
                         std::string_view by = {});
  /// The state in effect at `scope`; for global, the stricter of the
  /// operator's and the floor (`set_trading_floor`).
  [[nodiscard]] guards::TradingState trading_state(TradingScope scope) const;

  /// Keeps every account closed while `held` (its orders are refused
  /// ACCOUNT_NOT_READY, cancels pass), whatever reconciliation says; when
  /// released, each reconciled account opens and logs `account_ready`. For a
  /// cluster member until it has read the shared state: call before `start`
  /// to hold from the first order. Thread-safe, lock-free; costs `submit`
  /// nothing (the same readiness byte is read either way).
  void hold_accounts(bool held) noexcept;
  /// A global trading state that is not an operator's decision (a cluster
  /// member cut off from the shared state): the global state in effect is
  /// the stricter of the operator's and this floor. Never saved to the state
  /// file, never in `control_state()`; audited (detail
  /// `floor:<STATE>:<why>`) and logged (`trading_floor`) when it changes.
  /// ACTIVE lifts it. `why` is a fixed word, e.g. "redis_unreachable".
  void set_trading_floor(guards::TradingState floor, std::string_view why);
  /// Shares the accounts' rate windows (`account_rate_limits`) with other
  /// processes: a cluster member's (docs/cluster.md). Each order then also
  /// takes one token of each of its account's windows from this process's
  /// lease, which the member keeps topped up from the budget the cluster
  /// shares (`grant_budget`); an empty lease refuses the order RATE_LIMITED,
  /// retry after one emission interval of the window. The process's own
  /// windows still apply. Call before `start`. Costs `submit` one
  /// compare-and-swap per window, no lock and no syscall.
  void share_account_budgets();
  /// Shares each principal's order windows (`rate_limits`) with other
  /// processes as `share_account_budgets` shares the accounts': for a
  /// principal that may connect to several members. Each order then also
  /// takes one token of each of its principal's windows from this process's
  /// lease (`grant_principal_budget`); an empty lease refuses it
  /// RATE_LIMITED. Call before `start`. Costs `submit` one compare-and-swap
  /// per window.
  void share_principal_budgets();
  /// One shared window's lease, as `budget_leases` reads it: an account's
  /// or, with `principal`, a principal's.
  struct BudgetLease {
    AccountId account = 0;
    std::string account_name;
    std::size_t window = 0;  ///< index into `account_rate_limits`, or the principal's `rate_limits`
    guards::RateWindow rate;
    std::int64_t tokens = 0;  ///< left to take now
    bool principal = false;
    PrincipalId principal_id = 0;
    std::string principal_name;
  };
  /// Every shared window's lease, accounts' then principals' (empty unless
  /// shared). Allocates.
  [[nodiscard]] std::vector<BudgetLease> budget_leases() const;
  /// Adds `tokens` to a lease (the budget a member was granted).
  /// Thread-safe, lock-free; an unknown account or window is ignored.
  void grant_budget(AccountId account, std::size_t window, std::int64_t tokens) noexcept;
  /// Empties a lease and returns what was left in it (to give back).
  std::int64_t take_back_budget(AccountId account, std::size_t window) noexcept;
  /// `grant_budget` and `take_back_budget` for a principal's window.
  void grant_principal_budget(PrincipalId principal, std::size_t window, std::int64_t tokens) noexcept;
  std::int64_t take_back_principal_budget(PrincipalId principal, std::size_t window) noexcept;

  /// Shares the accounts' exposure limits with other processes: a cluster
  /// member's (docs/cluster.md, "Shared exposure"). Each instrument's
  /// max_position and max_open_orders (per account) and each account's
  /// max_gross_notional and max_net_notional are then checked against this
  /// process's lease of them, the part of the limit the member holds for
  /// it (`grant_exposure`, `shrink_exposure`), or the limit itself when that
  /// is smaller. The lease starts at zero: until granted, an order that adds
  /// exposure is refused by the limit it would need (MAX_POSITION_EXCEEDED,
  /// MAX_OPEN_ORDERS, MAX_GROSS_NOTIONAL_EXCEEDED, MAX_NET_NOTIONAL_EXCEEDED).
  /// Call before `start`. Costs `submit` a few atomic loads and the account
  /// version's compare-and-swap; no lock, no syscall.
  void share_account_exposure();
  /// Which limit a lease is of.
  enum class ExposureLimit : std::uint8_t { position, open_orders, gross_notional, net_notional };
  /// One lease, as `exposure_leases` reads it. Amounts are Decimals in the
  /// limit's unit (base units, orders, the account's currency).
  struct ExposureLease {
    AccountId account = 0;
    std::string account_name;
    ExposureLimit limit = ExposureLimit::position;
    InstrumentId instrument = 0;  ///< position and open_orders only
    std::string symbol;           ///< position and open_orders only
    Decimal total;                ///< the limit the cluster shares
    Decimal lease;                ///< this process's part of it
    Decimal used;                 ///< what this process's orders and positions use of it
    bool valued = true;           ///< false: `used` is not known now (no usable quote)
    Decimal per_order;            ///< the most one order can add (max_order_quantity; 1 order; 0)
  };
  /// Every lease of a limit that is set (empty unless shared). Allocates.
  [[nodiscard]] std::vector<ExposureLease> exposure_leases() const;
  /// Adds `amount` to a lease (what the member was granted). Thread-safe with
  /// `submit`; one thread grants and shrinks. Unknown ids are ignored.
  void grant_exposure(AccountId account, ExposureLimit limit, InstrumentId instrument, Decimal amount) noexcept;
  /// Lowers a lease to `lease` when what this process uses fits in it, and
  /// is then exact: an order checked against the old lease is checked again.
  /// False (the lease unchanged) when it does not fit or the ids are unknown.
  bool shrink_exposure(AccountId account, ExposureLimit limit, InstrumentId instrument, Decimal lease) noexcept;

  /// The operator's decisions, as the state file holds them (without the
  /// floor). Takes the admin lock and allocates.
  [[nodiscard]] ControlState control_state() const;

  /// Ends every session of `principal` (they answer UNAUTHENTICATED). `by`
  /// as for set_trading_state.
  void revoke_sessions(std::string_view principal, std::string_view by = {});
  /// Refuses new sessions and orders of `principal` until enabled again.
  /// `by` as for set_trading_state.
  void set_principal_enabled(std::string_view principal, bool enabled, std::string_view by = {});

  /// The current trading day of the daily limits (`GatewayConfig::day_start`):
  /// days since 1970-01-01 of the day the trading day started on.
  [[nodiscard]] std::int64_t trading_day() const noexcept;

  /// An account's limits and figures across instruments, in its currency.
  struct AccountRisk {
    std::string currency;  ///< empty: the account has no currency, so no account limits
    /// Worst-case notional now (see guards/account_risk.hpp), rounded up;
    /// `valued` is false when a quote it needs is not usable.
    bool valued = false;
    Decimal gross_notional;
    Decimal net_notional;
    /// The trading day's realized plus unrealized P&L at mid, as the
    /// account's broker thread last valued it (every 100 ms).
    bool pnl_known = false;
    Decimal daily_pnl;
    /// The state the loss limits set and still own (ACTIVE: none); it ends
    /// with the trading day unless an operator changed the account since.
    guards::TradingState loss_switch = guards::TradingState::active;
    Decimal max_gross_notional;  ///< zero: not limited
    Decimal max_net_notional;
    Decimal max_daily_loss;
    Decimal halt_daily_loss;
  };
  /// Throws std::invalid_argument for an unknown account. Values every
  /// instrument of the account: not for a hot path.
  [[nodiscard]] AccountRisk account_risk(std::string_view account) const;

  /// Position, working quantities and open orders of an account in a symbol,
  /// as the gateway tracks them from execution reports.
  [[nodiscard]] guards::ExposureBook::Snapshot exposure(std::string_view account,
                                                        std::string_view symbol) const;

  [[nodiscard]] const InstrumentTable& instruments() const noexcept;
  [[nodiscard]] const AccountTable& accounts() const noexcept;

  /// Orders accepted and rejected so far (all sessions).
  struct Counters {
    std::uint64_t accepted = 0;
    std::uint64_t rejected = 0;
    std::uint64_t executions = 0;
    /// Order records that `open_orders` and `cancel_orders` looked at so far:
    /// what they cost. Each order is looked at by the walks of its principal
    /// while open, and after it finished only until its record is reclaimed;
    /// never by other principals' walks, and the order table is never
    /// scanned.
    std::uint64_t order_records_visited = 0;
    /// Order records made free again after their order finished (each is
    /// then reused by a later order).
    std::uint64_t order_records_reclaimed = 0;
  };
  [[nodiscard]] Counters counters() const noexcept;

  /// A broker as health checks see it, in configuration order.
  struct BrokerStatus {
    std::string_view name;
    /// The adapter's `BrokerPort::connected()` as its I/O thread last saw it
    /// (true before `start`).
    bool connected = true;
    /// Its accounts are reconciled and may trade.
    bool accounts_ready = false;
  };
  [[nodiscard]] std::vector<BrokerStatus> brokers() const;
  /// A broker with a network transport (its adapter's
  /// `BrokerPort::transport_stats`), in configuration order: connections and
  /// request latency by kind. Any thread; reads what the broker threads
  /// publish.
  struct BrokerTransport {
    std::string name;
    BrokerTransportStats stats;
  };
  [[nodiscard]] std::vector<BrokerTransport> broker_transports() const;

  /// Drop copy: every execution report of every order (adopted ones and
  /// those whose session ended included) and every position fill, each
  /// once, in the order its broker reported it, for a risk or back-office
  /// reader. Off unless `GatewayConfig::drop_copy_capacity` > 0; then up to
  /// that many wait for `poll_drop_copy`, and past it new ones are lost and
  /// counted (`drop_copy_lost`), never slowing a broker thread.
  struct DropCopyReport {
    ExecutionReport report;
    /// The order's principal; empty for a position fill without a parent
    /// and "*foreign*" for an order adopted without a known owner.
    std::string_view principal;
  };
  /// One waiting report, if any. One reader thread at a time.
  bool poll_drop_copy(DropCopyReport& out) noexcept;
  [[nodiscard]] std::uint64_t drop_copy_lost() const noexcept;

  /// A snapshot of the counters operators watch (see metrics.hpp): decisions
  /// by principal, account and reason, executions, guard latency, sessions,
  /// trading states, readiness. Thread-safe; for a scrape, not the hot path
  /// (it takes the metrics lock, which closing a session also takes, and
  /// allocates).
  [[nodiscard]] GatewayMetrics metrics() const;

  /// Open orders of a principal (all its sessions), in acceptance order.
  /// Walks that principal's list of open orders: the cost is its open orders
  /// plus those that finished and are not yet reclaimed, whatever the order table
  /// holds. For operators and the socket server, not for the hot path (it
  /// takes a lock and allocates). Throws std::invalid_argument for an
  /// unknown principal.
  [[nodiscard]] std::vector<OpenOrder> open_orders(std::string_view principal) const;
  /// Sends a cancel for every open order that matches `filter`, bypassing
  /// the cancel budget (this only ever reduces risk): for cancel-all,
  /// cancel-on-disconnect and incident response. Returns how many were sent.
  /// With `filter.principal` it walks that principal's open orders only
  /// (as `open_orders`); without, every principal's.
  std::size_t cancel_orders(const CancelFilter& filter);

  /// True when the principal holds `permission`.
  [[nodiscard]] bool has_permission(PrincipalId principal, guards::Permission permission) const noexcept;
  /// True when the principal's allow-list includes the account.
  [[nodiscard]] bool allows_account(PrincipalId principal, AccountId account) const noexcept;
  /// Id of a principal by name; nullopt when unknown.
  [[nodiscard]] std::optional<PrincipalId> find_principal(std::string_view name) const noexcept;
  /// Whether the principal may open sessions and trade.
  [[nodiscard]] bool principal_enabled(PrincipalId principal) const noexcept;

  /// Name of a principal id (as returned by `Session::principal`).
  [[nodiscard]] std::string_view principal_name(PrincipalId id) const noexcept;

 private:
  std::unique_ptr<detail::Engine> engine_;
};

/// "position", "open_orders", "gross_notional" or "net_notional": a limit as
/// Redis keys, `ordergate cluster status` and the metrics name it.
[[nodiscard]] std::string_view exposure_limit_name(Gateway::ExposureLimit limit) noexcept;

}  // namespace ordergate
