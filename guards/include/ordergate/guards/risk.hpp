#pragma once

/// \file
/// Guard 4: pre-trade risk limits per account and instrument.
///
/// `check_order_risk` is a pure check of one order against the instrument's
/// limits and the reference quote. `ExposureBook` holds positions, working
/// quantities and open-order counts in atomics, on two cache lines per
/// (account, instrument): what orders booked, written where they are
/// reserved, and what settled (fills, releases), written by the broker
/// threads. Settling only ever lowers exposure, so `reserve` checks against
/// a copy of the settled line and reads the line itself only when the order
/// would not fit; it books with a compare-and-swap, so concurrent orders and
/// fills can never exceed a limit together. Quantities are exact while every
/// position and exposure stays within an int64 of raw units (9.2e9 units).

#include <atomic>
#include <cstdint>
#include <memory>

#include "ordergate/core/cache_line.hpp"
#include "ordergate/core/decimal.hpp"
#include "ordergate/core/instrument.hpp"
#include "ordergate/core/order.hpp"
#include "ordergate/core/quote.hpp"
#include "ordergate/core/reason.hpp"

namespace ordergate::guards {

/// Reference price for an order: the ask for a buy, the bid for a sell.
[[nodiscard]] constexpr Decimal reference_price(const Quote& quote, Side side) noexcept {
  return side == Side::buy ? quote.ask : quote.bid;
}

/// True when `quote` may price `instrument` at `now_ns` (monotonic): quoted,
/// no older than max_quote_age, both sides positive and not crossed or locked.
[[nodiscard]] bool usable_quote(const Quote& quote, const Instrument& instrument, std::int64_t now_ns) noexcept;

/// Checks, in order:
///  - NO_REFERENCE_PRICE: the quote is empty, older than the instrument's
///    max_quote_age at `now_ns` (monotonic), non-positive or crossed
///  - MAX_QUANTITY_EXCEEDED: quantity > the instrument's max_order_quantity
///    (the risk limit; the tradable min/max is checked by validation)
///  - MAX_NOTIONAL_EXCEEDED: quantity x (limit price, stop price, or the
///    reference price for market orders) > max_notional, computed exactly
///  - PRICE_OUT_OF_BAND: a limit or stop price further than price_band_bps
///    from the reference price (|p - ref| * 10000 > band * ref, exact)
[[nodiscard]] Reason check_order_risk(const Order& order, const Instrument& instrument,
                                      const Quote& quote, std::int64_t now_ns) noexcept;

/// The per-instrument limits `ExposureBook::reserve` checks: the
/// instrument's own, or a cluster member's lease of them (its part of the
/// limit the cluster shares, docs/cluster.md).
struct PositionLimits {
  Decimal max_position;
  std::uint32_t max_open_orders = 0;
  [[nodiscard]] static constexpr PositionLimits of(const Instrument& instrument) noexcept {
    return {instrument.max_position, instrument.max_open_orders};
  }
};

class ExposureBook {
 public:
  ExposureBook(std::size_t accounts, std::size_t instruments);

  struct Snapshot {
    Decimal position;      ///< net filled position, signed (buy > 0)
    Decimal working_buy;   ///< open quantity of working buy orders
    Decimal working_sell;  ///< open quantity of working sell orders
    std::uint32_t open_orders = 0;
  };
  [[nodiscard]] Snapshot snapshot(AccountId account, InstrumentId instrument) const noexcept;

  /// Books an open-order slot and `quantity` on `side`, or changes nothing.
  ///  - MAX_OPEN_ORDERS when open orders would exceed instrument.max_open_orders
  ///  - REDUCE_ONLY (only when `reduce_only`) unless the order, together with
  ///    the working orders on its side, shrinks the position without flipping
  ///    it: buy needs working_buy + qty <= -position, sell needs
  ///    working_sell + qty <= position
  ///  - MAX_POSITION_EXCEEDED when the worst case position
  ///    (position + working_buy + qty for a buy, working_sell + qty - position
  ///    for a sell) exceeds instrument.max_position, or cannot be computed
  ///    without overflow
  /// Ids outside the book, an invalid side or a non-positive quantity are
  /// refused (UNKNOWN_ACCOUNT, UNKNOWN_INSTRUMENT, INVALID_SIDE,
  /// INVALID_QUANTITY) rather than booked. Lock-free; no allocation. The
  /// decision is atomic with respect to `apply_fill`: a reservation whose
  /// check raced a fill is undone and checked again.
  [[nodiscard]] Reason reserve(AccountId account, const Instrument& instrument, Side side,
                               Decimal quantity, bool reduce_only) noexcept {
    return reserve(account, instrument.id, PositionLimits::of(instrument), side, quantity, reduce_only);
  }
  /// `reserve` against `limits` instead of the instrument's own.
  [[nodiscard]] Reason reserve(AccountId account, InstrumentId instrument, const PositionLimits& limits, Side side,
                               Decimal quantity, bool reduce_only) noexcept;

