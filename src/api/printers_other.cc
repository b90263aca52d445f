// Table printers of the remaining groups: leases, storage classes, ingresses, network
// policies, disruption budgets, autoscalers, priority classes, RBAC, endpoint slices.
#include "api/printers_internal.h"

namespace sampan::api::printers_internal {
namespace {

std::vector<TableColumn> LeaseColumns() {
  return {Col("Holder", "string", "The identity of the lease's current holder."), AgeColumn()};
}

json::array LeaseCells(const json::object& lease, int64_t now) {
  return json::array{Str(lease, {"spec", "holderIdentity"}), AgeCell(lease, now)};
}

std::vector<TableColumn> StorageClassColumns() {
  return {Col("Provisioner", "string", "The volume plugin that provisions volumes."),
          Col("ReclaimPolicy", "string", "The reclaim policy of provisioned volumes."),
          Col("VolumeBindingMode", "string", "When volumes are bound and provisioned."),
          Col("AllowVolumeExpansion", "string", "Whether volumes may be expanded."), AgeColumn()};
}

std::string StorageClassName(const json::object& sc) {
  const json::object& ann = Obj(sc, {"metadata", "annotations"});
  bool is_default = Str(ann, {"storageclass.kubernetes.io/is-default-class"}) == "true" ||
                    Str(ann, {"storageclass.beta.kubernetes.io/is-default-class"}) == "true";
  return Str(sc, {"metadata", "name"}) + (is_default ? " (default)" : "");
}

json::array StorageClassCells(const json::object& sc, int64_t now) {
  std::string reclaim = Str(sc, {"reclaimPolicy"});
  if (reclaim.empty()) reclaim = "Delete";
  std::string binding = Str(sc, {"volumeBindingMode"});
  if (binding.empty()) binding = "Immediate";
  return json::array{Str(sc, {"provisioner"}), reclaim, binding, Bool(sc, {"allowVolumeExpansion"}),
                     AgeCell(sc, now)};
}

std::vector<TableColumn> IngressColumns() {
  return {Col("Class", "string", "The ingress class of the ingress."),
          Col("Hosts", "string", "The hosts the ingress's rules match."),
          Col("Address", "string", "The addresses the ingress is reachable at."),
          Col("Ports", "string", "The ports the ingress is served on."), AgeColumn()};
}

std::vector<TableColumn> IngressClassColumns() {
  return {Col("Controller", "string", "Controller that is responsible for handling this class"),
          Col("Parameters", "string", "A reference to a resource with additional parameters"),
          AgeColumn()};
}

// Parameters as Kubernetes prints them: Kind[.apiGroup]/name, or <none>.
json::array IngressClassCells(const json::object& ic, int64_t now) {
  std::string parameters = "<none>";
  if (Has(ic, {"spec", "parameters"})) {
    parameters = Str(ic, {"spec", "parameters", "kind"});
    if (Has(ic, {"spec", "parameters", "apiGroup"})) {
      parameters += "." + Str(ic, {"spec", "parameters", "apiGroup"});
    }
    parameters += "/" + Str(ic, {"spec", "parameters", "name"});
  }
  return json::array{Str(ic, {"spec", "controller"}), parameters, AgeCell(ic, now)};
}

json::array IngressCells(const json::object& ing, int64_t now) {
  std::string cls =
      Has(ing, {"spec", "ingressClassName"}) ? Str(ing, {"spec", "ingressClassName"}) : "<none>";
  const json::array& rules = Arr(ing, {"spec", "rules"});
  constexpr size_t kMax = 3;
  std::vector<std::string> hosts;
  bool more = false;
  for (const json::value& r : rules) {
    if (hosts.size() == kMax) more = true;
    std::string host = Str(AsObj(r), {"host"});
    if (!more && !host.empty()) hosts.push_back(host);
  }
  std::string host_cell = hosts.empty() ? "*" : Join(hosts, ",");
  if (more) host_cell += " + " + std::to_string(rules.size() - kMax) + " more...";
  std::vector<std::string> addrs;
  for (const json::value& i : Arr(ing, {"status", "loadBalancer", "ingress"})) {
    std::string ip = Str(AsObj(i), {"ip"});
    std::string host = Str(AsObj(i), {"hostname"});
    if (!ip.empty())
      addrs.push_back(ip);
    else if (!host.empty())
      addrs.push_back(host);
  }
  std::string ports = Arr(ing, {"spec", "tls"}).empty() ? "80" : "80, 443";
  return json::array{cls, host_cell, Join(addrs, ","), ports, AgeCell(ing, now)};
}

std::vector<TableColumn> NetworkPolicyColumns() {
  return {Col("Pod-Selector", "string", "The pods the policy applies to."), AgeColumn()};
}

json::array NetworkPolicyCells(const json::object& np, int64_t now) {
  std::string sel = FormatLabelSelector(At(np, {"spec", "podSelector"}));
  return json::array{sel.empty() ? std::string("<none>") : sel, AgeCell(np, now)};
}

std::vector<TableColumn> PdbColumns() {
  return {Col("Min Available", "string", "Pods that must stay available after an eviction."),
          Col("Max Unavailable", "string", "Pods that may be unavailable after an eviction."),
          Col("Allowed Disruptions", "integer", "Pod disruptions currently allowed."), AgeColumn()};
}

std::string IntOrStringCell(const json::value* v) {
  if (v == nullptr || v->is_null()) return "N/A";
  if (v->is_int64()) return std::to_string(v->get_int64());
  if (v->is_uint64()) return std::to_string(v->get_uint64());
  return AsStr(*v);
}

json::array PdbCells(const json::object& pdb, int64_t now) {
  return json::array{IntOrStringCell(At(pdb, {"spec", "minAvailable"})),
                     IntOrStringCell(At(pdb, {"spec", "maxUnavailable"})),
                     Int(pdb, {"status", "disruptionsAllowed"}), AgeCell(pdb, now)};
}

std::vector<TableColumn> PriorityClassColumns() {
  return {Col("Value", "integer", "The priority of pods that use the class."),
          Col("Global-Default", "boolean", "Whether pods without a class get this one."),
          AgeColumn(),
          Col("PreemptionPolicy", "string", "Whether pods of the class may preempt others.")};
}

json::array PriorityClassCells(const json::object& pc, int64_t now) {
  return json::array{Int(pc, {"value"}), Bool(pc, {"globalDefault"}), AgeCell(pc, now),
                     Str(pc, {"preemptionPolicy"})};
}

// ---- HorizontalPodAutoscaler (autoscaling/v2 metrics, or v1's CPU percentage) -----------

std::vector<TableColumn> HpaColumns() {
  return {Col("Reference", "string", "The scaled object, as kind/name."),
          Col("Targets", "string", "Current and target values of the metrics (first two)."),
          Col("MinPods", "string", "The lower limit of replicas."),
          Col("MaxPods", "string", "The upper limit of replicas."),
          Col("Replicas", "string", "The current number of replicas."),
          AgeColumn()};
}

std::string Percent(const json::object& obj, std::initializer_list<std::string_view> path,
                    std::string_view fallback) {
  return Has(obj, path) ? std::to_string(Int(obj, path)) + "%" : std::string(fallback);
}

// One "current/target" entry of a v2 metric spec and its status.
std::string HpaMetric(const json::object& spec, const json::object& status) {
  std::string type = Str(spec, {"type"});
  auto value = [](const json::object& o, std::initializer_list<std::string_view> path) {
    const json::value* v = At(o, path);
    if (v == nullptr || v->is_null()) return std::string("<unknown>");
    if (v->is_string()) return AsStr(*v);
    return json::serialize(*v);
  };
  auto value_pair = [&](std::string_view source) {
    std::string current = "<unknown>";
    if (Has(spec, {source, "target", "averageValue"})) {
      if (Has(status, {source})) current = value(status, {source, "current", "averageValue"});
      return current + "/" + value(spec, {source, "target", "averageValue"}) + " (avg)";
    }
    if (Has(status, {source})) current = value(status, {source, "current", "value"});
    return current + "/" + value(spec, {source, "target", "value"});
  };
  if (type == "External" || type == "Object")
    return value_pair(type == "External" ? "external" : "object");
  if (type == "Pods") {
    std::string current =
        Has(status, {"pods"}) ? value(status, {"pods", "current", "averageValue"}) : "<unknown>";
    return current + "/" + value(spec, {"pods", "target", "averageValue"});
  }
  if (type == "Resource" || type == "ContainerResource") {
    std::string source = type == "Resource" ? "resource" : "containerResource";
    std::string name = Str(spec, {source, "name"});
    if (Has(spec, {source, "target", "averageValue"})) {
      std::string current =
          Has(status, {source}) ? value(status, {source, "current", "averageValue"}) : "<unknown>";
      return name + ": " + current + "/" + value(spec, {source, "target", "averageValue"});
    }
    return name + ": " + Percent(status, {source, "current", "averageUtilization"}, "<unknown>") +
           "/" + Percent(spec, {source, "target", "averageUtilization"}, "<auto>");
  }
  return "<unknown type>";
}

json::array HpaCells(const json::object& hpa, int64_t now) {
  std::string targets;
  if (Has(hpa, {"spec", "targetCPUUtilizationPercentage"})) {  // autoscaling/v1
    targets = "cpu: " + Percent(hpa, {"status", "currentCPUUtilizationPercentage"}, "<unknown>") +
              "/" + Percent(hpa, {"spec", "targetCPUUtilizationPercentage"}, "<auto>");
  } else {
    const json::array& specs = Arr(hpa, {"spec", "metrics"});
    const json::array& statuses = Arr(hpa, {"status", "currentMetrics"});
    constexpr size_t kMax = 2;
    std::vector<std::string> list;
    for (size_t i = 0; i < specs.size() && i < kMax; ++i) {
      static const json::object kNone;
      list.push_back(HpaMetric(AsObj(specs[i]), i < statuses.size() ? AsObj(statuses[i]) : kNone));
    }
    targets = specs.empty() ? "<none>" : Join(list, ", ");
    if (specs.size() > kMax) targets += " + " + std::to_string(specs.size() - kMax) + " more...";
  }
  std::string min = Has(hpa, {"spec", "minReplicas"})
                        ? std::to_string(Int(hpa, {"spec", "minReplicas"}))
                        : "<unset>";
  return json::array{Str(hpa, {"spec", "scaleTargetRef", "kind"}) + "/" +
                         Str(hpa, {"spec", "scaleTargetRef", "name"}),
                     targets,
                     min,
                     Int(hpa, {"spec", "maxReplicas"}),
                     Int(hpa, {"status", "currentReplicas"}),
                     AgeCell(hpa, now)};
}

std::vector<TableColumn> RoleColumns() {
  return {Col("Created At", "date", "When the object was created.")};
}

json::array RoleCells(const json::object& role, int64_t now) {
  return json::array{Str(role, {"metadata", "creationTimestamp"})};
}

std::vector<TableColumn> RoleBindingColumns() {
  return {Col("Role", "string", "The role the binding grants, as kind/name."), AgeColumn(),
          Col("Users", "string", "Users the binding applies to.", 1),
          Col("Groups", "string", "Groups the binding applies to.", 1),
          Col("ServiceAccounts", "string", "Service accounts the binding applies to.", 1)};
}

json::array RoleBindingCells(const json::object& rb, int64_t now) {
  std::vector<std::string> users, groups, sas;
  for (const json::value& s : Arr(rb, {"subjects"})) {
    const json::object& subj = AsObj(s);
    std::string kind = Str(subj, {"kind"});
    if (kind == "User") users.push_back(Str(subj, {"name"}));
    if (kind == "Group") groups.push_back(Str(subj, {"name"}));
    if (kind == "ServiceAccount") {
      sas.push_back(Str(subj, {"namespace"}) + ":" + Str(subj, {"name"}));
    }
  }
  return json::array{Str(rb, {"roleRef", "kind"}) + "/" + Str(rb, {"roleRef", "name"}),
                     AgeCell(rb, now), Join(users, ", "), Join(groups, ", "), Join(sas, ", ")};
}

std::vector<TableColumn> EndpointSliceColumns() {
  return {Col("AddressType", "string", "The type of the addresses in the slice."),
          Col("Ports", "string", "The ports of the slice."),
          Col("Endpoints", "string", "The addresses of the slice's endpoints (first three)."),
          AgeColumn()};
}

// Up to three entries, then "+ N more...", or "<unset>" if none (as Kubernetes prints them).
std::string FirstThree(const std::vector<std::string>& items) {
  if (items.empty()) return "<unset>";
  constexpr size_t kMax = 3;
  if (items.size() <= kMax) return Join(items, ",");
  std::vector<std::string> head(items.begin(), items.begin() + kMax);
  return Join(head, ",") + " + " + std::to_string(items.size() - kMax) + " more...";
}

json::array EndpointSliceCells(const json::object& es, int64_t now) {
  std::vector<std::string> ports, addrs;
  for (const json::value& p : Arr(es, {"ports"})) {
    const json::object& port = AsObj(p);
    if (Has(port, {"port"})) {
      ports.push_back(std::to_string(Int(port, {"port"})));
    } else {
      ports.push_back(Has(port, {"name"}) ? Str(port, {"name"}) : "*");
    }
  }
  for (const json::value& e : Arr(es, {"endpoints"})) {
    for (const json::value& a : Arr(AsObj(e), {"addresses"})) addrs.push_back(AsStr(a));
  }
  return json::array{Str(es, {"addressType"}), FirstThree(ports), FirstThree(addrs),
                     AgeCell(es, now)};
}

}  // namespace

const std::vector<Printer>& OtherPrinters() {
  static const std::vector<Printer> printers = {
      {"coordination.k8s.io", "Lease", LeaseColumns, LeaseCells},
      {"storage.k8s.io", "StorageClass", StorageClassColumns, StorageClassCells, StorageClassName},
      {"networking.k8s.io", "Ingress", IngressColumns, IngressCells},
      {"networking.k8s.io", "IngressClass", IngressClassColumns, IngressClassCells},
      {"networking.k8s.io", "NetworkPolicy", NetworkPolicyColumns, NetworkPolicyCells},
      {"policy", "PodDisruptionBudget", PdbColumns, PdbCells},
      {"autoscaling", "HorizontalPodAutoscaler", HpaColumns, HpaCells},
      {"scheduling.k8s.io", "PriorityClass", PriorityClassColumns, PriorityClassCells},
      {"rbac.authorization.k8s.io", "Role", RoleColumns, RoleCells},
      {"rbac.authorization.k8s.io", "ClusterRole", RoleColumns, RoleCells},
      {"rbac.authorization.k8s.io", "RoleBinding", RoleBindingColumns, RoleBindingCells},
      {"rbac.authorization.k8s.io", "ClusterRoleBinding", RoleBindingColumns, RoleBindingCells},
      {"discovery.k8s.io", "EndpointSlice", EndpointSliceColumns, EndpointSliceCells},
  };
  return printers;
}

}  // namespace sampan::api::printers_internal
