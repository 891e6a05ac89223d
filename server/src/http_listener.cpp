#include "http_listener.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <sstream>
#include <optional>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <utility>

#include "ordergate/core/thread_name.hpp"

namespace ordergate::server_detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpListener::Impl {
  Impl(std::string address_text, std::uint16_t wanted_port, bool fall_back, const HttpLimits& http_limits, Handler on_get,
       Log on_log)
      : address(std::move(address_text)),
        port(wanted_port),
        fall_back_to_free_port(fall_back),
        limits(http_limits),
        handler(std::move(on_get)),
        log(std::move(on_log)) {}

  std::string address;
  std::uint16_t port;
  bool fall_back_to_free_port;
  HttpLimits limits;
  Handler handler;
  Log log;
  // Before the io_context: sessions it destroys count themselves out.
  std::atomic<std::size_t> connections{0};
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::unique_ptr<asio::ssl::context> tls;  // HTTPS when set
  std::thread thread;
  bool started = false;
  struct Periodic {
    std::chrono::milliseconds interval;
    std::function<void()> task;
    std::unique_ptr<asio::steady_timer> timer;
  };
  std::vector<Periodic> periodic;

  void schedule(Periodic& entry) {
    entry.timer->expires_after(entry.interval);
    entry.timer->async_wait([this, &entry](const beast::error_code& error) {
      if (error) return;
      try {
        entry.task();
      } catch (const std::exception&) {
        log("error", "http_periodic_task_failed", "");
      }
      schedule(entry);
    });
  }

  void accept_next();
  // True when the request's Host names this listener (or is absent in HTTP/1.0).
  [[nodiscard]] bool host_allowed(std::string_view host, unsigned version) const;
};

namespace {

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection. `Stream` is beast::tcp_stream (HTTP) or TlsStream (HTTPS).
template <class Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  HttpSession(tcp::socket socket, HttpListener::Impl& owner)
    requires(!kTls)
      : stream_(std::move(socket)), owner_(owner), buffer_(owner.limits.max_header_bytes + owner.limits.max_body_bytes) {}
  HttpSession(tcp::socket socket, HttpListener::Impl& owner, asio::ssl::context& tls)
    requires(kTls)
      : stream_(std::move(socket), tls), owner_(owner), buffer_(owner.limits.max_header_bytes + owner.limits.max_body_bytes) {}

