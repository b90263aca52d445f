// The service proxy's rules: Services' virtual addresses (clusterIP:port, external and
// load-balancer addresses, and node ports on every local address) sent to their endpoints, in
// one nftables table of our own (`ip sampan-services`), shaped like kube-proxy's nftables mode:
//
//   map service-ips        address . proto . port → goto the chain for that destination
//   map service-nodeports  proto . nodePort        → goto the chain for that destination
//   map no-endpoint-*      the same keys           → reject (nothing serves them)
//   chain svc-N            mark for masquerade; pick one of all ready endpoints → svc-N-ep-I
//   chain svc-N-int        internalTrafficPolicy Local: the same over this node's endpoints
//   chain svc-N-ext        externalTrafficPolicy Local: pods and the node itself → svc-N;
//                          anyone else → svc-N-local (this node's endpoints, not masqueraded,
//                          so the endpoint sees the client's address)
//   chain svc-N-fw         loadBalancerSourceRanges: other sources are dropped
//   chain svc-N-ep-I       (remember the client for session affinity) dnat to endpoint ip:port
//   chain masquerading     marked connections take the source address of the way out
//
// A "Local" policy with no endpoint on this node drops the traffic (kube-proxy does the same,
// so that a load balancer's health check steers elsewhere). Session affinity (ClientIP) keeps
// one set of recent clients per endpoint, with the Service's timeout, consulted before the
// random pick.
//
// Every other service connection is masqueraded (kube-proxy's --masquerade-all): a pod reaching
// a Service whose endpoint sits on its own bridge then gets the answer back through the node,
// which undoes the DNAT, without br_netfilter. The cost: endpoints see the node's address, not
// the client's.
//
// The table is replaced as a whole in one nft transaction each time it changes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "net/ipv4.h"

namespace sampan::net {

inline constexpr const char* kServicesTable = "sampan-services";

struct ServiceEndpoint {
  uint32_t ip = 0;
  int port = 0;
  bool local = false;  // on this node (its nodeName is this node's name)
  bool operator==(const ServiceEndpoint&) const = default;
};

// One port of one Service (kube-proxy's "service port").
struct ServicePortRule {
  std::string name;              // "ns/svc/port-name", for the comment
  std::string protocol = "TCP";  // TCP | UDP | SCTP
  uint32_t cluster_ip = 0;       // 0: none (headless); node port only
  int port = 0;
  int node_port = 0;                       // 0: none
  std::vector<ServiceEndpoint> endpoints;  // ready ones; empty: connections are refused
  // spec.externalIPs and status.loadBalancer.ingress[].ip: answered on `port` like the
  // clusterIP, as external traffic.
  std::vector<uint32_t> external_ips;
  std::vector<uint32_t> load_balancer_ips;
  std::vector<Ipv4Cidr> source_ranges;  // loadBalancerSourceRanges (load-balancer IPs only)
  bool external_local = false;          // externalTrafficPolicy: Local
  bool internal_local = false;          // internalTrafficPolicy: Local
  int affinity_seconds = 0;             // sessionAffinity ClientIP's timeout; 0: none
};

// The nft script that replaces table `ip sampan-services` with `ports` (pure; golden-tested).
// `cluster_cidr` (all pods' addresses; prefix 0 = unknown) tells pods from outside clients
// for externalTrafficPolicy Local.
std::string RenderServicesScript(const std::vector<ServicePortRule>& ports,
                                 const Ipv4Cidr& cluster_cidr = {});
// The nft script that removes the table (no error when it is absent).
std::string RenderServicesDeleteScript();

}  // namespace sampan::net
