#include "ordergate/adapters/rest/venue_client_id.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <regex>
#include <string>
#include <unordered_set>

namespace ordergate::adapters::rest {
namespace {

// Binance's rule for newClientOrderId; OANDA's client extension ids and URL
// paths (orders/@{id}/cancel) need no escaping in the narrower set we use.
const std::regex kBinanceRule(R"(^[\.A-Z\:/a-z0-9_-]{1,36}$)");
const std::regex kOurs(R"(^og[A-Za-z0-9]{10}-[0-9a-z]{1,7}$)");

TEST(VenueClientId, HasTheLoggedPrefixThenTheOrderIdInBase36WithinBinancesRule) {
  const VenueClientIds ids;
  ASSERT_EQ(ids.prefix().size(), VenueClientIds::kPrefixLength);
  EXPECT_EQ(ids.prefix().substr(0, 2), "og");
  for (const OrderId id : {OrderId{0}, OrderId{1}, OrderId{35}, OrderId{36}, OrderId{4095}, UINT32_MAX}) {
    const std::string venue_id(ids.make(id).view());
    EXPECT_TRUE(std::regex_match(venue_id, kOurs)) << venue_id;
    EXPECT_TRUE(std::regex_match(venue_id, kBinanceRule)) << venue_id;
    EXPECT_LE(venue_id.size(), VenueClientIds::kMaxLength);
    EXPECT_EQ(venue_id.substr(0, VenueClientIds::kPrefixLength), ids.prefix());
    EXPECT_EQ(ids.order_id_of(venue_id), id) << venue_id;
  }
  const std::string prefix(ids.prefix());
  EXPECT_EQ(ids.make(0).view(), prefix + "-0");
  EXPECT_EQ(ids.make(36).view(), prefix + "-10");
  EXPECT_EQ(ids.make(UINT32_MAX).view(), prefix + "-1z141z3");
  EXPECT_EQ(ids.make(UINT32_MAX).size(), VenueClientIds::kMaxLength);
}

TEST(VenueClientId, TwoInstancesNeverShareAnIdAcrossManyOrders) {
  const VenueClientIds first;
  const VenueClientIds second;  // e.g. the same gateway after a restart
  EXPECT_NE(first.prefix(), second.prefix());
  std::unordered_set<std::string> seen;
  constexpr OrderId kOrders = 50'000;
  for (OrderId id = 0; id < kOrders; ++id) {
    EXPECT_TRUE(seen.emplace(first.make(id).view()).second) << id;
    EXPECT_TRUE(seen.emplace(second.make(id).view()).second) << id;
  }
  EXPECT_EQ(seen.size(), 2u * kOrders);
}

TEST(VenueClientId, PrefixesAreDrawnAtRandomOverTheWholeAlphabet) {
  std::unordered_set<std::string> prefixes;
  std::unordered_set<char> characters;
  for (int i = 0; i < 200; ++i) {
    const VenueClientIds ids;
    prefixes.emplace(ids.prefix());
    for (const char c : ids.prefix().substr(2)) characters.insert(c);
  }
  EXPECT_EQ(prefixes.size(), 200u);
  EXPECT_EQ(characters.size(), 62u) << "2000 draws cover all 62 characters";
}

TEST(VenueClientId, OnlyThisInstancesExactSpellingNamesAnOrder) {
  const VenueClientIds ids;
  const VenueClientIds other;
  const std::string prefix(ids.prefix());
  EXPECT_FALSE(ids.order_id_of(std::string(other.make(1).view())));
  EXPECT_FALSE(ids.order_id_of("c1"));
  EXPECT_FALSE(ids.order_id_of(""));
  EXPECT_FALSE(ids.order_id_of(prefix));
  EXPECT_FALSE(ids.order_id_of(prefix + "-"));
  EXPECT_FALSE(ids.order_id_of(prefix + "_1"));
  EXPECT_FALSE(ids.order_id_of(prefix + "-01")) << "a leading zero is another spelling";
  EXPECT_FALSE(ids.order_id_of(prefix + "-A"));
  EXPECT_FALSE(ids.order_id_of(prefix + "-1z141z4")) << "beyond 32 bits";
  EXPECT_FALSE(ids.order_id_of(prefix + "-zzzzzzzz"));
  EXPECT_FALSE(ids.order_id_of(prefix + "-1 "));
  EXPECT_EQ(ids.order_id_of(prefix + "-a"), OrderId{10});
}

TEST(VenueClientId, AnOperatorRebuildsAnIdFromTheLoggedPrefix) {
  const VenueClientIds ids;
  EXPECT_EQ(format_venue_client_id(ids.prefix(), 12345), ids.make(12345));
  EXPECT_TRUE(format_venue_client_id("far-too-long-a-prefix", 1).empty());
}

}  // namespace
}  // namespace ordergate::adapters::rest
