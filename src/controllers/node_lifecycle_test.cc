#include "controllers/node_lifecycle.h"

#include <gtest/gtest.h>

#include "client/test_apiserver.h"

namespace sampan::controllers {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;
using client::testing::Eventually;
namespace res = client::resources;

json::object PodWithTolerations(const std::string& tols) {
  return json::parse(R"({"spec":{"tolerations":)" + tols + "}}").as_object();
}
json::object Taint(const std::string& key, const std::string& added) {
  json::object t{{"key", key}, {"effect", "NoExecute"}};
  if (!added.empty()) t["timeAdded"] = added;
  return t;
}

TEST(EvictionTimeTest, TolerationsDecideWhen) {
  std::vector<json::object> unreachable{Taint(kTaintUnreachable, FormatRfc3339(1000))};
  // No toleration: now.
  EXPECT_EQ(NodeLifecycleController::EvictionTime(PodWithTolerations("[]"), unreachable, 5), 0);
  // Tolerated for 300 s from when the taint was added.
  auto tol300 = PodWithTolerations(
      R"([{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}])");
  EXPECT_EQ(NodeLifecycleController::EvictionTime(tol300, unreachable, 5), 1300);
  // Without timeAdded the first sighting counts.
  EXPECT_EQ(NodeLifecycleController::EvictionTime(tol300, {Taint(kTaintUnreachable, "")}, 2000),
            2300);
  // Forever (no seconds), or an Exists-everything toleration.
  EXPECT_EQ(
      NodeLifecycleController::EvictionTime(
          PodWithTolerations(R"([{"key":"node.kubernetes.io/unreachable","operator":"Exists"}])"),
          unreachable, 5),
      -1);
  EXPECT_EQ(NodeLifecycleController::EvictionTime(PodWithTolerations(R"([{"operator":"Exists"}])"),
                                                  unreachable, 5),
            -1);
  // Two taints, only one tolerated: now.
  std::vector<json::object> both{Taint(kTaintUnreachable, FormatRfc3339(1000)),
                                 Taint("other", FormatRfc3339(1000))};
  EXPECT_EQ(NodeLifecycleController::EvictionTime(tol300, both, 5), 0);
  // The smallest seconds of the tolerations used.
  auto two = PodWithTolerations(
      R"([{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},
          {"operator":"Exists","effect":"NoExecute","tolerationSeconds":30}])");
  EXPECT_EQ(NodeLifecycleController::EvictionTime(two, unreachable, 5), 1030);
  EXPECT_EQ(NodeLifecycleController::EvictionTime(tol300, {}, 5), -1);
}

class NodeLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start_status().ok()) << server_.start_status().ToString();
    auto c = server_.NewClient();
    ASSERT_TRUE(c.ok());
    client_ = std::move(*c);
  }
  // A node that posted Ready once, with a Lease (what a kubelet registers).
  void AddNode(const std::string& name) {
    std::string now = FormatRfc3339(Clock::Real().NowUnix());
    json::object node{
        {"apiVersion", "v1"},
        {"kind", "Node"},
        {"metadata", json::object{{"name", name}}},
        {"status", json::object{{"conditions", json::array{ReadyCondition("True", now)}}}}};
    ASSERT_TRUE(client_->Create(res::kNodes, "", node).ok());
    json::object lease{
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", json::object{{"name", name}, {"namespace", "kube-node-lease"}}},
        {"spec", json::object{{"holderIdentity", name},
                              {"leaseDurationSeconds", 40},
                              {"renewTime", FormatRfc3339Micro(Clock::Real().NowUnix(), 0)}}}};
    ASSERT_TRUE(client_->Create(res::kLeases, "kube-node-lease", lease).ok());
  }
  static json::object ReadyCondition(const std::string& status, const std::string& now) {
    return json::object{{"type", "Ready"},          {"status", status},
                        {"reason", "KubeletReady"}, {"message", "kubelet is posting ready status"},
                        {"lastHeartbeatTime", now}, {"lastTransitionTime", now}};
  }
  void RenewLease(const std::string& name) {
    auto l = client_->Get(res::kLeases, "kube-node-lease", name);
    ASSERT_TRUE(l.ok());
    auto nanos = Clock::Real().NowUnixNanos();
    (*l)["spec"].as_object()["renewTime"] =
        FormatRfc3339Micro(nanos / 1000000000, static_cast<int32_t>(nanos % 1000000000));
    ASSERT_TRUE(client_->Update(res::kLeases, "kube-node-lease", *l).ok());
  }
  std::string ReadyStatus(const std::string& node) {
    auto n = client_->Get(res::kNodes, "", node);
    if (!n.ok()) return "";
    for (auto& c : n->at("status").at("conditions").as_array())
      if (c.at("type") == "Ready") return std::string(c.at("status").as_string());
    return "";
  }
  std::vector<std::string> TaintKeys(const std::string& node) {
    std::vector<std::string> out;
    auto n = client_->Get(res::kNodes, "", node);
    if (!n.ok()) return out;
    auto* spec = n->if_contains("spec");
    auto* ts = spec ? spec->as_object().if_contains("taints") : nullptr;
    if (!ts) return out;
    for (auto& t : ts->as_array())
      out.push_back(std::string(t.at("key").as_string()) + ":" +
                    std::string(t.at("effect").as_string()));
    std::sort(out.begin(), out.end());
    return out;
  }
  client::testing::TestApiServer server_;
  std::unique_ptr<client::RestClient> client_;
};

