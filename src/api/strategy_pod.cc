// Pod spec validation and what a pod update may change. Shared by Pod and every kind that
// carries a pod template.
#include <boost/json.hpp>
#include <map>
#include <set>

#include "api/json_util.h"
#include "api/quantity.h"
#include "api/strategy_internal.h"
#include "api/validate.h"

namespace sampan::api::strategy {
// ---- validation -----------------------------------------------------------------------------

namespace {

std::optional<Quantity> QuantityOf(const json::value& v) {
  std::string text;
  if (v.is_string()) {
    text = std::string(v.as_string());
  } else if (v.is_number()) {
    text = json::serialize(v);
  } else {
    return std::nullopt;
  }
  Result<Quantity> q = Quantity::Parse(text);
  if (!q.ok()) return std::nullopt;
  return *q;
}

// A probe or lifecycle port: 1..65535 or an IANA service name.
void ValidateNamedPort(const json::object& action, const std::string& path, Errors& errors) {
  const json::value* port = action.if_contains("port");
  if (port == nullptr || port->is_null()) {
    errors.Required(Child(path, "port"));
    return;
  }
  if (port->is_string()) {
    std::string_view name = port->as_string();
    errors.NameProblems(Child(path, "port"), name, IanaServiceNameProblems(name));
  } else if (auto n = Int(action, "port"); n && !ValidPort(*n)) {
    errors.Invalid(Child(path, "port"), *port, "must be between 1 and 65535, inclusive");
  }
}

// Exactly one handler among `kinds`.
void ValidateHandler(const json::object& h, const std::string& path,
                     std::initializer_list<const char*> kinds, Errors& errors) {
  int n = 0;
  for (const char* k : kinds) {
    if (!Has(h, k)) continue;
    if (++n > 1) {
      errors.Forbidden(Child(path, k), "may not specify more than 1 handler type");
      continue;
    }
    const json::object* action = Obj(h, k);
    if (action == nullptr) continue;
    std::string ap = Child(path, k);
    if (std::string_view(k) == "httpGet" || std::string_view(k) == "tcpSocket") {
      ValidateNamedPort(*action, ap, errors);
    } else if (std::string_view(k) == "grpc") {
      if (auto p = Int(*action, "port"); p && !ValidPort(*p)) {
        errors.Invalid(Child(ap, "port"), json::value(*p),
                       "must be between 1 and 65535, inclusive");
      }
    } else if (std::string_view(k) == "exec") {
      const json::array* cmd = Arr(*action, "command");
      if (cmd == nullptr || cmd->empty()) errors.Required(Child(ap, "command"));
    } else if (std::string_view(k) == "sleep") {
      if (auto s = Int(*action, "seconds"); s && *s < 0) {
        errors.Invalid(Child(ap, "seconds"), json::value(*s), "must be non-negative");
      }
    }
  }
  if (n == 0) errors.Required(path, "must specify a handler type");
}

void ValidateProbe(const json::object& c, std::string_view key, const std::string& cpath,
                   Errors& errors) {
  const json::object* probe = Obj(c, key);
  if (probe == nullptr) return;
  std::string path = Child(cpath, key);
  ValidateHandler(*probe, path, {"exec", "httpGet", "tcpSocket", "grpc"}, errors);
  for (const char* f : {"initialDelaySeconds", "timeoutSeconds", "periodSeconds",
                        "successThreshold", "failureThreshold"}) {
    NonNegative(*probe, f, Child(path, f), errors);
  }
  if (key != "readinessProbe") {
    if (auto s = Int(*probe, "successThreshold"); s && *s != 1) {
      errors.Invalid(Child(path, "successThreshold"), json::value(*s), "must be 1");
    }
  } else if (Has(*probe, "terminationGracePeriodSeconds")) {
    errors.Invalid(Child(path, "terminationGracePeriodSeconds"),
                   probe->at("terminationGracePeriodSeconds"),
                   "must not be set for readinessProbes");
  }
  if (auto t = Int(*probe, "terminationGracePeriodSeconds"); t && *t <= 0) {
    errors.Invalid(Child(path, "terminationGracePeriodSeconds"), json::value(*t),
                   "must be greater than 0");
  }
}

// Printable ASCII without '=' (the relaxed rule of Kubernetes 1.32; the strict one is a subset).
bool ValidEnvName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c < 32 || c > 126 || c == '=') return false;
  }
  return true;
}

