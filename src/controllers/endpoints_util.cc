#include "controllers/endpoints_util.h"

#include <arpa/inet.h>

#include <algorithm>

#include "controllers/util.h"
#include "util/clock.h"

namespace sampan::controllers::endpoints {
namespace json = boost::json;
using client::MetaObject;
using client::MetaString;

namespace {

int64_t ParseNanos(const std::string& text) {
  int64_t sec = 0;
  int32_t nanos = 0;
  if (text.empty() || !ParseRfc3339(text, &sec, &nanos)) return 0;
  return sec * 1000000000 + nanos;
}

int64_t ReadyTransitionNanos(const json::object& pod) {
  const json::array* conds = Arr(Obj(&pod, "status"), "conditions");
  if (!conds) return 0;
  for (const auto& c : *conds) {
    if (c.is_object() && Str(&c.as_object(), "type") == "Ready")
      return ParseNanos(Str(&c.as_object(), "lastTransitionTime"));
  }
  return 0;
}

bool IsTerminal(const json::object& pod) {
  std::string phase = Str(Obj(&pod, "status"), "phase");
  return phase == "Succeeded" || phase == "Failed";
}

// Fields of a container port list entry.
std::optional<int64_t> NamedPort(const json::array* containers, const std::string& name,
                                 const std::string& protocol, bool restartable_only) {
  if (!containers) return std::nullopt;
  for (const auto& cv : *containers) {
    if (!cv.is_object()) continue;
    const json::object& c = cv.as_object();
    if (restartable_only && Str(&c, "restartPolicy") != "Always") continue;
    const json::array* ports = Arr(&c, "ports");
    if (!ports) continue;
    for (const auto& pv : *ports) {
      if (!pv.is_object()) continue;
      const json::object& p = pv.as_object();
      std::string proto = Str(&p, "protocol");
      if (proto.empty()) proto = "TCP";
      if (Str(&p, "name") == name && proto == protocol) return Int(&p, "containerPort");
    }
  }
  return std::nullopt;
}

bool SameLabels(const json::object* a, const json::object* b) {
  static const json::object kEmpty;
  return (a ? *a : kEmpty) == (b ? *b : kEmpty);
}

}  // namespace

bool ManagesService(const json::object& svc) {
  const json::object* spec = Obj(&svc, "spec");
  if (Str(spec, "type") == "ExternalName") return false;
  const json::object* sel = Obj(spec, "selector");
  return sel && !sel->empty();
}

bool SelectorMatches(const json::object& selector, const json::object* labels) {
  for (const auto& [k, v] : selector) {
    const json::value* have = labels ? labels->if_contains(k) : nullptr;
    if (!have || *have != v) return false;
  }
  return true;
}

bool IsServiceIpSet(const json::object& svc) {
  std::string ip = Str(Obj(&svc, "spec"), "clusterIP");
  return !ip.empty() && ip != "None";
}

std::vector<std::string> PodIps(const json::object& pod) {
  const json::object* status = Obj(&pod, "status");
  std::string pod_ip = Str(status, "podIP");
  std::vector<std::string> ips;
  if (const json::array* list = Arr(status, "podIPs")) {
    for (const auto& e : *list)
      if (e.is_object()) ips.push_back(Str(&e.as_object(), "ip"));
  }
  if (!pod_ip.empty() && (ips.empty() || ips[0] != pod_ip)) return {pod_ip};
  return ips;
}

std::string NormalizeIp(const std::string& ip, bool* v6) {
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, ip.c_str(), buf) == 1) {
    *v6 = false;
    return inet_ntop(AF_INET, buf, out, sizeof out) ? out : "";
  }
  if (inet_pton(AF_INET6, ip.c_str(), buf) == 1) {
    *v6 = true;
    return inet_ntop(AF_INET6, buf, out, sizeof out) ? out : "";
  }
  *v6 = false;
  return "";
}

bool ShouldPodBeInEndpoints(const json::object& pod, bool include_terminating) {
  if (IsTerminal(pod)) return false;
  const json::object* status = Obj(&pod, "status");
  const json::array* ips = Arr(status, "podIPs");
  if (Str(status, "podIP").empty() && (!ips || ips->empty())) return false;
  if (!include_terminating && IsDeleting(pod)) return false;
  return true;
}

bool ShouldSetHostname(const json::object& pod, const json::object& svc) {
  const json::object* spec = Obj(&pod, "spec");
  std::string hostname = Str(spec, "hostname");
  return !hostname.empty() && Str(spec, "subdomain") == MetaString(svc, "name") &&
         MetaString(svc, "namespace") == MetaString(pod, "namespace");
}

std::optional<int64_t> FindPort(const json::object& pod, const json::object& service_port) {
  std::string protocol = Str(&service_port, "protocol");
  if (protocol.empty()) protocol = "TCP";
  const json::value* target = service_port.if_contains("targetPort");
  if (target && target->is_string()) {
    std::string name(target->as_string());
    if (name.empty()) return Int(&service_port, "port");
    const json::object* spec = Obj(&pod, "spec");
    if (auto p = NamedPort(Arr(spec, "containers"), name, protocol, false)) return p;
    return NamedPort(Arr(spec, "initContainers"), name, protocol, true);
  }
  int64_t n = Int(&service_port, "targetPort");
  // Defaulting sets targetPort to port; an object written before that reads the same.
  return n != 0 ? n : Int(&service_port, "port");
}

