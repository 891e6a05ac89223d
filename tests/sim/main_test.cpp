#include "sim_process.hpp"

#include <gtest/gtest.h>

#include <regex>

#include "tls_client.hpp"

namespace ordergate::sim::testing {
namespace {

TEST(SimProcess, PrintsOneReadyLineWithPortCaFileAndPin) {
  SimProcess sim({});
  EXPECT_TRUE(std::regex_match(sim.ready_line(),
                               std::regex(R"(ordergate-sim ready port=[0-9]+ ca=\S+ pin=sha256//[A-Za-z0-9+/]{43}=)")))
      << sim.ready_line();
  EXPECT_GT(sim.port(), 0);
  EXPECT_TRUE(std::filesystem::exists(sim.ca_file()));
}

TEST(SimProcess, ExitsZeroOnSigterm) {
  SimProcess sim({});
  EXPECT_EQ(sim.stop(), 0);
  EXPECT_NE(sim.stderr_text().find("stopping on SIGTERM"), std::string::npos);
}

TEST(SimProcess, ExitsZeroOnSigintWithAnOpenConnection) {
  SimProcess sim({});
  TlsClient client(sim.port(), sim.ca_file());
  ASSERT_FALSE(client.connect());
  ::kill(sim.pid(), SIGINT);
  EXPECT_EQ(sim.wait(), 0);
}

TEST(SimProcess, RefusesToStartWithoutItsCredentialVariableAndNamesIt) {
  Environment environment = default_environment();
  environment.erase(environment.begin());  // SIM_OANDA_TOKEN
  try {
    SimProcess sim({}, environment);
    FAIL() << "started without SIM_OANDA_TOKEN";
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("code 2"), std::string::npos) << message;
    EXPECT_NE(message.find("SIM_OANDA_TOKEN"), std::string::npos) << message;
  }
}

TEST(SimProcess, ReadsCredentialsFromTheVariablesNamedOnTheCommandLine) {
  SimProcess sim({"--venues", "oanda", "--oanda-token-env", "MY_TOKEN_VAR"}, {{"MY_TOKEN_VAR", "from-my-var"}});
  TlsClient client(sim.port(), sim.ca_file());
  const auto ok = client.request("GET", std::string("/v3/accounts/") + kOandaAccount + "/summary", {},
                                 {{"Authorization", "Bearer from-my-var"}});
  EXPECT_EQ(ok.status, 200);
}

TEST(SimProcess, HasNoFlagThatTakesACredentialLiterally) {
  try {
    SimProcess sim({"--oanda-token", "literal"});
    FAIL() << "accepted a literal token flag";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("code 2"), std::string::npos) << error.what();
  }
}

TEST(SimProcess, NeverLogsTokensKeysOrSecretsEvenWrongOnes) {
  const std::string token = "CANARY-oanda-token-1f2e";
  const std::string key = "CANARY-binance-key-3d4c";
  const std::string secret = "CANARY-binance-secret-5b6a";
  const std::string wrong = "CANARY-wrong-credential-7a8b";
  SimProcess sim({}, {{"SIM_OANDA_TOKEN", token}, {"SIM_BINANCE_KEY", key}, {"SIM_BINANCE_SECRET", secret}});
  TlsClient client(sim.port(), sim.ca_file());
  const std::string account = std::string("/v3/accounts/") + kOandaAccount;
  client.request("GET", account + "/summary", {}, {{"Authorization", "Bearer " + token}});
  client.request("GET", account + "/summary", {}, {{"Authorization", "Bearer " + wrong}});
  client.request("POST", account + "/orders",
                 R"({"order":{"type":"MARKET","instrument":"EUR_USD","units":"10","clientExtensions":{"id":")" + wrong +
                     R"("}}})",
                 {{"Authorization", "Bearer " + token}});
  const std::string order = "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001";
  client.request("POST", "/api/v3/order", signed_query(order, secret, now_ms()), {{"X-MBX-APIKEY", key}});
  client.request("POST", "/api/v3/order", signed_query(order, wrong, now_ms()), {{"X-MBX-APIKEY", key}});
  client.request("POST", "/api/v3/order", signed_query(order, secret, now_ms()), {{"X-MBX-APIKEY", wrong}});
  client.request("GET", "/api/v3/order?" + signed_query("symbol=BTCUSDT&origClientOrderId=x", secret, now_ms()), {},
                 {{"X-MBX-APIKEY", key}});
  client.close();
  ASSERT_EQ(sim.stop(), 0);

  const std::string logs = sim.stderr_text() + sim.ready_line() + sim.read_stdout_rest();
  EXPECT_FALSE(logs.empty());
  for (const auto& canary : {token, key, secret}) {
    EXPECT_EQ(logs.find(canary), std::string::npos) << canary << " leaked into:\n" << logs;
  }
  EXPECT_EQ(logs.find("CANARY-wrong-credential"), std::string::npos) << logs;
  EXPECT_EQ(logs.find("signature="), std::string::npos) << "query strings are not logged";
}

TEST(SimProcess, RejectsAnUnusableCommandLineWithExitCode2) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--error-rate", "1.5"}, {"--venues", "nyse"}, {"--cert", "only-cert.pem"}, {"--oanda-price", "EUR_USD=2/1"}}) {
    try {
      SimProcess sim(args);
      ADD_FAILURE() << "started with " << args.front();
    } catch (const std::runtime_error& error) {
      EXPECT_NE(std::string(error.what()).find("code 2"), std::string::npos) << args.front() << ": " << error.what();
    }
  }
}

}  // namespace
}  // namespace ordergate::sim::testing
