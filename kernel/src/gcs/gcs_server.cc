#include "gcs/gcs_server.h"

#include <spdlog/spdlog.h>

#include <random>

#include "common/lease_policy.h"
#include "gcs/gcs_subscription.h"
#include "gcs/serialized_scheduler.h"
#include "job_submission/job_manager.h"
#include "observability/cluster_json.h"
#include "observability/cluster_metrics.h"
#include "observability/dashboard_files.h"
#include "process/session.h"
#include "scheduling/bundle_resources.h"

namespace rayk {

namespace {

using protocol::MessageType;

constexpr char kNodeTable[] = "nodes";
constexpr char kJobTable[] = "jobs";
constexpr char kKvTable[] = "kv";
constexpr char kGcsTable[] = "gcs";
constexpr char kIncarnationKey[] = "incarnation";
// The health-check thread also publishes the view's changes, so it runs at
// the publish period (a timeout is far longer).
constexpr auto kHealthCheckPeriod = kViewPublishPeriod;
// A request handled for longer than this keeps the node reports waiting.
constexpr auto kDeafAfter = std::chrono::milliseconds(500);
constexpr auto kStoreProbePeriod = std::chrono::milliseconds(1000);

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A KV key in the table: the namespace, a NUL, the key. Namespaces may not
// hold NUL, so the split is unambiguous and a namespace's keys sort together.
std::string KvTableKey(const std::string& ns, const std::string& key) { return ns + '\0' + key; }

}  // namespace

GcsServer::GcsServer(Options options, std::shared_ptr<Transport> transport,
                     std::shared_ptr<GcsStore> store, std::shared_ptr<Scheduler> scheduler)
    : options_(std::move(options)),
      transport_(std::move(transport)),
      store_(std::make_shared<WatchedGcsStore>(std::move(store))),
      commits_(std::make_shared<GroupCommit>(store_)),
      incarnation_(std::random_device{}() | (uint64_t{std::random_device{}()} << 32) | 1) {
  // Both managers place through the one plugin instance, one call at a time.
  auto serialized = std::make_shared<SerializedScheduler>(std::move(scheduler));
  actors_ =
      std::make_unique<GcsActorManager>(transport_, serialized, store_, [this] { return View(); });
  placement_groups_ = std::make_unique<GcsPlacementGroupManager>(
      transport_, serialized, store_, commits_, [this] { return PlacementView(); },
      [this] { return NodeAddresses(); },
      [this](const PlacementGroupId& group) { actors_->HandlePlacementGroupRemoved(group); });
  code_ = std::make_unique<GcsCodeTable>(*store_);
}

GcsServer::~GcsServer() {
  stopping_ = true;
  if (health_check_.joinable()) health_check_.join();
  metrics_.reset();
  server_.reset();
  placement_groups_.reset();  // before the actor manager its callbacks use
  GroupCommit::Stats stats = commits_->stats();
  spdlog::info(
      "gcs: node and placement group records: {} writes in {} commits, {} replaced a "
      "queued one",
      stats.writes, stats.commits, stats.coalesced);
  commits_.reset();  // what is queued is written and published before the publisher goes
}

ClusterView GcsServer::View() {
  std::lock_guard<std::mutex> lock(mu_);
  ClusterView view;
  view.version = view_version_;
  for (const auto& [id, node] : nodes_) {
    if (node.alive) view.nodes.push_back(protocol::ToNodeView(node));
  }
  return view;
}

std::map<NodeId, std::string> GcsServer::NodeAddresses() {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<NodeId, std::string> addresses;
  for (const auto& [id, node] : nodes_) {
    if (node.alive) addresses[id] = node.raylet_address;
  }
  return addresses;
}

std::shared_ptr<const ClusterView> GcsServer::PlacementView() {
  std::lock_guard<std::mutex> lock(mu_);
  if (placement_view_ && placement_view_->version == view_version_) return placement_view_;
  auto view = std::make_shared<ClusterView>();
  view->version = view_version_;
  for (const auto& [id, node] : nodes_) {
    if (!node.alive) continue;
    NodeView& out = view->nodes.emplace_back();
    out.node_id = id;
    out.address = node.raylet_address;
    out.total = WithoutBundleResources(node.total);
    out.available = WithoutBundleResources(node.available);
    out.labels = node.labels;
    out.queue_length = node.pending_leases;
    out.alive = true;
  }
  placement_view_ = view;
  return view;
}

protocol::ClusterViewDelta GcsServer::ViewDeltaLocked(uint64_t known_version,
                                                      uint64_t known_incarnation) {
  protocol::ClusterViewDelta delta;
  delta.version = view_version_;
  delta.incarnation = incarnation_;
  // A raylet that knew another incarnation of the GCS starts afresh.
  delta.full =
      known_version == 0 || known_version > view_version_ || known_incarnation != incarnation_;
  delta.since = delta.full ? 0 : known_version;
  for (const auto& [id, node] : nodes_) {
    if (!delta.full && node_version_[id] <= known_version) continue;
    delta.nodes.push_back(node);  // dead ones too: a raylet must know them from unknown ones
  }
  return delta;
}

void GcsServer::PublishViewLocked() {
  if (published_version_ == view_version_) return;
  // The first publication of an incarnation is full (published_version_ 0).
  protocol::ClusterViewDelta delta = ViewDeltaLocked(published_version_, incarnation_);
  published_version_ = view_version_;
  Status st = publisher_->Publish(protocol::kViewTopic,
                                  protocol::Encode(MessageType::kClusterViewDelta, delta));
  if (!st.ok()) spdlog::error("gcs: cannot publish the cluster view: {}", st.message());
}

// Reloads what a durable store kept from an earlier incarnation of this GCS,
// and notes what a volatile one lost.
Status GcsServer::Load() {
  auto incarnation = store_->Get(kGcsTable, kIncarnationKey);
  if (!incarnation.ok()) return incarnation.status();
  if (options_.restarts > 0 && !incarnation->has_value()) {
    info_.lost_state =
        "the GCS server restarted and its store (gcs plugin '" + options_.store_plugin +
        "') kept nothing: jobs, actors (named ones too) and KV entries from before the restart are "
        "lost; nodes re-registered. Use [gcs] plugin = \"sqlite\" to keep them";
    spdlog::warn("{}", info_.lost_state);
  }
  RAYK_RETURN_IF_ERROR(store_->Put(kGcsTable, kIncarnationKey, std::to_string(options_.restarts)));

  auto nodes = store_->GetAll(kNodeTable);
  if (!nodes.ok()) return nodes.status();
  auto now = std::chrono::steady_clock::now();
  for (const auto& [key, value] : *nodes) {
    auto node = protocol::Decode<protocol::RegisterNode>(value);
    if (!node.ok()) {
      spdlog::error("gcs: skipped an unreadable node record: {}", node.status().message());
      continue;
    }
    // A node alive before the restart gets a full timeout to report again.
    nodes_[node->node.node_id] = node->node;
    if (node->node.alive) last_report_[node->node.node_id] = now;
  }
  auto jobs = store_->GetAll(kJobTable);
  if (!jobs.ok()) return jobs.status();
  for (const auto& [key, value] : *jobs) {
    auto job = protocol::Decode<protocol::RegisterJob>(value);
    if (job.ok()) jobs_[job->job.job_id] = job->job;
  }
  RAYK_RETURN_IF_ERROR(actors_->Load());
  return placement_groups_->Load();
}

Result<std::unique_ptr<GcsServer>> GcsServer::Start(Options options,
                                                    std::shared_ptr<Transport> transport,
                                                    std::shared_ptr<GcsStore> store,
                                                    std::shared_ptr<Scheduler> scheduler) {
  std::unique_ptr<GcsServer> gcs(
      new GcsServer(std::move(options), transport, std::move(store), std::move(scheduler)));
  gcs->info_.restarts = gcs->options_.restarts;
  gcs->info_.start_time_ms = NowMs();
  gcs->info_.plugins = gcs->options_.plugins;
  gcs->info_.node_timeout_ms = gcs->options_.node_timeout.count();
  RAYK_RETURN_IF_ERROR(gcs->Load());
  auto publisher = transport->Publish(gcs->options_.publisher_endpoint);
  if (!publisher.ok()) return publisher.status();
  gcs->publisher_ = std::move(*publisher);
  gcs->info_.publisher_address = gcs->publisher_->endpoint();
  GcsServer* self = gcs.get();
  gcs->RegisterHandlers();
  auto server = transport->Serve(gcs->options_.endpoint, gcs->TimedHandler());
  if (!server.ok()) return server.status();
  gcs->server_ = std::move(*server);
  if (gcs->options_.metrics_port >= 0) {
    // One server, two views of one snapshot: Prometheus's text format
    // (version 0.0.4) at /metrics, the dashboard's JSON at /api/cluster, and
    // the dashboard's page, which polls the JSON.
    std::map<std::string, observability::HttpRoute> routes = {
        {"/metrics",
         [self] {
           return observability::HttpResponse{
               "text/plain; version=0.0.4; charset=utf-8",
               observability::RenderClusterMetrics(self->Snapshot())};
         }},
        {"/api/cluster", [self] {
           return observability::HttpResponse{"application/json",
                                              observability::RenderClusterJson(self->Snapshot())};
         }}};
    for (const observability::DashboardFile& file : observability::DashboardFiles()) {
      observability::HttpResponse response{std::string(file.content_type), std::string(file.body)};
      routes["/" + std::string(file.name)] = [response] { return response; };
      if (file.name == "index.html") routes["/"] = [response] { return response; };
    }
    // The JSON shows names, addresses and reasons, so it needs the cluster
    // secret; /metrics shows counts and ids and stays open for scrapers
    // (docs/observability.md, "Who may look").
    // The Jobs API, like every API, needs the secret.
    std::map<std::string, observability::HttpApi> apis;
    if (!gcs->options_.jobs_dir.empty()) {
      auto jobs = std::make_shared<jobs::JobManager>(
          gcs->options_.jobs_dir, gcs->server_->endpoint(), gcs->options_.http_secret);
      apis["/api/jobs"] = [jobs](const observability::HttpRequest& request) {
        return jobs->Handle(request);
      };
    }
    auto metrics = observability::HttpServer::Start(
        gcs->options_.metrics_host, gcs->options_.metrics_port, std::move(routes),
        {.secret = gcs->options_.http_secret, .guarded = {"/api/cluster"}}, std::move(apis));
    if (!metrics.ok()) return metrics.status();
    gcs->metrics_ = std::move(*metrics);
    gcs->info_.metrics_address =
        gcs->options_.metrics_host + ":" + std::to_string(gcs->metrics_->port());
  }
  gcs->actors_->Start(gcs->server_->endpoint());
  gcs->placement_groups_->Start();
  gcs->health_check_ = std::thread([self] { self->HealthCheckLoop(); });
  return gcs;
}

void GcsServer::PersistAndPublishLocked(const protocol::NodeInfo& node, ReplyFn reply) {
  std::string record = protocol::Encode(MessageType::kRegisterNode, protocol::RegisterNode{node});
  GcsWriteBatch write;
  write.Put(kNodeTable, node.node_id.Binary(), record);
  // Published in the order queued (the commit thread runs the callbacks in
  // that order), so a node's registration never overtakes its death.
  commits_->Write(std::move(write), [this, id = node.node_id, record = std::move(record),
                                     reply = std::move(reply)](const Status& written) mutable {
    if (!written.ok())
      spdlog::error("gcs: cannot persist node {}: {}", id.Hex(), written.message());
    Status st = publisher_->Publish("node", std::move(record));
    if (!st.ok()) spdlog::error("gcs: cannot publish node {}: {}", id.Hex(), st.message());
    if (reply) protocol::Service::ReplyAck(reply);
  });
}

void GcsServer::HealthCheckLoop() {
  auto last_probe = std::chrono::steady_clock::now();
  auto last_heartbeat = std::chrono::steady_clock::time_point{};
  while (!stopping_) {
    std::this_thread::sleep_for(kHealthCheckPeriod);
    // Subscribers that stop hearing it look for the GCS again
    // (gcs_subscription.h): after a failover it publishes elsewhere.
    if (std::chrono::steady_clock::now() - last_heartbeat >= kGcsHeartbeatPeriod) {
      (void)publisher_->Publish(kGcsHeartbeatTopic, "");
      last_heartbeat = std::chrono::steady_clock::now();
    }
    // While the store fails, read from it now and then, so that status
    // shows when it is back even if nothing else touches it.
    if (!store_->problem().message.empty() &&
        std::chrono::steady_clock::now() - last_probe >= kStoreProbePeriod) {
      (void)store_->Get(kGcsTable, kIncarnationKey);
      last_probe = std::chrono::steady_clock::now();
    }
    std::vector<NodeId> died;
    {
      // A GCS that cannot read its messages (a request stuck on a store
      // retrying through an outage, or a slow write holding mu_) hears no
      // reports either, and the nodes are not to blame: while that lasts
      // nobody is declared dead, and afterwards every node gets a whole node
      // timeout to report again, as after a GCS restart.
      const int64_t since = handling_since_ms_.load();
      bool deaf = since != 0 && SteadyMs() - since > kDeafAfter.count();
      const auto before_lock = std::chrono::steady_clock::now();
      std::lock_guard<std::mutex> lock(mu_);
      auto now = std::chrono::steady_clock::now();
      deaf = deaf || now - before_lock > kDeafAfter;
      if (deaf) {
        was_deaf_ = true;
        continue;
      }
      if (was_deaf_) {
        was_deaf_ = false;
        spdlog::warn(
            "the GCS could not read node reports for a while (a slow store); every node "
            "gets {} ms to report again",
            options_.node_timeout.count());
        for (auto& [id, last] : last_report_) last = now;
        continue;
      }
      for (auto& [id, node] : nodes_) {
        auto report = last_report_.find(id);
        if (!node.alive ||
            (report != last_report_.end() && now - report->second <= options_.node_timeout))
          continue;
        node.alive = false;
        node.death_time_ms = NowMs();
        node.death_cause = "missed its resource reports for " +
                           std::to_string(options_.node_timeout.count()) + " ms";
        node.available = {};
        BumpViewLocked(id);
        spdlog::warn("node {} at {} {}; marking it dead", id.Hex(), node.raylet_address,
                     node.death_cause);
        PersistAndPublishLocked(node);
        died.push_back(id);
      }
      PublishViewLocked();
    }
    for (const NodeId& id : died) {
      actors_->HandleNodeDead(id);
      placement_groups_->HandleNodeDead(id);
    }
  }
}

void GcsServer::RegisterHandlers() {
  using protocol::MessageType;
  // Actor and KV messages go without mu_: the actor manager asks View(),
  // which takes mu_, while holding its own lock.
  service_.On<MessageType::kRegisterActor>([this](protocol::RegisterActor body, ReplyFn reply) {
    if (reply) actors_->HandleRegister(std::move(body), std::move(reply));
  });
  service_.On<MessageType::kGetActor>([this](protocol::GetActor body, ReplyFn reply) {
    if (reply) actors_->HandleGet(std::move(body), std::move(reply));
  });
  service_.On<MessageType::kKillActor>([this](protocol::KillActor body, ReplyFn reply) {
    actors_->HandleKill(std::move(body), std::move(reply));
  });
  service_.On<MessageType::kListActors>([this](protocol::ListActors, ReplyFn reply) {
    if (reply) actors_->HandleList(std::move(reply));
  });
  service_.On<MessageType::kWorkerDied>([this](protocol::WorkerDied body, ReplyFn reply) {
    actors_->HandleWorkerDied(body);
    protocol::Service::ReplyAck(reply);
  });
  // Placement-group messages go without mu_ too, for the same reason.
  service_.On<MessageType::kCreatePlacementGroup>(
      [this](protocol::CreatePlacementGroup body, ReplyFn reply) {
        placement_groups_->HandleCreate(std::move(body), std::move(reply));
      });
  service_.On<MessageType::kRemovePlacementGroup>(
      [this](protocol::RemovePlacementGroup body, ReplyFn reply) {
        placement_groups_->HandleRemove(std::move(body), std::move(reply));
      });
  service_.On<MessageType::kGetPlacementGroup>(
      [this](protocol::GetPlacementGroup body, ReplyFn reply) {
        placement_groups_->HandleGet(std::move(body), std::move(reply));
      });
  service_.On<MessageType::kListPlacementGroups>(
      [this](protocol::ListPlacementGroups, ReplyFn reply) {
        placement_groups_->HandleList(std::move(reply));
      });
  service_.On<MessageType::kKvPut>(this, &GcsServer::OnKvPut);
  service_.On<MessageType::kKvGet>(this, &GcsServer::OnKvGet);
  service_.On<MessageType::kKvDelete>(this, &GcsServer::OnKvDelete);
  service_.On<MessageType::kKvList>(this, &GcsServer::OnKvList);
  service_.On<MessageType::kRegisterNode>([this](protocol::RegisterNode body, ReplyFn reply) {
    OnNodeState(std::move(body.node), std::move(reply));
  });
  // A report is a registration too: after a GCS restart, raylets are
  // re-learned from their next report.
  service_.On<MessageType::kReportResources>([this](protocol::ReportResources body, ReplyFn reply) {
    OnNodeState(std::move(body.node), std::move(reply));
  });
  service_.On<MessageType::kGetClusterView>(this, &GcsServer::OnGetClusterView);
  service_.On<MessageType::kGetClusterStatus>(this, &GcsServer::OnGetClusterStatus);
  service_.On<MessageType::kRegisterJob>(this, &GcsServer::OnRegisterJob);
  service_.On<MessageType::kFinishJob>(this, &GcsServer::OnFinishJob);
  service_.On<MessageType::kGetJob>(this, &GcsServer::OnGetJob);
  service_.On<MessageType::kReportWorkerLife>([this](protocol::WorkerLife life, ReplyFn reply) {
    ReportWorkerLife(life);
    protocol::Service::ReplyAck(reply);
  });
  service_.On<MessageType::kGetWorkerLife>([this](protocol::WorkerLife request, ReplyFn reply) {
    if (reply) reply(protocol::Encode(MessageType::kWorkerLife, dead_owners_.Get(request.address)));
  });
  // Log to driver: each job's drivers subscribe to its topic. Nothing is
  // kept: a line nobody listens for is still in its worker's log file.
  service_.On<MessageType::kPublishLogs>([this](protocol::PublishLogs logs, ReplyFn reply) {
    for (protocol::LogBatch& batch : logs.batches) {
      const std::string topic = protocol::LogTopic(batch.job_id);
      protocol::PublishLogs one;
      one.batches.push_back(std::move(batch));
      (void)publisher_->Publish(topic, protocol::Encode(MessageType::kPublishLogs, one));
    }
    protocol::Service::ReplyAck(reply);
  });
  service_.On<MessageType::kReportTaskEvents>(
      [this](protocol::ReportTaskEvents batch, ReplyFn reply) {
        {
          std::lock_guard<std::mutex> lock(tasks_mu_);
          tasks_.Add(batch);
        }
        protocol::Service::ReplyAck(reply);
      });
  service_.On<MessageType::kListTasks>([this](protocol::ListTasks request, ReplyFn reply) {
    if (!reply) return;
    protocol::TaskList list;
    {
      std::lock_guard<std::mutex> lock(tasks_mu_);
      list = tasks_.List(request.job_id);
    }
    reply(protocol::Encode(MessageType::kTaskList, list));
  });
  service_.On<MessageType::kPutCode>(this, &GcsServer::OnPutCode);
  service_.On<MessageType::kGetCode>(this, &GcsServer::OnGetCode);
}

MessageHandler GcsServer::TimedHandler() {
  return [this](std::string message, ReplyFn reply) {
    // Marks the request thread busy, for HealthCheckLoop's deafness check.
    handling_since_ms_.store(SteadyMs());
    struct Done {
      std::atomic<int64_t>& since;
      ~Done() { since.store(0); }
    } done{handling_since_ms_};
    auto type = protocol::PeekType(message);
    if (!type.ok()) {  // refused by the table; not a type to time
      service_.Handle(std::move(message), std::move(reply));
      return;
    }
    auto start = std::chrono::steady_clock::now();
    if (!reply) {  // one-way: timed to the handler's return
      service_.Handle(std::move(message), nullptr);
      request_latency_.Record(*type, std::chrono::steady_clock::now() - start);
      return;
    }
    // Timed to the reply, which a handler may send later from another thread.
    service_.Handle(std::move(message),
                    [this, type = *type, start, reply = std::move(reply)](std::string out) {
                      request_latency_.Record(type, std::chrono::steady_clock::now() - start);
                      reply(std::move(out));
                    });
  };
}

observability::ClusterSnapshot GcsServer::Snapshot() {
  observability::ClusterSnapshot snapshot;
  // The actor table comes as the ListActors reply, which the actor manager
  // makes under its own lock (and without mu_, as RegisterHandlers explains).
  actors_->HandleList([&snapshot](std::string encoded) {
    auto list = protocol::Decode<protocol::ActorList>(encoded);
    if (list.ok()) snapshot.actors = std::move(list->actors);
  });
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, node] : nodes_) snapshot.nodes.push_back(node);
    for (const auto& [id, job] : jobs_) snapshot.jobs.push_back(job);
    snapshot.gcs = info_;
  }
  snapshot.gcs.store_error = store_->problem().message;
  snapshot.gcs_latency = request_latency_.Snapshot();
  {
    std::lock_guard<std::mutex> lock(tasks_mu_);
    snapshot.tasks = tasks_.Summarize();
  }
  snapshot.stores =
      observability::CollectStoreStats(*transport_, snapshot.nodes, std::chrono::seconds(2));
  return snapshot;
}

