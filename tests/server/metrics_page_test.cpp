#include "metrics_page.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>

#include "ordergate/gateway/default_config.hpp"
#include "ordergate/server/config_file.hpp"
#include "ordergate/server/server.hpp"
#include "server/http_test_support.hpp"

namespace ordergate::server_detail {
namespace {

using testing::body_of;
using testing::http_exchange;
using testing::http_get;
using testing::status_of;

OrderRequest market(std::string_view id, std::string_view symbol = "EURUSD") {
  OrderRequest request;
  request.account = "paper";
  request.symbol = symbol;
  request.side = Side::buy;
  request.type = OrderType::market;
  request.time_in_force = TimeInForce::ioc;
  request.quantity = decimal_literal("1000");
  request.client_order_id = id;
  return request;
}

bool contains(const std::string& text, const std::string& line) { return text.find(line) != std::string::npos; }

class MetricsPageTest : public ::testing::Test {
 protected:
  MetricsPageTest() : gateway_(make_default_config()) { gateway_.start(); }
  Gateway gateway_;
};

TEST_F(MetricsPageTest, CountsAcceptedAndRejectedOrdersByPrincipalAccountResultAndReason) {
  Session session = gateway_.open_session(kDefaultPrincipal);
  ASSERT_TRUE(session.submit(market("ok-1")).accepted());
  ASSERT_TRUE(session.submit(market("ok-2")).accepted());
  EXPECT_EQ(session.submit(market("ok-1")).reason, Reason::DUPLICATE_CLIENT_ORDER_ID);
  EXPECT_EQ(session.submit(market("bad-1", "XAUUSD")).reason, Reason::UNKNOWN_INSTRUMENT);
  EXPECT_EQ(session.cancel("none").reason, Reason::UNKNOWN_ORDER);
  ReplaceRequest amend;
  amend.client_order_id = "none";
  amend.new_client_order_id = "none-2";
  amend.quantity = decimal_literal("2000");
  EXPECT_EQ(session.replace(amend).reason, Reason::UNKNOWN_ORDER);

  ProcessMetrics process;
  process.version = "9.8.7";
  process.start_time_seconds = 1700000000.5;
  const std::string text = render_metrics(gateway_, gateway_.metrics(), process);
  EXPECT_TRUE(contains(text, "ordergate_orders_total{principal=\"dev\",account=\"paper\",result=\"accepted\",reason=\"OK\"} 2\n"));
  EXPECT_TRUE(contains(text, "ordergate_orders_total{principal=\"dev\",account=\"paper\",result=\"rejected\","
                             "reason=\"DUPLICATE_CLIENT_ORDER_ID\"} 1\n"));
  EXPECT_TRUE(contains(text, "ordergate_orders_total{principal=\"dev\",account=\"\",result=\"rejected\","
                             "reason=\"UNKNOWN_INSTRUMENT\"} 1\n"));
  EXPECT_TRUE(contains(text, "ordergate_cancels_total{principal=\"dev\",account=\"\",result=\"rejected\","
                             "reason=\"UNKNOWN_ORDER\"} 1\n"));
  EXPECT_TRUE(contains(text, "# TYPE ordergate_replaces_total counter\n"));
  EXPECT_TRUE(contains(text, "ordergate_replaces_total{principal=\"dev\",account=\"\",result=\"rejected\","
                             "reason=\"UNKNOWN_ORDER\"} 1\n"));
  EXPECT_TRUE(contains(text, "ordergate_rate_limit_remaining{principal=\"dev\",kind=\"replaces\",window=\"50/1s\"}"));
  // Sampled (one submit in 16 per session, the first included).
  EXPECT_TRUE(contains(text, "ordergate_guard_latency_sample 16\n"));
  EXPECT_TRUE(contains(text, "ordergate_guard_latency_seconds_count 1\n"));
  EXPECT_TRUE(contains(text, "ordergate_guard_latency_seconds_bucket{le=\"+Inf\"} 1\n"));
  EXPECT_TRUE(contains(text, "# TYPE ordergate_guard_latency_seconds histogram\n"));
  EXPECT_TRUE(contains(text, "ordergate_build_info{version=\"9.8.7\"} 1\n"));
  EXPECT_TRUE(contains(text, "process_start_time_seconds 1700000000.5\n"));
  EXPECT_TRUE(contains(text, "ordergate_trading_state{scope=\"global\"} 0\n"));
  EXPECT_TRUE(contains(text, "ordergate_sessions{principal=\"dev\"} 1\n"));
  EXPECT_TRUE(contains(text, "ordergate_ready 1\n"));
  EXPECT_TRUE(contains(text, "ordergate_audit_enabled 0\n"));
  // Two orders and a refused one (a duplicate, refused before the windows)
  // of the default principal's window.
  EXPECT_TRUE(contains(text, "# TYPE ordergate_rate_limit_remaining gauge\n"));
  EXPECT_TRUE(contains(text, "ordergate_rate_limit_remaining{principal=\"dev\",kind=\"orders\",window=\""));
}

TEST_F(MetricsPageTest, ShowsTradingStatesAsNumbers) {
  gateway_.set_trading_state(TradingScope::account("paper"), guards::TradingState::reducing);
  gateway_.set_trading_state(TradingScope::global(), guards::TradingState::halted);
  const std::string text = render_metrics(gateway_, gateway_.metrics(), ProcessMetrics{});
  EXPECT_TRUE(contains(text, "ordergate_trading_state{scope=\"global\"} 2\n"));
  EXPECT_TRUE(contains(text, "ordergate_trading_state{scope=\"account:paper\"} 1\n"));
  EXPECT_TRUE(contains(text, "ordergate_trading_state{scope=\"principal:dev\"} 0\n"));
}

TEST(MetricsPage, AccountLimitFiguresAreShownForAccountsWithACurrency) {
  GatewayConfig config = make_default_config();
  config.accounts.front().currency = "USD";
  config.accounts.front().max_gross_notional = decimal_literal("10000000");
  Gateway gateway(config);
  gateway.start();
  Session session = gateway.open_session(kDefaultPrincipal);
  ASSERT_TRUE(session.submit(market("pnl-1")).accepted());
  // Bought at the ask, valued at the mid: a small loss once the fill is booked.
  const auto priced = [&] {
    const Gateway::AccountRisk risk = gateway.account_risk("paper");
    return risk.pnl_known && risk.daily_pnl.is_negative();
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!priced() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_TRUE(priced());
  const std::string text = render_metrics(gateway, gateway.metrics(), ProcessMetrics{});
  EXPECT_TRUE(contains(text, "# TYPE ordergate_account_daily_pnl gauge\n"));
  EXPECT_TRUE(contains(text, "ordergate_account_daily_pnl{account=\"paper\",currency=\"USD\"} -"));
  EXPECT_TRUE(contains(text, "ordergate_account_gross_notional{account=\"paper\",currency=\"USD\"} "));
  EXPECT_TRUE(contains(text, "ordergate_account_loss_switch{account=\"paper\"} 0\n"));
  // The default account has no currency: none of these families.
  Gateway plain(make_default_config());
  const std::string plain_text = render_metrics(plain, plain.metrics(), ProcessMetrics{});
  EXPECT_FALSE(contains(plain_text, "ordergate_account_daily_pnl"));
  EXPECT_FALSE(contains(plain_text, "ordergate_account_loss_switch"));
}

TEST(MetricsPage, AClusterMembersLeasesAreShownByAccountAndWindow) {
  GatewayConfig config = make_default_config();
  config.account_rate_limits = {"100/1s", "3000/1m"};
  Gateway plain(config);
  EXPECT_FALSE(contains(render_metrics(plain, plain.metrics(), ProcessMetrics{}), "ordergate_budget_lease_tokens"));
  Gateway member(config);
  member.share_account_budgets();
  member.start();
  member.grant_budget(0, 0, 4);
  member.grant_budget(0, 1, 150);
  Session session = member.open_session(kDefaultPrincipal);
  ASSERT_TRUE(session.submit(market("lease-1")).accepted());
  const std::string text = render_metrics(member, member.metrics(), ProcessMetrics{});
  EXPECT_TRUE(contains(text, "# TYPE ordergate_budget_lease_tokens gauge\n"));
  EXPECT_TRUE(contains(text, "ordergate_budget_lease_tokens{account=\"paper\",window=\"100/1s\"} 3\n"));
  EXPECT_TRUE(contains(text, "ordergate_budget_lease_tokens{account=\"paper\",window=\"3000/1m\"} 149\n"));
}

TEST(MetricsPage, AClusterMembersPrincipalLeasesAreShownByPrincipalAndWindow) {
  Gateway member(make_default_config());
  member.share_principal_budgets();
  member.start();
  member.grant_principal_budget(0, 1, 7);
  const std::string text = render_metrics(member, member.metrics(), ProcessMetrics{});
  EXPECT_TRUE(contains(text, "ordergate_budget_lease_tokens{principal=\"dev\",window=\"50/1s\"} 0\n")) << text;
  EXPECT_TRUE(contains(text, "ordergate_budget_lease_tokens{principal=\"dev\",window=\"600/1m\"} 7\n"));
  EXPECT_FALSE(contains(text, "ordergate_budget_lease_tokens{account="));
}

TEST(MetricsPage, AClusterMembersExposureLeasesAndUseAreShownByAccountLimitAndInstrument) {
  GatewayConfig config = make_default_config();
  Gateway plain(config);
  EXPECT_FALSE(contains(render_metrics(plain, plain.metrics(), ProcessMetrics{}), "ordergate_exposure_lease"));
  config.accounts.front().currency = "USD";
  config.accounts.front().max_gross_notional = decimal_literal("2000000");
  Gateway member(config);
  member.share_account_exposure();
  member.start();
  member.grant_exposure(0, Gateway::ExposureLimit::position, 0, decimal_literal("250000"));
  member.grant_exposure(0, Gateway::ExposureLimit::open_orders, 0, decimal_literal("3"));
  member.grant_exposure(0, Gateway::ExposureLimit::gross_notional, 0, decimal_literal("1500000.5"));
  const std::string text = render_metrics(member, member.metrics(), ProcessMetrics{});
  EXPECT_TRUE(contains(text, "# TYPE ordergate_exposure_lease gauge\n"));
  EXPECT_TRUE(contains(text, "ordergate_exposure_lease{account=\"paper\",limit=\"position\",instrument=\"EUR/USD\"} 250000\n"))
      << text;
  EXPECT_TRUE(contains(text, "ordergate_exposure_lease{account=\"paper\",limit=\"open_orders\",instrument=\"EUR/USD\"} 3\n"));
  EXPECT_TRUE(contains(text, "ordergate_exposure_lease{account=\"paper\",limit=\"gross_notional\"} 1500000.5\n"));
  EXPECT_TRUE(contains(text, "ordergate_exposure_used{account=\"paper\",limit=\"position\",instrument=\"EUR/USD\"} 0\n"));
}

TEST_F(MetricsPageTest, ReadinessNamesEachComponentAndAnUnhealthyJournalBlocksIt) {
  const Readiness disabled = check_readiness(gateway_, gateway_.metrics(), JournalState::disabled);
  EXPECT_TRUE(disabled.ready);
  EXPECT_EQ(disabled.json,
            "{\"status\":\"ready\",\"accounts\":{\"paper\":\"ready\"},\"brokers\":{\"paper\":\"reconciled\"},"
            "\"journal\":\"disabled\"}\n");
  const Readiness unhealthy = check_readiness(gateway_, gateway_.metrics(), JournalState::unhealthy);
  EXPECT_FALSE(unhealthy.ready);
  EXPECT_TRUE(contains(unhealthy.json, "\"status\":\"not_ready\""));
  EXPECT_TRUE(contains(unhealthy.json, "\"journal\":\"unhealthy\""));
}

TEST_F(MetricsPageTest, ABrokerWithoutAConnectionBlocksReadinessAndIsShownAsDisconnected) {
  GatewayMetrics metrics = gateway_.metrics();
  ASSERT_EQ(metrics.broker_connected.size(), 1u);
  metrics.broker_connected[0] = false;  // as a network adapter reports a lost venue
  const Readiness readiness = check_readiness(gateway_, metrics, JournalState::healthy);
  EXPECT_FALSE(readiness.ready);
  EXPECT_TRUE(contains(readiness.json, "\"brokers\":{\"paper\":\"disconnected\"}"));
  const std::string text = render_metrics(gateway_, metrics, ProcessMetrics{});
  EXPECT_TRUE(contains(text, "ordergate_broker_connected{broker=\"paper\"} 0\n"));
  EXPECT_TRUE(contains(text, "ordergate_broker_connections{broker=\"paper\",state=\"connected\"} 0\n"));
  EXPECT_TRUE(contains(text, "ordergate_broker_connections{broker=\"paper\",state=\"disconnected\"} 1\n"));
  EXPECT_TRUE(contains(text, "ordergate_ready 0\n"));
  metrics.broker_connected[0] = true;
  const std::string up = render_metrics(gateway_, metrics, ProcessMetrics{});
  EXPECT_TRUE(contains(up, "ordergate_broker_connections{broker=\"paper\",state=\"connected\"} 1\n"));
  EXPECT_TRUE(contains(up, "ordergate_broker_connections{broker=\"paper\",state=\"disconnected\"} 0\n"));
}

TEST_F(MetricsPageTest, TheJournalsBacklogAndFsyncLatencyAreShownOnlyWithAJournal) {
  ProcessMetrics process;
  EXPECT_FALSE(contains(render_metrics(gateway_, gateway_.metrics(), process), "ordergate_audit_fsync_seconds"));
  process.journal = JournalState::healthy;
  process.audit_queue_depth = 7;
  process.audit_syncs.buckets[0] = 3;  // up to 50 us
  process.audit_syncs.buckets[4] = 1;  // up to 1 ms
  process.audit_syncs.sum_ns = 1'000'000;
  const std::string text = render_metrics(gateway_, gateway_.metrics(), process);
  EXPECT_TRUE(contains(text, "ordergate_audit_queue_depth 7\n"));
  EXPECT_TRUE(contains(text, "# TYPE ordergate_audit_fsync_seconds histogram\n"));
  EXPECT_TRUE(contains(text, "ordergate_audit_fsync_seconds_bucket{le=\"5e-05\"} 3\n")) << text;
  EXPECT_TRUE(contains(text, "ordergate_audit_fsync_seconds_bucket{le=\"0.001\"} 4\n"));
  EXPECT_TRUE(contains(text, "ordergate_audit_fsync_seconds_bucket{le=\"+Inf\"} 4\n"));
  EXPECT_TRUE(contains(text, "ordergate_audit_fsync_seconds_count 4\n"));
  EXPECT_TRUE(contains(text, "ordergate_audit_fsync_seconds_sum 0.001\n"));
}

// The whole process: the Unix-socket server with [http] listen on a free
// loopback port, asked over real TCP connections.
TEST(MetricsEndpoints, TheProcessServesHealthReadinessAndMetricsOnLoopback) {
  const std::filesystem::path directory =
      std::filesystem::temp_directory_path() / ("og-http-" + std::to_string(::getpid()));
  std::filesystem::create_directories(directory);
  ProcessConfig config = parse_config_text(R"(
[gateway]
order_capacity = 1024
[http]
listen = "127.0.0.1:0"
[[instruments]]
name = "EUR/USD"
tick_size = "0.00001"
lot_step = "1"
min_quantity = "1"
max_quantity = "50000000"
max_order_quantity = "1000000"
max_notional = "1000000"
max_position = "5000000"
price_band_bps = 100
max_open_orders = 100
max_quote_age = "5s"
[[accounts]]
name = "paper"
broker = "paper"
[paper]
quotes = [ { symbol = "EUR/USD", bid = "1.08460", ask = "1.08463" } ]
[[principals]]
name = "bot"
token_sha256 = "3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea"
permissions = ["trade"]
accounts = ["paper"]
symbols = ["*"]
rate_limits = ["20/1s"]
)",
                                           "http.toml");
  config.server.socket_path = (directory / "og.sock").string();
  std::ostringstream log;
  {
    Server server(std::move(config), log);
    server.start();
    const std::string url = server.http_url();
    ASSERT_EQ(url.rfind("http://127.0.0.1:", 0), 0u) << url;
    const auto port = static_cast<std::uint16_t>(std::stoi(url.substr(17)));
    std::thread runner([&server] { (void)server.run(); });

    const std::string health = http_get(port, "/healthz");
    EXPECT_EQ(status_of(health), 200) << health;
    EXPECT_EQ(body_of(health), "{\"status\":\"serving\"}\n");
    EXPECT_NE(health.find("Content-Type: application/json"), std::string::npos);
    const std::string ready = http_get(port, "/readyz");
    EXPECT_EQ(status_of(ready), 200) << ready;
    EXPECT_EQ(body_of(ready),
              "{\"status\":\"ready\",\"accounts\":{\"paper\":\"ready\"},\"brokers\":{\"paper\":\"reconciled\"},"
              "\"journal\":\"disabled\"}\n");
    const std::string metrics = http_get(port, "/metrics");
    EXPECT_EQ(status_of(metrics), 200);
    EXPECT_NE(metrics.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
    EXPECT_NE(metrics.find("\nordergate_build_info{version=\""), std::string::npos);
    EXPECT_NE(metrics.find("\nordergate_connections 0\n"), std::string::npos);
    EXPECT_EQ(status_of(http_get(port, "/nope")), 404);
    EXPECT_EQ(status_of(http_exchange(port, "DELETE /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")),
              405);
    EXPECT_EQ(status_of(http_exchange(port, "\x01\x02 garbage\r\n\r\n")), 400);
    EXPECT_EQ(status_of(http_get(port, "/healthz")), 200);  // still serving

    server.request_stop();
    runner.join();
    EXPECT_EQ(http_get(port, "/healthz"), "connect failed");  // the listener stops with the process
  }
  std::filesystem::remove_all(directory);
}

}  // namespace
}  // namespace ordergate::server_detail
