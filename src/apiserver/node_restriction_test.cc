#include "apiserver/node_restriction.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/codec.h"
#include "apiserver/rest_test_fixture.h"

namespace sampan::apiserver {
namespace {

namespace json = boost::json;

json::object Parse(const char* text) { return json::parse(text).as_object(); }

class NodeRestrictionTest : public RestFixture {
 protected:
  const api::KindInfo& Kind(const char* group, const char* kind) {
    return *api::BuiltinRegistry().FindKind(group, "v1", kind);
  }
  Status Write(const char* group, const char* kind, const char* sub, const json::object* old,
               const json::object& obj) {
    return AdmitNodeWrite(&node_, Kind(group, kind), sub, old, obj, api::BuiltinRegistry(),
                          *cache_);
  }
  Identity node_{"system:node:n1", {"system:nodes", "system:authenticated"}, true};
};

TEST_F(NodeRestrictionTest, OnlyNodeUsersAreConcerned) {
  EXPECT_EQ(NodeNameOf(&node_), "n1");
  Identity admin{"system:admin", {"system:masters"}, true};
  EXPECT_FALSE(NodeNameOf(&admin));
  Identity impostor{"system:node:n1", {"system:authenticated"}, true};  // not in system:nodes
  EXPECT_FALSE(NodeNameOf(&impostor));
  EXPECT_FALSE(NodeNameOf(nullptr));
  Identity nameless{"someone", {"system:nodes"}, true};
  EXPECT_EQ(NodeNameOf(&nameless), "");
  json::object other = Parse(R"({"metadata":{"name":"n2"}})");
  EXPECT_TRUE(
      AdmitNodeWrite(&admin, Kind("", "Node"), "", nullptr, other, api::BuiltinRegistry(), *cache_)
          .ok());
  Status st = AdmitNodeWrite(&nameless, Kind("", "Node"), "", nullptr, other,
                             api::BuiltinRegistry(), *cache_);
  EXPECT_EQ(st.message(),
            "nodes \"n2\" is forbidden: could not determine node from user \"someone\"");
}

TEST_F(NodeRestrictionTest, KubeletLabelsOnly) {
  json::object ok = Parse(R"({"metadata":{"name":"n1","labels":{"kubernetes.io/hostname":"n1",
    "kubernetes.io/os":"linux","node.kubernetes.io/instance-type":"big",
    "topology.kubernetes.io/zone":"z","kubelet.kubernetes.io/x":"1","example.com/y":"2"}}})");
  EXPECT_TRUE(Write("", "Node", "", nullptr, ok).ok());
  json::object bad = Parse(R"({"metadata":{"name":"n1","labels":{
    "node-role.kubernetes.io/control-plane":"","a.node-restriction.kubernetes.io/b":"c",
    "k8s.io/z":"1"}}})");
  EXPECT_EQ(Write("", "Node", "", nullptr, bad).message(),
            "nodes \"n1\" is forbidden: node \"n1\" is not allowed to set the following labels: "
            "a.node-restriction.kubernetes.io/b, k8s.io/z, node-role.kubernetes.io/control-plane");
  // On update only the changed labels count: a label set by an admin may stay.
  json::object had = Parse(R"({"metadata":{"name":"n1","labels":{
    "node-role.kubernetes.io/control-plane":""}},"spec":{}})");
  json::object kept = had;
  kept["status"] = Parse(R"({"phase":"Running"})");
  EXPECT_TRUE(Write("", "Node", "status", &had, kept).ok());
  json::object removed = Parse(R"({"metadata":{"name":"n1","labels":{}},"spec":{}})");
  EXPECT_EQ(Write("", "Node", "", &had, removed).message(),
            "nodes \"n1\" is forbidden: is not allowed to modify labels: "
            "node-role.kubernetes.io/control-plane");
}

TEST_F(NodeRestrictionTest, ClaimStatusOnlyCapacityAndConditions) {
  json::object old = Parse(R"({"metadata":{"name":"c","namespace":"d","resourceVersion":"1"},
    "spec":{"volumeName":"v"},"status":{"phase":"Bound"}})");
  json::object grown = old;
  grown["status"].as_object()["capacity"] = Parse(R"({"storage":"2Gi"})");
  grown["metadata"].as_object()["resourceVersion"] = "2";
  EXPECT_TRUE(Write("", "PersistentVolumeClaim", "status", &old, grown).ok());
  json::object phase = old;
  phase["status"].as_object()["phase"] = "Lost";
  EXPECT_EQ(Write("", "PersistentVolumeClaim", "status", &old, phase).message(),
            "persistentvolumeclaims \"c\" is forbidden: node \"n1\" is not allowed to update "
            "fields other than status.capacity and status.conditions");
  EXPECT_EQ(Write("", "PersistentVolumeClaim", "", &old, grown).message(),
            "persistentvolumeclaims \"c\" is forbidden: may only update PVC status");
}

TEST_F(NodeRestrictionTest, PodsBoundToTheNode) {
  json::object mine = Parse(R"({"metadata":{"name":"p","namespace":"d","labels":{"a":"1"}},
    "spec":{"nodeName":"n1"}})");
  json::object theirs = Parse(R"({"metadata":{"name":"q","namespace":"d"},
    "spec":{"nodeName":"n2"}})");
  json::object status = mine;
  status["status"] = Parse(R"({"phase":"Running"})");
  EXPECT_TRUE(Write("", "Pod", "status", &mine, status).ok());
  json::object relabelled = status;
  relabelled["metadata"].as_object()["labels"] = Parse(R"({"a":"2"})");
  EXPECT_EQ(Write("", "Pod", "status", &mine, relabelled).message(),
            "pods \"p\" is forbidden: node \"n1\" cannot update labels through pod status");
  EXPECT_EQ(Write("", "Pod", "status", &theirs, theirs).message(),
            "pods \"q\" is forbidden: node \"n1\" can only update pod status for pods with "
            "spec.nodeName set to itself");
  EXPECT_EQ(Write("", "Pod", "", &mine, mine).message(),
            "pods \"p\" is forbidden: unexpected operation \"UPDATE\", node \"n1\" can only "
            "create and delete mirror pods");
  EXPECT_TRUE(AdmitNodeDelete(&node_, Kind("", "Pod"), mine).ok());
  EXPECT_EQ(AdmitNodeDelete(&node_, Kind("", "Pod"), theirs).message(),
            "pods \"q\" is forbidden: node \"n1\" can only delete pods with spec.nodeName set to "
            "itself");
  // A mirror pod must be owned by the node and name no Secret.
  json::object mirror = Parse(R"({"metadata":{"name":"m","namespace":"d",
    "annotations":{"kubernetes.io/config.mirror":"h"}},
    "spec":{"nodeName":"n1","containers":[{"name":"c","image":"i",
      "env":[{"name":"E","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}}]}]}})");
  EXPECT_EQ(Write("", "Pod", "", nullptr, mirror).message(),
            "pods \"m\" is forbidden: node \"n1\" can only create pods with an owner reference "
            "set to itself");
}

}  // namespace
}  // namespace sampan::apiserver
