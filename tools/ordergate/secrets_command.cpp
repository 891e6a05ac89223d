// ordergate secrets: Fernet keys and encrypted secrets files.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "commands.hpp"
#include "ordergate/core/error_text.hpp"
#include "ordergate/security/fernet.hpp"
#include "ordergate/security/secret_file.hpp"

namespace ordergate::cli {
namespace {

constexpr int kOk = 0;
constexpr int kFailure = 1;
constexpr int kUsage = 2;

constexpr const char* kSecretsHelp =
    "usage: ordergate secrets keygen\n"
    "       ordergate secrets encrypt --key-env VAR --in FILE --out FILE [--force]\n"
    "       ordergate secrets decrypt --key-env VAR --in FILE (--out FILE | --stdout) [--force]\n"
    "\n"
    "Encrypted secrets files use the Fernet format (Python's cryptography.fernet\n"
    "reads and writes the same files). The key is always taken from an environment\n"
    "variable, never from the command line. 'ordergate secrets <command> --help'\n"
    "describes a command; see docs/secrets.md.\n";

constexpr const char* kKeygenHelp =
    "usage: ordergate secrets keygen\n"
    "\n"
    "Prints a new random Fernet key (44 characters) on standard output. It is not\n"
    "stored anywhere: keep it in an environment variable or a password manager, for\n"
    "example  export ORDERGATE_SECRETS_KEY=\"$(ordergate secrets keygen)\"\n";

constexpr const char* kEncryptHelp =
    "usage: ordergate secrets encrypt --key-env VAR --in FILE --out FILE [--force]\n"
    "\n"
    "Encrypts FILE (at most 1 MiB) with the Fernet key in environment variable VAR\n"
    "and writes the token to --out, created with mode 0600. An existing --out file\n"
    "is replaced only with --force. When the --out name says the format of the\n"
    "plaintext (NAME.toml.fernet, NAME.env.fernet), the plaintext is checked first.\n"
    "Delete the plaintext file afterwards.\n";

constexpr const char* kDecryptHelp =
    "usage: ordergate secrets decrypt --key-env VAR --in FILE --out FILE [--force]\n"
    "       ordergate secrets decrypt --key-env VAR --in FILE --stdout\n"
    "\n"
    "Decrypts the Fernet token in FILE with the key in environment variable VAR.\n"
    "The plaintext goes only where you choose: to --out (created with mode 0600; an\n"
    "existing file is replaced only with --force), or with --stdout to the terminal.\n"
    "--stdout refuses to write into a pipe or a file.\n";

struct Options {
  std::optional<std::string> key_env;
  std::optional<std::string> in;
  std::optional<std::string> out;
  bool force = false;
  bool to_stdout = false;
  bool help = false;
};

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses the options after the subcommand name; every option at most once.
Options parse_options(const Args& args, bool allow_stdout) {
  Options options;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    const auto take_value = [&](std::optional<std::string>& slot) {
      if (slot) throw UsageError(arg + " is given twice");
      if (i + 1 >= args.size() || args[i + 1].empty()) throw UsageError(arg + " needs a value");
      slot = args[++i];
    };
    if (arg == "--help" || arg == "-h") {
      options.help = true;
    } else if (arg == "--key-env") {
      take_value(options.key_env);
    } else if (arg == "--in") {
      take_value(options.in);
    } else if (arg == "--out") {
      take_value(options.out);
    } else if (arg == "--force") {
      options.force = true;
    } else if (arg == "--stdout" && allow_stdout) {
      options.to_stdout = true;
    } else {
      // Never echo an unknown argument: it may be a key pasted by mistake.
      throw UsageError("unknown option or extra argument at position " + std::to_string(i) + " after '" + args[0] +
                       "' (see --help)");
    }
  }
  return options;
}

// A key from the environment variable `name`; throws with what to do.
security::FernetKey key_from_environment(const std::string& name) {
  if (!security::is_valid_secret_key(name)) {
    throw UsageError("--key-env takes the NAME of an environment variable that holds the key, not a key");
  }
  const char* text = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe): CLI, one thread, no setenv
  if (text == nullptr || *text == '\0') {
    throw std::runtime_error("environment variable " + name +
                             " is not set: export it with the key from 'ordergate secrets keygen'");
  }
  std::optional<security::FernetKey> key = security::FernetKey::parse(text);
  if (!key) {
    throw std::runtime_error("environment variable " + name +
                             " does not hold a Fernet key (44 base64url characters, as printed by "
                             "'ordergate secrets keygen')");
  }
  return std::move(*key);
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) noexcept : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  [[nodiscard]] int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

