#include "ordergate/audit/journal.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <future>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "audit/test_support.hpp"
#include "gateway/test_support.hpp"

namespace ordergate {
namespace {

using testing::journal_options;
using testing::order_event;
using testing::parse_or_fail;
using testing::read_file;
using testing::read_lines;
using testing::ScratchDirectory;
using testing::test_names;
using testing::verify_files;
using testing::write_file;

constexpr std::string_view kZeroHash = "0000000000000000000000000000000000000000000000000000000000000000";

TEST(AuditJournal, WritesOneChainedJsonLinePerRecordWithResolvedNames) {
  ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  AuditJournal journal(journal_options(path), test_names());
  AuditEvent event = order_event("c-1");
  event.instrument_id = 1;
  event.account_id = 1;
  event.principal_id = 1;
  event.side = Side::sell;
  event.price = decimal_literal("151.236");
  const std::uint64_t sequence = journal.record(event);
  ASSERT_EQ(sequence, 1u);
  ASSERT_TRUE(journal.wait_durable(sequence));
  journal.stop();

  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0],
            "{\"seq\":1,\"time\":\"2023-11-14T22:13:20.123456789Z\",\"time_ns\":1700000000123456789,"
            "\"event\":\"order_accepted\",\"principal\":\"bob\",\"session\":65537,\"account\":\"acc-b\","
            "\"symbol\":\"USD/JPY\",\"side\":\"sell\",\"qty\":\"10000\",\"price\":\"151.236\","
            "\"cl_ord_id\":\"c-1\",\"reason\":\"OK\",\"prev\":\"" +
                std::string(kZeroHash) + "\",\"hash\":\"" +
                security::to_hex(security::sha256(lines[0].substr(0, lines[0].find(",\"hash\"")))) + "\"}");
  const AuditRecord record = parse_or_fail(lines[0]);
  EXPECT_FALSE(record.peer_uid.has_value()) << "peer_uid ~0 (in-process) is omitted";
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u) << "the journal is readable by its owner only";
}

TEST(AuditJournal, WritesOnlyTheFieldsThatApplyToTheEvent) {
  ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  AuditJournal journal(journal_options(path), test_names());

  AuditEvent unauthenticated;  // rejected before validation: no order fields
  unauthenticated.type = AuditEventType::order_rejected;
  unauthenticated.reason = Reason::UNAUTHENTICATED;
  unauthenticated.principal_id = 1;
  unauthenticated.peer_uid = 1000;
  journal.record(unauthenticated);

  AuditEvent fill = order_event("c-2");
  fill.type = AuditEventType::execution;
  fill.exec_status = ExecStatus::filled;
  fill.broker_order_id.assign("P-17");
  journal.record(fill);

  AuditEvent halt;
  halt.type = AuditEventType::trading_state_changed;
  halt.detail.assign("global:HALTED");
  ASSERT_EQ(journal.record(halt), 3u);
  ASSERT_EQ(journal.flush(), 3u);
  journal.stop();

  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 3u);
  const AuditRecord rejected = parse_or_fail(lines[0]);
  EXPECT_EQ(rejected.event, "order_rejected");
  EXPECT_EQ(rejected.principal, "bob");
  EXPECT_EQ(rejected.peer_uid, 1000u);
  EXPECT_EQ(rejected.reason, "UNAUTHENTICATED");
  EXPECT_TRUE(rejected.account.empty() && rejected.symbol.empty() && rejected.side.empty());
  EXPECT_EQ(lines[0].find("\"qty\""), std::string::npos);

  const AuditRecord filled = parse_or_fail(lines[1]);
  EXPECT_EQ(filled.status, "FILLED");
  EXPECT_EQ(filled.broker_order_id, "P-17");
  EXPECT_EQ(filled.account, "acc-a");
  EXPECT_EQ(filled.symbol, "EUR/USD");
  EXPECT_EQ(filled.qty, "10000");
  EXPECT_EQ(filled.price, "1.08463");

  const AuditRecord changed = parse_or_fail(lines[2]);
  EXPECT_EQ(changed.detail, "global:HALTED");
  EXPECT_TRUE(changed.principal.empty()) << "a kill-switch change names its scope in detail, not principal 0";
  EXPECT_TRUE(changed.account.empty());
  EXPECT_TRUE(changed.by.empty()) << "no operator named, no actor written";
  EXPECT_EQ(lines[2].find("\"by\""), std::string::npos);
}

