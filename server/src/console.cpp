#include "console.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <stdexcept>
#include <utility>

#include "console_assets.hpp"
#include "ordergate/core/reason.hpp"
#include "ordergate/gateway/control_state.hpp"
#include "ordergate/security/crypto.hpp"
#include "protocol.hpp"

namespace ordergate::server_detail {

struct Console::ConsoleSession {
  Session session;  // the gateway's: expiry, revocation and disabling apply to it
  std::string principal;
  PrincipalId principal_id = 0;
  security::Sha256Digest csrf_digest{};
  std::string csrf;  // handed to the page in /api/state
};

namespace {

constexpr std::string_view kCookieName = "ordergate_session";
constexpr std::size_t kRecentExecutions = 50;
constexpr std::size_t kLatencyPoints = 150;  // 5 minutes at one point every 2 s
constexpr std::size_t kMaxThrottleEntries = 1024;
constexpr std::size_t kMaxOpenOrdersListed = 100;  // per snapshot; open_orders_count says how many there are

HttpResponse json_response(unsigned status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.content_type = "application/json";
  response.body = std::move(body);
  return response;
}

HttpResponse json_error(unsigned status, std::string_view code, std::string_view message) {
  std::string body;
  protocol::JsonWriter json(body);
  json.begin().string("error", code).string("message", message).end();
  return json_response(status, std::move(body));
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// "application/json; charset=utf-8" is of type "application/json".
bool media_type_is(std::string_view content_type, std::string_view type) noexcept {
  const std::string_view base = content_type.substr(0, content_type.find(';'));
  std::string_view trimmed = base;
  while (!trimmed.empty() && trimmed.back() == ' ') trimmed.remove_suffix(1);
  return iequals(trimmed, type);
}

// A state-changing request comes from this listener's own page: its Origin,
// when the browser sends one, is this listener (the Host was checked by the
// listener), and Sec-Fetch-Site, when sent, is same-origin.
bool same_origin(const HttpRequest& request) {
  if (!request.sec_fetch_site.empty() && request.sec_fetch_site != "same-origin" && request.sec_fetch_site != "none") {
    return false;
  }
  if (request.origin.empty()) return true;
  const std::string expected = std::string(request.https ? "https://" : "http://") + std::string(request.host);
  return iequals(request.origin, expected);
}

std::string random_text() {
  std::array<std::uint8_t, 32> bytes{};
  security::random_bytes(bytes.data(), bytes.size());
  std::string text = security::base64url_encode(bytes.data(), bytes.size(), false);
  bytes.fill(0);
  return text;
}

std::optional<std::string> cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const std::size_t end = header.find(';');
    std::string_view pair = header.substr(0, end);
    header = end == std::string_view::npos ? std::string_view{} : header.substr(end + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const std::size_t equals = pair.find('=');
    if (equals != std::string_view::npos && pair.substr(0, equals) == name) return std::string(pair.substr(equals + 1));
  }
  return std::nullopt;
}

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One field of an application/x-www-form-urlencoded body. nullopt when it
// is absent, malformed or given twice.
std::optional<std::string> form_field(std::string_view body, std::string_view name) {
  std::optional<std::string> found;
  while (!body.empty()) {
    const std::size_t end = body.find('&');
    const std::string_view pair = body.substr(0, end);
    body = end == std::string_view::npos ? std::string_view{} : body.substr(end + 1);
    const std::size_t equals = pair.find('=');
    if (pair.substr(0, equals) != name) continue;
    if (found) return std::nullopt;
    const std::string_view raw = equals == std::string_view::npos ? std::string_view{} : pair.substr(equals + 1);
    std::string value;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        value += ' ';
      } else if (raw[i] == '%') {
        if (i + 2 >= raw.size()) return std::nullopt;
        const int high = hex_digit(raw[i + 1]);
        const int low = hex_digit(raw[i + 2]);
        if (high < 0 || low < 0) return std::nullopt;
        value += static_cast<char>(high * 16 + low);
        i += 2;
      } else {
        value += raw[i];
      }
    }
    found = std::move(value);
  }
  return found;
}

std::string_view state_name(guards::TradingState state) noexcept {
  switch (state) {
    case guards::TradingState::active: return "active";
    case guards::TradingState::reducing: return "reducing";
    case guards::TradingState::halted: return "halted";
  }
  return "halted";
}

std::string_view journal_name(JournalState state) noexcept {
  switch (state) {
    case JournalState::disabled: return "disabled";
    case JournalState::healthy: return "healthy";
    case JournalState::unhealthy: return "unhealthy";
  }
  return "unhealthy";
}

void wipe(std::string& text) noexcept {
  std::fill(text.begin(), text.end(), '\0');
  text.clear();
}

}  // namespace

