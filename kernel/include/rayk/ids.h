// Identifiers for the things a cluster tracks: nodes, workers, jobs, tasks,
// actors and objects.
//
// Every id is 16 random bytes (collisions are as unlikely as for a UUID), shown
// as 32 hex digits. Ids are values: cheap to copy, hashable, ordered, and safe
// to share between threads. A default-constructed id is Nil().
#pragma once

#include <array>
#include <boost/serialization/array_wrapper.hpp>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

namespace rayk {

template <typename Tag>
class Id {
 public:
  static constexpr size_t kSize = 16;

  Id() { bytes_.fill(0); }
  static Id Nil() { return Id(); }
  // A fresh random id (thread-safe).
  static Id FromRandom();
  // From 16 raw bytes; anything else gives Nil().
  static Id FromBinary(std::string_view binary);
  // From 32 hex digits; anything else gives Nil().
  static Id FromHex(std::string_view hex);

  bool IsNil() const { return *this == Id(); }
  std::string Binary() const {
    return std::string(reinterpret_cast<const char*>(bytes_.data()), kSize);
  }
  std::string Hex() const;
  const uint8_t* data() const { return bytes_.data(); }

  friend bool operator==(const Id& a, const Id& b) { return a.bytes_ == b.bytes_; }
  friend bool operator!=(const Id& a, const Id& b) { return a.bytes_ != b.bytes_; }
  friend bool operator<(const Id& a, const Id& b) { return a.bytes_ < b.bytes_; }

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& boost::serialization::make_array(bytes_.data(), kSize);
  }

 private:
  std::array<uint8_t, kSize> bytes_;
};

// The random source and hex codec shared by every id type.
void FillRandomBytes(uint8_t* out, size_t n);
std::string BytesToHex(const uint8_t* data, size_t n);
bool HexToBytes(std::string_view hex, uint8_t* out, size_t n);

template <typename Tag>
Id<Tag> Id<Tag>::FromRandom() {
  Id id;
  FillRandomBytes(id.bytes_.data(), kSize);
  return id;
}

template <typename Tag>
Id<Tag> Id<Tag>::FromBinary(std::string_view binary) {
  Id id;
  if (binary.size() == kSize) std::memcpy(id.bytes_.data(), binary.data(), kSize);
  return id;
}

template <typename Tag>
Id<Tag> Id<Tag>::FromHex(std::string_view hex) {
  Id id;
  if (!HexToBytes(hex, id.bytes_.data(), kSize)) return Id();
  return id;
}

template <typename Tag>
std::string Id<Tag>::Hex() const {
  return BytesToHex(bytes_.data(), kSize);
}

struct NodeIdTag {};
struct WorkerIdTag {};
struct JobIdTag {};
struct TaskIdTag {};
struct ActorIdTag {};
struct ObjectIdTag {};
struct PlacementGroupIdTag {};

using NodeId = Id<NodeIdTag>;
using WorkerId = Id<WorkerIdTag>;
using JobId = Id<JobIdTag>;
using TaskId = Id<TaskIdTag>;
using ActorId = Id<ActorIdTag>;
using ObjectId = Id<ObjectIdTag>;
using PlacementGroupId = Id<PlacementGroupIdTag>;

}  // namespace rayk

template <typename Tag>
struct std::hash<rayk::Id<Tag>> {
  size_t operator()(const rayk::Id<Tag>& id) const noexcept {
    size_t h;
    std::memcpy(&h, id.data(), sizeof(h));  // the bytes are already random
    return h;
  }
};