TEST(AuditJournal, AnOperatorsChangeNamesWhoMadeItAndAnAmendItsOrder) {
  ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  AuditJournal journal(journal_options(path), test_names());
  AuditEvent halt;
  halt.type = AuditEventType::trading_state_changed;
  halt.detail.assign("account:acc-a:HALTED");
  halt.actor = 1;
  journal.record(halt);
  AuditEvent amend = order_event("c-3");
  amend.type = AuditEventType::replace_accepted;
  amend.detail.assign("replaces=c-2");
  journal.record(amend);
  ASSERT_EQ(journal.flush(), 2u);
  journal.stop();
  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 2u);
  const AuditRecord changed = parse_or_fail(lines[0]);
  EXPECT_EQ(changed.by, "bob");
  EXPECT_TRUE(changed.principal.empty());
  const AuditRecord amended = parse_or_fail(lines[1]);
  EXPECT_EQ(amended.event, "replace_accepted");
  EXPECT_EQ(amended.cl_ord_id, "c-3");
  EXPECT_EQ(amended.account, "acc-a");
  EXPECT_EQ(amended.qty, "10000");
  EXPECT_EQ(amended.detail, "replaces=c-2");
  const AuditVerifyResult verified = verify_journal(std::vector<std::filesystem::path>{path});
  EXPECT_TRUE(verified.ok()) << verified.message;
}

TEST(AuditJournal, EscapesWhateverTheNameResolverReturns) {
  ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  const std::string hostile = std::string("a\"b\\c\nd\x01") + "\xC3\xA9" + "\x7F";
  AuditJournal journal(journal_options(path), AuditNames::from_lists({hostile}, {}, {}));
  AuditEvent event;
  event.type = AuditEventType::session_opened;
  journal.record(event);
  ASSERT_EQ(journal.flush(), 1u);
  journal.stop();

  const std::string content = read_file(path);
  EXPECT_TRUE(std::all_of(content.begin(), content.end(),
                          [](char c) { return c == '\n' || (c >= 0x20 && c < 0x7F); }))
      << "every line is printable ASCII";
  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(parse_or_fail(lines[0]).principal, hostile) << "and parses back to the same bytes";
  EXPECT_TRUE(verify_files({path}).ok());
}

TEST(AuditJournal, UnresolvedIdsAreWrittenAsHashNumber) {
  ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  AuditJournal journal(journal_options(path));  // no resolvers at all
  AuditEvent event = order_event("c-1");
  event.account_id = 7;
  journal.record(event);
  ASSERT_EQ(journal.flush(), 1u);
  journal.stop();
  const AuditRecord record = parse_or_fail(read_lines(path).at(0));
  EXPECT_EQ(record.principal, "#0");
  EXPECT_EQ(record.account, "#7");
}

TEST(AuditJournal, FourProducerThreadsGetStrictlyIncreasingSequencesWrittenInOrder) {
  ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  AuditJournalOptions options = journal_options(path, AuditFsync::never);
  options.queue_capacity = 1u << 15;  // holds every record: nothing may be dropped
  AuditJournal journal(std::move(options), test_names());

  std::vector<std::vector<std::uint64_t>> sequences(kThreads);
  std::vector<std::thread> producers;
  std::promise<void> go;
  std::shared_future<void> start = go.get_future().share();
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      start.wait();
      std::vector<std::uint64_t>& own = sequences[static_cast<std::size_t>(t)];
      own.reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) {
        const std::string marker = "t" + std::to_string(t) + ":" + std::to_string(i);
        own.push_back(journal.record(order_event("c", marker)));
      }
    });
  }
  go.set_value();
  for (auto& producer : producers) producer.join();
  ASSERT_EQ(journal.flush(), std::uint64_t{kThreads * kPerThread});
  journal.stop();
  EXPECT_TRUE(journal.healthy());
  EXPECT_EQ(journal.dropped_records(), 0u);

  for (const auto& own : sequences) {
    EXPECT_TRUE(std::is_sorted(own.begin(), own.end()) &&
                std::adjacent_find(own.begin(), own.end()) == own.end())
        << "each thread sees its own sequence numbers strictly increase";
    EXPECT_EQ(std::count(own.begin(), own.end(), 0u), 0);
  }
  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), std::size_t{kThreads * kPerThread});
  std::set<std::string> markers;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const AuditRecord record = parse_or_fail(lines[i]);
    ASSERT_EQ(record.seq, i + 1) << "the file is in sequence order";
    markers.insert(record.detail);
  }
  EXPECT_EQ(markers.size(), lines.size()) << "every record exactly once";
  const AuditVerifyResult verified = verify_files({path});
  EXPECT_TRUE(verified.ok()) << verified.message;
  EXPECT_EQ(verified.last.sequence, std::uint64_t{kThreads * kPerThread});
}

