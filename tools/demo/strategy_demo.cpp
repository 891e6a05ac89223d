// ordergate-demo: a small in-process strategy that trades EUR/USD, GBP/USD
// and USD/JPY on the embedded paper broker. It sends a stream of orders,
// some of them deliberately bad, and prints each verdict with the time
// `submit()` took, the fills as they arrive, and a latency summary.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ordergate/adapters/paper/paper_broker.hpp"
#include "ordergate/gateway/default_config.hpp"
#include "ordergate/gateway/gateway.hpp"

namespace {

using ordergate::Decimal;
using ordergate::OrderRequest;
using ordergate::OrderType;
using ordergate::Side;
using ordergate::TimeInForce;

struct Step {
  const char* what;  // what the order is meant to show
  OrderRequest request;
};

OrderRequest market(const char* symbol, Side side, const char* qty, const char* id) {
  OrderRequest request;
  request.account = "paper";
  request.symbol = symbol;
  request.side = side;
  request.type = OrderType::market;
  request.time_in_force = TimeInForce::ioc;
  request.quantity = ordergate::decimal_literal(qty);
  request.client_order_id = id;
  return request;
}

OrderRequest limit(const char* symbol, Side side, const char* qty, const char* price, const char* id) {
  OrderRequest request = market(symbol, side, qty, id);
  request.type = OrderType::limit;
  request.time_in_force = TimeInForce::gtc;
  request.price = ordergate::decimal_literal(price);
  return request;
}

class Printer {
 public:
  explicit Printer(ordergate::Session& session) : session_(session) {}

  // Submits and records how long the guard pipeline took on this thread.
  ordergate::Verdict timed_submit(const OrderRequest& request, long long& ns) {
    const auto begin = std::chrono::steady_clock::now();
    const ordergate::Verdict verdict = session_.submit(request);
    const auto end = std::chrono::steady_clock::now();
    ns = std::chrono::duration_cast<std::chrono::nanoseconds>(end - begin).count();
    latencies_.push_back(ns);
    return verdict;
  }

  void submit(const Step& step) {
    long long ns = 0;
    const ordergate::Verdict verdict = timed_submit(step.request, ns);
    if (verdict.accepted()) {
      std::printf("  %-44s %-10.*s ACCEPTED %26s %6lld ns\n", step.what,
                  static_cast<int>(step.request.client_order_id.size()), step.request.client_order_id.data(), "",
                  static_cast<long long>(ns));
    } else {
      const auto name = ordergate::reason_name(verdict.reason);
      std::printf("  %-44s %-10.*s REJECTED %-26.*s %6lld ns", step.what,
                  static_cast<int>(step.request.client_order_id.size()), step.request.client_order_id.data(),
                  static_cast<int>(name.size()), name.data(), static_cast<long long>(ns));
      if (verdict.retry_after_ns > 0) {
        std::printf("  (retry after %lld ms)", static_cast<long long>(verdict.retry_after_ns / 1'000'000));
      }
      std::printf("\n");
    }
  }

  // Prints execution reports until `expected` arrived or a deadline passes;
  // returns how many fills were seen.
  std::size_t drain(std::size_t expected = 0, bool quiet = false) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    std::size_t seen = 0;
    std::size_t fills = 0;
    ordergate::ExecutionReport report;
    for (;;) {
      while (session_.poll(report)) {
        ++seen;
        if (report.status == ordergate::ExecStatus::filled) ++fills;
        if (!quiet) print(report);
      }
      if (seen >= expected || std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::yield();
    }
    return fills;
  }

  void summary() const {
    if (latencies_.empty()) return;
    std::vector<long long> sorted = latencies_;
    std::sort(sorted.begin(), sorted.end());
    auto at = [&](double q) { return sorted[static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1))]; };
    std::printf("\nsubmit() latency over %zu orders (guards on the calling thread, accepted and rejected):\n",
                sorted.size());
    std::printf("  p50 %lld ns   p90 %lld ns   p99 %lld ns   max %lld ns\n", at(0.5), at(0.9), at(0.99),
                sorted.back());
  }

 private:
  static void print(const ordergate::ExecutionReport& report) {
    const auto id = report.client_order_id.view();
    const auto status = ordergate::to_string(report.status);
    std::printf("    exec %-10.*s %-16.*s last %s @ %s  cum %s  leaves %s  broker id %.*s\n",
                static_cast<int>(id.size()), id.data(), static_cast<int>(status.size()), status.data(),
                report.last_quantity.to_string().c_str(), report.last_price.to_string().c_str(),
                report.cumulative_quantity.to_string().c_str(), report.leaves_quantity.to_string().c_str(),
                static_cast<int>(report.broker_order_id.size()), report.broker_order_id.view().data());
  }

  ordergate::Session& session_;
  std::vector<long long> latencies_;
};

}  // namespace

