#include "protocol.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ordergate::protocol {
namespace {

constexpr std::size_t kMaxLine = 4096;

// One decoder per test, as one per thread in the server.
struct Wire {
  Decoder decoder{kMaxLine};
  Request request;
  DecodeError error;
  bool decode(std::string_view line) { return decoder.decode(line, request, error); }
  // The reply the server sends for a decode failure.
  std::string reply() const {
    std::string out;
    if (error.reject_reason != Reason::OK) {
      write_rejected(out, request, error.reject_reason, 0);
    } else {
      write_error(out, request.id_json, error.code, error.message);
    }
    return out;
  }
};

// A reply line as members, read back with simdjson (so the test does not
// trust the writer it tests).
std::vector<std::pair<std::string, std::string>> members(const std::string& line) {
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(parser.parse(line).get(object), simdjson::SUCCESS) << line;
  std::vector<std::pair<std::string, std::string>> out;
  for (auto [key, value] : object) out.emplace_back(std::string(key), simdjson::minify(value));
  return out;
}

std::string member(const std::string& line, std::string_view key) {
  for (const auto& [name, value] : members(line)) {
    if (name == key) return value;
  }
  return "(absent)";
}

const std::string kSubmitMembers[] = {
    R"("op":"submit")",   R"("account":"paper")", R"("symbol":"EURUSD")", R"("side":"buy")",
    R"("type":"market")", R"("qty":"1000")",      R"("tif":"ioc")",       R"("cl_ord_id":"x1")",
    R"("id":2)",
};

std::string object_of(const std::vector<std::string>& parts) {
  std::string line = "{";
  for (std::size_t i = 0; i < parts.size(); ++i) line += (i > 0 ? "," : "") + parts[i];
  return line + "}";
}

// ---- every op ----------------------------------------------------------------

TEST(Protocol, EveryOpDecodesWithItsRequiredFieldsAndNamesItselfBack) {
  const std::vector<std::pair<std::string, Op>> ops = {
      {R"({"op":"hello","token":"t"})", Op::hello},
      {R"({"op":"submit","account":"a","symbol":"EURUSD","side":"buy","type":"limit","qty":"1","price":"1.1","tif":"gtc","cl_ord_id":"c"})", Op::submit},
      {R"({"op":"cancel","cl_ord_id":"c"})", Op::cancel},
      {R"({"op":"cancel_all"})", Op::cancel_all},
      {R"({"op":"orders"})", Op::orders},
      {R"({"op":"positions"})", Op::positions},
      {R"({"op":"ping"})", Op::ping},
      {R"({"op":"bye"})", Op::bye},
      {R"({"op":"halt","scope":"global","cancel_orders":true})", Op::halt},
      {R"({"op":"reduce","scope":"account:a"})", Op::reduce},
      {R"({"op":"resume","scope":"principal:p"})", Op::resume},
      {R"({"op":"disable_principal","principal":"p"})", Op::disable_principal},
      {R"({"op":"enable_principal","principal":"p"})", Op::enable_principal},
      {R"({"op":"revoke_sessions","principal":"p"})", Op::revoke_sessions},
      {R"({"op":"reload"})", Op::reload},
      {R"({"op":"subscribe","streams":["executions"]})", Op::subscribe},
      {R"({"op":"replace","cl_ord_id":"c","new_cl_ord_id":"d","qty":"2"})", Op::replace},
  };
  Wire wire;
  for (const auto& [line, op] : ops) {
    ASSERT_TRUE(wire.decode(line)) << line << ": " << wire.error.message;
    EXPECT_EQ(wire.request.op, op) << line;
    EXPECT_NE(line.find("\"" + std::string(op_name(op)) + "\""), std::string::npos) << line;
  }
}

TEST(Protocol, SubmitMapsEveryFieldOntoTheOrderRequest) {
  Wire wire;
  ASSERT_TRUE(wire.decode(
      R"({"op":"submit","id":"a-1","account":"acc","symbol":"EUR/USD","side":"sell","type":"stop","qty":250,)"
      R"("stop_price":"1.2","price":"1.3","tif":"gtd","cl_ord_id":"c-9","tag":"t","stop_loss":"1.1",)"
      R"("take_profit":"1.4","expire_time_ns":1700000000000000000})"))
      << wire.error.message;
  const OrderRequest order = to_order_request(wire.request);
  EXPECT_EQ(wire.request.id_json, "\"a-1\"");
  EXPECT_EQ(order.account, "acc");
  EXPECT_EQ(order.symbol, "EUR/USD");
  EXPECT_EQ(order.side, Side::sell);
  EXPECT_EQ(order.type, OrderType::stop);
  EXPECT_EQ(order.time_in_force, TimeInForce::gtd);
  EXPECT_EQ(order.quantity, decimal_literal("250"));
  EXPECT_EQ(order.price, decimal_literal("1.3"));
  EXPECT_EQ(order.stop_price, decimal_literal("1.2"));
  EXPECT_EQ(order.stop_loss, decimal_literal("1.1"));
  EXPECT_EQ(order.take_profit, decimal_literal("1.4"));
  EXPECT_EQ(order.expire_time_ns, 1'700'000'000'000'000'000);
  EXPECT_EQ(order.client_order_id, "c-9");
  EXPECT_EQ(order.text, "t");

  ASSERT_TRUE(wire.decode(R"({"op":"submit","account":"a","symbol":"s","side":"up","type":"x","qty":"1","tif":"y","cl_ord_id":"c"})"));
  const OrderRequest unknown_words = to_order_request(wire.request);
  EXPECT_EQ(unknown_words.side, Side::unset);  // the guards reject unset values, not the decoder
  EXPECT_EQ(unknown_words.type, OrderType::unset);
  EXPECT_EQ(unknown_words.time_in_force, TimeInForce::unset);
  EXPECT_FALSE(unknown_words.price.has_value());
}

TEST(Protocol, ScopesAndTradingStatesOfTheAdminOps) {
  ASSERT_TRUE(to_trading_scope("global"));
  EXPECT_EQ(to_trading_scope("global")->kind, TradingScope::Kind::global);
  EXPECT_EQ(to_trading_scope("account:fx-1")->kind, TradingScope::Kind::account);
  EXPECT_EQ(to_trading_scope("account:fx-1")->name, "fx-1");
  EXPECT_EQ(to_trading_scope("principal:bot")->kind, TradingScope::Kind::principal);
  EXPECT_EQ(to_trading_scope("principal:bot")->name, "bot");
  EXPECT_FALSE(to_trading_scope("Global"));
  EXPECT_FALSE(to_trading_scope("account"));
  EXPECT_FALSE(to_trading_scope(""));
  EXPECT_EQ(to_trading_state(Op::halt), guards::TradingState::halted);
  EXPECT_EQ(to_trading_state(Op::reduce), guards::TradingState::reducing);
  EXPECT_EQ(to_trading_state(Op::resume), guards::TradingState::active);
}

// ---- every error code ----------------------------------------------------------

struct Case {
  std::string line;
  ErrorCode code;
  std::string message_part;
};

TEST(Protocol, EveryMalformedRequestGetsItsErrorCodeAndAMessageNamingTheField) {
  const std::vector<Case> cases = {
      {"not json", ErrorCode::invalid_json, "JSON"},
      {"[1,2]", ErrorCode::invalid_json, "one JSON object"},
      {R"("ping")", ErrorCode::invalid_json, "one JSON object"},
      {R"({"op":"ping"} {"op":"ping"})", ErrorCode::invalid_json, "trailing content"},
      {R"({"op":"ping",})", ErrorCode::invalid_json, ""},
      {R"({"op":"ping")", ErrorCode::invalid_json, ""},
      {R"({"op":"submit","qty":007})", ErrorCode::invalid_json, "field 'qty' is not a JSON number"},
      {"{\"op\":\"p\xC3\x28\"}", ErrorCode::invalid_utf8, "UTF-8"},
      {std::string(kMaxLine + 1, ' '), ErrorCode::line_too_long, "longer than 4096"},
      {R"({"op":"fly"})", ErrorCode::unknown_op, "unknown op"},
      {R"({"id":1})", ErrorCode::missing_field, "field 'op' is required"},
      {R"({"op":"hello"})", ErrorCode::missing_field, "field 'token' is required for op 'hello'"},
      {R"({"op":"cancel"})", ErrorCode::missing_field, "field 'cl_ord_id' is required for op 'cancel'"},
      {R"({"op":"halt"})", ErrorCode::missing_field, "field 'scope' is required for op 'halt'"},
      {R"({"op":"revoke_sessions"})", ErrorCode::missing_field, "field 'principal' is required"},
      {R"({"op":"submit","account":"a","symbol":"s","side":"buy","type":"market","tif":"ioc","cl_ord_id":"c"})",
       ErrorCode::missing_field, "field 'qty' is required for op 'submit'"},
      {R"({"op":1})", ErrorCode::invalid_field, "field 'op' must be a string"},
      {R"({"op":"ping","id":1.5})", ErrorCode::invalid_field, "field 'id' must be an integer"},
      {R"({"op":"ping","id":true})", ErrorCode::invalid_field, "field 'id' must be a string or an integer"},
      {R"({"op":"ping","id":")" + std::string(70, 'i') + R"("})", ErrorCode::invalid_field, "field 'id' is too long"},
      {R"({"op":"hello","token":")" + std::string(300, 't') + R"("})", ErrorCode::invalid_field, "field 'token' is too long"},
      {R"({"op":"ping","op":"ping"})", ErrorCode::invalid_field, "field 'op' given twice"},
      {R"({"op":"submit","qty":true})", ErrorCode::invalid_field, "field 'qty' must be a decimal string"},
      {R"({"op":"submit","price":"1,5"})", ErrorCode::invalid_field, "field 'price' is not a plain decimal number"},
      {R"({"op":"submit","qty":1e3})", ErrorCode::invalid_field, "field 'qty' is not a plain decimal number"},
      {R"({"op":"submit","expire_time_ns":"1"})", ErrorCode::invalid_field, "field 'expire_time_ns' must be an integer"},
      {R"({"op":"submit","expire_time_ns":1.5})", ErrorCode::invalid_field, "field 'expire_time_ns' must be an integer"},
      {R"({"op":"halt","cancel_orders":"yes"})", ErrorCode::invalid_field, "field 'cancel_orders' must be true or false"},
      {R"({"op":"ping","bogus":1})", ErrorCode::unknown_field, "unknown field"},
      {R"({"op":"ping","qty":"1"})", ErrorCode::unknown_field, "field 'qty' is not valid for op 'ping'"},
      {R"({"op":"resume","scope":"global","cancel_orders":true})", ErrorCode::unknown_field,
       "field 'cancel_orders' is not valid for op 'resume'"},
  };
  Wire wire;
  for (const Case& c : cases) {
    EXPECT_FALSE(wire.decode(c.line)) << c.line;
    EXPECT_EQ(wire.error.code, c.code) << c.line << " -> " << wire.error.message;
    EXPECT_NE(wire.error.message.find(c.message_part), std::string::npos) << c.line << " -> " << wire.error.message;
    EXPECT_EQ(wire.error.reject_reason, Reason::OK) << c.line;
    const std::string reply = wire.reply();
    EXPECT_EQ(member(reply, "type"), "\"error\"");
    EXPECT_EQ(member(reply, "code"), "\"" + std::string(error_name(c.code)) + "\"") << c.line;
  }
}

TEST(Protocol, ErrorMessagesNeverEchoTheOffendingValue) {
  Wire wire;
  for (const std::string line : {R"({"op":"submit","price":"SECRET-1"})", R"({"op":"SECRET-2"})",
                                 R"({"op":"ping","SECRET-3":1})", R"({"op":"hello","token":7})"}) {
    EXPECT_FALSE(wire.decode(line));
    EXPECT_EQ(wire.error.message.find("SECRET"), std::string::npos) << wire.error.message;
  }
}

TEST(Protocol, EveryErrorCodeHasItsStableName) {
  const std::vector<std::pair<ErrorCode, std::string_view>> names = {
      {ErrorCode::none, "NONE"},
      {ErrorCode::invalid_json, "INVALID_JSON"},
      {ErrorCode::invalid_utf8, "INVALID_UTF8"},
      {ErrorCode::line_too_long, "LINE_TOO_LONG"},
      {ErrorCode::unknown_op, "UNKNOWN_OP"},
      {ErrorCode::missing_field, "MISSING_FIELD"},
      {ErrorCode::invalid_field, "INVALID_FIELD"},
      {ErrorCode::unknown_field, "UNKNOWN_FIELD"},
      {ErrorCode::too_many_errors, "TOO_MANY_ERRORS"},
      {ErrorCode::peer_not_allowed, "PEER_NOT_ALLOWED"},
      {ErrorCode::too_many_connections, "TOO_MANY_CONNECTIONS"},
      {ErrorCode::not_permitted_now, "NOT_PERMITTED_NOW"},
      {ErrorCode::too_many_sessions, "TOO_MANY_SESSIONS"},
  };
  for (const auto& [code, name] : names) EXPECT_EQ(error_name(code), name);
}

TEST(Protocol, OverPreciseDecimalsAreRejectionsWithTheirReasonNotErrors) {
  Wire wire;
  EXPECT_FALSE(wire.decode(R"({"op":"submit","id":1,"qty":"1.0000000001"})"));
  EXPECT_EQ(wire.error.reject_reason, Reason::QUANTITY_PRECISION_EXCEEDED);
  for (const char* field : {"price", "stop_price", "stop_loss", "take_profit"}) {
    EXPECT_FALSE(wire.decode(std::string(R"({"op":"submit","id":1,")") + field + R"(":1.0000000001})"));
    EXPECT_EQ(wire.error.reject_reason, Reason::PRICE_PRECISION_EXCEEDED) << field;
    const std::string reply = wire.reply();
    EXPECT_EQ(member(reply, "type"), "\"rejected\"");
    EXPECT_EQ(member(reply, "reason"), "\"PRICE_PRECISION_EXCEEDED\"");
    EXPECT_EQ(member(reply, "id"), "1");
  }
}

// ---- the review's defect: members have no order ----------------------------------

TEST(Protocol, RejectionForAQuantityWithTenDecimalsEchoesIdAndClOrdIdPlacedAfterIt) {
  Wire wire;
  EXPECT_FALSE(wire.decode(
      R"({"op":"submit","account":"paper","symbol":"EURUSD","side":"buy","type":"market","qty":"1000.0000000001","tif":"ioc","cl_ord_id":"x1","id":2})"));
  const std::string reply = wire.reply();
  EXPECT_EQ(member(reply, "type"), "\"rejected\"");
  EXPECT_EQ(member(reply, "reason"), "\"QUANTITY_PRECISION_EXCEEDED\"");
  EXPECT_EQ(member(reply, "id"), "2");
  EXPECT_EQ(member(reply, "cl_ord_id"), "\"x1\"");
}

TEST(Protocol, QuantityWithTenZeroDecimalsIsRejectedAsTheDocumentSays) {
  Wire wire;
  EXPECT_FALSE(wire.decode(
      R"({"op":"submit","account":"paper","symbol":"EURUSD","side":"buy","type":"market","qty":"1000.0000000000","tif":"ioc","cl_ord_id":"x1","id":2})"));
  EXPECT_EQ(wire.error.reject_reason, Reason::QUANTITY_PRECISION_EXCEEDED);
  ASSERT_TRUE(wire.decode(
      R"({"op":"submit","account":"paper","symbol":"EURUSD","side":"buy","type":"market","qty":"1000.000000000","tif":"ioc","cl_ord_id":"x1","id":2})"));
  EXPECT_EQ(wire.request.qty, decimal_literal("1000"));
}

TEST(Protocol, ErrorsEchoTheIdWhereverItStandsAndReportTheFirstBadMember) {
  Wire wire;
  EXPECT_FALSE(wire.decode(R"({"op":"ping","bogus":1,"price":"x","id":"late"})"));
  EXPECT_EQ(wire.error.code, ErrorCode::unknown_field);  // the first bad member
  EXPECT_EQ(member(wire.reply(), "id"), "\"late\"");
  EXPECT_FALSE(wire.decode(R"({"op":"submit","qty":"1,5","cl_ord_id":"c1","id":9})"));
  EXPECT_EQ(wire.error.code, ErrorCode::invalid_field);
  EXPECT_EQ(member(wire.reply(), "id"), "9");
  // A broken document stops the reading: what follows cannot be trusted.
  EXPECT_FALSE(wire.decode(R"({"op":"ping","qty":+1,"id":3})"));
  EXPECT_EQ(wire.error.code, ErrorCode::invalid_json);
  EXPECT_EQ(member(wire.reply(), "id"), "(absent)");
  // An invalid cl_ord_id is never written back.
  EXPECT_FALSE(wire.decode(R"({"op":"submit","qty":"0.0000000001","cl_ord_id":"bad id!","id":4})"));
  EXPECT_EQ(member(wire.reply(), "cl_ord_id"), "(absent)");
  EXPECT_EQ(member(wire.reply(), "id"), "4");
}

// Every permutation of a submit's members (and of one with a bad member) is
// decoded alike; a failing one always echoes id and cl_ord_id.
TEST(Protocol, MemberOrderNeverChangesTheDecodingOrTheEchoedIds) {
  std::vector<std::string> parts(std::begin(kSubmitMembers), std::end(kSubmitMembers));
  std::uint64_t state = 42;
  auto shuffle = [&] {
    for (std::size_t i = parts.size() - 1; i > 0; --i) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      std::swap(parts[i], parts[(state >> 33) % (i + 1)]);
    }
  };
  const std::vector<std::pair<std::string, std::string>> faults = {
      {R"("qty":"1000")", ""},
      {R"("qty":"1000.0000000001")", "QUANTITY_PRECISION_EXCEEDED"},
      {R"("qty":"1000.0000000000")", "QUANTITY_PRECISION_EXCEEDED"},
      {R"("qty":"1000.5e3")", "INVALID_FIELD"},
      {R"("qty":true)", "INVALID_FIELD"},
      {R"("tif":7)", "INVALID_FIELD"},
      {R"("colour":"red")", "UNKNOWN_FIELD"},
  };
  Wire wire;
  for (const auto& [fault, expected] : faults) {
    std::vector<std::string> base(std::begin(kSubmitMembers), std::end(kSubmitMembers));
    const std::string key = fault.substr(0, fault.find(':'));
    std::replace_if(base.begin(), base.end(), [&](const std::string& part) { return part.rfind(key, 0) == 0; }, fault);
    if (std::find(base.begin(), base.end(), fault) == base.end()) base.push_back(fault);
    parts = base;
    for (int round = 0; round < 200; ++round) {
      shuffle();
      const std::string line = object_of(parts);
      const bool ok = wire.decode(line);
      EXPECT_EQ(ok, expected.empty()) << line;
      if (ok) {
        EXPECT_EQ(wire.request.op, Op::submit);
        EXPECT_EQ(wire.request.qty, decimal_literal("1000"));
        EXPECT_EQ(wire.request.id_json, "2");
        EXPECT_EQ(wire.request.cl_ord_id, "x1");
        continue;
      }
      const std::string reply = wire.reply();
      EXPECT_EQ(member(reply, "id"), "2") << line;
      const bool rejected = expected.find("PRECISION") != std::string::npos;
      EXPECT_EQ(member(reply, rejected ? "reason" : "code"), "\"" + expected + "\"") << line;
      if (rejected) {
        EXPECT_EQ(member(reply, "cl_ord_id"), "\"x1\"") << line;
      }
    }
  }
}

// The decimal grammar through the decoder: quoted and bare, with signs,
// leading zeros, exponents and 0 to 40 decimals. The reference: a string is
// `-?digits(.digits)?`; a bare number must first be a JSON number; more
// than 9 decimals is a precision rejection; anything else malformed is
// INVALID_FIELD; an invalid JSON number is INVALID_JSON.
TEST(Protocol, DecimalGrammarOverGeneratedQuantitiesQuotedAndBare) {
  std::uint64_t state = 0xD1B54A32D192ED03ull;
  auto next = [&](std::uint64_t bound) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state % bound;
  };
  Wire wire;
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    const std::uint64_t sign = next(10);
    if (sign == 0) text += '+';
    if (sign == 1 || sign == 2) text += '-';
    const std::size_t leading_zeros = next(4) == 0 ? next(3) + 1 : 0;
    text.append(leading_zeros, '0');
    const std::size_t integer_digits = next(11);
    bool integer_leads_with_zero = leading_zeros > 0;
    for (std::size_t i = 0; i < integer_digits; ++i) {
      const char digit = static_cast<char>((i == 0 ? '1' : '0') + next(i == 0 ? 9 : 10));
      text += digit;
    }
    const bool point = next(4) != 0;
    const std::size_t decimals = point ? next(41) : 0;
    if (point) text += '.';
    const bool zeros = next(3) == 0;
    for (std::size_t i = 0; i < decimals; ++i) text += zeros ? '0' : static_cast<char>('0' + next(10));
    const bool exponent = next(10) == 0;
    if (exponent) text += next(2) == 0 ? "e3" : "E-2";
    const bool quoted = next(2) == 0;

