#include "ordergate/core/fixed_string.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ordergate {
namespace {

TEST(FixedString, StartsEmpty) {
  FixedString<8> text;
  EXPECT_TRUE(text.empty());
  EXPECT_EQ(text.size(), 0u);
  EXPECT_EQ(text.view(), "");
}

TEST(FixedString, HoldsTextUpToItsCapacity) {
  FixedString<8> text;
  ASSERT_TRUE(text.assign("EURUSD"));
  EXPECT_EQ(text.view(), "EURUSD");
  ASSERT_TRUE(text.assign("ABCDEFGH"));
  EXPECT_EQ(text.size(), 8u);
  EXPECT_EQ(text, std::string_view("ABCDEFGH"));
}

TEST(FixedString, RefusesLongerTextAndEndsEmptyInsteadOfTruncating) {
  FixedString<8> text;
  ASSERT_TRUE(text.assign("EURUSD"));
  EXPECT_FALSE(text.assign("ABCDEFGHI"));
  EXPECT_TRUE(text.empty());
}

TEST(FixedString, KeepsEmbeddedNulBytes) {
  FixedString<8> text;
  const std::string_view with_nul("a\0b", 3);
  ASSERT_TRUE(text.assign(with_nul));
  EXPECT_EQ(text.size(), 3u);
  EXPECT_EQ(text.view(), with_nul);
}

TEST(FixedString, ComparesByContentNotByStaleBytes) {
  FixedString<16> a;
  FixedString<16> b;
  ASSERT_TRUE(a.assign("LONGER-NAME"));
  ASSERT_TRUE(a.assign("ID1"));
  ASSERT_TRUE(b.assign("ID1"));
  EXPECT_EQ(a, b);
  ASSERT_TRUE(b.assign("ID2"));
  EXPECT_FALSE(a == b);
  a.clear();
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a, std::string_view());
}

TEST(FixedString, CopiesByValue) {
  FixedString<32> original;
  ASSERT_TRUE(original.assign("client-order-1"));
  FixedString<32> copy = original;
  ASSERT_TRUE(original.assign("changed"));
  EXPECT_EQ(copy.view(), "client-order-1");
}

TEST(FixedString, SupportsTheLargestCapacity) {
  FixedString<255> text;
  const std::string full(255, 'x');
  ASSERT_TRUE(text.assign(full));
  EXPECT_EQ(text.size(), 255u);
  EXPECT_FALSE(text.assign(full + "x"));
}

}  // namespace
}  // namespace ordergate
