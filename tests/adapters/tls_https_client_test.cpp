#include "ordergate/adapters/tls/https_client.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "adapters/tls_test_support.hpp"

namespace ordergate::adapters::tls {
namespace {

using ordergate::testing::TestCertificate;
using ordergate::testing::TestHttpsServer;
using ordergate::testing::TestPki;
using ordergate::testing::TestReply;
using ordergate::testing::TestRequest;

/// Records every result and log line.
struct Recorder final : HttpHandler {
  struct Entry {
    std::uint64_t tag = 0;
    TransportError error = TransportError::none;
    int status = 0;
    std::string body;
    std::string header;
  };
  void on_http_result(std::uint64_t tag, const HttpResult& result) noexcept override {
    Entry entry;
    entry.tag = tag;
    entry.error = result.error;
    if (result.response != nullptr) {
      entry.status = result.response->status();
      entry.body = std::string(result.response->body());
      entry.header = std::string(result.response->header("x-test"));
    }
    results.push_back(entry);
  }
  std::vector<Entry> results;
  std::vector<std::string> lines;
  LogFunction logger() {
    return [this](LogLevel level, std::string_view line) {
      lines.push_back(std::string(to_string(level)) + " " + std::string(line));
    };
  }
  [[nodiscard]] bool logged(std::string_view text) const {
    for (const auto& line : lines) {
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  }
};

TlsSettings settings_for(std::uint16_t port, const std::string& ca_file, const std::string& host = "localhost") {
  TlsSettings settings;
  settings.base_url = "https://" + host + ":" + std::to_string(port) + "/api";
  settings.ca_file = ca_file;
  settings.pool_size = 2;
  settings.connect_timeout_ns = 3 * kNanosPerSecond;
  settings.request_timeout_ns = 2 * kNanosPerSecond;
  settings.reconnect_min_ns = 20 * kNanosPerMilli;
  settings.reconnect_max_ns = 200 * kNanosPerMilli;
  settings.log_name = "test";
  return settings;
}

/// Polls the client until `done` or 5 s of real time (a failure, never a sleep).
bool poll_until(HttpsClient& client, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    client.poll();
  }
  return true;
}

TestReply echo(const TestRequest& request) {
  TestReply reply;
  reply.body = std::string(request.method_string()) + " " + std::string(request.target()) + " " + request.body();
  reply.headers.push_back({"X-Test", "yes"});
  return reply;
}

HttpRequest get(std::string_view target) {
  HttpRequest request;
  request.method = "GET";
  request.target = target;
  return request;
}

TEST(TlsUrl, ParsesHostPortAndBasePath) {
  const HttpsUrl url = parse_https_url("https://api-fxpractice.oanda.com:8443/v3/", "oanda.base_url");
  EXPECT_EQ(url.host, "api-fxpractice.oanda.com");
  EXPECT_EQ(url.port, 8443);
  EXPECT_EQ(url.base_path, "/v3");
  EXPECT_EQ(parse_https_url("HTTPS://api.binance.com", "x").port, 443);
  EXPECT_EQ(parse_https_url("https://[::1]:9000", "x").host, "::1");
}

TEST(TlsUrl, RefusesPlainHttpAndSaysWhy) {
  try {
    (void)parse_https_url("http://localhost:8080", "oanda.base_url");
    FAIL() << "http:// accepted";
  } catch (const std::invalid_argument& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("oanda.base_url"), std::string::npos) << message;
    EXPECT_NE(message.find("only https://"), std::string::npos) << message;
    EXPECT_NE(message.find("unencrypted"), std::string::npos) << message;
  }
}

TEST(TlsUrl, RefusesMalformedUrls) {
  for (const char* url : {"localhost:443", "ftp://host", "https://", "https://:443", "https://host:0",
                          "https://host:70000", "https://user:pw@host", "https://host/path?x=1", "https://ho st"}) {
    EXPECT_THROW((void)parse_https_url(url, "x"), std::invalid_argument) << url;
  }
}

TEST(TlsPin, ParsesCurlFormatAndRefusesAnythingElse) {
  const std::string pin = "sha256//" + std::string(43, 'A') + "=";
  EXPECT_NO_THROW((void)parse_pin(pin, "x"));
  EXPECT_THROW((void)parse_pin("sha1//AAAA", "x"), std::invalid_argument);
  EXPECT_THROW((void)parse_pin("sha256//AAAA", "x"), std::invalid_argument);
  EXPECT_THROW((void)parse_pin("sha256//not base64!", "x"), std::invalid_argument);
}

TEST(TlsBackoff, DoublesFromMinimumToCapWithJitterInTheUpperHalf) {
  constexpr std::int64_t kMin = 100 * kNanosPerMilli;
  constexpr std::int64_t kMax = 1 * kNanosPerSecond;
  EXPECT_EQ(backoff_delay_ns(0, kMin, kMax, 0.5), 0);
  EXPECT_EQ(backoff_delay_ns(1, kMin, kMax, 0.0), 50 * kNanosPerMilli);
  EXPECT_EQ(backoff_delay_ns(1, kMin, kMax, 0.5), 75 * kNanosPerMilli);
  EXPECT_EQ(backoff_delay_ns(2, kMin, kMax, 0.0), 100 * kNanosPerMilli);
  EXPECT_EQ(backoff_delay_ns(4, kMin, kMax, 0.0), 400 * kNanosPerMilli);
  EXPECT_EQ(backoff_delay_ns(5, kMin, kMax, 0.0), 500 * kNanosPerMilli);  // 1.6 s capped at 1 s
  EXPECT_EQ(backoff_delay_ns(200, kMin, kMax, 0.0), 500 * kNanosPerMilli);
  EXPECT_LE(backoff_delay_ns(200, kMin, kMax, 0.9999999), kMax);
}

TEST(TlsSettingsCheck, RefusesAMissingCaFileAndABadPoolSize) {
  TlsSettings settings = settings_for(443, "/nonexistent/ca.pem");
  EXPECT_THROW(HttpsClient(settings, nullptr), std::invalid_argument);
  settings.ca_file.clear();
  settings.pool_size = 0;
  EXPECT_THROW(HttpsClient(settings, nullptr), std::invalid_argument);
}

TEST(HttpsClient, StartOpensThePoolWarmAndReusesItsConnections) {
  TestPki pki("warm");
  TestHttpsServer server(pki.localhost, echo);
  Recorder recorder;
  HttpsClient client(settings_for(server.port(), pki.ca_file), recorder.logger());
  client.start(recorder, SystemClock::instance());
  EXPECT_EQ(client.open_connections(), 2u);
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(server.requests(), 0);

  for (std::uint64_t i = 0; i < 20; ++i) {
    ASSERT_TRUE(client.send(get("/ping"), i));
    ASSERT_TRUE(poll_until(client, [&] { return recorder.results.size() == i + 1 && client.idle_connections() == 2; }));
  }
  EXPECT_EQ(server.connections(), 2) << "a request opened a new connection";
  EXPECT_EQ(client.stats().connections_established, 2u);
  for (const auto& entry : recorder.results) {
    EXPECT_EQ(entry.error, TransportError::none);
    EXPECT_EQ(entry.status, 200);
    EXPECT_EQ(entry.body, "GET /api/ping ");
    EXPECT_EQ(entry.header, "yes");
  }
  EXPECT_TRUE(recorder.logged("connected to localhost:" + std::to_string(server.port())));
  client.stop();
}

TEST(HttpsClient, WritesHostContentTypeLengthAndCallerHeaders) {
  TestPki pki("headers");
  TestHttpsServer server(pki.localhost, echo);
  Recorder recorder;
  HttpsClient client(settings_for(server.port(), pki.ca_file), recorder.logger());
  client.start(recorder, SystemClock::instance());
  HttpRequest request;
  request.method = "POST";
  request.target = "/v3/orders";
  request.headers = "Authorization: Bearer canary-token-123\r\nAccept: application/json\r\n";
  request.content_type = "application/json";
  request.body = R"({"order":{}})";
  ASSERT_TRUE(client.send(request, 7));
  ASSERT_TRUE(poll_until(client, [&] { return !recorder.results.empty(); }));
  EXPECT_EQ(recorder.results[0].tag, 7u);
  EXPECT_EQ(recorder.results[0].body, R"(POST /api/v3/orders {"order":{}})");
  const auto seen = server.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0]["Host"], "localhost:" + std::to_string(server.port()));
  EXPECT_EQ(seen[0]["Content-Type"], "application/json");
  EXPECT_EQ(seen[0]["Content-Length"], "12");
  EXPECT_EQ(seen[0]["Authorization"], "Bearer canary-token-123");
  for (const auto& line : recorder.lines) EXPECT_EQ(line.find("canary"), std::string::npos) << line;
  client.stop();
}

