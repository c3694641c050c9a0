#include "process/cluster_secret.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "process/session.h"

namespace rayk {

namespace {

constexpr size_t kSecretBytes = 32;
constexpr size_t kMinTokenChars = 16;
constexpr size_t kMaxTokenChars = 1024;

std::string Hex(const unsigned char* bytes, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 0xf];
  }
  return out;
}

}  // namespace

Result<std::string> NewClusterSecret() {
  unsigned char bytes[kSecretBytes];
  size_t filled = 0;
  while (filled < sizeof(bytes)) {
    ssize_t n = getrandom(bytes + filled, sizeof(bytes) - filled, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return Status::IoError(std::string("cannot make a cluster secret: getrandom: ") +
                             std::strerror(errno));
    }
    filled += static_cast<size_t>(n);
  }
  return Hex(bytes, sizeof(bytes));
}

Status ValidateClusterSecret(const std::string& token, const std::string& origin) {
  if (token.size() < kMinTokenChars || token.size() > kMaxTokenChars) {
    return Status::InvalidArgument(origin + " must be " + std::to_string(kMinTokenChars) + " to " +
                                   std::to_string(kMaxTokenChars) + " characters long, not " +
                                   std::to_string(token.size()) +
                                   "; make one with 'openssl rand -hex 32'");
  }
  for (char c : token) {
    auto byte = static_cast<unsigned char>(c);
    if (byte <= ' ' || byte == 0x7f) {
      return Status::InvalidArgument(origin +
                                     " holds a blank or control character; use a token such as "
                                     "'openssl rand -hex 32' prints");
    }
  }
  return Status::Ok();
}

Status WriteClusterSecret(const std::string& session_dir, const std::string& secret) {
  std::string path = session_dir + "/" + kAuthTokenFileName;
  // O_EXCL: never write into a file (or through a link) someone else made.
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return Status::IoError("cannot create " + path + ": " + std::strerror(errno) +
                           "; check that the session folder is yours");
  }
  std::string text = secret + "\n";
  size_t written = 0;
  while (written < text.size()) {
    ssize_t n = write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      return Status::IoError("cannot write " + path + ": " + std::strerror(errno));
    }
    written += static_cast<size_t>(n);
  }
  if (close(fd) != 0) return Status::IoError("cannot write " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

Result<std::string> ReadClusterSecretFile(const std::string& path) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0) return Status::NotFound("no token file " + path);
  if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0 || info.st_uid != geteuid()) {
    return Status::InvalidArgument(path +
                                   " must be yours and private (mode 0600); run 'chmod 600 " +
                                   path + "' if it is yours");
  }
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  while (!text->empty() && (text->back() == '\n' || text->back() == '\r')) text->pop_back();
  RAYK_RETURN_IF_ERROR(ValidateClusterSecret(*text, "the token in " + path));
  return text;
}

Result<std::string> FindClusterSecret(const std::string& session_dir) {
  if (const char* env = std::getenv(kAuthTokenEnv); env != nullptr && *env != '\0') {
    RAYK_RETURN_IF_ERROR(ValidateClusterSecret(env, std::string("$") + kAuthTokenEnv));
    return std::string(env);
  }
  std::string dir = session_dir;
  if (dir.empty()) {
    auto latest = LatestSessionDir();
    if (!latest.ok()) return std::string();
    dir = *latest;
  }
  auto secret = ReadClusterSecretFile(dir + "/" + kAuthTokenFileName);
  if (!secret.ok() && secret.status().code() == StatusCode::kNotFound) return std::string();
  return secret;
}

std::string ClusterSecretEnvironmentEntry(const std::string& secret) {
  return std::string(kAuthTokenEnv) + "=" + secret;
}

}  // namespace rayk
