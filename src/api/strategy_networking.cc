// networking.k8s.io (Ingress, IngressClass, NetworkPolicy) and discovery.k8s.io (EndpointSlice)
// defaults and rules, as Kubernetes' pkg/apis/networking and pkg/apis/discovery validation. Stored
// and served; no controller acts on them yet.
#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "api/strategy_internal.h"
#include "api/validate.h"

namespace sampan::api::strategy {

namespace {

constexpr std::string_view kGroup = "networking.k8s.io";

// A CIDR ("10.0.0.0/8", "fd00::/64"): its address bytes and prefix length; false if malformed.
struct Cidr {
  int family = 0;
  unsigned char addr[16] = {};
  int bits = 0;
};

bool ParseCidr(std::string_view text, Cidr* out) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  std::string ip(text.substr(0, slash)), len(text.substr(slash + 1));
  if (len.empty() || len.size() > 3 || len.find_first_not_of("0123456789") != std::string::npos)
    return false;
  out->bits = std::stoi(len);
  if (inet_pton(AF_INET, ip.c_str(), out->addr) == 1) {
    out->family = AF_INET;
    return out->bits <= 32;
  }
  if (inet_pton(AF_INET6, ip.c_str(), out->addr) == 1) {
    out->family = AF_INET6;
    return out->bits <= 128;
  }
  return false;
}

// Whether `inner` lies within `outer` and is smaller.
bool StrictSubset(const Cidr& inner, const Cidr& outer) {
  if (inner.family != outer.family || inner.bits <= outer.bits) return false;
  for (int bit = 0; bit < outer.bits; ++bit) {
    int byte = bit / 8, mask = 0x80 >> (bit % 8);
    if ((inner.addr[byte] & mask) != (outer.addr[byte] & mask)) return false;
  }
  return true;
}

// Why an endpoint may not have this address (unspecified, loopback, link-local), or null.
const char* SpecialIp(int family, const unsigned char* a) {
  if (family == AF_INET) {
    if (a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == 0) return "may not be unspecified (0.0.0.0)";
    if (a[0] == 127) return "may not be in the loopback range (127.0.0.0/8, ::1/128)";
    if (a[0] == 169 && a[1] == 254)
      return "may not be in the link-local range (169.254.0.0/16, fe80::/10)";
    if (a[0] == 224 && a[1] == 0 && a[2] == 0) {
      return "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)";
    }
    return nullptr;
  }
  static const unsigned char zero[16] = {};
  if (std::memcmp(a, zero, 16) == 0) return "may not be unspecified (::)";
  if (std::memcmp(a, zero, 15) == 0 && a[15] == 1) {
    return "may not be in the loopback range (127.0.0.0/8, ::1/128)";
  }
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) {
    return "may not be in the link-local range (169.254.0.0/16, fe80::/10)";
  }
  if (a[0] == 0xff && (a[1] & 0x0f) == 0x02) {
    return "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)";
  }
  return nullptr;
}

bool IsIpAddress(std::string_view s) {
  unsigned char buf[16];
  std::string t(s);
  return inet_pton(AF_INET, t.c_str(), buf) == 1 || inet_pton(AF_INET6, t.c_str(), buf) == 1;
}

// A host of a rule or a TLS entry: a DNS subdomain, optionally "*." and one. A rule's host may
// not be an IP address (a TLS host is only checked as a name, as Kubernetes does).
void ValidateHost(std::string_view host, const std::string& path, bool rule, Errors& errors) {
  if (rule && IsIpAddress(host)) {
    errors.InvalidString(path, host, "must be a DNS name, not an IP address");
    return;
  }
  std::string_view name = host.starts_with("*.") ? host.substr(2) : host;
  std::vector<std::string> problems = IsDns1123Subdomain(name);
  if (host.starts_with("*.") && !problems.empty()) {
    problems = {
        "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS "
        "subdomain, which must consist of lower case alphanumeric characters, '-' or "
        "'.' and end with an alphanumeric character"};
  }
  errors.NameProblems(path, host, problems);
}

