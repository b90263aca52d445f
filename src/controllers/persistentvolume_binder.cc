#include "controllers/persistentvolume_binder.h"

#include <algorithm>
#include <set>

#include "api/persistent_volumes.h"
#include "controllers/util.h"
#include "util/log.h"

namespace sampan::controllers {
namespace json = boost::json;
using client::MetaObject;
using client::MetaString;
using client::ObjectPtr;

namespace {

constexpr const char* kAnnBindCompleted = "pv.kubernetes.io/bind-completed";
constexpr const char* kAnnBoundByController = "pv.kubernetes.io/bound-by-controller";
constexpr const char* kAnnSelectedNode = "volume.kubernetes.io/selected-node";
constexpr const char* kAnnProvisionedBy = "pv.kubernetes.io/provisioned-by";
constexpr const char* kAnnMigratedTo = "pv.kubernetes.io/migrated-to";
constexpr const char* kAnnStorageProvisioner = "volume.kubernetes.io/storage-provisioner";
constexpr const char* kAnnBetaStorageProvisioner = "volume.beta.kubernetes.io/storage-provisioner";

bool HasAnnotation(const json::object& o, std::string_view key) {
  const json::object* ann = MetaObject(o, "annotations");
  return ann && ann->contains(key);
}
std::string Annotation(const json::object& o, std::string_view key) {
  return Str(MetaObject(o, "annotations"), key);
}
void SetAnnotation(json::object& o, std::string_view key, std::string_view value) {
  json::value& meta = o["metadata"];
  if (!meta.is_object()) meta.emplace_object();
  json::value& ann = meta.as_object()["annotations"];
  if (!ann.is_object()) ann.emplace_object();
  ann.as_object()[key] = value;
}

json::object& EnsureObject(json::object& o, std::string_view key) {
  json::value& v = o[key];
  if (!v.is_object()) v.emplace_object();
  return v.as_object();
}

const json::object* Spec(const json::object& o) { return Obj(&o, "spec"); }
std::string Phase(const json::object& o) { return Str(Obj(&o, "status"), "phase"); }
const json::object* ClaimRef(const json::object& pv) { return Obj(Spec(pv), "claimRef"); }
std::string ClaimRefKey(const json::object& ref) {
  return Str(&ref, "namespace") + "/" + Str(&ref, "name");
}

int64_t Rv(const json::object& o) {
  std::string rv = MetaString(o, "resourceVersion");
  return rv.empty() ? 0 : std::stoll(rv);
}

// The reference Kubernetes' GetReference makes of a claim.
json::object ClaimReference(const json::object& claim) {
  return json::object{{"kind", "PersistentVolumeClaim"},
                      {"namespace", MetaString(claim, "namespace")},
                      {"name", MetaString(claim, "name")},
                      {"uid", MetaString(claim, "uid")},
                      {"apiVersion", "v1"},
                      {"resourceVersion", MetaString(claim, "resourceVersion")}};
}

bool IsPodTerminated(const json::object& pod) {
  std::string phase = Str(Obj(&pod, "status"), "phase");
  return phase == "Succeeded" || phase == "Failed";
}

// A conflict or a vanished object only means the cache was behind: retried quietly.
Status Retry(const Status& st) {
  if (st.code() == Code::kConflict || st.code() == Code::kNotFound) return Conflict(st.message());
  return st;
}

// hostPath's deleter: regexp "/tmp/.+" anywhere in the path (Go's MatchString is unanchored).
bool UnderTmp(const std::string& path) {
  size_t p = path.find("/tmp/");
  return p != std::string::npos && p + 5 < path.size();
}

}  // namespace

std::vector<std::string> PodPvcIndexFunc(const json::object& pod) {
  std::vector<std::string> out;
  if (const json::array* vols = Arr(Spec(pod), "volumes")) {
    for (const json::value& v : *vols) {
      if (!v.is_object()) continue;
      const json::object& vol = v.as_object();
      // Most pods have none of these (every one has its token volume): the namespace is read
      // only for a claim.
      if (const json::object* pvc = Obj(&vol, "persistentVolumeClaim")) {
        out.push_back(MetaString(pod, "namespace") + "/" + Str(pvc, "claimName"));
      } else if (Obj(&vol, "ephemeral")) {
        out.push_back(MetaString(pod, "namespace") + "/" + MetaString(pod, "name") + "-" +
                      Str(&vol, "name"));
      }
    }
  }
  return out;
}

PersistentVolumeBinderController::PersistentVolumeBinderController(
    client::SharedInformers* informers, client::EventRecorder* recorder,
    PersistentVolumeBinderOptions opts)
    : client_(informers->client()),
      recorder_(recorder),
      opts_(opts),
      volumes_(informers->For(client::resources::kPersistentVolumes)),
      claims_(informers->For(client::resources::kPersistentVolumeClaims)),
      classes_(informers->For(client::resources::kStorageClasses)),
      nodes_(informers->For(client::resources::kNodes)),
      pods_(informers->For(client::resources::kPods)) {
  pods_->AddIndex(kPodPvcIndex, PodPvcIndexFunc);
  // A volume turning Available may be what a Pending claim waits for: those claims are tried
  // again at once rather than at the next resync (Kubernetes waits for the resync).
  auto became_available = [this](const ObjectPtr& old, const ObjectPtr& v) {
    if (Str(Obj(v.get(), "status"), "phase") != "Available") return;
    if (old && Str(Obj(old.get(), "status"), "phase") == "Available") return;
    for (const ObjectPtr& c : claims_->List()) {
      if (Str(Spec(*c), "volumeName").empty()) claim_queue_.Add(client::KeyOf(*c));
    }
  };
  volumes_->AddEventHandler(
      client::EventHandlers{[this, became_available](const ObjectPtr& v) {
                              volume_queue_.Add(MetaString(*v, "name"));
                              became_available(nullptr, v);
                            },
                            [this, became_available](const ObjectPtr& old, const ObjectPtr& v) {
                              volume_queue_.Add(MetaString(*v, "name"));
                              became_available(old, v);
                            },
                            [this](const ObjectPtr& v) {
                              {
                                std::lock_guard<std::mutex> lock(mu_);
                                written_volumes_.erase(MetaString(*v, "name"));
                              }
                              // Its claim turns Lost.
                              if (const json::object* ref = ClaimRef(*v))
                                claim_queue_.Add(ClaimRefKey(*ref));
                            }});
  claims_->AddEventHandler(client::EventHandlers{
      [this](const ObjectPtr& c) { claim_queue_.Add(client::KeyOf(*c)); },
      [this](const ObjectPtr&, const ObjectPtr& c) { claim_queue_.Add(client::KeyOf(*c)); },
      [this](const ObjectPtr& c) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          written_claims_.erase(client::KeyOf(*c));
        }
        // Its volume is released.
        if (std::string v = Str(Spec(*c), "volumeName"); !v.empty()) volume_queue_.Add(v);
      }});
}

