#include "sim/simulator.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <limits>
#include <queue>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/lease_policy.h"

namespace rayk::sim {

namespace {

using Clock = std::chrono::steady_clock;
using Kind = SchedulingDecision::Kind;

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

double Seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

// splitmix64: node ids from the seed, random-looking (as real ones are) and
// the same on every run.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

NodeId MakeNodeId(uint64_t seed, size_t index) {
  uint64_t words[2] = {Mix(seed * 0x100000001b3ULL + index), Mix(Mix(seed) ^ index)};
  return NodeId::FromBinary(std::string_view(reinterpret_cast<const char*>(words), sizeof(words)));
}

enum class EventKind : uint8_t { kTaskDone, kLeaseIdle, kActorDone, kReport };

struct Event {
  double time;
  uint64_t seq;  // equal times run in the order they were scheduled
  EventKind kind;
  uint32_t a = 0;
  uint32_t b = 0;
  bool operator>(const Event& o) const { return time != o.time ? time > o.time : seq > o.seq; }
};

// An owner's queue of one scheduling class and the leases it holds.
struct OwnerClass {
  int32_t owner = 0;
  uint32_t demand_class = 0;
  std::deque<uint32_t> queue;  // tasks waiting for a worker
  std::vector<uint32_t> idle;  // leases with nothing to run
  int lease_requests = 0;      // outstanding
};

struct Lease {
  uint32_t owner_class = 0;
  int32_t node = 0;
  uint32_t task = kNone;  // running, or kNone when idle
  uint32_t idle_pos = 0;  // its index in OwnerClass::idle while idle
  uint32_t stamp = 0;     // bumped whenever the lease is used, so stale idle timers do nothing
  bool live = false;
};

struct LeaseRequest {
  uint32_t owner_class = 0;
  SchedulingRequest request;
  uint32_t spillbacks = 0;    // how often raylets forwarded it
  uint64_t arrival_view = 0;  // the view's version when it came to its raylet
  bool warned = false;        // counted as infeasible once
};

// A slot of `items`: one given back to `free`, else a new one.
template <typename T>
uint32_t Allocate(std::vector<T>& items, std::vector<uint32_t>& free) {
  if (free.empty()) {
    items.emplace_back();
    return static_cast<uint32_t>(items.size() - 1);
  }
  uint32_t id = free.back();
  free.pop_back();
  return id;
}

struct NodeState {
  ResourceSet available;  // the truth; the view has it as of the last report
  bool alive = true;
  bool reported = true;           // the view has the current `available`
  std::vector<uint32_t> pending;  // lease requests waiting at this raylet
  std::vector<uint32_t> actors;   // actors running here
  std::vector<uint32_t> leases;   // leases granted here
  std::vector<double> totals;     // per resource index
};

struct TaskState {
  uint32_t attempt = 0;
  float wait = -1;      // seconds from arrival to start; -1 until it starts
  int32_t node = -1;    // an actor's node while it runs
  bool warned = false;  // an actor counted as infeasible
};

class Simulation {
 public:
  // `schedulers`: one per node, then the GCS's.
  Simulation(const Workload& w, std::vector<std::shared_ptr<Scheduler>> schedulers,
             const SimOptions& options)
      : w_(w), schedulers_(std::move(schedulers)), options_(options), tasks_(w.tasks.size()) {
    BuildNodes();
    for (const DemandClass& c : w_.classes) {
      SchedulingRequest r;
      r.demand = c.demand;
      r.strategy = c.strategy;
      if (c.affinity_node >= 0) r.affinity_node = ids_[c.affinity_node];
      r.affinity_soft = c.affinity_soft;
      r.label_selector = c.label_selector;
      base_requests_.push_back(std::move(r));
      std::vector<std::pair<size_t, double>> amounts;
      for (const auto& [name, amount] : c.demand.amounts())
        amounts.push_back({Resource(name), amount});
      class_amounts_.push_back(std::move(amounts));
    }
    used_.assign(resource_names_.size(), 0);
    area_.assign(resource_names_.size(), 0);
  }

