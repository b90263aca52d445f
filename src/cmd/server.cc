// `sampan server`: the control plane of a cluster on this machine.
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "agent/agent.h"
#include "apiserver/apiserver.h"
#include "client/config.h"
#include "cmd/agent_flags.h"
#include "controllers/controller_manager.h"
#include "net/ipv4.h"
#include "cmd/commands.h"
#include "cmd/flags.h"
#include "util/log.h"

namespace sampan::cmd {

namespace {

// glibc's defaults hand memory back to the kernel as soon as 128 KiB lie free at the top of a
// heap and take it back on the next burst: under load the server's per-thread heaps shrank and
// grew about once per request (an mprotect call, then page faults on the pages made usable
// again; sysmalloc was ~5% of the server's CPU at 64 concurrent creates). A larger pad and trim
// threshold keep a few MiB per heap in hand; memory is still returned beyond that.
void TuneMalloc() {
  mallopt(M_TOP_PAD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 16 << 20);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
}

// API worker threads when --threads is not given. On a machine with at most 2 usable CPUs one
// thread costs less CPU per request than two: the threads otherwise wake each other for every
// hand-off (A/B on 2 CPUs, 64 concurrent creates: 67-75 vs 70-84 us of server CPU per create,
// 0.8 vs 1.15 context switches; bench/results/apiserver-2026-11-25-s3.txt). Larger machines get
// half their CPUs, at most 8: on 16 CPUs, 64-256 concurrent creates ran at ~28k/s with 2 threads
// and 47-61k/s with 8 or 16 (bench/results/apiserver-2026-11-26-16cpu.txt); the other half is
// left to the store's threads, the in-process controllers and the clients.
int DefaultApiThreads() {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  int n = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 0;
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) return 2;
  return n <= 2 ? 1 : std::min(8, std::max(2, n / 2));
}

void Usage(FILE* out) {
  std::fprintf(
      out,
      "Usage: sampan server [flags]\n\n"
      "Runs the control plane: API server on the embedded store (or the given datastore).\n\n"
      "Flags:\n"
      "  --data-dir DIR              state directory (default /var/lib/sampan)\n"
      "  --https-listen-port N       HTTPS port of the API (default 6443; 0 = any free port)\n"
      "  --bind-address ADDR         address to listen on (default 0.0.0.0)\n"
      "  --http-listen-port N        also serve plain HTTP on 127.0.0.1:N (unauthenticated admin)\n"
      "  --write-kubeconfig FILE     where to write the admin kubeconfig\n"
      "                              (default DATA_DIR/kubeconfig.yaml)\n"
      "  --tls-san NAME              extra name or IP for the serving certificate (repeatable)\n"
      "  --datastore-endpoint URL    sqlite:///path/state.db (default) or memory://\n"
      "  --disable-agent             do not run a node agent for this machine\n"
      "  --disable-scheduler         do not run the scheduler\n"
      "  --disable-controller-manager  do not run the controllers\n"
      "  --node-monitor-grace-period D  a node whose lease is older turns NotReady\n"
      "                              (default 40s)\n"
      "  --node-monitor-period D     how often node health is checked (default 5s)\n"
      "  --node-eviction-rate R      nodes/s whose pods may be evicted per zone\n"
      "                              (default 0.1)\n"
      "  --cluster-cidr CIDR         the pods' range; each node gets a block of it as its\n"
      "                              podCIDR (default 10.244.0.0/16)\n"
      "  --node-cidr-mask-size N     prefix length of each node's block (default 24)\n"
      "  --service-cidr CIDR         Services' clusterIPs (default 10.43.0.0/16; the\n"
      "                              first address is the kubernetes Service's)\n"
      "  --service-node-port-range R ports for NodePort Services (default 30000-32767)\n"
      "  --advertise-address IP      the address pods reach this server at (the\n"
      "                              kubernetes Service's endpoint; default: the bind\n"
      "                              address, or the machine's first IPv4 address)\n"
      "  --authorization-mode MODE   RBAC (default: Roles, ClusterRoles and their\n"
      "                              bindings decide; system:masters may do all) or\n"
      "                              AlwaysAllow (every authenticated user may do all)\n"
      "  --default-local-storage-path DIR  where the local-path provisioner puts\n"
      "                              volumes on each node (default DATA_DIR/storage)\n"
      "  --disable-local-storage     no local-path StorageClass or provisioner\n"
      "  --token SECRET              the secret of the node token agents join with\n"
      "                              (DATA_DIR/server/node-token; default: random)\n"
      "  --disable COMPONENT         k3s' packaged components, comma-separated or\n"
      "                              repeated: servicelb (LoadBalancer Services stay\n"
      "                              pending for another controller), local-storage,\n"
      "                              ingress (k3s' name: traefik; the IngressClass\n"
      "                              sampan and the nodes' proxy on ports 80/443),\n"
      "                              metrics-server (not part of sampan)\n"
      "  --terminated-pod-gc-threshold N  finished pods kept before the oldest are\n"
      "                              deleted (default 12500; <= 0: keep all)\n"
      "  --threads N                 API worker threads (default 1 on a machine with\n"
      "                              at most 2 CPUs, else half the CPUs, at most 8)\n"
      "  --disable-loopback-client   the in-process scheduler, controllers and agent\n"
      "                              talk to the API over HTTPS (through the admin\n"
      "                              kubeconfig) instead of calling it in-process\n"
      "  --debug                     verbose logging\n"
      "Node agent flags (for the in-process agent):\n");
  PrintAgentFlags(out);
}

}  // namespace

