#include "controllers/daemonset.h"

#include <gtest/gtest.h>

#include "client/test_apiserver.h"
#include "controllers/daemonset_test_util.h"
#include "scheduler/scheduler.h"

namespace sampan::controllers {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;
using sampan::client::testing::Eventually;
using testing::FakeKubelet;
using testing::TestNode;

TEST(DaemonNodeFitTest, SelectorsAffinityTaintsAndDaemonTolerations) {
  json::object tmpl = json::parse(R"({"spec":{"nodeSelector":{"role":"worker"},
      "affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{
      "nodeSelectorTerms":[{"matchExpressions":[{"key":"zone","operator":"NotIn","values":["b"]}]}]}}},
      "containers":[{"name":"c","image":"x"}]}})")
                          .as_object();
  bool run = false, keep = false;
  DaemonNodeFit(tmpl, TestNode("a", {{"role", "worker"}}), &run, &keep);
  EXPECT_TRUE(run && keep);
  DaemonNodeFit(tmpl, TestNode("a", {{"role", "edge"}}), &run, &keep);
  EXPECT_FALSE(run || keep);
  DaemonNodeFit(tmpl, TestNode("a", {{"role", "worker"}, {"zone", "b"}}), &run, &keep);
  EXPECT_FALSE(run || keep);
  // Unschedulable and not-ready nodes are tolerated by every daemon pod.
  json::array tolerated{
      json::object{{"key", "node.kubernetes.io/unschedulable"}, {"effect", "NoSchedule"}},
      json::object{{"key", "node.kubernetes.io/not-ready"}, {"effect", "NoExecute"}}};
  DaemonNodeFit(tmpl, TestNode("a", {{"role", "worker"}}, tolerated, true), &run, &keep);
  EXPECT_TRUE(run && keep);
  // An untolerated NoSchedule taint: no new pod, but a running one stays; NoExecute: leaves.
  json::array no_schedule{
      json::object{{"key", "dedicated"}, {"value", "db"}, {"effect", "NoSchedule"}}};
  DaemonNodeFit(tmpl, TestNode("a", {{"role", "worker"}}, no_schedule), &run, &keep);
  EXPECT_FALSE(run);
  EXPECT_TRUE(keep);
  json::array no_execute{
      json::object{{"key", "dedicated"}, {"value", "db"}, {"effect", "NoExecute"}}};
  DaemonNodeFit(tmpl, TestNode("a", {{"role", "worker"}}, no_execute), &run, &keep);
  EXPECT_FALSE(run || keep);
  json::object tolerant = tmpl;
  tolerant["spec"].as_object()["tolerations"] =
      json::array{json::object{{"key", "dedicated"}, {"operator", "Exists"}}};
  DaemonNodeFit(tolerant, TestNode("a", {{"role", "worker"}}, no_execute), &run, &keep);
  EXPECT_TRUE(run && keep);
}

TEST(DaemonPodTest, PinnedByNodeAffinityWithDaemonTolerations) {
  json::object ds = json::parse(R"({"apiVersion":"apps/v1","kind":"DaemonSet",
      "metadata":{"name":"agent","namespace":"kube-system","uid":"u1","generation":3},
      "spec":{"selector":{"matchLabels":{"app":"agent"}},"template":{"metadata":{"labels":{"app":"agent"}},
      "spec":{"hostNetwork":true,"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{
      "nodeSelectorTerms":[{"matchExpressions":[{"key":"zone","operator":"Exists"}]}]}}},
      "containers":[{"name":"c","image":"x"}]}}}})")
                        .as_object();
  json::object pod = NewDaemonPod(ds, "node-7", "abc");
  const json::object* labels = client::MetaObject(pod, "labels");
  EXPECT_EQ(Str(labels, "controller-revision-hash"), "abc");
  EXPECT_EQ(Str(labels, "pod-template-generation"), "3");
  EXPECT_EQ(Str(labels, "app"), "agent");
  EXPECT_EQ(client::MetaString(pod, "generateName"), "agent-");
  EXPECT_TRUE(Str(Obj(&pod, "spec"), "nodeName").empty());
  EXPECT_EQ(
      json::serialize(Obj(Obj(Obj(&pod, "spec"), "affinity"), "nodeAffinity")
                          ->at("requiredDuringSchedulingIgnoredDuringExecution")),
      R"({"nodeSelectorTerms":[{"matchFields":[{"key":"metadata.name","operator":"In","values":["node-7"]}]}]})");
  std::set<std::string> keys;
  for (const auto& t : *Arr(Obj(&pod, "spec"), "tolerations"))
    keys.insert(Str(&t.as_object(), "key") + ":" + Str(&t.as_object(), "effect"));
  EXPECT_EQ(keys, (std::set<std::string>{"node.kubernetes.io/not-ready:NoExecute",
                                         "node.kubernetes.io/unreachable:NoExecute",
                                         "node.kubernetes.io/disk-pressure:NoSchedule",
                                         "node.kubernetes.io/memory-pressure:NoSchedule",
                                         "node.kubernetes.io/pid-pressure:NoSchedule",
                                         "node.kubernetes.io/unschedulable:NoSchedule",
                                         "node.kubernetes.io/network-unavailable:NoSchedule"}));
}

class DaemonSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start_status().ok()) << server_.start_status().ToString();
    auto c = server_.NewClient();
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
    json::array taint{
        json::object{{"key", "dedicated"}, {"value", "db"}, {"effect", "NoSchedule"}}};
    json::array unsched{
        json::object{{"key", "node.kubernetes.io/unschedulable"}, {"effect", "NoSchedule"}}};
    for (const auto& n :
         {TestNode("n1", {{"role", "worker"}}), TestNode("n2", {{"role", "worker"}}, taint),
          TestNode("n3", {{"role", "worker"}}, unsched, true),
          TestNode("n4", {{"role", "edge"}})}) {
      auto r = client_->Create(client::resources::kNodes, "", n);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
    }
    informers_ = std::make_unique<client::SharedInformers>(client_.get());
    recorder_ = std::make_unique<client::EventRecorder>(client_.get(), "daemonset-controller");
    controller_ = std::make_unique<DaemonSetController>(informers_.get(), recorder_.get());
    scheduler_ = std::make_unique<scheduler::Scheduler>(client_.get());
    informers_->Start();
    controller_->Run(2);
    scheduler_->Start();
    kubelet_ = std::make_unique<FakeKubelet>(client_.get());
  }
  void TearDown() override {
    kubelet_.reset();
    scheduler_->Stop();
    controller_->Stop();
    informers_->Stop();
  }
  std::map<std::string, json::object> PodsByNode() {
    std::map<std::string, json::object> out;
    auto l = client_->List(client::resources::kPods, "default", {});
    if (l.ok())
      for (auto& p : l->at("items").as_array())
        if (!IsDeleting(p.as_object()))
          out[Str(Obj(&p.as_object(), "spec"), "nodeName")] = p.as_object();
    return out;
  }
  size_t PodCount() {
    auto l = client_->List(client::resources::kPods, "default", {});
    return l.ok() ? l->at("items").as_array().size() : 0;
  }
  json::object Status(const std::string& name = "agent") {
    auto d = client_->Get(client::resources::kDaemonSets, "default", name);
    return d.ok() && Obj(&*d, "status") ? *Obj(&*d, "status") : json::object();
  }
  std::vector<json::object> Revisions() {
    std::vector<json::object> out;
    auto l = client_->List(client::resources::kControllerRevisions, "default", {});
    if (l.ok())
      for (auto& r : l->at("items").as_array()) out.push_back(r.as_object());
    std::sort(out.begin(), out.end(), [](const json::object& a, const json::object& b) {
      return Int(&a, "revision") < Int(&b, "revision");
    });
    return out;
  }
  int64_t StatusInt(const char* key) {
    json::object s = Status();
    return Int(&s, key);
  }
  std::string StatusStr(const char* key) {
    json::object s = Status();
    return Str(&s, key);
  }
  std::string Dump() {
    std::string out = json::serialize(Status()) + "\n";
    auto l = client_->List(client::resources::kPods, "default", {});
    if (l.ok())
      for (auto& p : l->at("items").as_array())
        out += client::MetaString(p.as_object(), "name") +
               " node=" + Str(Obj(&p.as_object(), "spec"), "nodeName") + " " +
               json::serialize(client::MetaObject(p.as_object(), "labels")
                                   ? json::value(*client::MetaObject(p.as_object(), "labels"))
                                   : json::value()) +
               " deleting=" + (IsDeleting(p.as_object()) ? "y" : "n") + "\n";
    return out;
  }
  void SetImage(const std::string& image) {
    json::object patch =
        json::parse(R"({"spec":{"template":{"spec":{"containers":[{"name":"c","image":")" + image +
                    R"("}]}}}})")
            .as_object();
    ASSERT_TRUE(client_
                    ->Patch(client::resources::kDaemonSets, "default", "agent",
                            client::PatchType::kStrategicMerge, patch)
                    .ok());
  }
  void CreateDaemonSet(const std::string& strategy) {
    json::object ds = json::parse(R"({"apiVersion":"apps/v1","kind":"DaemonSet",
        "metadata":{"name":"agent","annotations":{"kubernetes.io/change-cause":"first"}},
        "spec":{"selector":{"matchLabels":{"app":"agent"}},)" +
                                  strategy + R"(
        "template":{"metadata":{"labels":{"app":"agent"}},"spec":{"nodeSelector":{"role":"worker"},
        "containers":[{"name":"c","image":"agent:1"}]}}}})")
                          .as_object();
    auto r = client_->Create(client::resources::kDaemonSets, "default", ds);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  bool Settled(int64_t desired, int64_t updated) {
    json::object s = Status();
    return Int(&s, "desiredNumberScheduled") == desired &&
           Int(&s, "currentNumberScheduled") == desired && Int(&s, "numberReady") == desired &&
           Int(&s, "numberAvailable") == desired && Int(&s, "updatedNumberScheduled") == updated &&
           Int(&s, "numberMisscheduled") == 0 &&
           PodsByNode().size() == static_cast<size_t>(desired) &&
           PodCount() == static_cast<size_t>(desired);
  }

  client::testing::TestApiServer server_;
  std::unique_ptr<client::RestClient> client_;
  std::unique_ptr<client::SharedInformers> informers_;
  std::unique_ptr<client::EventRecorder> recorder_;
  std::unique_ptr<DaemonSetController> controller_;
  std::unique_ptr<scheduler::Scheduler> scheduler_;
  std::unique_ptr<FakeKubelet> kubelet_;
};

