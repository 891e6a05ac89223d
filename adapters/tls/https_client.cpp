#include "ordergate/adapters/tls/https_client.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>
#include <utility>
#include <vector>

#include "ordergate/security/secret.hpp"

namespace ordergate::adapters::tls {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

constexpr std::size_t kMaxPoolSize = 16;
constexpr std::size_t kReadChunk = std::size_t{16} * 1024;
constexpr std::uint32_t kMaxHeaderBytes = 64 * 1024;
// Request line, Host, Connection, Content-Type and Content-Length framing
// around the caller's parts (an upper bound).
constexpr std::size_t kRequestFraming = 128;
// TLS 1.2 suites with forward secrecy and AEAD only; TLS 1.3 suites are all fine.
constexpr const char* kTls12Ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20";

using Response = http::response<http::string_body>;
using Parser = http::response_parser<http::string_body>;

[[noreturn]] void invalid(std::string_view setting, const std::string& problem) {
  throw std::invalid_argument(std::string(setting) + ": " + problem);
}

bool equals_ignore_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  (void)asio::ip::make_address(host, ec);
  return !ec;
}

std::string spki_pin(X509* certificate) {
  X509_PUBKEY* key = X509_get_X509_PUBKEY(certificate);
  if (key == nullptr) return {};
  unsigned char* der = nullptr;
  const int length = i2d_X509_PUBKEY(key, &der);
  if (length <= 0) return {};
  const security::Sha256Digest digest =
      security::sha256(std::string_view(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length)));
  OPENSSL_free(der);
  unsigned char encoded[64] = {};
  const int encoded_length = EVP_EncodeBlock(encoded, digest.data(), static_cast<int>(digest.size()));
  return "sha256//" + std::string(reinterpret_cast<const char*>(encoded), static_cast<std::size_t>(encoded_length));
}

}  // namespace

void log_to_stderr(LogLevel level, std::string_view line) {
  std::string text = "ordergate: ";
  text += to_string(level);
  text += ": ";
  text += line;
  text += '\n';
  std::fwrite(text.data(), 1, text.size(), stderr);
}

std::string_view to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::info: return "info";
    case LogLevel::warning: return "warning";
    case LogLevel::error: return "error";
  }
  return "?";
}

std::string_view to_string(TransportError error) noexcept {
  switch (error) {
    case TransportError::none: return "none";
    case TransportError::timeout: return "timeout";
    case TransportError::connection_lost: return "connection_lost";
    case TransportError::bad_response: return "bad_response";
    case TransportError::stopped: return "stopped";
    case TransportError::not_sent: return "not_sent";
  }
  return "?";
}

HttpsUrl parse_https_url(std::string_view url, std::string_view setting) {
  const std::string_view scheme_end = "://";
  const std::size_t colon = url.find(scheme_end);
  if (colon == std::string_view::npos) {
    invalid(setting, "'" + std::string(url) + "' is not a URL; write https://host[:port][/path]");
  }
  const std::string_view scheme = url.substr(0, colon);
  if (equals_ignore_case(scheme, "http")) {
    invalid(setting, "'" + std::string(url) +
                         "' uses http://; only https:// is allowed, because orders and credentials "
                         "must never travel unencrypted");
  }
  if (!equals_ignore_case(scheme, "https")) {
    invalid(setting, "scheme '" + std::string(scheme) + "' is not supported; only https:// is allowed");
  }
  std::string_view rest = url.substr(colon + scheme_end.size());
  const std::size_t path_start = rest.find('/');
  std::string_view authority = rest.substr(0, path_start);
  std::string_view path = path_start == std::string_view::npos ? std::string_view{} : rest.substr(path_start);
  if (authority.find('@') != std::string_view::npos) {
    invalid(setting, "the URL must not carry credentials (user@host); use the credential settings");
  }
  if (path.find_first_of("?#") != std::string_view::npos) {
    invalid(setting, "the URL must not have a query or a fragment");
  }
  HttpsUrl parsed;
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) invalid(setting, "unterminated IPv6 address in the URL");
    parsed.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') invalid(setting, "unexpected text after the IPv6 address");
      port_text = after.substr(1);
      if (port_text.empty()) invalid(setting, "empty port in the URL");
    }
  } else {
    const std::size_t port_colon = authority.find(':');
    parsed.host = std::string(authority.substr(0, port_colon));
    if (port_colon != std::string_view::npos) {
      port_text = authority.substr(port_colon + 1);
      if (port_text.empty()) invalid(setting, "empty port in the URL");
    }
  }
  if (parsed.host.empty()) invalid(setting, "the URL has no host");
  for (const char c : parsed.host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == ':';
    if (!ok) invalid(setting, "the host name '" + parsed.host + "' has an invalid character");
  }
  if (!port_text.empty()) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || value == 0 || value > 65535) {
      invalid(setting, "port '" + std::string(port_text) + "' is not a number in 1..65535");
    }
    parsed.port = static_cast<std::uint16_t>(value);
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  parsed.base_path = std::string(path);
  return parsed;
}

