// Pods nominated by preemption as the affinity and spread filters see them (through the
// filters' PreFilter extensions), and the same extensions in preemption's simulated evictions.
#include <gtest/gtest.h>

#include <set>

#include "scheduler/cache.h"
#include "scheduler/framework.h"
#include "scheduler/plugins.h"
#include "scheduler/preemption.h"
#include "scheduler/test_nodes.h"

namespace sampan::scheduler {
namespace {
namespace json = boost::json;

using testing::Node;

// A pod of `priority` (namespace "default"), nominated to `nominated` when that is not empty.
ObjectPtr Pod(const std::string& name, json::object labels, int64_t priority,
              const std::string& spec_extra = "{}", const std::string& nominated = "") {
  json::object spec = json::parse(spec_extra).as_object();
  spec["containers"] = json::array{json::object{{"name", "c"}, {"image", "x"}}};
  spec["priority"] = priority;
  json::object pod{
      {"metadata", json::object{{"name", name}, {"namespace", "default"}, {"labels", labels}}},
      {"spec", spec}};
  if (!nominated.empty()) pod["status"] = json::object{{"nominatedNodeName", nominated}};
  return std::make_shared<const json::object>(std::move(pod));
}

PodInfoPtr Info(ObjectPtr pod) { return std::make_shared<const PodInfo>(std::move(pod)); }

struct Cluster {
  std::vector<std::unique_ptr<NodeInfo>> nodes;
  NodeInfo& Add(ObjectPtr n) {
    nodes.push_back(std::make_unique<NodeInfo>(std::move(n)));
    return *nodes.back();
  }
  std::vector<const NodeInfo*> Ptrs() const {
    std::vector<const NodeInfo*> out;
    for (auto& n : nodes) out.push_back(n.get());
    return out;
  }
};

// Every node the pod is placed on over many cycles ("" when it fits nowhere).
std::set<std::string> Placements(Framework& fw, const Cluster& c, const ObjectPtr& pod,
                                 const NominatedPods* nominated, int64_t pods_with_affinity = -1) {
  std::set<std::string> out;
  for (int i = 0; i < 40; ++i)
    out.insert(fw.Schedule(PodInfo(pod), c.Ptrs(), {}, pods_with_affinity, nominated).node);
  return out;
}

constexpr char kAntiWeb[] =
    R"({"affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
    {"labelSelector":{"matchLabels":{"app":"web"}},"topologyKey":"kubernetes.io/hostname"}]}}})";
constexpr char kAntiNoisy[] =
    R"({"affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
    {"labelSelector":{"matchLabels":{"team":"noisy"}},"topologyKey":"kubernetes.io/hostname"}]}}})";
constexpr char kSpreadByZone[] = R"({"topologySpreadConstraints":[{"maxSkew":1,
    "topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule",
    "labelSelector":{"matchLabels":{"app":"s"}}}]})";

TEST(NominatedPodsTest, TheIncomingPodsAntiAffinitySeesNominatedPods) {
  auto fw = DefaultFramework();
  Cluster c;
  c.Add(Node("a"));
  c.Add(Node("b"));
  NominatedPods nominated{{"a", {Info(Pod("vip", {{"app", "web"}}, 100, "{}", "a"))}}};
  // Lower or equal priority: the preemptor waiting for "a" keeps the pod that avoids it off.
  for (int64_t prio : {0, 100}) {
    EXPECT_EQ(Placements(*fw, c, Pod("low", {{"app", "other"}}, prio, kAntiWeb), &nominated),
              (std::set<std::string>{"b"}))
        << prio;
  }
  // Higher priority: the nomination does not count.
  EXPECT_EQ(Placements(*fw, c, Pod("high", {{"app", "other"}}, 200, kAntiWeb), &nominated),
            (std::set<std::string>{"a", "b"}));
  // Without nominations both nodes are open.
  EXPECT_EQ(Placements(*fw, c, Pod("low", {{"app", "other"}}, 0, kAntiWeb), nullptr),
            (std::set<std::string>{"a", "b"}));
  // Nominated pods on both nodes: nowhere, with the filter's own wording.
  nominated["b"].push_back(Info(Pod("vip2", {{"app", "web"}}, 100, "{}", "b")));
  auto r = fw->Schedule(PodInfo(Pod("low", {{"app", "other"}}, 0, kAntiWeb)), c.Ptrs(), {}, -1,
                        &nominated);
  EXPECT_EQ(r.node, "");
  EXPECT_EQ(r.message, "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules.");
}

