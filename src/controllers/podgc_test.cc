#include "controllers/podgc.h"

#include <gtest/gtest.h>

#include <atomic>

#include "api/json_util.h"
#include "client/test_apiserver.h"

namespace sampan::controllers {
namespace {
namespace json = boost::json;
using client::testing::Eventually;
namespace res = client::resources;

class PodGcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start_status().ok()) << server_.start_status().ToString();
    auto c = server_.NewClient();
    ASSERT_TRUE(c.ok());
    client_ = std::move(*c);
    informers_ = std::make_unique<client::SharedInformers>(client_.get());
  }
  void TearDown() override {
    gc_.reset();
    if (informers_) informers_->Stop();
  }
  void StartGc(int threshold) {
    PodGcOptions o;
    o.terminated_pod_threshold = threshold;
    o.clock = &clock_;
    gc_ = std::make_unique<PodGcController>(informers_.get(), o);
    informers_->Start();
    ASSERT_TRUE(informers_->WaitForSync(std::chrono::seconds(10)));
  }
  void AddNode(const std::string& name, bool ready, bool out_of_service = false) {
    json::object node{
        {"apiVersion", "v1"},
        {"kind", "Node"},
        {"metadata", json::object{{"name", name}}},
        {"status", json::object{{"conditions",
                                 json::array{json::object{
                                     {"type", "Ready"}, {"status", ready ? "True" : "False"}}}}}}};
    if (out_of_service) {
      node["spec"] = json::object{{"taints", json::array{json::object{{"key", kTaintOutOfService},
                                                                      {"value", "nodeshutdown"},
                                                                      {"effect", "NoExecute"}}}}};
    }
    ASSERT_TRUE(client_->Create(res::kNodes, "", node).ok());
  }
  void AddPod(const std::string& name, const std::string& node, bool hold = false) {
    json::object meta{{"name", name}};
    // A finalizer keeps a deleted pod readable, so the test can see what was done to it.
    if (hold) meta["finalizers"] = json::array{"example.com/hold"};
    json::object spec{{"containers", json::array{json::object{{"name", "c"}, {"image", "x"}}}}};
    if (!node.empty()) spec["nodeName"] = node;
    json::object pod{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", meta}, {"spec", spec}};
    ASSERT_TRUE(client_->Create(res::kPods, "default", pod).ok());
  }
  void SetPhase(const std::string& name, const std::string& phase, const std::string& reason = "") {
    json::object status{{"phase", phase}};
    if (!reason.empty()) status["reason"] = reason;
    json::object patch{{"status", status}};
    ASSERT_TRUE(
        client_->Patch(res::kPods, "default", name, client::PatchType::kMerge, patch, "status")
            .ok());
  }
  bool Gone(const std::string& name) {
    auto p = client_->Get(res::kPods, "default", name);
    return !p.ok() && p.status().code() == Code::kNotFound;
  }
  // Waits until the pod informer shows `pred` for the pod (or its absence: nullptr).
  template <typename Pred>
  bool InformerSees(const std::string& name, Pred pred) {
    client::Informer* inf = informers_->For(res::kPods);
    return Eventually([&] { return pred(inf->Get("default/" + name)); });
  }
  bool InformerHas(const std::string& name) {
    return InformerSees(name, [](const client::ObjectPtr& p) { return p != nullptr; });
  }
  bool InformerLacks(const std::string& name) {
    return InformerSees(name, [](const client::ObjectPtr& p) { return p == nullptr; });
  }
  bool InformerDeleting(const std::string& name) {
    return InformerSees(name, [](const client::ObjectPtr& p) {
      return p && !client::MetaString(*p, "deletionTimestamp").empty();
    });
  }

  client::testing::TestApiServer server_;
  std::unique_ptr<client::RestClient> client_;
  std::unique_ptr<client::SharedInformers> informers_;
  ManualClock clock_;
  std::unique_ptr<PodGcController> gc_;
};

TEST_F(PodGcTest, OrphansGoAfterQuarantineUnlessTheirNodeAppears) {
  AddNode("n1", true);
  AddPod("keep", "n1");
  AddPod("orphan", "gone", /*hold=*/true);
  AddPod("orphan2", "gone");
  AddPod("late", "late-node");
  AddPod("pending", "");
  StartGc(12500);
  for (const char* p : {"keep", "orphan", "orphan2", "late", "pending"})
    ASSERT_TRUE(InformerHas(p));

  // Quarantined: nothing happens at first, nor 30 s later.
  EXPECT_EQ(gc_->RunOnce().orphaned, 0);
  clock_.Advance(30);
  EXPECT_EQ(gc_->RunOnce().orphaned, 0);
  EXPECT_FALSE(Gone("orphan2"));
  // One node turns up within the quarantine.
  AddNode("late-node", true);
  ASSERT_TRUE(
      Eventually([&] { return informers_->For(res::kNodes)->Get("late-node") != nullptr; }));
  clock_.Advance(11);
  PodGcController::Counts c = gc_->RunOnce();
  EXPECT_EQ(c.orphaned, 2);
  EXPECT_EQ(c.terminated + c.terminating + c.unscheduled, 0);
  EXPECT_TRUE(Gone("orphan2"));
  EXPECT_FALSE(Gone("keep"));
  EXPECT_FALSE(Gone("late"));
  EXPECT_FALSE(Gone("pending"));
  // The held pod shows what podgc did before deleting it: Failed, with the condition.
  auto o = client_->Get(res::kPods, "default", "orphan");
  ASSERT_TRUE(o.ok());
  json::value v(*o);
  EXPECT_FALSE(api::GetString(v, "metadata.deletionTimestamp").empty());
  EXPECT_EQ(api::GetString(v, "status.phase"), "Failed");
  bool found = false;
  for (const auto& cond : v.at("status").at("conditions").as_array()) {
    if (cond.at("type") != "DisruptionTarget") continue;
    found = true;
    EXPECT_EQ(cond.at("status"), "True");
    EXPECT_EQ(cond.at("reason"), "DeletionByPodGC");
    EXPECT_EQ(cond.at("message"), "PodGC: node no longer exists");
  }
  EXPECT_TRUE(found);
}

