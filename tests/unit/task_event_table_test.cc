// Task events without a cluster: a worker's bounded reporter (batches, the
// drop count, the last batch on Stop, RUNNING only for what runs across a
// batch) and the GCS's bounded table (merging an
// attempt's events, eviction, listing by job).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "observability/task_event_reporter.h"
#include "observability/task_table.h"

namespace rayk::observability {
namespace {

protocol::TaskEvent Event(const TaskId& id, const std::string& state, int64_t start = 0,
                          int64_t end = 0) {
  protocol::TaskEvent event;
  event.task_id = id;
  event.name = "Add";
  event.state = state;
  event.start_us = start;
  event.end_us = end;
  return event;
}

class Batches {
 public:
  TaskEventReporter::Send Sink() {
    return [this](protocol::ReportTaskEvents batch) {
      std::lock_guard<std::mutex> lock(mu_);
      batches_.push_back(std::move(batch));
    };
  }
  std::vector<protocol::ReportTaskEvents> Get() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }

 private:
  std::mutex mu_;
  std::vector<protocol::ReportTaskEvents> batches_;
};

TEST(TaskEventReporterTest, SendsBatchesEveryPeriod) {
  Batches batches;
  TaskEventReporter reporter(100, std::chrono::milliseconds(20), batches.Sink());
  reporter.Finished(Event(TaskId::FromRandom(), "FINISHED"));
  reporter.Finished(Event(TaskId::FromRandom(), "FINISHED"));
  // Upper bound against hangs.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (batches.Get().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_FALSE(batches.Get().empty()) << "no batch without Stop";
  size_t events = 0;
  for (const auto& batch : batches.Get()) events += batch.events.size();
  EXPECT_EQ(events, 2u);
  reporter.Stop();
}

TEST(TaskEventReporterTest, CountsWhatAFullBufferDropsAndStopSendsTheRest) {
  Batches batches;
  // A period far longer than the test: only Stop sends.
  TaskEventReporter reporter(3, std::chrono::hours(1), batches.Sink());
  for (int i = 0; i < 5; ++i) reporter.Finished(Event(TaskId::FromRandom(), "FINISHED"));
  EXPECT_TRUE(batches.Get().empty());
  reporter.Stop();
  auto sent = batches.Get();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].events.size(), 3u);
  EXPECT_EQ(sent[0].dropped, 2u);
  reporter.Finished(Event(TaskId::FromRandom(), "FINISHED"));  // after Stop: ignored
  reporter.Stop();
  EXPECT_EQ(batches.Get().size(), 1u);
}

TEST(TaskEventReporterTest, AShortTaskIsOneEventALongOneShowsRunning) {
  Batches batches;
  TaskEventReporter reporter(10, std::chrono::hours(1), batches.Sink());
  auto quick = Event(TaskId::FromRandom(), "RUNNING", 10);
  auto slow = Event(TaskId::FromRandom(), "RUNNING", 20);
  reporter.Started(quick);
  reporter.Started(slow);
  quick.state = "FINISHED";
  quick.end_us = 15;
  reporter.Finished(quick);
  reporter.Stop();  // sends: the quick one's final event, the slow one as RUNNING
  auto sent = batches.Get();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_EQ(sent[0].events.size(), 2u);
  std::map<std::string, std::string> states;
  for (const auto& event : sent[0].events) states[event.task_id.Hex()] = event.state;
  EXPECT_EQ(states[quick.task_id.Hex()], "FINISHED");
  EXPECT_EQ(states[slow.task_id.Hex()], "RUNNING");
}

