#include "ordergate/server/doctor.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <fstream>
#include <string>

#include "ordergate/core/clock.hpp"
#include "ordergate/core/large_array.hpp"
#include "ordergate/gateway/control_state.hpp"

namespace ordergate {
namespace {

std::string example_text() {
  std::ifstream file(ORDERGATE_SOURCE_DIR "/examples/ordergate.toml");
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

std::string write_temp(const std::string& text) {
  char path[] = "/tmp/ordergate-doctor-XXXXXX";
  const int fd = ::mkstemp(path);
  EXPECT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path) << text;
  return path;
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

const CheckResult* find(const std::vector<CheckResult>& results, const std::string& name, CheckStatus status) {
  for (const CheckResult& result : results) {
    if (result.name == name && result.status == status) return &result;
  }
  return nullptr;
}

bool any_fail(const std::vector<CheckResult>& results) {
  for (const CheckResult& result : results) {
    if (result.status == CheckStatus::fail) return true;
  }
  return false;
}

TEST(Doctor, TheShippedExamplePassesEveryCheck) {
  const auto results = run_doctor(ORDERGATE_SOURCE_DIR "/examples/ordergate.toml");
  EXPECT_FALSE(any_fail(results));
  EXPECT_NE(find(results, "config", CheckStatus::pass), nullptr);
  EXPECT_NE(find(results, "audit", CheckStatus::pass), nullptr);
}

TEST(Doctor, LiteralCredentialInTheConfigFailsWithoutPrintingIt) {
  const std::string path = write_temp(replace(example_text(), "[audit]", "[audit]\nhmac_key = \"s3cr3t-canary-9f8e7d6c5b4a39281706\""));
  const auto results = run_doctor(path);
  const CheckResult* failure = find(results, "literal_credentials", CheckStatus::fail);
  ASSERT_NE(failure, nullptr);
  EXPECT_NE(failure->message.find("audit.hmac_key"), std::string::npos) << failure->message;
  for (const CheckResult& result : results) EXPECT_EQ(result.message.find("canary"), std::string::npos);
  std::remove(path.c_str());
}

TEST(Doctor, InvalidFileIsOneFailNamingTheProblem) {
  const std::string path = write_temp(replace(example_text(), "max_errors = 20", "max_errors = \"20\""));
  const auto results = run_doctor(path);
  ASSERT_GE(results.size(), 1u);
  EXPECT_EQ(results[0].status, CheckStatus::fail);
  EXPECT_NE(results[0].message.find("gateway.max_errors"), std::string::npos) << results[0].message;
  EXPECT_EQ(run_doctor("/nonexistent/ordergate.toml")[0].status, CheckStatus::fail);
  std::remove(path.c_str());
}

TEST(Doctor, ProductionWithoutAuditAndWithWildcardsFailsAndRunRefusesIt) {
  std::string text = replace(example_text(), "environment = \"development\"", "environment = \"production\"");
  text = replace(text, "path = \"/tmp/ordergate-example-audit.jsonl\"\n", "");
  text = replace(text, "symbols = [\"EUR/USD\"]", "symbols = [\"*\"]");
  const std::string path = write_temp(text);
  const auto results = run_doctor(path);
  EXPECT_NE(find(results, "audit", CheckStatus::fail), nullptr);
  EXPECT_NE(find(results, "production", CheckStatus::fail), nullptr);

  const ProcessConfig config = load_config_file(path);
  const auto violations = production_violations(config);
  ASSERT_EQ(violations.size(), 2u);
  EXPECT_NE(violations[0].find("audit"), std::string::npos);
  EXPECT_NE(violations[1].find("ma-cross"), std::string::npos);
  std::remove(path.c_str());
}

TEST(Doctor, ProductionRefusesAnHttpListenerOnANonLoopbackAddressUnlessItServesHttps) {
  const std::string text = replace(example_text(), "environment = \"development\"", "environment = \"production\"");
  const std::string loopback = write_temp(text + "\n[http]\nlisten = \"127.0.0.1:9464\"\n");
  EXPECT_TRUE(production_violations(load_config_file(loopback)).empty());
  const std::string everywhere = write_temp(text + "\n[http]\nlisten = \"0.0.0.0:9464\"\n");
  const auto violations = production_violations(load_config_file(everywhere));
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_NE(violations[0].find("http.listen 0.0.0.0 is not a loopback address"), std::string::npos) << violations[0];
  const std::string https = write_temp(text + "\n[http]\nlisten = \"0.0.0.0:9464\"\ntls_cert = \"/etc/ordergate/http.crt\"\n"
                                              "tls_key = \"/etc/ordergate/http.key\"\n");
  EXPECT_TRUE(production_violations(load_config_file(https)).empty());
  std::remove(loopback.c_str());
  std::remove(everywhere.c_str());
  std::remove(https.c_str());
}

TEST(Doctor, ProductionWithoutAStateFileFailsAndTheStateDefaultsBesideTheJournal) {
  std::string text = replace(example_text(), "environment = \"development\"", "environment = \"production\"");
  text = replace(text, "[state]\npath = \"/tmp/ordergate-example.state\"\n", "");
  const std::string with_audit = write_temp(text);
  const ProcessConfig defaulted = load_config_file(with_audit);
  EXPECT_EQ(defaulted.gateway.state_path, std::filesystem::path("/tmp/ordergate.state")) << "beside the journal";

  text = replace(text, "path = \"/tmp/ordergate-example-audit.jsonl\"\n", "");
  const std::string without = write_temp(text);
  const ProcessConfig config = load_config_file(without);
  EXPECT_TRUE(config.gateway.state_path.empty());
  const auto violations = production_violations(config);
  EXPECT_NE(std::find_if(violations.begin(), violations.end(),
                         [](const std::string& v) { return v.find("[state] path") != std::string::npos; }),
            violations.end());
  const auto checked = run_doctor(without);
  EXPECT_NE(find(checked, "state", CheckStatus::fail), nullptr);
  std::remove(with_audit.c_str());
  std::remove(without.c_str());
}

TEST(Doctor, StateFileIsReadBackAndADamagedOneFails) {
  const std::string state = write_temp("");
  std::remove(state.c_str());
  const std::string path = write_temp(replace(example_text(), "/tmp/ordergate-example.state", state));
  // `find` points into the results: keep each vector alive while it is read.
  const auto first = run_doctor(path);
  const CheckResult* none = find(first, "state", CheckStatus::pass);
  ASSERT_NE(none, nullptr);
  EXPECT_NE(none->message.find("none yet"), std::string::npos) << none->message;

  ControlState halted;
  halted.accounts = {{"paper", guards::TradingState::halted}};
  halted.disabled_principals = {"ma-cross"};
  write_control_state(state, halted);
  const auto second = run_doctor(path);
  const CheckResult* read = find(second, "state", CheckStatus::pass);
  ASSERT_NE(read, nullptr);
  EXPECT_NE(read->message.find("account paper HALTED"), std::string::npos) << read->message;
  EXPECT_NE(read->message.find("principal ma-cross disabled"), std::string::npos) << read->message;

  std::ofstream(state, std::ios::app) << "global ACTIVE\n";
  const auto third = run_doctor(path);
  const CheckResult* damaged = find(third, "state", CheckStatus::fail);
  ASSERT_NE(damaged, nullptr);
  EXPECT_NE(damaged->message.find("damaged"), std::string::npos) << damaged->message;
  std::remove(state.c_str());
  std::remove(path.c_str());
}

TEST(Doctor, DevelopmentWithoutAuditOnlyWarns) {
  const std::string path = write_temp(replace(example_text(), "path = \"/tmp/ordergate-example-audit.jsonl\"\n", ""));
  const auto results = run_doctor(path);
  EXPECT_NE(find(results, "audit", CheckStatus::warn), nullptr);
  EXPECT_FALSE(any_fail(results));
  EXPECT_TRUE(production_violations(load_config_file(path)).empty());
  std::remove(path.c_str());
}

}  // namespace
}  // namespace ordergate

namespace ordergate {
namespace {

TEST(Doctor, LooseSecretsFileFailsWithTheFixAndMissingCredentialFailsByName) {
  const std::string secrets = write_temp("DEV_AUDIT_KEY = \"k-canary-0123456789\"\n");
  const std::string secrets_toml = secrets + ".toml";
  ASSERT_EQ(std::rename(secrets.c_str(), secrets_toml.c_str()), 0);
  ::chmod(secrets_toml.c_str(), 0644);
  std::string text = replace(example_text(), "[audit]", "[secrets]\nuse_environment = false\nfiles = [\"" + secrets_toml +
                                                           "\"]\n\n[audit]\nhmac_key_env = \"AUDIT_KEY\"");
  const std::string path = write_temp(text);
  auto results = run_doctor(path);
  const CheckResult* loose = find(results, "secret_files", CheckStatus::fail);
  ASSERT_NE(loose, nullptr);
  EXPECT_NE(loose->message.find("chmod 600"), std::string::npos) << loose->message;

  ::chmod(secrets_toml.c_str(), 0600);
  results = run_doctor(path);
  EXPECT_NE(find(results, "secret_files", CheckStatus::pass), nullptr);
  const CheckResult* found = find(results, "credentials", CheckStatus::pass);
  ASSERT_NE(found, nullptr);
  EXPECT_NE(found->message.find("DEV_AUDIT_KEY"), std::string::npos) << found->message;

  const std::string staging = write_temp(replace(text, "environment = \"development\"", "environment = \"staging\""));
  results = run_doctor(staging);
  const CheckResult* missing = find(results, "credentials", CheckStatus::fail);
  ASSERT_NE(missing, nullptr);  // a staging run never sees DEV_ values
  EXPECT_NE(missing->message.find("STAGING_AUDIT_KEY"), std::string::npos) << missing->message;
  for (const CheckResult& result : results) EXPECT_EQ(result.message.find("canary"), std::string::npos);
  for (const std::string& file : {secrets_toml, path, staging}) std::remove(file.c_str());
}

TEST(Doctor, HugePagesPassWhenTheKernelGivesThemAndWarnWithTheFixWhenItDoesNot) {
  EXPECT_EQ(huge_pages_check("madvise").status, CheckStatus::pass);
  EXPECT_EQ(huge_pages_check("always").status, CheckStatus::pass);
  for (const std::string_view mode : {"never", ""}) {
    const CheckResult result = huge_pages_check(mode);
    EXPECT_EQ(result.name, "huge_pages");
    EXPECT_EQ(result.status, CheckStatus::warn) << mode;
    EXPECT_NE(result.message.find("transparent_hugepage/enabled"), std::string::npos) << result.message;
  }
  // The doctor reports this machine's own mode.
  const auto results = run_doctor(ORDERGATE_SOURCE_DIR "/examples/ordergate.toml");
  const CheckResult expected = huge_pages_check(transparent_huge_pages_mode());
  EXPECT_NE(find(results, "huge_pages", expected.status), nullptr);
}

TEST(Doctor, TheClockCheckSaysWhichSourceMonotonicTimeComesFrom) {
  EXPECT_NE(clock_check("tsc").message.find("time-stamp counter"), std::string::npos);
  EXPECT_NE(clock_check("vdso").message.find("vDSO"), std::string::npos);
  const auto results = run_doctor(ORDERGATE_SOURCE_DIR "/examples/ordergate.toml");
  bool found = false;
  for (const CheckResult& result : results) {
    if (result.name == "clock") found = result.message == clock_check(default_clock_name()).message;
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace ordergate
