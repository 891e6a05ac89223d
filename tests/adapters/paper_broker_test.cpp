#include "ordergate/adapters/paper/paper_broker.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ordergate::adapters {
namespace {

constexpr InstrumentId kEurUsd = 0;
constexpr InstrumentId kUsdJpy = 1;
constexpr InstrumentId kBtcUsdt = 2;  // configured, but never quoted
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
  return InstrumentTable({instrument_spec("EUR/USD", "0.00001"), instrument_spec("USD/JPY", "0.001"),
                          instrument_spec("BTC/USDT", "0.01")});
}

PaperConfig default_config() {
  PaperConfig config;
  config.quotes = {{"EUR/USD", dec("1.08460"), dec("1.08470")},
                   {"USD/JPY", dec("150.120"), dec("150.135")}};
  config.tick_interval_ns = kTick;
  return config;
}

class RecordingSink final : public ExecutionSink {
 public:
  void on_execution(const ExecutionReport& report) noexcept override { reports.push_back(report); }
  std::vector<ExecutionReport> reports;
};

// A started broker with a manual clock, a real quote board and a recording sink.
struct Harness {
  explicit Harness(PaperConfig config = default_config(), std::shared_ptr<PaperQuoteFeed> feed = nullptr)
      : broker(instruments, std::move(config), std::move(feed)) {
    broker.start(sink, quotes, clock);
  }

  Order order(OrderType type, Side side, std::string_view quantity,
              TimeInForce tif = TimeInForce::gtc, InstrumentId instrument = kEurUsd) {
    Order result;
    result.order_id = next_order_id++;
    result.session_id = 7;
    result.principal_id = 3;
    result.account_id = 2;
    result.instrument_id = instrument;
    result.side = side;
    result.type = type;
    result.time_in_force = tif;
    result.quantity = dec(quantity);
    result.client_order_id.assign("cl-" + std::to_string(result.order_id));
    return result;
  }
  Order limit(Side side, std::string_view quantity, std::string_view price,
              TimeInForce tif = TimeInForce::gtc) {
    Order result = order(OrderType::limit, side, quantity, tif);
    result.price = dec(price);
    return result;
  }
  Order stop(Side side, std::string_view quantity, std::string_view stop_price) {
    Order result = order(OrderType::stop, side, quantity);
    result.stop_price = dec(stop_price);
    return result;
  }

  /// Moves time by one tick interval and polls once.
  bool tick() {
    clock.advance(kTick);
    return broker.poll();
  }

  std::vector<ExecStatus> statuses() const {
    std::vector<ExecStatus> result;
    for (const ExecutionReport& report : sink.reports) result.push_back(report.status);
    return result;
  }

  InstrumentTable instruments = make_instruments();
  ManualClock clock;
  QuoteBoard quotes{instruments.size()};
  RecordingSink sink;
  PaperBroker broker;
  OrderId next_order_id = 1;
};

using Statuses = std::vector<ExecStatus>;
constexpr ExecStatus kNew = ExecStatus::new_order;
constexpr ExecStatus kFilled = ExecStatus::filled;
constexpr ExecStatus kCanceled = ExecStatus::canceled;
constexpr ExecStatus kRejected = ExecStatus::rejected;
constexpr ExecStatus kExpired = ExecStatus::expired;

TEST(PaperBroker, MarketBuyIsAcknowledgedThenFillsInFullAtTheAsk) {
  Harness h;
  const Order order = h.order(OrderType::market, Side::buy, "10000");
  h.broker.submit(order);

  ASSERT_EQ(h.statuses(), (Statuses{kNew, kFilled}));
  const ExecutionReport& ack = h.sink.reports[0];
  EXPECT_EQ(ack.order_id, order.order_id);
  EXPECT_EQ(ack.session_id, 7u);
  EXPECT_EQ(ack.account_id, 2);
  EXPECT_EQ(ack.instrument_id, kEurUsd);
  EXPECT_EQ(ack.side, Side::buy);
  EXPECT_EQ(ack.client_order_id, order.client_order_id);
  EXPECT_EQ(ack.broker_order_id.view(), "P-1");
  EXPECT_EQ(ack.cumulative_quantity, Decimal{});
  EXPECT_EQ(ack.leaves_quantity, dec("10000"));
  EXPECT_EQ(ack.transact_time_ns, h.clock.wall_ns());

  const ExecutionReport& fill = h.sink.reports[1];
  EXPECT_EQ(fill.order_id, order.order_id);
  EXPECT_EQ(fill.client_order_id, order.client_order_id);
  EXPECT_EQ(fill.broker_order_id.view(), "P-1");
  EXPECT_EQ(fill.reason, Reason::OK);
  EXPECT_EQ(fill.last_quantity, dec("10000"));
  EXPECT_EQ(fill.last_price, dec("1.0847"));
  EXPECT_EQ(fill.cumulative_quantity, dec("10000"));
  EXPECT_EQ(fill.leaves_quantity, Decimal{});
  EXPECT_EQ(fill.average_price, dec("1.0847"));
  EXPECT_EQ(fill.transact_time_ns, h.clock.wall_ns());
}

