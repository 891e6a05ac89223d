#include "ordergate/server/doctor.hpp"

// toml++ asserts an invariant of its own that some malformed input breaks
// ("[;": a table header without a key), found by fuzzing the sanitizer
// build; the release build compiles the check out and then refuses the
// input as a parse error. Every file that includes toml++ defines this the
// same way, so debug and release parse alike.
#ifndef TOML_ASSERT
#define TOML_ASSERT(expr) static_cast<void>(0)
#endif
#include <toml++/toml.h>

#include "ordergate/core/clock.hpp"
#include "ordergate/core/large_array.hpp"
#include "ordergate/gateway/control_state.hpp"
#include "ordergate/security/credentials.hpp"
#include "ordergate/security/secret_file.hpp"
#include "ordergate/security/toml_text.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace ordergate {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// A key that names a credential must hold a reference (…_env, …_file) or a
// hash, never the value.
bool credential_key(std::string_view key) {
  const std::string name = lower(key);
  if (ends_with(name, "_env") || ends_with(name, "_sha256") || ends_with(name, "_file") || ends_with(name, "_path") ||
      ends_with(name, "_files")) {
    return false;
  }
  for (const char* word : {"token", "secret", "password", "passwd", "passphrase", "api_key", "apikey", "private"}) {
    if (name.find(word) != std::string::npos) return true;
  }
  return name == "key" || ends_with(name, "_key");
}

// Long strings from a key alphabet (base64, hex) look like pasted secrets.
bool looks_like_secret(std::string_view value) {
  if (value.size() < 32) return false;
  std::size_t classes[3] = {0, 0, 0};
  for (char c : value) {
    if (std::isdigit(static_cast<unsigned char>(c))) ++classes[0];
    else if (std::isalpha(static_cast<unsigned char>(c))) ++classes[1];
    else if (c == '-' || c == '_' || c == '+' || c == '/' || c == '=') ++classes[2];
    else return false;
  }
  return classes[0] > 0 && classes[1] > 0;
}

void scan(const toml::node& node, const std::string& path, std::vector<CheckResult>& findings) {
  if (const toml::table* table = node.as_table()) {
    for (const auto& [key, child] : *table) {
      const std::string child_path = path.empty() ? std::string(key.str()) : path + "." + std::string(key.str());
      if (child.is_string()) {
        const std::string_view value = *child.value<std::string_view>();
        const auto line = child.source().begin.line;
        if (credential_key(key.str()) && !value.empty()) {
          findings.push_back({"literal_credentials", CheckStatus::fail,
                              "line " + std::to_string(line) + ": '" + child_path +
                                  "' holds a credential value; name a variable instead (e.g. " +
                                  std::string(key.str()) + "_env = \"NAME\") and keep the value in the environment "
                                  "or a 0600 secrets file"});
        } else if (!ends_with(child_path, "token_sha256") && looks_like_secret(value)) {
          findings.push_back({"literal_credentials", CheckStatus::warn,
                              "line " + std::to_string(line) + ": '" + child_path +
                                  "' looks like a pasted key; credentials belong in the environment or a secrets file"});
        }
      } else {
        scan(child, child_path, findings);
      }
    }
  } else if (const toml::array* array = node.as_array()) {
    std::size_t index = 0;
    for (const toml::node& child : *array) scan(child, path + "[" + std::to_string(index++) + "]", findings);
  }
}

bool has_wildcard(const std::vector<std::string>& patterns) {
  return std::any_of(patterns.begin(), patterns.end(), [](const std::string& p) { return p.find('*') != std::string::npos; });
}

bool has_permission(const guards::PrincipalSpec& spec, std::string_view permission) {
  return std::find(spec.permissions.begin(), spec.permissions.end(), permission) != spec.permissions.end();
}

}  // namespace

std::string_view to_string(CheckStatus status) noexcept {
  switch (status) {
    case CheckStatus::pass: return "PASS";
    case CheckStatus::warn: return "WARN";
    case CheckStatus::fail: return "FAIL";
  }
  return "FAIL";
}

