#include "controllers/service_lb.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "controllers/util.h"
#include "util/log.h"

namespace sampan::controllers {
namespace json = boost::json;
using client::MetaString;
using client::ObjectPtr;

namespace {

std::string Label(const json::object& o, std::string_view key) {
  return Str(Obj(Obj(&o, "metadata"), "labels"), key);
}
bool HasLabel(const json::object& o, std::string_view key) {
  const json::object* labels = Obj(Obj(&o, "metadata"), "labels");
  return labels && labels->contains(key);
}

bool Served(const json::object& svc) {
  const json::object* spec = Obj(&svc, "spec");
  return Str(spec, "type") == "LoadBalancer" && Str(spec, "loadBalancerClass").empty() &&
         !IsDeleting(svc);
}

bool NodeReady(const json::object& node) {
  const json::array* conds = Arr(Obj(&node, "status"), "conditions");
  for (const json::value& c : conds ? *conds : json::array{}) {
    if (c.is_object() && Str(&c.as_object(), "type") == "Ready") {
      return Str(&c.as_object(), "status") == "True";
    }
  }
  return false;
}

// The node's address for load balancers: its first ExternalIP, else its first InternalIP
// (IPv4 only); "" when it has neither.
std::string NodeAddress(const json::object& node) {
  std::string internal;
  const json::array* addrs = Arr(Obj(&node, "status"), "addresses");
  for (const json::value& a : addrs ? *addrs : json::array{}) {
    if (!a.is_object()) continue;
    std::string type = Str(&a.as_object(), "type"), ip = Str(&a.as_object(), "address");
    if (ip.find(':') != std::string::npos || ip.empty()) continue;
    if (type == "ExternalIP") return ip;
    if (type == "InternalIP" && internal.empty()) internal = ip;
  }
  return internal;
}

// The nodes that run a ready endpoint of each Service ("ns/name" → node names).
std::map<std::string, std::set<std::string>> EndpointNodes(const std::vector<ObjectPtr>& slices) {
  std::map<std::string, std::set<std::string>> out;
  for (const ObjectPtr& s : slices) {
    std::string svc = Label(*s, "kubernetes.io/service-name");
    if (svc.empty()) continue;
    std::set<std::string>& nodes = out[MetaString(*s, "namespace") + "/" + svc];
    const json::array* eps = Arr(s.get(), "endpoints");
    for (const json::value& e : eps ? *eps : json::array{}) {
      if (!e.is_object()) continue;
      const json::value* ready = Obj(&e.as_object(), "conditions")
                                     ? Obj(&e.as_object(), "conditions")->if_contains("ready")
                                     : nullptr;
      if (ready && ready->is_bool() && !ready->as_bool()) continue;
      std::string node = Str(&e.as_object(), "nodeName");
      if (!node.empty()) nodes.insert(std::move(node));
    }
  }
  return out;
}

using PortKey = std::pair<std::string, int64_t>;  // protocol, port

std::vector<PortKey> Ports(const json::object& svc) {
  std::vector<PortKey> out;
  const json::array* ports = Arr(Obj(&svc, "spec"), "ports");
  for (const json::value& p : ports ? *ports : json::array{}) {
    if (!p.is_object()) continue;
    std::string proto = Str(&p.as_object(), "protocol");
    out.emplace_back(proto.empty() ? "TCP" : proto, Int(&p.as_object(), "port"));
  }
  return out;
}

}  // namespace

std::string LoadBalancerNodeKey(const json::object& node) {
  const json::object* labels = Obj(Obj(&node, "metadata"), "labels");
  return std::string(NodeReady(node) ? "R" : "-") + (IsDeleting(node) ? "D" : "-") +
         NodeAddress(node) + "|" + (labels ? json::serialize(*labels) : std::string());
}

std::vector<std::string> LoadBalancerIps(const json::object& obj) {
  std::vector<std::string> out;
  const json::array* ingress = Arr(Obj(Obj(&obj, "status"), "loadBalancer"), "ingress");
  for (const json::value& v : ingress ? *ingress : json::array{}) {
    if (v.is_object()) out.push_back(Str(&v.as_object(), "ip"));
  }
  return out;
}

json::object WithLoadBalancerIps(const json::object& obj, const std::vector<std::string>& ips,
                                 bool vip) {
  json::object next = obj;
  json::value& status = next["status"];
  if (!status.is_object()) status.emplace_object();
  json::object lb;
  if (!ips.empty()) {
    json::array ingress;
    for (const std::string& ip : ips) {
      json::object entry;
      entry["ip"] = ip;
      if (vip) entry["ipMode"] = "VIP";
      ingress.push_back(std::move(entry));
    }
    lb["ingress"] = std::move(ingress);
  }
  status.as_object()["loadBalancer"] = std::move(lb);
  return next;
}

std::vector<std::pair<std::string, std::string>> LoadBalancerNodes(
    const std::vector<ObjectPtr>& nodes) {
  std::vector<std::pair<std::string, std::string>> out;
  const bool opt_in = std::any_of(nodes.begin(), nodes.end(), [](const ObjectPtr& n) {
    return Label(*n, kEnableLbLabel) == "true";
  });
  for (const ObjectPtr& n : nodes) {
    if (IsDeleting(*n) || !NodeReady(*n) || HasLabel(*n, kExcludeFromLbLabel)) continue;
    if (opt_in && Label(*n, kEnableLbLabel) != "true") continue;
    std::string address = NodeAddress(*n);
    if (!address.empty()) out.emplace_back(MetaString(*n, "name"), std::move(address));
  }
  return out;
}

std::map<std::string, std::vector<std::string>> AssignLoadBalancers(
    const std::vector<ObjectPtr>& services, const std::vector<ObjectPtr>& nodes,
    const std::vector<ObjectPtr>& slices) {
  // The nodes that may serve at all, with their addresses (and labels, for the pools).
  std::map<std::string, const json::object*> by_name;
  for (const ObjectPtr& n : nodes) by_name[MetaString(*n, "name")] = n.get();
  struct Candidate {
    std::string name, address;
    const json::object* node;
  };
  std::vector<Candidate> candidates;
  for (auto& [name, address] : LoadBalancerNodes(nodes)) {
    candidates.push_back({name, std::move(address), by_name[name]});
  }
  // Older Services claim their ports on a node first.
  std::vector<const json::object*> order;
  for (const ObjectPtr& s : services) {
    if (Served(*s)) order.push_back(s.get());
  }
  std::sort(order.begin(), order.end(), [](const json::object* a, const json::object* b) {
    return std::make_tuple(Str(Obj(a, "metadata"), "creationTimestamp"), client::KeyOf(*a)) <
           std::make_tuple(Str(Obj(b, "metadata"), "creationTimestamp"), client::KeyOf(*b));
  });
  const auto endpoint_nodes = EndpointNodes(slices);
  std::map<std::string, std::set<PortKey>> claimed;  // node → ports served there
  std::map<std::string, std::vector<std::string>> out;
  // A Service already served on a node keeps it (as k3s' host-port pods keep their port); the
  // others then claim what is left, oldest first. (creationTimestamp has whole seconds: age
  // alone would let a newer Service of the same second take a port over.)
  for (int pass = 0; pass < 2; ++pass) {
    for (const json::object* svc : order) {
      const std::string key = client::KeyOf(*svc);
      const std::string pool = Label(*svc, kLbPoolLabel);
      const bool local = Str(Obj(svc, "spec"), "externalTrafficPolicy") == "Local";
      const auto eps = endpoint_nodes.find(key);
      const std::vector<PortKey> ports = Ports(*svc);
      const std::vector<std::string> current = LoadBalancerIps(*svc);
      std::vector<std::string>& ips = out[key];
      for (const Candidate& c : candidates) {
        const bool holds = std::find(current.begin(), current.end(), c.address) != current.end();
        if (holds != (pass == 0)) continue;
        if (!pool.empty() && Label(*c.node, kLbPoolLabel) != pool) continue;
        std::set<PortKey>& taken = claimed[c.name];
        if (std::any_of(ports.begin(), ports.end(),
                        [&](const PortKey& p) { return taken.count(p) > 0; })) {
          continue;
        }
        taken.insert(ports.begin(), ports.end());
        if (local && (eps == endpoint_nodes.end() || eps->second.count(c.name) == 0)) continue;
        ips.push_back(c.address);
      }
    }
  }
  for (auto& [key, ips] : out) {
    std::sort(ips.begin(), ips.end());
    ips.erase(std::unique(ips.begin(), ips.end()), ips.end());
  }
  return out;
}

ServiceLbController::ServiceLbController(client::SharedInformers* informers)
    : client_(informers->client()),
      services_(informers->For(client::resources::kServices)),
      nodes_(informers->For(client::resources::kNodes)),
      slices_(informers->For(client::resources::kEndpointSlices)) {
  auto service_changed = [this](const ObjectPtr& s) {
    // A change of one Service's ports may free or take a port another one waits for.
    if (Served(*s)) EnqueueLoadBalancers();
    if (!LoadBalancerIps(*s).empty()) queue_.Add(client::KeyOf(*s));
  };
  services_->AddEventHandler(
      client::EventHandlers{service_changed,
                            [this, service_changed](const ObjectPtr& o, const ObjectPtr& s) {
                              service_changed(s);
                              if (Served(*o) && !Served(*s)) EnqueueLoadBalancers();
                            },
                            [this](const ObjectPtr& s) {
                              if (Served(*s)) EnqueueLoadBalancers();
                            }});
  // Nodes matter through their readiness, addresses and labels only (their status is
  // rewritten often).
  nodes_->AddEventHandler(
      client::EventHandlers{[this](const ObjectPtr&) { EnqueueLoadBalancers(); },
                            [this](const ObjectPtr& o, const ObjectPtr& n) {
                              if (LoadBalancerNodeKey(*o) != LoadBalancerNodeKey(*n)) {
                                EnqueueLoadBalancers();
                              }
                            },
                            [this](const ObjectPtr&) { EnqueueLoadBalancers(); }});
  // Endpoints move Services with externalTrafficPolicy Local between nodes.
  auto slice_changed = [this](const ObjectPtr& s) {
    std::string svc = Label(*s, "kubernetes.io/service-name");
    if (svc.empty()) return;
    ObjectPtr service = services_->Get(MetaString(*s, "namespace") + "/" + svc);
    if (service && Served(*service) &&
        Str(Obj(service.get(), "spec"), "externalTrafficPolicy") == "Local") {
      queue_.Add(client::KeyOf(*service));
    }
  };
  slices_->AddEventHandler(client::EventHandlers{
      slice_changed, [slice_changed](const ObjectPtr&, const ObjectPtr& s) { slice_changed(s); },
      slice_changed});
}

ServiceLbController::~ServiceLbController() { Stop(); }

void ServiceLbController::EnqueueLoadBalancers() {
  for (const ObjectPtr& s : services_->List()) {
    if (Served(*s)) queue_.Add(client::KeyOf(*s));
  }
}

void ServiceLbController::Run(int workers) {
  if (running_.exchange(true)) return;
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] {
      services_->WaitForSync(std::chrono::seconds(60));
      nodes_->WaitForSync(std::chrono::seconds(60));
      slices_->WaitForSync(std::chrono::seconds(60));
      queue_.Process("service-lb", [this](const std::string& key) { return Sync(key); });
    });
  }
}

