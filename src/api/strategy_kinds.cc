// Per-kind validation beyond the pod spec: workloads, services, config, storage and the
// rest of the built-in kinds (updates: strategy_updates.cc).
#include <boost/json.hpp>
#include <set>

#include "api/json_util.h"
#include "api/quantity.h"
#include "api/strategy_internal.h"
#include "api/validate.h"

namespace sampan::api::strategy {
namespace {

bool Is(const KindInfo& k, std::string_view group, std::string_view kind) {
  return k.group == group && k.kind == kind;
}

// An int-or-percent ("25%" or 3) that must not be negative nor over 100%.
void IntOrPercent(const json::object& o, std::string_view key, const std::string& path,
                  Errors& errors) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return;
  if (v->is_string()) {
    std::string_view s = v->as_string();
    int64_t pct = -1;
    if (s.size() >= 2 && s.back() == '%') {
      pct = 0;
      for (char c : s.substr(0, s.size() - 1)) {
        if (c < '0' || c > '9' || pct > 100000) {
          pct = -1;
          break;
        }
        pct = pct * 10 + (c - '0');
      }
    }
    if (pct < 0) {
      errors.Invalid(path, *v,
                     "a valid percent string must be a numeric string followed by an ending '%' "
                     "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')");
    } else if (pct > 100) {
      errors.Invalid(path, *v, "must not be greater than 100%");
    }
  } else if (auto n = Int(o, key); n && *n < 0) {
    errors.Invalid(path, *v, "must be greater than or equal to 0");
  }
}

bool IsZeroIntOrPercent(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return false;
  if (v->is_string()) return v->as_string() == "0%" || v->as_string() == "0";
  return Int(o, key) == 0;
}

// ---- workloads ------------------------------------------------------------------------------

void ValidateWorkloadCommon(const json::object& spec, std::string_view kind_lower, Errors& errors) {
  NonNegative(spec, "replicas", "spec.replicas", errors);
  NonNegative(spec, "minReadySeconds", "spec.minReadySeconds", errors);
  NonNegative(spec, "revisionHistoryLimit", "spec.revisionHistoryLimit", errors);
  ValidateSelectorMatchesTemplate(spec, "spec", kind_lower, errors);
  ValidatePodTemplate(Obj(spec, "template"), "spec.template", PodSpecOwner::kWorkload, errors);
}

void ValidateDeployment(const json::object& obj, Errors& errors) {
  const json::object& spec = SpecOf(obj);
  ValidateWorkloadCommon(spec, "deployment", errors);
  if (const json::object* strategy = Obj(spec, "strategy")) {
    std::string_view type = Str(*strategy, "type").value_or("");
    const json::object* ru = Obj(*strategy, "rollingUpdate");
    if (type == "Recreate" && ru != nullptr) {
      errors.Forbidden("spec.strategy.rollingUpdate",
                       "may not be specified when strategy `type` is 'Recreate'");
    }
    if (type == "RollingUpdate" && ru != nullptr) {
      IntOrPercent(*ru, "maxUnavailable", "spec.strategy.rollingUpdate.maxUnavailable", errors);
      IntOrPercent(*ru, "maxSurge", "spec.strategy.rollingUpdate.maxSurge", errors);
      if (IsZeroIntOrPercent(*ru, "maxUnavailable") && IsZeroIntOrPercent(*ru, "maxSurge")) {
        errors.Invalid("spec.strategy.rollingUpdate.maxUnavailable", ru->at("maxUnavailable"),
                       "may not be 0 when `maxSurge` is 0");
      }
    }
  }
  if (auto pds = Int(spec, "progressDeadlineSeconds")) {
    if (*pds < 0) {
      errors.Invalid("spec.progressDeadlineSeconds", json::value(*pds),
                     "must be greater than or equal to 0");
    } else if (*pds <= Int(spec, "minReadySeconds").value_or(0)) {
      errors.Invalid("spec.progressDeadlineSeconds", json::value(*pds),
                     "must be greater than minReadySeconds");
    }
  }
}

void ValidateDaemonSet(const json::object& obj, Errors& errors) {
  const json::object& spec = SpecOf(obj);
  ValidateWorkloadCommon(spec, "daemonset", errors);
  if (const json::object* us = Obj(spec, "updateStrategy")) {
    if (const json::object* ru = Obj(*us, "rollingUpdate")) {
      IntOrPercent(*ru, "maxUnavailable", "spec.updateStrategy.rollingUpdate.maxUnavailable",
                   errors);
      IntOrPercent(*ru, "maxSurge", "spec.updateStrategy.rollingUpdate.maxSurge", errors);
      if (IsZeroIntOrPercent(*ru, "maxUnavailable") && IsZeroIntOrPercent(*ru, "maxSurge")) {
        errors.Invalid("spec.updateStrategy.rollingUpdate.maxUnavailable", ru->at("maxUnavailable"),
                       "may not be 0 when `maxSurge` is 0");
      }
    }
  }
}

void ValidateStatefulSet(const json::object& obj, Errors& errors) {
  const json::object& spec = SpecOf(obj);
  ValidateWorkloadCommon(spec, "statefulset", errors);
  if (const json::object* us = Obj(spec, "updateStrategy")) {
    std::string_view type = Str(*us, "type").value_or("");
    if (type == "OnDelete" && Has(*us, "rollingUpdate")) {
      errors.Invalid("spec.updateStrategy.rollingUpdate", us->at("rollingUpdate"),
                     "only allowed for updateStrategy 'RollingUpdate'");
    }
    if (const json::object* ru = Obj(*us, "rollingUpdate")) {
      NonNegative(*ru, "partition", "spec.updateStrategy.rollingUpdate.partition", errors);
      if (Has(*ru, "maxUnavailable")) {
        IntOrPercent(*ru, "maxUnavailable", "spec.updateStrategy.rollingUpdate.maxUnavailable",
                     errors);
        if (IsZeroIntOrPercent(*ru, "maxUnavailable")) {
          errors.Invalid("spec.updateStrategy.rollingUpdate.maxUnavailable",
                         ru->at("maxUnavailable"), "must be greater than 0");
        }
      }
    }
  }
  if (const json::object* ordinals = Obj(spec, "ordinals")) {
    NonNegative(*ordinals, "start", "spec.ordinals.start", errors);
  }
  if (const json::array* claims = Arr(spec, "volumeClaimTemplates")) {
    for (size_t i = 0; i < claims->size(); ++i) {
      if (!(*claims)[i].is_object()) continue;
      const json::object* meta = Obj((*claims)[i].as_object(), "metadata");
      std::string_view name = meta ? Str(*meta, "name").value_or("") : "";
      std::string p = Index("spec.volumeClaimTemplates", i) + ".metadata.name";
      if (name.empty()) {
        errors.Required(p);
      } else {
        errors.NameProblems(p, name, IsDns1123Subdomain(name));
      }
    }
  }
}

void ValidateReplicationController(const json::object& obj, Errors& errors) {
  const json::object& spec = SpecOf(obj);
  NonNegative(spec, "replicas", "spec.replicas", errors);
  NonNegative(spec, "minReadySeconds", "spec.minReadySeconds", errors);
  const json::object* selector = Obj(spec, "selector");
  if (selector == nullptr || selector->empty()) {
    errors.Required("spec.selector");
  } else {
    for (const auto& kv : *selector) {
      errors.NameProblems("spec.selector", kv.key(), IsQualifiedName(kv.key()));
    }
    if (const json::object* tmpl = Obj(spec, "template")) {
      const json::value* labels = TemplateLabels(*tmpl);
      bool matches = true;
      for (const auto& kv : *selector) {
        const json::value* v = labels ? labels->as_object().if_contains(kv.key()) : nullptr;
        if (v == nullptr || !JsonEqual(*v, kv.value())) matches = false;
      }
      if (!matches) {
        errors.Invalid("spec.template.metadata.labels",
                       labels ? *labels : json::value(json::object()),
                       "`selector` does not match template `labels`");
      }
    }
  }
  ValidatePodTemplate(Obj(spec, "template"), "spec.template", PodSpecOwner::kWorkload, errors);
}

// ---- batch ----------------------------------------------------------------------------------

void ValidateJobSpec(const json::object& spec, const std::string& path, bool generated_selector,
                     Errors& errors) {
  for (const char* f : {"parallelism", "completions", "backoffLimit", "ttlSecondsAfterFinished",
                        "backoffLimitPerIndex", "maxFailedIndexes"}) {
    NonNegative(spec, f, Child(path, f), errors);
  }
  if (auto ads = Int(spec, "activeDeadlineSeconds"); ads && *ads <= 0) {
    errors.Invalid(Child(path, "activeDeadlineSeconds"), json::value(*ads),
                   "must be greater than 0");
  }
  if (Str(spec, "completionMode") == "Indexed" && !Has(spec, "completions")) {
    errors.Required(Child(path, "completions"), "when completion mode is Indexed");
  }
  ValidateJobIndexPolicies(spec, path, errors);
  if (generated_selector) {
    ValidateSelectorMatchesTemplate(spec, path, "job", errors);
  } else {
    // Inside a CronJob's template the selector is generated per job; check only its form.
    ValidateLabelSelector(spec.if_contains("selector"), Child(path, "selector"), errors);
  }
  ValidatePodTemplate(Obj(spec, "template"), Child(path, "template"), PodSpecOwner::kJob, errors);
}

// Five cron fields (or a @macro); each field: *, numbers, ranges, steps, lists, names.
bool ValidCronSchedule(std::string_view schedule) {
  if (schedule.starts_with("TZ=") || schedule.starts_with("CRON_TZ=")) return false;
  if (schedule.starts_with("@")) {
    static const std::set<std::string_view> kMacros = {
        "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"};
    if (kMacros.contains(schedule)) return true;
    return schedule.starts_with("@every ") && schedule.size() > 7;
  }
  int fields = 0;
  size_t i = 0;
  while (i < schedule.size()) {
    while (i < schedule.size() && schedule[i] == ' ') ++i;
    if (i >= schedule.size()) break;
    size_t j = i;
    while (j < schedule.size() && schedule[j] != ' ') {
      char c = schedule[j];
      bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                c == '*' || c == '/' || c == '-' || c == ',' || c == '?';
      if (!ok) return false;
      ++j;
    }
    ++fields;
    i = j;
  }
  return fields == 5;
}

void ValidateCronJob(const json::object& obj, Errors& errors) {
  if (const json::object* meta = Obj(obj, "metadata")) {
    std::string_view name = Str(*meta, "name").value_or("");
    if (name.size() > 52) {
      errors.InvalidString("metadata.name", name, "must be no more than 52 characters");
    }
  }
  const json::object& spec = SpecOf(obj);
  std::string_view schedule = Str(spec, "schedule").value_or("");
  if (schedule.empty()) {
    errors.Required("spec.schedule");
  } else if (!ValidCronSchedule(schedule)) {
    errors.InvalidString("spec.schedule", schedule, "unparseable cron schedule");
  }
  NonNegative(spec, "startingDeadlineSeconds", "spec.startingDeadlineSeconds", errors);
  NonNegative(spec, "successfulJobsHistoryLimit", "spec.successfulJobsHistoryLimit", errors);
  NonNegative(spec, "failedJobsHistoryLimit", "spec.failedJobsHistoryLimit", errors);
  const json::object* jt = Obj(spec, "jobTemplate");
  const json::object* js = jt ? Obj(*jt, "spec") : nullptr;
  if (js == nullptr) {
    errors.Required("spec.jobTemplate.spec.template");
    return;
  }
  ValidateJobSpec(*js, "spec.jobTemplate.spec", false, errors);
}

// ---- core -----------------------------------------------------------------------------------

void ValidateService(const json::object& obj, Errors& errors) {
  const json::object& spec = SpecOf(obj);
  std::string_view type = Str(spec, "type").value_or("ClusterIP");
  std::string_view cluster_ip = Str(spec, "clusterIP").value_or("");
  const json::array* ports = Arr(spec, "ports");
  bool headless = cluster_ip == "None";
  if ((ports == nullptr || ports->empty()) && !headless && type != "ExternalName") {
    errors.Required("spec.ports");
  }
  if (type == "ExternalName") {
    std::string_view ext = Str(spec, "externalName").value_or("");
    if (ext.empty()) {
      errors.Required("spec.externalName");
    } else {
      std::string_view trimmed = ext.ends_with(".") ? ext.substr(0, ext.size() - 1) : ext;
      errors.NameProblems("spec.externalName", ext, IsDns1123Subdomain(trimmed));
    }
    if (!cluster_ip.empty()) {
      errors.Forbidden("spec.clusterIP", "may not be set for ExternalName services");
    }
  }
  if (ports != nullptr) {
    std::set<std::string> names;
    std::set<std::string> port_protocols;
    for (size_t i = 0; i < ports->size(); ++i) {
      if (!(*ports)[i].is_object()) continue;
      const json::object& p = (*ports)[i].as_object();
      std::string pp = Index("spec.ports", i);
      std::string_view name = Str(p, "name").value_or("");
      if (name.empty()) {
        if (ports->size() > 1) errors.Required(Child(pp, "name"));
      } else {
        errors.NameProblems(Child(pp, "name"), name, IsDns1123Label(name));
        if (!names.insert(std::string(name)).second) {
          errors.Duplicate(Child(pp, "name"), json::value(name));
        }
      }
      auto port = Int(p, "port");
      if (port && !ValidPort(*port)) {
        errors.Invalid(Child(pp, "port"), json::value(*port),
                       "must be between 1 and 65535, inclusive");
      }
      std::string protocol(Str(p, "protocol").value_or("TCP"));
      if (port && !port_protocols.insert(std::to_string(*port) + "/" + protocol).second) {
        errors.Duplicate(pp, json::object{{"port", *port}, {"protocol", protocol}});
      }
      if (const json::value* target = p.if_contains("targetPort")) {
        if (target->is_string()) {
          std::string_view t = target->as_string();
          if (!t.empty())
            errors.NameProblems(Child(pp, "targetPort"), t, IanaServiceNameProblems(t));
        } else if (auto t = Int(p, "targetPort"); t && !ValidPort(*t)) {
          errors.Invalid(Child(pp, "targetPort"), *target,
                         "must be between 1 and 65535, inclusive");
        }
      }
      if (auto np = Int(p, "nodePort"); np && *np != 0) {
        if (type != "NodePort" && type != "LoadBalancer") {
          errors.Forbidden(Child(pp, "nodePort"),
                           "may not be used when `type` is '" + std::string(type) + "'");
        } else if (!ValidPort(*np)) {
          errors.Invalid(Child(pp, "nodePort"), json::value(*np),
                         "must be between 1 and 65535, inclusive");
        }
      }
    }
  }
  if (const json::object* sel = Obj(spec, "selector")) {
    for (const auto& kv : *sel) {
      errors.NameProblems("spec.selector", kv.key(), IsQualifiedName(kv.key()));
      if (kv.value().is_string()) {
        errors.NameProblems("spec.selector", kv.value().as_string(),
                            IsValidLabelValue(kv.value().as_string()));
      }
    }
  }
  if (Str(spec, "externalTrafficPolicy").has_value() && type != "NodePort" &&
      type != "LoadBalancer") {
    errors.InvalidString("spec.externalTrafficPolicy",
                         Str(spec, "externalTrafficPolicy").value_or(""),
                         "may only be set when `type` is 'NodePort' or 'LoadBalancer'");
  }
  if (const json::object* cfg = Obj(spec, "sessionAffinityConfig")) {
    if (const json::object* client = Obj(*cfg, "clientIP")) {
      if (auto t = Int(*client, "timeoutSeconds"); t && (*t <= 0 || *t > 86400)) {
        errors.Invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", json::value(*t),
                       "must be greater than 0 and less than 86400");
      }
    }
  }
}