int ServerMain(int argc, char** argv) {
  apiserver::Options opt;
  opt.threads = DefaultApiThreads();
  bool disable_agent = false;
  agent::AgentOptions agent_opts;
  agent_opts.ingress_http_port = 80;
  agent_opts.ingress_https_port = 443;
  bool disable_scheduler = false;
  bool disable_controllers = false;
  std::chrono::milliseconds node_grace{0}, node_monitor{0};
  double node_eviction_rate = 0;
  std::string cluster_cidr = "10.244.0.0/16";
  int node_cidr_mask_size = 24;
  int terminated_pod_gc_threshold = 12500;
  std::string local_storage_path;  // "" = DATA_DIR/storage
  bool disable_local_storage = false;
  bool disable_service_lb = false;
  bool disable_ingress = false;
  bool loopback_client = true;
  FlagCursor flags("sampan server", argc, argv);
  while (flags.Next()) {
    const std::string& a = flags.name();
    auto need = [&](std::string* out) { return flags.Value(out); };
    auto need_int = [&](int* out) { return flags.Int(out, 0, 65535, "not a port number"); };
    if (a == "-h" || a == "--help") {
      Usage(stdout);
      return 0;
    } else if (a == "--data-dir" || a == "-d") {
      if (!need(&opt.data_dir)) return 2;
    } else if (a == "--https-listen-port") {
      if (!need_int(&opt.https_port)) return 2;
    } else if (a == "--http-listen-port") {
      if (!need_int(&opt.http_port)) return 2;
    } else if (a == "--bind-address") {
      if (!need(&opt.bind_address)) return 2;
    } else if (a == "--write-kubeconfig" || a == "-o") {
      if (!need(&opt.write_kubeconfig)) return 2;
    } else if (a == "--tls-san") {
      std::string s;
      if (!need(&s)) return 2;
      opt.tls_sans.push_back(s);
    } else if (a == "--datastore-endpoint") {
      if (!need(&opt.datastore_endpoint)) return 2;
    } else if (a == "--disable-agent") {
      disable_agent = true;
    } else if (bool ok = true; ParseAgentFlag(a, need, &agent_opts, &ok)) {
      if (!ok) return 2;
    } else if (a == "--disable-scheduler") {
      disable_scheduler = true;
    } else if (a == "--disable-controller-manager") {
      disable_controllers = true;
    } else if (a == "--node-eviction-rate") {
      std::string s;
      if (!need(&s)) return 2;
      try {
        size_t pos = 0;
        node_eviction_rate = std::stod(s, &pos);
        if (pos != s.size() || node_eviction_rate <= 0) throw std::invalid_argument(s);
      } catch (...) {
        std::fprintf(stderr, "sampan server: invalid value \"%s\" for %s\n", s.c_str(), a.c_str());
        return 2;
      }
    } else if (a == "--node-monitor-grace-period" || a == "--node-monitor-period") {
      // A Go-style duration: "40s", "500ms", "2m" (a bare number is seconds).
      std::string s;
      if (!need(&s)) return 2;
      size_t pos = 0;
      long long v = -1;
      try {
        v = std::stoll(s, &pos);
      } catch (...) {
      }
      std::string unit = s.substr(pos);
      long long ms = -1;
      if (unit == "ms") ms = v;
      if (unit == "s" || unit.empty()) ms = v * 1000;
      if (unit == "m") ms = v * 60000;
      if (v <= 0 || ms <= 0) {
        std::fprintf(stderr, "sampan server: invalid duration \"%s\" for %s\n", s.c_str(),
                     a.c_str());
        return 2;
      }
      (a == "--node-monitor-period" ? node_monitor : node_grace) = std::chrono::milliseconds(ms);
    } else if (a == "--cluster-cidr") {
      if (!need(&cluster_cidr)) return 2;
      if (auto c = net::ParseCidr(cluster_cidr); !c.ok()) {
        std::fprintf(stderr, "sampan server: --cluster-cidr: %s\n", c.status().message().c_str());
        return 2;
      }
    } else if (a == "--service-cidr") {
      std::string v;
      if (!need(&v)) return 2;
      auto c = net::ParseCidr(v);
      if (!c.ok() || c->prefix_len > 28 || c->prefix_len < 12) {
        std::fprintf(stderr, "sampan server: --service-cidr: %s\n",
                     c.ok() ? "want a prefix length between 12 and 28"
                            : c.status().message().c_str());
        return 2;
      }
      opt.service_network.service_cidr = *c;
    } else if (a == "--service-node-port-range") {
      std::string v;
      if (!need(&v)) return 2;
      auto r = apiserver::ParseNodePortRange(v);
      if (!r.ok()) {
        std::fprintf(stderr, "sampan server: --service-node-port-range: %s\n",
                     r.status().message().c_str());
        return 2;
      }
      opt.service_network.node_port_min = r->first;
      opt.service_network.node_port_max = r->second;
    } else if (a == "--authorization-mode") {
      std::string v;
      if (!need(&v)) return 2;
      // Kubernetes' list form: Node and RBAC are one here (nodes are authorized by RBAC).
      if (v == "RBAC" || v == "Node,RBAC" || v == "RBAC,Node") {
        opt.authorization_mode = "RBAC";
      } else if (v == "AlwaysAllow") {
        opt.authorization_mode = "AlwaysAllow";
      } else {
        std::fprintf(stderr,
                     "sampan server: --authorization-mode: unsupported mode \"%s\" (RBAC or "
                     "AlwaysAllow)\n",
                     v.c_str());
        return 2;
      }
    } else if (a == "--advertise-address") {
      std::string v;
      if (!need(&v)) return 2;
      if (auto ip = net::ParseIpv4(v); !ip.ok()) {
        std::fprintf(stderr, "sampan server: --advertise-address: %s\n",
                     ip.status().message().c_str());
        return 2;
      }
      opt.advertise_address = v;
    } else if (a == "--node-cidr-mask-size") {
      std::string s;
      if (!need(&s)) return 2;
      if (!ParseInt(s, &node_cidr_mask_size) || node_cidr_mask_size < 1 ||
          node_cidr_mask_size > 30) {
        std::fprintf(stderr, "sampan server: invalid value \"%s\" for %s: not 1-30\n", s.c_str(),
                     a.c_str());
        return 2;
      }
    } else if (a == "--terminated-pod-gc-threshold") {
      if (!flags.Int(&terminated_pod_gc_threshold)) return 2;
    } else if (a == "--default-local-storage-path") {
      if (!need(&local_storage_path)) return 2;
      if (local_storage_path.empty() || local_storage_path[0] != '/') {
        std::fprintf(stderr, "sampan server: --default-local-storage-path: \"%s\" is not an "
                     "absolute path\n", local_storage_path.c_str());
        return 2;
      }
    } else if (a == "--token" || a == "-t") {
      if (!need(&opt.node_token)) return 2;
      if (opt.node_token.empty() || opt.node_token.find_first_of(" \n:") != std::string::npos) {
        std::fprintf(stderr,
                     "sampan server: --token: the secret must be non-empty, without "
                     "spaces or colons\n");
        return 2;
      }
    } else if (a == "--disable-local-storage") {
      disable_local_storage = true;
    } else if (a == "--disable" || a.rfind("--disable=", 0) == 0) {
      std::string list;
      if (a == "--disable") {
        if (!need(&list)) return 2;
      } else {
        list = a.substr(10);
      }
      for (size_t start = 0; start <= list.size();) {
        size_t comma = list.find(',', start);
        if (comma == std::string::npos) comma = list.size();
        std::string c = list.substr(start, comma - start);
        start = comma + 1;
        if (c == "servicelb") {
          disable_service_lb = true;
        } else if (c == "local-storage") {
          disable_local_storage = true;
        } else if (c == "traefik" || c == "ingress") {
          disable_ingress = true;
        } else if (c != "metrics-server") {
          std::fprintf(stderr,
                       "sampan server: --disable: unknown component \"%s\" (servicelb, "
                       "local-storage, ingress or traefik, metrics-server)\n",
                       c.c_str());
          return 2;
        }
      }
    } else if (a == "--threads") {
      if (!need_int(&opt.threads) || opt.threads < 1) return 2;
    } else if (a == "--disable-loopback-client") {
      loopback_client = false;
    } else if (a == "--debug") {
      log::SetLevel(log::DEBUG);
    } else {
      std::fprintf(stderr, "sampan server: unknown flag \"%s\" (see sampan server --help)\n",
                   a.c_str());
      return 2;
    }
  }
  // Signals are taken by a dedicated thread: block them everywhere first.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  TuneMalloc();
  opt.local_storage_class = !disable_local_storage;
  opt.ingress_class = !disable_ingress;
  if (disable_ingress) agent_opts.ingress_http_port = agent_opts.ingress_https_port = -1;
  auto server = apiserver::NewApiServer(opt);
  Status st = server->Start();
  if (!st.ok()) {
    std::fprintf(stderr, "sampan server: %s\n", st.message().c_str());
    return 1;
  }
  // The scheduler, controllers and agent are clients of the API like any other, with the
  // admin kubeconfig the server just wrote (its CA and address). By default their requests
  // then take the in-process loopback (client/loopback.h): straight into the server's request
  // handler, no TLS or sockets. They act in system:masters, as with the admin certificate, so
  // RBAC lets them do everything (their own users and groups are kept for audit and whoami).
  const std::string kubeconfig =
      opt.write_kubeconfig.empty() ? opt.data_dir + "/kubeconfig.yaml" : opt.write_kubeconfig;
  auto component_client = [&](std::string user,
                              std::vector<std::string> groups) -> Result<client::ClientConfig> {
    ASSIGN_OR_RETURN(client::ClientConfig cfg, client::LoadKubeconfig(kubeconfig));
    if (loopback_client) cfg.loopback = server->Loopback(std::move(user), std::move(groups));
    return cfg;
  };
  std::unique_ptr<controllers::ControlPlane> plane;
  if (!disable_scheduler || !disable_controllers) {
    controllers::ControlPlaneOptions cp;
    auto cfg = component_client("system:kube-controller-manager", {"system:masters"});
    if (!cfg.ok()) {
      std::fprintf(stderr, "sampan server: %s\n", cfg.status().message().c_str());
      return 1;
    }
    cp.client = std::move(*cfg);
    cp.enable_scheduler = !disable_scheduler;
    cp.enable_controllers = !disable_controllers;
    cp.node_monitor_grace_period = node_grace;
    cp.node_monitor_period = node_monitor;
    cp.node_eviction_rate = node_eviction_rate;
    cp.cluster_cidr = cluster_cidr;
    cp.node_cidr_mask_size = node_cidr_mask_size;
    cp.terminated_pod_gc_threshold = terminated_pod_gc_threshold;
    cp.service_lb = !disable_service_lb;
    cp.ingress_status = !disable_ingress;
    cp.local_storage_path = disable_local_storage ? ""
                            : local_storage_path.empty() ? opt.data_dir + "/storage"
                                                         : local_storage_path;
    auto started = controllers::StartControlPlane(cp);
    if (!started.ok()) {
      std::fprintf(stderr, "sampan server: starting the scheduler and controllers: %s\n",
                   started.status().message().c_str());
      return 1;
    }
    plane = std::move(*started);
  }
  // The node agent for this machine, as system:node:NAME.
  std::unique_ptr<agent::Agent> node_agent;
  if (!disable_agent) {
    std::string node = agent_opts.node_name;
    if (node.empty()) {
      char host[256] = {};
      if (gethostname(host, sizeof host - 1) == 0) node = host;
    }
    auto cfg = component_client("system:node:" + node, {"system:nodes", "system:masters"});
    if (!cfg.ok()) {
      std::fprintf(stderr, "sampan server: %s\n", cfg.status().message().c_str());
      if (plane) plane->Stop();
      return 1;
    }
    agent_opts.kubeconfig.clear();  // the config above replaces it
    agent_opts.client = std::move(*cfg);
    agent_opts.data_dir = opt.data_dir;
    agent_opts.cluster_cidr = cluster_cidr;  // the same range the node IPAM cuts up
    agent_opts.service_cidr = opt.service_network.service_cidr.ToString();
    auto started = agent::Agent::Start(agent_opts);
    if (!started.ok()) {
      std::fprintf(stderr, "sampan server: starting the node agent: %s\n",
                   started.status().message().c_str());
      server->Stop();
      if (plane) plane->Stop();
      return 1;
    }
    node_agent = std::move(*started);
  }
  std::thread sig([&server, set] {
    int signo = 0;
    sigwait(&set, &signo);
    LOG(INFO) << "received signal " << signo << ", shutting down";
    server->Stop();
  });
  sig.detach();
  server->Run();
  if (node_agent) node_agent->Stop();
  if (plane) plane->Stop();
  return 0;
}

}  // namespace sampan::cmd
