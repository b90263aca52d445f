#include "apiserver/rbac.h"

#include <algorithm>
#include <boost/json.hpp>
#include <unordered_map>

#include "apiserver/http.h"
#include "apiserver/object_cache.h"
#include "apiserver/rest.h"
#include "util/go_quote.h"

namespace sampan::apiserver {

namespace json = boost::json;

namespace {

constexpr std::string_view kRbacGroup = "rbac.authorization.k8s.io";

std::vector<std::string> Strings(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_array()) return out;
  for (const auto& e : v->as_array())
    if (e.is_string()) out.emplace_back(e.as_string());
  return out;
}

std::string_view Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
}

const json::object* Obj(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

bool Has(const std::vector<std::string>& set, std::string_view v) {
  return std::find(set.begin(), set.end(), v) != set.end();
}


bool ResourceMatches(const PolicyRule& r, std::string_view resource, std::string_view sub) {
  for (const auto& rr : r.resources) {
    if (rr == "*") return true;
    if (sub.empty()) {
      if (rr == resource) return true;
      continue;
    }
    // resource/subresource exactly, or */subresource.
    if (rr.size() == resource.size() + 1 + sub.size() &&
        std::string_view(rr).starts_with(resource) && rr[resource.size()] == '/' &&
        std::string_view(rr).ends_with(sub)) {
      return true;
    }
    if (rr.size() == sub.size() + 2 && std::string_view(rr).starts_with("*/") &&
        std::string_view(rr).ends_with(sub)) {
      return true;
    }
  }
  return false;
}

bool UrlMatches(const std::vector<std::string>& urls, std::string_view path) {
  for (const auto& u : urls) {
    if (u == "*" || u == path) return true;
    if (!u.empty() && u.back() == '*' &&
        path.starts_with(std::string_view(u).substr(0, u.size() - 1)))
      return true;
  }
  return false;
}

// --- Covers: one permission of a requested rule against the owner's rules. ---

bool CoversAll(const std::vector<std::string>& owner, const std::vector<std::string>& wanted,
               std::string_view all) {
  if (Has(owner, all)) return true;
  for (const auto& w : wanted)
    if (!Has(owner, w)) return false;
  return true;
}

bool ResourcesCover(const std::vector<std::string>& owner, const std::vector<std::string>& wanted) {
  if (Has(owner, "*")) return true;
  for (const auto& w : wanted) {
    if (Has(owner, w)) continue;
    size_t slash = w.find('/');
    if (slash == std::string::npos) return false;
    if (!Has(owner, "*/" + w.substr(slash + 1))) return false;
  }
  return true;
}

bool UrlsCover(const std::vector<std::string>& owner, const std::vector<std::string>& wanted) {
  for (const auto& w : wanted) {
    bool ok = false;
    for (const auto& o : owner) {
      if (o == "*" || o == w ||
          (!o.empty() && o.back() == '*' &&
           std::string_view(w).starts_with(std::string_view(o).substr(0, o.size() - 1)))) {
        ok = true;
        break;
      }
    }
    if (!ok) return false;
  }
  return true;
}

bool RuleCovers(const PolicyRule& owner, const PolicyRule& atom) {
  if (!CoversAll(owner.verbs, atom.verbs, "*")) return false;
  if (!atom.non_resource_urls.empty())
    return UrlsCover(owner.non_resource_urls, atom.non_resource_urls);
  if (!CoversAll(owner.api_groups, atom.api_groups, "*")) return false;
  if (!ResourcesCover(owner.resources, atom.resources)) return false;
  // A permission on every name is covered only by a rule naming none.
  if (atom.resource_names.empty()) return owner.resource_names.empty();
  return owner.resource_names.empty() || CoversAll(owner.resource_names, atom.resource_names, "");
}

// One verb on one resource of one group (for each name, if the rule names some), or one verb
// on one path.
std::vector<PolicyRule> Breakdown(const PolicyRule& r) {
  std::vector<PolicyRule> out;
  for (const auto& group : r.api_groups) {
    for (const auto& res : r.resources) {
      for (const auto& verb : r.verbs) {
        if (r.resource_names.empty()) {
          out.push_back(PolicyRule{{verb}, {group}, {res}, {}, {}});
        } else {
          for (const auto& n : r.resource_names) {
            out.push_back(PolicyRule{{verb}, {group}, {res}, {n}, {}});
          }
        }
      }
    }
  }
  for (const auto& url : r.non_resource_urls) {
    for (const auto& verb : r.verbs) out.push_back(PolicyRule{{verb}, {}, {}, {}, {url}});
  }
  return out;
}

bool SameExceptVerbs(const PolicyRule& a, const PolicyRule& b) {
  return a.api_groups == b.api_groups && a.resources == b.resources &&
         a.resource_names == b.resource_names && a.non_resource_urls == b.non_resource_urls;
}

std::vector<PolicyRule> ParseRules(const json::object& obj) {
  std::vector<PolicyRule> rules;
  const json::value* v = obj.if_contains("rules");
  if (!v || !v->is_array()) return rules;
  for (const auto& r : v->as_array())
    if (r.is_object()) rules.push_back(RuleFromJson(r.as_object()));
  return rules;
}

std::vector<PolicyRule> FullAuthority() {
  return {PolicyRule{{"*"}, {"*"}, {"*"}, {}, {}}, PolicyRule{{"*"}, {}, {}, {}, {"*"}}};
}

}  // namespace

