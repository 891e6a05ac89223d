#include "ordergate/core/decimal.hpp"

#include <stdexcept>

namespace ordergate {

DecimalError Decimal::parse(std::string_view text, Decimal& out) noexcept {
  if (text.empty()) return DecimalError::empty;
  if (text.size() > kMaxTextLength) return DecimalError::invalid_syntax;

  std::size_t pos = 0;
  bool negative = false;
  if (text[0] == '-') {
    negative = true;
    pos = 1;
  }
  const std::size_t integer_begin = pos;
  std::uint64_t integer_part = 0;
  constexpr std::uint64_t kMaxInteger = static_cast<std::uint64_t>(INT64_MAX / kScale) + 1;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
    integer_part = integer_part * 10 + static_cast<std::uint64_t>(text[pos] - '0');
    if (integer_part > kMaxInteger) return DecimalError::out_of_range;
    ++pos;
  }
  if (pos == integer_begin) return DecimalError::invalid_syntax;

  std::uint64_t fraction = 0;
  int fraction_digits = 0;
  if (pos < text.size()) {
    if (text[pos] != '.') return DecimalError::invalid_syntax;
    ++pos;
    const std::size_t fraction_begin = pos;
    bool lost_precision = false;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (fraction_digits < kFractionDigits) {
        fraction = fraction * 10 + static_cast<std::uint64_t>(text[pos] - '0');
        ++fraction_digits;
      } else if (text[pos] != '0') {
        lost_precision = true;
      }
      ++pos;
    }
    if (pos == fraction_begin || pos != text.size()) return DecimalError::invalid_syntax;
    if (lost_precision) return DecimalError::too_precise;
  }
  for (int i = fraction_digits; i < kFractionDigits; ++i) fraction *= 10;

  const std::uint64_t magnitude = integer_part * static_cast<std::uint64_t>(kScale) + fraction;
  const std::uint64_t limit = negative ? static_cast<std::uint64_t>(INT64_MAX) + 1
                                       : static_cast<std::uint64_t>(INT64_MAX);
  if (integer_part >= kMaxInteger || magnitude > limit) return DecimalError::out_of_range;
  if (negative) {
    out = Decimal{magnitude == limit ? INT64_MIN : -static_cast<std::int64_t>(magnitude)};
  } else {
    out = Decimal{static_cast<std::int64_t>(magnitude)};
  }
  return DecimalError::ok;
}

DecimalError Decimal::parse_strict(std::string_view text, Decimal& out) noexcept {
  if (text.empty()) return DecimalError::empty;
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  std::size_t pos = text[0] == '-' ? 1 : 0;
  const std::size_t integer_begin = pos;
  while (pos < text.size() && is_digit(text[pos])) ++pos;
  if (pos == integer_begin) return DecimalError::invalid_syntax;
  if (pos < text.size()) {
    if (text[pos] != '.') return DecimalError::invalid_syntax;
    const std::size_t fraction_begin = ++pos;
    while (pos < text.size() && is_digit(text[pos])) ++pos;
    if (pos == fraction_begin || pos != text.size()) return DecimalError::invalid_syntax;
    if (pos - fraction_begin > static_cast<std::size_t>(kFractionDigits)) return DecimalError::too_precise;
  }
  return parse(text, out);
}

int Decimal::fraction_digits() const noexcept {
  std::int64_t fraction = raw_ % kScale;
  if (fraction == 0) return 0;
  int digits = kFractionDigits;
  while (fraction % 10 == 0) {
    fraction /= 10;
    --digits;
  }
  return digits;
}

std::size_t Decimal::to_chars(char* out) const noexcept {
  std::uint64_t magnitude = raw_ < 0 ? static_cast<std::uint64_t>(-(raw_ + 1)) + 1
                                     : static_cast<std::uint64_t>(raw_);
  std::uint64_t integer_part = magnitude / static_cast<std::uint64_t>(kScale);
  std::uint64_t fraction = magnitude % static_cast<std::uint64_t>(kScale);

  char* p = out;
  if (raw_ < 0) *p++ = '-';
  char digits[20];
  int count = 0;
  do {
    digits[count++] = static_cast<char>('0' + integer_part % 10);
    integer_part /= 10;
  } while (integer_part != 0);
  while (count > 0) *p++ = digits[--count];

  if (fraction != 0) {
    *p++ = '.';
    char frac[kFractionDigits];
    for (int i = kFractionDigits - 1; i >= 0; --i) {
      frac[i] = static_cast<char>('0' + fraction % 10);
      fraction /= 10;
    }
    int last = kFractionDigits - 1;
    while (frac[last] == '0') --last;
    for (int i = 0; i <= last; ++i) *p++ = frac[i];
  }
  return static_cast<std::size_t>(p - out);
}

std::string Decimal::to_string() const {
  char buffer[kMaxPrintedLength];
  return std::string(buffer, to_chars(buffer));
}

bool Decimal::add(Decimal a, Decimal b, Decimal& out) noexcept {
  std::int64_t sum = 0;
  if (__builtin_add_overflow(a.raw_, b.raw_, &sum)) return false;
  out = Decimal{sum};
  return true;
}

bool Decimal::sub(Decimal a, Decimal b, Decimal& out) noexcept {
  std::int64_t difference = 0;
  if (__builtin_sub_overflow(a.raw_, b.raw_, &difference)) return false;
  out = Decimal{difference};
  return true;
}

bool Decimal::multiply(Decimal a, Decimal b, Decimal& out) noexcept {
  const int128 product = product_raw(a, b) / kScale;
  if (product > INT64_MAX || product < INT64_MIN) return false;
  out = Decimal{static_cast<std::int64_t>(product)};
  return true;
}

std::string_view to_string(DecimalError error) noexcept {
  switch (error) {
    case DecimalError::ok: return "ok";
    case DecimalError::empty: return "empty";
    case DecimalError::invalid_syntax: return "not a plain decimal number";
    case DecimalError::too_precise: return "more than 9 fractional digits";
    case DecimalError::out_of_range: return "out of range";
  }
  return "unknown";
}

Decimal decimal_literal(std::string_view text) {
  Decimal value;
  if (Decimal::parse(text, value) != DecimalError::ok) {
    throw std::invalid_argument("invalid decimal literal");
  }
  return value;
}

}  // namespace ordergate
