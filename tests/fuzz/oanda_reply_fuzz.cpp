// The OANDA v20 reply parsers (order and cancel replies, prices,
// transactions, lastTransactionID, error codes, and reconciliation's pending
// orders and open positions) on any body: a parsed value or "malformed",
// never a crash. The first byte picks the parser and the HTTP status (its
// top bit: a reconciliation parser, so older seeds keep their parser; with
// 0x20 and not 0x40: the amend reply's parser, its status from the low three
// bits); the rest is the body. An amend outcome is only taken with the ids it
// is acted on by. Fill amounts the gateway books are never negative (the
// parser reports absolute units), nor are the units of a held order.
#include "ordergate/adapters/oanda/oanda_protocol.hpp"

#include <vector>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ordergate::adapters::oanda;
  if (size == 0) return 0;
  static OandaCodec codec;
  static const int kStatuses[] = {200, 201, 400, 404, 429, 500};
  const int status = kStatuses[(data[0] >> 3) % 6];
  const std::string_view body = ordergate::fuzz::as_text(data + 1, size - 1);
  if ((data[0] & 0x80) != 0) {
    if ((data[0] & 0x60) == 0x20) {
      const int replace_status = kStatuses[(data[0] & 0x07) % 6];
      const ReplaceReply reply = codec.parse_replace_reply(replace_status, body);
      if (reply.outcome == ReplaceOutcome::replaced) {
        ORDERGATE_FUZZ_CHECK(reply.order_id != 0 && reply.canceled_order_id != 0);
        ORDERGATE_FUZZ_CHECK(replace_status == 200 || replace_status == 201);
        if (reply.filled) ORDERGATE_FUZZ_CHECK(!reply.fill_units.is_negative());
      } else {
        ORDERGATE_FUZZ_CHECK(reply.order_id == 0);
        ORDERGATE_FUZZ_CHECK(!reply.filled && !reply.replacement_canceled);
      }
      if (reply.outcome == ReplaceOutcome::create_rejected) ORDERGATE_FUZZ_CHECK(reply.canceled_order_id != 0);
      if (reply.outcome != ReplaceOutcome::unknown && reply.outcome != ReplaceOutcome::replaced) {
        ORDERGATE_FUZZ_CHECK(!reply.reject_reason.empty());
      }
      return 0;
    }
    std::uint64_t last = 0;
    if ((data[0] & 0x40) != 0) {
      std::vector<OpenPosition> positions;
      if (codec.parse_open_positions(body, positions, last)) {
        for (const OpenPosition& position : positions) ORDERGATE_FUZZ_CHECK(!position.net.is_zero());
      }
      return 0;
    }
    std::vector<PendingOrder> orders;
    if (codec.parse_pending_orders(body, orders, last)) {
      for (const PendingOrder& order : orders) {
        if (order.attached || order.type == ordergate::OrderType::unset) continue;
        ORDERGATE_FUZZ_CHECK(order.units.is_positive());
        ORDERGATE_FUZZ_CHECK(order.side != ordergate::Side::unset);
        ORDERGATE_FUZZ_CHECK(order.time_in_force != ordergate::TimeInForce::unset);
      }
    }
    return 0;
  }
  switch (data[0] % 6) {
    case 0: {
      const OrderReply reply = codec.parse_order_reply(status, body);
      if (reply.filled) ORDERGATE_FUZZ_CHECK(!reply.fill_units.is_negative());
      break;
    }
    case 1:
      (void)codec.parse_cancel_reply(status, body);
      break;
    case 2: {
      std::vector<PriceUpdate> prices;
      (void)codec.parse_prices(body, prices);
      break;
    }
    case 3: {
      std::vector<Transaction> transactions;
      std::uint64_t last = 0;
      if (codec.parse_transactions(body, transactions, last)) {
        for (const Transaction& transaction : transactions) {
          if (transaction.type == Transaction::Type::order_fill) {
            ORDERGATE_FUZZ_CHECK(!transaction.units.is_negative());
          }
        }
      }
      break;
    }
    case 4: {
      std::uint64_t last = 0;
      (void)codec.parse_last_transaction_id(body, last);
      break;
    }
    default:
      (void)codec.error_code(body);
      break;
  }
  return 0;
}
