#include "net/ipv4.h"

#include <gtest/gtest.h>

namespace sampan::net {
namespace {

TEST(Ipv4Test, ParsesAndFormats) {
  auto ip = ParseIpv4("10.244.1.7");
  ASSERT_TRUE(ip.ok()) << ip.status().ToString();
  EXPECT_EQ(*ip, 0x0AF40107u);
  EXPECT_EQ(FormatIpv4(*ip), "10.244.1.7");
  EXPECT_EQ(FormatIpv4(*ParseIpv4("0.0.0.0")), "0.0.0.0");
  EXPECT_EQ(*ParseIpv4("255.255.255.255"), 0xFFFFFFFFu);
}

TEST(Ipv4Test, RejectsMalformedAddresses) {
  for (const char* bad : {"", "10.244.1", "10.244.1.7.1", "10.244.1.256", "10.244.01.7",
                          "10.244.1.7 ", "a.b.c.d", "10..1.7", "-1.0.0.0", "1.2.3.4/24"}) {
    auto r = ParseIpv4(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kInvalid) << bad;
    }
  }
}

TEST(Ipv4Test, ParsesCidrs) {
  auto c = ParseCidr("10.244.0.0/16");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->ToString(), "10.244.0.0/16");
  EXPECT_EQ(c->size(), 65536u);
  EXPECT_EQ(FormatIpv4(c->broadcast()), "10.244.255.255");
  EXPECT_TRUE(c->Contains(*ParseIpv4("10.244.9.9")));
  EXPECT_FALSE(c->Contains(*ParseIpv4("10.245.0.0")));
  EXPECT_TRUE(c->Contains(*ParseCidr("10.244.3.0/24")));
  EXPECT_FALSE(ParseCidr("10.244.3.0/24")->Contains(*c));
  EXPECT_TRUE(c->Overlaps(*ParseCidr("10.244.3.0/24")));
  EXPECT_FALSE(c->Overlaps(*ParseCidr("10.43.0.0/16")));
  EXPECT_EQ(ParseCidr("0.0.0.0/0")->size(), uint64_t{1} << 32);
  EXPECT_EQ(ParseCidr("10.1.2.3/32")->size(), 1u);
}

TEST(Ipv4Test, RejectsBadCidrs) {
  for (const char* bad : {"10.244.1.5/24", "10.244.0.0", "10.244.0.0/", "10.244.0.0/33",
                          "10.244.0.0/-1", "10.244.0.0/016", "10.244.0.0/1x", "foo/8"}) {
    auto r = ParseCidr(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kInvalid) << bad;
    }
  }
  EXPECT_NE(ParseCidr("10.244.1.5/24").status().message().find("10.244.1.0/24"), std::string::npos);
}

}  // namespace
}  // namespace sampan::net
