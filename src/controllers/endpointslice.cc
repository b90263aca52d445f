#include "controllers/endpointslice.h"

#include <algorithm>
#include <charconv>

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

constexpr char kZoneLabel[] = "topology.kubernetes.io/zone";
constexpr int64_t kDeletionExpected = -1;

int64_t ResourceVersion(const json::object& obj) {
  std::string rv = MetaString(obj, "resourceVersion");
  int64_t v = 0;
  auto [p, ec] = std::from_chars(rv.data(), rv.data() + rv.size(), v);
  return ec == std::errc() && p == rv.data() + rv.size() ? v : 0;
}

std::string Label(const json::object& obj, std::string_view key) {
  return Str(MetaObject(obj, "labels"), key);
}

bool ManagedByUs(const json::object& slice) {
  return Label(slice, ep::kManagedByLabel) == kEndpointSliceControllerName;
}

// "ns/service" of a slice's kubernetes.io/service-name label; "" without one.
std::string ServiceKeyOf(const json::object& slice) {
  std::string svc = Label(slice, ep::kServiceNameLabel);
  return svc.empty() ? "" : MetaString(slice, "namespace") + "/" + svc;
}

bool OwnedBy(const json::object& slice, const json::object& svc) {
  const json::array* refs = Arr(Obj(&slice, "metadata"), "ownerReferences");
  if (!refs) return false;
  const std::string uid = MetaString(svc, "uid");
  for (const auto& r : *refs) {
    if (!r.is_object()) continue;
    const json::object& o = r.as_object();
    if (Str(&o, "uid") == uid && Str(&o, "kind") == "Service" && Str(&o, "apiVersion") == "v1")
      return true;
  }
  return false;
}

bool PublishesNotReady(const json::object& svc) {
  const json::object* spec = Obj(&svc, "spec");
  const json::value* v = spec ? spec->if_contains("publishNotReadyAddresses") : nullptr;
  return v && v->is_bool() && v->as_bool();
}

// The address types the Service's slices have (Kubernetes' getAddressTypesForService).
std::vector<std::string> AddressTypes(const json::object& svc) {
  const json::object* spec = Obj(&svc, "spec");
  bool v4 = false, v6 = false;
  if (const json::array* fams = Arr(spec, "ipFamilies")) {
    for (const auto& f : *fams) {
      if (f == "IPv4") v4 = true;
      if (f == "IPv6") v6 = true;
    }
  }
  if (!v4 && !v6) {
    if (ep::IsServiceIpSet(svc)) {
      bool is6 = false;
      ep::NormalizeIp(Str(spec, "clusterIP"), &is6);
      (is6 ? v6 : v4) = true;
    } else {
      // Headless without families: both, until the API server fills them in.
      v4 = v6 = true;
    }
  }
  std::vector<std::string> out;
  if (v4) out.emplace_back("IPv4");
  if (v6) out.emplace_back("IPv6");
  return out;
}

// The labels a slice of `svc` carries: the Service's (less the reserved keys), the headless
// marker when it has no cluster IP, the service name and the manager.
json::object SliceLabels(const json::object& svc) {
  json::object labels;
  if (const json::object* l = MetaObject(svc, "labels")) {
    for (const auto& [k, v] : *l) {
      if (k == ep::kServiceNameLabel || k == ep::kManagedByLabel || k == ep::kHeadlessLabel)
        continue;
      labels[k] = v;
    }
  }
  if (!ep::IsServiceIpSet(svc)) labels[ep::kHeadlessLabel] = "";
  labels[ep::kServiceNameLabel] = MetaString(svc, "name");
  labels[ep::kManagedByLabel] = kEndpointSliceControllerName;
  return labels;
}

bool SameObject(const json::object* a, const json::object* b) {
  static const json::object kEmpty;
  return api::JsonEqual(json::value(a ? *a : kEmpty), json::value(b ? *b : kEmpty));
}

size_t EndpointCount(const json::object& slice) {
  const json::array* eps = Arr(&slice, "endpoints");
  return eps ? eps->size() : 0;
}

bool NoPorts(const json::object& slice) {
  const json::array* ports = Arr(&slice, "ports");
  return !ports || ports->empty();
}

