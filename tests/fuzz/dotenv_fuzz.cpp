// The .env parser on any text: values or SecretsParseError, nothing else.
#include "ordergate/security/dotenv.hpp"

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    (void)ordergate::security::parse_dotenv(ordergate::fuzz::as_text(data, size));
  } catch (const ordergate::security::SecretsParseError&) {
  }
  return 0;
}
