#include "ordergate/core/ports.hpp"

#include <array>

namespace ordergate {

std::string_view to_string(AuditEventType type) noexcept {
  static constexpr std::array<std::string_view, 24> kNames = {
      "session_opened",   "session_closed",     "order_accepted",  "order_rejected",
      "cancel_accepted",  "cancel_rejected",    "execution",       "trading_state_changed",
      "sessions_revoked", "principal_disabled", "hello_accepted",  "hello_refused",
      "sent_to_broker",   "broker_rejected",    "config_reloaded", "config_reload_refused",
      "tls_failure",      "principal_enabled",  "journal_repaired", "position_fill",
      "order_adopted",    "position_mismatch",  "replace_accepted", "replace_rejected"};
  const auto index = static_cast<std::size_t>(type);
  if (index >= kNames.size()) return "unknown";
  return kNames[index];
}

}  // namespace ordergate
