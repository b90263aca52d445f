// Pod Security admission (see pod_security.h). The checks follow k8s.io/pod-security-admission's
// policy package (release 1.32): each check's IDs, versions, reasons and detail formats.
#include "apiserver/pod_security.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "apiserver/rest.h"
#include "apiserver/rest_internal.h"
#include "util/go_quote.h"

namespace sampan::apiserver {

namespace json = boost::json;

namespace podsecurity {
namespace {

// The newest policy version this server knows: "latest" and later versions evaluate as this.
constexpr int kMaxMinor = 32;

constexpr std::string_view kLabelPrefix = "pod-security.kubernetes.io/";

// ---- JSON access --------------------------------------------------------------------------------

const json::object* Obj(const json::object* o, std::string_view key) {
  if (!o) return nullptr;
  const json::value* v = o->if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

const json::array* Arr(const json::object* o, std::string_view key) {
  if (!o) return nullptr;
  const json::value* v = o->if_contains(key);
  return v && v->is_array() ? &v->as_array() : nullptr;
}

// A string field; `*set` tells whether it is present (non-null).
std::string Str(const json::object* o, std::string_view key, bool* set = nullptr) {
  if (set) *set = false;
  if (!o) return {};
  const json::value* v = o->if_contains(key);
  if (!v || v->is_null()) return {};
  if (set) *set = true;
  return v->is_string() ? std::string(v->as_string()) : std::string();
}

// True when the field holds boolean true.
bool IsTrue(const json::object* o, std::string_view key) {
  if (!o) return false;
  const json::value* v = o->if_contains(key);
  return v && v->is_bool() && v->as_bool();
}

// A *bool field: empty when unset.
std::optional<bool> Bool(const json::object* o, std::string_view key) {
  if (!o) return std::nullopt;
  const json::value* v = o->if_contains(key);
  if (!v || !v->is_bool()) return std::nullopt;
  return v->as_bool();
}

bool Present(const json::object* o, std::string_view key) {
  if (!o) return false;
  const json::value* v = o->if_contains(key);
  return v && !v->is_null();
}

// An integer field that is set to 0.
bool IsZero(const json::object* o, std::string_view key) {
  if (!o) return false;
  const json::value* v = o->if_contains(key);
  if (!v) return false;
  if (v->is_int64()) return v->as_int64() == 0;
  if (v->is_uint64()) return v->as_uint64() == 0;
  if (v->is_double()) return v->as_double() == 0;
  return false;
}

// The containers a check visits, in Kubernetes' order: init containers, containers, ephemeral
// containers.
std::vector<const json::object*> Containers(const json::object* spec) {
  std::vector<const json::object*> out;
  for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
    if (const json::array* a = Arr(spec, list)) {
      for (const json::value& c : *a) {
        if (c.is_object()) out.push_back(&c.as_object());
      }
    }
  }
  return out;
}

std::string Name(const json::object* c) { return Str(c, "name"); }
const json::object* Sc(const json::object* c) { return Obj(c, "securityContext"); }
const json::object* PodSc(const json::object* spec) { return Obj(spec, "securityContext"); }

bool IsWindows(const json::object* spec) { return Str(Obj(spec, "os"), "name") == "windows"; }

// ---- message helpers (policy/helpers.go) -------------------------------------------------------

std::string JoinQuote(const std::vector<std::string>& items) {
  if (items.empty()) return "";
  std::string out = "\"";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += "\", \"";
    out += items[i];
  }
  return out + "\"";
}

std::string JoinQuote(const std::set<std::string>& items) {
  return JoinQuote(std::vector<std::string>(items.begin(), items.end()));
}

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

const char* Pluralize(const char* singular, const char* plural, size_t count) {
  return count == 1 ? singular : plural;
}

// "container "a"" / "containers "a", "b"".
std::string ContainersPhrase(const std::vector<std::string>& names) {
  return std::string(Pluralize("container", "containers", names.size())) + " " + JoinQuote(names);
}


using CheckResult = std::optional<Violation>;

// ---- baseline checks ---------------------------------------------------------------------------

// appArmorProfile (1.0): the pod's and containers' appArmorProfile.type, and the deprecated
// container.apparmor.security.beta.kubernetes.io/* annotations.
CheckResult AppArmorProfile(const json::object* meta, const json::object* spec) {
  auto allowed_type = [](const std::string& t) {
    return t == "RuntimeDefault" || t == "Localhost";
  };
  std::vector<std::string> bad_setters;
  std::set<std::string> bad_values;
  if (const json::object* p = Obj(PodSc(spec), "appArmorProfile")) {
    std::string t = Str(p, "type");
    if (!allowed_type(t)) {
      bad_setters.push_back("pod");
      bad_values.insert(t);
    }
  }
  std::vector<std::string> bad_containers;
  for (const json::object* c : Containers(spec)) {
    if (const json::object* p = Obj(Sc(c), "appArmorProfile")) {
      std::string t = Str(p, "type");
      if (!allowed_type(t)) {
        bad_containers.push_back(Name(c));
        bad_values.insert(t);
      }
    }
  }
  if (!bad_containers.empty()) bad_setters.push_back(ContainersPhrase(bad_containers));
  std::vector<std::string> forbidden_annotations;
  if (const json::object* ann = Obj(meta, "annotations")) {
    constexpr std::string_view kPrefix = "container.apparmor.security.beta.kubernetes.io/";
    for (const auto& kv : *ann) {
      std::string_view k = kv.key();
      if (k.substr(0, kPrefix.size()) != kPrefix) continue;
      std::string v = kv.value().is_string() ? std::string(kv.value().as_string()) : "";
      bool ok = v.empty() || v == "runtime/default" || v.rfind("localhost/", 0) == 0;
      if (!ok) forbidden_annotations.push_back(std::string(k) + "=" + GoQuote(v));
    }
  }
  std::vector<std::string> bad_list(bad_values.begin(), bad_values.end());
  if (!forbidden_annotations.empty()) {
    std::sort(forbidden_annotations.begin(), forbidden_annotations.end());
    bad_list.insert(bad_list.end(), forbidden_annotations.begin(), forbidden_annotations.end());
    bad_setters.push_back(Pluralize("annotation", "annotations", forbidden_annotations.size()));
  }
  if (bad_setters.empty()) return std::nullopt;
  return Violation{
      Pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", bad_list.size()),
      Join(bad_setters, " and ") + " must not set AppArmor profile type to " + JoinQuote(bad_list)};
}

const std::set<std::string>& BaselineCapabilities() {
  static const std::set<std::string> caps = {
      "AUDIT_WRITE",      "CHOWN",   "DAC_OVERRIDE", "FOWNER",  "FSETID", "KILL",      "MKNOD",
      "NET_BIND_SERVICE", "SETFCAP", "SETGID",       "SETPCAP", "SETUID", "SYS_CHROOT"};
  return caps;
}

std::vector<std::string> StringList(const json::object* o, std::string_view key) {
  std::vector<std::string> out;
  if (const json::array* a = Arr(o, key)) {
    for (const json::value& v : *a) out.push_back(v.is_string() ? std::string(v.as_string()) : "");
  }
  return out;
}

// capabilities_baseline (1.0): capabilities.add only from the default set.
CheckResult CapabilitiesBaseline(const json::object*, const json::object* spec) {
  std::vector<std::string> bad_containers;
  std::set<std::string> non_default;
  for (const json::object* c : Containers(spec)) {
    const json::object* caps = Obj(Sc(c), "capabilities");
    if (!caps) continue;
    bool valid = true;
    for (const std::string& cap : StringList(caps, "add")) {
      if (!BaselineCapabilities().count(cap)) {
        valid = false;
        non_default.insert(cap);
      }
    }
    if (!valid) bad_containers.push_back(Name(c));
  }
  if (bad_containers.empty()) return std::nullopt;
  return Violation{"non-default capabilities", ContainersPhrase(bad_containers) +
                                                   " must not include " + JoinQuote(non_default) +
                                                   " in securityContext.capabilities.add"};
}

// hostNamespaces (1.0).
CheckResult HostNamespaces(const json::object*, const json::object* spec) {
  std::vector<std::string> host;
  if (IsTrue(spec, "hostNetwork")) host.push_back("hostNetwork=true");
  if (IsTrue(spec, "hostPID")) host.push_back("hostPID=true");
  if (IsTrue(spec, "hostIPC")) host.push_back("hostIPC=true");
  if (host.empty()) return std::nullopt;
  return Violation{"host namespaces", Join(host, ", ")};
}

// hostPathVolumes (1.0; replaced by restrictedVolumes in restricted).
CheckResult HostPathVolumes(const json::object*, const json::object* spec) {
  std::vector<std::string> names;
  if (const json::array* vols = Arr(spec, "volumes")) {
    for (const json::value& v : *vols) {
      if (v.is_object() && Present(&v.as_object(), "hostPath"))
        names.push_back(Name(&v.as_object()));
    }
  }
  if (names.empty()) return std::nullopt;
  return Violation{"hostPath volumes", std::string(Pluralize("volume", "volumes", names.size())) +
                                           " " + JoinQuote(names)};
}

// hostPorts (1.0).
CheckResult HostPorts(const json::object*, const json::object* spec) {
  std::vector<std::string> bad_containers;
  std::set<std::string> ports;
  for (const json::object* c : Containers(spec)) {
    bool valid = true;
    if (const json::array* ps = Arr(c, "ports")) {
      for (const json::value& p : *ps) {
        if (!p.is_object()) continue;
        const json::value* hp = p.as_object().if_contains("hostPort");
        if (!hp || !(hp->is_int64() || hp->is_uint64())) continue;
        int64_t n = hp->to_number<int64_t>();
        if (n != 0) {
          valid = false;
          ports.insert(std::to_string(n));
        }
      }
    }
    if (!valid) bad_containers.push_back(Name(c));
  }
  if (bad_containers.empty()) return std::nullopt;
  std::vector<std::string> port_list(ports.begin(), ports.end());
  return Violation{"hostPort", ContainersPhrase(bad_containers) + " " +
                                   Pluralize("uses", "use", bad_containers.size()) + " " +
                                   Pluralize("hostPort", "hostPorts", ports.size()) + " " +
                                   Join(port_list, ", ")};
}

// privileged (1.0).
CheckResult Privileged(const json::object*, const json::object* spec) {
  std::vector<std::string> bad;
  for (const json::object* c : Containers(spec)) {
    if (IsTrue(Sc(c), "privileged")) bad.push_back(Name(c));
  }
  if (bad.empty()) return std::nullopt;
  return Violation{"privileged",
                   ContainersPhrase(bad) + " must not set securityContext.privileged=true"};
}

// procMount (1.0). (Kubernetes relaxes it for user-namespace pods only behind the alpha
// UserNamespacesPodSecurityStandards gate, off by default in 1.32.)
CheckResult ProcMount(const json::object*, const json::object* spec) {
  std::vector<std::string> bad;
  std::set<std::string> types;
  for (const json::object* c : Containers(spec)) {
    bool set = false;
    std::string pm = Str(Sc(c), "procMount", &set);
    if (set && pm != "Default") {
      bad.push_back(Name(c));
      types.insert(pm);
    }
  }
  if (bad.empty()) return std::nullopt;
  return Violation{
      "procMount",
      ContainersPhrase(bad) + " must not set securityContext.procMount to " + JoinQuote(types)};
}

// seLinuxOptions (1.0; 1.31 adds container_engine_t).
CheckResult SeLinuxOptions(const json::object*, const json::object* spec, int minor) {
  std::set<std::string> allowed = {"", "container_t", "container_init_t", "container_kvm_t"};
  if (minor >= 31) allowed.insert("container_engine_t");
  std::set<std::string> bad_types;
  bool set_user = false, set_role = false;
  auto valid = [&](const json::object* opts) {
    bool ok = true;
    std::string t = Str(opts, "type");
    if (!allowed.count(t)) {
      ok = false;
      bad_types.insert(t);
    }
    if (!Str(opts, "user").empty()) {
      ok = false;
      set_user = true;
    }
    if (!Str(opts, "role").empty()) {
      ok = false;
      set_role = true;
    }
    return ok;
  };
  std::vector<std::string> bad_setters;
  if (const json::object* o = Obj(PodSc(spec), "seLinuxOptions"); o && !valid(o)) {
    bad_setters.push_back("pod");
  }
  std::vector<std::string> bad_containers;
  for (const json::object* c : Containers(spec)) {
    if (const json::object* o = Obj(Sc(c), "seLinuxOptions"); o && !valid(o)) {
      bad_containers.push_back(Name(c));
    }
  }
  if (!bad_containers.empty()) bad_setters.push_back(ContainersPhrase(bad_containers));
  if (bad_setters.empty()) return std::nullopt;
  std::vector<std::string> bad_data;
  if (!bad_types.empty()) {
    bad_data.push_back(std::string(Pluralize("type", "types", bad_types.size())) + " " +
                       JoinQuote(bad_types));
  }
  if (set_user) bad_data.push_back("user may not be set");
  if (set_role) bad_data.push_back("role may not be set");
  return Violation{"seLinuxOptions",
                   Join(bad_setters, " and ") +
                       " set forbidden securityContext.seLinuxOptions: " + Join(bad_data, "; ")};
}

bool ValidSeccomp(const std::string& t) { return t == "Localhost" || t == "RuntimeDefault"; }

// seccompProfile_baseline before 1.19: the seccomp.security.alpha.kubernetes.io annotations.
CheckResult SeccompBaseline_1_0(const json::object* meta, const json::object* spec) {
  constexpr std::string_view kPod = "seccomp.security.alpha.kubernetes.io/pod";
  constexpr std::string_view kContainerPrefix = "container.seccomp.security.alpha.kubernetes.io/";
  auto valid = [](const std::string& v) {
    return v == "runtime/default" || v == "docker/default" || v.rfind("localhost/", 0) == 0;
  };
  const json::object* ann = Obj(meta, "annotations");
  std::set<std::string> forbidden;
  auto look = [&](const std::string& key) {
    bool set = false;
    std::string v = Str(ann, key, &set);
    if (set && !valid(v)) forbidden.insert(key + "=" + GoQuote(v));
  };
  look(std::string(kPod));
  for (const json::object* c : Containers(spec)) look(std::string(kContainerPrefix) + Name(c));
  if (forbidden.empty()) return std::nullopt;
  std::vector<std::string> list(forbidden.begin(), forbidden.end());
  return Violation{"seccompProfile", std::string("forbidden ") +
                                         Pluralize("annotation", "annotations", list.size()) + " " +
                                         Join(list, ", ")};
}

// seccompProfile_baseline from 1.19: no Unconfined (or other unknown) profile types.
CheckResult SeccompBaseline_1_19(const json::object*, const json::object* spec) {
  std::vector<std::string> bad_setters;
  std::set<std::string> bad_values;
  if (const json::object* p = Obj(PodSc(spec), "seccompProfile")) {
    std::string t = Str(p, "type");
    if (!ValidSeccomp(t)) {
      bad_setters.push_back("pod");
      bad_values.insert(t);
    }
  }
  std::vector<std::string> bad_containers;
  for (const json::object* c : Containers(spec)) {
    if (const json::object* p = Obj(Sc(c), "seccompProfile")) {
      std::string t = Str(p, "type");
      if (!ValidSeccomp(t)) {
        bad_containers.push_back(Name(c));
        bad_values.insert(t);
      }
    }
  }
  if (!bad_containers.empty()) bad_setters.push_back(ContainersPhrase(bad_containers));
  if (bad_setters.empty()) return std::nullopt;
  return Violation{"seccompProfile", Join(bad_setters, " and ") +
                                         " must not set securityContext.seccompProfile.type to " +
                                         JoinQuote(bad_values)};
}

// sysctls (1.0, 1.27, 1.29, 1.32 allow lists).
CheckResult Sysctls(const json::object*, const json::object* spec, int minor) {
  std::set<std::string> allowed = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
                                   "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
                                   "net.ipv4.ip_unprivileged_port_start"};
  if (minor >= 27) allowed.insert("net.ipv4.ip_local_reserved_ports");
  if (minor >= 29) {
    allowed.insert({"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                    "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"});
  }
  if (minor >= 32) allowed.insert({"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"});
  std::vector<std::string> forbidden;
  if (const json::array* a = Arr(PodSc(spec), "sysctls")) {
    for (const json::value& s : *a) {
      if (!s.is_object()) continue;
      std::string name = Str(&s.as_object(), "name");
      if (!allowed.count(name)) forbidden.push_back(name);
    }
  }
  if (forbidden.empty()) return std::nullopt;
  return Violation{"forbidden sysctls", Join(forbidden, ", ")};
}

// windowsHostProcess (1.0).
CheckResult WindowsHostProcess(const json::object*, const json::object* spec) {
  std::vector<std::string> bad_containers;
  for (const json::object* c : Containers(spec)) {
    if (IsTrue(Obj(Sc(c), "windowsOptions"), "hostProcess")) bad_containers.push_back(Name(c));
  }
  std::vector<std::string> setters;
  if (IsTrue(Obj(PodSc(spec), "windowsOptions"), "hostProcess")) setters.push_back("pod");
  if (!bad_containers.empty()) setters.push_back(ContainersPhrase(bad_containers));
  if (setters.empty()) return std::nullopt;
  return Violation{
      "hostProcess",
      Join(setters, " and ") + " must not set securityContext.windowsOptions.hostProcess=true"};
}

// ---- restricted checks -------------------------------------------------------------------------

// allowPrivilegeEscalation (1.8; Windows pods exempt from 1.25).
CheckResult AllowPrivilegeEscalation(const json::object*, const json::object* spec, int minor) {
  if (minor >= 25 && IsWindows(spec)) return std::nullopt;
  std::vector<std::string> bad;
  for (const json::object* c : Containers(spec)) {
    std::optional<bool> ape = Bool(Sc(c), "allowPrivilegeEscalation");
    if (!ape || *ape) bad.push_back(Name(c));
  }
  if (bad.empty()) return std::nullopt;
  return Violation{
      "allowPrivilegeEscalation != false",
      ContainersPhrase(bad) + " must set securityContext.allowPrivilegeEscalation=false"};
}

// capabilities_restricted (1.22; Windows pods exempt from 1.25).
CheckResult CapabilitiesRestricted(const json::object*, const json::object* spec, int minor) {
  if (minor >= 25 && IsWindows(spec)) return std::nullopt;
  std::vector<std::string> missing_drop_all, adding_forbidden;
  std::set<std::string> forbidden_caps;
  for (const json::object* c : Containers(spec)) {
    const json::object* caps = Obj(Sc(c), "capabilities");
    if (!caps) {
      missing_drop_all.push_back(Name(c));
      continue;
    }
    bool dropped_all = false;
    for (const std::string& d : StringList(caps, "drop")) dropped_all = dropped_all || d == "ALL";
    if (!dropped_all) missing_drop_all.push_back(Name(c));
    bool added_forbidden = false;
    for (const std::string& a : StringList(caps, "add")) {
      if (a != "NET_BIND_SERVICE") {
        added_forbidden = true;
        forbidden_caps.insert(a);
      }
    }
    if (added_forbidden) adding_forbidden.push_back(Name(c));
  }
  std::vector<std::string> details;
  if (!missing_drop_all.empty()) {
    details.push_back(ContainersPhrase(missing_drop_all) +
                      " must set securityContext.capabilities.drop=[\"ALL\"]");
  }
  if (!adding_forbidden.empty()) {
    details.push_back(ContainersPhrase(adding_forbidden) + " must not include " +
                      JoinQuote(forbidden_caps) + " in securityContext.capabilities.add");
  }
  if (details.empty()) return std::nullopt;
  return Violation{"unrestricted capabilities", Join(details, "; ")};
}

// restrictedVolumes (1.0): only configMap, csi, downwardAPI, emptyDir, ephemeral,
// persistentVolumeClaim, projected and secret volumes.
CheckResult RestrictedVolumes(const json::object*, const json::object* spec) {
  static const char* const kAllowed[] = {"configMap", "csi",       "downwardAPI",
                                         "emptyDir",  "ephemeral", "persistentVolumeClaim",
                                         "projected", "secret"};
  static const char* const kKnown[] = {"hostPath",
                                       "gcePersistentDisk",
                                       "awsElasticBlockStore",
                                       "gitRepo",
                                       "nfs",
                                       "iscsi",
                                       "glusterfs",
                                       "rbd",
                                       "flexVolume",
                                       "cinder",
                                       "cephfs",
                                       "flocker",
                                       "fc",
                                       "azureFile",
                                       "vsphereVolume",
                                       "quobyte",
                                       "azureDisk",
                                       "photonPersistentDisk",
                                       "portworxVolume",
                                       "scaleIO",
                                       "storageos"};
  std::vector<std::string> bad_volumes;
  std::set<std::string> bad_types;
  if (const json::array* vols = Arr(spec, "volumes")) {
    for (const json::value& vv : *vols) {
      if (!vv.is_object()) continue;
      const json::object* v = &vv.as_object();
      bool allowed = false;
      for (const char* k : kAllowed) allowed = allowed || Present(v, k);
      if (allowed) continue;
      bad_volumes.push_back(Name(v));
      std::string type = "unknown";
      for (const char* k : kKnown) {
        if (Present(v, k)) {
          type = k;
          break;
        }
      }
      bad_types.insert(type);
    }
  }
  if (bad_volumes.empty()) return std::nullopt;
  return Violation{
      "restricted volume types",
      std::string(Pluralize("volume", "volumes", bad_volumes.size())) + " " +
          JoinQuote(bad_volumes) + " " + Pluralize("uses", "use", bad_volumes.size()) + " " +
          Pluralize("restricted volume type", "restricted volume types", bad_types.size()) + " " +
          JoinQuote(bad_types)};
}

// runAsNonRoot (1.0).
CheckResult RunAsNonRoot(const json::object*, const json::object* spec) {
  std::vector<std::string> bad_setters;
  bool pod_non_root = false;
  if (std::optional<bool> p = Bool(PodSc(spec), "runAsNonRoot")) {
    if (!*p) {
      bad_setters.push_back("pod");
    } else {
      pod_non_root = true;
    }
  }
  std::vector<std::string> explicitly_bad, implicitly_bad;
  for (const json::object* c : Containers(spec)) {
    if (std::optional<bool> v = Bool(Sc(c), "runAsNonRoot")) {
      if (!*v) explicitly_bad.push_back(Name(c));
    } else if (!pod_non_root) {
      implicitly_bad.push_back(Name(c));
    }
  }
  if (!explicitly_bad.empty()) bad_setters.push_back(ContainersPhrase(explicitly_bad));
  if (!bad_setters.empty()) {
    return Violation{
        "runAsNonRoot != true",
        Join(bad_setters, " and ") + " must not set securityContext.runAsNonRoot=false"};
  }
  if (!implicitly_bad.empty()) {
    return Violation{"runAsNonRoot != true", "pod or " + ContainersPhrase(implicitly_bad) +
                                                 " must set securityContext.runAsNonRoot=true"};
  }
  return std::nullopt;
}

// runAsUser (1.23): not 0.
CheckResult RunAsUser(const json::object*, const json::object* spec) {
  std::vector<std::string> bad_setters;
  if (IsZero(PodSc(spec), "runAsUser")) bad_setters.push_back("pod");
  std::vector<std::string> bad;
  for (const json::object* c : Containers(spec)) {
    if (IsZero(Sc(c), "runAsUser")) bad.push_back(Name(c));
  }
  if (!bad.empty()) bad_setters.push_back(ContainersPhrase(bad));
  if (bad_setters.empty()) return std::nullopt;
  return Violation{"runAsUser=0", Join(bad_setters, " and ") + " must not set runAsUser=0"};
}

// seccompProfile_restricted (1.19; Windows pods exempt from 1.25): RuntimeDefault or Localhost
// on the pod or on every container.
CheckResult SeccompRestricted(const json::object*, const json::object* spec, int minor) {
  if (minor >= 25 && IsWindows(spec)) return std::nullopt;
  std::vector<std::string> bad_setters;
  std::set<std::string> bad_values;
  bool pod_set = false;
  if (const json::object* p = Obj(PodSc(spec), "seccompProfile")) {
    std::string t = Str(p, "type");
    if (!ValidSeccomp(t)) {
      bad_setters.push_back("pod");
      bad_values.insert(t);
    } else {
      pod_set = true;
    }
  }
  std::vector<std::string> explicitly_bad, implicitly_bad;
  for (const json::object* c : Containers(spec)) {
    if (const json::object* p = Obj(Sc(c), "seccompProfile")) {
      std::string t = Str(p, "type");
      if (!ValidSeccomp(t)) {
        explicitly_bad.push_back(Name(c));
        bad_values.insert(t);
      }
    } else if (!pod_set) {
      implicitly_bad.push_back(Name(c));
    }
  }
  if (!explicitly_bad.empty()) bad_setters.push_back(ContainersPhrase(explicitly_bad));
  if (!bad_setters.empty()) {
    return Violation{"seccompProfile", Join(bad_setters, " and ") +
                                           " must not set securityContext.seccompProfile.type to " +
                                           JoinQuote(bad_values)};
  }
  if (!implicitly_bad.empty()) {
    return Violation{"seccompProfile",
                     "pod or " + ContainersPhrase(implicitly_bad) +
                         " must set securityContext.seccompProfile.type to \"RuntimeDefault\" or "
                         "\"Localhost\""};
  }
  return std::nullopt;
}

// ---- the registry ------------------------------------------------------------------------------

using CheckFn = std::function<CheckResult(const json::object*, const json::object*)>;

// The checks of `level` at policy version 1.<minor>, in Kubernetes' order: baseline check IDs
// sorted, then restricted check IDs sorted, restricted checks replacing the baseline checks they
// override (hostPathVolumes by restrictedVolumes; seccompProfile_baseline by
// seccompProfile_restricted from 1.19; capabilities_baseline by capabilities_restricted from
// 1.22).
std::vector<CheckFn> ChecksFor(Level level, int minor) {
  const bool restricted = level == Level::kRestricted;
  std::vector<CheckFn> out;
  // Baseline, by ID: appArmorProfile, capabilities_baseline, hostNamespaces, hostPathVolumes,
  // hostPorts, privileged, procMount, seLinuxOptions, seccompProfile_baseline, sysctls,
  // windowsHostProcess.
  out.push_back(AppArmorProfile);
  if (!(restricted && minor >= 22)) out.push_back(CapabilitiesBaseline);
  out.push_back(HostNamespaces);
  if (!restricted) out.push_back(HostPathVolumes);
  out.push_back(HostPorts);
  out.push_back(Privileged);
  out.push_back(ProcMount);
  out.push_back([minor](const json::object* m, const json::object* s) {
    return SeLinuxOptions(m, s, minor);
  });
  if (minor < 19) {
    out.push_back(SeccompBaseline_1_0);
  } else if (!restricted) {
    out.push_back(SeccompBaseline_1_19);
  }
  out.push_back(
      [minor](const json::object* m, const json::object* s) { return Sysctls(m, s, minor); });
  out.push_back(WindowsHostProcess);
  if (!restricted) return out;
  // Restricted, by ID: allowPrivilegeEscalation, capabilities_restricted, restrictedVolumes,
  // runAsNonRoot, runAsUser, seccompProfile_restricted.
  if (minor >= 8) {
    out.push_back([minor](const json::object* m, const json::object* s) {
      return AllowPrivilegeEscalation(m, s, minor);
    });
  }
  if (minor >= 22) {
    out.push_back([minor](const json::object* m, const json::object* s) {
      return CapabilitiesRestricted(m, s, minor);
    });
  }
  out.push_back(RestrictedVolumes);
  out.push_back(RunAsNonRoot);
  if (minor >= 23) out.push_back(RunAsUser);
  if (minor >= 19) {
    out.push_back([minor](const json::object* m, const json::object* s) {
      return SeccompRestricted(m, s, minor);
    });
  }
  return out;
}

const char* LevelName(Level l) {
  switch (l) {
    case Level::kPrivileged:
      return "privileged";
    case Level::kBaseline:
      return "baseline";
    case Level::kRestricted:
      return "restricted";
  }
  return "";
}

int Strictness(Level l) { return static_cast<int>(l); }

}  // namespace

std::string LevelVersion::String() const {
  return std::string(LevelName(level)) + ":" +
         (latest ? std::string("latest") : "v1." + std::to_string(minor));
}

std::vector<Violation> CheckPod(const json::object* metadata, const json::object* spec,
                                const LevelVersion& lv) {
  std::vector<Violation> out;
  if (lv.level == Level::kPrivileged) return out;
  const int minor = lv.latest || lv.minor > kMaxMinor ? kMaxMinor : lv.minor;
  static const json::object kEmpty;
  if (!spec) spec = &kEmpty;
  for (const CheckFn& check : ChecksFor(lv.level, minor)) {
    if (CheckResult r = check(metadata, spec)) out.push_back(std::move(*r));
  }
  return out;
}

std::string ForbiddenDetail(const std::vector<Violation>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ", ";
    out += v[i].reason.empty() ? "unknown forbidden reason" : v[i].reason;
    if (!v[i].detail.empty()) out += " (" + v[i].detail + ")";
  }
  return out;
}

Policy PolicyFromLabels(const json::object* labels, std::vector<Cause>* errors) {
  Policy p;  // privileged:latest for all three, as kube-apiserver's default configuration
  if (!labels || labels->empty()) return p;
  auto add_error = [&](const std::string& key, const std::string& value, const char* detail) {
    if (!errors) return;
    errors->push_back(Cause{"FieldValueInvalid", "Invalid value: " + GoQuote(value) + ": " + detail,
                            "metadata.labels[" + key + "]"});
  };
  auto parse_level = [&](std::string_view mode, Level* out) -> bool {
    std::string key = std::string(kLabelPrefix) + std::string(mode);
    const json::value* v = labels->if_contains(key);
    if (!v) return false;
    std::string s = v->is_string() ? std::string(v->as_string()) : "";
    if (s == "privileged") {
      *out = Level::kPrivileged;
    } else if (s == "baseline") {
      *out = Level::kBaseline;
    } else if (s == "restricted") {
      *out = Level::kRestricted;
    } else {
      *out = Level::kRestricted;  // Kubernetes' ParseLevel answers restricted with its error
      add_error(key, s, "must be one of privileged, baseline, restricted");
      return false;
    }
    return true;
  };
  auto parse_version = [&](std::string_view mode, LevelVersion* out) -> bool {
    std::string key = std::string(kLabelPrefix) + std::string(mode) + "-version";
    const json::value* v = labels->if_contains(key);
    if (!v) return false;
    std::string s = v->is_string() ? std::string(v->as_string()) : "";
    out->latest = true;
    out->minor = 0;
    if (s == "latest") return true;
    // ^v1\.([0-9]|[1-9][0-9]*)$
    bool ok = s.size() > 3 && s.compare(0, 3, "v1.") == 0 && s.size() <= 3 + 9;
    std::string digits = ok ? s.substr(3) : "";
    for (char ch : digits) ok = ok && ch >= '0' && ch <= '9';
    if (ok && digits.size() > 1 && digits[0] == '0') ok = false;
    if (!ok) {
      add_error(key, s, "must be \"latest\" or \"v1.x\"");
      return true;
    }
    out->latest = false;
    out->minor = std::stoi(digits);
    return true;
  };
  const bool has_enforce_level = parse_level("enforce", &p.enforce.level);
  parse_version("enforce", &p.enforce);
  {
    std::string key = std::string(kLabelPrefix) + "audit";
    if (labels->contains(key) && !parse_level("audit", &p.audit.level)) {
      p.audit.level = Level::kPrivileged;  // fail open for audit
    }
  }
  parse_version("audit", &p.audit);
  const bool has_warn_level = labels->contains(std::string(kLabelPrefix) + "warn");
  if (has_warn_level && !parse_level("warn", &p.warn.level)) {
    p.warn.level = Level::kPrivileged;  // fail open for warn
  }
  const bool has_warn_version = parse_version("warn", &p.warn);
  // Warn follows an explicit, stricter enforce level.
  if (!has_warn_level && has_enforce_level &&
      Strictness(p.enforce.level) > Strictness(p.warn.level)) {
    p.warn.level = p.enforce.level;
    if (!has_warn_version) {
      p.warn.latest = p.enforce.latest;
      p.warn.minor = p.enforce.minor;
    }
  }
  return p;
}

}  // namespace podsecurity

