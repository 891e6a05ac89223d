#include "order_map.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace ordergate::detail {
namespace {

bool blank_free(std::string_view text) {
  if (text.empty()) return false;
  return std::none_of(text.begin(), text.end(),
                      [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\0'; });
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

// Reads "VENUE PRINCIPAL CL_ORD_ID WALL_S" lines; `used` may be null.
void read_lines(const std::filesystem::path& path, OrderMap::Loaded& loaded, bool collect_used) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot be read");
  std::string line;
  while (std::getline(in, line)) {
    std::string_view rest(line);
    std::string_view fields[4];
    std::size_t count = 0;
    while (!rest.empty() && count < 4) {
      const std::size_t space = rest.find(' ');
      fields[count++] = rest.substr(0, space);
      rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
    }
    std::int64_t wall_s = 0;
    const std::string_view stamp = fields[3];
    // No newline at the end (in.eof()) is a torn line too.
    if (count != 4 || !rest.empty() || in.eof() || fields[0].empty() || fields[1].empty() || fields[2].empty() ||
        std::from_chars(stamp.data(), stamp.data() + stamp.size(), wall_s).ec != std::errc{}) {
      ++loaded.skipped;
      continue;
    }
    loaded.owners[std::string(fields[0])] = OrderOwner{std::string(fields[1]), std::string(fields[2])};
    if (collect_used) loaded.used.push_back({std::string(fields[1]), std::string(fields[2]), wall_s});
  }
}

}  // namespace

OrderMap::OrderMap(std::filesystem::path base) : base_(std::move(base)) {}

OrderMap::~OrderMap() {
  if (log_fd_ >= 0) ::close(log_fd_);
}

std::vector<std::pair<std::int64_t, std::filesystem::path>> OrderMap::hour_files() const {
  std::vector<std::pair<std::int64_t, std::filesystem::path>> files;
  const std::filesystem::path directory = base_.parent_path().empty() ? "." : base_.parent_path();
  const std::string prefix = base_.filename().string() + ".";
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= prefix.size() + 4 || name.compare(0, prefix.size(), prefix) != 0 ||
        name.compare(name.size() - 4, 4, ".log") != 0) {
      continue;
    }
    const std::string_view hour_text(name.data() + prefix.size(), name.size() - prefix.size() - 4);
    std::int64_t hour = 0;
    if (std::from_chars(hour_text.data(), hour_text.data() + hour_text.size(), hour).ec == std::errc{}) {
      files.emplace_back(hour, entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

OrderMap::Loaded OrderMap::load() const {
  Loaded loaded;
  if (!enabled()) return loaded;
  read_lines(base_, loaded, /*collect_used=*/false);
  for (const auto& [hour, path] : hour_files()) read_lines(path, loaded, /*collect_used=*/true);
  return loaded;
}

bool OrderMap::format_line(std::string_view venue_id, std::string_view principal, std::string_view client_order_id,
                           std::int64_t wall_s, std::string& out) {
  if (!blank_free(venue_id) || !blank_free(principal) || !blank_free(client_order_id)) return false;
  out.append(venue_id).append(" ").append(principal).append(" ").append(client_order_id).append(" ");
  out.append(std::to_string(wall_s)).append("\n");
  return true;
}

bool OrderMap::open_hour(std::int64_t hour) noexcept {
  if (log_fd_ >= 0 && hour == hour_) return true;
  if (log_fd_ >= 0) ::close(log_fd_);
  const std::string path = base_.string() + "." + std::to_string(hour) + ".log";
  log_fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  hour_ = log_fd_ >= 0 ? hour : -1;
  return log_fd_ >= 0;
}

bool OrderMap::append(std::string_view lines, std::int64_t wall_s) noexcept {
  if (!enabled() || lines.empty()) return true;
  return open_hour(wall_s / 3600) && write_all(log_fd_, lines);
}

bool OrderMap::compact(std::string_view lines, std::int64_t wall_s, std::int64_t keep_s) noexcept {
  if (!enabled()) return true;
  const std::string temporary = base_.string() + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const bool written = write_all(fd, lines) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written || ::rename(temporary.c_str(), base_.c_str()) != 0) {
    ::unlink(temporary.c_str());
    return false;
  }
  if (const int directory = ::open(base_.parent_path().empty() ? "." : base_.parent_path().c_str(),
                                   O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      directory >= 0) {
    (void)::fsync(directory);
    ::close(directory);
  }
  // The snapshot holds every order still working: an hour file that ended
  // more than the window ago has nothing else anyone needs.
  try {
    for (const auto& [hour, path] : hour_files()) {
      if ((hour + 1) * 3600 + keep_s < wall_s && hour != hour_) {
        std::error_code ignored;
        std::filesystem::remove(path, ignored);
      }
    }
  } catch (...) {
    return false;
  }
  return true;
}

}  // namespace ordergate::detail
