#include "api/schema.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <set>
#include <string>

#include "api/validate.h"

namespace sampan::api {
namespace {

// ---- The parser ----------------------------------------------------------------------

TEST(RegistryLoad, ParsesTypesFieldsAndKinds) {
  Registry r;
  ASSERT_TRUE(r.Load(R"(
# a comment
package io.example.v1
type Widget "A widget." # trailing comment
  apiVersion string -
  kind string -
  spec WidgetSpec 2 "What the widget should be."
type WidgetSpec open
  size int32 1 required default=3 "How big; #not a comment."
  color string 2 enum=red|green default="red"
  parts []Part 3 merge=name strategy=merge,retainKeys
  labels map[string]string 4 omitempty
  volume quantity 5.1
  when time 5.2
kind Widget group=example.io version=v1 plural=widgets scope=Namespaced type=Widget short=wd categories=all subresources=status,scale
type Part
  name string 1 required
)",
                     "widgets")
                  .ok());
  ASSERT_TRUE(r.Resolve().ok());

  const Schema* widget = r.FindType("Widget");
  ASSERT_NE(widget, nullptr);
  EXPECT_EQ(widget->openapi_name, "io.example.v1.Widget");
  EXPECT_EQ(widget->description, "A widget.");
  EXPECT_EQ(r.FindType("io.example.v1.Widget"), widget);
  ASSERT_EQ(widget->fields.size(), 3u);
  EXPECT_EQ(widget->fields[0].proto_tag, 0);

  const Schema* spec = widget->FindField("spec")->type;
  ASSERT_NE(spec, nullptr);
  EXPECT_TRUE(spec->preserve_unknown);
  const Field* size = spec->FindField("size");
  ASSERT_NE(size, nullptr);
  EXPECT_TRUE(size->required);
  EXPECT_EQ(size->default_json, "3");
  EXPECT_EQ(size->description, "How big; #not a comment.");
  EXPECT_EQ(size->type->kind, TypeKind::kInteger);
  EXPECT_EQ(size->type->format, "int32");
  const Field* color = spec->FindField("color");
  EXPECT_EQ(color->enum_values, (std::vector<std::string>{"red", "green"}));
  EXPECT_EQ(color->default_json, "\"red\"");
  const Field* parts = spec->FindField("parts");
  EXPECT_EQ(parts->merge_key, "name");
  EXPECT_EQ(parts->patch_strategy, "merge,retainKeys");
  ASSERT_EQ(parts->type->kind, TypeKind::kArray);
  EXPECT_EQ(parts->type->element, r.FindType("Part"));
  const Field* labels = spec->FindField("labels");
  EXPECT_TRUE(labels->omit_empty);
  EXPECT_FALSE(size->omit_empty);
  ASSERT_EQ(labels->type->kind, TypeKind::kMap);
  EXPECT_EQ(labels->type->element->kind, TypeKind::kString);

  // Inlined members: JSON-direct, protobuf inside tag 5.
  EXPECT_EQ(spec->FindFieldByTag(1, 5)->name, "volume");
  EXPECT_EQ(spec->FindFieldByTag(2, 5)->name, "when");
  EXPECT_EQ(spec->FindFieldByTag(2)->name, "color");
  EXPECT_EQ(spec->FindFieldByTag(5), nullptr);
  EXPECT_TRUE(spec->IsInlineTag(5));
  EXPECT_FALSE(spec->IsInlineTag(2));

  const KindInfo* k = r.FindKind("example.io", "v1", "Widget");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->schema, widget);
  EXPECT_EQ(k->singular, "widget");
  EXPECT_EQ(k->ApiVersion(), "example.io/v1");
  EXPECT_EQ(r.FindResource("example.io", "v1", "wd"), k);
  EXPECT_EQ(r.FindResource("example.io", "v1", "widget"), k);
  EXPECT_EQ(r.FindResource("example.io", "v2", "widgets"), nullptr);
  EXPECT_EQ(k->verbs.size(), 8u);
  const SubresourceInfo* scale = k->FindSubresource("scale");
  ASSERT_NE(scale, nullptr);
  EXPECT_EQ(scale->group, "autoscaling");
  EXPECT_EQ(scale->kind, "Scale");
  const SubresourceInfo* status = k->FindSubresource("status");
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(status->kind, "Widget");
  EXPECT_EQ(status->group, "example.io");
  EXPECT_EQ(k->FindSubresource("log"), nullptr);
}

// Returns the message of a failing Load (or "" if it loaded).
std::string LoadError(std::string_view text) {
  Registry r;
  Status st = r.Load(text, "t");
  return st.ok() ? "" : st.message();
}

