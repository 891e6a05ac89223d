#include "ordergate/audit/journal.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "audit/test_support.hpp"

namespace ordergate {
namespace {

using testing::join_lines;
using testing::journal_options;
using testing::order_event;
using testing::parse_or_fail;
using testing::read_file;
using testing::read_lines;
using testing::ScratchDirectory;
using testing::test_names;
using testing::verify_files;
using testing::write_file;

// A journal of ten records; each test damages a copy of it and checks that
// verification points at the right record.
class AuditVerifyTest : public ::testing::Test {
 protected:
  static constexpr std::size_t kRecords = 10;

  AuditVerifyTest() {
    write_journal(path_, {});
    original_ = read_lines(path_);
  }

  void write_journal(const std::filesystem::path& path, const security::Secret* key) {
    AuditJournalOptions options = journal_options(path, AuditFsync::never);
    if (key != nullptr) options.hmac_key = key->clone();
    AuditJournal journal(std::move(options), test_names());
    for (std::size_t i = 1; i <= kRecords; ++i) journal.record(order_event("c-" + std::to_string(i)));
  }

  AuditVerifyResult verify_lines(const std::vector<std::string>& lines) {
    write_file(path_, join_lines(lines));
    return verify_files({path_});
  }

  // Replaces the hash of a line with the one its (edited) content has, as an
  // attacker without an HMAC key can for a plain SHA-256 journal.
  static std::string rehash(const std::string& line, const security::Secret* key = nullptr) {
    const std::size_t cut = line.find(",\"hash\":\"");
    return line.substr(0, cut) + ",\"hash\":\"" +
           security::to_hex(audit_record_hash(std::string_view(line).substr(0, cut), key)) + "\"}";
  }

