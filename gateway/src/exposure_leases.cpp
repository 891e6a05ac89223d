// Shared exposure: the leases of the accounts' exposure limits a cluster
// member holds (Gateway::share_account_exposure, docs/cluster.md).
//
// Submit checks against min(limit, lease). A lease only grows by what Redis
// granted first; it shrinks here before the member gives the difference
// back, and a shrink advances the account version, so an order whose check
// read the old lease fails its version advance and is checked again (the
// protocol of the account-wide checks, ExposureBook::account_version).

#include <algorithm>
#include <stdexcept>

#include "engine.hpp"

namespace ordergate::detail {

using Limit = Gateway::ExposureLimit;

void Engine::share_account_exposure() {
  if (started_) throw std::logic_error("share_account_exposure is called before start");
  if (notional_leases_) return;
  const std::size_t accounts = std::max<std::size_t>(accounts_.size(), 1);
  notional_leases_ = std::make_unique<NotionalLeaseCell[]>(accounts);
  position_leases_ =
      std::make_unique<PositionLeaseCell[]>(accounts * std::max<std::size_t>(config_.instruments.size(), 1));
}

guards::PositionLimits Engine::position_limits(AccountId account, const Instrument& instrument) const noexcept {
  guards::PositionLimits limits = guards::PositionLimits::of(instrument);
  if (!position_leases_) return limits;
  const PositionLeaseCell& lease = position_leases_[std::size_t{account} * config_.instruments.size() + instrument.id];
  limits.max_position = std::min(limits.max_position, Decimal::from_raw(lease.position.load(std::memory_order_acquire)));
  limits.max_open_orders = std::min(limits.max_open_orders, lease.open_orders.load(std::memory_order_acquire));
  return limits;
}

guards::NotionalLimits Engine::notional_limits(const Account& account) const noexcept {
  guards::NotionalLimits limits = guards::NotionalLimits::of(account);
  if (!notional_leases_) return limits;
  const NotionalLeaseCell& lease = notional_leases_[account.id];
  limits.max_gross = std::min(limits.max_gross, Decimal::from_raw(lease.gross.load(std::memory_order_acquire)));
  limits.max_net = std::min(limits.max_net, Decimal::from_raw(lease.net.load(std::memory_order_acquire)));
  return limits;
}

bool Engine::exposure_used(AccountId account, Limit limit, InstrumentId instrument, Decimal& used) const noexcept {
  if (limit == Limit::position || limit == Limit::open_orders) {
    const guards::ExposureBook::Snapshot held = exposure_.snapshot(account, instrument);
    if (limit == Limit::open_orders) {
      used = Decimal::from_integer(held.open_orders);
      return true;
    }
    // The worst case in either direction, as reserve checks it; saturated
    // (too much is the safe side).
    const int128 longest = static_cast<int128>(held.position.raw()) + held.working_buy.raw();
    const int128 shortest = static_cast<int128>(held.working_sell.raw()) - held.position.raw();
    const int128 worst = std::max({longest, shortest, int128{0}});
    used = Decimal::from_raw(static_cast<std::int64_t>(std::min<int128>(worst, INT64_MAX)));
    return true;
  }
  guards::AccountNotional notional;
  const QuoteBoard& quotes = *brokers_[broker_of_account_[account]]->quotes;
  if (guards::account_notional(exposure_, valuation_, account, current().instruments, quotes, clock_.monotonic_ns(),
                               guards::ExtraOrder{}, notional) != Reason::OK) {
    return false;
  }
  used = atto_to_decimal(limit == Limit::gross_notional ? notional.gross : notional.net);
  return true;
}

std::vector<Gateway::ExposureLease> Engine::exposure_leases() const {
  std::vector<Gateway::ExposureLease> leases;
  if (!notional_leases_) return leases;
  const InstrumentTable& instruments = current().instruments;
  auto add = [&](const Account& account, Limit limit, const Instrument* instrument, Decimal total, Decimal lease,
                 Decimal per_order) {
    Gateway::ExposureLease entry;
    entry.account = account.id;
    entry.account_name = std::string(account.name.view());
    entry.limit = limit;
    if (instrument != nullptr) {
      entry.instrument = instrument->id;
      entry.symbol = std::string(instrument->name.view());
    }
    entry.total = total;
    entry.lease = lease;
    entry.per_order = per_order;
    entry.valued = exposure_used(account.id, limit, entry.instrument, entry.used);
    leases.push_back(std::move(entry));
  };
  for (const Account& account : accounts_.all()) {
    const NotionalLeaseCell& notional = notional_leases_[account.id];
    if (account.max_gross_notional.is_positive()) {
      add(account, Limit::gross_notional, nullptr, account.max_gross_notional,
          Decimal::from_raw(notional.gross.load(std::memory_order_relaxed)), Decimal{});
    }
    if (account.max_net_notional.is_positive()) {
      add(account, Limit::net_notional, nullptr, account.max_net_notional,
          Decimal::from_raw(notional.net.load(std::memory_order_relaxed)), Decimal{});
    }
    for (const Instrument& instrument : instruments.all()) {
      const PositionLeaseCell& cell = position_leases_[std::size_t{account.id} * instruments.size() + instrument.id];
      if (instrument.max_position.is_positive()) {
        add(account, Limit::position, &instrument, instrument.max_position,
            Decimal::from_raw(cell.position.load(std::memory_order_relaxed)), instrument.max_order_quantity);
      }
      if (instrument.max_open_orders > 0) {
        add(account, Limit::open_orders, &instrument, Decimal::from_integer(instrument.max_open_orders),
            Decimal::from_integer(cell.open_orders.load(std::memory_order_relaxed)), Decimal::from_integer(1));
      }
    }
  }
  return leases;
}

// One lease's atomic: an amount (Decimal raw) or whole orders.
struct Engine::LeaseRef {
  std::atomic<std::int64_t>* amount = nullptr;
  std::atomic<std::uint32_t>* orders = nullptr;

