#pragma once

/// \file
/// Beast-free request and response types shared by the server and the venues,
/// plus the small text helpers they need (query strings, form bodies, times,
/// decimals). Everything here runs on the simulator's single I/O thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ordergate/core/decimal.hpp"

namespace ordergate::sim {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  ///< "GET", "POST", ...
  std::string target;  ///< raw request target, "/path?query"
  std::string path;    ///< target before '?', not decoded
  std::string query;   ///< target after '?', not decoded (empty if none)
  Headers headers;     ///< names lower-cased
  std::string body;
  std::string remote_ip;
  bool remote_is_loopback = false;
  std::uint64_t connection_id = 0;

  /// Value of the first header called `name` (lower-case), or empty.
  [[nodiscard]] std::string_view header(std::string_view name) const noexcept {
    for (const auto& [key, value] : headers) {
      if (key == name) return value;
    }
    return {};
  }
  [[nodiscard]] bool has_header(std::string_view name) const noexcept {
    for (const auto& entry : headers) {
      if (entry.first == name) return true;
    }
    return false;
  }
};

/// A connection that carries a long-lived chunked response (OANDA's
/// transaction stream). `send_line` queues one newline-terminated chunk.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual void send_line(std::string line) = 0;
  [[nodiscard]] virtual bool is_open() const noexcept = 0;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  Headers headers;
  /// Set for a streaming response: the server sends the headers (chunked),
  /// then hands itself to this callback, which registers it as a sink.
  std::function<void(const std::shared_ptr<StreamSink>&)> on_stream_open;

  void add_header(std::string name, std::string value) { headers.emplace_back(std::move(name), std::move(value)); }
};

/// One `name=value` pair of a query string or form body, percent-decoded.
struct Param {
  std::string name;
  std::string value;
};

/// Splits `a=1&b=2` and percent-decodes names and values ('+' is a space).
/// Pairs that fail to decode are kept with their raw text.
[[nodiscard]] std::vector<Param> parse_params(std::string_view text);
/// Value of the first `name` in `params`.
[[nodiscard]] std::optional<std::string> find_param(const std::vector<Param>& params, std::string_view name);
/// Percent-decoding; nullopt on a malformed escape.
[[nodiscard]] std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

/// Splits `text` on `separator` (no trimming; empty pieces kept).
[[nodiscard]] std::vector<std::string_view> split(std::string_view text, char separator);

/// Wall clock in nanoseconds and milliseconds since the Unix epoch.
[[nodiscard]] std::int64_t wall_ns() noexcept;
[[nodiscard]] std::int64_t wall_ms() noexcept;
/// RFC 3339 with nanoseconds, UTC: `2024-05-01T12:00:00.123456789Z`.
[[nodiscard]] std::string rfc3339(std::int64_t unix_ns);
/// Parses RFC 3339 (`Z` or `+hh:mm`, optional fraction up to 9 digits) or a
/// Unix-seconds number (`1714564800.5`); nullopt when neither.
[[nodiscard]] std::optional<std::int64_t> parse_time_ns(std::string_view text);

/// Prints `value` with at least `min_fraction_digits` fractional digits
/// (Binance's "0.10000000"); more digits are kept, never rounded away.
[[nodiscard]] std::string format_decimal(Decimal value, int min_fraction_digits);

/// Parses a decimal; nullopt on any error (syntax, precision, range).
[[nodiscard]] std::optional<Decimal> parse_decimal(std::string_view text);
/// 10^-digits as a Decimal (digits 0..9).
[[nodiscard]] Decimal decimal_step(int digits);
/// Number of fractional digits as written in `text` ("1.10" -> 2).
[[nodiscard]] int written_fraction_digits(std::string_view text) noexcept;

/// a * b truncated to 9 fractional digits; false on overflow.
[[nodiscard]] bool multiply(Decimal a, Decimal b, Decimal& out) noexcept;

/// Parses a non-negative or negative base-10 integer; nullopt otherwise.
[[nodiscard]] std::optional<std::int64_t> parse_int(std::string_view text) noexcept;

}  // namespace ordergate::sim
