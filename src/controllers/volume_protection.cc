#include "controllers/volume_protection.h"

#include "controllers/persistentvolume_binder.h"
#include "controllers/util.h"
#include "util/log.h"

namespace sampan::controllers {
namespace json = boost::json;
using client::MetaObject;
using client::MetaString;
using client::ObjectPtr;

namespace {

bool HasFinalizer(const json::object& o, std::string_view f) {
  const json::object* meta = Obj(&o, "metadata");
  if (const json::array* fins = Arr(meta, "finalizers")) {
    for (const json::value& v : *fins)
      if (v.is_string() && v.as_string() == f) return true;
  }
  return false;
}
// Kubernetes' NeedToAddFinalizer / IsDeletionCandidate.
bool NeedsFinalizer(const json::object& o, std::string_view f) {
  return !IsDeleting(o) && !HasFinalizer(o, f);
}
bool DeletionCandidate(const json::object& o, std::string_view f) {
  return IsDeleting(o) && HasFinalizer(o, f);
}

json::object WithFinalizer(const json::object& o, std::string_view f, bool present) {
  json::object next = o;
  json::value& meta = next["metadata"];
  if (!meta.is_object()) meta.emplace_object();
  json::array fins;
  if (const json::array* have = Arr(&meta.as_object(), "finalizers")) {
    for (const json::value& v : *have)
      if (!(v.is_string() && v.as_string() == f)) fins.push_back(v);
  }
  if (present) fins.emplace_back(f);
  if (fins.empty()) {
    meta.as_object().erase("finalizers");
  } else {
    meta.as_object()["finalizers"] = std::move(fins);
  }
  return next;
}

// Conflicts and vanished objects only mean the cache was behind.
Status Quiet(const Status& st) {
  if (st.code() == Code::kNotFound) return Status::Ok();
  if (st.code() == Code::kConflict) return Conflict(st.message());
  return st;
}

bool IsPodTerminated(const json::object& pod) {
  std::string phase = Str(Obj(&pod, "status"), "phase");
  return phase == "Succeeded" || phase == "Failed";
}

// Kubernetes' podIsShutDown: done by its kubelet, or force-deleted.
bool PodIsShutDown(const json::object& pod) {
  const json::object* meta = Obj(&pod, "metadata");
  if (Str(meta, "deletionTimestamp").empty()) return false;
  const json::value* g = meta ? meta->if_contains("deletionGracePeriodSeconds") : nullptr;
  return g && g->is_int64() && g->as_int64() == 0;
}

bool ControlledBy(const json::object& obj, const json::object& owner) {
  const json::object* ref = ControllerRef(obj);
  return ref && Str(ref, "uid") == MetaString(owner, "uid");
}

}  // namespace

bool PodUsesClaim(const json::object& pod, const json::object& pvc) {
  const json::object* spec = Obj(&pod, "spec");
  if (Str(spec, "nodeName").empty()) return false;
  if (MetaString(pod, "namespace") != MetaString(pvc, "namespace")) return false;
  const std::string name = MetaString(pvc, "name");
  if (const json::array* vols = Arr(spec, "volumes")) {
    for (const json::value& v : *vols) {
      if (!v.is_object()) continue;
      const json::object& vol = v.as_object();
      if (const json::object* claim = Obj(&vol, "persistentVolumeClaim")) {
        if (Str(claim, "claimName") == name) return true;
      } else if (Obj(&vol, "ephemeral")) {
        if (!PodIsShutDown(pod) && MetaString(pod, "name") + "-" + Str(&vol, "name") == name &&
            ControlledBy(pvc, pod))
          return true;
      }
    }
  }
  return false;
}

// ---- pvc-protection -----------------------------------------------------------------------

PvcProtectionController::PvcProtectionController(client::SharedInformers* informers)
    : client_(informers->client()),
      claims_(informers->For(client::resources::kPersistentVolumeClaims)),
      pods_(informers->For(client::resources::kPods)) {
  pods_->AddIndex(kPodPvcIndex, PodPvcIndexFunc);
  auto claim_changed = [this](const ObjectPtr& c) {
    if (NeedsFinalizer(*c, kPvcProtectionFinalizer) ||
        DeletionCandidate(*c, kPvcProtectionFinalizer))
      queue_.Add(client::KeyOf(*c));
  };
  claims_->AddEventHandler(client::EventHandlers{
      claim_changed, [claim_changed](const ObjectPtr&, const ObjectPtr& c) { claim_changed(c); },
      nullptr});
  pods_->AddEventHandler(
      client::EventHandlers{[this](const ObjectPtr& p) { EnqueueClaimsOf(*p, false); },
                            [this](const ObjectPtr& o, const ObjectPtr& p) {
                              EnqueueClaimsOf(*p, false);
                              // An update may hide the deletion of a pod and the creation of
                              // another of its name.
                              if (MetaString(*o, "uid") != MetaString(*p, "uid"))
                                EnqueueClaimsOf(*o, true);
                            },
                            [this](const ObjectPtr& p) { EnqueueClaimsOf(*p, true); }});
}

PvcProtectionController::~PvcProtectionController() { Stop(); }

void PvcProtectionController::EnqueueClaimsOf(const json::object& pod, bool deleted) {
  // Only pods that may stop blocking a claim matter.
  if (!deleted && !IsPodTerminated(pod) && !Str(Obj(&pod, "spec"), "nodeName").empty()) return;
  for (const std::string& key : PodPvcIndexFunc(pod)) queue_.Add(key);
}

void PvcProtectionController::Run(int workers) {
  if (running_.exchange(true)) return;
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] {
      claims_->WaitForSync(std::chrono::seconds(60));
      pods_->WaitForSync(std::chrono::seconds(60));
      queue_.Process("pvc-protection", [this](const std::string& key) { return Sync(key); });
    });
  }
}

