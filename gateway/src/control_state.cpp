#include "ordergate/gateway/control_state.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <limits>
#include <string_view>
#include <vector>

#include "ordergate/core/error_text.hpp"
#include "ordergate/security/crypto.hpp"

namespace ordergate {
namespace {

// The file is small text an operator can read:
//
//   ordergate-control-state 1
//   global ACTIVE
//   account paper HALTED
//   principal alice REDUCING
//   disabled bob
//   check <SHA-256 of every byte above, hex>
//
// Names are written byte for byte when they are plain ([A-Za-z0-9._:@/+-]),
// otherwise %XX-escaped, so a name never breaks a line or a field.
constexpr std::string_view kHeader = "ordergate-control-state 1\n";
constexpr std::string_view kCheck = "check ";
constexpr std::size_t kMaxFileBytes = std::size_t{4} << 20;

bool plain(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == ':' || c == '@' || c == '/' || c == '+' || c == '-';
}

void append_name(std::string& out, std::string_view name) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (const char c : name) {
    if (plain(c)) {
      out += c;
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0x0F];
    }
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> decode_name(std::string_view text) {
  std::string name;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      if (!plain(text[i])) return std::nullopt;
      name += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = hex_value(text[i + 1]);
    const int low = hex_value(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    const char decoded = static_cast<char>((high << 4) | low);
    if (plain(decoded)) return std::nullopt;  // one spelling per name
    name += decoded;
    i += 2;
  }
  if (name.empty()) return std::nullopt;
  return name;
}


// The whole text of a small state file; nullopt when it does not exist.
// `what` names the kind of file in errors ("control state").
std::optional<std::string> read_state_text(const std::filesystem::path& path, const std::string& what) {
  const std::string where = what + " " + path.string();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw ControlStateError(where + ": cannot open: " + error_text(errno));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    throw ControlStateError(where + ": not a regular file");
  }
  if (static_cast<std::uint64_t>(info.st_size) > kMaxFileBytes) {
    ::close(fd);
    throw ControlStateError(where + ": larger than any state file the gateway writes");
  }
  std::string text(static_cast<std::size_t>(info.st_size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : EIO;
      ::close(fd);
      throw ControlStateError(where + ": cannot read: " + error_text(error));
    }
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return text;
}

// Replaces `path` with `text`: a temporary file beside it, fdatasync'd,
// renamed over it, the directory fsync'd.
void replace_state_text(const std::filesystem::path& path, std::string_view text, const std::string& what) {
  const std::string where = what + " " + path.string();
  const std::filesystem::path directory = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  const std::filesystem::path staging = path.string() + ".tmp";
  const auto fail = [&](const std::string& step, int error) {
    throw ControlStateError(where + ": " + step + ": " + error_text(error));
  };
  const int fd = ::open(staging.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) fail("cannot create " + staging.string(), errno);
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : EIO;
      ::close(fd);
      fail("cannot write " + staging.string(), error);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fdatasync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    fail("cannot sync " + staging.string(), error);
  }
  ::close(fd);
  if (::rename(staging.c_str(), path.c_str()) != 0) fail("cannot replace it", errno);
  const int directory_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (directory_fd < 0) fail("cannot open its directory", errno);
  if (::fsync(directory_fd) != 0) {
    const int error = errno;
    ::close(directory_fd);
    fail("cannot sync its directory", error);
  }
  ::close(directory_fd);
}

void append_check(std::string& text) {
  const security::Sha256Digest check = security::sha256(text);
  text += kCheck;
  text += security::to_hex(check);
  text += '\n';
}

// The body of `text` (everything before its check line) when the check line
// covers it exactly; nullopt otherwise.
std::optional<std::string_view> checked_body(std::string_view text) {
  if (text.empty() || text.back() != '\n') return std::nullopt;
  const std::size_t last = text.rfind('\n', text.size() - 2);
  const std::size_t begin = last == std::string_view::npos ? 0 : last + 1;
  const std::string_view line = text.substr(begin, text.size() - 1 - begin);
  if (line.substr(0, kCheck.size()) != kCheck) return std::nullopt;
  const std::string_view body = text.substr(0, begin);
  if (line.substr(kCheck.size()) != security::to_hex(security::sha256(body))) return std::nullopt;
  return body;
}

std::string int128_text(int128 value) {
  if (value == 0) return "0";
  const bool negative = value < 0;
  // Magnitudes here are far below 2^127, so negating is safe.
  int128 magnitude = negative ? -value : value;
  std::string digits;
  while (magnitude > 0) {
    digits.push_back(static_cast<char>('0' + static_cast<int>(magnitude % 10)));
    magnitude /= 10;
  }
  if (negative) digits.push_back('-');
  return {digits.rbegin(), digits.rend()};
}

bool parse_int128(std::string_view text, int128& out) {
  const bool negative = !text.empty() && text.front() == '-';
  if (negative) text.remove_prefix(1);
  if (text.empty() || text.size() > 38 || (text.size() > 1 && text.front() == '0')) return false;
  int128 value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  out = negative ? -value : value;
  return !(negative && value == 0);
}

bool parse_state(std::string_view text, guards::TradingState& out) {
  const std::optional<guards::TradingState> parsed = guards::parse_trading_state(text);
  if (parsed) out = *parsed;
  return parsed.has_value();
}

constexpr std::string_view kDailyHeader = "ordergate-daily-counts 1\n";

}  // namespace

