#include "ordergate/audit/journal.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "ordergate/core/execution.hpp"
#include "ordergate/core/instrument.hpp"
#include "ordergate/core/reason.hpp"

namespace ordergate {

namespace {

constexpr std::uint8_t kOpen = 0;
constexpr std::uint8_t kClosing = 1;
constexpr std::uint8_t kFailed = 2;

// Records formatted per pass before the writer writes them out, so a long
// burst still reaches the file (and the waiters) in bounded steps.
constexpr std::size_t kBatchRecords = 512;
// Yields before the idle writer sleeps on its condition variable.
constexpr int kIdleYields = 32;
// Longest the idle writer sleeps before looking at the ring again.
constexpr std::chrono::microseconds kIdleWait{1000};
// Longest last line `resume` reads back.
constexpr std::size_t kMaxTailBytes = 64 * 1024;

std::string errno_text(int error) { return std::strerror(error); }

// ---- JSON line formatting (writer thread only) ----------------------------

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

// ---- file helpers (writer thread and construction) ------------------------

bool write_all(int fd, const char* data, std::size_t size, int& error) {
  while (size > 0) {
    const ssize_t written = ::write(fd, data, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      error = errno;
      return false;
    }
    data += written;
    size -= static_cast<std::size_t>(written);
  }
  return true;
}

bool sync_directory(const std::filesystem::path& directory, int& error) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    error = errno;
    return false;
  }
  const bool ok = ::fsync(fd) == 0;
  if (!ok) error = errno;
  ::close(fd);
  return ok;
}

std::filesystem::path directory_of(const std::filesystem::path& path) {
  return path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
}

std::string segment_suffix(std::uint64_t number) {
  std::string suffix = ".";
  append_padded(suffix, static_cast<unsigned>(number), 6);
  return suffix;
}

// The last complete line of `path` (without its newline), or nullopt for an
// empty or missing file. Throws AuditJournalError on a damaged tail.
std::optional<std::string> read_last_line(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw AuditJournalError("audit journal " + path.string() + ": cannot open: " + errno_text(errno));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    throw AuditJournalError("audit journal " + path.string() + ": not a regular file");
  }
  const auto size = static_cast<std::uint64_t>(info.st_size);
  if (size == 0) {
    ::close(fd);
    return std::nullopt;
  }
  const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(size, kMaxTailBytes + 1));
  std::string tail(want, '\0');
  std::size_t got = 0;
  while (got < want) {
    const ssize_t n = ::pread(fd, tail.data() + got, want - got,
                              static_cast<off_t>(size - want + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : EIO;
      ::close(fd);
      throw AuditJournalError("audit journal " + path.string() + ": cannot read: " + errno_text(error));
    }
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (tail.back() != '\n') {
    throw AuditJournalError(
        "audit journal " + path.string() +
        " is damaged: its last line is incomplete (a crash during a write, or bytes appended). "
        "Run 'ordergate audit verify' on it, then move the file aside or cut the incomplete "
        "line before starting again");
  }
  tail.pop_back();
  const std::size_t newline = tail.rfind('\n');
  if (newline == std::string::npos && size > want) {
    throw AuditJournalError("audit journal " + path.string() +
                            " is damaged: its last line is longer than any record");
  }
  return newline == std::string::npos ? tail : tail.substr(newline + 1);
}

}  // namespace

// ---- names and policies ----------------------------------------------------

std::string_view to_string(AuditFsync policy) noexcept {
  switch (policy) {
    case AuditFsync::always: return "always";
    case AuditFsync::interval: return "interval";
    case AuditFsync::never: return "never";
  }
  return "unknown";
}

std::optional<AuditFsync> parse_audit_fsync(std::string_view text) noexcept {
  if (text == "always") return AuditFsync::always;
  if (text == "interval") return AuditFsync::interval;
  if (text == "never") return AuditFsync::never;
  return std::nullopt;
}

AuditNames AuditNames::from_lists(std::vector<std::string> principals, std::vector<std::string> accounts,
                                  std::vector<std::string> symbols) {
  struct Lists {
    std::vector<std::string> principals, accounts, symbols;
  };
  auto lists = std::make_shared<const Lists>(Lists{std::move(principals), std::move(accounts), std::move(symbols)});
  auto lookup = [](const std::vector<std::string>& names, std::size_t id) -> std::string_view {
    return id < names.size() ? std::string_view(names[id]) : std::string_view{};
  };
  AuditNames names;
  names.principal = [lists, lookup](PrincipalId id) { return lookup(lists->principals, id); };
  names.account = [lists, lookup](AccountId id) { return lookup(lists->accounts, id); };
  names.symbol = [lists, lookup](InstrumentId id) { return lookup(lists->symbols, id); };
  return names;
}

