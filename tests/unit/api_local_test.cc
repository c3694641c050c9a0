// The typed user API (rayk/api.h) end to end against LocalRuntime
// (local_runtime.h), a small in-process internal::Runtime that runs each task
// synchronously by calling the function registry's invokers. It tests the API
// layer alone: argument encoding, result decoding, error mapping, reference
// counting and views. The real runtime has integration tests of its own.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "rayk/api.h"
#include "unit/local_runtime.h"

namespace api_test {

int Add(int a, int b) { return a + b; }
double Scale(double x, double factor) { return x * factor; }
std::string Concat(const std::string& a, std::string b) { return a + b; }
int Fails(int x) {
  if (x < 0) throw std::invalid_argument("x must not be negative");
  return x;
}
int touched = 0;
void Touch() { ++touched; }
void FailVoid() { throw std::runtime_error("void failed"); }
int NotRegistered(int x) { return x; }
std::vector<double> Reverse(std::vector<double> values) {
  std::reverse(values.begin(), values.end());
  return values;
}
rayk::Buffer Upper(const rayk::Buffer& in) {
  rayk::Buffer out = in;
  for (uint8_t& c : out) c = static_cast<uint8_t>(std::toupper(c));
  return out;
}
// Refs inside a container stay refs; the task fetches them itself.
int SumRefs(const std::vector<rayk::ObjectRef<int>>& refs) {
  int sum = 0;
  for (const auto& value : rayk::Get(refs)) sum += *value;
  return sum;
}
// A task that submits tasks.
int AddThrice(int x) {
  rayk::ObjectRef<int> once = rayk::Task(Add).Remote(x, x);
  return *rayk::Get(rayk::Task(Add).Remote(once, x));
}
// A parameter that is itself a ref: passed as a ref, not resolved.
std::string DescribeRef(rayk::ObjectRef<int> ref) { return ref.ID().Hex(); }

struct Point {
  int x = 0;
  int y = 0;
  template <class Archive>
  void serialize(Archive& ar, unsigned) {
    ar& x& y;
  }
  friend bool operator==(const Point&, const Point&) = default;
};
Point Mirror(const Point& p) { return {p.y, p.x}; }

}  // namespace api_test

using namespace api_test;  // NOLINT: the registered names read as in user code

RAYK_REMOTE(Add, Scale, Concat, Fails, Touch, FailVoid, Reverse, Upper, SumRefs, AddThrice,
            DescribeRef, Mirror);

namespace rayk {
namespace {

using internal::ErrorInfo;
using ::testing::HasSubstr;

using local_test::LocalRuntime;

class ApiLocalTest : public ::testing::Test {
 protected:
  void SetUp() override { internal::SetCurrentRuntime(&runtime_); }
  void TearDown() override { internal::SetCurrentRuntime(nullptr); }