// The endpoint ports of `pod` for `svc` (Kubernetes' getEndpointPorts): every service port
// the pod offers; none for a headless Service without ports.
json::array EndpointPorts(const json::object& svc, const json::object& pod) {
  json::array out;
  const json::object* spec = Obj(&svc, "spec");
  const json::array* ports = Arr(spec, "ports");
  if (!ports) return out;
  for (const auto& pv : *ports) {
    if (!pv.is_object()) continue;
    const json::object& sp = pv.as_object();
    auto n = ep::FindPort(pod, sp);
    if (!n) continue;
    std::string protocol = Str(&sp, "protocol");
    json::object p{{"name", Str(&sp, "name")},
                   {"protocol", protocol.empty() ? "TCP" : protocol},
                   {"port", *n}};
    if (std::string ap = Str(&sp, "appProtocol"); !ap.empty()) p["appProtocol"] = ap;
    out.emplace_back(std::move(p));
  }
  return out;
}

// A port list's identity, whatever its order.
std::string PortsKey(const json::array* ports) {
  std::vector<std::string> parts;
  if (ports) {
    for (const auto& p : *ports) parts.push_back(api::SerializeSorted(p));
  }
  std::sort(parts.begin(), parts.end());
  std::string key;
  for (const auto& p : parts) key += p + '\n';
  return key;
}

// An endpoint's identity (Kubernetes' hashEndpoint): its addresses, hostname and target pod.
std::string EndpointKey(const json::object& e) {
  std::vector<std::string> addrs;
  if (const json::array* a = Arr(&e, "addresses")) {
    for (const auto& v : *a)
      if (v.is_string()) addrs.emplace_back(v.as_string());
  }
  std::sort(addrs.begin(), addrs.end());
  std::string key;
  for (const auto& a : addrs) key += a + ',';
  const json::object* ref = Obj(&e, "targetRef");
  key += '\x1f' + Str(&e, "hostname") + '\x1f' + Str(ref, "namespace") + '\x1f' + Str(ref, "name");
  return key;
}

// The endpoint without targetRef.resourceVersion, for comparisons.
json::value Comparable(const json::object& e) {
  json::object c = e;
  if (json::value* ref = c.if_contains("targetRef"); ref && ref->is_object())
    ref->as_object().erase("resourceVersion");
  return c;
}

json::object PodToEndpoint(const json::object& pod, const json::object* node,
                           const json::object& svc, const std::string& address_type) {
  const bool serving = IsPodReady(pod);
  const bool terminating = IsDeleting(pod);
  const bool ready = PublishesNotReady(svc) || (serving && !terminating);
  json::array addresses;
  for (const std::string& ip : ep::PodIps(pod)) {
    bool v6 = false;
    std::string norm = ep::NormalizeIp(ip, &v6);
    if (norm.empty()) continue;
    if (v6 == (address_type == "IPv6")) addresses.emplace_back(norm);
  }
  json::object e{
      {"addresses", std::move(addresses)},
      {"conditions",
       json::object{{"ready", ready}, {"serving", serving}, {"terminating", terminating}}}};
  const json::object* spec = Obj(&pod, "spec");
  if (ep::ShouldSetHostname(pod, svc)) e["hostname"] = Str(spec, "hostname");
  e["targetRef"] = ep::PodTargetRef(pod);
  if (std::string n = Str(spec, "nodeName"); !n.empty()) e["nodeName"] = n;
  if (node) {
    if (std::string zone = Str(MetaObject(*node, "labels"), kZoneLabel); !zone.empty())
      e["zone"] = zone;
  }
  return e;
}

json::object NewSlice(const json::object& svc, const json::array& ports,
                      const std::string& address_type) {
  json::object ref{{"apiVersion", "v1"},
                   {"kind", "Service"},
                   {"name", MetaString(svc, "name")},
                   {"uid", MetaString(svc, "uid")},
                   {"controller", true},
                   {"blockOwnerDeletion", true}};
  json::object slice{{"apiVersion", "discovery.k8s.io/v1"},
                     {"kind", "EndpointSlice"},
                     {"metadata", json::object{{"generateName", MetaString(svc, "name") + "-"},
                                               {"namespace", MetaString(svc, "namespace")},
                                               {"labels", SliceLabels(svc)},
                                               {"ownerReferences", json::array{ref}}}},
                     {"addressType", address_type},
                     {"endpoints", json::array()}};
  if (!ports.empty()) slice["ports"] = ports;
  return slice;
}

