#include "api/persistent_volumes.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>
#include <set>
#include <tuple>

#include "api/json_util.h"
#include "api/labels.h"
#include "api/quantity.h"

namespace sampan::api {
namespace json = boost::json;

namespace {

constexpr std::string_view kBetaClassAnnotation = "volume.beta.kubernetes.io/storage-class";

const json::object* Meta(const json::object& o) { return Obj(&o, "metadata"); }
const json::object* Spec(const json::object& o) { return Obj(&o, "spec"); }

// The beta class annotation, when the object carries it.
std::optional<std::string> BetaClass(const json::object& o) {
  const json::object* ann = Obj(Meta(o), "annotations");
  const json::value* v = ann ? ann->if_contains(kBetaClassAnnotation) : nullptr;
  if (v && v->is_string()) return std::string(v->as_string());
  return std::nullopt;
}

// spec.resources.requests.storage of a claim / spec.capacity.storage of a volume; 0 when
// absent or malformed (validation refuses both).
Quantity StorageQuantity(const json::object* holder) {
  const json::value* v = holder ? holder->if_contains("storage") : nullptr;
  if (!v || !v->is_string()) return Quantity();
  auto q = Quantity::Parse(v->as_string());
  return q.ok() ? *q : Quantity();
}
Quantity Requested(const json::object& pvc) {
  return StorageQuantity(Obj(Obj(Spec(pvc), "resources"), "requests"));
}
Quantity Capacity(const json::object& pv) { return StorageQuantity(Obj(Spec(pv), "capacity")); }

// spec.volumeMode, Filesystem when unset (Kubernetes' CheckVolumeModeMismatches defaults both).
std::string VolumeMode(const json::object& o) {
  std::string m = Str(Spec(o), "volumeMode");
  return m.empty() ? "Filesystem" : m;
}

std::set<std::string> AccessModeSet(const json::object& o) {
  std::set<std::string> out;
  if (const json::array* a = Arr(Spec(o), "accessModes")) {
    for (const json::value& m : *a)
      if (m.is_string()) out.emplace(m.as_string());
  }
  return out;
}

// Kubernetes' CheckAccessModes: every mode the claim asks for is offered by the volume.
bool AccessModesOffered(const json::object& pv, const json::object& pvc) {
  std::set<std::string> offered = AccessModeSet(pv);
  for (const std::string& m : AccessModeSet(pvc))
    if (!offered.count(m)) return false;
  return true;
}

bool Deleting(const json::object& o) { return !Str(Meta(o), "deletionTimestamp").empty(); }

// Whether the claim's spec.selector (absent = everything) matches the volume's labels. An
// unparsable selector matches nothing (Kubernetes returns an error for the claim).
bool SelectorMatches(const json::object& pv, const json::object& pvc) {
  const json::object* spec = Spec(pvc);
  const json::value* sel = spec ? spec->if_contains("selector") : nullptr;
  if (!sel || sel->is_null()) return true;
  auto parsed = LabelSelector::FromJson(*sel);
  if (!parsed.ok()) return false;
  const json::object* meta = Meta(pv);
  const json::value* labels = meta ? meta->if_contains("labels") : nullptr;
  return parsed->Matches(labels);
}

// One NodeSelectorRequirement against a label or field value.
}  // namespace

std::optional<std::string> ClaimStorageClass(const json::object& pvc) {
  // Kubernetes' GetPersistentVolumeClaimClass: the beta annotation wins when present.
  if (auto beta = BetaClass(pvc)) return beta;
  const json::object* spec = Spec(pvc);
  const json::value* v = spec ? spec->if_contains("storageClassName") : nullptr;
  if (v && v->is_string()) return std::string(v->as_string());
  return std::nullopt;
}

std::string VolumeStorageClass(const json::object& pv) {
  if (auto beta = BetaClass(pv)) return *beta;
  return Str(Spec(pv), "storageClassName");
}

bool VolumeNodeAffinityMatches(const json::object& pv, const json::object& node_labels,
                               std::string_view node_name) {
  const json::object* affinity = Obj(Spec(pv), "nodeAffinity");
  const json::object* required = Obj(affinity, "required");
  if (!required) return true;
  // Terms are ORed; no terms at all admit no node (MatchNodeSelectorTerms).
  const json::array* terms = Arr(required, "nodeSelectorTerms");
  if (!terms) return false;
  for (const json::value& t : *terms)
    if (t.is_object() && NodeSelectorTermMatches(t.as_object(), node_labels, node_name))
      return true;
  return false;
}

namespace {

// Kubernetes' checkVolumeSatisfyClaim, with its wordings (what a claim naming the volume in
// spec.volumeName is checked against: no selector).
bool SatisfiesClaim(const json::object& pv, const json::object& pvc, std::string* why) {
  auto fail = [why](std::string reason) {
    if (why) *why = std::move(reason);
    return false;
  };
  if (Deleting(pv))
    return fail("the volume is marked for deletion \"" + Str(Meta(pv), "name") + "\"");
  if (Capacity(pv).Compare(Requested(pvc)) < 0) return fail("requested PV is too small");
  if (VolumeStorageClass(pv) != ClaimStorageClass(pvc).value_or(""))
    return fail("storageClassName does not match");
  if (VolumeMode(pv) != VolumeMode(pvc)) return fail("incompatible volumeMode");
  if (!AccessModesOffered(pv, pvc)) return fail("incompatible accessMode");
  return true;
}

}  // namespace

bool VolumeFitsClaim(const json::object& pv, const json::object& pvc, std::string* why) {
  if (!SatisfiesClaim(pv, pvc, why)) return false;
  if (!SelectorMatches(pv, pvc)) {
    if (why) *why = "the claim's selector does not match the volume's labels";
    return false;
  }
  return true;
}

bool VolumeBoundToClaim(const json::object& pv, const json::object& pvc) {
  const json::object* ref = Obj(Spec(pv), "claimRef");
  if (!ref) return false;
  const json::object* meta = Meta(pvc);
  if (Str(ref, "name") != Str(meta, "name") || Str(ref, "namespace") != Str(meta, "namespace"))
    return false;
  std::string uid = Str(ref, "uid");
  return uid.empty() || uid == Str(meta, "uid");
}

bool VolumeAvailableFor(const json::object& pv, const json::object& pvc) {
  if (!Obj(Spec(pv), "claimRef")) return true;
  return VolumeBoundToClaim(pv, pvc);
}

int FindMatchingVolume(const std::vector<const json::object*>& pvs, const json::object& pvc,
                       const VolumeMatchOptions& opts) {
  const bool on_node = opts.node_labels != nullptr;
  auto node_ok = [&](const json::object& pv) {
    return !on_node || VolumeNodeAffinityMatches(pv, *opts.node_labels, opts.node_name);
  };
  // A claim that names its volume gets that one or none.
  if (std::string want = Str(Spec(pvc), "volumeName"); !want.empty()) {
    for (size_t i = 0; i < pvs.size(); ++i) {
      const json::object& pv = *pvs[i];
      if (Str(Meta(pv), "name") != want) continue;
      // Already pointing at this claim: taken as it is (Kubernetes finishes such a binding
      // unchecked); unclaimed: it must satisfy the claim (the selector does not count).
      if (!VolumeBoundToClaim(pv, pvc) &&
          (!VolumeAvailableFor(pv, pvc) || !SatisfiesClaim(pv, pvc, nullptr)))
        return -1;
      return node_ok(pv) ? static_cast<int>(i) : -1;
    }
    return -1;
  }
  const Quantity requested = Requested(pvc);
  const std::string want_class = ClaimStorageClass(pvc).value_or("");
  const std::string want_mode = VolumeMode(pvc);
  int best = -1;
  std::tuple<size_t, Quantity, std::string> best_key;
  auto better = [](const std::tuple<size_t, Quantity, std::string>& a,
                   const std::tuple<size_t, Quantity, std::string>& b) {
    if (std::get<0>(a) != std::get<0>(b)) return std::get<0>(a) < std::get<0>(b);
    int c = std::get<1>(a).Compare(std::get<1>(b));
    if (c != 0) return c < 0;
    return std::get<2>(a) < std::get<2>(b);
  };
  for (size_t i = 0; i < pvs.size(); ++i) {
    const json::object& pv = *pvs[i];
    const bool has_ref = Obj(Spec(pv), "claimRef") != nullptr;
    const bool bound_here = VolumeBoundToClaim(pv, pvc);
    if (has_ref && !bound_here) continue;
    Quantity cap = Capacity(pv);
    if (cap.Compare(requested) < 0) continue;
    if (VolumeMode(pv) != want_mode) continue;
    if (Deleting(pv)) continue;
    if (bound_here) {
      // Pre-bound to this claim: it, or nothing when the node cannot use it.
      return node_ok(pv) ? static_cast<int>(i) : -1;
    }
    if (!on_node && opts.delay_binding) continue;  // the scheduler binds these
    if (Str(Obj(&pv, "status"), "phase") != "Available") continue;
    if (!SelectorMatches(pv, pvc)) continue;
    if (VolumeStorageClass(pv) != want_class) continue;
    if (!node_ok(pv)) continue;
    if (!AccessModesOffered(pv, pvc)) continue;
    // The binder searches volumes with the fewest access modes first, then the smallest; the
    // scheduler (on a node) only the smallest. Ties go to the first name.
    std::tuple<size_t, Quantity, std::string> key{on_node ? 0 : AccessModeSet(pv).size(), cap,
                                                  Str(Meta(pv), "name")};
    if (best < 0 || better(key, best_key)) {
      best = static_cast<int>(i);
      best_key = std::move(key);
    }
  }
  return best;
}

int FindBestVolume(const std::vector<const json::object*>& pvs, const json::object& pvc,
                   const json::object* node_labels, std::string_view node_name) {
  VolumeMatchOptions opts;
  opts.node_labels = node_labels;
  opts.node_name = node_name;
  return FindMatchingVolume(pvs, pvc, opts);
}

}  // namespace sampan::api
