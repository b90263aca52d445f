#include "scheduler/framework.h"

#include <gtest/gtest.h>

#include "scheduler/plugins.h"

namespace sampan::scheduler {
namespace {
namespace json = boost::json;

ObjectPtr Node(const std::string& name, const std::string& cpu, const std::string& mem,
               int pods = 110, json::object labels = {}, json::array taints = {},
               bool unschedulable = false) {
  json::object spec;
  if (!taints.empty()) spec["taints"] = taints;
  if (unschedulable) spec["unschedulable"] = true;
  json::object alloc{{"cpu", cpu}, {"memory", mem}, {"pods", std::to_string(pods)}};
  return std::make_shared<const json::object>(
      json::object{{"apiVersion", "v1"},
                   {"kind", "Node"},
                   {"metadata", json::object{{"name", name}, {"labels", labels}}},
                   {"spec", spec},
                   {"status", json::object{{"allocatable", alloc}, {"capacity", alloc}}}});
}

ObjectPtr Pod(const std::string& name, const std::string& cpu, const std::string& mem,
              json::object extra_spec = {}) {
  json::object requests;
  if (!cpu.empty()) requests["cpu"] = cpu;
  if (!mem.empty()) requests["memory"] = mem;
  json::object spec{{"containers", json::array{json::object{
                                       {"name", "c"},
                                       {"image", "busybox"},
                                       {"resources", json::object{{"requests", requests}}}}}}};
  for (auto& [k, v] : extra_spec) spec[k] = v;
  return std::make_shared<const json::object>(
      json::object{{"apiVersion", "v1"},
                   {"kind", "Pod"},
                   {"metadata", json::object{{"name", name}, {"namespace", "default"}}},
                   {"spec", spec}});
}

std::vector<const NodeInfo*> Ptrs(const std::vector<NodeInfo>& v) {
  std::vector<const NodeInfo*> out;
  for (const auto& n : v) out.push_back(&n);
  return out;
}

TEST(PodRequestsTest, SumsContainersMaxesInitAddsOverhead) {
  json::object pod = json::parse(R"({"spec":{
    "containers":[{"resources":{"requests":{"cpu":"200m","memory":"64Mi"}}},
                  {"resources":{"requests":{"cpu":"300m"}}}],
    "initContainers":[{"resources":{"requests":{"cpu":"1","memory":"10Mi"}}}],
    "overhead":{"cpu":"50m"}}})")
                         .as_object();
  Resources r = PodRequests(pod);
  EXPECT_EQ(r.milli_cpu, 1050);  // max(500, 1000) + 50
  EXPECT_EQ(r.memory, 64 << 20);
  Resources nz = PodRequests(pod, true);
  EXPECT_EQ(nz.memory, (64 << 20) + (200 << 20));  // the second container counts 200Mi
  EXPECT_EQ(nz.milli_cpu, 1050);
}

TEST(FrameworkTest, PicksLeastAllocatedNode) {
  auto fw = DefaultFramework();
  std::vector<NodeInfo> nodes{NodeInfo(Node("busy", "4", "8Gi")),
                              NodeInfo(Node("idle", "4", "8Gi"))};
  nodes[0].AddPod(Pod("existing", "3", "6Gi"));
  for (int i = 0; i < 20; ++i) {
    auto r = fw->Schedule(PodInfo(Pod("p", "500m", "1Gi")), Ptrs(nodes));
    EXPECT_EQ(r.node, "idle");
  }
}

ObjectPtr WithPriority(ObjectPtr pod, int64_t priority, const std::string& nominated = "") {
  json::object p = *pod;
  p["spec"].as_object()["priority"] = priority;
  if (!nominated.empty()) p["status"] = json::object{{"nominatedNodeName", nominated}};
  return std::make_shared<const json::object>(std::move(p));
}

TEST(FrameworkTest, NominatedPodsHoldTheirRoomAgainstLowerOrEqualPriority) {
  auto fw = DefaultFramework();
  std::vector<NodeInfo> nodes{NodeInfo(Node("a", "4", "8Gi")), NodeInfo(Node("b", "1", "8Gi"))};
  auto preemptor = std::make_shared<const PodInfo>(WithPriority(Pod("vip", "3", ""), 100, "a"));
  NominatedPods nominated{{"a", {preemptor}}};
  // Lower and equal priority: "a" has only 1 CPU left for them, "b" has 1 CPU.
  for (int64_t prio : {0, 100}) {
    auto r = fw->Schedule(PodInfo(WithPriority(Pod("p", "2", ""), prio)), Ptrs(nodes), {}, -1,
                          &nominated);
    EXPECT_EQ(r.node, "") << prio;
    EXPECT_EQ(r.message, "0/2 nodes are available: 2 Insufficient cpu.") << prio;
  }
  auto small =
      fw->Schedule(PodInfo(WithPriority(Pod("s", "500m", ""), 0)), Ptrs(nodes), {}, -1, &nominated);
  EXPECT_FALSE(small.node.empty());
  // Higher priority ignores the nomination.
  auto higher =
      fw->Schedule(PodInfo(WithPriority(Pod("h", "2", ""), 200)), Ptrs(nodes), {}, -1, &nominated);
  EXPECT_EQ(higher.node, "a");
  // The preemptor itself is not held out by its own nomination, and goes to its node first.
  for (int i = 0; i < 10; ++i) {
    auto self = fw->Schedule(*preemptor, Ptrs(nodes), {}, -1, &nominated);
    EXPECT_EQ(self.node, "a");
  }
  // Without nominations the 2-CPU pod fits on "a".
  EXPECT_EQ(fw->Schedule(PodInfo(WithPriority(Pod("p", "2", ""), 0)), Ptrs(nodes)).node, "a");
}

