// Submitted jobs (docs/jobs.md, "Submitting jobs"): a real `rayk start
// --head` cluster, the real `rayk job` commands and the head's Jobs API over
// HTTP. Drivers run on the head under a supervisor; the tests check what
// they print and how they end, that a stop ends the driver's process, that
// a job outlives the command that submitted it, and that every fault path
// is one clear line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cluster_fixture.h"
#include "http_client.h"
#include "process/cluster_secret.h"
#include "process/session.h"

namespace rayk {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

class JobSubmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("RAYK_SESSION_ROOT", root_.path().c_str(), 1);
    unsetenv(kAuthTokenEnv);
    unsetenv("RAYK_ADDRESS");
    env_ = "RAYK_SESSION_ROOT=" + root_.path() + " ";
    auto start = Rayk("start --head --num-cpus 2 --port " + std::to_string(testing::FreePort()));
    ASSERT_EQ(start.exit_code, 0) << start.output;
    http_ = ReadFile(Session() + "/gcs_metrics_address").value();
    secret_ = ReadClusterSecretFile(Session() + "/" + kAuthTokenFileName).value();
  }
  void TearDown() override { Rayk("stop"); }

  testing::CommandResult Rayk(const std::string& args) {
    return testing::RunCommand(env_ + RAYK_CLI_PATH + " " + args);
  }
  std::string Session() const { return root_.path() + "/session_latest"; }

  // The job as `rayk job status ID --format json` shows it.
  json Status(const std::string& id) {
    auto status = Rayk("job status " + id + " --format json");
    EXPECT_EQ(status.exit_code, 0) << status.output;
    return json::parse(status.output, nullptr, false);
  }
  std::string StatusOf(const std::string& id) {
    json job = Status(id);
    return job.is_object() ? job["status"].get<std::string>() : "?";
  }
  // Waits (bounded) for the job's output to hold `text`.
  bool LogsShow(const std::string& id, const std::string& text) {
    return testing::PollUntil(
        [&] { return Rayk("job logs " + id).output.find(text) != std::string::npos; },
        testing::kPatience);
  }

  testing::HttpResult Api(const std::string& method, const std::string& target,
                          const std::string& body = "", const std::string& secret = "") {
    testing::HttpHeaders headers;
    if (!secret.empty()) headers.push_back({"Authorization", "Bearer " + secret});
    auto colon = http_.rfind(':');
    return testing::HttpCall(http_.substr(0, colon), std::stoi(http_.substr(colon + 1)), method,
                             target, headers, body);
  }

  testing::TempDir root_;
  std::string env_;
  std::string http_;  // HOST:PORT of the head's HTTP server
  std::string secret_;
};

TEST_F(JobSubmissionTest, ALibraryJobRunsOnTheClusterSucceedsAndKeepsItsOutput) {
  std::string library = std::string(RAYK_BINARY_DIR) + "/lib/libpi_job.so";
  auto submit = Rayk("job submit --submission-id pi --library " + library + " -- 4 1000");
  ASSERT_EQ(submit.exit_code, 0) << submit.output;
  EXPECT_THAT(submit.output, HasSubstr("pi ~= "));  // followed to its end
  EXPECT_THAT(submit.output, HasSubstr("Job pi SUCCEEDED"));
  json job = Status("pi");
  EXPECT_EQ(job["status"], "SUCCEEDED");
  EXPECT_EQ(job["driver_exit_code"], 0);
  EXPECT_GT(job["end_time"].get<int64_t>(), 0);
  auto logs = Rayk("job logs pi");
  EXPECT_EQ(logs.exit_code, 0);
  EXPECT_THAT(logs.output, HasSubstr("pi ~= "));
  EXPECT_THAT(logs.output, HasSubstr("from 4000 samples in 4 tasks"));
}