TEST(PaperBroker, MarketSellFillsAtTheBid) {
  Harness h;
  h.broker.submit(h.order(OrderType::market, Side::sell, "500", TimeInForce::ioc, kUsdJpy));

  ASSERT_EQ(h.statuses(), (Statuses{kNew, kFilled}));
  EXPECT_EQ(h.sink.reports[1].last_price, dec("150.12"));
  EXPECT_EQ(h.sink.reports[1].side, Side::sell);
}

TEST(PaperBroker, BrokerOrderIdsAreSequentialPerOrderAndRepeatedOnEachReport) {
  Harness h;
  h.broker.submit(h.order(OrderType::market, Side::buy, "1"));
  h.broker.submit(h.limit(Side::buy, "1", "1.08000"));
  h.broker.submit(h.order(OrderType::market, Side::sell, "1"));

  std::vector<std::string> ids;
  for (const ExecutionReport& report : h.sink.reports) ids.emplace_back(report.broker_order_id.view());
  EXPECT_EQ(ids, (std::vector<std::string>{"P-1", "P-1", "P-2", "P-3", "P-3"}));
}

TEST(PaperBroker, MarketableLimitFillsAtTheTouchNotAtItsLimit) {
  Harness h;
  h.broker.submit(h.limit(Side::buy, "1000", "1.08600"));
  h.broker.submit(h.limit(Side::sell, "1000", "1.08000"));

  ASSERT_EQ(h.statuses(), (Statuses{kNew, kFilled, kNew, kFilled}));
  EXPECT_EQ(h.sink.reports[1].last_price, dec("1.0847"));
  EXPECT_EQ(h.sink.reports[3].last_price, dec("1.0846"));
  EXPECT_EQ(h.broker.resting_orders(), 0u);
}

TEST(PaperBroker, RestingLimitBuyFillsAtItsPriceWhenAskCrossesIt) {
  Harness h;
  h.broker.submit(h.limit(Side::buy, "1000", "1.08400"));
  ASSERT_EQ(h.statuses(), (Statuses{kNew}));
  EXPECT_EQ(h.broker.resting_orders(), 1u);

  h.broker.set_quote(kEurUsd, dec("1.08400"), dec("1.08410"));  // ask still above the limit
  EXPECT_EQ(h.statuses(), (Statuses{kNew}));

  h.broker.set_quote(kEurUsd, dec("1.08370"), dec("1.08380"));  // ask gaps through the limit
  ASSERT_EQ(h.statuses(), (Statuses{kNew, kFilled}));
  EXPECT_EQ(h.sink.reports[1].last_price, dec("1.084"));
  EXPECT_EQ(h.sink.reports[1].average_price, dec("1.084"));
  EXPECT_EQ(h.sink.reports[1].leaves_quantity, Decimal{});
  EXPECT_EQ(h.broker.resting_orders(), 0u);
}

TEST(PaperBroker, RestingLimitSellFillsAtItsPriceWhenBidReachesIt) {
  Harness h;
  h.broker.submit(h.limit(Side::sell, "1000", "1.08500"));
  h.broker.set_quote(kEurUsd, dec("1.08500"), dec("1.08510"));

  ASSERT_EQ(h.statuses(), (Statuses{kNew, kFilled}));
  EXPECT_EQ(h.sink.reports[1].last_price, dec("1.085"));
}

