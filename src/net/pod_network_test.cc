// Root tests: a "node" namespace holds the bridge and the nftables table, each "pod" is a
// namespace of its own; all are created here and deleted (with everything in them) at the
// end of each test, also when it fails.
#include "net/pod_network.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "net/netlink.h"
#include "net/service_rules.h"
#include "net/test_netns.h"
#include "util/fs.h"

namespace sampan::net {
namespace {

using testing::AcceptPeer;
using testing::ConnectFrom;
using testing::ListenIn;
using testing::Probe;
using testing::TestNetns;

class PodNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(node_.ok()) << node_.error();
    ASSERT_EQ(node_.Run("ip link set lo up"), 0);  // as on any real node
    char tmpl[] = "/tmp/sampan-podnet-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    state_dir_ = tmpl;
    config_.pod_cidr = "10.244.1.0/24";
    config_.cluster_cidr = "10.244.0.0/16";
    config_.state_dir = state_dir_;
    config_.netns_path = node_.path();
    auto nl = Netlink::OpenInNetns(node_.path());
    ASSERT_TRUE(nl.ok()) << nl.status().ToString();
    node_nl_ = std::move(*nl);
  }
  void TearDown() override {
    for (int fd : fds_) ::close(fd);
    network_.reset();
    std::filesystem::remove_all(state_dir_);
    // The namespaces go with their TestNetns members, taking links and tables along.
  }

  void OpenNetwork() {
    auto n = PodNetwork::Open(config_);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    network_ = std::move(*n);
  }
  TestNetns& NewPod(const std::string& tag) {
    pods_.push_back(std::make_unique<TestNetns>(tag));
    EXPECT_TRUE(pods_.back()->ok()) << pods_.back()->error();
    return *pods_.back();
  }
  int Listen(const TestNetns& ns, int port) {
    auto fd = ListenIn(ns.path(), port);
    EXPECT_TRUE(fd.ok()) << fd.status().ToString();
    if (!fd.ok()) return -1;
    fds_.push_back(*fd);
    return *fd;
  }
  bool NodeHasTable() { return node_.Run("nft list table ip sampan >/dev/null") == 0; }
  std::string NodeTable() {
    std::string out;
    node_.Run("nft list table ip sampan", &out);
    return out;
  }

  TestNetns node_{"node"};
  std::vector<std::unique_ptr<TestNetns>> pods_;
  std::string state_dir_;
  NetworkConfig config_;
  std::unique_ptr<Netlink> node_nl_;
  std::unique_ptr<PodNetwork> network_;
  std::vector<int> fds_;
};

TEST_F(PodNetworkTest, OpenSetsUpTheBridgeForwardingAndTable) {
  OpenNetwork();
  auto br = node_nl_->GetLink("sampan0");
  ASSERT_TRUE(br.ok()) << br.status().ToString();
  EXPECT_EQ(br->kind, "bridge");
  EXPECT_TRUE(br->up);
  EXPECT_EQ(br->mtu, 1500);
  auto addrs = node_nl_->ListAddresses("sampan0");
  ASSERT_TRUE(addrs.ok());
  ASSERT_EQ(addrs->size(), 1u);
  EXPECT_EQ(FormatIpv4((*addrs)[0].address), "10.244.1.1");
  EXPECT_EQ((*addrs)[0].prefix_len, 24);
  std::string out;
  EXPECT_EQ(node_.Run("cat /proc/sys/net/ipv4/ip_forward", &out), 0);
  EXPECT_EQ(out, "1\n");
  EXPECT_EQ(node_.Run("cat /proc/sys/net/ipv4/conf/sampan0/route_localnet", &out), 0);
  EXPECT_EQ(out, "1\n");
  std::string table = NodeTable();
  EXPECT_NE(table.find("ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade"),
            std::string::npos)
      << table;

  // Opening again (an agent restart) adopts the bridge as it is.
  network_.reset();
  OpenNetwork();
  EXPECT_EQ(node_nl_->GetLink("sampan0")->index, br->index);
  EXPECT_EQ(node_nl_->ListAddresses("sampan0")->size(), 1u);
}

