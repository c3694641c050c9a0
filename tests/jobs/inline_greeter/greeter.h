// A library whose remote functions are all defined inline here: a program
// that calls them references no symbol of librayk_test_greeter.so, so a
// linker with --as-needed would drop the library, and its RAYK_REMOTE line
// (greeter.cc) with it. rayk_add_job must keep it (see inline_job_test).
#pragma once

#include <rayk/api.h>

#include <string>

namespace greeter {

inline std::string Hello(const std::string& name) { return "hello " + name; }

class Greeter {
 public:
  explicit Greeter(std::string greeting) : greeting_(std::move(greeting)) {}
  static Greeter* Create(std::string greeting) { return new Greeter(std::move(greeting)); }
  std::string Greet(const std::string& name) { return greeting_ + " " + name; }

 private:
  std::string greeting_;
};

}  // namespace greeter
