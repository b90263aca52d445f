#include "controllers/garbage_collector.h"

#include "controllers/util.h"
#include "util/log.h"

namespace sampan::controllers {
namespace json = boost::json;
using client::MetaString;
using client::ObjectPtr;

namespace {

constexpr std::string_view kOrphan = "orphan";
constexpr std::string_view kForeground = "foregroundDeletion";

std::vector<std::string> OwnerUids(const json::object& o) {
  std::vector<std::string> out;
  if (const json::array* refs = Arr(Obj(&o, "metadata"), "ownerReferences")) {
    for (const auto& r : *refs)
      if (r.is_object()) out.push_back(Str(&r.as_object(), "uid"));
  }
  return out;
}

std::vector<std::string> Uid(const json::object& o) { return {MetaString(o, "uid")}; }

bool HasFinalizer(const json::object& o, std::string_view f) {
  if (const json::array* fs = Arr(Obj(&o, "metadata"), "finalizers")) {
    for (const auto& v : *fs)
      if (v.is_string() && v.as_string() == f) return true;
  }
  return false;
}

}  // namespace

const std::vector<const client::Resource*>& MonitoredResources() {
  using namespace client::resources;
  static const std::vector<const client::Resource*> kAll = {&kPods,
                                                            &kReplicaSets,
                                                            &kReplicationControllers,
                                                            &kDeployments,
                                                            &kDaemonSets,
                                                            &kStatefulSets,
                                                            &kJobs,
                                                            &kCronJobs,
                                                            &kControllerRevisions,
                                                            &kConfigMaps,
                                                            &kSecrets,
                                                            &kServices,
                                                            &kServiceAccounts,
                                                            &kEndpoints};
  return kAll;
}

GarbageCollector::GarbageCollector(client::SharedInformers* informers)
    : client_(informers->client()),
      queue_(client::WorkQueue::Options{std::chrono::milliseconds(50), std::chrono::seconds(60)}) {
  for (const client::Resource* r : MonitoredResources()) {
    client::Informer* inf = informers->For(*r);
    inf->AddIndex("gc-owner", OwnerUids);
    inf->AddIndex("gc-uid", Uid);
    informers_.emplace_back(r, inf);
    inf->AddEventHandler(
        client::EventHandlers{[this, r](const ObjectPtr& o) { EnqueueObject(*r, *o); },
                              [this, r](const ObjectPtr& old_obj, const ObjectPtr& o) {
                                EnqueueObject(*r, *o);
                                // References removed from a dependent may unblock its former
                                // owners.
                                if (old_obj != o) {
                                  for (const auto& uid : OwnerUids(*old_obj))
                                    EnqueueDependents(uid);
                                }
                              },
                              [this, r](const ObjectPtr& o) {
                                EnqueueDependents(MetaString(*o, "uid"));
                                // A dependent going away may let a foreground owner finish.
                                for (const auto& uid : OwnerUids(*o)) {
                                  for (const auto& [res, inf] : informers_) {
                                    for (const auto& owner : inf->ByIndex("gc-uid", uid))
                                      queue_.Add(res->plural + "|" + client::KeyOf(*owner));
                                  }
                                }
                              }});
  }
}

GarbageCollector::~GarbageCollector() { Stop(); }

void GarbageCollector::EnqueueObject(const client::Resource& r, const json::object& obj) {
  bool deleting = IsDeleting(obj) && (HasFinalizer(obj, kOrphan) || HasFinalizer(obj, kForeground));
  if (deleting || !OwnerUids(obj).empty()) queue_.Add(r.plural + "|" + client::KeyOf(obj));
}

void GarbageCollector::EnqueueDependents(const std::string& owner_uid) {
  for (const auto& d : Dependents(owner_uid)) queue_.Add(d.resource->plural + "|" + d.key);
}

std::vector<GarbageCollector::Item> GarbageCollector::Dependents(
    const std::string& owner_uid) const {
  std::vector<Item> out;
  for (const auto& [r, inf] : informers_) {
    for (const auto& o : inf->ByIndex("gc-owner", owner_uid)) out.push_back({r, client::KeyOf(*o)});
  }
  return out;
}

void GarbageCollector::Run(int workers) {
  if (running_.exchange(true)) return;
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] {
      for (const auto& [r, inf] : informers_) inf->WaitForSync(std::chrono::seconds(60));
      queue_.Process("garbage collector", [this](const std::string& item) { return Process(item); });
    });
  }
}