TEST_F(PodNetworkTest, TwoPodsReachEachOtherWithoutNat) {
  OpenNetwork();
  TestNetns& a = NewPod("pa");
  TestNetns& b = NewPod("pb");
  auto addr_a = network_->Attach("uid-a", a.path());
  ASSERT_TRUE(addr_a.ok()) << addr_a.status().ToString();
  auto addr_b = network_->Attach("uid-b", b.path());
  ASSERT_TRUE(addr_b.ok()) << addr_b.status().ToString();
  EXPECT_EQ(addr_a->ip, "10.244.1.2");
  EXPECT_EQ(addr_b->ip, "10.244.1.3");
  EXPECT_EQ(addr_a->prefix_len, 24);
  EXPECT_EQ(addr_a->gateway, "10.244.1.1");
  EXPECT_EQ(addr_a->host_veth, HostVethName("uid-a"));
  EXPECT_LE(addr_a->host_veth.size(), 15u);
  EXPECT_NE(addr_a->host_veth, addr_b->host_veth);

  // The host end is on the bridge; the pod end is eth0 with the address and a default route.
  auto veth = node_nl_->GetLink(addr_a->host_veth);
  ASSERT_TRUE(veth.ok()) << veth.status().ToString();
  EXPECT_TRUE(veth->up);
  EXPECT_EQ(veth->master, node_nl_->GetLink("sampan0")->index);
  std::string out;
  EXPECT_EQ(a.Run("ip -4 addr show eth0", &out), 0);
  EXPECT_NE(out.find("inet 10.244.1.2/24"), std::string::npos) << out;
  EXPECT_EQ(a.Run("ip route show default", &out), 0);
  EXPECT_NE(out.find("default via 10.244.1.1 dev eth0"), std::string::npos) << out;
  EXPECT_EQ(a.Run("ip link show lo", &out), 0);
  EXPECT_NE(out.find("UP"), std::string::npos) << out;

  // The gateway answers, pods ping each other, and a TCP peer sees the other pod's own IP.
  EXPECT_EQ(a.Run("busybox ping -c 1 -W 3 10.244.1.1", &out), 0) << out;
  EXPECT_EQ(a.Run("busybox ping -c 1 -W 3 10.244.1.3", &out), 0) << out;
  int lb = Listen(b, 8000);
  auto peer = Probe(a.path(), "10.244.1.3", 8000, lb);
  ASSERT_TRUE(peer.ok()) << peer.status().ToString();
  EXPECT_EQ(*peer, "10.244.1.2");
  int la = Listen(a, 8000);
  peer = Probe(b.path(), "10.244.1.2", 8000, la);
  ASSERT_TRUE(peer.ok()) << peer.status().ToString();
  EXPECT_EQ(*peer, "10.244.1.3");
  // The node reaches pods too.
  peer = Probe(node_.path(), "10.244.1.2", 8000, la);
  ASSERT_TRUE(peer.ok()) << peer.status().ToString();
  EXPECT_EQ(*peer, "10.244.1.1");

  auto pods = network_->Pods();
  std::sort(pods.begin(), pods.end());
  EXPECT_EQ(pods, (std::vector<std::string>{"uid-a", "uid-b"}));
  ASSERT_TRUE(network_->AddressOf("uid-b"));
  EXPECT_EQ(network_->AddressOf("uid-b")->ip, "10.244.1.3");
  EXPECT_FALSE(network_->AddressOf("uid-x"));
}

TEST_F(PodNetworkTest, DetachRemovesTheVethAndFreesTheAddress) {
  OpenNetwork();
  TestNetns& a = NewPod("pa");
  auto addr = network_->Attach("uid-a", a.path());
  ASSERT_TRUE(addr.ok()) << addr.status().ToString();
  ASSERT_TRUE(fs::Exists(state_dir_ + "/ips/10.244.1.2"));
  ASSERT_TRUE(network_->Detach("uid-a").ok());
  EXPECT_EQ(node_nl_->GetLink(addr->host_veth).status().code(), Code::kNotFound);
  auto pod_nl = Netlink::OpenInNetns(a.path());
  ASSERT_TRUE(pod_nl.ok());
  EXPECT_EQ((*pod_nl)->GetLink("eth0").status().code(), Code::kNotFound);
  EXPECT_FALSE(network_->AddressOf("uid-a"));
  EXPECT_TRUE(network_->Pods().empty());
  EXPECT_FALSE(fs::Exists(state_dir_ + "/ips/10.244.1.2"));
  EXPECT_TRUE(network_->Detach("uid-a").ok());       // twice
  EXPECT_TRUE(network_->Detach("never-seen").ok());  // unknown

  // A pod whose namespace is already gone is detached all the same.
  auto b = std::make_unique<TestNetns>("pb");
  ASSERT_TRUE(b->ok());
  auto addr_b = network_->Attach("uid-b", b->path());
  ASSERT_TRUE(addr_b.ok()) << addr_b.status().ToString();
  b.reset();  // deletes the namespace, and with it the veth pair
  ASSERT_TRUE(network_->Detach("uid-b").ok());
  EXPECT_FALSE(network_->AddressOf("uid-b"));
}

