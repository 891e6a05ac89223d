// The Binance spot reply parsers (order replies of new order, query and
// cancel; book tickers; server time) on any body: a parsed value or
// "malformed", never a crash. The first byte picks the parser and the HTTP
// status; the rest is the body. Cumulative quantities the gateway books are
// never negative.
#include "ordergate/adapters/binance/binance_protocol.hpp"

#include <vector>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ordergate::adapters::binance;
  if (size == 0) return 0;
  static BinanceCodec codec;
  static const int kStatuses[] = {200, 400, 403, 418, 429, 503};
  const int status = kStatuses[(data[0] >> 2) % 6];
  const std::string_view body = ordergate::fuzz::as_text(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      const OrderReply reply = codec.parse_order_reply(status, body);
      if (reply.kind == ReplyKind::ok) {
        ORDERGATE_FUZZ_CHECK(!reply.order.executed_quantity.is_negative());
        ORDERGATE_FUZZ_CHECK(!reply.order.cumulative_quote.is_negative());
      }
      break;
    }
    case 1: {
      std::vector<BookTicker> tickers;
      (void)codec.parse_book_tickers(body, tickers);
      break;
    }
    default: {
      std::int64_t server_time_ms = 0;
      (void)codec.parse_server_time(body, server_time_ms);
      break;
    }
  }
  return 0;
}
