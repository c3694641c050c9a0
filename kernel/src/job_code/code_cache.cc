#include "job_code/code_cache.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "common/sha256.h"

namespace rayk {

namespace fs = std::filesystem;
using protocol::MessageType;

namespace {

constexpr auto kChunkTimeout = std::chrono::milliseconds(30000);

// The cached file's name: the digest, then the driver's file name for people
// reading logs, with anything but plain file-name characters replaced.
std::string CachedName(const protocol::CodeLibrary& library) {
  std::string name = library.name.substr(0, 100);
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' &&
        c != '+')
      c = '_';
  }
  return library.sha256 + "-" + (name.empty() ? "library.so" : name);
}

// True when `path` holds exactly the library's bytes.
bool HoldsLibrary(const std::string& path, const protocol::CodeLibrary& library) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  Sha256 digest;
  uint64_t size = 0;
  std::string buffer(1 << 20, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    std::streamsize got = in.gcount();
    digest.Update(std::string_view(buffer.data(), static_cast<size_t>(got)));
    size += static_cast<uint64_t>(got);
  }
  return size == library.size && digest.FinishHex() == library.sha256;
}

Result<std::string> Download(GcsClient& gcs, const protocol::CodeLibrary& library) {
  std::string data;
  Sha256 digest;
  for (uint64_t offset = 0; offset == 0 || offset < library.size;) {
    auto reply = gcs.CallSync(
        protocol::Encode(MessageType::kGetCode, protocol::GetCode{library.sha256, offset}),
        kChunkTimeout);
    if (!reply.ok()) return reply.status();
    auto chunk = protocol::Decode<protocol::CodeChunk>(*reply);
    if (!chunk.ok()) return chunk.status();
    if (!chunk->found) return Status::NotFound("the GCS does not hold it");
    if (chunk->total_size != library.size || chunk->bytes.empty() ||
        offset + chunk->bytes.size() > library.size) {
      return Status::InvalidArgument("the GCS sent a chunk that does not fit the library's size");
    }
    digest.Update(chunk->bytes);
    data += chunk->bytes;
    offset += chunk->bytes.size();
  }
  if (digest.FinishHex() != library.sha256) {
    return Status::InvalidArgument("the bytes received do not hash to the library's digest");
  }
  return data;
}

// Writes beside `path`, then renames: readers see no file or a whole one.
Status WriteReadOnly(const std::string& path, const std::string& data) {
  std::string temp =
      path + ".part-" + std::to_string(getpid()) + "-" + std::to_string(std::random_device{}());
  int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("cannot create " + temp + ": " + std::strerror(errno));
  size_t written = 0;
  while (written < data.size()) {
    ssize_t n = write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status st = Status::IoError("cannot write " + temp + ": " + std::strerror(errno));
      close(fd);
      unlink(temp.c_str());
      return st;
    }
    written += static_cast<size_t>(n);
  }
  fchmod(fd, 0500);  // nobody, this user included, edits a cached library in place
  close(fd);
  if (rename(temp.c_str(), path.c_str()) != 0) {
    Status st = Status::IoError("cannot rename " + temp + ": " + std::strerror(errno));
    unlink(temp.c_str());
    return st;
  }
  return Status::Ok();
}

}  // namespace

Status CodeCache::EnsureDir() {
  if (mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::IoError("cannot create the code cache " + dir_ + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (lstat(dir_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
      (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return Status::InvalidArgument("the code cache " + dir_ +
                                   " is not a folder of yours that only you can write; remove it "
                                   "(rayk makes it again, mode 0700)");
  }
  return Status::Ok();
}

Result<std::string> CodeCache::Fetch(GcsClient& gcs, const protocol::CodeLibrary& library) {
  if (!IsSha256Hex(library.sha256)) {
    return Status::InvalidArgument("code library " + library.name +
                                   " has no valid sha256 in its job record");
  }
  RAYK_RETURN_IF_ERROR(EnsureDir());
  std::string path = dir_ + "/" + CachedName(library);
  if (HoldsLibrary(path, library)) return path;
  if (fs::exists(path)) {
    // Replaced below by rename, whatever its mode.
    spdlog::warn("code cache: {} does not match its digest; fetching it again", path);
  }
  auto data = Download(gcs, library);
  if (!data.ok()) {
    return Status(data.status().code(), "cannot fetch code library " + library.name + " (sha256 " +
                                            library.sha256 +
                                            ") from the GCS: " + data.status().message());
  }
  RAYK_RETURN_IF_ERROR(WriteReadOnly(path, *data));
  spdlog::info("code cache: fetched {} ({} bytes) into {}", library.name, library.size, path);
  return path;
}

Result<std::vector<std::string>> CodeCache::FetchJob(GcsClient& gcs, const JobId& job) {
  auto reply =
      gcs.CallSync(protocol::Encode(MessageType::kGetJob, protocol::GetJob{job}), kChunkTimeout);
  if (!reply.ok()) return reply.status();
  auto record = protocol::Decode<protocol::JobReply>(*reply);
  if (!record.ok()) return record.status();
  if (!record->found) {
    return Status::NotFound("job " + job.Hex() +
                            " is not registered with the GCS; a driver registers its job (and its "
                            "code) in rayk::Init");
  }
  std::vector<std::string> paths;
  for (const protocol::CodeLibrary& library : record->job.code_libraries) {
    auto path = Fetch(gcs, library);
    if (!path.ok()) return path.status();
    paths.push_back(*path);
  }
  return paths;
}

}  // namespace rayk
