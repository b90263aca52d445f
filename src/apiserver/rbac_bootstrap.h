// The default RBAC policy the API server keeps at startup, as kube-apiserver's bootstrap policy
// (plugin/pkg/auth/authorizer/rbac/bootstrappolicy): the user-facing roles (cluster-admin,
// admin, edit, view and the system:aggregate-to-* roles that admin/edit/view aggregate), the
// roles of the system components (system:node, system:kube-scheduler,
// system:kube-controller-manager, system:node-proxier, ...), the discovery roles, their
// ClusterRoleBindings, and the Roles/RoleBindings of kube-system and kube-public.
//
// Every object is rbac.authorization.k8s.io/v1, labelled kubernetes.io/bootstrapping=
// rbac-defaults and annotated rbac.authorization.kubernetes.io/autoupdate="true".
//
// One departure from Kubernetes: the ClusterRoleBinding system:node binds the group
// system:nodes (Kubernetes leaves it without subjects and relies on the Node authorizer,
// which sampan does not have).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <vector>

#include "util/status.h"

namespace sampan::apiserver {

class Rest;

// The bootstrap objects, complete (apiVersion, kind, metadata, rules / roleRef + subjects).
// Roles and RoleBindings carry metadata.namespace.
std::vector<boost::json::object> BootstrapClusterRoles();
std::vector<boost::json::object> BootstrapClusterRoleBindings();
std::vector<boost::json::object> BootstrapRoles();
std::vector<boost::json::object> BootstrapRoleBindings();

// Kubernetes' rule coverage (pkg/registry/rbac/validation Covers): true when every permission
// `rule` grants is granted by one of `owner` ("*" verbs/groups/resources, "*/sub" resources,
// "/path/*" URLs, no resourceNames = all names).
bool RulesCover(const boost::json::array& owner, const boost::json::object& rule);

// Kubernetes' "reconcile" of one bootstrap object `expected` into the stored `existing` of the
// same kind: adds the labels and annotations `existing` lacks, and (for roles) every expected
// rule not covered by the existing rules (not for aggregated ClusterRoles, whose rules the
// aggregation controller owns: for those, missing clusterRoleSelectors), or (for bindings)
// every missing subject. Nothing is removed. True if `existing` changed. An object annotated
// rbac.authorization.kubernetes.io/autoupdate="false" is left alone (false).
bool ReconcileBootstrapObject(const boost::json::object& expected, boost::json::object& existing);

// Creates every missing bootstrap object and reconciles the existing ones (an update only when
// ReconcileBootstrapObject changes something), as the server's own writes (no identity). Run
// at server start after EnsureSystemNamespaces. The first error other than AlreadyExists.
boost::asio::awaitable<Status> EnsureBootstrapPolicy(Rest& rest);

}  // namespace sampan::apiserver