TEST(RegistryLoad, SyntaxErrorsNameSourceAndLine) {
  EXPECT_EQ(LoadError("package p\n  x string 1\n"), "t:2: field line outside a type");
  EXPECT_EQ(LoadError("type A\n"), "t:1: type before any package line");
  EXPECT_EQ(LoadError("package p\ntype A\n  x string one\n"),
            "t:3: bad protobuf tag \"one\" (want N, OUTER.INNER or -)");
  EXPECT_EQ(LoadError("package p\ntype A\n  x string 1\n  x int32 2\n"),
            "t:4: duplicate field \"x\" in type A");
  EXPECT_EQ(LoadError("package p\ntype A\n  x string 1\n  y int32 1\n"),
            "t:4: duplicate protobuf tag 1 in type A");
  EXPECT_EQ(LoadError("package p\ntype A\ntype A\n"), "t:3: duplicate type p.A");
  EXPECT_EQ(LoadError("package p\ntype A\n  x string 1 bogus\n"),
            "t:3: unknown field option \"bogus\"");
  EXPECT_EQ(LoadError("package p\ntype A\n  x string 1 \"unterminated\n"),
            "t:3: unterminated string");
  EXPECT_EQ(LoadError("package p\ntype A\n  x string 1 \"d\" required\n"),
            "t:3: the description must come last");
  EXPECT_EQ(LoadError("package p\ntype A\n  x string 1 default={bad\n"),
            "t:3: default is not JSON: {bad");
  EXPECT_EQ(LoadError("package p\ntype A\n  x string 1 strategy=sideways\n"),
            "t:3: unknown patch strategy \"sideways\"");
  EXPECT_EQ(LoadError("bogus line\n"), "t:1: unknown keyword \"bogus\"");
  EXPECT_EQ(LoadError("package p\nkind A group= version=v1 plural=as scope=Namespaced\n"),
            "t:2: kind line needs group=, version=, plural=, scope= and type=");
  EXPECT_EQ(LoadError("package p\nkind A group= version=v1 plural=as scope=Both type=A\n"),
            "t:2: scope must be Namespaced or Cluster");
  EXPECT_EQ(
      LoadError(
          "package p\nkind A group= version=v1 plural=as scope=Cluster type=A subresources=x\n"),
      "t:2: unknown subresource \"x\"");
  EXPECT_EQ(LoadError("package p\n"
                      "kind A group= version=v1 plural=as scope=Cluster type=A short=b\n"
                      "kind B group= version=v1 plural=bs scope=Cluster type=B\n"),
            "t:3: resource name \"b\" already used in v1");
  EXPECT_EQ(LoadError("package p\n"
                      "kind A group= version=v1 plural=as scope=Cluster type=A\n"
                      "kind A group= version=v1 plural=as2 scope=Cluster type=A\n"),
            "t:3: duplicate kind /v1/A");
}

TEST(RegistryLoad, FailedLoadLeavesRegistryUnchanged) {
  Registry r;
  ASSERT_TRUE(r.Load("package p\ntype A\n  x string 1\n", "a").ok());
  EXPECT_FALSE(r.Load("package p\ntype B\n  y string 1\ntype A\n", "b").ok());
  EXPECT_EQ(r.FindType("B"), nullptr);
  EXPECT_TRUE(r.Resolve().ok());
  EXPECT_EQ(r.types().size(), 1u);
}

TEST(RegistryResolve, ReportsUnknownAndAmbiguousTypes) {
  Registry r;
  ASSERT_TRUE(r.Load("package p\ntype A\n  x Missing 1\n", "a").ok());
  Status st = r.Resolve();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_EQ(st.message(), "a:3: unknown type \"Missing\"");

  Registry r2;
  ASSERT_TRUE(r2.Load("package p\ntype Same\n", "p").ok());
  ASSERT_TRUE(r2.Load("package q\ntype Same\n", "q").ok());
  ASSERT_TRUE(r2.Load("package z\ntype User\n  a Same 1\n  b []q.Same 2\n", "z").ok());
  st = r2.Resolve();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "z:3: ambiguous type \"Same\" (qualify it with its package)");
  EXPECT_EQ(r2.FindType("Same"), nullptr);
  EXPECT_NE(r2.FindType("q.Same"), nullptr);
}

TEST(RegistryResolve, PrefersTheCurrentPackage) {
  Registry r;
  ASSERT_TRUE(r.Load("package p\ntype Same\ntype PUser\n  s Same 1\n", "p").ok());
  ASSERT_TRUE(r.Load("package q\ntype Same\ntype QUser\n  s Same 1\n  o p.Same 2\n", "q").ok());
  ASSERT_TRUE(r.Resolve().ok());
  EXPECT_EQ(r.FindType("PUser")->FindField("s")->type->openapi_name, "p.Same");
  EXPECT_EQ(r.FindType("QUser")->FindField("s")->type->openapi_name, "q.Same");
  EXPECT_EQ(r.FindType("QUser")->FindField("o")->type->openapi_name, "p.Same");
}

