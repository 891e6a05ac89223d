#include "redis_connection.hpp"

#include <sys/time.h>

#include <string>

namespace ordergate::cluster::detail {

namespace {

timeval to_timeval(std::chrono::milliseconds timeout) noexcept {
  timeval tv{};
  tv.tv_sec = static_cast<decltype(tv.tv_sec)>(timeout.count() / 1000);
  tv.tv_usec = static_cast<decltype(tv.tv_usec)>((timeout.count() % 1000) * 1000);
  return tv;
}

}  // namespace

std::string_view reply_text(const redisReply* reply) noexcept {
  if (reply == nullptr || reply->str == nullptr) return {};
  if (reply->type != REDIS_REPLY_STRING && reply->type != REDIS_REPLY_STATUS && reply->type != REDIS_REPLY_ERROR) {
    return {};
  }
  return {reply->str, reply->len};
}

std::unique_ptr<RedisConnection> RedisConnection::open(const RedisEndpoint& endpoint,
                                                       const security::Secret* password,
                                                       std::chrono::milliseconds timeout, OpenFailure& failure,
                                                       std::string& error) {
  failure = OpenFailure::none;
  const timeval tv = to_timeval(timeout);
  redisContext* context = redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, tv);
  if (context == nullptr) {
    failure = OpenFailure::unreachable;
    error = "cannot allocate a Redis connection";
    return nullptr;
  }
  std::unique_ptr<RedisConnection> connection(new RedisConnection(context));
  if (context->err != 0) {
    failure = OpenFailure::unreachable;
    error = connection->error();
    return nullptr;
  }
  if (redisSetTimeout(context, tv) != REDIS_OK) {
    failure = OpenFailure::unreachable;
    error = connection->error();
    return nullptr;
  }
  if (password != nullptr) {
    std::vector<std::string_view> auth{"AUTH"};
    if (!endpoint.username.empty()) auth.emplace_back(endpoint.username);
    auth.push_back(password->reveal());
    Reply reply = connection->command(auth);
    if (!reply) {
      failure = OpenFailure::unreachable;
      error = connection->error();
      return nullptr;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
      // Redis's own words (WRONGPASS ..., NOAUTH ...) hold no secret, but
      // are not repeated: one fixed message.
      failure = OpenFailure::refused_credentials;
      error = "Redis refused the credentials (cluster.password_env and the URL's user)";
      return nullptr;
    }
  }
  if (endpoint.database != 0) {
    const std::string database = std::to_string(endpoint.database);
    Reply reply = connection->command({"SELECT", database});
    if (!reply) {
      failure = OpenFailure::unreachable;
      error = connection->error();
      return nullptr;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
      failure = OpenFailure::protocol;
      error = "Redis refused database " + database + ": " + std::string(reply_text(reply.get()));
      return nullptr;
    }
  }
  return connection;
}

RedisConnection::~RedisConnection() { redisFree(context_); }

std::string RedisConnection::error() const {
  if (context_->err == 0) return "no error";
  return std::string(context_->errstr);
}

bool RedisConnection::append(const std::vector<std::string_view>& arguments) {
  std::vector<const char*> pointers;
  std::vector<std::size_t> lengths;
  pointers.reserve(arguments.size());
  lengths.reserve(arguments.size());
  for (const std::string_view argument : arguments) {
    pointers.push_back(argument.data());
    lengths.push_back(argument.size());
  }
  return redisAppendCommandArgv(context_, static_cast<int>(arguments.size()), pointers.data(), lengths.data()) ==
         REDIS_OK;
}

bool RedisConnection::flush() {
  int done = 0;
  while (done == 0) {
    if (redisBufferWrite(context_, &done) != REDIS_OK) return false;
  }
  return true;
}

Reply RedisConnection::command(const std::vector<std::string_view>& arguments) {
  if (context_->err != 0 || !append(arguments)) return nullptr;
  void* raw = nullptr;
  if (redisGetReply(context_, &raw) != REDIS_OK) return nullptr;
  return Reply(static_cast<redisReply*>(raw));
}

bool RedisConnection::read_available() { return context_->err == 0 && redisBufferRead(context_) == REDIS_OK; }

bool RedisConnection::next_reply(Reply& reply) {
  void* raw = nullptr;
  if (redisGetReplyFromReader(context_, &raw) != REDIS_OK) return false;
  reply.reset(static_cast<redisReply*>(raw));
  return true;
}

}  // namespace ordergate::cluster::detail
