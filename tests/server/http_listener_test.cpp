#include "http_listener.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

#include "adapters/tls_test_support.hpp"
#include "server/http_test_support.hpp"

namespace ordergate::server_detail {
namespace {

using testing::body_of;
using testing::http_exchange;
using testing::http_get;
using testing::status_of;

class HttpListenerTest : public ::testing::Test {
 protected:
  HttpListenerTest()
      : listener_("127.0.0.1", 0, false, HttpLimits{}, [this](const HttpRequest& request) { return page(request); },
                  [](std::string_view, std::string_view, std::string_view) {}) {
    listener_.start();
  }

  static HttpResponse text(unsigned status, std::string body) {
    HttpResponse response;
    response.status = status;
    response.content_type = "text/plain";
    response.body = std::move(body);
    return response;
  }

  HttpResponse page(const HttpRequest& request) {
    ++served_;
    if (request.path == "/hello") return text(200, "hello\n");
    if (request.path == "/echo") {
      HttpResponse response = text(200, std::string(request.method == HttpRequest::Method::post ? "POST " : "GET ") +
                                            std::string(request.body) + "|" + std::string(request.query) + "|" +
                                            std::string(request.csrf_token) + "|" + std::string(request.peer));
      response.headers.emplace_back("Set-Cookie", "a=b; HttpOnly");
      return response;
    }
    if (request.path == "/stream") {
      HttpResponse response;
      response.stream = [count = 0](std::string& data) mutable {
        if (count == 3) return false;
        data = "{\"n\":" + std::to_string(count++) + "}";
        return true;
      };
      response.stream_interval = std::chrono::milliseconds(100);
      return response;
    }
    return text(404, "not found\n");
  }

