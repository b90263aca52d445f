#include "controllers/statefulset.h"

#include <gtest/gtest.h>

#include "client/test_apiserver.h"
#include "controllers/daemonset_test_util.h"
#include "controllers/util.h"
#include "controllers/persistentvolume_binder.h"
#include "scheduler/scheduler.h"

namespace sampan::controllers {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;
using sampan::client::testing::Eventually;
using testing::FakeKubelet;
using testing::TestNode;

const client::Resource kClaims{"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true};

TEST(StatefulPodTest, OrdinalsAndIdentity) {
  EXPECT_EQ(StatefulPodOrdinal("web", "web-0"), 0);
  EXPECT_EQ(StatefulPodOrdinal("web", "web-12"), 12);
  EXPECT_EQ(StatefulPodOrdinal("web", "web-01"), -1);
  EXPECT_EQ(StatefulPodOrdinal("web", "web-"), -1);
  EXPECT_EQ(StatefulPodOrdinal("web", "webx-1"), -1);
  EXPECT_EQ(StatefulPodOrdinal("web", "web-a"), -1);
  json::object set = json::parse(R"({"apiVersion":"apps/v1","kind":"StatefulSet",
      "metadata":{"name":"web","namespace":"ns","uid":"u"},
      "spec":{"serviceName":"nginx","volumeClaimTemplates":[{"metadata":{"name":"www"},
      "spec":{"accessModes":["ReadWriteOnce"]}}]}})")
                         .as_object();
  json::object tmpl = json::parse(R"({"metadata":{"labels":{"app":"web"}},
      "spec":{"volumes":[{"name":"www","emptyDir":{}}],"containers":[{"name":"c","image":"x"}]}})")
                          .as_object();
  json::object pod = NewStatefulPod(set, tmpl, "web-abc", 2);
  EXPECT_EQ(client::MetaString(pod, "name"), "web-2");
  const json::object* labels = client::MetaObject(pod, "labels");
  EXPECT_EQ(Str(labels, "statefulset.kubernetes.io/pod-name"), "web-2");
  EXPECT_EQ(Str(labels, "apps.kubernetes.io/pod-index"), "2");
  EXPECT_EQ(Str(labels, "controller-revision-hash"), "web-abc");
  EXPECT_EQ(Str(labels, "app"), "web");
  EXPECT_EQ(Str(Obj(&pod, "spec"), "hostname"), "web-2");
  EXPECT_EQ(Str(Obj(&pod, "spec"), "subdomain"), "nginx");
  const json::array* vols = Arr(Obj(&pod, "spec"), "volumes");
  ASSERT_TRUE(vols && vols->size() == 1);
  EXPECT_EQ(json::serialize((*vols)[0]),
            R"({"name":"www","persistentVolumeClaim":{"claimName":"www-web-2"}})");
}

class StatefulSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start_status().ok()) << server_.start_status().ToString();
    auto c = server_.NewClient();
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
    ASSERT_TRUE(client_->Create(client::resources::kNodes, "", TestNode("n1")).ok());
    informers_ = std::make_unique<client::SharedInformers>(client_.get());
    recorder_ = std::make_unique<client::EventRecorder>(client_.get(), "statefulset-controller");
    controller_ = std::make_unique<StatefulSetController>(informers_.get(), recorder_.get());
    // The claims the sets make need volumes to bind to before their pods can be scheduled (the
    // scheduler's VolumeBinding), as in a cluster without a default StorageClass.
    binder_ = std::make_unique<PersistentVolumeBinderController>(informers_.get(), recorder_.get());
    for (int i = 0; i < 6; ++i) {
      json::object pv = json::parse(R"({"apiVersion":"v1","kind":"PersistentVolume",
          "metadata":{"name":"pv-)" + std::to_string(i) + R"("},
          "spec":{"capacity":{"storage":"10Gi"},"accessModes":["ReadWriteOnce"],
          "persistentVolumeReclaimPolicy":"Retain","hostPath":{"path":"/tmp/unused"}}})")
                            .as_object();
      ASSERT_TRUE(client_->Create(client::resources::kPersistentVolumes, "", pv).ok());
    }
    scheduler_ = std::make_unique<scheduler::Scheduler>(client_.get());
    informers_->Start();
    controller_->Run(2);
    binder_->Run();
    scheduler_->Start();
    kubelet_ = std::make_unique<FakeKubelet>(client_.get());
  }
  void TearDown() override {
    kubelet_.reset();
    scheduler_->Stop();
    binder_->Stop();
    controller_->Stop();
    informers_->Stop();
  }
  void CreateSet(const std::string& extra_spec, int replicas = 3) {
    json::object set =
        json::parse(R"({"apiVersion":"apps/v1","kind":"StatefulSet",
        "metadata":{"name":"web"},"spec":{"replicas":)" +
                    std::to_string(replicas) + R"(,"serviceName":"nginx",)" + extra_spec + R"(
        "selector":{"matchLabels":{"app":"web"}},
        "template":{"metadata":{"labels":{"app":"web"}},
        "spec":{"containers":[{"name":"c","image":"web:1"}]}}}})")
            .as_object();
    auto r = client_->Create(client::resources::kStatefulSets, "default", set);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  std::map<std::string, json::object> Pods() {
    std::map<std::string, json::object> out;
    auto l = client_->List(client::resources::kPods, "default", {});
    if (l.ok())
      for (auto& p : l->at("items").as_array())
        out[client::MetaString(p.as_object(), "name")] = p.as_object();
    return out;
  }
  std::vector<std::string> Names() {
    std::vector<std::string> out;
    for (auto& [n, _] : Pods()) out.push_back(n);
    return out;
  }
  json::object Status() {
    auto d = client_->Get(client::resources::kStatefulSets, "default", "web");
    return d.ok() && Obj(&*d, "status") ? *Obj(&*d, "status") : json::object();
  }
  bool AllReady(int64_t n) {
    json::object s = Status();
    return Int(&s, "replicas") == n && Int(&s, "readyReplicas") == n &&
           Int(&s, "availableReplicas") == n && Pods().size() == static_cast<size_t>(n);
  }
  std::string Revision(const json::object& pod) {
    return Str(client::MetaObject(pod, "labels"), "controller-revision-hash");
  }
  void SetImage(const std::string& image) {
    json::object patch =
        json::parse(R"({"spec":{"template":{"spec":{"containers":[{"name":"c","image":")" + image +
                    R"("}]}}}})")
            .as_object();
    ASSERT_TRUE(client_
                    ->Patch(client::resources::kStatefulSets, "default", "web",
                            client::PatchType::kStrategicMerge, patch)
                    .ok());
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
    for (auto& [n, p] : Pods())
      out += n + " rev=" + Revision(p) + " phase=" + Str(Obj(&p, "status"), "phase") +
             " ready=" + (IsPodReady(p) ? "y" : "n") + " deleting=" + (IsDeleting(p) ? "y" : "n") +
             " node=" + Str(Obj(&p, "spec"), "nodeName") + " conditions=" +
             json::serialize(json::value(Arr(Obj(&p, "status"), "conditions")
                                             ? *Arr(Obj(&p, "status"), "conditions")
                                             : json::array())) +
             "\n";
    if (auto claims = client_->List(kClaims, "default", {}); claims.ok()) {
      if (const json::array* items = Arr(&*claims, "items")) {
        for (const auto& c : *items) {
          out += "claim " + client::MetaString(c.as_object(), "name") + " " +
                 json::serialize(c.as_object().at("status")) + "\n";
        }
      }
    }
    return out;
  }

  client::testing::TestApiServer server_;
  std::unique_ptr<client::RestClient> client_;
  std::unique_ptr<client::SharedInformers> informers_;
  std::unique_ptr<client::EventRecorder> recorder_;
  std::unique_ptr<StatefulSetController> controller_;
  std::unique_ptr<PersistentVolumeBinderController> binder_;
  std::unique_ptr<scheduler::Scheduler> scheduler_;
  std::unique_ptr<FakeKubelet> kubelet_;
};

