#include "log.hpp"

#include <cstdio>

namespace ordergate::server_detail {
namespace {

bool is_key_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == '-';
}

// Length of a `key=` at `at`, or 0.
std::size_t key_length(std::string_view text, std::size_t at) noexcept {
  std::size_t end = at;
  while (end < text.size() && is_key_char(text[end])) ++end;
  return end > at && end < text.size() && text[end] == '=' ? end - at : 0;
}

// A closing quote ends the text or comes before " key=": quotes inside a
// quoted value (an error message) do not end it.
bool closes_value(std::string_view text, std::size_t quote) noexcept {
  const std::size_t next = quote + 1;
  if (next == text.size()) return true;
  return text[next] == ' ' && key_length(text, next + 1) > 0;
}

bool is_json_integer(std::string_view value) noexcept {
  std::size_t at = value.starts_with('-') ? 1 : 0;
  if (at == value.size() || value.size() - at > 18) return false;
  if (value[at] == '0' && value.size() - at > 1) return false;
  for (; at < value.size(); ++at) {
    if (value[at] < '0' || value[at] > '9') return false;
  }
  return true;
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += escaped;
    } else {
      out += c;
    }
  }
  out += '"';
}

void append_member(std::string& out, std::string_view key, std::string_view value, bool quoted) {
  out += ',';
  append_json_string(out, key);
  out += ':';
  if (!quoted && is_json_integer(value)) {
    out += value;
  } else {
    append_json_string(out, value);
  }
}

}  // namespace

std::string fields_as_json_members(std::string_view fields) {
  std::string out;
  std::string text;  // words that are not key=value, kept in order
  std::size_t at = 0;
  while (at < fields.size()) {
    if (fields[at] == ' ') {
      ++at;
      continue;
    }
    const std::size_t key = key_length(fields, at);
    if (key == 0) {
      const std::size_t end = std::min(fields.find(' ', at), fields.size());
      if (!text.empty()) text += ' ';
      text += fields.substr(at, end - at);
      at = end;
      continue;
    }
    const std::string_view name = fields.substr(at, key);
    at += key + 1;
    if (at < fields.size() && fields[at] == '"') {
      std::size_t quote = at + 1;
      while (quote < fields.size() && !(fields[quote] == '"' && closes_value(fields, quote))) ++quote;
      append_member(out, name, fields.substr(at + 1, quote - at - 1), true);
      at = quote + 1;
    } else {
      const std::size_t end = std::min(fields.find(' ', at), fields.size());
      append_member(out, name, fields.substr(at, end - at), false);
      at = end;
    }
  }
  if (!text.empty()) append_member(out, "text", text, true);
  return out;
}

}  // namespace ordergate::server_detail