  std::atomic<int> served_{0};
  HttpListener listener_;
};

TEST_F(HttpListenerTest, ServesAGetOverLoopbackTcpAndNamesItsUrl) {
  ASSERT_NE(listener_.port(), 0);
  EXPECT_EQ(listener_.url(), "http://127.0.0.1:" + std::to_string(listener_.port()) + "/");
  const std::string response = http_get(listener_.port(), "/hello?x=1");
  EXPECT_EQ(status_of(response), 200) << response;
  EXPECT_EQ(body_of(response), "hello\n");
  EXPECT_NE(response.find("Cache-Control: no-store"), std::string::npos);
}

TEST_F(HttpListenerTest, KeepsAConnectionAliveForSeveralRequests) {
  const std::string host = "Host: localhost:" + std::to_string(listener_.port()) + "\r\n";
  const std::string response = http_exchange(
      listener_.port(), "GET /hello HTTP/1.1\r\n" + host + "\r\nGET /other HTTP/1.1\r\n" + host + "Connection: close\r\n\r\n");
  EXPECT_EQ(status_of(response), 200);
  EXPECT_NE(response.find("HTTP/1.1 404"), std::string::npos) << response;
}

TEST_F(HttpListenerTest, RefusesMethodsOtherThanGetAndPostWith405AndNamesThem) {
  const std::string response = http_exchange(
      listener_.port(), "PUT /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi");
  EXPECT_EQ(status_of(response), 405) << response;
  EXPECT_NE(response.find("Allow: GET, POST"), std::string::npos);
  EXPECT_EQ(served_.load(), 0);
}

TEST_F(HttpListenerTest, HandsAPostItsBodyQueryHeadersAndPeerAndSendsExtraHeaders) {
  const std::string response = http_exchange(
      listener_.port(), "POST /echo?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-CSRF-Token: abc\r\nContent-Length: 2\r\n"
                        "Connection: close\r\n\r\nhi");
  EXPECT_EQ(status_of(response), 200) << response;
  EXPECT_EQ(body_of(response), "POST hi|x=1|abc|127.0.0.1");
  EXPECT_NE(response.find("Set-Cookie: a=b; HttpOnly"), std::string::npos);
}

TEST_F(HttpListenerTest, SendsASecurityPolicyWithEveryAnswer) {
  for (const char* path : {"/hello", "/nothing"}) {
    const std::string response = http_get(listener_.port(), path);
    EXPECT_NE(response.find("Content-Security-Policy: default-src 'self'"), std::string::npos) << response;
    EXPECT_NE(response.find("X-Frame-Options: DENY"), std::string::npos);
    EXPECT_NE(response.find("X-Content-Type-Options: nosniff"), std::string::npos);
  }
}

TEST_F(HttpListenerTest, StreamsServerSentEventsUntilTheSourceEnds) {
  const std::string response = http_get(listener_.port(), "/stream");
  EXPECT_EQ(status_of(response), 200) << response;
  EXPECT_NE(response.find("Content-Type: text/event-stream"), std::string::npos);
  EXPECT_NE(response.find("data: {\"n\":0}\n\ndata: {\"n\":1}\n\ndata: {\"n\":2}\n\nevent: end\n"), std::string::npos)
      << response;
}

TEST_F(HttpListenerTest, AnswersMalformedRequestsWith400AndKeepsServing) {
  EXPECT_EQ(status_of(http_exchange(listener_.port(), "this is not http\r\n\r\n")), 400);
  EXPECT_EQ(status_of(http_exchange(listener_.port(), "GET nothing-absolute HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")), 400);
  EXPECT_EQ(status_of(http_get(listener_.port(), "/hello")), 200);
}

TEST_F(HttpListenerTest, AnswersOversizedHeadersWith431AndABodyWith413) {
  const std::string big(16 * 1024, 'a');
  const std::string headers =
      http_exchange(listener_.port(), "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + big + "\r\n\r\n");
  EXPECT_EQ(status_of(headers), 431) << headers.substr(0, 200);
  const std::string body = http_exchange(
      listener_.port(), "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4096\r\n\r\n" + std::string(4096, 'b'));
  EXPECT_EQ(status_of(body), 413) << body.substr(0, 200);
  EXPECT_EQ(status_of(http_get(listener_.port(), "/hello")), 200);
  EXPECT_EQ(served_.load(), 1);
}

TEST_F(HttpListenerTest, RefusesAHostHeaderThatDoesNotNameTheListener) {
  // A page of another origin that resolves its own name to 127.0.0.1 (DNS
  // rebinding) sends its own name as Host.
  EXPECT_EQ(status_of(http_get(listener_.port(), "/hello", "attacker.example")), 403);
  EXPECT_EQ(status_of(http_exchange(listener_.port(), "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n")), 403);
  EXPECT_EQ(status_of(http_get(listener_.port(), "/hello", "localhost")), 200);
  EXPECT_EQ(status_of(http_exchange(listener_.port(), "GET /hello HTTP/1.0\r\n\r\n")), 200);
}

TEST(HttpListener, AcceptsTheConfiguredHostNamesAndRunsPeriodicTasks) {
  HttpLimits limits;
  limits.host_names = {"console.example"};
  std::atomic<int> ticks{0};
  HttpListener listener("127.0.0.1", 0, false, limits, [](const HttpRequest&) { return HttpResponse{}; },
                        [](std::string_view, std::string_view, std::string_view) {});
  listener.every(std::chrono::milliseconds(10), [&ticks] { ++ticks; });
  listener.start();
  EXPECT_EQ(status_of(http_get(listener.port(), "/", "console.example")), 200);
  EXPECT_EQ(status_of(http_get(listener.port(), "/", "CONSOLE.example")), 200);
  EXPECT_EQ(status_of(http_get(listener.port(), "/", "console.example.attacker.example")), 403);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (ticks.load() < 3 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  EXPECT_GE(ticks.load(), 3);
}

TEST_F(HttpListenerTest, ClosesConnectionsBeyondTheLimitAndServesAgainAfter) {
  HttpLimits limits;
  limits.max_connections = 1;
  HttpListener small("127.0.0.1", 0, false, limits, [](const HttpRequest&) { return HttpResponse{}; },
                     [](std::string_view, std::string_view, std::string_view) {});
  small.start();
  // The first connection stays open (an unfinished request); a second one is closed without an answer.
  const int held = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(small.port());
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(held, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::send(held, "GET /", 5, MSG_NOSIGNAL), 5);
  // The held connection is counted once the listener accepted it: retry until refused.
  std::string refused = "not tried";
  for (int attempt = 0; attempt < 500 && !refused.empty(); ++attempt) refused = http_get(small.port(), "/");
  EXPECT_EQ(refused, "");
  ::close(held);
  std::string served;
  for (int attempt = 0; attempt < 500 && status_of(served) != 200; ++attempt) served = http_get(small.port(), "/");
  EXPECT_EQ(status_of(served), 200);
}

// A GET over TLS, verifying the server against `ca_file`; the raw answer or
// the error's text.
std::string https_get(std::uint16_t port, const std::string& ca_file, const std::string& path) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  asio::io_context io;
  asio::ssl::context tls(asio::ssl::context::tls_client);
  tls.load_verify_file(ca_file);
  tls.set_verify_mode(asio::ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(io, tls);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
  try {
    beast::get_lowest_layer(stream).connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    stream.set_verify_callback(asio::ssl::host_name_verification("localhost"));
    stream.handshake(asio::ssl::stream_base::client);
    beast::http::request<beast::http::empty_body> request(beast::http::verb::get, path, 11);
    request.set(beast::http::field::host, "localhost:" + std::to_string(port));
    request.keep_alive(false);
    beast::http::write(stream, request);
    beast::flat_buffer buffer;
    beast::http::response<beast::http::string_body> response;
    beast::http::read(stream, buffer, response);
    return std::to_string(response.result_int()) + " " + response.body();
  } catch (const std::exception& error) {
    return std::string("error: ") + error.what();
  }
}

TEST(HttpListener, ServesHttpsOnlyWithTheConfiguredCertificateAndSaysSoInItsUrl) {
  const testing::TestPki pki("http_listener");
  const std::string certificate = pki.ca_file + ".server.pem";
  const std::string key = pki.ca_file + ".server.key";
  {
    std::ofstream(certificate) << pki.localhost.certificate_pem();
    std::ofstream(key) << pki.localhost.key_pem();
  }
  HttpLimits limits;
  limits.tls_certificate_file = certificate;
  limits.tls_private_key_file = key;
  HttpListener listener("127.0.0.1", 0, false, limits,
                        [](const HttpRequest& request) {
                          HttpResponse response;
                          response.body = request.https ? "over tls" : "plain";
                          return response;
                        },
                        [](std::string_view, std::string_view, std::string_view) {});
  listener.start();
  EXPECT_EQ(listener.url().rfind("https://127.0.0.1:", 0), 0U) << listener.url();
  EXPECT_EQ(https_get(listener.port(), pki.ca_file, "/"), "200 over tls");
  // Plain HTTP gets no HTTP answer from an HTTPS listener.
  EXPECT_EQ(status_of(http_get(listener.port(), "/")), 0);
  EXPECT_EQ(https_get(listener.port(), pki.ca_file, "/"), "200 over tls");
  listener.stop();

  HttpLimits wrong_key = limits;
  wrong_key.tls_private_key_file = certificate;  // not a key
  HttpListener refused("127.0.0.1", 0, false, wrong_key, [](const HttpRequest&) { return HttpResponse{}; },
                       [](std::string_view, std::string_view, std::string_view) {});
  try {
    refused.start();
    ADD_FAILURE() << "a certificate file given as the key was accepted";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("http.tls_key"), std::string::npos) << error.what();
  }
  std::remove(certificate.c_str());
  std::remove(key.c_str());
}

TEST(HttpListener, RefusesAnAddressInUseUnlessToldToFallBackToAFreePort) {
  HttpListener first("127.0.0.1", 0, false, HttpLimits{}, [](const HttpRequest&) { return HttpResponse{}; },
                     [](std::string_view, std::string_view, std::string_view) {});
  first.start();
  HttpListener strict("127.0.0.1", first.port(), false, HttpLimits{}, [](const HttpRequest&) { return HttpResponse{}; },
                      [](std::string_view, std::string_view, std::string_view) {});
  EXPECT_THROW(strict.start(), std::runtime_error);
  HttpListener lenient("127.0.0.1", first.port(), true, HttpLimits{}, [](const HttpRequest&) { return HttpResponse{}; },
                       [](std::string_view, std::string_view, std::string_view) {});
  lenient.start();
  EXPECT_NE(lenient.port(), first.port());
  EXPECT_EQ(status_of(http_get(lenient.port(), "/")), 200);
}

}  // namespace
}  // namespace ordergate::server_detail
