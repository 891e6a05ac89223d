#include "ordergate/adapters/paper/paper_broker.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>
#include <stdexcept>
#include <utility>

#include "paper_state_log.hpp"

namespace ordergate::adapters {
namespace {

constexpr InstrumentId kAllInstruments = std::numeric_limits<InstrumentId>::max();
static_assert(kMaxInstruments <= kAllInstruments, "the sentinel must not be a valid id");

constexpr std::size_t kInitialRestingCapacity = 256;

[[noreturn]] void bad_quote(const std::string& symbol, const std::string& problem) {
  throw std::invalid_argument("paper quote '" + symbol + "': " + problem);
}

// Uniform in [0, bound). Rejection sampling on the raw engine output instead of
// std::uniform_int_distribution, whose algorithm differs between standard
// libraries: mt19937_64's sequence is fixed by the standard, so the walk is
// reproducible on every platform.
std::uint64_t uniform_below(std::mt19937_64& random, std::uint64_t bound) noexcept {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  const std::uint64_t limit = kMax - kMax % bound;  // a multiple of bound
  for (;;) {
    const std::uint64_t draw = random();
    if (draw < limit) return draw % bound;
  }
}

[[nodiscard]] bool is_well_formed(const Order& order) noexcept {
  if (order.side != Side::buy && order.side != Side::sell) return false;
  if (!order.quantity.is_positive()) return false;
  switch (order.type) {
    case OrderType::market: return true;
    case OrderType::limit: return order.price.is_positive();
    case OrderType::stop: return order.stop_price.is_positive();
    case OrderType::unset: return false;
  }
  return false;
}

[[nodiscard]] Decimal touch_price(Side side, Decimal bid, Decimal ask) noexcept {
  return side == Side::buy ? ask : bid;
}

[[nodiscard]] bool limit_crossed(const Order& order, Decimal bid, Decimal ask) noexcept {
  return order.side == Side::buy ? ask <= order.price : bid >= order.price;
}

[[nodiscard]] bool stop_triggered(const Order& order, Decimal bid, Decimal ask) noexcept {
  return order.side == Side::buy ? ask >= order.stop_price : bid <= order.stop_price;
}

// Price an arriving order fills at, if it fills on arrival.
[[nodiscard]] std::optional<Decimal> arrival_fill_price(const Order& order, Decimal bid,
                                                        Decimal ask) noexcept {
  switch (order.type) {
    case OrderType::market: return touch_price(order.side, bid, ask);
    case OrderType::limit:
      if (limit_crossed(order, bid, ask)) return touch_price(order.side, bid, ask);
      return std::nullopt;
    case OrderType::stop:
      if (stop_triggered(order, bid, ask)) return touch_price(order.side, bid, ask);
      return std::nullopt;
    case OrderType::unset: return std::nullopt;
  }
  return std::nullopt;
}

// Price a resting order fills at against the current touch, if it fills now.
// A resting limit fills at its own price, not at the (better) touch.
[[nodiscard]] std::optional<Decimal> resting_fill_price(const Order& order, Decimal bid,
                                                        Decimal ask) noexcept {
  switch (order.type) {
    case OrderType::limit:
      if (limit_crossed(order, bid, ask)) return order.price;
      return std::nullopt;
    case OrderType::stop:
      if (stop_triggered(order, bid, ask)) return touch_price(order.side, bid, ask);
      return std::nullopt;
    case OrderType::market:
    case OrderType::unset: return std::nullopt;
  }
  return std::nullopt;
}

[[nodiscard]] bool is_immediate(TimeInForce tif) noexcept {
  return tif == TimeInForce::ioc || tif == TimeInForce::fok;
}

[[nodiscard]] bool is_expired(const Order& order, std::int64_t wall_ns) noexcept {
  return order.time_in_force == TimeInForce::gtd && order.expire_time_ns <= wall_ns;
}

BrokerOrderId format_broker_order_id(std::uint64_t sequence) noexcept {
  char text[2 + std::numeric_limits<std::uint64_t>::digits10 + 1] = {'P', '-'};
  const auto result = std::to_chars(text + 2, text + sizeof(text), sequence);
  BrokerOrderId id;
  id.assign(std::string_view(text, static_cast<std::size_t>(result.ptr - text)));
  return id;
}

// The sequence of a broker order id "P-N"; 0 when it is not one.
std::uint64_t broker_sequence_of(std::string_view id) noexcept {
  if (id.size() <= 2 || id[0] != 'P' || id[1] != '-') return 0;
  std::uint64_t sequence = 0;
  const auto [end, error] = std::from_chars(id.data() + 2, id.data() + id.size(), sequence);
  if (error != std::errc{} || end != id.data() + id.size()) return 0;
  return sequence;
}

// What happens to an order when it arrives.
enum class Arrival : std::uint8_t { invalid, no_quote, expired, fills, not_marketable, rests };

}  // namespace

PaperBroker::PaperBroker(const InstrumentTable& instruments, PaperConfig config,
                         std::shared_ptr<PaperQuoteFeed> feed)
    : config_(std::move(config)),
      instruments_(instruments),
      touches_(instruments.size()),
      positions_(instruments.size() * kMaxAccounts),
      instrument_count_(instruments.size()),
      random_(config_.seed) {
  if (config_.tick_interval_ns <= 0) {
    throw std::invalid_argument("paper broker: tick_interval_ns must be > 0");
  }
  for (const Instrument& instrument : instruments.all()) {
    touches_[instrument.id].tick_size = instrument.tick_size;
  }
  for (const PaperQuoteSpec& spec : config_.quotes) {
    const Instrument* instrument = instruments.find_name(spec.symbol);
    if (instrument == nullptr) {
      bad_quote(spec.symbol, "not a configured instrument (use the canonical name, e.g. EUR/USD)");
    }
    Touch& touch = touches_[instrument->id];
    if (touch.quoted) bad_quote(spec.symbol, "quoted twice");
    if (!spec.bid.is_positive()) bad_quote(spec.symbol, "bid must be > 0");
    if (spec.bid >= spec.ask) bad_quote(spec.symbol, "bid must be below ask");
    if (!spec.bid.is_multiple_of(instrument->tick_size) ||
        !spec.ask.is_multiple_of(instrument->tick_size)) {
      bad_quote(spec.symbol, "bid and ask must be multiples of the tick size " +
                                 instrument->tick_size.to_string());
    }
    touch.bid = spec.bid;
    touch.ask = spec.ask;
    touch.quoted = true;
  }
  resting_.reserve(kInitialRestingCapacity);
  outcomes_.reserve(kInitialRestingCapacity);
  if (!config_.state_file.empty()) {
    state_ = std::make_unique<paper_detail::PaperStateLog>(config_.state_file, instruments_, config_.log);
    PaperState loaded = state_->take_loaded();
    next_broker_sequence_ = loaded.next_broker_sequence;
    for (const PaperPosition& position : loaded.positions) {
      positions_[position.account_id * instrument_count_ + position.instrument_id] = position.net;
    }
    for (const PaperRestingOrder& order : loaded.resting) {
      resting_.push_back(Resting{order.order, order.broker_sequence, order.venue_client_id, Origin::restored});
    }
    if (!loaded.resting.empty() || !loaded.positions.empty()) {
      log(tls::LogLevel::info, "paper state file " + config_.state_file + ": restored " +
                                   std::to_string(loaded.resting.size()) + " resting orders and " +
                                   std::to_string(loaded.positions.size()) + " positions; next order P-" +
                                   std::to_string(next_broker_sequence_));
    }
  }
  if (feed) {
    feed->attach(*this);
    feed_ = std::move(feed);
  }
}

PaperBroker::~PaperBroker() {
  if (feed_) feed_->detach(*this);
}

void PaperBroker::start(ExecutionSink& sink, QuoteBoard& quotes, const Clock& clock) {
  if (quotes.size() < instrument_count_) {
    throw std::invalid_argument("paper broker: the quote board is smaller than the instrument table");
  }
  sink_ = &sink;
  quotes_ = &quotes;
  clock_ = &clock;
  const std::int64_t now_ns = clock.monotonic_ns();
  for (std::size_t id = 0; id < instrument_count_; ++id) {
    if (touches_[id].quoted) publish(static_cast<InstrumentId>(id), now_ns);
  }
  last_tick_ns_ = now_ns;
}

void PaperBroker::submit(const Order& order) noexcept {
  if (!started()) return;
  if (has_queued_.load(std::memory_order_acquire)) apply_queued_quotes();
  if (state_failed_) {
    // Never acknowledged, so nothing needs recording: a plain refusal.
    ExecutionReport refused;
    refused.order_id = order.order_id;
    refused.session_id = order.session_id;
    refused.account_id = order.account_id;
    refused.instrument_id = order.instrument_id;
    refused.side = order.side;
    refused.status = ExecStatus::rejected;
    refused.reason = Reason::BROKER_UNAVAILABLE;
    refused.transact_time_ns = clock_->wall_ns();
    refused.client_order_id = order.client_order_id;
    refused.broker_reason.assign("STATE_FILE_FAILED");
    sink_->on_execution(refused);
    return;
  }
  const Resting resting{order, next_broker_sequence_, venue_ids_.make(order.order_id), Origin::submitted};

  // Decide first: what the reports will say is recorded before any leaves.
  Arrival arrival = Arrival::rests;
  Decimal fill_price;
  if (order.instrument_id >= instrument_count_ || order.account_id >= kMaxAccounts || !is_well_formed(order)) {
    arrival = Arrival::invalid;
  } else if (const Touch& touch = touches_[order.instrument_id]; !touch.quoted) {
    arrival = Arrival::no_quote;
  } else if (is_expired(order, clock_->wall_ns())) {
    arrival = Arrival::expired;
  } else if (const std::optional<Decimal> price = arrival_fill_price(order, touch.bid, touch.ask)) {
    arrival = Arrival::fills;
    fill_price = *price;
  } else if (is_immediate(order.time_in_force)) {
    // Without partial fills, FOK and IOC behave alike: all now, or nothing.
    arrival = Arrival::not_marketable;
  }

  ++next_broker_sequence_;
  Decimal net;
  if (arrival == Arrival::fills) net = book_fill(order);
  if (state_) {
    state_->stage_next(next_broker_sequence_);
    if (arrival == Arrival::fills) state_->stage_position(order.account_id, order.instrument_id, net);
    if (arrival == Arrival::rests) {
      state_->stage_order(PaperRestingOrder{resting.order, resting.broker_sequence, resting.venue_client_id});
    }
    if (!commit_state()) return;
  }
  // On the book before its NEW leaves, as in the file: a compaction or a
  // cancel from inside the sink finds it.
  if (arrival == Arrival::rests) resting_.push_back(resting);

  report(resting, ExecStatus::new_order, Decimal{}, Decimal{}, Reason::OK, {});
  switch (arrival) {
    case Arrival::invalid:
      report(resting, ExecStatus::rejected, Decimal{}, Decimal{}, Reason::BROKER_REJECTED, "INVALID_ORDER");
      return;
    case Arrival::no_quote:
      report(resting, ExecStatus::rejected, Decimal{}, Decimal{}, Reason::BROKER_REJECTED, "NO_QUOTE");
      return;
    case Arrival::expired: report(resting, ExecStatus::expired, Decimal{}, Decimal{}, Reason::OK, {}); return;
    case Arrival::fills:
      report(resting, ExecStatus::filled, order.quantity, fill_price, Reason::OK, {});
      return;
    case Arrival::not_marketable:
      report(resting, ExecStatus::canceled, Decimal{}, Decimal{}, Reason::OK, "NOT_MARKETABLE");
      return;
    case Arrival::rests: return;
  }
}

void PaperBroker::cancel(const CancelOrder& request) noexcept {
  if (!started()) return;
  if (has_queued_.load(std::memory_order_acquire)) apply_queued_quotes();
  if (state_failed_) return;
  // A restored order keeps the order id of an earlier run, which may be
  // another order's now: only adoption makes it cancelable.
  const auto it = std::find_if(resting_.begin(), resting_.end(), [&](const Resting& resting) {
    return resting.origin != Origin::restored && resting.order.order_id == request.order_id;
  });
  if (it == resting_.end()) return;
  const Resting canceled = *it;
  resting_.erase(it);  // keeps arrival order; books are small
  if (state_) {
    state_->stage_gone(canceled.broker_sequence);
    if (!commit_state()) return;
  }
  report(canceled, ExecStatus::canceled, Decimal{}, Decimal{}, Reason::OK, {});
}

void PaperBroker::replace(const ReplaceOrder& request) noexcept {
  if (!started()) return;
  if (has_queued_.load(std::memory_order_acquire)) apply_queued_quotes();
  const Order& order = request.order;
  auto answer = [&](ExecStatus status, std::string_view broker_reason, std::uint64_t broker_sequence) {
    ExecutionReport event = report_of(order, status,
                                      status == ExecStatus::replaced ? Reason::OK : Reason::BROKER_REJECTED,
                                      broker_reason, broker_sequence);
    if (status == ExecStatus::replaced) event.leaves_quantity = order.quantity;
    event.other_client_order_id = request.original_client_order_id;
    sink_->on_execution(event);
  };
  if (state_failed_) {
    answer(ExecStatus::replace_rejected, "STATE_FILE_FAILED", 0);
    return;
  }
  const auto it = std::find_if(resting_.begin(), resting_.end(), [&](const Resting& resting) {
    return resting.origin != Origin::restored && resting.order.order_id == request.original_order_id;
  });
  if (it == resting_.end()) {
    answer(ExecStatus::replace_rejected, "ORDER_NOT_WORKING", 0);
    return;
  }
  const Order& original = it->order;
  if (!is_well_formed(order) || order.account_id != original.account_id ||
      order.instrument_id != original.instrument_id || order.side != original.side || order.type != original.type) {
    answer(ExecStatus::replace_rejected, "INVALID_ORDER", 0);
    return;
  }
  if (is_expired(order, clock_->wall_ns())) {
    answer(ExecStatus::replace_rejected, "EXPIRED", 0);
    return;
  }
  const Touch& touch = touches_[order.instrument_id];
  const std::optional<Decimal> fill_price =
      touch.quoted ? arrival_fill_price(order, touch.bid, touch.ask) : std::optional<Decimal>{};
  const Resting replacement{order, next_broker_sequence_, venue_ids_.make(order.order_id), Origin::submitted};
  const std::uint64_t gone = it->broker_sequence;
  ++next_broker_sequence_;
  resting_.erase(it);
  Decimal net;
  if (fill_price) net = book_fill(order);
  if (state_) {
    state_->stage_gone(gone);
    state_->stage_next(next_broker_sequence_);
    if (fill_price) {
      state_->stage_position(order.account_id, order.instrument_id, net);
    } else {
      state_->stage_order(
          PaperRestingOrder{replacement.order, replacement.broker_sequence, replacement.venue_client_id});
    }
    if (!commit_state()) return;
  }
  if (!fill_price) resting_.push_back(replacement);
  answer(ExecStatus::replaced, {}, replacement.broker_sequence);
  if (fill_price) report(replacement, ExecStatus::filled, order.quantity, *fill_price, Reason::OK, {});
}

bool PaperBroker::poll() noexcept {
  if (!started()) return false;
  bool did_work = has_queued_.load(std::memory_order_acquire) && apply_queued_quotes();
  if (state_ && !state_failed_ && state_->wants_compaction()) {
    compact_state();
    did_work = true;
  }
  const std::int64_t now_ns = clock_->monotonic_ns();
  if (now_ns - last_tick_ns_ < config_.tick_interval_ns) return did_work;
  // Restart the interval from now rather than catching up missed ticks.
  last_tick_ns_ = now_ns;

  for (std::size_t id = 0; id < instrument_count_; ++id) {
    Touch& touch = touches_[id];
    if (!touch.quoted) continue;
    if (config_.random_walk) walk(touch);
    publish(static_cast<InstrumentId>(id), now_ns);
    did_work = true;
  }
  if (match(kAllInstruments)) did_work = true;
  return did_work;
}

void PaperBroker::stop() noexcept {
  if (!started()) return;
  if (!state_) {
    std::vector<Resting> closing;
    closing.swap(resting_);
    for (const Resting& resting : closing) {
      if (resting.origin == Origin::restored) continue;
      report(resting, ExecStatus::canceled, Decimal{}, Decimal{}, Reason::BROKER_UNAVAILABLE, "SHUTDOWN");
    }
  }
  sink_ = nullptr;
  quotes_ = nullptr;
  clock_ = nullptr;
}

bool PaperBroker::request_holdings() noexcept {
  if (!started()) return false;
  Holdings holdings;
  try {
    holdings.orders.reserve(resting_.size());
    for (const Resting& resting : resting_) {
      const Order& order = resting.order;
      HeldOrder held;
      held.account_id = order.account_id;
      held.instrument_id = order.instrument_id;
      held.side = order.side;
      held.type = order.type;
      held.time_in_force = order.time_in_force;
      held.quantity = order.quantity;
      held.leaves = order.quantity;  // no partial fills
      held.price = order.price;
      held.stop_price = order.stop_price;
      held.expire_time_ns = order.expire_time_ns;
      held.broker_order_id = format_broker_order_id(resting.broker_sequence);
      held.venue_client_id.assign(resting.venue_client_id.view());
      holdings.orders.push_back(held);
    }
    for (std::size_t account = 0; account < kMaxAccounts; ++account) {
      for (std::size_t instrument = 0; instrument < instrument_count_; ++instrument) {
        const Decimal net = positions_[account * instrument_count_ + instrument];
        if (net.is_zero()) continue;
        holdings.positions.push_back(
            HeldPosition{static_cast<AccountId>(account), static_cast<InstrumentId>(instrument), net});
      }
    }
    holdings.complete = !state_failed_;
    if (state_failed_) holdings.error = "the paper broker's state file could not be written";
  } catch (...) {
    holdings = Holdings{};
    holdings.error = "out of memory";
  }
  // The holdings are a copy: the gateway may adopt and cancel from inside.
  sink_->on_holdings(holdings);
  holdings_answered_ = true;
  return true;
}

void PaperBroker::adopt(const Order& order, const HeldOrder& held) noexcept {
  if (!started()) return;
  const std::uint64_t sequence = broker_sequence_of(held.broker_order_id.view());
  auto it = std::find_if(resting_.begin(), resting_.end(), [&](const Resting& resting) {
    return resting.origin == Origin::restored && sequence != 0 && resting.broker_sequence == sequence;
  });
  if (it == resting_.end() && !held.venue_client_id.empty()) {
    it = std::find_if(resting_.begin(), resting_.end(), [&](const Resting& resting) {
      return resting.origin == Origin::restored && resting.venue_client_id.view() == held.venue_client_id.view();
    });
  }
  if (it == resting_.end()) return;
  const Order& kept = it->order;
  if (order.account_id != kept.account_id || order.instrument_id != kept.instrument_id || order.side != kept.side) {
    log(tls::LogLevel::warning, "paper broker: adoption of P-" + std::to_string(it->broker_sequence) +
                                    " ignored: the gateway order names another account, instrument or side");
    return;
  }
  Order adopted = order;
  adopted.type = kept.type;
  adopted.time_in_force = kept.time_in_force;
  adopted.quantity = kept.quantity;
  adopted.price = kept.price;
  adopted.stop_price = kept.stop_price;
  adopted.expire_time_ns = kept.expire_time_ns;
  it->order = adopted;
  it->origin = Origin::adopted;
  if (state_ && !state_failed_) {
    state_->stage_order(PaperRestingOrder{it->order, it->broker_sequence, it->venue_client_id});
    (void)commit_state();
  }
}

void PaperBroker::set_quote(InstrumentId instrument, Decimal bid, Decimal ask) noexcept {
  if (instrument >= instrument_count_) return;
  Touch& touch = touches_[instrument];
  // Same rules as the configured quotes; a bad quote is ignored, never half-applied.
  if (!bid.is_positive() || bid >= ask || !bid.is_multiple_of(touch.tick_size) ||
      !ask.is_multiple_of(touch.tick_size)) {
    return;
  }
  touch.bid = bid;
  touch.ask = ask;
  touch.quoted = true;
  if (!started()) return;
  publish(instrument, clock_->monotonic_ns());
  match(instrument);
}

InstrumentId PaperBroker::check_quote(std::string_view symbol, Decimal bid, Decimal ask) const {
  const Instrument* instrument = instruments_.find_name(symbol);
  if (instrument == nullptr) {
    SymbolKey key;
    if (key.assign(symbol)) instrument = instruments_.find(key);
  }
  const std::string name(symbol);
  if (instrument == nullptr) bad_quote(name, "not a configured instrument");
  if (!bid.is_positive()) bad_quote(name, "bid must be > 0");
  if (bid >= ask) bad_quote(name, "bid must be below ask");
  if (!bid.is_multiple_of(instrument->tick_size) || !ask.is_multiple_of(instrument->tick_size)) {
    bad_quote(name, "bid and ask must be multiples of the tick size " + instrument->tick_size.to_string());
  }
  return instrument->id;
}

void PaperBroker::queue_quote(const QueuedQuote& quote) {
  std::lock_guard lock(queued_mutex_);
  queued_.push_back(quote);
  has_queued_.store(true, std::memory_order_release);
}

bool PaperBroker::apply_queued_quotes() noexcept {
  {
    std::lock_guard lock(queued_mutex_);
    applying_.swap(queued_);
    has_queued_.store(false, std::memory_order_relaxed);
  }
  for (const QueuedQuote& quote : applying_) set_quote(quote.instrument, quote.bid, quote.ask);
  const bool applied = !applying_.empty();
  applying_.clear();
  return applied;
}

Decimal PaperBroker::position(AccountId account, InstrumentId instrument) const noexcept {
  if (account >= kMaxAccounts || instrument >= instrument_count_) return Decimal{};
  return positions_[account * instrument_count_ + instrument];
}

std::size_t PaperBroker::resting_orders() const noexcept { return resting_.size(); }

void PaperBroker::publish(InstrumentId instrument, std::int64_t now_ns) noexcept {
  const Touch& touch = touches_[instrument];
  quotes_->publish(instrument, touch.bid, touch.ask, now_ns);
}

void PaperBroker::walk(Touch& touch) noexcept {
  const std::uint64_t max_ticks = config_.walk_max_ticks;
  const auto steps = static_cast<std::int64_t>(uniform_below(random_, 2 * max_ticks + 1)) -
                     static_cast<std::int64_t>(max_ticks);
  if (steps == 0) return;
  Decimal move;
  Decimal spread;
  Decimal bid;
  Decimal ask;
  // Overflow only with absurd prices; the quote then stays where it is.
  if (!Decimal::multiply(Decimal::from_integer(steps), touch.tick_size, move) ||
      !Decimal::sub(touch.ask, touch.bid, spread) || !Decimal::add(touch.bid, move, bid)) {
    return;
  }
  if (bid < touch.tick_size) bid = touch.tick_size;  // one tick is the lowest positive bid
  if (!Decimal::add(bid, spread, ask)) return;
  touch.bid = bid;
  touch.ask = ask;
}

bool PaperBroker::match(InstrumentId instrument) noexcept {
  if (state_failed_) return false;
  const std::int64_t wall_ns = clock_->wall_ns();
  // Work on a local vector so that a sink callback re-entering the broker
  // cannot clobber the list being reported; the capacity goes back afterwards.
  std::vector<Outcome> outcomes;
  outcomes.swap(outcomes_);
  outcomes.clear();

  std::size_t kept = 0;
  for (std::size_t i = 0; i < resting_.size(); ++i) {
    const Resting& resting = resting_[i];
    const Order& order = resting.order;
    const bool held = resting.origin == Origin::restored && !holdings_answered_;
    if (!held && (instrument == kAllInstruments || order.instrument_id == instrument)) {
      // Expiry wins over a fill at the same instant.
      if (is_expired(order, wall_ns)) {
        outcomes.push_back({resting, ExecStatus::expired, Decimal{}});
        continue;
      }
      const Touch& touch = touches_[order.instrument_id];
      if (const std::optional<Decimal> price = resting_fill_price(order, touch.bid, touch.ask)) {
        outcomes.push_back({resting, ExecStatus::filled, *price});
        continue;
      }
    }
    if (kept != i) resting_[kept] = resting;
    ++kept;
  }
  resting_.erase(resting_.begin() + static_cast<std::ptrdiff_t>(kept), resting_.end());

  // One sync for the whole pass, before its first report.
  bool recorded = true;
  for (const Outcome& outcome : outcomes) {
    const Order& order = outcome.resting.order;
    if (state_) state_->stage_gone(outcome.resting.broker_sequence);
    if (outcome.status != ExecStatus::filled) continue;
    const Decimal net = book_fill(order);
    if (state_) state_->stage_position(order.account_id, order.instrument_id, net);
  }
  if (state_ && !outcomes.empty()) recorded = commit_state();

  if (recorded) {
    for (const Outcome& outcome : outcomes) {
      const bool foreign = outcome.resting.origin == Origin::restored;
      if (outcome.status == ExecStatus::filled) {
        if (foreign) {
          report_foreign_fill(outcome.resting, outcome.fill_price);
        } else {
          report(outcome.resting, ExecStatus::filled, outcome.resting.order.quantity, outcome.fill_price,
                 Reason::OK, {});
        }
      } else if (!foreign) {
        // A foreign order's expiry changes no position: there is nothing to report it to.
        report(outcome.resting, outcome.status, Decimal{}, Decimal{}, Reason::OK, {});
      }
    }
  }
  const bool any = !outcomes.empty();
  outcomes.clear();
  outcomes_.swap(outcomes);
  return any;
}

Decimal PaperBroker::book_fill(const Order& order) noexcept {
  Decimal& net = positions_[order.account_id * instrument_count_ + order.instrument_id];
  // A position beyond +-9.2e9 units cannot occur behind the risk guards;
  // if it ever did, the position stops moving rather than wrapping.
  const bool buy = order.side == Side::buy;
  Decimal updated;
  if (buy ? Decimal::add(net, order.quantity, updated)
          : Decimal::sub(net, order.quantity, updated)) {
    net = updated;
  }
  return net;
}

bool PaperBroker::commit_state() noexcept {
  if (!state_) return true;
  if (state_->commit()) return true;
  state_failed_ = true;
  return false;
}

PaperState PaperBroker::snapshot() const {
  PaperState state;
  state.next_broker_sequence = next_broker_sequence_;
  state.resting.reserve(resting_.size());
  for (const Resting& resting : resting_) {
    state.resting.push_back(PaperRestingOrder{resting.order, resting.broker_sequence, resting.venue_client_id});
  }
  for (std::size_t account = 0; account < kMaxAccounts; ++account) {
    for (std::size_t instrument = 0; instrument < instrument_count_; ++instrument) {
      const Decimal net = positions_[account * instrument_count_ + instrument];
      if (!net.is_zero()) {
        state.positions.push_back(
            PaperPosition{static_cast<AccountId>(account), static_cast<InstrumentId>(instrument), net});
      }
    }
  }
  return state;
}

void PaperBroker::compact_state() noexcept {
  try {
    if (state_->compact(snapshot()) == paper_detail::PaperStateLog::CompactResult::failed) state_failed_ = true;
  } catch (...) {
    // Out of memory building the snapshot: the file is as it was.
  }
}

void PaperBroker::log(tls::LogLevel level, std::string_view line) const noexcept {
  try {
    if (config_.log) {
      config_.log(level, line);
    } else {
      tls::log_to_stderr(level, line);
    }
  } catch (...) {
  }
}

void PaperBroker::report(const Resting& resting, ExecStatus status, Decimal last_quantity,
                         Decimal last_price, Reason reason,
                         std::string_view broker_reason) noexcept {
  const Order& order = resting.order;
  ExecutionReport event = report_of(order, status, reason, broker_reason, resting.broker_sequence);
  event.last_quantity = last_quantity;
  event.last_price = last_price;
  if (status == ExecStatus::new_order) {
    event.leaves_quantity = order.quantity;
  } else if (status == ExecStatus::filled) {
    // No partial fills: a fill is always the whole order.
    event.cumulative_quantity = last_quantity;
    event.average_price = last_price;
  }
  sink_->on_execution(event);
}

ExecutionReport PaperBroker::report_of(const Order& order, ExecStatus status, Reason reason,
                                       std::string_view broker_reason,
                                       std::uint64_t broker_sequence) const noexcept {
  ExecutionReport event;
  event.order_id = order.order_id;
  event.session_id = order.session_id;
  event.account_id = order.account_id;
  event.instrument_id = order.instrument_id;
  event.side = order.side;
  event.status = status;
  event.reason = reason;
  event.transact_time_ns = clock_->wall_ns();
  event.client_order_id = order.client_order_id;
  if (broker_sequence != 0) event.broker_order_id = format_broker_order_id(broker_sequence);
  event.broker_reason.assign(broker_reason);
  return event;
}

void PaperBroker::report_foreign_fill(const Resting& resting, Decimal price) noexcept {
  const Order& order = resting.order;
  ExecutionReport fill;
  fill.kind = ReportKind::position_fill;
  fill.source = FillSource::account;
  fill.status = ExecStatus::filled;
  fill.order_id = kNoOrderId;
  fill.account_id = order.account_id;
  fill.instrument_id = order.instrument_id;
  fill.side = order.side;
  fill.last_quantity = order.quantity;
  fill.last_price = price;
  fill.transact_time_ns = clock_->wall_ns();
  fill.broker_order_id = format_broker_order_id(resting.broker_sequence);
  fill.broker_reason.assign("NOT_ADOPTED");
  sink_->on_position_fill(fill);
}

// ---- PaperQuoteFeed ----------------------------------------------------------

void PaperQuoteFeed::set_quote(std::string_view symbol, Decimal bid, Decimal ask) {
  std::lock_guard lock(mutex_);
  if (brokers_.empty()) {
    throw std::logic_error(
        "paper quote feed: no paper broker built with this feed is alive (pass the feed to "
        "make_paper_factory and build the gateway first)");
  }
  // Every broker accepts the quote before any receives it.
  std::vector<PaperBroker::QueuedQuote> quotes;
  quotes.reserve(brokers_.size());
  for (const PaperBroker* broker : brokers_) quotes.push_back({broker->check_quote(symbol, bid, ask), bid, ask});
  for (std::size_t i = 0; i < brokers_.size(); ++i) brokers_[i]->queue_quote(quotes[i]);
}

std::size_t PaperQuoteFeed::brokers() const {
  std::lock_guard lock(mutex_);
  return brokers_.size();
}

void PaperQuoteFeed::attach(PaperBroker& broker) {
  std::lock_guard lock(mutex_);
  brokers_.push_back(&broker);
}

void PaperQuoteFeed::detach(PaperBroker& broker) noexcept {
  std::lock_guard lock(mutex_);
  brokers_.erase(std::remove(brokers_.begin(), brokers_.end(), &broker), brokers_.end());
}

std::function<std::unique_ptr<BrokerPort>(const InstrumentTable&)> make_paper_factory(
    PaperConfig config, std::shared_ptr<PaperQuoteFeed> feed) {
  auto shared = std::make_shared<const PaperConfig>(std::move(config));
  return [shared, feed = std::move(feed)](const InstrumentTable& instruments) -> std::unique_ptr<BrokerPort> {
    return std::make_unique<PaperBroker>(instruments, *shared, feed);
  };
}

}  // namespace ordergate::adapters
