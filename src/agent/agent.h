// The node agent (kubelet): registers this machine as a Node, keeps its Lease and status
// fresh, and runs the pods bound to it with the runtime library — sandbox (pause
// container), pod network, volumes, init and app containers, probes, restarts, graceful
// deletion — reporting their status back through the API. Serves the kubelet API
// (logs/exec/attach/port-forward) that the API server proxies to.
//
//   agent::AgentOptions o;
//   o.kubeconfig = "/var/lib/sampan/kubeconfig.yaml";
//   o.data_dir = "/var/lib/sampan";
//   ASSIGN_OR_RETURN(auto a, agent::Agent::Start(o));
//   ...
//   a->Stop();  // containers keep running; a new agent adopts them
//
// Threads: one for the node (registration, lease, status), the pod informer's, one worker
// per pod (all work on a pod is serialised in its worker), and the kubelet server's.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "agent/container_logs.h"
#include "agent/image_gc.h"
#include "client/config.h"
#include "util/status.h"

namespace sampan::agent {

struct AgentOptions {
  std::string kubeconfig;       // used when non-empty
  client::ClientConfig client;  // otherwise
  std::string data_dir =
      "/var/lib/sampan";     // images in DATA_DIR/images, the rest in DATA_DIR/agent
  std::string node_name;     // default: the host name, lower case
  std::string node_ip;       // default: the first non-loopback IPv4 address
  int kubelet_port = 10250;  // 0: any free port (published in the Node status)
  // Nameserver for dnsPolicy ClusterFirst pods; "" = the 10th address of service_cidr (the
  // kube-dns Service's), which this node's cluster DNS answers; "none" = the host's.
  std::string cluster_dns;
  // Where the cluster DNS forwards names outside the cluster; unset = the nameservers of
  // /etc/resolv.conf; empty = none (refused).
  std::optional<std::vector<std::string>> cluster_dns_upstreams;
  std::string cluster_domain = "cluster.local";
  std::string cluster_cidr = "10.244.0.0/16";  // all pods (routes, masquerade)
  std::string service_cidr = "10.43.0.0/16";   // Services' clusterIPs (the service proxy)
  int max_pods = 110;
  std::string registries = "/etc/sampan/registries.yaml";
  // Runtime state and container bundles, on a tmpfs (see run_dir.h); default
  // /run/sampan-agent/<hash of data_dir>.
  std::string run_dir;
  std::string runtime_root;  // default RUN_DIR/runtime
  std::string pause_binary;  // default: sampan-pause beside the running binary
  std::string self_exe;      // the sampan binary (runtime helpers); default /proc/self/exe
  // Serving certificate of the kubelet API; empty: a self-signed one is made in
  // DATA_DIR/agent/tls. The client CA defaults to the cluster CA of the client config.
  std::string tls_cert_file, tls_key_file, client_ca_file;
  bool serve_kubelet_api = true;
  std::string bridge = "sampan0";
  // Rotation of container logs (container_logs.h).
  ContainerLogOptions container_logs;
  // Static pods from the manifest files of this directory (static_pods.h); "" = none.
  std::string pod_manifest_path;
  std::chrono::milliseconds file_check_frequency{20000};
  // Image garbage collection (image_gc.h).
  ImageGcOptions image_gc;
  // The ingress controller's proxy (ingress.h) on these ports of every local address; -1: off.
  // (Off here so that embedding programs and tests never take the node's ports 80/443
  // unasked; `sampan server` and `sampan agent` turn them on.)
  int ingress_http_port = -1;
  int ingress_https_port = -1;
};

class Agent {
 public:
  // Validates the options, opens the image store and the runtime, and starts every thread
  // (it does not wait for the API server). Invalid on bad options or credentials.
  static Result<std::unique_ptr<Agent>> Start(const AgentOptions& options);
  virtual ~Agent() = default;
  // Stops the threads; running containers are left running (a restarted agent adopts
  // them). Idempotent.
  virtual void Stop() = 0;
  virtual const std::string& node_name() const = 0;
  virtual int kubelet_port() const = 0;
};

}  // namespace sampan::agent
