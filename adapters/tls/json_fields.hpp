#pragma once

// Internal helpers shared by the OANDA and Binance codecs: typed field
// access on simdjson DOM objects (money from decimal text only), reason codes
// filtered to code characters, and JSON string escaping. Not installed.

#include <simdjson.h>

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "ordergate/core/decimal.hpp"
#include "ordergate/core/fixed_string.hpp"

namespace ordergate::adapters::detail {

/// The string value of `key`, or empty when absent or not a string.
inline std::string_view string_field(simdjson::dom::object object, std::string_view key) noexcept {
  std::string_view value;
  if (object[key].get(value) != simdjson::SUCCESS) return {};
  return value;
}

/// An unsigned id written as a string ("6356") or as a JSON integer.
inline bool id_field(simdjson::dom::object object, std::string_view key, std::uint64_t& out) noexcept {
  simdjson::dom::element element;
  if (object[key].get(element) != simdjson::SUCCESS) return false;
  std::uint64_t number = 0;
  if (element.get(number) == simdjson::SUCCESS) {
    out = number;
    return true;
  }
  std::int64_t signed_number = 0;
  if (element.get(signed_number) == simdjson::SUCCESS) {
    if (signed_number < 0) return false;
    out = static_cast<std::uint64_t>(signed_number);
    return true;
  }
  std::string_view text;
  if (element.get(text) != simdjson::SUCCESS || text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc{} || end != text.data() + text.size()) return false;
  out = number;
  return true;
}

/// A signed integer written as a JSON integer or a string.
inline bool integer_field(simdjson::dom::object object, std::string_view key, std::int64_t& out) noexcept {
  simdjson::dom::element element;
  if (object[key].get(element) != simdjson::SUCCESS) return false;
  std::int64_t number = 0;
  if (element.get(number) == simdjson::SUCCESS) {
    out = number;
    return true;
  }
  std::string_view text;
  if (element.get(text) != simdjson::SUCCESS || text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc{} || end != text.data() + text.size()) return false;
  out = number;
  return true;
}

/// A decimal written as a string ("1.08463"), or as a JSON integer. JSON
/// numbers with a fraction are refused: they would have to go through a
/// double, and money never does.
inline bool decimal_field(simdjson::dom::object object, std::string_view key, Decimal& out) noexcept {
  simdjson::dom::element element;
  if (object[key].get(element) != simdjson::SUCCESS) return false;
  std::string_view text;
  if (element.get(text) == simdjson::SUCCESS) return Decimal::parse(text, out) == DecimalError::ok;
  std::int64_t number = 0;
  if (element.get(number) == simdjson::SUCCESS) {
    if (number > INT64_MAX / Decimal::kScale || number < INT64_MIN / Decimal::kScale) return false;
    out = Decimal::from_integer(number);
    return true;
  }
  return false;
}

/// A short code made only of code characters ([A-Za-z0-9_.:-]); anything
/// else (spaces, quotes, free text) ends the code, and it is cut to the
/// capacity. So a reason code can never carry a sentence, a body or a secret
/// that a broker echoed.
template <std::size_t N>
FixedString<N> code_of(std::string_view text) noexcept {
  std::size_t length = 0;
  while (length < text.size() && length < N) {
    const char c = text[length];
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '-' || c == '.' || c == ':';
    if (!ok) break;
    ++length;
  }
  FixedString<N> code;
  code.assign(text.substr(0, length));
  return code;
}

/// Appends `text` as the inside of a JSON string (quotes, backslashes and
/// control characters escaped).
inline void append_json_escaped(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (byte < 0x20) {
      out.append("\\u00");
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0x0F]);
    } else {
      out.push_back(c);
    }
  }
}

/// Appends the exact decimal text of `value`.
inline void append_decimal(std::string& out, Decimal value) {
  char text[Decimal::kMaxPrintedLength];
  out.append(text, value.to_chars(text));
}

/// Appends an unsigned integer.
inline void append_unsigned(std::string& out, std::uint64_t value) {
  char text[24];
  const auto end = std::to_chars(text, text + sizeof(text), value).ptr;
  out.append(text, static_cast<std::size_t>(end - text));
}

}  // namespace ordergate::adapters::detail
