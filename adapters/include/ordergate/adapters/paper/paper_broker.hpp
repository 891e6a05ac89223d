#pragma once

/// \file
/// The embedded paper broker: fills orders against its own quotes, with no
/// network and no credentials. Deterministic for a given seed and sequence
/// of calls, so tests can rely on exact fills.
///
/// Matching rules
///  - Every order is acknowledged with NEW first.
///  - Market orders fill in full at the touch (buy at the ask, sell at the bid).
///  - A limit order that is marketable on arrival fills at the touch; IOC/FOK
///    limits that are not marketable are CANCELED; others rest and fill in
///    full at their limit price once the quote crosses it (ask <= limit for a
///    buy, bid >= limit for a sell).
///  - A stop order rests until triggered (ask >= stop for a buy, bid <= stop
///    for a sell), then fills at the touch.
///  - GTD orders expire (EXPIRED) once the wall clock passes their expiry.
///    DAY orders are treated as GTC (the paper broker has no session end).
///  - Cancel of a resting order gives CANCELED; of anything else, nothing.
///
/// Quotes are republished every `tick_interval_ns` so they stay fresh for the
/// risk guards; with `random_walk` the mid moves by a seeded random number of
/// ticks (spread kept) at each tick.

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "ordergate/core/clock.hpp"
#include "ordergate/core/decimal.hpp"
#include "ordergate/core/instrument.hpp"
#include "ordergate/core/ports.hpp"

namespace ordergate::adapters {

struct PaperQuoteSpec {
  std::string symbol;  ///< canonical instrument name, e.g. "EUR/USD"
  Decimal bid;
  Decimal ask;
};

struct PaperConfig {
  std::vector<PaperQuoteSpec> quotes;  ///< instruments without a quote cannot trade (NO_REFERENCE_PRICE)
  bool random_walk = false;
  std::uint64_t seed = 1;
  std::uint32_t walk_max_ticks = 2;  ///< each step moves the mid by -N..+N ticks
  std::int64_t tick_interval_ns = 100'000'000;
};

class PaperBroker final : public BrokerPort {
 public:
  /// Throws std::invalid_argument when a quote names an unknown instrument,
  /// is not on the tick grid, or has bid <= 0 or bid >= ask.
  PaperBroker(const InstrumentTable& instruments, PaperConfig config);

  [[nodiscard]] std::string_view name() const noexcept override { return "paper"; }
  void start(ExecutionSink& sink, QuoteBoard& quotes, const Clock& clock) override;
  void submit(const Order& order) noexcept override;
  void cancel(const CancelOrder& cancel) noexcept override;
  bool poll() noexcept override;
  void stop() noexcept override;

  /// Sets a quote and matches resting orders against it at once. Call on the
  /// broker's thread (tests drive the broker directly; the gateway offers
  /// `Gateway::set_paper_quote` which forwards to that thread).
  void set_quote(InstrumentId instrument, Decimal bid, Decimal ask) noexcept;

  /// Net filled position of an account in an instrument (broker thread only).
  [[nodiscard]] Decimal position(AccountId account, InstrumentId instrument) const noexcept;
  /// Number of resting orders (broker thread only).
  [[nodiscard]] std::size_t resting_orders() const noexcept;

 private:
  // Implementation detail; see paper_broker.cpp.
  struct Resting;
  struct Book;
  void publish(InstrumentId instrument) noexcept;
  void match(InstrumentId instrument) noexcept;
  void fill(const Order& order, Decimal price) noexcept;
  void report(const Order& order, ExecStatus status, Decimal last_qty, Decimal last_px,
              Decimal cum_qty, Decimal avg_px, Reason reason) noexcept;

  const InstrumentTable& instruments_;
  PaperConfig config_;
  ExecutionSink* sink_ = nullptr;
  QuoteBoard* quotes_ = nullptr;
  const Clock* clock_ = nullptr;
  std::vector<Decimal> bids_;
  std::vector<Decimal> asks_;
  std::vector<bool> quoted_;
  std::vector<Order> resting_;
  std::vector<Decimal> positions_;  // account * instruments + instrument
  std::mt19937_64 random_;
  std::int64_t last_tick_ns_ = 0;
  std::uint64_t next_broker_order_id_ = 1;
};

}  // namespace ordergate::adapters
