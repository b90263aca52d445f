// Unit tests of the pod affinity and topology spread plugins, the cache and the
// partial node search.
#include "scheduler/plugins.h"

#include <gtest/gtest.h>

#include <ctime>
#include <set>

#include "scheduler/cache.h"
#include "scheduler/framework.h"
#include "scheduler/preemption.h"
#include "scheduler/test_nodes.h"

namespace sampan::scheduler {
namespace {
namespace json = boost::json;

using testing::Node;

ObjectPtr Pod(const std::string& name, json::object labels, const std::string& spec_extra = "{}",
              const std::string& ns = "default", json::array owners = {}) {
  json::object spec = json::parse(spec_extra).as_object();
  spec["containers"] = json::array{json::object{{"name", "c"}, {"image", "x"}}};
  json::object meta{{"name", name}, {"namespace", ns}, {"labels", labels}};
  if (!owners.empty()) meta["ownerReferences"] = owners;
  return std::make_shared<const json::object>(json::object{{"metadata", meta}, {"spec", spec}});
}

struct Cluster {
  std::vector<std::unique_ptr<NodeInfo>> nodes;
  NodeInfo& Add(ObjectPtr n) {
    nodes.push_back(std::make_unique<NodeInfo>(std::move(n)));
    return *nodes.back();
  }
  NodeInfo& Get(const std::string& name) {
    for (auto& n : nodes)
      if (n->name == name) return *n;
    throw std::runtime_error("no node " + name);
  }
  std::vector<const NodeInfo*> Ptrs() const {
    std::vector<const NodeInfo*> out;
    for (auto& n : nodes) out.push_back(n.get());
    return out;
  }
};

// Every node the pod may go to (by scheduling it many times).
std::set<std::string> Placements(Framework& fw, const Cluster& c, const ObjectPtr& pod,
                                 NamespaceLabels nsl = {}) {
  std::set<std::string> out;
  for (int i = 0; i < 40; ++i) out.insert(fw.Schedule(PodInfo(pod), c.Ptrs(), nsl).node);
  return out;
}

// The nodes that pass every filter.
std::set<std::string> Feasible(Framework& fw, const Cluster& c, const ObjectPtr& pod) {
  PodInfo info(pod);
  auto nodes = c.Ptrs();
  ClusterView view{nodes, {}};
  CycleState state;
  for (const auto& f : fw.filters())
    if (!f->PreFilter(info, view, state).empty()) return {};
  std::set<std::string> out;
  for (const NodeInfo* n : nodes) {
    bool ok = true;
    for (const auto& f : fw.filters()) ok = ok && f->Filter(info, *n, state).empty();
    if (ok) out.insert(n->name);
  }
  return out;
}

TEST(InterPodAffinityTest, RequiredAntiAffinityKeepsReplicasApart) {
  auto fw = DefaultFramework();
  Cluster c;
  c.Add(Node("a", {{"zone", "z1"}})).AddPod(Pod("web-1", {{"app", "web"}}));
  c.Add(Node("b", {{"zone", "z1"}}));
  c.Add(Node("c", {{"zone", "z2"}}));
  const char* anti =
      R"({"affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
      {"labelSelector":{"matchLabels":{"app":"web"}},"topologyKey":"kubernetes.io/hostname"}]}}})";
  EXPECT_EQ(Feasible(*fw, c, Pod("web-2", {{"app", "web"}}, anti)),
            (std::set<std::string>{"b", "c"}));
  // Per zone: only the other zone is left.
  const char* zone_anti =
      R"({"affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
      {"labelSelector":{"matchLabels":{"app":"web"}},"topologyKey":"zone"}]}}})";
  EXPECT_EQ(Placements(*fw, c, Pod("web-2", {{"app", "web"}}, zone_anti)),
            (std::set<std::string>{"c"}));
  // Another namespace's pods do not count (the term's namespace is the pod's own).
  EXPECT_EQ(Feasible(*fw, c, Pod("web-2", {{"app", "web"}}, zone_anti, "other")).size(), 3u);
  // Nowhere to go: the failure says why per node.
  c.Get("c").AddPod(Pod("web-3", {{"app", "web"}}));
  auto r = fw->Schedule(PodInfo(Pod("web-4", {{"app", "web"}}, zone_anti)), c.Ptrs());
  EXPECT_EQ(r.message, "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.");
}

