#include "net/ipam.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "util/fs.h"

namespace sampan::net {
namespace {

class IpPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sampan-ipam-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<IpPool> OpenPool(const std::string& cidr) {
    auto pool = IpPool::Open(*ParseCidr(cidr), dir_ + "/ips");
    EXPECT_TRUE(pool.ok()) << pool.status().ToString();
    return pool.ok() ? std::move(*pool) : nullptr;
  }
  std::string dir_;
};

TEST_F(IpPoolTest, AllocatesFromTheSecondHostAndKeepsThePodsAddress) {
  auto pool = OpenPool("10.244.1.0/24");
  ASSERT_TRUE(pool);
  EXPECT_EQ(FormatIpv4(pool->gateway()), "10.244.1.1");
  auto a = pool->Allocate("pod-a");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(FormatIpv4(*a), "10.244.1.2");
  auto b = pool->Allocate("pod-b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(FormatIpv4(*b), "10.244.1.3");
  EXPECT_EQ(*pool->Allocate("pod-a"), *a);  // same pod, same address
  // One file per IP, naming the pod.
  EXPECT_EQ(*fs::ReadFile(dir_ + "/ips/10.244.1.2"), "pod-a\n");
  EXPECT_EQ(*fs::ReadFile(dir_ + "/ips/10.244.1.3"), "pod-b\n");
}

TEST_F(IpPoolTest, ReleaseFreesAndRoundRobinDoesNotReuseAtOnce) {
  auto pool = OpenPool("10.244.1.0/24");
  ASSERT_TRUE(pool);
  uint32_t a = *pool->Allocate("pod-a");
  ASSERT_TRUE(pool->Release("pod-a").ok());
  EXPECT_FALSE(pool->Lookup("pod-a"));
  EXPECT_FALSE(fs::Exists(dir_ + "/ips/" + FormatIpv4(a)));
  EXPECT_TRUE(pool->Release("pod-a").ok());  // releasing twice is fine
  uint32_t b = *pool->Allocate("pod-b");
  EXPECT_EQ(b, a + 1);
}

TEST_F(IpPoolTest, FullRangeIsResourceExhaustedAndWrapsAround) {
  auto pool = OpenPool("10.244.1.0/29");  // .2 to .6 usable
  ASSERT_TRUE(pool);
  for (int i = 0; i < 5; ++i) {
    auto ip = pool->Allocate("pod-" + std::to_string(i));
    ASSERT_TRUE(ip.ok()) << ip.status().ToString();
    EXPECT_EQ(FormatIpv4(*ip), "10.244.1." + std::to_string(2 + i));
  }
  auto full = pool->Allocate("pod-5");
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), Code::kTooManyRequests);
  ASSERT_TRUE(pool->Release("pod-1").ok());
  auto again = pool->Allocate("pod-5");  // wraps around to the one free address
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(FormatIpv4(*again), "10.244.1.3");
}

TEST_F(IpPoolTest, ReopenAdoptsAllocations) {
  {
    auto pool = OpenPool("10.244.1.0/24");
    ASSERT_TRUE(pool);
    ASSERT_TRUE(pool->Allocate("pod-a").ok());
    ASSERT_TRUE(pool->Allocate("pod-b").ok());
    ASSERT_TRUE(pool->Release("pod-a").ok());
  }
  auto pool = OpenPool("10.244.1.0/24");
  ASSERT_TRUE(pool);
  EXPECT_EQ(pool->All().size(), 1u);
  EXPECT_EQ(FormatIpv4(*pool->Lookup("pod-b")), "10.244.1.3");
  // The round-robin position survives too: the next one is after .3, not the freed .2.
  EXPECT_EQ(FormatIpv4(*pool->Allocate("pod-c")), "10.244.1.4");
}

TEST_F(IpPoolTest, AnAddressOutsideANewRangeIsReplaced) {
  {
    auto pool = OpenPool("10.244.1.0/24");
    ASSERT_TRUE(pool);
    ASSERT_TRUE(pool->Allocate("pod-a").ok());
  }
  auto pool = OpenPool("10.244.2.0/24");
  ASSERT_TRUE(pool);
  EXPECT_EQ(FormatIpv4(*pool->Lookup("pod-a")), "10.244.1.2");  // reported, so it can be freed
  EXPECT_EQ(FormatIpv4(*pool->Allocate("pod-a")), "10.244.2.2");
  EXPECT_FALSE(fs::Exists(dir_ + "/ips/10.244.1.2"));
}

TEST_F(IpPoolTest, TooSmallRangeIsInvalid) {
  for (const char* cidr : {"10.244.1.0/31", "10.244.1.1/32"}) {
    auto pool = IpPool::Open(*ParseCidr(cidr), dir_ + "/ips");
    ASSERT_FALSE(pool.ok()) << cidr;
    EXPECT_EQ(pool.status().code(), Code::kInvalid);
  }
  auto pool = OpenPool("10.244.1.0/30");  // gateway .1, one pod address .2
  ASSERT_TRUE(pool);
  EXPECT_EQ(FormatIpv4(*pool->Allocate("a")), "10.244.1.2");
  EXPECT_FALSE(pool->Allocate("b").ok());
}

}  // namespace
}  // namespace sampan::net
