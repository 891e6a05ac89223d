// The paper broker's durable state (PaperConfig::state_file) and its side of
// reconciliation (request_holdings, adopt, client_id_prefix). Real files in a
// temporary directory; a restart destroys the broker and builds a new one on
// the same file. Everything runs on the test thread with a manual clock.

#include "ordergate/adapters/paper/paper_state.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ordergate/adapters/paper/paper_broker.hpp"
#include "ordergate/security/crypto.hpp"

namespace ordergate::adapters {
namespace {

constexpr InstrumentId kEurUsd = 0;
constexpr InstrumentId kUsdJpy = 1;
constexpr AccountId kAccount = 2;
constexpr std::int64_t kTick = 100 * kNanosPerMilli;

Decimal dec(std::string_view text) { return decimal_literal(text); }

InstrumentSpec instrument_spec(std::string name, std::string_view tick_size) {
  InstrumentSpec spec;
  spec.name = std::move(name);
  spec.tick_size = dec(tick_size);
  spec.lot_step = dec("1");
  spec.min_quantity = dec("1");
  spec.max_quantity = dec("10000000");
  spec.max_order_quantity = dec("1000000");
  spec.max_notional = dec("5000000");
  spec.max_position = dec("5000000");
  spec.price_band_bps = 500;
  spec.max_open_orders = 100;
  spec.max_quote_age_ns = kNanosPerSecond;
  return spec;
}

InstrumentTable make_instruments() {
  return InstrumentTable({instrument_spec("EUR/USD", "0.00001"), instrument_spec("USD/JPY", "0.001")});
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

void write_text(const std::filesystem::path& path, std::string_view text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
}

class RecordingSink final : public ExecutionSink {
 public:
  void on_execution(const ExecutionReport& report) noexcept override {
    reports.push_back(report);
    if (on_report) on_report(report);
  }
  void on_position_fill(const ExecutionReport& fill) noexcept override {
    position_fills.push_back(fill);
    if (on_report) on_report(fill);
  }
  void on_holdings(const Holdings& answer) noexcept override {
    holdings.push_back(answer);
    if (on_holdings_answer) on_holdings_answer(answer);
  }

  std::vector<ExecStatus> statuses() const {
    std::vector<ExecStatus> result;
    for (const ExecutionReport& report : reports) result.push_back(report.status);
    return result;
  }

  std::vector<ExecutionReport> reports;
  std::vector<ExecutionReport> position_fills;
  std::vector<Holdings> holdings;
  std::function<void(const ExecutionReport&)> on_report;
  std::function<void(const Holdings&)> on_holdings_answer;
};

// One run of a paper broker: built (loading the state file) and started.
struct BrokerRun {
  BrokerRun(const InstrumentTable& table, PaperConfig config, ManualClock& clock)
      : quotes(table.size()), broker(table, std::move(config)) {
    broker.start(sink, quotes, clock);
  }
  ~BrokerRun() { broker.stop(); }

  QuoteBoard quotes;
  RecordingSink sink;
  PaperBroker broker;
};

class PaperStateFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "ordergate-paper-state-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    directory_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }

  [[nodiscard]] std::filesystem::path state_path() const { return directory_ / "paper.state"; }

  PaperConfig config() {
    PaperConfig config;
    config.quotes = {{"EUR/USD", dec("1.08460"), dec("1.08470")}, {"USD/JPY", dec("150.120"), dec("150.135")}};
    config.tick_interval_ns = kTick;
    config.state_file = state_path().string();
    config.log = [this](tls::LogLevel level, std::string_view line) {
      log_lines.push_back(std::string(tls::to_string(level)) + ": " + std::string(line));
    };
    return config;
  }

  std::unique_ptr<BrokerRun> start() { return std::make_unique<BrokerRun>(instruments, config(), clock); }

  // What a fresh reader finds on disk now.
  std::optional<PaperState> on_disk() { return read_paper_state(state_path().string(), instruments); }

  Order order(OrderType type, Side side, std::string_view quantity, InstrumentId instrument = kEurUsd) {
    Order result;
    result.order_id = next_order_id++;
    result.session_id = 7;
    result.principal_id = 3;
    result.account_id = kAccount;
    result.instrument_id = instrument;
    result.side = side;
    result.type = type;
    result.time_in_force = TimeInForce::gtc;
    result.quantity = dec(quantity);
    result.client_order_id.assign("cl-" + std::to_string(result.order_id));
    return result;
  }
  Order limit(Side side, std::string_view quantity, std::string_view price) {
    Order result = order(OrderType::limit, side, quantity);
    result.price = dec(price);
    return result;
  }

  // The gateway's order for a held one in a new run: new ids, the held terms.
  Order adopted_order(const HeldOrder& held, OrderId id) {
    Order result;
    result.order_id = id;
    result.session_id = 99;
    result.principal_id = 4;
    result.account_id = held.account_id;
    result.instrument_id = held.instrument_id;
    result.side = held.side;
    result.type = held.type;
    result.time_in_force = held.time_in_force;
    result.quantity = held.quantity;
    result.price = held.price;
    result.stop_price = held.stop_price;
    result.expire_time_ns = held.expire_time_ns;
    result.client_order_id.assign("restored-" + std::to_string(id));
    return result;
  }

  std::filesystem::path directory_;
  InstrumentTable instruments = make_instruments();
  ManualClock clock;
  OrderId next_order_id = 1;
  std::vector<std::string> log_lines;
};

constexpr ExecStatus kNew = ExecStatus::new_order;
constexpr ExecStatus kFilled = ExecStatus::filled;
constexpr ExecStatus kCanceled = ExecStatus::canceled;
constexpr ExecStatus kExpired = ExecStatus::expired;
using Statuses = std::vector<ExecStatus>;

TEST_F(PaperStateFile, PositionsRestingOrdersAndTheNextBrokerIdSurviveARestart) {
  Order resting = limit(Side::buy, "2000", "1.08000");
  resting.text.assign("tag with spaces %");
  {
    auto run = start();
    run->broker.submit(order(OrderType::market, Side::buy, "10000"));                // P-1
    run->broker.submit(order(OrderType::market, Side::sell, "300", kUsdJpy));        // P-2
    run->broker.submit(resting);                                                     // P-3
    ASSERT_EQ(run->broker.resting_orders(), 1u);
  }
  auto run = start();
  EXPECT_EQ(run->broker.position(kAccount, kEurUsd), dec("10000"));
  EXPECT_EQ(run->broker.position(kAccount, kUsdJpy), dec("-300"));
  EXPECT_EQ(run->broker.resting_orders(), 1u);
  EXPECT_EQ(run->broker.next_broker_sequence(), 4u);
  EXPECT_TRUE(run->sink.reports.empty()) << "a restart reports nothing by itself";

  const std::optional<PaperState> state = on_disk();
  ASSERT_TRUE(state);
  ASSERT_EQ(state->resting.size(), 1u);
  const PaperRestingOrder& kept = state->resting[0];
  EXPECT_EQ(kept.broker_sequence, 3u);
  EXPECT_EQ(kept.order.order_id, resting.order_id);
  EXPECT_EQ(kept.order.client_order_id, resting.client_order_id);
  EXPECT_EQ(kept.order.text, resting.text);
  EXPECT_EQ(kept.order.price, dec("1.08"));
  EXPECT_EQ(kept.order.quantity, dec("2000"));
  EXPECT_EQ(kept.order.session_id, 7u);
  EXPECT_EQ(kept.order.principal_id, 3u);

  // The next order continues the broker ids of the previous run.
  run->broker.submit(order(OrderType::market, Side::sell, "1"));
  ASSERT_EQ(run->sink.reports.size(), 2u);
  EXPECT_EQ(run->sink.reports[0].broker_order_id.view(), "P-4");
}

TEST_F(PaperStateFile, EveryChangeIsOnDiskBeforeTheReportThatAnnouncesItLeaves) {
  auto run = start();
  std::vector<std::string> failures;
  int checked = 0;
  run->sink.on_report = [&](const ExecutionReport& report) {
    ++checked;
    const std::optional<PaperState> state = on_disk();
    if (!state) {
      failures.push_back("no file");
      return;
    }
    const std::string id(report.broker_order_id.view());
    const std::uint64_t sequence = std::stoull(id.substr(2));
    bool resting = false;
    for (const PaperRestingOrder& order : state->resting) resting = resting || order.broker_sequence == sequence;
    Decimal net;
    for (const PaperPosition& position : state->positions) {
      if (position.account_id == report.account_id && position.instrument_id == report.instrument_id) {
        net = position.net;
      }
    }
    const std::string what = id + " " + std::string(to_string(report.status));
    if (state->next_broker_sequence <= sequence) failures.push_back(what + ": next id not on disk");
    if (net != run->broker.position(report.account_id, report.instrument_id)) {
      failures.push_back(what + ": position on disk " + net.to_string());
    }
    const bool rests = id == "P-2" || id == "P-3" || id == "P-4";
    if (report.status == ExecStatus::new_order && rests && !resting) failures.push_back(what + ": order not on disk");
    if (is_terminal(report.status) && resting) failures.push_back(what + ": order still on disk");
  };

  run->broker.submit(order(OrderType::market, Side::buy, "10000"));  // NEW + FILLED
  Order gtd = limit(Side::buy, "100", "1.08000");                      // P-2 rests
  gtd.time_in_force = TimeInForce::gtd;
  gtd.expire_time_ns = clock.wall_ns() + 5 * kTick;
  run->broker.submit(gtd);
  const Order to_cancel = limit(Side::sell, "100", "1.09000");  // P-3 rests
  run->broker.submit(to_cancel);
  const Order to_fill = limit(Side::sell, "50", "1.08500");  // P-4 rests, fills below
  run->broker.submit(to_fill);
  run->broker.cancel(CancelOrder{to_cancel.order_id, 7, kAccount, kEurUsd, to_cancel.client_order_id});
  run->broker.set_quote(kEurUsd, dec("1.08500"), dec("1.08510"));  // P-4 fills
  clock.advance(6 * kTick);
  run->broker.poll();  // P-2 expires

  EXPECT_EQ(run->sink.statuses(),
            (Statuses{kNew, kFilled, kNew, kNew, kNew, kCanceled, kFilled, kExpired}));
  EXPECT_EQ(checked, 8);
  EXPECT_TRUE(failures.empty()) << ::testing::PrintToString(failures);
}

TEST_F(PaperStateFile, AnAmendIsOnDiskBeforeItsReplacedLeavesAndSurvivesARestart) {
  const Order original = limit(Side::buy, "100", "1.08000");  // P-1 rests
  Order amended = original;
  amended.order_id = 40;
  amended.client_order_id.assign("cl-amended");
  amended.price = dec("1.08100");
  amended.quantity = dec("300");
  {
    auto run = start();
    run->broker.submit(original);
    std::optional<PaperState> seen;
    run->sink.on_report = [&](const ExecutionReport& report) {
      if (report.status == ExecStatus::replaced) seen = on_disk();
    };
    run->broker.replace(ReplaceOrder{amended, original.order_id, original.client_order_id, original.quantity});
    ASSERT_EQ(run->sink.statuses(), (Statuses{kNew, ExecStatus::replaced}));
    const ExecutionReport& replaced = run->sink.reports[1];
    EXPECT_EQ(replaced.order_id, 40u);
    EXPECT_EQ(replaced.client_order_id.view(), "cl-amended");
    EXPECT_EQ(replaced.other_client_order_id, original.client_order_id);
    EXPECT_EQ(replaced.leaves_quantity, dec("300"));
    EXPECT_EQ(replaced.broker_order_id.view(), "P-2") << "an amend is acknowledged with a new broker id";
    ASSERT_TRUE(seen);
    ASSERT_EQ(seen->resting.size(), 1u);
    EXPECT_EQ(seen->resting[0].order.order_id, 40u);
    EXPECT_EQ(seen->resting[0].order.price, dec("1.081"));
    // The original no longer rests: a second amend of it is refused, and
    // its cancel finds nothing.
    Order again = amended;
    again.order_id = 41;
    run->broker.replace(ReplaceOrder{again, original.order_id, original.client_order_id, original.quantity});
    ASSERT_EQ(run->sink.reports.size(), 3u);
    EXPECT_EQ(run->sink.reports[2].status, ExecStatus::replace_rejected);
    EXPECT_EQ(run->sink.reports[2].order_id, 41u);
    EXPECT_EQ(run->sink.reports[2].broker_reason.view(), "ORDER_NOT_WORKING");
    // Another side is not an amend.
    Order flipped = amended;
    flipped.order_id = 42;
    flipped.side = Side::sell;
    run->broker.replace(ReplaceOrder{flipped, 40, amended.client_order_id, amended.quantity});
    ASSERT_EQ(run->sink.reports.size(), 4u);
    EXPECT_EQ(run->sink.reports[3].broker_reason.view(), "INVALID_ORDER");
  }
  auto run = start();
  EXPECT_EQ(run->broker.resting_orders(), 1u);
  const std::optional<PaperState> state = on_disk();
  ASSERT_TRUE(state);
  ASSERT_EQ(state->resting.size(), 1u);
  EXPECT_EQ(state->resting[0].order.client_order_id.view(), "cl-amended");
  EXPECT_EQ(state->resting[0].order.quantity, dec("300"));
  EXPECT_EQ(state->next_broker_sequence, 3u);
}

TEST_F(PaperStateFile, AnAmendToAMarketablePriceFillsAtOnceAndBooksThePosition) {
  auto run = start();
  const Order original = limit(Side::buy, "100", "1.08000");
  run->broker.submit(original);
  Order amended = original;
  amended.order_id = 50;
  amended.client_order_id.assign("cl-cross");
  amended.price = dec("1.08480");  // the ask is 1.08470
  run->broker.replace(ReplaceOrder{amended, original.order_id, original.client_order_id, original.quantity});
  EXPECT_EQ(run->sink.statuses(), (Statuses{kNew, ExecStatus::replaced, kFilled}));
  EXPECT_EQ(run->sink.reports[2].last_price, dec("1.08470")) << "filled at the touch";
  EXPECT_EQ(run->broker.resting_orders(), 0u);
  EXPECT_EQ(run->broker.position(kAccount, kEurUsd), dec("100"));
  const std::optional<PaperState> state = on_disk();
  ASSERT_TRUE(state);
  EXPECT_TRUE(state->resting.empty());
  ASSERT_EQ(state->positions.size(), 1u);
  EXPECT_EQ(state->positions[0].net, dec("100"));
}

TEST_F(PaperStateFile, TheRestingOrderIsOnDiskWhenItsNewLeaves) {
  auto run = start();
  const Order resting = limit(Side::buy, "100", "1.08000");
  std::optional<PaperState> seen;
  run->sink.on_report = [&](const ExecutionReport&) { seen = on_disk(); };
  run->broker.submit(resting);
  ASSERT_TRUE(seen);
  ASSERT_EQ(seen->resting.size(), 1u);
  EXPECT_EQ(seen->resting[0].order.order_id, resting.order_id);
  EXPECT_EQ(seen->resting[0].broker_sequence, 1u);
  EXPECT_EQ(seen->next_broker_sequence, 2u);
}

TEST_F(PaperStateFile, AForeignFillIsOnDiskBeforeItIsReported) {
  {
    auto run = start();
    run->broker.submit(limit(Side::buy, "100", "1.08000"));
  }
  auto run = start();
  ASSERT_TRUE(run->broker.request_holdings());
  std::optional<PaperState> seen;
  run->sink.on_report = [&](const ExecutionReport&) { seen = on_disk(); };
  run->broker.set_quote(kEurUsd, dec("1.07990"), dec("1.08000"));
  ASSERT_EQ(run->sink.position_fills.size(), 1u);
  ASSERT_TRUE(seen);
  EXPECT_TRUE(seen->resting.empty());
  ASSERT_EQ(seen->positions.size(), 1u);
  EXPECT_EQ(seen->positions[0].net, dec("100"));
}

TEST_F(PaperStateFile, ATornLastLineIsIgnoredAndLogged) {
  {
    auto run = start();
    run->broker.submit(order(OrderType::market, Side::buy, "10000"));
  }
  const std::string intact = read_text(state_path());
  // A crash in the middle of appending a batch: no newline at the end.
  write_text(state_path(), intact + "position 2 EUR/USD 999");

  auto run = start();
  EXPECT_EQ(run->broker.position(kAccount, kEurUsd), dec("10000"));
  EXPECT_EQ(run->broker.next_broker_sequence(), 2u);
  bool logged = false;
  for (const std::string& line : log_lines) {
    logged = logged || (line.find("warning: ") == 0 && line.find(state_path().string()) != std::string::npos &&
                        line.find("ignored its last 22 bytes") != std::string::npos);
  }
  EXPECT_TRUE(logged) << ::testing::PrintToString(log_lines);
  // The start rewrote the file without it.
  EXPECT_EQ(read_text(state_path()).find("999"), std::string::npos);
}

TEST_F(PaperStateFile, ALastBatchWithoutItsEndLineOrWithAFailedCheckIsIgnoredAsTorn) {
  {
    auto run = start();
    run->broker.submit(order(OrderType::market, Side::buy, "10000"));
  }
  const std::string intact = read_text(state_path());
  // Whole lines of a batch whose end never reached the disk.
  write_text(state_path(), intact + "next 7\nposition 2 EUR/USD 5\n");
  EXPECT_EQ(start()->broker.position(kAccount, kEurUsd), dec("10000"));

  // The end line reached the disk, but a page of the batch did not (pages
  // of an unsynced write land in any order).
  write_text(state_path(), intact + "next 7\nposition 2 EUR/USD 5\nend 00000000\n");
  auto run = start();
  EXPECT_EQ(run->broker.position(kAccount, kEurUsd), dec("10000"));
  EXPECT_EQ(run->broker.next_broker_sequence(), 2u);
  EXPECT_EQ(std::count_if(log_lines.begin(), log_lines.end(),
                          [](const std::string& line) { return line.find("warning: ") == 0 && line.find("ignored its last") != std::string::npos; }),
            2)
      << ::testing::PrintToString(log_lines);
}

TEST_F(PaperStateFile, ACorruptedMiddleLineRefusesToStartNamingTheFileAndLine) {
  {
    auto run = start();
    run->broker.submit(order(OrderType::market, Side::buy, "10000"));
    run->broker.submit(limit(Side::buy, "100", "1.08000"));
  }
  std::string text = read_text(state_path());
  // A digit of the position changes; another batch follows it.
  const std::size_t at = text.find("position 2 EUR/USD 10000\n");
  ASSERT_NE(at, std::string::npos) << text;
  ASSERT_NE(text.find("order ", at), std::string::npos) << text;
  text.replace(at, std::string_view("position 2 EUR/USD 10000").size(), "position 2 EUR/USD 90000");
  write_text(state_path(), text);
  const std::size_t line = static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n')) + 1;

  try {
    (void)start();
    FAIL() << "a damaged state file was accepted";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(state_path().string()), std::string::npos) << message;
    // The batch: the next id, the position, its end line.
    EXPECT_NE(message.find("lines " + std::to_string(line - 1) + "-" + std::to_string(line + 1) + " does not match"),
              std::string::npos)
        << line << ": " << message;
  }
  EXPECT_THROW((void)on_disk(), std::runtime_error);
}

TEST_F(PaperStateFile, AMalformedRecordInABatchThatPassesItsCheckIsRefusedNamingItsLine) {
  {
    auto run = start();
  }
  // Written by something else than the broker: the check is right, the
  // record is not one the broker writes.
  const std::string batch = "next 3\nposition 2 EUR/USD 1.0.0\n";
  const security::Sha256Digest digest = security::sha256(batch);
  const std::string end = "end " + security::to_hex(digest).substr(0, 8) + "\n";
  write_text(state_path(), read_text(state_path()) + batch + end + batch + end);
  try {
    (void)start();
    FAIL() << "a malformed record was accepted";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(state_path().string() + ": line 5 (offset "), std::string::npos) << message;
    EXPECT_NE(message.find("malformed position"), std::string::npos) << message;
  }
}

