#pragma once

/// \file
/// The Fernet token format (https://github.com/fernet/spec), compatible with
/// Python's `cryptography.fernet`, for encrypted secrets files.
///
/// A key is 32 random bytes written base64url with padding (44 characters):
/// the first 16 bytes sign (HMAC-SHA256), the last 16 encrypt (AES-128-CBC).
/// A token is base64url (with padding) of
///
///     0x80 | timestamp (u64 big-endian seconds) | IV (16) | ciphertext | HMAC (32)
///
/// where the ciphertext is AES-128-CBC with PKCS#7 padding and the HMAC covers
/// every byte before it. Decryption checks the HMAC in constant time before
/// anything is decrypted, so a tampered token or a wrong key is one and the
/// same failure and nothing about the plaintext leaks.
///
/// All primitives are OpenSSL's (EVP). Functions are thread-safe; cost is
/// linear in the plaintext size.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ordergate/security/secret.hpp"

namespace ordergate::security {

/// A Fernet key. Holds the 32 raw bytes in a `Secret`; prints as `***`.
class FernetKey {
 public:
  static constexpr std::size_t kBytes = 32;
  static constexpr std::size_t kTextLength = 44;

  /// A new key from OpenSSL's CSPRNG. Throws std::runtime_error if the
  /// generator fails.
  [[nodiscard]] static FernetKey generate();
  /// Parses the base64url text of a key (padded 44 characters, or the same
  /// without the '='; surrounding blanks and line endings are ignored).
  /// nullopt when it is not exactly 32 bytes of base64url.
  [[nodiscard]] static std::optional<FernetKey> parse(std::string_view text);

  /// The key as base64url text (44 characters, padded), as Python writes it.
  [[nodiscard]] Secret text() const;

  /// The 16-byte HMAC-SHA256 key and the 16-byte AES-128 key.
  [[nodiscard]] std::string_view signing_key() const noexcept { return raw_.reveal().substr(0, 16); }
  [[nodiscard]] std::string_view encryption_key() const noexcept { return raw_.reveal().substr(16, 16); }

  friend std::ostream& operator<<(std::ostream& out, const FernetKey&) { return out << "***"; }

 private:
  explicit FernetKey(Secret raw) noexcept : raw_(std::move(raw)) {}
  Secret raw_;
};

/// A new random key (same as `FernetKey::generate()`).
[[nodiscard]] FernetKey generate_key();

/// Why a token was refused. Every value's description is safe to log.
enum class FernetError {
  invalid_token,     ///< malformed, truncated, tampered with or made with another key
  expired,           ///< authentic, but older than the TTL
  future_timestamp,  ///< authentic, but dated more than kFernetMaxClockSkew ahead of now
};

/// "invalid token or wrong key", "token expired", ...: fixed texts.
[[nodiscard]] std::string_view describe(FernetError error) noexcept;

/// How far in the future a token's timestamp may be when a TTL is checked
/// (Python's `_MAX_CLOCK_SKEW`).
inline constexpr std::chrono::seconds kFernetMaxClockSkew{60};

/// The outcome of `decrypt`: either the plaintext or an error.
class [[nodiscard]] FernetResult {
 public:
  explicit FernetResult(Secret plaintext) noexcept : plaintext_(std::move(plaintext)) {}
  explicit FernetResult(FernetError error) noexcept : error_(error) {}

  [[nodiscard]] bool ok() const noexcept { return !error_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  /// Precondition: `!ok()`.
  [[nodiscard]] FernetError error() const noexcept { return *error_; }
  /// Empty unless `ok()`.
  [[nodiscard]] const Secret& plaintext() const noexcept { return plaintext_; }
  [[nodiscard]] Secret take_plaintext() noexcept { return std::move(plaintext_); }

 private:
  Secret plaintext_;
  std::optional<FernetError> error_;
};

/// Encrypts `plaintext` into a token stamped with `now` (whole seconds since
/// the Unix epoch) and a fresh random IV. Throws std::invalid_argument for a
/// time before 1970 and std::runtime_error if OpenSSL fails; messages never
/// contain the key or the plaintext.
[[nodiscard]] std::string encrypt(const FernetKey& key, std::string_view plaintext,
                                  std::chrono::system_clock::time_point now);

/// Verifies and decrypts `token` (exact base64url, padded or not; no
/// whitespace). With a `ttl`, a token older than `ttl` at `now` is `expired`
/// and one dated more than kFernetMaxClockSkew after `now` is
/// `future_timestamp`; both are checked only after the HMAC, so they are
/// reported only for authentic tokens. Throws only std::bad_alloc.
FernetResult decrypt(const FernetKey& key, std::string_view token, std::chrono::system_clock::time_point now,
                     std::optional<std::chrono::seconds> ttl = std::nullopt);

namespace detail {
/// `encrypt` with a chosen IV and timestamp, for known-answer tests only:
/// reusing an IV with the same key breaks confidentiality.
[[nodiscard]] std::string fernet_encrypt_with_iv(const FernetKey& key, std::string_view plaintext,
                                                 std::uint64_t timestamp, const std::uint8_t (&iv)[16]);
}  // namespace detail

}  // namespace ordergate::security