  SimResult Run() {
    const Clock::time_point start = Clock::now();
    Push(report_period_, EventKind::kReport, 0, 0);
    size_t next_task = 0;
    size_t next_failure = 0;
    while (true) {
      double t_task = next_task < w_.tasks.size() ? w_.tasks[next_task].arrival : kNever;
      double t_fail = next_failure < w_.failures.size() ? w_.failures[next_failure].time : kNever;
      double t_event = events_.empty() ? kNever : events_.top().time;
      double t = std::min({t_task, t_fail, t_event});
      if (t == kNever) break;
      AdvanceTo(t);
      if (t_fail == t) {
        FailNode(w_.failures[next_failure++].node);
      } else if (t_task == t) {
        Arrive(static_cast<uint32_t>(next_task++));
      } else {
        Event e = events_.top();
        events_.pop();
        Handle(e, next_task == w_.tasks.size() && next_failure == w_.failures.size());
      }
      DrainOwners();
    }
    return Finish(Seconds(Clock::now() - start));
  }

 private:
  static constexpr double kNever = std::numeric_limits<double>::infinity();

  size_t Resource(const std::string& name) {
    auto [it, inserted] = resource_index_.try_emplace(name, resource_names_.size());
    if (inserted) {
      resource_names_.push_back(name);
      alive_total_.push_back(0);
      for (NodeState& n : nodes_) n.totals.push_back(0);
    }
    return it->second;
  }

  void BuildNodes() {
    nodes_.resize(w_.nodes.size());
    std::vector<size_t> order(w_.nodes.size());
    for (size_t i = 0; i < w_.nodes.size(); ++i) {
      ids_.push_back(w_.nodes[i].id.IsNil() ? MakeNodeId(options_.seed, i) : w_.nodes[i].id);
      index_of_[ids_[i]] = static_cast<int32_t>(i);
      order[i] = i;
    }
    // The view lists nodes in id order, as the raylet's map of them does.
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ids_[a] < ids_[b]; });
    position_.resize(w_.nodes.size());
    for (size_t p = 0; p < order.size(); ++p) {
      size_t i = order[p];
      const NodeSpec& spec = w_.nodes[i];
      NodeView v;
      v.node_id = ids_[i];
      v.address = "sim://" + spec.name;
      v.total = spec.resources;
      v.available = spec.resources;
      v.labels = spec.labels;
      view_.nodes.push_back(std::move(v));
      position_[i] = p;
      nodes_[i].available = spec.resources;
      for (const auto& [name, amount] : spec.resources.amounts()) {
        size_t r = Resource(name);
        nodes_[i].totals[r] = amount;
        alive_total_[r] += amount;
      }
    }
    view_.version = 1;
    local_view_.nodes.resize(1);
  }

  void Push(double time, EventKind kind, uint32_t a, uint32_t b) {
    events_.push(Event{time, next_seq_++, kind, a, b});
  }

  // Integrates utilisation up to `t`.
  void AdvanceTo(double t) {
    double dt = t - now_;
    if (dt > 0) {
      for (size_t r = 0; r < used_.size(); ++r) {
        if (alive_total_[r] > 0) area_[r] += dt * used_[r] / alive_total_[r];
      }
    }
    now_ = t;
  }

  void Take(int32_t node, uint32_t demand_class, bool take) {
    NodeState& n = nodes_[node];
    if (take) {
      n.available.Subtract(w_.classes[demand_class].demand);
    } else {
      n.available.Add(w_.classes[demand_class].demand);
    }
    for (const auto& [r, amount] : class_amounts_[demand_class])
      used_[r] += take ? amount : -amount;
    n.reported = false;
  }

  // ------------------------------------------------------------ asking the plugin

  // `asker`: the node whose raylet asks, or -1 for the GCS.
  SchedulingDecision Ask(const SchedulingRequest& request, const ClusterView& view, int32_t asker) {
    ++scheduler_calls_;
    Scheduler& scheduler = *schedulers_[asker < 0 ? nodes_.size() : static_cast<size_t>(asker)];
    Clock::time_point start = Clock::now();
    SchedulingDecision d = scheduler.Schedule(request, view);
    decision_time_ += Clock::now() - start;
    return d;
  }