TEST(AuditJournal, AlwaysPolicyLineIsInTheFileWhenWaitDurableReturns) {
  ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  AuditJournal journal(journal_options(path, AuditFsync::always), test_names());
  for (int i = 1; i <= 20; ++i) {
    const std::uint64_t sequence = journal.record(order_event("c-" + std::to_string(i)));
    ASSERT_TRUE(journal.wait_durable(sequence));
    EXPECT_GE(journal.durable_sequence(), sequence);
    const auto lines = read_lines(path);  // read back while the journal is still open
    ASSERT_GE(lines.size(), sequence);
    const AuditRecord record = parse_or_fail(lines[sequence - 1]);
    EXPECT_EQ(record.seq, sequence);
    EXPECT_EQ(record.cl_ord_id, "c-" + std::to_string(i));
  }
}

TEST(AuditJournal, EachFdatasyncIsTimedAndTheBacklogEmptiesOnceWritten) {
  ScratchDirectory dir;
  AuditJournal journal(journal_options(dir / "audit.jsonl", AuditFsync::always), test_names());
  const JournalSyncStats before = journal.sync_stats();
  std::uint64_t syncs_before = 0;
  for (const std::uint64_t count : before.buckets) syncs_before += count;
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(journal.wait_durable(journal.record(order_event("s-" + std::to_string(i)))));
  const JournalSyncStats after = journal.sync_stats();
  std::uint64_t syncs = 0;
  for (const std::uint64_t count : after.buckets) syncs += count;
  EXPECT_GE(syncs - syncs_before, 1u) << "every durable record came from an fdatasync";
  EXPECT_LE(syncs - syncs_before, 5u);
  EXPECT_GT(after.sum_ns, before.sum_ns);
  EXPECT_EQ(journal.queue_depth(), 0u) << "all written";
}

TEST(AuditJournal, WaitDurableRefusesSequencesThatWereNeverGiven) {
  ScratchDirectory dir;
  AuditJournal journal(journal_options(dir / "audit.jsonl"));
  EXPECT_FALSE(journal.wait_durable(0)) << "0 is a dropped record";
  EXPECT_FALSE(journal.wait_durable(1)) << "not assigned yet";
  EXPECT_FALSE(journal.wait_durable(1, std::chrono::milliseconds(1)));
}

TEST(AuditJournal, IntervalAndNeverPoliciesMakeRecordsDurableOnFlush) {
  for (const AuditFsync policy : {AuditFsync::interval, AuditFsync::never}) {
    ScratchDirectory dir;
    const auto path = dir / "audit.jsonl";
    AuditJournalOptions options = journal_options(path, policy);
    options.fsync_interval = std::chrono::milliseconds(10);
    std::atomic<std::uint64_t> reported{0};
    options.on_durable = [&](std::uint64_t sequence) { reported.store(sequence); };
    AuditJournal journal(std::move(options), test_names());
    std::uint64_t last = 0;
    for (int i = 0; i < 100; ++i) last = journal.record(order_event("c"));
    EXPECT_TRUE(journal.wait_durable(last)) << to_string(policy);
    EXPECT_EQ(journal.flush(), last);
    EXPECT_EQ(journal.durable_sequence(), last);
    EXPECT_EQ(read_lines(path).size(), last);
    journal.stop();  // joins the writer: its callbacks happened before
    EXPECT_EQ(reported.load(), last) << "on_durable saw the flush";
  }
}

