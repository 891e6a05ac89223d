#include "ordergate/security/fernet.hpp"

#include <openssl/evp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "ordergate/security/crypto.hpp"
#include "security/test_support.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace ordergate::security {
namespace {

using namespace std::chrono_literals;
using std::chrono::system_clock;
using testing::kCanary;

using Bytes = std::vector<std::uint8_t>;

constexpr std::size_t kHeaderBytes = 25;  // version, timestamp, IV
constexpr std::size_t kHmacBytes = 32;

system_clock::time_point at_seconds(std::int64_t seconds) {
  return system_clock::time_point(std::chrono::seconds(seconds));
}

Bytes decode(std::string_view token) {
  auto bytes = base64url_decode(token);
  if (!bytes) throw std::runtime_error("test token is not base64url");
  return *bytes;
}

std::string encode(const Bytes& bytes) { return base64url_encode(bytes.data(), bytes.size(), true); }

// Replaces the HMAC of a decoded token with a correct one, so that a test can
// change a signed field and see the check behind the HMAC refuse it.
std::string resign(const FernetKey& key, Bytes bytes) {
  bytes.resize(bytes.size() - kHmacBytes);
  const Sha256Digest mac =
      hmac_sha256(key.signing_key(), std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  bytes.insert(bytes.end(), mac.begin(), mac.end());
  return encode(bytes);
}

std::string random_text(std::size_t size) {
  std::string text(size, '\0');
  random_bytes(reinterpret_cast<std::uint8_t*>(text.data()), text.size());
  return text;
}

TEST(Fernet, RoundTripsEmptyBlockSizedAndLargePlaintexts) {
  const FernetKey key = generate_key();
  for (const std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{15}, std::size_t{16}, std::size_t{17},
                                 std::size_t{4096}, std::size_t{3 * 1024 * 1024 + 5}}) {
    const std::string plaintext = random_text(size);
    const std::string token = encrypt(key, plaintext, system_clock::now());
    EXPECT_EQ(decode(token).size(), kHeaderBytes + (size / 16 + 1) * 16 + kHmacBytes);
    const FernetResult result = decrypt(key, token, system_clock::now());
    ASSERT_TRUE(result.ok()) << "size " << size;
    EXPECT_TRUE(result.plaintext().equals(plaintext)) << "size " << size;
  }
}

TEST(Fernet, MatchesAKnownAnswerFromPythonCryptography) {
  // Key bytes 0..31, IV bytes 0..15, 1985-10-26T08:20:00Z, "hello": the token
  // Python's cryptography 38 produced with Fernet._encrypt_from_parts.
  Bytes raw(32);
  for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<std::uint8_t>(i);
  const std::optional<FernetKey> key = FernetKey::parse(encode(raw));
  ASSERT_TRUE(key.has_value());
  const std::uint8_t iv[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  const std::string expected =
      "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0OD4_9EBVfNSDZ7XtRxaHNdkW99QsUAt9pmRctkSzQxwX8ezo1JYkB0XAhlhuGaD6Beg==";
  EXPECT_EQ(detail::fernet_encrypt_with_iv(*key, "hello", 499162800, iv), expected);
  const FernetResult result = decrypt(*key, expected, at_seconds(499162800 + 30), 60s);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.plaintext().reveal(), "hello");
}

TEST(Fernet, TokenStartsWithVersionAndBigEndianTimestampAndIsPadded) {
  const FernetKey key = generate_key();
  const std::string token = encrypt(key, "x", at_seconds(0x0102030405));
  EXPECT_EQ(token.size() % 4, 0u);
  const Bytes bytes = decode(token);
  EXPECT_EQ(bytes[0], 0x80);
  EXPECT_EQ(Bytes(bytes.begin() + 1, bytes.begin() + 9), (Bytes{0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05}));
  EXPECT_NE(encrypt(key, "x", at_seconds(5)), encrypt(key, "x", at_seconds(5)));  // fresh IV
  EXPECT_THROW((void)encrypt(key, "x", at_seconds(-1)), std::invalid_argument);
}

TEST(Fernet, EveryTruncationIsAnInvalidToken) {
  const FernetKey key = generate_key();
  const std::string token = encrypt(key, std::string(kCanary) + std::string(40, 'x'), system_clock::now());
  const Bytes bytes = decode(token);
  for (std::size_t length = 0; length < bytes.size(); ++length) {
    const FernetResult result = decrypt(key, encode(Bytes(bytes.begin(), bytes.begin() + static_cast<long>(length))),
                                        system_clock::now());
    ASSERT_FALSE(result.ok()) << "length " << length;
    EXPECT_EQ(result.error(), FernetError::invalid_token);
    EXPECT_TRUE(result.plaintext().empty());
  }
  // Dropping only the '=' padding leaves a valid unpadded token.
  const std::size_t unpadded = std::min(token.find('='), token.size());
  for (std::size_t length = 0; length < unpadded; ++length) {
    EXPECT_FALSE(decrypt(key, token.substr(0, length), system_clock::now()).ok()) << "text length " << length;
  }
}

TEST(Fernet, BadBase64IsAnInvalidToken) {
  const FernetKey key = generate_key();
  std::string token = encrypt(key, "secret", system_clock::now());
  EXPECT_TRUE(decrypt(key, token, system_clock::now()).ok());
  EXPECT_TRUE(decrypt(key, token.substr(0, token.find('=')), system_clock::now()).ok());  // unpadded is fine
  for (const char bad : {'+', '/', ' ', '\n', '\0', '.', '\xC3'}) {
    std::string altered = token;
    altered[10] = bad;
    EXPECT_EQ(decrypt(key, altered, system_clock::now()).error(), FernetError::invalid_token) << int(bad);
  }
  EXPECT_FALSE(decrypt(key, token + "\n", system_clock::now()).ok());
  EXPECT_FALSE(decrypt(key, token + "A", system_clock::now()).ok());
  EXPECT_FALSE(decrypt(key, "", system_clock::now()).ok());
  EXPECT_FALSE(decrypt(key, std::string(kCanary), system_clock::now()).ok());
}

TEST(Fernet, AnyFlippedBitIsAnInvalidTokenWhetherInHeaderCiphertextOrHmac) {
  const FernetKey key = generate_key();
  const std::string plaintext = std::string(kCanary) + " and more";
  const Bytes bytes = decode(encrypt(key, plaintext, system_clock::now()));
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (const std::uint8_t mask : {std::uint8_t{0x01}, std::uint8_t{0x80}}) {
      Bytes altered = bytes;
      altered[i] ^= mask;
      const FernetResult result = decrypt(key, encode(altered), system_clock::now(), 3600s);
      ASSERT_FALSE(result.ok()) << "byte " << i;
      EXPECT_EQ(result.error(), FernetError::invalid_token) << "byte " << i;
    }
  }
}