// The quantile of a histogram with `bounds` (ns), interpolated inside its
// bucket; -1 when it is empty.
template <std::size_t N>
double histogram_quantile(const std::array<std::int64_t, N>& bounds, const std::array<std::uint64_t, N + 1>& buckets,
                          double quantile) noexcept {
  std::uint64_t total = 0;
  for (const std::uint64_t count : buckets) total += count;
  if (total == 0) return -1;
  const double rank = quantile * static_cast<double>(total);
  double seen = 0;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    const auto count = static_cast<double>(buckets[i]);
    if (count > 0 && seen + count >= rank) {
      const double lower = i == 0 ? 0.0 : static_cast<double>(bounds[i - 1]);
      // Above the last bound: say the last bound (a lower limit).
      if (i == N) return lower;
      const auto upper = static_cast<double>(bounds[i]);
      return lower + (upper - lower) * ((rank - seen) / count);
    }
    seen += count;
  }
  return static_cast<double>(bounds.back());
}

double histogram_quantile(const std::array<std::uint64_t, kGuardLatencyBoundsNs.size() + 1>& buckets,
                          double quantile) noexcept {
  return histogram_quantile(kGuardLatencyBoundsNs, buckets, quantile);
}

// The order requests of every broker with a transport, in one histogram.
std::array<std::uint64_t, kBrokerLatencyBoundsNs.size() + 1> broker_order_buckets(const Gateway& gateway) {
  std::array<std::uint64_t, kBrokerLatencyBoundsNs.size() + 1> sum{};
  for (const Gateway::BrokerTransport& transport : gateway.broker_transports()) {
    for (const BrokerTransportStats::Requests& requests : transport.stats.requests) {
      if (requests.kind != "order") continue;
      for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += requests.buckets[i];
    }
  }
  return sum;
}

Console::Console(ConsoleContext context, std::vector<PrincipalAuth> auth)
    : context_(std::move(context)), auth_(std::move(auth)) {}

Console::~Console() {
  for (auto& [key, session] : sessions_) session->session.close();
}

bool Console::serves(std::string_view path) noexcept {
  return path == "/" || path == "/console.js" || path == "/console.css" || path == "/login" || path == "/logout" ||
         path.rfind("/api/", 0) == 0;
}

void Console::set_auth(std::vector<PrincipalAuth> auth) {
  const std::lock_guard lock(auth_mutex_);
  auth_ = std::move(auth);
}

void Console::record_execution(const ExecutionReport& report, std::string_view principal) {
  const std::lock_guard lock(executions_mutex_);
  executions_.push_back({report, std::string(principal)});
  while (executions_.size() > kRecentExecutions) executions_.pop_front();
}

void Console::sample() {
  prune_sessions();  // expired, revoked or disabled: their gateway sessions close now
  const GatewayMetrics metrics = context_.gateway.metrics();
  if (!have_last_buckets_) {
    last_buckets_ = metrics.guard_latency_buckets;
    have_last_buckets_ = true;
  }
  std::array<std::uint64_t, kGuardLatencyBoundsNs.size() + 1> interval{};
  for (std::size_t i = 0; i < interval.size(); ++i) {
    interval[i] = metrics.guard_latency_buckets[i] - std::min(metrics.guard_latency_buckets[i], last_buckets_[i]);
  }
  last_buckets_ = metrics.guard_latency_buckets;
  LatencyPoint point;
  point.time_ms = context_.clock.wall_ns() / 1'000'000;
  point.guard_p50_ns = histogram_quantile(interval, 0.50);
  point.guard_p99_ns = histogram_quantile(interval, 0.99);
  const auto broker = broker_order_buckets(context_.gateway);
  std::array<std::uint64_t, kBrokerLatencyBoundsNs.size() + 1> broker_interval{};
  for (std::size_t i = 0; i < broker.size(); ++i) {
    broker_interval[i] = broker[i] - std::min(broker[i], last_broker_buckets_[i]);
  }
  last_broker_buckets_ = broker;
  point.broker_p50_ns = histogram_quantile(kBrokerLatencyBoundsNs, broker_interval, 0.50);
  point.broker_p99_ns = histogram_quantile(kBrokerLatencyBoundsNs, broker_interval, 0.99);
  latency_.push_back(point);
  while (latency_.size() > kLatencyPoints) latency_.pop_front();
}

HttpResponse Console::handle(const HttpRequest& request) {
  const bool post = request.method == HttpRequest::Method::post;
  const std::string_view path = request.path;
  if (!post) {
    if (path == "/") return HttpResponse{200, "text/html; charset=utf-8", std::string(console_assets::kIndexHtml), {}, {}, {}};
    if (path == "/console.js") {
      return HttpResponse{200, "text/javascript; charset=utf-8", std::string(console_assets::kConsoleJs), {}, {}, {}};
    }
    if (path == "/console.css") {
      return HttpResponse{200, "text/css; charset=utf-8", std::string(console_assets::kConsoleCss), {}, {}, {}};
    }
    if (path == "/api/state") return state(request);
    if (path == "/api/events") return events(request);
    if (path == "/login" || path == "/logout" || path.rfind("/api/", 0) == 0) {
      HttpResponse refusal = json_error(405, "METHOD_NOT_ALLOWED", "use POST");
      refusal.headers.emplace_back("Allow", "POST");
      return refusal;
    }
    return json_error(404, "NOT_FOUND", "no such page");
  }
  if (path == "/login") return login(request);
  if (path == "/logout") return logout(request);
  if (path == "/api/state" || path == "/api/events") {
    HttpResponse refusal = json_error(405, "METHOD_NOT_ALLOWED", "use GET");
    refusal.headers.emplace_back("Allow", "GET");
    return refusal;
  }
  if (path.rfind("/api/", 0) == 0) return action(request);
  return json_error(404, "NOT_FOUND", "no such page");
}

