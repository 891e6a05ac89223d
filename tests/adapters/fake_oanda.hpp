#pragma once

// A scripted OANDA v20 account behind the test HTTPS server, and how the
// shared REST broker tests (rest_broker_test_support.hpp) drive the OANDA
// adapter against it.

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "adapters/rest_broker_test_support.hpp"
#include "adapters/tls_test_support.hpp"
#include "ordergate/adapters/oanda/oanda_broker.hpp"

namespace ordergate::adapters::oanda::testing {

using ordergate::testing::TestReply;
using ordergate::testing::TestRequest;

inline constexpr const char* kToken = "canary-oanda-token-5f1e";
inline constexpr const char* kAccount = "101-001-1234567-001";

/// A scripted OANDA: what happens to an order depends on the prefix of its
/// label (fill-, rest-, slow-, reject-, auth-, limit-, lost-), or on what
/// `script_next_order` set, and every order it places is kept as
/// transactions for `transactions/sinceid`. Orders are kept by the client id
/// the adapter sent (its venue client id); a test names an order by its
/// label (the strategy's id, see `label`) or by that venue client id.
class FakeOanda {
 public:
  /// The order the adapter sends as `venue_id` is the strategy's `label`
  /// (unknown ids are their own label).
  void label(const std::string& venue_id, const std::string& label) {
    std::lock_guard lock(mutex_);
    labels_[venue_id] = label;
  }
  /// The next order placed behaves as `behaviour` (a label prefix;
  /// "unplaced": a 500 and nothing placed; "rejectlost": rejected with a
  /// reject transaction, and a 500 reply), whatever its label.
  void script_next_order(const std::string& behaviour) {
    std::lock_guard lock(mutex_);
    next_behaviour_ = behaviour;
  }
  /// Adds a fill that names the order `venue_id` by its client id but
  /// carries another order's id.
  void misreport(const std::string& venue_id) {
    std::lock_guard lock(mutex_);
    misreport_id_ = add(R"("type":"ORDER_FILL","orderID":"9999","clientOrderID":")" + venue_id +
                        R"(","units":"1000","fullVWAP":"1.08000")");
  }
  /// True once a transactions page has carried the `misreport` fill.
  bool misreport_served() {
    std::lock_guard lock(mutex_);
    return misreport_served_;
  }
  bool resting(const std::string& venue_id) {
    std::lock_guard lock(mutex_);
    return resting_.count(venue_id) != 0;
  }

