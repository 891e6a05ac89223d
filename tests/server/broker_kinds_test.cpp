#include "broker_kinds.hpp"

#include <gtest/gtest.h>
// toml++ asserts an invariant of its own that some malformed input breaks
// ("[;": a table header without a key), found by fuzzing the sanitizer
// build; the release build compiles the check out and then refuses the
// input as a parse error. Every file that includes toml++ defines this the
// same way, so debug and release parse alike.
#ifndef TOML_ASSERT
#define TOML_ASSERT(expr) static_cast<void>(0)
#endif
#include <toml++/toml.h>

#include <string>
#include <vector>

#include "ordergate/adapters/binance/binance_broker.hpp"
#include "ordergate/adapters/oanda/oanda_broker.hpp"
#include "table_reader.hpp"

namespace ordergate::server_detail {
namespace {

BrokerEntry read(std::string_view text, const std::string& name) {
  static const std::string source = "test.toml";
  const toml::table root = toml::parse(text, source);
  TableReader reader(*root.get_as<toml::table>(name), "brokers." + name, source);
  return read_broker(reader, name);
}

std::string error_of(std::string_view text, const std::string& name) {
  try {
    (void)read(text, name);
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "(no error)";
}

constexpr std::string_view kOanda = R"(
[oanda-practice]
kind = "oanda"
base_url = "https://api-fxpractice.oanda.com"
account_id = "101-001-1"
token_env = "OANDA_TOKEN"
)";

constexpr std::string_view kBinance = R"(
[binance-test]
kind = "binance"
base_url = "https://testnet.binance.vision"
api_key_env = "BINANCE_KEY"
secret_key_env = "BINANCE_SECRET"
)";

TEST(BrokerKinds, EveryRegisteredKindIsFoundByNameAndNothingElse) {
  std::vector<std::string_view> names;
  for (const BrokerKind& kind : broker_kinds()) {
    names.push_back(kind.name);
    EXPECT_EQ(find_broker_kind(kind.name), &kind);
    EXPECT_NE(kind.read, nullptr);
    EXPECT_NE(kind.build, nullptr);
  }
  EXPECT_EQ(names, (std::vector<std::string_view>{"oanda", "binance"}));
  EXPECT_EQ(find_broker_kind(kEmbeddedPaperBroker), nullptr);  // built into the gateway, not a kind
  EXPECT_EQ(find_broker_kind("ib"), nullptr);
}

TEST(BrokerKinds, EachKindReadsItsOwnSettingsAndCredentialNames) {
  const BrokerEntry oanda = read(kOanda, "oanda-practice");
  EXPECT_EQ(oanda.kind, "oanda");
  ASSERT_NE(oanda.settings_as<adapters::oanda::OandaSettings>(), nullptr);
  EXPECT_EQ(oanda.settings_as<adapters::oanda::OandaSettings>()->account_id, "101-001-1");
  EXPECT_EQ(oanda.settings_as<adapters::oanda::OandaSettings>()->connection.log_name, "oanda-practice");
  EXPECT_EQ(oanda.connection().base_url, "https://api-fxpractice.oanda.com");
  ASSERT_EQ(oanda.credentials.size(), 1u);
  EXPECT_EQ(oanda.credentials[0].key, "token_env");
  EXPECT_EQ(oanda.credentials[0].name, "OANDA_TOKEN");

  const BrokerEntry binance = read(kBinance, "binance-test");
  EXPECT_EQ(binance.settings_as<adapters::oanda::OandaSettings>(), nullptr);
  ASSERT_NE(binance.settings_as<adapters::binance::BinanceSettings>(), nullptr);
  ASSERT_EQ(binance.credentials.size(), 2u);
  EXPECT_EQ(binance.credential("api_key_env"), "BINANCE_KEY");
  EXPECT_EQ(binance.credential("secret_key_env"), "BINANCE_SECRET");
}

TEST(BrokerKinds, UnknownKindsKeysOfAnotherKindAndMissingCredentialsAreRefusedWithTheKey) {
  std::string unknown(kOanda);
  unknown.replace(unknown.find("\"oanda\""), 7, "\"ib\"");
  EXPECT_NE(error_of(unknown, "oanda-practice").find("key 'brokers.oanda-practice.kind': must be \"oanda\" or \"binance\""),
            std::string::npos)
      << error_of(unknown, "oanda-practice");

  const std::string foreign = std::string(kOanda) + "api_key_env = \"BINANCE_KEY\"\n";
  EXPECT_NE(error_of(foreign, "oanda-practice").find("brokers.oanda-practice.api_key_env': unknown key"),
            std::string::npos)
      << error_of(foreign, "oanda-practice");

  std::string no_secret(kBinance);
  no_secret.erase(no_secret.find("secret_key_env"));
  EXPECT_NE(error_of(no_secret, "binance-test").find("brokers.binance-test.secret_key_env': is required"),
            std::string::npos)
      << error_of(no_secret, "binance-test");
}

TEST(BrokerKinds, ReconciliationKeysAreReadForEveryKindAndBadValuesAreRefusedWithTheKey) {
  const BrokerEntry plain = read(kOanda, "oanda-practice");
  EXPECT_EQ(plain.reconcile_interval_ns, 0);
  EXPECT_EQ(plain.reconcile_after_disconnect_ns, 0) << "0: the gateway's default";
  EXPECT_FALSE(plain.reduce_on_mismatch);

  const BrokerEntry set = read(std::string(kBinance) +
                                   "reconcile_interval = \"1m\"\n"
                                   "reconcile_after_disconnect = \"30s\"\n"
                                   "on_position_mismatch = \"reduce\"\n",
                               "binance-test");
  EXPECT_EQ(set.reconcile_interval_ns, 60 * kNanosPerSecond);
  EXPECT_EQ(set.reconcile_after_disconnect_ns, 30 * kNanosPerSecond);
  EXPECT_TRUE(set.reduce_on_mismatch);

  for (const char* bad : {"reconcile_after_disconnect = \"0s\"\n", "reconcile_after_disconnect = 30\n",
                          "reconcile_after_disconnect = \"soon\"\n"}) {
    const std::string error = error_of(std::string(kOanda) + bad, "oanda-practice");
    EXPECT_NE(error.find("brokers.oanda-practice.reconcile_after_disconnect'"), std::string::npos) << error;
  }
}

TEST(BrokerKinds, BuildAsksForEachCredentialByKeyAndStopsOnTheFirstItCannotResolve) {
  for (const auto& [text, name] : {std::pair{kOanda, std::string("oanda-practice")},
                                   std::pair{kBinance, std::string("binance-test")}}) {
    const BrokerEntry entry = read(text, name);
    std::vector<std::string> asked;
    const ResolveCredential resolve = [&](std::string_view key) {
      asked.emplace_back(key);
      return security::Secret(std::string("value-of-") + std::string(entry.credential(key)));
    };
    const BrokerFactory factory = find_broker_kind(entry.kind)->build(entry, resolve, {});
    EXPECT_TRUE(static_cast<bool>(factory));
    std::vector<std::string> keys;
    for (const BrokerCredential& credential : entry.credentials) keys.push_back(credential.key);
    EXPECT_EQ(asked, keys) << name;

    const std::string& broker = name;  // clang 14 cannot capture a structured binding
    const ResolveCredential missing = [&](std::string_view key) -> security::Secret {
      throw ConfigError("brokers." + broker + "." + std::string(key) + ": not set");
    };
    EXPECT_THROW((void)find_broker_kind(entry.kind)->build(entry, missing, {}), ConfigError);
  }
}

}  // namespace
}  // namespace ordergate::server_detail
