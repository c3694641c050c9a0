// Which files rayk will load code from.
//
// Loading a shared library runs its constructors as this user, so rayk loads
// (or ships to other hosts) only files that root or this user controls: owned
// by one of them and not writable by group or others. Plugins (plugin_host/)
// and job code (job_code/) are checked the same way.
#pragma once

#include <filesystem>
#include <string>

#include "rayk/status.h"

namespace rayk {

// Ok when `file` is owned by root or this user and not writable by group or
// others. Otherwise a one-line error: "<what> <file> is owned by uid U with
// mode M; rayk loads code only from ... <fix>".
Status CheckTrustedFile(const std::filesystem::path& file, const std::string& what,
                        const std::string& fix);

}  // namespace rayk
