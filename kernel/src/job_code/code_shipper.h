// Shipping a job's code: the driver's half.
//
// A driver names its code libraries by path (InitOptions::code_libraries, or
// the libraries its remote functions were registered from). Before the job
// is registered, each is resolved to a canonical path, checked like a plugin
// (owned by root or this user, not writable by group or others:
// common/file_trust.h), read once, named by the SHA-256 of those bytes and
// uploaded to the GCS unless the GCS holds it already (gcs/gcs_code_table.h).
// The job record then lists the libraries by digest, and every host fetches
// exactly those bytes (code_cache.h): a host that lacks the file runs the
// job, and nothing a lease request says can change which code a worker loads.
#pragma once

#include <string>
#include <vector>

#include "gcs/gcs_client.h"
#include "rpc/protocol.h"

namespace rayk {

// Uploads what the GCS lacks and returns the libraries as the job record
// names them; a one-line error naming the library on any problem.
Result<std::vector<protocol::CodeLibrary>> ShipJobCode(GcsClient& gcs,
                                                       const std::vector<std::string>& paths);

}  // namespace rayk
