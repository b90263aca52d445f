#include "controllers/claim.h"

#include <optional>

#include "controllers/util.h"

namespace sampan::controllers {
namespace json = boost::json;
using client::MetaString;
using client::ObjectPtr;

namespace {

const json::value* LabelsOf(const json::object& pod) {
  const json::object* meta = Obj(&pod, "metadata");
  return meta ? meta->if_contains("labels") : nullptr;
}

bool Matches(const json::object& pod, const api::LabelSelector& selector,
             const ClaimOptions& opts) {
  if (!selector.Matches(LabelsOf(pod))) return false;
  return !opts.filter || opts.filter(pod);
}

json::array Finalizers(const json::object& pod) {
  const json::array* fs = Arr(Obj(&pod, "metadata"), "finalizers");
  return fs ? *fs : json::array();
}

// A merge patch of ownerReferences and finalizers with the pod's uid and resourceVersion as
// preconditions (a null removes an emptied list).
json::object OwnershipPatch(const json::object& pod, const json::array& refs,
                            const json::array& finalizers) {
  json::object meta{
      {"uid", MetaString(pod, "uid")},
      {"ownerReferences", refs.empty() ? json::value(nullptr) : json::value(refs)},
      {"finalizers", finalizers.empty() ? json::value(nullptr) : json::value(finalizers)}};
  std::string rv = MetaString(pod, "resourceVersion");
  if (!rv.empty()) meta["resourceVersion"] = rv;
  return json::object{{"metadata", std::move(meta)}};
}

Status Release(client::RestClient* client, const client::Resource& resource,
               const json::object& pod, const std::string& owner_uid, const ClaimOptions& opts) {
  json::array kept;
  if (const json::array* refs = Arr(Obj(&pod, "metadata"), "ownerReferences"))
    for (const auto& r : *refs)
      if (!(r.is_object() && Str(&r.as_object(), "uid") == owner_uid)) kept.push_back(r);
  json::array finalizers;
  for (const auto& f : Finalizers(pod))
    if (opts.finalizer.empty() || !(f.is_string() && f.as_string() == opts.finalizer))
      finalizers.push_back(f);
  auto r = client->Patch(resource, MetaString(pod, "namespace"), MetaString(pod, "name"),
                         client::PatchType::kMerge, OwnershipPatch(pod, kept, finalizers));
  // Gone, or no longer valid to patch: nothing left to release.
  if (!r.ok() && r.status().code() != Code::kNotFound && r.status().code() != Code::kInvalid)
    return r.status();
  return Status::Ok();
}

}  // namespace

void AddOrphanIndex(client::Informer* pods) {
  pods->AddIndex(kOrphanPodsIndex, [](const json::object& p) -> std::vector<std::string> {
    if (ControllerRef(p)) return {};
    return {MetaString(p, "namespace")};
  });
}

bool IsAdoptable(const json::object& pod, const api::LabelSelector& selector) {
  return !ControllerRef(pod) && !IsDeleting(pod) && selector.Matches(LabelsOf(pod));
}

namespace {

// The claim of objects of `resource` (pods, revisions): `controlled` as ClaimPods says, `orphans`
// the candidates without a controller.
Result<std::vector<ObjectPtr>> ClaimObjects(
    client::RestClient* client, const client::Resource& resource,
    const std::vector<ObjectPtr>& controlled, const std::vector<ObjectPtr>& orphans,
    const json::object& owner, const api::LabelSelector& selector, const ClaimOptions& opts) {
  const std::string uid = MetaString(owner, "uid"), ns = MetaString(owner, "namespace");
  const bool owner_deleting = IsDeleting(owner);
  std::vector<ObjectPtr> claimed;
  Status failure;
  for (const ObjectPtr& pod : controlled) {
    const json::object* ref = ControllerRef(*pod);
    if (!ref || Str(ref, "uid") != uid) continue;  // the cache moved on
    if (Matches(*pod, selector, opts)) {
      claimed.push_back(pod);
      continue;
    }
    if (owner_deleting) continue;
    Status st = Release(client, resource, *pod, uid, opts);
    if (!st.ok() && failure.ok()) failure = st;
  }
  if (!owner_deleting) {
    std::optional<Status> can_adopt;  // decided at the first candidate
    for (const ObjectPtr& pod : orphans) {
      if (ControllerRef(*pod) || IsDeleting(*pod) || !Matches(*pod, selector, opts)) continue;
      if (!can_adopt) {
        can_adopt = Status::Ok();
        if (opts.owner_resource) {
          auto fresh = client->Get(*opts.owner_resource, ns, MetaString(owner, "name"));
          if (!fresh.ok()) {
            can_adopt = fresh.status();
          } else if (MetaString(*fresh, "uid") != uid) {
            can_adopt = Conflict("can't adopt " + resource.plural + ": the original " +
                                 Str(&owner, "kind") + " " + ns + "/" + MetaString(owner, "name") +
                                 " is gone");
          } else if (IsDeleting(*fresh)) {
            can_adopt = Conflict("can't adopt " + resource.plural + ": " + ns + "/" +
                                 MetaString(owner, "name") + " is being deleted");
          }
        }
      }
      if (!can_adopt->ok()) {
        if (failure.ok()) failure = *can_adopt;
        break;
      }
      json::array refs;
      if (const json::array* r = Arr(Obj(pod.get(), "metadata"), "ownerReferences")) refs = *r;
      refs.push_back(MakeControllerRef(owner));
      json::array finalizers = Finalizers(*pod);
      if (!opts.finalizer.empty()) {
        bool present = false;
        for (const auto& f : finalizers)
          if (f.is_string() && f.as_string() == opts.finalizer) present = true;
        if (!present) finalizers.push_back(json::string(opts.finalizer));
      }
      auto r = client->Patch(resource, ns, MetaString(*pod, "name"), client::PatchType::kMerge,
                             OwnershipPatch(*pod, refs, finalizers));
      if (!r.ok()) {
        if (r.status().code() != Code::kNotFound && failure.ok()) failure = r.status();
        continue;
      }
      claimed.push_back(std::make_shared<const json::object>(std::move(*r)));
    }
  }
  if (!failure.ok()) return failure;
  return claimed;
}

}  // namespace

Result<std::vector<ObjectPtr>> ClaimPods(client::RestClient* client, client::Informer* pods,
                                         const std::vector<ObjectPtr>& controlled,
                                         const json::object& owner,
                                         const api::LabelSelector& selector,
                                         const ClaimOptions& opts) {
  return ClaimObjects(client, client::resources::kPods, controlled,
                      pods->ByIndex(kOrphanPodsIndex, MetaString(owner, "namespace")), owner,
                      selector, opts);
}

Result<std::vector<ObjectPtr>> ClaimRevisions(client::RestClient* client,
                                              const std::vector<ObjectPtr>& in_namespace,
                                              const json::object& owner,
                                              const api::LabelSelector& selector,
                                              const client::Resource* owner_resource) {
  const std::string uid = MetaString(owner, "uid");
  std::vector<ObjectPtr> controlled, orphans;
  for (const ObjectPtr& cr : in_namespace) {
    const json::object* ref = ControllerRef(*cr);
    if (!ref) {
      orphans.push_back(cr);
    } else if (Str(ref, "uid") == uid) {
      controlled.push_back(cr);
    }
  }
  ClaimOptions opts;
  opts.owner_resource = owner_resource;
  return ClaimObjects(client, client::resources::kControllerRevisions, controlled, orphans, owner,
                      selector, opts);
}

}  // namespace sampan::controllers