TEST(Fernet, AWrongKeyIsTheSameFailureAsTampering) {
  const FernetKey key = generate_key();
  const std::string token = encrypt(key, kCanary, system_clock::now());
  const FernetResult result = decrypt(generate_key(), token, system_clock::now());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error(), FernetError::invalid_token);
  EXPECT_EQ(describe(result.error()), "invalid token or wrong key");
}

TEST(Fernet, AWrongVersionIsRefusedEvenWhenCorrectlySigned) {
  const FernetKey key = generate_key();
  Bytes bytes = decode(encrypt(key, "x", system_clock::now()));
  for (const std::uint8_t version : {std::uint8_t{0x00}, std::uint8_t{0x81}, std::uint8_t{0xFF}}) {
    bytes[0] = version;
    EXPECT_EQ(decrypt(key, resign(key, bytes), system_clock::now()).error(), FernetError::invalid_token);
  }
}

TEST(Fernet, SignedButMalformedCiphertextIsRefused) {
  const FernetKey key = generate_key();
  const Bytes good = decode(encrypt(key, "0123456789abcdef-and-more", system_clock::now()));

  Bytes partial_block = good;  // ciphertext not a whole number of blocks
  partial_block.erase(partial_block.begin() + kHeaderBytes);
  EXPECT_EQ(decrypt(key, resign(key, partial_block), system_clock::now()).error(), FernetError::invalid_token);

  Bytes no_ciphertext(good.begin(), good.begin() + kHeaderBytes);
  no_ciphertext.resize(no_ciphertext.size() + kHmacBytes);
  EXPECT_EQ(decrypt(key, resign(key, no_ciphertext), system_clock::now()).error(), FernetError::invalid_token);

  // A block whose PKCS#7 padding is wrong, encrypted without padding and signed.
  Bytes bad_padding(good.begin(), good.begin() + kHeaderBytes);
  std::uint8_t block[16] = {};
  std::uint8_t encrypted[32] = {};
  int length = 0;
  EVP_CIPHER_CTX* context = EVP_CIPHER_CTX_new();
  ASSERT_NE(context, nullptr);
  ASSERT_EQ(EVP_EncryptInit_ex(context, EVP_aes_128_cbc(), nullptr,
                               reinterpret_cast<const unsigned char*>(key.encryption_key().data()),
                               good.data() + 9),
            1);
  EVP_CIPHER_CTX_set_padding(context, 0);
  ASSERT_EQ(EVP_EncryptUpdate(context, encrypted, &length, block, sizeof block), 1);
  EVP_CIPHER_CTX_free(context);
  ASSERT_EQ(length, 16);
  bad_padding.insert(bad_padding.end(), encrypted, encrypted + 16);
  bad_padding.resize(bad_padding.size() + kHmacBytes);
  EXPECT_EQ(decrypt(key, resign(key, bad_padding), system_clock::now()).error(), FernetError::invalid_token);
}

