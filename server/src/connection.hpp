#pragma once

// Internal: one client connection on the Unix socket. It reads, splits the
// input into lines, buffers replies, enforces the per-connection limits and
// closes; what a line means is the owner's business (handlers.hpp).

#include <boost/asio/local/stream_protocol.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ordergate/core/clock.hpp"
#include "ordergate/gateway/gateway.hpp"
#include "ordergate/guards/rate_limit.hpp"

namespace ordergate::server_detail {

class Connection;

/// The limits of one connection (`[gateway]` keys of the same names).
struct ConnectionLimits {
  std::size_t max_line_bytes = 4096;
  std::size_t max_output_bytes = 1u << 20;
  std::uint32_t max_errors = 20;
};

/// What a connection asks of the process that owns it. Called on the I/O
/// thread only.
class ConnectionOwner {
 public:
  /// One complete, non-blank line (without its newline).
  virtual void on_line(Connection& connection, std::string_view line) = 0;
  /// The connection is closing: end its sessions. Called once.
  virtual void on_close(Connection& connection, std::string_view why) = 0;
  /// Highest audit sequence known durable (replies held for fsync "always").
  [[nodiscard]] virtual std::uint64_t durable_sequence() const noexcept = 0;
  /// True once the journal failed: no held record will ever become durable.
  [[nodiscard]] virtual bool journal_failed() const noexcept = 0;
  /// After the lines of one read and before their replies are written.
  virtual void after_read(Connection& connection) = 0;

 protected:
  ~ConnectionOwner() = default;
};

/// Owned by shared_ptr: every pending read or write holds one, so a closed
/// connection lives until its last handler has run.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using socket_type = boost::asio::local::stream_protocol::socket;
  static constexpr std::uint32_t kNoUid = 0xFFFFFFFFu;

  Connection(boost::asio::io_context& io, ConnectionOwner& owner, const Clock& clock, ConnectionLimits limits);

  socket_type& socket() noexcept { return socket_; }

  /// Reads the peer's credentials (SO_PEERCRED) and numbers the connection.
  void accepted(std::uint64_t number);
  /// Starts the read loop.
  void start_reading();

  /// Replies are appended here, then sent by `flush`.
  std::string& output() noexcept { return output_; }
  /// Sends what `output` holds (unless held for a journal that has not
  /// failed: a failed journal releases the replies as they are, with their
  /// real outcome, since no durable mark will come), drops a reader
  /// whose backlog passed `max_output_bytes`, and closes once a connection
  /// marked by `close_after_flush` has nothing left to send.
  void flush();
  /// No more requests are read; the connection closes once its output is written.
  void close_after_flush() noexcept { closing_ = true; }
  /// Closes now (the owner's `on_close` runs first).
  void close(std::string_view why);
  /// Counts a malformed request or a failed hello; past `max_errors` answers
  /// TOO_MANY_ERRORS and closes after the flush.
  void count_error();
  /// With fsync "always": hold the output until audit record `sequence` is durable.
  void hold_until_durable(std::uint64_t sequence) noexcept {
    if (sequence > hold_sequence_) hold_sequence_ = sequence;
  }

  [[nodiscard]] bool closed() const noexcept { return closed_; }
  [[nodiscard]] bool held() const noexcept { return hold_sequence_ != 0; }
  [[nodiscard]] std::uint64_t number() const noexcept { return number_; }
  [[nodiscard]] std::int64_t last_activity_ns() const noexcept { return last_activity_ns_; }

  // The peer, from SO_PEERCRED (kNoUid when unknown).
  std::uint32_t peer_uid = kNoUid;
  std::uint32_t peer_gid = kNoUid;
  std::int32_t peer_pid = 0;

  // Who the peer is, once a hello succeeded.
  Session session;
  std::string principal;
  PrincipalId principal_id = 0;
  bool cancel_on_disconnect = false;
  // The current session had an order accepted: only then can it have open
  // orders, and need keeping when a new hello replaces it.
  bool session_traded = false;
  // An order, amend or cancel of the read being handled was accepted: its
  // reports may follow within `reply_spin` (Process::after_read).
  bool awaiting_reports = false;
  // Budget of the read ops (`orders`, `positions`), which scan tables.
  guards::GcraCell read_budget;
  // Sessions this connection replaced with a new hello that still have
  // working orders: their reports must still reach this connection.
  struct Retired {
    Session session;
    std::string principal;  // the session's own principal: a new hello may be another's
    bool cancel_on_disconnect = false;
    bool quiet = false;     // no open orders at the last sweep
  };
  std::vector<Retired> retired;

 private:
  static constexpr std::size_t kReadChunk = std::size_t{64} * 1024;

  void read_next();
  void process_input();
  void oversized();

  socket_type socket_;
  ConnectionOwner& owner_;
  const Clock& clock_;
  const ConnectionLimits limits_;
  std::uint64_t number_ = 0;
  std::unique_ptr<char[]> read_buffer_ = std::make_unique<char[]>(kReadChunk);
  std::string input_;      // bytes read but not yet split into lines
  std::string output_;     // replies waiting for the socket
  std::string in_flight_;  // the write the socket is doing now
  bool writing_ = false;
  bool closing_ = false;   // no more requests; close once output is written
  bool closed_ = false;
  std::uint32_t errors_ = 0;
  std::int64_t last_activity_ns_ = 0;
  std::uint64_t hold_sequence_ = 0;
};

}  // namespace ordergate::server_detail
