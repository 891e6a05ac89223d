#include "ordergate/guards/permissions.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace ordergate::guards {
namespace {

InstrumentSpec instrument_spec(std::string name) {
  InstrumentSpec spec;
  spec.name = std::move(name);
  spec.tick_size = decimal_literal("0.00001");
  spec.lot_step = decimal_literal("1");
  spec.min_quantity = decimal_literal("1");
  spec.max_quantity = decimal_literal("10000000");
  spec.max_order_quantity = decimal_literal("1000000");
  spec.max_notional = decimal_literal("2000000");
  spec.max_position = decimal_literal("5000000");
  spec.price_band_bps = 500;
  spec.max_open_orders = 10;
  spec.max_quote_age_ns = 1'000'000'000;
  return spec;
}

class Permissions : public ::testing::Test {
 protected:
  Permissions()
      : accounts_({{"fx-main", "paper"}, {"fx-hedge", "paper"}, {"crypto", "paper"}}),
        instruments_(
            {instrument_spec("EUR/USD"), instrument_spec("GBP/USD"), instrument_spec("BTC/USDT")}) {
    spec_.name = "bot-1";
    spec_.permissions = {"trade", "cancel"};
    spec_.accounts = {"fx-*"};
    spec_.symbols = {"*/USD"};
    order_.account_id = 0;
    order_.instrument_id = 0;
    order_.type = OrderType::limit;
    order_.quantity = decimal_literal("10000");
  }

  PrincipalPolicy policy() const { return PrincipalPolicy(spec_, accounts_, instruments_); }

  std::string construction_error() const {
    try {
      (void)policy();
    } catch (const std::invalid_argument& error) {
      return error.what();
    }
    return "";
  }

  AccountTable accounts_;
  InstrumentTable instruments_;
  PrincipalSpec spec_;
  Order order_;
};

TEST(GlobMatch, MatchesLiteralsExactly) {
  EXPECT_TRUE(glob_match("EUR/USD", "EUR/USD"));
  EXPECT_FALSE(glob_match("EUR/USD", "EUR/USDT"));
  EXPECT_FALSE(glob_match("EUR/USD", "eur/usd"));
  EXPECT_TRUE(glob_match("", ""));
  EXPECT_FALSE(glob_match("", "x"));
  EXPECT_FALSE(glob_match("x", ""));
}

TEST(GlobMatch, StarMatchesAnyRunIncludingNone) {
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("*", "anything"));
  EXPECT_TRUE(glob_match("fx-*", "fx-"));
  EXPECT_TRUE(glob_match("fx-*", "fx-main"));
  EXPECT_FALSE(glob_match("fx-*", "fx"));
  EXPECT_TRUE(glob_match("*/USD", "EUR/USD"));
  EXPECT_FALSE(glob_match("*/USD", "BTC/USDT"));
  EXPECT_TRUE(glob_match("*USD*", "BTC/USDT"));
  EXPECT_TRUE(glob_match("a*b*c", "abc"));
  EXPECT_TRUE(glob_match("a*b*c", "aXbYbZc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXbYcZ"));
  EXPECT_TRUE(glob_match("**a**", "a"));
  EXPECT_TRUE(glob_match("*aab", "aaaab"));  // needs backtracking past a partial match
}

TEST(GlobMatch, OtherWildcardCharactersAreLiterals) {
  EXPECT_FALSE(glob_match("EUR?USD", "EUR/USD"));
  EXPECT_TRUE(glob_match("EUR?USD", "EUR?USD"));
  EXPECT_FALSE(glob_match("[E]UR", "EUR"));
}

TEST(GlobMatch, StaysFastOnPathologicalPatterns) {
  // Exponential for naive recursive matchers; quadratic at worst here.
  const std::string text(2000, 'a');
  const std::string pattern = "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
  EXPECT_FALSE(glob_match(pattern, text));
  EXPECT_TRUE(glob_match(pattern.substr(0, pattern.size() - 1), text));
}

