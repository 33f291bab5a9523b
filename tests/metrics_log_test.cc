// metrics.jsonl: round trip, resume, corrupt lines, and a failed write keeping the old file.
#include "training/report/metrics_log.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "framework/error.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

nlohmann::json epoch_record(int epoch) {
  return {{"epoch", epoch}, {"lr", 0.1 / epoch}, {"val_top1", 0.25 * epoch}, {"name", "run"}};
}

TEST(MetricsLog, AppendWritesOneObjectPerLineAndReadsBack) {
  const std::string path = fresh_dir("roundtrip") + "/metrics.jsonl";
  MetricsLog log(path);
  EXPECT_FALSE(std::filesystem::exists(path));  // nothing written before the first epoch
  for (int e = 1; e <= 3; ++e) log.append(epoch_record(e));

  std::ifstream in(path);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    EXPECT_EQ(nlohmann::json::parse(line), epoch_record(lines)) << line;
  }
  EXPECT_EQ(lines, 3);
  const MetricsLog back = MetricsLog::read(path);
  ASSERT_EQ(back.records().size(), 3u);
  for (int e = 1; e <= 3; ++e) EXPECT_EQ(back.records()[e - 1], epoch_record(e));
}

TEST(MetricsLog, ResumeKeepsEarlierEpochsAndDropsLaterOnes) {
  const std::string path = fresh_dir("resume") + "/metrics.jsonl";
  MetricsLog first(path);
  for (int e = 1; e <= 4; ++e) first.append(epoch_record(e));
  // The checkpoint is from epoch 2: epochs 3 and 4 are run again.
  MetricsLog resumed = MetricsLog::read(path);
  resumed.drop_after_epoch(2);
  ASSERT_EQ(resumed.records().size(), 2u);
  resumed.append(epoch_record(3));
  const MetricsLog back = MetricsLog::read(path);
  ASSERT_EQ(back.records().size(), 3u);
  for (int e = 1; e <= 3; ++e) EXPECT_EQ(back.records()[e - 1], epoch_record(e));
}

TEST(MetricsLog, MissingFileIsAnEmptyLogAndBlankLinesAreSkipped) {
  const std::string dir = fresh_dir("blank");
  EXPECT_TRUE(MetricsLog::read(dir + "/none.jsonl").records().empty());
  write_text(dir + "/m.jsonl", "{\"epoch\": 1}\n\n  \n{\"epoch\": 2}\n");
  EXPECT_EQ(MetricsLog::read(dir + "/m.jsonl").records().size(), 2u);
}

TEST(MetricsLog, CorruptLinesNameTheFileAndLine) {
  const std::string dir = fresh_dir("corrupt");
  write_text(dir + "/a.jsonl", "{\"epoch\": 1}\n{\"epoch\": 2, \"lr\n");
  EXPECT_ERROR_CONTAINS(MetricsLog::read(dir + "/a.jsonl"), dir + "/a.jsonl:2: not valid JSON");
  write_text(dir + "/b.jsonl", "{\"epoch\": 1}\n{\"epoch\": 2}\n[3]\n");
  EXPECT_ERROR_CONTAINS(MetricsLog::read(dir + "/b.jsonl"),
                        dir + "/b.jsonl:3: a metrics record must be a JSON object, got array");
  write_text(dir + "/d.jsonl", "{\"epoch\": " + std::string(100000, '[') + "\n");
  EXPECT_ERROR_CONTAINS(MetricsLog::read(dir + "/d.jsonl"),
                        dir + "/d.jsonl:1: JSON nested deeper than 64 levels");
  write_text(dir + "/e.jsonl", "{\"epoch\": 1, \"epoch\": 2}\n");
  EXPECT_ERROR_CONTAINS(MetricsLog::read(dir + "/e.jsonl"),
                        dir + "/e.jsonl:1: key \"epoch\" appears twice in one object");
  EXPECT_ERROR_CONTAINS(MetricsLog(dir + "/c.jsonl").append(nlohmann::json(1.5)),
                        "must be a JSON object, got number");
}

