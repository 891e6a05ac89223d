#pragma once

/// \file
/// The durable state of a paper broker (`PaperConfig::state_file`): what it
/// holds across restarts, and a reader for tools and tests. The broker
/// itself writes the file; see docs/paper-broker.md for the format.
///
/// The file is text, one record per line, in batches: each batch of
/// records the broker syncs at once ends with a line `end <check>`, the first
/// 8 hex digits of the SHA-256 of the batch's lines.
///
///     ordergate-paper-state 1
///     next 43
///     position 2 EUR/USD 10000
///     order 42 og7Hk2pQx9aZ-1z 17 7 3 2 EUR/USD buy limit gtc 0 10000 1.0845 0 0 0 0 12 cl-17 ~
///     end 1f0c2a9b
///     gone 42
///     position 2 EUR/USD 20000
///     end 3e4d5c6b
///
/// Records are applied in order: `next` sets the next broker sequence,
/// `position` sets a net position (account id, instrument name), `order`
/// adds or replaces the resting order with that broker sequence, `gone`
/// takes it off the book. The broker appends a batch and syncs it before it
/// reports what it records, and rewrites the file compacted (snapshot to
/// `<file>.tmp`, sync, rename, sync the directory) when it starts and when
/// the appended records outgrow the snapshot. A last batch without its end
/// line, or whose check fails, is a write a crash cut short: it is ignored
/// (nothing in it was reported). Anything else is damage.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ordergate/adapters/rest/venue_client_id.hpp"
#include "ordergate/adapters/tls/https_client.hpp"
#include "ordergate/core/decimal.hpp"
#include "ordergate/core/instrument.hpp"
#include "ordergate/core/order.hpp"

namespace ordergate::adapters {

/// A working order the paper broker holds.
struct PaperRestingOrder {
  Order order;                        ///< as received, or as `adopt` replaced it
  std::uint64_t broker_sequence = 0;  ///< N of its broker order id "P-N"
  rest::VenueClientId venue_client_id;  ///< the client id the broker knows it by
};

/// A non-zero net position (positive long, negative short).
struct PaperPosition {
  AccountId account_id = 0;
  InstrumentId instrument_id = 0;
  Decimal net;
};

/// Everything a paper broker keeps across restarts.
struct PaperState {
  std::uint64_t next_broker_sequence = 1;  ///< the next order is acknowledged as "P-<this>"
  std::vector<PaperRestingOrder> resting;  ///< in broker sequence (arrival) order
  std::vector<PaperPosition> positions;    ///< non-zero only, by account then instrument id
};

/// Reads the state file at `path` as a paper broker would at start, without
/// locking or changing it (a broker may be writing it): std::nullopt when
/// there is no file. Instruments are stored by name and mapped through
/// `instruments`. An unfinished last batch (a write a crash cut short) is
/// ignored and reported to `log` as a warning (stderr when empty). Throws
/// std::runtime_error naming the file and the line for anything else: an
/// unreadable file, another format or version, a batch that fails its check
/// with more after it, a malformed record, an instrument `instruments` does
/// not have.
[[nodiscard]] std::optional<PaperState> read_paper_state(const std::string& path,
                                                         const InstrumentTable& instruments,
                                                         const tls::LogFunction& log = {});

}  // namespace ordergate::adapters
