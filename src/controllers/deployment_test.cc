#include "controllers/deployment.h"

#include <gtest/gtest.h>

#include "client/test_apiserver.h"
#include "controllers/replicaset.h"
#include "controllers/util.h"

namespace sampan::controllers {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;
using sampan::client::testing::Eventually;

TEST(DeploymentHelpersTest, IntOrPercent) {
  json::value pct = "25%";
  EXPECT_EQ(ResolveIntOrPercent(&pct, 10, true, 0), 3);   // 2.5 up
  EXPECT_EQ(ResolveIntOrPercent(&pct, 10, false, 0), 2);  // 2.5 down
  json::value two = 2;
  EXPECT_EQ(ResolveIntOrPercent(&two, 10, true, 0), 2);
  EXPECT_EQ(ResolveIntOrPercent(nullptr, 10, true, 7), 7);
}

TEST(DeploymentHelpersTest, TemplateHashIsStableAndSafe) {
  json::object a =
      json::parse(R"({"spec":{"containers":[{"name":"c","image":"nginx:1"}]}})").as_object();
  json::object b =
      json::parse(R"({"spec":{"containers":[{"name":"c","image":"nginx:2"}]}})").as_object();
  std::string ha = PodTemplateHash(a, 0);
  EXPECT_EQ(ha, PodTemplateHash(a, 0));
  EXPECT_NE(ha, PodTemplateHash(b, 0));
  EXPECT_NE(ha, PodTemplateHash(a, 1));
  EXPECT_FALSE(ha.empty());
  EXPECT_LE(ha.size(), 10u);
  EXPECT_EQ(ha.find_first_not_of("bcdfghjklmnpqrstvwxz2456789"), std::string::npos);
}

class DeploymentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start_status().ok()) << server_.start_status().ToString();
    auto c = server_.NewClient();
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
  }
  void TearDown() override {
    stop_kubelet_ = true;
    if (kubelet_.joinable()) kubelet_.join();
  }
  // Stands in for a node agent: marks every pod Running and Ready.
  void StartFakeKubelet() {
    kubelet_ = std::thread([this] {
      while (!stop_kubelet_) {
        auto l = client_->List(client::resources::kPods, "default", {});
        if (l.ok()) {
          for (auto& p : l->at("items").as_array()) {
            const json::object& pod = p.as_object();
            if (IsPodReady(pod) || IsDeleting(pod)) continue;
            json::object patch = json::parse(R"({"status":{"phase":"Running","conditions":[
                {"type":"Ready","status":"True","lastTransitionTime":"2026-01-01T00:00:00Z"}]}})")
                                     .as_object();
            (void)client_->Patch(client::resources::kPods, "default",
                                 client::MetaString(pod, "name"), client::PatchType::kMerge, patch,
                                 "status");
          }
        }
        std::this_thread::sleep_for(50ms);
      }
    });
  }
  std::vector<json::object> ReplicaSets() {
    std::vector<json::object> out;
    auto l = client_->List(client::resources::kReplicaSets, "default", {});
    if (l.ok())
      for (auto& r : l->at("items").as_array()) out.push_back(r.as_object());
    return out;
  }
  client::testing::TestApiServer server_;
  std::unique_ptr<client::RestClient> client_;
  std::thread kubelet_;
  std::atomic<bool> stop_kubelet_{false};
};

