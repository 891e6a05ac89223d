// Reading and verifying audit journals: the strict line parser, the record
// hash, the file set of a rotated journal and the chain verifier.

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <system_error>
#include <utility>

#include "ordergate/audit/journal.hpp"
#include "ordergate/core/error_text.hpp"

namespace ordergate {

namespace {

// No record comes close; a longer line is not one of ours.
constexpr std::size_t kMaxLineBytes = std::size_t{64} * 1024;

bool is_lower_hex(char c) noexcept { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, std::uint32_t code_point) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

// A strict reader for the one shape the journal writes: a flat object of
// string and integer values, no whitespace, nothing after the closing brace.
class LineParser {
 public:
  LineParser(std::string_view text, std::string* error) : text_(text), error_(error) {}

  bool fail(std::string_view what) {
    if (error_ != nullptr && error_->empty()) {
      *error_ = std::string(what) + " at byte " + std::to_string(position_ + 1);
    }
    return false;
  }
  [[nodiscard]] bool at_end() const noexcept { return position_ >= text_.size(); }
  [[nodiscard]] std::size_t position() const noexcept { return position_; }
  [[nodiscard]] char peek() const noexcept { return at_end() ? '\0' : text_[position_]; }

  bool expect(char c) {
    if (peek() != c) return fail(std::string("expected '") + c + "'");
    ++position_;
    return true;
  }

  bool string(std::string& out) {
    out.clear();
    if (!expect('"')) return false;
    while (!at_end()) {
      const char c = text_[position_++];
      if (c == '"') return true;
      const auto byte = static_cast<unsigned char>(c);
      if (byte < 0x20 || byte >= 0x7F) return fail("control or non-ASCII byte in a string");
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (at_end()) break;
      const char escape = text_[position_++];
      switch (escape) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          std::uint32_t code = 0;
          if (!hex4(code)) return false;
          if (code >= 0xD800 && code <= 0xDBFF) {
            std::uint32_t low = 0;
            if (peek() != '\\' || (++position_, peek() != 'u')) return fail("lone surrogate");
            ++position_;
            if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) return fail("lone surrogate");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          } else if (code >= 0xDC00 && code <= 0xDFFF) {
            return fail("lone surrogate");
          }
          // The writer escapes single bytes as \u00XX; map those back to
          // the byte itself so a name round-trips exactly.
          if (code < 0x100) {
            out.push_back(static_cast<char>(code));
          } else {
            append_utf8(out, code);
          }
          break;
        }
        default:
          return fail("invalid escape");
      }
    }
    return fail("unterminated string");
  }

  // -?[0-9]+ without leading zeros; the digits are checked by the caller's
  // conversion.
  bool integer_text(std::string_view& out) {
    const std::size_t start = position_;
    if (peek() == '-') ++position_;
    const std::size_t digits = position_;
    while (!at_end() && text_[position_] >= '0' && text_[position_] <= '9') ++position_;
    if (position_ == digits) return fail("expected a number");
    if (text_[digits] == '0' && position_ - digits > 1) return fail("leading zero");
    out = text_.substr(start, position_ - start);
    return true;
  }

  template <typename Integer>
  bool integer(Integer& out) {
    std::string_view digits;
    if (!integer_text(digits)) return false;
    const auto result = std::from_chars(digits.data(), digits.data() + digits.size(), out);
    if (result.ec != std::errc{} || result.ptr != digits.data() + digits.size()) {
      return fail("number out of range");
    }
    return true;
  }

  bool digest(security::Sha256Digest& out) {
    std::string text;
    const std::size_t start = position_;
    if (!string(text)) return false;
    if (text.size() != 64 || !std::all_of(text.begin(), text.end(), is_lower_hex)) {
      position_ = start;
      return fail("expected 64 lower-case hex digits");
    }
    for (std::size_t i = 0; i < 32; ++i) {
      out[i] = static_cast<std::uint8_t>(hex_value(text[2 * i]) * 16 + hex_value(text[2 * i + 1]));
    }
    return true;
  }

 private:
  bool hex4(std::uint32_t& out) {
    if (text_.size() - position_ < 4) return fail("short \\u escape");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const int value = hex_value(text_[position_++]);
      if (value < 0) return fail("invalid \\u escape");
      out = out * 16 + static_cast<std::uint32_t>(value);
    }
    return true;
  }

  std::string_view text_;
  std::string* error_;
  std::size_t position_ = 0;
};