TEST(RegistryResolve, ChecksMergeKeys) {
  Registry r;
  ASSERT_TRUE(
      r.Load("package p\ntype A\n  items []B 1 merge=id\ntype B\n  name string 1\n", "a").ok());
  Status st = r.Resolve();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "a:3: merge key \"id\" is no field of B");
}

// ---- The built-in kinds --------------------------------------------------------------

void CheckResolved(const Schema* s, const std::string& where, std::set<const Schema*>* seen) {
  ASSERT_NE(s, nullptr) << where;
  if (!seen->insert(s).second) return;
  if (s->kind == TypeKind::kArray || s->kind == TypeKind::kMap) {
    CheckResolved(s->element, where + "[]", seen);
  }
  for (const Field& f : s->fields) {
    EXPECT_FALSE(f.description.empty()) << where << "." << f.name << " has no description";
    CheckResolved(f.type, where + "." + f.name, seen);
  }
}

TEST(BuiltinRegistry, LoadsAndEveryReferenceResolves) {
  const Registry& r = BuiltinRegistry();
  std::set<const Schema*> seen;
  for (const auto& [name, schema] : r.types()) {
    EXPECT_EQ(name, schema->openapi_name);
    EXPECT_FALSE(schema->description.empty()) << name << " has no description";
    CheckResolved(schema.get(), schema->name, &seen);
  }
  for (const KindInfo* k : r.kinds()) {
    ASSERT_NE(k->schema, nullptr) << k->kind;
    EXPECT_FALSE(k->schema->description.empty()) << k->kind;  // kubectl explain's first line
    // Top-level kinds carry apiVersion/kind, which protobuf keeps in the envelope instead.
    ASSERT_NE(k->schema->FindField("apiVersion"), nullptr) << k->kind;
    EXPECT_EQ(k->schema->FindField("apiVersion")->proto_tag, 0);
    EXPECT_EQ(k->schema->FindField("kind")->proto_tag, 0);
    ASSERT_NE(k->schema->FindField("metadata"), nullptr) << k->kind;
    EXPECT_EQ(k->schema->FindField("metadata")->proto_tag, 1) << k->kind;
  }
  EXPECT_GT(r.types().size(), 250u);
}

struct Expected {
  const char* group;
  const char* kind;
  const char* plural;
  const char* shorts;  // comma separated
  bool namespaced;
  bool in_all;
};

TEST(BuiltinRegistry, HasTheRequiredKinds) {
  const Expected kinds[] = {
      {"", "Namespace", "namespaces", "ns", false, false},
      {"", "Pod", "pods", "po", true, true},
      {"", "Node", "nodes", "no", false, false},
      {"", "Event", "events", "ev", true, false},
      {"", "ConfigMap", "configmaps", "cm", true, false},
      {"", "Secret", "secrets", "", true, false},
      {"", "ServiceAccount", "serviceaccounts", "sa", true, false},
      {"", "Service", "services", "svc", true, true},
      {"", "Endpoints", "endpoints", "ep", true, false},
      {"", "ReplicationController", "replicationcontrollers", "rc", true, true},
      {"", "Binding", "bindings", "", true, false},
      {"", "PersistentVolume", "persistentvolumes", "pv", false, false},
      {"", "PersistentVolumeClaim", "persistentvolumeclaims", "pvc", true, false},
      {"", "LimitRange", "limitranges", "limits", true, false},
      {"", "ResourceQuota", "resourcequotas", "quota", true, false},
      {"events.k8s.io", "Event", "events", "ev", true, false},
      {"coordination.k8s.io", "Lease", "leases", "", true, false},
      {"apps", "ReplicaSet", "replicasets", "rs", true, true},
      {"apps", "Deployment", "deployments", "deploy", true, true},
      {"apps", "DaemonSet", "daemonsets", "ds", true, true},
      {"apps", "StatefulSet", "statefulsets", "sts", true, true},
      {"apps", "ControllerRevision", "controllerrevisions", "", true, false},
      {"batch", "Job", "jobs", "", true, true},
      {"batch", "CronJob", "cronjobs", "cj", true, true},
      {"policy", "PodDisruptionBudget", "poddisruptionbudgets", "pdb", true, false},
  };
  const Registry& r = BuiltinRegistry();
  for (const Expected& e : kinds) {
    SCOPED_TRACE(e.kind);
    const KindInfo* k = r.FindKind(e.group, "v1", e.kind);
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(k->plural, e.plural);
    EXPECT_EQ(k->namespaced, e.namespaced);
    EXPECT_EQ(r.FindResource(e.group, "v1", e.plural), k);
    std::string shorts;
    for (const std::string& s : k->short_names) shorts += (shorts.empty() ? "" : ",") + s;
    EXPECT_EQ(shorts, e.shorts);
    bool in_all =
        std::find(k->categories.begin(), k->categories.end(), "all") != k->categories.end();
    EXPECT_EQ(in_all, e.in_all);
  }
  for (const char* v : {"v1", "v2"}) {
    const KindInfo* hpa = r.FindResource("autoscaling", v, "hpa");
    ASSERT_NE(hpa, nullptr) << v;
    EXPECT_EQ(hpa->kind, "HorizontalPodAutoscaler");
    EXPECT_EQ(hpa->categories, std::vector<std::string>{"all"});
  }
  // Types that are no resources but travel through subresources.
  EXPECT_NE(r.FindType("io.k8s.api.autoscaling.v1.Scale"), nullptr);
  EXPECT_NE(r.FindType("Eviction"), nullptr);
  EXPECT_NE(r.FindType("DeleteOptions"), nullptr);
  // Same short name in two packages: only the qualified name finds it.
  EXPECT_EQ(r.FindType("Event"), nullptr);
  EXPECT_NE(r.FindType("io.k8s.api.events.v1.Event"), nullptr);
  EXPECT_NE(r.FindKind("events.k8s.io", "v1", "Event")->schema->FindField("regarding"), nullptr);
}

