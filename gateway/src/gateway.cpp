// Gateway: the public facade over the engine.

#include "ordergate/gateway/gateway.hpp"

#include <chrono>
#include <thread>
#include <utility>

#include "engine.hpp"

namespace ordergate {

// ---- Gateway -------------------------------------------------------------

Gateway::Gateway(GatewayConfig config, const Clock& clock, AuditSink* audit)
    : engine_(std::make_unique<detail::Engine>(std::move(config), clock, audit)) {}
Gateway::~Gateway() = default;

void Gateway::start() { engine_->start(); }
void Gateway::reload(const GatewayConfig& config) { engine_->reload(config); }
void Gateway::stop() noexcept { engine_->stop(); }
bool Gateway::ready() const noexcept { return engine_->ready(); }
bool Gateway::poll_drop_copy(DropCopyReport& out) noexcept { return engine_->poll_drop_copy(out); }
std::uint64_t Gateway::drop_copy_lost() const noexcept { return engine_->drop_copy_lost(); }
bool Gateway::wait_ready(std::chrono::nanoseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!ready()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    // Without broker threads nothing else would get the brokers' answers.
    if (!engine_->poll_brokers()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}
bool Gateway::poll() noexcept { return engine_->poll_brokers(); }
Session Gateway::open_session(std::string_view principal) { return engine_->open_session(principal); }
void Gateway::set_trading_state(TradingScope scope, guards::TradingState state, bool cancel_working,
                                std::string_view by) {
  engine_->set_trading_state(scope, state, cancel_working, by);
}
guards::TradingState Gateway::trading_state(TradingScope scope) const { return engine_->trading_state(scope); }
void Gateway::hold_accounts(bool held) noexcept { engine_->hold_accounts(held); }
void Gateway::share_account_budgets() { engine_->share_account_budgets(); }
std::vector<Gateway::BudgetLease> Gateway::budget_leases() const { return engine_->budget_leases(); }
void Gateway::grant_budget(AccountId account, std::size_t window, std::int64_t tokens) noexcept {
  engine_->grant_budget(account, window, tokens);
}
std::int64_t Gateway::take_back_budget(AccountId account, std::size_t window) noexcept {
  return engine_->take_back_budget(account, window);
}
void Gateway::share_principal_budgets() { engine_->share_principal_budgets(); }
void Gateway::grant_principal_budget(PrincipalId principal, std::size_t window, std::int64_t tokens) noexcept {
  engine_->grant_principal_budget(principal, window, tokens);
}
std::int64_t Gateway::take_back_principal_budget(PrincipalId principal, std::size_t window) noexcept {
  return engine_->take_back_principal_budget(principal, window);
}
void Gateway::share_account_exposure() { engine_->share_account_exposure(); }
std::vector<Gateway::ExposureLease> Gateway::exposure_leases() const { return engine_->exposure_leases(); }
void Gateway::grant_exposure(AccountId account, ExposureLimit limit, InstrumentId instrument, Decimal amount) noexcept {
  engine_->grant_exposure(account, limit, instrument, amount);
}
bool Gateway::shrink_exposure(AccountId account, ExposureLimit limit, InstrumentId instrument,
                              Decimal lease) noexcept {
  return engine_->shrink_exposure(account, limit, instrument, lease);
}
void Gateway::set_trading_floor(guards::TradingState floor, std::string_view why) {
  engine_->set_trading_floor(floor, why);
}
ControlState Gateway::control_state() const { return engine_->control_state(); }
void Gateway::revoke_sessions(std::string_view principal, std::string_view by) {
  engine_->revoke_sessions(principal, by);
}
void Gateway::set_principal_enabled(std::string_view principal, bool enabled, std::string_view by) {
  engine_->set_principal_enabled(principal, enabled, by);
}
guards::ExposureBook::Snapshot Gateway::exposure(std::string_view account, std::string_view symbol) const {
  return engine_->exposure(account, symbol);
}
std::int64_t Gateway::trading_day() const noexcept { return engine_->trading_day(); }
Gateway::AccountRisk Gateway::account_risk(std::string_view account) const { return engine_->account_risk(account); }
const InstrumentTable& Gateway::instruments() const noexcept { return engine_->instruments(); }
const AccountTable& Gateway::accounts() const noexcept { return engine_->accounts(); }
Gateway::Counters Gateway::counters() const noexcept { return engine_->counters(); }
std::vector<Gateway::BrokerStatus> Gateway::brokers() const { return engine_->broker_status(); }
std::vector<Gateway::BrokerTransport> Gateway::broker_transports() const { return engine_->broker_transports(); }
std::vector<OpenOrder> Gateway::open_orders(std::string_view principal) const {
  return engine_->open_orders(principal);
}
std::string_view Gateway::principal_name(PrincipalId id) const noexcept { return engine_->principal_name(id); }
std::size_t Gateway::cancel_orders(const CancelFilter& filter) { return engine_->cancel_orders(filter); }
bool Gateway::has_permission(PrincipalId principal, guards::Permission permission) const noexcept {
  return engine_->has_permission(principal, permission);
}
std::optional<PrincipalId> Gateway::find_principal(std::string_view name) const noexcept {
  return engine_->find_principal(name);
}
bool Gateway::principal_enabled(PrincipalId principal) const noexcept { return engine_->principal_enabled(principal); }
bool Gateway::allows_account(PrincipalId principal, AccountId account) const noexcept {
  return engine_->allows_account(principal, account);
}

}  // namespace ordergate
