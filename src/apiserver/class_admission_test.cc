#include "apiserver/class_admission.h"

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

// Ingresses: the DefaultIngressClass step, and the class the server creates at start.
TEST_F(DefaultStorageClassTest, IngressesWithoutAClassGetTheDefault) {
  auto class_of = [&](std::string_view yaml) {
    auto ing = Create("networking.k8s.io", "Ingress", "default", yaml);
    EXPECT_TRUE(ing.ok()) << ing.status().ToString();
    if (!ing.ok()) return std::string("<error>");
    const json::value* c = (*ing)->obj.at("spec").as_object().if_contains("ingressClassName");
    return c && c->is_string() ? std::string(c->as_string()) : std::string("<none>");
  };
  constexpr std::string_view kIngress =
      "metadata: {generateName: i-}\nspec: {defaultBackend: {service: {name: web, port: "
      "{number: 80}}}}";
  EXPECT_EQ(class_of(kIngress), "<none>");
  ASSERT_TRUE(Run(EnsureSampanIngressClass(*rest_)).ok());
  const api::KindInfo& ick =
      *api::BuiltinRegistry().FindKind("networking.k8s.io", "v1", "IngressClass");
  ObjectPtr created = cache_->Get(ObjectKey(ick, "", "sampan"));
  ASSERT_NE(created, nullptr);
  EXPECT_EQ(created->obj.at("spec").as_object().at("controller"), "sampan.io/ingress");
  EXPECT_EQ(created->obj.at("metadata")
                .as_object()
                .at("annotations")
                .as_object()
                .at("ingressclass.kubernetes.io/is-default-class"),
            "true");
  EXPECT_EQ(class_of(kIngress), "sampan");
  // The legacy annotation, or a class named, is kept.
  std::string annotated(kIngress);
  annotated.replace(annotated.find("{generateName: i-}"), 18,
                    "{generateName: i-, annotations: {kubernetes.io/ingress.class: nginx}}");
  EXPECT_EQ(class_of(annotated), "<none>");
  std::string named(kIngress);
  named.replace(named.find("{defaultBackend"), 1, "{ingressClassName: nginx, ");
  EXPECT_EQ(class_of(named), "nginx");
  // Starting again leaves the class as it is.
  ASSERT_TRUE(Run(EnsureSampanIngressClass(*rest_)).ok());
  EXPECT_EQ(cache_->Get(ObjectKey(ick, "", "sampan"))->mod_revision, created->mod_revision);
}

TEST_F(DefaultStorageClassTest, AnotherDefaultIngressClassStaysTheDefault) {
  auto other = Create("networking.k8s.io", "IngressClass", "",
                      "metadata:\n  name: nginx\n  annotations: "
                      "{ingressclass.kubernetes.io/is-default-class: \"true\"}\n"
                      "spec: {controller: k8s.io/ingress-nginx}\n");
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  ASSERT_TRUE(Run(EnsureSampanIngressClass(*rest_)).ok());
  const api::KindInfo& ick =
      *api::BuiltinRegistry().FindKind("networking.k8s.io", "v1", "IngressClass");
  ObjectPtr ours = cache_->Get(ObjectKey(ick, "", "sampan"));
  ASSERT_NE(ours, nullptr);
  EXPECT_FALSE(ours->obj.at("metadata").as_object().contains("annotations"));
}

}  // namespace
}  // namespace sampan::apiserver
