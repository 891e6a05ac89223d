// ordergate-load: load generator for the gateway's Unix socket.
//
// Connects N clients, authenticates them, then sends market orders
// (alternating buy/sell, so positions stay flat) closed-loop with a window of
// W outstanding requests per client, or open-loop at a fixed rate. Latency is
// measured from the intended send time, so a stalled gateway shows up in the
// tail instead of slowing the load down (no coordinated omission). It also
// measures, in the same run, a raw Unix-socket echo round trip with the same
// message size: the physical floor the gateway is compared with.

#include <poll.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "load_lines.hpp"
#include "ordergate/core/error_text.hpp"

namespace {

using Clock = std::chrono::steady_clock;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

struct Options {
  std::string socket;
  std::string token;
  std::string account = "paper";
  std::string symbol = "EURUSD";
  std::string qty = "1000";
  int clients = 1;
  int window = 1;         // outstanding requests per client (closed loop)
  long long count = 100000;  // orders in total
  double rate = 0;        // orders/s in total; 0 = closed loop
  bool baseline = true;
  bool progress = true;
};

[[noreturn]] void usage(int status) {
  std::fputs(
      "usage: ordergate-load --socket PATH [--token TOKEN] [options]\n"
      "\n"
      "  --socket PATH      gateway socket\n"
      "  --token TOKEN      client token (default: $ORDERGATE_TOKEN)\n"
      "  --clients N        connections (default 1)\n"
      "  --window W         outstanding requests per connection, closed loop (default 1)\n"
      "  --rate R           open loop: R orders/s in total, latency from the intended send time\n"
      "  --count N          orders in total (default 100000)\n"
      "  --account NAME     (default paper)   --symbol SYM (default EURUSD)   --qty Q (default 1000)\n"
      "  --no-baseline      skip the raw Unix-socket echo measurement\n"
      "  --no-progress      no live progress line\n"
      "\n"
      "The principal behind the token needs rate limits above the load; see\n"
      "tools/run-load, which starts a gateway configured for it.\n",
      status == 0 ? stdout : stderr);
  std::exit(status);  // NOLINT(concurrency-mt-unsafe): argument parsing, before the client threads start
}

Options parse(int argc, char** argv) {
  Options options;
  // NOLINTNEXTLINE(concurrency-mt-unsafe): argument parsing, before the client threads start
  if (const char* token = std::getenv("ORDERGATE_TOKEN")) options.token = token;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(2);
      return argv[++i];
    };
    if (arg == "--socket") options.socket = value();
    else if (arg == "--token") options.token = value();
    else if (arg == "--clients") options.clients = std::stoi(value());
    else if (arg == "--window") options.window = std::stoi(value());
    else if (arg == "--rate") options.rate = std::stod(value());
    else if (arg == "--count") options.count = std::stoll(value());
    else if (arg == "--account") options.account = value();
    else if (arg == "--symbol") options.symbol = value();
    else if (arg == "--qty") options.qty = value();
    else if (arg == "--no-baseline") options.baseline = false;
    else if (arg == "--no-progress") options.progress = false;
    else if (arg == "--help" || arg == "-h") usage(0);
    else usage(2);
  }
  if (options.socket.empty() || options.clients < 1 || options.window < 1 || options.count < 1 ||
      options.count >= ordergate::load::OrderLines::kNumbers) {
    usage(2);
  }
  return options;
}

int connect_unix(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) throw std::runtime_error("socket path too long");
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    const int error = errno;  // before close() can change it
    ::close(fd);
    throw std::runtime_error("cannot connect to " + path + ": " + ordergate::error_text(error));
  }
  return fd;
}

void write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd p{fd, POLLOUT, 0};
        ::poll(&p, 1, 100);
        continue;
      }
      throw std::runtime_error("write failed: " + ordergate::error_text(errno));
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

// Reads one line, blocking (for the hello exchange only).
std::string read_line(int fd, std::string& buffer) {
  for (;;) {
    const auto newline = buffer.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffer.substr(0, newline);
      buffer.erase(0, newline + 1);
      return line;
    }
    char chunk[4096];
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) throw std::runtime_error("connection closed by the gateway");
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

struct Connection {
  int fd = -1;
  std::string input;
  long long sent = 0;
  long long done = 0;
  int outstanding = 0;
};