  // HTTPS: the handshake first, within the timeout; a failed one is counted
  // and the connection dropped.
  void start() {
    if constexpr (kTls) {
      lowest().expires_after(owner_.limits.timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](const beast::error_code& error) {
                                if (error) {
                                  self->owner_.log("warn", "http_tls_handshake_failed", "");
                                  self->close();
                                  return;
                                }
                                self->read();
                              });
    } else {
      read();
    }
  }
  ~HttpSession() { owner_.connections.fetch_sub(1, std::memory_order_relaxed); }
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  void read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(owner_.limits.max_header_bytes));
    parser_->body_limit(owner_.limits.max_body_bytes);
    lowest().expires_after(owner_.limits.timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](const beast::error_code& error, std::size_t) { self->on_read(error); });
  }

 private:
  void on_read(const beast::error_code& error) {
    if (error == http::error::end_of_stream || error == asio::error::eof || error == beast::error::timeout ||
        error == asio::error::operation_aborted || error == asio::error::connection_reset) {
      close();
      return;
    }
    if (error) {
      unsigned status = 400;
      std::string_view text = "bad request\n";
      if (error == http::error::header_limit || error == http::error::buffer_overflow) {
        status = 431;
        text = "request header fields too large\n";
      } else if (error == http::error::body_limit) {
        status = 413;
        text = "request too large\n";
      }
      respond(status, "text/plain; charset=utf-8", std::string(text), false, {}, 11);
      return;
    }
    const auto& request = parser_->get();
    const bool keep_alive = request.keep_alive();
    const unsigned version = request.version();
    const auto host = request.find(http::field::host);
    if (!owner_.host_allowed(host == request.end() ? std::string_view{} : std::string_view(host->value()),
                             version)) {
      respond(403, "application/json", R"({"error":"BAD_HOST","message":"the Host header names no name this listener serves"})" "\n", false, {}, version);
      return;
    }
    if (request.method() != http::verb::get && request.method() != http::verb::post) {
      respond(405, "text/plain; charset=utf-8", "method not allowed\n", keep_alive, "GET, POST", version);
      return;
    }
    std::string_view target(request.target().data(), request.target().size());
    if (target.empty() || target.front() != '/') {
      respond(400, "text/plain; charset=utf-8", "bad request target\n", false, {}, version);
      return;
    }
    HttpRequest view;
    view.method = request.method() == http::verb::post ? HttpRequest::Method::post : HttpRequest::Method::get;
    view.path = target;
    if (const auto query = target.find('?'); query != std::string_view::npos) {
      view.path = target.substr(0, query);
      view.query = target.substr(query + 1);
    }
    auto header = [&](auto field) {
      const auto found = request.find(field);
      return found == request.end() ? std::string_view{} : std::string_view(found->value().data(), found->value().size());
    };
    view.host = host == request.end() ? std::string_view{} : std::string_view(host->value().data(), host->value().size());
    view.origin = header(http::field::origin);
    view.sec_fetch_site = header("Sec-Fetch-Site");
    view.cookie = header(http::field::cookie);
    view.content_type = header(http::field::content_type);
    view.csrf_token = header("X-CSRF-Token");
    view.body = request.body();
    beast::error_code peer_error;
    const auto remote = lowest().socket().remote_endpoint(peer_error);
    const std::string peer = peer_error ? std::string() : remote.address().to_string();
    view.peer = peer;
    view.https = kTls;
    HttpResponse response;
    try {
      response = owner_.handler(view);
    } catch (const std::exception&) {
      response = HttpResponse{500, "text/plain; charset=utf-8", "internal error\n", {}, {}, {}};
    }
    if (response.stream) {
      start_stream(std::move(response), version);
      return;
    }
    respond(response.status, response.content_type, std::move(response.body), keep_alive, {}, version,
            response.headers);
  }

  void set_common_headers(http::response_header<>& header) {
    header.set(http::field::cache_control, "no-store");
    header.set("X-Content-Type-Options", "nosniff");
    header.set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    header.set("X-Frame-Options", "DENY");
    header.set("Referrer-Policy", "no-referrer");
  }

  // Server-sent events: the header, then one event now and one every
  // interval until the stream says it is over or the client goes.
  void start_stream(HttpResponse response, unsigned version) {
    stream_source_ = std::move(response.stream);
    stream_interval_ = std::max(response.stream_interval, std::chrono::milliseconds(100));
    http::response<http::empty_body> header;
    header.version(version == 10 ? 10 : 11);
    header.result(200);
    header.set(http::field::content_type, "text/event-stream");
    set_common_headers(header.base());
    header.keep_alive(false);
    std::ostringstream text;
    text << header.base();
    pending_ = text.str();
    pending_ += "retry: 2000\n\n";
    next_event();
  }

  void next_event() {
    std::string data;
    bool more = false;
    try {
      more = stream_source_(data);
    } catch (const std::exception&) {
      more = false;
    }
    if (more) {
      pending_ += "data: ";
      pending_ += data;
      pending_ += "\n\n";
    } else {
      pending_ += "event: end\ndata: {}\n\n";
    }
    lowest().expires_after(owner_.limits.timeout);
    asio::async_write(stream_, asio::buffer(pending_),
                      [self = this->shared_from_this(), more](const beast::error_code& error, std::size_t) {
                        self->pending_.clear();
                        if (error || !more) {
                          self->close();
                          return;
                        }
                        self->lowest().expires_never();
                        self->timer_.expires_after(self->stream_interval_);
                        self->timer_.async_wait([self](const beast::error_code& wait_error) {
                          if (wait_error) {
                            self->close();
                            return;
                          }
                          self->next_event();
                        });
                      });
  }

  void respond(unsigned status, std::string_view content_type, std::string body, bool keep_alive,
               std::string_view allow, unsigned version,
               const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    response_ = {};
    response_.version(version == 10 ? 10 : 11);
    response_.result(status);
    response_.set(http::field::content_type, content_type);
    set_common_headers(response_.base());
    for (const auto& [name, value] : headers) response_.insert(name, value);
    if (!allow.empty()) response_.set(http::field::allow, allow);
    response_.body() = std::move(body);
    response_.keep_alive(keep_alive);
    response_.prepare_payload();
    lowest().expires_after(owner_.limits.timeout);
    http::async_write(stream_, response_,
                      [self = this->shared_from_this(), keep_alive](const beast::error_code& error, std::size_t) {
                        if (error) {
                          self->close();
                        } else if (keep_alive) {
                          self->read();
                        } else {
                          self->drain_and_close();
                        }
                      });
  }

  // After an answer that ends the connection: stop sending, then read what
  // the client still sends (bounded) so that closing with unread data does
  // not reset the connection before the client has read the answer.
  // Under TLS: close_notify first (bounded by a short timeout).
  void drain_and_close() {
    if constexpr (kTls) {
      lowest().expires_after(std::chrono::seconds(1));
      stream_.async_shutdown([self = this->shared_from_this()](const beast::error_code&) { self->close(); });
    } else {
      beast::error_code ignored;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
      lowest().expires_after(std::chrono::seconds(1));
      drain_next();
    }
  }
  void drain_next() {
    lowest().async_read_some(asio::buffer(scratch_),
                            [self = this->shared_from_this()](const beast::error_code& error, std::size_t bytes) {
                              self->drained_ += bytes;
                              if (error || self->drained_ > kMaxDrainBytes) {
                                self->close();
                                return;
                              }
                              self->drain_next();
                            });
  }
  void close() {
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
  }

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  static constexpr std::size_t kMaxDrainBytes = 1 << 20;
  Stream stream_;
  HttpListener::Impl& owner_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  std::array<char, 4096> scratch_{};
  std::size_t drained_ = 0;
  std::function<bool(std::string&)> stream_source_;
  std::chrono::milliseconds stream_interval_{1000};
  std::string pending_;
  asio::steady_timer timer_{beast::get_lowest_layer(stream_).get_executor()};
};

}  // namespace

