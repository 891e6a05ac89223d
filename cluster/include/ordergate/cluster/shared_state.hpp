#pragma once

/// \file
/// How a cluster's shared kill switch is written in Redis (docs/cluster.md).
///
/// One hash, `ordergate:state`, holds the operators' decisions that are not
/// the default, one field each, plus a version:
///
/// | field | value |
/// | --- | --- |
/// | `version` | a counter, raised by every change |
/// | `global` | `REDUCING` or `HALTED` (absent: ACTIVE) |
/// | `account:<name>` | `REDUCING` or `HALTED` |
/// | `principal:<name>` | `REDUCING` or `HALTED` |
/// | `disabled:<name>` | `1`: the principal is disabled |
///
/// Every change is published on `ordergate:state:changes` as
/// `<version> <cancel> <field>`, `<cancel>` 1 when the working orders in
/// the scope are to be cancelled too, else 0. Members re-read the hash on
/// every message. Edge code: allocates and throws.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ordergate/gateway/control_state.hpp"
#include "ordergate/gateway/gateway.hpp"
#include "ordergate/guards/trading_state.hpp"

namespace ordergate::cluster {

/// The Redis keys of a cluster.
namespace keys {
inline constexpr std::string_view state = "ordergate:state";
inline constexpr std::string_view changes = "ordergate:state:changes";
inline constexpr std::string_view members = "ordergate:members";
/// The set of shared budget cells ("ordergate:budget:<account>:<count>/<period_ns>").
inline constexpr std::string_view budgets = "ordergate:budgets";
/// The set of shared exposure limits ("ordergate:exposure:<account>:<limit>"),
/// each a hash of the members' parts.
inline constexpr std::string_view exposures = "ordergate:exposures";
/// The key of one member's hash: "ordergate:member:<name>".
[[nodiscard]] std::string member(std::string_view name);
}  // namespace keys

/// Thrown when the shared state in Redis is not what this version writes.
class SharedStateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One field of the state hash; an empty `value` deletes the field (the
/// default: ACTIVE, enabled).
struct StateField {
  std::string field;
  std::string value;
  friend bool operator==(const StateField&, const StateField&) = default;
};

/// The field for a trading-state change at `scope` (its name must not be
/// empty for an account or principal scope).
[[nodiscard]] StateField encode_trading_state(TradingScope scope, guards::TradingState state);
/// The field for enabling or disabling a principal.
[[nodiscard]] StateField encode_principal_enabled(std::string_view principal, bool enabled);
/// Every field that `state` needs (nothing for an all-default state), in a
/// stable order.
[[nodiscard]] std::vector<StateField> encode_state(const ControlState& state);

/// The shared state as read from the hash (HGETALL's field/value pairs).
struct SharedState {
  ControlState control;
  std::uint64_t version = 0;
};

/// Reads the hash's fields. Throws SharedStateError naming the field for
/// an unknown field, a bad value or a missing version: a member that cannot
/// read the shared state keeps its accounts closed rather than guess.
[[nodiscard]] SharedState decode_state(const std::vector<std::pair<std::string, std::string>>& fields);

/// A change message: `<version> <0|1> <field>` (the field may hold spaces).
struct ChangeMessage {
  std::uint64_t version = 0;
  std::string field;
  bool cancel = false;
};
[[nodiscard]] std::string encode_change_message(std::uint64_t version, std::string_view field, bool cancel);
/// nullopt when `text` is not a change message.
[[nodiscard]] std::optional<ChangeMessage> decode_change_message(std::string_view text);

}  // namespace ordergate::cluster
