#include "ordergate/cluster/status.hpp"

#include <algorithm>
#include <charconv>
#include <sstream>
#include <stdexcept>
#include <tuple>

#include "redis_connection.hpp"

namespace ordergate::cluster {

namespace {

std::int64_t to_integer(std::string_view text) noexcept {
  std::int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

}  // namespace

std::string MemberStatus::health() const {
  if (!present) return "gone";
  if (floor != "ACTIVE") return "cut-off";
  if (heartbeat_ms > 0 && age_ms > 2 * heartbeat_ms) return "stale";
  if (!ready) return "not-ready";
  return "healthy";
}

ClusterStatus read_cluster_status(const RedisEndpoint& endpoint, const security::Secret* password,
                                  std::chrono::milliseconds timeout) {
  require_supported(endpoint);
  detail::OpenFailure failure = detail::OpenFailure::none;
  std::string error;
  auto connection = detail::RedisConnection::open(endpoint, password, timeout, failure, error);
  if (!connection) throw std::runtime_error("cannot reach Redis at " + endpoint.describe() + ": " + error);
  const auto check = [&](const detail::Reply& reply, int type, std::string_view what) {
    if (!reply) throw std::runtime_error("Redis at " + endpoint.describe() + " failed: " + connection->error());
    if (reply->type != type) {
      throw std::runtime_error("Redis refused " + std::string(what) + ": " +
                               std::string(detail::reply_text(reply.get())));
    }
  };

  ClusterStatus status;
  detail::Reply state = connection->command({"HGETALL", keys::state});
  check(state, REDIS_REPLY_ARRAY, "HGETALL");
  if (state->elements > 0) {
    std::vector<std::pair<std::string, std::string>> fields;
    for (std::size_t i = 0; i + 1 < state->elements; i += 2) {
      fields.emplace_back(detail::reply_text(state->element[i]), detail::reply_text(state->element[i + 1]));
    }
    status.state = decode_state(fields);
    status.state_present = true;
  }

  detail::Reply time = connection->command({"TIME"});
  check(time, REDIS_REPLY_ARRAY, "TIME");
  const std::int64_t now_ms = time->elements == 2 ? to_integer(detail::reply_text(time->element[0])) * 1000 +
                                                        to_integer(detail::reply_text(time->element[1])) / 1000
                                                  : 0;

  detail::Reply names = connection->command({"SMEMBERS", keys::members});
  check(names, REDIS_REPLY_ARRAY, "SMEMBERS");
  for (std::size_t i = 0; i < names->elements; ++i) {
    MemberStatus member;
    member.name = std::string(detail::reply_text(names->element[i]));
    const std::string key = keys::member(member.name);
    detail::Reply fields = connection->command(
        {"HMGET", key, "host", "pid", "heartbeat_ms", "seen_ms", "version", "global", "floor", "ready", "leases",
         "exposure"});
    check(fields, REDIS_REPLY_ARRAY, "HMGET");
    if (fields->elements == 10 && fields->element[0]->type == REDIS_REPLY_STRING) {
      member.present = true;
      member.host = std::string(detail::reply_text(fields->element[0]));
      member.pid = to_integer(detail::reply_text(fields->element[1]));
      member.heartbeat_ms = to_integer(detail::reply_text(fields->element[2]));
      member.age_ms = std::max<std::int64_t>(0, now_ms - to_integer(detail::reply_text(fields->element[3])));
      member.version = static_cast<std::uint64_t>(to_integer(detail::reply_text(fields->element[4])));
      member.global = std::string(detail::reply_text(fields->element[5]));
      member.floor = std::string(detail::reply_text(fields->element[6]));
      member.ready = detail::reply_text(fields->element[7]) == "1";
      member.leases = std::string(detail::reply_text(fields->element[8]));
      member.exposure = std::string(detail::reply_text(fields->element[9]));
    }
    status.members.push_back(std::move(member));
  }
  std::sort(status.members.begin(), status.members.end(),
            [](const MemberStatus& a, const MemberStatus& b) { return a.name < b.name; });

  // Budgets: "ordergate:budget:<account>:<count>/<period_ns>" = the GCRA
  // cell's arrival time in microseconds of Redis's clock.
  const std::int64_t now_us = time->elements == 2 ? to_integer(detail::reply_text(time->element[0])) * 1'000'000 +
                                                        to_integer(detail::reply_text(time->element[1]))
                                                  : 0;
  detail::Reply budgets = connection->command({"SMEMBERS", keys::budgets});
  check(budgets, REDIS_REPLY_ARRAY, "SMEMBERS");
  constexpr std::string_view prefix = "ordergate:budget:";
  for (std::size_t i = 0; i < budgets->elements; ++i) {
    const std::string key(detail::reply_text(budgets->element[i]));
    const std::size_t colon = key.rfind(':');
    const std::size_t slash = key.rfind('/');
    if (key.rfind(prefix, 0) != 0 || colon == std::string::npos || colon < prefix.size() ||
        slash == std::string::npos || slash < colon) {
      continue;  // not a key this version writes
    }
    BudgetStatus budget;
    budget.account = key.substr(prefix.size(), colon - prefix.size());
    const guards::RateWindow window{static_cast<std::uint32_t>(to_integer(std::string_view(key).substr(colon + 1, slash - colon - 1))),
                                    to_integer(std::string_view(key).substr(slash + 1))};
    if (window.count == 0 || window.period_ns <= 0) continue;
    budget.count = window.count;
    budget.period_ns = window.period_ns;
    detail::Reply tat = connection->command({"GET", key});
    if (!tat) throw std::runtime_error("Redis at " + endpoint.describe() + " failed: " + connection->error());
    const std::int64_t emission_us =
        std::max<std::int64_t>(1, (guards::GcraParams::from(window).emission_ns + 999) / 1000);
    const std::int64_t tolerance_us = emission_us * (static_cast<std::int64_t>(window.count) - 1);
    const std::int64_t arrival = std::max(now_us, to_integer(detail::reply_text(tat.get())));
    budget.remaining =
        std::clamp<std::int64_t>((tolerance_us - (arrival - now_us)) / emission_us + 1, 0, window.count);
    status.budgets.push_back(std::move(budget));
  }
  std::sort(status.budgets.begin(), status.budgets.end(), [](const BudgetStatus& a, const BudgetStatus& b) {
    return std::tie(a.account, a.period_ns, a.count) < std::tie(b.account, b.period_ns, b.count);
  });

  // Exposure: "ordergate:exposure:<account>:<limit>" = a hash of member
  // name -> units.
  detail::Reply exposures = connection->command({"SMEMBERS", keys::exposures});
  check(exposures, REDIS_REPLY_ARRAY, "SMEMBERS");
  constexpr std::string_view exposure_prefix = "ordergate:exposure:";
  for (std::size_t i = 0; i < exposures->elements; ++i) {
    const std::string key(detail::reply_text(exposures->element[i]));
    if (key.rfind(exposure_prefix, 0) != 0 || key.size() == exposure_prefix.size()) continue;
    ExposureStatus limit;
    limit.limit = key.substr(exposure_prefix.size());
    limit.orders = limit.limit.find(":open_orders:") != std::string::npos;
    detail::Reply parts = connection->command({"HGETALL", key});
    check(parts, REDIS_REPLY_ARRAY, "HGETALL");
    for (std::size_t j = 0; j + 1 < parts->elements; j += 2) {
      const std::int64_t units = to_integer(detail::reply_text(parts->element[j + 1]));
      limit.parts.emplace_back(detail::reply_text(parts->element[j]), units);
      limit.leased += units;
    }
    std::sort(limit.parts.begin(), limit.parts.end());
    status.exposure.push_back(std::move(limit));
  }
  std::sort(status.exposure.begin(), status.exposure.end(),
            [](const ExposureStatus& a, const ExposureStatus& b) { return a.limit < b.limit; });
  return status;
}

std::string format_cluster_status(const ClusterStatus& status) {
  std::ostringstream out;
  out << "members: " << status.members.size() << '\n';
  for (const MemberStatus& member : status.members) {
    out << "  " << member.name << "  " << member.health();
    if (member.present) {
      out << "  host=" << member.host << " pid=" << member.pid << " heartbeat_age_ms=" << member.age_ms
          << " global=" << member.global << " floor=" << member.floor << " ready=" << (member.ready ? "yes" : "no")
          << " version=" << member.version;
      if (!member.leases.empty()) out << " leases=" << member.leases;
      if (!member.exposure.empty()) out << " exposure=" << member.exposure;
    }
    out << '\n';
  }
  if (!status.budgets.empty()) {
    out << "shared budgets: " << status.budgets.size() << '\n';
    for (const BudgetStatus& budget : status.budgets) {
      // A principal's window is named "principal:<name>" already.
      const bool principal = budget.account.rfind("principal:", 0) == 0;
      out << "  " << (principal ? "" : "account:") << budget.account << " " << budget.count << "/"
          << budget.period_ns / 1'000'000
          << "ms: remaining=" << budget.remaining << '\n';
    }
  }
  if (!status.exposure.empty()) {
    out << "shared exposure: " << status.exposure.size() << '\n';
    for (const ExposureStatus& limit : status.exposure) {
      out << "  exposure:" << limit.limit << ": leased=" << limit.leased
          << (limit.orders ? " orders" : " of 1000000 ppm");
      for (const auto& [member, units] : limit.parts) out << ' ' << member << '=' << units;
      out << '\n';
    }
  }
  if (!status.state_present) {
    out << "shared state: none yet (written by the first member that connects)\n";
    return out.str();
  }
  const ControlState& control = status.state.control;
  out << "shared state: version " << status.state.version << '\n';
  out << "  global: " << guards::to_string(control.global) << '\n';
  for (const auto& [name, state] : control.accounts) {
    out << "  account:" << name << ": " << guards::to_string(state) << '\n';
  }
  for (const auto& [name, state] : control.principals) {
    out << "  principal:" << name << ": " << guards::to_string(state) << '\n';
  }
  for (const std::string& name : control.disabled_principals) out << "  principal:" << name << ": disabled\n";
  return out.str();
}

}  // namespace ordergate::cluster
