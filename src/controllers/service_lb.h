// ServiceLB: LoadBalancer Services on the cluster's own nodes, as k3s' ServiceLB (klipper-lb)
// does, without its per-Service DaemonSet: every node agent's service proxy already answers a
// Service's port on the addresses in its status.loadBalancer.ingress (agent/service_proxy.h),
// so this controller only decides which node addresses a Service gets and publishes them.
//
// A LoadBalancer Service without spec.loadBalancerClass gets, sorted, the address (the first
// IPv4 ExternalIP, else the first InternalIP) of each node that
//  - is Ready and not being deleted, and has no label
//    node.kubernetes.io/exclude-from-external-load-balancers;
//  - carries svccontroller.k3s.cattle.io/enablelb=true, when any node does (k3s' opt-in);
//  - carries the Service's svccontroller.k3s.cattle.io/lbpool label value, when the Service
//    has one (k3s' pools);
//  - is not already serving one of the Service's protocol·ports for an older LoadBalancer
//    Service (k3s' host ports cannot be shared either: the younger Service stays pending on
//    that node);
//  - with externalTrafficPolicy Local, runs a ready endpoint of the Service (the others would
//    drop the traffic).
// No node: the status has no ingress (kubectl shows EXTERNAL-IP <pending>). A Service that
// stops being a LoadBalancer (or gets a class) loses the addresses this controller gave.
#pragma once

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "client/shared_informers.h"
#include "client/workqueue.h"

namespace sampan::controllers {

inline constexpr const char* kEnableLbLabel = "svccontroller.k3s.cattle.io/enablelb";
inline constexpr const char* kLbPoolLabel = "svccontroller.k3s.cattle.io/lbpool";
inline constexpr const char* kExcludeFromLbLabel =
    "node.kubernetes.io/exclude-from-external-load-balancers";

// The addresses of every LoadBalancer Service this controller serves, by "namespace/name"
// (pure; unit-tested). Services it does not serve are absent.
std::map<std::string, std::vector<std::string>> AssignLoadBalancers(
    const std::vector<client::ObjectPtr>& services, const std::vector<client::ObjectPtr>& nodes,
    const std::vector<client::ObjectPtr>& slices);

class ServiceLbController {
 public:
  explicit ServiceLbController(client::SharedInformers* informers);
  ~ServiceLbController();
  void Run(int workers);
  void Stop();
  Status Sync(const std::string& key);  // "ns/name" of a Service; public for tests

 private:
  void EnqueueLoadBalancers();

  client::RestClient* client_;
  client::Informer* services_;
  client::Informer* nodes_;
  client::Informer* slices_;
  client::WorkQueue queue_;
  std::vector<std::thread> workers_;
  std::atomic<bool> running_{false};
};

}  // namespace sampan::controllers
