// The journal's files: opening and resuming the chain at construction, and
// rotation on the writer thread.

#include "journal_detail.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <system_error>
#include <optional>
#include <string>
#include <vector>

namespace ordergate {
namespace journal_detail {

bool write_all(int fd, const char* data, std::size_t size, int& error) {
  while (size > 0) {
    const ssize_t written = ::write(fd, data, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      error = errno;
      return false;
    }
    data += written;
    size -= static_cast<std::size_t>(written);
  }
  return true;
}

bool sync_directory(const std::filesystem::path& directory, int& error) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    error = errno;
    return false;
  }
  const bool ok = ::fsync(fd) == 0;
  if (!ok) error = errno;
  ::close(fd);
  return ok;
}

std::filesystem::path directory_of(const std::filesystem::path& path) {
  return path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
}

std::string segment_suffix(std::uint64_t number) {
  std::string suffix = ".";
  append_padded(suffix, static_cast<unsigned>(number), 6);
  return suffix;
}

std::filesystem::path end_mark_path(const std::filesystem::path& journal) { return journal.string() + ".end"; }

namespace {
constexpr std::string_view kEndMarkTag = "ordergate-journal-end seq=";
constexpr std::string_view kEndMarkHash = " hash=";
constexpr std::string_view kEndMarkCheck = " check=";
constexpr std::size_t kEndMarkDigits = 20;
constexpr std::size_t kEndMarkLength =
    kEndMarkTag.size() + kEndMarkDigits + kEndMarkHash.size() + 64 + kEndMarkCheck.size() + 64 + 1;
}  // namespace

void format_end_mark(std::string& line, std::uint64_t sequence, const security::Sha256Digest& hash,
                     const security::Secret* key) {
  line.clear();
  line += kEndMarkTag;
  std::string digits = std::to_string(sequence);
  line.append(kEndMarkDigits - digits.size(), '0');
  line += digits;
  line += kEndMarkHash;
  line += security::to_hex(hash);
  // The check binds the line to the journal's key (HMAC when it has one), so
  // a torn write is caught, and without the key a mark cannot be rewritten
  // to match a shortened journal.
  const security::Sha256Digest check = audit_record_hash(line, key);
  line += kEndMarkCheck;
  line += security::to_hex(check);
  line += '\n';
}


}  // namespace journal_detail

namespace {

using namespace journal_detail;

// Longest last line `resume` reads back.
constexpr std::size_t kMaxTailBytes = std::size_t{64} * 1024;

std::optional<std::string> read_last_line(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw AuditJournalError("audit journal " + path.string() + ": cannot open: " + errno_text(errno));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    throw AuditJournalError("audit journal " + path.string() + ": not a regular file");
  }
  const auto size = static_cast<std::uint64_t>(info.st_size);
  if (size == 0) {
    ::close(fd);
    return std::nullopt;
  }
  const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(size, kMaxTailBytes + 1));
  std::string tail(want, '\0');
  std::size_t got = 0;
  while (got < want) {
    const ssize_t n = ::pread(fd, tail.data() + got, want - got,
                              static_cast<off_t>(size - want + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : EIO;
      ::close(fd);
      throw AuditJournalError("audit journal " + path.string() + ": cannot read: " + errno_text(error));
    }
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (tail.back() != '\n') {
    throw AuditJournalError(
        "audit journal " + path.string() +
        " is damaged: its last line is incomplete (a crash during a write, or bytes appended). "
        "Run 'ordergate audit repair " + path.string() +
        "' to cut the torn line (it refuses when the line was written whole), then start again");
  }
  tail.pop_back();
  const std::size_t newline = tail.rfind('\n');
  if (newline == std::string::npos && size > want) {
    throw AuditJournalError("audit journal " + path.string() +
                            " is damaged: its last line is longer than any record");
  }
  return newline == std::string::npos ? tail : tail.substr(newline + 1);
}

}  // namespace

using namespace journal_detail;