    const std::size_t integer_length = leading_zeros + integer_digits;
    const bool decimal_syntax = sign != 0 && integer_length > 0 && !(point && decimals == 0) && !exponent;
    // JSON: one leading zero only when it is the whole integer part.
    const bool json_number = sign != 0 && integer_length > 0 && !(point && decimals == 0) &&
                             !(integer_leads_with_zero && integer_length > 1);
    std::string expected;  // "" accepted, else the reply's reason or code
    if (!quoted && !json_number) {
      expected = "INVALID_JSON";
    } else if (!decimal_syntax) {
      expected = "INVALID_FIELD";
    } else if (decimals > 9) {
      expected = "QUANTITY_PRECISION_EXCEEDED";
    } else {
      Decimal value;
      expected = Decimal::parse(text, value) == DecimalError::ok ? "" : "INVALID_FIELD";  // out of range
    }
    const std::string qty = quoted ? "\"" + text + "\"" : text;
    const std::string line = R"({"op":"submit","qty":)" + qty +
                             R"(,"account":"a","symbol":"s","side":"buy","type":"market","tif":"ioc","cl_ord_id":"c7","id":5})";
    const bool ok = wire.decode(line);
    ASSERT_EQ(ok, expected.empty()) << line << " -> " << wire.error.message;
    if (ok) {
      Decimal value;
      ASSERT_EQ(Decimal::parse(text, value), DecimalError::ok);
      EXPECT_EQ(wire.request.qty, value) << line;
      continue;
    }
    const std::string reply = wire.reply();
    const bool rejected = expected == "QUANTITY_PRECISION_EXCEEDED";
    EXPECT_EQ(member(reply, rejected ? "reason" : "code"), "\"" + expected + "\"") << line;
    if (expected != "INVALID_JSON") {
      EXPECT_EQ(member(reply, "id"), "5") << line;
    }
    if (rejected) {
      EXPECT_EQ(member(reply, "cl_ord_id"), "\"c7\"") << line;
    }
  }
}