TEST_F(PodNetworkTest, ReopenAdoptsAddressesVethsAndHostPorts) {
  OpenNetwork();
  TestNetns& a = NewPod("pa");
  TestNetns& b = NewPod("pb");
  ASSERT_TRUE(network_->Attach("uid-a", a.path()).ok());
  auto first_b = network_->Attach("uid-b", b.path());
  ASSERT_TRUE(first_b.ok());
  ASSERT_TRUE(network_->SetHostPorts("uid-b", {{"TCP", 8080, 80, ""}}).ok());
  int veth_index = node_nl_->GetLink(first_b->host_veth)->index;

  network_.reset();  // the agent stops; pods keep running
  OpenNetwork();
  auto pods = network_->Pods();
  std::sort(pods.begin(), pods.end());
  EXPECT_EQ(pods, (std::vector<std::string>{"uid-a", "uid-b"}));
  ASSERT_TRUE(network_->AddressOf("uid-b"));
  EXPECT_EQ(network_->AddressOf("uid-b")->ip, first_b->ip);
  EXPECT_NE(NodeTable().find("dnat to 10.244.1.3:80"), std::string::npos) << NodeTable();

  // Attaching again adopts the existing veth instead of making a new one.
  auto again = network_->Attach("uid-b", b.path());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->ip, first_b->ip);
  EXPECT_EQ(node_nl_->GetLink(first_b->host_veth)->index, veth_index);
  // A new pod does not get an adopted address.
  TestNetns& c = NewPod("pc");
  auto addr_c = network_->Attach("uid-c", c.path());
  ASSERT_TRUE(addr_c.ok()) << addr_c.status().ToString();
  EXPECT_EQ(addr_c->ip, "10.244.1.4");
  int lb = Listen(b, 80);
  auto peer = Probe(c.path(), "10.244.1.3", 80, lb);
  ASSERT_TRUE(peer.ok()) << peer.status().ToString();
  EXPECT_EQ(*peer, "10.244.1.4");
}

TEST_F(PodNetworkTest, HostPortsReachThePodFromEverywhere) {
  OpenNetwork();
  TestNetns& a = NewPod("pa");
  TestNetns& b = NewPod("pb");
  ASSERT_TRUE(network_->Attach("uid-a", a.path()).ok());
  ASSERT_TRUE(network_->Attach("uid-b", b.path()).ok());
  ASSERT_TRUE(network_->SetHostPorts("uid-a", {{"TCP", 8080, 80, ""}, {"TCP", 0, 81, ""}}).ok());
  int la = Listen(a, 80);

  // From another pod to the node's address, from the node's own 127.0.0.1, and from the
  // pod to itself through the node (hairpin).
  auto peer = Probe(b.path(), "10.244.1.1", 8080, la);
  ASSERT_TRUE(peer.ok()) << peer.status().ToString() << NodeTable();
  peer = Probe(node_.path(), "127.0.0.1", 8080, la);
  ASSERT_TRUE(peer.ok()) << peer.status().ToString() << NodeTable();
  peer = Probe(node_.path(), "10.244.1.1", 8080, la);
  ASSERT_TRUE(peer.ok()) << peer.status().ToString();
  peer = Probe(a.path(), "10.244.1.1", 8080, la);
  ASSERT_TRUE(peer.ok()) << peer.status().ToString();

  // Another pod may not take the same port; bad ports are Invalid.
  EXPECT_EQ(network_->SetHostPorts("uid-b", {{"TCP", 8080, 80, ""}}).code(), Code::kConflict);
  EXPECT_TRUE(network_->SetHostPorts("uid-b", {{"UDP", 8080, 80, ""}}).ok());  // other protocol
  EXPECT_EQ(network_->SetHostPorts("uid-b", {{"TCP", 70000, 80, ""}}).code(), Code::kInvalid);
  EXPECT_EQ(network_->SetHostPorts("uid-b", {{"ICMP", 1, 1, ""}}).code(), Code::kInvalid);
  EXPECT_EQ(network_->SetHostPorts("uid-b", {{"TCP", 9, 9, "1.2.3"}}).code(), Code::kInvalid);
  EXPECT_EQ(network_->SetHostPorts("uid-z", {{"TCP", 9090, 90, ""}}).code(), Code::kNotFound);
  // The UDP mapping survived the failed calls.
  EXPECT_NE(NodeTable().find("udp dport 8080 dnat to 10.244.1.3:80"), std::string::npos)
      << NodeTable();

  // Replacing the mappings with none removes the DNAT.
  ASSERT_TRUE(network_->SetHostPorts("uid-a", {}).ok());
  EXPECT_EQ(NodeTable().find("tcp dport 8080"), std::string::npos) << NodeTable();
  auto refused = ConnectFrom(b.path(), "10.244.1.1", 8080);
  EXPECT_FALSE(refused.ok());
  if (refused.ok()) ::close(*refused);
  // Detach removes a pod's mappings.
  ASSERT_TRUE(network_->Detach("uid-b").ok());
  EXPECT_EQ(NodeTable().find("dport 8080"), std::string::npos) << NodeTable();
}

