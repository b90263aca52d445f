#include "apiserver/service_alloc.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>

#include "apiserver/object_cache.h"

namespace sampan::apiserver {

namespace json = boost::json;

namespace {

std::string_view StrAt(const json::object& o, std::string_view k) {
  const json::value* v = o.if_contains(k);
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
}

int64_t IntAt(const json::object& o, std::string_view k) {
  const json::value* v = o.if_contains(k);
  if (v && v->is_int64()) return v->as_int64();
  if (v && v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  return 0;
}

std::string_view TypeOf(const json::object& spec) {
  std::string_view t = StrAt(spec, "type");
  return t.empty() ? "ClusterIP" : t;
}

bool HasClusterIp(std::string_view type) { return type != "ExternalName"; }
bool HasNodePorts(std::string_view type) { return type == "NodePort" || type == "LoadBalancer"; }

// LoadBalancer services with allocateLoadBalancerNodePorts false get node ports only where
// the client names them.
bool AllocatesNodePorts(const json::object& spec) {
  if (TypeOf(spec) == "NodePort") return true;
  const json::value* v = spec.if_contains("allocateLoadBalancerNodePorts");
  return !(v && v->is_bool() && !v->as_bool());
}

// Kubernetes' external-traffic health check: a LoadBalancer with externalTrafficPolicy Local.
bool NeedsHealthCheck(const json::object& spec) {
  return TypeOf(spec) == "LoadBalancer" && StrAt(spec, "externalTrafficPolicy") == "Local";
}

json::object* SpecOf(json::object& svc) {
  json::value* s = svc.if_contains("spec");
  return s && s->is_object() ? &s->as_object() : nullptr;
}
const json::object* SpecOf(const json::object& svc) {
  const json::value* s = svc.if_contains("spec");
  return s && s->is_object() ? &s->as_object() : nullptr;
}

json::array* PortsOf(json::object& spec) {
  json::value* p = spec.if_contains("ports");
  return p && p->is_array() ? &p->as_array() : nullptr;
}
const json::array* PortsOf(const json::object& spec) {
  const json::value* p = spec.if_contains("ports");
  return p && p->is_array() ? &p->as_array() : nullptr;
}

std::string_view ProtocolOf(const json::object& port) {
  std::string_view p = StrAt(port, "protocol");
  return p.empty() ? "TCP" : p;
}

// The ports a Service holds on every node.
void CollectNodePorts(const json::object& spec, std::set<int>& out) {
  if (const json::array* ports = PortsOf(spec)) {
    for (const json::value& p : *ports) {
      if (!p.is_object()) continue;
      if (int64_t np = IntAt(p.as_object(), "nodePort"); np > 0) out.insert(static_cast<int>(np));
    }
  }
  if (int64_t hc = IntAt(spec, "healthCheckNodePort"); hc > 0) out.insert(static_cast<int>(hc));
}

// Go's %#v of a []string, as Kubernetes prints the clusterIPs in its messages.
std::string GoStrings(const json::value* arr) {
  std::string out = "[]string{";
  bool first = true;
  if (arr && arr->is_array()) {
    for (const json::value& v : arr->as_array()) {
      if (!first) out += ", ";
      first = false;
      out += json::serialize(v.is_string() ? v : json::value(""));
    }
  }
  return out + "}";
}

// Causes only: the caller turns them into Kubernetes' Invalid status for the Service.
Status InvalidField(std::string field, std::string message) {
  std::string text = field + ": " + message;
  return Status(Code::kInvalid, std::move(text),
                {Cause{"FieldValueInvalid", std::move(message), std::move(field)}});
}

// Kubernetes keeps the lowest part of each range for values clients pick themselves and
// hands out values from above it first: min(max(16, size/divisor), cap).
uint64_t StaticBand(uint64_t size, uint64_t divisor, uint64_t cap) {
  if (size < 16) return 0;
  return std::min<uint64_t>(std::max<uint64_t>(16, size / divisor), cap);
}

// A free value in [lo, hi], searched from a random point upward with wrap-around, first in
// the dynamic band [band, hi], then in [lo, band). nullopt when all are taken.
template <typename T, typename Taken>
std::optional<T> PickFree(T lo, T hi, T band, std::mt19937& rng, const Taken& taken) {
  auto scan = [&](T from, T to) -> std::optional<T> {
    if (from > to) return std::nullopt;
    uint64_t n = static_cast<uint64_t>(to) - from + 1;
    uint64_t start = std::uniform_int_distribution<uint64_t>(0, n - 1)(rng);
    for (uint64_t i = 0; i < n; ++i) {
      T v = static_cast<T>(from + (start + i) % n);
      if (!taken(v)) return v;
    }
    return std::nullopt;
  };
  if (auto v = scan(std::max(lo, band), hi)) return v;
  if (band > lo) return scan(lo, static_cast<T>(band - 1));
  return std::nullopt;
}

}  // namespace

Result<std::pair<int, int>> ParseNodePortRange(std::string_view text) {
  auto dash = text.find('-');
  int lo = 0, hi = 0;
  auto num = [](std::string_view s, int* out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return ec == std::errc() && p == s.data() + s.size();
  };
  if (dash == std::string_view::npos || !num(text.substr(0, dash), &lo) ||
      !num(text.substr(dash + 1), &hi) || lo < 1 || hi > 65535 || lo > hi) {
    return BadRequest("invalid port range \"" + std::string(text) +
                      "\": want FIRST-LAST within 1-65535, e.g. 30000-32767");
  }
  return std::make_pair(lo, hi);
}

ServiceAllocator::Hold::~Hold() {
  if (owner_) owner_->Release(*this);
}

ServiceAllocator::ServiceAllocator(ServiceNetwork network, const ObjectCache& cache,
                                   std::string services_prefix)
    : network_(network),
      cache_(cache),
      prefix_(std::move(services_prefix)),
      rng_(std::random_device{}()) {}

void ServiceAllocator::Release(const Hold& h) {
  std::lock_guard lock(mu_);
  for (uint32_t ip : h.ips_) held_ips_.erase(held_ips_.find(ip));
  for (int p : h.ports_) held_ports_.erase(held_ports_.find(p));
}

ServiceAllocator::InUse ServiceAllocator::Taken(const std::string& key) const {
  InUse used;
  int64_t rev = 0;
  for (const ObjectPtr& o : cache_.List(prefix_, &rev)) {
    if (o->key == key) continue;
    const json::object* spec = SpecOf(o->obj);
    if (!spec) continue;
    if (const json::value* ips = spec->if_contains("clusterIPs"); ips && ips->is_array()) {
      for (const json::value& ip : ips->as_array()) {
        if (!ip.is_string()) continue;
        if (auto a = net::ParseIpv4(ip.as_string()); a.ok()) used.ips.insert(*a);
      }
    } else if (auto a = net::ParseIpv4(StrAt(*spec, "clusterIP")); a.ok()) {
      used.ips.insert(*a);
    }
    CollectNodePorts(*spec, used.ports);
  }
  used.ips.insert(held_ips_.begin(), held_ips_.end());
  used.ports.insert(held_ports_.begin(), held_ports_.end());
  return used;
}

Result<ServiceAllocator::Hold> ServiceAllocator::Allocate(const std::string& key, json::object& svc,
                                                          const json::object* cur, bool dry_run) {
  Hold hold;
  json::object* spec = SpecOf(svc);
  if (!spec) return hold;
  const json::object* old_spec = cur ? SpecOf(*cur) : nullptr;
  const std::string_view type = TypeOf(*spec);

  std::lock_guard lock(mu_);
  InUse used = Taken(key);
  std::vector<uint32_t> new_ips;
  std::vector<int> new_ports;

  // ---- clusterIP ----
  if (HasClusterIp(type)) {
    std::string ip(StrAt(*spec, "clusterIP"));
    const json::value* ips = spec->if_contains("clusterIPs");
    if (ip.empty() && ips && ips->is_array() && !ips->as_array().empty() &&
        ips->as_array()[0].is_string()) {
      ip = std::string(ips->as_array()[0].as_string());
    }
    const bool kept = old_spec && HasClusterIp(TypeOf(*old_spec)) &&
                      !StrAt(*old_spec, "clusterIP").empty() && StrAt(*old_spec, "clusterIP") == ip;
    if (ip == "None") {
      // Headless: no address.
    } else if (ip.empty()) {
      const net::Ipv4Cidr& r = network_.service_cidr;
      const uint32_t first = r.network + 1;
      const uint32_t last = r.prefix_len >= 31 ? r.broadcast() : r.broadcast() - 1;
      const uint32_t band = r.network + static_cast<uint32_t>(StaticBand(r.size(), 16, 256));
      auto pick = PickFree<uint32_t>(first, last, std::max(first, band), rng_,
                                     [&](uint32_t a) { return used.ips.count(a) > 0; });
      if (!pick) {
        return Status(Code::kInternal,
                      "Internal error occurred: failed to allocate a serviceIP: range is full");
      }
      ip = net::FormatIpv4(*pick);
      new_ips.push_back(*pick);
    } else if (!kept) {
      auto addr = net::ParseIpv4(ip);
      std::string why;
      if (!addr.ok()) {
        return InvalidField("spec.clusterIPs[0]",
                            "Invalid value: " + json::serialize(json::value(ip)) +
                                ": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
      }
      const net::Ipv4Cidr& r = network_.service_cidr;
      if (!r.Contains(*addr) || *addr == r.network ||
          (r.prefix_len < 31 && *addr == r.broadcast())) {
        why = "the provided IP (" + ip + ") is not in the valid range. The range of valid IPs is " +
              r.ToString();
      } else if (used.ips.count(*addr)) {
        why = "provided IP is already allocated";
      }
      if (!why.empty()) {
        spec->insert_or_assign("clusterIPs", json::array{json::value(ip)});
        return InvalidField("spec.clusterIPs",
                            "Invalid value: " + GoStrings(spec->if_contains("clusterIPs")) +
                                ": failed to allocate IP " + ip + ": " + why);
      }
      new_ips.push_back(*addr);
    }
    spec->insert_or_assign("clusterIP", ip);
    spec->insert_or_assign("clusterIPs", json::array{json::value(ip)});
    if (ip != "None" || !spec->contains("ipFamilies")) {
      spec->insert_or_assign("ipFamilies", json::array{"IPv4"});
    }
    if (!spec->contains("ipFamilyPolicy")) {
      const json::value* sel = spec->if_contains("selector");
      bool selectorless = !sel || !sel->is_object() || sel->as_object().empty();
      // Kubernetes' special case: headless and selectorless asks for both families.
      spec->insert_or_assign("ipFamilyPolicy",
                             ip == "None" && selectorless ? "RequireDualStack" : "SingleStack");
    }
  }

  // ---- node ports ----
  std::set<int> old_ports;
  if (old_spec) CollectNodePorts(*old_spec, old_ports);
  const int lo = network_.node_port_min, hi = network_.node_port_max;
  const std::string range = std::to_string(lo) + "-" + std::to_string(hi);
  auto take_port = [&](int np) {
    used.ports.insert(np);
    new_ports.push_back(np);
  };
  auto check_port = [&](const std::string& field, int np) -> Status {
    if (old_ports.count(np) || std::count(new_ports.begin(), new_ports.end(), np)) {
      return Status::Ok();  // already this Service's
    }
    if (np < lo || np > hi) {
      return InvalidField(field, "Invalid value: " + std::to_string(np) +
                                     ": provided port is not in the valid range. The range of "
                                     "valid ports is " +
                                     range);
    }
    if (used.ports.count(np)) {
      return InvalidField(
          field, "Invalid value: " + std::to_string(np) + ": provided port is already allocated");
    }
    take_port(np);
    return Status::Ok();
  };
  auto next_port = [&]() -> Result<int> {
    int band = lo + static_cast<int>(StaticBand(static_cast<uint64_t>(hi - lo + 1), 32, 128));
    auto pick = PickFree<int>(lo, hi, band, rng_, [&](int p) { return used.ports.count(p) > 0; });
    if (!pick) {
      return Status(Code::kInternal,
                    "Internal error occurred: failed to allocate a nodePort: range is full");
    }
    take_port(*pick);
    return *pick;
  };
  if (HasNodePorts(type)) {
    if (json::array* ports = PortsOf(*spec)) {
      std::map<int64_t, int> by_port;  // service port → node port, shared by its protocols
      for (size_t i = 0; i < ports->size(); ++i) {
        if (!(*ports)[i].is_object()) continue;
        json::object& p = (*ports)[i].as_object();
        int np = static_cast<int>(IntAt(p, "nodePort"));
        const std::string field = "spec.ports[" + std::to_string(i) + "].nodePort";
        if (np != 0) {
          RETURN_IF_ERROR(check_port(field, np));
          by_port.emplace(IntAt(p, "port"), np);
          continue;
        }
        if (!AllocatesNodePorts(*spec)) continue;
        if (auto it = by_port.find(IntAt(p, "port")); it != by_port.end()) {
          np = it->second;
        } else {
          ASSIGN_OR_RETURN(np, next_port());
          by_port.emplace(IntAt(p, "port"), np);
        }
        p.insert_or_assign("nodePort", np);
      }
    }
  }
  if (NeedsHealthCheck(*spec)) {
    int hc = static_cast<int>(IntAt(*spec, "healthCheckNodePort"));
    if (hc != 0) {
      RETURN_IF_ERROR(check_port("spec.healthCheckNodePort", hc));
    } else {
      ASSIGN_OR_RETURN(hc, next_port());
      spec->insert_or_assign("healthCheckNodePort", hc);
    }
  }

  if (!dry_run) {
    hold.owner_ = this;
    hold.ips_ = std::move(new_ips);
    hold.ports_ = std::move(new_ports);
    held_ips_.insert(hold.ips_.begin(), hold.ips_.end());
    held_ports_.insert(hold.ports_.begin(), hold.ports_.end());
  }
  return hold;
}

void ServiceAllocator::PrepareUpdate(json::object& svc, const json::object& cur) {
  json::object* spec = SpecOf(svc);
  const json::object* old_spec = SpecOf(cur);
  if (!spec || !old_spec) return;
  const std::string_view type = TypeOf(*spec), old_type = TypeOf(*old_spec);
  // Values allocated before and left out of this write are kept (a PUT of a manifest that
  // never named them, e.g. `kubectl replace`).
  if (HasClusterIp(type) && HasClusterIp(old_type)) {
    for (const char* f : {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"}) {
      const json::value* now = spec->if_contains(f);
      bool unset = !now || now->is_null() || (now->is_string() && now->as_string().empty()) ||
                   (now->is_array() && now->as_array().empty());
      if (unset) {
        if (const json::value* was = old_spec->if_contains(f)) spec->insert_or_assign(f, *was);
      }
    }
  }
  if (HasNodePorts(type) && HasNodePorts(old_type)) {
    json::array* ports = PortsOf(*spec);
    const json::array* old_ports = PortsOf(*old_spec);
    if (ports && old_ports) {
      for (json::value& pv : *ports) {
        if (!pv.is_object() || IntAt(pv.as_object(), "nodePort") != 0) continue;
        json::object& p = pv.as_object();
        for (const json::value& ov : *old_ports) {
          if (!ov.is_object()) continue;
          const json::object& o = ov.as_object();
          if (IntAt(o, "port") == IntAt(p, "port") && ProtocolOf(o) == ProtocolOf(p) &&
              IntAt(o, "nodePort") != 0) {
            p.insert_or_assign("nodePort", IntAt(o, "nodePort"));
            break;
          }
        }
      }
    }
  }
  if (NeedsHealthCheck(*spec) && NeedsHealthCheck(*old_spec) &&
      IntAt(*spec, "healthCheckNodePort") == 0 && IntAt(*old_spec, "healthCheckNodePort") != 0) {
    spec->insert_or_assign("healthCheckNodePort", IntAt(*old_spec, "healthCheckNodePort"));
  }
  // What the new type has no use for goes, when the client left it as it was.
  if (!HasClusterIp(type) && HasClusterIp(old_type) &&
      StrAt(*spec, "clusterIP") == StrAt(*old_spec, "clusterIP")) {
    for (const char* f : {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"})
      spec->erase(f);
  }
  if (!HasNodePorts(type) && HasNodePorts(old_type)) {
    if (json::array* ports = PortsOf(*spec)) {
      std::set<int> old_nps;
      CollectNodePorts(*old_spec, old_nps);
      for (json::value& pv : *ports) {
        if (!pv.is_object()) continue;
        if (old_nps.count(static_cast<int>(IntAt(pv.as_object(), "nodePort")))) {
          pv.as_object().erase("nodePort");
        }
      }
    }
  }
  if (!HasClusterIp(type) && HasClusterIp(old_type) &&
      StrAt(*spec, "internalTrafficPolicy") == StrAt(*old_spec, "internalTrafficPolicy")) {
    spec->erase("internalTrafficPolicy");
  }
  // Fields only node-port types have.
  if (!HasNodePorts(type) && HasNodePorts(old_type)) {
    if (StrAt(*spec, "externalTrafficPolicy") == StrAt(*old_spec, "externalTrafficPolicy")) {
      spec->erase("externalTrafficPolicy");
    }
  }
  if (type != "LoadBalancer" && old_type == "LoadBalancer") {
    for (const char* f : {"allocateLoadBalancerNodePorts", "loadBalancerClass"}) {
      const json::value* now = spec->if_contains(f);
      const json::value* was = old_spec->if_contains(f);
      if (now && was && *now == *was) spec->erase(f);
    }
  }
  if (!NeedsHealthCheck(*spec) && NeedsHealthCheck(*old_spec) &&
      IntAt(*spec, "healthCheckNodePort") == IntAt(*old_spec, "healthCheckNodePort")) {
    spec->erase("healthCheckNodePort");
  }
}

}  // namespace sampan::apiserver
