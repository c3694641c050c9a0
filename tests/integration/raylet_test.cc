// The raylet's worker pool and leases, driven over the wire as an owner
// would: workers start on demand, are reused, are capped by the node's CPUs,
// and infeasible demands are answered at once.
#include "raylet/raylet.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "cluster_fixture.h"
#include "gcs/gcs_server.h"
#include "process/cluster_secret.h"
#include "rayk/host/plugin_loader.h"
#include "rayk/plugin/gcs_store.h"
#include "rpc/protocol.h"
#include "test_util.h"

namespace rayk {
namespace {

using protocol::LeaseReply;
using protocol::MessageType;
using ::testing::HasSubstr;

class RayletTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PluginLoader loader;
    Config config = testing::TestConfig();
    // The default GCS store (sqlite) needs a session folder; this GCS needs none.
    config.SelectPlugin(PluginKind::kGcs, "memory");
    // One cluster secret for this process's transport and, through the
    // environment, for the workers the raylet starts.
    setenv(kAuthTokenEnv, "raylet-test-secret-0123456789abcdef", 1);
    PluginContext member;
    member.cluster_secret = "raylet-test-secret-0123456789abcdef";
    transport_ = *loader.CreateSlot<Transport>(config, member);
    auto store = *loader.CreateSlot<GcsStore>(config, {});
    auto scheduler = *loader.CreateSlot<Scheduler>(config, {});
    gcs_ = std::move(GcsServer::Start(GcsServer::Options{}, transport_, store, scheduler).value());
    std::filesystem::create_directories(session_.path() + "/logs");
    Raylet::Options options;
    options.resources = ResourceSet{{"CPU", 2}};
    options.gcs_address = gcs_->endpoint();
    options.session_dir = session_.path();
    options.config_file = testing::TestConfigFile();  // for the workers it starts
    raylet_ = std::move(
        Raylet::Start(options, transport_, *loader.CreateSlot<Scheduler>(config, {})).value());
    channel_ = std::move(transport_->Connect(raylet_->endpoint()).value());
  }
  void TearDown() override {
    channel_.reset();
    raylet_.reset();
    gcs_.reset();
    unsetenv(kAuthTokenEnv);
  }

  // Asks for a lease and returns the reply, or nullopt if none came in `wait`.
  // The job is registered with the GCS first (with no code), as a driver
  // would: raylets start workers only for jobs the GCS has a record of.
  std::optional<LeaseReply> Lease(const JobId& job, ResourceSet demand,
                                  std::chrono::milliseconds wait) {
    if (registered_.insert(job).second) {
      auto gcs = transport_->Connect(gcs_->endpoint());
      protocol::RegisterJob record;
      record.job.job_id = job;
      auto reply = (*gcs)->CallSync(protocol::Encode(MessageType::kRegisterJob, record), wait);
      if (!reply.ok() || !protocol::Decode<protocol::Empty>(*reply).ok()) return std::nullopt;
    }
    protocol::RequestWorkerLease request;
    request.request_id = ++requests_;
    request.job_id = job;
    request.resources = std::move(demand);
    request.owner_address = "tcp://127.0.0.1:1";
    auto reply =
        channel_->CallSync(protocol::Encode(MessageType::kRequestWorkerLease, request), wait);
    if (!reply.ok()) return std::nullopt;
    return *protocol::Decode<LeaseReply>(*reply);
  }
  // A bundle request (kPrepareBundles, kCommitBundles, ...) and its status.
  template <class Body>
  Status CallBundles(MessageType type, const Body& body) {
    auto reply = channel_->CallSync(protocol::Encode(type, body), std::chrono::seconds(10));
    return reply.ok() ? protocol::Decode<protocol::Empty>(*reply).status() : reply.status();
  }
  // A lease of 1 CPU in bundle `index` of `group`, or nullopt if none came in `wait`.
  std::optional<LeaseReply> LeaseInBundle(const JobId& job, const PlacementGroupId& group,
                                          int64_t index, std::chrono::milliseconds wait) {
    protocol::RequestWorkerLease request;
    request.request_id = ++requests_;
    request.job_id = job;
    request.resources = ResourceSet{{"CPU", 1}};
    request.owner_address = "tcp://127.0.0.1:1";
    request.placement.placement_group = group;
    request.placement.bundle_index = index;
    auto reply =
        channel_->CallSync(protocol::Encode(MessageType::kRequestWorkerLease, request), wait);
    if (!reply.ok()) return std::nullopt;
    return *protocol::Decode<LeaseReply>(*reply);
  }
  void Return(uint64_t lease) {
    auto reply = channel_->CallSync(
        protocol::Encode(MessageType::kReturnWorker, protocol::ReturnWorker{lease, false}),
        std::chrono::seconds(10));
    ASSERT_TRUE(reply.ok());
  }

