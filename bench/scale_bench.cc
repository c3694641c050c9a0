// Scale on one node, the probes of Ray's release test
// (release/benchmarks/single_node): one task given 10,000 refs, a task with
// 3,000 returns, 10,000 refs in one Get, 1,000,000 queued trivial tasks
// (with the driver's and the raylet's peak RSS), and a 4 GiB object put and
// got; and, rayk's own, a task's 256 MiB result. Runs on an embedded one-node
// cluster; prints one "probe<TAB>value" line per figure, which
// bench/scale.sh puts beside Ray's (bench/scale_ray.py).
//
//   build/bin/scale_bench [queued_tasks] [large_object_gib]
//   RAYK_SCALE_PROBES=many_args,large_result build/bin/scale_bench   # only those
//
// Every wait is bounded (kProbeTimeout), so a hang ends the probe with a line
// saying so instead of stalling the run.
#include <dirent.h>
#include <malloc.h>
#include <rayk/api.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

int64_t SumRefs(const std::vector<rayk::ObjectRef<int64_t>>& refs) {
  int64_t sum = 0;
  for (const auto& value : rayk::Get(refs)) sum += *value;
  return sum;
}

// `count` lists of 10,000 numbers, one object each (Ray's many_returns).
std::vector<std::vector<int64_t>> ManyLists(int count) {
  std::vector<int64_t> list(10000);
  std::iota(list.begin(), list.end(), 0);
  return std::vector<std::vector<int64_t>>(count, list);
}

int Trivial() { return 0; }

// `bytes` real bytes (each written), returned as the task's result; and the
// same work with only the size returned, to take the making out of the time.
rayk::Buffer MakeBytes(int64_t bytes) {
  auto out = rayk::Buffer::Uninitialized(bytes);
  std::memset(out.data(), 1, bytes);
  return out;
}
int64_t MakeBytesOnly(int64_t bytes) { return int64_t(MakeBytes(bytes).size()); }

RAYK_REMOTE(SumRefs, ManyLists, Trivial, MakeBytes, MakeBytesOnly);

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kProbeTimeout = std::chrono::minutes(10);

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void Line(const std::string& probe, const std::string& value) {
  std::printf("%s\t%s\n", probe.c_str(), value.c_str());
  std::fflush(stdout);
}

std::string Seconds(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f s", s);
  return text;
}

// A line of /proc/PID/status ("VmHWM:  123 kB") in bytes; -1 if absent.
int64_t StatusBytes(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atoll(line.c_str() + field.size() + 1) * 1024;
  }
  return -1;
}

// Peak RSS counts from here on (Linux: writing 5 to clear_refs resets VmHWM
// to the current RSS). This process first hands back the heap the earlier
// probes freed, so that their values are not counted as the next probe's.
void ResetPeak(pid_t pid) {
  if (pid == getpid()) malloc_trim(0);
  std::ofstream("/proc/" + std::to_string(pid) + "/clear_refs") << "5";
}

std::string GiB(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GiB", bytes / double(1 << 30));
  return text;
}

// The embedded raylet: this driver's child whose argv[1] is "raylet".
pid_t FindRaylet() {
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return 0;
  pid_t found = 0;
  while (dirent* entry = readdir(proc)) {
    pid_t pid = std::atoi(entry->d_name);
    if (pid <= 0) continue;
    std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
    std::string argv0, argv1;
    std::getline(cmdline, argv0, '\0');
    std::getline(cmdline, argv1, '\0');
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string rest;
    std::getline(stat, rest);
    // stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after ')'.
    std::istringstream after(rest.substr(rest.rfind(')') + 1));
    std::string state;
    pid_t ppid = 0;
    after >> state >> ppid;
    if (ppid == getpid() && argv1 == "raylet") found = pid;
  }
  closedir(proc);
  return found;
}

