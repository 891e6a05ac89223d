#include "ordergate/security/secret_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "security/test_support.hpp"

namespace ordergate::security {
namespace {

namespace fs = std::filesystem;
using testing::expect_no_canary;
using testing::kCanary;
using testing::TempDir;
using testing::write_file;

const std::string kCanaryToml = "PROD_TOKEN = \"" + std::string(kCanary) + "\"\n";

// Runs `action`, expects a SecretFileError and returns its message after
// checking that it does not leak the canary.
template <typename Action>
std::string secret_file_error(Action action) {
  try {
    action();
  } catch (const SecretFileError& error) {
    expect_no_canary(error.what());
    return error.what();
  }
  ADD_FAILURE() << "expected a SecretFileError";
  return {};
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

TEST(SecretFile, Mode0600And0400OwnedByTheUserAreRead) {
  const TempDir dir;
  for (const mode_t mode : {mode_t{0600}, mode_t{0400}, mode_t{0700}}) {
    const fs::path path = write_file(dir / ("secrets-" + std::to_string(mode) + ".toml"), kCanaryToml, mode);
    const SecretMap values = load_secret_file(path);
    ASSERT_EQ(values.size(), 1u);
    EXPECT_EQ(values.at("PROD_TOKEN").reveal(), kCanary);
  }
}

TEST(SecretFile, GroupOrOtherBitsAreRefusedWithTheModeAndTheChmodToRun) {
  const TempDir dir;
  for (const mode_t mode : {mode_t{0644}, mode_t{0640}, mode_t{0604}, mode_t{0660}, mode_t{0610}, mode_t{0601},
                            mode_t{0666}, mode_t{04600}, mode_t{01600}}) {
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
    const fs::path path = write_file(dir / ("loose-" + std::string(octal) + ".toml"), kCanaryToml, mode);
    const std::string message = secret_file_error([&] { (void)load_secret_file(path); });
    EXPECT_TRUE(contains(message, path.string())) << message;
    EXPECT_TRUE(contains(message, std::string("mode ") + octal)) << message;
    EXPECT_TRUE(contains(message, "chmod 600 " + path.string())) << message;
  }
}

TEST(SecretFile, ASymbolicLinkIsRefusedEvenToASafeFile) {
  const TempDir dir;
  const fs::path target = write_file(dir / "real.toml", kCanaryToml, 0600);
  const fs::path link = dir / "link.toml";
  fs::create_symlink(target, link);
  const std::string message = secret_file_error([&] { (void)load_secret_file(link); });
  EXPECT_TRUE(contains(message, "symbolic link")) << message;
  EXPECT_TRUE(contains(message, link.string())) << message;
  EXPECT_NO_THROW((void)load_secret_file(target));
}

TEST(SecretFile, ADirectoryAFifoAndAMissingFileAreRefused) {
  const TempDir dir;
  const fs::path directory = dir / "dir.toml";
  fs::create_directory(directory);
  ::chmod(directory.c_str(), 0700);
  EXPECT_TRUE(contains(secret_file_error([&] { (void)load_secret_file(directory); }), "a directory"));

  const fs::path fifo = dir / "fifo.toml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_TRUE(contains(secret_file_error([&] { (void)load_secret_file(fifo); }), "a named pipe"));

  const fs::path missing = dir / "missing.toml";
  const std::string message = secret_file_error([&] { (void)load_secret_file(missing); });
  EXPECT_TRUE(contains(message, "does not exist")) << message;
  EXPECT_TRUE(contains(message, missing.string())) << message;
}

TEST(SecretFile, AFileOwnedBySomeoneElseIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "changing a file's owner needs root";
  const TempDir dir;
  const fs::path path = write_file(dir / "other.toml", kCanaryToml, 0600);
  ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);
  const std::string message = secret_file_error([&] { (void)load_secret_file(path); });
  EXPECT_TRUE(contains(message, "owned by uid 65534")) << message;
  EXPECT_TRUE(contains(message, "uid " + std::to_string(::geteuid()))) << message;
}

TEST(SecretFile, AFileOverTheSizeLimitIsRefusedUnread) {
  const TempDir dir;
  const fs::path path = write_file(dir / "big.env", std::string(kMaxSecretFileBytes + 1, '#'), 0600);
  EXPECT_TRUE(contains(secret_file_error([&] { (void)load_secret_file(path); }), "limit"));
  const fs::path largest = write_file(dir / "largest.env", std::string(kMaxSecretFileBytes, '\n'), 0600);
  EXPECT_TRUE(load_secret_file(largest).empty());
}

TEST(SecretFile, CheckSecretFileAppliesTheSameRulesWithoutReading) {
  const TempDir dir;
  EXPECT_NO_THROW(check_secret_file(write_file(dir / "ok.env", "A=1\n", 0400)));
  EXPECT_THROW(check_secret_file(write_file(dir / "loose.env", "A=1\n", 0644)), SecretFileError);
}

TEST(SecretFile, FormatComesFromTheNameIgnoringFernet) {
  EXPECT_EQ(secret_file_format_from_name("/etc/og/prod.toml"), SecretFileFormat::toml);
  EXPECT_EQ(secret_file_format_from_name("prod.toml.fernet"), SecretFileFormat::toml);
  EXPECT_EQ(secret_file_format_from_name(".env"), SecretFileFormat::dotenv);
  EXPECT_EQ(secret_file_format_from_name("/srv/.env.production"), SecretFileFormat::dotenv);
  EXPECT_EQ(secret_file_format_from_name("prod.env"), SecretFileFormat::dotenv);
  EXPECT_EQ(secret_file_format_from_name(".env.fernet"), SecretFileFormat::dotenv);
  EXPECT_EQ(secret_file_format_from_name("secrets"), std::nullopt);
  EXPECT_EQ(secret_file_format_from_name("secrets.json"), std::nullopt);
  EXPECT_EQ(secret_file_format_from_name(".toml"), std::nullopt);

  const TempDir dir;
  const fs::path unnamed = write_file(dir / "secrets", kCanaryToml, 0600);
  EXPECT_TRUE(contains(secret_file_error([&] { (void)load_secret_file(unnamed); }), "format"));
  EXPECT_EQ(load_secret_file(unnamed, SecretFileFormat::toml).size(), 1u);
}

TEST(SecretFile, DotenvFormatFilesAreParsedAndErrorsNameFileAndLine) {
  const TempDir dir;
  const fs::path good = write_file(dir / ".env", "export PROD_A='x y'\nPROD_B=2\n", 0600);
  const SecretMap values = load_secret_file(good);
  EXPECT_EQ(values.at("PROD_A").reveal(), "x y");
  const fs::path bad = write_file(dir / "bad.env", "PROD_A=1\n" + std::string(kCanary) + "\n", 0600);
  const std::string message = secret_file_error([&] { (void)load_secret_file(bad); });
  EXPECT_TRUE(contains(message, bad.string() + ", line 2: ")) << message;
}

TEST(SecretsToml, ReadsAFlatTableOfStrings) {
  const SecretMap values = parse_secrets_toml(
      "# comment\n"
      "PROD_BASIC = \"a\\tb\"\n"
      "PROD_LITERAL = 'C:\\path'\n"
      "PROD_MULTI = \"\"\"\nline1\nline2\"\"\"\n"
      "PROD_EMPTY = \"\"\n");
  EXPECT_EQ(values.size(), 4u);
  EXPECT_EQ(values.at("PROD_BASIC").reveal(), "a\tb");
  EXPECT_EQ(values.at("PROD_LITERAL").reveal(), "C:\\path");
  EXPECT_EQ(values.at("PROD_MULTI").reveal(), "line1\nline2");
  EXPECT_TRUE(values.at("PROD_EMPTY").empty());
}

void expect_toml_error_on_line(const std::string& text, std::size_t line) {
  try {
    (void)parse_secrets_toml(text);
    ADD_FAILURE() << "expected a parse error on line " << line;
  } catch (const SecretsParseError& error) {
    EXPECT_EQ(error.line(), line) << error.what();
    expect_no_canary(error.what());
  }
}

// Found by the secrets_file fuzzer on the sanitizer build: a table header
// without a key breaks an assertion inside toml++; with it compiled out (as
// in release, and now everywhere) the text is a parse error like any other.
TEST(SecretsToml, ATableHeaderWithoutAKeyIsAParseError) {
  expect_toml_error_on_line(" [;9;", 1);
  expect_toml_error_on_line("A = \"1\"\n[;]\n", 2);
}

// Found by the secrets_file fuzzer: toml++ (Debian 12) reaches
// __builtin_unreachable for some non-ASCII characters where it looks for
// whitespace, e.g. U+FECE after a blank. Such text is refused first.
TEST(SecretsToml, RefusesCharactersTheTomlLibraryCannotBeGivenSafelyByLine) {
  expect_toml_error_on_line(" \xef\xbb\x8e\nA=\ns\"\n", 1);
  expect_toml_error_on_line("OK = \"1\"\n\xc3\xa9 = \"2\"\n", 2);
  try {
    (void)parse_secrets_toml("A = \"1\"\n \xef\xbb\x8e\n");
    ADD_FAILURE() << "expected a refusal";
  } catch (const SecretsParseError& error) {
    EXPECT_NE(std::string(error.what()).find("U+FECE"), std::string::npos) << error.what();
  }
  EXPECT_EQ(parse_secrets_toml("A = \"\xc2\xa0\"\n").at("A").reveal(), "\xc2\xa0") << "U+00A0 is safe";
}

TEST(SecretsToml, RefusesNonStringsTablesArraysAndBadKeysByLine) {
  const std::string first = "OK = \"1\"\n";
  expect_toml_error_on_line(first + "NUMBER = 12345\n", 2);
  expect_toml_error_on_line(first + "FLAG = true\n", 2);
  expect_toml_error_on_line(first + "LIST = [\"" + std::string(kCanary) + "\"]\n", 2);
  expect_toml_error_on_line(first + "\n[section]\nKEY = \"" + std::string(kCanary) + "\"\n", 3);
  expect_toml_error_on_line(first + "INLINE = { KEY = \"" + std::string(kCanary) + "\" }\n", 2);
  expect_toml_error_on_line(first + "dotted.key = \"" + std::string(kCanary) + "\"\n", 2);
  expect_toml_error_on_line(first + "\"quoted-key\" = \"" + std::string(kCanary) + "\"\n", 2);
  expect_toml_error_on_line(first + "9LIVES = \"" + std::string(kCanary) + "\"\n", 2);
}

TEST(SecretsToml, SyntaxErrorsNameTheLineButNeverQuoteTheInput) {
  const std::string canary(kCanary);
  expect_toml_error_on_line("A = \"1\"\nB = \"" + canary + "\n", 2);            // unterminated string
  expect_toml_error_on_line("A = \"1\"\n\nB = " + canary + "\n", 3);            // bare value
  expect_toml_error_on_line("A = \"1\"\nA = \"" + canary + "\"\n", 2);          // duplicate key
  expect_toml_error_on_line("A = \"" + canary + "\" junk\n", 1);                // trailing text
  expect_toml_error_on_line("A = \"\\q" + canary + "\"\n", 1);                  // bad escape
  expect_toml_error_on_line(canary + "\n", 1);                                  // no '='
}

TEST(SecretsToml, NulBytesInvalidUtf8AndHugeLinesAreRefusedByLine) {
  using namespace std::string_literals;
  expect_toml_error_on_line("A = \"1\"\nB = \""s + std::string(kCanary) + "\0\"\n"s, 2);
  expect_toml_error_on_line("A = \"1\"\n# \xC0\x80 comment\n", 2);
  expect_toml_error_on_line("A = \"1\"\nB = \"" + std::string(kCanary) + "\xED\xA0\x80\"\n", 2);
  expect_toml_error_on_line("A = \"" + std::string(kMaxDotenvLineBytes, 'x') + "\"\n", 1);
}

TEST(SecretsToml, ParseSecretsDispatchesOnTheFormat) {
  EXPECT_EQ(parse_secrets("A = \"1\"\n", SecretFileFormat::toml).at("A").reveal(), "1");
  EXPECT_EQ(parse_secrets("A=1\n", SecretFileFormat::dotenv).at("A").reveal(), "1");
  EXPECT_THROW((void)parse_secrets("A=1\n", SecretFileFormat::automatic), std::invalid_argument);
}

TEST(EncryptedSecretFile, DecryptsParsesAndRefusesAWrongKeyWithoutLeaking) {
  const TempDir dir;
  const FernetKey key = generate_key();
  const std::string token = encrypt(key, kCanaryToml, std::chrono::system_clock::now());
  const fs::path path = write_file(dir / "prod.toml.fernet", token + "\n", 0600);
  EXPECT_EQ(load_encrypted_secret_file(path, key).at("PROD_TOKEN").reveal(), kCanary);

  const std::string message = secret_file_error([&] { (void)load_encrypted_secret_file(path, generate_key()); });
  EXPECT_TRUE(contains(message, "invalid token or wrong key")) << message;
  EXPECT_TRUE(contains(message, path.string())) << message;

  const fs::path bad_plaintext = write_file(
      dir / "bad.env.fernet", encrypt(key, "OK=1\n" + std::string(kCanary) + "\n", std::chrono::system_clock::now()),
      0600);
  EXPECT_TRUE(contains(secret_file_error([&] { (void)load_encrypted_secret_file(bad_plaintext, key); }), "line 2"));

  const fs::path garbage = write_file(dir / "garbage.env.fernet", std::string(kCanary), 0600);
  EXPECT_TRUE(contains(secret_file_error([&] { (void)load_encrypted_secret_file(garbage, key); }), "invalid token"));
  const fs::path directory = dir / "directory.env.fernet";
  fs::create_directory(directory);
  EXPECT_TRUE(contains(secret_file_error([&] { (void)load_encrypted_secret_file(directory, key); }), "directory"));
}

// ordergate run and ordergate doctor apply one rule to encrypted files: no
// access for group or others, as for plain secrets files.
TEST(EncryptedSecretFile, RefusesGroupOrOtherAccessLikeAPlainSecretsFile) {
  const TempDir dir;
  const FernetKey key = generate_key();
  const std::string token = encrypt(key, kCanaryToml, std::chrono::system_clock::now());
  for (const mode_t mode : {mode_t{0644}, mode_t{0640}, mode_t{0604}, mode_t{0660}}) {
    const fs::path path = write_file(dir / "loose.toml.fernet", token + "\n", mode);
    const std::string message = secret_file_error([&] { (void)load_encrypted_secret_file(path, key); });
    EXPECT_TRUE(contains(message, "group and others must have no access")) << message;
    EXPECT_TRUE(contains(message, "chmod 600 " + path.string())) << message;
    EXPECT_FALSE(contains(message, kCanary)) << message;
    fs::remove(path);
  }
  const fs::path read_only = write_file(dir / "read-only.toml.fernet", token + "\n", 0400);
  EXPECT_EQ(load_encrypted_secret_file(read_only, key).at("PROD_TOKEN").reveal(), kCanary);
}

}  // namespace
}  // namespace ordergate::security
