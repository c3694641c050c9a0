// ObjectRef<T>: a handle to an object in the cluster (a task's result or a
// Put value) whose value is a T once it is ready.
//
// A handle counts as a reference: while any copy lives, in this process or in
// another one it was passed to, the object's owner keeps the value. Copying
// adds a reference, destroying removes one, and passing a handle inside a
// value (a std::vector<ObjectRef<int>> argument, say) lends it to the process
// that decodes it. ObjectRef<void> refers to the completion of a task that
// returns nothing.
//
// Handles are values: copying one, or using different handles from different
// threads, is safe; one handle is not synchronized for concurrent assignment.
#pragma once

#include <functional>
#include <string>
#include <utility>

#include "rayk/errors.h"
#include "rayk/ids.h"
#include "rayk/internal/runtime.h"
#include "rayk/internal/runtime_registry.h"

namespace rayk {

template <class T>
class ObjectRef {
 public:
  using ValueType = T;

  // An empty handle, which refers to nothing (ID() is nil).
  ObjectRef() = default;

  // Takes over one local reference the caller already holds (what the
  // runtime returns from SubmitTask and Put). For rayk's own use.
  struct AdoptTag {};
  ObjectRef(ObjectId id, AdoptTag) : id_(std::move(id)) {}

  ObjectRef(const ObjectRef& other) : id_(other.id_) { AddReference(); }
  ObjectRef(ObjectRef&& other) noexcept : id_(std::exchange(other.id_, ObjectId())) {}
  ObjectRef& operator=(const ObjectRef& other) {
    if (this != &other) {
      ObjectRef copy(other);
      swap(copy);
    }
    return *this;
  }
  ObjectRef& operator=(ObjectRef&& other) noexcept {
    if (this != &other) {
      ObjectRef moved(std::move(other));
      swap(moved);
    }
    return *this;
  }
  ~ObjectRef() { RemoveReference(); }

  void swap(ObjectRef& other) noexcept { std::swap(id_, other.id_); }

  const ObjectId& ID() const { return id_; }
  bool IsNil() const { return id_.IsNil(); }

  friend bool operator==(const ObjectRef& a, const ObjectRef& b) { return a.id_ == b.id_; }
  friend bool operator!=(const ObjectRef& a, const ObjectRef& b) { return a.id_ != b.id_; }

  // Boost.Serialization, for a handle inside a value: the id and its owner's
  // address; decoding registers the handle as borrowed from that owner.
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    if constexpr (Archive::is_saving::value) {
      std::string owner;
      if (!id_.IsNil()) owner = internal::RequireRuntime().OwnerAddress(id_);
      ar& id_;
      ar& owner;
    } else {
      ObjectId id;
      std::string owner;
      ar& id;
      ar& owner;
      RemoveReference();
      id_ = ObjectId();
      if (!id.IsNil()) internal::RequireRuntime().AddBorrowedReference(id, owner);
      id_ = id;
    }
  }

 private:
  void AddReference() {
    if (id_.IsNil()) return;
    // A handle copied with no runtime cannot be counted: rayk is shut down,
    // and its objects are gone with it.
    if (internal::Runtime* runtime = internal::CurrentRuntime()) runtime->AddLocalReference(id_);
  }
  void RemoveReference() noexcept {
    if (id_.IsNil()) return;
    if (internal::Runtime* runtime = internal::CurrentRuntime()) runtime->RemoveLocalReference(id_);
  }

  ObjectId id_;
};

}  // namespace rayk

template <class T>
struct std::hash<rayk::ObjectRef<T>> {
  size_t operator()(const rayk::ObjectRef<T>& ref) const noexcept {
    return std::hash<rayk::ObjectId>()(ref.ID());
  }
};
