// Dispatch of the per-kind rules, and the helpers they share.
#include "api/strategy.h"

#include <boost/json.hpp>

#include "api/json_util.h"
#include "api/labels.h"
#include "api/strategy_internal.h"
#include "api/validate.h"
#include "util/base64.h"

namespace sampan::api {
namespace strategy {

// ---- Errors ---------------------------------------------------------------------------------

namespace {
std::string Quoted(std::string_view s) { return json::serialize(json::value(json::string(s))); }
}  // namespace

void Errors::Required(const std::string& path, std::string_view detail) {
  causes_.push_back({"FieldValueRequired",
                     detail.empty() ? "Required value" : "Required value: " + std::string(detail),
                     path});
}

void Errors::Invalid(const std::string& path, const json::value& value, std::string_view detail) {
  causes_.push_back({"FieldValueInvalid",
                     "Invalid value: " + DescribeValue(value) + ": " + std::string(detail), path});
}

void Errors::InvalidString(const std::string& path, std::string_view value,
                           std::string_view detail) {
  causes_.push_back(
      {"FieldValueInvalid", "Invalid value: " + Quoted(value) + ": " + std::string(detail), path});
}

void Errors::Unsupported(const std::string& path, std::string_view value,
                         const std::vector<std::string_view>& supported) {
  std::string msg = "Unsupported value: " + Quoted(value) + ": supported values: ";
  for (size_t i = 0; i < supported.size(); ++i) {
    msg += (i ? ", " : "") + Quoted(supported[i]);
  }
  causes_.push_back({"FieldValueNotSupported", std::move(msg), path});
}

void Errors::Duplicate(const std::string& path, const json::value& value) {
  causes_.push_back({"FieldValueDuplicate", "Duplicate value: " + DescribeValue(value), path});
}

void Errors::Forbidden(const std::string& path, std::string_view detail) {
  causes_.push_back({"FieldValueForbidden", "Forbidden: " + std::string(detail), path});
}

void Errors::NotFound(const std::string& path, std::string_view value) {
  causes_.push_back({"FieldValueNotFound", "Not found: " + Quoted(value), path});
}

void Errors::TooLong(const std::string& path, size_t max) {
  causes_.push_back({"FieldValueTooLong",
                     "Too long: may not be more than " + std::to_string(max) + " bytes", path});
}

void Errors::NameProblems(const std::string& path, std::string_view value,
                          const std::vector<std::string>& problems) {
  if (problems.empty()) return;
  std::string detail;
  for (const std::string& p : problems) detail += (detail.empty() ? "" : "; ") + p;
  InvalidString(path, value, detail);
}

Status Finish(const KindInfo& kind, const json::object& obj, Errors& errors) {
  if (errors.empty()) return Status::Ok();
  std::string name;
  if (const json::object* meta = Obj(obj, "metadata")) {
    name = std::string(Str(*meta, "name").value_or(""));
    if (name.empty()) name = std::string(Str(*meta, "generateName").value_or(""));
  }
  const std::vector<Cause>& causes = errors.causes();
  std::string detail;
  if (causes.size() == 1) {
    detail = causes[0].field + ": " + causes[0].message;
  } else {
    detail = "[";
    for (size_t i = 0; i < causes.size(); ++i) {
      detail += (i ? ", " : "") + causes[i].field + ": " + causes[i].message;
    }
    detail += "]";
  }
  return Invalid(kind.kind + " " + Quoted(name) + " is invalid: " + detail,
                 std::move(errors.causes()));
}

// ---- JSON access ----------------------------------------------------------------------------

const json::object* Obj(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}
json::object* MutObj(json::object& o, std::string_view key) {
  json::value* v = o.if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}
const json::array* Arr(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_array() ? &v->as_array() : nullptr;
}
json::array* MutArr(json::object& o, std::string_view key) {
  json::value* v = o.if_contains(key);
  return v && v->is_array() ? &v->as_array() : nullptr;
}
std::optional<std::string_view> Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string_view(v->as_string());
}
std::optional<int64_t> Int(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  if (v->is_double() &&
      v->as_double() == static_cast<double>(static_cast<int64_t>(v->as_double()))) {
    return static_cast<int64_t>(v->as_double());
  }
  return std::nullopt;
}
std::optional<bool> Bool(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_bool()) return std::nullopt;
  return v->as_bool();
}
bool Has(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && !v->is_null();
}
json::object& EnsureObj(json::object& o, std::string_view key) {
  json::value& v = o[key];
  if (!v.is_object()) v = json::object();
  return v.as_object();
}
void SetDefault(json::object& o, std::string_view key, json::value value) {
  json::value* v = o.if_contains(key);
  // An empty string counts as unset for string defaults, as for Go's non-pointer strings.
  bool unset = v == nullptr || v->is_null() ||
               (value.is_string() && v->is_string() && v->as_string().empty());
  if (unset) o[key] = std::move(value);
}

