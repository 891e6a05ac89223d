#include "ordergate/cluster/member.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "budgets.hpp"
#include "exposure.hpp"
#include "ordergate/cluster/shared_state.hpp"
#include "redis_connection.hpp"

namespace ordergate::cluster {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Writes one change and publishes it, atomically; returns the new version.
// KEYS[1] state hash; ARGV: channel, field, value ("" deletes), cancel (1/0).
constexpr std::string_view kWriteScript = R"lua(
local v = redis.call('HINCRBY', KEYS[1], 'version', 1)
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[2]) else redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) end
redis.call('PUBLISH', ARGV[1], v .. ' ' .. ARGV[4] .. ' ' .. ARGV[2])
return v
)lua";

// Writes a whole state when Redis has none (a first start, or a Redis that
// lost its data); returns 1 when it wrote. KEYS[1] state hash; ARGV:
// channel, then field/value pairs.
constexpr std::string_view kSeedScript = R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'version', 1)
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('PUBLISH', ARGV[1], '1 0 version')
return 1
)lua";

// Claims or refreshes a member's key; 0 when another instance holds it.
// KEYS[1] member hash, KEYS[2] member set; ARGV: instance, ttl ms, name,
// then field/value pairs.
constexpr std::string_view kHeartbeatScript = R"lua(
local owner = redis.call('HGET', KEYS[1], 'instance')
if owner and owner ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], 'instance', ARGV[1], 'seen_ms', tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)))
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
return 1
)lua";

// Leaves the member list if this instance holds the name.
constexpr std::string_view kLeaveScript = R"lua(
if redis.call('HGET', KEYS[1], 'instance') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[2])
return 1
)lua";

std::string random_instance_id() {
  std::random_device device;
  std::string id;
  constexpr std::string_view digits = "0123456789abcdef";
  for (int i = 0; i < 4; ++i) {
    std::uint32_t value = device();
    for (int j = 0; j < 8; ++j) {
      id += digits[value & 0xF];
      value >>= 4;
    }
  }
  return id;
}

std::string host_name() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0) return "unknown";
  return buffer;
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::chrono::milliseconds MemberOptions::heartbeat() const noexcept {
  return std::clamp(fail_after / 4, milliseconds(50), milliseconds(1000));
}

std::chrono::milliseconds MemberOptions::member_ttl() const noexcept { return fail_after + 2 * heartbeat(); }

void validate_member_name(std::string_view name) {
  if (name.empty() || name.size() > 64) throw ClusterConfigError("cluster.name: must be 1 to 64 characters");
  for (const char c : name) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                         c == '_' || c == '.';
    if (!allowed) throw ClusterConfigError("cluster.name: may hold only letters, digits, '-', '_' and '.'");
  }
}