PersistentVolumeBinderController::~PersistentVolumeBinderController() { Stop(); }

void PersistentVolumeBinderController::Run(int) {
  if (running_.exchange(true)) return;
  auto wait = [this] {
    for (client::Informer* inf : {volumes_, claims_, classes_, nodes_, pods_})
      inf->WaitForSync(std::chrono::seconds(60));
  };
  workers_.emplace_back([this, wait] {
    wait();
    claim_queue_.Process("persistentvolume-binder claims",
                         [this](const std::string& key) { return SyncClaim(key); });
  });
  workers_.emplace_back([this, wait] {
    wait();
    volume_queue_.Process("persistentvolume-binder volumes",
                          [this](const std::string& name) { return SyncVolume(name); });
  });
  workers_.emplace_back([this] { ResyncLoop(); });
}

void PersistentVolumeBinderController::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  claim_queue_.ShutDown();
  volume_queue_.ShutDown();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

void PersistentVolumeBinderController::ResyncLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (stop_cv_.wait_for(lock, opts_.resync, [this] { return stopping_; })) break;
    lock.unlock();
    for (const ObjectPtr& c : claims_->List()) claim_queue_.Add(client::KeyOf(*c));
    for (const ObjectPtr& v : volumes_->List()) volume_queue_.Add(MetaString(*v, "name"));
    lock.lock();
  }
}

Status PersistentVolumeBinderController::Sync(const std::string& key) {
  return key.find('/') == std::string::npos ? SyncVolume(key) : SyncClaim(key);
}

// ---- the newest known copies ------------------------------------------------------------

