#include "prometheus_text.hpp"

#include <array>
#include <charconv>
#include <cmath>

namespace ordergate::server_detail {

void PrometheusText::family(std::string_view name, std::string_view type, std::string_view help) {
  text_ += "# HELP ";
  text_ += name;
  text_ += ' ';
  for (const char c : help) {
    if (c == '\\') {
      text_ += "\\\\";
    } else if (c == '\n') {
      text_ += "\\n";
    } else {
      text_ += c;
    }
  }
  text_ += "\n# TYPE ";
  text_ += name;
  text_ += ' ';
  text_ += type;
  text_ += '\n';
}

void PrometheusText::append_label_value(std::string& out, std::string_view value) {
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void PrometheusText::append_double(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  std::array<char, 32> buffer{};
  const auto [end, error] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  if (error != std::errc{}) {
    out += "NaN";
    return;
  }
  out.append(buffer.data(), end);
}

void PrometheusText::labels(std::span<const MetricLabel> labels) {
  if (labels.empty()) return;
  text_ += '{';
  bool first = true;
  for (const auto& [key, value] : labels) {
    if (!first) text_ += ',';
    first = false;
    text_ += key;
    text_ += "=\"";
    append_label_value(text_, value);
    text_ += '"';
  }
  text_ += '}';
}

void PrometheusText::sample(std::string_view name, std::initializer_list<MetricLabel> labels, std::uint64_t value) {
  text_ += name;
  this->labels(std::span<const MetricLabel>(labels.begin(), labels.size()));
  text_ += ' ';
  text_ += std::to_string(value);
  text_ += '\n';
}

void PrometheusText::sample(std::string_view name, const std::vector<MetricLabel>& labels, std::uint64_t value) {
  text_ += name;
  this->labels(labels);
  text_ += ' ';
  text_ += std::to_string(value);
  text_ += '\n';
}

void PrometheusText::sample_double(std::string_view name, std::initializer_list<MetricLabel> labels, double value) {
  text_ += name;
  this->labels(std::span<const MetricLabel>(labels.begin(), labels.size()));
  text_ += ' ';
  append_double(text_, value);
  text_ += '\n';
}

void PrometheusText::histogram(std::string_view name, std::span<const double> upper_bounds,
                               std::span<const std::uint64_t> counts, double sum) {
  histogram(name, {}, upper_bounds, counts, sum);
}

void PrometheusText::histogram(std::string_view name, const std::vector<MetricLabel>& labels,
                               std::span<const double> upper_bounds, std::span<const std::uint64_t> counts,
                               double sum) {
  std::uint64_t cumulative = 0;
  const std::string bucket = std::string(name) + "_bucket";
  std::vector<MetricLabel> with_bound = labels;
  with_bound.emplace_back("le", "");
  const auto bucket_line = [&](const std::string& bound, std::uint64_t count) {
    with_bound.back().second = bound;
    sample(bucket, with_bound, count);
  };
  for (std::size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    std::string bound;
    if (i < upper_bounds.size()) {
      append_double(bound, upper_bounds[i]);
    } else {
      bound = "+Inf";
    }
    bucket_line(bound, cumulative);
  }
  if (counts.size() <= upper_bounds.size()) bucket_line("+Inf", cumulative);
  text_ += name;
  text_ += "_sum";
  this->labels(labels);
  text_ += ' ';
  append_double(text_, sum);
  text_ += '\n';
  sample(std::string(name) + "_count", labels, cumulative);
}

}  // namespace ordergate::server_detail