// ConfigMap / Secret keys: [-._a-zA-Z0-9]+, at most 253 characters, not "." or "..".
void ValidateDataKeys(const json::object& obj, std::string_view field, std::set<std::string>* seen,
                      size_t* total, Errors& errors) {
  const json::object* data = Obj(obj, field);
  if (data == nullptr) return;
  for (const auto& kv : *data) {
    std::string_view key = kv.key();
    std::string path = std::string(field) + "[" + std::string(key) + "]";
    bool ok = !key.empty() && key.size() <= 253 && key != "." && key != "..";
    for (char c : key) {
      ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.');
    }
    if (!ok) {
      errors.InvalidString(path, key,
                           "a valid config key must consist of alphanumeric characters, '-', '_' "
                           "or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used "
                           "for validation is '[-._a-zA-Z0-9]+')");
    }
    if (!seen->insert(std::string(key)).second) {
      errors.InvalidString(path, key, "duplicate of key present in another data field");
    }
    *total += kv.value().is_string() ? kv.value().as_string().size() : 0;
  }
}

void ValidateConfigData(const json::object& obj, bool secret, Errors& errors) {
  std::set<std::string> keys;
  size_t total = 0;
  if (secret) {
    ValidateDataKeys(obj, "data", &keys, &total, errors);
    std::set<std::string> string_keys;
    size_t ignored = 0;
    ValidateDataKeys(obj, "stringData", &string_keys, &ignored, errors);
  } else {
    ValidateDataKeys(obj, "data", &keys, &total, errors);
    ValidateDataKeys(obj, "binaryData", &keys, &total, errors);
  }
  constexpr size_t kMaxSize = 1024 * 1024;
  if (total > kMaxSize) errors.TooLong("data", kMaxSize);
}

