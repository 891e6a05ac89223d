#pragma once

/// \file
/// Secrets files: plain files holding credentials, in TOML or `.env` format.
///
/// A secrets file is read only when it is
///   - a regular file, reached without following a symbolic link (lstat, then
///     open with O_NOFOLLOW and fstat of the same inode),
///   - owned by the effective user running ordergate (geteuid()),
///   - without any permission bit for group or others, nor setuid, setgid or
///     sticky bits: mode 0600 or 0400,
///   - at most `kMaxSecretFileBytes` long.
/// Anything else throws `SecretFileError` naming the file, what is wrong
/// (its mode, its owner, its type) and what to do (`chmod 600 FILE`); no
/// message ever contains a byte of the file.
///
/// TOML format: one flat table of string values, keys as in `.env`
/// (`[A-Za-z_][A-Za-z0-9_]*`):
///
///     OANDA_TOKEN = "..."
///     BINANCE_SECRET = '...'
///
/// Tables, arrays and non-string values are refused, and so are NUL bytes,
/// invalid UTF-8 and lines over `kMaxDotenvLineBytes`. `.env` format: see
/// dotenv.hpp. Parse errors name the line number and the rule, never the
/// content (toml++'s own messages may quote the input and are not used).

#include <cstddef>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string_view>

#include "ordergate/security/dotenv.hpp"
#include "ordergate/security/fernet.hpp"
#include "ordergate/security/secret.hpp"

namespace ordergate::security {

enum class SecretFileFormat {
  automatic,  ///< from the file name, see `secret_file_format_from_name`
  toml,
  dotenv,
};

/// The largest secrets file ordergate reads.
inline constexpr std::size_t kMaxSecretFileBytes = std::size_t{1024} * 1024;

/// A secrets file that is missing, unsafe or malformed. The message names the
/// file and never contains its content.
class SecretFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The format a file name implies, ignoring a trailing `.fernet`:
/// `*.toml` is TOML; `.env`, `*.env` and `.env.*` are `.env`. nullopt for
/// any other name.
[[nodiscard]] std::optional<SecretFileFormat> secret_file_format_from_name(const std::filesystem::path& path);

/// Checks the file against the rules above without reading it. Throws
/// `SecretFileError` with what to do when a rule is broken.
void check_secret_file(const std::filesystem::path& path);

/// Checks the file, then reads all of it into a `Secret` (the temporary read
/// buffer is wiped).
[[nodiscard]] Secret read_secret_file(const std::filesystem::path& path);

/// The largest encrypted secrets file ordergate reads (a Fernet token of a
/// `kMaxSecretFileBytes` plaintext fits).
inline constexpr std::size_t kMaxEncryptedSecretFileBytes = 2 * kMaxSecretFileBytes;

/// Reads an encrypted secrets file: a Fernet token, surrounding whitespace
/// removed. It must be a regular file (symbolic links are followed) of at most
/// `kMaxEncryptedSecretFileBytes`, owned by the user running ordergate, with
/// no access for group or others (0600 or 0400), like a plain secrets file:
/// its content is authenticated, but a readable copy is one leaked key away
/// from a leaked secret, and `ordergate doctor` applies the same rule.
/// Throws `SecretFileError`.
[[nodiscard]] std::string read_encrypted_secret_file(const std::filesystem::path& path);

/// Reads, decrypts (no TTL) and parses an encrypted secrets file. The format
/// of the plaintext comes from the file name without `.fernet` unless given.
/// A wrong key or a tampered file is "invalid token or wrong key"; every
/// failure is a `SecretFileError` that never contains plaintext.
[[nodiscard]] SecretMap load_encrypted_secret_file(const std::filesystem::path& path, const FernetKey& key,
                                                   SecretFileFormat format = SecretFileFormat::automatic);

/// Parses a flat TOML table of strings (see above). Throws `SecretsParseError`.
[[nodiscard]] SecretMap parse_secrets_toml(std::string_view text);

/// Parses `text` as `format` (`automatic` throws std::invalid_argument).
[[nodiscard]] SecretMap parse_secrets(std::string_view text, SecretFileFormat format);

/// `read_secret_file` and `parse_secrets`; the format comes from the file name
/// unless given. Every failure, parse errors included, is a `SecretFileError`
/// such as "secrets file /etc/og/prod.toml, line 4: value must be a string".
[[nodiscard]] SecretMap load_secret_file(const std::filesystem::path& path,
                                         SecretFileFormat format = SecretFileFormat::automatic);

}  // namespace ordergate::security