TEST(InterPodAffinityTest, ExistingPodsAntiAffinityIsRespected) {
  auto fw = DefaultFramework();
  Cluster c;
  const char* anti =
      R"({"affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
      {"labelSelector":{"matchLabels":{"team":"noisy"}},"topologyKey":"kubernetes.io/hostname"}]}}})";
  c.Add(Node("a")).AddPod(Pod("loner", {{"app", "db"}}, anti));
  c.Add(Node("b"));
  EXPECT_EQ(Placements(*fw, c, Pod("n", {{"team", "noisy"}})), (std::set<std::string>{"b"}));
  EXPECT_EQ(Feasible(*fw, c, Pod("q", {{"team", "quiet"}})).size(), 2u);
  c.Get("b").AddPod(Pod("loner2", {{"app", "db"}}, anti));
  EXPECT_EQ(fw->Schedule(PodInfo(Pod("n", {{"team", "noisy"}})), c.Ptrs()).message,
            "0/2 nodes are available: 2 node(s) didn't satisfy existing pods anti-affinity rules.");
}

TEST(InterPodAffinityTest, RequiredAffinityFollowsPodsAndLetsTheFirstOneIn) {
  auto fw = DefaultFramework();
  Cluster c;
  c.Add(Node("a", {{"zone", "z1"}}));
  c.Add(Node("b", {{"zone", "z2"}}));
  c.Add(Node("nozone"));
  const char* with_cache =
      R"({"affinity":{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
      {"labelSelector":{"matchLabels":{"app":"cache"}},"topologyKey":"zone"}]}}})";
  // No cache pod anywhere and the pod is not one itself: nowhere.
  auto r = fw->Schedule(PodInfo(Pod("web", {{"app", "web"}}, with_cache)), c.Ptrs());
  EXPECT_EQ(r.message, "0/3 nodes are available: 3 node(s) didn't match pod affinity rules.");
  // The first pod of a self-affine group may go to any node that has the topology key.
  EXPECT_EQ(Feasible(*fw, c, Pod("cache-1", {{"app", "cache"}}, with_cache)),
            (std::set<std::string>{"a", "b"}));
  c.Get("b").AddPod(Pod("cache-1", {{"app", "cache"}}));
  EXPECT_EQ(Placements(*fw, c, Pod("web", {{"app", "web"}}, with_cache)),
            (std::set<std::string>{"b"}));
  // namespaceSelector: a term looking at namespaces labelled team=x sees a cache pod there.
  Cluster d;
  d.Add(Node("a", {{"zone", "z1"}})).AddPod(Pod("cache", {{"app", "cache"}}, "{}", "x-ns"));
  d.Add(Node("b", {{"zone", "z2"}}));
  const char* by_ns =
      R"({"affinity":{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
      {"labelSelector":{"matchLabels":{"app":"cache"}},"topologyKey":"zone",
       "namespaceSelector":{"matchLabels":{"team":"x"}}}]}}})";
  json::value x_labels = json::object{{"team", "x"}};
  NamespaceLabels nsl = [&](const std::string& ns) -> const json::value* {
    return ns == "x-ns" ? &x_labels : nullptr;
  };
  EXPECT_EQ(Placements(*fw, d, Pod("web", {{"app", "web"}}, by_ns), nsl),
            (std::set<std::string>{"a"}));
  // Without the namespace's labels the term matches nothing there.
  EXPECT_EQ(fw->Schedule(PodInfo(Pod("web", {{"app", "web"}}, by_ns)), d.Ptrs()).node, "");
}

