#pragma once

// Test-only TLS fixtures: certificates made with the OpenSSL API (a CA, and
// server certificates that are valid, for another host or expired) and a tiny
// Beast HTTPS/1.1 server on loopback, run on its own thread, whose replies a
// test scripts. Nothing here touches the network beyond 127.0.0.1.

#include <gtest/gtest.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace ordergate::testing {

/// A key pair and certificate in PEM, plus the raw handles to sign others.
class TestCertificate {
 public:
  TestCertificate() = default;
  TestCertificate(const TestCertificate&) = delete;
  TestCertificate& operator=(const TestCertificate&) = delete;
  TestCertificate(TestCertificate&& other) noexcept
      : key_(std::exchange(other.key_, nullptr)), cert_(std::exchange(other.cert_, nullptr)) {}
  ~TestCertificate() {
    EVP_PKEY_free(key_);
    X509_free(cert_);
  }

  /// A self-signed CA.
  static TestCertificate authority(const std::string& common_name) {
    TestCertificate ca;
    ca.key_ = new_key();
    ca.cert_ = X509_new();
    fill(ca.cert_, ca.key_, common_name, -3600, 86400 * 30);
    X509_set_issuer_name(ca.cert_, X509_get_subject_name(ca.cert_));
    add_extension(ca.cert_, ca.cert_, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(ca.cert_, ca.cert_, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_extension(ca.cert_, ca.cert_, NID_subject_key_identifier, "hash");
    X509_sign(ca.cert_, ca.key_, EVP_sha256());
    return ca;
  }

  /// A server certificate signed by `ca` for `subject_alt_names`
  /// (e.g. "DNS:localhost,IP:127.0.0.1"), valid from `not_before_s` to
  /// `not_after_s` seconds relative to now.
  static TestCertificate server(const TestCertificate& ca, const std::string& subject_alt_names,
                                long not_before_s = -3600, long not_after_s = 86400) {
    TestCertificate leaf;
    leaf.key_ = new_key();
    leaf.cert_ = X509_new();
    fill(leaf.cert_, leaf.key_, "ordergate test server", not_before_s, not_after_s);
    X509_set_issuer_name(leaf.cert_, X509_get_subject_name(ca.cert_));
    add_extension(ca.cert_, leaf.cert_, NID_subject_alt_name, subject_alt_names);
    add_extension(ca.cert_, leaf.cert_, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(ca.cert_, leaf.cert_, NID_ext_key_usage, "serverAuth");
    X509_sign(leaf.cert_, ca.key_, EVP_sha256());
    return leaf;
  }

  [[nodiscard]] std::string certificate_pem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, cert_);
    return drain(bio);
  }
  [[nodiscard]] std::string key_pem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, key_, nullptr, nullptr, 0, nullptr, nullptr);
    return drain(bio);
  }
  /// Writes the certificate to `path` (for a client's ca_file).
  void write_certificate(const std::string& path) const {
    std::ofstream out(path, std::ios::trunc);
    out << certificate_pem();
  }

 private:
  static EVP_PKEY* new_key() {
    EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    if (key == nullptr) throw std::runtime_error("EC key generation failed");
    return key;
  }
  static void fill(X509* cert, EVP_PKEY* key, const std::string& common_name, long not_before_s,
                   long not_after_s) {
    static std::atomic<long> serial{1000};
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), serial.fetch_add(1));
    X509_gmtime_adj(X509_getm_notBefore(cert), not_before_s);
    X509_gmtime_adj(X509_getm_notAfter(cert), not_after_s);
    X509_set_pubkey(cert, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
  }
  static void add_extension(X509* issuer, X509* cert, int nid, const std::string& value) {
    X509V3_CTX context;
    X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
    if (extension == nullptr) throw std::runtime_error("bad extension " + value);
    X509_add_ext(cert, extension, -1);
    X509_EXTENSION_free(extension);
  }
  static std::string drain(BIO* bio) {
    char* data = nullptr;
    const long length = BIO_get_mem_data(bio, &data);
    std::string text(data, static_cast<std::size_t>(length));
    BIO_free(bio);
    return text;
  }

  EVP_PKEY* key_ = nullptr;
  X509* cert_ = nullptr;
};

/// What the test server answers to one request.
struct TestReply {
  unsigned status = 200;
  std::string body = "{}";
  std::vector<std::pair<std::string, std::string>> headers;
  bool close = false;                      ///< send Connection: close and close
  std::chrono::milliseconds delay{0};      ///< wait before answering
  bool drop = false;                       ///< close without answering
};

using TestRequest = boost::beast::http::request<boost::beast::http::string_body>;

/// A loopback HTTPS/1.1 server with keep-alive. Replies come from `handler`,
/// which runs on the server thread.
class TestHttpsServer {
 public:
  using Handler = std::function<TestReply(const TestRequest&)>;

