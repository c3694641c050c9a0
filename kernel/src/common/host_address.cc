#include "common/host_address.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace rayk {
namespace {

bool ParseIpv4(const std::string& ip, in_addr* out) {
  return inet_pton(AF_INET, ip.c_str(), out) == 1;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

}  // namespace

bool IsLoopbackAddress(const std::string& ip) {
  in_addr addr{};
  return ParseIpv4(ip, &addr) && (ntohl(addr.s_addr) >> 24) == 127;
}

std::vector<std::string> LocalAddresses() {
  std::vector<std::string> loopback, others;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return {};
  for (ifaddrs* it = list; it != nullptr; it = it->ifa_next) {
    if (it->ifa_addr == nullptr || it->ifa_addr->sa_family != AF_INET) continue;
    if (!(it->ifa_flags & IFF_UP)) continue;
    char text[INET_ADDRSTRLEN] = {};
    const auto* in = reinterpret_cast<const sockaddr_in*>(it->ifa_addr);
    if (inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text)) == nullptr) continue;
    (IsLoopbackAddress(text) ? loopback : others).push_back(text);
  }
  freeifaddrs(list);
  loopback.insert(loopback.end(), others.begin(), others.end());
  return loopback;
}

Result<std::string> SourceAddressFor(const std::string& remote_ip) {
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(9);  // any port: a UDP connect sends nothing
  if (!ParseIpv4(remote_ip, &remote.sin_addr)) {
    return Status::InvalidArgument("'" + remote_ip +
                                   "' is not an IPv4 address; give the head as IP:PORT");
  }
  if (IsLoopbackAddress(remote_ip)) return std::string(kLoopbackAddress);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IoError(std::string("socket: ") + std::strerror(errno));
  sockaddr_in local{};
  socklen_t length = sizeof(local);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof(remote)) == 0 &&
            getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0;
  int error = errno;
  close(fd);
  if (!ok) {
    return Status::Unavailable("no route from this host to " + remote_ip + " (" +
                               std::strerror(error) +
                               "); check the network or pass --node-ip-address");
  }
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &local.sin_addr, text, sizeof(text));
  return std::string(text);
}

Result<std::string> PrimaryAddress() {
  for (const std::string& ip : LocalAddresses()) {
    if (!IsLoopbackAddress(ip)) return ip;
  }
  return Status::NotFound(
      "this host has no network address besides loopback; pass --node-ip-address");
}

Status CheckLocalAddress(const std::string& ip, const std::string& what) {
  in_addr addr{};
  if (!ParseIpv4(ip, &addr)) {
    return Status::InvalidArgument(what + " '" + ip + "' is not an IPv4 address (e.g. 10.0.0.2)");
  }
  std::vector<std::string> local = LocalAddresses();
  for (const std::string& candidate : local) {
    if (candidate == ip) return Status::Ok();
  }
  return Status::InvalidArgument(what + " " + ip +
                                 " is not an address of this host; use one of: " + Join(local));
}

std::string HostOfAddress(const std::string& address) {
  // Of a list of GCS addresses (failover), the first one's host.
  std::string rest = address.substr(0, address.find(','));
  if (size_t scheme = rest.find("://"); scheme != std::string::npos) rest = rest.substr(scheme + 3);
  size_t colon = rest.rfind(':');
  return colon == std::string::npos ? rest : rest.substr(0, colon);
}

}  // namespace rayk
