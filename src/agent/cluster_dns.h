// The cluster DNS of this node (what CoreDNS's kubernetes plugin answers in k3s), following
// the Kubernetes DNS specification 1.1.0 in zone `cluster.local`:
//
//   <svc>.<ns>.svc.<zone>             A: the clusterIP; headless: each ready endpoint's IP
//                                     (none ready: NXDOMAIN); ExternalName: CNAME
//   <host>.<svc>.<ns>.svc.<zone>      A: a headless Service's endpoint with that hostname (or
//                                     that dashed IP, "10-244-1-5")
//   _<port>._<proto>.<svc>.<ns>.svc.<zone>  SRV per named port (headless: per endpoint)
//   <a-b-c-d>.<ns>.pod.<zone>         A a.b.c.d (k3s' "pods insecure")
//   dns-version.<zone>                TXT "1.1.0"
//   <d.c.b.a>.in-addr.arpa            PTR of a clusterIP or a headless endpoint's IP
//
// A name in the zone that does not exist is NXDOMAIN, an existing one asked for another
// type is NODATA; both carry the zone's SOA. TTL 5 s, as CoreDNS's default. Other names
// (and reverse names outside the service and pod ranges) go to the upstream servers; with
// none, they are REFUSED.
//
// The server listens on UDP and TCP port 53 of the node's bridge address; the service proxy
// sends the kube-dns clusterIP there, so every node answers its own pods.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/informer.h"
#include "net/dns_message.h"
#include "net/ipv4.h"

namespace sampan::agent {

struct DnsData {
  std::vector<client::ObjectPtr> services, slices;
};

// The answer to `q` from the cluster's Services and EndpointSlices; `*forward` is set (and
// the answer is not to be used) when the name is not the cluster's to answer.
net::dns::Answer ResolveCluster(const net::dns::Question& q, const DnsData& data,
                                const std::string& zone, const std::vector<net::Ipv4Cidr>& owned,
                                bool* forward);

struct ClusterDnsOptions {
  std::string zone = "cluster.local";
  uint32_t listen_ip = 0;  // host order
  int port = 53;
  std::vector<std::string> upstreams;  // "ip" or "ip:port"; empty: out-of-zone names REFUSED
  // Reverse names answered here (the service and pod ranges); others are forwarded.
  std::vector<net::Ipv4Cidr> reverse_zones;
};

class ClusterDns {
 public:
  // `data` gives the current snapshot of Services and EndpointSlices (taken by the caller when
  // they change, not per query).
  ClusterDns(ClusterDnsOptions options, std::function<std::shared_ptr<const DnsData>()> data);
  ~ClusterDns();
  // Binds UDP and TCP on listen_ip:port and starts answering.
  Status Start();
  void Stop();

  // Answers one query packet (public for tests); "" when nothing should be sent back.
  std::string Answer(std::string_view packet, bool tcp);

 private:
  void UdpLoop();
  void TcpLoop();
  void ForwardLoop();
  std::string Forward(std::string_view packet, bool tcp);

  const ClusterDnsOptions opts_;
  const std::function<std::shared_ptr<const DnsData>()> data_;
  int udp_ = -1, tcp_ = -1, wake_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
  // Out-of-zone UDP queries wait here for a forwarding thread: (client address, packet).
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, std::string>> forward_queue_;
};

}  // namespace sampan::agent
