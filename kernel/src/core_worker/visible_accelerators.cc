#include "core_worker/visible_accelerators.h"

#include <stdlib.h>

#include <map>
#include <mutex>
#include <string>

#include "rayk/accelerators.h"

namespace rayk {

namespace {

std::mutex& Mutex() {
  static std::mutex mu;
  return mu;
}

// Resource name -> the ids the current lease holds of it.
std::map<std::string, std::vector<int>>& Visible() {
  static std::map<std::string, std::vector<int>> visible;
  return visible;
}

}  // namespace

void SetVisibleAccelerators(const std::vector<protocol::AcceleratorIds>& accelerators) {
  if (accelerators.empty()) return;
  std::lock_guard<std::mutex> lock(Mutex());
  Visible().clear();
  for (const protocol::AcceleratorIds& accelerator : accelerators) {
    std::string value;
    for (int id : accelerator.ids) value += (value.empty() ? "" : ",") + std::to_string(id);
    setenv(accelerator.env_var.c_str(), value.c_str(), /*overwrite=*/1);
    Visible()[accelerator.resource] = accelerator.ids;
  }
}

std::vector<int> GetAcceleratorIds(const std::string& resource) {
  std::lock_guard<std::mutex> lock(Mutex());
  auto it = Visible().find(resource);
  return it == Visible().end() ? std::vector<int>{} : it->second;
}

std::vector<int> GetGpuIds() { return GetAcceleratorIds("GPU"); }

}  // namespace rayk
