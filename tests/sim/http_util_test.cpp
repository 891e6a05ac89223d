#include "http_types.hpp"

#include <gtest/gtest.h>

#include "json_writer.hpp"

// The simulator's text helpers: query strings, times, decimals and JSON.

namespace ordergate::sim {
namespace {

TEST(SimHttpUtil, ParsesAndPercentDecodesParameters) {
  const auto params = parse_params("symbol=BTCUSDT&newClientOrderId=a%2Db&note=two+words&empty=&flag");
  ASSERT_EQ(params.size(), 5u);
  EXPECT_EQ(find_param(params, "newClientOrderId"), "a-b");
  EXPECT_EQ(find_param(params, "note"), "two words");
  EXPECT_EQ(find_param(params, "empty"), "");
  EXPECT_EQ(find_param(params, "flag"), "");
  EXPECT_FALSE(find_param(params, "missing"));
  EXPECT_FALSE(percent_decode("%4", false));
  EXPECT_FALSE(percent_decode("%zz", false));
  EXPECT_EQ(percent_decode("%40id", false), "@id");
}

TEST(SimHttpUtil, PrintsAndParsesRfc3339WithNanoseconds) {
  const std::int64_t ns = 1'714'564'800'123'456'789;
  EXPECT_EQ(rfc3339(ns), "2024-05-01T12:00:00.123456789Z");
  EXPECT_EQ(parse_time_ns("2024-05-01T12:00:00.123456789Z"), ns);
  EXPECT_EQ(parse_time_ns("2024-05-01T14:00:00.123456789+02:00"), ns);
  EXPECT_EQ(parse_time_ns("1714564800.123456789"), ns);
  EXPECT_FALSE(parse_time_ns("2024-05-01 12:00:00Z"));
  EXPECT_FALSE(parse_time_ns("2024-13-01T12:00:00Z"));
  EXPECT_FALSE(parse_time_ns(""));
}

TEST(SimHttpUtil, FormatsDecimalsWithAMinimumOfFractionDigitsAndNeverRounds) {
  EXPECT_EQ(format_decimal(decimal_literal("0.1"), 8), "0.10000000");
  EXPECT_EQ(format_decimal(decimal_literal("64000"), 2), "64000.00");
  EXPECT_EQ(format_decimal(decimal_literal("1.123456789"), 5), "1.123456789");
  EXPECT_EQ(format_decimal(decimal_literal("-400"), 0), "-400");
  EXPECT_EQ(written_fraction_digits("1.08450"), 5);
  EXPECT_EQ(decimal_step(5), decimal_literal("0.00001"));
}

TEST(SimJsonWriter, EscapesStringsAndPlacesCommas) {
  JsonWriter out;
  out.begin_object()
      .member("text", "quote\" backslash\\ newline\n tab\t bell\x07")
      .key("list")
      .begin_array()
      .integer(-1)
      .boolean(true)
      .raw(R"({"a":"b"})")
      .end_array()
      .end_object();
  EXPECT_EQ(out.str(),
            R"({"text":"quote\" backslash\\ newline\n tab\t bell\u0007","list":[-1,true,{"a":"b"}]})");
}

}  // namespace
}  // namespace ordergate::sim
