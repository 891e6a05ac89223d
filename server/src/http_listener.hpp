#pragma once

// Internal: the operators' HTTP listener ([http] listen): Boost.Beast over
// TCP on a thread of its own, so nothing it does runs on the order path or
// on the socket server's I/O thread. Plain HTTP/1.1, GET only, small
// requests, a Host check, per-phase timeouts and a connection limit; the
// pages come from a handler (metrics_page.hpp).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace ordergate::server_detail {

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

struct HttpLimits {
  std::size_t max_header_bytes = std::size_t{8} * 1024;  ///< request line and headers; past it 431
  std::size_t max_body_bytes = 1024;        ///< a GET carries none; past it 413
  std::size_t max_connections = 32;         ///< more are closed at once
  std::chrono::milliseconds timeout{10'000};  ///< per read or write
};

class HttpListener {
 public:
  /// Answers a GET of `path` (the target without its query). Runs on the
  /// listener's thread; must not throw.
  using Handler = std::function<HttpResponse(std::string_view path)>;
  /// Log lines (level, event, key=value fields).
  using Log = std::function<void(std::string_view level, std::string_view event, std::string_view fields)>;

  /// `address`: an IP literal; `port` 0 = any free port. With
  /// `fall_back_to_free_port`, a taken port is replaced by a free one.
  HttpListener(std::string address, std::uint16_t port, bool fall_back_to_free_port, const HttpLimits& limits,
               Handler handler, Log log);
  ~HttpListener();
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  /// Binds, listens and starts the thread. Throws std::runtime_error naming
  /// the address when it cannot bind.
  void start();
  /// Closes the listener and every connection, joins the thread. Idempotent.
  void stop() noexcept;

  /// The bound port (after `start`).
  [[nodiscard]] std::uint16_t port() const noexcept;
  /// "http://ADDRESS:PORT/" (IPv6 in brackets), after `start`.
  [[nodiscard]] std::string url() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace ordergate::server_detail
