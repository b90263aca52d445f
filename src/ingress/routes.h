// The ingress controller's routing table: which Ingresses are ours (their IngressClass names
// our controller), and for a request's host and path, which backend Service port serves it,
// following the networking.k8s.io/v1 rules:
//  - a rule's host matches exactly (case-insensitive) or, as `*.example.com`, exactly one
//    further label on the left ("a.example.com", not "example.com" or "a.b.example.com");
//    a rule without host matches every host. Exact hosts win over wildcards, wildcards over
//    rules without host;
//  - among the matching paths of that host the longest wins, Exact before Prefix at equal
//    length; Prefix matches whole path elements ("/foo" matches "/foo", "/foo/" and "/foo/bar",
//    not "/foobar"; a trailing "/" in the rule is ignored); ImplementationSpecific is Prefix;
//  - when two Ingresses claim the same host, path and type, the older one (creationTimestamp,
//    then namespace/name) keeps it, as ingress-nginx does;
//  - no rule matches: the oldest Ingress's spec.defaultBackend, else 404.
// A backend names a Service of the Ingress's namespace and a port by number or name; the
// request goes to that Service's clusterIP and port (the node's service proxy picks the
// endpoint). A Service that is missing, headless, or lacks the port answers 503.
// TLS: each spec.tls entry's hosts (wildcards too) use the kubernetes.io/tls Secret it names in
// the Ingress's namespace; an entry without hosts covers the hosts of the Ingress's rules.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "client/informer.h"
#include "ingress/class.h"
#include "ingress/proxy.h"

namespace sampan::ingress {

// Whether `ingress` is handled by the controller `controller`: its spec.ingressClassName (or
// the older kubernetes.io/ingress.class annotation) names an IngressClass of that controller,
// or it names none and such a class is marked default.
bool IsOurs(const boost::json::object& ingress, const std::vector<client::ObjectPtr>& classes,
            std::string_view controller = kControllerName);

// One request's routing, from a snapshot of the cluster (immutable once built; shared by the
// proxy's threads).
class RouteTable {
 public:
  // `ingresses` are all the cluster's Ingresses (those of other classes are skipped);
  // `services` and `secrets` are looked up by namespace/name.
  static std::shared_ptr<const RouteTable> Build(const std::vector<client::ObjectPtr>& ingresses,
                                                 const std::vector<client::ObjectPtr>& classes,
                                                 const std::vector<client::ObjectPtr>& services,
                                                 const std::vector<client::ObjectPtr>& secrets,
                                                 std::string_view controller = kControllerName);

  // `host` lower-case without port ("" when the request had none); `path` without query.
  Decision Route(std::string_view host, std::string_view path) const;
  // The certificate for an SNI name; nullptr when no Ingress covers it.
  std::shared_ptr<const Certificate> CertificateFor(std::string_view server_name) const;
  size_t rule_count() const { return paths_.size(); }
  // Problems found while building (a missing or malformed TLS Secret), for the log.
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  struct Path {
    std::string host;  // lower-case; "" = any; "*.x.y" = wildcard
    std::string path;  // without trailing "/" for Prefix (except "/" itself)
    bool exact = false;
    Decision decision;
  };
  std::vector<Path> paths_;  // in the order of precedence among equals (older Ingress first)
  Decision default_;
  std::map<std::string, std::shared_ptr<const Certificate>, std::less<>> certs_;  // host → cert
  std::vector<std::string> warnings_;
};

// Whether `host` (lower-case) matches a rule host (exact or "*.suffix").
bool HostMatches(std::string_view rule_host, std::string_view host);
// Whether `path` matches a Prefix rule path (element-wise; trailing "/" ignored).
bool PrefixMatches(std::string_view rule_path, std::string_view path);

}  // namespace sampan::ingress
