// A second driver for the actor tests: joins the cluster at $RAYK_ADDRESS,
// finds the named actor given as argv[1], increments it by argv[2] and prints
// the counter's new value.
#include <cstdio>
#include <cstdlib>

#include "functions/test_functions.h"

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  rayk::Init();
  auto counter = rayk::GetActor<test_functions::Counter>(argv[1]);
  int value = *rayk::Get(counter.Task(&test_functions::Counter::Incr).Remote(std::atoi(argv[2])));
  std::printf("value %d\n", value);
  rayk::Shutdown();
  return 0;
}
