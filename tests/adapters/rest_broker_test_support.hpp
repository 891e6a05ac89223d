#pragma once

// The fixture the REST broker tests share: a scripted venue (`Venue::Fake`)
// behind the loopback test HTTPS server, the venue's broker pointed at it,
// a capture of reports and log lines, and checks on teardown that no
// credential reached a log line or a report. `Venue` is OandaVenue
// (fake_oanda.hpp) or BinanceVenue (fake_binance.hpp).

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "adapters/tls_test_support.hpp"
#include "ordergate/core/instrument.hpp"
#include "ordergate/core/ports.hpp"

namespace ordergate::adapters::testing {

/// An instrument for the fakes: `lot` is also the minimum quantity; price
/// band 5%, 100 open orders, quotes valid for a second.
inline InstrumentSpec instrument_spec(const char* name, const char* tick, const char* lot, const char* max_quantity,
                                      const char* max_order_quantity, const char* max_notional,
                                      const char* max_position) {
  InstrumentSpec s;
  s.name = name;
  s.tick_size = decimal_literal(tick);
  s.lot_step = decimal_literal(lot);
  s.min_quantity = decimal_literal(lot);
  s.max_quantity = decimal_literal(max_quantity);
  s.max_order_quantity = decimal_literal(max_order_quantity);
  s.max_notional = decimal_literal(max_notional);
  s.max_position = decimal_literal(max_position);
  s.price_band_bps = 500;
  s.max_open_orders = 100;
  s.max_quote_age_ns = kNanosPerSecond;
  return s;
}

struct Reports final : ExecutionSink {
  void on_execution(const ExecutionReport& report) noexcept override { all.push_back(report); }
  void on_position_fill(const ExecutionReport& fill) noexcept override { position_fills.push_back(fill); }
  std::vector<ExecutionReport> all;
  std::vector<ExecutionReport> position_fills;
};

template <class Venue>
class RestBrokerTest : public ::testing::Test {
 protected:
  using Settings = typename Venue::Settings;

  RestBrokerTest()
      : pki_(Venue::kName),
        server_(pki_.localhost, [this](const ordergate::testing::TestRequest& request) { return fake_.handle(request); }),
        table_(Venue::instruments()),
        quotes_(table_.size()) {}

  Settings settings() {
    Settings s = Venue::settings(server_.port(), pki_.ca_file);
    s.log = [this](tls::LogLevel, std::string_view line) { lines_.emplace_back(line); };
    return s;
  }

  void start(Settings s) {
    broker_ = std::make_unique<typename Venue::Broker>(table_, std::move(s));
    broker_->start(reports_, quotes_, SystemClock::instance());
  }

  /// The venue's market order (it fills at once) and resting limit order;
  /// the fake learns the strategy's id `client` as the order's label.
  Order market(const char* client) { return numbered(Venue::market(client)); }
  Order resting(const char* client) { return numbered(Venue::resting(client)); }
  Order numbered(Order order) {
    order.order_id = next_id_++;
    if (broker_) fake_.label(venue_id(order), std::string(order.client_order_id.view()));
    return order;
  }
  /// The client id the running adapter sends the venue for `order`.
  std::string venue_id(const Order& order) const {
    return std::string(broker_->venue_client_id(order.order_id).view());
  }
  /// The reports about `order` so far.
  std::vector<ExecutionReport> reports_of(const Order& order) const {
    std::vector<ExecutionReport> mine;
    for (const ExecutionReport& report : reports_.all) {
      if (report.order_id == order.order_id) mine.push_back(report);
    }
    return mine;
  }
  bool finished(const Order& order) const {
    for (const ExecutionReport& report : reports_of(order)) {
      if (is_terminal(report.status)) return true;
    }
    return false;
  }
  static CancelOrder cancel_of(const Order& order) {
    CancelOrder cancel;
    cancel.order_id = order.order_id;
    cancel.client_order_id = order.client_order_id;
    return cancel;
  }
  int placed(const std::string& client) { return Venue::placed(fake_, client); }

  bool poll_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      broker_->poll();
    }
    return true;
  }
  bool reported(std::size_t count) {
    return poll_until([&] { return reports_.all.size() >= count; });
  }
  [[nodiscard]] bool logged(std::string_view text) const {
    for (const std::string& line : lines_) {
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  }

  void TearDown() override {
    if (broker_) broker_->stop();
    for (const std::string& line : lines_) {
      for (const std::string& secret : Venue::secrets()) {
        EXPECT_EQ(line.find(secret), std::string::npos) << "a credential leaked into a log line: " << line;
      }
    }
    for (const ExecutionReport& report : reports_.all) {
      EXPECT_EQ(report.broker_reason.view().find("canary"), std::string_view::npos);
    }
  }

  ordergate::testing::TestPki pki_;
  typename Venue::Fake fake_;
  ordergate::testing::TestHttpsServer server_;
  InstrumentTable table_;
  QuoteBoard quotes_;
  Reports reports_;
  std::vector<std::string> lines_;
  std::unique_ptr<typename Venue::Broker> broker_;
  OrderId next_id_ = 1;
};

}  // namespace ordergate::adapters::testing