TEST(InterPodAffinityTest, PreferredTermsSteerScores) {
  auto fw = DefaultFramework();
  Cluster c;
  c.Add(Node("a")).AddPod(Pod("db", {{"app", "db"}}));
  c.Add(Node("b"));
  const char* near_db =
      R"({"affinity":{"podAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[
      {"weight":100,"podAffinityTerm":{"labelSelector":{"matchLabels":{"app":"db"}},
       "topologyKey":"kubernetes.io/hostname"}}]}}})";
  EXPECT_EQ(Placements(*fw, c, Pod("web", {{"app", "web"}}, near_db)),
            (std::set<std::string>{"a"}));
  const char* away =
      R"({"affinity":{"podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[
      {"weight":100,"podAffinityTerm":{"labelSelector":{"matchLabels":{"app":"db"}},
       "topologyKey":"kubernetes.io/hostname"}}]}}})";
  EXPECT_EQ(Placements(*fw, c, Pod("web", {{"app", "web"}}, away)), (std::set<std::string>{"b"}));
}

TEST(PodTopologySpreadTest, MaxSkewPerZone) {
  auto fw = DefaultFramework();
  Cluster c;
  c.Add(Node("a1", {{"zone", "a"}})).AddPod(Pod("p1", {{"app", "s"}}));
  c.Get("a1").AddPod(Pod("p2", {{"app", "s"}}));
  c.Add(Node("b1", {{"zone", "b"}})).AddPod(Pod("p3", {{"app", "s"}}));
  c.Add(Node("c1", {{"zone", "c"}}));
  c.Add(Node("nolabel"));
  const char* spread = R"({"topologySpreadConstraints":[{"maxSkew":1,"topologyKey":"zone",
      "whenUnsatisfiable":"DoNotSchedule","labelSelector":{"matchLabels":{"app":"s"}}}]})";
  // Counts a=2, b=1, c=0: only zone c keeps the skew within 1.
  EXPECT_EQ(Placements(*fw, c, Pod("new", {{"app", "s"}}, spread)), (std::set<std::string>{"c1"}));
  c.Get("c1").AddPod(Pod("p4", {{"app", "s"}}));
  // a=2, b=1, c=1: b or c.
  EXPECT_EQ(Feasible(*fw, c, Pod("new", {{"app", "s"}}, spread)),
            (std::set<std::string>{"b1", "c1"}));
  // A pod the selector does not match adds nothing to the skew (a stays within 2 − 1).
  EXPECT_EQ(Feasible(*fw, c, Pod("other", {{"app", "t"}}, spread)),
            (std::set<std::string>{"a1", "b1", "c1"}));
  // The wording for nodes that fail.
  c.Get("b1").AddPod(Pod("p5", {{"app", "s"}}));
  c.Get("c1").AddPod(Pod("p6", {{"app", "s"}}));
  c.Get("c1").AddPod(Pod("p7", {{"app", "s"}}));
  // a=2, b=2, c=3 → a or b; c and the unlabelled node fail.
  EXPECT_EQ(Feasible(*fw, c, Pod("new", {{"app", "s"}}, spread)),
            (std::set<std::string>{"a1", "b1"}));
}

TEST(PodTopologySpreadTest, MinDomainsAndMissingLabelAndNodeAffinityPolicy) {
  auto fw = DefaultFramework();
  Cluster c;
  c.Add(Node("a1", {{"zone", "a"}})).AddPod(Pod("p1", {{"app", "s"}}));
  c.Add(Node("nolabel"));
  const char* min3 =
      R"({"topologySpreadConstraints":[{"maxSkew":1,"topologyKey":"zone","minDomains":3,
      "whenUnsatisfiable":"DoNotSchedule","labelSelector":{"matchLabels":{"app":"s"}}}]})";
  // One domain < minDomains 3: the global minimum is 0, so a (count 1) + 1 = 2 > 1.
  EXPECT_EQ(fw->Schedule(PodInfo(Pod("n", {{"app", "s"}}, min3)), c.Ptrs()).message,
            "0/2 nodes are available: 1 node(s) didn't match pod topology spread constraints, 1 "
            "node(s) didn't match pod topology spread constraints (missing required label).");
  // Honor (default) nodeAffinityPolicy: nodes the pod cannot go to do not count as domains.
  Cluster d;
  d.Add(Node("a1", {{"zone", "a"}, {"pool", "x"}})).AddPod(Pod("p1", {{"app", "s"}}));
  d.Add(Node("b1", {{"zone", "b"}, {"pool", "y"}}));
  const char* honor = R"({"nodeSelector":{"pool":"x"},"topologySpreadConstraints":[{"maxSkew":1,
      "topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule","labelSelector":{"matchLabels":{"app":"s"}}}]})";
  EXPECT_EQ(fw->Schedule(PodInfo(Pod("n", {{"app", "s"}}, honor)), d.Ptrs()).node, "a1");
  const char* ignore = R"({"nodeSelector":{"pool":"x"},"topologySpreadConstraints":[{"maxSkew":1,
      "topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule","nodeAffinityPolicy":"Ignore",
      "labelSelector":{"matchLabels":{"app":"s"}}}]})";
  // Ignore: zone b (0 pods) counts, so zone a (1 + 1 − 0 = 2) is too skewed.
  EXPECT_EQ(fw->Schedule(PodInfo(Pod("n", {{"app", "s"}}, ignore)), d.Ptrs()).node, "");
}

