// Container environment and downward API values: env/envFrom resolution, $(VAR)
// expansion, fieldRef and resourceFieldRef values, the way the kubelet computes them.
#include <algorithm>
#include <cctype>
#include <map>
#include <unordered_map>

#include "api/quantity.h"
#include "api/validate.h"
#include "volume/volume_internal.h"
#include "volume/volumes.h"

namespace sampan::volume {

namespace json = boost::json;
using internal::Arr;
using internal::Bool;
using internal::Obj;
using internal::Str;

// ---------------------------------------------------------------- $(VAR) expansion

std::string ExpandVars(std::string_view input,
                       const std::function<std::optional<std::string>(std::string_view)>& lookup) {
  // Kubernetes' third_party/forked/golang/expansion: "$(NAME)" → value (or kept as written
  // when unknown), "$$" → "$", any other '$' copied with the character after it, and a
  // "$(" without ")" copied as is.
  std::string out;
  size_t checkpoint = 0;
  for (size_t cursor = 0; cursor < input.size(); ++cursor) {
    if (input[cursor] != '$' || cursor + 1 >= input.size()) continue;
    out.append(input.substr(checkpoint, cursor - checkpoint));
    std::string_view rest = input.substr(cursor + 1);
    size_t advance = 1;
    if (rest[0] == '$') {
      out.push_back('$');
    } else if (rest[0] == '(') {
      size_t close = rest.find(')', 1);
      if (close == std::string_view::npos) {
        out.append("$(");
      } else {
        std::string_view name = rest.substr(1, close - 1);
        std::optional<std::string> v = lookup(name);
        if (v) {
          out.append(*v);
        } else {
          out.append("$(").append(name).append(")");
        }
        advance = close + 1;
      }
    } else {
      out.push_back('$');
      out.push_back(rest[0]);
    }
    cursor += advance;
    checkpoint = cursor + 1;
  }
  if (checkpoint < input.size()) out.append(input.substr(checkpoint));
  return out;
}

std::string ExpandVarRefs(std::string_view input, const std::vector<std::string>& env) {
  std::unordered_map<std::string, std::string> m;
  for (const std::string& e : env) {
    size_t eq = e.find('=');
    if (eq == std::string::npos) continue;
    m[e.substr(0, eq)] = e.substr(eq + 1);  // a later entry wins, as in envVarsToMap
  }
  return ExpandVars(input, [&](std::string_view name) -> std::optional<std::string> {
    auto it = m.find(std::string(name));
    if (it == m.end()) return std::nullopt;
    return it->second;
  });
}

// ---------------------------------------------------------------- fieldRef

namespace {

// fieldpath.SplitMaybeSubscriptedPath: "metadata.labels['k']" → ("metadata.labels", "k").
bool SplitSubscript(const std::string& path, std::string* base, std::string* key) {
  if (path.size() < 2 || path.compare(path.size() - 2, 2, "']") != 0) return false;
  std::string s = path.substr(0, path.size() - 2);
  size_t open = s.find("['");
  if (open == std::string::npos || open == 0) return false;
  *base = s.substr(0, open);
  *key = s.substr(open + 2);
  return true;
}

std::string JoinProblems(const std::vector<std::string>& errs) {
  std::string out;
  for (const std::string& e : errs) {
    if (!out.empty()) out += ";";
    out += e;
  }
  return out;
}

// fieldpath.FormatMap: sorted `key="value"` lines, value quoted like Go's %q.
std::string FormatMap(const json::object* m) {
  if (m == nullptr) return "";
  std::vector<std::pair<std::string, std::string>> kv;
  for (const auto& e : *m) {
    kv.emplace_back(std::string(e.key()),
                    e.value().is_string() ? std::string(e.value().as_string()) : std::string());
  }
  std::sort(kv.begin(), kv.end());
  std::string out;
  for (const auto& [k, v] : kv) {
    if (!out.empty()) out += "\n";
    out += k + "=" + internal::GoQuote(v);
  }
  return out;
}

std::string ToLower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Pod IPs from status.podIPs (falling back to status.podIP), first one primary.
std::vector<std::string> PodIps(const json::object& pod) {
  std::vector<std::string> ips;
  if (const json::object* st = Obj(pod, "status")) {
    if (const json::array* a = Arr(*st, "podIPs")) {
      for (const json::value& v : *a) {
        if (v.is_object()) {
          std::string ip = Str(v.as_object(), "ip");
          if (!ip.empty()) ips.push_back(ip);
        }
      }
    }
    if (ips.empty()) {
      std::string ip = Str(*st, "podIP");
      if (!ip.empty()) ips.push_back(ip);
    }
  }
  return ips;
}

std::vector<std::string> HostIps(const json::object& pod) {
  std::vector<std::string> ips;
  if (const json::object* st = Obj(pod, "status")) {
    if (const json::array* a = Arr(*st, "hostIPs")) {
      for (const json::value& v : *a) {
        if (v.is_object()) {
          std::string ip = Str(v.as_object(), "ip");
          if (!ip.empty()) ips.push_back(ip);
        }
      }
    }
    std::string primary = Str(*st, "hostIP");
    if (!primary.empty() && std::find(ips.begin(), ips.end(), primary) == ips.end()) {
      ips.insert(ips.begin(), primary);
    }
  }
  return ips;
}

std::string Join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const std::string& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

}  // namespace

namespace internal {

Result<std::string> ExtractMetadataField(const json::object& pod, const std::string& path) {
  const json::object empty;
  const json::object* meta = Obj(pod, "metadata");
  if (meta == nullptr) meta = &empty;
  std::string base, key;
  if (SplitSubscript(path, &base, &key)) {
    if (base == "metadata.annotations") {
      if (auto errs = api::IsQualifiedName(ToLower(key)); !errs.empty()) {
        return Invalid("invalid key subscript in " + path + ": " + JoinProblems(errs));
      }
      const json::object* m = Obj(*meta, "annotations");
      return m ? Str(*m, key) : std::string();
    }
    if (base == "metadata.labels") {
      if (auto errs = api::IsQualifiedName(key); !errs.empty()) {
        return Invalid("invalid key subscript in " + path + ": " + JoinProblems(errs));
      }
      const json::object* m = Obj(*meta, "labels");
      return m ? Str(*m, key) : std::string();
    }
    return Invalid("fieldPath \"" + base + "\" does not support subscript");
  }
  if (path == "metadata.annotations") return FormatMap(Obj(*meta, "annotations"));
  if (path == "metadata.labels") return FormatMap(Obj(*meta, "labels"));
  if (path == "metadata.name") return Str(*meta, "name");
  if (path == "metadata.namespace") return Str(*meta, "namespace");
  if (path == "metadata.uid") return Str(*meta, "uid");
  return Invalid("unsupported fieldPath: " + path);
}

}  // namespace internal

Result<std::string> PodFieldValue(const json::object& pod, const std::string& field_path) {
  // podshelper.ConvertDownwardAPIFieldLabel first: only these labels pass.
  static const char* kLabels[] = {
      "metadata.annotations", "metadata.labels", "metadata.name",      "metadata.namespace",
      "metadata.uid",         "spec.nodeName",   "spec.restartPolicy", "spec.serviceAccountName",
      "spec.schedulerName",   "status.phase",    "status.hostIP",      "status.hostIPs",
      "status.podIP",         "status.podIPs"};
  bool known = std::find_if(std::begin(kLabels), std::end(kLabels),
                            [&](const char* l) { return field_path == l; }) != std::end(kLabels);
  if (!known) {
    std::string base, key;
    known = SplitSubscript(field_path, &base, &key) &&
            (base == "metadata.annotations" || base == "metadata.labels");
  }
  if (!known) return Invalid("field label not supported: " + field_path);

  const json::object empty;
  const json::object* spec = Obj(pod, "spec");
  if (spec == nullptr) spec = &empty;
  if (field_path == "spec.nodeName") return Str(*spec, "nodeName");
  if (field_path == "spec.serviceAccountName") return Str(*spec, "serviceAccountName");
  if (field_path == "status.hostIP") {
    std::vector<std::string> ips = HostIps(pod);
    return ips.empty() ? std::string() : ips[0];
  }
  if (field_path == "status.hostIPs") return Join(HostIps(pod), ",");
  if (field_path == "status.podIP") {
    std::vector<std::string> ips = PodIps(pod);
    return ips.empty() ? std::string() : ips[0];
  }
  if (field_path == "status.podIPs") return Join(PodIps(pod), ",");
  return internal::ExtractMetadataField(pod, field_path);
}

// ---------------------------------------------------------------- resourceFieldRef

namespace {

// The container's resources.<section>.<name> as a quantity (zero when absent).
Result<api::Quantity> ResourceOf(const json::object& container, const char* section,
                                 const std::string& name) {
  const json::object* res = Obj(container, "resources");
  const json::object* sec = res ? Obj(*res, section) : nullptr;
  const json::value* v = sec ? sec->if_contains(name) : nullptr;
  if (v == nullptr) return api::Quantity();
  if (v->is_string()) return api::Quantity::Parse(v->as_string());
  if (v->is_int64()) return api::Quantity::FromMilli(v->as_int64() * 1000);
  if (v->is_uint64()) return api::Quantity::FromMilli(static_cast<int64_t>(v->as_uint64()) * 1000);
  return Invalid("resources." + std::string(section) + "." + name + " is not a quantity");
}

int64_t CeilDiv(int64_t a, int64_t b) {
  if (b <= 0) return 0;
  if (a <= 0) return a / b;  // ceil of a non-positive quotient truncates toward zero
  return a / b + (a % b != 0 ? 1 : 0);
}

}  // namespace

Result<std::string> ResourceFieldValue(const json::object& pod, const std::string& container_name,
                                       const std::string& resource, const std::string& divisor,
                                       const VolumeOptions& node) {
  const json::object* container = internal::FindContainer(pod, container_name);
  if (container == nullptr) return Invalid("container " + container_name + " not found");

  // The zero divisor (absent or "0") means 1, as in ExtractContainerResourceValue.
  api::Quantity div = api::Quantity::FromMilli(1000);
  if (!divisor.empty()) {
    auto parsed = api::Quantity::Parse(divisor);
    if (!parsed.ok()) return parsed.status();
    if (parsed->MilliValue() != 0) div = *parsed;
  }

  size_t dot = resource.find('.');
  std::string section = dot == std::string::npos ? "" : resource.substr(0, dot);
  std::string name = dot == std::string::npos ? "" : resource.substr(dot + 1);
  bool is_cpu = name == "cpu", is_memory = name == "memory";
  bool is_storage = name == "ephemeral-storage";
  bool is_hugepages = name.rfind("hugepages-", 0) == 0;
  if ((section != "limits" && section != "requests") ||
      !(is_cpu || is_memory || is_storage || is_hugepages)) {
    return Invalid("unsupported container resource : " + resource);
  }
  ASSIGN_OR_RETURN(api::Quantity q, ResourceOf(*container, section.c_str(), name));
  // MergeContainerResourceLimits: an absent or zero cpu/memory/ephemeral-storage limit
  // reads as the node's allocatable (hugepages are never defaulted).
  if (section == "limits" && q.MilliValue() == 0) {
    if (is_cpu && node.node_allocatable_cpu_milli > 0) {
      q = api::Quantity::FromMilli(node.node_allocatable_cpu_milli);
    } else if (is_memory && node.node_allocatable_memory > 0) {
      q = api::Quantity::FromMilli(node.node_allocatable_memory * 1000);
    } else if (is_storage && node.node_allocatable_ephemeral_storage > 0) {
      q = api::Quantity::FromMilli(node.node_allocatable_ephemeral_storage * 1000);
    }
  }
  int64_t v = is_cpu ? CeilDiv(q.MilliValue(), div.MilliValue()) : CeilDiv(q.Value(), div.Value());
  return std::to_string(v);
}

// ---------------------------------------------------------------- ContainerEnv

namespace {

// Printable ASCII other than '=' (IsRelaxedEnvVarName, the rule this API server applies).
bool ValidEnvName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c < 32 || c > 126 || c == '=') return false;
  }
  return true;
}

