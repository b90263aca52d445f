// Root tests: every link lives in namespaces the test creates (and deletes).
#include "net/netlink.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>

#include "net/netns.h"
#include "net/test_netns.h"

namespace sampan::net {
namespace {

using testing::TestNetns;

ino_t ThreadNetnsInode() {
  struct stat st {};
  ::stat("/proc/thread-self/ns/net", &st);
  return st.st_ino;
}

class NetlinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(a_.ok()) << a_.error();
    ASSERT_TRUE(b_.ok()) << b_.error();
    auto nl = Netlink::OpenInNetns(a_.path());
    ASSERT_TRUE(nl.ok()) << nl.status().ToString();
    nl_ = std::move(*nl);
  }
  TestNetns a_{"nla"}, b_{"nlb"};
  std::unique_ptr<Netlink> nl_;
};

TEST_F(NetlinkTest, OpeningInAnotherNamespaceLeavesTheCallerWhereItWas) {
  ino_t before = ThreadNetnsInode();
  auto nl = Netlink::OpenInNetns(b_.path());
  ASSERT_TRUE(nl.ok());
  EXPECT_EQ(ThreadNetnsInode(), before);
  auto links = (*nl)->ListLinks();
  ASSERT_TRUE(links.ok()) << links.status().ToString();
  ASSERT_EQ(links->size(), 1u);  // a fresh namespace has only lo
  EXPECT_EQ((*links)[0].name, "lo");
  EXPECT_FALSE((*links)[0].up);
}

TEST_F(NetlinkTest, BridgeMtuUpAddressAndErrors) {
  ASSERT_TRUE(nl_->CreateBridge("br0", 1400).ok());
  auto br = nl_->GetLink("br0");
  ASSERT_TRUE(br.ok()) << br.status().ToString();
  EXPECT_EQ(br->kind, "bridge");
  EXPECT_EQ(br->mtu, 1400);
  EXPECT_FALSE(br->up);

  Status again = nl_->CreateBridge("br0", 1400);
  EXPECT_EQ(again.code(), Code::kAlreadyExists);
  EXPECT_NE(again.message().find("create bridge br0"), std::string::npos) << again.message();
  EXPECT_NE(again.message().find("errno 17"), std::string::npos) << again.message();

  ASSERT_TRUE(nl_->SetMtu("br0", 1300).ok());
  ASSERT_TRUE(nl_->SetMac("br0", "02:53:0a:63:00:01").ok());
  ASSERT_TRUE(nl_->SetUp("br0").ok());
  br = nl_->GetLink("br0");
  EXPECT_EQ(br->mtu, 1300);
  EXPECT_TRUE(br->up);
  EXPECT_EQ(br->mac, "02:53:0a:63:00:01");

  ASSERT_TRUE(nl_->AddAddress("br0", *ParseIpv4("10.99.0.1"), 24).ok());
  EXPECT_EQ(nl_->AddAddress("br0", *ParseIpv4("10.99.0.1"), 24).code(), Code::kAlreadyExists);
  auto addrs = nl_->ListAddresses("br0");
  ASSERT_TRUE(addrs.ok());
  ASSERT_EQ(addrs->size(), 1u);
  EXPECT_EQ(FormatIpv4((*addrs)[0].address), "10.99.0.1");
  EXPECT_EQ((*addrs)[0].prefix_len, 24);
  EXPECT_EQ((*addrs)[0].index, br->index);
  std::string out;
  EXPECT_EQ(a_.Run("ip -4 addr show br0", &out), 0);
  EXPECT_NE(out.find("inet 10.99.0.1/24 brd 10.99.0.255"), std::string::npos) << out;
  ASSERT_TRUE(nl_->DeleteAddress("br0", *ParseIpv4("10.99.0.1"), 24).ok());
  EXPECT_TRUE(nl_->ListAddresses("br0")->empty());

  auto missing = nl_->GetLink("nosuch0");
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  Status del = nl_->DeleteLink("nosuch0");
  EXPECT_EQ(del.code(), Code::kNotFound);
  EXPECT_NE(del.message().find("errno 19"), std::string::npos) << del.message();
  EXPECT_EQ(nl_->CreateBridge("bad/name", 1500).code(), Code::kInvalid);
  EXPECT_EQ(nl_->CreateBridge("sixteen-chars-xx", 1500).code(), Code::kInvalid);

  ASSERT_TRUE(nl_->DeleteLink("br0").ok());
  EXPECT_EQ(nl_->GetLink("br0").status().code(), Code::kNotFound);
}

