#pragma once

/// \file
/// Latest bid/ask per instrument, written by one broker I/O thread and read
/// by any number of strategy threads without locks (a sequence lock).

#include <atomic>
#include <cstdint>
#include <memory>

#include "ordergate/core/cache_line.hpp"
#include "ordergate/core/decimal.hpp"
#include "ordergate/core/order.hpp"

namespace ordergate {

struct Quote {
  Decimal bid;
  Decimal ask;
  std::int64_t time_ns = 0;  ///< monotonic time of the update; 0 = never quoted
  [[nodiscard]] bool empty() const noexcept { return time_ns == 0; }
};

class QuoteBoard {
 public:
  explicit QuoteBoard(std::size_t instrument_count);

  /// Single writer per instrument (the broker thread that owns it).
  /// `time_ns` must be > 0: 0 means "never quoted" to readers.
  /// Cost: four relaxed stores and two release stores; no allocation.
  void publish(InstrumentId id, Decimal bid, Decimal ask, std::int64_t time_ns) noexcept;

  /// Consistent snapshot of one instrument; an empty quote for an unknown id.
  /// Wait-free unless it races a publish, then it retries.
  [[nodiscard]] Quote read(InstrumentId id) const noexcept;

  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  struct alignas(kCacheLine) Cell {
    std::atomic<std::uint64_t> sequence{0};
    std::atomic<std::int64_t> bid{0};
    std::atomic<std::int64_t> ask{0};
    std::atomic<std::int64_t> time_ns{0};
  };
  std::unique_ptr<Cell[]> cells_;
  std::size_t size_;
};

}  // namespace ordergate
