// A second driver for the actor tests, joining the cluster at $RAYK_ADDRESS:
//   rayk_second_driver incr NAME BY           finds the named Counter, adds BY, prints "value N"
//   rayk_second_driver create NAME detached   creates a named Counter and exits
//   rayk_second_driver create NAME attached   likewise, owned by this (short) job
#include <cstdio>
#include <cstdlib>
#include <string>

#include "functions/test_functions.h"

using test_functions::Counter;

int main(int argc, char** argv) {
  if (argc < 4) return 2;
  std::string command = argv[1];
  rayk::Init();
  if (command == "incr") {
    auto counter = rayk::GetActor<Counter>(argv[2]);
    int value = *rayk::Get(counter.Task(&Counter::Incr).Remote(std::atoi(argv[3])));
    std::printf("value %d\n", value);
  } else if (command == "create") {
    auto creator = rayk::Actor(Counter::Create).SetName(argv[2]);
    if (std::string(argv[3]) == "detached") creator.SetLifetimeDetached();
    auto counter = creator.Remote(1);
    std::printf("created %d\n", *rayk::Get(counter.Task(&Counter::Value).Remote()));
  }
  rayk::Shutdown();
  return 0;
}
