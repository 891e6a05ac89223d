#include "ordergate/security/fernet.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <climits>
#include <memory>
#include <stdexcept>
#include <vector>

#include "ordergate/security/crypto.hpp"

namespace ordergate::security {
namespace {

constexpr std::uint8_t kVersion = 0x80;
constexpr std::size_t kTimestampBytes = 8;
constexpr std::size_t kIvBytes = 16;
constexpr std::size_t kHeaderBytes = 1 + kTimestampBytes + kIvBytes;
constexpr std::size_t kHmacBytes = 32;
constexpr std::size_t kBlockBytes = 16;
// A valid token carries at least one ciphertext block: PKCS#7 always pads.
constexpr std::size_t kMinTokenBytes = kHeaderBytes + kBlockBytes + kHmacBytes;
// EVP takes int lengths; leave room for the padding block.
constexpr std::size_t kMaxPlaintextBytes = static_cast<std::size_t>(INT_MAX) - 2 * kBlockBytes;

using Bytes = std::vector<std::uint8_t>;
using Hmac = std::array<std::uint8_t, kHmacBytes>;

struct CipherContextDeleter {
  void operator()(EVP_CIPHER_CTX* context) const noexcept { EVP_CIPHER_CTX_free(context); }
};
using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, CipherContextDeleter>;

// A byte buffer that is wiped when it goes out of scope.
class WipedBytes {
 public:
  explicit WipedBytes(std::size_t size) : bytes_(size) {}
  ~WipedBytes() { wipe(bytes_.data(), bytes_.size()); }
  WipedBytes(const WipedBytes&) = delete;
  WipedBytes& operator=(const WipedBytes&) = delete;
  std::uint8_t* data() noexcept { return bytes_.data(); }
  [[nodiscard]] std::size_t size() const noexcept { return bytes_.size(); }

 private:
  Bytes bytes_;
};

const unsigned char* as_bytes(std::string_view text) noexcept {
  return reinterpret_cast<const unsigned char*>(text.data());
}

bool compute_hmac(std::string_view key, const std::uint8_t* data, std::size_t size, Hmac& out) noexcept {
  std::size_t length = 0;
  return EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(), data, size, out.data(),
                   out.size(), &length) != nullptr &&
         length == out.size();
}

std::string encrypt_token(const FernetKey& key, std::string_view plaintext, std::uint64_t timestamp,
                          const std::uint8_t* iv) {
  if (plaintext.size() > kMaxPlaintextBytes) throw std::invalid_argument("Fernet plaintext is too large (over 2 GiB)");
  const std::size_t padded = (plaintext.size() / kBlockBytes + 1) * kBlockBytes;
  Bytes token(kHeaderBytes + padded + kHmacBytes);
  token[0] = kVersion;
  for (std::size_t i = 0; i < kTimestampBytes; ++i) {
    token[1 + i] = static_cast<std::uint8_t>(timestamp >> (8 * (kTimestampBytes - 1 - i)));
  }
  std::copy(iv, iv + kIvBytes, token.begin() + 1 + kTimestampBytes);

  const CipherContext context(EVP_CIPHER_CTX_new());
  int update_length = 0;
  int final_length = 0;
  std::uint8_t* ciphertext = token.data() + kHeaderBytes;
  if (!context ||
      EVP_EncryptInit_ex(context.get(), EVP_aes_128_cbc(), nullptr, as_bytes(key.encryption_key()), iv) != 1 ||
      EVP_EncryptUpdate(context.get(), ciphertext, &update_length, as_bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(context.get(), ciphertext + update_length, &final_length) != 1 ||
      static_cast<std::size_t>(update_length) + static_cast<std::size_t>(final_length) != padded) {
    throw std::runtime_error("AES-128-CBC encryption failed in OpenSSL");
  }

  Hmac mac{};
  if (!compute_hmac(key.signing_key(), token.data(), kHeaderBytes + padded, mac)) {
    throw std::runtime_error("HMAC-SHA256 failed in OpenSSL");
  }
  std::copy(mac.begin(), mac.end(), token.begin() + static_cast<std::ptrdiff_t>(kHeaderBytes + padded));
  return base64url_encode(token.data(), token.size(), /*pad=*/true);
}

std::int64_t seconds_since_epoch(std::chrono::system_clock::time_point time) noexcept {
  return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
}

}  // namespace

FernetKey FernetKey::generate() {
  std::array<std::uint8_t, kBytes> raw{};
  random_bytes(raw.data(), raw.size());
  FernetKey key(Secret(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size())));
  wipe(raw.data(), raw.size());
  return key;
}

