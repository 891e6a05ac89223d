#include "drop_copy.hpp"

#include <algorithm>
#include <string>

#include "ordergate/guards/validate.hpp"

namespace ordergate::server_detail {

void DropCopy::subscribe(Connection& connection, std::uint8_t streams, bool every_account) {
  for (Subscriber& subscriber : subscribers_) {
    if (subscriber.connection.lock().get() == &connection && !subscriber.ended) {
      // A second subscribe replaces the streams; the numbering goes on.
      subscriber.principal = connection.principal_id;
      subscriber.streams = streams;
      subscriber.every_account = every_account;
      return;
    }
  }
  subscribers_.push_back(Subscriber{connection.weak_from_this(), connection.principal_id, streams, every_account});
}

Connection* DropCopy::reach(Subscriber& subscriber, protocol::Stream stream, AccountId account) {
  if (subscriber.ended || (subscriber.streams & stream) == 0) return nullptr;
  std::shared_ptr<Connection> connection = subscriber.connection.lock();
  if (!connection || connection->closed()) {
    subscriber.ended = true;
    return nullptr;
  }
  // The subscription is its principal's: it ends with the session that
  // made it (a hello as another principal, a revocation, an expiry, a
  // disable), and with the permission that allowed it (a reload).
  if (connection->principal_id != subscriber.principal || connection->session.status() != Reason::OK) {
    end(subscriber, *connection, "SUBSCRIPTION_ENDED", "the session that subscribed has ended; hello and subscribe again");
    return nullptr;
  }
  subscriber.every_account = gateway_.has_permission(subscriber.principal, guards::Permission::monitor);
  if (!subscriber.every_account && !gateway_.has_permission(subscriber.principal, guards::Permission::read)) {
    end(subscriber, *connection, "SUBSCRIPTION_ENDED", "the principal no longer has read or monitor");
    return nullptr;
  }
  if (!sees(subscriber, account)) return nullptr;
  if (connection->output().size() > max_backlog_bytes_) {
    end(subscriber, *connection, "SUBSCRIPTION_DROPPED",
        "the reader fell behind; reconcile with orders and positions, then subscribe again");
    return nullptr;
  }
  Connection* raw = connection.get();
  touched_.push_back(std::move(connection));
  return raw;
}

bool DropCopy::sees(const Subscriber& subscriber, AccountId account) const noexcept {
  if (subscriber.every_account || account == kAnyAccount) return true;
  return account != kNoAccountId && gateway_.allows_account(subscriber.principal, account);
}

void DropCopy::end(Subscriber& subscriber, Connection& connection, std::string_view code, std::string_view message) {
  subscriber.ended = true;
  protocol::write_notice(connection.output(), code, message);
  touched_.push_back(connection.shared_from_this());
}

void DropCopy::deliver_executions() {
  if (const std::uint64_t lost = gateway_.drop_copy_lost(); lost != lost_seen_) {
    // Reports the gateway could not keep for us: no executions
    // subscription can say it saw everything any more.
    lost_seen_ = lost;
    for (Subscriber& subscriber : subscribers_) {
      if (subscriber.ended || (subscriber.streams & protocol::kStreamExecutions) == 0) continue;
      if (const std::shared_ptr<Connection> connection = subscriber.connection.lock(); connection && !connection->closed()) {
        end(subscriber, *connection, "DROP_COPY_LOST",
            "execution reports were lost before they could be sent; reconcile with orders and positions, then "
            "subscribe again");
      }
      subscriber.ended = true;
    }
  }
  Gateway::DropCopyReport entry;
  const AccountTable& accounts = gateway_.accounts();
  const InstrumentTable& instruments = gateway_.instruments();
  while (gateway_.poll_drop_copy(entry)) {
    const ExecutionReport& report = entry.report;
    if (observer_) observer_(entry);
    const bool has_account = report.account_id < accounts.size();
    const std::string_view account = has_account ? accounts[report.account_id].name.view() : std::string_view{};
    const std::string_view symbol =
        report.instrument_id < instruments.size() ? instruments[report.instrument_id].name.view() : std::string_view{};
    for (Subscriber& subscriber : subscribers_) {
      Connection* connection =
          reach(subscriber, protocol::kStreamExecutions, has_account ? report.account_id : kNoAccountId);
      if (connection == nullptr) continue;
      protocol::write_execution_event(connection->output(), {protocol::kStreamExecutions, ++subscriber.seq}, report,
                                      entry.principal, account, symbol);
    }
  }
  flush_and_prune();
}

void DropCopy::rejection(const Connection& connection, const protocol::Request& request, Reason reason) {
  if (subscribers_.empty()) return;
  const Account* account = gateway_.accounts().find(request.account);
  SymbolKey key;
  const Instrument* instrument =
      guards::canonical_symbol_key(request.symbol, key) == Reason::OK ? gateway_.instruments().find(key) : nullptr;
  const bool valid_id = guards::validate_client_order_id(request.cl_ord_id) == Reason::OK;
  for (Subscriber& subscriber : subscribers_) {
    Connection* target =
        reach(subscriber, protocol::kStreamRejections, account != nullptr ? account->id : kNoAccountId);
    if (target == nullptr) continue;
    protocol::JsonWriter json = protocol::begin_event(target->output(), {protocol::kStreamRejections, ++subscriber.seq});
    json.string("op", protocol::op_name(request.op)).string("principal", connection.principal);
    if (valid_id) json.string("cl_ord_id", request.cl_ord_id);
    if (account != nullptr) json.string("account", account->name.view());
    if (instrument != nullptr) json.string("symbol", instrument->name.view());
    json.string("reason", reason_name(reason)).end();
  }
  flush_and_prune();
}

void DropCopy::trading_state(std::string_view scope, guards::TradingState state, std::string_view by) {
  if (subscribers_.empty()) return;
  constexpr std::string_view kAccountScope = "account:";
  constexpr std::string_view kPrincipalScope = "principal:";
  const Account* account =
      scope.starts_with(kAccountScope) ? gateway_.accounts().find(scope.substr(kAccountScope.size())) : nullptr;
  const bool account_scope = scope.starts_with(kAccountScope);
  const bool principal_scope = scope.starts_with(kPrincipalScope);
  for (Subscriber& subscriber : subscribers_) {
    // Global: every subscriber; an account: those who may see it; a
    // principal: `monitor` and that principal itself.
    Connection* target = nullptr;
    if (account_scope) {
      target = reach(subscriber, protocol::kStreamTradingState, account != nullptr ? account->id : kNoAccountId);
    } else if (principal_scope &&
               gateway_.find_principal(scope.substr(kPrincipalScope.size())) != subscriber.principal) {
      target = reach(subscriber, protocol::kStreamTradingState, kNoAccountId);  // monitor only
    } else {
      target = reach(subscriber, protocol::kStreamTradingState, kAnyAccount);
    }
    if (target == nullptr) continue;
    protocol::JsonWriter json =
        protocol::begin_event(target->output(), {protocol::kStreamTradingState, ++subscriber.seq});
    json.string("scope", scope).string("state", guards::to_string(state)).string("by", by).end();
  }
  flush_and_prune();
}

void DropCopy::flush_and_prune() {
  std::sort(touched_.begin(), touched_.end());
  touched_.erase(std::unique(touched_.begin(), touched_.end()), touched_.end());
  for (const std::shared_ptr<Connection>& connection : touched_) connection->flush();
  touched_.clear();
  std::erase_if(subscribers_, [](const Subscriber& subscriber) { return subscriber.ended; });
}

}  // namespace ordergate::server_detail
