#pragma once

/// \file
/// The embedded paper broker: fills orders against its own quotes, with no
/// network and no credentials. Deterministic for a given seed and sequence
/// of calls, so tests can rely on exact fills.
///
/// Matching rules
///  - Every order is acknowledged with NEW first.
///  - Market orders fill in full at the touch (buy at the ask, sell at the bid).
///  - A limit order that is marketable on arrival fills at the touch; IOC/FOK
///    limits that are not marketable are CANCELED; others rest and fill in
///    full at their limit price once the quote crosses it (ask <= limit for a
///    buy, bid >= limit for a sell).
///  - A stop order rests until triggered (ask >= stop for a buy, bid <= stop
///    for a sell), then fills at the touch.
///  - GTD orders expire (EXPIRED) once the wall clock passes their expiry.
///    DAY orders are treated as GTC (the paper broker has no session end).
///  - Cancel of a resting order gives CANCELED; of anything else, nothing.
///
/// Quotes are republished every `tick_interval_ns` so they stay fresh for the
/// risk guards; with `random_walk` the mid moves by a seeded random number of
/// ticks (spread kept) at each tick. Demos and tests move a quote from their
/// own thread through a `PaperQuoteFeed`.
///
/// The gateway builds it like every other adapter, from a factory registered
/// under a broker name (`make_paper_factory`); see docs/paper-broker.md.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "ordergate/core/clock.hpp"
#include "ordergate/core/decimal.hpp"
#include "ordergate/core/instrument.hpp"
#include "ordergate/core/ports.hpp"

namespace ordergate::adapters {

struct PaperQuoteSpec {
  std::string symbol;  ///< canonical instrument name, e.g. "EUR/USD"
  Decimal bid;
  Decimal ask;
};

struct PaperConfig {
  std::vector<PaperQuoteSpec> quotes;  ///< instruments without a quote cannot trade (NO_REFERENCE_PRICE)
  bool random_walk = false;
  std::uint64_t seed = 1;
  std::uint32_t walk_max_ticks = 2;  ///< each step moves the mid by -N..+N ticks
  std::int64_t tick_interval_ns = 100'000'000;
};

class PaperBroker;

/// Moves the quotes of paper brokers from any thread: the handle a demo or a
/// test keeps after passing it to `make_paper_factory`. Every broker built
/// with the feed receives every quote set after it was built.
///
/// Thread-safe. `set_quote` takes a mutex and allocates: not for a hot path.
class PaperQuoteFeed {
 public:
  PaperQuoteFeed() = default;
  PaperQuoteFeed(const PaperQuoteFeed&) = delete;
  PaperQuoteFeed& operator=(const PaperQuoteFeed&) = delete;

  /// Queues a quote for `symbol` (canonical name "EUR/USD" or key "EURUSD")
  /// on each broker built with this feed. A broker applies it on its own I/O
  /// thread before the next order, cancel or poll it handles, in the order
  /// the quotes were set, and matches its resting orders against it; so a
  /// quote set before a `submit` is in force when that order reaches the
  /// broker. (The risk guards see it once the broker has published it.)
  /// Throws std::invalid_argument for an unknown symbol, bid <= 0,
  /// bid >= ask or a price off the tick grid (nothing is queued then), and
  /// std::logic_error when no broker built with the feed is alive.
  void set_quote(std::string_view symbol, Decimal bid, Decimal ask);

  /// Brokers built with this feed and still alive.
  [[nodiscard]] std::size_t brokers() const;

 private:
  friend class PaperBroker;
  void attach(PaperBroker& broker);
  void detach(PaperBroker& broker) noexcept;

  mutable std::mutex mutex_;
  std::vector<PaperBroker*> brokers_;
};

class PaperBroker final : public BrokerPort {
 public:
  /// Throws std::invalid_argument when a quote names an unknown instrument,
  /// is not on the tick grid, or has bid <= 0 or bid >= ask. With a `feed`,
  /// the broker takes the quotes set on it (see `PaperQuoteFeed`).
  PaperBroker(const InstrumentTable& instruments, PaperConfig config,
              std::shared_ptr<PaperQuoteFeed> feed = nullptr);
  ~PaperBroker() override;
  PaperBroker(const PaperBroker&) = delete;
  PaperBroker& operator=(const PaperBroker&) = delete;

