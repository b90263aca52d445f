// The service proxy's rules: Services' virtual addresses (clusterIP:port, and node ports on
// every local address) sent to their endpoints, in one nftables table of our own
// (`ip sampan-services`), shaped like kube-proxy's nftables mode:
//
//   map service-ips        clusterIP . proto . port  → goto the service port's chain
//   map service-nodeports  proto . nodePort          → goto the service port's chain
//   map no-endpoint-*      the same keys             → reject (nothing serves them)
//   chain svc-N            mark for masquerade; numgen random mod #endpoints → ep-N-I
//   chain ep-N-I           dnat to endpoint ip:port
//   chain masquerading     marked connections take the source address of the way out
//
// Every service connection is masqueraded (kube-proxy's --masquerade-all): a pod reaching
// a Service whose endpoint sits on its own bridge then gets the answer back through the
// node, which undoes the DNAT, without br_netfilter. The cost: endpoints see the node's
// address, not the client's.
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
};

// One port of one Service (kube-proxy's "service port").
struct ServicePortRule {
  std::string name;              // "ns/svc/port-name", for the comment
  std::string protocol = "TCP";  // TCP | UDP | SCTP
  uint32_t cluster_ip = 0;       // 0: none (headless); node port only
  int port = 0;
  int node_port = 0;                       // 0: none
  std::vector<ServiceEndpoint> endpoints;  // ready ones; empty: connections are refused
};

// The nft script that replaces table `ip sampan-services` with `ports` (pure; golden-tested).
std::string RenderServicesScript(const std::vector<ServicePortRule>& ports);
// The nft script that removes the table (no error when it is absent).
std::string RenderServicesDeleteScript();

}  // namespace sampan::net
