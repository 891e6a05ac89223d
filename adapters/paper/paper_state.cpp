#include "ordergate/adapters/paper/paper_state.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "ordergate/core/error_text.hpp"
#include "ordergate/security/crypto.hpp"
#include "paper_state_log.hpp"

namespace ordergate::adapters {
namespace {

constexpr std::string_view kMagic = "ordergate-paper-state ";
constexpr std::string_view kVersion = "1";
constexpr std::string_view kEnd = "end ";  // closes a batch: "end <check of its records>"
constexpr std::size_t kCheckDigits = 8;
constexpr std::string_view kEmptyText = "~";
constexpr std::size_t kMaxFileBytes = std::size_t{1} << 30;
// Compaction once the appended records reach this many, or twice the last
// snapshot when that is larger: amortized O(1) per change.
constexpr std::size_t kCompactAfterRecords = 1024;
constexpr std::size_t kInitialStagingBytes = 4096;
constexpr int kOpenAttempts = 3;

constexpr std::size_t kNextFields = 2;
constexpr std::size_t kPositionFields = 4;
constexpr std::size_t kOrderFields = 21;
constexpr std::size_t kGoneFields = 2;

constexpr std::string_view kRemedy =
    "; the file is written only by the paper broker: restore it from a backup, or remove it to start with no "
    "positions and no resting orders";

// ---- encoding ---------------------------------------------------------------

bool plain(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == ':' || c == '@' || c == '/' || c == '+' || c == '-';
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Free text as one field: plain bytes as they are, others %XX, empty as "~".
void append_text(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  if (text.empty()) {
    out += kEmptyText;
    return;
  }
  for (const char c : text) {
    if (plain(c)) {
      out += c;
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0x0F];
    }
  }
}

std::optional<std::string> decode_text(std::string_view field) {
  if (field == kEmptyText) return std::string();
  std::string text;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] != '%') {
      if (!plain(field[i])) return std::nullopt;
      text += field[i];
      continue;
    }
    if (i + 2 >= field.size()) return std::nullopt;
    const int high = hex_value(field[i + 1]);
    const int low = hex_value(field[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    text += static_cast<char>((high << 4) | low);
    i += 2;
  }
  if (text.empty()) return std::nullopt;
  return text;
}

template <typename Integer>
void append_integer(std::string& out, Integer value) {
  char digits[24];
  const auto result = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, static_cast<std::size_t>(result.ptr - digits));
}

void append_decimal(std::string& out, Decimal value) {
  char text[Decimal::kMaxPrintedLength];
  out.append(text, value.to_chars(text));
}

template <typename Integer>
std::optional<Integer> parse_integer(std::string_view field) noexcept {
  Integer value{};
  const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), value);
  if (error != std::errc{} || end != field.data() + field.size() || field.empty()) return std::nullopt;
  return value;
}

// The check of a batch: the first 8 hex digits of the SHA-256 of its record
// lines, newlines included.
std::array<char, kCheckDigits> check_of(std::string_view batch) noexcept {
  static constexpr char kHex[] = "0123456789abcdef";
  const security::Sha256Digest digest = security::sha256(batch);
  std::array<char, kCheckDigits> check{};
  for (std::size_t i = 0; i < kCheckDigits / 2; ++i) {
    check[2 * i] = kHex[digest[i] >> 4];
    check[2 * i + 1] = kHex[digest[i] & 0x0F];
  }
  return check;
}

// Closes the batch `batch` (which may be a view into `out`) with its end line.
void append_end(std::string& out, std::string_view batch) {
  const std::array<char, kCheckDigits> check = check_of(batch);
  out += kEnd;
  out.append(check.data(), check.size());
  out += '\n';
}

void append_line(std::string& out, std::string_view record) {
  out += record;
  out += '\n';
}

void format_next(std::string& record, std::uint64_t next) {
  record = "next ";
  append_integer(record, next);
}

void format_position(std::string& record, AccountId account, std::string_view instrument, Decimal net) {
  record = "position ";
  append_integer(record, account);
  record += ' ';
  append_text(record, instrument);
  record += ' ';
  append_decimal(record, net);
}

