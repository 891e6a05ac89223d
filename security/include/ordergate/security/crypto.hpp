#pragma once

/// \file
/// Thin, exception-free wrappers over OpenSSL for what the gateway needs:
/// SHA-256, HMAC-SHA256, CSPRNG bytes, hex and base64url. No primitive is
/// implemented here; everything is OpenSSL's.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ordergate::security {

using Sha256Digest = std::array<std::uint8_t, 32>;

/// SHA-256 of `data`; nullopt if OpenSSL fails (only on allocation failure).
[[nodiscard]] std::optional<Sha256Digest> try_sha256(std::string_view data) noexcept;
/// HMAC-SHA256 of `data` under `key`; nullopt if OpenSSL fails.
[[nodiscard]] std::optional<Sha256Digest> try_hmac_sha256(std::string_view key, std::string_view data) noexcept;

/// As `try_sha256`, for callers that cannot go on without the digest (the
/// audit chain): if OpenSSL fails, the process aborts rather than use a
/// wrong digest.
[[nodiscard]] Sha256Digest sha256(std::string_view data) noexcept;
/// As `try_hmac_sha256`, aborting on an OpenSSL failure.
[[nodiscard]] Sha256Digest hmac_sha256(std::string_view key, std::string_view data) noexcept;

/// Fills `out` from OpenSSL's CSPRNG (RAND_bytes). Throws std::runtime_error
/// if the generator fails; never falls back to a weaker source.
void random_bytes(std::uint8_t* out, std::size_t size);

/// Lower-case hex.
[[nodiscard]] std::string to_hex(const std::uint8_t* data, std::size_t size);
[[nodiscard]] inline std::string to_hex(const Sha256Digest& digest) { return to_hex(digest.data(), digest.size()); }
/// Parses exactly 64 hex digits (either case) into a digest.
[[nodiscard]] std::optional<Sha256Digest> sha256_from_hex(std::string_view hex) noexcept;

/// base64url (RFC 4648 section 5). `encode` pads with '=' only when `pad`.
[[nodiscard]] std::string base64url_encode(const std::uint8_t* data, std::size_t size, bool pad);
/// Accepts padded or unpadded input; nullopt on any other character or a
/// length that cannot be base64.
[[nodiscard]] std::optional<std::vector<std::uint8_t>> base64url_decode(std::string_view text);

/// Constant-time equality of two digests (CRYPTO_memcmp).
[[nodiscard]] bool digest_equal(const Sha256Digest& a, const Sha256Digest& b) noexcept;

}  // namespace ordergate::security