void ValidateSecret(const json::object& obj, Errors& errors) {
  ValidateConfigData(obj, true, errors);
  std::string_view type = Str(obj, "type").value_or("Opaque");
  auto has_key = [&obj](std::string_view key) {
    for (const char* field : {"data", "stringData"}) {
      if (const json::object* d = Obj(obj, field); d && d->contains(key)) return true;
    }
    return false;
  };
  auto require = [&](std::string_view key) {
    if (!has_key(key)) errors.Required(std::string("data[") + std::string(key) + "]");
  };
  if (type == "kubernetes.io/tls") {
    require("tls.crt");
    require("tls.key");
  } else if (type == "kubernetes.io/dockerconfigjson") {
    require(".dockerconfigjson");
  } else if (type == "kubernetes.io/dockercfg") {
    require(".dockercfg");
  } else if (type == "kubernetes.io/ssh-auth") {
    require("ssh-privatekey");
  } else if (type == "kubernetes.io/basic-auth") {
    if (!has_key("username") && !has_key("password")) {
      errors.Required("data[username]", "either username or password or both must be provided");
    }
  } else if (type == "kubernetes.io/service-account-token") {
    const json::object* meta = Obj(obj, "metadata");
    const json::object* ann = meta ? Obj(*meta, "annotations") : nullptr;
    if (ann == nullptr || !ann->contains("kubernetes.io/service-account.name")) {
      errors.Required("metadata.annotations[kubernetes.io/service-account.name]");
    }
  }
}

