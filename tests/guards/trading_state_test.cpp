#include "ordergate/guards/trading_state.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace ordergate::guards {
namespace {

TEST(TradingState, PrintsAndParsesItsNames) {
  for (TradingState state : {TradingState::active, TradingState::reducing, TradingState::halted}) {
    EXPECT_EQ(parse_trading_state(to_string(state)), state);
  }
  EXPECT_EQ(to_string(TradingState::reducing), "REDUCING");
  EXPECT_EQ(parse_trading_state("halted"), TradingState::halted);
  for (std::string_view text : {"", "HALT", "STOPPED", " ACTIVE", "ACTIVE\n"}) {
    EXPECT_FALSE(parse_trading_state(text).has_value()) << text;
  }
}

TEST(TradingState, OnlyHaltedBlocksNewOrders) {
  EXPECT_EQ(check_trading_state(TradingState::active), Reason::OK);
  EXPECT_EQ(check_trading_state(TradingState::reducing), Reason::OK);  // enforced by ExposureBook
  EXPECT_EQ(check_trading_state(TradingState::halted), Reason::TRADING_HALTED);
}

TEST(KillSwitch, StartsActiveEverywhere) {
  const KillSwitch kill_switch(4, 2);
  EXPECT_EQ(kill_switch.global(), TradingState::active);
  for (AccountId account = 0; account < 4; ++account) {
    EXPECT_EQ(kill_switch.account(account), TradingState::active);
    for (PrincipalId principal = 0; principal < 2; ++principal) {
      EXPECT_EQ(kill_switch.effective(account, principal), TradingState::active);
    }
  }
}

TEST(KillSwitch, TheMostRestrictiveScopeWins) {
  KillSwitch kill_switch(2, 2);
  kill_switch.set_account(1, TradingState::reducing);
  EXPECT_EQ(kill_switch.effective(0, 0), TradingState::active);
  EXPECT_EQ(kill_switch.effective(1, 0), TradingState::reducing);
  kill_switch.set_principal(0, TradingState::halted);
  EXPECT_EQ(kill_switch.effective(1, 0), TradingState::halted);
  EXPECT_EQ(kill_switch.effective(1, 1), TradingState::reducing);
  kill_switch.set_global(TradingState::reducing);
  EXPECT_EQ(kill_switch.effective(0, 1), TradingState::reducing);
  kill_switch.set_global(TradingState::halted);
  EXPECT_EQ(kill_switch.effective(0, 1), TradingState::halted);
  EXPECT_EQ(check_trading_state(kill_switch.effective(0, 1)), Reason::TRADING_HALTED);
}

TEST(KillSwitch, ResumesWhenEveryScopeIsActiveAgain) {
  KillSwitch kill_switch(1, 1);
  kill_switch.set_global(TradingState::halted);
  kill_switch.set_account(0, TradingState::halted);
  kill_switch.set_global(TradingState::active);
  EXPECT_EQ(kill_switch.effective(0, 0), TradingState::halted);
  kill_switch.set_account(0, TradingState::active);
  EXPECT_EQ(kill_switch.effective(0, 0), TradingState::active);
}

TEST(KillSwitch, TreatsUnknownIdsAsHalted) {
  KillSwitch kill_switch(2, 1);
  EXPECT_EQ(kill_switch.account(2), TradingState::halted);
  EXPECT_EQ(kill_switch.principal(1), TradingState::halted);
  EXPECT_EQ(kill_switch.effective(2, 0), TradingState::halted);
  EXPECT_EQ(kill_switch.effective(0, 1), TradingState::halted);
  kill_switch.set_account(7, TradingState::active);  // ignored, no out-of-bounds write
  EXPECT_EQ(kill_switch.account(7), TradingState::halted);
  const KillSwitch empty(0, 0);
  EXPECT_EQ(empty.effective(0, 0), TradingState::halted);
}

TEST(KillSwitch, StoresAnOutOfRangeStateAsHalted) {
  KillSwitch kill_switch(1, 1);
  kill_switch.set_account(0, static_cast<TradingState>(7));
  EXPECT_EQ(kill_switch.account(0), TradingState::halted);
  EXPECT_EQ(check_trading_state(kill_switch.effective(0, 0)), Reason::TRADING_HALTED);
}

TEST(KillSwitch, AHaltIsSeenByEveryThreadOnceSet) {
  KillSwitch kill_switch(1, 1);
  std::atomic<bool> halted_seen[4] = {};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      while (kill_switch.effective(0, 0) != TradingState::halted) std::this_thread::yield();
      halted_seen[t].store(true);
    });
  }
  kill_switch.set_global(TradingState::halted);
  for (std::thread& reader : readers) reader.join();
  for (const auto& seen : halted_seen) EXPECT_TRUE(seen.load());
}

}  // namespace
}  // namespace ordergate::guards
