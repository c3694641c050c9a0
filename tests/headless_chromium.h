// HeadlessChromium: Debian's `chromium` without a display, for the test of
// the head's dashboard: it loads a page, runs its scripts, and returns the
// DOM they built and the console messages they logged.
//
// Everything Chromium writes goes into a temporary folder (its profile with
// --user-data-dir, and HOME and the XDG folders, where it would otherwise
// create ~/.config/chromium and ~/.cache/dconf); the destructor SIGKILLs any
// of its processes still running (they all name that folder) and removes
// the folder, so a failed test leaves nothing behind.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace rayk::testing {

class HeadlessChromium {
 public:
  static constexpr char kBinary[] = "/usr/bin/chromium";
  static bool Installed() { return access(kBinary, X_OK) == 0; }

  struct Page {
    int exit_code = -1;
    std::string dom;  // the DOM after the page's scripts ran (--dump-dom)
    std::string log;  // Chromium's log (stderr)
    // Lines of the log that are console messages of the page: console.log,
    // console.error ... and uncaught exceptions ("Uncaught TypeError: ...").
    // Chromium logs them all at level INFO with --enable-logging, so a page
    // that logs nothing when well must have none.
    std::vector<std::string> console;
  };

  HeadlessChromium() = default;
  ~HeadlessChromium() {
    for (int i = 0; i < 100; ++i) {
      auto left = ProcessesMentioning(dir_.path());
      if (left.empty()) break;
      for (pid_t pid : left) kill(pid, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  HeadlessChromium(const HeadlessChromium&) = delete;
  HeadlessChromium& operator=(const HeadlessChromium&) = delete;

  const std::string& dir() const { return dir_.path(); }

  // Loads `url`, lets its scripts run for `virtual_ms` of virtual time
  // (timers fire without waiting in real time), and dumps the DOM.
  Page DumpDom(const std::string& url, int virtual_ms = 5000) {
    Page page;
    const std::string dom = dir_.path() + "/dom.html", log = dir_.path() + "/chromium.log";
    page.exit_code =
        Run("--enable-logging=stderr --v=0 --virtual-time-budget=" + std::to_string(virtual_ms) +
                " --dump-dom '" + url + "'",
            " > " + dom + " 2> " + log)
            .exit_code;
    page.dom = ReadAll(dom);
    page.log = ReadAll(log);
    std::istringstream lines(page.log);
    for (std::string line; std::getline(lines, line);) {
      if (line.find(":CONSOLE") != std::string::npos) page.console.push_back(line);
    }
    return page;
  }

  // Loads `url` and writes a PNG of the window to `png`.
  CommandResult Screenshot(const std::string& url, const std::string& png, int width = 1280,
                           int height = 900) {
    return Run(
        "--virtual-time-budget=5000 --hide-scrollbars --window-size=" + std::to_string(width) +
        "," + std::to_string(height) + " --screenshot=" + png + " '" + url + "'");
  }

 private:
  // Runs chromium with `args`, its output redirected by `redirect` (in a
  // subshell, so that RunCommand's own 2>&1 does not undo it). The kill
  // after 120 s guards against a hang; a page loads in seconds.
  CommandResult Run(const std::string& args, const std::string& redirect = "") {
    const std::string& d = dir_.path();
    return RunCommand("(HOME=" + d + " XDG_CONFIG_HOME=" + d + "/config XDG_CACHE_HOME=" + d +
                      "/cache timeout -s KILL 120 " + kBinary +
                      " --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir=" + d +
                      "/profile " + args + redirect + ")");
  }

  static std::string ReadAll(const std::string& file) {
    std::ifstream in(file);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

  TempDir dir_;
};

}  // namespace rayk::testing
