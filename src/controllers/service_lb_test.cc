#include "controllers/service_lb.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <thread>

#include "api/json_util.h"
#include "client/shared_informers.h"
#include "client/test_apiserver.h"

namespace sampan::controllers {
namespace {

namespace json = boost::json;
using client::ObjectPtr;
using client::testing::Eventually;
using Ips = std::vector<std::string>;

ObjectPtr Parse(const std::string& text) {
  return std::make_shared<const json::object>(json::parse(text).as_object());
}

std::string NodeJson(const std::string& name, const std::string& internal_ip,
                     const std::string& labels = "{}", bool ready = true,
                     const std::string& external_ip = "") {
  std::string addrs = R"([{"type":"Hostname","address":")" + name + R"("},)" +
                      R"({"type":"InternalIP","address":")" + internal_ip + R"("})";
  if (!external_ip.empty()) {
    addrs += R"(,{"type":"ExternalIP","address":")" + external_ip + R"("})";
  }
  addrs += "]";
  return R"({"apiVersion":"v1","kind":"Node","metadata":{"name":")" + name + R"(","labels":)" +
         labels + R"(},"status":{"addresses":)" + addrs +
         R"(,"conditions":[{"type":"Ready","status":")" + (ready ? "True" : "False") + R"("}]}})";
}
ObjectPtr Node(const std::string& name, const std::string& ip, const std::string& labels = "{}",
               bool ready = true, const std::string& external_ip = "") {
  return Parse(NodeJson(name, ip, labels, ready, external_ip));
}

std::string ServiceJson(const std::string& name, int port, const std::string& created,
                        const std::string& extra_spec = "", const std::string& labels = "{}") {
  return R"({"apiVersion":"v1","kind":"Service","metadata":{"namespace":"ns","name":")" + name +
         R"(","creationTimestamp":")" + created + R"(","labels":)" + labels +
         R"(},"spec":{"type":"LoadBalancer","ports":[{"port":)" + std::to_string(port) +
         R"(,"protocol":"TCP"}])" + extra_spec + "}}";
}
ObjectPtr Service(const std::string& name, int port, const std::string& created,
                  const std::string& extra_spec = "", const std::string& labels = "{}") {
  return Parse(ServiceJson(name, port, created, extra_spec, labels));
}

TEST(AssignLoadBalancersTest, EveryReadyNodeByItsAddress) {
  auto out = AssignLoadBalancers(
      {Service("web", 80, "2026-01-01T00:00:00Z"),
       Parse(R"({"metadata":{"namespace":"ns","name":"plain"},"spec":{"type":"ClusterIP"}})")},
      {Node("b", "192.168.1.12"), Node("a", "192.168.1.11"),
       Node("down", "192.168.1.13", "{}", false),
       Node("ext", "192.168.1.14", "{}", true, "203.0.113.4"),
       Node("excluded", "192.168.1.15",
            R"({"node.kubernetes.io/exclude-from-external-load-balancers":""})")},
      {});
  ASSERT_EQ(out.size(), 1u);  // the ClusterIP Service is not served
  // Sorted; the ExternalIP is preferred; the NotReady and the excluded node are left out.
  EXPECT_EQ(out["ns/web"], (Ips{"192.168.1.11", "192.168.1.12", "203.0.113.4"}));
}

TEST(AssignLoadBalancersTest, AClassOrAnotherTypeIsNotServed) {
  auto out = AssignLoadBalancers(
      {Service("classy", 80, "2026-01-01T00:00:00Z", R"(,"loadBalancerClass":"example.com/lb")")},
      {Node("a", "192.168.1.11")}, {});
  EXPECT_TRUE(out.empty());
}

