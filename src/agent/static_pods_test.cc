// Static pods: manifests made into static pods, mirror pods, and the agent (against an
// in-process API server, without root: no pod network, so the pod stays Pending) keeping
// the mirror pod of a manifest file.
#include "agent/static_pods.h"

#include <gtest/gtest.h>

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

constexpr char kManifest[] = R"(apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: main
    image: busybox:1.35
    command: [sleep, "3600"]
)";

std::string MetaUid(const std::vector<json::object>& pods) {
  return pods.empty() ? "" : client::MetaString(pods[0], "uid");
}

std::string Anno(const json::object& pod, const char* key) {
  const json::object* a = client::MetaObject(pod, "annotations");
  const json::value* v = a ? a->if_contains(key) : nullptr;
  return v && v->is_string() ? std::string(v->as_string()) : "";
}

class StaticPodFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sampan-static-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string dir_;
};

TEST_F(StaticPodFilesTest, ManifestBecomesAStaticPodOfTheNode) {
  ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/web.yaml", kManifest).ok());
  auto pods = LoadStaticPods(dir_ + "/web.yaml", "n1");
  ASSERT_TRUE(pods.ok()) << pods.status().ToString();
  ASSERT_EQ(pods->size(), 1u);
  const json::object& p = (*pods)[0];
  json::value v(p);
  EXPECT_EQ(api::GetString(v, "metadata.name"), "web-n1");
  EXPECT_EQ(api::GetString(v, "metadata.namespace"), "default");
  EXPECT_EQ(api::GetString(v, "spec.nodeName"), "n1");
  std::string uid = api::GetString(v, "metadata.uid");
  EXPECT_EQ(uid.size(), 32u);
  EXPECT_EQ(Anno(p, kAnnoConfigHash), uid);
  EXPECT_EQ(Anno(p, kAnnoConfigSource), "file");
  EXPECT_FALSE(Anno(p, kAnnoConfigSeen).empty());
  EXPECT_TRUE(IsStaticPod(p));
  EXPECT_FALSE(IsMirrorPod(p));
  // Defaults as the API server applies them.
  EXPECT_EQ(api::GetString(v, "spec.restartPolicy"), "Always");
  EXPECT_EQ(api::GetInt(v, "spec.terminationGracePeriodSeconds"), 30);
  EXPECT_EQ(api::GetString(v, "status.phase"), "Pending");
  // Every NoExecute taint is tolerated.
  bool tolerates = false;
  for (const auto& t : v.at("spec").at("tolerations").as_array())
    tolerates |=
        api::GetString(t, "operator") == "Exists" && api::GetString(t, "effect") == "NoExecute";
  EXPECT_TRUE(tolerates);

  // Same file, same node: same uid. Another node or changed content: another.
  EXPECT_EQ(MetaUid(*LoadStaticPods(dir_ + "/web.yaml", "n1")), uid);
  EXPECT_NE(MetaUid(*LoadStaticPods(dir_ + "/web.yaml", "n2")), uid);
  std::string changed = kManifest;
  changed.replace(changed.find("3600"), 4, "3601");
  ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/web.yaml", changed).ok());
  EXPECT_NE(MetaUid(*LoadStaticPods(dir_ + "/web.yaml", "n1")), uid);
}

TEST_F(StaticPodFilesTest, JsonAndListsAndErrors) {
  ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/a.json", R"({"apiVersion":"v1","kind":"PodList",
      "items":[{"metadata":{"name":"a","namespace":"kube-system"},
                "spec":{"containers":[{"name":"c","image":"busybox"}]}},
               {"metadata":{"name":"b"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}]})")
                  .ok());
  auto pods = LoadStaticPods(dir_ + "/a.json", "n1");
  ASSERT_TRUE(pods.ok()) << pods.status().ToString();
  ASSERT_EQ(pods->size(), 2u);
  EXPECT_EQ(client::KeyOf((*pods)[0]), "kube-system/a-n1");
  EXPECT_EQ(client::KeyOf((*pods)[1]), "default/b-n1");

  ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/bad.yaml", "apiVersion: v1\nkind: Service\n").ok());
  auto bad = LoadStaticPods(dir_ + "/bad.yaml", "n1");
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad.yaml"), std::string::npos);
  // Invalid as the API server would say (no containers).
  ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/empty.yaml",
                                  "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {}\n")
                  .ok());
  EXPECT_FALSE(LoadStaticPods(dir_ + "/empty.yaml", "n1").ok());
}

