#include "net/service_rules.h"

#include <algorithm>
#include <cctype>

namespace sampan::net {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A comment: only characters that need no escaping in nft's syntax.
std::string Comment(const std::string& text) {
  std::string out;
  for (char c : text) {
    bool plain = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
                 c == '/' || c == ':';
    out += plain ? c : '_';
  }
  return "comment \"" + out.substr(0, 120) + "\"";
}

void Elements(std::string& s, const char* map, const char* type,
              const std::vector<std::string>& elements) {
  s += std::string("\tmap ") + map + " {\n\t\ttype " + type + " : verdict\n";
  if (!elements.empty()) {
    s += "\t\telements = {\n";
    for (size_t i = 0; i < elements.size(); ++i) {
      s += "\t\t\t" + elements[i] + (i + 1 < elements.size() ? ",\n" : "\n");
    }
    s += "\t\t}\n";
  }
  s += "\t}\n";
}

// The chains of one service port with endpoints: the random pick over a subset of its
// endpoints (all, or this node's), optionally marking the connection for masquerade, with the
// session-affinity lookups first.
std::string PickChain(const std::string& chain, const std::string& svc_chain,
                      const ServicePortRule& p, bool local_only, bool masquerade) {
  std::vector<size_t> subset;
  for (size_t i = 0; i < p.endpoints.size(); ++i) {
    if (!local_only || p.endpoints[i].local) subset.push_back(i);
  }
  std::string c = "\tchain " + chain + " {\n";
  if (subset.empty()) {
    // A Local policy and no endpoint here: dropped, as kube-proxy does.
    return c + "\t\tdrop " + Comment(p.name + " has no local endpoints") + "\n\t}\n";
  }
  if (masquerade) c += "\t\tjump mark-for-masquerade\n";
  auto ep = [&](size_t i) { return svc_chain + "-ep-" + std::to_string(i); };
  if (p.affinity_seconds > 0) {
    for (size_t i : subset) c += "\t\tip saddr @" + ep(i) + "-clients goto " + ep(i) + "\n";
  }
  if (subset.size() == 1) {
    c += "\t\tgoto " + ep(subset[0]) + " " + Comment(p.name) + "\n";
  } else {
    c += "\t\tnumgen random mod " + std::to_string(subset.size()) + " vmap { ";
    for (size_t k = 0; k < subset.size(); ++k) {
      c += std::to_string(k) + " : goto " + ep(subset[k]) + (k + 1 < subset.size() ? ", " : " ");
    }
    c += "} " + Comment(p.name) + "\n";
  }
  return c + "\t}\n";
}

}  // namespace