TEST_F(PaperStateFile, AnotherFormatOrVersionIsRefused) {
  write_text(state_path(), "ordergate-paper-state 2\n");
  EXPECT_THROW((void)start(), std::runtime_error);
  write_text(state_path(), "ordergate-control-state 1\n");
  try {
    (void)start();
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not a paper state file"), std::string::npos) << e.what();
  }
}

TEST_F(PaperStateFile, AnInstrumentNoLongerConfiguredIsRefusedByName) {
  {
    auto run = start();
    run->broker.submit(order(OrderType::market, Side::buy, "10", kUsdJpy));
  }
  InstrumentTable fewer({instrument_spec("EUR/USD", "0.00001")});
  PaperConfig settings = config();
  settings.quotes.pop_back();
  try {
    PaperBroker broker(fewer, settings);
    FAIL() << "a state with an unknown instrument was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("'USD/JPY' is not configured"), std::string::npos) << e.what();
  }
}

TEST_F(PaperStateFile, ASecondBrokerOnTheSameFileIsRefused) {
  auto first = start();
  try {
    auto second = start();
    FAIL() << "two brokers shared one state file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("in use by another paper broker"), std::string::npos) << e.what();
  }
  first.reset();
  EXPECT_NO_THROW((void)start());
}

TEST_F(PaperStateFile, AMissingDirectoryIsRefusedWithTheFileName) {
  PaperConfig settings = config();
  settings.state_file = (directory_ / "no-such-dir" / "paper.state").string();
  try {
    PaperBroker broker(instruments, settings);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(settings.state_file), std::string::npos) << e.what();
  }
}

