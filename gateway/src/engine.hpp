#pragma once

// Internal: the engine behind Gateway and Session. Not installed.

#include <concurrentqueue/concurrentqueue.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <future>
#include <limits>
#include <memory>
#include <condition_variable>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ordergate/core/cache_line.hpp"
#include "ordergate/core/large_array.hpp"
#include "ordergate/gateway/control_state.hpp"
#include "ordergate/gateway/gateway.hpp"
#include "ordergate/guards/account_risk.hpp"
#include "ordergate/guards/duplicate.hpp"
#include "ordergate/guards/permissions.hpp"
#include "ordergate/guards/rate_limit.hpp"
#include "ordergate/guards/risk.hpp"
#include "ordergate/guards/trading_state.hpp"
#include "daily_loss.hpp"
#include "command_ring.hpp"
#include "metric_cells.hpp"
#include "order_map.hpp"
#include "index_stack.hpp"
#include "trading_day.hpp"

namespace ordergate::detail {

// Sessions open at once, at most (GatewayConfig::max_sessions).
constexpr std::uint32_t kMaxSessionSlots = 4096;

struct QueueTraits : moodycamel::ConcurrentQueueDefaultTraits {
  static const std::size_t BLOCK_SIZE = 64;
  // A producer (session) holds up to 256 blocks without growing its index,
  // which is what keeps try_enqueue free of allocation.
  static const std::size_t EXPLICIT_INITIAL_INDEX_SIZE = 256;
  // By the global operator new, so that what the queue allocates is seen
  // (and can be refused) where the program's allocations are counted.
  static void* malloc(std::size_t size) noexcept { return ::operator new(size, std::nothrow); }
  static void free(void* pointer) noexcept { ::operator delete(pointer); }
};

enum class CommandKind : std::uint8_t { submit, cancel, replace };

// Commands a broker thread takes at most per round.
constexpr std::size_t kDequeueBatch = 64;
// Cancels a session's ring takes beyond its queue budget (cancels are never
// refused by the budget; past this they go by the broker's shared queue).
constexpr std::uint32_t kCancelHeadroom = 64;
// The largest session_queue_budget (a ring of 2^20 cells is 256 MiB).
constexpr std::uint32_t kMaxSessionQueueBudget = std::uint32_t{1} << 20;

// Distinct broker adapters one gateway drives (a session slot has a command
// ring per broker).
constexpr std::size_t kMaxBrokers = 16;
// A record's session_slot when no session gets its reports (an adopted
// order).
constexpr std::uint16_t kNoSessionSlot = 0xFFFF;
// The principal of orders reconciliation found at a broker that no principal
// of this gateway placed (a person, another tool, or an owner not kept):
// they count towards the limits and an operator's cancel-all reaches them.
constexpr PrincipalId kForeignPrincipal = kMaxPrincipals - 1;

// What a broker thread is asked to do with an order. The order itself is in
// its record, written before the command is queued and unchanged while
// `ident` names it, so a command names the order and no more: one line.
struct BrokerCommand {
  CommandKind kind = CommandKind::submit;
  // submit, cancel: the order's id; replace: the replacement's (its record
  // holds the order as amended, and `replaces` the original's id).
  OrderId order_id = 0;
  // replace: the client order id of the order it amends, whose record may
  // serve another order by the time the broker thread reads the command.
  ClientOrderId original_client_order_id;
};
static_assert(sizeof(BrokerCommand) <= kCacheLine, "a command fits one ring cell of one line");

// Commands from other threads than a session's own: an operator's
// cancel-all, a session's cancel when its ring is full.
using CommandQueue = moodycamel::ConcurrentQueue<BrokerCommand, QueueTraits>;
// A session's orders, amends and cancels for one broker (see CommandRing);
// what waits in it is the session's queue budget.
using SessionRing = CommandRing<BrokerCommand>;

// "No order": the end of an order list.
constexpr std::uint32_t kNoOrder = 0xFFFFFFFFu;

// OrderRecord::ident of a record that holds no order (never used, or
// reclaimed); otherwise the order id, with kFinishedBit once it is done.
constexpr std::uint64_t kNoIdent = ~std::uint64_t{0};
constexpr std::uint64_t kFinishedBit = std::uint64_t{1} << 32;

// One cache-line-aligned record per order, so records written by the broker
// thread do not share lines with neighbours being written by strategies.
//
// Records are reused. An order id is (generation << slot bits) | record
// index, so an id names one use of a record. The life of a use:
//  1. submit takes a free record (never used, or from the free stack), writes
//     it, stores `ident` = order id (release) and publishes it;
//  2. the broker thread that owns the order finishes it (or submit refuses
//     it after publishing): `ident` gets kFinishedBit and the record is
//     retired (a lock-free stack);
//  3. reclaim (under OpenOrderLists::mutex) unlinks it from its principal's
//     open-order list, sets `ident` = kNoIdent, and puts it on the free stack
//     unless a hazard (a session's cancel, a broker's position fill reading
//     it right now) names it; then it waits for the next reclaim.
// Readers outside the owning broker thread and the admin side check `ident`
// under a hazard before they read anything else.
struct alignas(kCacheLine) OrderRecord {
  Order order;                       // written once per use, before the order is published
  std::uint16_t session_slot = 0;    // where its reports go; written with `order`
  // Amends (see run_replace). `replacing`: an amend of this order was
  // accepted and the broker has not answered it; `cancel_requested`: a
  // session's cancel of it was accepted. Set by the accepting thread (each
  // refuses when it sees the other: store, fence, load), cleared with the
  // answer or at the next use.
  std::atomic<bool> replacing{false};
  std::atomic<bool> cancel_requested{false};
  std::atomic<std::uint64_t> ident{kNoIdent};
  std::atomic<bool> open{false};     // true until a terminal report
  // Set by the first cancel_orders (cancel-all, halt with cancel) that sends
  // the order a cancel: later ones skip it, so a flood of cancel-alls costs
  // one broker command per order, not one per request.
  std::atomic<bool> bulk_cancel_sent{false};
  Decimal leaves;                    // broker thread only
  std::atomic<std::int64_t> leaves_raw{0};  // copy of `leaves` for readers on other threads
  // Broker thread only. Commands from different producers (a session's
  // submit, an admin cancel-all) may be dequeued in either order; a cancel
  // that arrives before its submit is remembered and applied to it.
  bool dispatched = false;
  bool cancel_pending = false;
  bool listed = false;                  // admin side: linked in its principal's open-order list
  std::uint32_t generation = 0;         // of the next use; written by the thread that took the record
  std::uint32_t index_slot = 0;         // its entry in the duplicate-id index
  // Open-order lists (see OpenOrderLists). `next_published` is written by
  // submit before the record is pushed; the `*_listed` links are the admin
  // side's, under OpenOrderLists::mutex.
  std::uint32_t next_published = kNoOrder;
  std::uint32_t next_listed = kNoOrder;
  std::uint32_t prev_listed = kNoOrder;
  std::uint32_t next_retired = kNoOrder;  // retired stack
  // In a replacement the broker has not confirmed yet: the order id it
  // replaces (kNoOrder otherwise). Set before publication; cleared by the
  // broker thread at REPLACED, after which the record is the order. Until
  // then `leaves` holds what the amend reserved beyond the original.
  std::atomic<std::uint32_t> replaces{kNoOrder};
};
static_assert(alignof(OrderRecord) == kCacheLine && sizeof(OrderRecord) % kCacheLine == 0);
static_assert(sizeof(OrderRecord) == 256, "docs/architecture.md and configuration.md give 256 bytes per record");

// Orders of one principal that submit published since the admin side last
// looked: a lock-free stack of order ids linked through
// OrderRecord::next_published. Submit pushes (one compare-and-swap on a line
// of the principal's own); the admin side takes the whole stack at once.
struct alignas(kCacheLine) PublishedOrders {
  std::atomic<std::uint32_t> head{kNoOrder};
};
static_assert(sizeof(PublishedOrders) == kCacheLine);

// Per principal, the orders that may still be open, doubly linked through
// OrderRecord::next_listed / prev_listed: what listing and cancelling walk
// instead of the order table. Kept by the admin side alone (listing,
// cancel-all, reclaim): each walk first takes the orders submit published
// since; reclaim unlinks each finished order in O(1) before its record is
// reused, so a walk costs the open orders of its principals plus those that
// finished since the last reclaim.
struct OpenOrderLists {
  std::mutex mutex;
  std::uint32_t head[kMaxPrincipals];
  std::atomic<std::uint64_t> visited{0};  // records looked at by all walks, for Counters
};

// What a principal may do. Part of a configuration snapshot: immutable
// after publication except for the GCRA cells inside the limiters.
struct PrincipalState {
  guards::PrincipalPolicy policy;
  guards::GcraLimiter order_limits;
  guards::GcraLimiter cancel_limits;
  guards::GcraLimiter modify_limits;
  std::int64_t session_ttl_ns = 0;
  std::uint32_t max_orders_per_day = 0;  // 0: none
  std::uint32_t max_cancels_per_day = 0;
  bool removed = false;  // dropped from the configuration by a reload
};

// A cluster member's lease of one account window's shared budget (see
// Gateway::share_account_budgets): tokens submit may take without asking
// Redis. Submit takes one (compare-and-swap, never below zero); the
// member's thread adds what Redis grants and takes what is left at a stop.
struct alignas(kCacheLine) BudgetLeaseCell {
  std::atomic<std::int64_t> tokens{0};
};

// 1e-18 units (an account's notional) to a printable nano-unit Decimal,
// rounded away from zero and saturated.
inline Decimal atto_to_decimal(int128 atto) noexcept {
  const int128 magnitude = atto < 0 ? -atto : atto;
  int128 nano = (magnitude + Decimal::kScale - 1) / Decimal::kScale;
  if (nano > std::numeric_limits<std::int64_t>::max()) nano = std::numeric_limits<std::int64_t>::max();
  return Decimal::from_raw(static_cast<std::int64_t>(atto < 0 ? -nano : nano));
}

// A cluster member's lease of an account's exposure limits (see
// Gateway::share_account_exposure): the part of each limit this process may
// use. Written by the member's thread only; read by submit, which checks
// against the smaller of the lease and the limit.
struct alignas(kCacheLine) NotionalLeaseCell {
  std::atomic<std::int64_t> gross{0};  // Decimal raw
  std::atomic<std::int64_t> net{0};
};
struct PositionLeaseCell {
  std::atomic<std::int64_t> position{0};  // Decimal raw
  std::atomic<std::uint32_t> open_orders{0};
};

// Survives reloads: indexed by principal id, which is stable by name.
struct PrincipalControl {
  std::atomic<std::uint32_t> epoch{0};
  std::atomic<bool> enabled{true};
  // Orders accepted and cancels asked for today: the trading day's low 16
  // bits << 48 | count. A count of another day is zero.
  std::atomic<std::uint64_t> orders_today{0};
  std::atomic<std::uint64_t> cancels_today{0};
};

// Everything a reload may replace. Published through an atomic pointer and
// never freed while the engine lives (reloads are rare; a snapshot is small),
// so a submit that loaded the old pointer can finish with it safely.
struct Snapshot {
  InstrumentTable instruments;
  std::vector<std::unique_ptr<PrincipalState>> principals;
  guards::GcraLimiter account_limits;
  guards::GcraLimiter symbol_limits;
};

struct SessionSlot {
  std::atomic<bool> in_use{false};
  SessionId id = 0;  // of the session in the slot; never given to another session
  PrincipalId principal = 0;
  std::uint32_t epoch = 0;
  std::int64_t expires_at_ns = 0;
  moodycamel::ConcurrentQueue<ExecutionReport> events;
  // Single writer (the session's thread); relaxed loads elsewhere.
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> rejected{0};
  // Its command ring for each broker: made when the slot is first opened
  // and kept for the later sessions in it, so a ring a closed session left
  // commands in is still drained. Written only by open_session, which holds
  // the slot; the broker threads find them through Broker::rings.
  std::array<std::unique_ptr<SessionRing>, kMaxBrokers> rings;
  // Session id | principal << 32 of the open session, 0 when none: for
  // other threads (a position fill routed by session id).
  std::atomic<std::uint64_t> live{0};
  // The order record a cancel of this slot's session is reading (kNoOrder:
  // none): reclaim does not reuse it meanwhile.
  std::atomic<std::uint32_t> hazard{kNoOrder};
};

class Engine;

// What a broker's adapter reports to: the engine, knowing which broker
// speaks (a position fill without a parent order is attributed by broker).
class BrokerSink final : public ExecutionSink {
 public:
  BrokerSink(Engine& engine, std::uint16_t broker) noexcept : engine_(engine), broker_(broker) {}
  void on_execution(const ExecutionReport& report) noexcept override;
  void on_position_fill(const ExecutionReport& fill) noexcept override;
  void on_holdings(const Holdings& holdings) noexcept override;