TEST(BuiltinRegistry, DiscoveryOrderIsCoreThenAppsThenBatch) {
  const auto& kinds = BuiltinRegistry().kinds();
  ASSERT_FALSE(kinds.empty());
  auto group_rank = [](const std::string& g) {
    return g.empty() ? 0 : g == "apps" ? 1 : g == "batch" ? 2 : 3;
  };
  for (size_t i = 1; i < kinds.size(); ++i) {
    EXPECT_LE(group_rank(kinds[i - 1]->group), group_rank(kinds[i]->group)) << kinds[i]->kind;
  }
  EXPECT_EQ(kinds.front()->kind, "Namespace");
}

TEST(BuiltinRegistry, SubresourcesAndVerbs) {
  const Registry& r = BuiltinRegistry();
  const KindInfo* pod = r.FindKind("", "v1", "Pod");
  const SubresourceInfo* eviction = pod->FindSubresource("eviction");
  ASSERT_NE(eviction, nullptr);
  EXPECT_EQ(eviction->group, "policy");
  EXPECT_EQ(eviction->kind, "Eviction");
  EXPECT_EQ(eviction->verbs, std::vector<std::string>{"create"});
  ASSERT_NE(pod->FindSubresource("binding"), nullptr);
  EXPECT_EQ(pod->FindSubresource("binding")->kind, "Binding");
  EXPECT_EQ(pod->FindSubresource("log")->verbs, std::vector<std::string>{"get"});
  EXPECT_EQ(pod->FindSubresource("exec")->verbs, (std::vector<std::string>{"create", "get"}));
  EXPECT_EQ(pod->FindSubresource("status")->verbs,
            (std::vector<std::string>{"get", "patch", "update"}));
  EXPECT_EQ(r.FindKind("", "v1", "Node")->FindSubresource("proxy")->kind, "NodeProxyOptions");
  const KindInfo* deploy = r.FindKind("apps", "v1", "Deployment");
  ASSERT_NE(deploy->FindSubresource("scale"), nullptr);
  EXPECT_EQ(deploy->FindSubresource("scale")->group, "autoscaling");
  EXPECT_EQ(deploy->FindSubresource("scale")->version, "v1");
  EXPECT_EQ(deploy->FindSubresource("status")->kind, "Deployment");
  EXPECT_EQ(r.FindKind("apps", "v1", "DaemonSet")->FindSubresource("scale"), nullptr);
  EXPECT_EQ(r.FindKind("", "v1", "Binding")->verbs, std::vector<std::string>{"create"});
  EXPECT_EQ(r.FindKind("", "v1", "ConfigMap")->verbs.size(), 8u);
}

const Field& FieldAt(std::string_view type, std::string_view field) {
  const Schema* s = BuiltinRegistry().FindType(type);
  SAMPAN_CHECK(s != nullptr);
  const Field* f = s->FindField(field);
  SAMPAN_CHECK(f != nullptr);
  return *f;
}