TEST_F(StatefulSetTest, OrderedReadyCreatesInOrderAndScalesDownInReverse) {
  // Nothing becomes ready until allowed: only web-0 exists meanwhile.
  std::atomic<int> ready_upto{-1};
  kubelet_->SetReady([&](const json::object& pod) {
    return StatefulPodOrdinal("web", client::MetaString(pod, "name")) <= ready_upto.load();
  });
  CreateSet(R"("volumeClaimTemplates":[{"metadata":{"name":"data"},
      "spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}],)");
  ASSERT_TRUE(Eventually([&] { return Names() == std::vector<std::string>{"web-0"}; })) << Dump();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(Names(), std::vector<std::string>{"web-0"}) << Dump();
  auto claim = client_->Get(kClaims, "default", "data-web-0");
  ASSERT_TRUE(claim.ok()) << claim.status().ToString();
  EXPECT_EQ(Str(client::MetaObject(*claim, "labels"), "app"), "web");
  json::object pod0 = Pods()["web-0"];
  EXPECT_EQ(Str(Obj(&pod0, "spec"), "hostname"), "web-0");
  EXPECT_EQ(Str(Obj(&pod0, "spec"), "subdomain"), "nginx");
  ready_upto = 0;
  ASSERT_TRUE(Eventually([&] {
    return Names() == std::vector<std::string>{"web-0", "web-1"};
  })) << Dump();
  ready_upto = 2;
  ASSERT_TRUE(Eventually([&] { return AllReady(3); })) << Dump();
  EXPECT_TRUE(client_->Get(kClaims, "default", "data-web-2").ok());
  json::object s = Status();
  EXPECT_EQ(Str(&s, "currentRevision"), Str(&s, "updateRevision"));
  EXPECT_EQ(Int(&s, "currentReplicas"), 3);
  EXPECT_EQ(Int(&s, "updatedReplicas"), 3);

  // Scale to 1: web-2 goes before web-1.
  std::vector<std::vector<std::string>> seen;
  ASSERT_TRUE(client_
                  ->Patch(client::resources::kStatefulSets, "default", "web",
                          client::PatchType::kMerge, json::parse(R"({"spec":{"replicas":1}})"))
                  .ok());
  ASSERT_TRUE(Eventually([&] {
    auto names = Names();
    if (seen.empty() || seen.back() != names) seen.push_back(names);
    return AllReady(1);
  })) << Dump();
  for (const auto& names : seen)
    EXPECT_FALSE(names.size() == 2 && names[1] == "web-2") << "web-1 went before web-2";
  // Claims stay (retention policy Retain).
  EXPECT_TRUE(client_->Get(kClaims, "default", "data-web-2").ok());
}

TEST_F(StatefulSetTest, ParallelCreatesAllAtOnce) {
  kubelet_->SetReady([](const json::object&) { return false; });
  CreateSet(R"("podManagementPolicy":"Parallel",)");
  ASSERT_TRUE(Eventually([&] { return Pods().size() == 3; })) << Dump();
  kubelet_->SetReady(nullptr);
  ASSERT_TRUE(Eventually([&] { return AllReady(3); })) << Dump();
}

