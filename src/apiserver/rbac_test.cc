#include "apiserver/rbac.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/codec.h"
#include "apiserver/http.h"
#include "apiserver/rest_test_fixture.h"

namespace sampan::apiserver {
namespace {

namespace json = boost::json;

AuthzAttributes Res(std::string_view verb, std::string_view group, std::string_view resource,
                    std::string_view ns = "", std::string_view name = "",
                    std::string_view sub = "") {
  AuthzAttributes a;
  a.verb = verb;
  a.group = group;
  a.resource = resource;
  a.ns = ns;
  a.name = name;
  a.subresource = sub;
  return a;
}

AuthzAttributes Path(std::string_view verb, std::string_view path) {
  AuthzAttributes a;
  a.verb = verb;
  a.resource_request = false;
  a.path = path;
  return a;
}

TEST(RbacRules, VerbsGroupsResourcesAndNames) {
  PolicyRule r{{"get", "list"}, {"", "apps"}, {"pods", "deployments"}, {}, {}};
  EXPECT_TRUE(RuleAllows(r, Res("get", "", "pods", "ns", "x")));
  EXPECT_TRUE(RuleAllows(r, Res("list", "apps", "deployments", "ns")));
  EXPECT_FALSE(RuleAllows(r, Res("delete", "", "pods", "ns", "x")));
  EXPECT_FALSE(RuleAllows(r, Res("get", "batch", "pods", "ns", "x")));
  EXPECT_FALSE(RuleAllows(r, Res("get", "", "services", "ns", "x")));
  // A subresource needs its own grant.
  EXPECT_FALSE(RuleAllows(r, Res("get", "", "pods", "ns", "x", "log")));
  PolicyRule named{{"get"}, {""}, {"configmaps"}, {"a", "b"}, {}};
  EXPECT_TRUE(RuleAllows(named, Res("get", "", "configmaps", "ns", "b")));
  EXPECT_FALSE(RuleAllows(named, Res("get", "", "configmaps", "ns", "c")));
  EXPECT_FALSE(RuleAllows(named, Res("get", "", "configmaps", "ns", "")));  // no name: a list
}

TEST(RbacRules, WildcardsAndSubresources) {
  PolicyRule all{{"*"}, {"*"}, {"*"}, {}, {}};
  EXPECT_TRUE(RuleAllows(all, Res("escalate", "rbac.authorization.k8s.io", "roles", "ns", "r")));
  PolicyRule log{{"get"}, {""}, {"pods/log"}, {}, {}};
  EXPECT_TRUE(RuleAllows(log, Res("get", "", "pods", "ns", "x", "log")));
  EXPECT_FALSE(RuleAllows(log, Res("get", "", "pods", "ns", "x")));
  PolicyRule any_status{{"update"}, {"*"}, {"*/status"}, {}, {}};
  EXPECT_TRUE(RuleAllows(any_status, Res("update", "apps", "deployments", "ns", "d", "status")));
  EXPECT_FALSE(RuleAllows(any_status, Res("update", "apps", "deployments", "ns", "d", "scale")));
  EXPECT_FALSE(RuleAllows(any_status, Res("update", "apps", "deployments", "ns", "d")));
}

TEST(RbacRules, NonResourceUrls) {
  PolicyRule r{{"get"}, {}, {}, {}, {"/healthz", "/apis/*"}};
  EXPECT_TRUE(RuleAllows(r, Path("get", "/healthz")));
  EXPECT_TRUE(RuleAllows(r, Path("get", "/apis/apps/v1")));
  EXPECT_FALSE(RuleAllows(r, Path("get", "/healthz/ping")));
  EXPECT_FALSE(RuleAllows(r, Path("post", "/healthz")));
  // A resource rule says nothing of paths, and the other way round.
  PolicyRule res{{"get"}, {"*"}, {"*"}, {}, {}};
  EXPECT_FALSE(RuleAllows(res, Path("get", "/healthz")));
  EXPECT_FALSE(RuleAllows(r, Res("get", "", "pods", "ns")));
}

TEST(RbacRules, CoverageBreaksRulesDownAndMergesWhatIsMissing) {
  std::vector<PolicyRule> owner{PolicyRule{{"get", "list"}, {""}, {"pods", "services"}, {}, {}},
                                PolicyRule{{"*"}, {"apps"}, {"*"}, {}, {}},
                                PolicyRule{{"get"}, {}, {}, {}, {"/logs/*"}}};
  EXPECT_TRUE(UncoveredRules(owner, {PolicyRule{{"get"}, {""}, {"pods"}, {}, {}}}).empty());
  EXPECT_TRUE(
      UncoveredRules(owner, {PolicyRule{{"delete"}, {"apps"}, {"deployments"}, {}, {}}}).empty());
  EXPECT_TRUE(UncoveredRules(owner, {PolicyRule{{"get"}, {""}, {"pods"}, {"x"}, {}}}).empty());
  EXPECT_TRUE(UncoveredRules(owner, {PolicyRule{{"get"}, {}, {}, {}, {"/logs/a"}}}).empty());
  auto missing = UncoveredRules(
      owner, {PolicyRule{{"get", "create", "delete"}, {""}, {"pods", "secrets"}, {}, {}}});
  ASSERT_EQ(missing.size(), 2u);
  EXPECT_EQ(CompactRuleString(missing[0]),
            "{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"create\" \"delete\"]}");
  EXPECT_EQ(CompactRuleString(missing[1]),
            "{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\" \"create\" \"delete\"]}");
  // A wildcard is covered only by a wildcard.
  EXPECT_FALSE(UncoveredRules(owner, {PolicyRule{{"*"}, {""}, {"pods"}, {}, {}}}).empty());
}

TEST(RbacRules, ForbiddenMessagesAreKubernetes) {
  Identity alice{"alice", {"system:authenticated"}, true};
  EXPECT_EQ(ForbiddenError(alice, Res("list", "", "pods", "default")).message(),
            "pods is forbidden: User \"alice\" cannot list resource \"pods\" in API group \"\" "
            "in the namespace \"default\"");
  EXPECT_EQ(ForbiddenError(alice, Res("get", "apps", "deployments", "ns", "web")).message(),
            "deployments.apps \"web\" is forbidden: User \"alice\" cannot get resource "
            "\"deployments\" in API group \"apps\" in the namespace \"ns\"");
  EXPECT_EQ(ForbiddenError(alice, Res("create", "", "pods", "ns", "p", "exec")).message(),
            "pods \"p\" is forbidden: User \"alice\" cannot create resource \"pods/exec\" in API "
            "group \"\" in the namespace \"ns\"");
  EXPECT_EQ(ForbiddenError(alice, Res("list", "", "nodes")).message(),
            "nodes is forbidden: User \"alice\" cannot list resource \"nodes\" in API group \"\" "
            "at the cluster scope");
  EXPECT_EQ(ForbiddenError(alice, Path("get", "/metrics")).message(),
            "forbidden: User \"alice\" cannot get path \"/metrics\"");
  EXPECT_EQ(ForbiddenError(alice, Res("list", "", "nodes")).code(), Code::kForbidden);
}

class AuthorizerTest : public RestFixture {
 protected:
  void SetUp() override {
    RestFixture::SetUp();
    authz_ = std::make_unique<Authorizer>(*cache_, api::BuiltinRegistry(), Authorizer::Mode::kRbac);
    rest_->AddWriteCheck(
        [this](const api::KindInfo& kind, const json::object& obj, const Identity* who) {
          return authz_->CheckEscalation(kind, obj, who);
        });
  }
  void TearDown() override {
    authz_.reset();
    RestFixture::TearDown();
  }
  const api::KindInfo& Kind(const char* kind) {
    return *api::BuiltinRegistry().FindKind("rbac.authorization.k8s.io", "v1", kind);
  }
  Result<ObjectPtr> Write(const char* kind, std::string_view ns, std::string_view yaml,
                          const Identity* who = nullptr) {
    auto v = api::DecodeYaml(yaml);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    WriteOptions wo;
    wo.identity = who;
    return Run(rest_->Create(Kind(kind), std::string(ns), std::move(*v), wo));
  }
  bool Can(const Identity& who, const AuthzAttributes& a) {
    return authz_->Authorize(who, a).allowed;
  }