TEST(BuiltinRegistry, MergeKeysAreKubernetes) {
  EXPECT_EQ(FieldAt("PodSpec", "containers").merge_key, "name");
  EXPECT_EQ(FieldAt("PodSpec", "containers").patch_strategy, "merge");
  EXPECT_EQ(FieldAt("PodSpec", "initContainers").merge_key, "name");
  EXPECT_EQ(FieldAt("PodSpec", "volumes").merge_key, "name");
  EXPECT_EQ(FieldAt("PodSpec", "volumes").patch_strategy, "merge,retainKeys");
  EXPECT_EQ(FieldAt("PodSpec", "imagePullSecrets").merge_key, "name");
  EXPECT_EQ(FieldAt("PodSpec", "hostAliases").merge_key, "ip");
  EXPECT_EQ(FieldAt("PodSpec", "topologySpreadConstraints").merge_key, "topologyKey");
  EXPECT_EQ(FieldAt("PodSpec", "tolerations").merge_key, "");
  EXPECT_EQ(FieldAt("PodSpec", "tolerations").patch_strategy, "");
  EXPECT_EQ(FieldAt("Container", "ports").merge_key, "containerPort");
  EXPECT_EQ(FieldAt("Container", "env").merge_key, "name");
  EXPECT_EQ(FieldAt("Container", "volumeMounts").merge_key, "mountPath");
  EXPECT_EQ(FieldAt("Container", "volumeDevices").merge_key, "devicePath");
  EXPECT_EQ(FieldAt("ServiceSpec", "ports").merge_key, "port");
  EXPECT_EQ(FieldAt("PodStatus", "conditions").merge_key, "type");
  EXPECT_EQ(FieldAt("NodeStatus", "addresses").merge_key, "type");
  EXPECT_EQ(FieldAt("NodeSpec", "taints").merge_key, "");
  EXPECT_EQ(FieldAt("ObjectMeta", "ownerReferences").merge_key, "uid");
  EXPECT_EQ(FieldAt("ObjectMeta", "finalizers").merge_key, "");
  EXPECT_EQ(FieldAt("ObjectMeta", "finalizers").patch_strategy, "merge");
  EXPECT_EQ(FieldAt("DeploymentSpec", "strategy").patch_strategy, "retainKeys");
  EXPECT_EQ(FieldAt("DeploymentStatus", "conditions").merge_key, "type");
}

TEST(BuiltinRegistry, ProtoTagsAreKubernetes) {
  // ObjectMeta and Namespace as kubectl 1.32 sends them (KUBECTL.md §8).
  EXPECT_EQ(FieldAt("ObjectMeta", "name").proto_tag, 1);
  EXPECT_EQ(FieldAt("ObjectMeta", "generateName").proto_tag, 2);
  EXPECT_EQ(FieldAt("ObjectMeta", "namespace").proto_tag, 3);
  EXPECT_EQ(FieldAt("ObjectMeta", "creationTimestamp").proto_tag, 8);
  EXPECT_EQ(FieldAt("ObjectMeta", "labels").proto_tag, 11);
  EXPECT_EQ(FieldAt("ObjectMeta", "annotations").proto_tag, 12);
  EXPECT_EQ(FieldAt("ObjectMeta", "ownerReferences").proto_tag, 13);
  EXPECT_EQ(FieldAt("ObjectMeta", "finalizers").proto_tag, 14);
  EXPECT_EQ(FieldAt("NamespaceSpec", "finalizers").proto_tag, 1);
  EXPECT_EQ(FieldAt("NamespaceStatus", "phase").proto_tag, 1);
  // Kinds that `kubectl create …` sends as protobuf, from generated.proto.
  EXPECT_EQ(FieldAt("ConfigMap", "data").proto_tag, 2);
  EXPECT_EQ(FieldAt("ConfigMap", "binaryData").proto_tag, 3);
  EXPECT_EQ(FieldAt("ConfigMap", "immutable").proto_tag, 4);
  EXPECT_EQ(FieldAt("Secret", "data").proto_tag, 2);
  EXPECT_EQ(FieldAt("Secret", "type").proto_tag, 3);
  EXPECT_EQ(FieldAt("Secret", "stringData").proto_tag, 4);
  EXPECT_EQ(FieldAt("Secret", "immutable").proto_tag, 5);
  EXPECT_EQ(FieldAt("ServiceAccount", "automountServiceAccountToken").proto_tag, 4);
  EXPECT_EQ(FieldAt("DeploymentSpec", "template").proto_tag, 3);
  EXPECT_EQ(FieldAt("DeploymentSpec", "progressDeadlineSeconds").proto_tag, 9);
  EXPECT_EQ(FieldAt("PodTemplateSpec", "spec").proto_tag, 2);
  EXPECT_EQ(FieldAt("PodSpec", "containers").proto_tag, 2);
  EXPECT_EQ(FieldAt("PodSpec", "initContainers").proto_tag, 20);
  EXPECT_EQ(FieldAt("Container", "image").proto_tag, 2);
  EXPECT_EQ(FieldAt("Container", "envFrom").proto_tag, 19);
  EXPECT_EQ(FieldAt("ContainerPort", "containerPort").proto_tag, 3);
  EXPECT_EQ(FieldAt("JobSpec", "template").proto_tag, 6);
  EXPECT_EQ(FieldAt("JobSpec", "backoffLimit").proto_tag, 7);
  EXPECT_EQ(FieldAt("CronJobSpec", "schedule").proto_tag, 1);
  EXPECT_EQ(FieldAt("CronJobSpec", "jobTemplate").proto_tag, 5);
  EXPECT_EQ(FieldAt("CronJobSpec", "timeZone").proto_tag, 8);
  const Schema* hpa2 =
      BuiltinRegistry().FindType("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec");
  ASSERT_NE(hpa2, nullptr);
  EXPECT_EQ(hpa2->FindField("behavior")->proto_tag, 5);
  // Go-inlined structs: Volume's sources live in message 2, Probe's handler in message 1.
  const Schema* volume = BuiltinRegistry().FindType("Volume");
  EXPECT_TRUE(volume->IsInlineTag(2));
  EXPECT_EQ(volume->FindFieldByTag(1, 2)->name, "hostPath");
  EXPECT_EQ(volume->FindFieldByTag(19, 2)->name, "configMap");
  EXPECT_EQ(BuiltinRegistry().FindType("Probe")->FindFieldByTag(2, 1)->name, "httpGet");
}