TEST_F(DaemonSetTest, OnePodPerEligibleNodeFollowingNodeChanges) {
  CreateDaemonSet("");
  // n1, and n3 (unschedulable, tolerated); not n2 (tainted) nor n4 (edge).
  ASSERT_TRUE(Eventually([&] { return Settled(2, 2); })) << Dump();
  auto pods = PodsByNode();
  EXPECT_TRUE(pods.count("n1") && pods.count("n3")) << Dump();
  EXPECT_EQ(StatusInt("observedGeneration"), 1);
  // n4 becomes a worker: it gets a pod. n1 stops being one: its pod goes.
  ASSERT_TRUE(client_
                  ->Patch(client::resources::kNodes, "", "n4", client::PatchType::kMerge,
                          json::parse(R"({"metadata":{"labels":{"role":"worker"}}})"))
                  .ok());
  ASSERT_TRUE(Eventually([&] { return Settled(3, 3); })) << Dump();
  ASSERT_TRUE(client_
                  ->Patch(client::resources::kNodes, "", "n1", client::PatchType::kMerge,
                          json::parse(R"({"metadata":{"labels":{"role":"other"}}})"))
                  .ok());
  ASSERT_TRUE(Eventually([&] { return Settled(2, 2); })) << Dump();
  pods = PodsByNode();
  EXPECT_TRUE(pods.count("n3") && pods.count("n4") && !pods.count("n1")) << Dump();
  // A failed pod is replaced.
  json::object failed = pods["n3"];
  ASSERT_TRUE(client_
                  ->Patch(client::resources::kPods, "default", client::MetaString(failed, "name"),
                          client::PatchType::kMerge,
                          json::parse(R"({"status":{"phase":"Failed"}})"), "status")
                  .ok());
  ASSERT_TRUE(Eventually([&] {
    auto now = PodsByNode();
    return now.count("n3") &&
           client::MetaString(now["n3"], "uid") != client::MetaString(failed, "uid") &&
           Settled(2, 2);
  })) << Dump();
}

