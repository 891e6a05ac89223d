#pragma once

// Internal to the paper broker: the writer of its state file (format in
// ordergate/adapters/paper/paper_state.hpp and docs/paper-broker.md).
//
// The broker stages the records of one batch of changes, then `commit`s them
// (one write, one fdatasync) before it reports any of them. Compaction
// rewrites the whole state through a temporary file and a rename. The file is
// locked (flock) for the writer's lifetime, so two brokers never share it.
// Broker thread only.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ordergate/adapters/paper/paper_state.hpp"

namespace ordergate::adapters::paper_detail {

class PaperStateLog {
 public:
  /// Opens and locks `path` (creating it when absent), loads it and rewrites
  /// it compacted. Throws std::runtime_error naming the file when it cannot
  /// (unreadable, damaged, in use by another broker, directory missing).
  PaperStateLog(std::string path, const InstrumentTable& instruments, tls::LogFunction log);
  ~PaperStateLog();
  PaperStateLog(const PaperStateLog&) = delete;
  PaperStateLog& operator=(const PaperStateLog&) = delete;

  /// What the file held at start; moved out once by the broker.
  [[nodiscard]] PaperState take_loaded() noexcept { return std::move(loaded_); }

  void stage_next(std::uint64_t next_broker_sequence) noexcept;
  void stage_position(AccountId account, InstrumentId instrument, Decimal net) noexcept;
  void stage_order(const PaperRestingOrder& resting) noexcept;
  void stage_gone(std::uint64_t broker_sequence) noexcept;

  /// Writes and syncs the staged records. False when that failed (logged;
  /// the records may or may not be on disk): the broker then announces
  /// nothing more. Nothing staged: true, no system call.
  [[nodiscard]] bool commit() noexcept;

  /// True when the records appended since the last compaction outgrow it.
  [[nodiscard]] bool wants_compaction() const noexcept;

  enum class CompactResult : std::uint8_t {
    compacted,  ///< the file now holds `state` alone
    unchanged,  ///< failed before the rename (logged): the file is as it was, appending goes on
    failed,     ///< renamed, but the directory could not be synced (logged): the rename may not last
  };
  /// Rewrites the file as `state`, which must be what the file holds.
  /// Allocates; throws only std::bad_alloc.
  CompactResult compact(const PaperState& state);

  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  void open_and_load();
  void stage_line(std::string_view record) noexcept;
  void log(tls::LogLevel level, const std::string& line) const noexcept;

  std::string path_;
  const InstrumentTable& instruments_;
  tls::LogFunction log_;
  int fd_ = -1;
  PaperState loaded_;
  std::string staged_;
  std::string record_;  // scratch for one record
  std::size_t staged_records_ = 0;
  bool staging_failed_ = false;  // a record could not be staged: the next commit fails
  std::string last_error_;  // why the last compaction failed
  std::size_t records_since_compaction_ = 0;
  std::size_t snapshot_records_ = 0;
};

}  // namespace ordergate::adapters::paper_detail
