// Worker log files (observability/worker_log.h) on real files: markers, the
// incremental reader, resuming from an offset, stdout and stderr apart,
// `rayk logs`'s filtered read with offsets; the raylet's log monitor reading
// a worker that ended before its first poll; and the folding printer of log
// to driver (observability/log_to_driver.h).
#include "observability/worker_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <utility>
#include <vector>

#include "observability/log_to_driver.h"
#include "process/session.h"
#include "raylet/log_monitor.h"
#include "rpc/protocol.h"
#include "test_util.h"

namespace rayk::observability {
namespace {

using ::testing::ElementsAre;

class WorkerLogTest : public ::testing::Test {
 protected:
  WorkerLogTest() { std::filesystem::create_directories(dir_.path() + "/logs"); }
  void Append(const std::string& text) { std::ofstream(path_, std::ios::app) << text; }

  testing::TempDir dir_;
  const WorkerId worker_ = WorkerId::FromRandom();
  const std::string path_ = WorkerLogPath(dir_.path(), worker_);
  const JobId job_ = JobId::FromRandom();
  const NodeId node_ = NodeId::FromRandom();
  const TaskId task_ = TaskId::FromRandom();
  const ActorId actor_ = ActorId::FromRandom();
};

TEST_F(WorkerLogTest, ReaderGroupsLinesByTaskAndDropsMarkersAndRuntimeLines) {
  Append(WorkerLogHeader(job_, node_, 42));
  Append("[2026-11-29 05:45:26.123] [worker 42] [info] core worker started\n");
  Append(TaskMarker(task_, ActorId(), "Add"));
  Append("one\ntwo\n");
  Append(TaskMarker(TaskId::FromRandom(), actor_, "my actor"));
  Append("three\npart");
  WorkerLogReader reader(path_);
  auto batches = reader.ReadNew();
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].job_id, job_);
  EXPECT_EQ(batches[0].node_id, node_);
  EXPECT_EQ(batches[0].pid, 42);
  EXPECT_EQ(batches[0].task_id, task_);
  EXPECT_TRUE(batches[0].actor_id.IsNil());
  EXPECT_EQ(batches[0].name, "Add");
  EXPECT_THAT(batches[0].lines, ElementsAre("one", "two"));
  EXPECT_EQ(batches[1].actor_id, actor_);
  EXPECT_EQ(batches[1].name, "my actor");
  EXPECT_THAT(batches[1].lines, ElementsAre("three"));  // "part" waits for its newline
  Append("ial\n");
  batches = reader.ReadNew();
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].name, "my actor");
  EXPECT_THAT(batches[0].lines, ElementsAre("partial"));
  EXPECT_TRUE(reader.ReadNew().empty());
  EXPECT_EQ(reader.offset(), std::filesystem::file_size(path_));
}

TEST_F(WorkerLogTest, ALineLongerThanTheBudgetComesInPieces) {
  Append(std::string(10, 'x') + "\n");
  WorkerLogReader reader(path_);
  auto first = reader.ReadNew(4);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_THAT(first[0].lines, ElementsAre("xxxx"));
  EXPECT_EQ(reader.offset(), 4u);
}

TEST_F(WorkerLogTest, AMissingFileReadsAsEmpty) {
  WorkerLogReader reader(dir_.path() + "/logs/worker-none.log");
  EXPECT_TRUE(reader.ReadNew().empty());
  EXPECT_EQ(reader.offset(), 0u);
}

TEST_F(WorkerLogTest, ReadWorkerLogsFiltersAndGoesOnFromItsOffsets) {
  Append(WorkerLogHeader(job_, node_, 42));
  Append(TaskMarker(task_, ActorId(), "Add") + "task line\n");
  Append(TaskMarker(TaskId::FromRandom(), actor_, "speaker") + "actor line\n");
  protocol::ReadLogs request;
  request.actor_id = actor_;
  protocol::LogLines lines = ReadWorkerLogs(dir_.path(), request, 1 << 20);
  ASSERT_EQ(lines.batches.size(), 1u);
  EXPECT_THAT(lines.batches[0].lines, ElementsAre("actor line"));
  EXPECT_FALSE(lines.more);
  // From the offsets on, only what came since, still known as the actor's.
  Append("later line\n");
  request.offsets = lines.offsets;
  lines = ReadWorkerLogs(dir_.path(), request, 1 << 20);
  ASSERT_EQ(lines.batches.size(), 1u);
  EXPECT_EQ(lines.batches[0].name, "speaker");
  EXPECT_THAT(lines.batches[0].lines, ElementsAre("later line"));
  // Another job's filter finds nothing; the task's finds its line.
  request = {};
  request.job_id = JobId::FromRandom();
  EXPECT_TRUE(ReadWorkerLogs(dir_.path(), request, 1 << 20).batches.empty());
  request = {};
  request.task_id = task_;
  lines = ReadWorkerLogs(dir_.path(), request, 1 << 20);
  ASSERT_EQ(lines.batches.size(), 1u);
  EXPECT_THAT(lines.batches[0].lines, ElementsAre("task line"));
}