ObjectPtr PersistentVolumeBinderController::Claim(const std::string& key) {
  ObjectPtr cached = claims_->Get(key);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = written_claims_.find(key);
  if (it == written_claims_.end()) return cached;
  // Never created here: an object the informer no longer has is gone.
  if (!cached || Rv(*cached) >= Rv(*it->second)) {
    written_claims_.erase(it);
    return cached;
  }
  return it->second;
}

ObjectPtr PersistentVolumeBinderController::Volume(const std::string& name) {
  ObjectPtr cached = volumes_->Get(name);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = written_volumes_.find(name);
  if (it == written_volumes_.end()) return cached;
  if (!cached || Rv(*cached) >= Rv(*it->second)) {
    written_volumes_.erase(it);
    return cached;
  }
  return it->second;
}

std::vector<ObjectPtr> PersistentVolumeBinderController::Volumes() {
  std::vector<ObjectPtr> out;
  for (const ObjectPtr& v : volumes_->List()) {
    ObjectPtr newest = Volume(MetaString(*v, "name"));
    if (newest) out.push_back(std::move(newest));
  }
  return out;
}

void PersistentVolumeBinderController::Remember(std::map<std::string, ObjectPtr>& written,
                                                const std::string& key, json::object obj) {
  std::lock_guard<std::mutex> lock(mu_);
  written[key] = std::make_shared<const json::object>(std::move(obj));
}

// ---- claims -----------------------------------------------------------------------------

Status PersistentVolumeBinderController::SyncClaim(const std::string& key) {
  ObjectPtr claim = Claim(key);
  if (!claim) return Status::Ok();
  if (!HasAnnotation(*claim, kAnnBindCompleted)) return SyncUnboundClaim(std::move(claim));
  return SyncBoundClaim(std::move(claim));
}

Status PersistentVolumeBinderController::SyncUnboundClaim(ObjectPtr claim) {
  const std::string volume_name = Str(Spec(*claim), "volumeName");
  if (volume_name.empty()) {
    // The user did not care which volume they get.
    const std::string class_name = api::ClaimStorageClass(*claim).value_or("");
    ObjectPtr sc = class_name.empty() ? nullptr : classes_->Get(class_name);
    const bool delay = sc && Str(sc.get(), "volumeBindingMode") == "WaitForFirstConsumer";
    const bool selected = HasAnnotation(*claim, kAnnSelectedNode);
    api::VolumeMatchOptions opts;
    opts.delay_binding = delay;
    ObjectPtr node;
    json::object no_labels;
    std::string node_name;
    if (delay && selected) {
      node_name = Annotation(*claim, kAnnSelectedNode);
      node = nodes_->Get(node_name);
      if (node) {
        const json::object* labels = MetaObject(*node, "labels");
        opts.node_labels = labels ? labels : &no_labels;
        opts.node_name = node_name;
      }
    }
    std::vector<ObjectPtr> volumes = Volumes();
    std::vector<const json::object*> ptrs;
    for (const ObjectPtr& v : volumes) ptrs.push_back(v.get());
    int found = api::FindMatchingVolume(ptrs, *claim, opts);
    if (found >= 0) return Bind(volumes[static_cast<size_t>(found)], std::move(claim));
    // No volume; the claim stays Pending and says why.
    if (delay && !selected) {
      EmitDelayBindingEvent(*claim);
    } else if (!class_name.empty()) {
      return ProvisionClaim(std::move(claim), class_name);
    } else {
      recorder_->Record(*claim, "Normal", "FailedBinding",
                        "no persistent volumes available for this claim and no storage class is "
                        "set");
    }
    auto r = UpdateClaimStatus(std::move(claim), "Pending", nullptr);
    return r.ok() ? Status::Ok() : r.status();
  }
  // The user asked for a specific volume.
  ObjectPtr volume = Volume(volume_name);
  if (!volume) {
    // Not there (yet): retried on the next sync.
    auto r = UpdateClaimStatus(std::move(claim), "Pending", nullptr);
    return r.ok() ? Status::Ok() : r.status();
  }
  if (!ClaimRef(*volume)) {
    std::string why;
    // Kubernetes' checkVolumeSatisfyClaim: everything but the selector.
    json::object unselected = *claim;
    if (json::value* spec = unselected.if_contains("spec"); spec && spec->is_object())
      spec->as_object().erase("selector");
    if (!api::VolumeFitsClaim(*volume, unselected, &why)) {
      recorder_->Record(*claim, "Warning", "VolumeMismatch",
                        "Cannot bind to requested volume \"" + volume_name + "\": " + why);
      auto r = UpdateClaimStatus(std::move(claim), "Pending", nullptr);
      return r.ok() ? Status::Ok() : r.status();
    }
    return Bind(std::move(volume), std::move(claim));
  }
  if (api::VolumeBoundToClaim(*volume, *claim)) return Bind(std::move(volume), std::move(claim));
  // Claimed by someone else.
  recorder_->Record(*claim, "Warning", "FailedBinding",
                    "volume \"" + volume_name + "\" already bound to a different claim.");
  if (!HasAnnotation(*claim, kAnnBoundByController)) {
    auto r = UpdateClaimStatus(std::move(claim), "Pending", nullptr);
    return r.ok() ? Status::Ok() : r.status();
  }
  return Status(Code::kInternal, "invalid binding of claim \"" + client::KeyOf(*claim) +
                                     "\" to volume \"" + volume_name +
                                     "\": volume already claimed by \"" +
                                     ClaimRefKey(*ClaimRef(*volume)) + "\"");
}