 private:
  Engine& engine_;
  std::uint16_t broker_;
};

struct Broker {
  std::uint16_t index = 0;  // in Engine::brokers_
  std::unique_ptr<BrokerSink> sink;
  std::string name;
  std::unique_ptr<BrokerPort> port;
  std::unique_ptr<QuoteBoard> quotes;
  std::unique_ptr<CommandQueue> queue;
  // The session slots' rings for this broker, by slot (null until the slot
  // is first opened), and how many slots from 0 may have one. The broker
  // thread takes from them in turn, starting one further each round.
  std::unique_ptr<std::atomic<SessionRing*>[]> rings;
  std::atomic<std::uint32_t> ring_slots{0};
  std::uint32_t first_ring = 0;  // broker thread only
  std::thread thread;
  std::atomic<bool> running{false};
  // Started without a thread (GatewayConfig::broker_threads = false): the
  // caller's Gateway::poll runs its rounds until stop().
  bool started = false;
  bool replace_supported = false;  // BrokerPort::supports_replace, asked at construction
  // The order record a position fill on this broker's thread is reading.
  std::atomic<std::uint32_t> hazard{kNoOrder};

  // Reconciliation, broker thread only (owners: loaded at construction).
  std::string client_id_prefix;  // of this run's adapter
  std::unique_ptr<OrderMap> order_map;
  std::unordered_map<std::string, OrderOwner> owners;  // venue client id -> owner, from earlier runs
  std::unordered_map<OrderId, std::string> adopted_venue_ids;  // adopted orders keep their venue id
  std::unordered_map<OrderId, std::string> adopted_broker_ids;  // and their venue order id
  std::string map_lines;           // scratch for one batch
  bool reconciling = false;
  bool map_failed = false;         // reported once
  std::int64_t compacted_hour = -1;  // UTC hour of the last snapshot
  // Periodic position checks (GatewayConfig::reconcile).
  std::int64_t check_interval_ns = 0;
  bool reduce_on_mismatch = false;
  bool checking = false;             // a periodic request is out
  std::int64_t next_check_ns = 0;
  // Differences seen by the last check, and those already reported, by
  // account * instrument count + instrument.
  std::unordered_map<std::uint32_t, std::int64_t> last_difference;
  std::unordered_map<std::uint32_t, std::int64_t> reported_difference;
  std::int64_t retry_at_ns = 0;    // 0: no retry pending
  // Outages (BrokerPort::connected): since when the adapter has had no
  // connection (0: it has one), and whether that closed its accounts.
  std::int64_t after_disconnect_ns = 0;
  std::int64_t down_since_ns = 0;
  std::atomic<bool> connected{true};  // as watch_connection last saw it; for health checks
  bool closed_by_outage = false;
  // A reconciliation after an outage books a position difference only once
  // two answers in a row agree on it: between them the adapter reports
  // what it missed (fills of the orders it follows), which moves the
  // difference, so a stable one is what no report will bring.
  bool resync = false;
  std::uint32_t resync_round = 0;
  std::unordered_map<std::uint32_t, std::int64_t> resync_difference;  // by account * instruments + instrument
  // The loss limits of this broker's accounts (account_limits.cpp).
  std::int64_t next_loss_check_ns = 0;
  std::uint64_t loss_day = 0;  // the trading day its accounts' P&L counts
  std::uint64_t loss_changes_exported = ~std::uint64_t{0};  // DailyLoss::changes summed at the last export
};

struct SessionHandle {
  Engine* engine = nullptr;
  SessionSlot* slot = nullptr;
  std::uint16_t slot_index = 0;
  SessionId id = 0;
  std::array<SessionRing*, kMaxBrokers> rings{};  // the slot's, by broker
  std::vector<moodycamel::ProducerToken> tokens;  // one per broker, for cancels a full ring cannot take
};

class Engine final : public ExecutionSink {
 public:
  Engine(GatewayConfig config, const Clock& clock, AuditSink* audit);
  ~Engine();