void ValidateBackend(const json::object& backend, const std::string& path, Errors& errors) {
  const json::object* svc = Obj(backend, "service");
  const bool resource = Has(backend, "resource");
  if (svc && resource) {
    errors.Invalid(path, json::value(backend), "cannot set both resource and service backends");
    return;
  }
  if (resource) {
    const json::object& r = *Obj(backend, "resource");
    if (Str(r, "kind").value_or("").empty()) errors.Required(Child(path, "resource.kind"));
    if (Str(r, "name").value_or("").empty()) errors.Required(Child(path, "resource.name"));
    return;
  }
  if (!svc) {
    errors.Invalid(path, json::value(backend), "resource or service backend is required");
    return;
  }
  const std::string sp = Child(path, "service");
  std::string_view name = Str(*svc, "name").value_or("");
  if (name.empty()) {
    errors.Required(Child(sp, "name"));
  } else {
    errors.NameProblems(Child(sp, "name"), name, IsDns1035Label(name));
  }
  const json::object* port = Obj(*svc, "port");
  std::string_view port_name = port ? Str(*port, "name").value_or("") : "";
  std::optional<int64_t> number = port ? Int(*port, "number") : std::nullopt;
  if (number && *number == 0) number.reset();  // Go's zero value: not set
  if (!port_name.empty() && number) {
    errors.Invalid(path, json::value(backend), "cannot set both port name & port number");
  } else if (!port_name.empty()) {
    errors.NameProblems(Child(sp, "port.name"), port_name, IanaServiceNameProblems(port_name));
  } else if (number) {
    if (!ValidPort(*number)) {
      errors.Invalid(Child(sp, "port.number"), json::value(*number),
                     "must be between 1 and 65535, inclusive");
    }
  } else {
    errors.Invalid(path, json::value(backend), "port name or number is required");
  }
}

void ValidatePath(const json::object& p, const std::string& path, Errors& errors) {
  std::string_view type = Str(p, "pathType").value_or("");
  std::string_view value = Str(p, "path").value_or("");
  if (type.empty()) {
    errors.Required(Child(path, "pathType"), "pathType must be specified");
  } else if (type == "Exact" || type == "Prefix") {
    if (!value.starts_with("/")) {
      errors.InvalidString(Child(path, "path"), value, "must be an absolute path");
    }
    for (std::string_view bad : {"//", "/./", "/../", "%2f", "%2F"}) {
      if (value.find(bad) != std::string_view::npos) {
        errors.InvalidString(Child(path, "path"), value,
                             "must not contain '" + std::string(bad) + "'");
      }
    }
    for (std::string_view bad : {"/..", "/."}) {
      if (value.ends_with(bad)) {
        errors.InvalidString(Child(path, "path"), value,
                             "cannot end with '" + std::string(bad) + "'");
      }
    }
  } else if (type == "ImplementationSpecific") {
    if (!value.empty() && !value.starts_with("/")) {
      errors.InvalidString(Child(path, "path"), value, "must be an absolute path");
    }
  } else {
    errors.Unsupported(Child(path, "pathType"), type,
                       {"Exact", "ImplementationSpecific", "Prefix"});
  }
  if (const json::object* b = Obj(p, "backend")) {
    ValidateBackend(*b, Child(path, "backend"), errors);
  } else {
    errors.Required(Child(path, "backend"));
  }
}

void ValidateIngress(const json::object& obj, Errors& errors) {
  const json::object& spec = SpecOf(obj);
  const json::array* rules = Arr(spec, "rules");
  const json::object* def = Obj(spec, "defaultBackend");
  if (!def && (!rules || rules->empty())) {
    errors.Invalid("spec", json::value(spec),
                   "either `defaultBackend` or `rules` must be specified");
  }
  if (def) ValidateBackend(*def, "spec.defaultBackend", errors);
  if (std::string_view cls = Str(spec, "ingressClassName").value_or(""); !cls.empty()) {
    errors.NameProblems("spec.ingressClassName", cls, IsDns1123Subdomain(cls));
  }
  if (rules) {
    for (size_t i = 0; i < rules->size(); ++i) {
      if (!(*rules)[i].is_object()) continue;
      const json::object& rule = (*rules)[i].as_object();
      const std::string rp = Index("spec.rules", i);
      if (std::string_view host = Str(rule, "host").value_or(""); !host.empty()) {
        ValidateHost(host, Child(rp, "host"), true, errors);
      }
      const json::object* http = Obj(rule, "http");
      if (!http) continue;
      const json::array* paths = Arr(*http, "paths");
      if (!paths || paths->empty()) {
        errors.Required(Child(rp, "http.paths"));
        continue;
      }
      for (size_t j = 0; j < paths->size(); ++j) {
        if ((*paths)[j].is_object()) {
          ValidatePath((*paths)[j].as_object(), Index(Child(rp, "http.paths"), j), errors);
        }
      }
    }
  }
  if (const json::array* tls = Arr(spec, "tls")) {
    for (size_t i = 0; i < tls->size(); ++i) {
      if (!(*tls)[i].is_object()) continue;
      const json::array* hosts = Arr((*tls)[i].as_object(), "hosts");
      if (!hosts) continue;
      for (size_t j = 0; j < hosts->size(); ++j) {
        if ((*hosts)[j].is_string()) {
          ValidateHost((*hosts)[j].as_string(), Index(Child(Index("spec.tls", i), "hosts"), j),
                       false, errors);
        }
      }
    }
  }
}

