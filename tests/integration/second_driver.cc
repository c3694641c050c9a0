// A second driver for the actor tests, joining the cluster at $RAYK_ADDRESS:
//   rayk_second_driver incr NAME BY           finds the named Counter, adds BY, prints "value N"
//   rayk_second_driver create NAME detached   creates a named Counter and exits
//   rayk_second_driver create NAME attached   likewise, owned by this (short) job
//   rayk_second_driver hold NAME wait         creates a named Counter owned by this job, prints
//                                             "created", and waits to be killed (no task ever)
//   rayk_second_driver lend NAME VALUE exit   puts VALUE, gives the ref inside a vector to the
//                                             named RefHolder, prints "lent", and ends
//   rayk_second_driver lend NAME VALUE wait   likewise, then waits to be killed
//   rayk_second_driver putbig BYTES wait      puts a string of BYTES bytes (in the node's
//                                             store), prints "put", and waits to be killed
//   rayk_second_driver stall MARKER_DIR MS    runs StallTimesThen42 (one stall of MS) on the node
//                                             with the "survivor" resource, then an Add, and
//                                             prints "stalled 42 then 5" (for failover tests)
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "functions/test_functions.h"

using test_functions::Counter;

namespace {

int Run(int argc, char** argv) {
  std::string command = argv[1];
  // Names are per namespace: the tests that share actors with this driver
  // (ActorsTest, OwnerDeathTest) use this one; $RAYK_NAMESPACE picks another.
  rayk::InitOptions options;
  if (std::getenv("RAYK_NAMESPACE") == nullptr) options.namespace_name = "second-driver";
  rayk::Init(options);
  if (command == "incr") {
    auto counter = rayk::GetActor<Counter>(argv[2]);
    int value = *rayk::Get(counter.Task(&Counter::Incr).Remote(std::atoi(argv[3])));
    std::printf("value %d\n", value);
  } else if (command == "create") {
    auto creator = rayk::Actor(Counter::Create).SetName(argv[2]);
    if (std::string(argv[3]) == "detached") creator.SetLifetimeDetached();
    auto counter = creator.Remote(1);
    std::printf("created %d\n", *rayk::Get(counter.Task(&Counter::Value).Remote()));
  } else if (command == "hold") {
    // No task: the raylet knows of this driver only from its start.
    auto counter = rayk::Actor(Counter::Create).SetName(argv[2]).Remote(1);
    std::printf("created %d\n", *rayk::Get(counter.Task(&Counter::Value).Remote()));
    std::fflush(stdout);
    pause();
  } else if (command == "lend" && argc == 5) {
    auto holder = rayk::GetActor<test_functions::RefHolder>(argv[2]);
    auto ref = rayk::Put(std::atoi(argv[3]));
    rayk::Get(holder.Task(&test_functions::RefHolder::Store).Remote(std::vector{ref}));
    // A task too, as a driver that lends usually runs some.
    rayk::Get(rayk::Task(test_functions::Add).Remote(1, 1));
    std::printf("lent\n");
    std::fflush(stdout);
    if (std::string(argv[4]) == "wait") pause();
  } else if (command == "putbig") {
    // No task: the raylet knows this driver only as the owner of what it put.
    auto big = rayk::Put(std::string(static_cast<size_t>(std::atoll(argv[2])), 'b'));
    std::printf("put %s\n", big.ID().Hex().c_str());
    std::fflush(stdout);
    pause();
  } else if (command == "stall") {
    try {
      auto stalled =
          rayk::Task(test_functions::StallTimesThen42)
              .SetResources({{"survivor", 1}})
              .Remote(std::string(argv[2]), 1, static_cast<int64_t>(std::atoll(argv[3])));
      int first = *rayk::Get(stalled, std::chrono::seconds(120));
      int after =
          *rayk::Get(rayk::Task(test_functions::Add).Remote(2, 3), std::chrono::seconds(120));
      std::printf("stalled %d then %d\n", first, after);
    } catch (const std::exception& e) {
      std::printf("failed: %s\n", e.what());
      rayk::Shutdown();
      return 1;
    }
  }
  rayk::Shutdown();
  return 0;
}

}  // namespace

// A failure (an actor not found, a bad $RAYK_NAMESPACE) is one line and
// exit code 1, as for a user's driver, rather than an abort.
int main(int argc, char** argv) {
  if (argc < 4) return 2;
  try {
    return Run(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "rayk_second_driver: %s\n", error.what());
    if (rayk::IsInitialized()) rayk::Shutdown();
    return 1;
  }
}