TEST(HttpsClient, OnlyOneRequestPerConnectionAndNoneWhenAllAreBusy) {
  TestPki pki("busy");
  TestHttpsServer server(pki.localhost, [](const TestRequest& request) {
    TestReply reply = echo(request);
    reply.delay = std::chrono::milliseconds(50);
    return reply;
  });
  Recorder recorder;
  HttpsClient client(settings_for(server.port(), pki.ca_file), recorder.logger());
  client.start(recorder, SystemClock::instance());
  EXPECT_TRUE(client.send(get("/a"), 1));
  EXPECT_TRUE(client.send(get("/b"), 2));
  EXPECT_FALSE(client.send(get("/c"), 3)) << "a third request on a pool of two";
  ASSERT_TRUE(poll_until(client, [&] { return recorder.results.size() == 2; }));
  client.stop();
}

class HttpsClientRefuses : public ::testing::Test {
 protected:
  void expect_refused(const TestCertificate& served, const TlsSettings& settings, std::string_view reason) {
    TestHttpsServer server(served, echo);
    TlsSettings with_port = settings;
    const std::string from = ":0/";
    with_port.base_url.replace(with_port.base_url.find(from), from.size(), ":" + std::to_string(server.port()) + "/");
    Recorder recorder;
    HttpsClient client(with_port, recorder.logger());
    client.start(recorder, SystemClock::instance());
    EXPECT_EQ(client.open_connections(), 0u);
    EXPECT_GE(client.stats().verification_failures, 1u);
    EXPECT_FALSE(client.send(get("/ping"), 1)) << "sent over an unverified connection";
    // Retries keep failing; the failure is logged once, not per attempt.
    ASSERT_TRUE(poll_until(client, [&] { return client.stats().verification_failures >= 4; }));
    EXPECT_EQ(client.open_connections(), 0u);
    EXPECT_EQ(server.requests(), 0);
    int failures_logged = 0;
    for (const auto& line : recorder.lines) {
      if (line.find("TLS verification failed") != std::string::npos) {
        ++failures_logged;
        EXPECT_NE(line.find(reason), std::string::npos) << line;
        EXPECT_NE(line.find("no fallback"), std::string::npos) << line;
        EXPECT_EQ(line.rfind("error ", 0), 0u) << line;
      }
    }
    EXPECT_EQ(failures_logged, 1);
    client.stop();
  }
};