void ValidateEnv(const json::object& c, const std::string& cpath, Errors& errors) {
  if (const json::array* env = Arr(c, "env")) {
    for (size_t i = 0; i < env->size(); ++i) {
      if (!(*env)[i].is_object()) continue;
      const json::object& e = (*env)[i].as_object();
      std::string p = Index(Child(cpath, "env"), i);
      std::string_view name = Str(e, "name").value_or("");
      if (name.empty()) {
        errors.Required(Child(p, "name"));
      } else if (!ValidEnvName(name)) {
        errors.InvalidString(Child(p, "name"), name,
                             "a valid environment variable name must consist only of printable "
                             "ASCII characters other than '='");
      }
      const json::object* from = Obj(e, "valueFrom");
      if (from == nullptr) continue;
      std::string fp = Child(p, "valueFrom");
      if (!Str(e, "value").value_or("").empty()) {
        errors.InvalidString(fp, "", "may not be specified when `value` is not empty");
      }
      int n = 0;
      for (const char* k : {"fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef"}) {
        if (Has(*from, k)) ++n;
      }
      if (n == 0) {
        errors.InvalidString(fp, "",
                             "must specify one of: `fieldRef`, `resourceFieldRef`, "
                             "`configMapKeyRef` or `secretKeyRef`");
      } else if (n > 1) {
        errors.InvalidString(fp, "", "may not have more than one field specified at a time");
      }
      if (const json::object* fr = Obj(*from, "fieldRef"); fr && !Has(*fr, "fieldPath")) {
        errors.Required(Child(fp, "fieldRef.fieldPath"));
      }
      if (const json::object* rr = Obj(*from, "resourceFieldRef"); rr && !Has(*rr, "resource")) {
        errors.Required(Child(fp, "resourceFieldRef.resource"));
      }
      for (const char* k : {"configMapKeyRef", "secretKeyRef"}) {
        if (const json::object* ref = Obj(*from, k)) {
          if (Str(*ref, "key").value_or("").empty())
            errors.Required(Child(fp, std::string(k) + ".key"));
          if (Str(*ref, "name").value_or("").empty())
            errors.Required(Child(fp, std::string(k) + ".name"));
        }
      }
    }
  }
  if (const json::array* env_from = Arr(c, "envFrom")) {
    for (size_t i = 0; i < env_from->size(); ++i) {
      if (!(*env_from)[i].is_object()) continue;
      const json::object& e = (*env_from)[i].as_object();
      std::string p = Index(Child(cpath, "envFrom"), i);
      bool cm = Has(e, "configMapRef"), sec = Has(e, "secretRef");
      if (cm && sec) {
        errors.InvalidString(p, "", "may not have more than one field specified at a time");
      } else if (!cm && !sec) {
        errors.InvalidString(p, "", "must specify one of: `configMapRef` or `secretRef`");
      }
    }
  }
}

void ValidateResources(const json::object& c, const std::string& cpath, Errors& errors) {
  const json::object* res = Obj(c, "resources");
  if (res == nullptr) return;
  std::string path = Child(cpath, "resources");
  std::map<std::string, Quantity> limits;
  for (const char* list : {"limits", "requests"}) {
    const json::object* q = Obj(*res, list);
    if (q == nullptr) continue;
    for (const auto& kv : *q) {
      std::string p = Child(path, list) + "[" + std::string(kv.key()) + "]";
      std::optional<Quantity> v = QuantityOf(kv.value());
      if (!v) continue;  // malformed quantities are the schema check's
      if (v->Compare(Quantity()) < 0) {
        errors.Invalid(p, kv.value(), "must be greater than or equal to 0");
        continue;
      }
      if (std::string_view(list) == "limits") {
        limits.emplace(std::string(kv.key()), *v);
      } else if (auto it = limits.find(std::string(kv.key())); it != limits.end()) {
        if (v->Compare(it->second) > 0) {
          errors.Invalid(p, kv.value(),
                         "must be less than or equal to " + std::string(kv.key()) + " limit of " +
                             it->second.ToString());
        }
      }
    }
  }
}

