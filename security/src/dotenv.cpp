#include "ordergate/security/dotenv.hpp"

#include <string>

#include "text_checks.hpp"

namespace ordergate::security {
namespace {

using detail::is_blank;
using detail::trim_blanks;

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";
constexpr std::string_view kUnterminatedDouble = "unterminated double quote (quoted values end on their line)";

// Keeps the decoded value of a double-quoted string and wipes it on every
// exit, including the exceptions thrown while decoding.
class WipedBuffer {
 public:
  explicit WipedBuffer(std::size_t capacity) { text_.reserve(capacity); }
  ~WipedBuffer() { wipe(text_.data(), text_.capacity()); }
  WipedBuffer(const WipedBuffer&) = delete;
  WipedBuffer& operator=(const WipedBuffer&) = delete;
  std::string& text() noexcept { return text_; }

 private:
  std::string text_;
};

struct ParsedLine {
  std::string_view key;
  Secret value;
};

// Decodes a double-quoted value. `rest` starts after the opening quote; on
// return it holds what follows the closing quote.
Secret parse_double_quoted(std::string_view& rest, std::size_t line) {
  WipedBuffer value(rest.size());
  std::size_t i = 0;
  while (true) {
    if (i >= rest.size()) throw SecretsParseError(line, kUnterminatedDouble);
    const char c = rest[i];
    if (c == '"') break;
    if (c != '\\') {
      value.text() += c;
      ++i;
      continue;
    }
    if (i + 1 >= rest.size()) throw SecretsParseError(line, kUnterminatedDouble);
    const char escaped = rest[i + 1];
    if (escaped == 'n') {
      value.text() += '\n';
    } else if (escaped == '"' || escaped == '\\') {
      value.text() += escaped;
    } else {
      throw SecretsParseError(
          line, "unsupported escape in double quotes (only \\n, \\\" and \\\\; use single quotes for literal text)");
    }
    i += 2;
  }
  rest.remove_prefix(i + 1);
  if (!detail::is_valid_utf8(value.text())) throw SecretsParseError(line, "value is not valid UTF-8");
  return Secret(value.text());
}

Secret parse_single_quoted(std::string_view& rest, std::size_t line) {
  const std::size_t close = rest.find('\'');
  if (close == std::string_view::npos) {
    throw SecretsParseError(line, "unterminated single quote (quoted values end on their line)");
  }
  const std::string_view value = rest.substr(0, close);
  rest.remove_prefix(close + 1);
  if (!detail::is_valid_utf8(value)) throw SecretsParseError(line, "value is not valid UTF-8");
  return Secret(value);
}

// An unquoted value ends at a '#' that follows a blank (a comment), and loses
// its trailing blanks. `after_blank` tells whether blanks preceded `rest`.
Secret parse_unquoted(std::string_view rest, bool after_blank, std::size_t line) {
  std::size_t end = rest.size();
  for (std::size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '#' && (i == 0 ? after_blank : is_blank(rest[i - 1]))) {
      end = i;
      break;
    }
  }
  const std::string_view value = trim_blanks(rest.substr(0, end));
  if (!detail::is_valid_utf8(value)) throw SecretsParseError(line, "value is not valid UTF-8");
  return Secret(value);
}

// Returns false for blank and comment lines.
bool parse_line(std::string_view text, std::size_t line, ParsedLine& out) {
  text = trim_blanks(text);
  if (text.empty() || text.front() == '#') return false;
  constexpr std::string_view kExport = "export";
  if (text.starts_with(kExport) && text.size() > kExport.size() && is_blank(text[kExport.size()])) {
    text = trim_blanks(text.substr(kExport.size()));
  }
  const std::size_t equals = text.find('=');
  if (equals == std::string_view::npos) throw SecretsParseError(line, "missing '=' (expected KEY=value)");
  const std::string_view key = trim_blanks(text.substr(0, equals));
  if (!is_valid_secret_key(key)) {
    throw SecretsParseError(line, "invalid key (letters, digits and '_', not starting with a digit)");
  }
  std::string_view rest = text.substr(equals + 1);
  const bool after_blank = !rest.empty() && is_blank(rest.front());
  while (!rest.empty() && is_blank(rest.front())) rest.remove_prefix(1);

  out.key = key;
  if (!rest.empty() && (rest.front() == '"' || rest.front() == '\'')) {
    const char quote = rest.front();
    rest.remove_prefix(1);
    out.value = quote == '"' ? parse_double_quoted(rest, line) : parse_single_quoted(rest, line);
    rest = trim_blanks(rest);
    if (!rest.empty() && rest.front() != '#') {
      throw SecretsParseError(line, "unexpected text after the closing quote (only a # comment may follow)");
    }
  } else {
    out.value = parse_unquoted(rest, after_blank, line);
  }
  return true;
}

}  // namespace

SecretsParseError::SecretsParseError(std::size_t line, std::string_view rule)
    : std::runtime_error("line " + std::to_string(line) + ": " + std::string(rule)), line_(line), rule_(rule) {}

bool is_valid_secret_key(std::string_view key) noexcept {
  if (key.empty()) return false;
  const auto is_letter = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  if (!is_letter(key.front())) return false;
  for (char c : key) {
    if (!is_letter(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

SecretMap parse_dotenv(std::string_view text) {
  if (text.starts_with(kByteOrderMark)) text.remove_prefix(kByteOrderMark.size());
  SecretMap values;
  std::map<std::string_view, std::size_t, std::less<>> first_line_of_key;
  std::size_t line = 0;
  while (!text.empty()) {
    ++line;
    const std::size_t newline = text.find('\n');
    std::string_view current = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (current.ends_with('\r')) current.remove_suffix(1);

    if (current.size() > kMaxDotenvLineBytes) {
      throw SecretsParseError(line, "line is longer than " + std::to_string(kMaxDotenvLineBytes) + " bytes");
    }
    if (current.find('\0') != std::string_view::npos) throw SecretsParseError(line, "contains a NUL byte");

    ParsedLine parsed;
    if (!parse_line(current, line, parsed)) continue;
    const auto [previous, inserted] = first_line_of_key.emplace(parsed.key, line);
    if (!inserted) {
      throw SecretsParseError(line, "duplicate key (first set on line " + std::to_string(previous->second) + ")");
    }
    values.emplace(std::string(parsed.key), std::move(parsed.value));
  }
  return values;
}

}  // namespace ordergate::security