// ---- sessions ----------------------------------------------------------------

Console::ConsoleSession* Console::find_session(const HttpRequest& request, HttpResponse& refusal) {
  const std::optional<std::string> id = cookie_value(request.cookie, kCookieName);
  if (!id || id->empty()) {
    refusal = json_error(401, "UNAUTHENTICATED", "log in first");
    return nullptr;
  }
  const std::string key = security::to_hex(security::sha256(*id));
  const auto found = sessions_.find(key);
  if (found == sessions_.end()) {
    refusal = json_error(401, "UNAUTHENTICATED", "this session is not known (ended, expired or the gateway restarted): log in again");
    return nullptr;
  }
  const Reason status = found->second->session.status();
  if (status != Reason::OK) {
    const bool expired = status == Reason::SESSION_EXPIRED;
    end_session(key);
    refusal = expired ? json_error(401, "SESSION_EXPIRED", "the session expired: log in again")
                      : json_error(401, "UNAUTHENTICATED", "the session was ended (revoked or disabled): log in again");
    return nullptr;
  }
  return found->second.get();
}

void Console::end_session(const std::string& key) {
  const auto found = sessions_.find(key);
  if (found == sessions_.end()) return;
  found->second->session.close();
  sessions_.erase(found);
}

void Console::prune_sessions() {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second->session.status() != Reason::OK) {
      it->second->session.close();
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
}