std::vector<std::string> production_violations(const ProcessConfig& config) {
  std::vector<std::string> violations;
  if (config.environment != "production") return violations;
  if (config.source.empty() || config.source[0] == '(') {
    violations.push_back("the embedded default (with its development token) cannot run in production");
  }
  if (!config.audit.enabled) violations.push_back("audit is disabled: set [audit] path");
  if (config.audit.enabled && config.audit.fsync == "never") {
    violations.push_back("audit fsync = \"never\": use \"interval\" or \"always\"");
  }
  if (config.gateway.state_path.empty()) {
    violations.push_back("trading states and disabled principals would not survive a restart: set [state] path");
  }
  for (const PrincipalConfig& principal : config.gateway.principals) {
    if (has_wildcard(principal.policy.accounts) || has_wildcard(principal.policy.symbols)) {
      violations.push_back("principal '" + principal.policy.name +
                           "' has wildcard accounts or symbols: list them explicitly");
    }
  }
  for (const BrokerEntry& broker : config.brokers) {
    if (!broker.connection().ca_file.empty()) {
      violations.push_back("brokers." + broker.name + " trusts an extra CA file: production uses the system trust store");
    }
  }
  if (config.http.enabled && !config.http.loopback && !config.http.tls()) {
    violations.push_back("http.listen " + config.http.address +
                         " is not a loopback address and [http] has no tls_cert/tls_key: serve HTTPS, or listen on "
                         "127.0.0.1 or ::1");
  }
  if (config.server.socket_mode != 0600 && config.server.socket_mode != 0660) {
    violations.push_back("socket_mode wider than 0660");
  }
  return violations;
}

std::vector<std::pair<std::string, std::string>> doctor_credential_names(const ProcessConfig& config) {
  std::vector<std::pair<std::string, std::string>> names;
  if (!config.audit.hmac_key_env.empty()) names.emplace_back("audit.hmac_key_env", config.audit.hmac_key_env);
  for (const BrokerEntry& broker : config.brokers) {
    const std::string prefix = "brokers." + broker.name + ".";
    for (const BrokerCredential& credential : broker.credentials) {
      if (!credential.name.empty()) names.emplace_back(prefix + credential.key, credential.name);
    }
  }
  return names;
}

