// The agent against an in-process API server, without root: node registration, lease,
// labels kept, pod status while the node has no pod network, and graceful deletion of a
// pod that never ran.
#include "agent/agent.h"

#include <gtest/gtest.h>
#include <sys/mount.h>

#include <filesystem>

#include "api/json_util.h"
#include "client/test_apiserver.h"
#include "util/fs.h"

namespace sampan::agent {
namespace {

namespace json = boost::json;
using client::testing::Eventually;
using client::testing::TestApiServer;
namespace res = client::resources;

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start_status().ok()) << server_.start_status().ToString();
    auto c = server_.NewClient();
    ASSERT_TRUE(c.ok());
    client_ = std::move(*c);
    char tmpl[] = "/tmp/sampan-agent-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // Any file serves as the pause binary here: no sandbox is started without a network.
    ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/pause-bin", "#!/bin/true\n", 0755).ok());
  }
  void TearDown() override {
    if (agent_) agent_->Stop();
    ::umount2((dir_ + "/run").c_str(), MNT_DETACH);  // the agent's tmpfs (when root)
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  AgentOptions Options() {
    AgentOptions o;
    o.kubeconfig = server_.kubeconfig();
    o.data_dir = dir_ + "/data";
    o.run_dir = dir_ + "/run";
    o.node_name = "node-a";
    o.node_ip = "10.1.2.3";
    o.kubelet_port = 10250;
    o.serve_kubelet_api = false;
    o.pause_binary = dir_ + "/pause-bin";
    o.registries = dir_ + "/no-registries.yaml";
    return o;
  }
  void StartAgent() {
    auto a = Agent::Start(Options());
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    agent_ = std::move(*a);
  }
  json::object Pod(const std::string& name) {
    return json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
                       R"("},"spec":{"nodeName":"node-a","terminationGracePeriodSeconds":5,
                       "containers":[{"name":"main","image":"busybox:1.35"}]}})")
        .as_object();
  }

  TestApiServer server_;
  std::unique_ptr<client::RestClient> client_;
  std::string dir_;
  std::unique_ptr<Agent> agent_;
};

TEST_F(AgentTest, RegistersNodeWithStatusAndLease) {
  StartAgent();
  json::object node;
  ASSERT_TRUE(Eventually([&] {
    auto n = client_->Get(res::kNodes, "", "node-a");
    if (!n.ok()) return false;
    node = *n;
    return api::GetPath(json::value(node), "status.nodeInfo") != nullptr;
  }));
  json::value v(node);
  const json::value* labels = api::GetPath(v, "metadata.labels");
  ASSERT_TRUE(labels && labels->is_object());
  EXPECT_EQ(labels->as_object().at("kubernetes.io/hostname").as_string(), "node-a");
  EXPECT_EQ(labels->as_object().at("kubernetes.io/os").as_string(), "linux");
  EXPECT_EQ(v.at("status").at("addresses").as_array()[0].at("address").as_string(), "10.1.2.3");
  EXPECT_EQ(api::GetInt(v, "status.daemonEndpoints.kubeletEndpoint.Port"), 10250);
  EXPECT_FALSE(api::GetString(v, "status.capacity.memory").empty());
  EXPECT_EQ(api::GetString(v, "status.capacity.pods"), "110");
  // No podCIDR (no IPAM controller here): Ready is False with the network reason.
  bool saw_ready = false;
  for (const auto& c : v.at("status").at("conditions").as_array()) {
    if (c.at("type").as_string() != "Ready") continue;
    saw_ready = true;
    EXPECT_EQ(c.at("status").as_string(), "False");
    EXPECT_EQ(c.at("reason").as_string(), "KubeletNotReady");
  }
  EXPECT_TRUE(saw_ready);
  ASSERT_TRUE(
      Eventually([&] { return client_->Get(res::kLeases, "kube-node-lease", "node-a").ok(); }));
  auto lease = client_->Get(res::kLeases, "kube-node-lease", "node-a");
  EXPECT_EQ(api::GetString(json::value(*lease), "spec.holderIdentity"), "node-a");
}

