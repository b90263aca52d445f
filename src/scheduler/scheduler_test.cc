#include "scheduler/scheduler.h"

#include <gtest/gtest.h>

#include "client/test_apiserver.h"

namespace sampan::scheduler {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;
using sampan::client::testing::Eventually;

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start_status().ok()) << server_.start_status().ToString();
    auto c = server_.NewClient();
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
    // Pods get a priority through a PriorityClass (the Priority admission step sets spec.priority).
    const client::Resource classes{"scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass",
                                   false};
    for (int value : {10, 1000}) {
      json::object pc{{"apiVersion", "scheduling.k8s.io/v1"},
                      {"kind", "PriorityClass"},
                      {"metadata", {{"name", "p" + std::to_string(value)}}},
                      {"value", value}};
      ASSERT_TRUE(client_->Create(classes, "", pc).ok());
    }
  }
  void AddNode(const std::string& name, const std::string& cpu) {
    json::object status{{"allocatable", {{"cpu", cpu}, {"memory", "4Gi"}, {"pods", "110"}}},
                        {"capacity", {{"cpu", cpu}, {"memory", "4Gi"}, {"pods", "110"}}}};
    json::object node{
        {"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}}}, {"status", status}};
    auto created = client_->Create(client::resources::kNodes, "", node);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    json::object with_status = *created;
    with_status["status"] = status;
    ASSERT_TRUE(client_->UpdateStatus(client::resources::kNodes, "", with_status).ok());
  }
  void AddPod(const std::string& name, const std::string& cpu) {
    json::object pod =
        json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
                    R"("},"spec":{"containers":[{"name":"c","image":"busybox",
                                   "resources":{"requests":{"cpu":")" +
                    cpu + R"("}}}]}})")
            .as_object();
    auto r = client_->Create(client::resources::kPods, "default", pod);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  std::string NodeOf(const std::string& pod) {
    auto p = client_->Get(client::resources::kPods, "default", pod);
    if (!p.ok()) return "";
    auto* spec = p->if_contains("spec");
    auto* n = spec ? spec->as_object().if_contains("nodeName") : nullptr;
    return n && n->is_string() ? std::string(n->as_string()) : "";
  }
  std::vector<json::object> EventsFor(const std::string& pod, const std::string& reason) {
    std::vector<json::object> out;
    auto l = client_->List(client::resources::kEvents, "default", {});
    if (!l.ok()) return out;
    for (auto& e : l->at("items").as_array()) {
      if (e.at("involvedObject").at("name") == json::value(pod) &&
          e.at("reason") == json::value(reason))
        out.push_back(e.as_object());
    }
    return out;
  }
  client::testing::TestApiServer server_;
  std::unique_ptr<client::RestClient> client_;
};

TEST_F(SchedulerTest, UnschedulablePodGetsEventAndConditionThenBindsWhenANodeArrives) {
  AddNode("small", "1");
  Scheduler sched(client_.get());
  sched.Start();
  AddPod("big", "2");
  ASSERT_TRUE(Eventually([&] { return !EventsFor("big", "FailedScheduling").empty(); }));
  auto ev = EventsFor("big", "FailedScheduling")[0];
  // kube-scheduler's wording, with DefaultPreemption's part (nothing of lower priority to evict).
  EXPECT_EQ(ev.at("message"),
            "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 "
            "No preemption victims found for incoming pod..");
  EXPECT_EQ(ev.at("type"), "Warning");
  EXPECT_EQ(ev.at("source").at("component"), "default-scheduler");
  ASSERT_TRUE(Eventually([&] {
    auto p = client_->Get(client::resources::kPods, "default", "big");
    if (!p.ok()) return false;
    auto* st = p->if_contains("status");
    auto* conds = st ? st->as_object().if_contains("conditions") : nullptr;
    if (!conds || !conds->is_array()) return false;
    for (auto& c : conds->as_array())
      if (c.at("type") == "PodScheduled" && c.at("status") == "False" &&
          c.at("reason") == "Unschedulable")
        return true;
    return false;
  }));
  EXPECT_EQ(NodeOf("big"), "");
  // No retry storm: without cluster changes the pod is not retried (one event, count 1).
  std::this_thread::sleep_for(500ms);
  auto failed = EventsFor("big", "FailedScheduling");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].at("count"), 1);
  // A node that fits arrives: the waiting pod is retried and bound there.
  AddNode("large", "4");
  ASSERT_TRUE(Eventually([&] { return NodeOf("big") == "large"; }));
  ASSERT_TRUE(Eventually([&] { return !EventsFor("big", "Scheduled").empty(); }));
  EXPECT_EQ(EventsFor("big", "Scheduled")[0].at("message"),
            "Successfully assigned default/big to large");
  sched.Stop();
}

