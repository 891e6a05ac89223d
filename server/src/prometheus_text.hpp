#pragma once

// Internal: the Prometheus text exposition format (version 0.0.4), written
// by hand: families with HELP and TYPE, samples with escaped label values,
// histograms with cumulative buckets ending in +Inf, _sum and _count.

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ordergate::server_detail {

using MetricLabel = std::pair<std::string_view, std::string_view>;

class PrometheusText {
 public:
  /// Starts a family: `# HELP` and `# TYPE` lines. `type` is "counter",
  /// "gauge" or "histogram".
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, std::initializer_list<MetricLabel> labels, std::uint64_t value);
  void sample(std::string_view name, const std::vector<MetricLabel>& labels, std::uint64_t value);
  void sample_double(std::string_view name, std::initializer_list<MetricLabel> labels, double value);
  /// `counts[i]` counts observations in bucket i alone (at most
  /// `upper_bounds[i]`, above the bound before); the last count (one more
  /// than there are bounds) those above every bound. Written cumulative.
  void histogram(std::string_view name, std::span<const double> upper_bounds, std::span<const std::uint64_t> counts,
                 double sum);
  /// The same with `labels` on every line (`le` added to each bucket's).
  void histogram(std::string_view name, const std::vector<MetricLabel>& labels, std::span<const double> upper_bounds,
                 std::span<const std::uint64_t> counts, double sum);

  [[nodiscard]] const std::string& text() const noexcept { return text_; }
  [[nodiscard]] std::string take() noexcept { return std::move(text_); }

  /// A label value with backslash, double quote and line feed escaped.
  static void append_label_value(std::string& out, std::string_view value);
  /// A float as Prometheus reads it: shortest round-trip text, "+Inf", "NaN".
  static void append_double(std::string& out, double value);

 private:
  void labels(std::span<const MetricLabel> labels);
  std::string text_;
};

}  // namespace ordergate::server_detail