// ---------------------------------------------------------------- Nodes and jobs

void GcsServer::OnNodeState(protocol::NodeInfo node, ReplyFn reply) {
  std::lock_guard<std::mutex> lock(mu_);
  auto known = nodes_.find(node.node_id);
  if (known != nodes_.end() && !known->second.alive) {
    // Fenced: its tasks were retried and its actors restarted elsewhere, so
    // it never comes back as the same node. Its raylet stops when its next
    // view shows it dead; a new raylet joins with a new id.
    protocol::Service::ReplyError(reply,
                                  Status::Unavailable("node " + node.node_id.Hex() +
                                                      " was declared dead; start a new raylet"));
    return;
  }
  bool is_new = known == nodes_.end();
  node.alive = true;
  node.start_time_ms = is_new ? NowMs() : known->second.start_time_ms;
  if (is_new || known->second.available != node.available || known->second.total != node.total ||
      known->second.labels != node.labels || known->second.raylet_address != node.raylet_address) {
    BumpViewLocked(node.node_id);
  }
  nodes_[node.node_id] = node;
  last_report_[node.node_id] = std::chrono::steady_clock::now();
  if (is_new) {
    spdlog::info("node {} registered at {} with {}", node.node_id.Hex(), node.raylet_address,
                 node.total.ToJson());
    PersistAndPublishLocked(node, std::move(reply));
    return;
  }
  protocol::Service::ReplyAck(reply);
}

