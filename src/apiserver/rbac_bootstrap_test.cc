#include "apiserver/rbac_bootstrap.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "api/json_util.h"
#include "apiserver/rest.h"
#include "apiserver/rest_test_fixture.h"

namespace sampan::apiserver {
namespace {

namespace json = boost::json;

const api::KindInfo& Rbac(const char* kind) {
  return *api::BuiltinRegistry().FindKind("rbac.authorization.k8s.io", "v1", kind);
}

std::string Name(const json::object& o) { return api::GetString(json::value(o), "metadata.name"); }
std::string Namespace(const json::object& o) {
  return api::GetString(json::value(o), "metadata.namespace");
}

json::object RuleOf(std::initializer_list<const char*> verbs,
                    std::initializer_list<const char*> groups,
                    std::initializer_list<const char*> resources,
                    std::initializer_list<const char*> names = {}) {
  json::object r;
  json::array v, g, res, n;
  for (const char* x : verbs) v.emplace_back(x);
  for (const char* x : groups) g.emplace_back(x);
  for (const char* x : resources) res.emplace_back(x);
  for (const char* x : names) n.emplace_back(x);
  r["verbs"] = v;
  r["apiGroups"] = g;
  r["resources"] = res;
  if (!n.empty()) r["resourceNames"] = n;
  return r;
}

json::object UrlRuleOf(std::initializer_list<const char*> verbs,
                       std::initializer_list<const char*> urls) {
  json::object r;
  json::array v, u;
  for (const char* x : verbs) v.emplace_back(x);
  for (const char* x : urls) u.emplace_back(x);
  r["verbs"] = v;
  r["nonResourceURLs"] = u;
  return r;
}

// The subjects of a binding as "Kind:namespace/name" strings.
std::set<std::string> Subjects(const json::object& binding) {
  std::set<std::string> out;
  const json::array* subjects = api::Arr(&binding, "subjects");
  if (!subjects) return out;
  for (const json::value& s : *subjects) {
    const json::object& o = s.as_object();
    std::string ns = api::Str(&o, "namespace");
    out.insert(api::Str(&o, "kind") + ":" + (ns.empty() ? "" : ns + "/") + api::Str(&o, "name"));
  }
  return out;
}

class RbacBootstrapTest : public RestFixture {
 protected:
  void SetUp() override {
    RestFixture::SetUp();
    Status st = Run(EnsureBootstrapPolicy(*rest_));
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  ObjectPtr Get(const char* kind, const std::string& ns, const std::string& name) {
    auto r = rest_->Get(Rbac(kind), ns, name);
    return r.ok() ? *r : nullptr;
  }
  // Edits the stored object with `edit` (as a user would).
  void Edit(const char* kind, const std::string& ns, const std::string& name,
            std::function<void(json::object&)> edit) {
    std::function<Status(json::object&)> mutate = [edit](json::object& o) {
      edit(o);
      return Status::Ok();
    };
    auto r = Run(rest_->Mutate(Rbac(kind), ns, name, std::move(mutate), WriteOptions{}));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  const json::array& Rules(const ObjectPtr& role) { return role->obj.at("rules").as_array(); }
};

TEST_F(RbacBootstrapTest, EveryObjectIsCreatedValidAndMarked) {
  const std::pair<const char*, std::vector<json::object> (*)()> sets[] = {
      {"ClusterRole", &BootstrapClusterRoles},
      {"ClusterRoleBinding", &BootstrapClusterRoleBindings},
      {"Role", &BootstrapRoles},
      {"RoleBinding", &BootstrapRoleBindings},
  };
  for (const auto& [kind, objects] : sets) {
    std::set<std::string> seen;
    for (const json::object& want : objects()) {
      const std::string key = Namespace(want) + "/" + Name(want);
      EXPECT_TRUE(seen.insert(key).second) << kind << " " << key << " listed twice";
      EXPECT_EQ(api::Str(&want, "kind"), kind);
      EXPECT_EQ(api::Str(&want, "apiVersion"), "rbac.authorization.k8s.io/v1");
      // Each one passes the kind's validation and defaults on its own.
      json::object copy = want;
      copy["metadata"].as_object()["name"] = "copy-" + Name(want);
      auto created =
          Run(rest_->Create(Rbac(kind), Namespace(want), json::value(copy), WriteOptions{}));
      EXPECT_TRUE(created.ok()) << kind << " " << key << ": " << created.status().ToString();
      // And EnsureBootstrapPolicy stored it.
      ObjectPtr stored = Get(kind, Namespace(want), Name(want));
      ASSERT_NE(stored, nullptr) << kind << " " << key;
      const json::object& meta = stored->obj.at("metadata").as_object();
      EXPECT_EQ(meta.at("labels").at("kubernetes.io/bootstrapping"), "rbac-defaults") << key;
      EXPECT_EQ(meta.at("annotations").at("rbac.authorization.kubernetes.io/autoupdate"), "true")
          << key;
    }
  }
  // Role bindings name roles that exist.
  for (const json::object& b : BootstrapClusterRoleBindings()) {
    const std::string role = api::Str(api::Obj(&b, "roleRef"), "name");
    EXPECT_NE(Get("ClusterRole", "", role), nullptr) << Name(b) << " → " << role;
  }
  for (const json::object& b : BootstrapRoleBindings()) {
    const std::string role = api::Str(api::Obj(&b, "roleRef"), "name");
    EXPECT_NE(Get("Role", Namespace(b), role), nullptr) << Name(b) << " → " << role;
  }
}

TEST_F(RbacBootstrapTest, TheRolesKubernetesHas) {
  for (const char* name :
       {"cluster-admin", "admin", "edit", "view", "system:aggregate-to-admin",
        "system:aggregate-to-edit", "system:aggregate-to-view", "system:basic-user",
        "system:discovery", "system:public-info-viewer", "system:monitoring", "system:node",
        "system:node-proxier", "system:kube-scheduler", "system:kube-controller-manager",
        "system:volume-scheduler", "system:kube-dns", "system:service-account-issuer-discovery",
        "system:auth-delegator"}) {
    EXPECT_NE(Get("ClusterRole", "", name), nullptr) << name;
  }
  ObjectPtr admin = Get("ClusterRole", "", "cluster-admin");
  ASSERT_NE(admin, nullptr);
  EXPECT_TRUE(RulesCover(Rules(admin), RuleOf({"delete"}, {"apps"}, {"deployments"})));
  EXPECT_TRUE(RulesCover(Rules(admin), UrlRuleOf({"get"}, {"/metrics"})));
  // admin ⊇ edit ⊇ view through aggregation labels.
  const std::map<std::string, std::string> aggregated{
      {"admin", "rbac.authorization.k8s.io/aggregate-to-admin"},
      {"edit", "rbac.authorization.k8s.io/aggregate-to-edit"},
      {"view", "rbac.authorization.k8s.io/aggregate-to-view"}};
  for (const auto& [name, label] : aggregated) {
    ObjectPtr role = Get("ClusterRole", "", name);
    ASSERT_NE(role, nullptr) << name;
    const json::value* sel = role->obj.if_contains("aggregationRule");
    ASSERT_NE(sel, nullptr) << name;
    json::object want{{"clusterRoleSelectors",
                       json::array{json::object{{"matchLabels", json::object{{label, "true"}}}}}}};
    EXPECT_TRUE(api::JsonEqual(*sel, json::value(want))) << name << ": " << json::serialize(*sel);
    const json::array* rules = api::Arr(&role->obj, "rules");
    EXPECT_TRUE(rules == nullptr || rules->empty()) << name;
  }
  auto labels = [&](const char* name) {
    return Get("ClusterRole", "", name)->obj.at("metadata").at("labels").as_object();
  };
  EXPECT_EQ(labels("edit").at("rbac.authorization.k8s.io/aggregate-to-admin"), "true");
  EXPECT_EQ(labels("view").at("rbac.authorization.k8s.io/aggregate-to-edit"), "true");
  EXPECT_EQ(labels("system:aggregate-to-admin").at("rbac.authorization.k8s.io/aggregate-to-admin"),
            "true");
  EXPECT_EQ(labels("system:aggregate-to-edit").at("rbac.authorization.k8s.io/aggregate-to-edit"),
            "true");
  EXPECT_EQ(labels("system:aggregate-to-view").at("rbac.authorization.k8s.io/aggregate-to-view"),
            "true");
  // A few rules users depend on.
  const json::array& view = Rules(Get("ClusterRole", "", "system:aggregate-to-view"));
  EXPECT_TRUE(RulesCover(view, RuleOf({"get", "list", "watch"}, {""}, {"pods", "pods/log"})));
  EXPECT_FALSE(RulesCover(view, RuleOf({"get"}, {""}, {"secrets"})));
  const json::array& edit = Rules(Get("ClusterRole", "", "system:aggregate-to-edit"));
  EXPECT_TRUE(RulesCover(edit, RuleOf({"create", "delete"}, {"apps"}, {"deployments"})));
  EXPECT_TRUE(RulesCover(edit, RuleOf({"create"}, {""}, {"pods/exec"})));
  EXPECT_FALSE(RulesCover(edit, RuleOf({"create"}, {"rbac.authorization.k8s.io"}, {"roles"})));
  const json::array& node = Rules(Get("ClusterRole", "", "system:node"));
  EXPECT_TRUE(RulesCover(node, RuleOf({"patch"}, {""}, {"nodes/status", "pods/status"})));
  EXPECT_TRUE(RulesCover(node, RuleOf({"update"}, {"coordination.k8s.io"}, {"leases"})));
  const json::array& discovery = Rules(Get("ClusterRole", "", "system:discovery"));
  EXPECT_TRUE(RulesCover(discovery, UrlRuleOf({"get"}, {"/apis/apps/v1", "/version"})));
  EXPECT_FALSE(RulesCover(discovery, UrlRuleOf({"post"}, {"/api"})));
}

TEST_F(RbacBootstrapTest, BindingsAsKubernetesPlusSystemNode) {
  const std::map<std::string, std::set<std::string>> want{
      {"cluster-admin", {"Group:system:masters"}},
      {"system:basic-user", {"Group:system:authenticated"}},
      {"system:discovery", {"Group:system:authenticated"}},
      {"system:public-info-viewer", {"Group:system:authenticated", "Group:system:unauthenticated"}},
      {"system:kube-scheduler", {"User:system:kube-scheduler"}},
      {"system:kube-controller-manager", {"User:system:kube-controller-manager"}},
      {"system:node-proxier", {"User:system:kube-proxy", "Group:system:nodes"}},
      {"system:volume-scheduler", {"User:system:kube-scheduler"}},
      {"system:kube-dns", {"ServiceAccount:kube-system/kube-dns"}},
      {"system:service-account-issuer-discovery", {"Group:system:serviceaccounts"}},
      {"system:monitoring", {"Group:system:monitoring"}},
      {"system:node", {"Group:system:nodes"}},
      {"system:sampan:node", {"Group:system:nodes"}},
  };
  for (const auto& [name, subjects] : want) {
    ObjectPtr b = Get("ClusterRoleBinding", "", name);
    ASSERT_NE(b, nullptr) << name;
    EXPECT_EQ(Subjects(b->obj), subjects) << name;
    const json::object& ref = b->obj.at("roleRef").as_object();
    EXPECT_EQ(ref.at("kind"), "ClusterRole");
    EXPECT_EQ(ref.at("name").as_string(), name);
    EXPECT_EQ(ref.at("apiGroup"), "rbac.authorization.k8s.io");
  }
  ObjectPtr reader =
      Get("RoleBinding", "kube-system", "system::extension-apiserver-authentication-reader");
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(Subjects(reader->obj), (std::set<std::string>{"User:system:kube-controller-manager",
                                                          "User:system:kube-scheduler"}));
  EXPECT_NE(Get("Role", "kube-public", "system:controller:bootstrap-signer"), nullptr);
  EXPECT_NE(Get("RoleBinding", "kube-system", "system::leader-locking-kube-scheduler"), nullptr);
}

TEST_F(RbacBootstrapTest, IsIdempotent) {
  std::map<std::string, int64_t> before;
  for (const char* kind : {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}) {
    auto list = rest_->List(Rbac(kind), "", ListOptions{});
    ASSERT_TRUE(list.ok());
    for (const ObjectPtr& o : list->items) {
      before[std::string(kind) + "/" + Namespace(o->obj) + "/" + Name(o->obj)] = o->mod_revision;
    }
  }
  EXPECT_GE(before.size(), 40u);
  ASSERT_TRUE(Run(EnsureBootstrapPolicy(*rest_)).ok());
  for (const char* kind : {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}) {
    auto list = rest_->List(Rbac(kind), "", ListOptions{});
    ASSERT_TRUE(list.ok());
    for (const ObjectPtr& o : list->items) {
      const std::string key = std::string(kind) + "/" + Namespace(o->obj) + "/" + Name(o->obj);
      EXPECT_EQ(before[key], o->mod_revision) << key << " was written again";
    }
  }
}

TEST_F(RbacBootstrapTest, PutsBackMissingRulesAndKeepsUserRules) {
  json::object extra = RuleOf({"get"}, {"example.com"}, {"widgets"});
  Edit("ClusterRole", "", "system:aggregate-to-view", [&](json::object& o) {
    json::array& rules = o["rules"].as_array();
    rules.erase(rules.begin());  // pods, services, ... get/list/watch
    rules.push_back(extra);
    o["metadata"].as_object()["labels"].as_object().erase("kubernetes.io/bootstrapping");
  });
  ObjectPtr edited = Get("ClusterRole", "", "system:aggregate-to-view");
  ASSERT_FALSE(RulesCover(Rules(edited), RuleOf({"get"}, {""}, {"pods"})));
  ASSERT_TRUE(Run(EnsureBootstrapPolicy(*rest_)).ok());
  ObjectPtr role = Get("ClusterRole", "", "system:aggregate-to-view");
  EXPECT_TRUE(
      RulesCover(Rules(role), RuleOf({"get", "list", "watch"}, {""}, {"pods", "services"})));
  EXPECT_TRUE(RulesCover(Rules(role), extra));
  EXPECT_EQ(role->obj.at("metadata").at("labels").at("kubernetes.io/bootstrapping"),
            "rbac-defaults");
  // Converged: a further run writes nothing.
  ASSERT_TRUE(Run(EnsureBootstrapPolicy(*rest_)).ok());
  EXPECT_EQ(Get("ClusterRole", "", "system:aggregate-to-view")->mod_revision, role->mod_revision);
}

TEST_F(RbacBootstrapTest, WiderUserRuleCoversBootstrapRules) {
  // A user who folded the rules into one wider rule gets nothing added.
  Edit("ClusterRole", "", "system:kube-dns",
       [](json::object& o) { o["rules"] = json::array{RuleOf({"*"}, {""}, {"*"})}; });
  ObjectPtr edited = Get("ClusterRole", "", "system:kube-dns");
  ASSERT_TRUE(Run(EnsureBootstrapPolicy(*rest_)).ok());
  ObjectPtr role = Get("ClusterRole", "", "system:kube-dns");
  EXPECT_EQ(role->mod_revision, edited->mod_revision);
  EXPECT_EQ(Rules(role).size(), 1u);
}

TEST_F(RbacBootstrapTest, LeavesAutoupdateFalseAlone) {
  Edit("ClusterRole", "", "system:discovery", [](json::object& o) {
    o["metadata"]
        .as_object()["annotations"]
        .as_object()["rbac.authorization.kubernetes.io/autoupdate"] = "false";
    o["rules"] = json::array{UrlRuleOf({"get"}, {"/version"})};
  });
  Edit("ClusterRoleBinding", "", "system:discovery", [](json::object& o) {
    o["metadata"]
        .as_object()["annotations"]
        .as_object()["rbac.authorization.kubernetes.io/autoupdate"] = "false";
    o["subjects"] = json::array{};
  });
  ObjectPtr role = Get("ClusterRole", "", "system:discovery");
  ObjectPtr binding = Get("ClusterRoleBinding", "", "system:discovery");
  ASSERT_TRUE(Run(EnsureBootstrapPolicy(*rest_)).ok());
  EXPECT_EQ(Get("ClusterRole", "", "system:discovery")->mod_revision, role->mod_revision);
  EXPECT_EQ(Rules(Get("ClusterRole", "", "system:discovery")).size(), 1u);
  EXPECT_EQ(Get("ClusterRoleBinding", "", "system:discovery")->mod_revision, binding->mod_revision);
  EXPECT_TRUE(Subjects(Get("ClusterRoleBinding", "", "system:discovery")->obj).empty());
}

TEST_F(RbacBootstrapTest, AddsMissingSubjectsAndKeepsUserSubjects) {
  Edit("ClusterRoleBinding", "", "system:public-info-viewer", [](json::object& o) {
    o["subjects"] = json::array{json::object{
        {"kind", "User"}, {"apiGroup", "rbac.authorization.k8s.io"}, {"name", "alice"}}};
  });
  Edit("RoleBinding", "kube-system", "system::leader-locking-kube-scheduler",
       [](json::object& o) { o["subjects"].as_array().erase(o["subjects"].as_array().begin()); });
  ASSERT_TRUE(Run(EnsureBootstrapPolicy(*rest_)).ok());
  EXPECT_EQ(Subjects(Get("ClusterRoleBinding", "", "system:public-info-viewer")->obj),
            (std::set<std::string>{"User:alice", "Group:system:authenticated",
                                   "Group:system:unauthenticated"}));
  EXPECT_EQ(
      Subjects(Get("RoleBinding", "kube-system", "system::leader-locking-kube-scheduler")->obj),
      (std::set<std::string>{"User:system:kube-scheduler",
                             "ServiceAccount:kube-system/kube-scheduler"}));
}

TEST_F(RbacBootstrapTest, AggregatedRolesKeepTheirRulesAndGetSelectorsBack) {
  // The aggregation controller's rules are not "user rules" to reconcile, nor removed.
  json::object filled = RuleOf({"get"}, {""}, {"pods"});
  Edit("ClusterRole", "", "view", [&](json::object& o) {
    o["rules"] = json::array{filled};
    o["aggregationRule"] = json::object{
        {"clusterRoleSelectors",
         json::array{json::object{{"matchLabels", json::object{{"example.com/view", "true"}}}}}}};
  });
  ASSERT_TRUE(Run(EnsureBootstrapPolicy(*rest_)).ok());
  ObjectPtr view = Get("ClusterRole", "", "view");
  EXPECT_EQ(Rules(view).size(), 1u);
  const json::array& sels = view->obj.at("aggregationRule").at("clusterRoleSelectors").as_array();
  ASSERT_EQ(sels.size(), 2u);
  EXPECT_EQ(sels[0].at("matchLabels").at("example.com/view"), "true");
  EXPECT_EQ(sels[1].at("matchLabels").at("rbac.authorization.k8s.io/aggregate-to-view"), "true");
}

TEST_F(RbacBootstrapTest, RecreatesDeletedObjects) {
  ASSERT_TRUE(
      Run(rest_->Delete(Rbac("ClusterRoleBinding"), "", "cluster-admin", DeleteOptions{})).ok());
  ASSERT_TRUE(Run(rest_->Delete(Rbac("Role"), "kube-system",
                                "extension-apiserver-authentication-reader", DeleteOptions{}))
                  .ok());
  ASSERT_TRUE(Run(EnsureBootstrapPolicy(*rest_)).ok());
  EXPECT_NE(Get("ClusterRoleBinding", "", "cluster-admin"), nullptr);
  EXPECT_NE(Get("Role", "kube-system", "extension-apiserver-authentication-reader"), nullptr);
}

TEST(RulesCoverTest, KubernetesCoverage) {
  json::array owner{RuleOf({"get", "list"}, {"", "apps"}, {"pods", "deployments"}),
                    RuleOf({"*"}, {"batch"}, {"*/status"}),
                    RuleOf({"update"}, {""}, {"configmaps"}, {"a", "b"}),
                    UrlRuleOf({"get"}, {"/healthz", "/apis/*"})};
  EXPECT_TRUE(RulesCover(owner, RuleOf({"get"}, {"apps"}, {"pods"})));
  EXPECT_FALSE(RulesCover(owner, RuleOf({"get", "watch"}, {"apps"}, {"pods"})));
  EXPECT_TRUE(RulesCover(owner, RuleOf({"patch"}, {"batch"}, {"jobs/status"})));
  EXPECT_FALSE(RulesCover(owner, RuleOf({"patch"}, {"batch"}, {"jobs"})));
  EXPECT_TRUE(RulesCover(owner, RuleOf({"update"}, {""}, {"configmaps"}, {"a"})));
  EXPECT_FALSE(RulesCover(owner, RuleOf({"update"}, {""}, {"configmaps"})));
  EXPECT_FALSE(RulesCover(owner, RuleOf({"update"}, {""}, {"configmaps"}, {"a", "c"})));
  EXPECT_TRUE(RulesCover(owner, UrlRuleOf({"get"}, {"/healthz", "/apis/apps", "/apis/"})));
  EXPECT_FALSE(RulesCover(owner, UrlRuleOf({"get"}, {"/healthz/etcd"})));
  EXPECT_FALSE(RulesCover(owner, UrlRuleOf({"get"}, {"/apis"})));
  json::array all{RuleOf({"*"}, {"*"}, {"*"})};
  EXPECT_TRUE(RulesCover(all, RuleOf({"escalate"}, {"rbac.authorization.k8s.io"}, {"roles"})));
  EXPECT_FALSE(RulesCover(all, UrlRuleOf({"get"}, {"/metrics"})));
}

TEST(ReconcileBootstrapObjectTest, AddsLabelsAnnotationsButKeepsUserValues) {
  json::object expected = BootstrapClusterRoles().front();  // cluster-admin
  json::object existing = expected;
  json::object& meta = existing["metadata"].as_object();
  meta["labels"].as_object()["kubernetes.io/bootstrapping"] = "mine";
  meta["annotations"].as_object().erase("rbac.authorization.kubernetes.io/autoupdate");
  EXPECT_TRUE(ReconcileBootstrapObject(expected, existing));
  EXPECT_EQ(existing.at("metadata").at("labels").at("kubernetes.io/bootstrapping"), "mine");
  EXPECT_EQ(
      existing.at("metadata").at("annotations").at("rbac.authorization.kubernetes.io/autoupdate"),
      "true");
  EXPECT_FALSE(ReconcileBootstrapObject(expected, existing));
}

}  // namespace
}  // namespace sampan::apiserver
