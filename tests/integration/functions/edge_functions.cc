#include "edge_functions.h"

namespace edge_functions {

bool IsInitializedInTask() { return rayk::IsInitialized(); }

}  // namespace edge_functions

using namespace edge_functions;  // RAYK_REMOTE names functions as written here
RAYK_REMOTE(IsInitializedInTask, Probe::Create, &Probe::IsInitialized);
