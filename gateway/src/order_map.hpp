#pragma once

// Internal: which principal and client order id each venue client id of one
// broker stands for, kept beside the state file, so that an order placed
// before a restart keeps its owner when reconciliation finds it at the
// broker. Two files: a snapshot (`<state>.orders-<broker>`) and a log
// (`...-<broker>.log`) the broker thread appends to, with one write(2) per
// batch, before the orders of the batch reach the adapter. Written, not
// synced: a killed process loses nothing (the kernel has the bytes); a
// machine that loses power may lose the last lines, and those orders then
// come back as orders of no principal. Compaction rewrites the snapshot
// with the orders still working and empties the log.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ordergate::detail {

struct OrderOwner {
  std::string principal;
  std::string client_order_id;
};

class OrderMap {
 public:
  // `snapshot` empty: disabled (no file is touched).
  explicit OrderMap(std::filesystem::path snapshot);
  ~OrderMap();
  OrderMap(const OrderMap&) = delete;
  OrderMap& operator=(const OrderMap&) = delete;

  [[nodiscard]] bool enabled() const noexcept { return !snapshot_.empty(); }

  // The owners in the snapshot, then the log (later lines win). A line
  // that does not parse is skipped and counted in `skipped` (the torn last
  // line of a crash). Throws std::runtime_error when a file exists but
  // cannot be read.
  [[nodiscard]] std::unordered_map<std::string, OrderOwner> load(std::size_t& skipped) const;

  // Appends whole lines "VENUE_ID PRINCIPAL CLIENT_ORDER_ID\n" with one
  // write. False on failure (the caller reports it).
  bool append(std::string_view lines) noexcept;
  [[nodiscard]] std::uint64_t log_bytes() const noexcept { return log_bytes_; }

  // Replaces the snapshot with `lines` (temporary file, fsync, rename) and
  // empties the log. False on failure (the old files then stay).
  bool compact(std::string_view lines) noexcept;

  // One line for the files; false when a field holds a blank or is empty
  // (such an owner cannot be written, and is not).
  static bool format_line(std::string_view venue_id, std::string_view principal, std::string_view client_order_id,
                          std::string& out);

 private:
  bool open_log() noexcept;

  std::filesystem::path snapshot_;
  std::filesystem::path log_;
  int log_fd_ = -1;
  std::uint64_t log_bytes_ = 0;
};

}  // namespace ordergate::detail