void SetTriggerTime(json::object& slice, const std::string& trigger) {
  json::object& meta = slice["metadata"].as_object();
  json::object annotations;
  if (const json::object* a = Obj(&meta, "annotations")) annotations = *a;
  if (trigger.empty()) {
    annotations.erase(ep::kLastChangeTriggerTime);
  } else {
    annotations[ep::kLastChangeTriggerTime] = trigger;
  }
  if (annotations.empty()) {
    meta.erase("annotations");
  } else {
    meta["annotations"] = std::move(annotations);
  }
}

}  // namespace

// ---- Tracker --------------------------------------------------------------------------------

bool EndpointSliceController::Tracker::Has(const json::object& slice) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_service_.find(ServiceKeyOf(slice));
  return it != by_service_.end() && it->second.count(MetaString(slice, "uid")) > 0;
}

bool EndpointSliceController::Tracker::ShouldSync(const json::object& slice) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_service_.find(ServiceKeyOf(slice));
  if (it == by_service_.end()) return true;
  auto g = it->second.find(MetaString(slice, "uid"));
  return g == it->second.end() || ResourceVersion(slice) > g->second;
}

bool EndpointSliceController::Tracker::Stale(const json::object& svc,
                                             const std::vector<ObjectPtr>& slices) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string key = client::KeyOf(svc);
  const std::string uid = MetaString(svc, "uid");
  // A new Service of the same name: what was written for the old one says nothing.
  if (auto u = service_uids_.find(key); u != service_uids_.end() && u->second != uid)
    by_service_.erase(key);
  service_uids_[key] = uid;
  auto it = by_service_.find(key);
  if (it == by_service_.end()) return false;
  std::set<std::string> seen;
  for (const ObjectPtr& s : slices) {
    std::string suid = MetaString(*s, "uid");
    seen.insert(suid);
    auto g = it->second.find(suid);
    if (g != it->second.end() &&
        (g->second == kDeletionExpected || g->second > ResourceVersion(*s)))
      return true;
  }
  for (const auto& [suid, rv] : it->second)
    if (rv != kDeletionExpected && !seen.count(suid)) return true;
  return false;
}

void EndpointSliceController::Tracker::Update(const json::object& slice) {
  std::lock_guard<std::mutex> lock(mu_);
  by_service_[ServiceKeyOf(slice)][MetaString(slice, "uid")] = ResourceVersion(slice);
}

void EndpointSliceController::Tracker::ExpectDeletion(const json::object& slice) {
  std::lock_guard<std::mutex> lock(mu_);
  by_service_[ServiceKeyOf(slice)][MetaString(slice, "uid")] = kDeletionExpected;
}

bool EndpointSliceController::Tracker::HandleDeletion(const json::object& slice) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_service_.find(ServiceKeyOf(slice));
  if (it == by_service_.end()) return true;
  auto g = it->second.find(MetaString(slice, "uid"));
  if (g == it->second.end()) return true;
  bool expected = g->second == kDeletionExpected;
  it->second.erase(g);
  return expected;
}

void EndpointSliceController::Tracker::DeleteService(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  by_service_.erase(key);
  service_uids_.erase(key);
}

// ---- Controller -----------------------------------------------------------------------------

// The desired endpoints of one port list: their ports and the endpoints by identity.
struct EndpointSliceController::Desired {
  std::string address_type;
  json::array ports;
  std::map<std::string, json::object> endpoints;
};

// What one reconcile will write.
struct EndpointSliceController::Plan {
  std::vector<json::object> create, update, remove;
};

