#pragma once

/// \file
/// The HTTPS front end: Boost.Beast over OpenSSL, HTTP/1.1 keep-alive, one
/// session per connection, all on the caller's io_context (run it on one
/// thread). Applies the connection-level faults: added latency, a stall on a
/// path prefix, dropping a connection after N requests and closing idle ones.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "router.hpp"
#include "sim_context.hpp"
#include "tls_identity.hpp"

namespace ordergate::sim {

struct ServerOptions {
  std::string bind_address = "127.0.0.1";
  std::uint16_t port = 0;  ///< 0 picks a free port
  std::chrono::milliseconds latency{0};
  std::chrono::milliseconds stall{0};
  std::string stall_prefix = "/";
  std::uint64_t drop_after = 0;  ///< close after this many responses (0 = never)
  std::chrono::milliseconds idle_close{0};  ///< 0 = keep idle connections
};

class Server {
 public:
  /// Binds and listens at once (throws std::runtime_error naming the address
  /// on failure); accepting starts with `start()`.
  Server(boost::asio::io_context& io, const TlsIdentity& identity, Router& router, ServerOptions options,
         Stats& stats, const Logger& log);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  [[nodiscard]] std::uint16_t port() const;
  void start();
  /// Stops accepting and closes every open connection.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ordergate::sim
