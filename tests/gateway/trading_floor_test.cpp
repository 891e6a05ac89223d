// Gateway::hold_accounts and Gateway::set_trading_floor: the hooks a cluster
// member drives (docs/cluster.md).
#include "ordergate/gateway/gateway.hpp"

#include <gtest/gtest.h>

#include "gateway/test_support.hpp"
#include "ordergate/gateway/control_state.hpp"

namespace ordergate {
namespace {

using guards::TradingState;
using testing::limit_order;
using testing::StateDirectory;
using testing::test_config;

TEST(HoldAccounts, HeldAccountsRefuseOrdersAsNotReadyUntilReleasedAndCancelsStillPass) {
  ManualClock clock;
  Gateway gateway(test_config(), clock);
  gateway.hold_accounts(true);
  gateway.start();
  EXPECT_FALSE(gateway.ready()) << "reconciled, but held";
  Session alice = gateway.open_session("alice");
  EXPECT_EQ(alice.submit(limit_order("h-1", Side::buy, "1.08000", "1000")).reason, Reason::ACCOUNT_NOT_READY);

  gateway.hold_accounts(false);
  EXPECT_TRUE(gateway.ready());
  ASSERT_TRUE(alice.submit(limit_order("h-2", Side::buy, "1.08000", "1000")).accepted());

  gateway.hold_accounts(true);
  EXPECT_EQ(alice.submit(limit_order("h-3", Side::buy, "1.08000", "1000")).reason, Reason::ACCOUNT_NOT_READY);
  EXPECT_TRUE(alice.cancel("h-2").accepted()) << "a cancel only ever reduces risk";
  gateway.hold_accounts(false);
  EXPECT_TRUE(alice.submit(limit_order("h-4", Side::buy, "1.08000", "1000")).accepted());
}

TEST(TradingFloor, TheStricterOfFloorAndOperatorAppliesAndOnlyTheOperatorsStateIsSaved) {
  StateDirectory dir;
  ManualClock clock;
  GatewayConfig config = test_config();
  config.state_path = dir.file();
  Gateway gateway(config, clock);
  gateway.start();
  Session alice = gateway.open_session("alice");

  gateway.set_trading_floor(TradingState::halted, "redis_unreachable");
  EXPECT_EQ(gateway.trading_state(TradingScope::global()), TradingState::halted);
  EXPECT_EQ(gateway.control_state().global, TradingState::active) << "not the operator's decision";
  EXPECT_EQ(alice.submit(limit_order("f-1", Side::buy, "1.08000", "1000")).reason, Reason::TRADING_HALTED);

  // The operator resumes while the floor holds: the floor still applies.
  gateway.set_trading_state(TradingScope::global(), TradingState::active);
  EXPECT_EQ(gateway.trading_state(TradingScope::global()), TradingState::halted);
  gateway.set_trading_floor(TradingState::reducing, "redis_unreachable");
  EXPECT_EQ(gateway.trading_state(TradingScope::global()), TradingState::reducing);
  EXPECT_EQ(alice.submit(limit_order("f-2", Side::buy, "1.08000", "1000")).reason, Reason::REDUCE_ONLY);

  // The operator halts under a REDUCING floor: HALTED, and saved as such.
  gateway.set_trading_state(TradingScope::global(), TradingState::halted);
  EXPECT_EQ(gateway.trading_state(TradingScope::global()), TradingState::halted);
  gateway.set_trading_floor(TradingState::active, "redis_state_read");
  EXPECT_EQ(gateway.trading_state(TradingScope::global()), TradingState::halted) << "lifting the floor keeps the halt";
  EXPECT_EQ(read_control_state(dir.file())->global, TradingState::halted);

  gateway.set_trading_state(TradingScope::global(), TradingState::active);
  gateway.set_trading_floor(TradingState::reducing, "redis_unreachable");
  EXPECT_EQ(read_control_state(dir.file())->global, TradingState::active) << "the floor is never saved";
  gateway.set_trading_floor(TradingState::active, "redis_state_read");
  EXPECT_TRUE(alice.submit(limit_order("f-3", Side::buy, "1.08000", "1000")).accepted());
}

}  // namespace
}  // namespace ordergate
