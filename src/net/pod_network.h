// The pod network of one node: a Linux bridge, one veth pair per pod, addresses from the
// node's podCIDR, no NAT between pods (every pod has its own IP and reaches the others
// directly). hostPort mappings are DNAT rules in an nftables table of our own.
//
// State (the IP allocated to each pod) lives in files under `state_dir`, so a restarted
// agent finds the same addresses and the same veths and adopts them.
//
// Needs CAP_NET_ADMIN (and CAP_SYS_ADMIN to enter a pod's network namespace). Safe to call
// from any thread: calls for one pod are serialised, calls for different pods run side by
// side (only the address allocation and the nftables table are shared).
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/ipv4.h"
#include "net/service_rules.h"
#include "util/status.h"

namespace sampan::net {

struct NetworkConfig {
  std::string bridge = "sampan0";  // created if absent; its address is the first host of pod_cidr
  std::string pod_cidr;            // this node's range, "10.244.1.0/24" (IPv4)
  std::string cluster_cidr;        // all pods of the cluster, "10.244.0.0/16" (routes, masquerade)
  int mtu = 1500;
  // Traffic from pods to addresses outside cluster_cidr is masqueraded to the node's address.
  bool masquerade = true;
  std::string state_dir;  // e.g. DATA_DIR/agent/network
  // The node's network namespace (where the bridge and the nftables table live), e.g.
  // /run/netns/node1 in tests; "" = the namespace of the thread that calls Open.
  std::string netns_path;
};

struct HostPort {
  std::string protocol = "TCP";  // TCP | UDP | SCTP
  int host_port = 0;
  int container_port = 0;
  std::string host_ip;  // empty: every address of the node
};

struct PodAddress {
  std::string ip;       // "10.244.1.7"
  int prefix_len = 24;  // of pod_cidr
  std::string gateway;  // the bridge address
  std::string host_veth;
};

// The host end of a pod's veth: "veth" + 11 hex digits of a hash of the UID (15 bytes, the
// longest interface name Linux takes). Stable, so a restarted agent finds it.
std::string HostVethName(const std::string& pod_uid);

class PodNetwork {
 public:
  // Creates (or adopts) the bridge, assigns it the gateway address, enables IPv4 forwarding,
  // and installs the masquerade and hostPort tables. Invalid for a bad CIDR. Holds a lock on
  // state_dir while it lives: a second Open of the same state_dir is Unavailable (so is a
  // node without the `nft` command).
  static Result<std::unique_ptr<PodNetwork>> Open(const NetworkConfig& config);
  virtual ~PodNetwork() = default;

  // Gives the pod an address: allocates an IP (the same one again if the pod already has
  // one), creates a veth pair, puts one end as `ifname` into the network namespace at
  // `netns_path` (e.g. /proc/PID/ns/net of the pod's pause process) with the address and a
  // default route via the bridge, brings up lo there, and attaches the other end to the
  // bridge. ResourceExhausted when the range is full (Code::kTooManyRequests, the HTTP
  // status gRPC uses for RESOURCE_EXHAUSTED).
  virtual Result<PodAddress> Attach(const std::string& pod_uid, const std::string& netns_path,
                                    const std::string& ifname = "eth0") = 0;
  // Maps the pod's hostPorts to its address (replacing earlier mappings of that pod).
  virtual Status SetHostPorts(const std::string& pod_uid, const std::vector<HostPort>& ports) = 0;
  // Removes the veth (if the namespace still exists), the hostPort rules and the IP
  // allocation. OK when the pod is unknown.
  virtual Status Detach(const std::string& pod_uid) = 0;
  // The address allocated to a pod, if any.
  virtual std::optional<PodAddress> AddressOf(const std::string& pod_uid) const = 0;
  // Pod UIDs holding addresses (for garbage-collecting pods that no longer exist).
  virtual std::vector<std::string> Pods() const = 0;
  // The bridge's address (the pods' gateway), on which node-local services such as the
  // cluster DNS listen.
  virtual uint32_t Gateway() const = 0;
  // The service proxy's rules (see service_rules.h): replaces the node's services table
  // with `ports`, and routes `service_cidr` to the bridge so that connections to a service
  // address reach the NAT and filter hooks even on a node without a default route (one
  // to an address nothing serves is then refused, not unreachable).
  virtual Status SetServices(const std::vector<ServicePortRule>& ports,
                             const Ipv4Cidr& service_cidr) = 0;
  // Routes to the other nodes' pods (host-gw, as flannel's backend of that name): each
  // range in `routes` via that node's address, which must be on a network this node reaches
  // directly. Routes into cluster_cidr via a gateway that are not in `routes` (nodes gone)
  // are removed.
  virtual Status SetNodeRoutes(const std::vector<std::pair<Ipv4Cidr, uint32_t>>& routes) = 0;
  // Removes the bridge and every table this network installed (for tests and `make down`),
  // and the veths of the pods it knows; the IP allocations stay on disk.
  virtual Status Teardown() = 0;
};

}  // namespace sampan::net