  NodeView Exact(int32_t node) const {
    NodeView v = view_.nodes[position_[node]];
    v.available = nodes_[node].available;
    v.queue_length = static_cast<uint32_t>(nodes_[node].pending.size());
    return v;
  }

  // The raylet of `node` asks with its whole view: itself first and exact,
  // the others as last reported. Patches the shared view in place and puts
  // it back, so no request copies the cluster.
  SchedulingDecision AskAsRaylet(const SchedulingRequest& request, int32_t node) {
    size_t p = position_[node];
    NodeView& self = view_.nodes[p];
    ResourceSet reported = std::move(self.available);
    uint32_t reported_queue = self.queue_length;
    self.available = nodes_[node].available;
    self.queue_length = static_cast<uint32_t>(nodes_[node].pending.size());
    std::swap(view_.nodes[0], view_.nodes[p]);
    view_.local_node = ids_[node];
    SchedulingDecision d = Ask(request, view_, node);
    std::swap(view_.nodes[0], view_.nodes[p]);
    self.available = std::move(reported);
    self.queue_length = reported_queue;
    return d;
  }

  // A forwarded request: the raylet asks with a view of its own node only.
  SchedulingDecision AskLocalOnly(const SchedulingRequest& request, int32_t node) {
    local_view_.nodes[0] = Exact(node);
    local_view_.local_node = ids_[node];
    local_view_.version = view_.version;
    return Ask(request, local_view_, node);
  }

  // The node a decision names, or -1 (a bad decision) when it is not an alive
  // node of the cluster.
  int32_t Target(const SchedulingDecision& d) {
    auto it = index_of_.find(d.node);
    if (it == index_of_.end() || !nodes_[it->second].alive) {
      ++bad_decisions_;
      return -1;
    }
    return it->second;
  }

  // ------------------------------------------------------------ raylets

  // Raylet `node` decides about lease request `id` (in no pending list):
  // grants it, spills it to another raylet, or keeps it waiting.
  void ScheduleLease(uint32_t id, int32_t node, uint32_t spillbacks) {
    LeaseRequest& lr = requests_[id];
    SchedulingDecision d = Decide(lr, node, spillbacks);
    if (d.kind == Kind::kInfeasible && !lr.warned) {
      lr.warned = true;
      ++infeasible_;
    }
    if (d.kind == Kind::kNode) {
      int32_t target = Target(d);
      uint32_t demand_class = owner_classes_[lr.owner_class].demand_class;
      if (target == node) {
        if (nodes_[node].available.Contains(w_.classes[demand_class].demand)) {
          Grant(id, node);
          return;
        }
        ++bad_decisions_;  // the policy chose a node that cannot fit it now
      } else if (target >= 0 && spillbacks < kMaxSpillbacks) {
        ++spillbacks_;
        lr.arrival_view = view_.version;
        ScheduleLease(id, target, spillbacks + 1);
        return;
      }
    }
    lr.spillbacks = spillbacks;
    nodes_[node].pending.push_back(id);
  }

  // What raylet `node` asks about a request that raylets forwarded
  // `spillbacks` times, as Raylet::ForwardedLeaseDecisionLocked does: a
  // forwarded request stays if this node can ever fit it, but while it must
  // wait it moves on when a view newer than the one it came with shows a
  // node with room now, within kMaxSpillbacks hops.
  SchedulingDecision Decide(const LeaseRequest& lr, int32_t node, uint32_t spillbacks) {
    const SchedulingRequest& request = lr.request;
    if (spillbacks == 0) return AskAsRaylet(request, node);
    SchedulingDecision local = AskLocalOnly(request, node);
    if (local.kind == Kind::kInfeasible) return AskAsRaylet(request, node);
    if (local.kind != Kind::kWait || spillbacks >= kMaxSpillbacks ||
        view_.version <= lr.arrival_view) {
      return local;
    }
    SchedulingDecision elsewhere = AskAsRaylet(request, node);
    if (elsewhere.kind != Kind::kNode) return local;
    auto it = index_of_.find(elsewhere.node);
    bool room = it != index_of_.end() && it->second != node && nodes_[it->second].alive &&
                view_.nodes[position_[it->second]].available.Contains(request.demand);
    return room ? elsewhere : local;
  }