// Runs a probe, unless $RAYK_SCALE_PROBES (a comma-separated list of probe
// names) leaves it out; an exception (a timeout among them) becomes its line.
void Probe(const std::string& name, const std::function<void()>& body) {
  if (const char* only = std::getenv("RAYK_SCALE_PROBES")) {
    if (("," + std::string(only) + ",").find("," + name + ",") == std::string::npos) return;
  }
  try {
    body();
  } catch (const std::exception& e) {
    Line(name, std::string("FAILED: ") + e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t queued = argc > 1 ? std::atoll(argv[1]) : 1000000;
  const int64_t large_gib = argc > 2 ? std::atoll(argv[2]) : 4;
  rayk::Init();
  const pid_t raylet = FindRaylet();

  Probe("many_args", [] {
    std::vector<rayk::ObjectRef<int64_t>> refs;
    for (int64_t i = 0; i < 10000; ++i) refs.push_back(rayk::Put(i));
    auto start = Clock::now();
    int64_t sum = *rayk::Get(rayk::Task(SumRefs).Remote(refs), kProbeTimeout);
    double seconds = SecondsSince(start);
    if (sum != 10000LL * 9999 / 2) throw std::runtime_error("wrong sum " + std::to_string(sum));
    Line("many_args", Seconds(seconds));
  });

  Probe("many_returns", [] {
    auto start = Clock::now();
    auto refs = rayk::Task(ManyLists).SetNumReturns(3000).Remote(3000);
    for (const auto& ref : refs) {
      auto list = rayk::Get(ref, kProbeTimeout);
      if (list->size() != 10000 || (*list)[9999] != 9999) throw std::runtime_error("wrong list");
    }
    Line("many_returns", Seconds(SecondsSince(start)));
  });

  Probe("get_10k_refs", [] {
    std::vector<int64_t> list(10000);
    std::iota(list.begin(), list.end(), 0);
    auto start = Clock::now();
    std::vector<rayk::ObjectRef<std::vector<int64_t>>> refs;
    for (int i = 0; i < 10000; ++i) refs.push_back(rayk::Put(list));
    double put = SecondsSince(start);
    start = Clock::now();
    auto values = rayk::Get(refs, kProbeTimeout);
    double get = SecondsSince(start);
    for (const auto& value : values) {
      if (*value != list) throw std::runtime_error("wrong list");
    }
    Line("get_10k_refs", Seconds(get) + " (the puts before: " + Seconds(put) + ")");
  });

  Probe("queued_tasks", [&] {
    ResetPeak(getpid());
    if (raylet > 0) ResetPeak(raylet);
    auto start = Clock::now();
    std::vector<rayk::ObjectRef<int>> refs;
    refs.reserve(queued);
    for (int64_t i = 0; i < queued; ++i) refs.push_back(rayk::Task(Trivial).Remote());
    double submit = SecondsSince(start);
    auto values = rayk::Get(refs, kProbeTimeout);
    double total = SecondsSince(start);
    if (values.size() != size_t(queued)) throw std::runtime_error("wrong count");
    Line("queued_tasks",
         std::to_string(queued) + " in " + Seconds(total) + " (submit " + Seconds(submit) + ")");
    int64_t driver_peak = StatusBytes(getpid(), "VmHWM");
    int64_t raylet_peak = raylet > 0 ? StatusBytes(raylet, "VmHWM") : -1;
    Line("queued_driver_peak_rss", GiB(driver_peak));
    Line("queued_raylet_peak_rss", raylet > 0 ? GiB(raylet_peak) : "raylet not found");
    Line("queued_sum_peak_rss", GiB(driver_peak + raylet_peak));
  });

  Probe("large_object", [&] {
    const int64_t bytes = large_gib << 30;
    // The source, the put's encoded copy (bench/README.md) and the store's
    // copy, plus 1 GiB of slack for the rest of the machine.
    int64_t available = -1;
    std::ifstream meminfo("/proc/meminfo");
    for (std::string line; std::getline(meminfo, line);) {
      if (line.rfind("MemAvailable:", 0) == 0) available = std::atoll(line.c_str() + 13) * 1024;
    }
    struct statvfs shm {};
    int64_t shm_free = statvfs("/dev/shm", &shm) == 0 ? int64_t(shm.f_bavail) * shm.f_frsize : 0;
    if (available < 3 * bytes + (int64_t(1) << 30) || shm_free < bytes + (256 << 20)) {
      Line("large_object", "SKIPPED: this machine cannot hold a " + GiB(bytes) +
                               " object: " + GiB(available) + " of memory available (need " +
                               GiB(3 * bytes + (int64_t(1) << 30)) + "), " + GiB(shm_free) +
                               " free in /dev/shm (need " + GiB(bytes + (256 << 20)) + ")");
      return;
    }
    ResetPeak(getpid());
    auto source = rayk::Buffer::Uninitialized(bytes);
    std::memset(source.data(), 1, bytes);  // real bytes, faulted in before the clock starts
    auto start = Clock::now();
    auto ref = rayk::Put(source);
    double put = SecondsSince(start);
    source = rayk::Buffer();
    start = Clock::now();
    {
      rayk::View<uint8_t> view = rayk::GetView(ref, kProbeTimeout);
      if (view.size() != size_t(bytes) || view.data()[bytes - 1] != 1)
        throw std::runtime_error("wrong view");
    }
    double get_view = SecondsSince(start);
    start = Clock::now();
    {
      auto copy = rayk::Get(ref, kProbeTimeout);
      if (copy->size() != size_t(bytes) || copy->data()[bytes - 1] != 1)
        throw std::runtime_error("wrong copy");
    }
    double get = SecondsSince(start);
    Line("large_object_put", Seconds(put) + " (" + GiB(bytes) + ")");
    Line("large_object_getview", Seconds(get_view));
    Line("large_object_get", Seconds(get));
    Line("large_object_driver_peak_rss", GiB(StatusBytes(getpid(), "VmHWM")));
  });

  Probe("large_result", [&] {
    // A task's 256 MiB result, from the submit to a view of it in the
    // driver; less the same task returning only the size, this is what
    // handing the result over costs (write it to the store, tell the owner).
    const int64_t bytes = int64_t(256) << 20;
    auto start = Clock::now();
    if (*rayk::Get(rayk::Task(MakeBytesOnly).Remote(bytes), kProbeTimeout) != bytes)
      throw std::runtime_error("wrong size");
    double making = SecondsSince(start);
    start = Clock::now();
    {
      rayk::View<uint8_t> view = rayk::GetView(rayk::Task(MakeBytes).Remote(bytes), kProbeTimeout);
      if (view.size() != size_t(bytes) || view.data()[bytes - 1] != 1)
        throw std::runtime_error("wrong view");
    }
    double total = SecondsSince(start);
    Line("large_result", Seconds(total) + " (256 MiB; making it alone: " + Seconds(making) + ")");
  });

  rayk::Shutdown();
  return 0;
}
