// Job code reaches workers only through the job's record (job_code/): the
// driver uploads its libraries by SHA-256 to the GCS, and raylets fetch,
// verify and cache exactly those bytes before starting the job's workers.
// Real embedded clusters; the protocol cases speak to the GCS and raylet as a
// member of the cluster (with its token) would.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "cluster_fixture.h"
#include "common/sha256.h"
#include "functions/test_functions.h"
#include "process/cluster_secret.h"
#include "process/session.h"
#include "rayk/host/plugin_loader.h"
#include "rayk/internal/function_registry.h"
#include "rayk/plugin/transport.h"
#include "rpc/protocol.h"

namespace rayk {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using protocol::MessageType;
using test_functions::Add;
using ::testing::HasSubstr;

// The library the test functions live in, as the driver finds it.
std::string TestFunctionsLibrary() {
  for (const std::string& path : internal::FunctionRegistry::Instance().Libraries()) {
    if (path.find("rayk_test_functions") != std::string::npos) return path;
  }
  ADD_FAILURE() << "the test functions library is not loaded";
  return "";
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs an embedded cluster whose job code is a copy of the test functions
// library in a folder of the test's, so the test can remove or change it.
class JobCodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("RAYK_SESSION_ROOT", root_.path().c_str(), 1);
    copy_ = code_dir_.path() + "/libcopied_job.so";
    fs::copy_file(TestFunctionsLibrary(), copy_);
  }
  void TearDown() override {
    if (rayk::IsInitialized()) rayk::Shutdown();
  }
  void InitWith(const std::string& library) {
    InitOptions options;
    options.num_cpus = 2;
    options.config_file = testing::TestConfigFile();
    options.code_libraries = {library};
    rayk::Init(options);
  }
  std::string Session() const { return root_.path() + "/session_latest"; }
  std::string CodeCacheDir() const { return root_.path() + "/code"; }

  // Calls the GCS or the raylet with the cluster's own token, as a member.
  Result<std::string> CallAsMember(const std::string& address_file, const std::string& message) {
    auto secret = ReadClusterSecretFile(Session() + "/" + kAuthTokenFileName);
    if (!secret.ok()) return secret.status();
    PluginContext context;
    context.cluster_secret = *secret;
    auto transport = PluginLoader().CreateSlot<Transport>(testing::TestConfig(), context);
    if (!transport.ok()) return transport.status();
    auto address = ReadFile(Session() + "/" + address_file);
    if (!address.ok()) return address.status();
    std::string endpoint = address->starts_with("tcp://") ? *address : "tcp://" + *address;
    auto channel = (*transport)->Connect(endpoint);
    if (!channel.ok()) return channel.status();
    return (*channel)->CallSync(message, 10s);
  }

  testing::TempDir root_;
  testing::TempDir code_dir_;
  std::string copy_;
};