TEST_F(PaperStateFile, RequestHoldingsAnswersAtOnceWithRestingOrdersAndNonZeroPositions) {
  auto run = start();
  run->broker.submit(order(OrderType::market, Side::buy, "10000"));
  run->broker.submit(order(OrderType::market, Side::buy, "5", kUsdJpy));
  run->broker.submit(order(OrderType::market, Side::sell, "5", kUsdJpy));  // flat again
  Order gtd = limit(Side::sell, "700", "1.09000");
  gtd.time_in_force = TimeInForce::gtd;
  gtd.expire_time_ns = clock.wall_ns() + kNanosPerSecond;
  run->broker.submit(gtd);  // P-4

  ASSERT_TRUE(run->broker.request_holdings());
  ASSERT_EQ(run->sink.holdings.size(), 1u);
  const Holdings& holdings = run->sink.holdings[0];
  EXPECT_TRUE(holdings.complete);
  EXPECT_TRUE(holdings.error.empty());
  EXPECT_EQ(holdings.skipped, 0u);
  ASSERT_EQ(holdings.orders.size(), 1u);
  const HeldOrder& held = holdings.orders[0];
  EXPECT_EQ(held.account_id, kAccount);
  EXPECT_EQ(held.instrument_id, kEurUsd);
  EXPECT_EQ(held.side, Side::sell);
  EXPECT_EQ(held.type, OrderType::limit);
  EXPECT_EQ(held.time_in_force, TimeInForce::gtd);
  EXPECT_EQ(held.quantity, dec("700"));
  EXPECT_EQ(held.leaves, dec("700"));
  EXPECT_EQ(held.price, dec("1.09"));
  EXPECT_EQ(held.expire_time_ns, gtd.expire_time_ns);
  EXPECT_EQ(held.broker_order_id.view(), "P-4");
  EXPECT_EQ(held.venue_client_id.view(), rest::format_venue_client_id(run->broker.client_id_prefix(), gtd.order_id).view());
  ASSERT_EQ(holdings.positions.size(), 1u);
  EXPECT_EQ(holdings.positions[0].account_id, kAccount);
  EXPECT_EQ(holdings.positions[0].instrument_id, kEurUsd);
  EXPECT_EQ(holdings.positions[0].net, dec("10000"));
}