void HttpListener::Impl::accept_next() {
  acceptor.async_accept([this](const beast::error_code& error, tcp::socket socket) {
    if (error == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!error) {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      if (connections.fetch_add(1, std::memory_order_relaxed) >= limits.max_connections) {
        connections.fetch_sub(1, std::memory_order_relaxed);
        socket.close(ignored);
        log("warn", "http_connection_refused", "why=max_connections");
      } else {
        if (tls) {
          std::make_shared<HttpSession<TlsStream>>(std::move(socket), *this, *tls)->start();
        } else {
          std::make_shared<HttpSession<beast::tcp_stream>>(std::move(socket), *this)->start();
        }
      }
    }
    accept_next();
  });
}

bool HttpListener::Impl::host_allowed(std::string_view host, unsigned version) const {
  if (host.empty()) return version == 10;
  std::string_view name = host;
  if (name.front() == '[') {
    const auto close = name.find(']');
    if (close == std::string_view::npos) return false;
    const std::string_view rest = name.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
    name = name.substr(1, close - 1);
  } else if (const auto colon = name.rfind(':'); colon != std::string_view::npos) {
    name = name.substr(0, colon);
  }
  if (name == "localhost" || name == "127.0.0.1" || name == "::1" || name == address) return true;
  return std::any_of(limits.host_names.begin(), limits.host_names.end(), [&](const std::string& allowed) {
    return beast::iequals(allowed, name);
  });
}

