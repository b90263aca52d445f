#include "controllers/clusterrole_aggregation.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>

#include "api/json_util.h"
#include "client/shared_informers.h"
#include "client/test_apiserver.h"

namespace sampan::controllers {
namespace {

namespace json = boost::json;
using client::testing::Eventually;

json::object Rule(const char* verb, const char* group, const char* resource) {
  return json::object{{"verbs", json::array{verb}},
                      {"apiGroups", json::array{group}},
                      {"resources", json::array{resource}}};
}

json::object Role(const std::string& name, json::object labels, json::array rules) {
  json::object meta{{"name", name}};
  if (!labels.empty()) meta["labels"] = std::move(labels);
  return json::object{{"apiVersion", "rbac.authorization.k8s.io/v1"},
                      {"kind", "ClusterRole"},
                      {"metadata", std::move(meta)},
                      {"rules", std::move(rules)}};
}

json::object Aggregated(const std::string& name, json::array selectors) {
  return json::object{{"apiVersion", "rbac.authorization.k8s.io/v1"},
                      {"kind", "ClusterRole"},
                      {"metadata", json::object{{"name", name}}},
                      {"aggregationRule", json::object{{"clusterRoleSelectors", selectors}}}};
}

json::object MatchLabel(const char* key, const char* value) {
  return json::object{{"matchLabels", json::object{{key, value}}}};
}

class ClusterRoleAggregationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start_status().ok()) << server_.start_status().ToString();
    auto c = server_.NewClient();
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
    informers_ = std::make_unique<client::SharedInformers>(client_.get());
    controller_ = std::make_unique<ClusterRoleAggregationController>(informers_.get());
  }
  void TearDown() override {
    controller_.reset();
    if (informers_) informers_->Stop();
  }
  void Start() {
    informers_->Start();
    ASSERT_TRUE(informers_->WaitForSync(std::chrono::seconds(10)));
    controller_->Run(2);
  }
  void Create(const json::object& role) {
    auto r = client_->Create(ClusterRolesResource(), "", role);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  // The live role; an empty object when there is none.
  json::object Live(const std::string& name) {
    auto r = client_->Get(ClusterRolesResource(), "", name);
    return r.ok() ? *r : json::object();
  }
  json::array RulesOf(const std::string& name) {
    json::object o = Live(name);
    const json::array* rules = api::Arr(&o, "rules");
    return rules ? *rules : json::array();
  }
  bool RulesAre(const std::string& name, const json::array& want) {
    return api::JsonEqual(json::value(RulesOf(name)), json::value(want));
  }
  std::string Rv(const std::string& name) {
    return api::GetString(json::value(Live(name)), "metadata.resourceVersion");
  }

  client::testing::TestApiServer server_;
  std::unique_ptr<client::RestClient> client_;
  std::unique_ptr<client::SharedInformers> informers_;
  std::unique_ptr<ClusterRoleAggregationController> controller_;
};

TEST_F(ClusterRoleAggregationTest, AggregatesSelectedRolesAndFollowsChanges) {
  Start();
  Create(Aggregated("monitoring", json::array{MatchLabel("example.com/aggregate-to-mon", "true")}));
  json::object pods = Rule("get", "", "pods");
  json::object nodes = Rule("list", "", "nodes");
  json::object metrics = Rule("get", "metrics.k8s.io", "pods");
  // Created out of name order: the result follows names (a-pods before b-nodes).
  Create(Role("b-nodes", {{"example.com/aggregate-to-mon", "true"}}, json::array{nodes, pods}));
  Create(Role("a-pods", {{"example.com/aggregate-to-mon", "true"}}, json::array{pods}));
  Create(Role("unrelated", {{"example.com/aggregate-to-mon", "false"}}, json::array{metrics}));
  // pods appears in both: kept once, where it first appears.
  EXPECT_TRUE(Eventually([&] {
    return RulesAre("monitoring", json::array{pods, nodes});
  })) << json::serialize(RulesOf("monitoring"));

  // A selected role's rules change.
  json::object b = Live("b-nodes");
  b["rules"] = json::array{metrics};
  ASSERT_TRUE(client_->Update(ClusterRolesResource(), "", b).ok());
  EXPECT_TRUE(Eventually([&] {
    return RulesAre("monitoring", json::array{pods, metrics});
  })) << json::serialize(RulesOf("monitoring"));

  // A role loses the label, another is deleted.
  ASSERT_TRUE(client_
                  ->Patch(ClusterRolesResource(), "", "b-nodes", client::PatchType::kMerge,
                          json::object{
                              {"metadata",
                               json::object{{"labels", json::object{{"example.com/aggregate-to-mon",
                                                                     nullptr}}}}}})
                  .ok());
  EXPECT_TRUE(Eventually([&] { return RulesAre("monitoring", json::array{pods}); }))
      << json::serialize(RulesOf("monitoring"));
  ASSERT_TRUE(client_->Delete(ClusterRolesResource(), "", "a-pods").ok());
  EXPECT_TRUE(Eventually([&] { return RulesAre("monitoring", json::array{}); }))
      << json::serialize(RulesOf("monitoring"));
}