TEST_F(NetlinkTest, VethMovedRenamedAddressedAndRouted) {
  ASSERT_TRUE(nl_->CreateBridge("br0", 1500).ok());
  ASSERT_TRUE(nl_->AddAddress("br0", *ParseIpv4("10.99.0.1"), 24).ok());
  ASSERT_TRUE(nl_->SetUp("br0").ok());
  ASSERT_TRUE(nl_->CreateVeth("va", "vb", 1500).ok());
  auto va = nl_->GetLink("va");
  ASSERT_TRUE(va.ok());
  EXPECT_EQ(va->kind, "veth");
  ASSERT_TRUE(nl_->SetMaster("va", "br0").ok());
  ASSERT_TRUE(nl_->SetHairpin("va", true).ok());
  ASSERT_TRUE(nl_->SetUp("va").ok());
  EXPECT_EQ(nl_->GetLink("va")->master, nl_->GetLink("br0")->index);
  std::string out;
  EXPECT_EQ(a_.Run("ip -d link show va", &out), 0);
  EXPECT_NE(out.find("hairpin on"), std::string::npos) << out;

  auto b_ns = OpenNetns(b_.path());
  ASSERT_TRUE(b_ns.ok());
  ASSERT_TRUE(nl_->SetNetns("vb", b_ns->get()).ok());
  EXPECT_EQ(nl_->GetLink("vb").status().code(), Code::kNotFound);
  auto nb = Netlink::OpenInNetns(b_.path());
  ASSERT_TRUE(nb.ok());
  Netlink& b = **nb;
  ASSERT_TRUE(b.GetLink("vb").ok());
  ASSERT_TRUE(b.Rename("vb", "eth0").ok());
  ASSERT_TRUE(b.AddAddress("eth0", *ParseIpv4("10.99.0.2"), 24).ok());
  ASSERT_TRUE(b.SetUp("eth0").ok());
  ASSERT_TRUE(b.SetUp("lo").ok());
  ASSERT_TRUE(b.ReplaceRoute(Ipv4Cidr{0, 0}, *ParseIpv4("10.99.0.1"), "eth0").ok());
  ASSERT_TRUE(b.ReplaceRoute(Ipv4Cidr{0, 0}, *ParseIpv4("10.99.0.1"), "eth0").ok());  // again
  auto routes = b.ListRoutes();
  ASSERT_TRUE(routes.ok()) << routes.status().ToString();
  int eth0 = b.GetLink("eth0")->index;
  auto def = std::find_if(routes->begin(), routes->end(),
                          [](const RouteInfo& r) { return r.destination.prefix_len == 0; });
  ASSERT_NE(def, routes->end());
  EXPECT_EQ(FormatIpv4(def->gateway), "10.99.0.1");
  EXPECT_EQ(def->oif, eth0);
  EXPECT_EQ(b_.Run("busybox ping -c 1 -W 3 10.99.0.1", &out), 0) << out;

  // Listing every link: the renamed peer is in b, the host end in a.
  auto links = b.ListLinks();
  ASSERT_TRUE(links.ok());
  EXPECT_TRUE(std::any_of(links->begin(), links->end(),
                          [](const LinkInfo& l) { return l.name == "eth0" && l.kind == "veth"; }));
  ASSERT_TRUE(b.DeleteRoute(Ipv4Cidr{0, 0}, *ParseIpv4("10.99.0.1"), "eth0").ok());

  // Deleting one end deletes the pair.
  ASSERT_TRUE(nl_->DeleteLink("va").ok());
  EXPECT_EQ(b.GetLink("eth0").status().code(), Code::kNotFound);
}

TEST_F(NetlinkTest, VethPeerCreatedDirectlyInAnotherNamespace) {
  auto b_ns = OpenNetns(b_.path());
  ASSERT_TRUE(b_ns.ok());
  ASSERT_TRUE(nl_->CreateVeth("vx", "vy", 1450, b_ns->get()).ok());
  auto nb = Netlink::OpenInNetns(b_.path());
  ASSERT_TRUE(nb.ok());
  auto vy = (*nb)->GetLink("vy");
  ASSERT_TRUE(vy.ok()) << vy.status().ToString();
  EXPECT_EQ(vy->mtu, 1450);
  EXPECT_EQ(nl_->GetLink("vy").status().code(), Code::kNotFound);
}

TEST(NetnsTest, OpenRejectsMissingPathsAndNonNamespaces) {
  EXPECT_EQ(OpenNetns("/run/netns/sampan-does-not-exist").status().code(), Code::kNotFound);
  EXPECT_EQ(OpenNetns("/etc/hostname").status().code(), Code::kInvalid);
  EXPECT_EQ(OpenNetns("/proc/self/ns/uts").status().code(), Code::kInvalid);
  EXPECT_TRUE(CurrentNetns().ok());
}

}  // namespace
}  // namespace sampan::net
