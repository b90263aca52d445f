// ClusterIPs and node ports for Services, allocated by the API server as Kubernetes' service
// REST storage does: on create (and on updates that change the type or add ports) a Service
// without a clusterIP gets a free address of the service range, and NodePort/LoadBalancer
// ports without a nodePort get a free port of the node-port range; values a client asks for
// are checked (in range, not taken). Updates keep what was allocated when the client leaves
// it out, and a type change drops what the new type has no use for.
//
// The watch cache is the record of what is taken: an address or port is in use while a
// stored Service names it. A value handed out but not yet stored is held by the request
// that took it (Hold) until its write is in the cache or has failed, so concurrent creates
// never get the same value. Nothing needs releasing when a Service goes: its values are
// free once the cache has seen the deletion. (One API server per store: a second server
// on the same store would need the hold to live in the store.)
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "net/ipv4.h"
#include "util/status.h"

namespace sampan::apiserver {

class ObjectCache;

struct ServiceNetwork {
  net::Ipv4Cidr service_cidr{0x0A2B0000, 16};  // 10.43.0.0/16, as k3s
  int node_port_min = 30000;
  int node_port_max = 32767;

  // The first address of the range: the `kubernetes` Service's clusterIP.
  uint32_t ApiServiceIp() const { return service_cidr.network + 1; }
  // The tenth: the cluster DNS Service's.
  uint32_t DnsServiceIp() const { return service_cidr.network + 10; }
};

// Parses a node-port range "30000-32767".
Result<std::pair<int, int>> ParseNodePortRange(std::string_view text);

class ServiceAllocator {
 public:
  // Values taken by one request, free again when it is destroyed (by then the Service that
  // names them is in the cache, or its write failed).
  class Hold {
   public:
    Hold() = default;
    Hold(Hold&& o) noexcept
        : owner_(o.owner_), ips_(std::move(o.ips_)), ports_(std::move(o.ports_)) {
      o.owner_ = nullptr;
    }
    Hold& operator=(Hold&&) = delete;
    ~Hold();

   private:
    friend class ServiceAllocator;
    ServiceAllocator* owner_ = nullptr;
    std::vector<uint32_t> ips_;
    std::vector<int> ports_;
  };

  // `services_prefix`: the store key prefix of Services ("/registry/services/").
  ServiceAllocator(ServiceNetwork network, const ObjectCache& cache, std::string services_prefix);

  const ServiceNetwork& network() const { return network_; }

  // Completes `svc` (a defaulted, valid Service stored under `key`) before it is written:
  // `cur` is the stored object for an update, null for a create. Errors are Kubernetes'
  // (Invalid naming the field, or Internal when a range is full). With `dry_run` the values
  // are chosen and shown but not held.
  Result<Hold> Allocate(const std::string& key, boost::json::object& svc,
                        const boost::json::object* cur, bool dry_run);

  // Before an update is defaulted and validated: values allocated before and left out of
  // `svc` are carried over from `cur`, and those its new type has no use for are dropped.
  static void PrepareUpdate(boost::json::object& svc, const boost::json::object& cur);

 private:
  struct InUse {
    std::set<uint32_t> ips;
    std::set<int> ports;
  };
  // Everything stored Services (other than the one at `key`) and open holds name. Under mu_.
  InUse Taken(const std::string& key) const;
  void Release(const Hold& h);

  const ServiceNetwork network_;
  const ObjectCache& cache_;
  const std::string prefix_;
  std::mutex mu_;
  std::multiset<uint32_t> held_ips_;  // under mu_
  std::multiset<int> held_ports_;     // under mu_
  std::mt19937 rng_;                  // under mu_
};

}  // namespace sampan::apiserver
