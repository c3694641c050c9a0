// Accelerators: the devices of a node's accelerator resources, one by one.
//
// A node's "GPU": 2 is two devices, GPU 0 and GPU 1, and a lease for GPU must
// say which: its worker sees them in CUDA_VISIBLE_DEVICES and
// rayk::GetGpuIds(). As Ray's raylet does with its resource instances, the
// node keeps the free share of each device (in ten-thousandths, so that
// shares add up exactly):
//   - a demand of at most 1 (GPU: 0.5) takes that share of one device: the
//     fullest device that still fits it (best fit), so that whole devices stay
//     whole for whole demands, and two GPU: 0.5 leases share a device;
//   - a whole-number demand n > 1 takes n wholly free devices;
//   - anything else (GPU: 1.5) is refused up front (CheckDemand).
// A demand that the node's free total fits but its devices do not (two
// halves free on two devices, and GPU: 1 asked) waits. Giving back returns
// exactly what was taken. Work in a placement-group bundle asks for bundle
// resources (GPU_group_<G>: 1, scheduling/bundle_resources.h); the bundle
// holds the amount out of the node's total, and the lease takes the devices.
//
// "GPU" is always an accelerator (CUDA_VISIBLE_DEVICES); a node may declare
// others with the variable its workers read (rayk start --accelerators
// '{"neuron_cores": "NEURON_RT_VISIBLE_CORES"}'). Not synchronized: the
// raylet holds it under its lock.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "rayk/resources.h"
#include "rayk/status.h"
#include "rpc/common_messages.h"

namespace rayk {

inline constexpr const char* kGpuResource = "GPU";
inline constexpr const char* kGpuVisibleDevicesEnv = "CUDA_VISIBLE_DEVICES";

// Checks a node's declared accelerators (resource name -> environment
// variable): each variable must be a valid name. Returns them with GPU's added.
Result<std::map<std::string, std::string>> CheckAcceleratorDeclarations(
    const std::map<std::string, std::string>& declared);

// A demand of `amount` of accelerator `resource` is a share of one device (at
// most 1) or a whole number of devices; anything else (GPU: 1.5) fails with
// kInvalidArgument saying so and what to ask for instead. The caller checks
// GPU when a call is made (SetResource), the raylet every declared one.
Status CheckAcceleratorAmount(const std::string& resource, double amount);

// The devices of one accelerator resource and the free share of each.
class DeviceShares {
 public:
  // A share of one device, in ten-thousandths (kWhole is the whole device).
  static constexpr int64_t kWhole = 10000;
  struct Taken {
    int device = 0;
    int64_t share = 0;
  };

  explicit DeviceShares(int devices) : free_(devices, kWhole) {}

  // The devices that fit `amount` (see the file comment), or nullopt when the
  // free shares cannot hold it now. `amount` must have passed CheckDemand.
  std::optional<std::vector<Taken>> Take(double amount);
  void Give(const std::vector<Taken>& taken);
  // The free share of each device, 0..1.
  std::vector<double> free() const;

 private:
  std::vector<int64_t> free_;
};

// All the accelerator resources of one node.
class NodeAccelerators {
 public:
  // What one lease holds: per accelerator resource, the shares it took.
  using Held = std::map<std::string, std::vector<DeviceShares::Taken>>;
  NodeAccelerators() = default;
  // `declared` as CheckAcceleratorDeclarations returns it. A node's amount of
  // an accelerator must be a whole number of devices.
  static Result<NodeAccelerators> Make(const ResourceSet& total,
                                       const std::map<std::string, std::string>& declared);

  // A demand for an accelerator (declared, whether this node has it or not)
  // must be a share of one device or whole devices.
  Status CheckDemand(const ResourceSet& demand) const;
  // All of `demand`'s accelerator amounts, or nothing (nullopt) when the
  // devices cannot hold them now.
  std::optional<Held> Take(const ResourceSet& demand);
  void Give(const Held& held);
  // Every accelerator of the node with the device ids `held` has of it
  // (none for the ones it holds none of), in resource-name order.
  std::vector<protocol::AcceleratorIds> VisibleTo(const Held& held) const;
  // Every accelerator of the node and the share of each device in use.
  std::vector<protocol::AcceleratorUse> Use() const;
  const DeviceShares* Find(const std::string& resource) const;

 private:
  struct Accelerator {
    std::string env_var;
    DeviceShares devices;
  };
  std::map<std::string, Accelerator> accelerators_;  // the ones this node has
  std::map<std::string, std::string> declared_;
};

}  // namespace rayk
