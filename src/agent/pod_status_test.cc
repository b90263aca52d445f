#include "agent/pod_status.h"

#include <gtest/gtest.h>

#include "api/json_util.h"

namespace sampan::agent {
namespace {

namespace json = boost::json;

json::object Pod(const std::string& restart_policy, json::object status = {}) {
  json::object pod = json::parse(R"({"metadata":{"name":"web","namespace":"default","uid":"u1"},
    "spec":{"containers":[{"name":"b"},{"name":"a"}]}})")
                         .as_object();
  pod["spec"].as_object()["restartPolicy"] = restart_policy;
  if (!status.empty()) pod["status"] = std::move(status);
  return pod;
}

ContainerView Running(const std::string& name, bool ready = true) {
  ContainerView c;
  c.name = name;
  c.state = ContainerView::State::kRunning;
  c.started_at = 1000;
  c.ready = ready;
  c.started = true;
  c.container_id = "sampan://" + name;
  return c;
}

ContainerView Exited(const std::string& name, int code) {
  ContainerView c;
  c.name = name;
  c.state = ContainerView::State::kTerminated;
  c.terminated.exit_code = code;
  c.terminated.reason = code == 0 ? "Completed" : "Error";
  c.terminated.started_at = 1000;
  c.terminated.finished_at = 1010;
  return c;
}

ContainerView Waiting(const std::string& name, const std::string& reason) {
  ContainerView c;
  c.name = name;
  c.waiting_reason = reason;
  return c;
}

const json::object* Condition(const json::object& st, const std::string& type) {
  for (const auto& c : st.at("conditions").as_array())
    if (c.as_object().at("type").as_string() == type) return &c.as_object();
  return nullptr;
}

TEST(PodStatusTest, PhaseFollowsKubernetesRules) {
  json::object pod = Pod("Always");
  PodStatusInputs in;
  in.pod = &pod;
  in.containers = {Waiting("a", "ContainerCreating"), Running("b")};
  EXPECT_EQ(ComputePhase(in), "Pending");
  in.containers = {Running("a"), Running("b")};
  EXPECT_EQ(ComputePhase(in), "Running");
  in.containers = {Exited("a", 0), Exited("b", 1)};
  EXPECT_EQ(ComputePhase(in), "Running");  // Always restarts them

  json::object never = Pod("Never");
  in.pod = &never;
  EXPECT_EQ(ComputePhase(in), "Failed");
  in.containers = {Exited("a", 0), Exited("b", 0)};
  EXPECT_EQ(ComputePhase(in), "Succeeded");
  in.containers = {Exited("a", 0), Running("b")};
  EXPECT_EQ(ComputePhase(in), "Running");

  json::object on_failure = Pod("OnFailure");
  in.pod = &on_failure;
  in.containers = {Exited("a", 0), Exited("b", 0)};
  EXPECT_EQ(ComputePhase(in), "Succeeded");
  // A crash-looping container (waiting with a last state) counts as stopped, not pending.
  ContainerView crash = Waiting("b", "CrashLoopBackOff");
  crash.last = Exited("b", 1).terminated;
  in.containers = {Exited("a", 0), crash};
  EXPECT_EQ(ComputePhase(in), "Running");
}

TEST(PodStatusTest, InitContainersGateThePhase) {
  json::object pod = Pod("Never");
  PodStatusInputs in;
  in.pod = &pod;
  in.init_containers = {Running("init")};
  in.containers = {Waiting("a", "PodInitializing"), Waiting("b", "PodInitializing")};
  EXPECT_EQ(ComputePhase(in), "Pending");
  in.init_containers = {Exited("init", 1)};
  EXPECT_EQ(ComputePhase(in), "Failed");
  json::object always = Pod("Always");
  in.pod = &always;
  EXPECT_EQ(ComputePhase(in), "Pending");
}

TEST(PodStatusTest, TerminalPhaseIsKept) {
  json::object pod = Pod("Always", json::object{{"phase", "Failed"}});
  PodStatusInputs in;
  in.pod = &pod;
  in.containers = {Running("a"), Running("b")};
  EXPECT_EQ(ComputePhase(in), "Failed");
}

TEST(PodStatusTest, DeadlineExceeded) {
  json::object pod = Pod("Always");
  PodStatusInputs in;
  in.pod = &pod;
  in.containers = {Running("a"), Running("b")};
  in.failed_reason = "DeadlineExceeded";
  in.failed_message = "Pod was active on the node longer than the specified deadline";
  in.now = 2000;
  json::object st = ComputePodStatus(in);
  EXPECT_EQ(st.at("phase").as_string(), "Failed");
  EXPECT_EQ(st.at("reason").as_string(), "DeadlineExceeded");
}

TEST(PodStatusTest, ConditionsAndContainerStatuses) {
  json::object old{
      {"phase", "Pending"},
      {"conditions", json::array{json::object{{"type", "PodScheduled"},
                                              {"status", "True"},
                                              {"lastTransitionTime", "2026-01-01T00:00:00Z"}},
                                 json::object{{"type", "Ready"},
                                              {"status", "False"},
                                              {"lastTransitionTime", "2026-01-01T00:00:01Z"}}}}};
  json::object pod = Pod("Always", old);
  PodStatusInputs in;
  in.pod = &pod;
  in.sandbox_ready = true;
  in.containers = {Running("b", false), Running("a", true)};
  in.host_ip = "10.0.0.1";
  in.pod_ip = "10.244.0.5";
  in.start_time = 900;
  in.qos_class = "BestEffort";
  in.now = 1500;
  json::object st = ComputePodStatus(in);
  EXPECT_EQ(st.at("phase").as_string(), "Running");
  EXPECT_EQ(st.at("podIP").as_string(), "10.244.0.5");
  EXPECT_EQ(st.at("hostIPs").as_array()[0].as_object().at("ip").as_string(), "10.0.0.1");
  EXPECT_EQ(st.at("qosClass").as_string(), "BestEffort");
  EXPECT_EQ(st.at("startTime").as_string(), api::FormatRfc3339(900));
  ASSERT_NE(Condition(st, "PodScheduled"), nullptr);
  EXPECT_EQ(Condition(st, "PodScheduled")->at("lastTransitionTime").as_string(),
            "2026-01-01T00:00:00Z");  // kept: already True
  const json::object* ready = Condition(st, "Ready");
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ(ready->at("status").as_string(), "False");
  EXPECT_EQ(ready->at("reason").as_string(), "ContainersNotReady");
  EXPECT_EQ(ready->at("message").as_string(), "containers with unready status: [b]");
  // Status unchanged: the transition time is kept.
  EXPECT_EQ(ready->at("lastTransitionTime").as_string(), "2026-01-01T00:00:01Z");
  EXPECT_EQ(Condition(st, "Initialized")->at("status").as_string(), "True");
  EXPECT_EQ(Condition(st, "PodReadyToStartContainers")->at("status").as_string(), "True");
  // Sorted by name.
  const auto& cs = st.at("containerStatuses").as_array();
  ASSERT_EQ(cs.size(), 2u);
  EXPECT_EQ(cs[0].as_object().at("name").as_string(), "a");
  EXPECT_TRUE(cs[0].as_object().at("ready").as_bool());
  EXPECT_TRUE(cs[0].as_object().at("state").as_object().contains("running"));

  in.containers = {Running("b"), Running("a")};
  st = ComputePodStatus(in);
  EXPECT_EQ(Condition(st, "Ready")->at("status").as_string(), "True");
  EXPECT_EQ(Condition(st, "Ready")->at("lastTransitionTime").as_string(), api::FormatRfc3339(1500));
}

TEST(PodStatusTest, ContainerStatusJsonShowsLastStateAndWaitingReason) {
  ContainerView c = Waiting("a", "CrashLoopBackOff");
  c.waiting_message = "back-off 10s restarting failed container=a pod=web_default(u1)";
  c.last = Exited("a", 137).terminated;
  c.last->reason = "OOMKilled";
  c.restart_count = 2;
  c.image = "docker.io/library/busybox:latest";
  c.image_id = "docker.io/library/busybox@sha256:abc";
  json::object o = ContainerStatusJson(c);
  EXPECT_EQ(o.at("restartCount").as_int64(), 2);
  EXPECT_EQ(o.at("state").as_object().at("waiting").as_object().at("reason").as_string(),
            "CrashLoopBackOff");
  EXPECT_EQ(o.at("lastState").as_object().at("terminated").as_object().at("reason").as_string(),
            "OOMKilled");
  EXPECT_EQ(o.at("lastState").as_object().at("terminated").as_object().at("exitCode").as_int64(),
            137);
  EXPECT_FALSE(o.at("ready").as_bool());
}

TEST(PodStatusTest, ShouldRestart) {
  EXPECT_TRUE(ShouldRestart("Always", 0));
  EXPECT_TRUE(ShouldRestart("Always", 1));
  EXPECT_FALSE(ShouldRestart("OnFailure", 0));
  EXPECT_TRUE(ShouldRestart("OnFailure", 1));
  EXPECT_FALSE(ShouldRestart("Never", 1));
}

TEST(PodStatusTest, SameStatusIgnoresKeyOrder) {
  json::object a{{"phase", "Running"}, {"podIP", "1.2.3.4"}};
  json::object b{{"podIP", "1.2.3.4"}, {"phase", "Running"}};
  EXPECT_TRUE(SameStatus(a, b));
  b["phase"] = "Pending";
  EXPECT_FALSE(SameStatus(a, b));
}

}  // namespace
}  // namespace sampan::agent