std::string RenderServicesScript(const std::vector<ServicePortRule>& ports,
                                 const Ipv4Cidr& cluster_cidr) {
  const std::string table = std::string("ip ") + kServicesTable;
  std::vector<std::string> service_ips, node_ports, no_ep_ips, no_ep_node_ports;
  std::string sets, chains;
  for (size_t n = 0; n < ports.size(); ++n) {
    const ServicePortRule& p = ports[n];
    const std::string proto = Lower(p.protocol);
    const std::string svc_chain = "svc-" + std::to_string(n);
    auto ip_key = [&](uint32_t ip) {
      return FormatIpv4(ip) + " . " + proto + " . " + std::to_string(p.port);
    };
    const std::string np_key = p.node_port ? proto + " . " + std::to_string(p.node_port) : "";
    const bool has_ip = p.cluster_ip != 0 && p.port != 0;
    if (p.endpoints.empty()) {
      if (has_ip) no_ep_ips.push_back(ip_key(p.cluster_ip) + " : goto reject-chain");
      if (p.port != 0) {
        for (const auto* list : {&p.external_ips, &p.load_balancer_ips}) {
          for (uint32_t ip : *list) no_ep_ips.push_back(ip_key(ip) + " : goto reject-chain");
        }
      }
      if (!np_key.empty()) no_ep_node_ports.push_back(np_key + " : goto reject-chain");
      continue;
    }
    // Where each kind of destination goes.
    const std::string internal = p.internal_local ? svc_chain + "-int" : svc_chain;
    const std::string external = p.external_local ? svc_chain + "-ext" : svc_chain;
    if (has_ip) service_ips.push_back(ip_key(p.cluster_ip) + " : goto " + internal);
    if (!np_key.empty()) node_ports.push_back(np_key + " : goto " + external);
    if (p.port != 0) {
      for (uint32_t ip : p.external_ips) {
        service_ips.push_back(ip_key(ip) + " : goto " + external);
      }
      const std::string lb = p.source_ranges.empty() ? external : svc_chain + "-fw";
      for (uint32_t ip : p.load_balancer_ips) {
        service_ips.push_back(ip_key(ip) + " : goto " + lb);
      }
    }
    chains += PickChain(svc_chain, svc_chain, p, false, true);
    if (p.internal_local) chains += PickChain(svc_chain + "-int", svc_chain, p, true, true);
    if (p.external_local) {
      chains += "\tchain " + svc_chain + "-ext {\n";
      // Pods and the node itself are served like internal traffic (masqueraded, any
      // endpoint); clients from outside keep their address and reach this node's endpoints.
      if (cluster_cidr.prefix_len > 0) {
        chains += "\t\tip saddr " + cluster_cidr.ToString() + " goto " + svc_chain + "\n";
      }
      chains += "\t\tfib saddr type local goto " + svc_chain + "\n";
      chains += "\t\tgoto " + svc_chain + "-local\n\t}\n";
      chains += PickChain(svc_chain + "-local", svc_chain, p, true, false);
    }
    if (!p.source_ranges.empty() && !p.load_balancer_ips.empty()) {
      chains += "\tchain " + svc_chain + "-fw {\n\t\tip saddr { ";
      for (size_t i = 0; i < p.source_ranges.size(); ++i) {
        chains += p.source_ranges[i].ToString() + (i + 1 < p.source_ranges.size() ? ", " : " ");
      }
      chains += "} goto " + external + "\n\t\tdrop " +
                Comment(p.name + " not in loadBalancerSourceRanges") + "\n\t}\n";
    }
    for (size_t i = 0; i < p.endpoints.size(); ++i) {
      const ServiceEndpoint& e = p.endpoints[i];
      const std::string ep = svc_chain + "-ep-" + std::to_string(i);
      chains += "\tchain " + ep + " {\n";
      if (p.affinity_seconds > 0) {
        sets += "\tset " + ep + "-clients {\n\t\ttype ipv4_addr\n\t\tflags dynamic,timeout\n" +
                "\t\ttimeout " + std::to_string(p.affinity_seconds) + "s\n\t}\n";
        chains += "\t\tupdate @" + ep + "-clients { ip saddr }\n";
      }
      chains += "\t\tmeta l4proto " + proto + " dnat to " + FormatIpv4(e.ip) + ":" +
                std::to_string(e.port) + "\n";
      chains += "\t}\n";
    }
  }
  std::string s;
  // Create-if-absent, delete, re-create: one transaction that swaps the whole table.
  s += "table " + table + "\n";
  s += "delete table " + table + "\n";
  s += "table " + table + " {\n";
  Elements(s, "service-ips", "ipv4_addr . inet_proto . inet_service", service_ips);
  Elements(s, "service-nodeports", "inet_proto . inet_service", node_ports);
  Elements(s, "no-endpoint-services", "ipv4_addr . inet_proto . inet_service", no_ep_ips);
  Elements(s, "no-endpoint-nodeports", "inet_proto . inet_service", no_ep_node_ports);
  s += sets;
  // Before the NAT hooks (dstnat is -100): new connections to a Service nothing serves are
  // refused at once, as kube-proxy does, instead of timing out.
  for (const char* hook : {"input", "forward", "output"}) {
    s += std::string("\tchain filter-") + hook + " {\n\t\ttype filter hook " + hook +
         " priority -110; policy accept;\n\t\tct state new jump endpoints-check\n\t}\n";
  }
  s += "\tchain endpoints-check {\n"
       "\t\tip daddr . meta l4proto . th dport vmap @no-endpoint-services\n"
       "\t\tfib daddr type local meta l4proto . th dport vmap @no-endpoint-nodeports\n"
       "\t}\n";
  // A TCP reset is "connection refused" to the client wherever the hook runs.
  s += "\tchain reject-chain {\n\t\tmeta l4proto tcp reject with tcp reset\n\t\treject\n\t}\n";
  s += "\tchain nat-prerouting {\n"
       "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
       "\t\tjump services\n"
       "\t}\n";
  // (nft 1.0.6 takes the name "dstnat" for prerouting only: -100 is its value.)
  s += "\tchain nat-output {\n"
       "\t\ttype nat hook output priority -100; policy accept;\n"
       "\t\tjump services\n"
       "\t}\n";
  s += "\tchain nat-postrouting {\n"
       "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
       "\t\tjump masquerading\n"
       "\t}\n";
  // Node ports answer on every local address but loopback, as kube-proxy's nftables mode.
  s += "\tchain services {\n"
       "\t\tip daddr . meta l4proto . th dport vmap @service-ips\n"
       "\t\tfib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap "
       "@service-nodeports\n"
       "\t}\n";
  s += "\tchain mark-for-masquerade {\n\t\tmeta mark set meta mark or 0x00004000\n\t}\n";
  s += "\tchain masquerading {\n"
       "\t\tmeta mark & 0x00004000 == 0x00000000 return\n"
       "\t\tmeta mark set meta mark xor 0x00004000\n"
       "\t\tmasquerade fully-random\n"
       "\t}\n";
  s += chains;
  s += "}\n";
  return s;
}

std::string RenderServicesDeleteScript() {
  const std::string table = std::string("ip ") + kServicesTable;
  return "table " + table + "\ndelete table " + table + "\n";
}

}  // namespace sampan::net
