#include "ordergate/security/token.hpp"

#include <array>

namespace ordergate::security {
namespace {

constexpr unsigned kBase64UrlDashIndex = 62;  // '-' in the base64url alphabet

}  // namespace

Secret generate_token() {
  std::array<std::uint8_t, kTokenBytes> bytes{};
  // The first base64url character is '-' exactly when the top six bits of the
  // first byte are 62; such a draw is thrown away and all 32 bytes re-drawn
  // (1 in 64 draws), so a token never looks like a command-line option.
  do {
    random_bytes(bytes.data(), bytes.size());
  } while ((bytes[0] >> 2) == kBase64UrlDashIndex);
  std::string text = base64url_encode(bytes.data(), bytes.size(), /*pad=*/false);
  Secret token(text);
  wipe(bytes.data(), bytes.size());
  wipe(text.data(), text.size());
  return token;
}

Sha256Digest token_digest(std::string_view token) noexcept { return sha256(token); }

bool token_matches(std::string_view presented, const Sha256Digest& expected) noexcept {
  const auto digest = try_sha256(presented);
  return digest.has_value() && digest_equal(*digest, expected);  // no digest, no match
}

}  // namespace ordergate::security
