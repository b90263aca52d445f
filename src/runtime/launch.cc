// The parent side of container creation and the init's own code (InitMain), which runs in
// the cloned child and ends in execve.
#include "runtime/launch.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

#include "runtime/console.h"
#include "runtime/hooks.h"
#include "runtime/process.h"
#include "runtime/rootfs.h"
#include "runtime/seccomp.h"

namespace sampan::runtime {

namespace {

bool SendMsg(int fd, const std::string& m) {
  return ::send(fd, m.data(), m.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(m.size());
}

// One message (SOCK_SEQPACKET keeps boundaries); empty on EOF/error.
std::string RecvMsg(int fd) {
  char buf[8192];
  ssize_t n;
  do {
    n = ::recv(fd, buf, sizeof buf, 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return "";
  return std::string(buf, static_cast<size_t>(n));
}

[[noreturn]] void InitFail(int sock, const Status& st) {
  SendMsg(sock, "error:" + st.message());
  ::_exit(1);
}

#define INIT_CHECK(sock, expr)          \
  do {                                  \
    ::sampan::Status _s = (expr);       \
    if (!_s.ok()) InitFail((sock), _s); \
  } while (0)

struct NsFd {
  NsType type;
  int fd;
};

bool NewUserNs(const LaunchConfig& cfg) {
  const Namespace* user = cfg.spec->linux.FindNamespace(NsType::kUser);
  return user && user->path.empty();
}

// Whether the init moves itself into the cgroup (v1/hybrid, no new user namespace: the host
// cgroup files are writable by it and "tasks" avoids an RCU grace period), or the parent does.
// Neither is needed when the init was cloned straight into its cgroup (v2, `in_cgroup`).
bool SelfJoin(const LaunchConfig& cfg) {
  return !NewUserNs(cfg) && cfg.cgroup->mode() != CgroupMode::kV2;
}

// Whether the init waits for the parent's "go": for its uid/gid maps, or for the parent to move
// it into its v2 cgroup.
bool NeedsGo(const LaunchConfig& cfg, bool in_cgroup) {
  return NewUserNs(cfg) || (cfg.cgroup->mode() == CgroupMode::kV2 && !in_cgroup);
}

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

// clone3's arguments up to `cgroup` (the kernel's struct clone_args, CLONE_ARGS_SIZE_VER2).
struct CloneArgs {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
      set_tid_size, cgroup;
};

// fork-like clone3 (the child continues on a copy of this stack) that starts the child in the
// cgroup v2 directory `cgroup_fd`: no migration afterwards (a write to cgroup.procs takes the
// global threadgroup lock for writing), and the init need not wait for the parent.
pid_t CloneIntoCgroup(uint64_t ns_flags, int cgroup_fd) {
  CloneArgs a{};
  a.flags = ns_flags | CLONE_INTO_CGROUP;
  a.exit_signal = SIGCHLD;
  a.cgroup = static_cast<uint64_t>(cgroup_fd);
  return static_cast<pid_t>(::syscall(SYS_clone3, &a, sizeof a));
}

// What the init needs when it starts on a stack of its own (shared memory).
struct InitStart {
  const LaunchConfig* cfg;
  int sock;         // the init's end of the socket pair
  int parent_sock;  // the caller's end: closed in the init
  int fifo_fd;
  const std::vector<NsFd>* join;
  bool in_cgroup;
  const sigset_t* mask;  // the caller's signal mask (every signal is blocked at the clone)
};

[[noreturn]] void InitMain(const LaunchConfig& cfg, int sock, int fifo_fd,
                           const std::vector<NsFd>& join, bool in_cgroup, bool signals_reset);

int InitEntry(void* p) {
  const auto* a = static_cast<const InitStart*>(p);
  // Our own dispositions (no CLONE_SIGHAND), still the caller's handlers: default them before
  // any signal can be delivered here, then take the caller's mask back.
  ResetSignalsForExec();
  ::sigprocmask(SIG_SETMASK, a->mask, nullptr);
  ::close(a->parent_sock);  // our own descriptor table: the caller's copy stays open
  InitMain(*a->cfg, a->sock, a->fifo_fd, *a->join, a->in_cgroup, /*signals_reset=*/true);
}

// The init's stack when it shares the caller's memory: touched only as deep as it goes.
constexpr size_t kInitStackSize = 1 << 20;

#if defined(__x86_64__)
// clone3 onto a new stack (glibc has no clone3 wrapper): the child calls fn(arg) there and never
// returns to the caller's frames. Only the syscall's own registers are clobbered in the child, so
// fn and arg travel in r12/r13; the kernel sets the child's stack pointer to stack + stack_size.
pid_t Clone3OnStack(CloneArgs* args, int (*fn)(void*), void* arg) {
  long ret;
  register int (*r12)(void*) asm("r12") = fn;
  register void* r13 asm("r13") = arg;
  asm volatile(
      "syscall\n\t"
      "testq %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "xorl %%ebp, %%ebp\n\t"
      "movq %%r13, %%rdi\n\t"
      "callq *%%r12\n\t"
      "movl %%eax, %%edi\n\t"
      "movl %[exit_nr], %%eax\n\t"
      "syscall\n\t"
      "hlt\n\t"
      "1:\n\t"
      : "=a"(ret)
      : "0"(static_cast<long>(SYS_clone3)), "D"(args), "S"(sizeof *args), "r"(r12),
        "r"(r13), [exit_nr] "i"(SYS_exit)
      : "rcx", "r11", "memory");
  if (ret < 0) {
    errno = static_cast<int>(-ret);
    return -1;
  }
  return static_cast<pid_t>(ret);
}
#endif

// Runs in the cloned child. Never returns.
// `signals_reset`: InitEntry has defaulted every disposition already.
[[noreturn]] void InitMain(const LaunchConfig& cfg, int sock, int fifo_fd,
                           const std::vector<NsFd>& join, bool in_cgroup, bool signals_reset) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  const Spec& spec = *cfg.spec;
  const Process& proc = spec.process;
  // The parent's "go" says the uid/gid maps are written and we are in the cgroup (NeedsGo: a new
  // user namespace, or cgroup v2 when clone3 could not start us in the cgroup; the cgroup
  // namespace must be made inside the cgroup before cgroup2 is mounted). Otherwise we join the
  // cgroup ourselves (v1) or are in it already (v2), and run straight through.
  const Namespace* user = spec.linux.FindNamespace(NsType::kUser);
  const Namespace* cgns = spec.linux.FindNamespace(NsType::kCgroup);
  pid_t host_pid = 0;
  auto wait_go = [&] {
    if (host_pid != 0) return;
    std::string go = RecvMsg(sock);
    if (go.rfind("go ", 0) != 0) ::_exit(1);
    host_pid = static_cast<pid_t>(std::atoi(go.c_str() + 3));
    // A new cgroup namespace is rooted at the cgroup we are in now: the container's.
    if (cgns && cgns->path.empty() && ::unshare(CLONE_NEWCGROUP) != 0)
      InitFail(sock, ErrnoStatus("create cgroup namespace", errno));
  };
  if (!NeedsGo(cfg, in_cgroup)) {
    // Before any setns: the cgroup paths are the host's. Our host pid (for the hooks that run
    // in here) is what the host's /proc/self names.
    if (!spec.hooks.create_container.empty() || !spec.hooks.start_container.empty()) {
      char buf[32] = {0};
      if (::readlink("/proc/self", buf, sizeof buf - 1) <= 0)
        InitFail(sock, ErrnoStatus("readlink /proc/self", errno));
      host_pid = static_cast<pid_t>(std::atoi(buf));
    }
    if (!in_cgroup) {
      if (Status st = cfg.cgroup->JoinSelf(); !st.ok())
        InitFail(sock, st.WithContext("join cgroup"));
    }
    if (cgns && cgns->path.empty() && ::unshare(CLONE_NEWCGROUP) != 0)
      InitFail(sock, ErrnoStatus("create cgroup namespace", errno));
  } else {
    wait_go();
  }

  // Join namespaces given by path: all but user first (mount last), then user.
  for (int pass = 0; pass < 2; ++pass) {
    for (const NsFd& n : join) {
      bool user = n.type == NsType::kUser;
      bool mnt = n.type == NsType::kMount;
      if ((pass == 0) == user) continue;
      if (pass == 0 && mnt) continue;
      if (::setns(n.fd, NsCloneFlag(n.type)) != 0)
        InitFail(sock,
                 ErrnoStatus("join " + std::string(NsTypeName(n.type)) + " namespace", errno));
    }
    if (pass == 0)
      for (const NsFd& n : join)
        if (n.type == NsType::kMount && ::setns(n.fd, CLONE_NEWNS) != 0)
          InitFail(sock, ErrnoStatus("join mount namespace", errno));
  }
  for (const NsFd& n : join) ::close(n.fd);
  if (user) {
    if (::syscall(SYS_setresgid, 0, 0, 0) != 0 || ::syscall(SYS_setresuid, 0, 0, 0) != 0)
      InitFail(sock, ErrnoStatus("become root in the user namespace", errno));
  }
  ::setsid();
  if (!spec.hostname.empty() && ::sethostname(spec.hostname.data(), spec.hostname.size()) != 0)
    InitFail(sock, ErrnoStatus("hostname: sethostname", errno));
  if (!spec.domainname.empty() &&
      ::setdomainname(spec.domainname.data(), spec.domainname.size()) != 0)
    InitFail(sock, ErrnoStatus("domainname: setdomainname", errno));
  INIT_CHECK(sock, ApplyOomScoreAdj(proc));
  INIT_CHECK(sock, ApplyRlimits(proc));

  // The FIFO is reopened for writing through our fd directory once the root has changed; hold
  // that directory now, so it works without a /proc in the container (or any mount namespace).
  int fd_dir = fifo_fd >= 0 ? ::open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
  if (fifo_fd >= 0 && fd_dir < 0) InitFail(sock, ErrnoStatus("open /proc/self/fd", errno));
  bool has_mntns = spec.linux.FindNamespace(NsType::kMount) != nullptr;
  RootfsContext rctx;
  rctx.rootfs = cfg.rootfs;
  rctx.bundle = cfg.bundle;
  rctx.cgroup_mode = cfg.cgroup->mode();
  rctx.cgroup_rel_path = cfg.cgroup->rel_path();
  rctx.user_ns = user != nullptr;
  // The network namespace made ahead is entered as late as can be: before the first sysfs mount
  // (which belongs to the network namespace of whoever mounts it). Without a mount namespace,
  // now.
  if (cfg.netns_ahead) rctx.before_net_mounts = [&cfg] { return cfg.netns_ahead->EnterFromInit(); };
  if (cfg.netns_ahead && !has_mntns) INIT_CHECK(sock, cfg.netns_ahead->EnterFromInit());
  if (has_mntns) INIT_CHECK(sock, PrepareRootfs(spec, rctx));
  if (!spec.hooks.create_runtime.empty()) {
    SendMsg(sock, "hooks");
    std::string r = RecvMsg(sock);
    if (r != "ok") ::_exit(1);
  }
  if (!spec.hooks.create_container.empty())
    INIT_CHECK(sock, RunHooks(spec.hooks.create_container,
                              HookStateJson(spec, cfg.id, host_pid, cfg.bundle, "created"),
                              "createContainer"));
  if (has_mntns) {
    INIT_CHECK(sock, EnterRootfs(spec, rctx, cfg.no_pivot));
    INIT_CHECK(sock, FinishRootfs(spec));
  } else {
    if (::chroot(cfg.rootfs.c_str()) != 0) InitFail(sock, ErrnoStatus("chroot", errno));
    if (::chdir("/") != 0) InitFail(sock, ErrnoStatus("chdir /", errno));
  }
  if (proc.terminal && cfg.console_fd >= 0) {
    INIT_CHECK(sock, SetupConsole(cfg.console_fd, has_mntns));
    ::close(cfg.console_fd);
  } else {
    if (cfg.stdout_fd >= 0) {
      int devnull = cfg.stdin_fd >= 0 ? -1 : ::open("/dev/null", O_RDONLY);
      if (cfg.stdin_fd >= 0) {
        ::dup2(cfg.stdin_fd, 0);
      } else if (devnull >= 0) {
        ::dup2(devnull, 0);
        if (devnull > 2) ::close(devnull);
      }
      ::dup2(cfg.stdout_fd, 1);
      ::dup2(cfg.stderr_fd, 2);
    }
  }
  INIT_CHECK(sock, EnterCwd(proc.cwd.empty() ? "/" : proc.cwd));
  std::vector<std::string> env = ProcessEnv(proc);
  // Without process (allowed by the spec for create) the init only waits for start, then exits.
  Result<std::string> exe = std::string();
  if (spec.has_process) exe = FindExecutable(proc.args[0], env);
  if (!exe.ok()) InitFail(sock, exe.status());
  // Before seccomp, which might refuse rt_sigaction. Only createContainer hooks change a
  // disposition after InitEntry's reset; the caller's signal mask is still ours.
  if (!signals_reset || !spec.hooks.create_container.empty()) {
    ResetSignalsForExec();
  } else {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
  }
  INIT_CHECK(sock, ApplyNoNewPrivileges(proc));
  if (spec.linux.seccomp && !proc.no_new_privileges)
    INIT_CHECK(sock, LoadSeccomp(*spec.linux.seccomp));
  INIT_CHECK(sock, ApplyUserAndCaps(proc));
  if (spec.linux.seccomp && proc.no_new_privileges)
    INIT_CHECK(sock, LoadSeccomp(*spec.linux.seccomp));
  CloseExecFrom(3 + cfg.preserve_fds);
  std::vector<char*> argv, envp;
  std::vector<std::string> args = proc.args;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  // Fast foreground start: no message at all; the parent only hears of a failure.
  if (fifo_fd >= 0 || cfg.hold_for_start) SendMsg(sock, "ready");
  if (fifo_fd >= 0) {
    int w = ::openat(fd_dir, std::to_string(fifo_fd).c_str(), O_WRONLY | O_CLOEXEC);
    if (w < 0) {
      std::fprintf(stderr, "sampan init: open exec fifo: %s\n", std::strerror(errno));
      ::_exit(127);
    }
    (void)WriteAll(w, "0", 1);
    // `w` stays open (close-on-exec): `start` sees EOF once the process has really executed.
  } else if (cfg.hold_for_start && RecvMsg(sock) != "start") {
    ::_exit(1);
  }
  if (!spec.hooks.start_container.empty()) {
    Status st =
        RunHooks(spec.hooks.start_container,
                 HookStateJson(spec, cfg.id, host_pid, cfg.bundle, "running"), "startContainer");
    if (!st.ok()) {
      std::fprintf(stderr, "sampan init: %s\n", st.message().c_str());
      ::_exit(127);
    }
    // RunHooks ignores SIGPIPE while it feeds the hooks; the process gets the default back.
    ::signal(SIGPIPE, SIG_DFL);
  }
  if (!spec.has_process) ::_exit(0);
  ::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  ::execve(exe->c_str(), argv.data(), envp.data());
  int err = errno;
  if (fifo_fd < 0) SendMsg(sock, "error:exec " + *exe + ": " + std::strerror(err));
  std::fprintf(stderr, "sampan init: exec %s: %s\n", exe->c_str(), std::strerror(err));
  ::_exit(127);
}

Status WriteIdMap(pid_t pid, const char* file, const std::vector<IdMapping>& maps) {
  std::string text;
  for (const IdMapping& m : maps)
    text += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " +
            std::to_string(m.size) + "\n";
  Status st = WriteKnob("/proc/" + std::to_string(pid) + "/" + file, text);
  if (!st.ok())
    return Status(st.code(), std::string("linux.") +
                                 (file[0] == 'u' ? "uidMappings" : "gidMappings") + ": " +
                                 st.message());
  return Status();
}

}  // namespace

std::string HookStateJson(const Spec& spec, const std::string& id, pid_t pid,
                          const std::string& bundle, const std::string& status) {
  boost::json::object o;
  o["ociVersion"] = spec.oci_version.empty() ? "1.0.2" : spec.oci_version;
  o["id"] = id;
  o["status"] = status;
  o["pid"] = pid;
  o["bundle"] = bundle;
  if (!spec.annotations.empty()) {
    boost::json::object a;
    for (const auto& [k, v] : spec.annotations) a[k] = v;
    o["annotations"] = std::move(a);
  }
  return boost::json::serialize(o);
}

// The init may run on the caller's memory instead of a copy of it only for a fast foreground
// start, where the init talks to the caller only to report a failure and needs nothing from it
// until it has executed (the caller is suspended until then). A fork-like clone copies the page
// tables of this large binary, takes a copy-on-write fault for every page either side writes
// afterwards and throws the copy away again at execve: that is most of the cost of starting the
// init. The kernel refuses to enter a user or time namespace from a process that shares its
// memory, so those keep the copy.
bool SharesMemoryWithInit(const LaunchConfig& cfg) {
  if (!cfg.fifo_path.empty() || cfg.hold_for_start) return false;
  for (const Namespace& n : cfg.spec->linux.namespaces)
    if (n.type == NsType::kUser || n.type == NsType::kTime) return false;
  return true;
}

bool CanMakeNetnsAhead(const LaunchConfig& cfg) {
  const Namespace* net = cfg.spec->linux.FindNamespace(NsType::kNetwork);
  return net && net->path.empty() && SharesMemoryWithInit(cfg);
}

NetnsAhead::NetnsAhead() : pid_(::getpid()), task_([this] { Make(); }) {}

NetnsAhead::~NetnsAhead() {
  task_.Join();
  int s = state_.load(std::memory_order_acquire);
  if (s > 0) ::close(s - 1);
}

void NetnsAhead::Make() {
  // unshare moves only this thread; the namespace outlives it through the descriptor.
  int r;
  if (::unshare(CLONE_NEWNET) != 0) {
    r = -errno;
  } else {
    int fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    r = fd >= 0 ? fd + 1 : -errno;
  }
  state_.store(r, std::memory_order_release);
  ::syscall(SYS_futex, reinterpret_cast<int*>(&state_), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr,
            nullptr, 0);
}

Status NetnsAhead::EnterFromInit() const {
  int s;
  while ((s = state_.load(std::memory_order_acquire)) == 0)
    ::syscall(SYS_futex, reinterpret_cast<const int*>(&state_), FUTEX_WAIT_PRIVATE, 0, nullptr,
              nullptr, 0);
  if (s < 0) return ErrnoStatus("create network namespace", -s);
  // The descriptor is in the caller's table, which this process copied at the clone (perhaps
  // before the descriptor existed): reach it through the caller's /proc entry.
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/fd/%d", static_cast<int>(pid_), s - 1);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open the new network namespace", errno);
  int rc = ::setns(fd, CLONE_NEWNET);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus("enter the new network namespace", err);
  return Status();
}

Result<Launched> Launch(const LaunchConfig& cfg) {
  const Spec& spec = *cfg.spec;
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return ErrnoStatus("socketpair", errno);
  UniqueFd parent(sv[0]), child(sv[1]);
  std::vector<NsFd> join;
  auto close_join = [&] {
    for (const NsFd& n : join) ::close(n.fd);
  };
  uint64_t ns_flags = 0;
  for (const Namespace& n : spec.linux.namespaces) {
    if (n.path.empty()) {
      // The cgroup namespace is made by the init once it is inside the container's cgroup.
      if (n.type == NsType::kNetwork && cfg.netns_ahead) continue;  // made ahead
      if (n.type != NsType::kCgroup) ns_flags |= static_cast<uint64_t>(NsCloneFlag(n.type));
      continue;
    }
    int fd = ::open(n.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      close_join();
      return ErrnoStatus("linux.namespaces: open " + n.path, errno);
    }
    if (n.type == NsType::kPid) {
      // A pid namespace applies to children: enter it here, before the clone.
      int rc = ::setns(fd, CLONE_NEWPID);
      int err = errno;
      ::close(fd);
      if (rc != 0) {
        close_join();
        return ErrnoStatus("linux.namespaces: join pid namespace " + n.path, err);
      }
      continue;
    }
    join.push_back({n.type, fd});
  }
  UniqueFd fifo;
  if (!cfg.fifo_path.empty()) {
    int f = ::open(cfg.fifo_path.c_str(), O_PATH | O_CLOEXEC);
    if (f < 0) {
      close_join();
      return ErrnoStatus("open " + cfg.fifo_path, errno);
    }
    fifo.Reset(f);
  }
  // cgroup v2: the init starts in its cgroup. Kernels before 5.7 refuse clone3's
  // CLONE_INTO_CGROUP; then the parent moves the init (cgroup.procs).
  bool v2 = cfg.cgroup->mode() == CgroupMode::kV2;
  int cg = v2 ? ::open(cfg.cgroup->Dir("").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  bool in_cgroup = false;
  pid_t pid = -1;
  void* stack = MAP_FAILED;
  if (SharesMemoryWithInit(cfg))
    stack = ::mmap(nullptr, kInitStackSize, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack != MAP_FAILED) {
    // Signals stay blocked in the init until it has reset every disposition: a handler of
    // this process must not run in it, on this memory.
    sigset_t all, old;
    ::sigfillset(&all);
    ::sigprocmask(SIG_SETMASK, &all, &old);
    InitStart start{&cfg, child.get(), parent.get(), fifo.get(), &join, cg >= 0, &old};
    if (cg >= 0) {
#if defined(__x86_64__)
      CloneArgs a{};
      a.flags = ns_flags | CLONE_INTO_CGROUP | CLONE_VM | CLONE_VFORK;
      a.exit_signal = SIGCHLD;
      a.stack = reinterpret_cast<uint64_t>(stack);
      a.stack_size = kInitStackSize;
      a.cgroup = static_cast<uint64_t>(cg);
      pid = Clone3OnStack(&a, InitEntry, &start);
      in_cgroup = pid > 0;
#endif
    } else if (!v2) {
      // CLONE_VFORK: we resume once the init has executed process.args or exited.
      pid = ::clone(InitEntry, static_cast<char*>(stack) + kInitStackSize,
                    static_cast<int>(ns_flags) | CLONE_VM | CLONE_VFORK | SIGCHLD, &start);
    }
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    ::munmap(stack, kInitStackSize);
  }
  // A copy of this memory sees the namespace made ahead only if it exists before the clone.
  if (pid < 0 && cfg.netns_ahead) cfg.netns_ahead->Finish();
  if (pid < 0 && cg >= 0) {
    pid = CloneIntoCgroup(ns_flags, cg);
    in_cgroup = pid >= 0;
  }
  if (pid < 0)
    pid = static_cast<pid_t>(
        ::syscall(SYS_clone, ns_flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
  if (cg >= 0) ::close(cg);
  if (pid < 0) {
    int err = errno;
    close_join();
    return ErrnoStatus("clone", err);
  }
  if (pid == 0) {
    parent.Reset();
    InitMain(cfg, child.get(), fifo.get(), join, in_cgroup, /*signals_reset=*/false);
  }
  close_join();
  child.Reset();
  fifo.Reset();
  auto fail = [&](Status st) -> Status {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return st;
  };
  if (NewUserNs(cfg)) {
    Status st = WriteIdMap(pid, "uid_map", spec.linux.uid_mappings);
    if (st.ok()) st = WriteIdMap(pid, "gid_map", spec.linux.gid_mappings);
    if (!st.ok()) return fail(st);
  }
  if (!SelfJoin(cfg) && !in_cgroup) {
    if (Status st = cfg.cgroup->AddProcess(pid); !st.ok())
      return fail(st.WithContext("join cgroup"));
  }
  if (NeedsGo(cfg, in_cgroup) && !SendMsg(parent.get(), "go " + std::to_string(pid)))
    return fail(ErrnoStatus("start init", errno));
  bool executed = false;
  for (;;) {
    if (cfg.fifo_path.empty() && !cfg.hold_for_start) {
      // Fast foreground start: the init executes on its own; see LaunchError.
      executed = true;
      break;
    }
    std::string m = RecvMsg(parent.get());
    if (m == "ready") break;
    if (m == "hooks") {
      std::string state = HookStateJson(spec, cfg.id, pid, cfg.bundle, "creating");
      Status st = RunHooks(spec.hooks.create_runtime, state, "createRuntime");
      if (!st.ok()) return fail(st);
      SendMsg(parent.get(), "ok");
      continue;
    }
    if (m.rfind("error:", 0) == 0) return fail(Internal(m.substr(6)));
    int status = 0;
    ::waitpid(pid, &status, 0);
    return Internal("container init exited during setup (status " + std::to_string(status) + ")");
  }
  Launched l;
  l.pid = pid;
  l.executed = executed;
  l.sync = std::move(parent);
  return l;
}

Status LaunchError(Launched& l) {
  char buf[8192];
  ssize_t n = ::recv(l.sync.get(), buf, sizeof buf, MSG_DONTWAIT);
  if (n > 6 && std::string_view(buf, 6) == "error:")
    return Internal(std::string(buf + 6, static_cast<size_t>(n - 6)));
  return Status();
}

Status Release(Launched& l) {
  if (l.executed) return Status();
  if (!SendMsg(l.sync.get(), "start")) return ErrnoStatus("start container", errno);
  std::string after = RecvMsg(l.sync.get());  // EOF once execve succeeded
  if (after.rfind("error:", 0) == 0) return Internal(after.substr(6));
  l.executed = true;
  return Status();
}

}  // namespace sampan::runtime