TEST_F(SchedulerTest, AccountsForPodsItJustBound) {
  AddNode("n1", "1");
  AddNode("n2", "1");
  Scheduler sched(client_.get());
  sched.Start();
  // Three 600m pods on two 1-CPU nodes: two fit (one per node), the third does not.
  for (const char* p : {"a", "b", "c"}) AddPod(p, "600m");
  ASSERT_TRUE(Eventually([&] {
    int bound = 0;
    for (const char* p : {"a", "b", "c"}) bound += !NodeOf(p).empty();
    return bound == 2;
  }));
  std::this_thread::sleep_for(300ms);
  std::set<std::string> nodes;
  int bound = 0;
  for (const char* p : {"a", "b", "c"}) {
    if (!NodeOf(p).empty()) {
      ++bound;
      nodes.insert(NodeOf(p));
    }
  }
  EXPECT_EQ(bound, 2);
  EXPECT_EQ(nodes.size(), 2u);
  sched.Stop();
}

TEST_F(SchedulerTest, HigherPriorityPodPreemptsLowerPriorityOne) {
  AddNode("only", "1");
  Scheduler sched(client_.get());
  sched.Start();
  AddPod("low", "800m");
  ASSERT_TRUE(Eventually([&] { return NodeOf("low") == "only"; }));
  json::object vip = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"vip"},
      "spec":{"priorityClassName":"p1000","containers":[{"name":"c","image":"busybox",
      "resources":{"requests":{"cpu":"800m"}}}]}})")
                         .as_object();
  ASSERT_TRUE(client_->Create(client::resources::kPods, "default", vip).ok());
  // The victim is evicted (graceful: it is bound) with the reason on it, the preemptor nominated.
  ASSERT_TRUE(Eventually([&] {
    auto p = client_->Get(client::resources::kPods, "default", "low");
    return p.ok() && p->at("metadata").as_object().contains("deletionTimestamp");
  }));
  ASSERT_TRUE(Eventually([&] { return !EventsFor("low", "Preempted").empty(); }));
  auto v = client_->Get(client::resources::kPods, "default", "vip");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->at("status").at("nominatedNodeName"), "only");
  auto low = client_->Get(client::resources::kPods, "default", "low");
  bool disrupted = false;
  for (auto& c : low->at("status").at("conditions").as_array())
    if (c.at("type") == "DisruptionTarget") disrupted = c.at("reason") == "PreemptionByScheduler";
  EXPECT_TRUE(disrupted);
  // The node agent finishes the deletion; the preemptor is bound in its place.
  client::DeleteOptions now;
  now.grace_period_seconds = 0;
  ASSERT_TRUE(client_->Delete(client::resources::kPods, "default", "low", now).ok());
  ASSERT_TRUE(Eventually([&] { return NodeOf("vip") == "only"; }));
  EXPECT_GE(sched.stats().preemptions, 1);
  // Equal priority never preempts.
  AddPod("late", "800m");
  ASSERT_TRUE(Eventually([&] { return !EventsFor("late", "FailedScheduling").empty(); }));
  EXPECT_EQ(NodeOf("vip"), "only");
  sched.Stop();
}

