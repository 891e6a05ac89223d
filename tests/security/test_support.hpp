#pragma once

// Helpers for the security tests: temporary directories, files with an exact
// mode, scoped environment variables and the canary that must never appear
// in an error message.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ordergate::security::testing {

// A value planted in secrets to prove that no message ever contains one.
inline constexpr std::string_view kCanary = "CANARY-9c1e-not-a-real-credential";

// Fails the current test when `message` contains the canary.
inline void expect_no_canary(std::string_view message) {
  EXPECT_EQ(message.find(kCanary), std::string_view::npos) << "message leaks the canary: " << message;
}

// A fresh directory under $TMPDIR (or /tmp), removed with its content.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/ordergate-security-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  [[nodiscard]] std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Writes `content` to a new file with exactly `mode` (umask does not apply).
inline std::filesystem::path write_file(const std::filesystem::path& path, std::string_view content,
                                        mode_t mode = 0600) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot create test file " + path.string());
  std::size_t written = 0;
  while (written < content.size()) {
    const ssize_t count = ::write(fd, content.data() + written, content.size() - written);
    if (count <= 0) {
      ::close(fd);
      throw std::runtime_error("cannot write test file " + path.string());
    }
    written += static_cast<std::size_t>(count);
  }
  if (::fchmod(fd, mode) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot chmod test file " + path.string());
  }
  ::close(fd);
  return path;
}

// A process environment variable named after the running test, so that tests
// never share one; unset again when the scope ends.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, std::string_view value) : name_(std::move(name)) {
    ::setenv(name_.c_str(), std::string(value).c_str(), 1);
  }
  ~ScopedEnv() { ::unsetenv(name_.c_str()); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  std::string name_;
};

// "OGT_<TESTNAME>_<suffix>", upper case: a credential name unique to the test.
inline std::string unique_name(std::string_view suffix) {
  std::string name = "OGT_";
  for (char c : std::string_view(::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    const auto byte = static_cast<unsigned char>(c);
    name += std::isalnum(byte) != 0 ? static_cast<char>(std::toupper(byte)) : '_';
  }
  name += '_';
  name += suffix;
  return name;
}

}  // namespace ordergate::security::testing
