#include "apiserver/sa_admission.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "apiserver/rest.h"
#include "apiserver/rest_test_fixture.h"

namespace sampan::apiserver {
namespace {

namespace json = boost::json;

class ServiceAccountAdmissionTest : public RestFixture {
 protected:
  const api::KindInfo& Kind(const char* kind) {
    return *api::BuiltinRegistry().FindKind("", "v1", kind);
  }
  Result<ObjectPtr> CreateObj(const char* kind, const std::string& ns, std::string_view text) {
    return Run(rest_->Create(Kind(kind), ns, json::parse(text), WriteOptions{}));
  }
  Result<ObjectPtr> CreatePod(const std::string& ns, std::string_view text) {
    return CreateObj("Pod", ns, text);
  }
  Result<ObjectPtr> CreateNamespace(const std::string& name) {
    return CreateObj("Namespace", "", R"({"metadata":{"name":")" + name + R"("}})");
  }
  static const json::object& Spec(const ObjectPtr& p) { return p->obj.at("spec").as_object(); }
  // The pod's volumes named kube-api-access-*.
  static std::vector<json::object> TokenVolumes(const ObjectPtr& p) {
    std::vector<json::object> out;
    if (const json::value* vols = Spec(p).if_contains("volumes")) {
      for (const json::value& v : vols->as_array()) {
        if (v.at("name").as_string().starts_with("kube-api-access-")) {
          out.push_back(v.as_object());
        }
      }
    }
    return out;
  }
  // The mounts of container `list`[i] at the token path.
  static std::vector<json::object> TokenMounts(const ObjectPtr& p, const char* list, size_t i) {
    std::vector<json::object> out;
    const json::object& c = Spec(p).at(list).as_array().at(i).as_object();
    if (const json::value* ms = c.if_contains("volumeMounts")) {
      for (const json::value& m : ms->as_array()) {
        if (m.at("mountPath") == kServiceAccountMountPath) out.push_back(m.as_object());
      }
    }
    return out;
  }
};

constexpr char kSimplePod[] =
    R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"busybox"}]}})";

TEST_F(ServiceAccountAdmissionTest, DefaultAccountAndTokenVolumeInEveryContainer) {
  auto pod = CreatePod("default", R"({"metadata":{"name":"p"},"spec":{
      "initContainers":[{"name":"init","image":"busybox"}],
      "containers":[{"name":"a","image":"busybox"},
                    {"name":"b","image":"busybox",
                     "volumeMounts":[{"name":"scratch","mountPath":"/scratch"}]}],
      "volumes":[{"name":"scratch","emptyDir":{}}]}})");
  ASSERT_TRUE(pod.ok()) << pod.status().ToString();
  EXPECT_EQ(Spec(*pod).at("serviceAccountName"), "default");
  EXPECT_EQ(Spec(*pod).at("serviceAccount"), "default");
  auto vols = TokenVolumes(*pod);
  ASSERT_EQ(vols.size(), 1u);
  const std::string name(vols[0].at("name").as_string());
  ASSERT_EQ(name.size(), std::string("kube-api-access-").size() + 5);
  for (char ch : name.substr(16)) EXPECT_TRUE(std::isdigit(ch) || std::islower(ch)) << name;
  json::value want_projected = json::parse(R"({"defaultMode":420,"sources":[
      {"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},
      {"configMap":{"name":"kube-root-ca.crt","items":[{"key":"ca.crt","path":"ca.crt"}]}},
      {"downwardAPI":{"items":[{"path":"namespace",
          "fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"}}]}}]})");
  EXPECT_EQ(vols[0].at("projected"), want_projected) << json::serialize(vols[0]);
  // The pod's own volume is kept, before the token volume.
  EXPECT_EQ(Spec(*pod).at("volumes").as_array().size(), 2u);
  EXPECT_EQ(Spec(*pod).at("volumes").as_array()[0].at("name"), "scratch");
  for (auto [list, i] :
       {std::pair{"initContainers", 0}, std::pair{"containers", 0}, std::pair{"containers", 1}}) {
    auto mounts = TokenMounts(*pod, list, i);
    ASSERT_EQ(mounts.size(), 1u) << list << i;
    EXPECT_EQ(mounts[0].at("name").as_string(), name);
    EXPECT_EQ(mounts[0].at("readOnly"), true);
  }
  const json::array& b_mounts =
      Spec(*pod).at("containers").as_array()[1].at("volumeMounts").as_array();
  ASSERT_EQ(b_mounts.size(), 2u);
  EXPECT_EQ(b_mounts[0].at("name"), "scratch");
}

