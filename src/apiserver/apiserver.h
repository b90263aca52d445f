// The control plane in one object: store, watch cache, REST storage, the HTTPS
// API, and the in-process controllers that belong to the API server itself
// (namespace lifecycle, store compaction).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "apiserver/service_alloc.h"

#include "util/status.h"

namespace sampan::client {
class LoopbackServer;  // client/loopback.h
}

namespace sampan::apiserver {

struct Options {
  std::string data_dir = "/var/lib/sampan";
  std::string datastore_endpoint;  // "" = sqlite under data_dir; "memory://" for tests
  std::string bind_address = "0.0.0.0";
  int https_port = 6443;
  int http_port = -1;  // plain HTTP on 127.0.0.1 (off unless asked)
  std::vector<std::string> tls_sans;
  std::string write_kubeconfig;  // "" = DATA_DIR/kubeconfig.yaml
  int threads = 2;
  // Services' clusterIPs and node ports (Kubernetes' --service-cluster-ip-range and
  // --service-node-port-range).
  ServiceNetwork service_network;
  // The address the `kubernetes` Service's endpoints name ("" = the bind address when it is
  // a specific one, else the machine's first non-loopback IPv4 address).
  std::string advertise_address;
  // "RBAC" (system:masters may do all; everyone else what Roles and bindings grant) or
  // "AlwaysAllow" (every authenticated user may do all).
  std::string authorization_mode = "RBAC";
  // Create the default StorageClass `local-path` at start (class_admission.h).
  bool local_storage_class = true;
  // Create the IngressClass `sampan` of the agents' ingress proxy at start (class_admission.h).
  bool ingress_class = true;
  // The secret part of the node token (node_join.h); "" = keep the one in DATA_DIR/server/
  // node-token, or make a random one.
  std::string node_token;
};

class ApiServer {
 public:
  virtual ~ApiServer() = default;
  // Opens the store, loads the cache, writes certificates and kubeconfig, binds.
  virtual Status Start() = 0;
  // Serves until Stop() (from a signal handler thread or another thread).
  virtual void Run() = 0;
  virtual void Stop() = 0;
  virtual int https_port() const = 0;
  // For components in this process: set as client::ClientConfig::loopback, their requests
  // reach this server's request handler directly (no TLS, sockets or HTTP text), as `user`
  // in `groups` (plus system:authenticated). Call after Start(); the server must outlive
  // the clients' use of it (requests made after it is destroyed fail as Unavailable).
  virtual std::shared_ptr<client::LoopbackServer> Loopback(
      std::string user, std::vector<std::string> groups) = 0;
};

std::unique_ptr<ApiServer> NewApiServer(Options options);

}  // namespace sampan::apiserver
