#pragma once

/// \file
/// The system's message for an `errno` value, safe to call from any thread.
/// Use it instead of `std::strerror`, which may return a buffer shared by all
/// threads (the server, the journal writer and the brokers run concurrently).

#include <string>

namespace ordergate {

/// The message `std::strerror(errnum)` would give, e.g. "No such file or
/// directory", or "Unknown error N" for a value the system does not know.
/// Thread-safe (`strerror_r` into a local buffer). Allocates the result, so it
/// belongs on error paths, not the hot path; throws only `std::bad_alloc`.
[[nodiscard]] std::string error_text(int errnum);

}  // namespace ordergate
