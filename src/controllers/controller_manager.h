// The control plane's clients in one call: the scheduler and the controllers
// (ReplicaSet, ReplicationController, Deployment, ServiceAccount + root CA,
// garbage collector, Endpoints, EndpointSlices, ...), each behind its own
// Lease-based leader election so that with several servers exactly one of each
// is active.
//
//   controllers::ControlPlaneOptions cp;
//   cp.kubeconfig = "/var/lib/sampan/kubeconfig.yaml";   // or cp.client = {...}
//   ASSIGN_OR_RETURN(auto plane, controllers::StartControlPlane(cp));
//   ...
//   plane->Stop();  // before the API server stops
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "client/config.h"
#include "util/status.h"

namespace sampan::controllers {

struct ControlPlaneOptions {
  std::string kubeconfig;       // used when non-empty
  client::ClientConfig client;  // otherwise: explicit server URL and credentials
  bool leader_elect = true;
  std::string identity;  // leader-election identity; "" = hostname + random suffix
  bool enable_scheduler = true;
  // The schedulerName whose pods the scheduler binds; its Lease is "kube-scheduler" for the
  // default one, else this name (so several schedulers each elect their own leader).
  std::string scheduler_name = "default-scheduler";
  bool enable_controllers = true;
  int replicaset_workers = 5;
  int deployment_workers = 5;
  // Published as ConfigMap kube-root-ca.crt in every namespace; "" = the CA of
  // the client configuration.
  std::string root_ca_pem;
  int gc_workers = 5;
  // Node lifecycle: a node whose Lease is not renewed for the grace period turns
  // NotReady (Ready=Unknown) and gets the unreachable taints. 0 = the defaults (40 s, 5 s).
  std::chrono::milliseconds node_monitor_grace_period{0};
  std::chrono::milliseconds node_monitor_period{0};
  double node_eviction_rate = 0;  // nodes/s given NoExecute taints per healthy zone; 0 = 0.1
  // Node IPAM: every Node gets a free /node_cidr_mask_size block of cluster_cidr as its
  // spec.podCIDR (kube-controller-manager's --allocate-node-cidrs, --cluster-cidr,
  // --node-cidr-mask-size). StartControlPlane answers Invalid for a bad pair.
  bool allocate_node_cidrs = true;
  std::string cluster_cidr = "10.244.0.0/16";
  int node_cidr_mask_size = 24;
  // Pod GC: terminated pods beyond this many are deleted, oldest first (kube-controller-
  // manager's --terminated-pod-gc-threshold); <= 0 keeps them all. Orphaned pods and
  // unscheduled terminating pods are collected regardless.
  int terminated_pod_gc_threshold = 12500;
  // The local-path provisioner (local_path_provisioner.h): where its volumes go on each node
  // when their StorageClass names no `path` (k3s' --default-local-storage-path); "" = off.
  std::string local_storage_path = "/var/lib/sampan/storage";
  // ServiceLB (service_lb.h): LoadBalancer Services get the nodes' addresses (k3s' servicelb;
  // its --disable servicelb turns it off).
  bool service_lb = true;
  // The addresses of Ingresses of sampan's IngressClass (ingress_status.h).
  bool ingress_status = true;
};

class ControlPlane {
 public:
  virtual ~ControlPlane() = default;
  // Stops every component (releasing held leases); idempotent.
  virtual void Stop() = 0;
  virtual bool scheduler_leading() const = 0;
  virtual bool controllers_leading() const = 0;
};

// Builds the API client and starts the components (in the background: this
// does not wait for the API server). Invalid on bad credentials or options.
Result<std::unique_ptr<ControlPlane>> StartControlPlane(const ControlPlaneOptions& options);

}  // namespace sampan::controllers
