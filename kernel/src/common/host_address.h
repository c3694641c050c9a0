// Host addresses: which IPv4 address a process of this host binds to and
// advertises so that other hosts of the cluster reach it.
//
// A node has one address (Ray's node IP): given with --node-ip-address, or
// found as the address of the interface that routes to the head, or loopback
// for clusters that never leave this machine (rayk::Init(), rayk dev up).
// These functions only ask the kernel's routing table and interface list; they
// send no packet. Thread-safe.
#pragma once

#include <string>
#include <vector>

#include "rayk/status.h"

namespace rayk {

inline constexpr const char* kLoopbackAddress = "127.0.0.1";

// True for 127.0.0.0/8.
bool IsLoopbackAddress(const std::string& ip);

// The IPv4 addresses of this host's interfaces that are up, loopback first.
std::vector<std::string> LocalAddresses();

// The local address the kernel would send from to reach `remote_ip` (a UDP
// socket connected, never written to). Loopback for a loopback `remote_ip`.
Result<std::string> SourceAddressFor(const std::string& remote_ip);

// This host's first non-loopback address that is up; an error naming the
// fix (--node-ip-address) when it has none.
Result<std::string> PrimaryAddress();

// OK when `ip` is an IPv4 address of one of this host's interfaces; else an
// error naming `what` (e.g. "--node-ip-address") and listing the addresses.
Status CheckLocalAddress(const std::string& ip, const std::string& what);

// "10.0.0.2:6379" or "tcp://10.0.0.2:6379" -> "10.0.0.2"; "" when there is none. Of a
// comma-separated list of GCS addresses (failover), the first one's host.
std::string HostOfAddress(const std::string& address);

}  // namespace rayk