TEST_F(PaperStateFile, EachInstanceHasAFreshPrefixAndRestoredOrdersKeepTheirVenueClientId) {
  std::string first_prefix;
  Order resting = limit(Side::buy, "100", "1.08000");
  resting.order_id = 36 * 36 + 35;  // "10z" in base 36
  {
    auto run = start();
    first_prefix = std::string(run->broker.client_id_prefix());
    run->broker.submit(resting);
  }
  auto run = start();
  EXPECT_EQ(first_prefix.size(), rest::VenueClientIds::kPrefixLength);
  EXPECT_EQ(first_prefix.substr(0, 2), "og");
  EXPECT_NE(run->broker.client_id_prefix(), first_prefix);
  ASSERT_TRUE(run->broker.request_holdings());
  ASSERT_EQ(run->sink.holdings[0].orders.size(), 1u);
  EXPECT_EQ(run->sink.holdings[0].orders[0].venue_client_id.view(), first_prefix + "-10z");
}

TEST_F(PaperStateFile, RestoredOrdersDoNotMatchBeforeTheFirstHoldingsAnswer) {
  Order gtd = limit(Side::buy, "100", "1.08000");
  gtd.time_in_force = TimeInForce::gtd;
  gtd.expire_time_ns = clock.wall_ns() + kTick;
  {
    auto run = start();
    run->broker.submit(limit(Side::buy, "100", "1.08000"));
    run->broker.submit(gtd);
  }
  auto run = start();
  run->broker.set_quote(kEurUsd, dec("1.07990"), dec("1.08000"));  // crosses both
  clock.advance(10 * kTick);                                        // and the GTD expired
  run->broker.poll();
  run->broker.poll();
  EXPECT_EQ(run->broker.resting_orders(), 2u);
  EXPECT_TRUE(run->sink.reports.empty());
  EXPECT_TRUE(run->sink.position_fills.empty());
  EXPECT_EQ(run->broker.position(kAccount, kEurUsd), Decimal{});

  // A new order still trades before reconciliation.
  run->broker.submit(order(OrderType::market, Side::sell, "1"));
  EXPECT_EQ(run->sink.statuses(), (Statuses{kNew, kFilled}));

  ASSERT_TRUE(run->broker.request_holdings());
  EXPECT_EQ(run->sink.holdings[0].orders.size(), 2u) << "the gateway sees them before they move";
}