TEST_F(WorkerLogTest, SilentTasksMarkersAreChainedAndTheLastOneOwnsTheLine) {
  // Markers of tasks that printed nothing wait in the worker's line buffer
  // and reach the file together, ahead of the next line.
  Append(WorkerLogHeader(job_, node_, 42));
  Append(TaskMarker(TaskId::FromRandom(), ActorId(), "Quiet") +
         TaskMarker(TaskId::FromRandom(), ActorId(), "Quiet") +
         TaskMarker(task_, ActorId(), "Add"));
  Append("printed\n");
  Append(TaskMarker(TaskId::FromRandom(), ActorId(), "Quiet"));  // its line not written yet
  WorkerLogReader reader(path_);
  auto batches = reader.ReadNew();
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].task_id, task_);
  EXPECT_EQ(batches[0].name, "Add");
  EXPECT_THAT(batches[0].lines, ElementsAre("printed"));
  // A name cannot end its marker or its line early.
  EXPECT_EQ(TaskMarker(task_, ActorId(), "two\nlines\x1f").find('\n'), std::string::npos);
}

TEST_F(WorkerLogTest, MarkersPiledUpWithoutANewlineAreAppliedNotPrinted) {
  // stdio flushes a full buffer of silent tasks' markers without a newline.
  Append(WorkerLogHeader(job_, node_, 42));
  for (int i = 0; i < 200; ++i) Append(TaskMarker(TaskId::FromRandom(), ActorId(), "Quiet"));
  Append(TaskMarker(task_, ActorId(), "Add") + ":rayk_ta");  // the rest not flushed yet
  WorkerLogReader reader(path_);
  EXPECT_TRUE(reader.ReadNew(/*max_bytes=*/4096).empty());  // less than the markers: none printed
  while (reader.ReadNew(4096).empty() && reader.offset() + 8 < std::filesystem::file_size(path_)) {
  }
  EXPECT_EQ(reader.offset() + 8, std::filesystem::file_size(path_));  // all but ":rayk_ta"
  Append("sk: " + task_.Hex() + " - Add\x1fprinted\n");
  auto batches = reader.ReadNew(4096);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].task_id, task_);
  EXPECT_THAT(batches[0].lines, ElementsAre("printed"));
}

TEST(TaskMarkerTest, ASilentTaskTakesItsMarkerBackAPrintingOneKeepsIt) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/out";
  std::FILE* file = std::fopen(path.c_str(), "w");
  ASSERT_NE(file, nullptr);
  std::setvbuf(file, nullptr, _IOLBF, BUFSIZ);  // as a worker's stdout and stderr
  const std::string silent = TaskMarker(TaskId::FromRandom(), ActorId(), "Silent");
  PutTaskMarker(file, silent);
  EXPECT_TRUE(TakeBackTaskMarker(file, silent));
  const std::string loud = TaskMarker(TaskId::FromRandom(), ActorId(), "Loud");
  PutTaskMarker(file, loud);
  std::fputs("a line\n", file);  // the newline writes the marker and the line
  EXPECT_FALSE(TakeBackTaskMarker(file, loud));
  std::fclose(file);
  EXPECT_EQ(ReadFile(path).value(), loud + "a line\n");
}

TEST_F(WorkerLogTest, ResumeReadsOnlyWhatFollowsItsOffsetAndRestartsATruncatedFile) {
  Append(WorkerLogHeader(job_, node_, 42));
  Append(TaskMarker(TaskId::FromRandom(), ActorId(), "Early") + "early line\n");
  Append(TaskMarker(task_, actor_, "speaker") + "first\n" + std::string(200000, 'x') + "\n");
  const uint64_t offset = std::filesystem::file_size(path_);
  Append("second\n");
  WorkerLogReader reader(path_);
  reader.Resume(offset);
  auto batches = reader.ReadNew();
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].pid, 42);
  EXPECT_EQ(batches[0].task_id, task_);  // its marker lies 200 kB before the offset
  EXPECT_EQ(batches[0].name, "speaker");
  EXPECT_THAT(batches[0].lines, ElementsAre("second"));
  // At the end already: nothing.
  WorkerLogReader caught_up(path_);
  caught_up.Resume(std::filesystem::file_size(path_));
  EXPECT_TRUE(caught_up.ReadNew().empty());
  // Truncated and rewritten, shorter than the offset: read from its start.
  std::ofstream(path_, std::ios::trunc) << WorkerLogHeader(job_, node_, 43) << "anew\n";
  WorkerLogReader after(path_);
  after.Resume(offset);
  batches = after.ReadNew();
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].pid, 43);
  EXPECT_THAT(batches[0].lines, ElementsAre("anew"));
  // A reader that was following sees the truncation too.
  std::ofstream(path_, std::ios::trunc) << "short\n";
  batches = reader.ReadNew();
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_THAT(batches[0].lines, ElementsAre("short"));
}

