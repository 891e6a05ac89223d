#pragma once

/// \file
/// A strict parser for `.env` text. It reads values and nothing else: no shell
/// expansion (`$VAR` stays literal), no command substitution, no includes.
///
/// Syntax, one assignment per line:
///
///     # a comment line
///     KEY=value                 unquoted; ends at ` #` (whitespace then '#')
///     export KEY=value          `export ` is allowed and ignored
///     KEY = value               blanks around the key and '=' are allowed
///     KEY='literal $text'       single quotes: every byte literal, no escapes
///     KEY="a\nb \"q\" \\"       double quotes: only \n \" \\ escapes
///     KEY=                      empty value
///
/// Keys match `[A-Za-z_][A-Za-z0-9_]*`. Lines end with LF or CRLF; a UTF-8
/// byte order mark at the start is skipped. Quoted values end on the line
/// they start (use `\n` for a newline). After a closing quote only blanks and
/// a `#` comment may follow.
///
/// Errors: a line without '=', a bad key, a duplicate key, an unterminated
/// quote, an unknown escape, a NUL byte anywhere, invalid UTF-8 in a value or
/// a line longer than `kMaxDotenvLineBytes` throws `SecretsParseError`, whose
/// message names the line number and the rule, never the line's content.

#include <cstddef>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

#include "ordergate/security/secret.hpp"

namespace ordergate::security {

/// Credential name -> value, as read from a `.env` or secrets file.
using SecretMap = std::map<std::string, Secret, std::less<>>;

/// The longest line a `.env` file may have, without its line ending.
inline constexpr std::size_t kMaxDotenvLineBytes = std::size_t{64} * 1024;

/// A malformed line in a `.env` or secrets text. `what()` is
/// "line N: <rule>" and never contains the text of the line.
class SecretsParseError : public std::runtime_error {
 public:
  SecretsParseError(std::size_t line, std::string_view rule);
  /// 1-based line number of the offending line.
  [[nodiscard]] std::size_t line() const noexcept { return line_; }
  /// The rule that was broken, without the line number.
  [[nodiscard]] const std::string& rule() const noexcept { return rule_; }

 private:
  std::size_t line_;
  std::string rule_;
};

/// True when `key` matches `[A-Za-z_][A-Za-z0-9_]*`.
[[nodiscard]] bool is_valid_secret_key(std::string_view key) noexcept;

/// Parses `.env` text (see the file comment). Throws `SecretsParseError` on
/// the first malformed line. Temporary copies of values are wiped; the
/// caller owns (and should wipe) `text`.
[[nodiscard]] SecretMap parse_dotenv(std::string_view text);

}  // namespace ordergate::security
