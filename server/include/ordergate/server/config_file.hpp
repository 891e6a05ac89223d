#pragma once

/// \file
/// The gateway process configuration, read from a TOML file. Every key is
/// documented in docs/configuration.md and shown in examples/ordergate.toml.
/// Unknown keys, wrong types and out-of-range values are errors that name the
/// file, line and key; the gateway refuses to start on them.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ordergate/adapters/tls/https_client.hpp"
#include "ordergate/cluster/redis_url.hpp"
#include "ordergate/gateway/config.hpp"
#include "ordergate/guards/trading_state.hpp"
#include "ordergate/security/credentials.hpp"
#include "ordergate/security/crypto.hpp"

namespace ordergate {

/// The Unix-socket server's settings (`[gateway]` section).
/// How the process writes its log: key=value text, or one JSON object per
/// line for log shippers (`ordergate run --log-format json`).
enum class LogFormat { text, json };

struct ServerConfig {
  /// Empty: `$XDG_RUNTIME_DIR/ordergate.sock`, else `./ordergate.sock`.
  std::string socket_path;
  std::uint32_t socket_mode = 0600;  ///< 0600, or 0660 with `socket_group`
  std::string socket_group;
  std::vector<std::uint32_t> allowed_uids;  ///< empty: any peer the socket mode lets in
  std::vector<std::uint32_t> allowed_gids;
  std::size_t max_line_bytes = 4096;
  std::size_t max_connections = 256;
  std::int64_t idle_timeout_ns = 300'000'000'000;  ///< 5 minutes
  std::size_t max_output_bytes = 1u << 20;          ///< per connection, then the slow reader is dropped
  std::uint32_t max_errors = 20;                    ///< protocol errors before a connection is closed
  LogFormat log_format = LogFormat::text;           ///< from the command line, not the file
  std::string hello_rate_limit = "10/1m";           ///< failed hellos per peer uid
  std::string read_rate_limit = "20/1s";            ///< `orders` and `positions` per connection
  /// Sessions one principal holds at once (each connection's current one,
  /// and those kept for the reports of their working orders).
  std::uint32_t max_sessions_per_principal = 8;
  /// After a read that sent orders, how long the I/O thread waits for their
  /// reports, polling, before it writes: the replies and the reports then
  /// leave in one write, and the broker thread makes no wake-up call. 0:
  /// never (each report batch wakes the I/O thread). At most 1 ms.
  std::int64_t reply_spin_ns = 0;
};

/// The audit journal (`[audit]` section); docs/audit.md.
struct AuditConfig {
  bool enabled = false;          ///< true when `path` is set
  std::string path;
  std::string fsync = "interval";  ///< "always", "interval" or "never"
  std::int64_t fsync_interval_ns = 50'000'000;
  std::uint64_t max_bytes = 256ull << 20;  ///< rotate past this size; 0 never
  std::uint32_t queue_capacity = 1u << 16;
  /// Credential name of an HMAC key for the chain (resolved with the
  /// environment's prefix, e.g. PROD_<name>); empty = plain SHA-256.
  std::string hmac_key_env;
};

/// Kind-specific settings of one `[brokers.<name>]` table, read by its broker
/// kind (the registry in server/src/broker_kinds.cpp). Credential values are
/// never here, only their names (`BrokerEntry::credentials`).
class BrokerSettings {
 public:
  virtual ~BrokerSettings() = default;
  /// The TLS connection every network broker has (base_url, CA file, pin).
  [[nodiscard]] virtual const adapters::tls::TlsSettings& connection() const noexcept = 0;
};

/// The settings type of one broker kind, e.g. `adapters::oanda::OandaSettings`.
template <class Settings>
class BrokerSettingsOf final : public BrokerSettings {
 public:
  explicit BrokerSettingsOf(Settings settings) : settings_(std::move(settings)) {}
  [[nodiscard]] const Settings& get() const noexcept { return settings_; }
  [[nodiscard]] const adapters::tls::TlsSettings& connection() const noexcept override { return settings_.connection; }