TEST_F(WorkerLogTest, StderrIsItsOwnFileAndReadLogsPicksTheStreams) {
  Append(WorkerLogHeader(job_, node_, 42));
  Append(TaskMarker(task_, ActorId(), "Add") + "to stdout\n");
  std::ofstream(WorkerErrPath(path_))
      << WorkerLogHeader(job_, node_, 42) << TaskMarker(task_, ActorId(), "Add") << "to stderr\n";
  auto lines_of = [&](int32_t streams) {
    protocol::ReadLogs request;
    request.streams = streams;
    std::vector<std::pair<std::string, bool>> lines;
    for (const auto& batch : ReadWorkerLogs(dir_.path(), request, 1 << 20).batches) {
      EXPECT_EQ(batch.task_id, task_);
      for (const auto& line : batch.lines) lines.emplace_back(line, batch.from_stderr);
    }
    std::sort(lines.begin(), lines.end());
    return lines;
  };
  using Line = std::pair<std::string, bool>;
  EXPECT_THAT(lines_of(protocol::ReadLogs::kBothStreams),
              ElementsAre(Line("to stderr", true), Line("to stdout", false)));
  EXPECT_THAT(lines_of(protocol::ReadLogs::kStdoutOnly), ElementsAre(Line("to stdout", false)));
  EXPECT_THAT(lines_of(protocol::ReadLogs::kStderrOnly), ElementsAre(Line("to stderr", true)));
}

TEST(LogMonitorTest, AWorkerThatEndedBeforeThePollIsStillRead) {
  // A real process that prints and exits at once, before the monitor's first
  // poll; the raylet's list no longer has it when the monitor looks.
  testing::TempDir dir;
  const std::string log = dir.path() + "/worker-0badcafe.log";
  const JobId job = JobId::FromRandom();
  const std::string header = "'" + WorkerLogHeader(job, NodeId::FromRandom(), 7) + "'";
  const std::string script =
      "printf '%s' " + header + "; printf '%s' " + header + " >&2; echo out; echo err >&2";
  auto pid =
      SpawnProcess({"/bin/sh", "-c", script}, log, /*new_session=*/false, {}, WorkerErrPath(log));
  ASSERT_TRUE(pid.ok()) << pid.status().message();
  int status = 0;
  ASSERT_EQ(waitpid(*pid, &status, 0), *pid);
  std::mutex mu;
  std::vector<protocol::LogBatch> sent;
  {
    LogMonitor monitor([] { return std::map<WorkerId, std::string>(); },
                       [&](std::string message) {
                         auto logs = protocol::Decode<protocol::PublishLogs>(message);
                         std::lock_guard<std::mutex> lock(mu);
                         for (auto& batch : logs.value().batches) sent.push_back(batch);
                       });
    monitor.Watch(WorkerId::FromRandom(), log);
    testing::PollUntil([&] {
      std::lock_guard<std::mutex> lock(mu);
      return sent.size() == 2;
    });
  }
  ASSERT_EQ(sent.size(), 2u);
  for (const auto& batch : sent) {
    EXPECT_EQ(batch.job_id, job);
    EXPECT_THAT(batch.lines, ElementsAre(batch.from_stderr ? "err" : "out"));
  }
}

// What a LogPrinter printed into a temporary file.
class PrinterOutput {
 public:
  PrinterOutput() : file_(std::tmpfile()) {}
  ~PrinterOutput() { std::fclose(file_); }
  std::FILE* file() { return file_; }
  std::string Text() {
    std::fflush(file_);
    std::rewind(file_);
    std::string text;
    for (int c; (c = std::fgetc(file_)) != EOF;) text += static_cast<char>(c);
    return text;
  }

 private:
  std::FILE* file_;
};

TEST(LogPrinterTest, PrefixesAndFoldsRepeatedLines) {
  PrinterOutput out;
  LogPrinter printer(out.file(), out.file());
  protocol::LogBatch batch;
  batch.node_id = NodeId::FromHex("3f9a01c2" + std::string(24, '0'));
  batch.pid = 7;
  batch.name = "Add";
  batch.lines = {"same", "same", "same"};
  printer.Print(batch);
  batch.lines = {"same", "other"};  // the run goes on across batches
  printer.Print(batch);
  batch.lines = {"other"};
  printer.Print(batch);
  printer.Flush(/*all=*/true);
  EXPECT_EQ(out.Text(),
            "(Add pid=7, node=3f9a01c2) same\n"
            "(Add pid=7, node=3f9a01c2) same [repeated 3x]\n"
            "(Add pid=7, node=3f9a01c2) other\n"
            "(Add pid=7, node=3f9a01c2) other [repeated 1x]\n");
}

TEST(LogPrinterTest, LinesBeforeAnyTaskAreTheWorkers) {
  PrinterOutput out;
  LogPrinter printer(out.file(), out.file());
  protocol::LogBatch batch;
  batch.pid = 9;
  batch.lines = {"loading"};
  printer.Print(batch);
  EXPECT_EQ(out.Text(), "(worker pid=9, node=00000000) loading\n");
}

}  // namespace
}  // namespace rayk::observability
