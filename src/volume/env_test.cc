#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "volume/volume_internal.h"
#include "volume/volumes.h"

namespace sampan::volume {
namespace {

namespace json = boost::json;

json::object Parse(const char* text) { return json::parse(text).as_object(); }

// A fake API: "Kind/ns/name" → object; counts reads.
struct FakeApi {
  std::map<std::string, json::object> objects;
  int reads = 0;
  ObjectGetter Getter() {
    return [this](const std::string& kind, const std::string& ns,
                  const std::string& name) -> Result<json::object> {
      ++reads;
      auto it = objects.find(kind + "/" + ns + "/" + name);
      if (it == objects.end()) return NotFound("configmaps \"" + name + "\" not found");
      return it->second;
    };
  }
};

std::optional<std::string> Lookup(std::string_view name) {
  if (name == "A") return std::string("alpha");
  if (name == "EMPTY") return std::string();
  return std::nullopt;
}

TEST(ExpandVars, FollowsKubernetesRules) {
  EXPECT_EQ(ExpandVars("$(A)", Lookup), "alpha");
  EXPECT_EQ(ExpandVars("x-$(A)-y", Lookup), "x-alpha-y");
  EXPECT_EQ(ExpandVars("$(B)", Lookup), "$(B)");   // unknown: kept as written
  EXPECT_EQ(ExpandVars("$$(A)", Lookup), "$(A)");  // escaped
  EXPECT_EQ(ExpandVars("$$", Lookup), "$");
  EXPECT_EQ(ExpandVars("$$$(A)", Lookup), "$alpha");
  EXPECT_EQ(ExpandVars("$A", Lookup), "$A");    // not a reference
  EXPECT_EQ(ExpandVars("$(A", Lookup), "$(A");  // unterminated
  EXPECT_EQ(ExpandVars("tail$", Lookup), "tail$");
  EXPECT_EQ(ExpandVars("$()", Lookup), "$()");
  EXPECT_EQ(ExpandVars("$(EMPTY)x", Lookup), "x");
  EXPECT_EQ(ExpandVars("", Lookup), "");
  EXPECT_EQ(ExpandVarRefs("$(X) $(Y)", {"X=1", "Y=a=b", "X=2"}), "2 a=b");
}

const char* kPod = R"({
  "metadata": {"name": "web-1", "namespace": "prod", "uid": "u-123",
               "labels": {"app": "web", "tier": "front\"end"},
               "annotations": {"note": "line1\nline2", "k8s.io/x": "y"}},
  "spec": {"nodeName": "node-a", "serviceAccountName": "sa",
           "containers": [
             {"name": "main", "resources": {"limits": {"cpu": "250m", "memory": "64Mi"},
                                            "requests": {"cpu": "100m", "memory": "100M",
                                                         "hugepages-2Mi": "4Mi"}}},
             {"name": "side"}],
           "initContainers": [{"name": "init", "resources": {"limits": {"cpu": "2"}}}]},
  "status": {"podIP": "10.1.0.5", "podIPs": [{"ip": "10.1.0.5"}, {"ip": "fd00::5"}],
             "hostIP": "192.168.1.2", "hostIPs": [{"ip": "192.168.1.2"}, {"ip": "fd01::2"}]}
})";

VolumeOptions Node() {
  VolumeOptions o;
  o.node_allocatable_cpu_milli = 4000;
  o.node_allocatable_memory = 8LL << 30;
  o.node_allocatable_ephemeral_storage = 10LL << 30;
  return o;
}

TEST(PodFieldValue, PathsKubernetesAllows) {
  json::object pod = Parse(kPod);
  EXPECT_EQ(*PodFieldValue(pod, "metadata.name"), "web-1");
  EXPECT_EQ(*PodFieldValue(pod, "metadata.namespace"), "prod");
  EXPECT_EQ(*PodFieldValue(pod, "metadata.uid"), "u-123");
  EXPECT_EQ(*PodFieldValue(pod, "metadata.labels['app']"), "web");
  EXPECT_EQ(*PodFieldValue(pod, "metadata.labels['missing']"), "");
  EXPECT_EQ(*PodFieldValue(pod, "metadata.annotations['k8s.io/x']"), "y");
  EXPECT_EQ(*PodFieldValue(pod, "metadata.labels"), "app=\"web\"\ntier=\"front\\\"end\"");
  EXPECT_EQ(*PodFieldValue(pod, "metadata.annotations"), "k8s.io/x=\"y\"\nnote=\"line1\\nline2\"");
  EXPECT_EQ(*PodFieldValue(pod, "spec.nodeName"), "node-a");
  EXPECT_EQ(*PodFieldValue(pod, "spec.serviceAccountName"), "sa");
  EXPECT_EQ(*PodFieldValue(pod, "status.podIP"), "10.1.0.5");
  EXPECT_EQ(*PodFieldValue(pod, "status.podIPs"), "10.1.0.5,fd00::5");
  EXPECT_EQ(*PodFieldValue(pod, "status.hostIP"), "192.168.1.2");
  EXPECT_EQ(*PodFieldValue(pod, "status.hostIPs"), "192.168.1.2,fd01::2");
}

