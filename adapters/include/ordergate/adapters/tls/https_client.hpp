#pragma once

/// \file
/// A small pool of persistent, verified HTTPS/1.1 connections to one broker,
/// driven by the caller's thread (Boost.Beast + OpenSSL underneath; neither
/// appears here).
///
/// Security: `https://` only; TLS 1.2 minimum; the peer certificate is
/// verified against the system trust store (or only `ca_file` when one is
/// configured), with SNI and host name verification; an optional SHA-256
/// public-key pin is checked after the handshake. Any verification failure
/// leaves the connection closed and logs one line; there is no fallback to
/// an unverified connection.
///
/// Latency: connections are opened and handshaken by `start()` (warm), kept
/// alive, carry one request at a time, use TCP_NODELAY and write each request
/// with a single write. A dropped connection, a `Connection: close` or an
/// idle close by the server reopens it, with jittered exponential backoff
/// after failures.
///
/// Threading: not thread-safe. Every member is called on one thread (the
/// broker's I/O thread); the client owns an `io_context` that `poll()` runs
/// without blocking, so no thread is created except Asio's internal resolver
/// thread when a host name must be resolved again after a failed connect.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "ordergate/core/clock.hpp"
#include "ordergate/security/crypto.hpp"

namespace ordergate::adapters::tls {

enum class LogLevel : std::uint8_t { info, warning, error };

/// Receives one line per notable event (connected, verification failure,
/// broker errors). Lines never contain a credential, a request or a response
/// body. Called on the broker's I/O thread.
using LogFunction = std::function<void(LogLevel level, std::string_view line)>;

/// Writes "ordergate: <level>: <line>" to stderr.
void log_to_stderr(LogLevel level, std::string_view line);

[[nodiscard]] std::string_view to_string(LogLevel level) noexcept;

/// The parts of a broker base URL.
struct HttpsUrl {
  std::string host;       ///< as written (a name or an IPv4/IPv6 literal, without brackets)
  std::uint16_t port = 443;
  std::string base_path;  ///< without a trailing '/', empty for the root
};

/// Parses `https://host[:port][/path]`. Throws std::invalid_argument saying
/// what is wrong, naming `setting` (e.g. "oanda.base_url"); an `http://` URL
/// is refused because it would send credentials and orders in clear text.
[[nodiscard]] HttpsUrl parse_https_url(std::string_view url, std::string_view setting);

/// Parses a public-key pin `sha256//<base64 of the SHA-256 of the DER
/// SubjectPublicKeyInfo>` (curl's format; standard or URL-safe alphabet).
/// Throws std::invalid_argument naming `setting`.
[[nodiscard]] security::Sha256Digest parse_pin(std::string_view pin, std::string_view setting);

/// The pin of a PEM certificate, in the format `parse_pin` reads. Throws
/// std::invalid_argument when `pem` is not a certificate. For tools and tests.
[[nodiscard]] std::string pin_of_pem_certificate(std::string_view pem);

/// Connection and TLS settings of one broker endpoint.
struct TlsSettings {
  std::string base_url;  ///< https://host[:port][/path]
  /// PEM file of the CA(s) to trust instead of the system trust store. Empty:
  /// the system store. Set it only for a private CA such as the simulator's.
  std::string ca_file;
  std::string pin;            ///< optional `sha256//...` public-key pin
  std::size_t pool_size = 2;  ///< persistent connections, 1..16
  std::int64_t connect_timeout_ns = 5 * kNanosPerSecond;  ///< TCP connect + TLS handshake
  std::int64_t request_timeout_ns = 5 * kNanosPerSecond;  ///< write + complete response
  std::int64_t reconnect_min_ns = 100 * kNanosPerMilli;   ///< first backoff step
  std::int64_t reconnect_max_ns = 10 * kNanosPerSecond;   ///< backoff cap
  std::size_t max_response_bytes = 8u << 20;
  /// false: no pool at all; every request opens a new connection (TCP
  /// connect and TLS handshake, same verification), sends `Connection:
  /// close` and the connection ends with its response. For measuring what
  /// the persistent pool saves (bench/broker_bench.cpp); never for trading.
  bool keep_alive = true;
  std::string log_name = "broker";  ///< prefix of log lines, e.g. "oanda"
};

/// Delay before reconnect attempt number `failures` (1 = after the first
/// failure): min * 2^(failures-1), capped at max, then "equal jitter": a
/// uniformly random value in [delay/2, delay] drawn from `random_unit`
/// (a number in [0, 1)). Pure, so the schedule is tested exactly.
[[nodiscard]] std::int64_t backoff_delay_ns(std::uint32_t failures, std::int64_t min_ns,
                                            std::int64_t max_ns, double random_unit) noexcept;

/// A request as the caller lays it out. The client adds the request line,
/// `Host`, `Content-Type`/`Content-Length` (when `body` is not empty) and
/// writes everything with one write. `headers` holds complete header lines
/// ("Name: value\r\n..."); it may contain credentials: the client copies it
/// into its write buffer and wipes that buffer once written.
struct HttpRequest {
  std::string_view method = "GET";
  std::string_view target;  ///< path and query, appended to the URL's base path
  std::string_view headers;
  std::string_view content_type;
  std::string_view body;
};

/// A complete response, valid only during the `HttpHandler` call.
class HttpResponse {
 public:
  [[nodiscard]] int status() const noexcept;
  [[nodiscard]] std::string_view body() const noexcept;
  /// Value of the first header `name` (case-insensitive), empty if absent.
  [[nodiscard]] std::string_view header(std::string_view name) const noexcept;