void ValidateNode(const json::object& obj, Errors& errors) {
  const json::object& spec = SpecOf(obj);
  if (const json::array* taints = Arr(spec, "taints")) {
    std::set<std::string> seen;
    for (size_t i = 0; i < taints->size(); ++i) {
      if (!(*taints)[i].is_object()) continue;
      const json::object& t = (*taints)[i].as_object();
      std::string tp = Index("spec.taints", i);
      std::string_view key = Str(t, "key").value_or("");
      if (key.empty()) {
        errors.Required(Child(tp, "key"));
      } else {
        errors.NameProblems(Child(tp, "key"), key, IsQualifiedName(key));
      }
      if (auto v = Str(t, "value"); v && !v->empty()) {
        errors.NameProblems(Child(tp, "value"), *v, IsValidLabelValue(*v));
      }
      std::string_view effect = Str(t, "effect").value_or("");
      if (effect.empty()) errors.Required(Child(tp, "effect"));
      if (!seen.insert(std::string(key) + "\n" + std::string(effect)).second) {
        errors.Duplicate(tp, json::value(std::string(key) + ":" + std::string(effect)));
      }
    }
  }
}

void ValidatePvc(const json::object& spec, const std::string& path, Errors& errors) {
  const json::array* modes = Arr(spec, "accessModes");
  if (modes == nullptr || modes->empty()) {
    errors.Required(Child(path, "accessModes"), "at least 1 access mode is required");
  }
  const json::object* res = Obj(spec, "resources");
  const json::object* requests = res ? Obj(*res, "requests") : nullptr;
  if (requests == nullptr || !requests->contains("storage")) {
    errors.Required(Child(path, "resources[storage]"));
  }
}

