// `sampan agent`: the node agent (kubelet) for this machine, joined to a cluster through a
// kubeconfig.
#include "agent/agent.h"

#include <signal.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include "cmd/agent_flags.h"
#include "cmd/commands.h"
#include "cmd/flags.h"
#include "net/ipv4.h"
#include "util/log.h"

namespace sampan::cmd {

namespace {

void Usage(FILE* out) {
  std::fprintf(
      out,
      "Usage: sampan agent --kubeconfig FILE [flags]\n\n"
      "Runs the node agent: registers this machine as a Node and runs the pods bound to it.\n\n"
      "Flags:\n"
      "  --kubeconfig FILE           credentials for the API server (required)\n"
      "  --data-dir DIR              state directory (default /var/lib/sampan)\n");
  PrintAgentFlags(out);
  std::fprintf(
      out,
      "  --cluster-cidr CIDR         the pods' range of the cluster (default 10.244.0.0/16)\n"
      "  --service-cidr CIDR         Services' clusterIPs, as the server's (default 10.43.0.0/16)\n"
      "  --debug                     verbose logging\n");
}

}  // namespace

void PrintAgentFlags(FILE* out) {
  std::fprintf(
      out,
      "  --node-name NAME            name of this node (default: the host name)\n"
      "  --node-ip IP                InternalIP of this node (default: first IPv4 address)\n"
      "  --kubelet-port N            port of the kubelet API (default 10250; 0 = any)\n"
      "  --cluster-dns IP            nameserver for pods with dnsPolicy ClusterFirst (default:\n"
      "                              the 10th address of the service range, the kube-dns\n"
      "                              Service's; this node answers it itself)\n"
      "  --cluster-dns-upstream IP[:PORT]  where the cluster DNS sends names outside the\n"
      "                              cluster (repeatable; default: the nameservers of\n"
      "                              /etc/resolv.conf; \"none\": such names are refused)\n"
      "  --cluster-domain DOMAIN     cluster DNS domain (default cluster.local)\n"
      "  --max-pods N                pods this node accepts (default 110)\n"
      "  --registries FILE           registry mirrors and credentials\n"
      "                              (default /etc/sampan/registries.yaml)\n"
      "  --run-dir DIR               runtime state and container bundles, on a tmpfs\n"
      "                              (default /run/sampan-agent/<hash of the data dir>)\n");
  PrintAgentManagerFlags(out);
}

bool ParseAgentFlag(const std::string& a, const std::function<bool(std::string*)>& need,
                    agent::AgentOptions* o, bool* ok) {
  if (ParseAgentManagerFlag(a, need, o, ok)) return true;
  *ok = true;
  std::string v;
  if (a == "--node-name") {
    *ok = need(&o->node_name);
  } else if (a == "--node-ip") {
    *ok = need(&o->node_ip);
  } else if (a == "--cluster-dns") {
    *ok = need(&o->cluster_dns);
  } else if (a == "--cluster-domain") {
    *ok = need(&o->cluster_domain);
  } else if (a == "--cluster-dns-upstream") {
    if (!need(&v)) {
      *ok = false;
    } else if (v == "none") {
      o->cluster_dns_upstreams = std::vector<std::string>{};
    } else if (!net::ParseIpv4(v.substr(0, v.find(':'))).ok()) {
      std::fprintf(stderr, "sampan: invalid value \"%s\" for %s: want IP or IP:PORT\n",
                   v.c_str(), a.c_str());
      *ok = false;
    } else {
      if (!o->cluster_dns_upstreams) o->cluster_dns_upstreams = std::vector<std::string>{};
      o->cluster_dns_upstreams->push_back(v);
    }
  } else if (a == "--registries") {
    *ok = need(&o->registries);
  } else if (a == "--run-dir") {
    *ok = need(&o->run_dir);
  } else if (a == "--kubelet-port" || a == "--max-pods") {
    if (!need(&v)) {
      *ok = false;
    } else if (int n = 0; !ParseInt(v, &n) || n < 0 || n > 65535) {
      std::fprintf(stderr, "sampan: invalid value \"%s\" for %s\n", v.c_str(), a.c_str());
      *ok = false;
    } else {
      (a == "--max-pods" ? o->max_pods : o->kubelet_port) = n;
    }
  } else {
    return false;
  }
  return true;
}

int AgentMain(int argc, char** argv) {
  agent::AgentOptions o;
  o.ingress_http_port = 80;
  o.ingress_https_port = 443;
  FlagCursor flags("sampan agent", argc, argv);
  while (flags.Next()) {
    const std::string& a = flags.name();
    std::function<bool(std::string*)> need = [&](std::string* out) { return flags.Value(out); };
    bool ok = true;
    if (a == "-h" || a == "--help") {
      Usage(stdout);
      return 0;
    } else if (a == "--kubeconfig") {
      if (!need(&o.kubeconfig)) return 2;
    } else if (a == "--data-dir" || a == "-d") {
      if (!need(&o.data_dir)) return 2;
    } else if (a == "--cluster-cidr") {
      if (!need(&o.cluster_cidr)) return 2;
    } else if (a == "--service-cidr") {
      if (!need(&o.service_cidr)) return 2;
      if (auto c = net::ParseCidr(o.service_cidr); !c.ok()) {
        std::fprintf(stderr, "sampan agent: --service-cidr: %s\n", c.status().message().c_str());
        return 2;
      }
    } else if (a == "--debug") {
      log::SetLevel(log::DEBUG);
    } else if (ParseAgentFlag(a, need, &o, &ok)) {
      if (!ok) return 2;
    } else {
      std::fprintf(stderr, "sampan agent: unknown flag \"%s\" (see sampan agent --help)\n",
                   a.c_str());
      return 2;
    }
  }
  if (o.kubeconfig.empty()) {
    std::fprintf(stderr, "sampan agent: --kubeconfig is required\n");
    return 2;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  auto started = agent::Agent::Start(o);
  if (!started.ok()) {
    std::fprintf(stderr, "sampan agent: %s\n", started.status().message().c_str());
    return 1;
  }
  int signo = 0;
  sigwait(&set, &signo);
  LOG(INFO) << "received signal " << signo << ", stopping the agent (containers keep running)";
  (*started)->Stop();
  return 0;
}

}  // namespace sampan::cmd
