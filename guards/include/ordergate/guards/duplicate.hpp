#pragma once

/// \file
/// Lock-free index from (principal, client order id) to order id, kept for a
/// time window in a table of fixed size. It refuses a client order id used
/// within the window (or still naming a live order), and finds a live order
/// to cancel.
///
/// Open addressing with linear probing over 64-bit keys. An entry holds its
/// key, the order it names (or a state) and the second it was inserted. An
/// entry becomes reusable when its order is finished and the window has
/// passed since its insertion, or at once when its insert was undone; a
/// live order's entry is never reused, whatever its age. So the table holds
/// the ids of the window plus the live orders, in memory fixed at
/// construction.
///
/// A reused entry keeps a key, so after weeks few entries are empty and a
/// run of entries no longer ends where an empty one used to end it. A look-up
/// is bounded instead by its home line's reach: for each cache line of four
/// entries, how many lines past it the farthest key whose probe began in it
/// was placed. Inserts take the first reusable entry, so the reach stays a
/// few lines at the load the configuration reference advises, however long
/// the gateway runs.
///
/// Concurrent inserts of one key: an insert first looks for the key up to
/// its home line's reach, then claims the first reusable entry with a
/// compare-and-swap, writes its key, and looks again: if it sees another
/// claim of the same key it withdraws. Of two racing inserts at least one
/// sees the other, so a key is never inserted twice; both may withdraw
/// (both submits are refused as duplicates), which fails closed.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "ordergate/core/cache_line.hpp"
#include "ordergate/core/large_array.hpp"
#include "ordergate/core/order.hpp"

namespace ordergate::guards {

class ClientOrderIdIndex {
 public:
  /// Order ids at or above this value are states of an entry, not orders:
  /// the gateway never gives them out.
  static constexpr OrderId kFirstReservedOrderId = 0xFFFFFFFCu;

  /// Rounds `capacity` up to a power of two (at least 16). `window_ns`
  /// (> 0) is how long an id stays refused after it was inserted; kept in
  /// whole seconds, rounded up, an id is refused for at least the window and
  /// at most one second more. Throws std::invalid_argument above
  /// 2^32 entries or for a window outside 1 s..kMaxWindowSeconds.
  ClientOrderIdIndex(std::size_t capacity, std::int64_t window_ns);

  /// 64-bit key of a (principal, client order id) pair; never 0. An id that
  /// ends in a number (up to kCounterDigits digits read) gives the number's
  /// last two bits as the key's own: the table places a key by its low
  /// bits, so four consecutive ids ("ord-8" to "ord-11") share a line and
  /// three orders in four find it in cache. Equal keys of different ids are
  /// possible in theory (2^-62); callers that act on a found order compare
  /// the stored id.
  [[nodiscard]] static std::uint64_t key(PrincipalId principal, std::string_view client_order_id) noexcept;
  /// The same, and in `ahead` the key of the id two numbers on when this id
  /// is the third of its group of four ("ord-10" gives "ord-12"'s, the next
  /// group's first), else 0: a strategy that numbers its orders will use it
  /// soon, so its line can be asked for ahead.
  [[nodiscard]] static std::uint64_t key(PrincipalId principal, std::string_view client_order_id,
                                         std::uint64_t& ahead) noexcept;

  enum class Insert : std::uint8_t { inserted, duplicate, full };

  /// Claims an entry for `key` at monotonic time `now_ns`. On `inserted`,
  /// `slot` identifies it for `publish`, `erase` and `finish`. `full` when
  /// no reusable entry is found within the probe limit (the caller refuses
  /// the order). Does not allocate.
  [[nodiscard]] Insert insert(std::uint64_t key, std::int64_t now_ns, std::size_t& slot) noexcept;

  /// Stores the order id of an inserted key (release); `find` sees it
  /// after. `order` must be below kFirstReservedOrderId.
  void publish(std::size_t slot, OrderId order) noexcept;

  /// Undoes an insert that was never published (a later guard refused):
  /// the id may be used again at once and the entry is reusable.
  void erase(std::size_t slot) noexcept;

  /// The order `order` published in `slot` is finished: its id stays
  /// refused until the window since its insertion has passed, then the
  /// entry may be reused. Ignored when `slot` no longer holds `order`.
  void finish(std::size_t slot, OrderId order) noexcept;

