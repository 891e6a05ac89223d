#include "market.hpp"

#include <algorithm>
#include <stdexcept>

#include "http_types.hpp"

namespace ordergate::sim {

const char* to_string(Venue venue) noexcept { return venue == Venue::oanda ? "oanda" : "binance"; }

Instrument parse_instrument_spec(const std::string& spec, Venue venue) {
  const auto fail = [&](const std::string& why) {
    return std::invalid_argument("bad price '" + spec + "': " + why + " (expected NAME=BID/ASK[/DEPTH])");
  };
  const std::size_t equals = spec.find('=');
  if (equals == std::string::npos || equals == 0) throw fail("no NAME=");
  Instrument instrument;
  instrument.venue = venue;
  instrument.name = spec.substr(0, equals);
  const auto parts = split(std::string_view(spec).substr(equals + 1), '/');
  if (parts.size() < 2 || parts.size() > 3) throw fail("need BID/ASK");
  const auto bid = parse_decimal(parts[0]);
  const auto ask = parse_decimal(parts[1]);
  if (!bid || !ask || !bid->is_positive() || !ask->is_positive()) throw fail("bid and ask must be positive decimals");
  if (*bid >= *ask) throw fail("bid must be below ask");
  instrument.bid = *bid;
  instrument.ask = *ask;
  instrument.price_digits = std::max(written_fraction_digits(parts[0]), written_fraction_digits(parts[1]));
  if (instrument.price_digits > 8) throw fail("at most 8 fractional digits");
  instrument.tick = decimal_step(instrument.price_digits);
  if (parts.size() == 3) {
    const auto depth = parse_decimal(parts[2]);
    if (!depth || !depth->is_positive()) throw fail("depth must be a positive decimal");
    instrument.depth = *depth;
  } else {
    instrument.depth = venue == Venue::oanda ? Decimal::from_integer(10'000'000) : Decimal::from_integer(5);
  }
  return instrument;
}

void PriceBoard::add(Instrument instrument) {
  auto key = std::make_pair(instrument.venue, instrument.name);
  instruments_[key] = std::move(instrument);
}

const Instrument* PriceBoard::find(Venue venue, const std::string& name) const {
  const auto it = instruments_.find({venue, name});
  return it == instruments_.end() ? nullptr : &it->second;
}

std::vector<const Instrument*> PriceBoard::all(Venue venue) const {
  std::vector<const Instrument*> out;
  for (const auto& [key, instrument] : instruments_) {
    if (key.first == venue) out.push_back(&instrument);
  }
  return out;
}

bool PriceBoard::set_quote(Venue venue, const std::string& name, Decimal bid, Decimal ask) {
  const auto it = instruments_.find({venue, name});
  if (it == instruments_.end()) return false;
  it->second.bid = bid;
  it->second.ask = ask;
  notify(it->second);
  return true;
}

bool PriceBoard::set_halted(Venue venue, const std::string& name, bool halted) {
  const auto it = instruments_.find({venue, name});
  if (it == instruments_.end()) return false;
  it->second.halted = halted;
  notify(it->second);
  return true;
}

void PriceBoard::walk() {
  for (auto& [key, instrument] : instruments_) {
    if (instrument.halted) continue;
    const auto step = static_cast<std::int64_t>(random_() % 3) - 1;
    if (step == 0) continue;
    const std::int64_t delta = step * instrument.tick.raw();
    if (instrument.bid.raw() + delta < instrument.tick.raw()) continue;
    instrument.bid = Decimal::from_raw(instrument.bid.raw() + delta);
    instrument.ask = Decimal::from_raw(instrument.ask.raw() + delta);
    notify(instrument);
  }
}

void PriceBoard::notify(const Instrument& instrument) {
  for (const auto& listener : listeners_) listener(instrument);
}

void add_default_instruments(PriceBoard& board) {
  board.add(parse_instrument_spec("EUR_USD=1.08450/1.08460", Venue::oanda));
  board.add(parse_instrument_spec("USD_JPY=151.230/151.245", Venue::oanda));
  board.add(parse_instrument_spec("GBP_USD=1.26990/1.27005", Venue::oanda));
  board.add(parse_instrument_spec("BTCUSDT=64000.00/64000.01/2", Venue::binance));
  board.add(parse_instrument_spec("ETHUSDT=3200.00/3200.01/20", Venue::binance));
}

}  // namespace ordergate::sim