// ---- replies -------------------------------------------------------------------

TEST(Protocol, RejectionsRoundRetryAfterUpToWholeMilliseconds) {
  Wire wire;
  ASSERT_TRUE(wire.decode(R"({"op":"cancel","cl_ord_id":"c-1","id":"r"})"));
  std::string out;
  write_rejected(out, wire.request, Reason::RATE_LIMITED, 1);
  EXPECT_EQ(member(out, "retry_after_ms"), "1");
  EXPECT_EQ(member(out, "cl_ord_id"), "\"c-1\"");
  EXPECT_EQ(member(out, "id"), "\"r\"");
  EXPECT_EQ(member(out, "reason"), "\"RATE_LIMITED\"");
  EXPECT_EQ(member(out, "message"), "\"" + std::string(reason_message(Reason::RATE_LIMITED)) + "\"");
  out.clear();
  write_rejected(out, wire.request, Reason::RATE_LIMITED, 2 * kNanosPerMilli);
  EXPECT_EQ(member(out, "retry_after_ms"), "2");
  out.clear();
  write_rejected(out, Request{}, Reason::UNAUTHENTICATED, 0);
  EXPECT_EQ(members(out).size(), 3u);  // type, reason, message: no id, no cl_ord_id, no retry
}

TEST(Protocol, SimpleAndErrorRepliesEscapeWhatTheyCarry) {
  Wire wire;
  ASSERT_TRUE(wire.decode(R"({"op":"ping","id":"a\"b"})"));
  std::string out;
  write_simple(out, wire.request, "pong");
  EXPECT_EQ(out, "{\"type\":\"pong\",\"id\":\"a\\\"b\"}\n");
  out.clear();
  write_error(out, {}, "RELOAD_REFUSED", "line 3: \"x\"\n\\");
  EXPECT_EQ(member(out, "message"), R"("line 3: \"x\"\n\\")");
  out.clear();
  std::string control(1, '\x01');
  write_error(out, "7", ErrorCode::invalid_field, control);
  EXPECT_EQ(out, "{\"type\":\"error\",\"id\":7,\"code\":\"INVALID_FIELD\",\"message\":\"\\u0001\"}\n");
}

