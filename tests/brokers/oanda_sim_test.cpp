// The gateway trading through the OANDA adapter against a real ordergate-sim:
// OANDA's own stories; those every REST broker shares are in rest_sim_test.cpp.

#include <algorithm>
#include <optional>
#include <vector>

#include "brokers/broker_test_support.hpp"

namespace ordergate::brokers::testing {
namespace {

using OandaSim = RestSimTest<OandaSimVenue>;

// Keeps every audit record (from strategy and broker threads).
class RecordingAudit final : public AuditSink {
 public:
  std::uint64_t record(const AuditEvent& event) noexcept override {
    try {
      std::lock_guard lock(mutex_);
      events_.push_back(event);
    } catch (...) {
    }
    return 0;
  }
  std::vector<AuditEvent> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }

 private:
  std::mutex mutex_;
  std::vector<AuditEvent> events_;
};

// The gateway over the simulator with an audit sink the test reads.
class OandaProtectiveSim : public OandaSim {
 protected:
  void start_audited() {
    start_sim({"--venues", "oanda"});
    gateway_ = std::make_unique<Gateway>(gateway_config(OandaSimVenue::factory(oanda_settings()), nullptr),
                                         SystemClock::instance(), &audit_);
    gateway_->start();
    ASSERT_TRUE(gateway_->wait_ready(std::chrono::seconds(10)));
    session_ = gateway_->open_session("bot");
  }
  void TearDown() override {
    OandaSim::TearDown();
    session_ = Session{};  // a session never outlives its gateway
    gateway_.reset();      // before the audit sink it writes to
  }
  Decimal position() { return gateway_->exposure("fx", "EUR/USD").position; }
  /// The next position fill this session receives (or none within 10 s).
  std::optional<ExecutionReport> next_position_fill() {
    std::optional<ExecutionReport> found;
    (void)eventually([&] {
      ExecutionReport report;
      while (session_.poll(report)) {
        reports_.push_back(report);
        if (report.kind == ReportKind::position_fill) {
          found = report;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  /// The simulator's positionFill of the order placed with `client_order_id`.
  std::string sim_position_fill(const std::string& client_order_id) {
    TlsClient admin(sim_->port(), sim_->ca_file());
    // The simulator knows the order by the id the adapter sent it.
    const auto reply = admin.request("GET", "/sim/orders?client_order_id=" + venue_client_id(client_order_id));
    const std::string key = "\"position_fill\":\"";
    const auto at = reply.body.find(key);
    if (at == std::string::npos) return {};
    return reply.body.substr(at + key.size(), reply.body.find('"', at + key.size()) - at - key.size());
  }

  RecordingAudit audit_;
};

// The stop loss closes the trade at OANDA: the gateway's position follows,
// the strategy hears of it, the audit trail records it, and a "reducing"
// sell afterwards finds nothing to reduce instead of opening a short.
TEST_F(OandaProtectiveSim, AStopLossFillClosesTheGatewayPositionAndReducingRefusesTheShort) {
  start_audited();
  OrderRequest buy = market("fx", "EUR/USD", Side::buy, "10000", "o-sl-parent");
  buy.stop_loss = decimal_literal("1.08");
  submit(buy);
  const auto reports = until_terminal("o-sl-parent");
  ASSERT_FALSE(reports.empty());
  ASSERT_EQ(reports.back().status, ExecStatus::filled) << logs_.dump();
  EXPECT_EQ(position(), decimal_literal("10000"));

  set_price("oanda", "EUR_USD", "1.07900", "1.07920");  // through the stop
  const std::optional<ExecutionReport> fill = next_position_fill();
  ASSERT_TRUE(fill.has_value()) << logs_.dump();
  EXPECT_EQ(fill->source, FillSource::stop_loss);
  EXPECT_EQ(fill->client_order_id, std::string_view("o-sl-parent"));
  EXPECT_EQ(fill->side, Side::sell);
  EXPECT_EQ(fill->last_quantity, decimal_literal("10000"));
  EXPECT_EQ(fill->last_price, decimal_literal("1.079"));
  EXPECT_EQ(fill->broker_reason, std::string_view("STOP_LOSS_ORDER"));
  EXPECT_TRUE(position().is_zero());

  bool audited = false;
  for (const AuditEvent& event : audit_.events()) {
    if (event.type != AuditEventType::position_fill) continue;
    audited = true;
    EXPECT_EQ(event.client_order_id, std::string_view("o-sl-parent"));
    EXPECT_EQ(event.side, Side::sell);
    EXPECT_EQ(event.quantity, decimal_literal("10000"));
    EXPECT_EQ(event.detail, std::string_view("source:STOP_LOSS"));
  }
  EXPECT_TRUE(audited);

  gateway_->set_trading_state(TradingScope::account("fx"), guards::TradingState::reducing);
  const Verdict sell = session_.submit(market("fx", "EUR/USD", Side::sell, "10000", "o-sl-after"));
  EXPECT_EQ(sell.reason, Reason::REDUCE_ONLY);
  EXPECT_TRUE(position().is_zero());
}

TEST_F(OandaProtectiveSim, UnderReducingAnOrderGoesToOandaAsReduceOnly) {
  start_audited();
  submit(market("fx", "EUR/USD", Side::buy, "10000", "o-ro-open"));
  ASSERT_EQ(until_terminal("o-ro-open").back().status, ExecStatus::filled);
  EXPECT_EQ(sim_position_fill("o-ro-open"), "DEFAULT");

  gateway_->set_trading_state(TradingScope::account("fx"), guards::TradingState::reducing);
  submit(market("fx", "EUR/USD", Side::sell, "10000", "o-ro-close"));
  ASSERT_EQ(until_terminal("o-ro-close").back().status, ExecStatus::filled);
  EXPECT_EQ(sim_position_fill("o-ro-close"), "REDUCE_ONLY");
  EXPECT_TRUE(position().is_zero());
}

TEST_F(OandaSim, ABrokerRejectIsBrokerRejectedWithOandasReason) {
  start();
  // The gateway's tick is finer than OANDA's: the broker refuses the precision.
  submit(limit("fx", "EUR/USD", Side::buy, "5000", "1.084005", "o-reject-1"));
  const auto reports = until_terminal("o-reject-1");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::rejected);
  EXPECT_EQ(reports.back().reason, Reason::BROKER_REJECTED);
  EXPECT_EQ(reports.back().broker_reason, std::string_view("PRICE_PRECISION_EXCEEDED"));
}

TEST_F(OandaSim, AnInsufficientMarginCancelCarriesTheReason) {
  start();
  submit(market("fx", "EUR/USD", Side::buy, "10000000", "o-margin-1"));
  const auto reports = until_terminal("o-margin-1");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::canceled);
  EXPECT_EQ(reports.back().broker_reason, std::string_view("INSUFFICIENT_MARGIN"));
}

// OANDA only for now: on Binance the adapter's background polls make an
// order often go out on a connection the server is just closing; it is then
// reported NOT_PLACED (never resent), which this story does not expect.
TEST_F(OandaSim, IdleClosesByTheServerAreReopenedWithoutLosingOrders) {
  start({"--idle-close-ms", "150"});
  for (int i = 0; i < 5; ++i) {
    // Each order goes out after the server closed an idle connection.
    const long long before = sim_stat("idle_closes");
    ASSERT_GE(before, 0);
    ASSERT_TRUE(eventually([&] { return sim_stat("idle_closes") > before; })) << logs_.dump();
    const std::string id = "o-idle-" + std::to_string(i);
    submit(market("fx", "EUR/USD", Side::buy, "1000", id));
    const auto reports = until_terminal(id);
    ASSERT_FALSE(reports.empty());
    EXPECT_EQ(reports.back().status, ExecStatus::filled) << logs_.dump();
    EXPECT_LE(sim_orders(id), 1);
    // Flat again: the adapter reads the transactions while a position is
    // open, which would keep the connections busy.
    submit(market("fx", "EUR/USD", Side::sell, "1000", id + "-flat"));
    ASSERT_FALSE(until_terminal(id + "-flat").empty());
  }
}

// --- amends: PUT /v3/accounts/{id}/orders/{orderSpecifier} ----------------

class OandaAmend : public OandaSim {
 protected:
  // A resting buy below the market, acknowledged.
  void rest(const std::string& id, const char* quantity = "5000") {
    submit(limit("fx", "EUR/USD", Side::buy, quantity, "1.08400", id));
    ASSERT_TRUE(wait_status(id, ExecStatus::new_order)) << logs_.dump();
  }
  Verdict amend(std::string_view from, std::string_view to, const char* quantity, const char* price) {
    ReplaceRequest request;
    request.client_order_id = from;
    request.new_client_order_id = to;
    if (quantity != nullptr) request.quantity = decimal_literal(quantity);
    if (price != nullptr) request.price = decimal_literal(price);
    const Verdict verdict = session_.replace(request);
    EXPECT_TRUE(verdict.accepted()) << reason_name(verdict.reason);
    return verdict;
  }
  // The report of `client_order_id` with `status`, waiting for it.
  ExecutionReport report_of(std::string_view client_order_id, ExecStatus status) {
    EXPECT_TRUE(seen(client_order_id, status) || wait_status(client_order_id, status))
        << to_string(status) << " of " << client_order_id << "\n"
        << logs_.dump();
    for (auto it = reports_.rbegin(); it != reports_.rend(); ++it) {
      if (it->client_order_id == client_order_id && it->status == status) return *it;
    }
    return {};
  }
  bool seen(std::string_view client_order_id, ExecStatus status) const {
    return std::any_of(reports_.begin(), reports_.end(), [&](const ExecutionReport& report) {
      return report.client_order_id == client_order_id && report.status == status;
    });
  }
  // The statuses reported for `client_order_id` so far, in order.
  std::vector<ExecStatus> statuses(std::string_view client_order_id) const {
    std::vector<ExecStatus> out;
    for (const ExecutionReport& report : reports_) {
      if (report.client_order_id == client_order_id) out.push_back(report.status);
    }
    return out;
  }
  void arm(const std::string& faults) {
    TlsClient admin(sim_->port(), sim_->ca_file());
    ASSERT_EQ(admin.request("POST", "/sim/faults", faults).status, 200);
  }
  // A field of the simulator's order the adapter sent for `client_order_id`.
  std::string sim_field(const std::string& client_order_id, const std::string& field) {
    const std::string venue_id = venue_client_id(client_order_id);
    if (venue_id.empty()) return "no venue id";
    TlsClient admin(sim_->port(), sim_->ca_file());
    const auto reply = admin.request("GET", "/sim/orders?client_order_id=" + venue_id);
    const std::string key = "\"" + field + "\":\"";
    const auto at = reply.body.find(key);
    if (at == std::string::npos) return "none";
    return reply.body.substr(at + key.size(), reply.body.find('"', at + key.size()) - at - key.size());
  }
  std::string sim_state(const std::string& client_order_id) { return sim_field(client_order_id, "state"); }
  // Cancels `client_order_id` through the gateway and expects CANCELED, at
  // OANDA too.
  void cancel_and_expect_cancelled(const std::string& client_order_id) {
    ASSERT_TRUE(session_.cancel(client_order_id).accepted());
    const auto reports = until_terminal(client_order_id);
    ASSERT_FALSE(reports.empty());
    EXPECT_EQ(reports.back().status, ExecStatus::canceled) << logs_.dump();
    EXPECT_EQ(sim_state(client_order_id), "CANCELLED");
  }
};

TEST_F(OandaAmend, AReplacedOrderWorksAtOandaUnderItsNewIdAndTermsAndCancelsByIt) {
  start();
  rest("o-amend-1");
  amend("o-amend-1", "o-amend-2", "7000", "1.08410");
  const ExecutionReport pending = report_of("o-amend-2", ExecStatus::pending_replace);
  EXPECT_EQ(pending.other_client_order_id, std::string_view("o-amend-1"));
  const ExecutionReport replaced = report_of("o-amend-2", ExecStatus::replaced);
  EXPECT_EQ(replaced.other_client_order_id, std::string_view("o-amend-1"));
  EXPECT_EQ(replaced.leaves_quantity, decimal_literal("7000"));
  EXPECT_TRUE(replaced.cumulative_quantity.is_zero());
  EXPECT_FALSE(replaced.broker_order_id.empty());
  EXPECT_FALSE(seen("o-amend-1", ExecStatus::canceled)) << "the original retires without a report";
  EXPECT_EQ(sim_state("o-amend-1"), "CANCELLED");
  EXPECT_EQ(sim_state("o-amend-2"), "PENDING");
  EXPECT_EQ(sim_field("o-amend-2", "units"), "7000");
  EXPECT_EQ(session_.cancel("o-amend-1").reason, Reason::UNKNOWN_ORDER);

  // Amended again, by price alone and then by quantity alone: OANDA replaces
  // the replacement by its own order id.
  amend("o-amend-2", "o-amend-3", nullptr, "1.08420");
  const ExecutionReport by_price = report_of("o-amend-3", ExecStatus::replaced);
  EXPECT_EQ(by_price.other_client_order_id, std::string_view("o-amend-2"));
  EXPECT_EQ(by_price.leaves_quantity, decimal_literal("7000"));
  EXPECT_NE(by_price.broker_order_id, replaced.broker_order_id);
  amend("o-amend-3", "o-amend-4", "3000", nullptr);
  const ExecutionReport by_quantity = report_of("o-amend-4", ExecStatus::replaced);
  EXPECT_EQ(by_quantity.leaves_quantity, decimal_literal("3000"));
  EXPECT_EQ(sim_state("o-amend-2"), "CANCELLED");
  EXPECT_EQ(sim_state("o-amend-3"), "CANCELLED");
  EXPECT_EQ(sim_field("o-amend-4", "units"), "3000");
  for (const char* old : {"o-amend-1", "o-amend-2", "o-amend-3"}) {
    EXPECT_EQ(statuses(old).size(), std::string_view(old) == "o-amend-1" ? 1U : 2U)
        << old << ": no report of its own beyond NEW / PENDING_REPLACE and REPLACED";
  }
  cancel_and_expect_cancelled("o-amend-4");
}

TEST_F(OandaAmend, AMarketableReplacementIsReplacedThenFilledAndBookedOnce) {
  start();
  rest("o-fill-1");
  amend("o-fill-1", "o-fill-2", nullptr, "1.08500");
  const auto reports = until_terminal("o-fill-2");
  ASSERT_FALSE(reports.empty());
  const std::vector<ExecStatus> expected = {ExecStatus::pending_replace, ExecStatus::replaced, ExecStatus::filled};
  EXPECT_EQ(statuses("o-fill-2"), expected) << logs_.dump();
  EXPECT_EQ(reports.back().last_quantity, decimal_literal("5000"));
  EXPECT_EQ(reports.back().last_price, decimal_literal("1.0846")) << "at the ask";
  EXPECT_EQ(reports.back().cumulative_quantity, decimal_literal("5000"));
  EXPECT_TRUE(reports.back().leaves_quantity.is_zero());
  EXPECT_EQ(sim_state("o-fill-2"), "FILLED");
  // The fill is in the account's history too, which the adapter keeps
  // reading while the position is open: it is not booked a second time.
  const long long requests = sim_stat("requests");
  ASSERT_TRUE(eventually([&] { return sim_stat("requests") > requests + 20; })) << logs_.dump();
  EXPECT_EQ(gateway_->exposure("fx", "EUR/USD").position, decimal_literal("5000"));
  ExecutionReport report;
  while (session_.poll(report)) reports_.push_back(report);
  EXPECT_FALSE(std::any_of(reports_.begin(), reports_.end(),
                           [](const ExecutionReport& r) { return r.kind == ReportKind::position_fill; }));
}

// The reply is slow: the transaction poll reads the amend's transactions
// first (the original's cancel for it, the replacement's create and fill).
// They are kept with the amend, so the original does not end on its own and
// the fill is neither a fill of no order nor booked twice.
TEST_F(OandaAmend, AnAmendSeenInTheTransactionsBeforeItsReplyIsOneReplaceAndOneFill) {
  start({"--stall-ms", "600", "--stall-path", std::string("/v3/accounts/") + kOandaAccount + "/orders/"});
  rest("o-slow-1");
  amend("o-slow-1", "o-slow-2", nullptr, "1.08500");
  const auto reports = until_terminal("o-slow-2");
  ASSERT_FALSE(reports.empty());
  const std::vector<ExecStatus> expected = {ExecStatus::pending_replace, ExecStatus::replaced, ExecStatus::filled};
  EXPECT_EQ(statuses("o-slow-2"), expected) << logs_.dump();
  EXPECT_EQ(statuses("o-slow-1"), std::vector<ExecStatus>{ExecStatus::new_order}) << logs_.dump();
  EXPECT_EQ(reports.back().cumulative_quantity, decimal_literal("5000"));
  const long long requests = sim_stat("requests");
  ASSERT_TRUE(eventually([&] { return sim_stat("requests") > requests + 20; })) << logs_.dump();
  EXPECT_EQ(gateway_->exposure("fx", "EUR/USD").position, decimal_literal("5000"));
  ExecutionReport report;
  while (session_.poll(report)) reports_.push_back(report);
  EXPECT_FALSE(std::any_of(reports_.begin(), reports_.end(),
                           [](const ExecutionReport& r) { return r.kind == ReportKind::position_fill; }));
}

TEST_F(OandaAmend, ACancelOandaRefusesLeavesTheOrderWorkingUnchanged) {
  start();
  rest("o-cr-1");
  arm(R"({"fail_next_replace_cancel":1})");
  amend("o-cr-1", "o-cr-2", "7000", "1.08410");
  const ExecutionReport refused = report_of("o-cr-1", ExecStatus::replace_rejected);
  EXPECT_EQ(refused.reason, Reason::BROKER_REJECTED);
  EXPECT_EQ(refused.broker_reason, std::string_view("ORDER_DOESNT_EXIST"));
  EXPECT_EQ(refused.other_client_order_id, std::string_view("o-cr-2"));
  EXPECT_EQ(refused.leaves_quantity, decimal_literal("5000"));
  EXPECT_FALSE(seen("o-cr-1", ExecStatus::canceled));
  EXPECT_EQ(sim_state("o-cr-1"), "PENDING");
  EXPECT_EQ(sim_field("o-cr-1", "units"), "5000");
  EXPECT_EQ(sim_orders("o-cr-2"), 0);
  cancel_and_expect_cancelled("o-cr-1");
}

TEST_F(OandaAmend, AnOrderThatFilledAtOandaIsNoLongerAmendable) {
  start();
  rest("o-gone-1");
  set_price("oanda", "EUR_USD", "1.08390", "1.08395");  // through the limit
  const auto reports = until_terminal("o-gone-1");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::filled) << logs_.dump();
  ReplaceRequest request;
  request.client_order_id = "o-gone-1";
  request.new_client_order_id = "o-gone-2";
  request.price = decimal_literal("1.08410");
  EXPECT_EQ(session_.replace(request).reason, Reason::UNKNOWN_ORDER);
}

TEST_F(OandaAmend, AnInvalidReplacementIsRefusedAndTheOrderWorksOn) {
  start();
  rest("o-inv-1");
  // The gateway's tick is finer than OANDA's: OANDA refuses the replacement.
  amend("o-inv-1", "o-inv-2", nullptr, "1.084005");
  const ExecutionReport refused = report_of("o-inv-1", ExecStatus::replace_rejected);
  EXPECT_EQ(refused.reason, Reason::BROKER_REJECTED);
  EXPECT_EQ(refused.broker_reason, std::string_view("PRICE_PRECISION_EXCEEDED"));
  EXPECT_EQ(refused.other_client_order_id, std::string_view("o-inv-2"));
  EXPECT_EQ(sim_state("o-inv-1"), "PENDING");
  EXPECT_EQ(sim_orders("o-inv-2"), 0);
  cancel_and_expect_cancelled("o-inv-1");
}

TEST_F(OandaAmend, AReplacementRejectedAfterTheCancelEndsTheOriginalThenRefusesTheAmend) {
  start();
  rest("o-nf-1");
  arm(R"({"fail_next_replace_new":1})");
  amend("o-nf-1", "o-nf-2", "7000", "1.08410");
  ASSERT_TRUE(wait_status("o-nf-1", ExecStatus::replace_rejected)) << logs_.dump();
  const std::vector<ExecStatus> expected = {ExecStatus::new_order, ExecStatus::canceled,
                                            ExecStatus::replace_rejected};
  EXPECT_EQ(statuses("o-nf-1"), expected) << logs_.dump();
  const ExecutionReport cancelled = report_of("o-nf-1", ExecStatus::canceled);
  EXPECT_EQ(cancelled.broker_reason, std::string_view("CLIENT_REQUEST_REPLACED"));
  const ExecutionReport refused = report_of("o-nf-1", ExecStatus::replace_rejected);
  EXPECT_EQ(refused.broker_reason, std::string_view("INSUFFICIENT_MARGIN"));
  EXPECT_EQ(refused.other_client_order_id, std::string_view("o-nf-2"));
  EXPECT_EQ(sim_state("o-nf-1"), "CANCELLED");
  EXPECT_EQ(sim_orders("o-nf-2"), 0);
  EXPECT_EQ(session_.cancel("o-nf-1").reason, Reason::UNKNOWN_ORDER);
}

// A lost reply is settled from the account's transactions: the amend is
// never resent.
TEST_F(OandaAmend, ALostReplyOfAnAmendThatWentThroughIsReplaced) {
  start();
  rest("o-lost-ok-1");
  arm(R"({"fail_next_orders":1,"after_place":true})");
  amend("o-lost-ok-1", "o-lost-ok-2", "7000", "1.08410");
  const ExecutionReport replaced = report_of("o-lost-ok-2", ExecStatus::replaced);
  EXPECT_EQ(replaced.leaves_quantity, decimal_literal("7000"));
  EXPECT_EQ(replaced.other_client_order_id, std::string_view("o-lost-ok-1"));
  EXPECT_FALSE(seen("o-lost-ok-1", ExecStatus::canceled));
  EXPECT_TRUE(logs_.contains("its outcome is unknown")) << logs_.dump();
  EXPECT_EQ(sim_state("o-lost-ok-1"), "CANCELLED");
  EXPECT_EQ(sim_state("o-lost-ok-2"), "PENDING");
  EXPECT_EQ(sim_orders("o-lost-ok-2"), 1);
  // It fills under its new id.
  set_price("oanda", "EUR_USD", "1.08400", "1.08405");
  const auto reports = until_terminal("o-lost-ok-2");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::filled) << logs_.dump();
  EXPECT_EQ(reports.back().cumulative_quantity, decimal_literal("7000"));
  EXPECT_EQ(gateway_->exposure("fx", "EUR/USD").position, decimal_literal("7000"));
}

TEST_F(OandaAmend, ALostReplyOfAnAmendThatOnlyCancelledEndsTheOriginal) {
  start();
  rest("o-lost-c-1");
  arm(R"({"fail_next_orders":1,"after_place":true,"fail_next_replace_new":1})");
  amend("o-lost-c-1", "o-lost-c-2", "7000", "1.08410");
  ASSERT_TRUE(wait_status("o-lost-c-1", ExecStatus::replace_rejected)) << logs_.dump();
  const std::vector<ExecStatus> expected = {ExecStatus::new_order, ExecStatus::canceled,
                                            ExecStatus::replace_rejected};
  EXPECT_EQ(statuses("o-lost-c-1"), expected) << logs_.dump();
  EXPECT_EQ(report_of("o-lost-c-1", ExecStatus::replace_rejected).broker_reason,
            std::string_view("INSUFFICIENT_MARGIN"));
  EXPECT_EQ(sim_state("o-lost-c-1"), "CANCELLED");
  EXPECT_EQ(sim_orders("o-lost-c-2"), 0);
}

TEST_F(OandaAmend, ALostReplyOfAnAmendThatDidNothingLeavesTheOrderWorking) {
  start();
  rest("o-lost-none-1");
  arm(R"({"fail_next_orders":1})");
  amend("o-lost-none-1", "o-lost-none-2", "7000", "1.08410");
  const ExecutionReport refused = report_of("o-lost-none-1", ExecStatus::replace_rejected);
  EXPECT_EQ(refused.broker_reason, std::string_view("REPLACE_UNKNOWN"));
  EXPECT_EQ(refused.other_client_order_id, std::string_view("o-lost-none-2"));
  EXPECT_EQ(refused.leaves_quantity, decimal_literal("5000"));
  EXPECT_FALSE(seen("o-lost-none-1", ExecStatus::canceled));
  EXPECT_EQ(sim_state("o-lost-none-1"), "PENDING");
  EXPECT_EQ(sim_orders("o-lost-none-2"), 0);
  cancel_and_expect_cancelled("o-lost-none-1");
}

}  // namespace
}  // namespace ordergate::brokers::testing
