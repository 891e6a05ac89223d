#include "ordergate/core/instrument.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace ordergate {
namespace {

InstrumentSpec eurusd_spec() {
  InstrumentSpec spec;
  spec.name = "EUR/USD";
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

InstrumentSpec btcusdt_spec() {
  InstrumentSpec spec = eurusd_spec();
  spec.name = "BTC/USDT";
  spec.tick_size = decimal_literal("0.01");
  spec.lot_step = decimal_literal("0.0001");
  spec.min_quantity = decimal_literal("0.0001");
  spec.max_quantity = decimal_literal("100");
  spec.max_order_quantity = decimal_literal("10");
  return spec;
}

std::string construction_error(const std::vector<InstrumentSpec>& specs) {
  try {
    InstrumentTable table(specs);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "";
}

TEST(InstrumentTable, BuildsInstrumentsWithIdsKeysAndDigits) {
  const InstrumentTable table({eurusd_spec(), btcusdt_spec()});
  ASSERT_EQ(table.size(), 2u);
  const Instrument& eurusd = table[0];
  EXPECT_EQ(eurusd.id, 0);
  EXPECT_EQ(eurusd.name.view(), "EUR/USD");
  EXPECT_EQ(eurusd.key.view(), "EURUSD");
  EXPECT_EQ(eurusd.base.view(), "EUR");
  EXPECT_EQ(eurusd.quote.view(), "USD");
  EXPECT_EQ(eurusd.price_digits, 5);
  EXPECT_EQ(eurusd.quantity_digits, 0);
  const Instrument& btcusdt = table[1];
  EXPECT_EQ(btcusdt.id, 1);
  EXPECT_EQ(btcusdt.key.view(), "BTCUSDT");
  EXPECT_EQ(btcusdt.price_digits, 2);
  EXPECT_EQ(btcusdt.quantity_digits, 4);
  EXPECT_EQ(btcusdt.max_order_quantity, decimal_literal("10"));
}

TEST(InstrumentTable, FindsByCompactKeyAndByCanonicalName) {
  const InstrumentTable table({eurusd_spec(), btcusdt_spec()});
  SymbolKey key;
  ASSERT_TRUE(key.assign("BTCUSDT"));
  const Instrument* found = table.find(key);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->id, 1);
  ASSERT_NE(table.find_name("EUR/USD"), nullptr);
  EXPECT_EQ(table.find_name("EUR/USD")->id, 0);
  ASSERT_TRUE(key.assign("GBPUSD"));
  EXPECT_EQ(table.find(key), nullptr);
  ASSERT_TRUE(key.assign("eurusd"));
  EXPECT_EQ(table.find(key), nullptr);
  EXPECT_EQ(table.find_name("EURUSD"), nullptr);
}

TEST(InstrumentTable, FindsEveryInstrumentOfALargeTable) {
  std::vector<InstrumentSpec> specs;
  for (int i = 0; i < 200; ++i) {
    InstrumentSpec spec = eurusd_spec();
    spec.name = "A000/USD";
    spec.name[1] = static_cast<char>('0' + i / 100);
    spec.name[2] = static_cast<char>('0' + i / 10 % 10);
    spec.name[3] = static_cast<char>('0' + i % 10);
    specs.push_back(spec);
  }
  const InstrumentTable table(specs);
  for (const Instrument& instrument : table.all()) {
    const Instrument* found = table.find(instrument.key);
    ASSERT_NE(found, nullptr) << instrument.key.view();
    EXPECT_EQ(found->id, instrument.id);
  }
}

TEST(InstrumentTable, EmptyTableFindsNothing) {
  const InstrumentTable table;
  SymbolKey key;
  ASSERT_TRUE(key.assign("EURUSD"));
  EXPECT_EQ(table.find(key), nullptr);
  EXPECT_EQ(table.find_name("EUR/USD"), nullptr);
}

TEST(InstrumentTable, RefusesMalformedNamesNamingTheInstrument) {
  for (const char* name : {"EURUSD", "eur/usd", "EUR/", "/USD", "EU/R/USD", "E/U", "EUR /USD",
                           "ABCDEFGHI/USD", "EUR/USD-X"}) {
    InstrumentSpec spec = eurusd_spec();
    spec.name = name;
    const std::string error = construction_error({spec});
    EXPECT_NE(error.find(name), std::string::npos) << name << ": " << error;
  }
}

TEST(InstrumentTable, RefusesMissingOrInconsistentLimitsNamingTheField) {
  struct Case {
    void (*mutate)(InstrumentSpec&);
    const char* field;
  };
  const Case cases[] = {
      {[](InstrumentSpec& s) { s.tick_size = Decimal{}; }, "tick_size"},
      {[](InstrumentSpec& s) { s.lot_step = decimal_literal("-1"); }, "lot_step"},
      {[](InstrumentSpec& s) { s.min_quantity = Decimal{}; }, "min_quantity"},
      {[](InstrumentSpec& s) { s.max_order_quantity = Decimal{}; }, "max_order_quantity"},
      {[](InstrumentSpec& s) { s.max_notional = Decimal{}; }, "max_notional"},
      {[](InstrumentSpec& s) { s.max_position = Decimal{}; }, "max_position"},
      {[](InstrumentSpec& s) { s.min_quantity = decimal_literal("20000000"); }, "min_quantity"},
      {[](InstrumentSpec& s) { s.min_quantity = decimal_literal("1.5"); }, "lot_step"},
      {[](InstrumentSpec& s) { s.price_band_bps = 0; }, "price_band_bps"},
      {[](InstrumentSpec& s) { s.price_band_bps = 10'001; }, "price_band_bps"},
      {[](InstrumentSpec& s) { s.max_open_orders = 0; }, "max_open_orders"},
      {[](InstrumentSpec& s) { s.max_quote_age_ns = 0; }, "max_quote_age"},
      {[](InstrumentSpec& s) { s.max_order_quantity = decimal_literal("60000000"); }, "max_order_quantity"},
  };
  for (const Case& c : cases) {
    InstrumentSpec spec = eurusd_spec();
    c.mutate(spec);
    const std::string error = construction_error({spec});
    EXPECT_NE(error.find("EUR/USD"), std::string::npos) << error;
    EXPECT_NE(error.find(c.field), std::string::npos) << c.field << ": " << error;
  }
}

TEST(InstrumentTable, RefusesANameThatStartsWithADigitBecauseNoSymbolCouldReachIt) {
  InstrumentSpec spec = eurusd_spec();
  spec.name = "1INCH/USDT";
  EXPECT_NE(construction_error({spec}).find("1INCH/USDT"), std::string::npos);
}

TEST(InstrumentTable, RefusesTwoInstrumentsWithTheSameCompactKey) {
  InstrumentSpec ambiguous = eurusd_spec();
  ambiguous.name = "EURU/SD";
  EXPECT_NE(construction_error({eurusd_spec(), eurusd_spec()}).find("twice"), std::string::npos);
  EXPECT_NE(construction_error({eurusd_spec(), ambiguous}).find("twice"), std::string::npos);
}

TEST(AccountTable, FindsAccountsByExactName) {
  const AccountTable table({{"alpha", "paper"}, {"beta.fx-2_x", "oanda"}});
  ASSERT_EQ(table.size(), 2u);
  const Account* beta = table.find("beta.fx-2_x");
  ASSERT_NE(beta, nullptr);
  EXPECT_EQ(beta->id, 1);
  EXPECT_EQ(beta->broker.view(), "oanda");
  EXPECT_EQ(table[0].name.view(), "alpha");
  EXPECT_EQ(table.find("ALPHA"), nullptr);
  EXPECT_EQ(table.find("alph"), nullptr);
  EXPECT_EQ(table.find(""), nullptr);
}

TEST(AccountTable, RefusesMalformedDuplicateOrBrokerlessAccounts) {
  using Specs = std::vector<AccountSpec>;
  EXPECT_THROW(AccountTable(Specs{{"bad name", "paper"}}), std::invalid_argument);
  EXPECT_THROW(AccountTable(Specs{{"", "paper"}}), std::invalid_argument);
  EXPECT_THROW(AccountTable(Specs{{"alpha", "paper"}, {"alpha", "oanda"}}), std::invalid_argument);
  EXPECT_THROW(AccountTable(Specs{{"alpha", ""}}), std::invalid_argument);
  EXPECT_THROW(AccountTable(Specs{{"alpha", "a-broker-name-longer-than-16"}}), std::invalid_argument);
}

TEST(AccountName, AcceptsOneToThirtyTwoSafeCharacters) {
  EXPECT_TRUE(is_valid_account_name("a"));
  EXPECT_TRUE(is_valid_account_name("Desk-1.fx_main"));
  EXPECT_TRUE(is_valid_account_name(std::string(32, 'x')));
  EXPECT_FALSE(is_valid_account_name(std::string(33, 'x')));
  EXPECT_FALSE(is_valid_account_name(""));
  for (std::string_view bad : {"a b", "a/b", "a*", "a\n", "caf\xc3\xa9", "a:b"}) {
    EXPECT_FALSE(is_valid_account_name(bad)) << bad;
  }
  EXPECT_FALSE(is_valid_account_name(std::string_view("a\0b", 3)));
}

}  // namespace
}  // namespace ordergate