namespace {

using podsecurity::CheckPod;
using podsecurity::ForbiddenDetail;
using podsecurity::Level;
using podsecurity::Policy;
using podsecurity::PolicyFromLabels;
using podsecurity::Violation;

const json::object* ObjAt(const json::object* o, std::string_view key) {
  if (!o) return nullptr;
  const json::value* v = o->if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

bool IsPod(const api::KindInfo& kind) { return kind.group.empty() && kind.kind == "Pod"; }
bool IsNamespace(const api::KindInfo& kind) {
  return kind.group.empty() && kind.kind == "Namespace";
}

// The pod template of a workload kind, as Kubernetes' DefaultPodSpecExtractor finds it: `*is`
// tells whether the kind has one at all; the template is null when the object has none.
const json::object* PodTemplate(const api::KindInfo& kind, const json::object& obj, bool* is) {
  *is = true;
  const json::object* spec = ObjAt(&obj, "spec");
  if (kind.group.empty() && kind.kind == "PodTemplate") return ObjAt(&obj, "template");
  if (kind.group.empty() && kind.kind == "ReplicationController") return ObjAt(spec, "template");
  if (kind.group == "apps" && (kind.kind == "ReplicaSet" || kind.kind == "Deployment" ||
                               kind.kind == "StatefulSet" || kind.kind == "DaemonSet")) {
    return ObjAt(spec, "template");
  }
  if (kind.group == "batch" && kind.kind == "Job") return ObjAt(spec, "template");
  if (kind.group == "batch" && kind.kind == "CronJob") {
    return ObjAt(ObjAt(ObjAt(spec, "jobTemplate"), "spec"), "template");
  }
  *is = false;
  return nullptr;
}

// The namespace's labels from the cache; false when the namespace is not there.
bool NamespaceLabels(const api::Registry& registry, const ObjectCache& cache, std::string_view ns,
                     ObjectPtr* holder, const json::object** labels) {
  const api::KindInfo* nsk = registry.FindKind("", "v1", "Namespace");
  if (!nsk) return false;
  *holder = cache.Get(ObjectKey(*nsk, "", ns));
  if (!*holder) return false;
  *labels = ObjAt(ObjAt(&(*holder)->obj, "metadata"), "labels");
  return true;
}

std::string WouldViolate(const podsecurity::LevelVersion& lv, const std::vector<Violation>& v) {
  return "would violate PodSecurity \"" + lv.String() + "\": " + ForbiddenDetail(v);
}

// Kubernetes' EvaluatePod with enforce: Forbidden on an enforce violation, else the warn
// level's warning. (The audit level would only annotate the audit event: nothing here.)
Status EvaluatePod(const Policy& policy, std::string_view name, const json::object& pod,
                   std::vector<std::string>* warnings) {
  const json::object* meta = ObjAt(&pod, "metadata");
  const json::object* spec = ObjAt(&pod, "spec");
  std::vector<Violation> enforce = CheckPod(meta, spec, policy.enforce);
  if (!enforce.empty()) {
    return Forbidden("pods \"" + std::string(name) + "\" is forbidden: violates PodSecurity \"" +
                     policy.enforce.String() + "\": " + ForbiddenDetail(enforce));
  }
  if (!warnings) return Status::Ok();
  std::vector<Violation> warn =
      policy.warn == policy.enforce ? enforce : CheckPod(meta, spec, policy.warn);
  if (!warn.empty()) warnings->push_back(WouldViolate(policy.warn, warn));
  return Status::Ok();
}

bool FullyPrivileged(const Policy& p) {
  return p.enforce.level == Level::kPrivileged && p.audit.level == Level::kPrivileged &&
         p.warn.level == Level::kPrivileged;
}

// Kubernetes' ValidatePodController: the template against the warn level only.
std::string TemplateWarning(const Policy& policy, bool policy_errors, const json::object* tmpl) {
  if (!policy_errors && policy.warn.level == Level::kPrivileged &&
      policy.audit.level == Level::kPrivileged) {
    return "";
  }
  if (!tmpl) return "";
  std::vector<Violation> warn = CheckPod(ObjAt(tmpl, "metadata"), ObjAt(tmpl, "spec"), policy.warn);
  return warn.empty() ? "" : WouldViolate(policy.warn, warn);
}

std::string ContainerImage(const json::value& c) {
  if (!c.is_object()) return {};
  const json::value* i = c.as_object().if_contains("image");
  return i && i->is_string() ? std::string(i->as_string()) : std::string();
}

std::string ContainerName(const json::value& c) {
  if (!c.is_object()) return {};
  const json::value* i = c.as_object().if_contains("name");
  return i && i->is_string() ? std::string(i->as_string()) : std::string();
}

const json::array& ArrOrEmpty(const json::object* o, std::string_view key) {
  static const json::array kEmpty;
  if (!o) return kEmpty;
  const json::value* v = o->if_contains(key);
  return v && v->is_array() ? v->as_array() : kEmpty;
}

// Kubernetes' isSignificantPodUpdate: containers or init containers added or removed, an image
// changed, an ephemeral container added or its image changed.
bool SignificantPodUpdate(const json::object& pod, const json::object& old) {
  const json::object* spec = ObjAt(&pod, "spec");
  const json::object* old_spec = ObjAt(&old, "spec");
  for (const char* list : {"containers", "initContainers"}) {
    const json::array& a = ArrOrEmpty(spec, list);
    const json::array& b = ArrOrEmpty(old_spec, list);
    if (a.size() != b.size()) return true;
    for (size_t i = 0; i < a.size(); ++i) {
      if (ContainerImage(a[i]) != ContainerImage(b[i])) return true;
    }
  }
  const json::array& old_eph = ArrOrEmpty(old_spec, "ephemeralContainers");
  for (const json::value& c : ArrOrEmpty(spec, "ephemeralContainers")) {
    const json::value* match = nullptr;
    for (const json::value& oc : old_eph) {
      if (ContainerName(oc) == ContainerName(c)) {
        match = &oc;
        break;
      }
    }
    if (!match || ContainerImage(*match) != ContainerImage(c)) return true;
  }
  return false;
}

bool SameErrors(const std::vector<Cause>& a, const std::vector<Cause>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].field != b[i].field || a[i].message != b[i].message) return false;
  }
  return true;
}

