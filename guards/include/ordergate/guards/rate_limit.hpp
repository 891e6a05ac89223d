#pragma once

/// \file
/// Guard 5: rate limits with the generic cell rate algorithm (GCRA).
///
/// Each (key, window) pair is one atomic 64-bit word holding the theoretical
/// arrival time (TAT). A window "N/P" admits a burst of N and then one request
/// every P/N. Checking and consuming are lock-free compare-and-swap loops;
/// a rejection reports exactly how long to wait. Over the limit is a
/// rejection, never a hidden queue.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ordergate/core/cache_line.hpp"
#include "ordergate/core/reason.hpp"

namespace ordergate::guards {

struct RateWindow {
  std::uint32_t count = 0;     ///< requests admitted per period (the burst)
  std::int64_t period_ns = 0;  ///< length of the window
  friend bool operator==(const RateWindow&, const RateWindow&) = default;
};

/// Parses "20/1s", "600/1m", "5/100ms", "1000/1h", "50/250us": a positive
/// count (at most 2^32 - 1 and at most the period in nanoseconds), '/', a
/// positive integer and a unit (us, ms, s, m, h), the period at most 100 days.
/// On error returns false and sets `error` to a message that says what is
/// wrong.
[[nodiscard]] bool parse_rate_window(std::string_view text, RateWindow& out, std::string& error);

/// GCRA parameters of one window: emission interval T = period / count
/// (rounded up, so never more permissive than configured) and tolerance
/// tau = (count - 1) * T, which admits a burst of exactly `count` (period - T
/// would admit one less when count does not divide the period). An invalid
/// window (count 0, period <= 0) gives T = 0, which the functions below treat
/// as "admit nothing" (fail closed).
struct GcraParams {
  std::int64_t emission_ns = 0;
  std::int64_t tolerance_ns = 0;
  [[nodiscard]] static GcraParams from(const RateWindow& window) noexcept;
};

/// One GCRA state word on its own cache line.
struct alignas(kCacheLine) GcraCell {
  std::atomic<std::int64_t> tat{0};
};

/// How long a request at `now_ns` must wait before `cell` admits it; 0 means
/// it would be admitted now. Read-only. Times are monotonic nanoseconds >= 0;
/// a fresh cell (TAT 0) admits a full burst.
[[nodiscard]] std::int64_t gcra_wait(const GcraCell& cell, const GcraParams& params,
                                     std::int64_t now_ns) noexcept;

/// Admits and consumes one request, or returns the wait (> 0) and changes nothing.
[[nodiscard]] std::int64_t gcra_consume(GcraCell& cell, const GcraParams& params,
                                        std::int64_t now_ns) noexcept;

/// How many requests `cell` would admit at `now_ns` one after another:
/// floor((tau - (max(TAT, now) - now)) / T) + 1, at least 0. Read-only.
[[nodiscard]] std::int64_t gcra_remaining(const GcraCell& cell, const GcraParams& params,
                                          std::int64_t now_ns) noexcept;

/// Gives back one request consumed earlier (exact: TAT -= T).
void gcra_refund(GcraCell& cell, const GcraParams& params) noexcept;

/// The windows that apply to one request, gathered from several limiters
/// (principal, account, symbol). Consumed all together or not at all.
class RateCheck {
 public:
  static constexpr std::size_t kMaxEntries = 16;

  /// Adds a window; returns false when full (a configuration error upstream).
  bool add(GcraCell& cell, const GcraParams& params) noexcept;
  void clear() noexcept { size_ = 0; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  /// OK, or RATE_LIMITED with `retry_after_ns` set to the longest wait any
  /// window needs. On RATE_LIMITED no window is charged.
  [[nodiscard]] Reason consume(std::int64_t now_ns, std::int64_t& retry_after_ns) noexcept;
  /// Gives back what a successful `consume` charged.
  void refund() noexcept;

 private:
  struct Entry {
    GcraCell* cell;
    GcraParams params;
  };
  // Not zero-filled: only the first size_ entries are ever read.
  std::array<Entry, kMaxEntries> entries_;
  std::size_t size_ = 0;
};

/// The state of one scope (e.g. "per principal"): the same windows for each
/// of `keys` keys, one `GcraCell` per key and window. Thread-safe.
class GcraLimiter {
 public:
  GcraLimiter() = default;
  GcraLimiter(std::vector<RateWindow> windows, std::size_t keys);

  /// Adds every window of `key` to `check`. Unknown keys add nothing.
  /// Returns false when `check` ran out of room for a window: the request
  /// must then be refused, since a missing window would be a missing limit.
  bool collect(std::size_t key, RateCheck& check) noexcept;
  /// Takes over the budgets of `previous` when it has the same windows and
  /// keys (a configuration reload that did not change them); otherwise
  /// starts fresh. Requests `previous` admits while this runs may be missed.
  void inherit(const GcraLimiter& previous) noexcept;
  [[nodiscard]] const std::vector<RateWindow>& windows() const noexcept { return windows_; }
  /// `gcra_remaining` of `key`'s cell for window `window` (an index into
  /// `windows()`); 0 for an unknown key or window.
  [[nodiscard]] std::int64_t remaining(std::size_t key, std::size_t window, std::int64_t now_ns) const noexcept;

 private:
  std::vector<RateWindow> windows_;
  std::vector<GcraParams> params_;
  std::unique_ptr<GcraCell[]> cells_;
  std::size_t keys_ = 0;
};

}  // namespace ordergate::guards
