// Shared budgets: the leases of the accounts' and principals' rate windows a
// cluster member keeps topped up (Gateway::share_account_budgets,
// Gateway::share_principal_budgets, docs/cluster.md).

#include <algorithm>
#include <stdexcept>

#include "engine.hpp"

namespace ordergate::detail {

namespace {
// The configuration allows at most this many windows per scope.
constexpr std::size_t kMaxWindows = 4;
}  // namespace

void Engine::share_account_budgets() {
  if (started_) throw std::logic_error("share_account_budgets is called before start");
  if (!leases_) leases_ = std::make_unique<BudgetLeaseCell[]>(accounts_.size() * kMaxWindows);
}

void Engine::share_principal_budgets() {
  if (started_) throw std::logic_error("share_principal_budgets is called before start");
  if (!principal_leases_) principal_leases_ = std::make_unique<BudgetLeaseCell[]>(kMaxPrincipals * kMaxWindows);
}

BudgetLeaseCell* Engine::account_lease_cells(AccountId account) const noexcept {
  if (!leases_ || account >= accounts_.size()) return nullptr;
  return &leases_[std::size_t{account} * kMaxWindows];
}

BudgetLeaseCell* Engine::principal_lease_cells(PrincipalId principal) const noexcept {
  if (!principal_leases_ || principal >= kMaxPrincipals) return nullptr;
  return &principal_leases_[std::size_t{principal} * kMaxWindows];
}

bool Engine::take_leases(BudgetLeaseCell* cells, const std::vector<guards::RateWindow>& windows,
                         std::int64_t& retry_after_ns) noexcept {
  const std::size_t count = std::min(windows.size(), kMaxWindows);
  for (std::size_t i = 0; i < count; ++i) {
    std::int64_t tokens = cells[i].tokens.load(std::memory_order_relaxed);
    do {
      if (tokens <= 0) {
        give_back_leases(cells, i);
        retry_after_ns = guards::GcraParams::from(windows[i]).emission_ns;
        return false;
      }
    } while (!cells[i].tokens.compare_exchange_weak(tokens, tokens - 1, std::memory_order_relaxed));
  }
  return true;
}

void Engine::give_back_leases(BudgetLeaseCell* cells, std::size_t windows) noexcept {
  for (std::size_t i = 0; i < windows && i < kMaxWindows; ++i) cells[i].tokens.fetch_add(1, std::memory_order_relaxed);
}

std::vector<Gateway::BudgetLease> Engine::budget_leases() const {
  std::vector<Gateway::BudgetLease> leases;
  const Snapshot& snapshot = current();
  if (leases_) {
    const std::vector<guards::RateWindow>& windows = snapshot.account_limits.windows();
    for (const Account& account : accounts_.all()) {
      for (std::size_t window = 0; window < windows.size() && window < kMaxWindows; ++window) {
        Gateway::BudgetLease lease;
        lease.account = account.id;
        lease.account_name = std::string(account.name.view());
        lease.window = window;
        lease.rate = windows[window];
        lease.tokens = account_lease_cells(account.id)[window].tokens.load(std::memory_order_relaxed);
        leases.push_back(std::move(lease));
      }
    }
  }
  if (principal_leases_) {
    for (std::size_t id = 0; id < snapshot.principals.size() && id < kForeignPrincipal; ++id) {
      const PrincipalState& principal = *snapshot.principals[id];
      if (principal.removed) continue;
      const std::vector<guards::RateWindow>& windows = principal.order_limits.windows();
      for (std::size_t window = 0; window < windows.size() && window < kMaxWindows; ++window) {
        Gateway::BudgetLease lease;
        lease.principal = true;
        lease.principal_id = static_cast<PrincipalId>(id);
        lease.principal_name = std::string(principal.policy.name());
        lease.window = window;
        lease.rate = windows[window];
        lease.tokens = principal_lease_cells(lease.principal_id)[window].tokens.load(std::memory_order_relaxed);
        leases.push_back(std::move(lease));
      }
    }
  }
  return leases;
}

namespace {

void grant(BudgetLeaseCell* cells, std::size_t window, std::int64_t tokens) noexcept {
  if (cells != nullptr && window < kMaxWindows && tokens > 0) {
    cells[window].tokens.fetch_add(tokens, std::memory_order_relaxed);
  }
}

// Never negative: submit takes only what is there.
std::int64_t take_back(BudgetLeaseCell* cells, std::size_t window) noexcept {
  return cells == nullptr || window >= kMaxWindows ? 0 : cells[window].tokens.exchange(0, std::memory_order_relaxed);
}

}  // namespace

void Engine::grant_budget(AccountId account, std::size_t window, std::int64_t tokens) noexcept {
  grant(account_lease_cells(account), window, tokens);
}

std::int64_t Engine::take_back_budget(AccountId account, std::size_t window) noexcept {
  return take_back(account_lease_cells(account), window);
}

void Engine::grant_principal_budget(PrincipalId principal, std::size_t window, std::int64_t tokens) noexcept {
  grant(principal_lease_cells(principal), window, tokens);
}

std::int64_t Engine::take_back_principal_budget(PrincipalId principal, std::size_t window) noexcept {
  return take_back(principal_lease_cells(principal), window);
}

}  // namespace ordergate::detail