TEST_F(PaperStateFile, AnAdoptedOrderFillsUnderTheGatewayIds) {
  const Order original = limit(Side::buy, "100", "1.08000");
  {
    auto run = start();
    run->broker.submit(original);
  }
  auto run = start();
  const Order* adopted_with = nullptr;
  Order adopted;
  run->sink.on_holdings_answer = [&](const Holdings& holdings) {
    // The gateway adopts from inside on_holdings.
    ASSERT_EQ(holdings.orders.size(), 1u);
    adopted = adopted_order(holdings.orders[0], 500);
    adopted_with = &adopted;
    run->broker.adopt(adopted, holdings.orders[0]);
  };
  ASSERT_TRUE(run->broker.request_holdings());
  ASSERT_NE(adopted_with, nullptr);

  run->broker.set_quote(kEurUsd, dec("1.07990"), dec("1.08000"));
  ASSERT_EQ(run->sink.statuses(), (Statuses{kFilled}));
  const ExecutionReport& fill = run->sink.reports[0];
  EXPECT_EQ(fill.kind, ReportKind::order);
  EXPECT_EQ(fill.order_id, 500u);
  EXPECT_EQ(fill.session_id, 99u);
  EXPECT_EQ(fill.client_order_id.view(), "restored-500");
  EXPECT_EQ(fill.broker_order_id.view(), "P-1");
  EXPECT_EQ(fill.last_quantity, dec("100"));
  EXPECT_EQ(fill.last_price, dec("1.08"));
  EXPECT_TRUE(run->sink.position_fills.empty());
  EXPECT_EQ(run->broker.position(kAccount, kEurUsd), dec("100"));
}