TEST(Protocol, ReplaceMapsOnlyTheFieldsGivenOntoTheAmend) {
  Wire wire;
  ASSERT_TRUE(wire.decode(R"({"op":"replace","id":4,"cl_ord_id":"c-1","new_cl_ord_id":"c-2","price":"1.2"})"))
      << wire.error.message;
  ReplaceRequest amend = to_replace_request(wire.request);
  EXPECT_EQ(amend.client_order_id, "c-1");
  EXPECT_EQ(amend.new_client_order_id, "c-2");
  EXPECT_FALSE(amend.quantity.has_value());
  EXPECT_EQ(amend.price, decimal_literal("1.2"));
  EXPECT_FALSE(amend.stop_price.has_value());
  ASSERT_TRUE(wire.decode(R"({"op":"replace","cl_ord_id":"c-1","new_cl_ord_id":"c-2","qty":"5","stop_price":"1.3"})"));
  amend = to_replace_request(wire.request);
  EXPECT_EQ(amend.quantity, decimal_literal("5"));
  EXPECT_EQ(amend.stop_price, decimal_literal("1.3"));
  EXPECT_FALSE(amend.price.has_value());
  // Side, symbol, account and type cannot change: they are not fields of
  // the op. The new id is required.
  EXPECT_FALSE(wire.decode(R"({"op":"replace","cl_ord_id":"c-1","new_cl_ord_id":"c-2","side":"sell"})"));
  EXPECT_EQ(wire.error.code, ErrorCode::unknown_field);
  EXPECT_FALSE(wire.decode(R"({"op":"replace","cl_ord_id":"c-1","qty":"5"})"));
  EXPECT_EQ(wire.error.code, ErrorCode::missing_field);
  EXPECT_NE(wire.error.message.find("new_cl_ord_id"), std::string::npos);
}

