// FunctionRegistry: what RAYK_REMOTE registers, invoking entries by name with
// serialized arguments, the errors an invoker reports, and where each
// registration came from (this executable, or a library loaded later).
#include "rayk/internal/function_registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "rayk/api.h"

namespace registry_test {

int Add(int a, int b) { return a + b; }
std::string Join(const std::vector<std::string>& parts, std::string separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? separator : "") + parts[i];
  return out;
}
void Nothing() {}
double Half(double x) noexcept { return x / 2; }
int ThrowsInvalidArgument(int) { throw std::invalid_argument("negative input"); }
struct CustomError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
int ThrowsCustom() { throw CustomError("custom trouble"); }
int ThrowsInt() { throw 42; }
int NotRegistered(int x) { return x; }

// Reference parameters receive the decoded values.
void AppendTo(std::vector<int>& out, int value) { out.push_back(value); }
int Sum(std::vector<int>&& values) {
  int sum = 0;
  for (int v : values) sum += v;
  return sum;
}

// Arrays: n ascending numbers, and the bytes 0, 1, ..., n-1 (mod 256).
std::vector<int64_t> Iota(int64_t n) {
  std::vector<int64_t> out(n);
  for (int64_t i = 0; i < n; ++i) out[i] = i;
  return out;
}
rayk::Buffer Bytes(int64_t n) {
  rayk::Buffer out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out.data()[i] = static_cast<uint8_t>(i);
  return out;
}

class Counter {
 public:
  explicit Counter(int start) : n_(start) {}
  static Counter* Create(int start) { return new Counter(start); }
  static Counter* CreateFailing(int) { throw std::runtime_error("no counter for you"); }
  int Incr(int by) { return n_ += by; }
  int Value() const { return n_; }
  // A large array the counter keeps, returned by reference: the result is a copy.
  const std::vector<int64_t>& Table() {
    if (table_.empty()) table_ = Iota(1 << 14);
    return table_;
  }

 private:
  int n_;
  std::vector<int64_t> table_;
};

}  // namespace registry_test

using namespace registry_test;  // NOLINT: the registered names read as in user code

RAYK_REMOTE(Add, Join, Nothing, Half, ThrowsInvalidArgument, ThrowsCustom, ThrowsInt);
// Before the method's RAYK_REMOTE line: the two are matched when asked.
RAYK_CONCURRENCY_GROUP("io.reads", &Counter::Value);
RAYK_REMOTE(AppendTo, Sum, Counter::Create, Counter::CreateFailing, &Counter::Incr, &Counter::Value,
            Iota, Bytes, &Counter::Table);
// The same function registered twice is harmless.
RAYK_REMOTE(Add);

