// Scheduling efficiency at fine granularity (issue 19 item 7), rayk's side of
// bench/granularity.sh: for each task length G, N tasks that each burn G
// microseconds of CPU on an embedded node of `cpus` CPUs, with N chosen so
// that the ideal run (every CPU busy, nothing else) takes `ideal` seconds:
// N = ideal * cpus / G. All N are submitted, then got in one Get.
// Efficiency = ideal / measured wall time.
//
// The driver shares the machine's CPUs with the workers; its own CPU time
// over the run (getrusage: its threads, the owner's bookkeeping) and the
// machine's busy CPU time (/proc/stat) are printed beside it, both in CPUs
// (CPU seconds per wall second).
//
//   build/bin/granularity [ideal_seconds] [cpus] [lengths_us...]   # defaults 5 2 100 1000 10000
//
// Prints one tab-separated line per length:
//   length_us  tasks  seconds  efficiency  driver_cpus  machine_cpus
#include <rayk/api.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

// Burns `us` microseconds of this thread's CPU time (not wall time: a task
// that is preempted still does its whole share of work), returns it.
int64_t Burn(int64_t us) {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  int64_t end = now.tv_sec * 1000000000LL + now.tv_nsec + us * 1000;
  do {
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  } while (now.tv_sec * 1000000000LL + now.tv_nsec < end);
  return us;
}
RAYK_REMOTE(Burn);

namespace {

using Clock = std::chrono::steady_clock;

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec +
         usage.ru_stime.tv_usec / 1e6;
}

// Busy CPU seconds of the whole machine so far (every CPU's non-idle time).
double MachineBusySeconds() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
  stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq;
  return static_cast<double>(user + nice + system + irq + softirq) / sysconf(_SC_CLK_TCK);
}

void RunAll(int64_t tasks, int64_t length_us) {
  std::vector<rayk::ObjectRef<int64_t>> refs;
  refs.reserve(tasks);
  for (int64_t i = 0; i < tasks; ++i) refs.push_back(rayk::Task(Burn).Remote(length_us));
  int64_t sum = 0;
  for (const std::shared_ptr<int64_t>& us : rayk::Get(refs)) sum += *us;
  if (sum != tasks * length_us) {
    std::fprintf(stderr, "granularity: the tasks returned %lld us in all, not %lld\n",
                 static_cast<long long>(sum), static_cast<long long>(tasks * length_us));
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  double ideal = argc > 1 ? std::atof(argv[1]) : 5.0;
  int cpus = argc > 2 ? std::atoi(argv[2]) : 2;
  std::vector<int64_t> lengths;
  for (int i = 3; i < argc; ++i) lengths.push_back(std::atoll(argv[i]));
  if (lengths.empty()) lengths = {100, 1000, 10000};
  if (ideal <= 0 || cpus <= 0) {
    std::fprintf(stderr, "usage: granularity [ideal_seconds > 0] [cpus > 0] [lengths_us...]\n");
    return 2;
  }
  for (int64_t length : lengths) {
    if (length <= 0) {
      std::fprintf(stderr, "granularity: task length %lld us must be positive\n",
                   static_cast<long long>(length));
      return 2;
    }
  }
  rayk::InitOptions options;
  options.num_cpus = cpus;
  rayk::Init(options);
  // Workers started, leases granted, code loaded: not part of any figure.
  RunAll(4 * cpus, 1000);
  std::printf("length_us\ttasks\tseconds\tefficiency\tdriver_cpus\tmachine_cpus\n");
  for (int64_t length : lengths) {
    auto tasks = static_cast<int64_t>(ideal * 1e6 * cpus / static_cast<double>(length));
    double driver_before = ProcessCpuSeconds();
    double machine_before = MachineBusySeconds();
    auto start = Clock::now();
    RunAll(tasks, length);
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    double driver = ProcessCpuSeconds() - driver_before;
    double machine = MachineBusySeconds() - machine_before;
    std::printf("%lld\t%lld\t%.3f\t%.3f\t%.2f\t%.2f\n", static_cast<long long>(length),
                static_cast<long long>(tasks), seconds, ideal / seconds, driver / seconds,
                machine / seconds);
    std::fflush(stdout);
  }
  rayk::Shutdown();
  return 0;
}
