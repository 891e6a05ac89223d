#pragma once

// A scripted Binance spot API behind the test HTTPS server, and how the
// shared REST broker tests (rest_broker_test_support.hpp) drive the Binance
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
#include "ordergate/adapters/binance/binance_broker.hpp"
#include "ordergate/adapters/binance/binance_protocol.hpp"

namespace ordergate::adapters::binance::testing {

using ordergate::testing::TestReply;
using ordergate::testing::TestRequest;

inline constexpr const char* kKey = "canary-binance-key-31a";
inline constexpr const char* kSecret = "canary-binance-secret-8d2";

inline std::string param(const std::string& text, const std::string& name) {
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = std::min(text.find('&', at), text.size());
    const std::string pair = text.substr(at, end - at);
    if (pair.rfind(name + "=", 0) == 0) return pair.substr(name.size() + 1);
    at = end + 1;
  }
  return {};
}

/// A scripted Binance: the fate of an order depends on the prefix of its
/// label (fill-, rest-, slow-, reject-, skew-, limit-, lost-), or on what
/// `script_next_order` set; signatures are checked. Orders are kept by the
/// client id the adapter sent (its venue client id); a test names an order by
/// its label (the strategy's id, see `label`) or by that venue client id.
class FakeBinance {
 public:
  /// The order the adapter sends as `venue_id` is the strategy's `label`
  /// (unknown ids are their own label).
  void label(const std::string& venue_id, const std::string& label) {
    std::lock_guard lock(mutex_);
    labels_[venue_id] = label;
  }
  /// The next order placed behaves as `behaviour` (a label prefix, or
  /// "unplaced": a 503 and nothing placed), whatever its label.
  void script_next_order(const std::string& behaviour) {
    std::lock_guard lock(mutex_);
    next_behaviour_ = behaviour;
  }
  /// The next lookup of the order `venue_id` answers with another orderId
  /// (and FILLED): a reply about some other order.
  void misreport(const std::string& venue_id) {
    std::lock_guard lock(mutex_);
    misreported_ = venue_id;
  }
  int misreports_served() {
    std::lock_guard lock(mutex_);
    return misreports_served_;
  }
  bool resting(const std::string& venue_id) {
    std::lock_guard lock(mutex_);
    const auto it = orders_.find(venue_id);
    return it != orders_.end() && it->second.status == "NEW";
  }

  TestReply handle(const TestRequest& request) {
    std::lock_guard lock(mutex_);
    ++requests_;
    const std::string target(request.target());
    const std::string path = target.substr(0, target.find('?'));
    const std::string query = target.find('?') == std::string::npos ? "" : target.substr(target.find('?') + 1);
    const std::string total = query + request.body();
    TestReply reply = route(request, path, total);
    reply.headers.push_back({"X-MBX-USED-WEIGHT-1M", std::to_string(weight_)});
    if (path == "/api/v3/order" && request.method() == boost::beast::http::verb::post) {
      reply.headers.push_back({"X-MBX-ORDER-COUNT-10S", std::to_string(order_count_)});
    }
    return reply;
  }

  int requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  /// The client id of the last order placed for `label` (empty if none).
  std::string last_placed(const std::string& label) {
    std::lock_guard lock(mutex_);
    for (auto it = placed_.rbegin(); it != placed_.rend(); ++it) {
      if (it->first == label) return it->second;
    }
    return {};
  }
  /// Orders placed for the strategy id `label`.
  int placed(const std::string& label) {
    std::lock_guard lock(mutex_);
    int count = 0;
    for (const auto& [venue_id, order] : orders_) count += label_of(venue_id) == label ? 1 : 0;
    return count;
  }
  /// Fills the resting order `venue_id` (as if the market moved).
  void fill(const std::string& venue_id) {
    std::lock_guard lock(mutex_);
    const auto it = orders_.find(venue_id);
    ASSERT_TRUE(it != orders_.end() && it->second.status == "NEW") << venue_id;
    it->second.status = "FILLED";
    it->second.executed = "0.5";
    it->second.quote = "15000.25";
  }
  std::string last_order_body() {
    std::lock_guard lock(mutex_);
    return last_order_body_;
  }
  std::string order_body(const std::string& label) {
    std::lock_guard lock(mutex_);
    return bodies_[label];
  }

 private:
  struct Stored {
    std::uint64_t id = 0;
    std::string status;
    std::string executed = "0";
    std::string quote = "0";
  };

