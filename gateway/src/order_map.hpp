#pragma once

// Internal: who owns each order a broker was sent, kept beside the state
// file, so that after a restart an order the broker still holds comes back
// to its principal and client order id, and a client order id stays refused
// for duplicate_window across restarts.
//
// Files, per broker (`<state>.orders-<broker>` below):
//  - `<base>.<hour>.log`: one line "VENUE_ID PRINCIPAL CL_ORD_ID WALL_S" per
//    order, appended by the broker thread with one write(2) per batch before
//    the orders of the batch reach the adapter; one file per UTC hour;
//  - `<base>`: a snapshot of the orders still working (written whole: a
//    temporary file, fsync, rename), so an order older than the window
//    keeps its owner once its hour file is deleted.
// Hour files older than the window (plus an hour) are deleted after each
// snapshot. Lines are written, not synced: a killed process loses nothing
// (the kernel has the bytes); a machine that loses power may lose the last
// lines, and those orders then come back without their owner.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ordergate::detail {

struct OrderOwner {
  std::string principal;
  std::string client_order_id;
};

// A client order id a principal used, and when (UTC seconds).
struct UsedClientOrderId {
  std::string principal;
  std::string client_order_id;
  std::int64_t wall_s = 0;
};

class OrderMap {
 public:
  // `base` empty: disabled (no file is touched).
  explicit OrderMap(std::filesystem::path base);
  ~OrderMap();
  OrderMap(const OrderMap&) = delete;
  OrderMap& operator=(const OrderMap&) = delete;

  [[nodiscard]] bool enabled() const noexcept { return !base_.empty(); }

  struct Loaded {
    std::unordered_map<std::string, OrderOwner> owners;  // by venue client id; later lines win
    std::vector<UsedClientOrderId> used;                 // every line of the hour files
    std::size_t skipped = 0;  // lines that do not parse (the torn last line of a crash)
  };
  // Reads the snapshot, then the hour files in order. Throws
  // std::runtime_error when a file exists but cannot be read.
  [[nodiscard]] Loaded load() const;

  // Appends whole lines (see format_line) to the file of `wall_s`'s hour
  // with one write. False on failure (the caller reports it).
  bool append(std::string_view lines, std::int64_t wall_s) noexcept;
  // True when `wall_s` is in another hour than the last append's.
  [[nodiscard]] bool hour_changed(std::int64_t wall_s) const noexcept { return wall_s / 3600 != hour_; }

  // Replaces the snapshot with `lines` (the orders still working), then
  // deletes the hour files that ended more than `keep_s` before `wall_s`.
  // False on failure (the old files then stay).
  bool compact(std::string_view lines, std::int64_t wall_s, std::int64_t keep_s) noexcept;

  // Appends one line to `out`; false (nothing appended) when a field is
  // empty or holds a blank.
  static bool format_line(std::string_view venue_id, std::string_view principal, std::string_view client_order_id,
                          std::int64_t wall_s, std::string& out);

 private:
  [[nodiscard]] std::vector<std::pair<std::int64_t, std::filesystem::path>> hour_files() const;
  bool open_hour(std::int64_t hour) noexcept;

  std::filesystem::path base_;
  int log_fd_ = -1;
  std::int64_t hour_ = -1;  // of log_fd_
};

}  // namespace ordergate::detail