HttpResponse Console::login(const HttpRequest& request) {
  if (!request.query.empty()) {
    return json_error(400, "TOKEN_IN_URL", "send the token in the request body of a POST form, never in the URL");
  }
  if (!same_origin(request)) return json_error(403, "BAD_ORIGIN", "this request does not come from the console's own page");
  if (!media_type_is(request.content_type, "application/x-www-form-urlencoded")) {
    return json_error(415, "UNSUPPORTED_MEDIA_TYPE",
                      "send the login as a form (application/x-www-form-urlencoded) with the field 'token'");
  }
  std::optional<std::string> token = form_field(request.body, "token");
  if (!token || token->empty()) {
    if (token) wipe(*token);
    return json_error(400, "MISSING_TOKEN", "the form needs exactly one non-empty field 'token'");
  }
  Gateway& gateway = context_.gateway;
  // As hello: compare against every principal so timing does not tell which matched.
  const std::optional<security::Sha256Digest> presented = security::try_sha256(*token);
  wipe(*token);
  std::string name;
  {
    const std::lock_guard lock(auth_mutex_);
    for (const PrincipalAuth& auth : auth_) {
      if (presented && auth.has_token && security::digest_equal(*presented, auth.token_sha256)) name = auth.name;
    }
  }
  PrincipalId principal = 0;
  bool known = false;
  if (!name.empty()) {
    if (const std::optional<PrincipalId> found = gateway.find_principal(name)) {
      principal = *found;
      known = true;
    }
  }
  const std::int64_t now = context_.clock.monotonic_ns();
  if (!known || !gateway.principal_enabled(principal)) {
    // Failed logins per client address: within the budget each is logged
    // and audited, past it they are answered 429 and summed up.
    const std::string peer(request.peer);
    if (throttle_.size() >= kMaxThrottleEntries) {
      std::erase_if(throttle_, [&](const auto& entry) {
        return entry.second.throttled_unreported == 0 && entry.second.cell.tat.load(std::memory_order_relaxed) <= now;
      });
    }
    ThrottleCell& cell = throttle_[peer];
    AuditEvent event;
    event.type = AuditEventType::hello_refused;
    event.time_ns = context_.clock.wall_ns();
    if (const std::int64_t wait = guards::gcra_consume(cell.cell, context_.login_budget, now); wait > 0) {
      ++cell.throttled_unreported;
      if (!cell.summarized || now - cell.last_summary_ns >= context_.login_window_ns) {
        const std::string count = std::to_string(cell.throttled_unreported);
        context_.log.line("warn", "console_login_throttled", "peer=" + peer + " count=" + count);
        event.reason = Reason::RATE_LIMITED;
        event.detail.assign("console: throttled " + count);
        if (context_.audit != nullptr) context_.audit->record(event);
        cell.throttled_unreported = 0;
        cell.last_summary_ns = now;
        cell.summarized = true;
      }
      HttpResponse refusal = json_error(429, "RATE_LIMITED", "too many failed logins from this address: wait and try again");
      refusal.headers.emplace_back("Retry-After", std::to_string((wait + kNanosPerSecond - 1) / kNanosPerSecond));
      return refusal;
    }
    context_.log.line("warn", "console_login_refused", "peer=" + peer);
    event.reason = Reason::UNAUTHENTICATED;
    event.detail.assign("console: bad token");
    if (context_.audit != nullptr) context_.audit->record(event);
    return json_error(401, "UNAUTHENTICATED", "wrong token, or the principal is disabled");
  }
  if (!gateway.has_permission(principal, guards::Permission::read) &&
      !gateway.has_permission(principal, guards::Permission::admin)) {
    context_.log.line("warn", "console_login_refused", "principal=" + name + " why=no_read_or_admin");
    return json_error(403, "PERMISSION_DENIED", "this principal holds neither 'read' nor 'admin': it cannot use the console");
  }
  prune_sessions();
  if (sessions_.size() >= context_.max_sessions) {
    return json_error(503, "TOO_MANY_SESSIONS", "the console holds its maximum of sessions: log out elsewhere or wait");
  }
  auto console_session = std::make_unique<ConsoleSession>();
  try {
    console_session->session = gateway.open_session(name);
  } catch (const std::invalid_argument&) {
    return json_error(503, "NO_SESSION", "the gateway cannot open a session for this principal now");
  }
  std::string id_text = random_text();
  console_session->principal = name;
  console_session->principal_id = principal;
  console_session->csrf = random_text();
  console_session->csrf_digest = security::sha256(console_session->csrf);
  const std::int64_t remaining_s =
      std::max<std::int64_t>((console_session->session.expires_at_ns() - now) / kNanosPerSecond, 1);
  AuditEvent event;
  event.type = AuditEventType::hello_accepted;
  event.reason = Reason::OK;
  event.principal_id = principal;
  event.session_id = console_session->session.id();
  event.detail.assign("console");
  event.time_ns = context_.clock.wall_ns();
  if (context_.audit != nullptr) context_.audit->record(event);
  context_.log.line("info", "console_login", "principal=" + name + " peer=" + std::string(request.peer));
  std::string cookie = std::string(kCookieName) + "=" + id_text + "; Path=/; Max-Age=" + std::to_string(remaining_s) +
                       "; HttpOnly; SameSite=Strict";
  if (context_.https) cookie += "; Secure";
  std::string body;
  protocol::JsonWriter json(body);
  json.begin().string("principal", name).string("csrf", console_session->csrf).integer("expires_in", remaining_s).end();
  sessions_.emplace(security::to_hex(security::sha256(id_text)), std::move(console_session));
  wipe(id_text);
  HttpResponse response = json_response(200, std::move(body));
  response.headers.emplace_back("Set-Cookie", std::move(cookie));
  wipe(cookie);
  return response;
}

HttpResponse Console::logout(const HttpRequest& request) {
  if (!same_origin(request)) return json_error(403, "BAD_ORIGIN", "this request does not come from the console's own page");
  if (const std::optional<std::string> id = cookie_value(request.cookie, kCookieName); id && !id->empty()) {
    const std::string key = security::to_hex(security::sha256(*id));
    if (const auto found = sessions_.find(key); found != sessions_.end()) {
      context_.log.line("info", "console_logout", "principal=" + found->second->principal);
      end_session(key);
    }
  }
  std::string cookie = std::string(kCookieName) + "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict";
  if (context_.https) cookie += "; Secure";
  HttpResponse response = json_response(200, "{\"logged_out\":true}\n");
  response.headers.emplace_back("Set-Cookie", std::move(cookie));
  return response;
}

// ---- reading -------------------------------------------------------------------

