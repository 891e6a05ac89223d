#include "ordergate/core/short_text_index.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

namespace ordergate {
namespace {

// Every length the word loads treat differently (1-3, 4-7, 8-15, 16-32),
// and texts that differ in one byte at each position: the overlapping
// loads must still tell them apart.
TEST(ShortTextIndex, FindsExactlyTheTextsAddedAtEveryLengthAndEveryPosition) {
  ShortTextIndex index;
  std::map<std::string, std::uint16_t> added;
  std::uint16_t next = 0;
  for (std::size_t length = 1; length <= ShortTextIndex::kMaxLength; ++length) {
    const std::string base(length, 'a');
    ASSERT_TRUE(index.add(base, next));
    added[base] = next++;
    for (std::size_t at = 0; at < length; ++at) {
      std::string variant = base;
      variant[at] = 'b';
      ASSERT_TRUE(index.add(variant, next)) << variant;
      added[variant] = next++;
    }
  }
  EXPECT_EQ(index.size(), added.size());
  for (const auto& [text, id] : added) EXPECT_EQ(index.find(text), id) << text;
  // Near misses: a byte changed to a third value, one byte more.
  for (const auto& [text, id] : added) {
    std::string other = text;
    other[other.size() / 2] = 'c';
    EXPECT_EQ(index.find(other), ShortTextIndex::kNone) << other;
    if (text.size() < ShortTextIndex::kMaxLength) {
      EXPECT_EQ(index.find(text + "c"), ShortTextIndex::kNone) << text;
    }
  }
}

TEST(ShortTextIndex, AgreesWithAMapOnRandomTexts) {
  std::mt19937_64 random(7);
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_-.";
  auto text = [&] {
    std::string out(1 + random() % ShortTextIndex::kMaxLength, ' ');
    for (char& c : out) c = alphabet[random() % alphabet.size()];
    return out;
  };
  ShortTextIndex index;
  std::map<std::string, std::uint16_t> added;
  while (added.size() < 3000) {
    const std::string t = text();
    const auto id = static_cast<std::uint16_t>(added.size());
    EXPECT_EQ(index.add(t, id), !added.contains(t));
    added.emplace(t, id);
  }
  for (const auto& [t, id] : added) ASSERT_EQ(index.find(t), id) << t;
  for (int i = 0; i < 20000; ++i) {
    const std::string t = text();
    const auto it = added.find(t);
    ASSERT_EQ(index.find(t), it == added.end() ? ShortTextIndex::kNone : it->second) << t;
  }
}

TEST(ShortTextIndex, RefusesEmptyTooLongDuplicateTextsAndTheReservedId) {
  ShortTextIndex index;
  EXPECT_EQ(index.find("EURUSD"), ShortTextIndex::kNone);  // empty index
  EXPECT_FALSE(index.add("", 1));
  EXPECT_FALSE(index.add(std::string(ShortTextIndex::kMaxLength + 1, 'x'), 1));
  EXPECT_FALSE(index.add("EURUSD", ShortTextIndex::kNone));
  EXPECT_TRUE(index.add("EURUSD", 3));
  EXPECT_FALSE(index.add("EURUSD", 4));
  EXPECT_EQ(index.find("EURUSD"), 3);
  EXPECT_EQ(index.find(""), ShortTextIndex::kNone);
  EXPECT_EQ(index.find(std::string(ShortTextIndex::kMaxLength + 1, 'x')), ShortTextIndex::kNone);
  // A text is its bytes, not a C string: an embedded NUL is one more byte.
  EXPECT_EQ(index.find(std::string_view("EURUSD\0", 7)), ShortTextIndex::kNone);
  EXPECT_EQ(index.size(), 1u);
}

}  // namespace
}  // namespace ordergate
