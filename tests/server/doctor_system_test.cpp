#include "ordergate/server/doctor.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace ordergate {
namespace {

namespace fs = std::filesystem;

// An installed system under a temporary root: the packaged unit running as
// an unprivileged user that exists everywhere (nobody:nogroup stands in for
// ordergate:ordergate), the configuration and state directories with the
// package's owners and modes (so the test runs as root, as CI does).
class InstalledSystem : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the files are owned by root as on a server: run as root (CI does)";
    char pattern[] = "/tmp/ordergate-system-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
    // NOLINTNEXTLINE(concurrency-mt-unsafe): single-threaded test
    const passwd* user = ::getpwnam(user_.c_str());
    // NOLINTNEXTLINE(concurrency-mt-unsafe): single-threaded test
    const group* group = ::getgrnam(group_.c_str());
    if (user == nullptr || group == nullptr) GTEST_SKIP() << "no user nobody or group nogroup";
    uid_ = user->pw_uid;
    gid_ = group->gr_gid;
    std::ifstream packaged(ORDERGATE_SOURCE_DIR "/packaging/ordergate.service");
    std::ostringstream unit;
    unit << packaged.rdbuf();
    std::string text = unit.str();
    text.replace(text.find("User=ordergate"), 14, "User=" + user_);
    text.replace(text.find("Group=ordergate"), 15, "Group=" + group_);
    write("lib/systemd/system/ordergate.service", text, 0644);
    make_directory("etc/ordergate", 0750);
    write("etc/ordergate/ordergate.toml", "environment = \"production\"\n", 0640);
    make_directory("var/lib/ordergate", 0750);
    ASSERT_EQ(::chown((root_ / "etc/ordergate").c_str(), 0, gid_), 0);
    ASSERT_EQ(::chown((root_ / "etc/ordergate/ordergate.toml").c_str(), 0, gid_), 0);
    ASSERT_EQ(::chown((root_ / "var/lib/ordergate").c_str(), uid_, gid_), 0);
    options_.system = true;
    options_.root = root_;
  }
  void TearDown() override {
    std::error_code ignored;
    if (!root_.empty()) fs::remove_all(root_, ignored);
  }

  void write(const std::string& relative, const std::string& text, mode_t mode) {
    const fs::path path = root_ / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
  }
  void make_directory(const std::string& relative, mode_t mode) {
    fs::create_directories(root_ / relative);
    ASSERT_EQ(::chmod((root_ / relative).c_str(), mode), 0);
  }

  static std::string failures(const std::vector<CheckResult>& results) {
    std::string text;
    for (const CheckResult& result : results) {
      if (result.status == CheckStatus::fail) text += result.name + ": " + result.message + "\n";
    }
    return text;
  }
  static const CheckResult* find(const std::vector<CheckResult>& results, const std::string& name,
                                 CheckStatus status) {
    for (const CheckResult& result : results) {
      if (result.name == name && result.status == status) return &result;
    }
    return nullptr;
  }

  fs::path root_;
  std::string user_ = "nobody";
  std::string group_ = "nogroup";
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  DoctorOptions options_;
};

TEST_F(InstalledSystem, ThePackagedUnitAndModesPass) {
  const auto results = check_installed_system(nullptr, options_);
  EXPECT_EQ(failures(results), "");
  EXPECT_NE(find(results, "unit_hardening", CheckStatus::pass), nullptr);
}

TEST_F(InstalledSystem, ADropInThatLoosensTheSandboxFails) {
  write("etc/systemd/system/ordergate.service.d/override.conf",
        "[Service]\nNoNewPrivileges=no\nCapabilityBoundingSet=CAP_NET_ADMIN\nReadWritePaths=/home\n", 0644);
  const auto results = check_installed_system(nullptr, options_);
  const CheckResult* hardening = find(results, "unit_hardening", CheckStatus::fail);
  ASSERT_NE(hardening, nullptr) << failures(results);
  EXPECT_NE(hardening->message.find("NoNewPrivileges=yes"), std::string::npos) << hardening->message;
  EXPECT_NE(hardening->message.find("CapabilityBoundingSet="), std::string::npos) << hardening->message;
  EXPECT_NE(hardening->message.find("found /home"), std::string::npos) << hardening->message;
}

TEST_F(InstalledSystem, AWorldReadableConfigurationFailsWithTheFix) {
  ASSERT_EQ(::chmod((root_ / "etc/ordergate/ordergate.toml").c_str(), 0644), 0);
  const auto results = check_installed_system(nullptr, options_);
  EXPECT_NE(failures(results).find("chmod 0640"), std::string::npos) << failures(results);
}

TEST_F(InstalledSystem, EveryNeededCredentialMustBePassedByTheUnit) {
  ProcessConfig config;
  config.environment = "production";
  config.credentials.environment = security::Environment::production;
  config.credentials.systemd_credentials = true;
  config.audit.enabled = true;
  config.audit.path = "/var/lib/ordergate/audit.jsonl";
  config.audit.hmac_key_env = "AUDIT_KEY";
  config.server.socket_path = "/run/ordergate/ordergate.sock";
  auto results = check_installed_system(&config, options_);
  const CheckResult* missing = find(results, "systemd_credentials", CheckStatus::fail);
  ASSERT_NE(missing, nullptr) << failures(results);
  EXPECT_NE(missing->message.find("LoadCredentialEncrypted=PROD_AUDIT_KEY"), std::string::npos) << missing->message;

  write("etc/systemd/system/ordergate.service.d/credentials.conf",
        "[Service]\nLoadCredentialEncrypted=PROD_AUDIT_KEY:/etc/credstore.encrypted/PROD_AUDIT_KEY\n", 0644);
  results = check_installed_system(&config, options_);
  EXPECT_NE(failures(results).find("does not exist"), std::string::npos) << failures(results);

  write("etc/credstore.encrypted/PROD_AUDIT_KEY", "encrypted", 0600);
  results = check_installed_system(&config, options_);
  EXPECT_EQ(failures(results), "");
  EXPECT_NE(find(results, "systemd_credentials", CheckStatus::pass), nullptr);
}

TEST_F(InstalledSystem, AJournalOutsideTheStateDirectoryFails) {
  ProcessConfig config;
  config.audit.enabled = true;
  config.audit.path = "/srv/audit.jsonl";
  config.server.socket_path = "/run/ordergate/ordergate.sock";
  const auto results = check_installed_system(&config, options_);
  const CheckResult* paths = find(results, "sandbox_paths", CheckStatus::fail);
  ASSERT_NE(paths, nullptr) << failures(results);
  EXPECT_NE(paths->message.find("ProtectSystem=strict"), std::string::npos) << paths->message;
}

}  // namespace
}  // namespace ordergate
