#include "ingress/routes.h"

#include <algorithm>
#include <tuple>

#include "api/json_util.h"
#include "util/base64.h"

namespace sampan::ingress {
namespace json = boost::json;
using api::Arr;
using api::Int;
using api::Obj;
using api::Str;
using client::MetaString;
using client::ObjectPtr;

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Annotation(const json::object& o, std::string_view key) {
  return Str(Obj(Obj(&o, "metadata"), "annotations"), key);
}

// "/foo/" → "/foo"; "/" stays.
std::string TrimSlash(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// Older first; then by namespace/name, so the order never depends on the informer's.
bool Older(const json::object* a, const json::object* b) {
  return std::make_tuple(Str(Obj(a, "metadata"), "creationTimestamp"), client::KeyOf(*a)) <
         std::make_tuple(Str(Obj(b, "metadata"), "creationTimestamp"), client::KeyOf(*b));
}

using ByKey = std::map<std::string, const json::object*, std::less<>>;

ByKey Index(const std::vector<ObjectPtr>& objects) {
  ByKey out;
  for (const ObjectPtr& o : objects) out[client::KeyOf(*o)] = o.get();
  return out;
}

Decision Unavailable503(std::string why) {
  Decision d;
  d.status = 503;
  d.body = "503 Service Unavailable: " + why + "\n";
  return d;
}

// Where a backend's requests go: its Service's clusterIP and the port it names.
Decision BackendDecision(const json::object* backend, const std::string& ns,
                         const ByKey& services) {
  const json::object* service = Obj(backend, "service");
  if (!service) return Unavailable503("only Service backends are supported");
  const std::string name = Str(service, "name");
  auto it = services.find(ns + "/" + name);
  if (it == services.end()) return Unavailable503("service " + ns + "/" + name + " not found");
  const json::object* spec = Obj(it->second, "spec");
  const std::string ip = Str(spec, "clusterIP");
  if (ip.empty() || ip == "None") {
    return Unavailable503("service " + ns + "/" + name + " has no cluster IP");
  }
  const json::object* want = Obj(service, "port");
  const int64_t number = Int(want, "number");
  const std::string port_name = Str(want, "name");
  const json::array* ports = Arr(spec, "ports");
  for (const json::value& p : ports ? *ports : json::array{}) {
    if (!p.is_object()) continue;
    const json::object& port = p.as_object();
    std::string protocol = Str(&port, "protocol");
    if (!protocol.empty() && protocol != "TCP") continue;
    if ((number != 0 && Int(&port, "port") == number) ||
        (number == 0 && !port_name.empty() && Str(&port, "name") == port_name)) {
      Decision d;
      d.upstream = Upstream{ip, static_cast<int>(Int(&port, "port"))};
      return d;
    }
  }
  const std::string which = number != 0 ? std::to_string(number) : "\"" + port_name + "\"";
  return Unavailable503("service " + ns + "/" + name + " has no TCP port " + which);
}

// 0: exact host; 1: wildcard; 2: any host.
int HostClass(std::string_view rule_host) {
  if (rule_host.empty()) return 2;
  return rule_host.substr(0, 2) == "*." ? 1 : 0;
}

}  // namespace

bool HostMatches(std::string_view rule_host, std::string_view host) {
  if (rule_host.empty()) return true;
  if (rule_host.substr(0, 2) != "*.") return rule_host == host;
  std::string_view suffix = rule_host.substr(1);  // ".example.com"
  if (host.size() <= suffix.size() || host.substr(host.size() - suffix.size()) != suffix) {
    return false;
  }
  std::string_view label = host.substr(0, host.size() - suffix.size());
  return label.find('.') == std::string_view::npos;
}

bool PrefixMatches(std::string_view rule_path, std::string_view path) {
  while (rule_path.size() > 1 && rule_path.back() == '/') rule_path.remove_suffix(1);
  if (rule_path == "/" || rule_path.empty()) return true;
  if (path.substr(0, rule_path.size()) != rule_path) return false;
  return path.size() == rule_path.size() || path[rule_path.size()] == '/';
}

bool IsOurs(const json::object& ingress, const std::vector<ObjectPtr>& classes,
            std::string_view controller) {
  std::string cls = Str(Obj(&ingress, "spec"), "ingressClassName");
  if (cls.empty()) cls = Annotation(ingress, "kubernetes.io/ingress.class");
  for (const ObjectPtr& c : classes) {
    if (Str(Obj(c.get(), "spec"), "controller") != controller) continue;
    if (cls.empty() ? Annotation(*c, kDefaultClassAnnotation) == "true"
                    : MetaString(*c, "name") == cls) {
      return true;
    }
  }
  return false;
}

std::shared_ptr<const RouteTable> RouteTable::Build(const std::vector<ObjectPtr>& ingresses,
                                                    const std::vector<ObjectPtr>& classes,
                                                    const std::vector<ObjectPtr>& services,
                                                    const std::vector<ObjectPtr>& secrets,
                                                    std::string_view controller) {
  auto table = std::make_shared<RouteTable>();
  table->default_.status = 404;
  table->default_.body = "404 page not found\n";
  std::vector<const json::object*> ours;
  for (const ObjectPtr& i : ingresses) {
    if (IsOurs(*i, classes, controller)) {
      ours.push_back(i.get());
    }
  }
  std::sort(ours.begin(), ours.end(), Older);
  const ByKey by_service = Index(services), by_secret = Index(secrets);
  bool have_default = false;
  for (const json::object* ing : ours) {
    const std::string ns = MetaString(*ing, "namespace");
    const json::object* spec = Obj(ing, "spec");
    if (const json::object* def = Obj(spec, "defaultBackend"); def && !have_default) {
      table->default_ = BackendDecision(def, ns, by_service);
      have_default = true;
    }
    std::vector<std::string> rule_hosts;
    const json::array* rules = Arr(spec, "rules");
    for (const json::value& rv : rules ? *rules : json::array{}) {
      if (!rv.is_object()) continue;
      const json::object& rule = rv.as_object();
      const std::string host = Lower(Str(&rule, "host"));
      rule_hosts.push_back(host);
      const json::array* paths = Arr(Obj(&rule, "http"), "paths");
      for (const json::value& pv : paths ? *paths : json::array{}) {
        if (!pv.is_object()) continue;
        const json::object& p = pv.as_object();
        Path entry;
        entry.host = host;
        entry.exact = Str(&p, "pathType") == "Exact";
        std::string path = Str(&p, "path");
        if (path.empty()) path = "/";
        entry.path = entry.exact ? path : TrimSlash(path);
        entry.decision = BackendDecision(Obj(&p, "backend"), ns, by_service);
        // The same host, path and type from an older Ingress stays.
        bool taken = std::any_of(table->paths_.begin(), table->paths_.end(), [&](const Path& o) {
          return o.host == entry.host && o.path == entry.path && o.exact == entry.exact;
        });
        if (!taken) table->paths_.push_back(std::move(entry));
      }
    }
    const json::array* tls = Arr(spec, "tls");
    for (const json::value& tv : tls ? *tls : json::array{}) {
      if (!tv.is_object()) continue;
      const std::string secret_name = Str(&tv.as_object(), "secretName");
      if (secret_name.empty()) continue;
      const std::string key = ns + "/" + secret_name;
      auto it = by_secret.find(key);
      if (it == by_secret.end()) {
        table->warnings_.push_back("ingress " + client::KeyOf(*ing) + ": TLS secret " + key +
                                   " not found");
        continue;
      }
      const json::object* data = Obj(it->second, "data");
      auto crt = Base64Decode(Str(data, "tls.crt"));
      auto pem_key = Base64Decode(Str(data, "tls.key"));
      if (!crt || !pem_key || crt->empty() || pem_key->empty()) {
        table->warnings_.push_back("ingress " + client::KeyOf(*ing) + ": TLS secret " + key +
                                   " has no tls.crt and tls.key");
        continue;
      }
      auto cert = std::make_shared<const Certificate>(Certificate{*crt, *pem_key});
      std::vector<std::string> hosts;
      const json::array* listed = Arr(&tv.as_object(), "hosts");
      for (const json::value& h : listed ? *listed : json::array{}) {
        if (h.is_string()) hosts.push_back(Lower(h.as_string()));
      }
      if (hosts.empty()) hosts = rule_hosts;
      for (const std::string& h : hosts) {
        if (!h.empty()) table->certs_.emplace(h, cert);  // an older Ingress's stays
      }
    }
  }
  return table;
}

Decision RouteTable::Route(std::string_view host, std::string_view path) const {
  if (path.empty()) path = "/";
  // Exact hosts first, then a wildcard, then the rules for any host: the first class with a
  // matching path decides.
  for (int cls = 0; cls < 3; ++cls) {
    const Path* best = nullptr;
    for (const Path& p : paths_) {
      if (HostClass(p.host) != cls || !HostMatches(p.host, host)) continue;
      if (p.exact ? p.path != path : !PrefixMatches(p.path, path)) continue;
      if (!best || p.path.size() > best->path.size() ||
          (p.path.size() == best->path.size() && p.exact && !best->exact)) {
        best = &p;
      }
    }
    if (best) return best->decision;
  }
  return default_;
}

std::shared_ptr<const Certificate> RouteTable::CertificateFor(std::string_view name) const {
  if (auto it = certs_.find(name); it != certs_.end()) return it->second;
  // "*.example.com" covers one more label.
  if (auto dot = name.find('.'); dot != std::string_view::npos) {
    std::string wildcard = "*" + std::string(name.substr(dot));
    if (auto it = certs_.find(wildcard); it != certs_.end()) return it->second;
  }
  return nullptr;
}

}  // namespace sampan::ingress