TEST_F(PodNetworkTest, TrafficLeavingTheClusterIsMasqueraded) {
  // An "outside" network behind the node: it has no route back to the pods, so only a
  // masqueraded connection can succeed.
  TestNetns outside("out");
  ASSERT_TRUE(outside.ok()) << outside.error();
  ASSERT_EQ(
      node_.Run("ip link add up0 type veth peer name down0 && ip link set down0 netns " +
                outside.name() + " && ip addr add 192.168.50.1/24 dev up0 && ip link set up0 up"),
      0);
  ASSERT_EQ(outside.Run("ip addr add 192.168.50.2/24 dev down0 && ip link set down0 up"), 0);
  OpenNetwork();
  TestNetns& a = NewPod("pa");
  ASSERT_TRUE(network_->Attach("uid-a", a.path()).ok());
  int lo = Listen(outside, 9000);
  auto peer = Probe(a.path(), "192.168.50.2", 9000, lo);
  ASSERT_TRUE(peer.ok()) << peer.status().ToString() << NodeTable();
  EXPECT_EQ(*peer, "192.168.50.1");
}

TEST_F(PodNetworkTest, FullRangeIsResourceExhaustedAndLeavesNothing) {
  config_.pod_cidr = "10.244.1.0/30";  // gateway .1, one pod address .2
  OpenNetwork();
  TestNetns& a = NewPod("pa");
  TestNetns& b = NewPod("pb");
  ASSERT_TRUE(network_->Attach("uid-a", a.path()).ok());
  auto full = network_->Attach("uid-b", b.path());
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), Code::kTooManyRequests) << full.status().ToString();
  EXPECT_EQ(node_nl_->GetLink(HostVethName("uid-b")).status().code(), Code::kNotFound);
  EXPECT_FALSE(network_->AddressOf("uid-b"));
  ASSERT_TRUE(network_->Detach("uid-a").ok());
  auto now = network_->Attach("uid-b", b.path());
  ASSERT_TRUE(now.ok()) << now.status().ToString();
  EXPECT_EQ(now->ip, "10.244.1.2");
}

TEST_F(PodNetworkTest, AttachFailuresLeaveNothingBehind) {
  OpenNetwork();
  auto missing = network_->Attach("uid-a", "/run/netns/sampan-no-such-namespace");
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_TRUE(network_->Pods().empty());
  // The pod's namespace already has an eth0 that is not ours.
  TestNetns& a = NewPod("pa");
  ASSERT_EQ(a.Run("ip link add eth0 type bridge"), 0);
  auto taken = network_->Attach("uid-a", a.path());
  EXPECT_EQ(taken.status().code(), Code::kAlreadyExists) << taken.status().ToString();
  EXPECT_TRUE(network_->Pods().empty());
  EXPECT_EQ(node_nl_->GetLink(HostVethName("uid-a")).status().code(), Code::kNotFound);
  // Another interface name works.
  auto net1 = network_->Attach("uid-a", a.path(), "net1");
  ASSERT_TRUE(net1.ok()) << net1.status().ToString();
  EXPECT_EQ(network_->Attach("uid-b", a.path(), "bad/name").status().code(), Code::kInvalid);
}