TEST_F(HttpsClientRefuses, ACertificateForAnotherHost) {
  TestPki pki("wronghost");
  const TestCertificate other = TestCertificate::server(pki.ca, "DNS:other.example");
  expect_refused(other, settings_for(0, pki.ca_file), "not valid for host 'localhost'");
}

TEST_F(HttpsClientRefuses, ACertificateForAnotherHostWhenConnectingByAddress) {
  TestPki pki("wrongip");
  const TestCertificate other = TestCertificate::server(pki.ca, "DNS:localhost");  // no IP SAN
  expect_refused(other, settings_for(0, pki.ca_file, "127.0.0.1"), "not valid for host '127.0.0.1'");
}

TEST_F(HttpsClientRefuses, AnExpiredCertificate) {
  TestPki pki("expired");
  const TestCertificate expired = TestCertificate::server(pki.ca, "DNS:localhost,IP:127.0.0.1", -86400 * 2, -86400);
  expect_refused(expired, settings_for(0, pki.ca_file), "certificate has expired");
}

TEST_F(HttpsClientRefuses, ACertificateFromAnUnknownAuthority) {
  TestPki pki("unknownca");
  TestPki other("otherca");
  expect_refused(other.localhost, settings_for(0, pki.ca_file), "unable to get local issuer certificate");
}

TEST_F(HttpsClientRefuses, TheTestAuthorityWhenUsingTheSystemTrustStore) {
  TestPki pki("systemstore");
  expect_refused(pki.localhost, settings_for(0, ""), "unable to get local issuer certificate");
}

