#pragma once

/// \file
/// Inline, fixed-capacity string for identifiers that cross thread queues
/// (client order ids, account and symbol names). Trivially copyable, no heap.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

namespace ordergate {

template <std::size_t Capacity>
class FixedString {
  static_assert(Capacity > 0 && Capacity < 256, "length is stored in one byte");

 public:
  static constexpr std::size_t kCapacity = Capacity;

  constexpr FixedString() noexcept = default;

  /// Replaces the content; returns false (and leaves it empty) when `text`
  /// is longer than the capacity. Never truncates.
  bool assign(std::string_view text) noexcept {
    if (text.size() > Capacity) {
      size_ = 0;
      return false;
    }
    if (!text.empty()) std::memcpy(data_, text.data(), text.size());
    size_ = static_cast<std::uint8_t>(text.size());
    return true;
  }

  /// Appends `text`; returns false (and changes nothing) when the result
  /// would not fit. Never truncates.
  bool append(std::string_view text) noexcept {
    if (text.size() > Capacity - size_) return false;
    if (!text.empty()) std::memcpy(data_ + size_, text.data(), text.size());
    size_ = static_cast<std::uint8_t>(size_ + text.size());
    return true;
  }

  [[nodiscard]] std::string_view view() const noexcept { return {data_, size_}; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  void clear() noexcept { size_ = 0; }

  friend bool operator==(const FixedString& a, const FixedString& b) noexcept {
    return a.view() == b.view();
  }
  friend bool operator==(const FixedString& a, std::string_view b) noexcept { return a.view() == b; }

 private:
  char data_[Capacity] = {};
  std::uint8_t size_ = 0;
};

static_assert(std::is_trivially_copyable_v<FixedString<32>>);

}  // namespace ordergate
