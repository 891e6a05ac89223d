#pragma once

// Internal: a member's leases of the accounts' shared rate windows
// (docs/cluster.md, "Shared budgets"). Driven by the member's thread.
//
// Redis holds one GCRA cell per account window (key
// "ordergate:budget:<account>:<count>/<period_ns>"; a principal's window,
// when shared: "ordergate:budget:principal:<name>:<count>/<period_ns>"),
// value the theoretical
// arrival time in microseconds of Redis's clock). A member takes a slice of
// tokens at a time with one script (the GCRA of the window, charged for the
// tokens granted), hands them to the gateway (`Gateway::grant_budget`),
// which spends them on the order path without asking Redis, and tops the
// lease up when it falls to half a slice. A member keeps its lease while it
// runs (so its first order after a quiet spell is not refused) and gives
// it back at a clean stop: the cell's arrival time moves back.
//
// The bound: tokens used in any interval are at most those Redis granted in
// it plus those the members held at its start, and a member never holds
// more than one slice per window; so all members together admit at most
// what one process's window admits plus one slice per member.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>

#include "ordergate/gateway/gateway.hpp"
#include "redis_connection.hpp"

namespace ordergate::cluster::detail {

class BudgetLeases {
 public:
  using Clock = std::chrono::steady_clock;
  /// `slice_fraction`: a slice is this part of a window's count, at least 1.
  BudgetLeases(Gateway& gateway, double slice_fraction) noexcept
      : gateway_(gateway), slice_fraction_(slice_fraction) {}

  /// Tops up the leases that ran low and gives back idle ones. False when
  /// Redis did not answer (the connection is then unusable).
  bool tend(RedisConnection& redis, Clock::time_point now, std::string& error);
  /// Gives every lease back (a clean stop).
  void give_back_all(RedisConnection& redis);
  /// The leases now, as "owner:window=tokens/slice" joined by ',' (for
  /// the member's heartbeat and `ordergate cluster status`).
  [[nodiscard]] std::string describe() const;

  /// The tokens of one slice of `rate`.
  [[nodiscard]] static std::int64_t slice_of(const guards::RateWindow& rate, double fraction) noexcept;
  /// "<count>/<period_ns>": the window as the budget key names it.
  [[nodiscard]] static std::string window_text(const guards::RateWindow& rate);

 private:
  struct Lease {
    std::string key;                 // the Redis cell the tokens came from
    guards::RateWindow rate;
    std::int64_t slice = 1;
    Clock::time_point next_take{};   // Redis said the window is spent until then
  };
  bool give_back(RedisConnection& redis, const Lease& lease, std::int64_t tokens);

  Gateway& gateway_;
  double slice_fraction_;
  // By (principal?, account or principal id, window).
  using Id = std::tuple<bool, std::uint32_t, std::size_t>;
  [[nodiscard]] static Id id_of(const Gateway::BudgetLease& lease) noexcept;
  // The window's owner as keys and `describe` name it: "<account>" or
  // "principal:<name>".
  [[nodiscard]] static std::string owner_of(const Gateway::BudgetLease& lease);
  // Empties the gateway's lease `id` and returns what was left.
  std::int64_t take_back(const Id& id) noexcept;
  std::map<Id, Lease> leases_;
};

}  // namespace ordergate::cluster::detail
