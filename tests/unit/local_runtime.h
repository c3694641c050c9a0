// LocalRuntime: a small in-process internal::Runtime for the unit tests of
// the typed API (api_local_test, actor_api_local_test). It runs each task
// synchronously on the calling thread through the function registry's
// invokers and keeps objects in a map, so the API layer (argument encoding,
// result decoding, error mapping, reference counting, views) can be tested
// without a cluster. It is a test harness, not a model of the real runtime:
// nothing is ever pending unless a test makes it so.
#pragma once

#include <cstring>
#include <functional>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "rayk/api.h"

namespace rayk::local_test {

// Object bytes in a 64-aligned block (as a store would give), optionally
// shifted by `misalign` bytes to exercise the unaligned path.
class HeapBuffer : public ObjectBuffer {
 public:
  HeapBuffer(std::string_view bytes, size_t misalign)
      : storage_(static_cast<uint8_t*>(
            ::operator new(bytes.size() + misalign + 1, std::align_val_t(64)))),
        data_(storage_ + misalign),
        size_(bytes.size()) {
    if (size_ > 0) std::memcpy(data_, bytes.data(), size_);
  }
  ~HeapBuffer() override { ::operator delete(storage_, std::align_val_t(64)); }
  const uint8_t* data() const override { return data_; }
  size_t size() const override { return size_; }

 private:
  uint8_t* storage_;
  uint8_t* data_;
  size_t size_;
};

class LocalRuntime : public internal::Runtime {
 public:
  ObjectId SubmitTask(internal::TaskCall call) override {
    {
      std::lock_guard lock(mutex_);
      calls_.push_back(call);
    }
    const internal::RegisteredFunction* function =
        internal::FunctionRegistry::Instance().Find(call.function);
    return Run("task " + call.function, call.args, [&](const internal::ArgList& args) {
      if (function == nullptr) {
        return internal::InvokeResult{{}, internal::RuntimeErrorInfo(call.function + " not found")};
      }
      return function->invoke(args, 0);
    });
  }

  std::vector<ObjectId> SubmitSplitTask(internal::TaskCall call) override {
    {
      std::lock_guard lock(mutex_);
      calls_.push_back(call);
    }
    const std::string what = "task " + call.function;
    const size_t count = call.options.num_returns;
    const internal::RegisteredFunction* function =
        internal::FunctionRegistry::Instance().Find(call.function);
    ResolvedArgs resolved = Resolve(call.args);
    internal::InvokeResult result;
    if (resolved.error) {
      result.error = std::move(resolved.error);
    } else if (function == nullptr) {
      result.error = internal::RuntimeErrorInfo(call.function + " not found");
    } else {
      result = function->invoke(resolved.args, count);  // without the lock, as Run
    }
    std::vector<ObjectId> ids;
    if (result.error) {
      for (size_t i = 0; i < count; ++i) ids.push_back(AddError(*result.error, what));
      return ids;
    }
    ids.push_back(AddObject(MakeValue(result.Encoded())));
    for (const std::string& more : result.more_values) ids.push_back(AddObject(MakeValue(more)));
    return ids;
  }

  ObjectId Put(std::string data) override {
    std::lock_guard lock(mutex_);
    return AddObjectLocked(MakeValue(data));
  }

  Result<std::vector<internal::ObjectValue>> Get(const std::vector<ObjectId>& ids,
                                                 std::chrono::milliseconds timeout) override {
    std::lock_guard lock(mutex_);
    std::vector<internal::ObjectValue> values;
    for (const ObjectId& id : ids) {
      auto it = objects_.find(id);
      if (it == objects_.end())
        return Status::NotFound("object " + id.Hex() + " is not known here");
      // Everything runs synchronously, so a pending object never becomes
      // ready: report the timeout at once rather than sleeping through it.
      if (!it->second.value) {
        return Status::TimedOut("object " + id.Hex() + " is not ready after " +
                                std::to_string(timeout.count()) + " ms");
      }
      values.push_back(*it->second.value);
    }
    return values;
  }

  std::vector<bool> Wait(const std::vector<ObjectId>& ids, size_t /*num_returns*/,
                         std::chrono::milliseconds /*timeout*/) override {
    std::lock_guard lock(mutex_);
    std::vector<bool> ready;
    for (const ObjectId& id : ids) {
      auto it = objects_.find(id);
      ready.push_back(it != objects_.end() && it->second.value.has_value());
    }
    return ready;
  }