void ValidatePv(const json::object& obj, Errors& errors) {
  const json::object& spec = SpecOf(obj);
  const json::array* modes = Arr(spec, "accessModes");
  if (modes == nullptr || modes->empty()) {
    errors.Required("spec.accessModes", "must specify at least 1 access mode");
  }
  const json::object* cap = Obj(spec, "capacity");
  if (cap == nullptr || !cap->contains("storage")) errors.Required("spec.capacity");
  static const char* kSources[] = {"gcePersistentDisk",
                                   "awsElasticBlockStore",
                                   "hostPath",
                                   "glusterfs",
                                   "nfs",
                                   "rbd",
                                   "iscsi",
                                   "cinder",
                                   "cephfs",
                                   "fc",
                                   "flocker",
                                   "flexVolume",
                                   "azureFile",
                                   "vsphereVolume",
                                   "quobyte",
                                   "azureDisk",
                                   "photonPersistentDisk",
                                   "portworxVolume",
                                   "scaleIO",
                                   "local",
                                   "storageos",
                                   "csi"};
  int n = 0;
  for (const char* s : kSources) {
    if (Has(spec, s) && ++n > 1) {
      errors.Forbidden(Child("spec", s), "may not specify more than 1 volume type");
    }
  }
  if (n == 0) errors.Required("spec", "must specify a volume type");
}

