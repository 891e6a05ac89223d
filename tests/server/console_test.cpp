#include "console.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "ordergate/security/crypto.hpp"
#include "ordergate/security/token.hpp"
#include "ordergate/server/config_file.hpp"
#include "server/http_test_support.hpp"

namespace ordergate::server_detail {
namespace {

using testing::body_of;
using testing::http_exchange;
using testing::status_of;

// Audit records as the journal would get them.
class RecordingAudit final : public AuditSink {
 public:
  std::uint64_t record(const AuditEvent& event) noexcept override {
    const std::lock_guard lock(mutex_);
    events_.push_back(event);
    return events_.size();
  }
  std::vector<AuditEvent> events() {
    const std::lock_guard lock(mutex_);
    return events_;
  }

 private:
  std::mutex mutex_;
  std::vector<AuditEvent> events_;
};

std::string config_text(const std::string& admin_hash, const std::string& reader_hash, const std::string& trader_hash) {
  return R"(
[[instruments]]
name = "EUR/USD"
tick_size = "0.00001"
lot_step = 1
min_quantity = "1"
max_quantity = "50000000"
max_order_quantity = "1000000"
max_notional = "1000000"
max_position = "5000000"
price_band_bps = 100
max_open_orders = 100
max_quote_age = "1h"
[[accounts]]
name = "paper"
broker = "paper"
[paper]
quotes = [ { symbol = "EUR/USD", bid = "1.08460", ask = "1.08463" } ]
[[principals]]
name = "ops"
token_sha256 = ")" + admin_hash + R"("
permissions = ["admin", "read"]
accounts = ["*"]
symbols = ["*"]
rate_limits = ["20/1s"]
session_ttl = "10m"
[[principals]]
name = "viewer"
token_sha256 = ")" + reader_hash + R"("
permissions = ["read"]
accounts = ["*"]
symbols = ["*"]
rate_limits = ["20/1s"]
[[principals]]
name = "bot"
token_sha256 = ")" + trader_hash + R"("
permissions = ["trade"]
accounts = ["paper"]
symbols = ["*"]
rate_limits = ["20/1s"]
)";
}

std::string hash_of(const std::string& token) { return security::to_hex(security::sha256(token)); }

std::string new_token() { return std::string(security::generate_token().reveal()); }

// The value of a response header field, or "".
std::string header_of(const std::string& response, const std::string& name) {
  const std::string key = "\r\n" + name + ": ";
  const auto at = response.find(key);
  if (at == std::string::npos) return {};
  const auto start = at + key.size();
  return response.substr(start, response.find("\r\n", start) - start);
}

// A string field of a flat JSON answer.
std::string json_field(const std::string& body, const std::string& name) {
  const std::string key = "\"" + name + "\":\"";
  const auto at = body.find(key);
  if (at == std::string::npos) return {};
  const auto start = at + key.size();
  return body.substr(start, body.find('"', start) - start);
}

class ConsoleTest : public ::testing::Test {
 protected:
  ConsoleTest()
      : admin_token_(new_token()),
        reader_token_(new_token()),
        trader_token_(new_token()),
        config_(parse_config_text(config_text(hash_of(admin_token_), hash_of(reader_token_), hash_of(trader_token_)),
                                  "console-test.toml")),
        gateway_(config_.gateway, clock_, &audit_),
        log_(log_text_, clock_) {
    gateway_.start();
    guards::RateWindow window;
    std::string error;
    EXPECT_TRUE(guards::parse_rate_window("3/1m", window, error));
    ConsoleContext context{gateway_, clock_, log_, &audit_, guards::GcraParams::from(window), window.period_ns,
                           [] { return ProcessMetrics{}; },
                           [this](std::string scope, guards::TradingState, std::string by) {
                             const std::lock_guard lock(changes_mutex_);
                             changes_.push_back(scope + " by " + by);
                           },
                           false, 4};
    console_ = std::make_unique<Console>(std::move(context), config_.auth);
    HttpLimits limits;
    limits.max_body_bytes = 4096;
    listener_ = std::make_unique<HttpListener>(
        "127.0.0.1", 0, false, limits, [this](const HttpRequest& request) { return console_->handle(request); },
        [](std::string_view, std::string_view, std::string_view) {});
    listener_->start();
  }
  ~ConsoleTest() override {
    listener_->stop();
    console_.reset();
    gateway_.stop();
  }

  std::string host() const { return "127.0.0.1:" + std::to_string(listener_->port()); }
  std::string origin() const { return "http://" + host(); }

