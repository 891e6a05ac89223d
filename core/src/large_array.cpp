#include "ordergate/core/large_array.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>

namespace ordergate {

#ifdef ORDERGATE_TABLES_ON_THE_HEAP

namespace detail {

void* map_table(std::size_t bytes) { return ::operator new(bytes, std::align_val_t{4096}); }

void unmap_table(void* base, std::size_t) noexcept { ::operator delete(base, std::align_val_t{4096}); }

}  // namespace detail

#else

namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

std::size_t page_size() noexcept {
  static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

std::size_t round_up(std::size_t value, std::size_t unit) noexcept { return (value + unit - 1) / unit * unit; }

// The bytes a table of `bytes` maps: whole huge pages from 2 MiB on, so
// that the last one is not left on small pages, whole pages below.
std::size_t mapped_bytes(std::size_t bytes) noexcept {
  return bytes >= kHugePage ? round_up(bytes, kHugePage) : round_up(bytes, page_size());
}

}  // namespace

namespace detail {

void* map_table(std::size_t bytes) {
  const std::size_t length = mapped_bytes(bytes);
  if (length < kHugePage) {
    void* base = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) throw std::bad_alloc();
    return base;
  }
  // Map a huge page more than needed, then give back the ends outside the
  // 2 MiB-aligned part.
  void* raw = ::mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  char* const raw_bytes = static_cast<char*>(raw);
  const std::size_t head = (kHugePage - reinterpret_cast<std::uintptr_t>(raw) % kHugePage) % kHugePage;
  char* const base = raw_bytes + head;
  if (head > 0) ::munmap(raw_bytes, head);
  ::munmap(base + length, kHugePage - head);
  // A hint: where the kernel refuses it, the table stays on small pages.
  (void)::madvise(base, length, MADV_HUGEPAGE);
  return base;
}

void unmap_table(void* base, std::size_t bytes) noexcept { ::munmap(base, mapped_bytes(bytes)); }

}  // namespace detail

#endif

std::string transparent_huge_pages_mode() {
  std::ifstream file("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  if (!std::getline(file, line)) return {};
  // "always [madvise] never": the mode in use is the bracketed one.
  const std::size_t open = line.find('[');
  const std::size_t close = line.find(']', open);
  if (open == std::string::npos || close == std::string::npos) return {};
  return line.substr(open + 1, close - open - 1);
}

}  // namespace ordergate