  void start();
  void stop() noexcept;
  // Gateway::poll: one round of each broker started without a thread.
  bool poll_brokers() noexcept;
  bool ready() const noexcept {
    for (std::size_t id = 0; id < accounts_.size(); ++id) {
      if (account_closed_[id].load(std::memory_order_acquire) != 0) return false;
    }
    return true;
  }

  Session open_session(std::string_view principal);
  void close_session(SessionHandle& handle) noexcept;

  Verdict submit(SessionHandle& handle, const OrderRequest& request) noexcept;
  // Session::prefetch: the index entry of `client_order_id` and the record
  // the next order takes, asked for with write intent. Changes nothing.
  void prefetch(const SessionHandle& handle, std::string_view client_order_id) const noexcept;
  Verdict cancel(SessionHandle& handle, std::string_view client_order_id) noexcept;
  Verdict replace(SessionHandle& handle, const ReplaceRequest& request) noexcept;
  bool poll(SessionHandle& handle, ExecutionReport& report) noexcept;
  Reason status(const SessionHandle& handle) const noexcept { return authorize(handle, clock_.monotonic_ns()); }

  void on_execution(const ExecutionReport& incoming) noexcept override;
  // Reconciliation's answer from the adapter of `broker` (broker thread):
  // adopts the held orders, books the positions, opens the accounts.
  void adopt_holdings(std::uint16_t broker, const Holdings& holdings) noexcept;
  // A periodic check's answer: positions compared (broker thread).
  void compare_positions(Broker& broker, const Holdings& holdings) noexcept;
  // What `holdings` says each account of `broker` holds, by account *
  // instrument count + instrument, in raw units.
  std::unordered_map<std::uint32_t, std::int64_t> positions_at_broker(const Broker& broker,
                                                                      const Holdings& holdings) const;
  // Books the difference between the broker's positions and the book
  // (reconciliation). After an outage, returns false and asks again while
  // a difference is not yet confirmed by two answers in a row.
  bool book_held_positions(Broker& broker, const Holdings& holdings) noexcept;
  // A fill outside any gateway order, reported by the adapter of `broker`
  // (broker thread): booked into the position once, audited, and sent to
  // the session of the parent order when there is one and it is still open.
  void book_position_fill(std::uint16_t broker, const ExecutionReport& fill) noexcept;