TEST(PaperBroker, RestingOrdersFillInArrivalOrder) {
  Harness h;
  const Order first = h.limit(Side::buy, "1", "1.08300");
  const Order second = h.limit(Side::buy, "1", "1.08400");
  const Order third = h.limit(Side::buy, "1", "1.08350");
  h.broker.submit(first);
  h.broker.submit(second);
  h.broker.submit(third);
  h.sink.reports.clear();

  h.broker.set_quote(kEurUsd, dec("1.08200"), dec("1.08210"));

  ASSERT_EQ(h.sink.reports.size(), 3u);
  EXPECT_EQ(h.sink.reports[0].order_id, first.order_id);
  EXPECT_EQ(h.sink.reports[1].order_id, second.order_id);
  EXPECT_EQ(h.sink.reports[2].order_id, third.order_id);
}

TEST(PaperBroker, IocAndFokLimitsThatAreNotMarketableAreCanceled) {
  Harness h;
  h.broker.submit(h.limit(Side::buy, "1000", "1.08000", TimeInForce::ioc));
  h.broker.submit(h.limit(Side::sell, "1000", "1.09000", TimeInForce::fok));

  ASSERT_EQ(h.statuses(), (Statuses{kNew, kCanceled, kNew, kCanceled}));
  for (const ExecutionReport& report : {h.sink.reports[1], h.sink.reports[3]}) {
    EXPECT_EQ(report.leaves_quantity, Decimal{});
    EXPECT_EQ(report.cumulative_quantity, Decimal{});
    EXPECT_EQ(report.broker_reason.view(), "NOT_MARKETABLE");
  }
  EXPECT_EQ(h.broker.resting_orders(), 0u);
}

TEST(PaperBroker, BuyStopRestsUntilAskReachesItThenFillsAtTheAsk) {
  Harness h;
  h.broker.submit(h.stop(Side::buy, "1000", "1.08500"));
  h.broker.set_quote(kEurUsd, dec("1.08480"), dec("1.08490"));
  ASSERT_EQ(h.statuses(), (Statuses{kNew}));

  h.broker.set_quote(kEurUsd, dec("1.08495"), dec("1.08505"));
  ASSERT_EQ(h.statuses(), (Statuses{kNew, kFilled}));
  EXPECT_EQ(h.sink.reports[1].last_price, dec("1.08505"));
}

TEST(PaperBroker, SellStopTriggersWhenBidFallsToItAndFillsAtTheBid) {
  Harness h;
  h.broker.submit(h.stop(Side::sell, "1000", "1.08400"));
  h.broker.set_quote(kEurUsd, dec("1.08390"), dec("1.08405"));

  ASSERT_EQ(h.statuses(), (Statuses{kNew, kFilled}));
  EXPECT_EQ(h.sink.reports[1].last_price, dec("1.0839"));
}

TEST(PaperBroker, StopAlreadyTriggeredOnArrivalFillsAtOnce) {
  Harness h;
  h.broker.submit(h.stop(Side::buy, "1000", "1.08450"));

  ASSERT_EQ(h.statuses(), (Statuses{kNew, kFilled}));
  EXPECT_EQ(h.sink.reports[1].last_price, dec("1.0847"));
}

TEST(PaperBroker, CancelOfARestingOrderReportsCanceledWithNothingLeft) {
  Harness h;
  const Order order = h.limit(Side::buy, "1000", "1.08000");
  h.broker.submit(order);

  CancelOrder cancel;
  cancel.order_id = order.order_id;
  cancel.session_id = order.session_id;
  cancel.account_id = order.account_id;
  cancel.instrument_id = order.instrument_id;
  h.broker.cancel(cancel);

  ASSERT_EQ(h.statuses(), (Statuses{kNew, kCanceled}));
  EXPECT_EQ(h.sink.reports[1].order_id, order.order_id);
  EXPECT_EQ(h.sink.reports[1].broker_order_id.view(), "P-1");
  EXPECT_EQ(h.sink.reports[1].leaves_quantity, Decimal{});
  EXPECT_EQ(h.broker.resting_orders(), 0u);

  h.broker.set_quote(kEurUsd, dec("1.07000"), dec("1.07010"));  // would have filled it
  EXPECT_EQ(h.statuses(), (Statuses{kNew, kCanceled}));
}

