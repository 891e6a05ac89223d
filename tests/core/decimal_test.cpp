#include "ordergate/core/decimal.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace ordergate {
namespace {

constexpr std::int64_t kMaxRaw = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMinRaw = std::numeric_limits<std::int64_t>::min();

DecimalError parse_error(std::string_view text) {
  Decimal value;
  return Decimal::parse(text, value);
}

TEST(Decimal, ParsesAndPrintsBackExactly) {
  for (const char* text : {"1.08463", "10000", "-0.5", "0", "0.000000001", "9223372036.854775807",
                           "-9223372036.854775808", "150.123"}) {
    Decimal value;
    ASSERT_EQ(Decimal::parse(text, value), DecimalError::ok) << text;
    EXPECT_EQ(value.to_string(), text);
  }
}

TEST(Decimal, ParsesToExactNanoUnits) {
  Decimal value;
  ASSERT_EQ(Decimal::parse("1.08463", value), DecimalError::ok);
  EXPECT_EQ(value.raw(), 1'084'630'000);
  ASSERT_EQ(Decimal::parse("-0.000000001", value), DecimalError::ok);
  EXPECT_EQ(value.raw(), -1);
  ASSERT_EQ(Decimal::parse("9223372036.854775807", value), DecimalError::ok);
  EXPECT_EQ(value.raw(), kMaxRaw);
  ASSERT_EQ(Decimal::parse("-9223372036.854775808", value), DecimalError::ok);
  EXPECT_EQ(value.raw(), kMinRaw);
}

TEST(Decimal, PrintsNormalisedFormsOfEquivalentTexts) {
  for (auto [text, printed] : {std::pair{"-0", "0"}, std::pair{"00012.50", "12.5"},
                               std::pair{"1.000000000", "1"}, std::pair{"0.1000", "0.1"}}) {
    Decimal value;
    ASSERT_EQ(Decimal::parse(text, value), DecimalError::ok) << text;
    EXPECT_EQ(value.to_string(), printed) << text;
  }
}

TEST(Decimal, RejectsEmptyText) { EXPECT_EQ(parse_error(""), DecimalError::empty); }

TEST(Decimal, RejectsEverythingThatIsNotAPlainDecimal) {
  for (const char* text : {"-", ".5", "1.", "1e5", "1E5", "NaN", "nan", "inf", "-inf", "Infinity", "+1",
                           " 1", "1 ", "0x10", "1.2.3", "--1", "1,5", "1_000", "-.5", "1.-5", "٣"}) {
    EXPECT_EQ(parse_error(text), DecimalError::invalid_syntax) << text;
  }
}

TEST(Decimal, RejectsEmbeddedNulByte) {
  EXPECT_EQ(parse_error(std::string_view("1\0" "5", 3)), DecimalError::invalid_syntax);
}

TEST(Decimal, RejectsTextLongerThanTheLimitEvenWhenItsValueIsSmall) {
  const std::string padded = "0." + std::string(Decimal::kMaxTextLength - 3, '0') + "1";
  ASSERT_EQ(padded.size(), Decimal::kMaxTextLength);
  EXPECT_EQ(parse_error(padded), DecimalError::too_precise);  // at the limit: read, then refused
  const std::string longer = std::string(Decimal::kMaxTextLength + 1, '0');
  EXPECT_EQ(parse_error(longer), DecimalError::invalid_syntax);
}

TEST(Decimal, RejectsMagnitudesBeyondSixtyFourBitNanoUnits) {
  EXPECT_EQ(parse_error("9223372036.854775808"), DecimalError::out_of_range);
  EXPECT_EQ(parse_error("-9223372036.854775809"), DecimalError::out_of_range);
  EXPECT_EQ(parse_error("9223372037"), DecimalError::out_of_range);
  EXPECT_EQ(parse_error("99999999999999999999999999999999"), DecimalError::out_of_range);
}

TEST(Decimal, RejectsATenthNonZeroFractionalDigitButAcceptsTrailingZeros) {
  EXPECT_EQ(parse_error("0.0000000001"), DecimalError::too_precise);
  EXPECT_EQ(parse_error("1.1234567891"), DecimalError::too_precise);
  EXPECT_EQ(parse_error("1.1234567890001"), DecimalError::too_precise);
  Decimal value;
  ASSERT_EQ(Decimal::parse("1.123456789000000", value), DecimalError::ok);
  EXPECT_EQ(value.raw(), 1'123'456'789);
}

TEST(Decimal, StrictParseRefusesATenthDecimalEvenWhenItIsZero) {
  Decimal value = Decimal::from_integer(7);
  EXPECT_EQ(Decimal::parse_strict("1000.0000000000", value), DecimalError::too_precise);
  EXPECT_EQ(Decimal::parse_strict("1000.0000000001", value), DecimalError::too_precise);
  // Precision is judged before length: forty zeros are still "too precise".
  EXPECT_EQ(Decimal::parse_strict("1." + std::string(40, '0'), value), DecimalError::too_precise);
  EXPECT_EQ(value, Decimal::from_integer(7));
  ASSERT_EQ(Decimal::parse_strict("1000.000000000", value), DecimalError::ok);
  EXPECT_EQ(value, Decimal::from_integer(1000));
  ASSERT_EQ(Decimal::parse_strict("-0.000000001", value), DecimalError::ok);
  EXPECT_EQ(value.raw(), -1);
  EXPECT_EQ(Decimal::parse_strict("", value), DecimalError::empty);
  for (const char* text : {"1.", ".5", "+1", "-", "1e3", "1.5e-3", "0x10", " 1", "1 ", "1.2.3", "--1"}) {
    EXPECT_EQ(Decimal::parse_strict(text, value), DecimalError::invalid_syntax) << text;
  }
  EXPECT_EQ(Decimal::parse_strict("9223372037", value), DecimalError::out_of_range);
}

// Every text built from the grammar's pieces (sign, integer digits with or
// without leading zeros, 0 to 40 decimals, an exponent) is parsed as a
// reference model built on plain string rules says.
TEST(Decimal, StrictParseAgreesWithTheGrammarOverGeneratedTexts) {
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&](std::uint64_t bound) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state % bound;
  };
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    const std::uint64_t sign = next(10);
    if (sign == 0) text += '+';
    if (sign == 1 || sign == 2) text += '-';
    const std::size_t leading_zeros = next(4) == 0 ? next(3) + 1 : 0;
    text.append(leading_zeros, '0');
    const std::size_t integer_digits = next(12);
    for (std::size_t i = 0; i < integer_digits; ++i) text += static_cast<char>('0' + next(10));
    const bool point = next(4) != 0;
    const std::size_t decimals = point ? next(41) : 0;
    const bool zero_decimals = next(3) == 0;
    if (point) text += '.';
    for (std::size_t i = 0; i < decimals; ++i) text += zero_decimals ? '0' : static_cast<char>('0' + next(10));
    const bool exponent = next(10) == 0;
    if (exponent) text += next(2) == 0 ? "e3" : "E-2";

    DecimalError expected = DecimalError::ok;
    const bool integer_present = leading_zeros + integer_digits > 0;
    if (text.empty()) {
      expected = DecimalError::empty;
    } else if (sign == 0 || !integer_present || (point && decimals == 0) || exponent) {
      expected = DecimalError::invalid_syntax;
    } else if (decimals > 9) {
      expected = DecimalError::too_precise;
    }
    Decimal value = Decimal::from_integer(7);
    const DecimalError parsed = Decimal::parse_strict(text, value);
    if (expected == DecimalError::ok) {
      // In range or not is the lenient parser's call; the strict one agrees with it.
      Decimal lenient;
      EXPECT_EQ(parsed, Decimal::parse(text, lenient)) << text;
      if (parsed == DecimalError::ok) {
        EXPECT_EQ(value, lenient) << text;
        char printed[Decimal::kMaxPrintedLength];
        Decimal again;
        ASSERT_EQ(Decimal::parse_strict(std::string_view(printed, value.to_chars(printed)), again), DecimalError::ok);
        EXPECT_EQ(again, value) << text;
      } else {
        EXPECT_EQ(parsed, DecimalError::out_of_range) << text;
      }
    } else {
      EXPECT_EQ(parsed, expected) << text;
    }
    if (parsed != DecimalError::ok) {
      EXPECT_EQ(value, Decimal::from_integer(7)) << text;
    }
  }
}