TEST(AuditJournal, StopDrainsEverythingAndRefusesLaterRecords) {
  ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  AuditJournalOptions options = journal_options(path, AuditFsync::never);
  AuditJournal journal(std::move(options), test_names());
  for (int i = 0; i < 1000; ++i) journal.record(order_event("c"));
  journal.stop();
  EXPECT_EQ(read_lines(path).size(), 1000u) << "nothing lost on a clean stop";
  EXPECT_EQ(journal.durable_sequence(), 1000u) << "stop fsyncs even under 'never'";
  EXPECT_EQ(journal.record(order_event("late")), 0u);
  EXPECT_EQ(journal.dropped_records(), 1u);
  EXPECT_FALSE(journal.healthy());
  journal.stop();  // idempotent
  EXPECT_EQ(journal.flush(), 1000u) << "returns at once: everything numbered is durable";
  EXPECT_FALSE(journal.wait_durable(1001)) << "the refused record has no number";
}

TEST(AuditJournal, FullRingRefusesRecordsVisiblyAndLeavesNoHoleInTheChain) {
  ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  AuditJournalOptions options = journal_options(path, AuditFsync::always);
  options.queue_capacity = 64;
  // Hold the writer inside its first durability callback, so the ring
  // fills deterministically.
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> first{true};
  options.on_durable = [&](std::uint64_t) {
    if (first.exchange(false)) {
      entered.set_value();
      released.wait();
    }
  };
  AuditJournal journal(std::move(options), test_names());
  ASSERT_EQ(journal.record(order_event("c-0")), 1u);
  entered.get_future().wait();

  for (std::uint64_t i = 0; i < 64; ++i) ASSERT_EQ(journal.record(order_event("c")), i + 2);
  EXPECT_EQ(journal.record(order_event("refused")), 0u) << "65 in flight: the ring is full";
  EXPECT_EQ(journal.dropped_records(), 1u);
  EXPECT_FALSE(journal.healthy()) << "the process sees the loss and halts trading";
  release.set_value();
  const std::uint64_t last = journal.flush();
  journal.stop();

  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 66u) << "65 records and one note of the loss";
  const AuditRecord note = parse_or_fail(lines.back());
  EXPECT_EQ(note.event, "records_dropped");
  EXPECT_EQ(note.detail, "count=1");
  EXPECT_GE(last, 65u);
  const AuditVerifyResult verified = verify_files({path});
  EXPECT_TRUE(verified.ok()) << verified.message;
  EXPECT_EQ(verified.last.sequence, 66u) << "the refused record took no sequence number";
}

TEST(AuditJournal, RefusedRecordsAreNotedAlertedAndTheJournalIsHealthyAgainOnceTheNoteIsDurable) {
  ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  AuditJournalOptions options = journal_options(path, AuditFsync::always);
  options.queue_capacity = 64;
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> first{true};
  options.on_durable = [&](std::uint64_t) {
    if (first.exchange(false)) {
      entered.set_value();
      released.wait();
    }
  };
  std::atomic<std::uint64_t> alerted_count{0};
  std::atomic<std::uint64_t> alerted_sequence{0};
  options.on_records_dropped = [&](std::uint64_t count, std::uint64_t note_sequence) {
    alerted_count.fetch_add(count);
    alerted_sequence.store(note_sequence);
  };
  AuditJournal journal(std::move(options), test_names());
  ASSERT_EQ(journal.record(order_event("c-0")), 1u);
  entered.get_future().wait();
  for (std::uint64_t i = 0; i < 64; ++i) ASSERT_EQ(journal.record(order_event("c")), i + 2);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(journal.record(order_event("refused")), 0u);
  EXPECT_EQ(journal.dropped_records(), 3u);
  EXPECT_FALSE(journal.healthy());

  release.set_value();
  ASSERT_TRUE(testing::wait_until([&] { return journal.healthy(); }))
      << "the writer caught up and noted the loss: the journal recovers";
  // Healthy again only once the note is on disk.
  EXPECT_EQ(alerted_count.load(), 3u) << "the owner was told, once";
  EXPECT_EQ(alerted_sequence.load(), 66u);
  EXPECT_GE(journal.durable_sequence(), 66u);
  const auto lines = read_lines(path);
  ASSERT_GE(lines.size(), 66u);
  const AuditRecord note = parse_or_fail(lines[65]);
  EXPECT_EQ(note.event, "records_dropped");
  EXPECT_EQ(note.detail, "count=3");
  EXPECT_EQ(journal.dropped_records(), 3u) << "the counter keeps the total";
  EXPECT_FALSE(journal.failed());

  EXPECT_EQ(journal.record(order_event("after")), 67u);
  journal.stop();
  const AuditVerifyResult verified = verify_files({path});
  EXPECT_TRUE(verified.ok()) << verified.message;
  EXPECT_EQ(verified.last.sequence, 67u);
}