json::object PodTargetRef(const json::object& pod) {
  return json::object{{"kind", "Pod"},
                      {"namespace", MetaString(pod, "namespace")},
                      {"name", MetaString(pod, "name")},
                      {"uid", MetaString(pod, "uid")}};
}

std::set<std::string> ServicesSelecting(const client::Informer& services, const std::string& ns,
                                        const json::object* labels) {
  std::set<std::string> out;
  for (const client::ObjectPtr& svc : services.ByIndex("namespace", ns)) {
    // A Service without a selector selects nothing (not everything).
    const json::object* sel = Obj(Obj(svc.get(), "spec"), "selector");
    if (!sel || sel->empty()) continue;
    if (SelectorMatches(*sel, labels)) out.insert(client::KeyOf(*svc));
  }
  return out;
}

std::set<std::string> ServicesForPodUpdate(const client::Informer& services,
                                           const json::object& old_pod,
                                           const json::object& new_pod) {
  // A resync replays the same version; the Service informer's resync covers those.
  if (MetaString(old_pod, "resourceVersion") == MetaString(new_pod, "resourceVersion")) return {};
  const json::object* old_labels = MetaObject(old_pod, "labels");
  const json::object* new_labels = MetaObject(new_pod, "labels");
  const json::object* old_spec = Obj(&old_pod, "spec");
  const json::object* new_spec = Obj(&new_pod, "spec");
  bool labels_changed = !SameLabels(old_labels, new_labels) ||
                        Str(old_spec, "hostname") != Str(new_spec, "hostname") ||
                        Str(old_spec, "subdomain") != Str(new_spec, "subdomain");
  // What an endpoint shows of the pod. Kubernetes looks at the deletion timestamp, readiness
  // and IPs; the terminal phase and the node are checked too (a pod that fails while already
  // unready would otherwise linger until its next change).
  bool pod_changed =
      MetaString(old_pod, "deletionTimestamp") != MetaString(new_pod, "deletionTimestamp") ||
      IsPodReady(old_pod) != IsPodReady(new_pod) || PodIps(old_pod) != PodIps(new_pod) ||
      IsTerminal(old_pod) != IsTerminal(new_pod) ||
      Str(old_spec, "nodeName") != Str(new_spec, "nodeName");
  if (!labels_changed && !pod_changed) return {};
  std::string ns = MetaString(new_pod, "namespace");
  std::set<std::string> now = ServicesSelecting(services, ns, new_labels);
  if (!labels_changed) return now;
  std::set<std::string> before = ServicesSelecting(services, ns, old_labels);
  std::set<std::string> out;
  if (pod_changed) {
    std::set_union(now.begin(), now.end(), before.begin(), before.end(),
                   std::inserter(out, out.end()));
  } else {
    std::set_symmetric_difference(now.begin(), now.end(), before.begin(), before.end(),
                                  std::inserter(out, out.end()));
  }
  return out;
}

std::vector<std::string> NamespaceIndex(const json::object& obj) {
  return {MetaString(obj, "namespace")};
}

std::string FormatRfc3339Nano(int64_t unix_nanos) {
  int64_t sec = unix_nanos / 1000000000;
  int64_t frac = unix_nanos % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    --sec;
  }
  std::string base = FormatRfc3339(sec);  // "...Z"
  if (frac == 0) return base;
  std::string digits = std::to_string(frac);
  digits.insert(0, 9 - digits.size(), '0');
  while (!digits.empty() && digits.back() == '0') digits.pop_back();
  base.insert(base.size() - 1, "." + digits);
  return base;
}

std::string TriggerTimeTracker::Compute(const json::object& svc,
                                        const std::vector<client::ObjectPtr>& pods) {
  const std::string key = client::KeyOf(svc);
  State prev;
  bool known = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = states_.find(key);
    if (it != states_.end()) {
      prev = it->second;
      known = true;
    }
  }
  int64_t min_changed = 0;
  auto consider = [&](int64_t t) {
    if (min_changed == 0 || t < min_changed) min_changed = t;
  };
  State next;
  for (const client::ObjectPtr& pod : pods) {
    int64_t t = ReadyTransitionNanos(*pod);
    if (t == 0) continue;
    std::string name = MetaString(*pod, "name");
    next.pod_times[name] = t;
    auto it = prev.pod_times.find(name);
    if (it == prev.pod_times.end() || t > it->second) consider(t);
  }
  next.service_time = ParseNanos(MetaString(svc, "creationTimestamp"));
  if (next.service_time > prev.service_time) consider(next.service_time);
  {
    std::lock_guard<std::mutex> lock(mu_);
    states_[key] = std::move(next);
  }
  int64_t result = known ? min_changed : ParseNanos(MetaString(svc, "creationTimestamp"));
  return result == 0 ? "" : FormatRfc3339Nano(result);
}

void TriggerTimeTracker::Forget(const std::string& service_key) {
  std::lock_guard<std::mutex> lock(mu_);
  states_.erase(service_key);
}

}  // namespace sampan::controllers::endpoints
