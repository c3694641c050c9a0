#include "job_commands.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "cli_common.h"
#include "job_submission/job_record.h"
#include "job_submission/job_supervisor.h"
#include "observability/http_client.h"
#include "process/cluster_secret.h"
#include "process/daemons.h"
#include "process/session.h"
#include "progress.h"

namespace rayk::cli {
namespace {

using nlohmann::json;

// How often `--follow` and `submit` ask for more output while a job runs.
constexpr auto kFollowPeriod = std::chrono::milliseconds(250);

struct HttpTarget {
  std::string host;
  int port = 0;
  std::string Url() const { return "http://" + host + ":" + std::to_string(port); }
};

}  // namespace

struct JobCommands::Impl {
  std::string* format = nullptr;
  std::string address, config_file, auth_token;
  std::string library, submission_id, job_id, job_dir;
  std::vector<std::string> entrypoint, env;
  bool no_wait = false, follow = false;

  CLI::App* job = nullptr;
  CLI::App* submit = nullptr;
  CLI::App* status = nullptr;
  CLI::App* logs = nullptr;
  CLI::App* stop = nullptr;
  CLI::App* list = nullptr;
  CLI::App* supervisor = nullptr;

  HttpTarget target;
  std::string secret;
  std::string secret_origin;  // where the secret came from, for a 401

  // The head's HTTP server: --address http://HOST:PORT as given, else the
  // one the GCS at --address (or the usual one) reports.
  void Connect() {
    if (!auth_token.empty()) {
      ExportAuthToken(auth_token);
      secret_origin = "--auth-token";
    } else if (std::getenv(kAuthTokenEnv) != nullptr) {
      secret_origin = std::string("$") + kAuthTokenEnv;
    } else {
      secret_origin = "the latest session's auth_token file";
    }
    auto found = FindClusterSecret("");
    if (!found.ok()) Fail(found.status().message());
    secret = *found;
    std::string http = address;
    if (!http.starts_with("http://")) {
      GcsConnection gcs = ConnectToGcs(EndpointFromAddress(GcsAddressOrFail(address)), config_file);
      auto cluster = FetchClusterStatus(*gcs.client);
      if (!cluster.ok() &&
          cluster.status().message().find("refused the secure handshake") != std::string::npos) {
        // The zmq transport's words for a CURVE handshake the GCS refused.
        Fail("the cluster's GCS at " + GcsAddressOrFail(address) +
             " refused the cluster secret from " + secret_origin +
             ": it is not this cluster's; use the head's <session>/auth_token");
      }
      if (!cluster.ok()) {
        Fail("cannot reach the cluster's GCS at " + GcsAddressOrFail(address) + ": " +
             cluster.status().message() + "; check --address (the GCS's HOST:PORT)");
      }
      if (cluster->gcs.metrics_address.empty()) {
        Fail(
            "the cluster's head serves no HTTP (started with --metrics-port -1), so it has no "
            "Jobs API; start the head with --metrics-port 0 or a port");
      }
      http = "http://" + cluster->gcs.metrics_address;
    }
    std::string rest = http.substr(std::string("http://").size());
    while (rest.ends_with("/")) rest.pop_back();
    size_t colon = rest.rfind(':');
    int port = 0;
    try {
      if (colon != std::string::npos) port = std::stoi(rest.substr(colon + 1));
    } catch (const std::exception&) {
    }
    if (colon == std::string::npos || colon == 0 || port <= 0 || port > 65535) {
      Fail("--address " + address +
           ": give the GCS as HOST:PORT, or the head's HTTP server as http://HOST:PORT");
    }
    target = {rest.substr(0, colon), port};
  }

