#pragma once

// Internal: the drop copy (`subscribe`, docs/protocol.md#drop-copy). Each
// subscription receives the events of its streams for the accounts its
// principal may see (`read`: the accounts it may use; `monitor`: every
// account), numbered 1, 2, 3... in the order they happened. A subscription
// never misses an event silently: a reader that falls behind, or events the
// gateway could not keep, end it with a notice saying why. I/O thread only.

#include <functional>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "connection.hpp"
#include "ordergate/gateway/gateway.hpp"
#include "protocol.hpp"

namespace ordergate::server_detail {

class DropCopy {
 public:
  /// `reach`'s account of an event every subscriber sees (a global state).
  static constexpr AccountId kAnyAccount = 0xFFFEu;
  /// `max_backlog_bytes`: unsent output past which a subscriber is dropped.
  DropCopy(Gateway& gateway, std::size_t max_backlog_bytes) noexcept
      : gateway_(gateway), max_backlog_bytes_(max_backlog_bytes) {}

  /// Adds (or replaces) the subscription of `connection`'s principal;
  /// `every_account` for `monitor`. Permissions are the caller's to check.
  void subscribe(Connection& connection, std::uint8_t streams, bool every_account);

  /// Sends what the gateway's drop copy holds to the subscribers.
  void deliver_executions();
  /// Called with every report `deliver_executions` takes (the console's
  /// recent executions); set before the first delivery.
  void observe(std::function<void(const Gateway::DropCopyReport&)> observer) { observer_ = std::move(observer); }
  /// A refused `submit` or `cancel`: only fields that passed validation
  /// are sent, never raw client input.
  void rejection(const Connection& connection, const protocol::Request& request, Reason reason);
  /// A trading-state change; `scope` as on the wire, `by` a principal or
  /// the gateway's own check (e.g. "position_check").
  void trading_state(std::string_view scope, guards::TradingState state, std::string_view by);

  [[nodiscard]] std::size_t subscribers() const noexcept { return subscribers_.size(); }

 private:
  struct Subscriber {
    std::weak_ptr<Connection> connection;
    PrincipalId principal = 0;
    std::uint8_t streams = 0;
    bool every_account = false;
    std::uint64_t seq = 0;
    bool ended = false;
  };
  // The subscriber's connection when it takes events of `stream` about
  // `account` (kNoAccountId: an event no account could be given, for
  // `monitor` only; kAnyAccount: one every subscriber sees), else nullptr;
  // ends the subscription of a closed, re-authenticated, revoked or slow
  // one, or of a principal a reload took `read` and `monitor` from.
  Connection* reach(Subscriber& subscriber, protocol::Stream stream, AccountId account);
  // `read` sees the accounts its principal may use; `monitor` every one,
  // and events no account could be given (kNoAccountId).
  [[nodiscard]] bool sees(const Subscriber& subscriber, AccountId account) const noexcept;
  void end(Subscriber& subscriber, Connection& connection, std::string_view code, std::string_view message);
  void flush_and_prune();

  Gateway& gateway_;
  std::function<void(const Gateway::DropCopyReport&)> observer_;
  std::size_t max_backlog_bytes_;
  std::vector<Subscriber> subscribers_;
  std::vector<std::shared_ptr<Connection>> touched_;  // written to: flushed once per batch
  std::uint64_t lost_seen_ = 0;
};

}  // namespace ordergate::server_detail