TEST(AssignLoadBalancersTest, OptInLabelAndPools) {
  std::vector<ObjectPtr> nodes = {
      Node("a", "10.0.0.1", R"({"svccontroller.k3s.cattle.io/enablelb":"true",
                                "svccontroller.k3s.cattle.io/lbpool":"blue"})"),
      Node("b", "10.0.0.2", R"({"svccontroller.k3s.cattle.io/enablelb":"true"})"),
      Node("c", "10.0.0.3")};
  auto out = AssignLoadBalancers({Service("any", 80, "2026-01-01T00:00:00Z"),
                                  Service("blue", 81, "2026-01-01T00:00:01Z", "",
                                          R"({"svccontroller.k3s.cattle.io/lbpool":"blue"})"),
                                  Service("red", 82, "2026-01-01T00:00:02Z", "",
                                          R"({"svccontroller.k3s.cattle.io/lbpool":"red"})")},
                                 nodes, {});
  // Once a node opts in, only opted-in nodes serve.
  EXPECT_EQ(out["ns/any"], (Ips{"10.0.0.1", "10.0.0.2"}));
  EXPECT_EQ(out["ns/blue"], (Ips{"10.0.0.1"}));
  EXPECT_TRUE(out["ns/red"].empty());  // no node in that pool: pending
}

TEST(AssignLoadBalancersTest, TheOlderServiceKeepsAPortOnANode) {
  std::vector<ObjectPtr> nodes = {
      Node("a", "10.0.0.1", R"({"svccontroller.k3s.cattle.io/lbpool":"p"})"),
      Node("b", "10.0.0.2")};
  auto out = AssignLoadBalancers({Service("young", 80, "2026-01-02T00:00:00Z"),
                                  Service("old", 80, "2026-01-01T00:00:00Z", "",
                                          R"({"svccontroller.k3s.cattle.io/lbpool":"p"})"),
                                  Service("udp", 80, "2026-01-03T00:00:00Z"),
                                  Service("other-port", 443, "2026-01-03T00:00:00Z")},
                                 nodes, {});
  EXPECT_EQ(out["ns/old"], (Ips{"10.0.0.1"}));
  EXPECT_EQ(out["ns/young"], (Ips{"10.0.0.2"}));  // port 80 on a is taken by "old"
  EXPECT_TRUE(out["ns/udp"].empty());             // TCP 80 (the same protocol) is taken everywhere
  EXPECT_EQ(out["ns/other-port"], (Ips{"10.0.0.1", "10.0.0.2"}));
}

TEST(AssignLoadBalancersTest, AServiceKeepsTheNodesItHas) {
  // Created in the same second: the one that already has the node keeps it, whatever the names.
  auto holder = Parse(R"({"metadata":{"namespace":"ns","name":"b-holder",
      "creationTimestamp":"2026-01-01T00:00:00Z"},
    "spec":{"type":"LoadBalancer","ports":[{"port":80,"protocol":"TCP"}]},
    "status":{"loadBalancer":{"ingress":[{"ip":"10.0.0.1"}]}}})");
  auto out = AssignLoadBalancers({Service("a-newcomer", 80, "2026-01-01T00:00:00Z"), holder},
                                 {Node("a", "10.0.0.1")}, {});
  EXPECT_EQ(out["ns/b-holder"], (Ips{"10.0.0.1"}));
  EXPECT_TRUE(out["ns/a-newcomer"].empty());
}

TEST(AssignLoadBalancersTest, LocalTrafficPolicyOnlyWhereEndpointsRun) {
  auto slice = Parse(R"({"metadata":{"namespace":"ns","name":"web-x",
      "labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4",
    "endpoints":[{"addresses":["10.244.1.3"],"nodeName":"b","conditions":{"ready":true}},
                 {"addresses":["10.244.2.3"],"nodeName":"c","conditions":{"ready":false}}]})");
  auto out = AssignLoadBalancers(
      {Service("web", 80, "2026-01-01T00:00:00Z", R"(,"externalTrafficPolicy":"Local")"),
       Service("nobody", 81, "2026-01-01T00:00:00Z", R"(,"externalTrafficPolicy":"Local")")},
      {Node("a", "10.0.0.1"), Node("b", "10.0.0.2"), Node("c", "10.0.0.3")}, {slice});
  EXPECT_EQ(out["ns/web"], (Ips{"10.0.0.2"}));
  EXPECT_TRUE(out["ns/nobody"].empty());
}

