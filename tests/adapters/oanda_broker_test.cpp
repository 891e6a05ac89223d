#include "ordergate/adapters/oanda/oanda_broker.hpp"

#include <gtest/gtest.h>

#include <string>

#include "adapters/fake_oanda.hpp"
#include "adapters/rest_broker_test_support.hpp"

// OANDA's own stories; those every REST broker shares are in
// rest_broker_test.cpp.

namespace ordergate::adapters::oanda {
namespace {

using testing::kAccount;
using testing::OandaVenue;

using OandaBrokerTest = adapters::testing::RestBrokerTest<OandaVenue>;

TEST_F(OandaBrokerTest, PricesOnlyTheInstrumentsItTrades) {
  start(settings());
  EXPECT_FALSE(quotes_.read(0).empty());
  EXPECT_TRUE(quotes_.read(1).empty()) << "BTC/USDT is not traded on this adapter";
  EXPECT_EQ(fake_.pricing_target(), std::string("/v3/accounts/") + kAccount + "/pricing?instruments=EUR_USD");
}

TEST_F(OandaBrokerTest, ForbiddenIsUnavailableWithAnAlert) {
  start(settings());
  broker_->submit(market("auth-1"));
  ASSERT_TRUE(reported(1));
  EXPECT_EQ(reports_.all[0].reason, Reason::BROKER_UNAVAILABLE);
  EXPECT_TRUE(logged("ALERT"));
}

TEST(OandaSettingsCheck, RefusesMissingTokenBadAccountAndUnknownInstruments) {
  const InstrumentTable table({testing::oanda_spec("EUR/USD", "0.00001")});
  OandaSettings s;
  s.account_id = kAccount;
  EXPECT_THROW(OandaBroker(table, s.clone()), std::invalid_argument);  // no token
  s.token = security::Secret("t");
  s.account_id = "bad id/";
  EXPECT_THROW(OandaBroker(table, s.clone()), std::invalid_argument);
  s.account_id = kAccount;
  s.instruments = {"GBP/USD"};
  EXPECT_THROW(OandaBroker(table, s.clone()), std::invalid_argument);
  s.instruments.clear();
  s.connection.base_url = "http://api-fxpractice.oanda.com";
  EXPECT_THROW(OandaBroker(table, s.clone()), std::invalid_argument);
}

}  // namespace
}  // namespace ordergate::adapters::oanda
