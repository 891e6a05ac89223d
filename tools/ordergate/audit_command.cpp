// ordergate audit: verify the audit journal's hash chain, and review it.

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "ordergate/audit/journal.hpp"
#include "ordergate/security/crypto.hpp"
#include "ordergate/security/secret.hpp"

namespace ordergate::cli {
namespace {

constexpr int kOk = 0;
constexpr int kFailure = 1;
constexpr int kUsage = 2;

constexpr const char* kAuditHelp =
    "usage: ordergate audit verify [--key-env VAR] [--start SEQ:HASH | --partial] [--anchor FILE] FILE...\n"
    "       ordergate audit verify [--key-env VAR] [--anchor FILE] --journal PATH\n"
    "       ordergate audit repair [--key-env VAR] PATH\n"
    "       ordergate audit tail FILE [-n N] [--principal P] [--account A] [--event E] [--follow]\n"
    "\n"
    "verify  checks the hash chain across FILE... in order (oldest rotated file first,\n"
    "        the active file last; --journal PATH finds them). Prints\n"
    "        'OK last_seq=N last_hash=H' -- anchor those elsewhere -- or the first\n"
    "        broken record, and exits 1.\n"
    "          --key-env VAR     the HMAC key of a keyed journal, from this variable\n"
    "          --start SEQ:HASH  the files continue after this anchor (older files archived)\n"
    "          --partial         trust the first record's seq and prev (weaker)\n"
    "          --anchor FILE     the chain must reach this record: an end mark (a copy of\n"
    "                            PATH.end) or one line SEQ:HASH kept elsewhere; with\n"
    "                            --journal and no --anchor, the journal's own end mark\n"
    "repair  cuts a torn last line (a crash during a write) from the journal PATH and\n"
    "        records the repair in the journal; refuses anything else (run verify).\n"
    "tail    prints the last N (default 20; 0 = all) records matching every filter, as\n"
    "        JSON lines; --follow keeps printing new ones, across rotations.\n"
    "\n"
    "Record format and guarantees: docs/audit.md.\n";

int usage_error(const std::string& what) {
  std::fprintf(stderr, "ordergate audit: %s\n\n%s", what.c_str(), kAuditHelp);
  return kUsage;
}

std::optional<AuditAnchor> parse_anchor(std::string_view text) {
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  AuditAnchor anchor;
  const std::string digits(text.substr(0, colon));
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 19) {
    return std::nullopt;
  }
  anchor.sequence = std::stoull(digits);
  const std::optional<security::Sha256Digest> hash = security::sha256_from_hex(text.substr(colon + 1));
  if (!hash) return std::nullopt;
  anchor.hash = *hash;
  return anchor;
}

int verify(const Args& args) {
  std::vector<std::filesystem::path> files;
  std::optional<security::Secret> key;
  AuditVerifyOptions options;
  std::filesystem::path journal;      // --journal: its end mark is the default anchor
  std::filesystem::path anchor_file;  // --anchor
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    const bool has_value = i + 1 < args.size();
    if (arg == "--help" || arg == "-h") {
      std::fputs(kAuditHelp, stdout);
      return kOk;
    }
    if (arg == "--key-env" && has_value) {
      const std::string& variable = args[++i];
      const char* value = std::getenv(variable.c_str());  // NOLINT(concurrency-mt-unsafe): CLI, one thread, no setenv
      if (value == nullptr || *value == '\0') {
        std::fprintf(stderr, "ordergate audit verify: environment variable %s is not set or empty\n",
                     variable.c_str());
        return kUsage;
      }
      key.emplace(value);
    } else if (arg == "--start" && has_value) {
      const std::optional<AuditAnchor> anchor = parse_anchor(args[++i]);
      if (!anchor) return usage_error("--start wants SEQ:HASH (a number, a colon, 64 hex digits)");
      options.start = *anchor;
    } else if (arg == "--partial") {
      options.trust_first_record = true;
    } else if (arg == "--anchor" && has_value) {
      anchor_file = args[++i];
    } else if (arg == "--journal" && has_value) {
      journal = args[i + 1];
      const std::vector<std::filesystem::path> found = audit_journal_files(args[++i]);
      if (found.empty()) {
        std::fprintf(stderr, "ordergate audit verify: no journal files at %s\n", args[i].c_str());
        return kFailure;
      }
      files.insert(files.end(), found.begin(), found.end());
    } else if (!arg.empty() && arg[0] == '-') {
      return usage_error("unexpected option '" + arg + "'");
    } else {
      files.emplace_back(arg);
    }
  }
  if (files.empty()) return usage_error("verify needs at least one FILE");
  if (key) options.key = &*key;

