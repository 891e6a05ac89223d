#include "handlers.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "ordergate/gateway/control_state.hpp"
#include "ordergate/guards/validate.hpp"
#include "ordergate/security/token.hpp"

namespace ordergate::server_detail {
namespace {

using protocol::JsonWriter;
using protocol::Op;
using protocol::Request;

void reject(Connection& connection, const Request& request, Reason reason, std::int64_t retry_after_ns = 0) {
  protocol::write_rejected(connection.output(), request, reason, retry_after_ns);
}

void hold(const HandlerContext& context, Connection& connection, std::uint64_t sequence) {
  if (context.hold_replies) connection.hold_until_durable(sequence);
}

bool require(const HandlerContext& context, Connection& connection, const Request& request,
             guards::Permission permission) {
  if (context.gateway.has_permission(connection.principal_id, permission)) return true;
  reject(connection, request, Reason::PERMISSION_DENIED);
  return false;
}

// Keeps a replaced session for its reports if it may have working orders;
// the sweep closes it once it has none. A session that never had an order
// accepted has none, and no order table is scanned here.
void retire(Connection& connection, Session old) {
  if (connection.session_traded) {
    connection.retired.push_back({std::move(old), connection.principal, connection.cancel_on_disconnect, false});
  } else {
    old.close();
  }
}

// The read ops scan tables on the I/O thread that serves every connection:
// each connection has a budget of them.
bool within_read_budget(const HandlerContext& context, Connection& connection, const Request& request) {
  const std::int64_t wait =
      guards::gcra_consume(connection.read_budget, context.read_budget, context.clock.monotonic_ns());
  if (wait <= 0) return true;
  reject(connection, request, Reason::RATE_LIMITED, wait);
  return false;
}

const Instrument* find_instrument(const Gateway& gateway, std::string_view symbol) {
  SymbolKey key;
  if (guards::canonical_symbol_key(symbol, key) != Reason::OK) return nullptr;
  return gateway.instruments().find(key);
}

void record_throttle_summary(HandlerContext& context, std::uint32_t uid, HelloThrottle::Cell& cell,
                             std::int64_t now) {
  const std::uint64_t count = cell.throttled_unreported;
  cell.throttled_unreported = 0;
  cell.last_summary_ns = now;
  cell.summarized = true;
  const std::string detail = "throttled " + std::to_string(count);
  context.log.line("warn", "hello_throttled", "uid=" + std::to_string(uid) + " count=" + std::to_string(count));
  if (context.audit == nullptr) return;
  AuditEvent event;
  event.type = AuditEventType::hello_refused;
  event.reason = Reason::RATE_LIMITED;
  event.peer_uid = uid;
  event.detail.assign(detail);
  event.time_ns = context.clock.wall_ns();
  context.audit->record(event);
}

// A failed hello: wrong token, or the principal disabled. Each one counts
// towards the connection's error budget. Within the peer uid's budget it is
// audited and logged; past it, it is answered RATE_LIMITED and only counted,
// for one summary record per window.
void refuse_hello(HandlerContext& context, Connection& connection, const Request& request) {
  HelloThrottle& throttle = context.hello_throttle;
  HelloThrottle::Cell& cell = throttle.by_uid[connection.peer_uid];
  const std::int64_t now = context.clock.monotonic_ns();
  if (const std::int64_t wait = guards::gcra_consume(cell.cell, throttle.params, now); wait > 0) {
    ++cell.throttled_unreported;
    if (!cell.summarized || now - cell.last_summary_ns >= throttle.window_ns) {
      record_throttle_summary(context, connection.peer_uid, cell, now);
    }
    reject(connection, request, Reason::RATE_LIMITED, wait);
  } else {
    context.log.line("warn", "hello_refused", "conn=" + std::to_string(connection.number()) +
                                                  " uid=" + std::to_string(connection.peer_uid));
    audit_connection_event(context.audit, context.clock, AuditEventType::hello_refused, connection,
                           Reason::UNAUTHENTICATED, "bad token");
    reject(connection, request, Reason::UNAUTHENTICATED);
  }
  connection.count_error();
}

// Holds the reply until the verdict's audit record is written; a refusal
// is answered (and copied to the drop copy) here. True if accepted.
bool settled(HandlerContext& context, Connection& connection, const Request& request, const Verdict& verdict) {
  hold(context, connection, verdict.audit_sequence);
  if (verdict.accepted()) return true;
  reject(connection, request, verdict.reason, verdict.retry_after_ns);
  if (context.drop_copy != nullptr) context.drop_copy->rejection(connection, request, verdict.reason);
  return false;
}

// Opens the `accepted` reply to `op`, echoing the request's id.
void begin_accepted(JsonWriter& json, std::string_view op, const Request& request) {
  json.begin().string("type", "accepted").string("op", op);
  if (!request.id_json.empty()) json.raw("id", request.id_json);
}

}  // namespace

void handle_line(HandlerContext& context, Connection& connection, std::string_view line) {
  Request request;
  protocol::DecodeError error;
  if (!context.decoder.decode(line, request, error)) {
    if (error.reject_reason != Reason::OK) {
      reject(connection, request, error.reject_reason);
    } else {
      protocol::write_error(connection.output(), request.id_json, error.code, error.message);
    }
    connection.count_error();
    return;
  }
  if (request.op != Op::hello && request.op != Op::bye) {
    // Revocation, expiry and disabling apply to every op at once, not only
    // to orders: a revoked admin session must not resume trading.
    const Reason status = connection.session.status();
    if (status != Reason::OK) {
      reject(connection, request, status);
      return;
    }
  }
  switch (request.op) {
    case Op::hello: return handle_hello(context, connection, request);
    case Op::submit: return handle_submit(context, connection, request);
    case Op::cancel: return handle_cancel(context, connection, request);
    case Op::replace: return handle_replace(context, connection, request);
    case Op::cancel_all: return handle_cancel_all(context, connection, request);
    case Op::orders: return handle_orders(context, connection, request);
    case Op::positions: return handle_positions(context, connection, request);
    case Op::ping: return handle_ping(context, connection, request);
    case Op::bye: return handle_bye(context, connection, request);
    case Op::halt:
    case Op::reduce:
    case Op::resume:
    case Op::disable_principal:
    case Op::enable_principal:
    case Op::revoke_sessions:
    case Op::reload:
      return handle_admin(context, connection, request);
    case Op::subscribe:
      return handle_subscribe(context, connection, request);
  }
}

void handle_hello(HandlerContext& context, Connection& connection, const Request& request) {
  Gateway& gateway = context.gateway;
  // Compare against every principal so timing does not tell which matched.
  const std::optional<security::Sha256Digest> presented = security::try_sha256(request.token);
  const PrincipalAuth* match = nullptr;
  for (const PrincipalAuth& auth : context.auth) {
    if (presented && auth.has_token && security::digest_equal(*presented, auth.token_sha256)) match = &auth;
  }
  const std::optional<PrincipalId> id = match != nullptr ? gateway.find_principal(match->name) : std::nullopt;
  if (!id || !gateway.principal_enabled(*id)) {
    refuse_hello(context, connection, request);
    return;
  }
  // This connection's session ends with this hello unless it is kept for
  // its working orders.
  std::size_t held = context.sessions_of(*id);
  if (connection.session.is_open() && connection.session.principal() == *id && !connection.session_traded) --held;
  if (held >= context.max_sessions_per_principal) {
    context.log.line("warn", "hello_refused", "conn=" + std::to_string(connection.number()) +
                                                  " principal=" + match->name + " why=max_sessions_per_principal");
    audit_connection_event(context.audit, context.clock, AuditEventType::hello_refused, connection,
                           Reason::PERMISSION_DENIED, "max_sessions_per_principal");
    protocol::write_error(connection.output(), request.id_json, protocol::ErrorCode::too_many_sessions,
                          "this principal holds max_sessions_per_principal sessions; end one (bye) first");
    return;
  }
  try {
    Session session = gateway.open_session(match->name);
    if (connection.session.is_open()) retire(connection, std::move(connection.session));
    connection.session = std::move(session);
    connection.session_traded = false;
  } catch (const std::invalid_argument&) {
    reject(connection, request, Reason::UNAUTHENTICATED);
    return;
  }
  connection.principal = match->name;
  connection.principal_id = *id;
  connection.cancel_on_disconnect = match->cancel_on_disconnect;
  audit_connection_event(context.audit, context.clock, AuditEventType::hello_accepted, connection, Reason::OK, "");
  context.log.line("info", "hello",
                   "conn=" + std::to_string(connection.number()) + " principal=" + connection.principal);
  JsonWriter json(connection.output());
  json.begin().string("type", "welcome");
  if (!request.id_json.empty()) json.raw("id", request.id_json);
  const std::int64_t remaining = connection.session.expires_at_ns() - context.clock.monotonic_ns();
  json.string("principal", connection.principal).integer("expires_in", remaining / kNanosPerSecond).end();
}

void handle_submit(HandlerContext& context, Connection& connection, const Request& request) {
  // An unhealthy journal is refused by the engine itself (AUDIT_UNAVAILABLE).
  const Verdict verdict = connection.session.submit(protocol::to_order_request(request));
  if (!settled(context, connection, request, verdict)) return;
  connection.session_traded = true;
  connection.awaiting_reports = true;
  JsonWriter json(connection.output());
  begin_accepted(json, "submit", request);
  json.string("cl_ord_id", request.cl_ord_id).integer("order_id", verdict.order_id).end();
}

void handle_cancel(HandlerContext& context, Connection& connection, const Request& request) {
  if (!settled(context, connection, request, connection.session.cancel(request.cl_ord_id))) return;
  connection.awaiting_reports = true;
  JsonWriter json(connection.output());
  begin_accepted(json, "cancel", request);
  json.string("cl_ord_id", request.cl_ord_id).end();
}

void handle_replace(HandlerContext& context, Connection& connection, const Request& request) {
  const Verdict verdict = connection.session.replace(protocol::to_replace_request(request));
  if (!settled(context, connection, request, verdict)) return;
  connection.session_traded = true;
  connection.awaiting_reports = true;
  JsonWriter json(connection.output());
  begin_accepted(json, "replace", request);
  json.string("cl_ord_id", request.cl_ord_id)
      .string("new_cl_ord_id", request.new_cl_ord_id)
      .integer("order_id", verdict.order_id)
      .end();
}

void handle_cancel_all(HandlerContext& context, Connection& connection, const Request& request) {
  Gateway& gateway = context.gateway;
  if (!require(context, connection, request, guards::Permission::cancel)) return;
  CancelFilter filter;
  filter.principal = connection.principal_id;
  if (request.fields & protocol::kAccount) {
    const Account* account = gateway.accounts().find(request.account);
    if (account == nullptr) return reject(connection, request, Reason::UNKNOWN_ACCOUNT);
    filter.account = account->id;
  }
  if (request.fields & protocol::kSymbol) {
    const Instrument* instrument = find_instrument(gateway, request.symbol);
    if (instrument == nullptr) return reject(connection, request, Reason::UNKNOWN_INSTRUMENT);
    filter.instrument = instrument->id;
  }
  const std::size_t count = gateway.cancel_orders(filter);
  JsonWriter json(connection.output());
  json.begin().string("type", "accepted").string("op", "cancel_all");
  if (!request.id_json.empty()) json.raw("id", request.id_json);
  json.integer("count", static_cast<std::int64_t>(count)).end();
}

void handle_orders(HandlerContext& context, Connection& connection, const Request& request) {
  const Gateway& gateway = context.gateway;
  if (!require(context, connection, request, guards::Permission::read)) return;
  if (!within_read_budget(context, connection, request)) return;
  JsonWriter json(connection.output());
  json.begin().string("type", "orders");
  if (!request.id_json.empty()) json.raw("id", request.id_json);
  json.array_begin("orders");
  for (const OpenOrder& open : gateway.open_orders(connection.principal)) {
    const Order& order = open.order;
    json.element_begin()
        .string("cl_ord_id", order.client_order_id.view())
        .string("account", gateway.accounts()[order.account_id].name.view())
        .string("symbol", gateway.instruments()[order.instrument_id].name.view())
        .string("side", to_string(order.side))
        .string("type", to_string(order.type))
        .string("tif", to_string(order.time_in_force))
        .decimal("qty", order.quantity)
        .decimal("leaves_qty", open.leaves_quantity);
    if (!order.price.is_zero()) json.decimal("price", order.price);
    if (!order.stop_price.is_zero()) json.decimal("stop_price", order.stop_price);
    if (open.replace_pending) json.boolean("replace_pending", true);
    json.element_end();
  }
  json.array_end().end();
}

void handle_positions(HandlerContext& context, Connection& connection, const Request& request) {
  const Gateway& gateway = context.gateway;
  if (!require(context, connection, request, guards::Permission::read)) return;
  if (!within_read_budget(context, connection, request)) return;
  JsonWriter json(connection.output());
  json.begin().string("type", "positions");
  if (!request.id_json.empty()) json.raw("id", request.id_json);
  json.array_begin("positions");
  for (const Account& account : gateway.accounts().all()) {
    if (!gateway.allows_account(connection.principal_id, account.id)) continue;
    for (const Instrument& instrument : gateway.instruments().all()) {
      const auto exposure = gateway.exposure(account.name.view(), instrument.name.view());
      if (exposure.position.is_zero() && exposure.open_orders == 0) continue;
      json.element_begin()
          .string("account", account.name.view())
          .string("symbol", instrument.name.view())
          .decimal("position", exposure.position)
          .decimal("working_buy", exposure.working_buy)
          .decimal("working_sell", exposure.working_sell)
          .integer("open_orders", exposure.open_orders)
          .element_end();
    }
  }
  json.array_end();
  // Account-wide figures, for accounts with a currency (account limits).
  json.array_begin("accounts");
  for (const Account& account : gateway.accounts().all()) {
    if (account.currency.empty() || !gateway.allows_account(connection.principal_id, account.id)) continue;
    const Gateway::AccountRisk risk = gateway.account_risk(account.name.view());
    json.element_begin().string("account", account.name.view()).string("currency", risk.currency);
    if (risk.valued) json.decimal("gross_notional", risk.gross_notional).decimal("net_notional", risk.net_notional);
    if (risk.pnl_known) json.decimal("daily_pnl", risk.daily_pnl);
    const auto limit = [&](std::string_view name, Decimal value) {
      if (value.is_positive()) json.decimal(name, value);
    };
    limit("max_gross_notional", risk.max_gross_notional);
    limit("max_net_notional", risk.max_net_notional);
    limit("max_daily_loss", risk.max_daily_loss);
    limit("halt_daily_loss", risk.halt_daily_loss);
    json.string("loss_switch", guards::to_string(risk.loss_switch)).element_end();
  }
  json.array_end().end();
}

void handle_ping(HandlerContext&, Connection& connection, const Request& request) {
  protocol::write_simple(connection.output(), request, "pong");
}

void handle_bye(HandlerContext&, Connection& connection, const Request& request) {
  protocol::write_simple(connection.output(), request, "bye");
  connection.close_after_flush();
}

void handle_admin(HandlerContext& context, Connection& connection, const Request& request) {
  Gateway& gateway = context.gateway;
  if (!require(context, connection, request, guards::Permission::admin)) return;
  try {
    switch (request.op) {
      case Op::halt:
      case Op::reduce:
      case Op::resume: {
        const std::optional<TradingScope> scope = protocol::to_trading_scope(request.scope);
        if (!scope) {
          protocol::write_error(connection.output(), request.id_json, protocol::ErrorCode::invalid_field,
                                "field 'scope' must be global, account:<name> or principal:<name>");
          return;
        }
        if (context.cluster != nullptr) {
          context.cluster->set_trading_state(*scope, protocol::to_trading_state(request.op), request.cancel_orders,
                                             connection.principal);
        } else {
          gateway.set_trading_state(*scope, protocol::to_trading_state(request.op), request.cancel_orders,
                                    connection.principal);
        }
        context.log.line("warn", "trading_state",
                         "op=" + std::string(protocol::op_name(request.op)) + " by=" + connection.principal);
        if (context.drop_copy != nullptr) {
          context.drop_copy->trading_state(request.scope, protocol::to_trading_state(request.op), connection.principal);
        }
        break;
      }
      case Op::disable_principal:
        try {
          if (context.cluster != nullptr) {
            context.cluster->set_principal_enabled(request.principal, false, connection.principal);
          } else {
            gateway.set_principal_enabled(request.principal, false, connection.principal);
          }
        } catch (const ControlStateError&) {
          // Disabled in effect: its sessions end all the same.
          gateway.revoke_sessions(request.principal, connection.principal);
          throw;
        }
        gateway.revoke_sessions(request.principal, connection.principal);
        break;
      case Op::enable_principal:
        if (context.cluster != nullptr) {
          context.cluster->set_principal_enabled(request.principal, true, connection.principal);
        } else {
          gateway.set_principal_enabled(request.principal, true, connection.principal);
        }
        break;
      case Op::revoke_sessions:
        gateway.revoke_sessions(request.principal, connection.principal);
        break;
      case Op::reload: {
        std::string problem;
        if (!context.reload(problem)) {
          protocol::write_error(connection.output(), request.id_json, "RELOAD_REFUSED", problem);
          return;
        }
        break;
      }
      default:
        return;
    }
  } catch (const std::invalid_argument&) {
    protocol::write_error(connection.output(), request.id_json, protocol::ErrorCode::invalid_field,
                          "unknown account or principal");
    return;
  } catch (const ControlStateError& error) {
    // The operator must know a restart would undo (or did not get) the
    // change; the path and the system error go to the log only.
    context.log.line("error", "state_not_saved", "op=" + std::string(protocol::op_name(request.op)) +
                                                     " by=" + connection.principal + " error=\"" + error.what() + "\"");
    protocol::write_error(connection.output(), request.id_json, "STATE_NOT_SAVED",
                          error.applied() ? "in effect, but not saved: a restart would undo it (see the log)"
                                          : "not applied: it could not be saved (see the log)");
    return;
  }
  JsonWriter json(connection.output());
  json.begin().string("type", "ok").string("op", protocol::op_name(request.op));
  if (!request.id_json.empty()) json.raw("id", request.id_json);
  json.end();
}

void handle_subscribe(HandlerContext& context, Connection& connection, const Request& request) {
  const bool monitor = context.gateway.has_permission(connection.principal_id, guards::Permission::monitor);
  if (!monitor && !require(context, connection, request, guards::Permission::read)) return;
  if (context.drop_copy == nullptr) {
    protocol::write_error(connection.output(), request.id_json, protocol::ErrorCode::not_permitted_now,
                          "this gateway keeps no drop copy");
    return;
  }
  context.drop_copy->subscribe(connection, request.streams, monitor);
  std::string list = "[";
  for (const protocol::Stream stream :
       {protocol::kStreamExecutions, protocol::kStreamRejections, protocol::kStreamTradingState}) {
    if ((request.streams & stream) == 0) continue;
    if (list.size() > 1) list += ',';
    list.append("\"").append(protocol::stream_name(stream)).append("\"");
  }
  list += ']';
  JsonWriter json(connection.output());
  json.begin().string("type", "subscribed");
  if (!request.id_json.empty()) json.raw("id", request.id_json);
  json.raw("streams", list).string("scope", monitor ? "every_account" : "own_accounts").end();
}

std::vector<SessionId> sessions_with_open_orders(const Gateway& gateway, const std::string& principal) {
  std::vector<SessionId> sessions;
  if (principal.empty() || !gateway.find_principal(principal)) return sessions;
  for (const OpenOrder& open : gateway.open_orders(principal)) {
    if (std::find(sessions.begin(), sessions.end(), open.order.session_id) == sessions.end()) {
      sessions.push_back(open.order.session_id);
    }
  }
  return sessions;
}

std::size_t cancel_on_disconnect(Gateway& gateway, Connection& connection) {
  std::size_t count = 0;
  auto cancel = [&](const Session& session) {
    CancelFilter filter;
    filter.principal = session.principal();
    filter.session = session.id();
    count += gateway.cancel_orders(filter);
  };
  if (connection.cancel_on_disconnect && connection.session.is_open()) cancel(connection.session);
  connection.cancel_on_disconnect = false;
  for (auto& retired : connection.retired) {
    if (retired.cancel_on_disconnect) cancel(retired.session);
    retired.cancel_on_disconnect = false;
  }
  return count;
}

void summarize_throttled_hellos(HandlerContext& context, bool force) {
  const std::int64_t now = context.clock.monotonic_ns();
  for (auto& [uid, cell] : context.hello_throttle.by_uid) {
    if (cell.throttled_unreported == 0) continue;
    if (force || now - cell.last_summary_ns >= context.hello_throttle.window_ns) {
      record_throttle_summary(context, uid, cell, now);
    }
  }
}

void audit_connection_event(AuditSink* audit, const Clock& clock, AuditEventType type, const Connection& connection,
                            Reason reason, std::string_view detail) {
  if (audit == nullptr) return;
  AuditEvent event;
  event.type = type;
  event.reason = reason;
  event.peer_uid = connection.peer_uid;
  event.principal_id = connection.principal_id;
  event.session_id = connection.session.id();
  event.detail.assign(detail);
  event.time_ns = clock.wall_ns();
  audit->record(event);
}

}  // namespace ordergate::server_detail
