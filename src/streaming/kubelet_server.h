// The node agent's HTTPS API (the kubelet's port 10250): the endpoints the API server
// proxies pod subresources to.
//   GET  /healthz
//   GET  /containerLogs/{ns}/{pod}/{container}?follow&previous&timestamps&tailLines&limitBytes
//        &sinceSeconds&sinceTime
//   GET|POST /exec/{ns}/{pod}/{container}?command=..&command=..&stdin&stdout&stderr&tty
//   GET|POST /attach/{ns}/{pod}/{container}?stdin&stdout&stderr&tty
//   GET|POST /portForward/{ns}/{pod}[?port=N]
// exec/attach/portForward upgrade to WebSocket (channel.k8s.io, base64.channel.k8s.io,
// v4/v5.channel.k8s.io; portforward.k8s.io / SPDY/3.1 tunnelled in WebSocket) or to
// SPDY/3.1 (v4.channel.k8s.io, portforward.k8s.io), whichever the client asks for.
// Clients must present a certificate signed by `client_ca_file`.
#pragma once

#include <memory>
#include <string>

#include "streaming/backend.h"
#include "util/status.h"

namespace sampan::streaming {

struct ServerOptions {
  std::string bind_address = "0.0.0.0";
  int port = 10250;  // 0: any free port (see KubeletServer::port())
  std::string cert_file, key_file;  // serving certificate
  std::string client_ca_file;       // verifies clients (the API server's kubelet-client cert)
  int threads = 2;
};

class KubeletServer {
 public:
  // Binds and starts serving on its own threads. `backend` must outlive the server.
  static Result<std::unique_ptr<KubeletServer>> Start(const ServerOptions& opts, Backend* backend);
  virtual ~KubeletServer() = default;  // stops
  virtual int port() const = 0;
  virtual void Stop() = 0;
};

}  // namespace sampan::streaming
