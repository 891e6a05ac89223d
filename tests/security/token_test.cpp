#include "ordergate/security/token.hpp"

#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>

namespace ordergate::security {
namespace {

TEST(Token, IsFortyThreeBase64UrlCharactersOfThirtyTwoRandomBytes) {
  const Secret token = generate_token();
  ASSERT_EQ(token.size(), 43u);
  const auto decoded = base64url_decode(token.reveal());
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->size(), kTokenBytes);
}

TEST(Token, EveryTokenIsDifferent) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(std::string(generate_token().reveal()));
  EXPECT_EQ(seen.size(), 1000u);
}

// Without the re-draw, 1 token in 64 begins with '-'; the chance that 10000
// draws show none is (63/64)^10000 < 1e-68. '_' (the neighbouring last
// alphabet entry) must still appear first: only '-' is excluded.
TEST(Token, NeverBeginsWithADashSoACommandLineDoesNotTakeItForAnOption) {
  std::set<char> first_characters;
  for (int i = 0; i < 10000; ++i) {
    const Secret token = generate_token();
    ASSERT_NE(token.reveal().front(), '-') << "draw " << i;
    first_characters.insert(token.reveal().front());
  }
  EXPECT_EQ(first_characters.size(), 63u);
  EXPECT_TRUE(first_characters.contains('_'));
  EXPECT_FALSE(first_characters.contains('-'));
}

TEST(Token, MatchesOnlyItsOwnDigest) {
  const Secret token = generate_token();
  const Sha256Digest digest = token_digest(token.reveal());
  EXPECT_TRUE(token_matches(token.reveal(), digest));
  std::string altered(token.reveal());
  altered[0] = altered[0] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(token_matches(altered, digest));
  EXPECT_FALSE(token_matches("", digest));
}

TEST(Secret, PrintsAsStarsComparesByValueAndEmptiesWhenMovedFrom) {
  Secret secret("hunter2-canary");
  std::ostringstream out;
  out << secret;
  EXPECT_EQ(out.str(), "***");
  EXPECT_TRUE(secret.equals("hunter2-canary"));
  EXPECT_FALSE(secret.equals("hunter2-canarY"));
  EXPECT_FALSE(secret.equals("hunter2"));
  Secret moved = std::move(secret);
  EXPECT_TRUE(secret.empty());  // NOLINT(bugprone-use-after-move): the contract under test
  EXPECT_EQ(moved.reveal(), "hunter2-canary");
  EXPECT_TRUE(moved == moved.clone());
}

}  // namespace
}  // namespace ordergate::security
