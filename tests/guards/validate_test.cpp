#include "ordergate/guards/validate.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ordergate/core/clock.hpp"

namespace ordergate::guards {
namespace {

using Texts = std::initializer_list<std::string_view>;

constexpr std::int64_t kWallNow = 1'700'000'000'000'000'000;

InstrumentSpec instrument_spec(std::string name, const char* tick, const char* lot, const char* max) {
  InstrumentSpec spec;
  spec.name = std::move(name);
  spec.tick_size = decimal_literal(tick);
  spec.lot_step = decimal_literal(lot);
  spec.min_quantity = decimal_literal(lot);
  spec.max_quantity = decimal_literal(max);
  spec.max_order_quantity = decimal_literal(max);
  spec.max_notional = decimal_literal("100000000");
  spec.max_position = decimal_literal(max);
  spec.price_band_bps = 500;
  spec.max_open_orders = 10;
  spec.max_quote_age_ns = kNanosPerSecond;
  return spec;
}

class ValidateOrder : public ::testing::Test {
 protected:
  ValidateOrder()
      : accounts_({{"alpha", "paper"}, {"beta.fx", "paper"}}),
        instruments_({instrument_spec("EUR/USD", "0.00001", "1000", "10000000"),
                      instrument_spec("BTC/USDT", "0.01", "0.0001", "100")}) {
    request_.account = "alpha";
    request_.symbol = "EUR/USD";
    request_.side = Side::buy;
    request_.type = OrderType::limit;
    request_.time_in_force = TimeInForce::gtc;
    request_.quantity = decimal_literal("10000");
    request_.price = decimal_literal("1.08460");
    request_.client_order_id = "c-1";
  }

  Reason validate() { return validate_order(request_, accounts_, instruments_, kWallNow, order_); }