  // One call to the Jobs API; fails the command, in one line, on any error.
  json Call(const std::string& method, const std::string& path, const std::string& body = "") {
    observability::HttpHeaders headers;
    if (!secret.empty()) headers.push_back({"Authorization", "Bearer " + secret});
    if (!body.empty()) headers.push_back({"Content-Type", "application/json"});
    auto result = observability::HttpCall(target.host, target.port, method, path, headers, body);
    if (result.status == 0) {
      Fail("cannot reach the Jobs API at " + target.Url() + ": " + result.error +
           "; check --address (the GCS's HOST:PORT, or http://HOST:PORT of the head)");
    }
    if (result.status == 401) {
      if (secret.empty()) {
        Fail("the head at " + target.Url() +
             " needs the cluster secret and this command has none: set RAYK_AUTH_TOKEN (or "
             "--auth-token) to the contents of the head's <session>/auth_token");
      }
      Fail("the head at " + target.Url() + " refused the cluster secret from " + secret_origin +
           ": it is not this cluster's; use the head's <session>/auth_token");
    }
    json reply = json::parse(result.body, nullptr, /*allow_exceptions=*/false);
    if (result.status != 200) {
      Fail(reply.is_object() && reply.contains("error")
               ? reply["error"].get<std::string>()
               : "the Jobs API answered " + std::to_string(result.status) + ": " + result.body);
    }
    if (reply.is_discarded()) Fail("the Jobs API at " + target.Url() + " sent no JSON");
    return reply;
  }

  // Prints the job's output from byte `offset` until it has all of it (when
  // the job has ended), or just what there is now without `until_end`.
  // Following on a terminal, a status line says how the job stands while it
  // prints nothing ("job ID RUNNING for 12 s; no output for 3 s").
  void PrintLogs(const std::string& id, bool until_end) {
    uint64_t offset = 0;
    Progress progress;
    JobState state;
    state.id = id;
    bool at_line_start = true;  // a status line would not cut an unfinished line
    while (true) {
      json piece = Call("GET", "/api/jobs/" + id + "/logs?offset=" + std::to_string(offset));
      std::string text = piece["logs"];
      if (!text.empty()) {
        progress.Clear();
        std::cout << text << std::flush;
        at_line_start = text.back() == '\n';
        state.last_output = std::chrono::steady_clock::now();
      }
      offset = piece["next_offset"];
      if (piece["ended"].get<bool>() || (!until_end && text.size() < (1u << 20))) return;
      if (text.empty()) {
        if (progress.active() && at_line_start) progress.Show(StatusLine(state));
        std::this_thread::sleep_for(kFollowPeriod);
      }
    }
  }

  // What a follower's status line needs: the job's status and start, asked
  // of the head at most once a second, and when output last came.
  struct JobState {
    std::string id;
    std::string status;
    int64_t start_time_ms = 0;
    std::chrono::steady_clock::time_point asked{};
    std::chrono::steady_clock::time_point last_output = std::chrono::steady_clock::now();
  };

  std::string StatusLine(JobState& state) {
    auto now = std::chrono::steady_clock::now();
    if (now - state.asked >= std::chrono::seconds(1)) {
      json job = Call("GET", "/api/jobs/" + state.id);
      state.status = job["status"];
      state.start_time_ms = job["start_time"].is_number() ? job["start_time"].get<int64_t>() : 0;
      state.asked = now;
    }
    auto seconds = [](auto duration) {
      return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(duration).count());
    };
    std::string line = "job " + state.id + " " + state.status;
    if (state.start_time_ms > 0) {
      line += " for " + seconds(std::chrono::milliseconds(NowMs() - state.start_time_ms)) + " s";
    }
    return line + "; no output for " + seconds(now - state.last_output) + " s";
  }

  // A path the head can run: relative ones made absolute against this
  // command's folder (right for a head on this machine).
  static std::string Absolute(const std::string& path) {
    if (path.empty() || path[0] == '/') return path;
    return std::filesystem::absolute(path).lexically_normal().string();
  }