PolicyRule RuleFromJson(const json::object& rule) {
  return PolicyRule{Strings(rule, "verbs"), Strings(rule, "apiGroups"), Strings(rule, "resources"),
                    Strings(rule, "resourceNames"), Strings(rule, "nonResourceURLs")};
}

json::object RuleToJson(const PolicyRule& rule) {
  json::object o;
  auto put = [&o](std::string_view key, const std::vector<std::string>& v) {
    if (v.empty()) return;
    json::array a;
    for (const auto& s : v) a.emplace_back(s);
    o[key] = std::move(a);
  };
  put("verbs", rule.verbs);
  put("apiGroups", rule.api_groups);
  put("resources", rule.resources);
  put("resourceNames", rule.resource_names);
  put("nonResourceURLs", rule.non_resource_urls);
  if (!o.contains("verbs")) o["verbs"] = json::array();
  return o;
}

std::string CompactRuleString(const PolicyRule& rule) {
  std::vector<std::string> parts;
  if (!rule.api_groups.empty()) parts.push_back("APIGroups:" + GoQuoteList(rule.api_groups));
  if (!rule.resources.empty()) parts.push_back("Resources:" + GoQuoteList(rule.resources));
  if (!rule.non_resource_urls.empty())
    parts.push_back("NonResourceURLs:" + GoQuoteList(rule.non_resource_urls));
  if (!rule.resource_names.empty())
    parts.push_back("ResourceNames:" + GoQuoteList(rule.resource_names));
  if (!rule.verbs.empty()) parts.push_back("Verbs:" + GoQuoteList(rule.verbs));
  std::string out = "{";
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : "") + parts[i];
  return out + "}";
}

bool RuleAllows(const PolicyRule& rule, const AuthzAttributes& a) {
  if (!Has(rule.verbs, "*") && !Has(rule.verbs, a.verb)) return false;
  if (!a.resource_request) return UrlMatches(rule.non_resource_urls, a.path);
  if (!Has(rule.api_groups, "*") && !Has(rule.api_groups, a.group)) return false;
  if (!ResourceMatches(rule, a.resource, a.subresource)) return false;
  return rule.resource_names.empty() || Has(rule.resource_names, a.name);
}

std::vector<PolicyRule> UncoveredRules(const std::vector<PolicyRule>& owner,
                                       const std::vector<PolicyRule>& requested) {
  std::vector<PolicyRule> missing;
  for (const auto& r : requested) {
    for (auto& atom : Breakdown(r)) {
      bool covered = false;
      for (const auto& o : owner) {
        if (RuleCovers(o, atom)) {
          covered = true;
          break;
        }
      }
      if (covered) continue;
      // Merged with an earlier missing permission that differs only in its verb.
      auto same = std::find_if(missing.begin(), missing.end(),
                               [&](const PolicyRule& m) { return SameExceptVerbs(m, atom); });
      if (same == missing.end()) {
        missing.push_back(std::move(atom));
      } else if (!Has(same->verbs, atom.verbs[0])) {
        same->verbs.push_back(atom.verbs[0]);
      }
    }
  }
  return missing;
}