TEST(FrameworkTest, NominatedNodeIsTriedFirst) {
  auto fw = DefaultFramework();
  std::vector<NodeInfo> nodes{NodeInfo(Node("busy", "4", "8Gi")),
                              NodeInfo(Node("idle", "4", "8Gi"))};
  nodes[0].AddPod(Pod("existing", "2", ""));
  // Scoring prefers "idle"; the nomination wins while the pod fits there.
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(fw->Schedule(PodInfo(WithPriority(Pod("p", "1", ""), 0, "busy")), Ptrs(nodes)).node,
              "busy");
  // It does not fit there any more: the others are searched.
  EXPECT_EQ(fw->Schedule(PodInfo(WithPriority(Pod("p", "3", ""), 0, "busy")), Ptrs(nodes)).node,
            "idle");
}

TEST(FrameworkTest, FailureMessageCountsReasonsPerNode) {
  auto fw = DefaultFramework();
  json::array taint{json::object{{"key", "k"}, {"value", "v"}, {"effect", "NoSchedule"}}};
  std::vector<NodeInfo> nodes{NodeInfo(Node("small1", "1", "1Gi")),
                              NodeInfo(Node("small2", "1", "1Gi")),
                              NodeInfo(Node("tainted", "8", "8Gi", 110, {}, taint))};
  auto r = fw->Schedule(PodInfo(Pod("big", "2", "512Mi")), Ptrs(nodes));
  EXPECT_EQ(r.node, "");
  EXPECT_EQ(r.message,
            "0/3 nodes are available: 1 node(s) had untolerated taint {k: v}, 2 Insufficient cpu.");
  // Both resources short on every node: each reason counted per node.
  r = fw->Schedule(PodInfo(Pod("huge", "16", "16Gi")), Ptrs(nodes));
  EXPECT_EQ(r.message,
            "0/3 nodes are available: 1 node(s) had untolerated taint {k: v}, 2 Insufficient cpu, "
            "2 Insufficient memory.");
  EXPECT_EQ(fw->Schedule(PodInfo(Pod("x", "1", "")), {}).message,
            "no nodes available to schedule pods");
}

TEST(FrameworkTest, TolerationLetsPodOntoTaintedNode) {
  auto fw = DefaultFramework();
  json::array taint{json::object{{"key", "dedicated"}, {"value", "gpu"}, {"effect", "NoSchedule"}}};
  std::vector<NodeInfo> nodes{NodeInfo(Node("gpu", "8", "8Gi", 110, {}, taint))};
  json::object tol{{"tolerations", json::array{json::object{{"key", "dedicated"},
                                                            {"operator", "Equal"},
                                                            {"value", "gpu"},
                                                            {"effect", "NoSchedule"}}}}};
  EXPECT_EQ(fw->Schedule(PodInfo(Pod("t", "1", "1Gi", tol)), Ptrs(nodes)).node, "gpu");
  json::object exists_all{{"tolerations", json::array{json::object{{"operator", "Exists"}}}}};
  EXPECT_EQ(fw->Schedule(PodInfo(Pod("t", "1", "1Gi", exists_all)), Ptrs(nodes)).node, "gpu");
  json::object wrong{
      {"tolerations", json::array{json::object{{"key", "dedicated"}, {"value", "cpu"}}}}};
  EXPECT_EQ(fw->Schedule(PodInfo(Pod("t", "1", "1Gi", wrong)), Ptrs(nodes)).node, "");
}

TEST(FrameworkTest, PreferNoScheduleTaintIsAvoided) {
  auto fw = DefaultFramework();
  json::array soft{json::object{{"key", "k"}, {"effect", "PreferNoSchedule"}}};
  std::vector<NodeInfo> nodes{NodeInfo(Node("soft", "4", "8Gi", 110, {}, soft)),
                              NodeInfo(Node("clean", "4", "8Gi"))};
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(fw->Schedule(PodInfo(Pod("p", "100m", "100Mi")), Ptrs(nodes)).node, "clean");
}

