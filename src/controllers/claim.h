// Pod (and ControllerRevision) ownership for workload controllers, as Kubernetes'
// ControllerRefManager settles it: a controller keeps the pods it controls whose labels still match
// its selector, releases (drops its controller reference from) those that no
// longer match, and adopts matching pods that have no controller at all.
//
//  - Nothing is adopted or released while the owner is being deleted; pods that
//    are being deleted are not adopted.
//  - Before the first adoption of a sync the owner is read again from the API
//    server (not the cache): a different uid or a deletionTimestamp cancels it.
//  - Adoption adds the owner as controller (blockOwnerDeletion) and, if given,
//    a finalizer; release removes both. Each patch carries the pod's uid and
//    the resourceVersion the cache had, so a pod that changed meanwhile is
//    retried rather than overwritten.
//
// The helper reads orphans through an index on the pods informer; call
// AddOrphanIndex before the informers start.
#pragma once

#include <boost/json.hpp>
#include <functional>
#include <string>
#include <vector>

#include "api/labels.h"
#include "client/informer.h"
#include "client/rest_client.h"

namespace sampan::controllers {

// Index name: pods without a controller reference, by namespace.
inline constexpr const char* kOrphanPodsIndex = "orphans-by-namespace";
void AddOrphanIndex(client::Informer* pods);

struct ClaimOptions {
  const client::Resource* owner_resource = nullptr;  // re-read before adopting
  std::string finalizer;                             // added on adoption, dropped on release
  // Further condition a pod must meet to belong to the owner (e.g. a StatefulSet's
  // "<set>-<ordinal>" name); empty = the selector alone decides.
  std::function<bool(const boost::json::object& pod)> filter;
};

// Returns the pods `owner` controls once orphans were adopted and strays released.
// `controlled`: the pods whose controller reference names the owner's uid (the
// caller's own index). An API error of an adoption or release is returned after
// the other pods were handled (the owner should be synced again).
Result<std::vector<client::ObjectPtr>> ClaimPods(client::RestClient* client, client::Informer* pods,
                                                 const std::vector<client::ObjectPtr>& controlled,
                                                 const boost::json::object& owner,
                                                 const api::LabelSelector& selector,
                                                 const ClaimOptions& opts);

// The same for ControllerRevisions (Kubernetes' ControllerRevision claim): of `in_namespace` (the
// revisions of the owner's namespace), those the owner controls and that still match are kept,
// controlled ones that stopped matching are released, matching ones without a controller are
// adopted (after re-reading the owner through `owner_resource`, if given). Returns the revisions
// the owner controls afterwards, in no particular order.
Result<std::vector<client::ObjectPtr>> ClaimRevisions(
    client::RestClient* client, const std::vector<client::ObjectPtr>& in_namespace,
    const boost::json::object& owner, const api::LabelSelector& selector,
    const client::Resource* owner_resource);

// Whether `pod` has no controller and matches (for enqueueing owners on pod events).
bool IsAdoptable(const boost::json::object& pod, const api::LabelSelector& selector);

}  // namespace sampan::controllers
