// Writes of the pods/ephemeralcontainers subresource: what may change and how it is checked.
#include <boost/json.hpp>
#include <map>
#include <set>

#include "api/json_util.h"
#include "api/strategy.h"
#include "api/strategy_internal.h"

namespace sampan::api {

namespace json = boost::json;
using strategy::Arr;
using strategy::Errors;
using strategy::Index;
using strategy::Obj;
using strategy::Str;

Status ValidateEphemeralContainersUpdate(const KindInfo& kind, const json::object& pod,
                                         const json::object& old) {
  Errors errors;
  // The pod as a whole, with its new ephemeral containers (their own rules: no ports, probes,
  // lifecycle or resources; names unique among all of the pod's containers).
  if (Status st = ValidateCreate(kind, pod); !st.ok()) {
    if (st.code() != Code::kInvalid) return st;
    for (const Cause& c : st.causes()) errors.Add(c);
  }
  static const json::object kEmpty;
  const json::object* spec = Obj(pod, "spec");
  const json::object* old_spec = Obj(old, "spec");
  if (!spec) spec = &kEmpty;
  if (!old_spec) old_spec = &kEmpty;
  const std::string path = "spec.ephemeralContainers";

  // A target must be one of the pod's regular or init containers.
  std::set<std::string, std::less<>> others;
  for (const char* list : {"containers", "initContainers"}) {
    if (const json::array* cs = Arr(*spec, list)) {
      for (const auto& c : *cs)
        if (c.is_object()) others.insert(std::string(Str(c.as_object(), "name").value_or("")));
    }
  }
  std::map<std::string, const json::object*, std::less<>> now;
  if (const json::array* ecs = Arr(*spec, "ephemeralContainers")) {
    for (size_t i = 0; i < ecs->size(); ++i) {
      if (!(*ecs)[i].is_object()) continue;
      const json::object& ec = (*ecs)[i].as_object();
      now[std::string(Str(ec, "name").value_or(""))] = &ec;
      if (auto target = Str(ec, "targetContainerName");
          target && !target->empty() && !others.count(*target)) {
        errors.NotFound(Index(path, i) + ".targetContainerName", *target);
      }
    }
  }
  // Entries already there stay as they are, and stay.
  if (const json::array* olds = Arr(*old_spec, "ephemeralContainers")) {
    for (const auto& o : *olds) {
      if (!o.is_object()) continue;
      std::string name(Str(o.as_object(), "name").value_or(""));
      auto it = now.find(name);
      if (it == now.end()) {
        errors.Forbidden(path, "existing ephemeral containers \"" + name + "\" may not be removed");
      } else if (!JsonEqual(o, json::value(*it->second))) {
        errors.Forbidden(path, "existing ephemeral containers \"" + name + "\" may not be changed");
      }
    }
  }
  return strategy::Finish(kind, pod, errors);
}

}  // namespace sampan::api