security::Sha256Digest parse_pin(std::string_view pin, std::string_view setting) {
  constexpr std::string_view kPrefix = "sha256//";
  if (pin.substr(0, kPrefix.size()) != kPrefix) {
    invalid(setting, "a pin must look like sha256//<base64 of the SHA-256 of the public key>");
  }
  std::string text(pin.substr(kPrefix.size()));
  for (char& c : text) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  const auto bytes = security::base64url_decode(text);
  security::Sha256Digest digest{};
  if (!bytes || bytes->size() != digest.size()) {
    invalid(setting, "the pin is not the base64 of a 32-byte SHA-256 digest");
  }
  std::copy(bytes->begin(), bytes->end(), digest.begin());
  return digest;
}

std::string pin_of_pem_certificate(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) throw std::invalid_argument("cannot read the certificate");
  X509* certificate = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (certificate == nullptr) throw std::invalid_argument("not a PEM certificate");
  std::string pin = spki_pin(certificate);
  X509_free(certificate);
  if (pin.empty()) throw std::invalid_argument("the certificate has no usable public key");
  return pin;
}

std::int64_t backoff_delay_ns(std::uint32_t failures, std::int64_t min_ns, std::int64_t max_ns,
                              double random_unit) noexcept {
  if (failures == 0 || min_ns <= 0) return 0;
  if (max_ns < min_ns) max_ns = min_ns;
  std::int64_t delay = min_ns;
  for (std::uint32_t i = 1; i < failures && delay < max_ns; ++i) {
    delay = delay > max_ns / 2 ? max_ns : delay * 2;
  }
  if (delay > max_ns) delay = max_ns;
  if (random_unit < 0.0) random_unit = 0.0;
  if (random_unit >= 1.0) random_unit = 0.999999;
  const std::int64_t half = delay / 2;
  return half + static_cast<std::int64_t>(static_cast<double>(delay - half) * random_unit);
}

// ---------------------------------------------------------------------------

int HttpResponse::status() const noexcept {
  return static_cast<int>(static_cast<const Response*>(message_)->result_int());
}

std::string_view HttpResponse::body() const noexcept {
  return static_cast<const Response*>(message_)->body();
}

std::string_view HttpResponse::header(std::string_view name) const noexcept {
  const Response& response = *static_cast<const Response*>(message_);
  const auto it = response.find(beast::string_view(name.data(), name.size()));
  if (it == response.end()) return {};
  const beast::string_view value = it->value();
  return {value.data(), value.size()};
}

// ---------------------------------------------------------------------------

namespace {

enum class ConnectionState : std::uint8_t {
  down,        // no socket; reconnect at next_attempt_ns
  resolving,   // waiting for the host name to resolve
  connecting,  // TCP connect in progress
  handshaking, // TLS handshake in progress
  idle,        // verified, waiting for a request (a read is pending to notice a close)
  busy,        // one request in flight
  closing,     // socket closed, waiting for outstanding handlers before it is reset
};

struct Connection {
  explicit Connection(asio::io_context& io) : timer(io) {}