void ValidateHpa(const json::object& obj, Errors& errors) {
  const json::object& spec = SpecOf(obj);
  auto min = Int(spec, "minReplicas");
  auto max = Int(spec, "maxReplicas");
  if (min && *min < 1) {
    errors.Invalid("spec.minReplicas", json::value(*min), "must be greater than or equal to 1");
  }
  if (max && *max < 1) {
    errors.Invalid("spec.maxReplicas", json::value(*max), "must be greater than or equal to 1");
  } else if (max && min && *max < *min) {
    errors.Invalid("spec.maxReplicas", json::value(*max),
                   "must be greater than or equal to `minReplicas`");
  }
  const json::object* ref = Obj(spec, "scaleTargetRef");
  if (ref == nullptr) {
    errors.Required("spec.scaleTargetRef");
  } else {
    if (Str(*ref, "kind").value_or("").empty()) errors.Required("spec.scaleTargetRef.kind");
    std::string_view name = Str(*ref, "name").value_or("");
    if (name.empty()) {
      errors.Required("spec.scaleTargetRef.name");
    } else if (name.find('/') != std::string_view::npos ||
               name.find('%') != std::string_view::npos) {
      errors.InvalidString("spec.scaleTargetRef.name", name, "may not contain '/' or '%'");
    }
  }
  if (auto pct = Int(spec, "targetCPUUtilizationPercentage"); pct && *pct < 1) {
    errors.Invalid("spec.targetCPUUtilizationPercentage", json::value(*pct),
                   "must be greater than or equal to 1");
  }
}