TEST_F(HttpsClientRefuses, AServerWhosePublicKeyDoesNotMatchThePin) {
  TestPki pki("pinmismatch");
  const TestCertificate other_key = TestCertificate::server(pki.ca, "DNS:localhost");
  TlsSettings settings = settings_for(0, pki.ca_file);
  settings.pin = pin_of_pem_certificate(other_key.certificate_pem());
  expect_refused(pki.localhost, settings, "does not match the configured pin");
}

TEST(HttpsClient, ConnectsWhenThePinMatches) {
  TestPki pki("pinmatch");
  TestHttpsServer server(pki.localhost, echo);
  TlsSettings settings = settings_for(server.port(), pki.ca_file);
  settings.pin = pin_of_pem_certificate(pki.localhost.certificate_pem());
  Recorder recorder;
  HttpsClient client(settings, recorder.logger());
  client.start(recorder, SystemClock::instance());
  EXPECT_EQ(client.open_connections(), 2u);
  EXPECT_TRUE(recorder.logged("pin matched"));
  client.stop();
}

TEST(HttpsClient, ReopensConnectionsTheServerClosedWhileIdle) {
  TestPki pki("idleclose");
  TestHttpsServer server(pki.localhost, echo);
  Recorder recorder;
  HttpsClient client(settings_for(server.port(), pki.ca_file), recorder.logger());
  client.start(recorder, SystemClock::instance());
  ASSERT_TRUE(client.send(get("/a"), 1));
  ASSERT_TRUE(poll_until(client, [&] { return recorder.results.size() == 1 && client.idle_connections() == 2; }));
  server.drop_connections();
  ASSERT_TRUE(poll_until(client, [&] { return server.connections() == 4 && client.idle_connections() == 2; }));
  ASSERT_TRUE(client.send(get("/b"), 2));
  ASSERT_TRUE(poll_until(client, [&] { return recorder.results.size() == 2; }));
  EXPECT_EQ(recorder.results[1].status, 200);
  client.stop();
}

TEST(HttpsClient, ReopensAfterConnectionClose) {
  TestPki pki("connclose");
  TestHttpsServer server(pki.localhost, [](const TestRequest& request) {
    TestReply reply = echo(request);
    reply.close = true;
    return reply;
  });
  Recorder recorder;
  TlsSettings settings = settings_for(server.port(), pki.ca_file);
  settings.pool_size = 1;
  HttpsClient client(settings, recorder.logger());
  client.start(recorder, SystemClock::instance());
  for (std::uint64_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(poll_until(client, [&] { return client.idle_connections() == 1; }));
    ASSERT_TRUE(client.send(get("/x"), i));
    ASSERT_TRUE(poll_until(client, [&] { return recorder.results.size() == i + 1; }));
    EXPECT_EQ(recorder.results[i].error, TransportError::none);
  }
  EXPECT_EQ(server.connections(), 3);
  client.stop();
}

TEST(HttpsClient, ReportsATimeoutAndReplacesTheConnection) {
  TestPki pki("timeout");
  TestHttpsServer server(pki.localhost, [](const TestRequest& request) {
    TestReply reply = echo(request);
    if (request.target() == "/api/slow") reply.delay = std::chrono::milliseconds(600);
    return reply;
  });
  Recorder recorder;
  TlsSettings settings = settings_for(server.port(), pki.ca_file);
  settings.pool_size = 1;
  settings.request_timeout_ns = 200 * kNanosPerMilli;
  HttpsClient client(settings, recorder.logger());
  client.start(recorder, SystemClock::instance());
  ASSERT_TRUE(client.send(get("/slow"), 1));
  ASSERT_TRUE(poll_until(client, [&] { return !recorder.results.empty(); }));
  EXPECT_EQ(recorder.results[0].error, TransportError::timeout);
  ASSERT_TRUE(poll_until(client, [&] { return client.idle_connections() == 1; }));
  ASSERT_TRUE(client.send(get("/fast"), 2));
  ASSERT_TRUE(poll_until(client, [&] { return recorder.results.size() == 2; }));
  EXPECT_EQ(recorder.results[1].status, 200);
  client.stop();
}