Status PersistentVolumeBinderController::SyncBoundClaim(ObjectPtr claim) {
  const std::string volume_name = Str(Spec(*claim), "volumeName");
  if (volume_name.empty()) {
    return UpdateClaimStatusWithEvent(
        std::move(claim), "Lost", "ClaimLost",
        "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!");
  }
  ObjectPtr volume = Volume(volume_name);
  if (!volume) {
    return UpdateClaimStatusWithEvent(
        std::move(claim), "Lost", "ClaimLost",
        "Bound claim has lost its PersistentVolume. Data on the volume is lost!");
  }
  const json::object* ref = ClaimRef(*volume);
  if (!ref || Str(ref, "uid") == MetaString(*claim, "uid")) {
    // Unbound volume (or not seen bound yet): bind again; bound: make sure all is set.
    return Bind(std::move(volume), std::move(claim));
  }
  return UpdateClaimStatusWithEvent(std::move(claim), "Lost", "ClaimMisbound",
                                    "Two claims are bound to the same volume, this one is bound "
                                    "incorrectly");
}

void PersistentVolumeBinderController::EmitDelayBindingEvent(const json::object& claim) {
  std::vector<std::string> waiting;
  for (const ObjectPtr& pod : pods_->ByIndex(kPodPvcIndex, client::KeyOf(claim))) {
    if (IsPodTerminated(*pod)) continue;
    if (Str(Spec(*pod), "nodeName").empty()) waiting.push_back(MetaString(*pod, "name"));
  }
  std::sort(waiting.begin(), waiting.end());
  if (waiting.empty()) {
    recorder_->Record(claim, "Normal", "WaitForFirstConsumer",
                      "waiting for first consumer to be created before binding");
    return;
  }
  std::string names;
  for (const std::string& n : waiting) names += (names.empty() ? "" : ",") + n;
  recorder_->Record(claim, "Normal", "WaitForPodScheduled",
                    std::string(waiting.size() > 1 ? "waiting for pods " : "waiting for pod ") +
                        names + " to be scheduled");
}

Status PersistentVolumeBinderController::ProvisionClaim(ObjectPtr claim,
                                                        const std::string& class_name) {
  ObjectPtr sc = classes_->Get(class_name);
  if (!sc) {
    recorder_->Record(*claim, "Warning", "ProvisioningFailed",
                      "storageclass.storage.k8s.io \"" + class_name + "\" not found");
    return Status::Ok();
  }
  const std::string provisioner = Str(sc.get(), "provisioner");
  if (provisioner.starts_with("kubernetes.io/")) {
    // In-tree provisioners (kubernetes.io/no-provisioner among them): none here.
    recorder_->Record(*claim, "Warning", "ProvisioningFailed",
                      "no volume plugin matched name: " + provisioner);
    return Status::Ok();
  }
  // An external provisioner: tell it, then wait for its volume.
  if (Annotation(*claim, kAnnStorageProvisioner) != provisioner) {
    json::object next = *claim;
    SetAnnotation(next, kAnnBetaStorageProvisioner, provisioner);
    SetAnnotation(next, kAnnStorageProvisioner, provisioner);
    auto r = client_->Update(client::resources::kPersistentVolumeClaims,
                             MetaString(next, "namespace"), next);
    if (!r.ok()) {
      recorder_->Record(*claim, "Warning", "ProvisioningFailed",
                        "Error saving claim: " + r.status().message());
      return Retry(r.status());
    }
    Remember(written_claims_, client::KeyOf(*r), *r);
    claim = std::make_shared<const json::object>(std::move(*r));
  }
  recorder_->Record(*claim, "Normal", "ExternalProvisioning",
                    "Waiting for a volume to be created either by the external provisioner '" +
                        provisioner +
                        "' or manually by the system administrator. If volume creation is "
                        "delayed, please verify that the provisioner is running and correctly "
                        "registered.");
  return Status::Ok();
}