  TestReply handle(const TestRequest& request) {
    std::lock_guard lock(mutex_);
    ++requests_;
    TestReply reply;
    if (request[boost::beast::http::field::authorization] != std::string("Bearer ") + kToken) {
      reply.status = 401;
      reply.body = R"({"errorMessage":"Insufficient authorization to perform request."})";
      return reply;
    }
    const std::string target(request.target());
    const std::string account = std::string("/v3/accounts/") + kAccount;
    if (target == account + "/summary") {
      reply.body = R"({"account":{"id":")" + std::string(kAccount) + R"("},"lastTransactionID":")" + last() + "\"}";
    } else if (target.rfind(account + "/pricing?instruments=", 0) == 0) {
      pricing_target_ = target;
      reply.body = R"({"prices":[{"instrument":"EUR_USD","tradeable":true,"bids":[{"price":"1.08460"}],)"
                   R"("asks":[{"price":"1.08463"}]}]})";
    } else if (target == account + "/orders" && request.method() == boost::beast::http::verb::post) {
      reply = place(request.body());
    } else if (target.rfind(account + "/transactions/sinceid?id=", 0) == 0) {
      ++transaction_polls_;
      const std::uint64_t since = std::stoull(target.substr(target.find("id=") + 3));
      std::string list;
      // One transaction per page (OANDA pages long histories): the adapter
      // must follow the pages, not jump to lastTransactionID.
      for (std::size_t i = since; i < transactions_.size() && i < since + 1; ++i) {
        if (!list.empty()) list += ",";
        list += transactions_[i];
        if (std::to_string(i + 1) == misreport_id_) misreport_served_ = true;
      }
      reply.body = R"({"transactions":[)" + list + R"(],"lastTransactionID":")" + last() + "\"}";
    } else if (target.find("/cancel") != std::string::npos) {
      // orders/{orderID}/cancel or orders/@{clientID}/cancel
      const std::size_t start = target.find("/orders/") + 8;
      const std::string specifier = target.substr(start, target.find("/cancel") - start);
      auto it = resting_.end();
      if (!specifier.empty() && specifier[0] == '@') {
        it = resting_.find(specifier.substr(1));
      } else {
        it = std::find_if(resting_.begin(), resting_.end(),
                          [&](const auto& entry) { return entry.second == specifier; });
      }
      if (it == resting_.end()) {
        reply.status = 404;
        reply.body = R"({"errorCode":"ORDER_DOESNT_EXIST","lastTransactionID":")" + last() + "\"}";
      } else {
        const std::string id = add(R"("type":"ORDER_CANCEL","orderID":")" + it->second +
                                   R"(","clientOrderID":")" + it->first + R"(","reason":"CLIENT_REQUEST")");
        reply.body = R"({"orderCancelTransaction":{"id":")" + id + R"(","type":"ORDER_CANCEL","orderID":")" +
                     it->second + R"(","reason":"CLIENT_REQUEST"},"lastTransactionID":")" + last() + "\"}";
        resting_.erase(it);
      }
    } else {
      reply.status = 404;
      reply.body = R"({"errorMessage":"no route"})";
    }
    return reply;
  }

  /// Fills the resting order `venue_id` (as if the market moved), like the real account would.
  void fill_resting(const std::string& venue_id) {
    std::lock_guard lock(mutex_);
    const auto it = resting_.find(venue_id);
    ASSERT_NE(it, resting_.end());
    add(R"("type":"ORDER_FILL","orderID":")" + it->second + R"(","clientOrderID":")" + venue_id +
        R"(","units":"1000","fullVWAP":"1.08455")");
    resting_.erase(it);
  }

  /// The stop loss attached to the `open-` order placed for `label`
  /// triggers: an ORDER_FILL of the dependent order, which carries no
  /// client id.
  void trigger_stop_loss(const std::string& label) {
    std::lock_guard lock(mutex_);
    const auto it = stop_losses_.find(label);
    ASSERT_NE(it, stop_losses_.end());
    add(R"("type":"ORDER_FILL","orderID":")" + it->second.first +
        R"(","instrument":"EUR_USD","units":"1000","fullVWAP":"1.08300","reason":"STOP_LOSS_ORDER",)"
        R"("tradesClosed":[{"tradeID":")" + it->second.second + R"(","units":"1000"}])");
    stop_losses_.erase(it);
  }
  /// The request body of the last order placed for `label` (empty if none).
  std::string placed_body(const std::string& label) {
    std::lock_guard lock(mutex_);
    const auto it = bodies_.find(label);
    return it == bodies_.end() ? std::string{} : it->second;
  }
  /// transactions/sinceid requests so far.
  int transaction_polls() {
    std::lock_guard lock(mutex_);
    return transaction_polls_;
  }
  /// Orders placed for the strategy id `label`.
  int orders_with(const std::string& label) {
    std::lock_guard lock(mutex_);
    return static_cast<int>(
        std::count_if(placed_.begin(), placed_.end(), [&](const auto& placed) { return placed.first == label; }));
  }
  /// The client id of the last order placed for `label` (empty if none).
  std::string last_placed(const std::string& label) {
    std::lock_guard lock(mutex_);
    for (auto it = placed_.rbegin(); it != placed_.rend(); ++it) {
      if (it->first == label) return it->second;
    }
    return {};
  }
  std::string pricing_target() {
    std::lock_guard lock(mutex_);
    return pricing_target_;
  }
  int requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  TestReply place(const std::string& body) {
    TestReply reply;
    const auto start = body.find(R"("clientExtensions":{"id":")") + 26;
    const std::string client = body.substr(start, body.find('"', start) - start);
    const std::string label = label_of(client);
    std::string prefix = label.substr(0, label.find('-'));
    if (!next_behaviour_.empty()) prefix = std::exchange(next_behaviour_, std::string{});
    if (prefix == "unplaced" || prefix == "rejectlost") {
      // Refused (with a reject transaction, or without a trace), but the
      // reply says nothing.
      if (prefix == "rejectlost") {
        add(R"("type":"MARKET_ORDER_REJECT","clientExtensions":{"id":")" + client +
            R"("},"rejectReason":"INSUFFICIENT_MARGIN")");
      }
      reply.status = 500;
      reply.body = R"({"errorMessage":"internal"})";
      return reply;
    }
    if (prefix == "auth") {
      reply.status = 403;
      reply.body = R"({"errorMessage":"forbidden"})";
      return reply;
    }
    if (prefix == "limit") {
      reply.status = 429;
      reply.body = R"({"errorMessage":"rate"})";
      return reply;
    }
    if (prefix == "reject") {
      const std::string id = add(R"("type":"MARKET_ORDER_REJECT","clientExtensions":{"id":")" + client +
                                 R"("},"rejectReason":"INSUFFICIENT_MARGIN")");
      reply.status = 400;
      reply.body = R"({"orderRejectTransaction":{"id":")" + id +
                   R"(","rejectReason":"INSUFFICIENT_MARGIN"},"errorCode":"INSUFFICIENT_MARGIN","errorMessage":")" +
                   std::string("Bearer ") + kToken + R"(","lastTransactionID":")" + last() + "\"}";
      return reply;
    }
    placed_.emplace_back(label, client);
    bodies_[label] = body;
    const std::string create = add(R"("type":"MARKET_ORDER","clientExtensions":{"id":")" + client + "\"}");
    std::string reply_body = R"({"orderCreateTransaction":{"id":")" + create + "\"}";
    if (prefix == "open") {
      // Opens a trade with a stop loss attached, as stopLossOnFill does.
      const std::string fill_id = std::to_string(transactions_.size() + 1);
      const std::string fill = add(R"("type":"ORDER_FILL","orderID":")" + create + R"(","clientOrderID":")" + client +
                                   R"(","instrument":"EUR_USD","units":"-1000","fullVWAP":"1.08460",)"
                                   R"("reason":"MARKET_ORDER","tradeOpened":{"tradeID":")" + fill_id +
                                   R"(","units":"-1000"})");
      const std::string stop = add(R"("type":"STOP_LOSS_ORDER","tradeID":")" + fill_id +
                                   R"(","price":"1.08600","reason":"ON_FILL")");
      stop_losses_[label] = {stop, fill_id};
      reply_body += R"(,"orderFillTransaction":{"id":")" + fill + R"(","orderID":")" + create +
                    R"(","units":"-1000","fullVWAP":"1.08460","tradeOpened":{"tradeID":")" + fill_id +
                    R"(","units":"-1000"}})";
    } else if (prefix == "fill" || prefix == "lost") {
      const std::string fill = add(R"("type":"ORDER_FILL","orderID":")" + create + R"(","clientOrderID":")" + client +
                                   R"(","units":"-1000","fullVWAP":"1.08460")");
      reply_body += R"(,"orderFillTransaction":{"id":")" + fill +
                    R"(","orderID":")" + create + R"(","units":"-1000","fullVWAP":"1.08460"})";
    } else {
      resting_[client] = create;
    }
    reply_body += R"(,"lastTransactionID":")" + last() + "\"}";
    if (prefix == "lost") {
      reply.status = 500;  // placed, but the reply says otherwise
      reply.body = R"({"errorMessage":"internal"})";
      return reply;
    }
    reply.status = 201;
    reply.body = reply_body;
    if (prefix == "slow") reply.delay = std::chrono::milliseconds(300);  // holds its connection
    return reply;
  }

  std::string add(const std::string& fields) {
    const std::string id = std::to_string(transactions_.size() + 1);
    transactions_.push_back(R"({"id":")" + id + "\"," + fields + "}");
    return id;
  }
  [[nodiscard]] std::string last() const { return std::to_string(transactions_.size()); }
  [[nodiscard]] std::string label_of(const std::string& venue_id) const {
    const auto it = labels_.find(venue_id);
    return it == labels_.end() ? venue_id : it->second;
  }

  std::mutex mutex_;
  std::vector<std::string> transactions_ = {R"({"id":"1","type":"CREATE"})"};
  std::vector<std::pair<std::string, std::string>> placed_;  // label, client id
  std::map<std::string, std::string> bodies_;                 // label -> body of its last order
  std::map<std::string, std::pair<std::string, std::string>> stop_losses_;  // label -> stop order, trade
  int transaction_polls_ = 0;
  std::map<std::string, std::string> resting_;  // venue client id -> order id
  std::map<std::string, std::string> labels_;
  std::string next_behaviour_;
  std::string misreport_id_;
  bool misreport_served_ = false;
  std::string pricing_target_;
  int requests_ = 0;
};

