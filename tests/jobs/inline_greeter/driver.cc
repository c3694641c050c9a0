// A job built with rayk_add_job(... LIBRARIES rayk_test_greeter) that calls
// only functions defined inline in greeter.h:
//   rayk_inline_driver <plugins.toml>
// prints "task: hello task" and "actor: hi actor" and exits 0, or prints the
// error and exits 1.
#include <cstdio>
#include <exception>

#include "greeter.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: rayk_inline_driver <plugins.toml>\n");
    return 2;
  }
  rayk::InitOptions options;
  options.num_cpus = 1;
  options.config_file = argv[1];
  rayk::Init(options);
  int code = 0;
  try {
    std::printf("task: %s\n", rayk::Get(rayk::Task(greeter::Hello).Remote("task"))->c_str());
    auto actor = rayk::Actor(greeter::Greeter::Create).Remote("hi");
    std::printf("actor: %s\n",
                rayk::Get(actor.Task(&greeter::Greeter::Greet).Remote("actor"))->c_str());
  } catch (const std::exception& e) {
    std::printf("error: %s\n", e.what());
    code = 1;
  }
  rayk::Shutdown();
  return code;
}
