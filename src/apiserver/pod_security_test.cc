#include "apiserver/pod_security.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <functional>
#include <string>
#include <vector>

#include "apiserver/rest.h"
#include "apiserver/rest_test_fixture.h"

namespace sampan::apiserver {
namespace {

namespace json = boost::json;
using podsecurity::CheckPod;
using podsecurity::ForbiddenDetail;
using podsecurity::Level;
using podsecurity::LevelVersion;
using podsecurity::Policy;
using podsecurity::PolicyFromLabels;

LevelVersion Latest(Level l) { return LevelVersion{l, true, 0}; }
LevelVersion V(Level l, int minor) { return LevelVersion{l, false, minor}; }

// The forbidden detail of a pod (JSON text with "metadata" and "spec") at `lv`.
std::string Detail(std::string_view pod_text, const LevelVersion& lv) {
  json::value pod = json::parse(pod_text);
  const json::object& o = pod.as_object();
  const json::value* m = o.if_contains("metadata");
  const json::value* s = o.if_contains("spec");
  return ForbiddenDetail(
      CheckPod(m ? &m->as_object() : nullptr, s ? &s->as_object() : nullptr, lv));
}

constexpr char kPlainPod[] = R"({"spec":{"containers":[{"name":"c","image":"busybox"}]}})";

// What a pod needs to meet restricted.
constexpr char kRestrictedPod[] = R"({"spec":{
  "securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},
  "containers":[{"name":"c","image":"busybox","securityContext":{
    "allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"],"add":["NET_BIND_SERVICE"]}}}],
  "volumes":[{"name":"cm","configMap":{"name":"x"}},{"name":"e","emptyDir":{}},
             {"name":"t","projected":{"sources":[]}}]}})";

TEST(PodSecurityChecks, PrivilegedChecksNothing) {
  EXPECT_EQ(Detail(R"({"spec":{"hostNetwork":true,"containers":[{"name":"c",
    "securityContext":{"privileged":true}}]}})",
                   Latest(Level::kPrivileged)),
            "");
}

TEST(PodSecurityChecks, PlainPodMeetsBaselineNotRestricted) {
  EXPECT_EQ(Detail(kPlainPod, Latest(Level::kBaseline)), "");
  EXPECT_EQ(Detail(kPlainPod, Latest(Level::kRestricted)),
            "allowPrivilegeEscalation != false (container \"c\" must set "
            "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities "
            "(container \"c\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot "
            "!= true (pod or container \"c\" must set securityContext.runAsNonRoot=true), "
            "seccompProfile (pod or container \"c\" must set securityContext.seccompProfile.type "
            "to \"RuntimeDefault\" or \"Localhost\")");
}

TEST(PodSecurityChecks, CompliantPodMeetsRestricted) {
  EXPECT_EQ(Detail(kRestrictedPod, Latest(Level::kRestricted)), "");
  EXPECT_EQ(Detail(kRestrictedPod, V(Level::kRestricted, 20)), "");
}

TEST(PodSecurityChecks, ContainersListedInitFirstAndPluralized) {
  EXPECT_EQ(Detail(R"({"spec":{
      "securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},
      "initContainers":[{"name":"i","securityContext":{"capabilities":{"drop":["ALL"]}}}],
      "containers":[{"name":"a","securityContext":{"capabilities":{"drop":["ALL"]}}},
                    {"name":"b","securityContext":{"allowPrivilegeEscalation":false,
                      "capabilities":{"drop":["ALL"]}}}],
      "ephemeralContainers":[{"name":"e","securityContext":{"capabilities":{"drop":["ALL"]}}}]}})",
                   Latest(Level::kRestricted)),
            "allowPrivilegeEscalation != false (containers \"i\", \"a\", \"e\" must set "
            "securityContext.allowPrivilegeEscalation=false)");
}

