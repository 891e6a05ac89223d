#pragma once

// Internal: reads one TOML table of the configuration file, with messages
// that name the file, line and key.

// toml++ asserts an invariant of its own that some malformed input breaks
// ("[;": a table header without a key), found by fuzzing the sanitizer
// build; the release build compiles the check out and then refuses the
// input as a parse error. Every file that includes toml++ defines this the
// same way, so debug and release parse alike.
#ifndef TOML_ASSERT
#define TOML_ASSERT(expr) static_cast<void>(0)
#endif
#include <toml++/toml.h>

#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "ordergate/core/decimal.hpp"
#include "ordergate/gateway/config.hpp"
#include "ordergate/server/config_file.hpp"

namespace ordergate::server_detail {

// Reads one TOML table, remembering which keys were used so that anything
// left over is reported as unknown, with its line.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string path, const std::string& source)
      : table_(table), path_(std::move(path)), source_(source) {}

  [[noreturn]] void fail(const toml::node* node, std::string_view key, const std::string& problem) const {
    std::ostringstream message;
    message << source_;
    const auto line = node != nullptr ? node->source().begin.line : table_.source().begin.line;
    if (line > 0) message << ":" << line;
    message << ": key '" << full(key) << "': " << problem;
    throw ConfigError(message.str());
  }

  const toml::node* find(std::string_view key) {
    used_.insert(std::string(key));
    return table_.get(key);
  }

  std::string string(std::string_view key, std::string fallback) {
    const toml::node* node = find(key);
    if (node == nullptr) return fallback;
    if (!node->is_string()) fail(node, key, "expected a string");
    return std::string(*node->value<std::string_view>());
  }

  std::string required_string(std::string_view key) {
    const toml::node* node = find(key);
    if (node == nullptr) fail(nullptr, key, "is required");
    if (!node->is_string()) fail(node, key, "expected a string");
    return std::string(*node->value<std::string_view>());
  }

  bool boolean(std::string_view key, bool fallback) {
    const toml::node* node = find(key);
    if (node == nullptr) return fallback;
    if (!node->is_boolean()) fail(node, key, "expected true or false");
    return *node->value<bool>();
  }

  std::int64_t integer(std::string_view key, std::int64_t fallback, std::int64_t min, std::int64_t max) {
    const toml::node* node = find(key);
    if (node == nullptr) return fallback;
    if (!node->is_integer()) fail(node, key, "expected an integer");
    const std::int64_t value = *node->value<std::int64_t>();
    if (value < min || value > max) {
      fail(node, key, "must be within " + std::to_string(min) + ".." + std::to_string(max));
    }
    return value;
  }

  std::int64_t duration(std::string_view key, std::int64_t fallback) {
    const toml::node* node = find(key);
    if (node == nullptr) return fallback;
    if (!node->is_string()) fail(node, key, "expected a duration string such as \"500ms\", \"5s\", \"1h\"");
    std::int64_t value = 0;
    if (!parse_duration(*node->value<std::string_view>(), value) || value <= 0) {
      fail(node, key, "expected a positive duration such as \"500ms\", \"5s\", \"1h\"");
    }
    return value;
  }

  Decimal decimal(std::string_view key) {
    const toml::node* node = find(key);
    if (node == nullptr) fail(nullptr, key, "is required");
    return decimal_value(node, key);
  }

  std::optional<Decimal> optional_decimal(std::string_view key) {
    const toml::node* node = find(key);
    if (node == nullptr) return std::nullopt;
    return decimal_value(node, key);
  }

  Decimal decimal_value(const toml::node* node, std::string_view key) const {
    if (node->is_floating_point()) {
      fail(node, key, "write decimals as strings (e.g. \"0.00001\"): a TOML float is binary and inexact");
    }
    std::string text;
    if (node->is_integer()) {
      text = std::to_string(*node->value<std::int64_t>());
    } else if (node->is_string()) {
      text = std::string(*node->value<std::string_view>());
    } else {
      fail(node, key, "expected a decimal string such as \"0.00001\"");
    }
    Decimal value;
    const DecimalError error = Decimal::parse(text, value);
    if (error != DecimalError::ok) fail(node, key, "not an exact decimal: " + std::string(to_string(error)));
    return value;
  }

  std::vector<std::string> strings(std::string_view key, std::vector<std::string> fallback) {
    const toml::node* node = find(key);
    if (node == nullptr) return fallback;
    const toml::array* array = node->as_array();
    if (array == nullptr) fail(node, key, "expected an array of strings");
    std::vector<std::string> values;
    for (const toml::node& item : *array) {
      if (!item.is_string()) fail(&item, key, "expected an array of strings");
      values.emplace_back(*item.value<std::string_view>());
    }
    return values;
  }

  std::vector<std::uint32_t> ids(std::string_view key) {
    const toml::node* node = find(key);
    if (node == nullptr) return {};
    const toml::array* array = node->as_array();
    if (array == nullptr) fail(node, key, "expected an array of integers");
    std::vector<std::uint32_t> values;
    for (const toml::node& item : *array) {
      if (!item.is_integer() || *item.value<std::int64_t>() < 0 || *item.value<std::int64_t>() > 0xFFFFFFFE) {
        fail(&item, key, "expected an array of uids / gids (integers)");
      }
      values.push_back(static_cast<std::uint32_t>(*item.value<std::int64_t>()));
    }
    return values;
  }

  const toml::table* table(std::string_view key) {
    const toml::node* node = find(key);
    if (node == nullptr) return nullptr;
    if (!node->is_table()) fail(node, key, "expected a table");
    return node->as_table();
  }

  const toml::array* array_of_tables(std::string_view key) {
    const toml::node* node = find(key);
    if (node == nullptr) return nullptr;
    const toml::array* array = node->as_array();
    if (array == nullptr || !array->is_array_of_tables()) {
      fail(node, key, "expected an array of tables ([[" + std::string(key) + "]])");
    }
    return array;
  }

  void reject_unknown() const {
    for (const auto& [key, node] : table_) {
      if (used_.count(std::string(key.str())) == 0) fail(&node, key.str(), "unknown key");
    }
  }

  std::string full(std::string_view key) const { return path_.empty() ? std::string(key) : path_ + "." + std::string(key); }
  const std::string& path() const { return path_; }

 private:
  const toml::table& table_;
  std::string path_;
  const std::string& source_;
  std::set<std::string> used_;
};

}  // namespace ordergate::server_detail