// Caps the size of files this process writes, so the next write fails
// (EFBIG, with SIGXFSZ ignored); restores both on destruction.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    previous_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() { lift(); }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;
  void lift() {
    if (lifted_) return;
    lifted_ = true;
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, previous_handler_);
  }

 private:
  rlimit saved_{};
  void (*previous_handler_)(int) = SIG_DFL;
  bool lifted_ = false;
};

TEST(AuditJournal, FailedWriteKeepsTheJournalUnhealthyForGoodAndSaysWhy) {
  ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  AuditJournal journal(journal_options(path, AuditFsync::always), test_names());
  ASSERT_TRUE(journal.wait_durable(journal.record(order_event("c-1"))));
  const auto size = std::filesystem::file_size(path);
  {
    FileSizeLimit disk_full(static_cast<rlim_t>(size + 10));
    const std::uint64_t sequence = journal.record(order_event("c-2"));
    ASSERT_EQ(sequence, 2u);
    EXPECT_FALSE(journal.wait_durable(sequence)) << "the write failed";
  }
  EXPECT_TRUE(journal.failed());
  EXPECT_FALSE(journal.healthy());
  EXPECT_NE(journal.error().find("write failed"), std::string::npos) << journal.error();

  // The disk has room again, but part of a line may be in the file: the
  // journal stays failed, and only a restart (which checks the tail) resumes.
  EXPECT_EQ(journal.record(order_event("c-3")), 0u);
  EXPECT_EQ(journal.flush(), 0u);
  EXPECT_FALSE(journal.healthy());
  journal.stop();
  EXPECT_FALSE(journal.healthy());
  EXPECT_THROW(AuditJournal(journal_options(path), test_names()), AuditJournalError)
      << "the incomplete line is refused at restart";
}

TEST(AuditJournal, ReopeningContinuesTheChainAfterTheLastRecord) {
  ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  {
    AuditJournal journal(journal_options(path), test_names());
    for (int i = 0; i < 5; ++i) journal.record(order_event("first-run"));
  }
  AuditJournal journal(journal_options(path), test_names());
  EXPECT_EQ(journal.last_sequence(), 5u);
  EXPECT_EQ(journal.record(order_event("second-run")), 6u);
  journal.stop();

  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(parse_or_fail(lines[5]).prev, parse_or_fail(lines[4]).hash);
  EXPECT_TRUE(verify_files({path}).ok());
}

TEST(AuditJournal, RefusesToResumeADamagedTail) {
  ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  {
    AuditJournal journal(journal_options(path), test_names());
    for (int i = 0; i < 3; ++i) journal.record(order_event("c"));
  }
  const std::string good = read_file(path);
  auto expect_refused = [&](const std::string& content, const char* words) {
    write_file(path, content);
    try {
      AuditJournal journal(journal_options(path), test_names());
      ADD_FAILURE() << "resumed a journal whose tail is damaged: " << words;
    } catch (const AuditJournalError& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << "names the file";
    }
  };
  expect_refused(good.substr(0, good.size() - 10), "incomplete");
  expect_refused(good.substr(0, good.size() - 10), "ordergate audit repair");  // names the fix
  expect_refused(good + "not json\n", "not a journal record");
  std::string edited = good;
  edited[edited.rfind("10000")] = '9';
  expect_refused(edited, "does not match");
}