TEST(BuiltinRegistry, FieldTypesAndFlags) {
  EXPECT_EQ(FieldAt("Container", "resources").type->FindField("limits")->type->element->kind,
            TypeKind::kQuantity);
  EXPECT_EQ(FieldAt("ServicePort", "targetPort").type->kind, TypeKind::kIntOrString);
  EXPECT_EQ(FieldAt("ObjectMeta", "creationTimestamp").type->kind, TypeKind::kTime);
  EXPECT_EQ(FieldAt("LeaseSpec", "renewTime").type->kind, TypeKind::kMicroTime);
  EXPECT_EQ(FieldAt("Secret", "data").type->element->kind, TypeKind::kBytes);
  EXPECT_EQ(FieldAt("ControllerRevision", "data").type->kind, TypeKind::kAny);
  EXPECT_TRUE(FieldAt("PodSpec", "containers").required);
  EXPECT_TRUE(FieldAt("Container", "name").required);
  EXPECT_FALSE(FieldAt("Container", "image").required);
  EXPECT_TRUE(FieldAt("DeploymentSpec", "selector").required);
  EXPECT_EQ(FieldAt("Container", "imagePullPolicy").enum_values,
            (std::vector<std::string>{"Always", "IfNotPresent", "Never", ""}));
  // A pointer field in Go: "" is not the unset value there.
  EXPECT_EQ(FieldAt("PodSecurityContext", "fsGroupChangePolicy").enum_values,
            (std::vector<std::string>{"Always", "OnRootMismatch"}));
  // omitempty only where Go drops the zero value: non-pointer scalars, lists and maps.
  EXPECT_TRUE(FieldAt("DeploymentSpec", "minReadySeconds").omit_empty);
  EXPECT_FALSE(FieldAt("DeploymentSpec", "replicas").omit_empty);  // *int32: 0 is a value
  EXPECT_TRUE(FieldAt("ObjectMeta", "generation").omit_empty);
  EXPECT_FALSE(FieldAt("ObjectMeta", "creationTimestamp").omit_empty);          // a struct in Go
  EXPECT_FALSE(FieldAt("PodSpec", "automountServiceAccountToken").omit_empty);  // *bool
  EXPECT_FALSE(FieldAt("Container", "name").omit_empty);                        // no omitempty
  EXPECT_TRUE(FieldAt("Container", "ports").omit_empty);
  EXPECT_FALSE(FieldAt("StatefulSetSpec", "serviceName").required);
  EXPECT_FALSE(FieldAt("ReplicaSetStatus", "replicas").required);  // status: written by us
  EXPECT_TRUE(BuiltinRegistry().FindType("AWSElasticBlockStoreVolumeSource")->preserve_unknown);
  EXPECT_FALSE(BuiltinRegistry().FindType("PodSpec")->preserve_unknown);
  // Volume sources a manifest may use are all there.
  for (const char* src : {"emptyDir", "hostPath", "configMap", "secret", "persistentVolumeClaim",
                          "projected", "downwardAPI", "nfs", "csi", "ephemeral", "image"}) {
    EXPECT_NE(BuiltinRegistry().FindType("Volume")->FindField(src), nullptr) << src;
  }
}

}  // namespace
}  // namespace sampan::api

