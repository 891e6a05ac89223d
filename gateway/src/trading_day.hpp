#pragma once

// Internal: the trading day of the daily limits. A day starts at a local
// time of a time zone ("17:00 America/New_York", the FX convention), so it
// follows daylight saving time. Zones come from ICU's database.

#include <cstdint>
#include <string>
#include <string_view>

namespace ordergate::detail {

class TradingDay {
 public:
  /// `spec`: "HH:MM Zone/Name" (an IANA zone, or "UTC"). Throws ConfigError
  /// naming what is wrong.
  explicit TradingDay(std::string_view spec);

  /// The number of the trading day `wall_ns` (UTC ns) falls in: days since
  /// 1970 of the local date of `wall_ns - start`. Allocation-free, but an
  /// ICU call (about a microsecond): not for the order path.
  [[nodiscard]] std::int64_t day_of(std::int64_t wall_ns) const noexcept;

  [[nodiscard]] const std::string& zone() const noexcept { return zone_; }
  [[nodiscard]] int start_minutes() const noexcept { return start_minutes_; }

 private:
  std::string zone_;
  std::u16string zone_id_;  // for ICU
  int start_minutes_ = 0;   // after local midnight
};

}  // namespace ordergate::detail
