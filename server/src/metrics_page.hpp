#pragma once

// Internal: what the HTTP listener serves. `/metrics` as Prometheus text,
// `/healthz` and `/readyz` as small JSON documents (docs/operations.md).
// Called on the listener's thread; everything read here is thread-safe.

#include <cstdint>
#include <string>
#include <string_view>

#include "ordergate/audit/journal.hpp"
#include "ordergate/gateway/gateway.hpp"

namespace ordergate::server_detail {

/// The audit journal as readiness sees it.
enum class JournalState : std::uint8_t { disabled, healthy, unhealthy };

/// What the process counts besides the gateway.
struct ProcessMetrics {
  std::string_view version;
  double start_time_seconds = 0;  ///< UTC, seconds since the epoch
  std::uint64_t connections_open = 0;
  std::uint64_t connections_accepted = 0;
  JournalState journal = JournalState::disabled;
  std::uint64_t audit_records_written = 0;
  std::uint64_t audit_records_dropped = 0;
  std::uint64_t audit_queue_depth = 0;  ///< records numbered, not yet written
  JournalSyncStats audit_syncs;         ///< the journal's fdatasync latency
};

/// The `/metrics` page.
[[nodiscard]] std::string render_metrics(const Gateway& gateway, const GatewayMetrics& metrics,
                                         const ProcessMetrics& process);

struct Readiness {
  bool ready = false;
  std::string json;  ///< {"status":"ready"|"not_ready","accounts":{...},"brokers":{...},"journal":"..."}
};

/// `/readyz`: ready when every account is reconciled with its broker, every
/// broker reports a live connection and the journal (when configured) is
/// healthy.
[[nodiscard]] Readiness check_readiness(const Gateway& gateway, const GatewayMetrics& metrics, JournalState journal);

/// `/healthz`: {"status":"serving"}.
[[nodiscard]] std::string health_json();

}  // namespace ordergate::server_detail
