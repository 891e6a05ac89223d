#pragma once

/// \file
/// The pre-deployment checklist behind `ordergate doctor`, and the
/// production rules `ordergate run` enforces before it starts.

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ordergate/server/config_file.hpp"

namespace ordergate {

enum class CheckStatus { pass, warn, fail };

[[nodiscard]] std::string_view to_string(CheckStatus status) noexcept;  ///< "PASS", "WARN", "FAIL"

struct CheckResult {
  std::string name;     ///< stable, e.g. "audit"
  CheckStatus status = CheckStatus::pass;
  std::string message;  ///< what was found and what to do; never a secret value
};

/// What `ordergate doctor` checks besides the configuration file.
struct DoctorOptions {
  /// Also check the installed system (check_installed_system). On by
  /// itself for a configuration under /etc/ordergate/.
  bool system = false;
  /// Prefix of every system path: "/" on a server, an unpacked package in
  /// a test.
  std::filesystem::path root = "/";
};

/// Runs every check on a configuration file. A file that does not load is
/// one FAIL ("config") and the checks that need it are skipped.
[[nodiscard]] std::vector<CheckResult> run_doctor(const std::string& config_path, const DoctorOptions& options = {});

/// The checks of a server where the package is installed (paths under
/// `options.root`): the hardening of ordergate.service and its drop-ins
/// (when the unit is installed), owners and modes of /etc/ordergate,
/// /etc/ordergate/ordergate.toml and /var/lib/ordergate, the user and group
/// `ordergate`, and, given a configuration, that its journal, state and
/// socket lie where the sandbox lets the service write and that every
/// credential it needs is passed by the unit (LoadCredential= /
/// LoadCredentialEncrypted=) when [secrets] systemd_credentials is on.
[[nodiscard]] std::vector<CheckResult> check_installed_system(const ProcessConfig* config,
                                                              const DoctorOptions& options);

/// The "huge_pages" check, given the kernel's transparent huge page mode
/// (transparent_huge_pages_mode(): "always", "madvise", "never", or "" when
/// unknown). The order path's large tables ask for huge pages; without them
/// each order also pays TLB misses (docs/configuration.md, order_capacity).
[[nodiscard]] CheckResult huge_pages_check(std::string_view mode);

/// The "clock" check, given default_clock_name(): which source the
/// gateway's monotonic time comes from (informational; always PASS).
[[nodiscard]] CheckResult clock_check(std::string_view clock);

/// The credentials a configuration needs, as (where it is named, credential
/// name without prefix): {"brokers.oanda.token_env", "OANDA_TOKEN"}, ...
[[nodiscard]] std::vector<std::pair<std::string, std::string>> doctor_credential_names(const ProcessConfig& config);

/// What makes a configuration unfit for production: audit disabled, a
/// principal with wildcard allow-lists, no peer allow-list on a group-readable
/// socket, and so on. Empty when `config.environment` is not "production".
[[nodiscard]] std::vector<std::string> production_violations(const ProcessConfig& config);

}  // namespace ordergate