TEST(Decimal, LeavesOutputUntouchedOnError) {
  Decimal value = Decimal::from_integer(7);
  for (const char* text : {"", "abc", "0.0000000001", "1e99999999999"}) {
    EXPECT_NE(Decimal::parse(text, value), DecimalError::ok);
    EXPECT_EQ(value, Decimal::from_integer(7)) << text;
  }
}

TEST(Decimal, CountsSignificantFractionDigits) {
  EXPECT_EQ(decimal_literal("10000").fraction_digits(), 0);
  EXPECT_EQ(decimal_literal("1.5").fraction_digits(), 1);
  EXPECT_EQ(decimal_literal("1.08463").fraction_digits(), 5);
  EXPECT_EQ(decimal_literal("0.000000001").fraction_digits(), 9);
  EXPECT_EQ(decimal_literal("-0.25").fraction_digits(), 2);
  EXPECT_EQ(Decimal::from_raw(kMinRaw).fraction_digits(), 9);
}

TEST(Decimal, ChecksMultiplesOfAStep) {
  EXPECT_TRUE(decimal_literal("1.08465").is_multiple_of(decimal_literal("0.00005")));
  EXPECT_FALSE(decimal_literal("1.08463").is_multiple_of(decimal_literal("0.00005")));
  EXPECT_TRUE(decimal_literal("-3").is_multiple_of(decimal_literal("1.5")));
  EXPECT_FALSE(decimal_literal("3").is_multiple_of(Decimal{}));
  EXPECT_FALSE(decimal_literal("3").is_multiple_of(decimal_literal("-1")));
}

