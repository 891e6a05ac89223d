// The per-principal daily counts (max_orders_per_day, max_cancels_per_day)
// across restarts: checkpointed beside the state file, restored at start.
// A restart may only tighten them: after an unclean stop the restored count
// adds what the principal's rate windows admit in kCheckpointSlack.

#include <algorithm>
#include <chrono>
#include <limits>
#include <string>

#include "engine.hpp"
#include "ordergate/core/thread_name.hpp"

namespace ordergate {
namespace detail {
namespace {

constexpr auto kCheckpointInterval = std::chrono::seconds(1);
// Orders a principal may have had accepted after the last checkpoint that
// reached the disk: one interval, plus one more for a slow write.
constexpr std::int64_t kCheckpointSlackNs = 2 * 1'000'000'000LL;
constexpr std::uint64_t kCountMask = (std::uint64_t{1} << 48) - 1;

// The most requests `windows` admit in `span_ns`: each window admits its
// burst at once and then one per period / count, so at most count x (1 +
// ceil(span / period)); the tightest window bounds them all. No window:
// unbounded, so the day's count is treated as used up.
std::uint64_t most_admitted(const guards::GcraLimiter& limiter, std::int64_t span_ns) {
  std::uint64_t most = std::numeric_limits<std::uint64_t>::max();
  for (const guards::RateWindow& window : limiter.windows()) {
    if (window.period_ns <= 0) continue;
    const auto periods = static_cast<std::uint64_t>((span_ns + window.period_ns - 1) / window.period_ns);
    most = std::min(most, static_cast<std::uint64_t>(window.count) * (1 + periods));
  }
  return most;
}

std::uint64_t count_of(const std::atomic<std::uint64_t>& word, std::uint64_t day) noexcept {
  const std::uint64_t value = word.load(std::memory_order_relaxed);
  return (value >> 48) == (day & 0xFFFF) ? (value & kCountMask) : 0;
}

}  // namespace

void Engine::restore_daily_counts() {
  daily_path_ = daily_counts_path(config_.state_path);
  loss_exports_.resize(brokers_.size());
  const std::optional<DailyCounts> saved = read_daily_counts(daily_path_);
  if (!saved) return;  // a first start: nothing was counted yet
  const std::uint64_t today = today_.load(std::memory_order_relaxed);
  // Another day's counts are zero, and so are its loss figures; but after
  // an unclean stop, orders of today may have come after the checkpoint
  // (even after the day rolled), so the slack applies whatever its day.
  const bool same_day = saved->day == static_cast<std::int64_t>(today);
  const Snapshot& snapshot = current();
  std::size_t restored = 0;
  for (std::size_t id = 0; id < snapshot.principals.size(); ++id) {
    const PrincipalState& principal = *snapshot.principals[id];
    if (principal.max_orders_per_day == 0 && principal.max_cancels_per_day == 0) continue;
    std::uint64_t orders = 0;
    std::uint64_t cancels = 0;
    if (const auto found = saved->principals.find(std::string(principal.policy.name()));
        same_day && found != saved->principals.end()) {
      orders = found->second.orders;
      cancels = found->second.cancels;
    }
    if (!saved->clean) {
      orders += std::min<std::uint64_t>(most_admitted(principal.order_limits, kCheckpointSlackNs), kCountMask);
      cancels += std::min<std::uint64_t>(most_admitted(principal.cancel_limits, kCheckpointSlackNs), kCountMask);
    }
    if (orders == 0 && cancels == 0) continue;
    const std::uint64_t day = (today & 0xFFFF) << 48;
    controls_[id].orders_today.store(day | std::min(orders, kCountMask), std::memory_order_relaxed);
    controls_[id].cancels_today.store(day | std::min(cancels, kCountMask), std::memory_order_relaxed);
    ++restored;
  }
  if (same_day) {
    const InstrumentTable& instruments = snapshot.instruments;
    for (const Account& account : accounts_.all()) {
      if (account.currency.empty()) continue;
      daily_loss_->import_account(account, instruments, *saved);
      // Until its broker thread exports again, a checkpoint keeps what was restored.
      daily_loss_->export_account(account, instruments, exposure_, loss_exports_[broker_of_account_[account.id]]);
    }
  }
  emit("info", "daily_counts_restored",
       "principals=" + std::to_string(restored) + " same_day=" + (same_day ? "yes" : "no") +
           " exact=" + (saved->clean ? "yes" : "no (rate window slack added)"));
}

void Engine::run_checkpoints() noexcept {
  name_this_thread("og-checkpoint");
  std::unique_lock lock(checkpoint_mutex_);
  while (!checkpoint_stop_) {
    checkpoint_wake_.wait_for(lock, kCheckpointInterval, [this] { return checkpoint_stop_; });
    if (checkpoint_stop_) break;
    lock.unlock();
    checkpoint_daily_counts(false);
    lock.lock();
  }
}

void Engine::checkpoint_daily_counts(bool clean, bool force) noexcept {
  try {
    const std::uint64_t today = today_.load(std::memory_order_relaxed);
    DailyCounts counts;
    counts.day = static_cast<std::int64_t>(today);
    counts.clean = clean;
    const Snapshot& snapshot = current();
    for (std::size_t id = 0; id < snapshot.principals.size(); ++id) {
      DailyCounts::Used used;
      used.orders = count_of(controls_[id].orders_today, today);
      used.cancels = count_of(controls_[id].cancels_today, today);
      if (used.orders == 0 && used.cancels == 0) continue;
      counts.principals[std::string(snapshot.principals[id]->policy.name())] = used;
    }
    {
      std::lock_guard lock(loss_export_mutex_);
      for (const DailyCounts& part : loss_exports_) {
        counts.accounts.insert(part.accounts.begin(), part.accounts.end());
        counts.lines.insert(part.lines.begin(), part.lines.end());
      }
    }
    // Unchanged since the last write: nothing to make durable. A clean stop
    // always writes, so the next start knows the counts are exact.
    if (!clean && !force && counts == last_checkpoint_) return;
    write_daily_counts(daily_path_, counts);
    last_checkpoint_ = std::move(counts);
    if (checkpoint_failing_) emit("info", "daily_counts_saved", "recovered=yes");
    checkpoint_failing_ = false;
  } catch (const std::exception& e) {
    if (!checkpoint_failing_) {
      // Counts not saved: a restart would add the slack to an older
      // checkpoint. Said once, until a write succeeds again.
      emit("warning", "daily_counts_not_saved", std::string("error=\"") + e.what() + "\"");
    }
    checkpoint_failing_ = true;
  }
}

}  // namespace detail
}  // namespace ordergate
