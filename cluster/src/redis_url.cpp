#include "ordergate/cluster/redis_url.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <string>

namespace ordergate::cluster {

namespace {

[[noreturn]] void refuse(const std::string& problem) { throw ClusterConfigError("cluster.redis: " + problem); }

bool host_name_character(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

bool user_character(char c) noexcept { return host_name_character(c) || c == '_'; }

template <class Number>
bool parse_number(std::string_view text, Number& out, Number max) noexcept {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return false;
  unsigned long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || value > max) return false;
  out = static_cast<Number>(value);
  return true;
}

}  // namespace

std::string RedisEndpoint::describe() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  std::string text;
  if (ipv6) text.push_back('[');
  text.append(host);
  if (ipv6) text.push_back(']');
  text.push_back(':');
  text.append(std::to_string(port));
  text.push_back('/');
  text.append(std::to_string(database));
  return text;
}

RedisEndpoint parse_redis_url(std::string_view url) {
  RedisEndpoint endpoint;
  constexpr std::string_view plain = "redis://";
  constexpr std::string_view secure = "rediss://";
  if (url.substr(0, plain.size()) == plain) {
    url.remove_prefix(plain.size());
  } else if (url.substr(0, secure.size()) == secure) {
    endpoint.tls = true;
    url.remove_prefix(secure.size());
  } else {
    refuse("must start with redis:// or rediss://");
  }
  if (url.find_first_of("?#") != std::string_view::npos) {
    refuse("a query string or fragment is not allowed (only redis://[USER@]HOST[:PORT][/DB])");
  }
  for (const char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      refuse("spaces, control characters and non-ASCII characters are not allowed");
    }
  }
  const std::size_t slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  if (slash != std::string_view::npos) {
    const std::string_view path = url.substr(slash + 1);
    if (!path.empty() && !parse_number<std::uint32_t>(path, endpoint.database, 65535)) {
      refuse("the database after '/' must be a number from 0 to 65535");
    }
  }
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view user_info = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    if (user_info.find(':') != std::string_view::npos) {
      refuse("a password in the URL is refused (it would sit in the configuration file): name a credential in "
             "cluster.password_env");
    }
    if (user_info.empty()) refuse("the user name before '@' is empty");
    for (const char c : user_info) {
      if (!user_character(c)) refuse("the user name may hold only letters, digits, '-', '_' and '.'");
    }
    endpoint.username = std::string(user_info);
  }
  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) refuse("an IPv6 address must be closed with ']'");
    endpoint.host = std::string(authority.substr(1, close - 1));
    in6_addr address{};
    if (endpoint.host.empty() || ::inet_pton(AF_INET6, endpoint.host.c_str(), &address) != 1) {
      refuse("the address between '[' and ']' is not an IPv6 address");
    }
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') refuse("only ':PORT' may follow an IPv6 address");
      port_text = rest.substr(1);
      has_port = true;
    }
  } else {
    const std::size_t colon = authority.find(':');
    endpoint.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      has_port = true;
    }
    if (endpoint.host.empty()) refuse("the host is empty");
    if (endpoint.host.size() > 253) refuse("the host name is longer than 253 characters");
    for (const char c : endpoint.host) {
      if (!host_name_character(c)) refuse("the host must be a name, an IPv4 address or [IPv6]");
    }
    if (endpoint.host.front() == '-' || endpoint.host.front() == '.' || endpoint.host.back() == '-') {
      refuse("the host must be a name, an IPv4 address or [IPv6]");
    }
  }
  if (has_port && (!parse_number<std::uint16_t>(port_text, endpoint.port, 65535) || endpoint.port == 0)) {
    refuse("the port after ':' must be a number from 1 to 65535");
  }
  return endpoint;
}

bool redis_tls_available() noexcept { return false; }

void require_supported(const RedisEndpoint& endpoint) {
  if (endpoint.tls && !redis_tls_available()) {
    throw ClusterConfigError(
        "cluster.redis: rediss:// (TLS) is not available in this build: Debian 12's hiredis (0.14) has no TLS "
        "support. Reach Redis over loopback or a private network with redis://, or through a local TLS tunnel "
        "(e.g. stunnel) at redis://127.0.0.1:PORT");
  }
}

}  // namespace ordergate::cluster