void GcsServer::OnGetClusterView(protocol::GetClusterView request, ReplyFn reply) {
  if (!reply) return;
  std::lock_guard<std::mutex> lock(mu_);
  reply(protocol::Encode(MessageType::kClusterViewDelta,
                         ViewDeltaLocked(request.known_version, request.known_incarnation)));
}

void GcsServer::OnGetClusterStatus(protocol::GetClusterStatus, ReplyFn reply) {
  if (!reply) return;
  std::lock_guard<std::mutex> lock(mu_);
  protocol::ClusterStatus status;
  for (const auto& [id, node] : nodes_) status.nodes.push_back(node);
  for (const auto& [id, job] : jobs_) status.jobs.push_back(job);
  status.gcs = info_;
  WatchedGcsStore::Problem problem = store_->problem();
  status.gcs.store_error = problem.message;
  status.gcs.store_error_since_ms = problem.since_ms;
  reply(protocol::Encode(MessageType::kClusterStatus, status));
}

void GcsServer::OnRegisterJob(protocol::RegisterJob request, ReplyFn reply) {
  // A job runs only code the GCS holds, so every raylet can fetch it.
  if (Status code = code_->CheckJobCode(request.job); !code.ok()) {
    protocol::Service::ReplyError(reply, code);
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  jobs_[request.job.job_id] = request.job;
  Status st = store_->Put(kJobTable, request.job.job_id.Binary(),
                          protocol::Encode(MessageType::kRegisterJob, request));
  if (!st.ok()) {
    spdlog::error("gcs: cannot persist job {}: {}", request.job.job_id.Hex(), st.message());
  }
  protocol::Service::ReplyAck(reply);
}

void GcsServer::OnFinishJob(protocol::FinishJob request, ReplyFn reply) {
  actors_->HandleJobFinished(request.job_id);  // without mu_, as above
  placement_groups_->HandleJobFinished(request.job_id);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(request.job_id);
  if (it != jobs_.end() && !it->second.finished) {
    it->second.finished = true;
    it->second.end_time_ms = NowMs();
    // The driver owned objects; their borrowers must not wait for it.
    if (!it->second.driver_address.empty()) {
      ReportWorkerLifeLocked({it->second.driver_address, true,
                              "the driver of job " + request.job_id.Hex().substr(0, 8) + " (pid " +
                                  std::to_string(it->second.driver_pid) + ") ended"});
    }
    Status st =
        store_->Put(kJobTable, request.job_id.Binary(),
                    protocol::Encode(MessageType::kRegisterJob, protocol::RegisterJob{it->second}));
    if (!st.ok()) spdlog::error("gcs: cannot persist job end: {}", st.message());
  }
  protocol::Service::ReplyAck(reply);
}

void GcsServer::ReportWorkerLife(const protocol::WorkerLife& life) {
  std::lock_guard<std::mutex> lock(mu_);
  ReportWorkerLifeLocked(life);
}

void GcsServer::ReportWorkerLifeLocked(const protocol::WorkerLife& life) {
  if (!dead_owners_.Report(life)) return;
  Status st = publisher_->Publish("worker", protocol::Encode(MessageType::kWorkerLife, life));
  if (!st.ok())
    spdlog::error("gcs: cannot publish the death of {}: {}", life.address, st.message());
}

void GcsServer::OnGetJob(protocol::GetJob request, ReplyFn reply) {
  if (!reply) return;
  protocol::JobReply out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(request.job_id);
    if (it != jobs_.end()) {
      out.found = true;
      out.job = it->second;
    }
  }
  reply(protocol::Encode(MessageType::kJobReply, out));
}