  static TestReply error(unsigned status, int code) {
    TestReply reply;
    reply.status = status;
    reply.body = R"({"code":)" + std::to_string(code) + R"(,"msg":"echo )" + kSecret + R"("})";
    return reply;
  }

  [[nodiscard]] std::string label_of(const std::string& venue_id) const {
    const auto it = labels_.find(venue_id);
    return it == labels_.end() ? venue_id : it->second;
  }

  // A cancel reply names the order as origClientOrderId and the cancel
  // request itself as clientOrderId, as Binance does.
  static std::string order_json(const std::string& client, const Stored& order, bool cancel = false) {
    const std::string ids = cancel ? R"(,"origClientOrderId":")" + client + R"(","clientOrderId":"cancel-)" +
                                         std::to_string(order.id) + "\""
                                   : R"(,"clientOrderId":")" + client + "\"";
    return R"({"symbol":"BTCUSDT","orderId":)" + std::to_string(order.id) + ids +
           R"(,"transactTime":1700000000000,"executedQty":")" + order.executed + R"(","cummulativeQuoteQty":")" +
           order.quote + R"(","status":")" + order.status + R"(","fills":[]})";
  }

  TestReply route(const TestRequest& request, const std::string& path, const std::string& total) {
    using boost::beast::http::verb;
    TestReply reply;
    if (path == "/api/v3/time") {
      reply.body = R"({"serverTime":)" +
                   std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count()) +
                   "}";
      return reply;
    }
    if (path == "/api/v3/ticker/bookTicker") {
      reply.body = R"({"symbol":"BTCUSDT","bidPrice":"30000.10","bidQty":"1","askPrice":"30000.20","askQty":"1"})";
      return reply;
    }
    if (path == "/api/v3/ping") return reply;
    // Everything else is signed.
    if (request["X-MBX-APIKEY"] != kKey) return error(401, -2015);
    const std::size_t at = total.rfind("&signature=");
    if (at == std::string::npos || sign(kSecret, total.substr(0, at)) != total.substr(at + 11)) {
      return error(400, -1022);
    }
    if (path == "/api/v3/account") {
      reply.body = R"({"balances":[]})";
      return reply;
    }
    if (path != "/api/v3/order") return error(404, -1000);
    if (request.method() == verb::post) return place(total);
    // By orderId (it takes precedence) or by origClientOrderId.
    auto it = orders_.end();
    const std::string order_id = param(total, "orderId");
    if (!order_id.empty()) {
      it = std::find_if(orders_.begin(), orders_.end(),
                        [&](const auto& entry) { return std::to_string(entry.second.id) == order_id; });
    } else {
      it = orders_.find(param(total, "origClientOrderId"));
    }
    if (request.method() == verb::get) {
      if (it == orders_.end()) return error(400, -2013);
      if (it->first == misreported_) {
        misreported_.clear();  // once
        ++misreports_served_;
        Stored other = it->second;
        other.id += 1000;
        other.status = "FILLED";
        other.executed = "0.5";
        other.quote = "15000.25";
        reply.body = order_json(it->first, other);
        return reply;
      }
      reply.body = order_json(it->first, it->second);
      return reply;
    }
    if (it == orders_.end() || it->second.status != "NEW") return error(400, -2011);
    it->second.status = "CANCELED";
    reply.body = order_json(it->first, it->second, true);
    return reply;
  }

  TestReply place(const std::string& body) {
    last_order_body_ = body;
    const std::string client = param(body, "newClientOrderId");
    const std::string label = label_of(client);
    bodies_[label] = body;
    std::string prefix = label.substr(0, label.find('-'));
    if (!next_behaviour_.empty()) prefix = std::exchange(next_behaviour_, std::string{});
    if (prefix == "unplaced") return error(503, 0);  // refused, and the reply says nothing
    if (prefix == "reject") return error(400, -2010);
    if (prefix == "skew") return error(400, -1021);
    if (prefix == "limit") {
      TestReply reply = error(429, -1003);
      reply.headers.push_back({"Retry-After", "1"});
      return reply;
    }
    ++order_count_;
    Stored order;
    order.id = next_id_++;
    if (prefix == "fill" || prefix == "lost") {
      order.status = "FILLED";
      order.executed = "0.003";
      order.quote = "90.0006";  // 0.001 @ 30000.10 + 0.002 @ 30000.25
    } else {
      order.status = "NEW";
    }
    orders_[client] = order;
    placed_.emplace_back(label, client);
    TestReply reply;
    if (prefix == "lost") return error(503, 0);
    reply.body = order_json(client, order);
    if (prefix == "slow") reply.delay = std::chrono::milliseconds(300);  // holds its connection
    return reply;
  }

  std::mutex mutex_;
  std::map<std::string, Stored> orders_;  // by the client id the adapter sent
  std::map<std::string, std::string> labels_;
  std::vector<std::pair<std::string, std::string>> placed_;  // label, client id
  std::string next_behaviour_;
  std::string misreported_;
  int misreports_served_ = 0;
  std::uint64_t next_id_ = 100;
  int requests_ = 0;
  int weight_ = 10;
  int order_count_ = 0;
  std::string last_order_body_;
  std::map<std::string, std::string> bodies_;  // by label
};

