#include <gtest/gtest.h>

#include "agent/pod_status.h"
#include "api/json_util.h"

namespace sampan::agent {
namespace {

namespace json = boost::json;

TEST(PodStatusEphemeral, ReportedButNotCountedForPhaseOrReadiness) {
  json::object pod = json::parse(R"({"metadata":{"name":"web","namespace":"d","uid":"u1"},
    "spec":{"restartPolicy":"Always","containers":[{"name":"app"}],
            "ephemeralContainers":[{"name":"dbg"}]}})")
                         .as_object();
  ContainerView app;
  app.name = "app";
  app.state = ContainerView::State::kRunning;
  app.started_at = 1000;
  app.ready = app.started = true;
  ContainerView dbg;
  dbg.name = "dbg";
  dbg.state = ContainerView::State::kTerminated;
  dbg.terminated.exit_code = 3;
  dbg.terminated.reason = "Error";
  PodStatusInputs in;
  in.pod = &pod;
  in.containers = {app};
  in.ephemeral_containers = {dbg};
  in.sandbox_ready = true;
  in.now = 2000;
  json::object st = ComputePodStatus(in);
  json::value v(st);
  EXPECT_EQ(api::GetString(v, "phase"), "Running");
  ASSERT_TRUE(st.contains("ephemeralContainerStatuses"));
  const json::array& e = st.at("ephemeralContainerStatuses").as_array();
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(api::GetString(e[0], "name"), "dbg");
  EXPECT_EQ(api::GetInt(e[0], "state.terminated.exitCode"), 3);
  EXPECT_EQ(st.at("containerStatuses").as_array().size(), 1u);
  bool ready = false;
  for (const auto& c : st.at("conditions").as_array())
    if (api::GetString(c, "type") == "Ready") ready = api::GetString(c, "status") == "True";
  EXPECT_TRUE(ready);
  // Without ephemeral containers the field is absent.
  in.ephemeral_containers.clear();
  EXPECT_FALSE(ComputePodStatus(in).contains("ephemeralContainerStatuses"));
}

}  // namespace
}  // namespace sampan::agent
