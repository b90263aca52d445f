// The addresses of the Ingresses that sampan's built-in ingress controller serves (those of its
// IngressClass, ingress/routes.h): every node's agent runs the proxy on ports 80 and 443, so an
// Ingress is reachable at the addresses of the nodes a load balancer may use (ServiceLB's
// choice, service_lb.h: Ready, not excluded, opted in when any node is), which go to
// status.loadBalancer.ingress[].ip, sorted (kubectl shows them as ADDRESS). k3s' Traefik
// publishes its LoadBalancer Service's addresses in the same place. Ingresses of other classes
// are left alone.
#pragma once

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "client/shared_informers.h"
#include "client/workqueue.h"

namespace sampan::controllers {

class IngressStatusController {
 public:
  explicit IngressStatusController(client::SharedInformers* informers);
  ~IngressStatusController();
  void Run(int workers);
  void Stop();
  Status Sync(const std::string& key);  // "ns/name" of an Ingress; public for tests

 private:
  void EnqueueAll();

  client::RestClient* client_;
  client::Informer* ingresses_;
  client::Informer* classes_;
  client::Informer* nodes_;
  client::WorkQueue queue_;
  std::vector<std::thread> workers_;
  std::atomic<bool> running_{false};
};

}  // namespace sampan::controllers
