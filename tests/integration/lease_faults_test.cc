// Leases whose worker or node dies around the grant (issue 15, the chaos
// run's hangs). A raylet tells a lease's owner of its worker's death on
// another connection than the one the grant travels on, so the notice may
// come first; and a lease request waiting at a raylet whose node dies is never
// answered. Either way the owner must not wait for ever: a grant of a worker
// it has heard is dead is dropped and the lease asked for again, and a
// request to a dead node is made again elsewhere.
//
// Those orders are rare in a real cluster, so a fake node plays them out on
// cue: a node registered with the GCS (it reports and heartbeats as a raylet
// does) that alone has the resource "fake", so that every lease for it comes
// to its handler, served in this process on the driver's transport.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "core_worker/core_worker.h"
#include "dev_cluster.h"
#include "functions/test_functions.h"
#include "gcs/gcs_client.h"
#include "rpc/protocol.h"

namespace rayk {
namespace {

using protocol::MessageType;
using test_functions::Add;
using test_functions::Counter;
using ::testing::HasSubstr;

// A node that only the GCS's tables know: it serves lease requests with
// `on_lease` (on a thread of its own, so the handler may wait) and reports
// to the GCS until Silence() (the GCS then declares it dead after its node
// timeout) or its end.
class FakeNode {
 public:
  using LeaseHandler =
      std::function<void(FakeNode& node, const protocol::RequestWorkerLease&, ReplyFn)>;

  FakeNode(const testing::DevCluster& cluster, LeaseHandler on_lease)
      : transport_(Core().transport()), on_lease_(std::move(on_lease)) {
    auto server = transport_.Serve("tcp://127.0.0.1:0", [this](std::string message, ReplyFn reply) {
      auto type = protocol::PeekType(message);
      if (!type.ok() || *type != MessageType::kRequestWorkerLease || !reply) return;
      auto request = protocol::Decode<protocol::RequestWorkerLease>(message);
      if (!request.ok()) return;
      ++leases_asked_;
      std::lock_guard<std::mutex> lock(mu_);
      handlers_.emplace_back(
          [this, request = *request, reply] { on_lease_(*this, request, reply); });
    });
    if (!server.ok()) throw std::runtime_error(server.status().message());
    server_ = std::move(*server);
    auto gcs = GcsClient::Connect(transport_, "tcp://" + cluster.address());
    if (!gcs.ok()) throw std::runtime_error(gcs.status().message());
    gcs_ = std::move(*gcs);
    info_.node_id = NodeId::FromRandom();
    info_.raylet_address = server_->endpoint();
    info_.total.Set("fake", 1);
    info_.available.Set("fake", 1);
    info_.pid = getpid();
    auto registered =
        gcs_->CallSync(protocol::Encode(MessageType::kRegisterNode, protocol::RegisterNode{info_}));
    if (!registered.ok()) throw std::runtime_error(registered.status().message());
    reporter_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!silent_) {
        (void)gcs_->Send(
            protocol::Encode(MessageType::kReportResources, protocol::ReportResources{info_}));
        wake_.wait_for(lock, std::chrono::milliseconds(200), [this] { return silent_; });
      }
    });
  }
  ~FakeNode() {
    Silence();
    reporter_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (std::thread& handler : handlers_) handler.join();
  }

  // Stops reporting: to the GCS, the node dies.
  void Silence() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      silent_ = true;
    }
    wake_.notify_all();
  }
  int leases_asked() const { return leases_asked_; }
  const NodeId& node_id() const { return info_.node_id; }

  static CoreWorker& Core() { return *dynamic_cast<CoreWorker*>(internal::CurrentRuntime()); }

  // A grant of a worker at an address nobody serves.
  protocol::LeaseReply Grant(const protocol::RequestWorkerLease& request,
                             const WorkerId& worker) const {
    protocol::LeaseReply grant;
    grant.result = protocol::LeaseReply::Result::kGranted;
    grant.request_id = request.request_id;
    grant.lease_id = 7;
    grant.worker_id = worker;
    grant.worker_address = "tcp://127.0.0.1:" + std::to_string(testing::FreePort());
    grant.worker_pid = 999999;
    grant.node_id = info_.node_id;
    return grant;
  }
  static protocol::LeaseReply Refusal(const protocol::RequestWorkerLease& request,
                                      const std::string& reason) {
    protocol::LeaseReply refusal;
    refusal.result = protocol::LeaseReply::Result::kFailed;
    refusal.request_id = request.request_id;
    refusal.reason = reason;
    return refusal;
  }
  static void Answer(const ReplyFn& reply, const protocol::LeaseReply& answer) {
    reply(protocol::Encode(MessageType::kLeaseReply, answer));
  }

 private:
  Transport& transport_;
  LeaseHandler on_lease_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<GcsClient> gcs_;
  protocol::NodeInfo info_;
  std::atomic<int> leases_asked_{0};
  std::mutex mu_;
  std::condition_variable wake_;
  bool silent_ = false;
  std::vector<std::thread> handlers_;
  std::thread reporter_;
};

constexpr auto kPatience = std::chrono::seconds(60);