TEST(PodTopologySpreadTest, ScheduleAnywayAndDefaultSpreadingPreferEmptierNodes) {
  auto fw = DefaultFramework();
  Cluster c;
  json::array owner{json::object{{"apiVersion", "apps/v1"},
                                 {"kind", "ReplicaSet"},
                                 {"name", "web-1"},
                                 {"uid", "u1"},
                                 {"controller", true}}};
  c.Add(Node("a")).AddPod(Pod("w1", {{"app", "web"}}, "{}", "default", owner));
  c.Get("a").AddPod(Pod("w2", {{"app", "web"}}, "{}", "default", owner));
  c.Add(Node("b")).AddPod(Pod("w3", {{"app", "web"}}, "{}", "default", owner));
  c.Add(Node("c"));
  // The default spreading of a ReplicaSet's pods picks the node with the fewest replicas.
  EXPECT_EQ(Placements(*fw, c, Pod("w4", {{"app", "web"}}, "{}", "default", owner)),
            (std::set<std::string>{"c"}));
  const char* soft =
      R"({"topologySpreadConstraints":[{"maxSkew":1,"topologyKey":"kubernetes.io/hostname",
      "whenUnsatisfiable":"ScheduleAnyway","labelSelector":{"matchLabels":{"app":"web"}}}]})";
  EXPECT_EQ(Placements(*fw, c, Pod("s", {{"app", "web"}}, soft)), (std::set<std::string>{"c"}));
}

TEST(FrameworkSearchTest, LargeClustersStopAfterEnoughFeasibleNodesAndRotate) {
  auto fw = DefaultFramework();
  Cluster c;
  for (int i = 0; i < 5000; ++i) c.Add(Node("n" + std::to_string(i)));
  auto r = fw->Schedule(PodInfo(Pod("p", {})), c.Ptrs());
  // 5,000 nodes: max(5, 50 − 5000/125) = 10 % → 500 nodes examined.
  EXPECT_EQ(r.evaluated, 500);
  EXPECT_EQ(r.feasible, 500);
  // The next search starts where this one stopped, so successive pods see other nodes.
  std::set<std::string> chosen;
  for (int i = 0; i < 10; ++i) chosen.insert(fw->Schedule(PodInfo(Pod("p", {})), c.Ptrs()).node);
  EXPECT_GT(chosen.size(), 5u);
  fw->set_percentage_of_nodes_to_score(100);
  EXPECT_EQ(fw->Schedule(PodInfo(Pod("p", {})), c.Ptrs()).evaluated, 5000);
}

