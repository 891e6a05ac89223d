#include "ordergate/security/systemd_credentials.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

#include "ordergate/security/credentials.hpp"
#include "ordergate/security/secret_file.hpp"
#include "security/test_support.hpp"

namespace ordergate::security {
namespace {

using testing::expect_no_canary;
using testing::kCanary;
using testing::ScopedEnv;
using testing::TempDir;
using testing::write_file;

std::string message_of(const std::filesystem::path& directory, std::string_view prefix) {
  try {
    (void)load_systemd_credentials(directory, prefix);
  } catch (const SecretFileError& error) {
    return error.what();
  }
  return {};
}

TEST(SystemdCredentials, ReadsTheFilesOfThePrefixOnlyAndDropsOneTrailingNewline) {
  const TempDir directory;
  write_file(directory / "PROD_OANDA_TOKEN", "prod-token\n", 0400);
  write_file(directory / "DEV_OANDA_TOKEN", "dev-token", 0400);
  write_file(directory / "PROD_TWO_LINES", "a\nb\n\n", 0400);
  const SecretMap values = load_systemd_credentials(directory.path(), "PROD_");
  ASSERT_EQ(values.size(), 2U);
  EXPECT_EQ(values.at("PROD_OANDA_TOKEN").reveal(), "prod-token");
  EXPECT_EQ(values.at("PROD_TWO_LINES").reveal(), "a\nb\n");
}

TEST(SystemdCredentials, RefusesASymbolicLinkWithoutFollowingIt) {
  const TempDir directory;
  const TempDir outside;
  write_file(outside / "target", std::string(kCanary), 0400);
  ASSERT_EQ(::symlink((outside / "target").c_str(), (directory / "PROD_KEY").c_str()), 0);
  const std::string message = message_of(directory.path(), "PROD_");
  EXPECT_NE(message.find("PROD_KEY"), std::string::npos) << message;
  EXPECT_NE(message.find("symbolic link"), std::string::npos) << message;
  expect_no_canary(message);
}

TEST(SystemdCredentials, RefusesAFileOthersCanReadAndNamesNoValue) {
  const TempDir directory;
  write_file(directory / "PROD_KEY", kCanary, 0604);
  const std::string message = message_of(directory.path(), "PROD_");
  EXPECT_NE(message.find("accessible to others"), std::string::npos) << message;
  expect_no_canary(message);
}

TEST(SystemdCredentials, RefusesAFileOverTheSizeLimit) {
  const TempDir directory;
  write_file(directory / "PROD_KEY", std::string(kMaxSystemdCredentialBytes + 1, 'x'), 0400);
  EXPECT_NE(message_of(directory.path(), "PROD_").find("larger than"), std::string::npos);
}

TEST(SystemdCredentials, RefusesARelativeOrMissingDirectory) {
  EXPECT_NE(message_of("relative/dir", "PROD_").find("absolute"), std::string::npos);
  EXPECT_NE(message_of("/nonexistent/ordergate-credentials", "PROD_").find("cannot open"), std::string::npos);
}

TEST(SystemdCredentials, ComeBeforeEnvironmentVariablesInTheSources) {
  const TempDir directory;
  const std::string name = testing::unique_name("KEY");
  write_file(directory / ("STAGING_" + name), "from-systemd", 0400);
  const ScopedEnv credentials(std::string(kCredentialsDirectoryVariable), directory.path().string());
  const ScopedEnv environment("STAGING_" + name, "from-environment");
  CredentialConfig config;
  config.environment = Environment::staging;
  config.systemd_credentials = true;
  const CredentialSources sources(config);
  EXPECT_EQ(sources.resolve(name).reveal(), "from-systemd");
  EXPECT_EQ(sources.source_of(name), "systemd credentials " + directory.path().string());
}

TEST(SystemdCredentials, ConfiguredWithoutTheDirectoryVariableRefusesToStart) {
  ::unsetenv(kCredentialsDirectoryVariable.data());
  CredentialConfig config;
  config.systemd_credentials = true;
  try {
    const CredentialSources sources(config);
    ADD_FAILURE() << "no error";
  } catch (const CredentialError& error) {
    EXPECT_NE(std::string(error.what()).find("CREDENTIALS_DIRECTORY is not set"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace ordergate::security
