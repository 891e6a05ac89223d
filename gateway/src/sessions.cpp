// Sessions: opening and closing slots, the per-session event queue, and the
// public Session handle.

#include "engine.hpp"

#include <limits>
#include <stdexcept>
#include <utility>

namespace ordergate {
namespace detail {

Session Engine::open_session(std::string_view principal) {
  const PrincipalId pid = principal_id(principal);
  const PrincipalState& state = *current().principals[pid];
  if (state.removed || !controls_[pid].enabled.load(std::memory_order_acquire)) {
    throw std::invalid_argument("principal is disabled");
  }
  for (std::uint32_t index = 0; index < config_.max_sessions; ++index) {
    SessionSlot& slot = sessions_[index];
    bool expected = false;
    if (!slot.in_use.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) continue;
    const std::uint64_t id = next_session_id_.fetch_add(1, std::memory_order_relaxed);
    if (id > std::numeric_limits<SessionId>::max()) {
      // Reusing an id would let a new session see an old one's reports.
      slot.in_use.store(false, std::memory_order_release);
      throw std::invalid_argument("session ids exhausted (4294967295 sessions opened); restart the gateway");
    }
    // The slot's rings, made at its first opening (an allocation failure
    // leaves the slot free and unchanged).
    try {
      for (std::size_t broker = 0; broker < brokers_.size(); ++broker) {
        if (slot.rings[broker]) continue;
        slot.rings[broker] = std::make_unique<SessionRing>(session_queue_budget_ + kCancelHeadroom);
        brokers_[broker]->rings[index].store(slot.rings[broker].get(), std::memory_order_release);
        std::atomic<std::uint32_t>& slots = brokers_[broker]->ring_slots;
        std::uint32_t seen = slots.load(std::memory_order_relaxed);
        while (seen < index + 1 && !slots.compare_exchange_weak(seen, index + 1, std::memory_order_release)) {
        }
      }
    } catch (...) {
      slot.in_use.store(false, std::memory_order_release);
      throw;
    }
    ExecutionReport stale;
    while (slot.events.try_dequeue(stale)) {
    }
    slot.id = static_cast<SessionId>(id);
    slot.principal = pid;
    slot.epoch = controls_[pid].epoch.load(std::memory_order_acquire);
    slot.expires_at_ns = clock_.monotonic_ns() + state.session_ttl_ns;
    slot.live.store(slot.id | (std::uint64_t{pid} << 32), std::memory_order_release);

    auto handle = std::make_unique<SessionHandle>();
    handle->engine = this;
    handle->slot = &slot;
    handle->slot_index = static_cast<std::uint16_t>(index);
    handle->id = slot.id;
    for (std::size_t broker = 0; broker < brokers_.size(); ++broker) handle->rings[broker] = slot.rings[broker].get();
    handle->tokens.reserve(brokers_.size());
    for (auto& broker : brokers_) handle->tokens.emplace_back(*broker->queue);

    AuditEvent event;
    event.type = AuditEventType::session_opened;
    event.principal_id = pid;
    event.session_id = slot.id;
    event.time_ns = clock_.wall_ns();
    audit_.record(event);
    return Session(std::move(handle));
  }
  throw std::invalid_argument("no free session slot (max_sessions reached)");
}

void Engine::close_session(SessionHandle& handle) noexcept {
  if (handle.slot == nullptr) return;
  AuditEvent event;
  event.type = AuditEventType::session_closed;
  event.principal_id = handle.slot->principal;
  event.session_id = handle.id;
  event.time_ns = clock_.wall_ns();
  audit_.record(event);
  metric_cells_.retire_slot(handle.slot_index, handle.slot->principal);
  handle.slot->live.store(0, std::memory_order_release);
  handle.slot->in_use.store(false, std::memory_order_release);
  handle.slot = nullptr;
}

bool Engine::poll(SessionHandle& handle, ExecutionReport& report) noexcept {
  if (handle.slot == nullptr) return false;
  // Reports of an earlier session in the same slot are dropped here: they
  // name another session id (ids are never reused within a process). The
  // order's record is not read: it may already serve another order.
  while (handle.slot->events.try_dequeue(report)) {
    if (report.session_id == handle.id) return true;
  }
  return false;
}

}  // namespace detail

// ---- Session -------------------------------------------------------------

Session::Session() noexcept = default;
Session::Session(std::unique_ptr<detail::SessionHandle> handle) noexcept : handle_(std::move(handle)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&& other) noexcept {
  if (this != &other) {
    close();
    handle_ = std::move(other.handle_);
  }
  return *this;
}
Session::~Session() { close(); }

Verdict Session::submit(const OrderRequest& request) noexcept {
  if (!handle_ || handle_->slot == nullptr) return Verdict{Reason::UNAUTHENTICATED, 0, 0, 0};
  return handle_->engine->submit(*handle_, request);
}

void Session::prefetch(std::string_view client_order_id) const noexcept {
  if (handle_ && handle_->slot != nullptr) handle_->engine->prefetch(*handle_, client_order_id);
}

Verdict Session::cancel(std::string_view client_order_id) noexcept {
  if (!handle_ || handle_->slot == nullptr) return Verdict{Reason::UNAUTHENTICATED, 0, 0, 0};
  return handle_->engine->cancel(*handle_, client_order_id);
}

Verdict Session::replace(const ReplaceRequest& request) noexcept {
  if (!handle_ || handle_->slot == nullptr) return Verdict{Reason::UNAUTHENTICATED, 0, 0, 0};
  return handle_->engine->replace(*handle_, request);
}

bool Session::poll(ExecutionReport& report) noexcept {
  return handle_ && handle_->engine->poll(*handle_, report);
}

void Session::close() noexcept {
  if (handle_) handle_->engine->close_session(*handle_);
}

bool Session::is_open() const noexcept { return handle_ && handle_->slot != nullptr; }
Reason Session::status() const noexcept {
  return handle_ ? handle_->engine->status(*handle_) : Reason::UNAUTHENTICATED;
}
SessionId Session::id() const noexcept { return handle_ ? handle_->id : 0; }
PrincipalId Session::principal() const noexcept {
  return handle_ && handle_->slot != nullptr ? handle_->slot->principal : 0;
}
std::int64_t Session::expires_at_ns() const noexcept {
  return handle_ && handle_->slot != nullptr ? handle_->slot->expires_at_ns : 0;
}

}  // namespace ordergate