  try {
    if (!anchor_file.empty()) {
      options.anchor = read_audit_anchor_file(anchor_file, options.key);
    } else if (!journal.empty()) {
      options.anchor = read_audit_end_mark(journal, options.key);  // a mark behind the journal is fine
    }
  } catch (const AuditJournalError& e) {
    std::printf("FAIL unreadable: %s\n", e.what());
    return kFailure;
  }
  const AuditVerifyResult result = verify_journal(files, options);
  if (result.ok()) {
    std::printf("OK last_seq=%llu last_hash=%s records=%llu files=%zu\n",
                static_cast<unsigned long long>(result.last.sequence), security::to_hex(result.last.hash).c_str(),
                static_cast<unsigned long long>(result.records), files.size());
    return kOk;
  }
  std::printf("FAIL %s %s:%llu", std::string(to_string(result.defect)).c_str(), result.file.c_str(),
              static_cast<unsigned long long>(result.line));
  if (result.sequence != 0 && result.defect != AuditDefect::malformed && result.defect != AuditDefect::truncated) {
    std::printf(" seq=%llu", static_cast<unsigned long long>(result.sequence));
  }
  std::printf(": %s\n", result.message.c_str());
  std::printf("last good record: last_seq=%llu last_hash=%s records=%llu\n",
              static_cast<unsigned long long>(result.last.sequence), security::to_hex(result.last.hash).c_str(),
              static_cast<unsigned long long>(result.records));
  return kFailure;
}

struct TailFilter {
  std::string principal, account, event;

  [[nodiscard]] bool matches(const AuditRecord& record) const {
    return (principal.empty() || record.principal == principal) && (account.empty() || record.account == account) &&
           (event.empty() || record.event == event);
  }
};

// Reads the records appended to a journal since the last call. When the
// active file was rotated (one or more times) since then, it finishes the
// old file, reads every newer rotated file, then the new active file, and
// skips sequence numbers it already delivered, so nothing is missed or
// repeated while the files stay in place.
class Follower {
 public:
  explicit Follower(std::filesystem::path path) : path_(std::move(path)) { open(path_); }

  /// Calls `on_record(line, record)` for each new line; `record` is null for
  /// a line that is not a journal record.
  template <typename OnRecord>
  void poll(OnRecord&& on_record) {
    read_available(on_record);
    struct stat now {};
    if (::stat(path_.c_str(), &now) != 0) return;  // mid-rotation: try again later
    if (now.st_ino == inode_ && static_cast<std::uint64_t>(now.st_size) >= offset_) return;
    const ino_t old_inode = inode_;
    bool after_old = false;
    for (const std::filesystem::path& file : audit_journal_files(path_)) {
      if (file == path_) break;
      struct stat info {};
      if (::stat(file.c_str(), &info) != 0) continue;
      if (info.st_ino == old_inode) {
        after_old = true;  // its rest was read above
        continue;
      }
      if (!after_old) continue;
      open(file);
      read_available(on_record);
    }
    open(path_);
    read_available(on_record);
  }

 private:
  void open(const std::filesystem::path& file) {
    in_ = std::ifstream(file, std::ios::binary);
    struct stat info {};
    inode_ = ::stat(file.c_str(), &info) == 0 ? info.st_ino : 0;
    offset_ = 0;
    partial_.clear();
  }

