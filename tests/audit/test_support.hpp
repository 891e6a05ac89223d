#pragma once

// Shared helpers for the audit journal tests: a scratch directory, events,
// and reading a journal back.

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ordergate/core/decimal.hpp"
#include "ordergate/core/ports.hpp"
#include "ordergate/audit/journal.hpp"

namespace ordergate::testing {

/// A fresh directory under the system temp dir, removed with its content.
class ScratchDirectory {
 public:
  ScratchDirectory() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("ordergate-audit-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  [[nodiscard]] std::filesystem::path operator/(const char* name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline AuditNames test_names() {
  return AuditNames::from_lists({"alice", "bob"}, {"acc-a", "acc-b"}, {"EUR/USD", "USD/JPY"});
}

/// An accepted order of alice on acc-a EUR/USD, with `detail` as a marker.
inline AuditEvent order_event(std::string_view client_order_id, std::string_view detail = {}) {
  AuditEvent event;
  event.type = AuditEventType::order_accepted;
  event.side = Side::buy;
  event.principal_id = 0;
  event.account_id = 0;
  event.instrument_id = 0;
  event.session_id = 65537;
  event.time_ns = 1'700'000'000'123'456'789;
  event.quantity = decimal_literal("10000");
  event.price = decimal_literal("1.08463");
  event.client_order_id.assign(client_order_id);
  event.detail.assign(detail);
  return event;
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

inline void write_file(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

/// The lines of a file, without their newlines.
inline std::vector<std::string> read_lines(const std::filesystem::path& path) {
  std::vector<std::string> lines;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

inline std::string join_lines(const std::vector<std::string>& lines) {
  std::string content;
  for (const auto& line : lines) content += line + "\n";
  return content;
}

inline AuditRecord parse_or_fail(const std::string& line) {
  std::string error;
  std::optional<AuditRecord> record = parse_audit_record(line, &error);
  EXPECT_TRUE(record.has_value()) << error << " in: " << line;
  return record.value_or(AuditRecord{});
}

inline AuditJournalOptions journal_options(const std::filesystem::path& path,
                                           AuditFsync fsync = AuditFsync::always) {
  AuditJournalOptions options;
  options.path = path;
  options.fsync = fsync;
  options.queue_capacity = 1024;
  return options;
}

inline AuditVerifyResult verify_files(const std::vector<std::filesystem::path>& files,
                                      const security::Secret* key = nullptr) {
  AuditVerifyOptions options;
  options.key = key;
  return verify_journal(files, options);
}

}  // namespace ordergate::testing