  AccountTable accounts_;
  InstrumentTable instruments_;
  OrderRequest request_;
  Order order_;
};

SymbolKey key_of(std::string_view raw) {
  SymbolKey key;
  EXPECT_EQ(canonical_symbol_key(raw, key), Reason::OK) << raw;
  return key;
}

// --- symbols ---------------------------------------------------------------

TEST(CanonicalSymbol, AcceptsTheSpellingsBotsUse) {
  for (std::string_view raw : Texts{"EURUSD", "EUR/USD", "EUR_USD", "EUR-USD", "eurusd", "EurUsd",
                                     "EURUSD=X", "eurusd=x", "EUR/USD=X"}) {
    EXPECT_EQ(key_of(raw).view(), "EURUSD") << raw;
  }
  EXPECT_EQ(key_of("BTCUSDT").view(), "BTCUSDT");
  EXPECT_EQ(key_of("BTC/USDT").view(), "BTCUSDT");
  EXPECT_EQ(key_of("btc-usdt").view(), "BTCUSDT");
  EXPECT_EQ(key_of("ETH2/USD").view(), "ETH2USD");
}

TEST(CanonicalSymbol, AcceptsThreeToSixteenLettersAndDigits) {
  EXPECT_EQ(key_of("ABC").view(), "ABC");
  EXPECT_EQ(key_of("ABCDEFGH/IJKLMNOP").view(), "ABCDEFGHIJKLMNOP");
  EXPECT_EQ(key_of("ABCDEFGHIJKLMNOP=X").view(), "ABCDEFGHIJKLMNOP");
}

TEST(CanonicalSymbol, RejectsMalformedAndAdversarialText) {
  const std::string too_long(kMaxRawSymbolLength + 1, 'A');
  const std::string seventeen(17, 'A');
  for (std::string_view raw :
       Texts{std::string_view(""), std::string_view(too_long), std::string_view(seventeen), "EU", "E/U",
        "EUR/USD/JPY", "EUR//USD", "EUR/_USD", "/EURUSD", "EURUSD/", "-EURUSD", "EUR USD", " EURUSD",
        "EURUSD ", "EURUSD\n", "=X", "=x", "X=X", "EURUSD=", "EURUSD=Y", "EURUSD=XX", "EURUSD=X=X",
        "EUR/=X", "1EURUSD", "1INCH/USDT", "EUR.USD", "EUR:USD", "EUR*", "*", "EUR\xC3\x9CSD",
        "\xEF\xBC\xA5URUSD", "EUR\x80USD", std::string_view("EUR\0USD", 7), std::string_view("\0", 1)}) {
    SymbolKey key;
    EXPECT_EQ(canonical_symbol_key(raw, key), Reason::INVALID_SYMBOL) << '"' << raw << '"';
  }
}

// --- client order ids and text ---------------------------------------------

TEST(ClientOrderId, AcceptsOneToThirtyTwoSafeCharacters) {
  for (std::string_view id :
       Texts{"a", "c-1", "strat.A:2024-01-01_0001", "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"}) {
    EXPECT_EQ(validate_client_order_id(id), Reason::OK) << id;
  }
}

TEST(ClientOrderId, RejectsEmptyOverlongAndUnsafeIds) {
  const std::string overlong(kMaxClientOrderIdLength + 1, 'a');
  for (std::string_view id : Texts{std::string_view(""), std::string_view(overlong), "a b", "a/b", "a\"b",
                              "a\\b", "a{b}", "id\n", "caf\xC3\xA9", std::string_view("a\0b", 3)}) {
    EXPECT_EQ(validate_client_order_id(id), Reason::INVALID_CLIENT_ORDER_ID) << id;
  }
}

// The check reads an id in wide pieces that overlap; every byte value at
// every position of every length must still be judged on its own. The id is
// copied into a buffer of exactly its length, so AddressSanitizer sees any
// read past its end.
TEST(ClientOrderId, JudgesEveryByteValueAtEveryPositionOfEveryLength) {
  const auto allowed = [](unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
  };
  int allowed_bytes = 0;
  for (int byte = 0; byte < 256; ++byte) allowed_bytes += allowed(static_cast<unsigned char>(byte)) ? 1 : 0;
  ASSERT_EQ(allowed_bytes, 66);  // 52 letters, 10 digits and . _ : -

  int mismatches = 0;
  for (std::size_t length = 1; length <= kMaxClientOrderIdLength; ++length) {
    for (std::size_t position = 0; position < length; ++position) {
      for (int byte = 0; byte < 256; ++byte) {
        const auto exact = std::make_unique<char[]>(length);
        std::fill_n(exact.get(), length, 'k');
        exact[position] = static_cast<char>(byte);
        const Reason expected =
            allowed(static_cast<unsigned char>(byte)) ? Reason::OK : Reason::INVALID_CLIENT_ORDER_ID;
        if (validate_client_order_id(std::string_view(exact.get(), length)) != expected) {
          ADD_FAILURE() << "length " << length << ", byte 0x" << std::hex << byte << std::dec << " at "
                        << position;
          if (++mismatches == 10) return;
        }
      }
    }
  }
}

TEST(SanitizeText, TrimsAsciiWhitespaceAtBothEnds) {
  OrderText out;
  ASSERT_EQ(sanitize_text(" \t\r\n\v\fscalp #3 (tp 1.09)\f\v\n\r\t ", out), Reason::OK);
  EXPECT_EQ(out.view(), "scalp #3 (tp 1.09)");
}

TEST(SanitizeText, AcceptsEmptyAndAllWhitespaceTextAsEmpty) {
  OrderText out;
  ASSERT_TRUE(out.assign("stale"));
  EXPECT_EQ(sanitize_text("", out), Reason::OK);
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(out.assign("stale"));
  EXPECT_EQ(sanitize_text(" \t \n ", out), Reason::OK);
  EXPECT_TRUE(out.empty());
}

TEST(SanitizeText, AcceptsExactlySixtyFourBytesAfterTrimming) {
  OrderText out;
  const std::string full(kMaxTextLength, '~');
  ASSERT_EQ(sanitize_text("  " + full + "  ", out), Reason::OK);
  EXPECT_EQ(out.view(), full);
  EXPECT_EQ(sanitize_text(full + "!", out), Reason::INVALID_TEXT);
  EXPECT_TRUE(out.empty());
}

TEST(SanitizeText, RejectsControlCharactersNulAndNonAscii) {
  for (std::string_view text : Texts{"line1\nline2", "tab\there", "bell\a", "del\x7F", "esc\x1B[31m",
                                "caf\xC3\xA9", "\xFF", std::string_view("nul\0byte", 8)}) {
    OrderText out;
    EXPECT_EQ(sanitize_text(text, out), Reason::INVALID_TEXT) << text;
  }
}

// --- whole orders ----------------------------------------------------------

TEST_F(ValidateOrder, AcceptsAWellFormedLimitOrderAndFillsTheOrder) {
  request_.symbol = "eurusd=x";
  request_.account = "beta.fx";
  request_.stop_loss = decimal_literal("1.08000");
  request_.take_profit = decimal_literal("1.09000");
  request_.text = "  momentum  ";
  order_.order_id = 77;
  order_.principal_id = 3;
  ASSERT_EQ(validate(), Reason::OK);
  EXPECT_EQ(order_.account_id, 1);
  EXPECT_EQ(order_.instrument_id, 0);
  EXPECT_EQ(order_.side, Side::buy);
  EXPECT_EQ(order_.type, OrderType::limit);
  EXPECT_EQ(order_.time_in_force, TimeInForce::gtc);
  EXPECT_EQ(order_.quantity, decimal_literal("10000"));
  EXPECT_EQ(order_.price, decimal_literal("1.0846"));
  EXPECT_TRUE(order_.stop_price.is_zero());
  EXPECT_EQ(order_.stop_loss, decimal_literal("1.08"));
  EXPECT_EQ(order_.take_profit, decimal_literal("1.09"));
  EXPECT_EQ(order_.client_order_id.view(), "c-1");
  EXPECT_EQ(order_.text.view(), "momentum");
  EXPECT_EQ(order_.order_id, 77u);  // not validation's business
  EXPECT_EQ(order_.principal_id, 3);
}

TEST_F(ValidateOrder, AcceptsMarketAndStopOrdersWithTheirOwnPriceFields) {
  request_.type = OrderType::market;
  request_.time_in_force = TimeInForce::ioc;
  request_.price.reset();
  request_.stop_loss = decimal_literal("1.05");
  request_.take_profit = decimal_literal("1.10");
  ASSERT_EQ(validate(), Reason::OK);
  EXPECT_TRUE(order_.price.is_zero());

  request_ = OrderRequest{};
  request_.account = "alpha";
  request_.symbol = "BTC/USDT";
  request_.side = Side::sell;
  request_.type = OrderType::stop;
  request_.time_in_force = TimeInForce::day;
  request_.quantity = decimal_literal("0.0125");
  request_.stop_price = decimal_literal("41999.50");
  request_.client_order_id = "s:1";
  ASSERT_EQ(validate(), Reason::OK);
  EXPECT_EQ(order_.instrument_id, 1);
  EXPECT_EQ(order_.stop_price, decimal_literal("41999.5"));
  EXPECT_TRUE(order_.price.is_zero());
}

TEST_F(ValidateOrder, LeavesTheOrderUntouchedWhenRejected) {
  request_.text = "bad\x01";
  order_.quantity = decimal_literal("1");
  ASSERT_TRUE(order_.client_order_id.assign("previous"));
  ASSERT_EQ(validate(), Reason::INVALID_TEXT);
  EXPECT_EQ(order_.quantity, decimal_literal("1"));
  EXPECT_EQ(order_.client_order_id.view(), "previous");
  EXPECT_EQ(order_.side, Side::unset);
}

TEST_F(ValidateOrder, RejectsMalformedAccountBeforeLookingItUp) {
  request_.account = "alpha beta";
  EXPECT_EQ(validate(), Reason::INVALID_ACCOUNT);
  request_.account = "";
  EXPECT_EQ(validate(), Reason::INVALID_ACCOUNT);
  request_.account = "gamma";
  EXPECT_EQ(validate(), Reason::UNKNOWN_ACCOUNT);
  request_.account = "ALPHA";
  EXPECT_EQ(validate(), Reason::UNKNOWN_ACCOUNT);
}

TEST_F(ValidateOrder, RejectsMalformedAndUnconfiguredSymbols) {
  request_.symbol = "EUR/USD/";
  EXPECT_EQ(validate(), Reason::INVALID_SYMBOL);
  request_.symbol = "GBP/USD";
  EXPECT_EQ(validate(), Reason::UNKNOWN_INSTRUMENT);
  request_.symbol = "EURUS";  // a prefix of a configured key is not that key
  EXPECT_EQ(validate(), Reason::UNKNOWN_INSTRUMENT);
}

TEST_F(ValidateOrder, ChecksAccountBeforeSymbolBeforeSide) {
  request_.account = "nobody";
  request_.symbol = "???";
  request_.side = Side::unset;
  EXPECT_EQ(validate(), Reason::UNKNOWN_ACCOUNT);
  request_.account = "alpha";
  EXPECT_EQ(validate(), Reason::INVALID_SYMBOL);
  request_.symbol = "EURUSD";
  EXPECT_EQ(validate(), Reason::INVALID_SIDE);
}

TEST_F(ValidateOrder, RejectsUnsetAndOutOfRangeSidesAndTypes) {
  request_.side = Side::unset;
  EXPECT_EQ(validate(), Reason::INVALID_SIDE);
  request_.side = static_cast<Side>(3);
  EXPECT_EQ(validate(), Reason::INVALID_SIDE);
  request_.side = Side::sell;
  request_.type = OrderType::unset;
  EXPECT_EQ(validate(), Reason::INVALID_ORDER_TYPE);
  request_.type = static_cast<OrderType>(4);
  EXPECT_EQ(validate(), Reason::INVALID_ORDER_TYPE);
}

TEST_F(ValidateOrder, AllowsOnlyTheTimeInForceThatFitsTheOrderType) {
  struct Case {
    OrderType type;
    TimeInForce tif;
    bool allowed;
  };
  const Case cases[] = {
      {OrderType::market, TimeInForce::ioc, true},  {OrderType::market, TimeInForce::fok, true},
      {OrderType::market, TimeInForce::gtc, false}, {OrderType::market, TimeInForce::day, false},
      {OrderType::market, TimeInForce::gtd, false}, {OrderType::limit, TimeInForce::gtc, true},
      {OrderType::limit, TimeInForce::ioc, true},   {OrderType::limit, TimeInForce::fok, true},
      {OrderType::limit, TimeInForce::day, true},   {OrderType::limit, TimeInForce::gtd, true},
      {OrderType::stop, TimeInForce::gtc, true},    {OrderType::stop, TimeInForce::day, true},
      {OrderType::stop, TimeInForce::gtd, true},    {OrderType::stop, TimeInForce::ioc, false},
      {OrderType::stop, TimeInForce::fok, false},   {OrderType::limit, TimeInForce::unset, false},
      {OrderType::limit, static_cast<TimeInForce>(9), false},
  };
  for (const Case& c : cases) {
    request_.type = c.type;
    request_.time_in_force = c.tif;
    request_.price.reset();
    request_.stop_price.reset();
    if (c.type == OrderType::limit) request_.price = decimal_literal("1.0846");
    if (c.type == OrderType::stop) request_.stop_price = decimal_literal("1.0900");
    request_.expire_time_ns = c.tif == TimeInForce::gtd ? kWallNow + kNanosPerSecond : 0;
    EXPECT_EQ(validate(), c.allowed ? Reason::OK : Reason::INVALID_TIME_IN_FORCE)
        << to_string(c.type) << "/" << to_string(c.tif);
  }
}

TEST_F(ValidateOrder, RequiresAFutureExpiryForGtdAndNoExpiryOtherwise) {
  request_.time_in_force = TimeInForce::gtd;
  request_.expire_time_ns = 0;
  EXPECT_EQ(validate(), Reason::INVALID_TIME_IN_FORCE);
  request_.expire_time_ns = kWallNow;
  EXPECT_EQ(validate(), Reason::INVALID_TIME_IN_FORCE);
  request_.expire_time_ns = -1;
  EXPECT_EQ(validate(), Reason::INVALID_TIME_IN_FORCE);
  request_.expire_time_ns = kWallNow + 1;
  EXPECT_EQ(validate(), Reason::OK);
  EXPECT_EQ(order_.expire_time_ns, kWallNow + 1);
  request_.time_in_force = TimeInForce::day;
  EXPECT_EQ(validate(), Reason::INVALID_TIME_IN_FORCE);
}

TEST_F(ValidateOrder, RejectsOverPreciseQuantityBeforeCheckingTheGrid) {
  request_.quantity = decimal_literal("10000.5");
  EXPECT_EQ(validate(), Reason::QUANTITY_PRECISION_EXCEEDED);
  request_.symbol = "BTCUSDT";
  request_.price = decimal_literal("42000");
  request_.quantity = decimal_literal("0.00011");
  EXPECT_EQ(validate(), Reason::QUANTITY_PRECISION_EXCEEDED);
  request_.quantity = decimal_literal("-0.00001");
  EXPECT_EQ(validate(), Reason::QUANTITY_PRECISION_EXCEEDED);
}

TEST_F(ValidateOrder, RejectsNonPositiveOffGridAndOutOfRangeQuantities) {
  for (const char* quantity : {"0", "-1000", "1500", "999", "0.000", "10001000"}) {
    request_.quantity = decimal_literal(quantity);
    EXPECT_EQ(validate(), Reason::INVALID_QUANTITY) << quantity;
  }
  for (const char* quantity : {"1000", "10000000"}) {
    request_.quantity = decimal_literal(quantity);
    EXPECT_EQ(validate(), Reason::OK) << quantity;
  }
}

TEST_F(ValidateOrder, RejectsOverPrecisePricesInEveryPriceField) {
  request_.price = decimal_literal("1.084601");
  EXPECT_EQ(validate(), Reason::PRICE_PRECISION_EXCEEDED);
  request_.price = decimal_literal("1.0846");
  request_.stop_loss = decimal_literal("1.000001");
  EXPECT_EQ(validate(), Reason::PRICE_PRECISION_EXCEEDED);
  request_.stop_loss.reset();
  request_.take_profit = decimal_literal("2.000000001");
  EXPECT_EQ(validate(), Reason::PRICE_PRECISION_EXCEEDED);
  // Over-precision is reported even where the field is not allowed at all.
  request_.take_profit.reset();
  request_.stop_price = decimal_literal("1.0000001");
  EXPECT_EQ(validate(), Reason::PRICE_PRECISION_EXCEEDED);
}

TEST_F(ValidateOrder, RejectsNonPositiveAndOffTickPrices) {
  request_.symbol = "BTC/USDT";
  request_.quantity = decimal_literal("1");
  for (const char* price : {"0", "-42000", "-0.01"}) {
    request_.price = decimal_literal(price);
    EXPECT_EQ(validate(), Reason::INVALID_PRICE) << price;
  }
  request_.price = decimal_literal("42000.01");
  EXPECT_EQ(validate(), Reason::OK);
}

TEST_F(ValidateOrder, RejectsPricesOffATickCoarserThanTheirDigits) {
  instruments_ = InstrumentTable({instrument_spec("USD/JPY", "0.005", "1", "1000000")});
  request_.symbol = "USDJPY";
  request_.quantity = decimal_literal("100");
  request_.price = decimal_literal("151.005");
  EXPECT_EQ(validate(), Reason::OK);
  request_.price = decimal_literal("151.003");
  EXPECT_EQ(validate(), Reason::INVALID_PRICE);
}

TEST_F(ValidateOrder, RequiresExactlyThePriceFieldsOfTheOrderType) {
  request_.price.reset();
  EXPECT_EQ(validate(), Reason::INVALID_PRICE);  // limit without price
  request_.price = decimal_literal("1.0846");
  request_.stop_price = decimal_literal("1.0900");
  EXPECT_EQ(validate(), Reason::INVALID_PRICE);  // limit with stop price

  request_.type = OrderType::market;
  request_.time_in_force = TimeInForce::ioc;
  request_.stop_price.reset();
  EXPECT_EQ(validate(), Reason::INVALID_PRICE);  // market with price
  request_.price.reset();
  request_.stop_price = decimal_literal("1.0900");
  EXPECT_EQ(validate(), Reason::INVALID_PRICE);  // market with stop price

  request_.type = OrderType::stop;
  request_.time_in_force = TimeInForce::gtc;
  request_.stop_price.reset();
  EXPECT_EQ(validate(), Reason::INVALID_PRICE);  // stop without stop price
  request_.stop_price = decimal_literal("1.0900");
  request_.price = decimal_literal("1.0910");
  EXPECT_EQ(validate(), Reason::INVALID_PRICE);  // stop with a limit price
  request_.price.reset();
  EXPECT_EQ(validate(), Reason::OK);
}

TEST_F(ValidateOrder, PlacesProtectiveOrdersOnTheRightSideOfTheEntryForABuy) {
  request_.stop_loss = decimal_literal("1.0846");  // at the entry: protects nothing
  EXPECT_EQ(validate(), Reason::INVALID_PRICE);
  request_.stop_loss = decimal_literal("1.0900");
  EXPECT_EQ(validate(), Reason::INVALID_PRICE);
  request_.stop_loss = decimal_literal("1.0800");
  EXPECT_EQ(validate(), Reason::OK);
  request_.take_profit = decimal_literal("1.0800");
  EXPECT_EQ(validate(), Reason::INVALID_PRICE);
  request_.take_profit = decimal_literal("1.0846");
  EXPECT_EQ(validate(), Reason::INVALID_PRICE);
  request_.take_profit = decimal_literal("1.0900");
  EXPECT_EQ(validate(), Reason::OK);
}

TEST_F(ValidateOrder, PlacesProtectiveOrdersOnTheRightSideOfTheEntryForASell) {
  request_.side = Side::sell;
  request_.type = OrderType::stop;
  request_.price.reset();
  request_.stop_price = decimal_literal("1.0800");
  request_.stop_loss = decimal_literal("1.0790");
  EXPECT_EQ(validate(), Reason::INVALID_PRICE);
  request_.stop_loss = decimal_literal("1.0850");
  request_.take_profit = decimal_literal("1.0850");
  EXPECT_EQ(validate(), Reason::INVALID_PRICE);
  request_.take_profit = decimal_literal("1.0700");
  EXPECT_EQ(validate(), Reason::OK);
}

TEST_F(ValidateOrder, KeepsMarketStopLossAndTakeProfitApart) {
  request_.type = OrderType::market;
  request_.time_in_force = TimeInForce::fok;
  request_.price.reset();
  request_.stop_loss = decimal_literal("1.10");
  request_.take_profit = decimal_literal("1.05");
  EXPECT_EQ(validate(), Reason::INVALID_PRICE);
  request_.side = Side::sell;
  EXPECT_EQ(validate(), Reason::OK);
  request_.take_profit.reset();  // alone, either is fine: there is no entry to compare with
  request_.side = Side::buy;
  EXPECT_EQ(validate(), Reason::OK);
}

TEST_F(ValidateOrder, RejectsBadClientOrderIdAndTextLast) {
  request_.client_order_id = "";
  EXPECT_EQ(validate(), Reason::INVALID_CLIENT_ORDER_ID);
  request_.client_order_id = "has space";
  EXPECT_EQ(validate(), Reason::INVALID_CLIENT_ORDER_ID);
  request_.client_order_id = "ok-1";
  request_.text = "\xE2\x82\xAC sign";
  EXPECT_EQ(validate(), Reason::INVALID_TEXT);
  request_.text = std::string_view("x\0y", 3);
  EXPECT_EQ(validate(), Reason::INVALID_TEXT);
  // With both broken, the client order id is reported.
  request_.client_order_id = "";
  EXPECT_EQ(validate(), Reason::INVALID_CLIENT_ORDER_ID);
}

// The usual spellings are found by exact lookup and the rest through
// canonicalisation; both must name the same instrument, and only
// spellings canonicalisation accepts may be found at all.
TEST_F(ValidateOrder, EverySpellingOfAnInstrumentNamesItWhicheverWayItIsFound) {
  struct Case {
    std::string_view symbol;
    InstrumentId instrument;
    bool exact;  // found without canonicalising
  };
  for (const Case& c : {Case{"EUR/USD", 0, true}, Case{"EUR_USD", 0, true}, Case{"EUR-USD", 0, true},
                        Case{"EURUSD", 0, true}, Case{"eur/usd", 0, false}, Case{"EurUsd", 0, false},
                        Case{"EURUSD=X", 0, false}, Case{"eur_usd=x", 0, false}, Case{"BTC/USDT", 1, true},
                        Case{"BTCUSDT", 1, true}, Case{"btc-usdt", 1, false}}) {
    EXPECT_EQ(instruments_.find_spelling(c.symbol) != nullptr, c.exact) << c.symbol;
    request_.symbol = c.symbol;
    request_.quantity = decimal_literal(c.instrument == 0 ? "10000" : "0.5");
    request_.price = decimal_literal(c.instrument == 0 ? "1.08460" : "64000.01");
    order_ = Order{};
    ASSERT_EQ(validate(), Reason::OK) << c.symbol;
    EXPECT_EQ(order_.instrument_id, c.instrument) << c.symbol;
    EXPECT_EQ(key_of(c.symbol), instruments_[c.instrument].key) << c.symbol;
  }
  for (std::string_view symbol :
       Texts{std::string_view("EUR/USD\0", 8), "EUR//USD", "EUR/USD ", "/EURUSD", "EUR.USD"}) {
    EXPECT_EQ(instruments_.find_spelling(symbol), nullptr) << symbol;
    request_.symbol = symbol;
    EXPECT_EQ(validate(), Reason::INVALID_SYMBOL) << symbol;
  }
}

TEST_F(ValidateOrder, AnOrderWithoutTextHasNoneWhateverTheOrderHeldBefore) {
  request_.text = "  momentum  ";
  ASSERT_EQ(validate(), Reason::OK);
  EXPECT_EQ(order_.text.view(), "momentum");
  request_.text = {};
  ASSERT_EQ(validate(), Reason::OK);
  EXPECT_EQ(order_.text.view(), "");
}

}  // namespace
}  // namespace ordergate::guards