TEST(PodSecurityChecks, BaselineViolationsInKubernetesOrder) {
  const char* pod = R"({
    "metadata":{"annotations":{
      "container.apparmor.security.beta.kubernetes.io/a":"unconfined"}},
    "spec":{
      "hostNetwork":true,"hostPID":true,"hostIPC":true,
      "securityContext":{"sysctls":[{"name":"kernel.msgmax","value":"1"},
                                    {"name":"net.ipv4.tcp_syncookies","value":"1"},
                                    {"name":"vm.swappiness","value":"1"}],
                         "seccompProfile":{"type":"Unconfined"},
                         "seLinuxOptions":{"type":"spc_t"},
                         "windowsOptions":{"hostProcess":true}},
      "containers":[
        {"name":"a","securityContext":{"privileged":true,
          "capabilities":{"add":["NET_ADMIN","CHOWN","SYS_TIME"]},
          "procMount":"Unmasked","seLinuxOptions":{"user":"u","role":"r"},
          "appArmorProfile":{"type":"Unconfined"}},
         "ports":[{"containerPort":80,"hostPort":80},{"containerPort":8080,"hostPort":8080}]},
        {"name":"b","securityContext":{"privileged":true,"seccompProfile":{"type":"Unconfined"},
          "windowsOptions":{"hostProcess":true}},
         "ports":[{"containerPort":9,"hostPort":9}]}],
      "volumes":[{"name":"h","hostPath":{"path":"/"}},{"name":"e","emptyDir":{}}]}})";
  EXPECT_EQ(
      Detail(pod, Latest(Level::kBaseline)),
      "forbidden AppArmor profiles (container \"a\" and annotation must not set AppArmor profile "
      "type to \"Unconfined\", "
      "\"container.apparmor.security.beta.kubernetes.io/a=\"unconfined\"\"), "
      "non-default capabilities (container \"a\" must not include \"NET_ADMIN\", \"SYS_TIME\" in "
      "securityContext.capabilities.add), "
      "host namespaces (hostNetwork=true, hostPID=true, hostIPC=true), "
      "hostPath volumes (volume \"h\"), "
      "hostPort (containers \"a\", \"b\" use hostPorts 80, 8080, 9), "
      "privileged (containers \"a\", \"b\" must not set securityContext.privileged=true), "
      "procMount (container \"a\" must not set securityContext.procMount to \"Unmasked\"), "
      "seLinuxOptions (pod and container \"a\" set forbidden securityContext.seLinuxOptions: type "
      "\"spc_t\"; user may not be set; role may not be set), "
      "seccompProfile (pod and container \"b\" must not set securityContext.seccompProfile.type to "
      "\"Unconfined\"), "
      "forbidden sysctls (kernel.msgmax, vm.swappiness), "
      "hostProcess (pod and container \"b\" must not set "
      "securityContext.windowsOptions.hostProcess=true)");
}

TEST(PodSecurityChecks, SingleHostPortAndVolumeWording) {
  EXPECT_EQ(Detail(R"({"spec":{"containers":[{"name":"a","ports":[{"containerPort":80,
                      "hostPort":80}]}]}})",
                   Latest(Level::kBaseline)),
            "hostPort (container \"a\" uses hostPort 80)");
  EXPECT_EQ(Detail(R"({"spec":{"containers":[{"name":"a","securityContext":{"capabilities":
                      {"add":["SYS_ADMIN"]}}}]}})",
                   Latest(Level::kBaseline)),
            "non-default capabilities (container \"a\" must not include \"SYS_ADMIN\" in "
            "securityContext.capabilities.add)");
}

TEST(PodSecurityChecks, RestrictedVolumesReplaceHostPathCheck) {
  std::string d = Detail(R"({"spec":{
      "securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"Localhost",
        "localhostProfile":"x"}},
      "containers":[{"name":"c","securityContext":{"allowPrivilegeEscalation":false,
        "capabilities":{"drop":["ALL"]}}}],
      "volumes":[{"name":"h","hostPath":{"path":"/"}},{"name":"n","nfs":{"server":"s","path":"/"}},
                 {"name":"p","persistentVolumeClaim":{"claimName":"c"}},
                 {"name":"g","gitRepo":{"repository":"r"}}]}})",
                         Latest(Level::kRestricted));
  EXPECT_EQ(d,
            "restricted volume types (volumes \"h\", \"n\", \"g\" use restricted volume types "
            "\"gitRepo\", \"hostPath\", \"nfs\")");
}

