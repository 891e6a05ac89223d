#include "ordergate/core/short_text_index.hpp"

namespace ordergate {

void ShortTextIndex::place(const Entry& entry) noexcept {
  std::size_t slot = static_cast<std::size_t>(hash(entry.words) >> shift_);
  while (entries_[slot].id != kNone) slot = (slot + 1) & mask_;
  entries_[slot] = entry;
}

bool ShortTextIndex::add(std::string_view text, std::uint16_t id) {
  if (text.empty() || text.size() > kMaxLength || id == kNone || find(text) != kNone) return false;
  // At most a quarter full, so a lookup ends within a slot or two.
  if ((count_ + 1) * 4 > entries_.size()) {
    std::vector<Entry> old = std::move(entries_);
    std::size_t capacity = 16;
    unsigned bits = 4;
    while ((count_ + 1) * 4 > capacity) {
      capacity *= 2;
      ++bits;
    }
    entries_.assign(capacity, Entry{});
    shift_ = 64 - bits;
    mask_ = capacity - 1;
    for (const Entry& entry : old) {
      if (entry.id != kNone) place(entry);
    }
  }
  place(Entry{TextWords::of(text), id});
  ++count_;
  return true;
}

}  // namespace ordergate
