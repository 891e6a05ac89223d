#pragma once

/// \file
/// Where a cluster's Redis is: `redis://[USER@]HOST[:PORT][/DB]`, read
/// strictly. Edge code: allocates and throws.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ordergate::cluster {

/// Thrown for a bad `[cluster]` setting or URL. The message says what is
/// wrong and never repeats a password (a URL is never echoed whole).
class ClusterConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A parsed Redis URL.
struct RedisEndpoint {
  bool tls = false;       ///< `rediss://`
  std::string host;       ///< a host name, an IPv4 literal, or an IPv6 literal without brackets
  std::uint16_t port = 6379;
  std::uint32_t database = 0;  ///< the `/DB` path, 0 when absent
  std::string username;   ///< Redis 6 ACL user; empty: the default user

  /// "HOST:PORT/DB" ("[::1]:6379/0" for IPv6), for logs: never a password.
  [[nodiscard]] std::string describe() const;
};

/// Parses `redis://HOST[:PORT][/DB]`, with an optional `USER@`, and
/// `rediss://` (TLS). Refuses, naming the problem: another scheme, a
/// password in the URL (name a credential in `password_env` instead), an
/// empty or malformed host, a port outside 1-65535, a database that is not
/// a number up to 65535, a query string or fragment, and anything trailing.
[[nodiscard]] RedisEndpoint parse_redis_url(std::string_view url);

/// True when this build can speak TLS to Redis (hiredis with hiredis_ssl).
/// Debian 12's hiredis 0.14 has none, so `rediss://` is refused at start.
[[nodiscard]] bool redis_tls_available() noexcept;

/// Throws ClusterConfigError when this build cannot reach `endpoint` as
/// asked (`rediss://` without TLS support), saying what to do instead.
void require_supported(const RedisEndpoint& endpoint);

}  // namespace ordergate::cluster
