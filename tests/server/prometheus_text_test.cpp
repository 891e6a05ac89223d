#include "prometheus_text.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <limits>
#include <string>

namespace ordergate::server_detail {
namespace {

TEST(PrometheusText, WritesHelpTypeAndSamplesWithLabels) {
  PrometheusText out;
  out.family("ordergate_orders_total", "counter", "Orders decided.");
  out.sample("ordergate_orders_total", {{"principal", "bot"}, {"reason", "OK"}}, 42);
  out.sample("ordergate_orders_total", {}, 7);
  EXPECT_EQ(out.text(),
            "# HELP ordergate_orders_total Orders decided.\n"
            "# TYPE ordergate_orders_total counter\n"
            "ordergate_orders_total{principal=\"bot\",reason=\"OK\"} 42\n"
            "ordergate_orders_total 7\n");
}

TEST(PrometheusText, EscapesBackslashQuoteAndLineFeedInLabelValuesAndHelp) {
  PrometheusText out;
  out.family("m", "gauge", "a \\ b\nc \"kept\"");
  out.sample("m", {{"name", "a\\b\"c\nd"}}, 1);
  EXPECT_EQ(out.text(),
            "# HELP m a \\\\ b\\nc \"kept\"\n"
            "# TYPE m gauge\n"
            "m{name=\"a\\\\b\\\"c\\nd\"} 1\n");
}

TEST(PrometheusText, WritesFloatsAsPrometheusReadsThem) {
  std::string text;
  PrometheusText::append_double(text, 0.25);
  text += ' ';
  PrometheusText::append_double(text, std::numeric_limits<double>::infinity());
  text += ' ';
  PrometheusText::append_double(text, -std::numeric_limits<double>::infinity());
  text += ' ';
  PrometheusText::append_double(text, std::numeric_limits<double>::quiet_NaN());
  text += ' ';
  PrometheusText::append_double(text, 1796447215.5);
  EXPECT_EQ(text, "0.25 +Inf -Inf NaN 1796447215.5");
}

TEST(PrometheusText, HistogramBucketsAreCumulativeAndEndWithInfSumAndCount) {
  PrometheusText out;
  const std::array<double, 3> bounds = {0.001, 0.01, 0.1};
  const std::array<std::uint64_t, 4> counts = {2, 0, 3, 1};  // per bucket; the last is above 0.1
  out.histogram("h_seconds", bounds, counts, 0.5);
  EXPECT_EQ(out.text(),
            "h_seconds_bucket{le=\"0.001\"} 2\n"
            "h_seconds_bucket{le=\"0.01\"} 2\n"
            "h_seconds_bucket{le=\"0.1\"} 5\n"
            "h_seconds_bucket{le=\"+Inf\"} 6\n"
            "h_seconds_sum 0.5\n"
            "h_seconds_count 6\n");
}

TEST(PrometheusText, ALabelledHistogramCarriesItsLabelsOnEveryLine) {
  PrometheusText out;
  const std::array<double, 1> bounds = {0.5};
  const std::array<std::uint64_t, 2> counts = {1, 2};
  out.histogram("r_seconds", {{"broker", "oanda"}, {"kind", "order"}}, bounds, counts, 2.25);
  EXPECT_EQ(out.text(),
            "r_seconds_bucket{broker=\"oanda\",kind=\"order\",le=\"0.5\"} 1\n"
            "r_seconds_bucket{broker=\"oanda\",kind=\"order\",le=\"+Inf\"} 3\n"
            "r_seconds_sum{broker=\"oanda\",kind=\"order\"} 2.25\n"
            "r_seconds_count{broker=\"oanda\",kind=\"order\"} 3\n");
}

TEST(PrometheusText, AnEmptyHistogramStillHasItsInfBucketSumAndCount) {
  PrometheusText out;
  const std::array<double, 1> bounds = {1.0};
  const std::array<std::uint64_t, 2> counts = {0, 0};
  out.histogram("h", bounds, counts, 0);
  EXPECT_EQ(out.text(), "h_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n");
}

}  // namespace
}  // namespace ordergate::server_detail