std::string ControllerUid(const json::object& pod) {
  for (const json::value& ref : ArrOrEmpty(ObjAt(&pod, "metadata"), "ownerReferences")) {
    if (!ref.is_object()) continue;
    const json::value* c = ref.as_object().if_contains("controller");
    if (c && c->is_bool() && c->as_bool()) {
      const json::value* uid = ref.as_object().if_contains("uid");
      return uid && uid->is_string() ? std::string(uid->as_string()) : std::string();
    }
  }
  return {};
}

// Kubernetes' EvaluatePodsInNamespace: the existing pods that violate a new enforce level, one
// line per distinct set of reasons.
std::vector<std::string> EvaluatePodsInNamespace(const api::Registry& registry,
                                                 const ObjectCache& cache, const std::string& ns,
                                                 const podsecurity::LevelVersion& enforce) {
  constexpr size_t kMaxPodsToCheck = 3000;
  const api::KindInfo* podk = registry.FindKind("", "v1", "Pod");
  if (!podk) return {};
  std::vector<ObjectPtr> pods = cache.List(ListPrefix(*podk, ns), nullptr);
  // Pods without a controller, and the first pod of each controller, come first.
  std::vector<const json::object*> ordered, duplicates;
  std::set<std::string> seen_controllers;
  for (const ObjectPtr& p : pods) {
    std::string uid = ControllerUid(p->obj);
    if (uid.empty()) {
      ordered.push_back(&p->obj);
    } else if (!seen_controllers.insert(uid).second) {
      duplicates.push_back(&p->obj);
    } else {
      ordered.push_back(&p->obj);
    }
  }
  ordered.insert(ordered.end(), duplicates.begin(), duplicates.end());
  const size_t total = ordered.size();
  if (ordered.size() > kMaxPodsToCheck) ordered.resize(kMaxPodsToCheck);
  struct Count {
    std::string pod;
    int count = 0;
  };
  std::vector<std::string> reasons_in_order;
  std::map<std::string, Count> counts;
  for (const json::object* pod : ordered) {
    std::vector<Violation> v = CheckPod(ObjAt(pod, "metadata"), ObjAt(pod, "spec"), enforce);
    if (v.empty()) continue;
    std::string reasons;
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) reasons += ", ";
      reasons += v[i].reason.empty() ? "unknown forbidden reason" : v[i].reason;
    }
    std::string name(internal::MetaString(*pod, "name"));
    auto [it, inserted] = counts.try_emplace(reasons);
    if (inserted) {
      it->second.pod = name;
      reasons_in_order.push_back(reasons);
    } else if (name < it->second.pod) {
      it->second.pod = name;
    }
    ++it->second.count;
  }
  std::vector<std::string> warnings;
  if (ordered.size() < total) {
    warnings.push_back("new PodSecurity enforce level only checked against the first " +
                       std::to_string(ordered.size()) + " of " + std::to_string(total) +
                       " existing pods");
  }
  if (!reasons_in_order.empty()) {
    warnings.push_back("existing pods in namespace \"" + ns +
                       "\" violate the new PodSecurity enforce level \"" + enforce.String() + "\"");
  }
  std::vector<std::string> lines;
  for (const std::string& r : reasons_in_order) {
    const Count& c = counts[r];
    if (c.count == 1) {
      lines.push_back(c.pod + ": " + r);
    } else if (c.count == 2) {
      lines.push_back(c.pod + " (and 1 other pod): " + r);
    } else {
      lines.push_back(c.pod + " (and " + std::to_string(c.count - 1) + " other pods): " + r);
    }
  }
  std::sort(lines.begin(), lines.end());
  warnings.insert(warnings.end(), lines.begin(), lines.end());
  return warnings;
}

}  // namespace

