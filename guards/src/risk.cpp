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

constexpr bool fits_int64(int128 value) noexcept {
  return value >= std::numeric_limits<std::int64_t>::min() &&
         value <= std::numeric_limits<std::int64_t>::max();
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

ExposureBook::Snapshot ExposureBook::snapshot(AccountId account, InstrumentId instrument) const noexcept {
  Snapshot snapshot;
  const Cell* c = cell(account, instrument);
  if (c == nullptr) return snapshot;
  snapshot.position = Decimal::from_raw(c->position.load(std::memory_order_acquire));
  snapshot.working_buy = Decimal::from_raw(c->working_buy.load(std::memory_order_acquire));
  snapshot.working_sell = Decimal::from_raw(c->working_sell.load(std::memory_order_acquire));
  snapshot.open_orders = c->open_orders.load(std::memory_order_acquire);
  return snapshot;
}

Reason ExposureBook::reserve(AccountId account, InstrumentId instrument, const PositionLimits& limits, Side side,
                             Decimal quantity, bool reduce_only) noexcept {
  if (account >= accounts_) return Reason::UNKNOWN_ACCOUNT;
  Cell* c = cell(account, instrument);
  if (c == nullptr) return Reason::UNKNOWN_INSTRUMENT;
  if (side != Side::buy && side != Side::sell) return Reason::INVALID_SIDE;
  if (!quantity.is_positive()) return Reason::INVALID_QUANTITY;

  std::uint32_t open = c->open_orders.load(std::memory_order_acquire);
  do {
    if (open >= limits.max_open_orders) return Reason::MAX_OPEN_ORDERS;
  } while (!c->open_orders.compare_exchange_weak(open, open + 1, std::memory_order_acq_rel,
                                                 std::memory_order_acquire));

  const Reason verdict = reserve_working(*c, limits.max_position, side, quantity, reduce_only);
  if (verdict != Reason::OK) c->open_orders.fetch_sub(1, std::memory_order_acq_rel);
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
  (side == Side::buy ? c->working_buy : c->working_sell).fetch_sub(quantity.raw(), std::memory_order_acq_rel);
}

Reason ExposureBook::check_reduces(AccountId account, InstrumentId instrument, Side side,
                                   Decimal removed) const noexcept {
  const Cell* c = cell(account, instrument);
  if (c == nullptr || (side != Side::buy && side != Side::sell)) return Reason::REDUCE_ONLY;
  const bool buy = side == Side::buy;
  const int128 working = (buy ? c->working_buy : c->working_sell).load(std::memory_order_acquire);
  const int128 position = c->position.load(std::memory_order_acquire);
  const int128 directional_position = buy ? position : -position;
  return working - removed.raw() > -directional_position ? Reason::REDUCE_ONLY : Reason::OK;
}

Reason ExposureBook::reserve_working(Cell& target, Decimal max_position, Side side, Decimal quantity,
                                     bool reduce_only) noexcept {
  Cell* c = &target;
  const bool buy = side == Side::buy;
  std::atomic<std::int64_t>& working = buy ? c->working_buy : c->working_sell;
  const int128 limit = max_position.raw();
  Reason verdict = Reason::OK;
  for (;;) {
    // A consistent view: no fill in flight while the position is read. A fill
    // raises position before it lowers working, so the check may over-estimate
    // exposure during one, never under-estimate it.
    const std::uint32_t fills = c->fills_finished.load(std::memory_order_acquire);
    if (c->fills_started.load(std::memory_order_acquire) != fills) continue;
    std::int64_t current = working.load(std::memory_order_acquire);
    const int128 position = c->position.load(std::memory_order_acquire);
    const int128 new_working = static_cast<int128>(current) + quantity.raw();
    // For a buy the position may grow by new_working; for a sell it may shrink
    // by new_working. Either way compare in the direction of the order.
    const int128 directional_position = buy ? position : -position;
    if (reduce_only && new_working > -directional_position) {
      verdict = Reason::REDUCE_ONLY;
      break;
    }
    if (!fits_int64(new_working) || directional_position + new_working > limit) {
      verdict = Reason::MAX_POSITION_EXCEEDED;
      break;
    }
    if (!working.compare_exchange_strong(current, static_cast<std::int64_t>(new_working),
                                         std::memory_order_acq_rel, std::memory_order_acquire)) {
      continue;
    }
    // The swap succeeding proves working held `current`, not that the
    // position did: a fill may have moved both and brought working back to
    // the same value (an ABA). A fill that began after our consistent read
    // is visible here, because its start precedes its update of working.
    if (c->fills_started.load(std::memory_order_acquire) == fills) return Reason::OK;
    working.fetch_sub(quantity.raw(), std::memory_order_acq_rel);
  }
  return verdict;
}

void ExposureBook::release(AccountId account, InstrumentId instrument, Side side, Decimal leaves) noexcept {
  Cell* c = cell(account, instrument);
  if (c == nullptr || (side != Side::buy && side != Side::sell)) return;
  if (leaves.is_positive()) {
    (side == Side::buy ? c->working_buy : c->working_sell).fetch_sub(leaves.raw(), std::memory_order_acq_rel);
  }
  // Never wrap below zero: a stray extra release must not turn into four
  // billion open orders.
  std::uint32_t open = c->open_orders.load(std::memory_order_acquire);
  while (open > 0 && !c->open_orders.compare_exchange_weak(open, open - 1, std::memory_order_acq_rel,
                                                           std::memory_order_acquire)) {
  }
}

void ExposureBook::add_held_order(AccountId account, InstrumentId instrument, Side side, Decimal leaves) noexcept {
  Cell* c = cell(account, instrument);
  if (c == nullptr || (side != Side::buy && side != Side::sell)) return;
  if (leaves.is_positive()) {
    (side == Side::buy ? c->working_buy : c->working_sell).fetch_add(leaves.raw(), std::memory_order_acq_rel);
  }
  c->open_orders.fetch_add(1, std::memory_order_acq_rel);
}

void ExposureBook::apply_fill(AccountId account, InstrumentId instrument, Side side,
                              Decimal quantity) noexcept {
  Cell* c = cell(account, instrument);
  if (c == nullptr || !quantity.is_positive() || (side != Side::buy && side != Side::sell)) return;
  const bool buy = side == Side::buy;
  c->fills_started.fetch_add(1, std::memory_order_acq_rel);
  c->position.fetch_add(buy ? quantity.raw() : -quantity.raw(), std::memory_order_acq_rel);
  (buy ? c->working_buy : c->working_sell).fetch_sub(quantity.raw(), std::memory_order_acq_rel);
  c->fills_finished.fetch_add(1, std::memory_order_acq_rel);
}

void ExposureBook::apply_position_change(AccountId account, InstrumentId instrument, Side side,
                                         Decimal quantity) noexcept {
  Cell* c = cell(account, instrument);
  if (c == nullptr || !quantity.is_positive() || (side != Side::buy && side != Side::sell)) return;
  c->fills_started.fetch_add(1, std::memory_order_acq_rel);
  c->position.fetch_add(side == Side::buy ? quantity.raw() : -quantity.raw(), std::memory_order_acq_rel);
  c->fills_finished.fetch_add(1, std::memory_order_acq_rel);
}

}  // namespace ordergate::guards
