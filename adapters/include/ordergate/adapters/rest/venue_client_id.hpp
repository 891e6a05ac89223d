#pragma once

/// \file
/// The client order ids a REST adapter sends to its venue (Binance's
/// `newClientOrderId`, OANDA's `clientExtensions.id`).
///
/// A strategy's `cl_ord_id` is unique only per principal and per run, so it
/// is never sent: two principals may both use `c1`, and a restarted strategy
/// uses `c1` again. The venue gets the gateway's own id instead:
///
///     og7Hk2pQx9aZ-1z   =   prefix "og" + 10 base62 characters (drawn from
///                           OpenSSL's CSPRNG once per adapter instance)
///                           + "-" + the gateway order id in base 36
///
/// at most 20 characters of `[A-Za-z0-9-]`: within Binance's
/// `^[\.A-Z\:/a-z0-9_-]{1,36}$`, and nothing OANDA, a URL path or JSON needs
/// to escape. The adapter logs its prefix once at start, so an operator can
/// read a venue id back to the gateway order id, and through the audit
/// journal to the strategy's `cl_ord_id`.
///
/// Thread safety: a `VenueClientIds` is immutable after construction.
/// Cost: `make` and `order_id_of` are a few dozen instructions, no heap.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "ordergate/core/fixed_string.hpp"
#include "ordergate/core/order.hpp"

namespace ordergate::adapters::rest {

/// A client order id as the venue sees it (36 = Binance's maximum).
using VenueClientId = FixedString<36>;

/// The venue client ids of one adapter instance.
class VenueClientIds {
 public:
  /// "og" + 10 base62 characters.
  static constexpr std::size_t kPrefixLength = 12;
  /// Prefix, '-', and an OrderId (32 bits) in base 36 (at most 7 digits).
  static constexpr std::size_t kMaxLength = kPrefixLength + 1 + 7;
  static_assert(kMaxLength <= VenueClientId::kCapacity);

  /// Draws a fresh prefix from OpenSSL's CSPRNG (RAND_bytes); throws
  /// std::runtime_error if the generator fails.
  VenueClientIds();

  /// This instance's prefix ("og" + 10 base62 characters).
  [[nodiscard]] std::string_view prefix() const noexcept { return {prefix_, kPrefixLength}; }

  /// The venue client id of gateway order `id`.
  [[nodiscard]] VenueClientId make(OrderId id) const noexcept;

  /// The gateway order id that `venue_id` names when it is one of this
  /// instance's ids (exactly as `make` writes it); nullopt otherwise.
  [[nodiscard]] std::optional<OrderId> order_id_of(std::string_view venue_id) const noexcept;

 private:
  char prefix_[kPrefixLength] = {};
};

/// `prefix` + '-' + `id` in base 36 (lower case): the venue client id an
/// adapter whose logged prefix is `prefix` sends for gateway order `id`.
/// Empty when `prefix` is longer than `VenueClientIds::kPrefixLength`.
[[nodiscard]] VenueClientId format_venue_client_id(std::string_view prefix, OrderId id) noexcept;

}  // namespace ordergate::adapters::rest
