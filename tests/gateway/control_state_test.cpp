#include "ordergate/gateway/control_state.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gateway/test_support.hpp"
#include "ordergate/gateway/gateway.hpp"

namespace ordergate {
namespace {

using guards::TradingState;
using testing::limit_order;
using testing::test_config;
using testing::StateDirectory;

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

GatewayConfig durable_config(const std::filesystem::path& state) {
  GatewayConfig config = test_config();
  config.state_path = state;
  return config;
}

TEST(ControlStateFile, KeepsEveryScopeAndOddNamesExactly) {
  StateDirectory dir;
  ControlState state;
  state.global = TradingState::reducing;
  state.accounts = {{"acc-a", TradingState::halted}, {"desk 7/fx%", TradingState::reducing}};
  state.principals = {{"alice", TradingState::halted}, {"bot\nnewline", TradingState::reducing}};
  state.disabled_principals = {"bob", "caf\xc3\xa9"};
  write_control_state(dir.file(), state);
  EXPECT_EQ(read_control_state(dir.file()), state);

  struct stat info {};
  ASSERT_EQ(::stat(dir.file().c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  EXPECT_FALSE(std::filesystem::exists(dir.file().string() + ".tmp")) << "the staging file is renamed away";
  const std::string text = read_text(dir.file());
  EXPECT_NE(text.find("account acc-a HALTED\n"), std::string::npos) << text;
  EXPECT_NE(text.find("account desk%207/fx%25 REDUCING\n"), std::string::npos) << text;
  EXPECT_EQ(read_control_state(dir.file().string() + ".missing"), std::nullopt) << "no file: a first start";
}

TEST(ControlStateFile, DamagedOrForeignFileIsRefusedNamingTheFile) {
  StateDirectory dir;
  ControlState state;
  state.accounts = {{"acc-a", TradingState::halted}};
  write_control_state(dir.file(), state);
  const std::string good = read_text(dir.file());

  const auto expect_refused = [&](const std::string& text, const char* why) {
    write_text(dir.file(), text);
    try {
      (void)read_control_state(dir.file());
      ADD_FAILURE() << "accepted: " << why;
    } catch (const ControlStateError& e) {
      EXPECT_NE(std::string(e.what()).find(dir.file().string()), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("damaged"), std::string::npos) << e.what();
    }
  };
  std::string flipped = good;
  flipped.replace(flipped.find("HALTED"), 6, "ACTIVE");  // an edit that would resume trading
  expect_refused(flipped, "an edited state");
  expect_refused(good.substr(0, good.size() - 1), "a torn last line");
  expect_refused(good.substr(0, good.find("check")), "no check line");
  expect_refused("", "an empty file");
  expect_refused("[state]\npath = \"x\"\n", "another format");
}

TEST(ControlStateRestart, HaltedAccountReducingPrincipalAndDisabledPrincipalSurviveARestart) {
  StateDirectory dir;
  ManualClock clock;
  {
    Gateway gateway(durable_config(dir.file()), clock);
    gateway.start();
    gateway.set_trading_state(TradingScope::account("acc-a"), TradingState::halted);
    gateway.set_trading_state(TradingScope::principal("alice"), TradingState::reducing);
    gateway.set_principal_enabled("bob", false);
  }  // no orderly shutdown is needed: each change was saved before it returned

  Gateway restarted(durable_config(dir.file()), clock);
  restarted.start();
  EXPECT_EQ(restarted.trading_state(TradingScope::account("acc-a")), TradingState::halted);
  EXPECT_EQ(restarted.trading_state(TradingScope::principal("alice")), TradingState::reducing);
  EXPECT_EQ(restarted.trading_state(TradingScope::global()), TradingState::active);
  EXPECT_THROW((void)restarted.open_session("bob"), std::invalid_argument) << "bob stays disabled";
  Session alice = restarted.open_session("alice");
  EXPECT_EQ(alice.submit(limit_order("h-1", Side::buy, "1.08000", "1000")).reason, Reason::TRADING_HALTED);

  restarted.set_trading_state(TradingScope::account("acc-a"), TradingState::active);
  restarted.set_trading_state(TradingScope::principal("alice"), TradingState::active);
  restarted.set_principal_enabled("bob", true);
  Gateway again(durable_config(dir.file()), clock);
  again.start();
  EXPECT_EQ(again.trading_state(TradingScope::account("acc-a")), TradingState::active);
  Session bob = again.open_session("bob");
  Session alice_again = again.open_session("alice");
  EXPECT_TRUE(alice_again.submit(limit_order("h-2", Side::buy, "1.08000", "1000")).accepted());
}

TEST(ControlStateRestart, ChangeThatCannotBeSavedLoosensNothingAndTighteningStillTakesEffect) {
  StateDirectory dir;
  ManualClock clock;
  Gateway gateway(durable_config(dir.file()), clock);
  gateway.start();
  gateway.set_trading_state(TradingScope::account("acc-a"), TradingState::halted);
  // A directory where the staging file must go makes every save fail.
  std::filesystem::create_directory(dir.file().string() + ".tmp");

  try {
    gateway.set_trading_state(TradingScope::account("acc-a"), TradingState::active);
    ADD_FAILURE() << "a resume that cannot be saved was acknowledged";
  } catch (const ControlStateError& e) {
    EXPECT_FALSE(e.applied());
    EXPECT_NE(std::string(e.what()).find("not applied"), std::string::npos) << e.what();
  }
  EXPECT_EQ(gateway.trading_state(TradingScope::account("acc-a")), TradingState::halted);
  EXPECT_THROW(gateway.set_principal_enabled("alice", true), ControlStateError);

  try {
    gateway.set_trading_state(TradingScope::global(), TradingState::halted);
    ADD_FAILURE() << "the failed save was not reported";
  } catch (const ControlStateError& e) {
    EXPECT_TRUE(e.applied());
    EXPECT_NE(std::string(e.what()).find("in effect but was not saved"), std::string::npos) << e.what();
  }
  EXPECT_EQ(gateway.trading_state(TradingScope::global()), TradingState::halted) << "a halt is never refused";
  EXPECT_THROW(gateway.set_principal_enabled("bob", false), ControlStateError);
  EXPECT_THROW((void)gateway.open_session("bob"), std::invalid_argument) << "disabled all the same";

  std::filesystem::remove(dir.file().string() + ".tmp");
  gateway.set_trading_state(TradingScope::principal("alice"), TradingState::reducing);  // saves everything in effect
  const std::optional<ControlState> saved = read_control_state(dir.file());
  ASSERT_TRUE(saved.has_value());
  EXPECT_EQ(saved->global, TradingState::halted);
  EXPECT_EQ(saved->accounts.at("acc-a"), TradingState::halted);
  EXPECT_EQ(saved->disabled_principals.count("bob"), 1u);
}

TEST(ControlStateRestart, DamagedStateFileRefusesToStartTheGateway) {
  StateDirectory dir;
  write_text(dir.file(), "ordergate-control-state 1\nglobal ACTIVE\ncheck 00\n");
  ManualClock clock;
  EXPECT_THROW(Gateway(durable_config(dir.file()), clock), ControlStateError);
}

TEST(ControlStateRestart, NamesTheConfigurationNoLongerHasAreKeptForWhenTheyComeBack) {
  StateDirectory dir;
  ControlState state;
  state.accounts = {{"acc-old", TradingState::halted}};
  state.disabled_principals = {"carol"};
  write_control_state(dir.file(), state);

  ManualClock clock;
  Gateway gateway(durable_config(dir.file()), clock);
  gateway.start();
  gateway.set_trading_state(TradingScope::account("acc-b"), TradingState::reducing);
  std::optional<ControlState> saved = read_control_state(dir.file());
  ASSERT_TRUE(saved.has_value());
  EXPECT_EQ(saved->accounts.at("acc-old"), TradingState::halted);
  EXPECT_EQ(saved->accounts.at("acc-b"), TradingState::reducing);
  EXPECT_EQ(saved->disabled_principals.count("carol"), 1u);

  // carol is added by a reload: she comes in disabled, as the operator left her.
  GatewayConfig with_carol = durable_config(dir.file());
  PrincipalConfig carol = with_carol.principals[0];
  carol.policy.name = "carol";
  with_carol.principals.push_back(carol);
  gateway.reload(with_carol);
  EXPECT_THROW((void)gateway.open_session("carol"), std::invalid_argument);
}

}  // namespace
}  // namespace ordergate

namespace ordergate {
namespace {

using testing::market_order;

// alice's window "5/1s" admits 5 x (1 + 2) = 15 orders in two seconds: the
// slack an unclean stop adds.
GatewayConfig daily_config(const std::filesystem::path& state, const char* window = "5/1s") {
  GatewayConfig config = test_config();
  config.state_path = state;
  config.principals[0].max_orders_per_day = 20;
  config.principals[0].max_cancels_per_day = 20;
  config.principals[0].rate_limits = {window};
  return config;
}

TEST(DailyCountsFile, KeepsEveryCountAndRefusesADamagedFile) {
  DailyCounts counts;
  counts.day = 20468;
  counts.clean = true;
  counts.principals["alice"] = {12, 3};
  counts.principals["odd name\n"] = {1, 0};
  counts.accounts["acc-a"] = {TradingState::reducing, TradingState::halted, int128{1'001'500'000'000} * 1'000'000'000};
  counts.lines[{"acc-a", "EUR/USD"}] = {-(int128{216'926'000'000'000} * 1'000'000'000), 100'000'000'000'000};
  counts.lines[{"acc-a", "USD/JPY"}] = {0, -5};
  EXPECT_EQ(parse_daily_counts(format_daily_counts(counts), "x"), counts);

  std::string edited = format_daily_counts(counts);
  edited[edited.find(" 12 ") + 2] = '1';  // 11 orders: the check line no longer matches
  EXPECT_THROW((void)parse_daily_counts(edited, "x"), ControlStateError);
  EXPECT_THROW((void)parse_daily_counts(format_daily_counts(counts).substr(0, 40), "x"), ControlStateError);
  try {
    (void)parse_daily_counts("garbage\n", "/var/lib/ordergate/ordergate.state.daily");
    FAIL();
  } catch (const ControlStateError& e) {
    EXPECT_NE(std::string(e.what()).find("/var/lib/ordergate/ordergate.state.daily"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("Remove it"), std::string::npos) << "says what to do";
  }
}

TEST(DailyCountsRestart, ACleanStopKeepsTheExactCountsOfTheDay) {
  StateDirectory dir;
  ManualClock clock;
  {
    Gateway gateway(daily_config(dir.file(), "100/1s"), clock);
    gateway.start();
    Session alice = gateway.open_session("alice");
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE(alice.submit(market_order(("c-" + std::to_string(i)).c_str(), Side::buy, "1000")).accepted());
    }
  }  // a clean stop writes the counts, marked exact
  const std::optional<DailyCounts> saved = read_daily_counts(daily_counts_path(dir.file()));
  ASSERT_TRUE(saved.has_value());
  EXPECT_TRUE(saved->clean);
  EXPECT_EQ(saved->principals.at("alice").orders, 4u);

  Gateway restarted(daily_config(dir.file(), "100/1s"), clock);
  restarted.start();
  Session alice = restarted.open_session("alice");
  int accepted = 0;
  for (int i = 0; i < 30; ++i) {
    const Verdict verdict = alice.submit(market_order(("r-" + std::to_string(i)).c_str(), Side::buy, "1000"));
    if (verdict.accepted()) {
      ++accepted;
      ASSERT_EQ(testing::wait_for_reports(alice, 2).size(), 2u);  // filled: no open-order limit in the way
    } else {
      EXPECT_EQ(verdict.reason, Reason::DAILY_ORDER_LIMIT) << reason_name(verdict.reason);
    }
  }
  EXPECT_EQ(accepted, 16) << "20 a day, 4 used before the restart";
}

TEST(DailyCountsRestart, AfterAnUncleanStopTheRateWindowsSlackIsAddedSoARestartOnlyTightens) {
  StateDirectory dir;
  ManualClock clock;
  {
    // What a checkpoint a second before a crash looks like.
    Gateway probe(daily_config(dir.file()), clock);
    DailyCounts counts;
    counts.day = probe.trading_day();
    counts.clean = false;
    counts.principals["alice"] = {2, 0};
    write_daily_counts(daily_counts_path(dir.file()), counts);
  }
  Gateway restarted(daily_config(dir.file()), clock);
  restarted.start();
  Session alice = restarted.open_session("alice");
  int accepted = 0;
  for (int i = 0; i < 10; ++i) {
    if (alice.submit(market_order(("u-" + std::to_string(i)).c_str(), Side::buy, "1000")).accepted()) ++accepted;
  }
  EXPECT_EQ(accepted, 3) << "20 - (2 checkpointed + 15 the windows could have admitted since)";
}

TEST(DailyCountsRestart, CountsOfAnotherTradingDayAreNotRestored) {
  StateDirectory dir;
  ManualClock clock;
  std::int64_t day = 0;
  {
    Gateway probe(daily_config(dir.file()), clock);
    day = probe.trading_day();
  }
  DailyCounts yesterday;
  yesterday.day = day - 1;
  yesterday.clean = true;
  yesterday.principals["alice"] = {20, 20};
  write_daily_counts(daily_counts_path(dir.file()), yesterday);
  Gateway restarted(daily_config(dir.file()), clock);
  restarted.start();
  Session alice = restarted.open_session("alice");
  EXPECT_TRUE(alice.submit(market_order("n-1", Side::buy, "1000")).accepted());
}

TEST(DailyCountsRestart, AnUncleanStopAddsTheSlackToEveryLimitedPrincipalWhateverTheCheckpointNamedOrItsDay) {
  StateDirectory dir;
  ManualClock clock;
  std::int64_t day = 0;
  {
    Gateway first(daily_config(dir.file()), clock);
    first.start();
    // Started and not stopped cleanly yet: the file already says so.
    const std::optional<DailyCounts> at_start = read_daily_counts(daily_counts_path(dir.file()));
    ASSERT_TRUE(at_start.has_value());
    EXPECT_FALSE(at_start->clean) << "written before the first order, so a crash is known as one";
    day = first.trading_day();
  }
  for (const std::int64_t checkpoint_day : {day, day - 1}) {
    // alice sent orders after the last checkpoint, which does not name her
    // (and, the second time, is of the day before the roll).
    DailyCounts counts;
    counts.day = checkpoint_day;
    counts.clean = false;
    write_daily_counts(daily_counts_path(dir.file()), counts);
    Gateway restarted(daily_config(dir.file()), clock);
    restarted.start();
    Session alice = restarted.open_session("alice");
    int accepted = 0;
    for (int i = 0; i < 10; ++i) {
      if (alice.submit(market_order(("s-" + std::to_string(checkpoint_day) + "-" + std::to_string(i)).c_str(),
                                    Side::buy, "1000"))
              .accepted()) {
        ++accepted;
      }
    }
    EXPECT_EQ(accepted, 5) << "20 - 15 of slack, checkpoint of day " << checkpoint_day;
  }
}

TEST(DailyCountsRestart, ADamagedCountsFileRefusesToStartTheGateway) {
  StateDirectory dir;
  write_text(daily_counts_path(dir.file()), "ordergate-daily-counts 1\nday 5\n");
  ManualClock clock;
  EXPECT_THROW(Gateway(daily_config(dir.file()), clock), ControlStateError);
}

TEST(DailyCountsRestart, TheDaysLossAndItsSwitchSurviveARestart) {
  StateDirectory dir;
  ManualClock clock;
  GatewayConfig config = daily_config(dir.file(), "100/1s");
  config.accounts[0].currency = "USD";
  config.accounts[0].max_daily_loss = decimal_literal("1000");
  config.loss_check_interval_ns = 0;
  const auto risk_of = [](const Gateway& gateway) { return gateway.account_risk("acc-a"); };
  {
    auto feed = std::make_shared<adapters::PaperQuoteFeed>();
    Gateway gateway(testing::with_quote_feed(config, feed), clock);
    gateway.start();
    Session alice = gateway.open_session("alice");
    ASSERT_TRUE(alice.submit(market_order("l-1", Side::buy, "100000")).accepted());  // at 1.08463
    ASSERT_EQ(testing::wait_for_reports(alice, 2).size(), 2u);
    feed->set_quote("EUR/USD", decimal_literal("1.07460"), decimal_literal("1.07463"));
    ASSERT_TRUE(testing::wait_until([&] { return gateway.trading_state(TradingScope::account("acc-a")) == TradingState::reducing; }));
    ASSERT_TRUE(alice.submit(market_order("l-2", Side::sell, "100000")).accepted());  // at 1.07460
    ASSERT_EQ(testing::wait_for_reports(alice, 2).size(), 2u);
    ASSERT_TRUE(testing::wait_until([&] {
      const Gateway::AccountRisk risk = risk_of(gateway);
      return risk.pnl_known && risk.daily_pnl == decimal_literal("-1003");
    }));
    // The checkpoint thread writes it while the gateway runs, not only at a stop.
    ASSERT_TRUE(testing::wait_until([&] {
      const std::string text = read_text(daily_counts_path(dir.file()));
      return text.find("account acc-a REDUCING REDUCING 0\n") != std::string::npos &&
             text.find("line acc-a EUR/USD ") != std::string::npos;
    }));
  }
  Gateway restarted(config, clock);
  restarted.start();
  // Flat now, so no quote is needed: the realized loss is still the day's.
  ASSERT_TRUE(testing::wait_until([&] { return risk_of(restarted).pnl_known; }));
  EXPECT_EQ(risk_of(restarted).daily_pnl, decimal_literal("-1003"));
  EXPECT_EQ(risk_of(restarted).loss_switch, TradingState::reducing);
  Session alice = restarted.open_session("alice");
  EXPECT_EQ(alice.submit(market_order("l-3", Side::buy, "1000")).reason, Reason::DAILY_LOSS_LIMIT);
}

}  // namespace
}  // namespace ordergate
