#include "api/strategy.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/schema.h"

namespace sampan::api {
namespace {

namespace json = boost::json;

const KindInfo& Kind(std::string_view group, std::string_view kind,
                     std::string_view version = "v1") {
  const KindInfo* k = BuiltinRegistry().FindKind(group, version, kind);
  SAMPAN_CHECK(k != nullptr);
  return *k;
}

json::object Parse(std::string_view text) { return json::parse(text).as_object(); }

json::value At(const json::object& o, std::initializer_list<std::string_view> path) {
  const json::value* v = nullptr;
  const json::object* cur = &o;
  for (std::string_view p : path) {
    if (cur == nullptr) return nullptr;
    v = cur->if_contains(p);
    if (v == nullptr) return nullptr;
    cur = v->is_object() ? &v->as_object() : nullptr;
  }
  return *v;
}

// "field: message" of each cause, for compact assertions.
std::vector<std::string> Causes(const Status& st) {
  std::vector<std::string> out;
  for (const Cause& c : st.causes()) out.push_back(c.field + ": " + c.message);
  return out;
}

bool HasCause(const Status& st, std::string_view text) {
  for (const std::string& c : Causes(st)) {
    if (c == text) return true;
  }
  return false;
}

std::string Dump(const Status& st) {
  std::string out = st.message();
  for (const std::string& c : Causes(st)) out += "\n  " + c;
  return out;
}

const char* kPod =
    R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"default"},
  "spec":{"containers":[{"name":"web","image":"nginx","ports":[{"containerPort":80}]}]}})";

const char* kDeployment = R"({"apiVersion":"apps/v1","kind":"Deployment",
  "metadata":{"name":"web","namespace":"default"},
  "spec":{"selector":{"matchLabels":{"app":"web"}},
          "template":{"metadata":{"labels":{"app":"web"}},
                      "spec":{"containers":[{"name":"web","image":"nginx:1.25"}]}}}})";

// ---- defaults -------------------------------------------------------------------------------

TEST(DefaultObject, Pod) {
  json::object pod = Parse(kPod);
  DefaultObject(Kind("", "Pod"), pod);
  json::object& spec = pod["spec"].as_object();
  EXPECT_EQ(spec["restartPolicy"], "Always");
  EXPECT_EQ(spec["dnsPolicy"], "ClusterFirst");
  EXPECT_EQ(spec["schedulerName"], "default-scheduler");
  EXPECT_EQ(spec["terminationGracePeriodSeconds"], 30);
  EXPECT_EQ(spec["securityContext"], json::object());
  EXPECT_EQ(spec["enableServiceLinks"], true);
  json::object& c = spec["containers"].as_array()[0].as_object();
  EXPECT_EQ(c["imagePullPolicy"], "Always");
  EXPECT_EQ(c["terminationMessagePath"], "/dev/termination-log");
  EXPECT_EQ(c["terminationMessagePolicy"], "File");
  EXPECT_EQ(c["ports"].as_array()[0].as_object()["protocol"], "TCP");

  json::object again = pod;
  DefaultObject(Kind("", "Pod"), again);
  EXPECT_EQ(again, pod);  // idempotent
}

TEST(DefaultObject, EmptyStringsCountAsUnset) {
  json::object pod = Parse(R"({"metadata":{"name":"p","namespace":"d"},"spec":{"restartPolicy":"",
    "containers":[{"name":"a","image":"x:1","imagePullPolicy":""}]}})");
  DefaultObject(Kind("", "Pod"), pod);
  EXPECT_EQ(At(pod, {"spec", "restartPolicy"}), "Always");
  EXPECT_EQ(pod["spec"].as_object()["containers"].as_array()[0].as_object()["imagePullPolicy"],
            "IfNotPresent");
}

TEST(DefaultObject, ImagePullPolicyFollowsTheTag) {
  const std::pair<const char*, const char*> cases[] = {
      {"nginx", "Always"},
      {"nginx:latest", "Always"},
      {"nginx:1.25", "IfNotPresent"},
      {"localhost:5000/nginx", "Always"},
      {"localhost:5000/nginx:2", "IfNotPresent"},
      {"nginx@sha256:0123456789abcdef", "IfNotPresent"},
  };
  for (const auto& [image, policy] : cases) {
    json::object pod = Parse(kPod);
    pod["spec"].as_object()["containers"].as_array()[0].as_object()["image"] = image;
    DefaultObject(Kind("", "Pod"), pod);
    EXPECT_EQ(At(pod, {"spec"})
                  .as_object()
                  .at("containers")
                  .as_array()[0]
                  .as_object()
                  .at("imagePullPolicy"),
              policy)
        << image;
  }
  // An explicit policy is kept.
  json::object pod = Parse(kPod);
  pod["spec"].as_object()["containers"].as_array()[0].as_object()["imagePullPolicy"] = "Never";
  DefaultObject(Kind("", "Pod"), pod);
  EXPECT_EQ(pod["spec"].as_object()["containers"].as_array()[0].as_object()["imagePullPolicy"],
            "Never");
}