  LocalRuntime runtime_;
};

TEST(ApiNotInitializedTest, EveryEntryPointSaysSo) {
  ASSERT_EQ(internal::CurrentRuntime(), nullptr);
  const std::string message = "rayk is not initialized; call rayk::Init() first";
  auto expect_message = [&](auto&& call) {
    try {
      call();
      ADD_FAILURE() << "did not throw";
    } catch (const RuntimeError& e) {
      EXPECT_EQ(e.what(), message);
    }
  };
  ObjectRef<int> ref(ObjectId::FromRandom(), ObjectRef<int>::AdoptTag());
  expect_message([] { Put(1); });
  expect_message([&] { Get(ref); });
  expect_message([&] { Get(std::vector<ObjectRef<int>>{ref}); });
  expect_message([&] { Wait(std::vector<ObjectRef<int>>{ref}, 1); });
  expect_message([] { Task(Add); });
  expect_message([] { Get(ObjectRef<void>()); });
  expect_message([] { GetView(ObjectRef<std::vector<double>>()); });
  expect_message([] { GetView(ObjectRef<Buffer>()); });
  // Destroying a handle with no runtime is quiet (rayk is shut down).
}

TEST_F(ApiLocalTest, PutAndGetRoundTrip) {
  EXPECT_EQ(*Get(Put(42)), 42);
  EXPECT_EQ(*Get(Put(std::string("hello"))), "hello");
  std::map<std::string, std::vector<int>> map{{"a", {1, 2}}};
  EXPECT_EQ(*Get(Put(map)), map);
  EXPECT_EQ(*Get(Put(Point{1, 2})), (Point{1, 2}));
  std::vector<ObjectRef<int>> refs{Put(1), Put(2), Put(3)};
  std::vector<std::shared_ptr<int>> values = Get(refs);
  ASSERT_EQ(values.size(), 3u);
  EXPECT_EQ(*values[0] + *values[1] + *values[2], 6);
}

TEST_F(ApiLocalTest, TaskRemoteReturnsTheResult) {
  ObjectRef<int> three = Task(Add).Remote(1, 2);
  EXPECT_EQ(*Get(three), 3);
  internal::TaskCall call = runtime_.LastCall();
  EXPECT_EQ(call.function, "Add");
  ASSERT_EQ(call.args.size(), 2u);
  EXPECT_FALSE(call.args[0].is_ref);
  EXPECT_EQ(internal::Deserialize<int>(call.args[0].value), 1);
  // Defaults: one CPU, three retries.
  EXPECT_EQ(call.options.resources, (ResourceSet{{"CPU", 1}}));
  EXPECT_EQ(call.options.max_retries, 3);

  EXPECT_EQ(*Get(Task(Mirror).Remote(Point{1, 2})), (Point{2, 1}));
}

TEST_F(ApiLocalTest, ArgumentsConvertToTheParameterTypes) {
  // ints for double parameters: encoded as doubles, as the worker decodes them.
  EXPECT_DOUBLE_EQ(*Get(Task(Scale).Remote(3, 2)), 6.0);
  EXPECT_EQ(internal::Deserialize<double>(runtime_.LastCall().args[0].value), 3.0);
  // A string literal for std::string parameters (by const reference and by value).
  EXPECT_EQ(*Get(Task(Concat).Remote("ab", "cd")), "abcd");
  std::string left = "x";
  const std::string right = "y";
  EXPECT_EQ(*Get(Task(Concat).Remote(left, right)), "xy");
}

TEST_F(ApiLocalTest, ObjectRefArgumentsTravelAsReferences) {
  ObjectRef<int> three = Task(Add).Remote(1, 2);
  ObjectRef<int> five = Task(Add).SetResource("CPU", 1).Remote(three, 2);
  internal::TaskCall call = runtime_.LastCall();
  ASSERT_TRUE(call.args[0].is_ref);
  EXPECT_EQ(call.args[0].ref, three.ID());
  EXPECT_TRUE(call.args[0].value.empty());
  EXPECT_FALSE(call.args[1].is_ref);
  EXPECT_EQ(*Get(five), 5);

  // A parameter of type ObjectRef takes the ref itself, unresolved.
  ObjectRef<std::string> hex = Task(DescribeRef).Remote(three);
  EXPECT_FALSE(runtime_.LastCall().args[0].is_ref);
  EXPECT_EQ(*Get(hex), three.ID().Hex());

  EXPECT_THROW(Task(Add).Remote(ObjectRef<int>(), 1), RuntimeError);
}

TEST_F(ApiLocalTest, TaskOptionsReachTheRuntime) {
  Task(Add).SetResource("GPU", 1).SetResource("CPU", 0).SetMaxRetries(0).Remote(1, 1);
  internal::TaskCall call = runtime_.LastCall();
  EXPECT_EQ(call.options.resources, (ResourceSet{{"GPU", 1}}));
  EXPECT_EQ(call.options.max_retries, 0);

  auto caller = Task(Add);
  caller.SetResources({{"CPU", 2}, {"memory", 1e9}});
  caller.Remote(1, 1);
  caller.Remote(2, 2);  // a caller can be reused
  call = runtime_.LastCall();
  EXPECT_EQ(call.options.resources, (ResourceSet{{"CPU", 2}, {"memory", 1e9}}));
  EXPECT_EQ(internal::Deserialize<int>(call.args[0].value), 2);
}

TEST_F(ApiLocalTest, VoidTasks) {
  touched = 0;
  ObjectRef<void> done = Task(Touch).Remote();
  Get(done);
  EXPECT_EQ(touched, 1);
  Get(std::vector<ObjectRef<void>>{Task(Touch).Remote(), Task(Touch).Remote()});
  EXPECT_EQ(touched, 3);
  try {
    Get(Task(FailVoid).Remote());
    FAIL() << "no exception";
  } catch (const TaskError& e) {
    EXPECT_EQ(e.remote_type(), "std::runtime_error");
    EXPECT_EQ(e.remote_message(), "void failed");
  }
}

TEST_F(ApiLocalTest, RemoteExceptionComesBackAsTaskError) {
  ObjectRef<int> failed = Task(Fails).Remote(-1);
  try {
    Get(failed);
    FAIL() << "no exception";
  } catch (const TaskError& e) {
    EXPECT_EQ(e.remote_type(), "std::invalid_argument");
    EXPECT_EQ(e.remote_message(), "x must not be negative");
    EXPECT_EQ(e.where(), "task Fails in the local test runtime");
    EXPECT_STREQ(e.what(),
                 "std::invalid_argument: x must not be negative (task Fails in the local test "
                 "runtime)");
  }
  // A task whose argument failed fails the same way, and so does Get of a list.
  ObjectRef<int> downstream = Task(Add).Remote(failed, 1);
  EXPECT_THROW(Get(downstream), TaskError);
  EXPECT_THROW(Get(std::vector<ObjectRef<int>>{Put(1), failed}), TaskError);
  EXPECT_EQ(*Get(Task(Fails).Remote(7)), 7);
}

TEST_F(ApiLocalTest, ErrorKindsMapToExceptions) {
  auto ref = [&](ErrorInfo::Kind kind) {
    return ObjectRef<int>(runtime_.AddFailed(kind, "what happened"), ObjectRef<int>::AdoptTag());
  };
  EXPECT_THROW(Get(ref(ErrorInfo::Kind::kWorkerCrashed)), WorkerCrashedError);
  EXPECT_THROW(Get(ref(ErrorInfo::Kind::kUnschedulable)), UnschedulableError);
  EXPECT_THROW(Get(ref(ErrorInfo::Kind::kObjectLost)), ObjectLostError);
  try {
    Get(ref(ErrorInfo::Kind::kRuntime));
    FAIL() << "no exception";
  } catch (const RuntimeError& e) {
    EXPECT_STREQ(e.what(), "what happened (node 1234abcd)");
  }
  // Every one is a RaykError.
  EXPECT_THROW(Get(ref(ErrorInfo::Kind::kWorkerCrashed)), RaykError);
}

TEST_F(ApiLocalTest, UnregisteredFunction) {
  try {
    Task(NotRegistered);
    FAIL() << "no exception";
  } catch (const RuntimeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("function not registered with RAYK_REMOTE: "));
    EXPECT_THAT(e.what(), HasSubstr("int (*)(int)"));
  }
}

TEST_F(ApiLocalTest, GetTimesOut) {
  ObjectRef<int> pending(runtime_.AddPending(), ObjectRef<int>::AdoptTag());
  try {
    Get(pending, std::chrono::milliseconds(10));
    FAIL() << "no exception";
  } catch (const GetTimeoutError& e) {
    EXPECT_THAT(e.what(), HasSubstr("not ready after 10 ms"));
  }
  EXPECT_THROW(Get(std::vector<ObjectRef<int>>{Put(1), pending}, std::chrono::milliseconds(0)),
               GetTimeoutError);
}

TEST_F(ApiLocalTest, WaitSplitsReadyFromUnready) {
  ObjectRef<int> a = Put(1);
  ObjectRef<int> pending(runtime_.AddPending(), ObjectRef<int>::AdoptTag());
  ObjectRef<int> b = Task(Add).Remote(1, 1);
  WaitResult<int> result =
      Wait(std::vector<ObjectRef<int>>{a, pending, b}, 2, std::chrono::milliseconds(100));
  ASSERT_EQ(result.ready.size(), 2u);
  EXPECT_EQ(result.ready[0], a);
  EXPECT_EQ(result.ready[1], b);
  ASSERT_EQ(result.unready.size(), 1u);
  EXPECT_EQ(result.unready[0], pending);
  EXPECT_THROW(Wait(std::vector<ObjectRef<int>>{a}, 2), RuntimeError);
}

TEST_F(ApiLocalTest, HandlesCountReferences) {
  ObjectId id;
  {
    ObjectRef<int> ref = Put(7);
    id = ref.ID();
    EXPECT_EQ(runtime_.References(id), 1);
    {
      ObjectRef<int> copy = ref;
      EXPECT_EQ(runtime_.References(id), 2);
      ObjectRef<int> moved = std::move(copy);
      EXPECT_EQ(runtime_.References(id), 2);
      ObjectRef<int> assigned;
      assigned = moved;
      EXPECT_EQ(runtime_.References(id), 3);
      assigned = Put(8);  // drops the reference it held
      EXPECT_EQ(runtime_.References(id), 2);
    }
    EXPECT_EQ(runtime_.References(id), 1);
    std::vector<ObjectRef<int>> many(3, ref);
    EXPECT_EQ(runtime_.References(id), 4);
  }
  EXPECT_EQ(runtime_.References(id), 0);  // freed
}

TEST_F(ApiLocalTest, RefsInsideValuesAreBorrowed) {
  ObjectRef<int> one = Put(1);
  ObjectRef<int> two = Task(Add).Remote(1, 1);
  ObjectRef<std::vector<ObjectRef<int>>> list = Put(std::vector<ObjectRef<int>>{one, two});
  EXPECT_EQ(runtime_.References(one.ID()), 1);  // encoding does not add references
  {
    std::shared_ptr<std::vector<ObjectRef<int>>> refs = Get(list);
    ASSERT_EQ(refs->size(), 2u);
    EXPECT_EQ((*refs)[0], one);
    EXPECT_EQ(runtime_.References(one.ID()), 2);  // decoding borrows
    EXPECT_EQ(runtime_.Borrowed(), (std::vector<std::string>{"local:1", "local:1"}));
    EXPECT_EQ(*Get((*refs)[1]), 2);
  }
  EXPECT_EQ(runtime_.References(one.ID()), 1);

  // A task that takes refs in a container fetches them itself (nested API use).
  EXPECT_EQ(*Get(Task(SumRefs).Remote(std::vector<ObjectRef<int>>{one, two, Put(3)})), 6);
  EXPECT_EQ(*Get(Task(AddThrice).Remote(5)), 15);
}

TEST_F(ApiLocalTest, GetOfTheWrongBytesIsAClearError) {
  ObjectRef<int> mistyped(runtime_.Put(internal::Serialize(std::string("not an int"))),
                          ObjectRef<int>::AdoptTag());
  try {
    Get(mistyped);
    FAIL() << "no exception";
  } catch (const RuntimeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("object " + mistyped.ID().Hex() + " cannot be decoded as int"));
  }
  EXPECT_THROW(Get(ObjectRef<int>()), RuntimeError);
  // The runtime does not know the object at all.
  EXPECT_THROW(Get(ObjectRef<int>(ObjectId::FromRandom(), ObjectRef<int>::AdoptTag())),
               RuntimeError);
}