TEST(PodSecurityChecks, RestrictedExplicitValues) {
  EXPECT_EQ(Detail(R"({"spec":{
      "securityContext":{"runAsNonRoot":false,"runAsUser":0,
                         "seccompProfile":{"type":"Unconfined"}},
      "containers":[{"name":"a","securityContext":{"runAsNonRoot":false,"runAsUser":0,
          "allowPrivilegeEscalation":true,
          "capabilities":{"drop":["ALL"],"add":["NET_BIND_SERVICE","NET_RAW","CHOWN"]}}},
        {"name":"b","securityContext":{"allowPrivilegeEscalation":false,
          "capabilities":{"drop":["NET_RAW"]}}}]}})",
                   Latest(Level::kRestricted)),
            "allowPrivilegeEscalation != false (container \"a\" must set "
            "securityContext.allowPrivilegeEscalation=false), "
            "unrestricted capabilities (container \"b\" must set "
            "securityContext.capabilities.drop=[\"ALL\"]; container \"a\" must not include "
            "\"CHOWN\", \"NET_RAW\" in securityContext.capabilities.add), "
            "runAsNonRoot != true (pod and container \"a\" must not set "
            "securityContext.runAsNonRoot=false), "
            "runAsUser=0 (pod and container \"a\" must not set runAsUser=0), "
            "seccompProfile (pod must not set securityContext.seccompProfile.type to "
            "\"Unconfined\")");
}

TEST(PodSecurityChecks, VersionsChangeChecks) {
  const char* rmem = R"({"spec":{"securityContext":{"sysctls":[{"name":"net.ipv4.tcp_rmem",
                        "value":"1"}]},"containers":[{"name":"c"}]}})";
  EXPECT_EQ(Detail(rmem, Latest(Level::kBaseline)), "");
  EXPECT_EQ(Detail(rmem, V(Level::kBaseline, 32)), "");
  EXPECT_EQ(Detail(rmem, V(Level::kBaseline, 40)), "");  // past the newest: as 1.32
  EXPECT_EQ(Detail(rmem, V(Level::kBaseline, 31)), "forbidden sysctls (net.ipv4.tcp_rmem)");
  const char* engine = R"({"spec":{"securityContext":{"seLinuxOptions":{
                          "type":"container_engine_t"}},"containers":[{"name":"c"}]}})";
  EXPECT_EQ(Detail(engine, V(Level::kBaseline, 31)), "");
  EXPECT_EQ(Detail(engine, V(Level::kBaseline, 30)),
            "seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: type "
            "\"container_engine_t\")");
  // runAsUser is checked from 1.23, capabilities from 1.22, seccomp from 1.19.
  const char* root = R"({"spec":{"securityContext":{"runAsNonRoot":true,"runAsUser":0},
    "containers":[{"name":"c","securityContext":{"allowPrivilegeEscalation":false}}]}})";
  EXPECT_EQ(Detail(root, V(Level::kRestricted, 18)), "");
  EXPECT_EQ(Detail(root, V(Level::kRestricted, 22)),
            "unrestricted capabilities (container \"c\" must set "
            "securityContext.capabilities.drop=[\"ALL\"]), seccompProfile (pod or container \"c\" "
            "must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")");
  EXPECT_EQ(Detail(root, V(Level::kRestricted, 23)),
            "unrestricted capabilities (container \"c\" must set "
            "securityContext.capabilities.drop=[\"ALL\"]), runAsUser=0 (pod must not set "
            "runAsUser=0), seccompProfile (pod or container \"c\" must set "
            "securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")");
  // Before 1.19, seccomp is the annotations' business.
  const char* ann = R"({"metadata":{"annotations":{
      "seccomp.security.alpha.kubernetes.io/pod":"unconfined",
      "container.seccomp.security.alpha.kubernetes.io/c":"runtime/default"}},
    "spec":{"containers":[{"name":"c"}]}})";
  EXPECT_EQ(Detail(ann, V(Level::kBaseline, 18)),
            "seccompProfile (forbidden annotation "
            "seccomp.security.alpha.kubernetes.io/pod=\"unconfined\")");
  EXPECT_EQ(Detail(ann, Latest(Level::kBaseline)), "");
}

