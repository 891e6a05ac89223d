// The TOML configuration loader on any text: a validated configuration or
// ConfigError (with file, line and key), nothing else.
#include "ordergate/server/config_file.hpp"

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    (void)ordergate::parse_config_text(ordergate::fuzz::as_text(data, size), "fuzz.toml");
  } catch (const ordergate::ConfigError&) {
  }
  return 0;
}