  /// An amend that raises a working order's quantity: books `quantity`
  /// more on `side` under the same checks as `reserve` (REDUCE_ONLY,
  /// MAX_POSITION_EXCEEDED and the refusals of bad ids), without an
  /// open-order slot: the order is already counted. Undone by
  /// `release_quantity`.
  [[nodiscard]] Reason reserve_more(AccountId account, const Instrument& instrument, Side side, Decimal quantity,
                                    bool reduce_only) noexcept {
    return reserve_more(account, instrument.id, PositionLimits::of(instrument), side, quantity, reduce_only);
  }
  /// `reserve_more` against `limits` instead of the instrument's own.
  [[nodiscard]] Reason reserve_more(AccountId account, InstrumentId instrument, const PositionLimits& limits, Side side,
                                    Decimal quantity, bool reduce_only) noexcept;
  /// Working quantity on `side` -= `quantity`; open orders unchanged (an
  /// amend that lowered a working order's quantity, or the undoing of
  /// `reserve_more`).
  void release_quantity(AccountId account, InstrumentId instrument, Side side, Decimal quantity) noexcept;
  /// REDUCE_ONLY unless the working orders on `side`, less `removed`,
  /// still shrink the position without flipping it (OK). For an amend in a
  /// REDUCING scope. A read: a fill in flight may make it refuse, never admit,
  /// what the settled book would not.
  [[nodiscard]] Reason check_reduces(AccountId account, InstrumentId instrument, Side side,
                                     Decimal removed) const noexcept;

  /// Undoes a reservation, or retires an order that ended with `leaves`
  /// still open: working quantity on `side` -= leaves, open orders -= 1.
  void release(AccountId account, InstrumentId instrument, Side side, Decimal leaves) noexcept;

  /// A fill: position += signed quantity first, then working -= quantity, so
  /// a concurrent reader may briefly see too much exposure, never too little.
  void apply_fill(AccountId account, InstrumentId instrument, Side side, Decimal quantity) noexcept;

  /// A fill that belongs to no working order (a stop loss or take profit
  /// triggering, a fill placed outside the gateway): position += signed
  /// quantity, working unchanged. It can raise an exposure, so it goes on the
  /// booked line under changes begun / finished: a `reserve` that read the
  /// position before it is checked again, and a reduce-only order is never
  /// booked against a position this change already closed. Ignores what
  /// `apply_fill` ignores.
  void apply_position_change(AccountId account, InstrumentId instrument, Side side, Decimal quantity) noexcept;

  /// An order the broker already holds (found by reconciliation): books an
  /// open-order slot and `leaves` on `side` whatever the limits say, so the
  /// limits count it and refuse what would pass only without it. Released
  /// like any order (`release`, `apply_fill`). Ignores what `release`
  /// ignores.
  void add_held_order(AccountId account, InstrumentId instrument, Side side, Decimal leaves) noexcept;

  /// Account-wide checks (account_risk.hpp) read every instrument of an
  /// account, then `reserve` one: to stay exact under concurrent orders they
  /// read this version first and, after their reservation, advance it from
  /// the value they read. A failed advance means another order of the account
  /// was reserved meanwhile: release and check again. Fills need no version:
  /// they never raise an account's worst case.
  [[nodiscard]] std::uint64_t account_version(AccountId account) const noexcept;
  [[nodiscard]] bool advance_account_version(AccountId account, std::uint64_t seen) noexcept;
  /// Advances the version unconditionally, after a change to the limits an
  /// account's orders are checked against: a check that read the old limits
  /// then fails its advance and is made again.
  void bump_account_version(AccountId account) noexcept;

 private:
  // A cell is two cache lines, split by who writes them, so that an order
  // reserved on one core does not fetch back a line the broker thread wrote
  // when the order before it filled.
  //
  // `Booked` is written by the threads that reserve (and by the rare changes
  // that raise exposure: orders found at the broker, fills of no order).
  // `Settled` is written by the broker threads as orders fill and end; every
  // change to it only lowers the exposure of both sides. A reservation can
  // therefore check against an old copy of it: the copy over-estimates the
  // exposure, never under-estimates it. Booked keeps that copy (a "credit"
  // per side and the orders closed) and refreshes it from Settled only when
  // the order does not fit against the copy.
  //
  // Quantities are booked and released as running totals that wrap
  // (uint64, two's complement): working = booked - released, exact while it
  // fits an int64, as every quantity the book holds must.
  struct alignas(kCacheLine) Booked {
    std::atomic<std::uint64_t> buy{0};   // quantity ever booked on the buy side (raw)
    std::atomic<std::uint64_t> sell{0};
    // Position changes that belong to no working order (apply_position_change).
    std::atomic<std::int64_t> external_position{0};
    // The copies of Settled: released_buy - position and released_sell +
    // position, and the orders closed.
    std::atomic<std::uint64_t> buy_credit{0};
    std::atomic<std::uint64_t> sell_credit{0};
    std::atomic<std::uint32_t> orders{0};  // open-order slots ever booked
    std::atomic<std::uint32_t> closed_seen{0};
    // External position changes begun and finished: equal when none is in
    // flight. A reservation keeps its booking only if none began meanwhile.
    std::atomic<std::uint32_t> changes_started{0};
    std::atomic<std::uint32_t> changes_finished{0};
  };
  struct alignas(kCacheLine) Settled {
    std::atomic<std::int64_t> position{0};  // net filled by working orders
    std::atomic<std::uint64_t> released_buy{0};  // working quantity ever filled or released
    std::atomic<std::uint64_t> released_sell{0};
    std::atomic<std::uint32_t> closed{0};  // open-order slots ever released
  };
  struct Cell {
    Booked booked;
    Settled settled;
  };
  static_assert(sizeof(Booked) == kCacheLine && sizeof(Settled) == kCacheLine, "each half is one cache line");
  Cell* cell(AccountId account, InstrumentId instrument) const noexcept;
  // The quantity part of `reserve` and `reserve_more`.
  static Reason reserve_working(Cell& target, Decimal max_position, Side side, Decimal quantity,
                                bool reduce_only) noexcept;

  struct alignas(kCacheLine) Version {
    std::atomic<std::uint64_t> value{0};
  };

  std::unique_ptr<Cell[]> cells_;
  std::unique_ptr<Version[]> versions_;
  std::size_t accounts_;
  std::size_t instruments_;
};

}  // namespace ordergate::guards