namespace rayk::internal {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

const RegisteredFunction& Lookup(std::string_view name) {
  const RegisteredFunction* function = FunctionRegistry::Instance().Find(name);
  if (function == nullptr) throw std::runtime_error("not registered: " + std::string(name));
  return *function;
}

InvokeResult Invoke(std::string_view name, const std::vector<std::string>& args) {
  return Lookup(name).invoke(ArgList(args.begin(), args.end()), 0);
}

TEST(FunctionRegistryTest, InvokesByNameWithSerializedArguments) {
  InvokeResult result = Invoke("Add", {Serialize(2), Serialize(40)});
  ASSERT_FALSE(result.error) << result.error->message;
  EXPECT_EQ(Deserialize<int>(result.value), 42);

  result = Invoke(
      "Join", {Serialize(std::vector<std::string>{"a", "b", "c"}), Serialize(std::string("-"))});
  ASSERT_FALSE(result.error) << result.error->message;
  EXPECT_EQ(Deserialize<std::string>(result.value), "a-b-c");

  result = Invoke("Half", {Serialize(5.0)});
  ASSERT_FALSE(result.error);
  EXPECT_DOUBLE_EQ(Deserialize<double>(result.value), 2.5);

  result = Invoke("Sum", {Serialize(std::vector<int>{1, 2, 3})});
  ASSERT_FALSE(result.error);
  EXPECT_EQ(Deserialize<int>(result.value), 6);

  result = Invoke("AppendTo", {Serialize(std::vector<int>{1}), Serialize(2)});
  ASSERT_FALSE(result.error);
  EXPECT_TRUE(result.value.empty());
}

TEST(FunctionRegistryTest, LargeArrayResultsAreLeftUnencodedForTheWorker) {
  // Over kUnencodedResultMin bytes: the worker writes them where they will
  // be read, so the invoker keeps the function's value rather than encoding it.
  const int64_t n = kUnencodedResultMin / sizeof(int64_t) + 1;
  InvokeResult result = Invoke("Iota", {Serialize(n)});
  ASSERT_FALSE(result.error) << result.error->message;
  ASSERT_TRUE(result.raw);
  EXPECT_TRUE(result.value.empty());
  EXPECT_EQ(result.raw.EncodedSize(), kRawHeaderSize + n * sizeof(int64_t));
  std::string bytes(result.raw.EncodedSize(), '\0');
  result.raw.WriteTo(reinterpret_cast<uint8_t*>(bytes.data()));
  EXPECT_EQ(bytes, Serialize(Iota(n)));
  EXPECT_EQ(result.Encoded(), Serialize(Iota(n)));
  EXPECT_FALSE(result.raw);

  result = Invoke("Bytes", {Serialize(int64_t{kUnencodedResultMin})});
  ASSERT_TRUE(result.raw);
  EXPECT_EQ(Deserialize<rayk::Buffer>(result.Encoded()), Bytes(kUnencodedResultMin));

  // Smaller arrays are encoded at once, as any value.
  result = Invoke("Iota", {Serialize(int64_t{10})});
  EXPECT_FALSE(result.raw);
  EXPECT_EQ(Deserialize<std::vector<int64_t>>(result.value), Iota(10));

  // A result the function refers to (actor state) is copied, not moved from.
  ActorCreateResult actor = Lookup("Counter::Create").create({Serialize(1)});
  ASSERT_FALSE(actor.error);
  const RegisteredFunction& table = Lookup("&Counter::Table");
  for (int call = 0; call < 2; ++call) {
    result = table.invoke_method(actor.instance.get(), {}, 0);
    ASSERT_TRUE(result.raw);
    EXPECT_EQ(Deserialize<std::vector<int64_t>>(result.Encoded()), Iota(1 << 14));
  }
}

TEST(FunctionRegistryTest, VoidFunctionReturnsNoBytes) {
  InvokeResult result = Invoke("Nothing", {});
  EXPECT_FALSE(result.error);
  EXPECT_TRUE(result.value.empty());
}

TEST(FunctionRegistryTest, EntriesDescribeTheirFunction) {
  const RegisteredFunction& add = Lookup("Add");
  EXPECT_EQ(add.name, "Add");
  EXPECT_EQ(add.kind, FunctionKind::kFunction);
  EXPECT_EQ(add.num_args, 2u);
  EXPECT_TRUE(add.in_executable);
  EXPECT_EQ(FunctionRegistry::Instance().Find("NotRegistered"), nullptr);
  EXPECT_EQ(FunctionRegistry::Instance().Find("add"), nullptr);
}

TEST(FunctionRegistryTest, ExceptionBecomesTaskErrorWithDemangledType) {
  InvokeResult result = Invoke("ThrowsInvalidArgument", {Serialize(-1)});
  ASSERT_TRUE(result.error);
  EXPECT_EQ(result.error->kind, ErrorInfo::Kind::kTaskError);
  EXPECT_EQ(result.error->remote_type, "std::invalid_argument");
  EXPECT_EQ(result.error->message, "negative input");
  EXPECT_TRUE(result.error->where.empty());  // the runtime fills it in

  result = Invoke("ThrowsCustom", {});
  ASSERT_TRUE(result.error);
  EXPECT_EQ(result.error->remote_type, "registry_test::CustomError");
  EXPECT_EQ(result.error->message, "custom trouble");

  // Not a std::exception: no message, but the type is still known.
  result = Invoke("ThrowsInt", {});
  ASSERT_TRUE(result.error);
  EXPECT_EQ(result.error->kind, ErrorInfo::Kind::kTaskError);
  EXPECT_EQ(result.error->remote_type, "int");
}

TEST(FunctionRegistryTest, WrongArgumentCount) {
  InvokeResult result = Invoke("Add", {Serialize(1), Serialize(2), Serialize(3)});
  ASSERT_TRUE(result.error);
  EXPECT_EQ(result.error->kind, ErrorInfo::Kind::kRuntime);
  EXPECT_EQ(result.error->message, "Add takes 2 arguments but was called with 3");
  result = Invoke("Half", {});
  ASSERT_TRUE(result.error);
  EXPECT_EQ(result.error->message, "Half takes 1 argument but was called with 0");
}

TEST(FunctionRegistryTest, UndecodableArgumentNamesFunctionAndIndex) {
  InvokeResult result = Invoke("Add", {Serialize(1), "x"});
  ASSERT_TRUE(result.error);
  EXPECT_EQ(result.error->kind, ErrorInfo::Kind::kRuntime);
  EXPECT_THAT(result.error->message, HasSubstr("argument 2 of Add cannot be decoded as int: "));

  // A string's bytes where a vector of strings belongs.
  result = Invoke("Join", {Serialize(std::string("abc")), Serialize(std::string("-"))});
  ASSERT_TRUE(result.error);
  EXPECT_THAT(result.error->message,
              HasSubstr("argument 1 of Join cannot be decoded as std::vector<std::string"));
}

TEST(FunctionRegistryTest, NameOfFindsTheNameFromThePointer) {
  FunctionRegistry& registry = FunctionRegistry::Instance();
  EXPECT_EQ(registry.NameOf(KeyOf(&Add)), "Add");
  EXPECT_EQ(registry.NameOf(KeyOf(Join)), "Join");
  EXPECT_EQ(registry.NameOf(KeyOf(Half)), "Half");
  EXPECT_EQ(registry.NameOf(KeyOf(Counter::Create)), "Counter::Create");
  EXPECT_EQ(registry.NameOf(KeyOf(&Counter::Incr)), "&Counter::Incr");
  EXPECT_EQ(registry.NameOf(KeyOf(&Counter::Value)), "&Counter::Value");
  EXPECT_EQ(registry.NameOf(KeyOf(NotRegistered)), std::nullopt);
}

TEST(FunctionRegistryTest, ActorFactoryAndMethods) {
  const RegisteredFunction& create = Lookup("Counter::Create");
  EXPECT_EQ(create.kind, FunctionKind::kActorFactory);
  EXPECT_EQ(*create.actor_class, typeid(Counter));
  const RegisteredFunction& incr = Lookup("&Counter::Incr");
  EXPECT_EQ(incr.kind, FunctionKind::kMethod);
  EXPECT_EQ(*incr.actor_class, typeid(Counter));
  const RegisteredFunction& value = Lookup("&Counter::Value");

  ActorCreateResult actor = create.create({Serialize(10)});
  ASSERT_FALSE(actor.error);
  ASSERT_NE(actor.instance, nullptr);
  InvokeResult result = incr.invoke_method(actor.instance.get(), {Serialize(5)}, 0);
  ASSERT_FALSE(result.error);
  EXPECT_EQ(Deserialize<int>(result.value), 15);
  result = value.invoke_method(actor.instance.get(), {}, 0);
  ASSERT_FALSE(result.error);
  EXPECT_EQ(Deserialize<int>(result.value), 15);

  result = incr.invoke_method(actor.instance.get(), {"?"}, 0);
  ASSERT_TRUE(result.error);
  EXPECT_THAT(result.error->message, HasSubstr("argument 1 of &Counter::Incr cannot be decoded"));
  result = incr.invoke_method(nullptr, {Serialize(1)}, 0);
  ASSERT_TRUE(result.error);
  EXPECT_THAT(result.error->message, HasSubstr("without an actor"));

  ActorCreateResult failed = Lookup("Counter::CreateFailing").create({Serialize(1)});
  ASSERT_TRUE(failed.error);
  EXPECT_EQ(failed.error->kind, ErrorInfo::Kind::kTaskError);
  EXPECT_EQ(failed.error->remote_type, "std::runtime_error");
  EXPECT_EQ(failed.instance, nullptr);

  // Running a factory or a method as a task is an error, not a crash.
  result = create.invoke({Serialize(1)}, 0);
  ASSERT_TRUE(result.error);
  EXPECT_THAT(result.error->message, HasSubstr("Counter::Create is an actor factory"));
  result = incr.invoke({Serialize(1)}, 0);
  ASSERT_TRUE(result.error);
  EXPECT_THAT(result.error->message, HasSubstr("&Counter::Incr is an actor method"));
}

TEST(FunctionRegistryTest, ExecutableRegistrationsAreListedAsSuch) {
  FunctionRegistry& registry = FunctionRegistry::Instance();
  std::vector<std::string> in_executable = registry.RegisteredInExecutable();
  EXPECT_THAT(in_executable, Contains("Add"));
  EXPECT_THAT(in_executable, Contains("&Counter::Incr"));
  // Listed once, though registered twice.
  EXPECT_EQ(std::count(in_executable.begin(), in_executable.end(), "Add"), 1);

  std::string program = boost::dll::program_location().string();
  EXPECT_EQ(Lookup("Add").library, program);
  EXPECT_THAT(registry.Libraries(), Not(Contains(program)));
  EXPECT_TRUE(registry.Conflicts().empty());
}

TEST(FunctionRegistryTest, ConcurrencyGroupsOfMethods) {
  FunctionRegistry& registry = FunctionRegistry::Instance();
  EXPECT_EQ(registry.ConcurrencyGroupOf("&Counter::Value"), "io.reads");
  EXPECT_EQ(registry.ConcurrencyGroupOf("&Counter::Incr"), "");
  EXPECT_EQ(registry.ConcurrencyGroupOf("NoSuchFunction"), "");
  std::vector<GroupMember> members = registry.GroupMembers(typeid(registry_test::Counter));
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].method, "&Counter::Value");
  EXPECT_EQ(members[0].group, "io.reads");
  // The rule RAYK_CONCURRENCY_GROUP checks when it compiles.
  static_assert(IsConcurrencyGroupName("io") && IsConcurrencyGroupName("gpu-0_a.b"));
  static_assert(!IsConcurrencyGroupName("") && !IsConcurrencyGroupName("i o") &&
                !IsConcurrencyGroupName("io/1") && !IsConcurrencyGroupName(std::string(65, 'a')));
}

