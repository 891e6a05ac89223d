#pragma once

/// \file
/// The simulator's prices: one bid/ask per instrument and venue, set from
/// flags, moved by the admin endpoint or by a seeded random walk. Venues
/// listen for changes to fill their resting orders.

#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "ordergate/core/decimal.hpp"

namespace ordergate::sim {

enum class Venue { oanda, binance };

[[nodiscard]] const char* to_string(Venue venue) noexcept;

struct Instrument {
  std::string name;  ///< venue spelling: EUR_USD, BTCUSDT
  Venue venue = Venue::oanda;
  Decimal bid;
  Decimal ask;
  /// Price precision (fractional digits) and the matching tick.
  int price_digits = 5;
  Decimal tick;
  /// OANDA: liquidity per side in units; Binance: quantity per book level.
  Decimal depth;
  bool halted = false;
};

/// Parses `NAME=BID/ASK[/DEPTH]`. Throws std::invalid_argument with a
/// message naming the flag value when it does not parse or bid >= ask.
[[nodiscard]] Instrument parse_instrument_spec(const std::string& spec, Venue venue);

class PriceBoard {
 public:
  using Listener = std::function<void(const Instrument&)>;

  explicit PriceBoard(std::uint64_t seed) : random_(seed) {}

  /// Adds or replaces an instrument.
  void add(Instrument instrument);
  [[nodiscard]] const Instrument* find(Venue venue, const std::string& name) const;
  [[nodiscard]] std::vector<const Instrument*> all(Venue venue) const;

  /// Sets a new quote (and optionally the halt flag) and tells the listeners.
  /// False when the instrument is unknown.
  bool set_quote(Venue venue, const std::string& name, Decimal bid, Decimal ask);
  bool set_halted(Venue venue, const std::string& name, bool halted);

  /// One random-walk step: each tradeable instrument moves both sides by
  /// -1, 0 or +1 tick (never to a bid below one tick).
  void walk();

  void on_change(Listener listener) { listeners_.push_back(std::move(listener)); }

 private:
  void notify(const Instrument& instrument);

  std::map<std::pair<Venue, std::string>, Instrument> instruments_;
  std::vector<Listener> listeners_;
  std::mt19937_64 random_;
};

/// The default quotes: EUR_USD, USD_JPY, GBP_USD (OANDA) and BTCUSDT,
/// ETHUSDT (Binance).
void add_default_instruments(PriceBoard& board);

}  // namespace ordergate::sim
