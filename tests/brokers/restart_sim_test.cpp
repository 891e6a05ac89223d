// A gateway that goes away without cancelling (a crash) and comes back
// against the same ordergate-sim account, on OANDA and on Binance: the
// orders it left working come back under their client order id and
// principal, the position includes a fill that happened while it was down,
// the limits count what the broker holds, a cancel-all reaches the adopted
// orders, and no order is ever placed twice.

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "brokers/broker_test_support.hpp"

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
class RestartSim : public RestSimTest<Venue> {
 protected:
  // Both runs of the gateway: the same accounts, the same state file; the
  // adapter leaves its orders working when it stops, as a crash would.
  GatewayConfig restartable_config() {
    typename Venue::Settings settings = this->venue_settings();
    settings.cancel_on_stop = false;
    GatewayConfig config = Venue::kIsOanda ? this->gateway_config(Venue::factory(std::move(settings)), nullptr)
                                           : this->gateway_config(nullptr, Venue::factory(std::move(settings)));
    for (InstrumentSpec& spec : config.instruments) spec.max_open_orders = 2;
    config.state_path = (lose_owners_ ? other_dir_ : state_dir_).file("ordergate.state");
    return config;
  }

  void crash() {
    this->session_ = Session{};
    this->gateway_->stop();
    this->gateway_.reset();
  }
  void restart() { this->start_gateway(restartable_config()); }

  // Orders the simulator holds under a venue client id.
  int orders_at_sim(const std::string& venue_client_id) {
    TlsClient admin(this->sim_->port(), this->sim_->ca_file());
    const auto reply = admin.request("GET", "/sim/orders?client_order_id=" + venue_client_id);
    const auto at = reply.body.find("\"count\":");
    return at == std::string::npos ? -1 : std::stoi(reply.body.substr(at + 8));
  }

  TempDir state_dir_;
  TempDir other_dir_;
  bool lose_owners_ = false;  // the second run uses another state directory
};
TYPED_TEST_SUITE(RestartSim, Venues, VenueNames);

TYPED_TEST(RestartSim, OrdersLeftWorkingComeBackWithTheirOwnerAndTheLimitsCountThem) {
  this->start_sim({"--venues", TypeParam::kName});
  this->start_gateway(this->restartable_config());
  Gateway& first = *this->gateway_;

  const std::string bought = this->id("bought");
  this->submit(this->market_order(bought, TypeParam::kQuantity));
  ASSERT_FALSE(this->until_terminal(bought).empty());
  const std::string fills_while_down = this->id("fills-while-down");
  const std::string stays = this->id("stays");
  this->submit(this->limit_order(fills_while_down, Side::buy, TypeParam::kRestPrice));
  this->submit(this->limit_order(stays, TypeParam::kRestingSide, TypeParam::kFarPrice));
  ASSERT_TRUE(this->wait_status(fills_while_down, ExecStatus::new_order)) << this->logs_.dump();
  ASSERT_TRUE(this->wait_status(stays, ExecStatus::new_order)) << this->logs_.dump();
  const Decimal position_before = first.exposure(TypeParam::kAccount, TypeParam::kSymbol).position;
  const std::string stays_at_venue = this->venue_client_id(stays);
  ASSERT_EQ(this->orders_at_sim(stays_at_venue), 1);

  this->crash();
  // While the gateway is down, the market moves through one resting order.
  this->set_price(TypeParam::kName, TypeParam::kVenueSymbol, TypeParam::kBidThrough, TypeParam::kAskThrough);
  this->restart();

  Gateway& second = *this->gateway_;
  std::vector<std::string> open;
  ASSERT_TRUE(eventually([&] {
    open.clear();
    for (const OpenOrder& order : second.open_orders("bot")) open.emplace_back(order.order.client_order_id.view());
    return open == std::vector<std::string>{stays};
  })) << "open orders of bot after the restart: " << open.size() << "\n" << this->logs_.dump();

  // The fill the gateway missed is booked: the position is what the broker
  // holds, what it was plus the resting buy.
  Decimal expected;
  ASSERT_TRUE(Decimal::add(position_before, decimal_literal(TypeParam::kRestQuantity), expected));
  EXPECT_TRUE(eventually([&] { return second.exposure(TypeParam::kAccount, TypeParam::kSymbol).position == expected; }))
      << this->logs_.dump();

  // max_open_orders is 2: the held order takes one, so the second new one
  // would pass only with the lost state.
  const auto exposure = second.exposure(TypeParam::kAccount, TypeParam::kSymbol);
  EXPECT_EQ(exposure.open_orders, 1u);
  const std::string next = this->id("next");
  this->submit(this->limit_order(next, TypeParam::kRestingSide, TypeParam::kFarPrice));
  EXPECT_EQ(this->session_.submit(this->limit_order(this->id("one-too-many"), TypeParam::kRestingSide,
                                                   TypeParam::kFarPrice))
                .reason,
            Reason::MAX_OPEN_ORDERS);
  // The strategy's id stays its own: reused, it is a duplicate.
  EXPECT_EQ(this->session_.submit(this->limit_order(stays, TypeParam::kRestingSide, TypeParam::kFarPrice)).reason,
            Reason::DUPLICATE_CLIENT_ORDER_ID);

  // An operator's cancel-all reaches the adopted order at the venue.
  CancelFilter filter;
  EXPECT_EQ(second.cancel_orders(filter), 2u);
  EXPECT_TRUE(eventually([&] { return second.exposure(TypeParam::kAccount, TypeParam::kSymbol).open_orders == 0; }))
      << this->logs_.dump();
  EXPECT_TRUE(second.open_orders("bot").empty());
  // Placed once, never again by the restart.
  EXPECT_EQ(this->orders_at_sim(stays_at_venue), 1);
}

