// Runtime::Exec: a new process inside a running container's namespaces and cgroup.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/console.h"
#include "runtime/helper.h"
#include "runtime/process.h"
#include "runtime/runtime.h"
#include "runtime/seccomp.h"
#include "runtime/state.h"
#include "runtime/sys.h"

namespace sampan::runtime {

namespace {

[[noreturn]] void ExecFail(int fd, const Status& st) {
  std::string m = st.message();
  (void)WriteAll(fd, m.data(), m.size());
  ::_exit(255);
}

// Whether /proc/<pid>/ns/<name> differs from ours (only then is setns needed).
bool DiffersFromOurs(pid_t pid, const std::string& name) {
  struct stat a, b;
  std::string theirs = "/proc/" + std::to_string(pid) + "/ns/" + name;
  std::string ours = "/proc/self/ns/" + name;
  if (::stat(theirs.c_str(), &a) != 0 || ::stat(ours.c_str(), &b) != 0) return false;
  return a.st_ino != b.st_ino || a.st_dev != b.st_dev;
}

}  // namespace

Result<int> Runtime::Exec(const ExecOptions& opts) {
  ASSIGN_OR_RETURN(ExecProcess p, StartExec(opts));
  if (opts.detach) return static_cast<int>(p.pid);
  return WaitExec(p);
}

Result<int> Runtime::WaitExec(const ExecProcess& p, int timeout_ms) {
  if (p.waiter <= 0) return Invalid("exec: no process to wait for");
  if (timeout_ms >= 0) {
    int pidfd = PidfdOpen(p.waiter);
    if (pidfd < 0) return ErrnoStatus("pidfd_open", errno);
    struct pollfd pf = {pidfd, POLLIN, 0};
    int n;
    do {
      n = ::poll(&pf, 1, timeout_ms);
    } while (n < 0 && errno == EINTR);
    ::close(pidfd);
    if (n == 0) return Status(Code::kTimeout, "exec: process still running");
  }
  int st = 0;
  while (::waitpid(p.waiter, &st, 0) < 0) {
    if (errno != EINTR) return ErrnoStatus("wait", errno);
  }
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  return 128 + WTERMSIG(st);
}

Result<ExecProcess> Runtime::StartExec(const ExecOptions& opts) {
  if (ProcessIsMultithreaded()) return StartExecViaHelper(opts_, opts);
  StateDir dir(opts_.root);
  ASSIGN_OR_RETURN(StoredState s, dir.Load(opts.id));
  std::string status = ComputeStatus(dir, s, dir.LoadExit(opts.id));
  if (status != "running" && status != "created")
    return Conflict("cannot exec in container \"" + opts.id + "\": it is " + status);
  RETURN_IF_ERROR(ValidateProcess(opts.process, "process"));
  std::string config = std::move(s.config);
  if (config.empty()) {  // state written by an older version keeps it in config.json
    ASSIGN_OR_RETURN(config, dir.LoadConfig(opts.id));
  }
  ASSIGN_OR_RETURN(Spec spec, ParseSpec(config));
  if (opts.process.terminal && opts.console_socket.empty())
    return Invalid("process.terminal: a terminal needs --console-socket");
  // Namespaces: open every one that differs from ours; pid is entered here (children only).
  struct Ns {
    int flag;
    int fd;
    bool user;
  };
  std::vector<Ns> join;
  auto close_all = [&] {
    for (auto& n : join) ::close(n.fd);
  };
  const std::pair<const char*, int> kOrder[] = {{"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},
                                                {"net", CLONE_NEWNET}, {"cgroup", CLONE_NEWCGROUP},
                                                {"mnt", CLONE_NEWNS},  {"user", CLONE_NEWUSER}};
  for (auto [name, flag] : kOrder) {
    if (!DiffersFromOurs(s.pid, name)) continue;
    std::string p = "/proc/" + std::to_string(s.pid) + "/ns/" + name;
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      close_all();
      return ErrnoStatus("open " + p, errno);
    }
    join.push_back({flag, fd, flag == CLONE_NEWUSER});
  }
  if (ProcessStartTime(s.pid) != s.pid_start) {
    close_all();
    return Conflict("container \"" + opts.id + "\" is stopped");
  }
  UniqueFd console;
  if (opts.process.terminal) {
    auto c = ConnectConsoleSocket(opts.console_socket);
    if (!c.ok()) {
      close_all();
      return c.status();
    }
    console.Reset(*c);
  }
  int errp[2];
  if (::pipe2(errp, O_CLOEXEC) != 0) {
    close_all();
    return ErrnoStatus("pipe", errno);
  }
  Cgroup cg = Cgroup::Open(s.cgroup_mode, s.cgroup_path, s.cgroup_depth);
  bool pidns = DiffersFromOurs(s.pid, "pid");
  pid_t child;
  {
    // Entering the pid namespace only affects children; do it in a forked intermediate so the
    // caller (possibly the kubelet) keeps its own pid_for_children.
    int flags = SIGCHLD;
    child = static_cast<pid_t>(::syscall(SYS_clone, flags, nullptr, nullptr, nullptr, nullptr));
  }
  if (child < 0) {
    close_all();
    return ErrnoStatus("clone", errno);
  }
  if (child == 0) {
    ::close(errp[0]);
    // Intermediate: enter the pid ns and fork the real child (it alone joins the cgroup, so the
    // intermediate never counts against the container's limits).
    if (pidns) {
      std::string p = "/proc/" + std::to_string(s.pid) + "/ns/pid";
      int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || ::setns(fd, CLONE_NEWPID) != 0)
        ExecFail(errp[1], ErrnoStatus("join pid namespace", errno));
      ::close(fd);
    }
    pid_t gc = ::fork();
    if (gc < 0) ExecFail(errp[1], ErrnoStatus("fork", errno));
    if (gc > 0) {
      // Report the grandchild's host pid, then wait for it and pass its status on.
      std::string msg = "P" + std::to_string(gc) + "\n";
      (void)WriteAll(errp[1], msg.data(), msg.size());
      ::close(errp[1]);
      int st = 0;
      while (::waitpid(gc, &st, 0) < 0 && errno == EINTR) {
      }
      if (WIFEXITED(st)) ::_exit(WEXITSTATUS(st));
      ::signal(WTERMSIG(st), SIG_DFL);
      ::kill(::getpid(), WTERMSIG(st));
      ::_exit(128 + WTERMSIG(st));
    }
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (Status st = cg.JoinSelf(); !st.ok()) ExecFail(errp[1], st.WithContext("join cgroup"));
    for (int pass = 0; pass < 2; ++pass)
      for (const Ns& n : join)
        if (n.user == (pass == 1) && ::setns(n.fd, n.flag) != 0)
          ExecFail(errp[1], ErrnoStatus("join namespace", errno));
    for (const Ns& n : join) ::close(n.fd);
    const Process& proc = opts.process;
    ::setsid();
    if (Status st = ApplyOomScoreAdj(proc); !st.ok()) ExecFail(errp[1], st);
    if (Status st = ApplyRlimits(proc); !st.ok()) ExecFail(errp[1], st);
    if (proc.terminal) {
      if (Status st = SetupConsole(console.get(), false); !st.ok()) ExecFail(errp[1], st);
      console.Reset();
    } else {
      InstallStdio(opts.stdin_fd, opts.stdout_fd, opts.stderr_fd);
    }
    if (Status st = EnterCwd(proc.cwd); !st.ok()) ExecFail(errp[1], st);
    std::vector<std::string> env = ProcessEnv(proc);
    auto exe = FindExecutable(proc.args[0], env);
    if (!exe.ok()) ExecFail(errp[1], exe.status());
    ResetSignalsForExec();  // before seccomp, which might refuse rt_sigaction
    if (Status st = ApplyNoNewPrivileges(proc); !st.ok()) ExecFail(errp[1], st);
    if (spec.linux.seccomp && !proc.no_new_privileges)
      if (Status st = LoadSeccomp(*spec.linux.seccomp); !st.ok()) ExecFail(errp[1], st);
    if (Status st = ApplyUserAndCaps(proc); !st.ok()) ExecFail(errp[1], st);
    if (spec.linux.seccomp && proc.no_new_privileges)
      if (Status st = LoadSeccomp(*spec.linux.seccomp); !st.ok()) ExecFail(errp[1], st);
    CloseExecFrom(3 + opts.preserve_fds);
    std::vector<std::string> args = proc.args;
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    ::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
    ::execve(exe->c_str(), argv.data(), envp.data());
    ExecFail(errp[1], ErrnoStatus("exec " + *exe, errno));
  }
  close_all();
  console.Reset();
  ::close(errp[1]);
  // "P<pid>\n" from the intermediate, then an error text from the grandchild if exec failed.
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(errp[0], buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(errp[0]);
  pid_t gc = 0;
  if (!out.empty() && out[0] == 'P') {
    size_t nl = out.find('\n');
    gc = static_cast<pid_t>(std::atoi(out.c_str() + 1));
    out = nl == std::string::npos ? "" : out.substr(nl + 1);
  }
  if (!out.empty() || gc == 0) {
    int st;
    ::waitpid(child, &st, 0);
    return Internal(out.empty() ? "exec failed" : out);
  }
  if (!opts.pid_file.empty())
    (void)WriteFileAtomic(AbsPath(opts.pid_file), std::to_string(gc), 0644);
  if (opts.report_fd >= 0) {
    std::string msg = "P" + std::to_string(gc) + "\n";
    (void)WriteAll(opts.report_fd, msg.data(), msg.size());
  }
  ExecProcess p;
  p.pid = gc;
  p.waiter = opts.detach ? 0 : child;
  return p;
}

}  // namespace sampan::runtime
