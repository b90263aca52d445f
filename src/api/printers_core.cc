// Table printers of the core group's non-workload kinds: pods, nodes, namespaces,
// services, endpoints, config maps, secrets, service accounts, events, volumes, quotas,
// limit ranges and pod templates.
#include <algorithm>
#include <set>

#include "api/json_util.h"
#include "api/printers_internal.h"

namespace sampan::api::printers_internal {
namespace {

// ---- Pod ------------------------------------------------------------------------------

std::vector<TableColumn> PodColumns() {
  return {
      Col("Ready", "string", "Ready containers out of all containers of the pod."),
      Col("Status", "string", "The aggregate status of the pod's containers."),
      Col("Restarts", "string",
          "Container restarts in the pod, and how long ago the last one restarted."),
      AgeColumn(),
      Col("IP", "string", "The IP address assigned to the pod.", 1),
      Col("Node", "string", "The node the pod is bound to.", 1),
      Col("Nominated Node", "string", "The node preemption nominated for the pod.", 1),
      Col("Readiness Gates", "string", "Readiness gates that are true, out of all.", 1),
  };
}

// The latest finishedAt of a container status's last termination, if any.
void TrackLastTermination(const json::object& status, std::optional<int64_t>* latest) {
  const json::value* fin = At(status, {"lastState", "terminated", "finishedAt"});
  if (fin == nullptr) return;
  Result<int64_t> t = ParseRfc3339(AsStr(*fin));
  if (t.ok() && (!*latest || **latest < *t)) *latest = *t;
}

std::string TerminatedReason(const json::object& terminated, std::string_view prefix) {
  std::string reason = Str(terminated, {"reason"});
  if (!reason.empty()) return std::string(prefix) + reason;
  int64_t signal = Int(terminated, {"signal"});
  if (signal != 0) return std::string(prefix) + "Signal:" + std::to_string(signal);
  return std::string(prefix) + "ExitCode:" + std::to_string(Int(terminated, {"exitCode"}));
}

json::array PodCells(const json::object& pod, int64_t now) {
  const json::array& init_specs = Arr(pod, {"spec", "initContainers"});
  const json::array& conditions = Arr(pod, {"status", "conditions"});
  std::set<std::string> restartable_init;  // sidecars: init containers with restartPolicy Always
  for (const json::value& c : init_specs) {
    if (Str(AsObj(c), {"restartPolicy"}) == "Always") {
      restartable_init.insert(Str(AsObj(c), {"name"}));
    }
  }
  int64_t total =
      static_cast<int64_t>(Arr(pod, {"spec", "containers"}).size() + restartable_init.size());
  int64_t ready = 0;
  int64_t restarts = 0, sidecar_restarts = 0;
  std::optional<int64_t> last_restart, last_sidecar_restart;

  std::string phase = Str(pod, {"status", "phase"});
  std::string reason = phase;
  if (std::string r = Str(pod, {"status", "reason"}); !r.empty()) reason = r;
  for (const json::value& c : conditions) {
    const json::object& cond = AsObj(c);
    if (Str(cond, {"type"}) == "PodScheduled" && Str(cond, {"reason"}) == "SchedulingGated") {
      reason = "SchedulingGated";
    }
  }

  bool initializing = false;
  const json::array& init_statuses = Arr(pod, {"status", "initContainerStatuses"});
  for (size_t i = 0; i < init_statuses.size(); ++i) {
    const json::object& cs = AsObj(init_statuses[i]);
    bool sidecar = restartable_init.count(Str(cs, {"name"})) > 0;
    restarts += Int(cs, {"restartCount"});
    TrackLastTermination(cs, &last_restart);
    if (sidecar) {
      sidecar_restarts += Int(cs, {"restartCount"});
      TrackLastTermination(cs, &last_sidecar_restart);
    }
    const json::value* terminated = At(cs, {"state", "terminated"});
    bool is_terminated = terminated != nullptr && terminated->is_object();
    std::string waiting_reason = Str(cs, {"state", "waiting", "reason"});
    if (is_terminated && Int(cs, {"state", "terminated", "exitCode"}) == 0) continue;
    if (sidecar && Bool(cs, {"started"})) {
      if (Bool(cs, {"ready"})) ++ready;
      continue;
    }
    if (is_terminated) {
      reason = TerminatedReason(terminated->get_object(), "Init:");
    } else if (!waiting_reason.empty() && waiting_reason != "PodInitializing") {
      reason = "Init:" + waiting_reason;
    } else {
      reason = "Init:" + std::to_string(i) + "/" + std::to_string(init_specs.size());
    }
    initializing = true;
    break;
  }

  if (!initializing || HasTrueCondition(conditions, "Initialized")) {
    restarts = sidecar_restarts;
    last_restart = last_sidecar_restart;
    bool has_running = false;
    const json::array& statuses = Arr(pod, {"status", "containerStatuses"});
    for (size_t i = statuses.size(); i-- > 0;) {
      const json::object& cs = AsObj(statuses[i]);
      restarts += Int(cs, {"restartCount"});
      TrackLastTermination(cs, &last_restart);
      const json::value* terminated = At(cs, {"state", "terminated"});
      bool is_terminated = terminated != nullptr && terminated->is_object();
      std::string waiting_reason = Str(cs, {"state", "waiting", "reason"});
      if (!waiting_reason.empty()) {
        reason = waiting_reason;
      } else if (is_terminated) {
        reason = TerminatedReason(terminated->get_object(), "");
      } else if (Bool(cs, {"ready"}) && Has(cs, {"state", "running"})) {
        has_running = true;
        ++ready;
      }
    }
    // A pod whose container still runs after another completed is not "Completed".
    if (reason == "Completed" && has_running) {
      reason = HasTrueCondition(conditions, "Ready") ? "Running" : "NotReady";
    }
  }

  if (Has(pod, {"metadata", "deletionTimestamp"})) {
    if (Str(pod, {"status", "reason"}) == "NodeLost") {
      reason = "Unknown";
    } else if (phase != "Succeeded" && phase != "Failed") {
      reason = "Terminating";
    }
  }

  std::string restarts_cell = std::to_string(restarts);
  if (restarts != 0 && last_restart) {
    restarts_cell += " (" + HumanDuration(now - *last_restart) + " ago)";
  }

  std::string ip;
  const json::array& pod_ips = Arr(pod, {"status", "podIPs"});
  if (!pod_ips.empty()) ip = Str(AsObj(pod_ips[0]), {"ip"});
  if (ip.empty()) ip = Str(pod, {"status", "podIP"});
  std::string node = Str(pod, {"spec", "nodeName"});
  std::string nominated = Str(pod, {"status", "nominatedNodeName"});
  std::string gates = "<none>";
  const json::array& gate_specs = Arr(pod, {"spec", "readinessGates"});
  if (!gate_specs.empty()) {
    int true_count = 0;
    for (const json::value& g : gate_specs) {
      std::string type = Str(AsObj(g), {"conditionType"});
      for (const json::value& c : conditions) {
        if (Str(AsObj(c), {"type"}) != type) continue;
        if (Str(AsObj(c), {"status"}) == "True") ++true_count;
        break;
      }
    }
    gates = std::to_string(true_count) + "/" + std::to_string(gate_specs.size());
  }
  auto none = [](std::string s) { return s.empty() ? std::string("<none>") : s; };
  return json::array{std::to_string(ready) + "/" + std::to_string(total),
                     reason,
                     restarts_cell,
                     AgeCell(pod, now),
                     none(ip),
                     none(node),
                     none(nominated),
                     gates};
}

// ---- Namespace, Node -------------------------------------------------------------------

std::vector<TableColumn> NamespaceColumns() {
  return {Col("Status", "string", "The lifecycle phase of the namespace."), AgeColumn()};
}

json::array NamespaceCells(const json::object& ns, int64_t now) {
  return json::array{Str(ns, {"status", "phase"}), AgeCell(ns, now)};
}

std::vector<TableColumn> NodeColumns() {
  return {
      Col("Status", "string", "The status of the node."),
      Col("Roles", "string", "The roles of the node."),
      AgeColumn(),
      Col("Version", "string", "The kubelet version the node reports."),
      Col("Internal-IP", "string", "The node's internal address.", 1),
      Col("External-IP", "string", "The node's external address.", 1),
      Col("OS-Image", "string", "The operating system image the node reports.", 1),
      Col("Kernel-Version", "string", "The kernel version the node reports.", 1),
      Col("Container-Runtime", "string", "The container runtime and version the node reports.", 1),
  };
}

json::array NodeCells(const json::object& node, int64_t now) {
  std::vector<std::string> status;
  for (const json::value& c : Arr(node, {"status", "conditions"})) {
    const json::object& cond = AsObj(c);
    if (Str(cond, {"type"}) != "Ready") continue;
    status.push_back(Str(cond, {"status"}) == "True" ? "Ready" : "NotReady");
    break;
  }
  if (status.empty()) status.push_back("Unknown");
  if (Bool(node, {"spec", "unschedulable"})) status.push_back("SchedulingDisabled");

  std::set<std::string> roles;
  constexpr std::string_view kRolePrefix = "node-role.kubernetes.io/";
  for (const auto& kv : Obj(node, {"metadata", "labels"})) {
    std::string_view key = kv.key();
    if (key.substr(0, kRolePrefix.size()) == kRolePrefix) {
      if (key.size() > kRolePrefix.size())
        roles.insert(std::string(key.substr(kRolePrefix.size())));
    } else if (key == "kubernetes.io/role") {
      std::string v = AsStr(kv.value());
      if (!v.empty()) roles.insert(v);
    }
  }
  std::string role_cell = Join(std::vector<std::string>(roles.begin(), roles.end()), ",");
  if (role_cell.empty()) role_cell = "<none>";

  auto address = [&](std::string_view type) {
    for (const json::value& a : Arr(node, {"status", "addresses"})) {
      if (Str(AsObj(a), {"type"}) == type) return Str(AsObj(a), {"address"});
    }
    return std::string("<none>");
  };
  auto info = [&](std::string_view key) {
    std::string v = Str(node, {"status", "nodeInfo", key});
    return v.empty() ? std::string("<unknown>") : v;
  };
  return json::array{Join(status, ","),
                     role_cell,
                     AgeCell(node, now),
                     Str(node, {"status", "nodeInfo", "kubeletVersion"}),
                     address("InternalIP"),
                     address("ExternalIP"),
                     info("osImage"),
                     info("kernelVersion"),
                     info("containerRuntimeVersion")};
}

// ---- Service, Endpoints ---------------------------------------------------------------

std::vector<TableColumn> ServiceColumns() {
  return {
      Col("Type", "string", "How the service is exposed."),
      Col("Cluster-IP", "string", "The service's virtual IP inside the cluster."),
      Col("External-IP", "string", "Addresses outside the cluster that reach the service."),
      Col("Port(s)", "string", "The service's ports, with node ports, and protocols."),
      AgeColumn(),
      Col("Selector", "string", "The labels of the pods the service routes to.", 1),
  };
}

std::string LoadBalancerIngress(const json::object& svc) {
  std::vector<std::string> parts;
  for (const json::value& i : Arr(svc, {"status", "loadBalancer", "ingress"})) {
    std::string ip = Str(AsObj(i), {"ip"});
    std::string host = Str(AsObj(i), {"hostname"});
    if (!ip.empty())
      parts.push_back(ip);
    else if (!host.empty())
      parts.push_back(host);
  }
  return Join(parts, ",");  // the server prints the wide (untruncated) form
}

std::string ServiceExternalIp(const json::object& svc) {
  std::string type = Str(svc, {"spec", "type"});
  std::vector<std::string> external;
  for (const json::value& v : Arr(svc, {"spec", "externalIPs"})) external.push_back(AsStr(v));
  if (type == "ClusterIP" || type == "NodePort" || type.empty()) {
    if (type.empty()) return "<unknown>";
    return external.empty() ? "<none>" : Join(external, ",");
  }
  if (type == "LoadBalancer") {
    std::string lb = LoadBalancerIngress(svc);
    if (!external.empty()) {
      return lb.empty() ? Join(external, ",") : lb + "," + Join(external, ",");
    }
    return lb.empty() ? "<pending>" : lb;
  }
  if (type == "ExternalName") return Str(svc, {"spec", "externalName"});
  return "<unknown>";
}

json::array ServiceCells(const json::object& svc, int64_t now) {
  std::string cluster_ip = "<none>";
  const json::array& ips = Arr(svc, {"spec", "clusterIPs"});
  if (!ips.empty()) {
    cluster_ip = AsStr(ips[0]);
  } else if (std::string ip = Str(svc, {"spec", "clusterIP"}); !ip.empty()) {
    cluster_ip = ip;
  }
  std::vector<std::string> ports;
  for (const json::value& p : Arr(svc, {"spec", "ports"})) {
    const json::object& port = AsObj(p);
    std::string proto = Str(port, {"protocol"});
    if (proto.empty()) proto = "TCP";
    std::string text = std::to_string(Int(port, {"port"}));
    if (int64_t node_port = Int(port, {"nodePort"}); node_port > 0) {
      text += ":" + std::to_string(node_port);
    }
    ports.push_back(text + "/" + proto);
  }
  std::string port_cell = ports.empty() ? "<none>" : Join(ports, ",");
  return json::array{Str(svc, {"spec", "type"}), cluster_ip,
                     ServiceExternalIp(svc),     port_cell,
                     AgeCell(svc, now),          FormatLabelMap(Obj(svc, {"spec", "selector"}))};
}

std::vector<TableColumn> EndpointsColumns() {
  return {Col("Endpoints", "string", "Addresses of the endpoints, with ports (first three)."),
          AgeColumn()};
}

std::string HostPort(const std::string& ip, int64_t port) {
  if (ip.find(':') != std::string::npos) return "[" + ip + "]:" + std::to_string(port);
  return ip + ":" + std::to_string(port);
}

json::array EndpointsCells(const json::object& ep, int64_t now) {
  const json::array& subsets = Arr(ep, {"subsets"});
  if (subsets.empty()) return json::array{"<none>", AgeCell(ep, now)};
  constexpr size_t kMax = 3;
  std::vector<std::string> list;
  bool more = false;
  size_t count = 0;
  for (const json::value& s : subsets) {
    const json::object& subset = AsObj(s);
    const json::array& addrs = Arr(subset, {"addresses"});
    const json::array& ports = Arr(subset, {"ports"});
    if (ports.empty()) {  // headless services may have no ports
      count += addrs.size();
      for (const json::value& a : addrs) {
        if (list.size() == kMax) {
          more = true;
          break;
        }
        list.push_back(Str(AsObj(a), {"ip"}));
      }
      continue;
    }
    for (const json::value& p : ports) {
      count += addrs.size();
      for (const json::value& a : addrs) {
        if (list.size() == kMax) {
          more = true;
          break;
        }
        list.push_back(HostPort(Str(AsObj(a), {"ip"}), Int(AsObj(p), {"port"})));
      }
    }
  }
  std::string cell = Join(list, ",");
  if (more) cell += " + " + std::to_string(count - kMax) + " more...";
  return json::array{cell, AgeCell(ep, now)};
}

// ---- ConfigMap, Secret, ServiceAccount --------------------------------------------------

std::vector<TableColumn> ConfigMapColumns() {
  return {Col("Data", "string", "The number of keys in data and binaryData."), AgeColumn()};
}

json::array ConfigMapCells(const json::object& cm, int64_t now) {
  int64_t n = static_cast<int64_t>(Obj(cm, {"data"}).size() + Obj(cm, {"binaryData"}).size());
  return json::array{n, AgeCell(cm, now)};
}

std::vector<TableColumn> SecretColumns() {
  return {Col("Type", "string", "The secret's type."),
          Col("Data", "string", "The number of keys in data."), AgeColumn()};
}

json::array SecretCells(const json::object& secret, int64_t now) {
  const json::object& data = Obj(secret, {"data"});
  int64_t n = static_cast<int64_t>(data.size());
  for (const auto& kv : Obj(secret, {"stringData"})) {
    if (!data.contains(kv.key())) ++n;  // stringData is folded into data on write
  }
  std::string type = Str(secret, {"type"});
  if (type.empty()) type = "Opaque";
  return json::array{type, n, AgeCell(secret, now)};
}

std::vector<TableColumn> ServiceAccountColumns() {
  return {Col("Secrets", "string", "The number of secrets listed in the service account."),
          AgeColumn()};
}

json::array ServiceAccountCells(const json::object& sa, int64_t now) {
  return json::array{static_cast<int64_t>(Arr(sa, {"secrets"}).size()), AgeCell(sa, now)};
}

// ---- Event (core/v1 and events.k8s.io/v1 share one table) --------------------------------

std::vector<TableColumn> EventColumns() {
  return {
      Col("Last Seen", "string", "Time since the event was last seen."),
      Col("Type", "string", "Normal or Warning."),
      Col("Reason", "string", "A short machine-readable cause of the event."),
      Col("Object", "string", "The object the event is about, as kind/name."),
      Col("Subobject", "string", "The part of the object the event is about (fieldPath).", 1),
      Col("Source", "string", "The component (and host) that reported the event.", 1),
      Col("Message", "string", "A human-readable description of the event."),
      Col("First Seen", "string", "Time since the event was first seen.", 1),
      Col("Count", "string", "How many times the event occurred.", 1),
      TableColumn{"Name", "string", "name", "The event's name.", 1},
  };
}

std::string Lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string TrimSpace(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

json::array EventCells(const json::object& ev, int64_t now) {
  // events.k8s.io/v1 names: regarding, note, deprecated*, reportingController.
  bool v1_events = Has(ev, {"regarding"}) || Has(ev, {"note"}) ||
                   Has(ev, {"deprecatedFirstTimestamp"}) || Has(ev, {"deprecatedSource"});
  const json::object& involved = Obj(ev, {v1_events ? "regarding" : "involvedObject"});
  std::string first_ts = Str(ev, {v1_events ? "deprecatedFirstTimestamp" : "firstTimestamp"});
  std::string last_ts = Str(ev, {v1_events ? "deprecatedLastTimestamp" : "lastTimestamp"});
  std::string first =
      first_ts.empty() ? TimestampAge(Str(ev, {"eventTime"}), now) : TimestampAge(first_ts, now);
  std::string last = last_ts.empty() ? first : TimestampAge(last_ts, now);
  int64_t count = Int(ev, {v1_events ? "deprecatedCount" : "count"});
  if (Has(ev, {"series"})) {
    last = TimestampAge(Str(ev, {"series", "lastObservedTime"}), now);
    count = Int(ev, {"series", "count"});
  } else if (count == 0) {
    count = 1;  // singleton events carry no count
  }
  std::string name = Str(involved, {"name"});
  std::string kind = Lowercase(Str(involved, {"kind"}));
  std::string target = name.empty() ? kind : kind + "/" + name;
  const json::object& source = Obj(ev, {v1_events ? "deprecatedSource" : "source"});
  std::string component = Str(source, {"component"});
  if (component.empty()) {
    component = Str(ev, {v1_events ? "reportingController" : "reportingComponent"});
  }
  std::string host = Str(source, {"host"});
  if (host.empty()) host = Str(ev, {"reportingInstance"});
  std::string source_cell = host.empty() ? component : component + ", " + host;
  std::string message = TrimSpace(Str(ev, {v1_events ? "note" : "message"}));
  return json::array{last,
                     Str(ev, {"type"}),
                     Str(ev, {"reason"}),
                     target,
                     Str(involved, {"fieldPath"}),
                     source_cell,
                     message,
                     first,
                     count,
                     Str(ev, {"metadata", "name"})};
}

// ---- PersistentVolume, PersistentVolumeClaim --------------------------------------------

std::vector<TableColumn> PvColumns() {
  return {
      Col("Capacity", "string", "The volume's storage capacity."),
      Col("Access Modes", "string", "How the volume can be mounted."),
      Col("Reclaim Policy", "string", "What happens to the volume when its claim is released."),
      Col("Status", "string", "The volume's phase."),
      Col("Claim", "string", "The claim bound to the volume, as namespace/name."),
      Col("StorageClass", "string", "The storage class of the volume."),
      Col("VolumeAttributesClass", "string", "The volume attributes class of the volume."),
      Col("Reason", "string", "Why the volume is in its phase."),
      AgeColumn(),
      Col("VolumeMode", "string", "Filesystem or Block.", 1),
  };
}

json::array PvCells(const json::object& pv, int64_t now) {
  std::string claim;
  if (Has(pv, {"spec", "claimRef"})) {
    claim =
        Str(pv, {"spec", "claimRef", "namespace"}) + "/" + Str(pv, {"spec", "claimRef", "name"});
  }
  std::string phase = Str(pv, {"status", "phase"});
  if (Has(pv, {"metadata", "deletionTimestamp"})) phase = "Terminating";
  std::string storage_class =
      Str(pv, {"metadata", "annotations", "volume.beta.kubernetes.io/storage-class"});
  if (storage_class.empty()) storage_class = Str(pv, {"spec", "storageClassName"});
  std::string vac = Has(pv, {"spec", "volumeAttributesClassName"})
                        ? Str(pv, {"spec", "volumeAttributesClassName"})
                        : "<unset>";
  std::string mode = Has(pv, {"spec", "volumeMode"}) ? Str(pv, {"spec", "volumeMode"}) : "<unset>";
  std::string capacity = Str(pv, {"spec", "capacity", "storage"});
  if (capacity.empty()) capacity = "0";
  return json::array{capacity,
                     AccessModes(Arr(pv, {"spec", "accessModes"})),
                     Str(pv, {"spec", "persistentVolumeReclaimPolicy"}),
                     phase,
                     claim,
                     storage_class,
                     vac,
                     Str(pv, {"status", "reason"}),
                     AgeCell(pv, now),
                     mode};
}

std::vector<TableColumn> PvcColumns() {
  return {
      Col("Status", "string", "The claim's phase."),
      Col("Volume", "string", "The volume bound to the claim."),
      Col("Capacity", "string", "The bound volume's capacity."),
      Col("Access Modes", "string", "How the bound volume can be mounted."),
      Col("StorageClass", "string", "The storage class the claim asks for."),
      Col("VolumeAttributesClass", "string", "The volume attributes class the claim asks for."),
      AgeColumn(),
      Col("VolumeMode", "string", "Filesystem or Block.", 1),
  };
}

json::array PvcCells(const json::object& pvc, int64_t now) {
  std::string phase = Str(pvc, {"status", "phase"});
  if (Has(pvc, {"metadata", "deletionTimestamp"})) phase = "Terminating";
  std::string volume = Str(pvc, {"spec", "volumeName"});
  std::string capacity, modes;
  if (!volume.empty()) {
    modes = AccessModes(Arr(pvc, {"status", "accessModes"}));
    capacity = Str(pvc, {"status", "capacity", "storage"});
    if (capacity.empty()) capacity = "0";
  }
  std::string storage_class =
      Str(pvc, {"metadata", "annotations", "volume.beta.kubernetes.io/storage-class"});
  if (storage_class.empty()) storage_class = Str(pvc, {"spec", "storageClassName"});
  std::string vac = Str(pvc, {"spec", "volumeAttributesClassName"});
  if (vac.empty()) vac = "<unset>";
  std::string mode =
      Has(pvc, {"spec", "volumeMode"}) ? Str(pvc, {"spec", "volumeMode"}) : "<unset>";
  return json::array{phase, volume, capacity, modes, storage_class, vac, AgeCell(pvc, now), mode};
}

// ---- ResourceQuota, LimitRange, PodTemplate ---------------------------------------------

std::vector<TableColumn> ResourceQuotaColumns() {
  return {AgeColumn(),
          Col("Request", "string", "Used and hard amounts of the quota's non-limit resources."),
          Col("Limit", "string", "Used and hard amounts of the quota's limits.* resources.")};
}

json::array ResourceQuotaCells(const json::object& rq, int64_t now) {
  const json::object& hard = Obj(rq, {"status", "hard"});
  const json::object& used = Obj(rq, {"status", "used"});
  std::set<std::string> names;
  for (const auto& kv : hard) names.insert(std::string(kv.key()));
  std::vector<std::string> requests, limits;
  for (const std::string& name : names) {
    std::string u = Str(used, {name});
    std::string entry = name + ": " + (u.empty() ? "0" : u) + "/" + Str(hard, {name});
    (name.rfind("limits.", 0) == 0 ? limits : requests).push_back(entry);
  }
  return json::array{AgeCell(rq, now), Join(requests, ", "), Join(limits, ", ")};
}

std::vector<TableColumn> CreatedAtColumns() {
  return {Col("Created At", "date", "When the object was created.")};
}

json::array CreatedAtCells(const json::object& obj, int64_t now) {
  return json::array{Str(obj, {"metadata", "creationTimestamp"})};
}

std::vector<TableColumn> PodTemplateColumns() {
  return {Col("Containers", "string", "Names of each container in the template."),
          Col("Images", "string", "Images referenced by each container in the template."),
          Col("Pod Labels", "string", "The labels of the pod template.")};
}

json::array PodTemplateCells(const json::object& pt, int64_t now) {
  std::string names, images;
  ContainerCells(Arr(pt, {"template", "spec", "containers"}), &names, &images);
  return json::array{names, images, FormatLabelMap(Obj(pt, {"template", "metadata", "labels"}))};
}

}  // namespace

const std::vector<Printer>& CorePrinters() {
  static const std::vector<Printer> printers = {
      {"", "Pod", PodColumns, PodCells},
      {"", "Namespace", NamespaceColumns, NamespaceCells},
      {"", "Node", NodeColumns, NodeCells},
      {"", "Service", ServiceColumns, ServiceCells},
      {"", "Endpoints", EndpointsColumns, EndpointsCells},
      {"", "ConfigMap", ConfigMapColumns, ConfigMapCells},
      {"", "Secret", SecretColumns, SecretCells},
      {"", "ServiceAccount", ServiceAccountColumns, ServiceAccountCells},
      {"", "Event", EventColumns, EventCells, nullptr, false},
      {"events.k8s.io", "Event", EventColumns, EventCells, nullptr, false},
      {"", "PersistentVolume", PvColumns, PvCells},
      {"", "PersistentVolumeClaim", PvcColumns, PvcCells},
      {"", "ResourceQuota", ResourceQuotaColumns, ResourceQuotaCells},
      {"", "LimitRange", CreatedAtColumns, CreatedAtCells},
      {"", "PodTemplate", PodTemplateColumns, PodTemplateCells},
  };
  return printers;
}

}  // namespace sampan::api::printers_internal