  // Asks again about every request waiting at `node`.
  void DispatchRaylet(int32_t node) {
    if (nodes_[node].pending.empty() || !nodes_[node].alive) return;
    std::vector<uint32_t> waiting;
    waiting.swap(nodes_[node].pending);
    for (uint32_t id : waiting) ScheduleLease(id, node, requests_[id].spillbacks);
  }

  void Grant(uint32_t request_id, int32_t node) {
    uint32_t oc = requests_[request_id].owner_class;
    free_requests_.push_back(request_id);
    OwnerClass& c = owner_classes_[oc];
    --c.lease_requests;
    Take(node, c.demand_class, true);
    uint32_t id = Allocate(leases_, free_leases_);
    Lease& lease = leases_[id];
    lease.owner_class = oc;
    lease.node = node;
    lease.task = kNone;
    lease.live = true;
    ++lease.stamp;
    nodes_[node].leases.push_back(id);
    MakeIdle(id);
    dirty_owners_.push_back(oc);
  }

  void MakeIdle(uint32_t id) {
    Lease& lease = leases_[id];
    OwnerClass& c = owner_classes_[lease.owner_class];
    lease.task = kNone;
    lease.idle_pos = static_cast<uint32_t>(c.idle.size());
    c.idle.push_back(id);
    Push(now_ + idle_time_, EventKind::kLeaseIdle, id, lease.stamp);
  }

  void RemoveIdle(uint32_t id) {
    Lease& lease = leases_[id];
    std::vector<uint32_t>& idle = owner_classes_[lease.owner_class].idle;
    uint32_t last = idle.back();
    idle[lease.idle_pos] = last;
    leases_[last].idle_pos = lease.idle_pos;
    idle.pop_back();
  }

  // Returns a lease to its raylet, whose waiting requests may now fit.
  void ReturnLease(uint32_t id) {
    Lease& lease = leases_[id];
    lease.live = false;
    ++lease.stamp;
    int32_t node = lease.node;
    Take(node, owner_classes_[lease.owner_class].demand_class, false);
    std::vector<uint32_t>& on_node = nodes_[node].leases;
    on_node.erase(std::find(on_node.begin(), on_node.end(), id));
    free_leases_.push_back(id);
    DispatchRaylet(node);
  }

  // ------------------------------------------------------------ owners

  uint32_t OwnerClassOf(int32_t owner, uint32_t demand_class) {
    uint64_t key = (static_cast<uint64_t>(owner) << 32) | demand_class;
    auto [it, inserted] = owner_class_index_.try_emplace(key, owner_classes_.size());
    if (inserted) {
      OwnerClass c;
      c.owner = owner;
      c.demand_class = demand_class;
      owner_classes_.push_back(std::move(c));
    }
    return it->second;
  }

  void Arrive(uint32_t task) {
    const Task& t = w_.tasks[task];
    if (t.actor) {
      ++lease_requests_;
      gcs_pending_.push_back(task);
      PlaceActors();
      return;
    }
    if (!nodes_[t.owner].alive) return;  // its driver is gone: never runs
    uint32_t oc = OwnerClassOf(t.owner, t.demand_class);
    owner_classes_[oc].queue.push_back(task);
    DispatchOwner(oc);
  }

