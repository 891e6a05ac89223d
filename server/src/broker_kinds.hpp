#pragma once

// Internal: the broker kinds a `[brokers.<name>]` table may name. Each kind
// is one entry: how it reads its table and how it builds the gateway's
// factory once its credentials are resolved. Adding a broker kind means
// adding one entry to the registry in broker_kinds.cpp.
//
// The embedded paper broker is not a kind yet: the gateway builds it from
// `GatewayConfig::paper` (the top-level `[paper]` table, read by
// `read_embedded_paper`) for accounts with `broker = "paper"`, and the name
// "paper" is reserved. When it becomes a plain adapter it becomes an entry
// here, and `kEmbeddedPaperBroker` and `read_embedded_paper` go away.

#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "ordergate/adapters/paper/paper_broker.hpp"
#include "ordergate/adapters/tls/https_client.hpp"
#include "ordergate/gateway/config.hpp"
#include "ordergate/security/secret.hpp"
#include "ordergate/server/config_file.hpp"

namespace ordergate::server_detail {

class TableReader;

/// The value of one of the entry's credentials, by key ("token_env").
/// Throws ConfigError naming the key when it cannot be resolved.
using ResolveCredential = std::function<security::Secret(std::string_view key)>;

struct BrokerKind {
  std::string_view name;  ///< the `kind = "..."` value
  /// Reads every key of the table but `kind` into `entry.settings` and
  /// `entry.credentials`; unknown keys are left for the caller to refuse.
  void (*read)(TableReader& table, BrokerEntry& entry);
  /// Builds the adapter factory with the resolved credentials; `log`
  /// receives the adapter's lines.
  BrokerFactory (*build)(const BrokerEntry& entry, const ResolveCredential& credential,
                         adapters::tls::LogFunction log);
};

/// Every registered kind.
[[nodiscard]] std::span<const BrokerKind> broker_kinds() noexcept;
/// The kind called `name`, or nullptr.
[[nodiscard]] const BrokerKind* find_broker_kind(std::string_view name) noexcept;

/// Reads one `[brokers.<name>]` table through its kind; an unknown kind or
/// key is a ConfigError naming the key.
[[nodiscard]] BrokerEntry read_broker(TableReader& reader, std::string name);

/// The name accounts use for the embedded paper broker (reserved in [brokers]).
inline constexpr std::string_view kEmbeddedPaperBroker = "paper";

/// Reads the `[paper]` table of the embedded paper broker.
void read_embedded_paper(TableReader& reader, adapters::PaperConfig& paper, const std::string& source);

}  // namespace ordergate::server_detail
