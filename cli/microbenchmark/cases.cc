// The cases of `rayk microbenchmark`: the workloads of Ray's `ray
// microbenchmark` (python/ray/_private/ray_perf.py), case by case, with its
// names (spaces and ':' as '_') and units. Ray Client's cases are left out.
//
// "Multi client" cases use actors or tasks that themselves submit work, as
// Ray's do. Every remote function and actor here is registered with
// RAYK_REMOTE in this library, which the workers load.
#include <rayk/api.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace rayk::microbenchmark {

namespace {

// Ray's np.zeros(100 * 1024 * 1024, dtype=np.int64): 800 MiB, counted as
// 0.8 "gigabytes" (Ray's multiplier), and a tenth of it for the multi-client case.
constexpr size_t kLargeElements = 100 * 1024 * 1024;
constexpr double kLargeGigabytes = 0.8;
constexpr size_t kMediumElements = 10 * 1024 * 1024;
constexpr double kMediumGigabytes = 0.08;

// Half the machine's cores (at least one), as Ray sizes its n:n cases.
int HalfTheCores() {
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / 2);
}

}  // namespace

// ---- remote functions and actors (run in the workers)

std::string SmallValue() { return "ok"; }

void PutSmallHundredTimes() {
  for (int i = 0; i < 100; ++i) rayk::Put(0);
}

void PutMediumTenTimes() {
  // One zeroed array per worker process: Ray's np.zeros costs next to nothing
  // (calloc'd pages), so filling a fresh one for every put would charge rayk
  // for work Ray does not do.
  static const std::vector<int64_t> zeros(kMediumElements);
  for (int i = 0; i < 10; ++i) rayk::Put(zeros);
}

std::vector<rayk::ObjectRef<int>> PutTenThousandSmall() {
  std::vector<rayk::ObjectRef<int>> refs;
  refs.reserve(10000);
  for (int i = 0; i < 10000; ++i) refs.push_back(rayk::Put(1));
  return refs;
}

// Submits n SmallValue tasks and waits for them all.
void SmallValueTasks(int n) {
  std::vector<rayk::ObjectRef<std::string>> refs;
  refs.reserve(n);
  for (int i = 0; i < n; ++i) refs.push_back(rayk::Task(SmallValue).Remote());
  rayk::Get(refs);
}

class Server {
 public:
  static Server* Create() { return new Server(); }
  std::string SmallValue() { return "ok"; }
  std::string SmallValueArg(int) { return "ok"; }
  // A driver-like actor: submits n tasks and waits for them.
  int SmallValueBatch(int n) {
    SmallValueTasks(n);
    return 0;
  }
};

// Ray's AsyncActor: an async actor (rayk/async.h), its methods coroutines
// that return at once.
class AsyncServer {
 public:
  static AsyncServer* Create() { return new AsyncServer(); }
  rayk::Async<std::string> SmallValue() { co_return "ok"; }
  rayk::Async<std::string> SmallValueWithArg(int) { co_return "ok"; }
};

// Calls n actor methods round robin over `servers` and waits for them all.
template <class S>
void CallServers(std::vector<rayk::ActorHandle<S>> servers, int n) {
  std::vector<rayk::ObjectRef<std::string>> refs;
  refs.reserve(n);
  for (int i = 0; i < n; ++i)
    refs.push_back(servers[i % servers.size()].Task(&S::SmallValue).Remote());
  rayk::Get(refs);
}

// A driver-like actor calling other actors (Servers or AsyncServers).
template <class S>
class ClientOf {
 public:
  explicit ClientOf(std::vector<rayk::ActorHandle<S>> servers) : servers_(std::move(servers)) {}
  static ClientOf* Create(std::vector<rayk::ActorHandle<S>> servers) {
    return new ClientOf(std::move(servers));
  }