EndpointSliceController::EndpointSliceController(client::SharedInformers* informers,
                                                 client::EventRecorder* recorder,
                                                 int max_endpoints_per_slice)
    : client_(informers->client()),
      recorder_(recorder),
      max_per_slice_(static_cast<size_t>(std::max(1, max_endpoints_per_slice))),
      services_(informers->For(client::resources::kServices)),
      pods_(informers->For(client::resources::kPods)),
      nodes_(informers->For(client::resources::kNodes)),
      slices_(informers->For(client::resources::kEndpointSlices)),
      // Kubernetes backs this controller off from 1 s (its API writes can be large).
      queue_(client::WorkQueue::Options{std::chrono::seconds(1), std::chrono::seconds(1000)}) {
  services_->AddIndex("namespace", ep::NamespaceIndex);
  pods_->AddIndex("namespace", ep::NamespaceIndex);
  slices_->AddIndex("service", [](const json::object& s) -> std::vector<std::string> {
    if (!ManagedByUs(s)) return {};
    std::string key = ServiceKeyOf(s);
    if (key.empty()) return {};
    return {key};
  });
  services_->AddEventHandler(
      client::EventHandlers{[this](const ObjectPtr& s) { queue_.Add(client::KeyOf(*s)); },
                            [this](const ObjectPtr& o, const ObjectPtr& s) {
                              if (o != s) queue_.Add(client::KeyOf(*s));
                            },
                            [this](const ObjectPtr& s) { queue_.Add(client::KeyOf(*s)); }});
  pods_->AddEventHandler(ep::PodEventHandlers(services_, &queue_));
  // Slice events: only changes this controller did not make itself bring a sync.
  slices_->AddEventHandler(client::EventHandlers{
      [this](const ObjectPtr& s) {
        if (ManagedByUs(*s) && tracker_.ShouldSync(*s)) EnqueueForSlice(*s);
      },
      [this](const ObjectPtr& o, const ObjectPtr& s) {
        if (o == s) return;
        if (Label(*o, ep::kServiceNameLabel) != Label(*s, ep::kServiceNameLabel)) {
          EnqueueForSlice(*s);
          EnqueueForSlice(*o);
          return;
        }
        if (ManagedByUs(*o) != ManagedByUs(*s) || (ManagedByUs(*s) && tracker_.ShouldSync(*s)))
          EnqueueForSlice(*s);
      },
      [this](const ObjectPtr& s) {
        if (ManagedByUs(*s) && tracker_.Has(*s) && !tracker_.HandleDeletion(*s))
          EnqueueForSlice(*s);
      }});
}

EndpointSliceController::~EndpointSliceController() { Stop(); }

void EndpointSliceController::EnqueueForSlice(const json::object& slice) {
  std::string key = ServiceKeyOf(slice);
  // A short delay gathers the events of several slices into one sync, as Kubernetes does.
  if (!key.empty()) queue_.AddAfter(key, std::chrono::seconds(1));
}

void EndpointSliceController::Run(int workers) {
  if (running_.exchange(true)) return;
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] {
      pods_->WaitForSync(std::chrono::seconds(60));
      services_->WaitForSync(std::chrono::seconds(60));
      nodes_->WaitForSync(std::chrono::seconds(60));
      slices_->WaitForSync(std::chrono::seconds(60));
      queue_.Process("endpointslices", [this](const std::string& key) { return Sync(key); });
    });
  }
}

void EndpointSliceController::Stop() {
  queue_.ShutDown();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

std::vector<ObjectPtr> EndpointSliceController::ManagedSlices(const std::string& key) const {
  std::vector<ObjectPtr> out;
  for (const ObjectPtr& s : slices_->ByIndex("service", key))
    if (!IsDeleting(*s)) out.push_back(s);  // pending deletion: as good as gone
  std::sort(out.begin(), out.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
    return MetaString(*a, "name") < MetaString(*b, "name");
  });
  return out;
}

Status EndpointSliceController::DeleteSlicesOfGoneService(const std::string& key) {
  std::vector<ObjectPtr> slices = ManagedSlices(key);
  if (slices.empty()) return Status::Ok();
  auto [ns, name] = client::SplitKey(key);
  auto live = client_->Get(client::resources::kServices, ns, name);
  if (live.ok()) return Status::Ok();  // the cache is behind; the Service's event follows
  if (live.status().code() != Code::kNotFound) return live.status();
  for (const ObjectPtr& s : slices) {
    client::DeleteOptions opts;
    opts.precondition_uid = MetaString(*s, "uid");
    Status st =
        client_->Delete(client::resources::kEndpointSlices, ns, MetaString(*s, "name"), opts);
    if (!st.ok() && st.code() != Code::kNotFound && st.code() != Code::kConflict) return st;
  }
  return Status::Ok();
}