TEST(PodSecurityChecks, WindowsPodsSkipLinuxOnlyChecksFrom125) {
  const char* win = R"({"spec":{"os":{"name":"windows"},"securityContext":{"runAsNonRoot":true},
    "containers":[{"name":"c"}]}})";
  EXPECT_EQ(Detail(win, Latest(Level::kRestricted)), "");
  EXPECT_EQ(Detail(win, V(Level::kRestricted, 24)),
            "allowPrivilegeEscalation != false (container \"c\" must set "
            "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities "
            "(container \"c\" must set securityContext.capabilities.drop=[\"ALL\"]), "
            "seccompProfile (pod or container \"c\" must set securityContext.seccompProfile.type "
            "to \"RuntimeDefault\" or \"Localhost\")");
}

json::object Labels(std::string_view text) { return json::parse(text).as_object(); }

TEST(PodSecurityPolicy, NoLabelsIsPrivileged) {
  std::vector<Cause> errors;
  Policy p = PolicyFromLabels(nullptr, &errors);
  EXPECT_EQ(p.enforce.String(), "privileged:latest");
  EXPECT_EQ(p.warn.String(), "privileged:latest");
  EXPECT_TRUE(errors.empty());
}

TEST(PodSecurityPolicy, WarnFollowsStricterEnforce) {
  json::object l = Labels(R"({"pod-security.kubernetes.io/enforce":"baseline",
                             "pod-security.kubernetes.io/enforce-version":"v1.25"})");
  Policy p = PolicyFromLabels(&l, nullptr);
  EXPECT_EQ(p.enforce.String(), "baseline:v1.25");
  EXPECT_EQ(p.warn.String(), "baseline:v1.25");
  EXPECT_EQ(p.audit.String(), "privileged:latest");
  l = Labels(R"({"pod-security.kubernetes.io/enforce":"baseline",
                 "pod-security.kubernetes.io/warn":"restricted",
                 "pod-security.kubernetes.io/audit":"restricted",
                 "pod-security.kubernetes.io/audit-version":"v1.0"})");
  p = PolicyFromLabels(&l, nullptr);
  EXPECT_EQ(p.enforce.String(), "baseline:latest");
  EXPECT_EQ(p.warn.String(), "restricted:latest");
  EXPECT_EQ(p.audit.String(), "restricted:v1.0");
  l = Labels(R"({"pod-security.kubernetes.io/enforce":"restricted",
                 "pod-security.kubernetes.io/warn-version":"v1.30"})");
  p = PolicyFromLabels(&l, nullptr);
  EXPECT_EQ(p.warn.String(), "restricted:v1.30");
}

TEST(PodSecurityPolicy, InvalidLabels) {
  json::object l = Labels(R"({"pod-security.kubernetes.io/enforce":"strict",
                             "pod-security.kubernetes.io/enforce-version":"1.25",
                             "pod-security.kubernetes.io/warn":"Baseline",
                             "pod-security.kubernetes.io/warn-version":"v1.025"})");
  std::vector<Cause> errors;
  Policy p = PolicyFromLabels(&l, &errors);
  ASSERT_EQ(errors.size(), 4u);
  EXPECT_EQ(errors[0].field, "metadata.labels[pod-security.kubernetes.io/enforce]");
  EXPECT_EQ(errors[0].message,
            "Invalid value: \"strict\": must be one of privileged, baseline, restricted");
  EXPECT_EQ(errors[1].field, "metadata.labels[pod-security.kubernetes.io/enforce-version]");
  EXPECT_EQ(errors[1].message, "Invalid value: \"1.25\": must be \"latest\" or \"v1.x\"");
  EXPECT_EQ(errors[3].field, "metadata.labels[pod-security.kubernetes.io/warn-version]");
  // What an invalid label evaluates as: enforce restricted, warn privileged, versions latest.
  EXPECT_EQ(p.enforce.String(), "restricted:latest");
  EXPECT_EQ(p.warn.String(), "privileged:latest");
}

