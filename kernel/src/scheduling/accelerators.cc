#include "scheduling/accelerators.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

#include "scheduling/bundle_resources.h"

namespace rayk {

namespace {

// An amount in ten-thousandths of a device, as Ray's fixed-point instances.
int64_t ToShare(double amount) { return std::llround(amount * DeviceShares::kWhole); }

std::string Amount(double amount) {
  std::ostringstream out;
  out << amount;
  return out.str();
}

bool IsWhole(double amount) { return ToShare(amount) % DeviceShares::kWhole == 0; }

// How much of accelerator `resource` a demand asks for: its own amount, or,
// for work placed in a placement group, the group-wide bundle resource's
// (scheduling/bundle_resources.h): the bundle holds the amount out of the
// node's free total, and the lease takes the devices themselves.
double AmountOf(const ResourceSet& demand, const std::string& resource) {
  double amount = demand.Get(resource);
  for (const auto& [name, value] : demand.amounts()) {
    std::string base;
    bool any_bundle = false;
    if (IsBundleResource(name, &base, &any_bundle) && any_bundle && base == resource) {
      amount += value;
    }
  }
  return amount;
}

// POSIX shell names: a letter or '_', then letters, digits and '_'.
bool IsEnvVarName(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

}  // namespace

Result<std::map<std::string, std::string>> CheckAcceleratorDeclarations(
    const std::map<std::string, std::string>& declared) {
  std::map<std::string, std::string> all = declared;
  for (const auto& [resource, env_var] : declared) {
    if (resource.empty()) {
      return Status::InvalidArgument(
          "an accelerator needs a resource name; declare it as {\"neuron_cores\": "
          "\"NEURON_RT_VISIBLE_CORES\"}");
    }
    if (!IsEnvVarName(env_var)) {
      return Status::InvalidArgument(
          "accelerator '" + resource + "' names environment variable '" + env_var +
          "', which is not a valid name; use letters, digits and '_', not starting with a digit, "
          "as in \"NEURON_RT_VISIBLE_CORES\"");
    }
  }
  all.try_emplace(kGpuResource, kGpuVisibleDevicesEnv);
  return all;
}

std::optional<std::vector<DeviceShares::Taken>> DeviceShares::Take(double amount) {
  const int64_t share = ToShare(amount);
  std::vector<Taken> taken;
  if (share <= 0) return taken;
  if (share <= kWhole) {
    // Best fit: the device with the least room that still holds the share.
    int best = -1;
    for (size_t i = 0; i < free_.size(); ++i) {
      if (free_[i] >= share && (best < 0 || free_[i] < free_[best])) best = static_cast<int>(i);
    }
    if (best < 0) return std::nullopt;
    taken.push_back({best, share});
  } else {
    const int64_t wanted = share / kWhole;
    for (size_t i = 0; i < free_.size() && static_cast<int64_t>(taken.size()) < wanted; ++i) {
      if (free_[i] == kWhole) taken.push_back({static_cast<int>(i), kWhole});
    }
    if (static_cast<int64_t>(taken.size()) < wanted) return std::nullopt;
  }
  for (const Taken& t : taken) free_[t.device] -= t.share;
  return taken;
}

void DeviceShares::Give(const std::vector<Taken>& taken) {
  for (const Taken& t : taken) {
    if (t.device >= 0 && static_cast<size_t>(t.device) < free_.size()) {
      free_[t.device] = std::min(kWhole, free_[t.device] + t.share);
    }
  }
}

std::vector<double> DeviceShares::free() const {
  std::vector<double> out;
  for (int64_t share : free_) out.push_back(static_cast<double>(share) / kWhole);
  return out;
}

Result<NodeAccelerators> NodeAccelerators::Make(
    const ResourceSet& total, const std::map<std::string, std::string>& declared) {
  NodeAccelerators node;
  node.declared_ = declared;
  for (const auto& [resource, env_var] : declared) {
    const double amount = total.Get(resource);
    if (amount <= 0) continue;  // none on this node: its workers' variable is left alone
    if (!IsWhole(amount)) {
      return Status::InvalidArgument("the node declares " + resource + ": " + Amount(amount) +
                                     ", but " + resource +
                                     " is an accelerator counted in whole devices; declare a whole "
                                     "number, as in {\"" +
                                     resource + "\": 2}");
    }
    node.accelerators_.emplace(
        resource, Accelerator{env_var, DeviceShares(static_cast<int>(ToShare(amount) /
                                                                     DeviceShares::kWhole))});
  }
  return node;
}

Status CheckAcceleratorAmount(const std::string& resource, double amount) {
  if (amount <= 1 || IsWhole(amount)) return Status::Ok();
  return Status::InvalidArgument(
      resource + ": " + Amount(amount) + " cannot be granted: " + resource +
      " is an accelerator, and a demand for it is a share of one device (at most 1) or a "
      "whole number of devices; ask for " +
      std::to_string(static_cast<int>(std::ceil(amount))) + " or for at most 1");
}

Status NodeAccelerators::CheckDemand(const ResourceSet& demand) const {
  for (const auto& [resource, env_var] : declared_) {
    Status status = CheckAcceleratorAmount(resource, AmountOf(demand, resource));
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

std::optional<NodeAccelerators::Held> NodeAccelerators::Take(const ResourceSet& demand) {
  Held held;
  for (auto& [resource, accelerator] : accelerators_) {
    const double amount = AmountOf(demand, resource);
    if (amount <= 0) continue;
    auto taken = accelerator.devices.Take(amount);
    if (!taken) {
      Give(held);
      return std::nullopt;
    }
    held[resource] = std::move(*taken);
  }
  return held;
}

void NodeAccelerators::Give(const Held& held) {
  for (const auto& [resource, taken] : held) {
    auto accelerator = accelerators_.find(resource);
    if (accelerator != accelerators_.end()) accelerator->second.devices.Give(taken);
  }
}

std::vector<protocol::AcceleratorIds> NodeAccelerators::VisibleTo(const Held& held) const {
  std::vector<protocol::AcceleratorIds> out;
  for (const auto& [resource, accelerator] : accelerators_) {
    protocol::AcceleratorIds visible{resource, accelerator.env_var, {}};
    if (auto it = held.find(resource); it != held.end()) {
      for (const DeviceShares::Taken& taken : it->second) visible.ids.push_back(taken.device);
    }
    out.push_back(std::move(visible));
  }
  return out;
}

std::vector<protocol::AcceleratorUse> NodeAccelerators::Use() const {
  std::vector<protocol::AcceleratorUse> out;
  for (const auto& [resource, accelerator] : accelerators_) {
    protocol::AcceleratorUse use{resource, {}};
    for (double free : accelerator.devices.free()) use.used.push_back(1 - free);
    out.push_back(std::move(use));
  }
  return out;
}

const DeviceShares* NodeAccelerators::Find(const std::string& resource) const {
  auto it = accelerators_.find(resource);
  return it == accelerators_.end() ? nullptr : &it->second.devices;
}

}  // namespace rayk