  // Runs queued tasks on idle leases and asks for more leases, as
  // TaskSubmitter::DispatchLocked does.
  void DispatchOwner(uint32_t oc) {
    while (true) {
      OwnerClass& c = owner_classes_[oc];
      while (!c.queue.empty() && !c.idle.empty()) {
        uint32_t lease = c.idle.back();
        c.idle.pop_back();
        uint32_t task = c.queue.front();
        c.queue.pop_front();
        Start(lease, task);
      }
      int wanted = std::min<int>(static_cast<int>(c.queue.size()), kMaxLeaseRequests);
      if (c.lease_requests >= wanted || !nodes_[c.owner].alive) return;
      ++c.lease_requests;
      RequestLease(oc);
    }
  }

  void RequestLease(uint32_t oc) {
    uint32_t id = Allocate(requests_, free_requests_);
    const OwnerClass& c = owner_classes_[oc];
    LeaseRequest& lr = requests_[id];
    lr.owner_class = oc;
    lr.warned = false;
    lr.arrival_view = view_.version;
    lr.request = base_requests_[c.demand_class];
    // Locality as Ray's lease policy has it: where the next task's arguments are.
    const Task& front = w_.tasks[c.queue.front()];
    for (uint32_t i = 0; i < front.arg_count; ++i) {
      const Argument& arg = w_.args[front.first_arg + i];
      lr.request.argument_bytes[ids_[arg.node]] += arg.bytes;
    }
    ++lease_requests_;
    ScheduleLease(id, c.owner, 0);
  }

  void Start(uint32_t lease_id, uint32_t task) {
    Lease& lease = leases_[lease_id];
    ++lease.stamp;
    lease.task = task;
    const Task& t = w_.tasks[task];
    tasks_[task].wait = static_cast<float>(now_ - t.arrival);
    tasks_[task].node = lease.node;
    double pull = 0;
    for (uint32_t i = 0; i < t.arg_count; ++i) {
      const Argument& arg = w_.args[t.first_arg + i];
      if (arg.node != lease.node) {
        bytes_moved_ += arg.bytes;
        pull += static_cast<double>(arg.bytes) / options_.bandwidth;
      }
    }
    Push(now_ + pull + t.duration, EventKind::kTaskDone, lease_id, tasks_[task].attempt);
  }

  void DrainOwners() {
    while (!dirty_owners_.empty()) {
      uint32_t oc = dirty_owners_.back();
      dirty_owners_.pop_back();
      DispatchOwner(oc);
    }
  }

  // ------------------------------------------------------------ actors (the GCS)

  void PlaceActors() {
    std::vector<uint32_t> waiting;
    waiting.swap(gcs_pending_);
    view_.local_node = NodeId::Nil();
    for (uint32_t task : waiting) {
      const Task& t = w_.tasks[task];
      SchedulingDecision d = Ask(base_requests_[t.demand_class], view_, -1);
      if (d.kind == Kind::kNode) {
        int32_t node = Target(d);
        // The view may be stale: the raylet then makes it wait, here until a report.
        if (node >= 0 && nodes_[node].available.Contains(w_.classes[t.demand_class].demand)) {
          Take(node, t.demand_class, true);
          tasks_[task].wait = static_cast<float>(now_ - t.arrival);
          nodes_[node].actors.push_back(task);
          tasks_[task].node = node;
          Push(now_ + t.duration, EventKind::kActorDone, task, tasks_[task].attempt);
          continue;
        }
      } else if (d.kind == Kind::kInfeasible && !tasks_[task].warned) {
        tasks_[task].warned = true;
        ++infeasible_;
      }
      gcs_pending_.push_back(task);
    }
  }

  // ------------------------------------------------------------ events

