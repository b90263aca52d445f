// The default-class admission steps: Kubernetes' DefaultStorageClass (plugin/pkg/admission/
// storage/storageclass/setdefault: a PersistentVolumeClaim created without a storage class gets
// the cluster's default one) and DefaultIngressClass (plugin/pkg/admission/network/
// defaultingressclass: likewise for an Ingress and the default IngressClass); and the classes
// the server creates at start, as k3s installs them: StorageClass `local-path` and IngressClass
// `sampan`.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "api/schema.h"
#include "apiserver/object_cache.h"
#include "util/status.h"

namespace sampan::apiserver {

class Rest;

// The default StorageClass: the one annotated storageclass.kubernetes.io/is-default-class
// "true" (or the beta annotation); the newest (then first by name) when several are. Null if
// none.
ObjectPtr DefaultStorageClass(const api::Registry& registry, const ObjectCache& cache);

// On a claim being created (other kinds: no-op): when spec.storageClassName is absent (not
// "", which asks for no class) and the beta class annotation is not set either, sets it to the
// default class's name, if there is one.
Status AdmitDefaultStorageClass(const api::Registry& registry, const ObjectCache& cache,
                                const api::KindInfo& kind, boost::json::object& pvc);

// The default IngressClass: annotated ingressclass.kubernetes.io/is-default-class "true"; the
// newest when several are. Null if none.
ObjectPtr DefaultIngressClass(const api::Registry& registry, const ObjectCache& cache);

// On an Ingress being created (other kinds: no-op): when neither spec.ingressClassName nor the
// kubernetes.io/ingress.class annotation is set, sets spec.ingressClassName to the default
// class's name, if there is one.
Status AdmitDefaultIngressClass(const api::Registry& registry, const ObjectCache& cache,
                                const api::KindInfo& kind, boost::json::object& ingress);

// Creates the IngressClass `sampan` (controller sampan.io/ingress: the node agents' ingress
// proxy, agent/ingress.h) when missing, marked default unless another class already is.
boost::asio::awaitable<Status> EnsureSampanIngressClass(Rest& rest);

// Creates the StorageClass `local-path` when missing (not when it exists, whatever it became):
// the default class, provisioner sampan.io/local-path (controllers/local_path_provisioner.h),
// WaitForFirstConsumer, reclaim policy Delete; as k3s installs its local-path class. Run at
// server start.
boost::asio::awaitable<Status> EnsureLocalPathStorageClass(Rest& rest);

}  // namespace sampan::apiserver
