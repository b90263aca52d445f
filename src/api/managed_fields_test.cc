#include "api/managed_fields.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/json_util.h"
#include "api/schema.h"

namespace sampan::api {
namespace {

namespace json = boost::json;

const Schema* DeploymentSchema() {
  return BuiltinRegistry().FindKind("apps", "v1", "Deployment")->schema;
}

json::object Obj(std::string_view text) { return json::parse(text).as_object(); }

TEST(ManagedFieldsTest, AppliedFieldsFollowTheSchemasListKinds) {
  json::object d = Obj(R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "ns", "labels": {"app": "web"}, "uid": "u"},
    "spec": {"replicas": 2, "template": {"spec": {
      "containers": [{"name": "app", "image": "busybox", "args": ["a", "b"],
                      "ports": [{"containerPort": 80}]}]}}},
    "status": {"replicas": 2}})");
  json::object f = AppliedFields(d, DeploymentSchema());
  // Identity, system metadata and status are nobody's; an associative list is keyed by its
  // merge key and owns its items ("."); an atomic list (args) is one leaf.
  EXPECT_EQ(
      SerializeSorted(f),
      R"({"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"f:template":)"
      R"({"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:args":{},"f:image":{},)"
      R"("f:name":{},"f:ports":{"k:{\"containerPort\":80}":{".":{},"f:containerPort":{}}}}}}}}})");
}

TEST(ManagedFieldsTest, SetListsAreOwnedByValue) {
  json::object cm = Obj(R"({"metadata": {"name": "x", "finalizers": ["a/b", "c"]}})");
  json::object f = AppliedFields(cm, BuiltinRegistry().FindKind("", "v1", "ConfigMap")->schema);
  EXPECT_EQ(SerializeSorted(f), R"({"f:metadata":{"f:finalizers":{"v:\"a/b\"":{},"v:\"c\"":{}}}})");
}

TEST(ManagedFieldsTest, LeavesAndTrieEdits) {
  json::object t =
      Obj(R"({"f:a":{"f:b":{},"f:c":{}},"f:l":{"k:{\"name\":\"x\"}":{".":{},"f:v":{}}}})");
  std::vector<FieldPath> leaves = LeafPaths(t);
  ASSERT_EQ(leaves.size(), 4u);
  EXPECT_EQ(leaves[0], (FieldPath{"f:a", "f:b"}));
  EXPECT_EQ(leaves[2], (FieldPath{"f:l", "k:{\"name\":\"x\"}", "."}));
  EXPECT_TRUE(TrieHasLeaf(t, {"f:a", "f:c"}));
  EXPECT_FALSE(TrieHasLeaf(t, {"f:a"}));  // an inner node is not a leaf
  EXPECT_TRUE(TrieHasPrefix(t, {"f:l", "k:{\"name\":\"x\"}"}));
  TrieRemove(t, {"f:a", "f:b"});
  TrieRemove(t, {"f:a", "f:c"});  // the emptied branch goes too
  EXPECT_FALSE(t.contains("f:a"));
  TrieRemove(t, {"f:l"});  // not a leaf: nothing happens
  EXPECT_TRUE(t.contains("f:l"));
  TrieAdd(t, {"f:z", "f:y"});
  EXPECT_TRUE(TrieHasLeaf(t, {"f:z", "f:y"}));
}

TEST(ManagedFieldsTest, PathsAddressFieldsItemsAndValues) {
  json::value v = json::parse(R"({"spec": {"containers": [{"name": "a", "image": "i1"},
                                                          {"name": "b", "image": "i2"}]},
                                  "metadata": {"finalizers": ["x", "y"]}})");
  const json::value* img =
      ValueAtPath(v, {"f:spec", "f:containers", "k:{\"name\":\"b\"}", "f:image"});
  ASSERT_NE(img, nullptr);
  EXPECT_EQ(*img, json::value("i2"));
  EXPECT_NE(ValueAtPath(v, {"f:spec", "f:containers", "k:{\"name\":\"a\"}", "."}), nullptr);
  EXPECT_EQ(ValueAtPath(v, {"f:spec", "f:containers", "k:{\"name\":\"c\"}"}), nullptr);
  EXPECT_NE(ValueAtPath(v, {"f:metadata", "f:finalizers", "v:\"y\""}), nullptr);

  RemoveAtPath(v, {"f:spec", "f:containers", "k:{\"name\":\"a\"}", "."});
  RemoveAtPath(v, {"f:metadata", "f:finalizers", "v:\"x\""});
  RemoveAtPath(v, {"f:spec", "f:containers", "k:{\"name\":\"b\"}", "f:image"});
  RemoveAtPath(v, {"f:nothing", "f:here"});  // absent: no-op
  EXPECT_EQ(SerializeSorted(v),
            R"({"metadata":{"finalizers":["y"]},"spec":{"containers":[{"name":"b"}]}})");
}

TEST(ManagedFieldsTest, MergeKeepsWhatTheConfigurationDoesNotName) {
  json::object live = Obj(R"({"metadata": {"labels": {"a": "1", "keep": "k"}},
    "spec": {"replicas": 3, "template": {"spec": {"containers": [
      {"name": "app", "image": "old", "args": ["x", "y"]},
      {"name": "sidecar", "image": "s"}]}}}})");
  json::object applied = Obj(R"({"metadata": {"labels": {"a": "2"}},
    "spec": {"template": {"spec": {"containers": [
      {"name": "app", "image": "new", "args": ["z"]},
      {"name": "extra", "image": "e"}]}}}})");
  MergeApplied(live, applied, DeploymentSchema());
  // Items merge by name (sidecar stays, extra is added), the atomic args list is replaced,
  // unnamed fields (replicas, label keep) stay.
  EXPECT_EQ(SerializeSorted(live),
            R"({"metadata":{"labels":{"a":"2","keep":"k"}},"spec":{"replicas":3,"template":)"
            R"({"spec":{"containers":[{"args":["z"],"image":"new","name":"app"},)"
            R"({"image":"s","name":"sidecar"},{"image":"e","name":"extra"}]}}}})");
}

TEST(ManagedFieldsTest, PathStringIsKubernetesStyle) {
  EXPECT_EQ(PathString({"f:data", "f:x"}), ".data.x");
  EXPECT_EQ(PathString({"f:spec", "f:containers", "k:{\"name\":\"app\"}", "f:image"}),
            ".spec.containers[name=\"app\"].image");
  EXPECT_EQ(PathString({"f:metadata", "f:finalizers", "v:\"a\""}), ".metadata.finalizers[=\"a\"]");
}

TEST(ManagedFieldsTest, DropNullsEverywhere) {
  json::value v = json::parse(R"({"a": null, "b": {"c": null, "d": 1}, "e": [{"f": null}]})");
  DropNulls(v);
  EXPECT_EQ(SerializeSorted(v), R"({"b":{"d":1},"e":[{}]})");
}

}  // namespace
}  // namespace sampan::api
