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
//  - is not serving one of the Service's protocol·ports for another LoadBalancer Service: the
//    one already given that node keeps it, then the older one (k3s' host ports cannot be
//    shared either: the other Service stays pending on that node);
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

// The nodes that may serve load balancers, with their addresses (name → address): Ready, not
// being deleted, not excluded, opted in when any node is (above). Pure.
std::vector<std::pair<std::string, std::string>> LoadBalancerNodes(
    const std::vector<client::ObjectPtr>& nodes);

// What of a Node decides whether and at which address it serves load balancers: readiness,
// deletion, address and labels (two versions with the same key serve alike; Node status
// updates that change none of them are frequent). Pure.
std::string LoadBalancerNodeKey(const boost::json::object& node);

// status.loadBalancer.ingress[].ip of a Service or an Ingress, in order.
std::vector<std::string> LoadBalancerIps(const boost::json::object& obj);
// A copy of `obj` whose status.loadBalancer lists `ips` (with ipMode VIP when `vip`: Services;
// Ingresses have no ipMode).
boost::json::object WithLoadBalancerIps(const boost::json::object& obj,
                                        const std::vector<std::string>& ips, bool vip);

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
