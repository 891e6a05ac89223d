#pragma once

// A scripted Binance spot API behind the test HTTPS server, and how the
// shared REST broker tests (rest_broker_test_support.hpp) drive the Binance
// adapter against it.

#include <chrono>
#include <map>
#include <mutex>
#include <string>
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

/// A scripted Binance: the fate of an order depends on its client id prefix
/// (fill-, rest-, slow-, reject-, skew-, limit-, lost-); signatures are checked.
class FakeBinance {
 public:
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
  int placed(const std::string& client) {
    std::lock_guard lock(mutex_);
    return static_cast<int>(orders_.count(client));
  }
  void fill(const std::string& client) {
    std::lock_guard lock(mutex_);
    Stored& order = orders_.at(client);
    order.status = "FILLED";
    order.executed = "0.5";
    order.quote = "15000.25";
  }
  std::string last_order_body() {
    std::lock_guard lock(mutex_);
    return last_order_body_;
  }
  std::string order_body(const std::string& client) {
    std::lock_guard lock(mutex_);
    return bodies_[client];
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

  std::string order_json(const std::string& client, const Stored& order) const {
    return R"({"symbol":"BTCUSDT","orderId":)" + std::to_string(order.id) + R"(,"clientOrderId":")" + client +
           R"(","transactTime":1700000000000,"executedQty":")" + order.executed + R"(","cummulativeQuoteQty":")" +
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
    const std::string client = param(total, "origClientOrderId");
    const auto it = orders_.find(client);
    if (request.method() == verb::get) {
      if (it == orders_.end()) return error(400, -2013);
      reply.body = order_json(client, it->second);
      return reply;
    }
    if (it == orders_.end() || it->second.status != "NEW") return error(400, -2011);
    it->second.status = "CANCELED";
    reply.body = order_json(client, it->second);
    return reply;
  }

  TestReply place(const std::string& body) {
    last_order_body_ = body;
    bodies_[param(body, "newClientOrderId")] = body;
    const std::string client = param(body, "newClientOrderId");
    const std::string prefix = client.substr(0, client.find('-'));
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
    TestReply reply;
    if (prefix == "lost") return error(503, 0);
    reply.body = order_json(client, order);
    if (prefix == "slow") reply.delay = std::chrono::milliseconds(300);  // holds its connection
    return reply;
  }

  std::mutex mutex_;
  std::map<std::string, Stored> orders_;
  std::uint64_t next_id_ = 100;
  int requests_ = 0;
  int weight_ = 10;
  int order_count_ = 0;
  std::string last_order_body_;
  std::map<std::string, std::string> bodies_;
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
  static void fill_resting(Fake& fake, const std::string& client) { fake.fill(client); }
  static int placed(Fake& fake, const std::string& client) { return fake.placed(client); }
};

}  // namespace ordergate::adapters::binance::testing