std::vector<CheckResult> run_doctor(const std::string& config_path, const DoctorOptions& options) {
  const bool system = options.system || config_path.starts_with("/etc/ordergate/");
  std::vector<CheckResult> results;
  std::string text;
  {
    std::ifstream file(config_path, std::ios::binary);
    if (!file) {
      results.push_back({"config", CheckStatus::fail, config_path + ": cannot open the file"});
      return results;
    }
    std::ostringstream buffer;
    buffer << file.rdbuf();
    text = buffer.str();
  }

  // Scanned before validation: a pasted secret is reported even when it
  // sits under a key the configuration does not know.
  std::vector<CheckResult> findings;
  // Text toml++ cannot be given safely is not scanned; the loader below
  // refuses it with its line.
  if (!security::find_unsafe_toml_character(text)) {
    try {
      const toml::table root = toml::parse(text, config_path);
      scan(root, "", findings);
    } catch (const toml::parse_error&) {
    }
  }

  ProcessConfig config;
  try {
    config = parse_config_text(text, config_path);
    results.push_back({"config", CheckStatus::pass, config_path + " is valid"});
  } catch (const ConfigError& error) {
    results.push_back({"config", CheckStatus::fail, error.what()});
    results.insert(results.end(), findings.begin(), findings.end());
    if (system) {
      const auto installed = check_installed_system(nullptr, options);
      results.insert(results.end(), installed.begin(), installed.end());
    }
    return results;
  }
  if (findings.empty()) {
    findings.push_back({"literal_credentials", CheckStatus::pass,
                        "no credential values in the file (tokens are stored as SHA-256 hashes)"});
  }

  // Environment named explicitly.
  const bool named = text.find("environment") != std::string::npos;
  results.push_back({"environment", named ? CheckStatus::pass : CheckStatus::warn,
                     named ? "environment = \"" + config.environment + "\""
                           : "no environment set (defaults to development): set environment = \"production\" "
                             "for a live deployment so production rules and PROD_ credentials apply"});


  results.insert(results.end(), findings.begin(), findings.end());

  // Access control.
  std::vector<std::string> problems;
  bool fail = false;
  for (const PrincipalConfig& principal : config.gateway.principals) {
    const bool admin = has_permission(principal.policy, "admin");
    const bool wildcard = has_wildcard(principal.policy.accounts) || has_wildcard(principal.policy.symbols);
    if (admin && has_permission(principal.policy, "trade")) {
      problems.push_back("'" + principal.policy.name + "' can both trade and administer: split operators from strategies");
    }
    if (wildcard) {
      problems.push_back("'" + principal.policy.name + "' has wildcard accounts or symbols");
      if (admin || config.environment == "production") fail = true;
    }
  }
  results.push_back({"access_control",
                     problems.empty() ? CheckStatus::pass : (fail ? CheckStatus::fail : CheckStatus::warn),
                     problems.empty() ? std::to_string(config.gateway.principals.size()) +
                                            " principal(s), each with a token hash, explicit allow-lists and rate limits"
                                      : [&] {
                                          std::string joined;
                                          for (const auto& p : problems) joined += (joined.empty() ? "" : "; ") + p;
                                          return joined;
                                        }()});

  // Audit.
  if (!config.audit.enabled) {
    results.push_back({"audit", config.environment == "development" ? CheckStatus::warn : CheckStatus::fail,
                       "audit is disabled: add [audit] path = \"/var/lib/ordergate/audit.jsonl\""});
  } else {
    CheckStatus status = CheckStatus::pass;
    std::string message = "journal " + config.audit.path + ", fsync " + config.audit.fsync;
    if (config.audit.max_bytes == 0) {
      status = CheckStatus::warn;
      message += "; no rotation (max_bytes = 0): set max_bytes so one file does not grow without end";
    }
    if (config.audit.fsync == "never") {
      status = config.environment == "production" ? CheckStatus::fail : CheckStatus::warn;
      message += "; fsync never can lose acknowledged records in a crash: use interval or always";
    }
    if (config.audit.hmac_key_env.empty()) message += "; chain not HMAC-keyed (optional: hmac_key_env)";
    results.push_back({"audit", status, message});
  }

  // Control state: what the operator halted or disabled survives a restart.
  if (config.gateway.state_path.empty()) {
    results.push_back({"state", config.environment == "production" ? CheckStatus::fail : CheckStatus::warn,
                       "no state file: a halt or a disabled principal is forgotten at restart; add [state] path "
                       "(or [audit] path, beside which it is kept)"});
  } else {
    try {
      const std::optional<ControlState> state = read_control_state(config.gateway.state_path);
      std::string message = "state file " + config.gateway.state_path.string();
      if (!state) {
        message += ": none yet (a first start: every scope ACTIVE, every principal enabled)";
      } else {
        message += ": global " + std::string(guards::to_string(state->global));
        for (const auto& [name, trading] : state->accounts) {
          message += ", account " + name + " " + std::string(guards::to_string(trading));
        }
        for (const auto& [name, trading] : state->principals) {
          message += ", principal " + name + " " + std::string(guards::to_string(trading));
        }
        for (const std::string& name : state->disabled_principals) message += ", principal " + name + " disabled";
      }
      results.push_back({"state", CheckStatus::pass, message});
    } catch (const ControlStateError& error) {
      results.push_back({"state", CheckStatus::fail, error.what()});
    }
  }

  // Secrets files and credential names.
  {
    std::vector<std::filesystem::path> files = config.credentials.secrets_files;
    if (config.credentials.dotenv_file) files.push_back(*config.credentials.dotenv_file);
    for (const auto& encrypted : config.credentials.encrypted_files) files.push_back(encrypted.path);
    for (const auto& file : files) {
      try {
        security::check_secret_file(file);
        results.push_back({"secret_files", CheckStatus::pass, file.string() + ": regular file, owned by us, mode 0600/0400"});
      } catch (const security::SecretFileError& error) {
        results.push_back({"secret_files", CheckStatus::fail, error.what()});
      }
    }
    if (files.empty()) {
      results.push_back({"secret_files", CheckStatus::pass,
                         config.credentials.systemd_credentials
                             ? "no secrets files configured (credentials from systemd credentials)"
                             : "no secrets files configured (credentials from the environment)"});
    }
    const std::vector<std::pair<std::string, std::string>> names = doctor_credential_names(config);
    if (!names.empty()) {
      try {
        // Outside the unit there is no $CREDENTIALS_DIRECTORY: the other
        // sources are checked here, the unit's credentials by --system.
        security::CredentialConfig credential_config = config.credentials;
        // NOLINTNEXTLINE(concurrency-mt-unsafe): the doctor is single-threaded
        const bool outside_unit = credential_config.systemd_credentials && std::getenv("CREDENTIALS_DIRECTORY") == nullptr;
        if (outside_unit) credential_config.systemd_credentials = false;
        const security::CredentialSources sources(credential_config);
        for (const auto& [key, name] : names) {
          if (const auto where = sources.source_of(name)) {
            results.push_back({"credentials", CheckStatus::pass, key + ": " + sources.variable_name(name) + " found in " + *where});
          } else if (outside_unit) {
            results.push_back({"credentials", system ? CheckStatus::warn : CheckStatus::fail,
                               key + ": " + sources.variable_name(name) +
                                   " is expected from systemd credentials; $CREDENTIALS_DIRECTORY is not set here, so " +
                                   (system ? "only the unit's LoadCredential= lines are checked (systemd_credentials)"
                                           : "run 'ordergate doctor --system' to check the unit passes it")});
          } else {
            results.push_back({"credentials", CheckStatus::fail,
                               key + ": " + sources.variable_name(name) + " is not set in any source of the " +
                                   config.environment + " environment"});
          }
        }
      } catch (const std::runtime_error& error) {
        results.push_back({"credentials", CheckStatus::fail, error.what()});
      }
    }
  }

  // Socket.
  {
    CheckStatus status = CheckStatus::pass;
    std::string message = config.server.socket_mode == 0600 ? "socket mode 0600 (owner only)"
                                                            : "socket mode 0660, group " + config.server.socket_group;
    if (config.server.allowed_uids.empty() && config.server.allowed_gids.empty()) {
      if (config.server.socket_mode == 0660) status = CheckStatus::warn;
      message += "; no peer allow-list: set allowed_uids to the strategies' users";
    } else {
      message += "; peers limited to allowed_uids/allowed_gids";
    }
    results.push_back({"socket", status, message});
  }

  // TLS and brokers.
  if (config.brokers.empty()) {
    results.push_back({"tls", CheckStatus::pass, "only the embedded paper broker is configured (no network connections)"});
  }
  for (const BrokerEntry& broker : config.brokers) {
    const auto& connection = broker.connection();
    CheckStatus status = CheckStatus::pass;
    std::string message = "brokers." + broker.name + ": " + connection.base_url + ", TLS 1.2+, peer and host name verified";
    if (!connection.ca_file.empty()) {
      status = config.environment == "production" ? CheckStatus::fail : CheckStatus::warn;
      message += "; trusts an extra CA file (" + connection.ca_file +
                 "): only for the simulator or a private CA, never in production";
    } else {
      message += ", system trust store";
    }
    if (connection.pin.empty()) {
      if (status == CheckStatus::pass) status = CheckStatus::warn;
      message += "; no public-key pin (optional: pin = \"sha256//...\")";
    }
    results.push_back({"tls", status, message});
  }

  results.push_back(huge_pages_check(transparent_huge_pages_mode()));
  results.push_back(clock_check(default_clock_name()));

  // Production rules.
  for (const std::string& violation : production_violations(config)) {
    results.push_back({"production", CheckStatus::fail, violation});
  }
  if (config.environment == "production" && production_violations(config).empty()) {
    results.push_back({"production", CheckStatus::pass, "every production rule holds"});
  }
  if (system) {
    const auto installed = check_installed_system(&config, options);
    results.insert(results.end(), installed.begin(), installed.end());
  }
  return results;
}

