#include "net/nftables.h"

#include <gtest/gtest.h>

namespace sampan::net {
namespace {

TEST(NftablesTest, RendersTheWholeTable) {
  NatRules rules;
  rules.pod_cidr = *ParseCidr("10.244.1.0/24");
  rules.cluster_cidr = *ParseCidr("10.244.0.0/16");
  rules.host_ports.push_back({"uid-a", "TCP", 8080, 0, *ParseIpv4("10.244.1.2"), 80});
  rules.host_ports.push_back(
      {"uid \"b\"", "UDP", 5353, *ParseIpv4("192.168.7.1"), *ParseIpv4("10.244.1.3"), 53});
  const std::string want =
      "table ip sampan\n"
      "delete table ip sampan\n"
      "table ip sampan {\n"
      "\tchain prerouting {\n"
      "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
      "\t\tfib daddr type local jump hostports\n"
      "\t}\n"
      "\tchain output {\n"
      "\t\ttype nat hook output priority -100; policy accept;\n"
      "\t\tfib daddr type local jump hostports\n"
      "\t}\n"
      "\tchain hostports {\n"
      "\t\tmeta l4proto tcp th dport 8080 dnat to 10.244.1.2:80 comment \"pod uid-a\"\n"
      "\t\tip daddr 192.168.7.1 meta l4proto udp th dport 5353 dnat to 10.244.1.3:53 comment "
      "\"pod uid__b_\"\n"
      "\t}\n"
      "\tchain postrouting {\n"
      "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
      "\t\tip saddr 127.0.0.0/8 ct status dnat masquerade\n"
      "\t\tip saddr 10.244.1.0/24 ip daddr 10.244.1.2 meta l4proto tcp th dport 80 ct status "
      "dnat masquerade\n"
      "\t\tip saddr 10.244.1.0/24 ip daddr 10.244.1.3 meta l4proto udp th dport 53 ct status "
      "dnat masquerade\n"
      "\t\tip saddr 10.244.0.0/16 ip daddr 10.244.0.0/16 return\n"
      "\t\tip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random\n"
      "\t}\n"
      "}\n";
  EXPECT_EQ(RenderNatScript(rules), want);
}

TEST(NftablesTest, NoMasqueradeWhenDisabled) {
  NatRules rules;
  rules.pod_cidr = *ParseCidr("10.244.1.0/24");
  rules.cluster_cidr = *ParseCidr("10.244.0.0/16");
  rules.masquerade = false;
  std::string s = RenderNatScript(rules);
  EXPECT_EQ(s.find("fully-random"), std::string::npos);
  EXPECT_NE(s.find("ip saddr 127.0.0.0/8 ct status dnat masquerade"), std::string::npos);
  EXPECT_EQ(RenderDeleteScript(), "table ip sampan\ndelete table ip sampan\n");
}

}  // namespace
}  // namespace sampan::net