std::string format_control_state(const ControlState& state) {
  std::string text(kHeader);
  text += "global ";
  text += guards::to_string(state.global);
  text += '\n';
  for (const auto& [name, trading] : state.accounts) {
    text += "account ";
    append_name(text, name);
    text += ' ';
    text += guards::to_string(trading);
    text += '\n';
  }
  for (const auto& [name, trading] : state.principals) {
    text += "principal ";
    append_name(text, name);
    text += ' ';
    text += guards::to_string(trading);
    text += '\n';
  }
  for (const std::string& name : state.disabled_principals) {
    text += "disabled ";
    append_name(text, name);
    text += '\n';
  }
  append_check(text);
  return text;
}

namespace {

std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  while (start <= line.size()) {
    const std::size_t space = line.find(' ', start);
    const std::size_t end = space == std::string_view::npos ? line.size() : space;
    fields.push_back(line.substr(start, end - start));
    if (space == std::string_view::npos) break;
    start = space + 1;
  }
  return fields;
}

}  // namespace

ControlState parse_control_state(std::string_view text, const std::string& where) {
  const auto damaged = [&](const std::string& what) {
    return ControlStateError("control state " + where + " is damaged (" + what +
                             "): it is written only by the gateway. Restore it from a backup, or remove it "
                             "to start with every scope ACTIVE and every principal enabled (then set them again)");
  };
  if (text.size() < kHeader.size() || text.substr(0, kHeader.size()) != kHeader) {
    throw damaged("not a control state file of this version");
  }
  if (text.back() != '\n') throw damaged("its last line is incomplete");
  const std::size_t check_at = text.rfind('\n', text.size() - 2) + 1;
  const std::string_view check_line = text.substr(check_at, text.size() - 1 - check_at);
  if (check_line.substr(0, kCheck.size()) != kCheck) throw damaged("no check line at its end");
  const std::optional<security::Sha256Digest> check = security::sha256_from_hex(check_line.substr(kCheck.size()));
  if (!check || check_line.size() != kCheck.size() + 64) throw damaged("a malformed check line");
  const std::string_view covered = text.substr(0, check_at);
  if (!security::digest_equal(*check, security::sha256(covered))) throw damaged("its check does not match");

  ControlState state;
  bool global_seen = false;
  std::size_t line_number = 1;
  std::size_t at = kHeader.size();
  while (at < covered.size()) {
    const std::size_t newline = covered.find('\n', at);
    const std::string_view line = covered.substr(at, newline - at);
    at = newline + 1;
    ++line_number;
    const std::string where_line = "line " + std::to_string(line_number);
    const std::vector<std::string_view> fields = fields_of(line);
    const auto trading_of = [&](std::string_view word) {
      const std::optional<guards::TradingState> parsed = guards::parse_trading_state(word);
      if (!parsed) throw damaged(where_line + ": unknown trading state");
      return *parsed;
    };
    const auto name_of = [&](std::string_view word) {
      std::optional<std::string> name = decode_name(word);
      if (!name) throw damaged(where_line + ": a malformed name");
      return *name;
    };
    if (fields[0] == "global" && fields.size() == 2 && !global_seen) {
      state.global = trading_of(fields[1]);
      global_seen = true;
    } else if (fields[0] == "account" && fields.size() == 3) {
      if (!state.accounts.emplace(name_of(fields[1]), trading_of(fields[2])).second) {
        throw damaged(where_line + ": an account listed twice");
      }
    } else if (fields[0] == "principal" && fields.size() == 3) {
      if (!state.principals.emplace(name_of(fields[1]), trading_of(fields[2])).second) {
        throw damaged(where_line + ": a principal listed twice");
      }
    } else if (fields[0] == "disabled" && fields.size() == 2) {
      if (!state.disabled_principals.insert(name_of(fields[1])).second) {
        throw damaged(where_line + ": a principal listed twice");
      }
    } else {
      throw damaged(where_line + ": not a known entry");
    }
  }
  if (!global_seen) throw damaged("no global state");
  return state;
}


std::optional<ControlState> read_control_state(const std::filesystem::path& path) {
  const std::optional<std::string> text = read_state_text(path, "control state");
  if (!text) return std::nullopt;
  return parse_control_state(*text, path.string());
}

void write_control_state(const std::filesystem::path& path, const ControlState& state) {
  replace_state_text(path, format_control_state(state), "control state");
}