  testing::TempDir session_;
  std::shared_ptr<Transport> transport_;
  std::unique_ptr<GcsServer> gcs_;
  std::unique_ptr<Raylet> raylet_;
  std::unique_ptr<Channel> channel_;
  uint64_t requests_ = 0;
  std::set<JobId> registered_;
};

TEST_F(RayletTest, WorkersStartOnDemandAndAreReused) {
  JobId job = JobId::FromRandom();
  auto first = Lease(job, ResourceSet{{"CPU", 1}}, std::chrono::seconds(30));
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->result, LeaseReply::Result::kGranted) << first->reason;
  EXPECT_GT(first->worker_pid, 0);
  Return(first->lease_id);
  auto second = Lease(job, ResourceSet{{"CPU", 1}}, std::chrono::seconds(30));
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->worker_id, first->worker_id);  // the idle worker, not a new process
  EXPECT_EQ(second->worker_pid, first->worker_pid);
}

TEST_F(RayletTest, LeasesAreCappedByCpus) {
  JobId job = JobId::FromRandom();
  auto a = Lease(job, ResourceSet{{"CPU", 1}}, std::chrono::seconds(30));
  auto b = Lease(job, ResourceSet{{"CPU", 1}}, std::chrono::seconds(30));
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->worker_pid, b->worker_pid);
  // A third waits while both CPUs are leased...
  EXPECT_FALSE(Lease(job, ResourceSet{{"CPU", 1}}, std::chrono::milliseconds(300)).has_value());
  // ...and is granted once one comes back (the earlier request was queued, so
  // the freed worker goes to it; ask again to see a grant).
  Return(a->lease_id);
  Return(b->lease_id);
  auto c = Lease(job, ResourceSet{{"CPU", 1}}, std::chrono::seconds(30));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->result, LeaseReply::Result::kGranted);
}

// As in Ray, a demand no node can meet waits (a node that fits may join)
// and is reported to the GCS as infeasible, for `rayk status`.
TEST_F(RayletTest, InfeasibleDemandWaitsAndIsReported) {
  EXPECT_FALSE(Lease(JobId::FromRandom(), ResourceSet{{"CPU", 1}, {"GPU", 2}},
                     std::chrono::milliseconds(500)));
  auto gcs = transport_->Connect(gcs_->endpoint());
  ASSERT_TRUE(gcs.ok());
  bool reported = false;
  for (int i = 0; i < 50 && !reported; ++i) {
    auto reply = (*gcs)->CallSync(
        protocol::Encode(MessageType::kGetClusterStatus, protocol::GetClusterStatus{}),
        std::chrono::seconds(5));
    ASSERT_TRUE(reply.ok());
    auto status = protocol::Decode<protocol::ClusterStatus>(*reply);
    ASSERT_TRUE(status.ok());
    for (const auto& node : status->nodes) {
      for (const auto& demand : node.infeasible_demands)
        reported |= demand.find("GPU") != std::string::npos;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(reported);
}

TEST_F(RayletTest, JobsDoNotShareWorkers) {
  auto a = Lease(JobId::FromRandom(), ResourceSet{{"CPU", 1}}, std::chrono::seconds(30));
  ASSERT_TRUE(a.has_value());
  Return(a->lease_id);
  auto b = Lease(JobId::FromRandom(), ResourceSet{{"CPU", 1}}, std::chrono::seconds(30));
  ASSERT_TRUE(b.has_value());
  EXPECT_NE(a->worker_pid, b->worker_pid);
}

}  // namespace
}  // namespace rayk