void format_order(std::string& record, const PaperRestingOrder& resting, std::string_view instrument) {
  const Order& order = resting.order;
  record = "order ";
  append_integer(record, resting.broker_sequence);
  record += ' ';
  append_text(record, resting.venue_client_id.view());
  for (const std::uint64_t id : {std::uint64_t{order.order_id}, std::uint64_t{order.session_id},
                                 std::uint64_t{order.principal_id}, std::uint64_t{order.account_id}}) {
    record += ' ';
    append_integer(record, id);
  }
  record += ' ';
  append_text(record, instrument);
  record += ' ';
  record += to_string(order.side);
  record += ' ';
  record += to_string(order.type);
  record += ' ';
  record += to_string(order.time_in_force);
  record += order.reduce_only ? " 1" : " 0";
  for (const Decimal value : {order.quantity, order.price, order.stop_price, order.stop_loss, order.take_profit}) {
    record += ' ';
    append_decimal(record, value);
  }
  record += ' ';
  append_integer(record, order.expire_time_ns);
  record += ' ';
  append_integer(record, order.accepted_ns);
  record += ' ';
  append_text(record, order.client_order_id.view());
  record += ' ';
  append_text(record, order.text.view());
}

void format_gone(std::string& record, std::uint64_t sequence) {
  record = "gone ";
  append_integer(record, sequence);
}

// ---- parsing ----------------------------------------------------------------

// Splits on single spaces; empty fields are kept (and refused by the parsers).
std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  for (;;) {
    const std::size_t space = line.find(' ', start);
    if (space == std::string_view::npos) {
      fields.push_back(line.substr(start));
      return fields;
    }
    fields.push_back(line.substr(start, space - start));
    start = space + 1;
  }
}

[[nodiscard]] bool is_restable(const Order& order) noexcept {
  if (order.side != Side::buy && order.side != Side::sell) return false;
  if (!order.quantity.is_positive()) return false;
  if (order.time_in_force != TimeInForce::gtc && order.time_in_force != TimeInForce::day &&
      order.time_in_force != TimeInForce::gtd) {
    return false;
  }
  if (order.type == OrderType::limit) return order.price.is_positive();
  if (order.type == OrderType::stop) return order.stop_price.is_positive();
  return false;
}

class StateParser {
 public:
  StateParser(std::string where, const InstrumentTable& instruments, const tls::LogFunction& log)
      : where_(std::move(where)), instruments_(instruments), log_(log) {}