  std::size_t index = 0;
  std::int64_t sent_ns = 0;  // when the request in flight began to be written
  ConnectionState state = ConnectionState::down;
  std::unique_ptr<ssl::stream<tcp::socket>> stream;
  asio::steady_timer timer;
  std::uint64_t timer_sequence = 0;  // a timer handler acts only if this did not change
  std::uint32_t outstanding = 0;     // handlers not yet run (stream and timer)
  std::uint32_t failures = 0;  // consecutive; reset by the first response on a connection
  std::uint64_t served = 0;    // responses on the current connection
  std::int64_t next_attempt_ns = 0;
  std::int64_t close_delay_ns = 0;
  std::int64_t idle_since_ns = 0;
  bool deadline_passed = false;
  bool writing = false;
  bool awaiting_response = false;
  bool close_after_exchange = false;
  bool pending_request = false;  // keep_alive = false: written once the handshake is done
  std::uint64_t tag = 0;
  std::string verify_error;
  std::string write_buffer;
  beast::flat_buffer read_buffer;
  std::optional<Parser> parser;
};

}  // namespace

struct HttpsClient::Impl {
  // NOLINTNEXTLINE(cert-msc32-c,cert-msc51-cpp): random_ is seeded from the CSPRNG in the body
  Impl(TlsSettings settings_in, LogFunction log_in)
      : settings_(std::move(settings_in)),
        log_(log_in ? std::move(log_in) : LogFunction(log_to_stderr)),
        url_(parse_https_url(settings_.base_url, settings_.log_name + ".base_url")),
        io_(1),
        work_(asio::make_work_guard(io_)),
        context_(ssl::context::tls_client),
        resolver_(io_) {
    if (!settings_.pin.empty()) pin_ = parse_pin(settings_.pin, settings_.log_name + ".pin");
    if (settings_.pool_size == 0 || settings_.pool_size > kMaxPoolSize) {
      invalid(settings_.log_name + ".pool_size", "must be 1.." + std::to_string(kMaxPoolSize));
    }
    if (settings_.connect_timeout_ns <= 0 || settings_.request_timeout_ns <= 0) {
      invalid(settings_.log_name, "connect and request timeouts must be > 0");
    }
    if (settings_.reconnect_min_ns <= 0 || settings_.reconnect_max_ns < settings_.reconnect_min_ns) {
      invalid(settings_.log_name, "reconnect backoff needs 0 < min <= max");
    }
    context_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                        ssl::context::no_compression);
    SSL_CTX_set_min_proto_version(context_.native_handle(), TLS1_2_VERSION);
    SSL_CTX_set_cipher_list(context_.native_handle(), kTls12Ciphers);
    context_.set_verify_mode(ssl::verify_peer);
    boost::system::error_code ec;
    if (!settings_.ca_file.empty()) {
      std::ifstream probe(settings_.ca_file);
      if (!probe) invalid(settings_.log_name + ".ca_file", "cannot open '" + settings_.ca_file + "'");
      context_.load_verify_file(settings_.ca_file, ec);
      if (ec) invalid(settings_.log_name + ".ca_file", "'" + settings_.ca_file + "' holds no PEM certificate");
    } else {
      context_.set_default_verify_paths(ec);
      if (ec) invalid(settings_.log_name, "cannot load the system trust store");
    }
    host_header_ = url_.host.find(':') != std::string::npos ? "[" + url_.host + "]" : url_.host;
    if (url_.port != 443) host_header_ += ":" + std::to_string(url_.port);
    sni_ = !is_ip_literal(url_.host);
    connections_.reserve(settings_.pool_size);
    for (std::size_t i = 0; i < settings_.pool_size; ++i) {
      connections_.push_back(std::make_unique<Connection>(io_));
      connections_.back()->index = i;
    }
    std::uint64_t seed = 0;
    security::random_bytes(reinterpret_cast<std::uint8_t*>(&seed), sizeof(seed));
    random_.seed(seed);
  }

  [[nodiscard]] std::int64_t now_ns() const noexcept { return clock_->monotonic_ns(); }

  void emit(LogLevel level, const std::string& line) const {
    try {
      log_(level, settings_.log_name + ": " + line);
    } catch (...) {
      // A failing logger must not take the I/O thread down.
    }
  }

  [[nodiscard]] std::string endpoint_text() const { return host_header_; }

  // --- connecting ---------------------------------------------------------

  void begin_connect(Connection& c) {
    ++stats_.connect_attempts;
    if (endpoints_.empty() && !sni_) (void)resolve_now();  // an IP literal: no lookup, no resolver thread
    if (endpoints_.empty()) {
      c.state = ConnectionState::resolving;
      start_resolve();
      return;
    }
    start_connect(c);
  }

  void start_resolve() {
    if (resolving_) return;
    resolving_ = true;
    resolver_.async_resolve(url_.host, std::to_string(url_.port),
                           [this](const boost::system::error_code& ec, const tcp::resolver::results_type& results) {
                             resolving_ = false;
                             if (stopping_) return;
                             if (!ec) {
                               endpoints_.assign(results.begin(), results.end());
                             }
                             for (auto& c : connections_) {
                               if (c->state != ConnectionState::resolving) continue;
                               if (ec || endpoints_.empty()) {
                                 c->state = ConnectionState::down;
                                 fail_attempt(*c, "cannot resolve host '" + url_.host + "'", false);
                               } else {
                                 start_connect(*c);
                               }
                             }
                           });
  }

  bool resolve_now() {
    boost::system::error_code ec;
    const asio::ip::address address = asio::ip::make_address(url_.host, ec);
    if (!ec) {
      endpoints_.assign(1, tcp::endpoint(address, url_.port));
      return true;
    }
    const auto results = resolver_.resolve(url_.host, std::to_string(url_.port), ec);
    if (ec) return false;
    endpoints_.assign(results.begin(), results.end());
    return !endpoints_.empty();
  }

  void arm_deadline(Connection& c, std::int64_t timeout_ns) {
    const std::uint64_t sequence = ++c.timer_sequence;
    c.deadline_passed = false;
    c.timer.expires_after(std::chrono::nanoseconds(timeout_ns));
    ++c.outstanding;
    c.timer.async_wait([this, &c, sequence](const boost::system::error_code& ec) {
      --c.outstanding;
      if (!ec && sequence == c.timer_sequence && c.state != ConnectionState::closing) {
        // The operation in progress fails with an error and reports the timeout.
        c.deadline_passed = true;
        boost::system::error_code ignored;
        c.stream->lowest_layer().close(ignored);
      }
      finish_close_if_drained(c);
    });
  }

  void disarm_deadline(Connection& c) {
    ++c.timer_sequence;
    c.timer.cancel();
  }

  void start_connect(Connection& c) {
    c.stream = std::make_unique<ssl::stream<tcp::socket>>(io_, context_);
    c.verify_error.clear();
    c.read_buffer.clear();
    SSL* handle = c.stream->native_handle();
    // SSL_set_tlsext_host_name is a macro with a C cast; this is what it expands to.
    if (sni_ && SSL_ctrl(handle, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                        const_cast<char*>(url_.host.c_str())) != 1) {
      c.state = ConnectionState::down;
      fail_attempt(c, "cannot set the TLS server name", false);
      return;
    }
    c.stream->set_verify_mode(ssl::verify_peer);
    c.stream->set_verify_callback(
        [this, &c, check_host = ssl::host_name_verification(url_.host)](
            bool preverified, ssl::verify_context& verify) mutable {
          X509_STORE_CTX* store = verify.native_handle();
          if (!preverified) {
            if (c.verify_error.empty()) {
              const int error = X509_STORE_CTX_get_error(store);
              c.verify_error = X509_verify_cert_error_string(error);
            }
            return false;
          }
          const bool host_ok = check_host(preverified, verify);
          if (!host_ok && c.verify_error.empty()) {
            c.verify_error = "the certificate is not valid for host '" + url_.host + "'";
          }
          return host_ok;
        });
    c.state = ConnectionState::connecting;
    arm_deadline(c, settings_.connect_timeout_ns);
    ++c.outstanding;
    asio::async_connect(c.stream->lowest_layer(), endpoints_,
                        [this, &c](const boost::system::error_code& ec, const tcp::endpoint&) {
                          --c.outstanding;
                          if (c.state == ConnectionState::closing) return finish_close_if_drained(c);
                          if (ec) {
                            endpoints_.clear();  // resolve again before the next attempt
                            fail_attempt(c, c.deadline_passed ? "connect timed out" : "connect failed: " + ec.message(),
                                         false);
                            return;
                          }
                          boost::system::error_code ignored;
                          c.stream->lowest_layer().set_option(tcp::no_delay(true), ignored);
                          c.state = ConnectionState::handshaking;
                          ++c.outstanding;
                          c.stream->async_handshake(ssl::stream_base::client,
                                                    [this, &c](const boost::system::error_code& error) {
                                                      --c.outstanding;
                                                      on_handshake(c, error);
                                                    });
                        });
  }

  void on_handshake(Connection& c, const boost::system::error_code& ec) {
    if (c.state == ConnectionState::closing) return finish_close_if_drained(c);
    if (ec) {
      if (!c.verify_error.empty()) {
        fail_attempt(c, "TLS verification failed: " + c.verify_error, true);
      } else if (c.deadline_passed) {
        fail_attempt(c, "TLS handshake timed out", false);
      } else {
        fail_attempt(c, "TLS handshake failed: " + ec.message(), false);
      }
      return;
    }
    if (pin_) {
      X509* certificate = SSL_get0_peer_certificate(c.stream->native_handle());
      const std::string presented = certificate != nullptr ? spki_pin(certificate) : std::string{};
      bool match = false;
      if (!presented.empty()) {
        const security::Sha256Digest digest = parse_pin(presented, "peer");
        match = security::digest_equal(digest, *pin_);
      }
      if (!match) {
        fail_attempt(c, "TLS verification failed: the server's public key does not match the configured pin (it presented " +
                            presented + ")",
                     true);
        return;
      }
    }
    disarm_deadline(c);
    c.served = 0;
    c.state = ConnectionState::idle;
    c.idle_since_ns = now_ns();
    ++stats_.connections_established;
    if (!last_failure_.empty() || !announced_) {
      const char* version = SSL_get_version(c.stream->native_handle());
      emit(LogLevel::info, "connected to " + endpoint_text() + " (" + version + ", certificate verified" +
                               (pin_ ? ", pin matched" : "") + ")");
      last_failure_.clear();
      announced_ = true;
    }
    start_read(c);
    if (c.pending_request) {
      c.pending_request = false;
      start_exchange(c);
    }
  }

  void fail_attempt(Connection& c, const std::string& message, bool verification) {
    ++c.failures;
    if (verification) {
      ++stats_.verification_failures;
    } else {
      ++stats_.connect_failures;
    }
    if (message != last_failure_) {
      emit(verification ? LogLevel::error : LogLevel::warning,
           "no connection to " + endpoint_text() + ": " + message +
               (verification ? "; refusing to connect (no fallback); orders are rejected BROKER_UNAVAILABLE"
                             : "; retrying with backoff"));
      last_failure_ = message;
    }
    const std::int64_t delay = backoff_delay_ns(c.failures, settings_.reconnect_min_ns, settings_.reconnect_max_ns,
                                                unit(random_));
    if (c.state == ConnectionState::down) {
      c.next_attempt_ns = now_ns() + delay;
      return;
    }
    close(c, delay, TransportError::connection_lost);
  }

  // --- requests -----------------------------------------------------------

  void start_read(Connection& c) {
    ++c.outstanding;
    c.stream->async_read_some(c.read_buffer.prepare(kReadChunk),
                              [this, &c](const boost::system::error_code& ec, std::size_t bytes) {
                                --c.outstanding;
                                on_read(c, ec, bytes);
                              });
  }

  void on_read(Connection& c, const boost::system::error_code& ec, std::size_t bytes) {
    if (c.state == ConnectionState::closing) return finish_close_if_drained(c);
    if (ec) {
      if (c.awaiting_response) {
        ++stats_.connections_lost;
        close(c, backoff_delay_ns(1, settings_.reconnect_min_ns, settings_.reconnect_max_ns, unit(random_)),
              c.deadline_passed ? TransportError::timeout : TransportError::connection_lost);
      } else if (c.served > 0) {
        // The server closed an idle connection (idle timeout, restart): open a new one now.
        close(c, 0, TransportError::connection_lost);
      } else {
        // Closed before serving anything: count it as a failure, or a server that
        // accepts and drops at once would be reconnected to in a tight loop.
        ++c.failures;
        close(c, backoff_delay_ns(c.failures, settings_.reconnect_min_ns, settings_.reconnect_max_ns, unit(random_)),
              TransportError::connection_lost);
      }
      return;
    }
    c.read_buffer.commit(bytes);
    if (!c.awaiting_response) {
      // Nothing is expected on an idle HTTP/1.1 connection but a close.
      close(c, 0, TransportError::connection_lost);
      return;
    }
    while (c.read_buffer.size() > 0 && !c.parser->is_done()) {
      boost::system::error_code parse_error;
      const std::size_t used = c.parser->put(c.read_buffer.data(), parse_error);
      c.read_buffer.consume(used);
      if (parse_error == http::error::need_more) break;
      if (parse_error) {
        ++stats_.connections_lost;
        close(c, 0, TransportError::bad_response);
        return;
      }
      if (used == 0) break;
    }
    if (!c.parser->is_done()) {
      start_read(c);
      return;
    }
    disarm_deadline(c);
    ++stats_.responses;
    ++c.served;
    c.failures = 0;
    c.awaiting_response = false;
    const Response& message = c.parser->get();
    c.close_after_exchange = !settings_.keep_alive || !message.keep_alive() || c.read_buffer.size() > 0;
    const HttpResponse response(&message);
    HttpResult result;
    result.response = &response;
    result.elapsed_ns = now_ns() - c.sent_ns;
    deliver(c.tag, result);
    if (c.state == ConnectionState::closing) return finish_close_if_drained(c);
    finish_exchange(c);
  }

  // A connection becomes idle again only once both the response arrived and
  // the write completed (the write handler may run after the response).
  void finish_exchange(Connection& c) {
    if (c.writing || c.awaiting_response || c.state != ConnectionState::busy) return;
    if (c.close_after_exchange) {
      close(c, 0, TransportError::connection_lost);
      return;
    }
    c.parser.reset();
    c.state = ConnectionState::idle;
    c.idle_since_ns = now_ns();
    start_read(c);
  }

  // Lays out the whole request in the connection's write buffer, so it
  // goes out with one write.
  void prepare(Connection& c, const HttpRequest& request) {
    std::string& out = c.write_buffer;
    out.clear();
    // Sized once, before anything is written into it: a reallocation while
    // it holds the headers would free a copy of the credential unwiped. (What
    // it held before was wiped after its write.)
    out.reserve(request.method.size() + url_.base_path.size() + request.target.size() + host_header_.size() +
                request.headers.size() + request.content_type.size() + request.body.size() + kRequestFraming);
    out.append(request.method).append(" ").append(url_.base_path).append(request.target);
    out.append(" HTTP/1.1\r\nHost: ").append(host_header_).append("\r\n");
    out.append(request.headers);
    if (!settings_.keep_alive) out.append("Connection: close\r\n");
    if (!request.body.empty() || !request.content_type.empty()) {
      if (!request.content_type.empty()) out.append("Content-Type: ").append(request.content_type).append("\r\n");
      char digits[24];
      const auto end = std::to_chars(digits, digits + sizeof(digits), request.body.size()).ptr;
      out.append("Content-Length: ").append(digits, static_cast<std::size_t>(end - digits)).append("\r\n");
    }
    out.append("\r\n").append(request.body);
  }

  bool send(const HttpRequest& request, std::uint64_t tag) {
    if (!settings_.keep_alive) return send_on_new_connection(request, tag);
    Connection* chosen = nullptr;
    for (auto& c : connections_) {
      if (c->state != ConnectionState::idle) continue;
      if (chosen == nullptr || c->idle_since_ns < chosen->idle_since_ns) chosen = c.get();
    }
    if (chosen == nullptr) return false;
    prepare(*chosen, request);
    chosen->tag = tag;
    start_exchange(*chosen);
    return true;
  }

  bool send_on_new_connection(const HttpRequest& request, std::uint64_t tag) {
    Connection* chosen = nullptr;
    for (auto& c : connections_) {
      if (c->state == ConnectionState::down) {
        chosen = c.get();
        break;
      }
    }
    if (chosen == nullptr) return false;
    prepare(*chosen, request);
    chosen->tag = tag;
    chosen->pending_request = true;
    begin_connect(*chosen);
    return true;
  }

  // Writes the prepared request on a verified connection whose read is pending.
  void start_exchange(Connection& c) {
    c.parser.emplace();
    c.parser->body_limit(settings_.max_response_bytes);
    c.parser->header_limit(kMaxHeaderBytes);
    c.state = ConnectionState::busy;
    c.writing = true;
    c.awaiting_response = true;
    c.close_after_exchange = false;
    arm_deadline(c, settings_.request_timeout_ns);
    c.sent_ns = now_ns();
    ++stats_.requests_sent;
    ++c.outstanding;
    asio::async_write(*c.stream, asio::buffer(c.write_buffer), [this, &c](const boost::system::error_code& ec,
                                                                           std::size_t) {
      --c.outstanding;
      c.writing = false;
      // The buffer may hold a credential (Authorization, API key).
      security::wipe(c.write_buffer.data(), c.write_buffer.size());
      c.write_buffer.clear();
      if (c.state == ConnectionState::closing) return finish_close_if_drained(c);
      if (ec) {
        ++stats_.connections_lost;
        close(c, backoff_delay_ns(1, settings_.reconnect_min_ns, settings_.reconnect_max_ns, unit(random_)),
              c.deadline_passed ? TransportError::timeout : TransportError::connection_lost);
        return;
      }
      finish_exchange(c);
    });
  }

  void deliver(std::uint64_t tag, const HttpResult& result) {
    if (handler_ != nullptr) handler_->on_http_result(tag, result);
  }

  // --- closing ------------------------------------------------------------

  // Closes the socket and, once every handler of this connection has run,
  // resets it and schedules the next attempt `delay_ns` from then. A request
  // still in flight completes with `error`.
  void close(Connection& c, std::int64_t delay_ns, TransportError error) {
    if (c.state == ConnectionState::closing || c.state == ConnectionState::down) return;
    c.state = ConnectionState::closing;
    c.close_delay_ns = delay_ns;
    disarm_deadline(c);
    if (c.stream) {
      boost::system::error_code ignored;
      c.stream->lowest_layer().close(ignored);
    }
    if (c.awaiting_response) {
      c.awaiting_response = false;
      HttpResult result;
      result.error = stopping_ ? TransportError::stopped : error;
      result.elapsed_ns = now_ns() - c.sent_ns;
      deliver(c.tag, result);
    } else if (c.pending_request) {
      c.pending_request = false;
      security::wipe(c.write_buffer.data(), c.write_buffer.size());
      c.write_buffer.clear();
      HttpResult result;
      result.error = TransportError::not_sent;
      deliver(c.tag, result);
    }
    finish_close_if_drained(c);
  }

  void finish_close_if_drained(Connection& c) {
    if (c.state != ConnectionState::closing || c.outstanding != 0) return;
    c.stream.reset();
    c.parser.reset();
    c.read_buffer.clear();
    c.writing = false;
    c.state = ConnectionState::down;
    c.next_attempt_ns = now_ns() + c.close_delay_ns;
  }

  [[nodiscard]] std::size_t open_count() const noexcept {
    std::size_t count = 0;
    for (const auto& c : connections_) {
      if (c->state == ConnectionState::idle || c->state == ConnectionState::busy) ++count;
    }
    return count;
  }

  bool reconnect_due() {
    if (stopping_ || clock_ == nullptr || !settings_.keep_alive) return false;
    bool did = false;
    std::int64_t now = 0;
    for (auto& c : connections_) {
      if (c->state != ConnectionState::down) continue;
      if (now == 0) now = now_ns();
      if (now < c->next_attempt_ns) continue;
      begin_connect(*c);
      did = true;
    }
    return did;
  }

  static double unit(std::mt19937_64& engine) {
    return static_cast<double>(engine() >> 11) * (1.0 / 9007199254740992.0);
  }

  TlsSettings settings_;
  LogFunction log_;
  HttpsUrl url_;
  std::optional<security::Sha256Digest> pin_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  ssl::context context_;
  tcp::resolver resolver_;
  std::vector<tcp::endpoint> endpoints_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::string host_header_;
  bool sni_ = true;
  bool resolving_ = false;
  bool stopping_ = false;
  bool started_ = false;
  bool announced_ = false;
  std::string last_failure_;
  HttpHandler* handler_ = nullptr;
  const Clock* clock_ = nullptr;
  std::mt19937_64 random_;
  HttpsClientStats stats_;
};