  // n calls to each server.
  int SmallValueBatch(int n) {
    std::vector<rayk::ObjectRef<std::string>> refs;
    refs.reserve(n * servers_.size());
    for (const auto& server : servers_) {
      for (int i = 0; i < n; ++i) refs.push_back(server.Task(&S::SmallValue).Remote());
    }
    rayk::Get(refs);
    return 0;
  }
  // The same with a stored object as the argument.
  int SmallValueBatchArg(int n) {
    rayk::ObjectRef<int> x = rayk::Put(0);
    std::vector<rayk::ObjectRef<std::string>> refs;
    refs.reserve(n * servers_.size());
    for (const auto& server : servers_) {
      for (int i = 0; i < n; ++i) refs.push_back(server.Task(&S::SmallValueArg).Remote(x));
    }
    rayk::Get(refs);
    return 0;
  }

 private:
  std::vector<rayk::ActorHandle<S>> servers_;
};
using Client = ClientOf<Server>;
using AsyncClient = ClientOf<AsyncServer>;

RAYK_REMOTE(SmallValue, PutSmallHundredTimes, PutMediumTenTimes, PutTenThousandSmall,
            SmallValueTasks, CallServers<Server>, Server::Create, &Server::SmallValue,
            &Server::SmallValueArg, &Server::SmallValueBatch, Client::Create,
            &Client::SmallValueBatch, &Client::SmallValueBatchArg);
RAYK_REMOTE(CallServers<AsyncServer>, AsyncServer::Create, &AsyncServer::SmallValue,
            &AsyncServer::SmallValueWithArg, AsyncClient::Create, &AsyncClient::SmallValueBatch);

// ---- the cases (run in the driver)