TEST_F(PodGcTest, TerminatedPodsAboveThresholdEvictedThenOldestFirst) {
  AddNode("n1", true);
  for (const char* p : {"t-a", "t-b", "t-c", "t-evicted", "running"}) AddPod(p, "n1");
  SetPhase("t-a", "Succeeded");
  SetPhase("t-b", "Failed");
  SetPhase("t-c", "Succeeded");
  SetPhase("t-evicted", "Failed", "Evicted");
  SetPhase("running", "Running");
  StartGc(2);
  for (const char* p : {"t-a", "t-b", "t-c", "t-evicted", "running"}) {
    ASSERT_TRUE(InformerSees(p, [](const client::ObjectPtr& o) {
      return o && api::GetString(json::value(*o), "status.phase") != "Pending";
    }));
  }
  PodGcController::Counts c = gc_->RunOnce();
  EXPECT_EQ(c.terminated, 2);
  EXPECT_TRUE(Gone("t-evicted"));
  EXPECT_TRUE(Gone("t-a"));
  EXPECT_FALSE(Gone("t-b"));
  EXPECT_FALSE(Gone("t-c"));
  EXPECT_FALSE(Gone("running"));
  // At the threshold: nothing more.
  ASSERT_TRUE(InformerLacks("t-a"));
  ASSERT_TRUE(InformerLacks("t-evicted"));
  EXPECT_EQ(gc_->RunOnce().terminated, 0);
  EXPECT_FALSE(Gone("t-b"));
}

TEST_F(PodGcTest, ThresholdZeroKeepsTerminatedPods) {
  AddNode("n1", true);
  AddPod("done", "n1");
  SetPhase("done", "Succeeded");
  StartGc(0);
  ASSERT_TRUE(InformerSees("done", [](const client::ObjectPtr& o) {
    return o && api::GetString(json::value(*o), "status.phase") == "Succeeded";
  }));
  EXPECT_EQ(gc_->RunOnce().terminated, 0);
  EXPECT_FALSE(Gone("done"));
}

TEST_F(PodGcTest, TerminatingOnOutOfServiceNodesAndUnscheduledTerminating) {
  AddNode("oos", false, /*out_of_service=*/true);
  AddNode("notready", false);
  AddNode("ok", true);
  AddPod("on-oos", "oos");
  AddPod("on-notready", "notready");
  AddPod("on-ok", "ok");
  AddPod("unscheduled", "", /*hold=*/true);
  AddPod("unscheduled-alive", "");
  StartGc(12500);
  // Bound pods are deleted gracefully (they wait for their kubelet); the unscheduled one
  // waits for its finalizer.
  for (const char* p : {"on-oos", "on-notready", "on-ok", "unscheduled"}) {
    ASSERT_TRUE(client_->Delete(res::kPods, "default", p).ok()) << p;
    ASSERT_TRUE(InformerDeleting(p)) << p;
  }
  ASSERT_TRUE(InformerHas("unscheduled-alive"));
  PodGcController::Counts c = gc_->RunOnce();
  EXPECT_EQ(c.terminating, 1);
  EXPECT_EQ(c.unscheduled, 1);
  EXPECT_EQ(c.orphaned + c.terminated, 0);
  EXPECT_TRUE(Gone("on-oos"));
  EXPECT_FALSE(Gone("on-notready"));
  EXPECT_FALSE(Gone("on-ok"));
  EXPECT_FALSE(Gone("unscheduled-alive"));
  auto u = client_->Get(res::kPods, "default", "unscheduled");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(api::GetString(json::value(*u), "status.phase"), "Failed");
}

TEST_F(PodGcTest, RunsOnItsPeriod) {
  PodGcOptions o;
  o.period = std::chrono::milliseconds(50);
  o.quarantine = std::chrono::milliseconds(0);
  gc_ = std::make_unique<PodGcController>(informers_.get(), o);
  informers_->Start();
  AddPod("orphan", "gone");
  gc_->Run();
  EXPECT_TRUE(Eventually([&] { return Gone("orphan"); }));
  gc_->Stop();
}

}  // namespace
}  // namespace sampan::controllers
