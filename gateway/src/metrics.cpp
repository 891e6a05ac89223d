// The metrics cells and Gateway::metrics(): the scrape side. Nothing here
// runs on the order path; the recording is inline in metric_cells.hpp.

#include <algorithm>

#include "engine.hpp"
#include "metric_cells.hpp"

namespace ordergate {
namespace detail {

void MetricCells::init(bool enabled, std::uint32_t latency_sample, std::uint32_t slots, std::size_t accounts) {
  enabled_ = enabled;
  accounts_ = accounts;
  if (!enabled) return;
  if (latency_sample == 0 || (latency_sample & (latency_sample - 1)) != 0) {
    throw ConfigError("metrics_latency_sample must be a power of two (1: time every submit)");
  }
  sample_mask_ = latency_sample - 1;
  decisions_ = (accounts + 1) * kReasonCount;
  latency_offset_ = 3 * decisions_;
  sample_offset_ = latency_offset_ + kBuckets + 1;
  cells_per_slot_ = sample_offset_ + 1;
  lines_per_slot_ = (cells_per_slot_ + kPerLine - 1) / kPerLine;
  slots_ = slots;
  lines_ = std::make_unique<Line[]>(static_cast<std::size_t>(slots) * lines_per_slot_);
  executions_ = std::make_unique<std::atomic<std::uint64_t>[]>(accounts * kExecStatuses);
}

void MetricCells::retire_slot(std::uint32_t slot, PrincipalId principal) {
  if (!enabled_ || slot >= slots_) return;
  const std::lock_guard lock(mutex_);
  if (retired_.size() <= principal) retired_.resize(std::size_t{principal} + 1);
  std::vector<std::uint64_t>& totals = retired_[principal];
  if (totals.empty()) totals.assign(cells_per_slot_, 0);
  for (std::size_t offset = 0; offset < cells_per_slot_; ++offset) {
    std::atomic<std::uint64_t>& counter = cell(slot, offset);
    totals[offset] += counter.load(std::memory_order_relaxed);
    counter.store(0, std::memory_order_relaxed);
  }
}

void MetricCells::collect_locked(const std::vector<std::int32_t>& slot_principal, GatewayMetrics& out) const {
  out.recording = enabled_;
  if (!enabled_) return;
  out.latency_sample = static_cast<std::uint32_t>(sample_mask_ + 1);
  std::vector<std::vector<std::uint64_t>> totals = retired_;
  for (std::uint32_t slot = 0; slot < slots_ && slot < slot_principal.size(); ++slot) {
    if (slot_principal[slot] < 0) continue;
    const auto principal = static_cast<std::size_t>(slot_principal[slot]);
    if (totals.size() <= principal) totals.resize(principal + 1);
    if (totals[principal].empty()) totals[principal].assign(cells_per_slot_, 0);
    for (std::size_t offset = 0; offset < cells_per_slot_; ++offset) {
      totals[principal][offset] += cell(slot, offset).load(std::memory_order_relaxed);
    }
  }
  for (std::size_t principal = 0; principal < totals.size(); ++principal) {
    const std::vector<std::uint64_t>& counts = totals[principal];
    if (counts.empty()) continue;
    for (std::size_t table = 0; table < 3; ++table) {
      std::vector<GatewayMetrics::Decision>& decisions =
          table == 0 ? out.orders : (table == 1 ? out.cancels : out.replaces);
      for (std::size_t offset = 0; offset < decisions_; ++offset) {
        const std::uint64_t count = counts[table * decisions_ + offset];
        if (count == 0) continue;
        GatewayMetrics::Decision decision;
        decision.principal = static_cast<PrincipalId>(principal);
        const std::size_t account = offset / kReasonCount;
        decision.has_account = account < accounts_;
        decision.account = decision.has_account ? static_cast<AccountId>(account) : AccountId{0};
        decision.reason = static_cast<Reason>(offset % kReasonCount);
        decision.count = count;
        decisions.push_back(decision);
      }
    }
    for (std::size_t bucket = 0; bucket < kBuckets; ++bucket) {
      out.guard_latency_buckets[bucket] += counts[latency_offset_ + bucket];
    }
    out.guard_latency_sum_ns += counts[latency_offset_ + kBuckets];
  }
  for (std::size_t account = 0; account < accounts_; ++account) {
    for (std::size_t status = 0; status < kExecStatuses; ++status) {
      const std::uint64_t count = executions_[account * kExecStatuses + status].load(std::memory_order_relaxed);
      if (count == 0) continue;
      out.executions.push_back({static_cast<AccountId>(account), static_cast<ExecStatus>(status), count});
    }
  }
}

GatewayMetrics Engine::metrics() const {
  GatewayMetrics out;
  {
    const std::lock_guard lock(metric_cells_.mutex());
    std::vector<std::int32_t> slot_principal(config_.max_sessions, -1);
    for (std::uint32_t slot = 0; slot < config_.max_sessions; ++slot) {
      const std::uint64_t live = sessions_[slot].live.load(std::memory_order_acquire);
      if (live != 0) slot_principal[slot] = static_cast<std::int32_t>(live >> 32);
    }
    metric_cells_.collect_locked(slot_principal, out);
    const std::size_t principals = current().principals.size();
    out.sessions_by_principal.assign(principals, 0);
    for (const std::int32_t principal : slot_principal) {
      if (principal >= 0 && static_cast<std::size_t>(principal) < principals) {
        ++out.sessions_by_principal[static_cast<std::size_t>(principal)];
      }
    }
  }
  const Snapshot& snapshot = current();
  out.global_state = kill_switch_.global();
  out.account_states.reserve(accounts_.size());
  out.account_ready.reserve(accounts_.size());
  for (std::size_t id = 0; id < accounts_.size(); ++id) {
    out.account_states.push_back(kill_switch_.account(static_cast<AccountId>(id)));
    out.account_ready.push_back(account_closed_[id].load(std::memory_order_acquire) == 0);
    out.bulk_cancels.push_back(bulk_cancels_[id].load(std::memory_order_relaxed));
  }
  out.account_broker.assign(broker_of_account_.begin(), broker_of_account_.end());
  for (const auto& broker : brokers_) {
    out.broker_names.emplace_back(broker->name);
    out.broker_connected.push_back(broker->connected.load(std::memory_order_relaxed));
  }
  out.principal_states.reserve(snapshot.principals.size());
  for (std::size_t id = 0; id < snapshot.principals.size(); ++id) {
    out.principal_states.push_back(kill_switch_.principal(static_cast<PrincipalId>(id)));
    out.principal_removed.push_back(snapshot.principals[id]->removed);
  }
  const std::int64_t now_ns = clock_.monotonic_ns();
  for (std::size_t id = 0; id < snapshot.principals.size(); ++id) {
    const PrincipalState& principal = *snapshot.principals[id];
    if (principal.removed) continue;
    for (const int kind : {0, 1, 2}) {
      const guards::GcraLimiter& limiter =
          kind == 0 ? principal.order_limits : (kind == 1 ? principal.cancel_limits : principal.modify_limits);
      for (std::size_t w = 0; w < limiter.windows().size(); ++w) {
        out.rate_remaining.push_back(GatewayMetrics::RateRemaining{static_cast<PrincipalId>(id), kind == 1, kind == 2,
                                                                   limiter.windows()[w], limiter.remaining(0, w, now_ns)});
      }
    }
  }
  return out;
}

}  // namespace detail

GatewayMetrics Gateway::metrics() const { return engine_->metrics(); }

}  // namespace ordergate