TEST(PodFieldValue, ErrorsWordedAsKubelet) {
  json::object pod = Parse(kPod);
  auto r = PodFieldValue(pod, "spec.hostname");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_EQ(r.status().message(), "field label not supported: spec.hostname");
  r = PodFieldValue(pod, "spec.restartPolicy");  // a label, but not a value the kubelet gives
  EXPECT_EQ(r.status().message(), "unsupported fieldPath: spec.restartPolicy");
  r = PodFieldValue(pod, "metadata.labels['bad key']");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("invalid key subscript in metadata.labels['bad key']: ", 0),
            0u)
      << r.status().message();
  // Annotation keys are checked lower-cased: upper case is fine there.
  EXPECT_TRUE(PodFieldValue(pod, "metadata.annotations['Note']").ok());
}

TEST(ResourceFieldValue, RoundsUpWithDivisor) {
  json::object pod = Parse(kPod);
  VolumeOptions n = Node();
  EXPECT_EQ(*ResourceFieldValue(pod, "main", "limits.cpu", "", n), "1");  // 250m → ceil 1
  EXPECT_EQ(*ResourceFieldValue(pod, "main", "limits.cpu", "1m", n), "250");
  EXPECT_EQ(*ResourceFieldValue(pod, "main", "limits.cpu", "0", n), "1");  // zero divisor = 1
  EXPECT_EQ(*ResourceFieldValue(pod, "main", "requests.cpu", "1m", n), "100");
  EXPECT_EQ(*ResourceFieldValue(pod, "main", "limits.memory", "1Mi", n), "64");
  EXPECT_EQ(*ResourceFieldValue(pod, "main", "limits.memory", "", n), "67108864");
  EXPECT_EQ(*ResourceFieldValue(pod, "main", "requests.memory", "1Mi", n), "96");  // 95.37 up
  EXPECT_EQ(*ResourceFieldValue(pod, "main", "requests.hugepages-2Mi", "1Mi", n), "4");
  // No limit: node allocatable. No request: 0.
  EXPECT_EQ(*ResourceFieldValue(pod, "side", "limits.cpu", "", n), "4");
  EXPECT_EQ(*ResourceFieldValue(pod, "side", "limits.memory", "1Gi", n), "8");
  EXPECT_EQ(*ResourceFieldValue(pod, "side", "limits.ephemeral-storage", "1Gi", n), "10");
  EXPECT_EQ(*ResourceFieldValue(pod, "side", "requests.memory", "", n), "0");
  EXPECT_EQ(*ResourceFieldValue(pod, "side", "limits.hugepages-2Mi", "", n), "0");
  EXPECT_EQ(*ResourceFieldValue(pod, "init", "limits.cpu", "1m", n), "2000");

  auto r = ResourceFieldValue(pod, "main", "limits.gpu", "", n);
  EXPECT_EQ(r.status().message(), "unsupported container resource : limits.gpu");
  r = ResourceFieldValue(pod, "nope", "limits.cpu", "", n);
  EXPECT_EQ(r.status().message(), "container nope not found");
  EXPECT_FALSE(ResourceFieldValue(pod, "main", "limits.cpu", "one", n).ok());
}

class ContainerEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api.objects["ConfigMap/prod/cfg"] = Parse(
        R"({"data": {"HOST": "db", "PORT": "5432", "bad=key": "x", "tab\tkey": "y"},
            "binaryData": {"BIN": "AAE="}})");
    api.objects["Secret/prod/sec"] = Parse(R"({"data": {"PASSWORD": "czNjcjN0"}})");
  }
  Result<std::vector<std::string>> Env(const char* container_json,
                                       std::vector<std::string> service = {},
                                       std::vector<std::string>* warnings = nullptr) {
    pod = Parse(kPod);
    container = Parse(container_json);
    return ContainerEnv(pod, container, service, api.Getter(), Node(), warnings);
  }
  FakeApi api;
  json::object pod, container;
};

