#include "sim/workload.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "rayk/label_selector.h"

namespace rayk::sim {

namespace {

using nlohmann::json;

const char* StrategyName(SchedulingStrategy strategy) {
  switch (strategy) {
    case SchedulingStrategy::kSpread:
      return "spread";
    case SchedulingStrategy::kNodeAffinity:
      return "node_affinity";
    default:
      return "default";
  }
}

std::string ClassKey(const DemandClass& c) {
  std::string key = c.demand.ToJson() + "|" + StrategyName(c.strategy) + "|" +
                    std::to_string(c.affinity_node) + (c.affinity_soft ? "s" : "h") + "|";
  for (const auto& [k, v] : c.label_selector) key += k + "=" + v + ",";
  return key;
}

// Reads one trace line; each failure is a message without the file and line,
// which ReadTrace puts in front.
class LineReader {
 public:
  LineReader(Workload* workload, std::unordered_map<std::string, int32_t>* node_index)
      : workload_(*workload), node_index_(*node_index) {}

  Status Read(const json& line) {
    if (!line.is_object())
      return Bad("a line must be one JSON object, e.g. {\"type\": \"task\", ...}");
    auto type = line.find("type");
    if (type == line.end() || !type->is_string()) {
      return Bad("'type' is missing; it is one of node, task, actor, node_failure");
    }
    const std::string kind = *type;
    if (kind == "node") return ReadNode(line);
    if (kind == "task" || kind == "actor") return ReadTask(line, kind == "actor");
    if (kind == "node_failure") return ReadFailure(line);
    return Bad("unknown type '" + kind + "'; it is one of node, task, actor, node_failure");
  }

 private:
  static Status Bad(const std::string& what) { return Status::InvalidArgument(what); }

  static Status OnlyKeys(const json& line, const std::set<std::string>& keys) {
    for (const auto& [key, value] : line.items()) {
      if (!keys.count(key)) {
        std::string allowed;
        for (const std::string& k : keys) allowed += (allowed.empty() ? "" : ", ") + k;
        return Bad(line["type"].get<std::string>() + ": unknown key '" + key +
                   "'; known: " + allowed);
      }
    }
    return Status::Ok();
  }

  static Status Number(const json& line, const char* key, bool required, double* out) {
    auto it = line.find(key);
    if (it == line.end()) {
      if (!required) return Status::Ok();
      return Bad(line["type"].get<std::string>() + ": '" + key + "' is missing");
    }
    if (!it->is_number() || it->get<double>() < 0 || !std::isfinite(it->get<double>())) {
      return Bad(line["type"].get<std::string>() + ": '" + key + "' must be a number >= 0");
    }
    *out = it->get<double>();
    return Status::Ok();
  }

  Status Node(const json& line, const char* key, bool required, int32_t* out) const {
    auto it = line.find(key);
    if (it == line.end()) {
      if (!required) return Status::Ok();
      return Bad(line["type"].get<std::string>() + ": '" + key + "' is missing");
    }
    if (!it->is_string()) return Bad(std::string("'") + key + "' must be a node name (a string)");
    auto found = node_index_.find(it->get<std::string>());
    if (found == node_index_.end()) {
      return Bad("unknown node '" + it->get<std::string>() + "' in '" + key +
                 "'; declare it with a {\"type\": \"node\"} line before this one");
    }
    *out = found->second;
    return Status::Ok();
  }

  static Status Labels(const json& line, const char* key, std::map<std::string, std::string>* out) {
    auto it = line.find(key);
    if (it == line.end()) return Status::Ok();
    if (!it->is_object()) return Bad(std::string("'") + key + "' must be an object of strings");
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) return Bad(std::string("'") + key + "." + k + "' must be a string");
      (*out)[k] = v.get<std::string>();
    }
    return Status::Ok();
  }

  static Status Resources(const json& line, bool required, ResourceSet* out) {
    auto it = line.find("resources");
    if (it == line.end()) {
      if (!required) return Status::Ok();
      return Bad(line["type"].get<std::string>() + ": 'resources' is missing, e.g. {\"CPU\": 8}");
    }
    auto parsed = ResourceSet::FromJson(it->dump());
    if (!parsed.ok()) return Bad("'resources': " + parsed.status().message());
    *out = std::move(*parsed);
    return Status::Ok();
  }

