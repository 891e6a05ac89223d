// The control state file parser on any text: a state or ControlStateError,
// nothing else. Each input is tried as it is and with a valid check line
// appended (a fuzzer cannot find SHA-256 checks by itself, and the lines
// behind the check are what a damaged or hand-edited file exercises). A
// state that parses formats back to text that parses to the same state.
#include "ordergate/gateway/control_state.hpp"

#include <string>

#include "fuzz_support.hpp"
#include "ordergate/security/crypto.hpp"

namespace {

void check(std::string_view text) {
  try {
    const ordergate::ControlState state = ordergate::parse_control_state(text, "fuzz");
    const std::string again = ordergate::format_control_state(state);
    ORDERGATE_FUZZ_CHECK(ordergate::parse_control_state(again, "fuzz") == state);
  } catch (const ordergate::ControlStateError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = ordergate::fuzz::as_text(data, size);
  check(text);
  std::string checked(text);
  checked += "check ";
  checked += ordergate::security::to_hex(ordergate::security::sha256(text));
  checked += '\n';
  check(checked);
  return 0;
}