TEST_F(NodeLifecycleTest, PodsGetDefaultTolerationsAtCreation) {
  json::object pod = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
      "spec":{"containers":[{"name":"c","image":"x"}],
              "tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":5}]}})")
                         .as_object();
  auto created = client_->Create(res::kPods, "default", pod);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const auto& tols = created->at("spec").at("tolerations").as_array();
  // The pod's own not-ready toleration is kept; unreachable gets the default 300 s.
  ASSERT_EQ(tols.size(), 2u);
  EXPECT_EQ(tols[0].at("tolerationSeconds"), 5);
  EXPECT_EQ(tols[1].at("key"), kTaintUnreachable);
  EXPECT_EQ(tols[1].at("tolerationSeconds"), 300);
  EXPECT_EQ(tols[1].at("operator"), "Exists");
}

TEST_F(NodeLifecycleTest, StaleLeaseMakesNodeUnknownTaintsItEvictsThenRecovers) {
  AddNode("alive");
  AddNode("dying");
  json::object pod = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"victim"},
      "spec":{"nodeName":"dying","containers":[{"name":"c","image":"x"}],
              "tolerations":[{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":1}]}})")
                         .as_object();
  ASSERT_TRUE(client_->Create(res::kPods, "default", pod).ok());
  json::object keeper = pod;
  keeper["metadata"].as_object()["name"] = "keeper";
  keeper["spec"].as_object()["tolerations"] = json::parse(
      R"([{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute"}])");
  auto kept = client_->Create(res::kPods, "default", keeper);
  ASSERT_TRUE(kept.ok());
  // Running and Ready, as its kubelet reported before going quiet.
  (*kept)["status"] =
      json::parse(R"({"phase":"Running","conditions":[{"type":"Ready","status":"True"}]})");
  ASSERT_TRUE(client_->UpdateStatus(res::kPods, "default", *kept).ok());

  client::SharedInformers informers(client_.get());
  client::EventRecorder recorder(client_.get(), "node-controller");
  NodeLifecycleOptions opts;
  opts.grace_period = 1500ms;
  opts.monitor_period = 100ms;
  NodeLifecycleController ctrl(&informers, &recorder, opts);
  informers.Start();
  ctrl.Run(2);

  // "alive" keeps renewing; "dying" does not.
  auto keep_alive = [&] { RenewLease("alive"); };
  ASSERT_TRUE(Eventually(
      [&] {
        keep_alive();
        return ReadyStatus("dying") == "Unknown";
      },
      10s));
  EXPECT_EQ(ReadyStatus("alive"), "True");
  ASSERT_TRUE(Eventually(
      [&] {
        keep_alive();
        return TaintKeys("dying") ==
               std::vector<std::string>{"node.kubernetes.io/unreachable:NoExecute",
                                        "node.kubernetes.io/unreachable:NoSchedule"};
      },
      10s));
  EXPECT_TRUE(TaintKeys("alive").empty());
  // The pod tolerating 1 s is evicted (graceful: it is bound); the one tolerating forever stays.
  ASSERT_TRUE(Eventually(
      [&] {
        keep_alive();
        auto p = client_->Get(res::kPods, "default", "victim");
        return !p.ok() || p->at("metadata").as_object().contains("deletionTimestamp");
      },
      10s));
  auto k = client_->Get(res::kPods, "default", "keeper");
  ASSERT_TRUE(k.ok());
  EXPECT_FALSE(k->at("metadata").as_object().contains("deletionTimestamp"));
  // Marked not ready.
  bool ready_false = false;
  for (auto& c : k->at("status").at("conditions").as_array())
    if (c.at("type") == "Ready") ready_false = c.at("status") == "False";
  EXPECT_TRUE(ready_false);

  // The kubelet comes back: renews and posts Ready; the taints go.
  RenewLease("dying");
  auto n = client_->Get(res::kNodes, "", "dying");
  ASSERT_TRUE(n.ok());
  json::object back = *n;
  back["status"].as_object()["conditions"] =
      json::array{ReadyCondition("True", FormatRfc3339(Clock::Real().NowUnix()))};
  ASSERT_TRUE(client_->UpdateStatus(res::kNodes, "", back).ok());
  ASSERT_TRUE(Eventually(
      [&] {
        keep_alive();
        RenewLease("dying");
        return TaintKeys("dying").empty();
      },
      10s));
  EXPECT_EQ(ReadyStatus("dying"), "True");
  ctrl.Stop();
  informers.Stop();
}