TEST_F(PodNetworkTest, BadConfigurationsAreInvalidAndCreateNothing) {
  auto bad = [&](NetworkConfig c) {
    auto n = PodNetwork::Open(c);
    EXPECT_FALSE(n.ok());
    return n.ok() ? Code::kOk : n.status().code();
  };
  NetworkConfig c = config_;
  c.pod_cidr = "10.244.1.5/24";
  EXPECT_EQ(bad(c), Code::kInvalid);
  c.pod_cidr = "not-a-cidr";
  EXPECT_EQ(bad(c), Code::kInvalid);
  c.pod_cidr = "";
  EXPECT_EQ(bad(c), Code::kInvalid);
  c.pod_cidr = "10.245.1.0/24";  // outside the cluster range
  EXPECT_EQ(bad(c), Code::kInvalid);
  c.pod_cidr = "10.244.1.0/31";  // no room for a pod
  EXPECT_EQ(bad(c), Code::kInvalid);
  c = config_;
  c.cluster_cidr = "10.244.0.0/33";
  EXPECT_EQ(bad(c), Code::kInvalid);
  c = config_;
  c.bridge = "a-bridge-name-too-long";
  EXPECT_EQ(bad(c), Code::kInvalid);
  c = config_;
  c.state_dir = "";
  EXPECT_EQ(bad(c), Code::kInvalid);
  EXPECT_EQ(node_nl_->GetLink("sampan0").status().code(), Code::kNotFound);
  EXPECT_FALSE(NodeHasTable());

  // A non-bridge of that name is not taken over.
  ASSERT_EQ(node_.Run("ip link add sampan0 type veth peer name sampan0p"), 0);
  EXPECT_EQ(bad(config_), Code::kAlreadyExists);
}

TEST_F(PodNetworkTest, OneNetworkPerStateDirectory) {
  OpenNetwork();
  auto second = PodNetwork::Open(config_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kUnavailable);
}

TEST_F(PodNetworkTest, TeardownRemovesBridgeTableAndVeths) {
  OpenNetwork();
  TestNetns& a = NewPod("pa");
  auto addr = network_->Attach("uid-a", a.path());
  ASSERT_TRUE(addr.ok());
  ASSERT_TRUE(NodeHasTable());
  ASSERT_TRUE(network_->Teardown().ok());
  EXPECT_EQ(node_nl_->GetLink("sampan0").status().code(), Code::kNotFound);
  EXPECT_EQ(node_nl_->GetLink(addr->host_veth).status().code(), Code::kNotFound);
  EXPECT_FALSE(NodeHasTable());
  EXPECT_TRUE(network_->Teardown().ok());  // nothing left to remove
}

// The service proxy's table on a real node: a clusterIP and a node port reach the endpoint
// pod from another pod and from the endpoint itself (hairpin); a Service without endpoints
// refuses connections at once.
TEST_F(PodNetworkTest, ServiceRulesSendServiceAddressesToEndpoints) {
  OpenNetwork();
  TestNetns& a = NewPod("pa");
  TestNetns& b = NewPod("pb");
  ASSERT_TRUE(network_->Attach("uid-a", a.path()).ok());
  auto addr_b = network_->Attach("uid-b", b.path());
  ASSERT_TRUE(addr_b.ok());
  int lb = Listen(b, 8080);
  ServicePortRule web{
      "ns/web/http", "TCP", *ParseIpv4("10.43.1.5"), 80, 30080, {{*ParseIpv4(addr_b->ip), 8080}}};
  ServicePortRule empty{"ns/empty/http", "TCP", *ParseIpv4("10.43.1.6"), 80, 30081, {}};
  ASSERT_TRUE(network_->SetServices({web, empty}, *ParseCidr("10.43.0.0/16")).ok());

  // Every service connection is masqueraded: the endpoint sees the node's bridge address.
  auto peer = Probe(a.path(), "10.43.1.5", 80, lb);
  ASSERT_TRUE(peer.ok()) << peer.status().ToString();
  EXPECT_EQ(*peer, "10.244.1.1");
  peer = Probe(b.path(), "10.43.1.5", 80, lb);  // to itself through its Service
  ASSERT_TRUE(peer.ok()) << peer.status().ToString();
  peer = Probe(a.path(), "10.244.1.1", 30080, lb);  // the node port on the node's address
  ASSERT_TRUE(peer.ok()) << peer.status().ToString();

  // The service range is routed to the bridge, so a connection to a Service without
  // endpoints reaches the forward hook, where it is refused (not "network unreachable").
  auto refused = ConnectFrom(a.path(), "10.43.1.6", 80);
  EXPECT_FALSE(refused.ok());
  if (refused.ok()) ::close(*refused);
  EXPECT_NE(refused.status().message().find("refused"), std::string::npos)
      << refused.status().ToString();

  // Applying again replaces the table; Teardown removes it.
  ASSERT_TRUE(network_->SetServices({empty}, *ParseCidr("10.43.0.0/16")).ok());
  std::string out;
  node_.Run("nft list table ip sampan-services", &out);
  EXPECT_EQ(out.find("10.43.1.5"), std::string::npos) << out;
  EXPECT_NE(out.find("10.43.1.6 . tcp . 80 : goto reject-chain"), std::string::npos) << out;
  ASSERT_TRUE(network_->Teardown().ok());
  EXPECT_NE(node_.Run("nft list table ip sampan-services >/dev/null"), 0);
}

