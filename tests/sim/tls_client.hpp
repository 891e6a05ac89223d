#pragma once

// A small HTTPS/1.1 test client (Boost.Beast over OpenSSL) that verifies the
// simulator the way a careful client does: TLS 1.2+, peer verification
// against an explicit CA file, SNI and host name checking. Every operation
// has a deadline (tcp_stream timeouts), so a misbehaving server fails a test
// instead of hanging it.

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ordergate/security/crypto.hpp"

namespace ordergate::sim::testing {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  ///< names lower-cased
  std::string body;
  [[nodiscard]] std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string{} : it->second;
  }
};

class TlsClient {
 public:
  /// `host` is what the certificate must name (and the SNI for a DNS name);
  /// the TCP connection always goes to 127.0.0.1:`port`.
  TlsClient(std::uint16_t port, const std::string& ca_file, std::string host = "localhost",
            std::chrono::milliseconds timeout = std::chrono::seconds(10))
      : port_(port), host_(std::move(host)), timeout_(timeout), tls_(ssl::context::tls_client) {
    SSL_CTX_set_min_proto_version(tls_.native_handle(), TLS1_2_VERSION);
    tls_.set_verify_mode(ssl::verify_peer);
    if (!ca_file.empty()) tls_.load_verify_file(ca_file);
  }

