#include "budgets.hpp"

#include "ordergate/cluster/shared_state.hpp"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <vector>

namespace ordergate::cluster::detail {

namespace {

// Takes up to ARGV[3] tokens from one window's GCRA cell; returns
// {granted, wait_ms}: wait_ms until one more would be granted when none was.
// KEYS[1] the cell, KEYS[2] the set of cells; ARGV: emission interval and
// tolerance in microseconds, tokens wanted. Time is Redis's clock, the one
// clock every member shares.
constexpr std::string_view kTakeScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local T = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local room = math.floor((tau - (tat - now)) / T) + 1
if room < 0 then room = 0 end
local grant = math.min(room, tonumber(ARGV[3]))
redis.call('SADD', KEYS[2], KEYS[1])
if grant > 0 then
  tat = tat + grant * T
  redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
  return {grant, 0}
end
return {0, math.ceil((tat - now - tau) / 1000)}
)lua";

// Gives ARGV[2] unused tokens back to a cell: its arrival time moves back
// by that many emission intervals (ARGV[1], microseconds), never before now.
constexpr std::string_view kGiveBackScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat <= now then return 0 end
local back = math.max(now, tat - tonumber(ARGV[1]) * tonumber(ARGV[2]))
redis.call('SET', KEYS[1], string.format('%d', back), 'PX', math.ceil((back - now) / 1000) + 1000)
return 1
)lua";

// GCRA parameters in whole microseconds, rounded so as never to be more
// permissive than the window.
std::pair<std::int64_t, std::int64_t> micros(const guards::RateWindow& rate) {
  const guards::GcraParams params = guards::GcraParams::from(rate);
  const std::int64_t emission = std::max<std::int64_t>(1, (params.emission_ns + 999) / 1000);
  return {emission, emission * (static_cast<std::int64_t>(rate.count) - 1)};
}

}  // namespace

std::int64_t BudgetLeases::slice_of(const guards::RateWindow& rate, double fraction) noexcept {
  const double tokens = std::ceil(static_cast<double>(rate.count) * fraction);
  return std::clamp<std::int64_t>(static_cast<std::int64_t>(tokens), 1, std::max<std::int64_t>(1, rate.count));
}

std::string BudgetLeases::window_text(const guards::RateWindow& rate) {
  return std::to_string(rate.count) + "/" + std::to_string(rate.period_ns);
}

BudgetLeases::Id BudgetLeases::id_of(const Gateway::BudgetLease& lease) noexcept {
  return {lease.principal, lease.principal ? std::uint32_t{lease.principal_id} : std::uint32_t{lease.account},
          lease.window};
}

std::string BudgetLeases::owner_of(const Gateway::BudgetLease& lease) {
  return lease.principal ? "principal:" + lease.principal_name : lease.account_name;
}

std::int64_t BudgetLeases::take_back(const Id& id) noexcept {
  const auto [principal, owner, window] = id;
  return principal ? gateway_.take_back_principal_budget(static_cast<PrincipalId>(owner), window)
                   : gateway_.take_back_budget(static_cast<AccountId>(owner), window);
}

bool BudgetLeases::tend(RedisConnection& redis, Clock::time_point now, std::string& error) {
  for (const Gateway::BudgetLease& current : gateway_.budget_leases()) {
    const Id id = id_of(current);
    const std::string key = "ordergate:budget:" + owner_of(current) + ":" + window_text(current.rate);
    auto found = leases_.find(id);
    if (found != leases_.end() && found->second.key != key) {
      // A reload changed the window: what is left goes back to the old cell.
      const std::int64_t left = take_back(id);
      if (!give_back(redis, found->second, left)) {
        error = redis.error();
        return false;
      }
      leases_.erase(found);
      found = leases_.end();
    }
    if (found == leases_.end()) {
      Lease lease;
      lease.key = key;
      lease.rate = current.rate;
      lease.slice = slice_of(current.rate, slice_fraction_);
      found = leases_.emplace(id, std::move(lease)).first;
    }
    Lease& lease = found->second;
    const std::int64_t tokens = current.tokens;
    // Topped up at half a slice, to a slice at most: never more than one
    // slice held.
    if (tokens * 2 > lease.slice || now < lease.next_take) continue;
    const auto [emission_us, tolerance_us] = micros(lease.rate);
    const std::string emission = std::to_string(emission_us);
    const std::string tolerance = std::to_string(tolerance_us);
    const std::string want = std::to_string(lease.slice - tokens);
    Reply reply = redis.command({"EVAL", kTakeScript, "2", lease.key, keys::budgets, emission, tolerance, want});
    if (!reply) {
      error = redis.error();
      return false;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 || reply->element[0]->type != REDIS_REPLY_INTEGER ||
        reply->element[1]->type != REDIS_REPLY_INTEGER) {
      error = "the budget script was refused: " + std::string(reply_text(reply.get()));
      return false;
    }
    const long long granted = reply->element[0]->integer;
    if (granted > 0) {
      if (current.principal) {
        gateway_.grant_principal_budget(current.principal_id, current.window, granted);
      } else {
        gateway_.grant_budget(current.account, current.window, granted);
      }
    } else {
      lease.next_take = now + std::chrono::milliseconds(std::max<long long>(1, reply->element[1]->integer));
    }
  }
  return true;
}

bool BudgetLeases::give_back(RedisConnection& redis, const Lease& lease, std::int64_t tokens) {
  if (tokens <= 0) return true;
  const std::string emission = std::to_string(micros(lease.rate).first);
  const std::string count = std::to_string(tokens);
  Reply reply = redis.command({"EVAL", kGiveBackScript, "1", lease.key, emission, count});
  return reply != nullptr;
}

void BudgetLeases::give_back_all(RedisConnection& redis) {
  for (auto& [id, lease] : leases_) {
    const std::int64_t left = take_back(id);
    if (!give_back(redis, lease, left)) return;
  }
}

std::string BudgetLeases::describe() const {
  std::string text;
  for (const Gateway::BudgetLease& current : gateway_.budget_leases()) {
    const auto found = leases_.find(id_of(current));
    if (!text.empty()) text += ',';
    text += owner_of(current) + ":" + window_text(current.rate) + "=" + std::to_string(current.tokens) + "/" +
            std::to_string(found != leases_.end() ? found->second.slice : slice_of(current.rate, slice_fraction_));
  }
  return text;
}

}  // namespace ordergate::cluster::detail
