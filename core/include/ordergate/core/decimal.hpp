#pragma once

/// \file
/// Fixed-point decimal used for every price, quantity and notional.
///
/// A `Decimal` is a signed 64-bit count of nano-units (9 fractional digits).
/// Values are parsed exactly from their decimal text and printed back exactly;
/// nothing on the money path goes through `double`. Products (notional) are
/// computed in 128 bits so they cannot overflow silently.

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace ordergate {

__extension__ using int128 = __int128;

/// Why a decimal text was refused by `Decimal::parse`.
enum class DecimalError : std::uint8_t {
  ok = 0,
  empty,           ///< no characters
  invalid_syntax,  ///< not `[-]digits[.digits]` (NaN, Inf, exponents, garbage, overlong)
  too_precise,     ///< more than 9 significant fractional digits
  out_of_range,    ///< magnitude does not fit in 64-bit nano-units
};

class Decimal {
 public:
  static constexpr int kFractionDigits = 9;
  static constexpr std::int64_t kScale = 1'000'000'000;
  /// Longest text `parse` accepts; longer input is `invalid_syntax`.
  static constexpr std::size_t kMaxTextLength = 40;
  /// Enough for any value printed by `to_chars` (sign, 10 + 9 digits, point).
  static constexpr std::size_t kMaxPrintedLength = 24;

  constexpr Decimal() noexcept = default;

  /// Builds a value from its raw nano-unit count (1 == 0.000000001).
  static constexpr Decimal from_raw(std::int64_t raw) noexcept { return Decimal{raw}; }
  /// Builds a whole-number value; the caller guarantees it is in range.
  static constexpr Decimal from_integer(std::int64_t units) noexcept {
    return Decimal{units * kScale};
  }

  /// Parses `[-]digits[.digits]` exactly. Trailing fractional zeros beyond
  /// nine digits are accepted ("1.0000000000"); any other tenth digit is
  /// `too_precise`, never rounded. On error `out` is left unchanged.
  /// Cost: one pass over the text, no allocation.
  [[nodiscard]] static DecimalError parse(std::string_view text, Decimal& out) noexcept;

  /// Like `parse`, but any fractional digit past the ninth is `too_precise`,
  /// zero or not, however long the text: the wire protocol's rule
  /// (docs/protocol.md: more than 9 decimals is a rejection).
  [[nodiscard]] static DecimalError parse_strict(std::string_view text, Decimal& out) noexcept;

  [[nodiscard]] constexpr std::int64_t raw() const noexcept { return raw_; }
  [[nodiscard]] constexpr bool is_zero() const noexcept { return raw_ == 0; }
  [[nodiscard]] constexpr bool is_positive() const noexcept { return raw_ > 0; }
  [[nodiscard]] constexpr bool is_negative() const noexcept { return raw_ < 0; }
  [[nodiscard]] constexpr Decimal abs() const noexcept { return Decimal{raw_ < 0 ? -raw_ : raw_}; }
  [[nodiscard]] constexpr Decimal operator-() const noexcept { return Decimal{-raw_}; }

  /// 10^-digits (`digits` within 0..9): 1, 0.1, ..., 0.000000001.
  static constexpr Decimal unit(int digits) noexcept {
    std::int64_t raw = kScale;
    for (int i = 0; i < digits && i < kFractionDigits; ++i) raw /= 10;
    return Decimal{raw};
  }

  /// Number of significant fractional digits (0 for whole numbers).
  [[nodiscard]] int fraction_digits() const noexcept;

  /// True when this value is an exact multiple of `step` (`step` > 0).
  [[nodiscard]] constexpr bool is_multiple_of(Decimal step) const noexcept {
    return step.raw_ > 0 && raw_ % step.raw_ == 0;
  }

  /// Writes the shortest exact text ("1.08463", "10000", "-0.5") into `out`,
  /// which must hold `kMaxPrintedLength` characters; returns the length.
  std::size_t to_chars(char* out) const noexcept;
  [[nodiscard]] std::string to_string() const;

  /// Checked arithmetic: returns false (and leaves `out` alone) on overflow.
  [[nodiscard]] static bool add(Decimal a, Decimal b, Decimal& out) noexcept;
  [[nodiscard]] static bool sub(Decimal a, Decimal b, Decimal& out) noexcept;

  /// Exact product in units of 1e-18, for comparisons that must not round.
  [[nodiscard]] static constexpr int128 product_raw(Decimal a, Decimal b) noexcept {
    return static_cast<int128>(a.raw_) * static_cast<int128>(b.raw_);
  }
  /// True when |a * b| > |limit|, computed exactly.
  [[nodiscard]] static constexpr bool product_exceeds(Decimal a, Decimal b, Decimal limit) noexcept {
    int128 product = product_raw(a, b);
    if (product < 0) product = -product;
    int128 bound = static_cast<int128>(limit.raw_) * kScale;
    if (bound < 0) bound = -bound;
    return product > bound;
  }
  /// a * b truncated toward zero to 9 digits; false on overflow. For display
  /// and averages only; limits use `product_exceeds`.
  [[nodiscard]] static bool multiply(Decimal a, Decimal b, Decimal& out) noexcept;

  friend constexpr auto operator<=>(Decimal, Decimal) noexcept = default;
  friend constexpr bool operator==(Decimal, Decimal) noexcept = default;

 private:
  constexpr explicit Decimal(std::int64_t raw) noexcept : raw_(raw) {}
  std::int64_t raw_ = 0;
};

/// Whether values are multiples of one fixed positive step, without a
/// division: the step is 2^shift times an odd number m, and a magnitude is
/// a multiple of it when its low `shift` bits are zero and the rest, times
/// m's inverse modulo 2^64, is at most (2^64 - 1) / m (multiplying by the
/// inverse maps the multiples of m, and only them, onto 0..that bound).
/// The instrument tables keep one per tick and lot step and per allowed
/// precision, which validation tests every order against.
class StepTest {
 public:
  constexpr StepTest() noexcept = default;
  /// `step` must be positive; a non-positive step admits only zero.
  explicit constexpr StepTest(Decimal step) noexcept {
    if (!step.is_positive()) {
      low_mask_ = ~std::uint64_t{0};
      return;
    }
    auto odd = static_cast<std::uint64_t>(step.raw());
    while ((odd & 1) == 0) {
      odd >>= 1;
      ++shift_;
    }
    low_mask_ = (std::uint64_t{1} << shift_) - 1;
    // Newton's iteration: each step doubles the correct low bits, from the
    // three that odd * odd == 1 (mod 8) gives.
    std::uint64_t inverse = odd;
    for (int i = 0; i < 5; ++i) inverse *= 2 - odd * inverse;
    inverse_ = inverse;
    limit_ = ~std::uint64_t{0} / odd;
  }

  [[nodiscard]] constexpr bool divides(Decimal value) const noexcept {
    const auto raw = static_cast<std::uint64_t>(value.raw());
    const std::uint64_t magnitude = value.is_negative() ? 0 - raw : raw;
    return (magnitude & low_mask_) == 0 && (magnitude >> shift_) * inverse_ <= limit_;
  }

 private:
  std::uint64_t low_mask_ = 0;
  std::uint64_t inverse_ = 1;
  std::uint64_t limit_ = ~std::uint64_t{0};
  unsigned shift_ = 0;
};

/// Short, stable name of a parse error, for messages.
[[nodiscard]] std::string_view to_string(DecimalError error) noexcept;

/// Parses a literal that is known to be valid (tests, examples, defaults);
/// throws std::invalid_argument otherwise. Not for the hot path.
[[nodiscard]] Decimal decimal_literal(std::string_view text);

}  // namespace ordergate
