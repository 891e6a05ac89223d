// Reconciliation against a real ordergate-sim, the same story on OANDA and
// Binance: adapter A places resting orders and goes away without cancelling
// them (a crash, say); adapter B, a new instance with a new prefix, reads
// what the venue holds, adopts it under new gateway order ids, sees one fill,
// cancels another, and also finds an order placed at the venue by someone
// else. The adapters are driven directly (their BrokerPort), on this thread.

#include <optional>

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

// What one adapter instance sent its sink.
struct Capture final : ExecutionSink {
  void on_execution(const ExecutionReport& report) noexcept override { executions.push_back(report); }
  void on_holdings(const Holdings& answer) noexcept override { holdings.push_back(answer); }
  [[nodiscard]] std::optional<ExecutionReport> last_of(OrderId id) const {
    std::optional<ExecutionReport> last;
    for (const ExecutionReport& report : executions) {
      if (report.order_id == id) last = report;
    }
    return last;
  }
  std::vector<ExecutionReport> executions;
  std::vector<Holdings> holdings;
};

template <class Venue>
class HoldingsSim : public RestSimTest<Venue> {
 protected:
  using Settings = typename Venue::Settings;

  HoldingsSim()
      : table_({instrument("EUR/USD", "0.000001", "1", "20000000", "30000000"),
                instrument("BTC/USDT", "0.01", "0.00001", "50", "5000000")}),
        quotes_(table_.size()) {}

  void TearDown() override {
    for (auto* adapter : {&a_, &b_}) {
      if (*adapter) (*adapter)->stop();
    }
    RestSimTest<Venue>::TearDown();
  }

  // An adapter that leaves its orders working when it stops, as a crashed
  // gateway would.
  std::unique_ptr<BrokerPort> start_adapter(Capture& sink) {
    Settings settings = this->venue_settings();
    settings.cancel_on_stop = false;
    std::unique_ptr<BrokerPort> adapter = Venue::factory(std::move(settings))(table_);
    adapter->start(sink, quotes_, SystemClock::instance());
    return adapter;
  }

  [[nodiscard]] InstrumentId traded() const { return table_.find_name(Venue::kSymbol)->id; }

  Order order(OrderId id, const char* client_order_id, Side side, OrderType type, const char* quantity,
              const char* price) const {
    Order o;
    o.order_id = id;
    o.instrument_id = traded();
    o.side = side;
    o.type = type;
    o.time_in_force = type == OrderType::market ? TimeInForce::ioc : TimeInForce::gtc;
    o.quantity = decimal_literal(quantity);
    if (price != nullptr) o.price = decimal_literal(price);
    o.client_order_id.assign(client_order_id);
    return o;
  }

  static CancelOrder cancel_of(const Order& order) {
    CancelOrder cancel;
    cancel.order_id = order.order_id;
    cancel.instrument_id = order.instrument_id;
    cancel.client_order_id = order.client_order_id;
    return cancel;
  }