TEST(Fernet, TtlRefusesOldAndFutureTokensOnlyAfterTheHmacPasses) {
  const FernetKey key = generate_key();
  const std::int64_t made = 1'700'000'000;
  const std::string token = encrypt(key, "x", at_seconds(made));
  EXPECT_TRUE(decrypt(key, token, at_seconds(made + 10'000'000)).ok());  // no TTL, no age limit
  EXPECT_TRUE(decrypt(key, token, at_seconds(made + 60), 60s).ok());
  EXPECT_EQ(decrypt(key, token, at_seconds(made + 61), 60s).error(), FernetError::expired);
  EXPECT_TRUE(decrypt(key, token, at_seconds(made - 60), 60s).ok());  // within the clock skew
  EXPECT_EQ(decrypt(key, token, at_seconds(made - 61), 60s).error(), FernetError::future_timestamp);

  Bytes tampered = decode(token);
  tampered[kHeaderBytes] ^= 1;
  EXPECT_EQ(decrypt(key, encode(tampered), at_seconds(made + 1000), 60s).error(), FernetError::invalid_token);
  EXPECT_EQ(describe(FernetError::expired), "token expired");
}

TEST(FernetKey, ParsesFortyFourCharactersPaddedOrNotAndNothingElse) {
  const FernetKey key = generate_key();
  const Secret text = key.text();
  ASSERT_EQ(text.size(), FernetKey::kTextLength);
  EXPECT_EQ(text.reveal().back(), '=');
  const std::string padded(text.reveal());
  ASSERT_TRUE(FernetKey::parse(padded).has_value());
  EXPECT_TRUE(FernetKey::parse(padded)->text() == text);
  EXPECT_TRUE(FernetKey::parse(padded.substr(0, 43)).has_value());
  EXPECT_TRUE(FernetKey::parse(" " + padded + "\r\n").has_value());

  Bytes raw(31, 7);
  EXPECT_FALSE(FernetKey::parse(encode(raw)).has_value());
  raw.resize(33, 7);
  EXPECT_FALSE(FernetKey::parse(encode(raw)).has_value());
  std::string standard_alphabet = padded;
  standard_alphabet[3] = '+';
  EXPECT_FALSE(FernetKey::parse(standard_alphabet).has_value());
  EXPECT_FALSE(FernetKey::parse("").has_value());
  EXPECT_FALSE(FernetKey::parse(std::string(44, '=')).has_value());

  std::ostringstream out;
  out << key;
  EXPECT_EQ(out.str(), "***");
}