TEST(DefaultObject, PodProbesVolumesAndRequests) {
  json::object pod = Parse(R"({"metadata":{"name":"p","namespace":"d"},"spec":{
    "volumes":[{"name":"scratch"},{"name":"cfg","configMap":{"name":"c"}}],
    "containers":[{"name":"a","image":"x:1",
      "livenessProbe":{"httpGet":{"port":8080}},
      "resources":{"limits":{"cpu":"1","memory":"1Gi"}},
      "env":[{"name":"NODE","valueFrom":{"fieldRef":{"fieldPath":"spec.nodeName"}}}]}]}})");
  DefaultObject(Kind("", "Pod"), pod);
  const json::object& spec = pod["spec"].as_object();
  const json::object& c = spec.at("containers").as_array()[0].as_object();
  const json::object& probe = c.at("livenessProbe").as_object();
  EXPECT_EQ(probe.at("timeoutSeconds"), 1);
  EXPECT_EQ(probe.at("periodSeconds"), 10);
  EXPECT_EQ(probe.at("successThreshold"), 1);
  EXPECT_EQ(probe.at("failureThreshold"), 3);
  EXPECT_EQ(probe.at("httpGet").as_object().at("path"), "/");
  EXPECT_EQ(probe.at("httpGet").as_object().at("scheme"), "HTTP");
  EXPECT_EQ(c.at("resources").as_object().at("requests"),
            json::object({{"cpu", "1"}, {"memory", "1Gi"}}));
  EXPECT_EQ(c.at("env")
                .as_array()[0]
                .as_object()
                .at("valueFrom")
                .as_object()
                .at("fieldRef")
                .as_object()
                .at("apiVersion"),
            "v1");
  const json::array& volumes = spec.at("volumes").as_array();
  EXPECT_EQ(volumes[0].as_object().at("emptyDir"), json::object());
  EXPECT_EQ(volumes[1].as_object().at("configMap").as_object().at("defaultMode"), 420);
}

TEST(DefaultObject, DeploymentAndItsTemplate) {
  json::object d = Parse(kDeployment);
  DefaultObject(Kind("apps", "Deployment"), d);
  const json::object& spec = d["spec"].as_object();
  EXPECT_EQ(spec.at("replicas"), 1);
  EXPECT_EQ(spec.at("revisionHistoryLimit"), 10);
  EXPECT_EQ(spec.at("progressDeadlineSeconds"), 600);
  EXPECT_EQ(
      spec.at("strategy"),
      json::parse(
          R"({"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":"25%"}})"));
  const json::object& pod_spec = spec.at("template").as_object().at("spec").as_object();
  EXPECT_EQ(pod_spec.at("restartPolicy"), "Always");
  EXPECT_FALSE(pod_spec.contains("enableServiceLinks"));  // pods only
  EXPECT_EQ(pod_spec.at("containers").as_array()[0].as_object().at("imagePullPolicy"),
            "IfNotPresent");

  // Recreate gets no rollingUpdate.
  json::object r = Parse(kDeployment);
  r["spec"].as_object()["strategy"] = json::object{{"type", "Recreate"}};
  DefaultObject(Kind("apps", "Deployment"), r);
  EXPECT_EQ(r["spec"].as_object()["strategy"], json::object({{"type", "Recreate"}}));
}

