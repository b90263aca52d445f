// kube-proxy's service health checks: for a LoadBalancer Service with externalTrafficPolicy
// Local, the API server gives it a healthCheckNodePort, and every node answers HTTP on that port
// whether it has endpoints of the Service (200) or not (503), so that an external load balancer
// sends traffic only to nodes that will not drop it (service_rules.h: Local without a local
// endpoint drops). The answer, for any path:
//   {"service":{"namespace":"ns","name":"web"},"localEndpoints":2,"serviceProxyHealthy":true}
// with X-Content-Type-Options: nosniff and X-Load-Balancing-Endpoint-Weight: <localEndpoints>.
// One thread polls every listener; each request is read (1 s at most), answered and closed.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "util/status.h"

namespace sampan::agent {

struct ServiceHealth {
  std::string ns, name;
  int local_endpoints = 0;
  bool operator==(const ServiceHealth&) const = default;
};

class ServiceHealthServer {
 public:
  explicit ServiceHealthServer(std::string bind_address = "0.0.0.0");
  ~ServiceHealthServer();
  // From now on serves exactly `ports` (health check node port → Service): opens the new ones,
  // closes the others, updates the counts. A port that cannot be bound is named in the error
  // and tried again at the next call.
  Status Sync(const std::map<int, ServiceHealth>& ports);
  void Stop();

 private:
  struct Listener;
  void Loop();
  void Answer(int fd, int port);

  const std::string bind_address_;
  std::mutex mu_;
  std::map<int, std::unique_ptr<Listener>> listeners_;  // guarded by mu_
  int wake_fd_ = -1;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace sampan::agent