void ValidatePdb(const json::object& obj, Errors& errors) {
  const json::object& spec = SpecOf(obj);
  if (Has(spec, "minAvailable") && Has(spec, "maxUnavailable")) {
    errors.InvalidString("spec", "", "minAvailable and maxUnavailable cannot be both set");
  }
  IntOrPercent(spec, "minAvailable", "spec.minAvailable", errors);
  IntOrPercent(spec, "maxUnavailable", "spec.maxUnavailable", errors);
  ValidateLabelSelector(spec.if_contains("selector"), "spec.selector", errors);
}

void ValidateEventsV1(const json::object& obj, Errors& errors) {
  if (!Has(obj, "eventTime")) errors.Required("eventTime");
  for (const char* f : {"reportingController", "reportingInstance", "action", "reason"}) {
    if (Str(obj, f).value_or("").empty()) errors.Required(f);
  }
  if (auto rc = Str(obj, "reportingController"); rc && !rc->empty()) {
    errors.NameProblems("reportingController", *rc, IsQualifiedName(*rc));
  }
  if (auto type = Str(obj, "type"); type && *type != "Normal" && *type != "Warning") {
    errors.Unsupported("type", *type, {"Normal", "Warning"});
  }
  if (auto note = Str(obj, "note"); note && note->size() > 1024) errors.TooLong("note", 1024);
}

void ValidateCoreEvent(const json::object& obj, Errors& errors) {
  const json::object* involved = Obj(obj, "involvedObject");
  const json::object* meta = Obj(obj, "metadata");
  std::string_view ns = meta ? Str(*meta, "namespace").value_or("") : "";
  if (involved != nullptr) {
    std::string_view ins = Str(*involved, "namespace").value_or("");
    if (!ins.empty() && ins != ns) {
      errors.InvalidString("involvedObject.namespace", ins, "does not match event.namespace");
    }
  }
  if (auto type = Str(obj, "type");
      type && !type->empty() && *type != "Normal" && *type != "Warning") {
    errors.Unsupported("type", *type, {"Normal", "Warning"});
  }
}

void ValidateLimitRange(const json::object& obj, Errors& errors) {
  const json::array* limits = Arr(SpecOf(obj), "limits");
  if (limits == nullptr) return;
  for (size_t i = 0; i < limits->size(); ++i) {
    if (!(*limits)[i].is_object()) continue;
    const json::object& item = (*limits)[i].as_object();
    std::string ip = Index("spec.limits", i);
    std::string_view type = Str(item, "type").value_or("");
    if (type.empty()) errors.Required(Child(ip, "type"));
    if (type == "Pod" && (Has(item, "default") || Has(item, "defaultRequest"))) {
      errors.Forbidden(Child(ip, Has(item, "default") ? "default" : "defaultRequest"),
                       "may not be specified when `type` is 'Pod'");
    }
  }
}

void ValidateQuantitiesNonNegative(const json::object* q, const std::string& path, Errors& errors) {
  if (q == nullptr) return;
  for (const auto& kv : *q) {
    std::string text =
        kv.value().is_string() ? std::string(kv.value().as_string()) : json::serialize(kv.value());
    Result<Quantity> parsed = Quantity::Parse(text);
    if (parsed.ok() && parsed->Compare(Quantity()) < 0) {
      errors.Invalid(path + "[" + std::string(kv.key()) + "]", kv.value(),
                     "must be greater than or equal to 0");
    }
  }
}

}  // namespace

