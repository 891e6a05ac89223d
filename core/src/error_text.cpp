#include "ordergate/core/error_text.hpp"

#include <array>
#include <cstring>

namespace ordergate {
namespace {

// strerror_r has two signatures: GNU (the default with glibc and _GNU_SOURCE)
// returns the message, which may or may not be in the buffer; XSI returns 0 on
// success and fills the buffer. Overloading on the result accepts either; the
// other overload is unused.
[[maybe_unused]] const char* message_from(char* result, const char* /*buffer*/) noexcept {
  return result;
}
[[maybe_unused]] const char* message_from(int result, const char* buffer) noexcept {
  return result == 0 ? buffer : nullptr;
}

}  // namespace

std::string error_text(int errnum) {
  std::array<char, 256> buffer{};
  if (const char* message = message_from(strerror_r(errnum, buffer.data(), buffer.size()), buffer.data());
      message != nullptr) {
    return message;
  }
  return "Unknown error " + std::to_string(errnum);
}

}  // namespace ordergate