  void Handle(const Event& e, bool arrivals_over) {
    switch (e.kind) {
      case EventKind::kTaskDone: {
        Lease& lease = leases_[e.a];
        if (!lease.live || lease.task == kNone || tasks_[lease.task].attempt != e.b) return;
        Finished();
        uint32_t owner_class = lease.owner_class;
        if (options_.lease_reuse) {
          MakeIdle(e.a);
        } else {
          lease.task = kNone;
          ReturnLease(e.a);
        }
        DispatchOwner(owner_class);
        return;
      }
      case EventKind::kLeaseIdle: {
        Lease& lease = leases_[e.a];
        if (!lease.live || lease.stamp != e.b || lease.task != kNone) return;
        RemoveIdle(e.a);
        ReturnLease(e.a);
        return;
      }
      case EventKind::kActorDone: {
        const Task& t = w_.tasks[e.a];
        if (tasks_[e.a].attempt != e.b) return;  // restarted elsewhere meanwhile
        Finished();
        int32_t node = tasks_[e.a].node;
        std::vector<uint32_t>& actors = nodes_[node].actors;
        actors.erase(std::find(actors.begin(), actors.end(), e.a));
        Take(node, t.demand_class, false);
        DispatchRaylet(node);
        return;
      }
      case EventKind::kReport:
        Report();
        // Stop when nothing can change any more: no arrival, failure or
        // event to come (waiting requests that nothing will free stay unfinished).
        if (!(arrivals_over && events_.empty()))
          Push(now_ + report_period_, EventKind::kReport, 0, 0);
        return;
    }
  }

  // Utilisation counts up to the last finish, not the idle leases after it.
  void Finished() {
    ++finished_;
    last_finish_ = now_;
    area_at_last_finish_ = area_;
  }

