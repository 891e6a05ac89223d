#pragma once

// Internal: one hiredis connection (blocking, with timeouts), opened,
// authenticated and on its database. Used by one thread at a time.

#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ordergate/cluster/redis_url.hpp"
#include "ordergate/security/secret.hpp"

namespace ordergate::cluster::detail {

struct ReplyDeleter {
  void operator()(redisReply* reply) const noexcept { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

/// Why a connection could not be opened.
enum class OpenFailure : std::uint8_t { none, unreachable, refused_credentials, protocol };

class RedisConnection {
 public:
  /// Connects to `endpoint` within `timeout` (also each command's timeout),
  /// sends AUTH when `password` is given and SELECT for a database other
  /// than 0. nullptr on failure, with `failure` and `error` (no secret).
  static std::unique_ptr<RedisConnection> open(const RedisEndpoint& endpoint, const security::Secret* password,
                                               std::chrono::milliseconds timeout, OpenFailure& failure,
                                               std::string& error);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  /// Sends one command and waits for its reply (up to the timeout). nullptr
  /// when the connection failed (it is then unusable; `error()` says why).
  /// An error reply is returned as a reply of type REDIS_REPLY_ERROR.
  Reply command(const std::vector<std::string_view>& arguments);
  /// Queues a command without waiting; `flush` sends what is queued.
  bool append(const std::vector<std::string_view>& arguments);
  bool flush();
  /// Reads what the socket has (call when poll says readable); false when
  /// the connection failed or was closed.
  bool read_available();
  /// The next complete reply already read, if any; false on a protocol error.
  bool next_reply(Reply& reply);

  [[nodiscard]] int fd() const noexcept { return context_->fd; }
  [[nodiscard]] std::string error() const;

 private:
  explicit RedisConnection(redisContext* context) noexcept : context_(context) {}
  redisContext* context_;
};

/// A reply's bulk or status string (empty for other types).
[[nodiscard]] std::string_view reply_text(const redisReply* reply) noexcept;

}  // namespace ordergate::cluster::detail
