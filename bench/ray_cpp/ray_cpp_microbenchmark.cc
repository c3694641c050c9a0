// rayk's microbenchmark cases written against Ray's own C++ API (PyPI's
// `ray-cpp`), so that bench/compare_ray.sh can print a "Ray C++" column beside
// Ray Python's `ray microbenchmark` and `rayk microbenchmark`.
//
// Not part of rayk's CMake build: bench/ray_cpp/run.sh compiles it against the
// headers and libray_api.so of the ray-cpp package in its virtualenv (with
// -D_GLIBCXX_USE_CXX11_ABI=0, the ABI Ray's library is built with), once into
// a shared library and once into this driver, both in one folder. Ray's C++
// workers find remote functions by loading the shared libraries in the
// driver's code search path, which by default is the driver's own folder.
//
// The cases mirror cli/microbenchmark/cases.cc (same workloads, batch sizes,
// value sizes and names) and are timed by rayk's own timing loop
// (cli/microbenchmark/timing.h: a warm-up of at most one second, then
// `--trials` trials of `--duration` seconds; mean and population std over
// trials, as harness.cc reports them). Lines are printed as
// `ray microbenchmark` prints them: "<case> per second <mean> +- <std>", where
// a figure counts calls, or batches of 1000 for single_client_wait_1k_refs and
// Ray's gigabytes for single_client_put_gigabytes (as Ray's and rayk's do).
//
// One trap in Ray's C++ API: ObjectRef's move constructor releases the
// reference before taking it again, so a moved-from temporary can free the
// object. Refs are therefore only ever copied into containers here.
#include <ray/api.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include "microbenchmark/timing.h"

namespace {

// The remote functions and actors (run in Ray's C++ workers).

std::string SmallValue() { return "ok"; }

class Server {
 public:
  static Server* Create() { return new Server(); }
  std::string SmallValue() { return "ok"; }
};

}  // namespace

RAY_REMOTE(SmallValue, Server::Create, &Server::SmallValue);