TEST(AuditJournal, RotationKeepsTheChainAcrossFilesAndResumesFromTheNewestFile) {
  ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  AuditJournalOptions options = journal_options(path, AuditFsync::never);
  options.max_bytes = 2000;
  {
    AuditJournal journal(std::move(options), test_names());
    for (int i = 0; i < 40; ++i) journal.record(order_event("c-" + std::to_string(i)));
  }
  const std::vector<std::filesystem::path> files = audit_journal_files(path);
  ASSERT_GE(files.size(), 3u);
  EXPECT_EQ(files.front(), dir / "audit.jsonl.000001");
  EXPECT_EQ(files.back(), path);
  std::size_t total = 0;
  for (std::size_t i = 0; i < files.size(); ++i) {
    EXPECT_LE(std::filesystem::file_size(files[i]), 2000u) << files[i];
    const auto lines = read_lines(files[i]);
    total += lines.size();
    if (i > 0) {
      EXPECT_EQ(parse_or_fail(lines.front()).prev, parse_or_fail(read_lines(files[i - 1]).back()).hash)
          << "the first line of a new file chains to the last line of the previous one";
    }
  }
  EXPECT_EQ(total, 40u);
  const AuditVerifyResult verified = verify_files(files);
  EXPECT_TRUE(verified.ok()) << verified.message;
  EXPECT_EQ(verified.last.sequence, 40u);

  // A crash between renaming the active file and writing the next line
  // leaves no active file: the chain resumes from the newest rotated file.
  char next_name[16];
  std::snprintf(next_name, sizeof next_name, ".%06zu", files.size());
  std::filesystem::rename(path, path.string() + next_name);
  {
    AuditJournal journal(journal_options(path), test_names());
    EXPECT_EQ(journal.record(order_event("after-crash")), 41u);
  }
  const AuditVerifyResult resumed = verify_files(audit_journal_files(path));
  EXPECT_TRUE(resumed.ok()) << resumed.message;
  EXPECT_EQ(resumed.last.sequence, 41u);
}

TEST(AuditJournal, HmacJournalVerifiesOnlyWithItsKey) {
  ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  AuditJournalOptions options = journal_options(path);
  options.hmac_key = security::Secret("journal-key-0123456789abcdef");
  {
    AuditJournal journal(std::move(options), test_names());
    for (int i = 0; i < 3; ++i) journal.record(order_event("c"));
  }
  const security::Secret right("journal-key-0123456789abcdef");
  const security::Secret wrong("journal-key-0123456789abcdeF");
  EXPECT_TRUE(verify_files({path}, &right).ok());
  const AuditVerifyResult without = verify_files({path});
  EXPECT_EQ(without.defect, AuditDefect::edited);
  EXPECT_EQ(without.line, 1u);
  EXPECT_NE(without.message.find("HMAC"), std::string::npos) << without.message;
  EXPECT_EQ(verify_files({path}, &wrong).defect, AuditDefect::edited);
  EXPECT_EQ(read_file(path).find("journal-key"), std::string::npos) << "the key is never written";

  // Resuming with another key (or none) is refused rather than forking the chain.
  EXPECT_THROW(AuditJournal(journal_options(path), test_names()), AuditJournalError);
  AuditJournalOptions wrong_options = journal_options(path);
  wrong_options.hmac_key = wrong.clone();
  EXPECT_THROW(AuditJournal(std::move(wrong_options), test_names()), AuditJournalError);
}

TEST(AuditJournal, RefusesInvalidOptionsAndUnsafePaths) {
  ScratchDirectory dir;
  AuditJournalOptions odd = journal_options(dir / "audit.jsonl");
  odd.queue_capacity = 1000;
  EXPECT_THROW(AuditJournal{std::move(odd)}, AuditJournalError);
  EXPECT_THROW(AuditJournal{journal_options(dir / "missing" / "audit.jsonl")}, AuditJournalError);
  std::filesystem::create_symlink(dir / "elsewhere.jsonl", dir / "link.jsonl");
  EXPECT_THROW(AuditJournal{journal_options(dir / "link.jsonl")}, AuditJournalError)
      << "never follows a symlink";
}

// The ids a Gateway built from `config` assigns: principals, accounts and
// instruments in configuration order (instruments by canonical name).
AuditNames names_by_id(const GatewayConfig& config) {
  std::vector<std::string> principals;
  for (const PrincipalConfig& principal : config.principals) principals.push_back(principal.policy.name);
  const AccountTable account_table(config.accounts);
  std::vector<std::string> accounts;
  for (const Account& account : account_table.all()) accounts.emplace_back(account.name.view());
  const InstrumentTable instrument_table(config.instruments);
  std::vector<std::string> symbols;
  for (const Instrument& instrument : instrument_table.all()) symbols.emplace_back(instrument.name.view());
  return AuditNames::from_lists(std::move(principals), std::move(accounts), std::move(symbols));
}

