// Remote functions for the API edge tests (api_edges_test.cc), in the same
// test library as test_functions.h.
#pragma once

#include <rayk/api.h>

namespace edge_functions {

// rayk::IsInitialized() as a task running in a worker sees it.
bool IsInitializedInTask();

// An actor that reports what its methods see, and is of another class than
// test_functions::Counter (for GetActor's class check).
class Probe {
 public:
  static Probe* Create() { return new Probe(); }
  bool IsInitialized() { return rayk::IsInitialized(); }
};

}  // namespace edge_functions
