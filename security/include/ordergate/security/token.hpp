#pragma once

/// \file
/// Client tokens: 32 random bytes from OpenSSL's CSPRNG, written base64url
/// (43 characters, no padding). The configuration stores only their SHA-256
/// (hex); a presented token is hashed and compared in constant time.
///
/// A generated token never begins with '-': a draw whose text would (1 in 64)
/// is discarded and all 32 bytes are drawn again, so a token passed as a
/// command-line argument is never taken for an option. That costs
/// log2(64/63) ~ 0.023 bits of the 256; the other 42 characters stay uniform.

#include <string>
#include <string_view>

#include "ordergate/security/crypto.hpp"
#include "ordergate/security/secret.hpp"

namespace ordergate::security {

inline constexpr std::size_t kTokenBytes = 32;

/// A new random token, never beginning with '-'. Throws std::runtime_error if
/// the CSPRNG fails.
[[nodiscard]] Secret generate_token();

/// SHA-256 of the token text, as stored in the configuration.
[[nodiscard]] Sha256Digest token_digest(std::string_view token) noexcept;

/// True when `presented` hashes to `expected` (constant-time comparison).
[[nodiscard]] bool token_matches(std::string_view presented, const Sha256Digest& expected) noexcept;

}  // namespace ordergate::security