TEST(TaskEventReporterTest, ARunningTaskIsReportedOnce) {
  Batches batches;
  TaskEventReporter reporter(10, std::chrono::milliseconds(5), batches.Sink());
  reporter.Started(Event(TaskId::FromRandom(), "RUNNING", 10));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (batches.Get().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // several more periods
  reporter.Stop();
  size_t events = 0;
  for (const auto& batch : batches.Get()) events += batch.events.size();
  EXPECT_EQ(events, 1u);
}

// An owner notes each task it submits as pending and forgets it when a
// worker takes it: only one that waits a period is reported, once.
TEST(TaskEventReporterTest, AnOwnersTaskIsReportedOnlyWhenItWaits) {
  Batches batches;
  TaskEventReporter reporter(10, std::chrono::milliseconds(20), batches.Sink());
  auto taken = Event(TaskId::FromRandom(), "PENDING_NODE_ASSIGNMENT");
  auto waiting = Event(TaskId::FromRandom(), "PENDING_NODE_ASSIGNMENT");
  reporter.Started(taken);
  reporter.Started(waiting);
  EXPECT_FALSE(reporter.Forget(taken.task_id, taken.attempt));  // reached a worker at once
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (batches.Get().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));     // several more periods
  EXPECT_TRUE(reporter.Forget(waiting.task_id, waiting.attempt));  // its event went out
  reporter.Stop();
  std::vector<protocol::TaskEvent> sent;
  for (const auto& batch : batches.Get())
    sent.insert(sent.end(), batch.events.begin(), batch.events.end());
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].task_id, waiting.task_id);
  EXPECT_EQ(sent[0].state, "PENDING_NODE_ASSIGNMENT");
}

TEST(TaskEventReporterTest, ADriverThatRunsNothingSendsNothing) {
  Batches batches;
  { TaskEventReporter reporter(3, std::chrono::milliseconds(1), batches.Sink()); }
  EXPECT_TRUE(batches.Get().empty());
}

TEST(TaskEventReporterTest, ADisabledReporterKeepsAndSendsNothing) {
  // RAYK_TASK_EVENTS=0: what a worker hands it is neither kept nor sent.
  Batches batches;
  TaskEventReporter reporter(10, std::chrono::milliseconds(1), batches.Sink(), /*enabled=*/false);
  EXPECT_FALSE(reporter.enabled());
  auto task = Event(TaskId::FromRandom(), "RUNNING", 10);
  reporter.Started(task);
  EXPECT_FALSE(reporter.Forget(task.task_id, task.attempt));
  reporter.Started(task);
  task.state = "FINISHED";
  reporter.Finished(task);
  reporter.Stop();
  EXPECT_TRUE(batches.Get().empty());
}

TEST(TaskEventReporterTest, TheSwitchIsZeroOrOne) {
  setenv("RAYK_TASK_EVENTS", "0", 1);
  EXPECT_FALSE(TaskEventsWanted().value());
  setenv("RAYK_TASK_EVENTS", "1", 1);
  EXPECT_TRUE(TaskEventsWanted().value());
  unsetenv("RAYK_TASK_EVENTS");
  EXPECT_TRUE(TaskEventsWanted().value());
  setenv("RAYK_TASK_EVENTS", "off", 1);
  auto bad = TaskEventsWanted();
  unsetenv("RAYK_TASK_EVENTS");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "$RAYK_TASK_EVENTS is 'off': set it to 1 (record task events, the default) or 0 "
            "(`rayk list tasks` and `rayk timeline` then show nothing)");
}

TEST(TaskTableTest, MergesAnAttemptsEvents) {
  TaskTable table(10);
  TaskId id = TaskId::FromRandom();
  auto running = Event(id, "RUNNING", 100);
  running.submitted_us = 90;
  auto finished = Event(id, "FINISHED", 100, 250);
  // FINISHED may arrive before RUNNING (two batches); RUNNING never undoes it.
  table.Add({{finished}, 0});
  table.Add({{running}, 0});
  auto list = table.List(JobId());
  ASSERT_EQ(list.tasks.size(), 1u);
  EXPECT_EQ(list.tasks[0].state, "FINISHED");
  EXPECT_EQ(list.tasks[0].submitted_us, 90);
  EXPECT_EQ(list.tasks[0].start_us, 100);
  EXPECT_EQ(list.tasks[0].end_us, 250);

  // A retry is a row of its own.
  auto retry = Event(id, "FAILED", 300, 400);
  retry.attempt = 1;
  retry.error = "std::runtime_error: boom";
  table.Add({{retry}, 0});
  list = table.List(JobId());
  ASSERT_EQ(list.tasks.size(), 2u);
  EXPECT_EQ(list.tasks[1].state, "FAILED");
  EXPECT_EQ(list.tasks[1].error, "std::runtime_error: boom");
}