Status ForbiddenError(const Identity& who, const AuthzAttributes& a, std::string_view reason) {
  std::string msg;
  if (!a.resource_request) {
    msg = "forbidden: User \"" + who.user + "\" cannot " + std::string(a.verb) + " path \"" +
          std::string(a.path) + "\"";
  } else {
    std::string resource(a.resource);
    if (!a.subresource.empty()) resource += "/" + std::string(a.subresource);
    std::string qualified(a.resource);
    if (!a.group.empty()) qualified += "." + std::string(a.group);
    msg = qualified + (a.name.empty() ? "" : " \"" + std::string(a.name) + "\"") +
          " is forbidden: User \"" + who.user + "\" cannot " + std::string(a.verb) +
          " resource \"" + resource + "\" in API group \"" + std::string(a.group) + "\"" +
          (a.ns.empty() ? std::string(" at the cluster scope")
                        : " in the namespace \"" + std::string(a.ns) + "\"");
  }
  if (!reason.empty()) msg += ": " + std::string(reason);
  return Forbidden(std::move(msg));
}

bool IsPrivileged(const Identity& who) {
  for (const auto& g : who.groups)
    if (g == "system:masters") return true;
  return false;
}

// --- The authorizer. ---

struct Authorizer::Snapshot {
  struct Grant {
    std::string ns;  // "" = every namespace (a ClusterRoleBinding)
    std::shared_ptr<const std::vector<PolicyRule>> rules;
    std::string via;  // `ClusterRoleBinding "x" of ClusterRole "y"`
  };
  uint64_t generation = 0;
  std::unordered_map<std::string, std::vector<Grant>> users, groups;
  std::unordered_map<std::string, std::shared_ptr<const std::vector<PolicyRule>>> cluster_roles;
  std::unordered_map<std::string, std::shared_ptr<const std::vector<PolicyRule>>> roles;  // ns/name

  // Calls fn(grant) for every grant to `who` that applies in `ns`; stops when fn returns true.
  template <typename Fn>
  bool ForEach(const Identity& who, std::string_view ns, Fn&& fn) const {
    auto visit = [&](const std::vector<Grant>& grants) {
      for (const auto& g : grants)
        if ((g.ns.empty() || g.ns == ns) && fn(g)) return true;
      return false;
    };
    if (auto it = users.find(who.user); it != users.end() && visit(it->second)) return true;
    for (const auto& group : who.groups) {
      if (auto it = groups.find(group); it != groups.end() && visit(it->second)) return true;
    }
    return false;
  }
};

Authorizer::Authorizer(ObjectCache& cache, const api::Registry& registry, Mode mode)
    : cache_(cache),
      registry_(registry),
      mode_(mode),
      generation_(std::make_shared<std::atomic<uint64_t>>(1)) {
  role_kind_ = registry.FindKind(std::string(kRbacGroup), "v1", "Role");
  cluster_role_kind_ = registry.FindKind(std::string(kRbacGroup), "v1", "ClusterRole");
  binding_kind_ = registry.FindKind(std::string(kRbacGroup), "v1", "RoleBinding");
  cluster_binding_kind_ = registry.FindKind(std::string(kRbacGroup), "v1", "ClusterRoleBinding");
  if (mode_ == Mode::kRbac && role_kind_) {
    // Every event under the RBAC group's prefix makes the snapshot stale; nothing is queued.
    std::string prefix = ResourcePrefix(*role_kind_);  // /registry/rbac.authorization.k8s.io/roles/
    prefix = prefix.substr(0, prefix.size() - role_kind_->plural.size() - 1);
    auto gen = generation_;
    auto w = cache_.Watch(
        prefix, cache_.revision(), [] {}, nullptr, nullptr,
        [gen](const CacheEvent&) {
          gen->fetch_add(1, std::memory_order_release);
          return false;
        });
    if (w.ok()) watcher_ = std::move(*w);
  }
}

