#include "order_map.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace ordergate::detail {
namespace {

bool blank_free(std::string_view text) {
  if (text.empty()) return false;
  for (const char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\0') return false;
  }
  return true;
}

bool write_all(int fd, std::string_view data) noexcept {
  while (!data.empty()) {
    const ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(written));
  }
  return true;
}

void read_lines(const std::filesystem::path& path, std::unordered_map<std::string, OrderOwner>& owners,
                std::size_t& skipped) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot be read");
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t first = line.find(' ');
    const std::size_t second = first == std::string::npos ? std::string::npos : line.find(' ', first + 1);
    if (second == std::string::npos || line.find(' ', second + 1) != std::string::npos || in.eof()) {
      // No newline at the end (in.eof()) is a torn line too.
      ++skipped;
      continue;
    }
    OrderOwner owner{line.substr(first + 1, second - first - 1), line.substr(second + 1)};
    if (first == 0 || owner.principal.empty() || owner.client_order_id.empty()) {
      ++skipped;
      continue;
    }
    owners[line.substr(0, first)] = std::move(owner);
  }
}

}  // namespace

OrderMap::OrderMap(std::filesystem::path snapshot) : snapshot_(std::move(snapshot)) {
  if (!snapshot_.empty()) log_ = std::filesystem::path(snapshot_.string() + ".log");
}

OrderMap::~OrderMap() {
  if (log_fd_ >= 0) ::close(log_fd_);
}

std::unordered_map<std::string, OrderOwner> OrderMap::load(std::size_t& skipped) const {
  std::unordered_map<std::string, OrderOwner> owners;
  skipped = 0;
  if (!enabled()) return owners;
  read_lines(snapshot_, owners, skipped);
  read_lines(log_, owners, skipped);
  return owners;
}

bool OrderMap::format_line(std::string_view venue_id, std::string_view principal, std::string_view client_order_id,
                           std::string& out) {
  if (!blank_free(venue_id) || !blank_free(principal) || !blank_free(client_order_id)) return false;
  out.append(venue_id).append(" ").append(principal).append(" ").append(client_order_id).append("\n");
  return true;
}

bool OrderMap::open_log() noexcept {
  if (log_fd_ >= 0) return true;
  log_fd_ = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd_ < 0) return false;
  struct stat info {};
  if (::fstat(log_fd_, &info) == 0) log_bytes_ = static_cast<std::uint64_t>(info.st_size);
  return true;
}

bool OrderMap::append(std::string_view lines) noexcept {
  if (!enabled() || lines.empty()) return true;
  if (!open_log() || !write_all(log_fd_, lines)) return false;
  log_bytes_ += lines.size();
  return true;
}

bool OrderMap::compact(std::string_view lines) noexcept {
  if (!enabled()) return true;
  const std::string temporary = snapshot_.string() + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const bool written = write_all(fd, lines) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written || ::rename(temporary.c_str(), snapshot_.c_str()) != 0) {
    ::unlink(temporary.c_str());
    return false;
  }
  if (const int directory = ::open(snapshot_.parent_path().empty() ? "." : snapshot_.parent_path().c_str(),
                                   O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      directory >= 0) {
    (void)::fsync(directory);
    ::close(directory);
  }
  // The snapshot now holds every order still working: the log may go.
  if (!open_log() || ::ftruncate(log_fd_, 0) != 0) return false;
  log_bytes_ = 0;
  return true;
}

}  // namespace ordergate::detail