namespace sampan::api {
namespace {

// Realistic manifests, defaulted as the server would, pass the strict schema walk: no unknown
// fields, no type/enum/required errors. A missing schema field would show up here.
TEST(BuiltinRegistry, RealManifestsPassStrictValidation) {
  const std::pair<const char*, const char*> manifests[] = {
      {"apps/Deployment", R"({"apiVersion":"apps/v1","kind":"Deployment",
        "metadata":{"name":"web","namespace":"default","labels":{"app":"web"},
                    "annotations":{"a":"b"}},
        "spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"},
                  "matchExpressions":[{"key":"tier","operator":"In","values":["fe"]}]},
          "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1,"maxUnavailable":"25%"}},
          "minReadySeconds":5,"revisionHistoryLimit":4,"progressDeadlineSeconds":300,
          "template":{"metadata":{"labels":{"app":"web","tier":"fe"}},
            "spec":{"serviceAccountName":"web","automountServiceAccountToken":false,
              "securityContext":{"runAsNonRoot":true,"runAsUser":1000,"fsGroup":2000,
                "seccompProfile":{"type":"RuntimeDefault"},"sysctls":[{"name":"net.core.somaxconn","value":"1024"}]},
              "initContainers":[{"name":"init","image":"busybox","command":["sh","-c","true"]},
                                {"name":"sidecar","image":"envoy","restartPolicy":"Always"}],
              "containers":[{"name":"web","image":"nginx:1.25","imagePullPolicy":"IfNotPresent",
                "args":["-g","daemon off;"],"workingDir":"/srv",
                "ports":[{"name":"http","containerPort":80,"protocol":"TCP"}],
                "env":[{"name":"A","value":"1"},
                       {"name":"POD","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}},
                       {"name":"MEM","valueFrom":{"resourceFieldRef":{"resource":"limits.memory","divisor":"1Mi"}}},
                       {"name":"PW","valueFrom":{"secretKeyRef":{"name":"s","key":"pw","optional":true}}}],
                "envFrom":[{"configMapRef":{"name":"cfg"},"prefix":"CFG_"},{"secretRef":{"name":"s"}}],
                "resources":{"requests":{"cpu":"100m","memory":"64Mi"},"limits":{"cpu":1,"memory":"128Mi"}},
                "volumeMounts":[{"name":"data","mountPath":"/data","readOnly":true,"subPath":"x"},
                                {"name":"cfg","mountPath":"/etc/cfg"}],
                "livenessProbe":{"httpGet":{"path":"/healthz","port":"http","httpHeaders":[{"name":"X","value":"y"}]},
                                 "initialDelaySeconds":3,"periodSeconds":10,"timeoutSeconds":1,"failureThreshold":3},
                "readinessProbe":{"tcpSocket":{"port":80}},
                "startupProbe":{"exec":{"command":["cat","/tmp/ok"]}},
                "lifecycle":{"preStop":{"exec":{"command":["sleep","5"]}},"postStart":{"sleep":{"seconds":1}}},
                "securityContext":{"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,
                  "capabilities":{"drop":["ALL"],"add":["NET_BIND_SERVICE"]}},
                "terminationMessagePolicy":"FallbackToLogsOnError","stdin":false,"tty":false}],
              "volumes":[{"name":"data","persistentVolumeClaim":{"claimName":"data"}},
                         {"name":"cfg","configMap":{"name":"cfg","items":[{"key":"a","path":"a.conf","mode":420}]}},
                         {"name":"tmp","emptyDir":{"medium":"Memory","sizeLimit":"64Mi"}},
                         {"name":"host","hostPath":{"path":"/var/log","type":"Directory"}},
                         {"name":"sec","secret":{"secretName":"s","defaultMode":256}},
                         {"name":"proj","projected":{"sources":[{"serviceAccountToken":{"path":"t","expirationSeconds":600,"audience":"x"}},
                            {"downwardAPI":{"items":[{"path":"labels","fieldRef":{"fieldPath":"metadata.labels"}}]}}]}},
                         {"name":"eph","ephemeral":{"volumeClaimTemplate":{"spec":{"accessModes":["ReadWriteOnce"],
                            "resources":{"requests":{"storage":"1Gi"}}}}}}],
              "affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[
                  {"matchExpressions":[{"key":"kubernetes.io/os","operator":"In","values":["linux"]}]}]}},
                "podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":100,
                  "podAffinityTerm":{"labelSelector":{"matchLabels":{"app":"web"}},"topologyKey":"kubernetes.io/hostname"}}]}},
              "tolerations":[{"key":"k","operator":"Equal","value":"v","effect":"NoExecute","tolerationSeconds":30}],
              "topologySpreadConstraints":[{"maxSkew":1,"topologyKey":"zone","whenUnsatisfiable":"ScheduleAnyway",
                "labelSelector":{"matchLabels":{"app":"web"}}}],
              "nodeSelector":{"disk":"ssd"},"hostAliases":[{"ip":"127.0.0.1","hostnames":["foo"]}],
              "dnsConfig":{"nameservers":["1.1.1.1"],"options":[{"name":"ndots","value":"2"}]},
              "imagePullSecrets":[{"name":"reg"}],"priorityClassName":"high","terminationGracePeriodSeconds":10}}}})"},
      {"/Service",
       R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"default"},
        "spec":{"type":"NodePort","selector":{"app":"web"},"ports":[{"name":"http","port":80,"targetPort":"http","nodePort":30080,"protocol":"TCP","appProtocol":"http"}],
          "sessionAffinity":"ClientIP","sessionAffinityConfig":{"clientIP":{"timeoutSeconds":60}},
          "externalTrafficPolicy":"Local","ipFamilyPolicy":"SingleStack","ipFamilies":["IPv4"]}})"},
      {"batch/CronJob",
       R"({"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"hello","namespace":"default"},
        "spec":{"schedule":"*/1 * * * *","timeZone":"Etc/UTC","concurrencyPolicy":"Forbid","startingDeadlineSeconds":10,
          "jobTemplate":{"spec":{"backoffLimit":2,"ttlSecondsAfterFinished":100,"template":{"spec":{"restartPolicy":"OnFailure",
            "containers":[{"name":"hello","image":"busybox:1.28","command":["/bin/sh","-c","date"]}]}}}}}})"},
      {"apps/StatefulSet",
       R"({"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db","namespace":"default"},
        "spec":{"serviceName":"db","replicas":2,"selector":{"matchLabels":{"app":"db"}},
          "template":{"metadata":{"labels":{"app":"db"}},"spec":{"containers":[{"name":"db","image":"postgres:16",
            "volumeMounts":[{"name":"pgdata","mountPath":"/var/lib/postgresql"}]}]}},
          "volumeClaimTemplates":[{"metadata":{"name":"pgdata"},"spec":{"accessModes":["ReadWriteOnce"],
            "storageClassName":"local","resources":{"requests":{"storage":"1Gi"}}}}]}})"},
      {"/Secret",
       R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"default"},
        "type":"Opaque","data":{"pw":"c2VjcmV0"},"stringData":{"user":"admin"},"immutable":false})"},
      {"autoscaling/HorizontalPodAutoscaler",
       R"({"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler",
        "metadata":{"name":"web","namespace":"default"},"spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"web"},
        "minReplicas":1,"maxReplicas":10,"metrics":[{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":50}}}],
        "behavior":{"scaleDown":{"stabilizationWindowSeconds":300,"policies":[{"type":"Pods","value":1,"periodSeconds":60}]}}}})"},
  };
  for (const auto& [what, text] : manifests) {
    boost::json::value v = boost::json::parse(text);
    std::string_view w = what;
    std::string group(w.substr(0, w.find('/')));
    std::string kind(w.substr(w.find('/') + 1));
    std::string version = kind == "HorizontalPodAutoscaler" ? "v2" : "v1";
    const KindInfo* k = BuiltinRegistry().FindKind(group, version, kind);
    ASSERT_NE(k, nullptr) << what;
    SchemaCheck check = CheckAgainstSchema(v, k->schema);
    std::string unknown, errors;
    for (const auto& u : check.unknown_fields) unknown += u + " ";
    for (const auto& e : check.errors) errors += e.field + ": " + e.message + "; ";
    EXPECT_TRUE(check.unknown_fields.empty()) << what << " unknown: " << unknown;
    EXPECT_TRUE(check.errors.empty()) << what << " errors: " << errors;
  }
  // And the walk does see what the schema lacks.
  boost::json::value bad = boost::json::parse(
      R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"x","imagePolicy":"Always"}]}})");
  SchemaCheck check = CheckAgainstSchema(bad, BuiltinRegistry().FindKind("", "v1", "Pod")->schema);
  EXPECT_EQ(check.unknown_fields, std::vector<std::string>{"spec.containers[0].imagePolicy"});
}

}  // namespace
}  // namespace sampan::api
