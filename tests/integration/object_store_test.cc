// The shared-memory object store in the data path, with real processes: a
// large result is written once by the worker and read in place by the
// driver (its bytes lie in the node's /dev/shm segment); large arguments go
// through the store; a store smaller than the job's working set spills and
// restores; `rayk memory` reports what the store holds.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "cluster_fixture.h"
#include "functions/test_functions.h"
#include "process/session.h"

namespace rayk {
namespace {

using test_functions::MakeVector;
using test_functions::SumVector;
using ::testing::HasSubstr;

// True when `address` lies in a mapping of a rayk shared-memory segment.
bool InRaykSegment(const void* address) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  auto target = reinterpret_cast<uintptr_t>(address);
  while (std::getline(maps, line)) {
    if (line.find("/dev/shm/rayk-") == std::string::npos) continue;
    std::istringstream fields(line);
    std::string range;
    fields >> range;
    uintptr_t begin = std::stoull(range.substr(0, range.find('-')), nullptr, 16);
    uintptr_t end = std::stoull(range.substr(range.find('-') + 1), nullptr, 16);
    if (target >= begin && target < end) return true;
  }
  return false;
}

class ObjectStoreTest : public testing::ClusterTest {
 protected:
  void Customize(InitOptions& options) override {
    std::string capacity = StoreCapacity();
    if (capacity.empty()) return;
    options.config_file = session_root_.Write(
        "small_store.toml",
        "[store]\nplugin = \"shm\"\n[store.shm]\ncapacity = \"" + capacity + "\"\n");
  }
  virtual std::string StoreCapacity() { return ""; }
};

TEST_F(ObjectStoreTest, LargeResultIsReadInPlaceFromTheNodesSegment) {
  const int64_t n = 8 << 20;  // 64 MiB of doubles
  auto ref = rayk::Task(MakeVector).Remote(n);
  rayk::View<double> view = rayk::GetView(ref);
  ASSERT_EQ(view.size(), static_cast<size_t>(n));
  EXPECT_TRUE(InRaykSegment(view.data())) << "the view should point into the node's shared memory";
  EXPECT_EQ(view[0], 0.0);
  EXPECT_EQ(view[n - 1], static_cast<double>(n - 1));
  // A second view is the same pages, not a copy.
  EXPECT_EQ(rayk::GetView(ref).data(), view.data());
}

TEST_F(ObjectStoreTest, LargePutAndLargeArgumentsGoThroughTheStore) {
  std::vector<double> values(1 << 20);
  std::iota(values.begin(), values.end(), 1.0);
  auto ref = rayk::Put(values);
  EXPECT_TRUE(InRaykSegment(rayk::GetView(ref).data()));
  double expected = (1.0 + values.size()) * values.size() / 2;
  EXPECT_DOUBLE_EQ(*rayk::Get(rayk::Task(SumVector).Remote(ref)), expected);
  // A result in the store, consumed by another task.
  auto made = rayk::Task(MakeVector).Remote(int64_t{1} << 20);
  EXPECT_DOUBLE_EQ(*rayk::Get(rayk::Task(SumVector).Remote(made)),
                   (1.0 * (1 << 20)) * ((1 << 20) - 1) / 2);
}

TEST_F(ObjectStoreTest, AnObjectWrittenInPlaceIsTheStoredObject) {
  const size_t n = 1 << 20;  // 8 MiB of doubles
  rayk::ObjectWriter<std::vector<double>> writer = rayk::Create<std::vector<double>>(n);
  ASSERT_EQ(writer.size(), n);
  EXPECT_TRUE(InRaykSegment(writer.data())) << "a large object is written in the node's store";
  std::iota(writer.begin(), writer.end(), 1.0);
  const double* written = writer.data();
  rayk::ObjectRef<std::vector<double>> ref = std::move(writer).Seal();
  // Sealing copied nothing: readers see the writer's pages.
  rayk::View<double> view = rayk::GetView(ref);
  EXPECT_EQ(view.data(), written);
  ASSERT_EQ(view.size(), n);
  EXPECT_EQ(view[n - 1], static_cast<double>(n));
  EXPECT_DOUBLE_EQ(*rayk::Get(rayk::Task(SumVector).Remote(ref)), (1.0 + n) * n / 2);
  EXPECT_EQ(rayk::Get(ref)->size(), n);
  // A sealed writer has nothing left to seal.
  EXPECT_THROW(std::move(writer).Seal(), rayk::RuntimeError);  // NOLINT(bugprone-use-after-move)
}

TEST_F(ObjectStoreTest, BuffersAndSmallArraysAreWrittenInPlaceToo) {
  rayk::ObjectWriter<rayk::Buffer> bytes = rayk::Create<rayk::Buffer>(300 << 10);
  for (size_t i = 0; i < bytes.size(); ++i) bytes.data()[i] = static_cast<uint8_t>(i % 251);
  rayk::ObjectRef<rayk::Buffer> buffer = std::move(bytes).Seal();
  std::shared_ptr<rayk::Buffer> read = rayk::Get(buffer);
  ASSERT_EQ(read->size(), size_t{300} << 10);
  EXPECT_EQ((*read)[1000], 1000 % 251);
  EXPECT_EQ(rayk::GetView(buffer)[299 << 10], (299 << 10) % 251);
  // Small objects live in the owner's memory, as small Puts do.
  rayk::ObjectWriter<std::vector<int>> small = rayk::Create<std::vector<int>>(3);
  std::iota(small.begin(), small.end(), 7);
  EXPECT_EQ(*rayk::Get(std::move(small).Seal()), (std::vector<int>{7, 8, 9}));
  EXPECT_TRUE(rayk::Get(rayk::Create<std::vector<int>>(0).Seal())->empty());
}

TEST_F(ObjectStoreTest, LargeArrayResultsAreWrittenInPlaceWithTheirBytes) {
  // A Buffer and a vector, each written by its worker straight into the
  // store: the driver reads the right bytes there, in place and by copy, and
  // so does a task that takes the result as its argument.
  const int64_t n = (3 << 20) + 7;  // not a multiple of anything the store rounds to
  auto bytes = rayk::Task(test_functions::MakeBytes).Remote(n);
  std::shared_ptr<rayk::Buffer> read = rayk::Get(bytes);
  ASSERT_EQ(read->size(), static_cast<size_t>(n));
  EXPECT_EQ(*rayk::Get(rayk::Task(test_functions::FirstWrongByte).Remote(*read)), n);
  EXPECT_EQ(*rayk::Get(rayk::Task(test_functions::FirstWrongByte).Remote(bytes)), n);
  rayk::View<double> doubles = rayk::GetView(rayk::Task(MakeVector).Remote(int64_t{1} << 17));
  EXPECT_TRUE(InRaykSegment(doubles.data()));
  ASSERT_EQ(doubles.size(), size_t{1} << 17);
  for (size_t i = 0; i < doubles.size(); i += 4093) EXPECT_EQ(doubles[i], static_cast<double>(i));
  // Just under and over the inline limit: both come back whole.
  for (int64_t size : {int64_t{100 << 10} - 16, int64_t{100 << 10} - 15, int64_t{64 << 10}}) {
    auto near = rayk::Task(test_functions::MakeBytes).Remote(size);
    EXPECT_EQ(*rayk::Get(rayk::Task(test_functions::FirstWrongByte).Remote(near)), size);
    EXPECT_EQ(rayk::Get(near)->size(), static_cast<size_t>(size));
  }
}

TEST_F(ObjectStoreTest, LargeActorResultIsInTheStore) {
  auto counter = rayk::Actor(test_functions::Counter::Create).Remote(7);
  auto ref = counter.Task(&test_functions::Counter::Vector).Remote(int64_t{1} << 20);
  rayk::View<double> view = rayk::GetView(ref);
  ASSERT_EQ(view.size(), size_t{1} << 20);
  EXPECT_TRUE(InRaykSegment(view.data()));
  EXPECT_EQ(view[view.size() - 1], 7.0);
}

TEST_F(ObjectStoreTest, MemoryCommandReportsTheStore) {
  auto ref = rayk::Task(MakeVector).Remote(int64_t{4} << 20);  // 32 MiB
  ASSERT_EQ(rayk::Get(ref)->size(), size_t{4} << 20);
  std::string address = ReadFile(session_root_.path() + "/session_latest/gcs_address").value();
  auto text = testing::RunCommand("RAYK_SESSION_ROOT=" + session_root_.path() + " " +
                                  RAYK_CLI_PATH + " memory --address " + address);
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_THAT(text.output, HasSubstr("shm"));
  EXPECT_THAT(text.output, HasSubstr("32.0 MiB"));
  auto json = testing::RunCommand("RAYK_SESSION_ROOT=" + session_root_.path() + " " +
                                  RAYK_CLI_PATH + " memory --format json --address " + address);
  ASSERT_EQ(json.exit_code, 0) << json.output;
  auto parsed = nlohmann::json::parse(json.output);
  ASSERT_EQ(parsed["nodes"].size(), 1u);
  EXPECT_GE(parsed["nodes"][0]["used_bytes"].get<uint64_t>(), uint64_t{32} << 20);
  uint64_t largest = parsed["nodes"][0]["largest"][0]["size"].get<uint64_t>();
  EXPECT_GE(largest, uint64_t{32} << 20);  // the doubles and a small encoding header
  EXPECT_LT(largest, (uint64_t{32} << 20) + 64);
}

// A 64 MiB store under a job that keeps 256 MiB of objects alive: the store
// spills primaries to disk and restores them on Get, with the right bytes.
class SmallObjectStoreTest : public ObjectStoreTest {
  std::string StoreCapacity() override { return "64MiB"; }
};

TEST_F(SmallObjectStoreTest, WorkingSetLargerThanTheStoreSpillsAndRestores) {
  std::vector<rayk::ObjectRef<std::vector<double>>> refs;
  for (int i = 0; i < 16; ++i) {
    std::vector<double> values(2 << 20, static_cast<double>(i));  // 16 MiB each
    refs.push_back(rayk::Put(values));
  }
  for (int i = 0; i < 16; ++i) {
    rayk::View<double> view = rayk::GetView(refs[i]);
    ASSERT_EQ(view.size(), size_t{2} << 20);
    EXPECT_EQ(view[0], static_cast<double>(i));
    EXPECT_EQ(view[view.size() - 1], static_cast<double>(i));
  }
  // Results of tasks spill too, and come back as arguments.
  std::vector<rayk::ObjectRef<double>> sums;
  for (int i = 0; i < 16; ++i) sums.push_back(rayk::Task(SumVector).Remote(refs[i]));
  for (int i = 0; i < 16; ++i) EXPECT_DOUBLE_EQ(*rayk::Get(sums[i]), 2.0 * (1 << 20) * i);
}

TEST_F(SmallObjectStoreTest, AnObjectLargerThanTheStoreIsAClearError) {
  std::vector<double> huge(12 << 20);  // 96 MiB for a 64 MiB store
  try {
    rayk::Put(huge);
    ADD_FAILURE() << "expected ObjectStoreFullError";
  } catch (const rayk::ObjectStoreFullError& error) {
    EXPECT_THAT(error.what(), HasSubstr("raise [store.shm] capacity"));
  }
  try {
    rayk::Create<std::vector<double>>(12 << 20);
    ADD_FAILURE() << "expected ObjectStoreFullError";
  } catch (const rayk::ObjectStoreFullError& error) {
    EXPECT_THAT(error.what(), HasSubstr("raise [store.shm] capacity"));
  }
  auto made = rayk::Task(MakeVector).Remote(int64_t{12} << 20);
  try {
    rayk::Get(made);
    ADD_FAILURE() << "expected ObjectStoreFullError";
  } catch (const rayk::ObjectStoreFullError& error) {
    EXPECT_THAT(error.what(), HasSubstr("-byte result"));
  }
  // Smaller work still runs.
  EXPECT_EQ(rayk::Get(rayk::Task(MakeVector).Remote(int64_t{1} << 20))->size(), size_t{1} << 20);
  // An actor's result too: the call fails, the actor lives on.
  auto counter = rayk::Actor(test_functions::Counter::Create).Remote(5);
  EXPECT_THROW(rayk::Get(counter.Task(&test_functions::Counter::Vector).Remote(int64_t{12} << 20)),
               rayk::ObjectStoreFullError);
  rayk::View<double> view =
      rayk::GetView(counter.Task(&test_functions::Counter::Vector).Remote(int64_t{1} << 20));
  ASSERT_EQ(view.size(), size_t{1} << 20);
  EXPECT_EQ(view[view.size() - 1], 5.0);
}

TEST_F(SmallObjectStoreTest, AWriterDroppedWithoutSealGivesItsSpaceBack) {
  // Eight unsealed 16 MiB objects would hold twice the 64 MiB store (an
  // unsealed object can be neither evicted nor spilled) if a dropped writer
  // kept its space.
  for (int i = 0; i < 8; ++i) {
    rayk::ObjectWriter<std::vector<double>> writer = rayk::Create<std::vector<double>>(2 << 20);
    writer.data()[0] = i;
  }
  std::vector<double> values(6 << 20, 3.0);  // 48 MiB
  EXPECT_EQ(rayk::GetView(rayk::Put(values))[(6 << 20) - 1], 3.0);
}

}  // namespace
}  // namespace rayk
