// The gateway trading through the Binance adapter against a real
// ordergate-sim: Binance's own stories; those every REST broker shares are in
// rest_sim_test.cpp.

#include <algorithm>

#include "brokers/broker_test_support.hpp"

namespace ordergate::brokers::testing {
namespace {

using BinanceSim = RestSimTest<BinanceSimVenue>;

TEST_F(BinanceSim, InsufficientBalanceIsBrokerRejectedMinus2010) {
  start();
  submit(limit("crypto", "BTC/USDT", Side::buy, "20", "64000.00", "b-reject-1"));
  const auto reports = until_terminal("b-reject-1");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::rejected);
  EXPECT_EQ(reports.back().reason, Reason::BROKER_REJECTED);
  EXPECT_EQ(reports.back().broker_reason, std::string_view("-2010")) << logs_.dump();
  EXPECT_EQ(sim_orders("b-reject-1"), 0);
}

TEST_F(BinanceSim, TheOrderCountIsTrackedAndOrdersBeyondItAreRefusedBeforeTheBrokerSaysNo) {
  start({"--binance-order-limit", "5", "--binance-order-window-ms", "10000"},
        [](adapters::binance::BinanceSettings& s) { s.order_limit_10s = 5; });
  for (int i = 0; i < 6; ++i) {
    const std::string id = "b-count-" + std::to_string(i);
    submit(market("crypto", "BTC/USDT", Side::buy, "0.001", id));
    const auto reports = until_terminal(id);
    ASSERT_FALSE(reports.empty());
    if (i < 5) {
      EXPECT_EQ(reports.back().status, ExecStatus::filled) << i << logs_.dump();
    } else {
      EXPECT_EQ(reports.back().reason, Reason::BROKER_RATE_LIMITED);
      EXPECT_EQ(reports.back().broker_reason, std::string_view("ORDER_COUNT_LIMIT"));
      EXPECT_EQ(sim_orders(id), 0);
    }
  }
  EXPECT_FALSE(logs_.contains("HTTP 429")) << logs_.dump();
}

TEST_F(BinanceSim, ClockSkewIsLoggedAtStart) {
  // Signed requests are refused at this skew: the account is never reconciled.
  start({"--binance-clock-offset-ms", "-20000"}, {}, /*expect_ready=*/false);
  EXPECT_TRUE(logs_.contains("ms off Binance's server time")) << logs_.dump();
}


// --- amends: POST /api/v3/order/cancelReplace (STOP_ON_FAILURE) -----------

class BinanceAmend : public BinanceSim {
 protected:
  // A resting sell, acknowledged.
  void rest(const std::string& id) {
    submit(limit("crypto", "BTC/USDT", Side::sell, "0.01", "64100.00", id));
    ASSERT_TRUE(wait_status(id, ExecStatus::new_order)) << logs_.dump();
  }
  Verdict amend(std::string_view from, std::string_view to, const char* quantity, const char* price) {
    ReplaceRequest request;
    request.client_order_id = from;
    request.new_client_order_id = to;
    request.quantity = decimal_literal(quantity);
    request.price = decimal_literal(price);
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
  void arm(const std::string& faults) {
    TlsClient admin(sim_->port(), sim_->ca_file());
    ASSERT_EQ(admin.request("POST", "/sim/faults", faults).status, 200);
  }
  // The simulator's state of the order the adapter sent for `client_order_id`.
  std::string sim_state(const std::string& client_order_id) {
    const std::string venue_id = venue_client_id(client_order_id);
    if (venue_id.empty()) return "no venue id";
    TlsClient admin(sim_->port(), sim_->ca_file());
    const auto reply = admin.request("GET", "/sim/orders?client_order_id=" + venue_id);
    const auto at = reply.body.find("\"state\":\"");
    if (at == std::string::npos) return "none";
    return reply.body.substr(at + 9, reply.body.find('"', at + 9) - at - 9);
  }
  std::string sim_quantity(const std::string& client_order_id) {
    TlsClient admin(sim_->port(), sim_->ca_file());
    const auto reply = admin.request("GET", "/sim/orders?client_order_id=" + venue_client_id(client_order_id));
    const auto at = reply.body.find("\"quantity\":\"");
    if (at == std::string::npos) return "none";
    return reply.body.substr(at + 12, reply.body.find('"', at + 12) - at - 12);
  }
};

TEST_F(BinanceAmend, AReplacedOrderWorksAtBinanceUnderItsNewIdAndCancelsByIt) {
  start();
  rest("b-amend-1");
  amend("b-amend-1", "b-amend-2", "0.02", "64200.00");
  const ExecutionReport pending = report_of("b-amend-2", ExecStatus::pending_replace);
  EXPECT_EQ(pending.other_client_order_id, std::string_view("b-amend-1"));
  const ExecutionReport replaced = report_of("b-amend-2", ExecStatus::replaced);
  EXPECT_EQ(replaced.other_client_order_id, std::string_view("b-amend-1"));
  EXPECT_EQ(replaced.leaves_quantity, decimal_literal("0.02"));
  EXPECT_TRUE(replaced.cumulative_quantity.is_zero());
  EXPECT_FALSE(replaced.broker_order_id.empty());
  EXPECT_FALSE(seen("b-amend-1", ExecStatus::canceled)) << "the original retires without a report";
  EXPECT_EQ(sim_state("b-amend-1"), "CANCELED");
  EXPECT_EQ(sim_state("b-amend-2"), "NEW");
  EXPECT_EQ(sim_quantity("b-amend-2"), "0.02");

  EXPECT_EQ(session_.cancel("b-amend-1").reason, Reason::UNKNOWN_ORDER);
  ASSERT_TRUE(session_.cancel("b-amend-2").accepted());
  const auto reports = until_terminal("b-amend-2");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::canceled) << logs_.dump();
  EXPECT_EQ(sim_state("b-amend-2"), "CANCELED");
}

TEST_F(BinanceAmend, APartFilledOrderIsReplacedByAnOrderForWhatTheNewTotalLeaves) {
  start();
  // 2 BTC trade at the bid on arrival (the book's depth), 1 rests.
  submit(limit("crypto", "BTC/USDT", Side::sell, "3", "64000.00", "b-pf-1"));
  ASSERT_TRUE(wait_status("b-pf-1", ExecStatus::partially_filled)) << logs_.dump();
  amend("b-pf-1", "b-pf-2", "4", "64100.00");
  const ExecutionReport replaced = report_of("b-pf-2", ExecStatus::replaced);
  EXPECT_EQ(replaced.cumulative_quantity, decimal_literal("2"));
  EXPECT_EQ(replaced.leaves_quantity, decimal_literal("2"));
  // Binance does not carry fills over: the new order is for the 2 left.
  EXPECT_EQ(decimal_literal(sim_quantity("b-pf-2")), decimal_literal("2"));
  EXPECT_EQ(sim_state("b-pf-2"), "NEW");
  // It fills under its new id, its cumulative quantity counting the original's.
  set_price("binance", "BTCUSDT", "64110.00", "64120.00");
  const auto reports = until_terminal("b-pf-2");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::filled) << logs_.dump();
  EXPECT_EQ(reports.back().cumulative_quantity, decimal_literal("4"));
  EXPECT_TRUE(reports.back().leaves_quantity.is_zero());
}