// --- Interoperability with Python's cryptography.fernet -------------------

struct ProcessResult {
  int exit_code = -1;
  std::string output;
};

// Debian's interpreter (with python3-cryptography) unless ORDERGATE_TEST_PYTHON
// names another one.
std::string python_interpreter() {
  if (const char* chosen = std::getenv("ORDERGATE_TEST_PYTHON"); chosen != nullptr && *chosen != '\0') return chosen;
  if (::access("/usr/bin/python3", X_OK) == 0) return "/usr/bin/python3";
  return "python3";
}

// Runs `python3 -I -c script` as a real child process with `input` on stdin
// and `key` in the environment variable OG_TEST_FERNET_KEY (never in argv),
// and returns its exit code and stdout.
ProcessResult run_python(const std::string& script, std::string_view input, std::string_view key) {
  ::signal(SIGPIPE, SIG_IGN);  // a child that dies early must fail the test, not kill it
  int to_child[2];
  int from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0) throw std::runtime_error("pipe");

  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) environment.emplace_back(*entry);
  environment.push_back("OG_TEST_FERNET_KEY=" + std::string(key));
  std::vector<char*> envp;
  for (std::string& entry : environment) envp.push_back(entry.data());
  envp.push_back(nullptr);

  std::string interpreter = python_interpreter();
  std::string isolated = "-I";
  std::string command = "-c";
  std::string code = script;
  char* argv[] = {interpreter.data(), isolated.data(), command.data(), code.data(), nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, to_child[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, from_child[1], STDOUT_FILENO);
  pid_t pid = 0;
  const int spawned = ::posix_spawnp(&pid, interpreter.c_str(), &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(to_child[0]);
  ::close(from_child[1]);
  ProcessResult result;
  if (spawned != 0) {
    ::close(to_child[1]);
    ::close(from_child[0]);
    ADD_FAILURE() << "cannot start " << interpreter << ": " << std::strerror(spawned);
    return result;
  }

  // The scripts read all of stdin before they write, so writing everything
  // first and then reading cannot deadlock.
  std::size_t written = 0;
  while (written < input.size()) {
    const ssize_t count = ::write(to_child[1], input.data() + written, input.size() - written);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) break;
    written += static_cast<std::size_t>(count);
  }
  ::close(to_child[1]);
  char buffer[65536];
  while (true) {
    const ssize_t count = ::read(from_child[0], buffer, sizeof buffer);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) break;
    result.output.append(buffer, static_cast<std::size_t>(count));
  }
  ::close(from_child[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

const std::string kPythonEncrypt =
    "import os, sys\n"
    "from cryptography.fernet import Fernet\n"
    "data = sys.stdin.buffer.read()\n"
    "sys.stdout.write(Fernet(os.environb[b'OG_TEST_FERNET_KEY']).encrypt(data).decode('ascii'))\n";

const std::string kPythonDecryptDigest =
    "import hashlib, os, sys\n"
    "from cryptography.fernet import Fernet, InvalidToken\n"
    "token = sys.stdin.buffer.read()\n"
    "try:\n"
    "    data = Fernet(os.environb[b'OG_TEST_FERNET_KEY']).decrypt(token)\n"
    "except InvalidToken:\n"
    "    print('InvalidToken')\n"
    "    sys.exit(3)\n"
    "print(hashlib.sha256(data).hexdigest(), len(data))\n";

const std::string kPythonGenerateKey =
    "import sys\n"
    "from cryptography.fernet import Fernet\n"
    "sys.stdin.buffer.read()\n"
    "sys.stdout.write(Fernet.generate_key().decode('ascii'))\n";

std::string digest_line(std::string_view plaintext) {
  return to_hex(sha256(plaintext)) + " " + std::to_string(plaintext.size()) + "\n";
}

TEST(FernetInterop, PythonCryptographyIsAvailable) {
  const ProcessResult result =
      run_python("import cryptography, sys\nfrom cryptography.fernet import Fernet\nsys.stdin.buffer.read()\n"
                 "print(cryptography.__version__)\n",
                 "", "");
  ASSERT_EQ(result.exit_code, 0) << python_interpreter()
                                 << " cannot import cryptography.fernet: install python3-cryptography "
                                    "(tools/bootstrap) or set ORDERGATE_TEST_PYTHON";
  std::cout << "[          ] " << python_interpreter() << ", cryptography " << result.output;
}

TEST(FernetInterop, PythonEncryptsAndOrdergateDecrypts) {
  const FernetKey key = generate_key();
  for (const std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{16}, std::size_t{100'000}}) {
    const std::string plaintext = size == 1 ? std::string("\0", 1) : random_text(size);
    const ProcessResult python = run_python(kPythonEncrypt, plaintext, key.text().reveal());
    ASSERT_EQ(python.exit_code, 0) << "size " << size;
    const FernetResult result = decrypt(key, python.output, system_clock::now(), 60s);
    ASSERT_TRUE(result.ok()) << "size " << size << ": " << describe(result.error());
    EXPECT_TRUE(result.plaintext().equals(plaintext)) << "size " << size;
    EXPECT_EQ(decrypt(generate_key(), python.output, system_clock::now()).error(), FernetError::invalid_token);
  }
}

TEST(FernetInterop, OrdergateEncryptsAndPythonDecrypts) {
  const FernetKey key = generate_key();
  for (const std::size_t size : {std::size_t{0}, std::size_t{15}, std::size_t{16}, std::size_t{100'000}}) {
    const std::string plaintext = random_text(size);
    const std::string token = encrypt(key, plaintext, system_clock::now());
    const ProcessResult python = run_python(kPythonDecryptDigest, token, key.text().reveal());
    ASSERT_EQ(python.exit_code, 0) << "size " << size << ": " << python.output;
    EXPECT_EQ(python.output, digest_line(plaintext)) << "size " << size;
  }
}

TEST(FernetInterop, PythonRejectsWhatOrdergateRejects) {
  const FernetKey key = generate_key();
  Bytes bytes = decode(encrypt(key, kCanary, system_clock::now()));
  bytes[kHeaderBytes + 3] ^= 0x10;
  const std::string tampered = encode(bytes);
  EXPECT_EQ(decrypt(key, tampered, system_clock::now()).error(), FernetError::invalid_token);
  const ProcessResult python = run_python(kPythonDecryptDigest, tampered, key.text().reveal());
  EXPECT_EQ(python.exit_code, 3);
  EXPECT_EQ(python.output, "InvalidToken\n");
}

TEST(FernetInterop, KeysGeneratedByPythonWorkInOrdergateAndBack) {
  const ProcessResult generated = run_python(kPythonGenerateKey, "", "");
  ASSERT_EQ(generated.exit_code, 0);
  const std::optional<FernetKey> key = FernetKey::parse(generated.output);
  ASSERT_TRUE(key.has_value());
  EXPECT_TRUE(key->text().equals(generated.output));
  const std::string plaintext = "PROD_OANDA_TOKEN=" + std::string(kCanary) + "\n";
  const ProcessResult python = run_python(kPythonDecryptDigest, encrypt(*key, plaintext, system_clock::now()),
                                          generated.output);
  ASSERT_EQ(python.exit_code, 0);
  EXPECT_EQ(python.output, digest_line(plaintext));
}

}  // namespace
}  // namespace ordergate::security