  /// Starts loading the entry where `key` begins its probe run, so that
  /// `contains` and `insert` later find it in cache: the table is large
  /// and each key lands in a different place, so without it every order
  /// waits for one miss. A hint only; no effect on the contents.
  void prefetch(std::uint64_t key) const noexcept {
    const std::size_t home = static_cast<std::size_t>(key) & mask_;
    prefetch_for_write(&slots_[home]);
    __builtin_prefetch(&reach_[home / kEntriesPerLine]);
  }

  /// True when `key` is refused at `now_ns`: inserted within the window, or
  /// naming an order not yet finished.
  [[nodiscard]] bool contains(std::uint64_t key, std::int64_t now_ns) const noexcept;

  /// The live order `key` names; false when absent, not yet published or
  /// finished.
  [[nodiscard]] bool find(std::uint64_t key, OrderId& order) const noexcept;

  /// Inserts `key` as an id used `age_ns` ago by an order that is finished
  /// (restored after a restart), so it stays refused for the rest of its
  /// window. False when it is already past the window or there is no room.
  bool restore(std::uint64_t key, std::int64_t now_ns, std::int64_t age_ns) noexcept;

  /// Makes the finished entry of `key` (one `restore` made) name the live
  /// order `order` again: after a restart, reconciliation found the order
  /// still working. False when `key` has no finished entry.
  bool revive(std::uint64_t key, OrderId order, std::size_t& slot) noexcept;

  /// How many entries a look-up of `key` examines now: up to the end of its
  /// home line's reach, or to the first entry never used. For tests and
  /// diagnostics.
  [[nodiscard]] std::size_t probe_length(std::uint64_t key) const noexcept;

  [[nodiscard]] std::size_t capacity() const noexcept { return mask_ + 1; }
  [[nodiscard]] std::uint32_t window_seconds() const noexcept { return window_s_; }

  /// Entries an insert looks at for a reusable one: 128 lines. Four
  /// consecutive ids start on one line, so runs grow by whole lines; at
  /// half the table's size the longest run seen was 34 lines (136 entries).
  static constexpr std::size_t kMaxProbe = 512;
  /// The most trailing digits `key` reads as an id's counter.
  static constexpr std::size_t kCounterDigits = 18;
  /// Longest window: 30 days.
  static constexpr std::uint32_t kMaxWindowSeconds = 30u * 24 * 3600;

 private:
  static constexpr std::uint64_t kEmpty = 0;
  // Entry states kept in the order half of `meta`.
  static constexpr std::uint32_t kClaiming = 0xFFFFFFFCu;  // an insert is writing the key
  static constexpr std::uint32_t kFinished = 0xFFFFFFFDu;  // the order is done; kept for the window
  static constexpr std::uint32_t kFree = 0xFFFFFFFEu;      // reusable now (undone insert, never used)
  static constexpr std::uint32_t kUnpublished = 0xFFFFFFFFu;

  static constexpr std::uint64_t pack(std::uint32_t order, std::uint32_t second) noexcept {
    return (std::uint64_t{order} << 32) | second;
  }
  static constexpr std::uint32_t order_of(std::uint64_t meta) noexcept { return static_cast<std::uint32_t>(meta >> 32); }
  static constexpr std::uint32_t second_of(std::uint64_t meta) noexcept { return static_cast<std::uint32_t>(meta); }

  // Seconds on the index's own scale: monotonic seconds shifted so that a
  // restored id of age up to the longest window is still positive.
  [[nodiscard]] static std::uint32_t second(std::int64_t monotonic_ns) noexcept;
  [[nodiscard]] bool reusable(std::uint64_t meta, std::uint32_t now_s) const noexcept;

  struct Slot {
    std::atomic<std::uint64_t> key{kEmpty};
    std::atomic<std::uint64_t> meta{pack(kFree, 0)};
  };
  static constexpr std::size_t kEntriesPerLine = kCacheLine / sizeof(Slot);

  // Entries from `home` to the end of its home line's reach (`order` for the
  // load of the reach), at most the probe limit.
  [[nodiscard]] std::size_t span(std::size_t home, std::memory_order order) const noexcept;
  // Raises the reach of `home`'s line to cover the entry `probe` steps past
  // `home`.
  void extend_reach(std::size_t home, std::size_t probe) noexcept;

  LargeArray<Slot> slots_;  // on huge pages where the kernel gives them
  // Per line of entries: how many lines past it a key whose probe began in
  // it may lie. It only grows; at most (3 + kMaxProbe - 1) / 4 = 128.
  LargeArray<std::atomic<std::uint8_t>> reach_;
  std::size_t mask_;
  std::size_t probes_;  // the probe limit: kMaxProbe, or the capacity when smaller
  std::uint32_t window_s_;
};

}  // namespace ordergate::guards
