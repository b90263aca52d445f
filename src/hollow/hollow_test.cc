#include <gtest/gtest.h>

#include "client/test_apiserver.h"
#include "hollow/hollow_nodes.h"
#include "hollow/pod_status.h"
#include "util/clock.h"

namespace sampan::hollow {
namespace {
namespace json = boost::json;
using client::testing::Eventually;
namespace res = client::resources;

json::object PodWith(const std::string& annotations, const std::string& restart = "Always") {
  return json::parse(R"({"metadata":{"name":"p","namespace":"default","uid":"u1","annotations":)" +
                     annotations + R"(},"spec":{"nodeName":"hollow-0","restartPolicy":")" +
                     restart +
                     R"(","containers":[{"name":"a","image":"img"}],
                      "initContainers":[{"name":"init","image":"i"}]},
                      "status":{"phase":"Pending","qosClass":"BestEffort"}})")
      .as_object();
}

std::string Phase(const json::object& status) {
  return std::string(status.at("phase").as_string());
}

TEST(PodStatusTest, PendingPodTurnsRunningAndReadyThenStaysPut) {
  json::object pod = PodWith("{}");
  PodPlan plan = PlanPodStatus(pod, "100.64.0.1", "10.0.0.2", 1000);
  ASSERT_TRUE(plan.status);
  EXPECT_TRUE(plan.started);
  EXPECT_EQ(plan.recheck_after, -1);
  const json::object& st = *plan.status;
  EXPECT_EQ(Phase(st), "Running");
  EXPECT_EQ(st.at("podIP"), "10.0.0.2");
  EXPECT_EQ(st.at("hostIP"), "100.64.0.1");
  EXPECT_EQ(st.at("startTime"), json::value(FormatRfc3339(1000)));
  EXPECT_EQ(st.at("qosClass"), "BestEffort");  // kept
  const auto& cs = st.at("containerStatuses").as_array()[0].as_object();
  EXPECT_EQ(cs.at("ready"), true);
  EXPECT_TRUE(cs.at("state").as_object().contains("running"));
  const auto& init = st.at("initContainerStatuses").as_array()[0].as_object();
  EXPECT_EQ(init.at("state").at("terminated").at("reason"), "Completed");
  bool ready = false;
  for (const auto& c : st.at("conditions").as_array())
    if (c.at("type") == "Ready") ready = c.at("status") == "True";
  EXPECT_TRUE(ready);
  // Applied, a later look changes nothing (timestamps are kept).
  pod["status"] = st;
  EXPECT_FALSE(PlanPodStatus(pod, "100.64.0.1", "10.0.0.2", 1050).status);
}

TEST(PodStatusTest, ScriptedExitEndsOrRestartsByRestartPolicy) {
  const std::string ann =
      R"({"hollow.sampan.io/exit-code":"3","hollow.sampan.io/run-seconds":"10"})";
  json::object never = PodWith(ann, "Never");
  PodPlan plan = PlanPodStatus(never, "h", "ip", 1000);
  ASSERT_TRUE(plan.status);
  EXPECT_EQ(plan.recheck_after, 10);
  never["status"] = *plan.status;
  plan = PlanPodStatus(never, "h", "ip", 1005);  // still running
  EXPECT_FALSE(plan.status);
  EXPECT_EQ(plan.recheck_after, 5);
  plan = PlanPodStatus(never, "h", "ip", 1010);
  ASSERT_TRUE(plan.status);
  EXPECT_TRUE(plan.finished);
  EXPECT_EQ(Phase(*plan.status), "Failed");
  const auto& term =
      plan.status->at("containerStatuses").as_array()[0].at("state").at("terminated").as_object();
  EXPECT_EQ(term.at("exitCode"), 3);
  EXPECT_EQ(term.at("reason"), "Error");
  never["status"] = *plan.status;
  EXPECT_FALSE(PlanPodStatus(never, "h", "ip", 2000).status);  // terminal stays terminal

  json::object on_failure = PodWith(ann, "OnFailure");
  on_failure["status"] = *PlanPodStatus(on_failure, "h", "ip", 1000).status;
  plan = PlanPodStatus(on_failure, "h", "ip", 1010);
  ASSERT_TRUE(plan.status);
  EXPECT_EQ(Phase(*plan.status), "Running");
  const auto& cs = plan.status->at("containerStatuses").as_array()[0].as_object();
  EXPECT_EQ(cs.at("restartCount"), 1);
  EXPECT_EQ(cs.at("lastState").at("terminated").at("exitCode"), 3);
  EXPECT_EQ(plan.recheck_after, 10);

  json::object ok = PodWith(R"({"hollow.sampan.io/exit-code":"0"})", "OnFailure");
  ok["status"] = *PlanPodStatus(ok, "h", "ip", 1000).status;
  plan = PlanPodStatus(ok, "h", "ip", 1000);
  ASSERT_TRUE(plan.status);
  EXPECT_EQ(Phase(*plan.status), "Succeeded");
}