  PaperState parse(std::string_view text) {
    if (text.empty()) {
      // Only a start that stopped between creating the file and its first
      // (synced) rewrite leaves it empty.
      log(tls::LogLevel::warning,
          "paper state file " + where_ + " is empty; starting with no positions and no resting orders");
      return PaperState{};
    }
    const std::size_t header_end = text.find('\n');
    const std::string_view header = text.substr(0, header_end);
    if (header.substr(0, kMagic.size()) != kMagic) {
      throw std::runtime_error("paper state file " + where_ + ": not a paper state file (it must begin with '" +
                               std::string(kMagic) + std::string(kVersion) + "')");
    }
    if (header_end == std::string_view::npos) {
      throw std::runtime_error("paper state file " + where_ + ": its first line is incomplete" + std::string(kRemedy));
    }
    if (header.substr(kMagic.size()) != kVersion) {
      throw std::runtime_error("paper state file " + where_ + ": format '" + std::string(header.substr(0, 40)) +
                               "' is not the one this build reads ('" + std::string(kMagic) + std::string(kVersion) +
                               "')");
    }
    // Batches of records, each closed by its end line. Every batch but the
    // last was synced before the next was written, so damage there is
    // corruption; the last one may be torn by a crash (unsynced pages reach
    // the disk in any order), and nothing it recorded was reported.
    std::size_t at = header_end + 1;
    std::size_t line_number = 1;
    std::size_t batch_at = at;
    std::size_t batch_line = 2;
    while (at < text.size()) {
      const std::size_t newline = text.find('\n', at);
      if (newline == std::string_view::npos) break;
      ++line_number;
      const std::string_view line = text.substr(at, newline - at);
      at = newline + 1;
      if (line.substr(0, kEnd.size()) != kEnd) continue;
      const std::string_view batch = text.substr(batch_at, at - line.size() - 1 - batch_at);
      const std::array<char, kCheckDigits> check = check_of(batch);
      if (batch.empty() || line.substr(kEnd.size()) != std::string_view(check.data(), check.size())) {
        if (at == text.size()) break;  // the last batch: torn
        line_ = batch_line;
        offset_ = batch_at;
        damaged("the check of the batch on lines " + std::to_string(batch_line) + "-" + std::to_string(line_number) +
                " does not match");
      }
      apply_batch(batch, batch_line, batch_at);
      batch_at = at;
      batch_line = line_number + 1;
    }
    if (batch_at < text.size()) {
      log(tls::LogLevel::warning,
          "paper state file " + where_ + ": ignored its last " + std::to_string(text.size() - batch_at) +
              " bytes (from line " + std::to_string(batch_line) + ", offset " + std::to_string(batch_at) +
              "): a batch of changes a crash interrupted before it was synced; none of it was ever reported");
    }

    PaperState state;
    state.next_broker_sequence = next_;
    for (auto& [sequence, resting] : orders_) {
      if (sequence >= next_) {
        throw std::runtime_error("paper state file " + where_ + ": order P-" + std::to_string(sequence) +
                                 " has a sequence at or beyond the next one (" + std::to_string(next_) + ")" +
                                 std::string(kRemedy));
      }
      state.resting.push_back(resting);
    }
    for (const auto& [key, net] : positions_) {
      if (!net.is_zero()) state.positions.push_back(PaperPosition{key.first, key.second, net});
    }
    return state;
  }

 private:
  void apply_batch(std::string_view batch, std::size_t first_line, std::size_t offset) {
    line_ = first_line;
    offset_ = offset;
    while (!batch.empty()) {
      const std::size_t newline = batch.find('\n');
      const std::string_view record = batch.substr(0, newline);
      apply(record);
      batch.remove_prefix(newline + 1);
      ++line_;
      offset_ += newline + 1;
    }
  }

  [[noreturn]] void damaged(const std::string& what) const {
    throw std::runtime_error("paper state file " + where_ + ": line " + std::to_string(line_) + " (offset " +
                             std::to_string(offset_) + "): " + what + std::string(kRemedy));
  }

  void log(tls::LogLevel level, const std::string& line) const {
    if (log_) {
      log_(level, line);
    } else {
      tls::log_to_stderr(level, line);
    }
  }

  void apply(std::string_view record) {
    const std::vector<std::string_view> fields = fields_of(record);
    const std::string_view kind = fields[0];
    if (kind == "next") {
      expect_fields(fields, kNextFields);
      const std::uint64_t next = unsigned_field<std::uint64_t>(fields[1], "next sequence");
      if (next == 0 || next < next_) damaged("the next sequence goes backwards");
      next_ = next;
    } else if (kind == "position") {
      expect_fields(fields, kPositionFields);
      const AccountId account = account_field(fields[1]);
      const InstrumentId instrument = instrument_field(fields[2]);
      positions_[{account, instrument}] = decimal_field(fields[3], "position");
    } else if (kind == "order") {
      expect_fields(fields, kOrderFields);
      PaperRestingOrder resting = order_fields(fields);
      orders_[resting.broker_sequence] = resting;
    } else if (kind == "gone") {
      expect_fields(fields, kGoneFields);
      const std::uint64_t sequence = unsigned_field<std::uint64_t>(fields[1], "sequence");
      if (orders_.erase(sequence) == 0) damaged("no resting order P-" + std::to_string(sequence) + " to take off");
    } else {
      damaged("not a known record");
    }
  }

  void expect_fields(const std::vector<std::string_view>& fields, std::size_t count) const {
    if (fields.size() != count) {
      damaged("a '" + std::string(fields[0]) + "' record has " + std::to_string(fields.size()) +
              " fields instead of " + std::to_string(count));
    }
  }