 private:
  Settings settings_;
};

/// A credential a broker needs: the key that names it in the broker's table
/// and the credential name written there, resolved through [secrets] when the
/// gateway starts.
struct BrokerCredential {
  std::string key;   ///< e.g. "token_env"
  std::string name;  ///< e.g. "OANDA_TOKEN"
};

/// The operators' HTTP listener (`[http]` section): /metrics, /healthz,
/// /readyz and the console (docs/operations.md). Off unless `listen` is set.
struct HttpConfig {
  bool enabled = false;
  std::string address;     ///< an IP literal ("localhost" is read as 127.0.0.1)
  std::uint16_t port = 0;  ///< 0: any free port (the ready line names it)
  /// When `port` is taken, listen on a free one instead of refusing to
  /// start (the embedded default only).
  bool fall_back_to_free_port = false;
  /// True when `address` is a loopback address.
  bool loopback = true;
  /// Host names the listener answers to besides localhost, 127.0.0.1, ::1
  /// and its own address (`host_names`): a request whose Host header names
  /// another is refused 403 (no DNS rebinding).
  std::vector<std::string> host_names;
  /// PEM certificate chain and private key (`tls_cert`, `tls_key`): the
  /// listener then serves HTTPS only. Both or neither.
  std::string tls_cert;
  std::string tls_key;
  [[nodiscard]] bool tls() const noexcept { return !tls_cert.empty(); }
};

/// Scale-out (`[cluster]` section; docs/cluster.md): this process as one
/// member of a cluster sharing its kill switch through Redis. Off unless
/// the section is present.
struct ClusterConfig {
  bool enabled = false;
  cluster::RedisEndpoint redis;   ///< `redis = "redis://HOST:PORT/DB"`
  std::string name;               ///< unique among live members
  std::string password_env;       ///< credential name of Redis's AUTH password; empty: no AUTH
  std::int64_t fail_after_ns = 2'000'000'000;
  guards::TradingState on_redis_loss = guards::TradingState::reducing;
  bool share_budgets = true;      ///< account rate windows shared through leases (docs/cluster.md)
  int budget_slice_percent = 5;   ///< a lease's slice, in percent of a window's count (1..50)
  bool share_principal_budgets = false;  ///< principals' order windows shared too (for principals on several members)
  bool share_exposure = true;     ///< account and instrument exposure limits shared through leases
  int exposure_headroom_percent = 10;  ///< leased beyond use, in percent of a limit (1..50)
};

/// A network broker connection (`[brokers.<name>]`; docs/brokers.md).
struct BrokerEntry {
  std::string name;  ///< what `[[accounts]] broker = "..."` refers to
  std::string kind;  ///< a registered broker kind: "oanda" or "binance"
  std::vector<BrokerCredential> credentials;  ///< in the order the kind reads them
  std::shared_ptr<const BrokerSettings> settings;
  /// `reconcile_interval` (0: no periodic position check) and
  /// `on_position_mismatch = "reduce"` (default "alert"); any kind.
  std::int64_t reconcile_interval_ns = 0;
  bool reduce_on_mismatch = false;
  std::int64_t reconcile_after_disconnect_ns = 0;  ///< 0: the gateway's default (10 s)

  [[nodiscard]] const adapters::tls::TlsSettings& connection() const noexcept { return settings->connection(); }
  /// The kind's settings, or nullptr when the entry is of another kind.
  template <class Settings>
  [[nodiscard]] const Settings* settings_as() const noexcept {
    const auto* typed = dynamic_cast<const BrokerSettingsOf<Settings>*>(settings.get());
    return typed != nullptr ? &typed->get() : nullptr;
  }
  /// The credential name stored under `key` ("token_env"), or empty.
  [[nodiscard]] std::string_view credential(std::string_view key) const noexcept {
    for (const BrokerCredential& credential : credentials) {
      if (credential.key == key) return credential.name;
    }
    return {};
  }
};

/// How a principal authenticates on the socket.
struct PrincipalAuth {
  std::string name;
  security::Sha256Digest token_sha256{};
  bool has_token = false;
  bool cancel_on_disconnect = false;
};

struct ProcessConfig {
  std::string environment = "development";
  std::string source;  ///< file the configuration came from, or "(embedded default)"
  GatewayConfig gateway;
  ServerConfig server;
  AuditConfig audit;
  HttpConfig http;
  ClusterConfig cluster;
  std::vector<BrokerEntry> brokers;
  /// Where credential names resolve (`[secrets]`; docs/secrets.md). Its
  /// environment is `environment` above.
  security::CredentialConfig credentials;
  std::vector<PrincipalAuth> auth;  ///< one per principal, same order as gateway.principals
};

/// Reads and validates a configuration file. Throws ConfigError with
/// "FILE:LINE: key 'a.b': problem" messages. Never echoes values that could
/// be secrets (there should be none in the file: tokens are stored as hashes).
[[nodiscard]] ProcessConfig load_config_file(const std::string& path);

/// Same, from text (tests, reload). `source_name` is used in messages.
[[nodiscard]] ProcessConfig parse_config_text(std::string_view text, std::string_view source_name);

/// Parses `[http] listen`: "HOST:PORT" or "[IPV6]:PORT", HOST an IP literal
/// or "localhost". Throws ConfigError naming what is wrong.
[[nodiscard]] HttpConfig parse_http_listen(std::string_view listen);

/// Parses "250us", "100ms", "5s", "1m", "1h" into nanoseconds; false on error.
[[nodiscard]] bool parse_duration(std::string_view text, std::int64_t& nanoseconds) noexcept;

}  // namespace ordergate
