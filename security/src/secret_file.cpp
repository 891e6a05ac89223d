#include "ordergate/security/secret_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

// toml++ asserts an invariant of its own that some malformed input breaks
// ("[;": a table header without a key), found by fuzzing the sanitizer
// build; the release build compiles the check out and then refuses the
// input as a parse error. Every file that includes toml++ defines this the
// same way, so debug and release parse alike.
#ifndef TOML_ASSERT
#define TOML_ASSERT(expr) static_cast<void>(0)
#endif
#include <toml++/toml.h>

#include "ordergate/security/toml_text.hpp"

#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>

#include "ordergate/core/error_text.hpp"
#include "file_guards.hpp"
#include "text_checks.hpp"

namespace ordergate::security {
namespace {

namespace fs = std::filesystem;

constexpr mode_t kForbiddenModeBits = S_ISUID | S_ISGID | S_ISVTX | S_IRWXG | S_IRWXO;

std::string describe_path(const fs::path& path) { return "secrets file " + path.string(); }

std::string octal_mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

const char* file_type_name(mode_t mode) noexcept {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a named pipe";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a regular file";
}

[[noreturn]] void throw_system_error(const fs::path& path, const char* action, int error) {
  if (error == ENOENT) {
    throw SecretFileError(describe_path(path) + " does not exist: create it with mode 0600 or fix the path");
  }
  if (error == ELOOP) {
    throw SecretFileError(describe_path(path) +
                          " is a symbolic link: ordergate reads only regular files; point the configuration at the "
                          "file itself");
  }
  throw SecretFileError("cannot " + std::string(action) + " " + describe_path(path) + ": " + error_text(error));
}

// Owned by the user that runs ordergate, no access for group or others: the
// rule for plain and encrypted secrets files alike.
void check_owner_and_mode(const std::string& name, const fs::path& path, const struct stat& status) {
  const uid_t user = geteuid();
  if (status.st_uid != user) {
    throw SecretFileError(name + " is owned by uid " + std::to_string(status.st_uid) + ", not by uid " +
                          std::to_string(user) + " that runs ordergate: run 'chown " + std::to_string(user) + " " +
                          path.string() + "' or run ordergate as its owner");
  }
  if ((status.st_mode & kForbiddenModeBits) != 0) {
    throw SecretFileError(name + " has mode " + octal_mode(status.st_mode) +
                          ": group and others must have no access; run 'chmod 600 " + path.string() + "'");
  }
}

// The rules a secrets file's metadata must satisfy (see the header).
void check_status(const fs::path& path, const struct stat& status) {
  if (S_ISLNK(status.st_mode)) throw_system_error(path, "open", ELOOP);
  if (!S_ISREG(status.st_mode)) {
    throw SecretFileError(describe_path(path) + " is " + file_type_name(status.st_mode) +
                          ": it must be a regular file with mode 0600");
  }
  check_owner_and_mode(describe_path(path), path, status);
  if (static_cast<std::uintmax_t>(status.st_size) > kMaxSecretFileBytes) {
    throw SecretFileError(describe_path(path) + " is " + std::to_string(status.st_size) +
                          " bytes, more than the " + std::to_string(kMaxSecretFileBytes) +
                          "-byte limit for secrets files");
  }
}

struct stat lstat_checked(const fs::path& path) {
  struct stat status {};
  if (::lstat(path.c_str(), &status) != 0) throw_system_error(path, "inspect", errno);
  check_status(path, status);
  return status;
}

std::string code_point_name(char32_t code_point) {
  char text[16];
  (void)std::snprintf(text, sizeof text, "U+%04X", static_cast<unsigned>(code_point));
  return text;
}

// NUL bytes, over-long lines, invalid UTF-8 and characters toml++ cannot be
// given safely (toml_text.hpp), checked before toml++ sees
// the text so that the error is ours (line number only).
void check_toml_lines(std::string_view text) {
  std::size_t line = 0;
  while (!text.empty()) {
    ++line;
    const std::size_t newline = text.find('\n');
    const std::string_view current = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (current.size() > kMaxDotenvLineBytes) {
      throw SecretsParseError(line, "line is longer than " + std::to_string(kMaxDotenvLineBytes) + " bytes");
    }
    if (current.find('\0') != std::string_view::npos) throw SecretsParseError(line, "contains a NUL byte");
    if (!detail::is_valid_utf8(current)) throw SecretsParseError(line, "not valid UTF-8");
    if (const auto unsafe = find_unsafe_toml_character(current)) {
      throw SecretsParseError(line, "character " + code_point_name(unsafe->code_point) +
                                        " is not accepted in a TOML secrets file "
                                        "(keep it ASCII, or put such a value in a .env file)");
    }
  }
}

void wipe_strings(toml::node& node) noexcept {
  if (auto* text = node.as_string()) {
    std::string& value = text->get();
    wipe(value.data(), value.size());
  } else if (auto* table = node.as_table()) {
    for (auto&& [key, child] : *table) wipe_strings(child);
  } else if (auto* array = node.as_array()) {
    for (auto& child : *array) wipe_strings(child);
  }
}

// Wipes the strings of a parsed document however the parse ends.
class WipeTableOnExit {
 public:
  explicit WipeTableOnExit(toml::table& table) noexcept : table_(table) {}
  ~WipeTableOnExit() { wipe_strings(table_); }
  WipeTableOnExit(const WipeTableOnExit&) = delete;
  WipeTableOnExit& operator=(const WipeTableOnExit&) = delete;

