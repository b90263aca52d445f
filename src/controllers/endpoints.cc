#include "controllers/endpoints.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <tuple>

#include "api/json_util.h"
#include "controllers/util.h"
#include "util/log.h"

namespace sampan::controllers {
namespace json = boost::json;
using client::MetaObject;
using client::MetaString;
using client::ObjectPtr;
namespace ep = endpoints;

namespace {

constexpr size_t kMaxCapacity = 1000;

std::tuple<std::string, std::string> AddressOrder(const json::object& a) {
  return {Str(&a, "ip"), Str(Obj(&a, "targetRef"), "uid")};
}

std::tuple<std::string, int64_t, std::string> PortOrder(const json::object& p) {
  return {Str(&p, "name"), Int(&p, "port"), Str(&p, "protocol")};
}

json::array SortedAddresses(std::vector<json::object> addrs) {
  std::sort(addrs.begin(), addrs.end(), [](const json::object& a, const json::object& b) {
    return AddressOrder(a) < AddressOrder(b);
  });
  json::array out;
  for (auto& a : addrs) out.emplace_back(std::move(a));
  return out;
}

// The subsets with every targetRef.resourceVersion removed (Kubernetes compares Endpoints
// ignoring it, so a pod's own updates alone never rewrite its Endpoints).
json::array WithoutRefVersions(const json::array* subsets) {
  json::array out;
  if (!subsets) return out;
  out = *subsets;
  for (json::value& s : out) {
    if (!s.is_object()) continue;
    for (const char* field : {"addresses", "notReadyAddresses"}) {
      json::value* list = s.as_object().if_contains(field);
      if (!list || !list->is_array()) continue;
      for (json::value& a : list->as_array()) {
        if (!a.is_object()) continue;
        json::value* ref = a.as_object().if_contains("targetRef");
        if (ref && ref->is_object()) ref->as_object().erase("resourceVersion");
      }
    }
  }
  return out;
}

bool SameObject(const json::object* a, const json::object* b) {
  static const json::object kEmpty;
  return api::JsonEqual(json::value(a ? *a : kEmpty), json::value(b ? *b : kEmpty));
}

// The address family the Service's Endpoints list (Kubernetes' podToEndpointAddressForService):
// its first ipFamilies entry; without one the family of its clusterIP; headless, the pod's.
bool WantsIpv6(const json::object& svc, const json::object& pod) {
  const json::object* spec = Obj(&svc, "spec");
  if (const json::array* fams = Arr(spec, "ipFamilies"); fams && !fams->empty()) {
    return (*fams)[0].is_string() && (*fams)[0].as_string() == "IPv6";
  }
  bool v6 = false;
  if (ep::IsServiceIpSet(svc)) {
    ep::NormalizeIp(Str(spec, "clusterIP"), &v6);
  } else {
    ep::NormalizeIp(Str(Obj(&pod, "status"), "podIP"), &v6);
  }
  return v6;
}

}  // namespace

json::array RepackSubsets(const std::vector<EndpointEntry>& entries) {
  // Addresses by identity (ip + targetRef uid); the first one seen is kept whole.
  std::map<std::pair<std::string, std::string>, json::object> addrs;
  // Per port (or the no-port sentinel): address identity → ready (not ready wins).
  struct PortState {
    const json::object* port = nullptr;
    std::map<std::pair<std::string, std::string>, bool> ready;
  };
  std::map<std::string, PortState> ports;
  for (const EndpointEntry& e : entries) {
    std::pair<std::string, std::string> id{Str(&e.address, "ip"),
                                           Str(Obj(&e.address, "targetRef"), "uid")};
    addrs.emplace(id, e.address);
    std::string key = e.port ? "p" + api::SerializeSorted(json::value(*e.port)) : "-";
    PortState& ps = ports[key];
    if (e.port && !ps.port) ps.port = e.port;
    auto it = ps.ready.find(id);
    if (it == ps.ready.end()) {
      ps.ready.emplace(id, e.ready);
    } else if (it->second) {
      it->second = e.ready;
    }
  }
  // Ports whose (address, ready) sets are the same share a subset.
  struct Group {
    const std::map<std::pair<std::string, std::string>, bool>* ready = nullptr;
    std::vector<json::object> ports;
  };
  std::map<std::string, Group> groups;
  for (const auto& [key, ps] : ports) {
    std::string set_key;
    for (const auto& [id, ready] : ps.ready) {
      set_key += id.first + '\x1f' + id.second + '\x1f' + (ready ? '1' : '0') + '\x1e';
    }
    Group& g = groups[set_key];
    g.ready = &ps.ready;
    if (ps.port) g.ports.push_back(*ps.port);
  }
  std::vector<std::pair<std::string, json::object>> subsets;
  for (auto& [set_key, g] : groups) {
    std::vector<json::object> ready, not_ready;
    for (const auto& [id, is_ready] : *g.ready) (is_ready ? ready : not_ready).push_back(addrs[id]);
    std::sort(g.ports.begin(), g.ports.end(), [](const json::object& a, const json::object& b) {
      return PortOrder(a) < PortOrder(b);
    });
    json::object s;
    if (!ready.empty()) s["addresses"] = SortedAddresses(std::move(ready));
    if (!not_ready.empty()) s["notReadyAddresses"] = SortedAddresses(std::move(not_ready));
    if (!g.ports.empty()) {
      json::array ps;
      for (auto& p : g.ports) ps.emplace_back(std::move(p));
      s["ports"] = std::move(ps);
    }
    std::string text = api::SerializeSorted(json::value(s));
    subsets.emplace_back(std::move(text), std::move(s));
  }
  std::sort(subsets.begin(), subsets.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  json::array out;
  for (auto& [text, s] : subsets) out.emplace_back(std::move(s));
  return out;
}

bool TruncateSubsets(json::array& subsets) {
  auto count = [](const json::value& s, const char* field) -> size_t {
    const json::array* a = s.is_object() ? Arr(&s.as_object(), field) : nullptr;
    return a ? a->size() : 0;
  };
  size_t total_ready = 0, total_not_ready = 0;
  for (const json::value& s : subsets) {
    total_ready += count(s, "addresses");
    total_not_ready += count(s, "notReadyAddresses");
  }
  if (total_ready + total_not_ready <= kMaxCapacity) return false;
  const bool truncate_ready = total_ready > kMaxCapacity;
  const size_t max = truncate_ready ? kMaxCapacity : kMaxCapacity - total_ready;
  const size_t num_total = truncate_ready ? total_ready : total_not_ready;
  size_t can_be_added = max;
  for (json::value& sv : subsets) {
    if (!sv.is_object()) continue;
    json::object& s = sv.as_object();
    const char* field = truncate_ready ? "addresses" : "notReadyAddresses";
    size_t in_subset = count(sv, field);
    // Each subset keeps its share of `max`, rounded up; the last ones get what is left.
    auto to_add =
        static_cast<size_t>(std::ceil(static_cast<double>(in_subset) /
                                      static_cast<double>(num_total) * static_cast<double>(max)));
    to_add = std::min(to_add, can_be_added);
    if (json::value* list = s.if_contains(field); list && list->is_array()) {
      json::array& a = list->as_array();
      if (a.size() > to_add) a.erase(a.begin() + static_cast<std::ptrdiff_t>(to_add), a.end());
      can_be_added -= a.size();
      if (a.empty()) s.erase(field);
    }
    if (truncate_ready) s.erase("notReadyAddresses");
  }
  return true;
}

EndpointsController::EndpointsController(client::SharedInformers* informers,
                                         client::EventRecorder* recorder)
    : client_(informers->client()),
      recorder_(recorder),
      services_(informers->For(client::resources::kServices)),
      pods_(informers->For(client::resources::kPods)),
      endpoints_(informers->For(client::resources::kEndpoints)),
      queue_(client::WorkQueue::Options{std::chrono::milliseconds(5), std::chrono::seconds(1000)}) {
  services_->AddIndex("namespace", ep::NamespaceIndex);
  pods_->AddIndex("namespace", ep::NamespaceIndex);
  services_->AddEventHandler(
      client::EventHandlers{[this](const ObjectPtr& s) { queue_.Add(client::KeyOf(*s)); },
                            [this](const ObjectPtr& o, const ObjectPtr& s) {
                              if (o != s) queue_.Add(client::KeyOf(*s));
                            },
                            [this](const ObjectPtr& s) {
                              std::string key = client::KeyOf(*s);
                              if (ep::ManagesService(*s)) {
                                std::lock_guard<std::mutex> lock(mu_);
                                managed_.insert(key);
                              }
                              queue_.Add(key);
                            }});
  pods_->AddEventHandler(ep::PodEventHandlers(services_, &queue_));
  // Endpoints deleted by someone else are written again (for a Service this controller fills).
  endpoints_->AddEventHandler(client::EventHandlers{
      nullptr, nullptr, [this](const ObjectPtr& e) { queue_.Add(client::KeyOf(*e)); }});
}

EndpointsController::~EndpointsController() { Stop(); }

void EndpointsController::Run(int workers) {
  if (running_.exchange(true)) return;
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] {
      pods_->WaitForSync(std::chrono::seconds(60));
      services_->WaitForSync(std::chrono::seconds(60));
      endpoints_->WaitForSync(std::chrono::seconds(60));
      std::call_once(leftovers_once_, [this] { CheckLeftovers(); });
      queue_.Process("endpoints", [this](const std::string& key) { return Sync(key); });
    });
  }
}

