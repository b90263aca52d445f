#include "apiserver/kubernetes_service.h"

#include <boost/json.hpp>

#include "apiserver/rest.h"
#include "apiserver/service_alloc.h"
#include "util/log.h"

namespace sampan::apiserver {

namespace {

// Creates `want` (a whole object) or, when it exists, sets the fields named in `owned` to
// `want`'s values if any differ.
asio::awaitable<Status> Reconcile(Rest& rest, const api::KindInfo* kind, json::object want,
                                  std::vector<std::string> owned) {
  if (kind == nullptr) co_return Status::Ok();  // not served
  const json::object& meta = want.at("metadata").as_object();
  const std::string ns(meta.at("namespace").as_string());
  const std::string name(meta.at("name").as_string());
  auto cur = rest.Get(*kind, ns, name);
  if (!cur.ok()) {
    // Named arguments: GCC 12 destroys temporaries in a co_await expression twice.
    WriteOptions create_opts;
    json::value body(want);
    auto made = co_await rest.Create(*kind, ns, std::move(body), create_opts);
    if (made.ok() || made.status().code() == Code::kAlreadyExists) co_return Status::Ok();
    co_return made.status().WithContext("creating " + kind->kind + " " + ns + "/" + name);
  }
  bool same = true;
  for (const std::string& f : owned) {
    const json::value* a = (*cur)->obj.if_contains(f);
    const json::value* b = want.if_contains(f);
    if (!a || !b || *a != *b) same = false;
  }
  if (same) co_return Status::Ok();
  std::function<Status(json::object&)> set = [&](json::object& obj) {
    for (const std::string& f : owned) obj[f] = want.at(f);
    return Status::Ok();
  };
  WriteOptions update_opts;
  auto updated = co_await rest.Mutate(*kind, ns, name, set, update_opts);
  if (!updated.ok()) {
    co_return updated.status().WithContext("updating " + kind->kind + " " + ns + "/" + name);
  }
  co_return Status::Ok();
}

// The objects are built outside the coroutine: GCC 12 miscompiles braced initializer lists
// in coroutine bodies ("array used as initializer").
json::object ServiceObject(const std::string& ip, int port) {
  json::object labels{{"component", "apiserver"}, {"provider", "kubernetes"}};
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata",
       json::object{{"name", "kubernetes"}, {"namespace", "default"}, {"labels", labels}}},
      {"spec", json::object{{"type", "ClusterIP"},
                            {"clusterIP", ip},
                            {"sessionAffinity", "None"},
                            {"ports", json::array{json::object{{"name", "https"},
                                                               {"port", 443},
                                                               {"protocol", "TCP"},
                                                               {"targetPort", port}}}}}}};
}

json::array EndpointPorts(int port) {
  return json::array{json::object{{"name", "https"}, {"port", port}, {"protocol", "TCP"}}};
}

json::object EndpointsObject(const std::string& address, int port) {
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Endpoints"},
      {"metadata",
       json::object{{"name", "kubernetes"},
                    {"namespace", "default"},
                    {"labels", json::object{{"endpointslice.kubernetes.io/skip-mirror", "true"}}}}},
      {"subsets",
       json::array{json::object{{"addresses", json::array{json::object{{"ip", address}}}},
                                {"ports", EndpointPorts(port)}}}}};
}

json::object SliceObject(const std::string& address, int port) {
  return json::object{
      {"apiVersion", "discovery.k8s.io/v1"},
      {"kind", "EndpointSlice"},
      {"metadata",
       json::object{{"name", "kubernetes"},
                    {"namespace", "default"},
                    {"labels", json::object{{"kubernetes.io/service-name", "kubernetes"}}}}},
      {"addressType", "IPv4"},
      {"endpoints", json::array{json::object{{"addresses", json::array{json::value(address)}},
                                             {"conditions", json::object{{"ready", true}}}}}},
      {"ports", EndpointPorts(port)}};
}

// kube-system/kube-dns: the cluster DNS's address (every node agent answers it itself).
json::object DnsServiceObject(const std::string& ip) {
  json::object labels{{"k8s-app", "kube-dns"}, {"kubernetes.io/cluster-service", "true"}};
  json::array ports{
      json::object{{"name", "dns"}, {"port", 53}, {"protocol", "UDP"}, {"targetPort", 53}},
      json::object{{"name", "dns-tcp"}, {"port", 53}, {"protocol", "TCP"}, {"targetPort", 53}}};
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata",
       json::object{{"name", "kube-dns"}, {"namespace", "kube-system"}, {"labels", labels}}},
      {"spec", json::object{{"type", "ClusterIP"},
                            {"clusterIP", ip},
                            {"sessionAffinity", "None"},
                            {"ports", ports}}}};
}

// `want`'s ports over the stored Service's spec: the allocated values stay.
void KeepSpec(Rest& rest, const api::KindInfo* kind, json::object& want) {
  if (!kind) return;
  const json::object& meta = want.at("metadata").as_object();
  auto cur = rest.Get(*kind, meta.at("namespace").as_string(), meta.at("name").as_string());
  if (!cur.ok()) return;
  if (const json::value* s = (*cur)->obj.if_contains("spec"); s && s->is_object()) {
    json::object merged = s->as_object();
    merged["ports"] = want["spec"].as_object()["ports"];
    want["spec"] = std::move(merged);
  }
}

std::vector<std::string> Fields(std::string a, std::string b = "") {
  std::vector<std::string> out;
  out.push_back(std::move(a));
  if (!b.empty()) out.push_back(std::move(b));
  return out;
}

}  // namespace

asio::awaitable<Status> EnsureKubernetesService(Rest& rest, std::string address, int port) {
  const api::Registry& reg = rest.registry();
  const ServiceAllocator* alloc = rest.service_allocator();
  if (alloc == nullptr) co_return Status::Ok();
  json::object svc = ServiceObject(net::FormatIpv4(alloc->network().ApiServiceIp()), port);
  json::object dns = DnsServiceObject(net::FormatIpv4(alloc->network().DnsServiceIp()));
  // The ports only: the clusterIP is the one allocated when the Service was made.
  const api::KindInfo* svc_kind = reg.FindKind("", "v1", "Service");
  KeepSpec(rest, svc_kind, svc);
  KeepSpec(rest, svc_kind, dns);
  if (Status st = co_await Reconcile(rest, svc_kind, std::move(svc), Fields("spec")); !st.ok()) {
    co_return st;
  }
  if (Status st = co_await Reconcile(rest, svc_kind, std::move(dns), Fields("spec")); !st.ok()) {
    co_return st;
  }
  if (address.empty()) {
    LOG(WARNING) << "no address for the kubernetes Service's endpoints (use --advertise-address)";
    co_return Status::Ok();
  }
  if (Status st = co_await Reconcile(rest, reg.FindKind("", "v1", "Endpoints"),
                                     EndpointsObject(address, port), Fields("subsets"));
      !st.ok()) {
    co_return st;
  }
  co_return co_await Reconcile(rest, reg.FindKind("discovery.k8s.io", "v1", "EndpointSlice"),
                               SliceObject(address, port), Fields("endpoints", "ports"));
}

}  // namespace sampan::apiserver
