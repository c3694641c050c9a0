// Remote functions for the log tests (logs_test.cc), in the same test library
// as test_functions.h: they print to their worker's stdout and stderr, which
// log to driver and `rayk logs` show.
#pragma once

#include <rayk/api.h>

#include <string>

namespace log_functions {

// Prints `line` `times` times on stdout; returns `times`.
int PrintLines(const std::string& line, int times);
// Prints `line` once on stderr; returns 1.
int PrintToStderr(const std::string& line);

// An actor that says what it is told.
class Speaker {
 public:
  static Speaker* Create();
  int Say(const std::string& line);  // prints it on stdout
};

}  // namespace log_functions
