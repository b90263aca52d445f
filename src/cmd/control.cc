// `sampan scheduler` and `sampan controller-manager`: the components that `sampan server`
// runs in-process, as separate clients of any API server (kube-scheduler and
// kube-controller-manager). Each elects one active instance through its Lease, so several
// copies (and the servers' own) can run side by side; a scheduler with its own
// --scheduler-name binds only the pods that ask for it.
#include <signal.h>

#include <cstdio>
#include <string>

#include "cmd/commands.h"
#include "cmd/flags.h"
#include "controllers/controller_manager.h"
#include "util/log.h"

namespace sampan::cmd {
namespace {

void SchedulerUsage(FILE* out) {
  std::fprintf(out,
               "Usage: sampan scheduler --kubeconfig FILE [flags]\n\n"
               "Binds pending pods to nodes, like kube-scheduler, as a client of the cluster's\n"
               "API server (start that server with --disable-scheduler, or give this one its\n"
               "own --scheduler-name). SIGTERM/SIGINT stops it and hands its Lease back.\n\n"
               "Flags:\n"
               "  --kubeconfig FILE        kubeconfig of the cluster (required)\n"
               "  --scheduler-name NAME    binds pods whose spec.schedulerName is NAME\n"
               "                           (default default-scheduler; its Lease is\n"
               "                           kube-system/kube-scheduler, else kube-system/NAME)\n"
               "  --leader-elect[=false]   elect one active instance through the Lease (default true)\n"
               "  --debug                  verbose logging\n");
}

void ControllerManagerUsage(FILE* out) {
  std::fprintf(out,
               "Usage: sampan controller-manager --kubeconfig FILE [flags]\n\n"
               "Runs the controllers (workloads, garbage collector, namespaces' service accounts,\n"
               "node lifecycle and IPAM, pod GC), like kube-controller-manager, as a client of\n"
               "the cluster's API server (start that server with --disable-controller-manager).\n"
               "SIGTERM/SIGINT stops them and hands the Lease back.\n\n"
               "Flags:\n"
               "  --kubeconfig FILE        kubeconfig of the cluster (required)\n"
               "  --leader-elect[=false]   elect one active instance through the Lease\n"
               "                           kube-system/kube-controller-manager (default true)\n"
               "  --cluster-cidr CIDR      pod network of the cluster (default 10.244.0.0/16)\n"
               "  --node-cidr-mask-size N  prefix length of each node's block (default 24)\n"
               "  --allocate-node-cidrs[=false]  give each Node a spec.podCIDR (default true)\n"
               "  --terminated-pod-gc-threshold N  finished pods kept before the oldest are\n"
               "                           deleted (default 12500; <= 0: keep all)\n"
               "  --default-local-storage-path DIR  where the local-path provisioner puts\n"
               "                           volumes on each node (default /var/lib/sampan/storage;\n"
               "                           none: no provisioner)\n"
               "  --disable-service-lb     no ServiceLB: LoadBalancer Services stay pending for\n"
               "                           another load-balancer controller\n"
               "  --debug                  verbose logging\n");
}

// Starts the control plane with `opts` and serves until SIGTERM/SIGINT.
int RunUntilSignal(const char* command, const controllers::ControlPlaneOptions& opts) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  auto plane = controllers::StartControlPlane(opts);
  if (!plane.ok()) {
    std::fprintf(stderr, "%s: %s\n", command, plane.status().message().c_str());
    return 1;
  }
  LOG(INFO) << command << ": started, waiting for leadership";
  int signo = 0;
  sigwait(&set, &signo);
  LOG(INFO) << command << ": signal " << signo << ", stopping";
  (*plane)->Stop();
  return 0;
}

// Parses the flags of `sampan scheduler` (scheduler = true) or `sampan controller-manager`,
// then runs that component until a signal.
int ComponentMain(bool scheduler, int argc, char** argv) {
  const char* command = scheduler ? "sampan scheduler" : "sampan controller-manager";
  controllers::ControlPlaneOptions opts;
  opts.enable_scheduler = scheduler;
  opts.enable_controllers = !scheduler;
  FlagCursor flags(command, argc, argv);
  while (flags.Next()) {
    const std::string& a = flags.name();
    bool ok = true;
    if (a == "-h" || a == "--help") {
      (scheduler ? SchedulerUsage : ControllerManagerUsage)(stdout);
      return 0;
    } else if (a == "--kubeconfig") {
      ok = flags.Value(&opts.kubeconfig);
    } else if (a == "--leader-elect") {
      ok = flags.Bool(&opts.leader_elect);
    } else if (a == "--debug") {
      log::SetLevel(log::DEBUG);
    } else if (scheduler && a == "--scheduler-name") {
      ok = flags.Value(&opts.scheduler_name);
      if (ok && opts.scheduler_name.empty()) {
        std::fprintf(stderr, "%s: --scheduler-name must not be empty\n", command);
        return 2;
      }
    } else if (!scheduler && a == "--cluster-cidr") {
      ok = flags.Value(&opts.cluster_cidr);
    } else if (!scheduler && a == "--node-cidr-mask-size") {
      ok = flags.Int(&opts.node_cidr_mask_size, 1, 32);
    } else if (!scheduler && a == "--allocate-node-cidrs") {
      ok = flags.Bool(&opts.allocate_node_cidrs);
    } else if (!scheduler && a == "--terminated-pod-gc-threshold") {
      ok = flags.Int(&opts.terminated_pod_gc_threshold);
    } else if (!scheduler && a == "--default-local-storage-path") {
      ok = flags.Value(&opts.local_storage_path);
      if (ok && opts.local_storage_path == "none") opts.local_storage_path.clear();
    } else if (!scheduler && a == "--disable-service-lb") {
      opts.service_lb = false;
    } else {
      std::fprintf(stderr, "%s: unknown flag \"%s\" (see --help)\n", command, a.c_str());
      return 2;
    }
    if (!ok) return 2;
  }
  if (opts.kubeconfig.empty()) {
    std::fprintf(stderr, "%s: --kubeconfig is required\n", command);
    return 2;
  }
  return RunUntilSignal(command, opts);
}

}  // namespace

int SchedulerMain(int argc, char** argv) { return ComponentMain(true, argc, argv); }

int ControllerManagerMain(int argc, char** argv) { return ComponentMain(false, argc, argv); }

}  // namespace sampan::cmd