TEST(DefaultObject, OtherKinds) {
  json::object svc = Parse(R"({"metadata":{"name":"s","namespace":"d"},
    "spec":{"selector":{"app":"web"},"ports":[{"port":80},{"port":443,"targetPort":8443}]}})");
  DefaultObject(Kind("", "Service"), svc);
  const json::object& ss = svc["spec"].as_object();
  EXPECT_EQ(ss.at("type"), "ClusterIP");
  EXPECT_EQ(ss.at("sessionAffinity"), "None");
  EXPECT_EQ(ss.at("internalTrafficPolicy"), "Cluster");
  EXPECT_FALSE(ss.contains("externalTrafficPolicy"));
  EXPECT_EQ(ss.at("ports").as_array()[0].as_object().at("targetPort"), 80);
  EXPECT_EQ(ss.at("ports").as_array()[0].as_object().at("protocol"), "TCP");
  EXPECT_EQ(ss.at("ports").as_array()[1].as_object().at("targetPort"), 8443);

  // A load-balancer address with an IP is a VIP unless it says otherwise.
  json::object lb = Parse(R"({"metadata":{"name":"l","namespace":"d"},
    "spec":{"type":"LoadBalancer","ports":[{"port":80}]},
    "status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.1"},{"ip":"192.0.2.2","ipMode":"Proxy"},
                                         {"hostname":"lb.example.com"}]}}})");
  DefaultObject(Kind("", "Service"), lb);
  EXPECT_EQ(At(lb, {"status", "loadBalancer", "ingress"}),
            json::parse(R"([{"ip":"192.0.2.1","ipMode":"VIP"},{"ip":"192.0.2.2","ipMode":"Proxy"},
                            {"hostname":"lb.example.com"}])"));
  EXPECT_EQ(At(lb, {"spec", "externalTrafficPolicy"}), "Cluster");
  EXPECT_EQ(At(lb, {"spec", "allocateLoadBalancerNodePorts"}), true);

  json::object secret = Parse(R"({"metadata":{"name":"s","namespace":"d"}})");
  DefaultObject(Kind("", "Secret"), secret);
  EXPECT_EQ(secret["type"], "Opaque");

  json::object ns = Parse(R"({"metadata":{"name":"team"}})");
  DefaultObject(Kind("", "Namespace"), ns);
  EXPECT_EQ(At(ns, {"spec", "finalizers"}), json::array({"kubernetes"}));
  EXPECT_EQ(At(ns, {"status", "phase"}), "Active");

  json::object job = Parse(R"({"metadata":{"name":"j","namespace":"d"},"spec":{"template":{
    "metadata":{"labels":{"app":"batch"}},
    "spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}})");
  DefaultObject(Kind("batch", "Job"), job);
  EXPECT_EQ(At(job, {"spec", "completions"}), 1);
  EXPECT_EQ(At(job, {"spec", "parallelism"}), 1);
  EXPECT_EQ(At(job, {"spec", "backoffLimit"}), 6);
  EXPECT_EQ(At(job, {"spec", "completionMode"}), "NonIndexed");
  EXPECT_EQ(At(job, {"spec", "suspend"}), false);
  EXPECT_EQ(At(job, {"metadata", "labels"}), json::object({{"app", "batch"}}));
  EXPECT_EQ(At(job, {"spec", "template", "spec", "restartPolicy"}), "Never");

  json::object cj =
      Parse(R"({"metadata":{"name":"c","namespace":"d"},"spec":{"schedule":"*/5 * * * *",
    "jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"OnFailure","containers":[{"name":"c","image":"b"}]}}}}}})");
  DefaultObject(Kind("batch", "CronJob"), cj);
  EXPECT_EQ(At(cj, {"spec", "concurrencyPolicy"}), "Allow");
  EXPECT_EQ(At(cj, {"spec", "suspend"}), false);
  EXPECT_EQ(At(cj, {"spec", "successfulJobsHistoryLimit"}), 3);
  EXPECT_EQ(At(cj, {"spec", "failedJobsHistoryLimit"}), 1);
  EXPECT_EQ(At(cj, {"spec", "jobTemplate", "spec", "backoffLimit"}), 6);

  json::object ds = Parse(R"({"metadata":{"name":"d","namespace":"d"},"spec":{}})");
  DefaultObject(Kind("apps", "DaemonSet"), ds);
  EXPECT_EQ(
      At(ds, {"spec", "updateStrategy"}),
      json::parse(R"({"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":1,"maxSurge":0}})"));

  json::object sts = Parse(R"({"metadata":{"name":"d","namespace":"d"},"spec":{}})");
  DefaultObject(Kind("apps", "StatefulSet"), sts);
  EXPECT_EQ(At(sts, {"spec", "podManagementPolicy"}), "OrderedReady");
  EXPECT_EQ(At(sts, {"spec", "updateStrategy"}),
            json::parse(R"({"type":"RollingUpdate","rollingUpdate":{"partition":0}})"));
  EXPECT_EQ(At(sts, {"spec", "replicas"}), 1);

  json::object rc = Parse(R"({"metadata":{"name":"r","namespace":"d"},"spec":{"template":{
    "metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"c","image":"b"}]}}}})");
  DefaultObject(Kind("", "ReplicationController"), rc);
  EXPECT_EQ(At(rc, {"spec", "replicas"}), 1);
  EXPECT_EQ(At(rc, {"spec", "selector"}), json::object({{"app", "x"}}));
  EXPECT_EQ(At(rc, {"metadata", "labels"}), json::object({{"app", "x"}}));

  json::object hpa = Parse(R"({"metadata":{"name":"h","namespace":"d"},"spec":{"maxReplicas":5,
    "scaleTargetRef":{"kind":"Deployment","name":"web","apiVersion":"apps/v1"}}})");
  DefaultObject(Kind("autoscaling", "HorizontalPodAutoscaler", "v2"), hpa);
  EXPECT_EQ(At(hpa, {"spec", "minReplicas"}), 1);
  EXPECT_EQ(At(hpa, {"spec", "metrics"}).as_array().size(), 1u);
}