  int Submit() {
    json request = json::object();
    std::vector<std::string> args = entrypoint;
    if (library.empty() && !args.empty() && args[0].find('/') != std::string::npos) {
      args[0] = Absolute(args[0]);
    }
    request["entrypoint"] = args;
    if (!library.empty()) request["library"] = Absolute(library);
    if (library.empty() && args.empty()) {
      Fail(
          "job submit: nothing to run; give the driver after --, e.g. rayk job submit -- "
          "/path/my_driver ARGS, or --library libmy_job.so -- ARGS");
    }
    if (!submission_id.empty()) request["submission_id"] = submission_id;
    json vars = json::object();
    for (const std::string& entry : env) {
      size_t equals = entry.find('=');
      if (equals == std::string::npos || equals == 0) {
        Fail("--env " + entry + ": give NAME=VALUE");
      }
      vars[entry.substr(0, equals)] = entry.substr(equals + 1);
    }
    if (!vars.empty()) request["env_vars"] = vars;
    Connect();
    std::string id = Call("POST", "/api/jobs/", request.dump())["submission_id"];
    if (no_wait) {
      if (*format == "json") {
        std::cout << json{{"submission_id", id}}.dump(2) << "\n";
        return 0;
      }
      std::cout << "Submitted job " << id << "\n"
                << "  its output:  rayk job logs " << id << " --follow\n"
                << "  its status:  rayk job status " << id << "\n"
                << "  stop it:     rayk job stop " << id << "\n";
      return 0;
    }
    std::cerr << "Submitted job " << id << "; its output follows (the job goes on if this "
              << "command ends)\n";
    PrintLogs(id, /*until_end=*/true);
    return Ended(id);
  }

  // Prints how job `id` ended; the exit code says whether it succeeded.
  int Ended(const std::string& id) {
    json job = Call("GET", "/api/jobs/" + id);
    std::cerr << "Job " << id << " " << job["status"].get<std::string>() << ": "
              << job["message"].get<std::string>() << "\n";
    return job["status"] == jobs::kSucceeded ? 0 : 1;
  }

  static std::string ExitCode(const json& job) {
    return job["driver_exit_code"].is_null() ? "-"
                                             : std::to_string(job["driver_exit_code"].get<int>());
  }

  static std::string Entrypoint(const json& job) {
    std::string text = job["library"].get<std::string>();
    for (const auto& arg : job["entrypoint"]) {
      text += (text.empty() ? "" : " ") + arg.get<std::string>();
    }
    return text;
  }

  int Status() {
    Connect();
    json job = Call("GET", "/api/jobs/" + job_id);
    if (*format == "json") {
      std::cout << job.dump(2) << "\n";
      return 0;
    }
    std::cout << "Job " << job_id << ": " << job["status"].get<std::string>() << "\n"
              << "  entrypoint: " << Entrypoint(job) << "\n"
              << "  driver pid: " << job["driver_pid"].get<int>() << "\n"
              << "  exit code:  " << ExitCode(job) << "\n"
              << "  started:    " << FormatTime(job["start_time"]) << "\n"
              << "  ended:      " << FormatTime(job["end_time"]) << "\n"
              << "  message:    " << job["message"].get<std::string>() << "\n";
    return 0;
  }

  int Logs() {
    Connect();
    Call("GET", "/api/jobs/" + job_id);  // an unknown id is one line, before any output
    PrintLogs(job_id, follow);
    return 0;
  }

  int Stop() {
    Connect();
    json reply = Call("POST", "/api/jobs/" + job_id + "/stop");
    if (!reply["stopped"].get<bool>()) {
      std::cout << "Job " << job_id << " had ended already (" << reply["status"].get<std::string>()
                << ")\n";
      return 0;
    }
    if (no_wait) {
      std::cout << "Stopping job " << job_id << "\n";
      return 0;
    }
    // Its supervisor sends SIGTERM, then SIGKILL after a grace period.
    while (!jobs::IsTerminal(Call("GET", "/api/jobs/" + job_id)["status"])) {
      std::this_thread::sleep_for(kFollowPeriod);
    }
    std::cout << "Stopped job " << job_id << "\n";
    return 0;
  }

