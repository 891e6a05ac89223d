#include "connection.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <sys/socket.h>

#include "protocol.hpp"

namespace ordergate::server_detail {

namespace asio = boost::asio;

Connection::Connection(asio::io_context& io, ConnectionOwner& owner, const Clock& clock, ConnectionLimits limits)
    : socket_(io), owner_(owner), clock_(clock), limits_(limits) {}

void Connection::accepted(std::uint64_t number) {
  number_ = number;
  last_activity_ns_ = clock_.monotonic_ns();
  ucred credentials{};
  socklen_t length = sizeof credentials;
  if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0) {
    peer_uid = credentials.uid;
    peer_gid = credentials.gid;
    peer_pid = credentials.pid;
  }
}

void Connection::start_reading() { read_next(); }

void Connection::read_next() {
  if (closing_ || closed_) return;
  socket_.async_read_some(asio::buffer(read_buffer_.get(), kReadChunk),
                          [self = shared_from_this()](const boost::system::error_code& error, std::size_t size) {
                            if (self->closed_) return;
                            if (error) {
                              self->close(error == asio::error::eof ? "eof" : "read_error");
                              return;
                            }
                            self->last_activity_ns_ = self->clock_.monotonic_ns();
                            self->input_.append(self->read_buffer_.get(), size);
                            self->process_input();
                            self->owner_.after_read(*self);
                            self->flush();
                            self->read_next();
                          });
}

void Connection::process_input() {
  std::size_t begin = 0;
  while (!closing_) {
    const std::size_t newline = input_.find('\n', begin);
    if (newline == std::string::npos) break;
    std::string_view line(input_.data() + begin, newline - begin);
    begin = newline + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > limits_.max_line_bytes) {
      oversized();
      return;
    }
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    owner_.on_line(*this, line);
  }
  input_.erase(0, begin);
  if (input_.size() > limits_.max_line_bytes) oversized();
}

void Connection::oversized() {
  protocol::write_error(output_, {}, protocol::ErrorCode::line_too_long,
                        "line longer than " + std::to_string(limits_.max_line_bytes) + " bytes; closing");
  input_.clear();
  close_after_flush();
}

void Connection::count_error() {
  if (++errors_ >= limits_.max_errors) {
    protocol::write_error(output_, {}, protocol::ErrorCode::too_many_errors, "too many malformed requests or failed hellos; closing");
    close_after_flush();
  }
}

void Connection::flush() {
  if (closed_) return;
  // Checked before anything else: a reader that stopped reading keeps a
  // write in flight forever, and its output must not grow without end.
  if (output_.size() > limits_.max_output_bytes) {
    close("slow_reader");
    return;
  }
  if (writing_) return;
  if (hold_sequence_ != 0) {
    // fsync "always": the acknowledgement leaves only once it is on disk,
    // or once the journal failed and it never will be. The replies then go
    // out as they are: an accepted order did reach the broker, and new ones
    // are refused AUDIT_UNAVAILABLE.
    if (owner_.durable_sequence() < hold_sequence_ && !owner_.journal_failed()) return;
    hold_sequence_ = 0;
  }
  if (output_.empty()) {
    if (closing_) close("closed_by_server");
    return;
  }
  in_flight_.swap(output_);
  output_.clear();
  writing_ = true;
  asio::async_write(socket_, asio::buffer(in_flight_),
                    [self = shared_from_this()](const boost::system::error_code& error, std::size_t) {
                      self->writing_ = false;
                      self->in_flight_.clear();
                      if (self->closed_) return;
                      self->last_activity_ns_ = self->clock_.monotonic_ns();  // a listener is not idle
                      if (error) {
                        self->close("write_error");
                        return;
                      }
                      self->flush();
                    });
}

void Connection::close(std::string_view why) {
  if (closed_) return;
  closed_ = true;
  owner_.on_close(*this, why);
  boost::system::error_code ignored;
  socket_.shutdown(asio::socket_base::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace ordergate::server_detail