TEST(DefaultObject, HostNetworkLimitRangeAndNode) {
  json::object pod = Parse(R"({"metadata":{"name":"p","namespace":"d"},"spec":{"hostNetwork":true,
    "containers":[{"name":"a","image":"x:1","ports":[{"containerPort":8080},{"containerPort":9,"hostPort":9}]}]}})");
  DefaultObject(Kind("", "Pod"), pod);
  const json::array& ports =
      pod["spec"].as_object()["containers"].as_array()[0].as_object()["ports"].as_array();
  EXPECT_EQ(ports[0].as_object().at("hostPort"), 8080);
  EXPECT_EQ(ports[1].as_object().at("hostPort"), 9);

  json::object lr = Parse(R"({"metadata":{"name":"l","namespace":"d"},"spec":{"limits":[
    {"type":"Container","max":{"cpu":"2"},"min":{"memory":"1Mi"}}]}})");
  DefaultObject(Kind("", "LimitRange"), lr);
  const json::object& item = lr["spec"].as_object()["limits"].as_array()[0].as_object();
  EXPECT_EQ(item.at("default"), json::object({{"cpu", "2"}}));
  EXPECT_EQ(item.at("defaultRequest"), json::object({{"cpu", "2"}, {"memory", "1Mi"}}));

  json::object node =
      Parse(R"({"metadata":{"name":"n"},"status":{"capacity":{"cpu":"4","pods":"110"}}})");
  DefaultObject(Kind("", "Node"), node);
  EXPECT_EQ(At(node, {"status", "allocatable"}), json::object({{"cpu", "4"}, {"pods", "110"}}));
}

// ---- create-time preparation ----------------------------------------------------------------

TEST(PrepareForCreate, PodStatusAndQos) {
  json::object pod = Parse(kPod);
  pod["status"] = json::object{{"phase", "Running"}};
  DefaultObject(Kind("", "Pod"), pod);
  PrepareForCreate(Kind("", "Pod"), pod);
  EXPECT_EQ(At(pod, {"status"}), json::object({{"phase", "Pending"}, {"qosClass", "BestEffort"}}));

  json::object g = Parse(R"({"metadata":{"name":"p","namespace":"d"},"spec":{"containers":[
    {"name":"a","image":"x","resources":{"limits":{"cpu":"500m","memory":"64Mi"}}}]}})");
  DefaultObject(Kind("", "Pod"), g);
  PrepareForCreate(Kind("", "Pod"), g);
  EXPECT_EQ(At(g, {"status", "qosClass"}), "Guaranteed");

  json::object b = Parse(R"({"metadata":{"name":"p","namespace":"d"},"spec":{"containers":[
    {"name":"a","image":"x","resources":{"requests":{"cpu":"100m"}}}]}})");
  PrepareForCreate(Kind("", "Pod"), b);
  EXPECT_EQ(At(b, {"status", "qosClass"}), "Burstable");
}

TEST(PrepareForCreate, StatusIsClearedExceptForNodes) {
  json::object node = Parse(R"({"metadata":{"name":"n1"},"status":{"capacity":{"cpu":"2"}}})");
  PrepareForCreate(Kind("", "Node"), node);
  EXPECT_EQ(At(node, {"status", "capacity", "cpu"}), "2");
  json::object d = Parse(kDeployment);
  d["status"] = json::object{{"replicas", 5}};
  PrepareForCreate(Kind("apps", "Deployment"), d);
  EXPECT_FALSE(d.contains("status"));
  json::object cm = Parse(R"({"metadata":{"name":"c","namespace":"d"},"data":{"a":"b"}})");
  json::object cm_before = cm;
  PrepareForCreate(Kind("", "ConfigMap"), cm);
  EXPECT_EQ(cm, cm_before);
}

TEST(PrepareForCreate, JobSelectorIsGeneratedFromTheUid) {
  json::object job = Parse(R"({"metadata":{"name":"pi","namespace":"d","uid":"1234-abcd"},
    "spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"pi","image":"perl"}]}}}})");
  DefaultObject(Kind("batch", "Job"), job);
  PrepareForCreate(Kind("batch", "Job"), job);
  EXPECT_EQ(At(job, {"spec", "selector"}),
            json::parse(R"({"matchLabels":{"batch.kubernetes.io/controller-uid":"1234-abcd"}})"));
  json::value labels = At(job, {"spec", "template", "metadata", "labels"});
  EXPECT_EQ(labels.as_object().at("batch.kubernetes.io/job-name"), "pi");
  EXPECT_EQ(labels.as_object().at("controller-uid"), "1234-abcd");
  EXPECT_EQ(At(job, {"metadata", "generation"}), 1);
  Status st = ValidateCreate(Kind("batch", "Job"), job);
  EXPECT_TRUE(st.ok()) << Dump(st);
}

