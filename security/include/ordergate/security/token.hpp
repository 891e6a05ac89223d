#pragma once

/// \file
/// Client tokens: 32 random bytes from OpenSSL's CSPRNG, written base64url
/// (43 characters, no padding). The configuration stores only their SHA-256
/// (hex); a presented token is hashed and compared in constant time.

#include <string>
#include <string_view>

#include "ordergate/security/crypto.hpp"
#include "ordergate/security/secret.hpp"

namespace ordergate::security {

inline constexpr std::size_t kTokenBytes = 32;

/// A new random token. Throws std::runtime_error if the CSPRNG fails.
[[nodiscard]] Secret generate_token();

/// SHA-256 of the token text, as stored in the configuration.
[[nodiscard]] Sha256Digest token_digest(std::string_view token) noexcept;

/// True when `presented` hashes to `expected` (constant-time comparison).
[[nodiscard]] bool token_matches(std::string_view presented, const Sha256Digest& expected) noexcept;

}  // namespace ordergate::security
