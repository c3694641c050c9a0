#include "accelerator_functions.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

namespace accelerator_functions {

namespace {

DevicesSeen Look(const std::string& resource, const std::string& env_var) {
  DevicesSeen seen;
  const char* value = std::getenv(env_var.c_str());
  seen.env_set = value != nullptr;
  if (value != nullptr) seen.env = value;
  seen.ids = rayk::GetAcceleratorIds(resource);
  return seen;
}

}  // namespace

DevicesSeen DevicesWhenReleased(const std::string& resource, const std::string& env_var,
                                const std::string& key) {
  DevicesSeen seen = Look(resource, env_var);
  if (key.empty()) return seen;
  rayk::KvPut(key + "/started/" + std::to_string(getpid()), seen.env, "tests");
  for (int i = 0; i < 1200 && !rayk::KvGet(key, "tests"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return seen;
}

DeviceHolder* DeviceHolder::Create() { return new DeviceHolder(); }

DevicesSeen DeviceHolder::Seen(const std::string& resource, const std::string& env_var) {
  return Look(resource, env_var);
}

}  // namespace accelerator_functions

using namespace accelerator_functions;  // RAYK_REMOTE names functions as written here
RAYK_REMOTE(DevicesWhenReleased, DeviceHolder::Create, &DeviceHolder::Seen);
