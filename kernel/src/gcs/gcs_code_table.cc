#include "gcs/gcs_code_table.h"

#include <cstdio>
#include <cstdlib>

#include "common/sha256.h"

namespace rayk {

namespace {

constexpr char kCodeTable[] = "code";  // sha256 -> size, once complete
constexpr char kChunkTable[] = "code_chunks";

std::string ChunkKey(const std::string& sha256, uint64_t index) {
  char suffix[24];
  std::snprintf(suffix, sizeof(suffix), ":%08llu", static_cast<unsigned long long>(index));
  return sha256 + suffix;
}

uint64_t ChunkCount(uint64_t size) {
  return (size + protocol::kCodeChunkBytes - 1) / protocol::kCodeChunkBytes;
}

}  // namespace

Result<std::optional<uint64_t>> GcsCodeTable::CompleteSizeLocked(const std::string& sha256) {
  auto size = store_.Get(kCodeTable, sha256);
  if (!size.ok()) return size.status();
  if (!size->has_value()) return std::optional<uint64_t>();
  return std::optional<uint64_t>(std::strtoull((*size)->c_str(), nullptr, 10));
}

Status GcsCodeTable::Put(const protocol::PutCode& chunk) {
  if (!IsSha256Hex(chunk.sha256)) {
    return Status::InvalidArgument("code library digest '" + chunk.sha256.substr(0, 80) +
                                   "' is not 64 lowercase hex digits (a SHA-256)");
  }
  if (chunk.total_size == 0 || chunk.total_size > protocol::kMaxCodeLibraryBytes) {
    return Status::InvalidArgument("code library " + chunk.sha256 + " of " +
                                   std::to_string(chunk.total_size) +
                                   " bytes: a library holds 1 to " +
                                   std::to_string(protocol::kMaxCodeLibraryBytes) + " bytes");
  }
  const uint64_t expected =
      chunk.offset < chunk.total_size
          ? std::min<uint64_t>(protocol::kCodeChunkBytes, chunk.total_size - chunk.offset)
          : 0;
  if (chunk.offset % protocol::kCodeChunkBytes != 0 || expected == 0 ||
      chunk.bytes.size() != expected) {
    return Status::InvalidArgument(
        "code library " + chunk.sha256 + ": a chunk at offset " + std::to_string(chunk.offset) +
        " with " + std::to_string(chunk.bytes.size()) + " bytes does not fit a library of " +
        std::to_string(chunk.total_size) + " bytes sent in chunks of " +
        std::to_string(protocol::kCodeChunkBytes));
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto complete = CompleteSizeLocked(chunk.sha256);
  if (!complete.ok()) return complete.status();
  if (complete->has_value()) return Status::Ok();
  RAYK_RETURN_IF_ERROR(store_.Put(
      kChunkTable, ChunkKey(chunk.sha256, chunk.offset / protocol::kCodeChunkBytes), chunk.bytes));
  if (chunk.offset + chunk.bytes.size() < chunk.total_size) return Status::Ok();
  return VerifyLocked(chunk);
}

// The last chunk arrived: the library is kept only if its chunks hash to its
// name. A mismatch drops them, so a bad upload cannot linger half-made.
Status GcsCodeTable::VerifyLocked(const protocol::PutCode& last) {
  const uint64_t chunks = ChunkCount(last.total_size);
  Sha256 digest;
  uint64_t size = 0;
  Status problem = Status::Ok();
  for (uint64_t i = 0; i < chunks && problem.ok(); ++i) {
    auto bytes = store_.Get(kChunkTable, ChunkKey(last.sha256, i));
    if (!bytes.ok()) return bytes.status();
    if (!bytes->has_value()) {
      problem = Status::InvalidArgument("code library " + last.sha256 + ": chunk " +
                                        std::to_string(i) + " never arrived; send chunks in order");
      break;
    }
    digest.Update(**bytes);
    size += (*bytes)->size();
  }
  if (problem.ok() && (size != last.total_size || digest.FinishHex() != last.sha256)) {
    problem = Status::InvalidArgument("code library " + last.sha256 +
                                      ": the bytes uploaded do not hash to that digest; "
                                      "the upload was dropped");
  }
  GcsWriteBatch batch;
  if (problem.ok()) {
    batch.Put(kCodeTable, last.sha256, std::to_string(last.total_size));
  } else {
    for (uint64_t i = 0; i < chunks; ++i) batch.Delete(kChunkTable, ChunkKey(last.sha256, i));
  }
  RAYK_RETURN_IF_ERROR(store_.Write(batch));
  return problem;
}

Result<protocol::CodeChunk> GcsCodeTable::Get(const protocol::GetCode& request) {
  protocol::CodeChunk out;
  out.offset = request.offset;
  std::lock_guard<std::mutex> lock(mu_);
  auto complete = CompleteSizeLocked(request.sha256);
  if (!complete.ok()) return complete.status();
  if (!complete->has_value()) return out;
  out.found = true;
  out.total_size = **complete;
  if (request.max_bytes == 0) return out;
  if (request.offset % protocol::kCodeChunkBytes != 0 || request.offset >= out.total_size) {
    return Status::InvalidArgument("code library " + request.sha256 + " has " +
                                   std::to_string(out.total_size) +
                                   " bytes; read it at chunk offsets (multiples of " +
                                   std::to_string(protocol::kCodeChunkBytes) + ")");
  }
  auto bytes =
      store_.Get(kChunkTable, ChunkKey(request.sha256, request.offset / protocol::kCodeChunkBytes));
  if (!bytes.ok()) return bytes.status();
  if (!bytes->has_value()) {
    return Status::IoError("code library " + request.sha256 +
                           " is missing a chunk in the GCS store");
  }
  out.bytes = std::move(**bytes);
  if (out.bytes.size() > request.max_bytes) out.bytes.resize(request.max_bytes);
  return out;
}

Status GcsCodeTable::CheckJobCode(const protocol::JobInfo& job) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const protocol::CodeLibrary& library : job.code_libraries) {
    bool held = false;
    if (IsSha256Hex(library.sha256)) {
      auto complete = CompleteSizeLocked(library.sha256);
      if (!complete.ok()) return complete.status();
      held = complete->has_value();
    }
    if (!held) {
      return Status::InvalidArgument("job " + job.job_id.Hex() + ": its code library " +
                                     library.name + " (sha256 " + library.sha256.substr(0, 64) +
                                     ") was not uploaded to the GCS; send it with kPutCode first");
    }
  }
  return Status::Ok();
}

}  // namespace rayk