Status PersistentVolumeBinderController::Bind(ObjectPtr volume, ObjectPtr claim) {
  // 1. The volume's claimRef.
  const json::object* ref = ClaimRef(*volume);
  const bool was_bound_here = api::VolumeBoundToClaim(*volume, *claim);
  const bool ref_current = ref && Str(ref, "name") == MetaString(*claim, "name") &&
                           Str(ref, "namespace") == MetaString(*claim, "namespace") &&
                           Str(ref, "uid") == MetaString(*claim, "uid");
  const bool set_by_controller = !was_bound_here && !HasAnnotation(*volume, kAnnBoundByController);
  if (!ref_current || set_by_controller) {
    json::object next = *volume;
    if (!ref_current) EnsureObject(next, "spec")["claimRef"] = ClaimReference(*claim);
    if (set_by_controller) SetAnnotation(next, kAnnBoundByController, "yes");
    auto r = client_->Update(client::resources::kPersistentVolumes, "", next);
    if (!r.ok()) return Retry(r.status());
    Remember(written_volumes_, MetaString(*r, "name"), *r);
    volume = std::make_shared<const json::object>(std::move(*r));
  }
  // 2. The volume's phase.
  auto v = UpdateVolumePhase(volume, "Bound", "");
  if (!v.ok()) return v.status();
  volume = *v;
  // 3. The claim's volumeName and annotations.
  if (Str(Spec(*claim), "volumeName") != MetaString(*volume, "name") ||
      !HasAnnotation(*claim, kAnnBindCompleted)) {
    json::object next = *claim;
    if (Str(Spec(*claim), "volumeName") != MetaString(*volume, "name")) {
      EnsureObject(next, "spec")["volumeName"] = MetaString(*volume, "name");
      if (!HasAnnotation(next, kAnnBoundByController))
        SetAnnotation(next, kAnnBoundByController, "yes");
    }
    if (!HasAnnotation(next, kAnnBindCompleted)) SetAnnotation(next, kAnnBindCompleted, "yes");
    auto r = client_->Update(client::resources::kPersistentVolumeClaims,
                             MetaString(next, "namespace"), next);
    if (!r.ok()) return Retry(r.status());
    LOG(INFO) << "persistentvolume-binder: volume " << MetaString(*volume, "name")
              << " bound to claim " << client::KeyOf(*r);
    Remember(written_claims_, client::KeyOf(*r), *r);
    claim = std::make_shared<const json::object>(std::move(*r));
  }
  // 4. The claim's status.
  auto c = UpdateClaimStatus(std::move(claim), "Bound", volume.get());
  return c.ok() ? Status::Ok() : c.status();
}