CheckResult clock_check(std::string_view clock) {
  if (clock == "tsc") {
    return {"clock", CheckStatus::pass,
            "monotonic time from the CPU's time-stamp counter, kept on CLOCK_MONOTONIC (ORDERGATE_CLOCK=system "
            "reads the kernel's clock instead)"};
  }
  return {"clock", CheckStatus::pass,
          "monotonic time through the kernel's clock (vDSO): the time-stamp counter is not the kernel's clocksource "
          "or lacks constant_tsc/nonstop_tsc, or ORDERGATE_CLOCK=system is set; each read costs about 15 ns more"};
}

CheckResult huge_pages_check(std::string_view mode) {
  if (mode == "always" || mode == "madvise") {
    return {"huge_pages", CheckStatus::pass,
            "transparent huge pages: " + std::string(mode) + " (the duplicate index and the order records use them)"};
  }
  const std::string fix =
      "the duplicate index and the order records stay on 4 KiB pages and each order pays TLB misses; "
      "set /sys/kernel/mm/transparent_hugepage/enabled to madvise";
  if (mode == "never") return {"huge_pages", CheckStatus::warn, "transparent huge pages: never: " + fix};
  return {"huge_pages", CheckStatus::warn, "transparent huge pages: mode unknown: " + fix};
}

}  // namespace ordergate