  template <typename Integer>
  Integer unsigned_field(std::string_view field, std::string_view what) const {
    const std::optional<Integer> value = parse_integer<Integer>(field);
    if (!value) damaged("a malformed " + std::string(what));
    return *value;
  }

  std::int64_t signed_field(std::string_view field, std::string_view what) const {
    const std::optional<std::int64_t> value = parse_integer<std::int64_t>(field);
    if (!value) damaged("a malformed " + std::string(what));
    return *value;
  }

  Decimal decimal_field(std::string_view field, std::string_view what) const {
    Decimal value;
    if (Decimal::parse(field, value) != DecimalError::ok) damaged("a malformed " + std::string(what));
    return value;
  }

  AccountId account_field(std::string_view field) const {
    const auto account = unsigned_field<std::uint32_t>(field, "account id");
    if (account >= kMaxAccounts) damaged("account id " + std::to_string(account) + " out of range");
    return static_cast<AccountId>(account);
  }

  InstrumentId instrument_field(std::string_view field) const {
    const std::optional<std::string> name = decode_text(field);
    if (!name) damaged("a malformed instrument name");
    const Instrument* instrument = instruments_.find_name(*name);
    if (instrument == nullptr) {
      throw std::runtime_error("paper state file " + where_ + ": line " + std::to_string(line_) + ": instrument '" +
                               *name +
                               "' is not configured; configure it again, or remove the file to start with no "
                               "positions and no resting orders");
    }
    return instrument->id;
  }

  template <std::size_t Capacity>
  void text_field(std::string_view field, FixedString<Capacity>& out, std::string_view what) const {
    const std::optional<std::string> text = decode_text(field);
    if (!text || !out.assign(*text)) damaged("a malformed " + std::string(what));
  }

  PaperRestingOrder order_fields(const std::vector<std::string_view>& fields) const {
    PaperRestingOrder resting;
    Order& order = resting.order;
    resting.broker_sequence = unsigned_field<std::uint64_t>(fields[1], "sequence");
    if (resting.broker_sequence == 0) damaged("sequence 0");
    text_field(fields[2], resting.venue_client_id, "venue client id");
    order.order_id = unsigned_field<OrderId>(fields[3], "order id");
    order.session_id = unsigned_field<SessionId>(fields[4], "session id");
    order.principal_id = unsigned_field<PrincipalId>(fields[5], "principal id");
    order.account_id = account_field(fields[6]);
    order.instrument_id = instrument_field(fields[7]);
    order.side = parse_side(fields[8]);
    order.type = parse_order_type(fields[9]);
    order.time_in_force = parse_time_in_force(fields[10]);
    if (fields[11] != "0" && fields[11] != "1") damaged("a malformed reduce-only flag");
    order.reduce_only = fields[11] == "1";
    order.quantity = decimal_field(fields[12], "quantity");
    order.price = decimal_field(fields[13], "price");
    order.stop_price = decimal_field(fields[14], "stop price");
    order.stop_loss = decimal_field(fields[15], "stop loss");
    order.take_profit = decimal_field(fields[16], "take profit");
    order.expire_time_ns = signed_field(fields[17], "expiry");
    order.accepted_ns = signed_field(fields[18], "acceptance time");
    text_field(fields[19], order.client_order_id, "client order id");
    text_field(fields[20], order.text, "order text");
    if (!is_restable(order)) damaged("an order that cannot rest (side, type, time in force or prices)");
    return resting;
  }

  std::string where_;
  const InstrumentTable& instruments_;
  const tls::LogFunction& log_;
  std::size_t line_ = 1;
  std::size_t offset_ = 0;
  std::uint64_t next_ = 1;
  std::map<std::uint64_t, PaperRestingOrder> orders_;
  std::map<std::pair<AccountId, InstrumentId>, Decimal> positions_;
};

[[noreturn]] void file_error(const std::string& path, const std::string& what, int error) {
  throw std::runtime_error("paper state file " + path + ": " + what + ": " + error_text(error));
}

