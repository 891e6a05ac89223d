#include <charconv>
#include <cstdio>
#include <ctime>

#include "http_types.hpp"

namespace ordergate::sim {

namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool read_digits(std::string_view text, std::size_t& pos, std::size_t count, int& out) noexcept {
  if (pos + count > text.size()) return false;
  int value = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += count;
  out = value;
  return true;
}

bool expect(std::string_view text, std::size_t& pos, char c) noexcept {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int high = hex_value(text[i + 1]);
      const int low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<Param> parse_params(std::string_view text) {
  std::vector<Param> params;
  for (std::string_view pair : split(text, '&')) {
    if (pair.empty()) continue;
    const std::size_t equals = pair.find('=');
    const std::string_view raw_name = pair.substr(0, equals);
    const std::string_view raw_value = equals == std::string_view::npos ? std::string_view{} : pair.substr(equals + 1);
    auto name = percent_decode(raw_name, true);
    auto value = percent_decode(raw_value, true);
    params.push_back(Param{name ? std::move(*name) : std::string(raw_name),
                           value ? std::move(*value) : std::string(raw_value)});
  }
  return params;
}

std::optional<std::string> find_param(const std::vector<Param>& params, std::string_view name) {
  for (const auto& param : params) {
    if (param.name == name) return param.value;
  }
  return std::nullopt;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> pieces;
  std::size_t begin = 0;
  while (true) {
    const std::size_t end = text.find(separator, begin);
    if (end == std::string_view::npos) {
      pieces.push_back(text.substr(begin));
      return pieces;
    }
    pieces.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
}

std::int64_t wall_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t wall_ms() noexcept { return wall_ns() / 1'000'000; }

std::string rfc3339(std::int64_t unix_ns) {
  std::int64_t seconds = unix_ns / 1'000'000'000;
  std::int64_t nanos = unix_ns % 1'000'000'000;
  if (nanos < 0) {
    nanos += 1'000'000'000;
    --seconds;
  }
  const auto time = static_cast<std::time_t>(seconds);
  std::tm parts{};
  gmtime_r(&time, &parts);
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", parts.tm_year + 1900,
                parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                static_cast<long long>(nanos));
  return buffer;
}

std::optional<std::int64_t> parse_time_ns(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.find('T') == std::string_view::npos) {
    // Unix seconds with an optional fraction.
    Decimal seconds;
    if (Decimal::parse(text, seconds) != DecimalError::ok || seconds.is_negative()) return std::nullopt;
    return seconds.raw();  // nano-units of a second are nanoseconds
  }
  std::size_t pos = 0;
  std::tm parts{};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_digits(text, pos, 4, year) || !expect(text, pos, '-') || !read_digits(text, pos, 2, month) ||
      !expect(text, pos, '-') || !read_digits(text, pos, 2, day) || !expect(text, pos, 'T') ||
      !read_digits(text, pos, 2, hour) || !expect(text, pos, ':') || !read_digits(text, pos, 2, minute) ||
      !expect(text, pos, ':') || !read_digits(text, pos, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  std::int64_t nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 9) {
        nanos = nanos * 10 + (text[pos] - '0');
        ++digits;
      }
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 9; ++digits) nanos *= 10;
  }
  std::int64_t offset_seconds = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const bool negative = text[pos] == '-';
    ++pos;
    int offset_hours = 0, offset_minutes = 0;
    if (!read_digits(text, pos, 2, offset_hours) || !expect(text, pos, ':') ||
        !read_digits(text, pos, 2, offset_minutes)) {
      return std::nullopt;
    }
    offset_seconds = (std::int64_t{offset_hours} * 3600 + std::int64_t{offset_minutes} * 60) * (negative ? -1 : 1);
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  parts.tm_year = year - 1900;
  parts.tm_mon = month - 1;
  parts.tm_mday = day;
  parts.tm_hour = hour;
  parts.tm_min = minute;
  parts.tm_sec = second;
  const std::time_t utc = timegm(&parts);
  return (static_cast<std::int64_t>(utc) - offset_seconds) * 1'000'000'000 + nanos;
}

std::string format_decimal(Decimal value, int min_fraction_digits) {
  std::string text = value.to_string();
  const std::size_t point = text.find('.');
  int digits = point == std::string::npos ? 0 : static_cast<int>(text.size() - point - 1);
  if (digits >= min_fraction_digits) return text;
  if (point == std::string::npos && min_fraction_digits > 0) text += '.';
  text.append(static_cast<std::size_t>(min_fraction_digits - digits), '0');
  return text;
}

std::optional<Decimal> parse_decimal(std::string_view text) {
  Decimal value;
  if (Decimal::parse(text, value) != DecimalError::ok) return std::nullopt;
  return value;
}

Decimal decimal_step(int digits) {
  std::int64_t raw = Decimal::kScale;
  for (int i = 0; i < digits && raw > 1; ++i) raw /= 10;
  return Decimal::from_raw(raw);
}

int written_fraction_digits(std::string_view text) noexcept {
  const std::size_t point = text.find('.');
  return point == std::string_view::npos ? 0 : static_cast<int>(text.size() - point - 1);
}

bool multiply(Decimal a, Decimal b, Decimal& out) noexcept { return Decimal::multiply(a, b, out); }

std::optional<std::int64_t> parse_int(std::string_view text) noexcept {
  if (text.empty()) return std::nullopt;
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace ordergate::sim
