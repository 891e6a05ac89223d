#include "ordergate/gateway/default_config.hpp"

namespace ordergate {
namespace {

InstrumentSpec fx_pair(const char* name, const char* tick, const char* max_notional) {
  InstrumentSpec spec;
  spec.name = name;
  spec.tick_size = decimal_literal(tick);
  spec.lot_step = decimal_literal("1");
  spec.min_quantity = decimal_literal("1");
  spec.max_quantity = decimal_literal("50000000");
  spec.max_order_quantity = decimal_literal("1000000");
  spec.max_notional = decimal_literal(max_notional);
  spec.max_position = decimal_literal("5000000");
  spec.price_band_bps = 100;  // 1% around the touch
  spec.max_open_orders = 100;
  spec.max_quote_age_ns = 5'000'000'000;
  return spec;
}

}  // namespace

GatewayConfig make_default_config() {
  GatewayConfig config;
  config.instruments = {
      fx_pair("EUR/USD", "0.00001", "1000000"),  // notional in USD
      fx_pair("GBP/USD", "0.00001", "1000000"),
      fx_pair("USD/JPY", "0.001", "150000000"),  // notional in JPY
  };
  config.accounts = {{"paper", "paper"}};

  PrincipalConfig dev;
  dev.policy.name = kDefaultPrincipal;
  dev.policy.permissions = {"trade", "cancel", "read", "admin"};
  dev.policy.accounts = {"paper"};
  dev.policy.symbols = {"*"};
  dev.rate_limits = {"50/1s", "600/1m"};
  dev.cancel_rate_limits = {"100/1s"};
  config.principals = {dev};

  config.account_rate_limits = {"200/1s"};
  config.paper.quotes = {
      {"EUR/USD", decimal_literal("1.08460"), decimal_literal("1.08463")},
      {"GBP/USD", decimal_literal("1.26710"), decimal_literal("1.26716")},
      {"USD/JPY", decimal_literal("151.230"), decimal_literal("151.236")},
  };
  config.paper.random_walk = true;
  config.paper.seed = 42;
  config.paper.tick_interval_ns = 100'000'000;
  config.order_capacity = 1u << 16;
  config.max_sessions = 64;
  return config;
}

}  // namespace ordergate
