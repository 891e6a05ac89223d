#pragma once

// Internal: the engine behind Gateway and Session. Not installed.

#include <concurrentqueue/concurrentqueue.h>

#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ordergate/adapters/paper/paper_broker.hpp"
#include "ordergate/gateway/gateway.hpp"
#include "ordergate/guards/duplicate.hpp"
#include "ordergate/guards/permissions.hpp"
#include "ordergate/guards/rate_limit.hpp"
#include "ordergate/guards/risk.hpp"
#include "ordergate/guards/trading_state.hpp"

namespace ordergate::detail {

struct QueueTraits : moodycamel::ConcurrentQueueDefaultTraits {
  static const std::size_t BLOCK_SIZE = 64;
  // A producer (session) holds up to 256 blocks without growing its index,
  // which is what keeps try_enqueue free of allocation.
  static const std::size_t EXPLICIT_INITIAL_INDEX_SIZE = 256;
};

enum class CommandKind : std::uint8_t { submit, cancel, set_quote };

struct BrokerCommand {
  CommandKind kind = CommandKind::submit;
  Order order;  // for cancel: ids and client order id only
  Decimal bid;  // set_quote only
  Decimal ask;
};

using CommandQueue = moodycamel::ConcurrentQueue<BrokerCommand, QueueTraits>;

struct OrderRecord {
  Order order;                       // written once, before the order is published
  std::atomic<bool> open{false};     // true until a terminal report
  Decimal leaves;                    // broker thread only
  bool finished = false;             // broker thread only
};

struct PrincipalState {
  guards::PrincipalPolicy policy;
  guards::GcraLimiter order_limits;
  guards::GcraLimiter cancel_limits;
  std::int64_t session_ttl_ns = 0;
  std::atomic<std::uint32_t> epoch{0};
  std::atomic<bool> enabled{true};
};

struct SessionSlot {
  std::atomic<bool> in_use{false};
  SessionId id = 0;  // current id (slot index + generation)
  std::uint32_t generation = 0;
  PrincipalId principal = 0;
  std::uint32_t epoch = 0;
  std::int64_t expires_at_ns = 0;
  moodycamel::ConcurrentQueue<ExecutionReport> events;
  // Single writer (the session's thread); relaxed loads elsewhere.
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> rejected{0};
};

struct Broker {
  std::string name;
  std::unique_ptr<BrokerPort> port;
  adapters::PaperBroker* paper = nullptr;
  std::unique_ptr<QuoteBoard> quotes;
  std::unique_ptr<CommandQueue> queue;
  std::thread thread;
  std::atomic<bool> running{false};
};

struct SessionHandle {
  Engine* engine = nullptr;
  SessionSlot* slot = nullptr;
  SessionId id = 0;
  std::vector<moodycamel::ProducerToken> tokens;  // one per broker
};

class Engine final : public ExecutionSink {
 public:
  Engine(GatewayConfig config, const Clock& clock, AuditSink* audit);
  ~Engine();

  void start();
  void stop() noexcept;

  Session open_session(std::string_view principal);
  void close_session(SessionHandle& handle) noexcept;

  Verdict submit(SessionHandle& handle, const OrderRequest& request) noexcept;
  Verdict cancel(SessionHandle& handle, std::string_view client_order_id) noexcept;
  bool poll(SessionHandle& handle, ExecutionReport& report) noexcept;

  void on_execution(const ExecutionReport& report) noexcept override;

  void set_trading_state(TradingScope scope, guards::TradingState state, bool cancel_working);
  guards::TradingState trading_state(TradingScope scope) const;
  void revoke_sessions(std::string_view principal);
  void set_principal_enabled(std::string_view principal, bool enabled);
  guards::ExposureBook::Snapshot exposure(std::string_view account, std::string_view symbol) const;
  void set_paper_quote(std::string_view account, std::string_view symbol, Decimal bid, Decimal ask);
  Gateway::Counters counters() const noexcept;

  const InstrumentTable& instruments() const noexcept { return instruments_; }
  const AccountTable& accounts() const noexcept { return accounts_; }

 private:
  Reason authorize(const SessionHandle& handle, std::int64_t now_ns) const noexcept;
  Verdict reject(SessionHandle& handle, const Order* order, Reason reason,
                 std::int64_t retry_after_ns = 0) noexcept;
  PrincipalId principal_id(std::string_view name) const;
  AccountId account_id(std::string_view name) const;
  void run_broker(Broker& broker, std::promise<void>& started) noexcept;
  void dispatch(Broker& broker, const BrokerCommand& command) noexcept;
  std::uint64_t audit(AuditEventType type, const Order& order, Reason reason) noexcept;

  GatewayConfig config_;
  const Clock& clock_;
  NullAuditSink null_audit_;
  AuditSink& audit_;

  InstrumentTable instruments_;
  AccountTable accounts_;
  std::vector<std::unique_ptr<PrincipalState>> principals_;
  std::vector<std::unique_ptr<Broker>> brokers_;
  std::vector<std::uint16_t> broker_of_account_;

  guards::KillSwitch kill_switch_;
  guards::ExposureBook exposure_;
  guards::GcraLimiter account_limits_;
  guards::GcraLimiter symbol_limits_;
  guards::ClientOrderIdIndex order_index_;
  std::unique_ptr<OrderRecord[]> records_;
  std::atomic<std::uint32_t> next_order_id_{0};
  std::unique_ptr<SessionSlot[]> sessions_;
  std::atomic<std::uint64_t> executions_{0};
  std::atomic<bool> accepting_{false};
  bool started_ = false;
};

}  // namespace ordergate::detail