std::string read_all(int fd, const std::string& path) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) file_error(path, "cannot stat", errno);
  if (!S_ISREG(info.st_mode)) throw std::runtime_error("paper state file " + path + ": not a regular file");
  if (static_cast<std::uint64_t>(info.st_size) > kMaxFileBytes) {
    throw std::runtime_error("paper state file " + path + ": larger than any state file the paper broker writes");
  }
  std::string text(static_cast<std::size_t>(info.st_size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::pread(fd, text.data() + got, text.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) file_error(path, "cannot read", errno);
    if (n == 0) break;  // shorter than fstat said
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  return text;
}

bool write_all(int fd, std::string_view data) noexcept {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string instrument_name(const InstrumentTable& instruments, InstrumentId id) {
  return id < instruments.size() ? std::string(instruments.all()[id].name.view()) : std::string();
}

}  // namespace

std::optional<PaperState> read_paper_state(const std::string& path, const InstrumentTable& instruments,
                                           const tls::LogFunction& log) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    file_error(path, "cannot open", errno);
  }
  std::string text;
  try {
    text = read_all(fd, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return StateParser(path, instruments, log).parse(text);
}

namespace paper_detail {

PaperStateLog::PaperStateLog(std::string path, const InstrumentTable& instruments, tls::LogFunction log)
    : path_(std::move(path)), instruments_(instruments), log_(std::move(log)) {
  staged_.reserve(kInitialStagingBytes);
  open_and_load();
  try {
    if (compact(loaded_) != CompactResult::compacted) {
      throw std::runtime_error("paper state file " + path_ + ": cannot rewrite it at start: " + last_error_);
    }
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

PaperStateLog::~PaperStateLog() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

void PaperStateLog::open_and_load() {
  for (int attempt = 0; attempt < kOpenAttempts; ++attempt) {
    bool created = false;
    int fd = ::open(path_.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
      fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (fd < 0 && errno == EEXIST) continue;  // created by someone else meanwhile
      if (fd < 0) file_error(path_, "cannot create it (does its directory exist?)", errno);
      created = true;
    } else if (fd < 0) {
      file_error(path_, "cannot open", errno);
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      ::close(fd);
      if (error == EWOULDBLOCK) {
        throw std::runtime_error("paper state file " + path_ +
                                 ": in use by another paper broker (another gateway with the same [paper] "
                                 "state_file?); each broker needs its own file");
      }
      file_error(path_, "cannot lock", error);
    }
    // A broker that compacted between our open and our lock replaced the
    // file: the lock we hold is on the old one.
    struct stat opened {};
    struct stat named {};
    if (::fstat(fd, &opened) != 0 || ::stat(path_.c_str(), &named) != 0 || opened.st_ino != named.st_ino ||
        opened.st_dev != named.st_dev) {
      ::close(fd);
      continue;
    }
    try {
      if (!created) loaded_ = StateParser(path_, instruments_, log_).parse(read_all(fd, path_));
    } catch (...) {
      ::close(fd);
      throw;
    }
    fd_ = fd;
    return;
  }
  throw std::runtime_error("paper state file " + path_ + ": it keeps changing while being opened (another paper broker?)");
}

void PaperStateLog::log(tls::LogLevel level, const std::string& line) const noexcept {
  try {
    if (log_) {
      log_(level, line);
    } else {
      tls::log_to_stderr(level, line);
    }
  } catch (...) {
    // A log line is never worth a broker.
  }
}

void PaperStateLog::stage_line(std::string_view record) noexcept {
  try {
    append_line(staged_, record);
    ++staged_records_;
  } catch (...) {
    staging_failed_ = true;
  }
}

void PaperStateLog::stage_next(std::uint64_t next_broker_sequence) noexcept {
  try {
    format_next(record_, next_broker_sequence);
  } catch (...) {
    staging_failed_ = true;
    return;
  }
  stage_line(record_);
}

void PaperStateLog::stage_position(AccountId account, InstrumentId instrument, Decimal net) noexcept {
  try {
    format_position(record_, account, instruments_.all()[instrument].name.view(), net);
  } catch (...) {
    staging_failed_ = true;
    return;
  }
  stage_line(record_);
}

void PaperStateLog::stage_order(const PaperRestingOrder& resting) noexcept {
  try {
    format_order(record_, resting, instruments_.all()[resting.order.instrument_id].name.view());
  } catch (...) {
    staging_failed_ = true;
    return;
  }
  stage_line(record_);
}

void PaperStateLog::stage_gone(std::uint64_t broker_sequence) noexcept {
  try {
    format_gone(record_, broker_sequence);
  } catch (...) {
    staging_failed_ = true;
    return;
  }
  stage_line(record_);
}

bool PaperStateLog::commit() noexcept {
  if (staged_.empty() && !staging_failed_) return true;
  bool written = false;
  int error = ENOMEM;
  if (!staging_failed_) {
    try {
      append_end(staged_, staged_);
      written = write_all(fd_, staged_) && ::fdatasync(fd_) == 0;
      if (!written) error = errno;
    } catch (...) {
    }
  }
  records_since_compaction_ += staged_records_;
  staged_.clear();
  staged_records_ = 0;
  staging_failed_ = false;
  if (!written) {
    try {
      log(tls::LogLevel::error, "paper state file " + path_ + ": cannot write and sync a change: " +
                                    error_text(error) +
                                    "; the paper broker reports nothing more and refuses new orders (restart "
                                    "the gateway once the file can be written)");
    } catch (...) {
    }
  }
  return written;
}

bool PaperStateLog::wants_compaction() const noexcept {
  return records_since_compaction_ >= std::max(kCompactAfterRecords, 2 * snapshot_records_);
}

PaperStateLog::CompactResult PaperStateLog::compact(const PaperState& state) {
  std::string text;
  std::size_t records = 0;
  text += kMagic;
  text += kVersion;
  text += '\n';
  format_next(record_, state.next_broker_sequence);
  append_line(text, record_);
  ++records;
  for (const PaperPosition& position : state.positions) {
    format_position(record_, position.account_id, instrument_name(instruments_, position.instrument_id),
                    position.net);
    append_line(text, record_);
    ++records;
  }
  for (const PaperRestingOrder& resting : state.resting) {
    format_order(record_, resting, instrument_name(instruments_, resting.order.instrument_id));
    append_line(text, record_);
    ++records;
  }
  append_end(text, std::string_view(text).substr(kMagic.size() + kVersion.size() + 1));

  const std::string staging = path_ + ".tmp";
  const auto failed = [&](const std::string& what, int error) {
    last_error_ = what + ": " + error_text(error);
    log(tls::LogLevel::warning, "paper state file " + path_ + ": cannot compact it (" + last_error_ +
                                    "); appending to it goes on");
    return CompactResult::unchanged;
  };
  const int fd = ::open(staging.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return failed("cannot create " + staging, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || !write_all(fd, text) || ::fdatasync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    ::unlink(staging.c_str());
    return failed("cannot write " + staging, error);
  }
  if (::rename(staging.c_str(), path_.c_str()) != 0) {
    const int error = errno;
    ::close(fd);
    ::unlink(staging.c_str());
    return failed("cannot rename " + staging, error);
  }
  // From here the new file is the state file, whatever happens next.
  ::close(fd_);
  fd_ = fd;
  records_since_compaction_ = 0;
  snapshot_records_ = records;
  const std::filesystem::path file(path_);
  const std::string directory = file.has_parent_path() ? file.parent_path().string() : std::string(".");
  const int directory_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  const bool synced = directory_fd >= 0 && ::fsync(directory_fd) == 0;
  const int error = errno;
  if (directory_fd >= 0) ::close(directory_fd);
  if (!synced) {
    last_error_ = "cannot sync its directory " + directory + " after a rewrite: " + error_text(error);
    log(tls::LogLevel::error, "paper state file " + path_ + ": " + last_error_ +
                                  "; the paper broker reports nothing more and refuses new orders");
    return CompactResult::failed;
  }
  return CompactResult::compacted;
}

}  // namespace paper_detail
}  // namespace ordergate::adapters