  void set_trading_state(TradingScope scope, guards::TradingState state, bool cancel_working,
                         std::string_view by = {});
  guards::TradingState trading_state(TradingScope scope) const;
  void hold_accounts(bool held) noexcept;
  void set_trading_floor(guards::TradingState floor, std::string_view why);
  void share_account_budgets();
  [[nodiscard]] std::vector<Gateway::BudgetLease> budget_leases() const;
  void grant_budget(AccountId account, std::size_t window, std::int64_t tokens) noexcept;
  std::int64_t take_back_budget(AccountId account, std::size_t window) noexcept;
  void share_principal_budgets();
  void grant_principal_budget(PrincipalId principal, std::size_t window, std::int64_t tokens) noexcept;
  std::int64_t take_back_principal_budget(PrincipalId principal, std::size_t window) noexcept;
  void share_account_exposure();
  [[nodiscard]] std::vector<Gateway::ExposureLease> exposure_leases() const;
  void grant_exposure(AccountId account, Gateway::ExposureLimit limit, InstrumentId instrument,
                      Decimal amount) noexcept;
  bool shrink_exposure(AccountId account, Gateway::ExposureLimit limit, InstrumentId instrument,
                       Decimal target) noexcept;
  ControlState control_state() const;
  void revoke_sessions(std::string_view principal, std::string_view by = {});
  void set_principal_enabled(std::string_view principal, bool enabled, std::string_view by = {});
  // The audit actor `by` names (kNoActor: none or not a principal).
  [[nodiscard]] PrincipalId actor_of(std::string_view by) const noexcept;
  guards::ExposureBook::Snapshot exposure(std::string_view account, std::string_view symbol) const;
  Gateway::AccountRisk account_risk(std::string_view name) const;
  [[nodiscard]] std::int64_t trading_day() const noexcept {
    return static_cast<std::int64_t>(today_.load(std::memory_order_relaxed));
  }
  Gateway::Counters counters() const noexcept;
  bool poll_drop_copy(Gateway::DropCopyReport& out) noexcept;
  std::vector<Gateway::BrokerStatus> broker_status() const;
  std::vector<Gateway::BrokerTransport> broker_transports() const;
  std::uint64_t drop_copy_lost() const noexcept { return drop_copy_lost_.load(std::memory_order_relaxed); }
  GatewayMetrics metrics() const;
  std::vector<OpenOrder> open_orders(std::string_view principal) const;
  std::size_t cancel_orders(const CancelFilter& filter);
  bool has_permission(PrincipalId principal, guards::Permission permission) const noexcept;
  bool allows_account(PrincipalId principal, AccountId account) const noexcept;
  std::optional<PrincipalId> find_principal(std::string_view name) const noexcept;
  bool principal_enabled(PrincipalId principal) const noexcept;
  std::string_view principal_name(PrincipalId id) const noexcept;
  std::size_t principal_count() const noexcept { return current().principals.size(); }