  // Every raylet reports; every raylet and the GCS ask again about what waits.
  void Report() {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      NodeState& n = nodes_[i];
      NodeView& v = view_.nodes[position_[i]];
      if (!n.reported) {
        v.available = n.available;
        n.reported = true;
      }
      v.queue_length = static_cast<uint32_t>(n.pending.size());
    }
    ++view_.version;
    for (size_t i = 0; i < nodes_.size(); ++i) DispatchRaylet(static_cast<int32_t>(i));
    if (!gcs_pending_.empty()) PlaceActors();
    Sample s;
    s.time = now_;
    for (size_t r = 0; r < used_.size(); ++r) {
      s.utilization.push_back(alive_total_[r] > 0 ? used_[r] / alive_total_[r] : 0);
    }
    s.queued = gcs_pending_.size();
    for (const OwnerClass& c : owner_classes_) s.queued += c.queue.size();
    samples_.push_back(std::move(s));
  }

  void FailNode(int32_t node) {
    NodeState& n = nodes_[node];
    if (!n.alive) return;
    n.alive = false;
    view_.nodes[position_[node]].alive = false;
    for (size_t r = 0; r < n.totals.size(); ++r) alive_total_[r] -= n.totals[r];
    // Leases there are gone: running tasks go back to the front of their queue.
    for (uint32_t id : nodes_[node].leases) {
      Lease& lease = leases_[id];
      OwnerClass& c = owner_classes_[lease.owner_class];
      if (lease.task != kNone) {
        ++tasks_[lease.task].attempt;
        ++retried_;
        c.queue.push_front(lease.task);
      } else {
        RemoveIdle(id);
      }
      lease.live = false;
      ++lease.stamp;
      for (const auto& [r, amount] : class_amounts_[c.demand_class]) used_[r] -= amount;
      free_leases_.push_back(id);
      dirty_owners_.push_back(lease.owner_class);
    }
    nodes_[node].leases.clear();
    // Requests waiting there are lost; their owners ask again.
    for (uint32_t id : n.pending) {
      --owner_classes_[requests_[id].owner_class].lease_requests;
      dirty_owners_.push_back(requests_[id].owner_class);
      free_requests_.push_back(id);
    }
    n.pending.clear();
    // Actors restart elsewhere.
    for (uint32_t task : n.actors) {
      ++tasks_[task].attempt;
      ++retried_;
      for (const auto& [r, amount] : class_amounts_[w_.tasks[task].demand_class]) {
        used_[r] -= amount;
      }
      gcs_pending_.push_back(task);
    }
    n.actors.clear();
    // The owner's queued tasks die with it.
    for (OwnerClass& c : owner_classes_) {
      if (c.owner == node) c.queue.clear();
    }
    PlaceActors();
  }

  SimResult Finish(double wall) {
    SimResult out;
    out.makespan = last_finish_;
    out.resources = resource_names_;
    area_at_last_finish_.resize(area_.size(), 0);
    for (size_t r = 0; r < area_.size(); ++r) {
      out.utilization.push_back(last_finish_ > 0 ? area_at_last_finish_[r] / last_finish_ : 0);
    }
    std::vector<float> waits;
    waits.reserve(tasks_.size());
    double sum = 0;
    for (const TaskState& t : tasks_) {
      if (t.wait < 0) continue;
      waits.push_back(t.wait);
      sum += t.wait;
    }
    if (!waits.empty()) {
      out.mean_wait = sum / static_cast<double>(waits.size());
      size_t k =
          std::min(waits.size() - 1, static_cast<size_t>(0.99 * static_cast<double>(waits.size())));
      std::nth_element(waits.begin(), waits.begin() + static_cast<ptrdiff_t>(k), waits.end());
      out.p99_wait = waits[k];
    }
    out.finished = finished_;
    out.unfinished = tasks_.size() - finished_;
    out.infeasible_requests = infeasible_;
    out.retried = retried_;
    out.lease_requests = lease_requests_;
    out.scheduler_calls = scheduler_calls_;
    out.spillbacks = spillbacks_;
    out.bad_decisions = bad_decisions_;
    out.bytes_moved = bytes_moved_;
    out.decision_seconds = Seconds(decision_time_);
    out.wall_seconds = wall;
    out.samples = std::move(samples_);
    for (const TaskState& t : tasks_) out.placements.push_back(t.node);
    return out;
  }

  const Workload& w_;
  std::vector<std::shared_ptr<Scheduler>> schedulers_;  // per node, then the GCS's
  const SimOptions options_;
  const double report_period_ = std::chrono::duration<double>(kReportPeriod).count();
  const double idle_time_ = std::chrono::duration<double>(kLeaseIdleTime).count();

  double now_ = 0;
  double last_finish_ = 0;
  uint64_t next_seq_ = 0;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;

  std::vector<NodeId> ids_;
  std::unordered_map<NodeId, int32_t> index_of_;
  std::vector<size_t> position_;  // node index -> its place in view_.nodes
  std::vector<NodeState> nodes_;
  ClusterView view_;        // every node as last reported
  ClusterView local_view_;  // one node, for forwarded requests

  std::unordered_map<std::string, size_t> resource_index_;
  std::vector<std::string> resource_names_;
  std::vector<double> alive_total_;
  std::vector<double> used_;
  std::vector<double> area_;  // integral of the fraction in use, per resource
  std::vector<double> area_at_last_finish_;

  std::vector<SchedulingRequest> base_requests_;  // per demand class
  std::vector<std::vector<std::pair<size_t, double>>> class_amounts_;
  std::unordered_map<uint64_t, uint32_t> owner_class_index_;
  std::vector<OwnerClass> owner_classes_;
  std::vector<uint32_t> dirty_owners_;
  std::vector<Lease> leases_;
  std::vector<uint32_t> free_leases_;
  std::vector<LeaseRequest> requests_;
  std::vector<uint32_t> free_requests_;
  std::vector<uint32_t> gcs_pending_;
  std::vector<TaskState> tasks_;
  std::vector<Sample> samples_;

  uint64_t finished_ = 0, infeasible_ = 0, retried_ = 0, lease_requests_ = 0;
  uint64_t scheduler_calls_ = 0, spillbacks_ = 0, bad_decisions_ = 0, bytes_moved_ = 0;
  std::chrono::nanoseconds decision_time_{0};
};

}  // namespace

Result<SimResult> Simulate(const Workload& workload, const SchedulerFactory& factory,
                           const SimOptions& options) {
  std::vector<std::shared_ptr<Scheduler>> schedulers;
  for (size_t i = 0; i <= workload.nodes.size(); ++i) {
    auto created = factory();
    if (!created.ok()) return created.status();
    schedulers.push_back(std::move(*created));
  }
  return Simulation(workload, std::move(schedulers), options).Run();
}

}  // namespace rayk::sim
