#include "apiserver/rbac_bootstrap.h"

#include <boost/json.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "api/json_util.h"
#include "apiserver/rbac.h"
#include "apiserver/rest.h"
#include "apiserver/rest_internal.h"

namespace sampan::apiserver {

namespace json = boost::json;

namespace {

constexpr std::string_view kRbacGroup = "rbac.authorization.k8s.io";
constexpr std::string_view kRbacVersion = "rbac.authorization.k8s.io/v1";
constexpr std::string_view kBootstrapLabel = "kubernetes.io/bootstrapping";
constexpr std::string_view kAutoUpdate = "rbac.authorization.kubernetes.io/autoupdate";

// API groups, as bootstrappolicy names them.
constexpr const char* kCore = "";
constexpr const char* kApps = "apps";
constexpr const char* kAuthn = "authentication.k8s.io";
constexpr const char* kAuthz = "authorization.k8s.io";
constexpr const char* kAutoscaling = "autoscaling";
constexpr const char* kBatch = "batch";
constexpr const char* kCertificates = "certificates.k8s.io";
constexpr const char* kCoordination = "coordination.k8s.io";
constexpr const char* kDiscovery = "discovery.k8s.io";
constexpr const char* kEventsGroup = "events.k8s.io";
constexpr const char* kExtensions = "extensions";
constexpr const char* kNetworking = "networking.k8s.io";
constexpr const char* kNodeGroup = "node.k8s.io";
constexpr const char* kPolicy = "policy";
constexpr const char* kRbac = "rbac.authorization.k8s.io";
constexpr const char* kStorage = "storage.k8s.io";

using Strs = std::vector<std::string_view>;

// Verb sets of bootstrappolicy.
const Strs kRead{"get", "list", "watch"};
const Strs kWrite{"create", "update", "patch", "delete", "deletecollection"};
const Strs kReadWrite{"get",    "list",  "watch",  "create",
                      "update", "patch", "delete", "deletecollection"};
const Strs kReadUpdate{"get", "list", "watch", "update", "patch"};

json::array Array(const Strs& s) {
  json::array a;
  a.reserve(s.size());
  for (std::string_view x : s) a.emplace_back(x);
  return a;
}

// A resource rule: `verbs` on `resources` of `groups`, limited to `names` when given.
json::object Rule(const Strs& verbs, const Strs& groups, const Strs& resources,
                  const Strs& names = {}) {
  json::object r;
  r["verbs"] = Array(verbs);
  r["apiGroups"] = Array(groups);
  r["resources"] = Array(resources);
  if (!names.empty()) r["resourceNames"] = Array(names);
  return r;
}

// A non-resource rule: `verbs` on the paths `urls`.
json::object UrlRule(const Strs& verbs, const Strs& urls) {
  json::object r;
  r["verbs"] = Array(verbs);
  r["nonResourceURLs"] = Array(urls);
  return r;
}

// Kubernetes' eventsRule(): events in the core and events.k8s.io groups.
json::object EventsRule() {
  return Rule({"create", "update", "patch"}, {kCore, kEventsGroup}, {"events"});
}

json::object Metadata(std::string_view name, std::string_view ns, const json::object& labels) {
  json::object l = labels;
  l[kBootstrapLabel] = "rbac-defaults";
  json::object meta;
  meta["name"] = name;
  if (!ns.empty()) meta["namespace"] = ns;
  meta["labels"] = std::move(l);
  meta["annotations"] = json::object{{kAutoUpdate, "true"}};
  return meta;
}

json::object RoleObject(std::string_view kind, std::string_view name, std::string_view ns,
                        json::array rules, const json::object& labels = {}) {
  json::object o;
  o["apiVersion"] = kRbacVersion;
  o["kind"] = kind;
  o["metadata"] = Metadata(name, ns, labels);
  o["rules"] = std::move(rules);
  return o;
}

json::object ClusterRole(std::string_view name, json::array rules,
                         const json::object& labels = {}) {
  return RoleObject("ClusterRole", name, "", std::move(rules), labels);
}

// A ClusterRole whose rules are those of the ClusterRoles labelled `selector_label`="true"
// (filled in by the clusterrole-aggregation controller).
json::object AggregatedClusterRole(std::string_view name, std::string_view selector_label,
                                   const json::object& labels = {}) {
  json::object o;
  o["apiVersion"] = kRbacVersion;
  o["kind"] = "ClusterRole";
  o["metadata"] = Metadata(name, "", labels);
  json::object match;
  match[selector_label] = "true";
  json::object selector;
  selector["matchLabels"] = std::move(match);
  json::object agg;
  agg["clusterRoleSelectors"] = json::array{std::move(selector)};
  o["aggregationRule"] = std::move(agg);
  return o;
}

json::object Subject(std::string_view kind, std::string_view name, std::string_view ns = "") {
  json::object s;
  s["kind"] = kind;
  if (kind == "ServiceAccount") {
    s["name"] = name;
    s["namespace"] = ns;
  } else {
    s["apiGroup"] = kRbacGroup;
    s["name"] = name;
  }
  return s;
}
json::object Group(std::string_view name) { return Subject("Group", name); }
json::object User(std::string_view name) { return Subject("User", name); }
json::object ServiceAccount(std::string_view ns, std::string_view name) {
  return Subject("ServiceAccount", name, ns);
}

json::object Binding(std::string_view kind, std::string_view name, std::string_view ns,
                     std::string_view role_kind, std::string_view role, json::array subjects) {
  json::object o;
  o["apiVersion"] = kRbacVersion;
  o["kind"] = kind;
  o["metadata"] = Metadata(name, ns, {});
  json::object ref;
  ref["apiGroup"] = kRbacGroup;
  ref["kind"] = role_kind;
  ref["name"] = role;
  o["roleRef"] = std::move(ref);
  o["subjects"] = std::move(subjects);
  return o;
}

// A ClusterRoleBinding named as the ClusterRole it grants.
json::object ClusterBinding(std::string_view role, json::array subjects) {
  return Binding("ClusterRoleBinding", role, "", "ClusterRole", role, std::move(subjects));
}

json::object AggregateLabel(std::string_view to) {
  json::object l;
  l[std::string("rbac.authorization.k8s.io/aggregate-to-") + std::string(to)] = "true";
  return l;
}

// ---- reconcile ----

// Adds the keys of metadata.`field` of `expected` that `existing` lacks. True if any.
bool MergeMetaMap(const json::object& expected, json::object& existing, std::string_view field) {
  const json::object* want = api::Obj(api::Obj(&expected, "metadata"), field);
  if (!want || want->empty()) return false;
  json::object& meta = internal::Meta(existing);
  json::value& have_value = meta[field];
  if (!have_value.is_object()) have_value.emplace_object();
  json::object& have = have_value.as_object();
  bool changed = false;
  for (const auto& kv : *want) {
    if (have.contains(kv.key())) continue;
    have[kv.key()] = kv.value();
    changed = true;
  }
  return changed;
}

// The array at `key`, created (replacing a non-array) if needed.
json::array& MutArray(json::object& o, std::string_view key) {
  json::value& v = o[key];
  if (!v.is_array()) v.emplace_array();
  return v.as_array();
}

bool ContainsValue(const json::array& list, const json::value& v) {
  for (const json::value& x : list) {
    if (api::JsonEqual(x, v)) return true;
  }
  return false;
}

// Subjects compare on kind, name, namespace and API group, the group defaulted as the
// server defaults it (rbac.authorization.k8s.io for users and groups).
std::string SubjectKey(const json::value& v) {
  if (!v.is_object()) return api::SerializeSorted(v);
  const json::object& s = v.as_object();
  std::string kind = api::Str(&s, "kind");
  std::string group = api::Str(&s, "apiGroup");
  if (group.empty() && (kind == "User" || kind == "Group")) group = std::string(kRbacGroup);
  return kind + '\x1f' + group + '\x1f' + api::Str(&s, "namespace") + '\x1f' + api::Str(&s, "name");
}

bool ReconcileRules(const json::object& expected, json::object& existing) {
  bool changed = false;
  if (const json::object* agg = api::Obj(&expected, "aggregationRule")) {
    // Aggregated: the controller owns the rules; only the selectors are reconciled.
    const json::array* want = api::Arr(agg, "clusterRoleSelectors");
    if (!want) return false;
    json::value& have_agg = existing["aggregationRule"];
    if (!have_agg.is_object()) have_agg.emplace_object();
    json::array& have = MutArray(have_agg.as_object(), "clusterRoleSelectors");
    for (const json::value& sel : *want) {
      if (ContainsValue(have, sel)) continue;
      have.push_back(sel);
      changed = true;
    }
    return changed;
  }
  const json::array* want = api::Arr(&expected, "rules");
  if (!want) return false;
  for (const json::value& rule : *want) {
    if (!rule.is_object()) continue;
    const json::array* have = api::Arr(&existing, "rules");
    static const json::array kNone;
    if (RulesCover(have ? *have : kNone, rule.as_object())) continue;
    MutArray(existing, "rules").push_back(rule);
    changed = true;
  }
  return changed;
}

bool ReconcileSubjects(const json::object& expected, json::object& existing) {
  const json::array* want = api::Arr(&expected, "subjects");
  if (!want) return false;
  bool changed = false;
  for (const json::value& s : *want) {
    const json::array* have = api::Arr(&existing, "subjects");
    bool found = false;
    if (have) {
      const std::string key = SubjectKey(s);
      for (const json::value& h : *have) {
        if (SubjectKey(h) == key) {
          found = true;
          break;
        }
      }
    }
    if (found) continue;
    MutArray(existing, "subjects").push_back(s);
    changed = true;
  }
  return changed;
}

const api::KindInfo* RbacKind(const api::Registry& registry, std::string_view kind) {
  return registry.FindKind(std::string(kRbacGroup), "v1", std::string(kind));
}

// Creates `expected` when missing, else reconciles the stored object into it.
asio::awaitable<Status> EnsureObject(Rest& rest, const api::KindInfo& kind, json::object expected) {
  const std::string ns(internal::MetaString(expected, "namespace"));
  const std::string name(internal::MetaString(expected, "name"));
  ObjectPtr cur = rest.cache().Get(ObjectKey(kind, ns, name));
  if (!cur) {
    json::value body(std::move(expected));
    WriteOptions wo;
    auto created = co_await rest.Create(kind, ns, std::move(body), wo);
    if (!created.ok() && created.status().code() != Code::kAlreadyExists) {
      co_return created.status();
    }
    co_return Status::Ok();
  }
  json::object probe = cur->obj;
  if (!ReconcileBootstrapObject(expected, probe)) co_return Status::Ok();
  std::function<Status(json::object&)> mutate = [expected](json::object& obj) {
    ReconcileBootstrapObject(expected, obj);
    return Status::Ok();
  };
  WriteOptions wo;
  auto updated = co_await rest.Mutate(kind, ns, name, std::move(mutate), wo);
  if (!updated.ok() && updated.status().code() != Code::kNotFound) co_return updated.status();
  co_return Status::Ok();
}

}  // namespace

bool RulesCover(const json::array& owner, const json::object& rule) {
  std::vector<PolicyRule> held;
  for (const json::value& o : owner) {
    if (o.is_object()) held.push_back(RuleFromJson(o.as_object()));
  }
  return UncoveredRules(held, {RuleFromJson(rule)}).empty();
}

bool ReconcileBootstrapObject(const json::object& expected, json::object& existing) {
  const json::object* annotations = api::Obj(api::Obj(&existing, "metadata"), "annotations");
  if (api::Str(annotations, kAutoUpdate) == "false") return false;
  bool changed = MergeMetaMap(expected, existing, "labels");
  changed = MergeMetaMap(expected, existing, "annotations") || changed;
  const std::string kind = api::Str(&expected, "kind");
  if (kind == "ClusterRole" || kind == "Role") {
    changed = ReconcileRules(expected, existing) || changed;
  } else {
    changed = ReconcileSubjects(expected, existing) || changed;
  }
  return changed;
}

std::vector<json::object> BootstrapClusterRoles() {
  std::vector<json::object> roles;
  // A "root" role that can do anything.
  roles.push_back(
      ClusterRole("cluster-admin", json::array{Rule({"*"}, {"*"}, {"*"}), UrlRule({"*"}, {"*"})}));
  // Discovery and public information.
  roles.push_back(ClusterRole(
      "system:discovery", json::array{UrlRule({"get"}, {"/livez", "/readyz", "/healthz", "/version",
                                                        "/version/", "/openapi", "/openapi/*",
                                                        "/api", "/api/*", "/apis", "/apis/*"})}));
  roles.push_back(ClusterRole(
      "system:monitoring",
      json::array{UrlRule({"get"}, {"/metrics", "/metrics/slis", "/livez", "/readyz", "/healthz",
                                    "/livez/*", "/readyz/*", "/healthz/*"})}));
  roles.push_back(ClusterRole(
      "system:basic-user",
      json::array{
          Rule({"create"}, {kAuthz}, {"selfsubjectaccessreviews", "selfsubjectrulesreviews"}),
          Rule({"create"}, {kAuthn}, {"selfsubjectreviews"})}));
  roles.push_back(ClusterRole(
      "system:public-info-viewer",
      json::array{UrlRule({"get"}, {"/livez", "/readyz", "/healthz", "/version", "/version/"})}));

  // The user-facing roles: admin ⊇ edit ⊇ view, each the union of the roles labelled
  // aggregate-to-<name>.
  roles.push_back(AggregatedClusterRole("admin", "rbac.authorization.k8s.io/aggregate-to-admin"));
  roles.push_back(AggregatedClusterRole("edit", "rbac.authorization.k8s.io/aggregate-to-edit",
                                        AggregateLabel("admin")));
  roles.push_back(AggregatedClusterRole("view", "rbac.authorization.k8s.io/aggregate-to-view",
                                        AggregateLabel("edit")));
  roles.push_back(ClusterRole("system:aggregate-to-admin",
                              json::array{Rule({"create"}, {kAuthz}, {"localsubjectaccessreviews"}),
                                          Rule(kReadWrite, {kRbac}, {"roles", "rolebindings"})},
                              AggregateLabel("admin")));
  roles.push_back(ClusterRole(
      "system:aggregate-to-edit",
      json::array{
          // Reading secrets and the pod and service proxies is an escalation: edit, not view.
          Rule(kRead, {kCore},
               {"pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets",
                "services/proxy"}),
          Rule({"impersonate"}, {kCore}, {"serviceaccounts"}),
          Rule(kWrite, {kCore},
               {"pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"}),
          Rule({"create"}, {kCore}, {"pods/eviction"}),
          Rule(kWrite, {kCore},
               {"replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
                "services", "services/proxy", "persistentvolumeclaims", "configmaps", "secrets",
                "events"}),
          Rule({"create"}, {kCore}, {"serviceaccounts/token"}),
          Rule(kWrite, {kApps},
               {"statefulsets", "statefulsets/scale", "daemonsets", "deployments",
                "deployments/scale", "deployments/rollback", "replicasets", "replicasets/scale"}),
          Rule(kWrite, {kAutoscaling}, {"horizontalpodautoscalers"}),
          Rule(kWrite, {kBatch}, {"jobs", "cronjobs"}),
          Rule(kWrite, {kExtensions},
               {"daemonsets", "deployments", "deployments/scale", "deployments/rollback",
                "ingresses", "replicasets", "replicasets/scale", "replicationcontrollers/scale",
                "networkpolicies"}),
          Rule(kWrite, {kPolicy}, {"poddisruptionbudgets"}),
          Rule(kWrite, {kNetworking}, {"ingresses", "networkpolicies"}),
          Rule(kReadWrite, {kCoordination}, {"leases"}),
      },
      AggregateLabel("edit")));
  roles.push_back(ClusterRole(
      "system:aggregate-to-view",
      json::array{
          Rule(kRead, {kCore},
               {"pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
                "services", "services/status", "endpoints", "persistentvolumeclaims",
                "persistentvolumeclaims/status", "configmaps"}),
          Rule(kRead, {kCore},
               {"limitranges", "resourcequotas", "bindings", "events", "pods/status",
                "resourcequotas/status", "namespaces/status", "replicationcontrollers/status",
                "pods/log"}),
          // Reading namespaces at namespace scope means reading *this* namespace.
          Rule(kRead, {kCore}, {"namespaces"}),
          Rule(kRead, {kDiscovery}, {"endpointslices"}),
          Rule(kRead, {kApps},
               {"controllerrevisions", "statefulsets", "statefulsets/status", "statefulsets/scale",
                "daemonsets", "daemonsets/status", "deployments", "deployments/status",
                "deployments/scale", "replicasets", "replicasets/status", "replicasets/scale"}),
          Rule(kRead, {kAutoscaling},
               {"horizontalpodautoscalers", "horizontalpodautoscalers/status"}),
          Rule(kRead, {kBatch}, {"jobs", "cronjobs", "cronjobs/status", "jobs/status"}),
          Rule(kRead, {kExtensions},
               {"daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                "deployments/status", "ingresses", "ingresses/status", "replicasets",
                "replicasets/scale", "replicasets/status", "replicationcontrollers/scale",
                "networkpolicies"}),
          Rule(kRead, {kPolicy}, {"poddisruptionbudgets", "poddisruptionbudgets/status"}),
          Rule(kRead, {kNetworking}, {"ingresses", "ingresses/status", "networkpolicies"}),
      },
      AggregateLabel("view")));

  // Infrastructure roles.
  roles.push_back(ClusterRole("system:kube-aggregator",
                              json::array{Rule(kRead, {kCore}, {"services", "endpoints"})}));
  roles.push_back(ClusterRole(
      "system:node",
      json::array{
          // Checking API access (these creates mutate nothing).
          Rule({"create"}, {kAuthn}, {"tokenreviews"}),
          Rule({"create"}, {kAuthz}, {"subjectaccessreviews", "localsubjectaccessreviews"}),
          // Service environment variables of pods.
          Rule(kRead, {kCore}, {"services"}),
          // Registering and keeping its Node.
          Rule({"create", "get", "list", "watch"}, {kCore}, {"nodes"}),
          Rule({"update", "patch"}, {kCore}, {"nodes/status"}),
          Rule({"update", "patch"}, {kCore}, {"nodes"}),
          Rule({"create", "update", "patch"}, {kCore}, {"events"}),
          // Its pods; mirror pods; their status; evictions.
          Rule(kRead, {kCore}, {"pods"}),
          Rule({"create", "delete"}, {kCore}, {"pods"}),
          Rule({"update", "patch"}, {kCore}, {"pods/status"}),
          Rule({"create"}, {kCore}, {"pods/eviction"}),
          // Volumes and environment from secrets and config maps.
          Rule(kRead, {kCore}, {"secrets", "configmaps"}),
          Rule({"get"}, {kCore}, {"persistentvolumeclaims", "persistentvolumes"}),
          Rule({"get"}, {kCore}, {"endpoints"}),
          Rule({"create", "get", "list", "watch"}, {kCertificates}, {"certificatesigningrequests"}),
          // Node heartbeats.
          Rule({"get", "create", "update", "patch", "delete"}, {kCoordination}, {"leases"}),
          Rule({"get"}, {kStorage}, {"volumeattachments"}),
          // Projected service account tokens.
          Rule({"create"}, {kCore}, {"serviceaccounts/token"}),
          Rule({"get", "update", "patch"}, {kCore}, {"persistentvolumeclaims/status"}),
          Rule(kRead, {kStorage}, {"csidrivers"}),
          Rule({"get", "create", "update", "patch", "delete"}, {kStorage}, {"csinodes"}),
          Rule(kRead, {kNodeGroup}, {"runtimeclasses"}),
      }));
  roles.push_back(
      ClusterRole("system:node-proxier",
                  json::array{Rule({"list", "watch"}, {kCore}, {"services", "endpoints"}),
                              Rule({"get", "list", "watch"}, {kCore}, {"nodes"}), EventsRule(),
                              Rule({"list", "watch"}, {kDiscovery}, {"endpointslices"})}));
  roles.push_back(
      ClusterRole("system:node-problem-detector",
                  json::array{Rule({"get"}, {kCore}, {"nodes"}),
                              Rule({"patch"}, {kCore}, {"nodes/status"}), EventsRule()}));
  roles.push_back(ClusterRole(
      "system:kubelet-api-admin",
      json::array{
          Rule({"get", "list", "watch"}, {kCore}, {"nodes"}), Rule({"proxy"}, {kCore}, {"nodes"}),
          Rule({"*"}, {kCore}, {"nodes/proxy", "nodes/metrics", "nodes/stats", "nodes/log"})}));
  roles.push_back(ClusterRole("system:node-bootstrapper",
                              json::array{Rule({"create", "get", "list", "watch"}, {kCertificates},
                                               {"certificatesigningrequests"})}));
  roles.push_back(ClusterRole("system:auth-delegator",
                              json::array{Rule({"create"}, {kAuthn}, {"tokenreviews"}),
                                          Rule({"create"}, {kAuthz}, {"subjectaccessreviews"})}));
  roles.push_back(ClusterRole(
      "system:kube-controller-manager",
      json::array{
          EventsRule(),
          // Leader election.
          Rule({"create"}, {kCoordination}, {"leases"}),
          Rule({"get", "update"}, {kCoordination}, {"leases"}, {"kube-controller-manager"}),
          // Service account credentials for the controllers.
          Rule({"create"}, {kCore}, {"secrets", "serviceaccounts"}),
          Rule({"delete"}, {kCore}, {"secrets"}),
          Rule({"get"}, {kCore}, {"namespaces", "secrets", "serviceaccounts", "configmaps"}),
          Rule({"update"}, {kCore}, {"secrets", "serviceaccounts"}),
          // Delegated authentication and authorization.
          Rule({"create"}, {kAuthn}, {"tokenreviews"}),
          Rule({"create"}, {kAuthz}, {"subjectaccessreviews"}),
          // The shared informers.
          Rule({"list", "watch"}, {"*"}, {"*"}),
          Rule({"create"}, {kCore}, {"serviceaccounts/token"}),
      }));
  roles.push_back(ClusterRole(
      "system:kube-dns", json::array{Rule({"list", "watch"}, {kCore}, {"endpoints", "services"})}));
  roles.push_back(ClusterRole(
      "system:persistent-volume-provisioner",
      json::array{
          Rule({"get", "list", "watch", "create", "delete"}, {kCore}, {"persistentvolumes"}),
          // update is needed to bind claims to volumes.
          Rule({"get", "list", "watch", "update"}, {kCore}, {"persistentvolumeclaims"}),
          Rule(kRead, {kStorage}, {"storageclasses"}),
          // Watching events of claims.
          Rule({"watch"}, {kCore}, {"events"}), EventsRule()}));
  roles.push_back(
      ClusterRole("system:kube-scheduler",
                  json::array{
                      EventsRule(),
                      // Leader election.
                      Rule({"create"}, {kCoordination}, {"leases"}),
                      Rule({"get", "update"}, {kCoordination}, {"leases"}, {"kube-scheduler"}),
                      // Scheduling and preemption.
                      Rule(kRead, {kCore}, {"nodes"}),
                      Rule({"get", "list", "watch", "delete"}, {kCore}, {"pods"}),
                      Rule({"create"}, {kCore}, {"pods/binding", "bindings"}),
                      Rule({"patch", "update"}, {kCore}, {"pods/status"}),
                      // What the spreading and affinity plugins read.
                      Rule(kRead, {kCore}, {"replicationcontrollers", "services"}),
                      Rule(kRead, {kApps, kExtensions}, {"replicasets"}),
                      Rule(kRead, {kApps}, {"statefulsets"}),
                      Rule(kRead, {kPolicy}, {"poddisruptionbudgets"}),
                      Rule(kRead, {kCore}, {"persistentvolumeclaims", "persistentvolumes"}),
                      // Delegated authentication and authorization.
                      Rule({"create"}, {kAuthn}, {"tokenreviews"}),
                      Rule({"create"}, {kAuthz}, {"subjectaccessreviews"}),
                      Rule(kRead, {kStorage}, {"csinodes"}),
                      Rule(kRead, {kCore}, {"namespaces"}),
                      Rule(kRead, {kStorage}, {"csidrivers"}),
                      Rule(kRead, {kStorage}, {"csistoragecapacities"}),
                  }));
  roles.push_back(ClusterRole("system:volume-scheduler",
                              json::array{Rule(kReadUpdate, {kCore}, {"persistentvolumes"}),
                                          Rule(kRead, {kStorage}, {"storageclasses"}),
                                          Rule(kReadUpdate, {kCore}, {"persistentvolumeclaims"})}));
  // Certificate signing requests of kubelets.
  roles.push_back(ClusterRole(
      "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
      json::array{Rule({"create"}, {kCertificates}, {"certificatesigningrequests/nodeclient"})}));
  roles.push_back(
      ClusterRole("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
                  json::array{Rule({"create"}, {kCertificates},
                                   {"certificatesigningrequests/selfnodeclient"})}));
  for (const char* signer : {"kube-apiserver-client", "kube-apiserver-client-kubelet",
                             "kubelet-serving", "legacy-unknown"}) {
    const std::string name = std::string("kubernetes.io/") + signer;
    roles.push_back(
        ClusterRole(std::string("system:certificates.k8s.io:") + signer + "-approver",
                    json::array{Rule({"approve"}, {kCertificates}, {"signers"}, {name})}));
  }
  // sampan's own: what a node agent does beyond the kubelet's rules (and kube-proxy's, bound
  // below): its ingress proxy reads Ingresses, IngressClasses and TLS Secrets (cluster-wide, as
  // any ingress controller), and the local-path provisioner's node half deletes the Released
  // volumes it cleaned up.
  roles.push_back(ClusterRole(
      "system:sampan:node",
      json::array{Rule({"list", "watch"}, {kNetworking}, {"ingresses", "ingressclasses"}),
                  Rule({"list", "watch"}, {kCore}, {"secrets"}),
                  Rule({"get", "list", "watch", "delete"}, {kCore}, {"persistentvolumes"})}));
  roles.push_back(ClusterRole(
      "system:service-account-issuer-discovery",
      json::array{UrlRule({"get"}, {"/.well-known/openid-configuration", "/openid/v1/jwks"})}));
  return roles;
}

std::vector<json::object> BootstrapClusterRoleBindings() {
  std::vector<json::object> b;
  b.push_back(ClusterBinding("cluster-admin", json::array{Group("system:masters")}));
  b.push_back(ClusterBinding("system:monitoring", json::array{Group("system:monitoring")}));
  b.push_back(ClusterBinding("system:discovery", json::array{Group("system:authenticated")}));
  b.push_back(ClusterBinding("system:basic-user", json::array{Group("system:authenticated")}));
  b.push_back(
      ClusterBinding("system:public-info-viewer",
                     json::array{Group("system:authenticated"), Group("system:unauthenticated")}));
  b.push_back(ClusterBinding("system:service-account-issuer-discovery",
                             json::array{Group("system:serviceaccounts")}));
  // The node agents (group system:nodes) proxy Services too: kube-proxy's role is theirs.
  b.push_back(ClusterBinding("system:node-proxier",
                             json::array{User("system:kube-proxy"), Group("system:nodes")}));
  b.push_back(ClusterBinding("system:kube-controller-manager",
                             json::array{User("system:kube-controller-manager")}));
  b.push_back(
      ClusterBinding("system:kube-dns", json::array{ServiceAccount("kube-system", "kube-dns")}));
  b.push_back(ClusterBinding("system:kube-scheduler", json::array{User("system:kube-scheduler")}));
  b.push_back(
      ClusterBinding("system:volume-scheduler", json::array{User("system:kube-scheduler")}));
  // sampan's own: Kubernetes creates this binding without subjects and lets its Node
  // authorizer decide what kubelets may do; sampan has no Node authorizer, so the node agents
  // (group system:nodes) get the system:node rules through RBAC.
  b.push_back(ClusterBinding("system:node", json::array{Group("system:nodes")}));
  b.push_back(ClusterBinding("system:sampan:node", json::array{Group("system:nodes")}));
  return b;
}

std::vector<json::object> BootstrapRoles() {
  std::vector<json::object> r;
  const json::array leader_locking{
      Rule({"create", "get", "list", "update", "watch"}, {kCoordination}, {"leases"}),
      Rule({"create", "get", "list", "update", "watch"}, {kCoordination}, {"leasecandidates"})};
  r.push_back(RoleObject(
      "Role", "extension-apiserver-authentication-reader", "kube-system",
      json::array{Rule(kRead, {kCore}, {"configmaps"}, {"extension-apiserver-authentication"})}));
  r.push_back(RoleObject("Role", "system::leader-locking-kube-controller-manager", "kube-system",
                         leader_locking));
  r.push_back(
      RoleObject("Role", "system::leader-locking-kube-scheduler", "kube-system", leader_locking));
  r.push_back(RoleObject("Role", "system:controller:bootstrap-signer", "kube-system",
                         json::array{Rule(kRead, {kCore}, {"secrets"})}));
  r.push_back(
      RoleObject("Role", "system:controller:cloud-provider", "kube-system",
                 json::array{Rule({"create", "get", "list", "watch"}, {kCore}, {"configmaps"})}));
  r.push_back(RoleObject(
      "Role", "system:controller:token-cleaner", "kube-system",
      json::array{Rule({"delete", "get", "list", "watch"}, {kCore}, {"secrets"}), EventsRule()}));
  r.push_back(RoleObject(
      "Role", "system:controller:bootstrap-signer", "kube-public",
      json::array{Rule(kRead, {kCore}, {"configmaps"}),
                  Rule({"update"}, {kCore}, {"configmaps"}, {"cluster-info"}), EventsRule()}));
  return r;
}

std::vector<json::object> BootstrapRoleBindings() {
  std::vector<json::object> b;
  auto role_binding = [&b](std::string_view name, std::string_view ns, std::string_view role,
                           json::array subjects) {
    b.push_back(Binding("RoleBinding", name, ns, "Role", role, std::move(subjects)));
  };
  role_binding("system::extension-apiserver-authentication-reader", "kube-system",
               "extension-apiserver-authentication-reader",
               json::array{User("system:kube-controller-manager"), User("system:kube-scheduler")});
  role_binding("system::leader-locking-kube-controller-manager", "kube-system",
               "system::leader-locking-kube-controller-manager",
               json::array{User("system:kube-controller-manager"),
                           ServiceAccount("kube-system", "kube-controller-manager"),
                           ServiceAccount("kube-system", "leader-election-controller")});
  role_binding(
      "system::leader-locking-kube-scheduler", "kube-system",
      "system::leader-locking-kube-scheduler",
      json::array{User("system:kube-scheduler"), ServiceAccount("kube-system", "kube-scheduler")});
  role_binding("system:controller:bootstrap-signer", "kube-system",
               "system:controller:bootstrap-signer",
               json::array{ServiceAccount("kube-system", "bootstrap-signer")});
  role_binding("system:controller:cloud-provider", "kube-system",
               "system:controller:cloud-provider",
               json::array{ServiceAccount("kube-system", "cloud-provider")});
  role_binding("system:controller:token-cleaner", "kube-system", "system:controller:token-cleaner",
               json::array{ServiceAccount("kube-system", "token-cleaner")});
  role_binding("system:controller:bootstrap-signer", "kube-public",
               "system:controller:bootstrap-signer",
               json::array{ServiceAccount("kube-system", "bootstrap-signer")});
  return b;
}

asio::awaitable<Status> EnsureBootstrapPolicy(Rest& rest) {
  struct Set {
    const char* kind;
    std::vector<json::object> (*objects)();
  };
  static constexpr Set kSets[] = {
      {"ClusterRole", &BootstrapClusterRoles},
      {"ClusterRoleBinding", &BootstrapClusterRoleBindings},
      {"Role", &BootstrapRoles},
      {"RoleBinding", &BootstrapRoleBindings},
  };
  for (const Set& set : kSets) {
    const api::KindInfo* kind = RbacKind(rest.registry(), set.kind);
    if (kind == nullptr) continue;
    std::vector<json::object> objects = set.objects();
    for (json::object& obj : objects) {
      Status st = co_await EnsureObject(rest, *kind, std::move(obj));
      if (!st.ok()) co_return st;
    }
  }
  co_return Status::Ok();
}

}  // namespace sampan::apiserver
