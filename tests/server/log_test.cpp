#include "log.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

namespace ordergate::server_detail {
namespace {

class FixedClock final : public Clock {
 public:
  [[nodiscard]] std::int64_t monotonic_ns() const noexcept override { return 1; }
  [[nodiscard]] std::int64_t wall_ns() const noexcept override { return 1733378400123456789; }
};

TEST(Log, TextLinesAreKeyValue) {
  std::ostringstream out;
  const FixedClock clock;
  Log log(out, clock);
  log.line("info", "account_ready", "account=fx orders=2");
  EXPECT_EQ(out.str(), "ts=1733378400123456789 level=info event=account_ready account=fx orders=2\n");
}

TEST(Log, JsonLinesAreOneObjectWithNumbersAndStrings) {
  std::ostringstream out;
  const FixedClock clock;
  Log log(out, clock, LogFormat::json);
  log.line("error", "reload_refused", "why=\"f.toml:3: key 'a': \"bad\" value\" uid=1000 mode=0660 path=/run/x");
  log.line("info", "stopped");
  EXPECT_EQ(out.str(),
            "{\"ts\":1733378400123456789,\"level\":\"error\",\"event\":\"reload_refused\","
            "\"why\":\"f.toml:3: key 'a': \\\"bad\\\" value\",\"uid\":1000,\"mode\":\"0660\",\"path\":\"/run/x\"}\n"
            "{\"ts\":1733378400123456789,\"level\":\"info\",\"event\":\"stopped\"}\n");
}

TEST(Log, WordsThatAreNotKeyValueGoToText) {
  EXPECT_EQ(fields_as_json_members("broker=oanda connected in 12 ms"),
            ",\"broker\":\"oanda\",\"text\":\"connected in 12 ms\"");
  EXPECT_EQ(fields_as_json_members("a=\"unterminated"), ",\"a\":\"unterminated\"");
  EXPECT_EQ(fields_as_json_members("ctl=\x01"), ",\"ctl\":\"\\u0001\"");
  EXPECT_EQ(fields_as_json_members(""), "");
}

}  // namespace
}  // namespace ordergate::server_detail