struct Result {
  std::vector<std::int64_t> latencies;
  long long accepted = 0;
  long long rejected = 0;
  std::string first_rejection;  // the first refusal's reason, so a failed run says why
  long long other = 0;
  long long reports_new = 0;     // execution reports with status NEW
  long long reports_filled = 0;  // and FILLED: a market order on the paper broker has one of each
  long long reports_ended = 0;   // other final reports (REJECTED, CANCELED, EXPIRED): the order ended unfilled
  double seconds = 0;
};

// Client order ids must be unique per principal over the gateway's lifetime,
// so every run gets its own prefix (OrderLines).
const unsigned kRunNonce = static_cast<unsigned>(now_ns() ^ (static_cast<long long>(::getpid()) << 20));

// Runs the load over `fds`. With `echo`, the peer echoes each line back
// and every line counts as a reply.
Result run(const Options& options, std::vector<Connection>& connections, bool echo, const char* label) {
  Result result;
  result.latencies.assign(static_cast<std::size_t>(options.count), 0);
  std::vector<std::int64_t> intended(static_cast<std::size_t>(options.count), 0);
  const long long per_client = options.count / static_cast<long long>(connections.size());
  const long long total = per_client * static_cast<long long>(connections.size());
  const std::int64_t start = now_ns();
  const double interval_ns = options.rate > 0 ? 1e9 / options.rate : 0;
  long long next_id = 0;
  long long completed = 0;
  std::int64_t last_progress = start;
  const bool show_progress = options.progress && ::isatty(STDERR_FILENO);
  std::vector<pollfd> polls(connections.size());
  const ordergate::load::OrderLines order_lines(options.account, options.symbol, options.qty, kRunNonce);
  std::string batch;

  // A gateway run ends once every order has its reply and its final
  // report: the throughput counts the whole of every order's output.
  auto reports_done = [&] {
    return echo || result.reports_filled + result.reports_ended + result.rejected >= total;
  };
  std::int64_t last_line = start;
  while (completed < total || !reports_done()) {
    if (completed >= total && now_ns() - last_line > 10'000'000'000) {
      throw std::runtime_error(std::string(label) + ": " +
                               std::to_string(total - result.reports_filled - result.reports_ended - result.rejected) +
                               " orders without a final report after 10 s");
    }
    // Send what the window or the schedule allows.
    for (std::size_t c = 0; c < connections.size(); ++c) {
      Connection& connection = connections[c];
      batch.clear();
      while (connection.sent < per_client && connection.outstanding < options.window) {
        const long long id = next_id;
        std::int64_t when = now_ns();
        if (interval_ns > 0) {
          when = start + static_cast<std::int64_t>(static_cast<double>(id) * interval_ns);
          if (when > now_ns()) break;
        }
        ++next_id;
        intended[static_cast<std::size_t>(id)] = when;
        order_lines.append(batch, id, id % 2 == 0);
        ++connection.sent;
        ++connection.outstanding;
      }
      if (!batch.empty()) write_all(connection.fd, batch.data(), batch.size());
      polls[c] = pollfd{connection.fd, POLLIN, 0};
    }
    ::poll(polls.data(), polls.size(), interval_ns > 0 ? 0 : 100);
    for (std::size_t c = 0; c < connections.size(); ++c) {
      if (!(polls[c].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Connection& connection = connections[c];
      char chunk[65536];
      const ssize_t n = ::read(connection.fd, chunk, sizeof chunk);
      if (n <= 0) throw std::runtime_error(std::string(label) + ": connection closed");
      const std::int64_t arrived = now_ns();
      last_line = arrived;
      connection.input.append(chunk, static_cast<std::size_t>(n));
      std::size_t begin = 0;
      for (;;) {
        const auto newline = connection.input.find('\n', begin);
        if (newline == std::string::npos) break;
        const std::string_view line(connection.input.data() + begin, newline - begin);
        begin = newline + 1;
        const ordergate::load::Reply reply = ordergate::load::read_reply(line);
        if (reply.kind == ordergate::load::Reply::Kind::exec) {
          if (reply.status == "NEW") ++result.reports_new;
          else if (reply.status == "FILLED") ++result.reports_filled;
          else if (reply.status == "REJECTED" || reply.status == "CANCELED" || reply.status == "EXPIRED") ++result.reports_ended;
          continue;
        }
        if (reply.id < 0 || reply.id >= options.count || reply.kind == ordergate::load::Reply::Kind::other) {
          ++result.other;
          continue;
        }
        const auto id = static_cast<std::size_t>(reply.id);
        result.latencies[id] = arrived - intended[id];
        if (echo || reply.kind == ordergate::load::Reply::Kind::accepted) {
          ++result.accepted;
        } else if (++result.rejected == 1) {
          result.first_rejection = std::string(reply.reason.substr(0, 48));
        }
        --connection.outstanding;
        ++completed;
      }
      connection.input.erase(0, begin);
    }
    if (show_progress && now_ns() - last_progress > 250'000'000) {
      last_progress = now_ns();
      const double elapsed = static_cast<double>(last_progress - start) / 1e9;
      std::fprintf(stderr, "\r%-8s %lld/%lld  %.0f/s   ", label, completed, total,
                   static_cast<double>(completed) / elapsed);
      std::fflush(stderr);
    }
  }
  result.seconds = static_cast<double>(now_ns() - start) / 1e9;
  if (show_progress) std::fprintf(stderr, "\r%60s\r", "");
  result.latencies.resize(static_cast<std::size_t>(total));
  std::sort(result.latencies.begin(), result.latencies.end());
  return result;
}

std::int64_t percentile(const std::vector<std::int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto index = static_cast<std::size_t>(std::llround(q * static_cast<double>(sorted.size() - 1)));
  return sorted[std::min(index, sorted.size() - 1)];
}

void report(const char* label, const Result& result) {
  const auto& l = result.latencies;
  std::printf("%-8s count=%zu throughput=%.0f/s p50=%.1fus p90=%.1fus p99=%.1fus p99.9=%.1fus max=%.1fus",
              label, l.size(), static_cast<double>(l.size()) / result.seconds,
              static_cast<double>(percentile(l, 0.50)) / 1e3, static_cast<double>(percentile(l, 0.90)) / 1e3,
              static_cast<double>(percentile(l, 0.99)) / 1e3, static_cast<double>(percentile(l, 0.999)) / 1e3,
              static_cast<double>(l.empty() ? 0 : l.back()) / 1e3);
  if (result.reports_new + result.reports_filled > 0) {
    std::printf(" reports_new=%lld reports_filled=%lld", result.reports_new, result.reports_filled);
    if (result.reports_ended > 0) std::printf(" reports_ended_unfilled=%lld", result.reports_ended);
  }
  if (result.rejected > 0) {
    std::printf(" rejected=%lld first_reason=%s", result.rejected,
                result.first_rejection.empty() ? "?" : result.first_rejection.c_str());
  }
  std::printf("\n");
}

// A line echo server on its own socket, one thread per connection.
class EchoServer {
 public:
  EchoServer() : path_("/tmp/ordergate-load-echo-" + std::to_string(::getpid()) + ".sock") {
    ::unlink(path_.c_str());
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path_.c_str(), path_.size() + 1);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(listener_, 64) != 0) {
      throw std::runtime_error("echo server: cannot listen");
    }
    acceptor_ = std::thread([this] {
      for (;;) {
        const int fd = ::accept(listener_, nullptr, nullptr);
        if (fd < 0) return;
        workers_.emplace_back([fd] {
          char buffer[65536];
          for (;;) {
            const ssize_t n = ::read(fd, buffer, sizeof buffer);
            if (n <= 0) break;
            write_all(fd, buffer, static_cast<std::size_t>(n));
          }
          ::close(fd);
        });
      }
    });
  }
  ~EchoServer() {
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    acceptor_.join();
    for (auto& worker : workers_) worker.join();
    ::unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int listener_ = -1;
  std::thread acceptor_;
  std::vector<std::thread> workers_;
};

// CPU time of each of the gateway's threads, by thread name (the I/O thread
// is the process's own name; broker threads are `og-b:<broker>`), read from
// /proc: what the gateway itself spends per order, apart from the client's
// share of the machine. Empty when the gateway's /proc is not readable.
std::map<std::string, double> gateway_cpu_seconds(pid_t pid) {
  std::map<std::string, double> seconds;
  const std::string task = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = ::opendir(task.c_str());
  if (dir == nullptr) return seconds;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  while (const dirent* entry = ::readdir(dir)) {  // NOLINT(concurrency-mt-unsafe): one thread reads this directory
    if (entry->d_name[0] == '.') continue;
    std::ifstream comm(task + "/" + entry->d_name + "/comm");
    std::ifstream stat(task + "/" + entry->d_name + "/stat");
    std::string name;
    std::string line;
    if (!std::getline(comm, name) || !std::getline(stat, line)) continue;
    // Fields after the name in parentheses: state is field 3, utime 14, stime 15.
    const std::size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::vector<std::string_view> fields;
    std::string_view rest = std::string_view(line).substr(close + 2);
    while (!rest.empty()) {
      const std::size_t space = rest.find(' ');
      fields.push_back(rest.substr(0, space));
      rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
    }
    if (fields.size() < 13) continue;
    long long utime = 0;
    long long stime = 0;
    std::from_chars(fields[11].data(), fields[11].data() + fields[11].size(), utime);
    std::from_chars(fields[12].data(), fields[12].data() + fields[12].size(), stime);
    seconds[name] += static_cast<double>(utime + stime) / ticks;
  }
  ::closedir(dir);
  return seconds;
}

pid_t peer_pid(int fd) {
  ucred credentials{};
  socklen_t length = sizeof credentials;
  return ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 ? credentials.pid : 0;
}

void report_gateway_cpu(const std::map<std::string, double>& before, const std::map<std::string, double>& after,
                        long long orders) {
  if (after.empty() || orders <= 0) return;
  std::printf("gateway cpu per order (us):");
  for (const auto& [name, total] : after) {
    const auto earlier = before.find(name);
    const double spent = total - (earlier == before.end() ? 0.0 : earlier->second);
    std::printf(" %s=%.2f", name.c_str(), spent * 1e6 / static_cast<double>(orders));
  }
  std::printf("  (a busy_spin broker thread counts its whole run)\n");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options options = parse(argc, argv);
    if (options.token.empty()) {
      std::fputs("ordergate-load: no token (--token or $ORDERGATE_TOKEN)\n", stderr);
      return 2;
    }
    std::vector<Connection> connections(static_cast<std::size_t>(options.clients));
    for (Connection& connection : connections) {
      connection.fd = connect_unix(options.socket);
      const std::string hello = "{\"op\":\"hello\",\"token\":\"" + options.token + "\"}\n";
      write_all(connection.fd, hello.data(), hello.size());
      const std::string reply = read_line(connection.fd, connection.input);
      if (reply.find("\"type\":\"welcome\"") == std::string::npos) {
        std::fprintf(stderr, "ordergate-load: hello refused: %s\n", reply.c_str());
        return 1;
      }
    }
    std::printf("ordergate-load: %d client(s), %s, %lld orders\n", options.clients,
                options.rate > 0 ? ("open loop at " + std::to_string(static_cast<long long>(options.rate)) + "/s").c_str()
                                 : ("closed loop, window " + std::to_string(options.window)).c_str(),
                options.count);

    Result echo;
    if (options.baseline) {
      EchoServer server;
      std::vector<Connection> echo_connections(connections.size());
      for (Connection& connection : echo_connections) connection.fd = connect_unix(server.path());
      echo = run(options, echo_connections, /*echo=*/true, "echo");
      for (Connection& connection : echo_connections) ::close(connection.fd);
      report("echo", echo);
    }
    const pid_t gateway_pid = peer_pid(connections.front().fd);
    const auto cpu_before = gateway_pid > 0 ? gateway_cpu_seconds(gateway_pid) : std::map<std::string, double>{};
    const Result gateway = run(options, connections, /*echo=*/false, "gateway");
    const auto cpu_after = gateway_pid > 0 ? gateway_cpu_seconds(gateway_pid) : std::map<std::string, double>{};
    report("gateway", gateway);
    report_gateway_cpu(cpu_before, cpu_after, static_cast<long long>(gateway.latencies.size()));
    if (options.baseline) {
      const double ratio = static_cast<double>(percentile(gateway.latencies, 0.5)) /
                           static_cast<double>(std::max<std::int64_t>(percentile(echo.latencies, 0.5), 1));
      std::printf("gateway p50 / echo p50 = %.2f\n", ratio);
    }
    for (Connection& connection : connections) {
      write_all(connection.fd, "{\"op\":\"bye\"}\n", 13);
      ::close(connection.fd);
    }
    const long long accepted = gateway.accepted;
    if (gateway.reports_new != accepted || gateway.reports_filled != accepted) {
      std::fprintf(stderr,
                   "ordergate-load: %lld accepted orders but %lld NEW and %lld FILLED reports (%lld ended unfilled)\n",
                   accepted, gateway.reports_new, gateway.reports_filled, gateway.reports_ended);
      return 1;
    }
    return gateway.rejected > 0 ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ordergate-load: %s\n", e.what());
    return 1;
  }
}