TYPED_TEST(RestartSim, AnOrderTheGatewayDidNotPlaceCountsAndAnOperatorCancelsIt) {
  this->start_sim({"--venues", TypeParam::kName});
  this->start_gateway(this->restartable_config());
  const std::string mine = this->id("mine");
  this->submit(this->limit_order(mine, TypeParam::kRestingSide, TypeParam::kFarPrice));
  ASSERT_TRUE(this->wait_status(mine, ExecStatus::new_order)) << this->logs_.dump();
  // The owners are lost (a new state directory), so after the restart the
  // gateway finds an order it cannot attribute.
  this->crash();
  this->lose_owners_ = true;
  this->restart();
  Gateway& gateway = *this->gateway_;
  EXPECT_TRUE(gateway.open_orders("bot").empty()) << "not bot's as far as the gateway knows";
  EXPECT_EQ(gateway.exposure(TypeParam::kAccount, TypeParam::kSymbol).open_orders, 1u) << "but it counts";
  CancelFilter account;
  account.account = 0;
  EXPECT_EQ(gateway.cancel_orders(account), 1u);
  EXPECT_TRUE(eventually([&] { return gateway.exposure(TypeParam::kAccount, TypeParam::kSymbol).open_orders == 0; }))
      << this->logs_.dump();
}

}  // namespace
}  // namespace ordergate::brokers::testing

namespace ordergate::brokers::testing {
namespace {

// Binance: a trade made at the venue by someone else moves the balance the
// gateway counts as its position, and the adapter never hears of it. The
// periodic check sees the difference twice, audits it, logs it, and (with
// on_position_mismatch = reduce) switches the account to REDUCING.
class PositionCheckSim : public RestSimTest<BinanceSimVenue> {};

TEST_F(PositionCheckSim, AForeignTradeAtTheVenueIsFoundAndTheAccountGoesReducing) {
  start_sim({"--venues", "binance"});
  // Owned with the callback: the broker thread logs its periodic checks
  // until the fixture stops the gateway, after this body's locals are gone.
  struct EventLog {
    std::mutex mutex;
    std::vector<std::string> lines;
  };
  const auto log = std::make_shared<EventLog>();
  GatewayConfig config = gateway_config(nullptr, BinanceSimVenue::factory(binance_settings()));
  config.reconcile.push_back({"binance", 100 * kNanosPerMilli, /*reduce_on_mismatch=*/true});
  config.on_event = [log](std::string_view level, std::string_view event, std::string_view fields) {
    std::lock_guard lock(log->mutex);
    log->lines.push_back(std::string(level) + " " + std::string(event) + " " + std::string(fields));
  };
  start_gateway(std::move(config));
  auto mismatches = [&] {
    std::lock_guard lock(log->mutex);
    return std::count_if(log->lines.begin(), log->lines.end(),
                         [](const std::string& line) { return line.find("position_mismatch") != std::string::npos; });
  };
  // The gateway's own trades never look like a difference.
  const std::string own = id("own");
  submit(market_order(own, BinanceSimVenue::kQuantity));
  ASSERT_FALSE(until_terminal(own).empty());
  const Decimal before = gateway_->exposure("crypto", "BTC/USDT").position;
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(log->mutex);
    return std::count_if(log->lines.begin(), log->lines.end(), [](const std::string& line) {
             return line.find("account_ready") != std::string::npos;
           }) == 1;
  }));

  TlsClient client(sim_->port(), sim_->ca_file());
  const auto reply = client.request(
      "POST", "/api/v3/order",
      sim::testing::signed_query("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.5", kBinanceSecret,
                                 sim::testing::now_ms()),
      {{"X-MBX-APIKEY", kBinanceKey}, {"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(reply.status, 200) << reply.body;

  ASSERT_TRUE(eventually([&] { return mismatches() >= 1; })) << logs_.dump();
  {
    std::lock_guard lock(log->mutex);
    const auto line = std::find_if(log->lines.begin(), log->lines.end(),
                                   [](const std::string& l) { return l.find("position_mismatch") != std::string::npos; });
    EXPECT_NE(line->find("account=crypto symbol=BTC/USDT"), std::string::npos) << *line;
    EXPECT_NE(line->find("action=reducing"), std::string::npos) << *line;
  }
  EXPECT_TRUE(eventually([&] { return gateway_->trading_state(TradingScope::account("crypto")) ==
                                      guards::TradingState::reducing; }));
  EXPECT_EQ(session_.submit(market_order(id("more"), BinanceSimVenue::kQuantity)).reason, Reason::REDUCE_ONLY);
  // The gateway's own figure is not rewritten behind the operator's back.
  EXPECT_EQ(gateway_->exposure("crypto", "BTC/USDT").position, before);
  EXPECT_EQ(mismatches(), 1) << "reported once while the difference stays";
}

}  // namespace
}  // namespace ordergate::brokers::testing