TEST_F(PaperStateFile, AnAdoptedOrderIsCanceledByItsNewOrderIdAndTheAdoptionIsRecorded) {
  const Order original = limit(Side::sell, "100", "1.09000");
  {
    auto run = start();
    run->broker.submit(original);
  }
  auto run = start();
  ASSERT_TRUE(run->broker.request_holdings());
  const HeldOrder held = run->sink.holdings[0].orders.at(0);

  // Before adoption the old order id names nothing (it may be another order's now).
  run->broker.cancel(CancelOrder{original.order_id, 7, kAccount, kEurUsd, original.client_order_id});
  EXPECT_TRUE(run->sink.reports.empty());

  run->broker.adopt(adopted_order(held, 777), held);
  const std::optional<PaperState> state = on_disk();
  ASSERT_TRUE(state);
  ASSERT_EQ(state->resting.size(), 1u);
  EXPECT_EQ(state->resting[0].order.order_id, 777u);
  EXPECT_EQ(state->resting[0].venue_client_id.view(), held.venue_client_id.view()) << "the venue's id never changes";

  run->broker.cancel(CancelOrder{777, 99, kAccount, kEurUsd, {}});
  ASSERT_EQ(run->sink.statuses(), (Statuses{kCanceled}));
  EXPECT_EQ(run->sink.reports[0].order_id, 777u);
  EXPECT_EQ(run->sink.reports[0].broker_order_id.view(), "P-1");
  EXPECT_EQ(run->broker.resting_orders(), 0u);
  EXPECT_TRUE(on_disk()->resting.empty());
}

