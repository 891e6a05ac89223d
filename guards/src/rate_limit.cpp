#include "ordergate/guards/rate_limit.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "ordergate/core/clock.hpp"

namespace ordergate::guards {
namespace {

// Returned for parameters that cannot admit anything (a window that was never
// validated): such a limit refuses every request instead of admitting all.
constexpr std::int64_t kNeverAdmitted = std::numeric_limits<std::int64_t>::max();

bool parse_positive(std::string_view digits, std::uint64_t max, std::uint64_t& out) noexcept {
  if (digits.empty()) return false;
  std::uint64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
    if (value > max) return false;
  }
  out = value;
  return value > 0;
}

bool valid(const GcraParams& params) noexcept { return params.emission_ns > 0 && params.tolerance_ns >= 0; }

}  // namespace

bool parse_rate_window(std::string_view text, RateWindow& out, std::string& error) {
  const std::string quoted = "rate limit '" + std::string(text) + "': ";
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    error = quoted + "expected COUNT/PERIOD, e.g. 20/1s or 600/1m";
    return false;
  }
  std::uint64_t count = 0;
  if (!parse_positive(text.substr(0, slash), std::numeric_limits<std::uint32_t>::max(), count)) {
    error = quoted + "count must be a whole number from 1 to 4294967295";
    return false;
  }

  std::string_view period = text.substr(slash + 1);
  std::size_t unit_begin = 0;
  while (unit_begin < period.size() && period[unit_begin] >= '0' && period[unit_begin] <= '9') ++unit_begin;
  const std::string_view unit = period.substr(unit_begin);
  std::int64_t unit_ns = 0;
  if (unit == "us") {
    unit_ns = kNanosPerMicro;
  } else if (unit == "ms") {
    unit_ns = kNanosPerMilli;
  } else if (unit == "s") {
    unit_ns = kNanosPerSecond;
  } else if (unit == "m") {
    unit_ns = 60 * kNanosPerSecond;
  } else if (unit == "h") {
    unit_ns = 3600 * kNanosPerSecond;
  } else {
    error = quoted + "period must be a whole number followed by us, ms, s, m or h";
    return false;
  }
  // Periods up to ~100 days keep every GCRA time sum far from overflow.
  constexpr std::int64_t kMaxPeriodNs = 100LL * 24 * 3600 * kNanosPerSecond;
  std::uint64_t amount = 0;
  if (!parse_positive(period.substr(0, unit_begin), static_cast<std::uint64_t>(kMaxPeriodNs), amount) ||
      static_cast<std::int64_t>(amount) > kMaxPeriodNs / unit_ns) {
    error = quoted + "period must be a whole number from 1 up to 100 days, followed by us, ms, s, m or h";
    return false;
  }
  const std::int64_t period_ns = static_cast<std::int64_t>(amount) * unit_ns;
  if (static_cast<std::int64_t>(count) > period_ns) {
    error = quoted + "count exceeds the number of nanoseconds in the period";
    return false;
  }
  out.count = static_cast<std::uint32_t>(count);
  out.period_ns = period_ns;
  return true;
}

GcraParams GcraParams::from(const RateWindow& window) noexcept {
  if (window.count == 0 || window.period_ns <= 0) return {};
  const std::int64_t count = window.count;
  GcraParams params;
  params.emission_ns = window.period_ns / count + (window.period_ns % count != 0 ? 1 : 0);
  // (count - 1) * T, not period - T: with T rounded up, period - T would
  // refuse the last request of a full burst when count does not divide the period.
  params.tolerance_ns = (count - 1) * params.emission_ns;
  return params;
}

std::int64_t gcra_wait(const GcraCell& cell, const GcraParams& params, std::int64_t now_ns) noexcept {
  if (!valid(params)) return kNeverAdmitted;
  // TAT 0 (never used) or any TAT in the past means a full burst is available.
  const std::int64_t tat = std::max(cell.tat.load(std::memory_order_acquire), now_ns);
  const std::int64_t wait = tat - now_ns - params.tolerance_ns;
  return wait > 0 ? wait : 0;
}

