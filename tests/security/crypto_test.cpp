#include "ordergate/security/crypto.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ordergate::security {
namespace {

std::string bytes(const std::vector<std::uint8_t>& v) { return std::string(v.begin(), v.end()); }

TEST(Crypto, Sha256MatchesTheFips180TestVector) {
  EXPECT_EQ(to_hex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Crypto, CheckedDigestsGiveTheSameValuesAsTheAbortingOnes) {
  ASSERT_TRUE(try_sha256("abc").has_value());
  EXPECT_EQ(*try_sha256("abc"), sha256("abc"));
  ASSERT_TRUE(try_hmac_sha256("Jefe", "what do ya want for nothing?").has_value());
  EXPECT_EQ(*try_hmac_sha256("Jefe", "what do ya want for nothing?"), hmac_sha256("Jefe", "what do ya want for nothing?"));
}

TEST(Crypto, HmacSha256MatchesRfc4231TestCase2) {
  EXPECT_EQ(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Crypto, Base64UrlRoundTripsEveryLengthWithAndWithoutPadding) {
  std::vector<std::uint8_t> data;
  for (int length = 0; length < 40; ++length) {
    const std::string padded = base64url_encode(data.data(), data.size(), true);
    const std::string bare = base64url_encode(data.data(), data.size(), false);
    EXPECT_EQ(padded.size() % 4, 0u);
    EXPECT_EQ(bare.find('='), std::string::npos);
    ASSERT_TRUE(base64url_decode(padded).has_value()) << padded;
    ASSERT_TRUE(base64url_decode(bare).has_value()) << bare;
    EXPECT_EQ(*base64url_decode(padded), data);
    EXPECT_EQ(*base64url_decode(bare), data);
    data.push_back(static_cast<std::uint8_t>(length * 37 + 250));
  }
  EXPECT_EQ(base64url_encode(reinterpret_cast<const std::uint8_t*>("\xfb\xff"), 2, true), "-_8=");
}

TEST(Crypto, Base64UrlRefusesForeignCharactersImpossibleLengthsAndStrayBits) {
  EXPECT_FALSE(base64url_decode("ab+c").has_value());  // standard alphabet, not url
  EXPECT_FALSE(base64url_decode("ab/c").has_value());
  EXPECT_FALSE(base64url_decode("abcde").has_value());  // 5 % 4 == 1
  EXPECT_FALSE(base64url_decode(std::string("ab\0c", 4)).has_value());
  EXPECT_FALSE(base64url_decode("ab c").has_value());
  EXPECT_FALSE(base64url_decode("QR").has_value());  // leftover bits not zero
  EXPECT_EQ(bytes(*base64url_decode("QQ")), "A");
}

TEST(Crypto, HexDigestParsesOnlyExactly64HexDigits) {
  const Sha256Digest digest = sha256("x");
  EXPECT_EQ(sha256_from_hex(to_hex(digest)), digest);
  EXPECT_FALSE(sha256_from_hex(to_hex(digest).substr(1)).has_value());
  EXPECT_FALSE(sha256_from_hex(to_hex(digest) + "0").has_value());
  std::string bad = to_hex(digest);
  bad[10] = 'g';
  EXPECT_FALSE(sha256_from_hex(bad).has_value());
}

TEST(Crypto, RandomBytesDifferBetweenCalls) {
  std::uint8_t a[32] = {};
  std::uint8_t b[32] = {};
  random_bytes(a, sizeof a);
  random_bytes(b, sizeof b);
  EXPECT_NE(std::string(reinterpret_cast<char*>(a), 32), std::string(reinterpret_cast<char*>(b), 32));
}

}  // namespace
}  // namespace ordergate::security
