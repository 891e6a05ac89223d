#pragma once

// Internal: the service manager's notification protocol (sd_notify), for
// `Type=notify` units: READY=1 once the gateway can trade, WATCHDOG=1 from
// the I/O loop, RELOADING=1 around a reload, STOPPING=1 on drain, STATUS=
// lines. A no-op outside systemd (no NOTIFY_SOCKET) and in a build without
// libsystemd (ORDERGATE_WITH_SYSTEMD=OFF or not found).

#include <chrono>
#include <string_view>

namespace ordergate::server_detail {

class ServiceNotifier {
 public:
  /// Reads WATCHDOG_USEC (and WATCHDOG_PID) once; start-up only.
  ServiceNotifier() noexcept;

  /// The watchdog period systemd expects (WatchdogSec=), zero when none.
  /// Ping at half of it.
  [[nodiscard]] std::chrono::microseconds watchdog_period() const noexcept { return watchdog_period_; }

  void ready(std::string_view status) const noexcept;
  void reloading() const noexcept;
  void stopping() const noexcept;
  void status(std::string_view status) const noexcept;
  void watchdog() const noexcept;

 private:
  std::chrono::microseconds watchdog_period_{0};
};

}  // namespace ordergate::server_detail
