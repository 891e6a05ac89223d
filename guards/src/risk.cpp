#include "ordergate/guards/risk.hpp"

#include <limits>
#include <stdexcept>

namespace ordergate::guards {
namespace {

constexpr int128 kBasisPoints = 10'000;

bool outside_band(Decimal price, Decimal reference, std::uint32_t band_bps) noexcept {
  int128 distance = static_cast<int128>(price.raw()) - reference.raw();
  if (distance < 0) distance = -distance;
  return distance * kBasisPoints > static_cast<int128>(band_bps) * reference.raw();
}

}  // namespace

bool usable_quote(const Quote& quote, const Instrument& instrument, std::int64_t now_ns) noexcept {
  if (quote.empty()) return false;
  std::int64_t age_ns = 0;
  if (__builtin_sub_overflow(now_ns, quote.time_ns, &age_ns) || age_ns > instrument.max_quote_age_ns) {
    return false;
  }
  // A locked (bid == ask) or crossed book is not a price anyone can trade at.
  return quote.bid.is_positive() && quote.ask.is_positive() && quote.bid < quote.ask;
}

Reason check_order_risk(const Order& order, const Instrument& instrument, const Quote& quote,
                        std::int64_t now_ns) noexcept {
  if (!usable_quote(quote, instrument, now_ns)) return Reason::NO_REFERENCE_PRICE;
  if (order.quantity > instrument.max_order_quantity) return Reason::MAX_QUANTITY_EXCEEDED;

  const Decimal reference = reference_price(quote, order.side);
  Decimal order_price = reference;
  if (order.type == OrderType::limit) order_price = order.price;
  if (order.type == OrderType::stop) order_price = order.stop_price;
  if (Decimal::product_exceeds(order.quantity, order_price, instrument.max_notional)) {
    return Reason::MAX_NOTIONAL_EXCEEDED;
  }
  if (order.type != OrderType::market && outside_band(order_price, reference, instrument.price_band_bps)) {
    return Reason::PRICE_OUT_OF_BAND;
  }
  return Reason::OK;
}

ExposureBook::ExposureBook(std::size_t accounts, std::size_t instruments)
    : accounts_(accounts), instruments_(instruments) {
  if (accounts > kMaxAccounts || instruments > kMaxInstruments) {
    throw std::invalid_argument("exposure book: more accounts or instruments than supported");
  }
  cells_ = std::make_unique<Cell[]>(accounts * instruments);
  versions_ = std::make_unique<Version[]>(accounts);
}

std::uint64_t ExposureBook::account_version(AccountId account) const noexcept {
  return account < accounts_ ? versions_[account].value.load(std::memory_order_acquire) : 0;
}

bool ExposureBook::advance_account_version(AccountId account, std::uint64_t seen) noexcept {
  if (account >= accounts_) return false;
  // The release pairs with account_version's acquire: an order that reads
  // the advanced version sees this order's reservation.
  return versions_[account].value.compare_exchange_strong(seen, seen + 1, std::memory_order_acq_rel,
                                                          std::memory_order_acquire);
}

void ExposureBook::bump_account_version(AccountId account) noexcept {
  if (account < accounts_) versions_[account].value.fetch_add(1, std::memory_order_acq_rel);
}

ExposureBook::Cell* ExposureBook::cell(AccountId account, InstrumentId instrument) const noexcept {
  if (account >= accounts_ || instrument >= instruments_) return nullptr;
  return &cells_[static_cast<std::size_t>(account) * instruments_ + instrument];
}

namespace {

// A side's credit from the settled line, read now: what fills and releases
// took off that side's exposure (released - position for a buy, released +
// position for a sell). The broker writes the position before the released
// total, and it is read after: a fill half seen lowers the credit, never
// raises it.
template <typename Settled>
std::uint64_t read_credit(const Settled& settled, bool buy) noexcept {
  const std::uint64_t released = (buy ? settled.released_buy : settled.released_sell).load(std::memory_order_acquire);
  const auto position = static_cast<std::uint64_t>(settled.position.load(std::memory_order_acquire));
  return buy ? released - position : released + position;
}

// The exposure of a side before an order, in raw units: position + working
// buy for a buy, working sell - position for a sell. Wrapping arithmetic on
// the running totals; exact while the true value fits an int64.
std::int64_t side_exposure(std::uint64_t booked, std::int64_t external_position, std::uint64_t credit,
                           bool buy) noexcept {
  const auto external = static_cast<std::uint64_t>(external_position);
  return static_cast<std::int64_t>(booked + (buy ? external : std::uint64_t{0} - external) - credit);
}

}  // namespace

ExposureBook::Snapshot ExposureBook::snapshot(AccountId account, InstrumentId instrument) const noexcept {
  Snapshot snapshot;
  const Cell* c = cell(account, instrument);
  if (c == nullptr) return snapshot;
  // The settled line is read before and after the booked one: when it did
  // not change in between, the figures are those of one instant.
  const Settled& settled = c->settled;
  const Booked& booked = c->booked;
  for (;;) {
    const std::uint32_t closed = settled.closed.load(std::memory_order_acquire);
    const std::uint64_t released_buy = settled.released_buy.load(std::memory_order_acquire);
    const std::uint64_t released_sell = settled.released_sell.load(std::memory_order_acquire);
    const std::int64_t position = settled.position.load(std::memory_order_acquire);
    const std::uint32_t changes = booked.changes_finished.load(std::memory_order_acquire);
    if (booked.changes_started.load(std::memory_order_acquire) != changes) continue;
    const std::uint32_t orders = booked.orders.load(std::memory_order_acquire);
    const std::uint64_t buy = booked.buy.load(std::memory_order_acquire);
    const std::uint64_t sell = booked.sell.load(std::memory_order_acquire);
    const std::int64_t external = booked.external_position.load(std::memory_order_acquire);
    if (booked.changes_started.load(std::memory_order_acquire) != changes) continue;
    if (settled.position.load(std::memory_order_acquire) != position ||
        settled.released_sell.load(std::memory_order_acquire) != released_sell ||
        settled.released_buy.load(std::memory_order_acquire) != released_buy ||
        settled.closed.load(std::memory_order_acquire) != closed) {
      continue;
    }
    snapshot.position = Decimal::from_raw(static_cast<std::int64_t>(static_cast<std::uint64_t>(position) +
                                                                    static_cast<std::uint64_t>(external)));
    snapshot.working_buy = Decimal::from_raw(static_cast<std::int64_t>(buy - released_buy));
    snapshot.working_sell = Decimal::from_raw(static_cast<std::int64_t>(sell - released_sell));
    // Negative only after a release of an order never booked: none open.
    const auto open = static_cast<std::int32_t>(orders - closed);
    snapshot.open_orders = open > 0 ? static_cast<std::uint32_t>(open) : 0;
    return snapshot;
  }
}

Reason ExposureBook::reserve(AccountId account, InstrumentId instrument, const PositionLimits& limits, Side side,
                             Decimal quantity, bool reduce_only) noexcept {
  if (account >= accounts_) return Reason::UNKNOWN_ACCOUNT;
  Cell* c = cell(account, instrument);
  if (c == nullptr) return Reason::UNKNOWN_INSTRUMENT;
  if (side != Side::buy && side != Side::sell) return Reason::INVALID_SIDE;
  if (!quantity.is_positive()) return Reason::INVALID_QUANTITY;

  Booked& booked = c->booked;
  std::uint32_t orders = booked.orders.load(std::memory_order_acquire);
  std::uint32_t closed = booked.closed_seen.load(std::memory_order_relaxed);
  bool fresh = false;
  for (;;) {
    // Against an old copy of the closed count the open count is too high,
    // never too low; and it never exceeds the limit, which it is refreshed at.
    const std::uint32_t open = orders - closed;
    // More closed than booked (a release of an order never booked) shows as
    // a negative count: the count restarts from the closed one, not wrapping.
    const bool stray = fresh && static_cast<std::int32_t>(open) < 0;
    if (!stray && open >= limits.max_open_orders) {
      if (fresh) return Reason::MAX_OPEN_ORDERS;
      closed = c->settled.closed.load(std::memory_order_acquire);
      booked.closed_seen.store(closed, std::memory_order_relaxed);
      fresh = true;
      continue;
    }
    if (booked.orders.compare_exchange_weak(orders, (stray ? closed : orders) + 1, std::memory_order_acq_rel,
                                            std::memory_order_acquire)) {
      break;
    }
  }

  const Reason verdict = reserve_working(*c, limits.max_position, side, quantity, reduce_only);
  if (verdict != Reason::OK) booked.orders.fetch_sub(1, std::memory_order_acq_rel);
  return verdict;
}

Reason ExposureBook::reserve_more(AccountId account, InstrumentId instrument, const PositionLimits& limits, Side side,
                                  Decimal quantity, bool reduce_only) noexcept {
  if (account >= accounts_) return Reason::UNKNOWN_ACCOUNT;
  Cell* c = cell(account, instrument);
  if (c == nullptr) return Reason::UNKNOWN_INSTRUMENT;
  if (side != Side::buy && side != Side::sell) return Reason::INVALID_SIDE;
  if (!quantity.is_positive()) return Reason::INVALID_QUANTITY;
  return reserve_working(*c, limits.max_position, side, quantity, reduce_only);
}

void ExposureBook::release_quantity(AccountId account, InstrumentId instrument, Side side, Decimal quantity) noexcept {
  Cell* c = cell(account, instrument);
  if (c == nullptr || (side != Side::buy && side != Side::sell) || !quantity.is_positive()) return;
  (side == Side::buy ? c->settled.released_buy : c->settled.released_sell)
      .fetch_add(static_cast<std::uint64_t>(quantity.raw()), std::memory_order_acq_rel);
}

Reason ExposureBook::check_reduces(AccountId account, InstrumentId instrument, Side side,
                                   Decimal removed) const noexcept {
  const Cell* c = cell(account, instrument);
  if (c == nullptr || (side != Side::buy && side != Side::sell)) return Reason::REDUCE_ONLY;
  const bool buy = side == Side::buy;
  const std::uint64_t credit = read_credit(c->settled, buy);
  const std::uint64_t booked = (buy ? c->booked.buy : c->booked.sell).load(std::memory_order_acquire);
  const std::int64_t external = c->booked.external_position.load(std::memory_order_acquire);
  return static_cast<int128>(side_exposure(booked, external, credit, buy)) - removed.raw() > 0 ? Reason::REDUCE_ONLY
                                                                                                : Reason::OK;
}

Reason ExposureBook::reserve_working(Cell& target, Decimal max_position, Side side, Decimal quantity,
                                     bool reduce_only) noexcept {
  Booked& booked = target.booked;
  const bool buy = side == Side::buy;
  std::atomic<std::uint64_t>& total = buy ? booked.buy : booked.sell;
  std::atomic<std::uint64_t>& credit_copy = buy ? booked.buy_credit : booked.sell_credit;
  const int128 limit = max_position.raw();
  // The exposure against an old copy is too high, never too low, and stays
  // at most the limit: the copy is refreshed before it would refuse.
  bool fresh = false;
  std::uint64_t credit = 0;
  for (;;) {
    // No external position change in flight while the position is read.
    const std::uint32_t changes = booked.changes_finished.load(std::memory_order_acquire);
    if (booked.changes_started.load(std::memory_order_acquire) != changes) continue;
    std::uint64_t current = total.load(std::memory_order_acquire);
    const std::int64_t external = booked.external_position.load(std::memory_order_acquire);
    if (!fresh) credit = credit_copy.load(std::memory_order_relaxed);
    const int128 after = static_cast<int128>(side_exposure(current, external, credit, buy)) + quantity.raw();
    Reason refused = Reason::OK;
    if (reduce_only && after > 0) {
      refused = Reason::REDUCE_ONLY;
    } else if (after > limit) {
      refused = Reason::MAX_POSITION_EXCEEDED;
    }
    if (refused != Reason::OK) {
      // The copy may be old: only the settled line itself may refuse.
      if (fresh) return refused;
      credit = read_credit(target.settled, buy);
      credit_copy.store(credit, std::memory_order_relaxed);
      fresh = true;
      continue;
    }
    if (!total.compare_exchange_strong(current, current + static_cast<std::uint64_t>(quantity.raw()),
                                       std::memory_order_acq_rel, std::memory_order_acquire)) {
      continue;
    }
    // Fills and releases only lower the exposure, so the credit read above
    // can only be too small. An external change can raise it: one that
    // began after the read is visible here, as it begins before it moves
    // the position.
    if (booked.changes_started.load(std::memory_order_acquire) == changes) return Reason::OK;
    total.fetch_sub(static_cast<std::uint64_t>(quantity.raw()), std::memory_order_acq_rel);
  }
}

void ExposureBook::release(AccountId account, InstrumentId instrument, Side side, Decimal leaves) noexcept {
  Cell* c = cell(account, instrument);
  if (c == nullptr || (side != Side::buy && side != Side::sell)) return;
  if (leaves.is_positive()) {
    (side == Side::buy ? c->settled.released_buy : c->settled.released_sell)
        .fetch_add(static_cast<std::uint64_t>(leaves.raw()), std::memory_order_acq_rel);
  }
  c->settled.closed.fetch_add(1, std::memory_order_acq_rel);
}

void ExposureBook::add_held_order(AccountId account, InstrumentId instrument, Side side, Decimal leaves) noexcept {
  Cell* c = cell(account, instrument);
  if (c == nullptr || (side != Side::buy && side != Side::sell)) return;
  // It raises exposure: booked, like a reservation, never on the settled line.
  if (leaves.is_positive()) {
    (side == Side::buy ? c->booked.buy : c->booked.sell)
        .fetch_add(static_cast<std::uint64_t>(leaves.raw()), std::memory_order_acq_rel);
  }
  c->booked.orders.fetch_add(1, std::memory_order_acq_rel);
}

void ExposureBook::apply_fill(AccountId account, InstrumentId instrument, Side side,
                              Decimal quantity) noexcept {
  Cell* c = cell(account, instrument);
  if (c == nullptr || !quantity.is_positive() || (side != Side::buy && side != Side::sell)) return;
  const bool buy = side == Side::buy;
  // The position first, then the released total (see read_credit).
  c->settled.position.fetch_add(buy ? quantity.raw() : -quantity.raw(), std::memory_order_acq_rel);
  (buy ? c->settled.released_buy : c->settled.released_sell)
      .fetch_add(static_cast<std::uint64_t>(quantity.raw()), std::memory_order_acq_rel);
}

void ExposureBook::apply_position_change(AccountId account, InstrumentId instrument, Side side,
                                         Decimal quantity) noexcept {
  Cell* c = cell(account, instrument);
  if (c == nullptr || !quantity.is_positive() || (side != Side::buy && side != Side::sell)) return;
  // It may raise one side's exposure: on the booked line, under the protocol
  // reservations check.
  c->booked.changes_started.fetch_add(1, std::memory_order_acq_rel);
  c->booked.external_position.fetch_add(side == Side::buy ? quantity.raw() : -quantity.raw(),
                                        std::memory_order_acq_rel);
  c->booked.changes_finished.fetch_add(1, std::memory_order_acq_rel);
}

}  // namespace ordergate::guards
