#pragma once
/// \file
/// What `ordergate-load` writes and reads on the gateway's socket: the
/// submit line of each order, and what it needs of each line the gateway
/// sends back. Both run once per order on a core the client shares with
/// the gateway on small machines, so neither formats nor scans more than it
/// must: the submit line is built once per side and each order only writes
/// its number into it, and a reply is read from its leading `type` on.

#include <charconv>
#include <cstddef>
#include <string>
#include <string_view>

namespace ordergate::load {

/// The submit lines of a run: a market IOC order for `account`, `symbol`
/// and `qty` (written as given), its request id the order's number in 12
/// digits, its client order id `L<nonce in 8 hex digits>-<number>`.
class OrderLines {
 public:
  /// Numbers fit in 12 digits: below kNumbers.
  static constexpr long long kNumbers = 1'000'000'000'000LL;

  OrderLines(std::string_view account, std::string_view symbol, std::string_view qty, unsigned nonce) {
    char nonce_hex[9] = "00000000";
    for (int digit = 7; digit >= 0; --digit, nonce >>= 4) nonce_hex[digit] = "0123456789abcdef"[nonce & 0xF];
    for (int buy = 0; buy < 2; ++buy) {
      std::string& line = line_[buy];
      line = R"({"op":"submit","id":")";
      id_at_[buy] = line.size();
      line.append(kDigits, '0');
      line.append(R"(","account":")").append(account);
      line.append(R"(","symbol":")").append(symbol);
      line.append(R"(","side":")").append(buy != 0 ? "buy" : "sell");
      line.append(R"(","type":"market","qty":")").append(qty);
      line.append(R"(","tif":"ioc","cl_ord_id":"L)").append(nonce_hex, 8).append("-");
      client_id_at_[buy] = line.size();
      line.append(kDigits, '0');
      line.append("\"}\n");
    }
  }

  /// Appends the line of order `number` (0 <= number < kNumbers).
  void append(std::string& out, long long number, bool buy) const {
    const std::string& line = line_[buy ? 1 : 0];
    const std::size_t at = out.size();
    out.append(line);
    char* const start = out.data() + at;
    write_number(start + id_at_[buy ? 1 : 0], number);
    write_number(start + client_id_at_[buy ? 1 : 0], number);
  }

 private:
  static constexpr std::size_t kDigits = 12;
  static void write_number(char* digits, long long number) {
    for (std::size_t i = kDigits; i-- > 0; number /= 10) digits[i] = static_cast<char>('0' + number % 10);
  }
  std::string line_[2];  // sell, buy
  std::size_t id_at_[2] = {};
  std::size_t client_id_at_[2] = {};
};

/// What the client needs of one line from the gateway.
struct Reply {
  enum class Kind { exec, accepted, refused, other };
  Kind kind = Kind::other;
  /// exec: the report's status ("NEW", "FILLED", ...).
  std::string_view status;
  /// accepted or refused: the request id it answers; -1 when it names none.
  long long id = -1;
  /// refused: the reason, when the line gives one.
  std::string_view reason;
};

namespace detail {
// The string value of `"name":"` in `line` from `from` on; empty when absent.
inline std::string_view string_after(std::string_view line, std::string_view key, std::size_t from = 0) {
  const std::size_t at = line.find(key, from);
  if (at == std::string_view::npos) return {};
  const std::string_view rest = line.substr(at + key.size());
  return rest.substr(0, rest.find('"'));
}
}  // namespace detail

/// Reads one line (without its newline). Every line of the gateway starts
/// with its `type`; one whose type is not `exec` (or `position_fill`,
/// `event`, `notice`: other) answers a request: `accepted`, or refused
/// (`rejected`, `error`) when it names a request id. A line that does not
/// start with a type, such as the echo server's copy of a submit line, is
/// `accepted` when it names an id.
inline Reply read_reply(std::string_view line) {
  Reply reply;
  constexpr std::string_view kTypeFirst = R"({"type":")";
  const std::string_view type =
      line.substr(0, kTypeFirst.size()) == kTypeFirst ? detail::string_after(line, kTypeFirst) : std::string_view{};
  if (type == "exec") {
    reply.kind = Reply::Kind::exec;
    reply.status = detail::string_after(line, R"("status":")", kTypeFirst.size() + type.size());
    return reply;
  }
  if (type == "position_fill" || type == "event" || type == "notice") return reply;
  constexpr std::string_view kId = R"("id":)";
  const std::size_t at = line.find(kId);
  if (at == std::string_view::npos) return reply;
  const char* first = line.data() + at + kId.size();
  const char* const last = line.data() + line.size();
  if (first < last && *first == '"') ++first;
  long long id = -1;
  const auto [end, error] = std::from_chars(first, last, id);
  if (error != std::errc() || id < 0) return reply;
  reply.id = id;
  if (type.empty() || type == "accepted") {
    reply.kind = Reply::Kind::accepted;
  } else {
    reply.kind = Reply::Kind::refused;
    reply.reason = detail::string_after(line, R"("reason":")");
    if (reply.reason.empty()) reply.reason = detail::string_after(line, R"("code":")");
  }
  return reply;
}

}  // namespace ordergate::load