  std::string send(const std::string& method, const std::string& path, const std::string& body,
                   const std::string& extra_headers, const std::string& content_type = "application/json") {
    std::string request = method + " " + path + " HTTP/1.1\r\nHost: " + host() + "\r\nConnection: close\r\n" + extra_headers;
    if (method == "POST") {
      request += "Content-Type: " + content_type + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    }
    return http_exchange(listener_->port(), request + "\r\n" + body);
  }

  struct Login {
    std::string response;
    std::string cookie;  // "ordergate_session=..."
    std::string csrf;
  };
  Login login(const std::string& token, const std::string& extra_headers = "") {
    Login result;
    result.response = send("POST", "/login", "token=" + token, extra_headers, "application/x-www-form-urlencoded");
    const std::string set_cookie = header_of(result.response, "Set-Cookie");
    result.cookie = set_cookie.substr(0, set_cookie.find(';'));
    result.csrf = json_field(body_of(result.response), "csrf");
    return result;
  }

  std::string act(const Login& session, const std::string& path, const std::string& body, bool with_csrf = true,
                  const std::string& origin_header = "") {
    std::string headers = "Cookie: " + session.cookie + "\r\n";
    if (with_csrf) headers += "X-CSRF-Token: " + session.csrf + "\r\n";
    headers += "Origin: " + (origin_header.empty() ? origin() : origin_header) + "\r\n";
    return send("POST", path, body, headers);
  }