TEST_F(PaperStateFile, AdoptionFindsTheOrderByVenueClientIdAndIgnoresUnknownOrMismatchedOnes) {
  {
    auto run = start();
    run->broker.submit(limit(Side::buy, "100", "1.08000"));
  }
  auto run = start();
  ASSERT_TRUE(run->broker.request_holdings());
  const HeldOrder held = run->sink.holdings[0].orders.at(0);

  HeldOrder unknown = held;
  unknown.broker_order_id.assign("P-42");
  unknown.venue_client_id.assign("ogXXXXXXXXXX-1");
  run->broker.adopt(adopted_order(held, 10), unknown);
  Order wrong_side = adopted_order(held, 11);
  wrong_side.side = Side::sell;
  run->broker.adopt(wrong_side, held);
  run->broker.cancel(CancelOrder{10, 99, kAccount, kEurUsd, {}});
  run->broker.cancel(CancelOrder{11, 99, kAccount, kEurUsd, {}});
  EXPECT_TRUE(run->sink.reports.empty());
  EXPECT_EQ(run->broker.resting_orders(), 1u);

  HeldOrder by_client_id = held;
  by_client_id.broker_order_id.clear();
  run->broker.adopt(adopted_order(held, 12), by_client_id);
  run->broker.cancel(CancelOrder{12, 99, kAccount, kEurUsd, {}});
  ASSERT_EQ(run->sink.statuses(), (Statuses{kCanceled}));
  EXPECT_EQ(run->sink.reports[0].order_id, 12u);
}

TEST_F(PaperStateFile, ARestoredOrderNotAdoptedFillsAsAPositionFillWithNoOrderId) {
  {
    auto run = start();
    run->broker.submit(order(OrderType::market, Side::buy, "1000"));
    run->broker.submit(limit(Side::sell, "400", "1.08500"));
  }
  auto run = start();
  ASSERT_TRUE(run->broker.request_holdings());  // nothing adopted
  run->broker.set_quote(kEurUsd, dec("1.08500"), dec("1.08510"));

  EXPECT_TRUE(run->sink.reports.empty());
  ASSERT_EQ(run->sink.position_fills.size(), 1u);
  const ExecutionReport& fill = run->sink.position_fills[0];
  EXPECT_EQ(fill.kind, ReportKind::position_fill);
  EXPECT_EQ(fill.source, FillSource::account);
  EXPECT_EQ(fill.status, ExecStatus::filled);
  EXPECT_EQ(fill.order_id, kNoOrderId);
  EXPECT_EQ(fill.account_id, kAccount);
  EXPECT_EQ(fill.instrument_id, kEurUsd);
  EXPECT_EQ(fill.side, Side::sell);
  EXPECT_EQ(fill.last_quantity, dec("400"));
  EXPECT_EQ(fill.last_price, dec("1.085"));
  EXPECT_EQ(fill.broker_order_id.view(), "P-2");
  EXPECT_EQ(run->broker.position(kAccount, kEurUsd), dec("600"));
  EXPECT_EQ(run->broker.resting_orders(), 0u);
}