// Short members are composed on the stack, long ones appended in pieces:
// both must write the same JSON, whatever the value holds.
TEST(Protocol, WriterEscapesShortAndLongValuesAlike) {
  const std::string awkward = std::string("q\"b\\c\x01\x1f\ty") + "\xc3\xa9";  // quote, backslash, controls, UTF-8
  for (const std::size_t length : std::array<std::size_t, 7>{0, 1, 63, 64, 65, 130, 300}) {
    std::string value;
    while (value.size() < length) value += awkward;
    value.resize(length);
    if (!value.empty() && static_cast<unsigned char>(value.back()) == 0xc3) value.back() = 'x';  // no half character
    for (const std::string& name : {std::string("v"), std::string(70, 'n')}) {
      std::string out;
      JsonWriter(out)
          .begin()
          .string(name, value)
          .integer(name + "i", -42)
          .decimal(name + "d", decimal_literal("1.5"))
          .boolean(name + "b", false)
          .end();
      simdjson::dom::parser parser;
      simdjson::dom::object object;
      ASSERT_EQ(parser.parse(out).get(object), simdjson::SUCCESS) << out;
      std::string_view read;
      ASSERT_EQ(object[name].get(read), simdjson::SUCCESS) << out;
      EXPECT_EQ(read, value) << "length " << length;
      EXPECT_EQ(std::int64_t(object[name + "i"]), -42);
      EXPECT_EQ(std::string_view(object[name + "d"]), "1.5");
      EXPECT_FALSE(bool(object[name + "b"]));
      EXPECT_EQ(out.find('\x01'), std::string::npos) << "a control character is written escaped";
    }
  }
  std::string out;
  JsonWriter(out).begin().string("m", "a\"\\\n").raw("r", std::string(100, '1')).boolean("b", true).end();
  EXPECT_EQ(out, "{\"m\":\"a\\\"\\\\\\u000a\",\"r\":" + std::string(100, '1') + ",\"b\":true}\n");
}

