#include "metrics_page.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <vector>

#include "prometheus_text.hpp"

namespace ordergate::server_detail {
namespace {

std::string_view account_name(const Gateway& gateway, bool has_account, AccountId account) {
  if (!has_account || account >= gateway.accounts().size()) return {};
  return gateway.accounts()[account].name.view();
}

void decisions(PrometheusText& out, const Gateway& gateway, std::string_view name,
               const std::vector<GatewayMetrics::Decision>& counts) {
  for (const GatewayMetrics::Decision& decision : counts) {
    out.sample(name,
               {{"principal", gateway.principal_name(decision.principal)},
                {"account", account_name(gateway, decision.has_account, decision.account)},
                {"result", decision.reason == Reason::OK ? "accepted" : "rejected"},
                {"reason", reason_name(decision.reason)}},
               decision.count);
  }
}

// "50/1s", as the configuration writes windows.
std::string window_text(const guards::RateWindow& window) {
  struct Unit {
    std::int64_t ns;
    const char* name;
  };
  static constexpr Unit kUnits[] = {{3'600'000'000'000, "h"}, {60'000'000'000, "m"}, {1'000'000'000, "s"},
                                    {1'000'000, "ms"}, {1'000, "us"}, {1, "ns"}};
  std::string text = std::to_string(window.count);
  text += '/';
  for (const Unit& unit : kUnits) {
    if (window.period_ns % unit.ns == 0) {
      text += std::to_string(window.period_ns / unit.ns);
      text += unit.name;
      break;
    }
  }
  return text;
}

std::uint64_t state_value(guards::TradingState state) {
  switch (state) {
    case guards::TradingState::active: return 0;
    case guards::TradingState::reducing: return 1;
    case guards::TradingState::halted: return 2;
  }
  return 2;
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      std::array<char, 8> escaped{};
      (void)std::snprintf(escaped.data(), escaped.size(), "\\u%04x", static_cast<unsigned>(c));
      out += escaped.data();
    } else {
      out += c;
    }
  }
  out += '"';
}

std::string_view journal_text(JournalState journal) {
  switch (journal) {
    case JournalState::disabled: return "disabled";
    case JournalState::healthy: return "healthy";
    case JournalState::unhealthy: return "unhealthy";
  }
  return "unhealthy";
}

}  // namespace

std::string render_metrics(const Gateway& gateway, const GatewayMetrics& metrics, const ProcessMetrics& process) {
  PrometheusText out;
  out.family("ordergate_build_info", "gauge", "Always 1; the version of the running gateway in its label.");
  out.sample("ordergate_build_info", {{"version", process.version}}, 1);
  out.family("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch in seconds.");
  out.sample_double("process_start_time_seconds", {}, process.start_time_seconds);

  out.family("ordergate_orders_total", "counter",
             "Orders decided by submit, by principal, account, result and reason code (OK when accepted).");
  decisions(out, gateway, "ordergate_orders_total", metrics.orders);
  out.family("ordergate_cancels_total", "counter",
             "Cancels decided by the gateway, by principal, account, result and reason code (OK when accepted).");
  decisions(out, gateway, "ordergate_cancels_total", metrics.cancels);
  out.family("ordergate_replaces_total", "counter",
             "Amends (replace) decided by the gateway, by principal, account, result and reason code (OK when "
             "accepted); the broker's answer is in ordergate_executions_total (REPLACED, REPLACE_REJECTED).");
  decisions(out, gateway, "ordergate_replaces_total", metrics.replaces);
  out.family("ordergate_executions_total", "counter", "Execution reports from the brokers, by account and status.");
  for (const GatewayMetrics::Executions& executions : metrics.executions) {
    out.sample("ordergate_executions_total",
               {{"account", account_name(gateway, true, executions.account)}, {"status", to_string(executions.status)}},
               executions.count);
  }

  out.family("ordergate_bulk_cancels_total", "counter",
             "Cancels the gateway sent for many orders at once (cancel_all, a halt with cancel_orders, cancel on "
             "disconnect), by account; the sessions' own cancels are in ordergate_cancels_total.");
  for (std::size_t id = 0; id < metrics.bulk_cancels.size(); ++id) {
    out.sample("ordergate_bulk_cancels_total", {{"account", account_name(gateway, true, static_cast<AccountId>(id))}},
               metrics.bulk_cancels[id]);
  }

  out.family("ordergate_guard_latency_seconds", "histogram",
             "Time submit spent on the caller's thread, from its first clock read to the verdict; sampled: each "
             "session's first submit and one in ordergate_guard_latency_sample after.");
  std::array<double, kGuardLatencyBoundsNs.size()> bounds{};
  for (std::size_t i = 0; i < bounds.size(); ++i) bounds[i] = static_cast<double>(kGuardLatencyBoundsNs[i]) / 1e9;
  out.histogram("ordergate_guard_latency_seconds", bounds, metrics.guard_latency_buckets,
                static_cast<double>(metrics.guard_latency_sum_ns) / 1e9);

  out.family("ordergate_guard_latency_sample", "gauge",
             "The guard latency histogram times one submit in this many per session (1: every submit).");
  out.sample("ordergate_guard_latency_sample", {}, metrics.latency_sample);

  out.family("ordergate_trading_state", "gauge",
             "Trading state set for a scope (global, account:NAME, principal:NAME): 0 active, 1 reducing, 2 halted.");
  out.sample("ordergate_trading_state", {{"scope", "global"}}, state_value(metrics.global_state));
  for (std::size_t id = 0; id < metrics.account_states.size(); ++id) {
    const std::string scope = "account:" + std::string(account_name(gateway, true, static_cast<AccountId>(id)));
    out.sample("ordergate_trading_state", {{"scope", scope}}, state_value(metrics.account_states[id]));
  }
  for (std::size_t id = 0; id < metrics.principal_states.size(); ++id) {
    if (id < metrics.principal_removed.size() && metrics.principal_removed[id]) continue;
    const std::string scope = "principal:" + std::string(gateway.principal_name(static_cast<PrincipalId>(id)));
    out.sample("ordergate_trading_state", {{"scope", scope}}, state_value(metrics.principal_states[id]));
  }

  out.family("ordergate_rate_limit_remaining", "gauge",
             "Requests a principal's rate window would admit now, one after another (kind: orders, cancels or "
             "replaces).");
  for (const GatewayMetrics::RateRemaining& rate : metrics.rate_remaining) {
    out.sample("ordergate_rate_limit_remaining",
               {{"principal", gateway.principal_name(rate.principal)},
                {"kind", rate.replaces ? "replaces" : (rate.cancels ? "cancels" : "orders")},
                {"window", window_text(rate.window)}},
               static_cast<std::uint64_t>(rate.remaining < 0 ? 0 : rate.remaining));
  }

  // A cluster member's leases of the shared account budgets (docs/cluster.md).
  const std::vector<Gateway::BudgetLease> leases = gateway.budget_leases();
  if (!leases.empty()) {
    out.family("ordergate_budget_lease_tokens", "gauge",
               "Tokens of the cluster's shared budget this member holds, by account (or principal) and window "
               "(orders spend them; the member tops them up from Redis).");
    for (const Gateway::BudgetLease& lease : leases) {
      const auto tokens = static_cast<std::uint64_t>(lease.tokens < 0 ? 0 : lease.tokens);
      if (lease.principal) {
        out.sample("ordergate_budget_lease_tokens", {{"principal", lease.principal_name}, {"window", window_text(lease.rate)}},
                   tokens);
      } else {
        out.sample("ordergate_budget_lease_tokens", {{"account", lease.account_name}, {"window", window_text(lease.rate)}},
                   tokens);
      }
    }
  }

  // A cluster member's leases of the shared exposure limits (docs/cluster.md).
  const std::vector<Gateway::ExposureLease> exposure = gateway.exposure_leases();
  if (!exposure.empty()) {
    const auto exposure_family = [&](const char* name, const char* help, bool used) {
      out.family(name, "gauge", help);
      for (const Gateway::ExposureLease& lease : exposure) {
        if (used && !lease.valued) continue;
        const double value = static_cast<double>((used ? lease.used : lease.lease).raw()) /
                             static_cast<double>(Decimal::kScale);
        const std::string limit(exposure_limit_name(lease.limit));
        if (lease.symbol.empty()) {
          out.sample_double(name, {{"account", lease.account_name}, {"limit", limit}}, value);
        } else {
          out.sample_double(name, {{"account", lease.account_name}, {"limit", limit}, {"instrument", lease.symbol}},
                            value);
        }
      }
    };
    exposure_family("ordergate_exposure_lease",
                    "This member's part of a shared exposure limit, in the limit's unit (base units, orders, the "
                    "account's currency).",
                    false);
    exposure_family("ordergate_exposure_used",
                    "What this member's orders and positions use of a shared exposure limit (absent while a "
                    "notional has no usable quote).",
                    true);
  }

  out.family("ordergate_sessions", "gauge", "Open gateway sessions, by principal.");
  for (std::size_t id = 0; id < metrics.sessions_by_principal.size(); ++id) {
    if (id < metrics.principal_removed.size() && metrics.principal_removed[id]) continue;
    out.sample("ordergate_sessions", {{"principal", gateway.principal_name(static_cast<PrincipalId>(id))}},
               metrics.sessions_by_principal[id]);
  }
  out.family("ordergate_connections", "gauge", "Open client connections on the Unix socket.");
  out.sample("ordergate_connections", {}, process.connections_open);
  out.family("ordergate_connections_accepted_total", "counter", "Client connections accepted on the Unix socket.");
  out.sample("ordergate_connections_accepted_total", {}, process.connections_accepted);

  out.family("ordergate_account_ready", "gauge", "1 when the account is reconciled with its broker and may trade.");
  for (std::size_t id = 0; id < metrics.account_ready.size(); ++id) {
    out.sample("ordergate_account_ready", {{"account", account_name(gateway, true, static_cast<AccountId>(id))}},
               metrics.account_ready[id] ? 1 : 0);
  }
  // Account limits: figures in each account's currency, for accounts with one.
  std::vector<std::pair<std::string, Gateway::AccountRisk>> risks;
  for (const Account& account : gateway.accounts().all()) {
    if (!account.currency.empty()) risks.emplace_back(std::string(account.name.view()), gateway.account_risk(account.name.view()));
  }
  if (!risks.empty()) {
    const auto decimal_value = [](Decimal value) {
      return static_cast<double>(value.raw()) / static_cast<double>(Decimal::kScale);
    };
    // One gauge family in the account's currency; `value` says whether the
    // figure is known and what it is.
    const auto currency_family = [&](const char* name, const char* help, auto value) {
      out.family(name, "gauge", help);
      for (const auto& [account, risk] : risks) {
        Decimal figure;
        if (value(risk, figure)) out.sample_double(name, {{"account", account}, {"currency", risk.currency}}, decimal_value(figure));
      }
    };
    currency_family("ordergate_account_daily_pnl",
                    "The trading day's realized plus unrealized P&L at mid, in the account's currency "
                    "(absent while a quote it needs is not usable).",
                    [](const Gateway::AccountRisk& risk, Decimal& figure) {
                      figure = risk.daily_pnl;
                      return risk.pnl_known;
                    });
    currency_family("ordergate_account_gross_notional",
                    "Worst-case gross notional across instruments, in the account's currency.",
                    [](const Gateway::AccountRisk& risk, Decimal& figure) {
                      figure = risk.gross_notional;
                      return risk.valued;
                    });
    currency_family("ordergate_account_net_notional",
                    "Worst-case net notional across instruments, in the account's currency.",
                    [](const Gateway::AccountRisk& risk, Decimal& figure) {
                      figure = risk.net_notional;
                      return risk.valued;
                    });
    out.family("ordergate_account_loss_switch", "gauge",
               "The trading state the daily loss limits set and still own: 0 none, 1 reducing, 2 halted.");
    for (const auto& [name, risk] : risks) {
      out.sample("ordergate_account_loss_switch", {{"account", name}}, state_value(risk.loss_switch));
    }
  }
  out.family("ordergate_broker_connected", "gauge",
             "1 while the broker's adapter reports a live, verified connection that accepted its credentials.");
  for (std::size_t index = 0; index < metrics.broker_names.size(); ++index) {
    out.sample("ordergate_broker_connected", {{"broker", metrics.broker_names[index]}},
               index < metrics.broker_connected.size() && metrics.broker_connected[index] ? 1 : 0);
  }
  // Each adapter keeps one persistent connection to its venue (the paper
  // broker's never drops): counted by state, for dashboards that sum them.
  out.family("ordergate_broker_connections", "gauge",
             "The broker adapters' venue connections by state (connected, disconnected); one per adapter.");
  for (std::size_t index = 0; index < metrics.broker_names.size(); ++index) {
    const bool connected = index < metrics.broker_connected.size() && metrics.broker_connected[index];
    out.sample("ordergate_broker_connections", {{"broker", metrics.broker_names[index]}, {"state", "connected"}},
               connected ? 1 : 0);
    out.sample("ordergate_broker_connections", {{"broker", metrics.broker_names[index]}, {"state", "disconnected"}},
               connected ? 0 : 1);
  }
  const std::vector<Gateway::BrokerTransport> transports = gateway.broker_transports();
  if (!transports.empty()) {
    out.family("ordergate_broker_connects_total", "counter",
               "TLS connection attempts to the broker, by result: established (verified), verification_failed "
               "(certificate, host name or pin), failed (TCP or TLS), attempts (all).");
    for (const Gateway::BrokerTransport& transport : transports) {
      const BrokerTransportStats& stats = transport.stats;
      out.sample("ordergate_broker_connects_total", {{"broker", transport.name}, {"result", "attempts"}},
                 stats.connect_attempts);
      out.sample("ordergate_broker_connects_total", {{"broker", transport.name}, {"result", "established"}},
                 stats.connections_established);
      out.sample("ordergate_broker_connects_total", {{"broker", transport.name}, {"result", "verification_failed"}},
                 stats.verification_failures);
      out.sample("ordergate_broker_connects_total", {{"broker", transport.name}, {"result", "failed"}},
                 stats.connect_failures);
    }
    out.family("ordergate_broker_connections_lost_total", "counter",
               "Broker connections dropped, timed out or closed by the server.");
    for (const Gateway::BrokerTransport& transport : transports) {
      out.sample("ordergate_broker_connections_lost_total", {{"broker", transport.name}},
                 transport.stats.connections_lost);
    }
    out.family("ordergate_broker_request_failures_total", "counter",
               "Broker requests that got no response (timeout, connection lost), by kind.");
    for (const Gateway::BrokerTransport& transport : transports) {
      for (const BrokerTransportStats::Requests& requests : transport.stats.requests) {
        out.sample("ordergate_broker_request_failures_total", {{"broker", transport.name}, {"kind", requests.kind}},
                   requests.failures);
      }
    }
    out.family("ordergate_broker_rate_limit_used", "gauge",
               "A venue rate limit as the adapter counts it (Binance: weight_1m, orders_10s): used in the window now.");
    for (const Gateway::BrokerTransport& transport : transports) {
      for (const BrokerTransportStats::VenueLimit& limit : transport.stats.venue_limits) {
        out.sample("ordergate_broker_rate_limit_used", {{"broker", transport.name}, {"limit", limit.name}},
                   static_cast<std::uint64_t>(std::max<std::int64_t>(limit.used, 0)));
      }
    }
    out.family("ordergate_broker_rate_limit_headroom", "gauge",
               "What is left of a venue rate limit the adapter allows itself (limit minus used).");
    for (const Gateway::BrokerTransport& transport : transports) {
      for (const BrokerTransportStats::VenueLimit& limit : transport.stats.venue_limits) {
        out.sample("ordergate_broker_rate_limit_headroom", {{"broker", transport.name}, {"limit", limit.name}},
                   static_cast<std::uint64_t>(std::max<std::int64_t>(limit.limit - limit.used, 0)));
      }
    }
    out.family("ordergate_broker_request_seconds", "histogram",
               "Time from writing a request to the broker to its complete response, by kind (order, cancel, "
               "query, pricing, transactions, account, server_time, keepalive, holdings).");
    std::array<double, kBrokerLatencyBoundsNs.size()> broker_bounds{};
    for (std::size_t i = 0; i < broker_bounds.size(); ++i) {
      broker_bounds[i] = static_cast<double>(kBrokerLatencyBoundsNs[i]) / 1e9;
    }
    for (const Gateway::BrokerTransport& transport : transports) {
      for (const BrokerTransportStats::Requests& requests : transport.stats.requests) {
        const std::vector<MetricLabel> labels = {{"broker", transport.name}, {"kind", requests.kind}};
        out.histogram("ordergate_broker_request_seconds", labels, broker_bounds, requests.buckets,
                      static_cast<double>(requests.sum_ns) / 1e9);
      }
    }
  }

  const Readiness readiness = check_readiness(gateway, metrics, process.journal);
  out.family("ordergate_ready", "gauge", "1 when /readyz answers 200.");
  out.sample("ordergate_ready", {}, readiness.ready ? 1 : 0);

  out.family("ordergate_audit_enabled", "gauge", "1 when an audit journal is configured.");
  out.sample("ordergate_audit_enabled", {}, process.journal == JournalState::disabled ? 0 : 1);
  out.family("ordergate_audit_healthy", "gauge",
             "1 while the audit journal keeps a complete trail (0: new orders are refused AUDIT_UNAVAILABLE).");
  out.sample("ordergate_audit_healthy", {}, process.journal == JournalState::unhealthy ? 0 : 1);
  out.family("ordergate_audit_records_written_total", "counter", "Audit records the journal wrote.");
  out.sample("ordergate_audit_records_written_total", {}, process.audit_records_written);
  out.family("ordergate_audit_records_dropped_total", "counter",
             "Audit records refused because the journal's ring was full.");
  out.sample("ordergate_audit_records_dropped_total", {}, process.audit_records_dropped);
  if (process.journal != JournalState::disabled) {
    out.family("ordergate_audit_queue_depth", "gauge",
               "Audit records numbered but not yet written by the journal's writer thread.");
    out.sample("ordergate_audit_queue_depth", {}, process.audit_queue_depth);
    out.family("ordergate_audit_fsync_seconds", "histogram",
               "Time each fdatasync of the audit journal took (fsync policy always or interval).");
    std::array<double, kJournalSyncBoundsNs.size()> sync_bounds{};
    for (std::size_t i = 0; i < sync_bounds.size(); ++i) {
      sync_bounds[i] = static_cast<double>(kJournalSyncBoundsNs[i]) / 1e9;
    }
    out.histogram("ordergate_audit_fsync_seconds", sync_bounds, process.audit_syncs.buckets,
                  static_cast<double>(process.audit_syncs.sum_ns) / 1e9);
  }

  const Gateway::Counters counters = gateway.counters();
  out.family("ordergate_order_records_reclaimed_total", "counter",
             "Order records made free again after their order finished.");
  out.sample("ordergate_order_records_reclaimed_total", {}, counters.order_records_reclaimed);
  out.family("ordergate_order_records_visited_total", "counter",
             "Order records that listing and cancel-all walks looked at.");
  out.sample("ordergate_order_records_visited_total", {}, counters.order_records_visited);
  out.family("ordergate_metrics_recording", "gauge",
             "1 when the gateway records decisions and guard latency (GatewayConfig::metrics).");
  out.sample("ordergate_metrics_recording", {}, metrics.recording ? 1 : 0);
  return out.take();
}

Readiness check_readiness(const Gateway& gateway, const GatewayMetrics& metrics, JournalState journal) {
  Readiness result;
  bool ready = true;
  std::string accounts;
  std::vector<bool> broker_ready(metrics.broker_names.size(), true);
  for (std::size_t id = 0; id < metrics.account_ready.size(); ++id) {
    const bool account_ready = metrics.account_ready[id];
    ready = ready && account_ready;
    if (!accounts.empty()) accounts += ',';
    append_json_string(accounts, account_name(gateway, true, static_cast<AccountId>(id)));
    accounts += account_ready ? ":\"ready\"" : ":\"reconciling\"";
    if (id < metrics.account_broker.size() && metrics.account_broker[id] < broker_ready.size() && !account_ready) {
      broker_ready[metrics.account_broker[id]] = false;
    }
  }
  std::string brokers;
  for (std::size_t index = 0; index < metrics.broker_names.size(); ++index) {
    const bool connected = index >= metrics.broker_connected.size() || metrics.broker_connected[index];
    ready = ready && connected;
    if (!brokers.empty()) brokers += ',';
    append_json_string(brokers, metrics.broker_names[index]);
    brokers += !connected ? ":\"disconnected\"" : broker_ready[index] ? ":\"reconciled\"" : ":\"reconciling\"";
  }
  if (journal == JournalState::unhealthy) ready = false;
  result.ready = ready;
  result.json = std::string("{\"status\":\"") + (ready ? "ready" : "not_ready") + "\",\"accounts\":{" + accounts +
                "},\"brokers\":{" + brokers + "},\"journal\":\"" + std::string(journal_text(journal)) + "\"}\n";
  return result;
}

std::string health_json() { return "{\"status\":\"serving\"}\n"; }

}  // namespace ordergate::server_detail
