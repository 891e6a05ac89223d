#pragma once

// Internal: what every reader of a secret file needs, so each does it the
// same way: a descriptor closed on every path out, a buffer wiped on every
// path out, and a read loop that fills the buffer or stops at the end.

#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <memory>

#include "ordergate/security/secret.hpp"

namespace ordergate::security::detail {

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) noexcept : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  [[nodiscard]] int get() const noexcept { return fd_; }

 private:
  int fd_;
};

class WipedBuffer {
 public:
  explicit WipedBuffer(std::size_t size) : data_(std::make_unique<char[]>(size)), size_(size) {}
  ~WipedBuffer() { wipe(data_.get(), size_); }
  WipedBuffer(const WipedBuffer&) = delete;
  WipedBuffer& operator=(const WipedBuffer&) = delete;
  [[nodiscard]] char* data() noexcept { return data_.get(); }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t size_;
};

/// Reads `fd` into `buffer` until it is full or the file ends; returns how
/// many bytes it read, or -1 with `error` set to the errno of a failed read.
/// A caller sizes the buffer one byte past the most it accepts, so a full
/// buffer means a file larger than that (or one that grew).
inline std::ptrdiff_t read_into(int fd, WipedBuffer& buffer, int& error) noexcept {
  std::size_t length = 0;
  while (length < buffer.size()) {
    const ssize_t count = ::read(fd, buffer.data() + length, buffer.size() - length);
    if (count < 0) {
      if (errno == EINTR) continue;
      error = errno;
      return -1;
    }
    if (count == 0) break;
    length += static_cast<std::size_t>(count);
  }
  return static_cast<std::ptrdiff_t>(length);
}

}  // namespace ordergate::security::detail