std::filesystem::path daily_counts_path(const std::filesystem::path& state_path) {
  return std::filesystem::path(state_path.string() + ".daily");
}

std::string format_daily_counts(const DailyCounts& counts) {
  std::string text(kDailyHeader);
  text += "day ";
  text += std::to_string(counts.day);
  text += '\n';
  text += counts.clean ? "clean 1\n" : "clean 0\n";
  for (const auto& [name, used] : counts.principals) {
    text += "principal ";
    append_name(text, name);
    text += ' ';
    text += std::to_string(used.orders);
    text += ' ';
    text += std::to_string(used.cancels);
    text += '\n';
  }
  for (const auto& [name, loss] : counts.accounts) {
    text += "account ";
    append_name(text, name);
    text += ' ';
    text += guards::to_string(loss.switched);
    text += ' ';
    text += guards::to_string(loss.reached);
    text += ' ';
    text += int128_text(loss.forgiven);
    text += '\n';
  }
  for (const auto& [key, line] : counts.lines) {
    text += "line ";
    append_name(text, key.first);
    text += ' ';
    append_name(text, key.second);
    text += ' ';
    text += int128_text(line.cash2);
    text += ' ';
    text += std::to_string(line.position);
    text += '\n';
  }
  append_check(text);
  return text;
}

DailyCounts parse_daily_counts(std::string_view text, const std::string& where) {
  const auto damaged = [&](const std::string& what) {
    return ControlStateError("daily counts " + where + " are damaged (" + what +
                             "): the file is written only by the gateway. Remove it to start the day's "
                             "counts from zero (a restart then forgets today's orders), or restore it");
  };
  const std::optional<std::string_view> body = checked_body(text);
  if (!body) throw damaged("its check line does not match: cut short or edited");
  if (body->substr(0, kDailyHeader.size()) != kDailyHeader) throw damaged("not a daily counts file of this version");
  DailyCounts counts;
  bool day_seen = false;
  bool clean_seen = false;
  const auto number = [&](std::string_view field, std::uint64_t& out) {
    if (field.empty() || field.size() > 19) return false;
    out = 0;
    for (const char c : field) {
      if (c < '0' || c > '9') return false;
      out = out * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return true;
  };
  std::string_view rest = body->substr(kDailyHeader.size());
  while (!rest.empty()) {
    const std::size_t newline = rest.find('\n');
    const std::string_view line = rest.substr(0, newline);
    rest = newline == std::string_view::npos ? std::string_view{} : rest.substr(newline + 1);
    const std::vector<std::string_view> fields = fields_of(line);
    std::uint64_t value = 0;
    if (fields.size() == 2 && fields[0] == "day" && number(fields[1], value)) {
      counts.day = static_cast<std::int64_t>(value);
      day_seen = true;
    } else if (fields.size() == 2 && fields[0] == "clean" && (fields[1] == "0" || fields[1] == "1")) {
      counts.clean = fields[1] == "1";
      clean_seen = true;
    } else if (fields.size() == 4 && fields[0] == "principal") {
      const std::optional<std::string> name = decode_name(fields[1]);
      DailyCounts::Used used;
      if (!name || !number(fields[2], used.orders) || !number(fields[3], used.cancels)) {
        throw damaged("a malformed principal line");
      }
      counts.principals[*name] = used;
    } else if (fields.size() == 5 && fields[0] == "account") {
      const std::optional<std::string> name = decode_name(fields[1]);
      DailyCounts::Loss loss;
      if (!name || !parse_state(fields[2], loss.switched) || !parse_state(fields[3], loss.reached) ||
          !parse_int128(fields[4], loss.forgiven)) {
        throw damaged("a malformed account line");
      }
      counts.accounts[*name] = loss;
    } else if (fields.size() == 5 && fields[0] == "line") {
      const std::optional<std::string> account = decode_name(fields[1]);
      const std::optional<std::string> instrument = decode_name(fields[2]);
      DailyCounts::Line cash;
      int128 position = 0;
      if (!account || !instrument || !parse_int128(fields[3], cash.cash2) || !parse_int128(fields[4], position) ||
          position < std::numeric_limits<std::int64_t>::min() || position > std::numeric_limits<std::int64_t>::max()) {
        throw damaged("a malformed line line");
      }
      cash.position = static_cast<std::int64_t>(position);
      counts.lines[{*account, *instrument}] = cash;
    } else {
      throw damaged("an unknown line");
    }
  }
  if (!day_seen || !clean_seen) throw damaged("no day or no clean line");
  return counts;
}

std::optional<DailyCounts> read_daily_counts(const std::filesystem::path& path) {
  const std::optional<std::string> text = read_state_text(path, "daily counts");
  if (!text) return std::nullopt;
  return parse_daily_counts(*text, path.string());
}

void write_daily_counts(const std::filesystem::path& path, const DailyCounts& counts) {
  replace_state_text(path, format_daily_counts(counts), "daily counts");
}

}  // namespace ordergate