class Member::Impl {
 public:
  Impl(Gateway& gateway, MemberOptions options, MemberLog log)
      : gateway_(gateway),
        options_(std::move(options)),
        log_(std::move(log)),
        instance_(random_instance_id()),
        host_(host_name()),
        started_ms_(wall_ms()),
        member_key_(keys::member(options_.name)) {
    validate_member_name(options_.name);
    require_supported(options_.redis);
    if (!options_.known_state_path.empty()) {
      std::optional<ControlState> saved;
      try {
        saved = read_control_state(options_.known_state_path);
      } catch (const ControlStateError& error) {
        throw ClusterStartError(std::string("cluster: the last known shared state: ") + error.what());
      }
      if (saved) {
        for (const StateField& field : encode_state(*saved)) {
          if (field.field.rfind("disabled:", 0) != 0) known_[field.field] = stored_state(field.value);
        }
        known_valid_ = true;
      }
    }
    if (options_.share_budgets || options_.share_principal_budgets) {
      if (!(options_.budget_slice > 0.0 && options_.budget_slice <= 0.5)) {
        throw ClusterConfigError("cluster: budget_slice must be in (0, 0.5]");
      }
      if (options_.share_budgets) gateway_.share_account_budgets();
      if (options_.share_principal_budgets) gateway_.share_principal_budgets();
      budgets_ = std::make_unique<detail::BudgetLeases>(gateway_, options_.budget_slice);
    }
    if (options_.share_exposure) {
      if (!(options_.exposure_headroom > 0.0 && options_.exposure_headroom <= 0.5)) {
        throw ClusterConfigError("cluster: exposure_headroom must be in (0, 0.5]");
      }
      gateway_.share_account_exposure();
      exposure_ = std::make_unique<detail::ExposureLeases>(gateway_, options_.name, options_.exposure_headroom);
    }
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) throw std::runtime_error("cluster: cannot create an eventfd");
    gateway_.hold_accounts(true);
  }

  ~Impl() {
    stop();
    ::close(wake_fd_);
  }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void start() {
    const Clock::time_point deadline = Clock::now() + options_.fail_after;
    last_ok_ = Clock::now();
    const Clock::time_point name_deadline = Clock::now() + options_.member_ttl() + options_.heartbeat();
    bool logged_wait = false;
    while (true) {
      const Outcome outcome = connect();
      if (outcome == Outcome::ok) break;
      if (outcome == Outcome::refused_credentials) throw ClusterStartError("cluster: " + last_error_);
      if (outcome == Outcome::name_taken) {
        // A member that died keeps its name until its key expires; a live
        // one refreshes it.
        if (Clock::now() >= name_deadline) {
          throw ClusterStartError("cluster: the member name '" + options_.name +
                                  "' is held by a live member (" + holder_ +
                                  "); give each gateway process its own cluster.name");
        }
        if (!logged_wait) {
          log("warn", "cluster_name_held", "name=" + options_.name + " waiting_ms=" +
                                              std::to_string(options_.member_ttl().count()));
          logged_wait = true;
        }
        std::this_thread::sleep_for(options_.heartbeat() / 2);
        continue;
      }
      if (Clock::now() >= deadline) {
        log("warn", "cluster_unreachable",
            "redis=" + options_.redis.describe() + " error=\"" + last_error_ + "\" accounts=held");
        break;
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
    running_.store(true);
    thread_ = std::thread([this] { run(); });
  }

  void stop() noexcept {
    if (!running_.exchange(false)) return;
    wake();
    if (thread_.joinable()) thread_.join();
  }

  void set_trading_state(const TradingScope& scope, guards::TradingState state, bool cancel_working,
                         std::string_view by) {
    StateField field = encode_trading_state(scope, state);
    const std::lock_guard lock(apply_mutex_);
    try {
      gateway_.set_trading_state(scope, state, cancel_working, by);
    } catch (const ControlStateError& error) {
      if (error.applied()) {
        know(field.field, state);
        enqueue(std::move(field), cancel_working);
      }
      throw;
    }
    // The cluster will say this: it is the operator's, not a local guard's.
    know(field.field, state);
    enqueue(std::move(field), cancel_working);
  }

  void set_principal_enabled(std::string_view principal, bool enabled, std::string_view by) {
    StateField field = encode_principal_enabled(principal, enabled);
    const std::lock_guard lock(apply_mutex_);
    try {
      gateway_.set_principal_enabled(principal, enabled, by);
    } catch (const ControlStateError& error) {
      if (error.applied()) enqueue(std::move(field), false);
      throw;
    }
    enqueue(std::move(field), false);
  }

  void read_again() noexcept {
    read_requested_.store(true);
    wake();
  }

  Health health() const {
    Health health;
    health.connected = connected_.load();
    health.version = version_.load();
    health.floor = floor_.load();
    return health;
  }

  const std::string& name() const noexcept { return options_.name; }

 private:
  enum class Outcome : std::uint8_t { ok, unreachable, refused_credentials, name_taken, bad_state };

  struct Pending {
    StateField field;
    bool cancel = false;
  };

  void log(std::string_view level, std::string_view event, const std::string& fields) const {
    if (log_) log_(level, event, fields);
  }

  void enqueue(StateField field, bool cancel) {
    {
      const std::lock_guard lock(queue_mutex_);
      pending_.push_back({std::move(field), cancel});
    }
    wake();
  }

  bool has_pending() {
    const std::lock_guard lock(queue_mutex_);
    return !pending_.empty();
  }

  void wake() const noexcept {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t written = ::write(wake_fd_, &one, sizeof one);
  }

  // ---- the connection's life ----------------------------------------------

  Outcome connect() {
    disconnect();
    const milliseconds timeout = std::max(options_.fail_after / 2, milliseconds(50));
    const security::Secret* password = options_.password ? &*options_.password : nullptr;
    detail::OpenFailure failure = detail::OpenFailure::none;
    subscriber_ = detail::RedisConnection::open(options_.redis, password, timeout, failure, last_error_);
    if (subscriber_) commands_ = detail::RedisConnection::open(options_.redis, password, timeout, failure, last_error_);
    if (!subscriber_ || !commands_) {
      disconnect();
      return failure == detail::OpenFailure::refused_credentials ? Outcome::refused_credentials : Outcome::unreachable;
    }
    // Subscribed before the state is read: no change falls in between.
    detail::Reply reply = subscriber_->command({"SUBSCRIBE", keys::changes});
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
      last_error_ = reply ? "SUBSCRIBE refused" : subscriber_->error();
      disconnect();
      return Outcome::unreachable;
    }
    const Outcome claimed = heartbeat();
    if (claimed != Outcome::ok) {
      disconnect();
      return claimed;
    }
    if (!seed()) {
      disconnect();
      return Outcome::unreachable;
    }
    if (!flush_pending()) {
      disconnect();
      return Outcome::unreachable;
    }
    const Outcome read = read_and_apply();
    if (read != Outcome::ok) {
      disconnect();
      return read;
    }
    // Leases before the accounts open: the first orders find budget.
    if (!tend_leases()) {
      disconnect();
      return Outcome::unreachable;
    }
    on_state_read();
    return Outcome::ok;
  }

  void disconnect() {
    const bool was = connected_.exchange(false);
    subscriber_.reset();
    commands_.reset();
    if (was) {
      log("warn", "cluster_disconnected", "redis=" + options_.redis.describe() + " error=\"" + last_error_ + "\"");
    }
  }

  // The state is read and applied: the accounts may trade.
  void on_state_read() {
    last_ok_ = Clock::now();
    connected_.store(true);
    if (floor_.load() != guards::TradingState::active) {
      floor_.store(guards::TradingState::active);
      gateway_.set_trading_floor(guards::TradingState::active, "redis_state_read");
    }
    gateway_.hold_accounts(false);
    log("info", "cluster_connected",
        "redis=" + options_.redis.describe() + " name=" + options_.name +
            " version=" + std::to_string(version_.load()));
  }

  // Redis out of reach for longer than fail_after: the floor, until the
  // state is read again (the accounts stay open: REDUCING still lets a
  // position shrink).
  void check_loss() {
    if (floor_.load() != guards::TradingState::active) return;
    if (Clock::now() - last_ok_ <= options_.fail_after) return;
    floor_.store(options_.on_redis_loss);
    gateway_.set_trading_floor(options_.on_redis_loss, "redis_unreachable");
    // Others may be handed this member's parts once its key expires.
    if (exposure_) exposure_->shrink_to_use();
    log("error", "cluster_redis_lost",
        "redis=" + options_.redis.describe() + " floor=" + std::string(guards::to_string(options_.on_redis_loss)) +
            " down_ms=" + std::to_string(std::chrono::duration_cast<milliseconds>(Clock::now() - last_ok_).count()));
  }

  // ---- the member's thread -------------------------------------------------

  void run() {
    Clock::time_point next_heartbeat = Clock::now() + options_.heartbeat();
    milliseconds backoff{50};
    while (running_.load()) {
      if (!connected_.load()) {
        check_loss();
        const Outcome outcome = connect();
        if (outcome != Outcome::ok) {
          if (outcome == Outcome::name_taken && !name_warned_) {
            log("error", "cluster_name_held", "name=" + options_.name + " holder=\"" + holder_ + "\"");
            name_warned_ = true;
          } else if (last_error_ != logged_error_) {
            // Once per distinct reason, not once per attempt.
            log("warn", "cluster_connect_failed",
                "redis=" + options_.redis.describe() + " error=\"" + last_error_ + "\"");
            logged_error_ = last_error_;
          }
          check_loss();
          wait(backoff);
          backoff = std::min(backoff * 2, options_.heartbeat());
          continue;
        }
        name_warned_ = false;
        logged_error_.clear();
        backoff = milliseconds(50);
        next_heartbeat = Clock::now() + options_.heartbeat();
      }
      auto until_heartbeat =
          std::max(std::chrono::duration_cast<milliseconds>(next_heartbeat - Clock::now()), milliseconds(0));
      // Leases are looked at every tick: the order path cannot wake this
      // thread (no syscall there), so it polls.
      if (budgets_ || exposure_) until_heartbeat = std::min(until_heartbeat, kLeaseTick);
      pollfd fds[2] = {{subscriber_->fd(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      const int ready = ::poll(fds, 2, static_cast<int>(until_heartbeat.count()));
      if (ready < 0 && errno != EINTR) {
        last_error_ = "poll failed";
        disconnect();
        continue;
      }
      if ((fds[1].revents & POLLIN) != 0) {
        std::uint64_t count = 0;
        [[maybe_unused]] const ssize_t got = ::read(wake_fd_, &count, sizeof count);
      }
      bool changed = false;
      if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !read_messages(changed)) {
        disconnect();
        continue;
      }
      if (!running_.load()) break;
      if (!flush_pending()) {
        disconnect();
        continue;
      }
      if (!tend_leases()) {
        disconnect();
        continue;
      }
      if (read_requested_.exchange(false)) changed = true;
      if (changed || reread_) {
        const Outcome read = read_and_apply();
        if (read != Outcome::ok) {
          disconnect();
          continue;
        }
      }
      if (Clock::now() >= next_heartbeat) {
        next_heartbeat = Clock::now() + options_.heartbeat();
        const Outcome beat = heartbeat();
        if (beat != Outcome::ok) {
          disconnect();
          continue;
        }
        last_ok_ = Clock::now();
      }
    }
    leave();
    disconnect();
  }

  void wait(milliseconds period) {
    pollfd fd{wake_fd_, POLLIN, 0};
    if (::poll(&fd, 1, static_cast<int>(period.count())) > 0) {
      std::uint64_t count = 0;
      [[maybe_unused]] const ssize_t got = ::read(wake_fd_, &count, sizeof count);
    }
  }

  // Messages on the subscriber connection; `changed` when one announced a
  // change.
  bool read_messages(bool& changed) {
    if (!subscriber_->read_available()) {
      last_error_ = subscriber_->error();
      return false;
    }
    detail::Reply reply;
    while (true) {
      if (!subscriber_->next_reply(reply)) {
        last_error_ = "bad reply on the subscriber connection";
        return false;
      }
      if (!reply) return true;
      if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) continue;
      if (detail::reply_text(reply->element[0]) != "message") continue;
      changed = true;
      if (const std::optional<ChangeMessage> message = decode_change_message(detail::reply_text(reply->element[2]))) {
        if (message->cancel && own_versions_.count(message->version) == 0) cancel_fields_.insert(message->field);
        written_fields_.insert(message->field);
      }
    }
  }

  // Writes the changes made through this member, oldest first.
  bool flush_pending() {
    while (true) {
      Pending next;
      {
        const std::lock_guard lock(queue_mutex_);
        if (pending_.empty()) return true;
        next = pending_.front();
      }
      detail::Reply reply = commands_->command({"EVAL", kWriteScript, "1", keys::state, keys::changes,
                                                next.field.field, next.field.value, next.cancel ? "1" : "0"});
      if (!reply || reply->type != REDIS_REPLY_INTEGER) {
        last_error_ = reply ? "the state write was refused: " + std::string(detail::reply_text(reply.get()))
                            : commands_->error();
        return false;  // kept, written after the reconnection
      }
      const auto version = static_cast<std::uint64_t>(reply->integer);
      own_versions_.insert(version);
      if (own_versions_.size() > 256) own_versions_.erase(own_versions_.begin());
      log("info", "cluster_state_written",
          "field=" + next.field.field + " state=" + (next.field.value.empty() ? "default" : next.field.value) +
              " version=" + std::to_string(version));
      const std::lock_guard lock(queue_mutex_);
      pending_.pop_front();
    }
  }

  // Writes this member's state when Redis has none.
  bool seed() {
    std::vector<std::string> texts;
    for (const StateField& field : encode_state(gateway_.control_state())) {
      texts.push_back(field.field);
      texts.push_back(field.value);
    }
    std::vector<std::string_view> arguments{"EVAL", kSeedScript, "1", keys::state, keys::changes};
    arguments.insert(arguments.end(), texts.begin(), texts.end());
    detail::Reply reply = commands_->command(arguments);
    if (!reply || reply->type != REDIS_REPLY_INTEGER) {
      last_error_ = reply ? "the state seed was refused: " + std::string(detail::reply_text(reply.get()))
                          : commands_->error();
      return false;
    }
    if (reply->integer == 1) {
      log("warn", "cluster_state_seeded",
          "why=\"Redis held no shared state\" fields=" + std::to_string(texts.size() / 2));
    }
    return true;
  }

  Outcome heartbeat() {
    const std::string ttl = std::to_string(options_.member_ttl().count());
    const std::string pid = std::to_string(::getpid());
    const std::string started = std::to_string(started_ms_);
    const std::string heartbeat_ms = std::to_string(options_.heartbeat().count());
    const std::string version = std::to_string(version_.load());
    const std::string global(guards::to_string(gateway_.trading_state(TradingScope::global())));
    const std::string floor(guards::to_string(floor_.load()));
    const std::string ready = gateway_.ready() ? "1" : "0";
    const std::string leases = budgets_ ? budgets_->describe() : std::string();
    const std::string exposure = exposure_ ? exposure_->describe() : std::string();
    const std::string key(member_key_);
    detail::Reply reply = commands_->command({"EVAL", kHeartbeatScript, "2", key, keys::members, instance_, ttl,
                                              options_.name, "host", host_, "pid", pid, "started_ms", started,
                                              "heartbeat_ms", heartbeat_ms, "version", version, "global", global,
                                              "floor", floor, "ready", ready, "leases", leases, "exposure",
                                              exposure});
    if (!reply) {
      last_error_ = commands_->error();
      return Outcome::unreachable;
    }
    if (reply->type != REDIS_REPLY_INTEGER) {
      last_error_ = "the heartbeat was refused: " + std::string(detail::reply_text(reply.get()));
      return Outcome::unreachable;
    }
    if (reply->integer == 0) {
      detail::Reply holder = commands_->command({"HMGET", key, "host", "pid"});
      holder_ = "another instance";
      if (holder && holder->type == REDIS_REPLY_ARRAY && holder->elements == 2) {
        holder_ = "host " + std::string(detail::reply_text(holder->element[0])) + " pid " +
                  std::string(detail::reply_text(holder->element[1]));
      }
      last_error_ = "the member name is held by " + holder_;
      return Outcome::name_taken;
    }
    return Outcome::ok;
  }

  void leave() {
    if (!commands_) return;
    if (budgets_) budgets_->give_back_all(*commands_);
    if (exposure_) exposure_->give_back_all(*commands_);
    const std::string key(member_key_);
    (void)commands_->command({"EVAL", kLeaveScript, "2", key, keys::members, instance_, options_.name});
  }

  // Reads the hash and makes the gateway's state what it says.
  Outcome read_and_apply() {
    reread_ = false;
    detail::Reply reply = commands_->command({"HGETALL", keys::state});
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
      last_error_ = reply ? "HGETALL refused" : commands_->error();
      return Outcome::unreachable;
    }
    std::vector<std::pair<std::string, std::string>> fields;
    for (std::size_t i = 0; i + 1 < reply->elements; i += 2) {
      fields.emplace_back(detail::reply_text(reply->element[i]), detail::reply_text(reply->element[i + 1]));
    }
    SharedState shared;
    try {
      shared = decode_state(fields);
    } catch (const SharedStateError& error) {
      last_error_ = error.what();
      log("error", "cluster_state_unreadable", "error=\"" + last_error_ + "\"");
      return Outcome::bad_state;
    }
    const std::lock_guard lock(apply_mutex_);
    // A change made here and not written yet is newer than what was read:
    // read again once it is written.
    if (has_pending()) {
      reread_ = true;
      return Outcome::ok;
    }
    apply(shared.control);
    remember(shared.control);
    version_.store(shared.version);
    cancel_fields_.clear();
    written_fields_.clear();
    return Outcome::ok;
  }

  void apply(const ControlState& remote) {
    const ControlState local = gateway_.control_state();
    const auto state_in = [](const std::map<std::string, guards::TradingState>& states, const std::string& name) {
      const auto found = states.find(name);
      return found == states.end() ? guards::TradingState::active : found->second;
    };
    const auto change = [&](const TradingScope& scope, guards::TradingState from, guards::TradingState to) {
      const std::string field = encode_trading_state(scope, to).field;
      // The gateway's own guards (a daily loss limit, a position mismatch)
      // tighten a scope locally, through the same call: such a state differs
      // from what the cluster last said, and the cluster may tighten it
      // further but never loosen it, unless an operator set this very scope
      // since (a message named it).
      if (known_valid_ && to < from && written_fields_.count(field) == 0) {
        const auto known = known_.find(field);
        if (from != (known == known_.end() ? guards::TradingState::active : known->second)) {
          if (!kept_logged_.insert(field + " " + std::string(guards::to_string(from))).second) return;
          log("warn", "cluster_state_kept",
              "scope=" + field + " local=" + std::string(guards::to_string(from)) +
                  " cluster=" + std::string(guards::to_string(to)) + " why=\"switched by this gateway's own guard\"");
          return;
        }
      }
      const bool cancel = cancel_fields_.count(field) != 0 && to != guards::TradingState::active;
      if (from == to) {
        if (cancel) cancel_in(scope);
        return;
      }
      try {
        gateway_.set_trading_state(scope, to, cancel);
      } catch (const ControlStateError& error) {
        log("error", "state_not_saved", "field=" + field + " error=\"" + error.what() + "\"");
      } catch (const std::invalid_argument&) {
        return;  // a name this member's configuration does not have
      }
      log("warn", "trading_state_changed",
          "scope=" + field + " state=" + std::string(guards::to_string(to)) + " by=cluster");
    };
    change(TradingScope::global(), local.global, remote.global);
    for (const Account& account : gateway_.accounts().all()) {
      const std::string name(account.name.view());
      change(TradingScope::account(name), state_in(local.accounts, name), state_in(remote.accounts, name));
    }
    std::set<std::string> principals;
    for (const auto& [name, state] : local.principals) principals.insert(name);
    for (const auto& [name, state] : remote.principals) principals.insert(name);
    for (const std::string& name : principals) {
      if (!gateway_.find_principal(name)) continue;
      change(TradingScope::principal(name), state_in(local.principals, name), state_in(remote.principals, name));
    }
    std::set<std::string> disabled(local.disabled_principals);
    disabled.insert(remote.disabled_principals.begin(), remote.disabled_principals.end());
    for (const std::string& name : disabled) {
      if (!gateway_.find_principal(name)) continue;
      const bool enabled = remote.disabled_principals.count(name) == 0;
      if (enabled == (local.disabled_principals.count(name) == 0)) continue;
      try {
        gateway_.set_principal_enabled(name, enabled);
      } catch (const ControlStateError& error) {
        log("error", "state_not_saved", "principal=" + name + " error=\"" + error.what() + "\"");
      } catch (const std::invalid_argument&) {
        continue;
      }
      if (!enabled) {
        try {
          gateway_.revoke_sessions(name);
        } catch (const std::invalid_argument&) {
        }
      }
      log("warn", enabled ? "principal_enabled" : "principal_disabled", "principal=" + name + " by=cluster");
    }
  }

  // What the cluster said last, by field (trading states only).
  void remember(const ControlState& remote) {
    std::map<std::string, guards::TradingState> known;
    for (const StateField& field : encode_state(remote)) {
      if (field.field.rfind("disabled:", 0) != 0) known[field.field] = stored_state(field.value);
    }
    const bool changed = !known_valid_ || known != known_;
    known_ = std::move(known);
    known_valid_ = true;
    if (changed) persist_known();
  }

  // One field of what the cluster holds, as written through this member.
  void know(const std::string& field, guards::TradingState state) {
    if (state == guards::TradingState::active) {
      known_.erase(field);
    } else {
      known_[field] = state;
    }
    persist_known();
  }

  static guards::TradingState stored_state(const std::string& value) noexcept {
    return value == "HALTED" ? guards::TradingState::halted : guards::TradingState::reducing;
  }

  // Requires apply_mutex_ (or the constructor).
  void persist_known() {
    if (options_.known_state_path.empty()) return;
    try {
      std::vector<std::pair<std::string, std::string>> fields{{"version", "0"}};
      for (const auto& [field, state] : known_) fields.emplace_back(field, std::string(guards::to_string(state)));
      write_control_state(options_.known_state_path, decode_state(fields).control);
    } catch (const std::exception& error) {
      // Kept in memory; a restart before the next write would treat the
      // scopes that changed since as the gateway's own (never loosened).
      log("error", "cluster_known_state_not_saved", std::string("error=\"") + error.what() + "\"");
    }
  }

  void cancel_in(TradingScope scope) {
    CancelFilter filter;
    if (scope.kind == TradingScope::Kind::account) {
      const Account* account = gateway_.accounts().find(scope.name);
      if (account == nullptr) return;
      filter.account = account->id;
    } else if (scope.kind == TradingScope::Kind::principal) {
      const std::optional<PrincipalId> principal = gateway_.find_principal(scope.name);
      if (!principal) return;
      filter.principal = *principal;
    }
    (void)gateway_.cancel_orders(filter);
  }

  Gateway& gateway_;
  MemberOptions options_;
  MemberLog log_;
  const std::string instance_;
  const std::string host_;
  const std::int64_t started_ms_;
  const std::string member_key_;
  int wake_fd_ = -1;
  static constexpr milliseconds kLeaseTick{2};
  std::unique_ptr<detail::BudgetLeases> budgets_;  // share_budgets; the member's thread
  std::unique_ptr<detail::ExposureLeases> exposure_;  // share_exposure; the member's thread

  // Both kinds of lease, looked at once per tick. False: Redis did not answer.
  bool tend_leases() {
    const Clock::time_point now = Clock::now();
    if (budgets_ && !budgets_->tend(*commands_, now, last_error_)) return false;
    return !exposure_ || exposure_->tend(*commands_, now, last_error_);
  }

  std::thread thread_;
  std::atomic<bool> running_{false};
  std::atomic<bool> connected_{false};
  std::atomic<bool> read_requested_{false};
  std::atomic<std::uint64_t> version_{0};
  std::atomic<guards::TradingState> floor_{guards::TradingState::active};

  // Serialises a local change (applied, then queued) against applying what
  // was read from Redis, so a read never undoes a newer local change.
  std::mutex apply_mutex_;
  std::mutex queue_mutex_;
  std::deque<Pending> pending_;

  // The member's thread only (and `start`, before the thread exists).
  std::unique_ptr<detail::RedisConnection> subscriber_;
  std::unique_ptr<detail::RedisConnection> commands_;
  Clock::time_point last_ok_{};
  std::string last_error_;
  std::string holder_;
  std::string logged_error_;
  bool name_warned_ = false;
  bool reread_ = false;
  std::set<std::string> cancel_fields_;
  std::set<std::string> written_fields_;  // fields the messages since the last read named
  // Under apply_mutex_: the trading states the cluster holds as this member
  // last knew them (read, or written through it), by field; absent: ACTIVE.
  std::map<std::string, guards::TradingState> known_;
  bool known_valid_ = false;
  std::set<std::string> kept_logged_;  // "field STATE" already logged as kept
  std::set<std::uint64_t> own_versions_;
};

Member::Member(Gateway& gateway, MemberOptions options, MemberLog log)
    : impl_(std::make_unique<Impl>(gateway, std::move(options), std::move(log))) {}
Member::~Member() = default;
void Member::start() { impl_->start(); }
void Member::stop() noexcept { impl_->stop(); }
void Member::set_trading_state(const TradingScope& scope, guards::TradingState state, bool cancel_working,
                               std::string_view by) {
  impl_->set_trading_state(scope, state, cancel_working, by);
}
void Member::set_principal_enabled(std::string_view principal, bool enabled, std::string_view by) {
  impl_->set_principal_enabled(principal, enabled, by);
}
void Member::read_again() noexcept { impl_->read_again(); }
Member::Health Member::health() const { return impl_->health(); }
const std::string& Member::name() const noexcept { return impl_->name(); }

}  // namespace ordergate::cluster