void ValidateIngressClass(const json::object& obj, Errors& errors) {
  const json::object& spec = SpecOf(obj);
  std::string_view controller = Str(spec, "controller").value_or("");
  if (controller.empty()) {
    errors.Required("spec.controller");
  } else if (controller.size() > 250) {
    errors.TooLong("spec.controller", 250);
  } else if (size_t slash = controller.find('/');
             slash == std::string_view::npos || slash == 0 || slash + 1 == controller.size() ||
             !IsDns1123Subdomain(controller.substr(0, slash)).empty()) {
    errors.InvalidString("spec.controller", controller,
                         "must be a domain-prefixed path (such as \"acme.io/foo\")");
  }
  const json::object* params = Obj(spec, "parameters");
  if (!params) return;
  if (Str(*params, "kind").value_or("").empty()) errors.Required("spec.parameters.kind");
  if (Str(*params, "name").value_or("").empty()) errors.Required("spec.parameters.name");
  std::string_view scope = Str(*params, "scope").value_or("Cluster");
  std::string_view ns = Str(*params, "namespace").value_or("");
  if (scope == "Namespace") {
    if (ns.empty()) {
      errors.Required("spec.parameters.namespace", "`parameters.scope` is set to 'Namespace'");
    }
  } else if (scope == "Cluster") {
    if (!ns.empty()) {
      errors.Forbidden("spec.parameters.namespace", "`parameters.scope` is set to 'Cluster'");
    }
  } else {
    errors.Unsupported("spec.parameters.scope", scope, {"Cluster", "Namespace"});
  }
}

void ValidatePeers(const json::array& peers, const std::string& path, Errors& errors) {
  for (size_t i = 0; i < peers.size(); ++i) {
    if (!peers[i].is_object()) continue;
    const json::object& peer = peers[i].as_object();
    const std::string pp = Index(path, i);
    const bool pods = Has(peer, "podSelector"), nss = Has(peer, "namespaceSelector");
    const json::object* block = Obj(peer, "ipBlock");
    if (!pods && !nss && !block) {
      errors.Required(pp, "must specify a peer");
      continue;
    }
    if (block && (pods || nss)) {
      errors.Forbidden(pp, "may not specify both podSelector/namespaceSelector and ipBlock");
    }
    if (pods)
      ValidateLabelSelector(peer.if_contains("podSelector"), Child(pp, "podSelector"), errors);
    if (nss) {
      ValidateLabelSelector(peer.if_contains("namespaceSelector"), Child(pp, "namespaceSelector"),
                            errors);
    }
    if (!block) continue;
    std::string_view cidr = Str(*block, "cidr").value_or("");
    Cidr outer;
    if (cidr.empty()) {
      errors.Required(Child(pp, "ipBlock.cidr"));
      continue;
    }
    if (!ParseCidr(cidr, &outer)) {
      errors.InvalidString(Child(pp, "ipBlock.cidr"), cidr,
                           "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)");
      continue;
    }
    if (const json::array* except = Arr(*block, "except")) {
      for (size_t j = 0; j < except->size(); ++j) {
        std::string_view e = (*except)[j].is_string() ? std::string_view((*except)[j].as_string())
                                                      : std::string_view();
        const std::string ep = Index(Child(pp, "ipBlock.except"), j);
        Cidr inner;
        if (!ParseCidr(e, &inner)) {
          errors.InvalidString(ep, e,
                               "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)");
        } else if (!StrictSubset(inner, outer)) {
          errors.InvalidString(ep, e, "must be a strict subset of `cidr`");
        }
      }
    }
  }
}

