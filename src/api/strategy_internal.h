// Helpers shared by the strategy_*.cc files. Not part of the api module's contract.
#pragma once

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/schema.h"
#include "util/status.h"

namespace sampan::api::strategy {

namespace json = boost::json;

// Field-level problems, worded like Kubernetes' field.ErrorList.
class Errors {
 public:
  void Required(const std::string& path, std::string_view detail = "");
  void Invalid(const std::string& path, const json::value& value, std::string_view detail);
  void InvalidString(const std::string& path, std::string_view value, std::string_view detail);
  void Unsupported(const std::string& path, std::string_view value,
                   const std::vector<std::string_view>& supported);
  void Duplicate(const std::string& path, const json::value& value);
  void Forbidden(const std::string& path, std::string_view detail);
  void NotFound(const std::string& path, std::string_view value);
  void TooLong(const std::string& path, size_t max);
  // "must be no more than 63 characters; a lowercase RFC 1123 label ..." from the name checks.
  void NameProblems(const std::string& path, std::string_view value,
                    const std::vector<std::string>& problems);
  void Add(Cause cause) { causes_.push_back(std::move(cause)); }

  bool empty() const { return causes_.empty(); }
  std::vector<Cause>& causes() { return causes_; }

 private:
  std::vector<Cause> causes_;
};

// Invalid `<Kind> "<name>" is invalid: ...`, or OK when `errors` is empty.
Status Finish(const KindInfo& kind, const json::object& obj, Errors& errors);

// Typed access that tolerates absent fields and values of the wrong type (nullptr/nullopt).
const json::object* Obj(const json::object& o, std::string_view key);
json::object* MutObj(json::object& o, std::string_view key);
const json::array* Arr(const json::object& o, std::string_view key);
json::array* MutArr(json::object& o, std::string_view key);
std::optional<std::string_view> Str(const json::object& o, std::string_view key);
std::optional<int64_t> Int(const json::object& o, std::string_view key);
std::optional<bool> Bool(const json::object& o, std::string_view key);
bool Has(const json::object& o, std::string_view key);  // present and not null
// o["spec"], or an empty object when it is absent or not an object.
const json::object& SpecOf(const json::object& obj);
// Returns o[key] as an object, creating it (or replacing a null) when absent. Adding a key to
// `o` may move its other values: pointers and references into `o` taken before are stale.
json::object& EnsureObj(json::object& o, std::string_view key);
// Sets o[key] = value when the key is absent or null (or "" when `value` is a string).
void SetDefault(json::object& o, std::string_view key, json::value value);

std::string Index(const std::string& path, size_t i);               // "path[i]"
std::string Child(const std::string& path, std::string_view name);  // "path.name" or "name"

// The labels of a pod template (`template.metadata.labels`), or nullptr.
const json::value* TemplateLabels(const json::object& tmpl);

// ---- rules shared between kinds (strategy_pod.cc) -----------------------------------------

// Where a pod spec sits decides a few rules (restartPolicy per owner).
enum class PodSpecOwner { kPod, kWorkload, kJob, kTemplate };

// The members of VolumeSource: a volume sets exactly one.
const std::vector<std::string_view>& PodVolumeSources();

void DefaultPodSpec(json::object& spec);
void DefaultPodTemplate(json::object& tmpl);  // metadata stays; spec defaulted
void DefaultPod(json::object& pod);           // the spec's defaults plus the pod-only ones
void ValidatePodSpec(const json::object& spec, const std::string& path, PodSpecOwner owner,
                     Errors& errors);
// A PodTemplateSpec: its labels (valid label keys/values) and its spec.
void ValidatePodTemplate(const json::object* tmpl, const std::string& path, PodSpecOwner owner,
                         Errors& errors);
void ValidatePodUpdate(const json::object& obj, const json::object& old, Errors& errors);
// Pod resources' QoS class: Guaranteed, Burstable or BestEffort.
std::string PodQosClass(const json::object& spec);

// ---- shared checks ------------------------------------------------------------------------

// `value` must be >= 0 (if present).
void NonNegative(const json::object& o, std::string_view key, const std::string& path,
                 Errors& errors);
// A port number 1..65535.
bool ValidPort(int64_t port);
// An IANA service name (port names): <= 15 characters, [a-z0-9-], a letter, no "--".
std::vector<std::string> IanaServiceNameProblems(std::string_view name);
// A label selector object: valid keys/values/operators. Reports under `path`.
void ValidateLabelSelector(const json::value* selector, const std::string& path, Errors& errors);
// `selector` is required, non-empty and matches the labels of `tmpl` (a PodTemplateSpec).
void ValidateSelectorMatchesTemplate(const json::object& spec, const std::string& path,
                                     std::string_view kind_lower, Errors& errors);
// A Job spec's backoffLimitPerIndex, maxFailedIndexes, successPolicy and FailIndex rules
// (strategy_job.cc); `path` is the spec's path ("spec", "spec.jobTemplate.spec").
void ValidateJobIndexPolicies(const json::object& spec, const std::string& path, Errors& errors);
// Errors if old[key] != obj[key] ("field is immutable").
void Immutable(const json::object& obj, const json::object& old, std::string_view key,
               const std::string& path, Errors& errors);

}  // namespace sampan::api::strategy