TEST(AuditJournal, GatewayVerdictsCarryTheSequenceOfTheirRecord) {
  ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  const GatewayConfig config = testing::test_config();
  AuditJournal journal(journal_options(path), names_by_id(config));
  {
    ManualClock clock;
    Gateway gateway(testing::test_config(), clock, &journal);
    gateway.start();
    Session session = gateway.open_session("alice");
    const Verdict accepted = session.submit(testing::market_order("m-1"));
    ASSERT_TRUE(accepted.accepted());
    ASSERT_TRUE(journal.wait_durable(accepted.audit_sequence));
    const Verdict refused = session.submit(testing::market_order("m-1"));
    ASSERT_EQ(refused.reason, Reason::DUPLICATE_CLIENT_ORDER_ID);
    ASSERT_TRUE(journal.wait_durable(refused.audit_sequence));

    const auto lines = read_lines(path);
    const AuditRecord accepted_record = parse_or_fail(lines.at(accepted.audit_sequence - 1));
    EXPECT_EQ(accepted_record.event, "order_accepted");
    EXPECT_EQ(accepted_record.principal, "alice");
    EXPECT_EQ(accepted_record.account, "acc-a");
    EXPECT_EQ(accepted_record.symbol, "EUR/USD");
    EXPECT_EQ(accepted_record.cl_ord_id, "m-1");
    const AuditRecord refused_record = parse_or_fail(lines.at(refused.audit_sequence - 1));
    EXPECT_EQ(refused_record.event, "order_rejected");
    EXPECT_EQ(refused_record.reason, "DUPLICATE_CLIENT_ORDER_ID");
    session.close();
    gateway.stop();
  }
  journal.stop();
  EXPECT_TRUE(journal.healthy());
  EXPECT_TRUE(verify_files({path}).ok());
}

TEST(AuditJournal, GatewayRefusesNewOrdersWhileTheJournalMissesARecordAndTradesAgainOnceTheLossIsNoted) {
  ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  const GatewayConfig config = testing::test_config();
  AuditJournalOptions options = journal_options(path, AuditFsync::always);
  options.queue_capacity = 64;
  // Hold the writer inside a durability callback once asked to, so the ring
  // fills deterministically.
  std::atomic<bool> hold{false};
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  options.on_durable = [&](std::uint64_t) {
    if (hold.exchange(false)) {
      entered.set_value();
      released.wait();
    }
  };
  AuditJournal journal(std::move(options), names_by_id(config));
  ManualClock clock;
  Gateway gateway(config, clock, &journal);
  gateway.start();
  Session session = gateway.open_session("alice");
  const Verdict resting = session.submit(testing::limit_order("r-1", Side::buy, "1.08000", "1000"));
  ASSERT_TRUE(resting.accepted());
  ASSERT_EQ(testing::wait_for_reports(session, 1).size(), 1u);
  ASSERT_TRUE(journal.wait_durable(journal.last_sequence()));

  hold.store(true);
  journal.record(order_event("hold"));
  entered.get_future().wait();
  while (journal.record(order_event("fill")) != 0) {
  }
  ASSERT_FALSE(journal.healthy());

  EXPECT_EQ(session.submit(testing::market_order("m-1")).reason, Reason::AUDIT_UNAVAILABLE);
  EXPECT_TRUE(session.cancel("r-1").accepted()) << "cancels pass an unavailable journal";
  release.set_value();
  const auto reports = testing::wait_for_reports(session, 1);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].status, ExecStatus::canceled);
  ASSERT_TRUE(testing::wait_until([&] { return journal.healthy(); }))
      << "the writer caught up and noted the loss";
  const Verdict after = session.submit(testing::market_order("m-2"));
  EXPECT_TRUE(after.accepted()) << reason_name(after.reason);
  session.close();
  gateway.stop();
  journal.stop();
  EXPECT_TRUE(verify_files({path}).ok()) << "the loss is a note in the chain, not a hole";
  const auto lines = read_lines(path);
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(),
                          [](const std::string& line) { return line.find("records_dropped") != std::string::npos; }),
            1);
}

