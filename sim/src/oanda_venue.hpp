#pragma once

/// \file
/// The OANDA v20 REST subset the gateway's adapter uses: orders (create,
/// cancel, replace, query, pending list), open positions, pricing, the transaction
/// stream, transaction polling and the account summary. Accounts keep monotonic transaction ids,
/// pending orders, netted positions and a balance used for a margin check.
/// See docs/simulator.md for what is simplified.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <simdjson.h>

#include "http_types.hpp"
#include "json_writer.hpp"
#include "market.hpp"
#include "ordergate/security/secret.hpp"
#include "sim_context.hpp"

namespace ordergate::sim {

struct OandaConfig {
  std::vector<std::string> accounts = {"101-001-0000000-001"};
  Decimal balance = Decimal::from_integer(100'000);  ///< USD, per account
  Decimal margin_rate = Decimal::from_raw(20'000'000);  ///< 0.02 = 50:1
  std::int64_t heartbeat_ms = 5'000;
  /// Requests per second per connection before 429 (0 = unlimited).
  std::int64_t requests_per_second = 100;
  /// Real OANDA finds only PENDING orders by `@clientID`; set to also find
  /// filled and cancelled ones.
  bool lookup_finished_by_client_id = false;
};

class OandaVenue {
 public:
  OandaVenue(OandaConfig config, security::Secret token, PriceBoard& board, FaultInjector& faults, Stats& stats,
             const Logger& log);

  /// Handles any request whose path starts with /v3/.
  [[nodiscard]] HttpResponse handle(const HttpRequest& request);

  /// Periodic work: GTD expiry and stream heartbeats.
  void on_timer(std::int64_t now_ns);

  /// Admin view: every order the venue created (any state), as JSON array
  /// elements, optionally only those with `client_id`.
  void write_orders(JsonWriter& out, const std::string& client_id) const;
  [[nodiscard]] std::size_t order_count(const std::string& client_id) const;

 private:
  enum class OrderState { pending, filled, cancelled };

  struct Order {
    std::uint64_t id = 0;
    std::string type;  ///< MARKET, LIMIT, STOP
    std::string instrument;
    Decimal units;  ///< signed: positive buys
    std::optional<Decimal> price;
    std::optional<Decimal> price_bound;
    std::string time_in_force;
    std::string position_fill;
    std::string trigger_condition;
    std::string gtd_time;  ///< as sent
    std::int64_t gtd_ns = 0;
    std::string client_id;
    std::string client_tag;
    std::string client_comment;
    std::optional<Decimal> stop_loss;
    std::optional<Decimal> take_profit;
    OrderState state = OrderState::pending;
    std::string create_time;
    std::uint64_t filling_transaction = 0;
    std::uint64_t cancelling_transaction = 0;
    std::string filled_time;
    std::string cancelled_time;
    std::uint64_t trade_id = 0;  ///< STOP_LOSS / TAKE_PROFIT: the trade it closes
    std::uint64_t replaces = 0;     ///< a replacement: the order it replaced
    std::uint64_t replaced_by = 0;  ///< cancelled by a replace: the replacement
  };

  /// An open trade (OANDA nets positions but keeps trades, closed FIFO).
  struct Trade {
    std::uint64_t id = 0;  ///< the id of the fill that opened it
    std::string instrument;
    Decimal units;  ///< signed, still open
    Decimal price;
    std::uint64_t stop_loss_order = 0;
    std::uint64_t take_profit_order = 0;
  };

  struct StreamClient {
    std::weak_ptr<StreamSink> sink;
    std::int64_t next_heartbeat_ns = 0;
  };

  struct Account {
    std::string id;
    std::int64_t user_id = 0;
    std::string created_time;
    std::vector<std::string> transactions;  ///< serialized; id N at index N-1
    std::map<std::uint64_t, Order> orders;
    std::set<std::uint64_t> pending;  ///< ids of pending orders (kept small)
    std::unordered_map<std::string, std::vector<std::uint64_t>> by_client_id;
    std::map<std::string, Decimal> positions;  ///< net units per instrument
    std::map<std::uint64_t, Trade> trades;     ///< open trades by id (FIFO order)
    Decimal balance;
    std::vector<StreamClient> streams;
  };

  /// Transactions created while serving one request (one batch).
  struct Batch {
    std::string request_id;
    std::uint64_t batch_id = 0;
    std::vector<std::uint64_t> ids;
    std::string create;  ///< serialized transactions by role, for the reply
    std::string fill;
    std::string cancel;
  };

  struct RejectInfo {
    std::string reason;
    std::string message;
  };