enum Field : std::uint32_t {
  kSeq = 1u << 0, kTime = 1u << 1, kTimeNs = 1u << 2, kEvent = 1u << 3, kPrincipal = 1u << 4,
  kPeerUid = 1u << 5, kSession = 1u << 6, kAccount = 1u << 7, kSymbol = 1u << 8, kSide = 1u << 9,
  kQty = 1u << 10, kPrice = 1u << 11, kClOrdId = 1u << 12, kStatus = 1u << 13,
  kBrokerOrderId = 1u << 14, kReason = 1u << 15, kDetail = 1u << 16, kPrev = 1u << 17, kHash = 1u << 18,
  kBy = 1u << 19,
};
constexpr std::uint32_t kRequired = kSeq | kTime | kTimeNs | kEvent | kReason | kPrev | kHash;

struct FieldSpec {
  std::string_view name;
  Field bit;
  std::string AuditRecord::*text;  // null for the non-text fields
};

constexpr FieldSpec kFields[] = {
    {"seq", kSeq, nullptr},
    {"time", kTime, &AuditRecord::time},
    {"time_ns", kTimeNs, nullptr},
    {"event", kEvent, &AuditRecord::event},
    {"principal", kPrincipal, &AuditRecord::principal},
    {"by", kBy, &AuditRecord::by},
    {"peer_uid", kPeerUid, nullptr},
    {"session", kSession, nullptr},
    {"account", kAccount, &AuditRecord::account},
    {"symbol", kSymbol, &AuditRecord::symbol},
    {"side", kSide, &AuditRecord::side},
    {"qty", kQty, &AuditRecord::qty},
    {"price", kPrice, &AuditRecord::price},
    {"cl_ord_id", kClOrdId, &AuditRecord::cl_ord_id},
    {"status", kStatus, &AuditRecord::status},
    {"broker_order_id", kBrokerOrderId, &AuditRecord::broker_order_id},
    {"reason", kReason, &AuditRecord::reason},
    {"detail", kDetail, &AuditRecord::detail},
    {"prev", kPrev, nullptr},
    {"hash", kHash, nullptr},
};

// Reads a file line by line with a bounded line length.
class LineReader {
 public:
  explicit LineReader(const std::filesystem::path& path) : file_(std::fopen(path.c_str(), "rb")) {
    if (file_ == nullptr) open_error_ = errno;
  }
  ~LineReader() {
    if (file_ != nullptr) std::fclose(file_);
  }
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  [[nodiscard]] int open_error() const noexcept { return open_error_; }
  [[nodiscard]] bool read_error() const noexcept { return file_ != nullptr && std::ferror(file_) != 0; }

  /// Next line without its newline; false at the end of the file.
  /// `complete` is false for a last line without a newline; `too_long`
  /// when the line exceeded kMaxLineBytes (its start is kept).
  bool next(std::string& line, bool& complete, bool& too_long) {
    line.clear();
    complete = false;
    too_long = false;
    bool any = false;
    for (;;) {
      if (position_ == end_) {
        end_ = std::fread(buffer_, 1, sizeof buffer_, file_);
        position_ = 0;
        if (end_ == 0) return any;
      }
      any = true;
      const char* start = buffer_ + position_;
      const auto* newline = static_cast<const char*>(std::memchr(start, '\n', end_ - position_));
      const std::size_t length = newline != nullptr ? static_cast<std::size_t>(newline - start) : end_ - position_;
      const std::size_t room = kMaxLineBytes - std::min(kMaxLineBytes, line.size());
      if (length > room) too_long = true;
      line.append(start, std::min(length, room));
      position_ += length;
      if (newline != nullptr) {
        ++position_;
        complete = true;
        return true;
      }
    }
  }

 private:
  std::FILE* file_;
  int open_error_ = 0;
  char buffer_[std::size_t{64} * 1024] = {};
  std::size_t position_ = 0;
  std::size_t end_ = 0;
};

std::string hex(const security::Sha256Digest& digest) { return security::to_hex(digest); }

}  // namespace

