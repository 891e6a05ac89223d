#pragma once

// Internal: the counters behind Gateway::metrics(). Not installed.
//
// Each session slot owns whole cache lines of counters: decisions of submit
// cancel and replace by [account][reason] and the guard latency histogram. Only the
// thread that uses the session writes them (relaxed load + store, no
// read-modify-write); a scrape reads them with relaxed loads. When a
// session closes, its slot's counts move (under the metrics mutex) into its
// principal's retired totals, so a later session in the same slot starts
// from zero and every count stays with the principal that made it.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "ordergate/core/cache_line.hpp"
#include "ordergate/core/execution.hpp"
#include "ordergate/core/order.hpp"
#include "ordergate/core/reason.hpp"
#include "ordergate/gateway/metrics.hpp"

namespace ordergate::detail {

class MetricCells {
 public:
  static constexpr std::size_t kBuckets = kGuardLatencyBoundsNs.size() + 1;  // + the +Inf bucket
  static constexpr std::size_t kExecStatuses = static_cast<std::size_t>(ExecStatus::replace_rejected) + 1;

  // Allocates the cells (setup only; throws std::bad_alloc, or ConfigError
  // when `latency_sample` is not a power of two).
  void init(bool enabled, std::uint32_t latency_sample, std::uint32_t slots, std::size_t accounts);

  [[nodiscard]] bool enabled() const noexcept { return enabled_; }
  // The account index for a request whose account is not known.
  [[nodiscard]] std::uint32_t no_account() const noexcept { return static_cast<std::uint32_t>(accounts_); }

  // Hot path, on the thread that owns the session in `slot`.
  void count_order(std::uint32_t slot, std::uint32_t account, Reason reason) noexcept {
    bump(slot, order_offset(account, reason));
  }
  void count_cancel(std::uint32_t slot, std::uint32_t account, Reason reason) noexcept {
    bump(slot, cancel_offset(account, reason));
  }
  void count_replace(std::uint32_t slot, std::uint32_t account, Reason reason) noexcept {
    bump(slot, 2 * decisions_ + order_offset(account, reason));
  }
  // True for the submits whose latency is timed: the session's first and
  // then one in `latency_sample`.
  [[nodiscard]] bool sample_latency(std::uint32_t slot) noexcept {
    std::atomic<std::uint64_t>& submits = cell(slot, sample_offset_);
    const std::uint64_t count = submits.load(std::memory_order_relaxed);
    submits.store(count + 1, std::memory_order_relaxed);
    return (count & sample_mask_) == 0;
  }
  void observe_latency(std::uint32_t slot, std::int64_t elapsed_ns) noexcept {
    std::size_t bucket = 0;
    while (bucket < kGuardLatencyBoundsNs.size() && elapsed_ns > kGuardLatencyBoundsNs[bucket]) ++bucket;
    bump(slot, latency_offset_ + bucket);
    std::atomic<std::uint64_t>& sum = cell(slot, latency_offset_ + kBuckets);
    sum.store(sum.load(std::memory_order_relaxed) + static_cast<std::uint64_t>(elapsed_ns < 0 ? 0 : elapsed_ns),
              std::memory_order_relaxed);
  }

  // Broker threads (several may report for different accounts).
  void count_execution(AccountId account, ExecStatus status) noexcept {
    if (!enabled_ || account >= accounts_) return;
    executions_[account * kExecStatuses + static_cast<std::size_t>(status)].fetch_add(1, std::memory_order_relaxed);
  }

  // Moves the counts of `slot` to `principal`'s retired totals and zeroes
  // them. Called when the session in the slot closes, on its thread.
  void retire_slot(std::uint32_t slot, PrincipalId principal);

  // Held by a scrape while it reads which principal each slot serves and
  // the counts, so a session closing meanwhile is seen either open or
  // retired, never both or neither.
  [[nodiscard]] std::mutex& mutex() const noexcept { return mutex_; }
  // Adds the counts to `out`. `slot_principal[slot]` is the principal of the
  // open session in each slot (-1: none). Requires mutex().
  void collect_locked(const std::vector<std::int32_t>& slot_principal, GatewayMetrics& out) const;

 private:
  struct alignas(kCacheLine) Line {
    std::array<std::atomic<std::uint64_t>, kCacheLine / sizeof(std::uint64_t)> cells{};
  };
  static constexpr std::size_t kPerLine = kCacheLine / sizeof(std::uint64_t);
  static_assert(sizeof(Line) == kCacheLine);

  [[nodiscard]] std::size_t order_offset(std::uint32_t account, Reason reason) const noexcept {
    return account * kReasonCount + static_cast<std::size_t>(reason);
  }
  [[nodiscard]] std::size_t cancel_offset(std::uint32_t account, Reason reason) const noexcept {
    return decisions_ + order_offset(account, reason);
  }
  [[nodiscard]] std::atomic<std::uint64_t>& cell(std::uint32_t slot, std::size_t offset) const noexcept {
    return lines_[slot * lines_per_slot_ + offset / kPerLine].cells[offset % kPerLine];
  }
  void bump(std::uint32_t slot, std::size_t offset) noexcept {
    std::atomic<std::uint64_t>& counter = cell(slot, offset);
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  bool enabled_ = false;
  std::size_t accounts_ = 0;        // configured; index accounts_ = unknown account
  std::size_t decisions_ = 0;       // (accounts_ + 1) * kReasonCount: one table of orders, cancels or replaces
  std::size_t latency_offset_ = 0;  // 3 * decisions_; then kBuckets buckets and the sum
  std::size_t sample_offset_ = 0;   // the session's submits, for sampling
  std::uint64_t sample_mask_ = 0;   // latency_sample - 1
  std::size_t cells_per_slot_ = 0;
  std::size_t lines_per_slot_ = 0;
  std::uint32_t slots_ = 0;
  std::unique_ptr<Line[]> lines_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> executions_;  // [account][status]
  mutable std::mutex mutex_;
  std::vector<std::vector<std::uint64_t>> retired_;  // by principal id; guarded by mutex_
};

}  // namespace ordergate::detail