Result<ObjectPtr> PersistentVolumeBinderController::UpdateClaimStatus(ObjectPtr claim,
                                                                      const std::string& phase,
                                                                      const json::object* volume) {
  json::object next = *claim;
  json::object& status = EnsureObject(next, "status");
  bool dirty = false;
  const std::string old_phase = Str(&status, "phase");
  if (old_phase != phase) {
    status["phase"] = phase;
    dirty = true;
  }
  if (!volume) {
    dirty |= status.erase("accessModes") > 0;
    dirty |= status.erase("capacity") > 0;
  } else {
    json::value modes = json::array();
    if (const json::array* m = Arr(Spec(*volume), "accessModes")) modes = *m;
    const json::value* have = status.if_contains("accessModes");
    if (!have || !api::JsonEqual(*have, modes)) {
      status["accessModes"] = modes;
      dirty = true;
    }
    // Capacity only as the claim becomes Bound (a later difference may be intended).
    if (old_phase != phase) {
      const json::object* cap = Obj(Spec(*volume), "capacity");
      if (!cap || !cap->contains("storage")) {
        return Status(Code::kInvalid, "PersistentVolume \"" + MetaString(*volume, "name") +
                                          "\" is without a storage capacity");
      }
      const json::value* want = cap->if_contains("storage");
      const json::object* have_cap = Obj(&status, "capacity");
      const json::value* have_storage = have_cap ? have_cap->if_contains("storage") : nullptr;
      if (!have_storage || !api::JsonEqual(*have_storage, *want)) {
        status["capacity"] = *cap;
        dirty = true;
      }
    }
  }
  if (!dirty) return claim;
  auto r = client_->UpdateStatus(client::resources::kPersistentVolumeClaims,
                                 MetaString(next, "namespace"), next);
  if (!r.ok()) return Retry(r.status());
  Remember(written_claims_, client::KeyOf(*r), *r);
  return ObjectPtr(std::make_shared<const json::object>(std::move(*r)));
}

Status PersistentVolumeBinderController::UpdateClaimStatusWithEvent(ObjectPtr claim,
                                                                    const std::string& phase,
                                                                    const std::string& reason,
                                                                    const std::string& message) {
  if (Phase(*claim) == phase) return Status::Ok();
  auto r = UpdateClaimStatus(std::move(claim), phase, nullptr);
  if (!r.ok()) return r.status();
  recorder_->Record(**r, "Warning", reason, message);
  return Status::Ok();
}

// ---- volumes ----------------------------------------------------------------------------

Result<ObjectPtr> PersistentVolumeBinderController::UpdateVolumePhase(ObjectPtr volume,
                                                                      const std::string& phase,
                                                                      const std::string& message) {
  if (Phase(*volume) == phase) return volume;
  json::object next = *volume;
  json::object& status = EnsureObject(next, "status");
  status["phase"] = phase;
  if (message.empty()) {
    status.erase("message");
  } else {
    status["message"] = message;
  }
  auto r = client_->UpdateStatus(client::resources::kPersistentVolumes, "", next);
  if (!r.ok()) return Retry(r.status());
  Remember(written_volumes_, MetaString(*r, "name"), *r);
  return ObjectPtr(std::make_shared<const json::object>(std::move(*r)));
}

Status PersistentVolumeBinderController::UpdateVolumePhaseWithEvent(ObjectPtr volume,
                                                                    const std::string& phase,
                                                                    const std::string& type,
                                                                    const std::string& reason,
                                                                    const std::string& message) {
  if (Phase(*volume) == phase) return Status::Ok();
  auto r = UpdateVolumePhase(std::move(volume), phase, message);
  if (!r.ok()) return r.status();
  recorder_->Record(**r, type, reason, message);
  return Status::Ok();
}

Status PersistentVolumeBinderController::UnbindVolume(ObjectPtr volume) {
  json::object next = *volume;
  json::object& spec = EnsureObject(next, "spec");
  if (HasAnnotation(*volume, kAnnBoundByController)) {
    // Bound by the controller: undo it all.
    spec.erase("claimRef");
    json::object& meta = EnsureObject(next, "metadata");
    json::object& ann = EnsureObject(meta, "annotations");
    ann.erase(kAnnBoundByController);
    if (ann.empty()) meta.erase("annotations");
  } else {
    // Pre-bound by the user: only the binding uid goes.
    EnsureObject(spec, "claimRef").erase("uid");
  }
  auto r = client_->Update(client::resources::kPersistentVolumes, "", next);
  if (!r.ok()) return Retry(r.status());
  Remember(written_volumes_, MetaString(*r, "name"), *r);
  auto v = UpdateVolumePhase(std::make_shared<const json::object>(std::move(*r)), "Available", "");
  return v.ok() ? Status::Ok() : v.status();
}