std::optional<AuditRecord> parse_audit_record(std::string_view line, std::string* error) {
  if (error != nullptr) error->clear();
  LineParser parser(line, error);
  AuditRecord record;
  std::uint32_t seen = 0;
  std::uint32_t previous_field = 0;
  std::size_t last_comma = 0;
  if (!parser.expect('{')) return std::nullopt;
  std::string key;
  for (bool first = true;; first = false) {
    if (!first) {
      if (parser.peek() == '}') break;
      last_comma = parser.position();
      if (!parser.expect(',')) return std::nullopt;
    }
    if (!parser.string(key) || !parser.expect(':')) return std::nullopt;
    const FieldSpec* spec = nullptr;
    for (const FieldSpec& candidate : kFields) {
      if (candidate.name == key) spec = &candidate;
    }
    if (spec == nullptr) {
      parser.fail("unknown field");
      return std::nullopt;
    }
    if ((seen & spec->bit) != 0) {
      parser.fail("duplicate field");
      return std::nullopt;
    }
    if (first && spec->bit != kSeq) {
      parser.fail("the first field must be seq");
      return std::nullopt;
    }
    if (spec->bit == kHash && previous_field != kPrev) {
      parser.fail("hash must follow prev");
      return std::nullopt;
    }
    bool ok = true;
    switch (spec->bit) {
      case kSeq: ok = parser.integer(record.seq); break;
      case kTimeNs: ok = parser.integer(record.time_ns); break;
      case kPeerUid: ok = parser.integer(record.peer_uid.emplace()); break;
      case kSession: ok = parser.integer(record.session.emplace()); break;
      case kPrev: ok = parser.digest(record.prev); break;
      case kHash:
        record.covered_length = last_comma;
        ok = parser.digest(record.hash);
        break;
      default: ok = parser.string(record.*(spec->text)); break;
    }
    if (!ok) return std::nullopt;
    seen |= spec->bit;
    previous_field = spec->bit;
    if (spec->bit == kHash) {
      if (parser.peek() != '}') {
        parser.fail("hash must be the last field");
        return std::nullopt;
      }
    }
  }
  if (!parser.expect('}')) return std::nullopt;
  if (!parser.at_end()) {
    parser.fail("bytes after the closing brace");
    return std::nullopt;
  }
  if ((seen & kRequired) != kRequired) {
    if (error != nullptr) *error = "a required field (seq, time, time_ns, event, reason, prev, hash) is missing";
    return std::nullopt;
  }
  if (record.seq == 0) {
    if (error != nullptr) *error = "seq must be > 0";
    return std::nullopt;
  }
  return record;
}

security::Sha256Digest audit_record_hash(std::string_view covered, const security::Secret* key) noexcept {
  if (key != nullptr && !key->empty()) return security::hmac_sha256(key->reveal(), covered);
  return security::sha256(covered);
}