  Status ReadNode(const json& line) {
    if (Status st = OnlyKeys(line, {"type", "name", "id", "resources", "labels"}); !st.ok()) {
      return st;
    }
    NodeSpec node;
    auto name = line.find("name");
    if (name == line.end() || !name->is_string() || name->get<std::string>().empty()) {
      return Bad("node: 'name' must be a non-empty string");
    }
    node.name = *name;
    if (node_index_.count(node.name)) return Bad("node '" + node.name + "' is declared twice");
    if (auto id = line.find("id"); id != line.end()) {
      node.id = id->is_string() ? NodeId::FromHex(id->get<std::string>()) : NodeId::Nil();
      if (node.id.IsNil()) return Bad("node: 'id' must be a node id of 32 hex digits");
      if (!ids_.insert(node.id).second) return Bad("node id " + node.id.Hex() + " is given twice");
    }
    if (Status st = Resources(line, true, &node.resources); !st.ok()) return st;
    if (Status st = Labels(line, "labels", &node.labels); !st.ok()) return st;
    if (Status st = CheckNodeLabels(node.labels, "'labels'"); !st.ok()) return st;
    node_index_[node.name] = static_cast<int32_t>(workload_.nodes.size());
    workload_.nodes.push_back(std::move(node));
    return Status::Ok();
  }

  Status ReadTask(const json& line, bool actor) {
    if (Status st = OnlyKeys(line, {"type", "time", "duration", "resources", "owner", "strategy",
                                    "affinity_node", "soft", "label_selector", "args"});
        !st.ok()) {
      return st;
    }
    if (workload_.nodes.empty()) {
      return Bad("a task before any node; put the {\"type\": \"node\"} lines first");
    }
    Task task;
    task.actor = actor;
    if (Status st = Number(line, "time", true, &task.arrival); !st.ok()) return st;
    if (Status st = Number(line, "duration", true, &task.duration); !st.ok()) return st;
    if (Status st = Node(line, "owner", false, &task.owner); !st.ok()) return st;
    DemandClass cls;
    if (Status st = Resources(line, false, &cls.demand); !st.ok()) return st;
    if (Status st = Labels(line, "label_selector", &cls.label_selector); !st.ok()) return st;
    if (Status st = CheckLabelSelector(cls.label_selector, "'label_selector'"); !st.ok()) {
      return st;
    }
    std::string strategy = "default";
    if (auto it = line.find("strategy"); it != line.end()) {
      if (!it->is_string()) return Bad("'strategy' must be default, spread or node_affinity");
      strategy = *it;
    }
    if (strategy == "spread") {
      cls.strategy = SchedulingStrategy::kSpread;
    } else if (strategy == "node_affinity") {
      cls.strategy = SchedulingStrategy::kNodeAffinity;
      if (Status st = Node(line, "affinity_node", true, &cls.affinity_node); !st.ok()) return st;
      if (auto it = line.find("soft"); it != line.end()) {
        if (!it->is_boolean()) return Bad("'soft' must be true or false");
        cls.affinity_soft = *it;
      }
    } else if (strategy != "default") {
      return Bad("unknown strategy '" + strategy + "'; it is default, spread or node_affinity");
    }
    if (cls.strategy != SchedulingStrategy::kNodeAffinity &&
        (line.contains("affinity_node") || line.contains("soft"))) {
      return Bad("'affinity_node' and 'soft' need \"strategy\": \"node_affinity\"");
    }
    task.demand_class = workload_.Intern(cls);
    task.first_arg = static_cast<uint32_t>(workload_.args.size());
    if (auto it = line.find("args"); it != line.end()) {
      if (!it->is_array()) return Bad("'args' must be an array of {\"node\": NAME, \"bytes\": N}");
      for (const json& arg : *it) {
        if (!arg.is_object())
          return Bad("'args' must be an array of {\"node\": NAME, \"bytes\": N}");
        Argument a{0, 0};
        if (Status st = Node(arg, "node", true, &a.node); !st.ok()) return st;
        double bytes = 0;
        if (Status st = Number(arg, "bytes", true, &bytes); !st.ok()) return st;
        a.bytes = static_cast<uint64_t>(bytes);
        workload_.args.push_back(a);
      }
    }
    task.arg_count = static_cast<uint32_t>(workload_.args.size()) - task.first_arg;
    workload_.tasks.push_back(task);
    return Status::Ok();
  }

  Status ReadFailure(const json& line) {
    if (Status st = OnlyKeys(line, {"type", "time", "node"}); !st.ok()) return st;
    NodeFailure failure;
    if (Status st = Number(line, "time", true, &failure.time); !st.ok()) return st;
    if (Status st = Node(line, "node", true, &failure.node); !st.ok()) return st;
    workload_.failures.push_back(failure);
    return Status::Ok();
  }