// ---- the journal -----------------------------------------------------------

struct AuditJournal::Slot {
  // Position p is free to write when turn == p, readable when turn == p + 1;
  // the writer hands it back for the next lap by storing p + capacity.
  std::atomic<std::uint64_t> turn{0};
  // Non-zero: not an event but the writer's note that this many records
  // were refused since its previous note.
  std::uint32_t dropped_marker = 0;
  AuditEvent event;
};

struct AuditJournal::File {
  int fd = -1;
  std::uint64_t bytes = 0;         // size of the active file
  std::uint64_t next_segment = 1;  // number of the next rotated file
  std::string line;                // reused formatting buffer
};

AuditJournal::AuditJournal(AuditJournalOptions options, AuditNames names)
    : options_(std::move(options)), names_(std::move(names)), file_(std::make_unique<File>()) {
  const std::uint32_t capacity = options_.queue_capacity;
  if (capacity < 64 || (capacity & (capacity - 1)) != 0) {
    throw AuditJournalError("audit journal: queue_capacity must be a power of two >= 64");
  }
  if (options_.fsync == AuditFsync::interval && options_.fsync_interval.count() <= 0) {
    throw AuditJournalError("audit journal: fsync_interval must be > 0 ms");
  }
  if (options_.path.empty()) throw AuditJournalError("audit journal: no path configured");

  resume_or_create();

  slots_ = std::make_unique<Slot[]>(capacity);
  for (std::uint32_t i = 0; i < capacity; ++i) slots_[i].turn.store(i, std::memory_order_relaxed);
  mask_ = capacity - 1;
  written_.store(base_sequence_, std::memory_order_relaxed);
  durable_.store(base_sequence_, std::memory_order_relaxed);
  pending_.reserve(kBatchRecords * 512);
  file_->line.reserve(1024);
  last_sync_ = std::chrono::steady_clock::now();

  try {
    writer_ = std::thread([this] { run_writer(); });
  } catch (...) {
    ::close(file_->fd);
    throw;
  }
}

AuditJournal::~AuditJournal() { stop(); }

void AuditJournal::resume_or_create() {
  const std::filesystem::path& path = options_.path;
  const std::filesystem::path directory = directory_of(path);
  std::error_code error;
  if (!std::filesystem::is_directory(directory, error)) {
    throw AuditJournalError("audit journal " + path.string() + ": directory " + directory.string() +
                            " does not exist");
  }

  // The chain continues from the active file, or, when it is missing or
  // empty (a crash between rotation and the first new line), from the
  // newest rotated file.
  const std::vector<std::filesystem::path> files = audit_journal_files(path);
  std::uint64_t newest_segment = 0;
  for (const auto& file : files) {
    if (file == path) continue;
    const std::string suffix = file.filename().string().substr(path.filename().string().size() + 1);
    newest_segment = std::max<std::uint64_t>(newest_segment, std::stoull(suffix));
  }
  file_->next_segment = newest_segment + 1;

  std::optional<std::string> last_line;
  std::filesystem::path last_file;
  for (auto it = files.rbegin(); it != files.rend() && !last_line; ++it) {
    last_line = read_last_line(*it);
    last_file = *it;
  }
  if (last_line) {
    std::string what;
    const std::optional<AuditRecord> last = parse_audit_record(*last_line, &what);
    if (!last) {
      throw AuditJournalError("audit journal " + last_file.string() +
                              " is damaged: its last line is not a journal record (" + what +
                              "). Run 'ordergate audit verify' to find the first bad record");
    }
    const security::Sha256Digest hash =
        audit_record_hash(std::string_view(*last_line).substr(0, last->covered_length), &options_.hmac_key);
    if (!security::digest_equal(hash, last->hash)) {
      throw AuditJournalError(
          "audit journal " + last_file.string() + ": the hash of its last record (seq " +
          std::to_string(last->seq) + ") does not match: the journal was written " +
          (options_.hmac_key.empty() ? "with an HMAC key (configure it)" : "without this HMAC key") +
          ", or the record was edited. Run 'ordergate audit verify'");
    }
    base_sequence_ = last->seq;
    prev_hash_ = last->hash;
  }

  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    throw AuditJournalError("audit journal " + path.string() + ": cannot open for writing: " +
                            errno_text(errno));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    throw AuditJournalError("audit journal " + path.string() + ": not a regular file");
  }
  file_->fd = fd;
  file_->bytes = static_cast<std::uint64_t>(info.st_size);
  int sync_error = 0;
  if (!sync_directory(directory, sync_error)) {
    ::close(fd);
    throw AuditJournalError("audit journal " + path.string() + ": cannot sync its directory: " +
                            errno_text(sync_error));
  }
}