// ---- through Rest ------------------------------------------------------------------------------

class PodSecurityAdmissionTest : public RestFixture {
 protected:
  const api::KindInfo& Kind(const char* group, const char* kind) {
    return *api::BuiltinRegistry().FindKind(group, "v1", kind);
  }
  // A namespace with these labels (JSON object text), and its default service account.
  Result<ObjectPtr> CreateNamespace(const std::string& name, std::string_view labels,
                                    std::vector<std::string>* warnings = nullptr) {
    json::object meta{{"name", name}, {"labels", json::parse(labels)}};
    json::object o{{"metadata", std::move(meta)}};
    WriteOptions opts;
    opts.warnings = warnings;
    auto r = Run(rest_->Create(Kind("", "Namespace"), "", json::value(std::move(o)), opts));
    if (r.ok()) {
      auto sa = CreateDefaultServiceAccount(name);
      if (!sa.ok()) return sa.status();
    }
    return r;
  }
  Result<ObjectPtr> Create(const char* group, const char* kind, const std::string& ns,
                           std::string_view text, std::vector<std::string>* warnings) {
    WriteOptions opts;
    opts.warnings = warnings;
    return Run(rest_->Create(Kind(group, kind), ns, json::parse(text), opts));
  }
  Result<ObjectPtr> Patch(const char* group, const char* kind, const std::string& ns,
                          const std::string& name, std::string_view patch,
                          std::vector<std::string>* warnings, std::string sub = "") {
    WriteOptions opts;
    opts.warnings = warnings;
    return Run(rest_->Patch(Kind(group, kind), ns, name, sub, PatchType::kStrategic,
                            json::parse(patch), opts));
  }
};

constexpr char kPodP[] =
    R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"busybox"}]}})";

constexpr char kRestrictedPrefix[] =
    "pods \"p\" is forbidden: violates PodSecurity \"restricted:latest\": ";
constexpr char kRestrictedDetail[] =
    "allowPrivilegeEscalation != false (container \"c\" must set "
    "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container \"c\" "
    "must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true (pod or "
    "container \"c\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or "
    "container \"c\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or "
    "\"Localhost\")";
const std::string kRestrictedMessage = std::string(kRestrictedPrefix) + kRestrictedDetail;

TEST_F(PodSecurityAdmissionTest, EnforceRestrictedRefusesPlainPod) {
  ASSERT_TRUE(CreateNamespace("r", R"({"pod-security.kubernetes.io/enforce":"restricted"})").ok());
  std::vector<std::string> warnings;
  auto p = Create("", "Pod", "r", kPodP, &warnings);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Code::kForbidden);
  EXPECT_EQ(p.status().message(), kRestrictedMessage);
  EXPECT_TRUE(warnings.empty());  // no warning on a refused pod
  // Dry run too.
  WriteOptions dry;
  dry.dry_run = true;
  auto d = Run(rest_->Create(Kind("", "Pod"), "r", json::parse(kPodP), dry));
  EXPECT_EQ(d.status().code(), Code::kForbidden);
  // A compliant pod is admitted, without a warning.
  std::string ok = R"({"metadata":{"name":"ok"},)" + std::string(kRestrictedPod).substr(1);
  auto good = Create("", "Pod", "r", ok, &warnings);
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_TRUE(warnings.empty());
  // Unlabelled namespaces check nothing.
  EXPECT_TRUE(Create("", "Pod", "default", kPodP, nullptr).ok());
}

