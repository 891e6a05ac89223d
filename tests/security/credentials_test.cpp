#include "ordergate/security/credentials.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "ordergate/security/fernet.hpp"
#include "security/test_support.hpp"

namespace ordergate::security {
namespace {

namespace fs = std::filesystem;
using testing::expect_no_canary;
using testing::kCanary;
using testing::ScopedEnv;
using testing::TempDir;
using testing::unique_name;
using testing::write_file;

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// Runs `action`, expects an exception of type E and returns its message after
// checking that it does not leak the canary.
template <typename E, typename Action>
std::string error_of(Action action) {
  try {
    action();
  } catch (const E& error) {
    expect_no_canary(error.what());
    return error.what();
  } catch (const std::exception& error) {
    ADD_FAILURE() << "unexpected exception type: " << error.what();
    return {};
  }
  ADD_FAILURE() << "expected an exception";
  return {};
}

CredentialConfig environment_only(Environment environment) {
  CredentialConfig config;
  config.environment = environment;
  return config;
}

TEST(Environment, ParsesExactlyTheThreeNames) {
  EXPECT_EQ(parse_environment("development"), Environment::development);
  EXPECT_EQ(parse_environment("staging"), Environment::staging);
  EXPECT_EQ(parse_environment("production"), Environment::production);
  for (const char* other : {"", "prod", "Production", "PRODUCTION", "dev", "test", " production", "production\n"}) {
    EXPECT_EQ(parse_environment(other), std::nullopt) << other;
  }
  for (const Environment environment : {Environment::development, Environment::staging, Environment::production}) {
    EXPECT_EQ(parse_environment(to_string(environment)), environment);
  }
}

TEST(Environment, EachHasItsOwnPrefix) {
  EXPECT_EQ(environment_prefix(Environment::development), "DEV_");
  EXPECT_EQ(environment_prefix(Environment::staging), "STAGING_");
  EXPECT_EQ(environment_prefix(Environment::production), "PROD_");
}

TEST(Credentials, ProductionResolvesOnlyThePrefixedVariable) {
  const std::string name = unique_name("TOKEN");
  const ScopedEnv production("PROD_" + name, "production-value");
  const ScopedEnv bare(name, "bare-value");
  const CredentialSources sources(environment_only(Environment::production));
  EXPECT_EQ(sources.variable_name(name), "PROD_" + name);
  EXPECT_EQ(sources.resolve(name).reveal(), "production-value");
  EXPECT_EQ(sources.source_of(name), "environment variables");
}

TEST(Credentials, DevelopmentNeverSeesProductionStagingOrBareValues) {
  const TempDir dir;
  const std::string name = unique_name("TOKEN");
  const std::string canary(kCanary);
  const ScopedEnv production("PROD_" + name, canary);
  const ScopedEnv staging("STAGING_" + name, canary);
  const ScopedEnv bare(name, canary);
  CredentialConfig config = environment_only(Environment::development);
  config.dotenv_file = write_file(dir / ".env", "PROD_" + name + "=" + canary + "\n" + name + "=" + canary + "\n");
  config.secrets_files.push_back(write_file(dir / "all.toml", "STAGING_" + name + " = \"" + canary + "\"\n"));
  const CredentialSources sources(config);

  EXPECT_EQ(sources.try_resolve(name), std::nullopt);
  const std::string message = error_of<CredentialError>([&] { (void)sources.resolve(name); });
  EXPECT_TRUE(contains(message, "DEV_" + name)) << message;
  EXPECT_TRUE(contains(message, "(development)")) << message;
  EXPECT_FALSE(contains(message, "PROD_" + name)) << message;

  const ScopedEnv development("DEV_" + name, "development-value");
  EXPECT_EQ(CredentialSources(config).resolve(name).reveal(), "development-value");
}

TEST(Credentials, PrecedenceIsEnvironmentThenSecretsFilesThenEncryptedFilesThenDotenv) {
  const TempDir dir;
  const std::string name = unique_name("KEY");
  const std::string variable = "STAGING_" + name;
  const FernetKey key = generate_key();
  const ScopedEnv key_variable(unique_name("FERNET"), key.text().reveal());

  CredentialConfig config = environment_only(Environment::staging);
  config.dotenv_file = write_file(dir / ".env", variable + "=from-dotenv\n");
  config.secrets_files.push_back(write_file(dir / "first.toml", variable + " = \"from-first-file\"\n"));
  config.secrets_files.push_back(write_file(dir / "second.env", variable + "=from-second-file\n"));
  const fs::path encrypted = dir / "secrets.env.fernet";
  write_file(encrypted, encrypt(key, variable + "=from-encrypted-file\n", std::chrono::system_clock::now()));
  config.encrypted_files.push_back({encrypted, key_variable.name(), SecretFileFormat::automatic});

  {
    const ScopedEnv from_environment(variable, "from-environment");
    const CredentialSources sources(config);
    EXPECT_EQ(sources.resolve(name).reveal(), "from-environment");
    EXPECT_EQ(sources.source_descriptions(),
              (std::vector<std::string>{"environment variables", "secrets file " + (dir / "first.toml").string(),
                                        "secrets file " + (dir / "second.env").string(),
                                        "encrypted secrets file " + encrypted.string(),
                                        ".env file " + (dir / ".env").string()}));
  }
  EXPECT_EQ(CredentialSources(config).resolve(name).reveal(), "from-first-file");
  config.secrets_files.erase(config.secrets_files.begin());
  EXPECT_EQ(CredentialSources(config).resolve(name).reveal(), "from-second-file");
  config.secrets_files.clear();
  EXPECT_EQ(CredentialSources(config).resolve(name).reveal(), "from-encrypted-file");
  EXPECT_EQ(CredentialSources(config).source_of(name), "encrypted secrets file " + encrypted.string());
  config.encrypted_files.clear();
  EXPECT_EQ(CredentialSources(config).resolve(name).reveal(), "from-dotenv");
}

TEST(Credentials, AMissingCredentialNamesTheVariableAndEverySourceSearched) {
  const TempDir dir;
  const std::string name = unique_name("MISSING");
  CredentialConfig config = environment_only(Environment::production);
  config.dotenv_file = write_file(dir / ".env", "PROD_OTHER=" + std::string(kCanary) + "\n");
  config.secrets_files.push_back(write_file(dir / "prod.toml", "PROD_ELSE = \"" + std::string(kCanary) + "\"\n"));
  const CredentialSources sources(config);
  const std::string message = error_of<CredentialError>([&] { (void)sources.resolve(name); });
  EXPECT_TRUE(contains(message, "PROD_" + name)) << message;
  EXPECT_TRUE(contains(message, "environment variables")) << message;
  EXPECT_TRUE(contains(message, "secrets file " + (dir / "prod.toml").string())) << message;
  EXPECT_TRUE(contains(message, ".env file " + (dir / ".env").string())) << message;

  CredentialConfig nothing = environment_only(Environment::production);
  nothing.use_process_environment = false;
  EXPECT_TRUE(contains(error_of<CredentialError>([&] { (void)CredentialSources(nothing).resolve(name); }),
                       "no source is configured"));
}

TEST(Credentials, NamesMustBeUpperCaseWithoutAPrefixAndBadOnesAreNotEchoed) {
  const CredentialSources sources(environment_only(Environment::production));
  const std::string prefixed = error_of<CredentialError>([&] { (void)sources.resolve("PROD_OANDA_TOKEN"); });
  EXPECT_TRUE(contains(prefixed, "without the prefix")) << prefixed;
  EXPECT_TRUE(contains(error_of<CredentialError>([&] { (void)sources.resolve("DEV_X"); }), "DEV_"));
  EXPECT_THROW((void)sources.variable_name("STAGING_X"), CredentialError);

  // A value pasted where a name belongs: refused, never repeated.
  (void)error_of<CredentialError>([&] { (void)sources.resolve(kCanary); });
  (void)error_of<CredentialError>([&] { (void)sources.resolve("sk_live_canary_9c1e"); });
  EXPECT_FALSE(contains(error_of<CredentialError>([&] { (void)sources.resolve("sk_live_canary_9c1e"); }),
                        "sk_live_canary_9c1e"));
  EXPECT_THROW((void)sources.resolve(""), CredentialError);
  EXPECT_THROW((void)sources.resolve("9LIVES"), CredentialError);
}

TEST(Credentials, AnEmptyValueIsAnErrorNamingTheSource) {
  const std::string name = unique_name("EMPTY");
  const ScopedEnv empty("PROD_" + name, "");
  const CredentialSources sources(environment_only(Environment::production));
  const std::string message = error_of<CredentialError>([&] { (void)sources.resolve(name); });
  EXPECT_TRUE(contains(message, "PROD_" + name + " is empty in environment variables")) << message;
}

TEST(Credentials, TheProcessEnvironmentIsReadOnceWhenTheSourcesAreBuilt) {
  const std::string name = unique_name("LATE");
  const CredentialSources sources(environment_only(Environment::production));
  const ScopedEnv late("PROD_" + name, "set-too-late");
  EXPECT_EQ(sources.try_resolve(name), std::nullopt);
}

TEST(Credentials, AnEncryptedFileNeedsAValidKeyInItsVariable) {
  const TempDir dir;
  const FernetKey key = generate_key();
  const fs::path encrypted = write_file(dir / "prod.toml.fernet",
                                        encrypt(key, "PROD_A = \"" + std::string(kCanary) + "\"\n",
                                                std::chrono::system_clock::now()),
                                        0600);
  const std::string key_name = unique_name("FERNET_KEY");
  CredentialConfig config = environment_only(Environment::production);
  config.use_process_environment = false;
  config.encrypted_files.push_back({encrypted, key_name, SecretFileFormat::automatic});

  const std::string unset = error_of<CredentialError>([&] { CredentialSources sources(config); });
  EXPECT_TRUE(contains(unset, key_name + " (the key of encrypted secrets file " + encrypted.string())) << unset;
  EXPECT_TRUE(contains(unset, "is not set")) << unset;
  {
    const ScopedEnv not_a_key(key_name, kCanary);
    const std::string message = error_of<CredentialError>([&] { CredentialSources sources(config); });
    EXPECT_TRUE(contains(message, "does not hold a Fernet key")) << message;
  }
  {
    const ScopedEnv wrong_key(key_name, generate_key().text().reveal());
    const std::string message = error_of<SecretFileError>([&] { CredentialSources sources(config); });
    EXPECT_TRUE(contains(message, "invalid token or wrong key")) << message;
  }
  const ScopedEnv right_key(key_name, key.text().reveal());
  EXPECT_EQ(CredentialSources(config).resolve("A").reveal(), kCanary);
}

TEST(Credentials, AnUnsafeOrMalformedFileStopsConstruction) {
  const TempDir dir;
  CredentialConfig loose_dotenv = environment_only(Environment::production);
  loose_dotenv.dotenv_file = write_file(dir / ".env", "PROD_A=" + std::string(kCanary) + "\n", 0644);
  EXPECT_TRUE(contains(error_of<SecretFileError>([&] { CredentialSources sources(loose_dotenv); }), "chmod 600"));

  CredentialConfig loose_file = environment_only(Environment::production);
  loose_file.secrets_files.push_back(write_file(dir / "loose.toml", "PROD_A = \"x\"\n", 0640));
  EXPECT_TRUE(contains(error_of<SecretFileError>([&] { CredentialSources sources(loose_file); }), "mode 0640"));

  CredentialConfig malformed = environment_only(Environment::production);
  malformed.secrets_files.push_back(write_file(dir / "bad.toml", "PROD_A = " + std::string(kCanary) + "\n"));
  EXPECT_TRUE(contains(error_of<SecretFileError>([&] { CredentialSources sources(malformed); }), "line 1"));

  CredentialConfig missing = environment_only(Environment::production);
  missing.dotenv_file = dir / "absent.env";
  EXPECT_TRUE(contains(error_of<SecretFileError>([&] { CredentialSources sources(missing); }), "does not exist"));
}

}  // namespace
}  // namespace ordergate::security
