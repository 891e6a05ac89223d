#pragma once

// Internal: a member's leases of the accounts' exposure limits
// (docs/cluster.md, "Shared exposure"). Driven by the member's thread.
//
// Redis holds one hash per limit ("ordergate:exposure:<account>:<limit>",
// the limit "position:<instrument>", "open_orders:<instrument>",
// "gross_notional" or "net_notional"): each member's field holds its part
// in units of the limit (parts per million of it; whole orders for
// open_orders). One script grants a member what it asks for up to what the
// live members leave free, so the parts never add up to more than the
// limit. A member's part is dropped by the next member that asks once its
// member key has expired (the member TTL): a member that died frees its
// leases. The gateway checks each order against its lease
// (`Gateway::share_account_exposure`), so all members together never hold
// more exposure than the limit.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "ordergate/gateway/gateway.hpp"
#include "redis_connection.hpp"

namespace ordergate::cluster::detail {

class ExposureLeases {
 public:
  using Clock = std::chrono::steady_clock;
  /// `headroom_fraction`: a member keeps this part of a limit free beyond
  /// what it uses (at least what one order can add).
  ExposureLeases(Gateway& gateway, const std::string& member, double headroom_fraction)
      : gateway_(gateway), member_(member), headroom_fraction_(headroom_fraction) {}

  /// Tops up the leases that ran low and gives back what is far beyond use.
  /// False when Redis did not answer (the connection is then unusable).
  bool tend(RedisConnection& redis, Clock::time_point now, std::string& error);
  /// Cut off from Redis: every position and notional lease shrinks to what
  /// is in use (the member cannot tell the cluster, and its part may be
  /// handed to others once its key expires). Open-order leases are kept,
  /// so orders that reduce a position still pass under the floor.
  void shrink_to_use();
  /// Gives every lease back (a clean stop).
  void give_back_all(RedisConnection& redis);
  /// The leases now, as "account:limit=lease/total" joined by ','.
  [[nodiscard]] std::string describe() const;

  /// The Redis key of one lease.
  [[nodiscard]] static std::string key_of(const Gateway::ExposureLease& lease);
  /// Units of `lease.total` the cluster counts: parts per million, or
  /// whole orders.
  [[nodiscard]] static std::int64_t units_of(const Gateway::ExposureLease& lease) noexcept;
  /// The units that cover `amount` (rounded up) and the amount `units`
  /// grant (rounded down).
  [[nodiscard]] static std::int64_t units_for(Decimal amount, Decimal total, std::int64_t units) noexcept;
  [[nodiscard]] static Decimal amount_of(std::int64_t granted, Decimal total, std::int64_t units) noexcept;

 private:
  using Id = std::tuple<AccountId, Gateway::ExposureLimit, InstrumentId>;
  // Asks Redis to record `held` units for this member and grant up to
  // `wanted`; returns the units recorded, or -1.
  std::int64_t ask(RedisConnection& redis, const std::string& key, std::int64_t total_units, std::int64_t wanted,
                   std::int64_t held, std::string& error);

  Gateway& gateway_;
  std::string member_;
  double headroom_fraction_;
  std::map<Id, Clock::time_point> next_ask_;  // a starved lease asks again only then
  std::map<Id, std::string> keys_;            // every key this member holds a part in
};

}  // namespace ordergate::cluster::detail
