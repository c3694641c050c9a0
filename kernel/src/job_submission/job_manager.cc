#include "job_submission/job_manager.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "job_submission/job_record.h"
#include "process/cluster_secret.h"
#include "process/session.h"

namespace rayk::jobs {
namespace {

using observability::HttpRequest;
using observability::HttpResponse;
namespace fs = std::filesystem;

constexpr size_t kMaxLogPiece = 1 << 20;  // per logs request; --follow asks again

std::string Dump(const nlohmann::json& json) {
  return json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

HttpResponse Json(const nlohmann::json& json, int status = 200) {
  return HttpResponse{"application/json", Dump(json), status};
}

HttpResponse Refuse(int status, const std::string& message) {
  return Json({{"error", message}}, status);
}

HttpResponse UnknownJob(const std::string& id) {
  return Refuse(404, "no job '" + id + "' on this cluster; 'rayk job list' shows its jobs");
}

// Submission ids name folders: letters, digits, '_', '-' and '.', not
// starting with '.', at most 64.
bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > 64 || id[0] == '.') return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

std::string NewId() {
  std::random_device random;
  std::uniform_int_distribution<int> digit(0, 15);
  std::string id = "rayk_job_";
  for (int i = 0; i < 16; ++i) id += "0123456789abcdef"[digit(random)];
  return id;
}

// Why `program` cannot be run from the head ("" if it can): an absolute
// path to an executable file, or a name found on the head's PATH.
std::string WhyNotRunnable(const std::string& program) {
  auto executable = [](const std::string& path) {
    struct stat info;
    return stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
           access(path.c_str(), X_OK) == 0;
  };
  if (program.find('/') != std::string::npos) {
    if (program[0] != '/') {
      return "entrypoint '" + program + "' is a relative path; give its absolute path on the head";
    }
    if (!executable(program)) {
      return "entrypoint '" + program +
             "' is not an executable file on the head; build it there, or give the path of one";
    }
    return "";
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (size_t start = 0; start <= dirs.size();) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    if (end > start && executable(dirs.substr(start, end - start) + "/" + program)) return "";
    start = end + 1;
  }
  return "entrypoint '" + program +
         "' is not found on the head's PATH; give its absolute path on the head";
}

// One job as the API shows it: what was submitted and how it stands.
Result<nlohmann::json> Describe(const std::string& job_dir) {
  auto spec = ReadJobSpec(job_dir);
  if (!spec.ok()) return spec.status();
  JobState state = ReadJobState(job_dir);
  std::error_code ec;
  const bool stop_requested = fs::exists(StopRequestedPath(job_dir), ec);
  if (!IsTerminal(state.status)) {
    // A supervisor that ended without recording the end: killed outright.
    const SupervisorRecord supervisor = ReadSupervisorRecord(job_dir);
    // Re-read: it may have recorded the end just before it exited.
    if (supervisor.pid > 0 && !supervisor.Alive()) state = ReadJobState(job_dir);
    if (supervisor.pid > 0 && !supervisor.Alive() && !IsTerminal(state.status)) {
      state.status = stop_requested ? kStopped : kFailed;
      state.message = "its supervisor (pid " + std::to_string(supervisor.pid) +
                      ") ended without recording how the driver ended";
    }
  }
  nlohmann::json json = {{"submission_id", spec->submission_id},
                         {"status", state.status},
                         {"entrypoint", spec->entrypoint},
                         {"library", spec->library},
                         {"message", state.message},
                         {"driver_exit_code", nullptr},
                         {"driver_pid", state.driver_pid},
                         {"submit_time", spec->submit_time_ms},
                         {"start_time", state.start_time_ms},
                         {"end_time", state.end_time_ms}};
  if (state.has_exit_code) json["driver_exit_code"] = state.exit_code;
  return json;
}

// The value of `name` in a query string "a=1&b=2", or "".
std::string QueryValue(const std::string& query, const std::string& name) {
  size_t at = 0;
  while (at < query.size()) {
    size_t end = query.find('&', at);
    if (end == std::string::npos) end = query.size();
    std::string item = query.substr(at, end - at);
    if (item.starts_with(name + "=")) return item.substr(name.size() + 1);
    at = end + 1;
  }
  return "";
}

}  // namespace

JobManager::JobManager(std::string jobs_dir, std::string gcs_address, std::string secret)
    : jobs_dir_(std::move(jobs_dir)),
      gcs_address_(std::move(gcs_address)),
      secret_(std::move(secret)) {}

JobManager::~JobManager() { Reap(); }

void JobManager::Reap() {
  std::erase_if(supervisors_, [](pid_t pid) {
    int status = 0;
    return waitpid(pid, &status, WNOHANG) != 0;
  });
}

HttpResponse JobManager::Handle(const HttpRequest& request) {
  Reap();
  // "/api/jobs", "/api/jobs/", "/api/jobs/ID", "/api/jobs/ID/logs", "/api/jobs/ID/stop"
  std::string rest = request.path.substr(std::string("/api/jobs").size());
  if (rest.starts_with("/")) rest.erase(0, 1);
  if (rest.ends_with("/")) rest.pop_back();
  std::string id = rest.substr(0, rest.find('/'));
  std::string action = rest.find('/') == std::string::npos ? "" : rest.substr(rest.find('/') + 1);
  auto wrong_method = [&](const std::string& allowed) {
    return Refuse(405, request.method + " is not allowed on " + request.path + "; use " + allowed);
  };
  if (id.empty()) {
    if (request.method == "GET") return List();
    if (request.method == "POST") return Submit(request.body);
    return wrong_method("GET (list) or POST (submit)");
  }
  if (!ValidId(id) || !fs::exists(JobDir(jobs_dir_, id) + "/job.json")) return UnknownJob(id);
  if (action.empty()) {
    if (request.method != "GET") return wrong_method("GET");
    auto job = Describe(JobDir(jobs_dir_, id));
    if (!job.ok()) return Refuse(500, job.status().message());
    return Json(*job);
  }
  if (action == "logs") {
    if (request.method != "GET") return wrong_method("GET");
    return Logs(id, request.query);
  }
  if (action == "stop") {
    if (request.method != "POST") return wrong_method("POST");
    return Stop(id);
  }
  return Refuse(404, "no such path: " + request.path +
                         " (a job has /api/jobs/ID, /api/jobs/ID/logs and /api/jobs/ID/stop)");
}

HttpResponse JobManager::Submit(const std::string& body) {
  nlohmann::json request = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!request.is_object()) {
    return Refuse(400,
                  "the body must be a JSON object, e.g. {\"entrypoint\": [\"/path/driver\", "
                  "\"arg\"]}");
  }
  for (const auto& [key, value] : request.items()) {
    if (key != "entrypoint" && key != "library" && key != "submission_id" && key != "env_vars") {
      return Refuse(400, "'" + key +
                             "' is not a field rayk's Jobs API knows; use entrypoint, library, "
                             "submission_id, env_vars");
    }
  }
  JobSpec spec;
  spec.gcs_address = gcs_address_;
  spec.submit_time_ms = NowMs();
  try {
    if (request.contains("entrypoint")) {
      if (!request["entrypoint"].is_array()) {
        return Refuse(400,
                      "entrypoint must be a list of arguments, e.g. [\"/path/driver\", \"arg\"] "
                      "(rayk starts it without a shell)");
      }
      spec.entrypoint = request["entrypoint"].get<std::vector<std::string>>();
    }
    spec.library = request.value("library", std::string());
    spec.submission_id = request.value("submission_id", std::string());
    if (request.contains("env_vars")) {
      spec.env_vars = request["env_vars"].get<std::map<std::string, std::string>>();
    }
  } catch (const nlohmann::json::exception&) {
    return Refuse(400,
                  "entrypoint must be a list of strings, library and submission_id strings, "
                  "env_vars an object of strings");
  }
  if (!spec.library.empty()) {
    std::error_code ec;
    if (spec.library[0] != '/' || !fs::is_regular_file(spec.library, ec)) {
      return Refuse(400, "library " + spec.library +
                             " is not a file on the head; give the absolute path of a job "
                             "library there (built with rayk_add_job)");
    }
  } else if (spec.entrypoint.empty()) {
    return Refuse(400,
                  "nothing to run: give an entrypoint (a program and its arguments) or a library");
  } else if (std::string why = WhyNotRunnable(spec.entrypoint[0]); !why.empty()) {
    return Refuse(400, why);
  }
  if (spec.submission_id.empty()) {
    spec.submission_id = NewId();
  } else if (!ValidId(spec.submission_id)) {
    return Refuse(400, "submission_id '" + spec.submission_id +
                           "' is not valid: use up to 64 letters, digits, '_', '-' or '.'");
  }
  auto rayk = RaykExecutable();
  if (!rayk.ok()) return Refuse(500, rayk.status().message());
  const std::string job_dir = JobDir(jobs_dir_, spec.submission_id);
  std::error_code ec;
  fs::create_directories(jobs_dir_, ec);
  if (!fs::create_directory(job_dir, ec)) {
    if (fs::exists(job_dir)) {
      return Refuse(
          409, "a job '" + spec.submission_id + "' exists already; choose another submission_id");
    }
    return Refuse(500, "cannot create " + job_dir + ": " + ec.message());
  }
  fs::permissions(job_dir, fs::perms::owner_all, ec);
  if (Status st = WriteJobSpec(job_dir, spec); !st.ok()) return Refuse(500, st.message());
  std::vector<std::string> env;
  if (!secret_.empty()) env.push_back(ClusterSecretEnvironmentEntry(secret_));
  auto pid = SpawnProcess({*rayk, "job-supervisor", "--job-dir", job_dir}, DriverLogPath(job_dir),
                          /*new_session=*/true, env);
  if (!pid.ok()) {
    fs::remove_all(job_dir, ec);  // not listed as a job that never starts
    return Refuse(500, pid.status().message());
  }
  supervisors_.push_back(*pid);
  if (Status st = WriteSupervisorRecord(job_dir, *pid); !st.ok()) {
    return Refuse(500, st.message());
  }
  return Json({{"submission_id", spec.submission_id}});
}