void ValidateNetworkPolicyPorts(const json::array& ports, const std::string& path, Errors& errors) {
  for (size_t i = 0; i < ports.size(); ++i) {
    if (!ports[i].is_object()) continue;
    const json::object& p = ports[i].as_object();
    const std::string pp = Index(path, i);
    std::string_view proto = Str(p, "protocol").value_or("TCP");
    if (proto != "TCP" && proto != "UDP" && proto != "SCTP") {
      errors.Unsupported(Child(pp, "protocol"), proto, {"SCTP", "TCP", "UDP"});
    }
    const json::value* port = p.if_contains("port");
    std::optional<int64_t> end = Int(p, "endPort");
    if (port && port->is_string()) {
      std::string_view name = port->as_string();
      errors.NameProblems(Child(pp, "port"), name, IanaServiceNameProblems(name));
      if (end)
        errors.Invalid(Child(pp, "endPort"), json::value(*end),
                       "may not be specified when `port` is non-numeric");
    } else if (port && port->is_number()) {
      int64_t n = port->to_number<int64_t>();
      if (!ValidPort(n)) {
        errors.Invalid(Child(pp, "port"), *port, "must be between 1 and 65535, inclusive");
      }
      if (end && *end < n) {
        errors.Invalid(Child(pp, "endPort"), json::value(*end),
                       "must be greater than or equal to `port`");
      } else if (end && !ValidPort(*end)) {
        errors.Invalid(Child(pp, "endPort"), json::value(*end),
                       "must be between 1 and 65535, inclusive");
      }
    } else if (end) {
      errors.Invalid(Child(pp, "endPort"), json::value(*end),
                     "may not be specified when `port` is not specified");
    }
  }
}

void ValidateNetworkPolicy(const json::object& obj, Errors& errors) {
  const json::object& spec = SpecOf(obj);
  ValidateLabelSelector(spec.if_contains("podSelector"), "spec.podSelector", errors);
  for (std::string_view dir : {"ingress", "egress"}) {
    const json::array* rules = Arr(spec, dir);
    if (!rules) continue;
    for (size_t i = 0; i < rules->size(); ++i) {
      if (!(*rules)[i].is_object()) continue;
      const json::object& rule = (*rules)[i].as_object();
      const std::string rp = Index(Child("spec", dir), i);
      if (const json::array* ports = Arr(rule, "ports")) {
        ValidateNetworkPolicyPorts(*ports, Child(rp, "ports"), errors);
      }
      std::string_view peers_key = dir == "ingress" ? "from" : "to";
      if (const json::array* peers = Arr(rule, peers_key)) {
        ValidatePeers(*peers, Child(rp, peers_key), errors);
      }
    }
  }
  if (const json::array* types = Arr(spec, "policyTypes")) {
    if (types->size() > 2) {
      errors.Invalid("spec.policyTypes", json::value(*types),
                     "may not specify more than two policyTypes");
    }
    for (size_t i = 0; i < types->size(); ++i) {
      std::string_view t = (*types)[i].is_string() ? std::string_view((*types)[i].as_string()) : "";
      if (t != "Ingress" && t != "Egress") {
        errors.Unsupported(Index("spec.policyTypes", i), t, {"Egress", "Ingress"});
      }
    }
  }
}

