// The ServiceAccount admission step (Kubernetes' plugin/pkg/admission/serviceaccount), over the
// ServiceAccounts and Namespaces in the watch cache.
//
// Pod create (mirror pods aside):
//  - spec.serviceAccountName defaults to spec.serviceAccount (the deprecated field, as Kubernetes'
//    v1 conversion reads it), else to "default"; spec.serviceAccount is then set to the same name.
//  - The ServiceAccount must exist in the pod's namespace, else Forbidden:
//    `pods "NAME" is forbidden: error looking up service account NS/SA: serviceaccount "SA" not
//    found`. A missing `default` account is waited for a moment (see sa_admission.cc).
//  - Unless spec.automountServiceAccountToken is false (or, when the pod does not say, the
//    account's automountServiceAccountToken is false): a projected volume `kube-api-access-XXXXX`
//    (token 3607 s, kube-root-ca.crt's ca.crt, the namespace; defaultMode 420) mounted read-only
//    at /var/run/secrets/kubernetes.io/serviceaccount in every container and init container that
//    has no mount at that path; the volume is added only if some container got the mount, and a
//    volume already named kube-api-access-* is reused.
//  - No spec.imagePullSecrets → the account's imagePullSecrets.
//  - An account annotated kubernetes.io/enforce-mountable-secrets=true limits the secrets the pod
//    may reference (volumes, env, envFrom, imagePullSecrets) to the account's own.
// Mirror pods (annotation kubernetes.io/config.mirror) are left as they are, but are Forbidden to
// name a service account, to reference secrets, or to project service account tokens.
// A pod in a namespace that is missing or terminating is left to the namespace check that
// follows (Kubernetes' NamespaceLifecycle runs first and refuses it).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "api/schema.h"
#include "apiserver/object_cache.h"
#include "util/status.h"

namespace sampan::apiserver {

// Where the token volume is mounted in each container.
inline constexpr char kServiceAccountMountPath[] = "/var/run/secrets/kubernetes.io/serviceaccount";

// Mutates (and checks) a pod about to be created; run on the API server's executor (it may wait
// on a timer there). Other kinds: no-op. Errors are Forbidden with Kubernetes' wording.
boost::asio::awaitable<Status> AdmitServiceAccount(const api::Registry& registry,
                                                   const ObjectCache& cache,
                                                   const api::KindInfo& kind,
                                                   boost::json::object& pod);

}  // namespace sampan::apiserver
