#pragma once

// Starts the real ordergate-sim as a child process (posix_spawn), waits for
// its ready line through a pipe (with a deadline, no sleeps) and stops it with
// SIGTERM. Usable from any test binary that knows the simulator's path
// (ORDERGATE_SIM_PATH, set by tests/sim/CMakeLists.txt).

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace ordergate::sim::testing {

inline constexpr const char* kOandaToken = "test-oanda-token-5b1d";
inline constexpr const char* kBinanceKey = "test-binance-key-77c3";
inline constexpr const char* kBinanceSecret = "test-binance-secret-9e0a";
inline constexpr const char* kOandaAccount = "101-001-0000000-001";

using Environment = std::vector<std::pair<std::string, std::string>>;

/// The credentials the simulator reads by default (SIM_OANDA_TOKEN, ...).
inline Environment default_environment() {
  return {{"SIM_OANDA_TOKEN", kOandaToken}, {"SIM_BINANCE_KEY", kBinanceKey}, {"SIM_BINANCE_SECRET", kBinanceSecret}};
}

inline std::string simulator_path() {
  if (const char* path = std::getenv("ORDERGATE_SIM")) return path;
#ifdef ORDERGATE_SIM_PATH
  return ORDERGATE_SIM_PATH;
#else
  return "ordergate-sim";
#endif
}

/// A unique directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ordergate-sim-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

class SimProcess {
 public:
  /// Starts the simulator with `args` (port 0 and, unless the args serve a
  /// given certificate or name their own, `--write-ca <dir>/ca.pem` are
  /// added) and waits up to `timeout` for the ready line. Throws with the
  /// simulator's stderr when it exits or stays silent instead.
  explicit SimProcess(std::vector<std::string> args, Environment environment = default_environment(),
                      std::chrono::milliseconds timeout = std::chrono::seconds(15))
      : stderr_path_(dir_.file("stderr.log")) {
    const auto has = [&](const char* flag) {
      for (const auto& arg : args) {
        if (arg == flag) return true;
      }
      return false;
    };
    if (!has("--cert") && !has("--write-ca") && !has("--print-pin")) {
      args.push_back("--write-ca");
      args.push_back(dir_.file("ca.pem"));
    }
    spawn(args, environment);
    if (!has("--print-pin")) wait_ready(timeout);
  }

  ~SimProcess() { stop(); }
  SimProcess(const SimProcess&) = delete;
  SimProcess& operator=(const SimProcess&) = delete;

  [[nodiscard]] const std::string& ready_line() const { return ready_line_; }
  [[nodiscard]] std::uint16_t port() const { return static_cast<std::uint16_t>(std::stoi(field("port"))); }
  [[nodiscard]] std::string ca_file() const { return field("ca"); }
  [[nodiscard]] std::string pin() const { return field("pin"); }
  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] const TempDir& dir() const { return dir_; }

  /// A `key=value` field of the ready line ("" if absent).
  [[nodiscard]] std::string field(const std::string& key) const {
    std::istringstream words(ready_line_);
    std::string word;
    while (words >> word) {
      if (word.rfind(key + "=", 0) == 0) return word.substr(key.size() + 1);
    }
    return {};
  }

  /// SIGTERM, then waits (SIGKILL after `grace`). Returns the exit code, or
  /// -signal if it died from a signal. Idempotent.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(5)) {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGTERM);
      wait_exit(grace);
      if (!exited_) {
        ::kill(pid_, SIGKILL);
        wait_exit(std::chrono::seconds(5));
      }
    }
    if (stdout_fd_ >= 0) {
      ::close(stdout_fd_);
      stdout_fd_ = -1;
    }
    return exit_code_;
  }

  /// Waits for the process to exit on its own (e.g. --print-pin, bad flags).
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    wait_exit(timeout);
    return exited_ ? exit_code_ : stop();
  }

  [[nodiscard]] std::string stderr_text() const {
    std::ifstream in(stderr_path_);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

  /// Everything the process wrote to stdout after the ready line (after exit).
  [[nodiscard]] std::string read_stdout_rest() {
    std::string text;
    if (stdout_fd_ < 0) return text;
    char buffer[4096];
    while (true) {
      const ssize_t n = ::read(stdout_fd_, buffer, sizeof buffer);
      if (n <= 0) break;
      text.append(buffer, static_cast<std::size_t>(n));
    }
    return text;
  }

 private:
  void spawn(const std::vector<std::string>& args, const Environment& environment) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);

    std::vector<std::string> argv_storage;
    argv_storage.push_back(simulator_path());
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& arg : argv_storage) argv.push_back(arg.data());
    argv.push_back(nullptr);

    std::map<std::string, std::string> merged;
    for (char** entry = environ; *entry != nullptr; ++entry) {
      const std::string text(*entry);
      const auto equals = text.find('=');
      if (equals != std::string::npos) merged[text.substr(0, equals)] = text.substr(equals + 1);
    }
    for (const char* name : {"SIM_OANDA_TOKEN", "SIM_BINANCE_KEY", "SIM_BINANCE_SECRET"}) merged.erase(name);
    for (const auto& [name, value] : environment) merged[name] = value;
    std::vector<std::string> env_storage;
    for (const auto& [name, value] : merged) env_storage.push_back(name + "=" + value);
    std::vector<char*> envp;
    for (auto& entry : env_storage) envp.push_back(entry.data());
    envp.push_back(nullptr);

    const int result = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipe_fds[1]);
    stdout_fd_ = pipe_fds[0];
    if (result != 0) {
      pid_ = -1;
      throw std::runtime_error("cannot start " + argv_storage[0] + ": " + std::strerror(result));
    }
  }

  void wait_ready(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string line;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        stop();
        throw std::runtime_error("ordergate-sim did not print its ready line in time; stderr:\n" + stderr_text());
      }
      pollfd descriptor{stdout_fd_, POLLIN, 0};
      const int ready = ::poll(&descriptor, 1, static_cast<int>(left.count()));
      if (ready <= 0) continue;
      char c = 0;
      const ssize_t n = ::read(stdout_fd_, &c, 1);
      if (n <= 0) {
        wait_exit(std::chrono::seconds(5));
        throw std::runtime_error("ordergate-sim exited (code " + std::to_string(exit_code_) +
                                 ") before it was ready; stderr:\n" + stderr_text());
      }
      if (c == '\n') break;
      line += c;
    }
    ready_line_ = line;
  }

  void wait_exit(std::chrono::milliseconds timeout) {
    if (pid_ <= 0 || exited_) return;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      int status = 0;
      const pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        exited_ = true;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
        return;
      }
      if (std::chrono::steady_clock::now() >= deadline) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  TempDir dir_;
  std::string stderr_path_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
  std::string ready_line_;
};

}  // namespace ordergate::sim::testing