  explicit operator bool() const noexcept { return amount != nullptr || orders != nullptr; }

  [[nodiscard]] Decimal load() const noexcept {
    return amount != nullptr ? Decimal::from_raw(amount->load(std::memory_order_relaxed))
                             : Decimal::from_integer(orders->load(std::memory_order_relaxed));
  }
  void store(Decimal value) const noexcept {
    if (amount != nullptr) {
      amount->store(value.raw(), std::memory_order_release);
    } else {
      // Whole orders only, rounded down: never more than was granted.
      const std::int64_t whole = std::clamp<std::int64_t>(value.raw() / Decimal::kScale, 0, INT32_MAX);
      orders->store(static_cast<std::uint32_t>(whole), std::memory_order_release);
    }
  }
};

Engine::LeaseRef Engine::lease_ref(AccountId account, Limit limit, InstrumentId instrument) const noexcept {
  LeaseRef lease;
  if (!notional_leases_ || account >= accounts_.size() || instrument >= config_.instruments.size()) return lease;
  PositionLeaseCell& cell = position_leases_[std::size_t{account} * config_.instruments.size() + instrument];
  switch (limit) {
    case Limit::gross_notional: lease.amount = &notional_leases_[account].gross; break;
    case Limit::net_notional: lease.amount = &notional_leases_[account].net; break;
    case Limit::position: lease.amount = &cell.position; break;
    case Limit::open_orders: lease.orders = &cell.open_orders; break;
  }
  return lease;
}

void Engine::grant_exposure(AccountId account, Limit limit, InstrumentId instrument, Decimal amount) noexcept {
  if (!amount.is_positive()) return;
  const LeaseRef lease = lease_ref(account, limit, instrument);
  if (!lease) return;
  // One thread grants and shrinks: a load and a store are enough.
  Decimal raised;
  if (!Decimal::add(lease.load(), amount, raised)) raised = Decimal::from_raw(INT64_MAX);
  lease.store(raised);
}

bool Engine::shrink_exposure(AccountId account, Limit limit, InstrumentId instrument, Decimal target) noexcept {
  if (target.is_negative()) return false;
  const LeaseRef lease = lease_ref(account, limit, instrument);
  if (!lease) return false;
  const Decimal before = lease.load();
  if (target >= before) return target == before;
  lease.store(target);
  // An order that read the old lease and has not yet advanced the version
  // fails its advance and is checked again against `target`; one that
  // advanced it first is counted below (the version's acquire and release).
  exposure_.bump_account_version(account);
  Decimal used;
  if (exposure_used(account, limit, instrument, used) && used <= lease.load()) return true;
  lease.store(before);
  return false;
}

}  // namespace ordergate::detail

namespace ordergate {

std::string_view exposure_limit_name(Gateway::ExposureLimit limit) noexcept {
  switch (limit) {
    case Gateway::ExposureLimit::position: return "position";
    case Gateway::ExposureLimit::open_orders: return "open_orders";
    case Gateway::ExposureLimit::gross_notional: return "gross_notional";
    case Gateway::ExposureLimit::net_notional: return "net_notional";
  }
  return "unknown";
}

}  // namespace ordergate
