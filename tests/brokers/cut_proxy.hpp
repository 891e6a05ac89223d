#pragma once

// A TCP relay on loopback between an adapter and the simulator that a test
// can cut: `cut()` closes every relayed connection and refuses new ones
// (the port stops listening), `restore()` listens again on the same port.
// It relays bytes only, so TLS runs end to end between the adapter and the
// simulator, as through any network path that fails.

#include <boost/asio.hpp>

#include <array>
#include <cstdint>
#include <future>
#include <list>
#include <memory>
#include <optional>
#include <thread>

namespace ordergate::brokers::testing {

class CutProxy {
 public:
  explicit CutProxy(std::uint16_t upstream_port)
      : upstream_(boost::asio::ip::make_address("127.0.0.1"), upstream_port), acceptor_(io_) {
    listen(0);
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { io_.run(); });
  }
  CutProxy(const CutProxy&) = delete;
  CutProxy& operator=(const CutProxy&) = delete;
  ~CutProxy() {
    on_loop([this] { close_all(); });
    work_.reset();
    io_.stop();
    thread_.join();
  }

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

  /// Every relayed connection is closed; connecting is refused until restore().
  void cut() {
    on_loop([this] { close_all(); });
  }
  void restore() {
    on_loop([this] { listen(port_); });
  }

 private:
  using tcp = boost::asio::ip::tcp;
  struct Link {
    explicit Link(boost::asio::io_context& io) : client(io), server(io) {}
    tcp::socket client;
    tcp::socket server;
    std::array<char, 16384> to_server{};
    std::array<char, 16384> to_client{};
    void close() {
      boost::system::error_code ignored;
      client.close(ignored);
      server.close(ignored);
    }
  };

  void listen(std::uint16_t port) {
    const tcp::endpoint endpoint(boost::asio::ip::make_address("127.0.0.1"), port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen();
    accept();
  }

  void close_all() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (const auto& link : links_) link->close();
    links_.clear();
  }

  void accept() {
    auto link = std::make_shared<Link>(io_);
    acceptor_.async_accept(link->client, [this, link](boost::system::error_code error) {
      if (error) return;  // closed by cut()
      links_.push_back(link);
      link->server.async_connect(upstream_, [this, link](boost::system::error_code connect_error) {
        if (connect_error) {
          link->close();
          return;
        }
        relay(link, link->client, link->server, link->to_server);
        relay(link, link->server, link->client, link->to_client);
      });
      accept();
    });
  }

  // Copies from `from` to `to` until either side closes, then closes both.
  void relay(const std::shared_ptr<Link>& link, tcp::socket& from, tcp::socket& to, std::array<char, 16384>& buffer) {
    from.async_read_some(boost::asio::buffer(buffer), [this, link, &from, &to, &buffer](
                                                          boost::system::error_code error, std::size_t size) {
      if (error) {
        link->close();
        return;
      }
      boost::asio::async_write(to, boost::asio::buffer(buffer.data(), size),
                               [this, link, &from, &to, &buffer](boost::system::error_code write_error, std::size_t) {
                                 if (write_error) {
                                   link->close();
                                   return;
                                 }
                                 relay(link, from, to, buffer);
                               });
    });
  }

  // Runs `work` on the relay's thread and waits for it.
  template <class Work>
  void on_loop(Work work) {
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      work();
      done.set_value();
    });
    done.get_future().wait();
  }

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      boost::asio::make_work_guard(io_)};
  tcp::endpoint upstream_;
  tcp::acceptor acceptor_;
  std::list<std::shared_ptr<Link>> links_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace ordergate::brokers::testing