 private:
  toml::table& table_;
};

std::size_t line_of(const toml::source_region& region, const toml::source_region& fallback) noexcept {
  return region.begin.line != 0 ? region.begin.line : fallback.begin.line;
}

}  // namespace

std::optional<SecretFileFormat> secret_file_format_from_name(const fs::path& path) {
  std::string name = path.filename().string();
  constexpr std::string_view kFernetSuffix = ".fernet";
  if (name.size() > kFernetSuffix.size() && name.ends_with(kFernetSuffix)) {
    name.resize(name.size() - kFernetSuffix.size());
  }
  if (name.size() > 5 && name.ends_with(".toml")) return SecretFileFormat::toml;
  if (name == ".env" || name.ends_with(".env") || name.starts_with(".env.")) return SecretFileFormat::dotenv;
  return std::nullopt;
}

namespace {
SecretFileFormat format_for(const fs::path& path, SecretFileFormat format, const std::string& name) {
  if (format != SecretFileFormat::automatic) return format;
  const std::optional<SecretFileFormat> from_name = secret_file_format_from_name(path);
  if (!from_name) {
    throw SecretFileError("cannot tell the format of " + name +
                          " from its name: name it *.toml or *.env (optionally + .fernet), or set its format");
  }
  return *from_name;
}
}  // namespace

void check_secret_file(const fs::path& path) { (void)lstat_checked(path); }

Secret read_secret_file(const fs::path& path) {
  const struct stat before = lstat_checked(path);
  // O_NONBLOCK: a FIFO swapped in after the lstat must not block the open.
  const detail::FileDescriptor file(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (file.get() < 0) throw_system_error(path, "open", errno);
  struct stat status {};
  if (::fstat(file.get(), &status) != 0) throw_system_error(path, "inspect", errno);
  if (status.st_dev != before.st_dev || status.st_ino != before.st_ino) {
    throw SecretFileError(describe_path(path) + " was replaced while it was being opened; try again");
  }
  check_status(path, status);

  // One byte more than the size: reading it means the file grew meanwhile.
  const std::size_t expected = static_cast<std::size_t>(status.st_size);
  detail::WipedBuffer buffer(expected + 1);
  int error = 0;
  const std::ptrdiff_t length = detail::read_into(file.get(), buffer, error);
  if (length < 0) throw_system_error(path, "read", error);
  if (static_cast<std::size_t>(length) != expected) throw SecretFileError(describe_path(path) + " changed while it was being read; try again");
  return Secret(std::string_view(buffer.data(), static_cast<std::size_t>(length)));
}

SecretMap parse_secrets_toml(std::string_view text) {
  check_toml_lines(text);
  toml::table table;
  const WipeTableOnExit wipe_on_exit(table);
  try {
    table = toml::parse(text);
  } catch (const toml::parse_error& error) {
    // error.description() may quote the input: report the position only.
    throw SecretsParseError(error.source().begin.line, "not valid TOML (expected KEY = \"value\" lines)");
  }
  SecretMap values;
  for (auto&& [key, node] : table) {
    const std::size_t line = line_of(node.source(), key.source());
    if (!is_valid_secret_key(key.str())) {
      throw SecretsParseError(line, "invalid key (letters, digits and '_', not starting with a digit)");
    }
    const auto* text_value = node.as_string();
    if (text_value == nullptr) {
      throw SecretsParseError(line, "value must be a string (KEY = \"value\"); tables, arrays, numbers, booleans "
                                    "and dates are not allowed");
    }
    values.emplace(std::string(key.str()), Secret(text_value->get()));
  }
  return values;
}

SecretMap parse_secrets(std::string_view text, SecretFileFormat format) {
  switch (format) {
    case SecretFileFormat::toml:
      return parse_secrets_toml(text);
    case SecretFileFormat::dotenv:
      return parse_dotenv(text);
    case SecretFileFormat::automatic:
      break;
  }
  throw std::invalid_argument("parse_secrets needs an explicit format (toml or dotenv)");
}

SecretMap load_secret_file(const fs::path& path, SecretFileFormat format) {
  format = format_for(path, format, describe_path(path));
  const Secret content = read_secret_file(path);
  try {
    return parse_secrets(content.reveal(), format);
  } catch (const SecretsParseError& error) {
    throw SecretFileError(describe_path(path) + ", " + error.what());
  }
}

std::string read_encrypted_secret_file(const fs::path& path) {
  const std::string name = "encrypted secrets file " + path.string();
  const detail::FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (file.get() < 0) {
    const int error = errno;
    if (error == ENOENT) throw SecretFileError(name + " does not exist: fix the path in the configuration");
    throw SecretFileError("cannot open " + name + ": " + error_text(error));
  }
  struct stat status {};
  if (::fstat(file.get(), &status) != 0) throw SecretFileError("cannot inspect " + name + ": " + error_text(errno));
  if (!S_ISREG(status.st_mode)) {
    throw SecretFileError(name + " is " + file_type_name(status.st_mode) + ", not a regular file");
  }
  check_owner_and_mode(name, path, status);
  if (static_cast<std::uintmax_t>(status.st_size) > kMaxEncryptedSecretFileBytes) {
    throw SecretFileError(name + " is larger than the " + std::to_string(kMaxEncryptedSecretFileBytes) +
                          "-byte limit for encrypted secrets files");
  }
  std::string token(static_cast<std::size_t>(status.st_size) + 1, '\0');
  std::size_t length = 0;
  while (length < token.size()) {
    const ssize_t count = ::read(file.get(), token.data() + length, token.size() - length);
    if (count < 0) {
      if (errno == EINTR) continue;
      throw SecretFileError("cannot read " + name + ": " + error_text(errno));
    }
    if (count == 0) break;
    length += static_cast<std::size_t>(count);
  }
  if (length != static_cast<std::size_t>(status.st_size)) {
    throw SecretFileError(name + " changed while it was being read; try again");
  }
  token.resize(length);
  const std::size_t begin = token.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return {};
  const std::size_t end = token.find_last_not_of(" \t\r\n");
  return token.substr(begin, end + 1 - begin);
}

SecretMap load_encrypted_secret_file(const fs::path& path, const FernetKey& key, SecretFileFormat format) {
  const std::string name = "encrypted secrets file " + path.string();
  format = format_for(path, format, name);
  const std::string token = read_encrypted_secret_file(path);
  const FernetResult result = decrypt(key, token, std::chrono::system_clock::now());
  if (!result) {
    throw SecretFileError(name + ": " + std::string(describe(result.error())) +
                          " (was it encrypted with this key, and is it unmodified?)");
  }
  try {
    return parse_secrets(result.plaintext().reveal(), format);
  } catch (const SecretsParseError& error) {
    throw SecretFileError(name + " (decrypted), " + error.what());
  }
}

}  // namespace ordergate::security