TEST(PaperBroker, CancelOfAnUnknownOrFinishedOrderReportsNothing) {
  Harness h;
  const Order filled = h.order(OrderType::market, Side::buy, "1");
  h.broker.submit(filled);
  const Order resting = h.limit(Side::buy, "1", "1.08000");
  h.broker.submit(resting);
  h.sink.reports.clear();

  CancelOrder cancel;
  cancel.order_id = filled.order_id;
  h.broker.cancel(cancel);
  cancel.order_id = 999;
  h.broker.cancel(cancel);

  EXPECT_TRUE(h.sink.reports.empty());
  EXPECT_EQ(h.broker.resting_orders(), 1u);
}

TEST(PaperBroker, GtdOrderExpiresOnTheFirstTickAfterItsExpiryTime) {
  Harness h;
  Order order = h.limit(Side::buy, "1000", "1.08000", TimeInForce::gtd);
  order.expire_time_ns = h.clock.wall_ns() + 250 * kNanosPerMilli;
  h.broker.submit(order);

  h.tick();  // +100 ms
  h.tick();  // +200 ms
  EXPECT_EQ(h.statuses(), (Statuses{kNew}));

  EXPECT_TRUE(h.tick());  // +300 ms
  ASSERT_EQ(h.statuses(), (Statuses{kNew, kExpired}));
  EXPECT_EQ(h.sink.reports[1].leaves_quantity, Decimal{});
  EXPECT_EQ(h.sink.reports[1].transact_time_ns, h.clock.wall_ns());
  EXPECT_EQ(h.broker.resting_orders(), 0u);
}

TEST(PaperBroker, GtdOrderPastItsExpiryDoesNotFillWhenTheQuoteCrosses) {
  Harness h;
  Order order = h.limit(Side::buy, "1000", "1.08000", TimeInForce::gtd);
  order.expire_time_ns = h.clock.wall_ns() + 50 * kNanosPerMilli;
  h.broker.submit(order);
  h.clock.advance(60 * kNanosPerMilli);  // expired, but no tick has run yet

  h.broker.set_quote(kEurUsd, dec("1.07000"), dec("1.07010"));

  EXPECT_EQ(h.statuses(), (Statuses{kNew, kExpired}));
}

TEST(PaperBroker, GtdOrderAlreadyExpiredOnArrivalIsExpiredNotFilled) {
  Harness h;
  Order order = h.order(OrderType::market, Side::buy, "1000", TimeInForce::gtd);
  order.expire_time_ns = h.clock.wall_ns();
  h.broker.submit(order);

  EXPECT_EQ(h.statuses(), (Statuses{kNew, kExpired}));
  EXPECT_EQ(h.broker.position(order.account_id, kEurUsd), Decimal{});
}

TEST(PaperBroker, DayOrderRestsLikeGtcAcrossManyTicks) {
  Harness h;
  h.broker.submit(h.limit(Side::buy, "1000", "1.08000", TimeInForce::day));
  for (int i = 0; i < 1000; ++i) h.tick();

  EXPECT_EQ(h.statuses(), (Statuses{kNew}));
  EXPECT_EQ(h.broker.resting_orders(), 1u);
}

TEST(PaperBroker, StartPublishesEveryConfiguredQuoteAtTheCurrentTime) {
  Harness h;
  const Quote eur_usd = h.quotes.read(kEurUsd);
  EXPECT_EQ(eur_usd.bid, dec("1.0846"));
  EXPECT_EQ(eur_usd.ask, dec("1.0847"));
  EXPECT_EQ(eur_usd.time_ns, h.clock.monotonic_ns());
  EXPECT_EQ(h.quotes.read(kUsdJpy).ask, dec("150.135"));
  EXPECT_TRUE(h.quotes.read(kBtcUsdt).empty());
}

