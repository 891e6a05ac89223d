// Account-level limits through the whole gateway and the paper broker:
// gross and net notional across EUR/USD and USD/JPY counted in USD, and
// the daily loss limits driven by quotes: REDUCING, then HALTED with the
// account's orders cancelled, an operator's resume, and the day roll that
// ends an automatic switch.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "gateway/test_support.hpp"
#include "ordergate/gateway/gateway.hpp"

namespace ordergate {
namespace {

using guards::TradingState;
using testing::limit_order;
using testing::market_order;
using testing::test_config;
using testing::wait_for_reports;
using testing::wait_until;

constexpr std::int64_t kJan15_2159_58_Utc = 1'768'514'398 * kNanosPerSecond;  // 16:59:58 in New York

GatewayConfig limits_config() {
  GatewayConfig config = test_config();
  config.accounts[0].currency = "USD";
  config.accounts[0].max_daily_loss = decimal_literal("1000");
  config.accounts[0].halt_daily_loss = decimal_literal("2000");
  config.accounts[1].currency = "USD";
  config.accounts[1].max_gross_notional = decimal_literal("50000");
  config.accounts[1].max_net_notional = decimal_literal("30000");
  config.principals[0].rate_limits = {"100/1s"};
  config.principals[0].cancel_rate_limits = {"100/1s"};
  config.loss_check_interval_ns = 0;  // value the accounts on every pass
  return config;
}

class AccountLimits : public ::testing::Test {
 protected:
  AccountLimits() : clock_(1'000 * kNanosPerSecond, kJan15_2159_58_Utc) {
    gateway_ = std::make_unique<Gateway>(testing::with_quote_feed(limits_config(), quotes_), clock_);
    gateway_->start();
  }

  void quote(const char* symbol, const char* bid, const char* ask) {
    quotes_->set_quote(symbol, decimal_literal(bid), decimal_literal(ask));
  }
  Gateway::AccountRisk risk(const char* account) const { return gateway_->account_risk(account); }
  bool pnl_is(const char* account, const char* value) const {
    const Gateway::AccountRisk now = risk(account);
    return now.pnl_known && now.daily_pnl == decimal_literal(value);
  }
  TradingState state(const char* account) const { return gateway_->trading_state(TradingScope::account(account)); }