TEST_F(JobSubmissionTest, AFailingJobIsFailedWithItsExitCodeAndListed) {
  auto fail = Rayk("job submit --submission-id failing -- /bin/sh -c 'echo about to fail; exit 3'");
  EXPECT_EQ(fail.exit_code, 1) << fail.output;
  EXPECT_THAT(fail.output, HasSubstr("about to fail"));
  EXPECT_THAT(fail.output, HasSubstr("Job failing FAILED: the driver exited with code 3"));
  json job = Status("failing");
  EXPECT_EQ(job["status"], "FAILED");
  EXPECT_EQ(job["driver_exit_code"], 3);
  auto ok = Rayk(
      "job submit --submission-id fine --env GREETING=hello --env OTHER=x -- /bin/sh -c "
      "'echo $GREETING $OTHER from $RAYK_ADDRESS'");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_THAT(ok.output, HasSubstr("hello x from tcp://127.0.0.1:"));

  auto list = Rayk("job list");
  EXPECT_EQ(list.exit_code, 0) << list.output;
  EXPECT_THAT(list.output, HasSubstr("SUBMISSION ID"));
  EXPECT_THAT(list.output, ::testing::ContainsRegex("failing +FAILED +3"));
  EXPECT_THAT(list.output, ::testing::ContainsRegex("fine +SUCCEEDED +0"));
  json all = json::parse(Rayk("job list --format json").output, nullptr, false);
  ASSERT_TRUE(all.is_array());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]["submission_id"], "failing");  // oldest first
  EXPECT_EQ(all[1]["submission_id"], "fine");
}

TEST_F(JobSubmissionTest, StopEndsTheDriverEvenOneIgnoringSigterm) {
  // The driver ignores SIGTERM, so its supervisor must follow with SIGKILL.
  auto submit = Rayk(
      "job submit --no-wait --submission-id stubborn -- /bin/sh -c "
      "'trap \"\" TERM; echo started; exec sleep 100000'");
  ASSERT_EQ(submit.exit_code, 0) << submit.output;
  EXPECT_THAT(submit.output, HasSubstr("Submitted job stubborn"));
  ASSERT_TRUE(LogsShow("stubborn", "started"));
  json running = Status("stubborn");
  ASSERT_EQ(running["status"], "RUNNING");
  pid_t driver = running["driver_pid"].get<int>();
  ASSERT_TRUE(testing::ProcessRunning(driver));

  auto stop = Rayk("job stop stubborn");
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
  EXPECT_THAT(stop.output, HasSubstr("Stopped job stubborn"));
  json stopped = Status("stubborn");
  EXPECT_EQ(stopped["status"], "STOPPED");
  EXPECT_EQ(stopped["driver_exit_code"], 128 + SIGKILL);
  EXPECT_FALSE(testing::ProcessRunning(driver));
  // Stopping it again says it had ended.
  auto again = Rayk("job stop stubborn");
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_THAT(again.output, HasSubstr("had ended already (STOPPED)"));
}

TEST_F(JobSubmissionTest, RaykStopEndsRunningJobsFirstAndTheirRecordStays) {
  ASSERT_EQ(Rayk("job submit --no-wait --submission-id endless -- /bin/sleep 100000").exit_code, 0);
  ASSERT_TRUE(
      testing::PollUntil([&] { return StatusOf("endless") == "RUNNING"; }, testing::kPatience));
  pid_t driver = Status("endless")["driver_pid"].get<int>();
  ASSERT_TRUE(testing::ProcessRunning(driver));
  auto stop = Rayk("stop");
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
  EXPECT_THAT(stop.output, ::testing::ContainsRegex("Stopped job-supervisor \\(pid [0-9]+, "
                                                    "endless\\)\nStopped raylet"));
  EXPECT_FALSE(testing::ProcessRunning(driver));
  // The cluster is gone; the job's record in the session says how it ended.
  json record = json::parse(ReadFile(Session() + "/jobs/endless/status.json").value());
  EXPECT_EQ(record["status"], "STOPPED");
}