  /// TCP connect and TLS handshake; returns the error (empty on success).
  /// On a verification failure `verify_result()` says why.
  beast::error_code connect() {
    stream_.reset();
    stream_.emplace(io_, tls_);
    SSL* ssl_handle = stream_->native_handle();
    boost::system::error_code parse_error;
    net::ip::make_address(host_, parse_error);
    if (parse_error) {
      // SSL_set_tlsext_host_name is a macro with a C cast.
      SSL_ctrl(ssl_handle, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               static_cast<void*>(const_cast<char*>(host_.c_str())));
      SSL_set1_host(ssl_handle, host_.c_str());
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), host_.c_str());
    }
    auto& lowest = beast::get_lowest_layer(*stream_);
    lowest.expires_after(timeout_);
    beast::error_code result = run([&](auto handler) {
      lowest.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), handler);
    });
    if (result) return result;
    lowest.expires_after(timeout_);
    result = run([&](auto handler) { stream_->async_handshake(ssl::stream_base::client, handler); });
    verify_result_ = SSL_get_verify_result(ssl_handle);
    return result;
  }

  [[nodiscard]] long verify_result() const { return verify_result_; }
  [[nodiscard]] bool connected() const { return stream_.has_value(); }

  /// sha256//base64 of the server certificate's SubjectPublicKeyInfo.
  [[nodiscard]] std::string peer_pin() {
    X509* cert = SSL_get1_peer_certificate(stream_->native_handle());
    if (cert == nullptr) return {};
    unsigned char* der = nullptr;
    const int size = i2d_PUBKEY(X509_get0_pubkey(cert), &der);
    X509_free(cert);
    const auto digest = security::sha256(std::string_view(reinterpret_cast<const char*>(der), static_cast<std::size_t>(size)));
    OPENSSL_free(der);
    std::array<unsigned char, 64> encoded{};
    const int length = EVP_EncodeBlock(encoded.data(), digest.data(), static_cast<int>(digest.size()));
    return "sha256//" + std::string(reinterpret_cast<const char*>(encoded.data()), static_cast<std::size_t>(length));
  }

  /// One request on the current connection (connecting first if needed).
  /// Throws std::runtime_error on an I/O error or timeout.
  HttpResult request(const std::string& method, const std::string& target, const std::string& body = {},
                     const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    if (const auto ec = send_request(method, target, body, headers)) {
      throw std::runtime_error("request failed: " + ec.message());
    }
    http::response<http::string_body> response;
    auto& lowest = beast::get_lowest_layer(*stream_);
    lowest.expires_after(timeout_);
    if (const auto ec = run([&](auto handler) { http::async_read(*stream_, buffer_, response, handler); })) {
      throw std::runtime_error("reading the response failed: " + ec.message());
    }
    HttpResult result;
    result.status = static_cast<int>(response.result_int());
    for (const auto& field : response) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      result.headers[name] = std::string(field.value());
    }
    result.body = response.body();
    return result;
  }

  /// Like `request`, but reports an I/O failure instead of throwing.
  std::optional<HttpResult> try_request(const std::string& method, const std::string& target,
                                        const std::string& body = {},
                                        const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    try {
      return request(method, target, body, headers);
    } catch (const std::runtime_error&) {
      return std::nullopt;
    }
  }

  /// Sends a GET for a chunked streaming response and reads its header.
  /// Returns the status.
  int open_stream(const std::string& target, const std::vector<std::pair<std::string, std::string>>& headers) {
    if (const auto ec = send_request("GET", target, {}, headers)) throw std::runtime_error("stream: " + ec.message());
    stream_parser_.emplace();
    stream_parser_->body_limit(boost::none);
    chunk_callback_ = [this](std::uint64_t, std::string_view data, beast::error_code&) {
      stream_text_.append(data);
      return data.size();
    };
    stream_parser_->on_chunk_body(chunk_callback_);
    auto& lowest = beast::get_lowest_layer(*stream_);
    lowest.expires_after(timeout_);
    if (const auto ec = run([&](auto handler) { http::async_read_header(*stream_, buffer_, *stream_parser_, handler); })) {
      throw std::runtime_error("stream header: " + ec.message());
    }
    return static_cast<int>(stream_parser_->get().result_int());
  }

  /// Next newline-terminated line of the open stream, or nullopt when none
  /// arrives within `wait`.
  std::optional<std::string> read_stream_line(std::chrono::milliseconds wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (true) {
      const auto newline = stream_text_.find('\n');
      if (newline != std::string::npos) {
        std::string line = stream_text_.substr(0, newline);
        stream_text_.erase(0, newline + 1);
        return line;
      }
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::milliseconds(0)) return std::nullopt;
      auto& lowest = beast::get_lowest_layer(*stream_);
      lowest.expires_after(std::chrono::duration_cast<std::chrono::milliseconds>(left));
      const auto ec = run([&](auto handler) { http::async_read_some(*stream_, buffer_, *stream_parser_, handler); });
      if (ec == beast::error::timeout) return std::nullopt;
      if (ec) throw std::runtime_error("stream read: " + ec.message());
    }
  }

  void close() {
    if (!stream_) return;
    beast::error_code ignored;
    beast::get_lowest_layer(*stream_).socket().close(ignored);
    stream_.reset();
  }

 private:
  beast::error_code send_request(const std::string& method, const std::string& target, const std::string& body,
                                 const std::vector<std::pair<std::string, std::string>>& headers) {
    if (!stream_) {
      if (const auto ec = connect()) return ec;
    }
    http::request<http::string_body> message{http::string_to_verb(method), target, 11};
    message.set(http::field::host, host_);
    message.set(http::field::user_agent, "ordergate-sim-tests");
    for (const auto& [name, value] : headers) message.set(name, value);
    if (!body.empty() || method == "POST" || method == "PUT") {
      message.body() = body;
      message.prepare_payload();
    }
    buffer_.clear();
    auto& lowest = beast::get_lowest_layer(*stream_);
    lowest.expires_after(timeout_);
    return run([&](auto handler) { http::async_write(*stream_, message, handler); });
  }

  /// Starts one async operation and runs the io_context until it completes.
  template <class Start>
  beast::error_code run(Start start) {
    beast::error_code result;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    io_.restart();
    io_.run();
    return result;
  }

  std::uint16_t port_;
  std::string host_;
  std::chrono::milliseconds timeout_;
  net::io_context io_;
  ssl::context tls_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream_;
  beast::flat_buffer buffer_;
  long verify_result_ = X509_V_OK;
  std::optional<http::response_parser<http::empty_body>> stream_parser_;
  std::function<std::size_t(std::uint64_t, std::string_view, beast::error_code&)> chunk_callback_;
  std::string stream_text_;
};

/// Binance request signing for tests: `params` plus timestamp, signed with
/// the test secret over the exact text sent.
inline std::string signed_query(const std::string& params, const std::string& secret, std::int64_t timestamp_ms) {
  std::string text = params;
  if (!text.empty()) text += '&';
  text += "timestamp=" + std::to_string(timestamp_ms);
  return text + "&signature=" + security::to_hex(security::hmac_sha256(secret, text));
}

inline std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace ordergate::sim::testing