TEST_F(NodeLifecycleTest, NoEvictionsWhenEveryNodeIsDownAndRateLimitedOtherwise) {
  AddNode("solo");
  json::object pod = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
      "spec":{"nodeName":"solo","containers":[{"name":"c","image":"x"}],
              "tolerations":[{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":0}]}})")
                         .as_object();
  ASSERT_TRUE(client_->Create(res::kPods, "default", pod).ok());
  client::SharedInformers informers(client_.get());
  client::EventRecorder recorder(client_.get(), "node-controller");
  NodeLifecycleOptions opts;
  opts.grace_period = 1s;
  opts.monitor_period = 100ms;
  opts.eviction_rate = 0.5;  // one node every 2 s
  NodeLifecycleController ctrl(&informers, &recorder, opts);
  informers.Start();
  ctrl.Run(2);
  // The only node is down: it is NotReady and unschedulable, but nothing is evicted.
  ASSERT_TRUE(Eventually([&] { return ReadyStatus("solo") == "Unknown"; }, 10s));
  ASSERT_TRUE(Eventually(
      [&] {
        return TaintKeys("solo") ==
               std::vector<std::string>{"node.kubernetes.io/unreachable:NoSchedule"};
      },
      10s));
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(TaintKeys("solo"),
            std::vector<std::string>{"node.kubernetes.io/unreachable:NoSchedule"});
  auto p = client_->Get(res::kPods, "default", "p");
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->at("metadata").as_object().contains("deletionTimestamp"));

  // With healthy nodes around, the dead nodes get NoExecute taints one per 2 s.
  for (const char* n : {"up1", "up2", "up3", "down1"}) AddNode(n);
  auto keep = [&] {
    for (const char* n : {"up1", "up2", "up3"}) RenewLease(n);
  };
  auto noexec_added = [&](const std::string& node) -> int64_t {
    auto n = client_->Get(res::kNodes, "", node);
    if (!n.ok()) return 0;
    auto* spec = n->if_contains("spec");
    auto* ts = spec ? spec->as_object().if_contains("taints") : nullptr;
    if (!ts) return 0;
    for (auto& t : ts->as_array()) {
      if (t.at("effect") != "NoExecute") continue;
      int64_t at = 0;
      ParseRfc3339(std::string(t.at("timeAdded").as_string()), &at);
      return at;
    }
    return 0;
  };
  ASSERT_TRUE(Eventually(
      [&] {
        keep();
        return noexec_added("solo") > 0 && noexec_added("down1") > 0;
      },
      15s));
  EXPECT_GE(std::abs(noexec_added("solo") - noexec_added("down1")), 1);
  // Now the pod tolerating 0 s goes.
  ASSERT_TRUE(Eventually(
      [&] {
        keep();
        auto q = client_->Get(res::kPods, "default", "p");
        return !q.ok() || q->at("metadata").as_object().contains("deletionTimestamp");
      },
      10s));
  ctrl.Stop();
  informers.Stop();
}

}  // namespace
}  // namespace sampan::controllers
