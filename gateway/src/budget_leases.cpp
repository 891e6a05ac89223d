// Shared account budgets: the leases a cluster member keeps topped up
// (Gateway::share_account_budgets, docs/cluster.md).

#include <algorithm>
#include <stdexcept>

#include "engine.hpp"

namespace ordergate::detail {

namespace {
// The configuration allows at most this many windows per scope.
constexpr std::size_t kMaxAccountWindows = 4;
}  // namespace

void Engine::share_account_budgets() {
  if (started_) throw std::logic_error("share_account_budgets is called before start");
  if (!leases_) leases_ = std::make_unique<BudgetLeaseCell[]>(accounts_.size() * kMaxAccountWindows);
}

bool Engine::take_leases(AccountId account, const std::vector<guards::RateWindow>& windows,
                         std::int64_t& retry_after_ns) noexcept {
  BudgetLeaseCell* cells = &leases_[std::size_t{account} * kMaxAccountWindows];
  const std::size_t count = std::min(windows.size(), kMaxAccountWindows);
  for (std::size_t i = 0; i < count; ++i) {
    std::int64_t tokens = cells[i].tokens.load(std::memory_order_relaxed);
    do {
      if (tokens <= 0) {
        give_back_leases(account, i);
        retry_after_ns = guards::GcraParams::from(windows[i]).emission_ns;
        return false;
      }
    } while (!cells[i].tokens.compare_exchange_weak(tokens, tokens - 1, std::memory_order_relaxed));
  }
  return true;
}

void Engine::give_back_leases(AccountId account, std::size_t windows) noexcept {
  BudgetLeaseCell* cells = &leases_[std::size_t{account} * kMaxAccountWindows];
  for (std::size_t i = 0; i < windows && i < kMaxAccountWindows; ++i) {
    cells[i].tokens.fetch_add(1, std::memory_order_relaxed);
  }
}

std::vector<Gateway::BudgetLease> Engine::budget_leases() const {
  std::vector<Gateway::BudgetLease> leases;
  if (!leases_) return leases;
  const std::vector<guards::RateWindow>& windows = current().account_limits.windows();
  for (const Account& account : accounts_.all()) {
    for (std::size_t window = 0; window < windows.size() && window < kMaxAccountWindows; ++window) {
      Gateway::BudgetLease lease;
      lease.account = account.id;
      lease.account_name = std::string(account.name.view());
      lease.window = window;
      lease.rate = windows[window];
      lease.tokens = leases_[std::size_t{account.id} * kMaxAccountWindows + window].tokens.load(
          std::memory_order_relaxed);
      leases.push_back(std::move(lease));
    }
  }
  return leases;
}

void Engine::grant_budget(AccountId account, std::size_t window, std::int64_t tokens) noexcept {
  if (!leases_ || account >= accounts_.size() || window >= kMaxAccountWindows || tokens <= 0) return;
  leases_[std::size_t{account} * kMaxAccountWindows + window].tokens.fetch_add(tokens, std::memory_order_relaxed);
}

std::int64_t Engine::take_back_budget(AccountId account, std::size_t window) noexcept {
  if (!leases_ || account >= accounts_.size() || window >= kMaxAccountWindows) return 0;
  // Never negative: submit takes only what is there.
  return leases_[std::size_t{account} * kMaxAccountWindows + window].tokens.exchange(0, std::memory_order_relaxed);
}

}  // namespace ordergate::detail
