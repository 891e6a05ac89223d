#pragma once

// Internal: the process's structured log.

#include <mutex>
#include <ostream>
#include <string>
#include <string_view>

#include "ordergate/core/clock.hpp"
#include "ordergate/server/config_file.hpp"

namespace ordergate::server_detail {

/// `fields` ("a=1 b=\"two words\"") as JSON members (",\"a\":1,\"b\":\"two words\""):
/// integers become numbers, everything else strings; text that is not
/// key=value goes to a "text" member. For log shippers; see Log.
[[nodiscard]] std::string fields_as_json_members(std::string_view fields);

/// One event per line, key=value text (`ts=... level=info event=ready ...`)
/// or, with LogFormat::json, one JSON object per line ({"ts":...,"level":
/// "info","event":"ready",...}). Values are fixed words, names and numbers
/// chosen by the code; client input and secrets never reach them.
/// Thread-safe: broker threads log too, and a line is written whole.
class Log {
 public:
  Log(std::ostream& out, const Clock& clock, LogFormat format = LogFormat::text)
      : out_(out), clock_(clock), format_(format) {}

  void line(std::string_view level, std::string_view event, std::string_view fields = {}) {
    if (format_ == LogFormat::json) {
      std::string text = "{\"ts\":" + std::to_string(clock_.wall_ns()) + ",\"level\":\"";
      text += level;
      text += "\",\"event\":\"";
      text += event;
      text += '"';
      text += fields_as_json_members(fields);
      text += "}\n";
      const std::lock_guard<std::mutex> lock(mutex_);
      out_ << text;
      out_.flush();
      return;
    }
    const std::lock_guard<std::mutex> lock(mutex_);
    out_ << "ts=" << clock_.wall_ns() << " level=" << level << " event=" << event;
    if (!fields.empty()) out_ << ' ' << fields;
    out_ << '\n';
    out_.flush();
  }

 private:
  std::ostream& out_;
  const Clock& clock_;
  LogFormat format_;
  std::mutex mutex_;
};

}  // namespace ordergate::server_detail