// The room a preemptor was nominated for is held while its victim terminates: a pod of lower
// priority that is retried first (its key sorts first) does not take it.
TEST_F(SchedulerTest, NominatedRoomIsHeldForThePreemptor) {
  AddNode("only", "1");
  Scheduler sched(client_.get());
  sched.Start();
  AddPod("low", "800m");
  ASSERT_TRUE(Eventually([&] { return NodeOf("low") == "only"; }));
  AddPod("aaa-waiting", "800m");  // priority 0: cannot preempt "low" (same priority)
  ASSERT_TRUE(Eventually([&] { return !EventsFor("aaa-waiting", "FailedScheduling").empty(); }));
  json::object vip = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"vip"},
      "spec":{"priorityClassName":"p1000","containers":[{"name":"c","image":"busybox",
      "resources":{"requests":{"cpu":"800m"}}}]}})")
                         .as_object();
  ASSERT_TRUE(client_->Create(client::resources::kPods, "default", vip).ok());
  ASSERT_TRUE(Eventually([&] {
    auto v = client_->Get(client::resources::kPods, "default", "vip");
    auto* st = v.ok() ? v->if_contains("status") : nullptr;
    auto* nn = st ? st->as_object().if_contains("nominatedNodeName") : nullptr;
    return nn && *nn == "only";
  }));
  size_t waiting_failures = EventsFor("aaa-waiting", "FailedScheduling").size();
  // The victim goes; both pending pods are retried, "aaa-waiting" first.
  client::DeleteOptions now;
  now.grace_period_seconds = 0;
  ASSERT_TRUE(client_->Delete(client::resources::kPods, "default", "low", now).ok());
  ASSERT_TRUE(Eventually([&] { return NodeOf("vip") == "only"; }));
  EXPECT_EQ(NodeOf("aaa-waiting"), "");
  EXPECT_TRUE(EventsFor("aaa-waiting", "Scheduled").empty());
  // It was tried again and told why (the held room, then the bound preemptor).
  ASSERT_TRUE(Eventually([&] {
    return EventsFor("aaa-waiting", "FailedScheduling").size() > waiting_failures || [&] {
      for (auto& e : EventsFor("aaa-waiting", "FailedScheduling"))
        if (e.contains("count") && e.at("count").as_int64() > 1) return true;
      return false;
    }();
  }));
  EXPECT_EQ(NodeOf("aaa-waiting"), "");
  sched.Stop();
}

// When preemption later finds nothing for a nominated pod, its nomination is cleared.
TEST_F(SchedulerTest, NominationIsClearedWhenPreemptionFindsNothing) {
  AddNode("only", "1");
  json::object pod = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"stale"},
      "spec":{"priorityClassName":"p10","containers":[{"name":"c","image":"busybox",
      "resources":{"requests":{"cpu":"2"}}}]}})")
                         .as_object();
  auto created = client_->Create(client::resources::kPods, "default", pod);
  ASSERT_TRUE(created.ok());
  ASSERT_TRUE(client_
                  ->Patch(client::resources::kPods, "default", "stale", client::PatchType::kMerge,
                          json::parse(R"({"status":{"nominatedNodeName":"only"}})"), "status")
                  .ok());
  Scheduler sched(client_.get());
  sched.Start();
  ASSERT_TRUE(Eventually([&] {
    auto v = client_->Get(client::resources::kPods, "default", "stale");
    if (!v.ok()) return false;
    auto* st = v->if_contains("status");
    return !EventsFor("stale", "FailedScheduling").empty() && st &&
           !st->as_object().contains("nominatedNodeName");
  }));
  sched.Stop();
}

