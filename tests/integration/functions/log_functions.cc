#include "log_functions.h"

#include <cstdio>
#include <iostream>

namespace log_functions {

int PrintLines(const std::string& line, int times) {
  for (int i = 0; i < times; ++i) std::cout << line << "\n";
  return times;
}

int PrintToStderr(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  return 1;
}

Speaker* Speaker::Create() { return new Speaker(); }

int Speaker::Say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  return 1;
}

}  // namespace log_functions

using namespace log_functions;  // RAYK_REMOTE names functions as written here
RAYK_REMOTE(PrintLines, PrintToStderr, Speaker::Create, &Speaker::Say);
