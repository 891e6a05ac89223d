// The Binance spot reply parsers (order replies of new order, query and
// cancel; book tickers; server time; reconciliation's open orders and
// account balances) on any body: a parsed value or "malformed", never a
// crash. The first byte picks the parser and the HTTP status (its top bit: a
// reconciliation parser, so older seeds keep their parser; with 0x20 and not
// 0x40: the cancelReplace parser); the rest is the body. Cumulative quantities the gateway books are never negative, and an
// open order never executed more than its quantity.
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
  if ((data[0] & 0x80) != 0) {
    if ((data[0] & 0x60) == 0x20) {
      // An outcome is only taken with what it needs to be acted on.
      const CancelReplaceReply reply = codec.parse_cancel_replace_reply(status, body);
      const bool cancelled = reply.outcome == ReplaceOutcome::replaced || reply.outcome == ReplaceOutcome::new_failed;
      if (cancelled) {
        ORDERGATE_FUZZ_CHECK(reply.canceled.order_id != 0);
        ORDERGATE_FUZZ_CHECK(!reply.canceled.executed_quantity.is_negative());
        ORDERGATE_FUZZ_CHECK(!reply.canceled.cumulative_quote.is_negative());
      }
      if (reply.outcome == ReplaceOutcome::replaced) {
        ORDERGATE_FUZZ_CHECK(reply.placed.order_id != 0 && status == 200);
        ORDERGATE_FUZZ_CHECK(!reply.placed.executed_quantity.is_negative());
      }
      if (reply.outcome == ReplaceOutcome::cancel_failed || reply.outcome == ReplaceOutcome::both_failed) {
        ORDERGATE_FUZZ_CHECK(reply.cancel_code < 0);
      }
      if (reply.outcome == ReplaceOutcome::new_failed || reply.outcome == ReplaceOutcome::both_failed) {
        ORDERGATE_FUZZ_CHECK(reply.new_code < 0);
      }
      return 0;
    }
    if ((data[0] & 0x40) != 0) {
      std::vector<AssetBalance> balances;
      if (codec.parse_balances(body, balances)) {
        for (const AssetBalance& balance : balances) {
          ORDERGATE_FUZZ_CHECK(!balance.free.is_negative() && !balance.locked.is_negative());
        }
      }
      return 0;
    }
    std::vector<OpenOrder> orders;
    if (codec.parse_open_orders(body, orders)) {
      for (const OpenOrder& order : orders) {
        ORDERGATE_FUZZ_CHECK(!order.executed_quantity.is_negative());
        ORDERGATE_FUZZ_CHECK(order.executed_quantity <= order.orig_quantity);
        ORDERGATE_FUZZ_CHECK(!order.cumulative_quote.is_negative());
      }
    }
    return 0;
  }
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
