// JobManager: the head's Jobs API, JSON over HTTP as Ray's, served by the
// GCS's HTTP server under /api/jobs (always behind the cluster secret):
//
//   POST /api/jobs/                 submit {"entrypoint": [...], "library": "/abs/libjob.so",
//                                   "submission_id": "...", "env_vars": {...}}
//                                   -> {"submission_id": "..."}
//   GET  /api/jobs/                 every job, oldest first
//   GET  /api/jobs/ID               one job: status (PENDING, RUNNING, SUCCEEDED,
//                                   FAILED, STOPPED), times, exit code, message
//   GET  /api/jobs/ID/logs?offset=N its output from byte N
//                                   -> {"logs": "...", "next_offset": M, "ended": bool}
//   POST /api/jobs/ID/stop          -> {"stopped": bool}
//
// A submission gets a folder (job_record.h) and a supervisor process
// (job_supervisor.h) that runs its driver; the manager only writes what was
// submitted and reads what the supervisor records. A supervisor that died
// without recording an end (killed with SIGKILL) shows as FAILED, or
// STOPPED if a stop was asked for. Errors are {"error": "..."} with 400
// (bad input), 404 (unknown job) or 409 (a submission id taken).
// Thread-safety: none; the HTTP server calls it on its one thread.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "observability/http_server.h"

namespace rayk::jobs {

class JobManager {
 public:
  // Jobs live under `jobs_dir`; drivers reach the cluster at `gcs_address`
  // and get `secret` (when not "") as RAYK_AUTH_TOKEN.
  JobManager(std::string jobs_dir, std::string gcs_address, std::string secret);
  ~JobManager();
  JobManager(const JobManager&) = delete;
  JobManager& operator=(const JobManager&) = delete;

  observability::HttpResponse Handle(const observability::HttpRequest& request);

 private:
  observability::HttpResponse Submit(const std::string& body);
  observability::HttpResponse List();
  observability::HttpResponse Logs(const std::string& id, const std::string& query);
  observability::HttpResponse Stop(const std::string& id);
  // Reaps the supervisors that ended (they are this process's children).
  void Reap();

  const std::string jobs_dir_;
  const std::string gcs_address_;
  const std::string secret_;
  std::vector<pid_t> supervisors_;  // not reaped yet
};

}  // namespace rayk::jobs