TEST_F(JobCodeTest, AJobRunsAfterItsLibraryFileIsGoneFromTheDriversHost) {
  InitWith(copy_);
  // Registered: from here on the cluster holds the code, not the file.
  fs::remove(copy_);
  EXPECT_EQ(*rayk::Get(rayk::Task(Add).Remote(20, 22)), 42);
  // The raylet cached the library under its digest, read-only.
  const std::string digest = Sha256Hex(ReadAll(TestFunctionsLibrary()));
  const std::string cached = CodeCacheDir() + "/" + digest + "-libcopied_job.so";
  ASSERT_TRUE(fs::exists(cached)) << "no cached copy at " << cached;
  EXPECT_EQ(Sha256Hex(ReadAll(cached)), digest);
  struct stat st {};
  ASSERT_EQ(stat(cached.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0500u);
  // The job's record names the code by digest.
  auto jobs = testing::RunCommand("RAYK_SESSION_ROOT=" + root_.path() + " " + RAYK_CLI_PATH +
                                  " list jobs --format json");
  EXPECT_THAT(jobs.output, HasSubstr(digest)) << jobs.output;
  EXPECT_THAT(jobs.output, HasSubstr("libcopied_job.so")) << jobs.output;
}

TEST_F(JobCodeTest, ATamperedCacheIsFetchedAgainNotLoaded) {
  InitWith(copy_);
  ASSERT_EQ(*rayk::Get(rayk::Task(Add).Remote(1, 2)), 3);
  rayk::Shutdown();
  const std::string digest = Sha256Hex(ReadAll(copy_));
  const std::string cached = CodeCacheDir() + "/" + digest + "-libcopied_job.so";
  ASSERT_TRUE(fs::exists(cached));
  fs::permissions(cached, fs::perms::owner_write, fs::perm_options::add);
  std::ofstream(cached, std::ios::binary | std::ios::trunc) << "not the library";
  // A new cluster on the same host: the raylet finds the cached copy wrong,
  // fetches the real bytes again, and the job runs.
  InitWith(copy_);
  EXPECT_EQ(*rayk::Get(rayk::Task(Add).Remote(3, 4)), 7);
  EXPECT_EQ(Sha256Hex(ReadAll(cached)), digest);
}

TEST_F(JobCodeTest, ALibraryOthersCanWriteIsRefusedInOneLine) {
  fs::permissions(copy_, fs::perms::others_write, fs::perm_options::add);
  try {
    InitWith(copy_);
    FAIL() << "Init should refuse a library others can write";
  } catch (const RaykError& error) {
    std::string message = error.what();
    EXPECT_THAT(message, HasSubstr("code library " + fs::canonical(copy_).string()));
    EXPECT_THAT(message, HasSubstr("not writable by group or others"));
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST_F(JobCodeTest, AMissingLibraryIsRefusedInOneLine) {
  try {
    InitWith("/nonexistent/libjob.so");
    FAIL() << "Init should refuse a library that does not exist";
  } catch (const RaykError& error) {
    EXPECT_THAT(error.what(), HasSubstr("code library /nonexistent/libjob.so cannot be resolved"));
  }
}

TEST_F(JobCodeTest, TheGcsKeepsOnlyCodeThatHashesToItsName) {
  InitWith(copy_);
  std::string bytes =
      "\x7f"
      "ELF pretend library";
  protocol::PutCode lying{Sha256Hex("something else"), bytes.size(), 0, bytes};
  auto reply = CallAsMember("gcs_address", protocol::Encode(MessageType::kPutCode, lying));
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  auto refused = protocol::Decode<protocol::Empty>(*reply);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("do not hash to that digest"));
  // Nothing of it can be fetched.
  auto probe = CallAsMember(
      "gcs_address", protocol::Encode(MessageType::kGetCode, protocol::GetCode{lying.sha256, 0}));
  ASSERT_TRUE(probe.ok());
  auto chunk = protocol::Decode<protocol::CodeChunk>(*probe);
  ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
  EXPECT_FALSE(chunk->found);
  // Honest bytes are kept and come back whole.
  protocol::PutCode honest{Sha256Hex(bytes), bytes.size(), 0, bytes};
  reply = CallAsMember("gcs_address", protocol::Encode(MessageType::kPutCode, honest));
  ASSERT_TRUE(reply.ok() && protocol::Decode<protocol::Empty>(*reply).ok());
  probe = CallAsMember(
      "gcs_address", protocol::Encode(MessageType::kGetCode, protocol::GetCode{honest.sha256, 0}));
  chunk = protocol::Decode<protocol::CodeChunk>(*probe);
  ASSERT_TRUE(chunk.ok() && chunk->found);
  EXPECT_EQ(chunk->bytes, bytes);
  // A chunk that does not fit its library is refused before it is stored.
  protocol::PutCode misfit{honest.sha256, 3, 0, bytes};
  reply = CallAsMember("gcs_address", protocol::Encode(MessageType::kPutCode, misfit));
  ASSERT_TRUE(reply.ok());
  EXPECT_THAT(protocol::Decode<protocol::Empty>(*reply).status().message(),
              HasSubstr("does not fit a library of 3 bytes"));
}

TEST_F(JobCodeTest, AJobNamingCodeTheGcsLacksIsRefused) {
  InitWith(copy_);
  protocol::RegisterJob job;
  job.job.job_id = JobId::FromRandom();
  job.job.code_libraries = {{"libintruder.so", Sha256Hex("never uploaded"), 14}};
  auto reply = CallAsMember("gcs_address", protocol::Encode(MessageType::kRegisterJob, job));
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  auto refused = protocol::Decode<protocol::Empty>(*reply);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("libintruder.so"));
  EXPECT_THAT(refused.status().message(), HasSubstr("was not uploaded"));
}

TEST_F(JobCodeTest, ALeaseForAJobWithoutARecordStartsNoWorker) {
  InitWith(copy_);
  protocol::RequestWorkerLease lease;
  lease.request_id = 1;
  lease.job_id = JobId::FromRandom();  // never registered
  lease.resources = ResourceSet{{"CPU", 1}};
  lease.owner_address = "tcp://127.0.0.1:1";
  auto reply =
      CallAsMember("raylet_address", protocol::Encode(MessageType::kRequestWorkerLease, lease));
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  auto answer = protocol::Decode<protocol::LeaseReply>(*reply);
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(answer->result, protocol::LeaseReply::Result::kFailed);
  EXPECT_THAT(answer->reason, HasSubstr("is not registered with the GCS"));
  // The cluster's own job still runs.
  EXPECT_EQ(*rayk::Get(rayk::Task(Add).Remote(2, 2)), 4);
}

}  // namespace
}  // namespace rayk