  const InstrumentTable& instruments() const noexcept { return current().instruments; }
  void reload(const GatewayConfig& config);
  const AccountTable& accounts() const noexcept { return accounts_; }

 private:
  Reason authorize(const SessionHandle& handle, std::int64_t now_ns) const noexcept;
  // The duplicate-index key of `client_order_id` for the session's
  // principal, its entry asked for with write intent, so that its cache miss
  // overlaps the guards. 0, and nothing asked for, when there is no session
  // or the id is longer than any valid one (validation refuses it unhashed).
  // The third id of a numbered group of four also asks for the next
  // group's line, which the order after next needs if the strategy counts
  // on.
  std::uint64_t ask_for_index_entry(const SessionHandle& handle, std::string_view client_order_id) const noexcept {
    if (handle.slot == nullptr || client_order_id.size() > kMaxClientOrderIdLength) return 0;
    std::uint64_t ahead = 0;
    const std::uint64_t key = guards::ClientOrderIdIndex::key(handle.slot->principal, client_order_id, ahead);
    order_index_.prefetch(key);
    if (ahead != 0) order_index_.prefetch(ahead);
    return key;
  }
  // submit and cancel behind the metrics: `now_ns` is the submit's one
  // clock read; `account` is set once the request's account is known.
  // `key`: the id's duplicate-index key, which submit computes for every id
  // of a valid length (0 for a longer one, which validation refuses before
  // the key is used).
  Verdict run_submit(SessionHandle& handle, const OrderRequest& request, std::int64_t now_ns, std::uint64_t key,
                     std::uint32_t& account) noexcept;
  Verdict run_cancel(SessionHandle& handle, std::string_view client_order_id, std::uint32_t& account) noexcept;
  Verdict run_replace(SessionHandle& handle, const ReplaceRequest& request, std::int64_t now_ns,
                      std::uint32_t& account) noexcept;
  // Broker thread (amend.cpp): the replace command's dispatch, and the
  // broker's answer on the replacement record `index`.
  void dispatch_replace(Broker& broker, const BrokerCommand& command) noexcept;
  void confirm_replace(std::uint32_t index, const ExecutionReport& incoming) noexcept;
  void refuse_replace(std::uint32_t index, const ExecutionReport& incoming, std::string_view why) noexcept;
  // Audits `report` of `order`, counts it and hands it to the session in
  // `session_slot` and the drop copy (broker thread).
  void deliver(const Order& order, std::uint16_t session_slot, const ExecutionReport& report) noexcept;
  // Records the refusal in `reservation` when given (it must then be one
  // that succeeded), else as a new record.
  Verdict reject(SessionHandle& handle, const Order* order, Reason reason, std::int64_t retry_after_ns = 0,
                 const AuditReservation* reservation = nullptr) noexcept;
  PrincipalId principal_id(std::string_view name) const;
  Snapshot& current() const noexcept { return *snapshot_.load(std::memory_order_acquire); }
  std::unique_ptr<Snapshot> build_snapshot(const GatewayConfig& config, const Snapshot* previous) const;
  AccountId account_id(std::string_view name) const;
  void run_broker(Broker& broker, std::promise<void>& started) noexcept;
  // What a broker does on its thread, in parts: start the adapter and ask
  // what the broker holds (throws what the adapter's start throws); one
  // round of its loop (the gateway's timers, the queued commands, the
  // adapter's I/O, reclaim), with room for kDequeueBatch commands at
  // `batch`. `drained`: stopped and nothing was left to send.
  enum class Round : std::uint8_t { idle, worked, drained };
  void start_broker(Broker& broker);
  Round broker_round(Broker& broker, BrokerCommand* batch) noexcept;
  // Without broker threads: held by the one thread running brokers' rounds
  // (poll_brokers, and start and stop while they change a broker's
  // `started`). take_polling waits for it.
  std::atomic<bool> polling_{false};
  void take_polling() noexcept;
  void dispatch(Broker& broker, const BrokerCommand& command) noexcept;
  std::uint64_t audit(AuditEventType type, const Order& order, Reason reason,
                      const AuditReservation* reservation = nullptr) noexcept;
  // Links the records submit published for `principal` since the last
  // call into its open-order list. Requires open_lists_->mutex.
  void link_published(PrincipalId principal) const;
  // Appends the record indexes of the open orders of `principal` to `ids`
  // (unsorted). Requires open_lists_->mutex.
  void collect_open_orders(PrincipalId principal, std::vector<std::uint32_t>& ids) const;
  // Record indexes of the open orders of `principal`, or of every
  // principal, in acceptance order. Requires open_lists_->mutex, which
  // keeps the records from being reused while the caller reads them.
  std::vector<std::uint32_t> open_order_ids(std::optional<PrincipalId> principal) const;
  // Takes a free order record: a never-used one, else one from the free
  // ring. Hot path: no lock, no syscall.
  bool take_record(std::uint32_t& index) noexcept;
  // The id of the next use of record `index` (one the caller just took).
  OrderId next_order_id(std::uint32_t index) noexcept;
  // How a use of a record starts (see publish_record).
  struct RecordStart {
    std::uint16_t session_slot = kNoSessionSlot;  // where its reports go; none for an adopted order
    std::uint32_t index_slot = 0xFFFFFFFFu;    // its duplicate-id entry; none if it has no id there
    Decimal leaves;                            // the broker thread's, handed over by the queue
    std::int64_t leaves_raw = 0;               // what other threads read until the broker reports
    bool dispatched = false;                   // already at the broker (an adopted order)
    OrderId replaces = kNoOrder;               // the order it replaces, until REPLACED
  };
  // Starts a use of record `index`, which the caller took and still owns:
  // writes `order` and `start`, makes the record open under `order.order_id`
  // (release) and pushes it on its principal's published stack, where
  // listing and cancel-all find it. Hot path: no lock, no syscall.
  void publish_record(std::uint32_t index, const Order& order, const RecordStart& start) noexcept {
    OrderRecord& record = records_[index];
    record.order = order;
    record.session_slot = start.session_slot;
    record.index_slot = start.index_slot;
    record.leaves = start.leaves;
    record.leaves_raw.store(start.leaves_raw, std::memory_order_relaxed);
    record.dispatched = start.dispatched;
    record.cancel_pending = false;
    record.bulk_cancel_sent.store(false, std::memory_order_relaxed);
    record.replacing.store(false, std::memory_order_relaxed);
    record.cancel_requested.store(false, std::memory_order_relaxed);
    record.replaces.store(start.replaces, std::memory_order_relaxed);
    record.open.store(true, std::memory_order_relaxed);
    record.ident.store(order.order_id, std::memory_order_release);
    std::atomic<std::uint32_t>& published = published_[order.principal_id].head;
    std::uint32_t head = published.load(std::memory_order_relaxed);
    do {
      record.next_published = head;
    } while (!published.compare_exchange_weak(head, index, std::memory_order_release, std::memory_order_relaxed));
  }
  // Shared account budgets: takes one token of each of `windows` lease
  // cells of `account`, all or none; on none, `retry_after_ns` is the
  // emission interval of the first empty window. Hot path: lock-free.
  // `cells` are the account's (leases_) or the principal's
  // (principal_leases_), four per owner.
  static bool take_leases(BudgetLeaseCell* cells, const std::vector<guards::RateWindow>& windows,
                          std::int64_t& retry_after_ns) noexcept;
  static void give_back_leases(BudgetLeaseCell* cells, std::size_t windows) noexcept;
  [[nodiscard]] BudgetLeaseCell* account_lease_cells(AccountId account) const noexcept;
  [[nodiscard]] BudgetLeaseCell* principal_lease_cells(PrincipalId principal) const noexcept;
  // Hands a finished (or refused after publishing) record to reclaim.
  void retire(std::uint32_t index) noexcept;
  // Returns retired records to the free stack (see OrderRecord). Requires
  // open_lists_->mutex.
  void reclaim() noexcept;
  // Reclaims if records are waiting and no one holds the admin lock; called
  // by broker threads between batches.
  void try_reclaim(bool idle) noexcept;
  [[nodiscard]] std::uint32_t record_of(OrderId id) const noexcept { return id & record_mask_; }
  // Asks the broker what it holds, or opens its accounts at once when the
  // adapter cannot say (broker thread).
  void begin_reconcile(Broker& broker) noexcept;
  void set_accounts_ready(std::uint16_t broker, std::string_view fields) noexcept;
  // Broker 0's thread, once a second: moves `today_` on when the trading
  // day rolled.
  void roll_trading_day() noexcept;
  // The daily limits' counts across restarts (daily_counts.cpp): restored at
  // construction, checkpointed by their own thread while the engine runs.
  void restore_daily_counts();
  void run_checkpoints() noexcept;
  // `force`: written even when unchanged (the first, unclean one at start,
  // so a crash before the next is known as one).
  void checkpoint_daily_counts(bool clean, bool force = false) noexcept;
  // Account limits (account_limits.cpp): the day's P&L of the broker's
  // accounts and the switches of their loss limits; broker thread.
  void check_daily_loss(Broker& broker) noexcept;
  // Hands the broker's accounts' loss figures to the checkpoint thread when
  // they changed (loss_exports_).
  void export_daily_loss(Broker& broker) noexcept;
  void switch_for_loss(const Account& account, guards::TradingState target, int128 loss, int128 forgiven) noexcept;
  // The reason a refusal by the trading state gives: DAILY_LOSS_LIMIT when
  // the account's own state is the one its loss limits set.
  [[nodiscard]] Reason state_refusal(AccountId account, guards::TradingState state, Reason reason) const noexcept;
  // The account-wide part of step 4: notional limits, then the reservation.
  // `more`: an amend's additional quantity (no open-order slot).
  [[nodiscard]] Reason reserve_exposure(const Order& order, const Instrument& instrument, const QuoteBoard& quotes,
                                        std::int64_t now_ns, bool more = false) noexcept;
  // Takes one of `limit` from a daily count (false: used up today); gives
  // one back when the order is refused after all. Hot path: one CAS.
  bool take_daily(std::atomic<std::uint64_t>& count, std::uint32_t limit) noexcept;
  void give_back_daily(std::atomic<std::uint64_t>& count) noexcept;
  // Follows the adapter's connection: closes the broker's accounts after an
  // outage longer than its `after_disconnect_ns`, reconciles them again
  // when it is back (broker thread).
  void watch_connection(Broker& broker) noexcept;
  // The venue client ids and venue order ids of the orders the gateway
  // follows at `broker` (working), so a reconciliation never adopts one
  // twice (broker thread; takes open_lists_->mutex).
  void tracked_at_broker(Broker& broker, std::unordered_set<std::string>& venue_client_ids,
                         std::unordered_set<std::string>& broker_order_ids);
  // Writes the owners of the orders in `batch` to the broker's order map
  // before the adapter sees them; compacts the map when its log is long.
  void record_owners(Broker& broker, const BrokerCommand* batch, std::size_t count) noexcept;
  void compact_owners(Broker& broker, std::uint16_t broker_index) noexcept;
  void emit(std::string_view level, std::string_view event, std::string_view fields) const noexcept;
  // Fills `batch` (kDequeueBatch at most) from the broker's shared queue and
  // its session rings; returns how many it took (broker thread).
  std::size_t take_commands(Broker& broker, BrokerCommand* batch) noexcept;
  // Applies what `control_` says to the principals of the current snapshot
  // (at construction, and for principals a reload adds).
  void apply_control_to_principals();
  // Writes `next` to the state file when one is configured. Requires
  // control_mutex_. Throws ControlStateError (with `applied`).
  void save_control(const ControlState& next, bool applied) const;

