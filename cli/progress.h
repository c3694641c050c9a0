// Progress: the one line of progress that long CLI work shows on a terminal
// ("nodes up 57/200", "case 3/18 single_client_tasks_async trial 2/4"), and
// that pipes and files never see.
//
// On a terminal (the file descriptor, stderr by default, is a tty), Show()
// rewrites a single line in place: a carriage return, the text cut to the
// terminal's width (a wrapped line could not be rewritten), and an erase to
// the line's end. Clear() erases it, so that the command's own output (which
// may go to the same terminal) starts on a clean line; the destructor clears
// it too, and so does Fail (ClearShownProgress) before its error. Anywhere else every call does
// nothing: not one byte, so that scripts, logs and `| grep` see only what the command prints.
//
// Used by `rayk dev up`, `rayk microbenchmark` and `rayk job logs --follow`.
// Not thread-safe; one thread shows progress.
#pragma once

#include <unistd.h>

#include <string>

namespace rayk::cli {

class Progress {
 public:
  explicit Progress(int fd = STDERR_FILENO);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Whether progress is shown: the descriptor is a terminal.
  bool active() const { return active_; }
  // Replaces the line with `text` (nothing when it is what is shown already).
  void Show(const std::string& text);
  // Erases the line, if one is shown.
  void Clear();

 private:
  void Write(const std::string& bytes) const;

  const int fd_;
  const bool active_;
  std::string shown_;  // the text on the line now; empty: none
};

// Erases the line a Progress of this process shows, if any: Fail calls it
// before its one-line error, which then starts on a clean line.
void ClearShownProgress();

}  // namespace rayk::cli
