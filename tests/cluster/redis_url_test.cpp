#include "ordergate/cluster/redis_url.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ordergate::cluster {
namespace {

std::string refusal(const std::string& url) {
  try {
    (void)parse_redis_url(url);
  } catch (const ClusterConfigError& error) {
    return error.what();
  }
  return "accepted";
}

TEST(RedisUrl, ReadsHostPortAndDatabaseWithDefaults) {
  const RedisEndpoint full = parse_redis_url("redis://127.0.0.1:6380/3");
  EXPECT_FALSE(full.tls);
  EXPECT_EQ(full.host, "127.0.0.1");
  EXPECT_EQ(full.port, 6380);
  EXPECT_EQ(full.database, 3u);
  EXPECT_TRUE(full.username.empty());
  EXPECT_EQ(full.describe(), "127.0.0.1:6380/3");

  const RedisEndpoint bare = parse_redis_url("redis://redis-1.internal");
  EXPECT_EQ(bare.host, "redis-1.internal");
  EXPECT_EQ(bare.port, 6379) << "the default port";
  EXPECT_EQ(bare.database, 0u) << "the default database";

  const RedisEndpoint slash = parse_redis_url("redis://localhost/");
  EXPECT_EQ(slash.database, 0u) << "an empty path is the default database";
}

TEST(RedisUrl, ReadsAnIpv6LiteralAUserAndTls) {
  const RedisEndpoint v6 = parse_redis_url("rediss://gateway@[::1]:7000/15");
  EXPECT_TRUE(v6.tls);
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 7000);
  EXPECT_EQ(v6.database, 15u);
  EXPECT_EQ(v6.username, "gateway");
  EXPECT_EQ(v6.describe(), "[::1]:7000/15") << "never the user, never a password";
}

TEST(RedisUrl, RefusesAPasswordWithoutRepeatingIt) {
  for (const char* url : {"redis://:hunter2@127.0.0.1:6379", "redis://user:hunter2@127.0.0.1"}) {
    const std::string message = refusal(url);
    EXPECT_NE(message.find("a password in the URL is refused"), std::string::npos) << message;
    EXPECT_NE(message.find("cluster.password_env"), std::string::npos) << message;
    EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
  }
}

TEST(RedisUrl, RefusesEachMalformedPartNamingIt) {
  const std::pair<const char*, const char*> cases[] = {
      {"http://127.0.0.1:6379", "must start with redis:// or rediss://"},
      {"REDIS://127.0.0.1", "must start with redis:// or rediss://"},
      {"unix:///run/redis.sock", "must start with redis:// or rediss://"},
      {"redis://", "the host is empty"},
      {"redis://:6379", "the host is empty"},
      {"redis://127.0.0.1:", "the port after ':' must be a number from 1 to 65535"},
      {"redis://127.0.0.1:0", "the port after ':' must be a number from 1 to 65535"},
      {"redis://127.0.0.1:65536", "the port after ':' must be a number from 1 to 65535"},
      {"redis://127.0.0.1:+80", "the port after ':' must be a number from 1 to 65535"},
      {"redis://127.0.0.1:080", "the port after ':' must be a number from 1 to 65535"},
      {"redis://127.0.0.1:6379/x", "the database after '/' must be a number from 0 to 65535"},
      {"redis://127.0.0.1:6379/1/2", "the database after '/' must be a number from 0 to 65535"},
      {"redis://127.0.0.1:6379/99999", "the database after '/' must be a number from 0 to 65535"},
      {"redis://127.0.0.1:6379/0?timeout=1", "a query string or fragment is not allowed"},
      {"redis://127.0.0.1#x", "a query string or fragment is not allowed"},
      {"redis://127.0.0.1 :6379", "spaces, control characters"},
      {"redis://host_name", "the host must be a name, an IPv4 address or [IPv6]"},
      {"redis://-host", "the host must be a name, an IPv4 address or [IPv6]"},
      {"redis://[::1", "an IPv6 address must be closed with ']'"},
      {"redis://[not-v6]:6379", "is not an IPv6 address"},
      {"redis://[::1]6379", "only ':PORT' may follow an IPv6 address"},
      {"redis://@127.0.0.1", "the user name before '@' is empty"},
      {"redis://us%65r@127.0.0.1", "the user name may hold only"},
  };
  for (const auto& [url, expected] : cases) {
    const std::string message = refusal(url);
    EXPECT_NE(message.find(expected), std::string::npos) << url << " -> " << message;
    EXPECT_EQ(message.rfind("cluster.redis: ", 0), 0u) << "names the key: " << message;
  }
}

TEST(RedisUrl, TlsIsRefusedAtStartWhenThisBuildCannotSpeakIt) {
  const RedisEndpoint endpoint = parse_redis_url("rediss://127.0.0.1:6380");
  if (redis_tls_available()) {
    EXPECT_NO_THROW(require_supported(endpoint));
  } else {
    try {
      require_supported(endpoint);
      ADD_FAILURE() << "rediss:// was accepted without TLS support";
    } catch (const ClusterConfigError& error) {
      EXPECT_NE(std::string(error.what()).find("rediss:// (TLS) is not available in this build"), std::string::npos);
    }
  }
  EXPECT_NO_THROW(require_supported(parse_redis_url("redis://127.0.0.1")));
}

}  // namespace
}  // namespace ordergate::cluster
