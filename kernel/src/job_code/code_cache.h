// Shipping a job's code: a host's half.
//
// Each host keeps the job code it has run in one folder (<session root>/code,
// 0700), a file per library named by its digest. A raylet about to start a
// job's first worker looks the job up in the GCS (its record lists the code
// by digest: code_shipper.h), uses the cached copy when its bytes still hash
// to the digest, and otherwise fetches the library from the GCS in chunks,
// verifies it, and caches it (written beside, then renamed, so raylets
// sharing a host never see half a file). Workers load only these files.
#pragma once

#include <string>
#include <vector>

#include "gcs/gcs_client.h"
#include "rpc/protocol.h"

namespace rayk {

class CodeCache {
 public:
  explicit CodeCache(std::string dir) : dir_(std::move(dir)) {}

  // Local paths of the job's code libraries, in its record's order, fetched
  // as needed. Blocking: a raylet calls it off its request thread.
  Result<std::vector<std::string>> FetchJob(GcsClient& gcs, const JobId& job);
  // The local path of one library, fetched as needed.
  Result<std::string> Fetch(GcsClient& gcs, const protocol::CodeLibrary& library);

  const std::string& dir() const { return dir_; }

 private:
  Status EnsureDir();
  std::string dir_;
};

}  // namespace rayk
