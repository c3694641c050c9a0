// GcsServer: the cluster's metadata service, built on the gcs slot's table
// store and served through the transport slot.
//
// Tables: nodes (registrations and the resource reports raylets send when
// they change, and as heartbeats), jobs, their code (gcs_code_table.h), actors
// (gcs_actor_manager.h), placement groups (gcs_placement_group_manager.h) and
// the internal KV.
// Everything it must not forget is written to the GcsStore before it answers,
// so a GCS restarted on a durable store (sqlite) reloads it; raylets and core
// workers retry their GCS calls (gcs_client.h) and re-report on their own.
//
// Health check: a node whose reports stop for `node_timeout` is marked dead;
// the change is persisted, published on the "node" topic and passed to the
// actor manager, which restarts the node's actors elsewhere.
// The cluster view: raylets report their state when it changes (and a
// heartbeat otherwise); the health-check thread publishes what changed on
// topic "view" every kViewPublishPeriod in which something did, so raylets
// learn of changes without asking (common/lease_policy.h).
// Requests are served through a handler table (rpc/service.h): one handler
// per message type; malformed ones get an error reply. Each request's time
// to its reply is recorded per message type, and with `metrics_port` set the
// server serves Prometheus metrics of the whole cluster over HTTP
// (observability/cluster_metrics.h), and on the same port the dashboard: a
// page polling the cluster as JSON (observability/cluster_json.h).
// Thread-safe: the transport calls the handlers on one thread, a health-check
// thread runs beside it, and a mutex guards the tables.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "gcs/gcs_actor_manager.h"
#include "gcs/gcs_code_table.h"
#include "gcs/gcs_placement_group_manager.h"
#include "gcs/gcs_worker_table.h"
#include "gcs/group_commit.h"
#include "gcs/watched_gcs_store.h"
#include "observability/cluster_metrics.h"
#include "observability/http_server.h"
#include "observability/latency_histograms.h"
#include "observability/task_table.h"
#include "rayk/plugin/gcs_store.h"
#include "rayk/plugin/transport.h"
#include "rpc/protocol.h"
#include "rpc/service.h"

namespace rayk {

class GcsServer {
 public:
  struct Options {
    std::string endpoint = "tcp://127.0.0.1:0";
    std::string publisher_endpoint = "tcp://127.0.0.1:0";
    std::chrono::milliseconds node_timeout{10000};
    uint32_t restarts = 0;                       // > 0: a supervisor restarted this GCS
    std::string store_plugin;                    // the gcs slot's plugin, for messages
    std::map<std::string, std::string> plugins;  // every slot's, for `rayk status`
    // Prometheus metrics over HTTP at http://<metrics_host>:<metrics_port>/metrics,
    // and the dashboard at /; 0: a free port; -1: none.
    std::string metrics_host = "127.0.0.1";
    int metrics_port = -1;
    // The cluster secret, which /api/cluster then requires (/metrics and the
    // page's files stay open: observability/http_server.h); "": none.
    std::string http_secret;
    // With the HTTP server: the Jobs API at /api/jobs (job_submission/job_manager.h),
    // keeping its jobs in this folder; "": none.
    std::string jobs_dir;
  };

  static Result<std::unique_ptr<GcsServer>> Start(Options options,
                                                  std::shared_ptr<Transport> transport,
                                                  std::shared_ptr<GcsStore> store,
                                                  std::shared_ptr<Scheduler> scheduler);
  ~GcsServer();

  std::string endpoint() const { return server_->endpoint(); }
  std::string publisher_endpoint() const { return publisher_->endpoint(); }
  // HOST:PORT of the metrics server; empty without one.
  std::string metrics_address() const { return info_.metrics_address; }