std::int64_t gcra_consume(GcraCell& cell, const GcraParams& params, std::int64_t now_ns) noexcept {
  if (!valid(params)) return kNeverAdmitted;
  std::int64_t stored = cell.tat.load(std::memory_order_acquire);
  for (;;) {
    const std::int64_t tat = std::max(stored, now_ns);
    const std::int64_t wait = tat - now_ns - params.tolerance_ns;
    if (wait > 0) return wait;
    if (cell.tat.compare_exchange_weak(stored, tat + params.emission_ns, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
      return 0;
    }
  }
}

std::int64_t gcra_remaining(const GcraCell& cell, const GcraParams& params, std::int64_t now_ns) noexcept {
  if (!valid(params)) return 0;
  const std::int64_t tat = std::max(cell.tat.load(std::memory_order_acquire), now_ns);
  const std::int64_t slack = params.tolerance_ns - (tat - now_ns);
  return slack < 0 ? 0 : slack / params.emission_ns + 1;
}

void gcra_refund(GcraCell& cell, const GcraParams& params) noexcept {
  if (valid(params)) cell.tat.fetch_sub(params.emission_ns, std::memory_order_acq_rel);
}

bool RateCheck::add(GcraCell& cell, const GcraParams& params) noexcept {
  if (size_ == kMaxEntries) return false;
  entries_[size_++] = Entry{&cell, params};
  return true;
}

Reason RateCheck::consume(std::int64_t now_ns, std::int64_t& retry_after_ns) noexcept {
  // Look before charging, so a request refused by one window costs nothing
  // in the others (and the common refusal needs no undo).
  std::int64_t longest_wait = 0;
  for (std::size_t i = 0; i < size_; ++i) {
    longest_wait = std::max(longest_wait, gcra_wait(*entries_[i].cell, entries_[i].params, now_ns));
  }
  if (longest_wait > 0) {
    retry_after_ns = longest_wait;
    return Reason::RATE_LIMITED;
  }
  for (std::size_t i = 0; i < size_; ++i) {
    const std::int64_t wait = gcra_consume(*entries_[i].cell, entries_[i].params, now_ns);
    if (wait > 0) {
      // Another thread took the capacity between the look and the charge.
      for (std::size_t j = 0; j < i; ++j) gcra_refund(*entries_[j].cell, entries_[j].params);
      retry_after_ns = wait;
      return Reason::RATE_LIMITED;
    }
  }
  retry_after_ns = 0;
  return Reason::OK;
}

void RateCheck::refund() noexcept {
  for (std::size_t i = 0; i < size_; ++i) gcra_refund(*entries_[i].cell, entries_[i].params);
}

GcraLimiter::GcraLimiter(std::vector<RateWindow> windows, std::size_t keys)
    : windows_(std::move(windows)), keys_(keys) {
  if (windows_.size() > RateCheck::kMaxEntries) {
    throw std::invalid_argument("rate limiter: more than " + std::to_string(RateCheck::kMaxEntries) +
                                " windows");
  }
  params_.reserve(windows_.size());
  for (const RateWindow& window : windows_) {
    if (window.count == 0 || window.period_ns <= 0) {
      throw std::invalid_argument("rate limiter: every window needs a count > 0 and a period > 0");
    }
    params_.push_back(GcraParams::from(window));
  }
  if (!windows_.empty() &&
      keys > std::numeric_limits<std::size_t>::max() / sizeof(GcraCell) / windows_.size()) {
    throw std::invalid_argument("rate limiter: too many keys");
  }
  cells_ = std::make_unique<GcraCell[]>(keys * windows_.size());
}

bool GcraLimiter::collect(std::size_t key, RateCheck& check) noexcept {
  if (key >= keys_) return true;
  bool added = true;
  for (std::size_t w = 0; w < params_.size(); ++w) {
    added = check.add(cells_[key * params_.size() + w], params_[w]) && added;
  }
  return added;
}

}  // namespace ordergate::guards

namespace ordergate::guards {

std::int64_t GcraLimiter::remaining(std::size_t key, std::size_t window, std::int64_t now_ns) const noexcept {
  if (key >= keys_ || window >= params_.size() || !cells_) return 0;
  return gcra_remaining(cells_[key * params_.size() + window], params_[window], now_ns);
}

void GcraLimiter::inherit(const GcraLimiter& previous) noexcept {
  if (previous.windows_ != windows_ || previous.keys_ != keys_ || !cells_ || !previous.cells_) return;
  const std::size_t count = keys_ * params_.size();
  for (std::size_t i = 0; i < count; ++i) {
    cells_[i].tat.store(previous.cells_[i].tat.load(std::memory_order_acquire), std::memory_order_release);
  }
}

}  // namespace ordergate::guards