int main() {
  try {
    ordergate::GatewayConfig config = ordergate::make_default_config();
    config.paper.random_walk = false;  // fixed quotes so the story below is the same every run
    // The paper broker registered explicitly, with a feed to move its quotes.
    auto quotes = std::make_shared<ordergate::adapters::PaperQuoteFeed>();
    config.brokers.emplace_back("paper", ordergate::adapters::make_paper_factory(config.paper, quotes));
    ordergate::Gateway gateway(config);
    gateway.start();
    ordergate::Session session = gateway.open_session(ordergate::kDefaultPrincipal);
    Printer out(session);

    std::printf("ordergate demo: in-process gateway, paper broker, principal '%s'\n", ordergate::kDefaultPrincipal);
    std::printf("quotes: EUR/USD 1.08460/1.08463  GBP/USD 1.26710/1.26716  USD/JPY 151.230/151.236\n\n");

    std::printf("good orders\n");
    out.submit({"market buy 10000 EURUSD", market("EURUSD", Side::buy, "10000", "mkt-1")});
    out.drain(2);
    out.submit({"market sell 5000 EUR/USD", market("EUR/USD", Side::sell, "5000", "mkt-2")});
    out.drain(2);
    out.submit({"market buy 20000 usdjpy (Yahoo: USDJPY=X)", market("USDJPY=X", Side::buy, "20000", "mkt-3")});
    out.drain(2);
    out.submit({"limit buy 10000 GBP_USD @ 1.26500 (rests)", limit("GBP_USD", Side::buy, "10000", "1.26500", "lim-1")});
    out.drain(1);
    out.submit({"limit sell 10000 EURUSD @ 1.08600 (rests)", limit("EURUSD", Side::sell, "10000", "1.08600", "lim-2")});
    out.drain(1);
    std::printf("  ... GBP/USD drops to 1.26480/1.26490: the resting buy fills\n");
    quotes->set_quote("GBP/USD", ordergate::decimal_literal("1.26480"), ordergate::decimal_literal("1.26490"));
    out.drain(1);
    std::printf("  cancel lim-2: %s\n", ordergate::reason_name(session.cancel("lim-2").reason).data());
    out.drain(1);

    std::printf("\nbad orders (each stopped by a guard, nothing reaches the broker)\n");
    out.submit({"symbol with a bad character", market("EUR$USD", Side::buy, "1000", "bad-1")});
    out.submit({"instrument not configured", market("XAUUSD", Side::buy, "1000", "bad-2")});
    out.submit({"quantity not a whole unit", market("EURUSD", Side::buy, "1000.5", "bad-3")});
    out.submit({"price with too many decimals", limit("EURUSD", Side::buy, "1000", "1.084601", "bad-4")});
    out.submit({"fat finger: price 10% away", limit("EURUSD", Side::buy, "1000", "1.19000", "bad-5")});
    out.submit({"notional over the limit", market("EURUSD", Side::buy, "1000000", "bad-6")});
    out.submit({"client order id reused", market("EURUSD", Side::buy, "1000", "mkt-1")});
    OrderRequest wrong_account = market("EURUSD", Side::buy, "1000", "bad-7");
    wrong_account.account = "live-main";
    out.submit({"account not configured", wrong_account});
    OrderRequest no_side = market("EURUSD", Side::unset, "1000", "bad-8");
    out.submit({"side missing", no_side});
    out.submit({"client order id with a space", market("EURUSD", Side::buy, "1000", "bad 9")});

    std::printf("\nkill switch\n");
    gateway.set_trading_state(ordergate::TradingScope::global(), ordergate::guards::TradingState::halted);
    out.submit({"global HALTED: new order", market("EURUSD", Side::buy, "1000", "halt-1")});
    gateway.set_trading_state(ordergate::TradingScope::global(), ordergate::guards::TradingState::reducing);
    out.submit({"REDUCING: buy adds to a long position", market("EURUSD", Side::buy, "1000", "red-1")});
    out.submit({"REDUCING: sell shrinks it", market("EURUSD", Side::sell, "1000", "red-2")});
    out.drain(2);
    gateway.set_trading_state(ordergate::TradingScope::global(), ordergate::guards::TradingState::active);

    std::printf("\nrunaway loop: 60 orders at once against a 50/1s budget\n");
    int accepted = 0;
    int limited = 0;
    long long retry_ms = 0;
    char id[32];
    for (int i = 0; i < 60; ++i) {
      std::snprintf(id, sizeof id, "burst-%d", i);
      long long ns = 0;
      const ordergate::Verdict verdict =
          out.timed_submit(market("EURUSD", i % 2 ? Side::sell : Side::buy, "1000", id), ns);
      if (verdict.accepted()) ++accepted;
      if (verdict.reason == ordergate::Reason::RATE_LIMITED) {
        ++limited;
        retry_ms = verdict.retry_after_ns / 1'000'000;
      }
    }
    std::printf("  accepted %d, RATE_LIMITED %d (retry after %lld ms)\n", accepted, limited, retry_ms);
    const std::size_t fills = out.drain(static_cast<std::size_t>(accepted) * 2, /*quiet=*/true);
    std::printf("  %zu of the accepted orders filled on the paper broker\n", fills);

    const auto eur = gateway.exposure("paper", "EUR/USD");
    std::printf("\npositions: EUR/USD %s  USD/JPY %s  GBP/USD %s\n", eur.position.to_string().c_str(),
                gateway.exposure("paper", "USD/JPY").position.to_string().c_str(),
                gateway.exposure("paper", "GBP/USD").position.to_string().c_str());
    out.summary();
    session.close();
    gateway.stop();
    return EXIT_SUCCESS;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ordergate-demo: %s\n", e.what());
    return EXIT_FAILURE;
  }
}