std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}
std::string Child(const std::string& path, std::string_view name) {
  return path.empty() ? std::string(name) : path + "." + std::string(name);
}

const json::value* TemplateLabels(const json::object& tmpl) {
  const json::object* meta = Obj(tmpl, "metadata");
  if (!meta) return nullptr;
  const json::value* labels = meta->if_contains("labels");
  return labels && labels->is_object() ? labels : nullptr;
}

// ---- shared checks --------------------------------------------------------------------------

void NonNegative(const json::object& o, std::string_view key, const std::string& path,
                 Errors& errors) {
  if (auto v = Int(o, key); v && *v < 0) {
    errors.Invalid(path, json::value(*v), "must be greater than or equal to 0");
  }
}

const json::object& SpecOf(const json::object& obj) {
  static const json::object kEmpty;
  const json::object* spec = Obj(obj, "spec");
  return spec ? *spec : kEmpty;
}

bool ValidPort(int64_t port) { return port >= 1 && port <= 65535; }

std::vector<std::string> IanaServiceNameProblems(std::string_view name) {
  std::vector<std::string> out;
  if (name.size() > 15) out.push_back("must be no more than 15 characters");
  bool letter = false, ok = true;
  for (char c : name) {
    if (c >= 'a' && c <= 'z') {
      letter = true;
    } else if (!((c >= '0' && c <= '9') || c == '-')) {
      ok = false;
    }
  }
  if (!ok) out.push_back("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  if (name.find("--") != std::string_view::npos)
    out.push_back("must not contain consecutive hyphens");
  if (!letter) out.push_back("must contain at least one letter (a-z)");
  if (!name.empty() && (name.front() == '-' || name.back() == '-')) {
    out.push_back("must not begin or end with a hyphen");
  }
  return out;
}

void ValidateLabelSelector(const json::value* selector, const std::string& path, Errors& errors) {
  if (selector == nullptr || !selector->is_object()) return;
  const json::object& sel = selector->as_object();
  if (const json::object* ml = Obj(sel, "matchLabels")) {
    for (const auto& kv : *ml) {
      errors.NameProblems(Child(path, "matchLabels"), kv.key(), IsQualifiedName(kv.key()));
      if (kv.value().is_string()) {
        errors.NameProblems(Child(path, "matchLabels"), kv.value().as_string(),
                            IsValidLabelValue(kv.value().as_string()));
      }
    }
  }
  if (const json::array* exprs = Arr(sel, "matchExpressions")) {
    for (size_t i = 0; i < exprs->size(); ++i) {
      if (!(*exprs)[i].is_object()) continue;
      const json::object& e = (*exprs)[i].as_object();
      std::string p = Index(Child(path, "matchExpressions"), i);
      std::string key(Str(e, "key").value_or(""));
      if (key.empty()) {
        errors.Required(Child(p, "key"));
      } else {
        errors.NameProblems(Child(p, "key"), key, IsQualifiedName(key));
      }
      std::string op(Str(e, "operator").value_or(""));
      const json::array* values = Arr(e, "values");
      size_t n = values ? values->size() : 0;
      if (op == "In" || op == "NotIn") {
        if (n == 0) {
          errors.Required(Child(p, "values"),
                          "must be specified when `operator` is 'In' or 'NotIn'");
        }
      } else if (op == "Exists" || op == "DoesNotExist") {
        if (n > 0) {
          errors.Forbidden(Child(p, "values"),
                           "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
        }
      } else {
        errors.InvalidString(Child(p, "operator"), op, "not a valid selector operator");
      }
    }
  }
}

void ValidateSelectorMatchesTemplate(const json::object& spec, const std::string& path,
                                     std::string_view kind_lower, Errors& errors) {
  const json::value* selector = spec.if_contains("selector");
  std::string sel_path = Child(path, "selector");
  if (selector == nullptr || selector->is_null()) {
    errors.Required(sel_path);
    return;
  }
  if (!selector->is_object()) return;
  ValidateLabelSelector(selector, sel_path, errors);
  Result<LabelSelector> parsed = LabelSelector::FromJson(*selector);
  if (!parsed.ok()) return;  // reported above
  if (parsed->empty()) {
    errors.Invalid(sel_path, *selector, "empty selector is invalid for " + std::string(kind_lower));
    return;
  }
  const json::object* tmpl = Obj(spec, "template");
  if (tmpl == nullptr) return;  // required-ness is the caller's
  const json::value* labels = TemplateLabels(*tmpl);
  if (!parsed->Matches(labels)) {
    errors.Invalid(Child(path, "template.metadata.labels"),
                   labels ? *labels : json::value(json::object()),
                   "`selector` does not match template `labels`");
  }
}

void Immutable(const json::object& obj, const json::object& old, std::string_view key,
               const std::string& path, Errors& errors) {
  const json::value* a = obj.if_contains(key);
  const json::value* b = old.if_contains(key);
  bool a_set = a && !a->is_null(), b_set = b && !b->is_null();
  if (a_set != b_set || (a_set && !JsonEqual(*a, *b))) {
    errors.Invalid(path, a_set ? *a : json::value(nullptr), "field is immutable");
  }
}

}  // namespace strategy

// ---- dispatch -------------------------------------------------------------------------------

namespace strategy {
// Per-kind parts, in strategy_defaults.cc and strategy_kinds.cc.
void DefaultKind(const KindInfo& kind, json::object& obj);
void ValidateKind(const KindInfo& kind, const json::object& obj, Errors& errors);
void ValidateKindUpdate(const KindInfo& kind, const json::object& obj, const json::object& old,
                        Errors& errors);
void PrepareKindForCreate(const KindInfo& kind, json::object& obj);
// PriorityClass create (old == nullptr) and update rules, in strategy_scheduling.cc.
void ValidateSchedulingKind(const KindInfo& kind, const json::object& obj, const json::object* old,
                            Errors& errors);
void DefaultSchedulingKind(const KindInfo& kind, json::object& obj);
// RBAC kinds (strategy_rbac.cc): create (old == nullptr) and update rules, and defaults.
void ValidateRbacKind(const KindInfo& kind, const json::object& obj, const json::object* old,
                      Errors& errors);
void DefaultRbacKind(const KindInfo& kind, json::object& obj);
// networking.k8s.io and discovery.k8s.io kinds (strategy_networking.cc).
void ValidateNetworkingKind(const KindInfo& kind, const json::object& obj, const json::object* old,
                            Errors& errors);
void DefaultNetworkingKind(const KindInfo& kind, json::object& obj);
// storage.k8s.io StorageClass (strategy_storage.cc).
void ValidateStorageKind(const KindInfo& kind, const json::object& obj, const json::object* old,
                         Errors& errors);
void DefaultStorageKind(const KindInfo& kind, json::object& obj);
}  // namespace strategy

using namespace strategy;  // NOLINT: the helpers of this module

namespace {

NameRule NameRuleFor(const KindInfo& kind) {
  if (kind.group.empty() && kind.kind == "Namespace") return NameRule::kDns1123Label;
  if (kind.group.empty() && kind.kind == "Service") return NameRule::kDns1035Label;
  // RBAC names only need to be path segments: "system:controller:x" is a valid ClusterRole.
  if (kind.group == "rbac.authorization.k8s.io") return NameRule::kPathSegment;
  return NameRule::kSubdomain;
}

void ValidateMeta(const KindInfo& kind, const json::object& obj, Errors& errors) {
  const json::object* meta = Obj(obj, "metadata");
  if (meta == nullptr) {
    errors.Required("metadata");
    return;
  }
  ValidateObjectMeta(*meta, kind.namespaced, NameRuleFor(kind), &errors.causes());
}

bool HasStatusSubresource(const KindInfo& kind) {
  return kind.FindSubresource("status") != nullptr;
}

}  // namespace

void DefaultObject(const KindInfo& kind, json::object& obj) {
  DefaultKind(kind, obj);
  DefaultSchedulingKind(kind, obj);
  DefaultRbacKind(kind, obj);
  DefaultNetworkingKind(kind, obj);
  DefaultStorageKind(kind, obj);
  if (!kind.group.empty()) return;
  if (kind.kind == "Secret") {
    // stringData is write-only: merged into data (base64), stringData winning on a clash.
    // Moved out first: adding "data" may rehash `obj` and move what a pointer into it saw.
    json::value sd;
    if (json::value* p = obj.if_contains("stringData")) sd = std::move(*p);
    obj.erase("stringData");
    if (sd.is_object()) {
      json::object& data = EnsureObj(obj, "data");
      for (const auto& [k, v] : sd.as_object()) {
        if (v.is_string()) data[k] = Base64Encode(std::string_view(v.as_string()));
      }
    }
  } else if (kind.kind == "Namespace") {
    // Every namespace carries its own name as a label, so selectors can pick namespaces.
    // A copy: adding "labels" may rehash metadata and free the member a pointer would see.
    const json::object* meta = Obj(obj, "metadata");
    const json::value* name = meta ? meta->if_contains("name") : nullptr;
    if (name && name->is_string()) {
      json::string copy = name->as_string();
      EnsureObj(EnsureObj(obj, "metadata"), "labels")["kubernetes.io/metadata.name"] = copy;
    }
  }
}

void PrepareForCreate(const KindInfo& kind, json::object& obj) {
  // A node registers itself with its status; every other kind starts without one.
  if (HasStatusSubresource(kind) && !(kind.group.empty() && kind.kind == "Node")) {
    obj.erase("status");
  }
  if (TracksGeneration(kind)) EnsureObj(obj, "metadata")["generation"] = 1;
  PrepareKindForCreate(kind, obj);
}

void PrepareForUpdate(const KindInfo& kind, json::object& obj, const json::object& old) {
  if (HasStatusSubresource(kind)) {
    if (const json::value* st = old.if_contains("status")) {
      obj["status"] = *st;
    } else {
      obj.erase("status");
    }
  }
  if (kind.group.empty() && kind.kind == "Namespace") {
    const json::object* old_spec = Obj(old, "spec");
    const json::value* fin = old_spec ? old_spec->if_contains("finalizers") : nullptr;
    json::object& spec = EnsureObj(obj, "spec");
    if (fin) {
      spec["finalizers"] = *fin;
    } else {
      spec.erase("finalizers");
    }
  }
  if (TracksGeneration(kind)) {
    int64_t generation = 1;
    if (const json::object* m = Obj(old, "metadata"))
      generation = Int(*m, "generation").value_or(1);
    const json::value* a = obj.if_contains("spec");
    const json::value* b = old.if_contains("spec");
    bool changed = (a == nullptr) != (b == nullptr) || (a && !JsonEqual(*a, *b));
    EnsureObj(obj, "metadata")["generation"] = changed ? generation + 1 : generation;
  }
}

void PrepareForStatusUpdate(const KindInfo& kind, json::object& obj, const json::object& old) {
  std::vector<std::string> keys;
  for (const auto& kv : obj) keys.emplace_back(kv.key());
  for (const std::string& k : keys) {
    if (k != "status" && k != "metadata" && k != "apiVersion" && k != "kind") obj.erase(k);
  }
  for (const auto& kv : old) {
    if (kv.key() != "status" && kv.key() != "metadata" && kv.key() != "apiVersion" &&
        kv.key() != "kind") {
      obj[kv.key()] = kv.value();
    }
  }
}

Status ValidateCreate(const KindInfo& kind, const json::object& obj) {
  Errors errors;
  ValidateMeta(kind, obj, errors);
  ValidateKind(kind, obj, errors);
  ValidateSchedulingKind(kind, obj, nullptr, errors);
  ValidateRbacKind(kind, obj, nullptr, errors);
  ValidateNetworkingKind(kind, obj, nullptr, errors);
  ValidateStorageKind(kind, obj, nullptr, errors);
  return Finish(kind, obj, errors);
}

Status ValidateUpdate(const KindInfo& kind, const json::object& obj, const json::object& old) {
  Errors errors;
  ValidateMeta(kind, obj, errors);
  // A Pod's spec was validated when it was written; an update that leaves it as it was (a status
  // write, a label) is not checked again, as Kubernetes' status updates check only the status.
  const json::value* spec = obj.if_contains("spec");
  const json::value* old_spec = old.if_contains("spec");
  const bool same_pod_spec =
      kind.group.empty() && kind.kind == "Pod" && spec && old_spec && JsonEqual(*spec, *old_spec);
  if (!same_pod_spec) ValidateKind(kind, obj, errors);
  ValidateKindUpdate(kind, obj, old, errors);
  ValidateSchedulingKind(kind, obj, &old, errors);
  ValidateRbacKind(kind, obj, &old, errors);
  ValidateNetworkingKind(kind, obj, &old, errors);
  ValidateStorageKind(kind, obj, &old, errors);
  return Finish(kind, obj, errors);
}

bool TracksGeneration(const KindInfo& kind) {
  const std::string& g = kind.group;
  const std::string& k = kind.kind;
  if (g.empty()) return k == "ReplicationController";
  if (g == "apps") return k != "ControllerRevision";
  if (g == "batch") return k == "Job" || k == "CronJob";
  if (g == "autoscaling") return k == "HorizontalPodAutoscaler";
  if (g == "policy") return k == "PodDisruptionBudget";
  return false;
}

}  // namespace sampan::api
