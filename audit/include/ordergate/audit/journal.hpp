#pragma once

/// \file
/// The audit journal: an append-only, hash-chained file of JSON lines, one
/// per `AuditEvent`, written by its own thread.
///
/// \code
///   ordergate::AuditJournalOptions options;
///   options.path = "/var/lib/ordergate/audit.jsonl";
///   options.fsync = ordergate::AuditFsync::always;
///   ordergate::AuditJournal journal(std::move(options), ordergate::AuditNames::from_lists(principals, accounts, symbols));
///   ordergate::Gateway gateway(config, clock, &journal);
///   ...
///   const ordergate::Verdict verdict = session.submit(request);
///   if (journal.wait_durable(verdict.audit_sequence)) reply(verdict);   // off the hot path
///   ...
///   gateway.stop();
///   journal.stop();   // drains, fsyncs, closes
/// \endcode
///
/// Record format, chain, fsync guarantees and rotation: docs/audit.md.
///
/// Threading: `record` may be called from any number of threads at once; it
/// is lock-free (one compare-and-swap on a shared counter, retried only when
/// another producer won it, plus a 200-byte copy into a preallocated ring)
/// and never locks, allocates, throws or makes a system call. Every other
/// member may block and belongs off the hot path. The writer thread is the
/// only one that touches the file and calls the `AuditNames` resolvers.

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "ordergate/core/cache_line.hpp"
#include "ordergate/core/ports.hpp"
#include "ordergate/security/crypto.hpp"
#include "ordergate/security/secret.hpp"

namespace ordergate {

// The copy `record` makes (the \file comment above and docs/audit.md say so).
static_assert(sizeof(AuditEvent) == 200, "update the sizes in journal.hpp and docs/audit.md");

/// When the writer makes written records durable with fdatasync.
enum class AuditFsync : std::uint8_t {
  always,    ///< after every batch it writes; `wait_durable` then means "on disk"
  interval,  ///< group commit every `fsync_interval`; a crash loses at most that window
  never,     ///< only on rotation and `stop()`; the OS decides otherwise
};

[[nodiscard]] std::string_view to_string(AuditFsync policy) noexcept;  ///< "always", "interval", "never"
[[nodiscard]] std::optional<AuditFsync> parse_audit_fsync(std::string_view text) noexcept;

/// Resolves the ids of an `AuditEvent` to the names written in the journal.
/// Called on the writer thread only; a returned view must stay valid until
/// the next call. An empty function, or an empty result, writes `#<id>`.
struct AuditNames {
  std::function<std::string_view(PrincipalId)> principal;
  std::function<std::string_view(AccountId)> account;
  std::function<std::string_view(InstrumentId)> symbol;