struct ContainerContext {
  PodSpecOwner owner;
  bool init = false;
  bool ephemeral = false;
  bool host_network = false;
  const std::set<std::string>* volume_names;
};

void ValidateContainer(const json::object& c, const std::string& path, const ContainerContext& ctx,
                       Errors& errors) {
  std::string_view name = Str(c, "name").value_or("");
  if (name.empty()) {
    errors.Required(Child(path, "name"));
  } else {
    errors.NameProblems(Child(path, "name"), name, IsDns1123Label(name));
  }
  std::string_view image = Str(c, "image").value_or("");
  if (image.empty()) {
    errors.Required(Child(path, "image"));
  } else if (ctx.owner == PodSpecOwner::kPod && (image.front() == ' ' || image.back() == ' ' ||
                                                 image.front() == '\t' || image.back() == '\t')) {
    errors.InvalidString(Child(path, "image"), image,
                         "must not have leading or trailing whitespace");
  }

  // Ports.
  if (const json::array* ports = Arr(c, "ports")) {
    std::set<std::string> port_names;
    for (size_t i = 0; i < ports->size(); ++i) {
      if (!(*ports)[i].is_object()) continue;
      const json::object& p = (*ports)[i].as_object();
      std::string pp = Index(Child(path, "ports"), i);
      if (auto cp = Int(p, "containerPort"); cp && !ValidPort(*cp)) {
        errors.Invalid(Child(pp, "containerPort"), json::value(*cp),
                       "must be between 1 and 65535, inclusive");
      }
      if (auto hp = Int(p, "hostPort"); hp && *hp != 0) {
        if (!ValidPort(*hp)) {
          errors.Invalid(Child(pp, "hostPort"), json::value(*hp),
                         "must be between 1 and 65535, inclusive");
        } else if (ctx.host_network && Int(p, "containerPort") && *hp != *Int(p, "containerPort")) {
          errors.Invalid(Child(pp, "hostPort"), json::value(*hp),
                         "must match `containerPort` when `hostNetwork` is true");
        }
      }
      if (auto pn = Str(p, "name"); pn && !pn->empty()) {
        errors.NameProblems(Child(pp, "name"), *pn, IanaServiceNameProblems(*pn));
        if (!port_names.insert(std::string(*pn)).second) {
          errors.Duplicate(Child(pp, "name"), json::value(*pn));
        }
      }
    }
    if (ctx.ephemeral && !ports->empty()) {
      errors.Forbidden(Child(path, "ports"), "cannot be set on ephemeral containers");
    }
  }

  ValidateEnv(c, path, errors);
  ValidateResources(c, path, errors);

  // Volume mounts and devices refer to volumes of the pod.
  if (const json::array* mounts = Arr(c, "volumeMounts")) {
    std::set<std::string> paths;
    for (size_t i = 0; i < mounts->size(); ++i) {
      if (!(*mounts)[i].is_object()) continue;
      const json::object& m = (*mounts)[i].as_object();
      std::string mp = Index(Child(path, "volumeMounts"), i);
      std::string_view vname = Str(m, "name").value_or("");
      if (vname.empty()) {
        errors.Required(Child(mp, "name"));
      } else if (!ctx.volume_names->contains(std::string(vname))) {
        errors.NotFound(Child(mp, "name"), vname);
      }
      std::string_view mount_path = Str(m, "mountPath").value_or("");
      if (mount_path.empty()) {
        errors.Required(Child(mp, "mountPath"));
      } else if (!paths.insert(std::string(mount_path)).second) {
        errors.InvalidString(Child(mp, "mountPath"), mount_path, "must be unique");
      }
      if (auto sub = Str(m, "subPath"); sub && !sub->empty()) {
        if (sub->front() == '/') {
          errors.InvalidString(Child(mp, "subPath"), *sub, "must be a relative path");
        } else if (*sub == ".." || sub->starts_with("../") || sub->ends_with("/..") ||
                   sub->find("/../") != std::string_view::npos) {
          errors.InvalidString(Child(mp, "subPath"), *sub, "must not contain '..'");
        }
      }
      if (Has(m, "subPath") && Has(m, "subPathExpr") && !Str(m, "subPath").value_or("").empty()) {
        errors.InvalidString(Child(mp, "subPathExpr"), Str(m, "subPathExpr").value_or(""),
                             "subPathExpr and subPath are mutually exclusive");
      }
    }
  }
  if (const json::array* devices = Arr(c, "volumeDevices")) {
    for (size_t i = 0; i < devices->size(); ++i) {
      if (!(*devices)[i].is_object()) continue;
      const json::object& d = (*devices)[i].as_object();
      std::string dp = Index(Child(path, "volumeDevices"), i);
      std::string_view vname = Str(d, "name").value_or("");
      if (vname.empty()) {
        errors.Required(Child(dp, "name"));
      } else if (!ctx.volume_names->contains(std::string(vname))) {
        errors.NotFound(Child(dp, "name"), vname);
      }
      if (Str(d, "devicePath").value_or("").empty()) errors.Required(Child(dp, "devicePath"));
    }
  }

  // Probes and lifecycle hooks.
  std::string_view restart = Str(c, "restartPolicy").value_or("");
  bool sidecar = ctx.init && restart == "Always";
  if (Has(c, "restartPolicy")) {
    if (!ctx.init) {
      errors.Forbidden(Child(path, "restartPolicy"), "may not be set for non-init containers");
    } else if (restart != "Always") {
      errors.Unsupported(Child(path, "restartPolicy"), restart, {"Always"});
    }
  }
  for (const char* probe : {"livenessProbe", "readinessProbe", "startupProbe"}) {
    if (!Has(c, probe)) continue;
    if ((ctx.init && !sidecar) || ctx.ephemeral) {
      errors.Forbidden(Child(path, probe), ctx.ephemeral
                                               ? "cannot be set on ephemeral containers"
                                               : "may not be set for init containers without "
                                                 "restartPolicy=Always");
      continue;
    }
    ValidateProbe(c, probe, path, errors);
  }
  if (const json::object* lc = Obj(c, "lifecycle")) {
    if ((ctx.init && !sidecar) || ctx.ephemeral) {
      errors.Forbidden(Child(path, "lifecycle"), ctx.ephemeral
                                                     ? "cannot be set on ephemeral containers"
                                                     : "may not be set for init containers without "
                                                       "restartPolicy=Always");
    } else {
      for (const char* hook : {"postStart", "preStop"}) {
        if (const json::object* h = Obj(*lc, hook)) {
          ValidateHandler(*h, Child(Child(path, "lifecycle"), hook),
                          {"exec", "httpGet", "tcpSocket", "sleep"}, errors);
        }
      }
    }
  }

  if (const json::object* sc = Obj(c, "securityContext")) {
    std::string sp = Child(path, "securityContext");
    if (Bool(*sc, "privileged").value_or(false) &&
        Bool(*sc, "allowPrivilegeEscalation") == std::optional<bool>(false)) {
      errors.InvalidString(
          sp, "", "cannot set `allowPrivilegeEscalation` to false and `privileged` to true");
    }
    for (const char* id : {"runAsUser", "runAsGroup"}) {
      if (auto v = Int(*sc, id); v && (*v < 0 || *v > 2147483647)) {
        errors.Invalid(Child(sp, id), json::value(*v),
                       "must be between 0 and 2147483647, inclusive");
      }
    }
  }
}

