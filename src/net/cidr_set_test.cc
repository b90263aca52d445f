#include "net/cidr_set.h"

#include <gtest/gtest.h>

namespace sampan::net {
namespace {

TEST(CidrSetTest, AllocatesNodeRangesInOrderAndWraps) {
  auto set = CidrSet::New(*ParseCidr("10.244.0.0/16"), 24);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->capacity(), 256u);
  EXPECT_EQ(set->AllocateNext()->ToString(), "10.244.0.0/24");
  EXPECT_EQ(set->AllocateNext()->ToString(), "10.244.1.0/24");
  ASSERT_TRUE(set->Occupy(*ParseCidr("10.244.2.0/24")).ok());
  EXPECT_EQ(set->AllocateNext()->ToString(), "10.244.3.0/24");
  ASSERT_TRUE(set->Release(*ParseCidr("10.244.0.0/24")).ok());
  EXPECT_EQ(set->taken(), 3u);
  // Round-robin: the freed block is handed out only after the rest.
  EXPECT_EQ(set->AllocateNext()->ToString(), "10.244.4.0/24");
}

TEST(CidrSetTest, FullIsResourceExhausted) {
  auto set = CidrSet::New(*ParseCidr("10.244.0.0/23"), 24);
  ASSERT_TRUE(set.ok());
  ASSERT_TRUE(set->AllocateNext().ok());
  ASSERT_TRUE(set->AllocateNext().ok());
  auto full = set->AllocateNext();
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), Code::kTooManyRequests);
  ASSERT_TRUE(set->Release(*ParseCidr("10.244.1.0/24")).ok());
  EXPECT_EQ(set->AllocateNext()->ToString(), "10.244.1.0/24");
}

TEST(CidrSetTest, OccupyOtherSizesAndOutsideRanges) {
  auto set = CidrSet::New(*ParseCidr("10.244.0.0/16"), 24);
  ASSERT_TRUE(set.ok());
  ASSERT_TRUE(set->Occupy(*ParseCidr("10.244.0.0/23")).ok());    // two blocks
  ASSERT_TRUE(set->Occupy(*ParseCidr("10.244.2.128/25")).ok());  // part of one block
  EXPECT_EQ(set->taken(), 3u);
  EXPECT_TRUE(set->IsTaken(*ParseCidr("10.244.1.0/24")));
  EXPECT_TRUE(set->IsTaken(*ParseCidr("10.244.2.0/24")));
  EXPECT_FALSE(set->IsTaken(*ParseCidr("10.244.3.0/24")));
  EXPECT_EQ(set->AllocateNext()->ToString(), "10.244.3.0/24");
  EXPECT_EQ(set->Occupy(*ParseCidr("10.245.0.0/24")).code(), Code::kInvalid);
  EXPECT_EQ(set->Release(*ParseCidr("10.0.0.0/8")).code(), Code::kInvalid);
}

TEST(CidrSetTest, BadMaskSizes) {
  EXPECT_EQ(CidrSet::New(*ParseCidr("10.244.0.0/16"), 15).status().code(), Code::kInvalid);
  EXPECT_EQ(CidrSet::New(*ParseCidr("10.244.0.0/16"), 31).status().code(), Code::kInvalid);
  EXPECT_EQ(CidrSet::New(*ParseCidr("10.0.0.0/8"), 25).status().code(), Code::kInvalid);
  EXPECT_TRUE(CidrSet::New(*ParseCidr("10.0.0.0/8"), 24).ok());
  EXPECT_EQ(CidrSet::New(*ParseCidr("10.244.0.0/16"), 16)->capacity(), 1u);
}

}  // namespace
}  // namespace sampan::net
