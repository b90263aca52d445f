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

}  // namespace

std::string RenderServicesScript(const std::vector<ServicePortRule>& ports) {
  const std::string table = std::string("ip ") + kServicesTable;
  std::vector<std::string> service_ips, node_ports, no_ep_ips, no_ep_node_ports;
  std::string chains;
  for (size_t n = 0; n < ports.size(); ++n) {
    const ServicePortRule& p = ports[n];
    const std::string proto = Lower(p.protocol);
    const std::string svc_chain = "svc-" + std::to_string(n);
    const std::string ip_key =
        p.cluster_ip ? FormatIpv4(p.cluster_ip) + " . " + proto + " . " + std::to_string(p.port)
                     : "";
    const std::string np_key = p.node_port ? proto + " . " + std::to_string(p.node_port) : "";
    if (p.endpoints.empty()) {
      if (!ip_key.empty()) no_ep_ips.push_back(ip_key + " : goto reject-chain");
      if (!np_key.empty()) no_ep_node_ports.push_back(np_key + " : goto reject-chain");
      continue;
    }
    if (!ip_key.empty()) service_ips.push_back(ip_key + " : goto " + svc_chain);
    if (!np_key.empty()) node_ports.push_back(np_key + " : goto " + svc_chain);
    chains += "\tchain " + svc_chain + " {\n";
    chains += "\t\tjump mark-for-masquerade\n";
    if (p.endpoints.size() == 1) {
      chains += "\t\tgoto " + svc_chain + "-ep-0 " + Comment(p.name) + "\n";
    } else {
      chains += "\t\tnumgen random mod " + std::to_string(p.endpoints.size()) + " vmap { ";
      for (size_t i = 0; i < p.endpoints.size(); ++i) {
        chains += std::to_string(i) + " : goto " + svc_chain + "-ep-" + std::to_string(i) +
                  (i + 1 < p.endpoints.size() ? ", " : " ");
      }
      chains += "} " + Comment(p.name) + "\n";
    }
    chains += "\t}\n";
    for (size_t i = 0; i < p.endpoints.size(); ++i) {
      const ServiceEndpoint& e = p.endpoints[i];
      chains += "\tchain " + svc_chain + "-ep-" + std::to_string(i) + " {\n";
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