TEST(PreemptionTest, PicksTheCheapestVictimsAndSaysWhyNot) {
  auto fw = DefaultFramework();
  json::object alloc{{"cpu", "1"}, {"memory", "4Gi"}, {"pods", "110"}};
  auto node = [&](const std::string& name, json::array taints = {}) {
    json::object spec;
    if (!taints.empty()) spec["taints"] = taints;
    return std::make_shared<const json::object>(
        json::object{{"metadata", json::object{{"name", name}}},
                     {"spec", spec},
                     {"status", json::object{{"allocatable", alloc}}}});
  };
  auto pod = [](const std::string& name, const std::string& cpu, int prio,
                const std::string& extra = "") {
    return std::make_shared<const json::object>(
        json::parse(R"({"metadata":{"name":")" + name +
                    R"(","namespace":"d"},"spec":{"priority":)" + std::to_string(prio) + extra +
                    R"(,"containers":[{"name":"c","image":"x","resources":{"requests":{"cpu":")" +
                    cpu + R"("}}}]}})")
            .as_object());
  };
  Cluster c;
  c.Add(node("a")).AddPod(pod("a-low", "600m", 10));
  c.Get("a").AddPod(pod("a-mid", "300m", 50));
  c.Add(node("b")).AddPod(pod("b-mid", "900m", 50));
  c.Add(node("tainted", json::array{json::object{{"key", "k"}, {"effect", "NoSchedule"}}}));
  auto nodes = c.Ptrs();
  PodInfo vip(pod("vip", "600m", 100));
  ScheduleResult r = fw->Schedule(vip, nodes);
  ASSERT_TRUE(r.node.empty());
  PreemptionResult p = Preempt(*fw, vip, nodes, r);
  // On a, evicting a-low (priority 10) is enough: a-mid is reprieved. b would cost priority 50.
  EXPECT_EQ(p.node, "a");
  ASSERT_EQ(p.victims.size(), 1u);
  EXPECT_EQ(p.victims[0]->key, "d/a-low");
  // Nothing of lower priority: the wording per node.
  PodInfo equal(pod("eq", "600m", 10));
  r = fw->Schedule(equal, nodes);
  p = Preempt(*fw, equal, nodes, r);
  EXPECT_EQ(p.node, "");
  EXPECT_EQ(p.message,
            "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No "
            "preemption victims found for incoming pod.");
  PodInfo never(pod("never", "600m", 100, R"(,"preemptionPolicy":"Never")"));
  p = Preempt(*fw, never, nodes, fw->Schedule(never, nodes));
  EXPECT_EQ(p.node, "");
  EXPECT_EQ(p.message, "preemption: not eligible due to preemptionPolicy=Never.");
}

TEST(CacheTest, AssumedPodsCountUntilTheInformerCopyOrForget) {
  Cache cache;
  json::object alloc{{"cpu", "1"}, {"memory", "1Gi"}, {"pods", "110"}};
  auto node = std::make_shared<const json::object>(
      json::object{{"metadata", json::object{{"name", "n1"}}},
                   {"status", json::object{{"allocatable", alloc}}}});
  cache.UpsertNode(node);
  auto fw = DefaultFramework();
  json::object spec = json::parse(R"({"nodeName":"n1","containers":[{"name":"c","image":"x",
      "resources":{"requests":{"cpu":"600m"}}}]})")
                          .as_object();
  auto bound = std::make_shared<const json::object>(json::object{
      {"metadata", json::object{{"name", "a"}, {"namespace", "default"}}}, {"spec", spec}});
  json::object pending_spec = spec;
  pending_spec.erase("nodeName");
  auto pending = std::make_shared<const json::object>(json::object{
      {"metadata", json::object{{"name", "b"}, {"namespace", "default"}}}, {"spec", pending_spec}});
  EXPECT_EQ(cache.Schedule(*fw, PodInfo(pending)).node, "n1");
  cache.AssumePod(bound);
  EXPECT_TRUE(cache.IsAssumed("default/a"));
  EXPECT_EQ(cache.Schedule(*fw, PodInfo(pending)).message,
            "0/1 nodes are available: 1 Insufficient cpu.");
  cache.UpsertPod(bound);  // the informer's copy: no double counting
  EXPECT_FALSE(cache.IsAssumed("default/a"));
  EXPECT_EQ(cache.pod_count(), 1u);
  cache.ForgetPod("default/a");  // not assumed any more: stays
  EXPECT_EQ(cache.pod_count(), 1u);
  cache.RemovePod("default/a");
  EXPECT_EQ(cache.Schedule(*fw, PodInfo(pending)).node, "n1");
  // A pod on a node not known yet is kept; the node shows up with it already counted.
  auto on_n2 = std::make_shared<json::object>(*bound);
  (*on_n2)["spec"].as_object()["nodeName"] = "n2";
  cache.UpsertPod(on_n2);
  cache.RemoveNode("n1");
  EXPECT_EQ(cache.Schedule(*fw, PodInfo(pending)).message, "no nodes available to schedule pods");
  auto n2 = std::make_shared<json::object>(*node);
  (*n2)["metadata"].as_object()["name"] = "n2";
  cache.UpsertNode(n2);
  EXPECT_EQ(cache.Schedule(*fw, PodInfo(pending)).message,
            "0/1 nodes are available: 1 Insufficient cpu.");
}

