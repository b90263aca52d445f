#include "scheduler/volume_binding.h"

#include <algorithm>
#include <set>

#include "api/persistent_volumes.h"
#include "api/quantity.h"
#include "scheduler/json_view.h"

namespace sampan::scheduler {
namespace json = boost::json;
using client::MetaString;
using namespace internal;

namespace {

constexpr char kPluginName[] = "VolumeBinding";

const json::object* Annotations(const json::object& o) {
  return client::MetaObject(o, "annotations");
}

bool HasAnnotation(const json::object& o, std::string_view key) {
  const json::object* a = Annotations(o);
  return a && a->contains(key);
}

std::string Annotation(const json::object& o, std::string_view key, bool* present = nullptr) {
  const json::object* a = Annotations(o);
  const json::value* v = a ? a->if_contains(key) : nullptr;
  if (present) *present = v != nullptr;
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

bool Deleting(const json::object& o) {
  const json::object* m = Obj(&o, "metadata");
  const json::value* d = m ? m->if_contains("deletionTimestamp") : nullptr;
  return d && !d->is_null();
}

std::string ClaimClass(const json::object& pvc) { return api::ClaimStorageClass(pvc).value_or(""); }

// spec.resources.requests.storage in bytes (0 when absent).
int64_t RequestedStorage(const json::object& pvc) {
  const json::object* req = Obj(Obj(Obj(&pvc, "spec"), "resources"), "requests");
  const json::value* v = req ? req->if_contains("storage") : nullptr;
  if (!v || !v->is_string()) return 0;
  auto q = api::Quantity::Parse(v->as_string());
  return q.ok() ? q->Value() : 0;
}

// v1helper.MatchTopologySelectorTerms: no terms match every node; else one term whose every
// expression has the node's label value among its values.
bool MatchesAllowedTopologies(const json::object& storage_class, const json::object* labels) {
  const json::array* terms = Arr(&storage_class, "allowedTopologies");
  if (!terms || terms->empty()) return true;
  for (const json::value& t : *terms) {
    if (!t.is_object()) continue;
    const json::array* exprs = Arr(&t.as_object(), "matchLabelExpressions");
    if (!exprs) continue;
    bool all = true;
    for (const json::value& e : *exprs) {
      if (!e.is_object()) continue;
      const json::value* have = labels ? labels->if_contains(Str(&e.as_object(), "key")) : nullptr;
      const json::array* values = Arr(&e.as_object(), "values");
      bool found = false;
      if (have && have->is_string() && values) {
        for (const json::value& v : *values) found = found || v == *have;
      }
      if (!found) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

// Whether `storage_class` can provision a volume for a claim on a node with `labels`.
bool CanProvision(const json::object* storage_class, const json::object* labels) {
  if (!storage_class) return false;
  std::string provisioner = Str(storage_class, "provisioner");
  if (provisioner.empty() || provisioner == kNoProvisioner) return false;
  return MatchesAllowedTopologies(*storage_class, labels);
}

int64_t ResourceVersion(const json::object& o) {
  std::string v = MetaString(o, "resourceVersion");
  if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos)
    return -1;
  return std::stoll(v);
}

class VolumeState : public StateData {
 public:
  PodVolumeClaims claims;
  std::unique_ptr<StateData> Clone() const override { return std::make_unique<VolumeState>(*this); }
};

class VolumeBinding : public FilterPlugin {
 public:
  explicit VolumeBinding(std::shared_ptr<const VolumeObjects> objects)
      : objects_(std::move(objects)) {}
  std::string_view name() const override { return kPluginName; }
  std::string PreFilter(const PodInfo& pod, const ClusterView&, CycleState& state) const override {
    if (!PodHasClaims(*pod.pod)) return "";  // no state: SkipFilter (most pods)
    auto s = std::make_unique<VolumeState>();
    std::string why = GetPodVolumeClaims(*pod.pod, *objects_, &s->claims);
    state.Write(kPluginName, std::move(s));
    return why;
  }
  bool SkipFilter(const PodInfo&, const CycleState& state) const override {
    const VolumeState* s = state.Read<VolumeState>(kPluginName);
    return !s || (s->claims.bound.empty() && s->claims.delayed.empty());
  }
  std::vector<std::string> Filter(const PodInfo&, const NodeInfo& node,
                                  const CycleState& state) const override {
    const VolumeState* s = state.Read<VolumeState>(kPluginName);
    if (!s || !node.node) return {};
    return FindPodVolumes(s->claims, *node.node, nullptr);
  }

 private:
  std::shared_ptr<const VolumeObjects> objects_;
};

}  // namespace

bool PodHasClaims(const json::object& pod) {
  if (const json::array* vols = Arr(Obj(&pod, "spec"), "volumes")) {
    for (const json::value& v : *vols)
      if (v.is_object() && Obj(&v.as_object(), "persistentVolumeClaim")) return true;
  }
  return false;
}

bool ClaimFullyBound(const json::object& pvc) {
  if (Str(Obj(&pvc, "spec"), "volumeName").empty()) return false;
  return HasAnnotation(pvc, kAnnBindCompleted) || Str(Obj(&pvc, "status"), "phase") == "Bound";
}

std::string GetPodVolumeClaims(const json::object& pod, const VolumeObjects& objects,
                               PodVolumeClaims* out) {
  *out = PodVolumeClaims();
  const std::string ns = MetaString(pod, "namespace");
  const json::array* vols = Arr(Obj(&pod, "spec"), "volumes");
  if (!vols) return "";
  bool unbound_immediate = false;
  std::set<std::string> seen;
  for (const json::value& v : *vols) {
    const json::object* src =
        v.is_object() ? Obj(&v.as_object(), "persistentVolumeClaim") : nullptr;
    if (!src) continue;
    out->has_claims = true;
    const std::string name = Str(src, "claimName");
    ObjectPtr pvc = objects.Claim(ns, name);
    // Kubernetes' podHasPVCs, then GetPodVolumeClaims.
    if (!pvc) return "persistentvolumeclaim \"" + name + "\" not found";
    if (Str(Obj(pvc.get(), "status"), "phase") == "Lost") {
      return "persistentvolumeclaim \"" + name + "\" bound to non-existent persistentvolume \"" +
             Str(Obj(pvc.get(), "spec"), "volumeName") + "\"";
    }
    if (Deleting(*pvc)) return "persistentvolumeclaim \"" + name + "\" is being deleted";
    if (!seen.insert(name).second) continue;  // two volumes of one claim: one claim
    if (ClaimFullyBound(*pvc)) {
      out->bound.push_back(pvc);
      out->bound_volumes.push_back(objects.Volume(Str(Obj(pvc.get(), "spec"), "volumeName")));
      continue;
    }
    // volume.IsDelayBindingMode: no class, or a class that does not exist, binds at once.
    const std::string class_name = ClaimClass(*pvc);
    ObjectPtr storage_class = class_name.empty() ? nullptr : objects.StorageClass(class_name);
    const bool delay =
        storage_class && Str(storage_class.get(), "volumeBindingMode") == "WaitForFirstConsumer";
    // A claim pre-bound to a volume (spec.volumeName) is the binder's to complete.
    if (delay && Str(Obj(pvc.get(), "spec"), "volumeName").empty()) {
      out->delayed.push_back(PodVolumeClaims::Delayed{pvc, class_name, storage_class});
    } else {
      unbound_immediate = true;
    }
  }
  // Checked after every claim was found, as Kubernetes' PreFilter does.
  if (unbound_immediate) return kReasonUnboundImmediate;
  if (!out->delayed.empty()) {
    std::set<std::string> classes;
    for (const auto& d : out->delayed) classes.insert(d.class_name);
    for (ObjectPtr& pv : objects.Volumes()) {
      std::string c = api::VolumeStorageClass(*pv);
      if (classes.count(c)) out->volumes_by_class[c].push_back(std::move(pv));
    }
  }
  return "";
}

std::vector<std::string> FindPodVolumes(const PodVolumeClaims& claims, const json::object& node,
                                        PodVolumes* out) {
  const std::string node_name = MetaString(node, "name");
  const json::object no_labels;
  const json::object* labels = client::MetaObject(node, "labels");
  if (!labels) labels = &no_labels;
  bool bound_ok = true, pvs_found = true, unbound_ok = true;
  PodVolumes decisions;
  auto reasons = [&] {
    std::vector<std::string> r;
    if (!bound_ok) r.push_back(kReasonNodeConflict);
    if (!unbound_ok) r.push_back(kReasonBindConflict);
    if (!pvs_found) r.push_back(kReasonPVNotExist);
    if (r.empty() && out) *out = std::move(decisions);
    return r;
  };
  // checkBoundClaims: stops at the first volume that is missing or does not admit the node.
  for (const ObjectPtr& pv : claims.bound_volumes) {
    if (!pv) {
      pvs_found = false;
      break;
    }
    if (!api::VolumeNodeAffinityMatches(*pv, *labels, node_name)) {
      bound_ok = false;
      break;
    }
  }
  if (claims.delayed.empty()) return reasons();

  std::vector<const PodVolumeClaims::Delayed*> to_match, to_provision;
  for (const auto& d : claims.delayed) {
    bool annotated = false;
    std::string selected = Annotation(*d.pvc, kAnnSelectedNode, &annotated);
    if (annotated) {
      if (selected != node_name) {
        unbound_ok = false;
        return reasons();
      }
      to_provision.push_back(&d);
    } else {
      to_match.push_back(&d);
    }
  }
  // findMatchingVolumes: smallest requests first, each volume chosen once.
  std::stable_sort(to_match.begin(), to_match.end(), [](const auto* a, const auto* b) {
    return RequestedStorage(*a->pvc) < RequestedStorage(*b->pvc);
  });
  std::set<std::string> chosen;
  for (const auto* d : to_match) {
    std::vector<const json::object*> candidates;
    std::vector<const ObjectPtr*> owners;
    auto it = claims.volumes_by_class.find(d->class_name);
    if (it != claims.volumes_by_class.end()) {
      for (const ObjectPtr& pv : it->second) {
        if (chosen.count(MetaString(*pv, "name"))) continue;
        candidates.push_back(pv.get());
        owners.push_back(&pv);
      }
    }
    int best = api::FindBestVolume(candidates, *d->pvc, labels, node_name);
    if (best < 0) {
      unbound_ok = false;
      to_provision.push_back(d);
      continue;
    }
    chosen.insert(MetaString(*candidates[best], "name"));
    decisions.static_bindings.push_back(PodVolumes::StaticBinding{d->pvc, *owners[best]});
  }
  // checkVolumeProvisions: decides for the claims without a volume (and overrides the match
  // result, as Kubernetes does).
  if (!to_provision.empty()) {
    unbound_ok = true;
    for (const auto* d : to_provision) {
      if (d->class_name.empty() || !CanProvision(d->storage_class.get(), labels)) {
        unbound_ok = false;
        decisions.provisions.clear();
        break;
      }
      decisions.provisions.push_back(d->pvc);
    }
  }
  return reasons();
}

std::unique_ptr<FilterPlugin> NewVolumeBinding(std::shared_ptr<const VolumeObjects> objects) {
  return std::make_unique<VolumeBinding>(std::move(objects));
}

json::object BindVolumeToClaim(const json::object& pv, const json::object& pvc, bool* dirty) {
  json::object out = pv;
  *dirty = false;
  const bool bound_to_it = api::VolumeBoundToClaim(pv, pvc);
  const json::object* ref = Obj(Obj(&pv, "spec"), "claimRef");
  const std::string ns = MetaString(pvc, "namespace"), name = MetaString(pvc, "name"),
                    uid = MetaString(pvc, "uid");
  if (!ref || Str(ref, "name") != name || Str(ref, "namespace") != ns || Str(ref, "uid") != uid) {
    json::value& spec = out["spec"];
    if (!spec.is_object()) spec.emplace_object();
    spec.as_object()["claimRef"] =
        json::object{{"kind", "PersistentVolumeClaim"},
                     {"namespace", ns},
                     {"name", name},
                     {"uid", uid},
                     {"apiVersion", "v1"},
                     {"resourceVersion", MetaString(pvc, "resourceVersion")}};
    *dirty = true;
  }
  if (!bound_to_it && !HasAnnotation(out, kAnnBoundByController)) {
    json::value& meta = out["metadata"];
    if (!meta.is_object()) meta.emplace_object();
    json::value& ann = meta.as_object()["annotations"];
    if (!ann.is_object()) ann.emplace_object();
    ann.as_object()[kAnnBoundByController] = "yes";
    *dirty = true;
  }
  return out;
}

VolumeAssumeCache::VolumeAssumeCache(const client::Informer* claims,
                                     const client::Informer* volumes,
                                     const client::Informer* classes)
    : claims_(claims), volumes_(volumes), classes_(classes) {}

ObjectPtr VolumeAssumeCache::Overlay(std::map<std::string, Entry>& assumed, const std::string& key,
                                     ObjectPtr current) const {
  auto it = assumed.find(key);
  if (it == assumed.end()) return current;
  if (!current) {  // gone from the API: nothing to assume on
    assumed.erase(it);
    return current;
  }
  const int64_t rv = ResourceVersion(*current);
  // The informer's copy wins once it is newer than what was assumed (or is the write itself).
  if (rv > it->second.rv || (it->second.written && rv >= it->second.rv)) {
    assumed.erase(it);
    return current;
  }
  return it->second.obj;
}

ObjectPtr VolumeAssumeCache::Claim(const std::string& ns, const std::string& name) const {
  const std::string key = ns + "/" + name;
  ObjectPtr current = claims_->Get(key);
  std::lock_guard<std::mutex> lock(mu_);
  return Overlay(assumed_claims_, key, std::move(current));
}

ObjectPtr VolumeAssumeCache::Volume(const std::string& name) const {
  ObjectPtr current = volumes_->Get(name);
  std::lock_guard<std::mutex> lock(mu_);
  return Overlay(assumed_volumes_, name, std::move(current));
}

std::vector<ObjectPtr> VolumeAssumeCache::Volumes() const {
  std::vector<ObjectPtr> out = volumes_->List();
  std::lock_guard<std::mutex> lock(mu_);
  if (assumed_volumes_.empty()) return out;
  for (ObjectPtr& pv : out) pv = Overlay(assumed_volumes_, MetaString(*pv, "name"), pv);
  return out;
}

ObjectPtr VolumeAssumeCache::StorageClass(const std::string& name) const {
  return classes_->Get(name);
}

void VolumeAssumeCache::Assume(PodVolumes* volumes, const std::string& node) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PodVolumes::StaticBinding> bindings;
  for (auto& b : volumes->static_bindings) {
    bool dirty = false;
    json::object pv = BindVolumeToClaim(*b.pv, *b.pvc, &dirty);
    if (!dirty) {  // already pre-bound to the claim: nothing to write, the binding is awaited
      bindings.push_back(b);
      continue;
    }
    auto obj = std::make_shared<const json::object>(std::move(pv));
    assumed_volumes_[MetaString(*obj, "name")] = Entry{obj, ResourceVersion(*b.pv), false};
    bindings.push_back(PodVolumes::StaticBinding{b.pvc, std::move(obj), true});
  }
  volumes->static_bindings = std::move(bindings);
  for (ObjectPtr& pvc : volumes->provisions) {
    json::object copy = *pvc;
    json::value& meta = copy["metadata"];
    if (!meta.is_object()) meta.emplace_object();
    json::value& ann = meta.as_object()["annotations"];
    if (!ann.is_object()) ann.emplace_object();
    ann.as_object()[kAnnSelectedNode] = node;
    auto obj = std::make_shared<const json::object>(std::move(copy));
    assumed_claims_[client::KeyOf(*obj)] = Entry{obj, ResourceVersion(*pvc), false};
    pvc = std::move(obj);
  }
}

void VolumeAssumeCache::Revert(const PodVolumes& volumes) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& b : volumes.static_bindings)
    if (b.write) assumed_volumes_.erase(MetaString(*b.pv, "name"));
  for (const auto& pvc : volumes.provisions) assumed_claims_.erase(client::KeyOf(*pvc));
}

void VolumeAssumeCache::Written(const ObjectPtr& obj, bool is_volume) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& assumed = is_volume ? assumed_volumes_ : assumed_claims_;
  assumed[is_volume ? MetaString(*obj, "name") : client::KeyOf(*obj)] =
      Entry{obj, ResourceVersion(*obj), true};
}

}  // namespace sampan::scheduler
