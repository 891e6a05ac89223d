#include "ordergate/security/token.hpp"

#include <array>

namespace ordergate::security {

Secret generate_token() {
  std::array<std::uint8_t, kTokenBytes> bytes{};
  random_bytes(bytes.data(), bytes.size());
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
