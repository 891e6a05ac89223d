#include "ordergate/guards/duplicate.hpp"

#include <algorithm>
#include <stdexcept>

#include "ordergate/core/short_text_index.hpp"

namespace ordergate::guards {
namespace {

constexpr std::uint64_t kFnvOffset = 14695981039346656037ull;
constexpr std::uint64_t kFnvPrime = 1099511628211ull;
constexpr std::int64_t kNanosPerSecond = 1'000'000'000;

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

// The high and low halves of the 128-bit product, folded together.
__extension__ using uint128 = unsigned __int128;
inline std::uint64_t fold_multiply(std::uint64_t a, std::uint64_t b) noexcept {
  const uint128 product = static_cast<uint128>(a) * b;
  return static_cast<std::uint64_t>(product) ^ static_cast<std::uint64_t>(product >> 64);
}

}  // namespace

ClientOrderIdIndex::ClientOrderIdIndex(std::size_t capacity, std::int64_t window_ns) {
  constexpr std::size_t kMaxCapacity = std::size_t{1} << 32;
  if (capacity > kMaxCapacity) throw std::invalid_argument("client order id index: capacity above 2^32");
  if (window_ns <= 0 || window_ns > std::int64_t{kMaxWindowSeconds} * kNanosPerSecond) {
    throw std::invalid_argument("client order id index: the window must be within 1 s and 30 days");
  }
  std::size_t rounded = 16;
  while (rounded < capacity) rounded *= 2;
  slots_ = LargeArray<Slot>(rounded);
  reach_ = LargeArray<std::atomic<std::uint8_t>>(rounded / kEntriesPerLine);
  mask_ = rounded - 1;
  probes_ = std::min(kMaxProbe, rounded);
  window_s_ = static_cast<std::uint32_t>((window_ns + kNanosPerSecond - 1) / kNanosPerSecond);
}

std::uint64_t ClientOrderIdIndex::key(PrincipalId principal, std::string_view client_order_id) noexcept {
  std::uint64_t ahead = 0;
  return key(principal, client_order_id, ahead);
}

std::uint64_t ClientOrderIdIndex::key(PrincipalId principal, std::string_view client_order_id,
                                      std::uint64_t& ahead) noexcept {
  ahead = kEmpty;
  std::uint64_t hash = 0;
  if (client_order_id.size() <= TextWords::kMaxLength) {
    // Most strategies number their orders: an id is a stem and a counter.
    // The counter's last two bits become the key's, and only the rest of it
    // goes into the hash, so four consecutive ids share one home line of
    // the table: three orders in four find the line the one before brought
    // into cache. Leading zeros stay in the stem's count of digits, so
    // "a07" and "a7" still differ.
    std::size_t digits = 0;
    std::uint64_t counter = 0;
    std::uint64_t scale = 1;
    while (digits < kCounterDigits && digits < client_order_id.size()) {
      const char c = client_order_id[client_order_id.size() - 1 - digits];
      if (c < '0' || c > '9') break;
      counter += scale * static_cast<std::uint64_t>(c - '0');
      scale *= 10;
      ++digits;
    }
    // Every valid client order id: two independent folded multiplies of
    // the stem's words, then a third of both with the lengths, principal
    // and the counter's group (texts of different lengths may have the
    // same words). A few multiplies instead of one per byte, and every
    // input bit reaches the low bits the table indexes by. The lengths and
    // principal go in multiplied by an odd constant, never XORed onto the
    // text's own bytes, where a text could cancel them out.
    const TextWords words = TextWords::of(client_order_id.substr(0, client_order_id.size() - digits));
    const std::uint64_t left =
        fold_multiply(words.word[0] ^ 0xA0761D6478BD642Full, words.word[1] ^ 0xE7037ED1A0B428DBull);
    const std::uint64_t right =
        fold_multiply(words.word[2] ^ 0x8EBC6AF09C88C6E3ull, words.word[3] ^ 0x589965CC75374CC3ull);
    const std::uint64_t tag = (digits << 24) | (words.length << 16) | principal;
    const std::uint64_t stem = left ^ 0x1D8E4E27C47D124Full ^ (tag * 0xD6E8FEB86659FD93ull);
    const auto of_group = [&](std::uint64_t group) noexcept {
      return fmix64(fold_multiply(stem, right ^ 0x9E3779B97F4A7C15ull ^
                                            fold_multiply(group ^ 0x2D358DCCAA6C78A5ull, tag ^ 0x8BB84B93962EACC9ull)));
    };
    hash = of_group(counter >> 2);
    if (digits != 0) {
      constexpr std::uint64_t kLaneBits = 3;
      hash = (hash & ~kLaneBits) | (counter & kLaneBits);
      // The third id of its group names the next group's first, unless
      // that number needs one more digit ("ord-98" and "ord-100").
      if ((counter & kLaneBits) == 2 && counter + 2 < scale) {
        ahead = of_group((counter >> 2) + 1) & ~kLaneBits;
        if (ahead == kEmpty) ahead = 1;
      }
    }
  } else {
    // Longer texts are never valid ids; they still get a key, byte by byte.
    // The principal has a fixed width, so (principal, id) pairs never
    // collide by concatenation.
    hash = kFnvOffset;
    hash = fnv1a(hash, static_cast<unsigned char>(principal & 0xFF));
    hash = fnv1a(hash, static_cast<unsigned char>(principal >> 8));
    for (char c : client_order_id) hash = fnv1a(hash, static_cast<unsigned char>(c));
    hash = fmix64(hash);
  }
  return hash == kEmpty ? 1 : hash;
}

std::uint32_t ClientOrderIdIndex::second(std::int64_t monotonic_ns) noexcept {
  const std::int64_t seconds = std::max<std::int64_t>(monotonic_ns, 0) / kNanosPerSecond;
  return static_cast<std::uint32_t>(seconds + kMaxWindowSeconds + 1);
}

bool ClientOrderIdIndex::reusable(std::uint64_t meta, std::uint32_t now_s) const noexcept {
  const std::uint32_t order = order_of(meta);
  if (order == kFree) return true;
  // Whole seconds: strictly more than the window has passed, so an id is
  // never refused for less than the window.
  return order == kFinished && now_s - second_of(meta) > window_s_;
}

std::size_t ClientOrderIdIndex::span(std::size_t home, std::memory_order order) const noexcept {
  const std::size_t reach = reach_[home / kEntriesPerLine].load(order);
  return std::min((reach + 1) * kEntriesPerLine - home % kEntriesPerLine, probes_);
}

static_assert((ClientOrderIdIndex::kMaxProbe + 2) / 4 <= 255, "a line's reach is one byte");

void ClientOrderIdIndex::extend_reach(std::size_t home, std::size_t probe) noexcept {
  const auto lines = static_cast<std::uint8_t>((home % kEntriesPerLine + probe) / kEntriesPerLine);
  std::atomic<std::uint8_t>& reach = reach_[home / kEntriesPerLine];
  std::uint8_t current = reach.load(std::memory_order_seq_cst);
  while (current < lines && !reach.compare_exchange_weak(current, lines, std::memory_order_seq_cst)) {
  }
}

ClientOrderIdIndex::Insert ClientOrderIdIndex::insert(std::uint64_t key, std::int64_t now_ns,
                                                      std::size_t& slot) noexcept {
  if (key == kEmpty) return Insert::full;  // not a key `key()` can produce
  const std::uint32_t now_s = second(now_ns);
  const std::size_t home = static_cast<std::size_t>(key) & mask_;
  // A claim lost to another insert restarts the search; a handful of
  // retries only happens under a storm of inserts into one probe run.
  for (int attempt = 0; attempt < 64; ++attempt) {
    // The key can only be within the reach; a free entry may lie past it.
    const std::size_t reach = span(home, std::memory_order_seq_cst);
    bool found = false;
    std::size_t candidate = 0;
    std::size_t candidate_probe = 0;
    std::uint64_t candidate_meta = 0;
    std::size_t index = home;
    for (std::size_t i = 0; i < probes_; ++i, index = (index + 1) & mask_) {
      // Meta first: a claim writes its key before its final meta, so a meta
      // that names an order (or a finished one) comes with that claim's key.
      const std::uint64_t meta = slots_[index].meta.load(std::memory_order_seq_cst);
      const std::uint64_t current = slots_[index].key.load(std::memory_order_seq_cst);
      if (current == key && !reusable(meta, now_s)) return Insert::duplicate;
      if (!found && reusable(meta, now_s)) {
        found = true;
        candidate = index;
        candidate_probe = i;
        candidate_meta = meta;
      }
      // The end of the run, unless an insert is claiming this entry (its key
      // is not written yet): the key is nowhere further.
      if (current == kEmpty && order_of(meta) != kClaiming) break;
      if (found && i + 1 >= reach) break;
    }
    if (!found) return Insert::full;
    Slot& claimed = slots_[candidate];
    if (!claimed.meta.compare_exchange_strong(candidate_meta, pack(kClaiming, now_s), std::memory_order_seq_cst)) {
      continue;
    }
    // Readers load the meta first: one that sees kUnpublished (release)
    // sees this key.
    claimed.key.store(key, std::memory_order_relaxed);
    claimed.meta.store(pack(kUnpublished, now_s), std::memory_order_release);
    extend_reach(home, candidate_probe);
    // Look again: an insert of the same key that raced this one has its
    // claim in this run too. Of two such inserts, the one whose fence
    // comes later in the single order of seq_cst operations sees the
    // other's key, meta and reach (stored or read before the other's
    // fence). Whoever sees the other withdraws. One fence, not two
    // seq_cst stores: each of those is a locked instruction on x86.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const std::size_t reach_now = span(home, std::memory_order_seq_cst);
    index = home;
    for (std::size_t i = 0; i < reach_now; ++i, index = (index + 1) & mask_) {
      if (index == candidate) continue;
      // Meta first: a claim writes its key before its final meta, so a meta
      // that names an order (or a finished one) comes with that claim's key.
      const std::uint64_t meta = slots_[index].meta.load(std::memory_order_seq_cst);
      const std::uint64_t current = slots_[index].key.load(std::memory_order_seq_cst);
      if (current == kEmpty && order_of(meta) != kClaiming) break;
      if (current != key) continue;
      if (!reusable(meta, now_s)) {
        claimed.meta.store(pack(kFree, 0), std::memory_order_seq_cst);
        return Insert::duplicate;
      }
    }
    slot = candidate;
    return Insert::inserted;
  }
  return Insert::full;
}

void ClientOrderIdIndex::publish(std::size_t slot, OrderId order) noexcept {
  if (slot > mask_ || order >= kFirstReservedOrderId) return;
  std::atomic<std::uint64_t>& meta = slots_[slot].meta;
  meta.store(pack(order, second_of(meta.load(std::memory_order_relaxed))), std::memory_order_release);
}

void ClientOrderIdIndex::erase(std::size_t slot) noexcept {
  if (slot <= mask_) slots_[slot].meta.store(pack(kFree, 0), std::memory_order_seq_cst);
}

void ClientOrderIdIndex::finish(std::size_t slot, OrderId order) noexcept {
  if (slot > mask_) return;
  std::atomic<std::uint64_t>& meta = slots_[slot].meta;
  std::uint64_t current = meta.load(std::memory_order_acquire);
  if (order_of(current) != order) return;
  meta.compare_exchange_strong(current, pack(kFinished, second_of(current)), std::memory_order_release,
                               std::memory_order_relaxed);
}

bool ClientOrderIdIndex::contains(std::uint64_t key, std::int64_t now_ns) const noexcept {
  if (key == kEmpty) return false;
  const std::uint32_t now_s = second(now_ns);
  std::size_t index = static_cast<std::size_t>(key) & mask_;
  const std::size_t probes = span(index, std::memory_order_acquire);
  for (std::size_t i = 0; i < probes; ++i, index = (index + 1) & mask_) {
    const std::uint64_t meta = slots_[index].meta.load(std::memory_order_acquire);
    const std::uint64_t current = slots_[index].key.load(std::memory_order_acquire);
    if (current == kEmpty && order_of(meta) != kClaiming) return false;
    if (current == key && !reusable(meta, now_s)) return true;
  }
  return false;
}

std::size_t ClientOrderIdIndex::probe_length(std::uint64_t key) const noexcept {
  std::size_t index = static_cast<std::size_t>(key) & mask_;
  const std::size_t probes = span(index, std::memory_order_acquire);
  for (std::size_t i = 0; i < probes; ++i, index = (index + 1) & mask_) {
    const std::uint64_t meta = slots_[index].meta.load(std::memory_order_acquire);
    const std::uint64_t current = slots_[index].key.load(std::memory_order_acquire);
    if (current == kEmpty && order_of(meta) != kClaiming) return i + 1;
  }
  return probes;
}

bool ClientOrderIdIndex::find(std::uint64_t key, OrderId& order) const noexcept {
  if (key == kEmpty) return false;
  std::size_t index = static_cast<std::size_t>(key) & mask_;
  const std::size_t probes = span(index, std::memory_order_acquire);
  for (std::size_t i = 0; i < probes; ++i, index = (index + 1) & mask_) {
    const std::uint64_t meta = slots_[index].meta.load(std::memory_order_acquire);
    const std::uint64_t current = slots_[index].key.load(std::memory_order_acquire);
    if (current == kEmpty && order_of(meta) != kClaiming) return false;
    if (current != key) continue;
    const std::uint32_t published = order_of(meta);
    if (published < kFirstReservedOrderId) {
      order = published;
      return true;
    }
  }
  return false;
}

bool ClientOrderIdIndex::revive(std::uint64_t key, OrderId order, std::size_t& slot) noexcept {
  if (key == kEmpty || order >= kFirstReservedOrderId) return false;
  std::size_t index = static_cast<std::size_t>(key) & mask_;
  const std::size_t probes = span(index, std::memory_order_acquire);
  for (std::size_t i = 0; i < probes; ++i, index = (index + 1) & mask_) {
    std::uint64_t meta = slots_[index].meta.load(std::memory_order_acquire);
    const std::uint64_t current = slots_[index].key.load(std::memory_order_acquire);
    if (current == kEmpty && order_of(meta) != kClaiming) return false;
    if (current != key || order_of(meta) != kFinished) continue;
    if (slots_[index].meta.compare_exchange_strong(meta, pack(order, second_of(meta)), std::memory_order_acq_rel)) {
      slot = index;
      return true;
    }
  }
  return false;
}

bool ClientOrderIdIndex::restore(std::uint64_t key, std::int64_t now_ns, std::int64_t age_ns) noexcept {
  if (age_ns < 0) age_ns = 0;
  if (age_ns / kNanosPerSecond >= window_s_) return false;
  std::size_t slot = 0;
  if (insert(key, now_ns, slot) != Insert::inserted) return false;
  const std::uint32_t used_s = second(now_ns) - static_cast<std::uint32_t>(age_ns / kNanosPerSecond);
  slots_[slot].meta.store(pack(kFinished, used_s), std::memory_order_release);
  return true;
}

}  // namespace ordergate::guards
