#pragma once

/// \file
/// systemd credentials as a secret source. A unit's `LoadCredential=` /
/// `LoadCredentialEncrypted=` lines make systemd place one file per
/// credential in a private directory (`$CREDENTIALS_DIRECTORY`, on a
/// non-swappable tmpfs, readable by the service's user only; an encrypted
/// credential is decrypted by systemd with the host's key or TPM2 before the
/// process starts). The file's name is the credential's name
/// (`PROD_OANDA_TOKEN`), its content the value.
///
/// Rules for each file read: a regular file opened relative to the
/// directory with `O_NOFOLLOW` (a symbolic link is refused, never followed
/// out of the directory), owned by the running user or root, no access for
/// others and no write access for the group, at most
/// `kMaxSystemdCredentialBytes`. One trailing newline is removed (so
/// `echo TOKEN | systemd-creds encrypt - ...` works). The read buffer is
/// wiped; the value lives only in a `Secret`. Messages name the directory
/// and the credential, never a value.

#include <cstddef>
#include <filesystem>
#include <string_view>

#include "ordergate/security/dotenv.hpp"

namespace ordergate::security {

/// Largest credential file read (systemd's own limit is 1 MiB; a broker key
/// is well under 1 KiB).
inline constexpr std::size_t kMaxSystemdCredentialBytes = std::size_t{64} * 1024;

/// The environment variable systemd sets for a service with credentials.
inline constexpr std::string_view kCredentialsDirectoryVariable = "CREDENTIALS_DIRECTORY";

/// Reads every credential in `directory` whose name starts with `prefix`
/// and is a valid key (letters, digits, `_`); other files are not opened.
/// Throws `SecretFileError` when the directory is not an absolute path to a
/// directory, or a matching file breaks a rule above.
[[nodiscard]] SecretMap load_systemd_credentials(const std::filesystem::path& directory, std::string_view prefix);

}  // namespace ordergate::security
