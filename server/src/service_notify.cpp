#include "service_notify.hpp"

#include <cstdint>
#include <ctime>
#include <string>

#if ORDERGATE_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace ordergate::server_detail {
namespace {

// Best effort: a service manager that cannot be told is not a reason to
// stop trading; systemd's own timeouts handle a notification that is lost.
void notify(const std::string& message) noexcept {
#if ORDERGATE_HAVE_SYSTEMD
  (void)::sd_notify(0, message.c_str());
#else
  (void)message;
#endif
}

void notify_noexcept(std::string_view head, std::string_view status) noexcept {
  try {
    std::string message(head);
    if (!status.empty()) {
      if (!message.empty()) message += '\n';
      message += "STATUS=";
      message += status;
    }
    notify(message);
  } catch (...) {  // NOLINT(bugprone-empty-catch): allocation failure; the notification is best effort
  }
}

}  // namespace

ServiceNotifier::ServiceNotifier() noexcept {
#if ORDERGATE_HAVE_SYSTEMD
  std::uint64_t usec = 0;
  if (::sd_watchdog_enabled(0, &usec) > 0) watchdog_period_ = std::chrono::microseconds(usec);
#endif
}

void ServiceNotifier::ready(std::string_view status) const noexcept { notify_noexcept("READY=1", status); }

void ServiceNotifier::reloading() const noexcept {
  // systemd 253+ wants the monotonic time with RELOADING=1; older ones ignore it.
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  try {
    notify("RELOADING=1\nMONOTONIC_USEC=" +
           std::to_string(static_cast<std::uint64_t>(now.tv_sec) * 1000000U +
                          static_cast<std::uint64_t>(now.tv_nsec) / 1000U));
  } catch (...) {  // NOLINT(bugprone-empty-catch): allocation failure; the notification is best effort
  }
}

void ServiceNotifier::stopping() const noexcept { notify_noexcept("STOPPING=1", "draining"); }

void ServiceNotifier::status(std::string_view status) const noexcept { notify_noexcept("", status); }

void ServiceNotifier::watchdog() const noexcept { notify_noexcept("WATCHDOG=1", ""); }

}  // namespace ordergate::server_detail