Status EndpointSliceController::Sync(const std::string& key) {
  ObjectPtr svc = services_->Get(key);
  if (!svc) {
    trigger_times_.Forget(key);
    tracker_.DeleteService(key);
    return DeleteSlicesOfGoneService(key);
  }
  // ExternalName Services and Services without a selector get no slices from here (the latter
  // are given theirs by whoever owns their endpoints).
  if (!ep::ManagesService(*svc)) return Status::Ok();
  auto [ns, name] = client::SplitKey(key);
  const json::object& selector = *Obj(Obj(svc.get(), "spec"), "selector");
  std::vector<ObjectPtr> pods;
  for (const ObjectPtr& p : pods_->ByIndex("namespace", ns))
    if (ep::SelectorMatches(selector, MetaObject(*p, "labels"))) pods.push_back(p);
  std::vector<ObjectPtr> slices = ManagedSlices(key);
  if (tracker_.Stale(*svc, slices))
    return Conflict("EndpointSlice informer cache is out of date for " + key);
  // Computed on every sync so the tracker's state moves even when nothing is written.
  const std::string trigger = trigger_times_.Compute(*svc, pods);
  Status st = Reconcile(*svc, pods, slices, trigger);
  if (!st.ok() && st.code() != Code::kConflict) {
    recorder_->Record(*svc, "Warning", "FailedToUpdateEndpointSlices",
                      "Error updating Endpoint Slices for Service " + key + ": " + st.message());
  }
  return st;
}

Status EndpointSliceController::Reconcile(const json::object& svc,
                                          const std::vector<ObjectPtr>& pods,
                                          const std::vector<ObjectPtr>& slices,
                                          const std::string& trigger) {
  const std::vector<std::string> types = AddressTypes(svc);
  std::map<std::string, std::vector<ObjectPtr>> by_type;
  std::vector<ObjectPtr> other_types;
  for (const ObjectPtr& s : slices) {
    std::string t = Str(s.get(), "addressType");
    if (std::find(types.begin(), types.end(), t) == types.end()) {
      other_types.push_back(s);
    } else {
      by_type[t].push_back(s);
    }
  }
  Status first;
  for (const std::string& t : types) {
    Status st = ReconcileAddressType(svc, pods, by_type[t], trigger, t);
    if (!st.ok() && first.ok()) first = st;
  }
  for (const ObjectPtr& s : other_types) {
    Status st = DeleteSlice(svc, *s);
    if (!st.ok() && first.ok()) first = st;
  }
  return first;
}

Status EndpointSliceController::ReconcileAddressType(const json::object& svc,
                                                     const std::vector<ObjectPtr>& pods,
                                                     const std::vector<ObjectPtr>& existing,
                                                     const std::string& trigger,
                                                     const std::string& address_type) {
  Plan plan;
  std::map<std::string, std::vector<const json::object*>> existing_by_ports;
  for (const ObjectPtr& s : existing) {
    if (OwnedBy(*s, svc)) {
      existing_by_ports[PortsKey(Arr(s.get(), "ports"))].push_back(s.get());
    } else {
      plan.remove.push_back(*s);  // left by an earlier Service of the same name
    }
  }
  std::map<std::string, Desired> desired;
  Status missing_node;
  const bool publish_not_ready = PublishesNotReady(svc);
  for (const ObjectPtr& pod : pods) {
    if (!ep::ShouldPodBeInEndpoints(*pod, true)) continue;
    json::array ports = EndpointPorts(svc, *pod);
    std::string pkey = PortsKey(&ports);
    auto [it, added] = desired.try_emplace(pkey);
    if (added) {
      it->second.address_type = address_type;
      it->second.ports = std::move(ports);
    }
    std::string node_name = Str(Obj(pod.get(), "spec"), "nodeName");
    ObjectPtr node = node_name.empty() ? nullptr : nodes_->Get(node_name);
    if (!node && !publish_not_ready) {
      // Left out for now and retried: the pod may yet be collected or its Node appear.
      missing_node = Unavailable("skipping Pod " + MetaString(*pod, "name") + " for Service " +
                                 client::KeyOf(svc) + ": Node " + node_name + " Not Found");
      continue;
    }
    json::object e = PodToEndpoint(*pod, node.get(), svc, address_type);
    if (!Arr(&e, "addresses")->empty()) it->second.endpoints[EndpointKey(e)] = std::move(e);
  }
  for (auto& [pkey, d] : desired) {
    auto ex = existing_by_ports.find(pkey);
    static const std::vector<const json::object*> kNone;
    ReconcilePorts(svc, ex == existing_by_ports.end() ? kNone : ex->second, d, plan);
  }
  // Port lists nobody offers any more: their slices go.
  for (const auto& [pkey, list] : existing_by_ports) {
    if (desired.count(pkey)) continue;
    for (const json::object* s : list) plan.remove.push_back(*s);
  }
  // No endpoints at all: one empty placeholder slice stands for the Service.
  if (existing.size() == plan.remove.size() && plan.create.empty()) {
    json::object placeholder = NewSlice(svc, json::array(), address_type);
    const json::object* want = Obj(Obj(&placeholder, "metadata"), "labels");
    if (plan.remove.size() == 1 && OwnedBy(plan.remove[0], svc) &&
        EndpointCount(plan.remove[0]) == 0 && NoPorts(plan.remove[0]) &&
        Str(&plan.remove[0], "addressType") == address_type &&
        SameObject(MetaObject(plan.remove[0], "labels"), want)) {
      plan.remove.clear();  // it is there already
    } else {
      plan.create.push_back(std::move(placeholder));
    }
  }
  Status st = Finalize(svc, plan, trigger);
  return st.ok() ? missing_node : st;
}

