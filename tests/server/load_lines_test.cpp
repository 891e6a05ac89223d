#include "load_lines.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "protocol.hpp"

// The load generator's lines against the gateway's own codec: what it
// sends must decode as the order it means, and what it reads must be what
// the gateway's writers produce.
namespace ordergate::load {
namespace {

constexpr std::size_t kMaxLine = 4096;

TEST(LoadLines, EachOrderLineDecodesAsTheMarketOrderItNumbers) {
  const OrderLines lines("paper", "EURUSD", "1000", 0xAB12u);
  protocol::Decoder decoder{kMaxLine};
  for (const long long number : {0LL, 7LL, 4'096LL, 123'456'789'012LL, OrderLines::kNumbers - 1}) {
    for (const bool buy : {true, false}) {
      std::string out = "before\n";
      lines.append(out, number, buy);
      ASSERT_EQ(out.substr(0, 7), "before\n") << "appends, keeping what was there";
      ASSERT_EQ(out.back(), '\n');
      const std::string_view line = std::string_view(out).substr(7, out.size() - 8);
      protocol::Request request;
      protocol::DecodeError error;
      ASSERT_TRUE(decoder.decode(line, request, error)) << line << ": " << error.message;
      std::string digits = std::to_string(number);
      digits.insert(0, 12 - digits.size(), '0');
      EXPECT_EQ(request.op, protocol::Op::submit);
      EXPECT_EQ(request.id_json, "\"" + digits + "\"");
      EXPECT_EQ(request.cl_ord_id, "L0000ab12-" + digits);
      EXPECT_EQ(request.account, "paper");
      EXPECT_EQ(request.symbol, "EURUSD");
      const OrderRequest order = protocol::to_order_request(request);
      EXPECT_EQ(order.side, buy ? Side::buy : Side::sell);
      EXPECT_EQ(order.type, OrderType::market);
      EXPECT_EQ(order.time_in_force, TimeInForce::ioc);
      EXPECT_EQ(order.quantity, decimal_literal("1000"));
    }
  }
}

ExecutionReport report_of(ExecStatus status) {
  ExecutionReport report;
  report.status = status;
  report.side = Side::buy;
  (void)report.client_order_id.assign("L0000ab12-000000000042");
  return report;
}

TEST(LoadLines, ExecutionReportsAreReadByTheirStatus) {
  for (const auto& [status, name] : {std::pair{ExecStatus::new_order, "NEW"}, std::pair{ExecStatus::filled, "FILLED"},
                                     std::pair{ExecStatus::rejected, "REJECTED"},
                                     std::pair{ExecStatus::canceled, "CANCELED"}}) {
    ExecutionReport report = report_of(status);
    if (status == ExecStatus::rejected) {
      // A refusal's own fields must not be taken for the status.
      report.reason = Reason::BROKER_REJECTED;
      (void)report.broker_reason.assign("INSUFFICIENT_MARGIN");
    }
    std::string out;
    protocol::write_execution(out, report, "paper", "EURUSD");
    out.pop_back();
    const Reply reply = read_reply(out);
    EXPECT_EQ(reply.kind, Reply::Kind::exec) << out;
    EXPECT_EQ(reply.status, name) << out;
    EXPECT_EQ(reply.id, -1) << "a report answers no request";
  }
  ExecutionReport position = report_of(ExecStatus::filled);
  position.kind = ReportKind::position_fill;
  std::string out;
  protocol::write_execution(out, position, "paper", "EURUSD");
  out.pop_back();
  EXPECT_EQ(read_reply(out).kind, Reply::Kind::other) << "a fill of no order of the run: " << out;
}

TEST(LoadLines, RepliesNameTheRequestTheyAnswerAndWhyARefusalRefused) {
  protocol::Decoder decoder{kMaxLine};
  protocol::Request request;
  protocol::DecodeError error;
  std::string order;
  OrderLines("paper", "EURUSD", "1000", 1).append(order, 42, true);
  order.pop_back();
  ASSERT_TRUE(decoder.decode(order, request, error)) << error.message;

  // The accepted reply as the server writes it: type, op, the request's id.
  std::string accepted;
  protocol::JsonWriter(accepted)
      .begin()
      .string("type", "accepted")
      .string("op", "submit")
      .raw("id", request.id_json)
      .string("cl_ord_id", request.cl_ord_id)
      .integer("order_id", 9)
      .end();
  accepted.pop_back();
  Reply reply = read_reply(accepted);
  EXPECT_EQ(reply.kind, Reply::Kind::accepted) << accepted;
  EXPECT_EQ(reply.id, 42);

  std::string rejected;
  protocol::write_rejected(rejected, request, Reason::RATE_LIMITED, 5'000'000);
  rejected.pop_back();
  reply = read_reply(rejected);
  EXPECT_EQ(reply.kind, Reply::Kind::refused) << rejected;
  EXPECT_EQ(reply.id, 42);
  EXPECT_EQ(reply.reason, "RATE_LIMITED");

  std::string refused_by_error;
  protocol::write_error(refused_by_error, R"("000000000043")", "BAD_REQUEST", "qty: not a decimal");
  refused_by_error.pop_back();
  reply = read_reply(refused_by_error);
  EXPECT_EQ(reply.kind, Reply::Kind::refused) << refused_by_error;
  EXPECT_EQ(reply.id, 43);
  EXPECT_EQ(reply.reason, "BAD_REQUEST");

  // An integer id is read too; a reply without one answers no order.
  reply = read_reply(R"({"type":"accepted","op":"submit","id":44,"order_id":10})");
  EXPECT_EQ(reply.kind, Reply::Kind::accepted);
  EXPECT_EQ(reply.id, 44);
  reply = read_reply(R"({"type":"error","code":"LINE_TOO_LONG","message":"line too long"})");
  EXPECT_EQ(reply.kind, Reply::Kind::other);
  EXPECT_EQ(reply.id, -1);

  std::string notice;
  protocol::write_notice(notice, "SESSION_EXPIRING", "the session expires in 60 s");
  notice.pop_back();
  EXPECT_EQ(read_reply(notice).kind, Reply::Kind::other) << notice;
}

// The echo server returns the order line itself: no type of the gateway's,
// so the market order's own "type" member is not read as one.
TEST(LoadLines, TheEchoOfAnOrderLineAnswersThatOrder) {
  std::string order;
  OrderLines("paper", "EURUSD", "1000", 1).append(order, 77, false);
  order.pop_back();
  const Reply reply = read_reply(order);
  EXPECT_EQ(reply.kind, Reply::Kind::accepted) << order;
  EXPECT_EQ(reply.id, 77);
}

}  // namespace
}  // namespace ordergate::load
