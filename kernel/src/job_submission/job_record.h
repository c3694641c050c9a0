// A submitted job's folder on the head, <session>/jobs/<submission id>/, and
// the records in it, which the head's Jobs API (job_manager.h) and the job's
// supervisor (job_supervisor.h) share:
//
//   job.json       what was submitted; written by the head before the
//                  supervisor starts, never changed
//   supervisor.pid the supervisor's pid and start time ("PID START", field 22
//                  of /proc/PID/stat), written by the head once started
//   status.json    RUNNING with the driver's pid, then how it ended;
//                  written (atomically) by the supervisor only
//   stop_requested present once a stop was asked for
//   driver.log     the driver's stdout and stderr, and the supervisor's own
//                  lines (why a driver could not start)
//
// Files rather than the GCS's KV: the supervisor must record how its driver
// ended even while the GCS is down or restarting (a supervised GCS restarts
// on the same session), and the files stay readable after `rayk stop`. Each
// file has one writer, so no lock is needed.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rayk/status.h"

namespace rayk::jobs {

// Ray's job states.
inline constexpr char kPending[] = "PENDING";
inline constexpr char kRunning[] = "RUNNING";
inline constexpr char kSucceeded[] = "SUCCEEDED";
inline constexpr char kFailed[] = "FAILED";
inline constexpr char kStopped[] = "STOPPED";
bool IsTerminal(const std::string& status);

struct JobSpec {
  std::string submission_id;
  // With a library: the arguments of its main(); without: the program and
  // its arguments.
  std::vector<std::string> entrypoint;
  std::string library;  // a job library (rayk_add_job) run as `rayk run`; "" for a program
  std::map<std::string, std::string> env_vars;
  std::string gcs_address;  // HOST:PORT, the driver's RAYK_ADDRESS
  int64_t submit_time_ms = 0;
};

struct JobState {
  std::string status = kPending;
  int64_t start_time_ms = 0;
  int64_t end_time_ms = 0;
  int driver_pid = 0;
  bool has_exit_code = false;
  int exit_code = 0;
  std::string message;
};

inline constexpr char kJobsFolder[] = "jobs";  // in the session folder

std::string JobDir(const std::string& jobs_dir, const std::string& id);
std::string DriverLogPath(const std::string& job_dir);
std::string StopRequestedPath(const std::string& job_dir);
std::string SupervisorPidPath(const std::string& job_dir);

// The job's supervisor as supervisor.pid records it. The start time tells
// the supervisor from a later process that got its pid once it ended.
struct SupervisorRecord {
  int pid = 0;              // 0: none recorded
  uint64_t start_time = 0;  // 0: unknown (a record of an older rayk), the pid alone decides
  bool Alive() const;
};
SupervisorRecord ReadSupervisorRecord(const std::string& job_dir);
// Records the supervisor just started as `pid`.
Status WriteSupervisorRecord(const std::string& job_dir, int pid);

Status WriteJobSpec(const std::string& job_dir, const JobSpec& spec);
Result<JobSpec> ReadJobSpec(const std::string& job_dir);
Status WriteJobState(const std::string& job_dir, const JobState& state);
// PENDING when the supervisor has not written it yet.
JobState ReadJobState(const std::string& job_dir);

}  // namespace rayk::jobs
