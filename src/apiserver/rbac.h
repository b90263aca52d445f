// Authorization: Kubernetes' RBAC authorizer (rbac.authorization.k8s.io/v1 Roles, ClusterRoles
// and their bindings, read from the watch cache), preceded as on Kubernetes by the privileged
// group: members of system:masters may do everything. Also the rule arithmetic RBAC's
// escalation check needs (does what a user holds cover what a role grants?), and that check.
#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "api/schema.h"
#include "util/status.h"

namespace sampan::apiserver {

struct Identity;  // http.h
class ObjectCache;
class CacheWatcher;

// One rule of a Role or ClusterRole.
struct PolicyRule {
  std::vector<std::string> verbs, api_groups, resources, resource_names, non_resource_urls;
};

PolicyRule RuleFromJson(const boost::json::object& rule);
boost::json::object RuleToJson(const PolicyRule& rule);
// As Kubernetes prints a rule in its messages: {APIGroups:["apps"], Resources:["deployments"],
// Verbs:["get"]} (empty lists left out).
std::string CompactRuleString(const PolicyRule& rule);

// What a request asks to do (Kubernetes' authorizer.Attributes).
struct AuthzAttributes {
  std::string_view verb;  // get list watch create update patch delete deletecollection,
                          // impersonate bind escalate ...; for a path: get post put ...
  bool resource_request = true;
  std::string_view group, resource, subresource, ns, name;  // a resource request
  std::string_view path;                                    // a non-resource request
};

// Whether `rule` allows `a` (Kubernetes' RuleAllows).
bool RuleAllows(const PolicyRule& rule, const AuthzAttributes& a);

// The permissions in `requested` that `owner` does not cover, each broken down to one verb on
// one resource (or path) and merged back by verb for the message (Kubernetes' Covers).
std::vector<PolicyRule> UncoveredRules(const std::vector<PolicyRule>& owner,
                                       const std::vector<PolicyRule>& requested);

// The Forbidden error Kubernetes answers a denied request with, e.g. `pods "x" is forbidden:
// User "alice" cannot get resource "pods" in API group "" in the namespace "default"`.
Status ForbiddenError(const Identity& who, const AuthzAttributes& a, std::string_view reason = {});

struct AuthzDecision {
  bool allowed = false;
  std::string reason;
};

class Authorizer {
 public:
  enum class Mode { kRbac, kAlwaysAllow };

  // Reads RBAC objects from `cache` (kept current through a filter on its event stream).
  Authorizer(ObjectCache& cache, const api::Registry& registry, Mode mode);
  ~Authorizer();
  Authorizer(const Authorizer&) = delete;
  Authorizer& operator=(const Authorizer&) = delete;

  AuthzDecision Authorize(const Identity& who, const AuthzAttributes& a) const;

  // The rules `who` holds in namespace `ns` (cluster-wide ones included; "" = only those).
  std::vector<PolicyRule> RulesFor(const Identity& who, std::string_view ns) const;

  // RBAC's escalation prevention, for a Role, ClusterRole, RoleBinding or ClusterRoleBinding
  // about to be written by `who` (null: the server itself, always allowed): a user may grant
  // only permissions they hold, unless allowed to `escalate` (roles) or `bind` (bindings).
  Status CheckEscalation(const api::KindInfo& kind, const boost::json::object& obj,
                         const Identity* who) const;

  Mode mode() const { return mode_; }

 private:
  struct Snapshot;
  std::shared_ptr<const Snapshot> Current() const;
  std::shared_ptr<const Snapshot> Build(uint64_t generation) const;

  ObjectCache& cache_;
  const api::Registry& registry_;
  const Mode mode_;
  const api::KindInfo *role_kind_ = nullptr, *cluster_role_kind_ = nullptr,
                      *binding_kind_ = nullptr, *cluster_binding_kind_ = nullptr;
  std::shared_ptr<std::atomic<uint64_t>> generation_;  // bumped by every RBAC object event
  std::shared_ptr<CacheWatcher> watcher_;
  mutable std::mutex mu_;
  mutable std::shared_ptr<const Snapshot> snapshot_;  // guarded by mu_
};

// True when `who` is in system:masters.
bool IsPrivileged(const Identity& who);

}  // namespace sampan::apiserver