namespace {

// The mark in `path` itself; nullopt when it does not exist or is empty.
std::optional<AuditAnchor> read_end_mark_file(const std::filesystem::path& path, const security::Secret* key) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw AuditJournalError("audit journal end mark " + path.string() + ": cannot open: " + errno_text(errno));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    throw AuditJournalError("audit journal end mark " + path.string() + ": not a regular file");
  }
  std::string text(kEndMarkLength + 1, '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::pread(fd, text.data() + got, text.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      throw AuditJournalError("audit journal end mark " + path.string() + ": cannot read: " + errno_text(error));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  text.resize(got);
  if (text.empty()) return std::nullopt;

  const std::string damaged =
      "audit journal end mark " + path.string() +
      " is damaged or was written with another HMAC key. It records where the journal ended; "
      "check the journal with 'ordergate audit verify', then remove the mark to accept the journal's "
      "own last record as its end";
  if (text.size() != kEndMarkLength || text.compare(0, kEndMarkTag.size(), kEndMarkTag) != 0) {
    throw AuditJournalError(damaged);
  }
  const std::string_view view(text);
  const std::string_view digits = view.substr(kEndMarkTag.size(), kEndMarkDigits);
  std::size_t at = kEndMarkTag.size() + kEndMarkDigits;
  if (view.substr(at, kEndMarkHash.size()) != kEndMarkHash) throw AuditJournalError(damaged);
  at += kEndMarkHash.size();
  const std::optional<security::Sha256Digest> hash = security::sha256_from_hex(view.substr(at, 64));
  at += 64;
  if (!hash || view.substr(at, kEndMarkCheck.size()) != kEndMarkCheck) throw AuditJournalError(damaged);
  const std::optional<security::Sha256Digest> check =
      security::sha256_from_hex(view.substr(at + kEndMarkCheck.size(), 64));
  std::uint64_t sequence = 0;
  const auto parsed = std::from_chars(digits.data(), digits.data() + digits.size(), sequence);
  if (!check || parsed.ec != std::errc() || parsed.ptr != digits.data() + digits.size() ||
      !security::digest_equal(*check, audit_record_hash(view.substr(0, at), key))) {
    throw AuditJournalError(damaged);
  }
  return AuditAnchor{sequence, *hash};
}

}  // namespace

std::optional<AuditAnchor> read_audit_end_mark(const std::filesystem::path& journal, const security::Secret* key) {
  return read_end_mark_file(end_mark_path(journal), key);
}

AuditAnchor read_audit_anchor_file(const std::filesystem::path& path, const security::Secret* key) {
  std::string text;
  {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw AuditJournalError("anchor " + path.string() + ": cannot open: " + errno_text(errno));
    char buffer[512];
    for (;;) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      text.append(buffer, static_cast<std::size_t>(n));
      if (text.size() > 4096) break;
    }
    ::close(fd);
  }
  if (text.compare(0, journal_detail::kEndMarkTag.size(), journal_detail::kEndMarkTag) == 0) {
    const std::optional<AuditAnchor> mark = read_end_mark_file(path, key);
    if (mark) return *mark;
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  const std::size_t colon = text.find(':');
  std::uint64_t sequence = 0;
  if (colon != std::string::npos && colon > 0 && colon <= 20 && text.size() == colon + 65) {
    const auto parsed = std::from_chars(text.data(), text.data() + colon, sequence);
    const std::optional<security::Sha256Digest> hash =
        security::sha256_from_hex(std::string_view(text).substr(colon + 1));
    if (parsed.ec == std::errc() && parsed.ptr == text.data() + colon && hash) return AuditAnchor{sequence, *hash};
  }
  throw AuditJournalError("anchor " + path.string() +
                          ": neither a journal end mark nor one line SEQ:HASH (a number, a colon, 64 hex digits)");
}