// The controller against a real API server: the status follows the nodes, and a Service that
// stops being a LoadBalancer loses its addresses.
class ServiceLbControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start_status().ok()) << server_.start_status().ToString();
    auto c = server_.NewClient();
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
    informers_ = std::make_unique<client::SharedInformers>(client_.get());
    controller_ = std::make_unique<ServiceLbController>(informers_.get());
    informers_->Start();
    ASSERT_TRUE(informers_->WaitForSync(std::chrono::seconds(10)));
    controller_->Run(1);
  }
  void TearDown() override {
    controller_.reset();
    if (informers_) informers_->Stop();
  }
  void CreateNode(const std::string& text) {
    json::object node = json::parse(text).as_object();
    auto r = client_->Create(client::resources::kNodes, "", node);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    json::object next = *r;
    next["status"] = node["status"];
    auto s = client_->UpdateStatus(client::resources::kNodes, "", next);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
  }
  Ips IngressIps(const std::string& name) {
    auto r = client_->Get(client::resources::kServices, "default", name);
    Ips out;
    if (!r.ok()) return out;
    const json::array* ingress =
        api::Arr(api::Obj(api::Obj(&*r, "status"), "loadBalancer"), "ingress");
    for (const json::value& v : ingress ? *ingress : json::array{}) {
      out.push_back(api::Str(&v.as_object(), "ip"));
      EXPECT_EQ(api::Str(&v.as_object(), "ipMode"), "VIP");
    }
    return out;
  }

  client::testing::TestApiServer server_;
  std::unique_ptr<client::RestClient> client_;
  std::unique_ptr<client::SharedInformers> informers_;
  std::unique_ptr<ServiceLbController> controller_;
};

TEST_F(ServiceLbControllerTest, StatusFollowsTheNodes) {
  json::object svc = json::parse(R"({"apiVersion":"v1","kind":"Service",
    "metadata":{"name":"web"},
    "spec":{"type":"LoadBalancer","ports":[{"port":80}],"selector":{"app":"web"}}})")
                         .as_object();
  auto created = client_->Create(client::resources::kServices, "default", svc);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  // No node yet: pending.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(IngressIps("web").empty());

  CreateNode(NodeJson("n1", "192.168.7.11"));
  EXPECT_TRUE(Eventually([&] { return IngressIps("web") == Ips{"192.168.7.11"}; }));
  CreateNode(NodeJson("n2", "192.168.7.12"));
  EXPECT_TRUE(Eventually([&] {
    return IngressIps("web") == (Ips{"192.168.7.11", "192.168.7.12"});
  }));

  // A node turning NotReady is taken out.
  auto n2 = client_->Get(client::resources::kNodes, "", "n2");
  ASSERT_TRUE(n2.ok());
  json::object next = *n2;
  next["status"].as_object()["conditions"] = json::parse(R"([{"type":"Ready","status":"False"}])");
  ASSERT_TRUE(client_->UpdateStatus(client::resources::kNodes, "", next).ok());
  EXPECT_TRUE(Eventually([&] { return IngressIps("web") == Ips{"192.168.7.11"}; }));

  // No longer a LoadBalancer: the addresses go.
  auto live = client_->Get(client::resources::kServices, "default", "web");
  ASSERT_TRUE(live.ok());
  json::object cluster_ip = *live;
  json::object& spec = cluster_ip["spec"].as_object();
  spec["type"] = "ClusterIP";
  for (json::value& p : spec["ports"].as_array()) p.as_object().erase("nodePort");
  spec.erase("externalTrafficPolicy");
  spec.erase("allocateLoadBalancerNodePorts");
  auto updated = client_->Update(client::resources::kServices, "default", cluster_ip);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_TRUE(Eventually([&] { return IngressIps("web").empty(); }));
}

}  // namespace
}  // namespace sampan::controllers