// Exactly one source per volume, and the required parts of the common ones.
void ValidateVolumes(const json::object& spec, const std::string& path,
                     std::set<std::string>* names, Errors& errors) {
  const json::array* volumes = Arr(spec, "volumes");
  if (volumes == nullptr) return;
  for (size_t i = 0; i < volumes->size(); ++i) {
    if (!(*volumes)[i].is_object()) continue;
    const json::object& v = (*volumes)[i].as_object();
    std::string vp = Index(Child(path, "volumes"), i);
    std::string_view name = Str(v, "name").value_or("");
    if (name.empty()) {
      errors.Required(Child(vp, "name"));
    } else {
      errors.NameProblems(Child(vp, "name"), name, IsDns1123Label(name));
      if (!names->insert(std::string(name)).second) {
        errors.Duplicate(Child(vp, "name"), json::value(name));
      }
    }
    int n = 0;
    for (std::string_view s : PodVolumeSources()) {
      if (Has(v, s) && ++n > 1) {
        errors.Forbidden(Child(vp, s), "may not specify more than 1 volume type");
      }
    }
    if (n == 0) errors.Required(vp, "must specify a volume type");
    auto mode = [&](const json::object& src, const std::string& sp) {
      if (auto m = Int(src, "defaultMode"); m && (*m < 0 || *m > 0777)) {
        errors.Invalid(Child(sp, "defaultMode"), json::value(*m),
                       "must be a number between 0 and 0777 (octal), both inclusive");
      }
    };
    if (const json::object* s = Obj(v, "persistentVolumeClaim");
        s && Str(*s, "claimName").value_or("").empty()) {
      errors.Required(Child(vp, "persistentVolumeClaim.claimName"));
    }
    if (const json::object* s = Obj(v, "hostPath"); s && Str(*s, "path").value_or("").empty()) {
      errors.Required(Child(vp, "hostPath.path"));
    }
    if (const json::object* s = Obj(v, "secret")) mode(*s, Child(vp, "secret"));
    if (const json::object* s = Obj(v, "configMap")) mode(*s, Child(vp, "configMap"));
    if (const json::object* s = Obj(v, "projected")) mode(*s, Child(vp, "projected"));
    if (const json::object* s = Obj(v, "downwardAPI")) mode(*s, Child(vp, "downwardAPI"));
    if (const json::object* s = Obj(v, "nfs")) {
      if (Str(*s, "server").value_or("").empty()) errors.Required(Child(vp, "nfs.server"));
      if (Str(*s, "path").value_or("").empty()) errors.Required(Child(vp, "nfs.path"));
    }
    if (const json::object* s = Obj(v, "emptyDir")) {
      if (const json::value* limit = s->if_contains("sizeLimit")) {
        if (auto q = QuantityOf(*limit); q && q->Compare(Quantity()) < 0) {
          errors.Invalid(Child(vp, "emptyDir.sizeLimit"), *limit,
                         "must be greater than or equal to 0");
        }
      }
    }
  }
}

