#pragma once

// Names the calling thread as `top -H`, `ps -L` and /proc/<pid>/task/*/comm
// show it: the gateway's threads can be told apart when profiling.

#include <pthread.h>

#include <cstddef>
#include <string_view>

namespace ordergate {

/// Sets the calling thread's name to `prefix` + `name`; Linux keeps the
/// first 15 bytes.
inline void name_this_thread(std::string_view prefix, std::string_view name = {}) noexcept {
  char buffer[16] = {};
  const std::size_t used = prefix.copy(buffer, sizeof buffer - 1);
  name.copy(buffer + used, sizeof buffer - 1 - used);
  (void)::pthread_setname_np(::pthread_self(), buffer);
}

}  // namespace ordergate
