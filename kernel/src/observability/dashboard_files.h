// The dashboard's static files (kernel/src/observability/dashboard/: the
// page, its script and its style), compiled into librayk at build time by
// cmake/embed_files.cmake.
//
// Why compiled in rather than installed beside the binaries and looked up at
// run time: the head then serves the page that matches its own JSON API,
// from a build tree, an install prefix or a copied binary alike, and a
// missing or stale share/ folder cannot break it. The files are installed
// too (share/rayk/dashboard), for reading, not for serving.
#pragma once

#include <string_view>
#include <vector>

namespace rayk::observability {

struct DashboardFile {
  std::string_view name;          // "index.html", "dashboard.js" ...
  std::string_view content_type;  // from its extension
  std::string_view body;
};

const std::vector<DashboardFile>& DashboardFiles();

}  // namespace rayk::observability