TEST_F(StatefulSetTest, AdoptsOrphansByNameAndSelectorAndReleasesStrays) {
  auto orphan = [&](const std::string& name) {
    json::object pod = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" +
                                   name + R"(","labels":{"app":"web"}},
        "spec":{"containers":[{"name":"c","image":"web:1"}]}})")
                           .as_object();
    ASSERT_TRUE(client_->Create(client::resources::kPods, "default", pod).ok());
  };
  orphan("web-1");  // a member by name: adopted, not created again
  orphan("web-x");  // matches the selector but is no member: left alone
  orphan("other-0");
  CreateSet(R"("podManagementPolicy":"Parallel",)", 2);
  auto set = client_->Get(client::resources::kStatefulSets, "default", "web");
  ASSERT_TRUE(set.ok());
  std::string uid = client::MetaString(*set, "uid");
  auto owner = [&](const std::string& name) -> std::string {
    auto p = client_->Get(client::resources::kPods, "default", name);
    const json::object* ref = p.ok() ? ControllerRef(*p) : nullptr;
    return ref ? Str(ref, "uid") : "";
  };
  ASSERT_TRUE(Eventually([&] { return owner("web-1") == uid && owner("web-0") == uid; })) << Dump();
  // (The adopted web-1 carries no revision label, so the rolling update replaces it.)
  ASSERT_TRUE(Eventually([&] {
    json::object s = Status();
    return Int(&s, "readyReplicas") == 2 && Int(&s, "updatedReplicas") == 2;
  })) << Dump();
  EXPECT_EQ(Pods().size(), 4u) << Dump();  // nothing else was created
  EXPECT_EQ(owner("web-x"), "");
  EXPECT_EQ(owner("other-0"), "");
  // Relabelled, web-1 is released; the set makes a new web-1 only once the name is free.
  ASSERT_TRUE(client_
                  ->Patch(client::resources::kPods, "default", "web-1", client::PatchType::kMerge,
                          json::parse(R"({"metadata":{"labels":{"app":"gone"}}})"))
                  .ok());
  ASSERT_TRUE(Eventually([&] { return owner("web-1").empty(); })) << Dump();
  client::DeleteOptions now;
  now.grace_period_seconds = 0;
  ASSERT_TRUE(client_->Delete(client::resources::kPods, "default", "web-1", now).ok());
  ASSERT_TRUE(Eventually([&] { return owner("web-1") == uid; })) << Dump();
  auto fresh = client_->Get(client::resources::kPods, "default", "web-1");
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(Str(client::MetaObject(*fresh, "labels"), "app"), "web");
}

TEST_F(StatefulSetTest, RollingUpdateFromTheHighestOrdinalWithPartition) {
  CreateSet(R"("updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":1}},)");
  ASSERT_TRUE(Eventually([&] { return AllReady(3); })) << Dump();
  std::string first = StatusStr("currentRevision");
  SetImage("web:2");
  // Ordinals ≥ 1 move to the new revision, highest first; web-0 stays.
  std::vector<std::string> order;
  ASSERT_TRUE(Eventually([&] {
    auto pods = Pods();
    for (auto& [n, p] : pods)
      if (Revision(p) != first && std::find(order.begin(), order.end(), n) == order.end())
        order.push_back(n);
    json::object s = Status();
    return AllReady(3) && Int(&s, "updatedReplicas") == 2 && Int(&s, "currentReplicas") == 1;
  })) << Dump();
  EXPECT_EQ(order, (std::vector<std::string>{"web-2", "web-1"}));
  EXPECT_EQ(Revision(Pods()["web-0"]), first);
  json::object s = Status();
  EXPECT_EQ(Str(&s, "currentRevision"), first);
  EXPECT_NE(Str(&s, "updateRevision"), first);
  // Partition 0: web-0 follows and the update revision becomes current.
  ASSERT_TRUE(
      client_
          ->Patch(client::resources::kStatefulSets, "default", "web", client::PatchType::kMerge,
                  json::parse(R"({"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}})"))
          .ok());
  ASSERT_TRUE(Eventually([&] {
    json::object st = Status();
    return AllReady(3) && Str(&st, "currentRevision") == Str(&st, "updateRevision") &&
           Int(&st, "updatedReplicas") == 3;
  })) << Dump();
  auto revs = client_->List(client::resources::kControllerRevisions, "default", {});
  ASSERT_TRUE(revs.ok());
  EXPECT_EQ(revs->at("items").as_array().size(), 2u);
}