  Workload& workload_;
  std::unordered_map<std::string, int32_t>& node_index_;
  std::unordered_set<NodeId> ids_;
};

// The JSON of a demand class's placement fields, for WriteTrace.
void PlacementJson(const Workload& w, const DemandClass& c, json* out) {
  if (c.strategy == SchedulingStrategy::kSpread) (*out)["strategy"] = "spread";
  if (c.strategy == SchedulingStrategy::kNodeAffinity) {
    (*out)["strategy"] = "node_affinity";
    (*out)["affinity_node"] = w.nodes[c.affinity_node].name;
    (*out)["soft"] = c.affinity_soft;
  }
  if (!c.label_selector.empty()) (*out)["label_selector"] = c.label_selector;
}

}  // namespace

uint32_t Workload::Intern(const DemandClass& demand) {
  auto [it, inserted] = class_index_.try_emplace(ClassKey(demand), classes.size());
  if (inserted) classes.push_back(demand);
  return it->second;
}

void Workload::SortByTime() {
  std::stable_sort(tasks.begin(), tasks.end(),
                   [](const Task& a, const Task& b) { return a.arrival < b.arrival; });
  std::stable_sort(failures.begin(), failures.end(),
                   [](const NodeFailure& a, const NodeFailure& b) { return a.time < b.time; });
}

Result<Workload> ReadTrace(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return Status::NotFound("cannot read the trace " + path +
                            "; give a JSON-lines trace file or use --generate");
  }
  Workload workload;
  std::unordered_map<std::string, int32_t> node_index;
  LineReader reader(&workload, &node_index);
  std::string text;
  int line_number = 0;
  while (std::getline(in, text)) {
    ++line_number;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    json line = json::parse(text, nullptr, /*allow_exceptions=*/false);
    Status st = line.is_discarded() ? Status::InvalidArgument("not valid JSON") : reader.Read(line);
    if (!st.ok()) {
      return Status::InvalidArgument(path + ":" + std::to_string(line_number) + ": " +
                                     st.message());
    }
  }
  if (workload.nodes.empty()) {
    return Status::InvalidArgument(
        path + ": the trace declares no node; add lines like " +
        "{\"type\": \"node\", \"name\": \"n0\", \"resources\": {\"CPU\": 8}}");
  }
  workload.SortByTime();
  return workload;
}

Status WriteTrace(const Workload& w, const std::string& path) {
  std::ofstream out(path);
  if (!out) return Status::IoError("cannot write the trace " + path);
  for (const NodeSpec& node : w.nodes) {
    json line = {
        {"type", "node"}, {"name", node.name}, {"resources", json::parse(node.resources.ToJson())}};
    if (!node.labels.empty()) line["labels"] = node.labels;
    if (!node.id.IsNil()) line["id"] = node.id.Hex();
    out << line.dump() << "\n";
  }
  std::vector<json> resources;
  for (const DemandClass& c : w.classes) resources.push_back(json::parse(c.demand.ToJson()));
  for (const Task& t : w.tasks) {
    json line = {{"type", t.actor ? "actor" : "task"},
                 {"time", t.arrival},
                 {"duration", t.duration},
                 {"resources", resources[t.demand_class]},
                 {"owner", w.nodes[t.owner].name}};
    PlacementJson(w, w.classes[t.demand_class], &line);
    if (t.arg_count > 0) {
      json args = json::array();
      for (uint32_t i = 0; i < t.arg_count; ++i) {
        const Argument& a = w.args[t.first_arg + i];
        args.push_back({{"node", w.nodes[a.node].name}, {"bytes", a.bytes}});
      }
      line["args"] = std::move(args);
    }
    out << line.dump() << "\n";
  }
  for (const NodeFailure& f : w.failures) {
    out << json{{"type", "node_failure"}, {"time", f.time}, {"node", w.nodes[f.node].name}}.dump()
        << "\n";
  }
  out.flush();
  if (!out) return Status::IoError("cannot write the trace " + path + " (disk full?)");
  return Status::Ok();
}