void EndpointsController::Stop() {
  queue_.ShutDown();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

void EndpointsController::CheckLeftovers() {
  for (const ObjectPtr& e : endpoints_->List()) {
    const json::object* ann = MetaObject(*e, "annotations");
    if (ann && ann->contains(ep::kLeaderAnnotation)) continue;
    std::string key = client::KeyOf(*e);
    if (!services_->Get(key)) {
      std::lock_guard<std::mutex> lock(mu_);
      leftovers_.insert(key);
    }
    queue_.Add(key);
  }
}

Status EndpointsController::Sync(const std::string& key) {
  auto [ns, name] = client::SplitKey(key);
  ObjectPtr svc = services_->Get(key);
  if (!svc) {
    trigger_times_.Forget(key);
    bool ours = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ours = managed_.count(key) > 0 || leftovers_.count(key) > 0;
      replaced_rv_.erase(key);
    }
    if (!ours) return Status::Ok();
    // The cache says the Service is gone; the API must agree before its Endpoints go.
    auto live = client_->Get(client::resources::kServices, ns, name);
    if (live.ok()) return Status::Ok();  // the informer will bring it back
    if (live.status().code() != Code::kNotFound) return live.status();
    Status st = client_->Delete(client::resources::kEndpoints, ns, name);
    if (!st.ok() && st.code() != Code::kNotFound) return st;
    std::lock_guard<std::mutex> lock(mu_);
    managed_.erase(key);
    leftovers_.erase(key);
    return Status::Ok();
  }
  if (!ep::ManagesService(*svc)) {
    // No selector (its owner writes the Endpoints) or ExternalName: not ours.
    std::lock_guard<std::mutex> lock(mu_);
    managed_.erase(key);
    leftovers_.erase(key);
    return Status::Ok();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    managed_.insert(key);
    leftovers_.erase(key);
  }
  const json::object* spec = Obj(svc.get(), "spec");
  const json::object& selector = *Obj(spec, "selector");
  std::vector<ObjectPtr> pods;
  for (const ObjectPtr& p : pods_->ByIndex("namespace", ns))
    if (ep::SelectorMatches(selector, MetaObject(*p, "labels"))) pods.push_back(p);

  // Computed on every sync so the tracker's state moves even when nothing is written.
  const std::string trigger_time = trigger_times_.Compute(*svc, pods);

  const bool publish_not_ready = [&] {
    const json::value* v = spec ? spec->if_contains("publishNotReadyAddresses") : nullptr;
    return v && v->is_bool() && v->as_bool();
  }();
  const json::array* svc_ports = Arr(spec, "ports");
  const bool headless = Str(spec, "clusterIP") == "None";
  std::deque<json::object> port_store;  // endpoint ports, kept alive for the entries
  std::vector<EndpointEntry> entries;
  for (const ObjectPtr& pod : pods) {
    if (!ep::ShouldPodBeInEndpoints(*pod, publish_not_ready)) continue;
    bool want_v6 = WantsIpv6(*svc, *pod);
    std::string ip;
    for (const std::string& candidate : ep::PodIps(*pod)) {
      bool v6 = false;
      if (!ep::NormalizeIp(candidate, &v6).empty() && v6 == want_v6) {
        ip = candidate;
        break;
      }
    }
    if (ip.empty()) continue;  // no address of the Service's family
    json::object addr{{"ip", ip}};
    if (ep::ShouldSetHostname(*pod, *svc))
      addr["hostname"] = Str(Obj(pod.get(), "spec"), "hostname");
    if (std::string node = Str(Obj(pod.get(), "spec"), "nodeName"); !node.empty())
      addr["nodeName"] = node;
    addr["targetRef"] = ep::PodTargetRef(*pod);
    const bool ready = publish_not_ready || IsPodReady(*pod);
    if (!svc_ports || svc_ports->empty()) {
      // A headless Service may have no ports: its addresses are listed alone.
      if (headless) entries.push_back(EndpointEntry{addr, ready, nullptr});
      continue;
    }
    for (const json::value& spv : *svc_ports) {
      if (!spv.is_object()) continue;
      const json::object& sp = spv.as_object();
      auto port = ep::FindPort(*pod, sp);
      if (!port) continue;
      json::object epp;
      if (std::string n = Str(&sp, "name"); !n.empty()) epp["name"] = n;
      epp["port"] = *port;
      std::string protocol = Str(&sp, "protocol");
      epp["protocol"] = protocol.empty() ? "TCP" : protocol;
      if (std::string ap = Str(&sp, "appProtocol"); !ap.empty()) epp["appProtocol"] = ap;
      port_store.push_back(std::move(epp));
      entries.push_back(EndpointEntry{addr, ready, &port_store.back()});
    }
  }
  json::array subsets = RepackSubsets(entries);
  const bool truncated = TruncateSubsets(subsets);

  json::object labels;
  if (const json::object* l = MetaObject(*svc, "labels")) labels = *l;
  if (ep::IsServiceIpSet(*svc)) {
    labels.erase(ep::kHeadlessLabel);
  } else {
    labels[ep::kHeadlessLabel] = "";
  }

  ObjectPtr current = endpoints_->Get(key);
  if (current) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = replaced_rv_.find(key);
    if (it != replaced_rv_.end() && it->second == MetaString(*current, "resourceVersion"))
      return Conflict("endpoints informer cache is out of date for " + key);
  }
  if (current) {
    const json::object* ann = MetaObject(*current, "annotations");
    const bool marked = ann && ann->contains(ep::kOverCapacity);
    if (api::JsonEqual(json::value(WithoutRefVersions(Arr(current.get(), "subsets"))),
                       json::value(subsets)) &&
        SameObject(MetaObject(*current, "labels"), &labels) && marked == truncated) {
      return Status::Ok();  // nothing to write
    }
  }

  json::object next;
  json::object meta;
  json::object annotations;
  if (current) {
    next = *current;
    if (const json::object* m = Obj(&next, "metadata")) meta = *m;
    if (const json::object* a = Obj(&meta, "annotations")) annotations = *a;
  } else {
    meta = json::object{{"name", name}, {"namespace", ns}};
  }
  next["apiVersion"] = "v1";
  next["kind"] = "Endpoints";
  if (trigger_time.empty()) {
    annotations.erase(ep::kLastChangeTriggerTime);
  } else {
    annotations[ep::kLastChangeTriggerTime] = trigger_time;
  }
  if (truncated) {
    annotations[ep::kOverCapacity] = "truncated";
  } else {
    annotations.erase(ep::kOverCapacity);
  }
  if (labels.empty()) {
    meta.erase("labels");
  } else {
    meta["labels"] = labels;
  }
  if (annotations.empty()) {
    meta.erase("annotations");
  } else {
    meta["annotations"] = std::move(annotations);
  }
  next["metadata"] = std::move(meta);
  if (subsets.empty()) {
    next.erase("subsets");
  } else {
    next["subsets"] = std::move(subsets);
  }

  if (!current) {
    auto r = client_->Create(client::resources::kEndpoints, ns, next);
    if (r.ok()) return Status::Ok();
    // Forbidden: the namespace is terminating; creates will keep failing, so drop the key.
    if (r.status().code() == Code::kForbidden) return Status::Ok();
    // The cache has not seen an Endpoints that exists: retry once it has.
    if (r.status().code() == Code::kAlreadyExists) return Conflict(r.status().message());
    recorder_->Record(next, "Warning", "FailedToCreateEndpoint",
                      "Failed to create endpoint for service " + key + ": " + r.status().message());
    return r.status();
  }
  auto r = client_->Update(client::resources::kEndpoints, ns, next);
  if (!r.ok()) {
    // Conflict / NotFound: the cache was behind; the informer's event brings the next sync.
    if (r.status().code() == Code::kConflict || r.status().code() == Code::kNotFound)
      return Conflict(r.status().message());
    recorder_->Record(next, "Warning", "FailedToUpdateEndpoint",
                      "Failed to update endpoint " + key + ": " + r.status().message());
    return r.status();
  }
  if (MetaString(*r, "resourceVersion") != MetaString(*current, "resourceVersion")) {
    std::lock_guard<std::mutex> lock(mu_);
    replaced_rv_[key] = MetaString(*current, "resourceVersion");
  }
  return Status::Ok();
}

}  // namespace sampan::controllers
