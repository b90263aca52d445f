// storage.k8s.io: StorageClass defaults and rules (as Kubernetes' pkg/apis/storage validation).
// Stored and served; no provisioner acts on them yet.
#include <cctype>
#include <string>

#include "api/strategy_internal.h"
#include "api/validate.h"

namespace sampan::api::strategy {

void DefaultStorageKind(const KindInfo& kind, json::object& obj) {
  if (kind.group != "storage.k8s.io" || kind.kind != "StorageClass") return;
  SetDefault(obj, "reclaimPolicy", "Delete");
  SetDefault(obj, "volumeBindingMode", "Immediate");
}

void ValidateStorageKind(const KindInfo& kind, const json::object& obj, const json::object* old,
                         Errors& errors) {
  if (kind.group != "storage.k8s.io" || kind.kind != "StorageClass") return;
  std::string_view provisioner = Str(obj, "provisioner").value_or("");
  if (provisioner.empty()) {
    errors.Required("provisioner");
  } else {
    std::string lower(provisioner);  // checked in lower case, as Kubernetes does
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    errors.NameProblems("provisioner", provisioner, IsQualifiedName(lower));
  }
  if (const json::object* params = Obj(obj, "parameters")) {
    size_t bytes = 0;
    for (const auto& kv : *params) {
      bytes += kv.key().size() + (kv.value().is_string() ? kv.value().as_string().size() : 0);
    }
    if (params->size() > 512) {
      errors.TooLong("parameters", 512);
    } else if (bytes > 256 * 1024) {
      errors.TooLong("parameters", 256 * 1024);
    }
  }
  std::string_view reclaim = Str(obj, "reclaimPolicy").value_or("Delete");
  if (reclaim != "Delete" && reclaim != "Retain") {
    errors.Unsupported("reclaimPolicy", reclaim, {"Delete", "Retain"});
  }
  std::string_view binding = Str(obj, "volumeBindingMode").value_or("Immediate");
  if (binding != "Immediate" && binding != "WaitForFirstConsumer") {
    errors.Unsupported("volumeBindingMode", binding, {"Immediate", "WaitForFirstConsumer"});
  }
  if (const json::array* terms = Arr(obj, "allowedTopologies")) {
    for (size_t i = 0; i < terms->size(); ++i) {
      const std::string tp = Index("allowedTopologies", i);
      const json::array* reqs =
          (*terms)[i].is_object() ? Arr((*terms)[i].as_object(), "matchLabelExpressions") : nullptr;
      if (!reqs) continue;  // an empty term is allowed
      for (size_t j = 0; j < reqs->size(); ++j) {
        if (!(*reqs)[j].is_object()) continue;
        const json::object& r = (*reqs)[j].as_object();
        const std::string rp = Index(Child(tp, "matchLabelExpressions"), j);
        std::string_view key = Str(r, "key").value_or("");
        errors.NameProblems(Child(rp, "key"), key, IsQualifiedName(key));
        const json::array* values = Arr(r, "values");
        if (!values || values->empty()) {
          errors.Required(Child(rp, "values"), "must specify as least one value");
        }
      }
    }
  }
  if (!old) return;
  Immutable(obj, *old, "volumeBindingMode", "volumeBindingMode", errors);
  for (std::string_view field : {"provisioner", "parameters", "reclaimPolicy"}) {
    const json::value* now = obj.if_contains(field);
    const json::value* was = old->if_contains(field);
    bool same = (!now && !was) || (now && was && *now == *was);
    if (!same) {
      errors.Forbidden(std::string(field), "updates to " + std::string(field) + " are forbidden.");
    }
  }
}

}  // namespace sampan::api::strategy
