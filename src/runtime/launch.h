// Launch: clones the container init into its namespaces and drives it (over a socketpair)
// until it is ready to execute process.args. Internal to the runtime; the caller must be
// single-threaded (a fresh CLI process or the forked monitor).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <string>

#include "runtime/cgroups.h"
#include "runtime/spec.h"
#include "runtime/sys.h"
#include "util/status.h"

namespace sampan::runtime {

class NetnsAhead;

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
  // A network namespace made ahead for this init (see NetnsAhead); the clone then leaves
  // CLONE_NEWNET out and the init enters this one.
  NetnsAhead* netns_ahead = nullptr;
};

// Whether the init may run on the caller's memory (a clone with CLONE_VM|CLONE_VFORK): a fast
// foreground start, without a user or time namespace.
bool SharesMemoryWithInit(const LaunchConfig& cfg);
// Whether Launch can use a NetnsAhead for this init: it shares the caller's memory and wants a
// new network namespace.
bool CanMakeNetnsAhead(const LaunchConfig& cfg);

// A new network namespace, made on a thread of its own while the caller creates the cgroup and
// clones the init. Setting up a network namespace (its sysctl tables, loopback device and
// per-protocol state) is the costliest step of a container start, and it needs nothing else;
// the init waits for it, and enters it, just before it mounts sysfs.
class NetnsAhead {
 public:
  NetnsAhead();   // starts making it
  ~NetnsAhead();  // waits for the thread, closes the namespace
  NetnsAhead(const NetnsAhead&) = delete;
  NetnsAhead& operator=(const NetnsAhead&) = delete;
  // In the init, which shares this memory: waits until the namespace exists, then enters it.
  Status EnterFromInit() const;
  // Waits until the namespace is made (before a clone that copies memory instead of sharing it).
  void Finish() { task_.Join(); }

 private:
  void Make();
  std::atomic<int> state_{0};  // 0 while making; the namespace fd + 1; -errno on failure
  pid_t pid_;                  // this process, whose /proc/<pid>/fd the init opens it through
  AsideTask task_;             // last: starts once the fields above are set
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