void EndpointSliceController::ReconcilePorts(const json::object& svc,
                                             const std::vector<const json::object*>& existing,
                                             Desired& desired, Plan& plan) {
  const json::object labels = SliceLabels(svc);
  std::map<std::string, json::object> by_name;
  std::set<std::string> unchanged, to_update, to_remove;
  // 1. Existing slices keep the desired endpoints they hold (refreshed where they changed)
  //    and lose the others.
  for (const json::object* s : existing) {
    const std::string name = MetaString(*s, "name");
    json::array kept;
    bool changed = false;
    size_t before = 0;
    if (const json::array* eps = Arr(s, "endpoints")) {
      before = eps->size();
      for (const auto& ev : *eps) {
        if (!ev.is_object()) continue;
        auto it = desired.endpoints.find(EndpointKey(ev.as_object()));
        if (it == desired.endpoints.end()) continue;
        if (!api::JsonEqual(Comparable(it->second), Comparable(ev.as_object()))) changed = true;
        kept.emplace_back(std::move(it->second));
        desired.endpoints.erase(it);
      }
    }
    const bool labels_changed = !SameObject(MetaObject(*s, "labels"), &labels);
    if (changed || kept.size() != before) {
      if (kept.empty()) {
        by_name[name] = *s;
        to_remove.insert(name);
      } else {
        json::object copy = *s;
        copy["endpoints"] = std::move(kept);
        copy["metadata"].as_object()["labels"] = labels;
        by_name[name] = std::move(copy);
        to_update.insert(name);
      }
    } else if (labels_changed) {
      json::object copy = *s;
      copy["metadata"].as_object()["labels"] = labels;
      by_name[name] = std::move(copy);
      to_update.insert(name);
    } else {
      by_name[name] = *s;
      unchanged.insert(name);
    }
  }
  auto pop = [&]() {
    auto it = desired.endpoints.begin();
    json::value v = std::move(it->second);
    desired.endpoints.erase(it);
    return v;
  };
  // 2. Slices being written anyway are filled up first, the fullest first.
  if (!desired.endpoints.empty() && !to_update.empty()) {
    std::vector<std::string> names(to_update.begin(), to_update.end());
    std::stable_sort(names.begin(), names.end(), [&](const std::string& a, const std::string& b) {
      return EndpointCount(by_name[a]) > EndpointCount(by_name[b]);
    });
    for (const std::string& n : names) {
      json::array& eps = by_name[n]["endpoints"].as_array();
      while (!desired.endpoints.empty() && eps.size() < max_per_slice_) eps.push_back(pop());
    }
  }
  // 3. The rest go into the unchanged slice they fill best, else into new slices.
  while (!desired.endpoints.empty()) {
    std::string fill;
    if (desired.endpoints.size() < max_per_slice_ && !unchanged.empty()) {
      size_t closest = max_per_slice_;
      for (const std::string& n : unchanged) {
        size_t total = desired.endpoints.size() + EndpointCount(by_name[n]);
        if (total > max_per_slice_) continue;
        size_t diff = max_per_slice_ - total;
        if (diff < closest) {
          closest = diff;
          fill = n;
          if (diff == 0) break;
        }
      }
    }
    if (fill.empty()) {
      json::object slice = NewSlice(svc, desired.ports, desired.address_type);
      json::array& eps = slice["endpoints"].as_array();
      while (!desired.endpoints.empty() && eps.size() < max_per_slice_) eps.push_back(pop());
      plan.create.push_back(std::move(slice));
      continue;
    }
    json::object& slice = by_name[fill];
    if (!slice.contains("endpoints") || !slice["endpoints"].is_array())
      slice["endpoints"] = json::array();
    json::array& eps = slice["endpoints"].as_array();
    while (!desired.endpoints.empty() && eps.size() < max_per_slice_) eps.push_back(pop());
    unchanged.erase(fill);
    to_update.insert(fill);
  }
  for (const std::string& n : to_update) plan.update.push_back(std::move(by_name[n]));
  for (const std::string& n : to_remove) plan.remove.push_back(std::move(by_name[n]));
}

