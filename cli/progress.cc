#include "progress.h"

#include <sys/ioctl.h>

#include <cerrno>

namespace rayk::cli {

namespace {

// Carriage return, and "erase to the end of the line" (ANSI, as every
// terminal emulator in use understands it).
constexpr char kStartOfLine[] = "\r";
constexpr char kEraseToEnd[] = "\033[K";

// The terminal's width in columns; 80 when it does not say.
size_t Columns(int fd) {
  winsize size{};
  if (ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

// The Progress showing a line now, for ClearShownProgress.
Progress* shown_progress = nullptr;

}  // namespace

void ClearShownProgress() {
  if (shown_progress != nullptr) shown_progress->Clear();
}

Progress::Progress(int fd) : fd_(fd), active_(isatty(fd) == 1) {}

Progress::~Progress() {
  Clear();
  if (shown_progress == this) shown_progress = nullptr;
}

void Progress::Show(const std::string& text) {
  if (!active_ || text == shown_) return;
  // One column short of the width: a line that fills it wraps on some terminals.
  size_t width = Columns(fd_) - 1;
  std::string line = text.size() > width ? text.substr(0, width) : text;
  Write(kStartOfLine + line + kEraseToEnd);
  shown_ = text;
  shown_progress = this;
}

void Progress::Clear() {
  if (!active_ || shown_.empty()) return;
  Write(std::string(kStartOfLine) + kEraseToEnd);
  shown_.clear();
}

void Progress::Write(const std::string& bytes) const {
  // Unbuffered, so that the line is there at once and never interleaves with
  // a stdio buffer's flush in the middle.
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a closed terminal: progress is not worth an error
    done += static_cast<size_t>(n);
  }
}

}  // namespace rayk::cli