namespace {

// n new Server actors. Actors live until the benchmark's job ends, as the
// actors of Ray's script do: killing an actor that still caches leases of
// workers for the tasks it submitted would leave those workers leased (the
// raylet releases the lease *of* a dead worker, not the leases it *holds*).
template <class S = Server>
std::vector<rayk::ActorHandle<S>> Servers(int n) {
  std::vector<rayk::ActorHandle<S>> servers;
  for (int i = 0; i < n; ++i) servers.push_back(rayk::Actor(S::Create).Remote());
  return servers;
}

template <class T>
void WaitAll(const std::vector<rayk::ObjectRef<T>>& refs) {
  rayk::Get(refs);
}

template <class F, class... A>
auto Submit(int n, F function, const A&... args) {
  std::vector<rayk::ObjectRef<typename rayk::TaskCaller<F>::Return>> refs;
  refs.reserve(n);
  for (int i = 0; i < n; ++i) refs.push_back(rayk::Task(function).Remote(args...));
  return refs;
}

// n calls of `method` on `actor`, passing each call the arguments `args(i)` makes.
template <class T, class M, class... A>
std::vector<rayk::ObjectRef<std::string>> CallMany(const rayk::ActorHandle<T>& actor, M method,
                                                   int n, const A&... args) {
  std::vector<rayk::ObjectRef<std::string>> refs;
  refs.reserve(n);
  for (int i = 0; i < n; ++i) refs.push_back(actor.Task(method).Remote(args(i)...));
  return refs;
}

void SingleClientGetCalls(Timer& timer) {
  rayk::ObjectRef<int> value = rayk::Put(0);
  timer.Run(1, [&] { rayk::Get(value); });
}

void SingleClientPutCalls(Timer& timer) {
  timer.Run(1, [] { rayk::Put(0); });
}

void MultiClientPutCalls(Timer& timer) {
  timer.Run(1000, [] { WaitAll(Submit(10, PutSmallHundredTimes)); });
}

void SingleClientPutGigabytes(Timer& timer) {
  std::vector<int64_t> zeros(kLargeElements);
  timer.Run(kLargeGigabytes, [&] { rayk::Put(zeros); });
}

// Not one of Ray's: the same 800 MiB array written in place in the store
// (rayk::Create, then Seal) instead of copied in by Put, so the producer's
// one pass over the bytes (here filling zeros) is the whole cost.
void SingleClientCreateGigabytes(Timer& timer) {
  timer.Run(kLargeGigabytes, [] {
    rayk::ObjectWriter<std::vector<int64_t>> writer =
        rayk::Create<std::vector<int64_t>>(kLargeElements);
    std::fill(writer.begin(), writer.end(), int64_t{0});
    std::move(writer).Seal();
  });
}

void SingleClientTasksAndGetBatch(Timer& timer) {
  timer.Run(1, [] { WaitAll(Submit(1000, SmallValue)); });
}

void MultiClientPutGigabytes(Timer& timer) {
  timer.Run(10 * 10 * kMediumGigabytes, [] { WaitAll(Submit(10, PutMediumTenTimes)); });
}

void SingleClientGetObjectContaining10kRefs(Timer& timer) {
  auto object = rayk::Task(PutTenThousandSmall).Remote();
  timer.Run(1, [&] { rayk::Get(object); });
}

void SingleClientWait1kRefs(Timer& timer) {
  timer.Run(1, [] {
    std::vector<rayk::ObjectRef<std::string>> not_ready = Submit(1000, SmallValue);
    // Ray's wait hands back exactly num_returns ready refs; rayk::Wait hands
    // back every ready one, so take one of them to make the same 1000 calls.
    while (!not_ready.empty()) {
      auto result = rayk::Wait(not_ready, 1);
      not_ready = std::move(result.unready);
      not_ready.insert(not_ready.end(), result.ready.begin() + 1, result.ready.end());
    }
  });
}

void SingleClientTasksSync(Timer& timer) {
  timer.Run(1, [] { rayk::Get(rayk::Task(SmallValue).Remote()); });
}

void SingleClientTasksAsync(Timer& timer) {
  timer.Run(1000, [] { WaitAll(Submit(1000, SmallValue)); });
}

void MultiClientTasksAsync(Timer& timer) {
  constexpr int kTasks = 10000, kClients = 4;
  std::vector<rayk::ActorHandle<Server>> clients = Servers(kClients);
  timer.Run(kTasks * kClients, [&] {
    std::vector<rayk::ObjectRef<int>> refs;
    for (const auto& client : clients)
      refs.push_back(client.Task(&Server::SmallValueBatch).Remote(kTasks));
    WaitAll(refs);
  });
}

void ActorCallsSync(Timer& timer) {
  rayk::ActorHandle<Server> server = Servers(1)[0];
  timer.Run(1, [&] { rayk::Get(server.Task(&Server::SmallValue).Remote()); });
}

void ActorCallsAsync(Timer& timer) {
  rayk::ActorHandle<Server> server = Servers(1)[0];
  timer.Run(1000, [&] { WaitAll(CallMany(server, &Server::SmallValue, 1000)); });
}

void ActorCallsConcurrent(Timer& timer) {
  auto server = rayk::Actor(Server::Create).SetMaxConcurrency(16).Remote();
  timer.Run(1000, [&] { WaitAll(CallMany(server, &Server::SmallValue, 1000)); });
}

template <class S>
void OneToNCallsAsync(Timer& timer) {
  constexpr int kCalls = 5000;
  std::vector<rayk::ActorHandle<S>> servers = Servers<S>(HalfTheCores());
  auto client = rayk::Actor(ClientOf<S>::Create).Remote(servers);
  timer.Run(kCalls * servers.size(),
            [&] { rayk::Get(client.Task(&ClientOf<S>::SmallValueBatch).Remote(kCalls)); });
}

template <class S>
void NToNCallsAsync(Timer& timer) {
  constexpr int kCalls = 5000, kCallers = 4;
  std::vector<rayk::ActorHandle<S>> servers = Servers<S>(HalfTheCores());
  timer.Run(kCalls * kCallers, [&] { WaitAll(Submit(kCallers, CallServers<S>, servers, kCalls)); });
}

void NToNActorCallsWithArgAsync(Timer& timer) {
  constexpr int kCalls = 1000;
  std::vector<rayk::ActorHandle<Client>> clients;
  for (const auto& server : Servers(HalfTheCores())) {
    clients.push_back(rayk::Actor(Client::Create).Remote(std::vector{server}));
  }
  timer.Run(kCalls * clients.size(), [&] {
    std::vector<rayk::ObjectRef<int>> refs;
    for (const auto& client : clients)
      refs.push_back(client.Task(&Client::SmallValueBatchArg).Remote(kCalls));
    WaitAll(refs);
  });
}

// Ray's async-actor cases: one AsyncServer per case, as Ray makes a new AsyncActor.
void AsyncActorCallsSync(Timer& timer) {
  rayk::ActorHandle<AsyncServer> server = Servers<AsyncServer>(1)[0];
  timer.Run(1, [&] { rayk::Get(server.Task(&AsyncServer::SmallValue).Remote()); });
}

void AsyncActorCallsAsync(Timer& timer) {
  rayk::ActorHandle<AsyncServer> server = Servers<AsyncServer>(1)[0];
  timer.Run(1000, [&] { WaitAll(CallMany(server, &AsyncServer::SmallValue, 1000)); });
}

void AsyncActorCallsWithArgsAsync(Timer& timer) {
  rayk::ActorHandle<AsyncServer> server = Servers<AsyncServer>(1)[0];
  timer.Run(1000, [&] {
    WaitAll(CallMany(server, &AsyncServer::SmallValueWithArg, 1000, [](int i) { return i; }));
  });
}

// Ray's case: 100 groups of one tiny bundle created, waited for, removed.
void PlacementGroupCreateRemoval(Timer& timer) {
  constexpr int kGroups = 100;
  timer.Run(kGroups, [] {
    std::vector<rayk::PlacementGroup> groups;
    groups.reserve(kGroups);
    for (int i = 0; i < kGroups; ++i)
      groups.push_back(rayk::CreatePlacementGroup({.bundles = {{{"CPU", 0.001}}}}));
    for (const auto& group : groups) {
      if (!group.Wait(std::chrono::seconds(30)))
        throw rayk::RuntimeError("a placement group was not placed within 30 s");
    }
    for (const auto& group : groups) rayk::RemovePlacementGroup(group);
  });
}

}  // namespace

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      {"single_client_get_calls", "per second", SingleClientGetCalls},
      {"single_client_put_calls", "per second", SingleClientPutCalls},
      {"multi_client_put_calls", "per second", MultiClientPutCalls},
      {"single_client_put_gigabytes", "gigabytes per second", SingleClientPutGigabytes},
      {"single_client_create_gigabytes", "gigabytes per second", SingleClientCreateGigabytes},
      {"single_client_tasks_and_get_batch", "per second", SingleClientTasksAndGetBatch},
      {"multi_client_put_gigabytes", "gigabytes per second", MultiClientPutGigabytes},
      {"single_client_get_object_containing_10k_refs", "per second",
       SingleClientGetObjectContaining10kRefs},
      {"single_client_wait_1k_refs", "per second", SingleClientWait1kRefs},
      {"single_client_tasks_sync", "per second", SingleClientTasksSync},
      {"single_client_tasks_async", "per second", SingleClientTasksAsync},
      {"multi_client_tasks_async", "per second", MultiClientTasksAsync},
      {"1_1_actor_calls_sync", "per second", ActorCallsSync},
      {"1_1_actor_calls_async", "per second", ActorCallsAsync},
      {"1_1_actor_calls_concurrent", "per second", ActorCallsConcurrent},
      {"1_n_actor_calls_async", "per second", OneToNCallsAsync<Server>},
      {"n_n_actor_calls_async", "per second", NToNCallsAsync<Server>},
      {"n_n_actor_calls_with_arg_async", "per second", NToNActorCallsWithArgAsync},
      {"1_1_async_actor_calls_sync", "per second", AsyncActorCallsSync},
      {"1_1_async_actor_calls_async", "per second", AsyncActorCallsAsync},
      {"1_1_async_actor_calls_with_args_async", "per second", AsyncActorCallsWithArgsAsync},
      {"1_n_async_actor_calls_async", "per second", OneToNCallsAsync<AsyncServer>},
      {"n_n_async_actor_calls_async", "per second", NToNCallsAsync<AsyncServer>},
      {"placement_group_create_removal", "per second", PlacementGroupCreateRemoval},
  };
  return cases;
}

}  // namespace rayk::microbenchmark
