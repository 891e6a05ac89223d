// Connection-level fault injection: added latency, a stalled path, dropped
// and idle-closed connections.

#include <gtest/gtest.h>

#include "sim_process.hpp"
#include "tls_client.hpp"

namespace ordergate::sim::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds time_request(TlsClient& client, const std::string& method, const std::string& target,
                                       int& status) {
  const auto start = Clock::now();
  status = client.request(method, target).status;
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

TEST(SimFaults, LatencyDelaysEveryResponse) {
  SimProcess sim({"--latency-ms", "150"});
  TlsClient client(sim.port(), sim.ca_file());
  ASSERT_FALSE(client.connect());
  int status = 0;
  EXPECT_GE(time_request(client, "GET", "/api/v3/ping", status).count(), 150);
  EXPECT_EQ(status, 200);
}

TEST(SimFaults, StallDelaysOnlyThePathPrefix) {
  SimProcess sim({"--stall-ms", "1000", "--stall-path", "/api/v3/time"});
  TlsClient client(sim.port(), sim.ca_file());
  ASSERT_FALSE(client.connect());
  int status = 0;
  EXPECT_GE(time_request(client, "GET", "/api/v3/time", status).count(), 1000);
  EXPECT_LT(time_request(client, "GET", "/api/v3/ping", status).count(), 900);
}

TEST(SimFaults, DropAfterClosesTheConnectionAfterNResponses) {
  SimProcess sim({"--drop-after", "2"});
  TlsClient client(sim.port(), sim.ca_file());
  EXPECT_EQ(client.request("GET", "/api/v3/ping").status, 200);
  EXPECT_EQ(client.request("GET", "/api/v3/ping").status, 200);
  EXPECT_FALSE(client.try_request("GET", "/api/v3/ping")) << "the third request on the connection fails";
  client.close();
  EXPECT_EQ(client.request("GET", "/api/v3/ping").status, 200) << "a new connection works";
}

TEST(SimFaults, IdleConnectionsAreClosed) {
  SimProcess sim({"--idle-close-ms", "200"});
  TlsClient idle(sim.port(), sim.ca_file());
  EXPECT_EQ(idle.request("GET", "/api/v3/ping").status, 200);
  // Watch the counter on another connection instead of guessing a sleep.
  TlsClient watcher(sim.port(), sim.ca_file());
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  bool closed = false;
  while (!closed && Clock::now() < deadline) {
    closed = watcher.request("GET", "/sim/stats").body.find("\"idle_closes\":1") != std::string::npos;
    if (!closed) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(closed);
  EXPECT_FALSE(idle.try_request("GET", "/api/v3/ping"));
}

TEST(SimFaults, ErrorRateOneFailsEveryOrderButNotOtherRequests) {
  SimProcess sim({"--error-rate", "1", "--venues", "binance"});
  TlsClient client(sim.port(), sim.ca_file());
  const std::vector<std::pair<std::string, std::string>> headers = {{"X-MBX-APIKEY", kBinanceKey}};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(client.request("POST", "/api/v3/order",
                             signed_query("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01", kBinanceSecret, now_ms()),
                             headers)
                  .status,
              503);
  }
  EXPECT_EQ(client.request("GET", "/api/v3/ping").status, 200);
  EXPECT_NE(client.request("GET", "/sim/orders").body.find("\"count\":0"), std::string::npos);
}

TEST(SimFaults, AdminCanArmFailuresForTheNextOrders) {
  SimProcess sim({"--venues", "binance"});
  TlsClient client(sim.port(), sim.ca_file());
  ASSERT_EQ(client.request("POST", "/sim/faults", R"({"fail_next_orders":1,"after_place":true})").status, 200);
  const std::vector<std::pair<std::string, std::string>> headers = {{"X-MBX-APIKEY", kBinanceKey}};
  const auto order = [&] {
    return client.request("POST", "/api/v3/order",
                          signed_query("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01", kBinanceSecret, now_ms()),
                          headers);
  };
  EXPECT_EQ(order().status, 503);
  EXPECT_EQ(order().status, 200);
  EXPECT_NE(client.request("GET", "/sim/orders").body.find("\"count\":2"), std::string::npos);
}

// The benchmarks' floor: a reply of exactly the size asked for, at once.
TEST(SimEcho, AnswersWithAJsonStringOfTheSizeAskedForAndRefusesBadSizes) {
  SimProcess sim({});
  TlsClient client(sim.port(), sim.ca_file());
  const auto reply = client.request("POST", "/sim/echo?bytes=700", std::string(150, 'o'));
  EXPECT_EQ(reply.status, 200);
  ASSERT_EQ(reply.body.size(), 700u);
  EXPECT_EQ(reply.body.front(), '"');
  EXPECT_EQ(reply.body.back(), '"');
  EXPECT_EQ(reply.body.find_first_not_of('x', 1), 699u);
  for (const char* bad : {"/sim/echo", "/sim/echo?bytes=", "/sim/echo?bytes=1", "/sim/echo?bytes=12x",
                          "/sim/echo?bytes=-5", "/sim/echo?bytes=1048577"}) {
    const auto refused = client.request("POST", bad);
    EXPECT_EQ(refused.status, 400) << bad;
    EXPECT_NE(refused.body.find("'bytes' is the size of the reply"), std::string::npos) << bad;
  }
  EXPECT_EQ(client.request("GET", "/sim/echo?bytes=10").status, 404);
}

}  // namespace
}  // namespace ordergate::sim::testing