TEST(Protocol, AmendReportsNameTheOtherIdOfTheOrder) {
  ExecutionReport report;
  report.status = ExecStatus::replaced;
  (void)report.client_order_id.assign("c-2");
  (void)report.other_client_order_id.assign("c-1");
  std::string out;
  write_execution(out, report, "paper", "EURUSD");
  EXPECT_EQ(member(out, "status"), "\"REPLACED\"");
  EXPECT_EQ(member(out, "orig_cl_ord_id"), "\"c-1\"");
  report.status = ExecStatus::replace_rejected;
  (void)report.client_order_id.assign("c-1");
  (void)report.other_client_order_id.assign("c-2");
  out.clear();
  write_execution(out, report, "paper", "EURUSD");
  EXPECT_EQ(member(out, "status"), "\"REPLACE_REJECTED\"");
  EXPECT_EQ(member(out, "new_cl_ord_id"), "\"c-2\"");
  EXPECT_EQ(member(out, "orig_cl_ord_id"), "(absent)");
  report.other_client_order_id.clear();
  report.status = ExecStatus::new_order;
  out.clear();
  write_execution(out, report, "paper", "EURUSD");
  EXPECT_EQ(member(out, "new_cl_ord_id"), "(absent)") << "no other id outside amends";
}

TEST(Protocol, ExecutionReportsCarryEveryFieldAndTheReasonOnlyWhenThereIsOne) {
  ExecutionReport report;
  report.status = ExecStatus::partially_filled;
  report.side = Side::buy;
  report.last_quantity = decimal_literal("100");
  report.last_price = decimal_literal("1.08463");
  report.cumulative_quantity = decimal_literal("100");
  report.leaves_quantity = decimal_literal("900");
  report.average_price = decimal_literal("1.08463");
  report.transact_time_ns = 1234;
  (void)report.client_order_id.assign("c-1");
  (void)report.broker_order_id.assign("B7");
  std::string out;
  write_execution(out, report, "paper", "EURUSD");
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"type", "\"exec\""},       {"cl_ord_id", "\"c-1\""},   {"status", "\"PARTIALLY_FILLED\""},
      {"account", "\"paper\""},   {"symbol", "\"EURUSD\""},   {"side", "\"buy\""},
      {"last_qty", "\"100\""},    {"last_px", "\"1.08463\""}, {"cum_qty", "\"100\""},
      {"leaves_qty", "\"900\""},  {"avg_px", "\"1.08463\""},  {"broker_order_id", "\"B7\""},
      {"time_ns", "1234"},
  };
  EXPECT_EQ(members(out), expected);
  report.reason = Reason::BROKER_REJECTED;
  (void)report.broker_reason.assign("INSUFFICIENT_MARGIN");
  out.clear();
  write_execution(out, report, "paper", "EURUSD");
  EXPECT_EQ(member(out, "reason"), "\"BROKER_REJECTED\"");
  EXPECT_EQ(member(out, "broker_reason"), "\"INSUFFICIENT_MARGIN\"");
}

