// The `sampan` binary: subcommand dispatch only.
#include <cstdio>
#include <cstring>
#include <string>

#include "cmd/commands.h"
#include "cmd/malloc_tuning.h"

namespace {

struct Subcommand {
  const char* name;
  int (*main)(int, char**);
  const char* help;
  bool long_running = false;  // a service: started with glibc malloc tuned (malloc_tuning.h)
};

constexpr Subcommand kSubcommands[] = {
    {"server", sampan::cmd::ServerMain, "run the control plane (API server, store, controllers)",
     true},
    {"runtime", sampan::cmd::RuntimeMain, "OCI container runtime with runc's command line"},
    {"image", sampan::cmd::ImageMain, "import, pull, list and remove images on this node"},
    {"agent", sampan::cmd::AgentMain, "node agent: register this machine and run its pods", true},
    {"scheduler", sampan::cmd::SchedulerMain, "the scheduler alone, against any API server", true},
    {"controller-manager", sampan::cmd::ControllerManagerMain,
     "the controllers alone, against any API server", true},
    {"hollow-nodes", sampan::cmd::HollowNodesMain,
     "simulated nodes that run pods without containers", true},
    {"streaming-test-node", sampan::cmd::StreamingTestNodeMain,
     "test fixture: the kubelet API over pods that are host processes"},
};

void Usage(FILE* out) {
  std::fprintf(out,
               "sampan: a Kubernetes-compatible container orchestrator in one binary\n\n"
               "Usage: sampan <command> [flags]\n\nCommands:\n");
  for (const auto& s : kSubcommands) std::fprintf(out, "  %-19s %s\n", s.name, s.help);
  std::fprintf(out, "  %-19s %s\n", "version", "print the version");
  std::fprintf(out, "\nRun 'sampan <command> --help' for a command's flags.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    Usage(stderr);
    return 2;
  }
  std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    Usage(stdout);
    return 0;
  }
  if (cmd == "version" || cmd == "--version") {
    std::printf("sampan version v0.1.0 (Kubernetes API v1.32)\n");
    return 0;
  }
  for (const auto& s : kSubcommands) {
    if (cmd == s.name) {
      if (s.long_running) sampan::cmd::TuneMallocByReexec(argv);
      std::string name = std::string("sampan ") + s.name;
      argv[1] = name.data();
      return s.main(argc - 1, argv + 1);
    }
  }
  std::fprintf(stderr, "sampan: unknown command \"%s\"\n", cmd.c_str());
  Usage(stderr);
  return 2;
}
