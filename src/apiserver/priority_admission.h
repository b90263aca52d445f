// The Priority admission step (Kubernetes' plugin/pkg/admission/priority) and the built-in
// PriorityClasses, over the PriorityClasses in the watch cache.
//
// Pod create: spec.priorityClassName names a class → spec.priority and spec.preemptionPolicy
// come from it (Forbidden `no PriorityClass with name X was found` when there is none); no
// name → the globalDefault class (lowest value if several) fills name, priority and policy,
// else priority 0 and PreemptLowerPriority. A pod that sets its own spec.priority or
// spec.preemptionPolicy differing from the computed ones is Forbidden.
// PriorityClass create/update: at most one class may be globalDefault (Forbidden otherwise).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "api/schema.h"
#include "apiserver/object_cache.h"
#include "util/status.h"

namespace sampan::apiserver {

class Rest;

// Mutates a pod about to be created (run before the pod's defaults: the defaults fill priority
// 0 only for pods that still have none). Other kinds: no-op. Errors are Forbidden with
// Kubernetes' `pods "NAME" is forbidden: ...` wording.
Status AdmitPodPriority(const api::Registry& registry, const ObjectCache& cache,
                        const api::KindInfo& kind, boost::json::object& pod);

// For a PriorityClass being created (old == nullptr) or updated: Forbidden when it is
// globalDefault and another class already is. Other kinds: OK.
Status ValidatePriorityClassAdmission(const ObjectCache& cache, const api::KindInfo& kind,
                                      const boost::json::object& obj,
                                      const boost::json::object* old);

// Creates system-node-critical (2000001000) and system-cluster-critical (2000000000) when
// missing; run at server start, as EnsureSystemNamespaces.
boost::asio::awaitable<Status> EnsureSystemPriorityClasses(Rest& rest);

}  // namespace sampan::apiserver