TEST(PaperBroker, QuotesAreRepublishedFreshOnEachTickAndNotBetweenTicks) {
  Harness h;
  const std::int64_t started_ns = h.clock.monotonic_ns();

  h.clock.advance(kTick - 1);
  EXPECT_FALSE(h.broker.poll());
  EXPECT_EQ(h.quotes.read(kEurUsd).time_ns, started_ns);

  h.clock.advance(1);
  EXPECT_TRUE(h.broker.poll());
  EXPECT_EQ(h.quotes.read(kEurUsd).time_ns, h.clock.monotonic_ns());
  EXPECT_EQ(h.quotes.read(kUsdJpy).time_ns, h.clock.monotonic_ns());
  EXPECT_EQ(h.quotes.read(kEurUsd).bid, dec("1.0846"));  // no random walk by default
  EXPECT_FALSE(h.broker.poll());                          // same instant: nothing to do

  EXPECT_TRUE(h.tick());
  EXPECT_EQ(h.quotes.read(kEurUsd).time_ns, h.clock.monotonic_ns());
}

TEST(PaperBroker, SetQuotePublishesAtOnce) {
  Harness h;
  h.clock.advance(5);
  h.broker.set_quote(kBtcUsdt, dec("60000.00"), dec("60000.50"));

  const Quote quote = h.quotes.read(kBtcUsdt);
  EXPECT_EQ(quote.bid, dec("60000"));
  EXPECT_EQ(quote.ask, dec("60000.5"));
  EXPECT_EQ(quote.time_ns, h.clock.monotonic_ns());
}

TEST(PaperBroker, SetQuoteIgnoresAQuoteTheConstructorWouldRefuse) {
  Harness h;
  h.broker.set_quote(kEurUsd, dec("1.084605"), dec("1.08470"));  // off the tick grid
  h.broker.set_quote(kEurUsd, dec("1.08470"), dec("1.08470"));   // crossed / locked
  h.broker.set_quote(kEurUsd, dec("0"), dec("0.00010"));         // bid not positive
  h.broker.set_quote(99, dec("1"), dec("2"));                     // unknown instrument

  EXPECT_EQ(h.quotes.read(kEurUsd).bid, dec("1.0846"));
  EXPECT_EQ(h.quotes.read(kEurUsd).ask, dec("1.0847"));
}

TEST(PaperBroker, FeedQuoteIsAppliedOnTheBrokerThreadAtItsNextPoll) {
  auto feed = std::make_shared<PaperQuoteFeed>();
  Harness h(default_config(), feed);
  feed->set_quote("EUR/USD", dec("1.08500"), dec("1.08510"));
  EXPECT_EQ(h.quotes.read(kEurUsd).bid, dec("1.0846")) << "nothing changes on the caller's thread";

  EXPECT_TRUE(h.broker.poll()) << "applying a queued quote is work, even between ticks";
  EXPECT_EQ(h.quotes.read(kEurUsd).bid, dec("1.085"));
  EXPECT_EQ(h.quotes.read(kEurUsd).ask, dec("1.0851"));
  EXPECT_FALSE(h.broker.poll());
}

TEST(PaperBroker, FeedQuotesSetBeforeAnOrderAreInForceWhenItArrivesInTheOrderTheyWereSet) {
  auto feed = std::make_shared<PaperQuoteFeed>();
  Harness h(default_config(), feed);
  feed->set_quote("EURUSD", dec("1.08300"), dec("1.08310"));  // the key works as well as the name
  feed->set_quote("EUR/USD", dec("1.08200"), dec("1.08210"));
  h.broker.submit(h.order(OrderType::market, Side::buy, "1000"));

  ASSERT_EQ(h.statuses(), (Statuses{kNew, kFilled}));
  EXPECT_EQ(h.sink.reports[1].last_price, dec("1.0821"));
}

TEST(PaperBroker, FeedQuoteCrossingARestingOrderFillsIt) {
  auto feed = std::make_shared<PaperQuoteFeed>();
  Harness h(default_config(), feed);
  h.broker.submit(h.limit(Side::buy, "1000", "1.08400"));
  feed->set_quote("EUR/USD", dec("1.08390"), dec("1.08395"));
  h.broker.poll();

  ASSERT_EQ(h.statuses(), (Statuses{kNew, kFilled}));
  EXPECT_EQ(h.sink.reports[1].last_price, dec("1.084"));
}

