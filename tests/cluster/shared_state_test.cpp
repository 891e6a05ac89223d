#include "ordergate/cluster/shared_state.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "ordergate/cluster/member.hpp"

namespace ordergate::cluster {
namespace {

using guards::TradingState;
using Fields = std::vector<std::pair<std::string, std::string>>;

Fields as_hash(const std::vector<StateField>& fields, std::uint64_t version) {
  Fields hash{{"version", std::to_string(version)}};
  for (const StateField& field : fields) hash.emplace_back(field.field, field.value);
  return hash;
}

std::string refusal(const Fields& fields) {
  try {
    (void)decode_state(fields);
  } catch (const SharedStateError& error) {
    return error.what();
  }
  return "accepted";
}

TEST(SharedState, EachChangeIsOneFieldAndTheDefaultDeletesIt) {
  EXPECT_EQ(encode_trading_state(TradingScope::global(), TradingState::halted), (StateField{"global", "HALTED"}));
  EXPECT_EQ(encode_trading_state(TradingScope::global(), TradingState::active), (StateField{"global", ""}));
  EXPECT_EQ(encode_trading_state(TradingScope::account("acc-a"), TradingState::reducing),
            (StateField{"account:acc-a", "REDUCING"}));
  EXPECT_EQ(encode_trading_state(TradingScope::principal("alice"), TradingState::active),
            (StateField{"principal:alice", ""}));
  EXPECT_EQ(encode_principal_enabled("bob", false), (StateField{"disabled:bob", "1"}));
  EXPECT_EQ(encode_principal_enabled("bob", true), (StateField{"disabled:bob", ""}));
  EXPECT_THROW((void)encode_trading_state(TradingScope::account(""), TradingState::halted), std::invalid_argument);
}

TEST(SharedState, AWholeStateSurvivesTheHashExactlyOddNamesIncluded) {
  ControlState state;
  state.global = TradingState::reducing;
  state.accounts = {{"acc-a", TradingState::halted}, {"desk 7/fx%:1", TradingState::reducing}};
  state.principals = {{"alice", TradingState::halted}};
  state.disabled_principals = {"bob", "caf\xc3\xa9"};
  const SharedState read = decode_state(as_hash(encode_state(state), 42));
  EXPECT_EQ(read.control, state);
  EXPECT_EQ(read.version, 42u);

  EXPECT_TRUE(encode_state(ControlState{}).empty()) << "all default: nothing but the version";
  EXPECT_EQ(decode_state({{"version", "1"}}).control, ControlState{});
}

TEST(SharedState, AnythingThisVersionDoesNotWriteIsRefusedNamingTheField) {
  EXPECT_NE(refusal({}).find("no 'version' field"), std::string::npos);
  EXPECT_NE(refusal({{"version", "-1"}}).find("'version' must be a non-negative integer"), std::string::npos);
  EXPECT_NE(refusal({{"version", "1"}, {"global", "ACTIVE"}}).find("'global' must be REDUCING or HALTED"),
            std::string::npos)
      << "ACTIVE is written as no field";
  EXPECT_NE(refusal({{"version", "1"}, {"account:a", "halted"}}).find("'account:a' must be REDUCING or HALTED"),
            std::string::npos);
  EXPECT_NE(refusal({{"version", "1"}, {"disabled:bob", "yes"}}).find("'disabled:bob' must be 1"), std::string::npos);
  EXPECT_NE(refusal({{"version", "1"}, {"budget:acc", "5"}}).find("unknown field 'budget:acc'"), std::string::npos);
  EXPECT_NE(refusal({{"version", "1"}, {"account:", "HALTED"}}).find("unknown field 'account:'"), std::string::npos)
      << "a scope without a name";
  const std::string odd = refusal({{"version", "1"}, {"x\"\n" + std::string(100, 'y'), "1"}});
  EXPECT_NE(odd.find("unknown field 'x??yyyy"), std::string::npos) << odd;
  EXPECT_EQ(odd.find('\n'), std::string::npos) << "fit for one log line";
  EXPECT_NE(odd.find("y...'"), std::string::npos) << "cut at 64 characters";
}

TEST(SharedState, ChangeMessagesCarryVersionCancelAndAFieldWithSpaces) {
  EXPECT_EQ(encode_change_message(7, "account:acc-a", true), "7 1 account:acc-a");
  const auto message = decode_change_message(encode_change_message(8, "account:desk 7 cancel", false));
  ASSERT_TRUE(message);
  EXPECT_EQ(message->version, 8u);
  EXPECT_FALSE(message->cancel);
  EXPECT_EQ(message->field, "account:desk 7 cancel");
  for (const char* bad : {"", "7", "x 1 global", "7 2 global", "7 1 ", "7 1", "7  global"}) {
    EXPECT_FALSE(decode_change_message(bad)) << bad;
  }
}

TEST(MemberOptions, HeartbeatAndTtlFollowFailAfter) {
  MemberOptions options;
  EXPECT_EQ(options.heartbeat().count(), 500);
  EXPECT_EQ(options.member_ttl().count(), 3000);
  options.fail_after = std::chrono::milliseconds(100);
  EXPECT_EQ(options.heartbeat().count(), 50) << "never faster than 50 ms";
  options.fail_after = std::chrono::milliseconds(60000);
  EXPECT_EQ(options.heartbeat().count(), 1000) << "never slower than 1 s";
  EXPECT_NO_THROW(validate_member_name("gw-1.fra_2"));
  EXPECT_THROW(validate_member_name(""), ClusterConfigError);
  EXPECT_THROW(validate_member_name("gw 1"), ClusterConfigError);
  EXPECT_THROW(validate_member_name(std::string(65, 'a')), ClusterConfigError);
}

}  // namespace
}  // namespace ordergate::cluster
