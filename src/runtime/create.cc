// Runtime::Create (detached, with a monitor) and Runtime::RunForeground.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include "runtime/attach.h"
#include "runtime/console.h"
#include "runtime/helper.h"
#include "runtime/hooks.h"
#include "runtime/launch.h"
#include "runtime/monitor.h"
#include "runtime/runtime.h"
#include "runtime/seccomp.h"
#include "runtime/state.h"
#include "runtime/sys.h"

namespace sampan::runtime {

namespace {

struct Prepared {
  Spec spec;
  std::string config_text;
  std::string bundle, rootfs, cgroup_path;
  CgroupMode mode;
};

Result<Prepared> Prepare(const CreateOptions& opts, const RuntimeOptions& ro) {
  if (!ValidContainerId(opts.id)) return Invalid("invalid container id \"" + opts.id + "\"");
  Prepared p;
  p.bundle = AbsPath(opts.bundle.empty() ? "." : opts.bundle);
  auto text = ReadWholeFile(p.bundle + "/config.json");
  if (!text.ok())
    return Invalid("bundle " + p.bundle + ": cannot read config.json: " + text.status().message());
  p.config_text = std::move(*text);
  ASSIGN_OR_RETURN(p.spec, ParseSpec(p.config_text));
  RETURN_IF_ERROR(ValidateSpec(p.spec, p.bundle));
  if (p.spec.process.terminal && opts.console_socket.empty() && !opts.attach)
    return Invalid("process.terminal: a terminal needs --console-socket (or --attach)");
  if (p.spec.process.terminal && opts.attach && !opts.console_socket.empty())
    return Invalid("process.terminal: --attach keeps the terminal in the monitor: no --console-socket");
  p.rootfs = p.spec.root_path[0] == '/' ? p.spec.root_path : CleanJoin(p.bundle, p.spec.root_path);
  ASSIGN_OR_RETURN(p.cgroup_path,
                   CgroupRelativePath(p.spec.linux.cgroups_path, opts.id, ro.systemd_cgroup));
  p.mode = DetectCgroupMode();
  return p;
}

StoredState MakeStored(const Prepared& p, const CreateOptions& opts, pid_t pid, pid_t monitor,
                       const Cgroup& cg) {
  StoredState s;
  s.id = opts.id;
  s.bundle = p.bundle;
  s.rootfs = p.rootfs;
  s.created = NowRfc3339Nano();
  s.pid = pid;
  s.pid_start = ProcessStartTime(pid);
  s.monitor_pid = monitor;
  s.annotations = p.spec.annotations;
  s.cgroup_mode = cg.mode();
  s.cgroup_path = cg.rel_path();
  s.cgroup_depth = cg.created_depth();
  for (const auto& n : p.spec.linux.namespaces) s.namespaces.emplace_back(NsTypeName(n.type));
  s.log_path = opts.log_path;
  s.config = p.config_text;
  return s;
}

Status WritePidFile(const std::string& path, pid_t pid) {
  if (path.empty()) return Status();
  return WriteFileAtomic(AbsPath(path), std::to_string(pid), 0644);
}

// Runs in the monitor (a grandchild of the caller). Reports "O" or "E<message>" on `report`.
[[noreturn]] void MonitorMain(const Prepared& p, const CreateOptions& opts, const StateDir& dir,
                              int report, int console_fd) {
  ::setsid();
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  auto fail = [&](const Status& st) {
    std::string m = "E" + st.message();
    (void)WriteAll(report, m.data(), m.size());
    ::_exit(1);
  };
  auto cg = Cgroup::Create(p.mode, p.cgroup_path, p.spec.linux);
  if (!cg.ok()) fail(cg.status().WithContext("cgroup " + p.cgroup_path));
  int out[2] = {-1, -1}, err[2] = {-1, -1}, in[2] = {-1, -1};
  // A terminal kept by the monitor (attach): the init sends the pty master over a socket pair.
  int console_pair[2] = {-1, -1};
  bool own_terminal = p.spec.process.terminal && opts.attach;
  if (own_terminal) {
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console_pair) != 0) {
      (void)cg->Destroy();
      fail(ErrnoStatus("socketpair", errno));
    }
    console_fd = console_pair[1];
  } else if (!opts.log_path.empty() || opts.attach) {
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 ||
        (opts.attach && ::pipe2(in, O_CLOEXEC) != 0)) {
      (void)cg->Destroy();
      fail(ErrnoStatus("pipe", errno));
    }
  }
  LaunchConfig lc;
  lc.spec = &p.spec;
  lc.id = opts.id;
  lc.bundle = p.bundle;
  lc.rootfs = p.rootfs;
  lc.cgroup = &*cg;
  lc.fifo_path = dir.FifoPath(opts.id);
  lc.console_fd = console_fd;
  lc.stdout_fd = out[1];
  lc.stderr_fd = err[1];
  lc.stdin_fd = in[0];
  lc.preserve_fds = opts.preserve_fds;
  lc.no_pivot = opts.no_pivot;
  auto launched = Launch(lc);
  if (out[1] >= 0) ::close(out[1]);
  if (err[1] >= 0) ::close(err[1]);
  if (in[0] >= 0) ::close(in[0]);
  if (console_fd >= 0) ::close(console_fd);
  if (!launched.ok()) {
    if (console_pair[0] >= 0) ::close(console_pair[0]);
    (void)cg->Destroy();
    fail(launched.status());
  }
  StoredState s = MakeStored(p, opts, launched->pid, ::getpid(), *cg);
  Status st = dir.Save(s);
  if (st.ok()) st = WritePidFile(opts.pid_file, launched->pid);
  int master = -1;
  if (st.ok() && own_terminal) {
    // The init has set its terminal up by now (Launch returned): the master is waiting.
    pollfd pfd = {console_pair[0], POLLIN, 0};
    if (::poll(&pfd, 1, 10000) != 1) {
      st = Internal("the container's init did not send its terminal");
    } else if (auto m = RecvFd(console_pair[0], nullptr); m.ok()) {
      master = *m;
      out[0] = master;  // the terminal's output is the container's stdout
      in[1] = ::fcntl(master, F_DUPFD_CLOEXEC, 0);
    } else {
      st = m.status();
    }
  }
  if (console_pair[0] >= 0) ::close(console_pair[0]);
  std::unique_ptr<AttachServer> attach;
  if (st.ok() && opts.attach) {
    auto server = AttachServer::Listen(dir.Dir(opts.id), in[1], own_terminal ? master : -1);
    in[1] = -1;  // the server owns it (also on failure)
    if (server.ok()) {
      attach = std::move(*server);
    } else {
      st = server.status().WithContext("attach socket");
    }
  }
  if (!st.ok()) {
    ::kill(launched->pid, SIGKILL);
    ::waitpid(launched->pid, nullptr, 0);
    (void)cg->Destroy();
    fail(st);
  }
  (void)WriteAll(report, "O", 1);
  ::close(report);
  // The caller's stdio belongs to the container now; the monitor keeps none of it.
  int devnull = ::open("/dev/null", O_RDWR);
  if (devnull >= 0) {
    for (int i = 0; i < 3; ++i) ::dup2(devnull, i);
    if (devnull > 2) ::close(devnull);
  }
  launched->sync.Reset();
  MonitorContainer(launched->pid, out[0], err[0], opts.log_path, *cg, dir, opts.id, attach.get());
  attach.reset();
  ::_exit(0);
}

}  // namespace

