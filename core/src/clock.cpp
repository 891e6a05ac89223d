#include "ordergate/core/clock.hpp"

#include <time.h>

namespace ordergate {
namespace {

std::int64_t read_clock(clockid_t id) noexcept {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * kNanosPerSecond + ts.tv_nsec;
}

}  // namespace

std::int64_t SystemClock::monotonic_ns() const noexcept { return read_clock(CLOCK_MONOTONIC); }
std::int64_t SystemClock::wall_ns() const noexcept { return read_clock(CLOCK_REALTIME); }

SystemClock& SystemClock::instance() noexcept {
  static SystemClock clock;
  return clock;
}

}  // namespace ordergate