TEST(Decimal, AddAndSubtractDetectOverflowAndLeaveOutputAlone) {
  const Decimal max = Decimal::from_raw(kMaxRaw);
  const Decimal min = Decimal::from_raw(kMinRaw);
  const Decimal tiny = Decimal::from_raw(1);
  Decimal out = Decimal::from_integer(5);
  EXPECT_FALSE(Decimal::add(max, tiny, out));
  EXPECT_FALSE(Decimal::sub(min, tiny, out));
  EXPECT_FALSE(Decimal::sub(Decimal{}, min, out));
  EXPECT_EQ(out, Decimal::from_integer(5));
  ASSERT_TRUE(Decimal::add(max, -max, out));
  EXPECT_TRUE(out.is_zero());
  ASSERT_TRUE(Decimal::sub(decimal_literal("1.1"), decimal_literal("0.3"), out));
  EXPECT_EQ(out, decimal_literal("0.8"));
}

TEST(Decimal, ProductExceedsIsExactAtTheLimit) {
  const Decimal quantity = decimal_literal("100000");
  const Decimal price = decimal_literal("1.08463");
  EXPECT_FALSE(Decimal::product_exceeds(quantity, price, decimal_literal("108463")));
  EXPECT_TRUE(Decimal::product_exceeds(quantity, price, decimal_literal("108462.999999999")));
  // 1.000000001^2 = 1.000000002000000001: above 1.000000002 by 1e-18, which
  // the truncating multiply (and any double) loses.
  const Decimal a = decimal_literal("1.000000001");
  Decimal truncated;
  ASSERT_TRUE(Decimal::multiply(a, a, truncated));
  EXPECT_EQ(truncated, decimal_literal("1.000000002"));
  EXPECT_TRUE(Decimal::product_exceeds(a, a, decimal_literal("1.000000002")));
  EXPECT_FALSE(Decimal::product_exceeds(a, a, decimal_literal("1.000000003")));
  const Decimal one_nano = Decimal::from_raw(1);
  EXPECT_FALSE(Decimal::product_exceeds(one_nano, one_nano, Decimal::from_raw(1)));
  EXPECT_TRUE(Decimal::product_exceeds(one_nano, Decimal::from_integer(2), one_nano));
}

TEST(Decimal, ProductExceedsComparesMagnitudesAndNeverOverflows) {
  const Decimal max = Decimal::from_raw(kMaxRaw);
  const Decimal min = Decimal::from_raw(kMinRaw);
  EXPECT_TRUE(Decimal::product_exceeds(max, max, max));
  EXPECT_TRUE(Decimal::product_exceeds(min, min, min));
  EXPECT_TRUE(Decimal::product_exceeds(-decimal_literal("3"), decimal_literal("2"), decimal_literal("5")));
  EXPECT_FALSE(Decimal::product_exceeds(-decimal_literal("3"), decimal_literal("2"), decimal_literal("-6")));
  EXPECT_EQ(Decimal::product_raw(min, min), static_cast<int128>(1) << 126);
}

TEST(Decimal, MultiplyTruncatesTowardZeroAndDetectsOverflow) {
  Decimal out;
  ASSERT_TRUE(Decimal::multiply(decimal_literal("100000"), decimal_literal("1.08463"), out));
  EXPECT_EQ(out, decimal_literal("108463"));
  ASSERT_TRUE(Decimal::multiply(decimal_literal("0.000000001"), decimal_literal("0.5"), out));
  EXPECT_TRUE(out.is_zero());
  ASSERT_TRUE(Decimal::multiply(decimal_literal("-0.000000003"), decimal_literal("0.5"), out));
  EXPECT_EQ(out.raw(), -1);
  out = Decimal::from_integer(9);
  EXPECT_FALSE(Decimal::multiply(decimal_literal("100000"), decimal_literal("100000"), out));
  EXPECT_EQ(out, Decimal::from_integer(9));
}

