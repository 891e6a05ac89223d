// What a gateway holds in memory per order it can have live and per
// session slot, measured as the resident memory a gateway's construction
// adds (every table is allocated and written at construction, so it is
// resident from the start: docs/configuration.md, memory). Two gateways
// that differ in one setting are built side by side; the difference of
// what each added, divided by the difference of the setting, is the cost
// of one unit of it, and must match the documented figure.

#include <gtest/gtest.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>

#include "engine.hpp"
#include "gateway/test_support.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ORDERGATE_SHADOW_MEMORY 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define ORDERGATE_SHADOW_MEMORY 1
#endif
#endif

namespace ordergate::testing {
namespace {

// The address and thread sanitizers keep shadow memory beside every table:
// the resident figures are those of a build without them.
#ifdef ORDERGATE_SHADOW_MEMORY
#define SKIP_UNDER_SANITIZERS() GTEST_SKIP() << "resident memory is measured without a sanitizer"
#else
#define SKIP_UNDER_SANITIZERS() (void)0
#endif

std::int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t size = 0;
  std::int64_t resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::int64_t>(::sysconf(_SC_PAGESIZE));
}

// Resident bytes a gateway built from `config` adds (it stays alive until
// `keep` goes, so the next one cannot reuse its memory). The first gateway
// of a process also loads what every later one shares (the time zone
// database of the trading day, among others): one is built and kept first.
std::int64_t added_by(const GatewayConfig& config, std::unique_ptr<Gateway>& keep) {
  static const Gateway* const first_of_the_process = new Gateway(test_config());
  (void)first_of_the_process;
  const std::int64_t before = resident_bytes();
  keep = std::make_unique<Gateway>(config);
  return resident_bytes() - before;
}

// Resident bytes per unit of the one setting in which `small` and `large`
// differ by `units`, both gateways alive at once.
double added_per_unit(const GatewayConfig& small, const GatewayConfig& large, std::size_t units) {
  std::unique_ptr<Gateway> first;
  std::unique_ptr<Gateway> second;
  const std::int64_t small_bytes = added_by(small, first);
  const std::int64_t large_bytes = added_by(large, second);
  return static_cast<double>(large_bytes - small_bytes) / static_cast<double>(units);
}

// Per order of `order_capacity`: its record, its four entries of the
// duplicate index (the default duplicate_capacity) with their line's reach
// byte, and its cell of the free-record stack. The index's size is a power of two, so doubling the
// capacity adds exactly one more of each per order.
TEST(GatewayMemory, EachOrderOfCapacityCostsItsRecordFourIndexEntriesAndAFreeListCell) {
  constexpr std::size_t kIndexEntry = 16;  // key and meta, two 64-bit words
  constexpr std::size_t kLineReach = 1;    // per line of four index entries
  constexpr std::size_t kStackLink = 4;    // the index of the next free record
  constexpr std::size_t kPerOrder = sizeof(detail::OrderRecord) + 4 * kIndexEntry + kLineReach + kStackLink;
  static_assert(kPerOrder == 325, "docs/configuration.md gives 325 bytes per order of order_capacity");
  SKIP_UNDER_SANITIZERS();
  GatewayConfig small = test_config();
  small.order_capacity = 1u << 18;  // from here on the index is 4 x capacity
  GatewayConfig large = small;
  large.order_capacity = 1u << 19;
  const double per_order = added_per_unit(small, large, large.order_capacity - small.order_capacity);
  std::printf("resident bytes per order of capacity: %.1f (computed %zu)\n", per_order, kPerOrder);
  // Within 2%: the kernel counts whole pages.
  EXPECT_GT(per_order, 0.98 * kPerOrder);
  EXPECT_LT(per_order, 1.02 * kPerOrder);
}

// Per session slot (`max_sessions`): the slot, its counters per account
// (metrics), its command ring pointer per broker, and its report queue, whose
// first six blocks of 32 reports are allocated for every slot at start.
// Their headers are written then; the reports' room becomes resident as
// reports pass through it.
TEST(GatewayMemory, EachSessionSlotCostsItsSlotCountersAndTheFirstBlocksOfItsReportQueue) {
  SKIP_UNDER_SANITIZERS();
  GatewayConfig small = test_config();
  small.max_sessions = 64;
  GatewayConfig large = small;
  large.max_sessions = 64 + 1024;
  const std::size_t accounts = small.accounts.size();
  // The metrics count orders, cancels and amends by account and reason.
  const std::size_t counters = 3 * (accounts + 1) * kReasonCount * sizeof(std::uint64_t);
  const std::size_t always = sizeof(detail::SessionSlot) + counters;
  const std::size_t queue_blocks = 6 * 32 * sizeof(ExecutionReport);
  const double per_slot = added_per_unit(small, large, large.max_sessions - small.max_sessions);
  std::printf("resident bytes per session slot: %.1f (slot and counters %zu, queue blocks up to %zu)\n", per_slot,
              always, queue_blocks);
  EXPECT_GT(per_slot, static_cast<double>(always));
  EXPECT_LT(per_slot, static_cast<double>(always + queue_blocks));
  // What docs/configuration.md says: under 48 KiB a slot with two accounts.
  EXPECT_LT(per_slot, 48.0 * 1024);
}

// Per session slot and broker, once the slot is first opened: its command
// ring, the smallest power of two of 64-byte cells above the queue budget
// + 64, written in full then (so no page faults in later) and kept for the
// slot's later sessions (docs/configuration.md, session_queue_budget).
TEST(GatewayMemory, TheFirstSessionInASlotMakesItsCommandRingAndTheNextSessionThereReusesIt) {
  SKIP_UNDER_SANITIZERS();
  GatewayConfig config = test_config();  // one broker: both accounts are on "paper"
  config.broker_queue_capacity = 1u << 17;
  config.session_queue_budget = 65536;  // 131072 cells: 8 MiB, far above the rest a session opening costs
  config.max_sessions = 1;              // so the second session gets the first one's slot
  constexpr std::int64_t kRing = 131072 * 64;
  Gateway gateway(config);
  gateway.start();

  // Free memory the allocator still holds resident (the earlier tests of
  // this process leave some) would otherwise serve the ring without a page
  // fault, and hide it from the count.
  ::malloc_trim(0);
  const std::int64_t before = resident_bytes();
  Session first = gateway.open_session("alice");
  const std::int64_t first_added = resident_bytes() - before;
  std::printf("resident bytes the first session in a slot added: %lld (ring %lld)\n",
              static_cast<long long>(first_added), static_cast<long long>(kRing));
  EXPECT_GT(first_added, kRing * 99 / 100);
  EXPECT_LT(first_added, kRing * 102 / 100);

  first.close();
  const std::int64_t between = resident_bytes();
  Session second = gateway.open_session("bob");
  const std::int64_t second_added = resident_bytes() - between;
  std::printf("resident bytes the next session in the slot added: %lld\n", static_cast<long long>(second_added));
  EXPECT_LT(second_added, kRing / 100) << "the slot keeps its ring";
  gateway.stop();
}

}  // namespace
}  // namespace ordergate::testing
