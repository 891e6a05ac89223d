#pragma once

// Byte-level checks shared by the secrets parsers. Internal: not installed.

#include <cstddef>
#include <string_view>

namespace ordergate::security::detail {

/// True when `text` is well-formed UTF-8: no overlong forms, no surrogates,
/// nothing above U+10FFFF, no truncated sequence.
[[nodiscard]] bool is_valid_utf8(std::string_view text) noexcept;

[[nodiscard]] constexpr bool is_blank(char c) noexcept { return c == ' ' || c == '\t'; }

[[nodiscard]] constexpr std::string_view trim_blanks(std::string_view text) noexcept {
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace ordergate::security::detail