TEST_F(ServiceAccountAdmissionTest, EachPodGetsItsOwnVolumeName) {
  auto a = CreatePod("default", kSimplePod);
  auto b = CreatePod(
      "default", R"({"metadata":{"name":"q"},"spec":{"containers":[{"name":"c","image":"x"}]}})");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(TokenVolumes(*a).size(), 1u);
  ASSERT_EQ(TokenVolumes(*b).size(), 1u);
  // Random suffixes: two equal ones are possible but 1 in 27^5.
  EXPECT_NE(TokenVolumes(*a)[0].at("name"), TokenVolumes(*b)[0].at("name"));
}

TEST_F(ServiceAccountAdmissionTest, AutomountFalseOnPod) {
  auto pod = CreatePod("default", R"({"metadata":{"name":"p"},"spec":{
      "automountServiceAccountToken":false,
      "containers":[{"name":"c","image":"busybox"}]}})");
  ASSERT_TRUE(pod.ok()) << pod.status().ToString();
  EXPECT_EQ(Spec(*pod).at("serviceAccountName"), "default");
  EXPECT_TRUE(TokenVolumes(*pod).empty());
  EXPECT_TRUE(TokenMounts(*pod, "containers", 0).empty());
}

TEST_F(ServiceAccountAdmissionTest, AutomountFalseOnAccountUnlessPodSaysTrue) {
  ASSERT_TRUE(CreateObj("ServiceAccount", "default",
                        R"({"metadata":{"name":"quiet"},"automountServiceAccountToken":false})")
                  .ok());
  auto off = CreatePod("default", R"({"metadata":{"name":"off"},"spec":{
      "serviceAccountName":"quiet","containers":[{"name":"c","image":"busybox"}]}})");
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_EQ(Spec(*off).at("serviceAccountName"), "quiet");
  EXPECT_TRUE(TokenVolumes(*off).empty());
  EXPECT_TRUE(TokenMounts(*off, "containers", 0).empty());
  auto on = CreatePod("default", R"({"metadata":{"name":"on"},"spec":{
      "serviceAccountName":"quiet","automountServiceAccountToken":true,
      "containers":[{"name":"c","image":"busybox"}]}})");
  ASSERT_TRUE(on.ok()) << on.status().ToString();
  EXPECT_EQ(TokenVolumes(*on).size(), 1u);
  EXPECT_EQ(TokenMounts(*on, "containers", 0).size(), 1u);
}

TEST_F(ServiceAccountAdmissionTest, MissingAccountIsRefusedAtOnce) {
  auto start = std::chrono::steady_clock::now();
  auto pod = CreatePod("default", R"({"metadata":{"name":"p"},"spec":{
      "serviceAccountName":"ghost","containers":[{"name":"c","image":"busybox"}]}})");
  ASSERT_FALSE(pod.ok());
  EXPECT_EQ(pod.status().code(), Code::kForbidden);
  EXPECT_EQ(pod.status().message(),
            "pods \"p\" is forbidden: error looking up service account default/ghost: "
            "serviceaccount \"ghost\" not found");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST_F(ServiceAccountAdmissionTest, DeprecatedServiceAccountFieldNamesTheAccount) {
  ASSERT_TRUE(CreateObj("ServiceAccount", "default", R"({"metadata":{"name":"builder"}})").ok());
  auto pod = CreatePod("default", R"({"metadata":{"name":"p"},"spec":{
      "serviceAccount":"builder","containers":[{"name":"c","image":"busybox"}]}})");
  ASSERT_TRUE(pod.ok()) << pod.status().ToString();
  EXPECT_EQ(Spec(*pod).at("serviceAccountName"), "builder");
  EXPECT_EQ(Spec(*pod).at("serviceAccount"), "builder");
}