Status EndpointSliceController::Finalize(const json::object& svc, Plan& plan,
                                         const std::string& trigger) {
  const std::string ns = MetaString(svc, "namespace");
  // A slice about to be deleted is rewritten instead of creating a new one.
  for (size_t i = 0; i < plan.remove.size() && !plan.create.empty();) {
    const json::object& old = plan.remove[i];
    json::object& fresh = plan.create.back();
    if (Str(&old, "addressType") == Str(&fresh, "addressType") && OwnedBy(old, svc)) {
      json::object reused = old;
      json::object& meta = reused["metadata"].as_object();
      const json::object& fresh_meta = fresh["metadata"].as_object();
      meta["labels"] = fresh_meta.at("labels");
      meta["ownerReferences"] = fresh_meta.at("ownerReferences");
      reused["endpoints"] = fresh["endpoints"];
      if (const json::value* p = fresh.if_contains("ports")) {
        reused["ports"] = *p;
      } else {
        reused.erase("ports");
      }
      plan.update.push_back(std::move(reused));
      plan.create.pop_back();
      plan.remove.erase(plan.remove.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
  // No new slices for a Service on its way out.
  if (!IsDeleting(svc)) {
    for (json::object& s : plan.create) {
      SetTriggerTime(s, trigger);
      auto r = client_->Create(client::resources::kEndpointSlices, ns, s);
      if (!r.ok()) {
        // Forbidden: the namespace is terminating; creates will keep failing.
        if (r.status().code() == Code::kForbidden) return Status::Ok();
        return r.status().WithContext("failed to create EndpointSlice for Service " +
                                      client::KeyOf(svc));
      }
      tracker_.Update(*r);
    }
  }
  for (json::object& s : plan.update) {
    SetTriggerTime(s, trigger);
    auto r = client_->Update(client::resources::kEndpointSlices, ns, s);
    if (!r.ok()) {
      if (r.status().code() == Code::kNotFound) return Conflict(r.status().message());
      return r.status().WithContext("failed to update EndpointSlice " + MetaString(s, "name") +
                                    " for Service " + client::KeyOf(svc));
    }
    tracker_.Update(*r);
  }
  for (const json::object& s : plan.remove) {
    if (Status st = DeleteSlice(svc, s); !st.ok()) return st;
  }
  return Status::Ok();
}

Status EndpointSliceController::DeleteSlice(const json::object& svc, const json::object& slice) {
  Status st = client_->Delete(client::resources::kEndpointSlices, MetaString(svc, "namespace"),
                              MetaString(slice, "name"));
  if (!st.ok() && st.code() != Code::kNotFound) {
    return st.WithContext("failed to delete EndpointSlice " + MetaString(slice, "name") +
                          " for Service " + client::KeyOf(svc));
  }
  if (st.ok()) tracker_.ExpectDeletion(slice);
  return Status::Ok();
}

}  // namespace sampan::controllers
