#include "ordergate/core/reason.hpp"

#include <array>

namespace ordergate {
namespace {

constexpr std::array<std::string_view, kReasonCount> kNames = {
#define ORDERGATE_REASON_NAME(name, message) #name,
    ORDERGATE_REASONS(ORDERGATE_REASON_NAME)
#undef ORDERGATE_REASON_NAME
};

constexpr std::array<std::string_view, kReasonCount> kMessages = {
#define ORDERGATE_REASON_MESSAGE(name, message) message,
    ORDERGATE_REASONS(ORDERGATE_REASON_MESSAGE)
#undef ORDERGATE_REASON_MESSAGE
};

}  // namespace

std::string_view reason_name(Reason reason) noexcept {
  const auto index = static_cast<std::size_t>(reason);
  if (index >= kNames.size()) return "UNKNOWN_REASON";
  return kNames[index];
}

std::string_view reason_message(Reason reason) noexcept {
  const auto index = static_cast<std::size_t>(reason);
  if (index >= kMessages.size()) return "unknown reason";
  return kMessages[index];
}

std::optional<Reason> reason_from_name(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<Reason>(i);
  }
  return std::nullopt;
}

}  // namespace ordergate
