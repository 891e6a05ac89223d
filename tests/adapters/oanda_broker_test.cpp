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

TEST_F(OandaBrokerTest, AReduceOnlyOrderAsksOandaToOnlyReduceThePosition) {
  start(settings());
  Order reducing = market("fill-reducing");
  reducing.reduce_only = true;
  broker_->submit(reducing);
  broker_->submit(market("fill-plain"));
  ASSERT_TRUE(reported(2));
  EXPECT_NE(fake_.placed_body("fill-reducing").find(R"("positionFill":"REDUCE_ONLY")"), std::string::npos)
      << fake_.placed_body("fill-reducing");
  EXPECT_NE(fake_.placed_body("fill-plain").find(R"("positionFill":"DEFAULT")"), std::string::npos)
      << fake_.placed_body("fill-plain");
}

// The order fills at once (nothing works at OANDA any more), but the trade
// it opened is open with a stop loss: the transactions must still be read,
// or the stop loss filling is never seen.
TEST_F(OandaBrokerTest, KeepsPollingTransactionsWhileAPositionIsOpenWithNoWorkingOrder) {
  start(settings());
  broker_->submit(market("open-1"));
  ASSERT_TRUE(reported(1));
  ASSERT_EQ(reports_.all.back().status, ExecStatus::filled);
  // Several polls after the fill, with nothing working (the interval is 20 ms).
  const int after_fill = fake_.transaction_polls();
  ASSERT_TRUE(poll_until([&] { return fake_.transaction_polls() >= after_fill + 5; }))
      << "transaction polling stopped with a position open";
  EXPECT_TRUE(reports_.position_fills.empty());
}

TEST_F(OandaBrokerTest, AStopLossFillIsReportedOnceAsAPositionFillOfItsParent) {
  start(settings());
  Order parent = market("open-2");
  parent.account_id = 3;
  broker_->submit(parent);
  ASSERT_TRUE(reported(1));
  const OrderId parent_id = reports_.all.back().order_id;
  // Let the adapter read the stop loss OANDA attached, then trigger it.
  const int after_fill = fake_.transaction_polls();
  ASSERT_TRUE(poll_until([&] { return fake_.transaction_polls() >= after_fill + 3; }));
  fake_.trigger_stop_loss("open-2");
  ASSERT_TRUE(poll_until([&] { return !reports_.position_fills.empty(); }));
  const ExecutionReport& fill = reports_.position_fills.front();
  EXPECT_EQ(fill.kind, ReportKind::position_fill);
  EXPECT_EQ(fill.source, FillSource::stop_loss);
  EXPECT_EQ(fill.order_id, parent_id);
  EXPECT_EQ(fill.account_id, 3);
  EXPECT_EQ(fill.side, Side::buy);
  EXPECT_EQ(fill.last_quantity, decimal_literal("1000"));
  EXPECT_EQ(fill.last_price, decimal_literal("1.083"));
  EXPECT_EQ(fill.broker_reason, std::string_view("STOP_LOSS_ORDER"));
  // The position is flat again: nothing more is reported, however long it runs.
  for (int i = 0; i < 2000; ++i) broker_->poll();
  EXPECT_EQ(reports_.position_fills.size(), 1u);
  EXPECT_EQ(reports_.all.size(), 1u) << "the parent's own fill must not come back as a position fill";
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