std::vector<std::filesystem::path> audit_journal_files(const std::filesystem::path& active) {
  const std::string prefix = active.filename().string() + ".";
  const std::filesystem::path directory = active.has_parent_path() ? active.parent_path() : ".";
  std::vector<std::pair<std::uint64_t, std::filesystem::path>> rotated;
  std::error_code error;
  for (std::filesystem::directory_iterator it(directory, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string_view digits = std::string_view(name).substr(prefix.size());
    if (digits.size() > 18 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    std::uint64_t number = 0;
    std::from_chars(digits.data(), digits.data() + digits.size(), number);
    rotated.emplace_back(number, active.has_parent_path() ? active.parent_path() / name : std::filesystem::path(name));
  }
  std::sort(rotated.begin(), rotated.end());
  std::vector<std::filesystem::path> files;
  files.reserve(rotated.size() + 1);
  for (auto& entry : rotated) files.push_back(std::move(entry.second));
  if (std::filesystem::exists(active, error)) files.push_back(active);
  return files;
}

std::string_view to_string(AuditDefect defect) noexcept {
  switch (defect) {
    case AuditDefect::none: return "ok";
    case AuditDefect::unreadable: return "unreadable";
    case AuditDefect::malformed: return "malformed";
    case AuditDefect::truncated: return "truncated";
    case AuditDefect::edited: return "edited";
    case AuditDefect::removed: return "removed";
    case AuditDefect::reordered: return "reordered";
    case AuditDefect::foreign: return "foreign";
    case AuditDefect::bad_start: return "bad_start";
  }
  return "unknown";
}

namespace {

// After a sequence jump: does `wanted` still turn up later in the set? Then
// the records were reordered rather than removed.
bool appears_later(LineReader& reader, std::span<const std::filesystem::path> later_files, std::uint64_t wanted) {
  std::string line;
  bool complete = false;
  bool too_long = false;
  auto matches = [&] {
    const std::optional<AuditRecord> record = parse_audit_record(line);
    return record && record->seq == wanted;
  };
  while (reader.next(line, complete, too_long)) {
    if (matches()) return true;
  }
  for (const auto& file : later_files) {
    LineReader next(file);
    if (next.open_error() != 0) continue;
    while (next.next(line, complete, too_long)) {
      if (matches()) return true;
    }
  }
  return false;
}

}  // namespace

AuditVerifyResult verify_journal(std::span<const std::filesystem::path> files, const AuditVerifyOptions& options) {
  AuditVerifyResult result;
  result.last = options.start;
  bool first = true;
  std::string line;
  std::string what;

  for (std::size_t index = 0; index < files.size(); ++index) {
    const std::filesystem::path& file = files[index];
    LineReader reader(file);
    auto defect = [&](AuditDefect kind, std::uint64_t line_number, std::string message) {
      result.defect = kind;
      result.file = file;
      result.line = line_number;
      result.message = std::move(message);
      return result;
    };
    if (reader.open_error() != 0) {
      return defect(AuditDefect::unreadable, 0, "cannot open: " + error_text(reader.open_error()));
    }
    std::uint64_t line_number = 0;
    bool complete = false;
    bool too_long = false;
    while (reader.next(line, complete, too_long)) {
      ++line_number;
      const std::uint64_t expected = result.last.sequence + 1;
      if (!complete) {
        return defect(AuditDefect::truncated, line_number,
                      "the last line has no newline: the file was cut short or bytes were appended");
      }
      if (too_long) return defect(AuditDefect::malformed, line_number, "line too long to be a journal record");
      const std::optional<AuditRecord> record = parse_audit_record(line, &what);
      if (!record) {
        return defect(AuditDefect::malformed, line_number,
                      "not a journal record (" + what + "): a foreign line or a damaged record");
      }
      result.sequence = record->seq;
      const security::Sha256Digest hash =
          audit_record_hash(std::string_view(line).substr(0, record->covered_length), options.key);
      if (!security::digest_equal(hash, record->hash)) {
        const bool keyed = options.key != nullptr && !options.key->empty();
        return defect(AuditDefect::edited, line_number,
                      "record " + std::to_string(record->seq) +
                          ": its hash does not match its content, so it was edited" +
                          (keyed ? " (or the HMAC key is wrong)"
                                 : " (or it is an HMAC journal: give its key)"));
      }
      if (first && options.trust_first_record) {
        result.last = AuditAnchor{record->seq - 1, record->prev};
      } else if (first && (record->seq != expected || !security::digest_equal(record->prev, result.last.hash))) {
        return defect(AuditDefect::bad_start, line_number,
                      "the first record is seq " + std::to_string(record->seq) + ", expected seq " +
                          std::to_string(expected) + " with prev " + hex(result.last.hash) +
                          ": earlier records or files are missing (if older files were archived, "
                          "start from their anchor)");
      } else if (record->seq > expected) {
        if (appears_later(reader, files.subspan(index + 1), expected)) {
          return defect(AuditDefect::reordered, line_number,
                        "record " + std::to_string(record->seq) + " comes before record " +
                            std::to_string(expected) + ": records were reordered");
        }
        return defect(AuditDefect::removed, line_number,
                      record->seq == expected + 1
                          ? "record " + std::to_string(expected) + " is missing: it was removed"
                          : "records " + std::to_string(expected) + ".." + std::to_string(record->seq - 1) +
                                " are missing: they were removed");
      } else if (record->seq < expected) {
        return defect(AuditDefect::reordered, line_number,
                      "record " + std::to_string(record->seq) + " comes after record " +
                          std::to_string(expected - 1) + ": records were reordered or duplicated");
      } else if (!security::digest_equal(record->prev, result.last.hash)) {
        return defect(AuditDefect::foreign, line_number,
                      "record " + std::to_string(record->seq) + ": prev does not match the hash of record " +
                          std::to_string(expected - 1) +
                          ": this record is foreign, or the one before it was replaced");
      }
      if (options.anchor && record->seq == options.anchor->sequence &&
          !security::digest_equal(record->hash, options.anchor->hash)) {
        return defect(AuditDefect::foreign, line_number,
                      "record " + std::to_string(record->seq) +
                          " is not the record the anchor says was written with that number: it was replaced");
      }
      first = false;
      ++result.records;
      result.last = AuditAnchor{record->seq, record->hash};
    }
    if (reader.read_error()) return defect(AuditDefect::unreadable, line_number, "read error");
  }
  result.sequence = result.last.sequence;
  if (options.anchor && result.last.sequence < options.anchor->sequence) {
    result.defect = AuditDefect::removed;
    result.file = files.empty() ? std::filesystem::path() : files.back();
    result.line = 0;
    result.message = "the journal ends at seq " + std::to_string(result.last.sequence) + " but the anchor says seq " +
                     std::to_string(options.anchor->sequence) + " was written: records " +
                     std::to_string(result.last.sequence + 1) + ".." + std::to_string(options.anchor->sequence) +
                     " are missing (its tail was removed)";
  }
  return result;
}

}  // namespace ordergate