void ValidateTolerations(const json::object& spec, const std::string& path, Errors& errors) {
  const json::array* tols = Arr(spec, "tolerations");
  if (tols == nullptr) return;
  for (size_t i = 0; i < tols->size(); ++i) {
    if (!(*tols)[i].is_object()) continue;
    const json::object& t = (*tols)[i].as_object();
    std::string tp = Index(Child(path, "tolerations"), i);
    std::string_view key = Str(t, "key").value_or("");
    std::string_view op = Str(t, "operator").value_or("");
    if (!key.empty()) errors.NameProblems(Child(tp, "key"), key, IsQualifiedName(key));
    if (key.empty() && op != "Exists") {
      errors.InvalidString(Child(tp, "operator"), op,
                           "operator must be Exists when `key` is empty, which means \"match all "
                           "values and all keys\"");
    }
    if (op == "Exists" && !Str(t, "value").value_or("").empty()) {
      errors.InvalidString(Child(tp, "operator"), Str(t, "value").value_or(""),
                           "value must be empty when `operator` is 'Exists'");
    } else if (op != "Exists" && op != "Equal" && !op.empty()) {
      errors.Unsupported(Child(tp, "operator"), op, {"Equal", "Exists"});
    }
    if (Has(t, "tolerationSeconds") && Str(t, "effect").value_or("") != "NoExecute") {
      errors.InvalidString(Child(tp, "effect"), Str(t, "effect").value_or(""),
                           "effect must be 'NoExecute' when `tolerationSeconds` is set");
    }
  }
}