TEST_F(ContainerEnvTest, OrderOverridesAndExpansion) {
  std::vector<std::string> warnings;
  auto env = Env(R"J({"name": "main",
    "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "DB_"},
                {"secretRef": {"name": "sec"}}],
    "env": [{"name": "URL", "value": "$(DB_HOST):$(DB_PORT)/$(LATER)"},
            {"name": "DB_PORT", "value": "6543"},
            {"name": "LATER", "value": "x"},
            {"name": "SVC", "value": "$(KUBERNETES_SERVICE_HOST)"},
            {"name": "ESC", "value": "$$(DB_HOST)"},
            {"name": "EMPTY"}]})J",
                 {"KUBERNETES_SERVICE_HOST=10.0.0.1", "DB_PORT=1"}, &warnings);
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(*env,
            (std::vector<std::string>{
                "DB_HOST=db", "DB_PORT=6543", "PASSWORD=s3cr3t", "URL=db:5432/$(LATER)", "LATER=x",
                "SVC=10.0.0.1", "ESC=$(DB_HOST)", "EMPTY=", "KUBERNETES_SERVICE_HOST=10.0.0.1"}));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0],
            "Keys [DB_bad=key, DB_tab\tkey] from the EnvFrom configMap prod/cfg were skipped "
            "since they are considered invalid environment variable names.");
  EXPECT_EQ(api.reads, 2);  // each object read once
}

TEST_F(ContainerEnvTest, ValueFromSources) {
  auto env = Env(R"({"name": "main", "env": [
    {"name": "H", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "HOST"}}},
    {"name": "P", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "PASSWORD"}}},
    {"name": "N", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
    {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
    {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
    {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}},
    {"name": "MEM", "valueFrom": {"resourceFieldRef": {"containerName": "side",
                                                        "resource": "limits.memory"}}},
    {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "gone", "key": "k", "optional": true}}},
    {"name": "OPTKEY", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "nokey", "optional": true}}},
    {"name": "BIN", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "BIN", "optional": true}}},
    {"name": "FUTURE", "valueFrom": {"fileKeyRef": {"path": "x", "key": "y"}}}
  ]})");
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(*env, (std::vector<std::string>{"H=db", "P=s3cr3t", "N=web-1", "IP=10.1.0.5", "APP=web",
                                            "CPU=250", "MEM=8589934592", "FUTURE="}));
}

TEST_F(ContainerEnvTest, MissingSourcesAreNotFound) {
  auto env = Env(R"({"name": "main", "envFrom": [{"configMapRef": {"name": "gone"}}]})");
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.status().code(), Code::kNotFound);
  EXPECT_EQ(env.status().message(), "configmap \"gone\" not found");

  env = Env(R"({"name": "main", "envFrom": [{"configMapRef": {"name": "gone", "optional": true}},
                                             {"secretRef": {"name": "nosec", "optional": true}}]})");
  ASSERT_TRUE(env.ok());
  EXPECT_TRUE(env->empty());

  env = Env(R"({"name": "main", "env": [
    {"name": "P", "valueFrom": {"secretKeyRef": {"name": "nosec", "key": "k"}}}]})");
  EXPECT_EQ(env.status().message(), "secret \"nosec\" not found");

  env = Env(R"({"name": "main", "env": [
    {"name": "P", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "k"}}}]})");
  EXPECT_EQ(env.status().code(), Code::kNotFound);
  EXPECT_EQ(env.status().message(), "couldn't find key k in Secret prod/sec");

  env = Env(R"({"name": "main", "env": [
    {"name": "P", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "BIN"}}}]})");
  EXPECT_EQ(env.status().message(), "couldn't find key BIN in ConfigMap prod/cfg");

  env = Env(R"({"name": "main", "env": [
    {"name": "P", "valueFrom": {"fieldRef": {"apiVersion": "v2", "fieldPath": "metadata.name"}}}]})");
  EXPECT_EQ(env.status().message(), "unsupported pod version: v2");

  // A getter failure other than NotFound is not hidden by optional.
  ObjectGetter failing = [](const std::string&, const std::string&,
                            const std::string&) -> Result<json::object> {
    return Unavailable("api down");
  };
  json::object c =
      Parse(R"({"name": "main", "envFrom": [{"configMapRef": {"name": "x", "optional": true}}]})");
  auto r = ContainerEnv(Parse(kPod), c, {}, failing, Node());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
}

TEST(CleanPath, LikeGoPathClean) {
  using internal::CleanPath;
  EXPECT_EQ(CleanPath("a//b/./c/"), "a/b/c");
  EXPECT_EQ(CleanPath("./a"), "a");
  EXPECT_EQ(CleanPath("a/b/../c"), "a/c");
  EXPECT_EQ(CleanPath(""), ".");
  EXPECT_EQ(CleanPath("../x"), "../x");
  EXPECT_EQ(CleanPath("/a/../.."), "/");
}

}  // namespace
}  // namespace sampan::volume

