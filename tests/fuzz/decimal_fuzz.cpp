// Decimal::parse on any text: never crashes, and whatever it accepts prints
// back to a text that parses to the same value.
#include "ordergate/core/decimal.hpp"

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using ordergate::Decimal;
  using ordergate::DecimalError;
  Decimal value;
  if (Decimal::parse(ordergate::fuzz::as_text(data, size), value) != DecimalError::ok) return 0;
  const std::string printed = value.to_string();
  Decimal again;
  ORDERGATE_FUZZ_CHECK(Decimal::parse(printed, again) == DecimalError::ok);
  ORDERGATE_FUZZ_CHECK(again == value);
  return 0;
}
