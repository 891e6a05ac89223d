#include "server.hpp"

#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <array>
#include <deque>
#include <optional>
#include <vector>

namespace ordergate::sim {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

namespace {

constexpr std::size_t kHeaderLimit = std::size_t{16} * 1024;
constexpr std::size_t kBodyLimit = std::size_t{256} * 1024;
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kWriteTimeout = std::chrono::seconds(30);
constexpr auto kShutdownTimeout = std::chrono::seconds(2);

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

struct Shared {
  ssl::context& tls;
  Router& router;
  const ServerOptions& options;
  Stats& stats;
  const Logger& log;
};

class Session : public std::enable_shared_from_this<Session>, public StreamSink {
 public:
  Session(tcp::socket socket, Shared& shared, std::uint64_t id)
      : stream_(std::move(socket), shared.tls), timer_(stream_.get_executor()), shared_(shared), id_(id) {}

  void start() {
    auto& socket = beast::get_lowest_layer(stream_).socket();
    error_code ec;
    const auto remote = socket.remote_endpoint(ec);
    if (!ec) {
      remote_ip_ = remote.address().to_string();
      remote_is_loopback_ = remote.address().is_loopback();
    }
    socket.set_option(tcp::no_delay(true), ec);
    beast::get_lowest_layer(stream_).expires_after(kHandshakeTimeout);
    stream_.async_handshake(ssl::stream_base::server, beast::bind_front_handler(&Session::on_handshake, shared_from_this()));
  }

  /// Closes the connection at once, without a TLS close_notify.
  void close() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    error_code ec;
    auto& socket = beast::get_lowest_layer(stream_).socket();
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }

  void send_line(std::string line) override {
    if (!streaming_ || closed_) return;
    line += '\n';
    queue_.push_back(std::move(line));
    if (!writing_) write_next_chunk();
  }

  [[nodiscard]] bool is_open() const noexcept override { return streaming_ && !closed_; }

 private:
  void on_handshake(error_code ec) {
    if (ec) {
      ++shared_.stats.tls_handshakes_failed;
      shared_.log.info("conn " + std::to_string(id_) + " from " + remote_ip_ + ": TLS handshake failed: " +
                       ec.message());
      close();
      return;
    }
    ++shared_.stats.tls_handshakes_ok;
    do_read();
  }

  void do_read() {
    if (closed_) return;
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    auto& lowest = beast::get_lowest_layer(stream_);
    if (shared_.options.idle_close.count() > 0) {
      lowest.expires_after(shared_.options.idle_close);
    } else {
      lowest.expires_never();
    }
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(error_code ec, std::size_t) {
    if (closed_) return;
    if (ec == http::error::end_of_stream) return do_shutdown();
    if (ec == beast::error::timeout && shared_.options.idle_close.count() > 0) {
      ++shared_.stats.idle_closes;
      // tcp_stream has already closed the socket: no close_notify, as when a
      // load balancer drops an idle connection.
      shared_.log.request("conn " + std::to_string(id_) + ": idle for " +
                          std::to_string(shared_.options.idle_close.count()) + " ms, closed");
      return close();
    }
    if (ec) {
      if (ec != net::error::operation_aborted && ec != net::ssl::error::stream_truncated &&
          ec != net::error::eof && ec != net::error::connection_reset) {
        shared_.log.request("conn " + std::to_string(id_) + ": read failed: " + ec.message());
      }
      return close();
    }
    const auto& message = parser_->get();
    HttpRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    const std::size_t question = request.target.find('?');
    request.path = request.target.substr(0, question);
    if (question != std::string::npos) request.query = request.target.substr(question + 1);
    for (const auto& field : message) {
      request.headers.emplace_back(lower(field.name_string()), std::string(field.value()));
    }
    request.body = message.body();
    request.remote_ip = remote_ip_;
    request.remote_is_loopback = remote_is_loopback_;
    request.connection_id = id_;
    keep_alive_ = message.keep_alive();
    version_ = message.version();
    ++shared_.stats.requests;
    ++requests_;

    HttpResponse response = shared_.router.handle(request);
    shared_.log.request("conn " + std::to_string(id_) + " " + request.method + " " + request.path + " -> " +
                        std::to_string(response.status));

    auto delay = shared_.options.latency;
    if (shared_.options.stall.count() > 0 &&
        std::string_view(request.path).substr(0, shared_.options.stall_prefix.size()) == shared_.options.stall_prefix) {
      delay += shared_.options.stall;
    }
    if (delay.count() > 0) {
      pending_ = std::move(response);
      timer_.expires_after(delay);
      timer_.async_wait([self = shared_from_this()](error_code wait_error) {
        if (wait_error || self->closed_) return;
        HttpResponse delayed = std::move(*self->pending_);
        self->pending_.reset();
        self->send(std::move(delayed));
      });
      return;
    }
    send(std::move(response));
  }

  void send(HttpResponse response) {
    if (response.on_stream_open) return start_stream(std::move(response));
    response_.emplace(static_cast<http::status>(response.status), version_);
    auto& message = *response_;
    message.set(http::field::server, "ordergate-sim");
    message.set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) message.set(name, value);
    message.body() = std::move(response.body);
    message.keep_alive(keep_alive_);
    message.prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(kWriteTimeout);
    http::async_write(stream_, message, beast::bind_front_handler(&Session::on_write, shared_from_this()));
  }