TEST(DefaultObject, JobWithUidGetsItsSelectorAndPodGetsPending) {
  // Servers that assign the uid before defaulting get a valid Job without PrepareForCreate.
  json::object job = Parse(R"({"metadata":{"name":"pi","namespace":"d","uid":"u-1"},
    "spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"pi","image":"perl"}]}}}})");
  DefaultObject(Kind("batch", "Job"), job);
  EXPECT_TRUE(ValidateCreate(Kind("batch", "Job"), job).ok());
  json::object again = job;
  DefaultObject(Kind("batch", "Job"), again);
  EXPECT_EQ(again, job);
  EXPECT_EQ(At(job, {"metadata", "labels", "batch.kubernetes.io/job-name"}), "pi");
  json::object manual = Parse(R"({"metadata":{"name":"m","namespace":"d","uid":"u-2"},
    "spec":{"manualSelector":true,"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"x"}]}}}})");
  DefaultObject(Kind("batch", "Job"), manual);
  EXPECT_TRUE(
      HasCause(ValidateCreate(Kind("batch", "Job"), manual), "spec.selector: Required value"));

  json::object pod = Parse(kPod);
  DefaultObject(Kind("", "Pod"), pod);
  EXPECT_EQ(At(pod, {"status"}), json::object({{"phase", "Pending"}, {"qosClass", "BestEffort"}}));
}

TEST(PrepareForUpdate, KeepsStatusAndCountsGenerations) {
  json::object old = Parse(kDeployment);
  old["metadata"].as_object()["generation"] = 3;
  old["status"] = json::object{{"replicas", 2}};
  json::object same = old;
  same["status"] = json::object{{"replicas", 99}};
  PrepareForUpdate(Kind("apps", "Deployment"), same, old);
  EXPECT_EQ(At(same, {"status", "replicas"}), 2);
  EXPECT_EQ(At(same, {"metadata", "generation"}), 3);

  json::object changed = old;
  changed["spec"].as_object()["replicas"] = 5;
  PrepareForUpdate(Kind("apps", "Deployment"), changed, old);
  EXPECT_EQ(At(changed, {"metadata", "generation"}), 4);

  EXPECT_TRUE(TracksGeneration(Kind("apps", "Deployment")));
  EXPECT_TRUE(TracksGeneration(Kind("batch", "CronJob")));
  EXPECT_FALSE(TracksGeneration(Kind("", "Pod")));
  EXPECT_FALSE(TracksGeneration(Kind("", "ConfigMap")));
}

TEST(PrepareForUpdate, NamespaceFinalizersAndStatusWrites) {
  json::object old = Parse(R"({"metadata":{"name":"team"},"spec":{"finalizers":["kubernetes"]},
    "status":{"phase":"Active"}})");
  json::object obj = Parse(R"({"metadata":{"name":"team","labels":{"a":"b"}},"spec":{}})");
  PrepareForUpdate(Kind("", "Namespace"), obj, old);
  EXPECT_EQ(At(obj, {"spec", "finalizers"}), json::array({"kubernetes"}));
  EXPECT_EQ(At(obj, {"status", "phase"}), "Active");
  EXPECT_EQ(At(obj, {"metadata", "labels"}), json::object({{"a", "b"}}));

  json::object dep = Parse(kDeployment);
  json::object status_write = dep;
  status_write["spec"].as_object()["replicas"] = 7;
  status_write["status"] = json::object{{"replicas", 1}};
  PrepareForStatusUpdate(Kind("apps", "Deployment"), status_write, dep);
  EXPECT_EQ(status_write["spec"], dep["spec"]);
  EXPECT_EQ(At(status_write, {"status", "replicas"}), 1);
}

// ---- validation on create -------------------------------------------------------------------

