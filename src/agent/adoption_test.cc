#include "agent/adoption.h"

#include <gtest/gtest.h>

namespace sampan::agent {
namespace {

runtime::ContainerState State(const std::string& id, const std::string& uid,
                              const std::string& container, int restart, bool exited,
                              bool sandbox = false) {
  runtime::ContainerState s;
  s.id = id;
  s.status = exited ? "stopped" : "running";
  s.exited = exited;
  s.created = "2026-11-25T10:00:0" + std::to_string(restart) + "Z";
  s.annotations[kAnnoPodUid] = uid;
  s.annotations[kAnnoPodName] = "web";
  s.annotations[kAnnoPodNamespace] = "default";
  s.annotations[kAnnoContainerType] = sandbox ? "sandbox" : "container";
  if (!sandbox) s.annotations[kAnnoContainerName] = container;
  s.annotations[kAnnoRestartCount] = std::to_string(restart);
  return s;
}

TEST(AdoptionTest, IgnoresContainersWithoutPodAnnotations) {
  runtime::ContainerState s;
  s.id = "other";
  RuntimeContainer c;
  EXPECT_FALSE(FromRuntimeState(s, &c));
}

TEST(AdoptionTest, ReadsAnnotations) {
  auto s = State("c1", "uid-1", "main", 3, true);
  s.exit_code = 2;
  s.oom_killed = true;
  s.finished_at = "2026-11-25T10:00:10Z";
  s.annotations[kAnnoInit] = "true";
  RuntimeContainer c;
  ASSERT_TRUE(FromRuntimeState(s, &c));
  EXPECT_EQ(c.pod_uid, "uid-1");
  EXPECT_EQ(c.container_name, "main");
  EXPECT_EQ(c.restart_count, 3);
  EXPECT_TRUE(c.exited);
  EXPECT_TRUE(c.init);
  EXPECT_TRUE(c.oom_killed);
  EXPECT_EQ(c.exit_code, 2);
  EXPECT_GT(c.finished_at, c.created_at);
}

TEST(AdoptionTest, GroupsByPodKeepingTheNewestInstance) {
  std::vector<RuntimeContainer> all;
  for (const auto& s :
       {State("sb", "u1", "", 0, false, true), State("old", "u1", "main", 0, true),
        State("new", "u1", "main", 1, false), State("side", "u1", "side", 0, false),
        State("deadsb", "u1", "", 0, true, true), State("x", "u2", "main", 0, false)}) {
    RuntimeContainer c;
    ASSERT_TRUE(FromRuntimeState(s, &c));
    all.push_back(c);
  }
  auto pods = GroupByPod(all);
  ASSERT_EQ(pods.size(), 2u);
  const AdoptedPod& p = pods["u1"];
  EXPECT_EQ(p.name, "web");
  ASSERT_TRUE(p.has_sandbox);
  EXPECT_EQ(p.sandbox.id, "sb");
  ASSERT_EQ(p.containers.size(), 2u);
  EXPECT_EQ(p.containers.at("main").id, "new");
  EXPECT_EQ(p.containers.at("side").id, "side");
  std::vector<std::string> stale;
  for (const auto& c : p.stale) stale.push_back(c.id);
  EXPECT_EQ(stale.size(), 2u);
  EXPECT_NE(std::find(stale.begin(), stale.end(), "old"), stale.end());
  EXPECT_NE(std::find(stale.begin(), stale.end(), "deadsb"), stale.end());
  EXPECT_FALSE(pods["u2"].has_sandbox);
}

}  // namespace
}  // namespace sampan::agent
