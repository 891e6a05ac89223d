#pragma once

// Internal to the audit journal: the pieces its writer, resume and rotation
// files share. Not installed.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "ordergate/audit/journal.hpp"

namespace ordergate {

namespace journal_detail {

// Values of AuditJournal::state_.
constexpr std::uint8_t kOpen = 0;
constexpr std::uint8_t kClosing = 1;
constexpr std::uint8_t kFailed = 2;

// Records formatted per pass before the writer writes them out, so a long
// burst still reaches the file (and the waiters) in bounded steps.
constexpr std::size_t kBatchRecords = 512;
// Yields before the idle writer sleeps on its condition variable.
constexpr int kIdleYields = 32;
// Longest the idle writer sleeps before looking at the ring again.
constexpr std::chrono::microseconds kIdleWait{1000};

std::string errno_text(int error);
// `value` in decimal, left-padded with zeros to `width` digits.
void append_padded(std::string& out, unsigned value, int width);

// Formats one record as a journal line, newline included, into `line` (whose
// capacity is reused) and returns its hash. A non-zero `dropped_marker` makes
// it the writer's records_dropped note instead of `event`.
security::Sha256Digest format_record_line(std::string& line, std::uint64_t sequence, const AuditEvent& event,
                                          std::uint32_t dropped_marker, const AuditNames& names,
                                          const security::Sha256Digest& prev, const security::Secret* key);

// write(2) until everything is written; false with `error` set on failure.
bool write_all(int fd, const char* data, std::size_t size, int& error);
bool sync_directory(const std::filesystem::path& directory, int& error);
std::filesystem::path directory_of(const std::filesystem::path& path);
// ".000001" for rotated file number 1.
std::string segment_suffix(std::uint64_t number);

// The end mark: a small file beside the journal holding the sequence and
// hash of the last record known to be in the file, so that a restart after
// the tail was removed is refused instead of numbering new records with the
// removed ones' sequence numbers.
std::filesystem::path end_mark_path(const std::filesystem::path& journal);
// Formats the mark's single fixed-length line into `line`.
void format_end_mark(std::string& line, std::uint64_t sequence, const security::Sha256Digest& hash,
                     const security::Secret* key);

}  // namespace journal_detail

struct AuditJournal::Slot {
  // Position p is free to write when turn == p, readable when turn == p + 1;
  // the writer hands it back for the next lap by storing p + capacity.
  std::atomic<std::uint64_t> turn{0};
  // Non-zero: not an event but the writer's note that this many records
  // were refused since its previous note.
  std::uint32_t dropped_marker = 0;
  AuditEvent event;
};

struct AuditJournal::File {
  int fd = -1;
  std::uint64_t bytes = 0;         // size of the active file
  std::uint64_t next_segment = 1;  // number of the next rotated file
  std::string line;                // reused formatting buffer
  int end_fd = -1;                 // the end mark, `<path>.end`
  std::string end_line;            // reused end-mark buffer (fixed length)
};

}  // namespace ordergate
