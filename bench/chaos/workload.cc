#include "workload.h"

#include <rayk/api.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "core_worker/core_worker.h"

namespace rayk::chaos {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kFanIn = 4;
constexpr size_t kTableSize = 256;

void Work(int64_t work_us) {
  if (work_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(work_us));
}

size_t Count(int64_t bytes) { return static_cast<size_t>(std::max<int64_t>(bytes, 8) / 8); }

Values MapValues(int64_t i, int64_t bytes) {
  Values out(Count(bytes));
  for (size_t k = 0; k < out.size(); ++k) out[k] = Mix(static_cast<uint64_t>(i) * 1000003 + k);
  return out;
}

// The number of tasks of the level above `width` results.
int Parents(int width) { return (width + kFanIn - 1) / kFanIn; }

int TreeTasks(int map_tasks) {
  int total = map_tasks;
  for (int width = map_tasks; width > 1; width = Parents(width)) total += Parents(width);
  return total;
}

// What the tree's root must be: the same functions, run here.
Values ExpectedRoot(int map_tasks, int64_t map_bytes, int64_t reduce_bytes) {
  std::vector<Values> level;
  level.reserve(map_tasks);
  for (int i = 0; i < map_tasks; ++i) level.push_back(MapValues(i, map_bytes));
  const Values empty;
  while (level.size() > 1) {
    std::vector<Values> next;
    for (size_t g = 0; g < level.size(); g += kFanIn) {
      auto at = [&](size_t k) -> const Values& { return k < level.size() ? level[k] : empty; };
      next.push_back(Reduce4(at(g), at(g + 1), at(g + 2), at(g + 3), reduce_bytes));
    }
    level = std::move(next);
  }
  return level.empty() ? Values{} : level[0];
}

uint64_t ActorSeed(int actor) { return Mix(0xc4a05 + static_cast<uint64_t>(actor)); }

// Records the first error of the run; safe from both of its threads.
class FirstError {
 public:
  void Set(const std::string& error) {
    std::lock_guard<std::mutex> lock(mu_);
    if (error_.empty()) error_ = error;
  }
  std::string Get() {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

 private:
  std::mutex mu_;
  std::string error_;
};

std::chrono::milliseconds Left(Clock::time_point deadline) {
  return std::max(std::chrono::milliseconds(1),
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
}

// Sends every call at once (calls to one actor run in the order sent; each
// actor works through its share while the tree runs), then checks the
// answers in order.
void RunCalls(const std::vector<ActorHandle<ChaosActor>>& actors, const WorkloadOptions& options,
              Clock::time_point deadline, std::atomic<int>& checked, std::atomic<int>& wrong,
              FirstError& error) {
  std::vector<ObjectRef<uint64_t>> answers;
  std::vector<uint64_t> expected;
  answers.reserve(options.calls);
  expected.reserve(options.calls);
  std::vector<ChaosActor> local;
  for (size_t a = 0; a < actors.size(); ++a) local.emplace_back(ActorSeed(static_cast<int>(a)));
  for (int call = 0; call < options.calls && !actors.empty(); ++call) {
    const size_t a = static_cast<size_t>(call) % actors.size();
    const uint64_t x = static_cast<uint64_t>(call);
    answers.push_back(actors[a].Task(&ChaosActor::Call).Remote(x, options.call_work_us));
    expected.push_back(local[a].Call(x, 0));
  }
  for (size_t call = 0; call < answers.size(); ++call) {
    try {
      const uint64_t answer = *Get(answers[call], Left(deadline));
      if (answer == expected[call]) {
        ++checked;
      } else if (wrong++ == 0) {
        error.Set("actor call " + std::to_string(call) + " answered " + std::to_string(answer) +
                  ", not " + std::to_string(expected[call]));
      }
    } catch (const GetTimeoutError&) {
      error.Set("hang: actor call " + std::to_string(call) + " (of actor " +
                std::to_string(call % actors.size()) + ") had no answer by the deadline");
      return;
    } catch (const std::exception& e) {
      error.Set("actor call " + std::to_string(call) + " failed: " + e.what());
      return;
    }
  }
}

}  // namespace

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

Values Map(int64_t i, int64_t bytes, int64_t work_us) {
  Work(work_us);
  return MapValues(i, bytes);
}

Values Reduce4(const Values& a, const Values& b, const Values& c, const Values& d, int64_t bytes) {
  Values out(Count(bytes), 0);
  for (const Values* in : {&a, &b, &c, &d}) {
    if (in->empty()) continue;
    for (size_t k = 0; k < out.size(); ++k) out[k] += (*in)[k % in->size()];
  }
  return out;
}

ChaosActor::ChaosActor(uint64_t seed) : seed_(seed), table_(kTableSize) {
  for (size_t j = 0; j < table_.size(); ++j) table_[j] = Mix(seed ^ (j << 32));
}

ChaosActor* ChaosActor::Create(uint64_t seed) { return new ChaosActor(seed); }

uint64_t ChaosActor::Call(uint64_t x, int64_t work_us) {
  Work(work_us);
  return Mix(seed_ ^ table_[x % table_.size()] ^ (x << 1));
}

int MapTasksFor(int tasks) {
  int map_tasks = std::max(1, tasks * (kFanIn - 1) / kFanIn);
  while (map_tasks > 1 && TreeTasks(map_tasks) > tasks) --map_tasks;
  while (TreeTasks(map_tasks + 1) <= tasks) ++map_tasks;
  return map_tasks;
}

WorkloadResult RunWorkload(const WorkloadOptions& options) {
  WorkloadResult result;
  auto* core = dynamic_cast<CoreWorker*>(internal::CurrentRuntime());
  if (core == nullptr) {
    result.error = "RunWorkload needs a driver: call rayk::Init first";
    return result;
  }
  const FaultCounters& faults = core->faults();
  const uint64_t task_retries = faults.task_retries;
  const uint64_t call_retries = faults.actor_call_retries;
  const uint64_t reconstructed = faults.objects_reconstructed;

  result.map_tasks = MapTasksFor(options.tasks);
  result.reduce_tasks = TreeTasks(result.map_tasks) - result.map_tasks;
  const Values expected_root =
      ExpectedRoot(result.map_tasks, options.map_bytes, options.reduce_bytes);

  const auto start = Clock::now();
  const auto deadline = start + options.deadline;
  FirstError error;
  std::atomic<int> checked{0};
  std::atomic<int> wrong{0};
  std::vector<ActorHandle<ChaosActor>> actors;
  std::thread calls;
  try {
    for (int a = 0; a < options.actors; ++a) {
      actors.push_back(
          Actor(ChaosActor::Create).SetMaxRestarts(-1).SetMaxTaskRetries(-1).Remote(ActorSeed(a)));
    }
    calls = std::thread([&] { RunCalls(actors, options, deadline, checked, wrong, error); });

    std::vector<ObjectRef<Values>> level;
    level.reserve(result.map_tasks);
    for (int i = 0; i < result.map_tasks; ++i) {
      level.push_back(Task(Map).SetMaxRetries(-1).Remote(static_cast<int64_t>(i), options.map_bytes,
                                                         options.task_work_us));
    }
    // Short groups are filled with an empty vector, which adds nothing.
    const ObjectRef<Values> empty = Put(Values{});
    while (level.size() > 1) {
      std::vector<ObjectRef<Values>> next;
      for (size_t g = 0; g < level.size(); g += kFanIn) {
        auto at = [&](size_t k) { return k < level.size() ? level[k] : empty; };
        next.push_back(Task(Reduce4).SetMaxRetries(-1).Remote(at(g), at(g + 1), at(g + 2),
                                                              at(g + 3), options.reduce_bytes));
      }
      level = std::move(next);
    }
    // The driver lets go of every ref but the root's: what the root needs is
    // held by the tasks (and their lineage) alone, as in a real job.
    const ObjectRef<Values> root = level[0];
    level.clear();
    auto value = Get(root, Left(deadline));
    result.root_right = *value == expected_root;
    if (!result.root_right) error.Set("the tree's root is wrong");
  } catch (const GetTimeoutError&) {
    error.Set("hang: the tree's root had no value by the deadline");
  } catch (const std::exception& e) {
    error.Set(std::string("the tree failed: ") + e.what());
  }
  if (calls.joinable()) calls.join();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.calls_checked = checked;
  result.calls_wrong = wrong;
  if (result.calls_checked != options.calls) {
    error.Set(std::to_string(options.calls - result.calls_checked) + " of " +
              std::to_string(options.calls) + " actor calls had no right answer");
  }

  result.task_retries = faults.task_retries - task_retries;
  result.actor_call_retries = faults.actor_call_retries - call_retries;
  result.objects_reconstructed = faults.objects_reconstructed - reconstructed;
  if (auto listed = core->ListActors(); listed.ok()) {
    for (const protocol::ActorInfo& info : *listed) {
      for (const auto& actor : actors) {
        if (actor.ID() == info.actor_id) result.actor_restarts += info.restarts;
      }
    }
  } else {
    error.Set("rayk list actors failed: " + listed.status().message());
  }
  result.error = error.Get();
  result.ok = result.error.empty();
  return result;
}

}  // namespace rayk::chaos

RAYK_REMOTE(rayk::chaos::Map, rayk::chaos::Reduce4, rayk::chaos::ChaosActor::Create,
            &rayk::chaos::ChaosActor::Call);
