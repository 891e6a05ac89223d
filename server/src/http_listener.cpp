#include "http_listener.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <atomic>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>

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
  std::thread thread;
  bool started = false;

  void accept_next();
  // True when the request's Host names this listener (or is absent in HTTP/1.0).
  [[nodiscard]] bool host_allowed(std::string_view host, unsigned version) const;
};

namespace {

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, HttpListener::Impl& owner)
      : stream_(std::move(socket)), owner_(owner), buffer_(owner.limits.max_header_bytes + owner.limits.max_body_bytes) {}
  ~HttpSession() { owner_.connections.fetch_sub(1, std::memory_order_relaxed); }
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  void read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(owner_.limits.max_header_bytes));
    parser_->body_limit(owner_.limits.max_body_bytes);
    stream_.expires_after(owner_.limits.timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](const beast::error_code& error, std::size_t) { self->on_read(error); });
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
      respond(400, "text/plain; charset=utf-8", "unexpected Host header\n", false, {}, version);
      return;
    }
    if (request.method() != http::verb::get) {
      respond(405, "text/plain; charset=utf-8", "method not allowed\n", keep_alive, "GET", version);
      return;
    }
    std::string_view target(request.target().data(), request.target().size());
    if (target.empty() || target.front() != '/') {
      respond(400, "text/plain; charset=utf-8", "bad request target\n", false, {}, version);
      return;
    }
    if (const auto query = target.find('?'); query != std::string_view::npos) target = target.substr(0, query);
    HttpResponse response;
    try {
      response = owner_.handler(target);
    } catch (const std::exception&) {
      response = HttpResponse{500, "text/plain; charset=utf-8", "internal error\n"};
    }
    respond(response.status, response.content_type, std::move(response.body), keep_alive, {}, version);
  }

  void respond(unsigned status, std::string_view content_type, std::string body, bool keep_alive,
               std::string_view allow, unsigned version) {
    response_ = {};
    response_.version(version == 10 ? 10 : 11);
    response_.result(status);
    response_.set(http::field::content_type, content_type);
    response_.set(http::field::cache_control, "no-store");
    response_.set("X-Content-Type-Options", "nosniff");
    if (!allow.empty()) response_.set(http::field::allow, allow);
    response_.body() = std::move(body);
    response_.keep_alive(keep_alive);
    response_.prepare_payload();
    stream_.expires_after(owner_.limits.timeout);
    http::async_write(stream_, response_,
                      [self = shared_from_this(), keep_alive](const beast::error_code& error, std::size_t) {
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
  void drain_and_close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(1));
    drain_next();
  }
  void drain_next() {
    stream_.async_read_some(asio::buffer(scratch_),
                            [self = shared_from_this()](const beast::error_code& error, std::size_t bytes) {
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
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  static constexpr std::size_t kMaxDrainBytes = 1 << 20;
  beast::tcp_stream stream_;
  HttpListener::Impl& owner_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  std::array<char, 4096> scratch_{};
  std::size_t drained_ = 0;
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
        std::make_shared<HttpSession>(std::move(socket), *this)->read();
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
  return name == "localhost" || name == "127.0.0.1" || name == "::1" || name == address;
}

HttpListener::HttpListener(std::string address, std::uint16_t port, bool fall_back_to_free_port, const HttpLimits& limits,
                           Handler handler, Log log)
    : impl_(std::make_shared<Impl>(std::move(address), port, fall_back_to_free_port, limits, std::move(handler),
                                   std::move(log))) {}

HttpListener::~HttpListener() { stop(); }

void HttpListener::start() {
  Impl& impl = *impl_;
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
  impl.started = true;
  impl.thread = std::thread([&impl] { impl.io.run(); });
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

std::uint16_t HttpListener::port() const noexcept { return impl_->port; }

std::string HttpListener::url() const {
  const bool v6 = impl_->address.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + impl_->address + "]" : impl_->address) + ":" + std::to_string(impl_->port) + "/";
}

}  // namespace ordergate::server_detail