  ScratchDirectory dir_;
  std::filesystem::path path_ = dir_ / "audit.jsonl";
  std::vector<std::string> original_;
};

TEST_F(AuditVerifyTest, IntactJournalVerifiesAndReportsItsLastSequenceAndHash) {
  const AuditVerifyResult result = verify_files({path_});
  ASSERT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.records, kRecords);
  EXPECT_EQ(result.last.sequence, kRecords);
  EXPECT_EQ(result.last.hash, parse_or_fail(original_.back()).hash);
  EXPECT_TRUE(result.message.empty());
}

TEST_F(AuditVerifyTest, EditedByteIsReportedAtItsRecord) {
  auto lines = original_;
  lines[4].replace(lines[4].find("\"qty\":\"10000\""), 13, "\"qty\":\"90000\"");
  const AuditVerifyResult result = verify_lines(lines);
  EXPECT_EQ(result.defect, AuditDefect::edited);
  EXPECT_EQ(result.line, 5u);
  EXPECT_EQ(result.sequence, 5u);
  EXPECT_EQ(result.file, path_);
  EXPECT_EQ(result.last.sequence, 4u) << "the last good record";
  EXPECT_EQ(result.records, 4u);
}

TEST_F(AuditVerifyTest, EditedHashFieldIsReportedAtItsRecord) {
  auto lines = original_;
  char& digit = lines[6][lines[6].size() - 3];
  digit = digit == '0' ? '1' : '0';
  const AuditVerifyResult result = verify_lines(lines);
  EXPECT_EQ(result.defect, AuditDefect::edited);
  EXPECT_EQ(result.line, 7u);
}

TEST_F(AuditVerifyTest, UpperCaseHashIsNotAnInvisibleEdit) {
  auto lines = original_;
  std::string& line = lines[2];
  for (std::size_t i = line.find(",\"hash\":\"") + 9; i < line.size() - 2; ++i) {
    if (line[i] >= 'a' && line[i] <= 'f') line[i] = static_cast<char>(line[i] - 'a' + 'A');
  }
  const AuditVerifyResult result = verify_lines(lines);
  EXPECT_EQ(result.defect, AuditDefect::malformed);
  EXPECT_EQ(result.line, 3u);
}

TEST_F(AuditVerifyTest, DroppedLineIsReportedAsRemoved) {
  auto lines = original_;
  lines.erase(lines.begin() + 4);
  const AuditVerifyResult result = verify_lines(lines);
  EXPECT_EQ(result.defect, AuditDefect::removed);
  EXPECT_EQ(result.line, 5u);
  EXPECT_EQ(result.sequence, 6u);
  EXPECT_NE(result.message.find("record 5 is missing"), std::string::npos) << result.message;
}

TEST_F(AuditVerifyTest, DroppedLastLineIsOnlyVisibleAgainstAnAnchor) {
  const AuditAnchor anchored = verify_files({path_}).last;
  auto lines = original_;
  lines.pop_back();
  const AuditVerifyResult result = verify_lines(lines);
  EXPECT_TRUE(result.ok()) << "a shorter chain is still a chain";
  EXPECT_NE(result.last.sequence, anchored.sequence) << "which the anchored last sequence exposes";
}

TEST_F(AuditVerifyTest, SwappedLinesAreReportedAsReordered) {
  auto lines = original_;
  std::swap(lines[4], lines[5]);
  const AuditVerifyResult result = verify_lines(lines);
  EXPECT_EQ(result.defect, AuditDefect::reordered);
  EXPECT_EQ(result.line, 5u);
  EXPECT_EQ(result.sequence, 6u);
}

TEST_F(AuditVerifyTest, DuplicatedLineIsReportedAsReordered) {
  auto lines = original_;
  lines.insert(lines.begin() + 3, lines[2]);
  const AuditVerifyResult result = verify_lines(lines);
  EXPECT_EQ(result.defect, AuditDefect::reordered);
  EXPECT_EQ(result.line, 4u);
  EXPECT_EQ(result.sequence, 3u);
}

TEST_F(AuditVerifyTest, AppendedGarbageLineIsMalformed) {
  auto lines = original_;
  lines.push_back("{\"seq\":11,\"note\":\"hello\"}");
  const AuditVerifyResult result = verify_lines(lines);
  EXPECT_EQ(result.defect, AuditDefect::malformed);
  EXPECT_EQ(result.line, 11u);
  EXPECT_EQ(result.last.sequence, 10u);
  EXPECT_EQ(result.message.find("hello"), std::string::npos) << "the line's content is not echoed";
}

TEST_F(AuditVerifyTest, AppendedBytesWithoutNewlineAreReported) {
  write_file(path_, read_file(path_) + "junk");
  const AuditVerifyResult result = verify_files({path_});
  EXPECT_EQ(result.defect, AuditDefect::truncated);
  EXPECT_EQ(result.line, 11u);
}

TEST_F(AuditVerifyTest, TruncatedMidLineIsReported) {
  const std::string content = read_file(path_);
  write_file(path_, content.substr(0, content.size() - 40));
  const AuditVerifyResult result = verify_files({path_});
  EXPECT_EQ(result.defect, AuditDefect::truncated);
  EXPECT_EQ(result.line, 10u);
  EXPECT_EQ(result.last.sequence, 9u);
}

TEST_F(AuditVerifyTest, EditWithRecomputedHashIsCaughtByTheNextRecord) {
  auto lines = original_;
  lines[4].replace(lines[4].find("\"qty\":\"10000\""), 13, "\"qty\":\"90000\"");
  lines[4] = rehash(lines[4]);
  const AuditVerifyResult result = verify_lines(lines);
  EXPECT_EQ(result.defect, AuditDefect::foreign);
  EXPECT_EQ(result.line, 6u) << "record 5 is self-consistent; record 6 no longer chains to it";
  EXPECT_NE(result.message.find("record 5"), std::string::npos) << result.message;
}

TEST_F(AuditVerifyTest, RecordFromAnotherJournalIsForeign) {
  const auto other_path = dir_ / "other.jsonl";
  {
    AuditJournal other(journal_options(other_path), test_names());
    for (int i = 0; i < 5; ++i) other.record(order_event("x-" + std::to_string(i)));
  }
  auto lines = original_;
  lines[4] = read_lines(other_path)[4];  // same seq, valid own hash, other chain
  const AuditVerifyResult result = verify_lines(lines);
  EXPECT_EQ(result.defect, AuditDefect::foreign);
  EXPECT_EQ(result.line, 5u);
}

TEST_F(AuditVerifyTest, HmacJournalResistsRecomputedHashes) {
  const security::Secret key("audit-hmac-key-for-tests-only");
  const auto keyed_path = dir_ / "keyed.jsonl";
  write_journal(keyed_path, &key);
  ASSERT_TRUE(verify_files({keyed_path}, &key).ok());

  auto lines = read_lines(keyed_path);
  lines[9].replace(lines[9].find("\"qty\":\"10000\""), 13, "\"qty\":\"90000\"");
  lines[9] = rehash(lines[9]);  // without the key, a plain SHA-256 is all an attacker can compute
  write_file(keyed_path, join_lines(lines));
  const AuditVerifyResult result = verify_files({keyed_path}, &key);
  EXPECT_EQ(result.defect, AuditDefect::edited) << "even the last record is authenticated";
  EXPECT_EQ(result.line, 10u);
}

TEST_F(AuditVerifyTest, MissingFirstRecordsNeedAnAnchorOrTrust) {
  auto lines = original_;
  const AuditRecord fourth = parse_or_fail(lines[3]);
  lines.erase(lines.begin(), lines.begin() + 4);  // as if older records were archived
  write_file(path_, join_lines(lines));

  const AuditVerifyResult fresh = verify_files({path_});
  EXPECT_EQ(fresh.defect, AuditDefect::bad_start);
  EXPECT_EQ(fresh.line, 1u);

  AuditVerifyOptions anchored;
  anchored.start = AuditAnchor{fourth.seq, fourth.hash};
  const AuditVerifyResult from_anchor = verify_journal(std::vector{path_}, anchored);
  EXPECT_TRUE(from_anchor.ok()) << from_anchor.message;
  EXPECT_EQ(from_anchor.records, 6u);

  AuditVerifyOptions trusting;
  trusting.trust_first_record = true;
  EXPECT_TRUE(verify_journal(std::vector{path_}, trusting).ok());

  anchored.start.hash[0] ^= 1;
  EXPECT_EQ(verify_journal(std::vector{path_}, anchored).defect, AuditDefect::bad_start);
}

TEST_F(AuditVerifyTest, FilesOutOfOrderOrMissingAreReported) {
  const auto first = dir_ / "a.jsonl";
  const auto second = dir_ / "b.jsonl";
  write_file(first, join_lines({original_.begin(), original_.begin() + 5}));
  write_file(second, join_lines({original_.begin() + 5, original_.end()}));
  EXPECT_TRUE(verify_files({first, second}).ok());

  const AuditVerifyResult swapped = verify_files({second, first});
  EXPECT_EQ(swapped.defect, AuditDefect::bad_start);
  EXPECT_EQ(swapped.file, second);

  const AuditVerifyResult missing = verify_files({first, dir_ / "nope.jsonl"});
  EXPECT_EQ(missing.defect, AuditDefect::unreadable);
  EXPECT_EQ(missing.last.sequence, 5u);
}

TEST(AuditRecordParser, AcceptsOnlyTheJournalsOwnShape) {
  const std::string hash(64, 'a');
  const std::string head = "{\"seq\":1,\"time\":\"t\",\"time_ns\":5,\"event\":\"e\",\"reason\":\"OK\"";
  const std::string tail = ",\"prev\":\"" + hash + "\",\"hash\":\"" + hash + "\"}";
  ASSERT_TRUE(parse_audit_record(head + tail).has_value());
  EXPECT_EQ(parse_audit_record(head + tail)->covered_length, (head + tail).find(",\"hash\""));

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"whitespace", "{ \"seq\":1" + head.substr(8) + tail},
      {"unknown field", head + ",\"token\":\"x\"" + tail},
      {"duplicate field", head + ",\"event\":\"f\"" + tail},
      {"seq not first", "{\"time\":\"t\",\"seq\":1" + head.substr(19) + tail},
      {"hash not last", head + ",\"prev\":\"" + hash + "\",\"hash\":\"" + hash + "\",\"detail\":\"d\"}"},
      {"trailing bytes", head + tail + " "},
      {"missing reason", "{\"seq\":1,\"time\":\"t\",\"time_ns\":5,\"event\":\"e\"" + tail},
      {"seq zero", "{\"seq\":0" + head.substr(8) + tail},
      {"leading zero", "{\"seq\":01" + head.substr(8) + tail},
      {"negative seq", "{\"seq\":-1" + head.substr(8) + tail},
      {"raw control byte", head + ",\"detail\":\"a\tb\"" + tail},
      {"raw non-ASCII", head + ",\"detail\":\"\xC3\xA9\"" + tail},
      {"lone surrogate", head + ",\"detail\":\"\\ud800\"" + tail},
      {"short hash", head + ",\"prev\":\"" + hash + "\",\"hash\":\"abc\"}"},
      {"NUL byte", head + std::string(1, '\0') + tail},
      {"empty", ""},
  };
  for (const auto& [what, line] : bad) {
    std::string error;
    EXPECT_FALSE(parse_audit_record(line, &error).has_value()) << what;
    EXPECT_FALSE(error.empty()) << what;
  }
}

}  // namespace
}  // namespace ordergate
