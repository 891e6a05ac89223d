#pragma once

// Internal: the operators' HTTP listener ([http] listen): Boost.Beast over
// TCP on a thread of its own, so nothing it does runs on the order path or
// on the socket server's I/O thread. Plain HTTP/1.1, GET and POST, small
// requests, a Host check, per-phase timeouts and a connection limit; the
// pages come from a handler (metrics_page.hpp, console.hpp), which may also
// answer with a stream of server-sent events.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ordergate::server_detail {

/// One request as the handler sees it. Views live until the handler returns.
struct HttpRequest {
  enum class Method : std::uint8_t { get, post };
  Method method = Method::get;
  std::string_view path;   ///< the target without its query
  std::string_view query;  ///< after '?', without it; empty when none
  std::string_view host;   ///< the Host header (already checked against the allowed names)
  std::string_view origin;          ///< Origin header, empty when absent
  std::string_view sec_fetch_site;  ///< Sec-Fetch-Site header, empty when absent
  std::string_view cookie;          ///< Cookie header, empty when absent
  std::string_view content_type;    ///< Content-Type header, empty when absent
  std::string_view csrf_token;      ///< X-CSRF-Token header, empty when absent
  std::string_view body;
  std::string_view peer;  ///< the client's IP address
  bool https = false;     ///< the listener serves HTTPS
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  /// More header fields (Set-Cookie, Retry-After, ...).
  std::vector<std::pair<std::string, std::string>> headers;
  /// Server-sent events instead of a body: called on the listener's thread
  /// at once and then every `stream_interval` (at least 100 ms) with a
  /// string to fill with the next event's data (one line of JSON); returns
  /// false to end the stream. The connection ends with the stream.
  std::function<bool(std::string& data)> stream;
  std::chrono::milliseconds stream_interval{1000};
};

struct HttpLimits {
  std::size_t max_header_bytes = std::size_t{8} * 1024;  ///< request line and headers; past it 431
  std::size_t max_body_bytes = 1024;        ///< a GET carries none; past it 413
  std::size_t max_connections = 32;         ///< more are closed at once
  std::chrono::milliseconds timeout{10'000};  ///< per read or write
  /// Host names (without port) accepted in the Host header besides
  /// localhost, 127.0.0.1, ::1 and the listen address; others get 403.
  std::vector<std::string> host_names;
  /// HTTPS only (TLS 1.2 or later) when set: PEM certificate chain and
  /// private key files, loaded by `start`.
  std::string tls_certificate_file;
  std::string tls_private_key_file;
};

class HttpListener {
 public:
  /// Answers a GET or POST. Runs on the listener's thread; an exception it
  /// throws is answered 500.
  using Handler = std::function<HttpResponse(const HttpRequest& request)>;
  /// Log lines (level, event, key=value fields).
  using Log = std::function<void(std::string_view level, std::string_view event, std::string_view fields)>;

  /// `address`: an IP literal; `port` 0 = any free port. With
  /// `fall_back_to_free_port`, a taken port is replaced by a free one.
  HttpListener(std::string address, std::uint16_t port, bool fall_back_to_free_port, const HttpLimits& limits,
               Handler handler, Log log);
  ~HttpListener();
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  /// Loads the TLS files (if any), binds, listens and starts the thread.
  /// Throws std::runtime_error naming the file or the address it could not
  /// use.
  void start();
  /// Calls `task` on the listener's thread every `interval` once started
  /// (e.g. to sample a history). Call before `start`.
  void every(std::chrono::milliseconds interval, std::function<void()> task);
  /// Closes the listener and every connection, joins the thread. Idempotent.
  void stop() noexcept;

  /// The bound port (after `start`).
  [[nodiscard]] std::uint16_t port() const noexcept;
  /// "http://ADDRESS:PORT/" or "https://..." (IPv6 in brackets), after `start`.
  [[nodiscard]] std::string url() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace ordergate::server_detail
