#pragma once

/// \file
/// The ports the core needs from the outside world: a broker to send orders
/// to, a sink for execution events, and a sink for audit records. Adapters
/// implement `BrokerPort`; the gateway implements `ExecutionSink`.

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ordergate/core/cache_line.hpp"
#include "ordergate/core/clock.hpp"
#include "ordergate/core/execution.hpp"
#include "ordergate/core/order.hpp"
#include "ordergate/core/quote.hpp"
#include "ordergate/core/reason.hpp"

namespace ordergate {

/// One working order a broker holds for an account, as reconciliation finds
/// it (orders this gateway placed in an earlier run, and orders placed by
/// anyone else: a person, another tool).
struct HeldOrder {
  AccountId account_id = 0;
  InstrumentId instrument_id = 0;
  Side side = Side::unset;
  OrderType type = OrderType::unset;
  TimeInForce time_in_force = TimeInForce::unset;
  Decimal quantity;    ///< as placed
  Decimal leaves;      ///< still working, > 0
  Decimal price;       ///< zero when none
  Decimal stop_price;  ///< zero when none
  std::int64_t expire_time_ns = 0;  ///< UTC ns; GTD only
  BrokerOrderId broker_order_id;    ///< the venue's own id
  /// The client id the venue knows the order by (for a gateway order: an
  /// adapter's prefix, '-', the gateway order id in base 36); empty if none.
  FixedString<48> venue_client_id;
};

/// A broker's net position of an account in an instrument: positive long,
/// negative short. Reconciliation reports only non-zero positions.
struct HeldPosition {
  AccountId account_id = 0;
  InstrumentId instrument_id = 0;
  Decimal net;
};

/// What a broker holds for the accounts of one adapter, in answer to
/// `BrokerPort::request_holdings`. Instruments the gateway does not trade
/// are left out and counted in `skipped`.
struct Holdings {
  bool complete = false;  ///< false: the fetch failed and `error` says why (never a secret)
  std::string error;
  std::vector<HeldOrder> orders;
  std::vector<HeldPosition> positions;
  std::uint32_t skipped = 0;
};

/// Receives execution events from a broker adapter, on the broker's I/O thread.
class ExecutionSink {
 public:
  virtual void on_execution(const ExecutionReport& report) noexcept = 0;
  /// A fill on the account that belongs to no gateway order (`fill.kind` ==
  /// position_fill): a protective order of the gateway order `fill.order_id`
  /// triggered, or (order_id == kNoOrderId) a fill the gateway did not place.
  /// The adapter reports each venue fill once (it deduplicates by the venue's
  /// transaction id); the gateway books it into the position. With a
  /// parent, the adapter also sets the parent's `session_id` and
  /// `client_order_id`: the gateway reuses a finished order's record, so it
  /// may no longer know them. The default ignores it, for sinks that track
  /// no position.
  virtual void on_position_fill(const ExecutionReport& fill) noexcept { (void)fill; }
  /// The answer to `BrokerPort::request_holdings`, once per request. The
  /// default ignores it, for sinks that reconcile nothing.
  virtual void on_holdings(const Holdings& holdings) noexcept { (void)holdings; }