TEST_F(PaperStateFile, ARestoredOrderExpiresSilentlyIfForeignAndWithAReportIfAdopted) {
  Order foreign = limit(Side::buy, "100", "1.08000");
  foreign.time_in_force = TimeInForce::gtd;
  foreign.expire_time_ns = clock.wall_ns() + kTick;
  Order mine = foreign;
  mine.order_id = 2;
  foreign.order_id = 1;
  {
    auto run = start();
    run->broker.submit(foreign);  // P-1
    run->broker.submit(mine);     // P-2
  }
  auto run = start();
  run->sink.on_holdings_answer = [&](const Holdings& holdings) {
    for (const HeldOrder& held : holdings.orders) {
      if (held.broker_order_id.view() == "P-2") run->broker.adopt(adopted_order(held, 42), held);
    }
  };
  ASSERT_TRUE(run->broker.request_holdings());
  clock.advance(2 * kTick);
  run->broker.poll();

  ASSERT_EQ(run->sink.statuses(), (Statuses{kExpired}));
  EXPECT_EQ(run->sink.reports[0].order_id, 42u);
  EXPECT_TRUE(run->sink.position_fills.empty());
  EXPECT_EQ(run->broker.resting_orders(), 0u);
  EXPECT_TRUE(on_disk()->resting.empty());
}

TEST_F(PaperStateFile, StopLeavesRestingOrdersWorkingForTheNextRun) {
  auto run = start();
  run->broker.submit(limit(Side::buy, "100", "1.08000"));
  run->broker.stop();
  EXPECT_EQ(run->sink.statuses(), (Statuses{kNew})) << "no SHUTDOWN cancel with a state file";
  EXPECT_EQ(on_disk()->resting.size(), 1u);
}

TEST_F(PaperStateFile, TheFileIsCompactedWhenItsAppendedRecordsOutgrowIt) {
  auto run = start();
  const std::uintmax_t fresh = std::filesystem::file_size(state_path());
  // 256 resting orders (next id + order: 512 records, one sync each), then
  // two passes that fill them all (gone + position: 512 records, one sync
  // each): 1024 appended records call for a compaction at the next poll.
  for (int i = 0; i < 128; ++i) {
    run->broker.submit(limit(Side::buy, "1", "1.08450"));
    run->broker.submit(limit(Side::sell, "1", "1.08480"));
  }
  ASSERT_EQ(run->broker.resting_orders(), 256u);
  run->broker.set_quote(kEurUsd, dec("1.08440"), dec("1.08450"));  // fills the buys
  run->broker.set_quote(kEurUsd, dec("1.08480"), dec("1.08490"));  // then the sells
  ASSERT_EQ(run->broker.resting_orders(), 0u);
  run->broker.submit(limit(Side::buy, "100", "1.08000"));
  const std::uintmax_t grown = std::filesystem::file_size(state_path());
  EXPECT_GT(grown, 100 * fresh);
  run->broker.poll();
  const std::uintmax_t compacted = std::filesystem::file_size(state_path());
  EXPECT_LT(compacted, 4 * fresh + 400) << read_text(state_path());

  const std::optional<PaperState> state = on_disk();
  ASSERT_TRUE(state);
  EXPECT_EQ(state->next_broker_sequence, 258u);
  EXPECT_EQ(state->resting.size(), 1u);
  EXPECT_TRUE(state->positions.empty());

  // Appending goes on into the compacted file.
  run->broker.submit(order(OrderType::market, Side::buy, "3"));
  EXPECT_EQ(on_disk()->positions.at(0).net, dec("3"));
  EXPECT_FALSE(std::filesystem::exists(state_path().string() + ".tmp"));
}

TEST_F(PaperStateFile, WithoutAStateFileNoFileIsCreated) {
  const std::filesystem::path previous = std::filesystem::current_path();
  std::filesystem::current_path(directory_);
  {
    PaperConfig settings = config();
    settings.state_file.clear();
    BrokerRun run(instruments, settings, clock);
    run.broker.submit(order(OrderType::market, Side::buy, "10"));
    run.broker.submit(limit(Side::buy, "100", "1.08000"));
    clock.advance(kTick);
    run.broker.poll();
    ASSERT_TRUE(run.broker.request_holdings());
    EXPECT_EQ(run.sink.holdings.at(0).orders.size(), 1u);
    run.broker.stop();
    EXPECT_EQ(run.sink.statuses(), (Statuses{kNew, kFilled, kNew, kCanceled})) << "SHUTDOWN cancel as before";
  }
  std::filesystem::current_path(previous);
  EXPECT_TRUE(std::filesystem::is_empty(directory_));
}

TEST_F(PaperStateFile, ReadingAMissingFileFindsNothing) {
  EXPECT_FALSE(on_disk().has_value());
}

}  // namespace
}  // namespace ordergate::adapters
