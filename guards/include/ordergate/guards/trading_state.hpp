#pragma once

/// \file
/// Guard 3: the kill switch. A trading state at global, account and principal
/// scope; the most restrictive one applies. Cancels are never blocked.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "ordergate/core/order.hpp"
#include "ordergate/core/reason.hpp"

namespace ordergate::guards {

/// Ordered from least to most restrictive.
enum class TradingState : std::uint8_t { active = 0, reducing = 1, halted = 2 };

[[nodiscard]] std::string_view to_string(TradingState state) noexcept;  ///< "ACTIVE", "REDUCING", "HALTED"
[[nodiscard]] std::optional<TradingState> parse_trading_state(std::string_view text) noexcept;

/// Lock-free table of trading states. Reads and writes are single atomic
/// byte operations; safe from any thread.
class KillSwitch {
 public:
  KillSwitch(std::size_t accounts, std::size_t principals);

  void set_global(TradingState state) noexcept;
  void set_account(AccountId id, TradingState state) noexcept;
  void set_principal(PrincipalId id, TradingState state) noexcept;

  [[nodiscard]] TradingState global() const noexcept;
  [[nodiscard]] TradingState account(AccountId id) const noexcept;
  [[nodiscard]] TradingState principal(PrincipalId id) const noexcept;

  /// The most restrictive of the global, account and principal states.
  /// Unknown ids count as HALTED (fail closed).
  [[nodiscard]] TradingState effective(AccountId account, PrincipalId principal) const noexcept;

 private:
  std::atomic<TradingState> global_{TradingState::active};
  std::unique_ptr<std::atomic<TradingState>[]> accounts_;
  std::unique_ptr<std::atomic<TradingState>[]> principals_;
  std::size_t account_count_;
  std::size_t principal_count_;
};

/// TRADING_HALTED when `state` is HALTED, otherwise OK. REDUCING is enforced
/// exactly by `ExposureBook::reserve` with `reduce_only = true`, because
/// whether an order reduces depends on the position at reservation time.
[[nodiscard]] constexpr Reason check_trading_state(TradingState state) noexcept {
  return state == TradingState::halted ? Reason::TRADING_HALTED : Reason::OK;
}

}  // namespace ordergate::guards