TEST(NominatedPodsTest, ANominatedPodsAntiAffinityKeepsThePodsItSelectsOff) {
  auto fw = DefaultFramework();
  Cluster c;
  c.Add(Node("a"));
  c.Add(Node("b"));
  NominatedPods nominated{{"a", {Info(Pod("loner", {{"app", "db"}}, 100, kAntiNoisy, "a"))}}};
  // No bound pod has affinity terms (0, as the cache counts them, and -1 = unknown): PreFilter
  // finds nothing to check, and the nominated pod's term still counts.
  for (int64_t with_affinity : {-1, 0}) {
    EXPECT_EQ(Placements(*fw, c, Pod("n", {{"team", "noisy"}}, 0), &nominated, with_affinity),
              (std::set<std::string>{"b"}))
        << with_affinity;
    EXPECT_EQ(Placements(*fw, c, Pod("q", {{"team", "quiet"}}, 0), &nominated, with_affinity),
              (std::set<std::string>{"a", "b"}))
        << with_affinity;
  }
}

TEST(NominatedPodsTest, NominatedPodsCountInTheTopologySpread) {
  auto fw = DefaultFramework();
  Cluster c;
  c.Add(Node("a1", {{"zone", "a"}}));
  c.Add(Node("b1", {{"zone", "b"}}));
  EXPECT_EQ(Placements(*fw, c, Pod("s", {{"app", "s"}}, 0, kSpreadByZone), nullptr),
            (std::set<std::string>{"a1", "b1"}));
  // With the nominated pod zone a counts 1 and zone b 0: a1 would make the skew 2.
  NominatedPods nominated{{"a1", {Info(Pod("vip", {{"app", "s"}}, 100, "{}", "a1"))}}};
  EXPECT_EQ(Placements(*fw, c, Pod("s", {{"app", "s"}}, 0, kSpreadByZone), &nominated),
            (std::set<std::string>{"b1"}));
  // A nominated pod the constraint does not select, or one in another namespace, adds nothing.
  NominatedPods unrelated{{"a1", {Info(Pod("vip", {{"app", "t"}}, 100, "{}", "a1"))}}};
  EXPECT_EQ(Placements(*fw, c, Pod("s", {{"app", "s"}}, 0, kSpreadByZone), &unrelated),
            (std::set<std::string>{"a1", "b1"}));
  json::object other_ns = *Pod("vip", {{"app", "s"}}, 100, "{}", "a1");
  other_ns["metadata"].as_object()["namespace"] = "other";
  NominatedPods elsewhere{{"a1", {Info(std::make_shared<const json::object>(other_ns))}}};
  EXPECT_EQ(Placements(*fw, c, Pod("s", {{"app", "s"}}, 0, kSpreadByZone), &elsewhere),
            (std::set<std::string>{"a1", "b1"}));
}

TEST(NominatedPodsTest, AnAffinityOnlyANominatedPodWouldSatisfyDoesNotCount) {
  auto fw = DefaultFramework();
  Cluster c;
  c.Add(Node("a", {{"zone", "z1"}}));
  c.Add(Node("b", {{"zone", "z2"}}));
  const char* with_cache =
      R"({"affinity":{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
      {"labelSelector":{"matchLabels":{"app":"cache"}},"topologyKey":"zone"}]}}})";
  NominatedPods nominated{{"a", {Info(Pod("cache", {{"app", "cache"}}, 100, "{}", "a"))}}};
  // The node must pass both with and without the nominated pods: the cache may never arrive.
  auto r = fw->Schedule(PodInfo(Pod("web", {{"app", "web"}}, 0, with_cache)), c.Ptrs(), {}, -1,
                        &nominated);
  EXPECT_EQ(r.node, "");
  EXPECT_EQ(r.message, "0/2 nodes are available: 2 node(s) didn't match pod affinity rules.");
  // Once the cache pod is bound there, its zone is the place.
  c.nodes[0]->AddPod(Pod("cache", {{"app", "cache"}}, 100));
  EXPECT_EQ(Placements(*fw, c, Pod("web", {{"app", "web"}}, 0, with_cache), &nominated),
            (std::set<std::string>{"a"}));
}

