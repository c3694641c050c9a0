// The job supervisor: `rayk job-supervisor --job-dir DIR`, which the head
// starts for each submitted job (job_manager.h) in a session of its own, so
// that it outlives the submitting terminal and a restart of the GCS.
//
// It runs the job's driver as its child, in a process group of its own, with
// RAYK_ADDRESS set to the cluster, the job's environment variables, its
// folder as working directory and its stdout and stderr going to the job's
// driver.log (which the supervisor's own stdout and stderr already are).
// It records RUNNING, then how the driver ended (job_record.h). SIGTERM (a
// stop) ends the driver's group: SIGTERM, then SIGKILL after kStopGrace if
// anything in it is still running; the job is then STOPPED. A supervisor
// killed outright (SIGKILL) takes its driver with it (PR_SET_PDEATHSIG), and
// the head then reports the job FAILED (job_manager.h).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

namespace rayk::jobs {

// Ray's default wait between a job's SIGTERM and its SIGKILL.
inline constexpr std::chrono::seconds kStopGrace{3};

// Runs the job whose folder is `job_dir` to its end. Returns the
// supervisor's exit code: 0 once it recorded how the job ended.
int RunJobSupervisor(const std::string& job_dir);

}  // namespace rayk::jobs
