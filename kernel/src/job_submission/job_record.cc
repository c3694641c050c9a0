#include "job_submission/job_record.h"

#include <nlohmann/json.hpp>
#include <sstream>

#include "process/session.h"

namespace rayk::jobs {

bool IsTerminal(const std::string& status) {
  return status == kSucceeded || status == kFailed || status == kStopped;
}

std::string JobDir(const std::string& jobs_dir, const std::string& id) {
  return jobs_dir + "/" + id;
}
std::string DriverLogPath(const std::string& job_dir) { return job_dir + "/driver.log"; }
std::string StopRequestedPath(const std::string& job_dir) { return job_dir + "/stop_requested"; }
std::string SupervisorPidPath(const std::string& job_dir) { return job_dir + "/supervisor.pid"; }

bool SupervisorRecord::Alive() const {
  if (!ProcessAlive(static_cast<pid_t>(pid))) return false;
  if (start_time == 0) return true;
  auto identity = ReadProcessIdentity(static_cast<pid_t>(pid));
  return identity.ok() && identity->start_time == start_time;
}

SupervisorRecord ReadSupervisorRecord(const std::string& job_dir) {
  SupervisorRecord record;
  auto text = ReadFile(SupervisorPidPath(job_dir));
  if (text.ok()) std::istringstream(*text) >> record.pid >> record.start_time;
  return record;
}

Status WriteSupervisorRecord(const std::string& job_dir, int pid) {
  // Read at once: the supervisor is our child, so its pid is not reused
  // before we reap it, even if it ended already.
  auto identity = ReadProcessIdentity(static_cast<pid_t>(pid));
  const uint64_t start_time = identity.ok() ? identity->start_time : 0;
  return WriteFileAtomically(SupervisorPidPath(job_dir),
                             std::to_string(pid) + " " + std::to_string(start_time));
}

Status WriteJobSpec(const std::string& job_dir, const JobSpec& spec) {
  nlohmann::json json = {{"submission_id", spec.submission_id},
                         {"entrypoint", spec.entrypoint},
                         {"library", spec.library},
                         {"env_vars", spec.env_vars},
                         {"gcs_address", spec.gcs_address},
                         {"submit_time", spec.submit_time_ms}};
  return WriteFileAtomically(job_dir + "/job.json", json.dump(2) + "\n");
}

Result<JobSpec> ReadJobSpec(const std::string& job_dir) {
  auto text = ReadFile(job_dir + "/job.json");
  if (!text.ok()) return text.status();
  try {
    nlohmann::json json = nlohmann::json::parse(*text);
    JobSpec spec;
    spec.submission_id = json.at("submission_id");
    spec.entrypoint = json.at("entrypoint").get<std::vector<std::string>>();
    spec.library = json.at("library");
    spec.env_vars = json.at("env_vars").get<std::map<std::string, std::string>>();
    spec.gcs_address = json.at("gcs_address");
    spec.submit_time_ms = json.at("submit_time");
    return spec;
  } catch (const nlohmann::json::exception& e) {
    return Status::IoError(job_dir + "/job.json is damaged: " + e.what());
  }
}

Status WriteJobState(const std::string& job_dir, const JobState& state) {
  nlohmann::json json = {{"status", state.status},        {"start_time", state.start_time_ms},
                         {"end_time", state.end_time_ms}, {"driver_pid", state.driver_pid},
                         {"message", state.message},      {"exit_code", nullptr}};
  if (state.has_exit_code) json["exit_code"] = state.exit_code;
  return WriteFileAtomically(job_dir + "/status.json", json.dump(2) + "\n");
}

JobState ReadJobState(const std::string& job_dir) {
  JobState state;
  auto text = ReadFile(job_dir + "/status.json");
  if (!text.ok()) return state;
  nlohmann::json json = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return state;
  state.status = json.value("status", std::string(kPending));
  state.start_time_ms = json.value("start_time", int64_t{0});
  state.end_time_ms = json.value("end_time", int64_t{0});
  state.driver_pid = json.value("driver_pid", 0);
  state.message = json.value("message", std::string());
  if (json.contains("exit_code") && json["exit_code"].is_number_integer()) {
    state.has_exit_code = true;
    state.exit_code = json["exit_code"];
  }
  return state;
}

}  // namespace rayk::jobs