HttpsClient::HttpsClient(TlsSettings settings, LogFunction log)
    : impl_(std::make_unique<Impl>(std::move(settings), std::move(log))) {}

HttpsClient::~HttpsClient() {
  if (!impl_ || !impl_->started_) return;
  try {
    stop();
  } catch (...) {  // a destructor must not throw; the sockets close with impl_
  }
}

void HttpsClient::start(HttpHandler& handler, const Clock& clock) {
  Impl& impl = *impl_;
  impl.handler_ = &handler;
  impl.clock_ = &clock;
  impl.started_ = true;
  impl.stopping_ = false;
  if (!impl.resolve_now()) {
    impl.emit(LogLevel::warning, "cannot resolve host '" + impl.url_.host + "' yet; retrying in the background");
  }
  if (!impl.settings_.keep_alive) return;  // connections open per request
  for (auto& c : impl.connections_) impl.begin_connect(*c);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(impl.settings_.connect_timeout_ns);
  auto connecting = [&impl] {
    for (const auto& c : impl.connections_) {
      if (c->state == ConnectionState::resolving || c->state == ConnectionState::connecting ||
          c->state == ConnectionState::handshaking || c->state == ConnectionState::closing) {
        return true;
      }
    }
    return false;
  };
  while (connecting()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    impl.io_.run_one_for(deadline - now);
  }
}