TEST(PaperBroker, FeedRefusesABadQuoteForEveryBrokerAndNeedsALiveBroker) {
  auto feed = std::make_shared<PaperQuoteFeed>();
  EXPECT_THROW(feed->set_quote("EUR/USD", dec("1.08460"), dec("1.08470")), std::logic_error);
  {
    Harness first(default_config(), feed);
    Harness second(default_config(), feed);
    EXPECT_EQ(feed->brokers(), 2u);
    EXPECT_THROW(feed->set_quote("GBP/USD", dec("1.2"), dec("1.3")), std::invalid_argument);
    EXPECT_THROW(feed->set_quote("EUR/USD", dec("1.084605"), dec("1.08470")), std::invalid_argument);
    EXPECT_THROW(feed->set_quote("EUR/USD", dec("1.08470"), dec("1.08470")), std::invalid_argument);
    EXPECT_THROW(feed->set_quote("EUR/USD", dec("0"), dec("0.00010")), std::invalid_argument);
    EXPECT_FALSE(first.broker.poll());
    EXPECT_FALSE(second.broker.poll());

    feed->set_quote("USD/JPY", dec("150.500"), dec("150.510"));
    EXPECT_TRUE(first.broker.poll());
    EXPECT_TRUE(second.broker.poll());
    EXPECT_EQ(first.quotes.read(kUsdJpy).bid, dec("150.5"));
    EXPECT_EQ(second.quotes.read(kUsdJpy).bid, dec("150.5"));
  }
  EXPECT_EQ(feed->brokers(), 0u) << "a destroyed broker leaves the feed";
  EXPECT_THROW(feed->set_quote("EUR/USD", dec("1.08460"), dec("1.08470")), std::logic_error);
}

TEST(PaperBroker, FactoryBuildsBrokersWithItsSettingsAndFeed) {
  auto feed = std::make_shared<PaperQuoteFeed>();
  const auto factory = make_paper_factory(default_config(), feed);
  const InstrumentTable instruments = make_instruments();
  const std::unique_ptr<BrokerPort> broker = factory(instruments);
  ASSERT_NE(broker, nullptr);
  EXPECT_EQ(broker->name(), "paper");
  EXPECT_EQ(feed->brokers(), 1u);

  PaperConfig bad = default_config();
  bad.tick_interval_ns = 0;
  EXPECT_THROW((void)make_paper_factory(bad)(instruments), std::invalid_argument);
}

std::vector<Quote> walk_quotes(std::uint64_t seed, int ticks) {
  PaperConfig config = default_config();
  config.random_walk = true;
  config.seed = seed;
  Harness h(std::move(config));
  std::vector<Quote> seen;
  for (int i = 0; i < ticks; ++i) {
    h.tick();
    seen.push_back(h.quotes.read(kEurUsd));
    seen.push_back(h.quotes.read(kUsdJpy));
  }
  return seen;
}

bool same_prices(const std::vector<Quote>& a, const std::vector<Quote>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].bid != b[i].bid || a[i].ask != b[i].ask) return false;
  }
  return true;
}

TEST(PaperBroker, RandomWalkIsDeterministicForASeedAndDiffersAcrossSeeds) {
  const std::vector<Quote> first = walk_quotes(42, 200);
  const std::vector<Quote> again = walk_quotes(42, 200);
  const std::vector<Quote> other = walk_quotes(43, 200);

  EXPECT_TRUE(same_prices(first, again));
  EXPECT_FALSE(same_prices(first, other));
}

TEST(PaperBroker, RandomWalkMovesByWholeTicksWithinTheLimitAndKeepsTheSpread) {
  PaperConfig config = default_config();
  config.random_walk = true;
  config.seed = 7;
  config.walk_max_ticks = 3;
  Harness h(std::move(config));
  const Decimal tick = dec("0.00001");
  const Decimal spread = dec("0.0001");
  const Decimal max_move = dec("0.00003");

  Decimal previous_bid = h.quotes.read(kEurUsd).bid;
  bool moved = false;
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(h.tick());
    const Quote quote = h.quotes.read(kEurUsd);
    ASSERT_TRUE(quote.bid.is_multiple_of(tick)) << quote.bid.to_string();
    ASSERT_TRUE(quote.ask.is_multiple_of(tick)) << quote.ask.to_string();
    ASSERT_LT(quote.bid, quote.ask);
    Decimal quoted_spread;
    Decimal move;
    ASSERT_TRUE(Decimal::sub(quote.ask, quote.bid, quoted_spread));
    ASSERT_TRUE(Decimal::sub(quote.bid, previous_bid, move));
    EXPECT_EQ(quoted_spread, spread);
    EXPECT_LE(move.abs(), max_move);
    if (!move.is_zero()) moved = true;
    previous_bid = quote.bid;
  }
  EXPECT_TRUE(moved);
}