void ValidateKind(const KindInfo& kind, const json::object& obj, Errors& errors) {
  if (kind.group.empty()) {
    const std::string& k = kind.kind;
    if (k == "Pod") {
      const json::object* spec = Obj(obj, "spec");
      if (spec == nullptr) {
        errors.Required("spec.containers");
      } else {
        ValidatePodSpec(*spec, "spec", PodSpecOwner::kPod, errors);
      }
    } else if (k == "PodTemplate") {
      ValidatePodTemplate(Obj(obj, "template"), "template", PodSpecOwner::kTemplate, errors);
    } else if (k == "Service") {
      ValidateService(obj, errors);
    } else if (k == "ReplicationController") {
      ValidateReplicationController(obj, errors);
    } else if (k == "ConfigMap") {
      ValidateConfigData(obj, false, errors);
    } else if (k == "Secret") {
      ValidateSecret(obj, errors);
    } else if (k == "Node") {
      ValidateNode(obj, errors);
    } else if (k == "Event") {
      ValidateCoreEvent(obj, errors);
    } else if (k == "PersistentVolumeClaim") {
      ValidatePvc(SpecOf(obj), "spec", errors);
    } else if (k == "PersistentVolume") {
      ValidatePv(obj, errors);
    } else if (k == "LimitRange") {
      ValidateLimitRange(obj, errors);
    } else if (k == "ResourceQuota") {
      ValidateQuantitiesNonNegative(Obj(SpecOf(obj), "hard"), "spec.hard", errors);
    } else if (k == "Binding") {
      const json::object* target = Obj(obj, "target");
      if (target == nullptr || Str(*target, "name").value_or("").empty()) {
        errors.Required("target.name");
      }
      if (target != nullptr) {
        std::string_view tk = Str(*target, "kind").value_or("");
        if (!tk.empty() && tk != "Node") errors.Unsupported("target.kind", tk, {"Node", ""});
      }
    } else if (k == "Endpoints") {
      if (const json::array* subsets = Arr(obj, "subsets")) {
        for (size_t i = 0; i < subsets->size(); ++i) {
          if (!(*subsets)[i].is_object()) continue;
          const json::array* ports = Arr((*subsets)[i].as_object(), "ports");
          if (ports == nullptr) continue;
          for (size_t j = 0; j < ports->size(); ++j) {
            if (!(*ports)[j].is_object()) continue;
            std::string pp = Index(Index("subsets", i) + ".ports", j);
            if (auto port = Int((*ports)[j].as_object(), "port"); port && !ValidPort(*port)) {
              errors.Invalid(Child(pp, "port"), json::value(*port),
                             "must be between 1 and 65535, inclusive");
            }
            if (ports->size() > 1 && Str((*ports)[j].as_object(), "name").value_or("").empty()) {
              errors.Required(Child(pp, "name"));
            }
          }
        }
      }
    }
    return;
  }
  if (kind.group == "apps") {
    if (kind.kind == "Deployment") {
      ValidateDeployment(obj, errors);
    } else if (kind.kind == "ReplicaSet") {
      ValidateWorkloadCommon(SpecOf(obj), "replicaset", errors);
    } else if (kind.kind == "DaemonSet") {
      ValidateDaemonSet(obj, errors);
    } else if (kind.kind == "StatefulSet") {
      ValidateStatefulSet(obj, errors);
    } else if (kind.kind == "ControllerRevision") {
      NonNegative(obj, "revision", "revision", errors);
    }
  } else if (Is(kind, "batch", "Job")) {
    ValidateJobSpec(SpecOf(obj), "spec", true, errors);
  } else if (Is(kind, "batch", "CronJob")) {
    ValidateCronJob(obj, errors);
  } else if (Is(kind, "autoscaling", "HorizontalPodAutoscaler")) {
    ValidateHpa(obj, errors);
  } else if (Is(kind, "policy", "PodDisruptionBudget")) {
    ValidatePdb(obj, errors);
  } else if (Is(kind, "events.k8s.io", "Event")) {
    ValidateEventsV1(obj, errors);
  } else if (Is(kind, "coordination.k8s.io", "Lease")) {
    const json::object& spec = SpecOf(obj);
    if (auto d = Int(spec, "leaseDurationSeconds"); d && *d <= 0) {
      errors.Invalid("spec.leaseDurationSeconds", json::value(*d), "must be greater than 0");
    }
    NonNegative(spec, "leaseTransitions", "spec.leaseTransitions", errors);
  }
}

}  // namespace sampan::api::strategy
