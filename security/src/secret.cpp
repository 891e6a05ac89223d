#include "ordergate/security/secret.hpp"

#include <openssl/crypto.h>

#include <cstring>

namespace ordergate::security {

Secret::Secret(std::string_view value) : data_(std::make_unique<char[]>(value.size() + 1)), size_(value.size()) {
  if (!value.empty()) std::memcpy(data_.get(), value.data(), value.size());
}

Secret::~Secret() { clear(); }

Secret::Secret(Secret&& other) noexcept : data_(std::move(other.data_)), size_(other.size_) { other.size_ = 0; }

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    clear();
    data_ = std::move(other.data_);
    size_ = other.size_;
    other.size_ = 0;
  }
  return *this;
}

Secret Secret::clone() const { return Secret(reveal()); }

bool Secret::equals(std::string_view candidate) const noexcept {
  if (candidate.size() != size_) return false;
  if (size_ == 0) return true;
  return CRYPTO_memcmp(data_.get(), candidate.data(), size_) == 0;
}

void Secret::clear() noexcept {
  if (data_) OPENSSL_cleanse(data_.get(), size_);
  data_.reset();
  size_ = 0;
}

void wipe(void* data, std::size_t size) noexcept {
  if (data != nullptr && size != 0) OPENSSL_cleanse(data, size);
}

}  // namespace ordergate::security