  static bool poll_until(BrokerPort& adapter, const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      adapter.poll();
    }
    return true;
  }

  static bool reported(BrokerPort& adapter, const Capture& sink, OrderId id, ExecStatus status) {
    return poll_until(adapter, [&] {
      const auto last = sink.last_of(id);
      return last && last->status == status;
    });
  }

  // The next answer to request_holdings (none within 10 s: nullopt).
  static std::optional<Holdings> holdings(BrokerPort& adapter, Capture& sink) {
    const std::size_t before = sink.holdings.size();
    if (!adapter.request_holdings()) return std::nullopt;
    if (!poll_until(adapter, [&] { return sink.holdings.size() > before; })) return std::nullopt;
    return sink.holdings.back();
  }

  static const HeldOrder* find(const Holdings& holdings, std::string_view venue_client_id) {
    for (const HeldOrder& held : holdings.orders) {
      if (held.venue_client_id == venue_client_id) return &held;
    }
    return nullptr;
  }

  // Places a resting order at the simulator as another program would, with
  // the test's own TLS client: on the traded instrument, and on one the
  // adapter does not trade.
  void place_foreign_orders() {
    TlsClient client(this->sim_->port(), this->sim_->ca_file());
    if constexpr (Venue::kIsOanda) {
      const std::vector<std::pair<std::string, std::string>> headers = {
          {"Authorization", std::string("Bearer ") + kOandaToken}, {"Content-Type", "application/json"}};
      const std::string path = std::string("/v3/accounts/") + kOandaAccount + "/orders";
      for (const char* body :
           {R"({"order":{"type":"LIMIT","instrument":"EUR_USD","units":"700","price":"1.08000","timeInForce":"GTC",)"
            R"("clientExtensions":{"id":"manual-1"}}})",
            R"({"order":{"type":"LIMIT","instrument":"USD_JPY","units":"100","price":"150.000","timeInForce":"GTC"}})"}) {
        const auto reply = client.request("POST", path, body, headers);
        ASSERT_EQ(reply.status, 201) << reply.body;
      }
    } else {
      const std::vector<std::pair<std::string, std::string>> headers = {
          {"X-MBX-APIKEY", kBinanceKey}, {"Content-Type", "application/x-www-form-urlencoded"}};
      for (const char* params :
           {"symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.007&price=64200.00&newClientOrderId=manual-1",
            "symbol=ETHUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.1&price=3000.00"}) {
        const auto reply = client.request("POST", "/api/v3/order",
                                          sim::testing::signed_query(params, kBinanceSecret, sim::testing::now_ms()),
                                          headers);
        ASSERT_EQ(reply.status, 200) << reply.body;
      }
    }
  }

  void arm_holdings_faults(int count) {
    TlsClient admin(this->sim_->port(), this->sim_->ca_file());
    const auto reply = admin.request("POST", "/sim/faults", R"({"fail_next_holdings":)" + std::to_string(count) + "}");
    ASSERT_EQ(reply.status, 200) << reply.body;
  }

  InstrumentTable table_;
  QuoteBoard quotes_;
  Capture a_sink_;
  Capture b_sink_;
  std::unique_ptr<BrokerPort> a_;
  std::unique_ptr<BrokerPort> b_;
};
TYPED_TEST_SUITE(HoldingsSim, Venues, VenueNames);

