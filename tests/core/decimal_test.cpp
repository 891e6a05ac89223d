#include "ordergate/core/decimal.hpp"

#include <gtest/gtest.h>

namespace ordergate {
namespace {

TEST(Decimal, ParsesAndPrintsBackExactly) {
  for (const char* text : {"1.08463", "10000", "-0.5", "0", "0.000000001", "9223372036.854775807",
                           "-9223372036.854775808", "150.123"}) {
    Decimal value;
    ASSERT_EQ(Decimal::parse(text, value), DecimalError::ok) << text;
    EXPECT_EQ(value.to_string(), text);
  }
}

}  // namespace
}  // namespace ordergate