std::string Console::state_json(std::string_view principal, std::string_view csrf, std::int64_t expires_in_s) {
  const Gateway& gateway = context_.gateway;
  const GatewayMetrics metrics = gateway.metrics();
  const ProcessMetrics process = context_.process ? context_.process() : ProcessMetrics{};
  const std::optional<PrincipalId> self = gateway.find_principal(principal);
  const bool admin = self && gateway.has_permission(*self, guards::Permission::admin);
  std::string out;
  protocol::JsonWriter json(out);
  json.begin().string("principal", principal).boolean("admin", admin).string("csrf", csrf).integer("expires_in", expires_in_s);
  json.integer("time_ms", context_.clock.wall_ns() / 1'000'000);
  json.boolean("ready", gateway.ready());

  json.array_begin("trading_states");
  json.element_begin().string("scope", "global").string("state", state_name(metrics.global_state)).element_end();
  for (std::size_t account = 0; account < metrics.account_states.size() && account < gateway.accounts().size(); ++account) {
    json.element_begin()
        .string("scope", "account:" + std::string(gateway.accounts()[static_cast<AccountId>(account)].name.view()))
        .string("state", state_name(metrics.account_states[account]))
        .element_end();
  }
  std::vector<std::string> principals;
  for (std::size_t id = 0; id < metrics.principal_states.size(); ++id) {
    if (id < metrics.principal_removed.size() && metrics.principal_removed[id]) continue;
    const std::string name(gateway.principal_name(static_cast<PrincipalId>(id)));
    if (name.empty()) continue;
    principals.push_back(name);
    json.element_begin().string("scope", "principal:" + name).string("state", state_name(metrics.principal_states[id])).element_end();
  }
  json.array_end();

  json.array_begin("principals");
  for (const std::string& name : principals) {
    const std::optional<PrincipalId> id = gateway.find_principal(name);
    if (!id) continue;
    const std::uint32_t sessions = *id < metrics.sessions_by_principal.size() ? metrics.sessions_by_principal[*id] : 0;
    json.element_begin()
        .string("name", name)
        .boolean("enabled", gateway.principal_enabled(*id))
        .boolean("admin", gateway.has_permission(*id, guards::Permission::admin))
        .integer("sessions", sessions)
        .element_end();
  }
  json.array_end();

  json.array_begin("accounts");
  for (const Account& account : gateway.accounts().all()) {
    const bool account_ready = account.id < metrics.account_ready.size() && metrics.account_ready[account.id];
    const std::string_view broker = account.id < metrics.account_broker.size() &&
                                            metrics.account_broker[account.id] < metrics.broker_names.size()
                                        ? metrics.broker_names[metrics.account_broker[account.id]]
                                        : std::string_view{};
    json.element_begin().string("name", account.name.view()).string("broker", broker).boolean("ready", account_ready);
    json.array_begin("positions");
    for (const Instrument& instrument : gateway.instruments().all()) {
      const auto exposure = gateway.exposure(account.name.view(), instrument.name.view());
      if (exposure.position.is_zero() && exposure.open_orders == 0 && exposure.working_buy.is_zero() &&
          exposure.working_sell.is_zero()) {
        continue;
      }
      json.element_begin()
          .string("symbol", instrument.name.view())
          .decimal("position", exposure.position)
          .decimal("working_buy", exposure.working_buy)
          .decimal("working_sell", exposure.working_sell)
          .integer("open_orders", exposure.open_orders)
          .element_end();
    }
    json.array_end().element_end();
  }
  json.array_end();

  json.array_begin("open_orders");
  std::size_t open_orders_count = 0;
  for (const std::string& name : principals) {
    std::vector<OpenOrder> orders;
    try {
      orders = gateway.open_orders(name);
    } catch (const std::invalid_argument&) {
      continue;  // removed by a reload meanwhile
    }
    for (const OpenOrder& open : orders) {
      if (open_orders_count++ >= kMaxOpenOrdersListed) continue;
      const Order& order = open.order;
      json.element_begin()
          .string("principal", name)
          .string("cl_ord_id", order.client_order_id.view())
          .string("account", gateway.accounts()[order.account_id].name.view())
          .string("symbol", gateway.instruments()[order.instrument_id].name.view())
          .string("side", to_string(order.side))
          .string("type", to_string(order.type))
          .decimal("qty", order.quantity)
          .decimal("leaves_qty", open.leaves_quantity);
      if (!order.price.is_zero()) json.decimal("price", order.price);
      json.element_end();
    }
  }
  json.array_end();
  json.integer("open_orders_count", static_cast<std::int64_t>(open_orders_count));

  json.array_begin("executions");
  {
    const std::lock_guard lock(executions_mutex_);
    for (auto it = executions_.rbegin(); it != executions_.rend(); ++it) {
      const ExecutionReport& report = it->report;
      json.element_begin()
          .integer("time_ms", report.transact_time_ns / 1'000'000)
          .string("principal", it->principal)
          .string("account", report.account_id < gateway.accounts().size()
                                 ? gateway.accounts()[report.account_id].name.view()
                                 : std::string_view{})
          .string("symbol", report.instrument_id < gateway.instruments().size()
                                ? gateway.instruments()[report.instrument_id].name.view()
                                : std::string_view{})
          .string("cl_ord_id", report.client_order_id.view())
          .string("side", to_string(report.side))
          .string("status", to_string(report.status))
          .decimal("last_qty", report.last_quantity)
          .decimal("last_price", report.last_price)
          .decimal("leaves_qty", report.leaves_quantity)
          .element_end();
    }
  }
  json.array_end();

  // Rejections by reason, orders and cancels together, every principal.
  std::vector<std::pair<Reason, std::uint64_t>> rejections;
  std::uint64_t accepted = 0;
  for (const auto* decisions : {&metrics.orders, &metrics.cancels}) {
    for (const GatewayMetrics::Decision& decision : *decisions) {
      if (decision.reason == Reason::OK) {
        if (decisions == &metrics.orders) accepted += decision.count;
        continue;
      }
      const auto found = std::find_if(rejections.begin(), rejections.end(),
                                      [&](const auto& entry) { return entry.first == decision.reason; });
      if (found == rejections.end()) {
        rejections.emplace_back(decision.reason, decision.count);
      } else {
        found->second += decision.count;
      }
    }
  }
  std::sort(rejections.begin(), rejections.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  json.integer("orders_accepted", static_cast<std::int64_t>(accepted));
  json.array_begin("rejections");
  for (const auto& [reason, count] : rejections) {
    json.element_begin().string("reason", reason_name(reason)).integer("count", static_cast<std::int64_t>(count)).element_end();
  }
  json.array_end();

  json.array_begin("latency");
  for (const LatencyPoint& point : latency_) {
    json.element_begin().integer("time_ms", point.time_ms);
    json.integer("guard_p50_ns", static_cast<std::int64_t>(point.guard_p50_ns));
    json.integer("guard_p99_ns", static_cast<std::int64_t>(point.guard_p99_ns));
    json.integer("broker_p50_ns", static_cast<std::int64_t>(point.broker_p50_ns));
    json.integer("broker_p99_ns", static_cast<std::int64_t>(point.broker_p99_ns));
    json.element_end();
  }
  json.array_end();
  json.integer("latency_sample", metrics.latency_sample);
  json.integer("guard_p50_ns", static_cast<std::int64_t>(histogram_quantile(metrics.guard_latency_buckets, 0.50)));
  json.integer("guard_p99_ns", static_cast<std::int64_t>(histogram_quantile(metrics.guard_latency_buckets, 0.99)));
  const auto broker_orders = broker_order_buckets(gateway);
  json.integer("broker_p50_ns",
               static_cast<std::int64_t>(histogram_quantile(kBrokerLatencyBoundsNs, broker_orders, 0.50)));
  json.integer("broker_p99_ns",
               static_cast<std::int64_t>(histogram_quantile(kBrokerLatencyBoundsNs, broker_orders, 0.99)));

  json.array_begin("brokers");
  for (const Gateway::BrokerStatus& broker : gateway.brokers()) {
    json.element_begin()
        .string("name", broker.name)
        .boolean("connected", broker.connected)
        .boolean("accounts_ready", broker.accounts_ready)
        .element_end();
  }
  json.array_end();

  json.key("journal");
  std::string journal;
  protocol::JsonWriter journal_json(journal);
  journal_json.begin()
      .string("state", journal_name(process.journal))
      .integer("records_written", static_cast<std::int64_t>(process.audit_records_written))
      .integer("records_dropped", static_cast<std::int64_t>(process.audit_records_dropped));
  journal += '}';
  out += journal;

  if (context_.cluster != nullptr) {
    // This member as it knows itself, and its leases of the shared budgets.
    const cluster::Member::Health health = context_.cluster->health();
    json.key("cluster");
    std::string member;
    protocol::JsonWriter member_json(member);
    member_json.begin()
        .string("name", context_.cluster->name())
        .boolean("connected", health.connected)
        .integer("version", static_cast<std::int64_t>(health.version))
        .string("floor", state_name(health.floor));
    member_json.array_begin("leases");
    for (const Gateway::BudgetLease& lease : gateway.budget_leases()) {
      member_json.element_begin()
          .string("account", lease.account_name)
          .string("principal", lease.principal_name)
          .integer("count", lease.rate.count)
          .integer("period_ms", lease.rate.period_ns / 1'000'000)
          .integer("tokens", lease.tokens)
          .element_end();
    }
    member_json.array_end();
    // Its parts of the shared exposure limits (amounts as exact decimals).
    member_json.array_begin("exposure");
    for (const Gateway::ExposureLease& lease : gateway.exposure_leases()) {
      member_json.element_begin()
          .string("account", lease.account_name)
          .string("limit", exposure_limit_name(lease.limit))
          .string("instrument", lease.symbol)
          .string("lease", lease.lease.to_string())
          .string("total", lease.total.to_string());
      if (lease.valued) member_json.string("used", lease.used.to_string());
      member_json.element_end();
    }
    member_json.array_end();
    member += '}';
    out += member;
  }

  std::uint64_t sessions = 0;
  for (const std::uint32_t count : metrics.sessions_by_principal) sessions += count;
  json.integer("sessions", static_cast<std::int64_t>(sessions))
      .integer("connections", static_cast<std::int64_t>(process.connections_open))
      .integer("console_sessions", static_cast<std::int64_t>(sessions_.size()));
  json.end();
  return out;
}

HttpResponse Console::state(const HttpRequest& request) {
  HttpResponse refusal;
  ConsoleSession* session = find_session(request, refusal);
  if (session == nullptr) return refusal;
  const std::int64_t remaining = (session->session.expires_at_ns() - context_.clock.monotonic_ns()) / kNanosPerSecond;
  return json_response(200, state_json(session->principal, session->csrf, remaining));
}

HttpResponse Console::events(const HttpRequest& request) {
  HttpResponse refusal;
  const ConsoleSession* session = find_session(request, refusal);
  if (session == nullptr) return refusal;
  HttpResponse response;
  response.content_type = "text/event-stream";
  // The stream looks its session up again for every event: a logout,
  // revocation or expiry ends it.
  std::string key = security::to_hex(security::sha256(*cookie_value(request.cookie, kCookieName)));
  response.stream = [this, key = std::move(key)](std::string& data) {
    const auto found = sessions_.find(key);
    if (found == sessions_.end() || found->second->session.status() != Reason::OK) return false;
    const ConsoleSession& current = *found->second;
    const std::int64_t remaining = (current.session.expires_at_ns() - context_.clock.monotonic_ns()) / kNanosPerSecond;
    data = state_json(current.principal, current.csrf, remaining);
    while (!data.empty() && data.back() == '\n') data.pop_back();
    return true;
  };
  response.stream_interval = std::chrono::milliseconds(500);  // at most 2 updates a second
  return response;
}

// ---- acting ----------------------------------------------------------------------

HttpResponse Console::action(const HttpRequest& request) {
  if (!same_origin(request)) return json_error(403, "BAD_ORIGIN", "this request does not come from the console's own page");
  HttpResponse refusal;
  ConsoleSession* session = find_session(request, refusal);
  if (session == nullptr) return refusal;
  if (request.csrf_token.empty()) {
    return json_error(403, "CSRF_TOKEN_MISSING", "send the header X-CSRF-Token with the token /api/state gives");
  }
  const std::optional<security::Sha256Digest> presented = security::try_sha256(request.csrf_token);
  if (!presented || !security::digest_equal(*presented, session->csrf_digest)) {
    return json_error(403, "CSRF_TOKEN_INVALID", "the X-CSRF-Token header does not match this session's token");
  }
  if (!context_.gateway.has_permission(session->principal_id, guards::Permission::admin)) {
    context_.log.line("warn", "console_action_refused", "principal=" + session->principal + " why=no_admin");
    return json_error(403, "PERMISSION_DENIED", "this principal does not hold 'admin'");
  }
  const std::string_view path = request.path;
  if (path == "/api/trading-state" || path == "/api/cancel-all") {
    if (!media_type_is(request.content_type, "application/json")) {
      return json_error(415, "UNSUPPORTED_MEDIA_TYPE", "send a JSON body (Content-Type: application/json)");
    }
    return path == "/api/trading-state" ? set_trading_state(*session, request.body) : cancel_all(*session, request.body);
  }
  constexpr std::string_view kPrincipals = "/api/principals/";
  if (path.rfind(kPrincipals, 0) == 0) {
    const std::string_view rest = path.substr(kPrincipals.size());
    const std::size_t slash = rest.find('/');
    if (slash != std::string_view::npos && slash > 0) {
      return principal_action(*session, rest.substr(0, slash), rest.substr(slash + 1));
    }
  }
  return json_error(404, "NOT_FOUND", "no such action");
}

namespace {

// The state change and its bookkeeping, as the socket's admin op does it;
// refusals as JSON errors. `apply` throws what the gateway throws.
template <class Apply>
HttpResponse run_admin(Log& log, std::string_view op, const std::string& by, Apply&& apply) {
  try {
    apply();
  } catch (const std::invalid_argument&) {
    return json_error(400, "INVALID_FIELD", "unknown account or principal");
  } catch (const ControlStateError& error) {
    log.line("error", "state_not_saved", "op=" + std::string(op) + " by=" + by + " error=\"" + error.what() + "\"");
    return json_error(500, "STATE_NOT_SAVED",
                      error.applied() ? "in effect, but not saved: a restart would undo it (see the log)"
                                      : "not applied: it could not be saved (see the log)");
  }
  std::string body;
  protocol::JsonWriter json(body);
  json.begin().string("result", "ok").string("op", op).end();
  return json_response(200, std::move(body));
}

}  // namespace

HttpResponse Console::set_trading_state(ConsoleSession& session, std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(body.data(), body.size()).get(object) != simdjson::SUCCESS) {
    return json_error(400, "INVALID_JSON", "the body must be one JSON object");
  }
  std::string scope_text;
  std::string state_text;
  bool cancel = false;
  bool has_scope = false;
  bool has_state = false;
  for (const auto field : object) {
    const std::string_view key = field.key;
    std::string_view text;
    if (key == "scope") {
      if (field.value.get_string().get(text) != simdjson::SUCCESS) {
        return json_error(400, "INVALID_FIELD", "field 'scope' must be a string");
      }
      scope_text = text;
      has_scope = true;
    } else if (key == "state") {
      if (field.value.get_string().get(text) != simdjson::SUCCESS) {
        return json_error(400, "INVALID_FIELD", "field 'state' must be a string");
      }
      state_text = text;
      has_state = true;
    } else if (key == "cancel_orders") {
      if (field.value.get_bool().get(cancel) != simdjson::SUCCESS) {
        return json_error(400, "INVALID_FIELD", "field 'cancel_orders' must be true or false");
      }
    } else {
      return json_error(400, "UNKNOWN_FIELD", "unknown field '" + std::string(key.substr(0, 32)) +
                                                  "'; the fields are scope, state and cancel_orders");
    }
  }
  if (!has_scope || !has_state) return json_error(400, "MISSING_FIELD", "the fields 'scope' and 'state' are required");
  const std::optional<TradingScope> scope = protocol::to_trading_scope(scope_text);
  if (!scope) return json_error(400, "INVALID_FIELD", "field 'scope' must be global, account:<name> or principal:<name>");
  guards::TradingState state = guards::TradingState::active;
  std::string_view op = "resume";
  if (state_text == "halted") {
    state = guards::TradingState::halted;
    op = "halt";
  } else if (state_text == "reducing") {
    state = guards::TradingState::reducing;
    op = "reduce";
  } else if (state_text != "active") {
    return json_error(400, "INVALID_FIELD", "field 'state' must be active, reducing or halted");
  }
  HttpResponse response = run_admin(context_.log, op, session.principal, [&] {
    if (context_.cluster != nullptr) {
      context_.cluster->set_trading_state(*scope, state, cancel, session.principal);
    } else {
      context_.gateway.set_trading_state(*scope, state, cancel, session.principal);
    }
  });
  if (response.status == 200 || (response.status == 500 && response.body.find("in effect") != std::string::npos)) {
    context_.log.line("warn", "trading_state", "op=" + std::string(op) + " by=" + session.principal + " via=console");
    if (context_.trading_state_changed) context_.trading_state_changed(scope_text, state, session.principal);
  }
  return response;
}

