#pragma once

/// \file
/// The cache-line size every padded structure in ordergate is aligned to.

#include <cstddef>

namespace ordergate {

/// Bytes in one cache line on the x86-64 and AArch64 cores ordergate targets.
/// A fixed constant rather than `std::hardware_destructive_interference_size`,
/// whose value GCC warns may change between compiler versions and so must not
/// shape an ABI.
inline constexpr std::size_t kCacheLine = 64;

}  // namespace ordergate
