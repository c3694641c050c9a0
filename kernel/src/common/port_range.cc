#include "common/port_range.h"

#include <random>

namespace rayk {

Status CheckPort(int port, const std::string& name) {
  if (port >= 0 && port <= 65535) return Status::Ok();
  return Status::InvalidArgument(name + " " + std::to_string(port) +
                                 " is not a port: use 1 to 65535 (or 0 for any free port)");
}

Status CheckOptionalPort(int port, const std::string& name) {
  if (port >= -1 && port <= 65535) return Status::Ok();
  return Status::InvalidArgument(name + " " + std::to_string(port) +
                                 " is not a port: use 1 to 65535, 0 for any free port or -1 for "
                                 "none");
}

Status CheckPortRange(const PortRange& range, const std::string& names) {
  if (range.any()) return Status::Ok();
  if (range.min < 1 || range.max > 65535 || range.min > range.max) {
    return Status::InvalidArgument(
        names + " " + range.ToString() +
        " is not a port range: give both, with 1 <= min <= max <= 65535 (e.g. 10002-19999)");
  }
  return Status::Ok();
}

Result<std::unique_ptr<Server>> ServeInPortRange(Transport& transport, const std::string& host,
                                                 const PortRange& range, MessageHandler handler) {
  if (range.any()) return transport.Serve("tcp://" + host + ":0", std::move(handler));
  const int size = range.max - range.min + 1;
  std::uniform_int_distribution<int> pick(0, size - 1);
  std::random_device seed;
  const int first = pick(seed);
  Status last = Status::Ok();
  for (int i = 0; i < size; ++i) {
    int port = range.min + (first + i) % size;
    auto server = transport.Serve("tcp://" + host + ":" + std::to_string(port), handler);
    if (server.ok()) return server;
    last = server.status();
  }
  return Status::Unavailable(
      "no free port in " + range.ToString() + " on " + host + " (last: " + last.message() +
      "); widen --min-worker-port/--max-worker-port or stop what holds them");
}

}  // namespace rayk
