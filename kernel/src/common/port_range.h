// The ports a node's processes may listen on, so that a firewall can be
// opened for exactly them (Ray's --node-manager-port, --min-worker-port and
// --max-worker-port). Without a range a process takes any free port.
#pragma once

#include <memory>
#include <string>

#include "rayk/plugin/transport.h"
#include "rayk/status.h"

namespace rayk {

struct PortRange {
  int min = 0;  // both 0: any free port
  int max = 0;
  bool any() const { return min == 0 && max == 0; }
  std::string ToString() const { return std::to_string(min) + "-" + std::to_string(max); }
};

// Ok for "any", or for 1 <= min <= max <= 65535. `names` are the options the
// user typed ("--min-worker-port/--max-worker-port"), for the error.
Status CheckPortRange(const PortRange& range, const std::string& names);

// Ok for 0 (any free port) or 1..65535.
Status CheckPort(int port, const std::string& name);
// The same, and -1 for a server that is optional and left off.
Status CheckOptionalPort(int port, const std::string& name);

// Serves `handler` on tcp://host:P for a free port P of `range` (any port when
// the range is "any"), starting at a random port of the range so that
// processes starting together rarely race for the same one.
Result<std::unique_ptr<Server>> ServeInPortRange(Transport& transport, const std::string& host,
                                                 const PortRange& range, MessageHandler handler);

}  // namespace rayk
