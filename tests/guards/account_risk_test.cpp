// Account-wide notional limits: conversion paths resolved at start, the
// worst-case gross and net figures across instruments quoted in different
// currencies, failing closed on a missing quote, and staying exact when
// several threads book orders of one account at once.

#include "ordergate/guards/account_risk.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "ordergate/core/clock.hpp"

namespace ordergate::guards {
namespace {

constexpr std::int64_t kNow = 50 * kNanosPerSecond;
constexpr int128 kAtto = int128{1'000'000'000} * 1'000'000'000;  // 1e-18 units per unit

InstrumentSpec spec(const char* name, const char* tick) {
  InstrumentSpec spec;
  spec.name = name;
  spec.tick_size = decimal_literal(tick);
  spec.lot_step = decimal_literal("1");
  spec.min_quantity = decimal_literal("1");
  spec.max_quantity = decimal_literal("10000000");
  spec.max_order_quantity = decimal_literal("1000000");
  spec.max_notional = decimal_literal("1000000000");
  spec.max_position = decimal_literal("5000000");
  spec.price_band_bps = 500;
  spec.max_open_orders = 1000;
  spec.max_quote_age_ns = kNanosPerSecond;
  return spec;
}

AccountSpec usd_account(const char* name, const char* gross, const char* net) {
  AccountSpec account{name, "paper"};
  account.currency = "USD";
  if (gross != nullptr) account.max_gross_notional = decimal_literal(gross);
  if (net != nullptr) account.max_net_notional = decimal_literal(net);
  return account;
}

class AccountRisk : public ::testing::Test {
 protected:
  AccountRisk()
      : instruments_({spec("EUR/USD", "0.00001"), spec("USD/JPY", "0.001"), spec("EUR/JPY", "0.001")}),
        accounts_({usd_account("fx", "100000", "60000"), AccountSpec{"plain", "paper"}}),
        valuation_(accounts_, instruments_),
        book_(accounts_.size(), instruments_.size()),
        quotes_(instruments_.size()) {
    set("EUR/USD", "1.08000", "1.08010");  // mid 1.08005
    set("USD/JPY", "150.000", "150.010");  // mid 150.005
    set("EUR/JPY", "162.000", "162.020");  // mid 162.010
  }

  void set(const char* name, const char* bid, const char* ask, std::int64_t time_ns = kNow - 1) {
    quotes_.publish(id(name), decimal_literal(bid), decimal_literal(ask), time_ns);
  }
  InstrumentId id(const char* name) const { return instruments_.find_name(name)->id; }
  const Instrument& instrument(const char* name) const { return instruments_[id(name)]; }
  const Account& fx() const { return accounts_[0]; }

  void hold(const char* name, Side side, const char* quantity) {
    book_.apply_position_change(0, id(name), side, decimal_literal(quantity));
  }
  void work(const char* name, Side side, const char* quantity) {
    ASSERT_EQ(book_.reserve(0, instrument(name), side, decimal_literal(quantity), false), Reason::OK);
  }
  Reason check(const char* name, Side side, const char* quantity) const {
    return check_account_notional(fx(), book_, valuation_, instruments_, quotes_, kNow,
                                  ExtraOrder{id(name), side, decimal_literal(quantity)});
  }
  AccountNotional notional() const {
    AccountNotional out;
    EXPECT_EQ(account_notional(book_, valuation_, 0, instruments_, quotes_, kNow, ExtraOrder{}, out), Reason::OK);
    return out;
  }

  InstrumentTable instruments_;
  AccountTable accounts_;
  AccountValuation valuation_;
  ExposureBook book_;
  QuoteBoard quotes_;
};

TEST_F(AccountRisk, ConversionPathsAreResolvedOnceAtStart) {
  EXPECT_EQ(valuation_.conversion(0, id("EUR/USD")).kind, Conversion::Kind::identity);
  // JPY into USD: through USD/JPY, dividing by its mid.
  EXPECT_EQ(valuation_.conversion(0, id("USD/JPY")).kind, Conversion::Kind::divide);
  EXPECT_EQ(valuation_.conversion(0, id("USD/JPY")).via, id("USD/JPY"));
  EXPECT_EQ(valuation_.conversion(0, id("EUR/JPY")).kind, Conversion::Kind::divide);
  EXPECT_EQ(valuation_.conversion(0, id("EUR/JPY")).via, id("USD/JPY"));
  // An account without a currency converts nothing.
  EXPECT_EQ(valuation_.conversion(1, id("EUR/USD")).kind, Conversion::Kind::none);
}

TEST_F(AccountRisk, AnAccountWithLimitsButNoPathForAQuoteCurrencyIsRefusedNamingThePair) {
  const InstrumentTable with_gbp({spec("EUR/USD", "0.00001"), spec("EUR/GBP", "0.00001")});
  const AccountTable accounts({usd_account("fx", "100000", nullptr)});
  try {
    AccountValuation valuation(accounts, with_gbp);
    FAIL() << "an account that cannot value EUR/GBP in USD was accepted";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("account 'fx'"), std::string::npos) << what;
    EXPECT_NE(what.find("EUR/GBP"), std::string::npos) << what;
    EXPECT_NE(what.find("GBP/USD or USD/GBP"), std::string::npos) << what;
  }
  // The same instruments are fine for an account with a currency and no
  // limits: its figures are shown where they can be.
  AccountSpec display_only{"fx", "paper"};
  display_only.currency = "USD";
  EXPECT_NO_THROW(AccountValuation(AccountTable({display_only}), with_gbp));
}

TEST_F(AccountRisk, AccountSpecsAreCheckedSayingWhichFieldIsWrong) {
  auto error_of = [](AccountSpec spec) -> std::string {
    try {
      AccountTable table({spec});
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "(accepted)";
  };
  AccountSpec no_currency{"fx", "paper"};
  no_currency.max_daily_loss = decimal_literal("1000");
  EXPECT_NE(error_of(no_currency).find("set currency"), std::string::npos);
  AccountSpec lower_case = usd_account("fx", "1000", nullptr);
  lower_case.currency = "usd";
  EXPECT_NE(error_of(lower_case).find("currency must be"), std::string::npos);
  AccountSpec negative = usd_account("fx", nullptr, nullptr);
  negative.max_net_notional = decimal_literal("-5");
  EXPECT_NE(error_of(negative).find("max_net_notional must be positive"), std::string::npos);
  AccountSpec halt_first = usd_account("fx", nullptr, nullptr);
  halt_first.max_daily_loss = decimal_literal("1000");
  halt_first.halt_daily_loss = decimal_literal("500");
  EXPECT_NE(error_of(halt_first).find("halt_daily_loss must be at least max_daily_loss"), std::string::npos);
  EXPECT_EQ(error_of(usd_account("fx", "1", "1")), "(accepted)");
}

TEST_F(AccountRisk, GrossAndNetCountEveryInstrumentInTheAccountCurrencyWorstCase) {
  hold("EUR/USD", Side::buy, "10000");   // long 10,000 EUR at 1.08005: 10,800.50 USD
  work("EUR/USD", Side::sell, "4000");   // could go down to 6,000
  work("USD/JPY", Side::sell, "20000");  // could go short 20,000 USD (exactly 20,000 USD)
  const AccountNotional figures = notional();
  // gross: max(10,000, 6,000) x 1.08005 + max(0, 20,000) x 1
  EXPECT_EQ(figures.gross, int128{10'800'500'000'000} * 1'000'000'000 + 20'000 * kAtto);
  // net: longs 10,800.50 + 0, shorts 6,480.30 - 20,000 = -13,519.70: the larger magnitude
  EXPECT_EQ(figures.net, int128{13'519'700'000'000} * 1'000'000'000);

  // EUR/JPY is valued at its mid in JPY, then divided by USD/JPY's mid,
  // rounded up: 162.010 / 150.005 = 1.080030666... USD per EUR.
  int128 unit = 0;
  ASSERT_TRUE(valuation_.unit_value(0, instrument("EUR/JPY"), instruments_, quotes_, kNow, unit));
  EXPECT_EQ(unit, 1'080'030'666);
}

TEST_F(AccountRisk, OrdersPastGrossOrNetAreRefusedAndClosingOrdersAlwaysPass) {
  hold("EUR/USD", Side::buy, "50000");  // 54,002.50 USD
  // gross 100,000: 42,000 more EUR is 99,364.6 in total; 43,000 is 100,444.65
  EXPECT_EQ(check("EUR/USD", Side::buy, "42000"), Reason::MAX_NET_NOTIONAL_EXCEEDED);  // net is 60,000
  EXPECT_EQ(check("EUR/USD", Side::buy, "5000"), Reason::OK);  // 59,402.75
  EXPECT_EQ(check("EUR/USD", Side::buy, "6000"), Reason::MAX_NET_NOTIONAL_EXCEEDED);  // 60,482.80
  // Short USD/JPY offsets the long on the net side but adds to gross.
  EXPECT_EQ(check("USD/JPY", Side::sell, "45000"), Reason::OK);       // gross 99,002.50
  EXPECT_EQ(check("USD/JPY", Side::sell, "46001"), Reason::MAX_GROSS_NOTIONAL_EXCEEDED);
  // Selling EUR against the long shrinks it: passes even past the limits,
  // and even with every other quote gone.
  set("USD/JPY", "150.000", "150.010", kNow - 2 * kNanosPerSecond);
  EXPECT_EQ(check("EUR/USD", Side::sell, "50000"), Reason::OK);
  // Selling more than the long could flip it, so it is checked: USD/JPY's
  // quote is stale, but the account holds none, so it is not needed.
  EXPECT_EQ(check("EUR/USD", Side::sell, "50001"), Reason::OK);
}

TEST_F(AccountRisk, AStaleQuoteOfAHeldInstrumentOrOfAConversionFailsClosed) {
  hold("EUR/JPY", Side::buy, "1000");
  EXPECT_EQ(check("EUR/USD", Side::buy, "1000"), Reason::OK);
  // The conversion quote (USD/JPY) is stale: EUR/JPY cannot be valued.
  set("USD/JPY", "150.000", "150.010", kNow - 2 * kNanosPerSecond);
  EXPECT_EQ(check("EUR/USD", Side::buy, "1000"), Reason::NO_REFERENCE_PRICE);
  set("USD/JPY", "150.000", "150.010");
  // The held instrument's own quote is crossed.
  set("EUR/JPY", "162.030", "162.020");
  EXPECT_EQ(check("EUR/USD", Side::buy, "1000"), Reason::NO_REFERENCE_PRICE);
  // An account without notional limits is not valued at all.
  EXPECT_EQ(check_account_notional(accounts_[1], book_, valuation_, instruments_, quotes_, kNow,
                                   ExtraOrder{id("EUR/USD"), Side::buy, decimal_literal("1")}),
            Reason::OK);
}

TEST_F(AccountRisk, AbsurdPricesSaturateAndRefuseRatherThanWrap) {
  // A JPY account valuing EUR/USD through USD/JPY (multiplying): prices
  // near the largest decimal make products past 128 bits.
  const InstrumentTable instruments({spec("EUR/USD", "0.00001"), spec("USD/JPY", "0.001")});
  AccountSpec yen{"jp", "paper"};
  yen.currency = "JPY";
  yen.max_gross_notional = decimal_literal("9000000000");
  const AccountTable accounts({yen});
  const AccountValuation valuation(accounts, instruments);
  EXPECT_EQ(valuation.conversion(0, 0).kind, Conversion::Kind::multiply);
  ExposureBook book(1, 2);
  QuoteBoard quotes(2);
  quotes.publish(0, decimal_literal("9000000000"), decimal_literal("9000000001"), kNow - 1);
  quotes.publish(1, decimal_literal("9000000000"), decimal_literal("9000000001"), kNow - 1);
  book.apply_position_change(0, 0, Side::buy, decimal_literal("4000000"));
  AccountNotional figures;
  ASSERT_EQ(account_notional(book, valuation, 0, instruments, quotes, kNow, ExtraOrder{}, figures), Reason::OK);
  EXPECT_GT(figures.gross, int128{0}) << "saturated, not wrapped negative";
  EXPECT_EQ(check_account_notional(accounts[0], book, valuation, instruments, quotes, kNow,
                                   ExtraOrder{0, Side::buy, decimal_literal("1")}),
            Reason::MAX_GROSS_NOTIONAL_EXCEEDED);
}

// The gateway's protocol (Engine::reserve_exposure): read the account
// version, check, reserve, advance the version or release and retry.
Reason reserve_checked(const Account& account, ExposureBook& book, const AccountValuation& valuation,
                       const InstrumentTable& instruments, const QuoteBoard& quotes, const Instrument& instrument,
                       Side side, Decimal quantity) {
  for (;;) {
    const std::uint64_t seen = book.account_version(account.id);
    const Reason reason = check_account_notional(account, book, valuation, instruments, quotes, kNow,
                                                 ExtraOrder{instrument.id, side, quantity});
    if (reason != Reason::OK) return reason;
    if (Reason reserved = book.reserve(account.id, instrument, side, quantity, false); reserved != Reason::OK) {
      return reserved;
    }
    if (book.advance_account_version(account.id, seen)) return Reason::OK;
    book.release(account.id, instrument.id, side, quantity);
  }
}

TEST_F(AccountRisk, ConcurrentOrdersOfOneAccountNeverTogetherPassTheGrossLimit) {
  // 32 instruments quoted in USD at a mid of exactly 1: 100,000 of gross is
  // exactly 100 orders of 1,000, whichever threads send them on whichever
  // instruments. Valuing 32 instruments leaves time between a check and
  // its reservation for another thread's order.
  std::vector<InstrumentSpec> specs;
  for (int i = 0; i < 32; ++i) specs.push_back(spec(("X" + std::to_string(10 + i) + "/USD").c_str(), "0.00001"));
  const InstrumentTable instruments(specs);
  const AccountTable accounts({usd_account("fx", "100000", nullptr)});
  const AccountValuation valuation(accounts, instruments);
  for (int round = 0; round < 20; ++round) {
    ExposureBook book(1, instruments.size());
    QuoteBoard quotes(instruments.size());
    for (std::size_t i = 0; i < instruments.size(); ++i) {
      quotes.publish(static_cast<InstrumentId>(i), decimal_literal("0.99999"), decimal_literal("1.00001"), kNow - 1);
    }
    std::atomic<int> accepted{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        while (!go.load(std::memory_order_acquire)) {
        }
        for (int i = 0; i < 40; ++i) {
          const Instrument& instrument = instruments[static_cast<InstrumentId>((t * 8 + i) % 32)];
          if (reserve_checked(accounts[0], book, valuation, instruments, quotes, instrument, Side::buy,
                              decimal_literal("1000")) == Reason::OK) {
            accepted.fetch_add(1);
          }
        }
      });
    }
    go.store(true, std::memory_order_release);
    for (std::thread& thread : threads) thread.join();
    Decimal working;
    for (std::size_t i = 0; i < instruments.size(); ++i) {
      ASSERT_TRUE(Decimal::add(working, book.snapshot(0, static_cast<InstrumentId>(i)).working_buy, working));
    }
    EXPECT_EQ(working, decimal_literal("100000")) << "round " << round;
    EXPECT_EQ(accepted.load(), 100) << "round " << round;
  }
}

}  // namespace
}  // namespace ordergate::guards