HttpResponse Console::cancel_all(ConsoleSession& session, std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(body.data(), body.size()).get(object) != simdjson::SUCCESS) {
    return json_error(400, "INVALID_JSON", "the body must be one JSON object");
  }
  std::string account_name;
  bool has_account = false;
  for (const auto field : object) {
    const std::string_view key = field.key;
    if (key != "account") {
      return json_error(400, "UNKNOWN_FIELD", "unknown field '" + std::string(key.substr(0, 32)) + "'; the field is account");
    }
    std::string_view text;
    if (field.value.get_string().get(text) != simdjson::SUCCESS) {
      return json_error(400, "INVALID_FIELD", "field 'account' must be a string");
    }
    account_name = text;
    has_account = true;
  }
  if (!has_account) return json_error(400, "MISSING_FIELD", "the field 'account' is required");
  const Account* account = context_.gateway.accounts().find(account_name);
  if (account == nullptr) return json_error(400, "UNKNOWN_ACCOUNT", "no such account");
  CancelFilter filter;
  filter.account = account->id;
  const std::size_t count = context_.gateway.cancel_orders(filter);
  context_.log.line("warn", "cancel_all",
                    "account=" + account_name + " count=" + std::to_string(count) + " by=" + session.principal + " via=console");
  std::string out;
  protocol::JsonWriter json(out);
  json.begin().string("result", "ok").string("op", "cancel_all").integer("count", static_cast<std::int64_t>(count)).end();
  return json_response(200, std::move(out));
}