TEST_F(StaticPodFilesTest, MirrorAndView) {
  ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/web.yaml", kManifest).ok());
  json::object sp = (*LoadStaticPods(dir_ + "/web.yaml", "n1"))[0];
  json::object mirror = MirrorPodFor(sp, "n1", "node-uid-1");
  json::value m(mirror);
  EXPECT_TRUE(IsMirrorPod(mirror));
  EXPECT_FALSE(IsStaticPod(mirror));
  EXPECT_EQ(Anno(mirror, kAnnoConfigMirror), Anno(sp, kAnnoConfigHash));
  EXPECT_EQ(api::GetString(m, "metadata.uid"), "");
  EXPECT_EQ(m.as_object().count("status"), 0u);
  const json::value& owner = m.at("metadata").at("ownerReferences").as_array()[0];
  EXPECT_EQ(api::GetString(owner, "kind"), "Node");
  EXPECT_EQ(api::GetString(owner, "name"), "n1");
  EXPECT_EQ(api::GetString(owner, "uid"), "node-uid-1");

  // The worker's view: the mirror's identity and status while it is a live mirror.
  mirror["metadata"].as_object()["uid"] = "mirror-uid";
  mirror["metadata"].as_object()["resourceVersion"] = "42";
  mirror["status"] = json::object{{"phase", "Running"}};
  json::value view(StaticPodView(sp, &mirror));
  EXPECT_EQ(api::GetString(view, "metadata.uid"), "mirror-uid");
  EXPECT_EQ(api::GetString(view, "metadata.resourceVersion"), "42");
  EXPECT_EQ(api::GetString(view, "status.phase"), "Running");
  EXPECT_TRUE(IsStaticPod(view.as_object()));
  mirror["metadata"].as_object()["deletionTimestamp"] = "2025-01-01T00:00:00Z";
  EXPECT_EQ(MetaUid({StaticPodView(sp, &mirror)}), MetaUid({sp}));
  EXPECT_EQ(MetaUid({StaticPodView(sp, nullptr)}), MetaUid({sp}));
}

// The whole agent with a manifest directory.
class StaticPodAgentTest : public StaticPodFilesTest {
 protected:
  void SetUp() override {
    StaticPodFilesTest::SetUp();
    ASSERT_TRUE(server_.start_status().ok()) << server_.start_status().ToString();
    auto c = server_.NewClient();
    ASSERT_TRUE(c.ok());
    client_ = std::move(*c);
    ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/pause-bin", "#!/bin/true\n", 0755).ok());
    ASSERT_TRUE(fs::MakeDirs(dir_ + "/manifests").ok());
  }
  void TearDown() override {
    if (agent_) agent_->Stop();
    StaticPodFilesTest::TearDown();
  }
  void StartAgent() {
    AgentOptions o;
    o.kubeconfig = server_.kubeconfig();
    o.data_dir = dir_ + "/data";
    o.node_name = "node-a";
    o.node_ip = "10.1.2.3";
    o.serve_kubelet_api = false;
    o.pause_binary = dir_ + "/pause-bin";
    o.registries = dir_ + "/no-registries.yaml";
    o.pod_manifest_path = dir_ + "/manifests";
    o.file_check_frequency = std::chrono::milliseconds(200);
    auto a = Agent::Start(o);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    agent_ = std::move(*a);
  }
  Result<json::object> Mirror() { return client_->Get(res::kPods, "default", "web-node-a"); }