// Each line is one epoch's, in order: a line without its epoch, or out of order, would be
// taken for another epoch's (resuming appends the checkpoint's line when no line has its epoch).
TEST(MetricsLog, EveryRecordHasAnEpochAboveTheOneBefore) {
  const std::string dir = fresh_dir("epochs");
  const std::string expected = "a metrics record's \"epoch\" must be an integer above ";
  for (const auto& [text, message] : std::vector<std::pair<std::string, std::string>>{
           {"{\"lr\": 0.1}\n", ":1: " + expected + "0 (the epoch before it, or 0), got none"},
           {"{\"epoch\": 1}\n{\"epoch\": \"2\"}\n",
            ":2: " + expected + "1 (the epoch before it, or 0), got \"2\""},
           {"{\"epoch\": 1}\n{\"epoch\": 1}\n", ":2: " + expected + "1"},
           {"{\"epoch\": 2}\n\n{\"epoch\": 1.5}\n", ":3: " + expected + "2"},
           {"{\"epoch\": 0}\n", ":1: " + expected + "0"},
       }) {
    SCOPED_TRACE(text);
    write_text(dir + "/m.jsonl", text);
    EXPECT_ERROR_CONTAINS(MetricsLog::read(dir + "/m.jsonl"), dir + "/m.jsonl" + message);
  }
  MetricsLog log(dir + "/a.jsonl");
  log.append(epoch_record(2));
  EXPECT_ERROR_CONTAINS(log.append(epoch_record(2)), dir + "/a.jsonl: " + expected + "2");
  EXPECT_ERROR_CONTAINS(log.append({{"lr", 1}}), expected + "2");
  EXPECT_EQ(MetricsLog::read(dir + "/a.jsonl").records().size(), 1u);
}

// A file no run writes is refused before it is parsed: parsed JSON takes tens of times the
// file's size.
TEST(MetricsLog, AFileOverTheLimitIsRefusedUnread) {
  const std::string path = fresh_dir("big") + "/metrics.jsonl";
  std::string text = "{\"epoch\": 1, \"pad\": \"" + std::string(kMaxMetricsLogBytes, 'x') + "\"}\n";
  write_text(path, text);
  EXPECT_ERROR_CONTAINS(MetricsLog::read(path), path);
  EXPECT_ERROR_CONTAINS(MetricsLog::read(path), std::to_string(kMaxMetricsLogBytes));
  text.resize(kMaxMetricsLogBytes - 100);
  text += "\"}\n";
  write_text(path, text);
  EXPECT_EQ(MetricsLog::read(path).records().size(), 1u);
}

TEST(MetricsLog, UnreadableFileIsAnError) {
  const std::string dir = fresh_dir("unreadable");
  // A directory where the file should be: opening it for reading fails on any user.
  std::filesystem::create_directories(dir + "/m.jsonl/x");
  EXPECT_ERROR_CONTAINS(MetricsLog::read(dir + "/m.jsonl"), dir + "/m.jsonl");
}

TEST(MetricsLog, AFailedAppendKeepsTheFileAndTheRecords) {
  const std::string dir = fresh_dir("failed");
  const std::string path = dir + "/sub/metrics.jsonl";
  std::filesystem::create_directories(dir + "/sub");
  MetricsLog log(path);
  log.append(epoch_record(1));
  const std::string old = read_text(path);
  // A read-only directory stops the temporary file (root ignores modes, so a removed
  // directory stands in there).
  if (geteuid() == 0)
    std::filesystem::remove_all(dir + "/sub");
  else
    chmod((dir + "/sub").c_str(), 0555);
  EXPECT_THROW(log.append(epoch_record(2)), Error);
  EXPECT_EQ(log.records().size(), 1u);
  if (geteuid() != 0) {
    chmod((dir + "/sub").c_str(), 0755);
    EXPECT_EQ(read_text(path), old);
  }
}

// A write cut short (the file size limit, as on a full disk) leaves the previous file whole.
// In a child process, so the limit stays there.
TEST(MetricsLog, AWriteFailingHalfWayKeepsTheOldFile) {
  const std::string path = fresh_dir("halfway") + "/metrics.jsonl";
  MetricsLog log(path);
  log.append(epoch_record(1));
  const std::string old = read_text(path);
  nlohmann::json big = epoch_record(2);
  big["padding"] = std::string(1 << 16, 'x');
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{4096, 4096};
    setrlimit(RLIMIT_FSIZE, &limit);
    try {
      log.append(big);
    } catch (const Error&) {
      _exit(log.records().size() == 1 ? 0 : 3);
    }
    _exit(4);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "3: records changed, 4: no error";
  EXPECT_EQ(read_text(path), old);
  EXPECT_EQ(MetricsLog::read(path).records().size(), 1u);
}

}  // namespace
}  // namespace repflow