TEST(PodStatusTest, ReadyAnnotationKeepsPodUnready) {
  json::object pod = PodWith(R"({"hollow.sampan.io/ready":"false"})");
  PodPlan plan = PlanPodStatus(pod, "h", "ip", 1000);
  ASSERT_TRUE(plan.status);
  EXPECT_EQ(Phase(*plan.status), "Running");
  for (const auto& c : plan.status->at("conditions").as_array())
    if (c.at("type") == "Ready") {
      EXPECT_EQ(c.at("status"), "False");
    }
}

TEST(NodeObjectTest, LabelsCapacityTaintsAndAddresses) {
  HollowOptions o;
  o.labels["pool"] = "x";
  auto taint = ParseTaint("gpu=true:NoSchedule");
  ASSERT_TRUE(taint.ok());
  o.taints.push_back(*taint);
  EXPECT_FALSE(ParseTaint("gpu=true:Sometimes").ok());
  EXPECT_EQ(ParseTaint("k:NoExecute")->at("key"), "k");
  json::object n = MakeNode(o, 7, 1000);
  EXPECT_EQ(n.at("metadata").at("name"), "hollow-7");
  const auto& labels = n.at("metadata").at("labels").as_object();
  EXPECT_EQ(labels.at("kubernetes.io/hostname"), "hollow-7");
  EXPECT_EQ(labels.at("pool"), "x");
  EXPECT_EQ(n.at("spec").at("taints").as_array()[0].at("effect"), "NoSchedule");
  EXPECT_EQ(n.at("spec").at("podCIDR"), "10.0.7.0/24");
  EXPECT_EQ(n.at("status").at("allocatable").at("pods"), "110");
  EXPECT_EQ(n.at("status").at("nodeInfo").at("containerRuntimeVersion"), kRuntimeVersion);
  EXPECT_EQ(n.at("status").at("addresses").as_array()[0].at("address"), "100.64.0.8");
  EXPECT_NE(NodeIp(AddressIndex("gpu-", 0)), NodeIp(AddressIndex("hollow-", 0)));
}

// Against an in-process API server: registration, leases, pods Running, graceful deletion.
TEST(HollowNodesTest, RegistersNodesRunsPodsAndFinishesDeletions) {
  client::testing::TestApiServer server;
  ASSERT_TRUE(server.start_status().ok());
  auto c = server.NewClient();
  ASSERT_TRUE(c.ok());
  auto* rest = c->get();
  HollowOptions o;
  o.count = 3;
  o.renew_interval = std::chrono::milliseconds(200);
  o.delete_on_exit = true;
  HollowNodes nodes(rest, o);
  ASSERT_TRUE(nodes.Start().ok());
  auto list = rest->List(res::kNodes, "", {});
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->at("items").as_array().size(), 3u);
  auto lease = rest->Get(res::kLeases, "kube-node-lease", "hollow-1");
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  std::string renew1(lease->at("spec").at("renewTime").as_string());
  EXPECT_EQ(lease->at("metadata").at("ownerReferences").as_array()[0].at("kind"), "Node");
  ASSERT_TRUE(Eventually([&] {
    auto l = rest->Get(res::kLeases, "kube-node-lease", "hollow-1");
    return l.ok() && l->at("spec").at("renewTime").as_string() != renew1;
  }));

  // A pod bound to hollow-2 (no scheduler here: nodeName set directly) turns Running.
  json::object pod = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"w"},
      "spec":{"nodeName":"hollow-2","containers":[{"name":"c","image":"x"}]}})")
                         .as_object();
  ASSERT_TRUE(rest->Create(res::kPods, "default", pod).ok());
  ASSERT_TRUE(Eventually([&] {
    auto p = rest->Get(res::kPods, "default", "w");
    return p.ok() && p->at("status").at("phase") == "Running";
  }));
  auto p = rest->Get(res::kPods, "default", "w");
  std::string ip(p->at("status").at("podIP").as_string());
  EXPECT_EQ(ip.rfind("10.0.2.", 0), 0u) << ip;
  // A graceful delete is finished by the node.
  ASSERT_TRUE(rest->Delete(res::kPods, "default", "w").ok());
  ASSERT_TRUE(Eventually(
      [&] { return rest->Get(res::kPods, "default", "w").status().code() == Code::kNotFound; }));
  // Someone marks a node Unknown: the hollow kubelet reports Ready again.
  auto n = rest->Get(res::kNodes, "", "hollow-0");
  ASSERT_TRUE(n.ok());
  json::object unknown = *n;
  for (auto& cnd : unknown["status"].as_object()["conditions"].as_array())
    if (cnd.at("type") == "Ready") cnd.as_object()["status"] = "Unknown";
  ASSERT_TRUE(rest->UpdateStatus(res::kNodes, "", unknown).ok());
  ASSERT_TRUE(Eventually([&] {
    auto x = rest->Get(res::kNodes, "", "hollow-0");
    if (!x.ok()) return false;
    for (auto& cnd : x->at("status").at("conditions").as_array())
      if (cnd.at("type") == "Ready") return cnd.at("status") == "True";
    return false;
  }));
  EXPECT_GE(nodes.stats().pods_started, 1);
  EXPECT_GE(nodes.stats().pods_deleted, 1);
  nodes.Stop();
  list = rest->List(res::kNodes, "", {});
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->at("items").as_array().empty());
}

}  // namespace
}  // namespace sampan::hollow
