#include "http_listener.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

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
      : listener_("127.0.0.1", 0, false, HttpLimits{}, [this](std::string_view path) { return page(path); },
                  [](std::string_view, std::string_view, std::string_view) {}) {
    listener_.start();
  }

  HttpResponse page(std::string_view path) {
    ++served_;
    if (path == "/hello") return HttpResponse{200, "text/plain", "hello\n"};
    return HttpResponse{404, "text/plain", "not found\n"};
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

TEST_F(HttpListenerTest, RefusesOtherMethodsWith405AndNamesGet) {
  const std::string response = http_exchange(
      listener_.port(), "POST /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi");
  EXPECT_EQ(status_of(response), 405) << response;
  EXPECT_NE(response.find("Allow: GET"), std::string::npos);
  EXPECT_EQ(served_.load(), 0);
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
  EXPECT_EQ(status_of(http_get(listener_.port(), "/hello", "attacker.example")), 400);
  EXPECT_EQ(status_of(http_exchange(listener_.port(), "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n")), 400);
  EXPECT_EQ(status_of(http_get(listener_.port(), "/hello", "localhost")), 200);
  EXPECT_EQ(status_of(http_exchange(listener_.port(), "GET /hello HTTP/1.0\r\n\r\n")), 200);
}

TEST_F(HttpListenerTest, ClosesConnectionsBeyondTheLimitAndServesAgainAfter) {
  HttpLimits limits;
  limits.max_connections = 1;
  HttpListener small("127.0.0.1", 0, false, limits, [](std::string_view) { return HttpResponse{}; },
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

TEST(HttpListener, RefusesAnAddressInUseUnlessToldToFallBackToAFreePort) {
  HttpListener first("127.0.0.1", 0, false, HttpLimits{}, [](std::string_view) { return HttpResponse{}; },
                     [](std::string_view, std::string_view, std::string_view) {});
  first.start();
  HttpListener strict("127.0.0.1", first.port(), false, HttpLimits{}, [](std::string_view) { return HttpResponse{}; },
                      [](std::string_view, std::string_view, std::string_view) {});
  EXPECT_THROW(strict.start(), std::runtime_error);
  HttpListener lenient("127.0.0.1", first.port(), true, HttpLimits{}, [](std::string_view) { return HttpResponse{}; },
                       [](std::string_view, std::string_view, std::string_view) {});
  lenient.start();
  EXPECT_NE(lenient.port(), first.port());
  EXPECT_EQ(status_of(http_get(lenient.port(), "/")), 200);
}

}  // namespace
}  // namespace ordergate::server_detail