HttpResponse JobManager::List() {
  std::vector<nlohmann::json> jobs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(jobs_dir_, ec)) {
    auto job = Describe(entry.path().string());
    if (job.ok()) jobs.push_back(std::move(*job));
  }
  std::sort(jobs.begin(), jobs.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return a["submit_time"].get<int64_t>() < b["submit_time"].get<int64_t>();
  });
  return Json(jobs);
}

HttpResponse JobManager::Logs(const std::string& id, const std::string& query) {
  const std::string job_dir = JobDir(jobs_dir_, id);
  // The status first: once it is final, the log read after it is whole.
  auto job = Describe(job_dir);
  if (!job.ok()) return Refuse(500, job.status().message());
  const bool ended = IsTerminal((*job)["status"].get<std::string>());
  uint64_t offset = 0;
  std::string given = QueryValue(query, "offset");
  if (!given.empty()) {
    try {
      offset = std::stoull(given);
    } catch (const std::exception&) {
      return Refuse(400, "offset '" + given + "' is not a byte count");
    }
  }
  std::ifstream log(DriverLogPath(job_dir), std::ios::binary);
  std::string piece;
  if (log) {
    log.seekg(0, std::ios::end);
    uint64_t size = static_cast<uint64_t>(log.tellg());
    if (offset < size) {
      piece.resize(std::min<uint64_t>(size - offset, kMaxLogPiece));
      log.seekg(static_cast<std::streamoff>(offset));
      log.read(piece.data(), static_cast<std::streamsize>(piece.size()));
      piece.resize(static_cast<size_t>(log.gcount()));
    }
  }
  uint64_t next = offset + piece.size();
  return Json(
      {{"logs", piece}, {"next_offset", next}, {"ended", ended && piece.size() < kMaxLogPiece}});
}

HttpResponse JobManager::Stop(const std::string& id) {
  const std::string job_dir = JobDir(jobs_dir_, id);
  auto job = Describe(job_dir);
  if (!job.ok()) return Refuse(500, job.status().message());
  if (IsTerminal((*job)["status"].get<std::string>())) {
    return Json({{"stopped", false}, {"status", (*job)["status"]}});
  }
  if (Status st = WriteFileAtomically(StopRequestedPath(job_dir), ""); !st.ok()) {
    return Refuse(500, st.message());
  }
  const SupervisorRecord supervisor = ReadSupervisorRecord(job_dir);
  if (supervisor.pid > 0 && supervisor.Alive()) kill(supervisor.pid, SIGTERM);
  return Json({{"stopped", true}});
}

}  // namespace rayk::jobs
