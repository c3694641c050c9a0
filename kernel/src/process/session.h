// Sessions and child processes.
//
// A session directory (/tmp/rayk/session_<time>_<pid>/, with the link
// /tmp/rayk/session_latest) holds what one cluster's processes share: logs/,
// the address files the daemons write when they are ready (gcs_address,
// raylet_address), and `pids`, the processes `rayk stop` ends.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "rayk/status.h"

namespace rayk {

// The root of every session; $RAYK_SESSION_ROOT overrides /tmp/rayk (tests
// use their own).
std::string SessionRoot();

// Makes a new session directory (with logs/) and points session_latest at it.
Result<std::string> CreateSessionDir();

// The session_latest link's target, if there is one.
Result<std::string> LatestSessionDir();

// The `rayk` executable beside this kernel (bin/rayk next to lib/librayk.so).
Result<std::string> RaykExecutable();

// Starts `argv` as a child process with stdout and stderr appended to
// `log_file`. With `new_session` it gets its own process group (a daemon that
// outlives its starter's terminal). `extra_env` ("NAME=VALUE" entries) adds
// to this process's environment or replaces variables of the same name.
Result<pid_t> SpawnProcess(const std::vector<std::string>& argv, const std::string& log_file,
                           bool new_session, const std::vector<std::string>& extra_env = {});

// Waits up to `timeout` for `path` to exist with non-empty contents, and
// returns them. Fails early when `watched` (if > 0) exits, with the tail of
// `log_file` in the message.
Result<std::string> WaitForFile(const std::string& path, std::chrono::milliseconds timeout,
                                pid_t watched, const std::string& log_file);

// Writes `contents` to `path` atomically (write to a temporary, rename).
Status WriteFileAtomically(const std::string& path, const std::string& contents);
Result<std::string> ReadFile(const std::string& path);
void AppendLine(const std::string& path, const std::string& line);

// The last `max_lines` lines of a file, joined with " | ", for error messages.
std::string TailOfFile(const std::string& path, int max_lines);

// Ends a process: SIGTERM, then SIGKILL after `grace`. Reaps it if it is our child.
void TerminateProcess(pid_t pid, std::chrono::milliseconds grace);

bool ProcessAlive(pid_t pid);

int64_t NowMs();

}  // namespace rayk