TEST_F(PodSecurityAdmissionTest, EnforceBaselineWarnRestricted) {
  ASSERT_TRUE(CreateNamespace("b", R"({"pod-security.kubernetes.io/enforce":"baseline",
                                      "pod-security.kubernetes.io/warn":"restricted"})")
                  .ok());
  std::vector<std::string> warnings;
  auto priv = Create("", "Pod", "b", R"({"metadata":{"name":"priv"},"spec":{"hostNetwork":true,
      "containers":[{"name":"c","image":"busybox","securityContext":{"privileged":true}}]}})",
                     &warnings);
  ASSERT_FALSE(priv.ok());
  // A hostNetwork pod's ports default their hostPort: none here.
  EXPECT_EQ(priv.status().message(),
            "pods \"priv\" is forbidden: violates PodSecurity \"baseline:latest\": host namespaces "
            "(hostNetwork=true), privileged (container \"c\" must not set "
            "securityContext.privileged=true)");
  auto plain = Create("", "Pod", "b", kPodP, &warnings);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0],
            std::string("would violate PodSecurity \"restricted:latest\": ") + kRestrictedDetail);
}

TEST_F(PodSecurityAdmissionTest, InvalidLabelsRefuseNamespace) {
  auto bad = CreateNamespace("bad", R"({"pod-security.kubernetes.io/enforce":"strict"})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalid);
  EXPECT_EQ(bad.status().message(),
            "Namespace \"bad\" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: "
            "Invalid value: \"strict\": must be one of privileged, baseline, restricted");
  ASSERT_TRUE(CreateNamespace("n", "{}").ok());
  auto upd =
      Patch("", "Namespace", "", "n",
            R"({"metadata":{"labels":{"pod-security.kubernetes.io/warn-version":"x"}}})", nullptr);
  ASSERT_FALSE(upd.ok());
  EXPECT_EQ(upd.status().message(),
            "Namespace \"n\" is invalid: "
            "metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: \"x\": must "
            "be \"latest\" or \"v1.x\"");
}

TEST_F(PodSecurityAdmissionTest, WorkloadsOnlyWarn) {
  ASSERT_TRUE(CreateNamespace("w", R"({"pod-security.kubernetes.io/enforce":"restricted"})").ok());
  std::vector<std::string> warnings;
  auto d = Create("apps", "Deployment", "w", R"({"metadata":{"name":"web"},"spec":{
      "selector":{"matchLabels":{"app":"web"}},
      "template":{"metadata":{"labels":{"app":"web"}},
                  "spec":{"containers":[{"name":"c","image":"busybox"}]}}}})",
                  &warnings);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].rfind("would violate PodSecurity \"restricted:latest\": "
                              "allowPrivilegeEscalation != false (container \"c\" must set",
                              0),
            0u)
      << warnings[0];
  // An update of the object warns again; scale and status do not.
  warnings.clear();
  ASSERT_TRUE(
      Patch("apps", "Deployment", "w", "web", R"({"metadata":{"labels":{"x":"y"}}})", &warnings)
          .ok());
  EXPECT_EQ(warnings.size(), 1u);
  warnings.clear();
  auto s =
      Patch("apps", "Deployment", "w", "web", R"({"spec":{"replicas":3}})", &warnings, "scale");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(warnings.empty());
  // A Job and a CronJob too.
  warnings.clear();
  ASSERT_TRUE(Create("batch", "CronJob", "w", R"({"metadata":{"name":"cj"},"spec":{
      "schedule":"* * * * *","jobTemplate":{"spec":{"template":{"spec":{
        "restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}}}})",
                     &warnings)
                  .ok());
  EXPECT_EQ(warnings.size(), 1u);
  // A privileged namespace: nothing.
  warnings.clear();
  ASSERT_TRUE(Create("apps", "ReplicaSet", "default", R"({"metadata":{"name":"rs"},"spec":{
      "selector":{"matchLabels":{"app":"web"}},
      "template":{"metadata":{"labels":{"app":"web"}},
                  "spec":{"containers":[{"name":"c","image":"busybox"}]}}}})",
                     &warnings)
                  .ok());
  EXPECT_TRUE(warnings.empty());
}

