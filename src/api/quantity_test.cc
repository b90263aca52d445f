#include "api/quantity.h"

#include <gtest/gtest.h>

namespace sampan::api {
namespace {

std::string Canon(std::string_view in) {
  auto q = Quantity::Parse(in);
  if (!q.ok()) return "ERR:" + q.status().message();
  return q->ToString();
}

// Every expectation here matches what kubectl 1.32 prints for the same input
// (`kubectl create quota q --hard=r=INPUT --dry-run=client -o json`).
TEST(QuantityTest, CanonicalForms) {
  EXPECT_EQ(Canon("0.5"), "500m");
  EXPECT_EQ(Canon("1000m"), "1");
  EXPECT_EQ(Canon("1024Mi"), "1Gi");
  EXPECT_EQ(Canon("1536Mi"), "1536Mi");
  EXPECT_EQ(Canon("1.5Gi"), "1536Mi");
  EXPECT_EQ(Canon("100m"), "100m");
  EXPECT_EQ(Canon("1500m"), "1500m");
  EXPECT_EQ(Canon("1.5"), "1500m");
  EXPECT_EQ(Canon("1.5k"), "1500");
  EXPECT_EQ(Canon("2000"), "2k");
  EXPECT_EQ(Canon("128974848"), "128974848");
  EXPECT_EQ(Canon("129e6"), "129e6");
  EXPECT_EQ(Canon("1e3"), "1e3");
  EXPECT_EQ(Canon("1E3"), "1E3");  // kept as written, like resource.Quantity
  EXPECT_EQ(Canon("1.5e3"), "1500");
  EXPECT_EQ(Canon("1E"), "1E");
  EXPECT_EQ(Canon("2G"), "2G");
  EXPECT_EQ(Canon("0.1"), "100m");
  EXPECT_EQ(Canon("1n"), "1n");
  EXPECT_EQ(Canon("1u"), "1u");
  EXPECT_EQ(Canon("1000u"), "1m");
  EXPECT_EQ(Canon("0.0000000001"), "1n");  // rounds up to the smallest unit
  EXPECT_EQ(Canon("1.0000000001"), "1000000001n");
  EXPECT_EQ(Canon("512Ki"), "512Ki");
  EXPECT_EQ(Canon("1Ki"), "1Ki");
  EXPECT_EQ(Canon("0.5Ki"), "512");
  EXPECT_EQ(Canon("1.5Ki"), "1536");
  EXPECT_EQ(Canon("1024"), "1024");  // a decimal input stays decimal
  EXPECT_EQ(Canon("0Mi"), "0");
  EXPECT_EQ(Canon("-0"), "0");
  EXPECT_EQ(Canon("-1"), "-1");
  EXPECT_EQ(Canon("-1.5Gi"), "-1536Mi");
  EXPECT_EQ(Canon("+1"), "+1");
  EXPECT_EQ(Canon(".5"), "500m");
  EXPECT_EQ(Canon("5."), "5.");
  EXPECT_EQ(Canon("1000E"), "1000E");
  EXPECT_EQ(Canon("1e21"), "1e21");
  EXPECT_EQ(Canon("1Ei"), "1Ei");
  EXPECT_EQ(Canon("1.1Ki"), "1126400m");
  EXPECT_EQ(Canon("0.000001"), "1u");
  EXPECT_EQ(Canon("1e-3"), "1e-3");
  EXPECT_EQ(Canon("1e-10"), "1e-9");
  EXPECT_EQ(Canon("1.23456789e10"), "12345678900");
  EXPECT_EQ(Canon("999999999999n"), "999999999999n");
  EXPECT_EQ(Canon("1000000000n"), "1");
  EXPECT_EQ(Canon("10E"), "10E");
}

TEST(QuantityTest, RejectsMalformed) {
  for (const char* bad : {"", "abc", "1.2.3", "1Qi", "1e", "1 Gi", ".", "Gi", "1ki", "1K", "--1",
                          "1Mi ", " 1", "1e+", "1m5", "0x10"}) {
    auto q = Quantity::Parse(bad);
    ASSERT_FALSE(q.ok()) << bad;
    EXPECT_EQ(q.status().code(), Code::kBadRequest);
    EXPECT_NE(q.status().message().find("quantities must match the regular expression"),
              std::string::npos);
  }
  EXPECT_FALSE(Quantity::Parse("1" + std::string(40, '0') + "E").ok());
}

TEST(QuantityTest, ValuesRoundUp) {
  EXPECT_EQ(Quantity::Parse("1.5")->MilliValue(), 1500);
  EXPECT_EQ(Quantity::Parse("1.5")->Value(), 2);
  EXPECT_EQ(Quantity::Parse("100m")->Value(), 1);
  EXPECT_EQ(Quantity::Parse("1n")->MilliValue(), 1);
  EXPECT_EQ(Quantity::Parse("1Gi")->Value(), 1073741824);
  EXPECT_EQ(Quantity::Parse("-1.5")->Value(), -2);
  EXPECT_EQ(Quantity::Parse("10E")->Value(), INT64_MAX);  // saturates
}

TEST(QuantityTest, ArithmeticFormsAreCanonical) {
  // Values not parsed from text have no kept spelling.
  EXPECT_EQ(Quantity::FromMilli(1000).ToString(), "1");
  EXPECT_EQ(Quantity::Parse("+1")->MilliValue(), 1000);
}

TEST(QuantityTest, CompareAndFromMilli) {
  EXPECT_EQ(Quantity::Parse("1")->Compare(*Quantity::Parse("1000m")), 0);
  EXPECT_LT(Quantity::Parse("999m")->Compare(*Quantity::Parse("1")), 0);
  EXPECT_GT(Quantity::Parse("1Ki")->Compare(*Quantity::Parse("1k")), 0);
  EXPECT_EQ(Quantity::FromMilli(250).ToString(), "250m");
  EXPECT_EQ(Quantity::FromMilli(3000).ToString(), "3");
  EXPECT_EQ(Quantity().ToString(), "0");
}

}  // namespace
}  // namespace sampan::api
