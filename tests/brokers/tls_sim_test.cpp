// Certificates the adapters must refuse when the simulator serves them: no
// connection, one clear log line, orders rejected BROKER_UNAVAILABLE, and no
// fallback to an unverified connection (nothing reaches the broker).

#include <fstream>

#include "adapters/tls_test_support.hpp"
#include "brokers/broker_test_support.hpp"

namespace ordergate::brokers::testing {
namespace {

using adapters::binance::make_binance_factory;
using adapters::oanda::make_oanda_factory;

enum class Venue { oanda, binance };

class TlsRefusal : public BrokerSimTest, public ::testing::WithParamInterface<Venue> {
 protected:
  /// Starts the simulator with `sim_args`, then the gateway with the
  /// adapter's TLS settings changed by `adjust`.
  void start(std::vector<std::string> sim_args,
             const std::function<void(adapters::tls::TlsSettings&)>& adjust = {}) {
    start_sim(std::move(sim_args), /*quiet=*/false);
    if (GetParam() == Venue::oanda) {
      auto settings = oanda_settings();
      if (adjust) adjust(settings.connection);
      start_gateway(gateway_config(make_oanda_factory(std::move(settings)), nullptr), /*expect_ready=*/false);
    } else {
      auto settings = binance_settings();
      if (adjust) adjust(settings.connection);
      start_gateway(gateway_config(nullptr, make_binance_factory(std::move(settings))), /*expect_ready=*/false);
    }
  }

  [[nodiscard]] std::string_view account() const { return GetParam() == Venue::oanda ? "fx" : "crypto"; }
  [[nodiscard]] std::string_view symbol() const { return GetParam() == Venue::oanda ? "EUR/USD" : "BTC/USDT"; }
  [[nodiscard]] const char* quantity() const { return GetParam() == Venue::oanda ? "1000" : "0.001"; }

  /// The refusal as an operator and a strategy see it, and as the
  /// simulator saw it: handshakes refused, not one HTTP request.
  void expect_refused(std::string_view reason, bool by_the_handshake = true) {
    EXPECT_TRUE(logs_.contains("TLS verification failed")) << logs_.dump();
    EXPECT_TRUE(logs_.contains(reason)) << logs_.dump();
    EXPECT_TRUE(logs_.contains("no fallback")) << logs_.dump();
    // Without a connection the account cannot be reconciled, so the guards
    // already refuse (fail closed); the adapter's own refusal is tested
    // below with the adapter driven directly.
    const Verdict verdict = session_.submit(market(account(), symbol(), Side::buy, quantity(), "tls-1"));
    EXPECT_EQ(verdict.reason, Reason::ACCOUNT_NOT_READY);
    stop_gateway();
    EXPECT_EQ(sim_requests_logged(), 0) << sim_->stderr_text();
    if (by_the_handshake) {
      // The simulator logs its side of the failed handshake a moment later.
      EXPECT_TRUE(eventually([&] { return sim_->stderr_text().find("TLS handshake failed") != std::string::npos; }))
          << sim_->stderr_text();
    }
  }
};

std::string venue_name(const ::testing::TestParamInfo<Venue>& venue) {
  return venue.param == Venue::oanda ? "Oanda" : "Binance";
}

INSTANTIATE_TEST_SUITE_P(Adapters, TlsRefusal, ::testing::Values(Venue::oanda, Venue::binance), venue_name);

TEST_P(TlsRefusal, ACertificateForAnotherHost) {
  start({"--cert-host", "other.example"});
  expect_refused("not valid for host 'localhost'");
}

TEST_P(TlsRefusal, AnExpiredCertificate) {
  start({"--cert-expired"});
  expect_refused("certificate has expired");
}

TEST_P(TlsRefusal, ACertificateFromAnUnknownAuthority) {
  TempDir dir;
  const ordergate::testing::TestCertificate other = ordergate::testing::TestCertificate::authority("not the sim's CA");
  other.write_certificate(dir.file("other-ca.pem"));
  start({}, [&](adapters::tls::TlsSettings& tls) { tls.ca_file = dir.file("other-ca.pem"); });
  expect_refused("unable to get local issuer certificate");
}

TEST_P(TlsRefusal, TheSimulatorsAuthorityWithTheSystemTrustStore) {
  start({}, [](adapters::tls::TlsSettings& tls) { tls.ca_file.clear(); });
  expect_refused("unable to get local issuer certificate");
}

TEST_P(TlsRefusal, APinMismatch) {
  start({}, [](adapters::tls::TlsSettings& tls) {
    tls.pin = "sha256//" + std::string(43, 'A') + "=";  // valid form, wrong key
  });
  // The handshake itself succeeds; the client checks the pin right after it
  // and closes before sending anything.
  expect_refused("does not match the configured pin", /*by_the_handshake=*/false);
}

TEST_P(TlsRefusal, ButTheRightPinConnects) {
  start_sim({});
  const std::string pin = sim_->pin();
  ASSERT_FALSE(pin.empty());
  if (GetParam() == Venue::oanda) {
    auto settings = oanda_settings();
    settings.connection.pin = pin;
    start_gateway(gateway_config(make_oanda_factory(std::move(settings)), nullptr));
  } else {
    auto settings = binance_settings();
    settings.connection.pin = pin;
    start_gateway(gateway_config(nullptr, make_binance_factory(std::move(settings))));
  }
  EXPECT_TRUE(logs_.contains("pin matched")) << logs_.dump();
  const std::string id = "pinned-1";
  submit(market(account(), symbol(), Side::buy, quantity(), id));
  const auto reports = until_terminal(id);
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().status, ExecStatus::filled) << logs_.dump();
}

TEST_P(TlsRefusal, OrdersAreRejectedBrokerUnavailableWhenTheGuardsHaveAPrice) {
  // A second, healthy venue cannot lend prices to the refused one, so drive
  // the adapter directly: the gateway's guards would stop the order first.
  start_sim({"--cert-host", "other.example"}, /*quiet=*/false);
  const InstrumentTable table(gateway_config(nullptr, nullptr).instruments);
  QuoteBoard quotes(table.size());
  struct Sink final : ExecutionSink {
    void on_execution(const ExecutionReport& report) noexcept override { reports.push_back(report); }
    std::vector<ExecutionReport> reports;
  } sink;
  std::unique_ptr<BrokerPort> broker = GetParam() == Venue::oanda ? make_oanda_factory(oanda_settings())(table)
                                                                  : make_binance_factory(binance_settings())(table);
  broker->start(sink, quotes, SystemClock::instance());
  Order order;
  order.order_id = 1;
  order.instrument_id = GetParam() == Venue::oanda ? 0 : 1;
  order.side = Side::buy;
  order.type = OrderType::market;
  order.time_in_force = TimeInForce::ioc;
  order.quantity = decimal_literal(quantity());
  order.client_order_id.assign("tls-direct-1");
  broker->submit(order);
  ASSERT_TRUE(eventually([&] {
    broker->poll();
    return !sink.reports.empty();
  }));
  EXPECT_EQ(sink.reports[0].status, ExecStatus::rejected);
  EXPECT_EQ(sink.reports[0].reason, Reason::BROKER_UNAVAILABLE);
  EXPECT_EQ(sink.reports[0].broker_reason, std::string_view("NO_CONNECTION"));
  broker->stop();
  EXPECT_EQ(sim_requests_logged(), 0) << sim_->stderr_text();
}

}  // namespace
}  // namespace ordergate::brokers::testing