  TestHttpsServer(const TestCertificate& certificate, Handler handler, std::uint16_t port = 0)
      : context_(boost::asio::ssl::context::tls_server), handler_(std::move(handler)) {
    const std::string cert = certificate.certificate_pem();
    const std::string key = certificate.key_pem();
    context_.use_certificate_chain(boost::asio::buffer(cert));
    context_.use_private_key(boost::asio::buffer(key), boost::asio::ssl::context::pem);
    using boost::asio::ip::tcp;
    acceptor_ = std::make_unique<tcp::acceptor>(io_, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    port_ = acceptor_->local_endpoint().port();
    boost::asio::co_spawn(io_, accept_loop(), boost::asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TestHttpsServer() { stop(); }

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] int connections() const { return connections_.load(); }
  [[nodiscard]] int requests() const { return requests_.load(); }
  /// Every request seen, in order (copied under a lock).
  [[nodiscard]] std::vector<TestRequest> seen() const {
    std::lock_guard lock(mutex_);
    return seen_;
  }

  /// Closes every open connection (the listener stays).
  void drop_connections() {
    boost::asio::post(io_, [this] {
      for (auto* socket : sockets_) {
        boost::system::error_code ignored;
        socket->shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
        socket->close(ignored);
      }
    });
  }

  /// Closes the listener and every connection, lets every session end and
  /// joins the server thread. The port can then be bound again.
  void stop() {
    if (!thread_.joinable()) return;
    boost::asio::post(io_, [this] {
      boost::system::error_code ignored;
      acceptor_->close(ignored);
      for (auto* socket : sockets_) socket->close(ignored);
    });
    thread_.join();  // run() returns once every coroutine has finished
    acceptor_.reset();
  }

 private:
  using Stream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

  boost::asio::awaitable<void> accept_loop() {
    namespace asio = boost::asio;
    for (;;) {
      auto [ec, socket] = co_await acceptor_->async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      ++connections_;
      asio::co_spawn(io_, session(std::make_shared<Stream>(std::move(socket), context_)), asio::detached);
    }
  }

  boost::asio::awaitable<void> session(std::shared_ptr<Stream> stream) {
    namespace asio = boost::asio;
    namespace http = boost::beast::http;
    auto* raw = &stream->next_layer();
    sockets_.insert(raw);
    struct Forget {
      std::set<boost::asio::ip::tcp::socket*>& set;
      boost::asio::ip::tcp::socket* socket;
      ~Forget() { set.erase(socket); }
    } forget{sockets_, raw};
    auto [handshake_error] =
        co_await stream->async_handshake(asio::ssl::stream_base::server, asio::as_tuple(asio::use_awaitable));
    if (handshake_error) co_return;
    boost::beast::flat_buffer buffer;
    for (;;) {
      TestRequest request;
      auto [read_error, read_bytes] =
          co_await http::async_read(*stream, buffer, request, asio::as_tuple(asio::use_awaitable));
      (void)read_bytes;
      if (read_error) co_return;
      ++requests_;
      {
        std::lock_guard lock(mutex_);
        seen_.push_back(request);
      }
      const TestReply reply = handler_(request);
      if (reply.delay.count() > 0) {
        asio::steady_timer timer(io_, reply.delay);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      if (reply.drop) {
        boost::system::error_code ignored;
        raw->close(ignored);
        co_return;
      }
      http::response<http::string_body> response{static_cast<http::status>(reply.status), 11};
      response.set(http::field::content_type, "application/json");
      for (const auto& [name, value] : reply.headers) response.set(name, value);
      response.body() = reply.body;
      response.keep_alive(!reply.close && request.keep_alive());
      response.prepare_payload();
      auto [write_error, written] = co_await http::async_write(*stream, response, asio::as_tuple(asio::use_awaitable));
      (void)written;
      if (write_error || !response.keep_alive()) {
        boost::system::error_code ignored;
        raw->shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
        raw->close(ignored);
        co_return;
      }
    }
  }

  boost::asio::io_context io_;
  boost::asio::ssl::context context_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::uint16_t port_ = 0;
  Handler handler_;
  std::thread thread_;
  std::set<boost::asio::ip::tcp::socket*> sockets_;  // server thread only
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  mutable std::mutex mutex_;
  std::vector<TestRequest> seen_;
};

/// A CA, its certificate in a temporary file, and a valid localhost server
/// certificate; what most transport tests need. The file name is unique per
/// process and per fixture: ctest runs each test in its own process, in
/// parallel, and other checkouts on the machine share the temporary folder,
/// so a shared name lets one test overwrite the CA another is verifying with.
struct TestPki {
  TestCertificate ca;
  TestCertificate localhost;
  std::string ca_file;

  explicit TestPki(const std::string& name)
      : ca(TestCertificate::authority("ordergate test CA " + name)),
        localhost(TestCertificate::server(ca, "DNS:localhost,IP:127.0.0.1")) {
    static std::atomic<int> sequence{0};
    ca_file = ::testing::TempDir() + "ordergate_" + name + "_" + std::to_string(::getpid()) + "_" +
              std::to_string(sequence.fetch_add(1)) + "_ca.pem";
    ca.write_certificate(ca_file);
  }
  ~TestPki() { std::remove(ca_file.c_str()); }
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;
};

}  // namespace ordergate::testing
