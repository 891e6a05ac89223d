#pragma once

/// \file
/// Exact lookup of short texts (account names, symbol spellings) to small
/// ids, built once and read-only after. A text is read as TextWords: a
/// lookup is a handful of loads, one multiply and a compare of those
/// words, with no loop over the bytes and no call to memcmp.

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace ordergate {

/// A text of at most 32 bytes read as its length and four overlapping
/// 64-bit words. Together the loads cover every byte (they overlap when
/// the length is not a multiple of their width), so for texts of one
/// length equal words mean equal bytes. Shorter texts leave the last words
/// zero.
struct TextWords {
  static constexpr std::size_t kMaxLength = 32;
  std::uint64_t word[4];
  std::uint64_t length;
  friend bool operator==(const TextWords&, const TextWords&) = default;

  /// `text` must be at most kMaxLength bytes.
  static TextWords of(std::string_view text) noexcept {
    TextWords words{};
    const char* p = text.data();
    const std::size_t n = text.size();
    words.length = n;
    if (n >= 16) {
      words.word[0] = load64(p);
      words.word[1] = load64(p + 8);
      words.word[2] = load64(p + n - 16);
      words.word[3] = load64(p + n - 8);
    } else if (n >= 8) {
      words.word[0] = load64(p);
      words.word[1] = load64(p + n - 8);
    } else if (n >= 4) {
      words.word[0] = load32(p) | (load32(p + n - 4) << 32);
    } else if (n > 0) {
      words.word[0] = static_cast<unsigned char>(p[0]) |
                      (std::uint64_t{static_cast<unsigned char>(p[n / 2])} << 8) |
                      (std::uint64_t{static_cast<unsigned char>(p[n - 1])} << 16);
    }
    return words;
  }

 private:
  static std::uint64_t load64(const char* at) noexcept {
    std::uint64_t word = 0;
    std::memcpy(&word, at, sizeof word);
    return word;
  }
  static std::uint64_t load32(const char* at) noexcept {
    std::uint32_t word = 0;
    std::memcpy(&word, at, sizeof word);
    return word;
  }
};

class ShortTextIndex {
 public:
  /// Longest text the index holds; `find` of a longer one misses.
  static constexpr std::size_t kMaxLength = TextWords::kMaxLength;
  static constexpr std::uint16_t kNone = 0xFFFF;

  /// Adds `text` with `id` (< kNone). False (and nothing added) when the
  /// text is empty, longer than kMaxLength or already present.
  bool add(std::string_view text, std::uint16_t id);

  /// The id of `text`, or kNone.
  [[nodiscard]] std::uint16_t find(std::string_view text) const noexcept {
    if (entries_.empty() || text.empty() || text.size() > kMaxLength) return kNone;
    const Words words = TextWords::of(text);
    for (std::size_t slot = static_cast<std::size_t>(hash(words) >> shift_);; slot = (slot + 1) & mask_) {
      const Entry& entry = entries_[slot];
      if (entry.id == kNone) return kNone;
      if (entry.words == words) return entry.id;
    }
  }

  [[nodiscard]] std::size_t size() const noexcept { return count_; }

 private:
  using Words = TextWords;
  struct Entry {
    Words words{};
    std::uint16_t id = kNone;
  };

  static constexpr std::uint64_t rotl(std::uint64_t value, unsigned bits) noexcept {
    return (value << bits) | (value >> (64 - bits));
  }

  static std::uint64_t hash(const Words& words) noexcept {
    const std::uint64_t mixed =
        words.word[0] ^ rotl(words.word[1], 17) ^ rotl(words.word[2], 31) ^ rotl(words.word[3], 47) ^ words.length;
    return (mixed ^ (mixed >> 29)) * 0x9E3779B97F4A7C15ull;
  }

  void place(const Entry& entry) noexcept;

  std::vector<Entry> entries_;  // open addressing, a power of two long
  std::size_t count_ = 0;
  std::size_t mask_ = 0;  // entries_.size() - 1, kept so a look-up need not divide by sizeof(Entry)
  unsigned shift_ = 64;  // hash >> shift_ is a slot; set with the first entry
};

}  // namespace ordergate