  template <typename OnRecord>
  void read_available(OnRecord& on_record) {
    if (!in_.is_open()) return;
    in_.clear();
    char buffer[64 * 1024];
    for (;;) {
      in_.read(buffer, sizeof buffer);
      const std::streamsize got = in_.gcount();
      if (got <= 0) break;
      offset_ += static_cast<std::uint64_t>(got);
      partial_.append(buffer, static_cast<std::size_t>(got));
      std::size_t start = 0;
      for (std::size_t newline; (newline = partial_.find('\n', start)) != std::string::npos; start = newline + 1) {
        const std::string_view line = std::string_view(partial_).substr(start, newline - start);
        const std::optional<AuditRecord> record = parse_audit_record(line);
        if (record) {
          if (record->seq <= last_sequence_) continue;
          last_sequence_ = record->seq;
        }
        on_record(line, record ? &*record : nullptr);
      }
      partial_.erase(0, start);
    }
    in_.clear();
  }

  std::filesystem::path path_;
  std::ifstream in_;
  ino_t inode_ = 0;
  std::uint64_t offset_ = 0;
  std::uint64_t last_sequence_ = 0;
  std::string partial_;
};

int tail(const Args& args) {
  std::string file;
  std::size_t count = 20;
  bool follow = false;
  TailFilter filter;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    const bool has_value = i + 1 < args.size();
    if (arg == "--help" || arg == "-h") {
      std::fputs(kAuditHelp, stdout);
      return kOk;
    }
    if (arg == "-n" && has_value) {
      const std::string& value = args[++i];
      if (value.empty() || value.size() > 9 || value.find_first_not_of("0123456789") != std::string::npos) {
        return usage_error("-n wants a number");
      }
      count = std::stoul(value);
    } else if (arg == "--principal" && has_value) {
      filter.principal = args[++i];
    } else if (arg == "--account" && has_value) {
      filter.account = args[++i];
    } else if (arg == "--event" && has_value) {
      filter.event = args[++i];
    } else if (arg == "--follow" || arg == "-f") {
      follow = true;
    } else if (!arg.empty() && arg[0] == '-') {
      return usage_error("unexpected option '" + arg + "'");
    } else if (file.empty()) {
      file = arg;
    } else {
      return usage_error("tail reads one FILE");
    }
  }
  if (file.empty()) return usage_error("tail needs a FILE");
  if (!std::filesystem::exists(file)) {
    std::fprintf(stderr, "ordergate audit tail: %s does not exist\n", file.c_str());
    return kFailure;
  }

  std::uint64_t skipped = 0;
  std::deque<std::string> last;
  Follower follower{std::filesystem::path(file)};
  follower.poll([&](std::string_view line, const AuditRecord* record) {
    if (record == nullptr) {
      ++skipped;
      return;
    }
    if (!filter.matches(*record)) return;
    last.emplace_back(line);
    if (count != 0 && last.size() > count) last.pop_front();
  });
  for (const std::string& line : last) std::printf("%s\n", line.c_str());
  if (skipped != 0) {
    std::fprintf(stderr, "ordergate audit tail: skipped %llu lines that are not journal records "
                 "(run 'ordergate audit verify')\n", static_cast<unsigned long long>(skipped));
  }
  std::fflush(stdout);
  if (!follow) return kOk;

  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    follower.poll([&](std::string_view line, const AuditRecord* record) {
      if (record == nullptr) {
        std::fprintf(stderr, "ordergate audit tail: skipped a line that is not a journal record\n");
        return;
      }
      if (filter.matches(*record)) {
        std::printf("%.*s\n", static_cast<int>(line.size()), line.data());
      }
    });
    std::fflush(stdout);
  }
}