void ServiceLbController::Stop() {
  queue_.ShutDown();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

Status ServiceLbController::Sync(const std::string& key) {
  ObjectPtr svc = services_->Get(key);
  if (!svc) return Status::Ok();
  const json::object* spec = Obj(svc.get(), "spec");
  std::vector<std::string> want;
  if (Served(*svc)) {
    auto all = AssignLoadBalancers(services_->List(), nodes_->List(), slices_->List());
    want = std::move(all[key]);
  } else if (Str(spec, "type") == "LoadBalancer") {
    return Status::Ok();  // another class's controller (or being deleted): not ours
  }
  const std::vector<std::string> have = LoadBalancerIps(*svc);
  if (have == want) return Status::Ok();
  json::object next = WithLoadBalancerIps(*svc, want, true);
  auto r = client_->UpdateStatus(client::resources::kServices, MetaString(*svc, "namespace"), next);
  if (!r.ok()) {
    if (r.status().code() == Code::kNotFound) return Status::Ok();
    return r.status();  // a conflict: retried with the informer's newer copy
  }
  LOG(INFO) << "service-lb: " << key << " load-balancer addresses [" << [&] {
    std::string s;
    for (const std::string& ip : want) s += (s.empty() ? "" : " ") + ip;
    return s;
  }() << "]";
  return Status::Ok();
}

}  // namespace sampan::controllers
