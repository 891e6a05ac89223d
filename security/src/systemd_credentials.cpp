#include "ordergate/security/systemd_credentials.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

#include "ordergate/core/error_text.hpp"
#include "ordergate/security/secret.hpp"
#include "ordergate/security/secret_file.hpp"
#include "file_guards.hpp"

namespace ordergate::security {
namespace {

namespace fs = std::filesystem;

Secret read_credential(int directory_fd, const fs::path& directory, const std::string& name) {
  const std::string where = "systemd credential " + name + " in " + directory.string();
  const detail::FileDescriptor file(::openat(directory_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (file.get() < 0) {
    const int error = errno;
    if (error == ELOOP) {
      throw SecretFileError(where + " is a symbolic link: credentials are read only from regular files in the directory");
    }
    throw SecretFileError("cannot open " + where + ": " + error_text(error));
  }
  struct stat status {};
  if (::fstat(file.get(), &status) != 0) throw SecretFileError("cannot stat " + where + ": " + error_text(errno));
  if (!S_ISREG(status.st_mode)) throw SecretFileError(where + " is not a regular file");
  if (status.st_uid != ::geteuid() && status.st_uid != 0) {
    throw SecretFileError(where + " is owned by uid " + std::to_string(status.st_uid) +
                          ", neither the running user nor root");
  }
  if ((status.st_mode & (S_IRWXO | S_IWGRP | S_ISUID | S_ISGID | S_ISVTX)) != 0) {
    throw SecretFileError(where + " is accessible to others or writable by its group: systemd creates credentials "
                          "with mode 0400; check how the directory was made");
  }
  if (static_cast<std::size_t>(status.st_size) > kMaxSystemdCredentialBytes) {
    throw SecretFileError(where + " is larger than " + std::to_string(kMaxSystemdCredentialBytes) + " bytes");
  }
  // One byte more than the limit tells a file that grew after fstat.
  detail::WipedBuffer buffer(kMaxSystemdCredentialBytes + 1);
  int error = 0;
  const std::ptrdiff_t got = detail::read_into(file.get(), buffer, error);
  if (got < 0) throw SecretFileError("cannot read " + where + ": " + error_text(error));
  std::size_t length = static_cast<std::size_t>(got);
  if (length > kMaxSystemdCredentialBytes) {
    throw SecretFileError(where + " is larger than " + std::to_string(kMaxSystemdCredentialBytes) + " bytes");
  }
  if (length > 0 && buffer.data()[length - 1] == '\n') --length;
  return Secret(std::string_view(buffer.data(), length));
}

}  // namespace

SecretMap load_systemd_credentials(const fs::path& directory, std::string_view prefix) {
  if (!directory.is_absolute()) {
    throw SecretFileError("$" + std::string(kCredentialsDirectoryVariable) + " (" + directory.string() +
                          ") is not an absolute path");
  }
  const detail::FileDescriptor directory_fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (directory_fd.get() < 0) {
    throw SecretFileError("cannot open the systemd credentials directory " + directory.string() + ": " +
                          error_text(errno));
  }
  struct stat status {};
  if (::fstat(directory_fd.get(), &status) != 0 || (status.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    throw SecretFileError("the systemd credentials directory " + directory.string() +
                          " is writable by group or others");
  }
  SecretMap values;
  std::error_code error;
  // The listing gives names only; every file is opened relative to the
  // directory already opened, without following links.
  for (fs::directory_iterator entry(directory, error), end; !error && entry != end; entry.increment(error)) {
    std::string name = entry->path().filename().string();
    if (!name.starts_with(prefix) || !is_valid_secret_key(name)) continue;
    Secret value = read_credential(directory_fd.get(), directory, name);
    values.emplace(std::move(name), std::move(value));
  }
  if (error) {
    throw SecretFileError("cannot list the systemd credentials directory " + directory.string() + ": " +
                          error.message());
  }
  return values;
}

}  // namespace ordergate::security
