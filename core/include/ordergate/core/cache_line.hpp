#pragma once

/// \file
/// The cache-line size every padded structure in ordergate is aligned to,
/// and a prefetch that asks for a line in order to write it.

#include <cstddef>

namespace ordergate {

/// Bytes in one cache line on the x86-64 and AArch64 cores ordergate targets.
/// A fixed constant rather than `std::hardware_destructive_interference_size`,
/// whose value GCC warns may change between compiler versions and so must not
/// shape an ABI.
inline constexpr std::size_t kCacheLine = 64;

/// Starts bringing the line of `address` into this core's cache in the
/// state a store needs (exclusive), without waiting for it. A hint only.
///
/// On x86-64 this is `prefetchw`, which GCC's `__builtin_prefetch(p, 1)`
/// does not emit unless the build targets it (-mprfchw): it emits a read
/// prefetch, after which a line another core wrote still needs a second
/// transfer before the store. Cores without the instruction (Intel before
/// Broadwell) execute it as a no-op.
inline void prefetch_for_write(const void* address) noexcept {
#if defined(__x86_64__)
  asm volatile("prefetchw %0" : : "m"(*static_cast<const char*>(address)));
#else
  __builtin_prefetch(address, 1);
#endif
}

}  // namespace ordergate