Status PersistentVolumeBinderController::SyncVolume(const std::string& name) {
  ObjectPtr volume = Volume(name);
  if (!volume) return Status::Ok();
  const json::object* ref = ClaimRef(*volume);
  if (!ref || Str(ref, "uid").empty()) {
    // Unused, or reserved for a claim that has not been bound to it yet (the claim's sync
    // does that).
    auto r = UpdateVolumePhase(std::move(volume), "Available", "");
    return r.ok() ? Status::Ok() : r.status();
  }
  const std::string claim_key = ClaimRefKey(*ref);
  const std::string ref_uid = Str(ref, "uid");
  ObjectPtr claim = Claim(claim_key);
  const std::string phase = Phase(*volume);
  if (!claim && phase != "Released" && phase != "Failed") {
    // Bound by someone else (the scheduler, a provisioner) to a claim this cache may not have
    // yet: ask the API before releasing the volume.
    auto [ns, cname] = client::SplitKey(claim_key);
    auto live = client_->Get(client::resources::kPersistentVolumeClaims, ns, cname);
    if (live.ok()) {
      claim = std::make_shared<const json::object>(std::move(*live));
    } else if (live.status().code() != Code::kNotFound) {
      return live.status();
    }
  }
  if (claim && MetaString(*claim, "uid") != ref_uid) {
    // The claim was deleted and another made with its name; or the cache is behind.
    auto [ns, cname] = client::SplitKey(claim_key);
    auto live = client_->Get(client::resources::kPersistentVolumeClaims, ns, cname);
    if (live.ok()) {
      claim = MetaString(*live, "uid") == ref_uid
                  ? std::make_shared<const json::object>(std::move(*live))
                  : nullptr;
    } else if (live.status().code() == Code::kNotFound) {
      claim = nullptr;
    } else {
      return live.status();
    }
  }
  if (!claim) {
    // Released: the claim is gone. Failed stays Failed, so the user sees what went wrong.
    if (phase != "Released" && phase != "Failed") {
      LOG(INFO) << "persistentvolume-binder: volume " << name << " is released, reclaim policy "
                << Str(Spec(*volume), "persistentVolumeReclaimPolicy");
      auto r = UpdateVolumePhase(std::move(volume), "Released", "");
      if (!r.ok()) return r.status();
      volume = *r;
    }
    return ReclaimVolume(std::move(volume));
  }
  const std::string claim_volume = Str(Spec(*claim), "volumeName");
  if (claim_volume.empty()) {
    auto mode = [](const json::object& o) {
      std::string m = Str(Spec(o), "volumeMode");
      return m.empty() ? std::string("Filesystem") : m;
    };
    if (mode(*volume) != mode(*claim)) {
      recorder_->Record(*volume, "Warning", "VolumeMismatch",
                        "Cannot bind PersistentVolume to requested PersistentVolumeClaim \"" +
                            MetaString(*claim, "name") + "\" due to incompatible volumeMode.");
      recorder_->Record(*claim, "Warning", "VolumeMismatch",
                        "Cannot bind PersistentVolume \"" + name +
                            "\" to requested PersistentVolumeClaim due to incompatible "
                            "volumeMode.");
      return Status::Ok();
    }
    // The binding is not complete: the claim's sync finishes it.
    claim_queue_.Add(claim_key);
    return Status::Ok();
  }
  if (claim_volume == name) {
    auto r = UpdateVolumePhase(std::move(volume), "Bound", "");
    return r.ok() ? Status::Ok() : r.status();
  }
  // The claim is bound to another volume.
  if (HasAnnotation(*volume, kAnnProvisionedBy) &&
      Str(Spec(*volume), "persistentVolumeReclaimPolicy") == "Delete") {
    if (phase != "Released" && phase != "Failed") {
      auto r = UpdateVolumePhase(std::move(volume), "Released", "");
      if (!r.ok()) return r.status();
      volume = *r;
    }
    return ReclaimVolume(std::move(volume));
  }
  return UnbindVolume(std::move(volume));
}

bool PersistentVolumeBinderController::IsVolumeReleased(const json::object& volume) {
  const json::object* ref = ClaimRef(volume);
  if (!ref || Str(ref, "uid").empty()) return false;
  ObjectPtr claim = Claim(ClaimRefKey(*ref));
  if (claim && MetaString(*claim, "uid") == Str(ref, "uid")) {
    std::string bound = Str(Spec(*claim), "volumeName");
    return !bound.empty() && bound != MetaString(volume, "name");
  }
  return true;
}

