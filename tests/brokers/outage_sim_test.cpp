// A broker connection lost for longer than `reconcile_after_disconnect`,
// on OANDA and on Binance, with the network between the adapter and
// ordergate-sim cut by a relay: the account closes (ACCOUNT_NOT_READY),
// and when the connection is back it is reconciled again before it trades.
// What happened meanwhile is in the book exactly once: a fill of an order
// the gateway follows (which the adapter also reports), a trade someone
// else made, an order someone else placed; the orders the gateway already
// followed are not adopted a second time.

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include "brokers/broker_test_support.hpp"
#include "brokers/cut_proxy.hpp"

namespace ordergate::brokers::testing {
namespace {

using Venues = ::testing::Types<OandaSimVenue, BinanceSimVenue>;

struct VenueNames {
  template <class Venue>
  static std::string GetName(int) {
    return Venue::kName;
  }
};

template <class Venue>
class OutageSim : public RestSimTest<Venue> {
 protected:
  void start_through_proxy(std::int64_t after_disconnect_ns) {
    this->start_sim({"--venues", Venue::kName});
    proxy_ = std::make_unique<CutProxy>(this->sim_->port());
    typename Venue::Settings settings = this->venue_settings();
    settings.connection.base_url = "https://localhost:" + std::to_string(proxy_->port());
    GatewayConfig config = Venue::kIsOanda ? this->gateway_config(Venue::factory(std::move(settings)), nullptr)
                                           : this->gateway_config(nullptr, Venue::factory(std::move(settings)));
    for (InstrumentSpec& spec : config.instruments) spec.max_open_orders = 3;
    config.reconcile.push_back({Venue::kName, 0, false, after_disconnect_ns});
    config.on_event = [this](std::string_view level, std::string_view event, std::string_view fields) {
      std::lock_guard lock(events_mutex_);
      events_.push_back(std::string(level) + " " + std::string(event) + " " + std::string(fields));
    };
    this->start_gateway(std::move(config));
  }

  int events(std::string_view name) {
    std::lock_guard lock(events_mutex_);
    const std::string needle = " " + std::string(name) + " ";
    return static_cast<int>(std::count_if(events_.begin(), events_.end(), [&](const std::string& line) {
      return line.find(needle) != std::string::npos;
    }));
  }
  std::string event_dump() {
    std::lock_guard lock(events_mutex_);
    std::string text;
    for (const std::string& line : events_) text += "  " + line + "\n";
    return text;
  }

  // What someone else does at the venue while the gateway cannot see it:
  // a market trade (the position moves) and a resting order.
  void trade_elsewhere() {
    TlsClient client(this->sim_->port(), this->sim_->ca_file());
    if constexpr (Venue::kIsOanda) {
      const std::vector<std::pair<std::string, std::string>> headers = {
          {"Authorization", std::string("Bearer ") + kOandaToken}, {"Content-Type", "application/json"}};
      const std::string path = std::string("/v3/accounts/") + kOandaAccount + "/orders";
      for (const char* body :
           {R"({"order":{"type":"MARKET","instrument":"EUR_USD","units":"300","timeInForce":"FOK"}})",
            R"({"order":{"type":"LIMIT","instrument":"EUR_USD","units":"700","price":"1.08000","timeInForce":"GTC",)"
            R"("clientExtensions":{"id":"manual-1"}}})"}) {
        const auto reply = client.request("POST", path, body, headers);
        ASSERT_EQ(reply.status, 201) << reply.body;
      }
    } else {
      const std::vector<std::pair<std::string, std::string>> headers = {
          {"X-MBX-APIKEY", kBinanceKey}, {"Content-Type", "application/x-www-form-urlencoded"}};
      for (const char* params : {"symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.003",
                                 "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.007&price=64200.00&"
                                 "newClientOrderId=manual-1"}) {
        const auto reply = client.request("POST", "/api/v3/order",
                                          sim::testing::signed_query(params, kBinanceSecret, sim::testing::now_ms()),
                                          headers);
        ASSERT_EQ(reply.status, 200) << reply.body;
      }
    }
  }
  static constexpr const char* kElsewhereQuantity = Venue::kIsOanda ? "300" : "0.003";

  int sim_orders_by_venue_id(const std::string& venue_client_id) {
    TlsClient admin(this->sim_->port(), this->sim_->ca_file());
    const auto reply = admin.request("GET", "/sim/orders?client_order_id=" + venue_client_id);
    const auto at = reply.body.find("\"count\":");
    return at == std::string::npos ? -1 : std::stoi(reply.body.substr(at + 8));
  }