TEST_F(BinanceAmend, ACancelThatFailsLeavesTheOrderWorkingUnchanged) {
  start();
  rest("b-cf-1");
  arm(R"({"fail_next_replace_cancel":1})");
  amend("b-cf-1", "b-cf-2", "0.02", "64200.00");
  const ExecutionReport refused = report_of("b-cf-1", ExecStatus::replace_rejected);
  EXPECT_EQ(refused.reason, Reason::BROKER_REJECTED);
  EXPECT_EQ(refused.broker_reason, std::string_view("-2011"));
  EXPECT_EQ(refused.other_client_order_id, std::string_view("b-cf-2"));
  EXPECT_EQ(refused.leaves_quantity, decimal_literal("0.01"));
  EXPECT_FALSE(seen("b-cf-1", ExecStatus::canceled));
  EXPECT_EQ(sim_state("b-cf-1"), "NEW");
  EXPECT_EQ(sim_orders("b-cf-2"), 0);
  // It still works, and cancels, under its old id.
  ASSERT_TRUE(session_.cancel("b-cf-1").accepted());
  const auto reports = until_terminal("b-cf-1");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::canceled) << logs_.dump();
  EXPECT_EQ(sim_state("b-cf-1"), "CANCELED");
}

TEST_F(BinanceAmend, AnOrderThatFilledAtBinanceIsNoLongerAmendable) {
  start();
  rest("b-gone-1");
  // The book moves through the order: Binance fills it before the amend.
  set_price("binance", "BTCUSDT", "64110.00", "64120.00");
  const auto reports = until_terminal("b-gone-1");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::filled) << logs_.dump();
  ReplaceRequest request;
  request.client_order_id = "b-gone-1";
  request.new_client_order_id = "b-gone-2";
  request.price = decimal_literal("64200.00");
  EXPECT_EQ(session_.replace(request).reason, Reason::UNKNOWN_ORDER);
}

TEST_F(BinanceAmend, ANewOrderThatFailsAfterTheCancelEndsTheOriginalThenRefusesTheAmend) {
  start();
  rest("b-nf-1");
  arm(R"({"fail_next_replace_new":1})");
  amend("b-nf-1", "b-nf-2", "0.02", "64200.00");
  ASSERT_TRUE(wait_status("b-nf-1", ExecStatus::replace_rejected)) << logs_.dump();
  std::vector<ExecStatus> order;
  for (const ExecutionReport& report : reports_) {
    if (report.client_order_id == "b-nf-1" && report.status != ExecStatus::new_order) order.push_back(report.status);
  }
  ASSERT_EQ(order.size(), 2U) << logs_.dump();
  EXPECT_EQ(order[0], ExecStatus::canceled);
  EXPECT_EQ(order[1], ExecStatus::replace_rejected);
  const ExecutionReport refused = report_of("b-nf-1", ExecStatus::replace_rejected);
  EXPECT_EQ(refused.broker_reason, std::string_view("-2010"));
  EXPECT_EQ(refused.other_client_order_id, std::string_view("b-nf-2"));
  EXPECT_EQ(sim_state("b-nf-1"), "CANCELED");
  EXPECT_EQ(sim_orders("b-nf-2"), 0);
  EXPECT_EQ(session_.cancel("b-nf-1").reason, Reason::UNKNOWN_ORDER);
}