Status PersistentVolumeBinderController::ReclaimVolume(ObjectPtr volume) {
  if (!Annotation(*volume, kAnnMigratedTo).empty()) return Status::Ok();
  const std::string policy = Str(Spec(*volume), "persistentVolumeReclaimPolicy");
  if (policy == "Retain") return Status::Ok();
  if (policy == "Recycle") return RecycleVolume(std::move(volume));
  if (policy == "Delete") return DeleteVolume(std::move(volume));
  return UpdateVolumePhaseWithEvent(std::move(volume), "Failed", "Warning",
                                    "VolumeUnknownReclaimPolicy",
                                    "Volume has unrecognized PersistentVolumeReclaimPolicy");
}

Status PersistentVolumeBinderController::RecycleVolume(ObjectPtr volume) {
  const std::string name = MetaString(*volume, "name");
  auto live = client_->Get(client::resources::kPersistentVolumes, "", name);
  if (!live.ok()) return live.status().code() == Code::kNotFound ? Status::Ok() : live.status();
  volume = std::make_shared<const json::object>(std::move(*live));
  if (!IsVolumeReleased(*volume)) return Status::Ok();
  const json::object* ref = ClaimRef(*volume);
  const std::string claim_key = ClaimRefKey(*ref);
  std::set<std::string> users;
  for (const ObjectPtr& pod : pods_->ByIndex(kPodPvcIndex, claim_key)) {
    if (!IsPodTerminated(*pod)) users.insert(client::KeyOf(*pod));
  }
  if (!users.empty() && !claims_->Get(claim_key)) {
    std::string list;
    for (const std::string& u : users) list += (list.empty() ? "" : ",") + u;
    recorder_->Record(*volume, "Normal", "VolumeFailedRecycle", "Volume is used by pods: " + list);
    return Status::Ok();
  }
  // Recycling is deprecated and no recycler runs here: as for a plugin without one.
  return UpdateVolumePhaseWithEvent(std::move(volume), "Failed", "Warning", "VolumeFailedRecycle",
                                    "No recycler plugin found for the volume!");
}

Status PersistentVolumeBinderController::DeleteVolume(ObjectPtr volume) {
  const std::string name = MetaString(*volume, "name");
  // The operation reads the volume afresh, as Kubernetes' deleteVolumeOperation.
  auto live = client_->Get(client::resources::kPersistentVolumes, "", name);
  if (!live.ok()) return live.status().code() == Code::kNotFound ? Status::Ok() : live.status();
  volume = std::make_shared<const json::object>(std::move(*live));
  if (!IsVolumeReleased(*volume)) return Status::Ok();
  const json::object* spec = Spec(*volume);
  // Kubernetes' findDeletablePlugin: the provisioner's plugin, or external; CSI volumes are
  // their driver's; else the plugin of the volume's type.
  std::string provisioned_by = Annotation(*volume, kAnnProvisionedBy);
  if (!provisioned_by.empty() && !provisioned_by.starts_with("kubernetes.io/"))
    return Status::Ok();  // an external deleter's
  if (Obj(spec, "csi")) return Status::Ok();
  std::string error;
  if (const json::object* host = Obj(spec, "hostPath")) {
    std::string path = Str(host, "path");
    if (!UnderTmp(path))
      error = "host_path deleter only supports /tmp/.+ but received provided " + path;
  } else {
    error = "error getting deleter volume plugin for volume \"" + name +
            "\": no deletable volume plugin matched";
  }
  if (!error.empty()) {
    if (Phase(*volume) != "Failed")
      LOG(INFO) << "persistentvolume-binder: deletion of volume " << name << " failed: " << error;
    // Failed, with an event the first time; the deletion is tried again on every sync.
    return UpdateVolumePhaseWithEvent(std::move(volume), "Failed", "Warning", "VolumeFailedDelete",
                                      error);
  }
  // hostPath under /tmp/: the deleter's directory removal happens on a node, not here; the
  // object goes.
  LOG(INFO) << "persistentvolume-binder: deleting released volume " << name;
  Status st = client_->Delete(client::resources::kPersistentVolumes, "", name);
  if (!st.ok() && st.code() != Code::kNotFound) return st;
  return Status::Ok();
}

}  // namespace sampan::controllers