// ---------------------------------------------------------------- Job code

void GcsServer::OnPutCode(protocol::PutCode request, ReplyFn reply) {
  Status st = code_->Put(request);
  if (!st.ok()) {
    protocol::Service::ReplyError(reply, st);
    return;
  }
  protocol::Service::ReplyAck(reply);
}

void GcsServer::OnGetCode(protocol::GetCode request, ReplyFn reply) {
  auto chunk = code_->Get(request);
  if (!chunk.ok()) {
    protocol::Service::ReplyError(reply, chunk.status());
    return;
  }
  if (reply) reply(protocol::Encode(MessageType::kCodeChunk, *chunk));
}

// ---------------------------------------------------------------- KV

// The request's key in the KV table; false after answering why there is none.
bool GcsServer::KvKeyOrReply(const protocol::KvRequest& request, const ReplyFn& reply,
                             std::string* key) {
  if (request.ns.find('\0') != std::string::npos) {
    protocol::KvReply out;
    out.error = "a KV namespace may not contain a NUL byte";
    reply(protocol::Encode(MessageType::kKvReply, out));
    return false;
  }
  *key = KvTableKey(request.ns, request.key);
  return true;
}

void GcsServer::OnKvPut(protocol::KvRequest request, ReplyFn reply) {
  std::string key;
  if (!reply || !KvKeyOrReply(request, reply, &key)) return;
  if (request.value.size() > protocol::kMaxKvValueBytes) {
    protocol::Service::ReplyError(
        reply,
        Status::InvalidArgument(
            "a KV value of " + std::to_string(request.value.size()) +
            " bytes is over the GCS's limit of " + std::to_string(protocol::kMaxKvValueBytes) +
            " bytes (kMaxKvValueBytes); put large data in the object store (rayk::Put) "
            "and keep its id in the KV store"));
    return;
  }
  protocol::KvReply out;
  Status st = Status::Ok();
  if (!request.overwrite) {
    auto existing = store_->Get(kKvTable, key);
    if (!existing.ok()) st = existing.status();
    if (!existing.ok() || existing->has_value()) {  // found = false: not written
      out.error = st.message();
      reply(protocol::Encode(MessageType::kKvReply, out));
      return;
    }
  }
  st = store_->Put(kKvTable, key, request.value);
  out.found = st.ok();
  out.error = st.message();
  reply(protocol::Encode(MessageType::kKvReply, out));
}