std::uint64_t AuditJournal::push(const AuditEvent& event, std::uint32_t dropped_marker) noexcept {
  std::uint64_t position = head_.load(std::memory_order_relaxed);
  for (;;) {
    Slot& slot = slots_[position & mask_];
    const std::uint64_t turn = slot.turn.load(std::memory_order_acquire);
    if (turn == position) {
      if (head_.compare_exchange_weak(position, position + 1, std::memory_order_relaxed)) {
        slot.event = event;
        slot.dropped_marker = dropped_marker;
        slot.turn.store(position + 1, std::memory_order_release);
        return base_sequence_ + position + 1;
      }
      // `position` now holds the current head; try again there.
    } else if (turn < position) {
      return 0;  // the slot still holds the record of the previous lap: full
    } else {
      position = head_.load(std::memory_order_relaxed);
    }
  }
}

std::uint64_t AuditJournal::record(const AuditEvent& event) noexcept {
  if (state_.load(std::memory_order_acquire) == kOpen) {
    const std::uint64_t sequence = push(event, 0);
    if (sequence != 0) return sequence;
  }
  dropped_.fetch_add(1, std::memory_order_relaxed);
  return 0;
}

void AuditJournal::append_record(const Slot& slot) {
  const AuditEvent& event = slot.event;
  const std::uint64_t sequence = base_sequence_ + tail_ + 1;
  std::string& line = file_->line;
  line.clear();

  line += "{\"seq\":";
  append_integer(line, sequence);
  std::int64_t time_ns = event.time_ns;
  if (slot.dropped_marker != 0) {
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

  if (slot.dropped_marker != 0) {
    append_string_field(line, "event", "records_dropped");
    append_string_field(line, "reason", "OK");
    std::string detail = "count=";
    append_integer(detail, slot.dropped_marker);
    append_string_field(line, "detail", detail);
  } else {
    append_string_field(line, "event", to_string(event.type));
    if (names_principal(event.type)) append_name_field(line, "principal", names_.principal, event.principal_id);
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
        append_name_field(line, "account", names_.account, event.account_id);
        append_name_field(line, "symbol", names_.symbol, event.instrument_id);
        append_string_field(line, "side", to_string(event.side));
        append_decimal_field(line, "qty", event.quantity);
        append_decimal_field(line, "price", event.price);
      }
      if (!event.client_order_id.empty()) append_string_field(line, "cl_ord_id", event.client_order_id.view());
      if (event.type == AuditEventType::execution) {
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
  append_hex(line, prev_hash_);
  line.push_back('"');
  const security::Sha256Digest hash = audit_record_hash(line, &options_.hmac_key);
  append_key(line, "hash");
  line.push_back('"');
  append_hex(line, hash);
  line += "\"}\n";

  if (options_.max_bytes != 0 && file_->bytes + pending_.size() > 0 &&
      file_->bytes + pending_.size() + line.size() > options_.max_bytes) {
    if (!write_pending() || !rotate()) return;
  }
  pending_ += line;
  pending_last_ = sequence;
  prev_hash_ = hash;
}

bool AuditJournal::drain_ready() {
  std::size_t count = 0;
  const std::uint64_t capacity = mask_ + 1;
  while (count < kBatchRecords) {
    Slot& slot = slots_[tail_ & mask_];
    if (slot.turn.load(std::memory_order_acquire) != tail_ + 1) break;
    // A failed journal keeps consuming (so nothing waits on a full ring)
    // but writes nothing more; the records are lost and waiters told so.
    if (state_.load(std::memory_order_relaxed) != kFailed) append_record(slot);
    slot.turn.store(tail_ + capacity, std::memory_order_release);
    ++tail_;
    ++count;
  }
  // Refused records leave a trace in the chain itself.
  const std::uint64_t dropped = dropped_.load(std::memory_order_relaxed);
  if (dropped > dropped_reported_ && state_.load(std::memory_order_relaxed) != kFailed) {
    const std::uint64_t unreported = dropped - dropped_reported_;
    const auto marker = static_cast<std::uint32_t>(
        std::min<std::uint64_t>(unreported, std::numeric_limits<std::uint32_t>::max()));
    if (push(AuditEvent{}, marker) != 0) dropped_reported_ += marker;
  }
  return count > 0;
}

bool AuditJournal::write_pending() {
  if (pending_.empty()) return true;
  int error = 0;
  if (!write_all(file_->fd, pending_.data(), pending_.size(), error)) {
    fail("audit journal " + options_.path.string() + ": write failed: " + errno_text(error));
    return false;
  }
  file_->bytes += pending_.size();
  pending_.clear();
  unsynced_last_ = pending_last_;
  publish_written(pending_last_);
  return true;
}

bool AuditJournal::sync_file() {
  if (::fdatasync(file_->fd) != 0) {
    fail("audit journal " + options_.path.string() + ": fdatasync failed: " + errno_text(errno));
    return false;
  }
  last_sync_ = std::chrono::steady_clock::now();
  if (unsynced_last_ > durable_.load(std::memory_order_relaxed)) publish_durable(unsynced_last_);
  return true;
}

bool AuditJournal::rotate() {
  if (!sync_file()) return false;
  const std::filesystem::path& path = options_.path;
  const std::filesystem::path target = path.string() + segment_suffix(file_->next_segment);
  ::close(file_->fd);
  file_->fd = -1;
  // RENAME_NOREPLACE: a rotated file is never overwritten, whatever is there.
  if (::renameat2(AT_FDCWD, path.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) != 0) {
    fail("audit journal " + path.string() + ": cannot rotate to " + target.string() + ": " +
         errno_text(errno));
    return false;
  }
  ++file_->next_segment;
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    fail("audit journal " + path.string() + ": cannot create after rotation: " + errno_text(errno));
    return false;
  }
  file_->fd = fd;
  file_->bytes = 0;
  int error = 0;
  if (!sync_directory(directory_of(path), error)) {
    fail("audit journal " + path.string() + ": cannot sync its directory: " + errno_text(error));
    return false;
  }
  return true;
}

void AuditJournal::publish_written(std::uint64_t sequence) {
  written_.store(sequence, std::memory_order_release);
  if (options_.fsync == AuditFsync::never) {
    std::lock_guard lock(mutex_);
    durable_changed_.notify_all();
  }
}

void AuditJournal::publish_durable(std::uint64_t sequence) {
  durable_.store(sequence, std::memory_order_release);
  {
    std::lock_guard lock(mutex_);
    durable_changed_.notify_all();
  }
  if (options_.on_durable) options_.on_durable(sequence);
}

void AuditJournal::fail(std::string message) {
  state_.store(kFailed, std::memory_order_release);
  pending_.clear();
  std::lock_guard lock(mutex_);
  if (error_.empty()) error_ = std::move(message);
  durable_changed_.notify_all();
}

void AuditJournal::run_writer() noexcept {
  ::pthread_setname_np(::pthread_self(), "ordergate-audit");
  int idle_rounds = 0;
  try {
    for (;;) {
      const bool progressed = drain_ready();
      if (!pending_.empty()) write_pending();

      bool stopping = false;
      std::uint64_t sync_target = 0;
      {
        std::lock_guard lock(mutex_);
        stopping = stop_requested_;
        sync_target = sync_target_;
      }
      const bool failed_now = state_.load(std::memory_order_relaxed) == kFailed;
      const std::uint64_t durable = durable_.load(std::memory_order_relaxed);
      if (!failed_now && unsynced_last_ > durable) {
        const auto now = std::chrono::steady_clock::now();
        const bool due = options_.fsync == AuditFsync::always ||
                         (options_.fsync == AuditFsync::interval && now - last_sync_ >= options_.fsync_interval) ||
                         sync_target > durable;
        if (due) sync_file();
      }
      if (progressed) {
        idle_rounds = 0;
        continue;
      }
      const std::uint64_t head = head_.load(std::memory_order_acquire);
      if (head != tail_ || idle_rounds < kIdleYields) {
        // A producer is between taking a position and publishing it, or a
        // burst may be about to continue: stay close.
        ++idle_rounds;
        std::this_thread::yield();
        continue;
      }
      if (stopping) break;

      std::chrono::microseconds wait = kIdleWait;
      if (options_.fsync == AuditFsync::interval && unsynced_last_ > durable_.load(std::memory_order_relaxed)) {
        const auto due = last_sync_ + options_.fsync_interval - std::chrono::steady_clock::now();
        wait = std::clamp(std::chrono::duration_cast<std::chrono::microseconds>(due),
                          std::chrono::microseconds{0}, kIdleWait);
      }
      std::unique_lock lock(mutex_);
      if (!wake_requested_ && !stop_requested_) writer_wake_.wait_for(lock, wait);
      if (wake_requested_) idle_rounds = 0;
      wake_requested_ = false;
    }
    // Everything numbered is in the file: make it durable and close.
    if (state_.load(std::memory_order_relaxed) != kFailed) {
      write_pending();
      if (state_.load(std::memory_order_relaxed) != kFailed) sync_file();
    }
  } catch (const std::exception& e) {
    fail(std::string("audit journal writer: ") + e.what());
  } catch (...) {
    fail("audit journal writer: unknown error");
  }
  if (file_->fd >= 0) {
    ::close(file_->fd);
    file_->fd = -1;
  }
  std::lock_guard lock(mutex_);
  writer_done_ = true;
  durable_changed_.notify_all();
}

bool AuditJournal::wait_durable(std::uint64_t sequence) {
  return wait_durable(sequence, std::chrono::nanoseconds::max());
}

bool AuditJournal::wait_durable(std::uint64_t sequence, std::chrono::nanoseconds timeout) {
  if (sequence == 0 || sequence > last_sequence()) return false;
  const std::atomic<std::uint64_t>& reached = options_.fsync == AuditFsync::never ? written_ : durable_;
  if (reached.load(std::memory_order_acquire) >= sequence) return true;
  std::unique_lock lock(mutex_);
  wake_requested_ = true;
  writer_wake_.notify_one();
  const auto done = [&] {
    return reached.load(std::memory_order_acquire) >= sequence || writer_done_ ||
           state_.load(std::memory_order_acquire) == kFailed;
  };
  if (timeout == std::chrono::nanoseconds::max()) {
    durable_changed_.wait(lock, done);
  } else {
    durable_changed_.wait_for(lock, timeout, done);
  }
  return reached.load(std::memory_order_acquire) >= sequence;
}

std::uint64_t AuditJournal::flush() {
  const std::uint64_t target = last_sequence();
  std::unique_lock lock(mutex_);
  sync_target_ = std::max(sync_target_, target);
  wake_requested_ = true;
  writer_wake_.notify_one();
  durable_changed_.wait(lock, [&] {
    return durable_.load(std::memory_order_acquire) >= target || writer_done_ ||
           state_.load(std::memory_order_acquire) == kFailed;
  });
  return durable_.load(std::memory_order_acquire) >= target ? target : 0;
}

void AuditJournal::stop() noexcept {
  std::call_once(stop_once_, [this] {
    std::uint8_t expected = kOpen;
    state_.compare_exchange_strong(expected, kClosing, std::memory_order_acq_rel);
    {
      std::lock_guard lock(mutex_);
      stop_requested_ = true;
      writer_wake_.notify_one();
    }
    if (writer_.joinable()) writer_.join();
  });
}

std::uint64_t AuditJournal::last_sequence() const noexcept {
  return base_sequence_ + head_.load(std::memory_order_acquire);
}
std::uint64_t AuditJournal::written_sequence() const noexcept { return written_.load(std::memory_order_acquire); }
std::uint64_t AuditJournal::durable_sequence() const noexcept { return durable_.load(std::memory_order_acquire); }
std::uint64_t AuditJournal::dropped_records() const noexcept { return dropped_.load(std::memory_order_relaxed); }
bool AuditJournal::failed() const noexcept { return state_.load(std::memory_order_acquire) == kFailed; }
bool AuditJournal::healthy() const noexcept { return !failed() && dropped_records() == 0; }

std::string AuditJournal::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

}  // namespace ordergate