void AuditJournal::resume_or_create() {
  const std::filesystem::path& path = options_.path;
  const std::filesystem::path directory = directory_of(path);
  std::error_code error;
  if (!std::filesystem::is_directory(directory, error)) {
    throw AuditJournalError("audit journal " + path.string() + ": directory " + directory.string() +
                            " does not exist");
  }

  // The end mark is opened first and locked for as long as the journal is
  // open: a second process (another gateway, `audit repair`) on the same
  // journal is refused instead of forking its chain.
  const std::filesystem::path mark_path = end_mark_path(path);
  const int mark_fd = ::open(mark_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  struct stat mark_info {};
  if (mark_fd < 0 || ::fstat(mark_fd, &mark_info) != 0 || !S_ISREG(mark_info.st_mode)) {
    const int open_error = errno;
    if (mark_fd >= 0) ::close(mark_fd);
    throw AuditJournalError("audit journal end mark " + mark_path.string() + ": cannot open for writing: " +
                            (mark_fd >= 0 ? std::string("not a regular file") : errno_text(open_error)));
  }
  if (::flock(mark_fd, LOCK_EX | LOCK_NB) != 0) {
    const int lock_error = errno;
    ::close(mark_fd);
    throw AuditJournalError("audit journal " + path.string() +
                            (lock_error == EWOULDBLOCK ? std::string(" is in use by another process (a running gateway?)")
                                                       : ": cannot lock " + mark_path.string() + ": " +
                                                             errno_text(lock_error)));
  }
  // Closed by the destructor's writer shutdown, or here on a refusal.
  file_->end_fd = mark_fd;
  file_->end_line.reserve(kEndMarkLength);
  struct CloseMarkOnThrow {
    File& file;
    bool armed = true;
    ~CloseMarkOnThrow() {
      if (armed) {
        ::close(file.end_fd);
        file.end_fd = -1;
      }
    }
  } close_mark{*file_};

  // The chain continues from the active file, or, when it is missing or
  // empty (a crash between rotation and the first new line), from the
  // newest rotated file.
  const std::vector<std::filesystem::path> files = audit_journal_files(path);
  std::uint64_t newest_segment = 0;
  for (const auto& file : files) {
    if (file == path) continue;
    const std::string suffix = file.filename().string().substr(path.filename().string().size() + 1);
    newest_segment = std::max<std::uint64_t>(newest_segment, std::stoull(suffix));
  }
  file_->next_segment = newest_segment + 1;

  std::optional<std::string> last_line;
  std::filesystem::path last_file;
  for (auto it = files.rbegin(); it != files.rend() && !last_line; ++it) {
    last_line = read_last_line(*it);
    last_file = *it;
  }
  if (last_line) {
    std::string what;
    const std::optional<AuditRecord> last = parse_audit_record(*last_line, &what);
    if (!last) {
      throw AuditJournalError("audit journal " + last_file.string() +
                              " is damaged: its last line is not a journal record (" + what +
                              "). Run 'ordergate audit verify' to find the first bad record");
    }
    const security::Sha256Digest hash =
        audit_record_hash(std::string_view(*last_line).substr(0, last->covered_length), &options_.hmac_key);
    if (!security::digest_equal(hash, last->hash)) {
      throw AuditJournalError(
          "audit journal " + last_file.string() + ": the hash of its last record (seq " +
          std::to_string(last->seq) + ") does not match: the journal was written " +
          (options_.hmac_key.empty() ? "with an HMAC key (configure it)" : "without this HMAC key") +
          ", or the record was edited. Run 'ordergate audit verify'");
    }
    base_sequence_ = last->seq;
    prev_hash_ = last->hash;
  }

  // A journal that ends before its end mark lost its tail: numbering on
  // from its last record would give new records the removed ones' numbers.
  const std::optional<AuditAnchor> mark = read_audit_end_mark(path, &options_.hmac_key);
  if (mark && mark->sequence > base_sequence_) {
    if (base_sequence_ != 0) {
      throw AuditJournalError(
          "audit journal " + path.string() + " ends at seq " + std::to_string(base_sequence_) +
          " but records up to seq " + std::to_string(mark->sequence) + " were written (" +
          end_mark_path(path).string() + "): records " + std::to_string(base_sequence_ + 1) + ".." +
          std::to_string(mark->sequence) +
          " were removed or lost. Restore them; or move every file of the journal aside (keep them as "
          "evidence) to start a new journal, which continues the numbering at seq " +
          std::to_string(mark->sequence + 1));
    }
    // No journal file at all (moved aside): a new chain that continues the
    // numbering and the hash of the mark, so `audit verify --start` anchors it.
    base_sequence_ = mark->sequence;
    prev_hash_ = mark->hash;
  } else if (mark && mark->sequence == base_sequence_ && base_sequence_ != 0 &&
             !security::digest_equal(mark->hash, prev_hash_)) {
    throw AuditJournalError("audit journal " + path.string() + ": its last record (seq " +
                            std::to_string(base_sequence_) + ") is not the record written with that number (" +
                            end_mark_path(path).string() +
                            "): the journal's tail was replaced. Run 'ordergate audit verify'");
  }

  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    throw AuditJournalError("audit journal " + path.string() + ": cannot open for writing: " +
                            errno_text(errno));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    throw AuditJournalError("audit journal " + path.string() + ": not a regular file");
  }
  file_->fd = fd;
  file_->bytes = static_cast<std::uint64_t>(info.st_size);

  // A journal resumed without a mark (first start of this version) gets
  // one at once, so its tail is covered from now on.
  if (base_sequence_ != 0 && !mark && !write_end_mark(base_sequence_, prev_hash_)) {
    ::close(fd);
    throw AuditJournalError(error_);
  }
  int sync_error = 0;
  if (!sync_directory(directory, sync_error)) {
    ::close(fd);
    throw AuditJournalError("audit journal " + path.string() + ": cannot sync its directory: " +
                            errno_text(sync_error));
  }
  close_mark.armed = false;
}

bool AuditJournal::rotate() {
  if (!sync_file()) return false;
  const std::filesystem::path& path = options_.path;
  const std::filesystem::path target = path.string() + segment_suffix(file_->next_segment);
  ::close(file_->fd);
  file_->fd = -1;
  // RENAME_NOREPLACE: a rotated file is never overwritten, whatever is there.
  if (::renameat2(AT_FDCWD, path.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) != 0) {
    fail("audit journal " + path.string() + ": cannot rotate to " + target.string() + ": " +
         errno_text(errno));
    return false;
  }
  ++file_->next_segment;
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    fail("audit journal " + path.string() + ": cannot create after rotation: " + errno_text(errno));
    return false;
  }
  file_->fd = fd;
  file_->bytes = 0;
  int error = 0;
  if (!sync_directory(directory_of(path), error)) {
    fail("audit journal " + path.string() + ": cannot sync its directory: " + errno_text(error));
    return false;
  }
  return true;
}

}  // namespace ordergate