TEST(HttpsClient, ADroppedRequestIsConnectionLost) {
  TestPki pki("drop");
  TestHttpsServer server(pki.localhost, [](const TestRequest& request) {
    TestReply reply = echo(request);
    reply.drop = true;
    return reply;
  });
  Recorder recorder;
  HttpsClient client(settings_for(server.port(), pki.ca_file), recorder.logger());
  client.start(recorder, SystemClock::instance());
  ASSERT_TRUE(client.send(get("/x"), 1));
  ASSERT_TRUE(poll_until(client, [&] { return !recorder.results.empty(); }));
  EXPECT_EQ(recorder.results[0].error, TransportError::connection_lost);
  client.stop();
}

TEST(HttpsClient, ConnectsOnceTheServerComesUpAndAfterItRestarts) {
  TestPki pki("restart");
  std::uint16_t port = 0;
  {
    TestHttpsServer probe(pki.localhost, echo);
    port = probe.port();
  }
  Recorder recorder;
  HttpsClient client(settings_for(port, pki.ca_file), recorder.logger());
  client.start(recorder, SystemClock::instance());
  EXPECT_EQ(client.open_connections(), 0u);
  EXPECT_TRUE(recorder.logged("retrying with backoff"));
  {
    TestHttpsServer server(pki.localhost, echo, port);
    ASSERT_TRUE(poll_until(client, [&] { return client.idle_connections() == 2; }));
    server.stop();
  }
  ASSERT_TRUE(poll_until(client, [&] { return client.open_connections() == 0; }));
  TestHttpsServer again(pki.localhost, echo, port);
  ASSERT_TRUE(poll_until(client, [&] { return client.idle_connections() == 2; }));
  ASSERT_TRUE(client.send(get("/x"), 1));
  ASSERT_TRUE(poll_until(client, [&] { return recorder.results.size() == 1; }));
  EXPECT_EQ(recorder.results[0].status, 200);
  client.stop();
}

TEST(HttpsClient, WithoutKeepAliveEveryRequestOpensAVerifiedConnectionOfItsOwn) {
  TestPki pki("cold");
  TestHttpsServer server(pki.localhost, echo);
  Recorder recorder;
  TlsSettings settings = settings_for(server.port(), pki.ca_file);
  settings.keep_alive = false;
  HttpsClient client(settings, recorder.logger());
  client.start(recorder, SystemClock::instance());
  EXPECT_EQ(server.connections(), 0) << "nothing opened in advance";
  for (std::uint64_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.send(get("/x"), i));
    ASSERT_TRUE(poll_until(client, [&] { return recorder.results.size() == i + 1 && client.idle_connections() == 2; }));
    EXPECT_EQ(recorder.results[i].status, 200);
  }
  EXPECT_EQ(server.connections(), 3);
  EXPECT_EQ(client.stats().connections_established, 3u);
  const auto seen = server.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_FALSE(seen[0].keep_alive());
  client.stop();
}

TEST(HttpsClient, WithoutKeepAliveARefusedConnectionMeansNotSent) {
  TestPki pki("coldrefused");
  const TestCertificate other = TestCertificate::server(pki.ca, "DNS:other.example");
  TestHttpsServer server(other, echo);
  Recorder recorder;
  TlsSettings settings = settings_for(server.port(), pki.ca_file);
  settings.keep_alive = false;
  HttpsClient client(settings, recorder.logger());
  client.start(recorder, SystemClock::instance());
  ASSERT_TRUE(client.send(get("/x"), 9));
  ASSERT_TRUE(poll_until(client, [&] { return !recorder.results.empty(); }));
  EXPECT_EQ(recorder.results[0].error, TransportError::not_sent);
  EXPECT_EQ(server.requests(), 0);
  client.stop();
}

TEST(HttpsClient, StopCompletesRequestsInFlight) {
  TestPki pki("stop");
  TestHttpsServer server(pki.localhost, [](const TestRequest& request) {
    TestReply reply = echo(request);
    reply.delay = std::chrono::milliseconds(300);
    return reply;
  });
  Recorder recorder;
  HttpsClient client(settings_for(server.port(), pki.ca_file), recorder.logger());
  client.start(recorder, SystemClock::instance());
  ASSERT_TRUE(client.send(get("/x"), 1));
  client.stop();
  ASSERT_EQ(recorder.results.size(), 1u);
  EXPECT_EQ(recorder.results[0].error, TransportError::stopped);
  EXPECT_FALSE(client.send(get("/y"), 2));
}

}  // namespace
}  // namespace ordergate::adapters::tls