Status AdmitPodSecurityCreate(const api::Registry& registry, const ObjectCache& cache,
                              const api::KindInfo& kind, std::string_view ns,
                              const json::object& obj, std::vector<std::string>* warnings) {
  if (IsNamespace(kind)) {
    std::vector<Cause> errors;
    PolicyFromLabels(ObjAt(ObjAt(&obj, "metadata"), "labels"), &errors);
    if (!errors.empty()) return Invalid("invalid PodSecurity labels", std::move(errors));
    return Status::Ok();
  }
  bool workload = false;
  const json::object* tmpl = IsPod(kind) ? nullptr : PodTemplate(kind, obj, &workload);
  if (!IsPod(kind) && !workload) return Status::Ok();
  ObjectPtr ns_obj;
  const json::object* labels = nullptr;
  // A missing namespace is the namespace check's to report.
  if (!NamespaceLabels(registry, cache, ns, &ns_obj, &labels)) return Status::Ok();
  std::vector<Cause> errors;
  Policy policy = PolicyFromLabels(labels, &errors);
  if (IsPod(kind)) {
    if (errors.empty() && FullyPrivileged(policy)) return Status::Ok();
    return EvaluatePod(policy, internal::MetaString(obj, "name"), obj, warnings);
  }
  if (!warnings) return Status::Ok();
  std::string w = TemplateWarning(policy, !errors.empty(), tmpl);
  if (!w.empty()) warnings->push_back(std::move(w));
  return Status::Ok();
}