  /// Names by index: `principals[id]`, and so on. Owns copies of the lists.
  [[nodiscard]] static AuditNames from_lists(std::vector<std::string> principals,
                                             std::vector<std::string> accounts,
                                             std::vector<std::string> symbols);
};

struct AuditJournalOptions {
  /// The active journal file. Rotated files are `<path>.000001`, `.000002`,
  /// ... in the same directory, oldest first.
  std::filesystem::path path;
  AuditFsync fsync = AuditFsync::interval;
  /// Group-commit period of `AuditFsync::interval` (> 0).
  std::chrono::milliseconds fsync_interval{50};
  /// A line that would take the active file past this size goes to a new
  /// file instead; 0 never rotates.
  std::uint64_t max_bytes = 256ull << 20;
  /// Records the ring holds before `record` drops one (a power of two >= 64).
  /// Each slot is 216 bytes (checked in journal.cpp); the ring is
  /// allocated and touched once, at construction.
  std::uint32_t queue_capacity = 1u << 16;
  /// When not empty, the chain uses HMAC-SHA256 under this key instead of
  /// plain SHA-256, and verification needs the same key.
  security::Secret hmac_key;
  /// Called on the writer thread each time `durable_sequence()` advances,
  /// after it returns the new value (passed as the argument), so an event
  /// loop can release the replies it held. Must be cheap, must not block
  /// and must not call `wait_durable`, `flush` or `stop`.
  std::function<void(std::uint64_t durable_sequence)> on_durable;
  /// Called on the writer thread each time it numbered a `records_dropped`
  /// note: `count` records were refused since the previous note, the note
  /// has sequence `note_sequence`. For the owner's log and alerts (the
  /// running total is `dropped_records()`). Must be cheap, must not block
  /// and must not call `wait_durable`, `flush` or `stop`.
  std::function<void(std::uint64_t count, std::uint64_t note_sequence)> on_records_dropped;
};

/// Upper bounds of the journal's fdatasync latency histogram's buckets, in
/// nanoseconds (50 us to 1 s); a last bucket (+Inf) holds the rest.
inline constexpr std::array<std::int64_t, 14> kJournalSyncBoundsNs = {
    50'000,     100'000,    250'000,     500'000,     1'000'000,   2'500'000,   5'000'000,
    10'000'000, 25'000'000, 50'000'000, 100'000'000, 250'000'000, 500'000'000, 1'000'000'000};

/// The journal's fdatasync calls: how many took up to each bound
/// (kJournalSyncBoundsNs, not cumulative; the last: longer) and their total.
struct JournalSyncStats {
  std::array<std::uint64_t, kJournalSyncBoundsNs.size() + 1> buckets{};
  std::uint64_t sum_ns = 0;
};

/// Thrown at construction when the journal cannot be opened or resumed. The
/// message names the file and says what to do; it never contains a key.
class AuditJournalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class AuditJournal final : public AuditSink {
 public:
  /// Opens (creating if needed, mode 0600, never through a symlink) the
  /// journal, resumes the chain after the last record of an existing journal
  /// (or of its newest rotated file), and starts the writer thread. Throws
  /// AuditJournalError on an invalid option, an I/O error, or a damaged
  /// tail: an incomplete last line, a last line that is not a record, or one
  /// whose hash does not match (edited, or written with another key).
  explicit AuditJournal(AuditJournalOptions options, AuditNames names = {});
  /// Calls `stop()`.
  ~AuditJournal() override;
  AuditJournal(const AuditJournal&) = delete;
  AuditJournal& operator=(const AuditJournal&) = delete;

  /// Numbers the event and hands it to the writer. Returns its sequence
  /// number (> 0), or 0 when the record was not taken: the ring was full,
  /// the journal failed, or `stop()` has begun. A 0 is counted in
  /// `dropped_records()` and makes `healthy()` (the `AuditSink` query)
  /// false until the writer has caught up and its `records_dropped` note
  /// of the loss is durable (see `healthy()` below). Thread-safe; no lock,
  /// allocation, exception or system call.
  std::uint64_t record(const AuditEvent& event) noexcept override;

  /// Claims the next sequence number and its ring slot without writing it
  /// (what `record` does in two steps): fails, counting nothing, when the
  /// ring is full, the journal failed or `stop()` has begun. The writer waits
  /// at that sequence until `commit` fills it, so commit at once. Lock-free,
  /// like `record`.
  [[nodiscard]] AuditReservation reserve() noexcept override;
  /// Writes `event` into a reserved slot and returns its sequence number.
  std::uint64_t commit(AuditReservation reservation, const AuditEvent& event) noexcept override;

  /// Blocks until record `sequence` is durable under the journal's policy:
  /// fdatasync'd for `always` and `interval`, handed to the OS for `never`.
  /// Returns false at once for 0 and for a sequence not yet assigned, and
  /// false when the journal failed or stopped before the record got there.
  /// Wakes the writer, so under `always` the wait is one batch plus one
  /// fdatasync. Thread-safe; not for the hot path.
  [[nodiscard]] bool wait_durable(std::uint64_t sequence);
  /// As `wait_durable`, giving up (false) after `timeout`.
  [[nodiscard]] bool wait_durable(std::uint64_t sequence, std::chrono::nanoseconds timeout);

  /// Writes and fdatasyncs every record numbered before the call, whatever
  /// the policy. Returns the last such sequence number (0 for an empty
  /// journal), or 0 when the journal failed or stopped before they were
  /// durable. Thread-safe; blocks for one batch and one fdatasync.
  std::uint64_t flush();

  /// Drains every record already numbered, writes and fdatasyncs it, closes
  /// the file and joins the writer. Records offered afterwards are refused
  /// (0). Call it after the gateway stopped, so no producer is still inside
  /// `record`. Idempotent; thread-safe.
  void stop() noexcept;

  /// Highest sequence number given out so far (including the resumed ones).
  [[nodiscard]] std::uint64_t last_sequence() const noexcept;
  /// Highest sequence number handed to the OS with write(2).
  [[nodiscard]] std::uint64_t written_sequence() const noexcept;
  /// Highest sequence number known to be on disk (fdatasync'd).
  [[nodiscard]] std::uint64_t durable_sequence() const noexcept;
  /// Records refused by `record` (full ring, failed or stopping journal),
  /// since construction. Never decreases.
  [[nodiscard]] std::uint64_t dropped_records() const noexcept;
  /// Records numbered but not yet handed to the OS: the writer's backlog.
  [[nodiscard]] std::uint64_t queue_depth() const noexcept {
    const std::uint64_t last = last_sequence();
    const std::uint64_t written = written_sequence();
    return last > written ? last - written : 0;
  }
  /// The fdatasync calls so far, for metrics. Thread-safe (relaxed reads of
  /// what the writer thread publishes).
  [[nodiscard]] JournalSyncStats sync_stats() const noexcept;
  /// True once a write, fdatasync or rotation failed; the journal then
  /// refuses every record for good (a failed write may have left part of a
  /// line in the file: only a restart, whose resume checks refuse an
  /// incomplete line, can continue the chain). See `error()`.
  ///
  /// `healthy()` (inherited from `AuditSink`) is false while the trail is
  /// not whole, and a gateway then refuses new orders with
  /// AUDIT_UNAVAILABLE: from a refused record until the writer has caught
  /// up, written the `records_dropped` note that counts it and made that
  /// note durable under the fsync policy (written, for `never`); for good
  /// once the journal failed, or when a record was refused after `stop()`
  /// (no writer is left to note it).
  [[nodiscard]] bool failed() const noexcept;
  /// What failed (file and errno text), empty while not failed.
  [[nodiscard]] std::string error() const;

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return options_.path; }
  [[nodiscard]] AuditFsync fsync_policy() const noexcept { return options_.fsync; }

 private:
  struct Slot;
  struct File;

  std::uint64_t push(const AuditEvent& event, std::uint32_t dropped_marker) noexcept;
  // The ring position claimed, or nullopt when the ring is full.
  std::optional<std::uint64_t> claim() noexcept;
  std::uint64_t publish(std::uint64_t position, const AuditEvent& event, std::uint32_t dropped_marker) noexcept;
  void run_writer() noexcept;
  bool drain_ready();
  void append_record(const Slot& slot);
  bool write_pending();
  bool sync_file();
  bool write_end_mark(std::uint64_t sequence, const security::Sha256Digest& hash);
  bool rotate();
  void publish_written(std::uint64_t sequence);
  void publish_durable(std::uint64_t sequence);
  void fail(std::string message);
  void recover_if_noted();
  void resume_or_create();

  AuditJournalOptions options_;
  AuditNames names_;

  // Ring shared with producers. `head_` counts positions given out; the
  // record at position p has sequence base_sequence_ + p + 1.
  std::unique_ptr<Slot[]> slots_;
  std::uint64_t mask_ = 0;
  std::uint64_t base_sequence_ = 0;
  alignas(kCacheLine) std::atomic<std::uint64_t> head_{0};
  alignas(kCacheLine) std::atomic<std::uint8_t> state_{0};
  std::atomic<std::uint64_t> dropped_{0};
  alignas(kCacheLine) std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> durable_{0};

  // Writer-thread state.
  alignas(kCacheLine) std::uint64_t tail_ = 0;
  std::uint64_t dropped_reported_ = 0;  // refused records counted by a note so far
  std::uint64_t drop_note_sequence_ = 0;  // sequence of the latest note
  std::unique_ptr<File> file_;
  std::string pending_;               // formatted lines not yet written
  std::uint64_t pending_last_ = 0;    // sequence of the last line in pending_
  std::uint64_t unsynced_last_ = 0;   // written but not yet fdatasync'd
  security::Sha256Digest pending_last_hash_{};
  security::Sha256Digest unsynced_last_hash_{};
  std::uint64_t end_marked_ = 0;      // sequence the end mark holds
  security::Sha256Digest prev_hash_{};
  std::chrono::steady_clock::time_point last_sync_;
  // fdatasync latency, written by the writer thread only.
  std::array<std::atomic<std::uint64_t>, kJournalSyncBoundsNs.size() + 1> sync_buckets_{};
  std::atomic<std::uint64_t> sync_sum_ns_{0};

  // Coordination with waiters (never taken by `record`).
  mutable std::mutex mutex_;
  std::condition_variable writer_wake_;
  std::condition_variable durable_changed_;
  bool wake_requested_ = false;
  std::uint64_t sync_target_ = 0;
  bool stop_requested_ = false;
  bool writer_done_ = false;
  std::string error_;
  std::once_flag stop_once_;
  std::thread writer_;
};

// ---------------------------------------------------------------------------
// Reading and verifying journals (edge code: allocates and may be slow).

/// A point of the chain: a record's sequence number and hash. Sequence 0
/// with an all-zero hash is the start of a fresh journal.
struct AuditAnchor {
  std::uint64_t sequence = 0;
  security::Sha256Digest hash{};
};

/// One parsed journal line. Optional fields absent from the line are empty.
struct AuditRecord {
  std::uint64_t seq = 0;
  std::int64_t time_ns = 0;
  std::string time, event, principal, account, symbol, side, qty, price, cl_ord_id, status,
      broker_order_id, reason, detail;
  std::string by;  ///< the principal whose admin op made the change; empty when none
  std::optional<std::uint32_t> peer_uid;
  std::optional<std::uint32_t> session;
  security::Sha256Digest prev{};
  security::Sha256Digest hash{};
  /// Length of the line prefix the hash covers (everything before `,"hash"`).
  std::size_t covered_length = 0;
};

/// Parses one line (without its newline) strictly: a flat JSON object with
/// known keys, `seq` first and `prev`, `hash` last. On failure returns
/// nullopt and, if `error` is given, says what is wrong (never echoing the
/// line). Does not check the hash.
[[nodiscard]] std::optional<AuditRecord> parse_audit_record(std::string_view line,
                                                            std::string* error = nullptr);

/// The hash a record carries: SHA-256 of `covered` bytes, or HMAC-SHA256
/// under `key` when `key` is given and not empty.
[[nodiscard]] security::Sha256Digest audit_record_hash(std::string_view covered,
                                                       const security::Secret* key) noexcept;

/// The files of a journal in chain order: its rotated files `<active>.N` by
/// number, then `active` itself if it exists.
[[nodiscard]] std::vector<std::filesystem::path> audit_journal_files(
    const std::filesystem::path& active);

/// The end mark `<journal>.end`: the sequence number and hash of the last
/// record the journal made durable (written, under `fsync = "never"`), kept
/// beside the journal so a restart refuses a journal whose tail was removed
/// instead of numbering new records with the removed ones' numbers. nullopt
/// when there is none. Throws AuditJournalError when it is damaged or was
/// written under another HMAC key (`key` null or empty: plain SHA-256).
[[nodiscard]] std::optional<AuditAnchor> read_audit_end_mark(const std::filesystem::path& journal,
                                                             const security::Secret* key);

/// An anchor kept in a file: an end mark (a copy of `<journal>.end`, checked
/// with `key` as above) or one line `SEQ:HASH` (64 hex digits), as
/// `ordergate audit verify` prints them. Throws AuditJournalError naming the
/// file when it is neither.
[[nodiscard]] AuditAnchor read_audit_anchor_file(const std::filesystem::path& path, const security::Secret* key);

/// What `verify_journal` found wrong with the first bad record.
enum class AuditDefect : std::uint8_t {
  none,
  unreadable,  ///< a file could not be opened or read
  malformed,   ///< not a journal record: garbage, a foreign format, an edited delimiter
  truncated,   ///< the last line of a file has no newline (cut short, or bytes appended)
  edited,      ///< the record's hash does not match its content (or the key is wrong)
  removed,     ///< one or more sequence numbers are missing
  reordered,   ///< a record appears before a lower sequence number, or twice
  foreign,     ///< a well-formed record whose `prev` is not its predecessor's hash
  bad_start,   ///< the first record does not continue the expected anchor
};

[[nodiscard]] std::string_view to_string(AuditDefect defect) noexcept;

struct AuditVerifyOptions {
  /// The key of an HMAC journal; null or empty for plain SHA-256.
  const security::Secret* key = nullptr;
  /// Where the first record must continue from. Default: a fresh journal
  /// (first record seq 1, prev all zeros). Set it when older files were
  /// archived, to a sequence and hash printed by an earlier verification.
  AuditAnchor start;
  /// Accept whatever sequence and prev the first record has (checks the
  /// rest of the chain from there). Weaker: anchor the result elsewhere.
  bool trust_first_record = false;
  /// A record known to have been written (the journal's end mark, or an
  /// anchor kept elsewhere): the chain must reach its sequence number
  /// (else `removed`, the tail was cut) and hold that hash there (else
  /// `foreign`). A journal that goes on past it is fine.
  std::optional<AuditAnchor> anchor;
};

struct AuditVerifyResult {
  AuditDefect defect = AuditDefect::none;
  std::filesystem::path file;   ///< the file of the first bad record
  std::uint64_t line = 0;       ///< its 1-based line number in `file`
  std::uint64_t sequence = 0;   ///< the sequence it carries, when it could be read
  std::string message;          ///< one sentence for an operator; empty when ok
  std::uint64_t records = 0;    ///< records verified before the first defect
  AuditAnchor last;             ///< last good record: anchor it elsewhere

  [[nodiscard]] bool ok() const noexcept { return defect == AuditDefect::none; }
};

/// Checks `files` as one chain, in the order given: line syntax, each record's
/// own hash, sequence numbers strictly +1, and `prev` equal to the previous
/// record's hash across file boundaries. Stops at the first defect. Reads
/// each file once (and the rest of the set once more to tell a removed
/// record from a reordered one).
[[nodiscard]] AuditVerifyResult verify_journal(std::span<const std::filesystem::path> files,
                                               const AuditVerifyOptions& options = {});

}  // namespace ordergate
