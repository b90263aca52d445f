// The service proxy of this node (kube-proxy's job, in the agent): Services and their
// EndpointSlices, watched cluster-wide, become the node's services table (net/service_rules.h)
// through the pod network. It also keeps the routes to the other nodes' pods (flannel's
// host-gw backend): each other Node's podCIDR via its InternalIP. It waits until both have been
// listed (as kube-proxy does), then rewrites the table whenever what it would hold changes; bursts
// of events are folded into one write. Until the node has a pod network (a podCIDR), there is
// nothing to write to.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/cluster_dns.h"
#include "agent/service_health.h"
#include "client/informer.h"
#include "net/ipv4.h"
#include "net/service_rules.h"

namespace sampan::agent {

struct NodeContext;

// The table's contents for these Services and EndpointSlices (pure; unit-tested): one rule
// per port of each Service that has a clusterIP or node ports, with the ready endpoints of
// the slices labelled kubernetes.io/service-name=<service> in its namespace (those whose
// nodeName is `node` marked local), its externalIPs, load-balancer ingress IPs and source
// ranges, traffic policies and session affinity.
std::vector<net::ServicePortRule> ServiceRules(const std::vector<client::ObjectPtr>& services,
                                               const std::vector<client::ObjectPtr>& slices,
                                               const std::string& node = "");

// The health checks this node answers (service_health.h): each LoadBalancer Service with
// externalTrafficPolicy Local and a healthCheckNodePort, with its ready endpoints on `node`
// (pure; unit-tested).
std::map<int, ServiceHealth> HealthChecks(const std::vector<client::ObjectPtr>& services,
                                          const std::vector<client::ObjectPtr>& slices,
                                          const std::string& node);

// The routes to the pods of the Nodes other than `self`: (podCIDR, InternalIP) of each that
// has both (pure; unit-tested).
std::vector<std::pair<net::Ipv4Cidr, uint32_t>> NodeRoutes(
    const std::vector<client::ObjectPtr>& nodes, const std::string& self);

struct ServiceProxyOptions {
  net::Ipv4Cidr service_cidr;
  // The kube-dns clusterIP this node answers itself (0: none): a cluster DNS server
  // (cluster_dns.h) listens on the bridge address, and the address's port 53 (UDP and TCP)
  // goes there instead of to the kube-dns Service's endpoints.
  uint32_t dns_ip = 0;
  ClusterDnsOptions dns;
};

class ServiceProxy {
 public:
  ServiceProxy(NodeContext* ctx, ServiceProxyOptions options);
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
  const ServiceProxyOptions opts_;
  // What the cluster DNS answers from: the lists this loop took at its last pass, so a query
  // copies no list.
  std::mutex dns_mu_;
  std::shared_ptr<const DnsData> dns_data_ = std::make_shared<DnsData>();  // under dns_mu_
  std::unique_ptr<ClusterDns> dns_;  // loop thread only; started once the pod network exists
  ServiceHealthServer health_;       // Sync from the loop thread only
  std::map<int, ServiceHealth> health_synced_;              // loop thread only: what health_ serves
  std::string health_error_;  // loop thread only: the last failure logged
  std::vector<std::pair<net::Ipv4Cidr, uint32_t>> routed_;  // loop thread only: routes set
  std::unique_ptr<client::Informer> services_, slices_, nodes_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool dirty_ = true, stopping_ = false;  // under mu_
  std::thread thread_;
};

}  // namespace sampan::agent
