#include "ordergate/core/quote.hpp"

namespace ordergate {

QuoteBoard::QuoteBoard(std::size_t instrument_count)
    : cells_(std::make_unique<Cell[]>(instrument_count)), size_(instrument_count) {}

void QuoteBoard::publish(InstrumentId id, Decimal bid, Decimal ask, std::int64_t time_ns) noexcept {
  if (id >= size_) return;
  Cell& cell = cells_[id];
  const std::uint64_t sequence = cell.sequence.load(std::memory_order_relaxed);
  // Release stores on the fields (not a fence, which ThreadSanitizer cannot
  // model) keep the odd sequence number visible before any new field value.
  cell.sequence.store(sequence + 1, std::memory_order_relaxed);
  cell.bid.store(bid.raw(), std::memory_order_release);
  cell.ask.store(ask.raw(), std::memory_order_release);
  cell.time_ns.store(time_ns, std::memory_order_release);
  cell.sequence.store(sequence + 2, std::memory_order_release);
}

Quote QuoteBoard::read(InstrumentId id) const noexcept {
  if (id >= size_) return {};
  const Cell& cell = cells_[id];
  for (;;) {
    const std::uint64_t before = cell.sequence.load(std::memory_order_acquire);
    if (before & 1u) continue;
    Quote quote;
    // Acquire loads keep the second sequence read after the field reads.
    quote.bid = Decimal::from_raw(cell.bid.load(std::memory_order_acquire));
    quote.ask = Decimal::from_raw(cell.ask.load(std::memory_order_acquire));
    quote.time_ns = cell.time_ns.load(std::memory_order_acquire);
    if (cell.sequence.load(std::memory_order_relaxed) == before) return quote;
  }
}

}  // namespace ordergate