TEST(AuditJournal, OrderThatWouldOverflowTheRingIsRefusedBeforeItReachesTheBroker) {
  ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  const GatewayConfig config = testing::test_config();
  AuditJournalOptions options = journal_options(path, AuditFsync::always);
  options.queue_capacity = 64;
  std::atomic<bool> hold{false};
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  options.on_durable = [&](std::uint64_t) {
    if (hold.exchange(false)) {
      entered.set_value();
      released.wait();
    }
  };
  AuditJournal journal(std::move(options), names_by_id(config));
  // Whatever fails below, the writer is let go before the journal stops.
  struct Release {
    std::promise<void>& release;
    bool done = false;
    void operator()() {
      if (!std::exchange(done, true)) release.set_value();
    }
    ~Release() { (*this)(); }
  } let_go{release};
  ManualClock clock;
  Gateway gateway(config, clock, &journal);
  gateway.start();
  Session session = gateway.open_session("alice");
  ASSERT_TRUE(journal.wait_durable(journal.last_sequence()));

  // Writer held; records fill the ring to the last slot, and nothing was
  // refused yet (a refused reservation loses nothing): still healthy.
  hold.store(true);
  journal.record(order_event("hold"));
  entered.get_future().wait();
  int filled = 0;
  for (AuditReservation place = journal.reserve(); place; place = journal.reserve(), ++filled) {
    ASSERT_NE(journal.commit(place, order_event("fill")), 0u);
  }
  ASSERT_GE(filled, 63);
  ASSERT_TRUE(journal.healthy());
  ASSERT_EQ(journal.dropped_records(), 0u);

  const Verdict overflow = session.submit(testing::market_order("m-overflow"));
  EXPECT_EQ(overflow.reason, Reason::AUDIT_UNAVAILABLE) << "no room for its record: it does not leave";
  EXPECT_EQ(gateway.counters().accepted, 0u);
  EXPECT_EQ(gateway.exposure("acc-a", "EURUSD").open_orders, 0u) << "nothing of it stays booked";

  let_go();
  ASSERT_TRUE(testing::wait_until([&] { return journal.healthy(); }));
  const Verdict later = session.submit(testing::market_order("m-later"));
  ASSERT_TRUE(later.accepted()) << reason_name(later.reason);
  // The broker queue keeps a session's order: m-overflow would have come first.
  const auto reports = testing::wait_for_reports(session, 2);
  ASSERT_EQ(reports.size(), 2u);
  for (const ExecutionReport& report : reports) EXPECT_EQ(report.client_order_id.view(), "m-later");
  session.close();
  gateway.stop();
  journal.stop();

  // Every order that reached the broker has its order_accepted record, numbered before it was sent.
  std::map<std::string, std::uint64_t> accepted;
  std::vector<std::pair<std::string, std::uint64_t>> sent;
  for (const std::string& line : read_lines(path)) {
    const AuditRecord record = parse_or_fail(line);
    if (record.event == "order_accepted") accepted[record.cl_ord_id] = record.seq;
    if (record.event == "sent_to_broker") sent.emplace_back(record.cl_ord_id, record.seq);
  }
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].first, "m-later");
  ASSERT_EQ(accepted.count("m-later"), 1u);
  EXPECT_LT(accepted["m-later"], sent[0].second);
  EXPECT_EQ(accepted.count("m-overflow"), 0u);
  EXPECT_TRUE(verify_files({path}).ok());
}

TEST(AuditJournal, ReservedPlaceHoldsItsRecordWhateverIsRecordedMeanwhile) {
  ScratchDirectory dir;
  const auto path = dir / "audit.jsonl";
  AuditJournal journal(journal_options(path), test_names());
  const AuditReservation reservation = journal.reserve();
  ASSERT_TRUE(reservation);
  EXPECT_EQ(journal.record(order_event("after")), 2u);
  EXPECT_EQ(journal.commit(reservation, order_event("reserved")), 1u);
  ASSERT_EQ(journal.flush(), 2u);
  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(parse_or_fail(lines[0]).cl_ord_id, "reserved");
  EXPECT_EQ(parse_or_fail(lines[1]).cl_ord_id, "after");
  journal.stop();
  EXPECT_FALSE(journal.reserve()) << "a stopped journal has no room";
  EXPECT_EQ(journal.dropped_records(), 0u) << "a refused reservation loses no record";
}

}  // namespace
}  // namespace ordergate