TYPED_TEST(HoldingsSim, ANewAdapterFindsAnEarlierRunsOrdersAndPositionAdoptsThemFillsAndCancels) {
  this->start_sim({"--venues", TypeParam::kName});
  this->a_ = this->start_adapter(this->a_sink_);
  BrokerPort& a = *this->a_;
  const std::string a_prefix(a.client_id_prefix());
  ASSERT_EQ(a_prefix.size(), adapters::rest::VenueClientIds::kPrefixLength);

  const Order bought = this->order(1, "a-bought", Side::buy, OrderType::market, TypeParam::kQuantity, nullptr);
  const Order to_fill = this->order(2, "a-to-fill", Side::buy, OrderType::limit, TypeParam::kRestQuantity,
                                    TypeParam::kRestPrice);
  const Order to_cancel = this->order(3, "a-to-cancel", TypeParam::kRestingSide, OrderType::limit,
                                      TypeParam::kRestQuantity, TypeParam::kFarPrice);
  a.submit(bought);
  ASSERT_TRUE(this->reported(a, this->a_sink_, 1, ExecStatus::filled)) << this->logs_.dump();
  a.submit(to_fill);
  a.submit(to_cancel);
  ASSERT_TRUE(this->reported(a, this->a_sink_, 2, ExecStatus::new_order)) << this->logs_.dump();
  ASSERT_TRUE(this->reported(a, this->a_sink_, 3, ExecStatus::new_order)) << this->logs_.dump();
  a.stop();
  this->a_.reset();
  this->place_foreign_orders();

  this->b_ = this->start_adapter(this->b_sink_);
  BrokerPort& b = *this->b_;
  EXPECT_NE(b.client_id_prefix(), a_prefix) << "every instance has its own prefix";
  const std::optional<Holdings> held = this->holdings(b, this->b_sink_);
  ASSERT_TRUE(held) << this->logs_.dump();
  ASSERT_TRUE(held->complete) << held->error;
  EXPECT_EQ(held->orders.size(), 3u);
  EXPECT_EQ(held->skipped, TypeParam::kIsOanda ? 1u : 2u)
      << "the order on an instrument B does not trade (and, at Binance, the ETH balance)";

  const auto a_id = [&](OrderId id) {
    return std::string(adapters::rest::format_venue_client_id(a_prefix, id).view());
  };
  const HeldOrder* fill_held = this->find(*held, a_id(2));
  const HeldOrder* cancel_held = this->find(*held, a_id(3));
  const HeldOrder* foreign_held = this->find(*held, "manual-1");
  ASSERT_NE(fill_held, nullptr);
  ASSERT_NE(cancel_held, nullptr);
  ASSERT_NE(foreign_held, nullptr);
  EXPECT_EQ(fill_held->instrument_id, this->traded());
  EXPECT_EQ(fill_held->side, Side::buy);
  EXPECT_EQ(fill_held->type, OrderType::limit);
  EXPECT_EQ(fill_held->time_in_force, TimeInForce::gtc);
  EXPECT_EQ(fill_held->quantity, decimal_literal(TypeParam::kRestQuantity));
  EXPECT_EQ(fill_held->leaves, decimal_literal(TypeParam::kRestQuantity));
  EXPECT_EQ(fill_held->price, decimal_literal(TypeParam::kRestPrice));
  EXPECT_FALSE(fill_held->broker_order_id.empty());
  EXPECT_EQ(cancel_held->side, TypeParam::kRestingSide);
  EXPECT_EQ(cancel_held->price, decimal_literal(TypeParam::kFarPrice));
  EXPECT_EQ(foreign_held->side, TypeParam::kIsOanda ? Side::buy : Side::sell);
  EXPECT_EQ(foreign_held->leaves, decimal_literal(TypeParam::kIsOanda ? "700" : "0.007"));
  ASSERT_EQ(held->positions.size(), 1u);
  EXPECT_EQ(held->positions[0].instrument_id, this->traded());
  // OANDA: the market buy. Binance: the 10 BTC the simulator starts with, the
  // buy, and what resting sells lock (free + locked).
  EXPECT_EQ(held->positions[0].net, decimal_literal(TypeParam::kIsOanda ? "10000" : "10.01"));
  EXPECT_TRUE(this->b_sink_.executions.empty()) << "nothing is reported of orders not adopted";

  const Order restored_fill = this->order(101, "restored-fill", Side::buy, OrderType::limit, TypeParam::kRestQuantity,
                                    TypeParam::kRestPrice);
  const Order restored_cancel = this->order(102, "restored-cancel", TypeParam::kRestingSide, OrderType::limit,
                                      TypeParam::kRestQuantity, TypeParam::kFarPrice);
  const Order foreign = this->order(103, "adopted-foreign", foreign_held->side, OrderType::limit,
                              TypeParam::kIsOanda ? "700" : "0.007", TypeParam::kIsOanda ? "1.08" : "64200");
  b.adopt(restored_fill, *fill_held);
  b.adopt(restored_cancel, *cancel_held);
  b.adopt(foreign, *foreign_held);

  this->set_price(TypeParam::kName, TypeParam::kVenueSymbol, TypeParam::kBidThrough, TypeParam::kAskThrough);
  ASSERT_TRUE(this->reported(b, this->b_sink_, 101, ExecStatus::filled)) << this->logs_.dump();
  const ExecutionReport filled = *this->b_sink_.last_of(101);
  EXPECT_EQ(filled.client_order_id, std::string_view("restored-fill"));
  EXPECT_EQ(filled.last_quantity, decimal_literal(TypeParam::kRestQuantity));
  EXPECT_EQ(filled.cumulative_quantity, decimal_literal(TypeParam::kRestQuantity));
  EXPECT_TRUE(filled.leaves_quantity.is_zero());
  EXPECT_EQ(filled.broker_order_id, fill_held->broker_order_id.view());

  b.cancel(this->cancel_of(restored_cancel));
  ASSERT_TRUE(this->reported(b, this->b_sink_, 102, ExecStatus::canceled)) << this->logs_.dump();
  EXPECT_EQ(this->b_sink_.last_of(102)->client_order_id, std::string_view("restored-cancel"));
  EXPECT_EQ(this->b_sink_.last_of(102)->broker_reason, std::string_view(TypeParam::kCancelReason));
  b.cancel(this->cancel_of(foreign));
  ASSERT_TRUE(this->reported(b, this->b_sink_, 103, ExecStatus::canceled)) << this->logs_.dump();

  // Nothing left working at the venue but the order B does not trade.
  const std::optional<Holdings> after = this->holdings(b, this->b_sink_);
  ASSERT_TRUE(after && after->complete) << this->logs_.dump();
  EXPECT_TRUE(after->orders.empty());
  for (const ExecutionReport& report : this->b_sink_.executions) {
    EXPECT_TRUE(report.order_id >= 101 && report.order_id <= 103) << "only adopted orders are reported";
  }
}