TEST(ValidateCreate, AcceptsDefaultedCommonObjects) {
  struct Case {
    const char* group;
    const char* kind;
    const char* text;
  } cases[] = {
      {"", "Pod", kPod},
      {"apps", "Deployment", kDeployment},
      {"", "Service",
       R"({"metadata":{"name":"web","namespace":"d"},"spec":{"selector":{"app":"web"},"ports":[{"port":80,"targetPort":"http"}]}})"},
      {"", "ConfigMap",
       R"({"metadata":{"name":"c","namespace":"d"},"data":{"a.conf":"x","KEY_2":"y"}})"},
      {"", "Namespace", R"({"metadata":{"name":"team-a"}})"},
      {"batch", "CronJob",
       R"({"metadata":{"name":"c","namespace":"d"},"spec":{"schedule":"*/5 * * * *","jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"OnFailure","containers":[{"name":"c","image":"b"}]}}}}}})"},
      {"coordination.k8s.io", "Lease",
       R"({"metadata":{"name":"node-1","namespace":"kube-node-lease"},"spec":{"holderIdentity":"node-1","leaseDurationSeconds":40}})"},
  };
  for (const Case& c : cases) {
    json::object obj = Parse(c.text);
    DefaultObject(Kind(c.group, c.kind), obj);
    Status st = ValidateCreate(Kind(c.group, c.kind), obj);
    EXPECT_TRUE(st.ok()) << c.kind << ": " << Dump(st);
  }
}

TEST(ValidateCreate, PodRules) {
  json::object pod = Parse(R"({"metadata":{"name":"p","namespace":"d"},"spec":{
    "volumes":[{"name":"data","emptyDir":{}}],
    "containers":[{"name":"web","ports":[{"containerPort":0},{"containerPort":80,"name":"http"},
                                        {"containerPort":81,"name":"http"}],
                   "volumeMounts":[{"name":"missing","mountPath":"/m"}]},
                  {"name":"web","image":"x"},
                  {"name":"Bad_Name","image":"x"}]}})");
  Status st = ValidateCreate(Kind("", "Pod"), pod);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_TRUE(st.message().starts_with("Pod \"p\" is invalid: [")) << st.message();
  EXPECT_TRUE(HasCause(st, "spec.containers[0].image: Required value")) << Dump(st);
  EXPECT_TRUE(HasCause(st,
                       "spec.containers[0].ports[0].containerPort: Invalid value: 0: must be "
                       "between 1 and 65535, inclusive"))
      << Dump(st);
  EXPECT_TRUE(HasCause(st, "spec.containers[0].ports[2].name: Duplicate value: \"http\""))
      << Dump(st);
  EXPECT_TRUE(HasCause(st, "spec.containers[0].volumeMounts[0].name: Not found: \"missing\""))
      << Dump(st);
  EXPECT_TRUE(HasCause(st, "spec.containers[1].name: Duplicate value: \"web\"")) << Dump(st);
  bool bad_name = false;
  for (const Cause& c : st.causes()) {
    bad_name = bad_name || (c.field == "spec.containers[2].name" &&
                            c.message.starts_with("Invalid value: \"Bad_Name\": ") &&
                            c.reason == "FieldValueInvalid");
  }
  EXPECT_TRUE(bad_name) << Dump(st);

  json::object one = Parse(kPod);
  one["spec"].as_object()["containers"].as_array()[0].as_object().erase("image");
  st = ValidateCreate(Kind("", "Pod"), one);
  EXPECT_EQ(st.message(), "Pod \"web\" is invalid: spec.containers[0].image: Required value");

  json::object none =
      Parse(R"({"metadata":{"name":"p","namespace":"d"},"spec":{"containers":[]}})");
  EXPECT_TRUE(HasCause(ValidateCreate(Kind("", "Pod"), none), "spec.containers: Required value"));

  json::object probe = Parse(R"({"metadata":{"name":"p","namespace":"d"},"spec":{"containers":[
    {"name":"a","image":"x","livenessProbe":{"periodSeconds":5}}]}})");
  EXPECT_TRUE(
      HasCause(ValidateCreate(Kind("", "Pod"), probe),
               "spec.containers[0].livenessProbe: Required value: must specify a handler type"));
}

TEST(ValidateCreate, NamesPerKind) {
  json::object ns = Parse(R"({"metadata":{"name":"Team.A"}})");
  Status st = ValidateCreate(Kind("", "Namespace"), ns);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.causes()[0].field, "metadata.name");

  // "1web" is a fine pod name (subdomain) but no service name (DNS-1035 label).
  json::object pod = Parse(kPod);
  pod["metadata"].as_object()["name"] = "1web";
  EXPECT_TRUE(ValidateCreate(Kind("", "Pod"), pod).ok());
  json::object svc =
      Parse(R"({"metadata":{"name":"1web","namespace":"d"},"spec":{"ports":[{"port":80}]}})");
  st = ValidateCreate(Kind("", "Service"), svc);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.causes()[0].field, "metadata.name");
  // Subdomains may contain dots; labels may not.
  json::object cm = Parse(R"({"metadata":{"name":"app.config","namespace":"d"}})");
  EXPECT_TRUE(ValidateCreate(Kind("", "ConfigMap"), cm).ok());
  json::object ns2 = Parse(R"({"metadata":{"name":"app.config"}})");
  EXPECT_FALSE(ValidateCreate(Kind("", "Namespace"), ns2).ok());
}