  std::unique_ptr<Authorizer> authz_;
  Identity alice_{"alice", {"devs", "system:authenticated"}, true};
  Identity bob_{"bob", {"system:authenticated"}, true};
  Identity robot_{"system:serviceaccount:team:robot",
                  {"system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"},
                  true};
};

TEST_F(AuthorizerTest, MastersMayDoEverythingOthersNothingWithoutAGrant) {
  Identity admin{"system:admin", {"system:masters", "system:authenticated"}, true};
  EXPECT_TRUE(Can(admin, Res("delete", "", "nodes", "", "n1")));
  EXPECT_TRUE(Can(admin, Path("get", "/anything")));
  EXPECT_FALSE(Can(alice_, Res("get", "", "pods", "default", "p")));
  EXPECT_FALSE(Can(alice_, Path("get", "/api")));
}

TEST_F(AuthorizerTest, RoleBindingsGrantInTheirNamespaceOnly) {
  ASSERT_TRUE(Write("Role", "default", R"(
metadata: {name: pod-reader}
rules: [{apiGroups: [""], resources: [pods, pods/log], verbs: [get, list, watch]}])")
                  .ok());
  ASSERT_TRUE(Write("RoleBinding", "default", R"(
metadata: {name: read-pods}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects:
- {kind: User, apiGroup: rbac.authorization.k8s.io, name: alice}
- {kind: ServiceAccount, name: robot, namespace: team})")
                  .ok());
  EXPECT_TRUE(Can(alice_, Res("list", "", "pods", "default")));
  EXPECT_TRUE(Can(alice_, Res("get", "", "pods", "default", "p", "log")));
  EXPECT_FALSE(Can(alice_, Res("delete", "", "pods", "default", "p")));
  EXPECT_FALSE(Can(alice_, Res("list", "", "pods", "kube-system")));
  EXPECT_FALSE(Can(alice_, Res("list", "", "pods", "")));  // across namespaces
  EXPECT_FALSE(Can(bob_, Res("list", "", "pods", "default")));
  EXPECT_TRUE(Can(robot_, Res("watch", "", "pods", "default")));
  auto d = authz_->Authorize(alice_, Res("list", "", "pods", "default"));
  EXPECT_EQ(d.reason, "RBAC: allowed by RoleBinding \"read-pods\" of Role \"pod-reader\"");
}

TEST_F(AuthorizerTest, ClusterRoleBindingsAndGroupsGrantEverywhereAndChangesApplyAtOnce) {
  ASSERT_TRUE(Write("ClusterRole", "", R"(
metadata: {name: node-viewer}
rules:
- {apiGroups: [""], resources: [nodes], verbs: [get, list]}
- {nonResourceURLs: [/healthz], verbs: [get]})")
                  .ok());
  EXPECT_FALSE(Can(alice_, Res("list", "", "nodes")));
  ASSERT_TRUE(Write("ClusterRoleBinding", "", R"(
metadata: {name: devs-view-nodes}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: node-viewer}
subjects: [{kind: Group, apiGroup: rbac.authorization.k8s.io, name: devs}])")
                  .ok());
  EXPECT_TRUE(Can(alice_, Res("list", "", "nodes")));
  EXPECT_TRUE(Can(alice_, Path("get", "/healthz")));
  EXPECT_FALSE(Can(bob_, Res("list", "", "nodes")));
  // A ClusterRole bound in one namespace grants there only, and never paths.
  ASSERT_TRUE(Write("RoleBinding", "default", R"(
metadata: {name: bob-nodes}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: node-viewer}
subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: bob}])")
                  .ok());
  EXPECT_FALSE(Can(bob_, Path("get", "/healthz")));
  // The role's rules change: the grant follows.
  const api::KindInfo& cr = Kind("ClusterRole");
  auto changed = Run(rest_->Mutate(
      cr, "", "node-viewer",
      [](json::object& o) {
        o["rules"] = json::array{json::object{{"apiGroups", json::array{""}},
                                              {"resources", json::array{"nodes"}},
                                              {"verbs", json::array{"get"}}}};
        return Status::Ok();
      },
      WriteOptions{}));
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_FALSE(Can(alice_, Res("list", "", "nodes")));
  EXPECT_TRUE(Can(alice_, Res("get", "", "nodes", "", "n1")));
  // The binding goes: so does the grant.
  auto gone =
      Run(rest_->Delete(Kind("ClusterRoleBinding"), "", "devs-view-nodes", DeleteOptions{}));
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(Can(alice_, Res("get", "", "nodes", "", "n1")));
}

