#include "ordergate/core/clock.hpp"

#include <time.h>

#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <stdexcept>
#include <string>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace ordergate {
namespace {

std::int64_t read_clock(clockid_t id) noexcept {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * kNanosPerSecond + ts.tv_nsec;
}

std::string first_line(const char* path) {
  std::ifstream file(path);
  std::string line;
  std::getline(file, line);
  return line;
}

// True when the "flags" line of /proc/cpuinfo names every flag given.
bool cpu_has_flags(std::initializer_list<const char*> wanted) {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::string word;
    std::size_t found = 0;
    while (words >> word) {
      for (const char* flag : wanted) found += word == flag ? 1 : 0;
    }
    return found == wanted.size();
  }
  return false;
}

bool decide_tsc_usable() {
#if defined(__x86_64__)
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read once per process, when the first gateway is built; nothing calls setenv
  if (const char* choice = std::getenv("ORDERGATE_CLOCK"); choice != nullptr && std::string(choice) == "system") {
    return false;
  }
  return first_line("/sys/devices/system/clocksource/clocksource0/current_clocksource") == "tsc" &&
         cpu_has_flags({"constant_tsc", "nonstop_tsc"});
#else
  return false;
#endif
}

}  // namespace

std::int64_t SystemClock::monotonic_ns() const noexcept { return read_clock(CLOCK_MONOTONIC); }
std::int64_t SystemClock::wall_ns() const noexcept { return read_clock(CLOCK_REALTIME); }

SystemClock& SystemClock::instance() noexcept {
  static SystemClock clock;
  return clock;
}

namespace detail {

std::int64_t TimeStampCounter::operator()() const noexcept {
#if defined(__x86_64__)
  return static_cast<std::int64_t>(__rdtsc());
#else
  return 0;
#endif
}

std::int64_t MonotonicReference::operator()() const noexcept { return read_clock(CLOCK_MONOTONIC); }

}  // namespace detail

bool TscClock::usable() noexcept {
  static const bool usable = [] {
    try {
      return decide_tsc_usable();
    } catch (...) {
      return false;
    }
  }();
  return usable;
}

TscClock& TscClock::instance() {
  // Without a counter in step with the kernel's clock the calibration
  // would wait for ever.
  if (!usable()) throw std::logic_error("TscClock: the time-stamp counter is not usable here (see TscClock::usable)");
  static TscClock clock;
  return clock;
}

std::int64_t TscClock::monotonic_ns() const noexcept {
  // Across another thread's re-anchor a reading may come out a little
  // earlier than this thread's last (CounterTimeline::now); no thread
  // sees its own time go back.
  thread_local std::int64_t last = 0;
  std::int64_t now = timeline_.now();
  if (now < last) now = last;
  last = now;
  return now;
}

std::int64_t TscClock::wall_ns() const noexcept { return read_clock(CLOCK_REALTIME); }

const Clock& default_clock() {
  if (TscClock::usable()) return TscClock::instance();
  return SystemClock::instance();
}

const char* default_clock_name() { return TscClock::usable() ? "tsc" : "vdso"; }

}  // namespace ordergate