TEST_F(ApiLocalTest, GetViewReadsTheStoredBytesInPlace) {
  std::vector<double> values(100000);
  std::iota(values.begin(), values.end(), 0.5);
  ObjectRef<std::vector<double>> ref = Put(values);
  std::shared_ptr<const ObjectBuffer> buffer = runtime_.BufferOf(ref.ID());
  View<double> view = GetView(ref);
  ASSERT_EQ(view.size(), values.size());
  // No copy: the view points just past the 16-byte header of the stored bytes.
  EXPECT_EQ(reinterpret_cast<const uint8_t*>(view.data()), buffer->data() + 16);
  EXPECT_TRUE(std::equal(view.begin(), view.end(), values.begin()));
  std::span<const double> span = view;
  EXPECT_EQ(span[99999], 99999.5);

  // The view pins the object: it stays readable after every handle is gone.
  ObjectId id = ref.ID();
  buffer.reset();
  ref = ObjectRef<std::vector<double>>();
  EXPECT_EQ(runtime_.References(id), 0);
  EXPECT_EQ(view[12345], 12345.5);

  // Results of tasks too, and Get still copies out a vector.
  ObjectRef<std::vector<double>> reversed = Task(Reverse).Remote(values);
  EXPECT_EQ(GetView(reversed)[0], 99999.5);
  EXPECT_EQ(Get(reversed)->back(), 0.5);
  EXPECT_TRUE(GetView(Put(std::vector<int>())).empty());
}

TEST_F(ApiLocalTest, GetViewOfABuffer) {
  ObjectRef<Buffer> ref = Task(Upper).Remote(Buffer::FromString("shout"));
  View<uint8_t> view = GetView(ref);
  EXPECT_EQ(std::string(view.begin(), view.end()), "SHOUT");
  EXPECT_EQ(view.data(), runtime_.BufferOf(ref.ID())->data() + 16);
  EXPECT_EQ(Get(ref)->AsStringView(), "SHOUT");
}

TEST_F(ApiLocalTest, GetViewOfMisalignedBytesCopies) {
  runtime_.set_misalign(4);  // doubles need 8
  std::vector<double> values{1.5, 2.5, 3.5};
  ObjectRef<std::vector<double>> ref = Put(values);
  View<double> view = GetView(ref);
  EXPECT_NE(reinterpret_cast<const uint8_t*>(view.data()),
            runtime_.BufferOf(ref.ID())->data() + 16);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(view.data()) % alignof(double), 0u);
  EXPECT_TRUE(std::equal(view.begin(), view.end(), values.begin()));
  EXPECT_EQ(*Get(ref), values);
}

}  // namespace
}  // namespace rayk