namespace sampan::volume {
namespace {

std::shared_ptr<const boost::json::object> ServiceObj(const char* text) {
  return std::make_shared<const boost::json::object>(boost::json::parse(text).as_object());
}

TEST(ServiceLinkEnv, VariablesOfTheNamespacesServicesAndKubernetes) {
  auto api = ServiceObj(R"({"metadata":{"namespace":"default","name":"kubernetes"},
    "spec":{"clusterIP":"10.43.0.1","ports":[{"name":"https","port":443,"protocol":"TCP"}]}})");
  auto web = ServiceObj(R"({"metadata":{"namespace":"shop","name":"web-front"},
    "spec":{"clusterIP":"10.43.1.5","ports":[{"name":"http","port":80},
      {"name":"dns-udp","port":53,"protocol":"UDP"}]}})");
  auto headless = ServiceObj(R"({"metadata":{"namespace":"shop","name":"hl"},
    "spec":{"clusterIP":"None","ports":[{"port":80}]}})");
  auto elsewhere = ServiceObj(R"({"metadata":{"namespace":"other","name":"db"},
    "spec":{"clusterIP":"10.43.1.6","ports":[{"port":5432}]}})");
  auto pod = boost::json::parse(R"({"metadata":{"namespace":"shop","name":"p"},"spec":{}})")
                 .as_object();
  std::vector<std::string> want = {
      "KUBERNETES_PORT=tcp://10.43.0.1:443",
      "KUBERNETES_PORT_443_TCP=tcp://10.43.0.1:443",
      "KUBERNETES_PORT_443_TCP_ADDR=10.43.0.1",
      "KUBERNETES_PORT_443_TCP_PORT=443",
      "KUBERNETES_PORT_443_TCP_PROTO=tcp",
      "KUBERNETES_SERVICE_HOST=10.43.0.1",
      "KUBERNETES_SERVICE_PORT=443",
      "KUBERNETES_SERVICE_PORT_HTTPS=443",
      "WEB_FRONT_PORT=tcp://10.43.1.5:80",
      "WEB_FRONT_PORT_53_UDP=udp://10.43.1.5:53",
      "WEB_FRONT_PORT_53_UDP_ADDR=10.43.1.5",
      "WEB_FRONT_PORT_53_UDP_PORT=53",
      "WEB_FRONT_PORT_53_UDP_PROTO=udp",
      "WEB_FRONT_PORT_80_TCP=tcp://10.43.1.5:80",
      "WEB_FRONT_PORT_80_TCP_ADDR=10.43.1.5",
      "WEB_FRONT_PORT_80_TCP_PORT=80",
      "WEB_FRONT_PORT_80_TCP_PROTO=tcp",
      "WEB_FRONT_SERVICE_HOST=10.43.1.5",
      "WEB_FRONT_SERVICE_PORT=80",
      "WEB_FRONT_SERVICE_PORT_DNS_UDP=53",
      "WEB_FRONT_SERVICE_PORT_HTTP=80",
  };
  EXPECT_EQ(ServiceLinkEnv(pod, {api, web, headless, elsewhere}), want);

  // enableServiceLinks: false keeps only the kubernetes Service's.
  pod["spec"].as_object()["enableServiceLinks"] = false;
  auto only = ServiceLinkEnv(pod, {api, web});
  ASSERT_EQ(only.size(), 8u);
  for (const auto& e : only) EXPECT_EQ(e.rfind("KUBERNETES_", 0), 0u) << e;

  // The service variables fill in only names the container does not set, and $(VAR) sees them.
  auto c = boost::json::parse(R"J({"name":"c","env":[
      {"name":"KUBERNETES_SERVICE_HOST","value":"mine"},
      {"name":"URL","value":"https://$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_SERVICE_PORT)"}]})J")
               .as_object();
  auto env = ContainerEnv(pod, c, only, ObjectGetter{}, VolumeOptions{});
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_NE(std::find(env->begin(), env->end(), "KUBERNETES_SERVICE_HOST=mine"), env->end());
  EXPECT_NE(std::find(env->begin(), env->end(), "URL=https://mine:443"), env->end());
  auto host_vars = [](const std::string& e) { return e.rfind("KUBERNETES_SERVICE_HOST=", 0) == 0; };
  EXPECT_EQ(std::count_if(env->begin(), env->end(), host_vars), 1);
}

}  // namespace
}  // namespace sampan::volume