  ManualClock clock_;
  RecordingAudit audit_;
  std::string admin_token_;
  std::string reader_token_;
  std::string trader_token_;
  ProcessConfig config_;
  Gateway gateway_;
  std::ostringstream log_text_;
  Log log_;
  std::mutex changes_mutex_;
  std::vector<std::string> changes_;
  std::unique_ptr<Console> console_;
  std::unique_ptr<HttpListener> listener_;
};

TEST_F(ConsoleTest, ServesThePageScriptAndStyleFromTheBinaryWithoutInlineScript) {
  const std::string page = send("GET", "/", "", "");
  EXPECT_EQ(status_of(page), 200);
  EXPECT_EQ(header_of(page, "Content-Type"), "text/html; charset=utf-8");
  const std::string html = body_of(page);
  EXPECT_NE(html.find("<script src=\"/console.js\""), std::string::npos);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_EQ(html.find("style=\""), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(status_of(send("GET", "/console.js", "", "")), 200);
  EXPECT_EQ(header_of(send("GET", "/console.css", "", ""), "Content-Type"), "text/css; charset=utf-8");
}

TEST_F(ConsoleTest, LogsInWithATokenAndSetsAStrictHttpOnlySessionCookieThatExpiresWithTheSession) {
  const Login session = login(admin_token_, "Origin: " + origin() + "\r\n");
  ASSERT_EQ(status_of(session.response), 200) << session.response;
  const std::string set_cookie = header_of(session.response, "Set-Cookie");
  EXPECT_NE(set_cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(set_cookie.find("SameSite=Strict"), std::string::npos);
  EXPECT_NE(set_cookie.find("Max-Age=600"), std::string::npos) << set_cookie;  // session_ttl = 10m
  EXPECT_EQ(set_cookie.find("Secure"), std::string::npos);                    // plain HTTP
  EXPECT_EQ(session.cookie.size(), std::string("ordergate_session=").size() + 43);
  EXPECT_EQ(session.csrf.size(), 43U);
  EXPECT_EQ(session.response.find(admin_token_), std::string::npos);
  EXPECT_EQ(log_text_.str().find(admin_token_), std::string::npos);

  const std::string state = send("GET", "/api/state", "", "Cookie: " + session.cookie + "\r\n");
  ASSERT_EQ(status_of(state), 200) << state;
  EXPECT_EQ(json_field(body_of(state), "principal"), "ops");
  EXPECT_NE(body_of(state).find("\"admin\":true"), std::string::npos);
  EXPECT_EQ(json_field(body_of(state), "csrf"), session.csrf);
  EXPECT_EQ(body_of(state).find(admin_token_), std::string::npos);
  // The paper broker has no transport: its orders are not timed.
  EXPECT_NE(body_of(state).find("\"broker_p50_ns\":-1,\"broker_p99_ns\":-1"), std::string::npos) << body_of(state);

  bool audited = false;
  for (const AuditEvent& event : audit_.events()) {
    if (event.type == AuditEventType::hello_accepted && event.detail.view() == "console") audited = true;
  }
  EXPECT_TRUE(audited);

  clock_.advance(601LL * kNanosPerSecond);
  const std::string expired = send("GET", "/api/state", "", "Cookie: " + session.cookie + "\r\n");
  EXPECT_EQ(status_of(expired), 401);
  EXPECT_EQ(json_field(body_of(expired), "error"), "SESSION_EXPIRED");
}

TEST_F(ConsoleTest, RefusesAWrongTokenAndThrottlesRepeatedFailuresLikeHello) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    const Login wrong = login(new_token());
    EXPECT_EQ(status_of(wrong.response), 401) << wrong.response;
    EXPECT_TRUE(wrong.cookie.empty());
  }
  const Login throttled = login(new_token());
  EXPECT_EQ(status_of(throttled.response), 429);
  EXPECT_FALSE(header_of(throttled.response, "Retry-After").empty());
  // A right token passes whatever the budget says.
  EXPECT_EQ(status_of(login(admin_token_).response), 200);
  int refused = 0;
  for (const AuditEvent& event : audit_.events()) {
    if (event.type == AuditEventType::hello_refused) ++refused;
  }
  EXPECT_EQ(refused, 4);  // three refusals and one summary of the throttled one
}

TEST_F(ConsoleTest, RefusesLoginsWithoutReadOrAdminAndBadLoginRequests) {
  EXPECT_EQ(status_of(login(trader_token_).response), 403);
  EXPECT_EQ(json_field(body_of(send("POST", "/login?token=" + admin_token_, "", "", "application/x-www-form-urlencoded")),
                       "error"),
            "TOKEN_IN_URL");
  EXPECT_EQ(status_of(send("POST", "/login", "{\"token\":\"x\"}", "")), 415);
  EXPECT_EQ(status_of(send("POST", "/login", "user=x", "", "application/x-www-form-urlencoded")), 400);
  EXPECT_EQ(status_of(send("POST", "/login", "token=a&token=b", "", "application/x-www-form-urlencoded")), 400);
  EXPECT_EQ(status_of(send("POST", "/login", "token=%zz", "", "application/x-www-form-urlencoded")), 400);
  EXPECT_EQ(status_of(login(admin_token_, "Origin: http://attacker.example\r\n").response), 403);
  EXPECT_EQ(status_of(send("GET", "/login", "", "")), 405);
  EXPECT_EQ(status_of(send("POST", "/login", std::string(5000, 'a'), "", "application/x-www-form-urlencoded")), 413);
}

TEST_F(ConsoleTest, AnswersWithoutASession401AndNeverRedirects) {
  for (const std::string& path : {std::string("/api/state"), std::string("/api/events")}) {
    const std::string response = send("GET", path, "", "");
    EXPECT_EQ(status_of(response), 401) << path;
    EXPECT_TRUE(header_of(response, "Location").empty());
  }
  const std::string forged = send("GET", "/api/state", "", "Cookie: ordergate_session=forged\r\n");
  EXPECT_EQ(status_of(forged), 401);
  const std::string action =
      send("POST", "/api/trading-state", R"({"scope":"global","state":"halted"})", "Origin: " + origin() + "\r\n");
  EXPECT_EQ(status_of(action), 401);
  EXPECT_EQ(gateway_.trading_state(TradingScope::global()), guards::TradingState::active);
}

TEST_F(ConsoleTest, HaltsAndResumesAnAccountWithSessionAndCsrfTokenAndReportsTheChange) {
  const Login session = login(admin_token_);
  ASSERT_EQ(status_of(session.response), 200);
  const std::string halted = act(session, "/api/trading-state", R"({"scope":"account:paper","state":"halted","cancel_orders":false})");
  ASSERT_EQ(status_of(halted), 200) << halted;
  EXPECT_EQ(gateway_.trading_state(TradingScope::account("paper")), guards::TradingState::halted);
  Session bot = gateway_.open_session("bot");
  OrderRequest order;
  order.account = "paper";
  order.symbol = "EUR/USD";
  order.side = Side::buy;
  order.type = OrderType::market;
  order.time_in_force = TimeInForce::ioc;
  order.quantity = decimal_literal("1000");
  order.client_order_id = "c-1";
  EXPECT_EQ(bot.submit(order).reason, Reason::TRADING_HALTED);
  EXPECT_NE(log_text_.str().find("op=halt by=ops via=console"), std::string::npos) << log_text_.str();
  ASSERT_EQ(status_of(act(session, "/api/trading-state", R"({"scope":"account:paper","state":"active"})")), 200);
  EXPECT_EQ(gateway_.trading_state(TradingScope::account("paper")), guards::TradingState::active);
  const std::lock_guard lock(changes_mutex_);
  EXPECT_EQ(changes_, (std::vector<std::string>{"account:paper by ops", "account:paper by ops"}));
}

TEST_F(ConsoleTest, RefusesActionsWithoutOrWithAWrongCsrfTokenOrOriginAndChangesNothing) {
  const Login session = login(admin_token_);
  const std::string body = R"({"scope":"global","state":"halted"})";
  const std::string missing = act(session, "/api/trading-state", body, false);
  EXPECT_EQ(status_of(missing), 403);
  EXPECT_EQ(json_field(body_of(missing), "error"), "CSRF_TOKEN_MISSING");
  Login forged = session;
  forged.csrf = std::string(43, 'A');
  EXPECT_EQ(json_field(body_of(act(forged, "/api/trading-state", body)), "error"), "CSRF_TOKEN_INVALID");
  EXPECT_EQ(json_field(body_of(act(session, "/api/trading-state", body, true, "http://attacker.example")), "error"),
            "BAD_ORIGIN");
  const std::string cross_site = send("POST", "/api/trading-state", body,
                                      "Cookie: " + session.cookie + "\r\nX-CSRF-Token: " + session.csrf +
                                          "\r\nSec-Fetch-Site: cross-site\r\n");
  EXPECT_EQ(status_of(cross_site), 403);
  EXPECT_EQ(gateway_.trading_state(TradingScope::global()), guards::TradingState::active);
}

TEST_F(ConsoleTest, GivesAReadOnlyPrincipalTheStateButNoAction) {
  const Login session = login(reader_token_);
  ASSERT_EQ(status_of(session.response), 200);
  const std::string state = send("GET", "/api/state", "", "Cookie: " + session.cookie + "\r\n");
  EXPECT_NE(body_of(state).find("\"admin\":false"), std::string::npos);
  const std::string refused = act(session, "/api/trading-state", R"({"scope":"global","state":"halted"})");
  EXPECT_EQ(status_of(refused), 403);
  EXPECT_EQ(json_field(body_of(refused), "error"), "PERMISSION_DENIED");
  EXPECT_EQ(status_of(act(session, "/api/principals/bot/disable", "")), 403);
  EXPECT_EQ(gateway_.trading_state(TradingScope::global()), guards::TradingState::active);
  EXPECT_TRUE(gateway_.principal_enabled(*gateway_.find_principal("bot")));
}

TEST_F(ConsoleTest, AnswersBadActionBodiesWithASpecificErrorAndChangesNothing) {
  const Login session = login(admin_token_);
  const auto error_of = [&](const std::string& path, const std::string& body) {
    const std::string response = act(session, path, body);
    EXPECT_EQ(status_of(response), 400) << body;
    return json_field(body_of(response), "error");
  };
  EXPECT_EQ(error_of("/api/trading-state", "not json"), "INVALID_JSON");
  EXPECT_EQ(error_of("/api/trading-state", "[1]"), "INVALID_JSON");
  EXPECT_EQ(error_of("/api/trading-state", R"({"scope":"global"})"), "MISSING_FIELD");
  EXPECT_EQ(error_of("/api/trading-state", R"({"scope":"global","state":"paused"})"), "INVALID_FIELD");
  EXPECT_EQ(error_of("/api/trading-state", R"({"scope":"galaxy","state":"halted"})"), "INVALID_FIELD");
  EXPECT_EQ(error_of("/api/trading-state", R"({"scope":"account:nope","state":"halted"})"), "INVALID_FIELD");
  EXPECT_EQ(error_of("/api/trading-state", R"({"scope":"global","state":"halted","why":1})"), "UNKNOWN_FIELD");
  EXPECT_EQ(error_of("/api/trading-state", R"({"scope":"global","state":"halted","cancel_orders":"yes"})"),
            "INVALID_FIELD");
  EXPECT_EQ(error_of("/api/cancel-all", R"({"account":"nope"})"), "UNKNOWN_ACCOUNT");
  EXPECT_EQ(error_of("/api/cancel-all", R"({})"), "MISSING_FIELD");
  EXPECT_EQ(status_of(act(session, "/api/principals/nobody/disable", "")), 404);
  EXPECT_EQ(status_of(act(session, "/api/principals/bot/explode", "")), 404);
  EXPECT_EQ(gateway_.trading_state(TradingScope::global()), guards::TradingState::active);
}

TEST_F(ConsoleTest, DisablesRevokesAndEnablesAPrincipalAndCancelsAllOfAnAccount) {
  const Login session = login(admin_token_);
  Session bot = gateway_.open_session("bot");
  ASSERT_EQ(status_of(act(session, "/api/principals/bot/revoke", "")), 200);
  EXPECT_EQ(bot.status(), Reason::UNAUTHENTICATED);
  ASSERT_EQ(status_of(act(session, "/api/principals/bot/disable", "")), 200);
  EXPECT_FALSE(gateway_.principal_enabled(*gateway_.find_principal("bot")));
  ASSERT_EQ(status_of(act(session, "/api/principals/bot/enable", "")), 200);
  EXPECT_TRUE(gateway_.principal_enabled(*gateway_.find_principal("bot")));
  const std::string cancel = act(session, "/api/cancel-all", R"({"account":"paper"})");
  EXPECT_EQ(status_of(cancel), 200) << cancel;
  EXPECT_NE(body_of(cancel).find("\"count\":0"), std::string::npos);
}

TEST_F(ConsoleTest, EndsTheConsoleSessionOnLogoutAndOnRevocation) {
  const Login first = login(admin_token_);
  const std::string logout = send("POST", "/logout", "", "Cookie: " + first.cookie + "\r\n");
  EXPECT_EQ(status_of(logout), 200);
  EXPECT_NE(header_of(logout, "Set-Cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(status_of(send("GET", "/api/state", "", "Cookie: " + first.cookie + "\r\n")), 401);

  const Login second = login(admin_token_);
  gateway_.revoke_sessions("ops");
  EXPECT_EQ(status_of(send("GET", "/api/state", "", "Cookie: " + second.cookie + "\r\n")), 401);
}

TEST_F(ConsoleTest, StreamsStateAsServerSentEventsUntilTheSessionEnds) {
  const Login session = login(admin_token_);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(listener_->port());
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  const std::string request = "GET /api/events HTTP/1.1\r\nHost: " + host() + "\r\nCookie: " + session.cookie + "\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
  std::string events;
  char buffer[4096];
  bool revoked = false;
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    events.append(buffer, static_cast<std::size_t>(n));
    // Two events seen: revoking the session ends the stream.
    if (!revoked && events.find("data: {", events.find("data: {") + 1) != std::string::npos) {
      gateway_.revoke_sessions("ops");
      revoked = true;
    }
  }
  ::close(fd);
  EXPECT_TRUE(revoked);
  EXPECT_EQ(status_of(events), 200);
  EXPECT_EQ(header_of(events, "Content-Type"), "text/event-stream");
  EXPECT_NE(events.find("data: {\"principal\":\"ops\""), std::string::npos) << events.substr(0, 300);
  EXPECT_NE(events.find("event: end"), std::string::npos);
  EXPECT_EQ(events.find(admin_token_), std::string::npos);
}

TEST_F(ConsoleTest, KeepsAtMostItsMaximumOfSessions) {
  for (int i = 0; i < 4; ++i) ASSERT_EQ(status_of(login(reader_token_).response), 200);
  EXPECT_EQ(status_of(login(reader_token_).response), 503);
}

TEST_F(ConsoleTest, MarksTheCookieSecureUnderHttps) {
  ConsoleContext context{gateway_, clock_, log_, nullptr, guards::GcraParams{}, 0, nullptr, nullptr, true, 4};
  Console secure(std::move(context), config_.auth);
  const std::string body = "token=" + admin_token_;
  HttpRequest request;
  request.method = HttpRequest::Method::post;
  request.path = "/login";
  request.host = "localhost:1";
  request.origin = "https://localhost:1";
  request.content_type = "application/x-www-form-urlencoded";
  request.body = body;
  request.peer = "127.0.0.1";
  request.https = true;
  const HttpResponse response = secure.handle(request);
  ASSERT_EQ(response.status, 200U) << response.body;
  ASSERT_EQ(response.headers.size(), 1U);
  EXPECT_EQ(response.headers[0].first, "Set-Cookie");
  EXPECT_NE(response.headers[0].second.find("; Secure"), std::string::npos) << response.headers[0].second;
  // The plain-HTTP origin of the same host is another origin.
  request.origin = "http://localhost:1";
  EXPECT_EQ(secure.handle(request).status, 403U);
}

TEST(HistogramQuantile, InterpolatesInsideTheBucketAndSaysNoDataWhenEmpty) {
  std::array<std::uint64_t, kGuardLatencyBoundsNs.size() + 1> buckets{};
  EXPECT_EQ(histogram_quantile(buckets, 0.5), -1);
  buckets[1] = 10;  // 50..100 ns
  EXPECT_DOUBLE_EQ(histogram_quantile(buckets, 0.5), 75.0);
  buckets.back() = 1000;
  EXPECT_DOUBLE_EQ(histogram_quantile(buckets, 0.99), 1'000'000.0);
}

}  // namespace
}  // namespace ordergate::server_detail