  [[nodiscard]] std::string_view name() const noexcept override { return "paper"; }
  void start(ExecutionSink& sink, QuoteBoard& quotes, const Clock& clock) override;
  void submit(const Order& order) noexcept override;
  void cancel(const CancelOrder& request) noexcept override;
  bool poll() noexcept override;
  void stop() noexcept override;

  /// Sets a quote and matches resting orders against it at once. Call on the
  /// broker's thread (tests that drive the broker directly); from any other
  /// thread use a `PaperQuoteFeed`. A quote the constructor would refuse is
  /// ignored.
  void set_quote(InstrumentId instrument, Decimal bid, Decimal ask) noexcept;

  /// Net filled position of an account in an instrument (broker thread only).
  [[nodiscard]] Decimal position(AccountId account, InstrumentId instrument) const noexcept;
  /// Number of resting orders (broker thread only).
  [[nodiscard]] std::size_t resting_orders() const noexcept;

 private:
  /// Current touch of one instrument; `quoted` is false until a quote is set.
  struct Touch {
    Decimal bid;
    Decimal ask;
    Decimal tick_size;
    bool quoted = false;
  };
  /// A working order and the broker id it was acknowledged with.
  struct Resting {
    Order order;
    std::uint64_t broker_sequence = 0;
  };
  /// A resting order taken off the book by a matching pass, reported after it.
  struct Outcome {
    Resting resting;
    ExecStatus status = ExecStatus::filled;  // filled or expired
    Decimal fill_price;
  };

  /// A quote set through the feed, waiting for the broker thread.
  struct QueuedQuote {
    InstrumentId instrument = 0;
    Decimal bid;
    Decimal ask;
  };
  friend class PaperQuoteFeed;

  [[nodiscard]] bool started() const noexcept { return sink_ != nullptr; }
  /// The instrument `symbol` names if the quote is acceptable; else throws
  /// std::invalid_argument. Any thread (reads only immutable state).
  [[nodiscard]] InstrumentId check_quote(std::string_view symbol, Decimal bid, Decimal ask) const;
  void queue_quote(const QueuedQuote& quote);  // any thread
  /// Applies the quotes queued through the feed (broker thread). True if any.
  bool apply_queued_quotes() noexcept;
  void publish(InstrumentId instrument, std::int64_t now_ns) noexcept;
  void walk(Touch& touch) noexcept;
  /// Takes resting orders that fill or expire now off the book, then reports
  /// them in arrival order. `instrument` limits the pass to one instrument;
  /// `kAllInstruments` (see the .cpp) covers every one. True if any did.
  bool match(InstrumentId instrument) noexcept;
  void fill(const Resting& resting, Decimal price) noexcept;
  void report(const Resting& resting, ExecStatus status, Decimal last_quantity,
              Decimal last_price, Reason reason, std::string_view broker_reason) noexcept;

  PaperConfig config_;
  InstrumentTable instruments_;  // immutable copy, for symbol lookups by the feed
  std::shared_ptr<PaperQuoteFeed> feed_;
  std::mutex queued_mutex_;
  std::vector<QueuedQuote> queued_;    // guarded by queued_mutex_
  std::atomic<bool> has_queued_{false};
  std::vector<QueuedQuote> applying_;  // broker thread only; capacity kept
  ExecutionSink* sink_ = nullptr;
  QuoteBoard* quotes_ = nullptr;
  const Clock* clock_ = nullptr;
  std::vector<Touch> touches_;      // indexed by InstrumentId
  std::vector<Resting> resting_;    // arrival order
  std::vector<Outcome> outcomes_;   // scratch for match(); capacity kept
  std::vector<Decimal> positions_;  // account * instrument_count_ + instrument
  std::size_t instrument_count_ = 0;
  std::mt19937_64 random_;
  std::int64_t last_tick_ns_ = 0;
  std::uint64_t next_broker_sequence_ = 1;
};

/// The factory a gateway builds the paper broker with, like
/// `make_oanda_factory`: `config.brokers.emplace_back("paper",
/// make_paper_factory(settings, feed))`. Every broker it builds takes the
/// quotes set on `feed` (optional). The factory throws
/// std::invalid_argument for bad settings (see `PaperBroker`).
[[nodiscard]] std::function<std::unique_ptr<BrokerPort>(const InstrumentTable&)> make_paper_factory(
    PaperConfig config, std::shared_ptr<PaperQuoteFeed> feed = nullptr);

}  // namespace ordergate::adapters
