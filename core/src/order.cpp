#include "ordergate/core/execution.hpp"
#include "ordergate/core/order.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace ordergate {
namespace {

bool equals_ignore_case(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

template <typename Enum, std::size_t N>
Enum parse_enum(std::string_view text, const std::array<std::string_view, N>& names) noexcept {
  for (std::size_t i = 1; i < N; ++i) {
    if (equals_ignore_case(text, names[i])) return static_cast<Enum>(i);
  }
  return static_cast<Enum>(0);
}

template <typename Enum, std::size_t N>
std::string_view enum_name(Enum value, const std::array<std::string_view, N>& names) noexcept {
  const auto index = static_cast<std::size_t>(value);
  return index < N ? names[index] : names[0];
}

constexpr std::array<std::string_view, 3> kSides = {"unset", "buy", "sell"};
constexpr std::array<std::string_view, 4> kTypes = {"unset", "market", "limit", "stop"};
constexpr std::array<std::string_view, 6> kTifs = {"unset", "gtc", "ioc", "fok", "day", "gtd"};
constexpr std::array<std::string_view, 9> kStatuses = {
    "NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "REJECTED", "EXPIRED", "PENDING_REPLACE", "REPLACED",
    "REPLACE_REJECTED"};

}  // namespace

std::string_view to_string(Side side) noexcept { return enum_name(side, kSides); }
std::string_view to_string(OrderType type) noexcept { return enum_name(type, kTypes); }
std::string_view to_string(TimeInForce tif) noexcept { return enum_name(tif, kTifs); }
std::string_view to_string(ExecStatus status) noexcept {
  const auto index = static_cast<std::size_t>(status);
  if (index >= kStatuses.size()) return "UNKNOWN";
  return kStatuses[index];
}

std::string_view to_string(FillSource source) noexcept {
  switch (source) {
    case FillSource::none: return "NONE";
    case FillSource::stop_loss: return "STOP_LOSS";
    case FillSource::take_profit: return "TAKE_PROFIT";
    case FillSource::trailing_stop: return "TRAILING_STOP_LOSS";
    case FillSource::account: return "ACCOUNT";
  }
  return "UNKNOWN";
}

Side parse_side(std::string_view text) noexcept { return parse_enum<Side>(text, kSides); }
OrderType parse_order_type(std::string_view text) noexcept {
  return parse_enum<OrderType>(text, kTypes);
}
TimeInForce parse_time_in_force(std::string_view text) noexcept {
  return parse_enum<TimeInForce>(text, kTifs);
}

}  // namespace ordergate
