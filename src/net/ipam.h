// The pod IPs of one node, allocated from its pod CIDR and kept on disk (like CNI's
// host-local IPAM): one file per allocated IP, `<dir>/<ip>`, holding the pod UID, written
// atomically, so a restarted agent sees exactly the allocations it made. The network and
// broadcast addresses and the gateway (the first host) are never handed out. Allocation
// goes round-robin from the last address handed out (`<dir>/last_reserved_ip`), so an IP
// just freed is not reused at once (stale conntrack entries and ARP caches age out first).
//
// Not thread-safe (PodNetwork serialises calls). One process per directory: the caller
// holds the state directory's lock.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "net/ipv4.h"
#include "util/status.h"

namespace sampan::net {

class IpPool {
 public:
  // Reads the allocations under `dir` (created if absent). Invalid when `range` has fewer
  // than two host addresses (prefix longer than /30). Files naming IPs outside `range` (the
  // node's range changed) are still reported by All() and freed by Release().
  static Result<std::unique_ptr<IpPool>> Open(const Ipv4Cidr& range, const std::string& dir);

  // The pod's IP: the one it already holds (if inside the range), else a free one.
  // TooManyRequests (the HTTP form of "resource exhausted") when the range is full.
  Result<uint32_t> Allocate(const std::string& pod_uid);
  // Frees the pod's IP(s); OK when it has none.
  Status Release(const std::string& pod_uid);
  std::optional<uint32_t> Lookup(const std::string& pod_uid) const;
  // pod UID → IP, for every allocation.
  const std::map<std::string, uint32_t>& All() const { return by_pod_; }

  const Ipv4Cidr& range() const { return range_; }
  uint32_t gateway() const { return range_.network + 1; }
  uint32_t first() const { return range_.network + 2; }
  uint32_t last() const { return range_.broadcast() - 1; }

 private:
  IpPool(const Ipv4Cidr& range, std::string dir) : range_(range), dir_(std::move(dir)) {}
  std::string PathOf(uint32_t ip) const;

  Ipv4Cidr range_;
  std::string dir_;
  std::map<std::string, uint32_t> by_pod_;
  std::map<uint32_t, std::string> by_ip_;
  uint32_t last_reserved_ = 0;
};

}  // namespace sampan::net
