#pragma once

/// \file
/// A fixed-size array in memory mapped for it alone, for the tables the
/// order path reads at random (the duplicate index, the order records).
///
/// Such a table is megabytes large and each order lands on a line of its
/// own, so on 4 KiB pages every access also misses the TLB, and the page
/// walk is paid before anything else: a prefetch does not start its load
/// until it has the address, and the prefetch instruction itself waits for
/// the walk. So a table of 2 MiB or more is placed on 2 MiB boundaries and
/// the kernel is asked for transparent huge pages for it
/// (`madvise(MADV_HUGEPAGE)`): a 16 MiB table then needs eight TLB entries.
/// Where the kernel has them switched off
/// (`/sys/kernel/mm/transparent_hugepage/enabled` = `never`) the table
/// works the same on small pages; `ordergate doctor` reports it.
///
/// Every element is constructed at construction, so every page is written
/// then: the order path never takes a page fault in the table.

#include <cstddef>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

// AddressSanitizer keeps no redzones around a mapping of our own: under it
// the tables stay on its heap, where an index past their end is caught.
#if defined(__SANITIZE_ADDRESS__)
#define ORDERGATE_TABLES_ON_THE_HEAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ORDERGATE_TABLES_ON_THE_HEAP 1
#endif
#endif

namespace ordergate {

/// True when LargeArray places its tables on the heap (AddressSanitizer
/// builds) rather than in mappings of their own on huge pages.
#ifdef ORDERGATE_TABLES_ON_THE_HEAP
inline constexpr bool kLargeArraysOnTheHeap = true;
#else
inline constexpr bool kLargeArraysOnTheHeap = false;
#endif

namespace detail {

/// Memory of its own: `bytes` rounded up to whole pages, aligned to 2 MiB
/// (and asked for huge pages) when `bytes` is at least 2 MiB. Throws
/// std::bad_alloc when the mapping fails.
void* map_table(std::size_t bytes);
/// Returns what `map_table(bytes)` gave.
void unmap_table(void* base, std::size_t bytes) noexcept;

}  // namespace detail

/// `count` value-initialised elements in memory of their own (see the
/// file comment). Move-only; not thread-safe to construct or destroy,
/// elements as safe as `T` is.
template <class T>
class LargeArray {
  static_assert(alignof(T) <= 4096, "a mapping is page-aligned");

 public:
  LargeArray() noexcept = default;

  explicit LargeArray(std::size_t count) : count_(count) {
    if (count == 0) return;
    // No address space holds half of it, and the mapping rounds it up.
    if (count > (static_cast<std::size_t>(-1) / 2) / sizeof(T)) throw std::bad_alloc();
    data_ = static_cast<T*>(detail::map_table(bytes()));
    std::size_t built = 0;
    try {
      for (; built < count; ++built) ::new (static_cast<void*>(data_ + built)) T();
    } catch (...) {
      destroy(built);
      throw;
    }
  }

  LargeArray(LargeArray&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), count_(std::exchange(other.count_, 0)) {}
  LargeArray& operator=(LargeArray&& other) noexcept {
    if (this != &other) {
      destroy(count_);
      data_ = std::exchange(other.data_, nullptr);
      count_ = std::exchange(other.count_, 0);
    }
    return *this;
  }
  LargeArray(const LargeArray&) = delete;
  LargeArray& operator=(const LargeArray&) = delete;
  ~LargeArray() { destroy(count_); }

  // As with std::unique_ptr<T[]>, a const array still gives its elements
  // for writing: the tables it holds are shared state that const readers
  // of their owner update (atomics, lists under the owner's mutex).
  T& operator[](std::size_t index) const noexcept { return data_[index]; }
  T* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return count_; }

 private:
  [[nodiscard]] std::size_t bytes() const noexcept { return count_ * sizeof(T); }

  void destroy(std::size_t built) noexcept {
    if (data_ == nullptr) return;
    if constexpr (!std::is_trivially_destructible_v<T>) {
      for (std::size_t i = built; i > 0; --i) data_[i - 1].~T();
    }
    detail::unmap_table(data_, bytes());
    data_ = nullptr;
  }

  T* data_ = nullptr;
  std::size_t count_ = 0;
};

/// What the kernel does with `madvise(MADV_HUGEPAGE)`: "always", "madvise"
/// (both give LargeArray huge pages), "never", or "" when it cannot be read.
[[nodiscard]] std::string transparent_huge_pages_mode();

}  // namespace ordergate
