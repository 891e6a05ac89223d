#include "ordergate/core/large_array.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

namespace ordergate {
namespace {

// Under AddressSanitizer the tables stay on its heap, which checks their
// bounds (core/src/large_array.cpp): placement is a release build's.
#define SKIP_UNDER_ADDRESS_SANITIZER() \
  if (kLargeArraysOnTheHeap) GTEST_SKIP() << "tables are on the sanitizer's heap"

constexpr std::size_t kHugePage = std::size_t{2} << 20;

struct Counted {
  static inline int alive = 0;
  static inline int throw_at = -1;  // construction number that throws
  std::uint64_t value = 7;
  Counted() {
    if (alive == throw_at) throw std::runtime_error("construction failed");
    ++alive;
  }
  ~Counted() { --alive; }
};

// kB of the mapping that starts at `address`, as /proc/self/smaps gives
// them for `field` ("Rss", "AnonHugePages").
std::size_t smaps_kb(const void* address, const std::string& field) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  const auto wanted = reinterpret_cast<std::uintptr_t>(address);
  while (std::getline(smaps, line)) {
    std::uintptr_t start = 0;
    std::uintptr_t end = 0;
    char dash = 0;
    std::istringstream header(line);
    if (header >> std::hex >> start >> dash >> end && dash == '-') {
      inside = start <= wanted && wanted < end;
      continue;
    }
    if (inside && line.rfind(field + ":", 0) == 0) {
      std::istringstream value(line.substr(field.size() + 1));
      std::size_t kb = 0;
      value >> kb;
      return kb;
    }
  }
  return 0;
}

TEST(LargeArray, EveryElementIsConstructedAndDestroyed) {
  Counted::alive = 0;
  {
    LargeArray<Counted> array(1000);
    EXPECT_EQ(Counted::alive, 1000);
    EXPECT_EQ(array.size(), 1000u);
    EXPECT_EQ(array[0].value, 7u);
    EXPECT_EQ(array[999].value, 7u);
    LargeArray<Counted> moved = std::move(array);
    EXPECT_EQ(array.size(), 0u);
    EXPECT_EQ(array.data(), nullptr);
    EXPECT_EQ(Counted::alive, 1000);
    moved = LargeArray<Counted>(10);
    EXPECT_EQ(Counted::alive, 10);
  }
  EXPECT_EQ(Counted::alive, 0);
}

TEST(LargeArray, AConstructorThatThrowsDestroysWhatWasBuiltAndPassesTheErrorOn) {
  Counted::alive = 0;
  Counted::throw_at = 500;
  EXPECT_THROW(LargeArray<Counted>(1000), std::runtime_error);
  Counted::throw_at = -1;
  EXPECT_EQ(Counted::alive, 0);
}

TEST(LargeArray, ASizeAboveHalfTheAddressSpaceIsRefusedAsBadAllocBeforeAnyMapping) {
  EXPECT_THROW(LargeArray<std::uint64_t>(static_cast<std::size_t>(-1) / 4), std::bad_alloc);
  EXPECT_THROW(LargeArray<std::uint64_t>(static_cast<std::size_t>(-1) / 16 + 1), std::bad_alloc);
}

TEST(LargeArray, AMappingTheKernelRefusesIsBadAlloc) {
  SKIP_UNDER_ADDRESS_SANITIZER();  // its heap aborts on a size this large
  EXPECT_THROW(LargeArray<std::uint64_t>(std::size_t{1} << 57), std::bad_alloc);  // 2^60 bytes
}

TEST(LargeArray, ATableOfTwoMegabytesOrMoreIsAlignedToAHugePageAndResidentFromTheStart) {
  SKIP_UNDER_ADDRESS_SANITIZER();
  LargeArray<std::atomic<std::uint64_t>> table(std::size_t{4} << 20);  // 32 MiB
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(table.data()) % kHugePage, 0u);
  // Written at construction: the order path takes no page fault in it.
  EXPECT_GE(smaps_kb(table.data(), "Rss"), std::size_t{32} << 10);
  EXPECT_EQ(table[(std::size_t{4} << 20) - 1].load(), 0u);
}

TEST(LargeArray, TheKernelGivesATableHugePagesWhereItsModeAllowsThem) {
  SKIP_UNDER_ADDRESS_SANITIZER();
  const std::string mode = transparent_huge_pages_mode();
  if (mode != "always" && mode != "madvise") GTEST_SKIP() << "transparent huge pages: '" << mode << "'";
  LargeArray<std::uint64_t> table(std::size_t{2} << 20);  // 16 MiB, the default duplicate index
  // The kernel may fall back to small pages for a part when memory is
  // fragmented; most of the table on huge pages is what matters.
  EXPECT_GE(smaps_kb(table.data(), "AnonHugePages"), std::size_t{8} << 10);
}

TEST(LargeArray, ASmallTableIsPageAlignedAndWorksTheSame) {
  LargeArray<std::uint32_t> table(100);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(table.data()) % 4096, 0u);
  table[99] = 5;
  EXPECT_EQ(table[99], 5u);
}

}  // namespace
}  // namespace ordergate
