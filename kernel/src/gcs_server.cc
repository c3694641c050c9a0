#include "gcs_server.h"

#include <spdlog/spdlog.h>

#include "session.h"

namespace rayk {

namespace {
constexpr char kNodeTable[] = "nodes";
constexpr char kJobTable[] = "jobs";
}  // namespace

GcsServer::GcsServer(std::shared_ptr<Transport> transport, std::shared_ptr<GcsStore> store,
                     std::shared_ptr<Scheduler> scheduler)
    : transport_(std::move(transport)), store_(std::move(store)) {
  actors_ = std::make_unique<GcsActorManager>(transport_, std::move(scheduler), store_, [this] { return View(); });
}

ClusterView GcsServer::View() {
  std::lock_guard<std::mutex> lock(mu_);
  ClusterView view;
  auto now = std::chrono::steady_clock::now();
  for (const auto& [id, node] : nodes_) {
    auto report = last_report_.find(id);
    if (!node.alive || report == last_report_.end() || now - report->second > kNodeTimeout) continue;
    NodeView v;
    v.node_id = id;
    v.address = node.raylet_address;
    v.total = node.total;
    v.available = node.available;
    v.labels = node.labels;
    v.queue_length = node.pending_leases;
    view.nodes.push_back(std::move(v));
  }
  return view;
}

Result<std::unique_ptr<GcsServer>> GcsServer::Start(std::shared_ptr<Transport> transport,
                                                    std::shared_ptr<GcsStore> store,
                                                    std::shared_ptr<Scheduler> scheduler,
                                                    const std::string& endpoint) {
  std::unique_ptr<GcsServer> gcs(new GcsServer(transport, std::move(store), std::move(scheduler)));
  // Reload what a durable store kept from an earlier run of this GCS.
  auto nodes = gcs->store_->GetAll(kNodeTable);
  if (!nodes.ok()) return nodes.status();
  for (const auto& [key, value] : *nodes) {
    auto node = protocol::Decode<protocol::RegisterNode>(value);
    if (node.ok()) gcs->nodes_[node->node.node_id] = node->node;
  }
  auto jobs = gcs->store_->GetAll(kJobTable);
  if (!jobs.ok()) return jobs.status();
  for (const auto& [key, value] : *jobs) {
    auto job = protocol::Decode<protocol::RegisterJob>(value);
    if (job.ok()) gcs->jobs_[job->job.job_id] = job->job;
  }
  GcsServer* self = gcs.get();
  auto server = transport->Serve(endpoint, [self](std::string m, ReplyFn r) { self->Handle(std::move(m), std::move(r)); });
  if (!server.ok()) return server.status();
  gcs->server_ = std::move(*server);
  gcs->actors_->Start(gcs->server_->endpoint());
  return gcs;
}

protocol::ClusterStatus GcsServer::ClusterStatusLocked() {
  protocol::ClusterStatus status;
  auto now = std::chrono::steady_clock::now();
  for (auto& [id, node] : nodes_) {
    auto report = last_report_.find(id);
    if (node.alive && (report == last_report_.end() || now - report->second > kNodeTimeout)) {
      node.alive = false;
      spdlog::warn("node {} missed its reports for {} ms; marking it dead", id.Hex(), kNodeTimeout.count());
    }
    status.nodes.push_back(node);
  }
  for (const auto& [id, job] : jobs_) status.jobs.push_back(job);
  return status;
}

void GcsServer::Handle(std::string message, ReplyFn reply) {
  using protocol::MessageType;
  auto type = protocol::PeekType(message);
  if (!type.ok()) {
    spdlog::error("gcs: dropped a message: {}", type.status().message());
    return;
  }
  auto ack = [&reply] {
    if (reply) reply(protocol::Encode(MessageType::kAck, protocol::Empty{}));
  };
  // Actor messages go to the actor manager without mu_: it asks View(),
  // which takes mu_, while holding its own lock.
  switch (*type) {
    case MessageType::kRegisterActor: {
      auto body = protocol::Decode<protocol::RegisterActor>(message);
      if (body.ok() && reply) actors_->HandleRegister(std::move(*body), std::move(reply));
      return;
    }
    case MessageType::kGetActor: {
      auto body = protocol::Decode<protocol::GetActor>(message);
      if (body.ok() && reply) actors_->HandleGet(std::move(*body), std::move(reply));
      return;
    }
    case MessageType::kKillActor: {
      auto body = protocol::Decode<protocol::KillActor>(message);
      if (body.ok()) actors_->HandleKill(std::move(*body), std::move(reply));
      return;
    }
    case MessageType::kListActors:
      if (reply) actors_->HandleList(std::move(reply));
      return;
    case MessageType::kWorkerDied: {
      auto body = protocol::Decode<protocol::WorkerDied>(message);
      if (body.ok()) actors_->HandleWorkerDied(*body);
      return;
    }
    case MessageType::kFinishJob: {
      auto body = protocol::Decode<protocol::FinishJob>(message);
      if (body.ok()) actors_->HandleJobFinished(body->job_id);
      break;  // and record the job's end below
    }
    default:
      break;
  }
  std::lock_guard<std::mutex> lock(mu_);
  switch (*type) {
    case MessageType::kRegisterNode: {
      auto body = protocol::Decode<protocol::RegisterNode>(message);
      if (!body.ok()) break;
      body->node.alive = true;
      nodes_[body->node.node_id] = body->node;
      last_report_[body->node.node_id] = std::chrono::steady_clock::now();
      Status st = store_->Put(kNodeTable, body->node.node_id.Binary(), message);
      if (!st.ok()) spdlog::error("gcs: cannot persist node {}: {}", body->node.node_id.Hex(), st.message());
      spdlog::info("node {} registered at {} with {}", body->node.node_id.Hex(), body->node.raylet_address,
                   body->node.total.ToJson());
      ack();
      return;
    }
    case MessageType::kReportResources: {
      auto body = protocol::Decode<protocol::ReportResources>(message);
      if (!body.ok()) break;
      body->node.alive = true;
      nodes_[body->node.node_id] = body->node;
      last_report_[body->node.node_id] = std::chrono::steady_clock::now();
      ack();
      return;
    }
    case MessageType::kGetClusterStatus:
      if (reply) reply(protocol::Encode(MessageType::kClusterStatus, ClusterStatusLocked()));
      return;
    case MessageType::kRegisterJob: {
      auto body = protocol::Decode<protocol::RegisterJob>(message);
      if (!body.ok()) break;
      jobs_[body->job.job_id] = body->job;
      Status st = store_->Put(kJobTable, body->job.job_id.Binary(), message);
      if (!st.ok()) spdlog::error("gcs: cannot persist job {}: {}", body->job.job_id.Hex(), st.message());
      ack();
      return;
    }
    case MessageType::kFinishJob: {
      auto body = protocol::Decode<protocol::FinishJob>(message);
      if (!body.ok()) break;
      auto it = jobs_.find(body->job_id);
      if (it != jobs_.end()) {
        it->second.finished = true;
        it->second.end_time_ms = NowMs();
        Status st = store_->Put(kJobTable, body->job_id.Binary(),
                                protocol::Encode(MessageType::kRegisterJob, protocol::RegisterJob{it->second}));
        if (!st.ok()) spdlog::error("gcs: cannot persist job end: {}", st.message());
      }
      ack();
      return;
    }
    default:
      spdlog::error("gcs: unexpected message type {}", static_cast<int>(*type));
      return;
  }
  spdlog::error("gcs: dropped a malformed message of type {}", static_cast<int>(*type));
}

}  // namespace rayk