TEST_F(ServiceAccountAdmissionTest, DefaultAccountCreatedDuringTheWaitIsUsed) {
  ASSERT_TRUE(CreateNamespace("fresh").ok());
  auto start = std::chrono::steady_clock::now();
  auto pending = std::async(std::launch::async, [&] { return CreatePod("fresh", kSimplePod); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(pending.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
      << "the pod did not wait for its account";
  ASSERT_TRUE(CreateDefaultServiceAccount("fresh").ok());
  auto pod = pending.get();
  ASSERT_TRUE(pod.ok()) << pod.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(Spec(*pod).at("serviceAccountName"), "default");
  EXPECT_EQ(TokenVolumes(*pod).size(), 1u);
}

TEST_F(ServiceAccountAdmissionTest, DefaultAccountThatNeverComesIsRefusedAfterTheWait) {
  ASSERT_TRUE(CreateNamespace("empty").ok());
  auto start = std::chrono::steady_clock::now();
  auto pod = CreatePod("empty", kSimplePod);
  auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(pod.ok());
  EXPECT_EQ(pod.status().code(), Code::kForbidden);
  EXPECT_EQ(pod.status().message(),
            "pods \"p\" is forbidden: error looking up service account empty/default: "
            "serviceaccount \"default\" not found");
  EXPECT_GE(waited, std::chrono::milliseconds(2900));
  EXPECT_LT(waited, std::chrono::seconds(6));
}

TEST_F(ServiceAccountAdmissionTest, MissingNamespaceIsLeftToTheNamespaceCheck) {
  auto pod = CreatePod("nowhere", kSimplePod);
  ASSERT_FALSE(pod.ok());
  EXPECT_EQ(pod.status().code(), Code::kNotFound);
  EXPECT_EQ(pod.status().message(), "namespaces \"nowhere\" not found");
}

TEST_F(ServiceAccountAdmissionTest, ExistingMountAtThePathIsLeftAlone) {
  // Every container has its own mount there: no token volume at all.
  auto all = CreatePod("default", R"({"metadata":{"name":"all"},"spec":{
      "containers":[{"name":"c","image":"busybox","volumeMounts":[
          {"name":"mine","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}]}],
      "volumes":[{"name":"mine","emptyDir":{}}]}})");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_TRUE(TokenVolumes(*all).empty());
  auto mounts = TokenMounts(*all, "containers", 0);
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].at("name"), "mine");
  EXPECT_EQ(Spec(*all).at("volumes").as_array().size(), 1u);
  // One container without: the volume is added and mounted there only.
  auto some = CreatePod("default", R"({"metadata":{"name":"some"},"spec":{
      "containers":[
          {"name":"c","image":"busybox","volumeMounts":[
              {"name":"mine","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}]},
          {"name":"d","image":"busybox"}],
      "volumes":[{"name":"mine","emptyDir":{}}]}})");
  ASSERT_TRUE(some.ok()) << some.status().ToString();
  auto vols = TokenVolumes(*some);
  ASSERT_EQ(vols.size(), 1u);
  auto c = TokenMounts(*some, "containers", 0);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].at("name"), "mine");
  auto d = TokenMounts(*some, "containers", 1);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].at("name"), vols[0].at("name"));
}

TEST_F(ServiceAccountAdmissionTest, ExistingTokenVolumeIsReused) {
  auto pod = CreatePod("default", R"({"metadata":{"name":"p"},"spec":{
      "containers":[{"name":"c","image":"busybox"}],
      "volumes":[{"name":"kube-api-access-mine1","emptyDir":{}}]}})");
  ASSERT_TRUE(pod.ok()) << pod.status().ToString();
  auto vols = TokenVolumes(*pod);
  ASSERT_EQ(vols.size(), 1u);
  EXPECT_EQ(vols[0].at("name"), "kube-api-access-mine1");
  EXPECT_TRUE(vols[0].contains("emptyDir"));
  auto mounts = TokenMounts(*pod, "containers", 0);
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].at("name"), "kube-api-access-mine1");
}

TEST_F(ServiceAccountAdmissionTest, MirrorPodIsLeftAsItIs) {
  auto pod = CreatePod("default", R"({"metadata":{"name":"static-n1",
      "annotations":{"kubernetes.io/config.mirror":"abc"}},
      "spec":{"nodeName":"n1","containers":[{"name":"c","image":"busybox"}]}})");
  ASSERT_TRUE(pod.ok()) << pod.status().ToString();
  EXPECT_FALSE(Spec(*pod).contains("serviceAccountName"));
  EXPECT_FALSE(Spec(*pod).contains("serviceAccount"));
  EXPECT_TRUE(TokenVolumes(*pod).empty());
  EXPECT_TRUE(TokenMounts(*pod, "containers", 0).empty());
}