void PvcProtectionController::Stop() {
  queue_.ShutDown();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

bool PvcProtectionController::UsedByPods(const json::object& pvc, Status* error) {
  const std::string key = client::KeyOf(pvc);
  for (const ObjectPtr& pod : pods_->ByIndex(kPodPvcIndex, key))
    if (PodUsesClaim(*pod, pvc)) return true;
  // Not in the cache does not mean there is none: a live list decides.
  auto list = client_->ListAll(client::resources::kPods, MetaString(pvc, "namespace"), {});
  if (!list.ok()) {
    *error = list.status();
    return true;
  }
  if (const json::array* items = Arr(&*list, "items")) {
    for (const json::value& p : *items) {
      if (!p.is_object()) continue;
      if (PodUsesClaim(p.as_object(), pvc)) return true;
    }
  }
  return false;
}

Status PvcProtectionController::Sync(const std::string& key) {
  ObjectPtr pvc = claims_->Get(key);
  if (!pvc) return Status::Ok();
  const std::string ns = MetaString(*pvc, "namespace");
  if (DeletionCandidate(*pvc, kPvcProtectionFinalizer)) {
    Status error;
    if (!UsedByPods(*pvc, &error)) {
      auto r = client_->Update(client::resources::kPersistentVolumeClaims, ns,
                               WithFinalizer(*pvc, kPvcProtectionFinalizer, false));
      if (!r.ok()) return Quiet(r.status());
      LOG(INFO) << "pvc-protection: removed the finalizer of claim " << key;
      return Status::Ok();
    }
    if (!error.ok()) return error;
  }
  if (NeedsFinalizer(*pvc, kPvcProtectionFinalizer)) {
    auto r = client_->Update(client::resources::kPersistentVolumeClaims, ns,
                             WithFinalizer(*pvc, kPvcProtectionFinalizer, true));
    if (!r.ok()) return Quiet(r.status());
  }
  return Status::Ok();
}

// ---- pv-protection ------------------------------------------------------------------------

PvProtectionController::PvProtectionController(client::SharedInformers* informers)
    : client_(informers->client()),
      volumes_(informers->For(client::resources::kPersistentVolumes)) {
  auto changed = [this](const ObjectPtr& v) {
    if (NeedsFinalizer(*v, kPvProtectionFinalizer) || DeletionCandidate(*v, kPvProtectionFinalizer))
      queue_.Add(MetaString(*v, "name"));
  };
  volumes_->AddEventHandler(client::EventHandlers{
      changed, [changed](const ObjectPtr&, const ObjectPtr& v) { changed(v); }, nullptr});
}

PvProtectionController::~PvProtectionController() { Stop(); }

void PvProtectionController::Run(int workers) {
  if (running_.exchange(true)) return;
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] {
      volumes_->WaitForSync(std::chrono::seconds(60));
      queue_.Process("pv-protection", [this](const std::string& name) { return Sync(name); });
    });
  }
}

void PvProtectionController::Stop() {
  queue_.ShutDown();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

Status PvProtectionController::Sync(const std::string& name) {
  ObjectPtr pv = volumes_->Get(name);
  if (!pv) return Status::Ok();
  if (DeletionCandidate(*pv, kPvProtectionFinalizer)) {
    // In use while bound (the binder's status says so).
    if (Str(Obj(pv.get(), "status"), "phase") != "Bound") {
      auto r = client_->Update(client::resources::kPersistentVolumes, "",
                               WithFinalizer(*pv, kPvProtectionFinalizer, false));
      if (!r.ok()) return Quiet(r.status());
      LOG(INFO) << "pv-protection: removed the finalizer of volume " << name;
      return Status::Ok();
    }
  }
  if (NeedsFinalizer(*pv, kPvProtectionFinalizer)) {
    auto r = client_->Update(client::resources::kPersistentVolumes, "",
                             WithFinalizer(*pv, kPvProtectionFinalizer, true));
    if (!r.ok()) return Quiet(r.status());
  }
  return Status::Ok();
}

}  // namespace sampan::controllers
