#include "job_submission/job_supervisor.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "job_submission/job_record.h"
#include "process/session.h"

namespace rayk::jobs {
namespace {

// The driver's command line: `rayk run LIBRARY -- ARGS` for a job library,
// else the program itself.
Result<std::vector<std::string>> DriverCommand(const JobSpec& spec) {
  if (spec.library.empty()) return spec.entrypoint;
  auto rayk = RaykExecutable();
  if (!rayk.ok()) return rayk.status();
  std::vector<std::string> argv = {*rayk, "run", spec.library, "--"};
  argv.insert(argv.end(), spec.entrypoint.begin(), spec.entrypoint.end());
  return argv;
}

// In the forked child: becomes the driver, or exits 127 saying why not.
[[noreturn]] void ExecDriver(const JobSpec& spec, const std::string& job_dir,
                             const std::vector<std::string>& argv, pid_t supervisor) {
  setpgid(0, 0);
  // A supervisor killed outright cannot stop its driver: the kernel does.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != supervisor) _exit(127);  // it died before prctl
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (chdir(job_dir.c_str()) != 0) {
    std::fprintf(stderr, "rayk job: cannot enter %s: %s\n", job_dir.c_str(), std::strerror(errno));
    _exit(127);
  }
  setenv("RAYK_ADDRESS", spec.gcs_address.c_str(), 1);
  for (const auto& [name, value] : spec.env_vars) setenv(name.c_str(), value.c_str(), 1);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  execvp(args[0], args.data());
  std::fprintf(stderr, "rayk job: cannot start %s: %s\n", args[0], std::strerror(errno));
  _exit(127);
}

// How a driver that ended with wait status `wait_status` leaves its job.
JobState Ended(JobState state, const std::string& id, int wait_status, bool stopped) {
  state.end_time_ms = NowMs();
  if (WIFEXITED(wait_status)) {
    state.has_exit_code = true;
    state.exit_code = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    state.has_exit_code = true;
    state.exit_code = 128 + WTERMSIG(wait_status);  // as shells report it
  }
  if (stopped) {
    state.status = kStopped;
    state.message = "stopped on request";
  } else if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) {
    state.status = kSucceeded;
    state.message = "the driver exited with code 0";
  } else if (WIFEXITED(wait_status)) {
    state.status = kFailed;
    state.message = "the driver exited with code " + std::to_string(WEXITSTATUS(wait_status)) +
                    "; its output: rayk job logs " + id;
  } else {
    state.status = kFailed;
    state.message = std::string("the driver was killed by signal ") +
                    strsignal(WTERMSIG(wait_status)) + "; its output: rayk job logs " + id;
  }
  return state;
}

}  // namespace

int RunJobSupervisor(const std::string& job_dir) {
  // From here on SIGTERM and SIGINT (a stop) and SIGCHLD (the driver's end)
  // wait to be taken by sigtimedwait below, so none is lost.
  sigset_t handled;
  sigemptyset(&handled);
  for (int signal : {SIGTERM, SIGINT, SIGCHLD}) sigaddset(&handled, signal);
  sigprocmask(SIG_BLOCK, &handled, nullptr);

  JobState state;
  auto spec = ReadJobSpec(job_dir);
  if (!spec.ok()) {
    state.status = kFailed;
    state.end_time_ms = NowMs();
    state.message = "the supervisor cannot read the job: " + spec.status().message();
    std::fprintf(stderr, "rayk job: %s\n", state.message.c_str());
    return WriteJobState(job_dir, state).ok() ? 1 : 2;
  }
  std::error_code ec;
  if (std::filesystem::exists(StopRequestedPath(job_dir), ec)) {
    state.status = kStopped;
    state.end_time_ms = NowMs();
    state.message = "stopped before its driver started";
    return WriteJobState(job_dir, state).ok() ? 0 : 2;
  }
  auto argv = DriverCommand(*spec);
  if (!argv.ok() || argv->empty()) {
    state.status = kFailed;
    state.end_time_ms = NowMs();
    state.message = argv.ok() ? "the job has no entrypoint" : argv.status().message();
    std::fprintf(stderr, "rayk job: %s\n", state.message.c_str());
    return WriteJobState(job_dir, state).ok() ? 0 : 2;
  }
  std::fflush(nullptr);
  const pid_t supervisor = getpid();
  pid_t driver = fork();
  if (driver < 0) {
    state.status = kFailed;
    state.end_time_ms = NowMs();
    state.message = std::string("cannot start the driver: ") + std::strerror(errno);
    return WriteJobState(job_dir, state).ok() ? 0 : 2;
  }
  if (driver == 0) ExecDriver(*spec, job_dir, *argv, supervisor);
  setpgid(driver, driver);  // also here, so that a stop right away finds the group
  state.status = kRunning;
  state.start_time_ms = NowMs();
  state.driver_pid = driver;
  state.message = "the driver is running";
  (void)WriteJobState(job_dir, state);

  bool stopping = false;
  auto kill_at = std::chrono::steady_clock::time_point::max();
  int wait_status = 0;
  while (true) {
    if (waitpid(driver, &wait_status, WNOHANG) == driver) break;
    auto now = std::chrono::steady_clock::now();
    if (stopping && now >= kill_at) {
      kill(-driver, SIGKILL);
      kill_at = std::chrono::steady_clock::time_point::max();
    }
    // Without a deadline, wake now and then anyway: cheap, and robust
    // against a SIGCHLD merged with another.
    auto wait = stopping && kill_at != std::chrono::steady_clock::time_point::max()
                    ? std::chrono::duration_cast<std::chrono::nanoseconds>(kill_at - now)
                    : std::chrono::nanoseconds(std::chrono::seconds(1));
    timespec timeout{static_cast<time_t>(wait.count() / 1000000000),
                     static_cast<long>(wait.count() % 1000000000)};
    int signal = sigtimedwait(&handled, nullptr, &timeout);
    if ((signal == SIGTERM || signal == SIGINT) && !stopping) {
      stopping = true;
      kill(-driver, SIGTERM);
      kill_at = std::chrono::steady_clock::now() + kStopGrace;
    }
  }
  // What the driver started in its group goes with it on a stop.
  if (stopping) kill(-driver, SIGKILL);
  state = Ended(state, spec->submission_id, wait_status, stopping);
  return WriteJobState(job_dir, state).ok() ? 0 : 2;
}

}  // namespace rayk::jobs