inline InstrumentSpec oanda_spec(const char* name, const char* tick) {
  return adapters::testing::instrument_spec(name, tick, "1", "10000000", "1000000", "5000000", "5000000");
}

/// The OANDA side of the shared REST broker stories.
struct OandaVenue {
  using Broker = OandaBroker;
  using Settings = OandaSettings;
  using Fake = FakeOanda;
  static constexpr const char* kName = "oanda";
  static constexpr const char* kBid = "1.0846";
  static constexpr const char* kAsk = "1.08463";
  static constexpr const char* kFillQuantity = "1000";
  static constexpr const char* kFillPrice = "1.0846";
  static constexpr const char* kRestFillPrice = "1.08455";
  static constexpr const char* kCancelReason = "CLIENT_REQUEST";
  static constexpr const char* kRejectReason = "INSUFFICIENT_MARGIN";
  static constexpr const char* kWrongCredential = "canary-wrong-token";
  static constexpr std::chrono::milliseconds kMinPause{250};  // rate_limit_pause_ns below, no Retry-After
  static constexpr std::size_t kMaxReportsForALostFill = 2;   // found page by page: the create, then the fill

  static std::vector<InstrumentSpec> instruments() {
    return {oanda_spec("EUR/USD", "0.00001"), oanda_spec("BTC/USDT", "0.01")};
  }
  static std::vector<std::string> secrets() { return {kToken}; }
  static Settings settings(std::uint16_t port, const std::string& ca_file) {
    OandaSettings s;
    s.connection.base_url = "https://localhost:" + std::to_string(port);
    s.connection.ca_file = ca_file;
    s.connection.reconnect_min_ns = 20 * kNanosPerMilli;
    s.connection.reconnect_max_ns = 200 * kNanosPerMilli;
    s.account_id = kAccount;
    s.token = security::Secret(kToken);
    s.instruments = {"EUR/USD"};
    s.transaction_poll_interval_ns = 20 * kNanosPerMilli;
    s.unknown_fate_window_ns = 200 * kNanosPerMilli;
    s.rate_limit_pause_ns = 300 * kNanosPerMilli;
    return s;
  }
  static void break_credentials(Settings& s) { s.token = security::Secret(kWrongCredential); }
  static Order market(const char* client, Side side = Side::sell) {
    Order o;
    o.instrument_id = 0;
    o.side = side;
    o.type = OrderType::market;
    o.time_in_force = TimeInForce::fok;
    o.quantity = decimal_literal("1000");
    o.client_order_id.assign(client);
    return o;
  }
  static Order resting(const char* client) {
    Order o = market(client, Side::buy);
    o.type = OrderType::limit;
    o.time_in_force = TimeInForce::gtc;
    o.price = decimal_literal("1.08455");
    return o;
  }
  static void fill_resting(Fake& fake, const std::string& venue_id) { fake.fill_resting(venue_id); }
  static bool resting_at_venue(Fake& fake, const std::string& venue_id) { return fake.resting(venue_id); }
  static int placed(Fake& fake, const std::string& label) { return fake.orders_with(label); }
  static std::string last_placed(Fake& fake, const std::string& label) { return fake.last_placed(label); }
  /// The next order is refused (a reject transaction) and its reply lost.
  static void refuse_next_and_lose_reply(Fake& fake) { fake.script_next_order("rejectlost"); }
  /// The next order's reply is lost and nothing was placed.
  static void lose_next_reply_unplaced(Fake& fake) { fake.script_next_order("unplaced"); }
  /// A transaction names `venue_id` with another order's id.
  static void misreport(Fake& fake, const std::string& venue_id) { fake.misreport(venue_id); }
  static bool misreported(Fake& fake) { return fake.misreport_served(); }
};

}  // namespace ordergate::adapters::oanda::testing
