// sampan's OCI runtime, as a library: the kubelet calls it in-process, `sampan runtime`
// (runc's command line) is a thin CLI over it.
//
// Containers live in a state directory (RuntimeOptions::root) so that any process, including
// a restarted kubelet, can find them. A detached container has a small monitor process that
// reaps its init, records the exit code/time (and OOM kill) and, when asked, writes the
// container's stdout/stderr to a CRI-format log.
//
// Threads: Create/Run/Exec clone namespaces and must not do so from a multithreaded process.
// When the calling process has more than one thread they re-execute the sampan binary
// (RuntimeOptions::self_exe) as a helper instead. The other methods are safe from any thread,
// but calls on one container must be serialised by the caller.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/cgroups.h"
#include "runtime/spec.h"
#include "util/status.h"

namespace sampan::runtime {

struct RuntimeOptions {
  std::string root = "/run/sampan";  // state directory
  bool systemd_cgroup = false;       // cgroupsPath is "slice:prefix:name"
  std::string self_exe;              // sampan binary for helpers; default /proc/self/exe
};

struct CreateOptions {
  std::string id;
  std::string bundle;          // directory holding config.json (and usually rootfs)
  std::string console_socket;  // with process.terminal: where the pty master goes
  std::string pid_file;        // written with the init's pid
  std::string log_path;        // if set, the monitor writes stdout/stderr here (CRI format)
  int preserve_fds = 0;        // fds 3..3+N-1 pass into the container
  bool no_pivot = false;
};

struct ExecOptions {
  std::string id;
  Process process;  // complete process (runc builds it from config.json + flags)
  std::string console_socket;
  std::string pid_file;
  bool detach = false;
  int preserve_fds = 0;
};

struct ContainerState {
  std::string oci_version = "1.0.2";
  std::string id, status, bundle, rootfs, created, owner;
  pid_t pid = 0;
  std::map<std::string, std::string> annotations;
  // Set once the monitor has reaped the init.
  bool exited = false;
  int exit_code = 0;
  std::string finished_at;
  bool oom_killed = false;
};
// The OCI state JSON; `with_exit` adds exitCode/finishedAt/oomKilled when stopped.
std::string StateJson(const ContainerState& s, bool with_exit);

class Runtime {
 public:
  explicit Runtime(RuntimeOptions opts);

  // Creates the container up to the point where only process.args is left to run.
  // AlreadyExists if the id is taken; Invalid for a bad config (nothing is left behind).
  Status Create(const CreateOptions& opts);
  // Runs process.args of a created container. Conflict if it is not "created".
  Status Start(const std::string& id);
  // create + start + wait + delete in the caller's process; returns the exit status
  // (128+signal when killed). Stdio is the caller's. Single-threaded callers only.
  Result<int> RunForeground(const CreateOptions& opts);
  Result<ContainerState> State(const std::string& id) const;
  Result<std::vector<ContainerState>> List() const;
  // Signals the init (or, with `all`, every process of the container).
  Status Kill(const std::string& id, int sig, bool all);
  // Removes a stopped (or created) container; `force` kills a running one first.
  // With force, an unknown id is success.
  Status Delete(const std::string& id, bool force);
  Status Pause(const std::string& id);
  Status Resume(const std::string& id);
  // Host pids of the container's processes.
  Result<std::vector<pid_t>> Pids(const std::string& id) const;
  Result<CgroupStats> Stats(const std::string& id) const;
  // Runs an extra process in a running container (its namespaces, cgroup, seccomp profile).
  // Returns the exit status, or the pid when detached.
  Result<int> Exec(const ExecOptions& opts);
  // The process of a container's config.json (for building an exec process).
  Result<Spec> ContainerSpec(const std::string& id) const;

  const RuntimeOptions& options() const { return opts_; }

 private:
  RuntimeOptions opts_;
};

// Parses "KILL", "SIGKILL", "9"; nullopt if unknown.
std::optional<int> ParseSignal(const std::string& s);

}  // namespace sampan::runtime