Status AdmitPodSecurityUpdate(const api::Registry& registry, const ObjectCache& cache,
                              const api::KindInfo& kind, const json::object& old,
                              const json::object& next, std::vector<std::string>* warnings) {
  if (IsNamespace(kind)) {
    std::vector<Cause> new_errors, old_errors;
    Policy new_policy = PolicyFromLabels(ObjAt(ObjAt(&next, "metadata"), "labels"), &new_errors);
    Policy old_policy = PolicyFromLabels(ObjAt(ObjAt(&old, "metadata"), "labels"), &old_errors);
    if (!new_errors.empty() && (old_errors.empty() || !SameErrors(new_errors, old_errors))) {
      return Invalid("invalid PodSecurity labels", std::move(new_errors));
    }
    const podsecurity::LevelVersion& ne = new_policy.enforce;
    const podsecurity::LevelVersion& oe = old_policy.enforce;
    if (ne == oe || ne.level == Level::kPrivileged) return Status::Ok();
    const bool same_version = ne.latest == oe.latest && (ne.latest || ne.minor == oe.minor);
    if (same_version && podsecurity::Strictness(ne.level) <= podsecurity::Strictness(oe.level)) {
      return Status::Ok();
    }
    if (!warnings) return Status::Ok();
    std::vector<std::string> w = EvaluatePodsInNamespace(
        registry, cache, std::string(internal::MetaString(next, "name")), ne);
    warnings->insert(warnings->end(), w.begin(), w.end());
    return Status::Ok();
  }
  if (!IsPod(kind)) return Status::Ok();
  ObjectPtr ns_obj;
  const json::object* labels = nullptr;
  if (!NamespaceLabels(registry, cache, internal::MetaString(next, "namespace"), &ns_obj,
                       &labels)) {
    return Status::Ok();
  }
  std::vector<Cause> errors;
  Policy policy = PolicyFromLabels(labels, &errors);
  if (errors.empty() && FullyPrivileged(policy)) return Status::Ok();
  if (!SignificantPodUpdate(next, old)) return Status::Ok();
  return EvaluatePod(policy, internal::MetaString(next, "name"), next, warnings);
}

std::string PodSecurityTemplateWarning(const api::Registry& registry, const ObjectCache& cache,
                                       const api::KindInfo& kind, std::string_view ns,
                                       const json::object& obj) {
  bool workload = false;
  PodTemplate(kind, obj, &workload);
  if (!workload) return "";
  ObjectPtr ns_obj;
  const json::object* labels = nullptr;
  if (!NamespaceLabels(registry, cache, ns, &ns_obj, &labels)) return "";
  std::vector<Cause> errors;
  Policy policy = PolicyFromLabels(labels, &errors);
  if (errors.empty() && policy.warn.level == Level::kPrivileged &&
      policy.audit.level == Level::kPrivileged) {
    return "";
  }
  // Evaluated as it will be stored: with defaults (a hostNetwork template's ports get hostPorts).
  json::object copy = obj;
  internal::ApplyDefaults(kind, copy);
  bool is = false;
  return TemplateWarning(policy, !errors.empty(), PodTemplate(kind, copy, &is));
}

}  // namespace sampan::apiserver
