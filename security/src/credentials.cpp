#include "ordergate/security/credentials.hpp"

#include <array>
#include <cstdlib>

#include "ordergate/security/fernet.hpp"
#include "ordergate/security/systemd_credentials.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX, not declared by <cstdlib>

namespace ordergate::security {
namespace {

constexpr std::array<std::string_view, 3> kPrefixes = {"DEV_", "STAGING_", "PROD_"};

// Credential names are upper case: it keeps them apart from values, so a
// value pasted where a name belongs is refused without being echoed.
bool is_credential_name(std::string_view name) noexcept {
  if (name.empty() || (name.front() >= '0' && name.front() <= '9')) return false;
  for (char c : name) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

// Keeps the variables of one environment; the others are wiped here.
SecretMap keep_prefixed(SecretMap all, std::string_view prefix) {
  SecretMap kept;
  for (auto it = all.begin(); it != all.end();) {
    auto next = std::next(it);
    if (it->first.starts_with(prefix)) kept.insert(all.extract(it));
    it = next;
  }
  return kept;
}

SecretMap read_process_environment(std::string_view prefix) {
  SecretMap values;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (!text.starts_with(prefix)) continue;
    const std::size_t equals = text.find('=');
    if (equals == std::string_view::npos) continue;
    const std::string_view key = text.substr(0, equals);
    if (!is_valid_secret_key(key)) continue;
    values.emplace(std::string(key), Secret(text.substr(equals + 1)));
  }
  return values;
}

FernetKey key_from_environment(const EncryptedSecretsFile& file) {
  const std::string target = "encrypted secrets file " + file.path.string();
  if (!is_valid_secret_key(file.key_env)) {
    throw CredentialError("the key variable named for " + target +
                          " is not a valid environment variable name (letters, digits and '_')");
  }
  // NOLINTNEXTLINE(concurrency-mt-unsafe): only while CredentialSources is built at start-up (see credentials.hpp); nothing calls setenv
  const char* text = std::getenv(file.key_env.c_str());
  if (text == nullptr || *text == '\0') {
    throw CredentialError("environment variable " + file.key_env + " (the key of " + target +
                          ") is not set: export it with the key from 'ordergate secrets keygen'");
  }
  std::optional<FernetKey> key = FernetKey::parse(text);
  if (!key) {
    throw CredentialError("environment variable " + file.key_env + " (the key of " + target +
                          ") does not hold a Fernet key: 44 base64url characters, as printed by "
                          "'ordergate secrets keygen'");
  }
  return std::move(*key);
}

}  // namespace

std::optional<Environment> parse_environment(std::string_view text) noexcept {
  if (text == "development") return Environment::development;
  if (text == "staging") return Environment::staging;
  if (text == "production") return Environment::production;
  return std::nullopt;
}

std::string_view to_string(Environment environment) noexcept {
  switch (environment) {
    case Environment::development:
      return "development";
    case Environment::staging:
      return "staging";
    case Environment::production:
      return "production";
  }
  return "production";
}

std::string_view environment_prefix(Environment environment) noexcept {
  switch (environment) {
    case Environment::development:
      return kPrefixes[0];
    case Environment::staging:
      return kPrefixes[1];
    case Environment::production:
      return kPrefixes[2];
  }
  return kPrefixes[2];
}

CredentialSources::CredentialSources(const CredentialConfig& config) : environment_(config.environment) {
  const std::string_view prefix = environment_prefix(environment_);
  if (config.systemd_credentials) {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): only while CredentialSources is built at start-up (see credentials.hpp)
    const char* directory = std::getenv(kCredentialsDirectoryVariable.data());
    if (directory == nullptr || *directory == '\0') {
      throw CredentialError("systemd_credentials = true but $CREDENTIALS_DIRECTORY is not set: run ordergate from "
                            "its unit with LoadCredential= or LoadCredentialEncrypted= lines (docs/secrets.md)");
    }
    sources_.push_back({"systemd credentials " + std::string(directory), load_systemd_credentials(directory, prefix)});
  }
  if (config.use_process_environment) {
    sources_.push_back({"environment variables", read_process_environment(prefix)});
  }
  for (const std::filesystem::path& path : config.secrets_files) {
    sources_.push_back({"secrets file " + path.string(), keep_prefixed(load_secret_file(path), prefix)});
  }
  for (const EncryptedSecretsFile& file : config.encrypted_files) {
    const FernetKey key = key_from_environment(file);
    sources_.push_back({"encrypted secrets file " + file.path.string(),
                        keep_prefixed(load_encrypted_secret_file(file.path, key, file.format), prefix)});
  }
  if (config.dotenv_file) {
    sources_.push_back({".env file " + config.dotenv_file->string(),
                        keep_prefixed(load_secret_file(*config.dotenv_file, SecretFileFormat::dotenv), prefix)});
  }
}

std::string CredentialSources::checked_variable_name(std::string_view name) const {
  if (!is_credential_name(name)) {
    throw CredentialError("a credential name must be upper case letters, digits and '_' (such as OANDA_TOKEN); "
                          "check the configuration holds a name, not a value");
  }
  for (std::string_view prefix : kPrefixes) {
    if (name.starts_with(prefix)) {
      throw CredentialError("credential name " + std::string(name) + " already starts with " + std::string(prefix) +
                            ": name it without the prefix; ordergate adds " +
                            std::string(environment_prefix(environment_)) + " in " +
                            std::string(to_string(environment_)));
    }
  }
  return std::string(environment_prefix(environment_)) + std::string(name);
}

std::string CredentialSources::variable_name(std::string_view name) const { return checked_variable_name(name); }

const CredentialSources::Source* CredentialSources::find(std::string_view variable) const {
  for (const Source& source : sources_) {
    if (source.values.find(variable) != source.values.end()) return &source;
  }
  return nullptr;
}

std::optional<Secret> CredentialSources::try_resolve(std::string_view name) const {
  const std::string variable = checked_variable_name(name);
  const Source* source = find(variable);
  if (source == nullptr) return std::nullopt;
  const Secret& value = source->values.find(variable)->second;
  if (value.empty()) {
    throw CredentialError("credential " + variable + " is empty in " + source->description +
                          ": give it a value or remove it");
  }
  return value.clone();
}

Secret CredentialSources::resolve(std::string_view name) const {
  std::optional<Secret> value = try_resolve(name);
  if (value) return std::move(*value);
  const std::string variable = checked_variable_name(name);
  std::string searched;
  for (const Source& source : sources_) {
    if (!searched.empty()) searched += ", ";
    searched += source.description;
  }
  if (searched.empty()) searched = "no source is configured";
  throw CredentialError("credential " + variable + " (" + std::string(to_string(environment_)) +
                        ") not found; searched: " + searched + ". Set " + variable +
                        " in one of them; other environments' names and the bare name are never used");
}

std::optional<std::string> CredentialSources::source_of(std::string_view name) const {
  const Source* source = find(checked_variable_name(name));
  if (source == nullptr) return std::nullopt;
  return source->description;
}

std::vector<std::string> CredentialSources::source_descriptions() const {
  std::vector<std::string> descriptions;
  descriptions.reserve(sources_.size());
  for (const Source& source : sources_) descriptions.push_back(source.description);
  return descriptions;
}

}  // namespace ordergate::security
