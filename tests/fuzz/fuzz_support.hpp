#pragma once

// Shared by the libFuzzer harnesses: a harness returns 0 for every input and
// aborts (a finding) when a parser breaks its contract: an undocumented
// exception, a crash, a sanitizer report or a failed property check.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace ordergate::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) noexcept {
  return {reinterpret_cast<const char*>(data), size};
}

/// A property that must hold for every input; prints and aborts otherwise.
#define ORDERGATE_FUZZ_CHECK(condition)                                                       \
  do {                                                                                         \
    if (!(condition)) {                                                                        \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                            \
    }                                                                                          \
  } while (false)

}  // namespace ordergate::fuzz