  void AddLocalReference(const ObjectId& id) override {
    std::lock_guard lock(mutex_);
    ++objects_.at(id).references;
  }
  void RemoveLocalReference(const ObjectId& id) override {
    std::lock_guard lock(mutex_);
    auto it = objects_.find(id);
    if (it != objects_.end() && --it->second.references == 0) objects_.erase(it);
  }
  std::string OwnerAddress(const ObjectId& /*id*/) override { return "local:1"; }
  void AddBorrowedReference(const ObjectId& id, const std::string& owner_address) override {
    std::lock_guard lock(mutex_);
    borrowed_.push_back(owner_address);
    ++objects_.at(id).references;
  }

  // Test hooks.
  ObjectId AddPending() {
    std::lock_guard lock(mutex_);
    return AddObjectLocked(std::nullopt);
  }
  ObjectId AddFailed(internal::ErrorInfo::Kind kind, std::string message) {
    internal::ErrorInfo error;
    error.kind = kind;
    error.message = std::move(message);
    error.where = "node 1234abcd";
    std::lock_guard lock(mutex_);
    return AddObjectLocked(internal::ObjectValue{nullptr, error});
  }
  int References(const ObjectId& id) {
    std::lock_guard lock(mutex_);
    auto it = objects_.find(id);
    return it == objects_.end() ? 0 : it->second.references;
  }
  std::shared_ptr<const ObjectBuffer> BufferOf(const ObjectId& id) {
    std::lock_guard lock(mutex_);
    return objects_.at(id).value->data;
  }
  internal::TaskCall LastCall() {
    std::lock_guard lock(mutex_);
    return calls_.back();
  }
  std::vector<std::string> Borrowed() {
    std::lock_guard lock(mutex_);
    return borrowed_;
  }
  void set_misalign(size_t misalign) { misalign_ = misalign; }

 protected:
  // Arguments as an invoker takes them: ref arguments resolved to the bytes
  // of their values, which `pinned` keeps alive.
  struct ResolvedArgs {
    internal::ArgList args;
    std::vector<std::shared_ptr<const ObjectBuffer>> pinned;
    std::optional<internal::ErrorInfo> error;  // a ref argument's task failed
  };
  ResolvedArgs Resolve(const std::vector<internal::TaskArg>& args) {
    ResolvedArgs out;
    std::lock_guard lock(mutex_);
    for (const internal::TaskArg& arg : args) {
      if (!arg.is_ref) {
        out.args.push_back(arg.value);
        continue;
      }
      const internal::ObjectValue& value = *objects_.at(arg.ref).value;
      if (value.error) {
        out.error = value.error;
        return out;
      }
      out.pinned.push_back(value.data);
      out.args.push_back(internal::BytesOf(value));
    }
    return out;
  }

  // Resolves `args`, runs `invoke` on them and stores its result (or error)
  // as a new object, of which the caller holds the one reference. `what`
  // ("task Add") is where an error says it happened.
  ObjectId Run(const std::string& what, const std::vector<internal::TaskArg>& args,
               const std::function<internal::InvokeResult(const internal::ArgList&)>& invoke) {
    ResolvedArgs resolved = Resolve(args);
    // A failed argument fails the call with the argument's own error.
    if (resolved.error) return AddError(std::move(*resolved.error), what);
    // Without the lock: a task may call the API (nested tasks, Get).
    internal::InvokeResult result = invoke(resolved.args);
    if (result.error) return AddError(std::move(*result.error), what);
    std::lock_guard lock(mutex_);
    return AddObjectLocked(MakeValue(result.Encoded()));
  }

  ObjectId AddError(internal::ErrorInfo error, const std::string& what) {
    if (error.where.empty()) error.where = what + " in the local test runtime";
    return AddObject(internal::ObjectValue{nullptr, std::move(error)});
  }
  ObjectId AddObject(internal::ObjectValue value) {
    std::lock_guard lock(mutex_);
    return AddObjectLocked(std::move(value));
  }

 private:
  struct Object {
    std::optional<internal::ObjectValue> value;  // none: pending
    int references = 1;
  };

  internal::ObjectValue MakeValue(std::string_view bytes) {
    return internal::ObjectValue{std::make_shared<HeapBuffer>(bytes, misalign_), std::nullopt};
  }

  ObjectId AddObjectLocked(std::optional<internal::ObjectValue> value) {
    ObjectId id = ObjectId::FromRandom();
    objects_[id] = Object{std::move(value)};
    return id;
  }

  std::mutex mutex_;
  std::unordered_map<ObjectId, Object> objects_;
  std::vector<internal::TaskCall> calls_;
  std::vector<std::string> borrowed_;
  size_t misalign_ = 0;
};

}  // namespace rayk::local_test
