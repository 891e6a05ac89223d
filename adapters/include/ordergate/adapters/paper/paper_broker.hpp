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
/// Durable state (`PaperConfig::state_file`): positions, resting orders and
/// the next broker order id survive a restart, and every change is synced to
/// the file before the report that announces it leaves the broker. Restored
/// orders wait for reconciliation: they do not fill or expire until the
/// first `request_holdings` was answered; from then on, those the gateway
/// did not `adopt` are foreign orders whose fills are position fills.
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

#include "ordergate/adapters/paper/paper_state.hpp"
#include "ordergate/adapters/rest/venue_client_id.hpp"
#include "ordergate/adapters/tls/https_client.hpp"
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
  /// Where positions, resting orders and the next broker order id are kept
  /// across restarts (see paper_state.hpp). Empty: in memory only, and no
  /// file is ever touched. A relative path is relative to the working
  /// directory. The file is locked while the broker lives: one file per
  /// broker.
  std::string state_file;
  /// Receives the broker's log lines (state file events). Empty: stderr.
  tls::LogFunction log;
};

class PaperBroker;
namespace paper_detail {
class PaperStateLog;
}

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
  /// the broker takes the quotes set on it (see `PaperQuoteFeed`). With a
  /// `state_file`, loads and locks it (creating it when absent) and rewrites
  /// it compacted; throws std::runtime_error naming the file (and the line)
  /// when it cannot: damaged, another version, in use by another broker, an
  /// instrument no longer configured, a directory that does not exist.
  PaperBroker(const InstrumentTable& instruments, PaperConfig config,
              std::shared_ptr<PaperQuoteFeed> feed = nullptr);
  ~PaperBroker() override;
  PaperBroker(const PaperBroker&) = delete;
  PaperBroker& operator=(const PaperBroker&) = delete;

  [[nodiscard]] std::string_view name() const noexcept override { return "paper"; }
  void start(ExecutionSink& sink, QuoteBoard& quotes, const Clock& clock) override;
  void submit(const Order& order) noexcept override;
  void cancel(const CancelOrder& request) noexcept override;
  [[nodiscard]] bool supports_replace() const noexcept override { return true; }
  /// Amends a resting order at once, as one change of the state file:
  /// the original leaves the book and the replacement, acknowledged with a
  /// new broker order id "P-N", joins it at the back (an amend loses the
  /// place in the queue, as at OANDA and Binance) or, when its new price is
  /// marketable, fills at once (REPLACED, then FILLED). REPLACE_REJECTED
  /// (BROKER_REJECTED) with broker reason ORDER_NOT_WORKING when the
  /// original no longer rests (filled, cancelled, expired, or restored and
  /// not adopted), INVALID_ORDER when the replacement changes its account,
  /// instrument, side or type, EXPIRED when it is past its expiry,
  /// STATE_FILE_FAILED once the state file failed.
  void replace(const ReplaceOrder& request) noexcept override;
  /// Also compacts the state file when its appended records outgrew it.
  bool poll() noexcept override;
  /// Without a state file, reports every resting order CANCELED (reason
  /// BROKER_UNAVAILABLE, broker reason SHUTDOWN). With one, resting orders
  /// stay working, as at a real broker, for the next run to reconcile.
  void stop() noexcept override;

  /// Answers at once, inside the call, through `ExecutionSink::on_holdings`:
  /// every resting order (`venue_client_id`, `broker_order_id` "P-N" as
  /// acknowledged, leaves = quantity) and every non-zero position, with
  /// `complete` true; `complete` false only once the state file failed.
  /// The first answer releases the orders restored from the state file:
  /// until then they neither fill nor expire; after it, those not adopted
  /// are foreign: their fills are reported through `on_position_fill`
  /// (order_id kNoOrderId, source ACCOUNT, broker reason NOT_ADOPTED) and
  /// booked, their expiry is not reported. `adopt` and `cancel` may be called
  /// from inside `on_holdings`. False (nothing answered) before `start`.
  bool request_holdings() noexcept override;
  /// Takes over a restored order that has not been adopted yet, found by
  /// `held.broker_order_id`, else by `held.venue_client_id`: its reports then
  /// carry `order`'s ids, client order id and text, `cancel` with
  /// `order.order_id` reaches it, and the state file records it. The terms
  /// stay those the broker holds (type, quantity, prices, time in force,
  /// expiry), as at a venue. Ignored when no such order rests, or when
  /// `order` names another account, instrument or side (logged).
  void adopt(const Order& order, const HeldOrder& held) noexcept override;
  /// This instance's venue client id prefix ("og" + 10 base62 characters,
  /// fresh per instance); the broker knows each order it receives by
  /// `prefix-base36(order id)` (rest::format_venue_client_id).
  [[nodiscard]] std::string_view client_id_prefix() const noexcept override { return venue_ids_.prefix(); }

  /// Sets a quote and matches resting orders against it at once. Call on the
  /// broker's thread (tests that drive the broker directly); from any other
  /// thread use a `PaperQuoteFeed`. A quote the constructor would refuse is
  /// ignored.
  void set_quote(InstrumentId instrument, Decimal bid, Decimal ask) noexcept;

  /// Net filled position of an account in an instrument (broker thread only).
  [[nodiscard]] Decimal position(AccountId account, InstrumentId instrument) const noexcept;
  /// Number of resting orders, restored ones included (broker thread only).
  [[nodiscard]] std::size_t resting_orders() const noexcept;
  /// The broker sequence the next order is acknowledged with, "P-<this>".
  [[nodiscard]] std::uint64_t next_broker_sequence() const noexcept { return next_broker_sequence_; }

 private:
  /// Current touch of one instrument; `quoted` is false until a quote is set.
  struct Touch {
    Decimal bid;
    Decimal ask;
    Decimal tick_size;
    bool quoted = false;
  };
  /// Whose a resting order is.
  enum class Origin : std::uint8_t {
    submitted,  ///< received through `submit` in this run
    restored,   ///< from the state file, not adopted: held until the first holdings answer, foreign after
    adopted,    ///< restored, then adopted: reported like a submitted one
  };
  /// A working order, the broker id it was acknowledged with and the venue
  /// client id the broker knows it by.
  struct Resting {
    Order order;
    std::uint64_t broker_sequence = 0;
    rest::VenueClientId venue_client_id;
    Origin origin = Origin::submitted;
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
  /// Books a fill of `order` into its position; the new net position.
  Decimal book_fill(const Order& order) noexcept;
  /// Writes and syncs what was staged in the state file; on failure the
  /// broker stops reporting (see `state_failed_`). True without a file.
  [[nodiscard]] bool commit_state() noexcept;
  void compact_state() noexcept;
  [[nodiscard]] PaperState snapshot() const;
  void log(tls::LogLevel level, std::string_view line) const noexcept;
  // The fields every report of `order` shares; broker_sequence 0: none yet.
  ExecutionReport report_of(const Order& order, ExecStatus status, Reason reason, std::string_view broker_reason,
                            std::uint64_t broker_sequence) const noexcept;
  void report(const Resting& resting, ExecStatus status, Decimal last_quantity,
              Decimal last_price, Reason reason, std::string_view broker_reason) noexcept;
  void report_foreign_fill(const Resting& resting, Decimal price) noexcept;

  PaperConfig config_;
  InstrumentTable instruments_;  // immutable copy: symbol lookups by the feed, names in the state file
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
  rest::VenueClientIds venue_ids_;
  std::unique_ptr<paper_detail::PaperStateLog> state_;  // null without a state file
  // Set once the state file could not be written: from then on the broker
  // reports nothing it would have to record (the file may miss it) and
  // refuses new orders.
  bool state_failed_ = false;
  bool holdings_answered_ = false;  // restored orders are held until then
};

/// The factory a gateway builds the paper broker with, like
/// `make_oanda_factory`: `config.brokers.emplace_back("paper",
/// make_paper_factory(settings, feed))`. Every broker it builds takes the
/// quotes set on `feed` (optional). The factory throws
/// std::invalid_argument for bad settings (see `PaperBroker`).
[[nodiscard]] std::function<std::unique_ptr<BrokerPort>(const InstrumentTable&)> make_paper_factory(
    PaperConfig config, std::shared_ptr<PaperQuoteFeed> feed = nullptr);

}  // namespace ordergate::adapters
