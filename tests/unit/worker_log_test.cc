// Worker log files (observability/worker_log.h) on real files: markers, the
// incremental reader, `rayk logs`'s filtered read with offsets; and the
// folding printer of log to driver (observability/log_to_driver.h).
#include "observability/worker_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "observability/log_to_driver.h"
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
  LogPrinter printer(out.file());
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
  LogPrinter printer(out.file());
  protocol::LogBatch batch;
  batch.pid = 9;
  batch.lines = {"loading"};
  printer.Print(batch);
  EXPECT_EQ(out.Text(), "(worker pid=9, node=00000000) loading\n");
}

}  // namespace
}  // namespace rayk::observability
