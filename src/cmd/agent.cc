// `sampan agent`: the node agent (kubelet) for this machine, joined to a cluster through a
// kubeconfig, or with the server's URL and node token (apiserver/node_join.h): the agent then
// checks the server's CA against the token, gets its node certificate and keeps it with a
// kubeconfig in DATA_DIR/agent/client/ (used again at the next start).
#include "agent/agent.h"

#include <signal.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include "agent/node_status.h"
#include "apiserver/certs.h"
#include "apiserver/node_join.h"
#include "client/rest_client.h"
#include "cmd/agent_flags.h"
#include "cmd/commands.h"
#include "cmd/flags.h"
#include "net/ipv4.h"
#include "util/fs.h"
#include "util/log.h"

namespace sampan::cmd {

namespace {

void Usage(FILE* out) {
  std::fprintf(
      out,
      "Usage: sampan agent --kubeconfig FILE [flags]\n"
      "       sampan agent --server URL --token TOKEN [flags]\n\n"
      "Runs the node agent: registers this machine as a Node and runs the pods bound to it.\n\n"
      "Flags:\n"
      "  --kubeconfig FILE           credentials for the API server\n"
      "  --server URL                the API server to join (https://HOST:6443), with:\n"
      "  --token TOKEN               the server's DATA_DIR/server/node-token (K10...)\n"
      "  --token-file FILE           the token, read from FILE\n"
      "  --data-dir DIR              state directory (default /var/lib/sampan)\n");
  PrintAgentFlags(out);
  std::fprintf(
      out,
      "  --cluster-cidr CIDR         the pods' range of the cluster (default 10.244.0.0/16)\n"
      "  --service-cidr CIDR         Services' clusterIPs, as the server's (default 10.43.0.0/16)\n"
      "  --debug                     verbose logging\n");
}

// Credentials for `node_name` from the server at `server` with the node token: the server's CA
// must hash to the token's; the kubeconfig is written to `dir`/kubeconfig.yaml (with the CA,
// certificate and key beside it). Returns the kubeconfig's path.
Result<std::string> JoinCluster(const std::string& server, const std::string& token_text,
                                const std::string& node_name, const std::string& dir) {
  ASSIGN_OR_RETURN(apiserver::NodeToken token, apiserver::ParseNodeToken(token_text));
  const std::string kubeconfig = dir + "/kubeconfig.yaml";
  // The CA first, unverified: it is trusted only if the token names it.
  client::ClientConfig probe;
  probe.server = server;
  probe.insecure_skip_verify = true;
  ASSIGN_OR_RETURN(auto c1, client::RestClient::New(probe));
  auto cacerts = c1->Do("GET", "/v1-sampan/cacerts");
  if (!cacerts.ok())
    return Unavailable("asking " + server + " for its CA: " + cacerts.status().message());
  const boost::json::value* ca =
      cacerts->is_object() ? cacerts->as_object().if_contains("ca") : nullptr;
  if (!ca || !ca->is_string()) return Unavailable(server + " sent no CA");
  const std::string ca_pem(ca->as_string());
  if (apiserver::CaHash(ca_pem) != token.ca_hash) {
    return Invalid("the CA of " + server + " is not the one the token names (sha256 " +
                   apiserver::CaHash(ca_pem) + ", token " + token.ca_hash + ")");
  }
  client::ClientConfig verified;
  verified.server = server;
  verified.ca_pem = ca_pem;
  ASSIGN_OR_RETURN(auto c2, client::RestClient::New(verified));
  boost::json::object req;
  req["nodeName"] = node_name;
  req["token"] = token_text;
  auto creds = c2->Do("POST", "/v1-sampan/node-credentials", boost::json::serialize(req),
                      "application/json");
  if (!creds.ok())
    return Status(creds.status().code(), "joining " + server + ": " + creds.status().message());
  const boost::json::object* o = creds->is_object() ? &creds->as_object() : nullptr;
  const boost::json::value* cert = o ? o->if_contains("certificate") : nullptr;
  const boost::json::value* key = o ? o->if_contains("key") : nullptr;
  if (!cert || !cert->is_string() || !key || !key->is_string()) {
    return Unavailable(server + " sent no certificate");
  }
  RETURN_IF_ERROR(fs::MakeDirs(dir, 0700));
  RETURN_IF_ERROR(fs::WriteFileAtomic(dir + "/ca.crt", ca_pem, 0600));
  RETURN_IF_ERROR(fs::WriteFileAtomic(dir + "/node.crt", std::string(cert->as_string()), 0600));
  RETURN_IF_ERROR(fs::WriteFileAtomic(dir + "/node.key", std::string(key->as_string()), 0600));
  RETURN_IF_ERROR(apiserver::WriteKubeconfig(kubeconfig, server, dir + "/ca.crt", dir + "/node.crt",
                                             dir + "/node.key"));
  return kubeconfig;
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
  std::string server, token;
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
    } else if (a == "--server" || a == "-s") {
      if (!need(&server)) return 2;
    } else if (a == "--token" || a == "-t") {
      if (!need(&token)) return 2;
    } else if (a == "--token-file") {
      std::string file;
      if (!need(&file)) return 2;
      auto text = fs::ReadFile(file);
      if (!text.ok()) {
        std::fprintf(stderr, "sampan agent: --token-file: %s\n", text.status().message().c_str());
        return 2;
      }
      token = *text;
      while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) token.pop_back();
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
  if (o.kubeconfig.empty() && (server.empty() || token.empty())) {
    std::fprintf(stderr, "sampan agent: --kubeconfig, or --server and --token, are required\n");
    return 2;
  }
  if (!o.kubeconfig.empty() && !server.empty()) {
    std::fprintf(stderr, "sampan agent: --kubeconfig and --server exclude each other\n");
    return 2;
  }
  if (o.kubeconfig.empty()) {
    if (o.node_name.empty()) o.node_name = agent::ReadMachineInfo(o.data_dir).hostname;
    const std::string dir = o.data_dir + "/agent/client";
    const std::string kept = dir + "/kubeconfig.yaml";
    // Credentials from an earlier join are used again when they are for this server.
    auto cfg = fs::Exists(kept) ? client::LoadKubeconfig(kept)
                                : Result<client::ClientConfig>(NotFound(""));
    if (cfg.ok() && cfg->server == server) {
      o.kubeconfig = kept;
    } else {
      auto joined = JoinCluster(server, token, o.node_name, dir);
      if (!joined.ok()) {
        std::fprintf(stderr, "sampan agent: %s\n", joined.status().message().c_str());
        return 1;
      }
      LOG(INFO) << "joined " << server << " as node " << o.node_name;
      o.kubeconfig = *joined;
    }
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