TEST_F(PodSecurityAdmissionTest, PodUpdatesCheckedWhenSignificant) {
  ASSERT_TRUE(CreateNamespace("u", "{}").ok());
  ASSERT_TRUE(Create("", "Pod", "u", kPodP, nullptr).ok());
  std::vector<std::string> warnings;
  ASSERT_TRUE(
      Patch("", "Namespace", "", "u",
            R"({"metadata":{"labels":{"pod-security.kubernetes.io/enforce":"restricted"}}})",
            &warnings)
          .ok());
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_EQ(warnings[0],
            "existing pods in namespace \"u\" violate the new PodSecurity enforce level "
            "\"restricted:latest\"");
  EXPECT_EQ(
      warnings[1],
      "p: allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, "
      "seccompProfile");
  // Relaxing (same version) warns about nothing.
  warnings.clear();
  ASSERT_TRUE(Patch("", "Namespace", "", "u",
                    R"({"metadata":{"labels":{"pod-security.kubernetes.io/enforce":"baseline"}}})",
                    &warnings)
                  .ok());
  EXPECT_TRUE(warnings.empty());
  ASSERT_TRUE(
      Patch("", "Namespace", "", "u",
            R"({"metadata":{"labels":{"pod-security.kubernetes.io/enforce":"restricted"}}})",
            nullptr)
          .ok());
  // A metadata-only update of the existing pod is not checked; an image change is.
  ASSERT_TRUE(Patch("", "Pod", "u", "p", R"({"metadata":{"labels":{"a":"b"}}})", nullptr).ok());
  auto img = Patch("", "Pod", "u", "p",
                   R"({"spec":{"containers":[{"name":"c","image":"busybox:2"}]}})", nullptr);
  ASSERT_FALSE(img.ok());
  EXPECT_EQ(img.status().code(), Code::kForbidden);
  EXPECT_EQ(img.status().message(), kRestrictedMessage);
}

TEST_F(PodSecurityAdmissionTest, ApplyAndEphemeralContainers) {
  ASSERT_TRUE(CreateNamespace("a", R"({"pod-security.kubernetes.io/warn":"baseline",
                                      "pod-security.kubernetes.io/enforce":"restricted"})")
                  .ok());
  const char* deploy = R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},
      "spec":{"selector":{"matchLabels":{"app":"d"}},
              "template":{"metadata":{"labels":{"app":"d"}},
                          "spec":{"hostNetwork":true,
                                  "containers":[{"name":"c","image":"busybox",
                                                 "ports":[{"containerPort":8080}]}]}}}})";
  WriteOptions opts;
  std::vector<std::string> warnings;
  opts.warnings = &warnings;
  opts.field_manager = "test";
  // Server-side apply: a create, then an update; the template is evaluated with its defaults
  // (a hostNetwork pod's ports get their hostPort).
  for (int i = 0; i < 2; ++i) {
    warnings.clear();
    auto r = Run(rest_->Patch(Kind("apps", "Deployment"), "a", "d", "", PatchType::kApply,
                              json::parse(deploy), opts));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(warnings.size(), 1u) << i;
    EXPECT_EQ(warnings[0],
              "would violate PodSecurity \"baseline:latest\": host namespaces (hostNetwork=true), "
              "hostPort (container \"c\" uses hostPort 8080)");
  }
  // An ephemeral container added to a compliant pod is checked (the ephemeralcontainers
  // subresource writes through Mutate).
  std::string ok = R"({"metadata":{"name":"ok"},)" + std::string(kRestrictedPod).substr(1);
  ASSERT_TRUE(Create("", "Pod", "a", ok, nullptr).ok());
  std::function<Status(json::object&)> add = [](json::object& pod) {
    pod["spec"].as_object()["ephemeralContainers"] =
        json::parse(R"([{"name":"dbg","image":"busybox"}])");
    return Status::Ok();
  };
  WriteOptions eopts;
  eopts.skip_update_validation = true;
  auto e = Run(rest_->Mutate(Kind("", "Pod"), "a", "ok", add, eopts));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(),
            "pods \"ok\" is forbidden: violates PodSecurity \"restricted:latest\": "
            "allowPrivilegeEscalation != false (container \"dbg\" must set "
            "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "
            "\"dbg\" must set securityContext.capabilities.drop=[\"ALL\"])");
}

}  // namespace
}  // namespace sampan::apiserver
