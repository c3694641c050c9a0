#include "job_code/code_shipper.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/file_trust.h"
#include "common/sha256.h"

namespace rayk {

namespace fs = std::filesystem;
using protocol::MessageType;

namespace {

// The bytes of the library at `given`, after the checks above.
Result<std::string> ReadTrustedLibrary(const std::string& given, fs::path* canonical) {
  std::error_code ec;
  *canonical = fs::canonical(given, ec);
  if (ec) {
    return Status::NotFound("code library " + given + " cannot be resolved: " + ec.message() +
                            "; list existing files in InitOptions::code_libraries");
  }
  if (!fs::is_regular_file(*canonical, ec)) {
    return Status::InvalidArgument("code library " + canonical->string() +
                                   " is not a regular file; name the job's .so file");
  }
  RAYK_RETURN_IF_ERROR(CheckTrustedFile(*canonical, "code library", ""));
  std::ifstream in(*canonical, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in && !in.eof()) {
    return Status::IoError("code library " + canonical->string() + " cannot be read");
  }
  std::string data = std::move(bytes).str();
  if (data.empty() || data.size() > protocol::kMaxCodeLibraryBytes) {
    return Status::InvalidArgument("code library " + canonical->string() + " has " +
                                   std::to_string(data.size()) + " bytes; rayk ships 1 to " +
                                   std::to_string(protocol::kMaxCodeLibraryBytes) + " bytes");
  }
  return data;
}

Status Upload(GcsClient& gcs, const std::string& sha256, const std::string& data,
              const std::string& path) {
  auto probe =
      gcs.CallSync(protocol::Encode(MessageType::kGetCode, protocol::GetCode{sha256, 0, 0}));
  if (!probe.ok()) return probe.status();
  auto held = protocol::Decode<protocol::CodeChunk>(*probe);
  if (!held.ok()) return held.status();
  if (held->found) return Status::Ok();
  for (uint64_t offset = 0; offset < data.size(); offset += protocol::kCodeChunkBytes) {
    protocol::PutCode chunk;
    chunk.sha256 = sha256;
    chunk.total_size = data.size();
    chunk.offset = offset;
    chunk.bytes = data.substr(offset, protocol::kCodeChunkBytes);
    auto reply = gcs.CallSync(protocol::Encode(MessageType::kPutCode, chunk));
    if (!reply.ok()) return reply.status();
    auto ack = protocol::Decode<protocol::Empty>(*reply);
    if (!ack.ok()) return ack.status();
  }
  spdlog::debug("shipped code library {} ({} bytes, sha256 {}) to the GCS", path, data.size(),
                sha256);
  return Status::Ok();
}

}  // namespace

Result<std::vector<protocol::CodeLibrary>> ShipJobCode(GcsClient& gcs,
                                                       const std::vector<std::string>& paths) {
  std::vector<protocol::CodeLibrary> libraries;
  for (const std::string& given : paths) {
    fs::path canonical;
    auto data = ReadTrustedLibrary(given, &canonical);
    if (!data.ok()) return data.status();
    protocol::CodeLibrary library;
    library.name = canonical.filename().string();
    library.sha256 = Sha256Hex(*data);
    library.size = data->size();
    if (Status st = Upload(gcs, library.sha256, *data, canonical.string()); !st.ok()) {
      return Status(st.code(), "cannot ship code library " + canonical.string() +
                                   " to the GCS: " + st.message());
    }
    libraries.push_back(std::move(library));
  }
  return libraries;
}

}  // namespace rayk
