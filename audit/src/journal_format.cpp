// The journal's line format: one JSON object per record (writer thread only).

#include "journal_detail.hpp"

#include <charconv>
#include <chrono>
#include <cstring>

#include "ordergate/core/error_text.hpp"
#include "ordergate/core/execution.hpp"
#include "ordergate/core/reason.hpp"

namespace ordergate::journal_detail {
namespace {

void append_hex(std::string& out, const security::Sha256Digest& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (const std::uint8_t byte : digest) {
    out.push_back(kDigits[byte >> 4]);
    out.push_back(kDigits[byte & 0xF]);
  }
}

template <typename Integer>
void append_integer(std::string& out, Integer value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

}  // namespace

void append_padded(std::string& out, unsigned value, int width) {
  char buffer[12];
  int length = 0;
  do {
    buffer[length++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0 && length < 12);
  for (int i = length; i < width; ++i) out.push_back('0');
  while (length > 0) out.push_back(buffer[--length]);
}

namespace {

// Every byte outside printable ASCII is escaped, so a line is always valid
// ASCII JSON whatever a name resolver returns. Non-ASCII bytes become
// \u00XX of their byte value (the parser maps them back to the same byte).
void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out.push_back('"');
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (byte < 0x20 || byte >= 0x7F) {
          out += "\\u00";
          out.push_back(kDigits[byte >> 4]);
          out.push_back(kDigits[byte & 0xF]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

void append_key(std::string& out, std::string_view key) {
  out += ",\"";
  out += key;
  out += "\":";
}

void append_string_field(std::string& out, std::string_view key, std::string_view value) {
  append_key(out, key);
  append_json_string(out, value);
}

// 2026-11-29T07:50:36.123456789Z
void append_utc_time(std::string& out, std::int64_t time_ns) {
  using namespace std::chrono;
  const sys_time<nanoseconds> point{nanoseconds{time_ns}};
  const sys_days day = floor<days>(point);
  const year_month_day date{day};
  const nanoseconds since_midnight = point - day;
  const hh_mm_ss<nanoseconds> clock_time{since_midnight};
  const int year = static_cast<int>(date.year());
  if (year < 0) out.push_back('-');
  append_padded(out, static_cast<unsigned>(year < 0 ? -year : year), 4);
  out.push_back('-');
  append_padded(out, static_cast<unsigned>(date.month()), 2);
  out.push_back('-');
  append_padded(out, static_cast<unsigned>(date.day()), 2);
  out.push_back('T');
  append_padded(out, static_cast<unsigned>(clock_time.hours().count()), 2);
  out.push_back(':');
  append_padded(out, static_cast<unsigned>(clock_time.minutes().count()), 2);
  out.push_back(':');
  append_padded(out, static_cast<unsigned>(clock_time.seconds().count()), 2);
  out.push_back('.');
  append_padded(out, static_cast<unsigned>(clock_time.subseconds().count()), 9);
  out.push_back('Z');
}

bool is_order_event(AuditEventType type) noexcept {
  switch (type) {
    case AuditEventType::order_accepted:
    case AuditEventType::order_rejected:
    case AuditEventType::cancel_accepted:
    case AuditEventType::cancel_rejected:
    case AuditEventType::execution:
    case AuditEventType::sent_to_broker:
    case AuditEventType::broker_rejected:
    case AuditEventType::position_fill:
    case AuditEventType::order_adopted:
    case AuditEventType::replace_accepted:
    case AuditEventType::replace_rejected:
      return true;
    default:
      return false;
  }
}

// Events whose principal id names the subject of the record. The others
// either have no principal (config, TLS) or cannot tell it from id 0: a
// refused hello identified nobody, and a trading-state change of global or
// account scope leaves the principal id at 0 (its scope belongs in detail).
bool names_principal(AuditEventType type) noexcept {
  switch (type) {
    case AuditEventType::hello_refused:
    case AuditEventType::trading_state_changed:
    case AuditEventType::config_reloaded:
    case AuditEventType::config_reload_refused:
    case AuditEventType::tls_failure:
    case AuditEventType::journal_repaired:
      return false;
    default:
      return true;
  }
}

template <typename Id>
void append_name_field(std::string& out, std::string_view key,
                       const std::function<std::string_view(Id)>& resolve, Id id) {
  std::string_view name;
  if (resolve) name = resolve(id);
  append_key(out, key);
  if (!name.empty()) {
    append_json_string(out, name);
    return;
  }
  out += "\"#";
  append_integer(out, id);
  out.push_back('"');
}

void append_decimal_field(std::string& out, std::string_view key, Decimal value) {
  char buffer[Decimal::kMaxPrintedLength];
  const std::size_t length = value.to_chars(buffer);
  append_string_field(out, key, std::string_view(buffer, length));
}

}  // namespace

std::string errno_text(int error) { return error_text(error); }

security::Sha256Digest format_record_line(std::string& line, std::uint64_t sequence, const AuditEvent& event,
                                          std::uint32_t dropped_marker, const AuditNames& names,
                                          const security::Sha256Digest& prev, const security::Secret* key) {
  line.clear();

  line += "{\"seq\":";
  append_integer(line, sequence);
  std::int64_t time_ns = event.time_ns;
  if (dropped_marker != 0) {
    time_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  }
  append_key(line, "time");
  line.push_back('"');
  append_utc_time(line, time_ns);
  line.push_back('"');
  append_key(line, "time_ns");
  append_integer(line, time_ns);

  if (dropped_marker != 0) {
    append_string_field(line, "event", "records_dropped");
    append_string_field(line, "reason", "OK");
    std::string detail = "count=";
    append_integer(detail, dropped_marker);
    append_string_field(line, "detail", detail);
  } else {
    append_string_field(line, "event", to_string(event.type));
    // A position fill names a principal only when it has a parent order.
    if (names_principal(event.type) &&
        (event.type != AuditEventType::position_fill || !event.client_order_id.empty())) {
      append_name_field(line, "principal", names.principal, event.principal_id);
    }
    // Who made an operator's change (admin ops, the console).
    if (event.actor != kNoActor) append_name_field(line, "by", names.principal, event.actor);
    if (event.peer_uid != 0xFFFFFFFFu) {
      append_key(line, "peer_uid");
      append_integer(line, event.peer_uid);
    }
    if (event.session_id != 0) {
      append_key(line, "session");
      append_integer(line, event.session_id);
    }
    if (is_order_event(event.type)) {
      // Rejections before validation carry no order fields (side unset);
      // only validated values ever reach the journal.
      if (event.side != Side::unset) {
        append_name_field(line, "account", names.account, event.account_id);
        append_name_field(line, "symbol", names.symbol, event.instrument_id);
        append_string_field(line, "side", to_string(event.side));
        append_decimal_field(line, "qty", event.quantity);
        append_decimal_field(line, "price", event.price);
      }
      if (!event.client_order_id.empty()) append_string_field(line, "cl_ord_id", event.client_order_id.view());
      if (event.type == AuditEventType::execution || event.type == AuditEventType::position_fill) {
        append_string_field(line, "status", to_string(event.exec_status));
      }
    }
    if (!event.broker_order_id.empty()) {
      append_string_field(line, "broker_order_id", event.broker_order_id.view());
    }
    append_string_field(line, "reason", reason_name(event.reason));
    if (!event.detail.empty()) append_string_field(line, "detail", event.detail.view());
  }
  append_key(line, "prev");
  line.push_back('"');
  append_hex(line, prev);
  line.push_back('"');
  const security::Sha256Digest hash = audit_record_hash(line, key);
  append_key(line, "hash");
  line.push_back('"');
  append_hex(line, hash);
  line += "\"}\n";
  return hash;
}

}  // namespace ordergate::journal_detail
