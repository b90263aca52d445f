#include "runtime/cgroups.h"

#include <gtest/gtest.h>

namespace sampan::runtime {
namespace {

TEST(SharesToWeight, MatchesRuncAndCrun) {
  EXPECT_EQ(SharesToWeight(0), 0u);
  EXPECT_EQ(SharesToWeight(2), 1u);
  EXPECT_EQ(SharesToWeight(1024), 100u);
  EXPECT_EQ(SharesToWeight(262144), 10000u);
  EXPECT_EQ(SharesToWeight(1000000), 10000u);
  // Monotonic in between.
  uint64_t prev = 0;
  for (uint64_t s = 3; s < 262144; s *= 2) {
    EXPECT_GE(SharesToWeight(s), prev);
    prev = SharesToWeight(s);
  }
}

Resources Sample() {
  Resources r;
  r.memory.limit = 64 << 20;
  r.memory.swap = 128 << 20;
  r.memory.reservation = 32 << 20;
  r.cpu.shares = 1024;
  r.cpu.quota = 50000;
  r.cpu.period = 100000;
  r.cpu.cpus = "0-1";
  r.pids_limit = 20;
  return r;
}

TEST(V1Writes, TranslatesResources) {
  auto w = V1Writes(Sample());
  ASSERT_TRUE(w.ok());
  std::vector<CgroupWrite> want = {
      {"memory", "memory.limit_in_bytes", "67108864"},
      {"memory", "memory.memsw.limit_in_bytes", "134217728"},
      {"memory", "memory.soft_limit_in_bytes", "33554432"},
      {"cpu", "cpu.shares", "1024"},
      {"cpu", "cpu.cfs_period_us", "100000"},
      {"cpu", "cpu.cfs_quota_us", "50000"},
      {"cpuset", "cpuset.cpus", "0-1"},
      {"pids", "pids.max", "20"},
  };
  EXPECT_EQ(*w, want);
}

TEST(V1Writes, UnlimitedAndErrors) {
  Resources r;
  r.pids_limit = -1;
  r.memory.limit = -1;
  auto w = V1Writes(r);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ((*w)[0].value, "-1");
  EXPECT_EQ((*w)[1], (CgroupWrite{"pids", "pids.max", "max"}));
  r.memory.limit = 100;
  r.memory.swap = 50;
  EXPECT_EQ(V1Writes(r).status().code(), Code::kInvalid);
}

TEST(V2Writes, TranslatesResources) {
  auto w = V2Writes(Sample());
  ASSERT_TRUE(w.ok());
  std::vector<CgroupWrite> want = {
      {"", "memory.max", "67108864"},      {"", "memory.low", "33554432"},
      {"", "memory.swap.max", "67108864"},  // swap alone = (mem+swap) - mem
      {"", "cpu.weight", "100"},           {"", "cpu.max", "50000 100000"},
      {"", "cpuset.cpus", "0-1"},          {"", "pids.max", "20"},
  };
  EXPECT_EQ(*w, want);
}

TEST(V2Writes, QuotaWithoutPeriodAndBadSwap) {
  Resources r;
  r.cpu.quota = -1;
  auto w = V2Writes(r);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ((*w)[0], (CgroupWrite{"", "cpu.max", "max 100000"}));
  Resources s;
  s.memory.swap = 1000;
  EXPECT_EQ(V2Writes(s).status().code(), Code::kInvalid);
  Resources u;
  u.unified["../x"] = "1";
  EXPECT_EQ(V2Writes(u).status().code(), Code::kInvalid);
}

TEST(V1DeviceWrites, DenyAllThenDefaults) {
  Resources r;
  r.devices.push_back({false, 'a', std::nullopt, std::nullopt, "rwm"});
  std::vector<Device> devs = {
      {'c', "/dev/fuse", 10, 229, std::nullopt, std::nullopt, std::nullopt}};
  auto w = V1DeviceWrites(r, devs);
  ASSERT_GE(w.size(), 4u);
  EXPECT_EQ(w[0], (CgroupWrite{"devices", "devices.deny", "a *:* rwm"}));
  EXPECT_EQ(w[1], (CgroupWrite{"devices", "devices.allow", "c *:* m"}));
  EXPECT_EQ(w.back(), (CgroupWrite{"devices", "devices.allow", "c 10:229 rwm"}));
  bool null_allowed = false;
  for (const auto& x : w) null_allowed |= x.value == "c 1:3 rwm";
  EXPECT_TRUE(null_allowed);
  EXPECT_TRUE(V1DeviceWrites(Resources{}, {}).empty());
}

TEST(CgroupRelativePath, PlainAndSystemd) {
  EXPECT_EQ(*CgroupRelativePath("", "abc", false), "/sampan-abc");
  EXPECT_EQ(*CgroupRelativePath("/kubepods/pod1/c1", "c1", false), "/kubepods/pod1/c1");
  EXPECT_EQ(*CgroupRelativePath("relative//x/", "c1", false), "/relative/x");
  EXPECT_FALSE(CgroupRelativePath("/a/../../etc", "c1", false).ok());
  EXPECT_FALSE(CgroupRelativePath("/", "c1", false).ok());
  EXPECT_EQ(*CgroupRelativePath("kubepods-burstable.slice:cri:abc", "x", true),
            "/kubepods.slice/kubepods-burstable.slice/cri-abc.scope");
  EXPECT_EQ(*CgroupRelativePath("system.slice:sampan:id1", "x", true),
            "/system.slice/sampan-id1.scope");
  EXPECT_FALSE(CgroupRelativePath("bad", "x", true).ok());
}

}  // namespace
}  // namespace sampan::runtime

namespace sampan::runtime {
namespace {

TEST(V1Writes, NetworkAndHugetlb) {
  Resources r;
  r.net_class_id = 0x100001;
  r.net_priorities = {{"eth0", 5}};
  r.hugepage_limits = {{"2MB", 1 << 22}};
  auto w = V1Writes(r);
  ASSERT_TRUE(w.ok());
  std::vector<CgroupWrite> want = {{"net_cls", "net_cls.classid", "1048577"},
                                   {"net_prio", "net_prio.ifpriomap", "eth0 5"},
                                   {"hugetlb", "hugetlb.2MB.limit_in_bytes", "4194304"}};
  EXPECT_EQ(*w, want);
  EXPECT_EQ(V2Writes(r).status().code(), Code::kInvalid);  // no net_cls on v2
  r.net_class_id.reset();
  r.net_priorities.clear();
  EXPECT_EQ(*V2Writes(r), (std::vector<CgroupWrite>{{"", "hugetlb.2MB.max", "4194304"}}));
}

}  // namespace
}  // namespace sampan::runtime
