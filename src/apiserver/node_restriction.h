// Kubernetes' NodeRestriction admission (plugin/pkg/admission/noderestriction): what a node
// (user system:node:<name> in group system:nodes, as `sampan agent --server --token` joins,
// node_join.h) may write, beyond what RBAC lets every node do:
//  - its own Node only (create, update, delete); no configSource; its taints unchanged; labels
//    in the kubernetes.io / k8s.io namespaces only those a kubelet sets (kubernetes.io/hostname,
//    os, arch, instance type, zone and region, node.kubernetes.io/* and
//    kubelet.kubernetes.io/*), never node-restriction.kubernetes.io/*;
//  - pods: create mirror pods bound to itself (owned by its Node, no service account, Secret,
//    ConfigMap or claim), delete and update the status (not the labels) of pods bound to
//    itself; no other pod write;
//  - claims: the status only (capacity and conditions);
//  - leases: its own, in kube-node-lease;
//  - service account tokens: only bound to a pod that runs on it.
// Refusals are 403 with Kubernetes' messages: `pods "x" is forbidden: node "n" can only delete
// pods with spec.nodeName set to itself`. Other users are not concerned.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "api/schema.h"
#include "apiserver/http.h"
#include "apiserver/object_cache.h"
#include "util/status.h"

namespace sampan::apiserver {

// The node a user is ("system:node:<name>" in group system:nodes); nullopt for others. An empty
// name means a node user whose node cannot be told.
std::optional<std::string> NodeNameOf(const Identity* who);

// A create (`existing` null) or an update (`subresource` "" or "status") of `obj` by `who`.
Status AdmitNodeWrite(const Identity* who, const api::KindInfo& kind, std::string_view subresource,
                      const boost::json::object* existing, const boost::json::object& obj,
                      const api::Registry& registry, const ObjectCache& cache);
// A delete of `existing` by `who`.
Status AdmitNodeDelete(const Identity* who, const api::KindInfo& kind,
                       const boost::json::object& existing);
// A TokenRequest (serviceaccounts/token) for the account `account` in `ns` by `who`.
Status AdmitNodeTokenRequest(const Identity* who, std::string_view ns, std::string_view account,
                             const boost::json::object& token_request,
                             const api::Registry& registry, const ObjectCache& cache);

}  // namespace sampan::apiserver