  std::unique_ptr<CutProxy> proxy_;
  std::mutex events_mutex_;
  std::vector<std::string> events_;
};
TYPED_TEST_SUITE(OutageSim, Venues, VenueNames);

TYPED_TEST(OutageSim, ALongOutageClosesTheAccountAndItIsReconciledAgainBeforeItTrades) {
  this->start_through_proxy(300 * kNanosPerMilli);
  Gateway& gateway = *this->gateway_;
  // The account opens before its log line is written: wait for the line.
  ASSERT_TRUE(eventually([&] { return this->events("account_ready") == 1; })) << this->event_dump();

  const std::string fills = this->id("fills-in-outage");
  const std::string stays = this->id("stays");
  this->submit(this->limit_order(fills, Side::buy, TypeParam::kRestPrice));
  this->submit(this->limit_order(stays, TypeParam::kRestingSide, TypeParam::kFarPrice));
  ASSERT_TRUE(this->wait_status(fills, ExecStatus::new_order)) << this->logs_.dump();
  ASSERT_TRUE(this->wait_status(stays, ExecStatus::new_order)) << this->logs_.dump();
  const std::string stays_at_venue = this->venue_client_id(stays);
  const Decimal before = gateway.exposure(TypeParam::kAccount, TypeParam::kSymbol).position;

  this->proxy_->cut();
  ASSERT_TRUE(eventually([&] { return this->events("account_not_ready") == 1; }))
      << this->event_dump() << this->logs_.dump();
  EXPECT_FALSE(gateway.ready());
  ASSERT_EQ(gateway.brokers().size(), 1u);
  EXPECT_EQ(gateway.brokers()[0].name, TypeParam::kName);
  EXPECT_FALSE(gateway.brokers()[0].connected);
  EXPECT_FALSE(gateway.brokers()[0].accounts_ready);
  EXPECT_EQ(this->session_.submit(this->limit_order(this->id("in-outage"), TypeParam::kRestingSide,
                                                    TypeParam::kFarPrice))
                .reason,
            Reason::ACCOUNT_NOT_READY);

  // Meanwhile at the venue: the market moves through one resting order,
  // and someone else trades and places an order.
  this->set_price(TypeParam::kName, TypeParam::kVenueSymbol, TypeParam::kBidThrough, TypeParam::kAskThrough);
  this->trade_elsewhere();

  this->proxy_->restore();
  ASSERT_TRUE(eventually([&] { return this->events("account_ready") == 2; }, std::chrono::seconds(20)))
      << this->event_dump() << this->logs_.dump();
  EXPECT_EQ(this->events("broker_reconnected"), 1) << this->event_dump();
  EXPECT_TRUE(gateway.ready());
  EXPECT_TRUE(gateway.brokers()[0].connected);
  EXPECT_TRUE(gateway.brokers()[0].accounts_ready);

  // The fill the adapter reports for its own order, once.
  ASSERT_TRUE(this->wait_status(fills, ExecStatus::filled)) << this->logs_.dump();
  // The position: what it was, the resting buy and the trade made
  // elsewhere, each counted once (the adapter's late report of the fill
  // and the broker's position agree instead of adding up).
  Decimal expected;
  ASSERT_TRUE(Decimal::add(before, decimal_literal(TypeParam::kRestQuantity), expected));
  ASSERT_TRUE(Decimal::add(expected, decimal_literal(TestFixture::kElsewhereQuantity), expected));
  EXPECT_EQ(gateway.exposure(TypeParam::kAccount, TypeParam::kSymbol).position.to_string(), expected.to_string())
      << this->event_dump() << this->logs_.dump();

  // The order it followed is followed once; the one placed elsewhere is
  // adopted and counts.
  std::vector<std::string> open;
  for (const OpenOrder& order : gateway.open_orders("bot")) open.emplace_back(order.order.client_order_id.view());
  EXPECT_EQ(open, std::vector<std::string>{stays});
  EXPECT_EQ(gateway.exposure(TypeParam::kAccount, TypeParam::kSymbol).open_orders, 2u) << this->event_dump();
  // max_open_orders is 3: one more fits, a second does not.
  this->submit(this->limit_order(this->id("after"), TypeParam::kRestingSide, TypeParam::kFarPrice));
  EXPECT_EQ(this->session_.submit(this->limit_order(this->id("one-too-many"), TypeParam::kRestingSide,
                                                    TypeParam::kFarPrice))
                .reason,
            Reason::MAX_OPEN_ORDERS);

  // An operator's cancel-all reaches all three, the adopted one included.
  EXPECT_EQ(gateway.cancel_orders(CancelFilter{}), 3u);
  EXPECT_TRUE(eventually([&] { return gateway.exposure(TypeParam::kAccount, TypeParam::kSymbol).open_orders == 0; }))
      << this->logs_.dump();
  EXPECT_EQ(this->sim_orders_by_venue_id(stays_at_venue), 1) << "placed once";
}

TYPED_TEST(OutageSim, AnOutageShorterThanAllowedLeavesTheAccountOpen) {
  this->start_through_proxy(60 * kNanosPerSecond);
  Gateway& gateway = *this->gateway_;
  const std::string first = this->id("first");
  this->submit(this->market_order(first));
  ASSERT_FALSE(this->until_terminal(first).empty());
  // The adapter loses its connections and fails to open one...
  this->proxy_->cut();
  ASSERT_TRUE(eventually([&] { return this->logs_.contains("no connection to"); })) << this->logs_.dump();
  // ...then has it back, well within the minute the broker allows.
  this->proxy_->restore();
  int attempt = 0;
  ASSERT_TRUE(eventually(
      [&] {
        const std::string id = this->id("after-" + std::to_string(++attempt));
        const Verdict verdict = this->session_.submit(this->market_order(id));
        EXPECT_TRUE(verdict.accepted()) << reason_name(verdict.reason);  // never ACCOUNT_NOT_READY
        const std::vector<ExecutionReport> reports = this->until_terminal(id);
        return !reports.empty() && reports.back().status == ExecStatus::filled;
      },
      std::chrono::seconds(20)))
      << this->logs_.dump();
  EXPECT_EQ(this->events("account_not_ready"), 0) << this->event_dump();
  EXPECT_EQ(this->events("account_ready"), 1) << this->event_dump();
  EXPECT_TRUE(gateway.ready());
}

}  // namespace
}  // namespace ordergate::brokers::testing
