#pragma once

/// \file
/// A gateway process as a member of a cluster that shares one kill switch
/// through Redis (docs/cluster.md).
///
/// \code
///   ordergate::cluster::Member member(gateway, options, log);
///   member.start();                     // holds the accounts until the shared state is read
///   gateway.start();
///   member.set_trading_state(ordergate::TradingScope::global(), ordergate::guards::TradingState::halted);
/// \endcode
///
/// The member runs its own thread with two Redis connections (a subscriber
/// and a command connection). The order path never waits on Redis: the
/// thread applies the shared state through the gateway's admin calls
/// (`Gateway::set_trading_state`, `set_principal_enabled`), which cost
/// `Session::submit` nothing. A member
/// - holds its accounts closed (ACCOUNT_NOT_READY) until it has read the
///   shared state, at start and after every reconnection to Redis;
/// - writes the operator's changes made through it to Redis and publishes
///   them; every member applies them when the message arrives, and changes
///   it applies from Redis are never written back;
/// - moves to `on_redis_loss` (a floor under the global state, see
///   `Gateway::set_trading_floor`) when Redis has been unreachable for
///   longer than `fail_after`, and lifts it only after the state is read
///   back;
/// - keeps a key per member with a time to live, refreshed by a heartbeat:
///   the member list (`read_cluster_status`).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "ordergate/cluster/redis_url.hpp"
#include "ordergate/gateway/gateway.hpp"
#include "ordergate/guards/trading_state.hpp"
#include "ordergate/security/secret.hpp"

namespace ordergate::cluster {

/// Thrown by `Member::start` when the member may not join: its name is held
/// by a live member, or Redis refused its credentials.
class ClusterStartError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// How a member reaches Redis and behaves without it.
struct MemberOptions {
  RedisEndpoint redis;
  /// AUTH password (resolved from `[cluster] password_env`); none: no AUTH.
  std::optional<security::Secret> password;
  /// Unique among live members: letters, digits, '-', '_' and '.', 1-64.
  std::string name;
  /// How long Redis may be unreachable before `on_redis_loss` applies.
  std::chrono::milliseconds fail_after{2000};
  /// REDUCING or HALTED.
  guards::TradingState on_redis_loss = guards::TradingState::reducing;
  /// Where the member keeps the trading states the cluster held when it last
  /// heard (a state file, `write_control_state`): beside the gateway's state
  /// file (`<state_path>.cluster`), so that after a restart a scope the
  /// gateway's own guards switched (a daily loss limit) is told from one the
  /// cluster switched, and the first read never loosens the former. Empty:
  /// none, and the first read after a start applies the shared state whole.
  std::filesystem::path known_state_path;

  /// Shares the accounts' rate windows (`account_rate_limits`) with the
  /// other members through leases of budget from Redis
  /// (`Gateway::share_account_budgets`; docs/cluster.md). Off: each member
  /// enforces its windows alone.
  bool share_budgets = true;
  /// A lease's slice: this part of a window's count (at least 1 token),
  /// in (0, 0.5]. All members together admit at most one window's worth
  /// plus one slice per member.
  double budget_slice = 0.05;
  /// Shares each principal's order windows (`rate_limits`) the same way
  /// (`Gateway::share_principal_budgets`): for principals that connect to
  /// several members. Off by default: a principal that connects to one
  /// member keeps its window's whole burst there.
  bool share_principal_budgets = false;
  /// Shares the accounts' exposure limits (each instrument's max_position
  /// and max_open_orders, each account's gross and net notional) with the
  /// other members through leases (`Gateway::share_account_exposure`;
  /// docs/cluster.md). Off: each member enforces the whole limits alone.
  bool share_exposure = true;
  /// What a member keeps leased beyond what it uses: this part of a limit,
  /// and at least one order's worth, in (0, 0.5]. It gives back what is
  /// more than twice that beyond use.
  double exposure_headroom = 0.10;

  /// Heartbeat period: fail_after / 4, between 50 ms and 1 s.
  [[nodiscard]] std::chrono::milliseconds heartbeat() const noexcept;
  /// Time to live of the member's key: fail_after + 2 heartbeats. A name
  /// whose holder stopped heartbeating is free again after it.
  [[nodiscard]] std::chrono::milliseconds member_ttl() const noexcept;
};

/// Throws ClusterConfigError unless `name` is a valid member name.
void validate_member_name(std::string_view name);

/// Log lines: (level, event, fields as key=value text). Called from the
/// member's thread and from `start`; must be thread-safe.
using MemberLog = std::function<void(std::string_view level, std::string_view event, std::string_view fields)>;

class Member {
 public:
  /// Holds `gateway`'s accounts closed (`Gateway::hold_accounts`) until the
  /// shared state is read (and the budget leases taken). `gateway` must
  /// outlive the member and, with `share_budgets` or `share_exposure`, not be
  /// started yet. Throws
  /// ClusterConfigError for bad options and ClusterStartError when
  /// `known_state_path` cannot be read (damaged: delete it to start afresh).
  Member(Gateway& gateway, MemberOptions options, MemberLog log);
  /// Stops the thread (see `stop`).
  ~Member();
  Member(const Member&) = delete;
  Member& operator=(const Member&) = delete;

  /// Contacts Redis once (up to `fail_after`): claims the member's name,
  /// reads the shared state (or writes this member's own when Redis has
  /// none) and applies it, then starts the member's thread. Throws
  /// ClusterStartError when the name is held by a live member (after
  /// waiting up to one TTL for a dead holder's key to expire) or Redis
  /// refuses the credentials. When Redis cannot be reached it does not
  /// throw: the accounts stay closed and the thread keeps trying.
  void start();
  /// Leaves the member list and joins the thread. Idempotent.
  void stop() noexcept;

  /// Applies a trading-state change to the gateway (exactly
  /// `Gateway::set_trading_state`, exceptions included) and shares it: it
  /// is written to Redis and published by the member's thread, now or when
  /// Redis is back. Thread-safe; does not wait on Redis.
  /// `by` is recorded in this member's audit trail only: the members that
  /// apply the change from Redis record it without an actor.
  void set_trading_state(const TradingScope& scope, guards::TradingState state, bool cancel_working = false,
                         std::string_view by = {});
  /// Same for `Gateway::set_principal_enabled`.
  void set_principal_enabled(std::string_view principal, bool enabled, std::string_view by = {});

  /// Reads the shared state again soon, on the member's thread: after a
  /// configuration reload added a principal the shared state names.
  /// Thread-safe; does not wait.
  void read_again() noexcept;

  /// What the member knows about itself.
  struct Health {
    bool connected = false;    ///< both connections up and the state read
    std::uint64_t version = 0; ///< the shared state's version last applied
    guards::TradingState floor = guards::TradingState::active;
  };
  [[nodiscard]] Health health() const;

  [[nodiscard]] const std::string& name() const noexcept;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ordergate::cluster