void ValidateSpreadAndAffinity(const json::object& spec, const std::string& path, Errors& errors) {
  if (const json::array* tsc = Arr(spec, "topologySpreadConstraints")) {
    std::set<std::string> seen;
    for (size_t i = 0; i < tsc->size(); ++i) {
      if (!(*tsc)[i].is_object()) continue;
      const json::object& c = (*tsc)[i].as_object();
      std::string cp = Index(Child(path, "topologySpreadConstraints"), i);
      if (auto skew = Int(c, "maxSkew"); skew && *skew <= 0) {
        errors.Invalid(Child(cp, "maxSkew"), json::value(*skew), "must be greater than zero");
      }
      if (auto md = Int(c, "minDomains"); md && *md <= 0) {
        errors.Invalid(Child(cp, "minDomains"), json::value(*md), "must be greater than zero");
      }
      std::string_view key = Str(c, "topologyKey").value_or("");
      if (key.empty()) {
        errors.Required(Child(cp, "topologyKey"), "can not be empty");
      } else if (!seen.insert(std::string(key) + "\n" +
                              std::string(Str(c, "whenUnsatisfiable").value_or("")))
                      .second) {
        errors.Duplicate(Child(cp, "{topologyKey, whenUnsatisfiable}"),
                         json::value(std::string(key) + ", " +
                                     std::string(Str(c, "whenUnsatisfiable").value_or(""))));
      }
      ValidateLabelSelector(c.if_contains("labelSelector"), Child(cp, "labelSelector"), errors);
    }
  }
  const json::object* affinity = Obj(spec, "affinity");
  if (affinity == nullptr) return;
  for (const char* kind : {"podAffinity", "podAntiAffinity"}) {
    const json::object* pa = Obj(*affinity, kind);
    if (pa == nullptr) continue;
    std::string base = Child(Child(path, "affinity"), kind);
    if (const json::array* req = Arr(*pa, "requiredDuringSchedulingIgnoredDuringExecution")) {
      for (size_t i = 0; i < req->size(); ++i) {
        if (!(*req)[i].is_object()) continue;
        std::string tp = Index(Child(base, "requiredDuringSchedulingIgnoredDuringExecution"), i);
        if (Str((*req)[i].as_object(), "topologyKey").value_or("").empty()) {
          errors.Required(Child(tp, "topologyKey"), "can not be empty");
        }
      }
    }
    if (const json::array* pref = Arr(*pa, "preferredDuringSchedulingIgnoredDuringExecution")) {
      for (size_t i = 0; i < pref->size(); ++i) {
        if (!(*pref)[i].is_object()) continue;
        std::string tp = Index(Child(base, "preferredDuringSchedulingIgnoredDuringExecution"), i);
        const json::object& w = (*pref)[i].as_object();
        if (auto weight = Int(w, "weight"); weight && (*weight < 1 || *weight > 100)) {
          errors.Invalid(Child(tp, "weight"), json::value(*weight), "must be in the range 1-100");
        }
        if (const json::object* term = Obj(w, "podAffinityTerm");
            term && Str(*term, "topologyKey").value_or("").empty()) {
          errors.Required(Child(tp, "podAffinityTerm.topologyKey"), "can not be empty");
        }
      }
    }
  }
}

}  // namespace

