#include "ordergate/core/order.hpp"

#include <gtest/gtest.h>

#include "ordergate/core/execution.hpp"

namespace ordergate {
namespace {

TEST(OrderEnums, PrintTheirProtocolSpellings) {
  EXPECT_EQ(to_string(Side::buy), "buy");
  EXPECT_EQ(to_string(Side::sell), "sell");
  EXPECT_EQ(to_string(OrderType::market), "market");
  EXPECT_EQ(to_string(OrderType::limit), "limit");
  EXPECT_EQ(to_string(OrderType::stop), "stop");
  EXPECT_EQ(to_string(TimeInForce::gtc), "gtc");
  EXPECT_EQ(to_string(TimeInForce::ioc), "ioc");
  EXPECT_EQ(to_string(TimeInForce::fok), "fok");
  EXPECT_EQ(to_string(TimeInForce::day), "day");
  EXPECT_EQ(to_string(TimeInForce::gtd), "gtd");
}

TEST(OrderEnums, ParseCaseInsensitivelyAndRoundTrip) {
  for (Side side : {Side::buy, Side::sell}) EXPECT_EQ(parse_side(to_string(side)), side);
  for (OrderType type : {OrderType::market, OrderType::limit, OrderType::stop}) {
    EXPECT_EQ(parse_order_type(to_string(type)), type);
  }
  for (TimeInForce tif : {TimeInForce::gtc, TimeInForce::ioc, TimeInForce::fok, TimeInForce::day,
                          TimeInForce::gtd}) {
    EXPECT_EQ(parse_time_in_force(to_string(tif)), tif);
  }
  EXPECT_EQ(parse_side("BUY"), Side::buy);
  EXPECT_EQ(parse_order_type("Limit"), OrderType::limit);
  EXPECT_EQ(parse_time_in_force("IOC"), TimeInForce::ioc);
}

TEST(OrderEnums, ParseAnythingElseAsUnset) {
  for (std::string_view text : {"", "unset", "UNSET", " buy", "buy ", "b", "buyy", "long"}) {
    EXPECT_EQ(parse_side(text), Side::unset) << text;
  }
  for (std::string_view text : {"", "unset", "stop_limit", "mkt", "market\n"}) {
    EXPECT_EQ(parse_order_type(text), OrderType::unset) << text;
  }
  for (std::string_view text : {"", "unset", "gtx", "good_till_cancel"}) {
    EXPECT_EQ(parse_time_in_force(text), TimeInForce::unset) << text;
  }
  EXPECT_EQ(parse_side(std::string_view("buy\0", 4)), Side::unset);
}

TEST(OrderEnums, PrintOutOfRangeValuesAsUnset) {
  EXPECT_EQ(to_string(static_cast<Side>(9)), "unset");
  EXPECT_EQ(to_string(static_cast<OrderType>(200)), "unset");
  EXPECT_EQ(to_string(static_cast<TimeInForce>(6)), "unset");
}

TEST(OrderEnums, SideSignIsZeroForInvalidSides) {
  EXPECT_EQ(side_sign(Side::buy), 1);
  EXPECT_EQ(side_sign(Side::sell), -1);
  EXPECT_EQ(side_sign(Side::unset), 0);
  EXPECT_EQ(side_sign(static_cast<Side>(7)), 0);
}

TEST(OrderEnums, DefaultRequestIsInvalidByConstruction) {
  const OrderRequest request;
  EXPECT_EQ(request.side, Side::unset);
  EXPECT_EQ(request.type, OrderType::unset);
  EXPECT_EQ(request.time_in_force, TimeInForce::unset);
}

TEST(ExecStatus, PrintsFixNamesAndKnowsTerminalStates) {
  EXPECT_EQ(to_string(ExecStatus::new_order), "NEW");
  EXPECT_EQ(to_string(ExecStatus::partially_filled), "PARTIALLY_FILLED");
  EXPECT_EQ(to_string(static_cast<ExecStatus>(42)), "UNKNOWN");
  EXPECT_FALSE(is_terminal(ExecStatus::new_order));
  EXPECT_FALSE(is_terminal(ExecStatus::partially_filled));
  for (ExecStatus status : {ExecStatus::filled, ExecStatus::canceled, ExecStatus::rejected,
                            ExecStatus::expired}) {
    EXPECT_TRUE(is_terminal(status)) << to_string(status);
  }
}

}  // namespace
}  // namespace ordergate