TEST_F(AgentTest, KeepsUserLabelsOnReregistration) {
  json::object node = json::parse(R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"node-a",
      "labels":{"team":"blue","kubernetes.io/os":"custom"}}})")
                          .as_object();
  ASSERT_TRUE(client_->Create(res::kNodes, "", node).ok());
  StartAgent();
  ASSERT_TRUE(Eventually([&] {
    auto n = client_->Get(res::kNodes, "", "node-a");
    if (!n.ok()) return false;
    json::value v(*n);
    const json::value* l = api::GetPath(v, "metadata.labels");
    return l && l->as_object().contains("kubernetes.io/hostname");
  }));
  auto n = client_->Get(res::kNodes, "", "node-a");
  ASSERT_TRUE(n.ok());
  json::value v(*n);
  const json::object& labels = v.at("metadata").at("labels").as_object();
  EXPECT_EQ(labels.at("team").as_string(), "blue");
  EXPECT_EQ(labels.at("kubernetes.io/os").as_string(), "custom");
}

TEST_F(AgentTest, PodWaitsForTheNetworkWithStatus) {
  StartAgent();
  ASSERT_TRUE(client_->Create(res::kPods, "default", Pod("web")).ok());
  json::object pod;
  ASSERT_TRUE(Eventually([&] {
    auto p = client_->Get(res::kPods, "default", "web");
    if (!p.ok()) return false;
    pod = *p;
    return !api::GetString(json::value(pod), "status.hostIP").empty();
  }));
  json::value v(pod);
  EXPECT_EQ(api::GetString(v, "status.phase"), "Pending");
  EXPECT_EQ(api::GetString(v, "status.hostIP"), "10.1.2.3");
  EXPECT_EQ(api::GetString(v, "status.qosClass"), "BestEffort");
  EXPECT_FALSE(api::GetString(v, "status.startTime").empty());
  const auto& cs = v.at("status").at("containerStatuses").as_array();
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].at("state").at("waiting").at("reason").as_string(), "ContainerCreating");
  EXPECT_EQ(cs[0].at("restartCount").as_int64(), 0);
  // The reason is told in an event.
  ASSERT_TRUE(Eventually([&] {
    client::ListOptions o;
    o.field_selector = "involvedObject.name=web";
    auto l = client_->List(res::kEvents, "default", o);
    if (!l.ok()) return false;
    for (const auto& e : l->at("items").as_array())
      if (e.at("reason").as_string() == "NetworkNotReady") return true;
    return false;
  }));
}

TEST_F(AgentTest, FinishesGracefulDeletion) {
  StartAgent();
  ASSERT_TRUE(client_->Create(res::kPods, "default", Pod("gone")).ok());
  ASSERT_TRUE(Eventually([&] {
    auto p = client_->Get(res::kPods, "default", "gone");
    return p.ok() && !api::GetString(json::value(*p), "status.hostIP").empty();
  }));
  // A bound pod is deleted gracefully: the API sets deletionTimestamp, the agent stops
  // everything and removes the object.
  ASSERT_TRUE(client_->Delete(res::kPods, "default", "gone").ok());
  EXPECT_TRUE(Eventually(
      [&] {
        auto p = client_->Get(res::kPods, "default", "gone");
        return !p.ok() && p.status().code() == Code::kNotFound;
      },
      std::chrono::seconds(15)));
  // Its directory on the node is gone too.
  EXPECT_TRUE(Eventually([&] {
    std::error_code ec;
    auto it = std::filesystem::directory_iterator(dir_ + "/data/agent/pods", ec);
    return !ec && it == std::filesystem::directory_iterator();
  }));
}

}  // namespace
}  // namespace sampan::agent
