#include "ordergate/server/config_file.hpp"

#include <boost/asio/ip/address.hpp>
// toml++ asserts an invariant of its own that some malformed input breaks
// ("[;": a table header without a key), found by fuzzing the sanitizer
// build; the release build compiles the check out and then refuses the
// input as a parse error. Every file that includes toml++ defines this the
// same way, so debug and release parse alike.
#ifndef TOML_ASSERT
#define TOML_ASSERT(expr) static_cast<void>(0)
#endif
#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>
#include <cstdio>
#include <charconv>
#include <fstream>
#include <sstream>

#include "broker_kinds.hpp"
#include "ordergate/cluster/member.hpp"
#include "ordergate/security/toml_text.hpp"
#include "ordergate/guards/rate_limit.hpp"
#include "table_reader.hpp"

namespace ordergate {
namespace {

using server_detail::TableReader;

void check_rate_windows(TableReader& reader, std::string_view key, const std::vector<std::string>& windows) {
  for (const std::string& window : windows) {
    guards::RateWindow parsed;
    std::string error;
    if (!guards::parse_rate_window(window, parsed, error)) {
      reader.fail(reader.find(key), key, std::string("rate limit '").append(window).append("': ").append(error));
    }
  }
}

void read_gateway(TableReader& reader, ProcessConfig& config) {
  ServerConfig& server = config.server;
  GatewayConfig& gateway = config.gateway;
  server.socket_path = reader.string("socket_path", "");
  const std::string mode = reader.string("socket_mode", "0600");
  if (mode == "0600") {
    server.socket_mode = 0600;
  } else if (mode == "0660") {
    server.socket_mode = 0660;
  } else {
    reader.fail(reader.find("socket_mode"), "socket_mode", "must be \"0600\" or \"0660\" (with socket_group)");
  }
  server.socket_group = reader.string("socket_group", "");
  if (server.socket_mode == 0660 && server.socket_group.empty()) {
    reader.fail(reader.find("socket_mode"), "socket_mode", "\"0660\" needs socket_group");
  }
  server.allowed_uids = reader.ids("allowed_uids");
  server.allowed_gids = reader.ids("allowed_gids");
  server.max_line_bytes = static_cast<std::size_t>(reader.integer("max_line_bytes", 4096, 256, 1 << 20));
  server.max_connections = static_cast<std::size_t>(reader.integer("max_connections", 256, 1, 4096));
  server.idle_timeout_ns = reader.duration("idle_timeout", server.idle_timeout_ns);
  server.max_output_bytes = static_cast<std::size_t>(reader.integer("max_output_bytes", 1 << 20, 4096, 1 << 30));
  server.max_errors = static_cast<std::uint32_t>(reader.integer("max_errors", 20, 1, 1'000'000));
  server.hello_rate_limit = reader.string("hello_rate_limit", server.hello_rate_limit);
  check_rate_windows(reader, "hello_rate_limit", {server.hello_rate_limit});
  server.read_rate_limit = reader.string("read_rate_limit", server.read_rate_limit);
  check_rate_windows(reader, "read_rate_limit", {server.read_rate_limit});
  server.max_sessions_per_principal = static_cast<std::uint32_t>(
      reader.integer("max_sessions_per_principal", server.max_sessions_per_principal, 1, 4096));
  server.reply_spin_ns = reader.duration("reply_spin", 0);
  if (server.reply_spin_ns > 1'000'000) {
    reader.fail(reader.find("reply_spin"), "reply_spin", "must be at most \"1ms\" (the I/O thread serves no one else while it waits)");
  }

  gateway.order_capacity = static_cast<std::uint32_t>(reader.integer("order_capacity", gateway.order_capacity, 1, 1 << 26));
  gateway.duplicate_window_ns = reader.duration("duplicate_window", gateway.duplicate_window_ns);
  if (gateway.duplicate_window_ns < 1'000'000'000LL || gateway.duplicate_window_ns > 30LL * 24 * 3600 * 1'000'000'000LL) {
    reader.fail(reader.find("duplicate_window"), "duplicate_window", "must be within 1s and 30 days (720h)");
  }
  gateway.duplicate_capacity =
      static_cast<std::uint32_t>(reader.integer("duplicate_capacity", gateway.duplicate_capacity, 0, std::int64_t{1} << 30));
  gateway.broker_queue_capacity =
      static_cast<std::uint32_t>(reader.integer("broker_queue_capacity", gateway.broker_queue_capacity, 64, 1 << 24));
  gateway.max_sessions = static_cast<std::uint32_t>(reader.integer("max_sessions", gateway.max_sessions, 1, 4096));
  gateway.session_queue_budget =
      static_cast<std::uint32_t>(reader.integer("session_queue_budget", gateway.session_queue_budget, 0, 1 << 20));
  gateway.day_start = reader.string("day_start", gateway.day_start);
  const std::string idle = reader.string("idle_strategy", "backoff");
  if (idle == "backoff") {
    gateway.idle_strategy = IdleStrategy::backoff;
  } else if (idle == "busy_spin") {
    gateway.idle_strategy = IdleStrategy::busy_spin;
  } else {
    reader.fail(reader.find("idle_strategy"), "idle_strategy", "must be \"backoff\" or \"busy_spin\"");
  }
  gateway.account_rate_limits = reader.strings("account_rate_limits", {});
  check_rate_windows(reader, "account_rate_limits", gateway.account_rate_limits);
  gateway.symbol_rate_limits = reader.strings("symbol_rate_limits", {});
  check_rate_windows(reader, "symbol_rate_limits", gateway.symbol_rate_limits);
  reader.reject_unknown();
}

InstrumentSpec read_instrument(TableReader& reader) {
  InstrumentSpec spec;
  spec.name = reader.required_string("name");
  spec.tick_size = reader.decimal("tick_size");
  spec.lot_step = reader.decimal("lot_step");
  spec.min_quantity = reader.decimal("min_quantity");
  spec.max_quantity = reader.decimal("max_quantity");
  spec.max_order_quantity = reader.decimal("max_order_quantity");
  spec.max_notional = reader.decimal("max_notional");
  spec.max_position = reader.decimal("max_position");
  spec.price_band_bps = static_cast<std::uint32_t>(reader.integer("price_band_bps", 0, 1, 10'000));
  if (spec.price_band_bps == 0) reader.fail(nullptr, "price_band_bps", "is required");
  spec.max_open_orders = static_cast<std::uint32_t>(reader.integer("max_open_orders", 0, 1, 1'000'000));
  if (spec.max_open_orders == 0) reader.fail(nullptr, "max_open_orders", "is required");
  spec.max_quote_age_ns = reader.duration("max_quote_age", 0);
  if (spec.max_quote_age_ns == 0) reader.fail(nullptr, "max_quote_age", "is required");
  reader.reject_unknown();
  return spec;
}

void read_audit(TableReader& reader, AuditConfig& audit) {
  audit.path = reader.string("path", "");
  audit.enabled = !audit.path.empty();
  audit.fsync = reader.string("fsync", audit.fsync);
  if (audit.fsync != "always" && audit.fsync != "interval" && audit.fsync != "never") {
    reader.fail(reader.find("fsync"), "fsync", "must be \"always\", \"interval\" or \"never\"");
  }
  audit.fsync_interval_ns = reader.duration("fsync_interval", audit.fsync_interval_ns);
  audit.max_bytes = static_cast<std::uint64_t>(reader.integer("max_bytes", static_cast<std::int64_t>(audit.max_bytes), 0,
                                                              INT64_MAX));
  const std::int64_t capacity = reader.integer("queue_capacity", audit.queue_capacity, 64, 1 << 24);
  if ((capacity & (capacity - 1)) != 0) reader.fail(reader.find("queue_capacity"), "queue_capacity", "must be a power of two");
  audit.queue_capacity = static_cast<std::uint32_t>(capacity);
  audit.hmac_key_env = reader.string("hmac_key_env", "");
  reader.reject_unknown();
}

void read_http(TableReader& reader, HttpConfig& http) {
  const std::string listen = reader.string("listen", "");
  const std::string tls_cert = reader.string("tls_cert", "");
  const std::string tls_key = reader.string("tls_key", "");
  if (tls_cert.empty() != tls_key.empty()) {
    const char* missing = tls_cert.empty() ? "tls_cert" : "tls_key";
    reader.fail(reader.find(tls_cert.empty() ? "tls_key" : "tls_cert"), missing,
                "tls_cert and tls_key go together: set both (PEM files) for HTTPS, or neither");
  }
  std::vector<std::string> host_names = reader.strings("host_names", {});
  for (const std::string& name : host_names) {
    const bool valid = !name.empty() && name.size() <= 253 && std::all_of(name.begin(), name.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == ':';
    });
    if (!valid) {
      reader.fail(reader.find("host_names"), "host_names",
                  "each entry must be a host name or IP address without port or scheme (letters, digits, '-', '.', ':')");
    }
  }
  if (!listen.empty()) {
    try {
      http = parse_http_listen(listen);
    } catch (const ConfigError& error) {
      reader.fail(reader.find("listen"), "listen", error.what());
    }
  }
  http.host_names = std::move(host_names);
  http.tls_cert = tls_cert;
  http.tls_key = tls_key;
  reader.reject_unknown();
}

void read_cluster(TableReader& reader, ClusterConfig& cluster) {
  cluster.enabled = true;
  const std::string url = reader.required_string("redis");
  try {
    cluster.redis = cluster::parse_redis_url(url);
    cluster::require_supported(cluster.redis);
  } catch (const cluster::ClusterConfigError& error) {
    // The message names the problem, never the URL (it could hold a password).
    std::string problem = error.what();
    constexpr std::string_view prefix = "cluster.redis: ";
    if (problem.rfind(prefix, 0) == 0) problem.erase(0, prefix.size());
    reader.fail(reader.find("redis"), "redis", problem);
  }
  cluster.name = reader.required_string("name");
  try {
    cluster::validate_member_name(cluster.name);
  } catch (const cluster::ClusterConfigError&) {
    reader.fail(reader.find("name"), "name",
                "must be 1 to 64 letters, digits, '-', '_' or '.', unique for each gateway process");
  }
  cluster.password_env = reader.string("password_env", "");
  if (const toml::node* node = reader.find("password_env"); node != nullptr) {
    bool valid = !cluster.password_env.empty();
    for (const char c : cluster.password_env) {
      if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) valid = false;
    }
    if (!valid) {
      reader.fail(node, "password_env",
                  "must be a credential name (upper case letters, digits and '_', e.g. \"REDIS_PASSWORD\"), resolved "
                  "through [secrets]; never the password itself");
    }
  }
  if (!cluster.redis.username.empty() && cluster.password_env.empty()) {
    reader.fail(reader.find("redis"), "redis", "a user in the URL needs a password: set cluster.password_env");
  }
  cluster.fail_after_ns = reader.duration("fail_after", cluster.fail_after_ns);
  if (cluster.fail_after_ns < 100'000'000 || cluster.fail_after_ns > 60'000'000'000) {
    reader.fail(reader.find("fail_after"), "fail_after", "must be between 100ms and 60s");
  }
  const std::string loss = reader.string("on_redis_loss", "reducing");
  if (loss == "reducing") {
    cluster.on_redis_loss = guards::TradingState::reducing;
  } else if (loss == "halted") {
    cluster.on_redis_loss = guards::TradingState::halted;
  } else {
    reader.fail(reader.find("on_redis_loss"), "on_redis_loss", "must be \"reducing\" or \"halted\"");
  }
  cluster.share_budgets = reader.boolean("share_budgets", cluster.share_budgets);
  cluster.budget_slice_percent =
      static_cast<int>(reader.integer("budget_slice_percent", cluster.budget_slice_percent, 1, 50));
  cluster.share_principal_budgets = reader.boolean("share_principal_budgets", cluster.share_principal_budgets);
  cluster.share_exposure = reader.boolean("share_exposure", cluster.share_exposure);
  cluster.exposure_headroom_percent =
      static_cast<int>(reader.integer("exposure_headroom_percent", cluster.exposure_headroom_percent, 1, 50));
  reader.reject_unknown();
}

void read_secrets(TableReader& reader, security::CredentialConfig& credentials, const std::string& source) {
  credentials.use_process_environment = reader.boolean("use_environment", true);
  credentials.systemd_credentials = reader.boolean("systemd_credentials", false);
  const std::string dotenv = reader.string("dotenv", "");
  if (!dotenv.empty()) credentials.dotenv_file = dotenv;
  for (const std::string& file : reader.strings("files", {})) credentials.secrets_files.emplace_back(file);
  if (const toml::array* encrypted = reader.array_of_tables("encrypted_files")) {
    std::size_t index = 0;
    for (const toml::node& node : *encrypted) {
      TableReader entry(*node.as_table(), reader.full("encrypted_files") + "[" + std::to_string(index++) + "]", source);
      security::EncryptedSecretsFile file;
      file.path = entry.required_string("path");
      file.key_env = entry.required_string("key_env");
      entry.reject_unknown();
      credentials.encrypted_files.push_back(std::move(file));
    }
  }
  reader.reject_unknown();
}

void read_principal(TableReader& reader, PrincipalConfig& principal, PrincipalAuth& auth) {
  principal.policy.name = reader.required_string("name");
  auth.name = principal.policy.name;
  const toml::node* token = reader.find("token_sha256");
  if (token != nullptr) {
    if (!token->is_string()) reader.fail(token, "token_sha256", "expected 64 hex digits");
    const auto digest = security::sha256_from_hex(*token->value<std::string_view>());
    if (!digest) {
      reader.fail(token, "token_sha256",
                  "expected the SHA-256 of the token as 64 hex digits (make one with 'ordergate token new')");
    }
    auth.token_sha256 = *digest;
    auth.has_token = true;
  }
  principal.policy.permissions = reader.strings("permissions", {});
  principal.policy.accounts = reader.strings("accounts", {});
  principal.policy.symbols = reader.strings("symbols", {});
  principal.policy.order_types = reader.strings("order_types", {});
  principal.policy.max_quantity = reader.optional_decimal("max_quantity");
  principal.rate_limits = reader.strings("rate_limits", {});
  check_rate_windows(reader, "rate_limits", principal.rate_limits);
  principal.cancel_rate_limits = reader.strings("cancel_rate_limits", principal.cancel_rate_limits);
  check_rate_windows(reader, "cancel_rate_limits", principal.cancel_rate_limits);
  principal.modify_rate_limits = reader.strings("modify_rate_limits", principal.modify_rate_limits);
  check_rate_windows(reader, "modify_rate_limits", principal.modify_rate_limits);
  principal.session_ttl_ns = reader.duration("session_ttl", principal.session_ttl_ns);
  principal.max_orders_per_day = static_cast<std::uint32_t>(reader.integer("max_orders_per_day", 0, 0, 1'000'000'000));
  principal.max_cancels_per_day = static_cast<std::uint32_t>(reader.integer("max_cancels_per_day", 0, 0, 1'000'000'000));
  auth.cancel_on_disconnect = reader.boolean("cancel_on_disconnect", false);
  reader.reject_unknown();
}

ProcessConfig read_root(const toml::table& root, const std::string& source) {
  ProcessConfig config;
  config.source = source;
  TableReader reader(root, "", source);
  config.environment = reader.string("environment", "development");
  if (config.environment != "development" && config.environment != "staging" &&
      config.environment != "production") {
    reader.fail(reader.find("environment"), "environment", "must be \"development\", \"staging\" or \"production\"");
  }
  config.credentials.environment = *security::parse_environment(config.environment);
  if (const toml::table* gateway = reader.table("gateway")) {
    TableReader section(*gateway, "gateway", source);
    read_gateway(section, config);
  }
  if (const toml::table* brokers = reader.table("brokers")) {
    TableReader section(*brokers, "brokers", source);
    for (const auto& [key, node] : *brokers) {
      const std::string name(key.str());
      if (name == server_detail::kEmbeddedPaperBroker) {
        section.fail(&node, name, "\"paper\" is the built-in paper broker; choose another name");
      }
      if (!node.is_table()) section.fail(&node, name, "expected a table [brokers." + name + "]");
      section.find(name);
      TableReader broker(*node.as_table(), "brokers." + name, source);
      config.brokers.push_back(server_detail::read_broker(broker, name));
    }
  }
  if (const toml::array* instruments = reader.array_of_tables("instruments")) {
    std::size_t index = 0;
    for (const toml::node& node : *instruments) {
      TableReader section(*node.as_table(), "instruments[" + std::to_string(index++) + "]", source);
      config.gateway.instruments.push_back(read_instrument(section));
    }
  }
  if (const toml::array* accounts = reader.array_of_tables("accounts")) {
    std::size_t index = 0;
    for (const toml::node& node : *accounts) {
      TableReader section(*node.as_table(), "accounts[" + std::to_string(index++) + "]", source);
      AccountSpec account;
      account.name = section.required_string("name");
      account.broker = section.required_string("broker");
      const bool known = account.broker == server_detail::kEmbeddedPaperBroker ||
                         std::any_of(config.brokers.begin(), config.brokers.end(),
                                     [&](const BrokerEntry& broker) { return broker.name == account.broker; });
      if (!known) {
        section.fail(section.find("broker"), "broker",
                     "unknown broker '" + account.broker + "': use \"paper\" or define [brokers." + account.broker + "]");
      }
      account.currency = section.string("currency", "");
      const auto positive = [&](const char* key) {
        const std::optional<Decimal> value = section.optional_decimal(key);
        if (value && !value->is_positive()) section.fail(section.find(key), key, "must be positive (omit it for no limit)");
        return value.value_or(Decimal{});
      };
      account.max_gross_notional = positive("max_gross_notional");
      account.max_net_notional = positive("max_net_notional");
      account.max_daily_loss = positive("max_daily_loss");
      account.halt_daily_loss = positive("halt_daily_loss");
      section.reject_unknown();
      config.gateway.accounts.push_back(account);
    }
  }
  if (const toml::table* secrets = reader.table("secrets")) {
    TableReader section(*secrets, "secrets", source);
    read_secrets(section, config.credentials, source);
  }
  if (const toml::table* audit = reader.table("audit")) {
    TableReader section(*audit, "audit", source);
    read_audit(section, config.audit);
  }
  if (const toml::table* http = reader.table("http")) {
    TableReader section(*http, "http", source);
    read_http(section, config.http);
  }
  if (const toml::table* cluster = reader.table("cluster")) {
    TableReader section(*cluster, "cluster", source);
    read_cluster(section, config.cluster);
  }
  bool state_configured = false;
  if (const toml::table* state = reader.table("state")) {
    TableReader section(*state, "state", source);
    config.gateway.state_path = section.required_string("path");
    section.reject_unknown();
    state_configured = true;
  }
  if (!state_configured && config.audit.enabled) {
    // Beside the journal: a deployment that keeps an audit trail keeps the
    // operator's decisions too, without a second setting to forget.
    const std::filesystem::path journal(config.audit.path);
    config.gateway.state_path =
        (journal.has_parent_path() ? journal.parent_path() : std::filesystem::path(".")) / "ordergate.state";
  }
  if (const toml::table* paper = reader.table("paper")) {
    TableReader section(*paper, "paper", source);
    server_detail::read_embedded_paper(section, config.gateway.paper, source);
  }
  if (const toml::array* principals = reader.array_of_tables("principals")) {
    std::size_t index = 0;
    for (const toml::node& node : *principals) {
      TableReader section(*node.as_table(), "principals[" + std::to_string(index++) + "]", source);
      PrincipalConfig principal;
      PrincipalAuth auth;
      read_principal(section, principal, auth);
      config.gateway.principals.push_back(std::move(principal));
      config.auth.push_back(std::move(auth));
    }
  }
  reader.reject_unknown();
  if (config.gateway.instruments.empty()) reader.fail(nullptr, "instruments", "at least one [[instruments]] is required");
  if (config.gateway.accounts.empty()) reader.fail(nullptr, "accounts", "at least one [[accounts]] is required");
  if (config.gateway.principals.empty()) reader.fail(nullptr, "principals", "at least one [[principals]] is required");
  for (std::size_t i = 0; i < config.auth.size(); ++i) {
    if (!config.auth[i].has_token) {
      throw ConfigError(source + ": principal '" + config.auth[i].name +
                        "' has no token_sha256; make one with 'ordergate token new --principal " +
                        config.auth[i].name + "'");
    }
  }
  return config;
}

}  // namespace

HttpConfig parse_http_listen(std::string_view listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == listen.size()) {
    throw ConfigError("expected \"HOST:PORT\", e.g. \"127.0.0.1:9464\"");
  }
  std::string_view host = listen.substr(0, colon);
  const std::string_view port_text = listen.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') throw ConfigError("expected \"[IPV6]:PORT\", e.g. \"[::1]:9464\"");
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    throw ConfigError("an IPv6 address goes in brackets: \"[::1]:9464\"");
  }
  unsigned port = 0;
  const auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc{} || end != port_text.data() + port_text.size() || port > 65535) {
    throw ConfigError("the port must be a number from 0 to 65535 (0: any free port)");
  }
  HttpConfig http;
  http.enabled = true;
  http.address = host == "localhost" ? std::string("127.0.0.1") : std::string(host);
  http.port = static_cast<std::uint16_t>(port);
  boost::system::error_code parse_error;
  const boost::asio::ip::address address = boost::asio::ip::make_address(http.address, parse_error);
  if (parse_error) throw ConfigError("'" + http.address + "' is not an IP address (host names are not looked up)");
  http.loopback = address.is_loopback();
  return http;
}

bool parse_duration(std::string_view text, std::int64_t& nanoseconds) noexcept {
  std::int64_t count = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), count);
  if (error != std::errc{} || end == text.data() || count < 0) return false;
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  std::int64_t scale = 0;
  if (unit == "us") scale = 1'000;
  else if (unit == "ms") scale = 1'000'000;
  else if (unit == "s") scale = 1'000'000'000;
  else if (unit == "m") scale = 60'000'000'000;
  else if (unit == "h") scale = 3'600'000'000'000;
  else return false;
  return !__builtin_mul_overflow(count, scale, &nanoseconds);
}

ProcessConfig parse_config_text(std::string_view text, std::string_view source_name) {
  const std::string source(source_name);
  if (const auto unsafe = security::find_unsafe_toml_character(text)) {
    char code_point[16];
    (void)std::snprintf(code_point, sizeof code_point, "U+%04X", static_cast<unsigned>(unsafe->code_point));
    throw ConfigError(source + ":" + std::to_string(unsafe->line) + ": character " + code_point +
                      " is not accepted in a configuration file (use ASCII)");
  }
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& error) {
    // The parser's own description may quote the offending text; report only
    // the position and a generic cause so no value can leak into logs.
    std::ostringstream message;
    message << source << ":" << error.source().begin.line << ":" << error.source().begin.column
            << ": TOML syntax error";
    throw ConfigError(message.str());
  }
  return read_root(root, source);
}

ProcessConfig load_config_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw ConfigError(path + ": cannot open the configuration file");
  std::ostringstream text;
  text << file.rdbuf();
  return parse_config_text(text.str(), path);
}

}  // namespace ordergate