TEST_F(JobSubmissionTest, ASupervisorKilledOutrightFailsTheJobAndTakesItsDriver) {
  ASSERT_EQ(Rayk("job submit --no-wait --submission-id orphan -- /bin/sleep 100000").exit_code, 0);
  ASSERT_TRUE(
      testing::PollUntil([&] { return StatusOf("orphan") == "RUNNING"; }, testing::kPatience));
  pid_t driver = Status("orphan")["driver_pid"].get<int>();
  const std::string record_path = Session() + "/jobs/orphan/supervisor.pid";
  std::istringstream record(ReadFile(record_path).value());
  pid_t supervisor = 0;
  uint64_t start_time = 0;
  record >> supervisor >> start_time;
  ASSERT_EQ(start_time, ReadProcessIdentity(supervisor).value().start_time);
  ASSERT_EQ(kill(supervisor, SIGKILL), 0);
  // As if its pid went to another process since: a live pid that started at
  // another time is not the supervisor.
  ASSERT_TRUE(
      WriteFileAtomically(record_path, std::to_string(getpid()) + " " + std::to_string(start_time))
          .ok());
  ASSERT_TRUE(
      testing::PollUntil([&] { return StatusOf("orphan") == "FAILED"; }, testing::kPatience));
  EXPECT_THAT(Status("orphan")["message"].get<std::string>(),
              HasSubstr("its supervisor (pid " + std::to_string(getpid()) +
                        ") ended without recording how the driver ended"));
  EXPECT_TRUE(
      testing::PollUntil([&] { return !testing::ProcessRunning(driver); }, testing::kPatience));
}

TEST_F(JobSubmissionTest, AJobOutlivesTheCommandThatSubmittedIt) {
  std::string flag = root_.path() + "/go";
  // The submitting command follows the job's output, as by default, until
  // it is killed, as a closed terminal would end it.
  auto submitter = SpawnProcess(
      {"/bin/sh", "-c",
       env_ + RAYK_CLI_PATH + " job submit --submission-id patient -- /bin/sh -c 'echo waiting; " +
           "while [ ! -e " + flag + " ]; do sleep 0.1; done; echo finished'"},
      root_.path() + "/submitter.log", /*new_session=*/true);
  ASSERT_TRUE(submitter.ok()) << submitter.status().ToString();
  ASSERT_TRUE(LogsShow("patient", "waiting"));
  kill(-*submitter, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(*submitter, &status, 0), *submitter);

  EXPECT_EQ(StatusOf("patient"), "RUNNING");
  { std::ofstream(flag) << ""; }
  ASSERT_TRUE(
      testing::PollUntil([&] { return StatusOf("patient") == "SUCCEEDED"; }, testing::kPatience));
  auto logs = Rayk("job logs patient --follow");  // returns: the job has ended
  EXPECT_EQ(logs.exit_code, 0);
  EXPECT_THAT(logs.output, HasSubstr("waiting\nfinished\n"));
}

TEST_F(JobSubmissionTest, TheHttpApiNeedsTheClusterSecret) {
  for (const std::string& secret : {std::string(), std::string("not-this-clusters-secret-0123")}) {
    auto list = Api("GET", "/api/jobs/", "", secret);
    EXPECT_EQ(list.status, 401) << list.body;
    EXPECT_THAT(list.body, HasSubstr("needs the cluster secret"));
    auto submit = Api("POST", "/api/jobs/", R"({"entrypoint": ["/bin/true"]})", secret);
    EXPECT_EQ(submit.status, 401);
  }
  EXPECT_EQ(Api("GET", "/api/jobs/", "", secret_).status, 200);
  // Nothing was submitted by the refused requests.
  EXPECT_EQ(json::parse(Api("GET", "/api/jobs/", "", secret_).body), json::array());

  // The CLI without the secret, and with a wrong one: one line naming the fix.
  std::string elsewhere = "RAYK_SESSION_ROOT=" + root_.path() + "/nothing ";
  auto none =
      testing::RunCommand(elsewhere + RAYK_CLI_PATH + " job list --address http://" + http_);
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_EQ(testing::CountLines(none.output), 1) << none.output;
  EXPECT_THAT(none.output, HasSubstr("needs the cluster secret and this command has none: set "
                                     "RAYK_AUTH_TOKEN"));
  auto wrong =
      Rayk("job list --address http://" + http_ + " --auth-token not-this-clusters-secret-0123");
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_EQ(testing::CountLines(wrong.output), 1) << wrong.output;
  EXPECT_THAT(wrong.output, HasSubstr("refused the cluster secret from --auth-token"));
  // Through the GCS, a wrong token fails the CURVE handshake, which the
  // command learns at once (no reply ever comes; docs/security.md).
  auto refused = Rayk("job list --auth-token not-this-clusters-secret-0123");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_EQ(testing::CountLines(refused.output), 1) << refused.output;
  EXPECT_THAT(refused.output,
              HasSubstr("refused the cluster secret from --auth-token: it is not this cluster's"));
}

