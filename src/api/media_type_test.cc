#include "api/media_type.h"

#include <gtest/gtest.h>

namespace sampan::api {
namespace {

TEST(ParseAcceptTest, RangesAndParameters) {
  std::vector<MediaRange> r = ParseAccept(
      "application/json;as=Table;v=v1;g=meta.k8s.io, Application/YAML ,*/*; q=0.8,;");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].type, "application/json");
  EXPECT_EQ(r[0].as, "Table");
  EXPECT_EQ(r[0].v, "v1");
  EXPECT_EQ(r[0].g, "meta.k8s.io");
  EXPECT_TRUE(r[0].IsJsonCompatible());
  EXPECT_EQ(r[1].type, "application/yaml");
  EXPECT_TRUE(r[1].as.empty());
  EXPECT_FALSE(r[1].IsJsonCompatible());
  EXPECT_EQ(r[2].type, "*/*");
  EXPECT_TRUE(r[2].IsJsonCompatible());
  EXPECT_TRUE(ParseAccept("").empty());
}

}  // namespace
}  // namespace sampan::api