HttpListener::HttpListener(std::string address, std::uint16_t port, bool fall_back_to_free_port, const HttpLimits& limits,
                           Handler handler, Log log)
    : impl_(std::make_shared<Impl>(std::move(address), port, fall_back_to_free_port, limits, std::move(handler),
                                   std::move(log))) {}

HttpListener::~HttpListener() { stop(); }

void HttpListener::start() {
  Impl& impl = *impl_;
  if (!impl.limits.tls_certificate_file.empty() || !impl.limits.tls_private_key_file.empty()) {
    auto tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                     asio::ssl::context::single_dh_use);
    SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
    beast::error_code tls_error;
    tls->use_certificate_chain_file(impl.limits.tls_certificate_file, tls_error);
    if (tls_error) {
      throw std::runtime_error("http.tls_cert: cannot load the certificate chain " + impl.limits.tls_certificate_file +
                               " (PEM expected)");
    }
    tls->use_private_key_file(impl.limits.tls_private_key_file, asio::ssl::context::pem, tls_error);
    if (tls_error || SSL_CTX_check_private_key(tls->native_handle()) != 1) {
      throw std::runtime_error("http.tls_key: cannot load the private key " + impl.limits.tls_private_key_file +
                               ", or it does not match the certificate (PEM expected)");
    }
    impl.tls = std::move(tls);
  }
  beast::error_code error;
  const asio::ip::address ip = asio::ip::make_address(impl.address, error);
  if (error) throw std::runtime_error("http.listen: '" + impl.address + "' is not an IP address");
  auto bind = [&](std::uint16_t port) {
    beast::error_code bind_error;
    if (impl.acceptor.is_open()) impl.acceptor.close(bind_error);
    const tcp::endpoint endpoint(ip, port);
    impl.acceptor.open(endpoint.protocol(), bind_error);
    if (!bind_error) impl.acceptor.set_option(asio::socket_base::reuse_address(true), bind_error);
    if (!bind_error) impl.acceptor.bind(endpoint, bind_error);
    if (!bind_error) impl.acceptor.listen(asio::socket_base::max_listen_connections, bind_error);
    return bind_error;
  };
  error = bind(impl.port);
  if (error == asio::error::address_in_use && impl.fall_back_to_free_port && impl.port != 0) {
    impl.log("info", "http_port_taken", "port=" + std::to_string(impl.port) + " using=any_free_port");
    error = bind(0);
  }
  if (error) {
    throw std::runtime_error("cannot listen for HTTP on " + impl.address + ":" + std::to_string(impl.port) + ": " +
                             error.message());
  }
  impl.port = impl.acceptor.local_endpoint().port();
  impl.accept_next();
  for (auto& entry : impl.periodic) {
    entry.timer = std::make_unique<asio::steady_timer>(impl.io);
    impl.schedule(entry);
  }
  impl.started = true;
  impl.thread = std::thread([&impl] {
    name_this_thread("og-http");
    impl.io.run();
  });
  impl.log("info", "http_listening", "url=" + url());
}

void HttpListener::stop() noexcept {
  Impl& impl = *impl_;
  if (!impl.started) return;
  impl.started = false;
  impl.io.stop();
  if (impl.thread.joinable()) impl.thread.join();
  // The thread is gone: nothing else touches the acceptor now.
  beast::error_code ignored;
  impl.acceptor.close(ignored);
}

void HttpListener::every(std::chrono::milliseconds interval, std::function<void()> task) {
  impl_->periodic.push_back({interval, std::move(task), nullptr});
}

std::uint16_t HttpListener::port() const noexcept { return impl_->port; }

std::string HttpListener::url() const {
  const bool v6 = impl_->address.find(':') != std::string::npos;
  return std::string(impl_->tls ? "https://" : "http://") + (v6 ? "[" + impl_->address + "]" : impl_->address) + ":" + std::to_string(impl_->port) + "/";
}

}  // namespace ordergate::server_detail
