#include "trading_day.hpp"

#include <unicode/ucal.h>

#include <charconv>

#include "ordergate/gateway/config.hpp"

namespace ordergate::detail {
namespace {

constexpr std::int64_t kMillisPerDay = 86'400'000;

std::int64_t floor_div(std::int64_t value, std::int64_t divisor) noexcept {
  const std::int64_t quotient = value / divisor;
  return (value % divisor != 0 && (value < 0) != (divisor < 0)) ? quotient - 1 : quotient;
}

[[noreturn]] void bad(std::string_view spec, const std::string& why) {
  throw ConfigError("day_start '" + std::string(spec) + "': " + why +
                    " (expected \"HH:MM Zone\", e.g. \"17:00 America/New_York\")");
}

}  // namespace

TradingDay::TradingDay(std::string_view spec) {
  const std::size_t space = spec.find(' ');
  if (space != 5 || spec.size() < 7 || spec[2] != ':') bad(spec, "malformed");
  int hours = -1;
  int minutes = -1;
  const auto [h_end, h_error] = std::from_chars(spec.data(), spec.data() + 2, hours);
  const auto [m_end, m_error] = std::from_chars(spec.data() + 3, spec.data() + 5, minutes);
  if (h_error != std::errc{} || m_error != std::errc{} || h_end != spec.data() + 2 || m_end != spec.data() + 5 ||
      hours < 0 || hours > 23 || minutes < 0 || minutes > 59) {
    bad(spec, "the time must be HH:MM, 00:00 to 23:59");
  }
  start_minutes_ = hours * 60 + minutes;
  zone_ = std::string(spec.substr(space + 1));
  for (const char c : zone_) {
    if (static_cast<unsigned char>(c) > 0x7F || c == ' ') bad(spec, "the zone must be an IANA name such as Europe/London");
    zone_id_.push_back(static_cast<char16_t>(c));
  }
  // ICU opens an unknown zone as GMT without a word: ask for its canonical
  // id, which fails for an unknown one.
  UChar canonical[128];
  UBool system = 0;
  UErrorCode status = U_ZERO_ERROR;
  ucal_getCanonicalTimeZoneID(zone_id_.data(), static_cast<std::int32_t>(zone_id_.size()), canonical, 128, &system,
                              &status);
  if (U_FAILURE(status) || system == 0) bad(spec, "unknown time zone '" + zone_ + "'");
}

std::int64_t TradingDay::day_of(std::int64_t wall_ns) const noexcept {
  const std::int64_t wall_ms = floor_div(wall_ns, 1'000'000);
  std::int64_t offset_ms = 0;
  UErrorCode status = U_ZERO_ERROR;
  UCalendar* calendar =
      ucal_open(zone_id_.data(), static_cast<std::int32_t>(zone_id_.size()), "en_US_POSIX", UCAL_GREGORIAN, &status);
  if (U_SUCCESS(status)) {
    ucal_setMillis(calendar, static_cast<UDate>(wall_ms), &status);
    const std::int32_t zone = ucal_get(calendar, UCAL_ZONE_OFFSET, &status);
    const std::int32_t dst = ucal_get(calendar, UCAL_DST_OFFSET, &status);
    if (U_SUCCESS(status)) offset_ms = static_cast<std::int64_t>(zone) + dst;
  }
  if (calendar != nullptr) ucal_close(calendar);
  return floor_div(wall_ms + offset_ms - std::int64_t{start_minutes_} * 60'000, kMillisPerDay);
}

}  // namespace ordergate::detail