// VolumeBinding end to end against the API: a WaitForFirstConsumer claim's volume is pre-bound
// (PV claimRef) for the chosen node, and the pod is bound only once the claim is bound (here the
// test plays the binder controller); a pod whose claim does not exist stays pending, told why.
TEST_F(SchedulerTest, WaitForFirstConsumerVolumeIsPreBoundBeforeThePod) {
  for (const char* n : {"n1", "n2"}) {
    json::object status{{"allocatable", {{"cpu", "2"}, {"memory", "4Gi"}, {"pods", "110"}}}};
    json::object node{{"apiVersion", "v1"},
                      {"kind", "Node"},
                      {"metadata", {{"name", n}, {"labels", {{"kubernetes.io/hostname", n}}}}}};
    auto created = client_->Create(client::resources::kNodes, "", node);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    (*created)["status"] = status;
    ASSERT_TRUE(client_->UpdateStatus(client::resources::kNodes, "", *created).ok());
  }
  json::object sc = json::parse(R"({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
      "metadata": {"name": "local"}, "provisioner": "kubernetes.io/no-provisioner",
      "volumeBindingMode": "WaitForFirstConsumer"})")
                        .as_object();
  auto created_sc = client_->Create(client::resources::kStorageClasses, "", sc);
  ASSERT_TRUE(created_sc.ok()) << created_sc.status().ToString();
  json::object pv = json::parse(R"({"apiVersion": "v1", "kind": "PersistentVolume",
      "metadata": {"name": "pv-n2"}, "spec": {"storageClassName": "local",
      "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
      "persistentVolumeReclaimPolicy": "Retain", "local": {"path": "/mnt/disk"},
      "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n2"]}]}]}}}})")
                        .as_object();
  auto created_pv = client_->Create(client::resources::kPersistentVolumes, "", pv);
  ASSERT_TRUE(created_pv.ok()) << created_pv.status().ToString();
  (*created_pv)["status"] = json::object{{"phase", "Available"}};
  ASSERT_TRUE(client_->UpdateStatus(client::resources::kPersistentVolumes, "", *created_pv).ok());
  json::object pvc = json::parse(R"({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
      "metadata": {"name": "data"}, "spec": {"storageClassName": "local",
      "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})")
                         .as_object();
  ASSERT_TRUE(client_->Create(client::resources::kPersistentVolumeClaims, "default", pvc).ok());

  SchedulerOptions opts;
  opts.volume_bind_timeout = 1s;
  opts.initial_backoff = 100ms;
  opts.max_backoff = 200ms;
  Scheduler sched(client_.get(), opts);
  sched.Start();
  auto pod_with = [](const std::string& name, const std::string& claim) {
    return json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
                       R"("},"spec":{"containers":[{"name":"c","image":"busybox"}],
                       "volumes":[{"name":"d","persistentVolumeClaim":{"claimName":")" +
                       claim + R"("}}]}})")
        .as_object();
  };
  ASSERT_TRUE(client_->Create(client::resources::kPods, "default", pod_with("app", "data")).ok());
  // PreBind: the volume on the only node it admits is pre-bound to the claim.
  ASSERT_TRUE(Eventually([&] {
    auto v = client_->Get(client::resources::kPersistentVolumes, "", "pv-n2");
    const json::value* ref = v.ok() ? v->at("spec").as_object().if_contains("claimRef") : nullptr;
    return ref && ref->at("name") == "data" && ref->at("namespace") == "default";
  }));
  auto v = client_->Get(client::resources::kPersistentVolumes, "", "pv-n2");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->at("metadata").at("annotations").at("pv.kubernetes.io/bound-by-controller"), "yes");
  auto claim = client_->Get(client::resources::kPersistentVolumeClaims, "default", "data");
  ASSERT_TRUE(claim.ok());
  EXPECT_EQ(v->at("spec").at("claimRef").at("uid"), claim->at("metadata").at("uid"));
  // The claim is not bound in time: the binding fails and the pod is tried again.
  ASSERT_TRUE(Eventually([&] {
    for (const auto& e : EventsFor("app", "FailedScheduling")) {
      if (e.at("message") ==
          "running PreBind plugin \"VolumeBinding\": binding volumes: timed "
          "out waiting for the condition")
        return true;
    }
    return false;
  }));
  EXPECT_EQ(NodeOf("app"), "");
  // The binder completes the binding: the pod is bound to the volume's node.
  (*claim)["spec"].as_object()["volumeName"] = "pv-n2";
  (*claim)["metadata"].as_object()["annotations"] =
      json::object{{"pv.kubernetes.io/bind-completed", "yes"}};
  auto updated = client_->Update(client::resources::kPersistentVolumeClaims, "default", *claim);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  ASSERT_TRUE(Eventually([&] { return NodeOf("app") == "n2"; }));

  // A claim that does not exist: pending, with the reason in PodScheduled.
  ASSERT_TRUE(client_->Create(client::resources::kPods, "default", pod_with("lost", "nope")).ok());
  ASSERT_TRUE(Eventually([&] {
    auto p = client_->Get(client::resources::kPods, "default", "lost");
    const json::value* conds =
        p.ok() ? p->at("status").as_object().if_contains("conditions") : nullptr;
    if (!conds) return false;
    for (const auto& c : conds->as_array()) {
      if (c.at("type") == "PodScheduled" && c.at("status") == "False" &&
          c.at("message") ==
              "0/2 nodes are available: persistentvolumeclaim \"nope\" not found. "
              "preemption: 0/2 nodes are available: 2 Preemption is not helpful "
              "for scheduling..")
        return true;
    }
    return false;
  }));
  // The claim appears and is bound: the pod follows.
  json::object nope = json::parse(R"({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
      "metadata": {"name": "nope", "annotations": {"pv.kubernetes.io/bind-completed": "yes"}},
      "spec": {"volumeName": "elsewhere", "accessModes": ["ReadWriteOnce"],
      "resources": {"requests": {"storage": "1Gi"}}}})")
                          .as_object();
  ASSERT_TRUE(client_->Create(client::resources::kPersistentVolumeClaims, "default", nope).ok());
  // ... to a volume that does not exist: no node.
  ASSERT_TRUE(Eventually([&] {
    for (const auto& e : EventsFor("lost", "FailedScheduling")) {
      if (e.at("message").as_string().starts_with(
              "0/2 nodes are available: 2 node(s) unavailable due to one or more pvc(s) bound to "
              "non-existent pv(s)."))
        return true;
    }
    return false;
  }));
  sched.Stop();
}

}  // namespace
}  // namespace sampan::scheduler
