#include "agent/service_proxy.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <tuple>

#include "agent/node_context.h"
#include "agent/object_view.h"
#include "util/log.h"
#include "util/thread_name.h"

namespace sampan::agent {

namespace json = boost::json;

namespace {

using view::Arr;
using view::Int;
using view::LabelOf;
using view::Obj;
using view::ProtocolOf;
using view::Str;

}  // namespace

namespace {

// IPv4 addresses of a list of strings (others are skipped: the API validated them).
std::vector<uint32_t> Ipv4s(const json::array* list) {
  std::vector<uint32_t> out;
  for (const json::value& v : list ? *list : json::array{}) {
    if (!v.is_string()) continue;
    if (auto ip = net::ParseIpv4(v.as_string()); ip.ok()) out.push_back(*ip);
  }
  return out;
}

std::vector<uint32_t> LoadBalancerIps(const json::object& svc) {
  std::vector<uint32_t> out;
  const json::object* status = Obj(svc, "status");
  const json::object* lb = status ? Obj(*status, "loadBalancer") : nullptr;
  const json::array* ingress = lb ? Arr(*lb, "ingress") : nullptr;
  for (const json::value& v : ingress ? *ingress : json::array{}) {
    if (!v.is_object()) continue;
    // ipMode Proxy: the load balancer sends traffic to the nodes itself; only VIP (the
    // default) addresses are answered here, as kube-proxy does.
    if (Str(v.as_object(), "ipMode") == "Proxy") continue;
    if (auto ip = net::ParseIpv4(Str(v.as_object(), "ip")); ip.ok()) out.push_back(*ip);
  }
  return out;
}

std::vector<net::Ipv4Cidr> SourceRanges(const json::object& spec) {
  std::vector<net::Ipv4Cidr> out;
  const json::array* ranges = Arr(spec, "loadBalancerSourceRanges");
  for (const json::value& v : ranges ? *ranges : json::array{}) {
    if (!v.is_string()) continue;
    std::string text(v.as_string());
    std::erase(text, ' ');
    auto cidr = net::ParseCidr(text);
    if (!cidr.ok()) {
      // Host bits set ("10.0.0.1/8") are allowed by the API: the range is its network.
      auto slash = text.find('/');
      auto ip = net::ParseIpv4(text.substr(0, slash));
      if (slash == std::string::npos || !ip.ok()) continue;
      int len = std::atoi(text.c_str() + slash + 1);
      if (len < 0 || len > 32) continue;
      net::Ipv4Cidr c{0, len};
      c.network = *ip & c.mask();
      cidr = c;
    }
    out.push_back(*cidr);
  }
  return out;
}

int AffinitySeconds(const json::object& spec) {
  if (Str(spec, "sessionAffinity") != "ClientIP") return 0;
  const json::object* cfg = Obj(spec, "sessionAffinityConfig");
  const json::object* client_ip = cfg ? Obj(*cfg, "clientIP") : nullptr;
  int64_t t = client_ip ? Int(*client_ip, "timeoutSeconds") : 0;
  return t > 0 ? static_cast<int>(t) : 10800;  // Kubernetes' default: 3 hours
}

}  // namespace

std::vector<net::ServicePortRule> ServiceRules(const std::vector<client::ObjectPtr>& services,
                                               const std::vector<client::ObjectPtr>& slices,
                                               const std::string& node) {
  // Slices by namespace/service name.
  std::map<std::string, std::vector<const json::object*>> by_service;
  for (const client::ObjectPtr& s : slices) {
    if (Str(*s, "addressType") != "IPv4") continue;
    std::string_view svc = LabelOf(*s, "kubernetes.io/service-name");
    if (svc.empty()) continue;
    by_service[client::MetaString(*s, "namespace") + "/" + std::string(svc)].push_back(s.get());
  }
  std::vector<net::ServicePortRule> out;
  for (const client::ObjectPtr& svc : services) {
    const json::object* spec = Obj(*svc, "spec");
    if (!spec || Str(*spec, "type") == "ExternalName") continue;
    uint32_t cluster_ip = 0;
    if (auto ip = net::ParseIpv4(Str(*spec, "clusterIP")); ip.ok()) cluster_ip = *ip;
    const json::array* ports = Arr(*spec, "ports");
    if (!ports) continue;
    const std::vector<uint32_t> external_ips = Ipv4s(Arr(*spec, "externalIPs"));
    const std::vector<uint32_t> lb_ips =
        Str(*spec, "type") == "LoadBalancer" ? LoadBalancerIps(*svc) : std::vector<uint32_t>{};
    const std::vector<net::Ipv4Cidr> source_ranges = SourceRanges(*spec);
    // The external policy applies to NodePort and LoadBalancer Services (and external IPs).
    const bool external_local = Str(*spec, "externalTrafficPolicy") == "Local";
    const bool internal_local = Str(*spec, "internalTrafficPolicy") == "Local";
    const int affinity = AffinitySeconds(*spec);
    const std::string key =
        client::MetaString(*svc, "namespace") + "/" + client::MetaString(*svc, "name");
    for (const json::value& pv : *ports) {
      if (!pv.is_object()) continue;
      const json::object& port = pv.as_object();
      net::ServicePortRule rule;
      rule.protocol = std::string(ProtocolOf(port));
      rule.cluster_ip = cluster_ip;
      rule.port = static_cast<int>(Int(port, "port"));
      rule.node_port = static_cast<int>(Int(port, "nodePort"));
      const std::string port_name(Str(port, "name"));
      rule.name = key + "/" + port_name;
      rule.external_ips = external_ips;
      rule.load_balancer_ips = lb_ips;
      rule.source_ranges = source_ranges;
      rule.external_local = external_local;
      rule.internal_local = internal_local;
      rule.affinity_seconds = affinity;
      if ((rule.cluster_ip == 0 || rule.port == 0) && rule.node_port == 0) continue;
      std::set<std::pair<uint32_t, int>> seen;
      auto it = by_service.find(key);
      for (const json::object* slice :
           it == by_service.end() ? std::vector<const json::object*>{} : it->second) {
        // The slice's port for this service port: same name and protocol.
        int target = 0;
        if (const json::array* sp = Arr(*slice, "ports")) {
          for (const json::value& p : *sp) {
            if (!p.is_object()) continue;
            if (Str(p.as_object(), "name") == port_name &&
                ProtocolOf(p.as_object()) == rule.protocol) {
              target = static_cast<int>(Int(p.as_object(), "port"));
            }
          }
        }
        if (target == 0) continue;
        const json::array* eps = Arr(*slice, "endpoints");
        if (!eps) continue;
        for (const json::value& ev : *eps) {
          if (!ev.is_object() || !view::EndpointReady(ev.as_object())) continue;
          const json::array* addrs = Arr(ev.as_object(), "addresses");
          if (!addrs) continue;
          const bool local = !node.empty() && Str(ev.as_object(), "nodeName") == node;
          for (const json::value& a : *addrs) {
            if (!a.is_string()) continue;
            auto ip = net::ParseIpv4(a.as_string());
            if (ip.ok() && seen.emplace(*ip, target).second) {
              rule.endpoints.push_back(net::ServiceEndpoint{*ip, target, local});
            }
          }
        }
      }
      std::sort(rule.endpoints.begin(), rule.endpoints.end(),
                [](const net::ServiceEndpoint& a, const net::ServiceEndpoint& b) {
                  return std::tie(a.ip, a.port) < std::tie(b.ip, b.port);
                });
      out.push_back(std::move(rule));
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

std::map<int, ServiceHealth> HealthChecks(const std::vector<client::ObjectPtr>& services,
                                          const std::vector<client::ObjectPtr>& slices,
                                          const std::string& node) {
  // Ready endpoint addresses on this node, by namespace/service.
  std::map<std::string, std::set<std::string>> local;
  for (const client::ObjectPtr& s : slices) {
    std::string_view svc = LabelOf(*s, "kubernetes.io/service-name");
    if (svc.empty()) continue;
    std::set<std::string>& addrs =
        local[client::MetaString(*s, "namespace") + "/" + std::string(svc)];
    const json::array* eps = Arr(*s, "endpoints");
    for (const json::value& ev : eps ? *eps : json::array{}) {
      if (!ev.is_object() || !view::EndpointReady(ev.as_object())) continue;
      if (Str(ev.as_object(), "nodeName") != node) continue;
      const json::array* a = Arr(ev.as_object(), "addresses");
      if (a && !a->empty() && (*a)[0].is_string()) addrs.insert(std::string((*a)[0].as_string()));
    }
  }
  std::map<int, ServiceHealth> out;
  for (const client::ObjectPtr& svc : services) {
    const json::object* spec = Obj(*svc, "spec");
    if (!spec || Str(*spec, "type") != "LoadBalancer" ||
        Str(*spec, "externalTrafficPolicy") != "Local") {
      continue;
    }
    const int port = static_cast<int>(Int(*spec, "healthCheckNodePort"));
    if (port <= 0) continue;
    ServiceHealth h;
    h.ns = client::MetaString(*svc, "namespace");
    h.name = client::MetaString(*svc, "name");
    auto it = local.find(h.ns + "/" + h.name);
    h.local_endpoints = it == local.end() ? 0 : static_cast<int>(it->second.size());
    out[port] = std::move(h);
  }
  return out;
}

std::vector<std::pair<net::Ipv4Cidr, uint32_t>> NodeRoutes(
    const std::vector<client::ObjectPtr>& nodes, const std::string& self) {
  std::vector<std::pair<net::Ipv4Cidr, uint32_t>> out;
  for (const client::ObjectPtr& n : nodes) {
    if (client::MetaString(*n, "name") == self) continue;
    const json::object* spec = Obj(*n, "spec");
    const json::object* status = Obj(*n, "status");
    auto cidr = net::ParseCidr(spec ? Str(*spec, "podCIDR") : "");
    if (!cidr.ok() || !status) continue;
    const json::array* addrs = Arr(*status, "addresses");
    for (const json::value& a : addrs ? *addrs : json::array{}) {
      if (!a.is_object() || Str(a.as_object(), "type") != "InternalIP") continue;
      if (auto ip = net::ParseIpv4(Str(a.as_object(), "address")); ip.ok()) {
        out.emplace_back(*cidr, *ip);
        break;
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first.network, a.first.prefix_len) <
           std::tie(b.first.network, b.first.prefix_len);
  });
  return out;
}

ServiceProxy::ServiceProxy(NodeContext* ctx, ServiceProxyOptions options)
    : ctx_(ctx), opts_(std::move(options)) {}

ServiceProxy::~ServiceProxy() { Stop(); }

void ServiceProxy::Wake() {
  {
    std::lock_guard<std::mutex> l(mu_);
    dirty_ = true;
  }
  cv_.notify_all();
}

void ServiceProxy::Start() {
  services_ = std::make_unique<client::Informer>(ctx_->client, client::resources::kServices);
  slices_ = std::make_unique<client::Informer>(ctx_->client, client::resources::kEndpointSlices);
  nodes_ = std::make_unique<client::Informer>(ctx_->client, client::resources::kNodes);
  for (client::Informer* inf : {services_.get(), slices_.get(), nodes_.get()}) {
    inf->AddEventHandler(client::OnAnyChange([this] { Wake(); }));
    inf->Start();
  }
  thread_ = std::thread([this] {
    util::NameThisThread("service-proxy");
    Loop();
  });
}

std::vector<client::ObjectPtr> ServiceProxy::Services() const {
  return services_ ? services_->List() : std::vector<client::ObjectPtr>{};
}

bool ServiceProxy::WaitForServices(std::chrono::milliseconds timeout) const {
  return services_ && services_->WaitForSync(timeout);
}

void ServiceProxy::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (dns_) dns_->Stop();
  if (services_) services_->Stop();
  if (slices_) slices_->Stop();
  if (nodes_) nodes_->Stop();
}

void ServiceProxy::Loop() {
  std::string applied;  // the last script written
  for (;;) {
    {
      std::unique_lock<std::mutex> l(mu_);
      // Wakes at least every second: the pod network may appear, a failed write is retried.
      cv_.wait_for(l, std::chrono::seconds(1), [&] { return stopping_ || dirty_; });
      if (stopping_) return;
      // A burst of events (a Deployment scaling) becomes one write.
      cv_.wait_for(l, std::chrono::milliseconds(50), [&] { return stopping_; });
      if (stopping_) return;
      dirty_ = false;
    }
    net::PodNetwork* network = ctx_->network();
    if (!network || !services_->HasSynced() || !slices_->HasSynced()) {
      std::lock_guard<std::mutex> l(mu_);
      dirty_ = true;
      continue;
    }
    if (nodes_->HasSynced()) {
      auto routes = NodeRoutes(nodes_->List(), ctx_->node_name);
      if (routes != routed_) {
        if (Status st = network->SetNodeRoutes(routes); !st.ok()) {
          LOG(WARNING) << "routes to other nodes' pods: " << st.ToString();
          std::lock_guard<std::mutex> l(mu_);
          dirty_ = true;
        } else {
          routed_ = std::move(routes);
        }
      }
    }
    auto data = std::make_shared<DnsData>(DnsData{services_->List(), slices_->List()});
    std::vector<net::ServicePortRule> rules =
        ServiceRules(data->services, data->slices, ctx_->node_name);
    std::map<int, ServiceHealth> health =
        HealthChecks(data->services, data->slices, ctx_->node_name);
    {
      std::lock_guard<std::mutex> l(dns_mu_);
      dns_data_ = std::move(data);
    }
    if (opts_.dns_ip != 0) {
      if (!dns_) {
        ClusterDnsOptions o = opts_.dns;
        o.listen_ip = network->Gateway();
        auto dns = std::make_unique<ClusterDns>(o, [this] {
          std::lock_guard<std::mutex> l(dns_mu_);
          return dns_data_;
        });
        if (Status st = dns->Start(); !st.ok()) {
          LOG(WARNING) << "cluster DNS: " << st.ToString();
        } else {
          dns_ = std::move(dns);
        }
      }
      // The DNS address goes to this node's server, whatever the kube-dns Service says.
      std::erase_if(rules,
                    [&](const net::ServicePortRule& r) { return r.cluster_ip == opts_.dns_ip; });
      for (const char* proto : {"UDP", "TCP"}) {
        net::ServicePortRule r;
        r.name = std::string("kube-system/kube-dns/node-local-") + proto;
        r.protocol = proto;
        r.cluster_ip = opts_.dns_ip;
        r.port = 53;
        if (dns_) r.endpoints.push_back(net::ServiceEndpoint{network->Gateway(), 53});
        rules.push_back(std::move(r));
      }
    }
    if (health != health_synced_) {
      if (Status st = health_.Sync(health); !st.ok()) {
        // Retried every second while a port is taken: said once.
        if (st.ToString() != health_error_) {
          LOG(WARNING) << "service health checks: " << st.ToString();
        }
        health_error_ = st.ToString();
      } else {
        health_error_.clear();
        health_synced_ = std::move(health);
      }
    }
    std::string script = net::RenderServicesScript(rules);
    if (script == applied) continue;
    Status st = network->SetServices(rules, opts_.service_cidr);
    if (!st.ok()) {
      LOG(WARNING) << "service proxy: " << st.ToString();
      std::lock_guard<std::mutex> l(mu_);
      dirty_ = true;  // retried at the next wake
      continue;
    }
    applied = std::move(script);
    LOG(DEBUG) << "service proxy: " << rules.size() << " service ports";
  }
}

}  // namespace sampan::agent