TEST(ParsePermission, KnowsTheFourPermissions) {
  EXPECT_EQ(parse_permission("trade"), Permission::trade);
  EXPECT_EQ(parse_permission("cancel"), Permission::cancel);
  EXPECT_EQ(parse_permission("read"), Permission::read);
  EXPECT_EQ(parse_permission("admin"), Permission::admin);
  EXPECT_EQ(parse_permission("TRADE"), Permission::trade);
  for (std::string_view text : {"", "trades", "root", " trade", "*"}) {
    EXPECT_FALSE(parse_permission(text).has_value()) << text;
  }
}

TEST_F(Permissions, ResolvesPatternsAgainstTheConfiguredTables) {
  const PrincipalPolicy p = policy();
  EXPECT_EQ(p.name(), "bot-1");
  EXPECT_TRUE(p.has(Permission::trade));
  EXPECT_TRUE(p.has(Permission::cancel));
  EXPECT_FALSE(p.has(Permission::admin));
  EXPECT_FALSE(p.has(Permission::read));
  EXPECT_TRUE(p.allows_account(0));
  EXPECT_TRUE(p.allows_account(1));
  EXPECT_FALSE(p.allows_account(2));
  EXPECT_TRUE(p.allows_instrument(0));
  EXPECT_TRUE(p.allows_instrument(1));
  EXPECT_FALSE(p.allows_instrument(2));
  EXPECT_FALSE(p.allows_account(999));
  EXPECT_FALSE(p.allows_instrument(5000));
}

TEST_F(Permissions, MatchesSymbolPatternsAgainstCanonicalNameAndCompactKey) {
  spec_.symbols = {"BTCUSDT"};
  EXPECT_TRUE(policy().allows_instrument(2));
  spec_.symbols = {"BTC/USDT"};
  EXPECT_TRUE(policy().allows_instrument(2));
  spec_.symbols = {"GBP*"};
  const PrincipalPolicy p = policy();
  EXPECT_TRUE(p.allows_instrument(1));
  EXPECT_FALSE(p.allows_instrument(0));
}

TEST_F(Permissions, AllowsEveryOrderTypeWhenNoneAreListed) {
  const PrincipalPolicy p = policy();
  EXPECT_TRUE(p.allows_type(OrderType::market));
  EXPECT_TRUE(p.allows_type(OrderType::limit));
  EXPECT_TRUE(p.allows_type(OrderType::stop));
  EXPECT_FALSE(p.allows_type(OrderType::unset));
  EXPECT_FALSE(p.allows_type(static_cast<OrderType>(200)));
}

TEST_F(Permissions, AllowsOnlyTheListedOrderTypes) {
  spec_.order_types = {"limit", "STOP"};
  const PrincipalPolicy p = policy();
  EXPECT_FALSE(p.allows_type(OrderType::market));
  EXPECT_TRUE(p.allows_type(OrderType::limit));
  EXPECT_TRUE(p.allows_type(OrderType::stop));
}

TEST_F(Permissions, AcceptsASubmitThatPassesEveryCheck) {
  EXPECT_EQ(check_submit_permissions(policy(), order_), Reason::OK);
}

TEST_F(Permissions, DeniesSubmitWithoutTradePermission) {
  spec_.permissions = {"cancel", "read"};
  EXPECT_EQ(check_submit_permissions(policy(), order_), Reason::PERMISSION_DENIED);
}

TEST_F(Permissions, DeniesAnAccountOutsideTheAllowList) {
  order_.account_id = 2;
  EXPECT_EQ(check_submit_permissions(policy(), order_), Reason::ACCOUNT_NOT_PERMITTED);
}

TEST_F(Permissions, DeniesASymbolOutsideTheAllowList) {
  order_.instrument_id = 2;
  EXPECT_EQ(check_submit_permissions(policy(), order_), Reason::SYMBOL_NOT_PERMITTED);
}

TEST_F(Permissions, DeniesAnOrderTypeOutsideTheAllowList) {
  spec_.order_types = {"limit"};
  order_.type = OrderType::market;
  EXPECT_EQ(check_submit_permissions(policy(), order_), Reason::ORDER_TYPE_NOT_PERMITTED);
}

TEST_F(Permissions, AppliesThePrincipalsMaxQuantityInclusively) {
  spec_.max_quantity = decimal_literal("10000");
  EXPECT_EQ(check_submit_permissions(policy(), order_), Reason::OK);
  order_.quantity = decimal_literal("10001");
  EXPECT_EQ(check_submit_permissions(policy(), order_), Reason::MAX_QUANTITY_EXCEEDED);
}