 protected:
  ~ExecutionSink() = default;
};

/// Upper bounds of the broker request latency histogram's buckets, in
/// nanoseconds (0.5 ms to 10 s); a last bucket (+Inf) holds the rest.
inline constexpr std::array<std::int64_t, 14> kBrokerLatencyBoundsNs = {
    500'000,     1'000'000,   2'500'000,     5'000'000,     10'000'000,    25'000'000,    50'000'000,
    100'000'000, 250'000'000, 500'000'000, 1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};

/// A broker adapter's connections and requests, for metrics.
struct BrokerTransportStats {
  std::uint64_t connect_attempts = 0;
  std::uint64_t connections_established = 0;  ///< verified handshakes
  std::uint64_t verification_failures = 0;    ///< certificate, host name or pin
  std::uint64_t connect_failures = 0;         ///< TCP or TLS errors other than verification
  std::uint64_t connections_lost = 0;
  /// Requests of one kind ("order", "cancel", "pricing"...): time from the
  /// write to the complete response, per bucket as kBrokerLatencyBoundsNs
  /// (not cumulative), and those that got no response (timeout, lost).
  struct Requests {
    std::string_view kind;
    std::array<std::uint64_t, kBrokerLatencyBoundsNs.size() + 1> buckets{};
    std::uint64_t sum_ns = 0;
    std::uint64_t failures = 0;
  };
  std::vector<Requests> requests;  ///< kinds with at least one request
  /// The venue's own rate limits as the adapter counts them (e.g. Binance's
  /// request weight per minute and orders per 10 s): used now, and the most
  /// the adapter lets itself use.
  struct VenueLimit {
    std::string_view name;  ///< e.g. "weight_1m", "orders_10s"
    std::int64_t used = 0;
    std::int64_t limit = 0;
  };
  std::vector<VenueLimit> venue_limits;
};

/// A broker as the gateway sees it. Every member is called on the broker's
/// own I/O thread, owned by the gateway, so an adapter needs no locking.
class BrokerPort {
 public:
  virtual ~BrokerPort() = default;
  [[nodiscard]] virtual std::string_view name() const noexcept = 0;
  /// Called once on the I/O thread before any order. `quotes` is where the
  /// adapter publishes reference prices for the risk guards; `clock` is the
  /// gateway's time source. Both outlive the adapter's use of them. May
  /// throw; the gateway then refuses to start.
  virtual void start(ExecutionSink& sink, QuoteBoard& quotes, const Clock& clock) = 0;
  /// An order that passed every guard. The adapter must eventually report a
  /// terminal status for it (filled, canceled, rejected or expired).
  virtual void submit(const Order& order) noexcept = 0;
  /// Cancel a working order. Unknown or finished orders are ignored.
  virtual void cancel(const CancelOrder& cancel) noexcept = 0;
  /// True when `replace` amends orders at this broker. Asked once, before
  /// `start`; amends of its accounts' orders are refused otherwise
  /// (REPLACE_NOT_SUPPORTED). The default: false.
  [[nodiscard]] virtual bool supports_replace() const noexcept { return false; }
  /// Amend the working order `replace.original_order_id` into
  /// `replace.order` (a new gateway order id and client order id, the new
  /// quantity, price or stop price). The adapter answers with one report on
  /// `replace.order.order_id`: REPLACED once the venue took the amend (then
  /// every later report of the order names the new order id), or
  /// REPLACE_REJECTED when it refused it or the original is no longer
  /// working (the original works on unchanged). Only called when
  /// `supports_replace()`; the default rejects.
  virtual void replace(const ReplaceOrder& replace) noexcept { (void)replace; }
  /// Periodic work: quotes, resting-order matching, network I/O. Returns
  /// true when it did something, so the caller's idle strategy can back off.
  virtual bool poll() noexcept = 0;
  /// Called once on the I/O thread on shutdown, after the last order.
  virtual void stop() noexcept = 0;

  /// Reconciliation: asks what the broker holds for the adapter's accounts
  /// (every working order, every non-zero position). The adapter answers
  /// once per call through `ExecutionSink::on_holdings`, on its I/O thread,
  /// possibly inside this call, with `complete` false when it could not
  /// find out. Returns false when the adapter cannot reconcile at all (then
  /// nothing is answered; the default).
  virtual bool request_holdings() noexcept { return false; }
  /// Takes over an order reconciliation found, under the gateway order
  /// `order` (its ids and client order id as the gateway restored them):
  /// from then on its fills, cancels and expiry are reported like those of
  /// an order `submit` sent, and `cancel` reaches it. `held` is the order as
  /// the adapter reported it. The default does nothing.
  virtual void adopt(const Order& order, const HeldOrder& held) noexcept {
    (void)order;
    (void)held;
  }
  /// The prefix of the client ids this adapter instance gives the venue
  /// (see HeldOrder::venue_client_id); fresh for every instance, so it also
  /// tells runs apart. Empty when the adapter sends none. Valid after
  /// construction and for the adapter's lifetime.
  [[nodiscard]] virtual std::string_view client_id_prefix() const noexcept { return {}; }
  /// True while the adapter can trade with its venue: a live, verified
  /// connection that accepted the credentials. After it was false for
  /// longer than the broker's `reconcile_after_disconnect`, the gateway
  /// closes the adapter's accounts (ACCOUNT_NOT_READY) and reconciles them
  /// again once it is true. Called on the I/O thread between polls; must be
  /// cheap. The default (an embedded broker that cannot lose its venue):
  /// always true.
  [[nodiscard]] virtual bool connected() const noexcept { return true; }
  /// For metrics: the adapter's connections and requests. Unlike the other
  /// members, called from any thread (a scrape), so it reads only what the
  /// I/O thread publishes in atomics. False (the default): no transport.
  [[nodiscard]] virtual bool transport_stats(BrokerTransportStats& out) const {
    (void)out;
    return false;
  }
};

enum class AuditEventType : std::uint8_t {
  session_opened,
  session_closed,
  order_accepted,
  order_rejected,
  cancel_accepted,
  cancel_rejected,
  execution,
  trading_state_changed,
  sessions_revoked,
  principal_disabled,
  hello_accepted,         ///< a client authenticated (socket process)
  hello_refused,          ///< a client presented a wrong or expired token
  sent_to_broker,         ///< the adapter wrote the order to the broker
  broker_rejected,        ///< the broker refused an order or a request
  config_reloaded,
  config_reload_refused,
  tls_failure,            ///< a broker connection failed verification
  principal_enabled,
  journal_repaired,       ///< `ordergate audit repair` cut a torn last line (detail: what it cut)
  position_fill,          ///< a fill on the account outside any gateway order (a stop loss...)
  order_adopted,          ///< reconciliation found the order at the broker and follows it (detail: its owner)
  position_mismatch,      ///< a periodic check found the broker's position differs (detail: both figures)
  replace_accepted,       ///< an amend passed the guards (order: as amended; detail: the id it replaces)
  replace_rejected,       ///< an amend was refused by a guard (reason)
};

[[nodiscard]] std::string_view to_string(AuditEventType type) noexcept;

/// `AuditEvent::actor` of a record no operator's action caused.
inline constexpr PrincipalId kNoActor = 0xFFFF;

/// One audit record. Trivially copyable and free of secrets by construction:
/// it has no field that could hold a token or key.
struct AuditEvent {
  AuditEventType type = AuditEventType::order_accepted;
  Reason reason = Reason::OK;
  Side side = Side::unset;
  ExecStatus exec_status = ExecStatus::new_order;
  PrincipalId principal_id = 0;
  AccountId account_id = 0;
  InstrumentId instrument_id = 0;
  /// The principal whose admin op made the change (trading states, disables,
  /// revocations); kNoActor otherwise. Sits in what was padding.
  PrincipalId actor = kNoActor;
  SessionId session_id = 0;
  OrderId order_id = 0;
  std::uint32_t peer_uid = 0xFFFFFFFFu;  ///< client's uid (socket process); ~0 = in-process
  std::int64_t time_ns = 0;  ///< UTC
  Decimal quantity;
  Decimal price;
  ClientOrderId client_order_id;
  BrokerOrderId broker_order_id;
  FixedString<64> detail;  ///< short fixed text, e.g. "account:paper:HALTED"; never client input or secrets
};
static_assert(std::is_trivially_copyable_v<AuditEvent>);
static_assert(sizeof(AuditEvent) == 200, "the journal's ring slot holds one (audit/src/journal.cpp)");

/// A place in the audit trail claimed by `AuditSink::reserve` for a record
/// whose content is decided later. `ticket` means something to the sink only.
struct AuditReservation {
  bool reserved = false;
  std::uint64_t ticket = 0;