TEST(PaperBroker, RandomWalkNeverLetsTheBidReachZero) {
  PaperConfig config;
  config.quotes = {{"EUR/USD", dec("0.00002"), dec("0.00005")}};
  config.random_walk = true;
  config.walk_max_ticks = 10;
  config.tick_interval_ns = kTick;
  Harness h(std::move(config));

  bool touched_floor = false;
  for (int i = 0; i < 500; ++i) {
    h.tick();
    const Quote quote = h.quotes.read(kEurUsd);
    ASSERT_GE(quote.bid, dec("0.00001"));
    ASSERT_EQ(quote.ask, Decimal::from_raw(quote.bid.raw() + dec("0.00003").raw()));
    if (quote.bid == dec("0.00001")) touched_floor = true;
  }
  EXPECT_TRUE(touched_floor);
}

TEST(PaperBroker, RandomWalkFillsRestingOrdersOnTheTickThatCrossesThem) {
  PaperConfig config = default_config();
  config.random_walk = true;
  config.seed = 11;
  config.walk_max_ticks = 5;
  Harness h(std::move(config));
  // Two ticks outside the touch on either side: the walk reaches both sooner or later.
  h.broker.submit(h.limit(Side::sell, "1000", "1.08480"));
  h.broker.submit(h.limit(Side::buy, "1000", "1.08440"));

  for (int i = 0; i < 2000 && h.broker.resting_orders() > 0; ++i) h.tick();

  EXPECT_EQ(h.broker.resting_orders(), 0u);
  EXPECT_EQ(h.statuses(), (Statuses{kNew, kNew, kFilled, kFilled}));
}

TEST(PaperBroker, PositionsTrackFillsPerAccountAndInstrument) {
  Harness h;
  Order buy = h.order(OrderType::market, Side::buy, "10000");
  Order sell = h.order(OrderType::market, Side::sell, "2500");
  Order other_account = h.order(OrderType::market, Side::sell, "700");
  other_account.account_id = 5;
  Order yen = h.order(OrderType::market, Side::buy, "300", TimeInForce::gtc, kUsdJpy);
  h.broker.submit(buy);
  h.broker.submit(sell);
  h.broker.submit(other_account);
  h.broker.submit(yen);
  h.broker.submit(h.limit(Side::buy, "999", "1.00000"));  // rests; no position

  EXPECT_EQ(h.broker.position(2, kEurUsd), dec("7500"));
  EXPECT_EQ(h.broker.position(5, kEurUsd), dec("-700"));
  EXPECT_EQ(h.broker.position(2, kUsdJpy), dec("300"));
  EXPECT_EQ(h.broker.position(5, kUsdJpy), Decimal{});
  EXPECT_EQ(h.broker.position(2, 999), Decimal{});
}

TEST(PaperBroker, OrderForAnUnquotedInstrumentIsRejectedWithNoQuote) {
  Harness h;
  h.broker.submit(h.order(OrderType::market, Side::buy, "1", TimeInForce::gtc, kBtcUsdt));

  ASSERT_EQ(h.statuses(), (Statuses{kNew, kRejected}));
  const ExecutionReport& reject = h.sink.reports[1];
  EXPECT_EQ(reject.reason, Reason::BROKER_REJECTED);
  EXPECT_EQ(reject.broker_reason.view(), "NO_QUOTE");
  EXPECT_EQ(reject.leaves_quantity, Decimal{});
  EXPECT_EQ(reject.cumulative_quantity, Decimal{});
  EXPECT_EQ(reject.broker_order_id.view(), "P-1");
}