  ManualClock clock_;
  std::shared_ptr<adapters::PaperQuoteFeed> quotes_ = std::make_shared<adapters::PaperQuoteFeed>();
  std::unique_ptr<Gateway> gateway_;
};

TEST_F(AccountLimits, GrossAndNetNotionalAcrossTwoQuoteCurrenciesAreCountedInUsd) {
  Session alice = gateway_->open_session("alice");
  // Resting orders, away from the market: working quantities count.
  ASSERT_TRUE(alice.submit(limit_order("n-1", Side::buy, "1.08000", "20000", "acc-b")).accepted());
  // 25,000 USD short against JPY is worth exactly 25,000 USD.
  const Verdict short_usd = alice.submit(limit_order("n-2", Side::sell, "151.500", "25000", "acc-b", "USD/JPY"));
  ASSERT_TRUE(short_usd.accepted()) << reason_name(short_usd.reason);
  ASSERT_TRUE(wait_for_reports(alice, 2).size() == 2);
  const Gateway::AccountRisk figures = risk("acc-b");
  ASSERT_TRUE(figures.valued);
  EXPECT_EQ(figures.currency, "USD");
  // 20,000 x mid 1.084615 + 25,000
  EXPECT_EQ(figures.gross_notional, decimal_literal("46692.3"));
  EXPECT_EQ(figures.net_notional, decimal_literal("25000"));

  // 5,000 EUR more: gross 52,115.375 > 50,000.
  EXPECT_EQ(alice.submit(limit_order("n-3", Side::buy, "1.08000", "5000", "acc-b")).reason,
            Reason::MAX_GROSS_NOTIONAL_EXCEEDED);
  // 6,000 USD more short: net 31,000 > 30,000 (gross would be 52,692.3: gross first).
  EXPECT_EQ(alice.submit(limit_order("n-4", Side::sell, "151.500", "3000", "acc-b", "USD/JPY")).reason, Reason::OK);
  EXPECT_EQ(alice.submit(limit_order("n-5", Side::sell, "151.500", "3000", "acc-b", "USD/JPY")).reason,
            Reason::MAX_GROSS_NOTIONAL_EXCEEDED);
  // The refused orders booked nothing.
  EXPECT_EQ(gateway_->exposure("acc-b", "EUR/USD").working_buy, decimal_literal("20000"));
  EXPECT_EQ(gateway_->exposure("acc-b", "USD/JPY").working_sell, decimal_literal("28000"));
  // acc-a has no notional limits: the same order passes there.
  EXPECT_TRUE(alice.submit(limit_order("n-6", Side::buy, "1.08000", "5000", "acc-a")).accepted());
}

TEST_F(AccountLimits, NetNotionalRefusesOneSideWhileTheOtherStillFits) {
  GatewayConfig config = limits_config();
  config.accounts[1].max_gross_notional = Decimal{};
  auto feed = std::make_shared<adapters::PaperQuoteFeed>();
  Gateway gateway(testing::with_quote_feed(config, feed), clock_);
  gateway.start();
  Session alice = gateway.open_session("alice");
  ASSERT_TRUE(alice.submit(limit_order("t-1", Side::buy, "1.08000", "20000", "acc-b")).accepted());
  ASSERT_TRUE(alice.submit(limit_order("t-2", Side::sell, "151.500", "25000", "acc-b", "USD/JPY")).accepted());
  // Shorts: 31,000 > 30,000.
  EXPECT_EQ(alice.submit(limit_order("t-3", Side::sell, "151.500", "6000", "acc-b", "USD/JPY")).reason,
            Reason::MAX_NET_NOTIONAL_EXCEEDED);
  // Longs: 25,000 x 1.084615 = 27,115.375: fits.
  EXPECT_TRUE(alice.submit(limit_order("t-4", Side::buy, "1.08000", "5000", "acc-b")).accepted());
}

TEST_F(AccountLimits, AnAccountCurrencyThatCannotValueAnInstrumentIsRefusedAtConstruction) {
  GatewayConfig config = limits_config();
  config.accounts[1].currency = "EUR";  // JPY into EUR: no EUR/JPY or JPY/EUR configured
  try {
    Gateway gateway(config, clock_);
    FAIL() << "constructed a gateway whose account cannot value USD/JPY";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("account 'acc-b'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("JPY/EUR or EUR/JPY"), std::string::npos) << e.what();
  }
}

TEST_F(AccountLimits, ADailyLossDrivenByQuotesReducesThenHaltsAndTheDayRollEndsIt) {
  Session alice = gateway_->open_session("alice");
  ASSERT_TRUE(alice.submit(market_order("d-1", Side::buy, "100000", "acc-a")).accepted());
  ASSERT_EQ(wait_for_reports(alice, 2).size(), 2u);  // NEW, FILLED at the ask 1.08463
  // At mid 1.084615 the position is 1.5 USD under its cost.
  ASSERT_TRUE(wait_until([&] { return pnl_is("acc-a", "-1.5"); }));
  EXPECT_EQ(state("acc-a"), TradingState::active);

  // Mid 1.074615: -1,001.5 USD, past max_daily_loss.
  quote("EUR/USD", "1.07460", "1.07463");
  ASSERT_TRUE(wait_until([&] { return state("acc-a") == TradingState::reducing; }));
  EXPECT_EQ(risk("acc-a").loss_switch, TradingState::reducing);
  EXPECT_EQ(risk("acc-a").daily_pnl, decimal_literal("-1001.5"));
  // More risk is refused, and says why; closing risk passes.
  EXPECT_EQ(alice.submit(market_order("d-2", Side::buy, "1000", "acc-a")).reason, Reason::DAILY_LOSS_LIMIT);
  EXPECT_TRUE(alice.submit(market_order("d-3", Side::sell, "1000", "acc-a")).accepted());
  ASSERT_EQ(wait_for_reports(alice, 2).size(), 2u);
  ASSERT_TRUE(alice.submit(limit_order("d-4", Side::sell, "1.08000", "1000", "acc-a")).accepted());
  ASSERT_EQ(wait_for_reports(alice, 1).size(), 1u);
  // Another account is not touched.
  EXPECT_EQ(state("acc-b"), TradingState::active);

  // Mid 1.060015: cash -108,463 + 1,074.60, and 99,000 x 1.060015 = -2,446.915.
  quote("EUR/USD", "1.06000", "1.06003");
  ASSERT_TRUE(wait_until([&] { return state("acc-a") == TradingState::halted; }));
  const auto canceled = wait_for_reports(alice, 1);
  ASSERT_EQ(canceled.size(), 1u);
  EXPECT_EQ(canceled[0].status, ExecStatus::canceled);
  EXPECT_EQ(canceled[0].client_order_id.view(), "d-4");
  EXPECT_EQ(alice.submit(market_order("d-5", Side::sell, "1000", "acc-a")).reason, Reason::DAILY_LOSS_LIMIT);
  EXPECT_EQ(risk("acc-a").daily_pnl, decimal_literal("-2446.915"));

  // 17:00 New York: a new trading day. The switch the limits made ends,
  // and the position carried into the day counts from the mid.
  clock_.advance(2 * kNanosPerSecond);
  ASSERT_TRUE(wait_until([&] { return state("acc-a") == TradingState::active; }));
  EXPECT_EQ(risk("acc-a").loss_switch, TradingState::active);
  ASSERT_TRUE(wait_until([&] { return pnl_is("acc-a", "0"); }));
  const Verdict after_roll = alice.submit(market_order("d-6", Side::buy, "1000", "acc-a"));
  EXPECT_TRUE(after_roll.accepted()) << reason_name(after_roll.reason);
}

TEST_F(AccountLimits, AnOperatorsResumeForgivesTheLossSoFarAndTheLimitCountsWhatFollows) {
  Session alice = gateway_->open_session("alice");
  ASSERT_TRUE(alice.submit(market_order("r-1", Side::buy, "100000", "acc-a")).accepted());
  ASSERT_EQ(wait_for_reports(alice, 2).size(), 2u);
  quote("EUR/USD", "1.07460", "1.07463");  // -1,001.5
  ASSERT_TRUE(wait_until([&] { return state("acc-a") == TradingState::reducing; }));

  gateway_->set_trading_state(TradingScope::account("acc-a"), TradingState::active);
  ASSERT_TRUE(wait_until([&] { return risk("acc-a").loss_switch == TradingState::active; }));
  const Verdict resumed = alice.submit(market_order("r-2", Side::buy, "1000", "acc-a"));
  ASSERT_TRUE(resumed.accepted()) << reason_name(resumed.reason);
  ASSERT_EQ(wait_for_reports(alice, 2).size(), 2u);
  // Still a REDUCING at the same loss would be a switch the operator just
  // undid: nothing happens until 1,000 more is lost.
  EXPECT_EQ(state("acc-a"), TradingState::active);
  // 101,000 x (1.064615 - 1.074615) = -1,010 more: REDUCING again.
  quote("EUR/USD", "1.06460", "1.06463");
  ASSERT_TRUE(wait_until([&] { return state("acc-a") == TradingState::reducing; }));
}

TEST_F(AccountLimits, AnOperatorsStricterStateStaysTheOperatorsThroughTheDayRoll) {
  Session alice = gateway_->open_session("alice");
  ASSERT_TRUE(alice.submit(market_order("o-1", Side::buy, "100000", "acc-a")).accepted());
  ASSERT_EQ(wait_for_reports(alice, 2).size(), 2u);
  gateway_->set_trading_state(TradingScope::account("acc-a"), TradingState::halted);
  quote("EUR/USD", "1.07460", "1.07463");  // past max_daily_loss: the account is already stricter
  ASSERT_TRUE(wait_until([&] { return pnl_is("acc-a", "-1001.5"); }));
  EXPECT_EQ(risk("acc-a").loss_switch, TradingState::active) << "the limits did not switch it";
  EXPECT_EQ(alice.submit(market_order("o-2", Side::buy, "1000", "acc-a")).reason, Reason::TRADING_HALTED);
  clock_.advance(2 * kNanosPerSecond);
  ASSERT_TRUE(wait_until([&] { return pnl_is("acc-a", "0"); }));  // the new day is counted...
  EXPECT_EQ(state("acc-a"), TradingState::halted);                 // ...and the operator's halt stays
}

TEST_F(AccountLimits, AReloadCannotChangeAccountLimits) {
  GatewayConfig changed = limits_config();
  changed.accounts[0].max_daily_loss = decimal_literal("5000");
  try {
    gateway_->reload(changed);
    FAIL() << "a reload changed account limits";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("account limits cannot change by a reload"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ordergate
