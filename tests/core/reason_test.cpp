#include "ordergate/core/reason.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string_view>

namespace ordergate {
namespace {

Reason nth_reason(std::size_t index) { return static_cast<Reason>(index); }

TEST(Reason, NamesAreUpperSnakeCaseAndUnique) {
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < kReasonCount; ++i) {
    const std::string_view name = reason_name(nth_reason(i));
    ASSERT_FALSE(name.empty());
    for (char c : name) EXPECT_TRUE((c >= 'A' && c <= 'Z') || c == '_') << name;
    EXPECT_TRUE(names.insert(name).second) << name;
  }
}

TEST(Reason, NamesRoundTripThroughTheirParser) {
  for (std::size_t i = 0; i < kReasonCount; ++i) {
    const Reason reason = nth_reason(i);
    EXPECT_EQ(reason_from_name(reason_name(reason)), reason);
  }
}

TEST(Reason, ParserRejectsUnknownAndWronglyCasedNames) {
  EXPECT_EQ(reason_from_name("RATE_LIMITED"), Reason::RATE_LIMITED);
  EXPECT_FALSE(reason_from_name("rate_limited").has_value());
  EXPECT_FALSE(reason_from_name("").has_value());
  EXPECT_FALSE(reason_from_name("RATE_LIMITED ").has_value());
}

TEST(Reason, EveryCodeHasAShortMessage) {
  for (std::size_t i = 0; i < kReasonCount; ++i) {
    const std::string_view message = reason_message(nth_reason(i));
    EXPECT_FALSE(message.empty());
    EXPECT_LE(message.size(), 120u) << reason_name(nth_reason(i));
  }
  EXPECT_EQ(reason_message(Reason::OK), "accepted");
}

TEST(Reason, StableCodesKeepTheirProtocolNames) {
  EXPECT_EQ(reason_name(Reason::OK), "OK");
  EXPECT_EQ(reason_name(Reason::NO_REFERENCE_PRICE), "NO_REFERENCE_PRICE");
  EXPECT_EQ(reason_name(Reason::BROKER_RATE_LIMITED), "BROKER_RATE_LIMITED");
  EXPECT_EQ(static_cast<std::size_t>(Reason::OK), 0u);
}

TEST(Reason, OutOfRangeValuesGetAPlaceholderInsteadOfReadingPastTheTable) {
  const Reason bogus = nth_reason(kReasonCount + 3);
  EXPECT_EQ(reason_name(bogus), "UNKNOWN_REASON");
  EXPECT_FALSE(reason_message(bogus).empty());
}

}  // namespace
}  // namespace ordergate