TYPED_TEST(HoldingsSim, AFailedReadAnswersIncompleteWithTheRequestAndStatusAndTheNextOneSucceeds) {
  this->start_sim({"--venues", TypeParam::kName});
  this->b_ = this->start_adapter(this->b_sink_);
  BrokerPort& b = *this->b_;
  this->arm_holdings_faults(2);
  const std::optional<Holdings> failed = this->holdings(b, this->b_sink_);
  ASSERT_TRUE(failed) << this->logs_.dump();
  EXPECT_FALSE(failed->complete);
  EXPECT_NE(failed->error.find("HTTP 503"), std::string::npos) << failed->error;
  EXPECT_NE(failed->error.find(TypeParam::kIsOanda ? "pendingOrders" : "openOrders"), std::string::npos)
      << failed->error;
  EXPECT_LT(failed->error.size(), 64u) << "a short code, never the venue's text";
  EXPECT_TRUE(failed->orders.empty());
  // The second armed fault may have been spent on the other read of the
  // same fetch; one more failed answer at most, then a complete one.
  std::optional<Holdings> next = this->holdings(b, this->b_sink_);
  if (next && !next->complete) next = this->holdings(b, this->b_sink_);
  ASSERT_TRUE(next && next->complete) << this->logs_.dump();
  EXPECT_TRUE(next->error.empty());
}

TYPED_TEST(HoldingsSim, AnUnreachableVenueAnswersFromTheNextPollNeverInsideTheRequest) {
  this->start_sim({"--venues", TypeParam::kName});
  this->b_ = this->start_adapter(this->b_sink_);
  BrokerPort& b = *this->b_;
  this->sim_->stop();
  ASSERT_TRUE(b.request_holdings());
  EXPECT_TRUE(this->b_sink_.holdings.empty()) << "never answered inside the call";
  ASSERT_TRUE(this->poll_until(b, [&] { return !this->b_sink_.holdings.empty(); }));
  EXPECT_EQ(this->b_sink_.holdings.size(), 1u);
  EXPECT_FALSE(this->b_sink_.holdings.back().complete);
  EXPECT_FALSE(this->b_sink_.holdings.back().error.empty());
}

TYPED_TEST(HoldingsSim, CallsDuringAFetchJoinItAndEachGetsAnAnswer) {
  this->start_sim({"--venues", TypeParam::kName});
  this->b_ = this->start_adapter(this->b_sink_);
  BrokerPort& b = *this->b_;
  ASSERT_TRUE(b.request_holdings());
  ASSERT_TRUE(b.request_holdings());
  ASSERT_TRUE(this->poll_until(b, [&] { return this->b_sink_.holdings.size() >= 2; })) << this->logs_.dump();
  EXPECT_TRUE(this->b_sink_.holdings[0].complete);
  EXPECT_TRUE(this->b_sink_.holdings[1].complete);
  int fetches = 0;
  for (const std::string& line : this->logs_.lines()) {
    if (line.find("holdings: ") != std::string::npos) ++fetches;
  }
  EXPECT_EQ(fetches, 1) << "one fetch answered both calls";
}

