// The pod network's NAT rules, kept in one nftables table of our own (`ip sampan`) that no
// one else edits, written with the `nft` command (Debian package nftables):
//
//   table ip sampan {
//     chain prerouting  nat/dstnat:  local destination → jump hostports
//     chain output      nat/dstnat:  local destination → jump hostports (node-local clients,
//                                    127.0.0.1 included)
//     chain hostports:               one DNAT rule per hostPort mapping
//     chain postrouting nat/srcnat:  masquerade what needs it: localhost clients of a
//                                    hostPort, pods reaching a hostPort of a pod on the same
//                                    bridge (hairpin), and pod traffic leaving cluster_cidr
//   }
//
// The table is replaced as a whole in one nft transaction each time it changes, so it is
// never seen half-written.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "net/ipv4.h"
#include "util/status.h"

namespace sampan::net {

inline constexpr const char* kNftTable = "sampan";

struct HostPortRule {
  std::string pod_uid;           // named in the rule's comment
  std::string protocol = "TCP";  // TCP | UDP | SCTP
  int host_port = 0;
  uint32_t host_ip = 0;  // 0: every local address
  uint32_t pod_ip = 0;
  int container_port = 0;
};

struct NatRules {
  Ipv4Cidr pod_cidr;      // this node's pods
  Ipv4Cidr cluster_cidr;  // every pod of the cluster
  bool masquerade = true;
  std::vector<HostPortRule> host_ports;
};

// The nft script that replaces table `ip sampan` with `rules` (pure; golden-tested).
std::string RenderNatScript(const NatRules& rules);
// The nft script that removes the table (no error when it is absent).
std::string RenderDeleteScript();

// Runs `nft -f -` with `script` on stdin, in the calling thread's network namespace.
// Unavailable when nft is not installed; Internal with nft's own message when it fails.
Status RunNftScript(const std::string& script);

}  // namespace sampan::net