  TestApiServer server_;
  std::unique_ptr<client::RestClient> client_;
  std::unique_ptr<Agent> agent_;
};

TEST_F(StaticPodAgentTest, MirrorPodFollowsTheManifest) {
  ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/manifests/web.yaml", kManifest).ok());
  ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/manifests/.hidden.yaml", kManifest).ok());
  StartAgent();
  // The mirror appears, owned by the Node, and the agent writes the pod's status into it.
  json::object mirror;
  ASSERT_TRUE(Eventually(
      [&] {
        auto m = Mirror();
        if (!m.ok()) return false;
        mirror = *m;
        return !api::GetString(json::value(mirror), "status.hostIP").empty();
      },
      std::chrono::seconds(15)));
  json::value m(mirror);
  EXPECT_TRUE(IsMirrorPod(mirror));
  auto node = client_->Get(res::kNodes, "", "node-a");
  ASSERT_TRUE(node.ok());
  const json::value& owner = m.at("metadata").at("ownerReferences").as_array()[0];
  EXPECT_EQ(api::GetString(owner, "kind"), "Node");
  EXPECT_EQ(api::GetString(owner, "uid"), client::MetaString(*node, "uid"));
  EXPECT_EQ(api::GetString(m, "spec.nodeName"), "node-a");
  EXPECT_EQ(api::GetString(m, "status.hostIP"), "10.1.2.3");
  std::string first_uid = api::GetString(m, "metadata.uid");
  auto list = client_->List(res::kPods, "", {});
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->at("items").as_array().size(), 1u);  // the hidden file is skipped

  // Deleting the mirror (gracefully, as kubectl does) brings a new one; the static pod stays.
  ASSERT_TRUE(client_->Delete(res::kPods, "default", "web-node-a").ok());
  ASSERT_TRUE(Eventually(
      [&] {
        auto again = Mirror();
        return again.ok() && client::MetaString(*again, "uid") != first_uid &&
               client::MetaString(*again, "deletionTimestamp").empty() &&
               !api::GetString(json::value(*again), "status.hostIP").empty();
      },
      std::chrono::seconds(15)));

  // A changed manifest replaces the mirror (new hash); a removed one deletes it.
  std::string changed = kManifest;
  changed.replace(changed.find("3600"), 4, "3601");
  ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/manifests/web.yaml", changed).ok());
  std::string new_hash =
      Anno((*LoadStaticPods(dir_ + "/manifests/web.yaml", "node-a"))[0], kAnnoConfigHash);
  ASSERT_TRUE(Eventually(
      [&] {
        auto again = Mirror();
        return again.ok() && Anno(*again, kAnnoConfigMirror) == new_hash;
      },
      std::chrono::seconds(15)));
  ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/manifests/web.yaml", "").ok());
  std::filesystem::remove(dir_ + "/manifests/web.yaml");
  EXPECT_TRUE(Eventually(
      [&] {
        auto gone = Mirror();
        return !gone.ok() && gone.status().code() == Code::kNotFound;
      },
      std::chrono::seconds(15)));
}

TEST_F(StaticPodAgentTest, OrphanedMirrorIsDeleted) {
  StartAgent();
  ASSERT_TRUE(Eventually([&] { return client_->Get(res::kNodes, "", "node-a").ok(); }));
  ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/web.yaml", kManifest).ok());
  json::object sp = (*LoadStaticPods(dir_ + "/web.yaml", "node-a"))[0];
  json::object mirror = MirrorPodFor(sp, "node-a", "x");
  mirror.erase("status");
  ASSERT_TRUE(client_->Create(res::kPods, "default", mirror).ok());
  EXPECT_TRUE(Eventually(
      [&] {
        auto gone = Mirror();
        return !gone.ok() && gone.status().code() == Code::kNotFound;
      },
      std::chrono::seconds(15)));
}

}  // namespace
}  // namespace sampan::agent
