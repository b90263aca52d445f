#include "api/discovery.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>

namespace sampan::api {
namespace {

namespace json = boost::json;

constexpr std::string_view kSchema = R"(
package io.k8s.apimachinery.pkg.apis.meta.v1
type ObjectMeta
  name string 1 "Name."
package io.k8s.api.core.v1
type Pod "A pod."
  metadata ObjectMeta 1 "Metadata."
type Namespace "A namespace."
  metadata ObjectMeta 1 "Metadata."
package io.k8s.api.apps.v1
type Deployment "A deployment."
  metadata ObjectMeta 1 "Metadata."
package io.k8s.api.widgets.v1beta1
type Widget "A widget."
  metadata ObjectMeta 1 "Metadata."
package io.k8s.api.widgets.v1
type Widget "A widget."
  metadata ObjectMeta 1 "Metadata."
kind Namespace group= version=v1 plural=namespaces singular=namespace scope=Cluster type=io.k8s.api.core.v1.Namespace short=ns subresources=status
kind Pod group= version=v1 plural=pods singular=pod scope=Namespaced type=io.k8s.api.core.v1.Pod short=po categories=all subresources=status,log
kind Deployment group=apps version=v1 plural=deployments singular=deployment scope=Namespaced type=io.k8s.api.apps.v1.Deployment short=deploy categories=all subresources=status,scale
kind Widget group=widgets.example.com version=v1beta1 plural=widgets singular=widget scope=Cluster type=io.k8s.api.widgets.v1beta1.Widget verbs=get,list
kind Widget group=widgets.example.com version=v1 plural=widgets singular=widget scope=Cluster type=io.k8s.api.widgets.v1.Widget
)";

class DiscoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status st = registry_.Load(kSchema, "test");
    ASSERT_TRUE(st.ok()) << st.ToString();
    st = registry_.Resolve();
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  Registry registry_;
};

TEST(NegotiateDiscoveryTest, PicksWhatKubectlOffers) {
  // kubectl 1.30+.
  EXPECT_EQ(NegotiateDiscovery(
                "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
                "application/json"),
            DiscoveryFormat::kV2);
  // kubectl 1.29.
  EXPECT_EQ(NegotiateDiscovery(
                "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
                "application/json"),
            DiscoveryFormat::kV2Beta1);
  EXPECT_EQ(NegotiateDiscovery("application/json"), DiscoveryFormat::kLegacy);
  EXPECT_EQ(NegotiateDiscovery(""), DiscoveryFormat::kLegacy);
  EXPECT_EQ(NegotiateDiscovery("*/*"), DiscoveryFormat::kLegacy);
  EXPECT_EQ(
      NegotiateDiscovery("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList"),
      DiscoveryFormat::kLegacy);
  EXPECT_EQ(NegotiateDiscovery("application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;"
                               "as=APIGroupDiscoveryList, application/json ; v=v2 ; "
                               "g=apidiscovery.k8s.io ; as=APIGroupDiscoveryList"),
            DiscoveryFormat::kV2);
  EXPECT_EQ(DiscoveryContentType(DiscoveryFormat::kV2),
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
  EXPECT_EQ(DiscoveryContentType(DiscoveryFormat::kV2Beta1),
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList");
  EXPECT_EQ(DiscoveryContentType(DiscoveryFormat::kLegacy), "application/json");
}

TEST(CompareKubeVersionsTest, KubernetesPriority) {
  std::vector<std::string> v = {"v1alpha1", "foo", "v1",        "v2beta1", "v1beta2",
                                "v10",      "v2",  "v11alpha2", "v1beta1"};
  std::stable_sort(v.begin(), v.end(), [](const std::string& a, const std::string& b) {
    return CompareKubeVersions(a, b) < 0;
  });
  EXPECT_EQ(v, (std::vector<std::string>{"v10", "v2", "v1", "v2beta1", "v1beta2", "v1beta1",
                                         "v11alpha2", "v1alpha1", "foo"}));
}

TEST_F(DiscoveryTest, AggregatedCore) {
  json::object list = AggregatedDiscovery(registry_, /*core=*/true, DiscoveryFormat::kV2);
  EXPECT_EQ(list["kind"], "APIGroupDiscoveryList");
  EXPECT_EQ(list["apiVersion"], "apidiscovery.k8s.io/v2");
  ASSERT_EQ(list["items"].as_array().size(), 1u);
  const json::object& group = list["items"].at(0).as_object();
  EXPECT_EQ(json::serialize(group.at("metadata")), R"({"name":""})");
  const json::object& version = group.at("versions").at(0).as_object();
  EXPECT_EQ(version.at("version"), "v1");
  EXPECT_EQ(version.at("freshness"), "Current");
  const json::array& resources = version.at("resources").as_array();
  ASSERT_EQ(resources.size(), 2u);
  EXPECT_EQ(resources[0].at("resource"), "namespaces");  // registration order
  EXPECT_EQ(resources[0].at("scope"), "Cluster");
  EXPECT_FALSE(resources[0].as_object().contains("categories"));
  EXPECT_EQ(json::serialize(resources[1]),
            R"({"resource":"pods","responseKind":{"group":"","version":"v1","kind":"Pod"},)"
            R"("scope":"Namespaced","singularResource":"pod","verbs":["create","delete",)"
            R"("deletecollection","get","list","patch","update","watch"],"shortNames":["po"],)"
            R"("categories":["all"],"subresources":[{"subresource":"status","responseKind":)"
            R"({"group":"","version":"v1","kind":"Pod"},"verbs":["get","patch","update"]},)"
            R"({"subresource":"log","responseKind":{"group":"","version":"v1","kind":"Pod"},)"
            R"("verbs":["get"]}]})");
}

TEST_F(DiscoveryTest, AggregatedGroups) {
  json::object list = AggregatedDiscovery(registry_, /*core=*/false, DiscoveryFormat::kV2Beta1);
  EXPECT_EQ(list["apiVersion"], "apidiscovery.k8s.io/v2beta1");
  const json::array& items = list["items"].as_array();
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].at("metadata").at("name"), "apps");
  const json::object& deploy = items[0].at("versions").at(0).at("resources").at(0).as_object();
  const json::array& subs = deploy.at("subresources").as_array();
  ASSERT_EQ(subs.size(), 2u);
  EXPECT_EQ(json::serialize(subs[1]),
            R"({"subresource":"scale","responseKind":{"group":"autoscaling","version":"v1",)"
            R"("kind":"Scale"},"verbs":["get","patch","update"]})");
  // Versions newest first: the first is the preferred one.
  const json::array& versions = items[1].at("versions").as_array();
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_EQ(versions[0].at("version"), "v1");
  EXPECT_EQ(versions[1].at("version"), "v1beta1");
  EXPECT_EQ(json::serialize(versions[1].at("resources").at(0).at("verbs")), R"(["get","list"])");
}

