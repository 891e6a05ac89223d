#pragma once

/// \file
/// Guard 2: what a principal may do. Allow-lists are resolved to bitsets when
/// the policy is built, so the hot-path check is a few bit tests.

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ordergate/core/instrument.hpp"
#include "ordergate/core/order.hpp"
#include "ordergate/core/reason.hpp"

namespace ordergate::guards {

/// `monitor`: the drop copy of every account (risk staff), where `read`
/// gives the accounts the principal may use.
enum class Permission : std::uint8_t { trade = 1, cancel = 2, read = 4, admin = 8, monitor = 16 };

/// "trade", "cancel", "read", "admin", "monitor"; nullopt otherwise.
[[nodiscard]] std::optional<Permission> parse_permission(std::string_view text) noexcept;

/// Matches `text` against a pattern where `*` stands for any run of
/// characters (including none); everything else matches itself exactly.
[[nodiscard]] bool glob_match(std::string_view pattern, std::string_view text) noexcept;

struct PrincipalSpec {
  std::string name;                      ///< [A-Za-z0-9._-]{1,32}
  std::vector<std::string> permissions;  ///< "trade", "cancel", "read", "admin", "monitor"
  std::vector<std::string> accounts;     ///< account names or `*` patterns
  std::vector<std::string> symbols;      ///< canonical ("EUR/USD") or compact ("EURUSD") names, or patterns
  std::vector<std::string> order_types;  ///< "market", "limit", "stop"; empty = all
  std::optional<Decimal> max_quantity;   ///< per order; none = only the instrument limits apply
};

class PrincipalPolicy {
 public:
  PrincipalPolicy() = default;
  /// Resolves the allow-lists against the tables. Throws std::invalid_argument
  /// naming the principal and the bad entry (unknown permission or order
  /// type, malformed name, a pattern that matches nothing, non-positive max).
  PrincipalPolicy(const PrincipalSpec& spec, const AccountTable& accounts,
                  const InstrumentTable& instruments);

  [[nodiscard]] std::string_view name() const noexcept { return name_; }
  [[nodiscard]] bool has(Permission permission) const noexcept {
    return (permissions_ & static_cast<std::uint8_t>(permission)) != 0;
  }
  [[nodiscard]] bool allows_account(AccountId id) const noexcept {
    return id < kMaxAccounts && accounts_.test(id);
  }
  [[nodiscard]] bool allows_instrument(InstrumentId id) const noexcept {
    return id < kMaxInstruments && instruments_.test(id);
  }
  [[nodiscard]] bool allows_type(OrderType type) const noexcept {
    const auto bit = static_cast<unsigned>(type);  // bounded: enum values may come from a cast
    return bit < 8 && (order_types_ & (1u << bit)) != 0;
  }
  [[nodiscard]] const std::optional<Decimal>& max_quantity() const noexcept { return max_quantity_; }

 private:
  std::string name_;
  std::uint8_t permissions_ = 0;
  std::uint8_t order_types_ = 0;
  std::bitset<kMaxAccounts> accounts_;
  std::bitset<kMaxInstruments> instruments_;
  std::optional<Decimal> max_quantity_;
};

/// Checks a validated order against the policy, in this order:
/// PERMISSION_DENIED (no `trade`), ACCOUNT_NOT_PERMITTED, SYMBOL_NOT_PERMITTED,
/// ORDER_TYPE_NOT_PERMITTED, MAX_QUANTITY_EXCEEDED (principal's max).
[[nodiscard]] Reason check_submit_permissions(const PrincipalPolicy& policy, const Order& order) noexcept;

/// PERMISSION_DENIED unless the principal holds `cancel`.
[[nodiscard]] Reason check_cancel_permissions(const PrincipalPolicy& policy) noexcept;

}  // namespace ordergate::guards