TEST(FrameworkTest, NodeSelectorAndRequiredAffinity) {
  auto fw = DefaultFramework();
  std::vector<NodeInfo> nodes{
      NodeInfo(Node("a", "4", "8Gi", 110, {{"disk", "ssd"}, {"gen", "5"}})),
      NodeInfo(Node("b", "4", "8Gi", 110, {{"disk", "hdd"}, {"gen", "3"}}))};
  json::object sel{{"nodeSelector", {{"disk", "hdd"}}}};
  EXPECT_EQ(fw->Schedule(PodInfo(Pod("p", "", "", sel)), Ptrs(nodes)).node, "b");
  json::object none{{"nodeSelector", {{"disk", "nvme"}}}};
  EXPECT_EQ(fw->Schedule(PodInfo(Pod("p", "", "", none)), Ptrs(nodes)).message,
            "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.");
  json::object aff = json::parse(R"({"affinity":{"nodeAffinity":{
      "requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[
        {"matchExpressions":[{"key":"gen","operator":"Gt","values":["4"]}]}]}}}})")
                         .as_object();
  EXPECT_EQ(fw->Schedule(PodInfo(Pod("p", "", "", aff)), Ptrs(nodes)).node, "a");
  json::object fields = json::parse(R"({"affinity":{"nodeAffinity":{
      "requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[
        {"matchFields":[{"key":"metadata.name","operator":"In","values":["b"]}]}]}}}})")
                            .as_object();
  EXPECT_EQ(fw->Schedule(PodInfo(Pod("p", "", "", fields)), Ptrs(nodes)).node, "b");
  json::object preferred = json::parse(R"({"affinity":{"nodeAffinity":{
      "preferredDuringSchedulingIgnoredDuringExecution":[{"weight":50,"preference":
        {"matchExpressions":[{"key":"disk","operator":"In","values":["hdd"]}]}}]}}})")
                               .as_object();
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(fw->Schedule(PodInfo(Pod("p", "", "", preferred)), Ptrs(nodes)).node, "b");
}

TEST(FrameworkTest, UnschedulableNodePodsCountAndHostPorts) {
  auto fw = DefaultFramework();
  std::vector<NodeInfo> nodes{NodeInfo(Node("cordoned", "4", "8Gi", 110, {}, {}, true)),
                              NodeInfo(Node("full", "4", "8Gi", 1))};
  nodes[1].AddPod(Pod("one", "", ""));
  EXPECT_EQ(fw->Schedule(PodInfo(Pod("p", "", "")), Ptrs(nodes)).message,
            "0/2 nodes are available: 1 Too many pods, 1 node(s) were unschedulable.");

  std::vector<NodeInfo> two{NodeInfo(Node("n1", "4", "8Gi")), NodeInfo(Node("n2", "4", "8Gi"))};
  json::object port =
      json::parse(
          R"({"containers":[{"name":"c","image":"x","ports":[{"containerPort":80,"hostPort":8080}]}]})")
          .as_object();
  auto with_port = std::make_shared<const json::object>(
      json::object{{"metadata", {{"name", "w"}}}, {"spec", port}});
  two[0].AddPod(with_port);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(fw->Schedule(PodInfo(with_port), Ptrs(two)).node, "n2");
}

TEST(PluginsTest, TolerationMatching) {
  json::object taint{{"key", "a"}, {"value", "1"}, {"effect", "NoExecute"}};
  EXPECT_TRUE(Tolerates(json::object{{"key", "a"}, {"operator", "Exists"}}, taint));
  EXPECT_TRUE(Tolerates(json::object{{"key", "a"}, {"value", "1"}}, taint));
  EXPECT_FALSE(Tolerates(json::object{{"key", "a"}, {"value", "2"}}, taint));
  EXPECT_FALSE(Tolerates(
      json::object{{"key", "a"}, {"operator", "Exists"}, {"effect", "NoSchedule"}}, taint));
  EXPECT_FALSE(Tolerates(json::object{{"operator", "Equal"}}, taint));
}

TEST(PluginsTest, BalancedPrefersEvenUse) {
  auto balanced = NewBalancedAllocation();
  NodeInfo n(Node("n", "4", "4Gi"));
  // 2 CPU of 4 and 2Gi of 4Gi: perfectly balanced.
  CycleState state;
  EXPECT_EQ(balanced->Score(PodInfo(Pod("p", "2", "2Gi")), n, state), 100);
  // 4 CPU of 4 and ~0 memory: fractions 1 and 0.05 → std ≈ 0.475 → 52.
  EXPECT_LT(balanced->Score(PodInfo(Pod("p", "4", "1")), n, state), 60);
}

}  // namespace
}  // namespace sampan::scheduler
