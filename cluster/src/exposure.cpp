#include "exposure.hpp"

#include "ordergate/cluster/shared_state.hpp"

#include <algorithm>
#include <cmath>
#include <string_view>

namespace ordergate::cluster::detail {

namespace {

using Limit = Gateway::ExposureLimit;

constexpr std::int64_t kPartsPerMillion = 1'000'000;
// A lease Redis could not fill asks again after this long, not every tick.
constexpr std::chrono::milliseconds kStarvedRetry{20};

// Records ARGV[4] (held) units for member ARGV[1] and grants up to ARGV[3]
// (wanted) of ARGV[2] (the limit's units) that the live members leave free;
// returns the units recorded, never fewer than held. A part whose member
// key (ARGV[5] .. name) has expired is dropped on the way.
// KEYS[1] the limit's hash, KEYS[2] the set of them.
constexpr std::string_view kLeaseScript = R"lua(
local others = 0
local parts = redis.call('HGETALL', KEYS[1])
for i = 1, #parts, 2 do
  local name = parts[i]
  if name ~= ARGV[1] then
    if redis.call('EXISTS', ARGV[5] .. name) == 0 then
      redis.call('HDEL', KEYS[1], name)
    else
      others = others + tonumber(parts[i + 1])
    end
  end
end
local held = tonumber(ARGV[4])
local granted = math.min(tonumber(ARGV[3]), tonumber(ARGV[2]) - others)
if granted < held then granted = held end
if granted <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  granted = 0
else
  redis.call('HSET', KEYS[1], ARGV[1], granted)
end
redis.call('SADD', KEYS[2], KEYS[1])
return granted
)lua";

std::string lease_name(const Gateway::ExposureLease& lease) {
  std::string name(exposure_limit_name(lease.limit));
  if (lease.limit == Limit::position || lease.limit == Limit::open_orders) name += ":" + lease.symbol;
  return name;
}

}  // namespace

std::string ExposureLeases::key_of(const Gateway::ExposureLease& lease) {
  return "ordergate:exposure:" + lease.account_name + ":" + lease_name(lease);
}

std::int64_t ExposureLeases::units_of(const Gateway::ExposureLease& lease) noexcept {
  if (lease.limit == Limit::open_orders) return std::max<std::int64_t>(1, lease.total.raw() / Decimal::kScale);
  return kPartsPerMillion;
}

std::int64_t ExposureLeases::units_for(Decimal amount, Decimal total, std::int64_t units) noexcept {
  if (!total.is_positive() || !amount.is_positive()) return 0;
  const int128 scaled = static_cast<int128>(amount.raw()) * units;
  const int128 rounded_up = (scaled + total.raw() - 1) / total.raw();
  return static_cast<std::int64_t>(std::min<int128>(rounded_up, units));
}

Decimal ExposureLeases::amount_of(std::int64_t granted, Decimal total, std::int64_t units) noexcept {
  if (granted <= 0 || units <= 0) return Decimal{};
  const int128 amount = static_cast<int128>(total.raw()) * std::min(granted, units) / units;
  return Decimal::from_raw(static_cast<std::int64_t>(amount));
}

std::int64_t ExposureLeases::ask(RedisConnection& redis, const std::string& key, std::int64_t total_units,
                                 std::int64_t wanted, std::int64_t held, std::string& error) {
  const std::string prefix = keys::member("");
  Reply reply = redis.command({"EVAL", kLeaseScript, "2", key, keys::exposures, member_, std::to_string(total_units),
                               std::to_string(wanted), std::to_string(held), prefix});
  if (!reply) {
    error = redis.error();
    return -1;
  }
  if (reply->type != REDIS_REPLY_INTEGER) {
    error = "the exposure lease script was refused: " + std::string(reply_text(reply.get()));
    return -1;
  }
  return reply->integer;
}

