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
  // The monitor keeps the write end of the container's stdin pipe and serves
  // <root>/<id>/attach (ConnectAttach): output goes to every attached client (and to the log),
  // input from clients goes to the container's stdin. With process.terminal (and no
  // console_socket) the monitor keeps the pty master itself: the terminal's output is the
  // container's stdout (log and clients), client input goes to the terminal and clients may
  // set its size.
  bool attach = false;
};

struct ExecOptions {
  std::string id;
  Process process;  // complete process (runc builds it from config.json + flags)
  std::string console_socket;
  std::string pid_file;
  bool detach = false;
  int preserve_fds = 0;
  // The process's stdin/stdout/stderr: the caller's descriptors, duplicated into it (ignored
  // with process.terminal). -1 keeps the default: the caller's own stdio when Exec runs
  // in-process (single-threaded callers such as the CLI), /dev/null through the helper.
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;
  // Internal to the helper protocol (`exec --report-fd`): "P<pid>\n" is written here once
  // the process runs.
  int report_fd = -1;
};

// A process started by Runtime::StartExec.
struct ExecProcess {
  pid_t pid = 0;     // the process (host pid): signal it to stop it
  pid_t waiter = 0;  // the caller's child that exits with the process's status (0: detached)
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
  // Starts an exec process and returns once it runs (its executable was found and started);
  // the caller must then WaitExec (that reaps the waiter). Errors as Exec. With `detach`
  // nothing is left to wait for (waiter 0).
  Result<ExecProcess> StartExec(const ExecOptions& opts);
  // The exit status (128+signal) of a started process. With timeout_ms >= 0: Timeout when
  // it still runs then (kill p.pid and wait again).
  Result<int> WaitExec(const ExecProcess& p, int timeout_ms = -1);
  // Connects to the attach socket of a container created with CreateOptions::attach.
  // Frames both ways: 1 byte stream (0 stdin, 1 stdout, 2 stderr, 3 exit, 4 resize), 4 bytes
  // big-endian length, payload. A client sends stdin frames; an empty stdin frame closes the
  // container's stdin (stdinOnce; with a terminal no further input is taken). With a
  // terminal a client may send resize frames: 4 bytes, columns and rows (16-bit big-endian). It receives stdout/stderr frames and, when the container
  // has exited, one exit frame whose payload is the exit code in decimal, then EOF.
  // NotFound when the container has no attach socket or has exited.
  Result<int> ConnectAttach(const std::string& id) const;
  // The process of a container's config.json (for building an exec process).
  Result<Spec> ContainerSpec(const std::string& id) const;

  const RuntimeOptions& options() const { return opts_; }

 private:
  RuntimeOptions opts_;
};

// Parses "KILL", "SIGKILL", "9"; nullopt if unknown.
std::optional<int> ParseSignal(const std::string& s);

}  // namespace sampan::runtime
