#pragma once

// Internal: what the process does with each request line. One function per
// op; each appends exactly one reply to the connection's output.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "connection.hpp"
#include "drop_copy.hpp"
#include "log.hpp"
#include "ordergate/audit/journal.hpp"
#include "ordergate/cluster/member.hpp"
#include "ordergate/core/ports.hpp"
#include "ordergate/gateway/gateway.hpp"
#include "ordergate/guards/rate_limit.hpp"
#include "ordergate/server/config_file.hpp"
#include "protocol.hpp"

namespace ordergate::server_detail {

/// Failed hellos per peer uid. The budget bounds what failures cost (audit
/// records, log lines), it does not stop guessing (tokens are 256-bit
/// random values): a valid token is welcomed whatever the budget says.
/// Throttled hellos are audited as one summary record per peer uid per
/// window, carrying their count.
struct HelloThrottle {
  struct Cell {
    guards::GcraCell cell;
    std::uint64_t throttled_unreported = 0;  // throttled hellos not yet in a summary record
    std::int64_t last_summary_ns = 0;
    bool summarized = false;                 // a summary was written (last_summary_ns is set)
  };
  guards::GcraParams params;
  std::int64_t window_ns = 0;  // the hello_rate_limit period: one summary per uid per window
  std::unordered_map<std::uint32_t, Cell> by_uid;
};

/// What the handlers use of the process. Built once the gateway exists; used
/// on the I/O thread only.
struct HandlerContext {
  Gateway& gateway;
  const Clock& clock;
  Log& log;
  AuditSink* audit;                          // null: auditing off
  const AuditJournal* journal;               // null: auditing off or an external sink
  bool hold_replies;                         // fsync "always": replies wait for the journal
  const std::vector<PrincipalAuth>& auth;    // tokens; replaced in place by a reload
  HelloThrottle& hello_throttle;
  const guards::GcraParams& read_budget;     // `orders` and `positions` per connection
  std::uint32_t max_sessions_per_principal;
  std::function<std::size_t(PrincipalId)> sessions_of;  // sessions the principal holds on every connection
  protocol::Decoder& decoder;
  std::function<bool(std::string& problem)> reload;  // the `reload` op; false + problem when refused
  DropCopy* drop_copy = nullptr;                     // `subscribe`; null: no drop copy
  cluster::Member* cluster = nullptr;                // [cluster]: admin changes are shared; null: local only
};

/// Decodes one line and answers it: a decode error, a rejection by the
/// session's status, or the op's handler.
void handle_line(HandlerContext& context, Connection& connection, std::string_view line);

void handle_hello(HandlerContext& context, Connection& connection, const protocol::Request& request);
void handle_submit(HandlerContext& context, Connection& connection, const protocol::Request& request);
void handle_cancel(HandlerContext& context, Connection& connection, const protocol::Request& request);
void handle_replace(HandlerContext& context, Connection& connection, const protocol::Request& request);
void handle_cancel_all(HandlerContext& context, Connection& connection, const protocol::Request& request);
void handle_orders(HandlerContext& context, Connection& connection, const protocol::Request& request);
void handle_positions(HandlerContext& context, Connection& connection, const protocol::Request& request);
void handle_ping(HandlerContext& context, Connection& connection, const protocol::Request& request);
void handle_bye(HandlerContext& context, Connection& connection, const protocol::Request& request);
/// halt, reduce, resume, disable_principal, enable_principal, revoke_sessions, reload.
void handle_admin(HandlerContext& context, Connection& connection, const protocol::Request& request);
void handle_subscribe(HandlerContext& context, Connection& connection, const protocol::Request& request);

/// The sessions through which the principal placed its open orders. Scans
/// the order table once (`Gateway::open_orders`).
[[nodiscard]] std::vector<SessionId> sessions_with_open_orders(const Gateway& gateway, const std::string& principal);

/// Cancels the open orders of every session of the connection whose
/// principal has cancel_on_disconnect; each at most once. Returns how many.
std::size_t cancel_on_disconnect(Gateway& gateway, Connection& connection);

/// Writes the summary record of throttled hellos (audit and log) for every
/// peer uid whose window since its last summary has passed, or for all of
/// them with `force` (shutdown).
void summarize_throttled_hellos(HandlerContext& context, bool force);

/// Records an event about the connection's peer and principal.
void audit_connection_event(AuditSink* audit, const Clock& clock, AuditEventType type, const Connection& connection,
                            Reason reason, std::string_view detail);

}  // namespace ordergate::server_detail
