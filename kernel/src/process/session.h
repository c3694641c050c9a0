// Sessions and child processes.
//
// A session directory (<root>/session_<time>_<pid>/, with the link
// <root>/session_latest) holds what one cluster's processes share: logs/,
// the address files the daemons write when they are ready (gcs_address,
// raylet_address), and `pids`, the processes `rayk stop` ends.
//
// Sessions are private to their user: the root is per user and 0700, each
// session folder 0700, every file rayk writes in it 0600 (the daemons run
// with umask 077, and the helpers below create files 0600 whatever the umask).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "rayk/status.h"

namespace rayk {

// The root of this user's sessions: $RAYK_SESSION_ROOT if set (tests use
// their own), else $XDG_RUNTIME_DIR/rayk when that folder is set and owned by
// this user, else /tmp/rayk-<uid>.
std::string SessionRoot();

// Creates the session root (0700) if missing and checks it: a real folder
// (not a link), owned by this user, not writable by group or others; else a
// one-line error naming it, its owner and mode and the fix. Someone who made
// the root first could otherwise read every session and plant pids files.
Status EnsureSessionRoot(const std::string& root);

// Makes a new session directory (0700, with logs/) and points session_latest at it.
Result<std::string> CreateSessionDir();

// The session_latest link's target, if there is one.
Result<std::string> LatestSessionDir();

// The `rayk` executable beside this kernel (bin/rayk next to lib/librayk.so).
Result<std::string> RaykExecutable();

// Starts `argv` as a child process with stdout and stderr appended to
// `log_file` (stderr to `err_file` instead, if given). With `new_session` it
// gets its own process group (a daemon that outlives its starter's
// terminal). `extra_env` ("NAME=VALUE" entries) adds to this process's
// environment or replaces variables of the same name.
Result<pid_t> SpawnProcess(const std::vector<std::string>& argv, const std::string& log_file,
                           bool new_session, const std::vector<std::string>& extra_env = {},
                           const std::string& err_file = "");

// Waits up to `timeout` for `path` to exist with non-empty contents, and
// returns them. Fails early when `watched` (if > 0) exits, with the tail of
// `log_file` in the message.
Result<std::string> WaitForFile(const std::string& path, std::chrono::milliseconds timeout,
                                pid_t watched, const std::string& log_file);

// Writes `contents` to `path` atomically (write to a temporary, rename); the
// file is 0600, readable by this user only, whatever the umask.
Status WriteFileAtomically(const std::string& path, const std::string& contents);
Result<std::string> ReadFile(const std::string& path);
// Appends one line to `path`, creating it 0600 if missing.
void AppendLine(const std::string& path, const std::string& line);

// The last `max_lines` lines of a file, joined with " | ", for error messages.
std::string TailOfFile(const std::string& path, int max_lines);

// Ends a process: SIGTERM, then SIGKILL after `grace`. Reaps it if it is our child.
void TerminateProcess(pid_t pid, std::chrono::milliseconds grace);

// Alive and not a zombie.
bool ProcessAlive(pid_t pid);
// The state letter of /proc/PID/stat: 'R' running, 'S' sleeping, 'T' stopped
// (SIGSTOP), 't' stopped by a debugger, 'Z' zombie, ...; 0 when there is no
// such process.
char ProcessState(pid_t pid);

// What tells a process from a later one that got its pid: the executable and
// the start time (clock ticks after boot, field 22 of /proc/PID/stat).
struct ProcessIdentity {
  std::string executable;  // /proc/PID/exe, without a " (deleted)" suffix
  uint64_t start_time = 0;
  bool operator==(const ProcessIdentity&) const = default;
};

// The identity of a live process; NotFound once it is gone.
Result<ProcessIdentity> ReadProcessIdentity(pid_t pid);

int64_t NowMs();

}  // namespace rayk
