#pragma once

/// \file
/// Where credentials come from. The configuration names a credential
/// (`OANDA_TOKEN`), never its value; `CredentialSources::resolve` finds the
/// value under the name with the prefix of the running environment:
///
///     development -> DEV_OANDA_TOKEN
///     staging     -> STAGING_OANDA_TOKEN
///     production  -> PROD_OANDA_TOKEN
///
/// Nothing else is ever looked up: not the bare name, not another
/// environment's name. The sources keep only their own environment's
/// variables from the start (the others are wiped as soon as a file is
/// parsed), so a development run cannot reach a production credential even
/// by a bug in its caller.
///
/// Precedence, first match wins:
///   1. systemd credentials (`$CREDENTIALS_DIRECTORY`, when configured;
///      systemd_credentials.hpp), the production choice under a unit,
///   2. the process environment (read once, when the sources are built),
///   3. plain secrets files, in the order configured,
///   4. Fernet-encrypted secrets files, in the order configured,
///   5. the `.env` file.
/// Every configured file must exist and pass the secrets-file rules of
/// secret_file.hpp (the `.env` file included: it holds credentials too), or
/// construction throws.
///
/// Thread safety: build once at startup; `resolve` is const and may then be
/// called from any thread. Construction reads `environ` and must not race
/// with setenv().

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ordergate/security/dotenv.hpp"
#include "ordergate/security/secret.hpp"
#include "ordergate/security/secret_file.hpp"

namespace ordergate::security {

enum class Environment { development, staging, production };

/// "development", "staging" or "production" (exactly, lower case); nullopt
/// for anything else.
[[nodiscard]] std::optional<Environment> parse_environment(std::string_view text) noexcept;
/// The lower-case name: "development", "staging", "production".
[[nodiscard]] std::string_view to_string(Environment environment) noexcept;
/// "DEV_", "STAGING_" or "PROD_".
[[nodiscard]] std::string_view environment_prefix(Environment environment) noexcept;

/// A missing credential, a bad name or a source that cannot be used. Names
/// variables and files, never values.
class CredentialError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An encrypted secrets file: a Fernet token whose plaintext is `.env` or
/// TOML text. The key is read from the environment variable `key_env`
/// (exactly that name, no prefix).
struct EncryptedSecretsFile {
  std::filesystem::path path;
  std::string key_env;
  /// Format of the decrypted text; `automatic` takes it from the file name
  /// without its `.fernet` suffix (`prod.toml.fernet` is TOML).
  SecretFileFormat format = SecretFileFormat::automatic;
};

/// What the gateway's configuration says about credentials.
struct CredentialConfig {
  Environment environment = Environment::development;
  /// Whether process environment variables are a source (on in production
  /// use; tests may switch it off).
  bool use_process_environment = true;
  /// Whether the credentials systemd passes to the service are a source:
  /// the files of `$CREDENTIALS_DIRECTORY` (LoadCredential= /
  /// LoadCredentialEncrypted=). When on, the variable must be set.
  bool systemd_credentials = false;
  std::optional<std::filesystem::path> dotenv_file;
  /// Plain secrets files (TOML or `.env` format by file name).
  std::vector<std::filesystem::path> secrets_files;
  std::vector<EncryptedSecretsFile> encrypted_files;
};

class CredentialSources {
 public:
  /// Reads every configured source now. Throws `CredentialError` (or
  /// `SecretFileError` for a file that is missing, unsafe or malformed)
  /// with a message that names the file or variable and what to do.
  explicit CredentialSources(const CredentialConfig& config);

  /// The value of `<PREFIX><name>` from the first source that has it.
  /// `name` must be a valid key and must not already carry an environment
  /// prefix. Throws `CredentialError` naming the variable and the sources
  /// searched when it is missing or empty.
  [[nodiscard]] Secret resolve(std::string_view name) const;

  /// Like `resolve`, but nullopt when no source has the variable (a bad name
  /// still throws).
  [[nodiscard]] std::optional<Secret> try_resolve(std::string_view name) const;

  /// `<PREFIX><name>` for this environment, e.g. "PROD_OANDA_TOKEN".
  [[nodiscard]] std::string variable_name(std::string_view name) const;

  /// Where a variable would be found, e.g. "secrets file /etc/og/prod.toml";
  /// nullopt when nowhere. For diagnostics (doctor): never the value.
  [[nodiscard]] std::optional<std::string> source_of(std::string_view name) const;

  /// The sources searched, in precedence order, e.g.
  /// {"environment variables", "secrets file /etc/og/prod.toml", ".env file ./.env"}.
  [[nodiscard]] std::vector<std::string> source_descriptions() const;

  [[nodiscard]] Environment environment() const noexcept { return environment_; }

 private:
  struct Source {
    std::string description;
    SecretMap values;  // only this environment's variables
  };
  const Source* find(std::string_view variable) const;
  std::string checked_variable_name(std::string_view name) const;

  Environment environment_;
  std::vector<Source> sources_;
};

}  // namespace ordergate::security