[[noreturn]] void fail(const std::string& what, const std::string& path, int error) {
  throw std::runtime_error(what + " " + path + ": " + error_text(error));
}

// Reads a plaintext input file (regular, at most kMaxSecretFileBytes) into a
// Secret; the read buffer is wiped.
security::Secret read_plaintext(const std::string& path) {
  const FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (file.get() < 0) fail("cannot open", path, errno);
  struct stat status {};
  if (::fstat(file.get(), &status) != 0) fail("cannot inspect", path, errno);
  if (!S_ISREG(status.st_mode)) throw std::runtime_error(path + " is not a regular file");
  if (static_cast<std::uintmax_t>(status.st_size) > security::kMaxSecretFileBytes) {
    throw std::runtime_error(path + " is larger than the " + std::to_string(security::kMaxSecretFileBytes) +
                             "-byte limit for secrets files");
  }
  const std::size_t size = static_cast<std::size_t>(status.st_size);
  const auto buffer = std::make_unique<char[]>(size + 1);
  std::size_t length = 0;
  while (length <= size) {
    const ssize_t count = ::read(file.get(), buffer.get() + length, size + 1 - length);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) {
      security::wipe(buffer.get(), size + 1);
      fail("cannot read", path, errno);
    }
    if (count == 0) break;
    length += static_cast<std::size_t>(count);
  }
  security::Secret content(std::string_view(buffer.get(), length));
  security::wipe(buffer.get(), size + 1);
  if (length != size) throw std::runtime_error(path + " changed while it was being read; try again");
  return content;
}

void write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t count = ::write(fd, data.data(), data.size());
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) fail("cannot write", path, count < 0 ? errno : EIO);
    data.remove_prefix(static_cast<std::size_t>(count));
  }
}