// Name → value in first-set order; a later set replaces the value in place.
class OrderedEnv {
 public:
  void Set(const std::string& k, std::string v) {
    auto [it, inserted] = index_.emplace(k, entries_.size());
    if (inserted) {
      entries_.emplace_back(k, std::move(v));
    } else {
      entries_[it->second].second = std::move(v);
    }
  }
  const std::string* Get(std::string_view k) const {
    auto it = index_.find(std::string(k));
    return it == index_.end() ? nullptr : &entries_[it->second].second;
  }
  const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
  std::unordered_map<std::string, size_t> index_;
};

// Caches the ConfigMaps/Secrets read for one container, as the kubelet does per call.
class SourceCache {
 public:
  SourceCache(const ObjectGetter& getter, std::string ns) : getter_(getter), ns_(std::move(ns)) {}
  // The object's data, NotFound wording as the kubelet's managers word it.
  Result<const std::map<std::string, std::string>*> Data(const std::string& kind,
                                                         const std::string& name) {
    std::string key = kind + "/" + name;
    if (auto it = cache_.find(key); it != cache_.end()) return &it->second;
    ASSIGN_OR_RETURN(json::object obj, internal::GetObject(getter_, kind, ns_, name));
    // env reads ConfigMap.data only (binaryData is not offered to env), Secret.data decoded.
    ASSIGN_OR_RETURN(auto data, internal::ObjectData(obj, kind, /*include_binary=*/false));
    return &cache_.emplace(key, std::move(data)).first->second;
  }