HttpResponse Console::principal_action(ConsoleSession& session, std::string_view name, std::string_view verb) {
  Gateway& gateway = context_.gateway;
  if (!gateway.find_principal(name)) return json_error(404, "UNKNOWN_PRINCIPAL", "no such principal");
  const std::string target(name);
  HttpResponse response;
  if (verb == "revoke") {
    response = run_admin(context_.log, "revoke_sessions", session.principal,
                         [&] { gateway.revoke_sessions(target, session.principal); });
  } else if (verb == "disable") {
    response = run_admin(context_.log, "disable_principal", session.principal, [&] {
      try {
        if (context_.cluster != nullptr) {
          context_.cluster->set_principal_enabled(target, false, session.principal);
        } else {
          gateway.set_principal_enabled(target, false, session.principal);
        }
      } catch (const ControlStateError&) {
        gateway.revoke_sessions(target, session.principal);  // disabled in effect: its sessions end all the same
        throw;
      }
      gateway.revoke_sessions(target, session.principal);
    });
  } else if (verb == "enable") {
    response = run_admin(context_.log, "enable_principal", session.principal,
                         [&] {
                           if (context_.cluster != nullptr) {
                             context_.cluster->set_principal_enabled(target, true, session.principal);
                           } else {
                             gateway.set_principal_enabled(target, true, session.principal);
                           }
                         });
  } else {
    return json_error(404, "NOT_FOUND", "the principal actions are revoke, disable and enable");
  }
  if (response.status == 200) {
    context_.log.line("warn", "principal_" + std::string(verb), "principal=" + target + " by=" + session.principal + " via=console");
  }
  return response;
}

}  // namespace ordergate::server_detail
