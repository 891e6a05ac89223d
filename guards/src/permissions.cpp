#include "ordergate/guards/permissions.hpp"

#include <stdexcept>

namespace ordergate::guards {
namespace {

bool equals_ignore_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (x != b[i]) return false;
  }
  return true;
}

[[noreturn]] void bad_principal(const PrincipalSpec& spec, const std::string& problem) {
  throw std::invalid_argument("principal '" + spec.name + "': " + problem);
}

}  // namespace

std::optional<Permission> parse_permission(std::string_view text) noexcept {
  if (equals_ignore_case(text, "trade")) return Permission::trade;
  if (equals_ignore_case(text, "cancel")) return Permission::cancel;
  if (equals_ignore_case(text, "read")) return Permission::read;
  if (equals_ignore_case(text, "admin")) return Permission::admin;
  if (equals_ignore_case(text, "monitor")) return Permission::monitor;
  return std::nullopt;
}

bool glob_match(std::string_view pattern, std::string_view text) noexcept {
  // Greedy matching that backtracks only to the most recent `*`: a later
  // star can absorb anything an earlier one could, so O(|pattern| * |text|)
  // at worst, with no recursion.
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star = std::string_view::npos;
  std::size_t star_text = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_text = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

PrincipalPolicy::PrincipalPolicy(const PrincipalSpec& spec, const AccountTable& accounts,
                                 const InstrumentTable& instruments)
    : name_(spec.name) {
  if (!is_valid_account_name(spec.name)) {
    bad_principal(spec, "name must be 1-32 characters of [A-Za-z0-9._-]");
  }

  for (const std::string& text : spec.permissions) {
    const std::optional<Permission> permission = parse_permission(text);
    if (!permission) {
      bad_principal(spec, "unknown permission '" + text + "' (expected trade, cancel, read or admin)");
    }
    permissions_ = static_cast<std::uint8_t>(permissions_ | static_cast<std::uint8_t>(*permission));
  }

  for (const std::string& pattern : spec.accounts) {
    bool matched = false;
    for (const Account& account : accounts.all()) {
      if (glob_match(pattern, account.name.view())) {
        accounts_.set(account.id);
        matched = true;
      }
    }
    if (!matched) bad_principal(spec, "account pattern '" + pattern + "' matches no configured account");
  }

  for (const std::string& pattern : spec.symbols) {
    bool matched = false;
    for (const Instrument& instrument : instruments.all()) {
      if (glob_match(pattern, instrument.name.view()) || glob_match(pattern, instrument.key.view())) {
        instruments_.set(instrument.id);
        matched = true;
      }
    }
    if (!matched) bad_principal(spec, "symbol pattern '" + pattern + "' matches no configured instrument");
  }

  if (spec.order_types.empty()) {
    for (OrderType type : {OrderType::market, OrderType::limit, OrderType::stop}) {
      order_types_ = static_cast<std::uint8_t>(order_types_ | (1u << static_cast<unsigned>(type)));
    }
  }
  for (const std::string& text : spec.order_types) {
    const OrderType type = parse_order_type(text);
    if (type == OrderType::unset) {
      bad_principal(spec, "unknown order type '" + text + "' (expected market, limit or stop)");
    }
    order_types_ = static_cast<std::uint8_t>(order_types_ | (1u << static_cast<unsigned>(type)));
  }

  if (spec.max_quantity && !spec.max_quantity->is_positive()) {
    bad_principal(spec, "max_quantity must be > 0 (omit it to apply only the instrument limits)");
  }
  max_quantity_ = spec.max_quantity;
}

Reason check_submit_permissions(const PrincipalPolicy& policy, const Order& order) noexcept {
  if (!policy.has(Permission::trade)) return Reason::PERMISSION_DENIED;
  if (!policy.allows_account(order.account_id)) return Reason::ACCOUNT_NOT_PERMITTED;
  if (!policy.allows_instrument(order.instrument_id)) return Reason::SYMBOL_NOT_PERMITTED;
  if (!policy.allows_type(order.type)) return Reason::ORDER_TYPE_NOT_PERMITTED;
  if (policy.max_quantity() && order.quantity > *policy.max_quantity()) {
    return Reason::MAX_QUANTITY_EXCEEDED;
  }
  return Reason::OK;
}

Reason check_cancel_permissions(const PrincipalPolicy& policy) noexcept {
  return policy.has(Permission::cancel) ? Reason::OK : Reason::PERMISSION_DENIED;
}

}  // namespace ordergate::guards