Authorizer::~Authorizer() {
  if (watcher_) cache_.Unwatch(watcher_);
}

std::shared_ptr<const Authorizer::Snapshot> Authorizer::Current() const {
  const uint64_t gen = generation_->load(std::memory_order_acquire);
  std::lock_guard lk(mu_);
  if (!snapshot_ || snapshot_->generation != gen) snapshot_ = Build(gen);
  return snapshot_;
}

std::shared_ptr<const Authorizer::Snapshot> Authorizer::Build(uint64_t generation) const {
  auto s = std::make_shared<Snapshot>();
  s->generation = generation;
  if (!role_kind_ || !cluster_role_kind_ || !binding_kind_ || !cluster_binding_kind_) return s;
  int64_t rev = 0;
  for (const ObjectPtr& o : cache_.List(ResourcePrefix(*cluster_role_kind_), &rev)) {
    const json::object* meta = Obj(o->obj, "metadata");
    if (!meta) continue;
    s->cluster_roles[std::string(Str(*meta, "name"))] =
        std::make_shared<const std::vector<PolicyRule>>(ParseRules(o->obj));
  }
  for (const ObjectPtr& o : cache_.List(ResourcePrefix(*role_kind_), &rev)) {
    const json::object* meta = Obj(o->obj, "metadata");
    if (!meta) continue;
    s->roles[std::string(Str(*meta, "namespace")) + "/" + std::string(Str(*meta, "name"))] =
        std::make_shared<const std::vector<PolicyRule>>(ParseRules(o->obj));
  }
  auto add_bindings = [&](const api::KindInfo& kind, bool namespaced) {
    for (const ObjectPtr& o : cache_.List(ResourcePrefix(kind), &rev)) {
      const json::object* meta = Obj(o->obj, "metadata");
      const json::object* ref = Obj(o->obj, "roleRef");
      if (!meta || !ref) continue;
      const std::string ns = namespaced ? std::string(Str(*meta, "namespace")) : std::string();
      const std::string_view ref_kind = Str(*ref, "kind"), ref_name = Str(*ref, "name");
      std::shared_ptr<const std::vector<PolicyRule>> rules;
      if (ref_kind == "ClusterRole") {
        if (auto it = s->cluster_roles.find(std::string(ref_name)); it != s->cluster_roles.end())
          rules = it->second;
      } else if (ref_kind == "Role" && namespaced) {
        if (auto it = s->roles.find(ns + "/" + std::string(ref_name)); it != s->roles.end())
          rules = it->second;
      }
      if (!rules) continue;  // a binding to a role that does not exist grants nothing
      std::string via =
          kind.kind + " \"" + std::string(Str(*meta, "name")) + "\"" +
          (namespaced ? " of " + std::string(ref_kind) + " \"" : " of ClusterRole \"") +
          std::string(ref_name) + "\"";
      const json::value* subjects = o->obj.if_contains("subjects");
      if (!subjects || !subjects->is_array()) continue;
      for (const auto& sv : subjects->as_array()) {
        if (!sv.is_object()) continue;
        const json::object& sub = sv.as_object();
        const std::string_view skind = Str(sub, "kind"), sname = Str(sub, "name");
        Snapshot::Grant g{ns, rules, via};
        if (skind == "User") {
          s->users[std::string(sname)].push_back(std::move(g));
        } else if (skind == "Group") {
          s->groups[std::string(sname)].push_back(std::move(g));
        } else if (skind == "ServiceAccount") {
          std::string_view sns = Str(sub, "namespace");
          if (sns.empty()) sns = ns;
          s->users["system:serviceaccount:" + std::string(sns) + ":" + std::string(sname)]
              .push_back(std::move(g));
        }
      }
    }
  };
  add_bindings(*cluster_binding_kind_, false);
  add_bindings(*binding_kind_, true);
  return s;
}

