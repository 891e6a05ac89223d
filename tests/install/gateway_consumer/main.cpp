// Uses the installed ordergate package: builds a gateway with the paper
// broker, submits one market order, expects it accepted and FILLED, and one
// over-precise order, expected to be rejected. Exit code 0 only if all holds.

#include <chrono>
#include <cstdio>
#include <exception>
#include <string_view>
#include <thread>

#include <ordergate/gateway/config.hpp>
#include <ordergate/gateway/gateway.hpp>

namespace {

ordergate::GatewayConfig make_config() {
  using ordergate::decimal_literal;
  ordergate::GatewayConfig config;
  ordergate::InstrumentSpec eurusd;
  eurusd.name = "EUR/USD";
  eurusd.tick_size = decimal_literal("0.00001");
  eurusd.lot_step = decimal_literal("1");
  eurusd.min_quantity = decimal_literal("1");
  eurusd.max_quantity = decimal_literal("10000000");
  eurusd.max_order_quantity = decimal_literal("1000000");
  eurusd.max_notional = decimal_literal("2000000");
  eurusd.max_position = decimal_literal("5000000");
  eurusd.price_band_bps = 200;
  eurusd.max_open_orders = 100;
  eurusd.max_quote_age_ns = 60 * ordergate::kNanosPerSecond;
  config.instruments.push_back(eurusd);
  config.accounts.push_back({"paper-1", "paper"});

  ordergate::PrincipalConfig principal;
  principal.policy.name = "consumer";
  principal.policy.permissions = {"trade", "cancel"};
  principal.policy.accounts = {"paper-1"};
  principal.policy.symbols = {"EUR/USD"};
  principal.rate_limits = {"20/1s"};
  config.principals.push_back(principal);

  config.paper.quotes.push_back({"EUR/USD", decimal_literal("1.08460"), decimal_literal("1.08465")});
  config.order_capacity = 64;
  config.broker_queue_capacity = 64;
  config.max_sessions = 2;
  return config;
}

bool fail(const char* what) {
  std::fprintf(stderr, "ordergate-consumer: %s\n", what);
  return false;
}

bool run() {
  ordergate::Gateway gateway(make_config());
  gateway.start();
  ordergate::Session session = gateway.open_session("consumer");

  ordergate::OrderRequest order;
  order.account = "paper-1";
  order.symbol = "EURUSD";
  order.side = ordergate::Side::buy;
  order.type = ordergate::OrderType::market;
  order.time_in_force = ordergate::TimeInForce::ioc;
  order.quantity = ordergate::decimal_literal("10000");
  order.client_order_id = "consumer-1";
  const ordergate::Verdict verdict = session.submit(order);
  if (!verdict.accepted()) {
    std::fprintf(stderr, "ordergate-consumer: order rejected: %.*s\n",
                 static_cast<int>(ordergate::reason_name(verdict.reason).size()),
                 ordergate::reason_name(verdict.reason).data());
    return false;
  }

  bool filled = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!filled && std::chrono::steady_clock::now() < deadline) {
    ordergate::ExecutionReport report;
    if (!session.poll(report)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    if (report.order_id != verdict.order_id) continue;
    if (report.status == ordergate::ExecStatus::filled) {
      filled = report.cumulative_quantity == order.quantity;
    } else if (ordergate::is_terminal(report.status)) {
      return fail("the order ended without a fill");
    }
  }
  if (!filled) return fail("no FILLED report within 10 s");

  ordergate::OrderRequest too_precise = order;
  too_precise.quantity = ordergate::decimal_literal("10000.5");
  too_precise.client_order_id = "consumer-2";
  if (session.submit(too_precise).reason != ordergate::Reason::QUANTITY_PRECISION_EXCEEDED) {
    return fail("an over-precise quantity was not rejected with QUANTITY_PRECISION_EXCEEDED");
  }

  session.close();
  gateway.stop();
  std::puts("ordergate-consumer: accepted, filled and rejected as expected");
  return true;
}

}  // namespace

int main() {
  try {
    return run() ? 0 : 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ordergate-consumer: %s\n", error.what());
    return 1;
  }
}
