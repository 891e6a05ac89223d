#include "ordergate/guards/trading_state.hpp"

#include <algorithm>

namespace ordergate::guards {
namespace {

bool equals_ignore_case(std::string_view a, std::string_view upper) noexcept {
  if (a.size() != upper.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != upper[i]) return false;
  }
  return true;
}

std::unique_ptr<std::atomic<TradingState>[]> make_states(std::size_t count) {
  auto states = std::make_unique<std::atomic<TradingState>[]>(count);
  for (std::size_t i = 0; i < count; ++i) states[i].store(TradingState::active, std::memory_order_relaxed);
  return states;
}

// A value outside the enum (from a cast) is stored as HALTED: fail closed.
constexpr TradingState checked(TradingState state) noexcept {
  return state <= TradingState::halted ? state : TradingState::halted;
}

}  // namespace

std::string_view to_string(TradingState state) noexcept {
  switch (state) {
    case TradingState::active: return "ACTIVE";
    case TradingState::reducing: return "REDUCING";
    case TradingState::halted: return "HALTED";
  }
  return "HALTED";
}

std::optional<TradingState> parse_trading_state(std::string_view text) noexcept {
  for (TradingState state : {TradingState::active, TradingState::reducing, TradingState::halted}) {
    if (equals_ignore_case(text, to_string(state))) return state;
  }
  return std::nullopt;
}

KillSwitch::KillSwitch(std::size_t accounts, std::size_t principals)
    : accounts_(make_states(accounts)),
      principals_(make_states(principals)),
      account_count_(accounts),
      principal_count_(principals) {}

void KillSwitch::set_global(TradingState state) noexcept {
  global_.store(checked(state), std::memory_order_release);
}

void KillSwitch::set_account(AccountId id, TradingState state) noexcept {
  if (id < account_count_) accounts_[id].store(checked(state), std::memory_order_release);
}

void KillSwitch::set_principal(PrincipalId id, TradingState state) noexcept {
  if (id < principal_count_) principals_[id].store(checked(state), std::memory_order_release);
}

TradingState KillSwitch::global() const noexcept { return global_.load(std::memory_order_acquire); }

TradingState KillSwitch::account(AccountId id) const noexcept {
  return id < account_count_ ? accounts_[id].load(std::memory_order_acquire) : TradingState::halted;
}

TradingState KillSwitch::principal(PrincipalId id) const noexcept {
  return id < principal_count_ ? principals_[id].load(std::memory_order_acquire) : TradingState::halted;
}

TradingState KillSwitch::effective(AccountId account_id, PrincipalId principal_id) const noexcept {
  return std::max({global(), account(account_id), principal(principal_id)});
}

}  // namespace ordergate::guards
