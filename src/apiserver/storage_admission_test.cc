#include "apiserver/storage_admission.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/codec.h"
#include "apiserver/rest_test_fixture.h"

namespace sampan::apiserver {
namespace {

namespace json = boost::json;

class DefaultStorageClassTest : public RestFixture {
 protected:
  Result<ObjectPtr> Create(const char* group, const char* kind, std::string ns,
                           std::string_view yaml) {
    auto v = api::DecodeYaml(yaml);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    const api::KindInfo* k = api::BuiltinRegistry().FindKind(group, "v1", kind);
    return Run(rest_->Create(*k, std::move(ns), std::move(*v), WriteOptions{}));
  }
  Result<ObjectPtr> Class(const char* name, bool is_default) {
    std::string yaml = std::string("metadata: {name: ") + name + "}\nprovisioner: example.com/x\n";
    if (is_default) {
      yaml += "metadata:\n  name: " + std::string(name) +
              "\n  annotations: {storageclass.kubernetes.io/is-default-class: \"true\"}\n";
      yaml = yaml.substr(yaml.find('\n') + 1);
    }
    return Create("storage.k8s.io", "StorageClass", "", yaml);
  }
  // The class the created claim ended up with; "<none>" when the field is absent.
  std::string ClassOf(std::string_view claim_yaml) {
    auto pvc = Create("", "PersistentVolumeClaim", "default", claim_yaml);
    EXPECT_TRUE(pvc.ok()) << pvc.status().ToString();
    if (!pvc.ok()) return "<error>";
    const json::value* c = (*pvc)->obj.at("spec").as_object().if_contains("storageClassName");
    return c && c->is_string() ? std::string(c->as_string()) : "<none>";
  }
};

constexpr std::string_view kClaim = R"(
metadata: {generateName: c-}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}})";

TEST_F(DefaultStorageClassTest, ClaimsWithoutAClassGetTheDefault) {
  EXPECT_EQ(ClassOf(kClaim), "<none>");  // no default class yet
  ASSERT_TRUE(Class("slow", false).ok());
  EXPECT_EQ(ClassOf(kClaim), "<none>");
  ASSERT_TRUE(Class("standard", true).ok());
  EXPECT_EQ(ClassOf(kClaim), "standard");
  // An explicit class, or "" (no class at all), is kept.
  EXPECT_EQ(ClassOf(std::string(kClaim) + "\n  storageClassName: slow"), "slow");
  EXPECT_EQ(ClassOf(std::string(kClaim) + "\n  storageClassName: \"\""), "");
  // So is the beta annotation's class.
  std::string beta(kClaim);
  beta.replace(beta.find("{generateName: c-}"), 18,
               "{generateName: c-, annotations: {volume.beta.kubernetes.io/storage-class: slow}}");
  EXPECT_EQ(ClassOf(beta), "<none>");
}

TEST_F(DefaultStorageClassTest, SeveralDefaultsTheNewestThenTheFirstName) {
  ASSERT_TRUE(Class("b-default", true).ok());
  ASSERT_TRUE(Class("a-default", true).ok());
  ObjectPtr def = DefaultStorageClass(api::BuiltinRegistry(), *cache_);
  ASSERT_NE(def, nullptr);
  const api::KindInfo& sck =
      *api::BuiltinRegistry().FindKind("storage.k8s.io", "v1", "StorageClass");
  auto created = [&](const char* name) {
    ObjectPtr o = cache_->Get(ObjectKey(sck, "", name));
    return std::string(o->obj.at("metadata").as_object().at("creationTimestamp").as_string());
  };
  // Created within the same second they tie, and the first name wins; otherwise the newer.
  const std::string want = created("a-default") >= created("b-default") ? "a-default" : "b-default";
  EXPECT_EQ(std::string(def->obj.at("metadata").as_object().at("name").as_string()), want);
}

}  // namespace
}  // namespace sampan::apiserver