// The owner's pending event comes first (no node, no pid); the worker's
// RUNNING fills in where it ran, whatever order they arrive in, and the
// submission time stays the owner's.
TEST(TaskTableTest, AWorkersEventsCompleteAnOwnersPendingRow) {
  TaskTable table(10);
  TaskId id = TaskId::FromRandom();
  auto pending = Event(id, "PENDING_NODE_ASSIGNMENT");
  pending.submitted_us = 50;
  auto running = Event(id, "RUNNING", 100);
  running.submitted_us = 90;  // when it reached the worker
  running.node_id = NodeId::FromRandom();
  running.worker_pid = 4321;
  table.Add({{running}, 0});
  table.Add({{pending}, 0});
  auto list = table.List(JobId());
  ASSERT_EQ(list.tasks.size(), 1u);
  EXPECT_EQ(list.tasks[0].state, "RUNNING");
  EXPECT_EQ(list.tasks[0].node_id, running.node_id);
  EXPECT_EQ(list.tasks[0].worker_pid, 4321);
  EXPECT_EQ(list.tasks[0].submitted_us, 50);

  TaskId other = TaskId::FromRandom();
  table.Add({{Event(other, "PENDING_ARGS_AVAIL")}, 0});
  table.Add({{Event(other, "PENDING_NODE_ASSIGNMENT")}, 0});
  list = table.List(JobId());
  ASSERT_EQ(list.tasks.size(), 2u);
  EXPECT_EQ(list.tasks[1].state, "PENDING_NODE_ASSIGNMENT");
  EXPECT_TRUE(list.tasks[1].node_id.IsNil());
}

TEST(TaskTableTest, EvictsTheOldestAndCountsDrops) {
  TaskTable table(2);
  std::vector<TaskId> ids = {TaskId::FromRandom(), TaskId::FromRandom(), TaskId::FromRandom()};
  for (const auto& id : ids) table.Add({{Event(id, "RUNNING")}, 1});
  auto list = table.List(JobId());
  ASSERT_EQ(list.tasks.size(), 2u);
  EXPECT_EQ(list.tasks[0].task_id, ids[1]) << "oldest first, the first evicted";
  EXPECT_EQ(list.tasks[1].task_id, ids[2]);
  EXPECT_EQ(list.dropped_by_gcs, 1u);
  EXPECT_EQ(list.dropped_by_workers, 3u);
}

TEST(TaskTableTest, ListsOneJob) {
  TaskTable table(10);
  JobId a = JobId::FromRandom(), b = JobId::FromRandom();
  auto in_a = Event(TaskId::FromRandom(), "RUNNING");
  in_a.job_id = a;
  auto in_b = Event(TaskId::FromRandom(), "RUNNING");
  in_b.job_id = b;
  table.Add({{in_a, in_b}, 0});
  auto list = table.List(b);
  ASSERT_EQ(list.tasks.size(), 1u);
  EXPECT_EQ(list.tasks[0].job_id, b);
  EXPECT_EQ(table.List(JobId()).tasks.size(), 2u);
}

TEST(TaskTableTest, SummarizesByStateAndName) {
  TaskTable table(2);
  auto add = Event(TaskId::FromRandom(), "FINISHED");
  add.name = "Add";
  auto failed = Event(TaskId::FromRandom(), "FAILED");
  failed.name = "Add";
  auto incr = Event(TaskId::FromRandom(), "RUNNING");
  incr.name = "Counter::Incr";
  table.Add({{add, failed, incr}, 5});  // the first is evicted
  TaskSummary summary = table.Summarize();
  EXPECT_EQ(summary.total, 2u);
  EXPECT_EQ(summary.by_state, (std::map<std::string, uint64_t>{{"FAILED", 1}, {"RUNNING", 1}}));
  EXPECT_EQ(summary.by_name["Add"], (std::map<std::string, uint64_t>{{"FAILED", 1}}));
  EXPECT_EQ(summary.by_name["Counter::Incr"]["RUNNING"], 1u);
  EXPECT_EQ(summary.dropped_by_gcs, 1u);
  EXPECT_EQ(summary.dropped_by_workers, 5u);
}

}  // namespace
}  // namespace rayk::observability
