// Fernet token decoding on any text under a fixed key: an error code or, only
// for a token this key signed, the plaintext. Also key parsing. A token the
// key produces always decrypts back to its plaintext.
#include "ordergate/security/fernet.hpp"

#include <chrono>
#include <optional>

#include "fuzz_support.hpp"

namespace {

const ordergate::security::FernetKey& fixed_key() {
  // Not a credential: a constant test key so findings reproduce.
  static const std::optional<ordergate::security::FernetKey> key =
      ordergate::security::FernetKey::parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
  return *key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ordergate::security;
  const std::string_view text = ordergate::fuzz::as_text(data, size);
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  (void)FernetKey::parse(text);
  (void)decrypt(fixed_key(), text, now, std::chrono::seconds(60));
  const FernetResult plain = decrypt(fixed_key(), text, now);
  ORDERGATE_FUZZ_CHECK(plain.ok() || plain.plaintext().reveal().empty());
  if (size <= 256) {
    const std::string token = encrypt(fixed_key(), text, now);
    const FernetResult round_trip = decrypt(fixed_key(), token, now);
    ORDERGATE_FUZZ_CHECK(round_trip.ok());
    ORDERGATE_FUZZ_CHECK(round_trip.plaintext().reveal() == text);
  }
  return 0;
}
