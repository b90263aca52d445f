#include "apiserver/service_alloc.h"

#include <gtest/gtest.h>

#include <set>

#include "apiserver/rest_test_fixture.h"

namespace sampan::apiserver {
namespace {

namespace json = boost::json;

json::object Service(std::string name, std::string type = "ClusterIP", std::string ip = "") {
  json::object spec{{"type", type},
                    {"ports", json::array{json::object{{"port", 80}, {"protocol", "TCP"}}}}};
  if (!ip.empty()) spec["clusterIP"] = ip;
  return json::object{{"apiVersion", "v1"},
                      {"kind", "Service"},
                      {"metadata", json::object{{"name", name}, {"namespace", "default"}}},
                      {"spec", spec}};
}

std::string IpOf(const json::object& svc) {
  return std::string(svc.at("spec").at("clusterIP").as_string());
}

int NodePortOf(const json::object& svc) {
  return static_cast<int>(svc.at("spec").at("ports").at(0).at("nodePort").as_int64());
}

class ServiceAllocatorTest : public RestFixture {
 protected:
  // A small range: 10.43.0.0/29 has six usable addresses (.1 - .6); four node ports.
  ServiceNetwork Small() {
    ServiceNetwork n;
    n.service_cidr = *net::ParseCidr("10.43.0.0/29");
    n.node_port_min = 30000;
    n.node_port_max = 30003;
    return n;
  }
  const api::KindInfo& ServiceKind() {
    return *api::BuiltinRegistry().FindKind("", "v1", "Service");
  }
  std::string Key(const std::string& name) { return ObjectKey(ServiceKind(), "default", name); }
};

TEST_F(ServiceAllocatorTest, HeldValuesAreNeverHandedOutTwice) {
  ServiceAllocator a(Small(), *cache_, ResourcePrefix(ServiceKind()));
  std::vector<ServiceAllocator::Hold> holds;
  std::set<std::string> ips;
  for (int i = 0; i < 6; ++i) {
    json::object s = Service("s" + std::to_string(i));
    auto h = a.Allocate(Key("s" + std::to_string(i)), s, nullptr, false);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    holds.push_back(std::move(*h));
    std::string ip = IpOf(s);
    EXPECT_NE(ip, "10.43.0.0");  // the network address
    EXPECT_NE(ip, "10.43.0.7");  // the broadcast address
    EXPECT_TRUE(ips.insert(ip).second) << ip << " handed out twice";
  }
  json::object more = Service("full");
  auto full = a.Allocate(Key("full"), more, nullptr, false);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), Code::kInternal);
  EXPECT_NE(full.status().message().find("failed to allocate a serviceIP: range is full"),
            std::string::npos);
  // A request that ends (its write stored or failed) gives its values back.
  holds.pop_back();
  EXPECT_TRUE(a.Allocate(Key("full"), more, nullptr, false).ok());
}

TEST_F(ServiceAllocatorTest, StoredServicesHoldTheirValues) {
  ServiceAllocator a(Small(), *cache_, ResourcePrefix(ServiceKind()));
  rest_->SetServiceAllocator(&a);
  WriteOptions wo;
  auto made = Run(rest_->Create(ServiceKind(), "default",
                                json::value(Service("a", "NodePort", "10.43.0.3")), wo));
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ(IpOf((*made)->obj), "10.43.0.3");
  const int port = NodePortOf((*made)->obj);
  EXPECT_GE(port, 30000);
  EXPECT_LE(port, 30003);
  // No hold is left behind: the stored Service is what keeps the address taken.
  json::object same = Service("b", "ClusterIP", "10.43.0.3");
  auto taken = a.Allocate(Key("b"), same, nullptr, false);
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.status().code(), Code::kInvalid);
  ASSERT_EQ(taken.status().causes().size(), 1u);
  EXPECT_EQ(taken.status().causes()[0].field, "spec.clusterIPs");
  EXPECT_EQ(taken.status().causes()[0].message,
            "Invalid value: []string{\"10.43.0.3\"}: failed to allocate IP 10.43.0.3: provided IP "
            "is already allocated");
  // The Service itself may keep naming its own values on update.
  json::object again = (*made)->obj;
  EXPECT_TRUE(a.Allocate((*made)->key, again, &(*made)->obj, false).ok());
  // Gone from the store, free again.
  DeleteOptions dopts;
  ASSERT_TRUE(Run(rest_->Delete(ServiceKind(), "default", "a", dopts)).ok());
  EXPECT_TRUE(a.Allocate(Key("b"), same, nullptr, false).ok());
  rest_->SetServiceAllocator(nullptr);
}