bool ExposureLeases::tend(RedisConnection& redis, Clock::time_point now, std::string& error) {
  const auto headroom_ppm = static_cast<std::int64_t>(std::llround(headroom_fraction_ * kPartsPerMillion));
  for (const Gateway::ExposureLease& lease : gateway_.exposure_leases()) {
    // Without a value for what is used (no quote), nothing can be judged.
    if (!lease.valued || !lease.total.is_positive()) continue;
    const Id id{lease.account, lease.limit, lease.instrument};
    const std::int64_t units = units_of(lease);
    const int128 total = lease.total.raw();
    // What the member keeps free: a part of the limit, and room for one
    // order at least.
    int128 headroom = (total * headroom_ppm + kPartsPerMillion - 1) / kPartsPerMillion;
    headroom = std::min<int128>(std::max<int128>(headroom, lease.per_order.raw()), total);
    const int128 used = lease.used.raw();
    const int128 leased = lease.lease.raw();
    if (2 * (leased - used) < headroom) {
      const auto next = next_ask_.find(id);
      if (next != next_ask_.end() && now < next->second) continue;
      const Decimal want = Decimal::from_raw(static_cast<std::int64_t>(std::min(used + headroom, total)));
      const std::int64_t wanted = units_for(want, lease.total, units);
      const std::string& key = keys_.try_emplace(id, key_of(lease)).first->second;
      // Redis records at least what is in use: orders the broker held at
      // reconciliation count even when the others left no room for them.
      const std::int64_t held = units_for(std::max(lease.lease, lease.used), lease.total, units);
      const std::int64_t granted = ask(redis, key, units, wanted, held, error);
      if (granted < 0) return false;
      const Decimal amount = amount_of(granted, lease.total, units);
      if (amount > lease.lease) {
        gateway_.grant_exposure(lease.account, lease.limit, lease.instrument,
                                Decimal::from_raw(amount.raw() - lease.lease.raw()));
      }
      if (granted < wanted) {
        next_ask_[id] = now + kStarvedRetry;
      } else {
        next_ask_.erase(id);
      }
    } else if (leased - used > 2 * headroom) {
      // Far more than in use: back down to use plus headroom, here first.
      const std::int64_t target_units =
          units_for(Decimal::from_raw(static_cast<std::int64_t>(used + headroom)), lease.total, units);
      const Decimal target = amount_of(target_units, lease.total, units);
      if (target >= lease.lease) continue;
      if (!gateway_.shrink_exposure(lease.account, lease.limit, lease.instrument, target)) continue;
      const std::string& key = keys_.try_emplace(id, key_of(lease)).first->second;
      if (ask(redis, key, units, target_units, target_units, error) < 0) return false;
    }
  }
  return true;
}

void ExposureLeases::shrink_to_use() {
  for (const Gateway::ExposureLease& lease : gateway_.exposure_leases()) {
    // Open orders keep their part: under the floor an order that reduces a
    // position still takes a slot, and REDUCING must let it through.
    if (lease.limit == Gateway::ExposureLimit::open_orders) continue;
    if (lease.valued && lease.used < lease.lease) {
      (void)gateway_.shrink_exposure(lease.account, lease.limit, lease.instrument, lease.used);
    }
  }
}

void ExposureLeases::give_back_all(RedisConnection& redis) {
  for (const auto& [id, key] : keys_) {
    (void)gateway_.shrink_exposure(std::get<0>(id), std::get<1>(id), std::get<2>(id), Decimal{});
    if (!redis.command({"HDEL", key, member_})) return;
  }
  keys_.clear();
}

std::string ExposureLeases::describe() const {
  std::string text;
  for (const Gateway::ExposureLease& lease : gateway_.exposure_leases()) {
    if (!text.empty()) text += ',';
    text += lease.account_name + ":" + lease_name(lease) + "=" + lease.lease.to_string() + "/" +
            lease.total.to_string();
  }
  return text;
}

}  // namespace ordergate::cluster::detail