void ValidatePodSpec(const json::object& spec, const std::string& path, PodSpecOwner owner,
                     Errors& errors) {
  std::set<std::string> volume_names;
  ValidateVolumes(spec, path, &volume_names, errors);
  ContainerContext ctx{owner, false, false, Bool(spec, "hostNetwork").value_or(false),
                       &volume_names};

  std::set<std::string> container_names;
  auto check_list = [&](const char* list, bool init, bool ephemeral) {
    const json::array* cs = Arr(spec, list);
    if (cs == nullptr) return;
    for (size_t i = 0; i < cs->size(); ++i) {
      if (!(*cs)[i].is_object()) continue;
      const json::object& c = (*cs)[i].as_object();
      std::string cp = Index(Child(path, list), i);
      ContainerContext cc = ctx;
      cc.init = init;
      cc.ephemeral = ephemeral;
      ValidateContainer(c, cp, cc, errors);
      if (auto name = Str(c, "name");
          name && !name->empty() && !container_names.insert(std::string(*name)).second) {
        errors.Duplicate(Child(cp, "name"), json::value(*name));
      }
    }
  };
  const json::array* containers = Arr(spec, "containers");
  if (containers == nullptr || containers->empty()) errors.Required(Child(path, "containers"));
  check_list("initContainers", true, false);
  check_list("containers", false, false);
  check_list("ephemeralContainers", false, true);

  std::string_view restart = Str(spec, "restartPolicy").value_or("");
  if (owner == PodSpecOwner::kWorkload && !restart.empty() && restart != "Always") {
    errors.Unsupported(Child(path, "restartPolicy"), restart, {"Always"});
  } else if (owner == PodSpecOwner::kJob && restart != "OnFailure" && restart != "Never") {
    errors.Unsupported(Child(path, "restartPolicy"), restart, {"OnFailure", "Never"});
  }
  if (auto ads = Int(spec, "activeDeadlineSeconds"); ads && (*ads < 1 || *ads > 2147483647)) {
    errors.Invalid(Child(path, "activeDeadlineSeconds"), json::value(*ads),
                   "must be between 1 and 2147483647, inclusive");
  }
  if (Str(spec, "dnsPolicy").value_or("") == "None" && !Has(spec, "dnsConfig")) {
    errors.Required(Child(path, "dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None");
  }
  for (const char* f : {"hostname", "subdomain"}) {
    if (auto v = Str(spec, f); v && !v->empty()) {
      errors.NameProblems(Child(path, f), *v, IsDns1123Label(*v));
    }
  }
  for (const char* f : {"serviceAccountName", "nodeName", "priorityClassName"}) {
    if (auto v = Str(spec, f); v && !v->empty()) {
      errors.NameProblems(Child(path, f), *v, IsDns1123Subdomain(*v));
    }
  }
  if (const json::object* ns = Obj(spec, "nodeSelector")) {
    for (const auto& kv : *ns) {
      errors.NameProblems(Child(path, "nodeSelector"), kv.key(), IsQualifiedName(kv.key()));
      if (kv.value().is_string()) {
        errors.NameProblems(Child(path, "nodeSelector"), kv.value().as_string(),
                            IsValidLabelValue(kv.value().as_string()));
      }
    }
  }
  ValidateTolerations(spec, path, errors);
  ValidateSpreadAndAffinity(spec, path, errors);
}

void ValidatePodTemplate(const json::object* tmpl, const std::string& path, PodSpecOwner owner,
                         Errors& errors) {
  if (tmpl == nullptr) {
    errors.Required(path);
    return;
  }
  if (const json::object* meta = Obj(*tmpl, "metadata")) {
    if (const json::object* labels = Obj(*meta, "labels")) {
      for (const auto& kv : *labels) {
        std::string lp = Child(path, "metadata.labels");
        errors.NameProblems(lp, kv.key(), IsQualifiedName(kv.key()));
        if (kv.value().is_string()) {
          errors.NameProblems(lp, kv.value().as_string(),
                              IsValidLabelValue(kv.value().as_string()));
        }
      }
    }
  }
  const json::object* spec = Obj(*tmpl, "spec");
  if (spec == nullptr) {
    errors.Required(Child(path, "spec.containers"));
    return;
  }
  ValidatePodSpec(*spec, Child(path, "spec"), owner, errors);
}

// ---- pod updates ----------------------------------------------------------------------------

void ValidatePodUpdate(const json::object& obj, const json::object& old, Errors& errors) {
  // The common case (status writes, metadata edits): the spec did not change at all.
  const json::value* new_value = obj.if_contains("spec");
  const json::value* old_value = old.if_contains("spec");
  if (new_value && old_value && JsonEqual(*new_value, *old_value)) return;
  const json::object empty;
  const json::object* new_spec = Obj(obj, "spec");
  const json::object* old_spec = Obj(old, "spec");
  json::object a = new_spec ? *new_spec : empty;
  json::object b = old_spec ? *old_spec : empty;

  // Images may change: copy the new images onto the old spec's containers by position.
  for (const char* list : {"containers", "initContainers"}) {
    json::array* na = MutArr(a, list);
    json::array* oa = MutArr(b, list);
    if (!na || !oa || na->size() != oa->size()) continue;
    for (size_t i = 0; i < na->size(); ++i) {
      if (!(*na)[i].is_object() || !(*oa)[i].is_object()) continue;
      json::object& o = (*oa)[i].as_object();
      const json::object& n = (*na)[i].as_object();
      if (const json::value* img = n.if_contains("image")) {
        o["image"] = *img;
      }
      if (Str(n, "image").value_or("").empty()) {
        errors.Required(Index(Child("spec", list), i) + ".image");
      }
    }
  }
  // activeDeadlineSeconds: may be set, or lowered, never removed or raised.
  auto new_ads = Int(a, "activeDeadlineSeconds");
  auto old_ads = Int(b, "activeDeadlineSeconds");
  if (old_ads && !new_ads) {
    errors.InvalidString("spec.activeDeadlineSeconds", "",
                         "must not update from a positive integer to nil value");
  } else if (old_ads && new_ads && *new_ads > *old_ads) {
    errors.Invalid("spec.activeDeadlineSeconds", json::value(*new_ads),
                   "must be less than or equal to previous value");
  }
  a.erase("activeDeadlineSeconds");
  b.erase("activeDeadlineSeconds");
  // Tolerations: only additions.
  const json::array* nt = Arr(a, "tolerations");
  const json::array* ot = Arr(b, "tolerations");
  bool tolerations_ok = true;
  if (ot != nullptr) {
    for (const json::value& t : *ot) {
      bool found = false;
      if (nt != nullptr) {
        for (const json::value& u : *nt) {
          if (JsonEqual(t, u)) found = true;
        }
      }
      tolerations_ok = tolerations_ok && found;
    }
  }
  if (tolerations_ok) {
    a.erase("tolerations");
    b.erase("tolerations");
  }
  // Scheduling gates: only removals.
  const json::array* ng = Arr(a, "schedulingGates");
  const json::array* og = Arr(b, "schedulingGates");
  bool gates_ok = true;
  if (ng != nullptr) {
    for (const json::value& g : *ng) {
      bool found = false;
      if (og != nullptr) {
        for (const json::value& h : *og) found = found || JsonEqual(g, h);
      }
      gates_ok = gates_ok && found;
    }
  }
  if (gates_ok) {
    a.erase("schedulingGates");
    b.erase("schedulingGates");
  }
  // A negative grace period (legacy) may be fixed to 1.
  if (auto og_period = Int(b, "terminationGracePeriodSeconds");
      og_period && *og_period < 0 && Int(a, "terminationGracePeriodSeconds") == 1) {
    a.erase("terminationGracePeriodSeconds");
    b.erase("terminationGracePeriodSeconds");
  }
  if (!JsonEqual(json::value(a), json::value(b))) {
    errors.Forbidden(
        "spec",
        "pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
        "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to "
        "be set to 1 if it was previously negative)");
  }
}

// ---- QoS ------------------------------------------------------------------------------------

std::string PodQosClass(const json::object& spec) {
  bool any = false, guaranteed = true;
  for (const char* list : {"initContainers", "containers"}) {
    const json::array* cs = Arr(spec, list);
    if (cs == nullptr) continue;
    for (const json::value& cv : *cs) {
      if (!cv.is_object()) continue;
      const json::object* res = Obj(cv.as_object(), "resources");
      const json::object* limits = res ? Obj(*res, "limits") : nullptr;
      const json::object* requests = res ? Obj(*res, "requests") : nullptr;
      for (const char* r : {"cpu", "memory"}) {
        const json::value* l = limits ? limits->if_contains(r) : nullptr;
        const json::value* q = requests ? requests->if_contains(r) : nullptr;
        std::optional<Quantity> lq = l ? QuantityOf(*l) : std::nullopt;
        std::optional<Quantity> rq = q ? QuantityOf(*q) : lq;  // requests default to limits
        if ((lq && lq->Compare(Quantity()) > 0) || (rq && rq->Compare(Quantity()) > 0)) any = true;
        if (!lq || !rq || lq->Compare(*rq) != 0) guaranteed = false;
      }
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

}  // namespace sampan::api::strategy