TEST_F(AuthorizerTest, RulesForListsWhatAUserHolds) {
  ASSERT_TRUE(Write("Role", "default", R"(
metadata: {name: cm}
rules: [{apiGroups: [""], resources: [configmaps], verbs: ["*"]}])")
                  .ok());
  ASSERT_TRUE(Write("RoleBinding", "default", R"(
metadata: {name: cm}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cm}
subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: alice}])")
                  .ok());
  EXPECT_EQ(authz_->RulesFor(alice_, "default").size(), 1u);
  EXPECT_TRUE(authz_->RulesFor(alice_, "other").empty());
}

TEST_F(AuthorizerTest, NobodyGrantsWhatTheyDoNotHold) {
  ASSERT_TRUE(Write("Role", "default", R"(
metadata: {name: rbac-editor}
rules:
- {apiGroups: [rbac.authorization.k8s.io], resources: [roles, rolebindings],
   verbs: [get, list, create, update, patch, delete]}
- {apiGroups: [""], resources: [pods], verbs: [get, list]})")
                  .ok());
  ASSERT_TRUE(Write("RoleBinding", "default", R"(
metadata: {name: alice-rbac}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: rbac-editor}
subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: alice}])")
                  .ok());
  // A role within what alice holds: fine.
  EXPECT_TRUE(Write("Role", "default", R"(
metadata: {name: reader}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}])",
                    &alice_)
                  .ok());
  // Beyond it: refused, naming what is missing. (A `*` on roles would include `escalate`.)
  auto more = Write("Role", "default", R"(
metadata: {name: deleter}
rules: [{apiGroups: [""], resources: [pods, secrets], verbs: [get, delete]}])",
                    &alice_);
  ASSERT_FALSE(more.ok());
  EXPECT_EQ(more.status().code(), Code::kForbidden);
  EXPECT_EQ(more.status().message(),
            "roles.rbac.authorization.k8s.io \"deleter\" is forbidden: user \"alice\" "
            "(groups=[\"devs\" \"system:authenticated\"]) is attempting to grant RBAC permissions "
            "not currently held:\n{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"delete\"]}\n"
            "{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\" \"delete\"]}");
  // Binding a role she holds all of: fine; binding one with more: refused.
  EXPECT_TRUE(Write("RoleBinding", "default", R"(
metadata: {name: bob-reads}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: bob}])",
                    &alice_)
                  .ok());
  ASSERT_TRUE(Write("ClusterRole", "", R"(
metadata: {name: secrets-admin}
rules: [{apiGroups: [""], resources: [secrets], verbs: ["*"]}])")
                  .ok());
  auto bind = Write("RoleBinding", "default", R"(
metadata: {name: bob-secrets}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: secrets-admin}
subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: bob}])",
                    &alice_);
  ASSERT_FALSE(bind.ok());
  EXPECT_EQ(bind.status().code(), Code::kForbidden);
  EXPECT_NE(bind.status().message().find("is attempting to grant RBAC permissions not currently "
                                         "held:\n{APIGroups:[\"\"], Resources:[\"secrets\"], "
                                         "Verbs:[\"*\"]}"),
            std::string::npos)
      << bind.status().message();
  auto missing = Write("RoleBinding", "default", R"(
metadata: {name: bob-nothing}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: no-such-role}
subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: bob}])",
                       &alice_);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("roles.rbac.authorization.k8s.io \"no-such-role\" not "
                                            "found"),
            std::string::npos);
  // The `bind` verb on that role lifts the check for it.
  ASSERT_TRUE(Write("ClusterRole", "", R"(
metadata: {name: may-bind-secrets-admin}
rules: [{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind], resourceNames: [secrets-admin]}])")
                  .ok());
  ASSERT_TRUE(Write("RoleBinding", "default", R"(
metadata: {name: alice-may-bind}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: may-bind-secrets-admin}
subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: alice}])")
                  .ok());
  EXPECT_TRUE(Write("RoleBinding", "default", R"(
metadata: {name: bob-secrets}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: secrets-admin}
subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: bob}])",
                    &alice_)
                  .ok());
  // The server's own writes are not checked.
  EXPECT_TRUE(Write("ClusterRole", "", R"(
metadata: {name: anything}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}])")
                  .ok());
}

TEST_F(AuthorizerTest, AlwaysAllowAllowsEveryone) {
  Authorizer open(*cache_, api::BuiltinRegistry(), Authorizer::Mode::kAlwaysAllow);
  EXPECT_TRUE(open.Authorize(bob_, Res("delete", "", "nodes", "", "n")).allowed);
  EXPECT_TRUE(open.CheckEscalation(Kind("ClusterRole"), json::object(), &bob_).ok());
}

}  // namespace
}  // namespace sampan::apiserver
