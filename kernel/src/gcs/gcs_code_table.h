// GcsCodeTable: the job code a cluster runs, kept by the GCS by content.
//
// A driver uploads each of its code libraries once, in chunks, named by the
// SHA-256 of its bytes (kPutCode); a library becomes visible only when its
// last chunk arrives and the whole hashes to its name, so a raylet fetching it
// (kGetCode) never sees a partial or forged library. A job's record lists its
// libraries by digest (JobInfo::code_libraries); the GCS refuses a job whose
// code it does not hold. Raylets then start that job's workers with exactly
// those bytes, whatever a lease request says (job_code/code_cache.h).
//
// Stored in the gcs slot (tables "code" and "code_chunks"), so code survives
// a GCS restart on a durable store, and identical libraries are kept once.
// Thread-safe.
#pragma once

#include <mutex>
#include <string>

#include "rayk/plugin/gcs_store.h"
#include "rpc/protocol.h"

namespace rayk {

class GcsCodeTable {
 public:
  explicit GcsCodeTable(GcsStore& store) : store_(store) {}

  // Stores one chunk; with the last one, verifies the library and makes it
  // fetchable. Uploading a library the table has already is a no-op.
  Status Put(const protocol::PutCode& chunk);
  // A chunk of a complete library (found = false when there is none).
  Result<protocol::CodeChunk> Get(const protocol::GetCode& request);
  // Ok when every library of `job` is complete here.
  Status CheckJobCode(const protocol::JobInfo& job);

 private:
  // The size of a complete library, or nullopt.
  Result<std::optional<uint64_t>> CompleteSizeLocked(const std::string& sha256);
  Status VerifyLocked(const protocol::PutCode& last);

  GcsStore& store_;
  std::mutex mu_;
};

}  // namespace rayk