  void on_write(error_code ec, std::size_t) {
    if (ec) return close();
    response_.reset();
    if (shared_.options.drop_after != 0 && requests_ >= shared_.options.drop_after) {
      ++shared_.stats.connections_dropped;
      shared_.log.request("conn " + std::to_string(id_) + ": dropping after " + std::to_string(requests_) +
                          " requests (--drop-after)");
      return close();
    }
    if (!keep_alive_) return do_shutdown();
    do_read();
  }

  void do_shutdown() {
    if (closed_) return;
    beast::get_lowest_layer(stream_).expires_after(kShutdownTimeout);
    stream_.async_shutdown([self = shared_from_this()](error_code) { self->close(); });
  }

  // Chunked streaming (OANDA's transaction stream). No write timeout here:
  // tcp_stream's expiry would also cancel the read that watches for the
  // client going away.
  void start_stream(HttpResponse response) {
    stream_header_.emplace(http::status::ok, version_);
    stream_header_->set(http::field::server, "ordergate-sim");
    stream_header_->set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) stream_header_->set(name, value);
    stream_header_->keep_alive(keep_alive_);
    stream_header_->chunked(true);
    serializer_.emplace(*stream_header_);
    beast::get_lowest_layer(stream_).expires_never();
    http::async_write_header(
        stream_, *serializer_,
        [self = shared_from_this(), open = std::move(response.on_stream_open)](error_code ec, std::size_t) {
          if (ec) return self->close();
          self->streaming_ = true;
          self->watch_for_close();
          open(self);
        });
  }

  void watch_for_close() {
    stream_.async_read_some(net::buffer(scratch_), [self = shared_from_this()](error_code ec, std::size_t) {
      if (ec) {
        if (!self->closed_) self->shared_.log.request("conn " + std::to_string(self->id_) + ": stream closed by client");
        return self->close();
      }
      self->watch_for_close();
    });
  }

  void write_next_chunk() {
    if (queue_.empty() || closed_) return;
    writing_ = true;
    chunk_ = std::move(queue_.front());
    queue_.pop_front();
    net::async_write(stream_, http::make_chunk(net::buffer(chunk_)),
                     [self = shared_from_this()](error_code ec, std::size_t) {
                       self->writing_ = false;
                       if (ec) return self->close();
                       self->write_next_chunk();
                     });
  }

  beast::ssl_stream<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  net::steady_timer timer_;
  Shared& shared_;
  std::uint64_t id_;
  std::string remote_ip_ = "?";
  bool remote_is_loopback_ = false;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
  std::optional<HttpResponse> pending_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
  std::uint64_t requests_ = 0;
  bool closed_ = false;
  // streaming
  bool streaming_ = false;
  bool writing_ = false;
  std::optional<http::response<http::empty_body>> stream_header_;
  std::optional<http::response_serializer<http::empty_body>> serializer_;
  std::deque<std::string> queue_;
  std::string chunk_;
  std::array<char, 512> scratch_{};
};

}  // namespace

struct Server::Impl {
  Impl(net::io_context& io_context, const TlsIdentity& identity, Router& router, ServerOptions server_options,
       Stats& stats_ref, const Logger& logger)
      : io(io_context), tls(ssl::context::tls_server), options(std::move(server_options)), acceptor(io_context),
        shared{tls, router, options, stats_ref, logger} {
    tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    if (SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION) != 1) {
      throw std::runtime_error("cannot require TLS 1.2");
    }
    tls.use_certificate_chain(net::buffer(identity.cert_pem));
    tls.use_private_key(net::buffer(identity.key_pem), ssl::context::pem);

    error_code ec;
    const auto address = net::ip::make_address(options.bind_address, ec);
    if (ec) throw std::runtime_error("invalid --bind address '" + options.bind_address + "'");
    const tcp::endpoint endpoint(address, options.port);
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      throw std::runtime_error("cannot listen on " + options.bind_address + ":" + std::to_string(options.port) + ": " +
                               ec.message());
    }
  }

  void accept() {
    acceptor.async_accept(io, [this](error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec != net::error::operation_aborted && acceptor.is_open()) accept();
        return;
      }
      ++shared.stats.connections_accepted;
      auto session = std::make_shared<Session>(std::move(socket), shared, ++next_id);
      std::erase_if(sessions, [](const std::weak_ptr<Session>& weak) { return weak.expired(); });
      sessions.push_back(session);
      session->start();
      accept();
    });
  }

  net::io_context& io;
  ssl::context tls;
  ServerOptions options;
  tcp::acceptor acceptor;
  Shared shared;
  std::uint64_t next_id = 0;
  std::vector<std::weak_ptr<Session>> sessions;
};

Server::Server(net::io_context& io, const TlsIdentity& identity, Router& router, ServerOptions options, Stats& stats,
               const Logger& log)
    : impl_(std::make_unique<Impl>(io, identity, router, std::move(options), stats, log)) {}

Server::~Server() = default;

std::uint16_t Server::port() const { return impl_->acceptor.local_endpoint().port(); }

void Server::start() { impl_->accept(); }

void Server::stop() {
  error_code ec;
  impl_->acceptor.close(ec);
  for (auto& weak : impl_->sessions) {
    if (auto session = weak.lock()) session->close();
  }
  impl_->sessions.clear();
}

}  // namespace ordergate::sim