TEST(Protocol, APositionFillIsItsOwnEventNamingTheParentOrder) {
  ExecutionReport report;
  report.kind = ReportKind::position_fill;
  report.source = FillSource::stop_loss;
  report.status = ExecStatus::filled;
  report.side = Side::sell;
  report.last_quantity = decimal_literal("10000");
  report.last_price = decimal_literal("1.08");
  report.transact_time_ns = 99;
  (void)report.client_order_id.assign("parent-1");
  (void)report.broker_order_id.assign("42");
  (void)report.broker_reason.assign("STOP_LOSS_ORDER");
  std::string out;
  write_execution(out, report, "fx", "EUR/USD");
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"type", "\"position_fill\""}, {"account", "\"fx\""},          {"symbol", "\"EUR/USD\""},
      {"side", "\"sell\""},          {"qty", "\"10000\""},           {"price", "\"1.08\""},
      {"source", "\"STOP_LOSS\""},   {"orig_cl_ord_id", "\"parent-1\""}, {"broker_order_id", "\"42\""},
      {"broker_reason", "\"STOP_LOSS_ORDER\""}, {"time_ns", "99"},
  };
  EXPECT_EQ(members(out), expected);
}

TEST(Protocol, SubscribeNamesKnownStreamsEachOnceAndNothingElse) {
  Wire wire;
  ASSERT_TRUE(wire.decode(R"({"op":"subscribe","id":3,"streams":["trading_state","executions","rejections"]})"))
      << wire.error.message;
  EXPECT_EQ(wire.request.streams, kStreamExecutions | kStreamRejections | kStreamTradingState);
  ASSERT_TRUE(wire.decode(R"({"op":"subscribe","streams":["rejections"]})"));
  EXPECT_EQ(wire.request.streams, kStreamRejections);
  for (const char* bad : {R"({"op":"subscribe","streams":[]})", R"({"op":"subscribe","streams":["fills"]})",
                          R"({"op":"subscribe","streams":"executions"})", R"({"op":"subscribe","streams":[1]})",
                          R"({"op":"subscribe","streams":["executions","executions"]})",
                          R"({"op":"subscribe","streams":[["executions"]],"id":9})"}) {
    wire.request = Request{};
    wire.error = DecodeError{};
    EXPECT_FALSE(wire.decode(bad)) << bad;
    EXPECT_EQ(wire.error.code, ErrorCode::invalid_field) << bad;
    EXPECT_NE(wire.error.message.find("field 'streams'"), std::string::npos) << wire.error.message;
  }
  wire.request = Request{};
  EXPECT_FALSE(wire.decode(R"({"op":"subscribe"})"));
  EXPECT_EQ(wire.error.code, ErrorCode::missing_field);
  wire.request = Request{};
  EXPECT_FALSE(wire.decode(R"({"op":"ping","streams":["executions"]})"));
  EXPECT_EQ(wire.error.code, ErrorCode::unknown_field);
}

