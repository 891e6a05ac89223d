#include "ordergate/guards/duplicate.hpp"

#include <algorithm>
#include <stdexcept>

namespace ordergate::guards {
namespace {

constexpr std::uint64_t kFnvOffset = 14695981039346656037ull;
constexpr std::uint64_t kFnvPrime = 1099511628211ull;

constexpr std::uint64_t fnv1a(std::uint64_t hash, unsigned char byte) noexcept {
  return (hash ^ byte) * kFnvPrime;
}

// murmur3's 64-bit finalizer: FNV-1a alone leaves the low bits (the ones the
// table mask keeps) poorly mixed for ids that differ only in their last bytes.
constexpr std::uint64_t fmix64(std::uint64_t k) noexcept {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return k;
}

}  // namespace

ClientOrderIdIndex::ClientOrderIdIndex(std::size_t capacity) {
  constexpr std::size_t kMaxCapacity = std::size_t{1} << 32;
  if (capacity > kMaxCapacity) throw std::invalid_argument("client order id index: capacity above 2^32");
  std::size_t rounded = 16;
  while (rounded < capacity) rounded *= 2;
  slots_ = std::make_unique<Slot[]>(rounded);
  mask_ = rounded - 1;
}

std::uint64_t ClientOrderIdIndex::key(PrincipalId principal, std::string_view client_order_id) noexcept {
  // The principal has a fixed width, so (principal, id) pairs never collide
  // by concatenation.
  std::uint64_t hash = kFnvOffset;
  hash = fnv1a(hash, static_cast<unsigned char>(principal & 0xFF));
  hash = fnv1a(hash, static_cast<unsigned char>(principal >> 8));
  for (char c : client_order_id) hash = fnv1a(hash, static_cast<unsigned char>(c));
  hash = fmix64(hash);
  return hash <= kTombstone ? hash + 2 : hash;
}

ClientOrderIdIndex::Insert ClientOrderIdIndex::insert(std::uint64_t key, std::size_t& slot) noexcept {
  if (key <= kTombstone) return Insert::full;  // not a key `key()` can produce
  const std::size_t probes = std::min(kMaxProbe, mask_ + 1);
  std::size_t index = static_cast<std::size_t>(key) & mask_;
  for (std::size_t i = 0; i < probes; ++i, index = (index + 1) & mask_) {
    std::atomic<std::uint64_t>& slot_key = slots_[index].key;
    std::uint64_t current = slot_key.load(std::memory_order_acquire);
    if (current == kEmpty) {
      if (slot_key.compare_exchange_strong(current, key, std::memory_order_acq_rel,
                                           std::memory_order_acquire)) {
        slot = index;
        return Insert::inserted;
      }
      // Lost the race for this slot; `current` now holds the winner.
    }
    if (current == key) return Insert::duplicate;
    // Another key or a tombstone: tombstones are never reused, which keeps
    // every insert of one key meeting at the same first empty slot.
  }
  return Insert::full;
}

void ClientOrderIdIndex::publish(std::size_t slot, OrderId order) noexcept {
  if (slot <= mask_) slots_[slot].order.store(order, std::memory_order_release);
}

void ClientOrderIdIndex::erase(std::size_t slot) noexcept {
  if (slot <= mask_) slots_[slot].key.store(kTombstone, std::memory_order_release);
}

bool ClientOrderIdIndex::contains(std::uint64_t key) const noexcept {
  if (key <= kTombstone) return false;
  const std::size_t probes = std::min(kMaxProbe, mask_ + 1);
  std::size_t index = static_cast<std::size_t>(key) & mask_;
  for (std::size_t i = 0; i < probes; ++i, index = (index + 1) & mask_) {
    const std::uint64_t current = slots_[index].key.load(std::memory_order_acquire);
    if (current == key) return true;
    if (current == kEmpty) return false;
  }
  return false;
}

bool ClientOrderIdIndex::find(std::uint64_t key, OrderId& order) const noexcept {
  if (key <= kTombstone) return false;
  const std::size_t probes = std::min(kMaxProbe, mask_ + 1);
  std::size_t index = static_cast<std::size_t>(key) & mask_;
  for (std::size_t i = 0; i < probes; ++i, index = (index + 1) & mask_) {
    const std::uint64_t current = slots_[index].key.load(std::memory_order_acquire);
    if (current == key) {
      const std::uint32_t published = slots_[index].order.load(std::memory_order_acquire);
      if (published == kUnpublished) return false;
      order = published;
      return true;
    }
    if (current == kEmpty) return false;
  }
  return false;
}

}  // namespace ordergate::guards
