// `sampan hollow-nodes`: simulated nodes (hollow/hollow_nodes.h) against any API server.
#include <signal.h>

#include <cstdio>
#include <string>

#include "client/config.h"
#include "client/rest_client.h"
#include "cmd/commands.h"
#include "cmd/flags.h"
#include "hollow/hollow_nodes.h"
#include "util/log.h"

namespace sampan::cmd {
namespace {

void Usage(FILE* out) {
  std::fprintf(
      out,
      "Usage: sampan hollow-nodes --kubeconfig FILE --count N [flags]\n\n"
      "Registers N simulated nodes that keep their leases fresh and mark the pods bound to\n"
      "them Running and Ready without running containers (for tests, benchmarks and\n"
      "capacity planning). SIGTERM/SIGINT stops; the nodes stay (their leases go stale)\n"
      "unless --delete-on-exit.\n\n"
      "Flags:\n"
      "  --kubeconfig FILE        admin kubeconfig of the cluster (required)\n"
      "  --count N                number of nodes (required)\n"
      "  --name-prefix P          node names P0 … P<N-1> (default hollow-)\n"
      "  --first-index I          number the nodes from I (default 0)\n"
      "  --cpu Q                  CPU capacity per node (default 4)\n"
      "  --memory Q               memory capacity per node (default 16Gi)\n"
      "  --pods N                 pod capacity per node (default 110)\n"
      "  --label k=v              extra node label (repeatable)\n"
      "  --taint k=v:Effect       node taint at registration (repeatable)\n"
      "  --lease-duration-seconds S  (default 40)\n"
      "  --renew-interval-seconds S  lease renewal period (default 10)\n"
      "  --workers N              pod status threads (default 8)\n"
      "  --delete-on-exit         delete the nodes and their leases on exit\n"
      "  --debug                  verbose logging\n\n"
      "Pod annotations: hollow.sampan.io/exit-code: \"C\" ends the containers with code C\n"
      "after hollow.sampan.io/run-seconds (default 0); hollow.sampan.io/ready: \"false\"\n"
      "keeps the pod running but not Ready.\n");
}

}  // namespace

int HollowNodesMain(int argc, char** argv) {
  hollow::HollowOptions opts;
  opts.count = -1;
  std::string kubeconfig;
  FlagCursor flags("sampan hollow-nodes", argc, argv);
  while (flags.Next()) {
    const std::string& a = flags.name();
    auto need = [&](std::string* out) { return flags.Value(out); };
    auto need_int = [&](int* out, int min) { return flags.Int(out, min); };
    if (a == "-h" || a == "--help") {
      Usage(stdout);
      return 0;
    } else if (a == "--kubeconfig") {
      if (!need(&kubeconfig)) return 2;
    } else if (a == "--count") {
      if (!need_int(&opts.count, 0)) return 2;
    } else if (a == "--name-prefix") {
      if (!need(&opts.name_prefix)) return 2;
    } else if (a == "--first-index") {
      if (!need_int(&opts.first_index, 0)) return 2;
    } else if (a == "--cpu") {
      if (!need(&opts.cpu)) return 2;
    } else if (a == "--memory") {
      if (!need(&opts.memory)) return 2;
    } else if (a == "--pods") {
      if (!need_int(&opts.pods, 0)) return 2;
    } else if (a == "--label") {
      std::string kv;
      if (!need(&kv)) return 2;
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::fprintf(stderr, "sampan hollow-nodes: --label wants key=value, got \"%s\"\n",
                     kv.c_str());
        return 2;
      }
      opts.labels[kv.substr(0, eq)] = kv.substr(eq + 1);
    } else if (a == "--taint") {
      std::string t;
      if (!need(&t)) return 2;
      auto taint = hollow::ParseTaint(t);
      if (!taint.ok()) {
        std::fprintf(stderr, "sampan hollow-nodes: %s\n", taint.status().message().c_str());
        return 2;
      }
      opts.taints.push_back(*taint);
    } else if (a == "--lease-duration-seconds") {
      int s = 0;
      if (!need_int(&s, 1)) return 2;
      opts.lease_duration = std::chrono::seconds(s);
    } else if (a == "--renew-interval-seconds") {
      int s = 0;
      if (!need_int(&s, 1)) return 2;
      opts.renew_interval = std::chrono::seconds(s);
    } else if (a == "--workers") {
      if (!need_int(&opts.workers, 1)) return 2;
    } else if (a == "--delete-on-exit") {
      opts.delete_on_exit = true;
    } else if (a == "--debug") {
      log::SetLevel(log::DEBUG);
    } else {
      std::fprintf(stderr, "sampan hollow-nodes: unknown flag \"%s\" (see --help)\n", a.c_str());
      return 2;
    }
  }
  if (kubeconfig.empty() || opts.count < 0) {
    std::fprintf(stderr, "sampan hollow-nodes: --kubeconfig and --count are required\n");
    return 2;
  }
  if (opts.name_prefix.empty()) {
    std::fprintf(stderr, "sampan hollow-nodes: --name-prefix must not be empty\n");
    return 2;
  }
  auto cfg = client::LoadKubeconfig(kubeconfig);
  if (!cfg.ok()) {
    std::fprintf(stderr, "sampan hollow-nodes: %s\n", cfg.status().message().c_str());
    return 1;
  }
  cfg->user_agent = "sampan-hollow-nodes";
  auto rest = client::RestClient::New(*cfg);
  if (!rest.ok()) {
    std::fprintf(stderr, "sampan hollow-nodes: %s\n", rest.status().message().c_str());
    return 1;
  }

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  hollow::HollowNodes nodes(rest->get(), opts);
  Status st = nodes.Start();
  if (!st.ok()) {
    std::fprintf(stderr, "sampan hollow-nodes: %s\n", st.message().c_str());
    nodes.Stop();
    return 1;
  }
  std::printf("hollow-nodes: %d nodes ready (%s%d … %s%d)\n", opts.count, opts.name_prefix.c_str(),
              opts.first_index, opts.name_prefix.c_str(), opts.first_index + opts.count - 1);
  std::fflush(stdout);
  int signo = 0;
  sigwait(&set, &signo);
  LOG(INFO) << "hollow-nodes: signal " << signo << ", stopping";
  nodes.Stop();
  auto s = nodes.stats();
  LOG(INFO) << "hollow-nodes: " << s.lease_renewals << " lease renewals (" << s.lease_failures
            << " failed), " << s.pods_started << " pods started, " << s.pods_finished
            << " finished, " << s.pods_deleted << " deletions finished";
  return 0;
}

}  // namespace sampan::cmd
