#pragma once

/// \file
/// The pre-deployment checklist behind `ordergate doctor`, and the
/// production rules `ordergate run` enforces before it starts.

#include <string>
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

/// Runs every check on a configuration file. A file that does not load is
/// one FAIL ("config") and the checks that need it are skipped.
[[nodiscard]] std::vector<CheckResult> run_doctor(const std::string& config_path);

/// What makes a configuration unfit for production: audit disabled, a
/// principal with wildcard allow-lists, no peer allow-list on a group-readable
/// socket, and so on. Empty when `config.environment` is not "production".
[[nodiscard]] std::vector<std::string> production_violations(const ProcessConfig& config);

}  // namespace ordergate