 private:
  const ObjectGetter& getter_;
  std::string ns_;
  std::map<std::string, std::map<std::string, std::string>> cache_;
};

}  // namespace

std::vector<std::string> ServiceLinkEnv(
    const json::object& pod, const std::vector<std::shared_ptr<const json::object>>& services) {
  const json::object empty;
  const json::object* meta = Obj(pod, "metadata");
  const json::object* spec = Obj(pod, "spec");
  const std::string ns = Str(meta ? *meta : empty, "namespace");
  const json::value* links = spec ? spec->if_contains("enableServiceLinks") : nullptr;
  const bool all = !(links && links->is_bool() && !links->as_bool());
  // By name: the pod's namespace first, default/kubernetes where the name is still free.
  std::map<std::string, const json::object*> chosen;
  for (const auto& svc : services) {
    const json::object* m = Obj(*svc, "metadata");
    if (!m) continue;
    std::string sns = Str(*m, "namespace"), name = Str(*m, "name");
    if (all && sns == ns) chosen[name] = svc.get();
  }
  for (const auto& svc : services) {
    const json::object* m = Obj(*svc, "metadata");
    if (m && Str(*m, "namespace") == "default" && Str(*m, "name") == "kubernetes") {
      chosen.emplace("kubernetes", svc.get());
    }
  }
  auto var_name = [](std::string s) {
    for (char& c : s)
      c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
  };
  std::vector<std::string> out;
  for (const auto& [name, svc] : chosen) {
    const json::object* sspec = Obj(*svc, "spec");
    if (!sspec) continue;
    const std::string ip = Str(*sspec, "clusterIP");
    if (ip.empty() || ip == "None") continue;
    const json::array* ports = Arr(*sspec, "ports");
    if (!ports || ports->empty()) continue;
    const std::string prefix = var_name(name);
    bool first = true;
    for (const json::value& pv : *ports) {
      if (!pv.is_object()) continue;
      const json::object& p = pv.as_object();
      const json::value* pn = p.if_contains("port");
      if (!pn || !pn->is_int64()) continue;
      const std::string port = std::to_string(pn->as_int64());
      std::string proto = Str(p, "protocol");
      if (proto.empty()) proto = "TCP";
      const std::string lower = ToLower(proto);
      const std::string url = lower + "://" + ip + ":" + port;
      if (first) {
        out.push_back(prefix + "_SERVICE_HOST=" + ip);
        out.push_back(prefix + "_SERVICE_PORT=" + port);
        out.push_back(prefix + "_PORT=" + url);
        first = false;
      }
      if (std::string pname = Str(p, "name"); !pname.empty()) {
        out.push_back(prefix + "_SERVICE_PORT_" + var_name(pname) + "=" + port);
      }
      const std::string base = prefix + "_PORT_" + port + "_" + var_name(proto);
      out.push_back(base + "=" + url);
      out.push_back(base + "_PROTO=" + lower);
      out.push_back(base + "_PORT=" + port);
      out.push_back(base + "_ADDR=" + ip);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<std::string>> ContainerEnv(const json::object& pod,
                                              const json::object& container,
                                              const std::vector<std::string>& service_env,
                                              const ObjectGetter& getter, const VolumeOptions& node,
                                              std::vector<std::string>* warnings) {
  const json::object empty;
  const json::object* meta = Obj(pod, "metadata");
  if (meta == nullptr) meta = &empty;
  std::string ns = Str(*meta, "namespace");
  SourceCache sources(getter, ns);
  OrderedEnv env;

  std::unordered_map<std::string, std::string> service;
  for (const std::string& e : service_env) {
    size_t eq = e.find('=');
    if (eq != std::string::npos) service.emplace(e.substr(0, eq), e.substr(eq + 1));
  }

  // 1. envFrom, in order; env entries below override.
  if (const json::array* from = Arr(container, "envFrom")) {
    for (const json::value& fv : *from) {
      if (!fv.is_object()) continue;
      const json::object& f = fv.as_object();
      std::string prefix = Str(f, "prefix");
      const json::object* ref = Obj(f, "configMapRef");
      std::string kind = "ConfigMap";
      if (ref == nullptr) {
        ref = Obj(f, "secretRef");
        kind = "Secret";
      }
      if (ref == nullptr) continue;
      std::string name = Str(*ref, "name");
      auto data = sources.Data(kind, name);
      if (!data.ok()) {
        if (data.status().code() == Code::kNotFound && Bool(*ref, "optional")) continue;
        return data.status();
      }
      std::vector<std::string> invalid;
      for (const auto& [k, v] : **data) {
        std::string full = prefix + k;
        if (!ValidEnvName(full)) {
          invalid.push_back(full);
          continue;
        }
        env.Set(full, v);
      }
      if (!invalid.empty() && warnings != nullptr) {
        std::sort(invalid.begin(), invalid.end());
        std::string keys;
        for (const std::string& k : invalid) keys += (keys.empty() ? "" : ", ") + k;
        warnings->push_back("Keys [" + keys + "] from the EnvFrom " +
                            (kind == "ConfigMap" ? "configMap " : "secret ") + ns + "/" + name +
                            " were skipped since they are considered invalid environment "
                            "variable names.");
      }
    }
  }

  // 2. env entries in order: value with $(VAR) expansion, else valueFrom.
  auto lookup = [&](std::string_view name) -> std::optional<std::string> {
    if (const std::string* v = env.Get(name)) return *v;
    if (auto it = service.find(std::string(name)); it != service.end()) return it->second;
    return std::nullopt;
  };
  if (const json::array* list = Arr(container, "env")) {
    for (const json::value& ev : *list) {
      if (!ev.is_object()) continue;
      const json::object& e = ev.as_object();
      std::string name = Str(e, "name");
      std::string value = Str(e, "value");
      const json::object* from = Obj(e, "valueFrom");
      if (!value.empty()) {
        value = ExpandVars(value, lookup);
      } else if (from != nullptr) {
        if (const json::object* f = Obj(*from, "fieldRef")) {
          std::string version = Str(*f, "apiVersion", "v1");
          if (version != "v1") return Invalid("unsupported pod version: " + version);
          ASSIGN_OR_RETURN(value, PodFieldValue(pod, Str(*f, "fieldPath")));
        } else if (const json::object* r = Obj(*from, "resourceFieldRef")) {
          std::string cname = Str(*r, "containerName");
          if (cname.empty()) cname = Str(container, "name");
          std::string divisor;
          if (const json::value* d = r->if_contains("divisor")) {
            if (d->is_string()) {
              divisor = std::string(d->as_string());
            } else if (d->is_int64()) {
              divisor = std::to_string(d->as_int64());
            }
          }
          ASSIGN_OR_RETURN(value,
                           ResourceFieldValue(pod, cname, Str(*r, "resource"), divisor, node));
        } else {
          const json::object* ref = Obj(*from, "configMapKeyRef");
          std::string kind = "ConfigMap";
          if (ref == nullptr) {
            ref = Obj(*from, "secretKeyRef");
            kind = "Secret";
          }
          if (ref == nullptr) {
            // No source the kubelet knows (fileKeyRef, ...): it sets the name, empty.
            env.Set(name, "");
            continue;
          }
          std::string src = Str(*ref, "name"), key = Str(*ref, "key");
          bool optional = Bool(*ref, "optional");
          auto data = sources.Data(kind, src);
          if (!data.ok()) {
            if (data.status().code() == Code::kNotFound && optional) continue;
            return data.status();
          }
          auto it = (*data)->find(key);
          if (it == (*data)->end()) {
            if (optional) continue;
            return NotFound("couldn't find key " + key + " in " + kind + " " + ns + "/" + src);
          }
          value = it->second;
        }
      }
      env.Set(name, std::move(value));
    }
  }

  // 3. Service variables not already set.
  std::vector<std::string> out;
  out.reserve(env.entries().size() + service_env.size());
  for (const auto& [k, v] : env.entries()) out.push_back(k + "=" + v);
  for (const std::string& e : service_env) {
    size_t eq = e.find('=');
    if (eq == std::string::npos) continue;
    if (env.Get(std::string_view(e).substr(0, eq)) == nullptr) out.push_back(e);
  }
  return out;
}

}  // namespace sampan::volume