TEST(Protocol, ADropCopyEventIsTheReportWithItsStreamSequenceAndPrincipal) {
  ExecutionReport report;
  report.status = ExecStatus::filled;
  report.side = Side::sell;
  report.last_quantity = decimal_literal("5");
  report.last_price = decimal_literal("1.1");
  report.cumulative_quantity = decimal_literal("5");
  report.average_price = decimal_literal("1.1");
  report.transact_time_ns = 7;
  (void)report.client_order_id.assign("c-9");
  std::string out;
  write_execution_event(out, {kStreamExecutions, 12}, report, "alice", "paper", "EUR/USD");
  const auto fields = members(out);
  ASSERT_GE(fields.size(), 6u);
  const std::vector<std::pair<std::string, std::string>> head(fields.begin(), fields.begin() + 6);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"type", "\"event\""},     {"stream", "\"executions\""}, {"seq", "12"},
      {"event", "\"exec\""},     {"principal", "\"alice\""},   {"cl_ord_id", "\"c-9\""},
  };
  EXPECT_EQ(head, expected);
  EXPECT_EQ(member(out, "status"), "\"FILLED\"");
  out.clear();
  write_notice(out, "SUBSCRIPTION_DROPPED", "the reader \"fell\" behind");
  EXPECT_EQ(out, "{\"type\":\"notice\",\"code\":\"SUBSCRIPTION_DROPPED\",\"message\":\"the reader \\\"fell\\\" behind\"}\n");
}

}  // namespace
}  // namespace ordergate::protocol