void GarbageCollector::Stop() {
  queue_.ShutDown();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

Status GarbageCollector::Process(const std::string& item) {
  auto bar = item.find('|');
  if (bar == std::string::npos) return Status::Ok();
  std::string plural = item.substr(0, bar), key = item.substr(bar + 1);
  for (const auto& [r, inf] : informers_) {
    if (r->plural != plural) continue;
    ObjectPtr obj = inf->Get(key);
    if (!obj) return Status::Ok();
    if (IsDeleting(*obj) && HasFinalizer(*obj, kOrphan)) return HandleOrphan(*r, *obj);
    if (IsDeleting(*obj) && HasFinalizer(*obj, kForeground)) {
      RETURN_IF_ERROR(HandleForeground(*r, *obj));
    }
    return CheckOwners(*r, *obj);
  }
  return Status::Ok();
}

Status GarbageCollector::RemoveFinalizer(const client::Resource& r, const json::object& obj,
                                         const std::string& finalizer) {
  json::array rest;
  if (const json::array* fs = Arr(Obj(&obj, "metadata"), "finalizers")) {
    for (const auto& v : *fs)
      if (!(v.is_string() && v.as_string() == finalizer)) rest.push_back(v);
  }
  // resourceVersion makes this a compare-and-swap: a concurrent finalizer change conflicts.
  json::object patch{
      {"metadata", json::object{{"finalizers", rest},
                                {"resourceVersion", MetaString(obj, "resourceVersion")}}}};
  auto [ns, name] = client::SplitKey(client::KeyOf(obj));
  auto res = client_->Patch(r, ns, name, client::PatchType::kMerge, patch);
  if (!res.ok() && res.status().code() != Code::kNotFound) return res.status();
  return Status::Ok();
}

Status GarbageCollector::HandleOrphan(const client::Resource& r, const json::object& owner) {
  // The dependents are read fresh from the API, not from the informers: a dependent created
  // just before the delete may not have reached them yet, and one left owned here would be
  // collected as soon as its owner is gone.
  std::string uid = MetaString(owner, "uid");
  std::string owner_ns = r.namespaced ? MetaString(owner, "namespace") : std::string();
  for (const auto& [res, inf] : informers_) {
    if (!res->namespaced && !owner_ns.empty()) continue;  // a namespaced owner owns nothing cluster-wide
    auto list = client_->ListAll(*res, owner_ns, client::ListOptions{});
    if (!list.ok()) return list.status();
    const json::array* items = Arr(&*list, "items");
    if (!items) continue;
    for (const auto& item : *items) {
      if (!item.is_object()) continue;
      const json::object& dep = item.as_object();
      const json::array* refs = Arr(Obj(&dep, "metadata"), "ownerReferences");
      if (!refs) continue;
      json::array kept;
      bool owned = false;
      for (const auto& ref : *refs) {
        if (ref.is_object() && Str(&ref.as_object(), "uid") == uid) {
          owned = true;
        } else {
          kept.push_back(ref);
        }
      }
      if (!owned) continue;
      json::object patch{
          {"metadata", json::object{{"ownerReferences", kept}, {"uid", MetaString(dep, "uid")}}}};
      auto res_patch = client_->Patch(*res, MetaString(dep, "namespace"), MetaString(dep, "name"),
                                      client::PatchType::kMerge, patch);
      if (!res_patch.ok() && res_patch.status().code() != Code::kNotFound)
        return res_patch.status();
    }
  }
  return RemoveFinalizer(r, owner, std::string(kOrphan));
}

Status GarbageCollector::HandleForeground(const client::Resource& r, const json::object& owner) {
  std::string uid = MetaString(owner, "uid");
  bool blocked = false;
  for (const auto& d : Dependents(uid)) {
    client::Informer* inf = nullptr;
    for (const auto& [res, i] : informers_)
      if (res == d.resource) inf = i;
    ObjectPtr dep = inf ? inf->Get(d.key) : nullptr;
    if (!dep) continue;
    bool blocks = false;
    for (const auto& ref : *Arr(Obj(dep.get(), "metadata"), "ownerReferences")) {
      if (ref.is_object() && Str(&ref.as_object(), "uid") == uid) {
        auto* b = ref.as_object().if_contains("blockOwnerDeletion");
        blocks = b && b->is_bool() && b->as_bool();
      }
    }
    if (blocks) blocked = true;
    if (IsDeleting(*dep)) continue;
    client::DeleteOptions opts;
    opts.propagation_policy = blocks ? "Foreground" : "Background";
    opts.precondition_uid = MetaString(*dep, "uid");
    auto [ns, name] = client::SplitKey(d.key);
    Status st = client_->Delete(*d.resource, ns, name, opts);
    if (!st.ok() && st.code() != Code::kNotFound) return st;
  }
  if (blocked) return Status::Ok();  // a dependent's deletion event brings us back
  return RemoveFinalizer(r, owner, std::string(kForeground));
}

Result<int> GarbageCollector::OwnerState(const json::object& ref, const std::string& dependent_ns,
                                         bool dependent_namespaced) {
  const client::Resource* r = client::ResourceForKind(Str(&ref, "apiVersion"), Str(&ref, "kind"));
  if (!r)
    return Internal("unknown owner kind " + Str(&ref, "apiVersion") + "/" + Str(&ref, "kind"));
  // A cluster-scoped dependent cannot have a namespaced owner: such a reference is absent.
  if (r->namespaced && !dependent_namespaced) return 0;
  auto got = client_->Get(*r, r->namespaced ? dependent_ns : "", Str(&ref, "name"));
  if (!got.ok()) {
    if (got.status().code() == Code::kNotFound) return 0;
    return got.status();
  }
  if (MetaString(*got, "uid") != Str(&ref, "uid")) return 0;
  if (IsDeleting(*got) && HasFinalizer(*got, kForeground)) return 2;
  return 1;
}

Status GarbageCollector::CheckOwners(const client::Resource& r, const json::object& obj) {
  const json::array* refs = Arr(Obj(&obj, "metadata"), "ownerReferences");
  if (!refs || refs->empty() || IsDeleting(obj)) return Status::Ok();
  std::string ns = MetaString(obj, "namespace");
  std::vector<std::string> dangling;
  int alive = 0, waiting = 0;
  bool blocks_waiting = false;
  for (const auto& ref : *refs) {
    if (!ref.is_object()) continue;
    // Cheap check first: an owner in the cache with the same uid is alive unless deleting.
    bool cached_alive = false;
    for (const auto& [res, inf] : informers_) {
      for (const auto& o : inf->ByIndex("gc-uid", Str(&ref.as_object(), "uid")))
        if (!IsDeleting(*o)) cached_alive = true;
    }
    if (cached_alive) {
      ++alive;
      continue;
    }
    auto state = OwnerState(ref.as_object(), ns, r.namespaced);
    if (!state.ok()) {
      LOG(DEBUG) << "garbage collector: " << state.status().ToString();
      ++alive;  // unknown kinds are never treated as gone
      continue;
    }
    if (*state == 0) {
      dangling.push_back(Str(&ref.as_object(), "uid"));
    } else if (*state == 2) {
      ++waiting;
      auto* b = ref.as_object().if_contains("blockOwnerDeletion");
      if (b && b->is_bool() && b->as_bool()) blocks_waiting = true;
    } else {
      ++alive;
    }
  }
  if (dangling.empty() && waiting == 0) return Status::Ok();
  auto [dns, name] = client::SplitKey(client::KeyOf(obj));
  if (alive == 0) {
    client::DeleteOptions opts;
    opts.propagation_policy = blocks_waiting ? "Foreground" : "Background";
    opts.precondition_uid = MetaString(obj, "uid");
    // Only the version judged here may go: if the dependent changed since (its references were
    // just removed by an orphaning delete, say), the delete conflicts and the newer version is
    // judged again when its event arrives.
    opts.precondition_resource_version = MetaString(obj, "resourceVersion");
    Status st = client_->Delete(r, dns, name, opts);
    if (!st.ok() && st.code() != Code::kNotFound && st.code() != Code::kConflict) return st;
    return Status::Ok();
  }
  if (dangling.empty()) return Status::Ok();
  // Some owner remains: only drop the references to the missing ones.
  json::array kept;
  for (const auto& ref : *refs) {
    bool gone = false;
    for (const auto& u : dangling)
      gone = gone || (ref.is_object() && Str(&ref.as_object(), "uid") == u);
    if (!gone) kept.push_back(ref);
  }
  json::object patch{
      {"metadata", json::object{{"ownerReferences", kept}, {"uid", MetaString(obj, "uid")}}}};
  auto res = client_->Patch(r, dns, name, client::PatchType::kMerge, patch);
  if (!res.ok() && res.status().code() != Code::kNotFound) return res.status();
  return Status::Ok();
}

}  // namespace sampan::controllers
