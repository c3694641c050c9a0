// Accelerator device ids: which devices of its node a task or actor may use.
//
// A task or actor that asks for an accelerator resource (SetResource("GPU",
// 1)) is given devices of its node, by index: GPU 0, GPU 1, ... Before it
// runs, its worker sets the accelerator's environment variable to them
// (CUDA_VISIBLE_DEVICES=1 for GPU; other accelerators as the node declares
// them, see docs/placement.md), and these calls return them. A share of one
// device (GPU: 0.5) names that device, which other shares may use too. An
// actor keeps its devices for its life.
//
// As in Ray, a task on a node that has GPUs but that asked for none sees
// CUDA_VISIBLE_DEVICES set to "" (no device), and these calls return an empty
// list; so do they in a driver.
#pragma once

#include <string>
#include <vector>

namespace rayk {

// The ids of the devices of accelerator `resource` ("GPU", or one a node
// declared) this task or actor was given; empty when none.
std::vector<int> GetAcceleratorIds(const std::string& resource);

// GetAcceleratorIds("GPU"), as Ray's get_gpu_ids().
std::vector<int> GetGpuIds();

}  // namespace rayk
