#include "ordergate/audit/journal.hpp"

#include <algorithm>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "journal_detail.hpp"

namespace ordergate {

using namespace journal_detail;

// ---- names and policies ----------------------------------------------------

std::string_view to_string(AuditFsync policy) noexcept {
  switch (policy) {
    case AuditFsync::always: return "always";
    case AuditFsync::interval: return "interval";
    case AuditFsync::never: return "never";
  }
  return "unknown";
}

std::optional<AuditFsync> parse_audit_fsync(std::string_view text) noexcept {
  if (text == "always") return AuditFsync::always;
  if (text == "interval") return AuditFsync::interval;
  if (text == "never") return AuditFsync::never;
  return std::nullopt;
}

AuditNames AuditNames::from_lists(std::vector<std::string> principals, std::vector<std::string> accounts,
                                  std::vector<std::string> symbols) {
  struct Lists {
    std::vector<std::string> principals, accounts, symbols;
  };
  auto lists = std::make_shared<const Lists>(Lists{std::move(principals), std::move(accounts), std::move(symbols)});
  auto lookup = [](const std::vector<std::string>& names, std::size_t id) -> std::string_view {
    return id < names.size() ? std::string_view(names[id]) : std::string_view{};
  };
  AuditNames names;
  names.principal = [lists, lookup](PrincipalId id) { return lookup(lists->principals, id); };
  names.account = [lists, lookup](AccountId id) { return lookup(lists->accounts, id); };
  names.symbol = [lists, lookup](InstrumentId id) { return lookup(lists->symbols, id); };
  return names;
}

// ---- the journal: construction, producers and waiters ----------------------

AuditJournal::AuditJournal(AuditJournalOptions options, AuditNames names)
    : options_(std::move(options)), names_(std::move(names)), file_(std::make_unique<File>()) {
  const std::uint32_t capacity = options_.queue_capacity;
  if (capacity < 64 || (capacity & (capacity - 1)) != 0) {
    throw AuditJournalError("audit journal: queue_capacity must be a power of two >= 64");
  }
  if (options_.fsync == AuditFsync::interval && options_.fsync_interval.count() <= 0) {
    throw AuditJournalError("audit journal: fsync_interval must be > 0 ms");
  }
  if (options_.path.empty()) throw AuditJournalError("audit journal: no path configured");

  resume_or_create();

  // AuditJournalOptions::queue_capacity and docs/audit.md give this size.
  static_assert(sizeof(Slot) == 216, "update queue_capacity's comment and docs/audit.md");
  slots_ = std::make_unique<Slot[]>(capacity);
  for (std::uint32_t i = 0; i < capacity; ++i) slots_[i].turn.store(i, std::memory_order_relaxed);
  mask_ = capacity - 1;
  written_.store(base_sequence_, std::memory_order_relaxed);
  durable_.store(base_sequence_, std::memory_order_relaxed);
  pending_.reserve(kBatchRecords * 512);
  file_->line.reserve(1024);
  last_sync_ = std::chrono::steady_clock::now();

  try {
    writer_ = std::thread([this] { run_writer(); });
  } catch (...) {
    ::close(file_->fd);
    ::close(file_->end_fd);
    throw;
  }
}

AuditJournal::~AuditJournal() { stop(); }

std::optional<std::uint64_t> AuditJournal::claim() noexcept {
  std::uint64_t position = head_.load(std::memory_order_relaxed);
  for (;;) {
    const Slot& slot = slots_[position & mask_];
    const std::uint64_t turn = slot.turn.load(std::memory_order_acquire);
    if (turn == position) {
      if (head_.compare_exchange_weak(position, position + 1, std::memory_order_relaxed)) return position;
      // `position` now holds the current head; try again there.
    } else if (turn < position) {
      return std::nullopt;  // the slot still holds the record of the previous lap: full
    } else {
      position = head_.load(std::memory_order_relaxed);
    }
  }
}

std::uint64_t AuditJournal::publish(std::uint64_t position, const AuditEvent& event,
                                    std::uint32_t dropped_marker) noexcept {
  Slot& slot = slots_[position & mask_];
  slot.event = event;
  slot.dropped_marker = dropped_marker;
  slot.turn.store(position + 1, std::memory_order_release);
  return base_sequence_ + position + 1;
}

std::uint64_t AuditJournal::push(const AuditEvent& event, std::uint32_t dropped_marker) noexcept {
  const std::optional<std::uint64_t> position = claim();
  return position ? publish(*position, event, dropped_marker) : 0;
}

AuditReservation AuditJournal::reserve() noexcept {
  if (state_.load(std::memory_order_acquire) != kOpen) return AuditReservation{};
  const std::optional<std::uint64_t> position = claim();
  return position ? AuditReservation{true, *position} : AuditReservation{};
}

std::uint64_t AuditJournal::commit(AuditReservation reservation, const AuditEvent& event) noexcept {
  if (!reservation) return record(event);
  // Written even if the journal failed or began to stop since: the writer
  // is waiting for this slot.
  return publish(reservation.ticket, event, 0);
}

std::uint64_t AuditJournal::record(const AuditEvent& event) noexcept {
  if (state_.load(std::memory_order_acquire) == kOpen) {
    const std::uint64_t sequence = push(event, 0);
    if (sequence != 0) return sequence;
  }
  dropped_.fetch_add(1, std::memory_order_relaxed);
  // Pairs with the fence in recover_if_noted: either the writer sees this
  // count and stays unhealthy, or this store comes after its recovery.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  set_healthy(false);
  return 0;
}

bool AuditJournal::wait_durable(std::uint64_t sequence) {
  return wait_durable(sequence, std::chrono::nanoseconds::max());
}

bool AuditJournal::wait_durable(std::uint64_t sequence, std::chrono::nanoseconds timeout) {
  if (sequence == 0 || sequence > last_sequence()) return false;
  const std::atomic<std::uint64_t>& reached = options_.fsync == AuditFsync::never ? written_ : durable_;
  if (reached.load(std::memory_order_acquire) >= sequence) return true;
  std::unique_lock lock(mutex_);
  wake_requested_ = true;
  writer_wake_.notify_one();
  const auto done = [&] {
    return reached.load(std::memory_order_acquire) >= sequence || writer_done_ ||
           state_.load(std::memory_order_acquire) == kFailed;
  };
  if (timeout == std::chrono::nanoseconds::max()) {
    durable_changed_.wait(lock, done);
  } else {
    durable_changed_.wait_for(lock, timeout, done);
  }
  return reached.load(std::memory_order_acquire) >= sequence;
}

std::uint64_t AuditJournal::flush() {
  const std::uint64_t target = last_sequence();
  std::unique_lock lock(mutex_);
  sync_target_ = std::max(sync_target_, target);
  wake_requested_ = true;
  writer_wake_.notify_one();
  durable_changed_.wait(lock, [&] {
    return durable_.load(std::memory_order_acquire) >= target || writer_done_ ||
           state_.load(std::memory_order_acquire) == kFailed;
  });
  return durable_.load(std::memory_order_acquire) >= target ? target : 0;
}

void AuditJournal::stop() noexcept {
  std::call_once(stop_once_, [this] {
    std::uint8_t expected = kOpen;
    state_.compare_exchange_strong(expected, kClosing, std::memory_order_acq_rel);
    {
      std::lock_guard lock(mutex_);
      stop_requested_ = true;
      writer_wake_.notify_one();
    }
    if (writer_.joinable()) writer_.join();
  });
}

std::uint64_t AuditJournal::last_sequence() const noexcept {
  return base_sequence_ + head_.load(std::memory_order_acquire);
}
std::uint64_t AuditJournal::written_sequence() const noexcept { return written_.load(std::memory_order_acquire); }
std::uint64_t AuditJournal::durable_sequence() const noexcept { return durable_.load(std::memory_order_acquire); }
std::uint64_t AuditJournal::dropped_records() const noexcept { return dropped_.load(std::memory_order_relaxed); }

JournalSyncStats AuditJournal::sync_stats() const noexcept {
  JournalSyncStats stats;
  for (std::size_t bucket = 0; bucket < stats.buckets.size(); ++bucket) {
    stats.buckets[bucket] = sync_buckets_[bucket].load(std::memory_order_relaxed);
  }
  stats.sum_ns = sync_sum_ns_.load(std::memory_order_relaxed);
  return stats;
}
bool AuditJournal::failed() const noexcept { return state_.load(std::memory_order_acquire) == kFailed; }

std::string AuditJournal::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

}  // namespace ordergate