bool HttpsClient::poll() {
  Impl& impl = *impl_;
  bool did = impl.reconnect_due();
  if (impl.io_.poll() > 0) did = true;
  return did;
}

bool HttpsClient::send(const HttpRequest& request, std::uint64_t tag) {
  if (impl_->stopping_) return false;
  return impl_->send(request, tag);
}

void HttpsClient::stop() {
  Impl& impl = *impl_;
  if (impl.stopping_) return;
  impl.stopping_ = true;
  impl.resolver_.cancel();
  for (auto& c : impl.connections_) {
    if (c->state == ConnectionState::resolving) c->state = ConnectionState::down;
    impl.close(*c, 0, TransportError::stopped);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  auto draining = [&impl] {
    for (const auto& c : impl.connections_) {
      if (c->state == ConnectionState::closing) return true;
    }
    return impl.resolving_;
  };
  while (draining() && std::chrono::steady_clock::now() < deadline) {
    impl.io_.run_one_for(std::chrono::milliseconds(10));
  }
  impl.work_.reset();
  impl.started_ = false;
}

bool HttpsClient::available() const noexcept {
  if (impl_->stopping_ || !impl_->started_) return false;
  if (!impl_->settings_.keep_alive) return true;
  for (const auto& c : impl_->connections_) {
    if (c->state == ConnectionState::idle || c->state == ConnectionState::busy) return true;
    if (c->failures == 0) return true;
  }
  return false;
}

std::size_t HttpsClient::idle_connections() const noexcept {
  // Without keep-alive a closed connection is what a request can use.
  const ConnectionState usable = impl_->settings_.keep_alive ? ConnectionState::idle : ConnectionState::down;
  std::size_t count = 0;
  for (const auto& c : impl_->connections_) {
    if (c->state == usable) ++count;
  }
  return count;
}

std::size_t HttpsClient::open_connections() const noexcept { return impl_->open_count(); }

std::size_t HttpsClient::pool_size() const noexcept { return impl_->connections_.size(); }

std::int64_t HttpsClient::oldest_idle_since_ns() const noexcept {
  std::int64_t oldest = 0;
  for (const auto& c : impl_->connections_) {
    if (c->state != ConnectionState::idle) continue;
    if (oldest == 0 || c->idle_since_ns < oldest) oldest = c->idle_since_ns;
  }
  return oldest;
}

const HttpsClientStats& HttpsClient::stats() const noexcept { return impl_->stats_; }

const HttpsUrl& HttpsClient::url() const noexcept { return impl_->url_; }

}  // namespace ordergate::adapters::tls