TEST_F(ServiceAllocatorTest, DryRunHoldsNothing) {
  ServiceAllocator a(Small(), *cache_, ResourcePrefix(ServiceKind()));
  json::object s = Service("d", "ClusterIP", "10.43.0.5");
  auto dry = a.Allocate(Key("d"), s, nullptr, /*dry_run=*/true);
  ASSERT_TRUE(dry.ok());
  json::object t = Service("e", "ClusterIP", "10.43.0.5");
  EXPECT_TRUE(a.Allocate(Key("e"), t, nullptr, false).ok());
}

TEST_F(ServiceAllocatorTest, DynamicValuesComeFromAboveTheStaticBand) {
  ServiceAllocator a(ServiceNetwork{}, *cache_, ResourcePrefix(ServiceKind()));
  for (int i = 0; i < 20; ++i) {
    json::object s = Service("s" + std::to_string(i), "NodePort");
    auto h = a.Allocate(Key("s" + std::to_string(i)), s, nullptr, /*dry_run=*/true);
    ASSERT_TRUE(h.ok());
    // 10.43.0.0/16: the lowest 256 addresses are left for clients that pick their own
    // (10.43.0.1 kubernetes, 10.43.0.10 DNS); node ports: the lowest 86 of 2768.
    uint32_t ip = *net::ParseIpv4(IpOf(s));
    EXPECT_GE(ip, *net::ParseIpv4("10.43.1.0"));
    EXPECT_GE(NodePortOf(s), 30086);
  }
}

TEST_F(ServiceAllocatorTest, UpdatesKeepAllocatedValuesAndDropUnusedOnes) {
  json::object cur = Service("u", "NodePort");
  json::object& spec = cur["spec"].as_object();
  spec["clusterIP"] = "10.43.0.9";
  spec["clusterIPs"] = json::array{"10.43.0.9"};
  spec["externalTrafficPolicy"] = "Cluster";
  spec["ports"].as_array()[0].as_object()["nodePort"] = 30111;
  // A manifest that never named them.
  json::object next = Service("u", "NodePort");
  ServiceAllocator::PrepareUpdate(next, cur);
  EXPECT_EQ(IpOf(next), "10.43.0.9");
  EXPECT_EQ(NodePortOf(next), 30111);
  // To ClusterIP: the node port and externalTrafficPolicy go, the address stays.
  json::object to_cluster = cur;
  to_cluster["spec"].as_object()["type"] = "ClusterIP";
  ServiceAllocator::PrepareUpdate(to_cluster, cur);
  const json::object& cs = to_cluster.at("spec").as_object();
  EXPECT_FALSE(cs.at("ports").at(0).as_object().contains("nodePort"));
  EXPECT_FALSE(cs.contains("externalTrafficPolicy"));
  EXPECT_EQ(IpOf(to_cluster), "10.43.0.9");
  // To ExternalName: the address goes too.
  json::object to_ext = cur;
  to_ext["spec"].as_object()["type"] = "ExternalName";
  ServiceAllocator::PrepareUpdate(to_ext, cur);
  EXPECT_FALSE(to_ext.at("spec").as_object().contains("clusterIP"));
  EXPECT_FALSE(to_ext.at("spec").as_object().contains("clusterIPs"));
}

TEST(ServiceNetworkTest, NodePortRangeParsing) {
  auto r = ParseNodePortRange("30000-32767");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->first, 30000);
  EXPECT_EQ(r->second, 32767);
  for (const char* bad : {"", "30000", "32767-30000", "0-10", "1-70000", "a-b", "1-2-3"}) {
    EXPECT_FALSE(ParseNodePortRange(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace sampan::apiserver