TEST(ValidateCreate, WorkloadRules) {
  json::object d = Parse(kDeployment);
  d["spec"].as_object()["selector"] = json::parse(R"({"matchLabels":{"app":"other"}})");
  Status st = ValidateCreate(Kind("apps", "Deployment"), d);
  EXPECT_TRUE(HasCause(st,
                       "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: "
                       "`selector` does not match template `labels`"))
      << Dump(st);

  json::object nosel = Parse(kDeployment);
  nosel["spec"].as_object().erase("selector");
  EXPECT_TRUE(
      HasCause(ValidateCreate(Kind("apps", "Deployment"), nosel), "spec.selector: Required value"));

  json::object never = Parse(kDeployment);
  never["spec"].as_object()["template"].as_object()["spec"].as_object()["restartPolicy"] = "Never";
  never["spec"].as_object()["replicas"] = -1;
  st = ValidateCreate(Kind("apps", "Deployment"), never);
  EXPECT_TRUE(HasCause(st,
                       "spec.template.spec.restartPolicy: Unsupported value: \"Never\": "
                       "supported values: \"Always\""))
      << Dump(st);
  EXPECT_TRUE(HasCause(st, "spec.replicas: Invalid value: -1: must be greater than or equal to 0"))
      << Dump(st);

  json::object zero = Parse(kDeployment);
  zero["spec"].as_object()["strategy"] = json::parse(
      R"({"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":0,"maxSurge":"0%"}})");
  EXPECT_TRUE(HasCause(ValidateCreate(Kind("apps", "Deployment"), zero),
                       "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 "
                       "when `maxSurge` is 0"));

  json::object job = Parse(R"({"metadata":{"name":"j","namespace":"d"},"spec":{
    "selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},
    "spec":{"restartPolicy":"Always","containers":[{"name":"c","image":"x"}]}}}})");
  EXPECT_TRUE(HasCause(ValidateCreate(Kind("batch", "Job"), job),
                       "spec.template.spec.restartPolicy: Unsupported value: \"Always\": "
                       "supported values: \"OnFailure\", \"Never\""));

  json::object cj =
      Parse(R"({"metadata":{"name":"c","namespace":"d"},"spec":{"schedule":"every day",
    "jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"b"}]}}}}}})");
  EXPECT_TRUE(HasCause(ValidateCreate(Kind("batch", "CronJob"), cj),
                       "spec.schedule: Invalid value: \"every day\": unparseable cron schedule"));
}

TEST(ValidateCreate, ServiceAndConfigRules) {
  json::object svc = Parse(R"({"metadata":{"name":"s","namespace":"d"},"spec":{"type":"ClusterIP",
    "ports":[{"port":80,"nodePort":30080},{"port":70000,"name":"b"}]}})");
  Status st = ValidateCreate(Kind("", "Service"), svc);
  EXPECT_TRUE(HasCause(st, "spec.ports[0].name: Required value")) << Dump(st);
  EXPECT_TRUE(HasCause(st,
                       "spec.ports[0].nodePort: Forbidden: may not be used when `type` is "
                       "'ClusterIP'"))
      << Dump(st);
  EXPECT_TRUE(HasCause(st,
                       "spec.ports[1].port: Invalid value: 70000: must be between 1 and "
                       "65535, inclusive"))
      << Dump(st);

  json::object headless =
      Parse(R"({"metadata":{"name":"s","namespace":"d"},"spec":{"clusterIP":"None"}})");
  EXPECT_TRUE(ValidateCreate(Kind("", "Service"), headless).ok());

  json::object cm = Parse(R"({"metadata":{"name":"c","namespace":"d"},"data":{"bad key":"x"}})");
  st = ValidateCreate(Kind("", "ConfigMap"), cm);
  ASSERT_EQ(st.causes().size(), 1u);
  EXPECT_EQ(st.causes()[0].field, "data[bad key]");

  json::object tls = Parse(R"({"metadata":{"name":"t","namespace":"d"},"type":"kubernetes.io/tls",
    "data":{"tls.crt":"YQ=="}})");
  EXPECT_TRUE(HasCause(ValidateCreate(Kind("", "Secret"), tls), "data[tls.key]: Required value"));
}

// ---- validation on update -------------------------------------------------------------------

