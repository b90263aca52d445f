// What updates of the built-in kinds may not change (Kubernetes' ValidateXUpdate functions).
#include <boost/json.hpp>

#include "api/json_util.h"
#include "api/strategy_internal.h"

namespace sampan::api::strategy {
namespace {

bool Is(const KindInfo& k, std::string_view group, std::string_view kind) {
  return k.group == group && k.kind == kind;
}

// A ConfigMap or Secret marked immutable keeps its data and the mark.

bool IsImmutable(const json::object& obj) { return Bool(obj, "immutable").value_or(false); }

void ValidateImmutableData(const json::object& obj, const json::object& old, bool secret,
                           Errors& errors) {
  if (!IsImmutable(old)) return;
  if (!IsImmutable(obj)) {
    errors.Forbidden("immutable", "field is immutable when `immutable` is set");
  }
  for (const char* f : {"data", secret ? "stringData" : "binaryData"}) {
    const json::value* a = obj.if_contains(f);
    const json::value* b = old.if_contains(f);
    bool a_set = a && !a->is_null() && !(a->is_object() && a->as_object().empty());
    bool b_set = b && !b->is_null() && !(b->is_object() && b->as_object().empty());
    if (a_set != b_set || (a_set && !JsonEqual(*a, *b))) {
      errors.Forbidden(f, "field is immutable when `immutable` is set");
    }
  }
}

}  // namespace

void ValidateKindUpdate(const KindInfo& kind, const json::object& obj, const json::object& old,
                        Errors& errors) {
  const json::object& spec = SpecOf(obj);
  const json::object& old_spec = SpecOf(old);
  if (kind.group.empty()) {
    const std::string& k = kind.kind;
    if (k == "Pod") {
      ValidatePodUpdate(obj, old, errors);
    } else if (k == "Service") {
      std::string_view type = Str(spec, "type").value_or("ClusterIP");
      std::string_view old_type = Str(old_spec, "type").value_or("ClusterIP");
      // The cluster IP is kept, except when the service turns into or from ExternalName.
      if (type != "ExternalName" && old_type != "ExternalName") {
        std::string_view ip = Str(spec, "clusterIP").value_or("");
        std::string_view old_ip = Str(old_spec, "clusterIP").value_or("");
        if (!old_ip.empty() && ip != old_ip) {
          errors.InvalidString("spec.clusterIP", ip, "field is immutable");
        }
        const json::array* ips = Arr(spec, "clusterIPs");
        const json::array* old_ips = Arr(old_spec, "clusterIPs");
        if (old_ips && !old_ips->empty() && ips && !ips->empty() &&
            !JsonEqual((*ips)[0], (*old_ips)[0])) {
          errors.Invalid("spec.clusterIPs[0]", (*ips)[0], "may not change once set");
        }
      }
    } else if (k == "ConfigMap") {
      ValidateImmutableData(obj, old, false, errors);
    } else if (k == "Secret") {
      ValidateImmutableData(obj, old, true, errors);
      std::string_view type = Str(obj, "type").value_or("Opaque");
      std::string_view old_type = Str(old, "type").value_or("Opaque");
      if (type != old_type) errors.InvalidString("type", type, "field is immutable");
    } else if (k == "PersistentVolumeClaim") {
      // Only the storage request (expansion) and the attributes class may change.
      json::object a = spec, b = old_spec;
      for (json::object* s : {&a, &b}) {
        s->erase("volumeAttributesClassName");
        if (json::object* res = MutObj(*s, "resources")) res->erase("requests");
      }
      if (Str(old_spec, "volumeName").value_or("").empty()) {  // binding sets volumeName
        a.erase("volumeName");
        b.erase("volumeName");
      }
      if (!JsonEqual(json::value(a), json::value(b))) {
        errors.Forbidden("spec",
                         "spec is immutable after creation except resources.requests and "
                         "volumeAttributesClassName for bound claims");
      }
    } else if (k == "ReplicationController") {
      // v1 RC selectors may change.
    }
    return;
  }
  if (kind.group == "apps") {
    if (kind.kind == "ControllerRevision") {
      Immutable(obj, old, "data", "data", errors);
      return;
    }
    Immutable(spec, old_spec, "selector", "spec.selector", errors);
    if (kind.kind == "StatefulSet") {
      json::object a = spec, b = old_spec;
      for (const char* f :
           {"replicas", "ordinals", "template", "updateStrategy",
            "persistentVolumeClaimRetentionPolicy", "minReadySeconds", "revisionHistoryLimit"}) {
        a.erase(f);
        b.erase(f);
      }
      if (!JsonEqual(json::value(a), json::value(b))) {
        errors.Forbidden("spec",
                         "updates to statefulset spec for fields other than 'replicas', "
                         "'ordinals', 'template', 'updateStrategy', "
                         "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
                         "forbidden");
      }
    }
  } else if (Is(kind, "batch", "Job")) {
    Immutable(spec, old_spec, "selector", "spec.selector", errors);
    Immutable(spec, old_spec, "completionMode", "spec.completionMode", errors);
    Immutable(spec, old_spec, "podFailurePolicy", "spec.podFailurePolicy", errors);
    Immutable(spec, old_spec, "backoffLimitPerIndex", "spec.backoffLimitPerIndex", errors);
    Immutable(spec, old_spec, "successPolicy", "spec.successPolicy", errors);
    Immutable(spec, old_spec, "managedBy", "spec.managedBy", errors);
    // Indexed jobs may scale completions with parallelism (elastic); others may not.
    if (!(Str(spec, "completionMode") == "Indexed" &&
          Int(spec, "completions") == Int(spec, "parallelism"))) {
      Immutable(spec, old_spec, "completions", "spec.completions", errors);
    }
    Immutable(spec, old_spec, "template", "spec.template", errors);
  } else if (Is(kind, "policy", "PodDisruptionBudget")) {
    // Mutable since policy/v1.
  }
}

}  // namespace sampan::api::strategy
