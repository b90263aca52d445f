// Per-kind defaults (Kubernetes' SetDefaults_* functions) and create-time preparation.
#include <boost/json.hpp>

#include "api/strategy_internal.h"

namespace sampan::api::strategy {
namespace {

bool Is(const KindInfo& k, std::string_view group, std::string_view kind) {
  return k.group == group && k.kind == kind;
}

json::object* Spec(json::object& obj) { return MutObj(obj, "spec"); }

void DefaultTemplateIn(json::object& spec) {
  if (json::object* tmpl = MutObj(spec, "template")) DefaultPodTemplate(*tmpl);
}

void DefaultService(json::object& obj) {
  json::object& spec = EnsureObj(obj, "spec");
  SetDefault(spec, "type", "ClusterIP");
  SetDefault(spec, "sessionAffinity", "None");
  // A copy: later insertions into `spec` may move the string it would point into.
  const std::string type(Str(spec, "type").value_or("ClusterIP"));
  if (Str(spec, "sessionAffinity") == "ClientIP") {
    json::object& cfg = EnsureObj(spec, "sessionAffinityConfig");
    json::object& client = EnsureObj(cfg, "clientIP");
    SetDefault(client, "timeoutSeconds", 10800);
  }
  if (json::array* ports = MutArr(spec, "ports")) {
    for (json::value& pv : *ports) {
      if (!pv.is_object()) continue;
      json::object& p = pv.as_object();
      SetDefault(p, "protocol", "TCP");
      const json::value* target = p.if_contains("targetPort");
      bool unset = target == nullptr || target->is_null() ||
                   (target->is_string() && target->as_string().empty()) ||
                   (target->is_number() && Int(p, "targetPort") == 0);
      if (unset && Has(p, "port")) {
        json::value port = p["port"];  // copied before the insertion can move it
        p["targetPort"] = std::move(port);
      }
    }
  }
  if (type != "ExternalName") SetDefault(spec, "internalTrafficPolicy", "Cluster");
  if (type == "NodePort" || type == "LoadBalancer") {
    SetDefault(spec, "externalTrafficPolicy", "Cluster");
  }
  if (type == "LoadBalancer") SetDefault(spec, "allocateLoadBalancerNodePorts", true);
  // Load-balancer addresses with an IP are VIPs unless said otherwise (LoadBalancerIPMode,
  // on by default since 1.30).
  if (json::object* status = MutObj(obj, "status")) {
    if (json::object* lb = MutObj(*status, "loadBalancer")) {
      if (json::array* ingress = MutArr(*lb, "ingress")) {
        for (json::value& v : *ingress) {
          if (v.is_object() && Has(v.as_object(), "ip") && !Str(v.as_object(), "ip")->empty()) {
            SetDefault(v.as_object(), "ipMode", "VIP");
          }
        }
      }
    }
  }
}

void DefaultDeployment(json::object& obj) {
  json::object& spec = EnsureObj(obj, "spec");
  SetDefault(spec, "replicas", 1);
  json::object& strategy = EnsureObj(spec, "strategy");
  SetDefault(strategy, "type", "RollingUpdate");
  if (Str(strategy, "type") == "RollingUpdate") {
    json::object& ru = EnsureObj(strategy, "rollingUpdate");
    SetDefault(ru, "maxUnavailable", "25%");
    SetDefault(ru, "maxSurge", "25%");
  }
  SetDefault(spec, "revisionHistoryLimit", 10);
  SetDefault(spec, "progressDeadlineSeconds", 600);
  DefaultTemplateIn(spec);
}

void DefaultDaemonSet(json::object& obj) {
  json::object& spec = EnsureObj(obj, "spec");
  json::object& us = EnsureObj(spec, "updateStrategy");
  SetDefault(us, "type", "RollingUpdate");
  if (Str(us, "type") == "RollingUpdate") {
    json::object& ru = EnsureObj(us, "rollingUpdate");
    SetDefault(ru, "maxUnavailable", 1);
    SetDefault(ru, "maxSurge", 0);
  }
  SetDefault(spec, "revisionHistoryLimit", 10);
  DefaultTemplateIn(spec);
}

void DefaultStatefulSet(json::object& obj) {
  json::object& spec = EnsureObj(obj, "spec");
  SetDefault(spec, "replicas", 1);
  SetDefault(spec, "podManagementPolicy", "OrderedReady");
  json::object& us = EnsureObj(spec, "updateStrategy");
  SetDefault(us, "type", "RollingUpdate");
  if (Str(us, "type") == "RollingUpdate") {
    json::object& ru = EnsureObj(us, "rollingUpdate");
    SetDefault(ru, "partition", 0);
  }
  SetDefault(spec, "revisionHistoryLimit", 10);
  json::object& retention = EnsureObj(spec, "persistentVolumeClaimRetentionPolicy");
  SetDefault(retention, "whenDeleted", "Retain");
  SetDefault(retention, "whenScaled", "Retain");
  if (json::array* claims = MutArr(spec, "volumeClaimTemplates")) {
    for (json::value& c : *claims) {
      if (!c.is_object()) continue;
      SetDefault(EnsureObj(c.as_object(), "spec"), "volumeMode", "Filesystem");
    }
  }
  DefaultTemplateIn(spec);
}

void DefaultJobSpec(json::object& spec) {
  if (!Has(spec, "completions") && !Has(spec, "parallelism")) {
    spec["completions"] = 1;
    spec["parallelism"] = 1;
  }
  SetDefault(spec, "parallelism", 1);
  SetDefault(spec, "backoffLimit", Has(spec, "backoffLimitPerIndex") ? 2147483647 : 6);
  SetDefault(spec, "completionMode", "NonIndexed");
  SetDefault(spec, "suspend", false);
  bool has_failure_policy = Has(spec, "podFailurePolicy");
  SetDefault(spec, "podReplacementPolicy", has_failure_policy ? "Failed" : "TerminatingOrFailed");
  if (json::object* pfp = MutObj(spec, "podFailurePolicy")) {
    if (json::array* rules = MutArr(*pfp, "rules")) {
      for (json::value& r : *rules) {
        if (!r.is_object()) continue;
        if (json::array* conds = MutArr(r.as_object(), "onPodConditions")) {
          for (json::value& c : *conds) {
            if (c.is_object()) SetDefault(c.as_object(), "status", "True");
          }
        }
      }
    }
  }
  DefaultTemplateIn(spec);
}

void DefaultJob(json::object& obj) {
  json::object& spec = EnsureObj(obj, "spec");
  DefaultJobSpec(spec);
  // A job without labels takes its template's.
  const json::object* tmpl = Obj(spec, "template");
  const json::value* found = tmpl ? TemplateLabels(*tmpl) : nullptr;
  if (found == nullptr) return;
  const json::value labels = *found;  // EnsureObj below may move what `found` points at
  json::object& meta = EnsureObj(obj, "metadata");
  const json::object* own = Obj(meta, "labels");
  if (own == nullptr || own->empty()) meta["labels"] = labels;
}

void DefaultCronJob(json::object& obj) {
  json::object& spec = EnsureObj(obj, "spec");
  SetDefault(spec, "concurrencyPolicy", "Allow");
  SetDefault(spec, "suspend", false);
  SetDefault(spec, "successfulJobsHistoryLimit", 3);
  SetDefault(spec, "failedJobsHistoryLimit", 1);
  if (json::object* jt = MutObj(spec, "jobTemplate")) {
    if (json::object* js = MutObj(*jt, "spec")) DefaultJobSpec(*js);
  }
}

// RC (core/v1): selector and labels default to the template's labels.
void DefaultReplicationController(json::object& obj) {
  json::object& spec = EnsureObj(obj, "spec");
  SetDefault(spec, "replicas", 1);
  DefaultTemplateIn(spec);
  const json::object* tmpl = Obj(spec, "template");
  const json::value* found = tmpl ? TemplateLabels(*tmpl) : nullptr;
  if (found == nullptr) return;
  const json::value labels = *found;  // insertions below may move what `found` points at
  const json::object* sel = Obj(spec, "selector");
  if (sel == nullptr || sel->empty()) spec["selector"] = labels;
  json::object& meta = EnsureObj(obj, "metadata");  // `spec` may dangle from here on
  const json::object* own = Obj(meta, "labels");
  if (own == nullptr || own->empty()) meta["labels"] = labels;
}

void DefaultLimitRange(json::object& obj) {
  json::object* spec = Spec(obj);
  json::array* limits = spec ? MutArr(*spec, "limits") : nullptr;
  if (limits == nullptr) return;
  for (json::value& lv : *limits) {
    if (!lv.is_object()) continue;
    json::object& item = lv.as_object();
    if (Str(item, "type") != "Container") continue;
    // Default limits fall back to max; default requests to the default limits, then min.
    auto fill = [&item](std::string_view into, std::string_view from) {
      const json::object* found = Obj(item, from);
      if (found == nullptr || found->empty()) return;
      const json::object src = *found;  // EnsureObj below may move what `found` points at
      json::object& dst = EnsureObj(item, into);
      for (const auto& kv : src) {
        if (!dst.contains(kv.key())) dst[kv.key()] = kv.value();
      }
    };
    fill("default", "max");
    fill("defaultRequest", "default");
    fill("defaultRequest", "min");
  }
}

void DefaultHpa(const KindInfo& kind, json::object& obj) {
  json::object& spec = EnsureObj(obj, "spec");
  SetDefault(spec, "minReplicas", 1);
  if (kind.version != "v2") return;
  const json::array* metrics = Arr(spec, "metrics");
  if (metrics == nullptr || metrics->empty()) {
    spec["metrics"] = json::array{json::object{
        {"type", "Resource"},
        {"resource", json::object{{"name", "cpu"},
                                  {"target", json::object{{"type", "Utilization"},
                                                          {"averageUtilization", 80}}}}}}};
  }
  json::object* behavior = MutObj(spec, "behavior");
  if (behavior == nullptr) return;
  json::object& up = EnsureObj(*behavior, "scaleUp");
  SetDefault(up, "stabilizationWindowSeconds", 0);
  SetDefault(up, "selectPolicy", "Max");
  SetDefault(up, "policies",
             json::array{json::object{{"type", "Pods"}, {"value", 4}, {"periodSeconds", 15}},
                         json::object{{"type", "Percent"}, {"value", 100}, {"periodSeconds", 15}}});
  json::object& down = EnsureObj(*behavior, "scaleDown");
  SetDefault(down, "selectPolicy", "Max");
  SetDefault(down, "policies",
             json::array{json::object{{"type", "Percent"}, {"value", 100}, {"periodSeconds", 15}}});
}

}  // namespace

// A Job's selector is generated from its uid unless the user manages it (idempotent).
void GenerateJobSelector(json::object& obj) {
  json::object& spec = EnsureObj(obj, "spec");
  if (Bool(spec, "manualSelector").value_or(false)) return;
  const json::object* meta = Obj(obj, "metadata");
  std::string uid(meta ? Str(*meta, "uid").value_or("") : "");
  std::string name(meta ? Str(*meta, "name").value_or("") : "");
  if (uid.empty()) return;  // validation reports the missing selector
  json::object& tmpl = EnsureObj(spec, "template");
  json::object& labels = EnsureObj(EnsureObj(tmpl, "metadata"), "labels");
  // Labels the user set are kept (a conflict then fails validation), as Kubernetes does.
  for (const char* key : {"job-name", "batch.kubernetes.io/job-name"}) {
    if (!labels.contains(key)) labels[key] = name;
  }
  for (const char* key : {"controller-uid", "batch.kubernetes.io/controller-uid"}) {
    if (!labels.contains(key)) labels[key] = uid;
  }
  json::object& selector = EnsureObj(spec, "selector");
  json::object& match = EnsureObj(selector, "matchLabels");
  if (!match.contains("batch.kubernetes.io/controller-uid")) {
    match["batch.kubernetes.io/controller-uid"] = uid;
  }
  // Kubernetes defaults again when it reads the object back, so a Job without labels of its
  // own ends up with its template's, generated ones included.
  json::value labels_copy = labels;  // no references into `obj` survive the next insertion
  json::object* job_meta = MutObj(obj, "metadata");  // present: the uid came from it
  const json::object* own = Obj(*job_meta, "labels");
  if (own == nullptr || own->empty()) (*job_meta)["labels"] = std::move(labels_copy);
}

void DefaultKind(const KindInfo& kind, json::object& obj) {
  if (kind.group.empty()) {
    const std::string& k = kind.kind;
    if (k == "Pod") {
      DefaultPod(obj);
    } else if (k == "PodTemplate") {
      if (json::object* tmpl = MutObj(obj, "template")) DefaultPodTemplate(*tmpl);
    } else if (k == "Service") {
      DefaultService(obj);
    } else if (k == "ReplicationController") {
      DefaultReplicationController(obj);
    } else if (k == "Secret") {
      SetDefault(obj, "type", "Opaque");
    } else if (k == "Namespace") {
      const json::object* spec = Obj(obj, "spec");
      if (spec == nullptr || !Has(*spec, "finalizers")) {
        EnsureObj(obj, "spec")["finalizers"] = json::array{"kubernetes"};
      }
      SetDefault(EnsureObj(obj, "status"), "phase", "Active");
    } else if (k == "Endpoints") {
      if (json::array* subsets = MutArr(obj, "subsets")) {
        for (json::value& s : *subsets) {
          if (!s.is_object()) continue;
          if (json::array* ports = MutArr(s.as_object(), "ports")) {
            for (json::value& p : *ports) {
              if (p.is_object()) SetDefault(p.as_object(), "protocol", "TCP");
            }
          }
        }
      }
    } else if (k == "PersistentVolume") {
      json::object& spec = EnsureObj(obj, "spec");
      SetDefault(spec, "persistentVolumeReclaimPolicy", "Retain");
      SetDefault(spec, "volumeMode", "Filesystem");
      SetDefault(EnsureObj(obj, "status"), "phase", "Pending");
    } else if (k == "PersistentVolumeClaim") {
      SetDefault(EnsureObj(obj, "spec"), "volumeMode", "Filesystem");
      SetDefault(EnsureObj(obj, "status"), "phase", "Pending");
    } else if (k == "Node") {
      json::object* status = MutObj(obj, "status");
      if (status && !Has(*status, "allocatable") && Has(*status, "capacity")) {
        json::value capacity = (*status)["capacity"];
        (*status)["allocatable"] = std::move(capacity);
      }
    } else if (k == "LimitRange") {
      DefaultLimitRange(obj);
    }
    return;
  }
  if (Is(kind, "apps", "Deployment")) {
    DefaultDeployment(obj);
  } else if (Is(kind, "apps", "ReplicaSet")) {
    json::object& spec = EnsureObj(obj, "spec");
    SetDefault(spec, "replicas", 1);
    DefaultTemplateIn(spec);
  } else if (Is(kind, "apps", "DaemonSet")) {
    DefaultDaemonSet(obj);
  } else if (Is(kind, "apps", "StatefulSet")) {
    DefaultStatefulSet(obj);
  } else if (Is(kind, "batch", "Job")) {
    GenerateJobSelector(obj);  // also here: callers may default after assigning the uid
    DefaultJob(obj);
  } else if (Is(kind, "batch", "CronJob")) {
    DefaultCronJob(obj);
  } else if (Is(kind, "autoscaling", "HorizontalPodAutoscaler")) {
    DefaultHpa(kind, obj);
  }
}

void PrepareKindForCreate(const KindInfo& kind, json::object& obj) {
  if (kind.group.empty()) {
    if (kind.kind == "Pod") {
      json::object& status = EnsureObj(obj, "status");
      status["phase"] = "Pending";
      const json::object* spec = Obj(obj, "spec");
      status["qosClass"] = PodQosClass(spec ? *spec : json::object());
    } else if (kind.kind == "Namespace") {
      EnsureObj(obj, "status")["phase"] = "Active";
    } else if (kind.kind == "PersistentVolume" || kind.kind == "PersistentVolumeClaim") {
      EnsureObj(obj, "status")["phase"] = "Pending";
    }
    return;
  }
  if (Is(kind, "batch", "Job")) GenerateJobSelector(obj);
}

}  // namespace sampan::api::strategy
