#pragma once

// Internal: the process's structured log.

#include <mutex>
#include <ostream>
#include <string_view>

#include "ordergate/core/clock.hpp"

namespace ordergate::server_detail {

/// key=value log lines. Values are fixed words, names and numbers chosen by
/// the code; client input and secrets never reach them. Thread-safe: broker
/// threads log too, and a line is written whole.
class Log {
 public:
  Log(std::ostream& out, const Clock& clock) : out_(out), clock_(clock) {}

  void line(std::string_view level, std::string_view event, std::string_view fields = {}) {
    const std::lock_guard<std::mutex> lock(mutex_);
    out_ << "ts=" << clock_.wall_ns() << " level=" << level << " event=" << event;
    if (!fields.empty()) out_ << ' ' << fields;
    out_ << '\n';
    out_.flush();
  }

 private:
  std::ostream& out_;
  const Clock& clock_;
  std::mutex mutex_;
};

}  // namespace ordergate::server_detail
