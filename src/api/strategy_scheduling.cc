// scheduling.k8s.io: PriorityClass rules (Kubernetes' pkg/apis/scheduling validation).
#include <string>

#include "api/strategy_internal.h"

namespace sampan::api::strategy {

namespace {

constexpr int64_t kHighestUserDefinablePriority = 1000000000;

struct SystemClass {
  const char* name;
  int64_t value;
};
constexpr SystemClass kSystemClasses[] = {{"system-node-critical", 2000001000},
                                          {"system-cluster-critical", 2000000000}};

// Empty when `name`/`value`/`global_default` are those of a built-in class, else why not.
std::string SystemClassProblem(std::string_view name, int64_t value, bool global_default) {
  for (const SystemClass& sc : kSystemClasses) {
    if (name != sc.name) continue;
    if (value != sc.value) {
      return "value of " + std::string(sc.name) + " PriorityClass must be " +
             std::to_string(sc.value);
    }
    if (global_default) {
      return "globalDefault of " + std::string(sc.name) + " PriorityClass must be false";
    }
    return "";
  }
  return std::string(name) + " is not a known system priority class";
}

}  // namespace

void DefaultSchedulingKind(const KindInfo& kind, json::object& obj) {
  if (kind.group != "scheduling.k8s.io" || kind.kind != "PriorityClass") return;
  SetDefault(obj, "value", 0);  // Go's zero value: a class without a value has 0
  SetDefault(obj, "preemptionPolicy", "PreemptLowerPriority");
}

void ValidateSchedulingKind(const KindInfo& kind, const json::object& obj, const json::object* old,
                            Errors& errors) {
  if (kind.group != "scheduling.k8s.io" || kind.kind != "PriorityClass") return;
  std::string_view name;
  if (const json::object* meta = Obj(obj, "metadata")) name = Str(*meta, "name").value_or("");
  const int64_t value = Int(obj, "value").value_or(0);
  if (name.starts_with("system-")) {
    std::string why = SystemClassProblem(name, value, Bool(obj, "globalDefault").value_or(false));
    if (!why.empty()) {
      errors.Forbidden("metadata.name",
                       "priority class names with 'system-' prefix are reserved for system use "
                       "only. error: " +
                           why);
    }
  } else if (value > kHighestUserDefinablePriority) {
    errors.Forbidden("value", "maximum allowed value of a user defined priority is " +
                                  std::to_string(kHighestUserDefinablePriority));
  }
  if (old == nullptr) return;
  if (value != Int(*old, "value").value_or(0)) {
    errors.Forbidden("value", "may not be changed in an update.");
  }
  Immutable(obj, *old, "preemptionPolicy", "preemptionPolicy", errors);
}

}  // namespace sampan::api::strategy