TEST(NominatedPodsTest, TheCachePassesNominationsToTheAffinityFilters) {
  Cache cache;
  cache.UpsertNode(Node("a"));
  cache.UpsertNode(Node("b"));
  auto fw = DefaultFramework();
  cache.UpdateNomination(Pod("loner", {{"app", "db"}}, 100, kAntiNoisy, "a"));
  std::set<std::string> placed;
  for (int i = 0; i < 40; ++i)
    placed.insert(cache.Schedule(*fw, PodInfo(Pod("n", {{"team", "noisy"}}, 0))).node);
  EXPECT_EQ(placed, (std::set<std::string>{"b"}));
  // The nomination goes away (the preemptor was scheduled elsewhere or deleted): "a" is open.
  cache.RemoveNomination("default/loner");
  placed.clear();
  for (int i = 0; i < 40; ++i)
    placed.insert(cache.Schedule(*fw, PodInfo(Pod("n", {{"team", "noisy"}}, 0))).node);
  EXPECT_EQ(placed, (std::set<std::string>{"a", "b"}));
}

TEST(PreemptionExtensionsTest, EvictionsLiftAntiAffinityBothWays) {
  auto fw = DefaultFramework();
  Cluster c;
  c.Add(Node("a")).AddPod(Pod("web", {{"app", "web"}}, 10));
  c.nodes[0]->AddPod(Pod("keep", {{"app", "keep"}}, 10));
  auto nodes = c.Ptrs();
  // The preemptor's own anti-affinity: the web pod must go, the other one stays.
  PodInfo vip(Pod("vip", {{"app", "vip"}}, 100, kAntiWeb));
  ScheduleResult r = fw->Schedule(vip, nodes);
  ASSERT_EQ(r.node, "");
  PreemptionResult p = Preempt(*fw, vip, nodes, r);
  EXPECT_EQ(p.node, "a");
  ASSERT_EQ(p.victims.size(), 1u);
  EXPECT_EQ(p.victims[0]->key, "default/web");
  // A bound pod's anti-affinity against the preemptor: that pod is the victim.
  Cluster d;
  d.Add(Node("a")).AddPod(Pod("loner", {{"app", "db"}}, 10, kAntiNoisy));
  d.nodes[0]->AddPod(Pod("keep", {{"app", "keep"}}, 10));
  nodes = d.Ptrs();
  PodInfo noisy(Pod("noisy", {{"team", "noisy"}}, 100));
  r = fw->Schedule(noisy, nodes);
  ASSERT_EQ(r.node, "");
  p = Preempt(*fw, noisy, nodes, r);
  EXPECT_EQ(p.node, "a");
  ASSERT_EQ(p.victims.size(), 1u);
  EXPECT_EQ(p.victims[0]->key, "default/loner");
  // Victims of higher priority than the preemptor are not touched: nothing to do.
  PodInfo low(Pod("noisy", {{"team", "noisy"}}, 5));
  p = Preempt(*fw, low, nodes, fw->Schedule(low, nodes));
  EXPECT_EQ(p.node, "");
}

TEST(PreemptionExtensionsTest, EvictionsLowerTheTopologySpreadCount) {
  auto fw = DefaultFramework();
  Cluster c;
  json::array taint{json::object{{"key", "k"}, {"effect", "NoSchedule"}}};
  c.Add(Node("a1", {{"zone", "a"}})).AddPod(Pod("s1", {{"app", "s"}}, 10));
  c.nodes[0]->AddPod(Pod("s2", {{"app", "s"}}, 20));
  c.nodes[0]->AddPod(Pod("other", {{"app", "t"}}, 10));
  // Zone b counts as a domain with 0 pods (taints are ignored by default) but takes none.
  c.Add(Node("b1", {{"zone", "b"}}, taint));
  auto nodes = c.Ptrs();
  PodInfo vip(Pod("vip", {{"app", "s"}}, 100, kSpreadByZone));
  ScheduleResult r = fw->Schedule(vip, nodes);
  ASSERT_EQ(r.node, "");
  // Zone a holds 2: both must go for a skew of 1 (s2, of higher priority, is tried back first
  // and does not fit); the pod the constraint does not select stays.
  PreemptionResult p = Preempt(*fw, vip, nodes, r);
  EXPECT_EQ(p.node, "a1");
  std::set<std::string> victims;
  for (const auto& v : p.victims) victims.insert(v->key);
  EXPECT_EQ(victims, (std::set<std::string>{"default/s1", "default/s2"}));
}

}  // namespace
}  // namespace sampan::scheduler
