#include "ordergate/security/toml_text.hpp"

namespace ordergate::security {
namespace {

// The blocks of toml++'s whitespace table (0x3FA code points from U+00A0)
// that fall through to its unreachable default: blocks 0, 11 and 63, less the
// three characters it does check (U+00A0, U+3000, U+FEFF).
constexpr bool unsafe(char32_t c) noexcept {
  return (c >= 0xA1 && c <= 0x499) || (c >= 0x2C5E && c <= 0x3057 && c != 0x3000) ||
         (c >= 0xFB26 && c <= 0xFEFE);
}

constexpr bool continuation(unsigned char byte) noexcept { return (byte & 0xC0u) == 0x80u; }

}  // namespace

std::optional<UnsafeTomlCharacter> find_unsafe_toml_character(std::string_view utf8_text) noexcept {
  std::size_t line = 1;
  for (std::size_t i = 0; i < utf8_text.size(); ++i) {
    const auto lead = static_cast<unsigned char>(utf8_text[i]);
    if (lead == '\n') {
      ++line;
      continue;
    }
    char32_t code_point = 0;
    if (lead >= 0xC2 && lead <= 0xDF && i + 1 < utf8_text.size() &&
        continuation(static_cast<unsigned char>(utf8_text[i + 1]))) {
      code_point = (static_cast<char32_t>(lead & 0x1Fu) << 6) |
                   (static_cast<unsigned char>(utf8_text[i + 1]) & 0x3Fu);
    } else if (lead >= 0xE0 && lead <= 0xEF && i + 2 < utf8_text.size() &&
               continuation(static_cast<unsigned char>(utf8_text[i + 1])) &&
               continuation(static_cast<unsigned char>(utf8_text[i + 2]))) {
      code_point = (static_cast<char32_t>(lead & 0x0Fu) << 12) |
                   (static_cast<char32_t>(static_cast<unsigned char>(utf8_text[i + 1]) & 0x3Fu) << 6) |
                   (static_cast<unsigned char>(utf8_text[i + 2]) & 0x3Fu);
    }
    if (unsafe(code_point)) return UnsafeTomlCharacter{line, code_point};
  }
  return std::nullopt;
}

}  // namespace ordergate::security
