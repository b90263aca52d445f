// rbac.authorization.k8s.io: Role, ClusterRole, RoleBinding and ClusterRoleBinding defaults and
// rules (as Kubernetes' pkg/apis/rbac validation). The objects are stored and served; the
// authorizer does not read them yet.
#include <string>

#include "api/strategy_internal.h"

namespace sampan::api::strategy {

namespace {

constexpr std::string_view kRbacGroup = "rbac.authorization.k8s.io";

bool Nonempty(const json::object& o, std::string_view key) {
  const json::array* a = Arr(o, key);
  return a && !a->empty();
}

void ValidateRule(const json::object& rule, const std::string& path, bool namespaced,
                  Errors& errors) {
  if (!Nonempty(rule, "verbs")) {
    errors.Required(Child(path, "verbs"), "verbs must contain at least one value");
  }
  if (Nonempty(rule, "nonResourceURLs")) {
    const json::value& urls = rule.at("nonResourceURLs");
    if (namespaced) {
      errors.Invalid(Child(path, "nonResourceURLs"), urls,
                     "namespaced rules cannot apply to non-resource URLs");
    }
    if (Nonempty(rule, "apiGroups") || Nonempty(rule, "resources")) {
      errors.Invalid(Child(path, "nonResourceURLs"), urls,
                     "rules cannot apply to both regular resources and non-resource URLs");
    }
    return;
  }
  if (!Nonempty(rule, "apiGroups")) {
    errors.Required(Child(path, "apiGroups"), "resource rules must supply at least one api group");
  }
  if (!Nonempty(rule, "resources")) {
    errors.Required(Child(path, "resources"), "resource rules must supply at least one resource");
  }
}

void ValidateBinding(const json::object& obj, bool cluster, Errors& errors) {
  const json::object* ref = Obj(obj, "roleRef");
  const json::object empty;
  if (!ref) ref = &empty;
  std::string_view group = Str(*ref, "apiGroup").value_or("");
  if (group != kRbacGroup) {
    errors.Unsupported("roleRef.apiGroup", group, {kRbacGroup});
  }
  std::string_view kind = Str(*ref, "kind").value_or("");
  if (cluster && kind != "ClusterRole") {
    errors.Unsupported("roleRef.kind", kind, {"ClusterRole"});
  } else if (!cluster && kind != "Role" && kind != "ClusterRole") {
    errors.Unsupported("roleRef.kind", kind, {"Role", "ClusterRole"});
  }
  std::string_view name = Str(*ref, "name").value_or("");
  if (name.empty()) {
    errors.Required("roleRef.name");
  } else if (name == "." || name == ".." || name.find('/') != std::string_view::npos ||
             name.find('%') != std::string_view::npos) {
    errors.InvalidString("roleRef.name", name, "may not be '.', '..' or contain '/' or '%'");
  }
  const json::array* subjects = Arr(obj, "subjects");
  if (!subjects) return;
  for (size_t i = 0; i < subjects->size(); ++i) {
    const std::string path = Index("subjects", i);
    if (!(*subjects)[i].is_object()) continue;
    const json::object& s = (*subjects)[i].as_object();
    std::string_view skind = Str(s, "kind").value_or("");
    std::string_view sgroup = Str(s, "apiGroup").value_or("");
    if (Str(s, "name").value_or("").empty()) errors.Required(Child(path, "name"));
    if (skind == "ServiceAccount") {
      if (!sgroup.empty()) errors.Unsupported(Child(path, "apiGroup"), sgroup, {""});
      if (cluster && Str(s, "namespace").value_or("").empty()) {
        errors.Required(Child(path, "namespace"));
      }
    } else if (skind == "User" || skind == "Group") {
      if (sgroup != kRbacGroup) errors.Unsupported(Child(path, "apiGroup"), sgroup, {kRbacGroup});
    } else {
      errors.Unsupported(Child(path, "kind"), skind, {"ServiceAccount", "User", "Group"});
    }
  }
}

}  // namespace

void DefaultRbacKind(const KindInfo& kind, json::object& obj) {
  if (kind.group != kRbacGroup) return;
  if (kind.kind == "RoleBinding" || kind.kind == "ClusterRoleBinding") {
    if (json::object* ref = MutObj(obj, "roleRef")) {
      SetDefault(*ref, "apiGroup", json::string(kRbacGroup));
    }
  }
  json::array* subjects = MutArr(obj, "subjects");
  if (!subjects) return;
  // A subject's API group follows from its kind when it is left out.
  for (json::value& v : *subjects) {
    if (!v.is_object()) continue;
    json::object& s = v.as_object();
    std::string_view skind = Str(s, "kind").value_or("");
    if (skind == "User" || skind == "Group") SetDefault(s, "apiGroup", json::string(kRbacGroup));
  }
}

void ValidateRbacKind(const KindInfo& kind, const json::object& obj, const json::object* old,
                      Errors& errors) {
  if (kind.group != kRbacGroup) return;
  if (kind.kind == "Role" || kind.kind == "ClusterRole") {
    if (const json::array* rules = Arr(obj, "rules")) {
      for (size_t i = 0; i < rules->size(); ++i) {
        if ((*rules)[i].is_object()) {
          ValidateRule((*rules)[i].as_object(), Index("rules", i), kind.kind == "Role", errors);
        }
      }
    }
    if (const json::object* agg = Obj(obj, "aggregationRule")) {
      if (!Nonempty(*agg, "clusterRoleSelectors")) {
        errors.Required("aggregationRule.clusterRoleSelectors",
                        "at least one clusterRoleSelector required if aggregationRule is non-nil");
      } else {
        const json::array& sels = agg->at("clusterRoleSelectors").as_array();
        for (size_t i = 0; i < sels.size(); ++i) {
          ValidateLabelSelector(&sels[i], Index("aggregationRule.clusterRoleSelectors", i), errors);
        }
      }
    }
    return;
  }
  ValidateBinding(obj, kind.kind == "ClusterRoleBinding", errors);
  if (old && Has(*old, "roleRef")) {
    const json::value* now = obj.if_contains("roleRef");
    if (!now || *now != old->at("roleRef")) {
      errors.Invalid("roleRef", now ? *now : json::value(nullptr), "cannot change roleRef");
    }
  }
}

}  // namespace sampan::api::strategy
