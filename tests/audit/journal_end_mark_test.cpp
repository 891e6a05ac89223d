// The journal's end mark (`<journal>.end`): a restart never numbers a record
// with a sequence number that was already written, even when the journal's
// tail was removed before the restart.

#include "ordergate/audit/journal.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "audit/test_support.hpp"
#include "ordergate/security/crypto.hpp"

namespace ordergate {
namespace {

using testing::journal_options;
using testing::join_lines;
using testing::order_event;
using testing::parse_or_fail;
using testing::read_file;
using testing::read_lines;
using testing::ScratchDirectory;
using testing::test_names;
using testing::verify_files;
using testing::write_file;

std::filesystem::path mark_of(const std::filesystem::path& journal) { return journal.string() + ".end"; }

void write_records(const std::filesystem::path& path, int count, AuditFsync fsync = AuditFsync::always,
                   const char* marker = "c") {
  AuditJournal journal(journal_options(path, fsync), test_names());
  for (int i = 0; i < count; ++i) ASSERT_NE(journal.record(order_event(marker)), 0u);
}

// The error a restart refuses with, or "" when it resumed.
std::string restart_error(const std::filesystem::path& path) {
  try {
    AuditJournal journal(journal_options(path), test_names());
    return "";
  } catch (const AuditJournalError& e) {
    return e.what();
  }
}

TEST(AuditJournalEndMark, TailRemovedBeforeARestartIsRefusedInsteadOfReissuingItsNumbers) {
  ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  write_records(path, 10);
  std::vector<std::string> lines = read_lines(path);
  ASSERT_EQ(lines.size(), 10u);
  lines.resize(6);  // whole lines removed: the file alone looks like a clean journal
  write_file(path, join_lines(lines));
  ASSERT_TRUE(verify_files({path}).ok()) << "the shortened file verifies on its own";

  const std::string error = restart_error(path);
  ASSERT_FALSE(error.empty()) << "resumed at seq 7: records 7..10 would be numbered twice";
  EXPECT_NE(error.find("ends at seq 6"), std::string::npos) << error;
  EXPECT_NE(error.find("up to seq 10"), std::string::npos) << error;
  EXPECT_NE(error.find("7..10"), std::string::npos) << error;
  EXPECT_NE(error.find(path.string()), std::string::npos) << error;
  EXPECT_EQ(read_lines(path).size(), 6u) << "the refused restart wrote nothing";
}

TEST(AuditJournalEndMark, RemovingTheNewestRotatedFilesIsRefusedToo) {
  ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  {
    AuditJournalOptions options = journal_options(path, AuditFsync::never);
    options.max_bytes = 2000;
    AuditJournal journal(std::move(options), test_names());
    for (int i = 0; i < 40; ++i) journal.record(order_event("c-" + std::to_string(i)));
  }
  const std::vector<std::filesystem::path> files = audit_journal_files(path);
  ASSERT_GE(files.size(), 3u);
  // Remove the active file and the newest rotated one: what is left ends
  // cleanly at an earlier record.
  std::filesystem::remove(files[files.size() - 1]);
  std::filesystem::remove(files[files.size() - 2]);
  const std::string error = restart_error(path);
  EXPECT_NE(error.find("up to seq 40"), std::string::npos) << error;
}

TEST(AuditJournalEndMark, JournalMovedAsideStartsANewChainThatContinuesTheNumbering) {
  ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  write_records(path, 10);
  const AuditRecord last = parse_or_fail(read_lines(path).back());
  std::filesystem::rename(path, dir / "evidence-audit.jsonl");

  {
    AuditJournal journal(journal_options(path), test_names());
    EXPECT_EQ(journal.last_sequence(), 10u);
    EXPECT_EQ(journal.record(order_event("new-chain")), 11u);
  }
  const std::vector<std::string> lines = read_lines(path);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(parse_or_fail(lines[0]).prev, last.hash) << "continues from the last record written";

  AuditVerifyOptions anchored;
  anchored.start = AuditAnchor{10, last.hash};
  EXPECT_TRUE(verify_journal(std::vector<std::filesystem::path>{path}, anchored).ok());
  EXPECT_EQ(verify_files({path}).defect, AuditDefect::bad_start) << "it is not a fresh journal";
}

TEST(AuditJournalEndMark, MarkThatLagsTheJournalAfterAPowerLossIsAccepted) {
  ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  write_records(path, 5);
  const std::string mark_at_five = read_file(mark_of(path));
  write_records(path, 5);
  // The mark is written after the journal is made durable and is not
  // fsync'd itself, so a power loss can leave it behind the journal.
  write_file(mark_of(path), mark_at_five);

  AuditJournal journal(journal_options(path), test_names());
  EXPECT_EQ(journal.record(order_event("after-power-loss")), 11u);
}

TEST(AuditJournalEndMark, LastRecordReplacedByAnotherWithTheSameNumberIsRefused) {
  ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  const auto other = dir / "other.jsonl";
  write_records(path, 5, AuditFsync::always, "real");
  write_records(other, 5, AuditFsync::always, "forged");
  // A plain SHA-256 chain can be recomputed by anyone: the mark's hash
  // tells the real record 5 from a rewritten one.
  write_file(path, read_file(other));
  ASSERT_TRUE(verify_files({path}).ok());

  const std::string error = restart_error(path);
  EXPECT_NE(error.find("seq 5"), std::string::npos) << error;
  EXPECT_NE(error.find("replaced"), std::string::npos) << error;
}

TEST(AuditJournalEndMark, DamagedOrForeignMarkIsRefusedWithWhatToDo) {
  ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  write_records(path, 3);
  const std::string good = read_file(mark_of(path));

  std::string flipped = good;
  flipped[flipped.find("seq=") + 20] = '9';  // a digit of the sequence number
  write_file(mark_of(path), flipped);
  std::string error = restart_error(path);
  EXPECT_NE(error.find("damaged"), std::string::npos) << error;
  EXPECT_NE(error.find("remove the mark"), std::string::npos) << error;

  write_file(mark_of(path), good.substr(0, good.size() / 2));  // torn
  EXPECT_NE(restart_error(path).find("damaged"), std::string::npos);

  // A mark written under an HMAC key cannot be made to fit without it.
  ScratchDirectory keyed_dir;
  const auto keyed = keyed_dir / "audit.jsonl";
  AuditJournalOptions options = journal_options(keyed);
  options.hmac_key = security::Secret("end-mark-key-0123456789abcdef");
  { AuditJournal journal(std::move(options), test_names()); journal.record(order_event("c")); }
  std::filesystem::copy_file(mark_of(keyed), mark_of(path), std::filesystem::copy_options::overwrite_existing);
  EXPECT_NE(restart_error(path).find("damaged"), std::string::npos);

  std::filesystem::remove(mark_of(path));
  EXPECT_EQ(restart_error(path), "") << "without a mark the journal's own end is accepted";
  EXPECT_TRUE(std::filesystem::exists(mark_of(path))) << "and a new mark is written at once";
}

TEST(AuditJournalEndMark, MarkFollowsWhatIsDurableUnderEachFsyncPolicy) {
  for (const AuditFsync fsync : {AuditFsync::always, AuditFsync::interval, AuditFsync::never}) {
    SCOPED_TRACE(std::string(to_string(fsync)));
    ScratchDirectory dir;
    const auto path = dir / "audit.jsonl";
    AuditJournal journal(journal_options(path, fsync), test_names());
    for (int i = 0; i < 3; ++i) journal.record(order_event("c"));
    ASSERT_EQ(journal.flush(), 3u);
    const std::string mark = read_file(mark_of(path));
    EXPECT_NE(mark.find("seq=00000000000000000003 "), std::string::npos) << mark;
    EXPECT_NE(mark.find(security::to_hex(parse_or_fail(read_lines(path).back()).hash)), std::string::npos);
    struct stat info {};
    ASSERT_EQ(::stat(mark_of(path).c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 0777, 0600u);
  }
}

}  // namespace
}  // namespace ordergate

namespace ordergate {
namespace {

TEST(AuditJournalEndMark, ASecondProcessOnTheSameJournalIsRefusedInsteadOfForkingTheChain) {
  testing::ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  AuditJournal first(testing::journal_options(path), testing::test_names());
  ASSERT_NE(first.record(testing::order_event("first")), 0u);
  try {
    AuditJournal second(testing::journal_options(path), testing::test_names());
    ADD_FAILURE() << "two writers on one journal";
  } catch (const AuditJournalError& e) {
    EXPECT_NE(std::string(e.what()).find("in use by another process"), std::string::npos) << e.what();
  }
  EXPECT_EQ(first.record(testing::order_event("still-first")), 2u);
  first.stop();
  AuditJournal after(testing::journal_options(path), testing::test_names());  // the lock went with it
  EXPECT_EQ(after.record(testing::order_event("after")), 3u);
}

TEST(AuditJournalEndMark, VerifyAgainstAnAnchorFindsACutTailAndAReplacedRecord) {
  testing::ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  write_records(path, 8);
  const std::filesystem::path kept_mark = dir / "anchor.end";
  std::filesystem::copy_file(mark_of(path), kept_mark);
  const AuditAnchor anchor = read_audit_anchor_file(kept_mark, nullptr);
  EXPECT_EQ(anchor.sequence, 8u);

  AuditVerifyOptions options;
  options.anchor = anchor;
  const std::vector<std::filesystem::path> files{path};
  EXPECT_TRUE(verify_journal(files, options).ok());

  std::vector<std::string> lines = read_lines(path);
  write_file(path, join_lines({lines.begin(), lines.begin() + 5}));
  const AuditVerifyResult cut = verify_journal(files, options);
  EXPECT_EQ(cut.defect, AuditDefect::removed);
  EXPECT_NE(cut.message.find("6..8"), std::string::npos) << cut.message;

  // The same anchor as one SEQ:HASH line, and a different record 8.
  write_file(dir / "anchor.txt", "8:" + security::to_hex(anchor.hash) + "\n");
  EXPECT_EQ(read_audit_anchor_file(dir / "anchor.txt", nullptr).hash, anchor.hash);
  const auto other = dir / "other.jsonl";
  write_records(other, 8, AuditFsync::always, "other");
  options.anchor = read_audit_anchor_file(dir / "anchor.txt", nullptr);
  const std::vector<std::filesystem::path> other_files{other};
  EXPECT_EQ(verify_journal(other_files, options).defect, AuditDefect::foreign);

  write_file(dir / "garbage.txt", "not an anchor\n");
  EXPECT_THROW((void)read_audit_anchor_file(dir / "garbage.txt", nullptr), AuditJournalError);
}

}  // namespace
}  // namespace ordergate