// Sends the owner of `request` a raylet's notice that `worker` died, and
// returns once the owner has handled it: the GCS answers the notice; a core
// worker answers a request sent after it on the same channel, in order.
void NotifyOwnerOfDeath(const testing::DevCluster& cluster,
                        const protocol::RequestWorkerLease& request, const WorkerId& worker) {
  Transport& transport = FakeNode::Core().transport();
  std::string notice =
      protocol::Encode(MessageType::kWorkerDied, protocol::WorkerDied{worker, 7, "killed"});
  const std::string gcs_port = cluster.address().substr(cluster.address().rfind(':'));
  if (request.owner_address.size() > gcs_port.size() &&
      request.owner_address.compare(request.owner_address.size() - gcs_port.size(), gcs_port.size(),
                                    gcs_port) == 0) {
    // The GCS (it leases for actors) takes notices as calls, as from a raylet.
    auto gcs = GcsClient::Connect(transport, "tcp://" + cluster.address());
    ASSERT_TRUE(gcs.ok()) << gcs.status().message();
    ASSERT_TRUE((*gcs)->CallSync(notice).ok());
    return;
  }
  auto owner = transport.Connect(request.owner_address);
  ASSERT_TRUE(owner.ok()) << owner.status().message();
  ASSERT_TRUE((*owner)->Send(notice).ok());
  ASSERT_TRUE(
      (*owner)
          ->CallSync(protocol::Encode(MessageType::kListOwnedObjects, protocol::ListOwnedObjects{}),
                     std::chrono::seconds(30))
          .ok());
}

// A fake node's handler: the first lease request gets its worker's death
// notice, then its grant; later ones are refused, with a reason the caller's
// error shows.
FakeNode::LeaseHandler GrantADeadWorkerOnce(const testing::DevCluster& cluster) {
  return [&cluster](FakeNode& node, const protocol::RequestWorkerLease& request, ReplyFn reply) {
    if (node.leases_asked() > 1) {
      FakeNode::Answer(reply, FakeNode::Refusal(request, "the fake node grants one lease only"));
      return;
    }
    const WorkerId worker = WorkerId::FromRandom();
    NotifyOwnerOfDeath(cluster, request, worker);
    FakeNode::Answer(reply, node.Grant(request, worker));
  };
}

TEST(LeaseFaultsTest, ADriverDropsTheGrantOfAWorkerItHeardDiedAndAsksAgain) {
  testing::DevCluster cluster({.nodes = 1});
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  FakeNode fake(cluster, GrantADeadWorkerOnce(cluster));
  auto result = Task(Add).SetResource("CPU", 0).SetResource("fake", 1).Remote(1, 2);
  // Pushed to the dead worker, the task would wait for ever.
  EXPECT_THAT(testing::ErrorOf([&] { Get(result, kPatience); }),
              HasSubstr("the fake node grants one lease only"));
  EXPECT_EQ(fake.leases_asked(), 2);
}

TEST(LeaseFaultsTest, TheGcsDropsTheGrantOfAWorkerItHeardDiedAndAsksAgain) {
  testing::DevCluster cluster({.nodes = 1});
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  FakeNode fake(cluster, GrantADeadWorkerOnce(cluster));
  auto counter = Actor(Counter::Create).SetResource("fake", 1).Remote(0);
  auto value = counter.Task(&Counter::Value).Remote();
  // Sent the factory, the dead worker would leave the actor pending for ever.
  EXPECT_THAT(testing::ErrorOf([&] { Get(value, kPatience); }),
              HasSubstr("the fake node grants one lease only"));
  EXPECT_EQ(fake.leases_asked(), 2);
}

TEST(LeaseFaultsTest, TheGcsAsksAgainForAnActorLeaseWaitingAtANodeThatDied) {
  testing::DevCluster cluster({.nodes = 1, .node_timeout_ms = 2000});
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  // The first node never answers, and dies once it has the request.
  std::promise<void> asked;
  auto silent = std::make_unique<FakeNode>(
      cluster, [&](FakeNode& node, const protocol::RequestWorkerLease&, ReplyFn) {
        if (node.leases_asked() == 1) asked.set_value();
      });
  auto counter = Actor(Counter::Create).SetResource("fake", 1).Remote(0);
  auto value = counter.Task(&Counter::Value).Remote();
  ASSERT_EQ(asked.get_future().wait_for(kPatience), std::future_status::ready);
  silent->Silence();
  ASSERT_TRUE(testing::PollUntil([&] { return cluster.Status()["alive_nodes"] == 1; }));
  // Another node that could hold it: the actor's lease is asked of it.
  FakeNode second(
      cluster, [](FakeNode&, const protocol::RequestWorkerLease& request, ReplyFn reply) {
        FakeNode::Answer(reply, FakeNode::Refusal(request, "the second fake node refuses"));
      });
  EXPECT_THAT(testing::ErrorOf([&] { Get(value, kPatience); }),
              HasSubstr("the second fake node refuses"));
  EXPECT_EQ(second.leases_asked(), 1);
}

}  // namespace
}  // namespace rayk