// Writes `data` to a file only its owner can read (0600). Without `force`
// an existing file is left alone; with it, the file is replaced atomically
// (a new 0600 file renamed over it, never the old file's permissions).
void write_private_file(const std::string& path, std::string_view data, bool force) {
  if (!force) {
    FileDescriptor file(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (file.get() < 0) {
      if (errno == EEXIST) throw std::runtime_error(path + " already exists: refusing to overwrite it (add --force)");
      fail("cannot create", path, errno);
    }
    try {
      if (::fchmod(file.get(), 0600) != 0) fail("cannot chmod", path, errno);
      write_all(file.get(), data, path);
      if (::fsync(file.get()) != 0) fail("cannot sync", path, errno);
      if (::close(file.release()) != 0) fail("cannot close", path, errno);
    } catch (...) {
      ::unlink(path.c_str());
      throw;
    }
    return;
  }
  std::string temporary = path + ".tmp-XXXXXX";
  FileDescriptor file(::mkostemp(temporary.data(), O_CLOEXEC));  // mode 0600
  if (file.get() < 0) fail("cannot create a temporary file next to", path, errno);
  try {
    if (::fchmod(file.get(), 0600) != 0) fail("cannot chmod", temporary, errno);
    write_all(file.get(), data, temporary);
    if (::fsync(file.get()) != 0) fail("cannot sync", temporary, errno);
    if (::close(file.release()) != 0) fail("cannot close", temporary, errno);
    if (::rename(temporary.c_str(), path.c_str()) != 0) fail("cannot replace", path, errno);
  } catch (...) {
    ::unlink(temporary.c_str());
    throw;
  }
}

int usage_error(const char* subcommand, const char* help, const std::string& what) {
  std::fprintf(stderr, "ordergate secrets %s: %s\n\n%s", subcommand, what.c_str(), help);
  return kUsage;
}

int keygen(const Args& args) {
  if (args.size() == 2 && (args[1] == "--help" || args[1] == "-h")) {
    std::fputs(kKeygenHelp, stdout);
    return kOk;
  }
  if (args.size() != 1) return usage_error("keygen", kKeygenHelp, "keygen takes no arguments");
  const security::Secret text = security::generate_key().text();
  // Straight to the descriptor: no copy of the key left in a stdio buffer.
  write_all(STDOUT_FILENO, text.reveal(), "standard output");
  write_all(STDOUT_FILENO, "\n", "standard output");
  std::fputs(
      "ordergate secrets keygen: the key above decrypts every file encrypted with it and is stored nowhere.\n"
      "Keep it in an environment variable (export ORDERGATE_SECRETS_KEY=...) or a password manager;\n"
      "never in the repository or next to the encrypted files.\n",
      stderr);
  return kOk;
}

int encrypt(const Args& args) {
  const Options options = parse_options(args, /*allow_stdout=*/false);
  if (options.help) {
    std::fputs(kEncryptHelp, stdout);
    return kOk;
  }
  if (!options.key_env || !options.in || !options.out) {
    return usage_error("encrypt", kEncryptHelp, "--key-env, --in and --out are required");
  }
  const security::FernetKey key = key_from_environment(*options.key_env);
  const security::Secret plaintext = read_plaintext(*options.in);
  if (const auto format = security::secret_file_format_from_name(*options.out)) {
    try {
      (void)security::parse_secrets(plaintext.reveal(), *format);
    } catch (const security::SecretsParseError& error) {
      throw std::runtime_error(*options.in + ", " + error.what() + " (the --out name says it is " +
                               (*format == security::SecretFileFormat::toml ? "TOML" : ".env") + " text)");
    }
  }
  const std::string token = security::encrypt(key, plaintext.reveal(), std::chrono::system_clock::now());
  write_private_file(*options.out, token + "\n", options.force);
  std::fprintf(stderr, "ordergate secrets encrypt: wrote %s (mode 0600); delete the plaintext %s when done\n",
               options.out->c_str(), options.in->c_str());
  return kOk;
}

int decrypt(const Args& args) {
  const Options options = parse_options(args, /*allow_stdout=*/true);
  if (options.help) {
    std::fputs(kDecryptHelp, stdout);
    return kOk;
  }
  if (!options.key_env || !options.in) return usage_error("decrypt", kDecryptHelp, "--key-env and --in are required");
  if (options.out.has_value() == options.to_stdout) {
    return usage_error("decrypt", kDecryptHelp, "choose where the plaintext goes: --out FILE or --stdout");
  }
  if (options.to_stdout && options.force) return usage_error("decrypt", kDecryptHelp, "--force goes with --out");
  if (options.to_stdout && ::isatty(STDOUT_FILENO) != 1) {
    std::fputs(
        "ordergate secrets decrypt: refusing --stdout: standard output is not a terminal, and a pipe or file\n"
        "would keep the decrypted secrets. Use --out FILE (created with mode 0600).\n",
        stderr);
    return kFailure;
  }
  const security::FernetKey key = key_from_environment(*options.key_env);
  const std::string token = security::read_encrypted_secret_file(*options.in);
  const security::FernetResult result = security::decrypt(key, token, std::chrono::system_clock::now());
  if (!result) {
    throw std::runtime_error(*options.in + ": " + std::string(security::describe(result.error())) +
                             " (was it encrypted with the key in " + *options.key_env + "?)");
  }
  const std::string_view plaintext = result.plaintext().reveal();
  if (options.to_stdout) {
    write_all(STDOUT_FILENO, plaintext, "standard output");
    return kOk;
  }
  write_private_file(*options.out, plaintext, options.force);
  std::fprintf(stderr, "ordergate secrets decrypt: wrote %s (mode 0600)\n", options.out->c_str());
  return kOk;
}

}  // namespace

int secrets_command(const Args& args) {
  if (args.empty()) {
    std::fputs(kSecretsHelp, stderr);
    return kUsage;
  }
  const std::string& subcommand = args[0];
  if (subcommand == "--help" || subcommand == "-h") {
    std::fputs(kSecretsHelp, stdout);
    return kOk;
  }
  const char* name = subcommand.c_str();
  const char* help = kSecretsHelp;
  int (*run)(const Args&) = nullptr;
  if (subcommand == "keygen") {
    run = keygen;
    help = kKeygenHelp;
  } else if (subcommand == "encrypt") {
    run = encrypt;
    help = kEncryptHelp;
  } else if (subcommand == "decrypt") {
    run = decrypt;
    help = kDecryptHelp;
  } else {
    std::fputs("ordergate secrets: unknown command (keygen, encrypt or decrypt)\n\n", stderr);
    std::fputs(kSecretsHelp, stderr);
    return kUsage;
  }
  try {
    return run(args);
  } catch (const UsageError& error) {
    return usage_error(name, help, error.what());
  } catch (const std::exception& error) {
    // Messages name files and variables, never keys or plaintext.
    std::fprintf(stderr, "ordergate secrets %s: %s\n", name, error.what());
    return kFailure;
  }
}

}  // namespace ordergate::cli