TEST_F(ServiceAccountAdmissionTest, MirrorPodMayNotReferenceAccountsSecretsOrTokens) {
  struct Case {
    const char* spec;
    const char* why;
  };
  const Case cases[] = {
      {R"("serviceAccountName":"default")", "a mirror pod may not reference service accounts"},
      {R"("serviceAccount":"default")", "a mirror pod may not reference service accounts"},
      {R"("volumes":[{"name":"s","secret":{"secretName":"s"}}])",
       "a mirror pod may not reference secrets"},
      {R"("imagePullSecrets":[{"name":"reg"}])", "a mirror pod may not reference secrets"},
      {R"("volumes":[{"name":"t","projected":{"sources":[
          {"serviceAccountToken":{"path":"token"}}]}}])",
       "a mirror pod may not use ServiceAccountToken volume projections"},
  };
  for (const Case& c : cases) {
    std::string text =
        R"({"metadata":{"name":"m","annotations":{"kubernetes.io/config.mirror":"x"}},
        "spec":{"nodeName":"n1","containers":[{"name":"c","image":"busybox"}],)" +
        std::string(c.spec) + "}}";
    auto pod = CreatePod("default", text);
    ASSERT_FALSE(pod.ok()) << c.spec;
    EXPECT_EQ(pod.status().code(), Code::kForbidden);
    EXPECT_EQ(pod.status().message(), std::string("pods \"m\" is forbidden: ") + c.why);
  }
  // A secret in a container's environment counts too.
  auto env = CreatePod("default", R"({"metadata":{"name":"m",
      "annotations":{"kubernetes.io/config.mirror":"x"}},
      "spec":{"nodeName":"n1","containers":[{"name":"c","image":"busybox","env":[
          {"name":"E","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}}]}]}})");
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.status().message(),
            "pods \"m\" is forbidden: a mirror pod may not reference secrets");
}

TEST_F(ServiceAccountAdmissionTest, ImagePullSecretsComeFromTheAccount) {
  ASSERT_TRUE(CreateObj("ServiceAccount", "default", R"({"metadata":{"name":"puller"},
      "imagePullSecrets":[{"name":"reg1"},{"name":"reg2"}]})")
                  .ok());
  auto pod = CreatePod("default", R"({"metadata":{"name":"p"},"spec":{
      "serviceAccountName":"puller","containers":[{"name":"c","image":"busybox"}]}})");
  ASSERT_TRUE(pod.ok()) << pod.status().ToString();
  EXPECT_EQ(Spec(*pod).at("imagePullSecrets"), json::parse(R"([{"name":"reg1"},{"name":"reg2"}])"));
  // The pod's own list wins.
  auto own = CreatePod("default", R"({"metadata":{"name":"own"},"spec":{
      "serviceAccountName":"puller","imagePullSecrets":[{"name":"mine"}],
      "containers":[{"name":"c","image":"busybox"}]}})");
  ASSERT_TRUE(own.ok()) << own.status().ToString();
  EXPECT_EQ(Spec(*own).at("imagePullSecrets"), json::parse(R"([{"name":"mine"}])"));
}

TEST_F(ServiceAccountAdmissionTest, EnforceMountableSecretsLimitsReferences) {
  ASSERT_TRUE(CreateObj("ServiceAccount", "default", R"({"metadata":{"name":"strict",
      "annotations":{"kubernetes.io/enforce-mountable-secrets":"true"}},
      "secrets":[{"name":"allowed"}]})")
                  .ok());
  auto ok = CreatePod("default", R"({"metadata":{"name":"ok"},"spec":{
      "serviceAccountName":"strict","containers":[{"name":"c","image":"busybox"}],
      "volumes":[{"name":"s","secret":{"secretName":"allowed"}}]}})");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  auto vol = CreatePod("default", R"({"metadata":{"name":"vol"},"spec":{
      "serviceAccountName":"strict","containers":[{"name":"c","image":"busybox"}],
      "volumes":[{"name":"s","secret":{"secretName":"other"}}]}})");
  ASSERT_FALSE(vol.ok());
  EXPECT_EQ(vol.status().message(),
            "pods \"vol\" is forbidden: volume with secret.secretName=\"other\" is not allowed "
            "because service account strict does not reference that secret");
  auto env = CreatePod("default", R"({"metadata":{"name":"env"},"spec":{
      "serviceAccountName":"strict","containers":[{"name":"c","image":"busybox","env":[
          {"name":"E","valueFrom":{"secretKeyRef":{"name":"other","key":"k"}}}]}]}})");
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.status().message(),
            "pods \"env\" is forbidden: container c with envVar E referencing "
            "secret.secretName=\"other\" is not allowed because service account strict does not "
            "reference that secret");
  auto pull = CreatePod("default", R"({"metadata":{"name":"pull"},"spec":{
      "serviceAccountName":"strict","imagePullSecrets":[{"name":"reg"}],
      "containers":[{"name":"c","image":"busybox"}]}})");
  ASSERT_FALSE(pull.ok());
  EXPECT_EQ(pull.status().message(),
            "pods \"pull\" is forbidden: imagePullSecrets[0].name=\"reg\" is not allowed because "
            "service account strict does not reference that imagePullSecret");
}

TEST_F(ServiceAccountAdmissionTest, OtherKindsAreUntouched) {
  auto cm = CreateObj("ConfigMap", "default", R"({"metadata":{"name":"c"},"data":{"a":"b"}})");
  ASSERT_TRUE(cm.ok()) << cm.status().ToString();
  EXPECT_FALSE((*cm)->obj.contains("spec"));
}

}  // namespace
}  // namespace sampan::apiserver