TEST_F(DeploymentTest, RollingUpdateReplacesTheReplicaSet) {
  client::SharedInformers informers(client_.get());
  client::EventRecorder rec_rs(client_.get(), "replicaset-controller");
  client::EventRecorder rec_d(client_.get(), "deployment-controller");
  ReplicaSetController rsc(&informers, &rec_rs);
  DeploymentController dc(&informers, &rec_d);
  informers.Start();
  rsc.Run(2);
  dc.Run(2);
  StartFakeKubelet();

  json::object d = json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
      "metadata":{"name":"web","annotations":{"kubernetes.io/change-cause":"v1"}},
      "spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},
      "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1,"maxUnavailable":0}},
      "template":{"metadata":{"labels":{"app":"web"}},
      "spec":{"containers":[{"name":"c","image":"nginx:1"}]}}}})")
                       .as_object();
  ASSERT_TRUE(client_->Create(client::resources::kDeployments, "default", d).ok());
  auto rolled_out = [&](const std::string& revision) {
    auto got = client_->Get(client::resources::kDeployments, "default", "web");
    if (!got.ok()) return false;
    const json::object* st = Obj(&*got, "status");
    return Str(client::MetaObject(*got, "annotations"), "deployment.kubernetes.io/revision") ==
               revision &&
           Int(st, "updatedReplicas") == 3 && Int(st, "availableReplicas") == 3 &&
           Int(st, "replicas") == 3 &&
           Int(st, "observedGeneration") == Int(Obj(&*got, "metadata"), "generation");
  };
  ASSERT_TRUE(Eventually([&] { return rolled_out("1"); }))
      << json::serialize(*client_->Get(client::resources::kDeployments, "default", "web")) << "\n"
      << [&] { std::string o; for (auto& r : ReplicaSets()) o += json::serialize(r) + "\n"; return o; }();
  auto sets = ReplicaSets();
  ASSERT_EQ(sets.size(), 1u);
  std::string first_rs = client::MetaString(sets[0], "name");
  EXPECT_EQ(first_rs.rfind("web-", 0), 0u);
  EXPECT_EQ(Str(client::MetaObject(sets[0], "annotations"), "kubernetes.io/change-cause"), "v1");
  std::string hash = Str(client::MetaObject(sets[0], "labels"), "pod-template-hash");
  EXPECT_EQ(first_rs, "web-" + hash);

  // New image: a second ReplicaSet takes over; the first is kept at 0 for rollback.
  ASSERT_TRUE(
      client_
          ->Patch(
              client::resources::kDeployments, "default", "web", client::PatchType::kStrategicMerge,
              json::parse(
                  R"({"spec":{"template":{"spec":{"containers":[{"name":"c","image":"nginx:2"}]}}}})"))
          .ok());
  // Watch the bounds while it rolls: Σ spec.replicas ≤ replicas + maxSurge (4).
  int64_t max_total = 0;
  ASSERT_TRUE(Eventually([&] {
    int64_t total = 0;
    for (auto& rs : ReplicaSets()) total += Int(Obj(&rs, "spec"), "replicas");
    max_total = std::max(max_total, total);
    return rolled_out("2");
  }));
  EXPECT_LE(max_total, 4);
  EXPECT_GE(max_total, 3);
  sets = ReplicaSets();
  ASSERT_EQ(sets.size(), 2u);
  for (auto& rs : sets) {
    bool is_first = client::MetaString(rs, "name") == first_rs;
    EXPECT_EQ(Int(Obj(&rs, "spec"), "replicas"), is_first ? 0 : 3);
    EXPECT_EQ(Str(client::MetaObject(rs, "annotations"), "deployment.kubernetes.io/revision"),
              is_first ? "1" : "2");
  }
  auto got = client_->Get(client::resources::kDeployments, "default", "web");
  ASSERT_TRUE(got.ok());
  bool available = false, progressed = false;
  for (auto& c : got->at("status").at("conditions").as_array()) {
    if (c.at("type") == "Available" && c.at("status") == "True") available = true;
    if (c.at("type") == "Progressing" && c.at("reason") == "NewReplicaSetAvailable")
      progressed = true;
  }
  EXPECT_TRUE(available);
  EXPECT_TRUE(progressed);
  dc.Stop();
  rsc.Stop();
  informers.Stop();
}

TEST_F(DeploymentTest, RecreateScalesOldToZeroFirst) {
  client::SharedInformers informers(client_.get());
  client::EventRecorder rec_rs(client_.get(), "replicaset-controller");
  client::EventRecorder rec_d(client_.get(), "deployment-controller");
  ReplicaSetController rsc(&informers, &rec_rs);
  DeploymentController dc(&informers, &rec_d);
  informers.Start();
  rsc.Run(2);
  dc.Run(2);
  StartFakeKubelet();
  json::object d =
      json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"rc"},
      "spec":{"replicas":2,"selector":{"matchLabels":{"app":"rc"}},"strategy":{"type":"Recreate"},
      "template":{"metadata":{"labels":{"app":"rc"}},
      "spec":{"containers":[{"name":"c","image":"nginx:1"}]}}}})")
          .as_object();
  ASSERT_TRUE(client_->Create(client::resources::kDeployments, "default", d).ok());
  ASSERT_TRUE(Eventually([&] {
    auto got = client_->Get(client::resources::kDeployments, "default", "rc");
    return got.ok() && Int(Obj(&*got, "status"), "availableReplicas") == 2;
  }));
  ASSERT_TRUE(
      client_
          ->Patch(
              client::resources::kDeployments, "default", "rc", client::PatchType::kStrategicMerge,
              json::parse(
                  R"({"spec":{"template":{"spec":{"containers":[{"name":"c","image":"nginx:2"}]}}}})"))
          .ok());
  ASSERT_TRUE(Eventually([&] {
    auto sets = ReplicaSets();
    if (sets.size() != 2) return false;
    for (auto& rs : sets) {
      bool newer =
          Str(client::MetaObject(rs, "annotations"), "deployment.kubernetes.io/revision") == "2";
      if (Int(Obj(&rs, "spec"), "replicas") != (newer ? 2 : 0)) return false;
      if (newer && Int(Obj(&rs, "status"), "availableReplicas") != 2) return false;
    }
    return true;
  }));
  dc.Stop();
  rsc.Stop();
  informers.Stop();
}

}  // namespace
}  // namespace sampan::controllers