// ControllerRevisions left without a controller (a set deleted with --cascade=orphan) are
// adopted by a new set of that selector, which makes no duplicate of a template it finds there;
// a revision relabelled out of the selector is released; orphans of other labels stay orphans.
TEST_F(StatefulSetTest, AdoptsOrphanRevisionsAndReleasesStrays) {
  CreateSet(R"("podManagementPolicy":"Parallel",)", 2);
  ASSERT_TRUE(Eventually([&] { return AllReady(2) && !StatusStr("updateRevision").empty(); }))
      << Dump();
  const std::string web1 = StatusStr("updateRevision");
  SetImage("web:2");
  ASSERT_TRUE(Eventually([&] {
    json::object st = Status();
    return AllReady(2) && Int(&st, "updatedReplicas") == 2 &&
           Str(&st, "currentRevision") == Str(&st, "updateRevision") &&
           Str(&st, "updateRevision") != web1;
  })) << Dump();
  auto revisions = [&] {
    std::map<std::string, json::object> out;
    auto l = client_->List(client::resources::kControllerRevisions, "default", {});
    if (l.ok())
      for (auto& r : l->at("items").as_array())
        out[client::MetaString(r.as_object(), "name")] = r.as_object();
    return out;
  };
  std::map<std::string, json::object> before = revisions();
  ASSERT_EQ(before.size(), 2u);
  // Orphan the history as the garbage collector would (none runs here): the set goes, its
  // dependents lose their ownerReferences.
  ASSERT_TRUE(client_->Delete(client::resources::kStatefulSets, "default", "web").ok());
  ASSERT_TRUE(Eventually([&] {
    return client_->Get(client::resources::kStatefulSets, "default", "web").status().code() ==
           Code::kNotFound;
  }));
  const json::value no_owner = json::parse(R"({"metadata":{"ownerReferences":null}})");
  for (const auto& [name, _] : before)
    ASSERT_TRUE(client_
                    ->Patch(client::resources::kControllerRevisions, "default", name,
                            client::PatchType::kMerge, no_owner)
                    .ok());
  for (const auto& [name, _] : Pods())
    ASSERT_TRUE(
        client_
            ->Patch(client::resources::kPods, "default", name, client::PatchType::kMerge, no_owner)
            .ok());
  json::object other = json::parse(R"({"apiVersion":"apps/v1","kind":"ControllerRevision",
      "metadata":{"name":"other-1","labels":{"app":"other"}},"data":{},"revision":1})")
                           .as_object();
  ASSERT_TRUE(client_->Create(client::resources::kControllerRevisions, "default", other).ok());

  CreateSet(R"("podManagementPolicy":"Parallel",)", 2);  // the first template (web:1) again
  auto set = client_->Get(client::resources::kStatefulSets, "default", "web");
  ASSERT_TRUE(set.ok());
  const std::string uid = client::MetaString(*set, "uid");
  auto owner = [](const json::object& o) {
    const json::object* ref = ControllerRef(o);
    return ref ? Str(ref, "uid") : std::string();
  };
  ASSERT_TRUE(Eventually([&] {
    auto revs = revisions();
    for (const auto& [name, _] : before)
      if (!revs.count(name) || owner(revs[name]) != uid) return false;
    json::object st = Status();
    return AllReady(2) && Int(&st, "updatedReplicas") == 2;
  })) << Dump();
  std::map<std::string, json::object> after = revisions();
  EXPECT_EQ(after.size(), 3u);  // the two adopted and "other-1": no duplicate made
  EXPECT_EQ(owner(after["other-1"]), "");
  // The web:1 revision (number 1) was found again and became the newest (3).
  const std::string first = web1;
  EXPECT_EQ(Int(&before[first], "revision"), 1);
  EXPECT_EQ(Int(&after[first], "revision"), 3) << json::serialize(after[first]);
  EXPECT_EQ(StatusStr("updateRevision"), first);
  // Relabelled out of the selector, the older revision is released.
  std::string second;
  for (const auto& [name, _] : before)
    if (name != first) second = name;
  ASSERT_TRUE(client_
                  ->Patch(client::resources::kControllerRevisions, "default", second,
                          client::PatchType::kMerge,
                          json::parse(R"({"metadata":{"labels":{"app":"gone"}}})"))
                  .ok());
  ASSERT_TRUE(Eventually([&] {
    auto cr = client_->Get(client::resources::kControllerRevisions, "default", second);
    return cr.ok() && owner(*cr).empty();
  })) << Dump();
  EXPECT_EQ(owner(revisions()[first]), uid);
}

