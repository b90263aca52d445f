// The agent's admission of pods beyond --max-pods, against an in-process API server and
// without root (pods wait for the network, which is enough to hold their place).
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <filesystem>

#include "agent/agent.h"
#include "api/json_util.h"
#include "client/test_apiserver.h"
#include "util/fs.h"

namespace sampan::agent {
namespace {

namespace json = boost::json;
using client::testing::Eventually;
using client::testing::TestApiServer;
namespace res = client::resources;

class AdmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start_status().ok()) << server_.start_status().ToString();
    auto c = server_.NewClient();
    ASSERT_TRUE(c.ok());
    client_ = std::move(*c);
    char tmpl[] = "/tmp/sampan-admission-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/pause-bin", "#!/bin/true\n", 0755).ok());
  }
  void TearDown() override {
    if (agent_) agent_->Stop();
    ::umount2((dir_ + "/run").c_str(), MNT_DETACH);  // the agent's tmpfs (when root)
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void StartAgent(int max_pods) {
    AgentOptions o;
    o.kubeconfig = server_.kubeconfig();
    o.data_dir = dir_ + "/data";
    o.run_dir = dir_ + "/run";
    o.node_name = "node-a";
    o.node_ip = "10.1.2.3";
    o.serve_kubelet_api = false;
    o.pause_binary = dir_ + "/pause-bin";
    o.registries = dir_ + "/no-registries.yaml";
    o.max_pods = max_pods;
    auto a = Agent::Start(o);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    agent_ = std::move(*a);
  }
  json::object Pod(const std::string& name) {
    return json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
                       R"("},"spec":{"nodeName":"node-a","terminationGracePeriodSeconds":1,
                       "containers":[{"name":"main","image":"busybox:1.35"}]}})")
        .as_object();
  }
  // Waits until the agent has taken the pod up (it reports the host IP).
  bool Admitted(const std::string& name) {
    return Eventually([&] {
      auto p = client_->Get(res::kPods, "default", name);
      return p.ok() && !api::GetString(json::value(*p), "status.hostIP").empty();
    });
  }
  std::string Phase(const std::string& name) {
    auto p = client_->Get(res::kPods, "default", name);
    return p.ok() ? api::GetString(json::value(*p), "status.phase") : "<gone>";
  }

  TestApiServer server_;
  std::unique_ptr<client::RestClient> client_;
  std::string dir_;
  std::unique_ptr<Agent> agent_;
};

TEST_F(AdmissionTest, RejectsPodsBeyondMaxPodsAsTheKubeletDoes) {
  StartAgent(2);
  ASSERT_TRUE(client_->Create(res::kPods, "default", Pod("a")).ok());
  ASSERT_TRUE(Admitted("a"));
  ASSERT_TRUE(client_->Create(res::kPods, "default", Pod("b")).ok());
  ASSERT_TRUE(Admitted("b"));
  ASSERT_TRUE(client_->Create(res::kPods, "default", Pod("c")).ok());
  ASSERT_TRUE(Eventually([&] { return Phase("c") == "Failed"; }));
  auto c = client_->Get(res::kPods, "default", "c");
  ASSERT_TRUE(c.ok());
  json::value v(*c);
  EXPECT_EQ(api::GetString(v, "status.reason"), "OutOfpods");
  EXPECT_EQ(api::GetString(v, "status.message"),
            "Pod was rejected: Node didn't have enough resource: pods, requested: 1, used: 2, "
            "capacity: 2");
  // The rejected pod never ran: no host IP, no container statuses.
  EXPECT_EQ(api::GetString(v, "status.hostIP"), "");
  EXPECT_EQ(api::GetPath(v, "status.containerStatuses"), nullptr);
  // The admitted pods are unaffected.
  EXPECT_EQ(Phase("a"), "Pending");
  EXPECT_EQ(Phase("b"), "Pending");
  // A Warning event with the reason, as kubectl describe shows it.
  ASSERT_TRUE(Eventually([&] {
    client::ListOptions o;
    o.field_selector = "involvedObject.name=c";
    auto l = client_->List(res::kEvents, "default", o);
    if (!l.ok()) return false;
    for (const auto& e : l->at("items").as_array())
      if (e.at("reason").as_string() == "OutOfpods" && e.at("type").as_string() == "Warning")
        return true;
    return false;
  }));

  // Room again once a pod is gone: a new pod is admitted, the rejected one stays Failed.
  ASSERT_TRUE(client_->Delete(res::kPods, "default", "a").ok());
  ASSERT_TRUE(Eventually([&] { return Phase("a") == "<gone>"; }, std::chrono::seconds(15)));
  ASSERT_TRUE(client_->Create(res::kPods, "default", Pod("d")).ok());
  EXPECT_TRUE(Admitted("d"));
  EXPECT_EQ(Phase("c"), "Failed");
}

TEST_F(AdmissionTest, FinishedPodsTakeNoRoom) {
  // A pod that finished before the agent starts (its phase set through the status
  // subresource, as its kubelet would have).
  ASSERT_TRUE(client_->Create(res::kPods, "default", Pod("done")).ok());
  json::object patch{{"status", json::object{{"phase", "Succeeded"}}}};
  ASSERT_TRUE(
      client_->Patch(res::kPods, "default", "done", client::PatchType::kMerge, patch, "status")
          .ok());
  StartAgent(1);
  ASSERT_TRUE(client_->Create(res::kPods, "default", Pod("next")).ok());
  EXPECT_TRUE(Admitted("next"));
  EXPECT_EQ(Phase("next"), "Pending");
}

}  // namespace
}  // namespace sampan::agent