TEST_F(Permissions, ReportsTheFirstFailingCheckInDocumentedOrder) {
  spec_.order_types = {"limit"};
  spec_.max_quantity = decimal_literal("1");
  order_.account_id = 2;
  order_.instrument_id = 2;
  order_.type = OrderType::market;
  EXPECT_EQ(check_submit_permissions(policy(), order_), Reason::ACCOUNT_NOT_PERMITTED);
  order_.account_id = 0;
  EXPECT_EQ(check_submit_permissions(policy(), order_), Reason::SYMBOL_NOT_PERMITTED);
  order_.instrument_id = 0;
  EXPECT_EQ(check_submit_permissions(policy(), order_), Reason::ORDER_TYPE_NOT_PERMITTED);
  order_.type = OrderType::limit;
  EXPECT_EQ(check_submit_permissions(policy(), order_), Reason::MAX_QUANTITY_EXCEEDED);
}

TEST_F(Permissions, CancelNeedsOnlyTheCancelPermission) {
  EXPECT_EQ(check_cancel_permissions(policy()), Reason::OK);
  spec_.permissions = {"trade"};
  EXPECT_EQ(check_cancel_permissions(policy()), Reason::PERMISSION_DENIED);
}

TEST_F(Permissions, DefaultPolicyAllowsNothing) {
  const PrincipalPolicy nothing;
  EXPECT_EQ(check_submit_permissions(nothing, order_), Reason::PERMISSION_DENIED);
  EXPECT_EQ(check_cancel_permissions(nothing), Reason::PERMISSION_DENIED);
  EXPECT_FALSE(nothing.allows_account(0));
  EXPECT_FALSE(nothing.allows_type(OrderType::limit));
}

TEST_F(Permissions, RefusesAMalformedPrincipalName) {
  spec_.name = "bot 1";
  EXPECT_NE(construction_error().find("name"), std::string::npos);
  spec_.name = "";
  EXPECT_NE(construction_error(), "");
  spec_.name = std::string(33, 'b');
  EXPECT_NE(construction_error(), "");
}

TEST_F(Permissions, RefusesAnUnknownPermissionNamingIt) {
  spec_.permissions = {"trade", "withdraw"};
  const std::string error = construction_error();
  EXPECT_NE(error.find("bot-1"), std::string::npos) << error;
  EXPECT_NE(error.find("withdraw"), std::string::npos) << error;
}

TEST_F(Permissions, RefusesAnUnknownOrderTypeNamingIt) {
  spec_.order_types = {"limit", "iceberg"};
  const std::string error = construction_error();
  EXPECT_NE(error.find("iceberg"), std::string::npos) << error;
  spec_.order_types = {"unset"};
  EXPECT_NE(construction_error().find("unset"), std::string::npos);
}

TEST_F(Permissions, RefusesPatternsThatMatchNothingBecauseTheyAreTypos) {
  spec_.accounts = {"fx-main", "fx-mian"};
  std::string error = construction_error();
  EXPECT_NE(error.find("fx-mian"), std::string::npos) << error;
  spec_.accounts = {"fx-*"};
  spec_.symbols = {"EUR/USD", "eurusd"};
  error = construction_error();
  EXPECT_NE(error.find("eurusd"), std::string::npos) << error;
  spec_.symbols = {""};
  EXPECT_NE(construction_error(), "");
}

TEST_F(Permissions, RefusesANonPositiveMaxQuantity) {
  spec_.max_quantity = Decimal{};
  EXPECT_NE(construction_error().find("max_quantity"), std::string::npos);
  spec_.max_quantity = decimal_literal("-5");
  EXPECT_NE(construction_error().find("max_quantity"), std::string::npos);
}

TEST_F(Permissions, EmptyAllowListsAllowNothingButAreNotAnError) {
  spec_.accounts.clear();
  spec_.symbols.clear();
  const PrincipalPolicy p = policy();
  EXPECT_EQ(check_submit_permissions(p, order_), Reason::ACCOUNT_NOT_PERMITTED);
}

}  // namespace
}  // namespace ordergate::guards
