// The journal's files: opening and resuming the chain at construction, and
// rotation on the writer thread.

#include "journal_detail.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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

// The last complete line of `path` (without its newline), or nullopt for an

}  // namespace journal_detail

namespace {

using journal_detail::errno_text;

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
        "Run 'ordergate audit verify' on it, then move the file aside or cut the incomplete "
        "line before starting again");
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

void AuditJournal::resume_or_create() {
  const std::filesystem::path& path = options_.path;
  const std::filesystem::path directory = directory_of(path);
  std::error_code error;
  if (!std::filesystem::is_directory(directory, error)) {
    throw AuditJournalError("audit journal " + path.string() + ": directory " + directory.string() +
                            " does not exist");
  }

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
  int sync_error = 0;
  if (!sync_directory(directory, sync_error)) {
    ::close(fd);
    throw AuditJournalError("audit journal " + path.string() + ": cannot sync its directory: " +
                            errno_text(sync_error));
  }
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
