#include "common/file_trust.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace rayk {

namespace {

std::string OctalMode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

}  // namespace

Status CheckTrustedFile(const std::filesystem::path& file, const std::string& what,
                        const std::string& fix) {
  struct stat st {};
  if (stat(file.c_str(), &st) != 0) {
    return Status::NotFound(what + " " + file.string() +
                            " cannot be examined: " + std::strerror(errno));
  }
  const bool owner_ok = st.st_uid == 0 || st.st_uid == geteuid();
  if (owner_ok && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0) return Status::Ok();
  return Status::InvalidArgument(
      what + " " + file.string() + " is owned by uid " + std::to_string(st.st_uid) + " with mode " +
      OctalMode(st.st_mode) +
      "; rayk loads code only from files and folders owned by root or by you (uid " +
      std::to_string(geteuid()) + ") and not writable by group or others: fix it with chown " +
      "and chmod go-w" + (fix.empty() ? "" : ", or " + fix));
}

}  // namespace rayk
