// The ingress controller's data plane: an HTTP/1.1 reverse proxy on a node's ports 80 and 443.
// Each request is routed by a Router (routes.h builds one from the cluster's Ingresses) from
// its Host and path to an upstream (a Service's clusterIP and port: the node's service proxy
// then picks the endpoint), or answered directly (404 when no rule matches, 503 when the
// backend Service is missing). Bodies stream through in both directions (Content-Length,
// chunked, or close-delimited responses); connections to clients are kept alive; an upgrade
// (WebSocket) answered 101 by the upstream becomes a two-way byte splice. HTTPS picks its
// certificate by SNI (the Ingresses' tls sections), else a default one.
//
// The upstream gets the request as the client sent it, less the hop-by-hop headers
// (Connection and the headers it names, Keep-Alive, Proxy-Connection, TE, Trailer, and
// Upgrade unless upgrading), plus X-Forwarded-For (the client's address appended),
// X-Forwarded-Host, X-Forwarded-Port, X-Forwarded-Proto and X-Real-Ip.
// Errors the proxy answers itself: 400 (malformed request), 502 (upstream unreachable or its
// answer malformed), 504 (no answer head within the upstream timeout).
//
// Threading, as the kubelet server (streaming/kubelet_server.h): one acceptor thread per
// listener and one thread per client connection, at most `max_connections` at once (more are
// closed at accept).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "util/status.h"

namespace sampan::ingress {

struct Upstream {
  std::string ip;  // IPv4 address
  int port = 0;
};

// What the router decides for one request.
struct Decision {
  int status = 0;     // 0: forward to `upstream`; else answer with this status
  Upstream upstream;  // when status == 0
  std::string body;   // the answer's body (text/plain) when status != 0
};

// Decides a request from its host (the Host header, lower-case, without a port; "" when
// absent), its path (the target's path, without the query, not decoded) and whether it came
// over TLS. Called from connection threads: must be thread-safe.
using Router = std::function<Decision(std::string_view host, std::string_view path, bool tls)>;

// A PEM certificate chain and its private key.
struct Certificate {
  std::string cert_pem, key_pem;
};

// The certificate for an SNI server name (lower-case; "" when the client sent none); nullptr:
// the default certificate. Called from connection threads: must be thread-safe.
using CertificateSelector =
    std::function<std::shared_ptr<const Certificate>(std::string_view server_name)>;

struct ProxyOptions {
  std::string bind_address = "0.0.0.0";
  int http_port = 80;    // -1: no plain HTTP listener; 0: any free port (see Proxy::http_port())
  int https_port = 443;  // -1: no HTTPS listener; 0: any free port
  Router router;
  CertificateSelector certificates;  // may be empty: the default certificate only
  Certificate default_certificate;   // required when https_port != -1
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds upstream_timeout{60000};  // for the upstream's answer head
  std::chrono::milliseconds idle_timeout{60000};      // a kept-alive client connection
  size_t max_connections = 1024;
};

class Proxy {
 public:
  // Binds the listeners and starts serving on its own threads. Unavailable when a port is
  // taken (the message names it).
  static Result<std::unique_ptr<Proxy>> Start(ProxyOptions opts);
  virtual ~Proxy() = default;          // stops
  virtual int http_port() const = 0;   // -1 when none
  virtual int https_port() const = 0;  // -1 when none
  // Closes the listeners and every connection; joins the threads. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace sampan::ingress