  int List() {
    Connect();
    json all = Call("GET", "/api/jobs/");
    if (*format == "json") {
      std::cout << all.dump(2) << "\n";
      return 0;
    }
    if (all.empty()) {
      std::cout << "No submitted jobs (rayk job submit runs one).\n";
      return 0;
    }
    std::vector<std::vector<std::string>> rows = {
        {"SUBMISSION ID", "STATUS", "EXIT", "START", "END", "ENTRYPOINT"}};
    for (const json& job : all) {
      rows.push_back({job["submission_id"], job["status"], ExitCode(job),
                      FormatTime(job["start_time"]), FormatTime(job["end_time"]), Entrypoint(job)});
    }
    std::cout << FormatTable(rows, "");
    return 0;
  }

  int Supervise() {
    // Recorded, so that `rayk stop` ends the job with the cluster.
    std::string session = std::filesystem::path(job_dir).parent_path().parent_path().string();
    RecordProcess(session, getpid(), "job-supervisor",
                  std::filesystem::path(job_dir).filename().string());
    return jobs::RunJobSupervisor(job_dir);
  }
};

JobCommands::JobCommands(CLI::App* app, std::string* format) : impl_(std::make_shared<Impl>()) {
  Impl& d = *impl_;
  d.format = format;
  d.job = app->add_subcommand(
      "job", "run drivers on the head under a supervisor, and follow them (docs/jobs.md)");
  d.job->require_subcommand(1);
  d.submit = d.job->add_subcommand(
      "submit", "run a driver on the head: rayk job submit [--library LIB] -- PROGRAM|ARGS");
  d.submit->add_option("--library", d.library,
                       "a job library (rayk_add_job) whose main() is the driver; ARGS go to it");
  d.submit->add_option("--submission-id", d.submission_id, "the job's id (default: a new one)");
  // One value per --env, so that the -- before the entrypoint is not taken as the list's end.
  d.submit->add_option("--env", d.env, "NAME=VALUE in the driver's environment, repeatable")
      ->allow_extra_args(false);
  d.submit->add_flag("--no-wait", d.no_wait,
                     "print the job's id and return, instead of following its output to its end");
  d.submit->add_option("ENTRYPOINT", d.entrypoint,
                       "after --: the program and its arguments, or with --library the "
                       "arguments of its main()");
  d.status = d.job->add_subcommand("status", "a job's status, exit code and times");
  d.logs = d.job->add_subcommand("logs", "a job's output (stdout and stderr)");
  d.logs->add_flag("-f,--follow", d.follow, "go on printing until the job ends");
  d.stop = d.job->add_subcommand("stop", "stop a job: SIGTERM, then SIGKILL after 3 s");
  d.stop->add_flag("--no-wait", d.no_wait, "return at once instead of when it has stopped");
  for (CLI::App* command : {d.status, d.logs, d.stop}) {
    command->add_option("ID", d.job_id, "the submission id (rayk job list)")->required();
  }
  d.list = d.job->add_subcommand("list", "every job submitted to the cluster");
  for (CLI::App* command : {d.submit, d.status, d.logs, d.stop, d.list}) {
    command->add_option("--address", d.address,
                        "the GCS as HOST:PORT (default: $RAYK_ADDRESS, else the latest "
                        "session), or the head's HTTP server as http://HOST:PORT");
    command->add_option("--config", d.config_file, "plugins.toml naming the transport");
    AddAuthTokenOption(command, &d.auth_token);
  }
  for (CLI::App* command : {d.submit, d.status, d.list}) {
    command->add_option("--format", *format, "text (for people) or json (for programs)")
        ->check(CLI::IsMember({"text", "json"}));
  }
  d.supervisor = app->add_subcommand(
      "job-supervisor", "(internal) run a submitted job's driver; the head launches it");
  d.supervisor->add_option("--job-dir", d.job_dir, "the job's folder")->required();
  d.supervisor->group("Internal");
}

std::optional<int> JobCommands::Run() {
  Impl& d = *impl_;
  if (d.submit->parsed()) return d.Submit();
  if (d.status->parsed()) return d.Status();
  if (d.logs->parsed()) return d.Logs();
  if (d.stop->parsed()) return d.Stop();
  if (d.list->parsed()) return d.List();
  if (d.supervisor->parsed()) return d.Supervise();
  return std::nullopt;
}

}  // namespace rayk::cli