AuthzDecision Authorizer::Authorize(const Identity& who, const AuthzAttributes& a) const {
  if (mode_ == Mode::kAlwaysAllow) return {true, ""};
  if (IsPrivileged(who)) return {true, ""};
  auto snap = Current();
  AuthzDecision d;
  snap->ForEach(who, a.resource_request ? a.ns : std::string_view(), [&](const Snapshot::Grant& g) {
    for (const auto& rule : *g.rules) {
      if (RuleAllows(rule, a)) {
        d.allowed = true;
        d.reason = "RBAC: allowed by " + g.via;
        return true;
      }
    }
    return false;
  });
  return d;
}

std::vector<PolicyRule> Authorizer::RulesFor(const Identity& who, std::string_view ns) const {
  if (mode_ == Mode::kAlwaysAllow || IsPrivileged(who)) return FullAuthority();
  std::vector<PolicyRule> out;
  Current()->ForEach(who, ns, [&](const Snapshot::Grant& g) {
    out.insert(out.end(), g.rules->begin(), g.rules->end());
    return false;
  });
  return out;
}

Status Authorizer::CheckEscalation(const api::KindInfo& kind, const json::object& obj,
                                   const Identity* who) const {
  if (!who || kind.group != kRbacGroup || mode_ == Mode::kAlwaysAllow || IsPrivileged(*who)) {
    return Status::Ok();
  }
  const bool is_role = kind.kind == "Role" || kind.kind == "ClusterRole";
  const bool is_binding = kind.kind == "RoleBinding" || kind.kind == "ClusterRoleBinding";
  if (!is_role && !is_binding) return Status::Ok();
  const json::object* meta = Obj(obj, "metadata");
  const std::string name = meta ? std::string(Str(*meta, "name")) : std::string();
  const std::string ns = meta && kind.namespaced ? std::string(Str(*meta, "namespace")) : "";
  const std::string prefix = QualifiedResource(kind) + " \"" + name + "\" is forbidden: ";
  auto not_held = [&](const std::vector<PolicyRule>& missing) {
    std::string msg = prefix + "user \"" + who->user + "\" (groups=" + GoQuoteList(who->groups) +
                      ") is attempting to grant RBAC permissions not currently held:";
    for (const auto& m : missing) msg += "\n" + CompactRuleString(m);
    return Forbidden(std::move(msg));
  };
  if (is_role) {
    AuthzAttributes escalate{"escalate", true, kRbacGroup, kind.plural, "", ns, name, ""};
    if (Authorize(*who, escalate).allowed) return Status::Ok();
    if (Obj(obj, "aggregationRule") &&
        !UncoveredRules(RulesFor(*who, ns), FullAuthority()).empty()) {
      return Forbidden(prefix + "must have cluster-admin privileges to use the aggregationRule");
    }
    auto missing = UncoveredRules(RulesFor(*who, ns), ParseRules(obj));
    return missing.empty() ? Status::Ok() : not_held(missing);
  }
  const json::object* ref = Obj(obj, "roleRef");
  if (!ref) return Status::Ok();  // validation refuses it
  const std::string ref_kind(Str(*ref, "kind")), ref_name(Str(*ref, "name"));
  const std::string ref_resource = ref_kind == "Role" ? "roles" : "clusterroles";
  AuthzAttributes bind{"bind", true, kRbacGroup, ref_resource, "", ns, ref_name, ""};
  if (Authorize(*who, bind).allowed) return Status::Ok();
  const api::KindInfo* rk = ref_kind == "Role" ? role_kind_ : cluster_role_kind_;
  ObjectPtr role = rk ? cache_.Get(ObjectKey(*rk, ns, ref_name)) : nullptr;
  if (!role) {
    return Forbidden(prefix + ref_resource + "." + std::string(kRbacGroup) + " \"" + ref_name +
                     "\" not found");
  }
  auto missing = UncoveredRules(RulesFor(*who, ns), ParseRules(role->obj));
  return missing.empty() ? Status::Ok() : not_held(missing);
}

}  // namespace sampan::apiserver
