// GcsServer: the cluster's metadata service (node table, job table), built on
// the gcs slot's table store and served through the transport slot.
//
// It keeps the node table, the actor directory (gcs_actor_manager.h) (registrations and the resource reports
// raylets send every report period) and the job table. A node whose reports
// stop for `node_timeout` is shown dead. Thread-safe: the transport calls the
// handler on one thread and a mutex guards the tables.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "gcs_actor_manager.h"
#include "protocol.h"
#include "rayk/gcs_store.h"
#include "rayk/transport.h"

namespace rayk {

class GcsServer {
 public:
  static Result<std::unique_ptr<GcsServer>> Start(std::shared_ptr<Transport> transport,
                                                   std::shared_ptr<GcsStore> store,
                                                   std::shared_ptr<Scheduler> scheduler,
                                                   const std::string& endpoint);
  std::string endpoint() const { return server_->endpoint(); }

  static constexpr std::chrono::milliseconds kNodeTimeout{10000};

 private:
  GcsServer(std::shared_ptr<Transport> transport, std::shared_ptr<GcsStore> store,
            std::shared_ptr<Scheduler> scheduler);
  ClusterView View();
  void Handle(std::string message, ReplyFn reply);
  protocol::ClusterStatus ClusterStatusLocked();

  std::shared_ptr<Transport> transport_;
  std::shared_ptr<GcsStore> store_;
  std::mutex mu_;
  std::map<NodeId, protocol::NodeInfo> nodes_;
  std::map<NodeId, std::chrono::steady_clock::time_point> last_report_;
  std::map<JobId, protocol::JobInfo> jobs_;
  std::unique_ptr<GcsActorManager> actors_;
  std::unique_ptr<Server> server_;  // last: stops before the state it uses goes
};

}  // namespace rayk