  HttpResponse route(const HttpRequest& request, Account& account, const std::vector<std::string>& rest);
  /// Reads `{"order":{...}}`: a parameter error (no transaction) is
  /// returned as its response; the first problem worth a reject transaction
  /// goes to `reject`. `replacing`: the order a replacement replaces (its
  /// client id may be reused), else 0.
  std::optional<HttpResponse> read_order(const HttpRequest& request, const Account& account, Order& order,
                                         const Instrument*& instrument, std::optional<RejectInfo>& reject,
                                         std::uint64_t replacing);
  /// 400 with the `<TYPE>_ORDER_REJECT` (naming `replaces` when not 0), and
  /// `cancel_text` as orderCancelTransaction when not empty.
  HttpResponse reject_order(Account& account, Batch& batch, const Order& order, const Instrument* instrument,
                            const RejectInfo& reject, std::uint64_t replaces, const std::string& cancel_text);
  HttpResponse create_order(const HttpRequest& request, Account& account);
  HttpResponse replace_order(const HttpRequest& request, Account& account, const std::string& specifier);
  HttpResponse cancel_order(Account& account, const std::string& specifier);
  /// 404 ORDER_DOESNT_EXIST with an orderCancelRejectTransaction.
  HttpResponse cancel_reject(Account& account, const std::string& specifier);
  HttpResponse get_order(Account& account, const std::string& specifier);
  HttpResponse list_pending(Account& account);
  HttpResponse open_positions(Account& account);
  HttpResponse pricing(const HttpRequest& request);
  HttpResponse transactions_since(const HttpRequest& request, Account& account);
  HttpResponse transaction_by_id(Account& account, const std::string& id_text);
  HttpResponse summary(Account& account);
  HttpResponse open_stream(Account& account);

  /// Fills, cancels or leaves resting a just-created order.
  void execute_new_order(Account& account, Order& order, const Instrument& instrument, Batch& batch);
  /// Checks margin and protective prices, then books the fill; otherwise
  /// cancels with the reason. `units` may be a part of the order (IOC).
  void fill_order(Account& account, Order& order, const Instrument& instrument, Decimal price, Decimal units,
                  const std::string& fill_reason, Batch& batch, bool complete);
  /// `replaced_by`: the replacement's id (a cancel for a replace), else 0.
  void cancel(Account& account, Order& order, const std::string& reason, Batch& batch, std::uint64_t replaced_by = 0);
  /// Books `units` of `order` at `price`: closes or reduces the opposite
  /// trades first (FIFO), opens a trade with the rest, and writes the
  /// ORDER_FILL. Returns its id; `opened` is the trade it opened (0: none).
  std::uint64_t book_fill(Account& account, const Order& order, const Instrument& instrument, Decimal price,
                          Decimal units, const std::string& fill_reason, Batch& batch, std::uint64_t& opened);
  /// A trade closed: its stop loss and take profit are cancelled.
  void close_trade(Account& account, std::uint64_t trade_id, Batch& batch);
  /// Stop loss and take profit orders whose level the quote crossed fill.
  void trigger_dependents(Account& account, const Instrument& instrument);
  void on_price(const Instrument& instrument);
  void expire_orders(Account& account, std::int64_t now_ns);

  [[nodiscard]] std::optional<std::string> margin_problem(const Account& account, const Order& order,
                                                         const Instrument& instrument, Decimal price,
                                                         Decimal units) const;
  [[nodiscard]] Order* find_order(Account& account, const std::string& specifier, bool pending_only_by_client);

  /// Starts a transaction: common fields written, object still open.
  JsonWriter begin_transaction(Account& account, Batch& batch, const char* type, std::uint64_t& id);
  void commit_transaction(Account& account, Batch& batch, std::uint64_t id, JsonWriter& writer,
                          std::string* role);
  void write_order_fields(JsonWriter& out, const Order& order, const Instrument* instrument) const;
  void write_order(JsonWriter& out, const Order& order) const;
  [[nodiscard]] std::string format_price(const Instrument* instrument, Decimal price) const;

  HttpResponse reply(int status, std::string body);
  HttpResponse error(int status, const std::string& message, const std::string& code = {});
  [[nodiscard]] Batch new_batch();
  [[nodiscard]] std::string last_id(const Account& account) const;

  OandaConfig config_;
  security::Secret token_;
  PriceBoard& board_;
  FaultInjector& faults_;
  Stats& stats_;
  const Logger& log_;
  std::map<std::string, Account> accounts_;
  std::uint64_t next_request_id_ = 1;
  /// Per-connection request counts in the current one-second window.
  std::map<std::uint64_t, std::pair<std::int64_t, std::int64_t>> connection_rate_;
  simdjson::dom::parser parser_;
};

}  // namespace ordergate::sim