 private:
  GcsServer(Options options, std::shared_ptr<Transport> transport, std::shared_ptr<GcsStore> store,
            std::shared_ptr<Scheduler> scheduler);
  Status Load();
  ClusterView View();
  std::map<NodeId, std::string> NodeAddresses();  // of the alive nodes
  // The view placement groups are placed on: each alive node's own
  // resources, without the bundle resources of the groups placed already
  // (four names a bundle, hundreds with many groups, which every placement
  // would copy and scan). Built once per view version and shared.
  std::shared_ptr<const ClusterView> PlacementView();
  // One handler per message type (RegisterHandlers lists them).
  void RegisterHandlers();
  void OnNodeState(protocol::NodeInfo node, ReplyFn reply);  // kRegisterNode, kReportResources
  void OnGetClusterView(protocol::GetClusterView request, ReplyFn reply);
  void OnGetClusterStatus(protocol::GetClusterStatus request, ReplyFn reply);
  void OnRegisterJob(protocol::RegisterJob request, ReplyFn reply);
  void OnFinishJob(protocol::FinishJob request, ReplyFn reply);
  void OnGetJob(protocol::GetJob request, ReplyFn reply);
  // Owner deaths (gcs_worker_table.h): recorded, and published on "worker".
  void ReportWorkerLife(const protocol::WorkerLife& life);
  void ReportWorkerLifeLocked(const protocol::WorkerLife& life);
  void OnPutCode(protocol::PutCode request, ReplyFn reply);
  void OnGetCode(protocol::GetCode request, ReplyFn reply);
  void OnKvPut(protocol::KvRequest request, ReplyFn reply);
  void OnKvGet(protocol::KvRequest request, ReplyFn reply);
  void OnKvDelete(protocol::KvRequest request, ReplyFn reply);
  void OnKvList(protocol::KvRequest request, ReplyFn reply);
  bool KvKeyOrReply(const protocol::KvRequest& request, const ReplyFn& reply, std::string* key);
  void HealthCheckLoop();
  // The transport's handler: the handler table, timed per message type.
  MessageHandler TimedHandler();
  // What the metrics server's views show (/metrics, /api/cluster): the
  // tables under their locks, and each alive node's store statistics.
  observability::ClusterSnapshot Snapshot();
  // Queues a node's new state for the store (commits_) and, once it is
  // written, tells subscribers and acks `reply` (if any): a registration
  // answered means the node is on disk. Registrations arriving together
  // share one fsync; one write per node each was what bounded a thousand
  // raylets joining at once (bench/README.md, "The GCS with thousands of
  // nodes").
  void PersistAndPublishLocked(const protocol::NodeInfo& node, ReplyFn reply = nullptr);
  void BumpViewLocked(const NodeId& node) { node_version_[node] = ++view_version_; }
  // The nodes that changed since `known_version` of incarnation `known_incarnation`
  // (all of them, full, for another incarnation).
  protocol::ClusterViewDelta ViewDeltaLocked(uint64_t known_version, uint64_t known_incarnation);
  // Publishes the view's changes since the last publication, if any.
  void PublishViewLocked();

  Options options_;
  std::shared_ptr<Transport> transport_;
  std::shared_ptr<WatchedGcsStore> store_;  // the plugin's store, its failures noted for status
  std::shared_ptr<GroupCommit> commits_;    // node and placement group records go through it
  protocol::GcsInfo info_;

  std::mutex mu_;
  std::map<NodeId, protocol::NodeInfo> nodes_;
  std::map<NodeId, std::chrono::steady_clock::time_point> last_report_;
  std::map<JobId, protocol::JobInfo> jobs_;
  // The cluster view's version: bumped whenever a node's resources, labels
  // or liveness change; each node remembers the version of its last change,
  // so a raylet gets only what changed since the version it has.
  uint64_t view_version_ = 0;
  std::map<NodeId, uint64_t> node_version_;
  // This incarnation's versions are its own: a new random number per start.
  const uint64_t incarnation_;
  uint64_t published_version_ = 0;                     // the view version last published on "view"
  std::shared_ptr<const ClusterView> placement_view_;  // PlacementView() of its version
  std::unique_ptr<GcsActorManager> actors_;
  std::unique_ptr<GcsPlacementGroupManager> placement_groups_;
  std::unique_ptr<GcsCodeTable> code_;
  GcsWorkerTable dead_owners_;
  // Task events from workers (`rayk list tasks`, `rayk timeline`); own lock,
  // so that a flood of reports never waits behind the node table.
  std::mutex tasks_mu_;
  observability::TaskTable tasks_{100000};
  std::unique_ptr<Publisher> publisher_;

  std::atomic<bool> stopping_{false};
  // When the request being handled now started (steady-clock ms; 0: none):
  // one that takes long (a store retrying through an outage) keeps every
  // other request waiting, node reports included.
  std::atomic<int64_t> handling_since_ms_{0};
  bool was_deaf_ = false;  // the health check thread's own
  std::thread health_check_;
  protocol::Service service_{"gcs", protocol::kGcsMaxMessageBytes};
  observability::LatencyHistograms request_latency_;
  std::unique_ptr<Server> server_;                      // stops before the state it uses goes
  std::unique_ptr<observability::HttpServer> metrics_;  // likewise
};

}  // namespace rayk
