// Launch: clones the container init into its namespaces and drives it (over a socketpair)
// until it is ready to execute process.args. Internal to the runtime; the caller must be
// single-threaded (a fresh CLI process or the forked monitor).
#pragma once

#include <sys/types.h>

#include <string>

#include "runtime/cgroups.h"
#include "runtime/spec.h"
#include "runtime/sys.h"
#include "util/status.h"

namespace sampan::runtime {

struct LaunchConfig {
  const Spec* spec = nullptr;
  std::string id, bundle, rootfs;
  const Cgroup* cgroup = nullptr;
  std::string fifo_path;               // detached: the init blocks opening this FIFO until `start`
  int console_fd = -1;                 // connected console socket (terminal)
  int stdout_fd = -1, stderr_fd = -1;  // monitor log pipes; -1 keeps the inherited stdio
  int stdin_fd = -1;                   // with the log pipes: stdin (else /dev/null)
  int preserve_fds = 0;
  bool no_pivot = false;
  // Foreground without a FIFO: false lets the init execute as soon as it is ready (one
  // round trip less); true makes it wait for Release (prestart hooks must run first).
  bool hold_for_start = true;
};

struct Launched {
  pid_t pid = 0;
  bool executed = false;  // the init already ran execve (hold_for_start == false)
  UniqueFd sync;          // to the init: "start" (foreground) or nothing (detached)
};

// The state JSON hooks receive on stdin.
std::string HookStateJson(const Spec& spec, const std::string& id, pid_t pid,
                          const std::string& bundle, const std::string& status);

// Clones and prepares the init; on failure the init is killed and reaped (the cgroup is the
// caller's to remove). The prestart/createRuntime hooks run here, in the caller.
Result<Launched> Launch(const LaunchConfig& cfg);
// Foreground: lets the init exec process.args and waits until it has.
Status Release(Launched& l);
// Fast foreground start (hold_for_start false): after the init has exited, the error it
// reported if it never reached execve; OK otherwise.
Status LaunchError(Launched& l);

}  // namespace sampan::runtime
