#pragma once

/// \file
/// A guard in front of toml++ for text ordergate reads from files (the
/// configuration, secrets files).
///
/// toml++ 3.x as shipped by Debian 12 classifies non-ASCII whitespace with a
/// table that reaches `__builtin_unreachable()` (undefined behaviour) for code
/// points U+00A1-U+0499, U+2C5E-U+3057 (but U+3000) and U+FB26-U+FEFE in a
/// position where it looks for whitespace; the `secrets_file` fuzzer found it. Text holding such a
/// character is refused before toml++ sees it, with the line and the code
/// point, so the operator gets a clear error instead of undefined behaviour.

#include <cstddef>
#include <optional>

#include <string_view>

namespace ordergate::security {

struct UnsafeTomlCharacter {
  std::size_t line = 0;      ///< 1-based
  char32_t code_point = 0;
};

/// The first character of `utf8_text` that toml++ cannot be given safely, or
/// nullopt. Invalid UTF-8 is left for the parser to report. O(n); no allocation.
[[nodiscard]] std::optional<UnsafeTomlCharacter> find_unsafe_toml_character(std::string_view utf8_text) noexcept;

}  // namespace ordergate::security