TEST(FunctionRegistryTest, LibraryRegistrationsComeAndGoWithTheLibrary) {
  const std::string path = std::string(RAYK_FIXTURE_DIR) + "/rayk_test_remote_lib.so";
  FunctionRegistry& registry = FunctionRegistry::Instance();
  ASSERT_EQ(registry.Find("remote_lib::Mul"), nullptr);
  {
    boost::dll::shared_library library(path);
    const RegisteredFunction* mul = registry.Find("remote_lib::Mul");
    ASSERT_NE(mul, nullptr);
    EXPECT_FALSE(mul->in_executable);
    EXPECT_EQ(mul->library, std::filesystem::weakly_canonical(path).string());
    EXPECT_THAT(registry.Libraries(), Contains(mul->library));
    EXPECT_THAT(registry.RegisteredInExecutable(), Not(Contains("remote_lib::Mul")));

    InvokeResult result = mul->invoke({Serialize(6), Serialize(7)}, 0);
    ASSERT_FALSE(result.error);
    EXPECT_EQ(Deserialize<int>(result.value), 42);
    result = registry.Find("remote_lib::Shout")->invoke({Serialize(std::string("hey"))}, 0);
    ASSERT_FALSE(result.error);
    EXPECT_EQ(Deserialize<std::string>(result.value), "hey!");
  }
  // Unloading the library takes its functions with it: nothing dangles.
  EXPECT_EQ(registry.Find("remote_lib::Mul"), nullptr);
  EXPECT_THAT(registry.Libraries(), Not(Contains(HasSubstr("rayk_test_remote_lib"))));
  EXPECT_NE(registry.Find("Add"), nullptr);
}

TEST(FunctionRegistryTest, ConcurrentLookupsWhileALibraryLoads) {
  const std::string path = std::string(RAYK_FIXTURE_DIR) + "/rayk_test_remote_lib.so";
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop) {
      const RegisteredFunction* add = FunctionRegistry::Instance().Find("Add");
      ASSERT_NE(add, nullptr);
      (void)FunctionRegistry::Instance().Libraries();
    }
  });
  for (int i = 0; i < 20; ++i) {
    boost::dll::shared_library library(path);
    EXPECT_NE(FunctionRegistry::Instance().Find("remote_lib::Shout"), nullptr);
  }
  stop = true;
  reader.join();
}

}  // namespace
}  // namespace rayk::internal
