#pragma once

/// \file
/// A small JSON text builder: commas and string escaping are handled here so
/// the venues read like the documents they produce. Money goes in as text
/// (`Decimal::to_string` or a venue's fixed format), never as a double.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ordergate::sim {

class JsonWriter {
 public:
  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }

  /// Starts a member; the next value call supplies its value.
  JsonWriter& key(std::string_view name) {
    separate();
    append_string(name);
    out_ += ':';
    after_key_ = true;
    return *this;
  }

  JsonWriter& string(std::string_view text) {
    separate();
    append_string(text);
    return *this;
  }
  JsonWriter& integer(std::int64_t number) {
    separate();
    out_ += std::to_string(number);
    return *this;
  }
  JsonWriter& boolean(bool flag) {
    separate();
    out_ += flag ? "true" : "false";
    return *this;
  }
  /// Inserts already-serialized JSON (a stored transaction, for example).
  JsonWriter& raw(std::string_view json) {
    separate();
    out_ += json;
    return *this;
  }

  JsonWriter& member(std::string_view name, std::string_view text) { return key(name).string(text); }
  JsonWriter& member(std::string_view name, const char* text) { return key(name).string(text); }
  JsonWriter& member(std::string_view name, const std::string& text) { return key(name).string(text); }
  JsonWriter& member_int(std::string_view name, std::int64_t number) { return key(name).integer(number); }
  JsonWriter& member_bool(std::string_view name, bool flag) { return key(name).boolean(flag); }
  JsonWriter& member_raw(std::string_view name, std::string_view json) { return key(name).raw(json); }

  [[nodiscard]] const std::string& str() const noexcept { return out_; }
  [[nodiscard]] std::string take() { return std::move(out_); }

 private:
  JsonWriter& open(char bracket) {
    separate();
    out_ += bracket;
    first_.push_back(true);
    return *this;
  }
  JsonWriter& close(char bracket) {
    out_ += bracket;
    if (!first_.empty()) first_.pop_back();
    return *this;
  }
  void separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (first_.empty()) return;
    if (!first_.back()) out_ += ',';
    first_.back() = false;
  }
  void append_string(std::string_view text) {
    out_ += '"';
    for (char c : text) {
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            static constexpr char kHex[] = "0123456789abcdef";
            out_ += "\\u00";
            out_ += kHex[(static_cast<unsigned char>(c) >> 4) & 0xF];
            out_ += kHex[static_cast<unsigned char>(c) & 0xF];
          } else {
            out_ += c;
          }
      }
    }
    out_ += '"';
  }

  std::string out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

}  // namespace ordergate::sim
