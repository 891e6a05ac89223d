#pragma once

/// \file
/// What `ordergate cluster status` prints: the members, their health and
/// the shared state, read from Redis. Edge code: allocates, blocks, throws.

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ordergate/cluster/redis_url.hpp"
#include "ordergate/cluster/shared_state.hpp"
#include "ordergate/security/secret.hpp"

namespace ordergate::cluster {

/// One member as its key in Redis describes it.
struct MemberStatus {
  std::string name;
  /// False when the name is in the member list but its key expired: the
  /// member stopped heartbeating (killed, or cut off from Redis).
  bool present = false;
  std::string host;
  std::int64_t pid = 0;
  std::int64_t heartbeat_ms = 0;
  std::int64_t age_ms = 0;          ///< since its last heartbeat, by Redis's clock
  std::uint64_t version = 0;        ///< the shared state's version it applied
  std::string global;               ///< its global state in effect
  std::string floor;                ///< ACTIVE, or its on_redis_loss state while cut off
  bool ready = false;               ///< its accounts may trade
  /// Its budget leases: "account:count/period_ns=tokens/slice" joined by
  /// ','; empty when it shares no budget.
  std::string leases;
  /// Its exposure leases: "account:limit=lease/total" joined by ','; empty
  /// when it shares no exposure.
  std::string exposure;

  /// "healthy", "stale" (heartbeat late), "cut-off" (floor set),
  /// "not-ready" (accounts closed) or "gone" (no key).
  [[nodiscard]] std::string health() const;
};

/// One shared window's budget in Redis (docs/cluster.md).
struct BudgetStatus {
  std::string account;  ///< the account, or "principal:<name>" for a principal's window
  std::uint32_t count = 0;
  std::int64_t period_ns = 0;
  /// Tokens the cluster could still grant now (leases already granted are
  /// the members' to spend).
  std::int64_t remaining = 0;
};

/// One shared exposure limit in Redis (docs/cluster.md): the members' parts.
struct ExposureStatus {
  std::string limit;  ///< "<account>:position:<instrument>", "<account>:gross_notional", ...
  /// Parts are in parts per million of the limit, or whole orders for an
  /// open_orders limit.
  bool orders = false;
  std::int64_t leased = 0;  ///< all parts together
  std::vector<std::pair<std::string, std::int64_t>> parts;  ///< by member name
};

struct ClusterStatus {
  std::vector<MemberStatus> members;  ///< by name
  std::vector<BudgetStatus> budgets;  ///< by account, then window
  std::vector<ExposureStatus> exposure;  ///< by limit
  bool state_present = false;         ///< false: Redis holds no shared state yet
  SharedState state;
};

/// Reads the cluster's status. Throws ClusterConfigError (bad endpoint) or
/// std::runtime_error (Redis unreachable, credentials refused, a state this
/// version cannot read) with a clear message.
[[nodiscard]] ClusterStatus read_cluster_status(const RedisEndpoint& endpoint, const security::Secret* password,
                                                std::chrono::milliseconds timeout);

/// Human-readable text of `status`.
[[nodiscard]] std::string format_cluster_status(const ClusterStatus& status);

}  // namespace ordergate::cluster