TEST(PaperBroker, MalformedOrderIsRejectedNotFilled) {
  Harness h;
  Order no_side = h.order(OrderType::market, Side::buy, "1");
  no_side.side = Side::unset;
  Order unknown_instrument = h.order(OrderType::market, Side::buy, "1", TimeInForce::gtc, 500);
  Order limit_without_price = h.order(OrderType::limit, Side::buy, "1");
  h.broker.submit(no_side);
  h.broker.submit(unknown_instrument);
  h.broker.submit(limit_without_price);

  ASSERT_EQ(h.statuses(), (Statuses{kNew, kRejected, kNew, kRejected, kNew, kRejected}));
  EXPECT_EQ(h.sink.reports[1].broker_reason.view(), "INVALID_ORDER");
  EXPECT_EQ(h.broker.resting_orders(), 0u);
}

TEST(PaperBroker, StopCancelsEveryRestingOrderSoEachEndsTerminal) {
  Harness h;
  const Order limit = h.limit(Side::buy, "1", "1.08000");
  const Order stop = h.stop(Side::buy, "1", "1.09000");
  h.broker.submit(limit);
  h.broker.submit(stop);
  h.sink.reports.clear();

  h.broker.stop();

  ASSERT_EQ(h.statuses(), (Statuses{kCanceled, kCanceled}));
  EXPECT_EQ(h.sink.reports[0].order_id, limit.order_id);
  EXPECT_EQ(h.sink.reports[1].order_id, stop.order_id);
  EXPECT_EQ(h.sink.reports[0].reason, Reason::BROKER_UNAVAILABLE);
  EXPECT_EQ(h.sink.reports[0].broker_reason.view(), "SHUTDOWN");
  EXPECT_EQ(h.broker.resting_orders(), 0u);
  EXPECT_FALSE(h.tick());
}

void expect_rejected(const PaperConfig& config, std::string_view symbol, std::string_view problem) {
  const InstrumentTable instruments = make_instruments();
  try {
    PaperBroker broker(instruments, config);
    ADD_FAILURE() << "accepted a config it should refuse: " << problem;
  } catch (const std::invalid_argument& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(symbol), std::string::npos) << message;
    EXPECT_NE(message.find(problem), std::string::npos) << message;
  }
}

TEST(PaperBroker, ConstructorRefusesBadQuotesNamingTheSymbolAndProblem) {
  auto with_quote = [](std::string symbol, std::string_view bid, std::string_view ask) {
    PaperConfig config;
    config.quotes = {{std::move(symbol), dec(bid), dec(ask)}};
    return config;
  };
  expect_rejected(with_quote("GBP/USD", "1.2", "1.3"), "GBP/USD", "not a configured instrument");
  expect_rejected(with_quote("EURUSD", "1.2", "1.3"), "EURUSD", "not a configured instrument");
  expect_rejected(with_quote("EUR/USD", "1.084605", "1.08470"), "EUR/USD", "tick size 0.00001");
  expect_rejected(with_quote("USD/JPY", "150.120", "150.1305"), "USD/JPY", "tick size 0.001");
  expect_rejected(with_quote("EUR/USD", "0", "0.0001"), "EUR/USD", "bid must be > 0");
  expect_rejected(with_quote("EUR/USD", "-1", "1"), "EUR/USD", "bid must be > 0");
  expect_rejected(with_quote("EUR/USD", "1.0847", "1.0847"), "EUR/USD", "bid must be below ask");
  expect_rejected(with_quote("EUR/USD", "1.0848", "1.0847"), "EUR/USD", "bid must be below ask");

  PaperConfig twice = default_config();
  twice.quotes.push_back({"EUR/USD", dec("1.1"), dec("1.2")});
  expect_rejected(twice, "EUR/USD", "quoted twice");

  PaperConfig no_interval = default_config();
  no_interval.tick_interval_ns = 0;
  expect_rejected(no_interval, "paper broker", "tick_interval_ns must be > 0");
}

TEST(PaperBroker, StartRefusesAQuoteBoardSmallerThanTheInstrumentTable) {
  const InstrumentTable instruments = make_instruments();
  PaperBroker broker(instruments, default_config());
  ManualClock clock;
  QuoteBoard quotes(1);
  RecordingSink sink;

  EXPECT_THROW(broker.start(sink, quotes, clock), std::invalid_argument);
}

}  // namespace
}  // namespace ordergate::adapters
