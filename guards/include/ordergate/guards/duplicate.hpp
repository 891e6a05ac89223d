#pragma once

/// \file
/// Lock-free index from (principal, client order id) to order id. It detects
/// duplicate client order ids among open and past orders, and finds an order
/// to cancel.
///
/// Open addressing with linear probing over 64-bit keys. A slot goes from
/// empty to a key exactly once (compare-and-swap), so two threads inserting
/// the same key always meet at the same slot and one of them sees the
/// duplicate. Keys are never removed while the gateway runs, except to undo
/// an insert that a later guard refused (the slot becomes a tombstone).

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "ordergate/core/order.hpp"

namespace ordergate::guards {

class ClientOrderIdIndex {
 public:
  /// Rounds `capacity` up to a power of two (at least 16). Throws
  /// std::invalid_argument above 2^32 slots.
  explicit ClientOrderIdIndex(std::size_t capacity);

  /// 64-bit key of a (principal, client order id) pair; never 0 or 1. Equal
  /// keys of different ids are possible in theory (2^-64); callers that act
  /// on a found order compare the stored id.
  [[nodiscard]] static std::uint64_t key(PrincipalId principal, std::string_view client_order_id) noexcept;

  enum class Insert : std::uint8_t { inserted, duplicate, full };

  /// Claims a slot for `key`. On `inserted`, `slot` identifies it for
  /// `publish` or `erase`. `full` when no free slot is found within the probe
  /// limit (the caller rejects the order). Does not allocate.
  [[nodiscard]] Insert insert(std::uint64_t key, std::size_t& slot) noexcept;

  /// Stores the order id of an inserted key (release); `find` sees it after.
  void publish(std::size_t slot, OrderId order) noexcept;

  /// Undoes an insert that was never published (a later guard refused).
  /// The slot becomes a tombstone and is never reused, so every erase uses
  /// up one slot of its probe run for the rest of the run.
  void erase(std::size_t slot) noexcept;

  /// True when `key` is present (published or not).
  [[nodiscard]] bool contains(std::uint64_t key) const noexcept;

  /// The published order id of `key`; false when absent or not yet published.
  [[nodiscard]] bool find(std::uint64_t key, OrderId& order) const noexcept;

  [[nodiscard]] std::size_t capacity() const noexcept { return mask_ + 1; }

  static constexpr std::size_t kMaxProbe = 128;

 private:
  static constexpr std::uint64_t kEmpty = 0;
  static constexpr std::uint64_t kTombstone = 1;
  static constexpr std::uint32_t kUnpublished = 0xFFFFFFFFu;

  struct Slot {
    std::atomic<std::uint64_t> key{kEmpty};
    std::atomic<std::uint32_t> order{kUnpublished};
  };
  std::unique_ptr<Slot[]> slots_;
  std::size_t mask_;
};

}  // namespace ordergate::guards
