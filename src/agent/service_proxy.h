// The service proxy of this node (kube-proxy's job, in the agent): Services and their
// EndpointSlices, watched cluster-wide, become the node's services table (net/service_rules.h)
// through the pod network. It waits until both have been listed (as kube-proxy does), then
// rewrites the table whenever what it would hold changes; bursts of events are folded into
// one write. Until the node has a pod network (a podCIDR), there is nothing to write to.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/informer.h"
#include "net/ipv4.h"
#include "net/service_rules.h"

namespace sampan::agent {

struct NodeContext;

// The table's contents for these Services and EndpointSlices (pure; unit-tested): one rule
// per port of each Service that has a clusterIP or node ports, with the ready endpoints of
// the slices labelled kubernetes.io/service-name=<service> in its namespace.
std::vector<net::ServicePortRule> ServiceRules(const std::vector<client::ObjectPtr>& services,
                                               const std::vector<client::ObjectPtr>& slices);

class ServiceProxy {
 public:
  ServiceProxy(NodeContext* ctx, net::Ipv4Cidr service_cidr);
  ~ServiceProxy();
  void Start();
  void Stop();
  // The Services seen so far (all namespaces).
  std::vector<client::ObjectPtr> Services() const;
  // Waits until the Services have been listed once (false after `timeout`).
  bool WaitForServices(std::chrono::milliseconds timeout) const;

 private:
  void Loop();
  void Wake();

  NodeContext* ctx_;
  const net::Ipv4Cidr service_cidr_;
  std::unique_ptr<client::Informer> services_, slices_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool dirty_ = true, stopping_ = false;  // under mu_
  std::thread thread_;
};

}  // namespace sampan::agent