TEST_F(ClusterRoleAggregationTest, MatchExpressionsAndSeveralSelectors) {
  Start();
  json::object expr{
      {"matchExpressions",
       json::array{json::object{
           {"key", "tier"}, {"operator", "In"}, {"values", json::array{"gold", "silver"}}}}}};
  Create(Aggregated("combined", json::array{expr, MatchLabel("extra", "yes")}));
  json::object r1 = Rule("get", "", "services");
  json::object r2 = Rule("get", "", "secrets");
  json::object r3 = Rule("get", "", "configmaps");
  Create(Role("gold", {{"tier", "gold"}}, json::array{r1}));
  Create(Role("bronze", {{"tier", "bronze"}}, json::array{r2}));
  Create(Role("extra", {{"extra", "yes"}}, json::array{r3}));
  EXPECT_TRUE(Eventually([&] {
    return RulesAre("combined", json::array{r3, r1});
  })) << json::serialize(RulesOf("combined"));
}

TEST_F(ClusterRoleAggregationTest, BootstrapRolesAreFilled) {
  Start();
  // view ⊆ edit ⊆ admin, each built from the system:aggregate-to-* roles (rbac_bootstrap).
  json::array to_view = RulesOf("system:aggregate-to-view");
  ASSERT_FALSE(to_view.empty());
  EXPECT_TRUE(Eventually([&] { return RulesAre("view", to_view); }))
      << json::serialize(RulesOf("view"));
  auto contains_all = [](const json::array& have, const json::array& want) {
    for (const json::value& w : want) {
      bool found = false;
      for (const json::value& h : have) found = found || api::JsonEqual(h, w);
      if (!found) return false;
    }
    return true;
  };
  EXPECT_TRUE(Eventually([&] {
    json::array edit = RulesOf("edit");
    json::array admin = RulesOf("admin");
    return contains_all(edit, to_view) && contains_all(edit, RulesOf("system:aggregate-to-edit")) &&
           contains_all(admin, edit) && contains_all(admin, RulesOf("system:aggregate-to-admin"));
  }));
}

TEST_F(ClusterRoleAggregationTest, NoWriteWhenUnchanged) {
  json::object pods = Rule("get", "", "pods");
  Create(Aggregated("agg", json::array{MatchLabel("a", "b")}));
  Create(Role("member", {{"a", "b"}}, json::array{pods}));
  Create(Role("plain", {}, json::array{pods}));
  Start();
  ASSERT_TRUE(Eventually([&] { return RulesAre("agg", json::array{pods}); }));
  // Wait until the informer holds the result, then syncing again writes nothing.
  const std::string rv = Rv("agg");
  const std::string plain_rv = Rv("plain");
  client::Informer* roles = informers_->For(ClusterRolesResource());
  ASSERT_TRUE(Eventually([&] {
    client::ObjectPtr o = roles->Get("agg");
    return o && client::MetaString(*o, "resourceVersion") == rv;
  }));
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(controller_->Sync("agg").ok());
    EXPECT_TRUE(controller_->Sync("plain").ok());   // not aggregated: no-op
    EXPECT_TRUE(controller_->Sync("absent").ok());  // gone: no-op
  }
  // Unrelated changes re-run the aggregation without writing either.
  Create(Role("other", {}, json::array{Rule("list", "", "nodes")}));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Rv("agg"), rv);
  EXPECT_EQ(Rv("plain"), plain_rv);
  EXPECT_TRUE(RulesAre("plain", json::array{pods}));
}

TEST(AggregateRulesTest, SkipsItselfAndDropsDuplicates) {
  auto ptr = [](json::object o) { return std::make_shared<const json::object>(std::move(o)); };
  json::object r1 = Rule("get", "", "pods");
  // The same rule with an empty resourceNames list is a duplicate.
  json::object r1_again = r1;
  r1_again["resourceNames"] = json::array{};
  json::object r2 = Rule("watch", "", "pods");
  json::object self = Aggregated("self", json::array{MatchLabel("x", "y")});
  self["metadata"].as_object()["labels"] = json::object{{"x", "y"}};
  self["rules"] = json::array{r2};
  std::vector<client::ObjectPtr> all{ptr(self),
                                     ptr(Role("c", {{"x", "y"}}, json::array{r1_again, r2})),
                                     ptr(Role("b", {{"x", "y"}}, json::array{r1}))};
  auto rules = AggregateRules(self, all);
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  EXPECT_EQ(*rules, (json::array{r1, r2}));
  json::object bad = Aggregated("bad", json::array{json::object{{"matchFoo", 1}}});
  EXPECT_FALSE(AggregateRules(bad, all).ok());
}

}  // namespace
}  // namespace sampan::controllers