std::optional<FernetKey> FernetKey::parse(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  if (text.size() != kTextLength && text.size() != kTextLength - 1) return std::nullopt;
  std::optional<Bytes> raw = base64url_decode(text);
  if (!raw) return std::nullopt;
  std::optional<FernetKey> key;
  if (raw->size() == kBytes) {
    key = FernetKey(Secret(std::string_view(reinterpret_cast<const char*>(raw->data()), raw->size())));
  }
  wipe(raw->data(), raw->size());
  return key;
}

Secret FernetKey::text() const {
  std::string encoded = base64url_encode(as_bytes(raw_.reveal()), raw_.size(), /*pad=*/true);
  Secret text(encoded);
  wipe(encoded.data(), encoded.size());
  return text;
}

FernetKey generate_key() { return FernetKey::generate(); }

std::string_view describe(FernetError error) noexcept {
  switch (error) {
    case FernetError::invalid_token:
      return "invalid token or wrong key";
    case FernetError::expired:
      return "token expired";
    case FernetError::future_timestamp:
      return "token timestamp is in the future (check the clock)";
  }
  return "invalid token or wrong key";
}

std::string encrypt(const FernetKey& key, std::string_view plaintext, std::chrono::system_clock::time_point now) {
  const std::int64_t seconds = seconds_since_epoch(now);
  if (seconds < 0) throw std::invalid_argument("Fernet timestamps cannot be before 1970");
  std::array<std::uint8_t, kIvBytes> iv{};
  random_bytes(iv.data(), iv.size());
  return encrypt_token(key, plaintext, static_cast<std::uint64_t>(seconds), iv.data());
}

FernetResult decrypt(const FernetKey& key, std::string_view token, std::chrono::system_clock::time_point now,
                     std::optional<std::chrono::seconds> ttl) {
  const std::optional<Bytes> data = base64url_decode(token);
  if (!data || data->size() < kMinTokenBytes || (*data)[0] != kVersion) {
    return FernetResult(FernetError::invalid_token);
  }
  const std::size_t signed_bytes = data->size() - kHmacBytes;
  const std::size_t ciphertext_bytes = signed_bytes - kHeaderBytes;
  if (ciphertext_bytes % kBlockBytes != 0 || ciphertext_bytes > kMaxPlaintextBytes + kBlockBytes) {
    return FernetResult(FernetError::invalid_token);
  }

  // Authenticate first: nothing below runs on bytes the key holder did not sign.
  Hmac expected{};
  if (!compute_hmac(key.signing_key(), data->data(), signed_bytes, expected) ||
      CRYPTO_memcmp(expected.data(), data->data() + signed_bytes, kHmacBytes) != 0) {
    return FernetResult(FernetError::invalid_token);
  }

  if (ttl) {
    std::uint64_t timestamp = 0;
    for (std::size_t i = 0; i < kTimestampBytes; ++i) timestamp = (timestamp << 8) | (*data)[1 + i];
    const std::int64_t now_seconds = seconds_since_epoch(now);
    const std::uint64_t current = now_seconds < 0 ? 0 : static_cast<std::uint64_t>(now_seconds);
    const std::uint64_t allowed_age = ttl->count() < 0 ? 0 : static_cast<std::uint64_t>(ttl->count());
    if (timestamp < current && current - timestamp > allowed_age) return FernetResult(FernetError::expired);
    if (timestamp > current && timestamp - current > static_cast<std::uint64_t>(kFernetMaxClockSkew.count())) {
      return FernetResult(FernetError::future_timestamp);
    }
  }

  WipedBytes plaintext(ciphertext_bytes + kBlockBytes);
  const CipherContext context(EVP_CIPHER_CTX_new());
  int update_length = 0;
  int final_length = 0;
  if (!context ||
      EVP_DecryptInit_ex(context.get(), EVP_aes_128_cbc(), nullptr, as_bytes(key.encryption_key()),
                         data->data() + 1 + kTimestampBytes) != 1 ||
      EVP_DecryptUpdate(context.get(), plaintext.data(), &update_length, data->data() + kHeaderBytes,
                        static_cast<int>(ciphertext_bytes)) != 1 ||
      EVP_DecryptFinal_ex(context.get(), plaintext.data() + update_length, &final_length) != 1) {
    return FernetResult(FernetError::invalid_token);
  }
  const std::size_t length = static_cast<std::size_t>(update_length) + static_cast<std::size_t>(final_length);
  return FernetResult(Secret(std::string_view(reinterpret_cast<const char*>(plaintext.data()), length)));
}

namespace detail {
std::string fernet_encrypt_with_iv(const FernetKey& key, std::string_view plaintext, std::uint64_t timestamp,
                                   const std::uint8_t (&iv)[16]) {
  return encrypt_token(key, plaintext, timestamp, iv);
}
}  // namespace detail

}  // namespace ordergate::security