TEST_F(DaemonSetTest, RollingUpdateKeepsMaxUnavailableAndRecordsHistory) {
  ASSERT_TRUE(client_
                  ->Patch(client::resources::kNodes, "", "n4", client::PatchType::kMerge,
                          json::parse(R"({"metadata":{"labels":{"role":"worker"}}})"))
                  .ok());
  CreateDaemonSet("");
  ASSERT_TRUE(Eventually([&] { return Settled(3, 3); })) << Dump();
  std::string first_hash =
      Str(client::MetaObject(PodsByNode()["n1"], "labels"), "controller-revision-hash");
  // New pods never become ready: the update stops after one node (maxUnavailable 1).
  kubelet_->SetReady([&](const json::object& pod) {
    return Str(client::MetaObject(pod, "labels"), "controller-revision-hash") == first_hash;
  });
  SetImage("agent:2");
  auto updated_count = [&] {
    int n = 0;
    for (auto& [_, p] : PodsByNode())
      if (Str(client::MetaObject(p, "labels"), "controller-revision-hash") != first_hash) ++n;
    return n;
  };
  ASSERT_TRUE(Eventually([&] { return updated_count() == 1; })) << Dump();
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(updated_count(), 1) << Dump();
  EXPECT_EQ(StatusInt("numberUnavailable"), 1) << Dump();
  kubelet_->SetReady(nullptr);
  ASSERT_TRUE(Eventually([&] { return Settled(3, 3) && updated_count() == 3; })) << Dump();
  auto revs = Revisions();
  ASSERT_EQ(revs.size(), 2u);
  EXPECT_EQ(Int(&revs[0], "revision"), 1);
  EXPECT_EQ(Int(&revs[1], "revision"), 2);
  EXPECT_EQ(client::MetaString(revs[0], "name"), "agent-" + first_hash);
  EXPECT_EQ(Str(client::MetaObject(revs[0], "labels"), "app"), "agent");
  EXPECT_EQ(Str(client::MetaObject(revs[0], "annotations"), "kubernetes.io/change-cause"), "first");
  EXPECT_EQ(json::serialize(revs[0].at("data").at("spec").at("template").at("$patch")),
            "\"replace\"");
  // Back to the first template (what `kubectl rollout undo` does): its revision becomes 3.
  SetImage("agent:1");
  ASSERT_TRUE(Eventually([&] {
    auto r = Revisions();
    return r.size() == 2 && client::MetaString(r[1], "name") == "agent-" + first_hash &&
           Int(&r[1], "revision") == 3;
  })) << Dump();
  ASSERT_TRUE(Eventually([&] { return Settled(3, 3) && updated_count() == 0; })) << Dump();
}

TEST_F(DaemonSetTest, SurgeStartsTheNewPodBeforeRemovingTheOld) {
  CreateDaemonSet(
      R"("updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1,"maxUnavailable":0}},)");
  ASSERT_TRUE(Eventually([&] { return Settled(2, 2); })) << Dump();
  std::string first_hash =
      Str(client::MetaObject(PodsByNode()["n1"], "labels"), "controller-revision-hash");
  kubelet_->SetReady([&](const json::object& pod) {
    return Str(client::MetaObject(pod, "labels"), "controller-revision-hash") == first_hash;
  });
  SetImage("agent:2");
  // One surge pod next to the old ones; no old pod is removed while it is not ready.
  ASSERT_TRUE(Eventually([&] { return PodCount() == 3; })) << Dump();
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(PodCount(), 3u) << Dump();
  kubelet_->SetReady(nullptr);
  ASSERT_TRUE(Eventually([&] {
    if (!Settled(2, 2)) return false;
    for (auto& [_, p] : PodsByNode())
      if (Str(client::MetaObject(p, "labels"), "controller-revision-hash") == first_hash)
        return false;
    return true;
  })) << Dump();
}

TEST_F(DaemonSetTest, OnDeleteWaitsForPodsToBeDeleted) {
  CreateDaemonSet(R"("updateStrategy":{"type":"OnDelete"},)");
  ASSERT_TRUE(Eventually([&] { return Settled(2, 2); })) << Dump();
  SetImage("agent:2");
  ASSERT_TRUE(Eventually([&] { return Settled(2, 0); })) << Dump();
  auto pods = PodsByNode();
  ASSERT_TRUE(
      client_->Delete(client::resources::kPods, "default", client::MetaString(pods["n1"], "name"))
          .ok());
  ASSERT_TRUE(Eventually([&] { return Settled(2, 1); })) << Dump();
}

}  // namespace
}  // namespace sampan::controllers
