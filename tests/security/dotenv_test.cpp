#include "ordergate/security/dotenv.hpp"

#include <gtest/gtest.h>

#include <string>

#include "security/test_support.hpp"

namespace ordergate::security {
namespace {

using testing::expect_no_canary;
using testing::kCanary;

std::string value_of(const SecretMap& values, std::string_view key) {
  const auto it = values.find(key);
  if (it == values.end()) return "<missing>";
  return std::string(it->second.reveal());
}

// Parses `text`, expects a SecretsParseError on `line`, and checks that the
// message names the line and carries none of the text.
void expect_error_on_line(std::string_view text, std::size_t line) {
  try {
    (void)parse_dotenv(text);
    ADD_FAILURE() << "expected a parse error on line " << line;
  } catch (const SecretsParseError& error) {
    EXPECT_EQ(error.line(), line) << error.what();
    EXPECT_TRUE(std::string_view(error.what()).starts_with("line " + std::to_string(line) + ": ")) << error.what();
    expect_no_canary(error.what());
  }
}

std::string canary_line(std::string_view before, std::string_view after = "") {
  return std::string(before) + std::string(kCanary) + std::string(after);
}

TEST(Dotenv, ParsesPlainExportedSpacedAndEmptyValues) {
  const SecretMap values = parse_dotenv(
      "PLAIN=abc123\n"
      "export EXPORTED=from-export\n"
      "  SPACED = spaced value  \n"
      "EMPTY=\n"
      "\texport\tTABBED=tabbed\n"
      "_under_score9=x\n");
  EXPECT_EQ(values.size(), 6u);
  EXPECT_EQ(value_of(values, "PLAIN"), "abc123");
  EXPECT_EQ(value_of(values, "EXPORTED"), "from-export");
  EXPECT_EQ(value_of(values, "SPACED"), "spaced value");
  EXPECT_EQ(value_of(values, "EMPTY"), "");
  EXPECT_EQ(value_of(values, "TABBED"), "tabbed");
  EXPECT_EQ(value_of(values, "_under_score9"), "x");
}

TEST(Dotenv, ExportAloneIsAnOrdinaryKey) {
  const SecretMap values = parse_dotenv("export=1\nexported=2\n");
  EXPECT_EQ(value_of(values, "export"), "1");
  EXPECT_EQ(value_of(values, "exported"), "2");
}

TEST(Dotenv, SingleQuotesAreLiteralAndDoubleQuotesDecodeOnlyThreeEscapes) {
  const SecretMap values = parse_dotenv(
      "SINGLE='a \\n b \"c\" # not a comment'\n"
      "DOUBLE=\"line1\\nline2 \\\"quoted\\\" back\\\\slash # kept\"\n"
      "EMPTY_SINGLE=''\n"
      "EMPTY_DOUBLE=\"\"\n"
      "HASH_IN_QUOTES=\"a#b\"\n");
  EXPECT_EQ(value_of(values, "SINGLE"), "a \\n b \"c\" # not a comment");
  EXPECT_EQ(value_of(values, "DOUBLE"), "line1\nline2 \"quoted\" back\\slash # kept");
  EXPECT_EQ(value_of(values, "EMPTY_SINGLE"), "");
  EXPECT_EQ(value_of(values, "EMPTY_DOUBLE"), "");
  EXPECT_EQ(value_of(values, "HASH_IN_QUOTES"), "a#b");
}

TEST(Dotenv, NothingIsExpandedOrExecuted) {
  const SecretMap values = parse_dotenv(
      "HOME_REF=$HOME\n"
      "BRACED=\"${HOME}/x\"\n"
      "COMMAND=$(touch /tmp/ordergate-dotenv-pwned)\n"
      "BACKTICKS=`id`\n"
      "TILDE=~/x\n");
  EXPECT_EQ(value_of(values, "HOME_REF"), "$HOME");
  EXPECT_EQ(value_of(values, "BRACED"), "${HOME}/x");
  EXPECT_EQ(value_of(values, "COMMAND"), "$(touch /tmp/ordergate-dotenv-pwned)");
  EXPECT_EQ(value_of(values, "BACKTICKS"), "`id`");
  EXPECT_EQ(value_of(values, "TILDE"), "~/x");
  EXPECT_FALSE(std::filesystem::exists("/tmp/ordergate-dotenv-pwned"));
}

TEST(Dotenv, ACommentAfterAnUnquotedValueNeedsABlankBeforeTheHash) {
  const SecretMap values = parse_dotenv(
      "# a full-line comment\n"
      "   # an indented comment\n"
      "GLUED=abc#def\n"
      "SPACED=abc # comment\n"
      "TABBED=abc\t# comment\n"
      "ONLY_COMMENT= # nothing\n"
      "HASH_FIRST=#literal\n"
      "QUOTED='x' # comment\n"
      "QUOTED_GLUED=\"y\"# comment\n");
  EXPECT_EQ(values.size(), 7u);
  EXPECT_EQ(value_of(values, "GLUED"), "abc#def");
  EXPECT_EQ(value_of(values, "SPACED"), "abc");
  EXPECT_EQ(value_of(values, "TABBED"), "abc");
  EXPECT_EQ(value_of(values, "ONLY_COMMENT"), "");
  EXPECT_EQ(value_of(values, "HASH_FIRST"), "#literal");
  EXPECT_EQ(value_of(values, "QUOTED"), "x");
  EXPECT_EQ(value_of(values, "QUOTED_GLUED"), "y");
}

TEST(Dotenv, AcceptsCrLfBlankLinesAByteOrderMarkAndNoFinalNewline) {
  const SecretMap values = parse_dotenv("\xEF\xBB\xBF" "FIRST=1\r\n\r\n  \r\nSECOND='two'\r\nTHIRD=3");
  EXPECT_EQ(values.size(), 3u);
  EXPECT_EQ(value_of(values, "FIRST"), "1");
  EXPECT_EQ(value_of(values, "SECOND"), "two");
  EXPECT_EQ(value_of(values, "THIRD"), "3");
  EXPECT_TRUE(parse_dotenv("").empty());
  EXPECT_TRUE(parse_dotenv("\n\n# only comments\n").empty());
}

TEST(Dotenv, KeepsValidUtf8Values) {
  const SecretMap values = parse_dotenv("GREEK=\xCE\xB1\xCE\xB2\nEMOJI=\"\xF0\x9F\x94\x91\"\n");
  EXPECT_EQ(value_of(values, "GREEK"), "\xCE\xB1\xCE\xB2");
  EXPECT_EQ(value_of(values, "EMOJI"), "\xF0\x9F\x94\x91");
}

TEST(Dotenv, ALineWithoutEqualsIsAnErrorNamingOnlyItsNumber) {
  expect_error_on_line("OK=1\n" + canary_line(""), 2);
  expect_error_on_line("OK=1\n\n# c\nexport " + canary_line("KEY_"), 4);
}

TEST(Dotenv, BadKeysAreErrors) {
  expect_error_on_line(canary_line("1KEY=") + "\n", 1);
  expect_error_on_line(canary_line("="), 1);
  expect_error_on_line(canary_line("MY-KEY=", ""), 1);
  expect_error_on_line(canary_line("KEY WITH SPACE="), 1);
  expect_error_on_line(canary_line("K\xC3\xA9Y="), 1);
  expect_error_on_line(canary_line("export  =", ""), 1);
}

TEST(Dotenv, UnterminatedQuotesAreErrorsEvenWhenTheNextLineClosesThem) {
  expect_error_on_line(canary_line("A='"), 1);
  expect_error_on_line("A=1\n" + canary_line("B=\"") + "\n\"\n", 2);
  expect_error_on_line(canary_line("C=\"", "\\\""), 1);
  expect_error_on_line(canary_line("D=\"", "\\"), 1);
}

TEST(Dotenv, UnknownEscapesAndTextAfterTheClosingQuoteAreErrors) {
  expect_error_on_line(canary_line("A=\"", "\\t\""), 1);
  expect_error_on_line(canary_line("A=\"", "\\$\""), 1);
  expect_error_on_line(canary_line("A='x'", ""), 1);
  expect_error_on_line(canary_line("A=\"x\" ", ""), 1);
}

TEST(Dotenv, NulBytesAreErrorsWhereverTheyAre) {
  using namespace std::string_literals;
  expect_error_on_line("A=1\n"s + canary_line("B=", "\0tail"s), 2);
  expect_error_on_line("A=1\n# comment \0\n"s, 2);
  expect_error_on_line("\0"s, 1);
}

TEST(Dotenv, InvalidUtf8InAValueIsAnError) {
  for (const char* bad : {"\xC0\x80", "\xED\xA0\x80", "\xE2\x82", "\xF5\x80\x80\x80", "\xFF", "\x80",
                          "\xF4\x90\x80\x80", "\xE0\x80\x80"}) {
    expect_error_on_line("A=1\n" + canary_line("B=", bad) + "\n", 2);
    expect_error_on_line(canary_line("B='", std::string(bad) + "'"), 1);
    expect_error_on_line(canary_line("B=\"", std::string(bad) + "\""), 1);
  }
}

TEST(Dotenv, LinesUpTo64KiBAreFineAndLongerOnesAreErrors) {
  const std::string longest = "K=" + std::string(kMaxDotenvLineBytes - 2, 'v');
  EXPECT_EQ(parse_dotenv(longest + "\r\n").at("K").size(), kMaxDotenvLineBytes - 2);
  expect_error_on_line("A=1\n" + canary_line("K=", std::string(kMaxDotenvLineBytes, 'v')) + "\nB=2\n", 2);
  expect_error_on_line(std::string(10 * 1024 * 1024, '#'), 1);
}

TEST(Dotenv, ADuplicateKeyIsAnErrorNamingBothLines) {
  try {
    (void)parse_dotenv("A=1\nB=2\nexport A=" + std::string(kCanary) + "\n");
    ADD_FAILURE() << "expected a duplicate key error";
  } catch (const SecretsParseError& error) {
    EXPECT_EQ(error.line(), 3u);
    EXPECT_NE(std::string_view(error.what()).find("line 1"), std::string_view::npos) << error.what();
    expect_no_canary(error.what());
  }
}

TEST(Dotenv, ManyLinesParseAndReportTheRightLineNumber) {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "KEY_" + std::to_string(i) + "=value_" + std::to_string(i) + "\n";
  EXPECT_EQ(parse_dotenv(text).size(), 20000u);
  expect_error_on_line(text + canary_line("oops"), 20001);
}

TEST(Dotenv, KeyValidation) {
  EXPECT_TRUE(is_valid_secret_key("A"));
  EXPECT_TRUE(is_valid_secret_key("_"));
  EXPECT_TRUE(is_valid_secret_key("abc_DEF_123"));
  EXPECT_FALSE(is_valid_secret_key(""));
  EXPECT_FALSE(is_valid_secret_key("9A"));
  EXPECT_FALSE(is_valid_secret_key("A-B"));
  EXPECT_FALSE(is_valid_secret_key("A.B"));
  EXPECT_FALSE(is_valid_secret_key(std::string_view("A\0B", 3)));
}

}  // namespace
}  // namespace ordergate::security