  GatewayConfig config_;
  const Clock& clock_;
  NullAuditSink null_audit_;
  AuditSink& audit_;
  bool auditing_;  // false: no sink, so no record is built on the hot path

  AccountTable accounts_;
  std::atomic<Snapshot*> snapshot_{nullptr};
  std::vector<std::unique_ptr<Snapshot>> snapshots_;  // every snapshot ever published
  std::unique_ptr<PrincipalControl[]> controls_;
  std::vector<std::unique_ptr<Broker>> brokers_;
  std::vector<std::uint16_t> broker_of_account_;
  // Per account: why it may not trade, as bits; 0 when it may. One load
  // per submit; written once per reconciliation, outage or hold.
  static constexpr std::uint8_t kNotReconciled = 1;  // not reconciled with its broker yet
  static constexpr std::uint8_t kHeld = 2;           // hold_accounts (a cluster member before it read the shared state)
  std::unique_ptr<std::atomic<std::uint8_t>[]> account_closed_;
  // Shared account budgets (share_account_budgets): four lease cells (the
  // most windows a scope has) per account; null when off: no tokens taken.
  std::unique_ptr<BudgetLeaseCell[]> leases_;
  // Shared principal budgets (share_principal_budgets): four cells per
  // principal id, as leases_.
  std::unique_ptr<BudgetLeaseCell[]> principal_leases_;
  // Shared exposure (share_account_exposure): by account, and by account and
  // instrument as the exposure book is laid out.
  std::unique_ptr<NotionalLeaseCell[]> notional_leases_;
  std::unique_ptr<PositionLeaseCell[]> position_leases_;
  // The limits an order of `account` in `instrument` is checked against: the
  // instrument's and account's own, or this process's lease of them.
  [[nodiscard]] guards::PositionLimits position_limits(AccountId account, const Instrument& instrument) const noexcept;
  [[nodiscard]] guards::NotionalLimits notional_limits(const Account& account) const noexcept;
  // The part of `limit` the orders and positions of this process use now
  // (false: not known, a notional without a usable quote).
  bool exposure_used(AccountId account, Gateway::ExposureLimit limit, InstrumentId instrument,
                     Decimal& used) const noexcept;
  struct LeaseRef;
  [[nodiscard]] LeaseRef lease_ref(AccountId account, Gateway::ExposureLimit limit,
                                   InstrumentId instrument) const noexcept;
  // Per account: cancels sent by cancel_orders (cancel-all, a halt with
  // cancel_orders, a session's cancel on disconnect), for the metrics.
  std::unique_ptr<std::atomic<std::uint64_t>[]> bulk_cancels_;
  // The trading day of the daily limits; broker 0's thread rolls `today_`.
  std::unique_ptr<TradingDay> trading_day_;
  std::atomic<std::uint64_t> today_{0};
  std::int64_t next_day_check_ns_ = 0;