// Cuts a torn last line: only when the journal's files verify up to it and
// the fragment after the last newline is all that is wrong, and never a
// record the end mark says was written whole.
int repair(const Args& args) {
  std::optional<security::Secret> key;
  std::filesystem::path path;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kAuditHelp, stdout);
      return kOk;
    }
    if (arg == "--key-env" && i + 1 < args.size()) {
      const std::string& variable = args[++i];
      const char* value = std::getenv(variable.c_str());  // NOLINT(concurrency-mt-unsafe): CLI, one thread, no setenv
      if (value == nullptr || *value == '\0') {
        std::fprintf(stderr, "ordergate audit repair: environment variable %s is not set or empty\n",
                     variable.c_str());
        return kUsage;
      }
      key.emplace(value);
    } else if (!arg.empty() && arg[0] == '-') {
      return usage_error("unexpected option '" + arg + "'");
    } else if (path.empty()) {
      path = arg;
    } else {
      return usage_error("repair takes one journal PATH");
    }
  }
  if (path.empty()) return usage_error("repair needs the journal PATH");
  const security::Secret* key_pointer = key ? &*key : nullptr;
  const auto refuse = [&](const std::string& why) {
    std::printf("REFUSED %s: %s\n", path.c_str(), why.c_str());
    return kFailure;
  };

  // Hold the journal's lock while looking and cutting: a running gateway
  // may be in the middle of writing what looks like a torn line.
  const std::string mark_path = path.string() + ".end";
  const int lock_fd = ::open(mark_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lock_fd < 0) return refuse("cannot open " + mark_path);
  struct LockRelease {
    int fd;
    ~LockRelease() { ::close(fd); }
  } release{lock_fd};
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) return refuse("the journal is in use by another process (a running gateway?)");

  const std::vector<std::filesystem::path> files = audit_journal_files(path);
  if (files.empty() || files.back() != path) return refuse("no active journal file to repair");
  AuditVerifyOptions options;
  options.key = key_pointer;
  options.trust_first_record = true;  // only the tail matters here; 'verify' checks the start
  const AuditVerifyResult result = verify_journal(files, options);
  if (result.ok()) return refuse("nothing to repair: its last line is complete");
  if (result.defect != AuditDefect::truncated || result.file != path) {
    return refuse("the journal is damaged elsewhere (" + std::string(to_string(result.defect)) + " at " +
                  result.file.string() + ":" + std::to_string(result.line) + "): run 'ordergate audit verify'");
  }
  std::error_code error;
  const std::uintmax_t size = std::filesystem::file_size(path, error);
  std::ifstream in(path, std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (error || content.size() != size) return refuse("cannot read it");
  const std::size_t keep = content.rfind('\n') == std::string::npos ? 0 : content.rfind('\n') + 1;
  const std::size_t cut = content.size() - keep;
  std::optional<AuditAnchor> mark;
  try {
    mark = read_audit_end_mark(path, key_pointer);
  } catch (const AuditJournalError& e) {
    return refuse(e.what());
  }
  if (mark && mark->sequence > result.last.sequence) {
    return refuse("the end mark says seq " + std::to_string(mark->sequence) +
                  " was written whole: the last line was not torn by a crash; restore the journal");
  }
  std::filesystem::resize_file(path, keep, error);
  if (error) return refuse("cannot cut it: " + error.message());
  ::flock(lock_fd, LOCK_UN);  // the journal takes it again below

  AuditJournalOptions journal_options;
  journal_options.path = path;
  journal_options.fsync = AuditFsync::always;
  if (key) journal_options.hmac_key = key->clone();
  std::uint64_t sequence = 0;
  try {
    AuditJournal journal(std::move(journal_options));
    AuditEvent event;
    event.type = AuditEventType::journal_repaired;
    event.time_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    event.detail.assign("cut " + std::to_string(cut) + " bytes of a torn last line");
    sequence = journal.record(event);
    if (sequence == 0 || !journal.wait_durable(sequence)) return refuse("cut, but the repair record was not written");
  } catch (const AuditJournalError& e) {
    return refuse(std::string("cut, but the journal did not open: ") + e.what());
  }
  std::printf("REPAIRED %s: cut %zu bytes of a torn last line after seq %llu; recorded as seq %llu\n",
              path.c_str(), cut, static_cast<unsigned long long>(result.last.sequence),
              static_cast<unsigned long long>(sequence));
  return kOk;
}

}  // namespace

int audit_command(const Args& args) {
  if (args.empty()) return usage_error("missing subcommand");
  const std::string& sub = args[0];
  if (sub == "--help" || sub == "-h") {
    std::fputs(kAuditHelp, stdout);
    return kOk;
  }
  if (sub == "verify") return verify(args);
  if (sub == "tail") return tail(args);
  if (sub == "repair") return repair(args);
  return usage_error("unknown subcommand '" + sub + "'");
}

}  // namespace ordergate::cli