inline InstrumentSpec binance_spec(const char* name, const char* tick, const char* lot) {
  return adapters::testing::instrument_spec(name, tick, lot, "100", "10", "1000000", "100");
}

/// The Binance side of the shared REST broker stories.
struct BinanceVenue {
  using Broker = BinanceBroker;
  using Settings = BinanceSettings;
  using Fake = FakeBinance;
  static constexpr const char* kName = "binance";
  static constexpr const char* kBid = "30000.1";
  static constexpr const char* kAsk = "30000.2";
  static constexpr const char* kFillQuantity = "0.003";
  static constexpr const char* kFillPrice = "30000.2";  // 0.001 @ 30000.10 + 0.002 @ 30000.25, exactly
  static constexpr const char* kRestFillPrice = "30000.5";
  static constexpr const char* kCancelReason = "CANCELED";
  static constexpr const char* kRejectReason = "-2010";
  static constexpr const char* kWrongCredential = "canary-wrong-secret";
  static constexpr std::chrono::milliseconds kMinPause{1000};  // the fake's Retry-After: 1
  static constexpr std::size_t kMaxReportsForALostFill = 1;    // the lookup finds it FILLED

  static std::vector<InstrumentSpec> instruments() { return {binance_spec("BTC/USDT", "0.01", "0.001")}; }
  static std::vector<std::string> secrets() { return {kKey, kSecret}; }
  static Settings settings(std::uint16_t port, const std::string& ca_file) {
    BinanceSettings s;
    s.connection.base_url = "https://localhost:" + std::to_string(port);
    s.connection.ca_file = ca_file;
    s.api_key = security::Secret(kKey);
    s.secret_key = security::Secret(kSecret);
    s.order_poll_interval_ns = 20 * kNanosPerMilli;
    s.unknown_fate_window_ns = 200 * kNanosPerMilli;
    return s;
  }
  static void break_credentials(Settings& s) { s.secret_key = security::Secret(kWrongCredential); }
  static Order order(const char* client, OrderType type) {
    Order o;
    o.side = Side::buy;
    o.type = type;
    o.time_in_force = type == OrderType::market ? TimeInForce::ioc : TimeInForce::gtc;
    o.quantity = decimal_literal(type == OrderType::market ? "0.003" : "0.5");
    if (type == OrderType::limit) o.price = decimal_literal("30000");
    o.client_order_id.assign(client);
    return o;
  }
  static Order market(const char* client) { return order(client, OrderType::market); }
  static Order resting(const char* client) { return order(client, OrderType::limit); }
  static void fill_resting(Fake& fake, const std::string& venue_id) { fake.fill(venue_id); }
  static bool resting_at_venue(Fake& fake, const std::string& venue_id) { return fake.resting(venue_id); }
  static int placed(Fake& fake, const std::string& label) { return fake.placed(label); }
  static std::string last_placed(Fake& fake, const std::string& label) { return fake.last_placed(label); }
  /// The next order is refused and its reply lost (Binance keeps no trace).
  static void refuse_next_and_lose_reply(Fake& fake) { fake.script_next_order("unplaced"); }
  static void lose_next_reply_unplaced(Fake& fake) { fake.script_next_order("unplaced"); }
  /// The venue reports about `venue_id` with another order's id.
  static void misreport(Fake& fake, const std::string& venue_id) { fake.misreport(venue_id); }
  static bool misreported(Fake& fake) { return fake.misreports_served() > 0; }
};

}  // namespace ordergate::adapters::binance::testing
