#pragma once

/// \file
/// Routes a request to a venue (`/v3/...` OANDA, `/api/...` Binance) or to
/// the test-only admin endpoints (`/sim/...`, loopback clients only).

#include <simdjson.h>

#include "binance_venue.hpp"
#include "http_types.hpp"
#include "market.hpp"
#include "oanda_venue.hpp"
#include "sim_context.hpp"

namespace ordergate::sim {

/// Test-only endpoints: move prices, halt instruments, count orders, read
/// counters and arm faults. Refused (403) for non-loopback clients.
class Admin {
 public:
  Admin(PriceBoard& board, OandaVenue* oanda, BinanceVenue* binance, FaultInjector& faults, Stats& stats,
        const Logger& log)
      : board_(board), oanda_(oanda), binance_(binance), faults_(faults), stats_(stats), log_(log) {}

  [[nodiscard]] HttpResponse handle(const HttpRequest& request);

 private:
  HttpResponse set_price(const HttpRequest& request);
  HttpResponse orders(const HttpRequest& request);
  HttpResponse stats();
  HttpResponse faults(const HttpRequest& request);
  HttpResponse echo(const HttpRequest& request);

  PriceBoard& board_;
  OandaVenue* oanda_;
  BinanceVenue* binance_;
  FaultInjector& faults_;
  Stats& stats_;
  const Logger& log_;
  simdjson::dom::parser parser_;
};

class Router {
 public:
  /// Null venues are disabled (their paths answer 404); a null admin
  /// disables `/sim/`.
  Router(OandaVenue* oanda, BinanceVenue* binance, Admin* admin) : oanda_(oanda), binance_(binance), admin_(admin) {}

  [[nodiscard]] HttpResponse handle(const HttpRequest& request);

 private:
  OandaVenue* oanda_;
  BinanceVenue* binance_;
  Admin* admin_;
};

}  // namespace ordergate::sim