TEST(ValidateUpdate, PodSpecIsMostlyImmutable) {
  json::object old = Parse(kPod);
  DefaultObject(Kind("", "Pod"), old);

  json::object image = old;
  image["spec"].as_object()["containers"].as_array()[0].as_object()["image"] = "nginx:2";
  Status st = ValidateUpdate(Kind("", "Pod"), image, old);
  EXPECT_TRUE(st.ok()) << Dump(st);

  json::object toleration = old;
  // Appended: the defaulted pod already tolerates not-ready/unreachable for 300 s.
  toleration["spec"].as_object()["tolerations"].as_array().push_back(
      json::parse(R"({"key":"k","operator":"Exists","effect":"NoSchedule"})"));
  EXPECT_TRUE(ValidateUpdate(Kind("", "Pod"), toleration, old).ok());
  // Removing it again is not an addition.
  EXPECT_FALSE(ValidateUpdate(Kind("", "Pod"), old, toleration).ok());

  json::object restart = old;
  restart["spec"].as_object()["restartPolicy"] = "Never";
  st = ValidateUpdate(Kind("", "Pod"), restart, old);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.causes()[0].field, "spec");
  EXPECT_EQ(st.causes()[0].reason, "FieldValueForbidden");

  json::object deadline = old;
  deadline["spec"].as_object()["activeDeadlineSeconds"] = 60;
  EXPECT_TRUE(ValidateUpdate(Kind("", "Pod"), deadline, old).ok());
  json::object later = deadline;
  later["spec"].as_object()["activeDeadlineSeconds"] = 120;
  EXPECT_FALSE(ValidateUpdate(Kind("", "Pod"), later, deadline).ok());
}

TEST(ValidateUpdate, ImmutableFields) {
  json::object d = Parse(kDeployment);
  json::object d2 = d;
  d2["spec"].as_object()["selector"] = json::parse(R"({"matchLabels":{"app":"web","tier":"x"}})");
  d2["spec"].as_object()["template"].as_object()["metadata"].as_object()["labels"] =
      json::parse(R"({"app":"web","tier":"x"})");
  Status st = ValidateUpdate(Kind("apps", "Deployment"), d2, d);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.causes()[0].field, "spec.selector");
  EXPECT_TRUE(st.causes()[0].message.ends_with("field is immutable")) << st.causes()[0].message;
  json::object d3 = d;
  d3["spec"].as_object()["replicas"] = 4;
  EXPECT_TRUE(ValidateUpdate(Kind("apps", "Deployment"), d3, d).ok());

  json::object svc = Parse(
      R"({"metadata":{"name":"s","namespace":"d"},"spec":{"clusterIP":"10.0.0.5","ports":[{"port":80}]}})");
  json::object svc2 = svc;
  svc2["spec"].as_object()["clusterIP"] = "10.0.0.6";
  EXPECT_TRUE(HasCause(ValidateUpdate(Kind("", "Service"), svc2, svc),
                       "spec.clusterIP: Invalid value: \"10.0.0.6\": field is immutable"));

  json::object cm =
      Parse(R"({"metadata":{"name":"c","namespace":"d"},"immutable":true,"data":{"a":"1"}})");
  json::object cm2 = cm;
  cm2["data"].as_object()["a"] = "2";
  EXPECT_TRUE(HasCause(ValidateUpdate(Kind("", "ConfigMap"), cm2, cm),
                       "data: Forbidden: field is immutable when `immutable` is set"));
  json::object mutable_cm = cm;
  mutable_cm["immutable"] = false;
  json::object mutable_cm2 = mutable_cm;
  mutable_cm2["data"].as_object()["a"] = "2";
  EXPECT_TRUE(ValidateUpdate(Kind("", "ConfigMap"), mutable_cm2, mutable_cm).ok());

  json::object secret = Parse(R"({"metadata":{"name":"s","namespace":"d"},"type":"Opaque"})");
  json::object secret2 = secret;
  secret2["type"] = "kubernetes.io/basic-auth";
  secret2["stringData"] = json::object{{"username", "u"}};
  EXPECT_TRUE(HasCause(ValidateUpdate(Kind("", "Secret"), secret2, secret),
                       "type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable"));

  json::object job =
      Parse(R"({"metadata":{"name":"j","namespace":"d","uid":"u1"},"spec":{"template":{
    "spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"x"}]}}}})");
  DefaultObject(Kind("batch", "Job"), job);
  PrepareForCreate(Kind("batch", "Job"), job);
  json::object job2 = job;
  job2["spec"]
      .as_object()["template"]
      .as_object()["spec"]
      .as_object()["containers"]
      .as_array()[0]
      .as_object()["image"] = "y";
  st = ValidateUpdate(Kind("batch", "Job"), job2, job);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.causes()[0].field, "spec.template");
  json::object job3 = job;
  job3["spec"].as_object()["suspend"] = true;
  EXPECT_TRUE(ValidateUpdate(Kind("batch", "Job"), job3, job).ok());
}

}  // namespace
}  // namespace sampan::api