TEST_F(BinanceAmend, WhenBothFailTheOrderWorksOnUnchanged) {
  start();
  rest("b-bf-1");
  arm(R"({"fail_next_replace_cancel":1,"fail_next_replace_new":1})");
  amend("b-bf-1", "b-bf-2", "0.02", "64200.00");
  const ExecutionReport refused = report_of("b-bf-1", ExecStatus::replace_rejected);
  EXPECT_EQ(refused.reason, Reason::BROKER_REJECTED);
  EXPECT_EQ(refused.broker_reason, std::string_view("-2010"));
  EXPECT_FALSE(seen("b-bf-1", ExecStatus::canceled));
  EXPECT_EQ(sim_state("b-bf-1"), "NEW");
  EXPECT_EQ(sim_orders("b-bf-2"), 0);
}

// A lost reply is settled by looking both orders up once recvWindow passed
// (short here): the amend is never resent.
TEST_F(BinanceAmend, ALostReplyOfAnAmendThatWentThroughIsReplaced) {
  start({}, [](adapters::binance::BinanceSettings& s) { s.recv_window_ms = 200; });
  rest("b-lost-ok-1");
  arm(R"({"fail_next_orders":1,"after_place":true})");
  amend("b-lost-ok-1", "b-lost-ok-2", "0.02", "64200.00");
  const ExecutionReport replaced = report_of("b-lost-ok-2", ExecStatus::replaced);
  EXPECT_EQ(replaced.leaves_quantity, decimal_literal("0.02"));
  EXPECT_EQ(replaced.other_client_order_id, std::string_view("b-lost-ok-1"));
  EXPECT_FALSE(seen("b-lost-ok-1", ExecStatus::canceled));
  EXPECT_EQ(sim_state("b-lost-ok-1"), "CANCELED");
  EXPECT_EQ(sim_state("b-lost-ok-2"), "NEW");
  EXPECT_EQ(sim_orders("b-lost-ok-2"), 1);
  ASSERT_TRUE(session_.cancel("b-lost-ok-2").accepted());
  const auto reports = until_terminal("b-lost-ok-2");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::canceled) << logs_.dump();
  EXPECT_EQ(sim_state("b-lost-ok-2"), "CANCELED");
}

TEST_F(BinanceAmend, ALostReplyOfAnAmendThatOnlyCancelledEndsTheOriginal) {
  start({}, [](adapters::binance::BinanceSettings& s) { s.recv_window_ms = 200; });
  rest("b-lost-1");
  arm(R"({"fail_next_orders":1,"after_place":true,"fail_next_replace_new":1})");
  amend("b-lost-1", "b-lost-2", "0.02", "64200.00");
  ASSERT_TRUE(wait_status("b-lost-1", ExecStatus::replace_rejected)) << logs_.dump();
  EXPECT_TRUE(seen("b-lost-1", ExecStatus::canceled)) << logs_.dump();
  EXPECT_EQ(report_of("b-lost-1", ExecStatus::replace_rejected).broker_reason, std::string_view("REPLACE_UNKNOWN"));
  EXPECT_EQ(sim_state("b-lost-1"), "CANCELED");
  EXPECT_EQ(sim_orders("b-lost-2"), 0);
}

TEST_F(BinanceAmend, ALostReplyOfAnAmendThatDidNothingLeavesTheOrderWorking) {
  start({}, [](adapters::binance::BinanceSettings& s) { s.recv_window_ms = 200; });
  rest("b-lost-none-1");
  arm(R"({"fail_next_orders":1})");
  amend("b-lost-none-1", "b-lost-none-2", "0.02", "64200.00");
  const ExecutionReport refused = report_of("b-lost-none-1", ExecStatus::replace_rejected);
  EXPECT_EQ(refused.broker_reason, std::string_view("REPLACE_UNKNOWN"));
  EXPECT_EQ(refused.leaves_quantity, decimal_literal("0.01"));
  EXPECT_FALSE(seen("b-lost-none-1", ExecStatus::canceled));
  EXPECT_EQ(sim_state("b-lost-none-1"), "NEW");
  EXPECT_EQ(sim_orders("b-lost-none-2"), 0);
  ASSERT_TRUE(session_.cancel("b-lost-none-1").accepted());
  const auto reports = until_terminal("b-lost-none-1");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::canceled) << logs_.dump();
}

}  // namespace
}  // namespace ordergate::brokers::testing