TEST(CacheTest, AssumedPodInfoHoldsRoomOnTheChosenNode) {
  Cache cache;
  json::object alloc{{"cpu", "1"}, {"memory", "1Gi"}, {"pods", "110"}};
  for (const char* name : {"n1", "n2"})
    cache.UpsertNode(std::make_shared<const json::object>(
        json::object{{"metadata", json::object{{"name", name}}},
                     {"status", json::object{{"allocatable", alloc}}}}));
  auto fw = DefaultFramework();
  auto pending = [](const std::string& name) {
    return std::make_shared<const PodInfo>(std::make_shared<const json::object>(
        json::parse(R"({"metadata":{"name":")" + name + R"(","namespace":"default"},
        "spec":{"containers":[{"name":"c","image":"x",
        "resources":{"requests":{"cpu":"600m"}}}]}})")
            .as_object()));
  };
  auto a = pending("a");
  cache.AssumePod(a, "n1");
  EXPECT_TRUE(cache.IsAssumed("default/a"));
  // n1 has 400m left: the next 600m pod goes to n2 only.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(cache.Schedule(*fw, *pending("b")).node, "n2");
  cache.ForgetPod("default/a");
  EXPECT_FALSE(cache.IsAssumed("default/a"));
  std::set<std::string> placed;
  for (int i = 0; i < 40; ++i) placed.insert(cache.Schedule(*fw, *pending("b")).node);
  EXPECT_EQ(placed, (std::set<std::string>{"n1", "n2"}));
}

}  // namespace
}  // namespace sampan::scheduler

namespace sampan::scheduler {
namespace {

// The cost of one scheduling cycle at benchmark scale (5,000 nodes, pods assumed as they go),
// printed for the record; the bound only catches a gross regression.
TEST(CycleCostTest, FiveThousandNodes) {
  Cache cache;
  json::object alloc{{"cpu", "4"}, {"memory", "16Gi"}, {"pods", "110"}};
  for (int i = 0; i < 5000; ++i) {
    std::string name = "hollow-" + std::to_string(i);
    cache.UpsertNode(std::make_shared<const json::object>(json::object{
        {"metadata",
         json::object{{"name", name}, {"labels", json::object{{"kubernetes.io/hostname", name}}}}},
        {"spec", json::object{}},
        {"status", json::object{{"allocatable", alloc}}}}));
  }
  auto fw = DefaultFramework();
  json::object tmpl = json::parse(R"({"metadata":{"namespace":"bench","labels":{"app":"bench"}},
      "spec":{"containers":[{"name":"pause","image":"pause",
      "resources":{"requests":{"cpu":"100m","memory":"100Mi"}}}],
      "tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},
                     {"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]}})")
                          .as_object();
  const int kPods = 3000;
  // CPU time of this thread: on a shared machine, time spent waiting for the CPU is not the
  // cycle's.
  auto cpu_now = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
  };
  const double start = cpu_now();
  for (int i = 0; i < kPods; ++i) {
    json::object pod = tmpl;
    pod["metadata"].as_object()["name"] = "pod-" + std::to_string(i);
    // As Scheduler::ScheduleOneImpl does it: the cycle's PodInfo is what the cache assumes.
    auto info = std::make_shared<const PodInfo>(std::make_shared<const json::object>(pod));
    ScheduleResult r = cache.Schedule(*fw, *info);
    ASSERT_FALSE(r.node.empty());
    cache.AssumePod(std::move(info), r.node);
  }
  double us = (cpu_now() - start) / kPods;
  std::printf("scheduling cycle, 5,000 nodes: %.0f us CPU (%.0f pods/s on one thread)\n", us,
              1e6 / us);
  EXPECT_LT(us, 20000);
}

}  // namespace
}  // namespace sampan::scheduler
