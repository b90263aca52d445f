// The node's ingress controller (in the agent, as the service proxy): Ingresses of sampan's
// IngressClass (ingress/routes.h), with the Services, IngressClasses and TLS Secrets they use,
// become the routing table of an HTTP/HTTPS reverse proxy (ingress/proxy.h) on this node's
// ports 80 and 443, which sends each request to the backend Service's clusterIP (the service
// proxy then picks an endpoint). The table is rebuilt when any of those objects changes (bursts
// are folded into one rebuild). k3s runs Traefik behind ServiceLB for the same job; here every
// node answers directly. HTTPS without a matching Ingress certificate gets a self-signed one
// kept in DATA_DIR/agent/tls/ingress-default.{crt,key}.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "client/informer.h"
#include "ingress/proxy.h"
#include "ingress/routes.h"

namespace sampan::agent {

struct NodeContext;

struct IngressOptions {
  std::string bind_address = "0.0.0.0";
  int http_port = 80;    // -1: off
  int https_port = 443;  // -1: off
  std::string cert_dir;  // where the default certificate is kept
};

class IngressController {
 public:
  IngressController(NodeContext* ctx, IngressOptions options);
  ~IngressController();
  void Start();
  void Stop();
  // The ports the proxy listens on once started (-1 until then, or when off).
  int http_port() const;
  int https_port() const;

 private:
  void Loop();
  void Wake();

  NodeContext* ctx_;
  const IngressOptions opts_;
  std::unique_ptr<client::Informer> ingresses_, classes_, services_, secrets_;
  std::mutex table_mu_;
  std::shared_ptr<const ingress::RouteTable> table_;  // guarded by table_mu_
  std::unique_ptr<ingress::Proxy> proxy_;             // loop thread only (set once)
  std::atomic<int> http_port_{-1}, https_port_{-1};
  std::mutex mu_;
  std::condition_variable cv_;
  bool dirty_ = true, stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace sampan::agent