// Which of two listeners got the next connection (3 s); -1 when neither did.
int WhichAccepts(int l0, int l1) {
  pollfd p[2] = {{l0, POLLIN, 0}, {l1, POLLIN, 0}};
  if (::poll(p, 2, 3000) < 1) return -1;
  for (int i = 0; i < 2; ++i) {
    if (p[i].revents & POLLIN) {
      int fd = ::accept(p[i].fd, nullptr, nullptr);
      if (fd >= 0) ::close(fd);
      return i;
    }
  }
  return -1;
}

// Traffic from outside the node: a load-balancer address (the node's own, as ServiceLB gives)
// with source ranges, an external IP, node ports under externalTrafficPolicy Local (the
// endpoint sees the client's address; no local endpoint: dropped), and session affinity.
TEST_F(PodNetworkTest, ServiceRulesForExternalClients) {
  OpenNetwork();
  // A client outside the node on its own link: 192.168.77.2 -> node 192.168.77.1.
  TestNetns outside("outside");
  ASSERT_TRUE(outside.ok()) << outside.error();
  ASSERT_EQ(node_.Run("ip link add ext0 type veth peer name eth0 netns " + outside.name() +
                      " && ip addr add 192.168.77.1/24 dev ext0 && ip link set ext0 up"),
            0);
  ASSERT_EQ(outside.Run("ip addr add 192.168.77.2/24 dev eth0 && ip link set eth0 up && "
                        "ip link set lo up && ip route add default via 192.168.77.1"),
            0);
  TestNetns& a = NewPod("pa");
  TestNetns& b = NewPod("pb");
  auto addr_a = network_->Attach("uid-a", a.path());
  auto addr_b = network_->Attach("uid-b", b.path());
  ASSERT_TRUE(addr_a.ok() && addr_b.ok());
  int la = Listen(a, 8080), lb = Listen(b, 8080);
  const uint32_t ip_a = *ParseIpv4(addr_a->ip), ip_b = *ParseIpv4(addr_b->ip);

  ServicePortRule local{"ns/local/http",     "TCP", *ParseIpv4("10.43.1.5"), 80, 30080,
                        {{ip_a, 8080, true}}};
  local.load_balancer_ips = {*ParseIpv4("192.168.77.1")};
  local.source_ranges = {*ParseCidr("192.168.77.0/24")};
  local.external_local = true;
  ServicePortRule fenced{"ns/fenced/http",    "TCP", *ParseIpv4("10.43.1.6"), 81, 0,
                         {{ip_a, 8080, true}}};
  fenced.load_balancer_ips = {*ParseIpv4("192.168.77.1")};
  fenced.source_ranges = {*ParseCidr("10.9.0.0/16")};
  ServicePortRule none_here{"ns/none-here/http",
                            "TCP",
                            *ParseIpv4("10.43.1.7"),
                            82,
                            30082,
                            {{*ParseIpv4("10.244.9.9"), 8080, false}}};
  none_here.external_local = true;
  ServicePortRule sticky{"ns/sticky/http",
                         "TCP",
                         *ParseIpv4("10.43.1.8"),
                         83,
                         0,
                         {{ip_a, 8080, true}, {ip_b, 8080, true}}};
  sticky.external_ips = {*ParseIpv4("192.168.77.1")};
  sticky.affinity_seconds = 30;
  ASSERT_TRUE(
      network_->SetServices({local, fenced, none_here, sticky}, *ParseCidr("10.43.0.0/16")).ok());

  // Local policy: the endpoint sees the outside client's own address, through the node port
  // and through the load-balancer address (within its source ranges).
  auto peer = Probe(outside.path(), "192.168.77.1", 30080, la);
  ASSERT_TRUE(peer.ok()) << peer.status().ToString();
  EXPECT_EQ(*peer, "192.168.77.2");
  peer = Probe(outside.path(), "192.168.77.1", 80, la);
  ASSERT_TRUE(peer.ok()) << peer.status().ToString();
  EXPECT_EQ(*peer, "192.168.77.2");
  // A pod going to the same node port is masqueraded, as any internal traffic.
  peer = Probe(b.path(), "192.168.77.1", 30080, la);
  ASSERT_TRUE(peer.ok()) << peer.status().ToString();
  EXPECT_EQ(*peer, "10.244.1.1");

  // Outside the source ranges, and Local without a local endpoint: dropped (no answer at all).
  for (int port : {81, 30082}) {
    auto dropped = ConnectFrom(outside.path(), "192.168.77.1", port);
    if (dropped.ok()) {
      ::close(*dropped);
      ADD_FAILURE() << "port " << port << " answered";
    } else {
      EXPECT_EQ(dropped.status().message().find("refused"), std::string::npos)
          << port << ": " << dropped.status().ToString();
    }
  }

  // Session affinity: every connection of one client goes to the endpoint its first went to.
  std::vector<int> seen;
  for (int i = 0; i < 8; ++i) {
    auto fd = ConnectFrom(outside.path(), "192.168.77.1", 83);
    ASSERT_TRUE(fd.ok()) << fd.status().ToString();
    seen.push_back(WhichAccepts(la, lb));
    ::close(*fd);
  }
  EXPECT_NE(seen[0], -1);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), seen[0]), 8) << ::testing::PrintToString(seen);
  ASSERT_TRUE(network_->Teardown().ok());
}

