// The cluster secret: the token whose holders are a cluster's members. The
// zmq transport derives its CURVE keys from it (docs/security.md), so a
// process without it can neither talk to nor listen in on the cluster.
//
// `rayk start --head` and embedded clusters make a new one (or take the
// user's); it is kept in <session>/auth_token, mode 0600, and handed to every
// process rayk starts through the RAYK_AUTH_TOKEN environment variable, never
// on a command line, which every local user can read in /proc.
// Plain functions; thread-safe.
#pragma once

#include <string>

#include "rayk/status.h"

namespace rayk {

inline constexpr char kAuthTokenEnv[] = "RAYK_AUTH_TOKEN";
inline constexpr char kAuthTokenFileName[] = "auth_token";

// A new random secret: 32 bytes from the kernel's random source, as 64 hex
// digits.
Result<std::string> NewClusterSecret();

// Checks a token a user gave (`origin` names where it came from in the
// error): 16 to 1024 characters, none of them blank or a control character.
Status ValidateClusterSecret(const std::string& token, const std::string& origin);

// Writes `secret` to <session_dir>/auth_token with mode 0600 from the start
// (it is never readable by others, not even for a moment).
Status WriteClusterSecret(const std::string& session_dir, const std::string& secret);

// Reads a token file (a trailing newline is dropped); refuses one that
// another user could read or change.
Result<std::string> ReadClusterSecretFile(const std::string& path);

// The secret this process should use: $RAYK_AUTH_TOKEN, else the auth_token
// file of `session_dir` (when not empty), else that of the local
// session_latest. "" when there is none: the transport then refuses to start
// unless authentication is turned off.
Result<std::string> FindClusterSecret(const std::string& session_dir);

// "RAYK_AUTH_TOKEN=<secret>", the environment entry that hands it to a child.
std::string ClusterSecretEnvironmentEntry(const std::string& secret);

}  // namespace rayk