  /// Internal: wraps the transport's parsed message.
  explicit HttpResponse(const void* message) noexcept : message_(message) {}

 private:
  const void* message_;
};

enum class TransportError : std::uint8_t {
  none = 0,
  timeout,          ///< no complete response within request_timeout_ns
  connection_lost,  ///< the connection failed or closed before the response was complete
  bad_response,     ///< not HTTP, or larger than max_response_bytes
  stopped,          ///< the client stopped with the request in flight
  not_sent,         ///< keep_alive = false: the connection for it could not be opened; nothing was written
};

[[nodiscard]] std::string_view to_string(TransportError error) noexcept;

/// The outcome of one request. With an error the request may or may not have
/// reached the broker: an order's fate is then unknown.
struct HttpResult {
  TransportError error = TransportError::none;
  const HttpResponse* response = nullptr;  ///< set when error == none
  /// From the start of the request's write to its response (or failure);
  /// 0 when nothing was written (`not_sent`).
  std::int64_t elapsed_ns = 0;
};

/// Receives the outcome of every request sent, on the thread that calls
/// `HttpsClient::poll()` (from inside it; never from inside `send`). The
/// handler may call `send` again.
class HttpHandler {
 public:
  virtual void on_http_result(std::uint64_t tag, const HttpResult& result) noexcept = 0;

 protected:
  ~HttpHandler() = default;
};

/// Counters for tests, benchmarks and health checks.
struct HttpsClientStats {
  std::uint64_t connect_attempts = 0;
  std::uint64_t connections_established = 0;  ///< verified handshakes
  std::uint64_t verification_failures = 0;    ///< certificate, host name or pin
  std::uint64_t connect_failures = 0;         ///< TCP or TLS errors other than verification
  std::uint64_t requests_sent = 0;
  std::uint64_t responses = 0;
  std::uint64_t connections_lost = 0;         ///< dropped, timed out or closed by the server
};

class HttpsClient {
 public:
  /// Validates `settings` (URL, pin format, pool size, readable CA file);
  /// throws std::invalid_argument naming the problem. Opens nothing yet.
  HttpsClient(TlsSettings settings, LogFunction log);
  ~HttpsClient();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  /// Opens and handshakes every connection of the pool, waiting up to
  /// `connect_timeout_ns` in total. Connections that fail are logged and
  /// retried in the background by `poll()`; `start` itself does not throw
  /// for network or verification failures. `clock` times the backoff.
  void start(HttpHandler& handler, const Clock& clock);

  /// Runs whatever I/O is ready, without blocking, and starts due
  /// reconnects. Returns true when it did anything.
  bool poll();

  /// Sends `request` on an idle connection (the one idle the longest);
  /// `tag` comes back with its result. Returns false, and sends nothing,
  /// when no connection is idle.
  [[nodiscard]] bool send(const HttpRequest& request, std::uint64_t tag);

  /// Closes every connection; requests in flight complete with `stopped`
  /// during this call. The client can be destroyed afterwards.
  void stop();

  /// False when no connection is open and the last attempt of every
  /// connection failed (unreachable, refused, or failed verification): the
  /// broker is unavailable, and callers should not queue work for it. True
  /// while a connection that was closed in an orderly way (idle close,
  /// `Connection: close`) is being reopened.
  [[nodiscard]] bool available() const noexcept;
  [[nodiscard]] std::size_t idle_connections() const noexcept;
  /// Verified connections, idle or busy.
  [[nodiscard]] std::size_t open_connections() const noexcept;
  [[nodiscard]] std::size_t pool_size() const noexcept;
  /// Monotonic time since which the longest-idle connection has been idle,
  /// or 0 when none is idle.
  [[nodiscard]] std::int64_t oldest_idle_since_ns() const noexcept;
  [[nodiscard]] const HttpsClientStats& stats() const noexcept;
  [[nodiscard]] const HttpsUrl& url() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ordergate::adapters::tls