Result<Workload> Generate(const GenerateOptions& o) {
  if (o.nodes < 1) return Status::InvalidArgument("--nodes must be at least 1");
  if (o.tasks < 0) return Status::InvalidArgument("--tasks must be at least 0");
  if (!(o.arrival_rate > 0)) return Status::InvalidArgument("--arrival-rate must be positive");
  if (!(o.duration_mean >= 0)) return Status::InvalidArgument("--duration-mean must be >= 0");
  if (o.owners < 1 || o.owners > o.nodes) {
    return Status::InvalidArgument("--owners must be between 1 and --nodes");
  }
  if (o.failures < 0 || o.failures > o.nodes - o.owners) {
    return Status::InvalidArgument("--failures must be between 0 and --nodes minus --owners");
  }
  auto node_resources = ResourceSet::FromJson(o.node_resources);
  if (!node_resources.ok()) {
    return Status::InvalidArgument("--node-resources: " + node_resources.status().message());
  }
  json demands = json::parse(o.demands, nullptr, false);
  std::vector<double> weights;
  std::vector<ResourceSet> demand_sets;
  const std::string demands_hint =
      "--demands must be a JSON array of [weight, resources], e.g. [[0.8, {\"CPU\": 1}], [0.2, "
      "{\"CPU\": 4}]]";
  if (!demands.is_array() || demands.empty()) return Status::InvalidArgument(demands_hint);
  for (const json& d : demands) {
    if (!d.is_array() || d.size() != 2 || !d[0].is_number() || d[0].get<double>() <= 0) {
      return Status::InvalidArgument(demands_hint);
    }
    auto set = ResourceSet::FromJson(d[1].dump());
    if (!set.ok()) return Status::InvalidArgument("--demands: " + set.status().message());
    weights.push_back(d[0].get<double>());
    demand_sets.push_back(std::move(*set));
  }
  Workload w;
  for (int i = 0; i < o.nodes; ++i)
    w.nodes.push_back({"n" + std::to_string(i), NodeId::Nil(), *node_resources, {}});
  std::mt19937_64 rng(o.seed);
  std::exponential_distribution<double> gap(o.arrival_rate);
  std::discrete_distribution<size_t> pick_demand(weights.begin(), weights.end());
  std::uniform_real_distribution<double> unit(0, 1);
  std::uniform_int_distribution<int32_t> any_node(0, o.nodes - 1);
  std::exponential_distribution<double> arg_size(o.arg_bytes_mean > 0 ? 1 / o.arg_bytes_mean : 1);
  // A lognormal with the given mean: mu = ln(mean) - sigma^2 / 2.
  std::lognormal_distribution<double> lognormal(
      std::log(std::max(o.duration_mean, 1e-12)) - o.duration_sigma * o.duration_sigma / 2,
      o.duration_sigma);
  std::exponential_distribution<double> exponential(o.duration_mean > 0 ? 1 / o.duration_mean : 1);
  std::vector<uint32_t> classes;
  for (const ResourceSet& demand : demand_sets) {
    for (SchedulingStrategy s : {SchedulingStrategy::kDefault, SchedulingStrategy::kSpread}) {
      DemandClass c;
      c.demand = demand;
      c.strategy = s;
      classes.push_back(w.Intern(c));
    }
  }
  const int64_t total = o.tasks + o.actors;
  // Actors are spread evenly over the arrivals.
  const int64_t actor_every = o.actors > 0 ? std::max<int64_t>(1, total / o.actors) : 0;
  int64_t actors_left = o.actors;
  w.tasks.reserve(static_cast<size_t>(total));
  double now = 0;
  for (int64_t i = 0; i < total; ++i) {
    now += gap(rng);
    Task t;
    t.arrival = now;
    t.actor = actors_left > 0 && (i % actor_every == 0 || total - i <= actors_left);
    if (t.actor) --actors_left;
    double duration = o.duration_sigma > 0 ? lognormal(rng) : exponential(rng);
    t.duration = o.duration_mean > 0 ? duration : 0;
    // An actor lives for many task durations.
    if (t.actor) t.duration *= 100;
    bool spread = unit(rng) < o.spread_fraction;
    t.demand_class = classes[pick_demand(rng) * 2 + (spread ? 1 : 0)];
    t.owner = static_cast<int32_t>(i % o.owners);
    t.first_arg = static_cast<uint32_t>(w.args.size());
    if (!t.actor && o.arg_bytes_mean > 0 && unit(rng) < o.arg_fraction) {
      w.args.push_back({any_node(rng), static_cast<uint64_t>(arg_size(rng))});
    }
    t.arg_count = static_cast<uint32_t>(w.args.size()) - t.first_arg;
    w.tasks.push_back(t);
  }
  // Failures hit distinct nodes other than the owners', during the arrivals.
  std::vector<int32_t> victims;
  for (int32_t n = o.owners; n < o.nodes; ++n) victims.push_back(n);
  std::shuffle(victims.begin(), victims.end(), rng);
  for (int i = 0; i < o.failures; ++i) w.failures.push_back({unit(rng) * now, victims[i]});
  w.SortByTime();
  return w;
}

}  // namespace rayk::sim