TEST_F(DiscoveryTest, Legacy) {
  EXPECT_EQ(json::serialize(ApiVersions("10.0.0.1:6443")),
            R"({"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":)"
            R"([{"clientCIDR":"0.0.0.0/0","serverAddress":"10.0.0.1:6443"}]})");
  json::object groups = ApiGroupList(registry_);
  EXPECT_EQ(groups["kind"], "APIGroupList");
  const json::array& g = groups["groups"].as_array();
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(
      json::serialize(g[1]),
      R"({"name":"widgets.example.com","versions":[{"groupVersion":"widgets.example.com/v1",)"
      R"("version":"v1"},{"groupVersion":"widgets.example.com/v1beta1","version":"v1beta1"}],)"
      R"("preferredVersion":{"groupVersion":"widgets.example.com/v1","version":"v1"}})");

  Result<json::object> group = ApiGroup(registry_, "apps");
  ASSERT_TRUE(group.ok());
  EXPECT_EQ((*group)["kind"], "APIGroup");
  EXPECT_EQ((*group)["preferredVersion"].at("version"), "v1");
  EXPECT_EQ(ApiGroup(registry_, "nope").status().code(), Code::kNotFound);
  EXPECT_EQ(ApiGroup(registry_, "").status().code(), Code::kNotFound);

  Result<json::object> apps = ApiResourceList(registry_, "apps", "v1");
  ASSERT_TRUE(apps.ok());
  EXPECT_EQ((*apps)["groupVersion"], "apps/v1");
  const json::array& res = (*apps)["resources"].as_array();
  ASSERT_EQ(res.size(), 3u);
  EXPECT_EQ(res[0].at("name"), "deployments");
  EXPECT_EQ(res[0].at("namespaced"), true);
  EXPECT_EQ(json::serialize(res[0].at("shortNames")), R"(["deploy"])");
  EXPECT_EQ(
      json::serialize(res[2]),
      R"({"name":"deployments/scale","singularName":"","namespaced":true,)"
      R"("group":"autoscaling","version":"v1","kind":"Scale","verbs":["get","patch","update"]})");
  EXPECT_FALSE(res[1].as_object().contains("group"));  // deployments/status: same group

  Result<json::object> core = ApiResourceList(registry_, "", "v1");
  ASSERT_TRUE(core.ok());
  EXPECT_EQ((*core)["groupVersion"], "v1");
  EXPECT_EQ(ApiResourceList(registry_, "apps", "v2").status().code(), Code::kNotFound);
}

TEST(DiscoveryBuiltinTest, EveryKindIsDiscoverable) {
  const Registry& r = BuiltinRegistry();
  std::set<std::string> seen;
  for (bool core : {true, false}) {
    json::object list = AggregatedDiscovery(r, core, DiscoveryFormat::kV2);
    for (const json::value& item : list["items"].as_array()) {
      std::string group(item.at("metadata").at("name").as_string());
      EXPECT_EQ(group.empty(), core);
      for (const json::value& v : item.at("versions").as_array()) {
        EXPECT_EQ(v.at("freshness"), "Current");
        for (const json::value& res : v.at("resources").as_array()) {
          const json::object& rk = res.at("responseKind").as_object();
          EXPECT_EQ(rk.at("group").as_string(), group);
          std::string scope(res.at("scope").as_string());
          EXPECT_TRUE(scope == "Namespaced" || scope == "Cluster");
          std::string key = group + "/" + std::string(v.at("version").as_string()) + "/" +
                            std::string(rk.at("kind").as_string());
          EXPECT_TRUE(seen.insert(key).second) << key;
          if (const json::value* subs = res.as_object().if_contains("subresources")) {
            for (const json::value& s : subs->as_array()) {
              EXPECT_FALSE(s.at("responseKind").at("kind").as_string().empty());
              EXPECT_FALSE(s.at("verbs").as_array().empty());
            }
          }
        }
      }
    }
  }
  EXPECT_EQ(seen.size(), r.kinds().size());
  for (const KindInfo* k : r.kinds()) {
    EXPECT_TRUE(seen.count(k->group + "/" + k->version + "/" + k->kind)) << k->kind;
    EXPECT_TRUE(ApiResourceList(r, k->group, k->version).ok()) << k->ApiVersion();
  }
  EXPECT_TRUE(r.FindKind("", "v1", "Pod") != nullptr);
}

}  // namespace
}  // namespace sampan::api
