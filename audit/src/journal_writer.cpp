// The journal's writer thread: drains the ring, formats and writes lines,
// and makes them durable under the fsync policy.

#include "journal_detail.hpp"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <exception>
#include <limits>
#include <mutex>
#include <string>
#include <thread>

namespace ordergate {

using namespace journal_detail;

void AuditJournal::append_record(const Slot& slot) {
  const std::uint64_t sequence = base_sequence_ + tail_ + 1;
  std::string& line = file_->line;
  const security::Sha256Digest hash = journal_detail::format_record_line(
      line, sequence, slot.event, slot.dropped_marker, names_, prev_hash_, &options_.hmac_key);

  if (options_.max_bytes != 0 && file_->bytes + pending_.size() > 0 &&
      file_->bytes + pending_.size() + line.size() > options_.max_bytes) {
    if (!write_pending() || !rotate()) return;
  }
  pending_ += line;
  pending_last_ = sequence;
  pending_last_hash_ = hash;
  prev_hash_ = hash;
}

bool AuditJournal::drain_ready() {
  std::size_t count = 0;
  const std::uint64_t capacity = mask_ + 1;
  while (count < kBatchRecords) {
    Slot& slot = slots_[tail_ & mask_];
    if (slot.turn.load(std::memory_order_acquire) != tail_ + 1) break;
    // A failed journal keeps consuming (so nothing waits on a full ring)
    // but writes nothing more; the records are lost and waiters told so.
    if (state_.load(std::memory_order_relaxed) != kFailed) append_record(slot);
    slot.turn.store(tail_ + capacity, std::memory_order_release);
    ++tail_;
    ++count;
  }
  // Refused records leave a trace in the chain itself.
  const std::uint64_t dropped = dropped_.load(std::memory_order_relaxed);
  if (dropped > dropped_reported_ && state_.load(std::memory_order_relaxed) != kFailed) {
    const std::uint64_t unreported = dropped - dropped_reported_;
    const auto marker = static_cast<std::uint32_t>(
        std::min<std::uint64_t>(unreported, std::numeric_limits<std::uint32_t>::max()));
    if (const std::uint64_t sequence = push(AuditEvent{}, marker); sequence != 0) {
      dropped_reported_ += marker;
      drop_note_sequence_ = sequence;
      if (options_.on_records_dropped) options_.on_records_dropped(marker, sequence);
    }
  }
  return count > 0;
}


bool AuditJournal::write_pending() {
  if (pending_.empty()) return true;
  int error = 0;
  if (!write_all(file_->fd, pending_.data(), pending_.size(), error)) {
    fail("audit journal " + options_.path.string() + ": write failed: " + errno_text(error));
    return false;
  }
  file_->bytes += pending_.size();
  pending_.clear();
  unsynced_last_ = pending_last_;
  unsynced_last_hash_ = pending_last_hash_;
  // Without fsync the OS decides what reaches the disk; the mark follows
  // what was handed to it. Otherwise it follows what is durable (sync_file),
  // so after a power loss it may lag the journal but never lead it.
  if (options_.fsync == AuditFsync::never && !write_end_mark(pending_last_, pending_last_hash_)) return false;
  publish_written(pending_last_);
  return true;
}

bool AuditJournal::sync_file() {
  const auto started = std::chrono::steady_clock::now();
  if (::fdatasync(file_->fd) != 0) {
    fail("audit journal " + options_.path.string() + ": fdatasync failed: " + errno_text(errno));
    return false;
  }
  last_sync_ = std::chrono::steady_clock::now();
  const std::int64_t elapsed_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(last_sync_ - started).count();
  std::size_t bucket = 0;
  while (bucket < kJournalSyncBoundsNs.size() && elapsed_ns > kJournalSyncBoundsNs[bucket]) ++bucket;
  // Single writer: a load and a store, no read-modify-write.
  sync_buckets_[bucket].store(sync_buckets_[bucket].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  sync_sum_ns_.store(sync_sum_ns_.load(std::memory_order_relaxed) + static_cast<std::uint64_t>(elapsed_ns),
                     std::memory_order_relaxed);
  if (unsynced_last_ > end_marked_ && !write_end_mark(unsynced_last_, unsynced_last_hash_)) return false;
  if (unsynced_last_ > durable_.load(std::memory_order_relaxed)) publish_durable(unsynced_last_);
  return true;
}

bool AuditJournal::write_end_mark(std::uint64_t sequence, const security::Sha256Digest& hash) {
  std::string& line = file_->end_line;
  format_end_mark(line, sequence, hash, &options_.hmac_key);
  // One fixed-length write at offset 0: the mark is replaced, never grown.
  // It is not fsync'd: a mark lost with the page cache only lags.
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::pwrite(file_->end_fd, line.data() + done, line.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      fail("audit journal " + end_mark_path(options_.path).string() + ": write failed: " +
           errno_text(n < 0 ? errno : EIO));
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  end_marked_ = sequence;
  return true;
}

void AuditJournal::publish_written(std::uint64_t sequence) {
  written_.store(sequence, std::memory_order_release);
  if (options_.fsync == AuditFsync::never) {
    std::lock_guard lock(mutex_);
    durable_changed_.notify_all();
  }
}

void AuditJournal::publish_durable(std::uint64_t sequence) {
  durable_.store(sequence, std::memory_order_release);
  {
    std::lock_guard lock(mutex_);
    durable_changed_.notify_all();
  }
  if (options_.on_durable) options_.on_durable(sequence);
}

void AuditJournal::fail(std::string message) {
  state_.store(kFailed, std::memory_order_release);
  set_healthy(false);
  pending_.clear();
  std::lock_guard lock(mutex_);
  if (error_.empty()) error_ = std::move(message);
  durable_changed_.notify_all();
}

void AuditJournal::recover_if_noted() {
  if (healthy() || state_.load(std::memory_order_acquire) != kOpen) return;
  if (dropped_.load(std::memory_order_relaxed) != dropped_reported_) return;  // a loss not noted yet
  const std::uint64_t reached = options_.fsync == AuditFsync::never ? written_.load(std::memory_order_relaxed)
                                                                     : durable_.load(std::memory_order_relaxed);
  if (reached < drop_note_sequence_) return;
  set_healthy(true);
  // Pairs with the fence in record: a record refused meanwhile is seen
  // here, or its set_healthy(false) lands after this recovery.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (dropped_.load(std::memory_order_relaxed) != dropped_reported_ ||
      state_.load(std::memory_order_acquire) != kOpen) {
    set_healthy(false);
  }
}

void AuditJournal::run_writer() noexcept {
  ::pthread_setname_np(::pthread_self(), "ordergate-audit");
  int idle_rounds = 0;
  try {
    for (;;) {
      const bool progressed = drain_ready();
      if (!pending_.empty()) write_pending();

      bool stopping = false;
      std::uint64_t sync_target = 0;
      {
        std::lock_guard lock(mutex_);
        stopping = stop_requested_;
        sync_target = sync_target_;
      }
      const bool failed_now = state_.load(std::memory_order_relaxed) == kFailed;
      const std::uint64_t durable = durable_.load(std::memory_order_relaxed);
      if (!failed_now && unsynced_last_ > durable) {
        const auto now = std::chrono::steady_clock::now();
        const bool due = options_.fsync == AuditFsync::always ||
                         (options_.fsync == AuditFsync::interval && now - last_sync_ >= options_.fsync_interval) ||
                         sync_target > durable;
        if (due) sync_file();
      }
      recover_if_noted();
      if (progressed) {
        idle_rounds = 0;
        continue;
      }
      const std::uint64_t head = head_.load(std::memory_order_acquire);
      if (head != tail_ || idle_rounds < kIdleYields) {
        // A producer is between taking a position and publishing it, or a
        // burst may be about to continue: stay close.
        ++idle_rounds;
        std::this_thread::yield();
        continue;
      }
      if (stopping) break;

      std::chrono::microseconds wait = kIdleWait;
      if (options_.fsync == AuditFsync::interval && unsynced_last_ > durable_.load(std::memory_order_relaxed)) {
        const auto due = last_sync_ + options_.fsync_interval - std::chrono::steady_clock::now();
        wait = std::clamp(std::chrono::duration_cast<std::chrono::microseconds>(due),
                          std::chrono::microseconds{0}, kIdleWait);
      }
      std::unique_lock lock(mutex_);
      if (!wake_requested_ && !stop_requested_) writer_wake_.wait_for(lock, wait);
      if (wake_requested_) idle_rounds = 0;
      wake_requested_ = false;
    }
    // Everything numbered is in the file: make it durable and close.
    if (state_.load(std::memory_order_relaxed) != kFailed) {
      write_pending();
      if (state_.load(std::memory_order_relaxed) != kFailed) sync_file();
    }
  } catch (const std::exception& e) {
    fail(std::string("audit journal writer: ") + e.what());
  } catch (...) {
    fail("audit journal writer: unknown error");
  }
  if (file_->fd >= 0) {
    ::close(file_->fd);
    file_->fd = -1;
  }
  if (file_->end_fd >= 0) {
    ::close(file_->end_fd);
    file_->end_fd = -1;
  }
  std::lock_guard lock(mutex_);
  writer_done_ = true;
  durable_changed_.notify_all();
}

}  // namespace ordergate
