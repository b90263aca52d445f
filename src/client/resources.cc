#include "client/rest_client.h"

namespace sampan::client {

std::string Resource::Path(std::string_view ns, std::string_view name,
                           std::string_view subresource) const {
  std::string p = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (namespaced && !ns.empty()) {
    p += "/namespaces/";
    p += ns;
  }
  p += "/";
  p += plural;
  if (!name.empty()) {
    p += "/";
    p += name;
    if (!subresource.empty()) {
      p += "/";
      p += subresource;
    }
  }
  return p;
}

namespace resources {
const Resource kPods{"", "v1", "pods", "Pod", true};
const Resource kNodes{"", "v1", "nodes", "Node", false};
const Resource kNamespaces{"", "v1", "namespaces", "Namespace", false};
const Resource kEvents{"", "v1", "events", "Event", true};
const Resource kReplicationControllers{"", "v1", "replicationcontrollers", "ReplicationController",
                                       true};
const Resource kConfigMaps{"", "v1", "configmaps", "ConfigMap", true};
const Resource kSecrets{"", "v1", "secrets", "Secret", true};
const Resource kServices{"", "v1", "services", "Service", true};
const Resource kServiceAccounts{"", "v1", "serviceaccounts", "ServiceAccount", true};
const Resource kEndpoints{"", "v1", "endpoints", "Endpoints", true};
const Resource kReplicaSets{"apps", "v1", "replicasets", "ReplicaSet", true};
const Resource kDeployments{"apps", "v1", "deployments", "Deployment", true};
const Resource kDaemonSets{"apps", "v1", "daemonsets", "DaemonSet", true};
const Resource kStatefulSets{"apps", "v1", "statefulsets", "StatefulSet", true};
const Resource kControllerRevisions{"apps", "v1", "controllerrevisions", "ControllerRevision",
                                    true};
const Resource kJobs{"batch", "v1", "jobs", "Job", true};
const Resource kCronJobs{"batch", "v1", "cronjobs", "CronJob", true};
const Resource kLeases{"coordination.k8s.io", "v1", "leases", "Lease", true};
const Resource kEndpointSlices{"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true};
const Resource kPersistentVolumes{"", "v1", "persistentvolumes", "PersistentVolume", false};
const Resource kPersistentVolumeClaims{"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim",
                                       true};
const Resource kStorageClasses{"storage.k8s.io", "v1", "storageclasses", "StorageClass", false};
const Resource kIngresses{"networking.k8s.io", "v1", "ingresses", "Ingress", true};
const Resource kIngressClasses{"networking.k8s.io", "v1", "ingressclasses", "IngressClass", false};

const Resource* Find(std::string_view name) {
  // clang-format off
  static const Resource* const kAll[] = {
      &kPods,        &kNodes,       &kNamespaces, &kEvents,          &kReplicationControllers,
      &kConfigMaps,  &kSecrets,     &kServices,   &kServiceAccounts, &kEndpoints,
      &kReplicaSets, &kDeployments, &kDaemonSets, &kStatefulSets,    &kControllerRevisions,
      &kJobs,        &kCronJobs,    &kLeases,     &kEndpointSlices,  &kPersistentVolumes,
      &kPersistentVolumeClaims,     &kStorageClasses, &kIngresses, &kIngressClasses};
  // clang-format on
  for (const Resource* r : kAll) {
    if (name == r->plural) return r;
    if (name.size() == r->plural.size() + 1 + r->group.size() && name.starts_with(r->plural) &&
        name[r->plural.size()] == '.' && name.ends_with(r->group) && !r->group.empty())
      return r;
  }
  return nullptr;
}
}  // namespace resources

}  // namespace sampan::client