  // The operator's decisions by name, as in the state file. Admin changes
  // are serialised by control_mutex_, so the file always holds the latest.
  mutable std::mutex control_mutex_;
  ControlState control_;
  // set_trading_floor: the global state in effect is the stricter of
  // control_.global and this. Requires control_mutex_.
  guards::TradingState floor_ = guards::TradingState::active;
  guards::KillSwitch kill_switch_;
  guards::ExposureBook exposure_;
  guards::AccountValuation valuation_;
  std::unique_ptr<DailyLoss> daily_loss_;
  guards::ClientOrderIdIndex order_index_;
  LargeArray<OrderRecord> records_;
  std::uint32_t record_bits_ = 0;   // order id = generation << record_bits_ | record index
  std::uint32_t record_mask_ = 0;
  // Written by submit for every order until each record has been used
  // once: on a line of its own, since the broker threads read the fields
  // around it for every report, and a write to a line they share would
  // bring it back to the submitting core for every order (docs/benchmarks.md,
  // cache lines).
  alignas(kCacheLine) std::atomic<std::uint32_t> fresh_records_{0};  // records [0, this) have been used
  IndexStack free_records_;
  // Written by the broker threads for every order (retire, and a count of
  // every execution report), so kept off the lines of the members `submit`
  // reads for every order: a write there would bring such a line back to
  // the submitting core once per order (docs/benchmarks.md, cache lines).
  alignas(kCacheLine) std::atomic<std::uint32_t> retired_head_{kNoOrder};
  std::atomic<std::uint32_t> retired_count_{0};
  std::atomic<std::uint64_t> reclaimed_{0};
  std::atomic<std::uint64_t> executions_{0};
  // Drop copy (config_.drop_copy_capacity > 0): written by broker threads.
  struct DropCopyEntry {
    ExecutionReport report;
    PrincipalId principal = 0;
    bool has_principal = false;
  };
  void drop_copy(const ExecutionReport& report, PrincipalId principal, bool has_principal) noexcept;
  std::unique_ptr<moodycamel::ConcurrentQueue<DropCopyEntry>> drop_copy_;
  std::atomic<std::uint64_t> drop_copy_lost_{0};
  std::uint32_t reclaim_batch_ = 1;  // retired records that make a busy broker thread reclaim
  std::vector<std::uint32_t> hazards_;  // reclaim's scratch, under open_lists_->mutex
  // From here on, read by `submit` for every order (published_, the queue
  // budget, the session slots, the metric cells) and written at most at a
  // session's open or close.
  alignas(kCacheLine) std::unique_ptr<PublishedOrders[]> published_;  // by principal id
  std::unique_ptr<OpenOrderLists> open_lists_;
  std::uint32_t session_queue_budget_ = 0;
  std::unique_ptr<SessionSlot[]> sessions_;
  // Session ids are handed out once per process: a report or a cancel-all
  // that names a session can never reach a later one.
  std::atomic<std::uint64_t> next_session_id_{1};
  MetricCells metric_cells_;  // GatewayConfig::metrics
  std::atomic<bool> accepting_{false};
  bool started_ = false;
  // Daily counts checkpoints (empty path: no state file, none kept).
  std::filesystem::path daily_path_;
  std::thread checkpoint_thread_;
  std::mutex checkpoint_mutex_;
  std::condition_variable checkpoint_wake_;
  bool checkpoint_stop_ = false;
  DailyCounts last_checkpoint_;       // checkpoint thread only (then stop)
  // Each broker thread's latest DailyCounts::accounts and lines of its
  // accounts, by broker index.
  std::mutex loss_export_mutex_;
  std::vector<DailyCounts> loss_exports_;
  bool checkpoint_failing_ = false;   // reported once per run of failures
};

}  // namespace ordergate::detail
