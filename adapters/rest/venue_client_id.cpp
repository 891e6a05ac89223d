#include "ordergate/adapters/rest/venue_client_id.hpp"

#include <array>
#include <cstring>

#include "ordergate/security/crypto.hpp"

namespace ordergate::adapters::rest {

namespace {

constexpr char kBase62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr char kBase36[] = "0123456789abcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kTag = "og";
constexpr char kSeparator = '-';
constexpr std::size_t kRandomLength = VenueClientIds::kPrefixLength - kTag.size();
// The largest multiple of 62 that fits in a byte: bytes at or above it are
// drawn again, so every character is equally likely.
constexpr unsigned kUnbiasedBelow = 62 * (256 / 62);

}  // namespace

VenueClientIds::VenueClientIds() {
  std::memcpy(prefix_, kTag.data(), kTag.size());
  std::size_t filled = 0;
  std::array<std::uint8_t, 16> bytes{};
  while (filled < kRandomLength) {
    security::random_bytes(bytes.data(), bytes.size());
    for (const std::uint8_t byte : bytes) {
      if (byte >= kUnbiasedBelow) continue;
      prefix_[kTag.size() + filled] = kBase62[byte % 62];
      if (++filled == kRandomLength) break;
    }
  }
}

VenueClientId VenueClientIds::make(OrderId id) const noexcept { return format_venue_client_id(prefix(), id); }

std::optional<OrderId> VenueClientIds::order_id_of(std::string_view venue_id) const noexcept {
  if (venue_id.size() <= kPrefixLength + 1 || venue_id.size() > kMaxLength ||
      venue_id.substr(0, kPrefixLength) != prefix() || venue_id[kPrefixLength] != kSeparator) {
    return std::nullopt;
  }
  const std::string_view digits = venue_id.substr(kPrefixLength + 1);
  std::uint64_t value = 0;
  for (const char c : digits) {
    unsigned digit = 0;
    if (c >= '0' && c <= '9') {
      digit = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'z') {
      digit = static_cast<unsigned>(c - 'a') + 10;
    } else {
      return std::nullopt;
    }
    value = value * 36 + digit;
  }
  if (value > UINT32_MAX) return std::nullopt;
  const auto id = static_cast<OrderId>(value);
  // Only the one spelling `make` writes (no leading zeros) names the order.
  if (make(id).view() != venue_id) return std::nullopt;
  return id;
}

VenueClientId format_venue_client_id(std::string_view prefix, OrderId id) noexcept {
  VenueClientId out;
  if (prefix.size() > VenueClientIds::kPrefixLength) return out;
  char text[VenueClientIds::kMaxLength];
  std::memcpy(text, prefix.data(), prefix.size());
  std::size_t length = prefix.size();
  text[length++] = kSeparator;
  char digits[7];
  std::size_t count = 0;
  do {
    digits[count++] = kBase36[id % 36];
    id /= 36;
  } while (id != 0);
  while (count > 0) text[length++] = digits[--count];
  out.assign(std::string_view(text, length));
  return out;
}

}  // namespace ordergate::adapters::rest
