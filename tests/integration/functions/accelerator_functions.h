// Remote functions and an actor for the accelerator tests
// (accelerators_test.cc), in the same test library as test_functions.h: they
// report the devices their worker was given.
#pragma once

#include <rayk/api.h>

#include <string>
#include <vector>

namespace accelerator_functions {

// What a task saw of accelerator `resource` and its environment variable.
struct DevicesSeen {
  bool env_set = false;
  std::string env;       // the variable's value, when set
  std::vector<int> ids;  // rayk::GetAcceleratorIds(resource)
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& env_set& env& ids;
  }
};

// Reads what it was given, records "<key>/started/<pid>" in the KV store
// (namespace "tests"), and holds its lease until key `key` exists (at most
// 60 s; an empty key: returns at once), so that tests can make leases overlap.
DevicesSeen DevicesWhenReleased(const std::string& resource, const std::string& env_var,
                                const std::string& key);

// An actor that reports the devices it was given, call after call.
class DeviceHolder {
 public:
  static DeviceHolder* Create();
  DevicesSeen Seen(const std::string& resource, const std::string& env_var);
};

}  // namespace accelerator_functions