namespace {

// Ray's np.zeros(100 * 1024 * 1024, dtype=np.int64), counted as 0.8
// "gigabytes" (Ray's multiplier), as rayk's case puts it.
constexpr size_t kLargeElements = 100 * 1024 * 1024;
constexpr double kLargeGigabytes = 0.8;

struct Settings {
  double duration = 2.0;  // seconds per trial
  int trials = 4;
};

std::vector<double> Time(const Settings& settings, double multiplier,
                         const std::function<void()>& body) {
  return rayk::microbenchmark::TimeTrials(settings.duration, settings.trials, multiplier, body,
                                          [](const std::string&) {});
}

// n SmallValue tasks; each ref is copied in (see the note at the top).
std::vector<ray::ObjectRef<std::string>> SubmitSmallValues(int n) {
  std::vector<ray::ObjectRef<std::string>> refs;
  refs.reserve(n);
  for (int i = 0; i < n; ++i) {
    ray::ObjectRef<std::string> ref = ray::Task(SmallValue).Remote();
    refs.push_back(ref);
  }
  return refs;
}

// n calls of Server::SmallValue on `server`.
std::vector<ray::ObjectRef<std::string>> CallMany(ray::ActorHandle<Server>& server, int n) {
  std::vector<ray::ObjectRef<std::string>> refs;
  refs.reserve(n);
  for (int i = 0; i < n; ++i) {
    ray::ObjectRef<std::string> ref = server.Task(&Server::SmallValue).Remote();
    refs.push_back(ref);
  }
  return refs;
}

std::vector<double> SingleClientGetCalls(const Settings& s) {
  ray::ObjectRef<int> value = ray::Put(0);
  return Time(s, 1, [&] { ray::Get(value); });
}

std::vector<double> SingleClientPutCalls(const Settings& s) {
  return Time(s, 1, [] { ray::Put(0); });
}

// Ray's C++ API serializes with msgpack, which writes each small integer in
// one byte: the stored object is about 100 MiB, not 800. The figure still
// counts 0.8 per put, as Ray's and rayk's cases do.
std::vector<double> SingleClientPutGigabytes(const Settings& s) {
  std::vector<int64_t> zeros(kLargeElements);
  return Time(s, kLargeGigabytes, [&] { ray::Put(zeros); });
}

std::vector<double> SingleClientWait1kRefs(const Settings& s) {
  return Time(s, 1, [] {
    std::vector<ray::ObjectRef<std::string>> not_ready = SubmitSmallValues(1000);
    // As Ray Python's wait with num_returns=1 and rayk's case: take one ready
    // ref per call, hand the others back.
    while (!not_ready.empty()) {
      ray::WaitResult<std::string> result = ray::Wait(not_ready, 1, -1);
      std::vector<ray::ObjectRef<std::string>> rest;
      rest.reserve(not_ready.size());
      for (const auto& ref : result.unready) rest.push_back(ref);
      for (auto it = std::next(result.ready.begin()); it != result.ready.end(); ++it)
        rest.push_back(*it);
      not_ready.swap(rest);
    }
  });
}

std::vector<double> SingleClientTasksSync(const Settings& s) {
  return Time(s, 1, [] { ray::Get(ray::Task(SmallValue).Remote()); });
}

std::vector<double> SingleClientTasksAsync(const Settings& s) {
  return Time(s, 1000, [] { ray::Get(SubmitSmallValues(1000)); });
}

std::vector<double> ActorCallsSync(const Settings& s) {
  ray::ActorHandle<Server> server = ray::Actor(Server::Create).Remote();
  return Time(s, 1, [&] { ray::Get(server.Task(&Server::SmallValue).Remote()); });
}

std::vector<double> ActorCallsAsync(const Settings& s) {
  ray::ActorHandle<Server> server = ray::Actor(Server::Create).Remote();
  return Time(s, 1000, [&] { ray::Get(CallMany(server, 1000)); });
}

struct Case {
  const char* name;
  std::vector<double> (*run)(const Settings&);
};

// In the order of rayk's (and Ray's) microbenchmark.
const std::vector<Case> kCases = {
    {"single_client_get_calls", SingleClientGetCalls},
    {"single_client_put_calls", SingleClientPutCalls},
    {"single_client_put_gigabytes", SingleClientPutGigabytes},
    {"single_client_wait_1k_refs", SingleClientWait1kRefs},
    {"single_client_tasks_sync", SingleClientTasksSync},
    {"single_client_tasks_async", SingleClientTasksAsync},
    {"1_1_actor_calls_sync", ActorCallsSync},
    {"1_1_actor_calls_async", ActorCallsAsync},
};

int Usage(const std::string& problem) {
  std::fprintf(stderr,
               "ray_cpp_microbenchmark: %s\n"
               "usage: ray_cpp_microbenchmark [--address HOST:PORT] [--duration SECONDS] "
               "[--trials N] [--filter REGEX]  (the address defaults to $RAY_ADDRESS)\n",
               problem.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  std::string address = std::getenv("RAY_ADDRESS") ? std::getenv("RAY_ADDRESS") : "";
  std::string filter;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag != "--address" && flag != "--duration" && flag != "--trials" && flag != "--filter")
      return Usage("unknown argument '" + flag + "'");
    if (i + 1 >= argc) return Usage(flag + " needs a value");
    const std::string value = argv[++i];
    char* end = nullptr;
    if (flag == "--address") {
      address = value;
    } else if (flag == "--filter") {
      filter = value;
    } else if (flag == "--duration") {
      settings.duration = std::strtod(value.c_str(), &end);
      if (*end != '\0' || !(settings.duration > 0))
        return Usage("--duration must be a number of seconds above 0, not '" + value + "'");
    } else {
      settings.trials = static_cast<int>(std::strtol(value.c_str(), &end, 10));
      if (*end != '\0' || settings.trials < 1)
        return Usage("--trials must be a whole number of at least 1, not '" + value + "'");
    }
  }
  if (address.empty() || address.find(':') == std::string::npos)
    return Usage("no Ray head to connect to: pass --address HOST:PORT or set RAY_ADDRESS");
  std::regex pattern;
  try {
    pattern = std::regex(filter);
  } catch (const std::regex_error&) {
    return Usage("--filter '" + filter + "' is not a valid regular expression");
  }

  ray::RayConfig config;
  config.address = address;
  // Not argc/argv: Ray would parse them as its own flags and reject ours.
  ray::Init(config);
  for (const Case& c : kCases) {
    if (!std::regex_search(c.name, pattern)) continue;
    const std::vector<double> samples = c.run(settings);
    double mean = 0, variance = 0;
    for (double x : samples) mean += x / samples.size();
    for (double x : samples) variance += (x - mean) * (x - mean) / samples.size();
    std::printf("%s per second %.2f +- %.2f\n", c.name, mean, std::sqrt(variance));
    std::fflush(stdout);
  }
  ray::Shutdown();
  return 0;
}