TEST_F(JobSubmissionTest, TheHttpApiSubmitsListsAndStopsAsRaysDoes) {
  auto submit = Api("POST", "/api/jobs/",
                    R"({"entrypoint": ["/bin/sh", "-c", "echo over http"],
                        "submission_id": "web"})",
                    secret_);
  ASSERT_EQ(submit.status, 200) << submit.body;
  EXPECT_EQ(json::parse(submit.body)["submission_id"], "web");
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        return json::parse(Api("GET", "/api/jobs/web", "", secret_).body)["status"] == "SUCCEEDED";
      },
      testing::kPatience));
  json logs = json::parse(Api("GET", "/api/jobs/web/logs", "", secret_).body);
  EXPECT_EQ(logs["logs"], "over http\n");
  EXPECT_EQ(logs["ended"], true);
  json rest = json::parse(Api("GET", "/api/jobs/web/logs?offset=5", "", secret_).body);
  EXPECT_EQ(rest["logs"], "http\n");
  json stop = json::parse(Api("POST", "/api/jobs/web/stop", "", secret_).body);
  EXPECT_EQ(stop["stopped"], false);
  EXPECT_EQ(Api("DELETE", "/api/jobs/web", "", secret_).status, 405);
}

TEST_F(JobSubmissionTest, BadInputIsOneLineNamingTheThingAndTheFix) {
  struct Case {
    std::string args, expected;
  };
  std::string missing = root_.path() + "/no_such_job.so";
  for (const Case& c : std::vector<Case>{
           {"job status nope", "no job 'nope' on this cluster; 'rayk job list' shows its jobs"},
           {"job logs nope", "no job 'nope' on this cluster"},
           {"job stop nope", "no job 'nope' on this cluster"},
           {"job submit -- no_such_program_here",
            "entrypoint 'no_such_program_here' is not found on the head's PATH"},
           {"job submit -- " + root_.path() + "/absent",
            "entrypoint '" + root_.path() + "/absent' is not an executable file on the head"},
           {"job submit --library " + missing, "library " + missing + " is not a file on the head"},
           {"job submit", "nothing to run; give the driver after --"},
           {"job submit --env NOEQUALS -- /bin/true", "--env NOEQUALS: give NAME=VALUE"},
           {"job submit --submission-id ../up -- /bin/true", "submission_id '../up' is not valid"},
           {"job list --address http://127.0.0.1:1",
            "cannot reach the Jobs API at http://127.0.0.1:1"},
           {"job list --address http://nonsense", "give the GCS as HOST:PORT"},
       }) {
    auto result = Rayk(c.args);
    EXPECT_EQ(result.exit_code, 1) << c.args << ": " << result.output;
    EXPECT_EQ(testing::CountLines(result.output), 1) << c.args << ": " << result.output;
    EXPECT_THAT(result.output, HasSubstr(c.expected)) << c.args;
  }
  // A submission id can name one job only.
  ASSERT_EQ(Rayk("job submit --submission-id once -- /bin/true").exit_code, 0);
  auto twice = Rayk("job submit --submission-id once -- /bin/true");
  EXPECT_EQ(twice.exit_code, 1);
  EXPECT_THAT(twice.output, HasSubstr("a job 'once' exists already; choose another submission_id"));
  // The API's own checks.
  auto not_json = Api("POST", "/api/jobs/", "entrypoint=/bin/true", secret_);
  EXPECT_EQ(not_json.status, 400);
  EXPECT_THAT(not_json.body, HasSubstr("the body must be a JSON object"));
  auto shell = Api("POST", "/api/jobs/", R"({"entrypoint": "echo hi"})", secret_);
  EXPECT_EQ(shell.status, 400);
  EXPECT_THAT(shell.body, HasSubstr("entrypoint must be a list of arguments"));
  auto unknown =
      Api("POST", "/api/jobs/", R"({"entrypoint": ["/bin/true"], "runtime_env": {}})", secret_);
  EXPECT_EQ(unknown.status, 400);
  EXPECT_THAT(unknown.body, HasSubstr("'runtime_env' is not a field rayk's Jobs API knows"));
  EXPECT_EQ(Api("GET", "/api/jobs/nope", "", secret_).status, 404);
}

}  // namespace
}  // namespace rayk
