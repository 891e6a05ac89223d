#pragma once

/// \file
/// The standalone gateway process: a `Gateway` behind a Unix domain socket
/// speaking newline-delimited JSON (docs/protocol.md). One I/O thread (the
/// caller of `run`) serves every connection; each connection owns one
/// `Session`, so the engine's one-thread-per-session rule holds.

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>

#include "ordergate/core/clock.hpp"
#include "ordergate/core/ports.hpp"
#include "ordergate/server/config_file.hpp"

namespace ordergate {

namespace server_detail {
class Process;
}

class Server {
 public:
  /// Builds the gateway from `config` (throws ConfigError). `log` receives
  /// structured key=value lines; `audit` (optional) the audit records. Both
  /// must outlive the server.
  Server(ProcessConfig config, std::ostream& log, const Clock& clock = default_clock(),
         AuditSink* audit = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Starts the gateway, binds the socket and, with [http] listen, starts
  /// the HTTP listener (/metrics, /healthz, /readyz) on its own thread. Binds the socket (mode 0600 or 0660, a stale
  /// socket file is replaced, a live one is refused). Throws std::runtime_error
  /// with a clear message on failure.
  void start();

  /// Serves until SIGTERM/SIGINT (or `request_stop`), then drains: stops
  /// accepting, cancels orders of cancel-on-disconnect principals, lets the
  /// brokers finish queued work, flushes replies and returns 0. SIGHUP reloads
  /// the configuration file (a bad one is refused and the old one stays).
  int run();

  /// Thread-safe: makes `run` drain and return.
  void request_stop();

  [[nodiscard]] const std::string& socket_path() const noexcept;
  /// "http://127.0.0.1:PORT/" of the HTTP listener ([http] listen) once
  /// started; empty when it is off.
  [[nodiscard]] std::string http_url() const;

 private:
  std::unique_ptr<server_detail::Process> impl_;
};

/// Default socket path: `$XDG_RUNTIME_DIR/ordergate.sock` when that directory
/// exists, else `./ordergate.sock`.
[[nodiscard]] std::string default_socket_path();

}  // namespace ordergate