void ValidateEndpointSlice(const json::object& obj, const json::object* old, Errors& errors) {
  std::string_view type = Str(obj, "addressType").value_or("");
  if (type.empty()) {
    errors.Required("addressType");
  } else if (type != "IPv4" && type != "IPv6" && type != "FQDN") {
    errors.Unsupported("addressType", type, {"FQDN", "IPv4", "IPv6"});
  }
  if (old) Immutable(obj, *old, "addressType", "addressType", errors);
  if (const json::array* endpoints = Arr(obj, "endpoints")) {
    if (endpoints->size() > 1000) errors.TooLong("endpoints", 1000);
    for (size_t i = 0; i < endpoints->size(); ++i) {
      if (!(*endpoints)[i].is_object()) continue;
      const json::object& ep = (*endpoints)[i].as_object();
      const std::string path = Index("endpoints", i);
      const json::array* addrs = Arr(ep, "addresses");
      if (!addrs || addrs->empty()) {
        errors.Required(Child(path, "addresses"), "must contain at least 1 address");
      } else if (addrs->size() > 100) {
        errors.TooLong(Child(path, "addresses"), 100);
      } else {
        for (size_t j = 0; j < addrs->size(); ++j) {
          std::string a = (*addrs)[j].is_string() ? std::string((*addrs)[j].as_string()) : "";
          const std::string ap = Index(Child(path, "addresses"), j);
          unsigned char buf[16];
          if (type == "IPv4" && inet_pton(AF_INET, a.c_str(), buf) != 1) {
            errors.InvalidString(ap, a, "must be a valid IPv4 address");
          } else if (type == "IPv6" && inet_pton(AF_INET6, a.c_str(), buf) != 1) {
            errors.InvalidString(ap, a, "must be a valid IPv6 address");
          } else if (type != "FQDN" && SpecialIp(type == "IPv4" ? AF_INET : AF_INET6, buf)) {
            errors.InvalidString(ap, a, SpecialIp(type == "IPv4" ? AF_INET : AF_INET6, buf));
          } else if (type == "FQDN") {
            errors.NameProblems(ap, a, IsDns1123Subdomain(a));
          }
        }
      }
      if (std::string_view h = Str(ep, "hostname").value_or(""); !h.empty()) {
        errors.NameProblems(Child(path, "hostname"), h, IsDns1123Label(h));
      }
      if (std::string_view n = Str(ep, "nodeName").value_or(""); !n.empty()) {
        errors.NameProblems(Child(path, "nodeName"), n, IsDns1123Subdomain(n));
      }
    }
  }
  if (const json::array* ports = Arr(obj, "ports")) {
    if (ports->size() > 100) errors.TooLong("ports", 100);
    std::vector<std::string_view> names;
    for (size_t i = 0; i < ports->size(); ++i) {
      if (!(*ports)[i].is_object()) continue;
      const json::object& p = (*ports)[i].as_object();
      const std::string path = Index("ports", i);
      std::string_view name = Str(p, "name").value_or("");
      if (!name.empty()) errors.NameProblems(Child(path, "name"), name, IsDns1123Label(name));
      if (std::find(names.begin(), names.end(), name) != names.end()) {
        errors.Duplicate(Child(path, "name"), json::value(name));
      }
      names.push_back(name);
      std::string_view proto = Str(p, "protocol").value_or("TCP");
      if (proto != "TCP" && proto != "UDP" && proto != "SCTP") {
        errors.Unsupported(Child(path, "protocol"), proto, {"SCTP", "TCP", "UDP"});
      }
    }
  }
}

}  // namespace

void DefaultNetworkingKind(const KindInfo& kind, json::object& obj) {
  if (kind.group == kGroup && kind.kind == "IngressClass") {
    if (json::object* spec = MutObj(obj, "spec")) {
      if (json::object* params = MutObj(*spec, "parameters"))
        SetDefault(*params, "scope", "Cluster");
    }
    return;
  }
  if (kind.group == "discovery.k8s.io" && kind.kind == "EndpointSlice") {
    if (json::array* ports = MutArr(obj, "ports")) {
      for (json::value& p : *ports) {
        if (!p.is_object()) continue;
        SetDefault(p.as_object(), "protocol", "TCP");
      }
    }
    return;
  }
  if (kind.group != kGroup || kind.kind != "NetworkPolicy") return;
  json::object& spec = EnsureObj(obj, "spec");
  for (std::string_view dir : {"ingress", "egress"}) {
    json::array* rules = MutArr(spec, dir);
    if (!rules) continue;
    for (json::value& r : *rules) {
      if (!r.is_object()) continue;
      json::array* ports = MutArr(r.as_object(), "ports");
      if (!ports) continue;
      for (json::value& p : *ports) {
        if (p.is_object()) SetDefault(p.as_object(), "protocol", "TCP");
      }
    }
  }
  // Without policyTypes a policy restricts ingress, and egress too when it has egress rules.
  if (const json::array* given = Arr(spec, "policyTypes"); !given || given->empty()) {
    json::array types{"Ingress"};
    if (const json::array* egress = Arr(spec, "egress"); egress && !egress->empty()) {
      types.emplace_back("Egress");
    }
    spec["policyTypes"] = std::move(types);
  }
}

void ValidateNetworkingKind(const KindInfo& kind, const json::object& obj, const json::object* old,
                            Errors& errors) {
  if (kind.group == "discovery.k8s.io" && kind.kind == "EndpointSlice") {
    ValidateEndpointSlice(obj, old, errors);
    return;
  }
  if (kind.group != kGroup) return;
  if (kind.kind == "Ingress") {
    ValidateIngress(obj, errors);
  } else if (kind.kind == "IngressClass") {
    ValidateIngressClass(obj, errors);
    if (old) Immutable(SpecOf(obj), SpecOf(*old), "controller", "spec.controller", errors);
  } else if (kind.kind == "NetworkPolicy") {
    ValidateNetworkPolicy(obj, errors);
  }
}

}  // namespace sampan::api::strategy