TEST_F(PodNetworkTest, NodeRoutesFollowTheOtherNodes) {
  OpenNetwork();
  // The other nodes sit on a network the node reaches directly.
  ASSERT_EQ(node_.Run("ip link add fabric type veth peer name fabric-peer && "
                      "ip addr add 192.168.200.2/24 dev fabric && ip link set fabric up && "
                      "ip link set fabric-peer up"),
            0);
  auto routes_via = [&] {
    std::map<std::string, std::string> out;
    auto routes = node_nl_->ListRoutes();  // kept: the loop reads into it
    EXPECT_TRUE(routes.ok());
    if (!routes.ok()) return std::map<std::string, std::string>{};
    for (const RouteInfo& r : *routes) {
      if (r.gateway) out[r.destination.ToString()] = FormatIpv4(r.gateway);
    }
    return out;
  };
  ASSERT_TRUE(network_
                  ->SetNodeRoutes({{*ParseCidr("10.244.2.0/24"), *ParseIpv4("192.168.200.3")},
                                   {*ParseCidr("10.244.3.0/24"), *ParseIpv4("192.168.200.4")}})
                  .ok());
  EXPECT_EQ(routes_via(), (std::map<std::string, std::string>{{"10.244.2.0/24", "192.168.200.3"},
                                                              {"10.244.3.0/24", "192.168.200.4"}}));
  // A node gone, another moved: stale routes go, others change.
  ASSERT_TRUE(
      network_->SetNodeRoutes({{*ParseCidr("10.244.3.0/24"), *ParseIpv4("192.168.200.5")}}).ok());
  EXPECT_EQ(routes_via(), (std::map<std::string, std::string>{{"10.244.3.0/24", "192.168.200.5"}}));
  // This node's own range is never routed elsewhere, nor ranges outside the cluster's.
  ASSERT_TRUE(network_
                  ->SetNodeRoutes({{*ParseCidr("10.244.1.0/24"), *ParseIpv4("192.168.200.3")},
                                   {*ParseCidr("10.99.0.0/24"), *ParseIpv4("192.168.200.3")}})
                  .ok());
  EXPECT_TRUE(routes_via().empty());
}

}  // namespace
}  // namespace sampan::net