TEST_F(StatefulSetTest, OnDeleteUpdatesOnlyRecreatedPods) {
  CreateSet(R"("updateStrategy":{"type":"OnDelete"},)", 2);
  ASSERT_TRUE(Eventually([&] { return AllReady(2); })) << Dump();
  std::string first = StatusStr("currentRevision");
  SetImage("web:2");
  ASSERT_TRUE(Eventually([&] { return StatusStr("updateRevision") != first; })) << Dump();
  std::this_thread::sleep_for(300ms);
  for (auto& [_, p] : Pods()) EXPECT_EQ(Revision(p), first) << Dump();
  ASSERT_TRUE(client_->Delete(client::resources::kPods, "default", "web-1").ok());
  ASSERT_TRUE(Eventually([&] {
    auto pods = Pods();
    return AllReady(2) && Revision(pods["web-1"]) == StatusStr("updateRevision") &&
           Revision(pods["web-0"]) == first;
  })) << Dump();
  EXPECT_EQ(StatusInt("updatedReplicas"), 1);
  EXPECT_EQ(StatusInt("currentReplicas"), 1);
}

TEST_F(StatefulSetTest, ClaimRetentionPolicySetsOwners) {
  CreateSet(
      R"("persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Delete","whenScaled":"Delete"},
      "volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],
      "resources":{"requests":{"storage":"1Gi"}}}}],)",
      2);
  ASSERT_TRUE(Eventually([&] { return AllReady(2); })) << Dump();
  auto set = client_->Get(client::resources::kStatefulSets, "default", "web");
  ASSERT_TRUE(set.ok());
  auto claim = client_->Get(kClaims, "default", "data-web-1");
  ASSERT_TRUE(claim.ok()) << claim.status().ToString();
  const json::array* refs = Arr(Obj(&*claim, "metadata"), "ownerReferences");
  ASSERT_TRUE(refs && refs->size() == 1) << json::serialize(*claim);
  EXPECT_EQ(Str(&(*refs)[0].as_object(), "uid"), client::MetaString(*set, "uid"));
  std::string pod_uid = client::MetaString(Pods()["web-1"], "uid");
  ASSERT_TRUE(client_
                  ->Patch(client::resources::kStatefulSets, "default", "web",
                          client::PatchType::kMerge, json::parse(R"({"spec":{"replicas":1}})"))
                  .ok());
  ASSERT_TRUE(Eventually([&] { return AllReady(1); })) << Dump();
  // Scaled away: the claim now also names the pod that was removed, for the garbage collector.
  claim = client_->Get(kClaims, "default", "data-web-1");
  ASSERT_TRUE(claim.ok());
  refs = Arr(Obj(&*claim, "metadata"), "ownerReferences");
  ASSERT_TRUE(refs && refs->size() == 2) << json::serialize(*claim);
  EXPECT_EQ(Str(&(*refs)[1].as_object(), "uid"), pod_uid);
}

}  // namespace
}  // namespace sampan::controllers
