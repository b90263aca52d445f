#include "api/json_util.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sampan::api {
namespace {

namespace json = boost::json;

TEST(JsonUtilTest, Paths) {
  json::value v =
      json::parse(R"({"metadata":{"name":"a","generation":2,"x":1.0},"spec":{"on":true}})");
  EXPECT_EQ(GetString(v, "metadata.name"), "a");
  EXPECT_EQ(GetString(v, "metadata.missing", "d"), "d");
  EXPECT_EQ(GetString(v, "metadata.generation", "d"), "d");  // wrong type → fallback
  EXPECT_EQ(GetInt(v, "metadata.generation"), 2);
  EXPECT_EQ(GetInt(v, "metadata.x"), 1);
  EXPECT_EQ(GetInt(v, "metadata.name.deeper", 7), 7);
  EXPECT_TRUE(GetBool(v, "spec.on"));
  EXPECT_EQ(GetPath(v, ""), &v);
  SetPath(v, "metadata.labels.app", "web");
  SetPath(v, "metadata.name", "b");
  EXPECT_EQ(GetString(v, "metadata.labels.app"), "web");
  EXPECT_EQ(GetString(v, "metadata.name"), "b");
}

TEST(JsonUtilTest, Times) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(1704164645), "2024-01-02T03:04:05Z");
  EXPECT_EQ(FormatRfc3339(951782400), "2000-02-29T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Micro(1704164645, 123456789), "2024-01-02T03:04:05.123456Z");
  EXPECT_EQ(*ParseRfc3339("2024-01-02T03:04:05Z"), 1704164645);
  int32_t nanos = 0;
  EXPECT_EQ(*ParseRfc3339("2024-01-02T05:04:05.5+02:00", &nanos), 1704164645);
  EXPECT_EQ(nanos, 500000000);
  EXPECT_EQ(*ParseRfc3339("1969-12-31T23:59:59Z"), -1);
  for (const char* bad : {"", "2024-01-02", "2024-01-02T03:04:05", "2024-13-02T03:04:05Z",
                          "2024-01-02T03:04:05Zjunk", "2024-01-02 03:04:05Z"}) {
    EXPECT_FALSE(ParseRfc3339(bad).ok()) << bad;
  }
  int64_t now = NowSeconds();
  EXPECT_LE(std::abs(*ParseRfc3339(NowRfc3339()) - now), 1);
}

TEST(JsonUtilTest, SerializeSorted) {
  json::value v = json::parse(R"({"b":1,"a":{"d":[{"z":1,"y":2}],"c":null},"e":2.0,"s":"x\"y"})");
  EXPECT_EQ(SerializeSorted(v), R"({"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1,"e":2,"s":"x\"y"})");
  EXPECT_EQ(SerializeJson(json::parse(R"({"z":1,"a":[1.5,1e21,1e-7,0.000001,-2.0,100.25,1e20]})")),
            R"({"z":1,"a":[1.5,1e+21,1e-7,0.000001,-2,100.25,100000000000000000000]})");
  EXPECT_EQ(SerializeJson(json::value("a<b>&\"\\\n\x01\xe2\x80\xa8")),
            R"("a\u003cb\u003e\u0026\"\\\n\u0001\u2028")");
  EXPECT_EQ(SerializeJson(json::parse(
                R"({"k":[true,false,null,-9223372036854775808,18446744073709551615,"\u00e9"]})")),
            "{\"k\":[true,false,null,-9223372036854775808,18446744073709551615,\"\xc3\xa9\"]}");
  EXPECT_EQ(DescribeValue(json::value("a")), "\"a\"");
  EXPECT_EQ(DescribeValue(json::value(3)), "3");
}

}  // namespace
}  // namespace sampan::api
