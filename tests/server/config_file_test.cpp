#include "ordergate/server/config_file.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "ordergate/adapters/binance/binance_broker.hpp"
#include "ordergate/adapters/oanda/oanda_broker.hpp"

namespace ordergate {
namespace {

const std::string kValid = R"(
environment = "staging"
[gateway]
socket_path = "/tmp/x.sock"
account_rate_limits = ["200/1s"]
[[instruments]]
name = "EUR/USD"
tick_size = "0.00001"
lot_step = 1
min_quantity = "1"
max_quantity = "50000000"
max_order_quantity = "1000000"
max_notional = "1000000"
max_position = "5000000"
price_band_bps = 100
max_open_orders = 100
max_quote_age = "5s"
[[accounts]]
name = "paper"
broker = "paper"
[paper]
quotes = [ { symbol = "EUR/USD", bid = "1.08460", ask = "1.08463" } ]
[[principals]]
name = "bot"
token_sha256 = "3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea"
permissions = ["trade"]
accounts = ["paper"]
symbols = ["*"]
rate_limits = ["20/1s"]
session_ttl = "30m"
cancel_on_disconnect = true
)";

std::string error_of(const std::string& text) {
  try {
    (void)parse_config_text(text, "test.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

// Found by the config_file fuzzer on the sanitizer build (see the comment
// on TOML_ASSERT in server/src/config_file.cpp).
TEST(ConfigFile, ATableHeaderWithoutAKeyIsRefusedAsInvalidToml) {
  const std::string error = error_of("environment = \"development\"\n[;gateway]\n");
  EXPECT_FALSE(error.empty());
  EXPECT_NE(error.find("test.toml"), std::string::npos) << error;
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

// Found by the fuzzers: toml++ (Debian 12) reaches __builtin_unreachable for
// some non-ASCII characters where it looks for whitespace. The loader refuses
// them with the file, line and code point before toml++ sees the text.
TEST(ConfigFile, RefusesCharactersTheTomlLibraryCannotBeGivenSafely) {
  const std::string message = error_of("environment = \"development\"\n \xef\xbb\x8e\n");
  EXPECT_NE(message.find("test.toml:2"), std::string::npos) << message;
  EXPECT_NE(message.find("U+FECE"), std::string::npos) << message;
  EXPECT_NE(error_of("# caf\xc3\xa9\n").find("U+00E9"), std::string::npos);
  EXPECT_NE(error_of(" \xe2\xb4\x80\n").find("U+2D00"), std::string::npos);
}

TEST(ConfigFile, ReadsEverySectionOfAValidFile) {
  const ProcessConfig config = parse_config_text(kValid, "test.toml");
  EXPECT_EQ(config.environment, "staging");
  EXPECT_EQ(config.server.socket_path, "/tmp/x.sock");
  ASSERT_EQ(config.gateway.instruments.size(), 1u);
  EXPECT_EQ(config.gateway.instruments[0].tick_size, decimal_literal("0.00001"));
  EXPECT_EQ(config.gateway.instruments[0].lot_step, decimal_literal("1"));
  EXPECT_EQ(config.gateway.instruments[0].max_quote_age_ns, 5 * kNanosPerSecond);
  ASSERT_EQ(config.gateway.principals.size(), 1u);
  EXPECT_EQ(config.gateway.principals[0].session_ttl_ns, 30 * 60 * kNanosPerSecond);
  ASSERT_EQ(config.auth.size(), 1u);
  EXPECT_TRUE(config.auth[0].has_token);
  EXPECT_TRUE(config.auth[0].cancel_on_disconnect);
  EXPECT_EQ(config.gateway.paper.quotes[0].ask, decimal_literal("1.08463"));
  EXPECT_TRUE(config.gateway.paper.state_file.empty());
}

TEST(ConfigFile, ReadsThePaperStateFileAsWritten) {
  const ProcessConfig config =
      parse_config_text(replace(kValid, "[paper]\n", "[paper]\nstate_file = \"var/paper.state\"\n"), "test.toml");
  EXPECT_EQ(config.gateway.paper.state_file, "var/paper.state");
  EXPECT_NE(error_of(replace(kValid, "[paper]\n", "[paper]\nstate_file = 1\n")).find("paper.state_file"),
            std::string::npos);
}

TEST(ConfigFile, TheDuplicateWindowIsADurationWithinOneSecondAndThirtyDays) {
  const ProcessConfig defaults = parse_config_text(kValid, "test.toml");
  EXPECT_EQ(defaults.gateway.duplicate_window_ns, 24LL * 3600 * kNanosPerSecond);
  EXPECT_EQ(defaults.gateway.duplicate_capacity, 0u);
  const ProcessConfig set = parse_config_text(
      replace(kValid, "[gateway]\n", "[gateway]\nduplicate_window = \"36h\"\nduplicate_capacity = 4000000\n"), "test.toml");
  EXPECT_EQ(set.gateway.duplicate_window_ns, 36LL * 3600 * kNanosPerSecond);
  EXPECT_EQ(set.gateway.duplicate_capacity, 4'000'000u);
  for (const char* bad : {"duplicate_window = \"500ms\"", "duplicate_window = \"721h\"", "duplicate_window = 5"}) {
    const std::string message = error_of(replace(kValid, "[gateway]\n", std::string("[gateway]\n") + bad + "\n"));
    EXPECT_NE(message.find("gateway.duplicate_window"), std::string::npos) << bad << ": " << message;
  }
}

TEST(ConfigFile, ThePrincipalsAmendBudgetIsReadAndCheckedLikeItsOtherWindows) {
  const ProcessConfig defaults = parse_config_text(kValid, "test.toml");
  EXPECT_EQ(defaults.gateway.principals[0].modify_rate_limits, (std::vector<std::string>{"50/1s"}));
  const ProcessConfig set = parse_config_text(
      replace(kValid, "rate_limits = [\"20/1s\"]", "rate_limits = [\"20/1s\"]\nmodify_rate_limits = [\"5/1s\", \"100/1m\"]"),
      "test.toml");
  EXPECT_EQ(set.gateway.principals[0].modify_rate_limits, (std::vector<std::string>{"5/1s", "100/1m"}));
  EXPECT_NE(error_of(replace(kValid, "rate_limits = [\"20/1s\"]",
                             "rate_limits = [\"20/1s\"]\nmodify_rate_limits = [\"5/1y\"]"))
                .find("rate limit '5/1y'"),
            std::string::npos);
}

TEST(ConfigFile, TheTradingDayAndThePrincipalsDailyCountsAreRead) {
  const ProcessConfig defaults = parse_config_text(kValid, "test.toml");
  EXPECT_EQ(defaults.gateway.day_start, "17:00 America/New_York");
  EXPECT_EQ(defaults.gateway.principals[0].max_orders_per_day, 0u) << "none unless set";
  EXPECT_EQ(defaults.gateway.principals[0].max_cancels_per_day, 0u);
  const ProcessConfig set = parse_config_text(
      replace(replace(kValid, "[gateway]\n", "[gateway]\nday_start = \"00:00 UTC\"\n"), "session_ttl = \"30m\"\n",
              "session_ttl = \"30m\"\nmax_orders_per_day = 5000\nmax_cancels_per_day = 20000\n"),
      "test.toml");
  EXPECT_EQ(set.gateway.day_start, "00:00 UTC");
  EXPECT_EQ(set.gateway.principals[0].max_orders_per_day, 5000u);
  EXPECT_EQ(set.gateway.principals[0].max_cancels_per_day, 20000u);
  for (const char* bad : {"max_orders_per_day = -1", "max_orders_per_day = \"5\"", "max_cancels_per_day = 1.5"}) {
    const std::string message =
        error_of(replace(kValid, "session_ttl = \"30m\"\n", std::string("session_ttl = \"30m\"\n") + bad + "\n"));
    EXPECT_NE(message.find("_per_day"), std::string::npos) << bad << ": " << message;
  }
  EXPECT_NE(error_of(replace(kValid, "[gateway]\n", "[gateway]\nday_start = 17\n")).find("gateway.day_start"),
            std::string::npos);
}

TEST(ConfigFile, ConnectionBudgetsHaveSafeDefaultsAndAreRead) {
  const ProcessConfig defaults = parse_config_text(kValid, "test.toml");
  EXPECT_EQ(defaults.server.read_rate_limit, "20/1s");
  EXPECT_EQ(defaults.server.max_sessions_per_principal, 8u);
  const ProcessConfig set = parse_config_text(
      replace(kValid, "[gateway]\n", "[gateway]\nread_rate_limit = \"5/1s\"\nmax_sessions_per_principal = 2\n"),
      "test.toml");
  EXPECT_EQ(set.server.read_rate_limit, "5/1s");
  EXPECT_EQ(set.server.max_sessions_per_principal, 2u);
  EXPECT_NE(error_of(replace(kValid, "[gateway]\n", "[gateway]\nread_rate_limit = \"often\"\n")).find("gateway.read_rate_limit"),
            std::string::npos);
  EXPECT_NE(error_of(replace(kValid, "[gateway]\n", "[gateway]\nmax_sessions_per_principal = 0\n"))
                .find("gateway.max_sessions_per_principal"),
            std::string::npos);
}

TEST(ConfigFile, ReplySpinIsOffByDefaultAndAtMostOneMillisecond) {
  EXPECT_EQ(parse_config_text(kValid, "test.toml").server.reply_spin_ns, 0);
  EXPECT_EQ(parse_config_text(replace(kValid, "[gateway]\n", "[gateway]\nreply_spin = \"50us\"\n"), "test.toml")
                .server.reply_spin_ns,
            50'000);
  EXPECT_EQ(parse_config_text(replace(kValid, "[gateway]\n", "[gateway]\nreply_spin = \"1ms\"\n"), "test.toml")
                .server.reply_spin_ns,
            1'000'000);
  const std::string too_long = error_of(replace(kValid, "[gateway]\n", "[gateway]\nreply_spin = \"2ms\"\n"));
  EXPECT_NE(too_long.find("gateway.reply_spin"), std::string::npos) << too_long;
  EXPECT_NE(too_long.find("at most \"1ms\""), std::string::npos) << too_long;
  EXPECT_NE(error_of(replace(kValid, "[gateway]\n", "[gateway]\nreply_spin = 50\n")).find("gateway.reply_spin"),
            std::string::npos);
}

TEST(ConfigFile, TheHttpListenerIsOffUnlessListenIsSetAndReadsHostAndPort) {
  EXPECT_FALSE(parse_config_text(kValid, "test.toml").http.enabled);
  const ProcessConfig set = parse_config_text(kValid + "[http]\nlisten = \"127.0.0.1:9464\"\n", "test.toml");
  EXPECT_TRUE(set.http.enabled);
  EXPECT_EQ(set.http.address, "127.0.0.1");
  EXPECT_EQ(set.http.port, 9464);
  EXPECT_TRUE(set.http.loopback);
  EXPECT_FALSE(set.http.fall_back_to_free_port);
  const HttpConfig v6 = parse_http_listen("[::1]:0");
  EXPECT_EQ(v6.address, "::1");
  EXPECT_EQ(v6.port, 0);
  EXPECT_TRUE(v6.loopback);
  EXPECT_EQ(parse_http_listen("localhost:9464").address, "127.0.0.1");
  EXPECT_FALSE(parse_http_listen("0.0.0.0:9464").loopback);
  EXPECT_FALSE(parse_http_listen("[::]:9464").loopback);
}

TEST(ConfigFile, RefusesABadHttpListenAndHttpsSettingsWithTheKey) {
  for (const char* bad : {"\"9464\"", "\"127.0.0.1\"", "\"127.0.0.1:70000\"", "\"127.0.0.1:x\"", "\"::1:9464\"",
                          "\"metrics.example:9464\"", "9464"}) {
    const std::string message = error_of(kValid + "[http]\nlisten = " + bad + "\n");
    EXPECT_NE(message.find("http.listen"), std::string::npos) << bad << ": " << message;
  }
  const std::string half = error_of(kValid + "[http]\nlisten = \"127.0.0.1:9464\"\ntls_cert = \"/etc/c.pem\"\n");
  EXPECT_NE(half.find("http.tls_key"), std::string::npos) << half;
  EXPECT_NE(half.find("go together"), std::string::npos) << half;
  const std::string host = error_of(kValid + "[http]\nlisten = \"127.0.0.1:9464\"\nhost_names = [\"https://x.example/\"]\n");
  EXPECT_NE(host.find("http.host_names"), std::string::npos) << host;
  EXPECT_NE(error_of(kValid + "[http]\nport = 9464\n").find("http.port"), std::string::npos);
}

TEST(ConfigFile, ReadsTheConsoleHostNamesAndTheHttpsFiles) {
  const ProcessConfig config = parse_config_text(
      kValid + "[http]\nlisten = \"0.0.0.0:9464\"\nhost_names = [\"gw1.example\", \"10.0.0.5\"]\n"
               "tls_cert = \"/etc/ordergate/http.crt\"\ntls_key = \"/etc/ordergate/http.key\"\n",
      "test.toml");
  EXPECT_EQ(config.http.host_names, (std::vector<std::string>{"gw1.example", "10.0.0.5"}));
  EXPECT_TRUE(config.http.tls());
  EXPECT_EQ(config.http.tls_cert, "/etc/ordergate/http.crt");
  EXPECT_EQ(config.http.tls_key, "/etc/ordergate/http.key");
}

TEST(ConfigFile, TheShippedExampleIsValid) {
  EXPECT_NO_THROW((void)load_config_file(ORDERGATE_SOURCE_DIR "/examples/ordergate.toml"));
}

TEST(ConfigFile, UnknownKeyIsNamedWithItsLine) {
  const std::string error = error_of(replace(kValid, "session_ttl = \"30m\"", "session_ttl = \"30m\"\nsesion_tll = 1"));
  EXPECT_NE(error.find("test.toml:31"), std::string::npos) << error;
  EXPECT_NE(error.find("principals[0].sesion_tll"), std::string::npos) << error;
  EXPECT_NE(error.find("unknown key"), std::string::npos) << error;
}

TEST(ConfigFile, FloatDecimalsAreRefusedBecauseTheyAreInexact) {
  const std::string error = error_of(replace(kValid, "tick_size = \"0.00001\"", "tick_size = 0.00001"));
  EXPECT_NE(error.find("instruments[0].tick_size"), std::string::npos) << error;
  EXPECT_NE(error.find("inexact"), std::string::npos) << error;
}

TEST(ConfigFile, WrongTypesAndOutOfRangeValuesAreNamed) {
  EXPECT_NE(error_of(replace(kValid, "price_band_bps = 100", "price_band_bps = \"100\"")).find("expected an integer"),
            std::string::npos);
  EXPECT_NE(error_of(replace(kValid, "price_band_bps = 100", "price_band_bps = 20000")).find("1..10000"),
            std::string::npos);
  EXPECT_NE(error_of(replace(kValid, "rate_limits = [\"20/1s\"]", "rate_limits = [\"20/1y\"]")).find("rate limit '20/1y'"),
            std::string::npos);
  EXPECT_NE(error_of(replace(kValid, "session_ttl = \"30m\"", "session_ttl = \"soon\"")).find("duration"),
            std::string::npos);
  EXPECT_NE(error_of(replace(kValid, "environment = \"staging\"", "environment = \"prod\"")).find("environment"),
            std::string::npos);
  EXPECT_NE(error_of(replace(kValid, "broker = \"paper\"", "broker = \"ib\"")).find("unknown broker 'ib'"),
            std::string::npos);
}

TEST(ConfigFile, AccountLimitsAreReadAsExactDecimalsAndBadOnesAreNamed) {
  const std::string limits = "broker = \"paper\"\ncurrency = \"USD\"\nmax_gross_notional = \"2000000\"\n"
                             "max_net_notional = \"1000000\"\nmax_daily_loss = \"5000\"\nhalt_daily_loss = \"8000\"\n";
  const ProcessConfig config = parse_config_text(replace(kValid, "broker = \"paper\"\n", limits), "test.toml");
  const AccountSpec& account = config.gateway.accounts.at(0);
  EXPECT_EQ(account.currency, "USD");
  EXPECT_EQ(account.max_gross_notional, decimal_literal("2000000"));
  EXPECT_EQ(account.max_net_notional, decimal_literal("1000000"));
  EXPECT_EQ(account.max_daily_loss, decimal_literal("5000"));
  EXPECT_EQ(account.halt_daily_loss, decimal_literal("8000"));
  // Omitted: not limited.
  EXPECT_TRUE(parse_config_text(kValid, "test.toml").gateway.accounts.at(0).currency.empty());

  const std::string zero = error_of(replace(kValid, "broker = \"paper\"\n", "broker = \"paper\"\nmax_daily_loss = \"0\"\n"));
  EXPECT_NE(zero.find("accounts[0].max_daily_loss"), std::string::npos) << zero;
  EXPECT_NE(zero.find("must be positive"), std::string::npos) << zero;
  const std::string inexact =
      error_of(replace(kValid, "broker = \"paper\"\n", "broker = \"paper\"\nmax_gross_notional = 1e6\n"));
  EXPECT_NE(inexact.find("accounts[0].max_gross_notional"), std::string::npos) << inexact;
  const std::string typo = error_of(replace(kValid, "broker = \"paper\"\n", "broker = \"paper\"\nmax_daly_loss = \"1\"\n"));
  EXPECT_NE(typo.find("max_daly_loss"), std::string::npos) << typo;
}

TEST(ConfigFile, PrincipalWithoutTokenHashIsRefusedWithTheFix) {
  const std::string error =
      error_of(replace(kValid, "token_sha256 = \"3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea\"\n", ""));
  EXPECT_NE(error.find("ordergate token new --principal bot"), std::string::npos) << error;
  EXPECT_NE(error_of(replace(kValid, "3f79bb7b", "zz79bb7b")).find("64 hex digits"), std::string::npos);
}

TEST(ConfigFile, SyntaxErrorsGivePositionButNeverEchoTheText) {
  const std::string error = error_of(kValid + "\nsecret = \"sk-canary-value\n");
  EXPECT_NE(error.find("test.toml:"), std::string::npos) << error;
  EXPECT_NE(error.find("TOML syntax error"), std::string::npos) << error;
  EXPECT_EQ(error.find("canary"), std::string::npos) << error;
}

TEST(ConfigFile, DurationsParseEveryUnitAndRefuseTheRest) {
  std::int64_t ns = 0;
  EXPECT_TRUE(parse_duration("250us", ns));
  EXPECT_EQ(ns, 250'000);
  EXPECT_TRUE(parse_duration("1h", ns));
  EXPECT_EQ(ns, 3'600 * kNanosPerSecond);
  EXPECT_FALSE(parse_duration("1d", ns));
  EXPECT_FALSE(parse_duration("-1s", ns));
  EXPECT_FALSE(parse_duration("s", ns));
  EXPECT_FALSE(parse_duration("99999999999999h", ns));
}

}  // namespace
}  // namespace ordergate

namespace ordergate {
namespace {

TEST(ConfigFile, BrokerSectionsAreReadAndPlainHttpIsRefused) {
  const ProcessConfig config = load_config_file(ORDERGATE_SOURCE_DIR "/examples/sim.toml");
  ASSERT_EQ(config.brokers.size(), 2u);
  const BrokerEntry& binance = config.brokers[0].name == "binance-sim" ? config.brokers[0] : config.brokers[1];
  const BrokerEntry& oanda = config.brokers[0].name == "oanda-sim" ? config.brokers[0] : config.brokers[1];
  EXPECT_EQ(oanda.kind, "oanda");
  const auto* oanda_settings = oanda.settings_as<adapters::oanda::OandaSettings>();
  ASSERT_NE(oanda_settings, nullptr);
  EXPECT_EQ(binance.settings_as<adapters::oanda::OandaSettings>(), nullptr);
  EXPECT_NE(binance.settings_as<adapters::binance::BinanceSettings>(), nullptr);
  EXPECT_EQ(oanda_settings->account_id, "101-001-0000000-001");
  EXPECT_EQ(oanda.credential("token_env"), "OANDA_TOKEN");
  EXPECT_TRUE(oanda_settings->token.empty());  // names only: values come from [secrets] at start
  EXPECT_EQ(oanda.connection().ca_file, "/tmp/sim-ca.pem");
  EXPECT_EQ(binance.credential("secret_key_env"), "BINANCE_SECRET");
  EXPECT_EQ(binance.credential("token_env"), "");
  EXPECT_EQ(config.gateway.accounts[0].broker, "oanda-sim");

  std::ifstream file(ORDERGATE_SOURCE_DIR "/examples/sim.toml");
  std::ostringstream text;
  text << file.rdbuf();
  const std::string plain = replace(text.str(), "base_url = \"https://localhost:8443\"", "base_url = \"http://localhost:8443\"");
  EXPECT_NE(error_of(plain).find("must start with https://"), std::string::npos) << error_of(plain);
  const std::string unknown = replace(text.str(), "broker = \"oanda-sim\"", "broker = \"oanda-live\"");
  EXPECT_NE(error_of(unknown).find("define [brokers.oanda-live]"), std::string::npos) << error_of(unknown);
  const std::string kind = replace(text.str(), "kind = \"oanda\"", "kind = \"ib\"");
  EXPECT_NE(error_of(kind).find("brokers.oanda-sim.kind"), std::string::npos) << error_of(kind);
  EXPECT_NE(error_of(kind).find("must be \"oanda\" or \"binance\""), std::string::npos) << error_of(kind);
}

}  // namespace
}  // namespace ordergate
