#pragma once
/// \file
/// The operator's decisions a restart must not forget: trading states of
/// every scope and disabled principals, kept in a small state file
/// (`GatewayConfig::state_path`). The gateway writes it, atomically and
/// fsync'd, before an admin change returns, and restores it before it opens
/// its first session. Edge code: allocates, does I/O, throws.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>

#include "ordergate/core/decimal.hpp"
#include "ordergate/guards/trading_state.hpp"

namespace ordergate {

/// Thrown when the state file cannot be read, is damaged, or cannot be
/// written. The message names the file and says what to do; it never holds
/// a secret (the file has none).
class ControlStateError : public std::runtime_error {
 public:
  explicit ControlStateError(const std::string& message, bool applied = false)
      : std::runtime_error(message), applied_(applied) {}
  /// For an admin change that could not be saved: true when it is in
  /// effect anyway (it tightened a guard: halting is never refused), false
  /// when it was not applied (it would have loosened one).
  [[nodiscard]] bool applied() const noexcept { return applied_; }

 private:
  bool applied_;
};

/// Trading states and disabled principals by name. Scopes that are ACTIVE
/// and principals that are enabled are not listed. Names the configuration
/// no longer has are kept, so a principal or account that comes back later
/// comes back as the operator left it.
struct ControlState {
  guards::TradingState global = guards::TradingState::active;
  std::map<std::string, guards::TradingState> accounts;
  std::map<std::string, guards::TradingState> principals;
  std::set<std::string> disabled_principals;

  friend bool operator==(const ControlState&, const ControlState&) = default;
};

/// The file's text for `state` (what `write_control_state` writes).
[[nodiscard]] std::string format_control_state(const ControlState& state);

/// Parses a state file's text; `where` names it in errors. Throws
/// ControlStateError unless `text` is exactly what `format_control_state`
/// writes for some state.
[[nodiscard]] ControlState parse_control_state(std::string_view text, const std::string& where);

/// The state in `path`; nullopt when the file does not exist (a first
/// start). Throws ControlStateError when it cannot be read or is not a
/// state file this version wrote whole (its check line covers every byte).
[[nodiscard]] std::optional<ControlState> read_control_state(const std::filesystem::path& path);

/// Replaces `path` with `state`: written to a temporary file beside it,
/// fdatasync'd, renamed over it, and the directory fsync'd, so a crash at any
/// point leaves either the old state or the new one, never a mix. Mode 0600,
/// never through a symlink. Throws ControlStateError.
void write_control_state(const std::filesystem::path& path, const ControlState& state);

/// The day's counts of the per-principal daily limits (`max_orders_per_day`,
/// `max_cancels_per_day`), which a restart must not reset. The gateway
/// checkpoints them beside the state file once a second while they change
/// and at a clean stop (`clean`), and restores them at start when they are of
/// the same trading day; after an unclean stop it adds what each principal's
/// rate windows admit in two seconds, so the restored count is never lower
/// than the true one.
struct DailyCounts {
  struct Used {
    std::uint64_t orders = 0;
    std::uint64_t cancels = 0;
    friend bool operator==(const Used&, const Used&) = default;
  };
  /// The daily loss limits of an account with a currency
  /// (`AccountSpec::max_daily_loss`): what its limits did today.
  struct Loss {
    guards::TradingState switched = guards::TradingState::active;  ///< the state they set and still own
    guards::TradingState reached = guards::TradingState::active;   ///< the strictest limit reached, not forgiven
    int128 forgiven = 0;  ///< loss forgiven by an operator's resume, 1e-18 units of the currency
    friend bool operator==(const Loss&, const Loss&) = default;
  };
  /// The day's cash of an account in an instrument (twice the cash, 1e-18
  /// units of the quote currency) and the position it was counted with.
  struct Line {
    int128 cash2 = 0;
    std::int64_t position = 0;  ///< nano-units
    friend bool operator==(const Line&, const Line&) = default;
  };
  std::int64_t day = 0;  ///< the trading day (TradingDay::day_of)
  bool clean = false;    ///< written by a clean stop: exact
  std::map<std::string, Used> principals;
  std::map<std::string, Loss> accounts;                        ///< by account name
  std::map<std::pair<std::string, std::string>, Line> lines;  ///< by account and instrument name

  friend bool operator==(const DailyCounts&, const DailyCounts&) = default;
};

/// Where the daily counts of a state file live: `STATE_PATH.daily`.
[[nodiscard]] std::filesystem::path daily_counts_path(const std::filesystem::path& state_path);
[[nodiscard]] std::string format_daily_counts(const DailyCounts& counts);
/// Throws ControlStateError unless `text` is exactly what
/// `format_daily_counts` writes.
[[nodiscard]] DailyCounts parse_daily_counts(std::string_view text, const std::string& where);
/// nullopt when the file does not exist. Throws ControlStateError.
[[nodiscard]] std::optional<DailyCounts> read_daily_counts(const std::filesystem::path& path);
/// Atomic and durable like `write_control_state`. Throws ControlStateError.
void write_daily_counts(const std::filesystem::path& path, const DailyCounts& counts);

}  // namespace ordergate
