#pragma once

/// \file
/// `Secret`: the only type that holds a credential (broker token, API key,
/// client token, HMAC key). It cannot be printed, logged or converted to a
/// string by accident: every stream path writes `***`; the value is reached
/// only through the explicitly named `reveal()`. It compares in constant time
/// and wipes its memory when destroyed or moved from.

#include <cstddef>
#include <memory>
#include <ostream>
#include <string_view>

namespace ordergate::security {

class Secret {
 public:
  Secret() noexcept = default;
  /// Copies `value` into wiped-on-destruction storage. The caller should wipe
  /// its own copy (see `wipe`).
  explicit Secret(std::string_view value);
  ~Secret();

  Secret(Secret&& other) noexcept;
  Secret& operator=(Secret&& other) noexcept;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;

  /// An explicit copy, for the rare place that needs two owners.
  [[nodiscard]] Secret clone() const;

  /// The value itself. Named so that every use stands out in review; never
  /// pass the result to a logger, an exception or a reply.
  [[nodiscard]] std::string_view reveal() const noexcept { return {data_.get(), size_}; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

  /// Constant-time comparison (CRYPTO_memcmp); the length is not secret.
  [[nodiscard]] bool equals(std::string_view candidate) const noexcept;
  friend bool operator==(const Secret& a, const Secret& b) noexcept { return a.equals(b.reveal()); }

  /// Prints `***`, whatever the value.
  friend std::ostream& operator<<(std::ostream& out, const Secret&) { return out << "***"; }

 private:
  void clear() noexcept;
  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
};

/// Overwrites `size` bytes at `data` in a way the compiler cannot elide
/// (OPENSSL_cleanse). For buffers that held a secret before it became a
/// `Secret`.
void wipe(void* data, std::size_t size) noexcept;

}  // namespace ordergate::security