  explicit operator bool() const noexcept { return reserved; }
};

/// Receives audit records. `record` is called on strategy threads inside
/// `submit()`, so implementations must not block, lock or allocate. It
/// returns the record's sequence number (> 0), or 0 when the sink does not
/// number records; a journal that can make records durable uses it to let a
/// caller wait for durability before replying.
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  virtual std::uint64_t record(const AuditEvent& event) noexcept = 0;

  /// Claims room for one record before the decision it records takes
  /// effect, so an order never leaves without its record: the gateway
  /// reserves before it hands an order to a broker and refuses the order
  /// (AUDIT_UNAVAILABLE) when this fails. Every reservation that succeeded
  /// must be passed to `commit` exactly once, soon (a journal writes nothing
  /// after it until then). Same thread-safety and cost rules as `record`.
  /// The default reserves nothing and always succeeds: `commit` then calls
  /// `record`, which may still refuse.
  [[nodiscard]] virtual AuditReservation reserve() noexcept { return AuditReservation{true, 0}; }
  /// Writes `event` into a place `reserve` gave; returns as `record` does.
  virtual std::uint64_t commit(AuditReservation reservation, const AuditEvent& event) noexcept {
    (void)reservation;
    return record(event);
  }

  /// False while the sink cannot keep the audit trail complete (a journal
  /// that failed or lost a record). The gateway then refuses new orders with
  /// AUDIT_UNAVAILABLE; cancels still pass. Thread-safe. Cost: one relaxed
  /// atomic load, no virtual call, so every `submit` can ask.
  [[nodiscard]] bool healthy() const noexcept { return healthy_.load(std::memory_order_relaxed); }

 protected:
  AuditSink() = default;
  /// Implementations report here whether records are kept. Thread-safe.
  void set_healthy(bool healthy) noexcept { healthy_.store(healthy, std::memory_order_relaxed); }

 private:
  // On its own cache line: every submit reads it and it almost never
  // changes, so a sink's busy fields must not share the line.
  alignas(kCacheLine) std::atomic<bool> healthy_{true};
};
static_assert(alignof(AuditSink) == kCacheLine);

/// Discards every record. For benchmarks and callers who audit elsewhere.
class NullAuditSink final : public AuditSink {
 public:
  std::uint64_t record(const AuditEvent&) noexcept override { return 0; }
};

}  // namespace ordergate
