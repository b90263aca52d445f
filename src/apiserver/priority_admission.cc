#include "apiserver/priority_admission.h"

#include <boost/json.hpp>
#include <string>

#include "apiserver/rest.h"
#include "apiserver/rest_internal.h"

namespace sampan::apiserver {

namespace json = boost::json;

namespace {

const api::KindInfo* PriorityClassKind(const api::Registry& registry) {
  return registry.FindKind("scheduling.k8s.io", "v1", "PriorityClass");
}

bool IsPriorityClass(const api::KindInfo& kind) {
  return kind.group == "scheduling.k8s.io" && kind.kind == "PriorityClass";
}

std::string PriorityClassPrefix() { return "/registry/scheduling.k8s.io/priorityclasses/"; }

int64_t ValueOf(const json::object& pc) {
  const json::value* v = pc.if_contains("value");
  return v && v->is_int64() ? v->as_int64() : 0;
}

bool IsGlobalDefault(const json::object& pc) {
  const json::value* v = pc.if_contains("globalDefault");
  return v && v->is_bool() && v->as_bool();
}

std::string NameOf(const json::object& obj) {
  return std::string(internal::MetaString(obj, "name"));
}

// The globalDefault class; of several (possible only through races), the lowest value, as
// Kubernetes picks.
ObjectPtr DefaultClass(const ObjectCache& cache) {
  ObjectPtr best;
  for (const ObjectPtr& pc : cache.List(PriorityClassPrefix(), nullptr)) {
    if (!IsGlobalDefault(pc->obj)) continue;
    if (!best || ValueOf(pc->obj) < ValueOf(best->obj)) best = pc;
  }
  return best;
}

Status PodForbidden(const json::object& pod, const std::string& why) {
  return Forbidden("pods \"" + NameOf(pod) + "\" is forbidden: " + why);
}

}  // namespace

Status AdmitPodPriority(const api::Registry& registry, const ObjectCache& cache,
                        const api::KindInfo& kind, json::object& pod) {
  if (!kind.group.empty() || kind.kind != "Pod") return Status::Ok();
  const api::KindInfo* pck = PriorityClassKind(registry);
  json::value& spec_value = pod["spec"];
  if (!spec_value.is_object()) spec_value.emplace_object();
  json::object& spec = spec_value.as_object();
  std::string class_name;
  if (const json::value* n = spec.if_contains("priorityClassName"); n && n->is_string()) {
    class_name = std::string(n->as_string());
  }
  int64_t priority = 0;
  std::string policy = "PreemptLowerPriority";
  if (class_name.empty()) {
    if (ObjectPtr dpc = pck ? DefaultClass(cache) : nullptr) {
      class_name = NameOf(dpc->obj);
      priority = ValueOf(dpc->obj);
      if (const json::value* p = dpc->obj.if_contains("preemptionPolicy"); p && p->is_string()) {
        policy = std::string(p->as_string());
      }
      spec["priorityClassName"] = class_name;
    }
  } else {
    ObjectPtr pc = pck ? cache.Get(ObjectKey(*pck, "", class_name)) : nullptr;
    if (!pc) return PodForbidden(pod, "no PriorityClass with name " + class_name + " was found");
    priority = ValueOf(pc->obj);
    if (const json::value* p = pc->obj.if_contains("preemptionPolicy"); p && p->is_string()) {
      policy = std::string(p->as_string());
    }
  }
  if (const json::value* p = spec.if_contains("priority"); p && !p->is_null()) {
    if (!p->is_int64() || p->as_int64() != priority) {
      return PodForbidden(pod, "the integer value of priority (" + json::serialize(*p) +
                                   ") must not be provided in pod spec; priority admission "
                                   "controller computed " +
                                   std::to_string(priority) + " from the given PriorityClass name");
    }
  }
  spec["priority"] = priority;
  if (const json::value* p = spec.if_contains("preemptionPolicy"); p && !p->is_null()) {
    if (!p->is_string() || p->as_string() != policy) {
      std::string given = p->is_string() ? std::string(p->as_string()) : json::serialize(*p);
      return PodForbidden(pod, "the string value of PreemptionPolicy (" + given +
                                   ") must not be provided in pod spec; priority admission "
                                   "controller computed " +
                                   policy + " from the given PriorityClass name");
    }
  }
  spec["preemptionPolicy"] = policy;
  return Status::Ok();
}

Status ValidatePriorityClassAdmission(const ObjectCache& cache, const api::KindInfo& kind,
                                      const json::object& obj, const json::object* old) {
  if (!IsPriorityClass(kind) || !IsGlobalDefault(obj)) return Status::Ok();
  ObjectPtr dpc = DefaultClass(cache);
  if (!dpc) return Status::Ok();
  const std::string name = NameOf(obj);
  if (old == nullptr || NameOf(dpc->obj) != name) {
    return Forbidden("priorityclasses.scheduling.k8s.io \"" + name +
                     "\" is forbidden: PriorityClass " + NameOf(dpc->obj) +
                     " is already marked as default. Only one default can exist");
  }
  return Status::Ok();
}

boost::asio::awaitable<Status> EnsureSystemPriorityClasses(Rest& rest) {
  const api::KindInfo* pck = PriorityClassKind(rest.registry());
  if (pck == nullptr) co_return Status::Ok();
  struct Builtin {
    const char* name;
    int64_t value;
    const char* description;
  };
  static constexpr Builtin kBuiltins[] = {
      {"system-node-critical", 2000001000,
       "For pods a node cannot work without; they stay on their node."},
      {"system-cluster-critical", 2000000000,
       "For pods the cluster cannot work without; they may move between nodes."},
  };
  for (const Builtin& b : kBuiltins) {
    if (rest.cache().Get(ObjectKey(*pck, "", b.name))) continue;
    json::object obj{{"apiVersion", "scheduling.k8s.io/v1"},
                     {"kind", "PriorityClass"},
                     {"metadata", json::object{{"name", b.name}}},
                     {"value", b.value},
                     {"description", b.description}};
    WriteOptions wo;
    auto r = co_await rest.Create(*pck, "", json::value(std::move(obj)), wo);
    if (!r.ok() && r.status().code() != Code::kAlreadyExists) co_return r.status();
  }
  co_return Status::Ok();
}

}  // namespace sampan::apiserver