TEST(Decimal, OrdersByValue) {
  EXPECT_LT(decimal_literal("-1"), decimal_literal("0.000000001"));
  EXPECT_LT(decimal_literal("1.0846"), decimal_literal("1.08463"));
  EXPECT_EQ(decimal_literal("1.50"), decimal_literal("1.5"));
  EXPECT_EQ(decimal_literal("-2.5").abs(), decimal_literal("2.5"));
}

TEST(Decimal, ToCharsFitsTheLongestValues) {
  char buffer[Decimal::kMaxPrintedLength];
  EXPECT_EQ(Decimal::from_raw(kMinRaw).to_chars(buffer), std::string_view("-9223372036.854775808").size());
  EXPECT_LE(Decimal::from_raw(kMinRaw + 1).to_chars(buffer), Decimal::kMaxPrintedLength);
}

TEST(Decimal, NamesEveryParseError) {
  for (DecimalError error : {DecimalError::ok, DecimalError::empty, DecimalError::invalid_syntax,
                             DecimalError::too_precise, DecimalError::out_of_range}) {
    EXPECT_FALSE(to_string(error).empty());
  }
}

TEST(Decimal, LiteralThrowsOnInvalidText) {
  EXPECT_EQ(decimal_literal("2.5"), Decimal::from_raw(2'500'000'000));
  EXPECT_THROW((void)decimal_literal("2,5"), std::invalid_argument);
}

TEST(Decimal, UnitIsOneAtEachNumberOfFractionalDigits) {
  EXPECT_EQ(Decimal::unit(0), decimal_literal("1"));
  EXPECT_EQ(Decimal::unit(5), decimal_literal("0.00001"));
  EXPECT_EQ(Decimal::unit(9), decimal_literal("0.000000001"));
  for (int digits = 0; digits <= Decimal::kFractionDigits; ++digits) {
    EXPECT_EQ(Decimal::unit(digits).fraction_digits(), digits);
  }
}

// StepTest replaces a division on the order path: it must agree with the
// remainder for every step an instrument may have (powers of two, of ten,
// odd steps, 0.25, the largest raw values) and every sign.
TEST(StepTest, AgreesWithTheRemainderForManyStepsAndValues) {
  std::mt19937_64 random(11);
  std::vector<std::int64_t> steps = {1, 2, 3, 5, 7, 10, 25, 64, 1'000, 250'000'000, 1'000'000'000,
                                     3'000'000'000, std::numeric_limits<std::int64_t>::max()};
  for (int digits = 0; digits <= Decimal::kFractionDigits; ++digits) steps.push_back(Decimal::unit(digits).raw());
  for (int i = 0; i < 200; ++i) steps.push_back(1 + static_cast<std::int64_t>(random() >> (1 + random() % 63)));
  for (const std::int64_t raw_step : steps) {
    const Decimal step = Decimal::from_raw(raw_step);
    const StepTest test(step);
    std::vector<std::int64_t> values = {0, 1, -1, raw_step, -raw_step, std::numeric_limits<std::int64_t>::max(),
                                        std::numeric_limits<std::int64_t>::min()};
    for (std::int64_t k : {2, 3, 7, 1000}) {
      if (raw_step <= std::numeric_limits<std::int64_t>::max() / k) {
        values.push_back(raw_step * k);
        values.push_back(raw_step * k + 1);
        values.push_back(-raw_step * k);
        values.push_back(raw_step * k - 1);
      }
    }
    for (int i = 0; i < 300; ++i) values.push_back(static_cast<std::int64_t>(random()));
    for (const std::int64_t raw : values) {
      const Decimal value = Decimal::from_raw(raw);
      // The remainder of INT64_MIN by -1 would overflow; steps are positive.
      const bool expected = raw % raw_step == 0;
      ASSERT_EQ(test.divides(value), expected) << raw << " by " << raw_step;
      ASSERT_EQ(value.is_multiple_of(step), expected) << raw << " by " << raw_step;
    }
  }
}

TEST(StepTest, ANonPositiveStepAdmitsOnlyZero) {
  for (const Decimal step : {Decimal{}, decimal_literal("-0.5")}) {
    const StepTest test(step);
    EXPECT_TRUE(test.divides(Decimal{}));
    EXPECT_FALSE(test.divides(decimal_literal("1")));
    EXPECT_FALSE(test.divides(decimal_literal("-0.5")));
  }
}

}  // namespace
}  // namespace ordergate
