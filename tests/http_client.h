// HttpCall for tests: the client `rayk job` uses (observability/http_client.h),
// under the tests' namespace.
#pragma once

#include "observability/http_client.h"

namespace rayk::testing {

using observability::HttpCall;
using observability::HttpGet;
using observability::HttpHeaders;
using observability::HttpResult;

}  // namespace rayk::testing
