#pragma once

// The instrument every benchmark trades: limits wide enough that nothing
// but the guard or path under test refuses an order.

#include <string>
#include <utility>

#include "ordergate/core/clock.hpp"
#include "ordergate/core/instrument.hpp"

namespace ordergate::bench {

inline InstrumentSpec bench_instrument(std::string name = "EUR/USD", const char* tick = "0.00001") {
  InstrumentSpec spec;
  spec.name = std::move(name);
  spec.tick_size = decimal_literal(tick);
  spec.lot_step = decimal_literal("1");
  spec.min_quantity = decimal_literal("1");
  spec.max_quantity = decimal_literal("100000000");
  spec.max_order_quantity = decimal_literal("10000000");
  spec.max_notional = decimal_literal("100000000");
  spec.max_position = decimal_literal("1000000000");
  spec.price_band_bps = 100;
  spec.max_open_orders = 1'000'000;
  spec.max_quote_age_ns = 3'600 * kNanosPerSecond;
  return spec;
}

}  // namespace ordergate::bench
