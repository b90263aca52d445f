#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/schema.h"
#include "api/strategy.h"
#include "api/validate.h"

namespace sampan::api {
namespace {

namespace json = boost::json;

const KindInfo& PriorityClassKind() {
  const KindInfo* k = BuiltinRegistry().FindKind("scheduling.k8s.io", "v1", "PriorityClass");
  SAMPAN_CHECK(k != nullptr);
  return *k;
}

json::object Pc(std::string_view name, int64_t value) {
  return json::object{{"apiVersion", "scheduling.k8s.io/v1"},
                      {"kind", "PriorityClass"},
                      {"metadata", json::object{{"name", name}}},
                      {"value", value}};
}

std::vector<std::string> Causes(const Status& st) {
  std::vector<std::string> out;
  for (const Cause& c : st.causes()) out.push_back(c.field + ": " + c.message);
  return out;
}

TEST(PriorityClassKind, ServedClusterScopedWithShortName) {
  const KindInfo& k = PriorityClassKind();
  EXPECT_EQ(k.plural, "priorityclasses");
  EXPECT_FALSE(k.namespaced);
  EXPECT_EQ(k.ApiVersion(), "scheduling.k8s.io/v1");
}

TEST(PriorityClassValidation, UserValuesUpToOneBillion) {
  EXPECT_TRUE(ValidateCreate(PriorityClassKind(), Pc("high", 1000)).ok());
  EXPECT_TRUE(ValidateCreate(PriorityClassKind(), Pc("low", -5)).ok());
  EXPECT_TRUE(ValidateCreate(PriorityClassKind(), Pc("top", 1000000000)).ok());
  Status st = ValidateCreate(PriorityClassKind(), Pc("over", 1000000001));
  ASSERT_EQ(st.code(), Code::kInvalid);
  EXPECT_EQ(Causes(st), std::vector<std::string>{
                            "value: Forbidden: maximum allowed value of a user defined priority "
                            "is 1000000000"});
}

TEST(PriorityClassValidation, SystemPrefixReservedForBuiltins) {
  EXPECT_TRUE(ValidateCreate(PriorityClassKind(), Pc("system-node-critical", 2000001000)).ok());
  EXPECT_TRUE(ValidateCreate(PriorityClassKind(), Pc("system-cluster-critical", 2000000000)).ok());
  Status st = ValidateCreate(PriorityClassKind(), Pc("system-mine", 10));
  ASSERT_EQ(st.code(), Code::kInvalid);
  EXPECT_EQ(Causes(st), std::vector<std::string>{
                            "metadata.name: Forbidden: priority class names with 'system-' prefix "
                            "are reserved for system use only. error: system-mine is not a known "
                            "system priority class"});
  st = ValidateCreate(PriorityClassKind(), Pc("system-node-critical", 5));
  ASSERT_EQ(st.code(), Code::kInvalid);
  EXPECT_NE(st.message().find("value of system-node-critical PriorityClass must be 2000001000"),
            std::string::npos)
      << st.message();
  json::object gd = Pc("system-cluster-critical", 2000000000);
  gd["globalDefault"] = true;
  EXPECT_EQ(ValidateCreate(PriorityClassKind(), gd).code(), Code::kInvalid);
}

TEST(PriorityClassValidation, ValueAndPolicyImmutable) {
  json::object old = Pc("high", 1000);
  old["preemptionPolicy"] = "PreemptLowerPriority";
  json::object next = old;
  next["description"] = "changed";
  next["globalDefault"] = true;
  EXPECT_TRUE(ValidateUpdate(PriorityClassKind(), next, old).ok());
  next["value"] = 1001;
  Status st = ValidateUpdate(PriorityClassKind(), next, old);
  ASSERT_EQ(st.code(), Code::kInvalid);
  EXPECT_EQ(Causes(st),
            std::vector<std::string>{"value: Forbidden: may not be changed in an update."});
  next["value"] = 1000;
  next["preemptionPolicy"] = "Never";
  st = ValidateUpdate(PriorityClassKind(), next, old);
  ASSERT_EQ(st.code(), Code::kInvalid);
  EXPECT_EQ(Causes(st), std::vector<std::string>{
                            "preemptionPolicy: Invalid value: \"Never\": field is immutable"});
}

TEST(PriorityClassSchema, PolicyDefaultsAndEnum) {
  json::object v{{"metadata", json::object{{"name", "zero"}}}};
  DefaultObject(PriorityClassKind(), v);
  EXPECT_EQ(v.at("preemptionPolicy"), "PreemptLowerPriority");
  EXPECT_EQ(v.at("value"), 0);
  json::object never = Pc("meek", 1);
  never["preemptionPolicy"] = "Never";
  DefaultObject(PriorityClassKind(), never);
  EXPECT_EQ(never.at("preemptionPolicy"), "Never");
  json::value bad = Pc("high", 1);
  bad.as_object()["preemptionPolicy"] = "Sometimes";
  SchemaCheck check = CheckAgainstSchema(bad, PriorityClassKind().schema);
  Status st = ApplyFieldValidation(check, FieldValidation::kStrict, nullptr);
  EXPECT_FALSE(st.ok());
}

}  // namespace
}  // namespace sampan::api