Status Runtime::Create(const CreateOptions& opts) {
  if (ProcessIsMultithreaded()) {
    std::vector<std::string> args = {"create", "--bundle",
                                     AbsPath(opts.bundle.empty() ? "." : opts.bundle)};
    if (!opts.console_socket.empty())
      args.insert(args.end(), {"--console-socket", opts.console_socket});
    if (!opts.pid_file.empty()) args.insert(args.end(), {"--pid-file", AbsPath(opts.pid_file)});
    if (!opts.log_path.empty()) args.insert(args.end(), {"--log-path", opts.log_path});
    if (opts.preserve_fds)
      args.insert(args.end(), {"--preserve-fds", std::to_string(opts.preserve_fds)});
    if (opts.no_pivot) args.push_back("--no-pivot");
    if (opts.attach) args.push_back("--attach");
    args.push_back(opts.id);
    return RunHelper(opts_, args).status();
  }
  ASSIGN_OR_RETURN(Prepared p, Prepare(opts, opts_));
  StateDir dir(opts_.root);
  RETURN_IF_ERROR(dir.Make(opts.id));
  auto cleanup = [&](Status st) {
    (void)dir.Remove(opts.id);
    return st;
  };
  // 0622 whatever the umask: an init whose root maps to another host uid must open it.
  if (::mkfifo(dir.FifoPath(opts.id).c_str(), 0622) != 0 ||
      ::chmod(dir.FifoPath(opts.id).c_str(), 0622) != 0)
    return cleanup(ErrnoStatus("mkfifo " + dir.FifoPath(opts.id), errno));
  UniqueFd console;
  if (p.spec.process.terminal && !opts.attach) {  // with attach the monitor keeps the terminal
    auto c = ConnectConsoleSocket(opts.console_socket);
    if (!c.ok()) return cleanup(c.status());
    console.Reset(*c);
  }
  int rep[2];
  if (::pipe2(rep, O_CLOEXEC) != 0) return cleanup(ErrnoStatus("pipe", errno));
  pid_t mid = ::fork();
  if (mid < 0) {
    ::close(rep[0]);
    ::close(rep[1]);
    return cleanup(ErrnoStatus("fork", errno));
  }
  if (mid == 0) {
    ::close(rep[0]);
    // Double fork: the monitor must not be the caller's child (it outlives the caller).
    pid_t m = ::fork();
    if (m != 0) ::_exit(m < 0 ? 1 : 0);
    MonitorMain(p, opts, dir, rep[1], console.get());
  }
  ::close(rep[1]);
  console.Reset();
  ::waitpid(mid, nullptr, 0);
  // One message (atomic on a pipe): the init keeps a copy of the write end until it
  // executes, so reading to EOF would wait for `start`.
  std::string report;
  char buf[4096];
  ssize_t n;
  do {
    n = ::read(rep[0], buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  if (n > 0) report.assign(buf, static_cast<size_t>(n));
  ::close(rep[0]);
  if (report == "O") return Status();
  if (report.empty()) report = "Emonitor exited before the container was created";
  return cleanup(Internal(report.substr(1)));
}

namespace {
pid_t g_forward_pid = 0;
void ForwardSignal(int sig) {
  if (g_forward_pid > 0) ::kill(g_forward_pid, sig);
}
}  // namespace

Result<int> Runtime::RunForeground(const CreateOptions& opts) {
  ASSIGN_OR_RETURN(Prepared p, Prepare(opts, opts_));
  LaunchConfig lc;
  lc.spec = &p.spec;
  lc.id = opts.id;
  lc.bundle = p.bundle;
  lc.rootfs = p.rootfs;
  lc.preserve_fds = opts.preserve_fds;
  lc.no_pivot = opts.no_pivot;
  // Hooks need the parent at the right moments; without them the init runs straight through.
  const Hooks& hk = p.spec.hooks;
  lc.hold_for_start = !hk.prestart.empty() || !hk.create_runtime.empty() || !hk.poststart.empty();
  // The network namespace is made on another thread while the state and the cgroup are set up.
  std::optional<NetnsAhead> netns;
  if (CanMakeNetnsAhead(lc)) lc.netns_ahead = &netns.emplace();
  StateDir dir(opts_.root);
  ASSIGN_OR_RETURN(UniqueFd state_file, dir.MakeFile(opts.id));
  auto cg = Cgroup::Create(p.mode, p.cgroup_path, p.spec.linux);
  if (!cg.ok()) {
    (void)dir.Remove(opts.id);
    return cg.status().WithContext("cgroup " + p.cgroup_path);
  }
  auto cleanup = [&](Status st) -> Status {
    (void)cg->SignalAll(SIGKILL);
    cg->WaitEmpty(1000);
    (void)cg->Destroy();
    (void)dir.Remove(opts.id);
    return st;
  };
  UniqueFd console;
  if (p.spec.process.terminal) {
    auto c = ConnectConsoleSocket(opts.console_socket);
    if (!c.ok()) return cleanup(c.status());
    console.Reset(*c);
  }
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  lc.cgroup = &*cg;
  lc.console_fd = console.get();
  auto launched = Launch(lc);
  console.Reset();
  netns.reset();  // the init is in it (or failed): the thread and the descriptor go
  if (!launched.ok()) return cleanup(launched.status());
  StoredState s = MakeStored(p, opts, launched->pid, ::getpid(), *cg);
  Status st = dir.SaveFile(state_file.get(), s);
  state_file.Reset();
  if (st.ok()) st = WritePidFile(opts.pid_file, launched->pid);
  if (!st.ok()) return cleanup(st);
  g_forward_pid = launched->pid;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = ForwardSignal;
    sa.sa_flags = SA_RESTART;
    ::sigaction(sig, &sa, nullptr);
  }
  if (!p.spec.hooks.prestart.empty()) {
    Status hs =
        RunHooks(p.spec.hooks.prestart,
                 HookStateJson(p.spec, opts.id, launched->pid, p.bundle, "created"), "prestart");
    if (!hs.ok()) {
      ::kill(launched->pid, SIGKILL);
      ::waitpid(launched->pid, nullptr, 0);
      return cleanup(hs);
    }
  }
  if (Status rs = Release(*launched); !rs.ok()) return cleanup(rs);
  if (!p.spec.hooks.poststart.empty()) {
    (void)RunHooksWarn(p.spec.hooks.poststart,
                       HookStateJson(p.spec, opts.id, launched->pid, p.bundle, "running"),
                       "poststart");
  }
  int status = 0;
  for (;;) {
    int wst = 0;
    pid_t r = ::waitpid(-1, &wst, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (r == launched->pid) {
      status = wst;
      break;
    }
  }
  g_forward_pid = 0;
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (Status le = LaunchError(*launched); !le.ok()) return cleanup(le);
  // The container is gone: stop stragglers (only a container without a pid namespace of its
  // own can have any: the kernel ends the rest of one with its init), run poststop hooks,
  // remove everything.
  const Namespace* pidns = p.spec.linux.FindNamespace(NsType::kPid);
  bool own_pidns = pidns && pidns->path.empty();
  if (!own_pidns) {
    if (auto left = cg->Pids(); !left.ok() || !left->empty()) {
      (void)cg->SignalAll(SIGKILL);
      cg->WaitEmpty(2000);
    }
  }
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  if (!p.spec.hooks.poststop.empty())
    (void)RunHooksWarn(p.spec.hooks.poststop,
                       HookStateJson(p.spec, opts.id, 0, p.bundle, "stopped"), "poststop");
  (void)cg->Destroy();
  (void)dir.Remove(opts.id);
  return code;
}

}  // namespace sampan::runtime