namespace rayk {
namespace {

// Placement-group bundles over the wire, as the GCS reserves them: a prepare
// holds all of its bundles or none, a commit turns them into bundle resources
// that only leases in the group use, and a release for a removed group gives
// the resources back and fails the group's later leases.
TEST_F(RayletTest, BundlesArePreparedCommittedAndReleased) {
  PlacementGroupId group = PlacementGroupId::FromRandom();
  auto call = [&](MessageType type, const auto& body) { return CallBundles(type, body); };
  // 3 CPUs in two bundles do not fit 2: refused, and nothing is held.
  Status too_big = call(MessageType::kPrepareBundles,
                        protocol::BundleReservation{
                            group, {0, 1}, {ResourceSet{{"CPU", 1}}, ResourceSet{{"CPU", 2}}}});
  EXPECT_FALSE(too_big.ok());
  EXPECT_THAT(too_big.message(), HasSubstr("its bundles need"));
  protocol::BundleReservation one{group, {0}, {ResourceSet{{"CPU", 1}}}};
  ASSERT_TRUE(call(MessageType::kPrepareBundles, one).ok());
  ASSERT_TRUE(call(MessageType::kPrepareBundles, one).ok()) << "a repeated prepare is a no-op";
  EXPECT_THAT(
      call(MessageType::kCommitBundles, protocol::BundleReservation{group, {5}, {}}).message(),
      HasSubstr("was not prepared"));
  ASSERT_TRUE(call(MessageType::kCommitBundles, protocol::BundleReservation{group, {0}, {}}).ok());

  // A lease in the bundle is granted out of the bundle's CPU.
  JobId job = JobId::FromRandom();
  auto in_bundle = [&](std::chrono::milliseconds wait) {
    return LeaseInBundle(job, group, 0, wait);
  };
  ASSERT_TRUE(Lease(job, ResourceSet{{"CPU", 0.5}}, std::chrono::seconds(30)).has_value());
  auto granted = in_bundle(std::chrono::seconds(30));
  ASSERT_TRUE(granted.has_value());
  EXPECT_EQ(granted->result, LeaseReply::Result::kGranted) << granted->reason;

  // Removed: its lease ends, later ones fail at once, and the CPU is back.
  ASSERT_TRUE(call(MessageType::kReleaseBundles, protocol::ReleaseBundles{group, true}).ok());
  auto refused = in_bundle(std::chrono::seconds(10));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->result, LeaseReply::Result::kFailed);
  EXPECT_THAT(refused->reason, HasSubstr("was removed"));
  auto whole = Lease(job, ResourceSet{{"CPU", 1.5}}, std::chrono::seconds(30));
  ASSERT_TRUE(whole.has_value()) << "the bundle's CPU is free again";
  EXPECT_EQ(whole->result, LeaseReply::Result::kGranted) << whole->reason;
}

// An aborted reservation attempt is undone bundle by bundle (kCancelBundles,
// as the GCS sends to every node of the attempt): a prepared bundle gives its
// resources back, a committed one ends its lease and goes too, and the
// group's other bundles on the node stay.
TEST_F(RayletTest, CancelledBundlesGiveBackTheirResourcesAndTheOthersStay) {
  PlacementGroupId group = PlacementGroupId::FromRandom();
  ASSERT_TRUE(CallBundles(MessageType::kPrepareBundles,
                          protocol::BundleReservation{group, {0}, {ResourceSet{{"CPU", 1}}}})
                  .ok());
  ASSERT_TRUE(
      CallBundles(MessageType::kCommitBundles, protocol::BundleReservation{group, {0}, {}}).ok());
  ASSERT_TRUE(CallBundles(MessageType::kPrepareBundles,
                          protocol::BundleReservation{group, {1}, {ResourceSet{{"CPU", 1}}}})
                  .ok());
  // Both CPUs are held. Cancelling bundle 1 (and one this node never had)
  // gives its CPU back.
  ASSERT_TRUE(
      CallBundles(MessageType::kCancelBundles, protocol::BundleReservation{group, {1, 7}, {}})
          .ok());
  JobId job = JobId::FromRandom();
  auto outside = Lease(job, ResourceSet{{"CPU", 1}}, std::chrono::seconds(30));
  ASSERT_TRUE(outside.has_value()) << "bundle 1's CPU is free again";
  ASSERT_EQ(outside->result, LeaseReply::Result::kGranted) << outside->reason;
  Return(outside->lease_id);
  // Bundle 0 stayed: a lease in it is granted.
  auto in_bundle = LeaseInBundle(job, group, 0, std::chrono::seconds(30));
  ASSERT_TRUE(in_bundle.has_value());
  ASSERT_EQ(in_bundle->result, LeaseReply::Result::kGranted) << in_bundle->reason;
  // Cancelling the committed bundle ends its lease and frees everything.
  ASSERT_TRUE(
      CallBundles(MessageType::kCancelBundles, protocol::BundleReservation{group, {0}, {}}).ok());
  auto whole = Lease(job, ResourceSet{{"CPU", 2}}, std::chrono::seconds(30));
  ASSERT_TRUE(whole.has_value()) << "both CPUs are free again";
  EXPECT_EQ(whole->result, LeaseReply::Result::kGranted) << whole->reason;
}

}  // namespace
}  // namespace rayk