void GcsServer::OnKvGet(protocol::KvRequest request, ReplyFn reply) {
  std::string key;
  if (!reply || !KvKeyOrReply(request, reply, &key)) return;
  protocol::KvReply out;
  auto value = store_->Get(kKvTable, key);
  if (!value.ok()) {
    out.error = value.status().message();
  } else if (value->has_value()) {
    out.found = true;
    out.value = std::move(**value);
  }
  reply(protocol::Encode(MessageType::kKvReply, out));
}

void GcsServer::OnKvDelete(protocol::KvRequest request, ReplyFn reply) {
  std::string key;
  if (!reply || !KvKeyOrReply(request, reply, &key)) return;
  protocol::KvReply out;
  auto value = store_->Get(kKvTable, key);
  if (!value.ok()) {
    out.error = value.status().message();
  } else if (value->has_value()) {
    out.found = true;
    Status st = store_->Delete(kKvTable, key);
    out.error = st.message();
  }
  reply(protocol::Encode(MessageType::kKvReply, out));
}

void GcsServer::OnKvList(protocol::KvRequest request, ReplyFn reply) {
  std::string prefix;
  if (!reply || !KvKeyOrReply(request, reply, &prefix)) return;
  protocol::KvReply out;
  auto all = store_->GetAll(kKvTable);
  if (!all.ok()) {
    out.error = all.status().message();
  } else {
    for (const auto& [key, value] : *all) {
      if (key.starts_with(prefix)) out.keys.push_back(key.substr(request.ns.size() + 1));
    }
  }
  reply(protocol::Encode(MessageType::kKvReply, out));
}

}  // namespace rayk
