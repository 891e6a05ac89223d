// The secrets-file parsers (flat TOML table, .env) on any text: values or
// SecretsParseError, nothing else.
#include "ordergate/security/secret_file.hpp"

#include "fuzz_support.hpp"
#include "ordergate/security/dotenv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using ordergate::security::SecretFileFormat;
  const std::string_view text = ordergate::fuzz::as_text(data, size);
  for (const SecretFileFormat format : {SecretFileFormat::toml, SecretFileFormat::dotenv}) {
    try {
      (void)ordergate::security::parse_secrets(text, format);
    } catch (const ordergate::security::SecretsParseError&) {
    }
  }
  return 0;
}
