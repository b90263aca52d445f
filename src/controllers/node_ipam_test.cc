#include "controllers/node_ipam.h"

#include <gtest/gtest.h>

#include <set>

#include "client/test_apiserver.h"
#include "net/ipv4.h"

namespace sampan::controllers {
namespace {
namespace json = boost::json;
using client::testing::Eventually;

class NodeIpamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start_status().ok()) << server_.start_status().ToString();
    auto c = server_.NewClient();
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
  }
  void TearDown() override { StopController(); }

  void StartController(const NodeIpamOptions& opts) {
    informers_ = std::make_unique<client::SharedInformers>(client_.get());
    recorder_ = std::make_unique<client::EventRecorder>(client_.get(), "node-ipam-controller");
    auto c = NodeIpamController::New(informers_.get(), recorder_.get(), opts);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    controller_ = std::move(*c);
    informers_->Start();
    controller_->Run(2);
  }
  void StopController() {
    if (controller_) controller_->Stop();
    if (informers_) informers_->Stop();
    controller_.reset();
    recorder_.reset();
    informers_.reset();
  }

  void CreateNode(const std::string& name, const std::string& pod_cidr = "") {
    json::object node{
        {"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", json::object{{"name", name}}}};
    if (!pod_cidr.empty()) {
      node["spec"] =
          json::object{{"podCIDR", pod_cidr}, {"podCIDRs", json::array{json::value(pod_cidr)}}};
    }
    auto r = client_->Create(client::resources::kNodes, "", node);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  // The node's spec.podCIDR ("" when unset or the node is missing); checks podCIDRs agrees.
  std::string PodCidr(const std::string& name) {
    auto n = client_->Get(client::resources::kNodes, "", name);
    if (!n.ok()) return "";
    const json::object* spec = n->if_contains("spec") ? &n->at("spec").as_object() : nullptr;
    if (!spec || !spec->contains("podCIDR")) return "";
    std::string cidr(spec->at("podCIDR").as_string());
    const json::value* list = spec->if_contains("podCIDRs");
    EXPECT_TRUE(list && list->is_array() && list->as_array().size() == 1 &&
                list->as_array()[0] == json::value(cidr))
        << json::serialize(*spec);
    return cidr;
  }
  bool HasEvent(const std::string& node, const std::string& reason) {
    auto l = client_->List(client::resources::kEvents, "default", {});
    if (!l.ok()) return false;
    for (const json::value& e : l->at("items").as_array()) {
      const json::object& ev = e.as_object();
      if (ev.at("reason").as_string() == reason &&
          ev.at("involvedObject").as_object().at("name").as_string() == node &&
          ev.at("involvedObject").as_object().at("kind").as_string() == "Node")
        return true;
    }
    return false;
  }

  client::testing::TestApiServer server_;
  std::unique_ptr<client::RestClient> client_;
  std::unique_ptr<client::SharedInformers> informers_;
  std::unique_ptr<client::EventRecorder> recorder_;
  std::unique_ptr<NodeIpamController> controller_;
};

TEST_F(NodeIpamTest, GivesEachNodeItsOwnRangeAndKeepsExistingOnes) {
  CreateNode("preset", "10.244.0.0/24");  // set before the controller starts
  StartController({"10.244.0.0/16", 24});
  CreateNode("n1");
  CreateNode("n2");
  CreateNode("n3");
  ASSERT_TRUE(Eventually(
      [&] { return !PodCidr("n1").empty() && !PodCidr("n2").empty() && !PodCidr("n3").empty(); }));
  std::set<std::string> seen{PodCidr("preset")};
  for (const char* n : {"n1", "n2", "n3"}) {
    std::string cidr = PodCidr(n);
    auto parsed = net::ParseCidr(cidr);
    ASSERT_TRUE(parsed.ok()) << cidr;
    EXPECT_EQ(parsed->prefix_len, 24);
    EXPECT_TRUE(net::ParseCidr("10.244.0.0/16")->Contains(*parsed)) << cidr;
    EXPECT_TRUE(seen.insert(cidr).second) << cidr << " handed out twice";
  }
  EXPECT_EQ(PodCidr("preset"), "10.244.0.0/24");
}

TEST_F(NodeIpamTest, RestartRebuildsFromNodesAndNeverReassigns) {
  StartController({"10.244.0.0/22", 24});
  CreateNode("a");
  CreateNode("b");
  ASSERT_TRUE(Eventually([&] { return !PodCidr("a").empty() && !PodCidr("b").empty(); }));
  std::string a = PodCidr("a"), b = PodCidr("b");
  StopController();

  StartController({"10.244.0.0/22", 24});
  CreateNode("c");
  CreateNode("d");
  ASSERT_TRUE(Eventually([&] { return !PodCidr("c").empty() && !PodCidr("d").empty(); }));
  EXPECT_EQ(PodCidr("a"), a);
  EXPECT_EQ(PodCidr("b"), b);
  std::set<std::string> all{a, b, PodCidr("c"), PodCidr("d")};
  EXPECT_EQ(all.size(), 4u);
}

TEST_F(NodeIpamTest, FullRangeRecordsAnEventAndADeletedNodeFreesItsRange) {
  StartController({"10.244.0.0/23", 24});  // room for two nodes
  CreateNode("a");
  CreateNode("b");
  ASSERT_TRUE(Eventually([&] { return !PodCidr("a").empty() && !PodCidr("b").empty(); }));
  CreateNode("c");
  ASSERT_TRUE(Eventually([&] { return HasEvent("c", "CIDRNotAvailable"); }));
  EXPECT_EQ(PodCidr("c"), "");
  std::string freed = PodCidr("a");
  ASSERT_TRUE(client_->Delete(client::resources::kNodes, "", "a").ok());
  // The next retry (or the next update of the node) finds the freed range.
  ASSERT_TRUE(Eventually([&] { return PodCidr("c") == freed; }, std::chrono::seconds(20)));
}

TEST_F(NodeIpamTest, BadOptionsAreInvalid) {
  client::SharedInformers informers(client_.get());
  client::EventRecorder recorder(client_.get(), "node-ipam-controller");
  for (NodeIpamOptions o :
       {NodeIpamOptions{"10.244.0.0/33", 24}, NodeIpamOptions{"bad", 24},
        NodeIpamOptions{"10.244.0.0/16", 8}, NodeIpamOptions{"10.244.0.0/16", 31},
        NodeIpamOptions{"10.0.0.0/8", 28}}) {
    auto c = NodeIpamController::New(&informers, &recorder, o);
    ASSERT_FALSE(c.ok()) << o.cluster_cidr << " " << o.node_cidr_mask_size;
    EXPECT_EQ(c.status().code(), Code::kInvalid);
  }
}

}  // namespace
}  // namespace sampan::controllers