TYPED_TEST(HoldingsSim, AnAdoptionThatDoesNotMatchItsHeldOrderIsRefusedAndReportsNothing) {
  this->start_sim({"--venues", TypeParam::kName});
  this->b_ = this->start_adapter(this->b_sink_);
  BrokerPort& b = *this->b_;
  HeldOrder held;
  held.instrument_id = this->traded();
  held.side = Side::buy;
  held.type = OrderType::limit;
  held.quantity = decimal_literal(TypeParam::kRestQuantity);
  held.leaves = held.quantity;
  held.broker_order_id.assign("4711");
  const Order wrong_side = this->order(7, "wrong-side", Side::sell, OrderType::limit, TypeParam::kRestQuantity,
                                       TypeParam::kRestPrice);
  b.adopt(wrong_side, held);
  HeldOrder not_an_id = held;
  not_an_id.broker_order_id.assign("ab12");
  const Order other = this->order(8, "not-an-id", Side::buy, OrderType::limit, TypeParam::kRestQuantity,
                                  TypeParam::kRestPrice);
  b.adopt(other, not_an_id);
  b.cancel(this->cancel_of(wrong_side));
  b.cancel(this->cancel_of(other));
  for (int i = 0; i < 100; ++i) b.poll();
  EXPECT_TRUE(this->b_sink_.executions.empty());
  EXPECT_TRUE(this->logs_.contains("cannot adopt venue order 4711")) << this->logs_.dump();
  EXPECT_TRUE(this->logs_.contains("cannot adopt venue order ab12")) << this->logs_.dump();
}

using BinanceHoldingsSim = HoldingsSim<BinanceSimVenue>;

// A Binance order can be part filled and rest: adopted, only the rest is
// reported, at its exact price, and the cumulative quantity counts the part
// filled before.
TEST_F(BinanceHoldingsSim, APartFilledOrderIsAdoptedWithWhatWasExecutedAsItsBaseline) {
  start_sim({"--venues", "binance"});
  a_ = start_adapter(a_sink_);
  // The book holds 2 BTC at the ask: 3 at the ask fills 2 and rests 1.
  const Order part = order(1, "a-part", Side::buy, OrderType::limit, "3", "64000.01");
  a_->submit(part);
  ASSERT_TRUE(reported(*a_, a_sink_, 1, ExecStatus::partially_filled)) << logs_.dump();
  a_->stop();
  a_.reset();

  b_ = start_adapter(b_sink_);
  const std::optional<Holdings> held = holdings(*b_, b_sink_);
  ASSERT_TRUE(held && held->complete) << logs_.dump();
  ASSERT_EQ(held->orders.size(), 1u);
  const HeldOrder& found = held->orders[0];
  EXPECT_EQ(found.quantity, decimal_literal("3"));
  EXPECT_EQ(found.leaves, decimal_literal("1"));
  b_->adopt(order(42, "restored-part", Side::buy, OrderType::limit, "3", "64000.01"), found);
  for (int i = 0; i < 50; ++i) b_->poll();
  EXPECT_TRUE(b_sink_.executions.empty()) << "the 2 filled before adoption are not reported again";

  set_price("binance", "BTCUSDT", "63990.00", "63999.00");
  ASSERT_TRUE(reported(*b_, b_sink_, 42, ExecStatus::filled)) << logs_.dump();
  ASSERT_EQ(b_sink_.executions.size(), 1u);
  const ExecutionReport& filled = b_sink_.executions[0];
  EXPECT_EQ(filled.client_order_id, std::string_view("restored-part"));
  EXPECT_EQ(filled.last_quantity, decimal_literal("1"));
  EXPECT_EQ(filled.last_price, decimal_literal("64000.01")) << "a resting order fills at its own price";
  EXPECT_EQ(filled.cumulative_quantity, decimal_literal("3"));
  EXPECT_TRUE(filled.leaves_quantity.is_zero());
  EXPECT_EQ(filled.average_price, decimal_literal("64000.01")) << "of the fills since adoption";
}

}  // namespace
}  // namespace ordergate::brokers::testing
